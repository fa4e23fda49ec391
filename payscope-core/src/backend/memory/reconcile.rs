//! AUTH ↔ CLEARING ↔ SETTLEMENT matching over one bank's columnar data.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};

use super::bank::BankData;
use super::columns::flag;
use super::query::{compile_filters, fact_code};
use crate::error::Result;
use crate::facts::Stage;
use crate::money::{Currency, Money};
use crate::store::reconcile::{Mismatch, ReconcileQuery, ReconcileSummary};

struct Auth {
    ts: i64,
    amount: i64,
    currency: u8,
}

/// Reconciles the approved authorizations of `q`.
pub(crate) fn reconcile(bank: &BankData, q: &ReconcileQuery) -> Result<ReconcileSummary> {
    let filters = compile_filters(bank, &q.filters);
    let mut auths: FxHashMap<u64, Auth> = FxHashMap::default();
    for seg in &bank.segments[Stage::Auth.index()] {
        'facts: for i in seg.range(q.range.from.0, q.range.to.0) {
            if seg.flags[i] & (flag::APPROVED_KNOWN | flag::APPROVED) != flag::APPROVED_KNOWN | flag::APPROVED
            {
                continue;
            }
            for f in &filters {
                if !f.accepts(fact_code(bank, Stage::Auth, seg, i, f.dim)) {
                    continue 'facts;
                }
            }
            auths.insert(seg.tx[i], Auth { ts: seg.ts[i], amount: seg.amount[i], currency: seg.currency[i] });
        }
    }
    let mut out = ReconcileSummary { approved_auths: auths.len() as u64, ..Default::default() };
    for seg in &bank.segments[Stage::Clearing.index()] {
        out.cleared += seg.tx.iter().filter(|t| auths.contains_key(t)).count() as u64;
    }
    let mut settled: FxHashSet<u64> = FxHashSet::default();
    let mut differences: BTreeMap<u8, i128> = BTreeMap::new();
    let mut mismatches: Vec<(i128, Mismatch)> = Vec::new();
    for seg in &bank.segments[Stage::Settlement.index()] {
        for (i, tx) in seg.tx.iter().enumerate() {
            let Some(a) = auths.get(tx) else { continue };
            settled.insert(*tx);
            let delay = seg.ts[i] - a.ts;
            out.delay_total_millis += delay;
            out.delay_max_millis = out.delay_max_millis.max(delay);
            if seg.amount[i] != a.amount || seg.currency[i] != a.currency {
                out.amount_mismatches += 1;
                let diff = if seg.currency[i] == a.currency {
                    let d = seg.amount[i] as i128 - a.amount as i128;
                    *differences.entry(a.currency).or_default() += d;
                    d
                } else {
                    i128::MAX
                };
                let money = |m, c| Money::new(m, Currency::from_index(c).unwrap_or(Currency::USD));
                mismatches.push((
                    diff.abs(),
                    Mismatch {
                        transaction_id: bank.dicts.tx_string(*tx),
                        authorized: money(a.amount, a.currency),
                        settled: money(seg.amount[i], seg.currency[i]),
                    },
                ));
            }
        }
    }
    out.settled = settled.len() as u64;
    out.unmatched = out.approved_auths - out.settled;
    let mut unmatched_amounts: BTreeMap<&str, Money> = BTreeMap::new();
    let mut unmatched: Vec<(i64, u64)> = Vec::new();
    for (tx, a) in &auths {
        if settled.contains(tx) {
            continue;
        }
        let c = Currency::from_index(a.currency).unwrap_or(Currency::USD);
        let entry = unmatched_amounts.entry(c.code()).or_insert(Money::new(0, c));
        entry.minor = entry.minor.saturating_add(a.amount);
        unmatched.push((a.ts, *tx));
    }
    out.unmatched_amount = unmatched_amounts.into_values().collect();
    unmatched.sort_unstable();
    out.unmatched_examples =
        unmatched.iter().take(q.examples).map(|(_, tx)| bank.dicts.tx_string(*tx)).collect();
    let mut diffs: Vec<Money> = differences
        .into_iter()
        .map(|(c, d)| {
            Money::new(
                d.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
                Currency::from_index(c).unwrap_or(Currency::USD),
            )
        })
        .collect();
    diffs.sort_by_key(|m| m.currency.code());
    out.mismatch_difference = diffs;
    mismatches.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.transaction_id.cmp(&b.1.transaction_id)));
    out.mismatch_examples = mismatches.into_iter().take(q.examples).map(|(_, m)| m).collect();
    Ok(out)
}
