//! The scheduler's questions: "what is due now?", each answered through an
//! index on the column it filters (`next_reminder_at`, `(state,
//! followup_at)`, `(state, auto_close_at)`, `(state, revisit_on)`), with a
//! bound on how many rows one sweep takes.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::StoreError;
use super::entities::request;
use super::requests::to_domain;
use crate::domain::request::{Request, RequestNumber};
use crate::domain::state::State;

/// Requests whose next reminder threshold has passed (each carries the
/// stage already reminded).
pub async fn reminders(conn: &impl ConnectionTrait, at: DateTime<Utc>, limit: u64) -> Result<Vec<Request>, StoreError> {
    request::Entity::find()
        .filter(request::Column::NextReminderAt.lte(at))
        .order_by_asc(request::Column::NextReminderAt)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Records a reminder sent and when the next is due, if the request has not
/// changed since it was read (a step recomputes both itself).
pub async fn set_reminded(
    conn: &impl ConnectionTrait,
    request: &Request,
    stage: i32,
    next: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let result = request::Entity::update_many()
        .col_expr(request::Column::SlaStage, stage.into())
        .col_expr(request::Column::NextReminderAt, next.into())
        .filter(request::Column::Id.eq(request.number.0))
        .filter(request::Column::Version.eq(request.version))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

async fn in_state(
    conn: &impl ConnectionTrait,
    state: State,
    column: request::Column,
    condition: sea_orm::Condition,
    limit: u64,
) -> Result<Vec<Request>, StoreError> {
    request::Entity::find()
        .filter(request::Column::State.eq(state.as_str()))
        .filter(condition)
        .order_by_asc(column)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Resolved requests whose follow-up is due.
pub async fn followups(conn: &impl ConnectionTrait, at: DateTime<Utc>, limit: u64) -> Result<Vec<Request>, StoreError> {
    let due = sea_orm::Condition::all().add(request::Column::FollowupAt.lte(at));
    in_state(conn, State::Resolved, request::Column::FollowupAt, due, limit).await
}

/// The follow-up was sent: do not look again.
pub async fn clear_followup(conn: &impl ConnectionTrait, number: RequestNumber) -> Result<(), StoreError> {
    request::Entity::update_many()
        .col_expr(request::Column::FollowupAt, Option::<DateTime<Utc>>::None.into())
        .filter(request::Column::Id.eq(number.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Resolved requests nobody confirmed in time.
pub async fn auto_closes(
    conn: &impl ConnectionTrait,
    at: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Request>, StoreError> {
    let due = sea_orm::Condition::all().add(request::Column::AutoCloseAt.lte(at));
    in_state(conn, State::Resolved, request::Column::AutoCloseAt, due, limit).await
}

/// Deferred requests whose revisit date has come.
pub async fn revisits(conn: &impl ConnectionTrait, today: NaiveDate, limit: u64) -> Result<Vec<Request>, StoreError> {
    let due = sea_orm::Condition::all().add(request::Column::RevisitOn.lte(today));
    in_state(conn, State::Deferred, request::Column::RevisitOn, due, limit).await
}
