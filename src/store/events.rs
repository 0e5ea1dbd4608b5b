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
    if event_ids.is_empty() {
        return Ok(());
    }
    slack_event_seen::Entity::update_many()
        .col_expr(Column::ProcessedAt, now.into())
        .filter(Column::EventId.is_in(event_ids.iter().copied()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Puts claimed events off until `at`, when they can be claimed again.
pub async fn look_again_at(
    conn: &impl ConnectionTrait,
    event_ids: &[&str],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if event_ids.is_empty() {
        return Ok(());
    }
    slack_event_seen::Entity::update_many()
        .col_expr(Column::ClaimedUntil, at.into())
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

/// Records events for the ack path with group commit (`store::batch`):
/// everything waiting goes in one statement and one commit, and each ack
/// still waits for its own event to be committed (on SQLite, a commit per
/// event capped acks near 2,000/s).
#[derive(Clone)]
pub struct Recorder(super::batch::Batcher<Sighting, bool>);

pub struct Sighting {
    event_id: String,
    payload: String,
    seen_at: DateTime<Utc>,
}

/// Most events one commit records.
const RECORD_BATCH: usize = 256;

impl Recorder {
    /// Starts the recording tasks on the current runtime; they end when the
    /// last `Recorder` is dropped.
    pub fn start(store: super::Store) -> Self {
        let workers = store.concurrent_writes();
        Self(super::batch::Batcher::start(
            "events",
            workers,
            RECORD_BATCH,
            move |batch| {
                let store = store.clone();
                async move {
                    match insert_new(&store, &batch).await {
                        Ok(first) => first.into_iter().map(Ok).collect(),
                        Err(e) => batch.iter().map(|_| Err(e.to_string())).collect(),
                    }
                }
            },
        ))
    }

    /// Records an event to process after the ack; false if it was seen
    /// before (a Slack retry). Returns once the event is committed.
    pub async fn record(&self, event_id: &str, payload: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let sighting = Sighting {
            event_id: event_id.to_string(),
            payload: payload.to_string(),
            seen_at: now,
        };
        self.0.submit(sighting).await
    }
}

/// Inserts a batch of sightings in one statement; for each, whether it was
/// the first sighting of its id (an id twice in one batch is first once).
async fn insert_new(store: &super::Store, batch: &[Sighting]) -> Result<Vec<bool>, StoreError> {
    use std::collections::HashSet;

    use sea_orm::{Set, TryInsertResult};
    let mut distinct = HashSet::with_capacity(batch.len());
    let rows: Vec<slack_event_seen::ActiveModel> = batch
        .iter()
        .filter(|s| distinct.insert(s.event_id.as_str()))
        .map(|s| slack_event_seen::ActiveModel {
            event_id: Set(s.event_id.clone()),
            seen_at: Set(s.seen_at),
            payload: Set(Some(s.payload.clone())),
            processed_at: Set(None),
            claimed_until: Set(None),
        })
        .collect();
    let inserted = slack_event_seen::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([Column::EventId])
        .exec_with_returning_keys(store.writer())
        .await?;
    let mut new: HashSet<String> = match inserted {
        TryInsertResult::Inserted(keys) => keys.into_iter().collect(),
        TryInsertResult::Conflicted | TryInsertResult::Empty => HashSet::new(),
    };
    Ok(batch.iter().map(|s| new.remove(&s.event_id)).collect())
}
