//! An independent, deliberately simple implementation of the metric semantic layer
//! (docs/questions.md) over a slice of facts, used to check every backend's answers.

use std::collections::{BTreeMap, HashMap, HashSet};

use payscope_core::calendar::{Timestamp, MS_PER_DAY, MS_PER_HOUR};
use payscope_core::facts::{Fact, Stage};
use payscope_core::money::{Currency, Money};
use payscope_core::store::metric::{
    AmountOp, Dimension, Filter, Granularity, Metric, MetricQuery, MetricRow, MetricValue, Unit, WEEKDAYS,
};

/// The value of `dim` for a fact, as text.
pub fn dim_value(f: &Fact, dim: Dimension) -> Option<String> {
    match dim {
        Dimension::Network => f.network.as_ref().map(|n| n.as_str().to_owned()),
        Dimension::MerchantId => f.merchant_id.clone(),
        Dimension::MerchantName => f.merchant_name.clone(),
        Dimension::Mcc => f.mcc.clone(),
        Dimension::MerchantCountry => f.merchant_country.map(|c| c.alpha2().to_owned()),
        Dimension::IssuerCountry => f.issuer_country.map(|c| c.alpha2().to_owned()),
        Dimension::IssuerBin => f.issuer_bin.clone(),
        Dimension::EntryMode => f.entry_mode.map(|e| e.as_str().to_owned()),
        Dimension::ResponseCode => {
            if f.stage == Stage::Auth {
                f.response_code.clone()
            } else {
                None
            }
        }
        Dimension::ReasonCode => {
            if f.stage == Stage::Chargeback {
                f.reason_code.clone()
            } else {
                None
            }
        }
        Dimension::Currency => Some(f.amount.currency.code().to_owned()),
        Dimension::HourOfDay => Some((f.occurred_at.0.rem_euclid(MS_PER_DAY) / MS_PER_HOUR).to_string()),
        Dimension::DayOfWeek => Some(WEEKDAYS[f.occurred_at.date().weekday() as usize].to_owned()),
        Dimension::CrossBorder => match (f.issuer_country, f.merchant_country) {
            (Some(a), Some(b)) => Some((a != b).to_string()),
            _ => None,
        },
    }
}

fn bucket(g: Granularity, t: Timestamp) -> Timestamp {
    let day = t.0.div_euclid(MS_PER_DAY);
    match g {
        Granularity::Hour => Timestamp(t.0.div_euclid(MS_PER_HOUR) * MS_PER_HOUR),
        Granularity::Day => Timestamp(day * MS_PER_DAY),
        Granularity::Week => {
            let monday = day - (day + 3).rem_euclid(7);
            Timestamp(monday * MS_PER_DAY)
        }
        Granularity::Month => {
            let d = t.date().month_start();
            d.start()
        }
    }
}

fn stages_of(m: Metric) -> &'static [Stage] {
    use Metric::*;
    match m {
        ClearedCount | ClearedAmount | InterchangeFees => &[Stage::Clearing],
        SettledCount | SettledAmount | NetSettlement => &[Stage::Settlement],
        RefundCount | RefundAmount => &[Stage::Refund],
        ChargebackCount | ChargebackAmount => &[Stage::Chargeback],
        ChargebackRate => &[Stage::Chargeback, Stage::Auth],
        FraudCount | FraudAmount | FraudRate => &[Stage::Auth, Stage::Fraud],
        _ => &[Stage::Auth],
    }
}

fn money_sum<'a>(facts: impl Iterator<Item = &'a Fact>, value: impl Fn(&Fact) -> i64) -> MetricValue {
    let mut by: BTreeMap<&'static str, (Currency, i128)> = BTreeMap::new();
    for f in facts {
        let e = by.entry(f.amount.currency.code()).or_insert((f.amount.currency, 0));
        e.1 += value(f) as i128;
    }
    MetricValue::Money { amounts: by.into_values().map(|(c, v)| Money::new(v as i64, c)).collect() }
}

type GroupKey = (Option<Timestamp>, Vec<Option<String>>);

/// Computes `q` (already normalized) over `all` — every fact of one bank.
pub fn evaluate(all: &[Fact], q: &MetricQuery) -> Vec<MetricRow> {
    let fraud_facts: HashSet<&str> =
        all.iter().filter(|f| f.stage == Stage::Fraud).map(|f| f.transaction_id.as_str()).collect();
    let settlements: HashMap<&str, Timestamp> = all
        .iter()
        .filter(|f| f.stage == Stage::Settlement)
        .map(|f| (f.transaction_id.as_str(), f.occurred_at))
        .collect();
    let wanted: HashSet<Stage> = q
        .metrics
        .iter()
        .chain(q.having.iter().map(|h| &h.metric))
        .flat_map(|m| stages_of(*m).iter().copied())
        .collect();
    let mut groups: BTreeMap<GroupKey, Vec<&Fact>> = BTreeMap::new();
    for f in all {
        if !wanted.contains(&f.stage) || !q.range.contains(f.occurred_at) {
            continue;
        }
        // A fact without the attribute matches no value, so an excluding filter keeps it.
        let passes = |flt: &Filter| match dim_value(f, flt.dimension) {
            Some(v) => flt.values.contains(&v) != flt.exclude,
            None => flt.exclude,
        };
        if !q.filters.iter().all(passes) {
            continue;
        }
        // A threshold in one currency: a fact in another never matches.
        let amount_ok = |a: &payscope_core::store::metric::AmountCondition| {
            f.amount.currency == a.value.currency
                && match a.op {
                    AmountOp::Gt => f.amount.minor > a.value.minor,
                    AmountOp::Gte => f.amount.minor >= a.value.minor,
                    AmountOp::Lt => f.amount.minor < a.value.minor,
                    AmountOp::Lte => f.amount.minor <= a.value.minor,
                }
        };
        if !q.amount.iter().all(amount_ok) {
            continue;
        }
        let key = (
            q.granularity.map(|g| bucket(g, f.occurred_at)),
            q.group_by.iter().map(|d| dim_value(f, *d)).collect(),
        );
        groups.entry(key).or_default().push(f);
    }
    if groups.is_empty() && q.group_by.is_empty() && q.granularity.is_none() {
        groups.insert((None, vec![]), vec![]);
    }
    let mut rows: Vec<MetricRow> = groups
        .into_iter()
        .filter_map(|((b, g), facts)| {
            let auth: Vec<&Fact> = facts.iter().copied().filter(|f| f.stage == Stage::Auth).collect();
            let approved: Vec<&Fact> = auth.iter().copied().filter(|f| f.approved == Some(true)).collect();
            let of = |s: Stage| facts.iter().copied().filter(move |f| f.stage == s);
            let fraud: Vec<&Fact> = facts
                .iter()
                .copied()
                .filter(|f| {
                    f.stage == Stage::Fraud
                        || (f.stage == Stage::Auth
                            && f.fraud_reported
                            && !fraud_facts.contains(f.transaction_id.as_str()))
                })
                .collect();
            let matched: Vec<i64> = approved
                .iter()
                .filter_map(|f| settlements.get(f.transaction_id.as_str()).map(|s| s.0 - f.occurred_at.0))
                .collect();
            let count = |n: usize| MetricValue::Count { count: n as u64 };
            let ratio =
                |a: usize, b: usize| MetricValue::Ratio { numerator: a as u64, denominator: b as u64 };
            let value = |m: &Metric| match m {
                Metric::TransactionCount => count(auth.len()),
                Metric::ApprovedCount => count(approved.len()),
                Metric::DeclinedCount => count(auth.iter().filter(|f| f.approved == Some(false)).count()),
                Metric::ApprovalRate => ratio(approved.len(), auth.len()),
                Metric::DeclineRate => {
                    ratio(auth.iter().filter(|f| f.approved == Some(false)).count(), auth.len())
                }
                Metric::TransactionAmount => money_sum(approved.iter().copied(), |f| f.amount.minor),
                Metric::AverageTicket => {
                    let mut by: BTreeMap<&str, (Currency, i64, u64)> = BTreeMap::new();
                    for f in &approved {
                        let e = by.entry(f.amount.currency.code()).or_insert((f.amount.currency, 0, 0));
                        e.1 += f.amount.minor;
                        e.2 += 1;
                    }
                    MetricValue::AverageMoney {
                        parts: by.into_values().map(|(c, t, n)| (Money::new(t, c), n)).collect(),
                    }
                }
                Metric::ClearedCount => count(of(Stage::Clearing).count()),
                Metric::ClearedAmount => money_sum(of(Stage::Clearing), |f| f.amount.minor),
                Metric::SettledCount => count(of(Stage::Settlement).count()),
                Metric::SettledAmount => money_sum(of(Stage::Settlement), |f| f.amount.minor),
                Metric::InterchangeFees => money_sum(of(Stage::Clearing), |f| f.interchange_fee.unwrap_or(0)),
                Metric::NetSettlement => {
                    money_sum(of(Stage::Settlement), |f| f.amount.minor - f.interchange_fee.unwrap_or(0))
                }
                Metric::RefundCount => count(of(Stage::Refund).count()),
                Metric::RefundAmount => money_sum(of(Stage::Refund), |f| f.amount.minor),
                Metric::ChargebackCount => count(of(Stage::Chargeback).count()),
                Metric::ChargebackAmount => money_sum(of(Stage::Chargeback), |f| f.amount.minor),
                Metric::ChargebackRate => ratio(of(Stage::Chargeback).count(), approved.len()),
                Metric::FraudCount => count(fraud.len()),
                Metric::FraudAmount => money_sum(fraud.iter().copied(), |f| f.amount.minor),
                Metric::FraudRate => ratio(fraud.len(), approved.len()),
                Metric::CrossBorderShare => {
                    let known: Vec<&&Fact> = auth.iter().filter(|f| f.cross_border().is_some()).collect();
                    ratio(known.iter().filter(|f| f.cross_border() == Some(true)).count(), known.len())
                }
                Metric::SettlementDelayHours => {
                    MetricValue::MeanHours { total_millis: matched.iter().sum(), count: matched.len() as u64 }
                }
                Metric::ReconciliationRate => ratio(matched.len(), approved.len()),
                Metric::UnmatchedAuthCount => count(approved.len() - matched.len()),
            };
            // A group condition bounds the group's value of its metric, compared as exact
            // fractions; an undefined value meets no bound.
            let meets = |h: &payscope_core::store::metric::Having| {
                let (num, den): (i128, i128) = match value(&h.metric) {
                    MetricValue::Count { count } => (count as i128, 1),
                    MetricValue::Ratio { numerator, denominator } if denominator > 0 => {
                        (numerator as i128, denominator as i128)
                    }
                    MetricValue::MeanHours { total_millis, count } if count > 0 => {
                        (total_millis as i128, count as i128 * 3_600_000)
                    }
                    _ => return false,
                };
                // value − bound, as a sign: num/den against the bound's decimal text.
                let side = |l: payscope_core::store::metric::Limit| {
                    let text = l.to_string();
                    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
                    let scale = 10i128.pow(frac.len() as u32);
                    let bound = format!("{int}{frac}").parse::<i128>().unwrap();
                    (num * scale).cmp(&(bound * den))
                };
                let ok = |o: std::cmp::Ordering, beyond: std::cmp::Ordering| {
                    o == beyond || (!h.exclusive && o.is_eq())
                };
                h.min.is_none_or(|m| ok(side(m), std::cmp::Ordering::Greater))
                    && h.max.is_none_or(|m| ok(side(m), std::cmp::Ordering::Less))
            };
            if !q.having.iter().all(meets) {
                return None;
            }
            let values = q.metrics.iter().map(value).collect();
            Some(MetricRow { bucket: b, group: g, values })
        })
        .collect();
    order(q, &mut rows);
    rows
}

fn text_key(d: Dimension, v: &Option<String>) -> (u8, i64, String) {
    match v {
        None => (0, 0, String::new()),
        Some(s) => match d {
            Dimension::HourOfDay => (1, s.parse().unwrap(), String::new()),
            Dimension::DayOfWeek => (1, WEEKDAYS.iter().position(|w| w == s).unwrap() as i64, String::new()),
            _ => (1, 0, s.clone()),
        },
    }
}

/// Sorts and truncates rows: by bucket, then (ranking money within each currency) by the
/// order metric, then by group values; top N per partition.
fn order(q: &MetricQuery, rows: &mut Vec<MetricRow>) {
    let group_key = |r: &MetricRow| -> Vec<(u8, i64, String)> {
        q.group_by.iter().zip(&r.group).map(|(d, v)| text_key(*d, v)).collect()
    };
    let money_partition = q
        .order
        .filter(|o| o.metric.unit() == Unit::Currency)
        .map(|_| q.group_by.iter().position(|d| *d == Dimension::Currency).unwrap());
    let partition = |r: &MetricRow| (r.bucket, money_partition.map(|i| r.group[i].clone()));
    let metric_index = q.order.map(|o| q.metrics.iter().position(|m| *m == o.metric).unwrap());
    let as_fraction = |v: &MetricValue| -> Option<(i128, i128)> {
        match v {
            MetricValue::Count { count } => Some((*count as i128, 1)),
            MetricValue::Ratio { numerator, denominator } => {
                (*denominator > 0).then_some((*numerator as i128, *denominator as i128))
            }
            MetricValue::MeanHours { total_millis, count } => {
                (*count > 0).then_some((*total_millis as i128, *count as i128))
            }
            MetricValue::Money { amounts } => Some((amounts.iter().map(|m| m.minor as i128).sum(), 1)),
            MetricValue::AverageMoney { parts } => {
                let n: i128 = parts.iter().map(|p| p.1 as i128).sum();
                (n > 0).then(|| (parts.iter().map(|p| p.0.minor as i128).sum(), n))
            }
        }
    };
    rows.sort_by(|a, b| {
        partition(a).cmp(&partition(b)).then_with(|| {
            let by_metric = match (q.order, metric_index) {
                (Some(o), Some(i)) => {
                    let c = match (as_fraction(&a.values[i]), as_fraction(&b.values[i])) {
                        (Some((x, y)), Some((z, w))) => (x * w).cmp(&(z * y)),
                        (Some(_), None) => std::cmp::Ordering::Greater,
                        (None, Some(_)) => std::cmp::Ordering::Less,
                        (None, None) => std::cmp::Ordering::Equal,
                    };
                    if o.descending {
                        c.reverse()
                    } else {
                        c
                    }
                }
                _ => std::cmp::Ordering::Equal,
            };
            by_metric.then_with(|| group_key(a).cmp(&group_key(b)))
        })
    });
    if let Some(n) = q.top_n {
        let mut seen: HashMap<(Option<Timestamp>, Option<Option<String>>), usize> = HashMap::new();
        rows.retain(|r| {
            let c = seen.entry(partition(r)).or_default();
            *c += 1;
            *c <= n
        });
    }
}
