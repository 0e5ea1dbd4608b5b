//! Composition root: parse the command line, load config, then serve,
//! migrate or print. Errors end the process with a message that says what
//! to fix, never a panic.

use std::process::ExitCode;

use clap::Parser;
use intake::app::{App, AppState, Parts, redact_url};
use intake::cli::{Cli, Command};
use intake::config::Settings;
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
    intake::telemetry::init_logging(settings.json_logs, &settings.raw.log.level);
    match cli.command {
        Command::CheckConfig => {
            print!("{}", settings.redacted_toml());
            eprintln!("configuration is valid");
        }
        Command::Migrate => {
            let store = Store::connect(&settings.raw.database.url, 1).await?;
            store.migrate().await?;
            info!(database = %redact_url(&settings.raw.database.url), "migrations applied");
        }
        Command::Serve => {
            let running = App::build(settings).await?.spawn(Parts::default());
            shutdown_signal().await;
            info!("shutting down: no new connections; finishing in-flight requests");
            running.stop().await;
            info!("stopped");
        }
        Command::RunJobs { at, dry_run } => {
            let state = AppState::build(settings).await?;
            let report = intake::scheduler::run_due(&state, at, dry_run).await?;
            print_report(&report.lines, dry_run);
            if !dry_run {
                deliver(&state).await?;
            }
        }
        Command::Digest { dry_run } => {
            let state = AppState::build(settings).await?;
            let now = chrono::Utc::now();
            let tz = state.settings.calendar.tz();
            let since = intake::scheduler::jobs::digest_window(&state.settings.digest_schedule, tz, now)
                .map_or(now - chrono::TimeDelta::days(1), |(_, latest)| latest);
            let key = format!("digest:manual:{}", now.to_rfc3339());
            let message = intake::scheduler::jobs::digest_message(&state, key, since, now).await?;
            if dry_run {
                println!("{}", serde_json::to_string_pretty(&message.payload)?);
            } else {
                intake::outbox::enqueue(state.store.writer(), message, now).await?;
                deliver(&state).await?;
                println!("digest posted to {}", state.settings.digest_channel);
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
async fn deliver(state: &AppState) -> anyhow::Result<()> {
    let dispatcher = state.dispatcher();
    for _ in 0..100 {
        if dispatcher.round().await? == 0 {
            break;
        }
    }
    let (pending, _, dead) = intake::outbox::counts(state.store.db()).await?;
    if pending > 0 || dead > 0 {
        eprintln!("outbox: {pending} pending (retried by `intake serve`), {dead} dead");
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
