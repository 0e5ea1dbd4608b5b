//! The `serve` task that processes recorded reaction events
//! (`service::reaction::process_pending`) soon after Slack's ack.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::error;

use crate::context::Context;
use crate::service::reaction::process_pending;

pub async fn run(ctx: Context, recorded: Arc<Notify>, shutdown: CancellationToken) {
    let poll = ctx.settings.outbox.poll_interval;
    while !shutdown.is_cancelled() {
        let handled = match process_pending(&ctx, Utc::now()).await {
            Ok(n) => n,
            Err(e) => {
                error!(error = %e, "processing reaction events failed; retrying");
                0
            }
        };
        if handled == 0 {
            tokio::select! {
                _ = recorded.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    }
}
