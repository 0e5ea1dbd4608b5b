//! The application, assembled: the one place that wires config, store,
//! Slack client, services, the transport (HTTP, or Socket Mode beside an
//! HTTP listener kept for health and metrics) and background workers
//! together.
//! `main` and the test kit both start the service through [`App`]; nothing
//! else imports this module.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{Settings, Transport, redact_url};
use crate::context::Context;
use crate::http::HttpState;
use crate::service::Services;
use crate::slack::api::SlackApi;
use crate::slack::verify::Verifier;
use crate::socket::SocketMode;
use crate::store::Store;
use crate::workers::dispatcher::Dispatcher;

/// Which background parts to run (tests switch the dispatcher off to
/// simulate a crash between commit and send).
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    /// The outbox dispatcher and the reaction-event worker.
    pub dispatcher: bool,
    /// The cron-driven scheduler (tests drive it with an injected clock).
    pub scheduler: bool,
}

impl Default for Parts {
    fn default() -> Self {
        Self {
            dispatcher: true,
            scheduler: true,
        }
    }
}

/// Connects the store (applying migrations if configured) and builds the
/// Slack client: the context every use case receives (the CLI's jobs use
/// it without a listener).
pub async fn context(settings: Settings) -> anyhow::Result<Context> {
    let settings = Arc::new(settings);
    let database = &settings.database;
    let store = Store::connect(&database.url, database.max_connections)
        .await
        .map_err(|e| anyhow::anyhow!("{e}; check database.url ({})", redact_url(&database.url)))?;
    if database.migrate_on_start {
        store.migrate().await?;
    }
    let slack = SlackApi::new(&settings.slack_api_url, settings.bot_token(), settings.slack_timeout)?;
    Ok(Context::new(settings, store, slack))
}

pub struct App {
    services: Services,
    listener: TcpListener,
}

impl App {
    /// Builds the context and services, and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let bind = settings.bind;
        let services = Services::start(context(settings).await?);
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {bind} (server.bind): {e}"))?;
        Ok(Self { services, listener })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts serving; returns a handle that stops everything gracefully.
    pub fn spawn(self, parts: Parts) -> Running {
        let shutdown = CancellationToken::new();
        // Installed before any task can record a metric.
        let metrics = crate::telemetry::metrics();
        let addr = self.local_addr().ok();
        let ctx = self.services.ctx.clone();
        let mut tasks = Vec::new();
        if parts.dispatcher {
            let (dispatcher_ctx, stop) = (ctx.clone(), shutdown.clone());
            tasks.push(supervise("dispatcher", shutdown.clone(), move || {
                Dispatcher::new(&dispatcher_ctx).run(stop.clone())
            }));
            let (worker_ctx, recorded, stop) =
                (ctx.clone(), self.services.reactions.recorded.clone(), shutdown.clone());
            tasks.push(supervise("reaction worker", shutdown.clone(), move || {
                crate::workers::reactions::run(worker_ctx.clone(), recorded.clone(), stop.clone())
            }));
        }
        if parts.scheduler {
            let (scheduler_ctx, stop) = (ctx.clone(), shutdown.clone());
            tasks.push(supervise("scheduler", shutdown.clone(), move || {
                crate::workers::scheduler::run(scheduler_ctx.clone(), stop.clone())
            }));
        }
        // One door for Slack: the signed routes, or a Socket Mode connection.
        let verifier = match (ctx.settings.transport, &ctx.settings.signing_secret) {
            (Transport::Http, Some(secret)) => Some(Verifier::new(secret.expose_secret())),
            _ => None,
        };
        if let (Transport::Socket, Some(app_token)) = (ctx.settings.transport, &ctx.settings.app_token) {
            let (services, app_token, stop) = (self.services.clone(), app_token.clone(), shutdown.clone());
            tasks.push(supervise("socket mode", shutdown.clone(), move || {
                SocketMode::new(services.clone(), app_token.clone()).run(stop.clone())
            }));
            info!("Slack reaches intake over Socket Mode; /slack/* are off");
        }
        let http = Arc::new(HttpState {
            verifier,
            metrics,
            in_flight: Semaphore::new(ctx.settings.max_in_flight),
            services: self.services.clone(),
        });
        tasks.push(tokio::spawn(serve(
            http,
            self.listener,
            shutdown.clone(),
            ctx.settings.clone(),
        )));
        if let Some(addr) = addr {
            info!(%addr, "intake is listening");
        }
        Running {
            services: self.services,
            shutdown,
            tasks,
        }
    }
}

/// Runs a background loop, and starts it again if it ends (a panic) before
/// shutdown: a dead dispatcher must not leave a service that looks ready.
fn supervise<F, Fut>(name: &'static str, shutdown: CancellationToken, start: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let ended = tokio::spawn(start()).await;
            if shutdown.is_cancelled() {
                return;
            }
            metrics::counter!("intake_task_restarts_total", "task" => name).increment(1);
            match ended {
                Err(e) => error!(task = name, error = %e, "a background task panicked; starting it again"),
                Ok(()) => error!(task = name, "a background task stopped unexpectedly; starting it again"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

/// A started service.
pub struct Running {
    pub services: Services,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    pub fn context(&self) -> &Context {
        &self.services.ctx
    }

    /// Stops accepting, lets in-flight requests finish, releases leases.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            if let Err(e) = task.await {
                error!(error = %e, "a task ended abnormally during shutdown");
            }
        }
        self.services.ctx.store.clone().close().await;
    }
}

/// Most requests one HTTP/2 connection may have in flight: with the body
/// limit, what a client can make the server hold before any signature is
/// checked.
const HTTP2_STREAMS: u32 = 32;

async fn serve(state: Arc<HttpState>, listener: TcpListener, shutdown: CancellationToken, settings: Arc<Settings>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Without a timer hyper has no header timeout: a client that never
    // finishes its headers would hold the connection forever.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(HTTP2_STREAMS);
    let connections = Arc::new(Semaphore::new(settings.max_connections));
    let grace = settings.shutdown_grace;
    let graceful = GracefulShutdown::new();
    // Refused connections since the last line about them.
    let (mut refused, mut last_refusal_logged) = (0u64, None::<std::time::Instant>);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Usually out of file descriptors: wait instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            metrics::counter!("intake_http_connections_refused_total").increment(1);
            refused += 1;
            // One line a second at most: a flood must not flood the log too.
            if last_refusal_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                warn!(
                    refused,
                    "too many connections (server.max_connections); closing new ones"
                );
                last_refusal_logged = Some(std::time::Instant::now());
                refused = 0;
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let first_request = Arc::new(AtomicBool::new(false));
        let seen = first_request.clone();
        let service = service_fn(move |request| {
            seen.store(true, Ordering::Relaxed);
            crate::http::route(state.clone(), request)
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        let header_timeout = settings.header_timeout;
        tokio::spawn(async move {
            // hyper's header timeout starts only once the protocol is known:
            // a client that sends nothing (or half an HTTP/2 preface) would
            // hold its slot forever. Its first request must arrive in time.
            tokio::pin!(connection);
            tokio::select! {
                _ = &mut connection => {}
                () = tokio::time::sleep(header_timeout) => {
                    if first_request.load(Ordering::Relaxed) {
                        let _ = connection.await;
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => info!("all connections closed"),
        _ = tokio::time::sleep(grace) => warn!(grace_secs = grace.as_secs(), "connections still open after the grace period; closing"),
    }
}
