//! Slack events kept until processed: the ack path only inserts; a worker
//! claims each unprocessed event with a lease and marks it done, so a crash
//! after the ack delays an event but never loses or doubles it.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::StoreError;
use super::entities::slack_event_seen::{self, Column};

/// Claims up to `limit` unprocessed events until `now + lease`, oldest
/// first: `(id, payload)`. Two statements whatever the batch size; the
/// conditional update returns only what this caller won, so two workers
/// never process the same event.
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
    let candidates: Vec<String> = slack_event_seen::Entity::find()
        .select_only()
        .column(Column::EventId)
        .filter(Column::ProcessedAt.is_null())
        .filter(free())
        .order_by_asc(Column::SeenAt)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut claimed = slack_event_seen::Entity::update_many()
        .col_expr(Column::ClaimedUntil, (now + lease).into())
        .filter(Column::EventId.is_in(candidates))
        .filter(Column::ProcessedAt.is_null())
        .filter(free())
        .exec_with_returning(conn)
        .await?;
    claimed.sort_by(|a, b| (a.seen_at, &a.event_id).cmp(&(b.seen_at, &b.event_id)));
    Ok(claimed
        .into_iter()
        .map(|event| (event.event_id, event.payload.unwrap_or_default()))
        .collect())
}

/// Marks events processed, in one statement.
pub async fn mark_processed(
    conn: &impl ConnectionTrait,
    event_ids: &[&str],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    slack_event_seen::Entity::update_many()
        .col_expr(Column::ProcessedAt, now.into())
        .filter(Column::EventId.is_in(event_ids.iter().copied()))
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
