//! What a use case receives: the settings, the store, the Slack client,
//! the outbox's wake-up and the triager lookup. Built once by `startup`;
//! cheap to clone.

use std::collections::HashSet;
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

/// Who counts as a triager: the configured ids, plus the members of the
/// configured user group (asked of Slack, cached for five minutes).
pub struct Triagers {
    configured: Vec<String>,
    group: Option<String>,
    slack: SlackApi,
    cache: Mutex<Option<(Instant, HashSet<String>)>>,
}

const GROUP_CACHE: Duration = Duration::from_secs(300);
const FAILURE_CACHE: Duration = Duration::from_secs(60);

impl Triagers {
    pub fn new(settings: &Settings, slack: SlackApi) -> Self {
        Self {
            configured: settings.triagers.clone(),
            group: settings.triage_usergroup.clone(),
            slack,
            cache: Mutex::new(None),
        }
    }

    /// Is `user` a triager? With a user group and a cold cache this asks
    /// Slack (bounded by the look-up timeout), even while Slack waits.
    pub async fn contains(&self, user: &str) -> bool {
        if self.configured.iter().any(|t| t == user) {
            return true;
        }
        let Some(group) = &self.group else {
            return false;
        };
        if let Ok(cache) = self.cache.lock()
            && let Some((at, members)) = cache.as_ref()
            && at.elapsed() < GROUP_CACHE
        {
            return members.contains(user);
        }
        match self.slack.usergroup_members(group).await {
            Ok(members) => {
                let members: HashSet<String> = members.into_iter().collect();
                let found = members.contains(user);
                if let Ok(mut cache) = self.cache.lock() {
                    *cache = Some((Instant::now(), members));
                }
                found
            }
            Err(e) => {
                warn!(error = %e, group, "could not read the triage user group; only configured triagers count for a minute");
                // Remember the failure briefly so every click does not wait on it.
                if let Ok(mut cache) = self.cache.lock() {
                    let now = Instant::now();
                    let aged = now.checked_sub(GROUP_CACHE - FAILURE_CACHE).unwrap_or(now);
                    *cache = Some((aged, HashSet::new()));
                }
                false
            }
        }
    }
}
