//! Reactions on request messages, processed after Slack's ack: escalation
//! emoji raise the severity (through the state machine, as
//! `Event::Escalate`), the "+1" emoji counts demand.
//!
//! The HTTP handler only records the event (a cheap insert, de-duplicated
//! by `event_id`); the worker here claims recorded events with a lease, so
//! a crash after the ack delays an event and a retry never escalates twice.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span};

use crate::app::AppState;
use crate::domain::escalation::{self, Decision, Ignored};
use crate::domain::request::Request;
use crate::domain::triage::{Actor, Event};
use crate::outbox::{self, Method, OutboundMessage};
use crate::slack::blocks;
use crate::store::{StoreError, events, requests};
use crate::triage_flow::{self, ReplyTo, StepOutcome};

#[derive(Debug, Deserialize)]
struct Envelope {
    event: Reaction,
    #[serde(default)]
    authorizations: Vec<Authorization>,
}

#[derive(Debug, Deserialize)]
struct Authorization {
    user_id: Option<String>,
    #[serde(default)]
    is_bot: bool,
}

#[derive(Debug, Deserialize)]
struct Reaction {
    #[serde(rename = "type")]
    kind: String,
    user: String,
    reaction: String,
    item: Item,
}

#[derive(Debug, Deserialize)]
struct Item {
    #[serde(rename = "type")]
    kind: String,
    channel: Option<String>,
    ts: Option<String>,
}

const LEASE: TimeDelta = TimeDelta::seconds(60);

/// The `serve` task that processes recorded reaction events.
pub async fn run_worker(state: Arc<AppState>, shutdown: CancellationToken) {
    let poll = Duration::from_millis(state.settings.raw.outbox.poll_interval_ms.max(10));
    while !shutdown.is_cancelled() {
        let handled = match process_pending(&state, Utc::now()).await {
            Ok(n) => n,
            Err(e) => {
                error!(error = %e, "processing reaction events failed; retrying");
                0
            }
        };
        if handled == 0 {
            tokio::select! {
                _ = state.events_wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }
}

/// Processes every recorded, unclaimed event; returns how many.
pub async fn process_pending(state: &AppState, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let claimed = events::claim(state.store.db(), now, LEASE, 100).await?;
    for (event_id, payload) in &claimed {
        let span = info_span!("reaction", event_id = %event_id, request = tracing::field::Empty);
        process(state, payload, now).instrument(span).await?;
        events::mark_processed(state.store.db(), event_id, now).await?;
    }
    Ok(claimed.len())
}

async fn process(state: &AppState, payload: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    let Ok(envelope) = serde_json::from_str::<Envelope>(payload) else {
        info!("not a reaction we understand; ignored");
        return Ok(());
    };
    let reaction = envelope.event;
    let bot = envelope
        .authorizations
        .iter()
        .find(|a| a.is_bot)
        .and_then(|a| a.user_id.as_deref());
    if bot == Some(reaction.user.as_str()) || reaction.item.kind != "message" {
        return Ok(());
    }
    let (Some(channel), Some(ts)) = (reaction.item.channel.as_deref(), reaction.item.ts.as_deref()) else {
        return Ok(());
    };
    let Some(request) = requests::find_by_message(state.store.db(), channel, ts).await? else {
        return Ok(());
    };
    tracing::Span::current().record("request", request.number.0);
    let emoji = escalation::base_emoji(&reaction.reaction).to_string();
    let added = reaction.kind == "reaction_added";
    if emoji == state.settings.raw.escalation.plus_one.trim_matches(':') {
        return count_demand(state, &request, &reaction.user, &emoji, added, now).await;
    }
    if !added {
        info!(user = %reaction.user, emoji, "reaction removed; escalations only raise, severity unchanged");
        return Ok(());
    }
    escalate(state, &request, &reaction.user, &emoji, channel, now).await
}

async fn escalate(
    state: &AppState,
    request: &Request,
    user: &str,
    emoji: &str,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let past = requests::past_escalations(state.store.db(), request.number).await?;
    let decision = escalation::decide(
        request,
        emoji,
        user,
        &state.settings.escalation,
        &state.settings.severities,
        &past,
        now,
    );
    match decision {
        Decision::Escalate { to } => {
            let event = Event::Escalate {
                to,
                emoji: emoji.to_string(),
            };
            match triage_flow::run_step(state, request.number, &event, &Actor::person(user, false), now).await? {
                StepOutcome::Done(after) => {
                    info!(user, emoji, severity = after.severity.as_str(), "escalated");
                    metrics::counter!("intake_escalations_total").increment(1);
                }
                StepOutcome::Refused(why) => info!(user, emoji, why, "escalation no longer applies"),
                StepOutcome::NoSuchRequest => {}
            }
        }
        Decision::Ignore(Ignored::Finished) => {
            let reply_to = ReplyTo {
                channel: channel.to_string(),
                user: user.to_string(),
                key: format!("react:{}:{user}:{emoji}", request.number.0),
            };
            let hint = format!(
                "{} is {}, so reactions do not escalate it. Ask a triager to reopen it if it needs attention again.",
                request.number,
                request.state.label()
            );
            triage_flow::explain(state, &reply_to, &hint, now).await?;
        }
        Decision::Ignore(reason) => info!(user, emoji, ?reason, "reaction does not escalate"),
    }
    Ok(())
}

/// "+N others need this": distinct people (not the submitter) who reacted.
async fn count_demand(
    state: &AppState,
    request: &Request,
    user: &str,
    emoji: &str,
    added: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if user == request.submitter {
        return Ok(());
    }
    let txn = state.store.write().await?;
    let changed = if added {
        requests::add_reaction(&txn, request.number, user, emoji, now).await?
    } else {
        requests::remove_reaction(&txn, request.number, user, emoji).await?
    };
    if !changed {
        return Ok(());
    }
    requests::adjust_demand(&txn, request.number, if added { 1 } else { -1 }).await?;
    let Some(fresh) = requests::find(&txn, request.number).await? else {
        return Ok(());
    };
    let demand = fresh.demand;
    let refresh = OutboundMessage {
        request: Some(fresh.number),
        dedupe_key: format!("req:{}:v{}:demand", fresh.number.0, fresh.version),
        method: Method::UpdateMessage,
        payload: blocks::card_update(&fresh, &state.settings.severities),
        on_sent: None,
    };
    outbox::enqueue(&txn, refresh, now).await?;
    txn.commit().await?;
    state.outbox_wake.notify_one();
    info!(demand, "demand counted");
    Ok(())
}
