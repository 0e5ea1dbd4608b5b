//! A DM to someone Slack cannot reach: they left (`user_not_found`), their
//! account is deactivated (`account_inactive`), or they are a bot
//! (`cannot_dm_bot`). The request's thread says who could not be reached
//! and why; if they own the request, the card says "owner unreachable"
//! until a triager assigns someone else (the domain clears the mark when
//! the owner changes).

use chrono::{DateTime, Utc};
use tracing::warn;

use crate::context::Context;
use crate::domain::request::RequestNumber;
use crate::outbox::{DedupeKey, Method, OutboundMessage};
use crate::slack::api::Unreachable;
use crate::slack::render;
use crate::store::outbox::{self as queue, OutboxRow};
use crate::store::{StoreError, Transaction, requests};

pub async fn died(
    ctx: &Context,
    txn: &Transaction,
    row: &OutboxRow,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(number) = row.request_id.map(RequestNumber) else {
        return Ok(());
    };
    if row.method != Method::PostMessage.as_str() {
        return Ok(());
    }
    let (Some(why), Some(person)) = (Unreachable::from_error(error), render::dm_recipient(&row.payload)) else {
        return Ok(());
    };
    let Some(request) = requests::find(txn, number).await? else {
        return Ok(());
    };
    let owner = request.owner.as_deref() == Some(person.as_str());
    warn!(request = number.0, person = %person, error, owner, "a DM could not reach its recipient; the request's thread says so");
    if owner
        && requests::set_owner_unreachable(txn, number, &person).await?
        && let Some(fresh) = requests::find(txn, number).await?
    {
        let refresh = OutboundMessage::card_update(
            number,
            DedupeKey::unreachable_owner_card(number, row.id),
            render::card_update(&fresh, &ctx.settings.teams),
        );
        queue::enqueue(txn, refresh, now).await?;
    }
    let line = OutboundMessage::post(
        Some(number),
        DedupeKey::unreachable(number, row.id),
        render::triage::unreachable_line(&person, why, owner),
    );
    queue::enqueue(txn, line, now).await?;
    Ok(())
}
