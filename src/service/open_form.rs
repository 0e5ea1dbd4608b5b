//! Opening a form: the `/request` modal, and the modal a triage step needs
//! before it can run. The one Web API call made while Slack waits is
//! `views.open` here, because its trigger expires in 3 seconds.

use chrono::{Days, NaiveDate, Utc};
use tracing::warn;

use crate::context::Context;
use crate::domain::request::RequestNumber;
use crate::domain::text::{Text, Tracker};
use crate::domain::triage::{Actor, Event, transition};
use crate::slack::Reply;
use crate::slack::action::StepForm;
use crate::slack::inbound::{SlashCommand, StepMetadata};
use crate::slack::render::{RequestForm, replies, triage::step_modal};
use crate::store::requests;

use super::explain::{ReplyTo, explained};

/// `/request [title]`: the form, the title pre-filled.
pub async fn request_form(ctx: &Context, form: &RequestForm, command: &SlashCommand, title: &str) -> Reply {
    let body = form.open_body(
        &command.trigger_id,
        title,
        &command.channel,
        command.channel_name.as_deref(),
    );
    match ctx.slack.open_view_body(body).await {
        Ok(()) => Reply::Ack,
        Err(e) => {
            warn!(error = %e, "views.open failed");
            Reply::Json(replies::ephemeral_reply(replies::form_not_opened()))
        }
    }
}

/// Stand-in details, to ask the machine whether a step may start at all
/// before asking the person to write anything.
pub(super) fn probe(form: StepForm) -> Event {
    let words = Text::parse("probe", "probe").unwrap_or_else(|_| unreachable!("non-empty text is valid"));
    match form {
        StepForm::AskInfo => Event::AskInfo { question: words },
        StepForm::AddInfo => Event::AddInfo { answer: words },
        StepForm::Accept => Event::Accept {
            tracker: Tracker::Key("PROBE-1".into()),
            expectation: None,
        },
        StepForm::Defer => Event::Defer {
            until: NaiveDate::MAX,
            reason: words,
        },
        StepForm::Reject => Event::Reject { reason: words },
        StepForm::Resolve => Event::Resolve { note: words },
    }
}

/// A control that needs words: the step's modal, if the step may start.
pub async fn step_form(
    ctx: &Context,
    number: RequestNumber,
    form: StepForm,
    actor: &Actor,
    reply_to: &ReplyTo,
    trigger_id: &str,
) -> Reply {
    let request = match requests::find(ctx.store.db(), number).await {
        Ok(Some(request)) => request,
        Ok(None) => return explained(ctx, reply_to, &replies::no_such_request(number)).await,
        Err(e) => return Reply::Unavailable(format!("could not read the request: {e}")),
    };
    let now = Utc::now();
    if let Err(error) = transition(
        &request,
        &probe(form),
        actor,
        ctx.settings.policy_of(&request.team),
        now,
    ) {
        let message = crate::slack::render::triage::refusal(&request, &error, ctx.settings.team(&request.team));
        return explained(ctx, reply_to, &message).await;
    }
    let metadata = serde_json::to_string(&StepMetadata {
        request: number.0,
        channel: reply_to.channel.clone(),
    })
    .unwrap_or_default();
    let tomorrow = ctx
        .settings
        .today(now)
        .checked_add_days(Days::new(1))
        .unwrap_or(NaiveDate::MAX);
    match ctx
        .slack
        .open_view(
            trigger_id,
            step_modal(
                form,
                &request,
                &metadata,
                tomorrow,
                ctx.tracker.as_ref().map(|t| t.default_kind().name()),
            ),
        )
        .await
    {
        Ok(()) => Reply::Ack,
        Err(e) => {
            warn!(error = %e, "views.open failed for a triage form");
            explained(ctx, reply_to, &replies::step_form_not_opened()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_valid_events_for_every_form() {
        for form in StepForm::ALL {
            assert_eq!(Some(probe(form).kind()), form.action().step());
        }
    }
}
