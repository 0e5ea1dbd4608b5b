//! A fake Jira Cloud and GitHub on one 127.0.0.1 port, speaking their
//! REST shapes (from the public API docs): Jira's `POST /rest/api/3/issue`
//! (201 `{"id","key","self"}`) and `GET /rest/api/3/search/jql` (by label),
//! GitHub's `POST /repos/{owner}/{repo}/issues` (201 with `number` and
//! `html_url`) and `GET /repos/{owner}/{repo}/issues?labels=…&state=all`.
//! It keeps the issues it created, records every call, and injects the
//! trackers' real failures: 4xx with their error bodies, 5xx, 429 with
//! `Retry-After`, and an answer that comes after the issue was created but
//! later than the client waits.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A failure the next create (or search) answers with.
#[derive(Debug, Clone)]
pub enum TrackerFailure {
    /// This status with this JSON body (a refusal: bad project, expired token…).
    Status(u16, Value),
    /// 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// The issue is created, but the answer comes this late.
    AnswerLate(Duration),
}

/// One call as the fake saw it.
#[derive(Debug, Clone)]
pub struct TrackerCall {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub body: Value,
}

/// An issue the fake holds.
#[derive(Debug, Clone)]
pub struct FakeIssue {
    /// `PROJ-7`, or the GitHub number as text.
    pub key: String,
    pub labels: Vec<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    calls: Vec<TrackerCall>,
    issues: Vec<FakeIssue>,
    failures: VecDeque<(String, TrackerFailure)>,
}

pub struct FakeTracker {
    state: Arc<Mutex<State>>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for FakeTracker {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeTracker {
    pub async fn start() -> FakeTracker {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("fake tracker: bind");
        let addr = listener.local_addr().expect("fake tracker: address");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&shared), req));
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeTracker { state, addr, server }
    }

    /// `http://127.0.0.1:<port>`: Jira's `base_url` and GitHub's `api_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next call to `method` (`POST` creates, `GET` searches) fails so.
    pub fn fail_next(&self, method: &str, failure: TrackerFailure) {
        self.state().failures.push_back((method.to_owned(), failure));
    }

    pub fn calls(&self) -> Vec<TrackerCall> {
        self.state().calls.clone()
    }

    /// Creates attempted (failed ones included).
    pub fn creates(&self) -> usize {
        self.state().calls.iter().filter(|c| c.method == "POST").count()
    }

    pub fn issues(&self) -> Vec<FakeIssue> {
        self.state().issues.clone()
    }
}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let call = TrackerCall {
        method: parts.method.to_string(),
        target: parts.uri.to_string(),
        authorization: header("authorization"),
        user_agent: header("user-agent"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let (answer, late) = {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        state.calls.push(call.clone());
        let failure = match state.failures.front() {
            Some((method, _)) if *method == call.method => state.failures.pop_front().map(|(_, f)| f),
            _ => None,
        };
        match failure {
            Some(TrackerFailure::Status(status, body)) => (reply(status, &body, None), None),
            Some(TrackerFailure::RateLimited { retry_after_secs }) => (
                reply(
                    429,
                    &json!({"message": "API rate limit exceeded"}),
                    Some(retry_after_secs),
                ),
                None,
            ),
            Some(TrackerFailure::AnswerLate(late)) => (answer(&mut state, &call), Some(late)),
            None => (answer(&mut state, &call), None),
        }
    };
    if let Some(late) = late {
        tokio::time::sleep(late).await;
    }
    Ok(answer)
}

fn reply(status: u16, body: &Value, retry_after: Option<u64>) -> Response<Full<Bytes>> {
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    if let Some(secs) = retry_after {
        response = response.header("retry-after", secs.to_string());
    }
    response
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a response")
}

/// The answer a working tracker gives.
fn answer(state: &mut State, call: &TrackerCall) -> Response<Full<Bytes>> {
    let url = url::Url::parse(&format!("http://fake{}", call.target)).expect("a target");
    let path: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let query = |key: &str| url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned());
    let labels_of = |body: &Value, pointer: &str| -> Vec<String> {
        body.pointer(pointer)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    match (call.method.as_str(), path.as_slice()) {
        ("POST", ["rest", "api", "3", "issue"]) => {
            let project = call
                .body
                .pointer("/fields/project/key")
                .and_then(Value::as_str)
                .unwrap_or("PROJ");
            let key = format!("{project}-{}", state.issues.len() + 1);
            state.issues.push(FakeIssue {
                key: key.clone(),
                labels: labels_of(&call.body, "/fields/labels"),
                body: call.body.clone(),
            });
            let id = 10_000 + state.issues.len();
            reply(
                201,
                &json!({"id": id.to_string(), "key": key, "self": format!("https://fake/rest/api/3/issue/{id}")}),
                None,
            )
        }
        ("GET", ["rest", "api", "3", "search", "jql"]) => {
            let jql = query("jql").unwrap_or_default();
            let issues: Vec<Value> = state
                .issues
                .iter()
                .filter(|i| i.labels.iter().any(|l| jql.contains(&format!("labels = \"{l}\""))))
                .map(|i| json!({"id": "1", "key": i.key}))
                .collect();
            reply(200, &json!({"issues": issues, "isLast": true}), None)
        }
        ("POST", ["repos", owner, repo, "issues"]) => {
            let number = state.issues.len() + 1;
            state.issues.push(FakeIssue {
                key: number.to_string(),
                labels: labels_of(&call.body, "/labels"),
                body: call.body.clone(),
            });
            reply(201, &github_issue(owner, repo, number), None)
        }
        ("GET", ["repos", owner, repo, "issues"]) => {
            let label = query("labels").unwrap_or_default();
            let found: Vec<Value> = state
                .issues
                .iter()
                .filter(|i| i.labels.contains(&label))
                .map(|i| github_issue(owner, repo, i.key.parse().unwrap_or(0)))
                .collect();
            reply(200, &Value::Array(found), None)
        }
        _ => reply(404, &json!({"message": "Not Found"}), None),
    }
}

fn github_issue(owner: &str, repo: &str, number: usize) -> Value {
    json!({
        "number": number,
        "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}"),
        "state": "open",
        "title": "",
    })
}

/// Jira at `tracker`, project `PROJ`, as an operator would configure it.
pub fn configure_jira(config: &mut intake::config::file::RawConfig, tracker: &FakeTracker) {
    let jira = &mut config.tracker.jira;
    jira.base_url = tracker.url();
    jira.email = "pm@acme.example".into();
    jira.project_key = "PROJ".into();
    jira.api_token = secrecy::SecretString::from(JIRA_TOKEN);
}

/// GitHub at `tracker`, repository `acme/app`.
pub fn configure_github(config: &mut intake::config::file::RawConfig, tracker: &FakeTracker) {
    let github = &mut config.tracker.github;
    github.api_url = tracker.url();
    github.repo = "acme/app".into();
    github.token = secrecy::SecretString::from(GITHUB_TOKEN);
}

pub const JIRA_TOKEN: &str = "jira-api-token";
pub const GITHUB_TOKEN: &str = "ghp_test_token";
