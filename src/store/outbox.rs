//! The outbox table: enqueue (inside the caller's transaction, unique
//! dedupe key), claim with a lease, record what became of each message.
//! The message types are in `crate::outbox`; the sending is
//! `workers::dispatcher`.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TryInsertResult,
};

use crate::domain::request::{PostKind, RequestNumber};
use crate::outbox::{DedupeKey, Method, OutboundMessage};
use crate::store::StoreError;
use crate::store::entities::outbox_message::{self, Column};

pub use outbox_message::Model as OutboxRow;

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const DEAD: &str = "dead";
/// Never to be sent: its key only records that the message was considered
/// (a scheduled digest with nothing to report).
pub const SKIPPED: &str = "skipped";
/// Was dead, then replaced when its request's card was posted again: sent
/// anew under another key, or (a card refresh) no longer needed.
pub const SUPERSEDED: &str = "superseded";
/// The dispatcher's words (`last_error`) for a message that died because
/// its request's card was never posted.
pub const NO_INTAKE_MESSAGE: &str = "has no intake message";

/// How a row remembers which of its request's posts it is.
fn post_kind_name(post: PostKind) -> &'static str {
    match post {
        PostKind::Intake => "record_intake_message",
        PostKind::Oncall => "record_oncall_message",
        PostKind::Receipt => "record_receipt",
    }
}

/// Which of its request's posts a claimed row is, if any.
pub fn records(row: &OutboxRow) -> Option<PostKind> {
    match row.on_sent.as_deref()? {
        "record_intake_message" => Some(PostKind::Intake),
        "record_oncall_message" => Some(PostKind::Oncall),
        "record_receipt" => Some(PostKind::Receipt),
        _ => None,
    }
}

/// Adds a message inside the caller's transaction; `false` if a message with
/// the same dedupe key already exists (it is then not added again).
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    message: OutboundMessage,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if let (Method::UpdateMessage, Some(number)) = (message.method, message.request) {
        supersede_card_updates(conn, number).await?;
    }
    let inserted = outbox_message::Entity::insert(row(message, now))
        .on_conflict_do_nothing_on([Column::DedupeKey])
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(n) if n > 0))
}

/// Queues a refresh of each person's App Home, unless one is already
/// waiting (its key is taken): that one is rendered when sent, so it will
/// show this change too. One insert, no lock on other rows.
pub async fn enqueue_homes<'a>(
    conn: &impl ConnectionTrait,
    users: impl IntoIterator<Item = &'a str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut users: Vec<&str> = users.into_iter().collect();
    users.sort_unstable();
    users.dedup();
    enqueue_posts(conn, users.into_iter().map(OutboundMessage::home).collect(), now).await
}

/// Frees a person's waiting-refresh key before their Home is rendered, so
/// a change committed from now on queues another refresh.
pub async fn take_home_refresh(conn: &impl ConnectionTrait, row: &OutboxRow, user: &str) -> Result<(), StoreError> {
    outbox_message::Entity::update_many()
        .col_expr(Column::DedupeKey, DedupeKey::home_sent(user, row.id).as_str().into())
        .filter(Column::Id.eq(row.id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Adds new posts (`chat.postMessage`, `chat.postEphemeral`, Home
/// refreshes) in one statement; keys already queued are skipped. Card refreshes go through
/// [`enqueue`], which also drops the stale ones.
pub async fn enqueue_posts(
    conn: &impl ConnectionTrait,
    messages: Vec<OutboundMessage>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    debug_assert!(messages.iter().all(|m| m.method != Method::UpdateMessage));
    if messages.is_empty() {
        return Ok(());
    }
    outbox_message::Entity::insert_many(messages.into_iter().map(|m| row(m, now)))
        .on_conflict_do_nothing_on([Column::DedupeKey])
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

fn row(message: OutboundMessage, now: DateTime<Utc>) -> outbox_message::ActiveModel {
    outbox_message::ActiveModel {
        request_id: Set(message.request.map(|n| n.0)),
        dedupe_key: Set(message.dedupe_key.as_str().to_string()),
        method: Set(message.method.as_str().to_string()),
        payload: Set(message.payload.to_string()),
        on_sent: Set(message.records.map(|p| post_kind_name(p).to_string())),
        status: Set(PENDING.to_string()),
        attempts: Set(0),
        // Due at once, even when `now` is a simulated future instant
        // (`run-jobs --at`), so moving time ahead still delivers.
        next_attempt_at: Set(Ord::min(now, Utc::now())),
        created_at: Set(now),
        ..Default::default()
    }
}

fn lease_free(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::LeaseUntil.is_null())
        .add(Column::LeaseUntil.lt(now))
}

/// Claims up to `limit` due messages for `token` until `now + lease`.
/// A message waits while an earlier message of the same request is still
/// pending, so a request's messages arrive in order. Safe with several
/// dispatchers on one database: the claim is a conditional update.
pub async fn claim_due(
    conn: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
    lease: TimeDelta,
    limit: u64,
) -> Result<Vec<OutboxRow>, StoreError> {
    // A request's first pending message, found through the
    // (request_id, status, id) index: one seek per candidate whatever the
    // planner's statistics say (a NOT EXISTS over earlier rows was planned
    // as a scan of every pending row on PostgreSQL under a backlog).
    let first = Alias::new("first");
    let first_pending = Query::select()
        .expr(Expr::col((first.clone(), Column::Id)).min())
        .from_as(outbox_message::Entity, first.clone())
        .and_where(Expr::col((first.clone(), Column::RequestId)).equals((outbox_message::Entity, Column::RequestId)))
        .and_where(ExprTrait::eq(Expr::col((first, Column::Status)), PENDING))
        .to_owned();
    let in_order = Condition::any()
        .add(Column::RequestId.is_null())
        .add(Expr::col((outbox_message::Entity, Column::Id)).in_subquery(first_pending));
    let candidates: Vec<i64> = outbox_message::Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Status.eq(PENDING))
        .filter(Column::NextAttemptAt.lte(now))
        .filter(lease_free(now))
        .filter(in_order)
        .order_by_asc(Column::Id)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    // A lease that ran out (rather than being handed back) means its
    // holder died or stalled mid-send: the message may be in Slack already.
    let lapsed = Expr::case(Column::LeaseUntil.is_not_null(), true).finally(Expr::col(Column::InDoubt));
    outbox_message::Entity::update_many()
        .col_expr(Column::LeaseOwner, token.into())
        .col_expr(Column::LeaseUntil, (now + lease).into())
        .col_expr(Column::InDoubt, lapsed.into())
        .filter(Column::Id.is_in(candidates))
        .filter(Column::Status.eq(PENDING))
        .filter(lease_free(now))
        .exec(conn)
        .await?;
    Ok(outbox_message::Entity::find()
        .filter(Column::LeaseOwner.eq(token))
        .filter(Column::Status.eq(PENDING))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// Whether recording an outcome found the message still leased to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    Held,
    /// Another dispatcher took the message after our lease ran out (or an
    /// operator changed it): nothing was written.
    Lost,
}

/// Applies `changes` and hands the lease back, if the lease is still ours.
async fn finish(
    conn: &impl ConnectionTrait,
    row: &OutboxRow,
    token: &str,
    changes: Vec<(Column, sea_orm::sea_query::SimpleExpr)>,
) -> Result<Lease, StoreError> {
    let mut update = outbox_message::Entity::update_many()
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None));
    for (column, value) in changes {
        update = update.col_expr(column, value);
    }
    let updated = update
        .filter(Column::Id.eq(row.id))
        .filter(Column::LeaseOwner.eq(token))
        .filter(Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(match updated.rows_affected {
        0 => Lease::Lost,
        _ => Lease::Held,
    })
}

/// Marks a message (claimed under `token`) sent.
pub async fn mark_sent(
    conn: &impl ConnectionTrait,
    row: &OutboxRow,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Lease, StoreError> {
    let changes = vec![
        (Column::Status, SENT.into()),
        (Column::SentAt, now.into()),
        (Column::Attempts, (row.attempts + 1).into()),
        (Column::InDoubt, false.into()),
    ];
    finish(conn, row, token, changes).await
}

/// Hands back a claimed message that was not tried, unchanged.
pub async fn unclaim(conn: &impl ConnectionTrait, row: &OutboxRow, token: &str) -> Result<Lease, StoreError> {
    finish(conn, row, token, Vec::new()).await
}

/// A failed attempt that may succeed later: counted, and tried again at
/// `at`; `in_doubt` when Slack may have taken it although it did not say so.
pub async fn retry_at(
    conn: &impl ConnectionTrait,
    row: &OutboxRow,
    token: &str,
    at: DateTime<Utc>,
    error: &str,
    in_doubt: bool,
) -> Result<Lease, StoreError> {
    let changes = vec![
        (Column::NextAttemptAt, at.into()),
        (Column::Attempts, (row.attempts + 1).into()),
        (Column::LastError, error.into()),
        (Column::InDoubt, in_doubt.into()),
    ];
    finish(conn, row, token, changes).await
}

/// Extends every lease taken under `token_prefix` on a message still
/// pending to `until`: a dispatcher renews while it sends, so a slow send
/// (pacing, retries inside a request's chain) never loses its lease.
pub async fn renew(conn: &impl ConnectionTrait, token_prefix: &str, until: DateTime<Utc>) -> Result<u64, StoreError> {
    let result = outbox_message::Entity::update_many()
        .col_expr(Column::LeaseUntil, until.into())
        .filter(Column::LeaseOwner.starts_with(token_prefix))
        .filter(Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Slack asked us to wait: try again at `at`; this is not a failed attempt.
pub async fn wait_until(
    conn: &impl ConnectionTrait,
    row: &OutboxRow,
    token: &str,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<Lease, StoreError> {
    let changes = vec![(Column::NextAttemptAt, at.into()), (Column::LastError, reason.into())];
    finish(conn, row, token, changes).await
}

/// Gives up on a message: it stays in the table, visible, with its error.
pub async fn mark_dead(
    conn: &impl ConnectionTrait,
    row: &OutboxRow,
    token: &str,
    error: &str,
) -> Result<Lease, StoreError> {
    let changes = vec![
        (Column::Status, DEAD.into()),
        (Column::Attempts, (row.attempts + 1).into()),
        (Column::LastError, error.into()),
    ];
    finish(conn, row, token, changes).await
}

/// Hands back every unfinished message claimed under `token_prefix`
/// (graceful shutdown), so another dispatcher can take them at once.
pub async fn release(conn: &impl ConnectionTrait, token_prefix: &str) -> Result<u64, StoreError> {
    let result = outbox_message::Entity::update_many()
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(Column::LeaseOwner.starts_with(token_prefix))
        .filter(Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// How many messages are in each status: (pending, sent, dead).
pub async fn counts(conn: &impl ConnectionTrait) -> Result<(u64, u64, u64), StoreError> {
    let count = |status: &'static str| {
        outbox_message::Entity::find()
            .filter(Column::Status.eq(status))
            .count(conn)
    };
    Ok((count(PENDING).await?, count(SENT).await?, count(DEAD).await?))
}

/// What the dispatcher's gauges show: pending and dead messages, and when
/// the oldest pending one was written.
pub async fn depth(conn: &impl ConnectionTrait) -> Result<(u64, u64, Option<DateTime<Utc>>), StoreError> {
    let count = |status: &'static str| {
        outbox_message::Entity::find()
            .filter(Column::Status.eq(status))
            .count(conn)
    };
    let oldest: Option<DateTime<Utc>> = outbox_message::Entity::find()
        .select_only()
        .column(Column::CreatedAt)
        .filter(Column::Status.eq(PENDING))
        .order_by_asc(Column::Id)
        .into_tuple()
        .one(conn)
        .await?;
    Ok((count(PENDING).await?, count(DEAD).await?, oldest))
}

/// Retention: sent messages written before `before` are deleted (pending
/// and dead ones stay until they are dealt with). At most `limit` a call.
pub async fn forget_sent_before(
    conn: &impl ConnectionTrait,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<u64, StoreError> {
    let old: Vec<i64> = outbox_message::Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Status.eq(SENT))
        .filter(Column::CreatedAt.lt(before))
        .order_by_asc(Column::Id)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    if old.is_empty() {
        return Ok(0);
    }
    let result = outbox_message::Entity::delete_many()
        .filter(Column::Id.is_in(old))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Every message of one request, oldest first.
pub async fn for_request(conn: &impl ConnectionTrait, number: RequestNumber) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(outbox_message::Entity::find()
        .filter(Column::RequestId.eq(number.0))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// Drops a request's card refreshes that are still waiting and unclaimed
/// (done by [`enqueue`] for every new one):
/// each refresh re-renders the whole card, so only the newest matters. A
/// busy request (many "+1"s, quick steps) then costs one `chat.update`
/// instead of a queue of stale ones sent in order. An update addressed to
/// one message (a moved card's last word) is not a refresh: it stays.
async fn supersede_card_updates(conn: &impl ConnectionTrait, number: RequestNumber) -> Result<u64, StoreError> {
    let result = outbox_message::Entity::delete_many()
        .filter(Column::RequestId.eq(number.0))
        .filter(Column::Method.eq(Method::UpdateMessage.as_str()))
        .filter(Column::Payload.contains(crate::outbox::INTAKE_TS))
        .filter(Column::Status.eq(PENDING))
        .filter(Column::LeaseOwner.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// Whether a message with this key was ever enqueued (sent or not).
pub async fn exists(conn: &impl ConnectionTrait, dedupe_key: &crate::outbox::DedupeKey) -> Result<bool, StoreError> {
    Ok(outbox_message::Entity::find()
        .filter(Column::DedupeKey.eq(dedupe_key.as_str()))
        .count(conn)
        .await?
        > 0)
}

/// Records that `message` was considered and not sent, so its key is taken
/// (`exists` is true) and nothing is sent under it later; `false` if the
/// key was already taken.
pub async fn skip(
    conn: &impl ConnectionTrait,
    message: OutboundMessage,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut row = row(message, now);
    row.status = Set(SKIPPED.to_string());
    let inserted = outbox_message::Entity::insert(row)
        .on_conflict_do_nothing_on([Column::DedupeKey])
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(n) if n > 0))
}

/// Which rows `intake outbox list` shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Listing {
    /// Only dead rows.
    pub dead: bool,
    /// Only this request's rows.
    pub request: Option<RequestNumber>,
}

/// Outbox rows, oldest first, at most `limit`.
pub async fn list(conn: &impl ConnectionTrait, listing: Listing, limit: u64) -> Result<Vec<OutboxRow>, StoreError> {
    let mut query = outbox_message::Entity::find();
    if listing.dead {
        query = query.filter(Column::Status.eq(DEAD));
    }
    if let Some(number) = listing.request {
        query = query.filter(Column::RequestId.eq(number.0));
    }
    Ok(query.order_by_asc(Column::Id).limit(limit).all(conn).await?)
}

/// Puts dead messages back to pending with no attempts counted: the one
/// `id`, or every dead message. Returns how many.
pub async fn retry_dead(conn: &impl ConnectionTrait, id: Option<i64>, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let mut update = outbox_message::Entity::update_many()
        .col_expr(Column::Status, PENDING.into())
        .col_expr(Column::Attempts, 0.into())
        .col_expr(Column::NextAttemptAt, now.into())
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(Column::Status.eq(DEAD));
    if let Some(id) = id {
        update = update.filter(Column::Id.eq(id));
    }
    Ok(update.exec(conn).await?.rows_affected)
}

/// Enqueues a copy of `row` (same request, method, payload, and post to
/// remember) under a new key, after every message already queued; `false`
/// if that key was taken.
pub async fn requeue(
    conn: &impl ConnectionTrait,
    row: &OutboxRow,
    dedupe_key: &DedupeKey,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let copy = outbox_message::ActiveModel {
        request_id: Set(row.request_id),
        dedupe_key: Set(dedupe_key.as_str().to_string()),
        method: Set(row.method.clone()),
        payload: Set(row.payload.clone()),
        on_sent: Set(row.on_sent.clone()),
        status: Set(PENDING.to_string()),
        attempts: Set(0),
        next_attempt_at: Set(Ord::min(now, Utc::now())),
        created_at: Set(now),
        ..Default::default()
    };
    let inserted = outbox_message::Entity::insert(copy)
        .on_conflict_do_nothing_on([Column::DedupeKey])
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(n) if n > 0))
}

/// Marks dead messages [`SUPERSEDED`].
pub async fn supersede(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    outbox_message::Entity::update_many()
        .col_expr(Column::Status, SUPERSEDED.into())
        .filter(Column::Id.is_in(ids.iter().copied()))
        .filter(Column::Status.eq(DEAD))
        .exec(conn)
        .await?;
    Ok(())
}
