//! "+1" demand: who said they need a request too, and the count on the
//! request that the card and the digest show. People are counted, not
//! reactions: `+1` and `+1::skin-tone-2` from one person are one vote.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::StoreError;
use super::entities::{request, request_reaction};
use crate::domain::request::RequestNumber;

/// How many "+1" variants (skin tones) `user` has on a request.
async fn votes_of(conn: &impl ConnectionTrait, number: RequestNumber, user: &str) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(request_reaction::Entity::find()
        .filter(request_reaction::Column::RequestId.eq(number.0))
        .filter(request_reaction::Column::UserId.eq(user))
        .count(conn)
        .await?)
}

/// Has `user` said they need this request too?
pub async fn has_vote(conn: &impl ConnectionTrait, number: RequestNumber, user: &str) -> Result<bool, StoreError> {
    Ok(votes_of(conn, number, user).await? > 0)
}

/// Records `user`'s "+1" (`variant` is the reaction as sent, skin tone
/// included); true if that makes them one more person who needs it.
pub async fn add_vote(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
    user: &str,
    variant: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let counted_before = votes_of(conn, number, user).await? > 0;
    let row = request_reaction::ActiveModel {
        request_id: Set(number.0),
        user_id: Set(user.to_string()),
        emoji: Set(variant.to_string()),
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
    Ok(!counted_before && matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

/// Takes back one of `user`'s "+1" variants; true if they no longer count.
pub async fn remove_vote(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
    user: &str,
    variant: &str,
) -> Result<bool, StoreError> {
    let result = request_reaction::Entity::delete_many()
        .filter(request_reaction::Column::RequestId.eq(number.0))
        .filter(request_reaction::Column::UserId.eq(user))
        .filter(request_reaction::Column::Emoji.eq(variant))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0 && votes_of(conn, number, user).await? == 0)
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
