//! The `intake` command line (DESIGN §5).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// Print the Slack app manifest for a public base URL.
    Manifest {
        /// Where Slack reaches this service, e.g. https://intake.example.com
        #[arg(long)]
        url: String,
    },
}
