//! The outbox dispatcher: claims due messages and sends them to Slack.
//!
//! Runs as a task in `intake serve`. Wakes when a handler commits (or every
//! poll interval), claims a batch under a lease, sends each request's
//! messages in order (different requests concurrently), and records the
//! outcome: sent, retried later (5xx, timeouts with exponential backoff;
//! 429 after Slack's `Retry-After`), or dead (permanent Slack errors, logged
//! and counted). On shutdown it hands its leases back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use super::{Method, OnSent, OutboxRow};
use crate::domain::request::RequestNumber;
use crate::slack::api::{CallError, SlackApi};
use crate::slack::blocks::{INTAKE_CHANNEL, INTAKE_LINK, INTAKE_TS, intake_link};
use crate::store::{Store, StoreError, requests};

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub poll_interval: Duration,
    pub lease: Duration,
    pub batch_size: u64,
    pub max_attempts: u32,
    /// First retry delay after a transient failure; doubles each attempt.
    pub retry_base: Duration,
}

/// The longest a message waits between two transient failures.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

pub struct Dispatcher {
    store: Store,
    slack: SlackApi,
    settings: DispatchSettings,
    wake: Arc<Notify>,
    /// Prefix of every lease token this dispatcher takes.
    owner: String,
}

/// What became of one attempt.
enum Outcome {
    Sent,
    Later,
    Dead,
}

impl Dispatcher {
    pub fn new(store: Store, slack: SlackApi, settings: DispatchSettings, wake: Arc<Notify>) -> Self {
        let owner = format!("dispatcher-{}", uuid::Uuid::new_v4().simple());
        Self {
            store,
            slack,
            settings,
            wake,
            owner,
        }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        info!(owner = %self.owner, "outbox dispatcher started");
        while !shutdown.is_cancelled() {
            let delivered = match self.round().await {
                Ok(n) => n,
                Err(e) => {
                    error!(error = %e, "outbox round failed; retrying after the poll interval");
                    0
                }
            };
            if delivered == 0 {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.settings.poll_interval) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
        match super::release(self.store.db(), &self.owner).await {
            Ok(released) => info!(released, "outbox dispatcher stopped; leases released"),
            Err(e) => warn!(error = %e, "could not release outbox leases; they expire on their own"),
        }
    }

    /// One claim-and-send round; returns how many messages it claimed.
    pub async fn round(&self) -> Result<usize, StoreError> {
        let token = format!("{}:{}", self.owner, uuid::Uuid::new_v4().simple());
        let lease = TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::seconds(60));
        let rows = super::claim_due(self.store.db(), &token, Utc::now(), lease, self.settings.batch_size).await?;
        let claimed = rows.len();
        let mut by_request: BTreeMap<Option<i64>, Vec<OutboxRow>> = BTreeMap::new();
        for row in rows {
            // Messages without a request have no order to keep.
            let key = row.request_id.or(Some(-row.id));
            by_request.entry(key).or_default().push(row);
        }
        let sends = by_request.into_values().map(|rows| self.send_in_order(rows, &token));
        futures_util::future::join_all(sends).await;
        Ok(claimed)
    }

    async fn send_in_order(&self, rows: Vec<OutboxRow>, token: &str) {
        for row in rows {
            let span = info_span!("outbox", id = row.id, request = row.request_id, method = %row.method);
            match self.deliver(&row, token).instrument(span).await {
                Ok(Outcome::Sent | Outcome::Dead) => {}
                // Later messages of this request wait for this one.
                Ok(Outcome::Later) => break,
                Err(e) => {
                    error!(id = row.id, error = %e, "could not record an outbox result; the lease will expire and it is retried");
                    break;
                }
            }
        }
    }

    async fn deliver(&self, row: &OutboxRow, token: &str) -> Result<Outcome, StoreError> {
        let db = self.store.db();
        let result = self.send(row).await;
        match result {
            Ok(posted) => {
                let txn = self.store.write().await?;
                if let (Some(on_sent), Some(number), Some((channel, ts))) =
                    (row.on_sent.as_deref().and_then(OnSent::parse), row.request_id, posted)
                {
                    let post = match on_sent {
                        OnSent::RecordIntakeMessage => requests::Post::Intake,
                        OnSent::RecordOncallMessage => requests::Post::Oncall,
                    };
                    requests::set_post(&txn, RequestNumber(number), post, &channel, &ts).await?;
                }
                super::mark_sent(&txn, row, token, Utc::now()).await?;
                txn.commit().await?;
                metrics::counter!("intake_outbox_sent_total", "method" => row.method.clone()).increment(1);
                info!(attempts = row.attempts + 1, "sent");
                Ok(Outcome::Sent)
            }
            Err(CallError::RateLimited(wait)) => {
                let at = Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::seconds(60));
                warn!(
                    retry_after_secs = wait.as_secs(),
                    "Slack rate limited this call; waiting as asked"
                );
                metrics::counter!("intake_outbox_retries_total", "reason" => "rate_limited").increment(1);
                super::wait_until(db, row, token, at).await?;
                Ok(Outcome::Later)
            }
            Err(CallError::Transient(e)) if (row.attempts + 1) < self.settings.max_attempts as i32 => {
                let wait = backoff(self.settings.retry_base, row.attempts);
                warn!(error = %e, attempt = row.attempts + 1, retry_in_ms = wait.as_millis() as u64, "send failed; will retry");
                metrics::counter!("intake_outbox_retries_total", "reason" => "transient").increment(1);
                let at = Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::seconds(60));
                super::retry_at(db, row, token, at, &e).await?;
                Ok(Outcome::Later)
            }
            Err(e) => {
                error!(error = %e, attempts = row.attempts + 1,
                    "message is dead: Slack refused it and retrying cannot help (check the channel id, that the bot is in the channel, and the token's scopes)");
                metrics::counter!("intake_outbox_dead_total", "method" => row.method.clone()).increment(1);
                super::mark_dead(db, row, token, &e.to_string()).await?;
                Ok(Outcome::Dead)
            }
        }
    }

    /// Sends one message; returns where it was posted, for `chat.postMessage`.
    async fn send(&self, row: &OutboxRow) -> Result<Option<(String, String)>, CallError> {
        let method = Method::parse(&row.method)
            .ok_or_else(|| CallError::Permanent(format!("unknown outbox method {:?}", row.method)))?;
        let mut payload = row.payload.clone();
        if payload.contains(INTAKE_CHANNEL) || payload.contains(INTAKE_TS) {
            payload = self.fill_intake_address(row, &payload).await?;
        }
        if payload.contains(INTAKE_LINK) {
            payload = self.fill_intake_link(row, &payload).await?;
        }
        let payload: Value =
            serde_json::from_str(&payload).map_err(|e| CallError::Permanent(format!("corrupt outbox payload: {e}")))?;
        match method {
            Method::PostMessage => self.slack.post_message(payload).await.map(|p| Some((p.channel, p.ts))),
            Method::UpdateMessage => self.slack.update_message(payload).await.map(|_| None),
            Method::PostEphemeral => self.slack.post_ephemeral(payload).await.map(|_| None),
        }
    }

    /// Points an update or thread reply at the request's intake message,
    /// which per-request ordering guarantees was posted (or failed) first.
    async fn fill_intake_address(&self, row: &OutboxRow, payload: &str) -> Result<String, CallError> {
        let number = row
            .request_id
            .ok_or_else(|| CallError::Permanent("no request for the intake message".into()))?;
        match requests::intake_message(self.store.db(), RequestNumber(number))
            .await
            .map_err(|e| CallError::Transient(e.to_string()))?
        {
            Some((channel, ts)) => Ok(payload.replace(INTAKE_CHANNEL, &channel).replace(INTAKE_TS, &ts)),
            None => Err(CallError::Permanent(format!(
                "request #{number} has no intake message (its post failed)"
            ))),
        }
    }

    /// Replaces the intake-link placeholder with a permalink to the request's
    /// intake message. Per-request ordering means the intake post was already
    /// sent (or is dead, in which case the text says where to look instead).
    async fn fill_intake_link(&self, row: &OutboxRow, payload: &str) -> Result<String, CallError> {
        let Some(number) = row.request_id else {
            return Ok(payload.replace(INTAKE_LINK, ""));
        };
        let message = requests::intake_message(self.store.db(), RequestNumber(number))
            .await
            .map_err(|e| CallError::Transient(e.to_string()))?;
        let permalink = match message {
            Some((channel, ts)) => match self.slack.permalink(&channel, &ts).await {
                Ok(url) => Some(url),
                Err(CallError::Permanent(e)) => {
                    warn!(error = %e, "no permalink for the intake message; sending without it");
                    None
                }
                Err(e) => return Err(e),
            },
            None => None,
        };
        // The link goes inside JSON strings: encode it as JSON, minus the quotes.
        let link = serde_json::to_string(&intake_link(number, permalink.as_deref())).unwrap_or_default();
        Ok(payload.replace(INTAKE_LINK, link.trim_matches('"')))
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
