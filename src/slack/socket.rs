//! Socket Mode's wire format: the frames Slack sends over the WebSocket
//! (`hello`, `disconnect`, and envelopes wrapping the very payloads the HTTP
//! routes receive) and the acks intake sends back. The payloads themselves
//! are left to the `inbound` parsers, as over HTTP.

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::Reply;
use super::inbound::ParseError;

/// One text frame from Slack, unwrapped.
#[derive(Debug)]
pub struct Frame {
    pub kind: FrameKind,
    /// Carried by every frame that wants an ack.
    pub envelope_id: Option<String>,
    /// 0 on the first delivery; Slack counts its re-deliveries.
    pub retry_attempt: u64,
    pub retry_reason: String,
}

#[derive(Debug)]
pub enum FrameKind {
    /// The connection is ready.
    Hello,
    /// Slack is about to close this connection: open another.
    Disconnect { reason: String },
    /// A slash command, an interaction or an Events API callback.
    Envelope {
        kind: PayloadKind,
        /// The payload's JSON text as Slack sent it (`null` when absent).
        payload: String,
    },
    /// A type we do not know: acked if it has an envelope id, else ignored.
    Other(String),
}

/// What an envelope carries: the same three kinds as the HTTP routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    SlashCommand,
    Interactive,
    EventsApi,
}

impl PayloadKind {
    /// The label the HTTP transport uses for the same route.
    pub fn name(self) -> &'static str {
        match self {
            Self::SlashCommand => "command",
            Self::Interactive => "interaction",
            Self::EventsApi => "event",
        }
    }
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    kind: Option<String>,
    envelope_id: Option<String>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    retry_attempt: Option<u64>,
    retry_reason: Option<String>,
    reason: Option<String>,
}

/// Reads a text frame; an error only when it is not a JSON object.
pub fn frame(text: &str) -> Result<Frame, ParseError> {
    let wire: Wire<'_> =
        serde_json::from_str(text).map_err(|e| ParseError(format!("Socket Mode frame is not a JSON object: {e}")))?;
    let payload = || wire.payload.map_or("null", RawValue::get).to_string();
    let envelope = |kind| FrameKind::Envelope {
        kind,
        payload: payload(),
    };
    let kind = match wire.kind.as_deref().unwrap_or_default() {
        "hello" => FrameKind::Hello,
        "disconnect" => FrameKind::Disconnect {
            reason: wire.reason.clone().unwrap_or_default(),
        },
        "slash_commands" => envelope(PayloadKind::SlashCommand),
        "interactive" => envelope(PayloadKind::Interactive),
        "events_api" => envelope(PayloadKind::EventsApi),
        other => FrameKind::Other(other.to_string()),
    };
    Ok(Frame {
        kind,
        envelope_id: wire.envelope_id.filter(|id| !id.is_empty()),
        retry_attempt: wire.retry_attempt.unwrap_or(0),
        retry_reason: wire.retry_reason.unwrap_or_default(),
    })
}

/// The plain ack: Slack stops re-delivering the envelope.
pub fn ack(envelope_id: &str) -> String {
    json!({ "envelope_id": envelope_id }).to_string()
}

/// The ack for a handled envelope, carrying exactly what the HTTP response
/// body would: nothing for a plain ack, the JSON answer (`response_action`,
/// an ephemeral reply) as `payload`. A payload we could not read is acked
/// too (re-delivering it cannot help). `None` for work we could not do
/// now: like a 503 over HTTP, the missing ack makes Slack deliver it again.
pub fn reply_ack(envelope_id: &str, reply: &Reply) -> Option<String> {
    match reply {
        Reply::Ack | Reply::BadRequest(_) => Some(ack(envelope_id)),
        Reply::Json(body) => Some(json!({ "envelope_id": envelope_id, "payload": body }).to_string()),
        Reply::Unavailable(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testkit/samples/socket-mode");

    fn sample(name: &str) -> String {
        std::fs::read_to_string(format!("{SAMPLES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn the_samples_unwrap_into_their_kinds() {
        assert!(matches!(frame(&sample("hello.json")).unwrap().kind, FrameKind::Hello));
        let disconnect = frame(&sample("disconnect.json")).unwrap();
        assert!(matches!(disconnect.kind, FrameKind::Disconnect { reason } if reason == "refresh_requested"));
        for (file, expected, accepts) in [
            ("slash_commands.json", PayloadKind::SlashCommand, "trigger_id"),
            ("interactive.json", PayloadKind::Interactive, "view_submission"),
            ("events_api.json", PayloadKind::EventsApi, "reaction_added"),
        ] {
            let frame = frame(&sample(file)).unwrap();
            assert!(frame.envelope_id.is_some(), "{file}");
            assert_eq!(frame.retry_attempt, 0);
            let FrameKind::Envelope { kind, payload } = frame.kind else {
                panic!("{file} is not an envelope")
            };
            assert_eq!(kind, expected);
            assert!(payload.contains(accepts), "{file}");
        }
    }

    #[test]
    fn the_payload_is_handed_on_as_sent_and_parses_like_http() {
        let FrameKind::Envelope { payload, .. } = frame(&sample("slash_commands.json")).unwrap().kind else {
            panic!("not an envelope")
        };
        let command = crate::slack::inbound::command_payload(&payload).expect("parses");
        assert_eq!(
            (command.user.as_str(), command.channel.as_str()),
            ("U0SUBMIT01", "C0GENERAL1")
        );
        let FrameKind::Envelope { payload, .. } = frame(&sample("interactive.json")).unwrap().kind else {
            panic!("not an envelope")
        };
        assert!(matches!(
            crate::slack::inbound::interaction_payload(&payload),
            Ok(crate::slack::inbound::Interaction::SubmitRequest(_))
        ));
    }

    #[test]
    fn acks_carry_what_the_http_body_would() {
        let errors =
            json!({"response_action": "errors", "errors": {"title": "A title is required (max 150 characters)"}});
        let with_payload: Value =
            serde_json::from_str(&reply_ack("c4d5e6f7-8a9b-4c0d-b1e2-f3a4b5c6d7e8", &Reply::Json(errors)).unwrap())
                .unwrap();
        let expected: Value = serde_json::from_str(&sample("ack_with_payload.json")).unwrap();
        assert_eq!(with_payload, expected);
        let plain: Value =
            serde_json::from_str(&reply_ack("3f1c9e2a-7b4d-4e8f-a0c1-5d6e7f8a9b0c", &Reply::Ack).unwrap()).unwrap();
        assert_eq!(plain, serde_json::from_str::<Value>(&sample("ack.json")).unwrap());
        assert!(reply_ack("x", &Reply::BadRequest("bad".into())).is_some());
        assert_eq!(reply_ack("x", &Reply::Unavailable("later".into())), None);
    }

    #[test]
    fn odd_frames_are_errors_or_other_never_panics() {
        assert!(frame("not json").is_err());
        assert!(frame("[1,2]").is_err());
        let unknown = frame(r#"{"type":"brand_new","envelope_id":"e1"}"#).unwrap();
        assert!(matches!(unknown.kind, FrameKind::Other(kind) if kind == "brand_new"));
        assert_eq!(unknown.envelope_id.as_deref(), Some("e1"));
        let bare = frame(r#"{"type":"events_api","envelope_id":"e2","retry_attempt":2}"#).unwrap();
        assert!(matches!(bare.kind, FrameKind::Envelope { payload, .. } if payload == "null"));
        assert_eq!(bare.retry_attempt, 2);
        assert!(matches!(frame("{}").unwrap().kind, FrameKind::Other(_)));
    }
}
