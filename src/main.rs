//! Composition root: parse the command line, load config, then serve,
//! migrate or print. Errors end the process with a message that says what
//! to fix, never a panic.

use std::process::ExitCode;

use clap::Parser;
use intake::cli::{Cli, Command, OutboxCommand};
use intake::config::Settings;
use intake::config::redact_url;
use intake::context::Context;
use intake::domain::request::{PostKind, RequestNumber};
use intake::service::repost::{self, Reposted};
use intake::startup::{App, Parts};
use intake::store::{Store, outbox};
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
    if let Command::Manifest { url, .. } = &cli.command {
        let delivery = match url {
            Some(url) => intake::manifest::Delivery::Url(url),
            None => intake::manifest::Delivery::Socket,
        };
        print!("{}", intake::manifest::manifest(delivery));
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    intake::telemetry::init_logging(settings.json_logs, &settings.log_level);
    match cli.command {
        Command::CheckConfig => {
            print!("{}", settings.redacted_toml());
            let transport = match settings.transport {
                intake::config::Transport::Http => "HTTP",
                intake::config::Transport::Socket => "Socket Mode",
            };
            eprintln!("configuration is valid; Slack reaches intake over {transport} (slack.transport)");
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
            let messages = intake::service::scheduled::manual_digest(&ctx, now).await?;
            for message in messages {
                let channel = message.payload["channel"].as_str().unwrap_or_default().to_string();
                if dry_run {
                    println!("{}", serde_json::to_string_pretty(&message.payload)?);
                } else {
                    intake::store::outbox::enqueue(ctx.store.writer(), message, now).await?;
                    println!("digest queued for {channel}");
                }
            }
            if !dry_run {
                deliver(&ctx).await?;
            }
        }
        Command::Repost { number } => {
            let ctx = intake::startup::context(settings).await?;
            let number = RequestNumber(number);
            match repost::repost(&ctx, number, chrono::Utc::now()).await? {
                Reposted::Queued { waiting, channel } => {
                    println!(
                        "request {number}: a fresh card is queued for {channel}, then {waiting} message(s) that waited for it"
                    );
                    deliver(&ctx).await?;
                }
                Reposted::AlreadyPosted => println!("request {number} is already posted; nothing to do"),
                Reposted::UnderWay => println!(
                    "request {number} is already being posted; `intake outbox list --request {}` shows how it goes",
                    number.0
                ),
                Reposted::NoSuchRequest => anyhow::bail!("there is no request {number}"),
            }
        }
        Command::Outbox {
            command: OutboxCommand::List { dead, request },
        } => {
            let ctx = intake::startup::context(settings).await?;
            let listing = outbox::Listing {
                dead,
                request: request.map(RequestNumber),
            };
            let rows = outbox::list(ctx.store.db(), listing, OUTBOX_LIST_LIMIT).await?;
            if rows.is_empty() {
                println!("no messages");
            }
            for row in &rows {
                println!("{}", outbox_line(row));
            }
        }
        Command::Outbox {
            command: OutboxCommand::Retry { id, all_dead },
        } => {
            let ctx = intake::startup::context(settings).await?;
            let id = if all_dead { None } else { id };
            let retried = outbox::retry_dead(ctx.store.writer(), id, chrono::Utc::now()).await?;
            match (retried, id) {
                (0, Some(id)) => anyhow::bail!("message {id} is not dead (see `intake outbox list --dead`)"),
                (n, _) => println!("{n} dead message(s) put back to pending"),
            }
            deliver(&ctx).await?;
        }
        Command::Manifest { .. } => unreachable!("handled before loading config"),
    }
    Ok(())
}

/// `intake outbox list` shows at most this many messages.
const OUTBOX_LIST_LIMIT: u64 = 10_000;

/// One outbox message in `intake outbox list`.
fn outbox_line(row: &outbox::OutboxRow) -> String {
    let request = row.request_id.map_or("-".to_string(), |n| format!("#{n}"));
    let error = row.last_error.as_deref().unwrap_or("-").replace('\n', " ");
    let mut line = format!(
        "{:>6}  {request:<6}  {:<18}  {:<10}  {:>2}  {error}",
        row.id, row.method, row.status, row.attempts
    );
    if let (Some(PostKind::Intake), outbox::DEAD, Some(n)) = (outbox::records(row), row.status.as_str(), row.request_id)
    {
        line.push_str(&format!("  (request #{n} not posted)"));
    }
    line
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
