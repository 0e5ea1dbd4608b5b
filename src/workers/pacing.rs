//! How fast the dispatcher may call Slack, per channel: `chat.postMessage`
//! paced as Slack asks (about one a second per channel, short bursts
//! allowed), and a 429's `Retry-After` honoured for that method and channel
//! only, so one busy or throttled channel never stalls the others.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::outbox::Method;

/// A wait this short is slept inside the send; a longer one hands the
/// message back, due when the wait ends, so its lease and task are free.
const SLEEP_AT_MOST: Duration = Duration::from_secs(1);

/// Sends that may sleep for one channel's next turn at once; the others
/// are handed back, due about when their turn comes, so a backlog for one
/// channel never fills the dispatcher's in-flight slots.
const SLEEPERS_PER_CHANNEL: usize = 2;

pub struct Pacing {
    posts: Option<DefaultKeyedRateLimiter<String>>,
    /// Time between two posts in one channel, past the burst.
    period: Duration,
    /// channel → sends sleeping for its next turn.
    sleeping: Mutex<HashMap<String, usize>>,
    /// (method, channel) → when Slack's `Retry-After` ends.
    throttled: Mutex<HashMap<(Method, String), Instant>>,
}

/// What a send must do first.
#[derive(Debug, PartialEq, Eq)]
pub enum Turn {
    /// Go ahead.
    Now,
    /// Not before this long from now: hand the message back until then.
    After(Duration),
}

impl Pacing {
    /// `pace`: posts a second and burst per channel; `None` for no pacing.
    pub fn new(pace: Option<(NonZeroU32, NonZeroU32)>) -> Self {
        Self {
            posts: pace.map(|(rate, burst)| RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))),
            period: pace.map_or(Duration::ZERO, |(rate, _)| Duration::from_secs(1) / rate.get()),
            sleeping: Mutex::default(),
            throttled: Mutex::default(),
        }
    }

    /// Waits for `method`'s turn in `channel`: sleeps a short wait, or says
    /// how long a long one is.
    pub async fn turn(&self, method: Method, channel: &str) -> Turn {
        if let Some(wait) = self.throttled_for(method, channel) {
            return Turn::After(wait);
        }
        let Some(posts) = self.posts.as_ref().filter(|_| method == Method::PostMessage) else {
            return Turn::Now;
        };
        let key = channel.to_string();
        loop {
            match posts.check_key(&key) {
                Ok(()) => return Turn::Now,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    let Some(_sleeper) = Sleeper::join(&self.sleeping, channel).filter(|_| wait <= SLEEP_AT_MOST)
                    else {
                        let queued = lock(&self.sleeping).get(channel).copied().unwrap_or(0) as u32;
                        return Turn::After(wait + self.period * queued);
                    };
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Slack answered 429 for `method` in `channel`: nothing more of that
    /// kind goes there for `wait`.
    pub fn throttle(&self, method: Method, channel: &str, wait: Duration) {
        let now = Instant::now();
        let mut throttled = lock(&self.throttled);
        throttled.retain(|_, until| *until > now);
        throttled.insert((method, channel.to_string()), now + wait);
    }

    fn throttled_for(&self, method: Method, channel: &str) -> Option<Duration> {
        let throttled = lock(&self.throttled);
        if throttled.is_empty() {
            return None;
        }
        let until = throttled.get(&(method, channel.to_string()))?;
        until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
    }

    /// Forgets channels idle long enough to have their full burst back.
    pub fn forget_idle(&self) {
        if let Some(posts) = &self.posts {
            posts.retain_recent();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A send sleeping for its channel's turn; leaves the count when dropped.
struct Sleeper<'a> {
    sleeping: &'a Mutex<HashMap<String, usize>>,
    channel: String,
}

impl<'a> Sleeper<'a> {
    /// `None` when enough sends sleep for `channel` already.
    fn join(sleeping: &'a Mutex<HashMap<String, usize>>, channel: &str) -> Option<Self> {
        let mut counts = lock(sleeping);
        let count = counts.entry(channel.to_string()).or_default();
        if *count >= SLEEPERS_PER_CHANNEL {
            return None;
        }
        *count += 1;
        Some(Self {
            sleeping,
            channel: channel.to_string(),
        })
    }
}

impl Drop for Sleeper<'_> {
    fn drop(&mut self) {
        let mut counts = lock(self.sleeping);
        if let Some(count) = counts.get_mut(&self.channel) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.channel);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_passes_then_the_channel_waits_while_others_go_on() {
        let pace = Some((NonZeroU32::new(1).unwrap(), NonZeroU32::new(3).unwrap()));
        let pacing = Pacing::new(pace);
        for _ in 0..3 {
            assert_eq!(pacing.turn(Method::PostMessage, "C1").await, Turn::Now);
        }
        // Two more sleep for their turns; a third is handed back for later.
        let turns = tokio::join!(
            pacing.turn(Method::PostMessage, "C1"),
            pacing.turn(Method::PostMessage, "C1"),
            pacing.turn(Method::PostMessage, "C1"),
            pacing.turn(Method::PostMessage, "C2"),
        );
        let handed_back = [&turns.0, &turns.1, &turns.2]
            .iter()
            .filter(|t| matches!(t, Turn::After(_)))
            .count();
        assert_eq!(handed_back, 1, "{turns:?}");
        assert_eq!(turns.3, Turn::Now, "another channel does not wait");
        assert_eq!(
            pacing.turn(Method::UpdateMessage, "C1").await,
            Turn::Now,
            "only posts are paced"
        );
    }

    #[tokio::test]
    async fn retry_after_holds_that_method_and_channel_only() {
        let pacing = Pacing::new(None);
        pacing.throttle(Method::PostMessage, "C1", Duration::from_secs(30));
        assert!(matches!(pacing.turn(Method::PostMessage, "C1").await, Turn::After(w) if w > Duration::from_secs(29)));
        assert_eq!(pacing.turn(Method::PostMessage, "C2").await, Turn::Now);
        assert_eq!(pacing.turn(Method::UpdateMessage, "C1").await, Turn::Now);
    }
}
