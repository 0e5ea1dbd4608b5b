//! The Events API envelope, and the reaction events inside it.

use serde::Deserialize;

use super::ParseError;
use crate::domain::request::MessageRef;

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

/// `app_home_opened` on the Home tab (not Messages or About): who opened it.
pub fn home_opened(event: &serde_json::Value) -> Option<&str> {
    let field = |key: &str| event.get(key).and_then(serde_json::Value::as_str);
    match (field("type"), field("tab")) {
        (Some("app_home_opened"), Some("home")) => field("user"),
        _ => None,
    }
}

pub fn event(body: &[u8]) -> Result<EventEnvelope, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError(format!("malformed event: {e}")))
}

/// A stored event callback, as Slack sent it: the reaction and who it was
/// delivered for.
#[derive(Debug, Deserialize)]
pub struct ReactionEnvelope {
    pub event: Reaction,
    #[serde(default)]
    pub authorizations: Vec<Authorization>,
}

impl ReactionEnvelope {
    pub fn parse(payload: &str) -> Option<Self> {
        serde_json::from_str(payload).ok()
    }
}

/// `reaction_added` / `reaction_removed`.
#[derive(Debug, Deserialize)]
pub struct Reaction {
    #[serde(rename = "type")]
    kind: String,
    pub user: String,
    /// The emoji's name, as Slack sends it (`arrow_up::skin-tone-2`).
    pub reaction: String,
    item: Item,
}

#[derive(Debug, Deserialize)]
struct Item {
    #[serde(rename = "type")]
    kind: String,
    channel: Option<String>,
    ts: Option<String>,
}

impl Reaction {
    /// The `event` of an envelope, if it is a reaction.
    pub fn from_event(event: &serde_json::Value) -> Option<Self> {
        Self::deserialize(event).ok()
    }

    pub fn added(&self) -> bool {
        self.kind == "reaction_added"
    }

    /// The message reacted to; `None` for files and file comments.
    pub fn message(&self) -> Option<MessageRef> {
        if self.item.kind != "message" {
            return None;
        }
        Some(MessageRef::new(self.item.channel.clone()?, self.item.ts.clone()?))
    }
}

/// A person's reply in a thread (`message.channels`, `message.groups`,
/// `message.im`): what the conversation relay carries. Judged from the
/// event alone, so the ack path drops everything else unstored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadReply {
    /// The conversation: the intake channel, or a `D…` DM.
    pub channel: String,
    pub user: String,
    /// The reply's own ts: with `channel`, what makes it one message
    /// whatever event id delivers it.
    pub ts: String,
    /// The thread's first message: a request's card or receipt DM, maybe.
    pub thread_ts: String,
    /// The words as the person typed them (Slack's `&amp;`, `&lt;`, `&gt;`
    /// decoded); empty for a file shared without a comment. Not yet
    /// escaped for mrkdwn.
    pub text: String,
}

/// A `message` event as Slack sends it.
#[derive(Debug, Deserialize)]
struct MessageEvent {
    #[serde(rename = "type")]
    kind: String,
    subtype: Option<String>,
    bot_id: Option<String>,
    user: Option<String>,
    channel: Option<String>,
    ts: Option<String>,
    thread_ts: Option<String>,
    #[serde(default)]
    text: String,
}

impl ThreadReply {
    /// The reply in a `message` event, or `None` for what is never relayed:
    /// bots (the bot's own messages included: `bot_id`, or the bot's user
    /// id `bot`), edits, deletions and every other subtype except
    /// `thread_broadcast` and `file_share`, and messages outside a thread
    /// (top-level, or a thread's first message).
    pub fn from_event(event: &serde_json::Value, bot: Option<&str>) -> Option<Self> {
        let message = MessageEvent::deserialize(event).ok()?;
        if message.kind != "message" || message.bot_id.is_some() {
            return None;
        }
        if !matches!(
            message.subtype.as_deref(),
            None | Some("thread_broadcast" | "file_share")
        ) {
            return None;
        }
        let user = message.user.filter(|u| !u.is_empty() && Some(u.as_str()) != bot)?;
        let (ts, thread_ts) = (message.ts?, message.thread_ts?);
        if ts == thread_ts {
            return None;
        }
        Some(Self {
            channel: message.channel?,
            user,
            ts,
            thread_ts,
            text: unescape(&message.text),
        })
    }

    /// The thread's first message.
    pub fn parent(&self) -> MessageRef {
        MessageRef::new(self.channel.clone(), self.thread_ts.clone())
    }
}

/// Slack escapes `&`, `<` and `>` in message text it sends; the words as
/// typed, to be escaped again wherever they are shown (`&amp;` last, so
/// `&amp;lt;`, a typed `&lt;`, stays `&lt;`).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// A stored event callback holding a thread reply, with who it was
/// delivered for.
#[derive(Debug, Deserialize)]
pub struct MessageEnvelope {
    event: serde_json::Value,
    #[serde(default)]
    authorizations: Vec<Authorization>,
}

impl MessageEnvelope {
    /// The thread reply in a stored callback; `None` when it is not a
    /// message event at all (`Some(None)`: a message never relayed).
    pub fn parse(payload: &str) -> Option<Option<ThreadReply>> {
        let envelope: Self = serde_json::from_str(payload).ok()?;
        if envelope.event.get("type").and_then(serde_json::Value::as_str) != Some("message") {
            return None;
        }
        Some(ThreadReply::from_event(
            &envelope.event,
            bot_user(&envelope.authorizations),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reply(fields: serde_json::Value) -> Option<ThreadReply> {
        let mut event = json!({
            "type": "message", "channel": "C0INTAKE01", "user": "U0TRIAGE01",
            "text": "Which browser? &lt;b&gt; &amp;lt;", "ts": "2.000100", "thread_ts": "1.000100",
            "channel_type": "channel",
        });
        for (key, value) in fields.as_object().unwrap() {
            match value {
                serde_json::Value::Null => event.as_object_mut().unwrap().remove(key),
                _ => event.as_object_mut().unwrap().insert(key.clone(), value.clone()),
            };
        }
        ThreadReply::from_event(&event, Some("U0INTAKE01"))
    }

    #[test]
    fn a_person_s_thread_reply_is_kept_with_the_words_as_typed() {
        let kept = reply(json!({})).expect("kept");
        assert_eq!(kept.text, "Which browser? <b> &lt;");
        assert_eq!(kept.parent(), MessageRef::new("C0INTAKE01", "1.000100"));
        assert!(reply(json!({"subtype": "thread_broadcast"})).is_some());
        assert!(reply(json!({"subtype": "file_share", "text": ""})).is_some());
    }

    #[test]
    fn bots_edits_deletions_and_top_level_messages_are_not_replies() {
        for ignored in [
            json!({"bot_id": "B0DEPLOY001"}),
            json!({"user": "U0INTAKE01"}),
            json!({"subtype": "message_changed", "user": null}),
            json!({"subtype": "message_deleted", "user": null}),
            json!({"subtype": "channel_join"}),
            json!({"thread_ts": null}),
            json!({"thread_ts": "2.000100"}),
            json!({"type": "reaction_added"}),
        ] {
            assert_eq!(reply(ignored.clone()), None, "{ignored}");
        }
    }
}
