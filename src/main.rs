//! Composition root: parse the command line, load config, then serve,
//! migrate or print. Errors end the process with a message that says what
//! to fix, never a panic.

use std::process::ExitCode;

use clap::Parser;
use intake::app::{App, Parts, redact_url};
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
        Command::Manifest { .. } => unreachable!("handled before loading config"),
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
