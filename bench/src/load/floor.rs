//! The floor: the least a correct Slack handler can do. It reads the body,
//! verifies the Slack signature and timestamp, makes one pooled Web API
//! call (`views.open`) to the fake Slack and answers 200 with no body.
//! Intake's throughput is reported as a ratio to this.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode, Uri};

use crate::generator::{HttpClient, http_client};
use crate::{server, signing};

const VIEW: &str = r#"{"trigger_id":"1337.42.abcdef0123456789","view":{"type":"modal","callback_id":"new_request","title":{"type":"plain_text","text":"New request"},"blocks":[]}}"#;

struct Floor {
    secret: String,
    views_open: Uri,
    client: HttpClient,
}

/// Starts the floor on 127.0.0.1:0; returns its base URL.
pub async fn start(secret: &str, slack_api_url: &str) -> String {
    let views_open = format!("{slack_api_url}views.open")
        .parse()
        .expect("the fake Slack URL is a valid URI");
    let floor = Arc::new(Floor {
        secret: secret.to_owned(),
        views_open,
        client: http_client(),
    });
    let addr = server::spawn("floor", move |request| handle(Arc::clone(&floor), request)).await;
    format!("http://{addr}")
}

async fn handle(floor: Arc<Floor>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|c| c.to_bytes()) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    if !signing::verify(&floor.secret, &parts.headers, &body) {
        return Ok(status(StatusCode::UNAUTHORIZED));
    }
    Ok(status(open_view(&floor).await))
}

/// One `views.open` through the shared pool; 200 when Slack said 200.
async fn open_view(floor: &Floor) -> StatusCode {
    let call = Request::post(floor.views_open.clone())
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .header(AUTHORIZATION, "Bearer xoxb-bench")
        .body(Full::new(Bytes::from_static(VIEW.as_bytes())))
        .expect("a static request is valid");
    match floor.client.request(call).await {
        Ok(answer) if answer.status().is_success() => match answer.into_body().collect().await {
            Ok(_) => StatusCode::OK,
            Err(_) => StatusCode::BAD_GATEWAY,
        },
        _ => StatusCode::BAD_GATEWAY,
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}
