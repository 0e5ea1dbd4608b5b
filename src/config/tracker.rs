//! `[tracker]`: Jira Cloud or GitHub Issues, where Accept creates the issue
//! and whose webhooks bring its resolution back. Both optional; with
//! neither, Accept stores the key someone typed, as before.

use secrecy::{ExposeSecret, SecretString};

use super::file::{RawGitHub, RawJira, RawTracker};
use super::{ConfigError, invalid};

/// Which tracker Accept creates issues in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackerKind {
    Jira,
    GitHub,
}

impl TrackerKind {
    /// As stored in an outbox order (`jira`, `github`).
    pub fn as_str(self) -> &'static str {
        match self {
            TrackerKind::Jira => "jira",
            TrackerKind::GitHub => "github",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [TrackerKind::Jira, TrackerKind::GitHub]
            .into_iter()
            .find(|k| k.as_str() == value)
    }

    pub fn name(self) -> &'static str {
        match self {
            TrackerKind::Jira => "Jira",
            TrackerKind::GitHub => "GitHub",
        }
    }
}

#[derive(Debug, Clone)]
pub struct JiraSettings {
    /// `https://acme.atlassian.net`, without a trailing slash.
    pub base_url: String,
    pub email: String,
    pub project_key: String,
    /// `None`: `Story` for features, `Bug` for bugs.
    pub issue_type: Option<String>,
    pub api_token: SecretString,
    /// `None`: `/webhooks/jira` refuses every call.
    pub webhook_secret: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct GitHubSettings {
    /// `https://api.github.com`, without a trailing slash.
    pub api_url: String,
    /// `owner/name`.
    pub repo: String,
    pub token: SecretString,
    /// `None`: `/webhooks/github` refuses every call.
    pub webhook_secret: Option<SecretString>,
}

/// The configured trackers; `None` from [`validate`] when there are none.
#[derive(Debug, Clone)]
pub struct Trackers {
    /// Where Accept creates issues.
    pub default: TrackerKind,
    pub jira: Option<JiraSettings>,
    pub github: Option<GitHubSettings>,
}

impl Trackers {
    /// Where a typed issue key (`PROJ-7`) is opened: in the configured
    /// Jira site, whatever its project.
    pub fn issue_url(&self, key: &str) -> Option<String> {
        let jira = self.jira.as_ref()?;
        Some(format!("{}/browse/{key}", jira.base_url))
    }
}

pub fn validate(raw: &RawTracker) -> Result<Option<Trackers>, ConfigError> {
    let jira = jira(&raw.jira)?;
    let github = github(&raw.github)?;
    let default = match (raw.default.trim(), &jira, &github) {
        (_, None, None) => return Ok(None),
        ("jira", Some(_), _) | ("", Some(_), None) => TrackerKind::Jira,
        ("github", _, Some(_)) | ("", None, Some(_)) => TrackerKind::GitHub,
        ("", Some(_), Some(_)) => {
            return Err(invalid(
                "tracker.default",
                "both Jira and GitHub are configured: set \"jira\" or \"github\"",
            ));
        }
        (other, _, _) => {
            return Err(invalid(
                "tracker.default",
                format!("{other:?} is not a configured tracker (\"jira\" or \"github\", with its [tracker.*] section)"),
            ));
        }
    };
    Ok(Some(Trackers { default, jira, github }))
}

fn jira(raw: &RawJira) -> Result<Option<JiraSettings>, ConfigError> {
    let base_url = raw.base_url.trim().trim_end_matches('/');
    if base_url.is_empty() {
        return Ok(None);
    }
    http_url("tracker.jira.base_url", base_url)?;
    let email = raw.email.trim();
    if !email.contains('@') {
        return Err(invalid(
            "tracker.jira.email",
            "is required: the Atlassian account the API token belongs to",
        ));
    }
    let project_key = raw.project_key.trim();
    let key_ok = project_key.len() >= 2
        && project_key.starts_with(|c: char| c.is_ascii_uppercase())
        && project_key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !key_ok {
        return Err(invalid(
            "tracker.jira.project_key",
            format!("{project_key:?} is not a Jira project key (like PROJ)"),
        ));
    }
    Ok(Some(JiraSettings {
        base_url: base_url.to_string(),
        email: email.to_string(),
        project_key: project_key.to_string(),
        issue_type: Some(raw.issue_type.trim().to_string()).filter(|t| !t.is_empty()),
        api_token: required("tracker.jira.api_token", "JIRA_API_TOKEN", &raw.api_token)?,
        webhook_secret: optional(&raw.webhook_secret),
    }))
}

fn github(raw: &RawGitHub) -> Result<Option<GitHubSettings>, ConfigError> {
    let repo = raw.repo.trim();
    if repo.is_empty() {
        return Ok(None);
    }
    let repo_ok = repo
        .split_once('/')
        .is_some_and(|(owner, name)| !owner.is_empty() && !name.is_empty() && !name.contains('/'));
    if !repo_ok {
        return Err(invalid("tracker.github.repo", format!("{repo:?} is not owner/name")));
    }
    let api_url = match raw.api_url.trim().trim_end_matches('/') {
        "" => "https://api.github.com",
        url => url,
    };
    http_url("tracker.github.api_url", api_url)?;
    Ok(Some(GitHubSettings {
        api_url: api_url.to_string(),
        repo: repo.to_string(),
        token: required("tracker.github.token", "GITHUB_TOKEN", &raw.token)?,
        webhook_secret: optional(&raw.webhook_secret),
    }))
}

fn http_url(key: &str, value: &str) -> Result<(), ConfigError> {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        _ => Err(invalid(key, format!("{value:?} is not an http(s) URL"))),
    }
}

fn required(key: &str, env: &str, value: &SecretString) -> Result<SecretString, ConfigError> {
    optional(value).ok_or_else(|| {
        invalid(
            key,
            format!("is required with this tracker: set the {env} environment variable"),
        )
    })
}

fn optional(value: &SecretString) -> Option<SecretString> {
    Some(value.expose_secret().trim())
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jira_raw() -> RawJira {
        RawJira {
            base_url: "https://acme.atlassian.net/".into(),
            email: "pm@acme.example".into(),
            project_key: "PROJ".into(),
            api_token: SecretString::from("t0ken"),
            ..RawJira::default()
        }
    }

    #[test]
    fn none_configured_is_none() {
        assert!(validate(&RawTracker::default()).unwrap().is_none());
    }

    #[test]
    fn one_tracker_is_the_default_and_both_need_a_choice() {
        let raw = RawTracker {
            jira: jira_raw(),
            ..RawTracker::default()
        };
        let trackers = validate(&raw).unwrap().unwrap();
        assert_eq!(trackers.default, TrackerKind::Jira);
        assert_eq!(trackers.jira.unwrap().base_url, "https://acme.atlassian.net");

        let both = RawTracker {
            jira: jira_raw(),
            github: RawGitHub {
                repo: "acme/app".into(),
                token: SecretString::from("ghp"),
                ..RawGitHub::default()
            },
            default: String::new(),
        };
        let err = validate(&both).unwrap_err().to_string();
        assert!(err.contains("tracker.default"), "{err}");
        let chosen = RawTracker {
            default: "github".into(),
            ..both
        };
        assert_eq!(validate(&chosen).unwrap().unwrap().default, TrackerKind::GitHub);
    }

    #[test]
    fn each_mistake_names_its_key() {
        let cases = [
            (
                RawJira {
                    api_token: SecretString::from(""),
                    ..jira_raw()
                },
                "JIRA_API_TOKEN",
            ),
            (
                RawJira {
                    project_key: "proj".into(),
                    ..jira_raw()
                },
                "tracker.jira.project_key",
            ),
            (
                RawJira {
                    base_url: "acme.atlassian.net".into(),
                    ..jira_raw()
                },
                "tracker.jira.base_url",
            ),
        ];
        for (jira, expected) in cases {
            let raw = RawTracker {
                jira,
                ..RawTracker::default()
            };
            let err = validate(&raw).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        let github = RawTracker {
            github: RawGitHub {
                repo: "acme".into(),
                token: SecretString::from("ghp"),
                ..RawGitHub::default()
            },
            ..RawTracker::default()
        };
        assert!(validate(&github).unwrap_err().to_string().contains("owner/name"));
    }
}
