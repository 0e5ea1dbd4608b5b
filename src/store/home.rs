//! What a person's App Home shows, read with the same bounded, indexed
//! queries as the digest: their open requests, and for a triager the queue
//! (untriaged oldest first, at risk, breached, and what they own).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::domain::digest::Listing;
use crate::domain::request::Request;
use crate::domain::state::State;
use crate::store::digest::{Count, Scope};
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
pub async fn queue(
    conn: &impl ConnectionTrait,
    user: &str,
    scope: Scope<'_>,
    at: DateTime<Utc>,
) -> Result<Queue, StoreError> {
    let open: Vec<&str> = State::ALL
        .iter()
        .map(|s| s.as_str())
        .filter(|s| !digest::FINISHED.contains(s))
        .collect();
    let untriaged = [State::New.as_str()];
    let count = Count::AtMost(COUNTED);
    // Four indexed queries, side by side on a pool's connections.
    let (untriaged, at_risk, breached, owned) = futures_util::try_join!(
        oldest_first(conn, scope.condition(), &untriaged),
        digest::at_risk_listing(conn, scope, count),
        digest::breached_listing(conn, scope, at, count),
        // What they own, whichever team it is in now.
        oldest_first(conn, Condition::all().add(request::Column::Owner.eq(user)), &open),
    )?;
    Ok(Queue {
        untriaged,
        at_risk,
        breached,
        owned,
    })
}

/// The oldest requests matching `condition` in one of `states`, counted
/// up to [`COUNTED`]. Read from indexes alone: per state, the first ids in
/// order ((state, id), or (owner, state), which ends in the id too), merged;
/// then the few rows shown, by id. Reading whole rows and sorting them
/// took 3–6 ms among a million; this takes a fraction of one.
async fn oldest_first(
    conn: &impl ConnectionTrait,
    condition: Condition,
    states: &[&str],
) -> Result<Listing, StoreError> {
    let matching = request::Entity::find()
        .select_only()
        .column(request::Column::Id)
        .filter(condition);
    let total = matching
        .clone()
        .filter(request::Column::State.is_in(states.iter().copied()))
        .limit(COUNTED)
        .into_tuple::<i64>()
        .all(conn)
        .await?
        .len() as u64;
    let mut first = Vec::new();
    for state in states {
        let ids: Vec<i64> = matching
            .clone()
            .filter(request::Column::State.eq(*state))
            .order_by_asc(request::Column::Id)
            .limit(digest::LISTED)
            .into_tuple()
            .all(conn)
            .await?;
        first.extend(ids);
    }
    first.sort_unstable();
    first.truncate(digest::LISTED as usize);
    let mut shown = request::Entity::find()
        .filter(request::Column::Id.is_in(first))
        .all(conn)
        .await?
        .into_iter()
        .map(requests::to_domain)
        .collect::<Result<Vec<_>, _>>()?;
    shown.sort_by_key(|r| r.number.0);
    Ok(Listing { total, shown })
}

/// What `user`'s Home shows: their requests and, for a triager, the queue
/// of the teams they triage (`queue_of`), read together.
pub async fn read(
    conn: &impl ConnectionTrait,
    user: &str,
    queue_of: Option<Scope<'_>>,
    at: DateTime<Utc>,
) -> Result<(Vec<Request>, Option<Queue>), StoreError> {
    let queue = async {
        match queue_of {
            Some(scope) => queue(conn, user, scope, at).await.map(Some),
            None => Ok(None),
        }
    };
    futures_util::try_join!(mine(conn, user), queue)
}
