//! Hostile clients at the HTTP edge (slow loris): two thousand connections
//! that never finish their request, and a hundred that send headers and then
//! dribble a body, do not keep Slack waiting. A signed `url_verification`
//! is still answered at once, memory stays bounded, the read timeouts close
//! every slow connection, and past `server.max_connections` a new
//! connection is closed at once instead of hanging.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use testkit::*;

/// Connections that never finish their request head.
const SLOW: usize = 2_000;
/// Connections that send their headers, then a byte of body now and then.
const DRIBBLING: usize = 100;
/// Room for the test's own client besides the slow ones; the extra
/// connections opened later find about this many free slots.
const ROOM: usize = 100;
/// Connections opened once the server is nearly full.
const EXTRA: usize = 200;
/// Connections opened at a time: fewer than the listen backlog (128).
const BATCH: usize = 100;
/// The header and body read timeouts: short, so the test sees them fire,
/// and long enough to hold every slow connection while it measures.
const TIMEOUT_SECS: u64 = 8;
/// A guard against hanging, not a timing assertion.
const GUARD: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Slowness {
    /// Connects and sends nothing.
    Silent,
    /// The first bytes of an HTTP/2 preface, then nothing.
    PartialPreface,
    /// Half an HTTP/1.1 request head, then nothing.
    PartialHead,
    /// An HTTP/1.1 request head one byte at a time, never finished.
    DribbledHead,
    /// A whole head declaring a body, then the body one byte at a time.
    DribbledBody,
}

impl Slowness {
    /// The kind of the `i`th slow connection: the first [`SLOW`] in turn
    /// never finish their head, the last [`DRIBBLING`] dribble a body.
    fn of(i: usize) -> Slowness {
        match i % 4 {
            _ if i >= SLOW => Slowness::DribbledBody,
            0 => Slowness::Silent,
            1 => Slowness::PartialPreface,
            2 => Slowness::PartialHead,
            _ => Slowness::DribbledHead,
        }
    }
}

#[derive(Default)]
struct Progress {
    opened: AtomicUsize,
    closed: AtomicUsize,
}

/// How a slow connection ended: what the server sent before closing it, and
/// when.
struct Ended {
    slowness: Slowness,
    answer: String,
    closed_after: Duration,
}

/// A new connection, and when it was opened (no later than the server
/// accepted it).
async fn connect(addr: &str) -> (TcpStream, Instant) {
    let opened = Instant::now();
    (TcpStream::connect(addr).await.expect("connects"), opened)
}

/// Plays `slowness` on a new connection until the server closes it, and
/// reports how that went. `progress` counts connections that sent their
/// first bytes, and connections closed.
async fn slow_client(connection: (TcpStream, Instant), slowness: Slowness, progress: Arc<Progress>) -> Ended {
    let (stream, opened) = connection;
    let (mut reader, mut writer) = stream.into_split();
    let first: &[u8] = match slowness {
        Slowness::Silent | Slowness::DribbledHead => b"",
        Slowness::PartialPreface => b"PRI * HTTP/2.0\r\n",
        Slowness::PartialHead => b"POST /slack/events HTTP/1.1\r\nHost: intake\r\n",
        Slowness::DribbledBody => {
            b"POST /slack/events HTTP/1.1\r\nHost: intake\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"
        }
    };
    let _ = writer.write_all(first).await;
    progress.opened.fetch_add(1, Relaxed);
    let dribble = async {
        let head = b"POST /slack/events HTTP/1.1\r\nHost: intake\r\nX-Padding: ";
        for i in 0.. {
            let byte = match slowness {
                Slowness::DribbledHead => head.get(i).copied().unwrap_or(b'a'),
                Slowness::DribbledBody => b' ',
                _ => break,
            };
            tokio::time::sleep(Duration::from_millis(500)).await;
            if writer.write_all(&[byte]).await.is_err() {
                break;
            }
        }
        // Hold the write side open until the server closes the connection.
        std::future::pending::<()>().await;
    };
    let mut seen = Vec::new();
    // A reset (the server closed while bytes were unread) is a close too.
    let read = tokio::select! {
        read = reader.read_to_end(&mut seen) => read.map(|_| ()),
        () = dribble => unreachable!("dribbling never ends by itself"),
    };
    if let Err(e) = read {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    progress.closed.fetch_add(1, Relaxed);
    Ended {
        slowness,
        answer: String::from_utf8_lossy(&seen).into_owned(),
        closed_after: opened.elapsed(),
    }
}

/// Returns once the server has accepted every connection opened before:
/// it accepts in order, so a `GET /healthz` on a new connection is
/// answered only after those. (Connections are opened in batches smaller
/// than the listen backlog, or the kernel would drop handshakes and the
/// order would not hold.)
async fn accepted_so_far(addr: &str) {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: intake\r\nConnection: close\r\n\r\n")
        .await
        .expect("sends");
    let mut seen = Vec::new();
    let read = tokio::time::timeout(GUARD, stream.read_to_end(&mut seen)).await;
    assert!(read.is_ok(), "the server answers a new connection");
    let seen = String::from_utf8_lossy(&seen);
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
}

/// This process's resident memory (the app runs in it), in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

/// The soft limit on open files: both ends of every connection are in
/// this process.
fn open_files_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("/proc/self/limits");
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok())
        .unwrap_or(u64::MAX)
}

async fn url_verification(app: &TestApp) -> Duration {
    let body = sample("events/url_verification.json");
    let expected: serde_json::Value = serde_json::from_slice(&body).expect("sample is JSON");
    let started = Instant::now();
    let response = app.post_signed("/slack/events", "application/json", &body).await;
    let took = started.elapsed();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.json()["challenge"], expected["challenge"]);
    took
}

#[tokio::test]
async fn two_thousand_slow_clients_neither_delay_slack_nor_hold_the_port() {
    let needed = 2 * (SLOW + DRIBBLING + EXTRA) as u64 + 500;
    assert!(
        open_files_limit() >= needed,
        "this test needs `ulimit -n` of at least {needed}: both ends of every connection are in this process"
    );
    let capacity = SLOW + DRIBBLING + ROOM;
    let (app, _slack, _db) = spawn_app_with(|config| {
        config.server.max_connections = capacity;
        config.server.header_timeout_secs = TIMEOUT_SECS;
        config.server.body_timeout_secs = TIMEOUT_SECS;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_string();
    url_verification(&app).await;
    let rss_before = rss_bytes();

    let progress = Arc::new(Progress::default());
    let opening = Instant::now();
    let mut slow = JoinSet::new();
    for batch in (0..SLOW + DRIBBLING).collect::<Vec<_>>().chunks(BATCH) {
        for &i in batch {
            slow.spawn(slow_client(connect(&addr).await, Slowness::of(i), progress.clone()));
        }
        accepted_so_far(&addr).await;
    }
    let opened_in = opening.elapsed();
    let all_sent_first_bytes = async {
        while progress.opened.load(Relaxed) < SLOW + DRIBBLING {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(GUARD, all_sent_first_bytes)
        .await
        .expect("every slow client sends its first bytes");
    let mut latencies = Vec::new();
    for _ in 0..5 {
        latencies.push(url_verification(&app).await);
    }
    let rss_held = rss_bytes();
    let held = SLOW + DRIBBLING - progress.closed.load(Relaxed);
    assert_eq!(
        held,
        SLOW + DRIBBLING,
        "every slow connection is still open while Slack is answered (opened in {opened_in:?})"
    );
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < Duration::from_secs(1),
        "url_verification took {latencies:?} with {held} slow clients"
    );
    let growth = rss_held.saturating_sub(rss_before);
    assert!(
        growth < 100 * 1024 * 1024,
        "memory grew by {} MiB for {held} slow clients",
        growth / (1024 * 1024)
    );

    // Nearly full: a new connection is held while there is room, and past
    // max_connections closed at once (not left hanging until a timeout).
    let mut extra = JoinSet::new();
    for _ in 0..EXTRA {
        extra.spawn(slow_client(connect(&addr).await, Slowness::PartialHead, Arc::default()));
    }
    let full_at = opening.elapsed();
    let extra = tokio::time::timeout(GUARD, extra.join_all())
        .await
        .expect("every connection past the limit is closed");
    let at_once = Duration::from_secs(TIMEOUT_SECS) / 2;
    let refused = extra.iter().filter(|e| e.closed_after < at_once).count();
    assert!(
        extra.iter().all(|e| e.answer.is_empty() || e.closed_after >= at_once),
        "refused connections get no answer"
    );
    assert!(
        refused >= EXTRA - ROOM,
        "past max_connections = {capacity}, new connections are closed at once: only {refused} of {EXTRA} were"
    );

    // The read timeouts close every slow connection.
    let deadline = tokio::time::Instant::now() + GUARD;
    let mut ended = Vec::new();
    while let Ok(Some(done)) = tokio::time::timeout_at(deadline, slow.join_next()).await {
        ended.push(done.expect("a slow client task"));
    }
    let mut still_open: BTreeMap<Slowness, usize> = BTreeMap::new();
    for i in 0..SLOW + DRIBBLING {
        *still_open.entry(Slowness::of(i)).or_default() += 1;
    }
    for e in &ended {
        *still_open.entry(e.slowness).or_default() -= 1;
    }
    still_open.retain(|_, open| *open > 0);
    assert!(
        still_open.is_empty(),
        "slow connections the server never closed: {still_open:?}"
    );
    let last_closed = ended.iter().map(|e| e.closed_after).max().unwrap_or_default();
    for e in &ended {
        if e.slowness == Slowness::DribbledBody {
            assert!(e.answer.starts_with("HTTP/1.1 408"), "{:?}: {}", e.slowness, e.answer);
        } else {
            assert!(
                e.answer.is_empty() || e.answer.starts_with("HTTP/1.1 408"),
                "{:?}: {}",
                e.slowness,
                e.answer
            );
        }
        assert!(
            e.closed_after >= Duration::from_secs(TIMEOUT_SECS),
            "{:?} closed after {:?}, before the timeout",
            e.slowness,
            e.closed_after
        );
    }
    url_verification(&app).await;
    println!(
        "slow clients: {held} held ({SLOW} unfinished heads, {DRIBBLING} dribbled bodies, opened in {:.1} s), url_verification answered in {:.1} ms (slowest of 5), RSS +{} MiB; past max_connections = {capacity}: {refused} of {EXTRA} new connections closed at once ({:.1} s in); all slow ones closed by the {TIMEOUT_SECS} s read timeouts within {:.1} s",
        opened_in.as_secs_f64(),
        slowest.as_secs_f64() * 1000.0,
        growth / (1024 * 1024),
        full_at.as_secs_f64(),
        last_closed.as_secs_f64()
    );
}

/// hyper's own header timeout starts once it knows the protocol; a client
/// that never sends enough to tell must be closed too, or a few hundred of
/// them would hold every slot of `server.max_connections` for good.
#[tokio::test]
async fn a_client_that_sends_nothing_or_half_a_preface_is_disconnected() {
    let (app, _slack, _db) = spawn_app_with(|config| config.server.header_timeout_secs = 1).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    for slowness in [Slowness::Silent, Slowness::PartialPreface] {
        let connection = connect(&addr).await;
        let ended = tokio::time::timeout(GUARD, slow_client(connection, slowness, Arc::default()))
            .await
            .unwrap_or_else(|_| panic!("{slowness:?}: the server never closed the connection"));
        assert_eq!(ended.answer, "", "{slowness:?}");
    }
}
