//! What triage adds to a request: the tracker reference of accepted work,
//! the revisit date of deferred work and when it was resolved.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    Tracker,
    RevisitOn,
    ResolvedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            ColumnDef::new(Requests::Tracker).string_len(2000).null().to_owned(),
            ColumnDef::new(Requests::RevisitOn).date().null().to_owned(),
            ColumnDef::new(Requests::ResolvedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(Table::alter().table(Requests::Table).add_column(column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Requests::Tracker, Requests::RevisitOn, Requests::ResolvedAt] {
            manager
                .alter_table(Table::alter().table(Requests::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
