//! Logs: JSON lines on stdout (docs/operations.md) — `timestamp`, `level`, `target`, `message`, then
//! the fields of the enclosing spans (so every line of a request carries its `request_id`)
//! and of the event, all at the top level. `PAYSCOPE_LOG_FORMAT=pretty` prints for humans.

use std::fmt;

use payscope_core::calendar::Timestamp;
use payscope_core::config::LogFormat;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// Installs the global subscriber. `filter` uses the `target=level,level` syntax of
/// `PAYSCOPE_LOG`; an unparsable filter is an error naming the variable.
pub fn init(filter: &str, format: LogFormat) -> Result<(), String> {
    let targets: Targets =
        filter.parse().map_err(|e| format!("PAYSCOPE_LOG: `{filter}` is not a log filter ({e})"))?;
    let result = match format {
        LogFormat::Json => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields)
                    .event_format(JsonLines)
                    .with_writer(std::io::stdout),
            )
            .with(targets)
            .try_init(),
        LogFormat::Pretty => tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stdout))
            .with(targets)
            .try_init(),
    };
    result.map_err(|e| format!("cannot install the logger: {e}"))
}

/// Collects fields into a JSON map.
#[derive(Default)]
struct FieldMap(Map<String, Value>);

impl Visit for FieldMap {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

/// Span fields, stored in the span's extensions as compact JSON.
struct JsonFields;

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: Writer<'w>,
        fields: R,
    ) -> fmt::Result {
        let mut map = FieldMap::default();
        fields.record(&mut map);
        writer.write_str(&Value::Object(map.0).to_string())
    }

    /// Fields recorded later (the bank and subject once the token is verified) join the
    /// span's object instead of being appended after it.
    fn add_fields(
        &self,
        current: &'w mut tracing_subscriber::fmt::FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut map = match serde_json::from_str::<Value>(current) {
            Ok(Value::Object(map)) => FieldMap(map),
            _ => FieldMap::default(),
        };
        fields.record(&mut map);
        current.fields = Value::Object(map.0).to_string();
        Ok(())
    }
}

/// One JSON object per event.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert("timestamp".into(), Value::from(Timestamp::now().to_string()));
        line.insert("level".into(), Value::from(meta.level().as_str()));
        line.insert("target".into(), Value::from(meta.target()));
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<N>>() else { continue };
                if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(fields) {
                    line.extend(map);
                }
            }
        }
        let mut fields = FieldMap::default();
        event.record(&mut fields);
        line.extend(fields.0);
        writeln!(writer, "{}", Value::Object(line))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A request's access line carries the fields its span gets after it was opened (the
    /// bank and subject, recorded once the token is verified).
    #[test]
    fn fields_recorded_later_join_the_line() {
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        let writer = move || Sink(sink.clone());
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(JsonFields)
                .event_format(JsonLines)
                .with_writer(writer),
        );
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "r1", subject = tracing::field::Empty);
            span.record("subject", "ana@bank");
            span.in_scope(|| tracing::info!(status = 200u64, "request"));
        });
        let line: Value = serde_json::from_slice(&out.lock().unwrap()).unwrap();
        assert_eq!((line["request_id"].as_str(), line["subject"].as_str()), (Some("r1"), Some("ana@bank")));
        assert_eq!(line["status"], 200);
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
