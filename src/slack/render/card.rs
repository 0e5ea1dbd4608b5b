//! The intake message: a request's card in the intake channel, with the
//! triage controls valid in its current state. Re-rendered whole and sent
//! with `chat.update` after every step, so it always shows the truth.

use serde_json::{Value, json};

use super::{
    SECTION_TEXT_MAX, button, escape, escape_truncated, link_target, mrkdwn_section, plain, severity_label, slack_date,
    summary_line,
};
use crate::domain::request::Request;
use crate::domain::state::State;
use crate::domain::team::Teams;
use crate::domain::text::Tracker;
use crate::domain::triage::card_steps;
use crate::slack::action::Action;

/// The request's card in its team's channel; later updated in place.
pub fn intake_message(request: &Request, teams: &Teams) -> Value {
    let severities = &teams.of(&request.team).severities;
    let owner = super::owner_mention(request).unwrap_or_else(|| "–".to_string());
    let area = request.area.as_deref().map_or("–".to_string(), escape);
    let mut header = format!(
        "*{} {}*\n*Type:* {}   *Severity:* {}   *Area:* {}\n*From:* <@{}>   *Status:* {}   *Owner:* {}",
        request.number,
        escape(request.title.as_str()),
        request.kind.label(),
        escape(severity_label(request, severities)),
        area,
        request.submitter,
        request.state.label(),
        owner,
    );
    match request.state {
        State::New => header.push_str(&format!(
            "\n*Triage due:* {}",
            slack_date(request.deadlines.response_due)
        )),
        State::Rejected | State::Closed | State::Resolved => {}
        _ => header.push_str(&format!(
            "\n*Resolution due:* {}",
            slack_date(request.deadlines.resolution_due)
        )),
    }
    if let Some(tracker) = &request.tracker {
        header.push_str(&format!("\n*Tracked in:* {}", tracker_link(tracker)));
    }
    if request.demand > 0 {
        let others = request.demand;
        header.push_str(&format!("\n*{}*", super::demand_words(others)));
    }
    if let (State::Deferred, Some(date)) = (request.state, request.revisit_on) {
        header.push_str(&format!("\n*Revisit on:* {}", date.format("%Y-%m-%d")));
    }
    let mut blocks = vec![
        json!({"type": "section", "block_id": format!("req:{}:summary", request.number.0),
               "text": {"type": "mrkdwn", "text": header}}),
        mrkdwn_section(escape_truncated(&request.description, SECTION_TEXT_MAX)),
    ];
    if let Some(link) = &request.link {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Link: <{}>", link_target(link.as_str()))}]}));
    }
    blocks.push(controls(request, teams));
    json!({
        "text": format!("{} from <@{}>: {}", summary_line(request, severities), request.submitter, request.state.label()),
        "blocks": blocks,
        "unfurl_links": false,
    })
}

/// A tracker key as text, a tracker URL as a link.
pub fn tracker_link(tracker: &Tracker) -> String {
    match tracker {
        Tracker::Url(url) => match issue_label(url) {
            Some(label) => format!("<{}|{}>", link_target(url), escape(&label)),
            None => format!("<{}>", link_target(url)),
        },
        Tracker::Key(key) => escape(key),
    }
}

/// What an issue's link shows: `PROJ-7` for a Jira issue
/// (`…/browse/PROJ-7`), `acme/app#12` for a GitHub one
/// (`https://github.com/acme/app/issues/12`); other links show themselves.
fn issue_label(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let segments: Vec<&str> = parsed.path_segments()?.filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [.., "browse", key] => Some((*key).to_string()),
        [owner, repo, "issues", number] if number.chars().all(|c| c.is_ascii_digit()) => {
            Some(format!("{owner}/{repo}#{number}"))
        }
        _ => None,
    }
}

/// The actions block (`block_id` `req:<n>`): only what the state allows.
pub(crate) fn controls(request: &Request, teams: &Teams) -> Value {
    let n = request.number;
    let severities = &teams.of(&request.team).severities;
    let elements: Vec<Value> = card_steps(request.state)
        .iter()
        .filter_map(|step| Action::for_step(*step))
        // Moving needs somewhere to go.
        .filter(|action| *action != Action::MoveTeam || teams.all().len() > 1)
        .map(|action| match action {
            Action::Take => button(action, "Take it", n, Some("primary")),
            Action::Assign => {
                let mut select =
                    json!({"type": "users_select", "action_id": action.id(), "placeholder": plain("Assign to…")});
                if let Some(owner) = &request.owner {
                    select["initial_user"] = json!(owner);
                }
                select
            }
            Action::SetSeverity => {
                let options: Vec<Value> = severities
                    .iter()
                    .map(|s| json!({"text": plain(&s.label), "value": s.key.as_str()}))
                    .collect();
                let current = options
                    .iter()
                    .find(|o| o["value"] == request.severity.as_str())
                    .cloned();
                let mut select = json!({"type": "static_select", "action_id": action.id(),
                                        "placeholder": plain("Severity"), "options": options});
                if let Some(current) = current {
                    select["initial_option"] = current;
                }
                select
            }
            Action::MoveTeam => {
                let options: Vec<Value> = teams
                    .all()
                    .iter()
                    .filter(|t| t.key != request.team)
                    .take(100)
                    .map(|t| json!({"text": super::team_label(t), "value": t.key}))
                    .collect();
                json!({"type": "static_select", "action_id": action.id(),
                       "placeholder": plain("Move to team…"), "options": options})
            }
            Action::AskInfo => button(action, "Ask for info", n, None),
            Action::Accept => button(action, "Accept", n, Some("primary")),
            Action::Defer => button(action, "Defer", n, None),
            Action::Reject => button(action, "Reject", n, Some("danger")),
            Action::Resolve => button(action, "Resolve", n, None),
            Action::Resume => button(action, "Resume", n, None),
            Action::Reopen => button(action, "Reopen", n, None),
            // Offered in the submitter's DMs, never on the card.
            Action::AddInfo => button(action, "Add info", n, Some("primary")),
            Action::Confirm => button(action, "Yes, fixed", n, Some("primary")),
            // Offered in the triagers' notice when the card failed.
            Action::Repost => button(action, "Post again", n, Some("primary")),
            // Offered in the receipt of a request filed for its submitter.
            Action::Edit => button(action, "Edit", n, None),
        })
        .collect();
    json!({"type": "actions", "block_id": format!("req:{}", n.0), "elements": elements})
}
