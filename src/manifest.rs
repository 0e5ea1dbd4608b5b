//! The Slack app manifest, pointed at this deployment's URL.

/// YAML to paste into "Create New App → From an app manifest".
pub fn manifest(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
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
    - command: /request
      url: {base}/slack/commands
      description: File a request, or `/request help`
      usage_hint: "[title | help]"
      should_escape: false
oauth_config:
  scopes:
    bot:
      - commands          # /request
      - chat:write        # intake posts, updates, DMs, ephemeral replies
      - im:write          # DMs to submitters and owners
      - reactions:read    # escalation by emoji
      - users:read        # names in messages
      - usergroups:read   # triagers from a user group
      - channels:history  # find a post whose answer was lost before resending
      - groups:history    #   (the same, in private channels)
      - im:history        #   (the same, in DMs)
settings:
  event_subscriptions:
    request_url: {base}/slack/events
    bot_events:
      - reaction_added
      - reaction_removed
      - app_home_opened
  interactivity:
    is_enabled: true
    request_url: {base}/slack/interactions
  org_deploy_enabled: false
  socket_mode_enabled: false
  token_rotation_enabled: false
"#
    )
}
