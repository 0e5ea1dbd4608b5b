//! The scheduler's words: SLA reminders and breach notices, the follow-up
//! DM, and the daily digest (kept within Block Kit's limits).

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::{escape, mrkdwn_section, plain, slack_date};
use crate::domain::digest::{DigestSummary, Listing, running_deadline};
use crate::domain::reminders::{BREACH, SlaKind};
use crate::domain::request::Request;
use crate::domain::severity::Severities;
use crate::domain::sla::{self, BusinessCalendar, ClockKind};
use crate::domain::state::State;
use crate::domain::team::{Team, Teams};

/// Slack allows 50 blocks per message; the digest stays well inside.
const MAX_BLOCKS: usize = 45;

/// "3 business hours", "45 minutes", "2 days".
pub fn time_left(left: TimeDelta, clock: ClockKind) -> String {
    let business = if clock == ClockKind::Business { "business " } else { "" };
    let minutes = left.num_minutes().max(0);
    let (n, unit) = if minutes < 120 {
        (minutes, "minute")
    } else if minutes < 48 * 60 || clock == ClockKind::Business {
        (minutes / 60, "hour")
    } else {
        (minutes / (24 * 60), "day")
    };
    format!("{n} {business}{unit}{}", if n == 1 { "" } else { "s" })
}

/// "#42 'Invoices render blank' — resolution SLA due in 3 business hours"
pub fn reminder(
    request: &Request,
    kind: SlaKind,
    threshold: u32,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    clock: ClockKind,
    calendar: &BusinessCalendar,
) -> String {
    let subject = format!("{} '{}'", request.number, escape(request.title.as_str()));
    if threshold >= BREACH {
        let owner = request
            .owner
            .as_deref()
            .map_or("no owner".to_string(), |o| format!("owner <@{o}>"));
        return format!(
            ":warning: {subject} breached its {} SLA (due {}); {owner}.",
            kind.as_str(),
            slack_date(due)
        );
    }
    let left = sla::elapsed(now, due, clock, calendar);
    format!(
        "{subject} — {} SLA due in {} ({}).",
        kind.as_str(),
        time_left(left, clock),
        slack_date(due)
    )
}

/// The digest of several teams: one line each (open, breached, median
/// time to triage over the last 30 days).
pub fn teams_digest(teams: &[(&Team, DigestSummary)], channel: &str, since: DateTime<Utc>, at: DateTime<Utc>) -> Value {
    let mut text = String::new();
    for (team, summary) in teams {
        let open: i64 = summary.open.iter().map(|(_, _, count)| count).sum();
        let median = summary
            .median_time_to_triage
            .map_or("–".to_string(), |d| time_left(d, ClockKind::Wall));
        text.push_str(&format!(
            "• *{}* ({}): {open} open, {} breached, median time to triage {median}\n",
            escape(&team.name),
            super::channel_mention(&team.channel),
            summary.breached.total,
        ));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": plain("Intake digest: every team")}),
        mrkdwn_section(format!("Since {}, as of {}:", slack_date(since), slack_date(at))),
    ];
    // A section holds 3,000 characters: many teams take several.
    let mut chunk = String::new();
    for line in text.lines() {
        if chunk.len() + line.len() + 1 > super::SECTION_TEXT_MAX {
            blocks.push(mrkdwn_section(std::mem::take(&mut chunk)));
        }
        chunk.push_str(line);
        chunk.push('\n');
    }
    if !chunk.is_empty() {
        blocks.push(mrkdwn_section(chunk));
    }
    blocks.truncate(MAX_BLOCKS);
    json!({
        "channel": channel,
        "text": format!("Intake digest: {} teams", teams.len()),
        "blocks": blocks,
        "unfurl_links": false,
    })
}

/// A reminder or breach notice outside the card's thread (the owner's DM,
/// the escalation channel): with a link to the card and its controls, so
/// whoever reads it can act there and then.
pub fn reminder_post(channel: &str, text: &str, request: &Request, teams: &Teams) -> Value {
    json!({
        "channel": channel,
        "text": text,
        "blocks": [
            mrkdwn_section(format!("{text}\n{}", super::INTAKE_LINK)),
            super::card::controls(request, teams),
        ],
        "unfurl_links": false,
    })
}

/// The follow-up DM to a submitter who has not confirmed a fix; it says
/// when the request closes on its own.
pub fn followup(request: &Request, closes_at: DateTime<Utc>) -> Value {
    let text = format!(
        "Is *{} {}* fixed for you? It was resolved a while ago; if we do not hear back, it closes on its own on {}.",
        request.number,
        escape(request.title.as_str()),
        slack_date(closes_at)
    );
    json!({
        "channel": request.submitter,
        "text": text,
        "blocks": [mrkdwn_section(text.clone()), super::triage::confirm_buttons(request.number)],
        "unfurl_links": false,
    })
}

fn link(request: &Request) -> String {
    let label = format!("{} {}", request.number, escape(request.title.as_str()));
    if let Some(not_posted) = super::not_posted(request) {
        return format!("{label}, {not_posted}");
    }
    match &request.intake_message {
        Some(message) => format!(
            "<https://slack.com/archives/{}/p{}|{label}>",
            message.channel,
            message.ts.replace('.', "")
        ),
        None => label,
    }
}

fn listing(title: &str, list: &Listing, detail: impl Fn(&Request) -> String) -> Option<Value> {
    if list.total == 0 {
        return None;
    }
    let mut text = format!("*{title}* ({})\n", list.total);
    for request in &list.shown {
        text.push_str(&format!("• {} — {}\n", link(request), detail(request)));
    }
    let more = list.total.saturating_sub(list.shown.len() as u64);
    if more > 0 {
        text.push_str(&format!("…and {more} more\n"));
    }
    Some(mrkdwn_section(super::escape_truncated_markup(
        &text,
        super::SECTION_TEXT_MAX,
    )))
}

fn owner(request: &Request) -> String {
    super::owner_mention(request).unwrap_or_else(|| "no owner".to_string())
}

/// "75% (3 of 4)", or "–" when nothing was counted.
fn attainment((met, counted): (u64, u64)) -> String {
    (met * 100)
        .checked_div(counted)
        .map_or("–".to_string(), |pct| format!("{pct}% ({met} of {counted})"))
}

/// The daily digest, for `channel`.
pub fn digest(
    summary: &DigestSummary,
    severities: &Severities,
    title: &str,
    channel: &str,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Value {
    let title: String = title.chars().take(150).collect();
    let mut blocks = vec![json!({"type": "header", "text": plain(&title)})];
    blocks.push(mrkdwn_section(format!(
        "Since {}: *{}* new, *{}* resolved, *{}* closed.",
        slack_date(since),
        summary.new_since.total,
        summary.resolved_since,
        summary.closed_since
    )));
    let mut open = String::from("*Open by state and severity*\n");
    if summary.open.is_empty() {
        open.push_str("Nothing open.\n");
    }
    // In the order of the workflow, then of the severity ladder.
    let rank = |(state, severity, _): &&(String, String, i64)| {
        (
            State::ALL
                .iter()
                .position(|s| s.as_str() == state)
                .unwrap_or(usize::MAX),
            severities
                .iter()
                .position(|s| s.key.as_str() == severity)
                .unwrap_or(usize::MAX),
        )
    };
    let mut groups: Vec<&(String, String, i64)> = summary.open.iter().collect();
    groups.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    for (state, severity, count) in groups {
        let label = severities.get(severity).map_or(severity.as_str(), |s| s.label.as_str());
        open.push_str(&format!("• {} · {}: {count}\n", state.replace('_', " "), escape(label)));
    }
    blocks.push(mrkdwn_section(open));
    let due = |r: &Request| format!("{}, due {}", owner(r), slack_date(running_deadline(r)));
    blocks.extend(listing("Breached", &summary.breached, due));
    blocks.extend(listing("At risk", &summary.at_risk, due));
    blocks.extend(listing("New", &summary.new_since, |r| r.state.label().to_string()));
    blocks.extend(listing("Most wanted", &summary.most_wanted, |r| {
        super::demand_words(r.demand)
    }));
    blocks.extend(listing("Oldest untriaged", &summary.oldest_untriaged, |r| {
        format!("filed {}", slack_date(r.created_at))
    }));
    let median = summary
        .median_time_to_triage
        .map_or("–".to_string(), |d| time_left(d, ClockKind::Wall));
    let (response, resolution) = (
        attainment(summary.response_attainment),
        attainment(summary.resolution_attainment),
    );
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text":
        format!("Last 30 days: median time to triage {median}; response SLA met {response}; resolution SLA met {resolution}. As of {}.", slack_date(at))}]}));
    blocks.truncate(MAX_BLOCKS);
    json!({
        "channel": channel,
        "text": format!("{}: {} new, {} breached, {} at risk", escape(&title), summary.new_since.total, summary.breached.total, summary.at_risk.total),
        "blocks": blocks,
        "unfurl_links": false,
    })
}
