//! A tracker's webhook, verified and read (`webhook`), applied to the
//! requests accepted into its issue (issue 16, "resolution flows back"):
//!
//! - done: each is resolved by the tracker, through [`run_step`], exactly as
//!   with the Resolve button (the submitter is asked to confirm, the card
//!   and the thread say so, the audit row names the tracker, the follow-up
//!   clock starts);
//! - closed as not planned: nothing changes and the submitter hears
//!   nothing; the owner (the intake thread when there is none) is asked to
//!   decide, through the outbox;
//! - reopened: a resolved request is accepted work again, and the
//!   submitter is told.
//!
//! A delivery (its id: `X-GitHub-Delivery`, `X-Atlassian-Webhook-Identifier`)
//! acts once per request: its key is taken in the transaction of what it
//! did. Without an id, the state machine refuses a repeated step.

use chrono::{DateTime, Utc};
use tracing::info;

use crate::context::Context;
use crate::domain::request::Request;
use crate::domain::state::State;
use crate::domain::text::Text;
use crate::domain::triage::{Actor, Event};
use crate::outbox::{DedupeKey, OutboundMessage};
use crate::slack::render::triage as words;
use crate::store::StoreError;
use crate::store::{outbox, requests};
use crate::webhook::{Change, Issue, Source, TrackerUpdate};

use super::triage_step::{StepOutcome, run_step_taking};

/// Applies a webhook; the lines say what happened, one per request (the
/// webhook's answer, and the tracker's delivery log, shows them).
pub async fn received(
    ctx: &Context,
    source: Source,
    delivery: Option<&str>,
    update: TrackerUpdate,
) -> Result<Vec<String>, StoreError> {
    let (issue, change) = match update {
        TrackerUpdate::Ping => return Ok(vec!["pong".into()]),
        TrackerUpdate::Ignored(why) => {
            info!(tracker = source.as_str(), %why, "tracker webhook ignored");
            return Ok(vec![format!("ignored: {why}")]);
        }
        TrackerUpdate::Issue { issue, change } => (issue, change),
    };
    let tracked = requests::tracked_by(ctx.store.db(), &issue.stored_as).await?;
    if tracked.is_empty() {
        info!(tracker = source.as_str(), issue = %issue.label, "no request is tracked in this issue");
        return Ok(vec![format!("ignored: no request is tracked in {}", issue.label)]);
    }
    let now = Utc::now();
    let mut lines = Vec::with_capacity(tracked.len());
    for request in tracked {
        let key = delivery.map(|id| delivery_key(source, id, &request));
        if let Some(key) = &key
            && outbox::exists(ctx.store.db(), key).await?
        {
            lines.push(format!("{}: this delivery was already applied", request.number));
            continue;
        }
        let line = match &change {
            Change::Done { resolution } => {
                match Text::parse(&Change::done_note(&issue, resolution.as_deref()), "resolution") {
                    Ok(note) => step(ctx, source, &request, Event::Resolve { note }, key, now).await?,
                    Err(e) => format!("{}: unchanged ({e})", request.number),
                }
            }
            Change::Reopened => step(ctx, source, &request, Event::Reopen, key, now).await?,
            Change::NotPlanned { how } => not_planned(ctx, &issue, how, &request, key, now).await?,
        };
        lines.push(line);
    }
    Ok(lines)
}

/// The outbox key that marks delivery `id` as applied to `request`.
fn delivery_key(source: Source, id: &str, request: &Request) -> DedupeKey {
    DedupeKey::webhook_delivery(source.as_str(), id, request.number)
}

/// Runs `event` by the tracker on `request`; a refusal (already resolved,
/// not resolved, closed) is logged and answered, never an error.
async fn step(
    ctx: &Context,
    source: Source,
    request: &Request,
    event: Event,
    key: Option<DedupeKey>,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let Some(tracker) = request.tracker.clone() else {
        return Ok(format!("{}: not tracked", request.number));
    };
    let actor = Actor::Tracker { tracker };
    let taken: Vec<DedupeKey> = key.into_iter().collect();
    let outcome = run_step_taking(ctx, request.number, &event, &actor, now, &taken).await?;
    metrics::counter!("intake_tracker_updates_total", "tracker" => source.as_str(), "event" => event.name())
        .increment(1);
    Ok(match outcome {
        StepOutcome::Done(after) => format!("{}: {}", after.number, after.state),
        StepOutcome::Refused(why) => {
            info!(request = request.number.0, event = event.name(), %why, "the tracker's step was refused");
            format!("{}: unchanged ({})", request.number, event.name())
        }
        StepOutcome::NoSuchRequest => format!("{}: no such request", request.number),
    })
}

/// Closed as not planned: the request stays as it is; whoever owns it is
/// asked to decide (once per version of the request, however often the
/// tracker says so).
async fn not_planned(
    ctx: &Context,
    issue: &Issue,
    how: &str,
    request: &Request,
    key: Option<DedupeKey>,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    if !request.state.is_open() || request.state == State::Resolved {
        info!(request = request.number.0, state = %request.state, "closed as not planned, but nothing is left to decide");
        return Ok(format!("{}: unchanged ({})", request.number, request.state));
    }
    let notice = OutboundMessage::post(
        Some(request.number),
        DedupeKey::tracker_not_planned(request.number, request.version),
        words::not_planned(request, &issue.label, how),
    );
    let txn = ctx.store.write().await?;
    let queued = outbox::enqueue(&txn, notice, now).await?;
    if let Some(key) = key {
        outbox::skip(
            &txn,
            OutboundMessage::post(Some(request.number), key, serde_json::Value::Null),
            now,
        )
        .await?;
    }
    txn.commit().await?;
    ctx.outbox.wake();
    let told = match &request.owner {
        Some(owner) => format!("<@{owner}>"),
        None => "the intake thread".into(),
    };
    info!(request = request.number.0, issue = %issue.label, %how, queued = ?queued, "closed as not planned: the owner decides");
    Ok(format!("{}: unchanged, {told} asked to decide", request.number))
}
