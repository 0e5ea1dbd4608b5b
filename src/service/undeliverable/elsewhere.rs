//! A message Slack would not post where it was meant to go, because the bot
//! cannot post there (not invited, channel archived or gone): the person it
//! was for hears by DM instead.
//!
//! - An ephemeral explanation in a channel the bot is not in (a shortcut or
//!   emoji used there): the same words, as a DM.
//! - The "Filed as #N" reply under a message filed from such a channel: the
//!   submitter hears where their request is, and why there is no reply.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tracing::info;

use crate::domain::request::RequestNumber;
use crate::outbox::{DedupeKey, Method, OutboundMessage};
use crate::slack::api::error_code;
use crate::slack::render::{self, replies};
use crate::store::outbox::{self as queue, OutboxRow};
use crate::store::{StoreError, Transaction, requests};

/// Refusals that mean "not here", where a DM still reaches the person.
fn cannot_post_there(error: &str) -> bool {
    matches!(
        error_code(error),
        "not_in_channel" | "channel_not_found" | "is_archived" | "user_not_in_channel" | "restricted_action"
    )
}

pub async fn died(txn: &Transaction, row: &OutboxRow, error: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    if !cannot_post_there(error) {
        return Ok(());
    }
    let instead = if row.method == Method::PostEphemeral.as_str() {
        ephemeral_as_dm(row)
    } else if let Some(number) = row.request_id.map(RequestNumber)
        && row.dedupe_key == DedupeKey::filed_reply(number).as_str()
    {
        filed_reply_as_dm(txn, row, number, error).await?
    } else {
        None
    };
    if let Some(message) = instead {
        info!(error, "the bot cannot post there; telling the person by DM instead");
        queue::enqueue(txn, message, now).await?;
    }
    Ok(())
}

/// An ephemeral's words, to the same person, as a DM.
fn ephemeral_as_dm(row: &OutboxRow) -> Option<OutboundMessage> {
    #[derive(Deserialize)]
    struct Ephemeral {
        user: String,
        text: String,
    }
    let ephemeral: Ephemeral = serde_json::from_str(&row.payload).ok()?;
    let key = DedupeKey::instead_of(&row.dedupe_key);
    Some(OutboundMessage::post(
        row.request_id.map(RequestNumber),
        key,
        replies::dm_message(&ephemeral.user, &ephemeral.text),
    ))
}

/// Where the filed message's request is, to its submitter.
async fn filed_reply_as_dm(
    txn: &Transaction,
    row: &OutboxRow,
    number: RequestNumber,
    error: &str,
) -> Result<Option<OutboundMessage>, StoreError> {
    let Some(request) = requests::find(txn, number).await? else {
        return Ok(None);
    };
    let Some(channel) = render::address(&row.payload).map(|a| a.channel) else {
        return Ok(None);
    };
    let key = DedupeKey::instead_of(&row.dedupe_key);
    let payload = render::filed_reply_elsewhere(&request.submitter, number, &channel, error);
    Ok(Some(OutboundMessage::post(Some(number), key, payload)))
}
