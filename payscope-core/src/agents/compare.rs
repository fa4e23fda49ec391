//! Entities (Visa vs Mastercard) or periods (this month vs last) side by side, with deltas.

use std::collections::BTreeMap;

use super::trend::capitalize;
use super::{dims, evidence, label, query, scope_text, Agent, Input, Output};
use crate::error::Result;
use crate::query::answer::{change_pct, money, num, pct, show, AnswerMetric};
use crate::query::question::Comparison;
use crate::store::metric::{Filter, Metric, MetricValue, Unit};

/// The scalar a comparison reports for a value (money: the given currency's amount).
fn scalar(v: &MetricValue, currency: Option<crate::money::Currency>) -> Option<f64> {
    match v {
        MetricValue::Money { .. } | MetricValue::AverageMoney { .. } => {
            v.money().into_iter().find(|m| Some(m.currency) == currency).map(|m| m.major_units_for_display())
        }
        other => other.as_f64(),
    }
}

/// `2.90 percentage points`, `+1,234.56 USD`, `+12` — a difference as a summary shows it.
fn show_delta(m: Metric, d: f64, currency: Option<crate::money::Currency>) -> String {
    let sign = if d >= 0.0 { "+" } else { "-" };
    match m.unit() {
        Unit::Ratio => format!("{sign}{} percentage points", num(d.abs() * 100.0, 2)),
        Unit::Currency => format!("{sign}{} {}", num(d.abs(), 2), currency.map(|c| c.code()).unwrap_or("")),
        Unit::Hours => format!("{sign}{} hours", num(d.abs(), 1)),
        Unit::Count => format!("{sign}{}", num(d.abs(), 0)),
    }
}

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    match &q.compare {
        Some(Comparison::Periods { current, previous }) => periods(input, *current, *previous).await,
        Some(Comparison::Entities { dimension, values }) => entities(input, *dimension, values).await,
        None => periods(input, q.time.range, q.time.range.previous()).await,
    }
}

async fn entities(
    input: &Input<'_>,
    dim: crate::store::metric::Dimension,
    values: &[String],
) -> Result<Output> {
    let q = input.q;
    let range = q.time.range;
    let mut mq = q.metric_query(q.metrics.clone(), range).group_by(dim);
    mq.filters.retain(|f| f.dimension != dim);
    let filters = mq.filters.clone();
    if !values.is_empty() {
        mq.filters.push(Filter::one_of(dim, values.to_vec()));
    }
    let mut r = query(input, &mq).await?;
    // Rows in the order the question named the entities.
    let position =
        |g: &Option<String>| values.iter().position(|v| Some(v) == g.as_ref()).unwrap_or(usize::MAX);
    r.rows.sort_by_key(|row| position(&row.group[0]));
    let (ev, coverage) = evidence(input, Agent::Compare, &r, range).await?;
    let mut out = Output { coverage: Some(coverage), evidence: vec![ev], ..Output::default() };
    let scope = scope_text(&filters, &q.amount, input.merchants);
    for (i, m) in r.query.metrics.iter().enumerate() {
        let mut parts = Vec::new();
        for row in &r.rows {
            let d = dims(input.merchants, &r.query.group_by, &row.group);
            out.metrics.extend(AnswerMetric::from_value(m.as_str(), &row.values[i], m.unit(), &d, None));
            parts.push(format!(
                "{} {}",
                label(dim, row.group[0].as_deref(), input.merchants),
                show(*m, &row.values[i])
            ));
            if out.sample.is_none() {
                if let MetricValue::Ratio { numerator, denominator } = row.values[i] {
                    out.sample = Some((numerator, denominator));
                }
            }
        }
        if parts.is_empty() {
            out.sentences.push(format!(
                "There is no {} data for {} over {}.",
                m.label(),
                values.join(" or "),
                range.display_days()
            ));
            continue;
        }
        let mut sentence =
            format!("{}{scope} over {}: {}.", capitalize(&m.label()), range.display_days(), parts.join("; "));
        if r.rows.len() == 2 {
            let currency = super::main_currency(input, &r.rows[0].values[i].money());
            if let (Some(a), Some(b)) =
                (scalar(&r.rows[0].values[i], currency), scalar(&r.rows[1].values[i], currency))
            {
                let (la, lb) = (
                    label(dim, r.rows[0].group[0].as_deref(), input.merchants),
                    label(dim, r.rows[1].group[0].as_deref(), input.merchants),
                );
                let d = BTreeMap::from([(
                    dim.as_str().to_owned(),
                    format!(
                        "{} - {}",
                        r.rows[0].group[0].clone().unwrap_or_default(),
                        r.rows[1].group[0].clone().unwrap_or_default()
                    ),
                )]);
                out.metrics.push(AnswerMetric::number(
                    &format!("{}_difference", m.as_str()),
                    a - b,
                    m.unit(),
                    &d,
                    None,
                ));
                let (word, diff) = if a >= b { ("higher", a - b) } else { ("lower", b - a) };
                sentence.push_str(&format!(
                    " {la} is {} {word} than {lb}.",
                    show_delta(*m, diff, currency).trim_start_matches('+')
                ));
            }
        }
        out.sentences.push(sentence);
    }
    out.followups.push(format!("How has this trended for each {}?", dim.as_str().replace('_', " ")));
    Ok(out)
}

async fn periods(
    input: &Input<'_>,
    current: crate::calendar::TimeRange,
    previous: crate::calendar::TimeRange,
) -> Result<Output> {
    let q = input.q;
    let mk = |range| q.metric_query(q.metrics.clone(), range);
    let (cur, prev) = (query(input, &mk(current)).await?, query(input, &mk(previous)).await?);
    let (ev, coverage) = evidence(input, Agent::Compare, &cur, current).await?;
    let mut out = Output { coverage: Some(coverage), evidence: vec![ev], ..Output::default() };
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    let none = BTreeMap::new();
    for (i, m) in cur.query.metrics.iter().enumerate() {
        let (c, p) = (&cur.rows[0].values[i], &prev.rows[0].values[i]);
        out.metrics.extend(AnswerMetric::from_value(m.as_str(), c, m.unit(), &none, Some("current")));
        out.metrics.extend(AnswerMetric::from_value(m.as_str(), p, m.unit(), &none, Some("previous")));
        if out.sample.is_none() {
            if let MetricValue::Ratio { numerator, denominator } = c {
                out.sample = Some((*numerator, *denominator));
            }
        }
        let currency =
            super::main_currency(input, &c.money()).or_else(|| super::main_currency(input, &p.money()));
        let (Some(a), Some(b)) = (scalar(c, currency), scalar(p, currency)) else {
            out.sentences.push(format!(
                "{}{scope}: {} over {} against {} over {}.",
                capitalize(&m.label()),
                show(*m, c),
                current.display_days(),
                show(*m, p),
                previous.display_days()
            ));
            continue;
        };
        let delta = a - b;
        out.metrics.push(AnswerMetric::number(
            &format!("{}_change", m.as_str()),
            delta,
            m.unit(),
            &none,
            None,
        ));
        let shown = |v: f64| match m.unit() {
            Unit::Ratio => pct(v),
            Unit::Currency => money(&crate::money::Money::new(
                (v * 10f64.powi(currency.map_or(2, |c| c.exponent()) as i32)).round() as i64,
                currency.unwrap_or(crate::money::Currency::USD),
            )),
            Unit::Hours => format!("{} hours", num(v, 1)),
            Unit::Count => num(v, 0),
        };
        let mut sentence = format!(
            "{}{scope} was {} over {} against {} over {} ({}",
            capitalize(&m.label()),
            shown(a),
            current.display_days(),
            shown(b),
            previous.display_days(),
            show_delta(*m, delta, currency)
        );
        if let Some(rel) = change_pct(b, a).filter(|_| m.unit() != Unit::Ratio) {
            out.metrics.push(AnswerMetric::number(
                &format!("{}_change_pct", m.as_str()),
                rel,
                Unit::Ratio,
                &none,
                None,
            ));
            sentence.push_str(&format!(", {}{}", if rel >= 0.0 { "+" } else { "" }, pct(rel)));
        }
        sentence.push_str(").");
        out.sentences.push(sentence);
    }
    out.followups
        .push(format!("Why did {} change?", q.metrics.first().map_or("it".to_owned(), |m| m.label())));
    Ok(out)
}
