//! `/request list`, `/request list all` and `/request 42`: ephemeral
//! answers built from the store.

use super::{escape, slack_date};
use crate::domain::audit::Entry;
use crate::domain::request::Request;

fn line(request: &Request) -> String {
    let owner = request
        .owner
        .as_deref()
        .map_or("no owner yet".to_string(), |o| format!("<@{o}>"));
    format!(
        "• *{} {}* — {}, {}, due {}",
        request.number,
        escape(request.title.as_str()),
        request.state.label(),
        owner,
        slack_date(request.deadlines.resolution_due)
    )
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
    let mut text = format!("{}\n*History:*\n", line(request));
    for entry in history.iter().rev().take(20).rev() {
        text.push_str(&format!(
            "• {} <@{}> {} → {}\n",
            entry.at.format("%Y-%m-%d %H:%M UTC"),
            entry.actor,
            entry.kind.as_str().replace('_', " "),
            entry.to.label()
        ));
    }
    text
}
