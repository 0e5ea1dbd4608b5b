//! The on-call message index becomes partial (rows with an on-call page
//! only). After `ANALYZE`, SQLite's statistics count the NULLs of the
//! requests never paged as one value shared by most rows; the planner then
//! judged the index useless and matched a reaction's message by scanning
//! every request (0.25 s among a million, on every reaction event). A
//! partial index holds only paged rows, so its statistics are right.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    OncallChannel,
    OncallTs,
}

const NAME: &str = "ix_requests_oncall_message";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::one_index::drop(manager, NAME, Requests::Table).await?;
        // Partial: written as SQL, which SQLite and PostgreSQL both take.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {NAME} ON requests (oncall_channel, oncall_ts) WHERE oncall_ts IS NOT NULL"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::one_index::drop(manager, NAME, Requests::Table).await?;
        crate::one_index::create(
            manager,
            NAME,
            Requests::Table,
            &[Requests::OncallChannel, Requests::OncallTs],
        )
        .await
    }
}
