//! What a person gets back at once: ephemeral answers, modal field errors,
//! and the explanations sent when nothing happened.

use serde_json::{Value, json};

use super::{escape, slack_date};
use crate::domain::escalation::Ignored;
use crate::domain::request::{Request, RequestNumber};
use crate::domain::severity::Severities;

/// An ephemeral answer in the response to a command.
pub fn ephemeral_reply(text: impl Into<String>) -> Value {
    json!({"response_type": "ephemeral", "text": text.into()})
}

/// `chat.postEphemeral`'s body: `text` for `user` only, in `channel`.
pub fn ephemeral_message(channel: &str, user: &str, text: &str) -> Value {
    json!({"channel": channel, "user": user, "text": text})
}

/// A plain DM to `user` (a post to their user id).
pub fn dm_message(user: &str, text: &str) -> Value {
    json!({"channel": user, "text": text})
}

/// The Events API's URL check, answered.
pub fn url_challenge(challenge: &str) -> Value {
    json!({ "challenge": challenge })
}

/// `{"response_action":"errors"}` for one block of a modal.
pub fn field_error(block: &str, message: impl Into<String>) -> Value {
    json!({"response_action": "errors", "errors": {block: message.into()}})
}

pub fn request_not_saved() -> Value {
    field_error(
        "title",
        "Sorry, your request could not be saved just now. Please submit again in a moment.",
    )
}

pub fn step_not_saved(block: &str) -> Value {
    field_error(
        block,
        "Sorry, this could not be saved just now. Please submit again in a moment.",
    )
}

pub fn no_such_request(number: RequestNumber) -> String {
    format!("There is no request {number}.")
}

/// `/request N` for someone not involved, under `request_visibility = "involved"`.
pub fn not_involved(number: RequestNumber) -> String {
    format!(
        "Requests here are visible to the people involved: you can look up requests you filed, own or said you need (+1). {number} is not one of them; ask a triager."
    )
}

pub fn pick_team() -> String {
    "Pick the team to move it to from the list.".into()
}

pub fn queue_is_for_triagers() -> String {
    "Only triagers see the whole queue. `/request list` shows your own requests.".into()
}

pub fn store_unavailable() -> String {
    "Sorry, I cannot reach my database right now. Please try again in a minute.".into()
}

/// `views.open` failed: what to do, not Slack's error code (that is logged).
pub fn form_not_opened() -> String {
    "Sorry, Slack did not open the request form in time. Please run `/request` again; if it keeps failing, tell the product team in their channel.".into()
}

pub fn shortcut_form_not_opened() -> String {
    "Sorry, Slack did not open the request form in time. Please use *File as request* on the message again.".into()
}

/// *File as request* (or the file emoji) on a message with no words.
pub fn nothing_to_file() -> String {
    "That message has no text to file (only attachments or blocks I cannot read). Use `/request` and describe it, with a link to the message.".into()
}

/// The file emoji on a message whose words make no valid request.
pub fn message_not_fileable(problems: &str) -> String {
    format!("I could not file that message as it is: {problems} Use `/request` to file it by hand.")
}

/// Accept with no tracker, and none configured to create one.
pub fn tracker_required() -> String {
    "Give the tracker key (like PROJ-7) or a link: no tracker is configured to create the issue.".into()
}

/// The tracker refused to create the issue Accept asked for.
pub fn issue_not_created(number: RequestNumber, tracker: &str, error: &str) -> String {
    format!(
        "{tracker} refused to create the issue for {number}: {}. {number} was left as it was: fix the tracker settings (or ask an admin), then accept it again, or type the key of an existing issue.",
        super::escape(error)
    )
}

/// The issue exists, but the request could not be accepted any more.
pub fn issue_created_but_refused(number: RequestNumber, url: &str, why: &str) -> String {
    format!(
        "The issue for {number} was created ({}), but {number} could not be accepted: {why}",
        super::escape(url)
    )
}

pub fn step_form_not_opened() -> String {
    "Sorry, Slack did not open the form in time. Please click the button again.".into()
}

pub fn pick_assignee() -> String {
    "Pick someone to assign it to.".into()
}

pub fn pick_severity() -> String {
    "Pick one of the listed severities.".into()
}

/// A control whose id this version does not know (an old message, say).
pub fn unknown_control(id: &str) -> String {
    format!(
        "I do not know the control `{}`; the message may be from an older version of intake. Use `/request list` to find the request.",
        escape(id)
    )
}

/// *Post again* clicked by someone who does not triage.
pub fn repost_is_for_triagers(number: RequestNumber) -> String {
    format!("Only triagers can post {number} again.")
}

/// *Post again* worked: the card is on its way.
pub fn reposting(number: RequestNumber, intake_channel: &str, waiting: usize) -> String {
    let waiting = match waiting {
        0 => String::new(),
        1 => " The message that was waiting for it follows.".to_string(),
        n => format!(" The {n} messages that were waiting for it follow."),
    };
    format!(
        "Posting {number} to {} again.{waiting}",
        super::channel_mention(intake_channel)
    )
}

/// *Post again* on a request whose card is already up.
pub fn already_posted(number: RequestNumber) -> String {
    format!("{number} is already posted in the intake channel; nothing to do.")
}

/// *Post again* while a post of the card is still on its way.
pub fn repost_under_way(number: RequestNumber) -> String {
    format!("{number} is already being posted; if it fails again, the triagers will hear.")
}

/// Several changes raced and ours kept losing.
pub fn busy(number: RequestNumber) -> String {
    format!("{number} is changing right now; please try again.")
}

/// Why an escalation emoji changed nothing, for the person who added it.
pub fn not_escalated(request: &Request, why: &Ignored, emoji: &str, severities: &Severities) -> String {
    let n = request.number;
    let emoji = escape(emoji);
    match why {
        Ignored::NotEscalation => format!(":{emoji}: does not escalate requests."),
        Ignored::Finished => format!(
            "{n} is {}, so reactions do not escalate it. Ask a triager to reopen it if it needs attention again.",
            request.state.label()
        ),
        Ignored::Resolved => format!(
            "{n} is resolved, so reactions do not escalate it. If it is still broken, the submitter can say so with *Still broken* in their DM, or a triager can reopen it."
        ),
        Ignored::NotHigher => format!(
            "{n} is already {}, so :{emoji}: cannot raise it.",
            escape(super::severity_label(request, severities))
        ),
        Ignored::AlreadyAtThisLevel => {
            format!("You already escalated {n} to that level once; someone else can raise it further.")
        }
        Ignored::CoolingDown { until } => format!(
            "You escalated {n} a moment ago; you can escalate it again after {}.",
            slack_date(*until)
        ),
        Ignored::LimitReached => {
            format!("You have escalated {n} as often as one person can; ask a triager if it needs more attention.")
        }
    }
}
