//! App Home lists the untriaged queue oldest first: an index on (state, id)
//! reads it in order, where (state, severity) made every `new` row be
//! read and sorted (5.7 ms among a million).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    State,
    Id,
}

const NAME: &str = "ix_requests_state_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::one_index::create(manager, NAME, Requests::Table, &[Requests::State, Requests::Id]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::one_index::drop(manager, NAME, Requests::Table).await
    }
}
