//! SLA reminders as pure functions: which SLA clock is running in a state,
//! which reminder threshold has passed, and when the next one will.
//!
//! Thresholds are fractions of an SLA's span (say 0.5 and 0.9) plus the
//! breach at 1.0. A threshold has passed when the counted time left before
//! the deadline is at most `(1 − fraction) × span`, which stays right when
//! a pause has moved the deadline.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::severity::Severity;
use crate::domain::sla::{self, BusinessCalendar};
use crate::domain::state::State;

/// Which of a request's SLAs a reminder is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaKind {
    /// Time until someone owns it.
    Response,
    /// Time until it is resolved.
    Resolution,
}

impl SlaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaKind::Response => "response",
            SlaKind::Resolution => "resolution",
        }
    }
}

/// The SLA whose clock runs in `state`; none while paused (needs info,
/// deferred) or finished.
pub fn running_sla(state: State) -> Option<SlaKind> {
    match state {
        State::New => Some(SlaKind::Response),
        State::Triaged | State::Accepted => Some(SlaKind::Resolution),
        _ => None,
    }
}

/// A threshold in thousandths of the span, so it can be part of a key
/// (`sla:42:resolution:900`); 1000 is the breach.
pub type Permille = u32;
pub const BREACH: Permille = 1000;

/// The configured fractions as thresholds, ascending, with the breach last.
pub fn thresholds(fractions: &[f64]) -> Vec<Permille> {
    let mut list: Vec<Permille> = fractions
        .iter()
        .filter(|f| **f > 0.0 && **f < 1.0)
        .map(|f| (f * 1000.0).round() as Permille)
        .collect();
    list.push(BREACH);
    list.sort_unstable();
    list.dedup();
    list
}

/// The span of `kind` for `severity`, in counted time.
pub fn span(kind: SlaKind, severity: &Severity, calendar: &BusinessCalendar) -> TimeDelta {
    let span = match kind {
        SlaKind::Response => severity.response,
        SlaKind::Resolution => severity.resolution,
    };
    sla::span_duration(span, severity.clock, calendar)
}

/// Counted time left until `due` (zero once it has passed).
fn remaining(now: DateTime<Utc>, due: DateTime<Utc>, severity: &Severity, calendar: &BusinessCalendar) -> TimeDelta {
    sla::elapsed(now, due, severity.clock, calendar)
}

fn left_at(threshold: Permille, span: TimeDelta) -> TimeDelta {
    span * (BREACH - threshold.min(BREACH)) as i32 / BREACH as i32
}

/// The most urgent threshold that has passed at `now`, if any: a request
/// found past several gets one reminder, not a burst.
pub fn most_urgent(
    due: DateTime<Utc>,
    span: TimeDelta,
    thresholds: &[Permille],
    now: DateTime<Utc>,
    severity: &Severity,
    calendar: &BusinessCalendar,
) -> Option<Permille> {
    let left = remaining(now, due, severity, calendar);
    thresholds.iter().copied().filter(|t| left <= left_at(*t, span)).max()
}

/// When the next threshold after those passed at `now` will pass.
pub fn next_threshold(
    due: DateTime<Utc>,
    span: TimeDelta,
    thresholds: &[Permille],
    now: DateTime<Utc>,
    severity: &Severity,
    calendar: &BusinessCalendar,
) -> Option<DateTime<Utc>> {
    let left = remaining(now, due, severity, calendar);
    thresholds
        .iter()
        .map(|t| left_at(*t, span))
        .filter(|at_left| left > *at_left)
        .map(|at_left| sla::deadline_after(now, left - at_left, severity.clock, calendar))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::severity::SeverityKey;
    use crate::domain::sla::{ClockKind, SlaSpan};
    use chrono::TimeZone;

    fn wall(hours: u32) -> Severity {
        Severity {
            key: SeverityKey::new("sev1").unwrap(),
            label: "Critical".into(),
            response: SlaSpan::Hours(hours),
            resolution: SlaSpan::Hours(hours * 10),
            clock: ClockKind::Wall,
            oncall: true,
        }
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap()
    }

    #[test]
    fn thresholds_are_sorted_with_the_breach_last() {
        assert_eq!(thresholds(&[0.9, 0.5]), [500, 900, 1000]);
        assert_eq!(thresholds(&[]), [1000]);
    }

    #[test]
    fn the_most_urgent_passed_threshold_wins() {
        let severity = wall(10);
        let cal = BusinessCalendar::default_utc();
        let due = at(20, 0); // started 10:00, 10 hours
        let span = TimeDelta::hours(10);
        let t = thresholds(&[0.5, 0.9]);
        assert_eq!(most_urgent(due, span, &t, at(14, 59), &severity, &cal), None);
        assert_eq!(most_urgent(due, span, &t, at(15, 0), &severity, &cal), Some(500));
        assert_eq!(most_urgent(due, span, &t, at(19, 30), &severity, &cal), Some(900));
        assert_eq!(most_urgent(due, span, &t, at(23, 0), &severity, &cal), Some(BREACH));
    }

    #[test]
    fn the_next_threshold_is_the_first_not_yet_passed() {
        let severity = wall(10);
        let cal = BusinessCalendar::default_utc();
        let (due, span, t) = (at(20, 0), TimeDelta::hours(10), thresholds(&[0.5, 0.9]));
        assert_eq!(
            next_threshold(due, span, &t, at(10, 0), &severity, &cal),
            Some(at(15, 0))
        );
        assert_eq!(
            next_threshold(due, span, &t, at(15, 0), &severity, &cal),
            Some(at(19, 0))
        );
        assert_eq!(
            next_threshold(due, span, &t, at(19, 10), &severity, &cal),
            Some(at(20, 0))
        );
        assert_eq!(next_threshold(due, span, &t, at(20, 0), &severity, &cal), None);
    }

    #[test]
    fn only_active_states_run_a_clock() {
        assert_eq!(running_sla(State::New), Some(SlaKind::Response));
        assert_eq!(running_sla(State::Accepted), Some(SlaKind::Resolution));
        for paused in [
            State::NeedsInfo,
            State::Deferred,
            State::Resolved,
            State::Closed,
            State::Rejected,
        ] {
            assert_eq!(running_sla(paused), None);
        }
    }
}
