//! When the scheduler must next look at a request: computed whenever a
//! request changes and stored in indexed columns, so each sweep asks the
//! database "what is due now" instead of loading requests.

use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::domain::reminders::{self, SlaKind};
use crate::domain::request::{Request, SlaDeadlines};
use crate::domain::severity::Severity;
use crate::domain::sla::{self, ClockKind};
use crate::domain::triage::State;
use crate::store::requests::Schedule;

/// The next reminder threshold of the SLA running in `state`.
pub fn next_reminder(
    state: State,
    severity: &Severity,
    deadlines: &SlaDeadlines,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let kind = reminders::running_sla(state)?;
    let due = due(kind, deadlines);
    let span = reminders::span(kind, severity, &settings.calendar);
    let thresholds = reminders::thresholds(&settings.raw.reminders.fractions);
    reminders::next_threshold(due, span, &thresholds, now, severity, &settings.calendar)
}

pub fn due(kind: SlaKind, deadlines: &SlaDeadlines) -> DateTime<Utc> {
    match kind {
        SlaKind::Response => deadlines.response_due,
        SlaKind::Resolution => deadlines.resolution_due,
    }
}

/// Every scheduled look at `request` as it is now.
pub fn schedule_for(request: &Request, settings: &Settings, now: DateTime<Utc>) -> Schedule {
    let next_reminder_at = settings
        .severities
        .get(request.severity.as_str())
        .and_then(|severity| next_reminder(request.state, severity, &request.deadlines, settings, now));
    let resolved_at = request.resolved_at.filter(|_| request.state == State::Resolved);
    Schedule {
        next_reminder_at,
        followup_at: resolved_at
            .map(|at| sla::deadline(at, settings.followup_after, ClockKind::Business, &settings.calendar)),
        auto_close_at: resolved_at
            .map(|at| sla::deadline(at, settings.auto_close_after, ClockKind::Wall, &settings.calendar)),
    }
}
