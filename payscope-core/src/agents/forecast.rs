//! Forecasts of a daily metric: additive Holt-Winters with weekly seasonality (parameters by
//! grid search on one-step-ahead error) and 95% prediction intervals; seasonal-naive under
//! three weeks of history. A one-week backtest's error is reported in the evidence.

use std::collections::BTreeMap;

use super::trend::{capitalize, daily_values};
use super::{evidence, main_currency, scope_text, Agent, Input, Output};
use crate::calendar::{Date, TimeRange, MS_PER_DAY};
use crate::error::Result;
use crate::query::answer::{num, pct, AnswerMetric, Forecast, ForecastPoint, Series, SeriesPoint};
use crate::store::metric::{Metric, Unit};

const SEASON: usize = 7;
/// Days of history fitted.
const HISTORY_DAYS: i32 = 84;
/// Below this many days of history the seasonal-naive method is used.
const MIN_HOLT_WINTERS: usize = 21;

/// A fitted model: point forecasts and their standard errors for `h` steps ahead.
pub(crate) struct Model {
    pub method: &'static str,
    points: Vec<f64>,
    sigma: Vec<f64>,
}

struct Fitted {
    sse: f64,
    level: f64,
    trend: f64,
    season: [f64; SEASON],
}

fn run_hw(y: &[f64], alpha: f64, beta: f64, gamma: f64) -> Fitted {
    let m = SEASON;
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let mut level = mean(&y[..m]);
    let mut trend = if y.len() >= 2 * m { (mean(&y[m..2 * m]) - level) / m as f64 } else { 0.0 };
    let mut season = [0.0; SEASON];
    for (i, s) in season.iter_mut().enumerate() {
        *s = y[i] - level;
    }
    let mut sse = 0.0;
    for (t, &yt) in y.iter().enumerate().skip(m) {
        let s = season[t % m];
        let err = yt - (level + trend + s);
        sse += err * err;
        let new_level = alpha * (yt - s) + (1.0 - alpha) * (level + trend);
        trend = beta * (new_level - level) + (1.0 - beta) * trend;
        level = new_level;
        season[t % m] = gamma * (yt - level) + (1.0 - gamma) * s;
    }
    Fitted { sse, level, trend, season }
}

/// Fits a model to daily history and forecasts `horizon` days.
pub(crate) fn fit(y: &[f64], horizon: usize) -> Model {
    let n = y.len();
    if n < MIN_HOLT_WINTERS {
        // Seasonal naive: the same weekday last week (or the mean without a full week).
        let points: Vec<f64> = (0..horizon)
            .map(|h| {
                if n >= SEASON {
                    y[n - SEASON + h % SEASON]
                } else if n > 0 {
                    y.iter().sum::<f64>() / n as f64
                } else {
                    0.0
                }
            })
            .collect();
        let diffs: Vec<f64> =
            if n > SEASON { (SEASON..n).map(|t| y[t] - y[t - SEASON]).collect() } else { y.to_vec() };
        let sd = (diffs.iter().map(|d| d * d).sum::<f64>() / diffs.len().max(1) as f64).sqrt();
        return Model {
            method: "seasonal_naive",
            sigma: (0..horizon).map(|h| sd * (1.0 + (h / SEASON) as f64).sqrt()).collect(),
            points,
        };
    }
    let mut best: Option<(f64, f64, f64, Fitted)> = None;
    for alpha in [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9] {
        for beta in [0.0, 0.02, 0.05, 0.1, 0.2] {
            for gamma in [0.05, 0.1, 0.3, 0.5] {
                let f = run_hw(y, alpha, beta, gamma);
                if best.as_ref().is_none_or(|b| f.sse < b.3.sse) {
                    best = Some((alpha, beta, gamma, f));
                }
            }
        }
    }
    let Some((alpha, beta, gamma, f)) = best else {
        return Model { method: "holt_winters", points: vec![], sigma: vec![] };
    };
    let sigma = (f.sse / (n - SEASON).max(1) as f64).sqrt();
    let points =
        (1..=horizon).map(|h| f.level + h as f64 * f.trend + f.season[(n + h - 1) % SEASON]).collect();
    // Variance of an h-step forecast: σ²(1 + Σ_{j<h} c_j²), c_j = α(1 + jβ) + γ·[j ≡ 0 mod m].
    let sigmas = (1..=horizon)
        .map(|h| {
            let sum: f64 = (1..h)
                .map(|j| {
                    let c = alpha * (1.0 + j as f64 * beta) + if j % SEASON == 0 { gamma } else { 0.0 };
                    c * c
                })
                .sum();
            sigma * (1.0 + sum).sqrt()
        })
        .collect();
    Model { method: "holt_winters", points, sigma: sigmas }
}

/// Mean absolute percentage error of fitting all but the last week and forecasting it.
fn backtest(y: &[f64]) -> Option<f64> {
    if y.len() < MIN_HOLT_WINTERS + SEASON {
        return None;
    }
    let (train, test) = y.split_at(y.len() - SEASON);
    let model = fit(train, SEASON);
    let errors: Vec<f64> =
        test.iter().zip(&model.points).filter(|(a, _)| **a > 0.0).map(|(a, f)| ((a - f) / a).abs()).collect();
    (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64)
}

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let metric = q
        .metrics
        .iter()
        .copied()
        .find(|m| matches!(m.unit(), Unit::Count | Unit::Currency))
        .unwrap_or(Metric::TransactionAmount);
    // History ends with the last complete day before `as_of`; the model steps forward from
    // there through the horizon (which may start later, "next month").
    let first = q.as_of.date();
    let horizon_range = if q.time.future { q.time.range } else { TimeRange::days(first, first.add_days(30)) };
    let horizon_first = horizon_range.from.date().max(first);
    let skip = (horizon_first.0 - first.0).max(0) as usize;
    let horizon =
        ((horizon_range.to.0 - horizon_first.start().0 + MS_PER_DAY - 1) / MS_PER_DAY).clamp(1, 366) as usize;
    let history = TimeRange::days(first.add_days(-HISTORY_DAYS), first);
    let currency = if metric.unit() == Unit::Currency {
        let totals = input.stores.metrics.query(input.ctx, &q.metric_query([metric], history)).await?;
        main_currency(input, &totals.rows[0].values[0].money())
    } else {
        None
    };
    let (days, r) = daily_values(input, metric, history, currency).await?;
    let start = days.iter().position(|(_, v)| *v != 0.0).unwrap_or(days.len());
    let y: Vec<f64> = days[start..].iter().map(|(_, v)| *v).collect();
    let fitted = TimeRange::days(first.add_days(-(y.len() as i32)), first);
    let (mut ev, coverage) = evidence(input, Agent::Forecast, &r, fitted).await?;
    let mut out = Output { coverage: Some(coverage), ..Output::default() };
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    if y.len() < SEASON {
        out.sentences.push(format!(
            "There is not enough history of {}{scope} to forecast: fewer than a week of data before {}.",
            metric.label(),
            first
        ));
        out.evidence.push(ev);
        return Ok(out);
    }
    let mut model = fit(&y, skip + horizon);
    model.points.drain(..skip);
    model.sigma.drain(..skip);
    let mape = backtest(&y);
    let decimals =
        if metric.unit() == Unit::Currency { currency.map_or(2, |c| c.exponent() as usize) } else { 0 };
    let round = |v: f64| {
        let p = 10f64.powi(decimals as i32);
        (v.max(0.0) * p).round() / p
    };
    let points: Vec<ForecastPoint> = model
        .points
        .iter()
        .zip(&model.sigma)
        .enumerate()
        .map(|(h, (p, s))| ForecastPoint {
            t: Date(horizon_first.0 + h as i32).start(),
            value: round(*p),
            lower: round(p - 1.96 * s),
            upper: round(p + 1.96 * s),
        })
        .collect();
    let total = round(model.points.iter().map(|p| p.max(0.0)).sum());
    let spread = 1.96 * model.sigma.iter().map(|s| s * s).sum::<f64>().sqrt();
    let (total_lower, total_upper) = (round(total - spread), round(total + spread));
    out.series.push(Series {
        metric: metric.as_str().to_owned(),
        unit: metric.unit(),
        currency: currency.map(|c| c.code().to_owned()),
        dimensions: BTreeMap::new(),
        granularity: "day".into(),
        points: days[start..]
            .iter()
            .map(|(d, v)| SeriesPoint { t: d.start(), value: Some(round(*v)), minor_units: None })
            .collect(),
    });
    out.forecast = Some(Forecast {
        metric: metric.as_str().to_owned(),
        unit: metric.unit(),
        currency: currency.map(|c| c.code().to_owned()),
        method: model.method.to_owned(),
        points,
        total,
        total_lower,
        total_upper,
        backtest_mape: mape.map(|m| (m * 10_000.0).round() / 10_000.0),
    });
    let unit = currency.map(|c| format!(" {c}")).unwrap_or_default();
    out.metrics.push(AnswerMetric::number(
        &format!("{}_forecast", metric.as_str()),
        total,
        metric.unit(),
        &BTreeMap::new(),
        Some("forecast"),
    ));
    out.metrics.push(AnswerMetric::number(
        "history_days",
        y.len() as f64,
        Unit::Count,
        &BTreeMap::new(),
        None,
    ));
    let method = if model.method == "holt_winters" {
        "a Holt-Winters model with weekly seasonality"
    } else {
        "a seasonal-naive model (under three weeks of history)"
    };
    let mut sentence = format!(
        "Forecast of {}{scope} for {}: {}{unit} (95% interval {}{unit} to {}{unit}), from {method} fitted on {} days",
        metric.label(),
        horizon_range.display_days(),
        num(total, decimals),
        num(total_lower, decimals),
        num(total_upper, decimals),
        num(y.len() as f64, 0)
    );
    match mape {
        Some(m) => sentence.push_str(&format!("; a one-week backtest was off by {} on average.", pct(m))),
        None => sentence.push('.'),
    }
    out.sentences.push(sentence);
    out.sample = Some((y.len() as u64 * 10, y.len() as u64 * 10));
    if y.len() < MIN_HOLT_WINTERS {
        out.warnings.push("Less than three weeks of history: the forecast repeats last week.".into());
    }
    ev.detail = Some(match mape {
        Some(m) => format!(
            "{} on {} days of history, 95% prediction intervals; one-week backtest MAPE {}",
            model.method,
            y.len(),
            pct(m)
        ),
        None => format!(
            "{} on {} days of history, 95% prediction intervals; too short for a backtest",
            model.method,
            y.len()
        ),
    });
    out.evidence.push(ev);
    out.followups.push(capitalize(&format!("what if {} drops 10%?", metric.label())));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holt_winters_follows_a_weekly_pattern_with_growth() {
        let y: Vec<f64> = (0..70).map(|t| 100.0 + t as f64 + if t % 7 >= 5 { -30.0 } else { 10.0 }).collect();
        let m = fit(&y, 14);
        assert_eq!(m.method, "holt_winters");
        for (h, p) in m.points.iter().enumerate() {
            let t = 70 + h;
            let truth = 100.0 + t as f64 + if t % 7 >= 5 { -30.0 } else { 10.0 };
            assert!((p - truth).abs() < 5.0, "h={h}: {p} vs {truth}");
        }
        assert!(m.sigma.windows(2).all(|w| w[1] >= w[0]));
        assert!(backtest(&y).unwrap() < 0.05);
    }

    #[test]
    fn short_history_falls_back_to_seasonal_naive() {
        let y = vec![10.0, 11.0, 12.0, 13.0, 14.0, 5.0, 6.0, 10.0, 11.0];
        let m = fit(&y, 3);
        assert_eq!(m.method, "seasonal_naive");
        assert_eq!(m.points, vec![12.0, 13.0, 14.0]);
    }
}
