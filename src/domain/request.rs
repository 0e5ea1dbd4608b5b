//! A request as the domain sees it: validated fields and the submission rule.
//!
//! Parse, don't validate: a [`Title`] or [`Link`] that exists is valid, so
//! nothing downstream re-checks. No I/O; `now` is always an argument.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::severity::{Severities, Severity, SeverityKey};
use crate::domain::sla::{self, BusinessCalendar};
use crate::domain::state::State;
use crate::domain::text::Tracker;

pub const TITLE_MAX: usize = 150;
pub const DESCRIPTION_MAX: usize = 3000;
pub const AREA_MAX: usize = 80;
/// Escaped, a link must still fit a 3,000-character context element.
pub const LINK_MAX: usize = 1000;

/// The sequential number people quote: `#42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestNumber(pub i64);

impl fmt::Display for RequestNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Bug,
    Feature,
}

impl RequestKind {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "bug" => Some(Self::Bug),
            "feature" => Some(Self::Feature),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bug => "bug",
            Self::Feature => "feature",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Bug => "Bug",
            Self::Feature => "Feature request",
        }
    }
}

/// Which form field a problem belongs to; the Slack adapter maps it to a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Kind,
    Title,
    Description,
    Severity,
    Area,
    Link,
}

/// The problems found in a submission, each for one field, in people's words.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldErrors(pub Vec<(Field, String)>);

fn trimmed_text(value: Option<&str>, max: usize, name: &str, required: bool) -> Result<Option<String>, String> {
    let value = value.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return if required {
            Err(format!("Please enter a {name}."))
        } else {
            Ok(None)
        };
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(format!("The {name} is {chars} characters; the limit is {max}."));
    }
    Ok(Some(value.to_string()))
}

/// One line that says what is wrong; at most [`TITLE_MAX`] characters.
#[derive(Debug, Clone, PartialEq)]
pub struct Title(String);

impl Title {
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        let title = trimmed_text(value, TITLE_MAX, "title", true)?.unwrap_or_default();
        if title.contains('\n') {
            return Err("The title must be a single line.".into());
        }
        Ok(Self(title))
    }

    /// A title read back from storage, where only validated titles are written.
    pub fn stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An http(s) link the submitter attached.
#[derive(Debug, Clone, PartialEq)]
pub struct Link(String);

impl Link {
    pub fn parse(value: Option<&str>) -> Result<Option<Self>, String> {
        let Some(link) = trimmed_text(value, LINK_MAX, "link", false)? else {
            return Ok(None);
        };
        match url::Url::parse(&link) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(Some(Self(link))),
            _ => Err("The link must be a web address starting with https:// or http://.".into()),
        }
    }

    /// A link read back from storage, where only validated links are written.
    pub fn stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the /request form delivers, before validation.
#[derive(Debug, Clone, Default)]
pub struct SubmissionForm {
    pub kind: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<String>,
    pub area: Option<String>,
    pub link: Option<String>,
}

/// A valid new request, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    pub kind: RequestKind,
    pub title: Title,
    pub description: String,
    pub severity: SeverityKey,
    pub area: Option<String>,
    pub link: Option<Link>,
    pub submitter: String,
}

impl NewRequest {
    /// Validates every field and reports all problems at once, so the person
    /// fixes the form in one go.
    pub fn validate(form: &SubmissionForm, submitter: &str, severities: &Severities) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        fn check<T>(errors: &mut FieldErrors, field: Field, result: Result<T, String>) -> Option<T> {
            result.map_err(|message| errors.0.push((field, message))).ok()
        }
        let kind = check(
            &mut errors,
            Field::Kind,
            form.kind
                .as_deref()
                .and_then(RequestKind::parse)
                .ok_or_else(|| "Please choose bug or feature request.".to_string()),
        );
        let title = check(&mut errors, Field::Title, Title::parse(form.title.as_deref()));
        let description = check(
            &mut errors,
            Field::Description,
            trimmed_text(form.description.as_deref(), DESCRIPTION_MAX, "description", true),
        );
        let severity = check(
            &mut errors,
            Field::Severity,
            form.severity
                .as_deref()
                .and_then(|key| severities.get(key))
                .map(|s| s.key.clone())
                .ok_or_else(|| "Please choose one of the listed severities.".to_string()),
        );
        let area = check(
            &mut errors,
            Field::Area,
            trimmed_text(form.area.as_deref(), AREA_MAX, "area", false),
        );
        let link = check(&mut errors, Field::Link, Link::parse(form.link.as_deref()));
        match (kind, title, description, severity, area, link) {
            (Some(kind), Some(title), Some(Some(description)), Some(severity), Some(area), Some(link)) => Ok(Self {
                kind,
                title,
                description,
                severity,
                area,
                link,
                submitter: submitter.to_string(),
            }),
            _ => Err(errors),
        }
    }
}

/// Where a message is in Slack: its conversation and timestamp. The one
/// shape of a message address, from the Web API's answer to the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageRef {
    pub channel: String,
    pub ts: String,
}

impl MessageRef {
    pub fn new(channel: impl Into<String>, ts: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            ts: ts.into(),
        }
    }
}

/// A Slack message a request was filed from (the *File as request*
/// shortcut, or the file emoji): where the "Filed as #N" reply goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceMessage {
    pub channel: String,
    pub ts: String,
    /// The thread the message is a reply in, if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
}

impl SourceMessage {
    /// The thread a reply to this message belongs in: its own thread, or
    /// the one it is already part of.
    pub fn reply_thread(&self) -> &str {
        self.thread_ts.as_deref().unwrap_or(&self.ts)
    }
}

/// Which of a request's posts a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostKind {
    /// The card in the intake channel: updated in place, reactions count.
    Intake,
    /// The on-call post: reactions count.
    Oncall,
    /// The submitter's receipt DM: the thread their conversation with the
    /// request's owner is relayed in.
    Receipt,
}

/// A stored request, as every part of the service reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub number: RequestNumber,
    pub kind: RequestKind,
    pub title: Title,
    pub description: String,
    pub area: Option<String>,
    pub link: Option<Link>,
    pub severity: SeverityKey,
    pub state: State,
    pub submitter: String,
    pub owner: Option<String>,
    /// Slack refused a DM to the owner because they left (or cannot be
    /// DMed): a triager should assign someone else. Cleared whenever the
    /// owner changes.
    pub owner_unreachable: bool,
    pub deadlines: SlaDeadlines,
    pub created_at: DateTime<Utc>,
    /// Where accepted work is tracked.
    pub tracker: Option<Tracker>,
    /// When deferred work comes back to the queue.
    pub revisit_on: Option<chrono::NaiveDate>,
    /// Bumped by every change; a change based on an older version is refused.
    pub version: i32,
    /// When the SLA clock stopped (needs info, deferred); `None` while it runs.
    pub sla_paused_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The most urgent reminder threshold already sent for the running SLA
    /// (0: none yet); reset whenever a different SLA starts running.
    pub reminder_stage: i32,
    /// How many times the SLA started over (a new severity, a reopen): a new
    /// cycle's reminders are new messages.
    pub sla_cycle: i32,
    /// Distinct people who said they need this too (the "+1" emoji).
    pub demand: i32,
    /// The card in the intake channel, once posted.
    pub intake_message: Option<MessageRef>,
    /// Why the card could not be posted (Slack's error), until a fresh
    /// card is: the request is "not posted".
    pub intake_error: Option<String>,
    /// The submitter's receipt DM, once sent (requests filed before it was
    /// recorded have none).
    pub receipt: Option<MessageRef>,
    /// The team that owns it (its key); triaged by that team's triagers.
    pub team: String,
}

/// Why a person may not correct a request's filed details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditRefused {
    /// Only the submitter corrects what was filed for them.
    NotSubmitter,
    /// Triage has started: changes go through the owner (severity on the
    /// card, words in the thread).
    Triaged,
}

impl Request {
    /// The submitter may correct what was filed (a request filed for them
    /// from their message is a guess) until triage starts.
    pub fn may_edit(&self, user: &str) -> Result<(), EditRefused> {
        if self.submitter != user {
            return Err(EditRefused::NotSubmitter);
        }
        if self.state != State::New {
            return Err(EditRefused::Triaged);
        }
        Ok(())
    }

    /// The request with the submitter's corrections. A new severity runs
    /// its SLA from the filing time, as if filed with it, in a new cycle
    /// (its reminders are new messages).
    pub fn edited(&self, edit: &NewRequest, severity: &Severity, calendar: &BusinessCalendar) -> Request {
        let mut after = self.clone();
        after.kind = edit.kind;
        after.title = edit.title.clone();
        after.description = edit.description.clone();
        after.area = edit.area.clone();
        after.link = edit.link.clone();
        if severity.key != self.severity {
            after.severity = severity.key.clone();
            after.deadlines = SlaDeadlines::for_severity(severity, self.created_at, calendar);
            after.reminder_stage = 0;
            after.sla_cycle += 1;
        }
        after
    }
}

#[cfg(test)]
impl Request {
    /// A plain request for unit tests: #42, a bug from U0SUBMIT01, unowned,
    /// filed and due at `at`.
    pub fn sample(state: State, severity: &str, at: DateTime<Utc>) -> Self {
        Request {
            number: RequestNumber(42),
            kind: RequestKind::Bug,
            title: Title::stored("Invoices render blank".into()),
            description: "Since Monday.".into(),
            area: None,
            link: None,
            severity: SeverityKey::new(severity).expect("a valid key"),
            state,
            submitter: "U0SUBMIT01".into(),
            owner: None,
            owner_unreachable: false,
            deadlines: SlaDeadlines {
                response_due: at,
                resolution_due: at,
            },
            created_at: at,
            tracker: None,
            revisit_on: None,
            version: 0,
            sla_paused_at: None,
            resolved_at: None,
            reminder_stage: 0,
            sla_cycle: 0,
            demand: 0,
            intake_message: None,
            intake_error: None,
            receipt: None,
            team: "default".into(),
        }
    }
}

/// When the SLAs of a request submitted at `submitted_at` fall due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaDeadlines {
    pub response_due: DateTime<Utc>,
    pub resolution_due: DateTime<Utc>,
}

impl SlaDeadlines {
    pub fn for_severity(severity: &Severity, submitted_at: DateTime<Utc>, calendar: &BusinessCalendar) -> Self {
        Self {
            response_due: sla::deadline(submitted_at, severity.response, severity.clock, calendar),
            resolution_due: sla::deadline(submitted_at, severity.resolution, severity.clock, calendar),
        }
    }

    /// The deadlines under a new severity, keeping the SLA time already
    /// used: what was spent under the old severity (never the time the
    /// clock stood still) is charged against the new one's span. `at` is
    /// when the clock last ran: now, or when it was paused.
    pub fn for_new_severity(
        &self,
        old: &Severity,
        new: &Severity,
        at: DateTime<Utc>,
        calendar: &BusinessCalendar,
    ) -> Self {
        let moved = |due, old_span, new_span| {
            let old_span = sla::span_duration(old_span, old.clock, calendar);
            let new_span = sla::span_duration(new_span, new.clock, calendar);
            let used = old_span
                .checked_sub(&sla::elapsed(at, due, old.clock, calendar))
                .and_then(|used| used.checked_add(&sla::elapsed(due, at, old.clock, calendar)))
                .unwrap_or(old_span);
            let left = new_span.checked_sub(&used).unwrap_or(chrono::TimeDelta::zero());
            sla::deadline_after(at, left, new.clock, calendar)
        };
        Self {
            response_due: moved(self.response_due, old.response, new.response),
            resolution_due: moved(self.resolution_due, old.resolution, new.resolution),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sla::{ClockKind, SlaSpan};

    fn severities() -> Severities {
        Severities::new(vec![Severity {
            key: SeverityKey::new("sev2").unwrap(),
            label: "High".into(),
            response: SlaSpan::Hours(4),
            resolution: SlaSpan::Days(3),
            clock: ClockKind::Business,
            oncall: false,
        }])
        .unwrap()
    }

    fn form() -> SubmissionForm {
        SubmissionForm {
            kind: Some("bug".into()),
            title: Some("  Invoices render blank ".into()),
            description: Some("Since Monday.".into()),
            severity: Some("sev2".into()),
            area: None,
            link: Some("https://status.example.com/7781".into()),
        }
    }

    #[test]
    fn a_complete_form_becomes_a_request_with_trimmed_title() {
        let request = NewRequest::validate(&form(), "U1", &severities()).expect("valid");
        assert_eq!(request.title.as_str(), "Invoices render blank");
        assert_eq!(
            request.link.map(|l| l.as_str().to_string()).as_deref(),
            Some("https://status.example.com/7781")
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = SubmissionForm {
            kind: Some("question".into()),
            title: Some("x".repeat(151)),
            description: Some("   ".into()),
            severity: Some("sev9".into()),
            area: Some("a".repeat(81)),
            link: Some("javascript:alert(1)".into()),
        };
        let errors = NewRequest::validate(&bad, "U1", &severities()).expect_err("invalid");
        let fields: Vec<Field> = errors.0.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            [
                Field::Kind,
                Field::Title,
                Field::Description,
                Field::Severity,
                Field::Area,
                Field::Link
            ]
        );
        assert!(errors.0[1].1.contains("151 characters"));
    }

    #[test]
    fn title_limit_counts_characters_not_bytes() {
        assert!(Title::parse(Some(&"é".repeat(150))).is_ok());
        assert!(Title::parse(Some(&"é".repeat(151))).is_err());
    }

    #[test]
    fn number_displays_with_hash() {
        assert_eq!(RequestNumber(42).to_string(), "#42");
    }
}
