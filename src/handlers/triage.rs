//! Triage from Slack: clicks on the intake message and DMs, and the modals
//! that collect a step's details. Each becomes a domain [`Event`] run by
//! `triage_flow`; a refusal is explained to the person, never silent.

use chrono::{Days, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use slack_morphism::prelude::{SlackInteractionViewSubmissionEvent, SlackViewState};
use tracing::{Span, warn};

use super::{Reply, modal};
use crate::app::AppState;
use crate::domain::request::RequestNumber;
use crate::domain::triage::{Actor, Event, Text, TextError, Tracker, transition};
use crate::slack::blocks::triage::{StepForm, step_modal};
use crate::slack::inbound::{self, ActionInfo, BlockActions};
use crate::store::requests;
use crate::triage_flow::{self, ReplyTo, StepOutcome};

/// What a step modal carries back on submit.
#[derive(Debug, serde::Serialize, Deserialize)]
struct StepMetadata {
    request: i64,
    channel: String,
}

async fn actor(state: &AppState, user: &str) -> Actor {
    Actor::person(user, state.triagers.contains(state, user).await)
}

/// A click on a triage control.
pub async fn block_action(state: &AppState, actions: BlockActions) -> Reply {
    let Some(action) = actions.actions.first() else {
        return Reply::Ack;
    };
    let user = actions.user.id.clone();
    Span::current().record("user", user.as_str());
    let Some(number) = action.request_number().map(RequestNumber) else {
        return Reply::BadRequest(format!("action {:?} carries no request number", action.action_id));
    };
    Span::current().record("request", number.0);
    let reply_to = ReplyTo {
        channel: actions.channel_id().unwrap_or(&user).to_string(),
        user: user.clone(),
        key: actions.trigger_id.clone(),
    };
    let actor = actor(state, &user).await;
    if let Some(form) = StepForm::from_action(&action.action_id) {
        return open_step_form(state, number, form, &actor, &reply_to, &actions.trigger_id).await;
    }
    let event = match click_event(state, action) {
        Ok(Some(event)) => event,
        Ok(None) => return Reply::Ack,
        Err(message) => return explain(state, &reply_to, &message).await,
    };
    match triage_flow::run_step(state, number, &event, &actor, Utc::now()).await {
        Ok(StepOutcome::Done(_)) => Reply::Ack,
        Ok(StepOutcome::Refused(message)) => explain(state, &reply_to, &message).await,
        Ok(StepOutcome::NoSuchRequest) => explain(state, &reply_to, &format!("There is no request {number}.")).await,
        Err(e) => Reply::Unavailable(format!("could not record the step: {e}")),
    }
}

/// The event a click means; `None` for controls that are not ours.
fn click_event(state: &AppState, action: &ActionInfo) -> Result<Option<Event>, String> {
    Ok(Some(match action.action_id.as_str() {
        "take" => Event::Take,
        "resume" => Event::Resume,
        "confirm" => Event::Confirm,
        "reopen" => Event::Reopen,
        "assign" => Event::Assign {
            to: action.selected_user.clone().ok_or("Pick someone to assign it to.")?,
        },
        "set_severity" => {
            let key = action
                .selected_option
                .as_ref()
                .map(|o| o.value.as_str())
                .unwrap_or_default();
            let severity = state
                .settings
                .severities
                .get(key)
                .ok_or("Pick one of the listed severities.")?;
            Event::SetSeverity {
                to: severity.key.clone(),
            }
        }
        _ => return Ok(None),
    }))
}

async fn explain(state: &AppState, reply_to: &ReplyTo, message: &str) -> Reply {
    match triage_flow::explain(state, reply_to, message, Utc::now()).await {
        Ok(()) => Reply::Ack,
        Err(e) => Reply::Unavailable(format!("could not explain the refusal: {e}")),
    }
}

/// Stand-in details, to ask the machine whether a step may start at all
/// before asking the person to write anything.
fn probe(form: StepForm) -> Event {
    let words = Text::parse("probe", "probe").unwrap_or_else(|_| unreachable!("non-empty text is valid"));
    match form {
        StepForm::AskInfo => Event::AskInfo { question: words },
        StepForm::AddInfo => Event::AddInfo { answer: words },
        StepForm::Accept => Event::Accept {
            tracker: Tracker::Key("PROBE-1".into()),
            expectation: None,
        },
        StepForm::Defer => Event::Defer {
            until: NaiveDate::MAX,
            reason: words,
        },
        StepForm::Reject => Event::Reject { reason: words },
        StepForm::Resolve => Event::Resolve { note: words },
    }
}

async fn open_step_form(
    state: &AppState,
    number: RequestNumber,
    form: StepForm,
    actor: &Actor,
    reply_to: &ReplyTo,
    trigger_id: &str,
) -> Reply {
    let request = match requests::find(state.store.db(), number).await {
        Ok(Some(request)) => request,
        Ok(None) => return explain(state, reply_to, &format!("There is no request {number}.")).await,
        Err(e) => return Reply::Unavailable(format!("could not read the request: {e}")),
    };
    if let Err(error) = transition(&request, &probe(form), actor) {
        let message = crate::slack::blocks::triage::refusal(&request, &error);
        return explain(state, reply_to, &message).await;
    }
    let metadata = serde_json::to_string(&StepMetadata {
        request: number.0,
        channel: reply_to.channel.clone(),
    })
    .unwrap_or_default();
    let tomorrow = today(state).checked_add_days(Days::new(1)).unwrap_or(NaiveDate::MAX);
    match state
        .slack
        .open_view(trigger_id, step_modal(form, &request, &metadata, tomorrow))
        .await
    {
        Ok(()) => Reply::Ack,
        Err(e) => {
            warn!(error = %e, "views.open failed for a triage form");
            explain(
                state,
                reply_to,
                &format!("Sorry, I could not open the form ({e}). Please click again."),
            )
            .await
        }
    }
}

/// Today in the team's time zone (revisit dates are local dates).
fn today(state: &AppState) -> NaiveDate {
    Utc::now().with_timezone(&state.settings.calendar.tz()).date_naive()
}

/// `{"response_action":"errors"}` for one block.
fn field_error(block: &str, message: impl Into<String>) -> Reply {
    Reply::Json(json!({"response_action": "errors", "errors": {block: message.into()}}))
}

/// A step modal was submitted: validate, run the step, close or explain.
pub async fn step_submission(
    state: &AppState,
    submission: SlackInteractionViewSubmissionEvent,
    form: StepForm,
) -> Reply {
    let user = submission.user.id.0.clone();
    Span::current().record("user", user.as_str());
    let Some(metadata) = modal(&submission.view.view)
        .1
        .and_then(|m| serde_json::from_str::<StepMetadata>(m).ok())
    else {
        return Reply::BadRequest("step form without its request in private_metadata".into());
    };
    Span::current().record("request", metadata.request);
    let values = submission.view.state_params.state.as_ref();
    let (event, first_block) = match step_event(form, values, today(state)) {
        Ok(parsed) => parsed,
        Err((block, e)) => return field_error(block, e.0),
    };
    let actor = actor(state, &user).await;
    match triage_flow::run_step(state, RequestNumber(metadata.request), &event, &actor, Utc::now()).await {
        Ok(StepOutcome::Done(_)) => Reply::Ack,
        Ok(StepOutcome::Refused(message)) => field_error(first_block, message),
        Ok(StepOutcome::NoSuchRequest) => {
            field_error(first_block, format!("There is no request #{}.", metadata.request))
        }
        Err(e) => {
            tracing::error!(error = %e, "could not record a triage step");
            field_error(
                first_block,
                "Sorry, this could not be saved just now. Please submit again in a moment.",
            )
        }
    }
}

type FieldProblem = (&'static str, TextError);

/// The event a step form describes, or the first field that is wrong.
fn step_event(
    form: StepForm,
    values: Option<&SlackViewState>,
    today: NaiveDate,
) -> Result<(Event, &'static str), FieldProblem> {
    let field = |block: &'static str| inbound::field(values, block).unwrap_or_default();
    let text = |block: &'static str, what: &str| Text::parse(&field(block), what).map_err(|e| (block, e));
    Ok(match form {
        StepForm::AskInfo => (
            Event::AskInfo {
                question: text("question", "question")?,
            },
            "question",
        ),
        StepForm::AddInfo => (
            Event::AddInfo {
                answer: text("answer", "answer")?,
            },
            "answer",
        ),
        StepForm::Resolve => (
            Event::Resolve {
                note: text("note", "resolution")?,
            },
            "note",
        ),
        StepForm::Reject => (
            Event::Reject {
                reason: Text::reason(&field("reason")).map_err(|e| ("reason", e))?,
            },
            "reason",
        ),
        StepForm::Accept => {
            let tracker = Tracker::parse(&field("tracker")).map_err(|e| ("tracker", e))?;
            let expectation = field("expectation");
            let expectation = if expectation.trim().is_empty() {
                None
            } else {
                Some(Text::parse(&expectation, "expectation").map_err(|e| ("expectation", e))?)
            };
            (Event::Accept { tracker, expectation }, "tracker")
        }
        StepForm::Defer => {
            let until = NaiveDate::parse_from_str(&field("revisit"), "%Y-%m-%d")
                .map_err(|_| ("revisit", TextError("Pick the date to revisit it.".into())))?;
            if until <= today {
                return Err(("revisit", TextError("The revisit date must be in the future.".into())));
            }
            (
                Event::Defer {
                    until,
                    reason: text("reason", "reason")?,
                },
                "revisit",
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_valid_events_for_every_form() {
        for form in StepForm::ALL {
            assert_eq!(probe(form).name(), form.action());
        }
    }

    #[test]
    fn a_past_revisit_date_is_refused() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let state: SlackViewState = serde_json::from_value(json!({"values": {
            "revisit": {"revisit_input": {"type": "datepicker", "selected_date": "2026-11-25"}},
            "reason": {"reason_input": {"type": "plain_text_input", "value": "After the freeze"}}
        }}))
        .unwrap();
        let err = step_event(StepForm::Defer, Some(&state), today).unwrap_err();
        assert_eq!(err.0, "revisit");
    }
}
