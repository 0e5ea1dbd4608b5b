//! When the scheduler must next look at a request: computed whenever a
//! request changes and stored in indexed columns, so each sweep asks the
//! database "what is due now" instead of loading requests.

use chrono::{DateTime, TimeDelta, Utc};

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
    let (followup_at, auto_close_at) = resolved_at.map(|at| after_resolution(at, policy)).unzip();
    Schedule {
        next_reminder_at,
        followup_at,
        auto_close_at,
    }
}

/// Deferred requests come back at the start of a working day, when someone
/// is there to pick them up, not at midnight or on a Sunday: revisits run
/// only in working hours.
pub fn revisits_run_at(at: DateTime<Utc>, policy: &Policy) -> bool {
    policy.calendar.is_working_time(at)
}

/// A day to answer the follow-up, at least, before closing on one's own.
const ANSWER_TIME: TimeDelta = TimeDelta::days(1);

/// When a request resolved at `resolved_at` is followed up, and when it
/// closes on its own: never before the follow-up has had a day's answer.
pub fn after_resolution(resolved_at: DateTime<Utc>, policy: &Policy) -> (DateTime<Utc>, DateTime<Utc>) {
    let followup = sla::deadline(
        resolved_at,
        policy.followup_after,
        ClockKind::Business,
        &policy.calendar,
    );
    let close = sla::deadline(resolved_at, policy.auto_close_after, ClockKind::Wall, &policy.calendar);
    let answered = followup.checked_add_signed(ANSWER_TIME).unwrap_or(followup);
    (followup, close.max(answered))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::sla::SlaSpan;

    #[test]
    fn auto_close_never_comes_before_the_follow_up_is_answered() {
        let resolved = Utc.with_ymd_and_hms(2026, 12, 18, 16, 0, 0).unwrap();
        for (followup_days, close_days) in [(3, 7), (10, 7), (1, 1), (30, 2)] {
            let policy = Policy {
                followup_after: SlaSpan::Days(followup_days),
                auto_close_after: SlaSpan::Days(close_days),
                ..Policy::sample()
            };
            let (followup, close) = after_resolution(resolved, &policy);
            assert!(followup > resolved);
            assert!(
                close >= followup + ANSWER_TIME,
                "{followup_days}/{close_days}: {followup} → {close}"
            );
        }
    }
}
