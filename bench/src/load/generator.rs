//! The load generator: K workers on one keep-alive connection pool, each
//! sending signed requests back to back for a fixed duration and recording
//! every latency. Signing happens per request, inside the generator, so it
//! costs the same whichever server is measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinSet;

use testkit::signing;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Builds request body number `n` (unique ids come from `n`).
pub type BodyFn = Arc<dyn Fn(u64) -> Bytes + Send + Sync>;

/// No single request may take longer than this; it then counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A guard against runaway loops, far above any real rate.
const MAX_REQUESTS_PER_WORKER: u64 = 50_000_000;

/// A keep-alive client with TCP_NODELAY and a pool big enough for c=64.
pub fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(connector)
}

/// What to send: where, as which content type, with which bodies.
#[derive(Clone)]
pub struct Load {
    pub uri: Uri,
    pub content_type: &'static str,
    pub body: BodyFn,
}

/// The outcome of one timed run.
#[derive(Debug, Default)]
pub struct Outcome {
    pub sent: u64,
    /// 2xx answers.
    pub ok: u64,
    /// 2xx answers that carried a body (e.g. `response_action: errors`).
    pub ok_with_body: u64,
    pub non_2xx: u64,
    /// Transport errors and timeouts.
    pub failed: u64,
    pub elapsed: Duration,
    /// Latencies of answered requests, sorted.
    pub latencies: Vec<Duration>,
}

impl Outcome {
    /// 2xx answers per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn errors(&self) -> u64 {
        self.non_2xx + self.failed
    }

    /// The `p`-th percentile latency in ms (`p` in 0..=100).
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)].as_secs_f64() * 1e3
    }

    fn merge(&mut self, other: Outcome) {
        self.sent += other.sent;
        self.ok += other.ok;
        self.ok_with_body += other.ok_with_body;
        self.non_2xx += other.non_2xx;
        self.failed += other.failed;
        self.latencies.extend(other.latencies);
    }
}

/// Drives `load` with `concurrency` workers for `duration`; `seq` numbers
/// the bodies across runs so ids never repeat.
pub async fn run(
    client: &HttpClient,
    load: &Load,
    secret: &str,
    seq: &Arc<AtomicU64>,
    concurrency: usize,
    duration: Duration,
) -> Outcome {
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (client, load, secret, seq) = (client.clone(), load.clone(), secret.to_owned(), Arc::clone(seq));
        workers.spawn(async move { worker(&client, &load, &secret, &seq, deadline).await });
    }
    let mut total = Outcome::default();
    while let Some(done) = workers.join_next().await {
        total.merge(done.expect("a load worker panicked"));
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total
}

async fn worker(client: &HttpClient, load: &Load, secret: &str, seq: &AtomicU64, deadline: Instant) -> Outcome {
    let mut outcome = Outcome::default();
    while Instant::now() < deadline && outcome.sent < MAX_REQUESTS_PER_WORKER {
        let body = (load.body)(seq.fetch_add(1, Relaxed));
        let request = signed(load, secret, body);
        let started = Instant::now();
        outcome.sent += 1;
        match tokio::time::timeout(REQUEST_TIMEOUT, send(client, request)).await {
            Ok(Some((status, body_len))) => {
                outcome.latencies.push(started.elapsed());
                if (200..300).contains(&status) {
                    outcome.ok += 1;
                    outcome.ok_with_body += u64::from(body_len > 0);
                } else {
                    outcome.non_2xx += 1;
                }
            }
            _ => outcome.failed += 1,
        }
    }
    outcome
}

/// `body` as a POST signed now, exactly as Slack signs it.
pub fn signed(load: &Load, secret: &str, body: Bytes) -> Request<Full<Bytes>> {
    let ts = signing::now_ts();
    Request::post(load.uri.clone())
        .header(CONTENT_TYPE, load.content_type)
        .header(signing::TIMESTAMP_HEADER, ts)
        .header(signing::SIGNATURE_HEADER, signing::signature(secret, ts, &body))
        .body(Full::new(body))
        .expect("a request from valid parts")
}

/// Sends and reads the whole answer: its status and body length.
pub async fn send(client: &HttpClient, request: Request<Full<Bytes>>) -> Option<(u16, usize)> {
    let response = client.request(request).await.ok()?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, body.len()))
}
