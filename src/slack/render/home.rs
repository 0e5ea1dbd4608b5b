//! A person's App Home: their open requests and, for a triager, the queue
//! with the same controls as the card (same action ids, so a click here
//! runs the same step).

use serde_json::{Value, json};

use super::card::controls;
use super::lists::running_deadline;
use super::{escape, severity_label};
use crate::domain::digest::Listing;
use crate::domain::request::Request;
use crate::domain::severity::Severities;
use crate::domain::team::Teams;
use crate::store::home::{COUNTED, Queue};

/// Slack allows 100 blocks in a Home; the lists are capped well below.
const MAX_BLOCKS: usize = 100;

/// Where a request's card can be opened: `workspace` (`https://x.slack.com/`)
/// is needed to link to a message.
pub fn card_link(request: &Request, workspace: Option<&str>) -> Option<String> {
    let (workspace, message) = (workspace?, request.intake_message.as_ref()?);
    Some(super::message_url(workspace, &message.channel, &message.ts, None))
}

/// "*#42 Title* — Accepted, High, owner @ana, resolution due …, open card".
fn line(request: &Request, severities: &Severities, workspace: Option<&str>) -> String {
    let owner = super::owner_mention(request).map_or("no owner yet".to_string(), |o| format!("owner {o}"));
    let title = format!("{} {}", request.number, escape(request.title.as_str()));
    let title = match card_link(request, workspace) {
        Some(url) => format!("<{url}|{title}>"),
        None => title,
    };
    format!(
        "*{title}* — {}, {}, {owner}, {}",
        request.state.label(),
        escape(severity_label(request, severities)),
        running_deadline(request)
    )
}

fn header(text: &str) -> Value {
    json!({"type": "header", "text": {"type": "plain_text", "text": text}})
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// One queue list: a heading with its total, then each request with its
/// controls.
fn listed(blocks: &mut Vec<Value>, title: &str, listing: &Listing, teams: &Teams, workspace: Option<&str>) {
    // Counted up to a cap (`store::home::COUNTED`): past it, "500+".
    let total = match listing.total >= COUNTED {
        true => format!("{COUNTED}+"),
        false => listing.total.to_string(),
    };
    blocks.push(section(format!("*{title}* ({total})")));
    if listing.shown.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "None."}]}));
    }
    for request in &listing.shown {
        blocks.push(section(line(request, &teams.of(&request.team).severities, workspace)));
        blocks.push(controls(request, teams));
    }
    let more = listing.total.saturating_sub(listing.shown.len() as u64);
    if more > 0 {
        let more = match listing.total >= COUNTED {
            true => "…and more".to_string(),
            false => format!("…and {more} more"),
        };
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": format!("{more}: `/request list all`")}]}));
    }
}

/// The Home view for `views.publish`.
pub fn home(mine: &[Request], queue: Option<&Queue>, teams: &Teams, workspace: Option<&str>) -> Value {
    let mut blocks = vec![header("My requests")];
    if mine.is_empty() {
        blocks.push(section("You have no open requests. `/request` files one.".to_string()));
    }
    for request in mine {
        blocks.push(section(line(request, &teams.of(&request.team).severities, workspace)));
    }
    if let Some(queue) = queue {
        blocks.push(json!({"type": "divider"}));
        blocks.push(header("The queue"));
        listed(
            &mut blocks,
            "Untriaged, oldest first",
            &queue.untriaged,
            teams,
            workspace,
        );
        listed(&mut blocks, "At risk", &queue.at_risk, teams, workspace);
        listed(&mut blocks, "Breached", &queue.breached, teams, workspace);
        listed(&mut blocks, "Mine", &queue.owned, teams, workspace);
    }
    blocks.truncate(MAX_BLOCKS);
    json!({"type": "home", "blocks": blocks})
}
