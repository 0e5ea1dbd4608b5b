//! When the scheduler must next look at a request: computed whenever a
//! request changes and stored in indexed columns, so each sweep asks the
//! database "what is due now" instead of loading requests.

use chrono::{DateTime, Utc};

use crate::domain::policy::Policy;
use crate::domain::reminders::{self, SlaKind};
use crate::domain::request::{Request, SlaDeadlines};
use crate::domain::severity::Severity;
use crate::domain::sla::{self, ClockKind};
use crate::domain::state::State;

/// Every instant the scheduler must next look at a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    pub next_reminder_at: Option<DateTime<Utc>>,
    pub followup_at: Option<DateTime<Utc>>,
    pub auto_close_at: Option<DateTime<Utc>>,
}

/// The next reminder threshold of the SLA running in `state`.
pub fn next_reminder(
    state: State,
    severity: &Severity,
    deadlines: &SlaDeadlines,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let kind = reminders::running_sla(state)?;
    let due = due(kind, deadlines);
    let span = reminders::span(kind, severity, &policy.calendar);
    reminders::next_threshold(due, span, &policy.thresholds, now, severity, &policy.calendar)
}

pub fn due(kind: SlaKind, deadlines: &SlaDeadlines) -> DateTime<Utc> {
    match kind {
        SlaKind::Response => deadlines.response_due,
        SlaKind::Resolution => deadlines.resolution_due,
    }
}

/// Every scheduled look at `request` as it is now.
pub fn schedule_for(request: &Request, policy: &Policy, now: DateTime<Utc>) -> Schedule {
    let next_reminder_at = policy
        .severity(&request.severity)
        .and_then(|severity| next_reminder(request.state, severity, &request.deadlines, policy, now));
    let resolved_at = request.resolved_at.filter(|_| request.state == State::Resolved);
    Schedule {
        next_reminder_at,
        followup_at: resolved_at
            .map(|at| sla::deadline(at, policy.followup_after, ClockKind::Business, &policy.calendar)),
        auto_close_at: resolved_at
            .map(|at| sla::deadline(at, policy.auto_close_after, ClockKind::Wall, &policy.calendar)),
    }
}
