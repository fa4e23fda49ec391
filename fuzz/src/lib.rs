//! The one fuzzed entry point — `parse_report`, the path every uploaded file takes — and the
//! properties that must hold for any input, however malformed.

use std::io::Cursor;

use payscope_core::bank::BankId;
use payscope_core::facts::{Report, ReportOptions, Sha256};
use payscope_core::ingest::detect::{detect, Format};
use payscope_core::ingest::pan::{redact, PanKey};
use payscope_core::ingest::pipeline::parse_report;

/// Parses `data` when it sniffs as `format` (other inputs belong to another target) and checks
/// that the outcome is a clean success or a clean error: no panic, consistent counts, and no
/// card number echoed in any message.
pub fn check(data: &[u8], format: Format) {
    match detect(data) {
        Ok(d) if d.format == format => {}
        _ => return,
    }
    let report = Report::queued(BankId::from_uuid(uuid::Uuid::from_u128(1)), Sha256::digest(data), data.len() as u64, &ReportOptions::default());
    let key = PanKey::new([7; 32]);
    let mut facts = 0u64;
    let outcome = parse_report(Cursor::new(data.to_vec()), &report, &key, 64, &mut |batch: Vec<_>| {
        facts += batch.len() as u64;
        Ok(())
    });
    match outcome {
        Ok(summary) => {
            assert!(summary.rows_rejected <= summary.rows_total, "{summary:?}");
            assert!(facts <= summary.rows_total, "{facts} facts from {} rows", summary.rows_total);
            for e in &summary.errors {
                assert_eq!(redact(&e.message), e.message, "card number in a row error");
            }
        }
        Err(e) => {
            let text = e.to_string();
            assert_eq!(redact(&text), text, "card number in an error");
        }
    }
}

/// Maps the first line of `data` (a header, `;`- or `,`-separated) with the following lines
/// as its sample, for each stage and none, and checks the mapping's invariants: one decision
/// per column, confidences in [0, 1], no field on two columns, and every explanation free of
/// card numbers.
pub fn check_mapping(data: &[u8]) {
    use payscope_core::facts::Stage;
    use payscope_core::ingest::mapping::{map_columns, MapContext};
    let text = String::from_utf8_lossy(data);
    let delimiter = if text.lines().next().is_some_and(|l| l.contains(';')) { b';' } else { b',' };
    let mut rows = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes())
        .into_records()
        .filter_map(Result::ok)
        .take(64);
    let Some(header) = rows.next() else { return };
    let sample: Vec<csv::StringRecord> = rows.collect();
    for stage in [None].into_iter().chain(Stage::ALL.map(Some)) {
        let map = map_columns(&header, &sample, MapContext { stage, ..Default::default() });
        assert_eq!(map.columns.len(), header.len());
        assert_eq!(map.decisions.len(), header.len());
        let mut seen = std::collections::HashSet::new();
        for (field, d) in map.columns.iter().zip(&map.decisions) {
            assert!((0.0..=1.0).contains(&d.confidence), "{d:?}");
            assert_eq!(redact(&d.rule), d.rule, "card number in a mapping rule");
            if let Some(f) = field {
                assert!(seen.insert(*f), "{f:?} on two columns");
            }
        }
    }
}

/// Previews `data` with mapping overrides read from its first line when that line is JSON
/// (the rest is the file), and checks the preview is consistent: a would-load preview has
/// no error, counts add up, no more than 20 facts, no card number in any message.
pub fn check_preview(data: &[u8]) {
    use payscope_core::facts::MappingOverrides;
    use payscope_core::ingest::preview::preview;
    let (first, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let (mapping, file) = match serde_json::from_slice::<MappingOverrides>(first) {
        Ok(m) if m.validate().is_ok() => (Some(m), rest),
        _ => (None, data),
    };
    let options = ReportOptions { mapping, ..Default::default() };
    let report = Report::queued(BankId::from_uuid(uuid::Uuid::from_u128(1)), Sha256::digest(file), file.len() as u64, &options);
    let key = PanKey::new([7; 32]);
    let Ok(p) = preview(file.to_vec(), false, &report, &key, &[]) else { return };
    assert_eq!(p.would_load, p.error.is_none(), "{p:?}");
    assert!(p.rows_rejected + p.rows_skipped <= p.rows_read, "{p:?}");
    assert!(p.facts.len() <= 20);
    for text in p.error.iter().chain(&p.warnings).chain(p.errors.iter().map(|e| &e.message)) {
        assert_eq!(&redact(text), text, "card number in a preview message");
    }
}
