//! Schema migrations for intake, applied by `intake migrate` and on `serve`.
//!
//! One file per change, named `mYYYYMMDD_HHMMSS_description.rs`; never edit a
//! migration that has shipped, add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_tables;
mod m20261125_000002_triage_fields;
mod m20261125_000003_scheduler_fields;
mod m20261125_000004_reactions;
mod m20261125_000005_digest_indexes;
mod m20261202_000006_sla_cycle_and_intake_error;
mod m20261202_000007_outbox_in_doubt;
mod m20261202_000008_owner_index;
mod m20261209_000009_receipt_message;
mod m20261209_000010_state_id_index;
mod m20261216_000011_tracker_webhooks;
mod m20261223_000012_request_team;
mod m20261230_000013_digest_indexes;
mod m20261230_000014_partial_oncall_index;
mod one_index;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_tables::Migration),
            Box::new(m20261125_000002_triage_fields::Migration),
            Box::new(m20261125_000003_scheduler_fields::Migration),
            Box::new(m20261125_000004_reactions::Migration),
            Box::new(m20261125_000005_digest_indexes::Migration),
            Box::new(m20261202_000006_sla_cycle_and_intake_error::Migration),
            Box::new(m20261202_000007_outbox_in_doubt::Migration),
            Box::new(m20261202_000008_owner_index::Migration),
            Box::new(m20261209_000009_receipt_message::Migration),
            Box::new(m20261209_000010_state_id_index::Migration),
            Box::new(m20261216_000011_tracker_webhooks::Migration),
            Box::new(m20261223_000012_request_team::Migration),
            Box::new(m20261230_000013_digest_indexes::Migration),
            Box::new(m20261230_000014_partial_oncall_index::Migration),
        ]
    }
}
