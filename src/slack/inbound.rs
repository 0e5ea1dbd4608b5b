//! Parsing what Slack sends: slash commands, interactions and events.
//!
//! Runs only after the signature check. Every failure is a [`ParseError`]
//! with a reason the HTTP layer returns as a 400; nothing here can panic.

use serde::Deserialize;
use slack_morphism::prelude::{SlackCommandEvent, SlackInteractionEvent, SlackViewState};

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
}

impl CommandIntent {
    pub fn from_text(text: Option<&str>) -> Self {
        let text = text.unwrap_or_default().trim();
        match text {
            "help" | "?" => Self::Help,
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

/// An interaction (`payload=<json>` form body).
pub fn interaction(body: &[u8]) -> Result<SlackInteractionEvent, ParseError> {
    let form: InteractionForm = serde_urlencoded::from_bytes(body)
        .map_err(|e| ParseError(format!("interaction body must be a form with a payload field: {e}")))?;
    serde_json::from_str(&form.payload).map_err(|e| ParseError(format!("malformed interaction payload: {e}")))
}

/// The /request modal's state, as the domain's unvalidated form.
pub fn submission_form(state: Option<&SlackViewState>) -> SubmissionForm {
    let value = |block: &str, action: &str| {
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
            .or_else(|| v.selected_option.as_ref().map(|o| o.value.clone()))
    };
    SubmissionForm {
        kind: value("type", "type_input"),
        title: value("title", "title_input"),
        description: value("description", "description_input"),
        severity: value("severity", "severity_input"),
        area: value("area", "area_input"),
        link: value("link", "link_input"),
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
    },
    #[serde(other)]
    Other,
}

pub fn event(body: &[u8]) -> Result<EventEnvelope, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError(format!("malformed event: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/slack-samples");

    fn sample(path: &str) -> Vec<u8> {
        std::fs::read(format!("{SAMPLES}/{path}"))
            .unwrap_or_else(|e| panic!("{SAMPLES}/{path}: {e} (shared/ must sit beside the repository)"))
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
        let SlackInteractionEvent::ViewSubmission(submission) = interaction(&body).expect("parses") else {
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
