//! The scheduler task of `intake serve`: runs every due job
//! (`service::scheduled::run_due`) at each tick of `schedule.sla_sweep`, in
//! the calendar's time zone, until shutdown.

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::context::Context;
use crate::service::scheduled::run_due;

/// How often `serve` lets SQLite refresh its planner statistics.
const OPTIMIZE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

pub async fn run(ctx: Context, shutdown: CancellationToken) {
    let tz = ctx.settings.policy.calendar.tz();
    info!("scheduler started");
    let mut optimized = std::time::Instant::now();
    loop {
        let Some(next) = ctx.settings.sla_sweep_schedule.upcoming(tz).next() else {
            error!("schedule.sla_sweep has no future tick; the scheduler stops");
            return;
        };
        let wait = (next.with_timezone(&Utc) - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = run_due(&ctx, Utc::now(), false).await {
            error!(error = %e, "scheduler run failed; the next tick retries");
        }
        // A database that grew from empty since startup has no planner
        // statistics; without them the digest's queries at a million
        // requests took 1.2 s instead of 0.7 s (BENCHMARKS.md).
        if optimized.elapsed() >= OPTIMIZE_EVERY {
            ctx.store.optimize().await;
            optimized = std::time::Instant::now();
        }
    }
}
