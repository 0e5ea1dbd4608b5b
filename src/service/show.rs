//! `/request help`, `/request list`, `/request list all`, `/request 42`:
//! read-only answers, ephemeral, built from the store.

use crate::context::Context;
use crate::domain::request::RequestNumber;
use crate::slack::Reply;
use crate::slack::render::{self, lists, replies};
use crate::store::{StoreError, audit, requests};

/// The queue shows this many, then "+".
const QUEUE_LIMIT: u64 = 40;

fn ephemeral(text: String) -> Reply {
    Reply::Json(replies::ephemeral_reply(text))
}

fn unavailable(e: StoreError) -> Reply {
    tracing::error!(error = %e, "store unavailable");
    ephemeral(replies::store_unavailable())
}

pub fn help(ctx: &Context) -> Reply {
    ephemeral(render::help_text(&ctx.settings.policy.severities))
}

/// The caller's open requests.
pub async fn mine(ctx: &Context, user: &str) -> Reply {
    match requests::open_for_submitter(ctx.store.db(), user, 25).await {
        Ok(mine) => ephemeral(lists::my_requests(&mine)),
        Err(e) => unavailable(e),
    }
}

/// Every open request, for triagers.
pub async fn queue(ctx: &Context, user: &str) -> Reply {
    if !ctx.triagers.contains(user).await {
        return ephemeral(replies::queue_is_for_triagers());
    }
    match requests::open_queue(ctx.store.db(), QUEUE_LIMIT).await {
        Ok(queue) => ephemeral(lists::queue(&queue, QUEUE_LIMIT as usize)),
        Err(e) => unavailable(e),
    }
}

/// One request with its history.
pub async fn status(ctx: &Context, number: RequestNumber) -> Reply {
    let db = ctx.store.db();
    match requests::find(db, number).await {
        Ok(Some(request)) => match audit::history(db, number).await {
            Ok(history) => ephemeral(lists::status(&request, &history)),
            Err(e) => unavailable(e),
        },
        Ok(None) => ephemeral(replies::no_such_request(number)),
        Err(e) => unavailable(e),
    }
}
