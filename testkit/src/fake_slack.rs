//! A fake of Slack's Web API: a small hyper server on 127.0.0.1 (random
//! port) that answers like Slack. Point the bot's Slack API base at
//! [`FakeSlack::url`]. One fake, two modes:
//!
//! - [`Recording::On`] ([`FakeSlack::start`]), for tests: every call is
//!   recorded with its parameters, uniformly whatever the wire form (JSON
//!   body, form body or GET query string), and can be waited for.
//! - [`Recording::Off`] ([`FakeSlack::start_fast`]), for the load benchmark:
//!   no call log, and `views.*` are answered with the sample as is (the
//!   requested view is not echoed), so an answer costs little.
//!
//! In both modes calls are counted per method with atomics
//! ([`FakeSlack::counts`]), what `chat.postMessage` posted is kept track of
//! ([`FakeSlack::posts`]: duplicates, intake posts, receipts, the arrival
//! window), and failures (429, 5xx, `ok:false`) and latency can be injected
//! per method, or per method and channel (one DM recipient). Success bodies come from `samples/web-api/` where a sample
//! exists, patched with what the request asked for.
//!
//! A call is recorded when its request arrives, before the answer is sent:
//! [`FakeSlack::wait_for`] says Slack was called, not that the bot has
//! already processed the answer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::INTAKE_CHANNEL;

/// Upper bound on `wait_for*`: a guard against hanging, not a timing assertion.
const WAIT_BOUND: Duration = Duration::from_secs(20);
const POLL_EVERY: Duration = Duration::from_millis(20);
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

const VIEWS_OPEN: &str = include_str!("../samples/web-api/views.open.ok.json");
const VIEWS_UPDATE: &str = include_str!("../samples/web-api/views.update.ok.json");
const VIEWS_PUBLISH: &str = include_str!("../samples/web-api/views.publish.ok.json");
const CONVERSATIONS_OPEN: &str = include_str!("../samples/web-api/conversations.open.ok.json");
const USERS_INFO: &str = include_str!("../samples/web-api/users.info.ok.json");
const USERGROUPS_USERS_LIST: &str = include_str!("../samples/web-api/usergroups.users.list.ok.json");

/// Whether the fake keeps a log of every call and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// Every call is recorded: [`FakeSlack::calls`], `calls_to`, `wait_for`, …
    On,
    /// No call log (those stay empty); counters and post bookkeeping only.
    Off,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// Web API method, e.g. `chat.postMessage`.
    pub method: String,
    /// JSON body as sent, or form / query parameters as string values.
    pub params: Value,
    pub authorization: Option<String>,
    /// `GET` or `POST`.
    pub http_method: String,
}

impl Call {
    /// `params[key]` as a string: a JSON string as-is, any other value as
    /// JSON text; `None` when absent or null.
    pub fn str(&self, key: &str) -> Option<String> {
        match self.params.get(key)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

/// How an injected failure answers.
#[derive(Debug, Clone)]
pub enum Failure {
    /// HTTP 429 with `Retry-After`, body `{"ok":false,"error":"ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// This HTTP status with a small JSON body.
    Status(u16),
    /// HTTP 200 `{"ok":false,"error":"<code>"}`, e.g. `channel_not_found`.
    SlackError(String),
    /// The call takes effect (a post is posted) but the answer comes this
    /// late: past the bot's timeout, it never learns the outcome.
    AnswerLate(Duration),
}

/// Calls per Web API method, failed ones included, in both modes.
#[derive(Debug, Default)]
pub struct Counts {
    pub views_open: AtomicU64,
    pub post_message: AtomicU64,
    pub update: AtomicU64,
    pub ephemeral: AtomicU64,
    pub permalink: AtomicU64,
    /// Every other method.
    pub other: AtomicU64,
}

impl Counts {
    /// The counter `method` is counted in.
    pub fn of(&self, method: &str) -> &AtomicU64 {
        match method {
            "views.open" => &self.views_open,
            "chat.postMessage" => &self.post_message,
            "chat.update" => &self.update,
            "chat.postEphemeral" => &self.ephemeral,
            "chat.getPermalink" => &self.permalink,
            _ => &self.other,
        }
    }
}

/// What the fake has seen of successful `chat.postMessage` calls.
#[derive(Debug, Default)]
pub struct Posts {
    /// (channel, text, hash of thread and blocks) of every post.
    seen: HashSet<(String, String, u64)>,
    /// Posts identical to an earlier one (same channel, thread, text and
    /// blocks) since the last [`FakeSlack::reset_window`]. The same words
    /// in another thread, or on another day's digest, are no duplicate.
    pub duplicates: u64,
    keys: HashSet<String>,
    /// Posts whose metadata key (intake's outbox dedupe key, in
    /// `metadata.event_payload.key`) was posted before: the same message
    /// twice, whatever its text.
    pub duplicate_keys: u64,
    /// What each channel holds, oldest first, for `conversations.history`
    /// and `conversations.replies` (DMs under their `D…` id).
    history: HashMap<String, Vec<Stored>>,
    /// Posts to the intake channel ([`INTAKE_CHANNEL`]; one per new request).
    pub intake: u64,
    /// Receipt DMs (`Received #N …`).
    pub receipts: u64,
    /// The `ts` handed out for the first post to the intake channel.
    pub first_intake_ts: Option<String>,
    /// Posts since the last [`FakeSlack::reset_window`], first and last arrival.
    pub window_count: u64,
    pub window_first: Option<Instant>,
    pub window_last: Option<Instant>,
}

/// A message as history returns it.
#[derive(Debug, Clone)]
struct Stored {
    /// Who wrote it: `None` for the bot's own posts.
    user: Option<String>,
    ts: String,
    thread_ts: Option<String>,
    text: String,
    metadata: Option<Value>,
}

impl Posts {
    /// Keeps a successful post for history and counts a repeated key.
    fn store(&mut self, channel: &str, ts: &str, params: &Value) {
        let metadata = params.get("metadata").cloned().filter(|m| !m.is_null());
        if let Some(key) = metadata
            .as_ref()
            .and_then(|m| m.pointer("/event_payload/key"))
            .and_then(Value::as_str)
            && !self.keys.insert(key.to_owned())
        {
            self.duplicate_keys += 1;
        }
        let param = |key: &str| params.get(key).and_then(Value::as_str);
        self.history.entry(channel.to_owned()).or_default().push(Stored {
            user: None,
            ts: ts.to_owned(),
            thread_ts: param("thread_ts").map(str::to_owned),
            text: param("text").unwrap_or_default().to_owned(),
            metadata,
        });
    }

    /// `conversations.history` (`thread` = None: top-level messages, newest
    /// first) or `conversations.replies` (the thread's parent and replies,
    /// oldest first), honouring `oldest`, `limit`, `cursor` and
    /// `include_all_metadata` as Slack does.
    fn page(&self, p: &Value, thread: Option<&str>) -> Value {
        let param = |key: &str| p.get(key).and_then(Value::as_str).unwrap_or_default();
        let Some(messages) = self.history.get(param("channel")) else {
            return json!({"ok": false, "error": "channel_not_found"});
        };
        let oldest: f64 = param("oldest").parse().unwrap_or(0.0);
        let ts_of = |m: &Stored| m.ts.parse::<f64>().unwrap_or(0.0);
        let mut picked: Vec<&Stored> = match thread {
            Some(parent) => messages
                .iter()
                .filter(|m| m.ts == parent || m.thread_ts.as_deref() == Some(parent))
                .collect(),
            None => messages
                .iter()
                .filter(|m| m.thread_ts.is_none() || m.thread_ts.as_deref() == Some(m.ts.as_str()))
                .rev()
                .collect(),
        };
        let inclusive = param("inclusive") == "true";
        picked.retain(|m| {
            ts_of(m) > oldest || thread.is_some_and(|parent| m.ts == parent) || (inclusive && ts_of(m) == oldest)
        });
        if let Ok(latest) = param("latest").parse::<f64>() {
            picked.retain(|m| ts_of(m) < latest || (inclusive && ts_of(m) == latest));
        }
        let limit = param("limit").parse::<usize>().unwrap_or(100).clamp(1, 1000);
        let start = param("cursor")
            .strip_prefix("next:")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0usize);
        let with_metadata = param("include_all_metadata") == "true";
        let page: Vec<Value> = picked
            .iter()
            .skip(start)
            .take(limit)
            .map(|m| {
                let mut message = match &m.user {
                    Some(user) => json!({"type": "message", "user": user, "text": m.text, "ts": m.ts}),
                    None => bot_message(&m.text, Some(&m.ts)),
                };
                if let Some(thread_ts) = &m.thread_ts {
                    message["thread_ts"] = json!(thread_ts);
                }
                if let (true, Some(metadata)) = (with_metadata, &m.metadata) {
                    message["metadata"] = metadata.clone();
                }
                message
            })
            .collect();
        let more = start + limit < picked.len();
        let next = if more {
            format!("next:{}", start + limit)
        } else {
            String::new()
        };
        json!({
            "ok": true,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": next},
        })
    }

    fn note(&mut self, channel: &str, text: &str, rest: u64, ts: &str) {
        let now = Instant::now();
        self.window_count += 1;
        self.window_first.get_or_insert(now);
        self.window_last = Some(now);
        if channel == INTAKE_CHANNEL {
            self.intake += 1;
            self.first_intake_ts.get_or_insert_with(|| ts.to_owned());
        } else if text.starts_with("Received #") {
            self.receipts += 1;
        }
        if !self.seen.insert((channel.to_owned(), text.to_owned(), rest)) {
            self.duplicates += 1;
        }
    }
}

struct Entry {
    call: Call,
    ok: bool,
}

/// The call log and what to inject; behind one lock.
#[derive(Default)]
struct Log {
    entries: Vec<Entry>,
    fail_next: HashMap<String, VecDeque<Failure>>,
    fail_always: HashMap<String, Failure>,
    /// (method, channel) → failure: checked before the per-method rules.
    fail_channel: HashMap<(String, String), Failure>,
    latency: Duration,
}

impl Log {
    fn take_failure(&mut self, method: &str, channel: Option<&str>) -> Option<Failure> {
        if let Some(channel) = channel.filter(|_| !self.fail_channel.is_empty())
            && let Some(failure) = self.fail_channel.get(&(method.to_owned(), channel.to_owned()))
        {
            return Some(failure.clone());
        }
        let queued = self.fail_next.get_mut(method).and_then(VecDeque::pop_front);
        queued.or_else(|| self.fail_always.get(method).cloned())
    }

    fn ok_calls(&self, method: &str) -> Vec<Call> {
        self.entries
            .iter()
            .filter(|e| e.ok && e.call.method == method)
            .map(|e| e.call.clone())
            .collect()
    }

    fn attempts(&self, method: &str) -> usize {
        self.entries.iter().filter(|e| e.call.method == method).count()
    }

    fn describe(&self) -> String {
        if self.entries.is_empty() {
            return "  (no calls)".to_owned();
        }
        let lines: Vec<String> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let outcome = if e.ok { "ok" } else { "failed" };
                let c = &e.call;
                format!("  {i}: {} {} [{outcome}] {}", c.http_method, c.method, c.params)
            })
            .collect();
        lines.join("\n")
    }
}

struct Shared {
    recording: Recording,
    log: Mutex<Log>,
    /// Set once a failure or latency was configured; until then a fast fake
    /// never takes the log's lock.
    injecting: AtomicBool,
    counts: Counts,
    posts: Mutex<Posts>,
    /// Source of unique, increasing message timestamps.
    seq: AtomicU64,
    /// The seconds of the timestamps handed out (see [`FakeSlack::set_ts_base`]).
    ts_base: AtomicU64,
    /// What `apps.connections.open` hands out (see [`FakeSlack::set_socket_url`]).
    socket_url: Mutex<Option<String>>,
    /// Seeded faults for chaos tests ([`FakeSlack::set_chaos`]).
    chaos: crate::chaos::Hook,
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Log> {
        lock(&self.log)
    }

    fn posts(&self) -> MutexGuard<'_, Posts> {
        lock(&self.posts)
    }
}

/// A test that panicked while holding a lock must not hide its own failure
/// behind a poisoned mutex in every later call.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct FakeSlack {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    addr: SocketAddr,
}

impl FakeSlack {
    /// The fake for tests: every call recorded ([`Recording::On`]).
    pub async fn start() -> FakeSlack {
        FakeSlack::start_with(Recording::On).await
    }

    /// The fast fake for load: no call log ([`Recording::Off`]).
    pub async fn start_fast() -> FakeSlack {
        FakeSlack::start_with(Recording::Off).await
    }

    /// Hands out message timestamps from `secs` (unix seconds) on: by
    /// default from when the fake started.
    pub fn set_ts_base(&self, secs: u64) {
        self.shared.ts_base.store(secs, Relaxed);
    }

    /// `apps.connections.open` answers with `url` (a `FakeSocket`'s) plus a
    /// fresh `?ticket=`; until set it refuses, as for an app without Socket Mode.
    pub fn set_socket_url(&self, url: &str) {
        *lock(&self.shared.socket_url) = Some(url.to_owned());
    }

    /// Binds 127.0.0.1:0 and serves until dropped or [`FakeSlack::stop`]ped.
    pub async fn start_with(recording: Recording) -> FakeSlack {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Slack: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake Slack: local address");
        let shared = Arc::new(Shared {
            recording,
            log: Mutex::default(),
            injecting: AtomicBool::new(false),
            counts: Counts::default(),
            posts: Mutex::default(),
            seq: AtomicU64::new(0),
            ts_base: AtomicU64::new(now_secs()),
            socket_url: Mutex::default(),
            chaos: crate::chaos::Hook::default(),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&shared)));
        FakeSlack { shared, server, addr }
    }

    /// The API base, `http://127.0.0.1:PORT/api` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The API base with a trailing slash, as intake's `slack.api_url` takes it.
    pub fn api_url(&self) -> String {
        format!("{}/", self.url())
    }

    /// Every call, successful and failed, in arrival order (none when not
    /// recording).
    pub fn calls(&self) -> Vec<Call> {
        self.shared.log().entries.iter().map(|e| e.call.clone()).collect()
    }

    /// The `ts` of the first post to the intake channel: request #1's card
    /// in most tests.
    pub fn first_card_ts(&self) -> String {
        self.posts()
            .first_intake_ts
            .clone()
            .expect("fake Slack: no card was posted")
    }

    /// A person's message in `channel` (in the thread `thread_ts`, if
    /// given), for history to return; `ts` as Slack would give it.
    pub fn add_message(&self, channel: &str, user: &str, text: &str, ts: &str, thread_ts: Option<&str>) {
        self.posts()
            .history
            .entry(channel.to_owned())
            .or_default()
            .push(Stored {
                user: Some(user.to_owned()),
                ts: ts.to_owned(),
                thread_ts: thread_ts.map(str::to_owned),
                text: text.to_owned(),
                metadata: None,
            });
    }

    /// The `chat.postMessage` calls to `channel` (a user id for DMs).
    pub fn posts_to(&self, channel: &str) -> Vec<Call> {
        self.calls_to("chat.postMessage")
            .into_iter()
            .filter(|c| c.str("channel").as_deref() == Some(channel))
            .collect()
    }

    /// How many messages `channel` holds (a user id: their DM), as
    /// `conversations.history` sees them, thread replies included.
    pub fn messages_in(&self, channel: &str) -> usize {
        let channel = dm_channel(channel);
        self.posts().history.get(&channel).map_or(0, Vec::len)
    }

    /// Calls to `method` that were answered `ok:true`.
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.shared.log().ok_calls(method)
    }

    /// All attempts at `method`, failed ones included.
    pub fn attempts_to(&self, method: &str) -> usize {
        self.shared.log().attempts(method)
    }

    /// Calls per method, counted in both modes.
    pub fn counts(&self) -> &Counts {
        &self.shared.counts
    }

    /// What successful `chat.postMessage` calls posted (hold the guard briefly:
    /// every post waits for it).
    pub fn posts(&self) -> MutexGuard<'_, Posts> {
        self.shared.posts()
    }

    /// Starts a new arrival window for a drain-rate measurement, and a new
    /// duplicate check (a second database numbers its requests from #1
    /// again, so its posts would look like the first one's).
    pub fn reset_window(&self) {
        let mut posts = self.posts();
        posts.seen.clear();
        posts.keys.clear();
        posts.window_count = 0;
        posts.window_first = None;
        posts.window_last = None;
    }

    /// The next `times` calls to `method` fail with `failure`, then it
    /// answers normally. Repeated calls queue up behind each other.
    pub fn fail_next(&self, method: &str, failure: Failure, times: usize) {
        let mut log = self.inject();
        let queue = log.fail_next.entry(method.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(failure, times));
    }

    /// Every call to `method` fails with `failure` until `clear_failures`
    /// (after any queued `fail_next` failures).
    pub fn fail_always(&self, method: &str, failure: Failure) {
        self.inject().fail_always.insert(method.to_owned(), failure);
    }

    /// Every call to `method` whose `channel` parameter is `channel` (a
    /// user id for a DM) fails with `failure` until `clear_failures`,
    /// before any per-method failure: one recipient who cannot be reached.
    pub fn fail_channel(&self, method: &str, channel: &str, failure: Failure) {
        self.inject()
            .fail_channel
            .insert((method.to_owned(), channel.to_owned()), failure);
    }

    pub fn clear_failures(&self) {
        let mut log = self.shared.log();
        log.fail_next.clear();
        log.fail_always.clear();
        log.fail_channel.clear();
    }

    /// Injects `chaos`'s seeded faults into every call from now on; the
    /// returned handle counts them and can pause them.
    pub fn set_chaos(&self, chaos: crate::chaos::Chaos) -> Arc<crate::chaos::Chaos> {
        self.shared.chaos.set(chaos)
    }

    /// Delay every answer by `latency` (for benchmarks); zero by default.
    pub fn set_latency(&self, latency: Duration) {
        self.inject().latency = latency;
    }

    /// Wait until at least `n` ok calls to `method` were recorded and return
    /// them. Panics after 20 s, listing every call seen.
    pub async fn wait_for(&self, method: &str, n: usize) -> Vec<Call> {
        let what = format!("{n} ok call(s) to {method}");
        self.wait_until(&what, |log| log.ok_calls(method).len() >= n).await;
        self.calls_to(method)
    }

    /// Wait until `attempts_to(method) >= n`. Panics after 20 s, listing
    /// every call seen.
    pub async fn wait_for_attempts(&self, method: &str, n: usize) {
        let what = format!("{n} attempt(s) at {method}");
        self.wait_until(&what, |log| log.attempts(method) >= n).await;
    }

    /// Stop the server and drop its open connections.
    pub fn stop(&self) {
        self.server.abort();
    }

    fn inject(&self) -> MutexGuard<'_, Log> {
        let log = self.shared.log();
        self.shared.injecting.store(true, Relaxed);
        log
    }

    async fn wait_until(&self, what: &str, done: impl Fn(&Log) -> bool) {
        assert_eq!(
            self.shared.recording,
            Recording::On,
            "fake Slack: waiting for calls needs Recording::On"
        );
        let deadline = Instant::now() + WAIT_BOUND;
        loop {
            {
                let log = self.shared.log();
                if done(&log) {
                    return;
                }
                if Instant::now() >= deadline {
                    panic!(
                        "fake Slack: no {what} within {WAIT_BOUND:?}; calls seen:\n{}",
                        log.describe()
                    );
                }
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Connections live in a `JoinSet` owned by this task, so aborting the task
/// closes them too.
async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors, usually: wait rather than spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        while connections.try_join_next().is_some() {}
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&shared), req));
            // A client hanging up mid-request is not the fake's concern.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, crate::chaos::Reset> {
    let fault = shared.chaos.pick(req.uri().path());
    if let Some(answer) = crate::chaos::before(fault.as_ref()) {
        return answer;
    }
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let (response, latency) = respond(&shared, &parts, &body);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    crate::chaos::after(fault, response).await
}

/// Counts, answers (or fails) and records one call; returns the answer and
/// how long to wait before sending it.
fn respond(shared: &Shared, parts: &hyper::http::request::Parts, body: &[u8]) -> (Response<Full<Bytes>>, Duration) {
    let path = parts.uri.path();
    let method = path.strip_prefix("/api/").unwrap_or(path);
    shared.counts.of(method).fetch_add(1, Relaxed);
    let recording = shared.recording == Recording::On;
    // Fast: a view is answered with its sample, the request left unread.
    let as_is = match method {
        _ if recording => None,
        "views.open" => Some(VIEWS_OPEN),
        "views.update" => Some(VIEWS_UPDATE),
        "views.publish" => Some(VIEWS_PUBLISH),
        _ => None,
    };
    let params = match as_is {
        Some(_) => Value::Null,
        None => {
            let content_type = header(&parts.headers, CONTENT_TYPE.as_str()).unwrap_or_default();
            params(parts.uri.query(), &content_type, body)
        }
    };

    // Recording takes the failure and logs the call in one critical section.
    let mut log = (recording || shared.injecting.load(Relaxed)).then(|| shared.log());
    let channel = params.get("channel").and_then(Value::as_str);
    let mut failure = log.as_mut().and_then(|log| log.take_failure(method, channel));
    let mut latency = log.as_ref().map_or(Duration::ZERO, |log| log.latency);
    if let Some(Failure::AnswerLate(late)) = failure {
        latency = latency.max(late);
        failure = None;
    }
    let (response, ok) = match failure {
        Some(failure) => (failure_response(&failure), false),
        None => {
            // Only posts take a message timestamp.
            let posts = matches!(method, "chat.postMessage" | "chat.postEphemeral");
            let seq = if posts { shared.seq.fetch_add(1, Relaxed) + 1 } else { 0 };
            match as_is {
                Some(sample) => (
                    json_response(StatusCode::OK, Bytes::from_static(sample.as_bytes())),
                    true,
                ),
                None => {
                    let reply = match method {
                        "conversations.history" => shared.posts().page(&params, None),
                        "conversations.replies" => {
                            let thread = params.get("ts").and_then(Value::as_str).unwrap_or_default();
                            shared.posts().page(&params, Some(thread))
                        }
                        "apps.connections.open" => match lock(&shared.socket_url).as_deref() {
                            Some(url) => json!({"ok": true, "url": format!("{url}?ticket={seq}")}),
                            None => json!({"ok": false, "error": "socket_mode_not_enabled"}),
                        },
                        _ => answer(method, &params, seq, shared.ts_base.load(Relaxed)),
                    };
                    let ok = reply["ok"] == Value::Bool(true);
                    if ok && method == "chat.postMessage" {
                        let param = |key: &str| params.get(key).and_then(Value::as_str).unwrap_or_default();
                        let ts = reply["ts"].as_str().unwrap_or_default();
                        let mut rest = DefaultHasher::new();
                        param("thread_ts").hash(&mut rest);
                        params.get("blocks").map(Value::to_string).hash(&mut rest);
                        let mut posts = shared.posts();
                        posts.note(param("channel"), param("text"), rest.finish(), ts);
                        posts.store(reply["channel"].as_str().unwrap_or_default(), ts, &params);
                    }
                    (json_response(StatusCode::OK, Bytes::from(reply.to_string())), ok)
                }
            }
        }
    };
    if let Some(log) = log.as_mut().filter(|_| recording) {
        let call = Call {
            method: method.to_owned(),
            params,
            authorization: header(&parts.headers, AUTHORIZATION.as_str()),
            http_method: parts.method.to_string(),
        };
        log.entries.push(Entry { call, ok });
    }
    (response, latency)
}

fn header(headers: &hyper::HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    Some(value.to_owned())
}

/// Query parameters, overlaid by the body's: a JSON object as sent, or form
/// fields as strings. Any other body is kept under `_raw`.
fn params(query: Option<&str>, content_type: &str, body: &[u8]) -> Value {
    let mut params = Map::new();
    if let Some(query) = query {
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            params.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    if body.is_empty() {
        return Value::Object(params);
    }
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => params.extend(fields),
            Ok(other) => {
                params.insert("_raw".to_owned(), other);
            }
            Err(_) => {
                let raw = String::from_utf8_lossy(body).into_owned();
                params.insert("_raw".to_owned(), Value::String(raw));
            }
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in url::form_urlencoded::parse(body) {
            params.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    } else {
        let raw = String::from_utf8_lossy(body).into_owned();
        params.insert("_raw".to_owned(), Value::String(raw));
    }
    Value::Object(params)
}

fn json_response(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let content_type = hyper::header::HeaderValue::from_static(JSON_CONTENT_TYPE);
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

pub(crate) fn failure_response(failure: &Failure) -> Response<Full<Bytes>> {
    match failure {
        Failure::RateLimited { retry_after_secs } => {
            let body = json!({"ok": false, "error": "ratelimited"});
            let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, Bytes::from(body.to_string()));
            response.headers_mut().insert(RETRY_AFTER, (*retry_after_secs).into());
            response
        }
        Failure::Status(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({"ok": false, "error": format!("fake_http_{}", status.as_u16())});
            json_response(status, Bytes::from(body.to_string()))
        }
        Failure::SlackError(code) => {
            let body = json!({"ok": false, "error": code});
            json_response(StatusCode::OK, Bytes::from(body.to_string()))
        }
        Failure::AnswerLate(_) => unreachable!("a late answer is answered normally"),
    }
}

/// The success body Slack would send for `method` given `p`; `seq` makes
/// timestamps unique and increasing.
fn answer(method: &str, p: &Value, seq: u64, ts_base: u64) -> Value {
    let param = |key: &str| p.get(key).and_then(Value::as_str).unwrap_or_default();
    match method {
        "chat.postMessage" => {
            let ts = message_ts(ts_base, seq);
            json!({
                "ok": true,
                "channel": dm_channel(param("channel")),
                "ts": ts,
                "message": bot_message(param("text"), Some(&ts)),
            })
        }
        "chat.update" => json!({
            "ok": true,
            "channel": param("channel"),
            "ts": param("ts"),
            "text": param("text"),
            "message": bot_message(param("text"), None),
        }),
        "chat.getPermalink" => {
            let channel = param("channel");
            let ts = param("message_ts").replace('.', "");
            let permalink = format!("https://acme-eng.slack.com/archives/{channel}/p{ts}");
            json!({"ok": true, "channel": channel, "permalink": permalink})
        }
        "chat.postEphemeral" => json!({"ok": true, "message_ts": message_ts(ts_base, seq)}),
        "views.open" => view_answer(VIEWS_OPEN, p, None),
        "views.publish" => view_answer(VIEWS_PUBLISH, p, None),
        "views.update" => view_answer(VIEWS_UPDATE, p, p.get("view_id")),
        "conversations.open" => {
            let mut body = parse(CONVERSATIONS_OPEN);
            if let Some(user) = first_user(p.get("users")) {
                body["channel"]["id"] = Value::String(dm_channel(&user));
            }
            body
        }
        "users.info" => {
            let mut body = parse(USERS_INFO);
            if let Some(user) = p.get("user").filter(|u| u.is_string()) {
                body["user"]["id"] = user.clone();
            }
            body
        }
        "usergroups.users.list" => parse(USERGROUPS_USERS_LIST),
        "auth.test" => json!({
            "ok": true,
            "url": "https://acme-eng.slack.com/",
            "team": "Acme Eng",
            "user": "intake",
            "team_id": "T0A1B2C3D",
            "user_id": "U0INTAKE01",
            "bot_id": "B0INTAKE01",
        }),
        _ => json!({"ok": false, "error": "unknown_method"}),
    }
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("fake Slack: sample is valid JSON")
}

/// The sample view with the requested view's own fields put in, as Slack
/// echoes the view it stored.
fn view_answer(sample_text: &str, p: &Value, view_id: Option<&Value>) -> Value {
    const ECHOED: [&str; 10] = [
        "type",
        "blocks",
        "callback_id",
        "private_metadata",
        "external_id",
        "title",
        "submit",
        "close",
        "clear_on_close",
        "notify_on_close",
    ];
    let mut body = parse(sample_text);
    // A form-encoded request carries the view as a JSON string.
    let requested = match p.get("view") {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
        Some(view) => view.clone(),
        None => Value::Null,
    };
    if let (Some(view), Some(requested)) = (body["view"].as_object_mut(), requested.as_object()) {
        for key in ECHOED {
            if let Some(value) = requested.get(key) {
                view.insert(key.to_owned(), value.clone());
            }
        }
        if let Some(id) = view_id.filter(|id| id.is_string()) {
            view.insert("id".to_owned(), id.clone());
        }
    }
    body
}

fn bot_message(text: &str, ts: Option<&str>) -> Value {
    let mut message = json!({
        "type": "message",
        "user": "U0INTAKE01",
        "bot_id": "B0INTAKE01",
        "text": text,
        "team": "T0A1B2C3D",
    });
    if let Some(ts) = ts {
        message["ts"] = Value::String(ts.to_owned());
    }
    message
}

/// The seconds of the message timestamps the fake hands out unless told
/// otherwise: when it started, as Slack's are the time of posting (intake
/// looks for a lost post among messages since its row was written).
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `<base>.000201`, `<base>.000202`, … (from `base` seconds)
fn message_ts(base: u64, seq: u64) -> String {
    let micros = 200 + seq;
    let secs = base + micros / 1_000_000;
    format!("{secs}.{:06}", micros % 1_000_000)
}

/// Slack answers a post to a user id with the id of the DM channel.
fn dm_channel(channel: &str) -> String {
    match channel.strip_prefix('U').or_else(|| channel.strip_prefix('W')) {
        Some(rest) => format!("D{rest}"),
        None => channel.to_owned(),
    }
}

/// `users` is a JSON array from slack-morphism, a comma list in a form.
fn first_user(users: Option<&Value>) -> Option<String> {
    match users? {
        Value::Array(items) => items.first()?.as_str().map(str::to_owned),
        Value::String(list) => list.split(',').next().map(str::to_owned),
        _ => None,
    }
}
