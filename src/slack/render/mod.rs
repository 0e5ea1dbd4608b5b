//! Block Kit rendering and every word people read: the /request modal,
//! the intake message, DMs, replies.
//!
//! `card` renders the intake message with its triage controls, `triage`
//! the step modals, thread notes and outcome DMs, `lists` the `/request`
//! listings, `schedule` reminders and the digest, `replies` the answers
//! and explanations a person gets back at once, `relay` the conversation
//! between a request's submitter and the people in its intake thread.
//!
//! This is the one place user text meets mrkdwn, and it always goes through
//! [`escape`] (or [`escape_truncated`]) so a title like `<!channel>` can
//! never ping anyone.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::domain::request::{
    AREA_MAX, DESCRIPTION_MAX, EditRefused, Field, FieldErrors, MessageRef, NewRequest, Request, RequestKind,
    RequestNumber, SourceMessage, TITLE_MAX,
};
use crate::domain::severity::{Severities, Severity};
use crate::domain::team::{Owner, Team, Teams};
use crate::domain::text::Tracker;
use crate::slack::action::{Action, Modal};

/// Slack's limit for a section's text.
pub const SECTION_TEXT_MAX: usize = 3000;
/// Where the dispatcher puts the link to the request's intake message, once
/// that message exists (see `outbox::dispatcher`).
pub const INTAKE_LINK: &str = "<intake:link>";
/// Filled by the dispatcher with the request's intake message address.
/// Placeholders contain `<`, which escaped user text never does, so nobody
/// can type one into a title.
pub const INTAKE_CHANNEL: &str = "<intake:channel>";
pub use crate::outbox::INTAKE_TS;
/// Filled by the dispatcher with the submitter's receipt DM: a DM that
/// belongs in the request's conversation with its submitter goes to the
/// receipt's conversation, in its thread (see [`fill_receipt_thread`]).
pub const RECEIPT_TS: &str = "<receipt:ts>";

mod card;
mod form;
pub mod home;
pub mod lists;
pub mod relay;
pub mod replies;
pub mod schedule;
pub mod triage;

pub use card::{intake_message, tracker_link};
pub use form::RequestForm;

/// Escapes the three characters mrkdwn treats as control characters.
pub fn escape(text: &str) -> String {
    escape_truncated(text, usize::MAX)
}

/// Escapes `text` and cuts it so the result has at most `max` characters,
/// ending in "…" when cut; never splits an entity like `&amp;`.
pub fn escape_truncated(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max.saturating_mul(4)));
    let mut used = 0usize;
    for (i, c) in text.char_indices() {
        let piece = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            _ => "",
        };
        let width = if piece.is_empty() { 1 } else { piece.len() };
        let rest_fits = used + width <= max;
        // Leave room for the ellipsis unless this is the last character.
        let is_last = i + c.len_utf8() == text.len();
        if !rest_fits || (!is_last && used + width + 1 > max) {
            out.push('…');
            return out;
        }
        if piece.is_empty() {
            out.push(c);
        } else {
            out.push_str(piece);
        }
        used += width;
    }
    out
}

/// A URL inside `<…>`: escaped, and with `|` encoded so a link cannot carry
/// its own misleading label (`https://evil.example|https://good.example`).
pub(crate) fn link_target(url: &str) -> String {
    escape(url).replace('|', "%7C")
}

pub(crate) fn plain(text: &str) -> Value {
    json!({"type": "plain_text", "text": text, "emoji": true})
}

pub(crate) fn mrkdwn_section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// Cuts already-escaped mrkdwn to `max` characters at a line break, ending
/// with "…" when cut (never inside a token or entity).
pub fn escape_truncated_markup(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out = String::new();
    for line in text.lines() {
        if out.chars().count() + line.chars().count() + 2 > max {
            out.push('…');
            return out;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A Slack date token: rendered in the reader's own time zone.
pub fn slack_date(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        at.timestamp(),
        at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// A severity option's label: "High — triage within 4 business hours".
fn severity_option(severity: &Severity) -> Value {
    let label = format!(
        "{} — triage within {}",
        severity.label,
        severity.response.describe(severity.clock)
    );
    json!({"text": plain(&label.chars().take(75).collect::<String>()), "value": severity.key.as_str()})
}

/// Block ids of the /request modal; errors are reported against them.
pub fn block_id(field: Field) -> &'static str {
    match field {
        Field::Kind => "type",
        Field::Title => "title",
        Field::Description => "description",
        Field::Severity => "severity",
        Field::Area => "area",
        Field::Link => "link",
    }
}

/// The /request modal (`callback_id` `new_request`), pre-filled from the
/// words typed after `/request` (see [`prefill`]).
pub fn request_modal(
    severities: &Severities,
    default_severity: &str,
    teams: &Teams,
    words: &str,
    source_channel: &str,
) -> Value {
    let (title, description) = prefill(words);
    let filled = Prefill {
        title: &title,
        description: &description,
        ..Prefill::default()
    };
    request_modal_with(
        severities,
        default_severity,
        teams,
        &filled,
        form_metadata(source_channel, None),
    )
}

/// What the /request modal opens with.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Prefill<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub link: &'a str,
    /// The type picked (`bug`, `feature`); the first when empty.
    pub kind: &'a str,
    pub area: &'a str,
}

/// The /request modal for *File as request* on `message`: its text as the
/// description (its first line as the title), its permalink as the link.
/// The private metadata carries the message, for the "Filed as" reply.
pub fn message_modal(
    severities: &Severities,
    default_severity: &str,
    teams: &Teams,
    message: &SourceMessage,
    text: &str,
    permalink: Option<&str>,
) -> Value {
    let (title, description) = message_fields(text);
    let filled = Prefill {
        title: &title,
        description: &description,
        link: permalink.filter(|l| l.len() <= LINK_SHOWN_MAX).unwrap_or_default(),
        ..Prefill::default()
    };
    request_modal_with(
        severities,
        default_severity,
        teams,
        &filled,
        form_metadata(&message.channel, Some(message)),
    )
}

/// A message's address in the workspace (`https://acme.slack.com/`):
/// what `chat.getPermalink` answers, built without asking.
pub fn message_url(workspace: &str, channel: &str, ts: &str, thread_ts: Option<&str>) -> String {
    let url = format!("{workspace}archives/{channel}/p{}", ts.replace('.', ""));
    match thread_ts {
        Some(thread) => format!("{url}?thread_ts={thread}&cid={channel}"),
        None => url,
    }
}

/// A message filed as a request: its first line as the title (cut at a
/// word), the whole text as the description. Slack's `&amp;`, `&lt;` and
/// `&gt;` are decoded: the fields hold the words, escaped when shown.
pub fn message_fields(text: &str) -> (String, String) {
    let text = unescape_slack(text);
    let (title, mut description) = prefill(&text);
    if description.is_empty() {
        description = text.trim().chars().take(DESCRIPTION_MAX).collect();
    }
    (title, description)
}

/// The *Edit* form (`callback_id` `edit_request`): the filing form with
/// the request's current values; the metadata names the request.
pub fn edit_modal(severities: &Severities, teams: &Teams, request: &Request) -> Value {
    let filled = Prefill {
        title: request.title.as_str(),
        description: &request.description,
        link: request.link.as_ref().map_or("", |l| l.as_str()),
        kind: request.kind.as_str(),
        area: request.area.as_deref().unwrap_or_default(),
    };
    let metadata = json!({"request": request.number.0, "channel": ""}).to_string();
    let mut view = request_modal_with(severities, request.severity.as_str(), teams, &filled, metadata);
    view["callback_id"] = json!(Modal::EditRequest.callback_id());
    view["title"] = plain(&format!("Edit {}", request.number));
    view["submit"] = plain("Save");
    view
}

/// Why *Edit* is refused.
pub fn edit_refused(request: &Request, refused: EditRefused) -> String {
    match refused {
        EditRefused::NotSubmitter => format!(
            "Only <@{}>, who {} was filed for, can edit it.",
            request.submitter, request.number
        ),
        EditRefused::Triaged => format!(
            "{} is already being triaged ({}), so it can no longer be edited. Add what changed in its thread.",
            request.number,
            request.state.label()
        ),
    }
}

/// Why *Edit* may not pick another team's area: a move is the triagers'.
/// Plain text (a modal's field error), so nothing is escaped.
pub fn edit_elsewhere(area: &str, owner: &Team, team: &Team) -> String {
    format!(
        "{area} belongs to {}, not {}: ask a triager in {} to move the request there.",
        owner.name, team.name, team.channel
    )
}

/// The line in the card's thread after the submitter's corrections.
pub fn edited_note(before: &Request, after: &Request, user: &str, severities: &Severities) -> String {
    let mut changed = Vec::new();
    if before.kind != after.kind {
        changed.push(format!("type: {}", after.kind.label()));
    }
    if before.title != after.title {
        changed.push(format!("title: {}", escape(after.title.as_str())));
    }
    if before.description != after.description {
        changed.push("description".to_string());
    }
    if before.area != after.area {
        changed.push(format!("area: {}", escape(after.area.as_deref().unwrap_or("none"))));
    }
    if before.link != after.link {
        changed.push("link".to_string());
    }
    if before.severity != after.severity {
        changed.push(format!("severity: {}", escape(severity_label(after, severities))));
    }
    format!("<@{user}> edited the request: {}.", changed.join(", "))
}

/// Slack's message text encodes `&`, `<` and `>`; a form shows the
/// characters themselves (they are escaped again when rendered).
fn unescape_slack(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The Area field: the teams' areas to pick from (grouped by team when
/// there are several teams, since the area decides the team), or free text
/// when no area is configured; `area` is preselected.
fn area_select(teams: &Teams, area: &str) -> Value {
    let option = |a: &String| json!({"text": plain(a), "value": a});
    let owning: Vec<&Team> = teams.all().iter().filter(|t| !t.areas.is_empty()).collect();
    let mut element = match owning.as_slice() {
        [] => {
            let mut input = json!({"type": "plain_text_input", "action_id": "area_input", "max_length": AREA_MAX});
            if !area.is_empty() {
                input["initial_value"] = json!(area);
            }
            return input;
        }
        [only] if teams.all().len() == 1 => {
            let options: Vec<Value> = only.areas.iter().take(100).map(option).collect();
            json!({"type": "static_select", "action_id": "area_input", "placeholder": plain("Pick one"), "options": options})
        }
        _ => {
            let groups: Vec<Value> = owning
                .iter()
                .take(100)
                .map(|team| {
                    let options: Vec<Value> = team.areas.iter().take(100).map(option).collect();
                    json!({"label": team_label(team), "options": options})
                })
                .collect();
            json!({"type": "static_select", "action_id": "area_input", "placeholder": plain("Pick one"), "option_groups": groups})
        }
    };
    let chosen = owning.iter().flat_map(|t| &t.areas).find(|a| a.as_str() == area);
    if let Some(chosen) = chosen {
        element["initial_option"] = option(chosen);
    }
    element
}

/// The /request modal with these fields filled in.
pub(crate) fn request_modal_with(
    severities: &Severities,
    default_severity: &str,
    teams: &Teams,
    filled: &Prefill<'_>,
    private_metadata: String,
) -> Value {
    let Prefill {
        title,
        description,
        link,
        kind,
        area,
    } = *filled;
    let options: Vec<Value> = severities.iter().map(severity_option).collect();
    let initial = severities.get(default_severity).map(severity_option);
    let mut severity_select = json!({
        "type": "static_select", "action_id": "severity_input",
        "placeholder": plain("Pick one"), "options": options,
    });
    if let Some(initial) = initial {
        severity_select["initial_option"] = initial;
    }
    let mut title_input = json!({
        "type": "plain_text_input", "action_id": "title_input", "max_length": TITLE_MAX,
        "placeholder": plain("One line summary"),
    });
    if !title.is_empty() {
        title_input["initial_value"] = json!(title);
    }
    let mut description_input = json!({
        "type": "plain_text_input", "action_id": "description_input", "multiline": true,
        "max_length": DESCRIPTION_MAX, "placeholder": plain("What happened? What did you expect?"),
    });
    if !description.is_empty() {
        description_input["initial_value"] = json!(description);
    }
    let mut link_input =
        json!({"type": "url_text_input", "action_id": "link_input", "placeholder": plain("https://…")});
    if !link.is_empty() {
        link_input["initial_value"] = json!(link);
    }
    let area_element = area_select(teams, area);
    let kinds: Vec<Value> = [RequestKind::Bug, RequestKind::Feature]
        .into_iter()
        .map(|k| json!({"text": plain(k.label()), "value": k.as_str()}))
        .collect();
    let initial_kind = kinds.iter().find(|k| k["value"] == kind).unwrap_or(&kinds[0]).clone();
    json!({
        "type": "modal",
        "callback_id": Modal::NewRequest.callback_id(),
        "title": plain("New request"),
        "submit": plain("Submit"),
        "close": plain("Cancel"),
        "private_metadata": private_metadata,
        "blocks": [
            {"type": "input", "block_id": "type", "label": plain("Type"),
             "element": {"type": "radio_buttons", "action_id": "type_input", "options": kinds, "initial_option": initial_kind}},
            {"type": "input", "block_id": "title", "label": plain("Title"), "element": title_input},
            {"type": "input", "block_id": "description", "label": plain("Description"), "element": description_input},
            {"type": "input", "block_id": "severity", "label": plain("Severity"), "element": severity_select},
            {"type": "input", "block_id": "area", "label": plain("Area"), "optional": true, "element": area_element},
            {"type": "input", "block_id": "link", "label": plain("Link"), "optional": true,
             "element": link_input, "hint": plain("Ticket, dashboard or screenshot URL")},
        ],
    })
}

/// What `/request <words>` pre-fills: the title, and when the words are
/// longer than a title may be, the description too. The title is cut at a
/// word and ends with "…"; the description gets all the words, so nothing
/// typed is lost.
pub(crate) fn prefill(words: &str) -> (String, String) {
    let words = words.trim();
    if words.chars().count() <= TITLE_MAX && !words.contains('\n') {
        return (words.to_string(), String::new());
    }
    let first_line = words.lines().next().unwrap_or_default();
    let mut title: String = first_line.chars().take(TITLE_MAX - 1).collect();
    if title.chars().count() < first_line.chars().count()
        && let Some(space) = title.rfind(' ')
    {
        title.truncate(space);
    }
    let title = format!("{}…", title.trim_end());
    let description = words.chars().take(DESCRIPTION_MAX).collect();
    (title, description)
}

/// The form's `private_metadata`: where `/request` was typed, and the
/// message it files, if any.
pub(crate) fn form_metadata(source_channel: &str, message: Option<&SourceMessage>) -> String {
    match message {
        Some(message) => json!({"channel_id": source_channel, "message": message}).to_string(),
        // Read on every `/request`: written directly.
        None => format!(
            "{{\"channel_id\":{}}}",
            serde_json::to_string(source_channel).unwrap_or_default()
        ),
    }
}

/// The reply under a message that was filed as a request: its number and
/// a link to its card ([`INTAKE_LINK`], filled in when it is sent).
pub fn filed_reply(request: &Request, message: &SourceMessage) -> Value {
    let text = format!(
        ":ticket: Filed as *{} {}*. {INTAKE_LINK}",
        request.number,
        escape(request.title.as_str())
    );
    json!({
        "channel": message.channel,
        "thread_ts": message.reply_thread(),
        "text": text,
        "unfurl_links": false,
    })
}

/// The file emoji on a message the bot cannot read.
pub fn cannot_read_to_file(channel: &str, error: &str) -> String {
    format!(
        "I could not file that message: I cannot read {} (Slack said `{}`). Invite me to the channel and react again, or use `/request`.",
        channel_mention(channel),
        escape(error)
    )
}

/// Told instead when the reply under the filed message could not be
/// posted there (the bot is not in that channel).
pub fn filed_reply_elsewhere(to: &str, number: RequestNumber, channel: &str, error: &str) -> Value {
    let text = format!(
        "I filed the message in {} as {number}, but could not reply under it there (Slack said `{}`: invite me to that channel to get replies there).",
        channel_mention(channel),
        escape(error),
    );
    json!({"channel": to, "text": text, "unfurl_links": false})
}

/// How long `text` is once escaped for mrkdwn (`&` is five characters,
/// `<` and `>` four): what Slack counts against its limits.
pub fn escaped_len(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            '&' => 5,
            '<' | '>' => 4,
            _ => 1,
        })
        .sum()
}

/// The longest a link may be once escaped: the card shows it in a context
/// element (3,000 characters) and the status reply beside other lines.
pub const LINK_SHOWN_MAX: usize = 1000;
/// A tracker link is shown inside the card's header section with the other
/// fields, and in DMs.
pub const TRACKER_SHOWN_MAX: usize = 1000;

/// The problems a valid submission would still cause when shown in Slack:
/// text that fits the form but not, once escaped, Slack's blocks. Too long
/// is a field error in the modal, never a message Slack refuses later.
pub fn too_long_to_show(new: &NewRequest) -> FieldErrors {
    let mut errors = FieldErrors::default();
    let too_long = |what: &str, len: usize, max: usize| {
        format!("The {what} is too long once its &, < and > are counted ({len} of {max} characters).")
    };
    let description = escaped_len(&new.description);
    if description > SECTION_TEXT_MAX {
        errors.0.push((
            Field::Description,
            too_long("description", description, SECTION_TEXT_MAX),
        ));
    }
    if let Some(link) = &new.link {
        let len = link_target(link.as_str()).chars().count();
        if len > LINK_SHOWN_MAX {
            errors.0.push((Field::Link, too_long("link", len, LINK_SHOWN_MAX)));
        }
    }
    errors
}

/// A tracker reference that fits wherever it is shown, or what to say.
pub fn tracker_fits(tracker: &Tracker) -> Result<(), String> {
    let len = tracker_link(tracker).chars().count();
    match len > TRACKER_SHOWN_MAX {
        true => Err(format!(
            "The tracker link is too long once its &, < and > are counted ({len} of {TRACKER_SHOWN_MAX} characters)."
        )),
        false => Ok(()),
    }
}

/// `{"response_action":"errors","errors":{block_id: message}}`
pub fn field_errors(errors: &FieldErrors) -> Value {
    let map: serde_json::Map<String, Value> = errors
        .0
        .iter()
        .map(|(field, message)| (block_id(*field).to_string(), json!(message)))
        .collect();
    json!({"response_action": "errors", "errors": map})
}

pub(crate) fn severity_label<'a>(request: &'a Request, severities: &'a Severities) -> &'a str {
    severities
        .get(request.severity.as_str())
        .map_or(request.severity.as_str(), |s| s.label.as_str())
}

/// The one-line summary used as notification text: "#42 Title (Bug, High)".
pub(crate) fn summary_line(request: &Request, severities: &Severities) -> String {
    format!(
        "{} {} ({}, {})",
        request.number,
        escape(request.title.as_str()),
        request.kind.label(),
        severity_label(request, severities)
    )
}

/// "+1 other needs this", "+3 others need this".
pub(crate) fn demand_words(others: i32) -> String {
    match others {
        1 => "+1 other needs this".to_string(),
        n => format!("+{n} others need this"),
    }
}

/// A button carrying the request number in its `value`.
pub(crate) fn button(action: Action, label: &str, number: RequestNumber, style: Option<&str>) -> Value {
    let mut button =
        json!({"type": "button", "action_id": action.id(), "text": plain(label), "value": number.0.to_string()});
    if let Some(style) = style {
        button["style"] = json!(style);
    }
    button
}

/// " Office hours: …." after a sentence naming `team`, when it has them.
pub(crate) fn office_hours(team: &Team) -> String {
    match team.office_hours.is_empty() {
        true => String::new(),
        false => format!(" Office hours: {}.", escape(&team.office_hours)),
    }
}

/// A team's name as a select's label or option group (Slack takes 75
/// characters).
pub(crate) fn team_label(team: &Team) -> Value {
    plain(&team.name.chars().take(75).collect::<String>())
}

/// The submitter's receipt: number, severity, what the SLA means, a link.
/// Sent to the submitter's id, which posts to the app's DM with them.
pub fn receipt_dm(request: &Request, severity: &Severity, team: &Team) -> Value {
    let hours = office_hours(team);
    let text = format!(
        "Thanks — we have your request *{} {}*.\n*Team:* {} ({}).{hours}\n*Severity:* {}: {} will {}.\n*Triage due:* {}. You will hear from me at every step, with the reason.\n{}",
        request.number,
        escape(request.title.as_str()),
        escape(&team.name),
        channel_mention(&team.channel),
        escape(&severity.label),
        escape(&team.name),
        severity.sla_in_words(),
        slack_date(request.deadlines.response_due),
        INTAKE_LINK,
    );
    json!({
        "channel": request.submitter,
        "text": format!("Received {} {}", request.number, escape(request.title.as_str())),
        "blocks": [mrkdwn_section(text)],
        "unfurl_links": false,
    })
}

/// The receipt of a request someone filed from the submitter's message
/// with the file emoji: who filed it, and *Edit* to correct what was
/// guessed (type, severity, area default; the title is the first line).
pub fn receipt_dm_filed_for(request: &Request, severity: &Severity, team: &Team, filed_by: &str) -> Value {
    let mut receipt = receipt_dm(request, severity, team);
    let note = format!(
        "<@{filed_by}> filed your message as a request. Check what I filled in: *Edit* corrects the title, type, severity, area or link."
    );
    let mut blocks = vec![mrkdwn_section(note)];
    blocks.extend(receipt["blocks"].as_array().cloned().unwrap_or_default());
    blocks.push(
        json!({"type": "actions", "block_id": format!("req:{}", request.number.0),
                       "elements": [button(Action::Edit, "Edit", request.number, None)]}),
    );
    receipt["blocks"] = Value::Array(blocks);
    receipt
}

/// The on-call off-ramp post in `channel`, mentioning the on-call group if
/// configured.
pub fn oncall_alert(request: &Request, severity: &Severity, channel: &str, usergroup: Option<&str>) -> Value {
    let mention = usergroup.map_or(String::new(), |group| format!("<!subteam^{group}> "));
    let text = format!(
        "{mention}:rotating_light: *{} request {} {}* from <@{}>\n*Triage due:* {}\n{}",
        escape(&severity.label),
        request.number,
        escape(request.title.as_str()),
        request.submitter,
        slack_date(request.deadlines.response_due),
        INTAKE_LINK,
    );
    json!({
        "channel": channel,
        "text": format!("{mention}{} request {} {}", escape(&severity.label), request.number, escape(request.title.as_str())),
        "blocks": [mrkdwn_section(text)],
        "unfurl_links": false,
    })
}

/// What became of a request's card, for the words that point to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardLink<'a> {
    /// The card is in the intake channel; its permalink, if Slack gave one.
    Posted { permalink: Option<&'a str> },
    /// Slack refused the card for good (the triagers were told).
    NotPosted,
}

/// What replaces [`INTAKE_LINK`]: a link to the card, or what happened to it.
pub fn intake_link(number: RequestNumber, card: CardLink<'_>) -> String {
    match card {
        CardLink::Posted { permalink: Some(url) } => format!("<{url}|View {number} in the intake channel>"),
        CardLink::Posted { permalink: None } => format!("{number} is in the intake channel."),
        CardLink::NotPosted => format!(
            "{number} is filed, but I could not post it to the intake channel yet. The product team has been told and will post it; it keeps its number, {number}."
        ),
    }
}

/// [`INTAKE_LINK`] filled in, inside a JSON payload: the link is encoded
/// as a JSON string's contents.
pub fn fill_intake_link(payload: &str, number: Option<RequestNumber>, card: CardLink<'_>) -> String {
    let Some(number) = number else {
        return payload.replace(INTAKE_LINK, "");
    };
    let link = serde_json::to_string(&intake_link(number, card)).unwrap_or_default();
    payload.replace(INTAKE_LINK, link.trim_matches('"'))
}

/// A configured channel in mrkdwn: a link for an id, the `#name` otherwise.
pub(crate) fn channel_mention(channel: &str) -> String {
    match channel.starts_with('#') {
        true => escape(channel),
        false => format!("<#{}>", escape(channel)),
    }
}

/// "not posted (channel_not_found)" for a request whose card Slack refused.
pub(crate) fn not_posted(request: &Request) -> Option<String> {
    let error = request.intake_error.as_deref()?;
    Some(format!("not posted ({})", escape(error)))
}

/// Tells a triager (`to`, a user id) or the escalation channel that a
/// request's card could not be posted to `intake_channel`: the request,
/// Slack's `error`, what to do, and a *Post again* button.
pub fn intake_post_failed(request: &Request, to: &str, intake_channel: &str, error: &str) -> Value {
    let n = request.number;
    let channel = channel_mention(intake_channel);
    let text = format!(
        ":warning: Request *{n} {}* from <@{}> could not be posted to {channel}: Slack said `{}`.\nUntil it is posted it has no card and no buttons; its submitter was told it keeps its number.\n*To fix:* invite the bot to {channel} or fix `channels.intake`, then click *Post again* or run `intake repost {}`.",
        escape(request.title.as_str()),
        request.submitter,
        escape(error),
        n.0,
    );
    json!({
        "channel": to,
        "text": format!("{n} {} could not be posted to the intake channel ({})", escape(request.title.as_str()), escape(error)),
        "blocks": [
            mrkdwn_section(text),
            {"type": "actions", "block_id": format!("req:{}", n.0),
             "elements": [button(Action::Repost, "Post again", n, Some("primary"))]},
        ],
        "unfurl_links": false,
    })
}

/// The card's address placeholders filled in.
pub fn fill_intake_address(payload: &str, channel: &str, ts: &str) -> String {
    payload.replace(INTAKE_CHANNEL, channel).replace(INTAKE_TS, ts)
}

/// Does the payload still need the card's address or its link?
pub fn needs_intake_message(payload: &str) -> (bool, bool) {
    (
        payload.contains(INTAKE_CHANNEL) || payload.contains(INTAKE_TS),
        payload.contains(INTAKE_LINK),
    )
}

/// A DM to the submitter, sent as a reply in their receipt's thread (the
/// request's conversation with them, which the relay carries both ways)
/// and also shown in the DM itself, so it is not missed.
pub fn in_receipt_thread(mut dm: Value) -> Value {
    dm["thread_ts"] = json!(RECEIPT_TS);
    dm["reply_broadcast"] = json!(true);
    dm
}

/// Does the payload still need the submitter's receipt DM's address?
pub fn needs_receipt(payload: &str) -> bool {
    payload.contains(RECEIPT_TS)
}

/// [`RECEIPT_TS`] filled: posted in the receipt's conversation (its `D…`
/// channel), in its thread; a request without a recorded receipt (filed
/// before receipts were recorded, or whose receipt died) gets a plain DM.
pub fn fill_receipt_thread(payload: &str, receipt: Option<&MessageRef>) -> String {
    let Ok(mut value) = serde_json::from_str::<Value>(payload) else {
        return payload.to_string();
    };
    match (receipt, value.as_object_mut()) {
        (Some(receipt), _) => {
            value["channel"] = json!(receipt.channel);
            value["thread_ts"] = json!(receipt.ts);
        }
        (None, Some(fields)) => {
            fields.remove("thread_ts");
            fields.remove("reply_broadcast");
        }
        (None, None) => {}
    }
    value.to_string()
}

/// The person a payload is a DM to: its `channel`, when that is a user id
/// (`U…`, `W…`), which posts to the app's DM with them.
pub fn dm_recipient(payload: &str) -> Option<String> {
    let channel = address(payload)?.channel;
    crate::slack::api::is_user_id(&channel).then_some(channel)
}

/// Where a Web API payload goes.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Address {
    #[serde(default)]
    pub channel: String,
    /// Set for a reply in a thread.
    pub thread_ts: Option<String>,
}

/// A payload's [`Address`], read without building the rest of it.
pub fn address(payload: &str) -> Option<Address> {
    serde_json::from_str(payload).ok()
}

/// The payload (a JSON object) with Slack message `metadata` carrying the
/// outbox `key`, so the post can be found in the channel's history when
/// its answer is lost (see `SlackApi::find_posted`).
pub fn with_key_metadata(payload: &str, event_type: &str, key: &str) -> String {
    let metadata = json!({"event_type": event_type, "event_payload": {"key": key}});
    let Some(open) = payload.trim_end().strip_suffix('}') else {
        return payload.to_string();
    };
    let separator = if open.trim_end().ends_with('{') { "" } else { "," };
    format!("{open}{separator}\"metadata\":{metadata}}}")
}

/// The owner as a mention, marked when a DM to them failed because they
/// left: a triager should assign someone else.
pub(crate) fn owner_mention(request: &Request) -> Option<String> {
    let owner = request.owner.as_deref()?;
    Some(match request.owner_unreachable {
        true => format!("<@{owner}> (owner unreachable)"),
        false => format!("<@{owner}>"),
    })
}

/// The intake message, posted to the intake channel.
/// The card posted to its team's channel.
pub fn intake_post(request: &Request, teams: &Teams) -> Value {
    let mut card = intake_message(request, teams);
    card["channel"] = json!(teams.of(&request.team).channel);
    card
}

/// A moved request's old card (at `channel`, `ts`): where it went, by
/// whom, and no controls (they live on the new card).
pub fn moved_card(request: &Request, to: &Team, by: &str, (channel, ts): (&str, &str)) -> Value {
    let text = format!(
        "*{} {}* was moved to *{}* by <@{by}>: follow it in {}.",
        request.number,
        escape(request.title.as_str()),
        escape(&to.name),
        channel_mention(&to.channel),
    );
    json!({
        "channel": channel,
        "ts": ts,
        "text": format!("{} was moved to {}", request.number, escape(&to.name)),
        "blocks": [mrkdwn_section(text)],
        "unfurl_links": false,
    })
}

/// The card re-rendered for `chat.update` of the request's intake message
/// (addressed through the placeholders the dispatcher fills).
pub fn card_update(request: &Request, teams: &Teams) -> Value {
    let mut card = intake_message(request, teams);
    card["channel"] = json!(INTAKE_CHANNEL);
    card["ts"] = json!(INTAKE_TS);
    card
}

/// A plain post of `text` to `channel` (a user id posts to the app's DM).
pub fn plain_post(channel: &str, text: &str) -> Value {
    json!({"channel": channel, "text": text, "unfurl_links": false})
}

/// A line in the request's intake thread; `broadcast` also shows it in the channel.
pub fn thread_reply(text: &str, broadcast: bool) -> Value {
    let mut reply = json!({"channel": INTAKE_CHANNEL, "thread_ts": INTAKE_TS, "text": text, "unfurl_links": false});
    if broadcast {
        reply["reply_broadcast"] = json!(true);
    }
    reply
}

/// `/request help`: the severities with their SLAs and how the process works.
/// `/request who <words>`: the teams owning the matching areas, with their
/// channel and office hours; or every team's areas when nothing matches.
pub fn who_owns(words: &str, found: &[Owner<'_>], teams: &Teams) -> String {
    let team_line = |team: &Team| {
        let hours = match team.office_hours.is_empty() {
            true => String::new(),
            false => format!(" {}.", escape(&team.office_hours)),
        };
        format!("file with `/request` in {}.{hours}", channel_mention(&team.channel))
    };
    if found.is_empty() {
        let mut text = match words.trim().is_empty() {
            true => "Tell me what it is about: `/request who invoices`. The teams and their areas:\n".to_string(),
            false => format!(
                "No team lists an area matching \u{201c}{}\u{201d}. The teams and their areas:\n",
                escape(words.trim())
            ),
        };
        for team in teams.all() {
            let areas: Vec<String> = team.areas.iter().map(|a| escape(a)).collect();
            let areas = match areas.is_empty() {
                true => "no areas listed".to_string(),
                false => areas.join(", "),
            };
            text.push_str(&format!("• *{}* ({areas}): {}\n", escape(&team.name), team_line(team)));
        }
        return text;
    }
    let mut text = String::new();
    let mut named: Vec<&str> = Vec::new();
    for owner in found.iter().take(5) {
        text.push_str(&format!(
            "• *{}* is owned by *{}*",
            escape(owner.area),
            escape(&owner.team.name)
        ));
        if !named.contains(&owner.team.key.as_str()) {
            named.push(&owner.team.key);
            text.push_str(&format!(": {}", team_line(owner.team)));
        }
        text.push('\n');
    }
    text
}

pub fn help_text(severities: &Severities) -> String {
    let mut text = String::from(
        "*/request* opens a form for a bug or feature request. The product team triages it: one owner, a visible status, and a DM to you at every outcome, with the reason.\n*Severities:*\n",
    );
    for severity in severities.iter() {
        text.push_str(&format!(
            "• *{}*: {}\n",
            escape(&severity.label),
            severity.sla_in_words()
        ));
    }
    text.push_str(concat!(
        "*Commands:*\n",
        "• `/request` or `/request some words`: the form, the title filled in with your words\n",
        "• `/request list`: your open requests\n",
        "• `/request list all`: the whole queue (triagers)\n",
        "• `/request 42`: request #42 with its history\n",
        "• `/request who invoices`: which team owns what you describe\n",
        "• `/request help`: this help",
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_key_rides_in_the_metadata() {
        let with = with_key_metadata(r#"{"channel":"C1","text":"hi"}"#, "intake_message", "req:1:intake_post");
        let value: Value = serde_json::from_str(&with).unwrap();
        assert_eq!(value["text"], "hi");
        assert_eq!(value["metadata"]["event_type"], "intake_message");
        assert_eq!(value["metadata"]["event_payload"]["key"], "req:1:intake_post");
        let empty: Value = serde_json::from_str(&with_key_metadata("{ }", "e", "k")).unwrap();
        assert_eq!(empty["metadata"]["event_payload"]["key"], "k");
    }

    #[test]
    fn escape_neutralises_mentions() {
        assert_eq!(escape("<!channel> & <@U123>"), "&lt;!channel&gt; &amp; &lt;@U123&gt;");
    }

    #[test]
    fn truncation_never_splits_an_entity_and_marks_the_cut() {
        let text = "a".repeat(2998) + "&&&";
        let out = escape_truncated(&text, SECTION_TEXT_MAX);
        assert!(out.chars().count() <= SECTION_TEXT_MAX);
        assert!(out.ends_with('…'), "{}", &out[out.len() - 10..]);
        assert!(!out.contains("&am…"));
    }

    #[test]
    fn a_link_cannot_bring_its_own_label() {
        assert_eq!(
            link_target("https://evil.example|https://good.example"),
            "https://evil.example%7Chttps://good.example"
        );
    }

    #[test]
    fn text_that_fits_is_not_cut() {
        assert_eq!(escape_truncated("abc", 3), "abc");
        assert_eq!(escape_truncated("abcd", 3), "ab…");
    }

    #[test]
    fn a_dm_is_a_post_to_a_user_id() {
        assert_eq!(
            dm_recipient(r#"{"channel":"U0GONE0001","text":"x"}"#).as_deref(),
            Some("U0GONE0001")
        );
        assert_eq!(
            dm_recipient(r#"{"channel":"W0ENTERPR1"}"#).as_deref(),
            Some("W0ENTERPR1")
        );
        for other in [
            r#"{"channel":"C0INTAKE01"}"#,
            r#"{"channel":"<intake:channel>","thread_ts":"<intake:ts>"}"#,
            r#"{"text":"no channel"}"#,
            "not json",
        ] {
            assert_eq!(dm_recipient(other), None, "{other}");
        }
    }

    #[test]
    fn a_dm_in_the_receipt_thread_is_plain_without_a_receipt() {
        let dm = in_receipt_thread(plain_post("U0SUBMIT01", "hi")).to_string();
        assert!(needs_receipt(&dm));
        let receipt = MessageRef::new("D0SUBMIT01", "1.000200");
        let threaded: Value = serde_json::from_str(&fill_receipt_thread(&dm, Some(&receipt))).unwrap();
        assert_eq!(
            (
                &threaded["channel"],
                &threaded["thread_ts"],
                &threaded["reply_broadcast"]
            ),
            (&json!("D0SUBMIT01"), &json!("1.000200"), &json!(true))
        );
        let plain: Value = serde_json::from_str(&fill_receipt_thread(&dm, None)).unwrap();
        assert_eq!(
            plain,
            json!({"channel": "U0SUBMIT01", "text": "hi", "unfurl_links": false})
        );
    }

    #[test]
    fn slack_date_has_a_readable_fallback() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T14:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            slack_date(at),
            "<!date^1795615200^{date_short_pretty} {time}|2026-11-25 14:00 UTC>"
        );
    }
}
