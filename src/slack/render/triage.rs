//! Triage in Slack's words: the modals that collect a step's details, the
//! line each step adds to the intake thread, the DMs that close the loop,
//! and the explanation when a step is refused.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::{button, escape, mrkdwn_section, plain, slack_date, tracker_link};
use crate::domain::request::{Request, RequestNumber};
use crate::domain::severity::Severities;
use crate::domain::state::State;
use crate::domain::team::Team;
use crate::domain::triage::{Actor, Allowed, Event, StepKind, TransitionError};
use crate::slack::action::{Action, Modal, StepForm};
use crate::slack::api::Unreachable;

fn text_input(block: &str, label: &str, multiline: bool, optional: bool, hint: Option<&str>) -> Value {
    let mut input = json!({
        "type": "input", "block_id": block, "label": plain(label), "optional": optional,
        "element": {"type": "plain_text_input", "action_id": format!("{block}_input"), "multiline": multiline, "max_length": 2000},
    });
    if let Some(hint) = hint {
        input["hint"] = plain(hint);
    }
    input
}

/// The modal for a step on request `request`; `metadata` travels back on
/// submit. `creates_in`: the tracker Accept creates the issue in when its
/// field is left empty (then the field is optional).
pub fn step_modal(
    form: StepForm,
    request: &Request,
    metadata: &str,
    tomorrow: NaiveDate,
    creates_in: Option<&str>,
) -> Value {
    let creates_hint = creates_in.map(|tracker| format!("Leave empty to create the issue in {tracker}."));
    let (title, submit, intro, inputs) = match form {
        StepForm::AskInfo => (
            "Ask for info",
            "Ask",
            "The submitter gets your question by DM.",
            vec![text_input("question", "Question", true, false, None)],
        ),
        StepForm::Accept => (
            "Accept",
            "Accept",
            "Accepted work is prioritised and tracked.",
            vec![
                text_input(
                    "tracker",
                    "Tracker key or link",
                    false,
                    creates_in.is_some(),
                    Some(creates_hint.as_deref().unwrap_or("e.g. PROJ-7 or https://…")),
                ),
                text_input("expectation", "When can they expect it?", false, true, None),
            ],
        ),
        StepForm::Defer => (
            "Defer",
            "Defer",
            "Not now: it comes back to the queue on the revisit date.",
            vec![
                json!({"type": "input", "block_id": "revisit", "label": plain("Revisit on"),
                        "element": {"type": "datepicker", "action_id": "revisit_input", "initial_date": tomorrow.format("%Y-%m-%d").to_string()}}),
                text_input("reason", "Why not now?", true, false, None),
            ],
        ),
        StepForm::Reject => (
            "Reject",
            "Reject",
            "The submitter reads your reason: say why, in at least a sentence.",
            vec![text_input("reason", "Reason", true, false, None)],
        ),
        StepForm::Resolve => (
            "Resolve",
            "Resolve",
            "The submitter is asked to confirm the fix.",
            vec![text_input("note", "Resolution", true, false, None)],
        ),
        StepForm::AddInfo => (
            "Add info",
            "Send",
            "Your answer goes to the owner and the request's thread.",
            vec![text_input("answer", "Your answer", true, false, None)],
        ),
    };
    let mut blocks = vec![mrkdwn_section(format!(
        "*{} {}*\n{intro}",
        request.number,
        escape(request.title.as_str())
    ))];
    blocks.extend(inputs);
    json!({
        "type": "modal", "callback_id": Modal::Step(form).callback_id(), "title": plain(title), "submit": plain(submit),
        "close": plain("Cancel"), "private_metadata": metadata, "blocks": blocks,
    })
}

/// A step's words in a message: escaped and cut so that, with the title and
/// wording around them, a section stays inside Slack's 3,000 characters.
fn words(text: &str) -> String {
    super::escape_truncated(text, 1500)
}

fn who(actor: &Actor) -> String {
    match actor {
        Actor::Person { user, .. } => format!("<@{user}>"),
        Actor::Scheduler => "intake".to_string(),
        Actor::Tracker { tracker } => tracker_link(tracker),
    }
}

fn severity_name(request: &Request, severities: &Severities) -> String {
    escape(super::severity_label(request, severities))
}

/// The line a step adds to the intake message's thread.
pub fn thread_note(event: &Event, actor: &Actor, after: &Request, severities: &Severities) -> String {
    let by = who(actor);
    match event {
        Event::Take => format!("{by} took ownership."),
        Event::Assign { to } => format!("{by} assigned it to <@{to}>."),
        Event::SetSeverity { .. } => format!("{by} set the severity to {}.", severity_name(after, severities)),
        Event::Escalate { emoji, .. } => format!(
            "⬆ Escalated to {} by {by} with :{}:. Now due {}.",
            severity_name(after, severities),
            escape(emoji),
            slack_date(after.deadlines.resolution_due)
        ),
        Event::AskInfo { question } => format!("{by} asked the submitter: {}", words(question.as_str())),
        Event::AddInfo { answer } => format!("<@{}> added info: {}", after.submitter, words(answer.as_str())),
        Event::Resume => format!("{by} resumed work on it."),
        Event::Accept { tracker, expectation } => format!(
            "Accepted by {by}: {}{}",
            tracker_link(tracker),
            expectation
                .as_ref()
                .map_or(String::new(), |e| format!(" — expected {}", words(e.as_str())))
        ),
        Event::Defer { until, reason } => {
            format!(
                "Deferred by {by} until {}: {}",
                until.format("%Y-%m-%d"),
                words(reason.as_str())
            )
        }
        Event::Reject { reason } => format!("Rejected by {by}: {}", words(reason.as_str())),
        Event::Resolve { note } => format!("Resolved by {by}: {}", words(note.as_str())),
        Event::Confirm => format!("<@{}> confirmed the fix. Closed.", after.submitter),
        Event::Reopen if matches!(actor, Actor::Tracker { .. }) => {
            format!("{by} was reopened in the tracker: accepted again.")
        }
        Event::Reopen => format!("Reopened by {by}."),
        Event::Revisit => "The revisit date arrived; back in the triage queue.".to_string(),
        Event::AutoClose => "Closed: no answer from the submitter after the resolution.".to_string(),
        Event::MoveTeam { to, .. } => format!("{by} moved it to team {}.", escape(to)),
    }
}

/// The controls in a submitter's DM (`block_id` `dm:<n>`).
pub(crate) fn dm_buttons(number: RequestNumber, buttons: &[(Action, &str, Option<&str>)]) -> Value {
    let elements: Vec<Value> = buttons
        .iter()
        .map(|(action, label, style)| button(*action, label, number, *style))
        .collect();
    json!({"type": "actions", "block_id": format!("dm:{}", number.0), "elements": elements})
}

/// "Yes, fixed" / "Still broken", after a resolution.
pub(crate) fn confirm_buttons(number: RequestNumber) -> Value {
    dm_buttons(
        number,
        &[
            (Action::Confirm, "Yes, fixed", Some("primary")),
            (Action::Reopen, "Still broken", Some("danger")),
        ],
    )
}

fn dm(channel: &str, text: String, extra: Option<Value>) -> Value {
    let mut blocks = vec![mrkdwn_section(text.clone())];
    blocks.extend(extra);
    json!({"channel": channel, "text": text, "blocks": blocks, "unfurl_links": false})
}

/// The submitter's DM after a step: what happened and what happens next.
pub fn submitter_dm(event: &Event, actor: &Actor, after: &Request, team: &Team) -> Value {
    let severities = &team.severities;
    let office_hours = &team.office_hours;
    let subject = format!("{} {}", after.number, escape(after.title.as_str()));
    let by = who(actor);
    let n = after.number;
    // Only a recorded receipt has a thread whose replies are relayed.
    let threaded = after.receipt.is_some();
    let (text, extra) = match event {
        Event::Take | Event::Assign { .. } => (
            format!(
                "Your request *{subject}* now has an owner: <@{}>. Resolution due {}.",
                after.owner.as_deref().unwrap_or_default(),
                slack_date(after.deadlines.resolution_due)
            ),
            None,
        ),
        Event::SetSeverity { .. } => (
            format!(
                "{by} set your request *{subject}* to *{}*. It is now due {}.",
                severity_name(after, severities),
                slack_date(after.deadlines.resolution_due)
            ),
            None,
        ),
        Event::Escalate { emoji, .. } => (
            format!(
                "{by} escalated your request *{subject}* to *{}* with :{}:. It is now due {}.",
                severity_name(after, severities),
                escape(emoji),
                slack_date(after.deadlines.resolution_due)
            ),
            None,
        ),
        Event::AskInfo { question } => (
            format!(
                "{by} needs more information about *{subject}*:\n>{}\nAnswer with *Add info* below{}. {}",
                words(question.as_str()),
                if threaded { ", or reply in this thread" } else { "" },
                escape(office_hours)
            ),
            Some(dm_buttons(n, &[(Action::AddInfo, "Add info", Some("primary"))])),
        ),
        Event::Resume => (format!("{by} is working on *{subject}* again."), None),
        Event::Accept { tracker, expectation } => (
            format!(
                "Good news: *{subject}* was accepted by {by}. It is tracked in {}.{}",
                tracker_link(tracker),
                expectation
                    .as_ref()
                    .map_or(String::new(), |e| format!(" Expected: {}.", words(e.as_str())))
            ),
            None,
        ),
        Event::Defer { until, reason } => (
            format!(
                "*{subject}* is deferred until {}. {by}'s reason:\n>{}\nIt comes back to the triage queue then.",
                until.format("%Y-%m-%d"),
                words(reason.as_str())
            ),
            None,
        ),
        Event::Reject { reason } => (
            format!(
                "*{subject}* was rejected by {by}. The reason:\n>{}\n{}",
                words(reason.as_str()),
                match threaded {
                    true => "Reply in this thread to talk it over; if you disagree, ask a triager to reopen it.",
                    false => "If you disagree, ask a triager to reopen it.",
                }
            ),
            None,
        ),
        Event::Resolve { note } => (
            format!(
                "*{subject}* was resolved by {by}:\n>{}\nIs it fixed for you?",
                words(note.as_str())
            ),
            Some(confirm_buttons(n)),
        ),
        Event::Confirm => (format!("Thanks for confirming. *{subject}* is closed."), None),
        Event::AutoClose => (
            format!(
                "*{subject}* was closed: we did not hear back after it was resolved. Ask a triager to reopen it if it is not fixed."
            ),
            None,
        ),
        Event::Reopen if matches!(actor, Actor::Tracker { .. }) => (
            format!(
                "*{subject}* is being worked on again: {by}, where it is tracked, was reopened. It is accepted work with <@{}>, and you will hear when it is resolved.",
                after.owner.as_deref().unwrap_or_default()
            ),
            None,
        ),
        Event::Reopen => (
            format!(
                "{by} reopened *{subject}*; it is back with <@{}>.",
                after.owner.as_deref().unwrap_or_default()
            ),
            None,
        ),
        Event::Revisit => (
            format!(
                "*{subject}* reached its revisit date and is back in the triage queue with <@{}>.",
                after.owner.as_deref().unwrap_or_default()
            ),
            None,
        ),
        Event::AddInfo { .. } => (format!("*{subject}* is now {}.", after.state.label()), None),
        Event::MoveTeam { .. } => (
            format!(
                "{by} moved your request *{subject}* to *{}*, the team that owns it: follow it in {}. Triage due {}, resolution due {}.{}",
                escape(&team.name),
                super::channel_mention(&team.channel),
                slack_date(after.deadlines.response_due),
                slack_date(after.deadlines.resolution_due),
                super::office_hours(team),
            ),
            None,
        ),
    };
    let dm = dm(&after.submitter, text, extra);
    // A question or a rejection invites an answer: it goes in the receipt's
    // thread, whose replies reach the intake thread.
    match (event, threaded) {
        (Event::AskInfo { .. } | Event::Reject { .. }, true) => super::in_receipt_thread(dm),
        _ => dm,
    }
}

/// The owner's DM after a step someone else took.
pub fn owner_dm(event: &Event, actor: &Actor, after: &Request, owner: &str, severities: &Severities) -> Value {
    let subject = format!("{} {}", after.number, escape(after.title.as_str()));
    let by = who(actor);
    let text = match event {
        Event::AddInfo { answer } => format!(
            "<@{}> answered on *{subject}*:\n>{}",
            after.submitter,
            words(answer.as_str())
        ),
        Event::Reopen if matches!(actor, Actor::Tracker { .. }) => {
            format!("{by} was reopened in the tracker, so *{subject}* is accepted work again, with you.")
        }
        Event::Reopen => format!("{by} reopened *{subject}*: it is back with you."),
        Event::Confirm => format!("<@{}> confirmed *{subject}* is fixed. Closed.", after.submitter),
        Event::Revisit => format!("*{subject}* reached its revisit date and is back with you."),
        Event::Escalate { emoji, .. } => format!(
            "{by} escalated *{subject}* to *{}* with :{}:. It is now due {}.",
            severity_name(after, severities),
            escape(emoji),
            slack_date(after.deadlines.resolution_due)
        ),
        _ => format!(
            "{by} gave you *{subject}*. Resolution due {}.",
            slack_date(after.deadlines.resolution_due)
        ),
    };
    dm(owner, text, None)
}

/// A step as a verb phrase about `object`: "add info to #1".
pub fn step_phrase(step: StepKind, object: &str) -> String {
    match step {
        StepKind::Take => format!("take {object}"),
        StepKind::Assign => format!("assign {object}"),
        StepKind::SetSeverity => format!("change the severity of {object}"),
        StepKind::Escalate => format!("escalate {object}"),
        StepKind::AskInfo => format!("ask for info on {object}"),
        StepKind::AddInfo => format!("add info to {object}"),
        StepKind::Resume => format!("resume {object}"),
        StepKind::Accept => format!("accept {object}"),
        StepKind::Defer => format!("defer {object}"),
        StepKind::Reject => format!("reject {object}"),
        StepKind::Resolve => format!("resolve {object}"),
        StepKind::Confirm => format!("confirm the fix of {object}"),
        StepKind::Reopen => format!("reopen {object}"),
        StepKind::Revisit => format!("bring back {object}"),
        StepKind::AutoClose => format!("close {object}"),
        StepKind::MoveTeam => format!("move {object} to another team"),
    }
}

/// A state as the end of "#42 is …".
pub fn state_phrase(state: State) -> &'static str {
    match state {
        State::NeedsInfo => "waiting for information",
        other => other.label(),
    }
}

fn allowed_people(allowed: Allowed) -> &'static str {
    match allowed {
        Allowed::Anyone => "people in Slack",
        Allowed::Triagers => "triagers",
        Allowed::TriagersAndOwner => "the owner or a triager",
        Allowed::SubmitterAndOwner => "the submitter or the owner",
        Allowed::Submitter => "the submitter",
        Allowed::Scheduler => "intake itself",
        Allowed::Tracker => "the tracker issue it was accepted into",
    }
}

/// The tracker closed `request`'s issue as not planned (`how`: the
/// tracker's words, like "Won't Do"): nothing changed, and whoever owns it
/// (the intake thread when no one does) decides what the submitter hears.
pub fn not_planned(request: &Request, tracker: &str, how: &str) -> Value {
    let subject = format!("{} {}", request.number, escape(request.title.as_str()));
    let closed = format!(
        "{} was closed in the tracker as not planned ({}), but *{subject}* is still {}: the submitter has not been told.",
        escape(tracker),
        escape(how),
        state_phrase(request.state)
    );
    let what_next = match request.state {
        State::Triaged | State::Accepted => {
            "Decide what they hear: *Defer* it with a revisit date, or *Resolve* it with a note saying why it will not be done. If the issue was closed by mistake, reopen it in the tracker."
        }
        _ => {
            "Decide what they hear, from the request's card; if the issue was closed by mistake, reopen it in the tracker."
        }
    };
    let text = format!("{closed}\n{what_next}");
    let controls: Vec<(Action, &str, Option<&str>)> = match request.state {
        State::Triaged | State::Accepted => vec![(Action::Defer, "Defer", None), (Action::Resolve, "Resolve", None)],
        _ => Vec::new(),
    };
    match &request.owner {
        Some(owner) if !controls.is_empty() => dm(owner, text, Some(dm_buttons(request.number, &controls))),
        Some(owner) => dm(owner, text, None),
        None => super::thread_reply(&text, false),
    }
}

/// The DM to whoever owned a request before it was reassigned.
pub fn previous_owner_dm(actor: &Actor, after: &Request, previous: &str) -> Value {
    let subject = format!("{} {}", after.number, escape(after.title.as_str()));
    let text = format!(
        "{} reassigned *{subject}* to <@{}>; it is no longer yours.",
        who(actor),
        after.owner.as_deref().unwrap_or_default()
    );
    dm(previous, text, None)
}

/// Why a step was refused, for the person who tried it.
pub fn refusal(request: &Request, error: &TransitionError, team: &Team) -> String {
    let n = request.number;
    match error {
        TransitionError::OtherTeam { .. } => format!(
            "{n} belongs to {}; ask in {}.",
            escape(&team.name),
            super::channel_mention(&team.channel)
        ),
        TransitionError::AlreadyOwned { owner } => format!("{n} is already owned by <@{owner}>."),
        TransitionError::NotNow { step, state } => format!(
            "{n} is {} now, so you cannot {} (the message you clicked was out of date).",
            state_phrase(*state),
            step_phrase(*step, "it")
        ),
        TransitionError::Forbidden { step, allowed } => format!(
            "Only {} can {}.",
            allowed_people(*allowed),
            step_phrase(*step, &n.to_string())
        ),
        TransitionError::Unchanged => format!("{n} already looks like that; nothing changed."),
    }
}

/// The line in the request's thread when a DM to `person` died because
/// they cannot be reached; `owner`: they own the request.
pub fn unreachable_line(person: &str, why: Unreachable, owner: bool) -> Value {
    let why = match why {
        Unreachable::UnknownUser => "Slack does not know them (they may have left)",
        Unreachable::Deactivated => "their account is deactivated",
        Unreachable::Bot => "they are a bot, and bots cannot be sent DMs",
    };
    let next = match owner {
        true => "They own this request: a triager should assign it to someone else.",
        false => "They will not hear from me about this request.",
    };
    super::thread_reply(&format!("I could not reach <@{person}> by DM: {why}. {next}"), false)
}
