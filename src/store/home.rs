//! What a person's App Home shows, read with the same bounded, indexed
//! queries as the digest: their open requests, and for a triager the queue
//! (untriaged oldest first, at risk, breached, and what they own).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait};

use crate::domain::digest::Listing;
use crate::domain::request::Request;
use crate::domain::state::State;
use crate::store::digest::Count;
use crate::store::entities::request;
use crate::store::{StoreError, digest, requests};

/// How many of their own open requests a Home lists.
const MINE: u64 = 15;

/// A Home counts each list up to this many and then says "500+".
pub const COUNTED: u64 = 500;

/// A triager's view of the queue.
#[derive(Debug)]
pub struct Queue {
    pub untriaged: Listing,
    pub at_risk: Listing,
    pub breached: Listing,
    /// Open requests the triager owns.
    pub owned: Listing,
}

/// `user`'s open requests, newest first.
pub async fn mine(conn: &impl ConnectionTrait, user: &str) -> Result<Vec<Request>, StoreError> {
    requests::open_for_submitter(conn, user, MINE).await
}

/// The queue as `user` (a triager) sees it at `at`.
pub async fn queue(conn: &impl ConnectionTrait, user: &str, at: DateTime<Utc>) -> Result<Queue, StoreError> {
    let untriaged = Condition::all().add(request::Column::State.eq(State::New.as_str()));
    let owned = Condition::all()
        .add(request::Column::Owner.eq(user))
        .add(request::Column::State.is_not_in(digest::FINISHED));
    let count = Count::AtMost(COUNTED);
    // Four indexed queries, side by side on a pool's connections.
    let (untriaged, at_risk, breached, owned) = futures_util::try_join!(
        digest::listing(conn, untriaged, request::Column::Id, count),
        digest::at_risk_listing(conn, count),
        digest::breached_listing(conn, at, count),
        digest::listing(conn, owned, request::Column::Id, count),
    )?;
    Ok(Queue {
        untriaged,
        at_risk,
        breached,
        owned,
    })
}

/// What `user`'s Home shows: their requests and, for a triager, the queue,
/// read together.
pub async fn read(
    conn: &impl ConnectionTrait,
    user: &str,
    triager: bool,
    at: DateTime<Utc>,
) -> Result<(Vec<Request>, Option<Queue>), StoreError> {
    let queue = async {
        match triager {
            true => queue(conn, user, at).await.map(Some),
            false => Ok(None),
        }
    };
    futures_util::try_join!(mine(conn, user), queue)
}
