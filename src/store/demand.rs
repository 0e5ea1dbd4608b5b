//! "+1" demand: who said they need a request too, and the count on the
//! request that the card and the digest show.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::StoreError;
use super::entities::request;
use crate::domain::request::RequestNumber;

/// Records who reacted with `emoji` (demand); false if already recorded.
pub async fn add_reaction(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
    user: &str,
    emoji: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    use super::entities::request_reaction;
    let row = request_reaction::ActiveModel {
        request_id: Set(number.0),
        user_id: Set(user.to_string()),
        emoji: Set(emoji.to_string()),
        at: Set(now),
    };
    let inserted = request_reaction::Entity::insert(row)
        .on_conflict_do_nothing_on([
            request_reaction::Column::RequestId,
            request_reaction::Column::UserId,
            request_reaction::Column::Emoji,
        ])
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

pub async fn remove_reaction(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
    user: &str,
    emoji: &str,
) -> Result<bool, StoreError> {
    use super::entities::request_reaction;
    let result = request_reaction::Entity::delete_many()
        .filter(request_reaction::Column::RequestId.eq(number.0))
        .filter(request_reaction::Column::UserId.eq(user))
        .filter(request_reaction::Column::Emoji.eq(emoji))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Moves a request's demand by `delta` (one person more or less) and bumps
/// its version so the card refresh is ordered after earlier changes.
pub async fn adjust_demand(conn: &impl ConnectionTrait, number: RequestNumber, delta: i32) -> Result<(), StoreError> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    request::Entity::update_many()
        .col_expr(request::Column::Demand, Expr::col(request::Column::Demand).add(delta))
        .col_expr(request::Column::Version, Expr::col(request::Column::Version).add(1))
        .filter(request::Column::Id.eq(number.0))
        .exec(conn)
        .await?;
    Ok(())
}
