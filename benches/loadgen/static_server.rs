//! The ceiling: an axum server that answers every webhook with the same
//! `<Gather>` (a question as dialback would ask it) and does nothing else.
//! It reads the form body, as any server must, adds the same
//! `Server-Timing` header, and runs on tokio's default runtime, as
//! `dialback serve` does. What dialback costs is read against it.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;

const QUESTION: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
    r#"<Gather input="dtmf speech" action="https://ivr.bench.test/twilio/gather?seq=1" method="POST" timeout="5" language="cmn-Hans-CN" numDigits="1" speechTimeout="auto">"#,
    r#"<Say language="cmn-CN" voice="Polly.Zhiyu">请为本次服务打分，1分非常不满意，5分非常满意，请按1到5。</Say></Gather>"#,
    r#"<Redirect method="POST">https://ivr.bench.test/twilio/gather?seq=1&amp;silence=1</Redirect>"#,
    r#"</Response>"#
);

pub(crate) async fn question(_form: Bytes) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        QUESTION,
    )
}

async fn timing(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let mut response = next.run(req).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
        response.headers_mut().insert("server-timing", v);
    }
    response
}

/// `durable`: the store of the durable floor (see [`crate::durable_floor`]);
/// without it, the static ceiling.
pub(crate) fn serve(addr: SocketAddr, durable: Option<String>) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async move {
        let app = match durable {
            None => Router::new().fallback(axum::routing::post(question)),
            Some(spec) => {
                let store = crate::durable_floor::Durable::open(&spec)
                    .await
                    .unwrap_or_else(|e| panic!("the durable floor's store: {e}"));
                Router::new()
                    .fallback(axum::routing::post(crate::durable_floor::question))
                    .with_state(std::sync::Arc::new(store))
            }
        };
        let app = app
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(timing));
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        axum::serve(listener, app).await.expect("serve");
    });
}
