//! App Home: opening the tab asks for a fresh Home, and every change to a
//! request asks for its submitter's and owner's. Either way the refresh is
//! an outbox row rendered when the dispatcher sends it, so a burst of
//! changes costs one `views.publish` per person.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::warn;

use crate::context::Context;
use crate::domain::request::Request;
use crate::slack::Reply;
use crate::slack::render;
use crate::store::{self, StoreError, Transaction};

/// `app_home_opened` on the Home tab: queue a refresh and ack at once.
pub async fn opened(ctx: &Context, user: &str) -> Reply {
    match refresh_now(ctx, &[user]).await {
        Ok(()) => {}
        Err(e) => warn!(error = %e, user, "could not queue the App Home refresh"),
    }
    Reply::Ack
}

/// Queues Home refreshes for `users` in a transaction of its own.
pub async fn refresh_now(ctx: &Context, users: &[&str]) -> Result<(), StoreError> {
    let txn = ctx.store.write().await?;
    store::outbox::enqueue_homes(&txn, users.iter().copied(), Utc::now()).await?;
    txn.commit().await?;
    ctx.outbox.wake();
    Ok(())
}

/// Queues, inside the caller's transaction, Home refreshes for the people
/// a change to a request concerns: its submitter, and its owner before and
/// after.
pub async fn refresh_involved(
    txn: &Transaction,
    before: Option<&Request>,
    after: &Request,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut people = vec![after.submitter.as_str()];
    people.extend(after.owner.as_deref());
    people.extend(before.and_then(|b| b.owner.as_deref()));
    store::outbox::enqueue_homes(txn, people, now).await
}

/// `user`'s Home as it is now, for `views.publish`.
pub async fn view(ctx: &Context, user: &str) -> Result<Value, StoreError> {
    let triages = ctx.triagers.teams_of(user).await;
    // A triager of every team sees the whole queue (requests of a team
    // removed from the config included); others see their teams'.
    let every = ctx.settings.teams.all().iter().all(|t| triages.contains(&t.key));
    let queue_of = match (triages.is_empty(), every) {
        (true, _) => None,
        (false, true) => Some(store::digest::Scope::Every),
        (false, false) => Some(store::digest::Scope::Teams(&triages)),
    };
    let (mine, queue) = store::home::read(ctx.store.db(), user, queue_of, Utc::now()).await?;
    let workspace = ctx.slack.workspace_url().await;
    Ok(render::home::home(
        &mine,
        queue.as_ref(),
        &ctx.settings.teams,
        workspace.as_deref(),
    ))
}
