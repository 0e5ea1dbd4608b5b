//! Reactions on request messages: escalation emoji raise the severity
//! (through the state machine, as `Event::Escalate`), the "+1" emoji counts
//! demand. The file emoji, on any message, files it (`file_from_message`).
//!
//! Two halves. While Slack waits, [`Reactions::received`] keeps only events
//! that can matter on a request's message and records them (a cheap insert,
//! de-duplicated by `event_id`). After the ack, [`process_pending`] (run by
//! `workers::reactions`) claims recorded events with a lease, so a crash
//! after the ack delays an event and a retry never escalates twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use tokio::sync::Notify;
use tracing::{Instrument, info, info_span};

use crate::config::Settings;
use crate::context::Context;
use crate::domain::escalation::{self, Decision, Ignored};
use crate::domain::request::{MessageRef, Request, RequestNumber};
use crate::domain::triage::{Actor, Event};
use crate::outbox::{DedupeKey, OutboundMessage};
use crate::slack::Reply;
use crate::slack::inbound::{Authorization, MessageEnvelope, Reaction, ReactionEnvelope, bot_user};
use crate::slack::render::{self, replies};
use crate::store::events::Recorder;
use crate::store::{StoreError, audit, demand, events, requests};

use super::explain::{ReplyTo, explain};
use super::file_from_message::Filed;
use super::triage_step::{StepOutcome, run_step};

const LEASE: TimeDelta = TimeDelta::seconds(60);

/// The ack path's state: which messages are requests', and the recorder.
#[derive(Clone)]
pub struct Reactions {
    known: Arc<KnownMessages>,
    recorder: Recorder,
    /// Rung when an event was recorded for processing.
    pub recorded: Arc<Notify>,
}

impl Reactions {
    /// Starts the recorder's group-commit tasks on the current runtime.
    pub fn start(ctx: &Context) -> Self {
        Self {
            known: Arc::new(KnownMessages::new()),
            recorder: Recorder::start(ctx.store.clone()),
            recorded: Arc::new(Notify::new()),
        }
    }

    /// A `reaction_added` / `reaction_removed` callback, while Slack waits:
    /// recorded when it can matter, otherwise acknowledged and forgotten
    /// (ignoring an event twice changes nothing). `body` is the whole
    /// callback, kept for the worker.
    pub async fn received(
        &self,
        ctx: &Context,
        event_id: &str,
        event: &Value,
        authorizations: &[Authorization],
        body: &[u8],
    ) -> Reply {
        let Some(reaction) = Reaction::from_event(event) else {
            return Reply::Ack;
        };
        let bot = bot_user(authorizations);
        let worth_keeping = match target(&reaction, bot, &ctx.settings) {
            // Any message can be filed: kept without a look-up.
            _ if files(&reaction, bot, &ctx.settings).is_some() => Ok(true),
            Some(message) => self
                .known
                .classify(ctx, &message, Utc::now())
                .await
                .map(|m| m != Match::Never),
            None => Ok(false),
        };
        match worth_keeping {
            Ok(true) => {}
            Ok(false) => {
                info!(
                    event_id,
                    "reaction ignored: not on a request, or an emoji that neither escalates nor counts"
                );
                return Reply::Ack;
            }
            Err(e) => return Reply::Unavailable(format!("could not look the message up: {e}")),
        }
        self.keep(event_id, body).await
    }

    /// Records an event callback (`body`, as sent) to process after the
    /// ack, once per event id: a reaction that can matter, or a thread
    /// reply for the conversation relay (`service::relay`).
    pub async fn keep(&self, event_id: &str, body: &[u8]) -> Reply {
        let payload = String::from_utf8_lossy(body);
        match self.recorder.record(event_id, &payload, Utc::now()).await {
            Ok(true) => {
                info!(event_id, "event received");
                self.recorded.notify_one();
                Reply::Ack
            }
            Ok(false) => {
                info!(event_id, "duplicate event (a Slack retry); ignored");
                Reply::Ack
            }
            Err(e) => Reply::Unavailable(format!("could not record the event: {e}")),
        }
    }
}

/// The message a reaction is on, if the reaction can change anything:
/// `None` for the bot's own reactions, reactions on files, removed
/// escalation emoji (escalation only raises) and emoji that neither
/// escalate nor count as "+1". Judged from the event alone, so the ack path
/// can drop such events without storing them.
fn target(reaction: &Reaction, bot: Option<&str>, settings: &Settings) -> Option<MessageRef> {
    if bot == Some(reaction.user.as_str()) {
        return None;
    }
    let emoji = escalation::base_emoji(&reaction.reaction);
    let counts = emoji == settings.plus_one;
    let escalates = reaction.added() && settings.escalation.emoji.contains_key(emoji);
    if !(counts || escalates) {
        return None;
    }
    reaction.message()
}

/// The message to file, when this is the file emoji added by a person.
fn files(reaction: &Reaction, bot: Option<&str>, settings: &Settings) -> Option<MessageRef> {
    let file_emoji = settings.file_emoji.as_deref()?;
    let added_by_a_person = reaction.added() && bot != Some(reaction.user.as_str());
    (added_by_a_person && escalation::base_emoji(&reaction.reaction) == file_emoji)
        .then(|| reaction.message())
        .flatten()
}

/// Which messages are requests' messages, remembered for the ack path: a
/// burst of reactions (an incident, a popular ask) lands on a few
/// messages, so after the first look-up the rest need no database read.
///
/// A "yes" never goes stale (a request keeps its messages). A "no" is
/// final only for messages older than [`SETTLED_AFTER`]: a card is
/// recorded moments after Slack posts it, so a reaction can arrive before
/// its card is known. Such a reaction, on a fresh message in a channel
/// intake posts to, is kept; the worker matches it once the card is
/// recorded, or drops it when the message has settled.
struct KnownMessages {
    cache: quick_cache::sync::Cache<MessageRef, bool>,
    /// Channels intake has posted a request's card or page to.
    posting_channels: quick_cache::sync::Cache<String, ()>,
}

/// How old a message must be before "not a request's message" is final.
const SETTLED_AFTER: i64 = 600;

/// What a message is to the reactions on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// A request's card or on-call page.
    Request,
    /// Unknown yet, but fresh and where intake posts: it may be a card
    /// whose address is about to be recorded.
    NotYet,
    /// Not a request's message, and never will be.
    Never,
}

/// Is `message` old enough that, unknown, it is no request's?
fn settled(message: &MessageRef, now: DateTime<Utc>) -> bool {
    message
        .ts
        .split('.')
        .next()
        .and_then(|secs| secs.parse::<i64>().ok())
        .is_none_or(|secs| secs < now.timestamp() - SETTLED_AFTER)
}

impl KnownMessages {
    fn new() -> Self {
        Self {
            cache: quick_cache::sync::Cache::new(10_000),
            posting_channels: quick_cache::sync::Cache::new(1_000),
        }
    }

    async fn classify(&self, ctx: &Context, message: &MessageRef, now: DateTime<Utc>) -> Result<Match, StoreError> {
        if let Some(known) = self.cache.get(message) {
            return Ok(if known { Match::Request } else { Match::Never });
        }
        let db = ctx.store.db();
        if requests::is_request_message(db, message).await? {
            self.cache.insert(message.clone(), true);
            self.posting_channels.insert(message.channel.clone(), ());
            return Ok(Match::Request);
        }
        if settled(message, now) {
            self.cache.insert(message.clone(), false);
            return Ok(Match::Never);
        }
        Ok(match self.is_posting_channel(ctx, &message.channel).await? {
            true => Match::NotYet,
            false => Match::Never,
        })
    }

    /// The configured intake and on-call channels (when given as ids), and
    /// any channel a request's card or page was posted to.
    async fn is_posting_channel(&self, ctx: &Context, channel: &str) -> Result<bool, StoreError> {
        let settings = &ctx.settings;
        let configured = settings
            .teams
            .all()
            .iter()
            .any(|t| t.channel == channel || t.oncall_channel.as_deref() == Some(channel));
        if configured || settings.oncall_channel.as_str() == channel {
            return Ok(true);
        }
        if self.posting_channels.get(channel).is_some() {
            return Ok(true);
        }
        let posted_there = requests::has_posted_to(ctx.store.db(), channel).await?;
        if posted_there {
            self.posting_channels.insert(channel.to_string(), ());
        }
        Ok(posted_there)
    }
}

/// Processes a batch of recorded, unclaimed events; returns how many.
/// Escalations go through the state machine one by one; "+1"s are gathered
/// and counted in one transaction with the batch's "processed" marks, so a
/// burst of them costs one commit and one card refresh per request.
pub async fn process_pending(ctx: &Context, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let claimed = events::claim(ctx.store.writer(), now, LEASE, 100).await?;
    let mut changes = Vec::new();
    let (mut done, mut later) = (Vec::new(), Vec::new());
    for (event_id, payload) in &claimed {
        let span = info_span!("reaction", event_id = %event_id, request = tracing::field::Empty);
        match process(ctx, event_id, payload, now).instrument(span).await? {
            Processed::Done => done.push(event_id.as_str()),
            Processed::Demand(change) => {
                changes.push(change);
                done.push(event_id.as_str());
            }
            Processed::Later => later.push(event_id.as_str()),
        }
    }
    finish_batch(ctx, &changes, &done, &later, now).await?;
    Ok(claimed.len())
}

/// What became of one event.
enum Processed {
    Done,
    /// A "+1" to count with the batch.
    Demand(DemandChange),
    /// On a fresh message not yet known as a request's: look again soon.
    Later,
}

/// How soon an event on a not-yet-known message is looked at again.
const LOOK_AGAIN: TimeDelta = TimeDelta::seconds(5);

/// One person's "+1" added or taken back, to be counted with its batch.
struct DemandChange {
    request: RequestNumber,
    user: String,
    /// The reaction as sent, skin tone included.
    variant: String,
    added: bool,
}

/// Handles one event: escalates now, or returns the demand change to count.
async fn process(ctx: &Context, event_id: &str, payload: &str, now: DateTime<Utc>) -> Result<Processed, StoreError> {
    // A thread reply, recorded with the reactions, is the relay's.
    if let Some(reply) = MessageEnvelope::parse(payload) {
        if let Some(reply) = reply {
            super::relay::process(ctx, &reply, now).await?;
        }
        return Ok(Processed::Done);
    }
    let Some(envelope) = ReactionEnvelope::parse(payload) else {
        info!("not a reaction we understand; ignored");
        return Ok(Processed::Done);
    };
    let reaction = &envelope.event;
    let bot = bot_user(&envelope.authorizations);
    if let Some(message) = files(reaction, bot, &ctx.settings) {
        return Ok(
            match super::file_from_message::reacted(ctx, event_id, &reaction.user, &message, now).await? {
                Filed::Done => Processed::Done,
                Filed::Later => Processed::Later,
            },
        );
    }
    let Some(message) = target(reaction, bot, &ctx.settings) else {
        return Ok(Processed::Done);
    };
    let Some(request) = requests::find_by_message(ctx.store.db(), &message).await? else {
        // Kept by the ack path because the card may not be recorded yet.
        return Ok(match settled(&message, now) {
            true => Processed::Done,
            false => Processed::Later,
        });
    };
    tracing::Span::current().record("request", request.number.0);
    let emoji = escalation::base_emoji(&reaction.reaction).to_string();
    if emoji == ctx.settings.plus_one {
        // The submitter's own "+1" is not demand.
        if reaction.user == request.submitter {
            return Ok(Processed::Done);
        }
        return Ok(Processed::Demand(DemandChange {
            request: request.number,
            user: reaction.user.clone(),
            variant: reaction.reaction.clone(),
            added: reaction.added(),
        }));
    }
    let reacted = Reacted {
        event_id,
        user: &reaction.user,
        emoji: &emoji,
        channel: &message.channel,
    };
    escalate(ctx, &request, &reacted, now).await?;
    Ok(Processed::Done)
}

/// Who reacted with which escalation emoji, where.
struct Reacted<'a> {
    event_id: &'a str,
    user: &'a str,
    emoji: &'a str,
    channel: &'a str,
}

async fn escalate(
    ctx: &Context,
    request: &Request,
    reacted: &Reacted<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (user, emoji) = (reacted.user, reacted.emoji);
    let past = audit::past_escalations(ctx.store.db(), request.number).await?;
    let settings = &ctx.settings;
    let severities = &settings.team(&request.team).severities;
    let decision = escalation::decide(request, emoji, user, &settings.escalation, severities, &past, now);
    match decision {
        Decision::Escalate { to } => {
            let event = Event::Escalate {
                to,
                emoji: emoji.to_string(),
            };
            match run_step(ctx, request.number, &event, &Actor::person(user, vec![]), now).await? {
                StepOutcome::Done(after) => {
                    info!(user, emoji, severity = after.severity.as_str(), "escalated");
                    metrics::counter!("intake_escalations_total").increment(1);
                }
                StepOutcome::Refused(why) => info!(user, emoji, why, "escalation no longer applies"),
                StepOutcome::NoSuchRequest => {}
            }
        }
        Decision::Ignore(Ignored::NotEscalation) => {}
        Decision::Ignore(reason) => {
            info!(user, emoji, ?reason, "reaction does not escalate");
            // The person said something; tell them why nothing happened.
            let reply_to = ReplyTo {
                channel: reacted.channel.to_string(),
                user: user.to_string(),
                key: DedupeKey::reaction_explanation(reacted.event_id),
            };
            let why = replies::not_escalated(request, &reason, emoji, severities);
            explain(ctx, &reply_to, &why, now).await?;
        }
    }
    Ok(())
}

/// "+N others need this": distinct people (not the submitter) who reacted.
/// Records a batch's changes, moves each request's demand by its net
/// change, queues one card refresh per request whose demand moved, marks
/// the batch's events processed and puts off those to look at again, all
/// in one transaction.
async fn finish_batch(
    ctx: &Context,
    changes: &[DemandChange],
    processed: &[&str],
    later: &[&str],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if processed.is_empty() && later.is_empty() {
        return Ok(());
    }
    let txn = ctx.store.write().await?;
    let mut moved: BTreeMap<RequestNumber, i32> = BTreeMap::new();
    for change in changes {
        let (number, user, emoji) = (change.request, change.user.as_str(), change.variant.as_str());
        let changed = match change.added {
            true => demand::add_vote(&txn, number, user, emoji, now).await?,
            false => demand::remove_vote(&txn, number, user, emoji).await?,
        };
        if changed {
            *moved.entry(number).or_default() += if change.added { 1 } else { -1 };
        }
    }
    let mut refreshed = false;
    for (&number, &delta) in moved.iter().filter(|(_, delta)| **delta != 0) {
        demand::adjust_demand(&txn, number, delta).await?;
        let Some(fresh) = requests::find(&txn, number).await? else {
            continue;
        };
        info!(request = number.0, demand = fresh.demand, "demand counted");
        let refresh = OutboundMessage::card_update(
            fresh.number,
            DedupeKey::demand_refresh(fresh.number, fresh.version),
            render::card_update(&fresh, &ctx.settings.teams),
        );
        crate::store::outbox::enqueue(&txn, refresh, now).await?;
        refreshed = true;
    }
    events::mark_processed(&txn, processed, now).await?;
    events::look_again_at(&txn, later, now + LOOK_AGAIN).await?;
    txn.commit().await?;
    if refreshed {
        ctx.outbox.wake();
    }
    Ok(())
}
