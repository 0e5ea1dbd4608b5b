//! The application, assembled: the one place that wires config, store,
//! Slack client, HTTP listener and outbox dispatcher together. `main` and
//! the integration tests both start the service through [`App`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::Settings;
use crate::outbox::dispatcher::{DispatchSettings, Dispatcher};
use crate::slack::api::SlackApi;
use crate::slack::verify::Verifier;
use crate::store::Store;

/// Everything a request handler may use; shared, read-only but for the pool.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub slack: SlackApi,
    pub verifier: Verifier,
    /// Rung after each commit that enqueued messages, so they go out now
    /// rather than at the next poll.
    pub outbox_wake: Arc<Notify>,
    pub metrics: PrometheusHandle,
    pub triagers: crate::triage_flow::Triagers,
    /// Rung when a reaction event was recorded for processing.
    pub events_wake: Arc<Notify>,
    /// The `/request` form, rendered once.
    pub request_form: crate::slack::blocks::RequestForm,
    /// Which messages reactions may matter on (see `reactions`).
    pub known_messages: crate::reactions::KnownMessages,
    /// Records reaction events for the worker (group commit).
    pub events: crate::store::events::Recorder,
    /// Stores new requests (group commit).
    pub filer: crate::submission::Filer,
}

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

impl AppState {
    /// Connects the store (applying migrations if configured) and builds the
    /// Slack client: everything but the listener (the CLI's jobs use this).
    pub async fn build(settings: Settings) -> anyhow::Result<Arc<Self>> {
        let settings = Arc::new(settings);
        let store = Store::connect(&settings.raw.database.url, settings.raw.database.max_connections)
            .await
            .map_err(|e| anyhow::anyhow!("{e}; check database.url ({})", redact_url(&settings.raw.database.url)))?;
        if settings.raw.database.migrate_on_start {
            store.migrate().await?;
        }
        let slack = SlackApi::new(
            &settings.slack_api_url,
            settings.bot_token(),
            Duration::from_secs(settings.raw.slack.request_timeout_secs.max(1)),
        )?;
        let request_form = crate::slack::blocks::RequestForm::new(
            &settings.severities,
            settings.default_severity.as_str(),
            &settings.raw.intake.areas,
        );
        let events = crate::store::events::Recorder::start(store.clone());
        let outbox_wake = Arc::new(Notify::new());
        let filer = crate::submission::Filer::start(settings.clone(), store.clone(), outbox_wake.clone());
        Ok(Arc::new(AppState {
            request_form,
            verifier: Verifier::new(settings.signing_secret.expose_secret()),
            settings,
            store,
            slack,
            outbox_wake,
            metrics: crate::telemetry::metrics(),
            triagers: Default::default(),
            events_wake: Arc::new(Notify::new()),
            known_messages: Default::default(),
            events,
            filer,
        }))
    }

    /// A dispatcher over this state's store and Slack client.
    pub fn dispatcher(&self) -> Dispatcher {
        let outbox = &self.settings.raw.outbox;
        let settings = DispatchSettings {
            poll_interval: Duration::from_millis(outbox.poll_interval_ms.max(10)),
            lease: Duration::from_secs(outbox.lease_secs),
            batch_size: outbox.batch_size,
            max_attempts: outbox.max_attempts,
            retry_base: Duration::from_millis(outbox.retry_base_ms.max(1)),
        };
        Dispatcher::new(
            self.store.clone(),
            self.slack.clone(),
            settings,
            self.outbox_wake.clone(),
        )
    }
}

pub struct App {
    state: Arc<AppState>,
    listener: TcpListener,
}

impl App {
    /// Connects the store (applying migrations if configured), builds the
    /// Slack client and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let bind = settings.bind;
        let state = AppState::build(settings).await?;
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {bind} (server.bind): {e}"))?;
        Ok(Self { state, listener })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts serving; returns a handle that stops everything gracefully.
    pub fn spawn(self, parts: Parts) -> Running {
        let shutdown = CancellationToken::new();
        let addr = self.local_addr().ok();
        let mut tasks = Vec::new();
        if parts.dispatcher {
            tasks.push(tokio::spawn(self.state.dispatcher().run(shutdown.clone())));
            tasks.push(tokio::spawn(crate::reactions::run_worker(
                self.state.clone(),
                shutdown.clone(),
            )));
        }
        if parts.scheduler {
            tasks.push(tokio::spawn(crate::scheduler::run_on_schedule(
                self.state.clone(),
                shutdown.clone(),
            )));
        }
        let grace = Duration::from_secs(self.state.settings.raw.server.shutdown_grace_secs);
        tasks.push(tokio::spawn(serve(
            self.state.clone(),
            self.listener,
            shutdown.clone(),
            grace,
        )));
        if let Some(addr) = addr {
            info!(%addr, "intake is listening");
        }
        Running {
            state: self.state,
            shutdown,
            tasks,
        }
    }
}

/// A started service.
pub struct Running {
    pub state: Arc<AppState>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, releases leases.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            if let Err(e) = task.await {
                error!(error = %e, "a task ended abnormally during shutdown");
            }
        }
        self.state.store.clone().close().await;
    }
}

async fn serve(state: Arc<AppState>, listener: TcpListener, shutdown: CancellationToken, grace: Duration) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
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
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let service = service_fn(move |request| crate::http::route(state.clone(), request));
        let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => info!("all connections closed"),
        _ = tokio::time::sleep(grace) => warn!(grace_secs = grace.as_secs(), "connections still open after the grace period; closing"),
    }
}

/// A database URL without its password, for error messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
