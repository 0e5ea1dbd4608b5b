//! A fake of Slack's Web API for integration tests: a small hyper server on
//! 127.0.0.1 (random port) that answers like Slack and records every call.
//!
//! Point the bot's Slack API base at [`FakeSlack::url`]. Parameters are
//! recorded uniformly whatever the wire form (JSON body, form body or GET
//! query string) and failures (429, 5xx, `ok:false`) can be injected per
//! method. Success bodies come from `samples/web-api/` where a
//! sample exists, patched with what the request asked for.
//!
//! A call is recorded when its request arrives, before the answer is sent:
//! [`FakeSlack::wait_for`] says Slack was called, not that the bot has
//! already processed the answer.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
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
}

struct Entry {
    call: Call,
    ok: bool,
}

#[derive(Default)]
struct State {
    log: Vec<Entry>,
    fail_next: HashMap<String, VecDeque<Failure>>,
    fail_always: HashMap<String, Failure>,
    latency: Duration,
    /// Source of unique, increasing message timestamps.
    seq: u64,
}

impl State {
    fn take_failure(&mut self, method: &str) -> Option<Failure> {
        let queued = self.fail_next.get_mut(method).and_then(VecDeque::pop_front);
        queued.or_else(|| self.fail_always.get(method).cloned())
    }

    fn ok_calls(&self, method: &str) -> Vec<Call> {
        self.log
            .iter()
            .filter(|e| e.ok && e.call.method == method)
            .map(|e| e.call.clone())
            .collect()
    }

    fn attempts(&self, method: &str) -> usize {
        self.log.iter().filter(|e| e.call.method == method).count()
    }

    fn describe(&self) -> String {
        if self.log.is_empty() {
            return "  (no calls)".to_owned();
        }
        let lines: Vec<String> = self
            .log
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

pub struct FakeSlack {
    state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
    addr: SocketAddr,
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Slack: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake Slack: local address");
        let state = Arc::new(Mutex::new(State::default()));
        let server = tokio::spawn(serve(listener, Arc::clone(&state)));
        FakeSlack { state, server, addr }
    }

    /// The API base, `http://127.0.0.1:PORT/api` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Every call, successful and failed, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().log.iter().map(|e| e.call.clone()).collect()
    }

    /// Calls to `method` that were answered `ok:true`.
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.lock().ok_calls(method)
    }

    /// All attempts at `method`, failed ones included.
    pub fn attempts_to(&self, method: &str) -> usize {
        self.lock().attempts(method)
    }

    /// The next `times` calls to `method` fail with `failure`, then it
    /// answers normally. Repeated calls queue up behind each other.
    pub fn fail_next(&self, method: &str, failure: Failure, times: usize) {
        let mut state = self.lock();
        let queue = state.fail_next.entry(method.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(failure, times));
    }

    /// Every call to `method` fails with `failure` until `clear_failures`
    /// (after any queued `fail_next` failures).
    pub fn fail_always(&self, method: &str, failure: Failure) {
        self.lock().fail_always.insert(method.to_owned(), failure);
    }

    pub fn clear_failures(&self) {
        let mut state = self.lock();
        state.fail_next.clear();
        state.fail_always.clear();
    }

    /// Delay every answer by `latency` (for benchmarks); zero by default.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Wait until at least `n` ok calls to `method` were recorded and return
    /// them. Panics after 20 s, listing every call seen.
    pub async fn wait_for(&self, method: &str, n: usize) -> Vec<Call> {
        let what = format!("{n} ok call(s) to {method}");
        self.wait_until(&what, |s| s.ok_calls(method).len() >= n).await;
        self.calls_to(method)
    }

    /// Wait until `attempts_to(method) >= n`. Panics after 20 s, listing
    /// every call seen.
    pub async fn wait_for_attempts(&self, method: &str, n: usize) {
        let what = format!("{n} attempt(s) at {method}");
        self.wait_until(&what, |s| s.attempts(method) >= n).await;
    }

    /// Stop the server and drop its open connections.
    pub fn stop(&self) {
        self.server.abort();
    }

    async fn wait_until(&self, what: &str, done: impl Fn(&State) -> bool) {
        let deadline = Instant::now() + WAIT_BOUND;
        loop {
            {
                let state = self.lock();
                if done(&state) {
                    return;
                }
                if Instant::now() >= deadline {
                    panic!(
                        "fake Slack: no {what} within {WAIT_BOUND:?}; calls seen:\n{}",
                        state.describe()
                    );
                }
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A test that panicked while holding the lock must not hide its own
/// failure behind a poisoned mutex in every later call.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Connections live in a `JoinSet` owned by this task, so aborting the task
/// closes them too.
async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&state), req));
            // A client hanging up mid-request is not the fake's concern.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let path = parts.uri.path();
    let method = path.strip_prefix("/api/").unwrap_or(path).to_owned();
    let content_type = header(&parts.headers, CONTENT_TYPE.as_str()).unwrap_or_default();
    let call = Call {
        params: params(parts.uri.query(), &content_type, &body),
        authorization: header(&parts.headers, AUTHORIZATION.as_str()),
        http_method: parts.method.to_string(),
        method,
    };

    let (response, latency) = {
        let mut state = lock(&state);
        let (response, ok) = match state.take_failure(&call.method) {
            Some(failure) => (failure_response(&failure), false),
            None => {
                state.seq += 1;
                let body = answer(&call.method, &call.params, state.seq);
                let ok = body["ok"] == Value::Bool(true);
                (json_response(StatusCode::OK, &body), ok)
            }
        };
        state.log.push(Entry { call, ok });
        (response, state.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    Ok(response)
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

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let content_type = hyper::header::HeaderValue::from_static(JSON_CONTENT_TYPE);
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

fn failure_response(failure: &Failure) -> Response<Full<Bytes>> {
    match failure {
        Failure::RateLimited { retry_after_secs } => {
            let body = json!({"ok": false, "error": "ratelimited"});
            let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, &body);
            response.headers_mut().insert(RETRY_AFTER, (*retry_after_secs).into());
            response
        }
        Failure::Status(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({"ok": false, "error": format!("fake_http_{}", status.as_u16())});
            json_response(status, &body)
        }
        Failure::SlackError(code) => json_response(StatusCode::OK, &json!({"ok": false, "error": code})),
    }
}

/// The success body Slack would send for `method` given `p`; `seq` makes
/// timestamps unique and increasing.
fn answer(method: &str, p: &Value, seq: u64) -> Value {
    let param = |key: &str| p.get(key).and_then(Value::as_str).unwrap_or_default();
    match method {
        "chat.postMessage" => {
            let ts = message_ts(seq);
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
        "chat.postEphemeral" => json!({"ok": true, "message_ts": message_ts(seq)}),
        "views.open" => view_answer(VIEWS_OPEN, p, None),
        "views.publish" => view_answer(VIEWS_PUBLISH, p, None),
        "views.update" => view_answer(VIEWS_UPDATE, p, p.get("view_id")),
        "conversations.open" => {
            let mut body = sample(CONVERSATIONS_OPEN);
            if let Some(user) = first_user(p.get("users")) {
                body["channel"]["id"] = Value::String(dm_channel(&user));
            }
            body
        }
        "users.info" => {
            let mut body = sample(USERS_INFO);
            if let Some(user) = p.get("user").filter(|u| u.is_string()) {
                body["user"]["id"] = user.clone();
            }
            body
        }
        "usergroups.users.list" => sample(USERGROUPS_USERS_LIST),
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

fn sample(text: &str) -> Value {
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
    let mut body = sample(sample_text);
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

/// `1732528810.000201`, `1732528810.000202`, …
fn message_ts(seq: u64) -> String {
    let micros = 200 + seq;
    let secs = 1_732_528_810 + micros / 1_000_000;
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
