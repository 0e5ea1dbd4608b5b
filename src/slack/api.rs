//! The Slack Web API. Messages and views we render ourselves go out as JSON
//! through one pooled hyper client; look-ups (permalinks, user groups) go
//! through slack-morphism's typed client. Every call is
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

use crate::domain::request::MessageRef;

type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// How a failed call should be handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Slack said 429: try again after this long.
    RateLimited(Duration),
    /// 5xx, no connection: try again with backoff.
    Transient(String),
    /// Sent, but no answer came (a timeout, a dropped connection): it may
    /// have taken effect. Try again with backoff, after checking.
    Unanswered(String),
    /// `channel_not_found`, `invalid_auth`, a payload Slack rejects…: retrying cannot help.
    Permanent(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RateLimited(wait) => write!(f, "rate limited; retry after {}s", wait.as_secs()),
            Self::Transient(e) => write!(f, "transient: {e}"),
            Self::Unanswered(e) => write!(f, "unanswered: {e}"),
            Self::Permanent(e) => write!(f, "{e}"),
        }
    }
}

impl CallError {
    /// What an operator should look at when a message is dead, for the log;
    /// `None` when the error suggests nothing in particular.
    pub fn advice(&self) -> Option<&'static str> {
        match self {
            Self::Permanent(e) => advice(e),
            _ => None,
        }
    }
}

/// Slack's error code at the start of a refusal (`code`, or `code (details)`).
pub fn error_code(error: &str) -> &str {
    error.split_once(' ').map_or(error, |(code, _)| code)
}

/// What a permanent refusal's code suggests to check.
pub fn advice(error: &str) -> Option<&'static str> {
    Some(match error_code(error) {
        "channel_not_found" | "not_in_channel" | "is_archived" => {
            "check the channel id and that the bot is in the channel"
        }
        "user_not_found" | "account_inactive" => "the person left or was deactivated; a thread line says so",
        "cannot_dm_bot" => "the recipient is a bot",
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "missing_scope" => {
            "check the bot token and its scopes"
        }
        "invalid_blocks" | "invalid_blocks_format" | "msg_too_long" | "no_text" => {
            "the message was refused as rendered"
        }
        _ => return None,
    })
}

/// Why a DM could not reach a person, when Slack's refusal says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// `user_not_found`: Slack does not know them (any more).
    UnknownUser,
    /// `account_inactive`: their account is deactivated.
    Deactivated,
    /// `cannot_dm_bot`: a bot, which cannot be sent a DM.
    Bot,
}

impl Unreachable {
    pub fn from_error(error: &str) -> Option<Self> {
        match error_code(error) {
            "user_not_found" => Some(Self::UnknownUser),
            "account_inactive" => Some(Self::Deactivated),
            "cannot_dm_bot" => Some(Self::Bot),
            _ => None,
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
        SlackClientError::ApiError(e) => refused(e.code, e.errors.unwrap_or_default()),
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

/// An answer with `"ok": false`: `code` is Slack's error, `details` why
/// (e.g. which block was invalid).
fn refused(code: String, details: Vec<String>) -> CallError {
    if TRANSIENT_CODES.contains(&code.as_str()) {
        return CallError::Transient(code);
    }
    match details.is_empty() {
        true => CallError::Permanent(code),
        false => CallError::Permanent(format!("{code} ({})", details.join("; "))),
    }
}

/// The `event_type` of the metadata every outbox post carries: its dedupe
/// key, so a post whose answer was lost can be found instead of resent.
pub const METADATA_EVENT: &str = "intake_message";

/// How many pages of history (200 messages each) a look-up reads at most.
const HISTORY_PAGES: usize = 5;

/// Whether a `channel` is a user id (`U…`, `W…`): a post to it goes to the
/// app's DM with that person.
pub fn is_user_id(channel: &str) -> bool {
    channel.starts_with(['U', 'W'])
        && channel.len() > 1
        && channel.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn no_answer_within(limit: Duration) -> CallError {
    CallError::Unanswered(format!("no answer within {} ms", limit.as_millis()))
}

/// An answer that is neither a rate limit nor a server error.
pub struct Answer {
    pub status: hyper::StatusCode,
    pub body: Bytes,
}

/// Sends `request` on the shared pool within `limit` and sorts out what
/// every HTTP API answers alike: a refused connection is transient
/// (nothing was sent), a lost or late answer is unanswered (it may have
/// taken effect), 429 waits for `Retry-After` (`default_wait` when absent),
/// 5xx is transient. Anything else is the caller's to read.
pub async fn round_trip(
    http: &HttpClient,
    request: hyper::Request<Full<Bytes>>,
    limit: Duration,
    default_wait: Duration,
) -> Result<Answer, CallError> {
    let exchange = async {
        let response = http.request(request).await.map_err(|e| {
            // Refused before anything was sent: nothing can have happened.
            match e.is_connect() {
                true => CallError::Transient(e.to_string()),
                false => CallError::Unanswered(e.to_string()),
            }
        })?;
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
            .map_err(|e| CallError::Unanswered(e.to_string()))?;
        Ok::<_, CallError>((status, retry_after, body.to_bytes()))
    };
    let (status, retry_after, body) = match tokio::time::timeout(limit, exchange).await {
        Ok(result) => result?,
        Err(_) => return Err(no_answer_within(limit)),
    };
    if status == hyper::StatusCode::TOO_MANY_REQUESTS {
        return Err(CallError::RateLimited(retry_after.unwrap_or(default_wait)));
    }
    if status.is_server_error() {
        return Err(CallError::Transient(format!("HTTP {status}")));
    }
    Ok(Answer { status, body })
}

/// One page of `conversations.history` / `conversations.replies`, only
/// what a look-up reads.
#[derive(serde::Deserialize)]
struct HistoryPage {
    #[serde(default)]
    messages: Vec<HistoryMessage>,
    response_metadata: Option<Cursor>,
}

#[derive(serde::Deserialize)]
struct Cursor {
    next_cursor: Option<String>,
}

#[derive(serde::Deserialize)]
struct HistoryMessage {
    ts: String,
    metadata: Option<Metadata>,
}

#[derive(serde::Deserialize)]
struct Metadata {
    event_type: String,
    #[serde(default)]
    event_payload: serde_json::Map<String, Value>,
}

impl HistoryMessage {
    fn carries(&self, key: &str) -> bool {
        self.metadata.as_ref().is_some_and(|m| {
            m.event_type == METADATA_EVENT && m.event_payload.get("key").and_then(Value::as_str) == Some(key)
        })
    }
}

/// A message as `conversations.history` returns it: who wrote it and what.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ChannelMessage {
    pub ts: String,
    /// The author; absent for some bot and system messages.
    pub user: Option<String>,
    /// Set for messages posted by an app or integration.
    pub bot_id: Option<String>,
    #[serde(default)]
    pub text: String,
    /// The thread the message is in, if any (a parent carries its own ts).
    pub thread_ts: Option<String>,
}

#[derive(serde::Deserialize)]
struct MessagesPage {
    #[serde(default)]
    messages: Vec<ChannelMessage>,
}

/// `views.open` must finish inside Slack's 3-second trigger window.
const INTERACTIVE_LIMIT: Duration = Duration::from_millis(2500);
/// Look-ups made while Slack waits for an ack.
const LOOKUP_LIMIT: Duration = Duration::from_millis(1000);

#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
    timeout: Duration,
    /// `views.open` and the outbox's messages go out through the plain
    /// pooled client (see [`SlackApi::post_json`]).
    raw: Arc<RawClient>,
    workspace: Arc<tokio::sync::OnceCell<String>>,
}

/// The process's one HTTP client (a pool, HTTPS or plain HTTP): Slack's,
/// shared with the trackers' adapter.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

struct RawClient {
    http: HttpClient,
    api_url: String,
    authorization: HeaderValue,
}

/// Whether a Web API answer begins `{"ok":true` (whitespace allowed).
/// Slack puts `ok` first, and `views.open` echoes the whole view after it:
/// checking the start spares parsing kilobytes nobody reads (it was 6 % of
/// the `/request` path's CPU). Anything else is parsed in full.
fn starts_ok_true(body: &[u8]) -> bool {
    let mut rest = body;
    for token in [&b"{"[..], b"\"ok\"", b":", b"true"] {
        match rest.trim_ascii_start().strip_prefix(token) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    matches!(rest.trim_ascii_start().first(), Some(b',' | b'}'))
}

/// The envelope of every Web API answer.
#[derive(serde::Deserialize)]
struct Envelope {
    ok: bool,
    error: Option<String>,
    /// Why Slack refused a payload (`invalid_blocks` and the like).
    response_metadata: Option<ResponseMetadata>,
}

#[derive(serde::Deserialize)]
struct ResponseMetadata {
    #[serde(default)]
    messages: Vec<String>,
}

impl SlackApi {
    /// `api_url` without a trailing slash; plain http is allowed so tests
    /// can point it at a fake Slack on 127.0.0.1.
    pub fn new(api_url: &str, bot_token: &str, timeout: Duration) -> std::io::Result<Self> {
        let mut tcp = HttpConnector::new();
        // hyper-rustls's default leaves Nagle on; small JSON calls should
        // not wait for an ACK. `enforce_http(false)` lets https through.
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
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
            workspace: Arc::default(),
        })
    }

    /// The shared HTTP client (cheap to clone: one pool).
    pub fn http(&self) -> HttpClient {
        self.raw.http.clone()
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
            Err(_) => Err(no_answer_within(limit)),
        }
    }

    /// `views.open` with a modal rendered by `slack::blocks`.
    pub async fn open_view(&self, trigger_id: &str, view: Value) -> Result<(), CallError> {
        let body = serde_json::json!({"trigger_id": trigger_id, "view": view}).to_string();
        self.open_view_body(body).await
    }

    /// `views.open` with its whole body already rendered (the `/request`
    /// form, see `blocks::RequestForm`). Slack waits 3 s for the ack: past
    /// that the answer helps nobody.
    pub async fn open_view_body(&self, body: String) -> Result<(), CallError> {
        let limit = self.timeout.min(INTERACTIVE_LIMIT);
        self.post_json("views.open", body, limit).await.map(|_| ())
    }

    /// `chat.postMessage`: `message` is the JSON body (`channel`, `text`,
    /// `blocks`, …); `channel` may be a channel id, a `#name` or a user id
    /// (the app's DM). Returns where it was posted.
    pub async fn post_message(&self, message: String) -> Result<MessageRef, CallError> {
        let answer = self.post_json("chat.postMessage", message, self.timeout).await?;
        #[derive(serde::Deserialize)]
        struct Answer {
            channel: String,
            ts: String,
        }
        // Slack did post it: an answer we cannot read must not make it retry.
        let Answer { channel, ts } = serde_json::from_slice(&answer)
            .map_err(|e| CallError::Permanent(format!("unreadable chat.postMessage answer: {e}")))?;
        Ok(MessageRef { channel, ts })
    }

    /// `chat.update` of a message posted earlier; `message` is the JSON body.
    pub async fn update_message(&self, message: String) -> Result<(), CallError> {
        self.post_json("chat.update", message, self.timeout).await.map(|_| ())
    }

    /// `chat.postEphemeral`: visible only to `user` in `channel`.
    pub async fn post_ephemeral(&self, message: String) -> Result<(), CallError> {
        self.post_json("chat.postEphemeral", message, self.timeout)
            .await
            .map(|_| ())
    }

    /// POSTs a JSON body we rendered to a Web API method, through the shared
    /// pool, and classifies the outcome; returns the answer's bytes when
    /// Slack said `ok`. The outbox's messages and `views.open` go this way:
    /// our payloads are JSON already, and a round trip through
    /// slack-morphism's typed models (parse, re-serialise, decode the echoed
    /// answer) was most of the send path's cost (BENCHMARKS.md).
    async fn post_json(&self, method: &str, body: String, limit: Duration) -> Result<Bytes, CallError> {
        let request = hyper::Request::post(format!("{}/{method}", self.raw.api_url))
            .header(AUTHORIZATION, self.raw.authorization.clone())
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CallError::Permanent(format!("bad request: {e}")))?;
        self.exchange(request, limit).await
    }

    /// GETs a read method with its arguments in the query string (read
    /// methods such as `conversations.history` take no JSON body).
    async fn get_query(&self, method: &str, query: &[(&str, &str)], limit: Duration) -> Result<Bytes, CallError> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        let request = hyper::Request::get(format!("{}/{method}?{query}", self.raw.api_url))
            .header(AUTHORIZATION, self.raw.authorization.clone())
            .body(Full::new(Bytes::new()))
            .map_err(|e| CallError::Permanent(format!("bad request: {e}")))?;
        self.exchange(request, limit).await
    }

    /// Sends one request through the shared pool and classifies the answer.
    async fn exchange(&self, request: hyper::Request<Full<Bytes>>, limit: Duration) -> Result<Bytes, CallError> {
        // Slack sends 429 with Retry-After; one second when it does not say.
        let Answer { status, body } = round_trip(&self.raw.http, request, limit, Duration::from_secs(1)).await?;
        if starts_ok_true(&body) {
            return Ok(body);
        }
        match serde_json::from_slice::<Envelope>(&body) {
            Ok(Envelope { ok: true, .. }) => Ok(body),
            Ok(Envelope {
                error,
                response_metadata,
                ..
            }) => Err(refused(
                error.unwrap_or_else(|| format!("HTTP {status}")),
                response_metadata.map(|m| m.messages).unwrap_or_default(),
            )),
            // The call may have taken effect but its answer is unreadable:
            // retrying could post twice, so it is not retried.
            Err(_) => Err(CallError::Permanent(format!(
                "unreadable answer from Slack (HTTP {status})"
            ))),
        }
    }

    /// Looks for a message this app posted with `key` in its metadata
    /// (`event_type` [`METADATA_EVENT`]): in the thread `thread_ts` of
    /// `channel` when given (`conversations.replies`), else in the channel
    /// (`conversations.history`), among messages since `oldest` (unix
    /// seconds). `channel` may be a user id: the app's DM with them is
    /// looked in. A few pages at most: the message, if posted, is recent.
    pub async fn find_posted(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        key: &str,
        oldest: i64,
    ) -> Result<Option<MessageRef>, CallError> {
        let channel = match is_user_id(channel) {
            true => self.dm_channel(channel).await?,
            false => channel.to_string(),
        };
        let oldest = format!("{oldest}.000000");
        let mut cursor = String::new();
        for _ in 0..HISTORY_PAGES {
            let mut query = vec![
                ("channel", channel.as_str()),
                ("oldest", oldest.as_str()),
                ("include_all_metadata", "true"),
                ("limit", "200"),
            ];
            if !cursor.is_empty() {
                query.push(("cursor", cursor.as_str()));
            }
            let method = match thread_ts {
                Some(ts) => {
                    query.push(("ts", ts));
                    "conversations.replies"
                }
                None => "conversations.history",
            };
            let answer = self.get_query(method, &query, self.timeout).await?;
            let page: HistoryPage = serde_json::from_slice(&answer)
                .map_err(|e| CallError::Permanent(format!("unreadable {method} answer: {e}")))?;
            if let Some(found) = page.messages.iter().find(|m| m.carries(key)) {
                return Ok(Some(MessageRef {
                    channel,
                    ts: found.ts.clone(),
                }));
            }
            match page
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.is_empty())
            {
                Some(next) => cursor = next,
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The message at `message.ts`: read with `conversations.history`
    /// (`latest` = `oldest` = its ts, inclusive), or, for a reply in a
    /// thread (which history leaves out), `conversations.replies`. `None`
    /// when Slack no longer has it.
    pub async fn message(&self, message: &MessageRef) -> Result<Option<ChannelMessage>, CallError> {
        let ts = message.ts.as_str();
        let channel = message.channel.as_str();
        let history = [
            ("channel", channel),
            ("latest", ts),
            ("oldest", ts),
            ("inclusive", "true"),
            ("limit", "1"),
        ];
        // Slack answers a reply's ts with its thread (the parent first).
        let replies = [
            ("channel", channel),
            ("ts", ts),
            ("latest", ts),
            ("oldest", ts),
            ("inclusive", "true"),
        ];
        for (method, query) in [
            ("conversations.history", &history[..]),
            ("conversations.replies", &replies[..]),
        ] {
            let answer = self.get_query(method, query, self.timeout).await?;
            let page: MessagesPage = serde_json::from_slice(&answer)
                .map_err(|e| CallError::Permanent(format!("unreadable {method} answer: {e}")))?;
            if let Some(found) = page.messages.into_iter().find(|m| m.ts == ts) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// `conversations.open`: the id of the app's DM with `user`.
    async fn dm_channel(&self, user: &str) -> Result<String, CallError> {
        let body = serde_json::json!({ "users": user }).to_string();
        let answer = self.post_json("conversations.open", body, self.timeout).await?;
        #[derive(serde::Deserialize)]
        struct Answer {
            channel: Channel,
        }
        #[derive(serde::Deserialize)]
        struct Channel {
            id: String,
        }
        let Answer { channel } = serde_json::from_slice(&answer)
            .map_err(|e| CallError::Permanent(format!("unreadable conversations.open answer: {e}")))?;
        Ok(channel.id)
    }

    /// `views.publish`: `user`'s App Home.
    pub async fn publish_home(&self, user: &str, view: Value) -> Result<(), CallError> {
        let body = serde_json::json!({"user_id": user, "view": view}).to_string();
        self.post_json("views.publish", body, self.timeout).await.map(|_| ())
    }

    /// The workspace's address (`https://acme.slack.com/`), from `auth.test`,
    /// asked once: links to messages are built from it without a
    /// `chat.getPermalink` per message. `None` while Slack cannot say.
    pub async fn workspace_url(&self) -> Option<String> {
        let url = self
            .workspace
            .get_or_try_init(|| async {
                let answer = self.post_json("auth.test", "{}".into(), self.timeout).await?;
                #[derive(serde::Deserialize)]
                struct Answer {
                    url: String,
                }
                serde_json::from_slice::<Answer>(&answer)
                    .map(|a| a.url)
                    .map_err(|e| CallError::Permanent(format!("unreadable auth.test answer: {e}")))
            })
            .await;
        url.ok().cloned()
    }

    /// `chat.getPermalink` for a posted message.
    pub async fn permalink(&self, message: &MessageRef) -> Result<String, CallError> {
        let request = SlackApiChatGetPermalinkRequest::new(message.channel.clone().into(), message.ts.clone().into());
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

    /// `apps.connections.open` with the app-level token (not the bot's):
    /// a single-use WebSocket URL to read Socket Mode envelopes from.
    pub async fn open_connection(&self, app_token: &str) -> Result<String, CallError> {
        let authorization = HeaderValue::from_str(&format!("Bearer {app_token}"))
            .map_err(|_| CallError::Permanent("the app token contains characters a header cannot carry".into()))?;
        let request = hyper::Request::post(format!("{}/apps.connections.open", self.raw.api_url))
            .header(AUTHORIZATION, authorization)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::new()))
            .map_err(|e| CallError::Permanent(format!("bad request: {e}")))?;
        let answer = self.exchange(request, self.timeout).await?;
        #[derive(serde::Deserialize)]
        struct Answer {
            url: String,
        }
        let Answer { url } = serde_json::from_slice(&answer)
            .map_err(|e| CallError::Transient(format!("unreadable apps.connections.open answer: {e}")))?;
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advice_matches_the_code_at_the_start() {
        assert_eq!(
            advice("account_inactive"),
            Some("the person left or was deactivated; a thread line says so")
        );
        assert_eq!(advice("cannot_dm_bot"), Some("the recipient is a bot"));
        assert!(advice("not_in_channel").unwrap().contains("bot is in the channel"));
        assert!(advice("missing_scope").unwrap().contains("scopes"));
        assert_eq!(
            advice("invalid_blocks (must be less than 3001 characters)"),
            Some("the message was refused as rendered")
        );
        assert_eq!(advice("unreadable answer from Slack (HTTP 200)"), None);
        assert_eq!(advice("user_not_found_x"), None);
        assert_eq!(CallError::Transient("user_not_found".into()).advice(), None);
        assert_eq!(
            Unreachable::from_error("user_not_found (details)"),
            Some(Unreachable::UnknownUser)
        );
        assert_eq!(Unreachable::from_error("channel_not_found"), None);
    }

    #[test]
    fn only_an_answer_that_starts_ok_true_skips_parsing() {
        assert!(starts_ok_true(br#"{"ok":true,"view":{"id":"V1"}}"#));
        assert!(starts_ok_true(b" {\n \"ok\" : true }"));
        for other in [
            &br#"{"ok":false,"error":"expired_trigger_id"}"#[..],
            br#"{"ok":truex}"#,
            br#"{"error":"x","ok":true}"#,
            br#"{"ok":"true"}"#,
            b"",
        ] {
            assert!(!starts_ok_true(other), "{}", String::from_utf8_lossy(other));
        }
    }
}
