//! The conversation between a request's submitter and the people in its
//! intake thread (issue 15). A person's reply in the intake thread (the
//! thread under the card) is relayed to the submitter as a DM in their
//! receipt's thread; the submitter's reply there is posted into the intake
//! thread. While the request needs info, the submitter's reply is their
//! answer: the Add info step runs, as the submitter, through the same
//! [`run_step`], and its thread line shows the answer (nothing else is
//! relayed).
//!
//! Thread replies are recorded on the ack path with the reactions
//! (`Reactions::keep`, de-duplicated by event id) and processed here by
//! the same worker. Each reply is relayed under the outbox key
//! `relay:<channel>:<ts>`: the same message delivered again, under any
//! event id, enqueues nothing; an answer taken by Add info takes that key
//! in the step's transaction, so it is never also relayed as a line.
//!
//! The ack path judges a message by its shape only (no read): every
//! person's thread reply in a conversation intake is in is recorded once
//! and looked up here through an index. A reply processed before its
//! card's or receipt's address is recorded (moments after Slack posted
//! it; no person answers that fast) is taken for another thread's.

use chrono::{DateTime, Utc};
use tracing::info;

use crate::context::Context;
use crate::domain::request::Request;
use crate::domain::state::State;
use crate::domain::text::{TEXT_MAX, Text};
use crate::domain::triage::Event;
use crate::outbox::{DedupeKey, OutboundMessage};
use crate::slack::inbound::ThreadReply;
use crate::slack::render::relay as words;
use crate::store::StoreError;
use crate::store::requests::{self, Thread};

use super::triage_step::{StepOutcome, actor, run_step_taking};

/// Relays one reply, or takes it as the submitter's answer; a reply in a
/// thread that is no request's is ignored.
pub async fn process(ctx: &Context, reply: &ThreadReply, now: DateTime<Utc>) -> Result<(), StoreError> {
    let Some((request, thread)) = requests::find_by_thread(ctx.store.db(), &reply.parent()).await? else {
        info!("a thread reply outside any request's conversation; ignored");
        return Ok(());
    };
    tracing::Span::current().record("request", request.number.0);
    let key = DedupeKey::relay(&reply.channel, &reply.ts);
    let message = match thread {
        // The submitter sees what they wrote in the intake thread themselves.
        Thread::Intake if reply.user == request.submitter => return Ok(()),
        Thread::Intake => words::to_submitter(&request, &reply.user, &reply.text),
        // Only the submitter is in their DM with intake; anyone else is no
        // part of this conversation.
        Thread::Receipt if reply.user != request.submitter => return Ok(()),
        Thread::Receipt => {
            if answered(ctx, &request, reply, &key, now).await? {
                return Ok(());
            }
            words::to_intake_thread(&request, &reply.text)
        }
    };
    let relayed = OutboundMessage::post(Some(request.number), key, message);
    if crate::store::outbox::enqueue(ctx.store.writer(), relayed, now).await? {
        info!(user = %reply.user, ?thread, "reply relayed");
        metrics::counter!("intake_relayed_total").increment(1);
        ctx.outbox.wake();
    } else {
        info!("this reply was relayed already (delivered again); nothing more sent");
    }
    Ok(())
}

/// While the request needs info, the submitter's reply is their answer:
/// the Add info step, as if they had clicked *Add info* and typed it, with
/// the relay's key taken in the same transaction. `false` when it is no
/// answer (another state, no words, or the step was refused: a race, or
/// this reply was taken already), to be relayed as a line instead.
async fn answered(
    ctx: &Context,
    request: &Request,
    reply: &ThreadReply,
    key: &DedupeKey,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if request.state != State::NeedsInfo {
        return Ok(false);
    }
    // A reply longer than an answer may be is cut, not refused: it was sent.
    let words: String = reply.text.chars().take(TEXT_MAX).collect();
    let Ok(answer) = Text::parse(&words, "answer") else {
        return Ok(false);
    };
    let actor = actor(ctx, &reply.user).await;
    let event = Event::AddInfo { answer };
    let taken = std::slice::from_ref(key);
    match run_step_taking(ctx, request.number, &event, &actor, now, taken).await? {
        StepOutcome::Done(_) => {
            info!("the submitter's reply answered the question");
            Ok(true)
        }
        StepOutcome::Refused(why) => {
            info!(why, "the reply is no answer now; relayed as a line");
            Ok(false)
        }
        StepOutcome::NoSuchRequest => Ok(false),
    }
}
