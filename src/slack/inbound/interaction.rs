//! Interactions (`payload=<json>`): clicks on our controls, and the modals
//! we opened, submitted. Each is parsed into what the person asked for.

use chrono::NaiveDate;
use serde::Deserialize;
use slack_morphism::prelude::SlackViewState;

use super::{ParseError, field};
use crate::domain::request::{RequestNumber, SourceMessage, SubmissionForm};
use crate::domain::text::{Text, TextError, Tracker};
use crate::domain::triage::Event;
use crate::slack::action::{Action, FILE_AS_REQUEST, Modal, StepForm};

/// An interaction we act on.
#[derive(Debug)]
pub enum Interaction {
    Click(Click),
    SubmitRequest(RequestSubmission),
    SubmitStep(StepSubmission),
    /// The *File as request* shortcut on a message.
    FileMessage(MessageShortcut),
    /// The submitter's corrections to a request (the *Edit* form).
    SubmitEdit(EditSubmission),
    /// Anything else (view_closed, shortcuts, a modal not ours…):
    /// acknowledged, nothing to do.
    Other,
}

/// A click on one of our controls.
#[derive(Debug, Clone)]
pub struct Click {
    pub user: String,
    /// Unique per interaction: a retried click is the same trigger.
    pub trigger_id: String,
    /// The channel the clicked message is in (for ephemeral replies).
    pub channel: Option<String>,
    /// The control, or the id we did not recognise.
    pub action: Result<Action, String>,
    pub number: Option<RequestNumber>,
    /// A users_select's pick.
    pub selected_user: Option<String>,
    /// A static_select's pick.
    pub selected_option: Option<String>,
    /// Clicked in the clicker's App Home (not on a message).
    pub from_home: bool,
}

/// The `/request` modal, submitted.
#[derive(Debug, Clone)]
pub struct RequestSubmission {
    pub user: String,
    /// The modal's id: one modal files one request, however often it is sent.
    pub view_id: String,
    pub form: SubmissionForm,
    /// Where `/request` was typed.
    pub source_channel: Option<String>,
    /// The message it was filed from (the *File as request* shortcut).
    pub source_message: Option<SourceMessage>,
}

/// The *Edit* form, submitted: the corrected fields of a request.
#[derive(Debug, Clone)]
pub struct EditSubmission {
    pub user: String,
    /// From the form's metadata; `None` if it carried none.
    pub number: Option<RequestNumber>,
    pub form: SubmissionForm,
}

/// *File as request* on a message: who asked, and the message.
#[derive(Debug, Clone)]
pub struct MessageShortcut {
    pub user: String,
    pub trigger_id: String,
    pub message: SourceMessage,
    /// The message's text as Slack sent it (mrkdwn, mentions as `<@U…>`).
    pub text: String,
}

/// A step's modal, submitted.
#[derive(Debug, Clone)]
pub struct StepSubmission {
    pub user: String,
    pub form: StepForm,
    /// What we put in the modal when we opened it.
    pub metadata: Option<StepMetadata>,
    values: Option<SlackViewState>,
}

/// What a step modal carries back on submit.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct StepMetadata {
    pub request: i64,
    pub channel: String,
}

/// A field that is wrong: its block id and what to say.
pub type FieldProblem = (&'static str, TextError);

impl StepSubmission {
    /// The event the form describes and the block to report a refusal
    /// against, or the first field that is wrong.
    pub fn event(&self, today: NaiveDate) -> Result<(Event, &'static str), FieldProblem> {
        step_event(self.form, self.values.as_ref(), today)
    }

    /// An Accept form with the tracker left empty: the issue is to be
    /// created. `Some` with its expectation (or the field that is wrong).
    pub fn accept_creating_issue(&self) -> Option<Result<Option<Text>, FieldProblem>> {
        let field = |block: &str| field(self.values.as_ref(), block).unwrap_or_default();
        if self.form != StepForm::Accept || !field("tracker").trim().is_empty() {
            return None;
        }
        Some(expectation(&field("expectation")))
    }
}

/// A click, as Slack sends it. Our own small type, because slack-morphism's
/// action model has no `selected_user` (users_select).
#[derive(Debug, Clone, Deserialize)]
struct BlockActions {
    user: IdOnly,
    trigger_id: String,
    channel: Option<IdOnly>,
    container: Option<Container>,
    #[serde(default)]
    actions: Vec<ActionInfo>,
}

#[derive(Debug, Clone, Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Container {
    #[serde(rename = "type")]
    kind: Option<String>,
    channel_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct ActionInfo {
    action_id: String,
    block_id: Option<String>,
    value: Option<String>,
    selected_user: Option<String>,
    selected_option: Option<SelectedOption>,
}

#[derive(Debug, Clone, Deserialize)]
struct SelectedOption {
    value: String,
}

impl ActionInfo {
    /// The request number: in a button's `value`, or a select's `block_id`
    /// (`req:<n>`).
    fn request_number(&self) -> Option<RequestNumber> {
        let from_block = || self.block_id.as_deref()?.strip_prefix("req:")?.parse().ok();
        let from_value = || self.value.as_deref()?.parse().ok();
        from_value()
            .or_else(from_block)
            .filter(|n: &i64| *n > 0)
            .map(RequestNumber)
    }
}

#[derive(Deserialize)]
struct InteractionForm {
    payload: String,
}

#[derive(Deserialize)]
struct InteractionKind {
    #[serde(rename = "type")]
    kind: String,
}

/// An interaction (`payload=<json>` form body).
pub fn interaction(body: &[u8]) -> Result<Interaction, ParseError> {
    let form: InteractionForm = serde_urlencoded::from_bytes(body)
        .map_err(|e| ParseError(format!("interaction body must be a form with a payload field: {e}")))?;
    interaction_payload(&form.payload)
}

/// An interaction's JSON payload (the same in Socket Mode's envelopes).
pub fn interaction_payload(payload: &str) -> Result<Interaction, ParseError> {
    let malformed = |e: serde_json::Error| ParseError(format!("malformed interaction payload: {e}"));
    let kind: InteractionKind = serde_json::from_str(payload).map_err(malformed)?;
    match kind.kind.as_str() {
        "block_actions" => Ok(click(serde_json::from_str(payload).map_err(malformed)?)),
        "message_action" => Ok(message_shortcut(serde_json::from_str(payload).map_err(malformed)?)),
        "view_submission" => Ok(view_submission(serde_json::from_str(payload).map_err(malformed)?)),
        _ => Ok(Interaction::Other),
    }
}

/// A submitted modal of ours, as what the person asked for.
fn view_submission(submission: ViewSubmission) -> Interaction {
    let user = submission.user.id;
    let view_id = submission.view.id;
    let values = submission.view.state;
    let (callback, metadata) = match submission.view.kind.as_deref() {
        Some("modal") => (
            submission.view.callback_id.as_deref(),
            submission.view.private_metadata.as_deref(),
        ),
        _ => (None, None),
    };
    match callback.and_then(Modal::from_callback_id) {
        Some(Modal::NewRequest) => {
            let origin = FormMetadata::read(metadata);
            Interaction::SubmitRequest(RequestSubmission {
                user,
                view_id,
                form: submission_form(values.as_ref()),
                source_channel: origin.channel_id,
                source_message: origin.message.and_then(|m| serde_json::from_value(m).ok()),
            })
        }
        Some(Modal::Step(form)) => Interaction::SubmitStep(StepSubmission {
            user,
            form,
            metadata: metadata.and_then(|m| serde_json::from_str(m).ok()),
            values,
        }),
        Some(Modal::EditRequest) => Interaction::SubmitEdit(EditSubmission {
            user,
            number: metadata
                .and_then(|m| serde_json::from_str::<StepMetadata>(m).ok())
                .map(|m| RequestNumber(m.request)),
            form: submission_form(values.as_ref()),
        }),
        None => Interaction::Other,
    }
}

fn click(actions: BlockActions) -> Interaction {
    let from_home = actions
        .container
        .as_ref()
        .is_some_and(|c| c.kind.as_deref() == Some("view"));
    let channel = actions
        .channel
        .map(|c| c.id)
        .or_else(|| actions.container.and_then(|c| c.channel_id));
    let Some(action) = actions.actions.into_iter().next() else {
        return Interaction::Other;
    };
    Interaction::Click(Click {
        user: actions.user.id,
        trigger_id: actions.trigger_id,
        channel,
        number: action.request_number(),
        action: Action::from_id(&action.action_id).ok_or(action.action_id),
        selected_user: action.selected_user,
        selected_option: action.selected_option.map(|o| o.value),
        from_home,
    })
}

/// A message shortcut, as Slack sends it (`message_action`).
#[derive(Debug, Clone, Deserialize)]
struct MessageAction {
    callback_id: String,
    user: IdOnly,
    trigger_id: String,
    channel: IdOnly,
    message_ts: String,
    #[serde(default)]
    message: ShortcutMessage,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ShortcutMessage {
    #[serde(default)]
    text: String,
    thread_ts: Option<String>,
}

fn message_shortcut(action: MessageAction) -> Interaction {
    if action.callback_id != FILE_AS_REQUEST {
        return Interaction::Other;
    }
    Interaction::FileMessage(MessageShortcut {
        user: action.user.id,
        trigger_id: action.trigger_id,
        message: SourceMessage {
            channel: action.channel.id,
            // A thread's parent carries its own ts as `thread_ts`.
            thread_ts: action.message.thread_ts.filter(|t| *t != action.message_ts),
            ts: action.message_ts,
        },
        text: action.message.text,
    })
}

/// A modal's `(callback_id, private_metadata)`.
/// What intake reads of a `view_submission`: who, which view, its
/// callback, metadata and field values. Narrower than slack-morphism's
/// `SlackInteractionEvent` on purpose: that model is an internally tagged
/// enum, which serde buffers whole and reads twice, blocks and all, on
/// every submitted form (the profile of the submission load showed it; see
/// BENCHMARKS.md). The state keeps slack-morphism's `SlackViewState`.
#[derive(Deserialize)]
struct ViewSubmission {
    user: IdOnly,
    view: SubmittedView,
}

#[derive(Deserialize)]
struct SubmittedView {
    id: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    callback_id: Option<String>,
    private_metadata: Option<String>,
    state: Option<SlackViewState>,
}

/// The /request modal's state, as the domain's unvalidated form.
fn submission_form(state: Option<&SlackViewState>) -> SubmissionForm {
    SubmissionForm {
        kind: field(state, "type"),
        title: field(state, "title"),
        description: field(state, "description"),
        severity: field(state, "severity"),
        area: field(state, "area"),
        link: field(state, "link"),
    }
}

/// What the /request modal carries in its private metadata: the channel
/// it was opened from, and the message it files (read on its own, so a
/// malformed one loses only itself).
#[derive(Default, Deserialize)]
struct FormMetadata {
    channel_id: Option<String>,
    message: Option<serde_json::Value>,
}

impl FormMetadata {
    fn read(private_metadata: Option<&str>) -> Self {
        private_metadata
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default()
    }
}

/// Accept's optional expectation.
fn expectation(value: &str) -> Result<Option<Text>, FieldProblem> {
    match value.trim().is_empty() {
        true => Ok(None),
        false => Text::parse(value, "expectation")
            .map(Some)
            .map_err(|e| ("expectation", e)),
    }
}

/// The event a step form describes, or the first field that is wrong.
fn step_event(
    form: StepForm,
    values: Option<&SlackViewState>,
    today: NaiveDate,
) -> Result<(Event, &'static str), FieldProblem> {
    let field = |block: &'static str| field(values, block).unwrap_or_default();
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
            let expectation = expectation(&field("expectation"))?;
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
    use serde_json::json;

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
