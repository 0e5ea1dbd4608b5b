//! Parsing what Slack sends: slash commands, interactions and events.
//!
//! Runs only after the signature check. Every failure is a [`ParseError`]
//! with a reason the HTTP layer returns as a 400; nothing here can panic.

use serde::Deserialize;
use slack_morphism::prelude::{
    SlackCommandEvent, SlackInteractionEvent, SlackInteractionViewSubmissionEvent, SlackViewState,
};

use crate::domain::request::SubmissionForm;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// A `/request` invocation, parsed from its form body.
pub fn command(body: &[u8]) -> Result<SlackCommandEvent, ParseError> {
    serde_urlencoded::from_bytes(body).map_err(|e| ParseError(format!("malformed slash command body: {e}")))
}

/// What the text after `/request` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandIntent {
    /// Open the form, the title pre-filled with these words (may be empty).
    OpenForm {
        title: String,
    },
    Help,
    /// `list`: the caller's open requests.
    Mine,
    /// `list all`: the triage queue.
    Queue,
    /// `42` or `#42`: one request with its history.
    Status(i64),
}

impl CommandIntent {
    pub fn from_text(text: Option<&str>) -> Self {
        // Slack sends &, < and > in command text as entities; take them back
        // so the title is stored as typed (it is escaped again when shown).
        let unescaped = text
            .unwrap_or_default()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        let text = unescaped.trim();
        let number = text.strip_prefix('#').unwrap_or(text);
        match text.to_lowercase().as_str() {
            "help" | "?" => Self::Help,
            "list" => Self::Mine,
            "list all" => Self::Queue,
            _ if !number.is_empty() && number.len() <= 15 && number.chars().all(|c| c.is_ascii_digit()) => {
                number.parse().map_or(
                    Self::OpenForm {
                        title: text.to_string(),
                    },
                    Self::Status,
                )
            }
            _ => Self::OpenForm {
                title: text.to_string(),
            },
        }
    }
}

#[derive(Deserialize)]
struct InteractionForm {
    payload: String,
}

/// An interaction we act on.
#[derive(Debug)]
pub enum Interaction {
    ViewSubmission(Box<SlackInteractionViewSubmissionEvent>),
    BlockActions(BlockActions),
    /// Anything else (view_closed, shortcuts…): acknowledged, nothing to do.
    Other,
}

/// A click on a button or select. Parsed with our own small type because
/// slack-morphism's action model has no `selected_user` (users_select).
#[derive(Debug, Clone, Deserialize)]
pub struct BlockActions {
    pub user: IdOnly,
    pub trigger_id: String,
    pub channel: Option<IdOnly>,
    pub container: Option<Container>,
    #[serde(default)]
    pub actions: Vec<ActionInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IdOnly {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Container {
    pub channel_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ActionInfo {
    pub action_id: String,
    pub block_id: Option<String>,
    pub value: Option<String>,
    pub selected_user: Option<String>,
    pub selected_option: Option<SelectedOption>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SelectedOption {
    pub value: String,
}

impl BlockActions {
    /// The channel the clicked message is in (for ephemeral replies).
    pub fn channel_id(&self) -> Option<&str> {
        self.channel
            .as_ref()
            .map(|c| c.id.as_str())
            .or_else(|| self.container.as_ref()?.channel_id.as_deref())
    }
}

impl ActionInfo {
    /// The request number: in a button's `value`, or a select's `block_id`
    /// (`req:<n>`).
    pub fn request_number(&self) -> Option<i64> {
        let from_block = || self.block_id.as_deref()?.strip_prefix("req:")?.parse().ok();
        let from_value = || self.value.as_deref()?.parse().ok();
        from_value().or_else(from_block).filter(|n: &i64| *n > 0)
    }
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
    let malformed = |e: serde_json::Error| ParseError(format!("malformed interaction payload: {e}"));
    let kind: InteractionKind = serde_json::from_str(&form.payload).map_err(malformed)?;
    match kind.kind.as_str() {
        "block_actions" => Ok(Interaction::BlockActions(
            serde_json::from_str(&form.payload).map_err(malformed)?,
        )),
        "view_submission" => match serde_json::from_str(&form.payload).map_err(malformed)? {
            SlackInteractionEvent::ViewSubmission(submission) => Ok(Interaction::ViewSubmission(Box::new(submission))),
            _ => Ok(Interaction::Other),
        },
        _ => Ok(Interaction::Other),
    }
}

/// A text field of a submitted modal (`<block>` / `<block>_input`).
pub fn field(state: Option<&SlackViewState>, block: &str) -> Option<String> {
    let action = format!("{block}_input");
    let v = state?
        .values
        .iter()
        .find(|(b, _)| b.0 == block)?
        .1
        .iter()
        .find(|(a, _)| a.0 == action)?
        .1;
    v.value
        .clone()
        .or_else(|| v.selected_date.clone())
        .or_else(|| v.selected_option.as_ref().map(|o| o.value.clone()))
}

/// The /request modal's state, as the domain's unvalidated form.
pub fn submission_form(state: Option<&SlackViewState>) -> SubmissionForm {
    SubmissionForm {
        kind: field(state, "type"),
        title: field(state, "title"),
        description: field(state, "description"),
        severity: field(state, "severity"),
        area: field(state, "area"),
        link: field(state, "link"),
    }
}

/// The channel a modal was opened from, carried in its private metadata.
pub fn source_channel(private_metadata: Option<&str>) -> Option<String> {
    #[derive(Deserialize)]
    struct Metadata {
        channel_id: Option<String>,
    }
    serde_json::from_str::<Metadata>(private_metadata?).ok()?.channel_id
}

/// The outer shape of an Events API request; the inner event is parsed by
/// whoever handles its type, so an event type we do not know is still acked.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventEnvelope {
    UrlVerification {
        challenge: String,
    },
    EventCallback {
        event_id: String,
        event: serde_json::Value,
        #[serde(default)]
        authorizations: Vec<Authorization>,
    },
    #[serde(other)]
    Other,
}

/// Who an event was delivered for; the bot's entry names its own user id.
#[derive(Debug, Deserialize)]
pub struct Authorization {
    pub user_id: Option<String>,
    #[serde(default)]
    pub is_bot: bool,
}

/// The bot's own user id among an event's authorizations.
pub fn bot_user(authorizations: &[Authorization]) -> Option<&str> {
    authorizations
        .iter()
        .find(|a| a.is_bot)
        .and_then(|a| a.user_id.as_deref())
}

pub fn event(body: &[u8]) -> Result<EventEnvelope, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError(format!("malformed event: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testkit/samples");

    fn sample(path: &str) -> Vec<u8> {
        std::fs::read(format!("{SAMPLES}/{path}")).unwrap_or_else(|e| panic!("{SAMPLES}/{path}: {e}"))
    }

    #[test]
    fn slash_command_sample_parses_with_spaces_as_plus() {
        let body = sample("commands/request-with-text.form");
        let command = command(&body).expect("parses");
        assert_eq!(command.text.as_deref(), Some("checkout page times out"));
        assert_eq!(
            CommandIntent::from_text(command.text.as_deref()),
            CommandIntent::OpenForm {
                title: "checkout page times out".into()
            }
        );
    }

    #[test]
    fn view_submission_sample_yields_the_form() {
        let body = sample("interactivity/view_submission.form");
        let Interaction::ViewSubmission(submission) = interaction(&body).expect("parses") else {
            panic!("not a view submission")
        };
        let form = submission_form(submission.view.state_params.state.as_ref());
        assert_eq!(form.kind.as_deref(), Some("bug"));
        assert_eq!(form.title.as_deref(), Some("checkout page times out"));
        assert_eq!(form.severity.as_deref(), Some("high"));
        assert_eq!(form.area, None);
        assert!(form.link.is_some());
    }

    #[test]
    fn block_action_samples_carry_the_request_number() {
        for (file, action, user) in [
            ("interactivity/block_actions_button.json", "take", None),
            (
                "interactivity/block_actions_users_select.json",
                "assign",
                Some("U0TRIAGE01"),
            ),
            ("interactivity/block_actions_static_select.json", "set_severity", None),
            ("interactivity/block_actions_dm_button.json", "confirm", None),
        ] {
            let body = serde_urlencoded::to_string([("payload", String::from_utf8(sample(file)).unwrap())]).unwrap();
            let Interaction::BlockActions(actions) = interaction(body.as_bytes()).expect("parses") else {
                panic!("{file} is not block_actions")
            };
            let clicked = &actions.actions[0];
            assert_eq!(clicked.action_id, action, "{file}");
            assert_eq!(clicked.request_number(), Some(42), "{file}");
            if let Some(user) = user {
                assert_eq!(clicked.selected_user.as_deref(), Some(user));
            }
            assert!(actions.channel_id().is_some());
        }
    }

    #[test]
    fn command_text_picks_the_intent() {
        assert_eq!(CommandIntent::from_text(Some("list")), CommandIntent::Mine);
        assert_eq!(CommandIntent::from_text(Some("list all")), CommandIntent::Queue);
        assert_eq!(CommandIntent::from_text(Some("#42")), CommandIntent::Status(42));
        assert_eq!(
            CommandIntent::from_text(Some("42 is broken")),
            CommandIntent::OpenForm {
                title: "42 is broken".into()
            }
        );
    }

    #[test]
    fn url_verification_and_unknown_envelopes_parse() {
        let body = sample("events/url_verification.json");
        assert!(matches!(event(&body), Ok(EventEnvelope::UrlVerification { .. })));
        assert!(matches!(
            event(br#"{"type":"app_rate_limited"}"#),
            Ok(EventEnvelope::Other)
        ));
        assert!(event(b"not json").is_err());
    }
}
