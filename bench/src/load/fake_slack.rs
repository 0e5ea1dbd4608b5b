//! A fast fake of Slack's Web API: answers the methods intake calls with
//! bodies slack-morphism accepts, counts calls per method with atomics and
//! keeps just enough about `chat.postMessage` to check the outbox: every
//! (channel, text) seen, duplicates, and the arrival window of the posts.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response};
use serde_json::{Value, json};

use crate::server;

/// What the fake has seen of `chat.postMessage`.
#[derive(Default)]
pub struct Posts {
    seen: HashSet<(String, String)>,
    pub duplicates: u64,
    /// Posts to the intake channel (one per new request).
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

/// Calls per Web API method.
#[derive(Default)]
pub struct Counts {
    pub views_open: AtomicU64,
    pub post_message: AtomicU64,
    pub update: AtomicU64,
    pub ephemeral: AtomicU64,
    pub permalink: AtomicU64,
    pub other: AtomicU64,
}

struct State {
    counts: Counts,
    posts: Mutex<Posts>,
    seq: AtomicU64,
    intake_channel: String,
    views_open: Bytes,
}

pub struct FakeSlack {
    addr: SocketAddr,
    state: Arc<State>,
}

impl FakeSlack {
    /// Binds 127.0.0.1:0 and serves until the process ends.
    pub async fn start(views_open_sample: Vec<u8>, intake_channel: &str) -> FakeSlack {
        let state = Arc::new(State {
            counts: Counts::default(),
            posts: Mutex::new(Posts::default()),
            seq: AtomicU64::new(0),
            intake_channel: intake_channel.to_owned(),
            views_open: Bytes::from(views_open_sample),
        });
        let handler_state = Arc::clone(&state);
        let addr = server::spawn("fake Slack", move |request| handle(Arc::clone(&handler_state), request)).await;
        FakeSlack { addr, state }
    }

    /// The API base intake is pointed at, with a trailing slash.
    pub fn api_url(&self) -> String {
        format!("http://{}/api/", self.addr)
    }

    pub fn counts(&self) -> &Counts {
        &self.state.counts
    }

    pub fn posts(&self) -> MutexGuard<'_, Posts> {
        lock(&self.state.posts)
    }

    /// Starts a new arrival window for the drain-rate measurement, and a
    /// new duplicate check (a second database numbers its requests from #1
    /// again, so its posts would look like the first one's).
    pub fn reset_window(&self) {
        let mut posts = self.posts();
        posts.seen.clear();
        posts.window_count = 0;
        posts.window_first = None;
        posts.window_last = None;
    }
}

fn lock(posts: &Mutex<Posts>) -> MutexGuard<'_, Posts> {
    posts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let method = parts.uri.path().strip_prefix("/api/").unwrap_or(parts.uri.path());
    let counts = &state.counts;
    let response = match method {
        "views.open" => {
            counts.views_open.fetch_add(1, Relaxed);
            return Ok(json_response(state.views_open.clone()));
        }
        "chat.postMessage" => {
            counts.post_message.fetch_add(1, Relaxed);
            let p = params(parts.uri.query(), &parts.headers, &body);
            post_message(&state, &p)
        }
        "chat.update" => {
            counts.update.fetch_add(1, Relaxed);
            let p = params(parts.uri.query(), &parts.headers, &body);
            let (channel, ts) = (param(&p, "channel"), param(&p, "ts"));
            json!({"ok": true, "channel": channel, "ts": ts, "text": "", "message": bot_message(None)})
        }
        "chat.postEphemeral" => {
            counts.ephemeral.fetch_add(1, Relaxed);
            json!({"ok": true, "message_ts": message_ts(state.seq.fetch_add(1, Relaxed))})
        }
        "chat.getPermalink" => {
            counts.permalink.fetch_add(1, Relaxed);
            let p = params(parts.uri.query(), &parts.headers, &body);
            let channel = param(&p, "channel");
            let link = format!(
                "https://acme-eng.slack.com/archives/{channel}/p{}",
                param(&p, "message_ts").replace('.', "")
            );
            json!({"ok": true, "channel": channel, "permalink": link})
        }
        _ => {
            counts.other.fetch_add(1, Relaxed);
            json!({"ok": false, "error": "unknown_method"})
        }
    };
    Ok(json_response(Bytes::from(response.to_string())))
}

fn post_message(state: &State, p: &HashMap<String, String>) -> Value {
    let ts = message_ts(state.seq.fetch_add(1, Relaxed));
    let (channel, text) = (param(p, "channel"), param(p, "text"));
    {
        let mut posts = lock(&state.posts);
        let now = Instant::now();
        posts.window_count += 1;
        posts.window_first.get_or_insert(now);
        posts.window_last = Some(now);
        if channel == state.intake_channel {
            posts.intake += 1;
            posts.first_intake_ts.get_or_insert_with(|| ts.clone());
        } else if text.starts_with("Received #") {
            posts.receipts += 1;
        }
        if !posts.seen.insert((channel.to_owned(), text.to_owned())) {
            posts.duplicates += 1;
        }
    }
    json!({"ok": true, "channel": dm_channel(channel), "ts": ts, "message": bot_message(Some(&ts))})
}

fn param<'a>(p: &'a HashMap<String, String>, key: &str) -> &'a str {
    p.get(key).map_or("", String::as_str)
}

/// Query string, then the body (JSON object or form) on top; string values.
fn params(query: Option<&str>, headers: &hyper::HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let mut params: HashMap<String, String> = query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/json") {
        if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) {
            for (key, value) in fields {
                let value = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                params.insert(key, value);
            }
        }
    } else if let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        params.extend(pairs);
    }
    params
}

fn json_response(body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    let content_type = HeaderValue::from_static("application/json; charset=utf-8");
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

fn bot_message(ts: Option<&str>) -> Value {
    let mut message = json!({"type": "message", "user": "U0INTAKE01", "bot_id": "B0INTAKE01", "text": ""});
    if let Some(ts) = ts {
        message["ts"] = json!(ts);
    }
    message
}

/// `1732528810.000200`, `1732528810.000201`, … unique and increasing.
fn message_ts(seq: u64) -> String {
    let micros = 200 + seq;
    format!("{}.{:06}", 1_732_528_810 + micros / 1_000_000, micros % 1_000_000)
}

/// Slack answers a post to a user id with the id of the DM channel.
fn dm_channel(channel: &str) -> String {
    match channel.strip_prefix('U').or_else(|| channel.strip_prefix('W')) {
        Some(rest) => format!("D{rest}"),
        None => channel.to_owned(),
    }
}
