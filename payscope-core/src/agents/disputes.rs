//! Disputes: chargeback counts and ratios, with each merchant and the bank's portfolio measured
//! against the networks' monitoring programs in effect at the end of the period (`programs`:
//! Visa's VAMP for merchants and acquirers, Mastercard's ECM and EFM for merchants), each
//! computed the program's own way and its volume floor scaled to the length of the period.

use std::collections::BTreeMap;

use super::programs::{in_effect, Floor, Level, Measure, Program};
use super::{evidence, label, query, scope_text, Agent, Input, Output};
use crate::calendar::{TimeRange, Timestamp, MS_PER_DAY};
use crate::error::Result;
use crate::money::Currency;
use crate::query::answer::{int, num, pct, AnswerMetric};
use crate::store::metric::{Dimension, Filter, Metric, MetricValue, Unit};

/// One merchant's (or the portfolio's) figures under a program.
struct Measured {
    merchant: Option<String>,
    /// What the program counts (an amount in major units for EFM).
    count: f64,
    /// What it divides by.
    base: f64,
    /// The currency of amounts (EFM).
    currency: Option<Currency>,
}

impl Measured {
    fn ratio(&self) -> f64 {
        if self.base > 0.0 {
            self.count / self.base
        } else {
            0.0
        }
    }

    /// Whether the volume floor is met over `months`; `None` when it cannot be told (an EFM
    /// floor in US dollars on amounts in another currency).
    fn over_floor(&self, p: &Program, months: f64) -> Option<bool> {
        match p.floor {
            Floor::None => Some(true),
            Floor::Count { per_month, strictly_above: true } => Some(self.count > per_month * months),
            Floor::Count { per_month, strictly_above: false } => Some(self.count >= per_month * months),
            Floor::UsdAmount { per_month } => {
                (self.currency == Some(Currency::USD)).then_some(self.count >= per_month * months)
            }
        }
    }

    /// The fraction of the volume floor reached over `months` (1 without a floor).
    fn floor_fraction(&self, p: &Program, months: f64) -> f64 {
        match p.floor {
            Floor::None => 1.0,
            Floor::Count { per_month, .. } | Floor::UsdAmount { per_month } => {
                self.count / (per_month * months)
            }
        }
    }

    /// `12 fraud reports and disputes` or `1,234.50 USD of fraud`.
    fn count_text(&self, p: &Program) -> String {
        match p.measure {
            Measure::FraudAmountPerSales => {
                format!("{} {} of fraud", num(self.count, 2), self.currency.map_or("", |c| c.code()))
            }
            m => m.count_text(self.count as u64, int),
        }
    }
}

/// The figures of program `p` over `range`, per merchant or for the whole portfolio, and
/// whether they are card-not-present only. A card-not-present program is measured on
/// e-commerce transactions when the records carry the entry mode; settlement and dispute
/// records often do not, and then every transaction is counted (and the answer says so).
async fn measure(
    input: &Input<'_>,
    p: &Program,
    range: TimeRange,
    by_merchant: bool,
) -> Result<(Vec<Measured>, bool, u64)> {
    if p.card_not_present {
        let (rows, s) = measure_in(input, p, range, by_merchant, true).await?;
        if rows.iter().any(|m| m.base > 0.0) {
            return Ok((rows, true, s));
        }
        let (rows, s2) = measure_in(input, p, range, by_merchant, false).await?;
        return Ok((rows, false, s + s2));
    }
    let (rows, s) = measure_in(input, p, range, by_merchant, false).await?;
    Ok((rows, false, s))
}

async fn measure_in(
    input: &Input<'_>,
    p: &Program,
    range: TimeRange,
    by_merchant: bool,
    card_not_present: bool,
) -> Result<(Vec<Measured>, u64)> {
    let metrics = match p.measure {
        Measure::FraudAndDisputesPerSettled => {
            vec![Metric::FraudCount, Metric::ChargebackCount, Metric::SettledCount]
        }
        Measure::ChargebacksPerTransactions => vec![Metric::ChargebackCount, Metric::ApprovedCount],
        Measure::FraudAmountPerSales => vec![Metric::FraudAmount, Metric::TransactionAmount],
    };
    let mut mq = input.q.metric_query(metrics, range);
    mq.filters.push(Filter::eq(Dimension::Network, p.network));
    if card_not_present {
        mq.filters.push(Filter::eq(Dimension::EntryMode, "ecommerce"));
    }
    if by_merchant {
        mq = mq.group_by(Dimension::MerchantId);
    }
    let r = query(input, &mq).await?;
    let rows = r
        .rows
        .iter()
        .map(|row| {
            let n = |k: usize| row.values[k].count().unwrap_or(0) as f64;
            let merchant = if by_merchant { row.group[0].clone() } else { None };
            match p.measure {
                Measure::FraudAndDisputesPerSettled => {
                    Measured { merchant, count: n(0) + n(1), base: n(2), currency: None }
                }
                Measure::ChargebacksPerTransactions => {
                    Measured { merchant, count: n(0), base: n(1), currency: None }
                }
                Measure::FraudAmountPerSales => {
                    // Fraud and sales in the merchant's main sales currency.
                    let sales = row.values[1].money();
                    let main = sales.iter().max_by_key(|m| m.minor).map(|m| m.currency);
                    let of = |v: &MetricValue| {
                        v.money()
                            .iter()
                            .find(|m| Some(m.currency) == main)
                            .map_or(0.0, |m| m.major_units_for_display())
                    };
                    Measured { merchant, count: of(&row.values[0]), base: of(&row.values[1]), currency: main }
                }
            }
        })
        .collect();
    Ok((rows, r.facts_scanned))
}

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let range = q.time.range;
    let months = (range.len_millis() as f64 / (30.4 * MS_PER_DAY as f64)).max(0.1);
    let metrics = [Metric::ChargebackCount, Metric::ApprovedCount, Metric::ChargebackRate];
    let total = query(input, &q.metric_query(metrics, range)).await?;
    let (mut ev, coverage) = evidence(input, Agent::Disputes, &total, range).await?;
    let mut out = Output { coverage: Some(coverage), ..Output::default() };
    let none = BTreeMap::new();
    for (m, v) in metrics.iter().zip(&total.rows[0].values) {
        out.metrics.extend(AnswerMetric::from_value(m.as_str(), v, m.unit(), &none, None));
    }
    let (cbs, approved) =
        (total.rows[0].values[0].count().unwrap_or(0), total.rows[0].values[1].count().unwrap_or(0));
    out.sample = Some((cbs, approved.max(cbs)));
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    out.sentences.push(format!(
        "Chargebacks{scope} over {}: {} against {} approved authorizations, a chargeback rate of {}.",
        range.display_days(),
        int(cbs),
        int(approved),
        total.rows[0].values[2].as_f64().map(pct).unwrap_or_else(|| "not defined".into())
    ));
    // The thresholds in effect on the period's last day.
    let programs = in_effect(Timestamp(range.to.0 - 1).date());
    ev.facts_scanned += merchants(input, &mut out, &programs, range, months).await?;
    ev.facts_scanned += portfolio(input, &mut out, &programs, range).await?;
    let thresholds = programs.iter().map(|p| p.thresholds_text(pct, int)).collect::<Vec<_>>().join("; ");
    out.sentences.push(format!(
        "Method: each program's own ratio over the period, its monthly floor scaled to {} months; thresholds: {thresholds}.",
        num(months, 1)
    ));
    ev.detail = Some(format!("thresholds scaled to {} months: {thresholds}", num(months, 1)));
    out.evidence.push(ev);
    out.followups.push("Which reason codes drive our chargebacks?".into());
    Ok(out)
}

/// Each merchant against the merchant thresholds: those over, or the closest.
async fn merchants(
    input: &Input<'_>,
    out: &mut Output,
    programs: &[&Program],
    range: TimeRange,
    months: f64,
) -> Result<u64> {
    let mut scanned = 0;
    let mut flagged = Vec::new();
    let mut closest: Option<(f64, String)> = None;
    let mut limits = Vec::new();
    for p in programs.iter().filter(|p| p.level == Level::Merchant) {
        let (rows, cnp, s) = measure(input, p, range, true).await?;
        scanned += s;
        if p.card_not_present && !cnp {
            limits.push(p.name);
        }
        // A floor in US dollars cannot be compared with amounts in other currencies.
        let unassessed = rows.iter().filter(|m| m.count > 0.0 && m.over_floor(p, months).is_none()).count();
        if unassessed > 0 {
            let d = BTreeMap::from([("program".to_owned(), p.name.to_owned())]);
            out.metrics.push(AnswerMetric::number(
                "merchants_not_assessed",
                unassessed as f64,
                Unit::Count,
                &d,
                None,
            ));
            out.warnings.push(format!(
                "{unassessed} merchants with fraud in currencies other than USD were not assessed for the {}: its floor is in US dollars and no exchange rates are held.",
                p.name
            ));
        }
        for m in rows.iter().filter(|m| m.count > 0.0 && m.base > 0.0 && m.over_floor(p, months).is_some()) {
            let who = label(Dimension::MerchantId, m.merchant.as_deref(), input.merchants);
            let network = label(Dimension::Network, Some(p.network), input.merchants);
            let mut d =
                super::dims(input.merchants, &[Dimension::MerchantId], std::slice::from_ref(&m.merchant));
            d.insert("network".into(), p.network.to_owned());
            d.insert("program".into(), format!("{} {}", p.name, p.tier));
            out.metrics.push(AnswerMetric::number("program_ratio", m.ratio(), Unit::Ratio, &d, None));
            let over_ratio = m.ratio() >= p.ratio;
            match m.over_floor(p, months) {
                Some(true) if over_ratio => flagged.push(format!(
                    "{who} on {network} ({}, {}) is over the {} {} threshold",
                    m.count_text(p),
                    pct(m.ratio()),
                    p.name,
                    p.tier
                )),
                _ => {
                    // How close: the smaller of the fractions of the ratio and of the floor.
                    let closeness = (m.ratio() / p.ratio).min(m.floor_fraction(p, months));
                    if closest.as_ref().is_none_or(|c| closeness > c.0) {
                        let text = format!("{who} on {network} at {} ({})", pct(m.ratio()), m.count_text(p));
                        closest = Some((closeness, text));
                    }
                }
            }
        }
    }
    if !flagged.is_empty() {
        out.sentences.push(format!("{}.", flagged.join("; ")));
        out.warnings.push(
            "Merchants over a monitoring program's thresholds face fines and remediation plans.".into(),
        );
    } else if let Some((_, who)) = closest {
        out.sentences
            .push(format!("No merchant is over the networks' monitoring thresholds; the closest is {who}."));
    } else {
        out.sentences.push("No merchant has any of what the networks' monitoring programs count.".into());
    }
    card_present_note(out, &limits);
    Ok(scanned)
}

/// The bank's portfolio against each network's acquirer thresholds, the highest tier reached.
async fn portfolio(
    input: &Input<'_>,
    out: &mut Output,
    programs: &[&Program],
    range: TimeRange,
) -> Result<u64> {
    let mut networks: Vec<&str> =
        programs.iter().filter(|p| p.level == Level::Portfolio).map(|p| p.network).collect();
    networks.sort_unstable();
    networks.dedup();
    let mut scanned = 0;
    for network in networks {
        let mut tiers: Vec<&Program> = programs
            .iter()
            .copied()
            .filter(|p| p.level == Level::Portfolio && p.network == network)
            .collect();
        tiers.sort_by(|a, b| a.ratio.total_cmp(&b.ratio));
        scanned += portfolio_of(input, out, &tiers, range).await?;
    }
    Ok(scanned)
}

/// One network's portfolio against its tiers (lowest first).
async fn portfolio_of(
    input: &Input<'_>,
    out: &mut Output,
    tiers: &[&Program],
    range: TimeRange,
) -> Result<u64> {
    let Some(first) = tiers.first() else { return Ok(0) };
    let (rows, cnp, scanned) = measure(input, first, range, false).await?;
    if !cnp {
        card_present_note(out, &[first.name]);
    }
    let Some(m) = rows.first() else { return Ok(scanned) };
    let d = BTreeMap::from([("network".to_owned(), first.network.to_owned())]);
    out.metrics.push(AnswerMetric::number("portfolio_program_ratio", m.ratio(), Unit::Ratio, &d, None));
    out.metrics.push(AnswerMetric::number("portfolio_program_count", m.count, Unit::Count, &d, None));
    out.metrics.push(AnswerMetric::number("portfolio_program_base", m.base, Unit::Count, &d, None));
    let network = label(Dimension::Network, Some(first.network), input.merchants);
    let reached = tiers.iter().rev().find(|p| m.base > 0.0 && m.ratio() >= p.ratio);
    let verdict = match reached {
        Some(p) => format!("at or above the {} {} threshold of {}", p.name, p.tier, pct(p.ratio)),
        None => format!("below the {} {} threshold of {}", first.name, first.tier, pct(first.ratio)),
    };
    let which = if cnp { "card-not-present portfolio" } else { "portfolio" };
    out.sentences.push(format!(
        "The bank's {network} {which} as a whole: {} ({} over {} settled transactions), {verdict}.",
        pct(m.ratio()),
        first.measure.count_text(m.count as u64, int),
        int(m.base as u64)
    ));
    Ok(scanned)
}

/// Says, once per program, that card-present transactions were counted too.
fn card_present_note(out: &mut Output, programs: &[&str]) {
    for name in programs {
        let note = format!(
            "The {name} counts card-not-present transactions only; these records do not carry the entry mode, so every transaction is counted, which can understate its ratio."
        );
        if !out.warnings.contains(&note) {
            out.warnings.push(note);
        }
    }
}
