//! `/request help`, `/request list`, `/request list all`, `/request 42`:
//! read-only answers, ephemeral, built from the store.

use crate::config::Visibility;
use crate::context::Context;
use crate::domain::request::{Request, RequestNumber};
use crate::slack::Reply;
use crate::slack::render::{self, lists, replies};
use crate::store::{StoreError, audit, demand, requests};

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

/// `/request who <words>`: which team owns what the words describe.
pub fn who(ctx: &Context, words: &str) -> Reply {
    let teams = &ctx.settings.teams;
    ephemeral(render::who_owns(words, &teams.who(words), teams))
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

/// One request with its history, for `user` (see `privacy.request_visibility`).
pub async fn status(ctx: &Context, number: RequestNumber, user: &str) -> Reply {
    let db = ctx.store.db();
    let request = match requests::find(db, number).await {
        Ok(Some(request)) => request,
        Ok(None) => return ephemeral(replies::no_such_request(number)),
        Err(e) => return unavailable(e),
    };
    if !may_see(ctx, &request, user).await {
        return ephemeral(replies::not_involved(number));
    }
    match audit::history(db, number).await {
        Ok(history) => ephemeral(lists::status(&request, &history)),
        Err(e) => unavailable(e),
    }
}

/// Everyone may see every request, unless visibility is "involved".
async fn may_see(ctx: &Context, request: &Request, user: &str) -> bool {
    if ctx.settings.request_visibility == Visibility::Everyone
        || request.submitter == user
        || request.owner.as_deref() == Some(user)
    {
        return true;
    }
    let voted = demand::has_vote(ctx.store.db(), request.number, user).await;
    voted.unwrap_or(false) || ctx.triagers.contains(user).await
}
