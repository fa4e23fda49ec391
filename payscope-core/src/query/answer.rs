//! The answer (docs/questions.md), the formatting of numbers for summaries, and grounding: every
//! number in a summary must be one of the computed values, rounded for display.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::question::Intent;
use crate::calendar::{TimeRange, Timestamp};
use crate::money::Money;
use crate::store::audit::AnswerId;
use crate::store::metric::{Metric, MetricValue, Unit};

/// One computed number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerMetric {
    /// Metric name (a semantic-layer name, or one with a suffix: `_change`, `_change_pct`,
    /// `_difference`, `_forecast`, `_scenario`).
    pub name: String,
    /// The value for display (ratios 0–1, money in major units); `null` when undefined.
    pub value: Option<f64>,
    /// Its unit.
    pub unit: Unit,
    /// Exact minor units, for money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor_units: Option<i64>,
    /// Currency, for money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The group a breakdown or comparison row belongs to (`{"network": "visa"}`).
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// `current` / `previous` (periods compared), `baseline` / `scenario` (what-if), `forecast`
    /// (a forecast's total over the period ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
}

impl AnswerMetric {
    /// Entries for a metric value: one per currency for money.
    pub fn from_value(
        name: &str,
        value: &MetricValue,
        unit: Unit,
        dimensions: &BTreeMap<String, String>,
        period: Option<&str>,
    ) -> Vec<AnswerMetric> {
        let base = |value: Option<f64>| AnswerMetric {
            name: name.to_owned(),
            value,
            unit,
            minor_units: None,
            currency: None,
            dimensions: dimensions.clone(),
            period: period.map(str::to_owned),
        };
        match value {
            MetricValue::Money { .. } | MetricValue::AverageMoney { .. } => value
                .money()
                .into_iter()
                .map(|m| AnswerMetric {
                    minor_units: Some(m.minor),
                    currency: Some(m.currency.code().to_owned()),
                    ..base(Some(m.major_units_for_display()))
                })
                .collect(),
            other => vec![base(other.as_f64().map(round6))],
        }
    }

    /// A money entry.
    pub fn money(
        name: &str,
        m: Money,
        dimensions: &BTreeMap<String, String>,
        period: Option<&str>,
    ) -> AnswerMetric {
        AnswerMetric {
            name: name.to_owned(),
            value: Some(m.major_units_for_display()),
            unit: Unit::Currency,
            minor_units: Some(m.minor),
            currency: Some(m.currency.code().to_owned()),
            dimensions: dimensions.clone(),
            period: period.map(str::to_owned),
        }
    }

    /// A plain number entry.
    pub fn number(
        name: &str,
        value: f64,
        unit: Unit,
        dimensions: &BTreeMap<String, String>,
        period: Option<&str>,
    ) -> AnswerMetric {
        AnswerMetric {
            name: name.to_owned(),
            value: Some(round6(value)),
            unit,
            minor_units: None,
            currency: None,
            dimensions: dimensions.clone(),
            period: period.map(str::to_owned),
        }
    }
}

/// Rounds a display value to six decimals (ratios keep 4 significant decimals in percent).
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// A point of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Bucket start.
    pub t: Timestamp,
    /// Value (ratios 0–1, money in major units); `null` when undefined.
    pub value: Option<f64>,
    /// Exact minor units, for money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor_units: Option<i64>,
}

/// A metric over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Metric name.
    pub metric: String,
    /// Unit.
    pub unit: Unit,
    /// Currency, for money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Group, when the series is one of several.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// `hour`, `day`, `week` or `month`.
    pub granularity: String,
    /// Points, oldest first.
    pub points: Vec<SeriesPoint>,
}

/// A forecast point with its prediction interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastPoint {
    /// Day.
    pub t: Timestamp,
    /// Point forecast.
    pub value: f64,
    /// Lower bound of the 95% interval.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// A forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Metric.
    pub metric: String,
    /// Unit.
    pub unit: Unit,
    /// Currency, for money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `holt_winters` or `seasonal_naive`.
    pub method: String,
    /// Daily points over the horizon.
    pub points: Vec<ForecastPoint>,
    /// Sum over the horizon.
    pub total: f64,
    /// Lower bound of the total.
    pub total_lower: f64,
    /// Upper bound of the total.
    pub total_upper: f64,
    /// Mean absolute percentage error of a one-week backtest, when there was room for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtest_mape: Option<f64>,
}

/// Where numbers came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The agent.
    pub agent: String,
    /// The metric(s) concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// `rollup`, `facts`, `rollup+facts`, `graph`, `knowledge_base`, `model`.
    pub source: String,
    /// Facts read.
    pub facts_scanned: u64,
    /// Share of the range's days that have data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    /// Anything else worth knowing (a backtest error, a threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What an answer computed: the canonical restatement and the typed query, which
/// `POST /query` answers with the same numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interpretation {
    /// `Approval rate where network is not visa, 2026-10-19 – 2026-10-25`.
    pub text: String,
    /// The typed query.
    pub query: super::typed::TypedQuery,
}

/// The answer to a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// Id of the answer (and of its audit record).
    pub answer_id: AnswerId,
    /// What an analyst reads.
    pub summary: String,
    /// The intent understood.
    pub intent: Intent,
    /// What was computed, in words and as a typed query (none when the question was asked
    /// back or is unsupported).
    #[serde(default)]
    pub interpretation: Option<Interpretation>,
    /// 0–1.
    pub confidence: f64,
    /// Agents that ran.
    pub agents_invoked: Vec<String>,
    /// The range answered.
    pub time_range: TimeRange,
    /// Computed numbers.
    pub metrics: Vec<AnswerMetric>,
    /// Series.
    pub series: Vec<Series>,
    /// Forecast, for forecast questions.
    pub forecast: Option<Forecast>,
    /// Provenance.
    pub evidence: Vec<Evidence>,
    /// Questions worth asking next.
    pub followups: Vec<String>,
    /// Caveats (mixed currencies, partial data, low volume, ...).
    pub warnings: Vec<String>,
}

/// `93.41%`.
pub fn pct(ratio: f64) -> String {
    format!("{:.2}%", ratio * 100.0)
}

/// `1,204,331`.
pub fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1,234.5` with `decimals` places and thousands separators.
pub fn num(v: f64, decimals: usize) -> String {
    let negative = v < 0.0;
    let text = format!("{:.*}", decimals, v.abs());
    let (int_part, frac) = text.split_once('.').map_or((text.as_str(), None), |(a, b)| (a, Some(b)));
    let grouped = int(int_part.parse().unwrap_or(0));
    format!(
        "{}{}{}",
        if negative { "-" } else { "" },
        grouped,
        frac.map(|f| format!(".{f}")).unwrap_or_default()
    )
}

/// `12,345.67 USD`.
pub fn money(m: &Money) -> String {
    format!("{} {}", m.format_grouped(), m.currency)
}

/// A list of amounts (`12.00 USD, 5 JPY`), or `nothing`.
pub fn moneys(ms: &[Money]) -> String {
    if ms.is_empty() {
        "nothing".to_owned()
    } else {
        ms.iter().map(money).collect::<Vec<_>>().join(", ")
    }
}

/// A metric value as a summary shows it.
pub fn show(metric: Metric, v: &MetricValue) -> String {
    match (metric.unit(), v) {
        (Unit::Ratio, MetricValue::Ratio { denominator: 0, .. }) => "not defined (no data)".to_owned(),
        (Unit::Ratio, _) => v.as_f64().map(pct).unwrap_or_default(),
        (Unit::Count, _) => int(v.count().unwrap_or(0)),
        (Unit::Hours, _) => v
            .as_f64()
            .map_or("not defined (no settled transactions)".to_owned(), |h| format!("{} hours", num(h, 1))),
        (Unit::Currency, _) => moneys(&v.money()),
    }
}

/// Signed percent change `(-12.4%)` of `to` against `from`, when `from` is not zero.
pub fn change_pct(from: f64, to: f64) -> Option<f64> {
    (from != 0.0).then(|| (to - from) / from.abs())
}

/// The numbers a summary may show: every computed value in its display representations.
pub struct Grounding {
    values: Vec<f64>,
    texts: Vec<String>,
}

impl Grounding {
    /// Collects the computed values of an answer, and numbers written in the question and in
    /// group labels (codes, merchant names, dates).
    pub fn of(answer: &Answer, question: &str) -> Grounding {
        let mut values = Vec::new();
        let mut texts: Vec<String> = vec![question.to_owned()];
        fn add(values: &mut Vec<f64>, v: f64, unit: Unit) {
            values.push(v);
            match unit {
                Unit::Ratio => values.push(v * 100.0),
                Unit::Hours => values.push(v / 24.0),
                _ => {}
            }
        }
        for m in &answer.metrics {
            if let Some(v) = m.value {
                add(&mut values, v, m.unit);
            }
            texts.extend(m.dimensions.values().cloned());
        }
        for s in &answer.series {
            for p in &s.points {
                if let Some(v) = p.value {
                    add(&mut values, v, s.unit);
                }
            }
            texts.extend(s.dimensions.values().cloned());
        }
        if let Some(f) = &answer.forecast {
            for v in f.points.iter().flat_map(|p| [p.value, p.lower, p.upper]).chain([
                f.total,
                f.total_lower,
                f.total_upper,
            ]) {
                add(&mut values, v, f.unit);
            }
            if let Some(m) = f.backtest_mape {
                add(&mut values, m, Unit::Ratio);
            }
        }
        // How many rows a ranking or comparison lists ("Bottom 5 issuer countries").
        let mut rows: BTreeMap<&str, usize> = BTreeMap::new();
        for m in answer.metrics.iter().filter(|m| !m.dimensions.is_empty()) {
            *rows.entry(m.name.as_str()).or_default() += 1;
        }
        values.extend(rows.values().map(|n| *n as f64));
        for e in &answer.evidence {
            values.push(e.facts_scanned as f64);
            texts.extend(e.detail.clone());
        }
        texts.push(answer.time_range.display_days());
        texts.push(answer.time_range.from.to_string());
        texts.push(answer.time_range.to.to_string());
        Grounding { values, texts }
    }

    /// Numbers in `summary` that are not grounded (empty when the summary is grounded).
    pub fn ungrounded(&self, summary: &str) -> Vec<String> {
        let allowed: Vec<String> = self.texts.iter().flat_map(|t| numbers_in(t)).map(|(s, _)| s).collect();
        numbers_in(summary)
            .into_iter()
            .filter(|(text, v)| {
                if allowed.contains(text) {
                    return false;
                }
                let decimals = text.split('.').nth(1).map_or(0, |f| f.trim_end_matches('%').len());
                let tolerance = 0.5 * 10f64.powi(-(decimals as i32)) + 1e-9;
                !self
                    .values
                    .iter()
                    .any(|c| (c - v).abs() <= tolerance || (c.abs() - v.abs()).abs() <= tolerance && *v < 0.0)
            })
            .map(|(s, _)| s)
            .collect()
    }
}

/// Numbers written in text (`1,234.56`, `-12.4%`, `93.41`), skipping ISO dates and times.
pub fn numbers_in(text: &str) -> Vec<(String, f64)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts =
            b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len()
            && (b[j].is_ascii_digit()
                || ((b[j] == b',' || b[j] == b'.') && j + 1 < b.len() && b[j + 1].is_ascii_digit()))
        {
            j += 1;
        }
        // Dates, times and identifiers (`2026-10-01`, `22:00`, `M000077`, `10.4x`) are not quantities.
        let joined = j < b.len()
            && (matches!(b[j], b'-' | b':' | b'/' | b'T') && j + 1 < b.len() && b[j + 1].is_ascii_digit()
                || b[j].is_ascii_alphabetic());
        let after_dash =
            i > 0 && matches!(b[i - 1], b'-' | b':' | b'/') && i > 1 && b[i - 2].is_ascii_digit();
        if !joined && !after_dash {
            let raw = &text[i..j];
            let negative = i > 0 && b[i - 1] == b'-' && (i < 2 || !b[i - 2].is_ascii_alphanumeric());
            let percent = j < b.len() && b[j] == b'%';
            if let Ok(v) = raw.replace(',', "").parse::<f64>() {
                let shown =
                    format!("{}{raw}{}", if negative { "-" } else { "" }, if percent { "%" } else { "" });
                out.push((shown, if negative { -v } else { v }));
            }
        }
        while j < b.len()
            && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'-' | b':' | b'/'))
            && !b[j].is_ascii_whitespace()
        {
            if !(b[j].is_ascii_digit() || matches!(b[j], b'-' | b':' | b'/' | b'T' | b'Z')) {
                break;
            }
            j += 1;
        }
        i = j.max(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn formatting() {
        assert_eq!(pct(0.93412), "93.41%");
        assert_eq!(int(1_204_331), "1,204,331");
        assert_eq!(num(-1234.567, 1), "-1,234.6");
        assert_eq!(money(&Money::new(123_456_789, Currency::USD)), "1,234,567.89 USD");
    }

    #[test]
    fn numbers_skip_dates_codes_and_ids() {
        let found: Vec<String> = numbers_in("Approval rate was 93.41% over 2026-10-02 – 2026-10-31 (1,204,331 attempts), code 51, M000077, -12.4% at 22:00")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(found, vec!["93.41%", "1,204,331", "51", "-12.4%"]);
    }

    #[test]
    fn grounding_accepts_display_rounding_and_rejects_inventions() {
        let answer = Answer {
            answer_id: AnswerId::new(),
            summary: String::new(),
            intent: Intent::Describe,
            interpretation: None,
            confidence: 0.9,
            agents_invoked: vec![],
            time_range: TimeRange::new(Timestamp(0), Timestamp(86_400_000)),
            metrics: vec![
                AnswerMetric::number("approval_rate", 0.934123, Unit::Ratio, &BTreeMap::new(), None),
                AnswerMetric::number(
                    "transaction_count",
                    1_204_331.0,
                    Unit::Count,
                    &BTreeMap::from([("response_code".to_string(), "51".to_string())]),
                    None,
                ),
                AnswerMetric::money(
                    "transaction_amount",
                    Money::new(123_456_789, Currency::USD),
                    &BTreeMap::new(),
                    None,
                ),
            ],
            series: vec![],
            forecast: None,
            evidence: vec![],
            followups: vec![],
            warnings: vec![],
        };
        let g = Grounding::of(&answer, "top 5 decline reasons");
        assert!(g.ungrounded("93.41% of 1,204,331 attempts, 1,234,567.89 USD; code 51; top 5").is_empty());
        assert_eq!(g.ungrounded("93.5% of 1,204,331 attempts"), vec!["93.5%".to_string()]);
        assert_eq!(g.ungrounded("about 42 million"), vec!["42".to_string()]);
    }
}
