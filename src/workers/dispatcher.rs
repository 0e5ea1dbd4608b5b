//! The outbox dispatcher: claims due messages and sends them to Slack.
//!
//! Runs as a task in `intake serve`. Wakes when a handler commits (or every
//! poll interval), claims a batch under a lease, sends each request's
//! messages in order (different requests concurrently), and records the
//! outcome: sent, retried later (5xx, timeouts with exponential backoff;
//! 429 after Slack's `Retry-After`), or dead (permanent Slack errors, logged
//! and counted). On shutdown it hands its leases back.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use crate::config::OutboxSettings;
use crate::context::{Context, Outbox};
use crate::domain::request::{MessageRef, PostKind, RequestNumber};
use crate::outbox::Method;
use crate::service::undeliverable;
use crate::slack::api::{CallError, SlackApi};
use crate::slack::render;
use crate::store::outbox::{self as queue, OutboxRow};
use crate::store::{Store, StoreError, requests};

/// How often the outbox gauges are refreshed.
const GAUGE_EVERY: Duration = Duration::from_secs(1);

/// The longest a message waits between two transient failures.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

pub struct Dispatcher {
    ctx: Context,
    store: Store,
    slack: SlackApi,
    settings: OutboxSettings,
    wake: Outbox,
    /// Prefix of every lease token this dispatcher takes.
    owner: String,
}

/// What became of one claimed message, to be recorded with the round.
enum Settled {
    /// Slack took it; for a post to remember, where it went.
    Sent(Option<(PostKind, MessageRef)>),
    /// Slack said 429: not a failed attempt; try again at this instant.
    Wait(DateTime<Utc>),
    /// A transient failure, tried again at this instant.
    Retry(DateTime<Utc>, String),
    /// Slack refused it for good.
    Dead(String),
    /// Not tried: an earlier message of its request must go first.
    Skipped,
}

struct Attempt {
    row: OutboxRow,
    settled: Settled,
}

impl Dispatcher {
    pub fn new(ctx: &Context) -> Self {
        let owner = format!("dispatcher-{}", uuid::Uuid::new_v4().simple());
        Self {
            ctx: ctx.clone(),
            store: ctx.store.clone(),
            slack: ctx.slack.clone(),
            settings: ctx.settings.outbox.clone(),
            wake: ctx.outbox.clone(),
            owner,
        }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        info!(owner = %self.owner, "outbox dispatcher started");
        let mut gauged: Option<std::time::Instant> = None;
        while !shutdown.is_cancelled() {
            if gauged.is_none_or(|at| at.elapsed() >= GAUGE_EVERY) {
                self.record_gauges().await;
                gauged = Some(std::time::Instant::now());
            }
            let delivered = match self.round().await {
                Ok(n) => n,
                Err(e) => {
                    error!(error = %e, "outbox round failed; retrying after the poll interval");
                    0
                }
            };
            if delivered == 0 {
                tokio::select! {
                    _ = self.wake.woken() => {}
                    _ = tokio::time::sleep(self.settings.poll_interval) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
        match queue::release(self.store.writer(), &self.owner).await {
            Ok(released) => info!(released, "outbox dispatcher stopped; leases released"),
            Err(e) => warn!(error = %e, "could not release outbox leases; they expire on their own"),
        }
    }

    /// The outbox's depth as gauges, kept here so a `/metrics` scrape runs
    /// no query.
    async fn record_gauges(&self) {
        match queue::depth(self.store.db()).await {
            Ok((pending, dead, oldest)) => {
                metrics::gauge!("intake_outbox_messages", "status" => "pending").set(pending as f64);
                metrics::gauge!("intake_outbox_messages", "status" => "dead").set(dead as f64);
                let age = oldest.map_or(0.0, |at| (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0);
                metrics::gauge!("intake_outbox_oldest_pending_seconds").set(age);
            }
            Err(e) => warn!(error = %e, "could not read the outbox's depth for the gauges"),
        }
    }

    /// One claim-and-send round; returns how many messages it claimed.
    /// What became of every attempt is recorded in one transaction at the
    /// end: one commit per round, not per message, is what lets the outbox
    /// drain thousands a second on SQLite.
    pub async fn round(&self) -> Result<usize, StoreError> {
        let token = format!("{}:{}", self.owner, uuid::Uuid::new_v4().simple());
        let lease = TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::seconds(60));
        let rows = queue::claim_due(self.store.writer(), &token, Utc::now(), lease, self.settings.batch_size).await?;
        let claimed = rows.len();
        let mut by_request: BTreeMap<Option<i64>, Vec<OutboxRow>> = BTreeMap::new();
        for row in rows {
            // Messages without a request have no order to keep.
            let key = row.request_id.or(Some(-row.id));
            by_request.entry(key).or_default().push(row);
        }
        let sends = by_request.into_values().map(|rows| self.send_in_order(rows));
        let attempts: Vec<Attempt> = futures_util::future::join_all(sends)
            .await
            .into_iter()
            .flatten()
            .collect();
        if let Err(e) = self.record(&attempts, &token).await {
            error!(error = %e, "could not record outbox results; the lease will expire and they are retried");
            return Err(e);
        }
        for attempt in &attempts {
            let method = attempt.row.method.clone();
            match attempt.settled {
                Settled::Sent(_) => metrics::counter!("intake_outbox_sent_total", "method" => method).increment(1),
                Settled::Dead(_) => metrics::counter!("intake_outbox_dead_total", "method" => method).increment(1),
                Settled::Wait(_) => {
                    metrics::counter!("intake_outbox_retries_total", "reason" => "rate_limited").increment(1)
                }
                Settled::Retry(..) => {
                    metrics::counter!("intake_outbox_retries_total", "reason" => "transient").increment(1)
                }
                Settled::Skipped => {}
            }
        }
        Ok(claimed)
    }

    /// Sends one request's messages in order. After a message that must
    /// be tried again, the rest wait (they are handed back unsent).
    async fn send_in_order(&self, rows: Vec<OutboxRow>) -> Vec<Attempt> {
        let mut attempts = Vec::with_capacity(rows.len());
        // The intake message posted earlier in this round, not yet recorded.
        let mut intake_message: Option<MessageRef> = None;
        let mut waiting = false;
        for row in rows {
            if waiting {
                attempts.push(Attempt {
                    row,
                    settled: Settled::Skipped,
                });
                continue;
            }
            let span = info_span!("outbox", id = row.id, request = row.request_id, method = %row.method);
            let settled = self.attempt(&row, intake_message.as_ref()).instrument(span).await;
            if let (Settled::Sent(Some((post, message))), Some(number)) = (&settled, row.request_id) {
                // Record where it went now, not with the round: a reaction on
                // it may already be on its way.
                if let Err(e) = requests::set_post(self.store.writer(), RequestNumber(number), *post, message).await {
                    warn!(error = %e, "could not record the post's address yet; it is recorded with the round");
                }
            }
            match &settled {
                Settled::Sent(Some((PostKind::Intake, message))) => {
                    intake_message = Some(message.clone());
                }
                Settled::Wait(_) | Settled::Retry(..) => waiting = true,
                _ => {}
            }
            attempts.push(Attempt { row, settled });
        }
        attempts
    }

    async fn attempt(&self, row: &OutboxRow, intake_message: Option<&MessageRef>) -> Settled {
        match self.send(row, intake_message).await {
            Ok(posted) => {
                info!(attempts = row.attempts + 1, "sent");
                Settled::Sent(queue::records(row).zip(posted))
            }
            Err(CallError::RateLimited(wait)) => {
                warn!(
                    retry_after_secs = wait.as_secs(),
                    "Slack rate limited this call; waiting as asked"
                );
                Settled::Wait(Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::seconds(60)))
            }
            Err(CallError::Transient(e)) if (row.attempts + 1) < self.settings.max_attempts as i32 => {
                let wait = backoff(self.settings.retry_base, row.attempts);
                warn!(error = %e, attempt = row.attempts + 1, retry_in_ms = wait.as_millis() as u64, "send failed; will retry");
                Settled::Retry(
                    Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::seconds(60)),
                    e,
                )
            }
            Err(e) => {
                error!(error = %e, attempts = row.attempts + 1, hint = e.advice().unwrap_or("none"),
                    "message is dead: Slack refused it and retrying cannot help");
                Settled::Dead(e.to_string())
            }
        }
    }

    /// Records a round's outcomes, and the posts' addresses, in one commit.
    async fn record(&self, attempts: &[Attempt], token: &str) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let txn = self.store.write().await?;
        let now = Utc::now();
        let mut sent = Vec::new();
        for Attempt { row, settled } in attempts {
            match settled {
                Settled::Sent(posted) => {
                    if let (Some((post, message)), Some(number)) = (posted, row.request_id) {
                        requests::set_post(&txn, RequestNumber(number), *post, message).await?;
                    }
                    sent.push(row.id);
                }
                Settled::Wait(at) => queue::wait_until(&txn, row, token, *at).await?,
                Settled::Retry(at, error) => queue::retry_at(&txn, row, token, *at, error).await?,
                Settled::Dead(error) => {
                    queue::mark_dead(&txn, row, token, error).await?;
                    // Someone must hear that it could not be delivered.
                    undeliverable::died(&self.ctx, &txn, row, error, now).await?;
                }
                Settled::Skipped => queue::unclaim(&txn, row, token).await?,
            }
        }
        queue::mark_sent(&txn, &sent, token, now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Sends one message; returns where it was posted, for `chat.postMessage`.
    async fn send(
        &self,
        row: &OutboxRow,
        intake_message: Option<&MessageRef>,
    ) -> Result<Option<MessageRef>, CallError> {
        let method = Method::parse(&row.method)
            .ok_or_else(|| CallError::Permanent(format!("unknown outbox method {:?}", row.method)))?;
        let mut payload = row.payload.clone();
        let (needs_address, needs_link) = render::needs_intake_message(&payload);
        if needs_address || needs_link {
            let message = match intake_message {
                Some(known) => Some(known.clone()),
                None => self.intake_message(row).await?,
            };
            if needs_address {
                payload = fill_intake_address(row, &payload, message.as_ref())?;
            }
            if needs_link {
                payload = self.fill_intake_link(row, &payload, message.as_ref()).await?;
            }
        }
        match method {
            Method::PostMessage => self.slack.post_message(payload).await.map(Some),
            Method::UpdateMessage => self.slack.update_message(payload).await.map(|_| None),
            Method::PostEphemeral => self.slack.post_ephemeral(payload).await.map(|_| None),
        }
    }

    /// The request's intake message, as recorded in an earlier round.
    async fn intake_message(&self, row: &OutboxRow) -> Result<Option<MessageRef>, CallError> {
        let Some(number) = row.request_id else {
            return Ok(None);
        };
        requests::intake_message(self.store.db(), RequestNumber(number))
            .await
            .map_err(|e| CallError::Transient(e.to_string()))
    }

    /// Replaces the intake-link placeholder with a permalink to the request's
    /// intake message. Per-request ordering means the intake post was already
    /// sent (or is dead, in which case the text says where to look instead).
    async fn fill_intake_link(
        &self,
        row: &OutboxRow,
        payload: &str,
        message: Option<&MessageRef>,
    ) -> Result<String, CallError> {
        let number = row.request_id.map(RequestNumber);
        let permalink = match (number, message) {
            (Some(_), Some(message)) => match self.slack.permalink(message).await {
                Ok(url) => Some(url),
                Err(CallError::Permanent(e)) => {
                    warn!(error = %e, "no permalink for the intake message; sending without it");
                    None
                }
                Err(e) => return Err(e),
            },
            _ => None,
        };
        let card = match message {
            Some(_) => render::CardLink::Posted {
                permalink: permalink.as_deref(),
            },
            None => render::CardLink::NotPosted,
        };
        Ok(render::fill_intake_link(payload, number, card))
    }
}

/// Points an update or thread reply at the request's intake message,
/// which per-request ordering guarantees was posted (or failed) first.
fn fill_intake_address(row: &OutboxRow, payload: &str, message: Option<&MessageRef>) -> Result<String, CallError> {
    match (message, row.request_id) {
        (Some(message), _) => Ok(render::fill_intake_address(payload, &message.channel, &message.ts)),
        (None, Some(number)) => Err(CallError::Permanent(format!(
            "request #{number} {} (its post failed)",
            queue::NO_INTAKE_MESSAGE
        ))),
        (None, None) => Err(CallError::Permanent("no request for the intake message".into())),
    }
}

/// `base × 2^attempts`, capped, with up to 20 % jitter so a burst of failures
/// does not retry in lockstep.
fn backoff(base: Duration, attempts: i32) -> Duration {
    let exp = base
        .saturating_mul(2u32.saturating_pow(attempts.clamp(0, 20) as u32))
        .min(MAX_BACKOFF);
    let jitter = rand::random::<f64>() * 0.2;
    exp.mul_f64(1.0 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_secs(1);
        assert!(backoff(base, 0) >= Duration::from_secs(1) && backoff(base, 0) < Duration::from_millis(1201));
        assert!(backoff(base, 3) >= Duration::from_secs(8));
        assert!(backoff(base, 30) <= MAX_BACKOFF.mul_f64(1.2));
    }
}
