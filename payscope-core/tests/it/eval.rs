//! The evaluation set: 200+ questions over the synthetic banks — every intent, paraphrases,
//! typos, casing, the example questions of docs/questions.md — each with its expected intent and
//! expected values computed by the independent naive evaluator (`naive.rs`) over the
//! generator's facts, never through `MetricStore`. It writes `target/eval.md`, the table in
//! `EVAL.md`, and requires 100%.

use std::collections::BTreeMap;

use payscope_core::calendar::{Date, TimeRange, Timestamp};
use payscope_core::facts::{Fact, ReportId, Stage};
use payscope_core::money::Money;
use payscope_core::query::answer::Answer;
use payscope_core::query::{Intent, Query};
use payscope_core::store::metric::{Dimension, Filter, Granularity, Metric, MetricQuery, MetricValue, Unit};

use crate::ask::{analyst, as_of, engine};
use crate::fixtures::dataset;
use crate::naive;

fn day(y: i32, m: u32, d: u32) -> Timestamp {
    Date::from_ymd(y, m, d).unwrap().start()
}

/// The ranges the questions name, resolved by hand against as_of = 2026-11-01T00:00Z (a Sunday).
fn range_of(phrase: &str) -> TimeRange {
    let r = |a, b| TimeRange::new(a, b);
    match phrase {
        "last week" => r(day(2026, 10, 19), day(2026, 10, 26)),
        "in October" | "in october" | "October 2026" => r(day(2026, 10, 1), day(2026, 11, 1)),
        "last 30 days" | "" => r(day(2026, 10, 2), day(2026, 11, 1)),
        "last 7 days" | "past week" => r(day(2026, 10, 25), day(2026, 11, 1)),
        "yesterday" => r(day(2026, 10, 31), day(2026, 11, 1)),
        "in September" => r(day(2026, 9, 1), day(2026, 10, 1)),
        "Q3 2026" => r(day(2026, 7, 1), day(2026, 10, 1)),
        "since 2026-10-15" => r(day(2026, 10, 15), day(2026, 11, 1)),
        "between Oct 5 and Oct 11" => r(day(2026, 10, 5), day(2026, 10, 12)),
        "last month" => r(day(2026, 10, 1), day(2026, 11, 1)),
        other => panic!("no range for {other}"),
    }
}

/// What an answer must contain.
enum Check {
    /// Totals of these metrics.
    Totals(Vec<Metric>),
    /// Top rows of a breakdown.
    Top { metric: Metric, dim: Dimension, n: usize },
    /// Values per entity.
    Entities { metric: Metric, dim: Dimension },
    /// Current and previous period values.
    Periods { metric: Metric, previous: TimeRange },
    /// A daily series.
    Series { metric: Metric, granularity: Granularity },
    /// Reconciliation numbers.
    Reconcile,
    /// A response code's usage.
    CodeUsage(&'static str),
    /// The scenario's baseline and scaled values.
    Scenario { metric: Metric, percent: f64 },
    /// The compromised merchant ranks first.
    CommonPoint,
    /// A forecast with its history.
    Forecast,
    /// No numbers.
    Nothing,
}

struct Case {
    text: String,
    intent: Intent,
    range: TimeRange,
    filters: Vec<Filter>,
    check: Check,
}

fn case(text: impl Into<String>, intent: Intent, phrase: &str, filters: Vec<Filter>, check: Check) -> Case {
    Case { text: text.into(), intent, range: range_of(phrase), filters, check }
}

/// The evaluation questions' text (other suites replay them).
pub fn questions() -> Vec<String> {
    cases().into_iter().map(|c| c.text).collect()
}

fn cases() -> Vec<Case> {
    use Check::*;
    use Intent::*;
    let mut v = Vec::new();
    let visa = || vec![Filter::eq(Dimension::Network, "visa")];
    let mc = || vec![Filter::eq(Dimension::Network, "mastercard")];
    // Describe: metric words × phrasings × ranges.
    let metrics: [(&str, Vec<Metric>); 16] = [
        ("approval rate", vec![Metric::ApprovalRate]),
        ("aproval rate", vec![Metric::ApprovalRate]),
        ("decline rate", vec![Metric::DeclineRate]),
        ("transaction volume", vec![Metric::TransactionCount, Metric::TransactionAmount]),
        ("number of transactions", vec![Metric::TransactionCount]),
        ("sales", vec![Metric::TransactionAmount]),
        ("average ticket", vec![Metric::AverageTicket]),
        ("settled amount", vec![Metric::SettledAmount]),
        ("interchange fees", vec![Metric::InterchangeFees]),
        ("net settlement", vec![Metric::NetSettlement]),
        ("refunds", vec![Metric::RefundCount, Metric::RefundAmount]),
        ("chargeback rate", vec![Metric::ChargebackRate]),
        ("fraud rate", vec![Metric::FraudRate]),
        ("cross-border share", vec![Metric::CrossBorderShare]),
        ("settlement delay", vec![Metric::SettlementDelayHours]),
        ("txns", vec![Metric::TransactionCount]),
    ];
    let phrasings = [
        "What is the {m} {t}?",
        "{m} {t}",
        "show me the {m} {t}",
        "WHAT'S OUR {M} {T}",
        "{t}, what was the {m}?",
        "give me {m} {t} please",
    ];
    let times = [
        "last week",
        "in October",
        "last 30 days",
        "yesterday",
        "since 2026-10-15",
        "between Oct 5 and Oct 11",
    ];
    for (i, (word, ms)) in metrics.iter().enumerate() {
        for (j, p) in phrasings.iter().enumerate() {
            let t = times[(i + j) % times.len()];
            let text = p
                .replace("{m}", word)
                .replace("{t}", t)
                .replace("{M}", &word.to_uppercase())
                .replace("{T}", &t.to_uppercase());
            v.push(case(text, Describe, t, vec![], Totals(ms.clone())));
        }
    }
    // Describe with filters.
    for (text, filters, ms) in [
        ("Approval rate for Visa last week", visa(), vec![Metric::ApprovalRate]),
        ("approval rate for MC last week", mc(), vec![Metric::ApprovalRate]),
        (
            "Sales in euros last week",
            vec![Filter::eq(Dimension::Currency, "EUR")],
            vec![Metric::TransactionAmount],
        ),
        (
            "contactless approval rate in October",
            vec![Filter::eq(Dimension::EntryMode, "contactless")],
            vec![Metric::ApprovalRate],
        ),
        (
            "decline rate for online payments last week",
            vec![Filter::eq(Dimension::EntryMode, "ecommerce")],
            vec![Metric::DeclineRate],
        ),
        (
            "approval rate of French cards in October",
            vec![Filter::eq(Dimension::IssuerCountry, "FR")],
            vec![Metric::ApprovalRate],
        ),
        (
            "amex transactions last week",
            vec![Filter::eq(Dimension::Network, "amex")],
            vec![Metric::TransactionCount],
        ),
        ("chargebacks for Visa in October", visa(), vec![Metric::ChargebackCount, Metric::ChargebackAmount]),
        (
            "cleared amount in yen last week",
            vec![Filter::eq(Dimension::Currency, "JPY")],
            vec![Metric::ClearedAmount],
        ),
        ("interchange fees for mastercard in October", mc(), vec![Metric::InterchangeFees]),
        (
            "What is the transaction volume?",
            vec![],
            vec![Metric::TransactionCount, Metric::TransactionAmount],
        ),
        ("fraud in October", vec![], vec![Metric::FraudCount, Metric::FraudAmount]),
        (
            "approval rate on weekends in October",
            vec![Filter::one_of(Dimension::DayOfWeek, vec!["saturday".into(), "sunday".into()])],
            vec![Metric::ApprovalRate],
        ),
        (
            "approval rate after 10 PM last week",
            vec![Filter::one_of(Dimension::HourOfDay, vec!["22".into(), "23".into()])],
            vec![Metric::ApprovalRate],
        ),
        (
            "cross-border transactions in October",
            vec![Filter::eq(Dimension::CrossBorder, "true")],
            vec![Metric::TransactionCount],
        ),
        (
            "domestic approval rate in October",
            vec![Filter::eq(Dimension::CrossBorder, "false")],
            vec![Metric::ApprovalRate],
        ),
    ] {
        let phrase = ["last week", "in October"].into_iter().find(|p| text.contains(p)).unwrap_or("");
        v.push(case(text, Describe, phrase, filters, Totals(ms)));
    }
    // Each network, by name and by nickname.
    for (net, name) in [("visa", "Visa"), ("mastercard", "MC"), ("amex", "American Express")] {
        for (word, ms) in [
            ("approval rate", vec![Metric::ApprovalRate]),
            ("sales", vec![Metric::TransactionAmount]),
            ("declines", vec![Metric::DeclinedCount]),
        ] {
            v.push(case(
                format!("{name} {word} in October"),
                Describe,
                "in October",
                vec![Filter::eq(Dimension::Network, net)],
                Totals(ms),
            ));
        }
    }
    for (text, filters) in
        [("How is Visa doing last week?", visa()), ("how is mastercard performing in October", mc())]
    {
        let phrase = if text.contains("October") { "in October" } else { "last week" };
        v.push(case(
            text,
            Describe,
            phrase,
            filters,
            Totals(vec![Metric::TransactionCount, Metric::ApprovalRate, Metric::TransactionAmount]),
        ));
    }
    // Breakdowns.
    for (text, phrase, metric, dim, n) in [
        (
            "Which merchants have the highest chargebacks?",
            "",
            Metric::ChargebackCount,
            Dimension::MerchantId,
            10,
        ),
        (
            "which merchants have the most chargebaks in October",
            "in October",
            Metric::ChargebackCount,
            Dimension::MerchantId,
            10,
        ),
        ("Top 5 decline reasons in October", "in October", Metric::DeclinedCount, Dimension::ResponseCode, 5),
        (
            "top five decline reasons last week",
            "last week",
            Metric::DeclinedCount,
            Dimension::ResponseCode,
            5,
        ),
        ("top 3 decline codes in October", "in October", Metric::DeclinedCount, Dimension::ResponseCode, 3),
        (
            "top 10 merchants by sales last week",
            "last week",
            Metric::TransactionAmount,
            Dimension::MerchantId,
            10,
        ),
        (
            "Top 5 merchants by transactions in October",
            "in October",
            Metric::TransactionCount,
            Dimension::MerchantId,
            5,
        ),
        ("approval rate by network last week", "last week", Metric::ApprovalRate, Dimension::Network, 10),
        ("declines by entry mode in October", "in October", Metric::DeclinedCount, Dimension::EntryMode, 10),
        (
            "transactions by country in October",
            "in October",
            Metric::TransactionCount,
            Dimension::MerchantCountry,
            10,
        ),
        ("sales by currency last week", "last week", Metric::TransactionAmount, Dimension::Currency, 10),
        (
            "chargebacks by reason code in October",
            "in October",
            Metric::ChargebackCount,
            Dimension::ReasonCode,
            10,
        ),
        (
            "which networks have the lowest approval rate in October",
            "in October",
            Metric::ApprovalRate,
            Dimension::Network,
            10,
        ),
        ("fraud by merchant in October", "in October", Metric::FraudCount, Dimension::MerchantId, 10),
        (
            "top 5 merchant categories by sales in October",
            "in October",
            Metric::TransactionAmount,
            Dimension::Mcc,
            5,
        ),
        (
            "approval rate by hour of day last week",
            "last week",
            Metric::ApprovalRate,
            Dimension::HourOfDay,
            10,
        ),
        ("Show me the decline patterns after 10 PM", "", Metric::DeclinedCount, Dimension::ResponseCode, 5),
        ("refunds by merchant last week", "last week", Metric::RefundCount, Dimension::MerchantId, 10),
        (
            "top 5 issuer countries by transactions in October",
            "in October",
            Metric::TransactionCount,
            Dimension::IssuerCountry,
            5,
        ),
        (
            "breakdown of settled amount by network in October",
            "in October",
            Metric::SettledAmount,
            Dimension::Network,
            10,
        ),
    ] {
        let mut filters = vec![];
        if text.contains("10 PM") {
            filters.push(Filter::one_of(Dimension::HourOfDay, vec!["22".into(), "23".into()]));
        }
        v.push(case(text, Breakdown, phrase, filters, Top { metric, dim, n }));
    }
    // Comparisons of entities and periods.
    for (text, phrase, metric, dim) in [
        ("Compare Visa vs Mastercard approval rates", "", Metric::ApprovalRate, Dimension::Network),
        (
            "compare visa and mastercard sales in October",
            "in October",
            Metric::TransactionAmount,
            Dimension::Network,
        ),
        ("visa versus amex decline rate last week", "last week", Metric::DeclineRate, Dimension::Network),
        (
            "compare contactless vs chip approval rate in October",
            "in October",
            Metric::ApprovalRate,
            Dimension::EntryMode,
        ),
        (
            "Mastercard vs Visa chargebacks in October",
            "in October",
            Metric::ChargebackCount,
            Dimension::Network,
        ),
    ] {
        v.push(case(text, Compare, phrase, vec![], Entities { metric, dim }));
    }
    for (text, phrase, previous, metric) in [
        (
            "compare approval rate last week vs the week before",
            "last week",
            range_of("last week").previous(),
            Metric::ApprovalRate,
        ),
        (
            "sales in October compared to September",
            "in October",
            range_of("in September"),
            Metric::TransactionAmount,
        ),
        (
            "approval rate in October vs September",
            "in October",
            range_of("in September"),
            Metric::ApprovalRate,
        ),
        (
            "compare transactions in October with September",
            "in October",
            range_of("in September"),
            Metric::TransactionCount,
        ),
    ] {
        v.push(case(text, Compare, phrase, vec![], Periods { metric, previous }));
    }
    // Trends.
    for (text, phrase, metric, g) in [
        (
            "Show the daily trend of approval rate last month",
            "last month",
            Metric::ApprovalRate,
            Granularity::Day,
        ),
        ("approval rate trend in October", "in October", Metric::ApprovalRate, Granularity::Day),
        (
            "how have transactions trended over the last 30 days",
            "last 30 days",
            Metric::TransactionCount,
            Granularity::Day,
        ),
        ("weekly sales in Q3 2026", "Q3 2026", Metric::TransactionAmount, Granularity::Week),
        ("daily declines last week", "last week", Metric::DeclinedCount, Granularity::Day),
        ("chargeback trend in October", "in October", Metric::ChargebackCount, Granularity::Day),
        ("settled amount per day last week", "last week", Metric::SettledAmount, Granularity::Day),
        ("monthly transactions in Q3 2026", "Q3 2026", Metric::TransactionCount, Granularity::Month),
        ("hourly transactions yesterday", "yesterday", Metric::TransactionCount, Granularity::Hour),
        ("fraud over time in October", "in October", Metric::FraudCount, Granularity::Day),
    ] {
        v.push(case(text, Trend, phrase, vec![], Series { metric, granularity: g }));
    }
    // Why (root cause), with the previous period of equal length.
    for (text, phrase, metric) in [
        ("Why did settlement amounts drop last week?", "last week", Metric::SettledAmount),
        ("why did the approval rate fall last week", "last week", Metric::ApprovalRate),
        ("what caused the drop in sales last week", "last week", Metric::TransactionAmount),
        ("why did declines go up last week", "last week", Metric::DeclinedCount),
        ("explain the change in transactions last week", "last week", Metric::TransactionCount),
        ("why did approvals drop in October", "in October", Metric::ApprovalRate),
    ] {
        let previous = range_of(phrase).previous();
        v.push(case(text, Why, phrase, vec![], Periods { metric, previous }));
    }
    // Anomalies.
    for (text, phrase, metric) in [
        ("Any unusual spikes in declines last month?", "last month", Metric::DeclinedCount),
        ("anomalies in transactions in October", "in October", Metric::TransactionCount),
        ("were there unusual days for chargebacks in October", "in October", Metric::ChargebackCount),
        ("any outliers in approvals last week", "last week", Metric::ApprovedCount),
    ] {
        v.push(case(text, Anomaly, phrase, vec![], Series { metric, granularity: Granularity::Day }));
    }
    // Forecasts.
    for text in [
        "What's the forecast for next month?",
        "forecast sales for next month",
        "predict transactions for the next 14 days",
        "what do we expect for settled amount next week",
    ] {
        v.push(case(text, Intent::Forecast, "", vec![], Check::Forecast));
    }
    // What-if.
    for (text, metric, percent) in [
        ("What if fraud increases 20%?", Metric::FraudCount, 20.0),
        ("what if chargebacks rise 10%", Metric::ChargebackCount, 10.0),
        ("what if approval rate drops 5%", Metric::ApprovalRate, -5.0),
        ("suppose sales grow 15%", Metric::TransactionAmount, 15.0),
        ("what if refunds double by 100%", Metric::RefundCount, 100.0),
    ] {
        v.push(case(text, WhatIf, "", vec![], Scenario { metric, percent }));
    }
    // Reconciliation.
    for (text, phrase) in [
        ("How many authorizations are not settled yet?", ""),
        ("unsettled authorizations in October", "in October"),
        ("reconciliation rate last week", "last week"),
        ("how many transactions are unmatched last week", "last week"),
        ("reconcile October", "in October"),
        ("missing settlements since 2026-10-15", "since 2026-10-15"),
    ] {
        v.push(case(text, Intent::Reconcile, phrase, vec![], Check::Reconcile));
    }
    // Lookups.
    for (text, code) in [
        ("What does response code 51 mean?", "51"),
        ("what does code 05 mean", "05"),
        ("meaning of response code 91", "91"),
        ("define response code 14", "14"),
    ] {
        v.push(case(text, Lookup, "", vec![], CodeUsage(code)));
    }
    for text in [
        "what does reason code 10.4 mean",
        "what is MCC 5812 definition",
        "what does chargeback rate mean",
        "define interchange",
    ] {
        v.push(case(text, Lookup, "", vec![], Nothing));
    }
    // Relationships.
    for text in [
        "Which merchants did our fraud cards have in common before the fraud?",
        "common point of purchase for fraud cards",
        "where were our fraud cards compromised",
        "which merchant is the likely compromise point",
    ] {
        v.push(case(text, Relationship, "", vec![], CommonPoint));
    }
    // Not understood: never numbers.
    for text in [
        "What's the weather in Paris?",
        "tell me a joke",
        "who won the game yesterday",
        "asdfgh qwerty",
        "please order pizza",
    ] {
        v.push(case(text, Unsupported, "", vec![], Nothing));
    }
    v
}

pub fn facts_of(bank: usize) -> Vec<Fact> {
    let data = dataset();
    let b = &data.banks[bank];
    Stage::ALL.iter().flat_map(|s| b.facts(*s, ReportId(uuid::Uuid::nil()), &data.key)).collect()
}

/// The answer's value for `name` with exactly `dims` (and `period`), as display numbers per currency.
fn answer_values(
    a: &Answer,
    name: &str,
    dims: &BTreeMap<String, String>,
    period: Option<&str>,
) -> Vec<(Option<String>, Option<f64>, Option<i64>)> {
    a.metrics
        .iter()
        .filter(|m| {
            m.name == name
                && m.period.as_deref() == period
                && dims.iter().all(|(k, v)| m.dimensions.get(k) == Some(v))
        })
        .filter(|m| {
            m.dimensions.keys().all(|k| k == "merchant_name" || k == "currency" || dims.contains_key(k))
        })
        .map(|m| (m.currency.clone(), m.value, m.minor_units))
        .collect()
}

/// True when the answer's entries equal the naive value.
fn same(
    a: &Answer,
    metric: Metric,
    v: &MetricValue,
    dims: &BTreeMap<String, String>,
    period: Option<&str>,
) -> Result<(), String> {
    let got = answer_values(a, metric.as_str(), dims, period);
    let ok = match v {
        MetricValue::Money { .. } | MetricValue::AverageMoney { .. } => {
            let want: Vec<Money> = v.money();
            want.len() == got.len()
                && want.iter().all(|m| {
                    got.iter().any(|(c, _, minor)| {
                        c.as_deref() == Some(m.currency.code()) && *minor == Some(m.minor)
                    })
                })
        }
        other => {
            got.len() == 1
                && match (other.as_f64(), got[0].1) {
                    (Some(x), Some(y)) => (x - y).abs() < 1e-6,
                    (None, None) => true,
                    _ => false,
                }
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{metric} {dims:?} {period:?}: want {v:?}, got {got:?}"))
    }
}

fn check(c: &Case, a: &Answer, facts: &[Fact]) -> Result<(), String> {
    let none = BTreeMap::new();
    let eval = |q: MetricQuery| naive::evaluate(facts, &q.normalized().unwrap());
    match &c.check {
        Check::Totals(ms) => {
            let rows =
                eval(MetricQuery { filters: c.filters.clone(), ..MetricQuery::new(ms.clone(), c.range) });
            for (m, v) in ms.iter().zip(&rows[0].values) {
                same(a, *m, v, &none, None)?;
            }
        }
        Check::Top { metric, dim, n } => {
            let q = MetricQuery { filters: c.filters.clone(), ..MetricQuery::new([*metric], c.range) }
                .group_by(*dim)
                .top(*metric, *n, !c.text.contains("lowest"));
            let rows = eval(q.clone());
            if rows.is_empty() {
                return Err("no rows expected?".into());
            }
            let nq = q.normalized().unwrap();
            for row in &rows {
                let dims: BTreeMap<String, String> = nq
                    .group_by
                    .iter()
                    .zip(&row.group)
                    .map(|(d, v)| (d.as_str().to_owned(), v.clone().unwrap_or_else(|| "unknown".into())))
                    .collect();
                same(a, *metric, &row.values[0], &dims, None)?;
            }
        }
        Check::Entities { metric, dim } => {
            let values: Vec<String> = a
                .metrics
                .iter()
                .filter_map(|m| m.dimensions.get(dim.as_str()).cloned())
                .filter(|v| !v.contains(" - "))
                .collect();
            if values.len() < 2 {
                return Err(format!("fewer than two entities: {values:?}"));
            }
            for value in values {
                let rows = eval(MetricQuery::new([*metric], c.range).filter(Filter::eq(*dim, value.clone())));
                same(
                    a,
                    *metric,
                    &rows[0].values[0],
                    &BTreeMap::from([(dim.as_str().to_owned(), value)]),
                    None,
                )?;
            }
        }
        Check::Periods { metric, previous } => {
            for (range, period) in [(c.range, "current"), (*previous, "previous")] {
                let rows =
                    eval(MetricQuery { filters: c.filters.clone(), ..MetricQuery::new([*metric], range) });
                same(a, *metric, &rows[0].values[0], &none, Some(period))?;
            }
        }
        Check::Series { metric, granularity } => {
            let rows = eval(MetricQuery::new([*metric], c.range).granularity(*granularity));
            let series: Vec<_> = a.series.iter().filter(|s| s.metric == metric.as_str()).collect();
            if series.is_empty() {
                return Err("no series".into());
            }
            for row in rows {
                let t = row.bucket.unwrap();
                let v = &row.values[0];
                let found = series.iter().any(|s| {
                    s.points.iter().any(|p| {
                        p.t == t
                            && match v {
                                MetricValue::Money { .. } => v.money().iter().any(|m| {
                                    s.currency.as_deref() == Some(m.currency.code())
                                        && p.minor_units == Some(m.minor)
                                }),
                                other => match (other.as_f64(), p.value) {
                                    (Some(x), Some(y)) => (x - y).abs() < 1e-6,
                                    (None, None) => true,
                                    _ => false,
                                },
                            }
                    })
                });
                if !found {
                    return Err(format!("series point {t} {v:?} missing"));
                }
            }
        }
        Check::Reconcile => {
            let rows = eval(MetricQuery::new(
                [Metric::UnmatchedAuthCount, Metric::ReconciliationRate, Metric::SettlementDelayHours],
                c.range,
            ));
            for (m, v) in
                [Metric::UnmatchedAuthCount, Metric::ReconciliationRate, Metric::SettlementDelayHours]
                    .iter()
                    .zip(&rows[0].values)
            {
                same(a, *m, v, &none, None)?;
            }
        }
        Check::CodeUsage(code) => {
            let rows = eval(
                MetricQuery::new([Metric::TransactionCount], c.range)
                    .filter(Filter::eq(Dimension::ResponseCode, *code)),
            );
            same(
                a,
                Metric::TransactionCount,
                &rows[0].values[0],
                &BTreeMap::from([("response_code".to_owned(), (*code).to_owned())]),
                None,
            )?;
        }
        Check::Scenario { metric, percent } => {
            let rows = eval(MetricQuery::new([*metric], c.range));
            same(a, *metric, &rows[0].values[0], &none, Some("baseline"))?;
            let base = rows[0].values[0]
                .as_f64()
                .or_else(|| rows[0].values[0].money().first().map(|m| m.major_units_for_display()))
                .unwrap_or(0.0);
            let scenario = answer_values(a, metric.as_str(), &none, Some("scenario"));
            let expected = if metric.unit() == Unit::Ratio {
                (base * (1.0 + percent / 100.0)).min(1.0)
            } else {
                base * (1.0 + percent / 100.0)
            };
            let hit = scenario
                .iter()
                .any(|(_, v, _)| v.is_some_and(|v| (v - expected).abs() <= expected.abs() * 1e-6 + 0.01));
            if !hit {
                return Err(format!("scenario {metric}: want {expected}, got {scenario:?}"));
            }
        }
        Check::CommonPoint => {
            let top = a
                .metrics
                .iter()
                .find(|m| m.name == "common_point_lift")
                .and_then(|m| m.dimensions.get("merchant_id").cloned());
            if top.as_deref() != Some(dataset().banks[0].compromised_merchant.as_str()) {
                return Err(format!("top merchant {top:?}"));
            }
        }
        Check::Forecast => {
            let f = a.forecast.as_ref().ok_or("no forecast")?;
            if f.points.is_empty() || f.total < 0.0 || !(f.total_lower <= f.total && f.total <= f.total_upper)
            {
                return Err(format!("implausible forecast {f:?}"));
            }
        }
        Check::Nothing => {
            if c.intent == Intent::Unsupported && (!a.metrics.is_empty() || a.confidence > 0.3) {
                return Err("an unsupported question got numbers".into());
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluation_set_is_answered_exactly() {
    let engine = engine().await;
    let ctx = analyst(0);
    let facts = facts_of(0);
    let cases = cases();
    assert!(cases.len() >= 200, "{} questions", cases.len());
    let mut by_intent: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for c in &cases {
        let a = engine.ask(&ctx, Query::new(c.text.clone()).as_of(as_of())).await.unwrap();
        let e = by_intent.entry(c.intent.as_str()).or_default();
        e.0 += 1;
        if a.intent == c.intent {
            e.1 += 1;
            match check(c, &a, &facts) {
                Ok(()) => e.2 += 1,
                Err(why) => failures.push(format!("{}: {why}\n    summary: {}", c.text, a.summary)),
            }
        } else {
            failures.push(format!(
                "{}: intent {} instead of {}",
                c.text,
                a.intent.as_str(),
                c.intent.as_str()
            ));
        }
        // The question's numbers and those of its interpretation (`top 10`) may be quoted.
        let asked = format!("{} {}", c.text, a.interpretation.as_ref().map_or("", |i| i.text.as_str()));
        let g = payscope_core::query::answer::Grounding::of(&a, &asked);
        assert!(g.ungrounded(&a.summary).is_empty(), "{}: ungrounded {:?}", c.text, g.ungrounded(&a.summary));
    }
    let mut table =
        String::from("| intent | questions | intent correct | values correct |\n|---|---|---|---|\n");
    let (mut n, mut i, mut ok) = (0, 0, 0);
    for (intent, (q, good_intent, good)) in &by_intent {
        table.push_str(&format!("| {intent} | {q} | {good_intent} | {good} |\n"));
        n += q;
        i += good_intent;
        ok += good;
    }
    table.push_str(&format!(
        "| **all** | **{n}** | **{i} ({:.1}%)** | **{ok} ({:.1}%)** |\n",
        100.0 * i as f64 / n as f64,
        100.0 * ok as f64 / n as f64
    ));
    let _ = std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../target"));
    let _ = std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/eval.md"), &table);
    println!("{table}");
    assert!(failures.is_empty(), "{} of {n} failed:\n{}", failures.len(), failures.join("\n"));
}
