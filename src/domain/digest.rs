//! The daily digest as data: what the store gathers and the Slack adapter
//! words. No queries and no wording here.

use chrono::TimeDelta;

use crate::domain::request::Request;

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
    pub at_risk: Listing,
    pub breached: Listing,
    pub oldest_untriaged: Listing,
    /// Open requests most people said they need too.
    pub most_wanted: Listing,
    pub resolved_since: u64,
    pub closed_since: u64,
    pub median_time_to_triage: Option<TimeDelta>,
    /// (resolved within SLA, resolved) over the last 30 days.
    pub sla_attainment: (u64, u64),
}
