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
