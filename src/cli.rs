//! The `intake` command line (DESIGN §5).

use std::path::PathBuf;

use clap::{ArgGroup, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "intake",
    version,
    about = "One front door for bug and feature requests, in Slack"
)]
pub struct Cli {
    /// A TOML file layered over the defaults (also: INTAKE_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Slack's requests and send queued messages (applies migrations first).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Validate the configuration and print it, secrets redacted.
    CheckConfig,
    /// Build the daily digest now: print it (--dry-run) or post it.
    Digest {
        #[arg(long)]
        dry_run: bool,
    },
    /// Run every scheduled job due at an instant and print what was (or,
    /// with --dry-run, would be) sent.
    RunJobs {
        /// RFC 3339, e.g. 2026-11-26T09:00:00Z
        #[arg(long, value_parser = parse_instant)]
        at: chrono::DateTime<chrono::Utc>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Post request N's card again after Slack refused it; the messages that
    /// waited for the card follow it.
    Repost {
        /// The request number, e.g. 42 for #42.
        number: i64,
    },
    /// Look at the outbox, or send dead messages again.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Print the Slack app manifest: for a public base URL (--url), or for
    /// Socket Mode (--socket: no public URL needed).
    #[command(group(ArgGroup::new("delivery").required(true).args(["url", "socket"])))]
    Manifest {
        /// Where Slack reaches this service, e.g. https://intake.example.com
        #[arg(long)]
        url: Option<String>,
        /// Socket Mode: intake connects to Slack with an app-level token.
        #[arg(long)]
        socket: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// One line per message, oldest first: id, request, method, status,
    /// attempts, last error (and "request #N not posted" for a dead card).
    List {
        /// Only the messages Slack refused for good.
        #[arg(long)]
        dead: bool,
        /// Only request N's messages.
        #[arg(long, value_name = "N")]
        request: Option<i64>,
    },
    /// Put dead messages back to pending, attempts reset, and send them.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "all_dead"])))]
    Retry {
        /// The message's id (from `intake outbox list`).
        id: Option<i64>,
        /// Every dead message.
        #[arg(long)]
        all_dead: bool,
    },
}

fn parse_instant(value: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{value:?} is not an RFC 3339 time like 2026-11-26T09:00:00Z: {e}"))
}
