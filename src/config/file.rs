//! The configuration file's schema, exactly as written, and the layering
//! that reads it: the `config/default.toml` compiled into the binary, an
//! optional file (`--config` / `INTAKE_CONFIG`), `INTAKE__SECTION__KEY`
//! environment variables, then the conventional `SLACK_*` secrets.
//! Nothing here judges a value; `config::Settings` does, once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use super::{ConfigError, invalid};

/// The defaults ship inside the binary so `intake` runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// A secret as `check-config` shows it: never its value.
fn redacted<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    match secret.expose_secret().is_empty() {
        true => serializer.serialize_str("(not set)"),
        false => serializer.serialize_str("(redacted)"),
    }
}

/// The configuration exactly as written in the layers, before validation.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawConfig {
    pub server: RawServer,
    pub database: RawDatabase,
    pub slack: RawSlack,
    pub channels: RawChannels,
    pub oncall: RawOncall,
    pub triage: RawTriage,
    pub calendar: RawCalendar,
    pub severities: Vec<RawSeverity>,
    pub intake: RawIntake,
    pub reminders: RawReminders,
    pub followup: RawFollowup,
    pub escalation: RawEscalation,
    pub schedule: RawSchedule,
    pub privacy: RawPrivacy,
    pub digest: RawDigest,
    pub outbox: RawOutbox,
    pub log: RawLog,
    #[serde(default)]
    pub tracker: RawTracker,
    /// `[[teams]]`; none: one team from the single-team keys.
    #[serde(default)]
    pub teams: Vec<RawTeam>,
}

/// One `[[teams]]` entry.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawTeam {
    pub key: String,
    pub name: String,
    pub channel: String,
    pub oncall_channel: String,
    pub oncall_usergroup: String,
    pub digest_channel: String,
    pub triagers: Vec<String>,
    pub usergroup: String,
    pub office_hours: String,
    pub areas: Vec<String>,
    /// Entries replacing the global severities of the same key.
    pub severities: Vec<RawSeverity>,
}

/// `[tracker]`: where accepted work is tracked. Every field may be absent:
/// a tracker whose address is empty is not configured.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawTracker {
    /// `jira` or `github`, when both are configured.
    pub default: String,
    pub jira: RawJira,
    pub github: RawGitHub,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawJira {
    pub base_url: String,
    pub email: String,
    pub project_key: String,
    /// Empty: `Story` for features, `Bug` for bugs.
    pub issue_type: String,
    #[serde(serialize_with = "redacted")]
    pub api_token: SecretString,
    #[serde(serialize_with = "redacted")]
    pub webhook_secret: SecretString,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawGitHub {
    /// Empty: `https://api.github.com`.
    pub api_url: String,
    /// `owner/name`; empty: GitHub is not configured.
    pub repo: String,
    #[serde(serialize_with = "redacted")]
    pub token: SecretString,
    #[serde(serialize_with = "redacted")]
    pub webhook_secret: SecretString,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawServer {
    pub bind: String,
    pub max_body_bytes: usize,
    pub shutdown_grace_secs: u64,
    pub header_timeout_secs: u64,
    pub body_timeout_secs: u64,
    pub max_connections: usize,
    pub max_in_flight: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawDatabase {
    pub url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawSlack {
    pub api_url: String,
    pub transport: String,
    #[serde(serialize_with = "redacted")]
    pub bot_token: SecretString,
    #[serde(serialize_with = "redacted")]
    pub signing_secret: SecretString,
    #[serde(serialize_with = "redacted")]
    pub app_token: SecretString,
    pub request_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawChannels {
    pub intake: String,
    pub oncall: String,
    pub digest: String,
    pub escalation: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawOncall {
    pub usergroup: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawTriage {
    pub triagers: Vec<String>,
    pub usergroup: String,
    pub office_hours: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawCalendar {
    pub timezone: String,
    pub workdays: Vec<String>,
    pub day_start: String,
    pub day_end: String,
    pub holidays: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RawSeverity {
    pub key: String,
    pub label: String,
    pub response: String,
    pub resolution: String,
    pub clock: String,
    pub oncall: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawIntake {
    pub default_severity: String,
    pub areas: Vec<String>,
    /// Reacting with this emoji files the message as a request; empty: off.
    #[serde(default)]
    pub file_emoji: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawReminders {
    pub fractions: Vec<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawFollowup {
    pub after: String,
    pub auto_close_after: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawEscalation {
    pub emoji: BTreeMap<String, String>,
    pub plus_one: String,
    pub cooldown: String,
    pub per_person_limit: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawSchedule {
    pub digest: String,
    pub sla_sweep: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawPrivacy {
    pub request_visibility: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawDigest {
    pub post_when_empty: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawOutbox {
    pub poll_interval_ms: u64,
    pub lease_secs: u64,
    pub batch_size: u64,
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retention: String,
    pub posts_per_channel_per_sec: u32,
    pub post_burst: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RawLog {
    pub format: String,
    pub level: String,
}

/// Reads the layers into a [`RawConfig`]; `env` is a snapshot of the
/// environment, injected so tests need not touch the process environment.
pub fn load_raw(file: Option<&Path>, env_snapshot: &HashMap<String, String>) -> Result<RawConfig, ConfigError> {
    let env = |name: &str| env_snapshot.get(name).cloned();
    let mut builder =
        config::Config::builder().add_source(config::File::from_str(DEFAULT_TOML, config::FileFormat::Toml));
    let file = file
        .map(Path::to_path_buf)
        .or_else(|| env("INTAKE_CONFIG").filter(|f| !f.is_empty()).map(Into::into));
    if let Some(file) = file {
        if !file.exists() {
            return Err(invalid("--config", format!("file {} does not exist", file.display())));
        }
        builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
    }
    let vars: config::Map<String, String> = env_snapshot
        .iter()
        .filter(|(k, _)| k.starts_with("INTAKE__"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    builder = builder.add_source(
        config::Environment::with_prefix("INTAKE")
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("triage.triagers")
            .with_list_parse_key("calendar.workdays")
            .with_list_parse_key("calendar.holidays")
            .with_list_parse_key("intake.areas")
            .try_parsing(true)
            .source(Some(vars)),
    );
    for (env_name, key) in [
        ("SLACK_BOT_TOKEN", "slack.bot_token"),
        ("SLACK_SIGNING_SECRET", "slack.signing_secret"),
        ("SLACK_APP_TOKEN", "slack.app_token"),
        ("JIRA_API_TOKEN", "tracker.jira.api_token"),
        ("JIRA_WEBHOOK_SECRET", "tracker.jira.webhook_secret"),
        ("GITHUB_TOKEN", "tracker.github.token"),
        ("GITHUB_WEBHOOK_SECRET", "tracker.github.webhook_secret"),
    ] {
        if let Some(value) = env(env_name).filter(|v| !v.is_empty()) {
            builder = builder.set_override(key, value)?;
        }
    }
    Ok(builder.build()?.try_deserialize()?)
}
