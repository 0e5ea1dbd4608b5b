//! Running a triage step: read the request, ask the state machine, and
//! write the request it decided, its audit row and every message it causes
//! in one transaction. A step refused by the machine is explained to the
//! person (ephemeral) and changes nothing. Clicks, step modals, emoji and
//! the scheduler all come through [`run_step`].

use chrono::{DateTime, Utc};
use tracing::{Span, info};

use crate::context::Context;
use crate::domain::audit::{Details, Entry, EntryKind};
use crate::domain::request::{PostKind, Request, RequestNumber};
use crate::domain::schedule;
use crate::domain::text::Tracker;
use crate::domain::triage::{Actor, Effect, Event, Notice, Step, transition};
use crate::outbox::{DedupeKey, OutboundMessage, StepMessage};
use crate::slack::Reply;
use crate::slack::action::Action;
use crate::slack::inbound::{Click, StepSubmission};
use crate::slack::render::{self, replies, triage as words};
use crate::store::StoreError;
use crate::store::requests::{self, Change};

use super::explain::{ReplyTo, explained};

#[derive(Debug)]
pub enum StepOutcome {
    Done(Box<Request>),
    /// Refused, with the words the person reads.
    Refused(String),
    NoSuchRequest,
}

/// How many times a step is re-read and re-run when another change won the race.
const ATTEMPTS: usize = 3;

/// The person acting, with the teams they triage.
pub async fn actor(ctx: &Context, user: &str) -> Actor {
    Actor::person(user, ctx.triagers.teams_of(user).await)
}

/// Runs `event` by `actor` on request `number`.
pub async fn run_step(
    ctx: &Context,
    number: RequestNumber,
    event: &Event,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<StepOutcome, StoreError> {
    run_step_taking(ctx, number, event, actor, now, &[]).await
}

/// [`run_step`], also taking the outbox keys `taken` in the step's
/// transaction: messages the step makes unnecessary (a relayed reply that
/// the step itself shows) are then never sent, whoever tries later.
pub async fn run_step_taking(
    ctx: &Context,
    number: RequestNumber,
    event: &Event,
    actor: &Actor,
    now: DateTime<Utc>,
    taken: &[DedupeKey],
) -> Result<StepOutcome, StoreError> {
    for _ in 0..ATTEMPTS {
        let Some(before) = requests::find(ctx.store.db(), number).await? else {
            return Ok(StepOutcome::NoSuchRequest);
        };
        let policy = ctx.settings.policy_of(&before.team);
        let step = match transition(&before, event, actor, policy, now) {
            Ok(step) => step,
            Err(error) => {
                return Ok(StepOutcome::Refused(words::refusal(
                    &before,
                    &error,
                    ctx.settings.team(&before.team),
                )));
            }
        };
        let after = &step.after;
        let txn = ctx.store.write().await?;
        let change = Change {
            before: &before,
            after,
            entry: Entry {
                at: now,
                actor: actor.audit_name(),
                kind: EntryKind::Step(event.kind()),
                from: Some(before.state),
                to: after.state,
                details: Details::from(event),
            },
            // A move puts it under its new team's policy.
            schedule: schedule::schedule_for(after, ctx.settings.policy_of(&after.team), now),
        };
        if !requests::apply_change(&txn, change, now).await? {
            // Someone changed it between our read and write: re-read and
            // let the machine judge the step again (the second "Take" loses).
            txn.rollback().await?;
            continue;
        }
        let written = async {
            for message in effect_messages(ctx, &before, event, actor, &step) {
                crate::store::outbox::enqueue(&txn, message, now).await?;
            }
            super::home::refresh_involved(&txn, Some(&before), after, now).await?;
            for key in taken {
                let unnecessary = OutboundMessage::post(Some(number), key.clone(), serde_json::Value::Null);
                crate::store::outbox::skip(&txn, unnecessary, now).await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        match written {
            Ok(()) => txn.commit().await?,
            // PostgreSQL broke a lock cycle with another writer (a card
            // refresh or a Home refresh of the same people): nothing was
            // written; run the step again.
            Err(e) if e.to_string().contains("deadlock detected") => {
                tracing::warn!(
                    request = number.0,
                    "a triage step was chosen to break a deadlock; running it again"
                );
                let _ = txn.rollback().await;
                continue;
            }
            Err(e) => return Err(e),
        }
        ctx.outbox.wake();
        info!(request = number.0, event = event.name(), from = %step.from, to = %step.to(), "triage step");
        metrics::counter!("intake_triage_steps_total", "event" => event.name()).increment(1);
        return Ok(StepOutcome::Done(Box::new(step.after)));
    }
    Ok(StepOutcome::Refused(replies::busy(number)))
}

/// The messages a step's effects cause, rendered now.
fn effect_messages(ctx: &Context, before: &Request, event: &Event, actor: &Actor, step: &Step) -> Vec<OutboundMessage> {
    let settings = &ctx.settings;
    let after = &step.after;
    // The team it is with now (a move's new team).
    let team = settings.team(&after.team);
    let severities = &team.severities;
    let key = |message| DedupeKey::step(after.number, after.version, message);
    let post = |message, payload| OutboundMessage::post(Some(after.number), key(message), payload);
    let mut messages = Vec::new();
    for effect in &step.effects {
        let message = match effect {
            Effect::RefreshCard => OutboundMessage::card_update(
                after.number,
                key(StepMessage::Card),
                render::card_update(after, &settings.teams),
            ),
            Effect::ThreadNote => {
                let note = words::thread_note(event, actor, after, severities);
                post(StepMessage::Thread, render::thread_reply(&note, false))
            }
            Effect::TellSubmitter => post(StepMessage::Submitter, words::submitter_dm(event, actor, after, team)),
            Effect::TellOwner => {
                // The new owner on assignment, otherwise the owner; never the
                // person who just acted (they know).
                match after.owner.as_deref().or(before.owner.as_deref()) {
                    Some(owner) if actor.user() != Some(owner) => post(
                        StepMessage::Owner,
                        words::owner_dm(event, actor, after, owner, severities),
                    ),
                    _ => continue,
                }
            }
            Effect::TellPreviousOwner => match before.owner.as_deref() {
                Some(previous) if after.owner.as_deref() != Some(previous) && actor.user() != Some(previous) => post(
                    StepMessage::PreviousOwner,
                    words::previous_owner_dm(actor, after, previous),
                ),
                _ => continue,
            },
            Effect::MoveCard => {
                // The old card first (per-request order sends it before the
                // new post records the new address), addressed to itself.
                if let (Some(old), Some(by)) = (&before.intake_message, actor.user()) {
                    messages.push(OutboundMessage::card_update(
                        after.number,
                        key(StepMessage::MovedFrom),
                        render::moved_card(after, team, by, (&old.channel, &old.ts)),
                    ));
                }
                post(StepMessage::MovedTo, render::intake_post(after, &settings.teams)).recording(PostKind::Intake)
            }
            Effect::PageOncall => match severities.get(after.severity.as_str()) {
                Some(severity) => super::file_request::notice_message(Notice::OncallAlert, after, severity, settings),
                None => continue,
            },
        };
        messages.push(message);
    }
    messages
}

/// A click on a triage control: a step now, or its form first.
pub async fn clicked(ctx: &Context, click: Click) -> Reply {
    let user = click.user.clone();
    Span::current().record("user", user.as_str());
    let reply_to = ReplyTo {
        channel: click.channel.clone().unwrap_or_else(|| user.clone()),
        user: user.clone(),
        key: DedupeKey::explanation(&click.trigger_id),
    };
    let action = match click.action {
        Ok(action) => action,
        Err(unknown) => return explained(ctx, &reply_to, &replies::unknown_control(&unknown)).await,
    };
    let Some(number) = click.number else {
        return Reply::BadRequest(format!("action {:?} carries no request number", action.id()));
    };
    Span::current().record("request", number.0);
    // Not a triage step: the card posted again.
    if action == Action::Repost {
        return super::repost::clicked(ctx, number, &user, &reply_to).await;
    }
    // Not a triage step: the filing form again, for the submitter.
    if action == Action::Edit {
        return super::edit::clicked(ctx, number, &user, &reply_to, &click.trigger_id).await;
    }
    let actor = actor(ctx, &user).await;
    if let Some(form) = action.form() {
        return super::open_form::step_form(ctx, number, form, &actor, &reply_to, &click.trigger_id).await;
    }
    let event = match click_event(ctx, action, &click) {
        Ok(event) => event,
        Err(message) => return explained(ctx, &reply_to, &message).await,
    };
    match run_step(ctx, number, &event, &actor, Utc::now()).await {
        Ok(StepOutcome::Done(_)) => {
            // The queue it was clicked in changed too.
            if click.from_home
                && let Err(e) = super::home::refresh_now(ctx, &[user.as_str()]).await
            {
                tracing::warn!(error = %e, "could not queue the clicker's App Home refresh");
            }
            Reply::Ack
        }
        Ok(StepOutcome::Refused(message)) => {
            if matches!(action, Action::Assign | Action::SetSeverity | Action::MoveTeam)
                && let Err(e) = restore_card(ctx, number, &click.trigger_id).await
            {
                return Reply::Unavailable(format!("could not restore the card: {e}"));
            }
            explained(ctx, &reply_to, &message).await
        }
        Ok(StepOutcome::NoSuchRequest) => explained(ctx, &reply_to, &replies::no_such_request(number)).await,
        Err(e) => Reply::Unavailable(format!("could not record the step: {e}")),
    }
}

/// A select on the card already shows the refused pick: render the card
/// again as stored, so it shows the truth.
async fn restore_card(ctx: &Context, number: RequestNumber, trigger_id: &str) -> Result<(), StoreError> {
    let Some(request) = requests::find(ctx.store.db(), number).await? else {
        return Ok(());
    };
    let refresh = OutboundMessage::card_update(
        number,
        DedupeKey::card_restore(number, trigger_id),
        render::card_update(&request, &ctx.settings.teams),
    );
    crate::store::outbox::enqueue(ctx.store.writer(), refresh, Utc::now()).await?;
    ctx.outbox.wake();
    Ok(())
}

/// The event a click on a control without a form means.
fn click_event(ctx: &Context, action: Action, click: &Click) -> Result<Event, String> {
    Ok(match action {
        Action::Take => Event::Take,
        Action::Resume => Event::Resume,
        Action::Confirm => Event::Confirm,
        Action::Reopen => Event::Reopen,
        Action::Assign => Event::Assign {
            to: click.selected_user.clone().ok_or_else(replies::pick_assignee)?,
        },
        Action::MoveTeam => {
            let key = click.selected_option.as_deref().unwrap_or_default();
            let team = ctx.settings.teams.get(key).ok_or_else(replies::pick_team)?;
            Event::MoveTeam {
                to: team.key.clone(),
                table: team.severities.clone(),
            }
        }
        Action::SetSeverity => {
            let key = click.selected_option.as_deref().unwrap_or_default();
            let severity = ctx
                .settings
                .policy
                .severities
                .get(key)
                .ok_or_else(replies::pick_severity)?;
            Event::SetSeverity {
                to: severity.key.clone(),
            }
        }
        // Controls with a form open it first, and Post again is no step;
        // neither is ever a click's event.
        Action::AskInfo
        | Action::Accept
        | Action::Defer
        | Action::Reject
        | Action::Resolve
        | Action::AddInfo
        | Action::Repost
        | Action::Edit => {
            return Err(replies::unknown_control(action.id()));
        }
    })
}

/// A step's modal was submitted.
pub async fn step_submitted(ctx: &Context, submission: StepSubmission) -> Reply {
    let user = submission.user.clone();
    Span::current().record("user", user.as_str());
    let Some(metadata) = submission.metadata.clone() else {
        return Reply::BadRequest("step form without its request".into());
    };
    Span::current().record("request", metadata.request);
    let (event, first_block) = match submission.event(ctx.settings.today(Utc::now())) {
        Ok(parsed) => parsed,
        Err((block, e)) => return Reply::Json(replies::field_error(block, e.0)),
    };
    // A typed key is kept as a link when Jira says where keys open.
    let event = match event {
        Event::Accept {
            tracker: Tracker::Key(key),
            expectation,
        } => {
            let tracker = match ctx.settings.trackers.as_ref().and_then(|t| t.issue_url(&key)) {
                Some(url) => Tracker::Url(url),
                None => Tracker::Key(key),
            };
            Event::Accept { tracker, expectation }
        }
        other => other,
    };
    if let Event::Accept { tracker, .. } = &event
        && let Err(too_long) = render::tracker_fits(tracker)
    {
        return Reply::Json(replies::field_error(first_block, too_long));
    }
    let actor = actor(ctx, &user).await;
    let number = RequestNumber(metadata.request);
    match run_step(ctx, number, &event, &actor, Utc::now()).await {
        Ok(StepOutcome::Done(_)) => Reply::Ack,
        Ok(StepOutcome::Refused(message)) => Reply::Json(replies::field_error(first_block, message)),
        Ok(StepOutcome::NoSuchRequest) => {
            Reply::Json(replies::field_error(first_block, replies::no_such_request(number)))
        }
        Err(e) => {
            tracing::error!(error = %e, "could not record a triage step");
            Reply::Json(replies::step_not_saved(first_block))
        }
    }
}
