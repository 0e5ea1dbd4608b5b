//! The daily digest as data: what the store gathers and the Slack adapter
//! words. No queries and no wording here.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::reminders;
use crate::domain::request::Request;
use crate::domain::schedule;

/// A list of requests with its full count ("…and N more").
#[derive(Debug, Default)]
pub struct Listing {
    pub total: u64,
    pub shown: Vec<Request>,
}

#[derive(Debug, Default)]
pub struct DigestSummary {
    /// (state, severity key, count) of open requests.
    pub open: Vec<(String, String, i64)>,
    pub new_since: Listing,
    /// Past a reminder, not yet breached; soonest running deadline first.
    pub at_risk: Listing,
    /// Past the running deadline; longest overdue first.
    pub breached: Listing,
    pub oldest_untriaged: Listing,
    /// Open requests most people said they need too.
    pub most_wanted: Listing,
    pub resolved_since: u64,
    pub closed_since: u64,
    /// From filing to the first step out of `new`, over requests whose
    /// first step was in the last 30 days.
    pub median_time_to_triage: Option<TimeDelta>,
    /// (met, counted): requests resolved in the last 30 days, by their
    /// resolution deadline or not, plus the open requests already past it
    /// (missed).
    pub resolution_attainment: (u64, u64),
    /// (met, counted): requests filed in the last 30 days whose first step
    /// out of `new` came by their response deadline, of those triaged or
    /// still new past it.
    pub response_attainment: (u64, u64),
}

impl DigestSummary {
    /// Nothing filed, resolved or closed since the last digest and nothing
    /// open: a digest would say nothing.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty() && self.new_since.total == 0 && self.resolved_since == 0 && self.closed_since == 0
    }
}

/// The deadline a listed request is measured against: the response SLA's
/// while it is new, the resolution SLA's while it is worked on (and, when
/// no SLA runs, the resolution deadline).
pub fn running_deadline(request: &Request) -> DateTime<Utc> {
    reminders::running_sla(request.state).map_or(request.deadlines.resolution_due, |kind| {
        schedule::due(kind, &request.deadlines)
    })
}
