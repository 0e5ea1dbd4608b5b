//! Jira Cloud's `jira:issue_updated` webhook. Only updates that change the
//! status count: into the `done` status category it is done — or not
//! planned when the resolution says so (`Won't Do`, `Won't Fix`,
//! `Declined`, `Duplicate`); out of it (any other category) it is reopened,
//! which only moves a request that is resolved.

use serde::Deserialize;

use super::{Change, Issue, ParseError, TrackerUpdate, references};

/// Resolutions that close an issue without doing the work (compared
/// without case; Jira's defaults and the common additions).
const NOT_PLANNED: [&str; 4] = ["won't do", "won't fix", "declined", "duplicate"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    webhook_event: String,
    issue: Option<IssuePayload>,
    changelog: Option<Changelog>,
}

#[derive(Deserialize)]
struct IssuePayload {
    key: String,
    #[serde(default)]
    fields: Fields,
}

#[derive(Deserialize, Default)]
struct Fields {
    status: Option<Status>,
    resolution: Option<Named>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    status_category: Option<Category>,
}

#[derive(Deserialize)]
struct Category {
    key: String,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Changelog {
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    field: String,
}

/// Reads a delivery; `base_url` (the configured site) names the issue's
/// link too, in case someone pasted that instead of the key.
pub fn parse(base_url: &str, body: &[u8]) -> Result<TrackerUpdate, ParseError> {
    let payload: Payload = serde_json::from_slice(body).map_err(|e| ParseError(format!("not a Jira webhook: {e}")))?;
    if payload.webhook_event != "jira:issue_updated" {
        return Ok(TrackerUpdate::Ignored(format!(
            "Jira event {:?}",
            payload.webhook_event
        )));
    }
    let issue = payload
        .issue
        .ok_or_else(|| ParseError("jira:issue_updated without an issue".into()))?;
    let status_changed = payload
        .changelog
        .is_some_and(|log| log.items.iter().any(|item| item.field.eq_ignore_ascii_case("status")));
    if !status_changed {
        return Ok(TrackerUpdate::Ignored(format!("{}: no status change", issue.key)));
    }
    let category = issue
        .fields
        .status
        .and_then(|s| s.status_category)
        .map(|c| c.key)
        .ok_or_else(|| ParseError(format!("{}: no fields.status.statusCategory.key", issue.key)))?;
    let resolution = issue.fields.resolution.map(|r| r.name);
    let change = match (category.as_str(), resolution) {
        ("done", Some(how)) if NOT_PLANNED.contains(&how.trim().to_lowercase().as_str()) => Change::NotPlanned { how },
        ("done", resolution) => Change::Done { resolution },
        _ => Change::Reopened,
    };
    let browse = format!("{}/browse/{}", base_url.trim_end_matches('/'), issue.key);
    Ok(TrackerUpdate::Issue {
        issue: Issue {
            stored_as: references([issue.key.clone(), browse]),
            label: issue.key,
        },
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn updated(category: &str, resolution: Option<&str>, changed: &str) -> Vec<u8> {
        let resolution = resolution.map_or("null".to_string(), |r| format!(r#"{{"name":"{r}"}}"#));
        format!(
            r#"{{"webhookEvent":"jira:issue_updated","issue":{{"key":"PROJ-7","fields":{{"status":{{"name":"X","statusCategory":{{"key":"{category}"}}}},"resolution":{resolution}}}}},"changelog":{{"items":[{{"field":"{changed}"}}]}}}}"#
        )
        .into_bytes()
    }

    fn change(body: &[u8]) -> Change {
        match parse("https://acme.atlassian.net", body).unwrap() {
            TrackerUpdate::Issue { issue, change } => {
                assert_eq!(issue.label, "PROJ-7");
                assert_eq!(issue.stored_as.len(), 2, "the key and the browse link");
                change
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn done_not_planned_and_reopened_follow_the_status_category() {
        assert_eq!(
            change(&updated("done", Some("Fixed"), "status")),
            Change::Done {
                resolution: Some("Fixed".into())
            }
        );
        assert_eq!(
            change(&updated("done", Some("Won't Do"), "status")),
            Change::NotPlanned { how: "Won't Do".into() }
        );
        assert_eq!(change(&updated("indeterminate", None, "status")), Change::Reopened);
        assert_eq!(
            Change::done_note(
                &Issue {
                    label: "PROJ-7".into(),
                    stored_as: vec![]
                },
                Some("Fixed")
            ),
            "Done in PROJ-7 (Fixed)"
        );
    }

    #[test]
    fn updates_without_a_status_change_and_other_events_are_ignored() {
        let body = updated("done", Some("Fixed"), "summary");
        assert!(matches!(
            parse("https://acme.atlassian.net", &body).unwrap(),
            TrackerUpdate::Ignored(_)
        ));
        let created = br#"{"webhookEvent":"jira:issue_created","issue":{"key":"PROJ-8"}}"#;
        assert!(matches!(
            parse("https://acme.atlassian.net", created).unwrap(),
            TrackerUpdate::Ignored(_)
        ));
        assert!(parse("https://acme.atlassian.net", b"[]").is_err());
    }
}
