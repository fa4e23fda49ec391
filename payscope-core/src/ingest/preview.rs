//! A preview: a file read as an upload would read it, nothing stored — its structure, the
//! mapping with confidences, the first facts and the problems found. A large CSV is previewed
//! from its first lines, a network file from its first messages (counts and controls then
//! cover those only).

use std::io::Cursor;

use super::detect::{detect, Format};
use super::network::{base2, ipm};
use super::pan::PanKey;
use super::pipeline::{parse_report_with, FactSink};
use crate::error::Result;
use crate::facts::{Fact, MappingProfile, Preview, Report, Structure};

/// Bytes of a file other than XLSX a preview reads.
pub const PREVIEW_BYTES: usize = 4 << 20;

/// Facts a preview shows.
pub const PREVIEW_FACTS: usize = 20;

/// How much of a file a preview needs: the whole of an XLSX (a zip reads from its end), the
/// first [`PREVIEW_BYTES`] of anything else.
pub fn needs_whole_file(head: &[u8]) -> bool {
    detect(head).is_ok_and(|d| d.format == Format::Xlsx)
}

/// Cuts a file read in part after its last whole record: a text file's last complete line, a
/// network file's last whole message (an IPM file is ended there in its own framing).
pub fn cut_to_whole_records(bytes: &mut Vec<u8>) {
    match detect(bytes).map(|d| d.format) {
        Ok(Format::Ipm) => ipm::cut_to_whole_messages(bytes),
        Ok(Format::Base2) => base2::cut_to_whole_records(bytes),
        _ => cut_at_line(bytes),
    }
}

fn cut_at_line(bytes: &mut Vec<u8>) {
    if let Some(end) = bytes.iter().rposition(|&b| b == b'\n') {
        bytes.truncate(end + 1);
    }
}

/// Keeps the first facts and the structure.
#[derive(Default)]
struct Sample {
    facts: Vec<Fact>,
    structure: Option<Structure>,
}

impl FactSink for Sample {
    fn batch(&mut self, facts: Vec<Fact>) -> Result<()> {
        let room = PREVIEW_FACTS.saturating_sub(self.facts.len());
        self.facts.extend(facts.into_iter().take(room));
        Ok(())
    }

    fn structure(&mut self, structure: &Structure) {
        self.structure = Some(structure.clone());
    }
}

/// Previews `bytes` (the whole file, or its start when `truncated`) as `report` would be read
/// with the bank's `profiles`. A file that would fail is a preview with its error, not an error.
pub fn preview(
    bytes: Vec<u8>,
    truncated: bool,
    report: &Report,
    key: &PanKey,
    profiles: &[MappingProfile],
) -> Result<Preview> {
    let bytes_read = bytes.len() as u64;
    let mut sample = Sample::default();
    let parsed = parse_report_with(Cursor::new(bytes), report, key, profiles, PREVIEW_FACTS, &mut sample);
    let mut p = Preview {
        would_load: false,
        error: None,
        bytes_read,
        truncated,
        report_type: report.report_type,
        structure: sample.structure,
        mapping: Vec::new(),
        confidence: 0.0,
        rows_read: 0,
        rows_rejected: 0,
        rows_skipped: 0,
        skipped: Vec::new(),
        errors: Vec::new(),
        controls: Vec::new(),
        warnings: Vec::new(),
        profiles_applied: Vec::new(),
        facts: sample.facts,
    };
    let s = match parsed {
        Ok(s) => s,
        Err(e) if e.kind().is_user_error() => {
            p.error = Some(e.to_string());
            return Ok(p);
        }
        Err(e) => return Err(e),
    };
    p.would_load = !s.too_many_rejected();
    if !p.would_load {
        p.error = Some(format!(
            "{} of the {} card transactions read were rejected (more than half), so the upload would fail; see errors",
            s.rows_rejected,
            s.rows_total - s.rows_skipped
        ));
    }
    p.report_type = s.report_type;
    p.structure = Some(s.structure);
    p.mapping = s.mapping;
    p.confidence = s.confidence;
    (p.rows_read, p.rows_rejected, p.rows_skipped) = (s.rows_total, s.rows_rejected, s.rows_skipped);
    p.skipped = s.skipped;
    p.errors = s.errors;
    p.warnings = s.warnings;
    p.profiles_applied = s.profiles_applied;
    if truncated && !s.controls.is_empty() {
        // The file's totals cover rows the preview did not read.
        p.warnings.push(format!(
            "only the first {bytes_read} bytes were read: the file's control totals are checked on upload"
        ));
    } else {
        p.controls = s.controls;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::BankId;
    use crate::facts::{ReportOptions, Sha256};
    use crate::synth::{self, network, SynthConfig};

    /// Facts and summary of a whole (not truncated) read.
    fn read(bytes: Vec<u8>) -> Preview {
        let report = Report::queued(
            BankId::from_uuid(uuid::Uuid::nil()),
            Sha256::digest(&bytes),
            1,
            &ReportOptions::default(),
        );
        preview(bytes, true, &report, &PanKey::new([3; 32]), &[]).unwrap()
    }

    #[test]
    fn a_network_file_read_in_part_ends_at_a_whole_message() {
        let bank = &synth::generate(&SynthConfig::small(5))[0];
        let (mut ipm, mut base2) = (Vec::new(), Vec::new());
        network::write_ipm(bank, &mut ipm).unwrap();
        network::write_base2(bank, &mut base2).unwrap();
        for (whole, format) in [(ipm, "ipm"), (base2, "base2")] {
            for cut in [40_000, 40_001, 41_013, 50_000] {
                let mut head = whole[..cut].to_vec();
                cut_to_whole_records(&mut head);
                let p = read(head);
                assert!(p.would_load, "{format} cut at {cut}: {:?}", p.error);
                assert!(p.rows_read > 50 && p.rows_rejected == 0, "{format} cut at {cut}: {p:?}");
                assert_eq!(p.structure.as_ref().map(|s| s.format.as_str()), Some(format));
            }
        }
    }
}
