//! The Slack app manifest: pointed at this deployment's URL, or for
//! Socket Mode (no request URLs; intake connects to Slack).

/// How Slack will reach the app.
#[derive(Debug, Clone, Copy)]
pub enum Delivery<'a> {
    /// Slack POSTs to this public base URL.
    Url(&'a str),
    /// Slack sends over the WebSocket intake opens (`slack.transport`).
    Socket,
}

/// YAML to paste into "Create New App → From an app manifest".
pub fn manifest(delivery: Delivery<'_>) -> String {
    // The request URL lines, each with its indentation; none over Socket Mode.
    let (command_url, events_url, interactivity_url, socket) = match delivery {
        Delivery::Url(base_url) => {
            let base = base_url.trim_end_matches('/');
            (
                format!("\n      url: {base}/slack/commands"),
                format!("\n    request_url: {base}/slack/events"),
                format!("\n    request_url: {base}/slack/interactions"),
                false,
            )
        }
        Delivery::Socket => (String::new(), String::new(), String::new(), true),
    };
    format!(
        r#"_metadata:
  major_version: 1
  minor_version: 1
display_information:
  name: intake
  description: File requests with /request; triage, SLAs and answers in Slack.
features:
  app_home:
    home_tab_enabled: true
    messages_tab_enabled: true
    messages_tab_read_only_enabled: false
  bot_user:
    display_name: intake
    always_online: true
  slash_commands:
    - command: /request{command_url}
      description: File a request, or `/request help`
      usage_hint: "[title | help]"
      should_escape: false
  shortcuts:
    - name: File as request
      type: message
      callback_id: file_as_request
      description: File this message as a bug or feature request
oauth_config:
  scopes:
    bot:
      - commands          # /request
      - chat:write        # intake posts, updates, DMs, ephemeral replies
      - im:write          # DMs to submitters and owners
      - reactions:read    # escalation and filing by emoji
      - users:read        # names in messages
      - usergroups:read   # triagers from a user group
      - channels:history  # replies in intake threads (relayed); read a message filed by emoji; find a lost post
      - groups:history    #   (the same, when the intake channel is private)
      - im:history        # submitters' replies in their DMs (relayed); find a lost DM
settings:
  event_subscriptions:{events_url}
    bot_events:
      - reaction_added
      - reaction_removed
      - app_home_opened
      - message.channels  # the conversation relay: replies in intake threads
      - message.groups    #   (in a private intake channel)
      - message.im        #   and the submitter's replies in their DM
  interactivity:
    is_enabled: true{interactivity_url}
  org_deploy_enabled: false
  socket_mode_enabled: {socket}
  token_rotation_enabled: false
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_http_every_request_url_points_at_the_base() {
        let yaml = manifest(Delivery::Url("https://intake.example.com/"));
        for url in ["/slack/commands", "/slack/events", "/slack/interactions"] {
            assert!(
                yaml.contains(&format!("https://intake.example.com{url}\n")),
                "{url}:\n{yaml}"
            );
        }
        assert!(yaml.contains("socket_mode_enabled: false"));
    }

    #[test]
    fn both_deliveries_subscribe_to_the_messages_the_relay_reads() {
        for yaml in [
            manifest(Delivery::Url("https://intake.example.com")),
            manifest(Delivery::Socket),
        ] {
            for line in [
                "- message.channels",
                "- message.groups",
                "- message.im",
                "- channels:history",
                "- groups:history",
                "- im:history",
            ] {
                assert!(yaml.contains(line), "{line}:\n{yaml}");
            }
        }
    }

    #[test]
    fn socket_mode_has_no_request_urls() {
        let yaml = manifest(Delivery::Socket);
        assert!(yaml.contains("socket_mode_enabled: true"), "{yaml}");
        assert!(!yaml.contains("url:"), "{yaml}");
        // The same command, events and interactivity, only without URLs.
        assert!(yaml.contains("- command: /request\n      description:"), "{yaml}");
        assert!(yaml.contains("event_subscriptions:\n    bot_events:"), "{yaml}");
        assert!(yaml.contains("is_enabled: true\n"), "{yaml}");
    }
}
