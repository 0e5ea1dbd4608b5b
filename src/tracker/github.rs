//! GitHub Issues (REST, API version 2022-11-28): `POST
//! /repos/{owner}/{repo}/issues`, and `GET
//! /repos/{owner}/{repo}/issues?labels=intake-N&state=all` to find the
//! issue an earlier create made. A bearer token; GitHub refuses requests
//! without a `User-Agent`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use serde::Deserialize;
use serde_json::json;

use super::{Issue, NewIssue, TrackerClient, label};
use crate::config::tracker::GitHubSettings;
use crate::domain::request::RequestNumber;
use crate::slack::api::CallError;

#[derive(Deserialize)]
struct Answered {
    number: u64,
    html_url: String,
}

pub(super) async fn create(
    client: &TrackerClient,
    github: &GitHubSettings,
    issue: &NewIssue<'_>,
) -> Result<Issue, CallError> {
    let request = issue.request;
    let mut body = request.description.clone();
    if let Some(url) = &request.link {
        body.push_str(&format!("\n\n**Link:** {}", url.as_str()));
    }
    body.push_str(&format!(
        "\n\n---\nFiled in Slack as {} by Slack user `{}`",
        request.number, request.submitter
    ));
    if let Some(card) = &issue.card_url {
        body.push_str(&format!(" ([the request's card]({card}))"));
    }
    let payload = json!({
        "title": request.title.as_str(),
        "body": body,
        "labels": ["intake", label(request.number)],
    });
    let path = format!("/repos/{}/issues", github.repo);
    let request = http_request(github, hyper::Method::POST, &path, Bytes::from(payload.to_string()))?;
    let answer = client.exchange(request, refusal).await?;
    let created: Answered = serde_json::from_slice(&answer)
        .map_err(|e| CallError::Permanent(format!("unreadable answer from GitHub's create: {e}")))?;
    Ok(issue_of(github, created))
}

pub(super) async fn find(
    client: &TrackerClient,
    github: &GitHubSettings,
    number: RequestNumber,
) -> Result<Option<Issue>, CallError> {
    let path = format!("/repos/{}/issues?labels={}&state=all", github.repo, label(number));
    let request = http_request(github, hyper::Method::GET, &path, Bytes::new())?;
    let answer = client.exchange(request, refusal).await?;
    let found: Vec<Answered> = serde_json::from_slice(&answer)
        .map_err(|e| CallError::Permanent(format!("unreadable answer from GitHub's issue list: {e}")))?;
    Ok(found.into_iter().next().map(|a| issue_of(github, a)))
}

fn issue_of(github: &GitHubSettings, answered: Answered) -> Issue {
    Issue {
        key: format!("{}#{}", github.repo, answered.number),
        url: answered.html_url,
    }
}

fn http_request(
    github: &GitHubSettings,
    method: hyper::Method,
    path: &str,
    body: Bytes,
) -> Result<hyper::Request<Full<Bytes>>, CallError> {
    use secrecy::ExposeSecret;
    hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", github.api_url))
        .header(AUTHORIZATION, format!("Bearer {}", github.token.expose_secret()))
        .header(ACCEPT, "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .header(USER_AGENT, "intake")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| CallError::Permanent(format!("bad GitHub request: {e}")))
}

/// GitHub's refusal: `{"message": "...", "errors": [{"message"|"code", "field"}]}`.
fn refusal(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Refusal {
        message: String,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    let refusal: Refusal = serde_json::from_slice(body).ok()?;
    let details: Vec<String> = refusal
        .errors
        .iter()
        .filter_map(|e| e.get("message").or_else(|| e.get("code")).and_then(|m| m.as_str()))
        .map(str::to_owned)
        .collect();
    Some(match details.is_empty() {
        true => refusal.message,
        false => format!("{} ({})", refusal.message, details.join("; ")),
    })
}
