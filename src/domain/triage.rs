//! Triage states and what each step must tell people.
//!
//! This module owns the lifecycle vocabulary (DESIGN §2). Submission is the
//! first step: it decides which messages a new request causes. The full
//! transition table builds on the same [`State`] and [`Notice`] types.

use std::fmt;

use crate::domain::severity::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    New,
    Triaged,
    NeedsInfo,
    Accepted,
    Deferred,
    Rejected,
    Resolved,
    Closed,
}

impl State {
    pub const ALL: [State; 8] = [
        State::New,
        State::Triaged,
        State::NeedsInfo,
        State::Accepted,
        State::Deferred,
        State::Rejected,
        State::Resolved,
        State::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Triaged => "triaged",
            State::NeedsInfo => "needs_info",
            State::Accepted => "accepted",
            State::Deferred => "deferred",
            State::Rejected => "rejected",
            State::Resolved => "resolved",
            State::Closed => "closed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Words for people: "needs info" rather than `needs_info`.
    pub fn label(self) -> &'static str {
        match self {
            State::NeedsInfo => "needs info",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message a step causes; the Slack adapter renders it, the outbox sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The request's card in the intake channel (later updated in place).
    IntakePost,
    /// The submitter's DM: number, severity, what the SLA means, a link.
    SubmitterReceipt,
    /// The on-call off-ramp: a post in the on-call channel.
    OncallAlert,
}

/// A new request starts in `new`; these are the messages it causes, in the
/// order they must be delivered (the receipt and alert link to the post).
pub fn on_submit(severity: &Severity) -> Vec<Notice> {
    let mut notices = vec![Notice::IntakePost, Notice::SubmitterReceipt];
    if severity.oncall {
        notices.push(Notice::OncallAlert);
    }
    notices
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::severity::SeverityKey;
    use crate::domain::sla::{ClockKind, SlaSpan};

    #[test]
    fn states_round_trip_through_their_names() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        assert_eq!(State::parse("open"), None);
    }

    #[test]
    fn only_oncall_severities_take_the_off_ramp() {
        let mut severity = Severity {
            key: SeverityKey::new("sev1").unwrap(),
            label: "Critical".into(),
            response: SlaSpan::Minutes(30),
            resolution: SlaSpan::Days(1),
            clock: ClockKind::Wall,
            oncall: true,
        };
        assert_eq!(
            on_submit(&severity),
            [Notice::IntakePost, Notice::SubmitterReceipt, Notice::OncallAlert]
        );
        severity.oncall = false;
        assert_eq!(on_submit(&severity), [Notice::IntakePost, Notice::SubmitterReceipt]);
    }
}
