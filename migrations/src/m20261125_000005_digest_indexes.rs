//! Indexes for the daily digest, found by the scale benchmark (BENCHMARKS.md):
//! at a million requests its counts scanned whole tables without them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    State,
    Severity,
    CreatedAt,
    UpdatedAt,
    ResolvedAt,
    ResolutionDueAt,
    SlaStage,
    Demand,
}

#[derive(DeriveIden, Clone, Copy)]
enum RequestEvents {
    Table,
    FromState,
    At,
}

const INDEXES: [(&str, bool); 8] = [
    ("ix_requests_created_at", true),
    ("ix_requests_resolved_at", true),
    ("ix_requests_state_updated_at", true),
    ("ix_requests_state_resolution_due", true),
    ("ix_requests_state_severity", true),
    ("ix_requests_sla_stage", true),
    ("ix_requests_demand", true),
    ("ix_request_events_from_state_at", false),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let on_requests: [&[Requests]; 7] = [
            &[Requests::CreatedAt],
            &[Requests::ResolvedAt],
            &[Requests::State, Requests::UpdatedAt],
            &[Requests::State, Requests::ResolutionDueAt],
            &[Requests::State, Requests::Severity],
            // "At risk" and "most wanted" look for the rare non-zero values.
            &[Requests::SlaStage],
            &[Requests::Demand],
        ];
        for ((name, _), columns) in INDEXES.iter().zip(on_requests) {
            let mut index = Index::create();
            index.name(*name).table(Requests::Table).if_not_exists();
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(INDEXES[7].0)
                    .table(RequestEvents::Table)
                    .col(RequestEvents::FromState)
                    .col(RequestEvents::At)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, on_requests) in INDEXES {
            let table = if on_requests {
                Requests::Table.into_iden()
            } else {
                RequestEvents::Table.into_iden()
            };
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
