//! The pure core: requests, severities, the SLA clock, the triage states
//! and what every step does to a request.
//!
//! Nothing here does I/O, reads the clock or knows about Slack or the
//! database; `now` is always an argument. Adapters call in, never the
//! reverse. Inside, modules import only those listed before them:
//! `sla`, `severity`, `state`, `text` → `request` → `reminders`, `policy`,
//! `schedule`, `escalation`, `audit`, `digest` → `triage`.

pub mod audit;
pub mod digest;
pub mod escalation;
pub mod policy;
pub mod reminders;
pub mod request;
pub mod schedule;
pub mod severity;
pub mod sla;
pub mod state;
pub mod team;
pub mod text;
pub mod triage;
