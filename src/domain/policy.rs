//! The rules a team configures that the domain applies: severities with
//! their SLAs, the business calendar, reminder thresholds and how long a
//! resolved request waits for its submitter. Built once from config.

use crate::domain::reminders::Permille;
use crate::domain::severity::{Severities, Severity, SeverityKey};
use crate::domain::sla::{BusinessCalendar, SlaSpan};

#[derive(Debug, Clone)]
pub struct Policy {
    pub severities: Severities,
    pub calendar: BusinessCalendar,
    /// Reminder thresholds, ascending, the breach (1000) last.
    pub thresholds: Vec<Permille>,
    /// A resolved request's follow-up DM, in business time after resolving.
    pub followup_after: SlaSpan,
    /// A resolved request closes itself this long (wall time) after resolving.
    pub auto_close_after: SlaSpan,
}

impl Policy {
    pub fn severity(&self, key: &SeverityKey) -> Option<&Severity> {
        self.severities.get(key.as_str())
    }

    /// Does a request at this severity take the on-call off-ramp?
    pub fn is_oncall(&self, key: &SeverityKey) -> bool {
        self.severity(key).is_some_and(|s| s.oncall)
    }
}

#[cfg(test)]
impl Policy {
    /// The shipped defaults (DESIGN §3) on the default UTC calendar.
    pub fn sample() -> Self {
        use crate::domain::sla::ClockKind;
        let severity = |key: &str, label: &str, response, resolution, clock, oncall| Severity {
            key: SeverityKey::new(key).expect("a valid key"),
            label: label.into(),
            response,
            resolution,
            clock,
            oncall,
        };
        let severities = Severities::new(vec![
            severity(
                "sev1",
                "Critical",
                SlaSpan::Minutes(30),
                SlaSpan::Days(1),
                ClockKind::Wall,
                true,
            ),
            severity(
                "sev2",
                "High",
                SlaSpan::Hours(4),
                SlaSpan::Days(3),
                ClockKind::Business,
                false,
            ),
            severity(
                "sev3",
                "Medium",
                SlaSpan::Days(1),
                SlaSpan::Days(10),
                ClockKind::Business,
                false,
            ),
            severity(
                "sev4",
                "Low",
                SlaSpan::Days(3),
                SlaSpan::Days(30),
                ClockKind::Business,
                false,
            ),
        ])
        .expect("valid severities");
        Policy {
            severities,
            calendar: BusinessCalendar::default_utc(),
            thresholds: crate::domain::reminders::thresholds(&[0.5, 0.9]),
            followup_after: SlaSpan::Days(2),
            auto_close_after: SlaSpan::Days(7),
        }
    }
}
