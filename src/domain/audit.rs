//! The audit log's vocabulary: one entry per accepted step, with the
//! step's details in a typed payload that is written and read back here
//! only (stored as JSON; absent details are left out).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::state::State;
use crate::domain::triage::{Event, StepKind};

/// What an entry records: the filing, or a triage step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Submitted,
    /// The submitter corrected what was filed (before triage).
    Edited,
    Step(StepKind),
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Submitted => "submitted",
            EntryKind::Edited => "edited",
            EntryKind::Step(kind) => kind.as_str(),
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "submitted" => Some(EntryKind::Submitted),
            "edited" => Some(EntryKind::Edited),
            other => StepKind::parse(other).map(EntryKind::Step),
        }
    }
}

/// A step's details as the log keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    /// Assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The severity set or escalated to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expectation: Option<String>,
    /// A deferral's revisit date (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Who filed a request for its submitter (reacting to their message
    /// with the file emoji).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filed_by: Option<String>,
    /// The team a request was moved to (its key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

impl From<&Event> for Details {
    fn from(event: &Event) -> Self {
        let text = |t: &crate::domain::text::Text| Some(t.as_str().to_string());
        match event {
            Event::Assign { to } => Details {
                to: Some(to.clone()),
                ..Default::default()
            },
            Event::SetSeverity { to } => Details {
                severity: Some(to.as_str().to_string()),
                ..Default::default()
            },
            Event::Escalate { to, emoji } => Details {
                severity: Some(to.as_str().to_string()),
                emoji: Some(emoji.clone()),
                ..Default::default()
            },
            Event::AskInfo { question } => Details {
                question: text(question),
                ..Default::default()
            },
            Event::AddInfo { answer } => Details {
                answer: text(answer),
                ..Default::default()
            },
            Event::Accept { tracker, expectation } => Details {
                tracker: Some(tracker.as_str().to_string()),
                expectation: expectation.as_ref().and_then(text),
                ..Default::default()
            },
            Event::Defer { until, reason } => Details {
                until: Some(until.to_string()),
                reason: text(reason),
                ..Default::default()
            },
            Event::Reject { reason } => Details {
                reason: text(reason),
                ..Default::default()
            },
            Event::Resolve { note } => Details {
                note: text(note),
                ..Default::default()
            },
            Event::MoveTeam { to, .. } => Details {
                team: Some(to.clone()),
                ..Default::default()
            },
            _ => Details::default(),
        }
    }
}

/// One row of a request's audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub at: DateTime<Utc>,
    /// A Slack user id, `scheduler`, or `tracker:` and the issue.
    pub actor: String,
    pub kind: EntryKind,
    pub from: Option<State>,
    pub to: State,
    pub details: Details,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::severity::SeverityKey;

    #[test]
    fn details_keep_the_keys_earlier_rows_were_written_with() {
        let event = Event::Escalate {
            to: SeverityKey::new("sev1").unwrap(),
            emoji: "rotating_light".into(),
        };
        let json = serde_json::to_string(&Details::from(&event)).unwrap();
        assert_eq!(json, r#"{"severity":"sev1","emoji":"rotating_light"}"#);
        let read: Details = serde_json::from_str(r#"{"severity":"sev2","expectation":null}"#).unwrap();
        assert_eq!(read.severity.as_deref(), Some("sev2"));
    }

    #[test]
    fn every_kind_reads_back_as_itself() {
        for kind in StepKind::ALL
            .map(EntryKind::Step)
            .into_iter()
            .chain([EntryKind::Submitted, EntryKind::Edited])
        {
            assert_eq!(EntryKind::parse(kind.as_str()), Some(kind));
        }
    }
}
