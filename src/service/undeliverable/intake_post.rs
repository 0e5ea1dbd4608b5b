//! A request's card that Slack would not post.

use chrono::{DateTime, Utc};

use crate::context::Context;
use crate::store::outbox::OutboxRow;
use crate::store::{StoreError, Transaction};

pub async fn died(
    _ctx: &Context,
    _txn: &Transaction,
    _row: &OutboxRow,
    _error: &str,
    _now: DateTime<Utc>,
) -> Result<(), StoreError> {
    Ok(())
}
