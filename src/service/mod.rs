//! The use cases, one file each: file a request (from the form or from a
//! message), run a triage step, open a form, show a list, record a reaction, run the scheduled jobs, post a
//! card again. Each receives a [`Context`], opens at most one transaction,
//! and answers with a transport-neutral [`Reply`].
//!
//! The three functions here are the one path from a parsed Slack payload
//! to its use case: HTTP calls them today, and any other transport
//! (Socket Mode) calls the same ones.

pub mod edit;
pub mod explain;
pub mod file_from_message;
pub mod file_request;
pub mod home;
pub mod open_form;
pub mod reaction;
pub mod relay;
pub mod repost;
pub mod scheduled;
pub mod show;
pub mod tracker_issue;
pub mod tracker_update;
pub mod triage_step;
pub mod undeliverable;

use serde_json::Value;
use tracing::Span;

use crate::context::Context;
use crate::slack::Reply;
use crate::slack::inbound::{CommandIntent, EventEnvelope, Interaction, SlashCommand};
use crate::slack::render::{RequestForm, replies};

/// The context plus the state some use cases keep between requests.
#[derive(Clone)]
pub struct Services {
    pub ctx: Context,
    /// New requests, stored with group commit.
    pub filer: file_request::Filer,
    /// Reactions on the ack path.
    pub reactions: reaction::Reactions,
    /// The `/request` form, rendered once.
    pub request_form: std::sync::Arc<RequestForm>,
}

impl Services {
    /// Starts the group-commit tasks on the current runtime.
    pub fn start(ctx: Context) -> Self {
        let settings = &ctx.settings;
        let request_form = RequestForm::new(
            &settings.policy.severities,
            settings.default_severity.as_str(),
            &settings.teams,
        );
        Self {
            filer: file_request::Filer::start(&ctx),
            reactions: reaction::Reactions::start(&ctx),
            request_form: std::sync::Arc::new(request_form),
            ctx,
        }
    }
}

/// `/request [words | help | list | list all | 42]`.
pub async fn command(services: &Services, command: SlashCommand) -> Reply {
    let ctx = &services.ctx;
    Span::current().record("user", command.user.as_str());
    match &command.intent {
        CommandIntent::Help => show::help(ctx),
        CommandIntent::Who(words) => show::who(ctx, words),
        CommandIntent::Mine => show::mine(ctx, &command.user).await,
        CommandIntent::Queue => show::queue(ctx, &command.user).await,
        CommandIntent::Status(number) => {
            Span::current().record("request", number.0);
            show::status(ctx, *number, &command.user).await
        }
        CommandIntent::OpenForm { title } => {
            open_form::request_form(ctx, &services.request_form, &command, title).await
        }
    }
}

/// Clicks and submitted modals.
pub async fn interaction(services: &Services, interaction: Interaction) -> Reply {
    let ctx = &services.ctx;
    match interaction {
        Interaction::Click(click) => triage_step::clicked(ctx, click).await,
        Interaction::SubmitRequest(submission) => file_request::submitted(ctx, &services.filer, submission).await,
        // Accept may first create the tracker issue.
        Interaction::SubmitStep(submission) => tracker_issue::step_submitted(ctx, submission).await,
        Interaction::FileMessage(shortcut) => file_from_message::shortcut(ctx, shortcut).await,
        Interaction::SubmitEdit(submission) => edit::submitted(ctx, submission).await,
        Interaction::Other => Reply::Ack,
    }
}

/// An Events API envelope; `body` is the raw callback, kept for the
/// reaction worker.
pub async fn event(services: &Services, envelope: EventEnvelope, body: &[u8]) -> Reply {
    match envelope {
        EventEnvelope::UrlVerification { challenge } => Reply::Json(replies::url_challenge(&challenge)),
        EventEnvelope::EventCallback {
            event_id,
            event,
            authorizations,
        } => {
            let kind = event.get("type").and_then(Value::as_str).unwrap_or("unknown");
            if let Some(user) = crate::slack::inbound::home_opened(&event) {
                return home::opened(&services.ctx, user).await;
            }
            // A person's thread reply may be half of a request's
            // conversation: kept, and relayed after the ack.
            if kind == "message" {
                let bot = crate::slack::inbound::bot_user(&authorizations);
                return match crate::slack::inbound::ThreadReply::from_event(&event, bot) {
                    Some(_) => services.reactions.keep(&event_id, body).await,
                    None => Reply::Ack,
                };
            }
            // Reactions that can matter are kept and processed after the
            // ack; nothing else we subscribe to needs work.
            if !matches!(kind, "reaction_added" | "reaction_removed") {
                return Reply::Ack;
            }
            services
                .reactions
                .received(&services.ctx, &event_id, &event, &authorizations, body)
                .await
        }
        EventEnvelope::Other => Reply::Ack,
    }
}
