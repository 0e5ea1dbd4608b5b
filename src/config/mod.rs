//! Validated configuration: [`Settings`], built once at startup from the
//! file schema in [`file`]. Every derived value (spans, schedules, the SLA
//! policy, the outbox's timings) is computed here, once; a bad value is an
//! error naming its key, never a panic later. Nothing outside this module
//! reads the raw file.

pub mod file;
pub mod teams;
pub mod tracker;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, Weekday};
use secrecy::{ExposeSecret, SecretString};

use crate::domain::policy::Policy;
use crate::domain::reminders;
use crate::domain::severity::{Severities, Severity, SeverityKey};
use crate::domain::sla::{self, BusinessCalendar, ClockKind, SlaSpan};
use crate::domain::team::Team;

pub use file::{DEFAULT_TOML, RawCalendar, RawConfig, RawSeverity, load_raw};

/// A startup configuration problem, always naming the key to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("could not read configuration: {0}")]
    Load(#[from] config::ConfigError),
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// A Slack conversation to post to: an id (`C…`, `G…`, `D…`) or a `#name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRef(String);

impl ChannelRef {
    pub fn parse(key: &str, value: &str) -> Result<Self, ConfigError> {
        let value = value.trim();
        let is_id = is_slack_id(value, &['C', 'G', 'D']);
        let is_name = value.strip_prefix('#').is_some_and(|name| {
            !name.is_empty()
                && name.len() <= 80
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        });
        if is_id || is_name {
            Ok(Self(value.to_string()))
        } else {
            Err(invalid(
                key,
                format!(
                    "{value:?} is not a Slack channel: use the channel id (C0123ABCD, from the channel's details) or #name"
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Slack ids look like `C0123ABCD`: a kind letter, then capitals and digits.
fn is_slack_id(value: &str, prefixes: &[char]) -> bool {
    value.len() >= 7
        && value.starts_with(prefixes)
        && value.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A list of areas as the form offers them: at most 100 (a Slack select's
/// options), each 1 to 75 characters, none twice.
fn check_areas(key: &str, areas: &[String]) -> Result<(), ConfigError> {
    if areas.len() > 100 {
        return Err(invalid(key, "at most 100 areas fit in a Slack select"));
    }
    for (i, area) in areas.iter().enumerate() {
        let chars = area.trim().chars().count();
        if chars == 0 || chars > 75 {
            return Err(invalid(
                format!("{key}[{i}]"),
                format!("{area:?} must be 1 to 75 characters"),
            ));
        }
        if areas[..i].iter().any(|a| a.trim() == area.trim()) {
            return Err(invalid(format!("{key}[{i}]"), format!("{area:?} appears twice")));
        }
    }
    Ok(())
}

fn slack_id(key: &str, value: &str, prefixes: &[char], what: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    if is_slack_id(value, prefixes) {
        Ok(value.to_string())
    } else {
        Err(invalid(key, format!("{value:?} is not a Slack {what} id")))
    }
}

fn optional_id(key: &str, value: &str, prefixes: &[char], what: &str) -> Result<Option<String>, ConfigError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        slack_id(key, value, prefixes, what).map(Some)
    }
}

fn span(key: &str, value: &str) -> Result<SlaSpan, ConfigError> {
    value.parse().map_err(|e| invalid(key, format!("{e}")))
}

fn schedule(key: &str, value: &str) -> Result<cron::Schedule, ConfigError> {
    cron::Schedule::from_str(value).map_err(|e| {
        invalid(
            key,
            format!("{value:?} is not a cron expression (sec min hour day month weekday): {e}"),
        )
    })
}

fn secret(key: &str, env: &str, value: &SecretString) -> Result<SecretString, ConfigError> {
    match value.expose_secret().trim() {
        "" => Err(invalid(
            key,
            format!("is required: set the {env} environment variable (or {key} in a config file)"),
        )),
        value => Ok(SecretString::from(value)),
    }
}

/// A span of wall time as a [`Duration`], refusing what cannot be one.
fn wall_duration(key: &str, value: &str, calendar: &BusinessCalendar) -> Result<Duration, ConfigError> {
    sla::span_duration(span(key, value)?, ClockKind::Wall, calendar)
        .to_std()
        .ok()
        .filter(|d| *d < Duration::from_secs(100 * 365 * 24 * 3600))
        .ok_or_else(|| invalid(key, format!("{value:?} is too long")))
}

pub use crate::domain::escalation::{EscalationPolicy, EscalationRule};

/// A database URL without its password, for logs, errors and `check-config`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Who may look a request up (`privacy.request_visibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Everyone,
    /// Its submitter, owner, "+1" people and triagers.
    Involved,
}

/// The outbox dispatcher's timings.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    pub poll_interval: Duration,
    pub lease: Duration,
    pub batch_size: u64,
    pub max_attempts: u32,
    /// First retry delay after a transient failure; doubles each attempt.
    pub retry_base: Duration,
    /// Sent messages are deleted this long after they were written.
    pub retention: chrono::TimeDelta,
    /// `chat.postMessage` per channel: (posts a second, burst); `None`
    /// when pacing is off.
    pub channel_pace: Option<(NonZeroU32, NonZeroU32)>,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// May carry a password: log it through `redact_url`.
    pub url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
}

/// How Slack reaches intake (`slack.transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Slack POSTs to `/slack/*`, signed.
    Http,
    /// intake reads envelopes from a WebSocket it opens with the app token.
    Socket,
}

/// `slack.transport` resolved against the tokens: the transport, the app
/// token and the signing secret (required over HTTP only).
fn slack_transport(
    raw: &file::RawSlack,
) -> Result<(Transport, Option<SecretString>, Option<SecretString>), ConfigError> {
    let app_token = match raw.app_token.expose_secret().trim() {
        "" => None,
        token if token.starts_with("xapp-") => Some(SecretString::from(token)),
        token => {
            let hint = if token.starts_with("xox") {
                "; that looks like a bot or user token (slack.bot_token)"
            } else {
                ""
            };
            return Err(invalid(
                "slack.app_token",
                format!(
                    "an app-level token starts with xapp- (Basic Information → App-Level Tokens, scope connections:write){hint}"
                ),
            ));
        }
    };
    let transport = match (raw.transport.trim(), &app_token) {
        ("http", _) => Transport::Http,
        ("socket", Some(_)) => Transport::Socket,
        ("socket", None) => {
            return Err(invalid(
                "slack.transport",
                "\"socket\" needs an app-level token: set the SLACK_APP_TOKEN environment variable \
                 (or slack.app_token in a config file) to the app's xapp-… token",
            ));
        }
        ("auto", Some(_)) => Transport::Socket,
        ("auto", None) => Transport::Http,
        (other, _) => {
            return Err(invalid(
                "slack.transport",
                format!("{other:?} must be \"auto\", \"http\" or \"socket\""),
            ));
        }
    };
    let signing_secret = match transport {
        Transport::Http => Some(secret(
            "slack.signing_secret",
            "SLACK_SIGNING_SECRET",
            &raw.signing_secret,
        )?),
        Transport::Socket => match raw.signing_secret.expose_secret().trim() {
            "" => None,
            value => Some(SecretString::from(value)),
        },
    };
    Ok((transport, app_token, signing_secret))
}

/// Validated configuration, shared read-only by every part of the service.
pub struct Settings {
    pub bind: SocketAddr,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    /// How long a client may take to send its headers, then its body.
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    pub max_in_flight: usize,
    pub database: DatabaseSettings,
    pub bot_token: SecretString,
    /// Required over HTTP; over Socket Mode Slack signs nothing we check.
    pub signing_secret: Option<SecretString>,
    /// The app-level token (`xapp-…`), for Socket Mode.
    pub app_token: Option<SecretString>,
    pub transport: Transport,
    /// Without a trailing slash, as slack-morphism expects.
    pub slack_api_url: String,
    pub slack_timeout: Duration,
    pub oncall_channel: ChannelRef,
    pub digest_channel: ChannelRef,
    pub escalation_channel: Option<ChannelRef>,
    /// Severities, SLAs, calendar, reminder thresholds, follow-up spans.
    pub policy: Policy,
    pub default_severity: SeverityKey,
    pub escalation: EscalationPolicy,
    /// The "+1" emoji's base name, without colons.
    pub plus_one: String,
    /// The emoji that files a message as a request (base name); `None`: off.
    pub file_emoji: Option<String>,
    /// Jira or GitHub, where Accept creates issues; `None`: not configured.
    pub trackers: Option<tracker::Trackers>,
    /// The teams (`[[teams]]`, or one built from the single-team keys).
    pub teams: crate::domain::team::Teams,
    /// Each team's policy (the global one with its SLA table), in the
    /// order of `teams`.
    team_policies: Vec<Policy>,
    pub digest_schedule: cron::Schedule,
    /// Post the scheduled digest even when it has nothing to report.
    pub digest_post_when_empty: bool,
    pub sla_sweep_schedule: cron::Schedule,
    pub outbox: OutboxSettings,
    pub request_visibility: Visibility,
    pub json_logs: bool,
    pub log_level: String,
    /// The layers as read, for `check-config` only.
    file: RawConfig,
}

impl Settings {
    /// Loads every layer and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::validate(load_raw(file, &std::env::vars().collect())?)
    }

    pub fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        let bind = raw.server.bind.parse().map_err(|_| {
            invalid(
                "server.bind",
                format!("{:?} is not an address like 127.0.0.1:3000", raw.server.bind),
            )
        })?;
        if raw.server.max_body_bytes < 1024 {
            return Err(invalid("server.max_body_bytes", "must be at least 1024"));
        }
        for (key, secs) in [
            ("server.header_timeout_secs", raw.server.header_timeout_secs),
            ("server.body_timeout_secs", raw.server.body_timeout_secs),
        ] {
            if !(1..=300).contains(&secs) {
                return Err(invalid(key, "must be 1 to 300 seconds"));
            }
        }
        if raw.server.max_connections == 0 || raw.server.max_in_flight == 0 {
            return Err(invalid(
                "server",
                "max_connections and max_in_flight must be at least 1",
            ));
        }
        if raw.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if !(raw.database.url.starts_with("sqlite:") || raw.database.url.starts_with("postgres")) {
            return Err(invalid("database.url", "must be a sqlite://… or postgres://… URL"));
        }
        let slack_api_url = raw.slack.api_url.trim().trim_end_matches('/').to_string();
        if url::Url::parse(&slack_api_url).is_err() {
            return Err(invalid(
                "slack.api_url",
                format!("{:?} is not a URL", raw.slack.api_url),
            ));
        }
        let (transport, app_token, signing_secret) = slack_transport(&raw.slack)?;
        let calendar = calendar(&raw.calendar)?;
        let severities = severities("severities", &raw.severities)?;
        let teams = teams::validate(&raw, &severities)?;
        let default_severity = severity_ref(&severities, "intake.default_severity", &raw.intake.default_severity)?;
        let mut escalation_emoji = BTreeMap::new();
        for (emoji, rule) in &raw.escalation.emoji {
            let key = format!("escalation.emoji.{emoji}");
            let rule = if rule == "up" {
                EscalationRule::Up
            } else {
                EscalationRule::To(severity_ref(&severities, &key, rule)?)
            };
            escalation_emoji.insert(emoji.trim_matches(':').to_string(), rule);
        }
        for (i, fraction) in raw.reminders.fractions.iter().enumerate() {
            if !(*fraction > 0.0 && *fraction < 1.0) {
                return Err(invalid(
                    format!("reminders.fractions[{i}]"),
                    format!("{fraction} must be between 0 and 1 (1.0 is the breach notice, always sent)"),
                ));
            }
        }
        if raw.outbox.batch_size == 0 || raw.outbox.lease_secs == 0 || raw.outbox.max_attempts == 0 {
            return Err(invalid(
                "outbox",
                "batch_size, lease_secs and max_attempts must be at least 1",
            ));
        }
        if raw.outbox.lease_secs <= raw.slack.request_timeout_secs.max(1) {
            return Err(invalid(
                "outbox.lease_secs",
                format!(
                    "{} must be longer than slack.request_timeout_secs ({}): a send must finish inside its lease, \
                     or a second dispatcher could send the same message",
                    raw.outbox.lease_secs, raw.slack.request_timeout_secs
                ),
            ));
        }
        check_areas("intake.areas", &raw.intake.areas)?;
        let json_logs = match raw.log.format.as_str() {
            "human" => false,
            "json" => true,
            other => {
                return Err(invalid(
                    "log.format",
                    format!("{other:?} must be \"human\" or \"json\""),
                ));
            }
        };
        let request_visibility = match raw.privacy.request_visibility.as_str() {
            "everyone" => Visibility::Everyone,
            "involved" => Visibility::Involved,
            other => {
                return Err(invalid(
                    "privacy.request_visibility",
                    format!("{other:?} must be \"everyone\" or \"involved\""),
                ));
            }
        };
        let escalation = EscalationPolicy {
            emoji: escalation_emoji,
            cooldown: chrono::TimeDelta::from_std(wall_duration(
                "escalation.cooldown",
                &raw.escalation.cooldown,
                &calendar,
            )?)
            .map_err(|_| invalid("escalation.cooldown", "is too long"))?,
            per_person_limit: raw.escalation.per_person_limit.max(1),
        };
        let policy = Policy {
            severities,
            thresholds: reminders::thresholds(&raw.reminders.fractions),
            followup_after: span("followup.after", &raw.followup.after)?,
            auto_close_after: span("followup.auto_close_after", &raw.followup.auto_close_after)?,
            calendar,
        };
        let plus_one = raw.escalation.plus_one.trim().trim_matches(':').to_string();
        let file_emoji = match raw.intake.file_emoji.trim().trim_matches(':') {
            "" => None,
            emoji if emoji == plus_one || escalation.emoji.contains_key(emoji) => {
                return Err(invalid(
                    "intake.file_emoji",
                    format!(":{emoji}: already escalates or counts demand; pick another emoji"),
                ));
            }
            emoji => Some(emoji.to_string()),
        };
        let outbox = OutboxSettings {
            poll_interval: Duration::from_millis(raw.outbox.poll_interval_ms.max(10)),
            lease: Duration::from_secs(raw.outbox.lease_secs),
            batch_size: raw.outbox.batch_size,
            max_attempts: raw.outbox.max_attempts,
            retry_base: Duration::from_millis(raw.outbox.retry_base_ms.max(1)),
            retention: chrono::TimeDelta::from_std(wall_duration(
                "outbox.retention",
                &raw.outbox.retention,
                &policy.calendar,
            )?)
            .map_err(|_| invalid("outbox.retention", "is too long"))?,
            channel_pace: NonZeroU32::new(raw.outbox.posts_per_channel_per_sec)
                .map(|rate| (rate, NonZeroU32::new(raw.outbox.post_burst).unwrap_or(NonZeroU32::MIN))),
        };
        let team_policies = teams
            .all()
            .iter()
            .map(|team| Policy {
                severities: team.severities.clone(),
                ..policy.clone()
            })
            .collect();
        Ok(Self {
            team_policies,
            bind,
            max_body_bytes: raw.server.max_body_bytes,
            shutdown_grace: Duration::from_secs(raw.server.shutdown_grace_secs),
            header_timeout: Duration::from_secs(raw.server.header_timeout_secs),
            body_timeout: Duration::from_secs(raw.server.body_timeout_secs),
            max_connections: raw.server.max_connections,
            max_in_flight: raw.server.max_in_flight,
            database: DatabaseSettings {
                url: raw.database.url.clone(),
                max_connections: raw.database.max_connections,
                migrate_on_start: raw.database.migrate_on_start,
            },
            bot_token: secret("slack.bot_token", "SLACK_BOT_TOKEN", &raw.slack.bot_token)?,
            signing_secret,
            app_token,
            transport,
            slack_api_url,
            slack_timeout: Duration::from_secs(raw.slack.request_timeout_secs.max(1)),
            oncall_channel: ChannelRef::parse("channels.oncall", &raw.channels.oncall)?,
            digest_channel: ChannelRef::parse("channels.digest", &raw.channels.digest)?,
            escalation_channel: match raw.channels.escalation.trim() {
                "" => None,
                value => Some(ChannelRef::parse("channels.escalation", value)?),
            },
            policy,
            default_severity,
            escalation,
            plus_one,
            file_emoji,
            trackers: tracker::validate(&raw.tracker)?,
            teams,
            digest_schedule: schedule("schedule.digest", &raw.schedule.digest)?,
            digest_post_when_empty: raw.digest.post_when_empty,
            sla_sweep_schedule: schedule("schedule.sla_sweep", &raw.schedule.sla_sweep)?,
            outbox,
            request_visibility,
            json_logs,
            log_level: raw.log.level.clone(),
            file: raw,
        })
    }

    /// The effective configuration as TOML; secrets show as "(redacted)",
    /// and the database URL without its password.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.file.clone();
        shown.database.url = redact_url(&shown.database.url);
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# could not render: {e}\n"))
    }

    pub fn bot_token(&self) -> &str {
        self.bot_token.expose_secret()
    }

    /// The team with this key; a key no longer configured (a team removed
    /// from the file) falls back to the default team, so its requests are
    /// still shown and triaged.
    pub fn team(&self, key: &str) -> &Team {
        self.teams.of(key)
    }

    /// The rules a team's requests follow: the global policy with the
    /// team's SLA table.
    pub fn policy_of(&self, team: &str) -> &Policy {
        &self.team_policies[self.teams.position(team)]
    }

    /// The team a request filed under `area` belongs to: the area's owner,
    /// else the default team.
    pub fn team_for_area(&self, area: Option<&str>) -> &Team {
        area.and_then(|a| self.teams.owner_of(a))
            .unwrap_or_else(|| self.teams.default_team())
    }

    /// Today in the team's time zone (revisit dates are local dates).
    pub fn today(&self, now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
        now.with_timezone(&self.policy.calendar.tz()).date_naive()
    }
}

fn severity_ref(severities: &Severities, key: &str, value: &str) -> Result<SeverityKey, ConfigError> {
    severities.get(value).map(|s| s.key.clone()).ok_or_else(|| {
        invalid(
            key,
            format!(
                "unknown severity {value:?}; configured: {}",
                severities.keys().join(", ")
            ),
        )
    })
}

/// A severity table; `prefix` names where it is configured (`severities`,
/// or a team's overrides).
fn severities(prefix: &str, raw: &[RawSeverity]) -> Result<Severities, ConfigError> {
    let mut list = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let at = |field: &str| format!("{prefix}[{i}].{field}");
        let key = SeverityKey::new(&s.key).map_err(|e| invalid(at("key"), e))?;
        if s.label.trim().is_empty() || s.label.chars().count() > 40 {
            return Err(invalid(at("label"), "must be 1 to 40 characters"));
        }
        let clock = match s.clock.as_str() {
            "business" => ClockKind::Business,
            "wall" => ClockKind::Wall,
            other => {
                return Err(invalid(
                    at("clock"),
                    format!("{other:?} must be \"business\" or \"wall\""),
                ));
            }
        };
        list.push(Severity {
            key,
            label: s.label.trim().to_string(),
            response: span(&at("response"), &s.response)?,
            resolution: span(&at("resolution"), &s.resolution)?,
            clock,
            oncall: s.oncall,
        });
    }
    Severities::new(list).map_err(|e| invalid(prefix, e))
}

fn calendar(raw: &RawCalendar) -> Result<BusinessCalendar, ConfigError> {
    let tz: chrono_tz::Tz = raw.timezone.parse().map_err(|_| {
        invalid(
            "calendar.timezone",
            format!("{:?} is not an IANA time zone like Europe/Berlin", raw.timezone),
        )
    })?;
    let workdays = raw
        .workdays
        .iter()
        .map(|d| {
            Weekday::from_str(d).map_err(|_| invalid("calendar.workdays", format!("{d:?} is not a weekday like Mon")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let time = |key: &str, value: &str| {
        NaiveTime::parse_from_str(value, "%H:%M")
            .map_err(|_| invalid(key, format!("{value:?} is not a time like 09:00")))
    };
    let holidays = raw
        .holidays
        .iter()
        .map(|d| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| invalid("calendar.holidays", format!("{d:?} is not a date like 2026-12-25")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    BusinessCalendar::new(
        tz,
        workdays,
        time("calendar.day_start", &raw.day_start)?,
        time("calendar.day_end", &raw.day_end)?,
        holidays,
    )
    .map_err(|e| invalid("calendar", e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn load_with(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::validate(load_raw(None, &env(vars))?)
    }

    const SECRETS: [(&str, &str); 2] = [("SLACK_BOT_TOKEN", "xoxb-test"), ("SLACK_SIGNING_SECRET", "shh")];

    #[test]
    fn defaults_with_secrets_are_valid() {
        let s = load_with(&SECRETS).expect("defaults load");
        assert_eq!(s.policy.severities.keys(), ["sev1", "sev2", "sev3", "sev4"]);
        assert_eq!(s.slack_api_url, "https://slack.com/api");
        assert_eq!(s.bind.to_string(), "127.0.0.1:3000");
    }

    #[test]
    fn missing_signing_secret_names_the_key_and_the_variable() {
        let err = load_with(&[("SLACK_BOT_TOKEN", "xoxb-test")])
            .err()
            .expect("must fail")
            .to_string();
        assert!(
            err.contains("slack.signing_secret") && err.contains("SLACK_SIGNING_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn an_app_token_picks_socket_mode_and_makes_the_signing_secret_optional() {
        let s = load_with(&[("SLACK_BOT_TOKEN", "xoxb-test"), ("SLACK_APP_TOKEN", "xapp-1-test")]).expect("load");
        assert_eq!(s.transport, Transport::Socket);
        assert!(s.signing_secret.is_none());
        // Without one, auto is HTTP.
        assert_eq!(load_with(&SECRETS).expect("load").transport, Transport::Http);
        // Asked for HTTP, the signing secret is required again.
        let err = load_with(&[
            ("SLACK_BOT_TOKEN", "xoxb-test"),
            ("SLACK_APP_TOKEN", "xapp-1-test"),
            ("INTAKE__SLACK__TRANSPORT", "http"),
        ])
        .err()
        .expect("must fail")
        .to_string();
        assert!(err.contains("slack.signing_secret"), "{err}");
    }

    #[test]
    fn socket_transport_without_an_app_token_names_the_key_and_the_variable() {
        let err = load_with(&[SECRETS[0], SECRETS[1], ("INTAKE__SLACK__TRANSPORT", "socket")])
            .err()
            .expect("must fail")
            .to_string();
        assert!(
            err.contains("slack.transport") && err.contains("SLACK_APP_TOKEN"),
            "{err}"
        );
        let err = load_with(&[SECRETS[0], SECRETS[1], ("INTAKE__SLACK__TRANSPORT", "websocket")])
            .err()
            .expect("must fail")
            .to_string();
        assert!(err.contains("slack.transport") && err.contains("websocket"), "{err}");
    }

    #[test]
    fn an_app_token_that_is_not_xapp_is_refused() {
        let err = load_with(&[SECRETS[0], ("SLACK_APP_TOKEN", "xoxb-pasted-the-wrong-one")])
            .err()
            .expect("must fail")
            .to_string();
        assert!(
            err.contains("slack.app_token") && err.contains("xapp-") && !err.contains("pasted"),
            "{err}"
        );
    }

    #[test]
    fn tracker_tokens_come_from_the_environment_and_are_redacted() {
        let mut vars = SECRETS.to_vec();
        vars.extend([
            ("INTAKE__TRACKER__JIRA__BASE_URL", "https://acme.atlassian.net"),
            ("INTAKE__TRACKER__JIRA__EMAIL", "pm@acme.example"),
            ("INTAKE__TRACKER__JIRA__PROJECT_KEY", "PROJ"),
            ("JIRA_API_TOKEN", "jira-secret-token"),
            ("JIRA_WEBHOOK_SECRET", "jira-hook-secret"),
        ]);
        let s = load_with(&vars).expect("loads");
        let trackers = s.trackers.as_ref().expect("Jira is configured");
        assert_eq!(trackers.default, tracker::TrackerKind::Jira);
        let out = s.redacted_toml();
        assert!(
            !out.contains("jira-secret-token") && !out.contains("jira-hook-secret"),
            "{out}"
        );
        match load_with(&vars[..vars.len() - 2]) {
            Err(e) => assert!(e.to_string().contains("JIRA_API_TOKEN"), "{e}"),
            Ok(_) => panic!("Jira without its token must be refused"),
        }
    }

    #[test]
    fn redacted_output_never_contains_secrets() {
        let s = load_with(&SECRETS).expect("load");
        let out = s.redacted_toml();
        assert!(!out.contains("xoxb-test") && !out.contains("shh"), "{out}");
        assert!(out.contains("(redacted)"));
    }

    #[test]
    fn unknown_severity_reference_is_named() {
        let err = load_raw(None, &env(&SECRETS))
            .map(|mut raw| {
                raw.intake.default_severity = "sev9".into();
                raw
            })
            .and_then(Settings::validate)
            .err()
            .expect("must fail")
            .to_string();
        assert!(err.contains("intake.default_severity") && err.contains("sev9"), "{err}");
    }

    #[test]
    fn bad_cron_and_bad_channel_are_named() {
        let mut raw = load_raw(None, &env(&SECRETS)).expect("raw");
        let mut bad_cron = raw.clone();
        bad_cron.schedule.digest = "every morning".into();
        let err = Settings::validate(bad_cron).err().expect("cron").to_string();
        assert!(err.contains("schedule.digest"), "{err}");
        raw.channels.intake = "intake channel".into();
        let err = Settings::validate(raw).err().expect("channel").to_string();
        assert!(err.contains("channels.intake"), "{err}");
    }

    #[test]
    fn an_absurd_span_is_a_named_error_not_a_panic() {
        let mut raw = load_raw(None, &env(&SECRETS)).expect("raw");
        raw.escalation.cooldown = "1000000000d".into();
        let err = Settings::validate(raw).err().expect("too long").to_string();
        assert!(err.contains("escalation.cooldown"), "{err}");
        // Spans the SLA clock saturates ("never") are not a panic either.
        let mut raw = load_raw(None, &env(&SECRETS)).expect("raw");
        raw.followup.after = "1000000000d".into();
        raw.followup.auto_close_after = "1000000000d".into();
        raw.severities[0].resolution = "1000000000d".into();
        let settings = Settings::validate(raw).expect("valid, if far");
        let at = chrono::Utc::now();
        let _ = crate::domain::schedule::after_resolution(at, &settings.policy);
    }

    #[test]
    fn a_lease_shorter_than_a_send_is_refused() {
        let mut raw = load_raw(None, &env(&SECRETS)).expect("raw");
        raw.slack.request_timeout_secs = 30;
        raw.outbox.lease_secs = 30;
        let err = Settings::validate(raw).err().expect("lease too short").to_string();
        assert!(
            err.contains("outbox.lease_secs") && err.contains("slack.request_timeout_secs"),
            "{err}"
        );
    }

    #[test]
    fn api_url_trailing_slash_is_removed() {
        let s = load_with(&[
            SECRETS[0],
            SECRETS[1],
            ("INTAKE__SLACK__API_URL", "http://127.0.0.1:9/api/"),
        ])
        .expect("load");
        assert_eq!(s.slack_api_url, "http://127.0.0.1:9/api");
    }
}
