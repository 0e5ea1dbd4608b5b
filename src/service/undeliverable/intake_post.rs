//! A request's card that Slack would not post (channel deleted or renamed,
//! bot not invited, blocks refused): the request is marked "not posted"
//! with Slack's error, and the triagers are told what to do, with a *Post
//! again* button (`service::repost`). The submitter's receipt, which waits
//! for the card, says so itself (the dispatcher fills its link).

use chrono::{DateTime, Utc};
use tracing::error;

use crate::context::Context;
use crate::domain::request::{PostKind, RequestNumber};
use crate::outbox::{DedupeKey, OutboundMessage};
use crate::slack::render;
use crate::store::outbox::{self, OutboxRow};
use crate::store::{StoreError, Transaction, requests};

pub async fn died(
    ctx: &Context,
    txn: &Transaction,
    row: &OutboxRow,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (Some(PostKind::Intake), Some(number)) = (outbox::records(row), row.request_id) else {
        return Ok(());
    };
    let number = RequestNumber(number);
    let Some(request) = requests::find(txn, number).await? else {
        return Ok(());
    };
    requests::set_intake_error(txn, number, Some(error)).await?;
    let settings = &ctx.settings;
    // The team's own triagers hear of it, about the team's channel.
    let team = settings.team(&request.team);
    let intake_channel = team.channel.as_str();
    let notice = |to: &str, recipient: &str| {
        OutboundMessage::post(
            Some(number),
            DedupeKey::intake_failed(number, row.id, recipient),
            render::intake_post_failed(&request, to, intake_channel, error),
        )
    };
    let notices: Vec<OutboundMessage> = match (&team.triagers[..], &settings.escalation_channel) {
        ([], Some(channel)) => vec![notice(channel.as_str(), "escalation")],
        ([], None) => {
            error!(
                request = number.0,
                error,
                "request {number} could not be posted to the intake channel and nobody was told: set the team's triagers (or channels.escalation) so someone hears; then run `intake repost {}`",
                number.0
            );
            Vec::new()
        }
        (triagers, _) => triagers.iter().map(|t| notice(t, t)).collect(),
    };
    outbox::enqueue_posts(txn, notices, now).await
}
