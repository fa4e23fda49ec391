//! JSON Lines of canonical facts (what PayScope itself and programs write): each object laid
//! out as a row of canonical columns and read by the same row plan as a table.

use std::io::{BufRead, BufReader, Read};

use csv::StringRecord;

use super::detect::Format;
use super::layout::Metadata;
use super::mapping::{map_columns, MapContext};
use super::pan::PanKey;
use super::pipeline::{Collector, ParseSummary};
use super::plan::{plan, Place, PlanInput};
use super::row::{Outcome, RowPlan};
use crate::error::Result;
use crate::facts::{MappingOverrides, Report, RowError, Structure};

/// The canonical columns a JSON Lines fact is laid out in before the shared row plan reads it.
const JSONL_COLUMNS: [&str; 21] = [
    "transaction_id",
    "stage",
    "occurred_at",
    "amount",
    "amount_minor",
    "currency",
    "network",
    "response_code",
    "approved",
    "merchant_id",
    "merchant_name",
    "mcc",
    "merchant_country",
    "issuer_country",
    "issuer_bin",
    "card_number",
    "card_token",
    "entry_mode",
    "interchange_fee_minor",
    "reason_code",
    "fraud_reported",
];

/// Lays a JSON fact out as a row of [`JSONL_COLUMNS`].
fn json_row(v: &serde_json::Value, rec: &mut StringRecord) -> std::result::Result<(), String> {
    let obj = v.as_object().ok_or("the line is not a JSON object")?;
    let text = |k: &str| -> String {
        match obj.get(k) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Bool(b)) => {
                if *b {
                    "1".into()
                } else {
                    "0".into()
                }
            }
            Some(other) => other.to_string(),
        }
    };
    let (amount, amount_minor, currency) = match obj.get("amount") {
        Some(serde_json::Value::Object(m)) => {
            let minor = m
                .get("minor")
                .and_then(serde_json::Value::as_i64)
                .ok_or("amount.minor must be an integer")?;
            let cur = m
                .get("currency")
                .and_then(serde_json::Value::as_str)
                .ok_or("amount.currency must be a code")?;
            (String::new(), minor.to_string(), cur.to_owned())
        }
        _ => (text("amount"), text("amount_minor"), text("currency")),
    };
    let approved = match obj.get("approved") {
        Some(serde_json::Value::Bool(b)) => if *b { "approved" } else { "declined" }.to_owned(),
        _ => text("approved"),
    };
    let pan = if obj.contains_key("pan") { text("pan") } else { text("card_number") };
    let fee = if obj.contains_key("interchange_fee") {
        text("interchange_fee")
    } else {
        text("interchange_fee_minor")
    };
    rec.clear();
    for col in JSONL_COLUMNS {
        let v = match col {
            "amount" => amount.clone(),
            "amount_minor" => amount_minor.clone(),
            "currency" => currency.clone(),
            "approved" => approved.clone(),
            "card_number" => pan.clone(),
            "interchange_fee_minor" => fee.clone(),
            other => text(other),
        };
        rec.push_field(&v);
    }
    Ok(())
}

/// Parses JSON Lines of canonical facts: each line laid out as a row of [`JSONL_COLUMNS`]
/// and read by the same row plan as a table.
pub(crate) fn parse(
    input: Box<dyn Read + Send>,
    report: &Report,
    key: &PanKey,
    mut c: Collector<'_>,
) -> Result<ParseSummary> {
    let header = StringRecord::from(JSONL_COLUMNS.to_vec());
    let map =
        map_columns(&header, &[], MapContext { stage: report.report_type.stage(), ..Default::default() });
    let input_plan = PlanInput {
        sample: &[],
        report,
        metadata: &Metadata::default(),
        overrides: &MappingOverrides::default(),
        place: &Place::default(),
        infer_stage: false,
    };
    let (parts, notes) = plan(map, &input_plan)?;
    let mut mapping = parts.map.decisions.clone();
    mapping.extend(notes);
    let mut rows = RowPlan::new(parts, report, key)?;
    c.planned(rows.confidence)?;
    let mut rec = StringRecord::new();
    let mut reader = BufReader::with_capacity(256 * 1024, input);
    let mut line = String::new();
    let mut row = 0u32;
    loop {
        line.clear();
        row += 1;
        let n = match reader.read_line(&mut line) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                c.reject(RowError {
                    row,
                    column: None,
                    code: "unreadable_row".into(),
                    message: "the line is not valid UTF-8".into(),
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<serde_json::Value>(&line)
            .map_err(|e| format!("the line is not valid JSON ({})", json_error_kind(&e)))
            .and_then(|v| json_row(&v, &mut rec));
        match parsed {
            Ok(()) => match rows.fact(&rec, row) {
                Outcome::Fact(f) => c.fact(f)?,
                Outcome::Skip(reason) => c.skip(reason),
                Outcome::Reject(e) => c.reject(e),
            },
            Err(why) => c.reject(RowError { row, column: None, code: "invalid_json".into(), message: why }),
        }
    }
    c.flush()?;
    let structure = Structure { format: Format::Jsonl.as_str().into(), ..Default::default() };
    c.structure(&structure);
    Ok(ParseSummary {
        format: Format::Jsonl,
        rows_total: c.rows_total,
        rows_rejected: c.rows_rejected,
        rows_skipped: c.rows_skipped,
        skipped: c.skipped(),
        errors: std::mem::take(&mut c.errors),
        mapping,
        confidence: rows.confidence,
        report_type: report.report_type,
        structure,
        controls: Vec::new(),
        warnings: Vec::new(),
        profiles_applied: Vec::new(),
    })
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Eof => "truncated line",
    }
}
