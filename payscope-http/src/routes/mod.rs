//! The route table: every path of docs/http-api.md, its template (the metrics label) and its
//! methods. Anything else is 404; a known path with another method is 405 with `Allow`.

pub mod audit;
pub mod chat;
pub mod health;
pub mod profiles;
pub mod reports;

use http::Method;

use crate::error::ApiError;

/// Query parameters as a list of pairs; names outside `allowed` are a 400.
pub fn params(query: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    if let Some((name, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!(
            "unknown query parameter `{}`; expected one of {}",
            name.chars().take(64).collect::<String>(),
            allowed.join(", ")
        )));
    }
    Ok(pairs)
}

/// A matched route with its path parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET /health`
    Health,
    /// `GET /health/live`
    Live,
    /// `GET /health/ready`
    Ready,
    /// `GET /metrics`
    Metrics,
    /// `GET /openapi.json`
    OpenApi,
    /// `POST /reports`, `GET /reports`
    Reports,
    /// `GET /reports/{report_id}`
    Report(&'a str),
    /// `POST /reports/preview`
    ReportPreview,
    /// `GET /mapping-profiles`, `POST /mapping-profiles`
    Profiles,
    /// `GET`, `PUT`, `DELETE /mapping-profiles/{profile_id}`
    Profile(&'a str),
    /// `POST /chat/query`
    ChatQuery,
    /// `POST /query`
    Query,
    /// `GET /audit/answers`
    AuditAnswers,
    /// `GET /audit/answers/{answer_id}`
    AuditAnswer(&'a str),
    /// `GET /audit/verify`
    AuditVerify,
    /// `POST /audit/export`
    AuditExport,
    /// `GET /`: the console page.
    Console,
    /// `GET /console/demo-banks`
    ConsoleDemo,
    /// `GET /console/{asset}`
    ConsoleAsset(&'a str),
}

/// Every route template with its methods, in the order the OpenAPI document lists them.
pub const TABLE: &[(&str, &[Method])] = &[
    ("/health", &[Method::GET]),
    ("/health/live", &[Method::GET]),
    ("/health/ready", &[Method::GET]),
    ("/metrics", &[Method::GET]),
    ("/openapi.json", &[Method::GET]),
    ("/reports", &[Method::GET, Method::POST]),
    ("/reports/{report_id}", &[Method::GET]),
    ("/reports/preview", &[Method::POST]),
    ("/mapping-profiles", &[Method::GET, Method::POST]),
    ("/mapping-profiles/{profile_id}", &[Method::GET, Method::PUT, Method::DELETE]),
    ("/chat/query", &[Method::POST]),
    ("/query", &[Method::POST]),
    ("/audit/answers", &[Method::GET]),
    ("/audit/answers/{answer_id}", &[Method::GET]),
    ("/audit/verify", &[Method::GET]),
    ("/audit/export", &[Method::POST]),
];

/// The console's routes: served beside the API, not part of it (the OpenAPI document does not
/// list them).
pub const CONSOLE: &[(&str, &[Method])] =
    &[("/", &[Method::GET]), ("/console/demo-banks", &[Method::GET]), ("/console/{asset}", &[Method::GET])];

impl<'a> Route<'a> {
    /// The route for a path (a trailing slash is not the same path).
    pub fn find(path: &'a str) -> Option<Route<'a>> {
        let param = |prefix: &str| path.strip_prefix(prefix).filter(|p| !p.is_empty() && !p.contains('/'));
        Some(match path {
            "/health" => Route::Health,
            "/health/live" => Route::Live,
            "/health/ready" => Route::Ready,
            "/metrics" => Route::Metrics,
            "/openapi.json" => Route::OpenApi,
            "/reports" => Route::Reports,
            "/reports/preview" => Route::ReportPreview,
            "/mapping-profiles" => Route::Profiles,
            "/chat/query" => Route::ChatQuery,
            "/query" => Route::Query,
            "/audit/answers" => Route::AuditAnswers,
            "/audit/verify" => Route::AuditVerify,
            "/audit/export" => Route::AuditExport,
            "/" => Route::Console,
            "/console/demo-banks" => Route::ConsoleDemo,
            _ => {
                if let Some(id) = param("/reports/") {
                    Route::Report(id)
                } else if let Some(id) = param("/mapping-profiles/") {
                    Route::Profile(id)
                } else if let Some(id) = param("/audit/answers/") {
                    Route::AuditAnswer(id)
                } else if let Some(name) = param("/console/") {
                    Route::ConsoleAsset(name)
                } else {
                    return None;
                }
            }
        })
    }

    /// The template, used as the `route` label of metrics and logs.
    pub fn template(&self) -> &'static str {
        match self {
            Route::Health => "/health",
            Route::Live => "/health/live",
            Route::Ready => "/health/ready",
            Route::Metrics => "/metrics",
            Route::OpenApi => "/openapi.json",
            Route::Reports => "/reports",
            Route::Report(_) => "/reports/{report_id}",
            Route::ReportPreview => "/reports/preview",
            Route::Profiles => "/mapping-profiles",
            Route::Profile(_) => "/mapping-profiles/{profile_id}",
            Route::ChatQuery => "/chat/query",
            Route::Query => "/query",
            Route::AuditAnswers => "/audit/answers",
            Route::AuditAnswer(_) => "/audit/answers/{answer_id}",
            Route::AuditVerify => "/audit/verify",
            Route::AuditExport => "/audit/export",
            Route::Console => "/",
            Route::ConsoleDemo => "/console/demo-banks",
            Route::ConsoleAsset(_) => "/console/{asset}",
        }
    }

    /// The methods the route answers.
    /// Health and metrics: served to everyone, never shed.
    pub fn is_operational(&self) -> bool {
        matches!(self, Route::Health | Route::Live | Route::Ready | Route::Metrics)
    }

    /// The methods it answers.
    pub fn methods(&self) -> &'static [Method] {
        let template = self.template();
        TABLE.iter().chain(CONSOLE).find(|(t, _)| *t == template).map_or(&[], |(_, m)| m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_their_templates() {
        assert_eq!(Route::find("/reports/abc"), Some(Route::Report("abc")));
        assert_eq!(Route::find("/reports/"), None);
        assert_eq!(Route::find("/reports/a/b"), None);
        assert_eq!(Route::find("/audit/answers/x").map(|r| r.template()), Some("/audit/answers/{answer_id}"));
        assert_eq!(Route::find("/nope"), None);
        for (template, methods) in TABLE.iter().chain(CONSOLE) {
            let path = template
                .replace("{report_id}", "x")
                .replace("{answer_id}", "x")
                .replace("{profile_id}", "x")
                .replace("{asset}", "x");
            let route = Route::find(&path).unwrap();
            assert_eq!(route.template(), *template);
            assert_eq!(route.methods(), *methods);
        }
    }
}
