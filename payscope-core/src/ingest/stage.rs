//! Each row's stage. A report's stage is declared (`report_type`) or inferred from the file
//! (its metadata's report name, the stage its time or amount column names, a reason-code
//! column, approval columns, a ledger's payouts); a type or action column then decides per
//! row: refunds and chargebacks inside a settlement report are recognised from the file's own
//! words, and rows that are not card transactions are skipped with their reason.

use std::collections::HashMap;

use csv::StringRecord;
use rustc_hash::FxHashMap;

use super::kinds::{classify, classify_stage, Kind, Skip};
use super::layout::Metadata;
use super::mapping::{ColumnMap, Field};
use super::values::example;
use super::vocabulary::{HeaderWords, W};
use crate::facts::Stage;

/// What the stage rule made of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StageOutcome {
    /// A stage; `sale` when the row's type called it a sale or payment.
    Stage { stage: Stage, sale: bool },
    /// The row's type is not one PayScope knows: the report's stage is taken for it, as long
    /// as nothing says otherwise (a negative amount could be a refund, a payout or a fee).
    Assumed { stage: Stage, value: String },
    /// Not a card transaction: the reason.
    Skip(String),
    /// The row's type names no stage and the report has none: the value.
    Unknown(String),
}

/// The type column and how its values read.
#[derive(Clone)]
struct KindColumn {
    col: usize,
    header: String,
    /// A canonical `stage` column (stage names first).
    canonical: bool,
}

/// Decides each row's stage.
#[derive(Clone)]
pub(crate) struct StageRule {
    base: Option<Stage>,
    declared: bool,
    column: Option<KindColumn>,
    description: Option<usize>,
    overrides: HashMap<String, Option<Stage>>,
    cache: FxHashMap<Box<str>, Kind>,
}

impl StageRule {
    /// A rule with a report stage (`declared` when the uploader gave it), the mapped type and
    /// description columns, and explicit value → stage overrides (`None`: skip).
    pub fn new(
        base: Option<Stage>,
        declared: bool,
        map: &ColumnMap,
        overrides: HashMap<String, Option<Stage>>,
    ) -> StageRule {
        let column = map.column(Field::Kind).map(|col| KindColumn {
            col,
            header: map.headers()[col].to_owned(),
            canonical: map.decisions[col].rule == "canonical",
        });
        StageRule {
            base,
            declared,
            column,
            description: map.column(Field::Description),
            overrides,
            cache: FxHashMap::default(),
        }
    }

    /// The report's stage, if it has one.
    pub fn base(&self) -> Option<Stage> {
        self.base
    }

    /// The type column.
    pub fn column(&self) -> Option<usize> {
        self.column.as_ref().map(|k| k.col)
    }

    /// True when rows say what they are.
    pub fn has_column(&self) -> bool {
        self.column.is_some()
    }

    /// The reason a row is skipped, naming the column and value that said so.
    pub fn reason(&self, rec: &StringRecord, skip: Skip) -> String {
        match &self.column {
            Some(k) => {
                format!("{} ({} {})", skip.as_str(), k.header, example(rec.get(k.col).unwrap_or("").trim()))
            }
            None => skip.as_str().to_owned(),
        }
    }

    fn kind(&mut self, value: &str, canonical: bool) -> Kind {
        if let Some(k) = self.cache.get(value) {
            return *k;
        }
        let k = if canonical { classify_stage(value) } else { classify(value) };
        if self.cache.len() < 4096 {
            self.cache.insert(value.into(), k);
        }
        k
    }

    /// The row's stage, or why it is skipped.
    pub fn decide(&mut self, rec: &StringRecord) -> StageOutcome {
        let Some((col, canonical)) = self.column.as_ref().map(|k| (k.col, k.canonical)) else {
            return match self.base {
                Some(stage) => StageOutcome::Stage { stage, sale: false },
                None => StageOutcome::Unknown(String::new()),
            };
        };
        let value = rec.get(col).unwrap_or("").trim();
        if let Some(o) = self.overrides.get(value) {
            return match o {
                Some(stage) => StageOutcome::Stage { stage: *stage, sale: false },
                None => StageOutcome::Skip(self.reason(rec, Skip::Override)),
            };
        }
        let kind = self.kind(value, canonical);
        let sale_base = self.base.filter(|s| matches!(s, Stage::Auth | Stage::Clearing | Stage::Settlement));
        let stage = |stage| StageOutcome::Stage { stage, sale: false };
        match kind {
            Kind::Stage(s) => stage(s),
            Kind::Refund => stage(Stage::Refund),
            Kind::Chargeback => stage(Stage::Chargeback),
            Kind::Fraud => stage(Stage::Fraud),
            Kind::Skip(s) => StageOutcome::Skip(self.reason(rec, s)),
            Kind::Authorization => match self.base {
                Some(Stage::Clearing | Stage::Settlement) => {
                    StageOutcome::Skip(self.reason(rec, Skip::NotSettled))
                }
                _ => stage(Stage::Auth),
            },
            Kind::Adjustment => {
                let said = self.description.map(|d| classify(rec.get(d).unwrap_or("")));
                match (said, self.base) {
                    (Some(Kind::Chargeback), _) | (_, Some(Stage::Chargeback)) => stage(Stage::Chargeback),
                    (Some(Kind::Skip(s)), _) => StageOutcome::Skip(self.reason(rec, s)),
                    _ => StageOutcome::Skip(self.reason(rec, Skip::Adjustment)),
                }
            }
            Kind::Sale(named) => {
                // A declared stage holds for every sale; an inferred one yields to the row's word.
                let s = if self.declared { self.base } else { named.or(sale_base).or(self.base) };
                match s {
                    Some(stage) => StageOutcome::Stage { stage, sale: true },
                    None => StageOutcome::Unknown(value.to_owned()),
                }
            }
            Kind::Unknown => match self.base {
                Some(s) => StageOutcome::Assumed { stage: s, value: value.to_owned() },
                None => StageOutcome::Unknown(value.to_owned()),
            },
        }
    }

    /// The rule in words, for the report's mapping.
    pub fn describe(&self) -> String {
        let base = match (self.base, self.declared) {
            (Some(s), true) => format!("{s} (report_type)"),
            (Some(s), false) => format!("{s} (inferred)"),
            (None, _) => "none".to_owned(),
        };
        let Some(k) = &self.column else {
            return format!("every row is {base}; a negative amount is a refund");
        };
        let mut said: Vec<String> = self
            .overrides
            .iter()
            .map(|(v, s)| format!("`{v}` is {}", s.map_or("skipped", Stage::as_str)))
            .collect();
        said.sort();
        let mapping =
            if said.is_empty() { String::new() } else { format!("by the mapping {}; ", said.join(", ")) };
        let sales = match self.base {
            Some(_) => format!("sales are {base}; "),
            None => String::new(),
        };
        format!(
            "each row's `{}` decides ({mapping}{sales}refunds, chargebacks and fraud by their words; payouts, fees, conversions, holds and reversals are skipped)",
            k.header
        )
    }
}

/// Stage words of a report name or header, for inferring a report's stage.
pub(crate) fn named_stage(words: &[W]) -> Option<Stage> {
    let has = |w: W| words.contains(&w);
    if has(W::Chargeback) || has(W::Dispute) {
        Some(Stage::Chargeback)
    } else if has(W::Refund) {
        Some(Stage::Refund)
    } else if has(W::Fraud) {
        Some(Stage::Fraud)
    } else if has(W::Settlement) {
        Some(Stage::Settlement)
    } else if has(W::Clearing)
        || has(W::Presentment)
        || has(W::Submission)
        || has(W::Deposit)
        || has(W::Capture)
        || has(W::Processing)
    {
        Some(Stage::Clearing)
    } else if has(W::Authorization) {
        Some(Stage::Auth)
    } else {
        None
    }
}

/// The stage a report's file says it is, with a confidence and the evidence, when it says.
pub(crate) fn infer(
    map: &ColumnMap,
    metadata: &Metadata,
    sample: &[StringRecord],
) -> Option<(Stage, f64, String)> {
    if let Some(name) = metadata.report_name() {
        if let Some(s) = named_stage(&HeaderWords::of(name).words) {
            return Some((s, 0.9, format!("the report names itself `{name}`")));
        }
    }
    // The best time columns, and the stage they name if they agree.
    let best = map
        .candidates
        .iter()
        .filter(|c| c.field == Field::OccurredAt.as_str() && c.rejected.is_none())
        .map(|c| c.confidence)
        .fold(0.0f64, f64::max);
    let named: Vec<(Stage, &str)> = map
        .candidates
        .iter()
        .filter(|c| {
            c.field == Field::OccurredAt.as_str() && c.rejected.is_none() && c.confidence >= best - 0.001
        })
        .filter_map(|c| named_stage(&map.words[c.index].words).map(|s| (s, c.column.as_str())))
        .collect();
    if let Some((first, column)) = named.first() {
        if named.iter().all(|(s, _)| s == first) {
            return Some((*first, 0.85, format!("the time column names it (`{column}`)")));
        }
    }
    for f in [Field::Amount, Field::AmountCredit, Field::AmountMinor] {
        if let Some(s) = map.column(f).and_then(|c| named_stage(&map.words[c].words)) {
            return Some((s, 0.85, format!("the amount column names it (`{}`)", column_of(map, f))));
        }
    }
    if map.column(Field::ReasonCode).is_some() {
        return Some((Stage::Chargeback, 0.85, "a reason-code column".into()));
    }
    if let Some(k) = map.column(Field::Kind) {
        let ledger = sample.iter().filter_map(|r| r.get(k)).any(|v| classify(v) == Kind::Skip(Skip::Payout));
        let balance = map.words.iter().any(|w| w.has(W::Balance));
        if ledger || balance {
            return Some((
                Stage::Settlement,
                0.8,
                "a ledger of payments received with payouts or a balance".into(),
            ));
        }
    }
    if [Field::ResponseCode, Field::Status, Field::Error].iter().any(|f| map.column(*f).is_some()) {
        return Some((Stage::Auth, 0.9, "approval or decline columns".into()));
    }
    if map.column(Field::InterchangeFee).or(map.column(Field::InterchangeFeeMinor)).is_some() {
        return Some((Stage::Clearing, 0.75, "an interchange fee column".into()));
    }
    let says_transaction = [Field::TransactionId, Field::OccurredAt]
        .iter()
        .filter_map(|f| map.column(*f))
        .any(|c| map.words[c].has(W::Txn));
    says_transaction.then(|| (Stage::Auth, 0.6, "a list of card transactions without stage words".into()))
}

fn column_of(map: &ColumnMap, f: Field) -> String {
    map.column(f).map(|c| map.headers()[c].to_owned()).unwrap_or_default()
}
