//! *Edit*: the submitter corrects a request filed for them (the file
//! emoji guesses type, severity and title) until triage starts. The form is
//! the filing form with the stored values; saving writes the corrections,
//! their audit row, the card's refresh and a line in its thread in one
//! transaction. A new severity runs its SLA from the filing time, and pages
//! on-call if it is one that does.

use chrono::{DateTime, Utc};
use tracing::{Span, info, warn};

use crate::context::Context;
use crate::domain::audit::{Details, Entry, EntryKind};
use crate::domain::request::{NewRequest, Request, RequestNumber};
use crate::domain::schedule;
use crate::domain::triage::Notice;
use crate::outbox::{DedupeKey, OutboundMessage, StepMessage};
use crate::slack::Reply;
use crate::slack::inbound::EditSubmission;
use crate::slack::render::{self, replies};
use crate::store::{StoreError, requests};

use super::explain::{ReplyTo, explained};

/// *Edit* clicked: the form with the request's values, if they may edit.
pub async fn clicked(ctx: &Context, number: RequestNumber, user: &str, reply_to: &ReplyTo, trigger_id: &str) -> Reply {
    let request = match requests::find(ctx.store.db(), number).await {
        Ok(Some(request)) => request,
        Ok(None) => return explained(ctx, reply_to, &replies::no_such_request(number)).await,
        Err(e) => return Reply::Unavailable(format!("could not read the request: {e}")),
    };
    if let Err(refused) = request.may_edit(user) {
        return explained(ctx, reply_to, &render::edit_refused(&request, refused)).await;
    }
    let settings = &ctx.settings;
    let view = render::edit_modal(&settings.policy.severities, &settings.teams, &request);
    match ctx.slack.open_view(trigger_id, view).await {
        Ok(()) => Reply::Ack,
        Err(e) => {
            warn!(error = %e, "views.open failed for Edit");
            explained(ctx, reply_to, &replies::step_form_not_opened()).await
        }
    }
}

/// The *Edit* form saved.
pub async fn submitted(ctx: &Context, submission: EditSubmission) -> Reply {
    let user = submission.user;
    Span::current().record("user", user.as_str());
    let Some(number) = submission.number else {
        return Reply::BadRequest("edit form without its request".into());
    };
    Span::current().record("request", number.0);
    let severities = &ctx.settings.policy.severities;
    let edit = match NewRequest::validate(&submission.form, &user, severities) {
        Ok(edit) => edit,
        Err(errors) => return Reply::Json(render::field_errors(&errors)),
    };
    let unshowable = render::too_long_to_show(&edit);
    if !unshowable.0.is_empty() {
        return Reply::Json(render::field_errors(&unshowable));
    }
    match save(ctx, number, &edit, &user, Utc::now()).await {
        Ok(Ok(())) => Reply::Ack,
        Ok(Err((block, refusal))) => Reply::Json(replies::field_error(block, refusal)),
        Err(e) => {
            tracing::error!(error = %e, "could not save an edit");
            Reply::Json(replies::field_error(
                "title",
                "Sorry, your changes could not be saved. Please try again.",
            ))
        }
    }
}

/// Writes the corrections, or says why not: the form's block and the
/// words the person reads.
async fn save(
    ctx: &Context,
    number: RequestNumber,
    edit: &NewRequest,
    user: &str,
    now: DateTime<Utc>,
) -> Result<Result<(), (&'static str, String)>, StoreError> {
    let settings = &ctx.settings;
    for _ in 0..3 {
        let Some(before) = requests::find(ctx.store.db(), number).await? else {
            return Ok(Err(("title", replies::no_such_request(number))));
        };
        if let Err(refused) = before.may_edit(user) {
            return Ok(Err(("title", render::edit_refused(&before, refused))));
        }
        // The area decides the team; another team's area is a move, which
        // is the triagers' to make (it re-posts the request elsewhere).
        let team = settings.team(&before.team);
        let wanted = settings.team_for_area(edit.area.as_deref());
        if edit.area != before.area && wanted.key != team.key {
            return Ok(Err((
                "area",
                render::edit_elsewhere(edit.area.as_deref().unwrap_or_default(), wanted, team),
            )));
        }
        let policy = settings.policy_of(&team.key);
        let Some(severity) = policy.severities.get(edit.severity.as_str()) else {
            return Ok(Err(("severity", replies::pick_severity())));
        };
        let mut after = before.edited(edit, severity, &policy.calendar);
        if after == before {
            return Ok(Ok(()));
        }
        after.version = before.version + 1;
        let entry = Entry {
            at: now,
            actor: user.to_string(),
            kind: EntryKind::Edited,
            from: Some(before.state),
            to: after.state,
            details: Details {
                severity: (after.severity != before.severity).then(|| after.severity.as_str().to_string()),
                ..Details::default()
            },
        };
        let next_reminder = schedule::next_reminder(after.state, severity, &after.deadlines, policy, now);
        let txn = ctx.store.write().await?;
        if !requests::apply_edit(&txn, &before, &after, &entry, next_reminder, now).await? {
            txn.rollback().await?;
            continue;
        }
        for message in messages(ctx, &before, &after, severity, user) {
            crate::store::outbox::enqueue(&txn, message, now).await?;
        }
        super::home::refresh_involved(&txn, Some(&before), &after, now).await?;
        txn.commit().await?;
        ctx.outbox.wake();
        info!(
            request = number.0,
            severity = after.severity.as_str(),
            "request edited by its submitter"
        );
        return Ok(Ok(()));
    }
    Ok(Err(("title", replies::busy(number))))
}

/// The card refreshed, a line in its thread, and on-call paged when the
/// new severity pages and the old one did not.
fn messages(
    ctx: &Context,
    before: &Request,
    after: &Request,
    severity: &crate::domain::severity::Severity,
    user: &str,
) -> Vec<OutboundMessage> {
    let settings = &ctx.settings;
    let severities = &settings.team(&after.team).severities;
    let key = |message| DedupeKey::step(after.number, after.version, message);
    let mut messages = vec![
        OutboundMessage::card_update(
            after.number,
            key(StepMessage::Card),
            render::card_update(after, &ctx.settings.teams),
        ),
        OutboundMessage::post(
            Some(after.number),
            key(StepMessage::Thread),
            render::thread_reply(&render::edited_note(before, after, user, severities), false),
        ),
    ];
    let paged_before = severities.get(before.severity.as_str()).is_some_and(|s| s.oncall);
    if severity.oncall && !paged_before {
        messages.push(super::file_request::notice_message(
            Notice::OncallAlert,
            after,
            severity,
            settings,
        ));
    }
    messages
}
