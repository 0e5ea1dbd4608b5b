//! Accept with the tracker field left empty, when a tracker is configured:
//! the issue is created in Jira or GitHub, then the request is accepted
//! with a link to it. The creation goes through the outbox (a
//! [`Method::CreateIssue`](crate::outbox::Method) row, sent in the
//! request's order), so it survives restarts and tracker outages; a create
//! whose answer was lost is looked for by its `intake-N` label before it is
//! tried again, so the issue is created once. A tracker that refuses
//! leaves the request as it was and tells the person who clicked Accept,
//! with the tracker's words (`undeliverable`).

use chrono::Utc;
use tracing::{info, warn};

use crate::config::tracker::TrackerKind;
use crate::context::Context;
use crate::domain::request::RequestNumber;
use crate::domain::text::{Text, Tracker};
use crate::domain::triage::{Event, transition};
use crate::outbox::{DedupeKey, IssueOrder, OutboundMessage};
use crate::slack::Reply;
use crate::slack::action::StepForm;
use crate::slack::api::CallError;
use crate::slack::inbound::StepSubmission;
use crate::slack::render::{self, replies};
use crate::store::outbox::OutboxRow;
use crate::store::requests;
use crate::tracker::NewIssue;

use super::explain::{ReplyTo, explain};
use super::triage_step::{StepOutcome, actor, run_step};

/// A step's modal was saved: Accept with the tracker left empty (and a
/// tracker configured) orders the issue; everything else is a plain step.
pub async fn step_submitted(ctx: &Context, submission: StepSubmission) -> Reply {
    let creating = ctx
        .tracker
        .is_some()
        .then(|| submission.accept_creating_issue())
        .flatten();
    let (Some(creating), Some(metadata)) = (creating, submission.metadata.clone()) else {
        return super::triage_step::step_submitted(ctx, submission).await;
    };
    tracing::Span::current().record("user", submission.user.as_str());
    tracing::Span::current().record("request", metadata.request);
    match creating {
        Ok(expectation) => {
            let number = RequestNumber(metadata.request);
            ordered(ctx, number, &submission.user, expectation, &metadata.channel).await
        }
        Err((block, e)) => Reply::Json(replies::field_error(block, e.0)),
    }
}

/// The Accept form was saved with no tracker: order the issue.
async fn ordered(ctx: &Context, number: RequestNumber, user: &str, expectation: Option<Text>, channel: &str) -> Reply {
    let Some(client) = &ctx.tracker else {
        return Reply::Json(replies::field_error("tracker", replies::tracker_required()));
    };
    let before = match requests::find(ctx.store.db(), number).await {
        Ok(Some(request)) => request,
        Ok(None) => return Reply::Json(replies::field_error("tracker", replies::no_such_request(number))),
        Err(e) => return Reply::Unavailable(format!("could not read the request: {e}")),
    };
    // May they accept it now? Asked with a stand-in tracker.
    let probe = super::open_form::probe(StepForm::Accept);
    let actor = actor(ctx, user).await;
    if let Err(error) = transition(
        &before,
        &probe,
        &actor,
        ctx.settings.policy_of(&before.team),
        Utc::now(),
    ) {
        return Reply::Json(replies::field_error(
            "tracker",
            render::triage::refusal(&before, &error, ctx.settings.team(&before.team)),
        ));
    }
    let order = IssueOrder {
        tracker: client.default_kind().as_str().to_string(),
        by: user.to_string(),
        expectation: expectation.map(|e| e.as_str().to_string()),
        channel: channel.to_string(),
    };
    let message = OutboundMessage::create_issue(number, before.version, &order);
    if let Err(e) = crate::store::outbox::enqueue(ctx.store.writer(), message, Utc::now()).await {
        tracing::error!(error = %e, "could not order a tracker issue");
        return Reply::Json(replies::step_not_saved("tracker"));
    }
    ctx.outbox.wake();
    info!(request = number.0, tracker = %order.tracker, "tracker issue ordered; the request is accepted once it exists");
    Reply::Ack
}

/// The dispatcher's half: create the issue (or find the one an earlier
/// attempt made), then run the Accept step it was ordered for.
pub async fn create_and_accept(ctx: &Context, row: &OutboxRow) -> Result<(), CallError> {
    let order: IssueOrder = serde_json::from_str(&row.payload)
        .map_err(|e| CallError::Permanent(format!("an unreadable tracker order: {e}")))?;
    let (Some(number), Some(kind)) = (row.request_id.map(RequestNumber), TrackerKind::parse(&order.tracker)) else {
        return Err(CallError::Permanent(
            "a tracker order names no request or tracker".into(),
        ));
    };
    let client = ctx
        .tracker
        .as_ref()
        .ok_or_else(|| CallError::Permanent("no tracker is configured any more ([tracker])".into()))?;
    let transient = |e: crate::store::StoreError| CallError::Transient(e.to_string());
    let Some(request) = requests::find(ctx.store.db(), number).await.map_err(transient)? else {
        return Ok(());
    };
    let earlier = match row.in_doubt {
        // The last create may have reached the tracker unrecorded.
        true => client.find(kind, number).await?,
        false => None,
    };
    let issue = match earlier {
        Some(issue) => {
            info!(key = %issue.key, "an earlier create had reached the tracker; not creating again");
            issue
        }
        None => {
            let workspace = ctx.slack.workspace_url().await;
            let new = NewIssue {
                request: &request,
                card_url: render::home::card_link(&request, workspace.as_deref()),
            };
            client.create(kind, &new).await?
        }
    };
    info!(key = %issue.key, url = %issue.url, "tracker issue created");
    let tracker = Tracker::Url(issue.url.clone());
    let expectation = order
        .expectation
        .as_deref()
        .and_then(|e| Text::parse(e, "expectation").ok());
    let event = Event::Accept {
        tracker: tracker.clone(),
        expectation,
    };
    let actor = actor(ctx, &order.by).await;
    match run_step(ctx, number, &event, &actor, Utc::now())
        .await
        .map_err(transient)?
    {
        StepOutcome::Done(_) | StepOutcome::NoSuchRequest => Ok(()),
        // Accepted with this issue already (a resend after a crash).
        StepOutcome::Refused(_) if request_tracks(ctx, number, &tracker).await => Ok(()),
        StepOutcome::Refused(why) => {
            warn!(why, "the issue was created but the request can no longer be accepted");
            let text = replies::issue_created_but_refused(number, &issue.url, &why);
            explain(ctx, &clicker(&order, row), &text, Utc::now())
                .await
                .map_err(transient)
        }
    }
}

async fn request_tracks(ctx: &Context, number: RequestNumber, tracker: &Tracker) -> bool {
    matches!(
        requests::find(ctx.store.db(), number).await,
        Ok(Some(request)) if request.tracker.as_ref() == Some(tracker)
    )
}

/// Told to the person who clicked Accept when the tracker refused to
/// create the issue for good (called in the transaction that marks the
/// order dead).
pub fn refused(row: &OutboxRow, error: &str) -> Option<OutboundMessage> {
    let order: IssueOrder = serde_json::from_str(&row.payload).ok()?;
    let number = RequestNumber(row.request_id?);
    let tracker = TrackerKind::parse(&order.tracker).map_or("The tracker", TrackerKind::name);
    Some(super::explain::explanation(
        &clicker(&order, row),
        &replies::issue_not_created(number, tracker, error),
    ))
}

/// Where to tell the person who clicked Accept about the order `row`.
fn clicker(order: &IssueOrder, row: &OutboxRow) -> ReplyTo {
    ReplyTo {
        channel: order.channel.clone(),
        user: order.by.clone(),
        key: DedupeKey::instead_of(&row.dedupe_key),
    }
}
