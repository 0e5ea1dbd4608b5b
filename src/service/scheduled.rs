//! The scheduled jobs, run at an instant: SLA reminders and breach
//! notices, follow-ups, auto-close and revisits, the daily digest. Each
//! asks the store what is due through an index and writes its messages to
//! the outbox under a deterministic key (`sla:42:resolution:900`,
//! `followup:42:…`, `digest:2026-11-24`), so restarts, overlapping ticks,
//! `run-jobs` beside `serve` and several replicas never send anything
//! twice. `dry_run` computes and reports without writing; `at` is always
//! an argument (`workers::scheduler` passes now, `intake run-jobs --at`
//! and the tests any instant).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tracing::info;

use super::triage_step::{StepOutcome, run_step};
use crate::context::Context;
use crate::domain::reminders::{self, BREACH, SlaKind};
use crate::domain::request::Request;
use crate::domain::schedule;
use crate::domain::sla::ClockKind;
use crate::domain::triage::{Actor, Event};
use crate::outbox::{DedupeKey, OutboundMessage};
use crate::slack::render::{self, schedule as words};
use crate::store::{StoreError, digest, due, outbox};

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
pub async fn run_due(ctx: &Context, at: DateTime<Utc>, dry_run: bool) -> Result<JobReport, StoreError> {
    let mut report = JobReport::default();
    sla_reminders(ctx, at, dry_run, &mut report).await?;
    followups(ctx, at, dry_run, &mut report).await?;
    scheduled_steps(ctx, at, dry_run, &mut report).await?;
    daily_digest(ctx, at, dry_run, &mut report).await?;
    if !dry_run {
        // Slack retries within minutes; a week of event ids is plenty.
        crate::store::events::forget_before(ctx.store.writer(), at - chrono::TimeDelta::days(7)).await?;
        let retention = ctx.settings.outbox.retention;
        outbox::forget_sent_before(ctx.store.writer(), at - retention, 10_000).await?;
    }
    if !dry_run && !report.lines.is_empty() {
        ctx.outbox.wake();
        info!(count = report.lines.len(), at = %at, "scheduler run");
    }
    Ok(report)
}

fn post(request: &Request, key: DedupeKey, payload: serde_json::Value) -> OutboundMessage {
    OutboundMessage::post(Some(request.number), key, payload)
}

async fn sla_reminders(
    ctx: &Context,
    at: DateTime<Utc>,
    dry_run: bool,
    report: &mut JobReport,
) -> Result<(), StoreError> {
    let db = ctx.store.db();
    for request in due::reminders(db, at, BATCH).await? {
        // Each request runs its team's SLA table.
        let policy = ctx.settings.policy_of(&request.team);
        let (thresholds, calendar) = (&policy.thresholds, &policy.calendar);
        let stage = request.reminder_stage;
        let severity = policy.severity(&request.severity);
        let kind = reminders::running_sla(request.state);
        let (Some(severity), Some(kind)) = (severity, kind) else {
            if !dry_run {
                due::set_reminded(ctx.store.writer(), &request, stage, None).await?;
            }
            continue;
        };
        let due_at = schedule::due(kind, &request.deadlines);
        let span = reminders::span(kind, severity, calendar);
        let urgent = reminders::most_urgent(due_at, span, thresholds, at, severity, calendar);
        let next = reminders::next_threshold(due_at, span, thresholds, at, severity, calendar);
        let messages = match urgent {
            Some(threshold) if threshold as i32 > stage => {
                reminder_messages(ctx, &request, severity.clock, kind, threshold, at)
            }
            _ => Vec::new(),
        };
        messages.iter().for_each(|m| report.message(m));
        if dry_run {
            continue;
        }
        let txn = ctx.store.write().await?;
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
    ctx: &Context,
    request: &Request,
    clock: ClockKind,
    kind: SlaKind,
    threshold: u32,
    at: DateTime<Utc>,
) -> Vec<OutboundMessage> {
    let settings = &ctx.settings;
    let key = DedupeKey::reminder(request.number, kind, threshold, request.sla_cycle);
    let due_at = schedule::due(kind, &request.deadlines);
    let text = words::reminder(request, kind, threshold, due_at, at, clock, &settings.policy.calendar);
    if threshold < BREACH {
        let payload = match &request.owner {
            Some(owner) => words::reminder_post(owner, &text, request, &settings.teams),
            // Nobody owns it: the whole channel sees the reminder.
            None => render::thread_reply(&text, true),
        };
        return vec![post(request, key, payload)];
    }
    let mut messages = vec![post(request, key, render::thread_reply(&text, true))];
    if let Some(channel) = &settings.escalation_channel {
        messages.push(post(
            request,
            DedupeKey::breach_escalation(request.number, kind, threshold, request.sla_cycle),
            words::reminder_post(channel.as_str(), &text, request, &settings.teams),
        ));
    }
    messages
}

async fn followups(ctx: &Context, at: DateTime<Utc>, dry_run: bool, report: &mut JobReport) -> Result<(), StoreError> {
    let db = ctx.store.db();
    for request in due::followups(db, at, BATCH).await? {
        let resolved_at = request.resolved_at.unwrap_or(at);
        let (_, closes_at) = schedule::after_resolution(resolved_at, &ctx.settings.policy);
        let message = post(
            &request,
            DedupeKey::followup(request.number, request.resolved_at),
            words::followup(&request, closes_at.max(at)),
        );
        report.message(&message);
        if dry_run {
            continue;
        }
        let txn = ctx.store.write().await?;
        outbox::enqueue(&txn, message, at).await?;
        due::clear_followup(&txn, request.number).await?;
        txn.commit().await?;
    }
    Ok(())
}

/// State changes the scheduler makes: auto-close and revisits, through the
/// same state machine and transaction as a person's click.
async fn scheduled_steps(
    ctx: &Context,
    at: DateTime<Utc>,
    dry_run: bool,
    report: &mut JobReport,
) -> Result<(), StoreError> {
    let db = ctx.store.db();
    let today = ctx.settings.today(at);
    let closes = due::auto_closes(db, at, BATCH)
        .await?
        .into_iter()
        .map(|r| (r, Event::AutoClose));
    let revisits = match schedule::revisits_run_at(at, &ctx.settings.policy) {
        true => due::revisits(db, today, BATCH).await?,
        false => Vec::new(),
    };
    let revisits = revisits.into_iter().map(|r| (r, Event::Revisit));
    for (request, event) in closes.chain(revisits).collect::<Vec<_>>() {
        if dry_run {
            report.lines.push(format!(
                "{} {} would {}",
                request.number,
                request.title.as_str(),
                event.name().replace('_', " ")
            ));
            continue;
        }
        match run_step(ctx, request.number, &event, &Actor::Scheduler, at).await? {
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

/// The digest of the latest scheduled occurrence, once. A day with nothing
/// to report is skipped (and recorded as done) unless
/// `digest.post_when_empty` is set.
async fn daily_digest(
    ctx: &Context,
    at: DateTime<Utc>,
    dry_run: bool,
    report: &mut JobReport,
) -> Result<(), StoreError> {
    let tz = ctx.settings.policy.calendar.tz();
    let Some((since, occurrence)) = digest_window(&ctx.settings.digest_schedule, tz, at) else {
        return Ok(());
    };
    let key = DedupeKey::digest(occurrence.with_timezone(&tz).date_naive());
    if outbox::exists(ctx.store.db(), &key).await? {
        return Ok(());
    }
    for Digest { empty, message } in digests(ctx, key.clone(), since, at).await? {
        if empty && !ctx.settings.digest_post_when_empty {
            // Nothing to report: the day is recorded as done, so nothing is
            // posted for it later (a request filed at noon waits for tomorrow).
            report.lines.push(match message.dedupe_key == key {
                true => "digest skipped: nothing to report".to_string(),
                false => format!("digest skipped: nothing to report ({})", message.dedupe_key),
            });
            if !dry_run {
                outbox::skip(ctx.store.writer(), message, at).await?;
            }
            continue;
        }
        report.message(&message);
        if !dry_run {
            outbox::enqueue(ctx.store.writer(), message, at).await?;
        }
    }
    Ok(())
}

/// One digest to post, and whether it has nothing to report.
pub struct Digest {
    pub empty: bool,
    pub message: OutboundMessage,
}

/// The digest for `since..at` to the digest channel (the global one, with
/// several teams; what `key` names).
pub async fn digest_message(
    ctx: &Context,
    key: DedupeKey,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<OutboundMessage, StoreError> {
    let mut all = digests(ctx, key, since, at).await?;
    Ok(all.pop().expect("the digest channel's digest comes last").message)
}

/// The digests for `since..at`. One team: its digest, to `channels.digest`.
/// Several: each team's to its `digest_channel` (a team without one has
/// none), then one line per team to `channels.digest` (last, under `key`:
/// the day's digests are done once it is queued).
pub async fn digests(
    ctx: &Context,
    key: DedupeKey,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<Vec<Digest>, StoreError> {
    let settings = &ctx.settings;
    let db = ctx.store.db();
    let teams = settings.teams.all();
    let single = teams.len() == 1;
    let mut digests = Vec::new();
    let mut lines = Vec::new();
    for team in teams {
        let keys = [team.key.clone()];
        // One team: its digest is the digest, of every request, to
        // `channels.digest` under `key`.
        let (scope, title, channel, team_key) = match single {
            true => (
                digest::Scope::Every,
                "Product intake digest".to_string(),
                Some(settings.digest_channel.as_str()),
                key.clone(),
            ),
            false => (
                digest::Scope::Teams(&keys),
                format!("{} intake digest", team.name),
                team.digest_channel.as_deref(),
                key.of_team(&team.key),
            ),
        };
        let summary = digest::gather(db, scope, since, at).await?;
        if let Some(channel) = channel {
            let payload = words::digest(&summary, &team.severities, &title, channel, since, at);
            digests.push(Digest {
                empty: summary.is_empty(),
                message: OutboundMessage::post(None, team_key, payload),
            });
        }
        lines.push((team, summary));
    }
    if !single {
        let payload = words::teams_digest(&lines, settings.digest_channel.as_str(), since, at);
        digests.push(Digest {
            empty: lines.iter().all(|(_, summary)| summary.is_empty()),
            message: OutboundMessage::post(None, key, payload),
        });
    }
    Ok(digests)
}

/// `intake digest`: the digests since the last scheduled one, now.
pub async fn manual_digest(ctx: &Context, now: DateTime<Utc>) -> Result<Vec<OutboundMessage>, StoreError> {
    let tz = ctx.settings.policy.calendar.tz();
    let since = digest_window(&ctx.settings.digest_schedule, tz, now)
        .map_or(now - chrono::TimeDelta::days(1), |(_, latest)| latest);
    let digests = digests(ctx, DedupeKey::manual_digest(now), since, now).await?;
    Ok(digests.into_iter().map(|d| d.message).collect())
}
