//! Teams: every request belongs to the team that owns its area. Requests
//! filed before teams existed belong to the default team (`default`, the
//! one built from the single-team keys), so old databases keep working.
//! The index serves each team's queue and digest (open requests by state).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    Team,
    State,
}

const NAME: &str = "ix_requests_team_state";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Requests::Table)
                    .add_column(
                        ColumnDef::new(Requests::Team)
                            .string_len(32)
                            .not_null()
                            .default("default")
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        crate::one_index::create(manager, NAME, Requests::Table, &[Requests::Team, Requests::State]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::one_index::drop(manager, NAME, Requests::Table).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Requests::Table)
                    .drop_column(Requests::Team)
                    .to_owned(),
            )
            .await
    }
}
