//! The scheduler: SLA reminders and breach notices, follow-ups and
//! auto-close, deferred revisits, and the daily digest.
//!
//! Every job asks the database what is due through an index and writes
//! its messages to the outbox under a deterministic key
//! (`sla:42:resolution:900`, `followup:42:…`, `digest:2026-11-24`), so
//! restarts, overlapping ticks, `run-jobs` beside `serve` and several
//! replicas never send anything twice. `now` is always an argument.

pub mod digest;
pub mod jobs;
pub mod plan;

pub use jobs::{JobReport, run_due};

use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::app::AppState;

/// The scheduler task of `intake serve`: runs every due job at each tick of
/// `schedule.sla_sweep` (in the calendar's time zone) until shutdown.
/// How often `serve` lets SQLite refresh its planner statistics.
const OPTIMIZE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

pub async fn run_on_schedule(state: Arc<AppState>, shutdown: CancellationToken) {
    let tz = state.settings.calendar.tz();
    info!("scheduler started");
    let mut optimized = std::time::Instant::now();
    loop {
        let Some(next) = state.settings.sla_sweep_schedule.upcoming(tz).next() else {
            error!("schedule.sla_sweep has no future tick; the scheduler stops");
            return;
        };
        let wait = (next.with_timezone(&Utc) - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = run_due(&state, Utc::now(), false).await {
            error!(error = %e, "scheduler run failed; the next tick retries");
        }
        // A database that grew from empty since startup has no planner
        // statistics; without them the digest's queries at a million
        // requests took 1.2 s instead of 0.7 s (BENCHMARKS.md).
        if optimized.elapsed() >= OPTIMIZE_EVERY {
            state.store.optimize().await;
            optimized = std::time::Instant::now();
        }
    }
}
