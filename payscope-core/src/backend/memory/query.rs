//! Metric query execution over one bank's columnar data.
//!
//! The planner serves whole UTC days from rollups when every filter, group and metric allows
//! it, and scans the time-sorted segments for everything else: the partial days at the edges
//! of a range, high-cardinality dimensions (merchant, MCC, BIN, hour) and the AUTH ↔ SETTLEMENT
//! join metrics. Both paths produce the same dimension codes and feed the same [`Measures`].

use rustc_hash::FxHashMap;

use super::bank::{day_of, BankData};
use super::columns::{bin_code, entry_code, flag, Segment};
use super::rollup::{cross_border_code, Level, RollupKey};
use crate::calendar::{Date, Timestamp, MS_PER_DAY, MS_PER_HOUR};
use crate::error::Result;
use crate::facts::{Country, EntryMode, Network, Stage};
use crate::money::Currency;
use crate::store::measures::{compare_fractions, finalize, Contribution, Measures};
use crate::store::metric::{Dimension, Granularity, MetricQuery, MetricResult, Source, Unit, WEEKDAYS};

const NO_BUCKET: i64 = i64::MIN;

/// Bucket start (or `NO_BUCKET`) and up to four dimension codes.
type GroupKey = (i64, [u32; MetricQuery::MAX_GROUP_BY]);

/// A filter turned into the sorted set of codes it accepts.
pub(crate) struct CompiledFilter {
    pub dim: Dimension,
    pub codes: Vec<u32>,
    /// Accept the codes not in `codes` (and code 0, a fact without the attribute).
    pub exclude: bool,
}

impl CompiledFilter {
    #[inline]
    pub fn accepts(&self, code: u32) -> bool {
        if self.exclude {
            code == 0 || self.codes.binary_search(&code).is_err()
        } else {
            code != 0 && self.codes.binary_search(&code).is_ok()
        }
    }
}

/// Compiles filters against the bank's dictionaries; unknown values accept nothing.
pub(crate) fn compile_filters(
    bank: &BankData,
    filters: &[crate::store::metric::Filter],
) -> Vec<CompiledFilter> {
    filters
        .iter()
        .map(|f| {
            let mut codes: Vec<u32> = f.values.iter().filter_map(|v| encode(bank, f.dimension, v)).collect();
            codes.sort_unstable();
            codes.dedup();
            CompiledFilter { dim: f.dimension, codes, exclude: f.exclude }
        })
        .collect()
}

/// The code of a canonical dimension value, if the bank has it.
fn encode(bank: &BankData, dim: Dimension, v: &str) -> Option<u32> {
    let d = &bank.dicts;
    let code = match dim {
        Dimension::Network => match Network::parse(v)? {
            Network::Other(s) => d.other_networks.find(s.as_str())? + 7,
            known => Network::KNOWN.iter().position(|k| *k == known)? as u32 + 1,
        },
        Dimension::MerchantId | Dimension::MerchantName => d.strings.find(v)? + 1,
        Dimension::Mcc => super::columns::mcc_code(Some(v)).ok()? as u32,
        Dimension::MerchantCountry | Dimension::IssuerCountry => Country::parse(v)?.index() as u32 + 1,
        Dimension::IssuerBin => bin_code(Some(v)).ok()?,
        Dimension::EntryMode => entry_code(Some(EntryMode::parse(v)?)) as u32,
        Dimension::ResponseCode | Dimension::ReasonCode => d.codes.find(v)? + 1,
        Dimension::Currency => Currency::from_code(v)?.index() as u32 + 1,
        Dimension::HourOfDay => v.parse::<u32>().ok().filter(|h| *h < 24)? + 1,
        Dimension::DayOfWeek => WEEKDAYS.iter().position(|w| *w == v)? as u32 + 1,
        Dimension::CrossBorder => match v {
            "true" => 2,
            "false" => 1,
            _ => return None,
        },
    };
    (code != 0).then_some(code)
}

/// The canonical text of a dimension code.
pub(crate) fn decode(bank: &BankData, dim: Dimension, code: u32) -> Option<String> {
    if code == 0 {
        return None;
    }
    let d = &bank.dicts;
    match dim {
        Dimension::Network => d.network(code as u8).map(|n| n.to_string()),
        Dimension::MerchantId | Dimension::MerchantName => d.string(code).map(str::to_owned),
        Dimension::Mcc => Some(format!("{:04}", code - 1)),
        Dimension::MerchantCountry | Dimension::IssuerCountry => {
            Country::from_index((code - 1) as u8).map(|c| c.alpha2().to_owned())
        }
        Dimension::IssuerBin => super::columns::bin_text(code),
        Dimension::EntryMode => EntryMode::ALL.get(code as usize - 1).map(|e| e.as_str().to_owned()),
        Dimension::ResponseCode | Dimension::ReasonCode => d.code_text(code).map(str::to_owned),
        Dimension::Currency => Currency::from_index((code - 1) as u8).map(|c| c.code().to_owned()),
        Dimension::HourOfDay => Some((code - 1).to_string()),
        Dimension::DayOfWeek => WEEKDAYS.get(code as usize - 1).map(|w| (*w).to_owned()),
        Dimension::CrossBorder => Some((code == 2).to_string()),
    }
}

/// The code of `dim` for fact `i` of a segment.
#[inline]
pub(crate) fn fact_code(bank: &BankData, stage: Stage, seg: &Segment, i: usize, dim: Dimension) -> u32 {
    match dim {
        Dimension::Network => seg.network[i] as u32,
        Dimension::MerchantId => bank.dicts.merchant_id_code(seg.merchant[i]),
        Dimension::MerchantName => bank.dicts.merchant_name_code(seg.merchant[i]),
        Dimension::Mcc => seg.mcc[i] as u32,
        Dimension::MerchantCountry => seg.merchant_country[i] as u32,
        Dimension::IssuerCountry => seg.issuer_country[i] as u32,
        Dimension::IssuerBin => seg.bin[i],
        Dimension::EntryMode => seg.entry_mode[i] as u32,
        Dimension::ResponseCode if stage == Stage::Auth => seg.response.get(i),
        Dimension::ReasonCode if stage == Stage::Chargeback => seg.reason.get(i),
        Dimension::ResponseCode | Dimension::ReasonCode => 0,
        Dimension::Currency => seg.currency[i] as u32 + 1,
        Dimension::HourOfDay => (seg.ts[i].rem_euclid(MS_PER_DAY) / MS_PER_HOUR) as u32 + 1,
        Dimension::DayOfWeek => Date(day_of(seg.ts[i])).weekday() + 1,
        Dimension::CrossBorder => cross_border_code(seg.merchant_country[i], seg.issuer_country[i]),
    }
}

/// Which rollups can serve a query (facts fill in whatever they cannot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The daily level for whole days (none when an hour is needed or a dimension is not kept).
    pub daily: Option<Level>,
    /// Hourly coarse cells serve whole hours (edges of the range, hourly series, hour filters).
    pub hourly: bool,
}

/// Plans a normalized query against a bank's rollups.
pub(crate) fn plan(bank: &BankData, q: &MetricQuery) -> Plan {
    let dims: Vec<Dimension> =
        q.filters.iter().map(|f| f.dimension).chain(q.group_by.iter().copied()).collect();
    let touches_codes = dims.iter().any(|d| matches!(d, Dimension::ResponseCode | Dimension::ReasonCode));
    // Rollups keep no single amounts: an amount condition reads the facts.
    if q.needs_settlement_join() || (touches_codes && bank.codes_overflowed) || !q.amount.is_empty() {
        return Plan { daily: None, hourly: false };
    }
    // Cross-border share needs both countries, which only the fine daily level keeps.
    let cross_border = q.reads().any(|m| m == crate::store::metric::Metric::CrossBorderShare);
    let needs_hour = dims.contains(&Dimension::HourOfDay) || q.granularity == Some(Granularity::Hour);
    let daily = match Level::for_dimensions(dims.iter().copied()) {
        _ if needs_hour => None,
        Some(_) if cross_border => Some(Level::Fine),
        level => level,
    };
    Plan { daily, hourly: !cross_border && Level::hourly_keeps(dims.iter().copied()) }
}

/// Answers a normalized query.
pub(crate) fn run(bank: &BankData, q: &MetricQuery) -> Result<MetricResult> {
    let stages = q.stages();
    let filters = compile_filters(bank, &q.filters);
    let needs_join = q.needs_settlement_join();
    let plan = plan(bank, q);
    let (from, to) = (q.range.from.0, q.range.to.0);
    let mut exec = Exec {
        bank,
        q,
        filters,
        groups: Groups::for_query(bank, q),
        facts_scanned: 0,
        pending: Vec::new(),
        needs_join,
        used_rollup: false,
        used_facts: false,
    };
    let first_day = from.div_euclid(MS_PER_DAY) + i64::from(from.rem_euclid(MS_PER_DAY) != 0);
    let end_day = to.div_euclid(MS_PER_DAY);
    match plan.daily {
        Some(level) if first_day < end_day => {
            exec.daily(level, &stages, first_day as i32, end_day as i32);
            exec.edge(plan.hourly, &stages, from, first_day * MS_PER_DAY);
            exec.edge(plan.hourly, &stages, end_day * MS_PER_DAY, to);
        }
        _ => exec.edge(plan.hourly, &stages, from, to),
    }
    if needs_join {
        exec.join_settlements();
    }
    let source = match (exec.used_rollup, exec.used_facts) {
        (true, false) => Source::Rollup,
        (true, true) => Source::RollupAndFacts,
        _ => Source::Facts,
    };
    let facts_scanned = exec.facts_scanned;
    let groups = preselect(q, exec.groups.into_pairs())
        .into_iter()
        .map(|((bucket, codes), m)| {
            let group = q.group_by.iter().zip(codes).map(|(d, c)| decode(bank, *d, c)).collect();
            ((bucket != NO_BUCKET).then_some(Timestamp(bucket)), group, m)
        })
        .collect();
    let rows = finalize(q, groups)?;
    Ok(MetricResult { query: q.clone(), rows, source, facts_scanned })
}

/// Keeps, per partition (bucket, and currency when ranking money), only the groups that can
/// make a top-N cut — the N best and any tied with the N-th — so that only they are decoded
/// and finalized. Without a top-N every group is kept.
fn preselect(
    q: &MetricQuery,
    groups: impl Iterator<Item = (GroupKey, Measures)>,
) -> Vec<(GroupKey, Measures)> {
    // Groups failing a condition cannot make the cut.
    let groups = groups.filter(|(_, m)| q.keeps(m));
    let (Some(n), Some(order)) = (q.top_n, q.order) else {
        return groups.collect();
    };
    if n == 0 {
        return Vec::new();
    }
    let currency_col = (order.metric.unit() == Unit::Currency)
        .then(|| q.group_by.iter().position(|d| *d == Dimension::Currency))
        .flatten();
    type Ranked = (Option<(i128, i128)>, GroupKey, Measures);
    let mut partitions: FxHashMap<(i64, u32), Vec<Ranked>> = FxHashMap::default();
    for (key, m) in groups {
        let part = (key.0, currency_col.map_or(0, |c| key.1[c]));
        partitions.entry(part).or_default().push((m.fraction(order.metric), key, m));
    }
    let best_first = |a: &Option<(i128, i128)>, b: &Option<(i128, i128)>| {
        let c = compare_fractions(*a, *b);
        if order.descending {
            c.reverse()
        } else {
            c
        }
    };
    let mut out = Vec::new();
    for (_, mut ranked) in partitions {
        if ranked.len() > n {
            ranked.select_nth_unstable_by(n - 1, |a, b| best_first(&a.0, &b.0));
            let nth = ranked[n - 1].0;
            ranked.retain(|r| best_first(&r.0, &nth) != std::cmp::Ordering::Greater);
        }
        out.extend(ranked.into_iter().map(|(_, k, m)| (k, m)));
    }
    out
}

/// Measures per group, in dense vectors. Groups are found through a direct table over the
/// first dimension's codes (with a chain for the other dimensions) when that code space is
/// small and there are no time buckets — the common "top merchants" shape — and through a
/// hash index otherwise. The last group found is remembered: consecutive facts often share it.
#[derive(Default)]
struct Groups {
    direct: Option<Vec<u32>>,
    next: Vec<u32>,
    index: FxHashMap<GroupKey, u32>,
    keys: Vec<GroupKey>,
    measures: Vec<Measures>,
    last: Option<(GroupKey, u32)>,
}

const NO_GROUP: u32 = u32::MAX;

/// The number of codes a dimension can take for a bank, when small enough to index directly.
fn code_space(bank: &BankData, dim: Dimension) -> Option<usize> {
    let n = match dim {
        Dimension::Network | Dimension::MerchantCountry | Dimension::IssuerCountry | Dimension::Currency => {
            256
        }
        Dimension::MerchantId | Dimension::MerchantName => bank.dicts.strings.values().len() + 1,
        Dimension::Mcc => 10_001,
        Dimension::ResponseCode | Dimension::ReasonCode => bank.dicts.codes.values().len() + 1,
        Dimension::EntryMode | Dimension::DayOfWeek => 8,
        Dimension::HourOfDay => 25,
        Dimension::CrossBorder => 3,
        Dimension::IssuerBin => return None,
    };
    (n <= 1 << 22).then_some(n)
}

impl Groups {
    fn for_query(bank: &BankData, q: &MetricQuery) -> Groups {
        let direct = match (q.granularity, q.group_by.first()) {
            (None, Some(d)) => code_space(bank, *d).map(|n| vec![NO_GROUP; n]),
            _ => None,
        };
        Groups { direct, ..Groups::default() }
    }

    #[inline]
    fn slot(&mut self, key: GroupKey) -> &mut Measures {
        let i = match self.last {
            Some((k, i)) if k == key => i,
            _ => {
                let i = self.find_or_insert(key);
                self.last = Some((key, i));
                i
            }
        };
        &mut self.measures[i as usize]
    }

    #[inline]
    fn find_or_insert(&mut self, key: GroupKey) -> u32 {
        let fresh = self.keys.len() as u32;
        match &mut self.direct {
            Some(table) => {
                let head = &mut table[key.1[0] as usize];
                let mut i = *head;
                while i != NO_GROUP {
                    if self.keys[i as usize] == key {
                        return i;
                    }
                    i = self.next[i as usize];
                }
                self.next.push(*head);
                *head = fresh;
            }
            None => {
                let i = *self.index.entry(key).or_insert(fresh);
                if i != fresh {
                    return i;
                }
            }
        }
        self.keys.push(key);
        self.measures.push(Measures::default());
        fresh
    }

    fn get_mut(&mut self, key: GroupKey) -> Option<&mut Measures> {
        let i = match &self.direct {
            Some(table) => {
                let mut i = table[key.1[0] as usize];
                while i != NO_GROUP && self.keys[i as usize] != key {
                    i = self.next[i as usize];
                }
                i
            }
            None => self.index.get(&key).copied().unwrap_or(NO_GROUP),
        };
        self.measures.get_mut(i as usize)
    }

    fn into_pairs(self) -> impl Iterator<Item = (GroupKey, Measures)> {
        self.keys.into_iter().zip(self.measures)
    }
}

struct Exec<'a> {
    bank: &'a BankData,
    q: &'a MetricQuery,
    filters: Vec<CompiledFilter>,
    groups: Groups,
    facts_scanned: u64,
    /// Approved AUTH facts waiting for the settlement join: (group, transaction key, time).
    pending: Vec<(GroupKey, u64, i64)>,
    needs_join: bool,
    used_rollup: bool,
    used_facts: bool,
}

impl Exec<'_> {
    /// Whole days `[first_day, end_day)` from the daily cells of `level`.
    fn daily(&mut self, level: Level, stages: &[Stage], first_day: i32, end_day: i32) {
        self.used_rollup = true;
        let bank = self.bank;
        for (&day, cells) in bank.rollups.days.range(first_day..end_day) {
            let list = match level {
                Level::Coarse => &cells.coarse,
                Level::Fine => &cells.fine,
            };
            self.cells(list, stages, day, None);
        }
    }

    /// `[from, to)` from hourly cells for its whole hours (when `hourly`) and facts for the rest.
    fn edge(&mut self, hourly: bool, stages: &[Stage], from: i64, to: i64) {
        if from >= to {
            return;
        }
        let first_hour = from.div_euclid(MS_PER_HOUR) + i64::from(from.rem_euclid(MS_PER_HOUR) != 0);
        let end_hour = to.div_euclid(MS_PER_HOUR);
        if !hourly || first_hour >= end_hour {
            return self.scan(stages, from, to);
        }
        self.used_rollup = true;
        let bank = self.bank;
        for (&hour, list) in bank.rollups.hours.range(first_hour..end_hour) {
            self.cells(list, stages, hour.div_euclid(24) as i32, Some(hour));
        }
        self.scan(stages, from, first_hour * MS_PER_HOUR);
        self.scan(stages, end_hour * MS_PER_HOUR, to);
    }

    /// Adds rollup cells of one day (or one hour of it).
    fn cells(
        &mut self,
        list: &[(RollupKey, super::rollup::Cell)],
        stages: &[Stage],
        day: i32,
        hour: Option<i64>,
    ) {
        let q = self.q;
        let bucket = match (q.granularity, hour) {
            (None, _) => NO_BUCKET,
            (Some(Granularity::Hour), Some(h)) => h * MS_PER_HOUR,
            (Some(g), _) => g.bucket_of_day(Date(day)).0,
        };
        let key_code = |key: RollupKey, dim: Dimension| match dim {
            Dimension::DayOfWeek => Date(day).weekday() + 1,
            Dimension::HourOfDay => hour.map_or(0, |h| h.rem_euclid(24) as u32 + 1),
            d => key.dim_code(d),
        };
        // Without grouping every cell lands in one group: find it once, not per cell.
        let single = q.group_by.is_empty().then(|| self.groups.find_or_insert((bucket, Default::default())));
        let wanted = stages.iter().flat_map(|s| super::rollup::stage_cells(list, *s));
        'cells: for (key, cell) in wanted {
            let stage = key.stage();
            if cell.count == 0 {
                continue;
            }
            for f in &self.filters {
                if !f.accepts(key_code(*key, f.dim)) {
                    continue 'cells;
                }
            }
            let cross_border = match key.dim_code(Dimension::CrossBorder) {
                0 => None,
                c => Some(c == 2),
            };
            let contribution = Contribution {
                stage,
                currency: Currency::from_index(key.currency_code().saturating_sub(1))
                    .unwrap_or(Currency::USD),
                approved: match key.approval() {
                    1 => Some(true),
                    2 => Some(false),
                    _ => None,
                },
                count: cell.count,
                amount: cell.amount,
                fee: cell.fee,
                fraud_count: cell.fraud_count,
                fraud_amount: cell.fraud_amount,
                cross_border,
            };
            match single {
                Some(i) => self.groups.measures[i as usize].add(contribution),
                None => {
                    let mut codes = [0u32; MetricQuery::MAX_GROUP_BY];
                    for (slot, d) in codes.iter_mut().zip(&q.group_by) {
                        *slot = key_code(*key, *d);
                    }
                    self.groups.slot((bucket, codes)).add(contribution);
                }
            }
        }
    }

    fn scan(&mut self, stages: &[Stage], from: i64, to: i64) {
        if from >= to {
            return;
        }
        self.used_facts = true;
        let (bank, q) = (self.bank, self.q);
        for &stage in stages {
            for seg in &bank.segments[stage.index()] {
                let range = seg.range(from, to);
                self.facts_scanned += range.len() as u64;
                'facts: for i in range {
                    for f in &self.filters {
                        if !f.accepts(fact_code(bank, stage, seg, i, f.dim)) {
                            continue 'facts;
                        }
                    }
                    let currency = Currency::from_index(seg.currency[i]).unwrap_or(Currency::USD);
                    if !q.amount.iter().all(|a| a.keeps(seg.amount[i], currency)) {
                        continue;
                    }
                    let mut codes = [0u32; MetricQuery::MAX_GROUP_BY];
                    for (slot, d) in codes.iter_mut().zip(&q.group_by) {
                        *slot = fact_code(bank, stage, seg, i, *d);
                    }
                    let bucket = q.granularity.map_or(NO_BUCKET, |g| g.bucket_start(Timestamp(seg.ts[i])).0);
                    let key = (bucket, codes);
                    let flags = seg.flags[i];
                    let approved = (flags & flag::APPROVED_KNOWN != 0).then_some(flags & flag::APPROVED != 0);
                    let fraud = flags & flag::FRAUD_COUNTED != 0;
                    let amount = seg.amount[i] as i128;
                    let cross = cross_border_code(seg.merchant_country[i], seg.issuer_country[i]);
                    self.groups.slot(key).add(Contribution {
                        stage,
                        currency,
                        approved,
                        count: 1,
                        amount,
                        fee: seg.fee.get(i).value().unwrap_or(0) as i128,
                        fraud_count: fraud as u64,
                        fraud_amount: if fraud { amount } else { 0 },
                        cross_border: (cross != 0).then_some(cross == 2),
                    });
                    if self.needs_join && stage == Stage::Auth && approved == Some(true) {
                        self.pending.push((key, seg.tx[i], seg.ts[i]));
                    }
                }
            }
        }
    }

    /// Matches pending approved authorizations with SETTLEMENT facts of the same transaction.
    fn join_settlements(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let wanted: FxHashMap<u64, usize> = self.pending.iter().enumerate().map(|(i, p)| (p.1, i)).collect();
        for seg in &self.bank.segments[Stage::Settlement.index()] {
            self.facts_scanned += seg.len() as u64;
            for (i, tx) in seg.tx.iter().enumerate() {
                if let Some(&p) = wanted.get(tx) {
                    let (key, _, auth_ts) = self.pending[p];
                    if let Some(m) = self.groups.get_mut(key) {
                        m.reconciled += 1;
                        m.reconcile_delay_millis += (seg.ts[i] - auth_ts) as i128;
                    }
                }
            }
        }
    }
}
