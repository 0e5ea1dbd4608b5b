//! Reactions on request messages, processed after Slack's ack: escalation
//! emoji raise the severity (through the state machine, as
//! `Event::Escalate`), the "+1" emoji counts demand.
//!
//! The HTTP handler only records the event (a cheap insert, de-duplicated
//! by `event_id`); the worker here claims recorded events with a lease, so
//! a crash after the ack delays an event and a retry never escalates twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span};

use crate::app::AppState;
use crate::config::Settings;
use crate::domain::escalation::{self, Decision, Ignored};
use crate::domain::request::{Request, RequestNumber};
use crate::domain::triage::{Actor, Event};
use crate::outbox::{self, Method, OutboundMessage};
use crate::slack::{blocks, inbound};
use crate::store::{StoreError, events, requests};
use crate::triage_flow::{self, ReplyTo, StepOutcome};

/// A stored event, as Slack sent it.
#[derive(Debug, Deserialize)]
struct Envelope {
    event: Reaction,
    #[serde(default)]
    authorizations: Vec<inbound::Authorization>,
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

/// Processes a batch of recorded, unclaimed events; returns how many.
/// Escalations go through the state machine one by one; "+1"s are gathered
/// and counted in one transaction with the batch's "processed" marks, so a
/// burst of them costs one commit and one card refresh per request.
pub async fn process_pending(state: &AppState, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let claimed = events::claim(state.store.writer(), now, LEASE, 100).await?;
    let mut demand = Vec::new();
    for (event_id, payload) in &claimed {
        let span = info_span!("reaction", event_id = %event_id, request = tracing::field::Empty);
        if let Some(change) = process(state, payload, now).instrument(span).await? {
            demand.push(change);
        }
    }
    let ids: Vec<&str> = claimed.iter().map(|(id, _)| id.as_str()).collect();
    count_demand(state, &demand, &ids, now).await?;
    Ok(claimed.len())
}

/// The message a reaction event is on, if the event can change anything:
/// `None` for the bot's own reactions, reactions on files, removed
/// escalation emoji (escalation only raises) and emoji that neither
/// escalate nor count as "+1". Judged from the event alone, so the ack path
/// can drop such events without storing them.
fn target<'a>(reaction: &'a Reaction, bot: Option<&str>, settings: &Settings) -> Option<(&'a str, &'a str)> {
    if bot == Some(reaction.user.as_str()) || reaction.item.kind != "message" {
        return None;
    }
    let emoji = escalation::base_emoji(&reaction.reaction);
    let counts = emoji == settings.raw.escalation.plus_one.trim_matches(':');
    let escalates = reaction.kind == "reaction_added" && settings.escalation.emoji.contains_key(emoji);
    if !(counts || escalates) {
        return None;
    }
    Some((reaction.item.channel.as_deref()?, reaction.item.ts.as_deref()?))
}

/// For the ack path: is this reaction event worth keeping for the worker?
/// Only when it can matter and is on a request's message; everything else
/// is acknowledged and forgotten, since ignoring an event twice changes
/// nothing. `event` is the envelope's `event`, already parsed by the
/// handler; `bot` the bot's own user id.
pub async fn worth_keeping(state: &AppState, event: &serde_json::Value, bot: Option<&str>) -> Result<bool, StoreError> {
    let Ok(reaction) = Reaction::deserialize(event) else {
        return Ok(false);
    };
    match target(&reaction, bot, &state.settings) {
        Some((channel, ts)) => state.known_messages.is_request_message(state, channel, ts).await,
        None => Ok(false),
    }
}

/// Which messages are requests' messages, remembered for the ack path: a
/// burst of reactions (an incident, a popular ask) lands on a few
/// messages, so after the first look-up the rest need no database read.
///
/// A "yes" never goes stale (a request keeps its messages). A "no" is
/// remembered only for messages older than [`SETTLED_AFTER`]: a request's
/// post is recorded moments after Slack accepts it, so an older message
/// that is not a request's never becomes one.
pub struct KnownMessages {
    cache: quick_cache::sync::Cache<String, bool>,
}

/// How old a message must be before "not a request's message" is final.
const SETTLED_AFTER: i64 = 600;

impl Default for KnownMessages {
    fn default() -> Self {
        Self {
            cache: quick_cache::sync::Cache::new(10_000),
        }
    }
}

impl KnownMessages {
    pub async fn is_request_message(&self, state: &AppState, channel: &str, ts: &str) -> Result<bool, StoreError> {
        let key = format!("{channel}/{ts}");
        if let Some(known) = self.cache.get(&key) {
            return Ok(known);
        }
        let known = requests::is_request_message(state.store.db(), channel, ts).await?;
        let settled = ts
            .split('.')
            .next()
            .and_then(|secs| secs.parse::<i64>().ok())
            .is_some_and(|secs| secs < Utc::now().timestamp() - SETTLED_AFTER);
        if known || settled {
            self.cache.insert(key, known);
        }
        Ok(known)
    }
}

/// One person's "+1" added or taken back, to be counted with its batch.
struct DemandChange {
    request: RequestNumber,
    user: String,
    emoji: String,
    added: bool,
}

/// Handles one event: escalates now, or returns the demand change to count.
async fn process(state: &AppState, payload: &str, now: DateTime<Utc>) -> Result<Option<DemandChange>, StoreError> {
    let Ok(envelope) = serde_json::from_str::<Envelope>(payload) else {
        info!("not a reaction we understand; ignored");
        return Ok(None);
    };
    let reaction = &envelope.event;
    let bot = inbound::bot_user(&envelope.authorizations);
    let Some((channel, ts)) = target(reaction, bot, &state.settings) else {
        return Ok(None);
    };
    let Some(request) = requests::find_by_message(state.store.db(), channel, ts).await? else {
        return Ok(None);
    };
    tracing::Span::current().record("request", request.number.0);
    let emoji = escalation::base_emoji(&reaction.reaction).to_string();
    let added = reaction.kind == "reaction_added";
    if emoji == state.settings.raw.escalation.plus_one.trim_matches(':') {
        // The submitter's own "+1" is not demand.
        return Ok((reaction.user != request.submitter).then(|| DemandChange {
            request: request.number,
            user: reaction.user.clone(),
            emoji,
            added,
        }));
    }
    escalate(state, &request, &reaction.user, &emoji, channel, now).await?;
    Ok(None)
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
/// Records a batch's changes, moves each request's demand by its net
/// change, queues one card refresh per request whose demand moved, and
/// marks the batch's events processed, all in one transaction.
async fn count_demand(
    state: &AppState,
    changes: &[DemandChange],
    events: &[&str],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let txn = state.store.write().await?;
    let mut moved: BTreeMap<RequestNumber, i32> = BTreeMap::new();
    for change in changes {
        let (number, user, emoji) = (change.request, change.user.as_str(), change.emoji.as_str());
        let changed = match change.added {
            true => requests::add_reaction(&txn, number, user, emoji, now).await?,
            false => requests::remove_reaction(&txn, number, user, emoji).await?,
        };
        if changed {
            *moved.entry(number).or_default() += if change.added { 1 } else { -1 };
        }
    }
    let mut refreshed = false;
    for (&number, &delta) in moved.iter().filter(|(_, delta)| **delta != 0) {
        requests::adjust_demand(&txn, number, delta).await?;
        let Some(fresh) = requests::find(&txn, number).await? else {
            continue;
        };
        info!(request = number.0, demand = fresh.demand, "demand counted");
        let refresh = OutboundMessage {
            request: Some(fresh.number),
            dedupe_key: format!("req:{}:v{}:demand", fresh.number.0, fresh.version),
            method: Method::UpdateMessage,
            payload: blocks::card_update(&fresh, &state.settings.severities),
            on_sent: None,
        };
        outbox::enqueue(&txn, refresh, now).await?;
        refreshed = true;
    }
    events::mark_processed(&txn, events, now).await?;
    txn.commit().await?;
    if refreshed {
        state.outbox_wake.notify_one();
    }
    Ok(())
}
