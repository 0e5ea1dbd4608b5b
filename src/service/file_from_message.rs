//! Filing a request from a message already in Slack: the *File as request*
//! message shortcut opens the `/request` form filled from the message; the
//! filed request answers under the message ("Filed as #N", see
//! `file_request`).

use tracing::warn;

use crate::context::Context;
use crate::domain::request::SourceMessage;
use crate::outbox::DedupeKey;
use crate::slack::Reply;
use crate::slack::inbound::MessageShortcut;
use crate::slack::render::{self, replies};

use super::explain::{ReplyTo, explained};

/// *File as request*: the form, filled from the message.
pub async fn shortcut(ctx: &Context, shortcut: MessageShortcut) -> Reply {
    let reply_to = ReplyTo {
        channel: shortcut.message.channel.clone(),
        user: shortcut.user.clone(),
        key: DedupeKey::explanation(&shortcut.trigger_id),
    };
    if shortcut.text.trim().is_empty() {
        return explained(ctx, &reply_to, &replies::nothing_to_file()).await;
    }
    let settings = &ctx.settings;
    let permalink = permalink(ctx, &shortcut.message).await;
    let view = render::message_modal(
        &settings.policy.severities,
        settings.default_severity.as_str(),
        &settings.areas,
        &shortcut.message,
        &shortcut.text,
        permalink.as_deref(),
    );
    match ctx.slack.open_view(&shortcut.trigger_id, view).await {
        Ok(()) => Reply::Ack,
        Err(e) => {
            warn!(error = %e, "views.open failed for File as request");
            explained(ctx, &reply_to, &replies::shortcut_form_not_opened()).await
        }
    }
}

/// The message's permalink, built from the workspace's address (asked of
/// Slack once); `None` while Slack cannot say, and the form opens without.
pub async fn permalink(ctx: &Context, message: &SourceMessage) -> Option<String> {
    let workspace = ctx.slack.workspace_url().await?;
    Some(render::message_url(
        &workspace,
        &message.channel,
        &message.ts,
        message.thread_ts.as_deref(),
    ))
}
