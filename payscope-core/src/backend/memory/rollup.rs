//! Daily rollups over the low-cardinality dimensions, at two levels: a coarse one (stage,
//! network, currency, approval) that answers the common questions from a few dozen cells per
//! day, and a fine one that adds entry mode, response/reason code and both countries.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::facts::Stage;
use crate::store::metric::Dimension;

/// Packed rollup key: network 8 bits | currency 8 | approval 2 | entry mode 3 |
/// response-or-reason code 16 | merchant country 8 | issuer country 8 | stage 3 (on top, so a
/// day's cells are sorted by stage and a query reads only its stages' cells).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RollupKey(pub u64);

/// Code field value used when a bank has more than 65,534 distinct codes.
pub(crate) const CODE_OVERFLOW: u32 = 0xFFFF;
const STAGE_SHIFT: u32 = 56;
const COARSE_MASK: u64 = ((1 << 21) - 1) | (7 << STAGE_SHIFT);

impl RollupKey {
    /// Packs the fields; `code` is the response code for AUTH, the reason code for CHARGEBACK.
    #[allow(clippy::too_many_arguments)]
    pub fn pack(
        stage: Stage,
        network: u8,
        currency_code: u8,
        approval: u8,
        entry: u8,
        code: u32,
        mc: u8,
        ic: u8,
    ) -> Self {
        let code = code.min(CODE_OVERFLOW) as u64;
        RollupKey(
            (network as u64) << 3
                | (currency_code as u64) << 11
                | (approval as u64) << 19
                | (entry as u64) << 21
                | code << 24
                | (mc as u64) << 40
                | (ic as u64) << 48
                | (stage.index() as u64) << STAGE_SHIFT,
        )
    }

    /// The key with only the coarse fields kept.
    pub fn coarse(self) -> Self {
        RollupKey(self.0 & COARSE_MASK)
    }

    /// The stage.
    pub fn stage(self) -> Stage {
        Stage::ALL[(self.0 >> STAGE_SHIFT) as usize % 6]
    }

    /// Currency table index + 1.
    pub fn currency_code(self) -> u8 {
        (self.0 >> 11) as u8
    }

    /// 0 unknown, 1 approved, 2 declined.
    pub fn approval(self) -> u8 {
        ((self.0 >> 19) & 3) as u8
    }

    /// The dimension code this key gives `dim` (same codes as the fact scan), for every
    /// dimension rollups keep except `day_of_week`, which comes from the day.
    pub fn dim_code(self, dim: Dimension) -> u32 {
        let field = |shift: u32, bits: u32| ((self.0 >> shift) & ((1 << bits) - 1)) as u32;
        match dim {
            Dimension::Network => field(3, 8),
            Dimension::Currency => field(11, 8),
            Dimension::EntryMode => field(21, 3),
            Dimension::ResponseCode if self.stage() == Stage::Auth => field(24, 16),
            Dimension::ReasonCode if self.stage() == Stage::Chargeback => field(24, 16),
            Dimension::MerchantCountry => field(40, 8),
            Dimension::IssuerCountry => field(48, 8),
            Dimension::CrossBorder => cross_border_code(field(40, 8) as u8, field(48, 8) as u8),
            _ => 0,
        }
    }
}

/// The cells of `stage` in a day's list (sorted by key, so by stage first).
pub(crate) fn stage_cells(list: &[(RollupKey, Cell)], stage: Stage) -> &[(RollupKey, Cell)] {
    let lo = (stage.index() as u64) << STAGE_SHIFT;
    let hi = (stage.index() as u64 + 1) << STAGE_SHIFT;
    let a = list.partition_point(|(k, _)| k.0 < lo);
    let b = list.partition_point(|(k, _)| k.0 < hi);
    &list[a..b.max(a)]
}

/// Cross-border code: 0 unknown, 1 domestic, 2 cross-border.
#[inline]
pub(crate) fn cross_border_code(mc: u8, ic: u8) -> u32 {
    match (mc, ic) {
        (0, _) | (_, 0) => 0,
        (a, b) if a == b => 1,
        _ => 2,
    }
}

/// Sums for one key on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cell {
    pub count: u64,
    pub amount: i128,
    pub fee: i128,
    pub fraud_count: u64,
    pub fraud_amount: i128,
}

impl Cell {
    fn add(&mut self, o: &Cell) {
        self.count += o.count;
        self.amount += o.amount;
        self.fee += o.fee;
        self.fraud_count += o.fraud_count;
        self.fraud_amount += o.fraud_amount;
    }
}

/// The cells of one day at both levels, sorted by key.
#[derive(Debug, Clone, Default)]
pub(crate) struct DayCells {
    pub coarse: Vec<(RollupKey, Cell)>,
    pub fine: Vec<(RollupKey, Cell)>,
}

/// Which rollup level a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Coarse,
    Fine,
}

impl Level {
    /// The cheapest daily level that keeps every dimension in `dims`, if any does.
    pub fn for_dimensions(dims: impl IntoIterator<Item = Dimension>) -> Option<Level> {
        let mut level = Level::Coarse;
        for d in dims {
            match d {
                Dimension::Network | Dimension::Currency | Dimension::DayOfWeek => {}
                d if d.in_rollups() => level = Level::Fine,
                _ => return None,
            }
        }
        Some(level)
    }

    /// True when the hourly (coarse) cells keep every dimension in `dims`.
    pub fn hourly_keeps(dims: impl IntoIterator<Item = Dimension>) -> bool {
        dims.into_iter().all(|d| {
            matches!(
                d,
                Dimension::Network | Dimension::Currency | Dimension::DayOfWeek | Dimension::HourOfDay
            )
        })
    }
}

/// A bank's rollups: both levels per epoch day, and the coarse level per epoch hour (which
/// serves hourly series, hour-of-day filters and the partial days at a range's edges).
#[derive(Debug, Default, Clone)]
pub(crate) struct Rollups {
    pub days: BTreeMap<i32, DayCells>,
    pub hours: BTreeMap<i64, Vec<(RollupKey, Cell)>>,
}

impl Rollups {
    /// Adds a batch of sums keyed by (epoch hour, fine key).
    pub fn apply(&mut self, delta: FxHashMap<(i64, RollupKey), Cell>) {
        let mut fine_by_day: BTreeMap<i32, Vec<(RollupKey, Cell)>> = BTreeMap::new();
        let mut coarse_by_hour: BTreeMap<i64, Vec<(RollupKey, Cell)>> = BTreeMap::new();
        for ((hour, key), cell) in delta {
            fine_by_day.entry(hour.div_euclid(24) as i32).or_default().push((key, cell));
            coarse_by_hour.entry(hour).or_default().push((key.coarse(), cell));
        }
        for (day, fine) in fine_by_day {
            let coarse = fine.iter().map(|(k, c)| (k.coarse(), *c)).collect();
            let cells = self.days.entry(day).or_default();
            merge_into(&mut cells.fine, sorted_summed(fine));
            merge_into(&mut cells.coarse, sorted_summed(coarse));
        }
        for (hour, coarse) in coarse_by_hour {
            merge_into(self.hours.entry(hour).or_default(), sorted_summed(coarse));
        }
    }

    /// Subtracts a fact's fraud contribution (when a FRAUD fact takes over its transaction).
    pub fn remove_fraud(&mut self, hour: i64, key: RollupKey, amount: i64) {
        let mut lists: Vec<(&mut Vec<(RollupKey, Cell)>, RollupKey)> = Vec::new();
        if let Some(cells) = self.days.get_mut(&(hour.div_euclid(24) as i32)) {
            lists.push((&mut cells.fine, key));
            lists.push((&mut cells.coarse, key.coarse()));
        }
        if let Some(cells) = self.hours.get_mut(&hour) {
            lists.push((cells, key.coarse()));
        }
        for (list, k) in lists {
            if let Ok(i) = list.binary_search_by_key(&k, |(k, _)| *k) {
                list[i].1.fraud_count = list[i].1.fraud_count.saturating_sub(1);
                list[i].1.fraud_amount -= amount as i128;
            }
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        let cell = std::mem::size_of::<(RollupKey, Cell)>();
        self.days.values().map(|d| (d.coarse.capacity() + d.fine.capacity()) * cell + 64).sum::<usize>()
            + self.hours.values().map(|h| h.capacity() * cell + 48).sum::<usize>()
    }
}

/// Sorts cells by key and sums duplicates.
fn sorted_summed(mut cells: Vec<(RollupKey, Cell)>) -> Vec<(RollupKey, Cell)> {
    cells.sort_unstable_by_key(|(k, _)| *k);
    let mut out: Vec<(RollupKey, Cell)> = Vec::with_capacity(cells.len());
    for (k, c) in cells {
        match out.last_mut() {
            Some((lk, lc)) if *lk == k => lc.add(&c),
            _ => out.push((k, c)),
        }
    }
    out
}

/// Merges sorted `add` into sorted `into`, summing cells with equal keys.
fn merge_into(into: &mut Vec<(RollupKey, Cell)>, add: Vec<(RollupKey, Cell)>) {
    let old = std::mem::take(into);
    let mut out: Vec<(RollupKey, Cell)> = Vec::with_capacity(old.len() + add.len());
    let mut a = old.into_iter().peekable();
    let mut b = add.into_iter().peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 < y.0 => a.next(),
            (Some(_), Some(_)) | (None, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => break,
        };
        let Some((k, c)) = next else { break };
        match out.last_mut() {
            Some((lk, lc)) if *lk == k => lc.add(&c),
            _ => out.push((k, c)),
        }
    }
    *into = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_their_fields() {
        let k = RollupKey::pack(Stage::Chargeback, 2, 150, 0, 3, 77, 200, 12);
        assert_eq!(k.stage(), Stage::Chargeback);
        assert_eq!(k.dim_code(Dimension::Network), 2);
        assert_eq!(k.dim_code(Dimension::Currency), 150);
        assert_eq!(k.dim_code(Dimension::EntryMode), 3);
        assert_eq!(k.dim_code(Dimension::ReasonCode), 77);
        assert_eq!(k.dim_code(Dimension::ResponseCode), 0);
        assert_eq!(k.dim_code(Dimension::MerchantCountry), 200);
        assert_eq!(k.dim_code(Dimension::IssuerCountry), 12);
        assert_eq!(k.dim_code(Dimension::CrossBorder), 2);
        assert_eq!(k.coarse().dim_code(Dimension::EntryMode), 0);
    }

    #[test]
    fn applying_twice_sums_cells() {
        let mut r = Rollups::default();
        let key = RollupKey::pack(Stage::Auth, 1, 1, 1, 1, 1, 1, 1);
        for _ in 0..2 {
            let mut d = FxHashMap::default();
            d.insert((5 * 24 + 3, key), Cell { count: 2, amount: 10, ..Default::default() });
            r.apply(d);
        }
        assert_eq!(r.days[&5].fine[0].1.count, 4);
        assert_eq!(r.days[&5].coarse[0].1.amount, 20);
        assert_eq!(r.hours[&(5 * 24 + 3)][0].1.count, 4);
    }
}
