//! The Socket Mode transport: intake opens a WebSocket to Slack, so it
//! needs no public URL. Each envelope's payload goes through the same
//! parsers (`slack::inbound`) and the same use cases
//! (`service::{command, interaction, event}`) as over HTTP, and is acked
//! with what the HTTP response body would carry (`slack::socket`).
//!
//! One connection at a time: `apps.connections.open` (with the app token)
//! hands out a single-use URL. On `disconnect`, a dropped connection or
//! silence, another is opened; failures back off. A connection being
//! replaced still sends the acks of the envelopes it was handling, then
//! closes. Nothing is de-duplicated here: Slack re-delivers an envelope it
//! did not see acked (`retry_attempt`), and the use cases ignore a repeat
//! exactly as they do over HTTP (event ids are recorded, a modal files one
//! request, the state machine refuses a step twice).

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, field, info, info_span, warn};

use crate::service::{self, Services};
use crate::slack::api::CallError;
use crate::slack::socket::{self as wire, FrameKind, PayloadKind};
use crate::slack::{Reply, inbound};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Outgoing = mpsc::UnboundedSender<Message>;

/// How often intake pings Slack; a connection silent for [`SILENT_FOR`]
/// (no frame, not even a pong) is presumed dead and replaced.
const PING_EVERY: Duration = Duration::from_secs(30);
const SILENT_FOR: Duration = Duration::from_secs(90);
/// Waits between failed attempts: 1 s doubling to 60 s, ±20 %.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A connection that lived this long before dropping resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// How long a closing connection may take to send its close frame.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// The Socket Mode client: keeps one connection open until shutdown.
pub struct SocketMode {
    services: Services,
    app_token: SecretString,
    /// Envelopes being handled; full means un-acked (Slack re-delivers),
    /// as a 503 over HTTP (`server.max_in_flight`).
    in_flight: Arc<Semaphore>,
}

/// Why a connection ended.
enum Ended {
    /// Slack sent `disconnect`: reconnect at once.
    Asked(String),
    /// Closed, broken or silent.
    Dropped {
        reason: String,
        stable: bool,
    },
    Shutdown,
}

impl SocketMode {
    pub fn new(services: Services, app_token: SecretString) -> Self {
        let in_flight = Arc::new(Semaphore::new(services.ctx.settings.max_in_flight));
        Self {
            services,
            app_token,
            in_flight,
        }
    }

    /// Connects, reads, reconnects, until `shutdown`; then finishes the
    /// envelopes in hand, sends their acks and closes.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        // Connections still sending acks after they were replaced.
        let mut closing: Vec<JoinHandle<()>> = Vec::new();
        loop {
            closing.retain(|writer| !writer.is_finished());
            let wait = tokio::select! {
                opened = self.connect() => match opened {
                    Ok(socket) => {
                        let (ended, writer) = self.connection(socket, &shutdown).await;
                        closing.push(writer);
                        match ended {
                            Ended::Shutdown => break,
                            Ended::Asked(reason) => {
                                info!(%reason, "Slack asked for a new Socket Mode connection");
                                metrics::counter!("intake_socket_reconnects_total", "reason" => "disconnect").increment(1);
                                failures = 0;
                                None
                            }
                            Ended::Dropped { reason, stable } => {
                                warn!(%reason, "the Socket Mode connection dropped; reconnecting");
                                metrics::counter!("intake_socket_reconnects_total", "reason" => "dropped").increment(1);
                                failures = if stable { 1 } else { failures + 1 };
                                Some(backoff(failures))
                            }
                        }
                    }
                    Err(Failed { error, at_least }) => {
                        failures += 1;
                        let wait = backoff(failures).max(at_least);
                        metrics::counter!("intake_socket_connections_total", "outcome" => "failed").increment(1);
                        warn!(%error, retry_in_ms = wait.as_millis() as u64, "could not open a Socket Mode connection");
                        Some(wait)
                    }
                },
                _ = shutdown.cancelled() => break,
            };
            if let Some(wait) = wait {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
        }
        let grace = self.services.ctx.settings.shutdown_grace;
        let aborts: Vec<_> = closing.iter().map(JoinHandle::abort_handle).collect();
        let drained = tokio::time::timeout(grace, futures_util::future::join_all(closing)).await;
        if drained.is_err() {
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
            warn!(
                grace_secs = grace.as_secs(),
                "Socket Mode envelopes still in hand after the grace period; Slack delivers them again"
            );
        }
        info!("Socket Mode closed");
    }

    /// `apps.connections.open`, then the WebSocket handshake.
    async fn connect(&self) -> Result<Socket, Failed> {
        let ctx = &self.services.ctx;
        let url = ctx
            .slack
            .open_connection(self.app_token.expose_secret())
            .await
            .map_err(|e| {
                let at_least = match &e {
                    CallError::RateLimited(wait) => *wait,
                    _ => Duration::ZERO,
                };
                let error = match &e {
                    CallError::Permanent(code) => format!(
                        "apps.connections.open: {code} (check SLACK_APP_TOKEN: an app-level token with connections:write, \
                         and Socket Mode enabled for the app)"
                    ),
                    other => format!("apps.connections.open: {other}"),
                };
                Failed { error, at_least }
            })?;
        let (socket, _) = tokio::time::timeout(
            ctx.settings.slack_timeout,
            tokio_tungstenite::connect_async(url.as_str()),
        )
        .await
        .map_err(|_| Failed::now("the WebSocket handshake timed out"))?
        .map_err(|e| Failed::now(format!("the WebSocket handshake failed: {e}")))?;
        metrics::counter!("intake_socket_connections_total", "outcome" => "opened").increment(1);
        Ok(socket)
    }

    /// Reads one connection until it ends. Returns why, and the writer,
    /// which sends the acks of envelopes still being handled and then
    /// closes the connection.
    async fn connection(&self, socket: Socket, shutdown: &CancellationToken) -> (Ended, JoinHandle<()>) {
        let (mut sink, mut stream) = socket.split();
        let (out, mut outgoing) = mpsc::unbounded_channel::<Message>();
        // Ends when every sender is gone: the reader's and each handler's.
        let writer = tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if let Err(e) = sink.send(message).await {
                    warn!(error = %e, "could not write to the Socket Mode connection; Slack re-delivers what was not acked");
                    return;
                }
            }
            let _ = tokio::time::timeout(CLOSE_LIMIT, sink.close()).await;
        });
        let opened = Instant::now();
        let mut hello = false;
        let mut heard = Instant::now();
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let dropped = |reason: String, hello: bool| Ended::Dropped {
            reason,
            stable: hello && opened.elapsed() >= STABLE_AFTER,
        };
        let ended = loop {
            let frame = tokio::select! {
                frame = stream.next() => frame,
                _ = ping.tick() => {
                    if heard.elapsed() >= SILENT_FOR {
                        break dropped(format!("nothing heard for {} s", SILENT_FOR.as_secs()), hello);
                    }
                    let _ = out.send(Message::Ping(Bytes::new()));
                    continue;
                }
                _ = shutdown.cancelled() => break Ended::Shutdown,
            };
            heard = Instant::now();
            let text = match frame {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(close))) => {
                    let reason = close.map_or(String::new(), |c| format!(" ({} {})", c.code, c.reason));
                    break dropped(format!("closed by Slack{reason}"), hello);
                }
                Some(Ok(Message::Binary(_))) => {
                    warn!("a binary Socket Mode frame; ignored");
                    metrics::counter!("intake_socket_frames_ignored_total", "why" => "binary").increment(1);
                    continue;
                }
                // Pings are answered by the WebSocket library.
                Some(Ok(_)) => continue,
                Some(Err(e)) => break dropped(e.to_string(), hello),
                None => break dropped("the connection closed".into(), hello),
            };
            match wire::frame(text.as_str()) {
                Err(e) => {
                    warn!(reason = %e, "an unreadable Socket Mode frame; ignored");
                    metrics::counter!("intake_socket_frames_ignored_total", "why" => "unreadable").increment(1);
                }
                Ok(frame) => match frame.kind {
                    FrameKind::Hello => {
                        hello = true;
                        metrics::gauge!("intake_socket_connected").set(1.0);
                        info!("Socket Mode connected");
                    }
                    FrameKind::Disconnect { reason } => break Ended::Asked(reason),
                    FrameKind::Other(kind) => {
                        warn!(%kind, "a Socket Mode envelope of a type intake does not know; acked and ignored");
                        metrics::counter!("intake_socket_frames_ignored_total", "why" => "unknown_type").increment(1);
                        if let Some(id) = frame.envelope_id {
                            let _ = out.send(Message::text(wire::ack(&id)));
                        }
                    }
                    FrameKind::Envelope { kind, payload } => {
                        let Some(envelope_id) = frame.envelope_id else {
                            warn!(
                                kind = kind.name(),
                                "a Socket Mode envelope without an envelope_id; ignored"
                            );
                            metrics::counter!("intake_socket_frames_ignored_total", "why" => "no_envelope_id")
                                .increment(1);
                            continue;
                        };
                        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
                            warn!(
                                kind = kind.name(),
                                "busy (server.max_in_flight): envelope left un-acked for Slack to re-deliver"
                            );
                            metrics::counter!("intake_socket_busy_total").increment(1);
                            continue;
                        };
                        let envelope = Envelope {
                            kind,
                            payload,
                            envelope_id,
                            retry_attempt: frame.retry_attempt,
                            retry_reason: frame.retry_reason,
                        };
                        let (services, out) = (self.services.clone(), out.clone());
                        tokio::spawn(async move {
                            handle(&services, envelope, &out).await;
                            drop(permit);
                        });
                    }
                },
            }
        };
        if hello {
            metrics::gauge!("intake_socket_connected").set(0.0);
        }
        (ended, writer)
    }
}

/// A connection attempt that failed, and the least time to wait (Slack's
/// `Retry-After`).
struct Failed {
    error: String,
    at_least: Duration,
}

impl Failed {
    fn now(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            at_least: Duration::ZERO,
        }
    }
}

/// The wait before attempt `failures + 1`.
fn backoff(failures: u32) -> Duration {
    let doubled = BACKOFF_FIRST.saturating_mul(1 << failures.saturating_sub(1).min(16));
    doubled.min(BACKOFF_MAX).mul_f64(rand::random_range(0.8..1.2))
}

struct Envelope {
    kind: PayloadKind,
    payload: String,
    envelope_id: String,
    retry_attempt: u64,
    retry_reason: String,
}

/// One envelope: parse its payload, run its use case, ack with the answer.
async fn handle(services: &Services, envelope: Envelope, out: &Outgoing) {
    let started = Instant::now();
    let kind = envelope.kind;
    let span = info_span!(
        "slack",
        kind = kind.name(),
        transport = "socket",
        retry = envelope.retry_attempt,
        user = field::Empty,
        request = field::Empty
    );
    if envelope.retry_attempt > 0 {
        span.in_scope(|| {
            info!(
                attempt = envelope.retry_attempt,
                reason = %envelope.retry_reason,
                "Slack re-delivered an envelope"
            )
        });
    }
    let payload = envelope.payload.as_str();
    let reply = async {
        match kind {
            PayloadKind::SlashCommand => match inbound::command_payload(payload) {
                Ok(command) => service::command(services, command).await,
                Err(e) => e.into(),
            },
            PayloadKind::Interactive => match inbound::interaction_payload(payload) {
                Ok(interaction) => service::interaction(services, interaction).await,
                Err(e) => e.into(),
            },
            PayloadKind::EventsApi => match inbound::event(payload.as_bytes()) {
                Ok(callback) => service::event(services, callback, payload.as_bytes()).await,
                Err(e) => e.into(),
            },
        }
    }
    .instrument(span.clone())
    .await;
    let outcome = match &reply {
        Reply::Ack => "ack",
        Reply::Json(_) => "ack_with_payload",
        Reply::BadRequest(reason) => {
            span.in_scope(|| warn!(%reason, "malformed Slack payload over Socket Mode; acked"));
            "bad_request"
        }
        Reply::Unavailable(reason) => {
            span.in_scope(|| warn!(%reason, "could not handle an envelope now; left un-acked for Slack to re-deliver"));
            "unavailable"
        }
    };
    if let Some(ack) = wire::reply_ack(&envelope.envelope_id, &reply)
        && out.send(Message::text(ack)).is_err()
    {
        span.in_scope(|| error!("the connection closed before the ack was sent; Slack re-delivers the envelope"));
    }
    metrics::counter!("intake_socket_envelopes_total", "kind" => kind.name(), "outcome" => outcome).increment(1);
    metrics::histogram!("intake_socket_envelope_seconds", "kind" => kind.name())
        .record(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let within = |d: Duration, secs: f64| d.as_secs_f64() >= secs * 0.8 && d.as_secs_f64() <= secs * 1.2;
        assert!(within(backoff(1), 1.0));
        assert!(within(backoff(3), 4.0));
        assert!(within(backoff(40), 60.0));
    }

    #[tokio::test]
    async fn a_wss_url_gets_as_far_as_the_tls_handshake_without_a_panic() {
        // A peer that hangs up at once: the TLS client is built (crypto
        // provider, root certificates) and the handshake fails, cleanly.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        });
        let connected = tokio_tungstenite::connect_async(format!("wss://127.0.0.1:{port}/link/")).await;
        assert!(connected.is_err());
    }
}
