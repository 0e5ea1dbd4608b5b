//! Parsing what Slack sends into what a person asked for: slash commands
//! (`command`), interactions (`interaction`) and events (`event`).
//!
//! Runs only after the signature check. Every failure is a [`ParseError`]
//! with a reason the transport returns as a 400; nothing here can panic.
//! The same parsers serve HTTP and Socket Mode (whose envelopes carry the
//! same payloads; `slack::socket` unwraps them).

mod command;
mod event;
mod interaction;

use slack_morphism::prelude::SlackViewState;

pub use command::{CommandIntent, SlashCommand, command, command_payload};
pub use event::{
    Authorization, EventEnvelope, MessageEnvelope, Reaction, ReactionEnvelope, ThreadReply, bot_user, event,
    home_opened,
};
pub use interaction::{
    Click, EditSubmission, FieldProblem, Interaction, MessageShortcut, RequestSubmission, StepMetadata, StepSubmission,
    interaction, interaction_payload,
};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// A text field of a submitted modal (`<block>` / `<block>_input`).
fn field(state: Option<&SlackViewState>, block: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::RequestNumber;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testkit/samples");

    fn sample(path: &str) -> Vec<u8> {
        std::fs::read(format!("{SAMPLES}/{path}")).unwrap_or_else(|e| panic!("{SAMPLES}/{path}: {e}"))
    }

    #[test]
    fn slash_command_sample_parses_with_spaces_as_plus() {
        let body = sample("commands/request-with-text.form");
        let command = command(&body).expect("parses");
        assert_eq!(
            command.intent,
            CommandIntent::OpenForm {
                title: "checkout page times out".into()
            }
        );
    }

    #[test]
    fn view_submission_sample_yields_the_form() {
        let body = sample("interactivity/view_submission.form");
        let Interaction::SubmitRequest(submission) = interaction(&body).expect("parses") else {
            panic!("not a /request submission")
        };
        let form = submission.form;
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
            let Interaction::Click(clicked) = interaction(body.as_bytes()).expect("parses") else {
                panic!("{file} is not block_actions")
            };
            assert_eq!(clicked.action.map(|a| a.id()), Ok(action), "{file}");
            assert_eq!(clicked.number, Some(RequestNumber(42)), "{file}");
            if let Some(user) = user {
                assert_eq!(clicked.selected_user.as_deref(), Some(user));
            }
            assert!(clicked.channel.is_some());
        }
    }

    #[test]
    fn command_text_picks_the_intent() {
        assert_eq!(CommandIntent::from_text(Some("list")), CommandIntent::Mine);
        assert_eq!(CommandIntent::from_text(Some("list all")), CommandIntent::Queue);
        assert_eq!(
            CommandIntent::from_text(Some("#42")),
            CommandIntent::Status(RequestNumber(42))
        );
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
