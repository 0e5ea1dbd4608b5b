//! Two indexes for the daily digest at a million requests (issue 18): the
//! oldest untriaged requests read in filing order (`state`, `created_at`)
//! instead of sorting every untriaged row, and the resolution SLA's "met"
//! count read from the index alone (`resolved_at`, `resolution_due_at`),
//! which replaces the index on `resolved_at` (its first column).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    State,
    CreatedAt,
    ResolvedAt,
    ResolutionDueAt,
}

const STATE_CREATED: &str = "ix_requests_state_created_at";
const RESOLVED_DUE: &str = "ix_requests_resolved_at_due";
const RESOLVED: &str = "ix_requests_resolved_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::one_index::create(
            manager,
            STATE_CREATED,
            Requests::Table,
            &[Requests::State, Requests::CreatedAt],
        )
        .await?;
        crate::one_index::create(
            manager,
            RESOLVED_DUE,
            Requests::Table,
            &[Requests::ResolvedAt, Requests::ResolutionDueAt],
        )
        .await?;
        crate::one_index::drop(manager, RESOLVED, Requests::Table).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::one_index::create(manager, RESOLVED, Requests::Table, &[Requests::ResolvedAt]).await?;
        crate::one_index::drop(manager, RESOLVED_DUE, Requests::Table).await?;
        crate::one_index::drop(manager, STATE_CREATED, Requests::Table).await
    }
}
