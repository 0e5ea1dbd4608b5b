//! One scheduler run at an instant: every job that is due, each message
//! under its dedupe key. `dry_run` computes and reports without writing.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};
use tracing::info;

use super::{digest, plan};
use crate::app::AppState;
use crate::domain::reminders::{self, BREACH, SlaKind};
use crate::domain::request::Request;
use crate::domain::sla::ClockKind;
use crate::domain::triage::{Actor, Event};
use crate::outbox::{self, Method, OutboundMessage};
use crate::slack::blocks::{self, schedule as words};
use crate::store::{StoreError, due};
use crate::triage_flow::{self, StepOutcome};

/// Rows one sweep takes per job; a backlog is worked off over ticks.
const BATCH: u64 = 500;

/// What a run did (or, dry, would do): one line per message or step.
#[derive(Debug, Default)]
pub struct JobReport {
    pub lines: Vec<String>,
}

impl JobReport {
    fn message(&mut self, message: &OutboundMessage) {
        let channel = message.payload["channel"].as_str().unwrap_or("?");
        let text = message.payload["text"].as_str().unwrap_or_default();
        self.lines.push(format!(
            "{} → {channel} [{}]: {text}",
            message.method.as_str(),
            message.dedupe_key
        ));
    }
}

/// Runs every job due at `at`.
pub async fn run_due(state: &AppState, at: DateTime<Utc>, dry_run: bool) -> Result<JobReport, StoreError> {
    let mut report = JobReport::default();
    sla_reminders(state, at, dry_run, &mut report).await?;
    followups(state, at, dry_run, &mut report).await?;
    scheduled_steps(state, at, dry_run, &mut report).await?;
    daily_digest(state, at, dry_run, &mut report).await?;
    if !dry_run {
        // Slack retries within minutes; a week of event ids is plenty.
        crate::store::events::forget_before(state.store.writer(), at - chrono::TimeDelta::days(7)).await?;
    }
    if !dry_run && !report.lines.is_empty() {
        state.outbox_wake.notify_one();
        info!(count = report.lines.len(), at = %at, "scheduler run");
    }
    Ok(report)
}

fn post(request: &Request, key: String, payload: Value) -> OutboundMessage {
    OutboundMessage {
        request: Some(request.number),
        dedupe_key: key,
        method: Method::PostMessage,
        payload,
        on_sent: None,
    }
}

async fn sla_reminders(
    state: &AppState,
    at: DateTime<Utc>,
    dry_run: bool,
    report: &mut JobReport,
) -> Result<(), StoreError> {
    let settings = &state.settings;
    let thresholds = reminders::thresholds(&settings.raw.reminders.fractions);
    let db = state.store.db();
    for (request, stage) in due::reminders(db, at, BATCH).await? {
        let severity = settings.severities.get(request.severity.as_str());
        let kind = reminders::running_sla(request.state);
        let (Some(severity), Some(kind)) = (severity, kind) else {
            if !dry_run {
                due::set_reminded(state.store.writer(), &request, stage, None).await?;
            }
            continue;
        };
        let due_at = plan::due(kind, &request.deadlines);
        let span = reminders::span(kind, severity, &settings.calendar);
        let urgent = reminders::most_urgent(due_at, span, &thresholds, at, severity, &settings.calendar);
        let next = reminders::next_threshold(due_at, span, &thresholds, at, severity, &settings.calendar);
        let messages = match urgent {
            Some(threshold) if threshold as i32 > stage => {
                reminder_messages(state, &request, severity.clock, kind, threshold, at)
            }
            _ => Vec::new(),
        };
        messages.iter().for_each(|m| report.message(m));
        if dry_run {
            continue;
        }
        let txn = state.store.write().await?;
        for message in messages {
            outbox::enqueue(&txn, message, at).await?;
        }
        let stage = urgent.map_or(stage, |t| stage.max(t as i32));
        if due::set_reminded(&txn, &request, stage, next).await? {
            txn.commit().await?;
        } else {
            // Changed since we read it; the step that changed it rescheduled it.
            txn.rollback().await?;
        }
    }
    Ok(())
}

fn reminder_messages(
    state: &AppState,
    request: &Request,
    clock: ClockKind,
    kind: SlaKind,
    threshold: u32,
    at: DateTime<Utc>,
) -> Vec<OutboundMessage> {
    let settings = &state.settings;
    let key = format!("sla:{}:{}:{threshold}", request.number.0, kind.as_str());
    let due_at = plan::due(kind, &request.deadlines);
    let text = words::reminder(request, kind, threshold, due_at, at, clock, &settings.calendar);
    if threshold < BREACH {
        let payload = match &request.owner {
            Some(owner) => json!({"channel": owner, "text": text, "unfurl_links": false}),
            None => blocks::thread_reply(&text, false),
        };
        return vec![post(request, key, payload)];
    }
    let mut messages = vec![post(request, key.clone(), blocks::thread_reply(&text, true))];
    if let Some(channel) = &settings.escalation_channel {
        messages.push(post(
            request,
            format!("{key}:escalation"),
            json!({"channel": channel.as_str(), "text": text, "unfurl_links": false}),
        ));
    }
    messages
}

async fn followups(
    state: &AppState,
    at: DateTime<Utc>,
    dry_run: bool,
    report: &mut JobReport,
) -> Result<(), StoreError> {
    let db = state.store.db();
    for request in due::followups(db, at, BATCH).await? {
        let resolved = request.resolved_at.map_or(0, |r| r.timestamp());
        let message = post(
            &request,
            format!("followup:{}:{resolved}", request.number.0),
            words::followup(&request),
        );
        report.message(&message);
        if dry_run {
            continue;
        }
        let txn = state.store.write().await?;
        outbox::enqueue(&txn, message, at).await?;
        due::clear_followup(&txn, request.number).await?;
        txn.commit().await?;
    }
    Ok(())
}

/// State changes the scheduler makes: auto-close and revisits, through the
/// same state machine and transaction as a person's click.
async fn scheduled_steps(
    state: &AppState,
    at: DateTime<Utc>,
    dry_run: bool,
    report: &mut JobReport,
) -> Result<(), StoreError> {
    let db = state.store.db();
    let today = at.with_timezone(&state.settings.calendar.tz()).date_naive();
    let closes = due::auto_closes(db, at, BATCH)
        .await?
        .into_iter()
        .map(|r| (r, Event::AutoClose));
    let revisits = due::revisits(db, today, BATCH)
        .await?
        .into_iter()
        .map(|r| (r, Event::Revisit));
    for (request, event) in closes.chain(revisits).collect::<Vec<_>>() {
        if dry_run {
            report
                .lines
                .push(format!("{} {} would {}", request.number, request.title, event.label()));
            continue;
        }
        match triage_flow::run_step(state, request.number, &event, &Actor::Scheduler, at).await? {
            StepOutcome::Done(after) => report
                .lines
                .push(format!("{} is now {}", after.number, after.state.label())),
            StepOutcome::Refused(why) => info!(request = request.number.0, why, "scheduled step no longer applies"),
            StepOutcome::NoSuchRequest => {}
        }
    }
    Ok(())
}

/// The most recent scheduled instant at or before `at` (looking back up to
/// eight days), and the one before it: a scheduler that was down for a week
/// posts one digest, for the latest occurrence.
pub fn digest_window(schedule: &cron::Schedule, tz: Tz, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = (at - chrono::TimeDelta::days(8)).with_timezone(&tz);
    let occurrences: Vec<DateTime<Utc>> = schedule
        .after(&start)
        .map(|t| t.with_timezone(&Utc))
        .take_while(|t| *t <= at)
        .collect();
    let latest = *occurrences.last()?;
    let previous = occurrences
        .len()
        .checked_sub(2)
        .map_or(latest - chrono::TimeDelta::days(1), |i| occurrences[i]);
    Some((previous, latest))
}

async fn daily_digest(
    state: &AppState,
    at: DateTime<Utc>,
    dry_run: bool,
    report: &mut JobReport,
) -> Result<(), StoreError> {
    let tz = state.settings.calendar.tz();
    let Some((since, occurrence)) = digest_window(&state.settings.digest_schedule, tz, at) else {
        return Ok(());
    };
    let key = format!("digest:{}", occurrence.with_timezone(&tz).date_naive());
    if outbox::exists(state.store.db(), &key).await? {
        return Ok(());
    }
    let message = digest_message(state, key, since, at).await?;
    report.message(&message);
    if !dry_run {
        outbox::enqueue(state.store.writer(), message, at).await?;
    }
    Ok(())
}

/// The digest for `since..at`, addressed to the digest channel.
pub async fn digest_message(
    state: &AppState,
    key: String,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<OutboundMessage, StoreError> {
    let summary = digest::gather(state.store.db(), since, at).await?;
    let mut payload = words::digest(&summary, &state.settings.severities, since, at);
    payload["channel"] = json!(state.settings.digest_channel.as_str());
    Ok(OutboundMessage {
        request: None,
        dedupe_key: key,
        method: Method::PostMessage,
        payload,
        on_sent: None,
    })
}
