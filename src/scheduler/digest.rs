//! The digest's figures, gathered with bounded, indexed queries: counts are
//! computed by the database, lists are capped, and only the last 30 days are
//! read for the process figures.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::domain::request::Request;
use crate::domain::triage::State;
use crate::store::StoreError;
use crate::store::entities::{request, request_event};
use crate::store::requests::to_domain;

/// How many requests each list shows before "and N more".
pub const LISTED: u64 = 8;

/// A list with its full count.
#[derive(Debug, Default)]
pub struct Listing {
    pub total: u64,
    pub shown: Vec<(Request, Option<(String, String)>)>,
}

#[derive(Debug, Default)]
pub struct DigestSummary {
    /// (state, severity key, count) of open requests.
    pub open: Vec<(String, String, i64)>,
    pub new_since: Listing,
    pub at_risk: Listing,
    pub breached: Listing,
    pub oldest_untriaged: Listing,
    /// Open requests most people said they need too.
    pub most_wanted: Listing,
    pub resolved_since: u64,
    pub closed_since: u64,
    pub median_time_to_triage: Option<TimeDelta>,
    /// (resolved within SLA, resolved) over the last 30 days.
    pub sla_attainment: (u64, u64),
}

const ACTIVE: [&str; 3] = ["new", "triaged", "accepted"];
const FINISHED: [&str; 2] = ["rejected", "closed"];

async fn listing(
    conn: &impl ConnectionTrait,
    condition: Condition,
    order: request::Column,
) -> Result<Listing, StoreError> {
    listing_by(conn, condition, order, sea_orm::Order::Asc).await
}

async fn listing_by(
    conn: &impl ConnectionTrait,
    condition: Condition,
    order: request::Column,
    direction: sea_orm::Order,
) -> Result<Listing, StoreError> {
    let total = request::Entity::find().filter(condition.clone()).count(conn).await?;
    let rows = request::Entity::find()
        .filter(condition)
        .order_by(order, direction)
        .limit(LISTED)
        .all(conn)
        .await?;
    let mut shown = Vec::with_capacity(rows.len());
    for row in rows {
        let message = row.intake_channel.clone().zip(row.intake_ts.clone());
        shown.push((to_domain(row)?, message));
    }
    Ok(Listing { total, shown })
}

pub async fn gather(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<DigestSummary, StoreError> {
    let open: Vec<(String, String, i64)> = request::Entity::find()
        .select_only()
        .column(request::Column::State)
        .column(request::Column::Severity)
        .column_as(Expr::col(request::Column::Id).count(), "count")
        .filter(request::Column::State.is_not_in(FINISHED))
        .group_by(request::Column::State)
        .group_by(request::Column::Severity)
        .into_tuple()
        .all(conn)
        .await?;
    let breached = Condition::any()
        .add(
            Condition::all()
                .add(request::Column::State.eq("new"))
                .add(request::Column::ResponseDueAt.lt(at)),
        )
        .add(
            Condition::all()
                .add(request::Column::State.is_in(["triaged", "accepted"]))
                .add(request::Column::ResolutionDueAt.lt(at)),
        );
    let at_risk = Condition::all()
        .add(request::Column::State.is_in(ACTIVE))
        .add(request::Column::SlaStage.gt(0))
        .add(Condition::all().add(breached.clone()).not());
    let month_ago = at - TimeDelta::days(30);
    let resolved_recently = request::Entity::find().filter(request::Column::ResolvedAt.gte(month_ago));
    let met = resolved_recently
        .clone()
        .filter(Expr::col(request::Column::ResolvedAt).lte(Expr::col(request::Column::ResolutionDueAt)))
        .count(conn)
        .await?;
    Ok(DigestSummary {
        open,
        new_since: listing(
            conn,
            Condition::all().add(request::Column::CreatedAt.gt(since)),
            request::Column::Id,
        )
        .await?,
        at_risk: listing(conn, at_risk, request::Column::ResolutionDueAt).await?,
        breached: listing(conn, breached, request::Column::ResolutionDueAt).await?,
        oldest_untriaged: listing(
            conn,
            Condition::all().add(request::Column::State.eq(State::New.as_str())),
            request::Column::CreatedAt,
        )
        .await?,
        most_wanted: listing_by(
            conn,
            Condition::all()
                .add(request::Column::State.is_not_in(FINISHED))
                .add(request::Column::Demand.gt(0)),
            request::Column::Demand,
            sea_orm::Order::Desc,
        )
        .await?,
        resolved_since: request::Entity::find()
            .filter(request::Column::ResolvedAt.gt(since))
            .count(conn)
            .await?,
        closed_since: request::Entity::find()
            .filter(request::Column::State.eq(State::Closed.as_str()))
            .filter(request::Column::UpdatedAt.gt(since))
            .count(conn)
            .await?,
        median_time_to_triage: median_time_to_triage(conn, month_ago).await?,
        sla_attainment: (met, resolved_recently.count(conn).await?),
    })
}

/// Median time from filing to the first triage step, over requests whose
/// first step happened in the last 30 days.
async fn median_time_to_triage(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Option<TimeDelta>, StoreError> {
    let first_steps: Vec<(i64, DateTime<Utc>)> = request_event::Entity::find()
        .select_only()
        .column(request_event::Column::RequestId)
        .column(request_event::Column::At)
        .filter(request_event::Column::FromState.eq(State::New.as_str()))
        .filter(request_event::Column::At.gte(since))
        .into_tuple()
        .all(conn)
        .await?;
    if first_steps.is_empty() {
        return Ok(None);
    }
    let ids: Vec<i64> = first_steps.iter().map(|(id, _)| *id).collect();
    let mut created = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(i64, DateTime<Utc>)> = request::Entity::find()
            .select_only()
            .column(request::Column::Id)
            .column(request::Column::CreatedAt)
            .filter(request::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(conn)
            .await?;
        created.extend(rows);
    }
    let mut waits: Vec<TimeDelta> = first_steps
        .iter()
        .filter_map(|(id, at)| created.get(id).map(|c| *at - *c))
        .collect();
    waits.sort();
    Ok(waits.get(waits.len() / 2).copied())
}
