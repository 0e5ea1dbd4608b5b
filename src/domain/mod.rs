//! The pure core: requests, severities, the SLA clock and the triage states.
//!
//! Nothing here does I/O, reads the clock or knows about Slack or the
//! database; `now` is always an argument. Adapters call in, never the reverse.

pub mod escalation;
pub mod reminders;
pub mod request;
pub mod severity;
pub mod sla;
pub mod triage;
