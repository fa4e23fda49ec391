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
