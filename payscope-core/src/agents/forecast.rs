//! Forecasts of a daily metric: additive Holt-Winters with weekly seasonality (parameters by
//! grid search on one-step-ahead error) and 95% prediction intervals; seasonal-naive under
//! three weeks of history. A one-week backtest's error is reported in the evidence.

use std::collections::BTreeMap;

use super::segments;
use super::trend::capitalize;
use super::{evidence, main_currency, query, scope_text, Agent, Input, Output};
use crate::calendar::{Date, TimeRange, MS_PER_DAY};
use crate::error::Result;
use crate::query::answer::{num, pct, AnswerMetric, Forecast, ForecastPoint, Series, SeriesPoint};
use crate::store::metric::{Dimension, Filter, Metric, Unit};

const SEASON: usize = 7;
/// Days of history fitted.
const HISTORY_DAYS: i32 = 84;
/// Below this many days of history the seasonal-naive method is used.
const MIN_HOLT_WINTERS: usize = 21;

/// A fitted model: point forecasts and their standard errors for `h` steps ahead.
pub(crate) struct Model {
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
        return Model { points: vec![], sigma: vec![] };
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
    Model { points, sigma: sigmas }
}

/// A forecasting method.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    HoltWinters,
    SeasonalNaive,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::HoltWinters => "holt_winters",
            Method::SeasonalNaive => "seasonal_naive",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Method::HoltWinters => "Holt-Winters (level, trend and weekly seasonality)",
            Method::SeasonalNaive => "the seasonal-naive baseline (the same weekday a week earlier)",
        }
    }

    fn points(self, y: &[f64], horizon: usize) -> Vec<f64> {
        match self {
            Method::HoltWinters if y.len() >= MIN_HOLT_WINTERS => fit(y, horizon).points,
            _ => {
                fit(&y[y.len().saturating_sub(SEASON.max(y.len().min(MIN_HOLT_WINTERS - 1)))..], horizon)
                    .points
            }
        }
    }
}

/// What is forecast: a daily sum, or a ratio — a rate (kept within 0–1) or a mean — as its daily
/// numerator and denominator, each forecast, the ratio their quotient.
enum Target {
    Sum(Vec<f64>),
    Ratio { num: Vec<f64>, den: Vec<f64>, rate: bool },
}

impl Target {
    fn len(&self) -> usize {
        match self {
            Target::Sum(y) => y.len(),
            Target::Ratio { num, .. } => num.len(),
        }
    }

    /// Each step's value and the total of steps `from..` of a forecast from the first `upto`
    /// days.
    fn forecast(&self, method: Method, upto: usize, steps: usize, from: usize) -> (Vec<f64>, f64) {
        match self {
            Target::Sum(y) => {
                let p: Vec<f64> = method.points(&y[..upto], steps).into_iter().map(|v| v.max(0.0)).collect();
                let total = p[from..].iter().sum();
                (p, total)
            }
            Target::Ratio { num, den, rate } => {
                let pn: Vec<f64> =
                    method.points(&num[..upto], steps).into_iter().map(|v| v.max(0.0)).collect();
                let pd: Vec<f64> =
                    method.points(&den[..upto], steps).into_iter().map(|v| v.max(0.0)).collect();
                ratio_of(&pn, &pd, from, *rate)
            }
        }
    }

    /// The actual values and total of `steps` days from `at` (total over steps `from..`).
    fn actual(&self, at: usize, steps: usize, from: usize) -> (Vec<f64>, f64) {
        match self {
            Target::Sum(y) => {
                let a = y[at..at + steps].to_vec();
                let total = a[from..].iter().sum();
                (a, total)
            }
            Target::Ratio { num, den, rate } => {
                ratio_of(&num[at..at + steps], &den[at..at + steps], from, *rate)
            }
        }
    }
}

/// Each step's ratio and the ratio of the totals from `from`; a rate is kept within 0–1.
fn ratio_of(n: &[f64], d: &[f64], from: usize, rate: bool) -> (Vec<f64>, f64) {
    let bound = |v: f64| if rate { v.clamp(0.0, 1.0) } else { v.max(0.0) };
    let steps = n.iter().zip(d).map(|(a, b)| if *b > 0.0 { bound(a / b) } else { 0.0 }).collect();
    let (sn, sd): (f64, f64) = (n[from..].iter().sum(), d[from..].iter().sum());
    (steps, if sd > 0.0 { bound(sn / sd) } else { 0.0 })
}

/// The 97.5% quantile of Student's t with `dof` degrees of freedom: an interval built from an
/// error variance estimated on a few backtests is wider than one from a known variance.
fn t975(dof: usize) -> f64 {
    const TABLE: [f64; 10] = [12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23];
    match dof {
        0 => f64::INFINITY,
        1..=10 => TABLE[dof - 1],
        11..=15 => 2.13,
        16..=20 => 2.09,
        21..=30 => 2.04,
        _ => 1.96,
    }
}

/// Fewest days a backtest trains on.
const MIN_TRAIN: usize = 28;
/// Most rolling origins a backtest uses, a week apart.
const MAX_ORIGINS: usize = 8;

/// A rolling-origin backtest: the method refitted at origins a week apart, each forecasting the
/// same number of steps the forecast needs (or as many as the history allows), its errors kept
/// by step and for the total of the forecast's range.
struct Backtest {
    method: Method,
    origins: usize,
    /// Steps each origin forecast.
    steps: usize,
    /// Root-mean-square error of each step's value, pooled by week of the horizon.
    step_rmse: Vec<f64>,
    /// Root-mean-square error of the total.
    total_rmse: f64,
    /// Mean absolute error of the total relative to the mean actual total.
    total_error: f64,
    /// Mean absolute percentage error of the days.
    daily_mape: Option<f64>,
}

impl Backtest {
    fn run(target: &Target, method: Method, steps: usize, from: usize) -> Option<Backtest> {
        let n = target.len();
        let steps = steps.min(n.checked_sub(MIN_TRAIN)?);
        if steps == 0 {
            return None;
        }
        let from = if from < steps { from } else { 0 };
        let origins: Vec<usize> = (0..MAX_ORIGINS)
            .map_while(|k| (n - steps).checked_sub(7 * k).filter(|o| *o >= MIN_TRAIN))
            .collect();
        if origins.is_empty() {
            return None;
        }
        let mut sq = vec![(0.0, 0usize); steps.div_ceil(SEASON)];
        let (mut total_sq, mut total_abs, mut actual_sum) = (0.0, 0.0, 0.0);
        let mut ape = Vec::new();
        for &o in &origins {
            let (f, ft) = target.forecast(method, o, steps, from);
            let (a, at) = target.actual(o, steps, from);
            for (h, (fv, av)) in f.iter().zip(&a).enumerate() {
                let cell = &mut sq[h / SEASON];
                cell.0 += (fv - av).powi(2);
                cell.1 += 1;
                if *av > 0.0 {
                    ape.push(((fv - av) / av).abs());
                }
            }
            total_sq += (ft - at).powi(2);
            total_abs += (ft - at).abs();
            actual_sum += at.abs();
        }
        let k = origins.len() as f64;
        Some(Backtest {
            method,
            origins: origins.len(),
            steps,
            step_rmse: sq.iter().map(|(s, c)| (s / (*c).max(1) as f64).sqrt()).collect(),
            total_rmse: (total_sq / k).sqrt(),
            total_error: if actual_sum > 0.0 { total_abs / actual_sum } else { 0.0 },
            daily_mape: (!ape.is_empty()).then(|| ape.iter().sum::<f64>() / ape.len() as f64),
        })
    }

    /// The error of step `h`, the last backtested week's growing with √h beyond the backtest.
    fn step_error(&self, h: usize) -> f64 {
        let last = self.step_rmse.len() - 1;
        let week = h / SEASON;
        if week <= last {
            self.step_rmse[week]
        } else {
            self.step_rmse[last] * ((h + 1) as f64 / self.steps as f64).sqrt()
        }
    }

    /// The error of a total over `days` days: the backtest's own when it covered them, else
    /// grown with √(days / backtested days).
    fn total_error_for(&self, days: usize, backtested: usize) -> f64 {
        self.total_rmse * (days as f64 / backtested.max(1) as f64).max(1.0).sqrt()
    }
}

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let metric = q.metrics.iter().copied().next().unwrap_or(Metric::TransactionAmount);
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
        let totals = query(input, &q.metric_query([metric], history)).await?;
        main_currency(input, &totals.rows[0].values[0].money())
    } else {
        None
    };
    let mut filters = q.filters.clone();
    if let Some(c) = currency {
        filters.retain(|f| f.dimension != Dimension::Currency);
        filters.push(Filter::eq(Dimension::Currency, c.code()));
    }
    let daily = segments::read(input, metric, &filters, None, history, currency, 1.0).await?.total();
    let start = daily.iter().position(|d| *d != (0.0, 0.0)).unwrap_or(daily.len());
    let days = &daily[start..];
    // A rate (0–1) or a mean (hours, an average ticket) is a ratio of two daily sums.
    let rate = metric.unit() == Unit::Ratio;
    let ratio = segments::is_ratio(metric);
    let target = if ratio {
        Target::Ratio {
            num: days.iter().map(|d| d.0).collect(),
            den: days.iter().map(|d| d.1).collect(),
            rate,
        }
    } else {
        Target::Sum(days.iter().map(|d| d.0).collect())
    };
    let n = target.len();
    let fitted = TimeRange::days(first.add_days(-(n as i32)), first);
    let r = query(input, &q.metric_query([metric], fitted)).await?;
    let (mut ev, coverage) = evidence(input, Agent::Forecast, &r, fitted).await?;
    let mut out = Output { coverage: Some(coverage), ..Output::default() };
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    if n < SEASON {
        out.sentences.push(format!(
            "There is not enough history of {}{scope} to forecast: fewer than a week of data before {}.",
            metric.label(),
            first
        ));
        out.evidence.push(ev);
        return Ok(out);
    }
    // Both methods are backtested on the same origins; the one with the smaller error of the
    // total is used (the baseline on a tie: it is the simpler).
    let steps = skip + horizon;
    let naive = Backtest::run(&target, Method::SeasonalNaive, steps, skip);
    let holt =
        if n >= MIN_HOLT_WINTERS { Backtest::run(&target, Method::HoltWinters, steps, skip) } else { None };
    let chosen = match (&holt, &naive) {
        (Some(h), Some(b)) if h.total_error < b.total_error => Method::HoltWinters,
        (_, Some(_)) => Method::SeasonalNaive,
        _ if n >= MIN_HOLT_WINTERS => Method::HoltWinters,
        _ => Method::SeasonalNaive,
    };
    let backtest = [&holt, &naive].into_iter().flatten().find(|b| b.method == chosen);
    let (values, total) = target.forecast(chosen, n, steps, skip);
    // Without a backtest the interval is the model's own (a sum's; a ratio's has none).
    let model = match (&target, backtest) {
        (Target::Sum(y), None) => Some(fit(y, steps)),
        _ => None,
    };
    let sigma = |h: usize| model.as_ref().and_then(|m| m.sigma.get(h).copied()).unwrap_or(0.0);
    let decimals = if rate {
        6
    } else if metric.unit() == Unit::Hours {
        2
    } else if metric.unit() == Unit::Currency {
        currency.map_or(2, |c| c.exponent() as usize)
    } else {
        0
    };
    let round = |v: f64| {
        let p = 10f64.powi(decimals as i32);
        let v = if rate { v.clamp(0.0, 1.0) } else { v.max(0.0) };
        (v * p).round() / p
    };
    // Each step's error is estimated from every origin's days in its week of the horizon, the
    // total's from one error per origin.
    let spread = |h: usize| match backtest {
        Some(b) => t975(b.origins * SEASON.min(b.steps)) * b.step_error(h),
        None => 1.96 * sigma(h),
    };
    let points: Vec<ForecastPoint> = values[skip..]
        .iter()
        .enumerate()
        .map(|(i, p)| ForecastPoint {
            t: Date(horizon_first.0 + i as i32).start(),
            value: round(*p),
            lower: round(p - spread(skip + i)),
            upper: round(p + spread(skip + i)),
        })
        .collect();
    let total_spread = match backtest {
        Some(b) => {
            t975(b.origins) * b.total_error_for(horizon, b.steps - if skip < b.steps { skip } else { 0 })
        }
        None if rate => {
            1.96 * (total * (1.0 - total) / days.iter().map(|d| d.1).sum::<f64>().max(1.0)).sqrt()
        }
        // Daily errors are not independent: the total's error grows with the days, not their root.
        None => 1.96 * (skip..steps).map(sigma).sum::<f64>(),
    };
    let total = round(total);
    let (total_lower, total_upper) = (round(total - total_spread), round(total + total_spread));
    out.series.push(Series {
        metric: metric.as_str().to_owned(),
        unit: metric.unit(),
        currency: currency.map(|c| c.code().to_owned()),
        dimensions: BTreeMap::new(),
        granularity: "day".into(),
        points: days
            .iter()
            .enumerate()
            .map(|(i, d)| SeriesPoint {
                t: first.add_days(i as i32 - n as i32).start(),
                value: if ratio { (d.1 > 0.0).then(|| round(d.0 / d.1)) } else { Some(round(d.0)) },
                minor_units: None,
            })
            .collect(),
    });
    out.forecast = Some(Forecast {
        metric: metric.as_str().to_owned(),
        unit: metric.unit(),
        currency: currency.map(|c| c.code().to_owned()),
        method: chosen.name().to_owned(),
        points,
        total,
        total_lower,
        total_upper,
        backtest_mape: backtest.and_then(|b| b.daily_mape).map(|m| (m * 10_000.0).round() / 10_000.0),
    });
    let none = BTreeMap::new();
    let forecast_name = format!("{}_forecast", metric.as_str());
    out.metrics.push(AnswerMetric::number(&forecast_name, total, metric.unit(), &none, Some("forecast")));
    out.metrics.push(AnswerMetric::number("history_days", n as f64, Unit::Count, &none, None));
    let shown = |v: f64| match metric.unit() {
        Unit::Ratio => pct(v),
        Unit::Hours => format!("{} hours", num(v, decimals)),
        _ => format!("{}{}", num(v, decimals), currency.map(|c| format!(" {c}")).unwrap_or_default()),
    };
    let what = if ratio { " on average" } else { " in total" };
    out.sentences.push(format!(
        "Forecast of {}{scope} for {}: {}{what} (95% interval {} to {}).",
        metric.label(),
        horizon_range.display_days(),
        shown(total),
        shown(total_lower),
        shown(total_upper)
    ));
    let why = explain(&mut out, chosen, [&holt, &naive], n, steps, if ratio { "average" } else { "total" });
    out.sentences.push(why);
    // Confidence follows the backtest: a forecast whose past totals were off by a fifth is not
    // worth a 0.95.
    out.reliability = Some(backtest.map_or(0.5, |b| (1.0 - 2.0 * b.total_error).clamp(0.2, 1.0)));
    if let Some(b) = backtest.filter(|b| b.origins < 3) {
        out.warnings.push(format!(
            "The history allows only {} backtest(s) of this horizon: the interval rests on few errors.",
            b.origins
        ));
    }
    if backtest.is_none() {
        out.warnings.push(format!(
            "Under {} days of history there is no backtest: the interval is the model's own and may be too narrow.",
            MIN_TRAIN + 1
        ));
    }
    ev.detail = Some(match backtest {
        Some(b) => format!(
            "{} on {} days of history; 95% intervals from the errors of {} rolling-origin backtests of {} days, by week of the horizon, with Student's t for the number of errors",
            chosen.name(),
            n,
            b.origins,
            b.steps
        ),
        None => format!("{} on {} days of history; 95% intervals of the model, too short for a backtest", chosen.name(), n),
    });
    out.evidence.push(ev);
    out.followups.push(capitalize(&format!("what if {} drops 10%?", metric.label())));
    Ok(out)
}

/// Why the method was chosen, from the backtests of both, in one sentence (its numbers
/// recorded as metrics).
fn explain(
    out: &mut Output,
    chosen: Method,
    tests: [&Option<Backtest>; 2],
    n: usize,
    horizon: usize,
    what: &str,
) -> String {
    let none = BTreeMap::new();
    for b in tests.into_iter().flatten() {
        let name = format!("{}_backtest_error", b.method.name());
        out.metrics.push(AnswerMetric::number(&name, b.total_error, Unit::Ratio, &none, None));
    }
    let Some(b) = tests.into_iter().flatten().find(|b| b.method == chosen) else {
        return format!(
            "Method: {}, fitted on {n} days; the history is too short to backtest it against another.",
            chosen.text()
        );
    };
    out.metrics.push(AnswerMetric::number("backtest_origins", b.origins as f64, Unit::Count, &none, None));
    out.metrics.push(AnswerMetric::number("backtest_days", b.steps as f64, Unit::Count, &none, None));
    let versus = match tests.into_iter().flatten().find(|o| o.method != chosen) {
        Some(o) => format!(
            " against {} for {}",
            pct(o.total_error),
            match o.method {
                Method::SeasonalNaive => "the seasonal-naive baseline",
                Method::HoltWinters => "Holt-Winters",
            }
        ),
        None => format!(" (under {MIN_HOLT_WINTERS} days of history Holt-Winters is not fitted)"),
    };
    let beyond = if b.steps < horizon {
        out.metrics.push(AnswerMetric::number("days_ahead", horizon as f64, Unit::Count, &none, None));
        format!(
            "; the backtests cover {} of the {horizon} days ahead, beyond which errors are grown with the square root of time",
            b.steps
        )
    } else {
        String::new()
    };
    format!(
        "Method: {}, fitted on {n} days, chosen because over {} rolling-origin backtests of {} days its {what} was off by {} on average{versus}; the interval comes from those backtests' errors{beyond}.",
        chosen.text(),
        b.origins,
        b.steps,
        pct(b.total_error)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holt_winters_follows_a_weekly_pattern_with_growth() {
        let y: Vec<f64> = (0..70).map(|t| 100.0 + t as f64 + if t % 7 >= 5 { -30.0 } else { 10.0 }).collect();
        let m = fit(&y, 14);
        for (h, p) in m.points.iter().enumerate() {
            let t = 70 + h;
            let truth = 100.0 + t as f64 + if t % 7 >= 5 { -30.0 } else { 10.0 };
            assert!((p - truth).abs() < 5.0, "h={h}: {p} vs {truth}");
        }
        assert!(m.sigma.windows(2).all(|w| w[1] >= w[0]));
        let b = Backtest::run(&Target::Sum(y.clone()), Method::HoltWinters, 14, 0).unwrap();
        assert!(b.total_error < 0.05 && b.origins == 5, "{} {}", b.total_error, b.origins);
        let naive = Backtest::run(&Target::Sum(y), Method::SeasonalNaive, 14, 0).unwrap();
        assert!(naive.total_error > b.total_error, "the trend defeats the naive baseline");
    }

    #[test]
    fn short_history_falls_back_to_seasonal_naive() {
        let y = vec![10.0, 11.0, 12.0, 13.0, 14.0, 5.0, 6.0, 10.0, 11.0];
        let m = fit(&y, 3);
        assert_eq!(m.points, vec![12.0, 13.0, 14.0]);
    }
}
