//! What happens when Slack refuses a message for good: nothing is silently
//! lost. The dispatcher calls [`died`] in the transaction that marks the
//! message dead, so whatever it adds commits with that mark.
//!
//! - `intake_post`: a request's card could not be posted (channel deleted,
//!   bot not invited, blocks refused): the submitter and the triagers hear,
//!   the request shows as "not posted", and it can be posted again.
//! - `person_left`: a DM to someone who left (or cannot be DMed) falls back
//!   to a line in the request's thread.
//! - `elsewhere`: an ephemeral or a "Filed as" reply in a channel the bot
//!   cannot post in reaches its person by DM.

mod elsewhere;
mod intake_post;
mod person_left;

use chrono::{DateTime, Utc};

use crate::context::Context;
use crate::store::outbox::OutboxRow;
use crate::store::{StoreError, Transaction};

/// `row` was just marked dead with `error`, inside `txn`.
pub async fn died(
    ctx: &Context,
    txn: &Transaction,
    row: &OutboxRow,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    intake_post::died(ctx, txn, row, error, now).await?;
    person_left::died(ctx, txn, row, error, now).await?;
    if row.method == crate::outbox::Method::CreateIssue.as_str()
        && let Some(told) = crate::service::tracker_issue::refused(row, error)
    {
        crate::store::outbox::enqueue(txn, told, now).await?;
    }
    elsewhere::died(txn, row, error, now).await
}
