//! One bank's embedded fact data: dictionaries, time-sorted segments per stage, the
//! idempotency key sets, daily rollups, and the fraud bookkeeping that keeps `fraud_count`
//! counting each transaction once.

use rustc_hash::FxHashMap;

use super::columns::{bin_text, flag, Dicts, Remap, Segment};
use super::keyset::KeySet;
use super::rollup::{Cell, RollupKey, Rollups, CODE_OVERFLOW};
use crate::calendar::{Timestamp, MS_PER_DAY};
use crate::error::Result;
use crate::facts::{CardToken, Country, EntryMode, Fact, Lineage, ReportId, Sha256, Stage};
use crate::money::{Currency, Money};
use crate::store::{FactStats, LoadOutcome};

/// A report whose facts are stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReportRef {
    pub id: ReportId,
    pub sha256: Sha256,
}

/// Where the AUTH fact that currently counts a fraud transaction lives.
#[derive(Debug, Clone, Copy, Default)]
struct FraudEntry {
    auth: Option<(u32, u32)>,
    has_fraud_fact: bool,
}

/// Facts appended to a load, encoded against the load's own dictionaries until commit.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    pub dicts: Dicts,
    pub stages: [Segment; 6],
}

impl Staged {
    /// Appends one fact.
    pub fn push(&mut self, f: &Fact) -> Result<()> {
        let tx = self.dicts.tx_key(&f.transaction_id);
        self.stages[f.stage.index()].push(f, tx, &mut self.dicts)
    }
}

/// Heap bytes held by a bank's fact data, by part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapBytes {
    /// Fact columns.
    pub segments: usize,
    /// Dictionaries (merchants, cards, codes, transaction ids).
    pub dictionaries: usize,
    /// Idempotency key sets and fraud bookkeeping.
    pub key_sets: usize,
    /// Daily rollups.
    pub rollups: usize,
}

impl HeapBytes {
    /// The sum of the parts.
    pub fn total(&self) -> usize {
        self.segments + self.dictionaries + self.key_sets + self.rollups
    }
}

/// A load ready to publish.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    segments: Vec<(Stage, Segment, Vec<u64>)>,
    /// Facts that will be stored and duplicates skipped.
    pub outcome: LoadOutcome,
}

/// All fact data of one bank.
#[derive(Debug, Default)]
pub(crate) struct BankData {
    pub dicts: Dicts,
    pub reports: Vec<ReportRef>,
    pub segments: [Vec<Segment>; 6],
    keys: [KeySet; 6],
    fraud: FxHashMap<u64, FraudEntry>,
    pub rollups: Rollups,
    pub codes_overflowed: bool,
    pub stats: FactStats,
}

impl BankData {
    /// Checks a load and builds its segments: dictionary codes translated, `(transaction_id,
    /// stage)` keys already stored (or repeated in the load, where the first row wins) skipped,
    /// facts sorted by time. Only the dictionaries change; [`BankData::apply`] publishes.
    pub fn prepare(&mut self, staged: &Staged) -> Result<Prepared> {
        let remap = Remap::build(&staged.dicts, &mut self.dicts)?;
        let mut prepared = Prepared::default();
        for stage in Stage::ALL {
            let staging = &staged.stages[stage.index()];
            if staging.len() == 0 {
                continue;
            }
            let mut keyed: Vec<(u64, u32)> =
                staging.tx.iter().enumerate().map(|(i, &k)| (remap.tx(k), i as u32)).collect();
            keyed.sort_unstable();
            let mut kept: Vec<u32> = Vec::with_capacity(keyed.len());
            let mut new_keys: Vec<u64> = Vec::with_capacity(keyed.len());
            for (j, &(key, idx)) in keyed.iter().enumerate() {
                let repeat = j > 0 && keyed[j - 1].0 == key;
                if repeat || self.keys[stage.index()].contains(key) {
                    prepared.outcome.duplicates += 1;
                } else {
                    kept.push(idx);
                    new_keys.push(key);
                }
            }
            kept.sort_unstable_by_key(|&i| (staging.ts[i as usize], i));
            prepared.outcome.loaded += kept.len() as u64;
            prepared.segments.push((stage, staging.select(&kept, &remap), new_keys));
        }
        Ok(prepared)
    }

    /// Publishes a prepared load; cannot fail.
    pub fn apply(&mut self, prepared: Prepared, report: ReportRef) {
        let report_index = self.reports.len() as u32;
        self.reports.push(report);
        // Stages are applied in lifecycle order (AUTH before FRAUD) and each stage's rollups
        // land before the next starts, so a FRAUD fact can take over an AUTH fact of this load.
        for (stage, mut seg, new_keys) in prepared.segments {
            seg.report = report_index;
            self.keys[stage.index()].insert_new_sorted(new_keys);
            let seg_index = self.segments[stage.index()].len() as u32;
            let mut delta: FxHashMap<(i64, RollupKey), Cell> = FxHashMap::default();
            for i in 0..seg.len() {
                self.count_fraud(stage, &mut seg, seg_index, i);
                let key = self.rollup_key(stage, &seg, i);
                let cell = delta.entry((hour_of(seg.ts[i]), key)).or_default();
                cell.count += 1;
                cell.amount += seg.amount[i] as i128;
                cell.fee += seg.fee.get(i).value().unwrap_or(0) as i128;
                if seg.flags[i] & flag::FRAUD_COUNTED != 0 {
                    cell.fraud_count += 1;
                    cell.fraud_amount += seg.amount[i] as i128;
                }
            }
            self.stats.by_stage[stage.index()] += seg.len() as u64;
            self.stats.total += seg.len() as u64;
            if let (Some(&first), Some(&last)) = (seg.ts.first(), seg.ts.last()) {
                self.stats.first =
                    Some(self.stats.first.map_or(Timestamp(first), |t| t.min(Timestamp(first))));
                self.stats.last = Some(self.stats.last.map_or(Timestamp(last), |t| t.max(Timestamp(last))));
            }
            self.segments[stage.index()].push(seg);
            self.rollups.apply(delta);
        }
        self.stats.data_version += 1;
    }

    /// Decides whether fact `i` (just loaded) counts its transaction as fraud. A FRAUD fact
    /// always does and takes over from a flagged AUTH fact of the same transaction; a flagged
    /// AUTH fact counts only while no FRAUD fact exists.
    fn count_fraud(&mut self, stage: Stage, seg: &mut Segment, seg_index: u32, i: usize) {
        let tx = seg.tx[i];
        match stage {
            Stage::Auth if seg.flags[i] & flag::FRAUD_REPORTED != 0 => {
                let entry = self.fraud.entry(tx).or_default();
                if !entry.has_fraud_fact {
                    seg.flags[i] |= flag::FRAUD_COUNTED;
                    entry.auth = Some((seg_index, i as u32));
                }
            }
            Stage::Fraud => {
                seg.flags[i] |= flag::FRAUD_COUNTED;
                let entry = self.fraud.entry(tx).or_default();
                entry.has_fraud_fact = true;
                if let Some((s, j)) = entry.auth.take() {
                    let auth_segments = &mut self.segments[Stage::Auth.index()];
                    if let Some(auth) = auth_segments.get_mut(s as usize) {
                        let j = j as usize;
                        auth.flags[j] &= !flag::FRAUD_COUNTED;
                        let (hour, amount) = (hour_of(auth.ts[j]), auth.amount[j]);
                        let key = rollup_key_of(Stage::Auth, auth, j);
                        self.rollups.remove_fraud(hour, key, amount);
                    }
                }
            }
            _ => {}
        }
    }

    fn rollup_key(&mut self, stage: Stage, seg: &Segment, i: usize) -> RollupKey {
        let key = rollup_key_of(stage, seg, i);
        if (key.0 >> 24) & 0xFFFF == CODE_OVERFLOW as u64 {
            self.codes_overflowed = true;
        }
        key
    }

    /// Rebuilds fact `i` of a segment.
    pub fn fact_at(&self, stage: Stage, seg: &Segment, i: usize) -> Fact {
        let report = self.reports.get(seg.report as usize).copied();
        let currency = Currency::from_index(seg.currency[i]).unwrap_or(Currency::USD);
        let lineage = Lineage {
            report_id: report.map_or(ReportId(uuid::Uuid::nil()), |r| r.id),
            sha256: report.map_or(Sha256([0; 32]), |r| r.sha256),
            row: seg.row(i),
        };
        let d = &self.dicts;
        let flags = seg.flags[i];
        let merchant = seg.merchant[i];
        let mut f = Fact::new(
            d.tx_string(seg.tx[i]),
            stage,
            Timestamp(seg.ts[i]),
            Money::new(seg.amount[i], currency),
            lineage,
        );
        f.network = d.network(seg.network[i]);
        f.response_code = d.code_text(seg.response.get(i)).map(str::to_owned);
        f.approved = (flags & flag::APPROVED_KNOWN != 0).then_some(flags & flag::APPROVED != 0);
        f.merchant_id = d.string(d.merchant_id_code(merchant)).map(str::to_owned);
        f.merchant_name = d.string(d.merchant_name_code(merchant)).map(str::to_owned);
        f.mcc = seg.mcc[i].checked_sub(1).map(|m| format!("{m:04}"));
        f.merchant_country = seg.merchant_country[i].checked_sub(1).and_then(Country::from_index);
        f.issuer_country = seg.issuer_country[i].checked_sub(1).and_then(Country::from_index);
        f.issuer_bin = bin_text(seg.bin[i]);
        f.card_token = seg.card[i].checked_sub(1).and_then(|c| d.cards.get(c)).map(|c| CardToken(*c));
        f.entry_mode = seg.entry_mode[i].checked_sub(1).map(|e| EntryMode::ALL[e as usize]);
        f.interchange_fee = seg.fee.get(i).value();
        f.reason_code = d.code_text(seg.reason.get(i)).map(str::to_owned);
        f.fraud_reported = flags & flag::FRAUD_REPORTED != 0;
        f
    }

    /// Heap bytes of everything the bank holds.
    pub fn heap_bytes(&self) -> HeapBytes {
        HeapBytes {
            segments: self.segments.iter().flatten().map(Segment::heap_bytes).sum(),
            dictionaries: self.dicts.heap_bytes()
                + self.reports.capacity() * std::mem::size_of::<ReportRef>(),
            key_sets: self.keys.iter().map(KeySet::heap_bytes).sum::<usize>() + self.fraud.capacity() * 24,
            rollups: self.rollups.heap_bytes(),
        }
    }
}

/// The rollup key of fact `i`.
pub(crate) fn rollup_key_of(stage: Stage, seg: &Segment, i: usize) -> RollupKey {
    let flags = seg.flags[i];
    let approval = match (flags & flag::APPROVED_KNOWN != 0, flags & flag::APPROVED != 0) {
        (false, _) => 0,
        (true, true) => 1,
        (true, false) => 2,
    };
    let code = match stage {
        Stage::Auth => seg.response.get(i),
        Stage::Chargeback => seg.reason.get(i),
        _ => 0,
    };
    RollupKey::pack(
        stage,
        seg.network[i],
        seg.currency[i] + 1,
        approval,
        seg.entry_mode[i],
        code,
        seg.merchant_country[i],
        seg.issuer_country[i],
    )
}

/// The UTC epoch hour of a millisecond timestamp.
#[inline]
pub(crate) fn hour_of(ts: i64) -> i64 {
    ts.div_euclid(crate::calendar::MS_PER_HOUR)
}

/// The UTC epoch day of a millisecond timestamp.
#[inline]
pub(crate) fn day_of(ts: i64) -> i32 {
    ts.div_euclid(MS_PER_DAY) as i32
}
