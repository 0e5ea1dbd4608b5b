//! Filing a request from a message already in Slack: the *File as request*
//! message shortcut opens the `/request` form filled from the message, and
//! the file emoji (`intake.file_emoji`) files it at once, its author the
//! submitter. Either way the request answers under the message ("Filed as
//! #N", see `file_request`).

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::context::Context;
use crate::domain::request::{MessageRef, NewRequest, SourceMessage, SubmissionForm};
use crate::outbox::DedupeKey;
use crate::slack::Reply;
use crate::slack::api::{CallError, ChannelMessage};
use crate::slack::inbound::MessageShortcut;
use crate::slack::render::{self, replies};
use crate::store::StoreError;
use crate::store::requests::{self, Origin};

use super::explain::{ReplyTo, explain, explained};

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
        &settings.teams,
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

/// What became of a file-emoji reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filed {
    /// Filed, already filed, or explained to the reactor: nothing left.
    Done,
    /// Slack could not be asked now (rate limit, outage): try again.
    Later,
}

/// `reactor` reacted with the file emoji on `message` (Slack event
/// `event_id`): the message becomes a request, once however many react.
pub async fn reacted(
    ctx: &Context,
    event_id: &str,
    reactor: &str,
    message: &MessageRef,
    now: DateTime<Utc>,
) -> Result<Filed, StoreError> {
    let origin_id = format!("message:{}:{}", message.channel, message.ts);
    let db = ctx.store.db();
    // A request's own card or page is no message to file; one already
    // filed is not filed again (the unique origin id guards the race).
    if requests::is_request_message(db, message).await? || requests::filed_as(db, &origin_id).await? {
        return Ok(Filed::Done);
    }
    let tell = |channel: &str, text: String| {
        let reply_to = ReplyTo {
            channel: channel.to_string(),
            user: reactor.to_string(),
            key: DedupeKey::reaction_explanation(event_id),
        };
        async move { explain(ctx, &reply_to, &text, now).await.map(|()| Filed::Done) }
    };
    let read = match ctx.slack.message(message).await {
        Ok(Some(read)) => read,
        Ok(None) => {
            info!(channel = %message.channel, ts = %message.ts, "the file emoji's message is gone; nothing to file");
            return Ok(Filed::Done);
        }
        Err(CallError::Permanent(error)) => {
            warn!(error, channel = %message.channel, "cannot read the message to file");
            // The bot cannot whisper where it cannot read: a DM.
            return tell(reactor, render::cannot_read_to_file(&message.channel, &error)).await;
        }
        Err(e) => {
            warn!(error = %e, "could not read the message to file; trying again soon");
            return Ok(Filed::Later);
        }
    };
    if read.text.trim().is_empty() {
        return tell(&message.channel, replies::nothing_to_file()).await;
    }
    let source = SourceMessage {
        channel: message.channel.clone(),
        ts: message.ts.clone(),
        thread_ts: read.thread_ts.clone().filter(|t| *t != message.ts),
    };
    let submitter = author(&read).unwrap_or(reactor).to_string();
    let settings = &ctx.settings;
    let (title, description) = render::message_fields(&read.text);
    let form = SubmissionForm {
        kind: Some("bug".into()),
        title: Some(title),
        description: Some(description),
        severity: Some(settings.default_severity.as_str().to_string()),
        area: None,
        link: permalink(ctx, &source).await,
    };
    let new = match NewRequest::validate(&form, &submitter, &settings.policy.severities) {
        Ok(new) => new,
        Err(errors) => {
            let problems: Vec<String> = errors.0.into_iter().map(|(_, problem)| problem).collect();
            return tell(&message.channel, replies::message_not_fileable(&problems.join(" "))).await;
        }
    };
    let origin = Origin {
        view_id: origin_id,
        source_channel: Some(message.channel.clone()),
        source_message: Some(source),
        filed_by: Some(reactor.to_string()),
    };
    if let Some(request) = super::file_request::file_alone(ctx, &new, &origin, now).await? {
        tracing::Span::current().record("request", request.number.0);
        info!(
            request = request.number.0,
            submitter, reactor, "message filed with the file emoji"
        );
    }
    Ok(Filed::Done)
}

/// The person who wrote the message; `None` for an app's or a bot's.
fn author(message: &ChannelMessage) -> Option<&str> {
    match message.bot_id {
        Some(_) => None,
        None => message.user.as_deref(),
    }
}
