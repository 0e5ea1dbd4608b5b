//! The outbox dispatcher: claims due messages and sends them to Slack.
//!
//! Runs as a task in `intake serve`. Wakes when a handler commits (or every
//! poll interval) and keeps up to `batch_size` messages in flight: each
//! request's messages are sent in order by one task (different requests
//! concurrently), so a slow or throttled channel holds only its own.
//! Each message's outcome is recorded as soon as Slack answers (outcomes
//! that arrive together share one commit), and only while the lease is
//! still ours: sent, retried later (5xx, timeouts with exponential backoff;
//! 429 after Slack's `Retry-After`, for that method and channel), or dead
//! (permanent Slack errors, logged and counted). A post whose last send
//! went unanswered, or whose dispatcher died mid-send, is first looked for
//! in the channel's history by the key in its metadata, and sent again only
//! if it is not there. Leases are renewed while sending and handed back on
//! shutdown.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use crate::config::OutboxSettings;
use crate::context::{Context, Outbox};
use crate::domain::request::{MessageRef, PostKind, RequestNumber};
use crate::outbox::Method;
use crate::service::undeliverable;
use crate::slack::api::{CallError, METADATA_EVENT, SlackApi};
use crate::slack::render;
use crate::store::batch::Batcher;
use crate::store::outbox::{self as queue, Lease, OutboxRow};
use crate::store::{Store, StoreError, requests};
use crate::workers::pacing::{Pacing, Turn};

/// How often the outbox gauges are refreshed.
const GAUGE_EVERY: Duration = Duration::from_secs(1);

/// The longest a message waits between two transient failures.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How far before its row was written a lost post is looked for (clocks
/// differ between this machine and Slack).
const HISTORY_MARGIN: i64 = 600;

pub struct Dispatcher {
    ctx: Context,
    store: Store,
    slack: SlackApi,
    settings: OutboxSettings,
    wake: Outbox,
    /// Prefix of every lease token this dispatcher takes.
    owner: String,
    outcomes: Batcher<Outcome, Lease>,
    pacing: Pacing,
}

/// What became of one claimed message.
enum Settled {
    /// Slack took it; for a post to remember, where it went.
    Sent(Option<(PostKind, MessageRef)>),
    /// Slack said 429, or pacing holds its channel: not a failed attempt;
    /// try again at this instant.
    Wait(DateTime<Utc>, &'static str),
    /// A transient failure, tried again at this instant; `in_doubt` when
    /// Slack may have taken it without saying so.
    Retry {
        at: DateTime<Utc>,
        error: String,
        in_doubt: bool,
    },
    /// Slack refused it for good.
    Dead(String),
    /// Not tried: an earlier message of its request must go first, or the
    /// dispatcher is stopping.
    Skipped,
}

/// One outcome to record, under the lease token the message was claimed with.
struct Outcome {
    row: OutboxRow,
    token: Arc<str>,
    settled: Settled,
}

impl Dispatcher {
    pub fn new(ctx: &Context) -> Self {
        let owner = format!("dispatcher-{}", uuid::Uuid::new_v4().simple());
        let recorder = ctx.clone();
        let outcomes = Batcher::start(
            "outbox outcomes",
            ctx.store.concurrent_writes(),
            256,
            move |outcomes: Vec<Outcome>| {
                let ctx = recorder.clone();
                async move { record(&ctx, &outcomes).await }
            },
        );
        Self {
            ctx: ctx.clone(),
            store: ctx.store.clone(),
            slack: ctx.slack.clone(),
            settings: ctx.settings.outbox.clone(),
            wake: ctx.outbox.clone(),
            owner,
            outcomes,
            pacing: Pacing::new(ctx.settings.outbox.channel_pace),
        }
    }

    fn lease(&self) -> TimeDelta {
        TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::seconds(60))
    }

    pub async fn run(self, shutdown: CancellationToken) {
        info!(owner = %self.owner, "outbox dispatcher started");
        let this = Arc::new(self);
        let mut chains: JoinSet<usize> = JoinSet::new();
        // How many messages each running chain holds.
        let mut holding: HashMap<tokio::task::Id, usize> = HashMap::new();
        let mut in_flight = 0usize;
        let capacity = this.settings.batch_size.max(1) as usize;
        let mut gauged: Option<std::time::Instant> = None;
        let renew_every = this.settings.lease / 3;
        let mut renewed = std::time::Instant::now();
        while !shutdown.is_cancelled() {
            if gauged.is_none_or(|at| at.elapsed() >= GAUGE_EVERY) {
                this.record_gauges().await;
                this.pacing.forget_idle();
                gauged = Some(std::time::Instant::now());
            }
            if in_flight > 0 && renewed.elapsed() >= renew_every {
                this.renew().await;
                renewed = std::time::Instant::now();
            }
            let mut claimed = 0;
            // Refill half the window at a time: a claim is a few queries on
            // the one writer, too dear to spend on every finished message.
            if in_flight <= capacity / 2 {
                match this.claim(capacity - in_flight).await {
                    Ok((token, by_request)) => {
                        for rows in by_request {
                            let held = rows.len();
                            claimed += held;
                            let (this, token, stop) = (Arc::clone(&this), Arc::clone(&token), shutdown.clone());
                            let chain = chains.spawn(async move { this.send_in_order(rows, token, stop).await });
                            holding.insert(chain.id(), held);
                        }
                    }
                    Err(e) => error!(error = %e, "could not claim outbox messages; retrying after the poll interval"),
                }
            }
            in_flight += claimed;
            if claimed > 0 && in_flight <= capacity / 2 {
                continue;
            }
            tokio::select! {
                Some(done) = chains.join_next_with_id(), if !chains.is_empty() => {
                    // A chain that panicked held its messages too (their
                    // leases run out and they are checked before resending).
                    let id = match done {
                        Ok((id, _)) => id,
                        Err(e) => e.id(),
                    };
                    in_flight -= holding.remove(&id).unwrap_or(0);
                }
                _ = this.wake.woken() => {}
                _ = tokio::time::sleep(this.settings.poll_interval.min(renew_every)) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        // Messages being sent finish (their outcome is recorded); the rest
        // of each chain is handed back.
        while chains.join_next().await.is_some() {}
        match queue::release(this.store.writer(), &this.owner).await {
            Ok(released) => info!(released, "outbox dispatcher stopped; leases released"),
            Err(e) => warn!(error = %e, "could not release outbox leases; they expire on their own"),
        }
    }

    /// Keeps the leases of every message this dispatcher holds.
    async fn renew(&self) {
        let until = Utc::now() + self.lease();
        if let Err(e) = queue::renew(self.store.writer(), &format!("{}:", self.owner), until).await {
            warn!(error = %e, "could not renew outbox leases; if they run out another dispatcher may take over");
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

    /// Claims up to `limit` due messages under a new token, grouped by
    /// request (each group in the order its messages were written).
    async fn claim(&self, limit: usize) -> Result<(Arc<str>, Vec<Vec<OutboxRow>>), StoreError> {
        let token: Arc<str> = format!("{}:{}", self.owner, uuid::Uuid::new_v4().simple()).into();
        let rows = queue::claim_due(self.store.writer(), &token, Utc::now(), self.lease(), limit as u64).await?;
        let mut by_request: BTreeMap<i64, Vec<OutboxRow>> = BTreeMap::new();
        for row in rows {
            // Messages without a request have no order to keep.
            let key = row.request_id.unwrap_or(-row.id);
            by_request.entry(key).or_default().push(row);
        }
        Ok((token, by_request.into_values().collect()))
    }

    /// One claim-and-send round, for commands that run without `serve`;
    /// returns how many messages it claimed.
    pub async fn round(&self) -> Result<usize, StoreError> {
        let (token, by_request) = self.claim(self.settings.batch_size.max(1) as usize).await?;
        let stop = CancellationToken::new();
        let sends = by_request
            .into_iter()
            .map(|rows| self.send_in_order(rows, Arc::clone(&token), stop.clone()));
        Ok(futures_util::future::join_all(sends).await.into_iter().sum())
    }

    /// Sends one request's messages in order, recording each outcome before
    /// the next is sent. After a message that must be tried again (or when
    /// stopping) the rest wait: they are handed back unsent. Returns how
    /// many messages it held.
    async fn send_in_order(&self, rows: Vec<OutboxRow>, token: Arc<str>, stop: CancellationToken) -> usize {
        let held = rows.len();
        // The intake message posted earlier in this chain.
        let mut intake_message: Option<MessageRef> = None;
        let mut halted = false;
        for row in rows {
            let span = info_span!("outbox", id = row.id, request = row.request_id, method = %row.method);
            let settled = match halted || stop.is_cancelled() {
                true => Settled::Skipped,
                false => {
                    self.attempt(&row, intake_message.as_ref())
                        .instrument(span.clone())
                        .await
                }
            };
            match &settled {
                Settled::Sent(Some((PostKind::Intake, message))) => intake_message = Some(message.clone()),
                Settled::Wait(..) | Settled::Retry { .. } => halted = true,
                _ => {}
            }
            let method = row.method.clone();
            let counted = counter(&settled);
            let outcome = Outcome {
                row,
                token: Arc::clone(&token),
                settled,
            };
            match self.outcomes.submit(outcome).await {
                Ok(Lease::Held) => match counted {
                    Some((name, None)) => metrics::counter!(name, "method" => method).increment(1),
                    Some((name, Some(reason))) => {
                        metrics::counter!(name, "method" => method, "reason" => reason).increment(1)
                    }
                    None => {}
                },
                Ok(Lease::Lost) => {
                    let _enter = span.enter();
                    warn!(
                        "lease lost: another dispatcher took this message after our lease ran out; its outcome is theirs to record"
                    );
                    metrics::counter!("intake_outbox_lease_lost_total").increment(1);
                    halted = true;
                }
                Err(e) => {
                    let _enter = span.enter();
                    error!(error = %e, "could not record the outcome; the lease will run out and the message is checked before it is sent again");
                    halted = true;
                }
            }
        }
        held
    }

    async fn attempt(&self, row: &OutboxRow, intake_message: Option<&MessageRef>) -> Settled {
        match self.send(row, intake_message).await {
            Ok(Sent::Posted(posted)) => {
                info!(attempts = row.attempts + 1, "sent");
                Settled::Sent(queue::records(row).zip(posted))
            }
            Ok(Sent::Later(wait, reason)) => Settled::Wait(Utc::now() + delta(wait), reason),
            Err(CallError::RateLimited(wait)) => {
                warn!(
                    retry_after_secs = wait.as_secs(),
                    "Slack rate limited this call; waiting as asked"
                );
                Settled::Wait(Utc::now() + delta(wait), "ratelimited")
            }
            Err(e @ (CallError::Transient(_) | CallError::Unanswered(_)))
                if (row.attempts + 1) < self.settings.max_attempts as i32 =>
            {
                let wait = backoff(self.settings.retry_base, row.attempts);
                let in_doubt = matches!(e, CallError::Unanswered(_)) || row.in_doubt;
                warn!(error = %e, attempt = row.attempts + 1, retry_in_ms = wait.as_millis() as u64, in_doubt, "send failed; will retry");
                Settled::Retry {
                    at: Utc::now() + delta(wait),
                    error: e.to_string(),
                    in_doubt,
                }
            }
            Err(e) => {
                error!(error = %e, attempts = row.attempts + 1, hint = e.advice().unwrap_or("none"),
                    "message is dead: Slack refused it and retrying cannot help");
                Settled::Dead(e.to_string())
            }
        }
    }

    /// Sends one message; for `chat.postMessage`, returns where it was
    /// posted.
    async fn send(&self, row: &OutboxRow, intake_message: Option<&MessageRef>) -> Result<Sent, CallError> {
        let method = Method::parse(&row.method)
            .ok_or_else(|| CallError::Permanent(format!("unknown outbox method {:?}", row.method)))?;
        if method == Method::PublishHome {
            return self.publish_home(row).await;
        }
        if method == Method::CreateIssue {
            crate::service::tracker_issue::create_and_accept(&self.ctx, row).await?;
            return Ok(Sent::Posted(None));
        }
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
        if render::needs_receipt(&payload) {
            let receipt = self.receipt(row).await?;
            payload = render::fill_receipt_thread(&payload, receipt.as_ref());
        }
        let address = render::address(&payload).unwrap_or_default();
        if let Turn::After(wait) = self.pacing.turn(method, &address.channel).await {
            return Ok(Sent::Later(wait, "paced"));
        }
        let result = match method {
            Method::PostMessage => {
                if row.in_doubt
                    && let Some(found) = self.find_earlier_post(row, &address).await?
                {
                    return Ok(Sent::Posted(Some(found)));
                }
                let payload = render::with_key_metadata(&payload, METADATA_EVENT, &row.dedupe_key);
                self.slack.post_message(payload).await.map(Some)
            }
            // Updating a message twice changes nothing.
            Method::UpdateMessage => self.slack.update_message(payload).await.map(|_| None),
            Method::PublishHome => unreachable!("published above"),
            Method::CreateIssue => unreachable!("created above"),
            Method::PostEphemeral => {
                if row.in_doubt {
                    // Slack keeps no history of ephemeral messages to check.
                    possible_duplicate(method, "ephemeral messages cannot be looked up");
                }
                self.slack.post_ephemeral(payload).await.map(|_| None)
            }
        };
        if let Err(CallError::RateLimited(wait)) = &result {
            self.pacing.throttle(method, &address.channel, *wait);
        }
        result.map(Sent::Posted)
    }

    /// A person's App Home, rendered now from the store: however many
    /// changes asked for it, it shows the latest.
    async fn publish_home(&self, row: &OutboxRow) -> Result<Sent, CallError> {
        let user: String = serde_json::from_str(&row.payload)
            .map_err(|_| CallError::Permanent("a Home refresh names no user".into()))?;
        queue::take_home_refresh(self.store.writer(), row, &user)
            .await
            .map_err(|e| CallError::Transient(e.to_string()))?;
        let view = crate::service::home::view(&self.ctx, &user)
            .await
            .map_err(|e| CallError::Transient(e.to_string()))?;
        self.slack.publish_home(&user, view).await?;
        Ok(Sent::Posted(None))
    }

    /// A post whose earlier send may have reached Slack: looked for in its
    /// channel (or thread) by the key in its metadata. `None` when it is
    /// not there, or when history cannot be read (then it is sent again
    /// and counted as a possible duplicate); a 429 waits as asked.
    async fn find_earlier_post(
        &self,
        row: &OutboxRow,
        address: &render::Address,
    ) -> Result<Option<MessageRef>, CallError> {
        // A row written by `run-jobs --at` a future instant carries that
        // instant; its post is in Slack at the real time of sending.
        let oldest = row.created_at.min(Utc::now()).timestamp() - HISTORY_MARGIN;
        let thread = address.thread_ts.as_deref();
        match self
            .slack
            .find_posted(&address.channel, thread, &row.dedupe_key, oldest)
            .await
        {
            Ok(Some(found)) => {
                info!(ts = %found.ts, "an earlier send had reached Slack; not posting again");
                metrics::counter!("intake_outbox_found_in_history_total").increment(1);
                Ok(Some(found))
            }
            Ok(None) => Ok(None),
            Err(e @ CallError::RateLimited(_)) => Err(e),
            Err(e) => {
                possible_duplicate(Method::PostMessage, &e.to_string());
                Ok(None)
            }
        }
    }

    /// The request's intake message, as recorded when it was posted.
    async fn intake_message(&self, row: &OutboxRow) -> Result<Option<MessageRef>, CallError> {
        let Some(number) = row.request_id else {
            return Ok(None);
        };
        requests::intake_message(self.store.db(), RequestNumber(number))
            .await
            .map_err(|e| CallError::Transient(e.to_string()))
    }

    /// The submitter's receipt DM, as recorded when it was sent: per-request
    /// order sent it (or it died) before any message of the request written
    /// after it.
    async fn receipt(&self, row: &OutboxRow) -> Result<Option<MessageRef>, CallError> {
        let Some(number) = row.request_id else {
            return Ok(None);
        };
        requests::receipt(self.store.db(), RequestNumber(number))
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

/// What a send came to, short of an error.
enum Sent {
    /// Slack took it (or had taken it already); where, for a post.
    Posted(Option<MessageRef>),
    /// Not sent: its channel's turn comes after this long.
    Later(Duration, &'static str),
}

fn possible_duplicate(method: Method, why: &str) {
    warn!(
        reason = why,
        "resending a message that may have reached Slack already: possible duplicate"
    );
    metrics::counter!("intake_outbox_possible_duplicates_total", "method" => method.as_str()).increment(1);
}

fn delta(wait: Duration) -> TimeDelta {
    TimeDelta::from_std(wait).unwrap_or(TimeDelta::seconds(60))
}

/// The counter an outcome adds to once recorded, and for a retry, why.
fn counter(settled: &Settled) -> Option<(&'static str, Option<&'static str>)> {
    Some(match settled {
        Settled::Sent(_) => ("intake_outbox_sent_total", None),
        Settled::Dead(_) => ("intake_outbox_dead_total", None),
        Settled::Wait(_, reason) => ("intake_outbox_retries_total", Some(*reason)),
        Settled::Retry { in_doubt: true, .. } => ("intake_outbox_retries_total", Some("unanswered")),
        Settled::Retry { .. } => ("intake_outbox_retries_total", Some("transient")),
        Settled::Skipped => return None,
    })
}

/// Records outcomes that arrived together, in one commit; answers whether
/// each message's lease was still ours. A dead message's follow-up (telling
/// someone it could not be delivered) commits with it.
async fn record(ctx: &Context, outcomes: &[Outcome]) -> Vec<Result<Lease, String>> {
    let recorded = async {
        let txn = ctx.store.write().await?;
        let now = Utc::now();
        let mut leases = Vec::with_capacity(outcomes.len());
        for Outcome { row, token, settled } in outcomes {
            let lease = match settled {
                Settled::Sent(posted) => {
                    // Where it went is true whoever records the rest.
                    if let (Some((post, message)), Some(number)) = (posted, row.request_id) {
                        requests::set_post(&txn, RequestNumber(number), *post, message).await?;
                    }
                    queue::mark_sent(&txn, row, token, now).await?
                }
                Settled::Wait(at, reason) => queue::wait_until(&txn, row, token, *at, reason).await?,
                Settled::Retry { at, error, in_doubt } => {
                    queue::retry_at(&txn, row, token, *at, error, *in_doubt).await?
                }
                Settled::Dead(error) => {
                    let lease = queue::mark_dead(&txn, row, token, error).await?;
                    if lease == Lease::Held {
                        // Someone must hear that it could not be delivered.
                        undeliverable::died(ctx, &txn, row, error, now).await?;
                    }
                    lease
                }
                Settled::Skipped => queue::unclaim(&txn, row, token).await?,
            };
            leases.push(lease);
        }
        txn.commit().await?;
        Ok::<_, StoreError>(leases)
    }
    .await;
    match recorded {
        Ok(leases) => leases.into_iter().map(Ok).collect(),
        Err(e) => outcomes.iter().map(|_| Err(e.to_string())).collect(),
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
