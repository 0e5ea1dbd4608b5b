//! Two indexes for the daily digest at a million requests (issue 18): the
//! oldest untriaged requests read in filing order (`state`, `created_at`)
//! instead of sorting every untriaged row, and the resolution SLA's "met"
//! count read from the index alone (`resolved_at`, `resolution_due_at`),
//! which replaces the index on `resolved_at` (its first column).
//!
//! And the on-call message index becomes partial (rows with an on-call
//! page only): after `ANALYZE`, SQLite's statistics counted the NULLs of
//! the requests never paged as one value shared by most rows, judged the
//! index useless and scanned the table to match a reaction's message
//! (0.25 s among a million, on every reaction event).

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
    OncallChannel,
    OncallTs,
}

const STATE_CREATED: &str = "ix_requests_state_created_at";
const RESOLVED_DUE: &str = "ix_requests_resolved_at_due";
const RESOLVED: &str = "ix_requests_resolved_at";
const ONCALL: &str = "ix_requests_oncall_message";

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
        crate::one_index::drop(manager, RESOLVED, Requests::Table).await?;
        crate::one_index::drop(manager, ONCALL, Requests::Table).await?;
        // Partial: written as SQL, which SQLite and PostgreSQL both take.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {ONCALL} ON requests (oncall_channel, oncall_ts) WHERE oncall_ts IS NOT NULL"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::one_index::drop(manager, ONCALL, Requests::Table).await?;
        crate::one_index::create(
            manager,
            ONCALL,
            Requests::Table,
            &[Requests::OncallChannel, Requests::OncallTs],
        )
        .await?;
        crate::one_index::create(manager, RESOLVED, Requests::Table, &[Requests::ResolvedAt]).await?;
        crate::one_index::drop(manager, RESOLVED_DUE, Requests::Table).await?;
        crate::one_index::drop(manager, STATE_CREATED, Requests::Table).await
    }
}
