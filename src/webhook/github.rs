//! GitHub's `issues` webhook (`X-GitHub-Event: issues`): `closed` with
//! `state_reason` `completed` is done, `not_planned` or `duplicate` is not
//! planned; `reopened` is reopened. Other events and actions are ignored;
//! `ping` (sent when the webhook is created) is answered.

use serde::Deserialize;

use super::{Change, Issue, ParseError, TrackerUpdate, references};

#[derive(Deserialize)]
struct Payload {
    action: String,
    issue: IssuePayload,
    repository: Option<Repository>,
}

#[derive(Deserialize)]
struct IssuePayload {
    number: u64,
    html_url: String,
    #[serde(default)]
    state_reason: Option<String>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

/// Reads a delivery of event `event` (the `X-GitHub-Event` header).
pub fn parse(event: Option<&str>, body: &[u8]) -> Result<TrackerUpdate, ParseError> {
    match event {
        Some("ping") => return Ok(TrackerUpdate::Ping),
        Some("issues") => {}
        Some(other) => return Ok(TrackerUpdate::Ignored(format!("GitHub event {other:?}"))),
        None => return Err(ParseError("missing X-GitHub-Event header".into())),
    }
    let payload: Payload =
        serde_json::from_slice(body).map_err(|e| ParseError(format!("not a GitHub issues event: {e}")))?;
    let change = match (payload.action.as_str(), payload.issue.state_reason.as_deref()) {
        // Issues closed before GitHub kept a reason have none: done.
        ("closed", Some("completed") | None) => Change::Done { resolution: None },
        ("closed", Some(reason @ ("not_planned" | "duplicate"))) => Change::NotPlanned {
            how: reason.replace('_', " "),
        },
        ("reopened", _) => Change::Reopened,
        (action, reason) => {
            return Ok(TrackerUpdate::Ignored(format!(
                "GitHub issues action {action:?} (state_reason {reason:?})"
            )));
        }
    };
    let label = match &payload.repository {
        Some(repo) => format!("{}#{}", repo.full_name, payload.issue.number),
        None => format!("#{}", payload.issue.number),
    };
    Ok(TrackerUpdate::Issue {
        issue: Issue {
            label,
            stored_as: references([payload.issue.html_url]),
        },
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text::Tracker;

    fn event(action: &str, reason: &str) -> Vec<u8> {
        format!(
            r#"{{"action":"{action}","issue":{{"number":12,"html_url":"https://github.com/acme/app/issues/12","state":"closed","state_reason":{reason},"title":"Export"}},"repository":{{"full_name":"acme/app"}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn closed_completed_is_done_and_not_planned_is_not() {
        let done = parse(Some("issues"), &event("closed", "\"completed\"")).unwrap();
        let TrackerUpdate::Issue { issue, change } = done else {
            panic!("{done:?}")
        };
        assert_eq!(issue.label, "acme/app#12");
        assert_eq!(
            issue.stored_as,
            vec![Tracker::Url("https://github.com/acme/app/issues/12".into())]
        );
        assert_eq!(change, Change::Done { resolution: None });
        assert!(matches!(
            parse(Some("issues"), &event("closed", "\"not_planned\"")).unwrap(),
            TrackerUpdate::Issue {
                change: Change::NotPlanned { .. },
                ..
            }
        ));
        assert!(matches!(
            parse(Some("issues"), &event("reopened", "null")).unwrap(),
            TrackerUpdate::Issue {
                change: Change::Reopened,
                ..
            }
        ));
    }

    #[test]
    fn other_events_and_actions_are_ignored_and_garbage_refused() {
        assert_eq!(parse(Some("ping"), b"{}").unwrap(), TrackerUpdate::Ping);
        assert!(matches!(parse(Some("push"), b"{}").unwrap(), TrackerUpdate::Ignored(_)));
        assert!(matches!(
            parse(Some("issues"), &event("labeled", "null")).unwrap(),
            TrackerUpdate::Ignored(_)
        ));
        assert!(parse(Some("issues"), b"{not json").is_err());
        assert!(parse(None, b"{}").is_err());
    }
}
