//! Composition root: parse the command line, load config, then serve,
//! migrate or print. Errors end the process with a message that says what
//! to fix, never a panic.

use std::process::ExitCode;

use clap::Parser;
use intake::cli::{Cli, Command};
use intake::config::Settings;
use intake::config::redact_url;
use intake::context::Context;
use intake::startup::{App, Parts};
use intake::store::Store;
use tracing::info;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("intake: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Manifest { url } = &cli.command {
        print!("{}", intake::manifest::manifest(url));
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    intake::telemetry::init_logging(settings.json_logs, &settings.log_level);
    match cli.command {
        Command::CheckConfig => {
            print!("{}", settings.redacted_toml());
            eprintln!("configuration is valid");
        }
        Command::Migrate => {
            let store = Store::connect(&settings.database.url, 1).await?;
            store.migrate().await?;
            info!(database = %redact_url(&settings.database.url), "migrations applied");
        }
        Command::Serve => {
            let running = App::build(settings).await?.spawn(Parts::default());
            intake::shutdown::signal().await;
            info!("shutting down: no new connections; finishing in-flight requests");
            running.stop().await;
            info!("stopped");
        }
        Command::RunJobs { at, dry_run } => {
            let ctx = intake::startup::context(settings).await?;
            let report = intake::service::scheduled::run_due(&ctx, at, dry_run).await?;
            print_report(&report.lines, dry_run);
            if !dry_run {
                deliver(&ctx).await?;
            }
        }
        Command::Digest { dry_run } => {
            let ctx = intake::startup::context(settings).await?;
            let now = chrono::Utc::now();
            let message = intake::service::scheduled::manual_digest(&ctx, now).await?;
            if dry_run {
                println!("{}", serde_json::to_string_pretty(&message.payload)?);
            } else {
                intake::store::outbox::enqueue(ctx.store.writer(), message, now).await?;
                deliver(&ctx).await?;
                println!("digest posted to {}", ctx.settings.digest_channel);
            }
        }
        Command::Manifest { .. } => unreachable!("handled before loading config"),
    }
    Ok(())
}

fn print_report(lines: &[String], dry_run: bool) {
    let verb = if dry_run { "would send" } else { "sent" };
    if lines.is_empty() {
        println!("nothing is due");
    }
    for line in lines {
        println!("{verb}: {line}");
    }
}

/// Sends what is queued now, for commands that run without `serve`.
async fn deliver(ctx: &Context) -> anyhow::Result<()> {
    let dispatcher = intake::workers::dispatcher::Dispatcher::new(ctx);
    for _ in 0..100 {
        if dispatcher.round().await? == 0 {
            break;
        }
    }
    let (pending, _, dead) = intake::store::outbox::counts(ctx.store.db()).await?;
    if pending > 0 || dead > 0 {
        eprintln!("outbox: {pending} pending (retried by `intake serve`), {dead} dead");
    }
    Ok(())
}
