//! intake started in-process against a fake Slack and a test database, and
//! talked to exactly as Slack does (signed requests).

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use intake::config::{RawConfig, Settings, load_raw};
pub use intake::startup::Parts;
use intake::startup::{App, Running};
use serde_json::{Value, json};

use crate::bodies::{Form, click_body, command_body, command_body_from, command_body_in, step_body};
use crate::{
    BOT_TOKEN, FakeSlack, INTAKE_CHANNEL, ONCALL_CHANNEL, ONCALL_GROUP, SIGNING_SECRET, SUBMITTER, TRIAGER, TRIAGER_2,
    TestDb, sample, signing,
};

/// The configuration every test starts from: fake Slack, test channels,
/// fast outbox retries, a random port.
pub fn test_config(db: &TestDb, slack: &FakeSlack) -> RawConfig {
    let env: HashMap<String, String> = [
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_string()),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_string()),
        ("INTAKE__SLACK__API_URL", format!("{}/", slack.url())),
        ("INTAKE__DATABASE__URL", db.url.clone()),
        ("INTAKE__SERVER__BIND", "127.0.0.1:0".to_string()),
        ("INTAKE__CHANNELS__INTAKE", INTAKE_CHANNEL.to_string()),
        ("INTAKE__CHANNELS__ONCALL", ONCALL_CHANNEL.to_string()),
        ("INTAKE__ONCALL__USERGROUP", ONCALL_GROUP.to_string()),
        ("INTAKE__OUTBOX__POLL_INTERVAL_MS", "20".to_string()),
        ("INTAKE__OUTBOX__RETRY_BASE_MS", "20".to_string()),
        // Paced, but past what a test posts to one channel.
        ("INTAKE__OUTBOX__POSTS_PER_CHANNEL_PER_SEC", "100".to_string()),
        ("INTAKE__OUTBOX__POST_BURST", "100".to_string()),
        ("INTAKE__LOG__LEVEL", "warn".to_string()),
        ("INTAKE__TRIAGE__TRIAGERS", format!("{TRIAGER},{TRIAGER_2}")),
        // No digest unless a test asks for one (the year field keeps it away).
        ("INTAKE__SCHEDULE__DIGEST", "0 0 9 * * * 2099".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    load_raw(None, &env).expect("test config loads")
}

pub struct TestApp {
    pub base: String,
    pub running: Option<Running>,
    client: Client<HttpConnector, Full<Bytes>>,
}

pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl TestApp {
    pub async fn start(raw: RawConfig, parts: Parts) -> TestApp {
        intake::telemetry::init_logging(false, &raw.log.level);
        let settings = Settings::validate(raw).expect("valid test settings");
        let app = App::build(settings).await.expect("app builds");
        let base = format!("http://{}", app.local_addr().expect("bound"));
        let running = app.spawn(parts);
        TestApp {
            base,
            running: Some(running),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    /// The running service's context (settings, store, Slack client).
    pub fn context(&self) -> &intake::context::Context {
        self.running.as_ref().expect("running").context()
    }

    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        self.context().store.db()
    }

    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> Response {
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        let request = builder.body(Full::new(Bytes::from(body))).expect("request");
        let response = self.client.request(request).await.expect("intake answers");
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        Response {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// POSTs `body` signed now, exactly as Slack would.
    pub async fn post_signed(&self, path: &str, content_type: &str, body: &[u8]) -> Response {
        self.post_signed_at(path, content_type, body, signing::now_ts()).await
    }

    pub async fn post_signed_at(&self, path: &str, content_type: &str, body: &[u8], ts: i64) -> Response {
        let mut headers: Vec<(&str, String)> = signing::slack_headers(SIGNING_SECRET, ts, body);
        headers.push(("content-type", content_type.to_string()));
        self.request("POST", path, &headers, body.to_vec()).await
    }

    /// `/request <text>` from the sample command body.
    pub async fn slash_command(&self, text: &str) -> Response {
        let body = command_body(text);
        self.post_signed("/slack/commands", "application/x-www-form-urlencoded", &body)
            .await
    }

    /// Waits (bounded) until no message is pending in the outbox.
    pub async fn settle(&self) {
        for _ in 0..1000 {
            let (pending, _, _) = intake::store::outbox::counts(self.db()).await.expect("counts");
            if pending == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!(
            "the outbox did not drain: {:?}",
            intake::store::outbox::counts(self.db()).await
        );
    }

    /// Waits (bounded) until every recorded Slack event is processed and the
    /// messages it caused are sent.
    pub async fn settle_events(&self) {
        for _ in 0..1000 {
            if intake::store::events::pending(self.db()).await.expect("events") == 0 {
                return self.settle().await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("reaction events were not processed");
    }

    /// `user` reacts (`reaction_added` / `reaction_removed`) with `emoji` to
    /// the message `channel`/`ts`, as event `event_id`.
    pub async fn react(&self, kind: &str, user: &str, emoji: &str, item: (&str, &str), event_id: &str) -> Response {
        let mut event: Value = serde_json::from_slice(&sample("events/reaction_added.json")).expect("sample");
        event["event"]["type"] = json!(kind);
        event["event"]["user"] = json!(user);
        event["event"]["reaction"] = json!(emoji);
        event["event"]["item"]["channel"] = json!(item.0);
        event["event"]["item"]["ts"] = json!(item.1);
        event["event_id"] = json!(event_id);
        let body = event.to_string().into_bytes();
        self.post_signed("/slack/events", "application/json", &body).await
    }

    /// `user` opens the app's Home tab (`app_home_opened`).
    pub async fn open_home(&self, user: &str) -> Response {
        let mut event: Value = serde_json::from_slice(&sample("events/app_home_opened.json")).expect("sample");
        event["event"]["user"] = json!(user);
        event["event_id"] = json!(format!("EvHome{}", uuid::Uuid::new_v4().simple()));
        let body = event.to_string().into_bytes();
        self.post_signed("/slack/events", "application/json", &body).await
    }

    /// `user` clicks `action` on request `number` in their App Home.
    pub async fn click_in_home(&self, action: &str, number: i64, user: &str) -> Response {
        let body = crate::bodies::home_click_body(action, number, user);
        self.post_signed("/slack/interactions", "application/x-www-form-urlencoded", &body)
            .await
    }

    /// Runs every scheduled job due at `at` (the injected clock).
    pub async fn run_jobs(&self, at: chrono::DateTime<chrono::Utc>) -> Vec<String> {
        intake::service::scheduled::run_due(self.context(), at, false)
            .await
            .expect("jobs run")
            .lines
    }

    /// The stored request `number`.
    pub async fn request_no(&self, number: i64) -> intake::domain::request::Request {
        intake::store::requests::find(self.db(), intake::domain::request::RequestNumber(number))
            .await
            .expect("store")
            .expect("request exists")
    }

    /// `user` clicks `action` on request `number` in the intake channel.
    pub async fn click(&self, action: &str, number: i64, user: &str) -> Response {
        self.click_with(action, number, user, None).await
    }

    pub async fn click_with(&self, action: &str, number: i64, user: &str, choice: Option<&str>) -> Response {
        let channel = if matches!(action, "confirm" | "add_info") || (action == "reopen" && user == SUBMITTER) {
            "D0SUBMIT01"
        } else {
            INTAKE_CHANNEL
        };
        let body = click_body(action, number, user, choice, channel);
        self.post_signed("/slack/interactions", "application/x-www-form-urlencoded", &body)
            .await
    }

    /// `user` submits the `action` step's modal for request `number`.
    pub async fn step(&self, action: &str, number: i64, user: &str, fields: &[(&str, &str)]) -> Response {
        let body = step_body(&format!("triage_{action}"), number, user, fields);
        self.post_signed("/slack/interactions", "application/x-www-form-urlencoded", &body)
            .await
    }

    /// `/request <text>` typed by `user`.
    pub async fn command_as(&self, text: &str, user: &str) -> Response {
        let body = command_body_from(text, user);
        self.post_signed("/slack/commands", "application/x-www-form-urlencoded", &body)
            .await
    }

    /// `/request <text>` typed by the submitter in channel `(id, name)`.
    pub async fn command_in(&self, text: &str, channel: (&str, &str)) -> Response {
        let body = command_body_in(text, SUBMITTER, channel);
        self.post_signed("/slack/commands", "application/x-www-form-urlencoded", &body)
            .await
    }

    /// Submits the /request modal with these fields.
    pub async fn submit(&self, form: &Form) -> Response {
        self.post_signed("/slack/interactions", "application/x-www-form-urlencoded", &form.body())
            .await
    }
}

/// Starts a fake Slack, a fresh database and the app with default parts.
pub async fn spawn_app() -> (TestApp, FakeSlack, TestDb) {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with the test configuration changed first (say
/// `config.privacy.request_visibility = "involved".into()`).
pub async fn spawn_app_with(configure: impl FnOnce(&mut RawConfig)) -> (TestApp, FakeSlack, TestDb) {
    let slack = FakeSlack::start().await;
    let db = TestDb::new().await;
    let mut config = test_config(&db, &slack);
    configure(&mut config);
    let parts = Parts {
        dispatcher: true,
        scheduler: false,
    };
    let app = TestApp::start(config, parts).await;
    (app, slack, db)
}

/// [`spawn_app`] with request #1 filed at `severity` and its messages
/// (card, receipt, on-call page) delivered.
pub async fn spawn_with_request(severity: &str) -> (TestApp, FakeSlack, TestDb) {
    let (app, slack, db) = spawn_app().await;
    let form = crate::Form {
        severity: Some(severity.into()),
        ..crate::Form::default()
    };
    assert_eq!(app.submit(&form).await.status, 200, "the request is filed");
    app.settle().await;
    (app, slack, db)
}
