//! Request bodies built from the test kit's Slack samples (`testkit/samples`,
//! read at run time). Per-request bodies are made from templates with
//! placeholders, so building one costs a few string replacements.

use bytes::Bytes;
use serde_json::json;
use testkit::{sample, sample_json};

use super::generator::BodyFn;

const EVENT_ID: &str = "EVENTIDPLACEHOLDER";
const USER: &str = "USERPLACEHOLDER";
const VIEW_ID: &str = "VIEWIDPLACEHOLDER";

/// The `/request` slash command sample, as Slack sends it: one body, reused.
pub fn slash_command() -> BodyFn {
    let body = Bytes::from(sample("commands/request.form"));
    std::sync::Arc::new(move |_| body.clone())
}

/// `reaction_added` of `emoji` on message `channel`/`ts`, a fresh
/// `event_id` per body; `distinct_users` gives every body its own user.
pub fn reaction(channel: &str, ts: &str, emoji: &str, distinct_users: bool) -> BodyFn {
    let mut event = sample_json("events/reaction_added.json");
    event["event"]["reaction"] = json!(emoji);
    event["event"]["item"]["channel"] = json!(channel);
    event["event"]["item"]["ts"] = json!(ts);
    event["event_id"] = json!(EVENT_ID);
    if distinct_users {
        event["event"]["user"] = json!(USER);
    }
    let template = event.to_string();
    std::sync::Arc::new(move |n| {
        let body = template
            .replace(EVENT_ID, &format!("EvB{n:09}"))
            .replace(USER, &format!("U{n:09}"));
        Bytes::from(body)
    })
}

/// A `view_submission` of the `/request` modal (a low-severity bug), with a
/// unique `view.id` per body.
pub fn submission() -> BodyFn {
    let mut payload = sample_json("interactivity/view_submission.json");
    let text = |v: &str| json!({"type": "plain_text_input", "value": v});
    let select = |kind: &str, v: &str| json!({"type": kind, "selected_option": {"text": {"type": "plain_text", "text": v}, "value": v}});
    payload["view"]["id"] = json!(VIEW_ID);
    payload["view"]["callback_id"] = json!("new_request");
    payload["view"]["state"]["values"] = json!({
        "type": {"type_input": select("radio_buttons", "bug")},
        "title": {"title_input": text("Bench: invoices render blank")},
        "description": {"description_input": text("Filed by the load benchmark.")},
        "severity": {"severity_input": select("static_select", "sev4")},
        "area": {"area_input": {"type": "static_select", "selected_option": null}},
        "link": {"link_input": {"type": "url_text_input", "value": null}},
    });
    let template = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("a form encodes");
    std::sync::Arc::new(move |n| Bytes::from(template.replace(VIEW_ID, &format!("VB{n:09}"))))
}
