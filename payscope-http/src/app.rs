//! The request handler: request id, routing, authentication, the handler, and then the same
//! three things for every response — the `X-Request-Id` header, the HTTP metrics (labelled
//! by route template) and one access-log line.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, Request, StatusCode};
use hyper::body::Incoming;
use payscope_core::bank::BankContext;
use payscope_core::telemetry::{HttpLabels, RouteLabels};
use payscope_core::Engine;
use tracing::Instrument;

use crate::auth::Authenticator;
use crate::error::ApiError;
use crate::overload::{Limits, Overload, Work};
use crate::routes::{self, Route};

/// Every route template with its methods.
pub use crate::routes::TABLE as ROUTES;

pub use crate::reply::{error_response, ok_json, with_body, Handled, HttpResponse};

/// Which routes an [`App`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    /// The whole API.
    Api,
    /// Health and metrics only (the worker's port).
    Ops,
}

/// The HTTP application. Cloning is cheap.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    auth: Option<Authenticator>,
    overload: Arc<Overload>,
    surface: Surface,
    /// The demo banks the console offers a one-click sign-in for (`--demo` only).
    demo: Vec<crate::console::DemoSignIn>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("surface", &self.inner.surface).finish_non_exhaustive()
    }
}

impl App {
    /// The whole API of docs/http-api.md, authenticating with `auth`.
    pub fn api(engine: Engine, auth: Authenticator) -> App {
        App::new(engine, Some(auth), Surface::Api, vec![])
    }

    fn new(
        engine: Engine,
        auth: Option<Authenticator>,
        surface: Surface,
        demo: Vec<crate::console::DemoSignIn>,
    ) -> App {
        let overload = Arc::new(Overload::new(Limits::unlimited()));
        App { inner: Arc::new(Inner { engine, auth, overload, surface, demo }) }
    }

    /// The same app under `limits` (the library's default is no limit; the binary applies the
    /// environment's), with counts of its own.
    pub fn with_limits(self, limits: Limits) -> App {
        let i = &self.inner;
        let overload = Arc::new(Overload::new(limits));
        let inner = Inner {
            engine: i.engine.clone(),
            auth: i.auth.clone(),
            overload,
            surface: i.surface,
            demo: i.demo.clone(),
        };
        App { inner: Arc::new(inner) }
    }

    /// The overload state: the server counts connections with it.
    pub fn overload(&self) -> &Overload {
        &self.inner.overload
    }

    /// The whole API with the console's one-click sign-in for the demo banks (`--demo`).
    pub fn demo(engine: Engine, auth: Authenticator, banks: Vec<crate::console::DemoSignIn>) -> App {
        App::new(engine, Some(auth), Surface::Api, banks)
    }

    /// Only `/health*` and `/metrics`: what the worker serves.
    pub fn ops(engine: Engine) -> App {
        App::new(engine, None, Surface::Ops, vec![])
    }

    /// The engine behind the API.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Handles one request. Never fails: every error is a response.
    pub async fn handle(&self, req: Request<Incoming>) -> HttpResponse {
        self.handle_on(req, false).await
    }

    /// Handles one request of a connection; on a `shed` connection (over the connection cap)
    /// only health and metrics are served.
    pub async fn handle_on(&self, req: Request<Incoming>, shed: bool) -> HttpResponse {
        let started = Instant::now();
        let request_id = request_id(req.headers());
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        // The bank and subject are recorded once the token is verified (`auth`).
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            bank_id = tracing::field::Empty,
            subject = tracing::field::Empty
        );
        let (template, result) = match Route::find(&path).filter(|r| self.serves(r)) {
            None => ("unmatched", Err(ApiError::not_found("no such path in the PayScope API"))),
            Some(route) if !route.methods().contains(&method) => {
                (route.template(), Err(method_not_allowed(&method, route.methods())))
            }
            Some(route) if shed && !route.is_operational() => (route.template(), Err(Overload::shed())),
            Some(route) => {
                let template = route.template();
                (template, self.dispatch(route, req, &request_id).instrument(span.clone()).await)
            }
        };
        let mut response = result.unwrap_or_else(|e| error_response(&e));
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            if let Some(route) = Route::find(&path) {
                let allow = route.methods().iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(http::header::ALLOW, v);
                }
            }
        }
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", v);
        }
        if shed {
            response.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        let telemetry = self.inner.engine.telemetry();
        let method_label = method_label(&method);
        telemetry
            .http_requests
            .get_or_create(&HttpLabels { method: method_label.into(), route: template.into(), status })
            .inc();
        telemetry
            .http_duration
            .get_or_create(&RouteLabels { method: method_label.into(), route: template.into() })
            .observe(elapsed.as_secs_f64());
        span.in_scope(|| {
            tracing::info!(
                target: "payscope_http::access",
                method = method_label,
                route = template,
                status,
                duration_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
                "request"
            )
        });
        response
    }

    fn serves(&self, route: &Route<'_>) -> bool {
        self.inner.surface == Surface::Api || route.is_operational()
    }

    async fn dispatch(&self, route: Route<'_>, req: Request<Incoming>, request_id: &str) -> Handled {
        let engine = &self.inner.engine;
        match route {
            Route::Health | Route::Live => ok_json(StatusCode::OK, &serde_json::json!({"status": "ok"})),
            Route::Ready => routes::health::ready(engine).await,
            Route::Metrics => {
                let accept = req.headers().get(http::header::ACCEPT).and_then(|v| v.to_str().ok());
                routes::health::metrics(engine, accept).await
            }
            Route::OpenApi => crate::openapi::response(),
            Route::Reports => {
                let ctx = self.authenticate(&req, request_id).await?;
                if req.method() == Method::POST {
                    self.inner.overload.admit(Work::Upload, &ctx)?;
                    routes::reports::upload(engine, &ctx, req).await
                } else {
                    routes::reports::list(engine, &ctx, req.uri().query()).await
                }
            }
            Route::Report(id) => {
                let ctx = self.authenticate(&req, request_id).await?;
                routes::reports::get(engine, &ctx, id).await
            }
            Route::ReportPreview => {
                let ctx = self.authenticate(&req, request_id).await?;
                self.inner.overload.admit(Work::Upload, &ctx)?;
                routes::reports::preview(engine, &ctx, req).await
            }
            Route::Profiles => {
                let ctx = self.authenticate(&req, request_id).await?;
                routes::profiles::collection(engine, &ctx, req).await
            }
            Route::Profile(id) => {
                let ctx = self.authenticate(&req, request_id).await?;
                routes::profiles::item(engine, &ctx, id, req).await
            }
            Route::ChatQuery => {
                let ctx = self.authenticate(&req, request_id).await?;
                self.question(&ctx, routes::chat::query(engine, &ctx, req)).await
            }
            Route::Query => {
                let ctx = self.authenticate(&req, request_id).await?;
                self.question(&ctx, routes::chat::typed(engine, &ctx, req)).await
            }
            Route::AuditAnswers => {
                let ctx = self.authenticate(&req, request_id).await?;
                routes::audit::trail(engine, &ctx, req.uri().query()).await
            }
            Route::AuditAnswer(id) => {
                let ctx = self.authenticate(&req, request_id).await?;
                routes::audit::answer(engine, &ctx, id).await
            }
            Route::AuditVerify => {
                let ctx = self.authenticate(&req, request_id).await?;
                routes::audit::verify(engine, &ctx).await
            }
            Route::AuditExport => {
                let ctx = self.authenticate(&req, request_id).await?;
                routes::audit::export(engine, &ctx).await
            }
            Route::Console => crate::console::page(req.headers()),
            Route::ConsoleAsset(name) => crate::console::asset(name, req.headers()),
            Route::ConsoleDemo => crate::console::demo_banks(&self.inner.demo),
        }
    }

    /// A question or typed query, within the caller's rates, the room for computations and
    /// the deadline.
    async fn question(&self, ctx: &BankContext, work: impl std::future::Future<Output = Handled>) -> Handled {
        let overload = &self.inner.overload;
        overload.admit(Work::Question, ctx)?;
        let _room = overload.room().await?;
        overload.within_deadline(work).await
    }

    async fn authenticate(&self, req: &Request<Incoming>, request_id: &str) -> Result<BankContext, ApiError> {
        match &self.inner.auth {
            Some(auth) => auth.authenticate(req.headers(), request_id).await,
            None => Err(ApiError::internal()),
        }
    }
}

/// The client's `X-Request-Id` when it is a sane token (1–128 of `[A-Za-z0-9._:-]`), else a
/// fresh UUID.
fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// A bounded label for any method a client may send.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn method_not_allowed(method: &Method, allowed: &[Method]) -> ApiError {
    let allowed = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed here; use {allowed}", method_label(method)),
    )
}
