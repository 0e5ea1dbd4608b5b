//! sea-orm entities, one module per table (see `migrations/` for the schema).

pub mod request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "requests")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub kind: String,
        pub title: String,
        pub description: String,
        pub area: Option<String>,
        pub link: Option<String>,
        pub severity: String,
        pub state: String,
        pub submitter: String,
        pub owner: Option<String>,
        pub source_channel: Option<String>,
        pub view_id: Option<String>,
        pub response_due_at: DateTimeUtc,
        pub resolution_due_at: DateTimeUtc,
        pub intake_channel: Option<String>,
        pub intake_ts: Option<String>,
        pub version: i32,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub tracker: Option<String>,
        pub revisit_on: Option<Date>,
        pub resolved_at: Option<DateTimeUtc>,
        pub sla_paused_at: Option<DateTimeUtc>,
        pub next_reminder_at: Option<DateTimeUtc>,
        pub followup_at: Option<DateTimeUtc>,
        pub auto_close_at: Option<DateTimeUtc>,
        pub sla_stage: i32,
        pub oncall_channel: Option<String>,
        pub oncall_ts: Option<String>,
        pub demand: i32,
        pub sla_cycle: i32,
        pub owner_unreachable: bool,
        pub intake_error: Option<String>,
        /// The submitter's receipt DM: its `D…` channel and ts.
        pub receipt_channel: Option<String>,
        pub receipt_ts: Option<String>,
        /// The team that owns it (`teams[].key`).
        pub team: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod request_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "request_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub request_id: i64,
        pub at: DateTimeUtc,
        pub actor: String,
        pub kind: String,
        pub from_state: Option<String>,
        pub to_state: String,
        pub payload: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod outbox_message {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub request_id: Option<i64>,
        pub dedupe_key: String,
        pub method: String,
        pub payload: String,
        pub on_sent: Option<String>,
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub lease_owner: Option<String>,
        pub lease_until: Option<DateTimeUtc>,
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
        pub sent_at: Option<DateTimeUtc>,
        /// The last send may have reached Slack unrecorded: look before posting again.
        pub in_doubt: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod slack_event_seen {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "slack_events_seen")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: String,
        pub seen_at: DateTimeUtc,
        pub payload: Option<String>,
        pub processed_at: Option<DateTimeUtc>,
        pub claimed_until: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod request_reaction {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "request_reactions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub emoji: String,
        pub at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
