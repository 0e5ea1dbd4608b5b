//! The HTTP transport: `/slack/*` (signed), `/webhooks/jira` and
//! `/webhooks/github` (signed by the tracker), `/healthz`, `/readyz`,
//! `/metrics`. Under Socket Mode the listener still serves the last three;
//! the Slack routes answer 404, since Slack sends nothing there and no
//! signing secret may be configured to check what arrives.
//!
//! Every Slack route checks size, then signature and timestamp on the raw
//! bytes, then parses the body (`slack::inbound`) and hands it to its use
//! case (`service`). Nothing a client sends can make this layer panic or
//! answer 500: bad input is a 4xx with a reason.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use tracing::{Instrument, field, info_span, warn};

use metrics_exporter_prometheus::PrometheusHandle;

use crate::service::{self, Services};
use crate::slack::verify::Verifier;
use crate::slack::{Reply, inbound};
use crate::webhook::{self, Source, signature};

/// What the routes share.
pub struct HttpState {
    pub services: Services,
    /// `None` under Socket Mode: the Slack routes are off.
    pub verifier: Option<Verifier>,
    pub metrics: PrometheusHandle,
    /// Slack requests being handled; full means 503 (`server.max_in_flight`).
    pub in_flight: tokio::sync::Semaphore,
}

type Body = Full<Bytes>;

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn json(body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[derive(Clone, Copy)]
enum SlackRoute {
    Commands,
    Interactions,
    Events,
}

impl SlackRoute {
    fn name(self) -> &'static str {
        match self {
            Self::Commands => "command",
            Self::Interactions => "interaction",
            Self::Events => "event",
        }
    }
}

pub async fn route(state: Arc<HttpState>, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let path = request.uri().path().to_owned();
    let slack_route = match path.as_str() {
        "/slack/commands" => Some(SlackRoute::Commands),
        "/slack/interactions" => Some(SlackRoute::Interactions),
        "/slack/events" => Some(SlackRoute::Events),
        _ => None,
    };
    let hook = match path.as_str() {
        "/webhooks/jira" => Some(Source::Jira),
        "/webhooks/github" => Some(Source::GitHub),
        _ => None,
    };
    let response = match (request.method(), path.as_str(), slack_route, hook) {
        (&Method::POST, _, None, Some(source)) => match state.in_flight.try_acquire() {
            Ok(_handling) => tracker_webhook(&state, source, request).await,
            Err(_) => busy(),
        },
        (_, _, None, Some(_)) => text(StatusCode::METHOD_NOT_ALLOWED, "webhooks accept POST only\n"),
        (_, _, Some(_), _) if state.verifier.is_none() => text(
            StatusCode::NOT_FOUND,
            "not found: this intake receives Slack over Socket Mode (slack.transport)\n",
        ),
        (&Method::POST, _, Some(route), _) => match state.in_flight.try_acquire() {
            Ok(_handling) => slack(&state, route, request).await,
            Err(_) => busy(),
        },
        (_, _, Some(_), _) => text(StatusCode::METHOD_NOT_ALLOWED, "Slack routes accept POST only\n"),
        (&Method::GET, "/healthz", _, _) => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/readyz", _, _) => match state.services.ctx.store.ping().await {
            Ok(()) => text(StatusCode::OK, "ready\n"),
            // The error stays in the log: the port may face the internet.
            Err(e) => {
                warn!(error = %e, "not ready: the database does not answer");
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not ready: the database does not answer\n",
                )
            }
        },
        // The outbox gauges are kept by the dispatcher: a scrape runs no query.
        (&Method::GET, "/metrics", _, _) => text(StatusCode::OK, state.metrics.render()),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    let route_label = match (slack_route, hook) {
        (Some(route), _) => route.name(),
        (None, Some(_)) => "webhook",
        (None, None) if response.status() == StatusCode::NOT_FOUND => "other",
        (None, None) => "ops",
    };
    metrics::counter!("intake_http_requests_total", "route" => route_label, "status" => status_label(response.status()))
        .increment(1);
    metrics::histogram!("intake_http_request_seconds", "route" => route_label).record(started.elapsed().as_secs_f64());
    Ok(response)
}

/// The status as a metric label: the codes intake answers with are static
/// text, so no string is built per request.
fn status_label(status: StatusCode) -> metrics::SharedString {
    match status.as_u16() {
        200 => "200".into(),
        400 => "400".into(),
        401 => "401".into(),
        404 => "404".into(),
        413 => "413".into(),
        503 => "503".into(),
        other => other.to_string().into(),
    }
}

fn busy() -> Response<Body> {
    metrics::counter!("intake_http_busy_total").increment(1);
    let mut busy = text(StatusCode::SERVICE_UNAVAILABLE, "busy; try again in a second\n");
    busy.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
    busy
}

/// The body, within `server.max_body_bytes` and `server.body_timeout`, or
/// the answer saying why not.
async fn read_body(
    state: &HttpState,
    request: Request<Incoming>,
) -> Result<(hyper::http::request::Parts, Bytes), Response<Body>> {
    let limit = state.services.ctx.settings.max_body_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body larger than {limit} bytes\n"),
        ));
    }
    let (parts, body) = request.into_parts();
    let timeout = state.services.ctx.settings.body_timeout;
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok((parts, collected.to_bytes())),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body larger than {limit} bytes\n"),
        )),
        Ok(Err(e)) => Err(text(StatusCode::BAD_REQUEST, format!("could not read the body: {e}\n"))),
        Err(_) => Err(text(
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {} s\n", timeout.as_secs()),
        )),
    }
}

async fn slack(state: &HttpState, route: SlackRoute, request: Request<Incoming>) -> Response<Body> {
    let (parts, body) = match read_body(state, request).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let verified = match &state.verifier {
        Some(verifier) => verifier.verify(&parts.headers, &body),
        None => return text(StatusCode::NOT_FOUND, "not found\n"),
    };
    if let Err(e) = verified {
        warn!(route = route.name(), reason = %e, "rejected an unverified Slack request");
        return text(StatusCode::UNAUTHORIZED, format!("{e}\n"));
    }
    let span = info_span!(
        "slack",
        kind = route.name(),
        user = field::Empty,
        request = field::Empty
    );
    let services = &state.services;
    let reply = async {
        match route {
            SlackRoute::Commands => match inbound::command(&body) {
                Ok(command) => service::command(services, command).await,
                Err(e) => e.into(),
            },
            SlackRoute::Interactions => match inbound::interaction(&body) {
                Ok(interaction) => service::interaction(services, interaction).await,
                Err(e) => e.into(),
            },
            SlackRoute::Events => match inbound::event(&body) {
                Ok(envelope) => service::event(services, envelope, &body).await,
                Err(e) => e.into(),
            },
        }
    }
    .instrument(span)
    .await;
    match reply {
        Reply::Ack => text(StatusCode::OK, ""),
        Reply::Json(body) => json(&body),
        Reply::BadRequest(reason) => {
            warn!(route = route.name(), %reason, "malformed Slack request");
            text(StatusCode::BAD_REQUEST, format!("{reason}\n"))
        }
        Reply::Unavailable(reason) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
    }
}

/// A tracker's webhook: configured (else 404 naming the key), within the
/// body limit, signed with its webhook secret (else 401), a payload it
/// sends (else 400); then `service::tracker_update`. An issue no request
/// tracks, or a step the machine refuses, is a 200 that changes nothing.
async fn tracker_webhook(state: &HttpState, source: Source, request: Request<Incoming>) -> Response<Body> {
    let trackers = state.services.ctx.settings.trackers.as_ref();
    let (configured, secret, header) = match source {
        Source::Jira => {
            let jira = trackers.and_then(|t| t.jira.as_ref());
            (
                jira.map(|j| j.base_url.clone()),
                jira.and_then(|j| j.webhook_secret.as_ref()),
                signature::JIRA_HEADER,
            )
        }
        Source::GitHub => {
            let github = trackers.and_then(|t| t.github.as_ref());
            (
                github.map(|g| g.repo.clone()),
                github.and_then(|g| g.webhook_secret.as_ref()),
                signature::GITHUB_HEADER,
            )
        }
    };
    let name = source.as_str();
    let Some(configured) = configured else {
        let key = match source {
            Source::Jira => "tracker.jira.base_url",
            Source::GitHub => "tracker.github.repo",
        };
        return text(
            StatusCode::NOT_FOUND,
            format!("not found: no {name} tracker is configured ({key})\n"),
        );
    };
    let Some(secret) = secret else {
        let (key, env) = match source {
            Source::Jira => ("tracker.jira.webhook_secret", "JIRA_WEBHOOK_SECRET"),
            Source::GitHub => ("tracker.github.webhook_secret", "GITHUB_WEBHOOK_SECRET"),
        };
        return text(
            StatusCode::NOT_FOUND,
            format!("not found: {name} webhooks are off until {key} ({env}) is set\n"),
        );
    };
    let (parts, body) = match read_body(state, request).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let header_value = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(e) = signature::verify(
        header,
        secrecy::ExposeSecret::expose_secret(secret),
        header_value(header),
        &body,
    ) {
        warn!(tracker = name, reason = %e, "rejected an unverified tracker webhook");
        return text(StatusCode::UNAUTHORIZED, format!("{e}\n"));
    }
    let (parsed, delivery) = match source {
        Source::Jira => (
            webhook::jira::parse(&configured, &body),
            header_value("x-atlassian-webhook-identifier"),
        ),
        Source::GitHub => (
            webhook::github::parse(header_value("x-github-event"), &body),
            header_value("x-github-delivery"),
        ),
    };
    let update = match parsed {
        Ok(update) => update,
        Err(e) => {
            warn!(tracker = name, reason = %e, "malformed tracker webhook");
            return text(StatusCode::BAD_REQUEST, format!("{e}\n"));
        }
    };
    let span = info_span!("webhook", tracker = name, delivery = delivery.unwrap_or_default());
    match service::tracker_update::received(&state.services.ctx, source, delivery, update)
        .instrument(span)
        .await
    {
        Ok(lines) => text(StatusCode::OK, format!("{}\n", lines.join("\n"))),
        Err(e) => {
            warn!(tracker = name, error = %e, "could not apply a tracker webhook");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "could not record the update; deliver it again\n",
            )
        }
    }
}
