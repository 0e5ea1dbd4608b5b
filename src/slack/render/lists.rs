//! `/request list`, `/request list all` and `/request 42`: ephemeral
//! answers built from the store.

use super::{SECTION_TEXT_MAX, escape, escape_truncated, link_target, slack_date, tracker_link};
use crate::domain::audit::{Details, Entry};
use crate::domain::request::Request;
use crate::domain::state::State;

/// The deadline that is running, in words: triage, resolution, or none.
pub(crate) fn running_deadline(request: &Request) -> String {
    match request.state {
        State::New => format!("triage due {}", slack_date(request.deadlines.response_due)),
        State::Triaged | State::Accepted => format!("resolution due {}", slack_date(request.deadlines.resolution_due)),
        State::NeedsInfo | State::Deferred => "SLA paused".to_string(),
        State::Resolved => "waiting for the submitter to confirm".to_string(),
        State::Rejected | State::Closed => "finished".to_string(),
    }
}

fn line(request: &Request) -> String {
    let owner = super::owner_mention(request).unwrap_or_else(|| "no owner yet".to_string());
    let not_posted = super::not_posted(request).map_or(String::new(), |n| format!(", {n}"));
    format!(
        "• *{} {}* — {}, {}, {}{not_posted}",
        request.number,
        escape(request.title.as_str()),
        request.state.label(),
        owner,
        running_deadline(request)
    )
}

/// Who acted, for people: the scheduler is "intake".
fn actor(actor: &str) -> String {
    match actor {
        "scheduler" => "intake".to_string(),
        tracker if tracker.starts_with("tracker:") => {
            let issue = &tracker["tracker:".len()..];
            match crate::domain::text::Tracker::parse(issue) {
                Ok(tracker) => format!("the tracker ({})", tracker_link(&tracker)),
                Err(_) => format!("the tracker ({})", escape(issue)),
            }
        }
        user => format!("<@{user}>"),
    }
}

/// What a step said, if anything: its reason, question, answer, note…
fn said(details: &Details) -> Option<String> {
    let words = details
        .reason
        .as_deref()
        .or(details.question.as_deref())
        .or(details.answer.as_deref())
        .or(details.note.as_deref());
    let mut said = words.map(|w| escape_truncated(w, 300));
    if let Some(severity) = &details.severity {
        said = Some(format!("to {}", escape(severity)));
    }
    if let Some(to) = &details.to {
        said = Some(format!("to <@{to}>"));
    }
    if let Some(until) = &details.until {
        said = Some(format!("until {until}: {}", said.unwrap_or_default()));
    }
    said
}

/// The caller's open requests.
pub fn my_requests(requests: &[Request]) -> String {
    if requests.is_empty() {
        return "You have no open requests. `/request` files one.".to_string();
    }
    let mut text = format!("Your open requests ({}):\n", requests.len());
    for request in requests {
        text.push_str(&line(request));
        text.push('\n');
    }
    text
}

/// The triage queue, oldest first.
pub fn queue(requests: &[Request], limit: usize) -> String {
    if requests.is_empty() {
        return "The triage queue is empty.".to_string();
    }
    let mut text = format!(
        "Open requests, oldest first ({}{}):\n",
        requests.len(),
        if requests.len() >= limit { "+" } else { "" }
    );
    for request in requests {
        text.push_str(&line(request));
        text.push('\n');
    }
    text
}

/// One request with its history.
pub fn status(request: &Request, history: &[Entry]) -> String {
    let mut text = format!("{}\n{}\n", line(request), escape_truncated(&request.description, 1200));
    if let Some(link) = &request.link {
        text.push_str(&format!("*Link:* <{}>\n", link_target(link.as_str())));
    }
    if let Some(tracker) = &request.tracker {
        text.push_str(&format!("*Tracked in:* {}\n", tracker_link(tracker)));
    }
    text.push_str("*History:*\n");
    for entry in history.iter().rev().take(20).rev() {
        let said = said(&entry.details).map_or(String::new(), |s| format!(" — {s}"));
        text.push_str(&format!(
            "• {} {} {} → {}{said}\n",
            entry.at.format("%Y-%m-%d %H:%M UTC"),
            actor(&entry.actor),
            entry.kind.as_str().replace('_', " "),
            entry.to.label()
        ));
    }
    super::escape_truncated_markup(&text, SECTION_TEXT_MAX)
}
