//! Request bodies as Slack sends them, built from the samples: slash
//! commands, button clicks, modal submissions.

use serde_json::{Value, json};

use crate::{Call, INTAKE_CHANNEL, SUBMITTER, sample};

/// The sample slash command with its text replaced.
pub fn command_body(text: &str) -> Vec<u8> {
    command_body_from(text, SUBMITTER)
}

/// The sample slash command, typed by `user`.
pub fn command_body_from(text: &str, user: &str) -> Vec<u8> {
    command_body_in(text, user, ("C0GENERAL1", "general"))
}

/// The sample slash command, typed by `user` in channel `(id, name)`.
pub fn command_body_in(text: &str, user: &str, (channel_id, channel_name): (&str, &str)) -> Vec<u8> {
    let sample = String::from_utf8(sample("commands/request.form")).expect("utf-8");
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(&sample).expect("sample parses");
    for (key, value) in &mut pairs {
        match key.as_str() {
            "text" => *value = text.to_string(),
            "user_id" => *value = user.to_string(),
            "channel_id" => *value = channel_id.to_string(),
            "channel_name" => *value = channel_name.to_string(),
            _ => {}
        }
    }
    serde_urlencoded::to_string(&pairs).expect("encodes").into_bytes()
}

fn form_payload(payload: &Value) -> Vec<u8> {
    serde_urlencoded::to_string([("payload", payload.to_string())])
        .expect("encodes")
        .into_bytes()
}

/// A click by `user` on control `action` of request `number`, shaped like
/// the block_actions sample. `choice` is the picked user or option value.
pub fn click_body(action: &str, number: i64, user: &str, choice: Option<&str>, channel: &str) -> Vec<u8> {
    let mut payload: Value =
        serde_json::from_slice(&sample("interactivity/block_actions_button.json")).expect("sample");
    payload["user"]["id"] = json!(user);
    payload["trigger_id"] = json!(format!("1337.{}.{}", number, uuid::Uuid::new_v4().simple()));
    payload["channel"]["id"] = json!(channel);
    payload["container"]["channel_id"] = json!(channel);
    let mut clicked = json!({"action_id": action, "block_id": format!("req:{number}"), "type": "button",
                             "value": number.to_string(), "action_ts": "1732528900.000100"});
    match (action, choice) {
        ("assign", Some(user)) => {
            clicked = json!({"action_id": action, "block_id": format!("req:{number}"), "type": "users_select",
                             "selected_user": user, "action_ts": "1732528900.000100"});
        }
        ("set_severity" | "move_team", Some(value)) => {
            clicked = json!({"action_id": action, "block_id": format!("req:{number}"), "type": "static_select",
                             "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
                             "action_ts": "1732528900.000100"});
        }
        _ => {}
    }
    payload["actions"] = json!([clicked]);
    form_payload(&payload)
}

/// `user` clicks `action` on request `number` in their App Home (a view,
/// not a message: no channel).
pub fn home_click_body(action: &str, number: i64, user: &str) -> Vec<u8> {
    let body = click_body(action, number, user, None, "");
    let form: std::collections::HashMap<String, String> = serde_urlencoded::from_bytes(&body).expect("form");
    let mut payload: Value = serde_json::from_str(&form["payload"]).expect("payload");
    let object = payload.as_object_mut().expect("object");
    object.remove("channel");
    object.remove("message");
    payload["container"] = json!({"type": "view", "view_id": "V0HOME0001"});
    payload["view"] = json!({"id": "V0HOME0001", "type": "home", "callback_id": "home"});
    form_payload(&payload)
}

/// `user` uses the message shortcut `callback_id` on the message `ts` in
/// `channel` whose text is `text`, shaped like the message_action sample.
pub fn message_action_body(callback_id: &str, user: &str, (channel, ts): (&str, &str), text: &str) -> Vec<u8> {
    let mut payload: Value = serde_json::from_slice(&sample("interactivity/message_action.json")).expect("sample");
    payload["callback_id"] = json!(callback_id);
    payload["user"]["id"] = json!(user);
    payload["trigger_id"] = json!(format!("1337.{}", uuid::Uuid::new_v4().simple()));
    payload["channel"]["id"] = json!(channel);
    payload["message_ts"] = json!(ts);
    payload["message"]["ts"] = json!(ts);
    payload["message"]["text"] = json!(text);
    form_payload(&payload)
}

/// A triage step modal (`callback`) submitted by `user` with these fields.
pub fn step_body(callback: &str, number: i64, user: &str, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut payload: Value = serde_json::from_slice(&sample("interactivity/view_submission.json")).expect("sample");
    payload["user"]["id"] = json!(user);
    payload["view"]["callback_id"] = json!(callback);
    payload["view"]["id"] = json!(format!(
        "V{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10].to_uppercase()
    ));
    payload["view"]["private_metadata"] = json!(json!({"request": number, "channel": INTAKE_CHANNEL}).to_string());
    let mut values = serde_json::Map::new();
    for (block, value) in fields {
        let entry = if *block == "revisit" {
            json!({"type": "datepicker", "selected_date": value})
        } else {
            json!({"type": "plain_text_input", "value": value})
        };
        values.insert(block.to_string(), json!({format!("{block}_input"): entry}));
    }
    payload["view"]["state"]["values"] = Value::Object(values);
    form_payload(&payload)
}

/// The /request modal's fields, as a person fills them in.
#[derive(Debug, Clone)]
pub struct Form {
    pub view_id: String,
    pub kind: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<String>,
    pub area: Option<String>,
    pub link: Option<String>,
}

impl Default for Form {
    fn default() -> Self {
        Form {
            view_id: format!("V{}", uuid::Uuid::new_v4().simple().to_string()[..10].to_uppercase()),
            kind: Some("bug".into()),
            title: Some("Invoices render blank".into()),
            description: Some("Since Monday every invoice PDF is empty.".into()),
            severity: Some("sev2".into()),
            area: None,
            link: Some("https://status.example.com/incidents/7781".into()),
        }
    }
}

impl Form {
    /// The sample view_submission with this form's values in `state`.
    pub fn body(&self) -> Vec<u8> {
        let encoded = serde_urlencoded::to_string([("payload", self.payload().to_string())]).expect("encodes");
        encoded.into_bytes()
    }

    /// The body when the modal was opened with this private metadata (as
    /// intake rendered it in `views.open`).
    pub fn body_with_metadata(&self, private_metadata: &str) -> Vec<u8> {
        self.body_as("new_request", private_metadata, SUBMITTER)
    }

    /// The body of the modal `callback_id` (the same fields: the *Edit*
    /// form is the filing form) opened with this private metadata, sent by
    /// `user`.
    pub fn body_as(&self, callback_id: &str, private_metadata: &str, user: &str) -> Vec<u8> {
        let mut payload = self.payload();
        payload["user"]["id"] = json!(user);
        payload["view"]["callback_id"] = json!(callback_id);
        payload["view"]["private_metadata"] = json!(private_metadata);
        form_payload(&payload)
    }

    /// The view_submission payload itself (what a Socket Mode envelope carries).
    pub fn payload(&self) -> Value {
        let mut payload: Value = serde_json::from_slice(&sample("interactivity/view_submission.json")).expect("sample");
        let text = |v: &Option<String>, kind: &str| json!({"type": kind, "value": v});
        let select = |v: &Option<String>, kind: &str| json!({"type": kind, "selected_option": v.as_ref().map(|v| json!({"text": {"type": "plain_text", "text": v}, "value": v}))});
        payload["view"]["id"] = json!(self.view_id);
        payload["view"]["state"]["values"] = json!({
            "type": {"type_input": select(&self.kind, "radio_buttons")},
            "title": {"title_input": text(&self.title, "plain_text_input")},
            "description": {"description_input": text(&self.description, "plain_text_input")},
            "severity": {"severity_input": select(&self.severity, "static_select")},
            "area": {"area_input": select(&self.area, "static_select")},
            "link": {"link_input": text(&self.link, "url_text_input")},
        });
        payload
    }
}

/// Everything a chat.postMessage call would show people: its text and blocks.
pub fn shown(call: &Call) -> String {
    format!(
        "{} {}",
        call.str("text").unwrap_or_default(),
        call.params.get("blocks").cloned().unwrap_or(Value::Null)
    )
}
