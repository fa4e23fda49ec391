//! `POST /reports` (raw body or multipart, streamed into the artifact store, optionally
//! waiting for processing), `POST /reports/preview` (the same request, nothing stored),
//! `GET /reports` and `GET /reports/{report_id}`.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::request::Parts;
use http::{Request, StatusCode};
use hyper::body::Incoming;
use payscope_core::bank::BankContext;
use payscope_core::facts::{MappingOverrides, Report, ReportId, ReportOptions, ReportStatus};
use payscope_core::{Engine, Error};
use serde_json::json;

use super::params;
use crate::body;
use crate::error::ApiError;
use crate::reply::{ok_json, Handled};

/// How long `?wait=true` waits for processing before answering with the current status.
const WAIT_TIMEOUT: Duration = Duration::from_secs(300);

/// Content types taken as the raw file (the format is then sniffed from the bytes).
const RAW_TYPES: &[&str] = &[
    "text/csv",
    "text/plain",
    "text/tab-separated-values",
    "application/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/x-ndjson",
    "application/jsonl",
    "application/octet-stream",
];

fn flag(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::invalid(format!("`{name}` must be true or false"))),
    }
}

/// The upload parameters of the query string (and `wait` when `waitable`).
fn upload_options(query: Option<&str>, waitable: bool) -> Result<(ReportOptions, bool), ApiError> {
    const FILE: &[&str] = &["report_type", "network", "currency", "timezone", "filename", "mapping"];
    const UPLOAD: &[&str] =
        &["report_type", "network", "currency", "timezone", "filename", "mapping", "wait"];
    let allowed = if waitable { UPLOAD } else { FILE };
    let mut options = ReportOptions::default();
    let mut wait = false;
    for (k, v) in params(query, allowed)? {
        match k.as_str() {
            "report_type" => options.report_type = v.parse()?,
            "network" => options.network = Some(v),
            "currency" => options.currency = Some(v),
            "timezone" => options.timezone = Some(v),
            "filename" => options.filename = Some(v),
            "mapping" if v.len() > 8192 => {
                return Err(ApiError::invalid(
                    "the `mapping` parameter is longer than 8192 characters; send it as the multipart `mapping` part",
                ))
            }
            "mapping" => options.mapping = Some(mapping(v.as_bytes())?),
            _ => wait = flag("wait", &v)?,
        }
    }
    Ok((options, wait))
}

/// Mapping overrides sent as JSON (the `mapping` query parameter or multipart part).
fn mapping(json: &[u8]) -> Result<MappingOverrides, ApiError> {
    serde_json::from_slice(json).map_err(|e| {
        ApiError::invalid(format!(
            "`mapping` is not valid mapping overrides ({e}); expected JSON such as \
             {{\"columns\": {{\"transaction_id\": \"Ref\"}}, \"date_order\": \"dmy\", \"kinds\": {{\"SALE\": \"CLEARING\"}}}}"
        ))
    })
}

/// The file of an upload request: the raw body, or the `file` part of a multipart body
/// (whose `mapping` part, sent before it, sets the mapping overrides).
async fn upload_body(
    parts: &Parts,
    body: Incoming,
    max: u64,
    options: &mut ReportOptions,
) -> Result<Upload, ApiError> {
    if body::content_length(&parts.headers).is_some_and(|n| n > max) {
        return Err(ApiError::too_large(max));
    }
    match body::media_type(&parts.headers).as_deref() {
        Some("multipart/form-data") => {}
        None => return Ok(Box::pin(body::stream(body))),
        Some(t) if RAW_TYPES.contains(&t) => return Ok(Box::pin(body::stream(body))),
        Some(other) => {
            return Err(ApiError::media_type(format!(
                "cannot take a report as {other}; send the file as text/csv, the XLSX type, \
                 application/x-ndjson or application/octet-stream, or as the `file` part of multipart/form-data"
            )))
        }
    }
    let content_type =
        parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| ApiError::invalid("multipart/form-data needs a boundary parameter"))?;
    let mut multipart = multer::Multipart::new(body::stream(body), boundary);
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::invalid(format!("malformed multipart body: {e}")))?
            .ok_or_else(|| ApiError::invalid("the multipart body has no `file` part"))?;
        match field.name() {
            Some("file") => {
                if options.filename.is_none() {
                    options.filename = field.file_name().map(str::to_owned);
                }
                return Ok(Box::pin(field.map(|chunk| chunk.map_err(multipart_error))));
            }
            Some("mapping") => {
                let text = field.bytes().await.map_err(multipart_error)?;
                if text.len() > 64 << 10 {
                    return Err(ApiError::invalid("the `mapping` part is larger than 64 KiB"));
                }
                options.mapping = Some(mapping(&text)?);
            }
            _ => {}
        }
    }
}

/// Uploads one report file.
pub async fn upload(engine: &Engine, ctx: &BankContext, req: Request<Incoming>) -> Handled {
    let (parts, body) = req.into_parts();
    let (mut options, wait) = upload_options(parts.uri.query(), true)?;
    let file = upload_body(&parts, body, engine.options().max_upload_bytes, &mut options).await?;
    let submission = engine.submit(ctx, file, options).await?;
    let report = submission.report;
    if !wait {
        let status = if submission.duplicate { StatusCode::OK } else { StatusCode::ACCEPTED };
        return ok_json(
            status,
            &json!({
                "report_id": report.report_id,
                "status": report.status,
                "sha256": report.sha256,
                "duplicate": submission.duplicate,
            }),
        );
    }
    // Waiting is pointless when nothing consumes the queue: say so at once.
    let unfinished = matches!(report.status, ReportStatus::Queued | ReportStatus::Processing);
    if unfinished && engine.queue_liveness().await.is_ok_and(|l| l.live_workers == 0) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "dependency_unavailable",
            format!(
                "no ingestion worker is running, so report {} stays queued until one starts (nothing is lost; GET /reports/{} shows its status); tell your operator",
                report.report_id, report.report_id
            ),
        )
        .retry_after(30)
        .with("report", with_duplicate(wire(&report)?, submission.duplicate)));
    }
    let report = engine.wait_for_report(ctx, report.report_id, WAIT_TIMEOUT).await?;
    let body = with_duplicate(wire(&report)?, submission.duplicate);
    match report.status {
        ReportStatus::Failed => {
            let why = report.errors.iter().find(|e| e.row == 0).map(|e| e.message.clone());
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable_report",
                why.unwrap_or_else(|| "the report could not be loaded".into()),
            )
            .with("report", body))
        }
        ReportStatus::Completed => ok_json(StatusCode::OK, &body),
        // Still running after the wait: the client polls `GET /reports/{id}`.
        _ => ok_json(StatusCode::ACCEPTED, &body),
    }
}

/// What an upload of the same body and parameters would do; nothing is stored.
pub async fn preview(engine: &Engine, ctx: &BankContext, req: Request<Incoming>) -> Handled {
    let (parts, body) = req.into_parts();
    let (mut options, _) = upload_options(parts.uri.query(), false)?;
    let file = upload_body(&parts, body, engine.options().max_upload_bytes, &mut options).await?;
    ok_json(StatusCode::OK, &engine.preview(ctx, file, options).await?)
}

/// An upload's file bytes.
type Upload = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

fn multipart_error(e: multer::Error) -> Error {
    Error::invalid("invalid_request", format!("malformed multipart body: {e}"))
}

/// The caller's reports, newest first.
pub async fn list(engine: &Engine, ctx: &BankContext, query: Option<&str>) -> Handled {
    let mut limit = 50;
    let mut cursor = None;
    for (k, v) in params(query, &["limit", "cursor"])? {
        if k == "limit" {
            limit = v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .ok_or_else(|| ApiError::invalid("`limit` must be a number from 1 to 500"))?;
        } else {
            cursor = Some(v);
        }
    }
    let page = engine.reports(ctx, limit, cursor.as_deref()).await?;
    let reports = page.reports.iter().map(wire).collect::<Result<Vec<_>, _>>()?;
    ok_json(StatusCode::OK, &json!({ "reports": reports, "next_cursor": page.next_cursor }))
}

/// One report's status.
pub async fn get(engine: &Engine, ctx: &BankContext, id: &str) -> Handled {
    let id: ReportId = id.parse().map_err(|_| ApiError::invalid("report_id must be a UUID"))?;
    ok_json(StatusCode::OK, &wire(&engine.report(ctx, id).await?)?)
}

/// An upload's report with whether its bytes had been uploaded before.
fn with_duplicate(mut body: serde_json::Value, duplicate: bool) -> serde_json::Value {
    if let Some(map) = body.as_object_mut() {
        map.insert("duplicate".into(), duplicate.into());
    }
    body
}

/// A report as clients see it (docs/ingestion.md): without the store's bookkeeping.
fn wire(report: &Report) -> Result<serde_json::Value, ApiError> {
    let mut v = serde_json::to_value(report).map_err(|_| ApiError::internal())?;
    if let Some(map) = v.as_object_mut() {
        for internal in ["bank_id", "seq", "data_version"] {
            map.remove(internal);
        }
    }
    Ok(v)
}
