//! Telling one person why nothing happened: an ephemeral message in the
//! channel they acted in (a DM when they acted in App Home), through the
//! outbox, once per interaction.

use chrono::{DateTime, Utc};

use crate::context::Context;
use crate::outbox::{DedupeKey, OutboundMessage};
use crate::slack::Reply;
use crate::slack::render::replies;
use crate::store::StoreError;

/// Where to explain a refusal: the channel the click happened in.
#[derive(Debug, Clone)]
pub struct ReplyTo {
    pub channel: String,
    pub user: String,
    /// The explanation's key: one per interaction, so a retried click
    /// explains once.
    pub key: DedupeKey,
}

/// Queues the explanation; it is sent after the ack.
pub async fn explain(ctx: &Context, reply_to: &ReplyTo, text: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    crate::store::outbox::enqueue(ctx.store.writer(), explanation(reply_to, text), now).await?;
    ctx.outbox.wake();
    Ok(())
}

/// The explanation as a message: ephemeral where they acted, or a DM when
/// they acted in App Home (no channel to whisper in) or in their DM.
pub fn explanation(reply_to: &ReplyTo, text: &str) -> OutboundMessage {
    match crate::slack::api::is_user_id(&reply_to.channel) {
        true => OutboundMessage::post(None, reply_to.key.clone(), replies::dm_message(&reply_to.user, text)),
        false => OutboundMessage::ephemeral(
            reply_to.key.clone(),
            replies::ephemeral_message(&reply_to.channel, &reply_to.user, text),
        ),
    }
}

/// Explains, answering Slack with the plain ack (or 503 if even that fails).
pub async fn explained(ctx: &Context, reply_to: &ReplyTo, text: &str) -> Reply {
    match explain(ctx, reply_to, text, Utc::now()).await {
        Ok(()) => Reply::Ack,
        Err(e) => Reply::Unavailable(format!("could not explain the refusal: {e}")),
    }
}
