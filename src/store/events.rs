//! Slack events kept until processed: the ack path only inserts; a worker
//! claims each unprocessed event with a lease and marks it done, so a crash
//! after the ack delays an event but never loses or doubles it.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::StoreError;
use super::entities::slack_event_seen::{self, Column};

/// Claims up to `limit` unprocessed events until `now + lease`: `(id, payload)`.
pub async fn claim(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease: TimeDelta,
    limit: u64,
) -> Result<Vec<(String, String)>, StoreError> {
    let free = || {
        Condition::any()
            .add(Column::ClaimedUntil.is_null())
            .add(Column::ClaimedUntil.lt(now))
    };
    let candidates = slack_event_seen::Entity::find()
        .filter(Column::ProcessedAt.is_null())
        .filter(free())
        .order_by_asc(Column::SeenAt)
        .limit(limit)
        .all(conn)
        .await?;
    let mut claimed = Vec::new();
    for event in candidates {
        let result = slack_event_seen::Entity::update_many()
            .col_expr(Column::ClaimedUntil, (now + lease).into())
            .filter(Column::EventId.eq(event.event_id.as_str()))
            .filter(Column::ProcessedAt.is_null())
            .filter(free())
            .exec(conn)
            .await?;
        if result.rows_affected == 1 {
            claimed.push((event.event_id, event.payload.unwrap_or_default()));
        }
    }
    Ok(claimed)
}

pub async fn mark_processed(conn: &impl ConnectionTrait, event_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    slack_event_seen::Entity::update_many()
        .col_expr(Column::ProcessedAt, now.into())
        .filter(Column::EventId.eq(event_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Retention: processed event ids older than `before` are forgotten (Slack
/// retries within minutes, so a week is plenty).
pub async fn forget_before(conn: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let result = slack_event_seen::Entity::delete_many()
        .filter(Column::ProcessedAt.is_not_null())
        .filter(Column::SeenAt.lt(before))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// How many recorded events are not processed yet.
pub async fn pending(conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(slack_event_seen::Entity::find()
        .filter(Column::ProcessedAt.is_null())
        .count(conn)
        .await?)
}
