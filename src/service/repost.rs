//! Posting a request's card again after Slack refused it (`intake repost
//! N`, or *Post again* in the triagers' notice): in one transaction, a fresh
//! card (a new intake post, whose address the dispatcher records), then
//! every message that died waiting for the card, queued again behind it so
//! per-request order sends them after it. Dead card refreshes are not sent
//! again: the fresh card shows the request as it is now.

use chrono::{DateTime, Utc};
use tracing::info;

use crate::context::Context;
use crate::domain::request::{PostKind, RequestNumber};
use crate::outbox::{DedupeKey, Method, OutboundMessage};
use crate::slack::Reply;
use crate::slack::render::{self, replies};
use crate::store::outbox::{self, OutboxRow};
use crate::store::{StoreError, requests};

use super::explain::{ReplyTo, explained};

/// What asking for the card again did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reposted {
    /// A fresh card is queued for its team's `channel`, and this many
    /// waiting messages after it.
    Queued {
        waiting: usize,
        channel: String,
    },
    /// The card is already in the intake channel.
    AlreadyPosted,
    /// A post of the card is still on its way.
    UnderWay,
    NoSuchRequest,
}

/// Queues a fresh card for request `number` and what was waiting for it.
pub async fn repost(ctx: &Context, number: RequestNumber, now: DateTime<Utc>) -> Result<Reposted, StoreError> {
    let settings = &ctx.settings;
    let txn = ctx.store.write().await?;
    let Some(request) = requests::find(&txn, number).await? else {
        return Ok(Reposted::NoSuchRequest);
    };
    if request.intake_message.is_some() {
        return Ok(Reposted::AlreadyPosted);
    }
    let rows = outbox::for_request(&txn, number).await?;
    let cards: Vec<&OutboxRow> = rows
        .iter()
        .filter(|r| outbox::records(r) == Some(PostKind::Intake))
        .collect();
    if cards.iter().any(|r| r.status == outbox::PENDING) {
        return Ok(Reposted::UnderWay);
    }
    let nth = cards.len();
    let team = settings.team(&request.team);
    let card = OutboundMessage::post(
        Some(number),
        DedupeKey::intake_repost(number, nth),
        render::intake_post(&request, &settings.teams),
    )
    .recording(PostKind::Intake);
    outbox::enqueue(&txn, card, now).await?;
    // The dead cards are replaced; so are the messages that died for want
    // of one (sent again, after the fresh card, except card refreshes).
    let mut superseded: Vec<i64> = cards
        .iter()
        .filter(|r| r.status == outbox::DEAD)
        .map(|r| r.id)
        .collect();
    let mut waiting = 0;
    let starved = rows.iter().filter(|r| {
        r.status == outbox::DEAD
            && r.last_error
                .as_deref()
                .is_some_and(|e| e.contains(outbox::NO_INTAKE_MESSAGE))
    });
    for row in starved {
        superseded.push(row.id);
        if row.method == Method::UpdateMessage.as_str() {
            continue;
        }
        let key = DedupeKey::after_repost(&DedupeKey::stored(row.dedupe_key.clone()), nth);
        if outbox::requeue(&txn, row, &key, now).await? {
            waiting += 1;
        }
    }
    outbox::supersede(&txn, &superseded).await?;
    requests::set_intake_error(&txn, number, None).await?;
    txn.commit().await?;
    ctx.outbox.wake();
    info!(request = number.0, waiting, "card queued to be posted again");
    Ok(Reposted::Queued {
        waiting,
        channel: team.channel.clone(),
    })
}

/// *Post again* clicked by `user`: triagers only.
pub async fn clicked(ctx: &Context, number: RequestNumber, user: &str, reply_to: &ReplyTo) -> Reply {
    if !ctx.triagers.contains(user).await {
        return explained(ctx, reply_to, &replies::repost_is_for_triagers(number)).await;
    }
    let answer = match repost(ctx, number, Utc::now()).await {
        Ok(Reposted::Queued { waiting, channel }) => replies::reposting(number, &channel, waiting),
        Ok(Reposted::AlreadyPosted) => replies::already_posted(number),
        Ok(Reposted::UnderWay) => replies::repost_under_way(number),
        Ok(Reposted::NoSuchRequest) => replies::no_such_request(number),
        Err(e) => return Reply::Unavailable(format!("could not queue the card again: {e}")),
    };
    explained(ctx, reply_to, &answer).await
}
