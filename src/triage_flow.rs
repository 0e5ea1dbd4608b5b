//! Running a triage step: read the request, ask the state machine, and
//! write the new state, its audit row and every message it causes in one
//! transaction. A step refused by the machine is explained to the person
//! (ephemeral) and changes nothing.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::app::AppState;
use crate::domain::request::{Request, RequestNumber, SlaDeadlines};
use crate::domain::sla;
use crate::domain::triage::{Actor, Effect, Event, Notice, State, Transition, transition};
use crate::outbox::{self, Method, OutboundMessage};
use crate::scheduler::plan;
use crate::slack::blocks::{self, triage as words};
use crate::store::StoreError;
use crate::store::requests::{self, Change};

/// Where to explain a refusal: the channel the click happened in.
#[derive(Debug, Clone)]
pub struct ReplyTo {
    pub channel: String,
    pub user: String,
    /// Unique per interaction (its trigger id), so a retried click explains once.
    pub key: String,
}

#[derive(Debug)]
pub enum StepOutcome {
    Done(Box<Request>),
    /// Refused, with the words the person reads.
    Refused(String),
    NoSuchRequest,
}

/// How many times a step is re-read and re-run when another change won the race.
const ATTEMPTS: usize = 3;

/// Runs `event` by `actor` on request `number`.
pub async fn run_step(
    state: &AppState,
    number: RequestNumber,
    event: &Event,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<StepOutcome, StoreError> {
    for _ in 0..ATTEMPTS {
        let Some(before) = requests::find(state.store.db(), number).await? else {
            return Ok(StepOutcome::NoSuchRequest);
        };
        let step = match transition(&before, event, actor) {
            Ok(step) => step,
            Err(error) => return Ok(StepOutcome::Refused(words::refusal(&before, &error))),
        };
        let after = apply(state, &before, event, &step, now);
        let txn = state.store.write().await?;
        let change = Change {
            before: &before,
            after: &after,
            actor: actor.user().unwrap_or("scheduler"),
            event: event.name(),
            payload: payload(event),
            schedule: plan::schedule_for(&after, &state.settings, now),
        };
        if !requests::apply_change(&txn, change, now).await? {
            // Someone changed it between our read and write: re-read and
            // let the machine judge the step again (the second "Take" loses).
            txn.rollback().await?;
            continue;
        }
        enqueue_effects(&txn, state, &before, &after, event, actor, &step, now).await?;
        txn.commit().await?;
        state.outbox_wake.notify_one();
        info!(request = number.0, event = event.name(), from = %step.from, to = %step.to, "triage step");
        metrics::counter!("intake_triage_steps_total", "event" => event.name()).increment(1);
        return Ok(StepOutcome::Done(Box::new(after)));
    }
    Ok(StepOutcome::Refused(format!(
        "{number} is changing right now; please try again."
    )))
}

fn is_paused(state: State) -> bool {
    matches!(state, State::NeedsInfo | State::Deferred)
}

/// The request as the transition leaves it.
fn apply(state: &AppState, before: &Request, event: &Event, step: &Transition, now: DateTime<Utc>) -> Request {
    let calendar = &state.settings.calendar;
    let mut after = before.clone();
    after.state = step.to;
    after.owner = step.owner.clone();
    after.version = before.version + 1;
    if step.severity != before.severity
        && let Some(severity) = state.settings.severities.get(step.severity.as_str())
    {
        after.severity = step.severity.clone();
        // The clock restarts from submission under the new severity.
        after.deadlines = SlaDeadlines::for_severity(severity, before.created_at, calendar);
    }
    // The SLA clock stops while we wait on the submitter or a revisit date,
    // and the deadlines move by the time it was stopped.
    if is_paused(step.to) && !is_paused(before.state) {
        after.sla_paused_at = Some(now);
    }
    if !is_paused(step.to) && is_paused(before.state) {
        if let (Some(paused_at), Some(severity)) = (
            before.sla_paused_at,
            state.settings.severities.get(after.severity.as_str()),
        ) {
            let shift = |due| sla::resumed_deadline(due, paused_at, now, severity.clock, calendar);
            after.deadlines = SlaDeadlines {
                response_due: shift(after.deadlines.response_due),
                resolution_due: shift(after.deadlines.resolution_due),
            };
        }
        after.sla_paused_at = None;
    }
    if step.to == State::Resolved {
        after.resolved_at = Some(now);
    }
    match event {
        Event::Accept { tracker, .. } => after.tracker = Some(tracker.as_str().to_string()),
        Event::Defer { until, .. } => after.revisit_on = Some(*until),
        _ => {}
    }
    if step.to != State::Deferred {
        after.revisit_on = None;
    }
    after
}

/// What the audit row keeps of a step's details.
fn payload(event: &Event) -> Value {
    match event {
        Event::Assign { to } => json!({"to": to}),
        Event::SetSeverity { to } => json!({"severity": to.as_str()}),
        Event::Escalate { to, emoji } => json!({"severity": to.as_str(), "emoji": emoji}),
        Event::AskInfo { question } => json!({"question": question.as_str()}),
        Event::AddInfo { answer } => json!({"answer": answer.as_str()}),
        Event::Accept { tracker, expectation } => {
            json!({"tracker": tracker.as_str(), "expectation": expectation.as_ref().map(|e| e.as_str())})
        }
        Event::Defer { until, reason } => json!({"until": until.to_string(), "reason": reason.as_str()}),
        Event::Reject { reason } => json!({"reason": reason.as_str()}),
        Event::Resolve { note } => json!({"note": note.as_str()}),
        _ => json!({}),
    }
}

#[allow(clippy::too_many_arguments)]
async fn enqueue_effects(
    txn: &DatabaseTransaction,
    state: &AppState,
    before: &Request,
    after: &Request,
    event: &Event,
    actor: &Actor,
    step: &Transition,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let settings = &state.settings;
    let key = |what: &str| format!("req:{}:v{}:{what}", after.number.0, after.version);
    let message = |what: &str, method: Method, payload: Value| OutboundMessage {
        request: Some(after.number),
        dedupe_key: key(what),
        method,
        payload,
        on_sent: None,
    };
    for effect in &step.effects {
        let out = match effect {
            Effect::RefreshCard => message(
                "card",
                Method::UpdateMessage,
                blocks::card_update(after, &settings.severities),
            ),
            Effect::ThreadNote => {
                let note = words::thread_note(event, actor, after, &settings.severities);
                message("thread", Method::PostMessage, blocks::thread_reply(&note, false))
            }
            Effect::TellSubmitter => {
                let office_hours = &settings.raw.triage.office_hours;
                message(
                    "submitter",
                    Method::PostMessage,
                    words::submitter_dm(event, actor, after, &settings.severities, office_hours),
                )
            }
            Effect::TellOwner => {
                // The new owner on assignment, otherwise the owner; never the
                // person who just acted (they know).
                let owner = after.owner.as_deref().or(before.owner.as_deref());
                match owner {
                    Some(owner) if actor.user() != Some(owner) => message(
                        "owner",
                        Method::PostMessage,
                        words::owner_dm(event, actor, after, owner, &settings.severities),
                    ),
                    _ => continue,
                }
            }
        };
        outbox::enqueue(txn, out, now).await?;
    }
    // Escalating into an on-call severity takes the off-ramp, as a critical
    // submission does.
    let was_oncall = settings
        .severities
        .get(before.severity.as_str())
        .is_some_and(|s| s.oncall);
    if let (Event::Escalate { .. }, Some(severity), false) =
        (event, settings.severities.get(after.severity.as_str()), was_oncall)
        && severity.oncall
    {
        outbox::enqueue(
            txn,
            crate::submission::render(Notice::OncallAlert, after, severity, settings),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Tells one person, in the channel they clicked in, why nothing happened.
pub async fn explain(state: &AppState, reply_to: &ReplyTo, text: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    let message = OutboundMessage {
        request: None,
        dedupe_key: format!("ephemeral:{}", reply_to.key),
        method: Method::PostEphemeral,
        payload: json!({"channel": reply_to.channel, "user": reply_to.user, "text": text}),
        on_sent: None,
    };
    outbox::enqueue(state.store.writer(), message, now).await?;
    state.outbox_wake.notify_one();
    Ok(())
}

/// Who counts as a triager: the configured ids, plus the members of the
/// configured user group (asked of Slack, cached for five minutes).
#[derive(Default)]
pub struct Triagers {
    cache: Mutex<Option<(Instant, HashSet<String>)>>,
}

const GROUP_CACHE: Duration = Duration::from_secs(300);
const FAILURE_CACHE: Duration = Duration::from_secs(60);

impl Triagers {
    pub async fn contains(&self, state: &AppState, user: &str) -> bool {
        if state.settings.triagers.iter().any(|t| t == user) {
            return true;
        }
        let Some(group) = &state.settings.triage_usergroup else {
            return false;
        };
        if let Ok(cache) = self.cache.lock()
            && let Some((at, members)) = cache.as_ref()
            && at.elapsed() < GROUP_CACHE
        {
            return members.contains(user);
        }
        match state.slack.usergroup_members(group).await {
            Ok(members) => {
                let members: HashSet<String> = members.into_iter().collect();
                let found = members.contains(user);
                if let Ok(mut cache) = self.cache.lock() {
                    *cache = Some((Instant::now(), members));
                }
                found
            }
            Err(e) => {
                warn!(error = %e, group, "could not read the triage user group; only configured triagers count for a minute");
                // Remember the failure briefly so every click does not wait on it.
                if let Ok(mut cache) = self.cache.lock() {
                    *cache = Some((Instant::now() - GROUP_CACHE + FAILURE_CACHE, HashSet::new()));
                }
                false
            }
        }
    }
}
