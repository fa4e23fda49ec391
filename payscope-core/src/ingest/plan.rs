//! From a table's column mapping to the parts of a row plan: where the time comes from (and
//! how its dates are ordered), the amount (one column, minor units, or debits and credits),
//! the currency, the interchange fee and its sign, the stage rule, how approval is read and
//! whether ids must be generated. Every choice is recorded as a decision; a table that cannot
//! be read says what is missing, which columns came close and why they were not taken, and
//! how to fix it.

use std::collections::HashMap;

use csv::StringRecord;

use super::approval::{lifecycle_word, status_word, Convention};
use super::layout::Metadata;
use super::mapping::{ColumnMap, Field};
use super::normalize::{parse_amount, DateOrder, DecimalStyle, RowZone};
use super::pan::{pan_digits, redact};
use super::row::{AmountSource, Approval, PlanParts, TimeSource};
use super::stage::{infer, StageRule};
use super::vocabulary::W;
use crate::error::{Error, Result};
use crate::facts::{MappingDecision, MappingOverrides, Report, Stage};
use crate::money::Currency;

/// Where a table is in its file, for messages.
#[derive(Debug, Clone, Default)]
pub(crate) struct Place {
    /// The header's line.
    pub line: u64,
    /// The section's name (its record type), when it has one.
    pub name: Option<String>,
    /// More than one table in the file.
    pub several: bool,
}

impl Place {
    fn describe(&self) -> String {
        match (&self.name, self.several) {
            (Some(n), _) => format!("the `{n}` table (header on line {})", self.line),
            (None, true) => format!("the table whose header is on line {}", self.line),
            (None, false) => format!("the header on line {}", self.line),
        }
    }
}

/// What a table is planned from besides its mapping.
pub(crate) struct PlanInput<'a> {
    /// The first rows.
    pub sample: &'a [StringRecord],
    /// The report, with the upload's (or a profile's) defaults applied.
    pub report: &'a Report,
    /// The file's metadata.
    pub metadata: &'a Metadata,
    /// Explicit choices.
    pub overrides: &'a MappingOverrides,
    /// Where the table is.
    pub place: &'a Place,
    /// Whether an undeclared stage may be inferred from the file (not for canonical JSON Lines,
    /// whose rows carry their stage).
    pub infer_stage: bool,
}

/// Plans a table: the parts of its row plan and the decisions beyond column mapping.
pub(crate) fn plan(mut map: ColumnMap, input: &PlanInput<'_>) -> Result<(PlanParts, Vec<MappingDecision>)> {
    let PlanInput { sample, report, metadata, overrides, place, .. } = *input;
    let mut notes = Vec::new();
    let values =
        |c: usize| sample.iter().filter_map(move |r| r.get(c)).map(str::trim).filter(|v| !v.is_empty());
    let mut lacking: Vec<(Field, &str)> = Vec::new();
    let generated_ids =
        map.column(Field::TransactionId).is_none() && map.runners_up(Field::TransactionId).next().is_none();
    if map.column(Field::TransactionId).is_none() && !generated_ids {
        lacking.push((Field::TransactionId, "transaction_id"));
    }
    if generated_ids {
        notes.push(decision(
            "(none)",
            "transaction_id",
            0.8,
            "generated: no column identifies transactions, so each row's id is a keyed hash of its cells",
        ));
    }
    let time = time_source(&map, sample, metadata, overrides, report, &mut notes);
    if time.is_none() {
        lacking.push((Field::OccurredAt, "occurred_at (a date or timestamp)"));
    }
    let amount = amount_source(&map, sample);
    if amount.is_none() {
        lacking.push((Field::Amount, "amount"));
    }
    let currency_known = map.column(Field::Currency).is_some()
        || report.currency.is_some()
        || amount.is_some_and(|a| amount_names_currency(&map, a, sample));
    if !currency_known {
        lacking.push((Field::Currency, "currency (or pass ?currency=)"));
    }
    let (Some(time), Some(amount), true) = (time, amount, lacking.is_empty()) else {
        return Err(missing(&map, &lacking, place));
    };
    if let Some(tx) = map.column(Field::TransactionId) {
        let ids: Vec<&str> = values(tx).collect();
        if !ids.is_empty() && ids.iter().filter(|v| pan_digits(v).is_some()).count() * 2 > ids.len() {
            return Err(Error::Unprocessable(format!(
                "column `{}` was mapped to transaction_id but holds card numbers; card numbers cannot identify transactions",
                redact(map.headers()[tx])
            )));
        }
    }
    let (stage, stage_conf) = stage_rule(&map, input, &mut notes)?;
    let (approval, lifecycle) = approval(&mut map, sample, &stage, &mut notes);
    let fee = fee_source(&map, sample, &mut notes);
    let fee_currency = fee_currency(&map);
    let required = [map.column(Field::TransactionId), Some(time.column()), amount_column(amount)];
    let min_conf = required.iter().flatten().map(|&c| map.decisions[c].confidence).fold(1.0f64, f64::min);
    let guessed = notes.iter().filter(|d| d.confidence < 0.8).map(|d| d.confidence).fold(1.0f64, f64::min);
    let confidence = ((min_conf * stage_conf * guessed.max(0.6)) * 100.0).round() / 100.0;
    let amount_minor = match amount {
        AmountSource::Decimal(..) => map.column(Field::AmountMinor),
        _ => None,
    };
    let parts = PlanParts {
        map,
        time,
        amount,
        amount_minor,
        fee,
        fee_currency,
        stage,
        approval,
        lifecycle,
        generated_ids,
        confidence,
    };
    Ok((parts, notes))
}

fn decision(column: &str, field: &str, confidence: f64, rule: impl Into<String>) -> MappingDecision {
    MappingDecision::new(column, field, confidence, rule)
}

fn amount_column(a: AmountSource) -> Option<usize> {
    match a {
        AmountSource::Decimal(c, _) | AmountSource::Minor(c) => Some(c),
        AmountSource::DebitCredit { credit, .. } => Some(credit),
    }
}

/// The time: a timestamp or date column (with a time-of-day column if the dates are bare),
/// or year, month and day columns.
fn time_source(
    map: &ColumnMap,
    sample: &[StringRecord],
    metadata: &Metadata,
    overrides: &MappingOverrides,
    report: &Report,
    notes: &mut Vec<MappingDecision>,
) -> Option<TimeSource> {
    let time = map.column(Field::Time);
    if let Some(col) = map.column(Field::OccurredAt) {
        let values: Vec<&str> =
            sample.iter().filter_map(|r| r.get(col)).map(str::trim).filter(|v| !v.is_empty()).collect();
        let order = match overrides.date_order.as_deref() {
            Some("dmy") => DateOrder::DayFirst,
            Some("mdy") => DateOrder::MonthFirst,
            Some(_) => DateOrder::PerValue,
            None => {
                let hint = date_hint(map, sample, report);
                let hinted = hint.is_some();
                let (order, why) = DateOrder::detect(values.iter().copied(), metadata.period(), hint);
                if !why.is_empty() {
                    let confidence = match (why.contains("no date in the sample tells"), hinted) {
                        (true, _) => 0.7,
                        (false, true) if why.contains("write") => 0.85,
                        _ => 0.95,
                    };
                    notes.push(decision(map.headers()[col], "occurred_at.date_order", confidence, why));
                }
                order
            }
        };
        let dates_only = !values.is_empty()
            && values.iter().all(|v| {
                matches!(super::normalize::parse_when_in(v, order), Some(super::normalize::When::Date(_)))
            });
        return Some(match time {
            Some(t) if dates_only => TimeSource::DateAndTime { date: col, time: t, order },
            _ => TimeSource::Column { col, order },
        });
    }
    match (map.column(Field::Year), map.column(Field::Month), map.column(Field::Day)) {
        (Some(year), Some(month), Some(day)) => Some(TimeSource::Parts { year, month, day, time }),
        _ => None,
    }
}

/// How the file's country writes dates, when its headers or zones tell: headers in French,
/// Spanish, German, Portuguese or Italian, or times in a European zone, mean day first; a US
/// zone means month first.
fn date_hint(map: &ColumnMap, sample: &[StringRecord], report: &Report) -> Option<(DateOrder, String)> {
    let foreign: usize = map.words.iter().map(|w| w.foreign).sum();
    let known: usize = map.words.iter().map(|w| w.words.len()).sum();
    if foreign >= 2 && foreign * 3 >= known {
        return Some((
            DateOrder::DayFirst,
            "day first (the headers are in a language whose countries write the day first)".into(),
        ));
    }
    let zone_values =
        map.column(Field::Zone).into_iter().flat_map(|c| sample.iter().filter_map(move |r| r.get(c)));
    let zone = std::iter::once(report.timezone.as_str())
        .filter(|z| *z != "UTC")
        .chain(zone_values)
        .find_map(RowZone::date_order)?;
    let how = if zone == DateOrder::DayFirst { "day first" } else { "month first" };
    Some((zone, format!("{how} (the file's time zone is in a country that writes dates that way)")))
}

/// The amount: a decimal column, a minor-unit column, or debit and credit columns.
fn amount_source(map: &ColumnMap, sample: &[StringRecord]) -> Option<AmountSource> {
    let values = |cols: &[usize]| -> Vec<&str> {
        sample
            .iter()
            .flat_map(|r| cols.iter().filter_map(|c| r.get(*c)))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    };
    if let Some(c) = map.column(Field::Amount) {
        return Some(AmountSource::Decimal(c, DecimalStyle::detect(values(&[c]))));
    }
    if let Some(c) = map.column(Field::AmountMinor) {
        return Some(AmountSource::Minor(c));
    }
    match (map.column(Field::AmountDebit), map.column(Field::AmountCredit)) {
        (Some(debit), Some(credit)) => Some(AmountSource::DebitCredit {
            debit,
            credit,
            style: DecimalStyle::detect(values(&[debit, credit])),
        }),
        (None, Some(c)) => Some(AmountSource::Decimal(c, DecimalStyle::detect(values(&[c])))),
        _ => None,
    }
}

/// True when every sampled amount carries its currency (`12.34 EUR`) or the header names one.
fn amount_names_currency(map: &ColumnMap, a: AmountSource, sample: &[StringRecord]) -> bool {
    let Some(c) = amount_column(a) else { return false };
    if super::mapping::header_currency(map, c).is_some() {
        return true;
    }
    let AmountSource::Decimal(c, style) = a else { return false };
    let vals: Vec<&str> = sample.iter().filter_map(|r| r.get(c)).filter(|v| !v.trim().is_empty()).collect();
    !vals.is_empty()
        && vals.iter().all(|v| {
            parse_amount(v, style, |c| c.map_or(2, Currency::exponent)).is_ok_and(|a| a.currency.is_some())
        })
}

/// The interchange fee, and whether its sign is flipped: a file that writes most fees as
/// negative numbers writes what the merchant pays as a debit, and the canonical fee is what
/// was paid.
fn fee_source(
    map: &ColumnMap,
    sample: &[StringRecord],
    notes: &mut Vec<MappingDecision>,
) -> Option<(AmountSource, bool)> {
    let (src, c) = match (map.column(Field::InterchangeFee), map.column(Field::InterchangeFeeMinor)) {
        (Some(c), _) => {
            let vals = sample.iter().filter_map(|r| r.get(c)).map(str::trim).filter(|v| !v.is_empty());
            (AmountSource::Decimal(c, DecimalStyle::detect(vals)), c)
        }
        (None, Some(c)) => (AmountSource::Minor(c), c),
        _ => return None,
    };
    let signs: Vec<bool> = sample
        .iter()
        .filter_map(|r| r.get(c))
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.bytes().any(|b| (b'1'..=b'9').contains(&b)))
        .map(|v| v.starts_with('-') || v.starts_with('(') || v.ends_with('-'))
        .collect();
    let negate = !signs.is_empty() && signs.iter().filter(|n| **n).count() * 2 > signs.len();
    if negate {
        notes.push(decision(
            map.headers()[c],
            "interchange_fee.sign",
            0.9,
            "most fees are negative (debits): the sign is flipped so a paid fee is positive",
        ));
    }
    Some((src, negate))
}

/// A settlement or net currency column beside the transaction currency: fees are in it, so a
/// fee is kept only when the two currencies agree.
fn fee_currency(map: &ColumnMap) -> Option<usize> {
    let chosen = map.column(Field::Currency);
    map.words.iter().enumerate().position(|(i, w)| {
        Some(i) != chosen
            && w.has(W::Currency)
            && (w.has(W::Settlement) || w.has(W::Net))
            && !w.has(W::Amount)
    })
}

/// The stage rule: declared, or inferred from the file, with the type column deciding rows.
fn stage_rule(
    map: &ColumnMap,
    input: &PlanInput<'_>,
    notes: &mut Vec<MappingDecision>,
) -> Result<(StageRule, f64)> {
    let PlanInput { sample, report, metadata, overrides, place, infer_stage } = *input;
    let kinds: HashMap<String, Option<Stage>> = overrides
        .kinds
        .iter()
        .map(|(v, s)| {
            (v.trim().to_owned(), if s.eq_ignore_ascii_case("skip") { None } else { Stage::parse(s) })
        })
        .collect();
    let (base, declared, conf) = match report.report_type.stage() {
        Some(s) => {
            notes.push(decision("(upload)", "stage", 1.0, "report_type"));
            (Some(s), true, 1.0)
        }
        None => match infer(map, metadata, sample).filter(|_| infer_stage) {
            Some((s, conf, why)) => {
                notes.push(decision(
                    "(file)",
                    &format!("stage={}", s.as_str()),
                    conf,
                    format!("header_inference: {why}"),
                ));
                (Some(s), false, conf)
            }
            None => (None, false, 1.0),
        },
    };
    let rule = StageRule::new(base, declared, map, kinds);
    if base.is_none() && !rule.has_column() {
        return Err(Error::Unprocessable(format!(
            "cannot tell what kind of report this is from the columns of {} ({}). To fix it, upload it with report_type (authorization, clearing, settlement, chargeback, refund or fraud), or name the column that says each row's type in the upload's mapping with what its values mean (for example mapping={{\"columns\":{{\"stage\":\"<header>\"}},\"kinds\":{{\"<value>\":\"CLEARING\"}}}}); check the result with POST /reports/preview, and save it for later files with POST /mapping-profiles",
            place.describe(),
            map.headers().iter().map(|h| redact(h)).collect::<Vec<_>>().join(", ")
        )));
    }
    let conf = match rule.column() {
        Some(c) => conf.max(map.decisions[c].confidence),
        None => conf,
    };
    notes.push(decision("(rule)", "stage.rule", conf, rule.describe()));
    Ok((rule, conf))
}

/// How approval is read, and a lifecycle column (a status of `Completed`/`Pending`) that
/// filters rows of other stages. A status column that holds lifecycle words is not an
/// approval column.
fn approval(
    map: &mut ColumnMap,
    sample: &[StringRecord],
    stage: &StageRule,
    notes: &mut Vec<MappingDecision>,
) -> (Approval, Option<usize>) {
    let share = |c: usize, pred: &dyn Fn(&str) -> bool| {
        let vals: Vec<&str> =
            sample.iter().filter_map(|r| r.get(c)).map(str::trim).filter(|v| !v.is_empty()).collect();
        if vals.is_empty() {
            1.0
        } else {
            vals.iter().filter(|v| pred(v)).count() as f64 / vals.len() as f64
        }
    };
    let could_be_auth = stage.base().is_none_or(|s| s == Stage::Auth);
    let mut a = Approval::default();
    let mut lifecycle = None;
    if let Some(c) = map.column(Field::Status) {
        if share(c, &|v| status_word(v).is_some()) >= 0.8 {
            a.status = Some(c);
        } else if share(c, &|v| lifecycle_word(v).is_some()) >= 0.8 {
            lifecycle = Some(c);
            map.decisions[c].field = "status.lifecycle".into();
        }
    }
    if let Some(code) = map.column(Field::ResponseCode) {
        let values = sample.iter().filter_map(|r| r.get(code)).map(str::trim).filter(|v| !v.is_empty());
        let convention = Convention::detect(values);
        let text = map.column(Field::ResponseText);
        let how = match text {
            Some(t) => {
                format!("{}; its description `{}` when present", convention.as_str(), map.headers()[t])
            }
            None => convention.as_str().to_owned(),
        };
        if could_be_auth {
            notes.push(decision(map.headers()[code], "approved.convention", 0.9, how));
        }
        a.code = Some((code, convention, text));
    }
    if let Some(c) = map.column(Field::Error) {
        if could_be_auth {
            notes.push(decision(map.headers()[c], "approved", 0.85, "declined when the column is not empty"));
        }
        a.error = Some(c);
    }
    if a.status.is_none() && a.code.is_none() && a.error.is_none() && could_be_auth {
        notes.push(decision(
            "(none)",
            "approved",
            0.75,
            "no approval column: the file lists completed authorizations, all taken as approved",
        ));
    }
    (a, lifecycle)
}

/// The error for a table that lacks required fields: what is missing, the columns seen, the
/// closest candidates and why they were not taken, where, and how to fix it.
fn missing(map: &ColumnMap, lacking: &[(Field, &str)], place: &Place) -> Error {
    let what: Vec<&str> = lacking.iter().map(|(_, w)| *w).collect();
    let mut msg = format!(
        "missing required column{}: {}; columns seen: {}",
        if what.len() > 1 { "s" } else { "" },
        what.join(", "),
        map.headers()
            .iter()
            .filter(|h| !h.trim().is_empty())
            .map(|h| redact(h))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut close = Vec::new();
    for (f, _) in lacking {
        for c in map.runners_up(*f).take(3) {
            let why =
                c.rejected.as_deref().map_or_else(|| "taken by another field".to_owned(), str::to_owned);
            close.push(format!("`{}` for {} ({:.2}): {why}", redact(&c.column), f.as_str(), c.confidence));
        }
    }
    if !close.is_empty() {
        msg.push_str(&format!("; closest candidates: {}", close.join("; ")));
    }
    msg.push_str(&format!(
        "; in {}. To fix it, name the column in the upload's mapping (for example mapping={{\"columns\":{{\"{}\":\"<header>\"}}}}), check the result with POST /reports/preview, and save it for later files with POST /mapping-profiles",
        place.describe(),
        lacking[0].0.as_str()
    ));
    Error::Unprocessable(msg)
}
