//! What each kind of Slack request does, after its signature was checked.
//!
//! `verify → parse → domain → store transaction (state + audit + outbox) →
//! ack`. Triage clicks and step modals are in `triage`. Handlers never call the Web API themselves, except `views.open`,
//! which must happen inside the 3-second trigger window.

use chrono::Utc;
use serde_json::{Value, json};
use slack_morphism::prelude::{SlackInteractionViewSubmissionEvent, SlackView};
use tracing::{Span, info, warn};

use crate::app::AppState;
mod triage;

use crate::domain::request::{NewRequest, RequestNumber};
use crate::slack::blocks::{self, lists, triage::StepForm};
use crate::slack::inbound::{self, CommandIntent, EventEnvelope, Interaction, ParseError};
use crate::store::{StoreError, requests, requests::Origin};
use crate::{reactions, submission};

/// What the HTTP layer sends back to Slack.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// 200 with no body: the plain ack (also closes a submitted modal).
    Ack,
    /// 200 with a JSON body.
    Json(Value),
    /// 400 with a reason: Slack sent something we cannot read.
    BadRequest(String),
    /// 503: we could not do the work now; Slack (or the person) may retry.
    Unavailable(String),
}

impl From<ParseError> for Reply {
    fn from(e: ParseError) -> Self {
        Reply::BadRequest(e.0)
    }
}

fn ephemeral(text: impl Into<String>) -> Reply {
    Reply::Json(json!({"response_type": "ephemeral", "text": text.into()}))
}

/// `POST /slack/commands`: `/request [words | help]`.
pub async fn command(state: &AppState, body: &[u8]) -> Reply {
    let command = match inbound::command(body) {
        Ok(c) => c,
        Err(e) => return e.into(),
    };
    Span::current().record("user", command.user_id.0.as_str());
    let user = command.user_id.0.as_str();
    match CommandIntent::from_text(command.text.as_deref()) {
        CommandIntent::Help => ephemeral(blocks::help_text(&state.settings.severities)),
        CommandIntent::Mine => match requests::open_for_submitter(state.store.db(), user, 25).await {
            Ok(mine) => ephemeral(lists::my_requests(&mine)),
            Err(e) => unavailable(e),
        },
        CommandIntent::Queue if !state.triagers.contains(state, user).await => {
            ephemeral("Only triagers see the whole queue. `/request list` shows your own requests.")
        }
        CommandIntent::Queue => match requests::open_queue(state.store.db(), QUEUE_LIMIT).await {
            Ok(queue) => ephemeral(lists::queue(&queue, QUEUE_LIMIT as usize)),
            Err(e) => unavailable(e),
        },
        CommandIntent::Status(n) => {
            Span::current().record("request", n);
            let number = RequestNumber(n);
            match requests::find(state.store.db(), number).await {
                Ok(Some(request)) => match requests::history(state.store.db(), number).await {
                    Ok(history) => ephemeral(lists::status(&request, &history)),
                    Err(e) => unavailable(e),
                },
                Ok(None) => ephemeral(format!("There is no request {number}.")),
                Err(e) => unavailable(e),
            }
        }
        CommandIntent::OpenForm { title } => {
            let body = state
                .request_form
                .open_body(&command.trigger_id.0, &title, &command.channel_id.0);
            match state.slack.open_view_body(body).await {
                Ok(()) => Reply::Ack,
                Err(e) => {
                    warn!(error = %e, "views.open failed");
                    ephemeral(format!(
                        "Sorry, I could not open the request form ({e}). Please run /request again; if it keeps failing, tell the product team in their channel."
                    ))
                }
            }
        }
    }
}

const QUEUE_LIMIT: u64 = 40;

fn unavailable(e: StoreError) -> Reply {
    tracing::error!(error = %e, "store unavailable");
    ephemeral("Sorry, I cannot reach my database right now. Please try again in a minute.")
}

/// `POST /slack/interactions`: modal submissions and triage clicks.
pub async fn interaction(state: &AppState, body: &[u8]) -> Reply {
    let event = match inbound::interaction(body) {
        Ok(e) => e,
        Err(e) => return e.into(),
    };
    match event {
        Interaction::BlockActions(actions) => triage::block_action(state, actions).await,
        Interaction::ViewSubmission(submission) => match modal(&submission.view.view).0 {
            Some(blocks::NEW_REQUEST_CALLBACK) => new_request(state, *submission).await,
            Some(other) => match StepForm::from_callback(other) {
                Some(form) => triage::step_submission(state, *submission, form).await,
                None => Reply::Ack,
            },
            None => Reply::Ack,
        },
        Interaction::Other => Reply::Ack,
    }
}

/// The /request modal was submitted.
async fn new_request(state: &AppState, submission: SlackInteractionViewSubmissionEvent) -> Reply {
    let user = submission.user.id.0;
    Span::current().record("user", user.as_str());
    let form = inbound::submission_form(submission.view.state_params.state.as_ref());
    let new = match NewRequest::validate(&form, &user, &state.settings.severities) {
        Ok(new) => new,
        Err(errors) => return Reply::Json(blocks::field_errors(&errors)),
    };
    let origin = Origin {
        view_id: submission.view.state_params.id.0,
        source_channel: inbound::source_channel(modal(&submission.view.view).1),
    };
    match submission::submit(state, &new, &origin, Utc::now()).await {
        Ok(Some(request)) => {
            Span::current().record("request", request.number.0);
            info!(
                request = request.number.0,
                severity = request.severity.as_str(),
                "request filed"
            );
            Reply::Ack
        }
        Ok(None) => {
            info!("modal submitted again; the request was already filed");
            Reply::Ack
        }
        Err(e) => {
            tracing::error!(error = %e, "could not store a request");
            Reply::Json(json!({"response_action": "errors", "errors": {
                "title": "Sorry, your request could not be saved just now. Please submit again in a moment."
            }}))
        }
    }
}

/// A modal's `(callback_id, private_metadata)`.
pub(crate) fn modal(view: &SlackView) -> (Option<&str>, Option<&str>) {
    match view {
        SlackView::Modal(m) => (
            m.callback_id.as_ref().map(|c| c.0.as_str()),
            m.private_metadata.as_deref(),
        ),
        _ => (None, None),
    }
}

/// `POST /slack/events`: the URL check, and events de-duplicated by id.
pub async fn event(state: &AppState, body: &[u8]) -> Reply {
    match inbound::event(body) {
        Err(e) => e.into(),
        Ok(EventEnvelope::UrlVerification { challenge }) => Reply::Json(json!({"challenge": challenge})),
        Ok(EventEnvelope::EventCallback {
            event_id,
            event,
            authorizations,
        }) => {
            let kind = event.get("type").and_then(Value::as_str).unwrap_or("unknown");
            // Reactions that can matter are kept and processed after the
            // ack; nothing else we subscribe to needs work yet.
            if !matches!(kind, "reaction_added" | "reaction_removed") {
                return Reply::Ack;
            }
            let bot = inbound::bot_user(&authorizations);
            match reactions::worth_keeping(state, &event, bot).await {
                Ok(true) => {}
                Ok(false) => {
                    info!(
                        event_id,
                        kind, "reaction ignored: not on a request, or an emoji that neither escalates nor counts"
                    );
                    return Reply::Ack;
                }
                Err(e) => return Reply::Unavailable(format!("could not look the message up: {e}")),
            }
            let payload = String::from_utf8_lossy(body);
            match state.events.record(&event_id, &payload, Utc::now()).await {
                Ok(true) => {
                    info!(event_id, kind, "event received");
                    state.events_wake.notify_one();
                    Reply::Ack
                }
                Ok(false) => {
                    info!(event_id, "duplicate event (a Slack retry); ignored");
                    Reply::Ack
                }
                Err(e) => Reply::Unavailable(format!("could not record the event: {e}")),
            }
        }
        Ok(EventEnvelope::Other) => Reply::Ack,
    }
}
