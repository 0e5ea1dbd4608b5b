//! The Slack Web API, through slack-morphism's client.
//!
//! One client (one connection pool) for the whole process. Every call is
//! bounded by a timeout, and every failure is classified once, here, into
//! what the outbox should do about it: retry later, wait as Slack asked, or
//! give up because retrying cannot help.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// How a failed call should be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Slack said 429: try again after this long.
    RateLimited(Duration),
    /// 5xx, timeout, connection trouble: try again with backoff.
    Transient(String),
    /// `channel_not_found`, `invalid_auth`, a payload Slack rejects…: retrying cannot help.
    Permanent(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RateLimited(wait) => write!(f, "rate limited; retry after {}s", wait.as_secs()),
            Self::Transient(e) => write!(f, "transient: {e}"),
            Self::Permanent(e) => write!(f, "{e}"),
        }
    }
}

/// Slack error codes that mean "try again later" rather than "this is wrong".
const TRANSIENT_CODES: [&str; 5] = [
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

fn classify(error: SlackClientError) -> CallError {
    match error {
        SlackClientError::RateLimitError(e) => CallError::RateLimited(e.retry_after.unwrap_or(Duration::from_secs(1))),
        SlackClientError::ApiError(e) if TRANSIENT_CODES.contains(&e.code.as_str()) => CallError::Transient(e.code),
        SlackClientError::ApiError(e) => {
            let detail = e
                .errors
                .map(|errs| format!(" ({})", errs.join("; ")))
                .unwrap_or_default();
            CallError::Permanent(format!("{}{detail}", e.code))
        }
        SlackClientError::HttpError(e) if e.status_code.is_server_error() => {
            CallError::Transient(format!("HTTP {}", e.status_code))
        }
        SlackClientError::HttpError(e) => CallError::Permanent(format!("HTTP {}", e.status_code)),
        // The call may have taken effect but its answer is unreadable:
        // retrying could post twice, so it is not retried.
        SlackClientError::ProtocolError(e) => CallError::Permanent(format!("unreadable answer from Slack: {e}")),
        other => CallError::Transient(other.to_string()),
    }
}

/// `views.open` must finish inside Slack's 3-second trigger window.
const INTERACTIVE_LIMIT: Duration = Duration::from_millis(2500);
/// Look-ups made while Slack waits for an ack.
const LOOKUP_LIMIT: Duration = Duration::from_millis(1000);

/// A posted message's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
    timeout: Duration,
    /// `views.open` goes out through the plain pooled client: Slack answers
    /// it with the whole view, and decoding that into slack-morphism's typed
    /// model only to drop it was most of the `/request` path's cost
    /// (BENCHMARKS.md).
    raw: Arc<RawClient>,
}

struct RawClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    api_url: String,
    authorization: HeaderValue,
}

/// The envelope of every Web API answer.
#[derive(serde::Deserialize)]
struct Envelope {
    ok: bool,
    error: Option<String>,
}

impl SlackApi {
    /// `api_url` without a trailing slash; plain http is allowed so tests
    /// can point it at a fake Slack on 127.0.0.1.
    pub fn new(api_url: &str, bot_token: &str, timeout: Duration) -> std::io::Result<Self> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let raw = RawClient {
            http: Client::builder(TokioExecutor::new()).build(https.clone()),
            api_url: api_url.to_string(),
            authorization: HeaderValue::from_str(&format!("Bearer {bot_token}"))
                .map_err(|_| std::io::Error::other("the bot token contains characters a header cannot carry"))?,
        };
        let connector = SlackClientHyperConnector::with_connector(https).with_slack_api_url(api_url);
        Ok(Self {
            client: Arc::new(SlackClient::new(connector)),
            token: SlackApiToken::new(SlackApiTokenValue::new(bot_token.to_string())),
            timeout,
            raw: Arc::new(raw),
        })
    }

    async fn call<T, F>(&self, call: F) -> Result<T, CallError>
    where
        F: std::future::Future<Output = Result<T, SlackClientError>>,
    {
        self.call_within(self.timeout, call).await
    }

    async fn call_within<T, F>(&self, limit: Duration, call: F) -> Result<T, CallError>
    where
        F: std::future::Future<Output = Result<T, SlackClientError>>,
    {
        match tokio::time::timeout(limit, call).await {
            Ok(result) => result.map_err(classify),
            Err(_) => Err(CallError::Transient(format!(
                "no answer within {} ms",
                limit.as_millis()
            ))),
        }
    }

    /// `views.open` with a modal rendered by `slack::blocks`.
    pub async fn open_view(&self, trigger_id: &str, view: Value) -> Result<(), CallError> {
        let body = serde_json::to_vec(&serde_json::json!({"trigger_id": trigger_id, "view": view}))
            .map_err(|e| CallError::Permanent(format!("bad view: {e}")))?;
        let request = hyper::Request::post(format!("{}/views.open", self.raw.api_url))
            .header(AUTHORIZATION, self.raw.authorization.clone())
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CallError::Permanent(format!("bad request: {e}")))?;
        // Slack waits 3 s for the ack: past that the answer helps nobody.
        let limit = self.timeout.min(INTERACTIVE_LIMIT);
        let exchange = async {
            let response = self
                .raw
                .http
                .request(request)
                .await
                .map_err(|e| CallError::Transient(e.to_string()))?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .map(Duration::from_secs);
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| CallError::Transient(e.to_string()))?;
            Ok::<_, CallError>((status, retry_after, body.to_bytes()))
        };
        let (status, retry_after, body) = match tokio::time::timeout(limit, exchange).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(CallError::Transient(format!(
                    "no answer within {} ms",
                    limit.as_millis()
                )));
            }
        };
        if status == hyper::StatusCode::TOO_MANY_REQUESTS {
            return Err(CallError::RateLimited(retry_after.unwrap_or(Duration::from_secs(1))));
        }
        if status.is_server_error() {
            return Err(CallError::Transient(format!("HTTP {status}")));
        }
        match serde_json::from_slice::<Envelope>(&body) {
            Ok(Envelope { ok: true, .. }) => Ok(()),
            Ok(Envelope { error: Some(code), .. }) if TRANSIENT_CODES.contains(&code.as_str()) => {
                Err(CallError::Transient(code))
            }
            Ok(Envelope { error, .. }) => Err(CallError::Permanent(error.unwrap_or_else(|| format!("HTTP {status}")))),
            Err(_) => Err(CallError::Permanent(format!(
                "unreadable answer from Slack (HTTP {status})"
            ))),
        }
    }

    /// `chat.postMessage`: `message` holds `text`, `blocks`, … ; `channel`
    /// may be a channel id, a `#name` or a user id (the app's DM).
    pub async fn post_message(&self, message: Value) -> Result<Posted, CallError> {
        let request: SlackApiChatPostMessageRequest =
            serde_json::from_value(message).map_err(|e| CallError::Permanent(format!("bad message: {e}")))?;
        let session = self.client.open_session(&self.token);
        let posted = self.call(session.chat_post_message(&request)).await?;
        Ok(Posted {
            channel: posted.channel.0,
            ts: posted.ts.0,
        })
    }

    /// `chat.update` of a message posted earlier.
    pub async fn update_message(&self, message: Value) -> Result<(), CallError> {
        let request: SlackApiChatUpdateRequest =
            serde_json::from_value(message).map_err(|e| CallError::Permanent(format!("bad update: {e}")))?;
        let session = self.client.open_session(&self.token);
        self.call(session.chat_update(&request)).await.map(|_| ())
    }

    /// `chat.postEphemeral`: visible only to `user` in `channel`.
    pub async fn post_ephemeral(&self, message: Value) -> Result<(), CallError> {
        let request: SlackApiChatPostEphemeralRequest =
            serde_json::from_value(message).map_err(|e| CallError::Permanent(format!("bad ephemeral: {e}")))?;
        let session = self.client.open_session(&self.token);
        self.call(session.chat_post_ephemeral(&request)).await.map(|_| ())
    }

    /// `chat.getPermalink` for a posted message.
    pub async fn permalink(&self, channel: &str, ts: &str) -> Result<String, CallError> {
        let request = SlackApiChatGetPermalinkRequest::new(channel.to_string().into(), ts.to_string().into());
        let session = self.client.open_session(&self.token);
        self.call(session.chat_get_permalink(&request))
            .await
            .map(|r| r.permalink.to_string())
    }

    /// `usergroups.users.list`: the members of a user group.
    pub async fn usergroup_members(&self, group: &str) -> Result<Vec<String>, CallError> {
        let request = SlackApiUserGroupsUsersListRequest::new(SlackUserGroupId::new(group.to_string()));
        let session = self.client.open_session(&self.token);
        let response = self
            .call_within(self.timeout.min(LOOKUP_LIMIT), session.usergroups_users_list(&request))
            .await?;
        Ok(response.users.into_iter().map(|u| u.0).collect())
    }
}
