//! Test support: start intake in-process against a fake Slack and a real
//! database, and talk to it exactly as Slack does (signed requests).
//!
//! The database is a fresh SQLite file per test, or a fresh PostgreSQL
//! database per test when `DATABASE_URL` is set.
#![allow(dead_code)]

pub mod fake_slack;
pub mod signing;

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use intake::app::{App, Parts, Running};
use intake::config::{RawConfig, Settings, load_raw};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

#[allow(unused_imports)]
pub use fake_slack::{Call, Failure, FakeSlack};

pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const BOT_TOKEN: &str = "xoxb-test-token";
pub const INTAKE_CHANNEL: &str = "C0INTAKE01";
pub const ONCALL_CHANNEL: &str = "C0ONCALL01";
pub const ONCALL_GROUP: &str = "S0ONCALL01";
pub const SUBMITTER: &str = "U0SUBMIT01";
pub const TRIAGER: &str = "U0TRIAGE01";
pub const TRIAGER_2: &str = "U0TRIAGE02";
pub const STRANGER: &str = "U0OTHER001";

pub const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/slack-samples");

pub fn sample(path: &str) -> Vec<u8> {
    std::fs::read(format!("{SAMPLES}/{path}"))
        .unwrap_or_else(|e| panic!("{SAMPLES}/{path}: {e} (shared/ must sit beside the repository)"))
}

/// A database for one test; SQLite files live as long as this value.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new() -> TestDb {
        match std::env::var("DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) {
            Some(base) => {
                let name = format!("intake_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&base).await.expect("connect to DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
                url.set_path(&name);
                TestDb {
                    url: url.to_string(),
                    _dir: None,
                }
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("intake.db").display());
                TestDb { url, _dir: Some(dir) }
            }
        }
    }
}

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

    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        self.running.as_ref().expect("running").state.store.db()
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
            let (pending, _, _) = intake::outbox::counts(self.db()).await.expect("counts");
            if pending == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!(
            "the outbox did not drain: {:?}",
            intake::outbox::counts(self.db()).await
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

    /// Runs every scheduled job due at `at` (the injected clock).
    pub async fn run_jobs(&self, at: chrono::DateTime<chrono::Utc>) -> Vec<String> {
        let state = self.running.as_ref().expect("running").state.clone();
        intake::scheduler::run_due(&state, at, false)
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

    /// Submits the /request modal with these fields.
    pub async fn submit(&self, form: &Form) -> Response {
        self.post_signed("/slack/interactions", "application/x-www-form-urlencoded", &form.body())
            .await
    }
}

/// The sample slash command with its text replaced.
pub fn command_body(text: &str) -> Vec<u8> {
    command_body_from(text, SUBMITTER)
}

/// The sample slash command, typed by `user`.
pub fn command_body_from(text: &str, user: &str) -> Vec<u8> {
    let sample = String::from_utf8(sample("commands/request.form")).expect("utf-8");
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(&sample).expect("sample parses");
    for (key, value) in &mut pairs {
        match key.as_str() {
            "text" => *value = text.to_string(),
            "user_id" => *value = user.to_string(),
            _ => {}
        }
    }
    serde_urlencoded::to_string(&pairs).expect("encodes").into_bytes()
}

fn form_payload(payload: &Value) -> Vec<u8> {
    serde_urlencoded::to_string([("payload", payload.to_string())])
        .expect("encodes")
        .into_bytes()
}

/// A click by `user` on control `action` of request `number`, shaped like
/// the block_actions sample. `choice` is the picked user or option value.
pub fn click_body(action: &str, number: i64, user: &str, choice: Option<&str>, channel: &str) -> Vec<u8> {
    let mut payload: Value =
        serde_json::from_slice(&sample("interactivity/block_actions_button.json")).expect("sample");
    payload["user"]["id"] = json!(user);
    payload["trigger_id"] = json!(format!("1337.{}.{}", number, uuid::Uuid::new_v4().simple()));
    payload["channel"]["id"] = json!(channel);
    payload["container"]["channel_id"] = json!(channel);
    let mut clicked = json!({"action_id": action, "block_id": format!("req:{number}"), "type": "button",
                             "value": number.to_string(), "action_ts": "1732528900.000100"});
    match (action, choice) {
        ("assign", Some(user)) => {
            clicked = json!({"action_id": action, "block_id": format!("req:{number}"), "type": "users_select",
                             "selected_user": user, "action_ts": "1732528900.000100"});
        }
        ("set_severity", Some(value)) => {
            clicked = json!({"action_id": action, "block_id": format!("req:{number}"), "type": "static_select",
                             "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
                             "action_ts": "1732528900.000100"});
        }
        _ => {}
    }
    payload["actions"] = json!([clicked]);
    form_payload(&payload)
}

/// A triage step modal (`callback`) submitted by `user` with these fields.
pub fn step_body(callback: &str, number: i64, user: &str, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut payload: Value = serde_json::from_slice(&sample("interactivity/view_submission.json")).expect("sample");
    payload["user"]["id"] = json!(user);
    payload["view"]["callback_id"] = json!(callback);
    payload["view"]["id"] = json!(format!(
        "V{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10].to_uppercase()
    ));
    payload["view"]["private_metadata"] = json!(json!({"request": number, "channel": INTAKE_CHANNEL}).to_string());
    let mut values = serde_json::Map::new();
    for (block, value) in fields {
        let entry = if *block == "revisit" {
            json!({"type": "datepicker", "selected_date": value})
        } else {
            json!({"type": "plain_text_input", "value": value})
        };
        values.insert(block.to_string(), json!({format!("{block}_input"): entry}));
    }
    payload["view"]["state"]["values"] = Value::Object(values);
    form_payload(&payload)
}

/// The /request modal's fields, as a person fills them in.
#[derive(Debug, Clone)]
pub struct Form {
    pub view_id: String,
    pub kind: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<String>,
    pub area: Option<String>,
    pub link: Option<String>,
}

impl Default for Form {
    fn default() -> Self {
        Form {
            view_id: format!("V{}", uuid::Uuid::new_v4().simple().to_string()[..10].to_uppercase()),
            kind: Some("bug".into()),
            title: Some("Invoices render blank".into()),
            description: Some("Since Monday every invoice PDF is empty.".into()),
            severity: Some("sev2".into()),
            area: None,
            link: Some("https://status.example.com/incidents/7781".into()),
        }
    }
}

impl Form {
    /// The sample view_submission with this form's values in `state`.
    pub fn body(&self) -> Vec<u8> {
        let mut payload: Value = serde_json::from_slice(&sample("interactivity/view_submission.json")).expect("sample");
        let text = |v: &Option<String>, kind: &str| json!({"type": kind, "value": v});
        let select = |v: &Option<String>, kind: &str| json!({"type": kind, "selected_option": v.as_ref().map(|v| json!({"text": {"type": "plain_text", "text": v}, "value": v}))});
        payload["view"]["id"] = json!(self.view_id);
        payload["view"]["state"]["values"] = json!({
            "type": {"type_input": select(&self.kind, "radio_buttons")},
            "title": {"title_input": text(&self.title, "plain_text_input")},
            "description": {"description_input": text(&self.description, "plain_text_input")},
            "severity": {"severity_input": select(&self.severity, "static_select")},
            "area": {"area_input": select(&self.area, "static_select")},
            "link": {"link_input": text(&self.link, "url_text_input")},
        });
        let encoded = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("encodes");
        encoded.into_bytes()
    }
}

/// Everything a chat.postMessage call would show people: its text and blocks.
pub fn shown(call: &Call) -> String {
    format!(
        "{} {}",
        call.str("text").unwrap_or_default(),
        call.params.get("blocks").cloned().unwrap_or(Value::Null)
    )
}

/// Starts a fake Slack, a fresh database and the app with default parts.
pub async fn spawn() -> (TestApp, FakeSlack, TestDb) {
    let slack = FakeSlack::start().await;
    let db = TestDb::new().await;
    let app = TestApp::start(
        test_config(&db, &slack),
        Parts {
            dispatcher: true,
            scheduler: false,
        },
    )
    .await;
    (app, slack, db)
}
