//! Socket Mode load: a WebSocket server standing in for Slack's. It greets
//! the one connection intake opens with `hello`, then keeps `concurrency`
//! `/request` envelopes (Slack's `slash_commands` shape, from the samples)
//! in flight for the run, each with its own envelope id, and times each
//! one from send to intake's ack. The same commands as the HTTP case, so
//! the two rates compare.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::generator::Outcome;

/// How long one envelope may wait for its ack before it counts as failed.
const ACK_BOUND: Duration = Duration::from_secs(10);

type Waiting = Arc<std::sync::Mutex<HashMap<String, oneshot::Sender<bool>>>>;

pub struct SocketServer {
    addr: SocketAddr,
    /// Frames to the connected intake (none until it connects).
    outgoing: Arc<Mutex<Option<mpsc::UnboundedSender<Message>>>>,
    waiting: Waiting,
    seq: AtomicU64,
}

impl SocketServer {
    /// Binds 127.0.0.1:0 and accepts connections until the process ends.
    pub async fn start() -> Arc<SocketServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let server = Arc::new(SocketServer {
            addr: listener.local_addr().expect("a bound address"),
            outgoing: Arc::new(Mutex::new(None)),
            waiting: Arc::default(),
            seq: AtomicU64::new(1),
        });
        let accepting = Arc::clone(&server);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                    continue;
                };
                let (mut sink, mut stream) = ws.split();
                let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
                let hello = json!({"type": "hello", "num_connections": 1,
                    "connection_info": {"app_id": "A0INTAKE01"},
                    "debug_info": {"host": "bench", "approximate_connection_time": 18060}});
                let _ = tx.send(Message::text(hello.to_string()));
                *accepting.outgoing.lock().await = Some(tx);
                tokio::spawn(async move {
                    while let Some(frame) = rx.recv().await {
                        if sink.send(frame).await.is_err() {
                            break;
                        }
                    }
                });
                let waiting = Arc::clone(&accepting.waiting);
                tokio::spawn(async move {
                    while let Some(Ok(frame)) = stream.next().await {
                        let Message::Text(text) = frame else { continue };
                        let Ok(ack) = serde_json::from_str::<Value>(&text) else {
                            continue;
                        };
                        let Some(id) = ack["envelope_id"].as_str() else {
                            continue;
                        };
                        if let Some(done) = waiting.lock().ok().and_then(|mut w| w.remove(id)) {
                            let _ = done.send(true);
                        }
                    }
                });
            }
        });
        server
    }

    pub fn url(&self) -> String {
        format!("ws://{}/link", self.addr)
    }

    /// Waits (bounded) until intake has connected.
    pub async fn connected(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.outgoing.lock().await.is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Sends one `/request` envelope and waits for its ack.
    async fn one(&self, sample: &Value) -> Option<Duration> {
        let n = self.seq.fetch_add(1, Relaxed);
        let id = format!("bench-{n}");
        let mut envelope = sample.clone();
        envelope["envelope_id"] = json!(id);
        envelope["payload"]["trigger_id"] = json!(format!("1337.{n}.bench"));
        let (done, acked) = oneshot::channel();
        self.waiting.lock().ok()?.insert(id.clone(), done);
        let started = Instant::now();
        let sent = match self.outgoing.lock().await.as_ref() {
            Some(tx) => tx.send(Message::text(envelope.to_string())).is_ok(),
            None => false,
        };
        let answered = sent && matches!(tokio::time::timeout(ACK_BOUND, acked).await, Ok(Ok(true)));
        if !answered {
            self.waiting.lock().ok()?.remove(&id);
            return None;
        }
        Some(started.elapsed())
    }

    /// `concurrency` senders, each sending its next envelope when the last
    /// was acked, for `duration`.
    pub async fn run(self: &Arc<Self>, sample: &Value, concurrency: usize, duration: Duration) -> Outcome {
        let started = Instant::now();
        let mut senders = Vec::new();
        for _ in 0..concurrency {
            let server = Arc::clone(self);
            let sample = sample.clone();
            senders.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let (mut sent, mut failed) = (0u64, 0u64);
                while started.elapsed() < duration {
                    sent += 1;
                    match server.one(&sample).await {
                        Some(latency) => latencies.push(latency),
                        None => failed += 1,
                    }
                }
                (sent, failed, latencies)
            }));
        }
        let mut outcome = Outcome::default();
        for sender in senders {
            let (sent, failed, latencies) = sender.await.expect("a sender task");
            outcome.sent += sent;
            outcome.failed += failed;
            outcome.ok += latencies.len() as u64;
            outcome.latencies.extend(latencies);
        }
        outcome.elapsed = started.elapsed();
        outcome.latencies.sort_unstable();
        outcome
    }
}
