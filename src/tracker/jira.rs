//! Jira Cloud REST v3: `POST /rest/api/3/issue` with the description in
//! Atlassian Document Format, and `GET /rest/api/3/search/jql` to find the
//! issue an earlier create made (by its `intake-N` label). Basic auth with
//! the account's email and API token.

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Issue, NewIssue, TrackerClient, label};
use crate::config::tracker::JiraSettings;
use crate::domain::request::{RequestKind, RequestNumber};
use crate::slack::api::CallError;

pub(super) async fn create(
    client: &TrackerClient,
    jira: &JiraSettings,
    issue: &NewIssue<'_>,
) -> Result<Issue, CallError> {
    let body = issue_body(jira, issue).to_string();
    let request = request(jira, hyper::Method::POST, "/rest/api/3/issue", Bytes::from(body))?;
    let answer = client.exchange(request, refusal).await?;
    #[derive(Deserialize)]
    struct Created {
        key: String,
    }
    let created: Created = serde_json::from_slice(&answer)
        .map_err(|e| CallError::Permanent(format!("unreadable answer from Jira's create: {e}")))?;
    Ok(issue_at(jira, created.key))
}

pub(super) async fn find(
    client: &TrackerClient,
    jira: &JiraSettings,
    number: RequestNumber,
) -> Result<Option<Issue>, CallError> {
    let jql = format!("project = \"{}\" AND labels = \"{}\"", jira.project_key, label(number));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("jql", &jql)
        .append_pair("fields", "key")
        .append_pair("maxResults", "1")
        .finish();
    let path = format!("/rest/api/3/search/jql?{query}");
    let request = request(jira, hyper::Method::GET, &path, Bytes::new())?;
    let answer = client.exchange(request, refusal).await?;
    #[derive(Deserialize)]
    struct Found {
        #[serde(default)]
        issues: Vec<Key>,
    }
    #[derive(Deserialize)]
    struct Key {
        key: String,
    }
    let found: Found = serde_json::from_slice(&answer)
        .map_err(|e| CallError::Permanent(format!("unreadable answer from Jira's search: {e}")))?;
    Ok(found.issues.into_iter().next().map(|k| issue_at(jira, k.key)))
}

fn issue_at(jira: &JiraSettings, key: String) -> Issue {
    Issue {
        url: format!("{}/browse/{key}", jira.base_url),
        key,
    }
}

fn request(
    jira: &JiraSettings,
    method: hyper::Method,
    path: &str,
    body: Bytes,
) -> Result<hyper::Request<Full<Bytes>>, CallError> {
    use secrecy::ExposeSecret;
    let credentials = format!("{}:{}", jira.email, jira.api_token.expose_secret());
    let basic = base64::engine::general_purpose::STANDARD.encode(credentials);
    hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", jira.base_url))
        .header(AUTHORIZATION, format!("Basic {basic}"))
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| CallError::Permanent(format!("bad Jira request: {e}")))
}

/// The create's body: summary, type, labels, and the description as an
/// Atlassian Document Format document (Jira Cloud's v3 API takes no
/// plain text), with the link, the submitter and the Slack card.
fn issue_body(jira: &JiraSettings, issue: &NewIssue<'_>) -> Value {
    let request = issue.request;
    let issue_type = jira.issue_type.clone().unwrap_or_else(|| match request.kind {
        RequestKind::Bug => "Bug".into(),
        RequestKind::Feature => "Story".into(),
    });
    let text = |t: &str| json!({"type": "text", "text": t});
    let link = |url: &str, shown: &str| json!({"type": "text", "text": shown, "marks": [{"type": "link", "attrs": {"href": url}}]});
    let paragraph = |content: Vec<Value>| json!({"type": "paragraph", "content": content});
    let mut content: Vec<Value> = request
        .description
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| paragraph(vec![text(p)]))
        .collect();
    if let Some(url) = &request.link {
        content.push(paragraph(vec![text("Link: "), link(url.as_str(), url.as_str())]));
    }
    let mut filed = vec![text(&format!(
        "Filed in Slack as {} by Slack user {}",
        request.number, request.submitter
    ))];
    if let Some(card) = &issue.card_url {
        filed.push(text(" — "));
        filed.push(link(card, "the request's card"));
    }
    content.push(paragraph(filed));
    json!({
        "fields": {
            "project": {"key": jira.project_key},
            "summary": request.title.as_str(),
            "issuetype": {"name": issue_type},
            "labels": ["intake", label(request.number)],
            "description": {"type": "doc", "version": 1, "content": content},
        }
    })
}

/// Jira's refusal: `{"errorMessages": [...], "errors": {"field": "..."}}`.
fn refusal(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Refusal {
        #[serde(default, rename = "errorMessages")]
        messages: Vec<String>,
        #[serde(default)]
        errors: std::collections::BTreeMap<String, String>,
    }
    let refusal: Refusal = serde_json::from_slice(body).ok()?;
    let all: Vec<String> = refusal
        .messages
        .into_iter()
        .chain(
            refusal
                .errors
                .into_iter()
                .map(|(field, message)| format!("{field}: {message}")),
        )
        .collect();
    (!all.is_empty()).then(|| all.join("; "))
}
