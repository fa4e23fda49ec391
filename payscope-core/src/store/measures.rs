//! Base measures every metric is derived from, and the finishing steps (metric values, ordering,
//! top-N) that all backends share, so the same facts give the same rows on every backend.
//!
//! A backend's job is to fill one [`Measures`] per (bucket, group) from facts or rollups;
//! [`finalize`] does the rest.

use std::cmp::Ordering;

use crate::calendar::Timestamp;
use crate::error::{Error, Result};
use crate::facts::Stage;
use crate::money::{Currency, Money};

use super::metric::{Dimension, Metric, MetricQuery, MetricRow, MetricValue, Unit, WEEKDAYS};

/// Per-currency sums (minor units) and the number of facts behind each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MoneyMeasures {
    /// Approved AUTH facts.
    pub approved_n: u64,
    /// Their amount.
    pub approved_amount: i128,
    /// CLEARING facts.
    pub cleared_n: u64,
    /// Their amount.
    pub cleared_amount: i128,
    /// Their interchange fees.
    pub clearing_fee: i128,
    /// SETTLEMENT facts.
    pub settled_n: u64,
    /// Their amount.
    pub settled_amount: i128,
    /// Their own interchange fees.
    pub settlement_fee: i128,
    /// REFUND facts.
    pub refund_n: u64,
    /// Their amount.
    pub refund_amount: i128,
    /// CHARGEBACK facts.
    pub chargeback_n: u64,
    /// Their amount.
    pub chargeback_amount: i128,
    /// Counted fraud transactions.
    pub fraud_n: u64,
    /// Their amount.
    pub fraud_amount: i128,
}

impl MoneyMeasures {
    fn merge(&mut self, o: &MoneyMeasures) {
        self.approved_n += o.approved_n;
        self.approved_amount += o.approved_amount;
        self.cleared_n += o.cleared_n;
        self.cleared_amount += o.cleared_amount;
        self.clearing_fee += o.clearing_fee;
        self.settled_n += o.settled_n;
        self.settled_amount += o.settled_amount;
        self.settlement_fee += o.settlement_fee;
        self.refund_n += o.refund_n;
        self.refund_amount += o.refund_amount;
        self.chargeback_n += o.chargeback_n;
        self.chargeback_amount += o.chargeback_amount;
        self.fraud_n += o.fraud_n;
        self.fraud_amount += o.fraud_amount;
    }
}

/// One or many facts of a stage, as they are added to [`Measures`].
#[derive(Debug, Clone, Copy)]
pub struct Contribution {
    /// The stage.
    pub stage: Stage,
    /// The currency.
    pub currency: Currency,
    /// AUTH approval (`None` when unknown).
    pub approved: Option<bool>,
    /// Number of facts.
    pub count: u64,
    /// Sum of amounts.
    pub amount: i128,
    /// Sum of interchange fees.
    pub fee: i128,
    /// Facts among them that count as fraud transactions.
    pub fraud_count: u64,
    /// Sum of the amounts of those.
    pub fraud_amount: i128,
    /// Cross-border status (`None` when a country is unknown).
    pub cross_border: Option<bool>,
}

/// Base measures of one (bucket, group).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measures {
    /// AUTH facts.
    pub auth: u64,
    /// Approved AUTH facts.
    pub approved: u64,
    /// Declined AUTH facts.
    pub declined: u64,
    /// CLEARING facts.
    pub cleared: u64,
    /// SETTLEMENT facts.
    pub settled: u64,
    /// REFUND facts.
    pub refunds: u64,
    /// CHARGEBACK facts.
    pub chargebacks: u64,
    /// Counted fraud transactions.
    pub fraud: u64,
    /// Cross-border AUTH facts.
    pub cross_border: u64,
    /// AUTH facts with both countries known.
    pub cross_known: u64,
    /// Approved AUTH facts with a SETTLEMENT fact.
    pub reconciled: u64,
    /// Sum of AUTH → SETTLEMENT delays (ms) of those.
    pub reconcile_delay_millis: i128,
    /// Per-currency money, in insertion order (sorted when values are built).
    pub money: Vec<(Currency, MoneyMeasures)>,
}

impl Measures {
    /// The per-currency measures for `c`, created when missing.
    pub fn money_mut(&mut self, c: Currency) -> &mut MoneyMeasures {
        let i = match self.money.iter().position(|(k, _)| *k == c) {
            Some(i) => i,
            None => {
                self.money.push((c, MoneyMeasures::default()));
                self.money.len() - 1
            }
        };
        &mut self.money[i].1
    }

    /// Adds facts.
    pub fn add(&mut self, c: Contribution) {
        let n = c.count;
        match c.stage {
            Stage::Auth => {
                self.auth += n;
                match c.approved {
                    Some(true) => {
                        self.approved += n;
                        let m = self.money_mut(c.currency);
                        m.approved_n += n;
                        m.approved_amount += c.amount;
                    }
                    Some(false) => self.declined += n,
                    None => {}
                }
                if let Some(cross) = c.cross_border {
                    self.cross_known += n;
                    if cross {
                        self.cross_border += n;
                    }
                }
            }
            Stage::Clearing => {
                self.cleared += n;
                let m = self.money_mut(c.currency);
                m.cleared_n += n;
                m.cleared_amount += c.amount;
                m.clearing_fee += c.fee;
            }
            Stage::Settlement => {
                self.settled += n;
                let m = self.money_mut(c.currency);
                m.settled_n += n;
                m.settled_amount += c.amount;
                m.settlement_fee += c.fee;
            }
            Stage::Refund => {
                self.refunds += n;
                let m = self.money_mut(c.currency);
                m.refund_n += n;
                m.refund_amount += c.amount;
            }
            Stage::Chargeback => {
                self.chargebacks += n;
                let m = self.money_mut(c.currency);
                m.chargeback_n += n;
                m.chargeback_amount += c.amount;
            }
            Stage::Fraud => {}
        }
        if c.fraud_count > 0 {
            self.fraud += c.fraud_count;
            let m = self.money_mut(c.currency);
            m.fraud_n += c.fraud_count;
            m.fraud_amount += c.fraud_amount;
        }
    }

    /// Adds another group's measures.
    pub fn merge(&mut self, o: &Measures) {
        self.auth += o.auth;
        self.approved += o.approved;
        self.declined += o.declined;
        self.cleared += o.cleared;
        self.settled += o.settled;
        self.refunds += o.refunds;
        self.chargebacks += o.chargebacks;
        self.fraud += o.fraud;
        self.cross_border += o.cross_border;
        self.cross_known += o.cross_known;
        self.reconciled += o.reconciled;
        self.reconcile_delay_millis += o.reconcile_delay_millis;
        for (c, m) in &o.money {
            self.money_mut(*c).merge(m);
        }
    }

    /// The exact `(numerator, denominator)` a result is ordered by — the same fraction
    /// [`MetricValue::cmp_exact`] compares — computed without building the value.
    pub fn fraction(&self, metric: Metric) -> Option<(i128, i128)> {
        use Metric::*;
        let whole = |n: u64| Some((n as i128, 1));
        let ratio = |a: u64, b: u64| (b > 0).then_some((a as i128, b as i128));
        match metric.unit() {
            Unit::Currency => {
                let (mut total, mut n) = (0i128, 0u64);
                for (_, m) in &self.money {
                    if let Some((v, k)) = money_part(metric, m) {
                        if k > 0 {
                            total += v;
                            n += k;
                        }
                    }
                }
                match metric {
                    AverageTicket => (n > 0).then_some((total, n as i128)),
                    _ => Some((total, 1)),
                }
            }
            _ => match metric {
                TransactionCount => whole(self.auth),
                ApprovedCount => whole(self.approved),
                DeclinedCount => whole(self.declined),
                ApprovalRate => ratio(self.approved, self.auth),
                DeclineRate => ratio(self.declined, self.auth),
                ClearedCount => whole(self.cleared),
                SettledCount => whole(self.settled),
                RefundCount => whole(self.refunds),
                ChargebackCount => whole(self.chargebacks),
                ChargebackRate => ratio(self.chargebacks, self.approved),
                FraudCount => whole(self.fraud),
                FraudRate => ratio(self.fraud, self.approved),
                CrossBorderShare => ratio(self.cross_border, self.cross_known),
                SettlementDelayHours => {
                    (self.reconciled > 0).then_some((self.reconcile_delay_millis, self.reconciled as i128))
                }
                ReconciliationRate => ratio(self.reconciled, self.approved),
                UnmatchedAuthCount => whole(self.approved.saturating_sub(self.reconciled)),
                _ => None,
            },
        }
    }

    /// The value of `metric`.
    pub fn value(&self, metric: Metric) -> Result<MetricValue> {
        use Metric::*;
        let mut money: Vec<&(Currency, MoneyMeasures)> = self.money.iter().collect();
        money.sort_by_key(|(c, _)| c.code());
        let sums = || -> Result<MetricValue> {
            let amounts = money
                .iter()
                .filter_map(|(c, m)| {
                    money_part(metric, m).filter(|(_, n)| *n > 0).map(|(v, _)| to_money(v, *c))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(MetricValue::Money { amounts })
        };
        let ratio = |numerator, denominator| MetricValue::Ratio { numerator, denominator };
        let count = |count| MetricValue::Count { count };
        Ok(match metric {
            TransactionCount => count(self.auth),
            ApprovedCount => count(self.approved),
            DeclinedCount => count(self.declined),
            ApprovalRate => ratio(self.approved, self.auth),
            DeclineRate => ratio(self.declined, self.auth),
            TransactionAmount => sums()?,
            AverageTicket => MetricValue::AverageMoney {
                parts: money
                    .iter()
                    .filter(|(_, m)| m.approved_n > 0)
                    .map(|(c, m)| Ok((to_money(m.approved_amount, *c)?, m.approved_n)))
                    .collect::<Result<Vec<_>>>()?,
            },
            ClearedCount => count(self.cleared),
            ClearedAmount => sums()?,
            SettledCount => count(self.settled),
            SettledAmount => sums()?,
            InterchangeFees => sums()?,
            NetSettlement => sums()?,
            RefundCount => count(self.refunds),
            RefundAmount => sums()?,
            ChargebackCount => count(self.chargebacks),
            ChargebackAmount => sums()?,
            ChargebackRate => ratio(self.chargebacks, self.approved),
            FraudCount => count(self.fraud),
            FraudAmount => sums()?,
            FraudRate => ratio(self.fraud, self.approved),
            CrossBorderShare => ratio(self.cross_border, self.cross_known),
            SettlementDelayHours => MetricValue::MeanHours {
                total_millis: i64::try_from(self.reconcile_delay_millis)
                    .map_err(|_| Error::invalid("amount_overflow", "settlement delays overflow"))?,
                count: self.reconciled,
            },
            ReconciliationRate => ratio(self.reconciled, self.approved),
            UnmatchedAuthCount => count(self.approved.saturating_sub(self.reconciled)),
        })
    }
}

/// A money metric's per-currency sum and the number of facts behind it.
fn money_part(metric: Metric, m: &MoneyMeasures) -> Option<(i128, u64)> {
    use Metric::*;
    Some(match metric {
        TransactionAmount | AverageTicket => (m.approved_amount, m.approved_n),
        ClearedAmount => (m.cleared_amount, m.cleared_n),
        SettledAmount => (m.settled_amount, m.settled_n),
        InterchangeFees => (m.clearing_fee, m.cleared_n),
        NetSettlement => (m.settled_amount - m.settlement_fee, m.settled_n),
        RefundAmount => (m.refund_amount, m.refund_n),
        ChargebackAmount => (m.chargeback_amount, m.chargeback_n),
        FraudAmount => (m.fraud_amount, m.fraud_n),
        _ => return None,
    })
}

fn to_money(minor: i128, currency: Currency) -> Result<Money> {
    i64::try_from(minor).map(|m| Money::new(m, currency)).map_err(|_| {
        Error::invalid("amount_overflow", format!("a {currency} total exceeds 64-bit minor units"))
    })
}

/// Compares group values the way results are ordered: `None` first, hours and weekdays in
/// calendar order, everything else as text.
pub fn compare_group_value(dim: Dimension, a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => match dim {
            Dimension::HourOfDay => a.parse::<u32>().unwrap_or(99).cmp(&b.parse::<u32>().unwrap_or(99)),
            Dimension::DayOfWeek => {
                let pos = |s: &str| WEEKDAYS.iter().position(|w| *w == s).unwrap_or(7);
                pos(a).cmp(&pos(b))
            }
            _ => a.cmp(b),
        },
    }
}

fn compare_groups(dims: &[Dimension], a: &[Option<String>], b: &[Option<String>]) -> Ordering {
    dims.iter()
        .zip(a.iter().zip(b))
        .map(|(d, (x, y))| compare_group_value(*d, x.as_deref(), y.as_deref()))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The measures of one group: its time bucket, its group values and the sums.
pub type GroupMeasures = (Option<Timestamp>, Vec<Option<String>>, Measures);

/// Compares two ordering fractions: undefined below every defined value.
pub fn compare_fractions(a: Option<(i128, i128)>, b: Option<(i128, i128)>) -> Ordering {
    match (a, b) {
        (Some((x, y)), Some((z, w))) => (x * w).cmp(&(z * y)),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => Ordering::Equal,
    }
}

/// Builds the result rows of a normalized query from per-(bucket, group) measures: values,
/// the single total row of an ungrouped query, ordering and top-N (per bucket, and per
/// currency when ordering by money). Sort keys are computed once and values only for the
/// rows that are kept.
pub fn finalize(query: &MetricQuery, mut groups: Vec<GroupMeasures>) -> Result<Vec<MetricRow>> {
    groups.retain(|g| query.keeps(&g.2));
    if groups.is_empty() && query.group_by.is_empty() && query.granularity.is_none() {
        groups.push((None, vec![], Measures::default()));
    }
    let dims = &query.group_by;
    let currency_col = match query.order {
        Some(o) if o.metric.unit() == Unit::Currency => dims.iter().position(|d| *d == Dimension::Currency),
        _ => None,
    };
    let partition = |i: usize| (groups[i].0, currency_col.and_then(|c| groups[i].1[c].as_deref()));
    let mut keyed: Vec<(usize, Option<(i128, i128)>)> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (i, query.order.and_then(|o| g.2.fraction(o.metric))))
        .collect();
    keyed.sort_by(|(a, fa), (b, fb)| {
        partition(*a).cmp(&partition(*b)).then_with(|| {
            let by_metric = match query.order {
                Some(o) if o.descending => compare_fractions(*fa, *fb).reverse(),
                Some(_) => compare_fractions(*fa, *fb),
                None => Ordering::Equal,
            };
            by_metric.then_with(|| compare_groups(dims, &groups[*a].1, &groups[*b].1))
        })
    });
    let mut kept: Vec<usize> = Vec::with_capacity(keyed.len());
    let mut taken = 0;
    for (j, (i, _)) in keyed.iter().enumerate() {
        if j > 0 && partition(keyed[j - 1].0) != partition(*i) {
            taken = 0;
        }
        if query.top_n.is_none_or(|n| taken < n) {
            kept.push(*i);
            taken += 1;
        }
    }
    let mut slots: Vec<Option<GroupMeasures>> = groups.into_iter().map(Some).collect();
    kept.into_iter()
        .filter_map(|i| slots[i].take())
        .map(|(bucket, group, m)| {
            let values = query.metrics.iter().map(|metric| m.value(*metric)).collect::<Result<Vec<_>>>()?;
            Ok(MetricRow { bucket, group, values })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::TimeRange;

    fn auth(currency: Currency, approved: bool, amount: i128) -> Contribution {
        Contribution {
            stage: Stage::Auth,
            currency,
            approved: Some(approved),
            count: 1,
            amount,
            fee: 0,
            fraud_count: 0,
            fraud_amount: 0,
            cross_border: Some(false),
        }
    }

    #[test]
    fn values_are_exact_and_per_currency() {
        let mut m = Measures::default();
        m.add(auth(Currency::USD, true, 1000));
        m.add(auth(Currency::USD, true, 2001));
        m.add(auth(Currency::JPY, true, 500));
        m.add(auth(Currency::EUR, false, 999));
        assert_eq!(
            m.value(Metric::ApprovalRate).unwrap(),
            MetricValue::Ratio { numerator: 3, denominator: 4 }
        );
        let amounts = m.value(Metric::TransactionAmount).unwrap().money();
        assert_eq!(amounts, vec![Money::new(500, Currency::JPY), Money::new(3001, Currency::USD)]);
        let avg = m.value(Metric::AverageTicket).unwrap().money();
        assert_eq!(avg, vec![Money::new(500, Currency::JPY), Money::new(1501, Currency::USD)]);
    }

    #[test]
    fn ordering_fraction_matches_the_value() {
        let mut m = Measures::default();
        m.add(auth(Currency::USD, true, 1000));
        m.add(auth(Currency::JPY, true, 7));
        m.add(auth(Currency::EUR, false, 5));
        m.add(Contribution { stage: Stage::Settlement, fee: 30, ..auth(Currency::USD, true, 990) });
        m.add(Contribution { stage: Stage::Chargeback, ..auth(Currency::USD, true, 40) });
        m.reconciled = 1;
        m.reconcile_delay_millis = 3_600_000;
        for metric in Metric::ALL {
            assert_eq!(m.fraction(*metric), m.value(*metric).unwrap().fraction(), "{metric}");
            assert_eq!(
                Measures::default().fraction(*metric),
                Measures::default().value(*metric).unwrap().fraction(),
                "{metric}"
            );
        }
    }

    #[test]
    fn ungrouped_query_always_has_one_row() {
        let q = MetricQuery::new([Metric::TransactionCount], TimeRange::new(Timestamp(0), Timestamp(1)));
        let rows = finalize(&q, vec![]).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].values[0], MetricValue::Count { count: 0 });
    }

    #[test]
    fn top_n_per_currency_partition() {
        let q = MetricQuery::new([Metric::TransactionAmount], TimeRange::new(Timestamp(0), Timestamp(1)))
            .group_by(Dimension::MerchantId)
            .top(Metric::TransactionAmount, 1, true)
            .normalized()
            .unwrap();
        let mk = |mid: &str, c: Currency, amount| {
            let mut m = Measures::default();
            m.add(auth(c, true, amount));
            (None, vec![Some(mid.to_owned()), Some(c.code().to_owned())], m)
        };
        let rows = finalize(
            &q,
            vec![
                mk("a", Currency::USD, 5),
                mk("b", Currency::USD, 9),
                mk("c", Currency::EUR, 1),
                mk("d", Currency::EUR, 2),
            ],
        )
        .unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r.group[0].clone().unwrap()).collect();
        assert_eq!(ids, vec!["d", "b"]);
    }
}
