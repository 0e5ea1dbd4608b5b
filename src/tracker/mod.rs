//! The trackers' adapter: Jira Cloud (REST v3) and GitHub Issues. It
//! creates the issue Accept asks for, and finds one created before by its
//! `intake-N` label, so a create whose answer was lost is never made
//! twice. Answers are classified like Slack's ([`CallError`]): 429 waits
//! as asked, 5xx and lost answers are retried by the outbox, other
//! refusals are final and carry the tracker's own message.

mod github;
mod jira;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use crate::config::tracker::{TrackerKind, Trackers};
use crate::domain::request::{Request, RequestNumber};
use crate::slack::api::{Answer, CallError, HttpClient, round_trip};

/// An issue in a tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// `PROJ-7`, or `acme/app#12`.
    pub key: String,
    /// Where people open it.
    pub url: String,
}

/// What the issue is made from.
#[derive(Debug, Clone)]
pub struct NewIssue<'a> {
    pub request: &'a Request,
    /// The request's card in Slack, when it is known.
    pub card_url: Option<String>,
}

/// The label that ties an issue to its request, and finds it again.
pub fn label(number: RequestNumber) -> String {
    format!("intake-{}", number.0)
}

/// Jira and GitHub, as configured.
#[derive(Clone)]
pub struct TrackerClient {
    http: HttpClient,
    trackers: Arc<Trackers>,
    timeout: Duration,
}

impl TrackerClient {
    pub fn new(http: HttpClient, trackers: Trackers, timeout: Duration) -> Self {
        Self {
            http,
            trackers: Arc::new(trackers),
            timeout,
        }
    }

    /// Where Accept creates issues.
    pub fn default_kind(&self) -> TrackerKind {
        self.trackers.default
    }

    /// Creates the issue for `issue.request` in `kind`.
    pub async fn create(&self, kind: TrackerKind, issue: &NewIssue<'_>) -> Result<Issue, CallError> {
        match kind {
            TrackerKind::Jira => jira::create(self, self.jira()?, issue).await,
            TrackerKind::GitHub => github::create(self, self.github()?, issue).await,
        }
    }

    /// The issue an earlier create made for request `number`, if any.
    pub async fn find(&self, kind: TrackerKind, number: RequestNumber) -> Result<Option<Issue>, CallError> {
        match kind {
            TrackerKind::Jira => jira::find(self, self.jira()?, number).await,
            TrackerKind::GitHub => github::find(self, self.github()?, number).await,
        }
    }

    fn jira(&self) -> Result<&crate::config::tracker::JiraSettings, CallError> {
        self.trackers
            .jira
            .as_ref()
            .ok_or_else(|| CallError::Permanent("Jira is not configured ([tracker.jira])".into()))
    }

    fn github(&self) -> Result<&crate::config::tracker::GitHubSettings, CallError> {
        self.trackers
            .github
            .as_ref()
            .ok_or_else(|| CallError::Permanent("GitHub is not configured ([tracker.github])".into()))
    }

    /// Sends one request and classifies the answer: the body of a 2xx, or
    /// the error the outbox acts on (`refusal` reads the tracker's own
    /// message out of a 4xx body).
    async fn exchange(
        &self,
        request: hyper::Request<Full<Bytes>>,
        refusal: fn(&[u8]) -> Option<String>,
    ) -> Result<Bytes, CallError> {
        // Trackers that rate limit without saying for how long get a minute.
        let Answer { status, body } = round_trip(&self.http, request, self.timeout, Duration::from_secs(60)).await?;
        if status.is_success() {
            return Ok(body);
        }
        let message = refusal(&body).unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        Err(CallError::Permanent(format!("HTTP {}: {message}", status.as_u16())))
    }
}
