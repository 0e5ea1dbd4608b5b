//! `/request …`: a slash command's form body, parsed into what it asks.

use serde::Deserialize;

use super::ParseError;
use crate::domain::request::RequestNumber;

/// A `/request` invocation.
#[derive(Debug, Clone)]
pub struct SlashCommand {
    pub user: String,
    /// Where it was typed.
    pub channel: String,
    /// The channel's name, when Slack sends it.
    pub channel_name: Option<String>,
    pub trigger_id: String,
    pub intent: CommandIntent,
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
    Status(RequestNumber),
    /// `who <words>`: which team owns what the words describe.
    Who(String),
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
        let open = || Self::OpenForm {
            title: text.to_string(),
        };
        if text.eq_ignore_ascii_case("who") {
            return Self::Who(String::new());
        }
        if let Some(words) = text.get(4..).filter(|_| text[..4].eq_ignore_ascii_case("who ")) {
            return Self::Who(words.trim().to_string());
        }
        match text.to_lowercase().as_str() {
            "help" | "?" => Self::Help,
            "list" => Self::Mine,
            "list all" => Self::Queue,
            _ if !number.is_empty() && number.len() <= 15 && number.chars().all(|c| c.is_ascii_digit()) => number
                .parse()
                .map_or_else(|_| open(), |n| Self::Status(RequestNumber(n))),
            _ => open(),
        }
    }
}

/// The fields of Slack's slash command payload that intake reads (the
/// names of slack-morphism's `SlackCommandEvent`). Narrower than that
/// model on purpose: it is read on every `/request`, and the full model
/// parses `response_url` as a URL, which intake never uses (a profile of
/// the `/request` load showed it; see BENCHMARKS.md).
#[derive(Deserialize)]
struct CommandFields {
    user_id: String,
    channel_id: String,
    channel_name: Option<String>,
    trigger_id: String,
    text: Option<String>,
}

/// A `/request` invocation, parsed from its form body.
pub fn command(body: &[u8]) -> Result<SlashCommand, ParseError> {
    let fields: CommandFields =
        serde_urlencoded::from_bytes(body).map_err(|e| ParseError(format!("malformed slash command body: {e}")))?;
    Ok(SlashCommand::from(fields))
}

/// A `/request` invocation from a Socket Mode envelope: the same fields as
/// the form body, as a JSON object.
pub fn command_payload(payload: &str) -> Result<SlashCommand, ParseError> {
    let fields: CommandFields =
        serde_json::from_str(payload).map_err(|e| ParseError(format!("malformed slash command payload: {e}")))?;
    Ok(SlashCommand::from(fields))
}

impl From<CommandFields> for SlashCommand {
    fn from(fields: CommandFields) -> Self {
        Self {
            intent: CommandIntent::from_text(fields.text.as_deref()),
            user: fields.user_id,
            channel: fields.channel_id,
            channel_name: fields.channel_name,
            trigger_id: fields.trigger_id,
        }
    }
}
