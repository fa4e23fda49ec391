//! The baseline of `benches/http.sh`: a bare hyper server (same builder as PayScope's) that
//! reads the request body and answers a fixed JSON body, so the bench shows what PayScope's
//! routing, auth, question answering, audit and logging cost on top of HTTP itself.
//!
//! ```text
//! cargo run --release --example bare_hyper -- 127.0.0.1:18082
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

const BODY: &str = r#"{"answer_id":"00000000-0000-0000-0000-000000000000","summary":"Approval rate was 93.54% over 2026-08-29 – 2026-11-26. That is 2,405 out of 2,571.","intent":"describe","confidence":0.93,"agents_invoked":["metrics","narrative"],"time_range":{"from":"2026-08-29T00:00:00Z","to":"2026-11-27T00:00:00Z"},"metrics":[{"name":"approval_rate","value":0.9354,"unit":"ratio","dimensions":{}},{"name":"approved_count","value":2405.0,"unit":"count","dimensions":{}},{"name":"transaction_count","value":2571.0,"unit":"count","dimensions":{}}],"series":[],"forecast":null,"evidence":[{"agent":"metrics","source":"rollup","facts_scanned":0,"coverage":1.0}],"followups":["Break approval rate down by network","How has it trended over the last 90 days?"],"warnings":[]}"#;

async fn answer(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let _ = req.into_body().collect().await;
    let mut response = Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
    response.headers_mut().insert("content-type", "application/json".parse().unwrap());
    Ok(response)
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18082".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    eprintln!("bare hyper on {addr}");
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
