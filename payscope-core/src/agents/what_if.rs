//! What-if: the period's metrics with one of them changed by a percentage, the metrics that
//! depend on it recomputed, and every assumption stated.

use std::collections::BTreeMap;

use super::{evidence, query, scope_text, Agent, Input, Output};
use crate::error::Result;
use crate::money::Money;
use crate::query::answer::{int, money, moneys, num, pct, AnswerMetric};
use crate::store::metric::{Metric, MetricValue, Unit};

/// The metrics a scenario reads, and the families it scales together.
fn family(m: Metric) -> (&'static [Metric], &'static str) {
    use Metric::*;
    match m {
        FraudCount | FraudAmount | FraudRate => {
            (&[FraudCount, FraudAmount, FraudRate, ApprovedCount], "fraud")
        }
        ChargebackCount | ChargebackAmount | ChargebackRate => {
            (&[ChargebackCount, ChargebackAmount, ChargebackRate, ApprovedCount], "chargebacks")
        }
        ApprovalRate | ApprovedCount | DeclineRate | DeclinedCount => (
            &[ApprovalRate, ApprovedCount, DeclineRate, DeclinedCount, TransactionCount, TransactionAmount],
            "approvals",
        ),
        RefundCount | RefundAmount => (&[RefundCount, RefundAmount], "refunds"),
        // A fee change moves the fees and, by as much, net settlement; volume stays.
        InterchangeFees => (&[InterchangeFees, ClearedAmount, NetSettlement], "fees"),
        SettledAmount | SettledCount | NetSettlement => {
            (&[SettledAmount, InterchangeFees, NetSettlement], "settlement")
        }
        _ => (&[TransactionCount, TransactionAmount, InterchangeFees], "volume"),
    }
}

fn scale_money(ms: &[Money], f: f64) -> Vec<Money> {
    ms.iter().map(|m| Money::new((m.minor as f64 * f).round() as i64, m.currency)).collect()
}

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let Some(s) = &q.scenario else {
        return Ok(Output {
            sentences: vec!["Name a change to simulate, for example \"what if fraud increases 20%\".".into()],
            ..Output::default()
        });
    };
    let range = q.time.range;
    let (metrics, topic) = family(s.metric);
    let r = query(input, &q.metric_query(metrics.to_vec(), range)).await?;
    let (mut ev, coverage) = evidence(input, Agent::WhatIf, &r, range).await?;
    let mut out = Output { coverage: Some(coverage), ..Output::default() };
    let get = |m: Metric| r.index_of(m).map(|i| &r.rows[0].values[i]);
    // A change in percentage points is the factor that moves the rate by that many points.
    let f = s.factor(get(s.metric).and_then(MetricValue::as_f64));
    let none = BTreeMap::new();
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    let change = s.change_text();
    out.metrics.push(AnswerMetric::number("scenario_change", f - 1.0, Unit::Ratio, &none, Some("scenario")));
    let push = |m: Metric,
                baseline: &MetricValue,
                scenario_value: Option<f64>,
                scenario_money: Option<Vec<Money>>,
                out: &mut Output| {
        out.metrics.extend(AnswerMetric::from_value(m.as_str(), baseline, m.unit(), &none, Some("baseline")));
        if let Some(v) = scenario_value {
            out.metrics.push(AnswerMetric::number(m.as_str(), v, m.unit(), &none, Some("scenario")));
        }
        for x in scenario_money.unwrap_or_default() {
            out.metrics.push(AnswerMetric::money(m.as_str(), x, &none, Some("scenario")));
        }
    };
    let mut parts = Vec::new();
    let assumptions: String;
    match topic {
        "fraud" | "chargebacks" | "refunds" => {
            let (count_m, amount_m, rate_m) = match topic {
                "fraud" => (Metric::FraudCount, Metric::FraudAmount, Some(Metric::FraudRate)),
                "chargebacks" => {
                    (Metric::ChargebackCount, Metric::ChargebackAmount, Some(Metric::ChargebackRate))
                }
                _ => (Metric::RefundCount, Metric::RefundAmount, None),
            };
            let (Some(c), Some(a)) = (get(count_m), get(amount_m)) else { return Ok(out) };
            let count = c.count().unwrap_or(0) as f64;
            let amounts = a.money();
            let scaled = scale_money(&amounts, f);
            push(count_m, c, Some(count * f), None, &mut out);
            push(amount_m, a, None, Some(scaled.clone()), &mut out);
            parts.push(format!(
                "{} would go from {} to {}",
                count_m.label(),
                int(count as u64),
                num(count * f, 1)
            ));
            parts.push(format!("{} from {} to {}", amount_m.label(), moneys(&amounts), moneys(&scaled)));
            let approved = get(Metric::ApprovedCount).and_then(MetricValue::count).unwrap_or(0);
            if let (Some(rm), Some(rv)) = (rate_m, rate_m.and_then(get)) {
                if approved > 0 {
                    let scenario_rate = count * f / approved as f64;
                    push(rm, rv, Some(scenario_rate), None, &mut out);
                    parts.push(format!(
                        "{} from {} to {}",
                        rm.label(),
                        rv.as_f64().map(pct).unwrap_or_default(),
                        pct(scenario_rate)
                    ));
                }
                out.metrics.extend(AnswerMetric::from_value(
                    "approved_count",
                    &MetricValue::Count { count: approved },
                    Unit::Count,
                    &none,
                    Some("baseline"),
                ));
                assumptions = format!(
                    "approvals stay at {} and each case keeps the period's average amount",
                    int(approved)
                );
            } else {
                assumptions = "each case keeps the period's average amount".into();
            }
        }
        "fees" => {
            let (Some(fees), Some(cleared), Some(net)) =
                (get(Metric::InterchangeFees), get(Metric::ClearedAmount), get(Metric::NetSettlement))
            else {
                return Ok(out);
            };
            let cleared = cleared.money();
            // Per currency: the fee change, in basis points of the cleared amount or in percent.
            let delta = |m: &Money| -> i64 {
                match s.bps {
                    Some(b) => cleared
                        .iter()
                        .find(|c| c.currency == m.currency)
                        .map_or(0, |c| (c.minor as f64 * b / 10_000.0).round() as i64),
                    None => (m.minor as f64 * (f - 1.0)).round() as i64,
                }
            };
            let changes: Vec<Money> = fees.money().iter().map(|m| Money::new(delta(m), m.currency)).collect();
            let new_fees: Vec<Money> = fees
                .money()
                .iter()
                .zip(&changes)
                .map(|(m, d)| Money::new(m.minor + d.minor, m.currency))
                .collect();
            let new_net: Vec<Money> = net
                .money()
                .iter()
                .map(|m| {
                    let d = changes.iter().find(|d| d.currency == m.currency).map_or(0, |d| d.minor);
                    Money::new(m.minor - d, m.currency)
                })
                .collect();
            push(Metric::InterchangeFees, fees, None, Some(new_fees.clone()), &mut out);
            push(Metric::NetSettlement, net, None, Some(new_net.clone()), &mut out);
            out.metrics.extend(AnswerMetric::from_value(
                "cleared_amount",
                &MetricValue::Money { amounts: cleared.clone() },
                Unit::Currency,
                &none,
                Some("baseline"),
            ));
            if let Some(b) = s.bps {
                out.metrics.push(AnswerMetric::number(
                    "scenario_bps",
                    b,
                    Unit::Count,
                    &none,
                    Some("scenario"),
                ));
            }
            parts.push(format!(
                "interchange fees would go from {} to {}",
                moneys(&fees.money()),
                moneys(&new_fees)
            ));
            parts.push(format!("net settlement from {} to {}", moneys(&net.money()), moneys(&new_net)));
            assumptions = format!(
                "the cleared amount ({}) and the settled amount do not change, and every change in fees comes out of net settlement",
                moneys(&cleared)
            );
        }
        "approvals" => {
            let (Some(rate), Some(approved), Some(attempts), Some(amount)) = (
                get(Metric::ApprovalRate),
                get(Metric::ApprovedCount),
                get(Metric::TransactionCount),
                get(Metric::TransactionAmount),
            ) else {
                return Ok(out);
            };
            let base_rate = rate.as_f64().unwrap_or(0.0);
            let attempts_n = attempts.count().unwrap_or(0);
            let declined = get(Metric::DeclinedCount).and_then(MetricValue::count).unwrap_or(0) as f64;
            // A change in declines moves approvals the other way: each extra decline is an
            // approval lost (and each decline saved one won), within the attempts.
            let new_approved = if matches!(s.metric, Metric::DeclineRate | Metric::DeclinedCount) {
                let approved_n = approved.count().unwrap_or(0) as f64;
                let new_declined = (declined * f).min(declined + approved_n);
                if let (Some(d), Some(dr)) = (get(Metric::DeclinedCount), get(Metric::DeclineRate)) {
                    push(Metric::DeclinedCount, d, Some(new_declined), None, &mut out);
                    if attempts_n > 0 {
                        push(Metric::DeclineRate, dr, Some(new_declined / attempts_n as f64), None, &mut out);
                    }
                }
                parts.push(format!(
                    "declines would go from {} to {}",
                    int(declined as u64),
                    num(new_declined, 1)
                ));
                (approved_n - (new_declined - declined)).max(0.0)
            } else {
                (base_rate * f).min(1.0) * attempts_n as f64
            };
            let new_rate = if attempts_n > 0 { new_approved / attempts_n as f64 } else { base_rate };
            let ratio = if approved.count().unwrap_or(0) > 0 {
                new_approved / approved.count().unwrap_or(1) as f64
            } else {
                1.0
            };
            let scaled = scale_money(&amount.money(), ratio);
            push(Metric::ApprovalRate, rate, Some(new_rate), None, &mut out);
            push(Metric::ApprovedCount, approved, Some(new_approved), None, &mut out);
            push(Metric::TransactionAmount, amount, None, Some(scaled.clone()), &mut out);
            parts.push(format!("approval rate would go from {} to {}", pct(base_rate), pct(new_rate)));
            parts.push(format!(
                "approved transactions from {} to {}",
                int(approved.count().unwrap_or(0)),
                num(new_approved, 1)
            ));
            parts.push(format!("approved sales from {} to {}", moneys(&amount.money()), moneys(&scaled)));
            out.metrics.extend(AnswerMetric::from_value(
                "transaction_count",
                attempts,
                Unit::Count,
                &none,
                Some("baseline"),
            ));
            assumptions =
                format!("attempts stay at {} and the average ticket does not change", int(attempts_n));
        }
        _ => {
            for m in metrics {
                let Some(v) = get(*m) else { continue };
                match m.unit() {
                    Unit::Currency => {
                        let scaled = scale_money(&v.money(), f);
                        push(*m, v, None, Some(scaled.clone()), &mut out);
                        parts.push(format!(
                            "{} from {} to {}",
                            m.label(),
                            moneys(&v.money()),
                            scaled.iter().map(money).collect::<Vec<_>>().join(", ")
                        ));
                    }
                    _ => {
                        let base = v.as_f64().unwrap_or(0.0);
                        push(*m, v, Some(base * f), None, &mut out);
                        parts.push(format!("{} from {} to {}", m.label(), num(base, 0), num(base * f, 1)));
                    }
                }
            }
            assumptions = "every amount and fee scales in proportion".into();
        }
    }
    out.sentences.push(format!(
        "If {} {change}{scope}, based on {}: {}.",
        s.metric.label(),
        range.display_days(),
        parts.join("; ")
    ));
    out.sentences.push(format!(
        "Method: the period's actual figures with that change applied and the metrics that depend on it recomputed; it assumes {assumptions}."
    ));
    out.warnings.push(
        "This is a scenario, not a forecast: the change is applied to the period's actual figures.".into(),
    );
    ev.detail = Some(format!("scenario: {} {change}; assumes {assumptions}", s.metric.label()));
    out.evidence.push(ev);
    out.followups.push("What's the forecast for next month?".into());
    Ok(out)
}
