//! Three request fields of issue 13:
//! - the SLA cycle: a count of the times a request's SLA started over (a new
//!   severity, a reopen), part of its reminders' keys so a new cycle's
//!   reminders are not silenced by the last one's;
//! - whether the owner cannot be reached (Slack refused a DM to them: they
//!   left), shown on the card until someone else is assigned;
//! - the intake error: why a request's card could not be posted (Slack's
//!   error, e.g. `channel_not_found`), kept until a fresh card is posted, so
//!   lists show the request as "not posted".

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    SlaCycle,
    OwnerUnreachable,
    IntakeError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            ColumnDef::new(Requests::SlaCycle)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(Requests::OwnerUnreachable)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            ColumnDef::new(Requests::IntakeError).text().null().to_owned(),
        ] {
            manager
                .alter_table(Table::alter().table(Requests::Table).add_column(column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Requests::IntakeError, Requests::OwnerUnreachable, Requests::SlaCycle] {
            manager
                .alter_table(Table::alter().table(Requests::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
