//! What a use case receives: the settings, the store, the Slack client,
//! the outbox's wake-up and the triager lookup. Built once by `startup`;
//! cheap to clone.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::warn;

use crate::config::Settings;
use crate::slack::api::SlackApi;
use crate::store::Store;

#[derive(Clone)]
pub struct Context {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub slack: SlackApi,
    pub outbox: Outbox,
    pub triagers: Arc<Triagers>,
    /// Jira or GitHub, when configured: where Accept creates issues.
    pub tracker: Option<crate::tracker::TrackerClient>,
}

impl Context {
    pub fn new(settings: Arc<Settings>, store: Store, slack: SlackApi) -> Self {
        let triagers = Arc::new(Triagers::new(&settings, slack.clone()));
        let tracker = settings
            .trackers
            .clone()
            .map(|trackers| crate::tracker::TrackerClient::new(slack.http(), trackers, settings.slack_timeout));
        Self {
            tracker,
            settings,
            store,
            slack,
            outbox: Outbox::default(),
            triagers,
        }
    }
}

/// The dispatcher's doorbell: rung after each commit that enqueued
/// messages, so they go out now rather than at the next poll.
#[derive(Clone, Default)]
pub struct Outbox {
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Returns when [`Outbox::wake`] was called since the last return.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// Who triages which team: each team's configured ids, plus the members
/// of its user group (asked of Slack, cached for five minutes per group).
pub struct Triagers {
    teams: Vec<TeamTriagers>,
    slack: SlackApi,
    groups: Mutex<HashMap<String, (Instant, HashSet<String>)>>,
}

struct TeamTriagers {
    key: String,
    configured: Vec<String>,
    group: Option<String>,
}

const GROUP_CACHE: Duration = Duration::from_secs(300);
const FAILURE_CACHE: Duration = Duration::from_secs(60);

impl Triagers {
    pub fn new(settings: &Settings, slack: SlackApi) -> Self {
        let teams = settings
            .teams
            .all()
            .iter()
            .map(|team| TeamTriagers {
                key: team.key.clone(),
                configured: team.triagers.clone(),
                group: team.usergroup.clone(),
            })
            .collect();
        Self {
            teams,
            slack,
            groups: Mutex::new(HashMap::new()),
        }
    }

    /// The teams (keys) `user` triages. With a user group and a cold cache
    /// this asks Slack (bounded by the look-up timeout), even while Slack
    /// waits.
    pub async fn teams_of(&self, user: &str) -> Vec<String> {
        let mut teams = Vec::new();
        for team in &self.teams {
            let member = team.configured.iter().any(|t| t == user)
                || match &team.group {
                    Some(group) => self.in_group(group, user).await,
                    None => false,
                };
            if member {
                teams.push(team.key.clone());
            }
        }
        teams
    }

    /// Does `user` triage some team?
    pub async fn contains(&self, user: &str) -> bool {
        !self.teams_of(user).await.is_empty()
    }

    async fn in_group(&self, group: &str, user: &str) -> bool {
        if let Ok(groups) = self.groups.lock()
            && let Some((at, members)) = groups.get(group)
            && at.elapsed() < GROUP_CACHE
        {
            return members.contains(user);
        }
        match self.slack.usergroup_members(group).await {
            Ok(members) => {
                let members: HashSet<String> = members.into_iter().collect();
                let found = members.contains(user);
                if let Ok(mut groups) = self.groups.lock() {
                    groups.insert(group.to_string(), (Instant::now(), members));
                }
                found
            }
            Err(e) => {
                warn!(error = %e, group, "could not read a triage user group; only configured triagers count for a minute");
                // Remember the failure briefly so every click does not wait on it.
                if let Ok(mut groups) = self.groups.lock() {
                    let now = Instant::now();
                    let aged = now.checked_sub(GROUP_CACHE - FAILURE_CACHE).unwrap_or(now);
                    groups.insert(group.to_string(), (aged, HashSet::new()));
                }
                false
            }
        }
    }
}
