//! Faults for chaos tests: a seeded mix of what Slack's Web API does on a
//! bad day, applied by [`FakeSlack`](crate::FakeSlack) to every call (or
//! per method) once [`FakeSlack::set_chaos`](crate::FakeSlack::set_chaos)
//! was called.
//!
//! - `rate_limited`: HTTP 429 with `Retry-After` in whole seconds, as Slack
//!   sends it; the call does not take effect.
//! - `server_error`: HTTP 500, 502 or 503; no effect.
//! - `reset_before`: the connection is closed without an answer before the
//!   call takes effect.
//! - `reset_after`: the call takes effect (a post is recorded, a `ts`
//!   handed out), then the connection is closed: the answer is lost.
//! - `slow`: the call takes effect, and the answer comes only after
//!   [`Chaos::slow_by`], past the client's timeout.
//!
//! Which fault a call gets comes from one seeded RNG, so a run's sequence of
//! faults is reproducible (which call draws which depends on arrival order).
//! Every injected fault is counted per method and kind ([`Chaos::injected`]).
//! Faults are not in the fake's call log; a call that took effect
//! (`reset_after`, `slow`) is logged as successful, since it was.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fake_slack::{Failure, failure_response};

/// The share of calls (0.0–1.0) that get each fault; the rest are answered
/// normally. The shares are added up, so their sum must stay ≤ 1.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mix {
    pub rate_limited: f64,
    pub server_error: f64,
    pub reset_before: f64,
    pub reset_after: f64,
    pub slow: f64,
}

impl Mix {
    /// The share of calls that get any fault.
    pub fn total(&self) -> f64 {
        self.rate_limited + self.server_error + self.reset_before + self.reset_after + self.slow
    }
}

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    RateLimited,
    ServerError,
    ResetBefore,
    ResetAfter,
    Slow,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::RateLimited,
        Kind::ServerError,
        Kind::ResetBefore,
        Kind::ResetAfter,
        Kind::Slow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::RateLimited => "429",
            Kind::ServerError => "5xx",
            Kind::ResetBefore => "reset before",
            Kind::ResetAfter => "reset after",
            Kind::Slow => "slow",
        }
    }

    /// Whether the call took effect although the client saw no answer: the
    /// outcomes a client cannot know, which a blind retry duplicates.
    pub fn uncertain(self) -> bool {
        matches!(self, Kind::ResetAfter | Kind::Slow)
    }
}

/// A seeded fault mix. Build it, then hand it to
/// [`FakeSlack::set_chaos`](crate::FakeSlack::set_chaos).
pub struct Chaos {
    seed: u64,
    everywhere: Mix,
    methods: HashMap<String, Mix>,
    retry_after_secs: u64,
    slow_by: Duration,
    late_after: Duration,
    on: AtomicBool,
    state: Mutex<State>,
}

struct State {
    rng: StdRng,
    injected: BTreeMap<(String, Kind), u64>,
    /// Calls answered later than `late_after` without a `slow` fault.
    late: BTreeMap<String, u64>,
}

impl Chaos {
    /// No faults until a mix is given; 429s ask for 1 s, slow answers take 2 s.
    pub fn new(seed: u64) -> Chaos {
        Chaos {
            seed,
            everywhere: Mix::default(),
            methods: HashMap::new(),
            retry_after_secs: 1,
            slow_by: Duration::from_secs(2),
            late_after: Duration::from_secs(1),
            on: AtomicBool::new(true),
            state: Mutex::new(State {
                rng: StdRng::seed_from_u64(seed),
                injected: BTreeMap::new(),
                late: BTreeMap::new(),
            }),
        }
    }

    /// The mix for every method without one of its own.
    pub fn everywhere(mut self, mix: Mix) -> Chaos {
        assert!(mix.total() <= 1.0, "fault shares add up to more than 1: {mix:?}");
        self.everywhere = mix;
        self
    }

    /// The mix for `method` (e.g. `chat.postMessage`), instead of the general one.
    pub fn method(mut self, method: &str, mix: Mix) -> Chaos {
        assert!(mix.total() <= 1.0, "fault shares add up to more than 1: {mix:?}");
        self.methods.insert(method.to_owned(), mix);
        self
    }

    /// The `Retry-After` of an injected 429, in seconds (Slack sends integers).
    pub fn retry_after_secs(mut self, secs: u64) -> Chaos {
        self.retry_after_secs = secs;
        self
    }

    /// How late a slow answer comes: set it past the client's timeout.
    pub fn slow_by(mut self, delay: Duration) -> Chaos {
        self.slow_by = delay;
        self
    }

    /// A call answered this long after it arrived, with no `slow` fault,
    /// is counted as late ([`Chaos::late`]): on a loaded machine the fake
    /// itself can be slower than the client's timeout. Set it to the
    /// client's timeout; 1 s by default.
    pub fn late_after(mut self, limit: Duration) -> Chaos {
        self.late_after = limit;
        self
    }

    /// Calls to `method` the fake answered late without being told to
    /// (see [`Chaos::late_after`]): outcomes the client did not learn,
    /// like the injected `slow` ones.
    pub fn late(&self, method: &str) -> u64 {
        self.lock().late.get(method).copied().unwrap_or(0)
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Stops injecting (calls already drawn still get their fault).
    pub fn pause(&self) {
        self.on.store(false, Relaxed);
    }

    pub fn resume(&self) {
        self.on.store(true, Relaxed);
    }

    /// Faults injected so far, per (method, kind).
    pub fn injected(&self) -> BTreeMap<(String, Kind), u64> {
        self.lock().injected.clone()
    }

    /// Faults of `kind` injected so far, all methods.
    pub fn count(&self, kind: Kind) -> u64 {
        self.lock()
            .injected
            .iter()
            .filter(|((_, k), _)| *k == kind)
            .map(|(_, n)| n)
            .sum()
    }

    /// Faults injected into `method` whose outcome the client could not know
    /// (the call took effect, the answer was lost or late).
    pub fn uncertain(&self, method: &str) -> u64 {
        self.lock()
            .injected
            .iter()
            .filter(|((m, k), _)| m == method && k.uncertain())
            .map(|(_, n)| n)
            .sum()
    }

    /// The faults injected so far, by kind: `429: 3, 5xx: 120, …`.
    pub fn summary(&self) -> Summary {
        Summary(Kind::ALL.map(|kind| (kind, self.count(kind))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Draws this call's fault, if any, and counts it.
    fn pick(&self, method: &str) -> Option<Fault> {
        if !self.on.load(Relaxed) {
            return None;
        }
        let mix = self.methods.get(method).unwrap_or(&self.everywhere);
        if mix.total() <= 0.0 {
            return None;
        }
        let mut state = self.lock();
        let roll: f64 = state.rng.random();
        let mut bound = 0.0;
        let mut kind = None;
        for (candidate, share) in [
            (Kind::RateLimited, mix.rate_limited),
            (Kind::ServerError, mix.server_error),
            (Kind::ResetBefore, mix.reset_before),
            (Kind::ResetAfter, mix.reset_after),
            (Kind::Slow, mix.slow),
        ] {
            bound += share;
            if roll < bound {
                kind = Some(candidate);
                break;
            }
        }
        let kind = kind?;
        let status = [500, 502, 503][state.rng.random_range(0..3)];
        *state.injected.entry((method.to_owned(), kind)).or_default() += 1;
        Some(match kind {
            Kind::RateLimited => Fault::Answer(Failure::RateLimited {
                retry_after_secs: self.retry_after_secs,
            }),
            Kind::ServerError => Fault::Answer(Failure::Status(status)),
            Kind::ResetBefore => Fault::ResetBefore,
            Kind::ResetAfter => Fault::ResetAfter,
            Kind::Slow => Fault::Slow(self.slow_by),
        })
    }
}

/// Faults per kind, printed on one line.
pub struct Summary([(Kind, u64); 5]);

impl Summary {
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(kind, n)| format!("{} {n}", kind.name())).collect();
        write!(f, "{}", parts.join(", "))
    }
}

/// One call under chaos: its fault, if any, and when it arrived.
pub(crate) struct Ticket {
    chaos: Arc<Chaos>,
    method: String,
    fault: Option<Fault>,
    arrived: Instant,
}

/// What one call gets.
pub(crate) enum Fault {
    /// Answered at once with this failure; no effect.
    Answer(Failure),
    ResetBefore,
    ResetAfter,
    Slow(Duration),
}

/// The connection was closed without an answer: returning it from the
/// fake's service makes hyper drop the connection.
#[derive(Debug)]
pub struct Reset;

impl fmt::Display for Reset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fake Slack: connection reset by chaos")
    }
}

impl std::error::Error for Reset {}

type Answer = Result<Response<Full<Bytes>>, Reset>;

/// The fake's hook: where the [`Chaos`] is kept, cheap when there is none.
#[derive(Default)]
pub(crate) struct Hook {
    set: AtomicBool,
    chaos: Mutex<Option<Arc<Chaos>>>,
}

impl Hook {
    pub(crate) fn set(&self, chaos: Chaos) -> Arc<Chaos> {
        let chaos = Arc::new(chaos);
        *self.chaos.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&chaos));
        self.set.store(true, Relaxed);
        chaos
    }

    /// The call to `path` (`/api/<method>`) under chaos, if there is one.
    pub(crate) fn pick(&self, path: &str) -> Option<Ticket> {
        if !self.set.load(Relaxed) {
            return None;
        }
        let arrived = Instant::now();
        let chaos = self.chaos.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        let method = path.strip_prefix("/api/").unwrap_or(path).to_owned();
        let fault = chaos.pick(&method);
        Some(Ticket {
            chaos,
            method,
            fault,
            arrived,
        })
    }
}

/// The answer a fault gives before the call takes effect, if it does.
pub(crate) fn before(ticket: Option<&Ticket>) -> Option<Answer> {
    match ticket?.fault.as_ref()? {
        Fault::Answer(failure) => Some(Ok(failure_response(failure))),
        Fault::ResetBefore => Some(Err(Reset)),
        Fault::ResetAfter | Fault::Slow(_) => None,
    }
}

/// The answer to a call that took effect: lost, late or as it was.
pub(crate) async fn after(ticket: Option<Ticket>, response: Response<Full<Bytes>>) -> Answer {
    let Some(ticket) = ticket else {
        return Ok(response);
    };
    match ticket.fault {
        Some(Fault::ResetAfter) => Err(Reset),
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(response)
        }
        _ => {
            if ticket.arrived.elapsed() >= ticket.chaos.late_after {
                *ticket.chaos.lock().late.entry(ticket.method).or_default() += 1;
            }
            Ok(response)
        }
    }
}
