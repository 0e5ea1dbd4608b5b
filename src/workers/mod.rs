//! Background loops, started by `startup` in `intake serve`: the outbox
//! `dispatcher`, the cron-driven `scheduler` and the `reactions` worker.
//! Each calls the same services and store functions the HTTP path does.

pub mod dispatcher;
pub mod pacing;
pub mod reactions;
pub mod scheduler;
