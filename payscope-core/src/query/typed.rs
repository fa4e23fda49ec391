//! The typed query (docs/query.md): what a question means, whoever wrote it — the parser, a
//! language model, or a client of `POST /query`. It is validated into the [`Question`] the
//! agents receive, and every answer restates it (`interpretation`), so what was computed can be
//! read, corrected and sent again.

use serde::{Deserialize, Serialize};

use super::question::{Comparison, Intent, LookupTarget, Question, RelationshipTarget, Scenario};
use super::time::{resolve_fallback, TimeRangeSpec, TimeSpec};
use crate::calendar::{Date, TimeRange, Timestamp, MS_PER_DAY};
use crate::error::{Error, Result};
use crate::money::{Currency, Money};
use crate::store::metric::{
    validate_filter_value, AmountCondition, AmountOp, Dimension, Filter, Granularity, Having, Metric,
    MetricQuery, Order, Unit, WEEKDAYS,
};

/// A typed query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypedQuery {
    /// The kind of analysis (any intent but `clarify` and `unsupported`).
    pub analysis: Intent,
    /// The metrics (none for reconcile, lookup and relationship).
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// Conditions on dimensions; all must hold.
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Conditions on each transaction's amount; all must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amount: Vec<AmountThreshold>,
    /// The period (default: the 30 days before `as_of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Window>,
    /// Group by these dimensions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<Dimension>,
    /// Time buckets of a series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Granularity>,
    /// The order of the groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// How many groups to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<usize>,
    /// Conditions on each group, before ranking.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub having: Vec<Having>,
    /// What to compare with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareWith>,
    /// The change a what-if simulates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<Scenario>,
    /// What a lookup is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<LookupTarget>,
    /// What a relationship question is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<RelationshipTarget>,
    /// Where relative periods end (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<Timestamp>,
}

/// How a dimension condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionOp {
    /// Equal to `value`.
    Eq,
    /// Not equal to `value` (facts without the attribute included).
    Ne,
    /// One of `values`.
    In,
    /// None of `values` (facts without the attribute included).
    NotIn,
}

/// A condition on a dimension (`network ne visa`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The dimension.
    pub dimension: Dimension,
    /// The comparison.
    pub op: ConditionOp,
    /// The value, for `eq` and `ne`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The values, for `in` and `not_in`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A decimal as JSON carries it: a string (exact) or a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Decimal {
    /// `"100.00"`.
    Text(String),
    /// `100`.
    Number(serde_json::Number),
}

/// A condition on each transaction's amount (`gt 100.00 USD`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountThreshold {
    /// The comparison.
    pub op: AmountOp,
    /// The threshold in major units (`"100.00"`).
    pub value: Decimal,
    /// Its currency (ISO 4217); transactions in other currencies never match.
    pub currency: String,
}

/// A period: a named range ending at `as_of`, or `from`/`to` — dates (`to` inclusive) or RFC 3339
/// instants (`to` exclusive) — plus optional weekdays and hours of the UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// `7d`, `30d`, `90d`, `1y`, `mtd`, `qtd`, `ytd` or `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// First day or instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Last day (inclusive) or end instant (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Only these days of the week (`saturday`, `sunday`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weekdays: Vec<String>,
    /// Only these hours of the UTC day (0–23).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<u8>,
}

/// What to compare with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CompareWith {
    /// The period against an earlier one (default: the one just before, of the same length).
    Periods {
        /// The earlier period.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<Window>,
    },
    /// Values of a dimension side by side (every value when `values` is empty).
    Entities {
        /// The dimension.
        dimension: Dimension,
        /// Its values.
        #[serde(default)]
        values: Vec<String>,
    },
}

/// A plain date (`2026-10-19`).
fn date_of(s: &str) -> Option<Date> {
    (s.len() == 10).then(|| Timestamp::parse_rfc3339(s).ok().map(|t| t.date())).flatten()
}

fn invalid(why: impl Into<String>) -> Error {
    Error::invalid("invalid_request", why)
}

/// Analyses that compute metrics over facts, and so need at least one.
fn needs_metrics(a: Intent) -> bool {
    !matches!(a, Intent::Reconcile | Intent::Lookup | Intent::Relationship)
}

impl Window {
    /// The window of a resolved range: dates when it is whole days, else instants.
    fn of(range: TimeRange) -> Window {
        let whole = |t: Timestamp| t.0.rem_euclid(MS_PER_DAY) == 0;
        let (from, to) = if whole(range.from) && whole(range.to) && range.to > range.from {
            (range.from.date().to_string(), range.to.date().add_days(-1).to_string())
        } else {
            (range.from.to_string(), range.to.to_string())
        };
        Window { from: Some(from), to: Some(to), ..Window::default() }
    }

    /// The range, resolved against `as_of`.
    fn resolve(&self, as_of: Timestamp) -> Result<TimeSpec> {
        match (&self.range, &self.from, &self.to) {
            (Some(name), None, None) => resolve_fallback(&TimeRangeSpec::Named(name.clone()), as_of)
                .map_err(|e| invalid(e.public_message().replace("time_range", "time.range"))),
            (None, Some(from), Some(to)) => {
                let range = match (date_of(from), date_of(to)) {
                    (Some(f), Some(t)) => TimeRange::days(f, t.add_days(1)),
                    _ => {
                        let at = |s: &str| {
                            Timestamp::parse_rfc3339(s).map_err(|_| {
                                invalid(format!(
                                    "time `{s}` is neither a date (YYYY-MM-DD) nor an RFC 3339 instant; give both `from` and `to` in one of these forms"
                                ))
                            })
                        };
                        TimeRange::new(at(from)?, at(to)?)
                    }
                };
                if range.to <= range.from {
                    return Err(invalid(format!("time ends ({to}) before it starts ({from})")));
                }
                Ok(TimeSpec {
                    range,
                    phrase: format!("{from} to {to}"),
                    hours: vec![],
                    weekdays: vec![],
                    explicit: true,
                    future: false,
                    versus: None,
                })
            }
            (None, None, None) => resolve_fallback(&TimeRangeSpec::default(), as_of),
            _ => Err(invalid("time needs either `range` or both `from` and `to`")),
        }
    }
}

impl Condition {
    /// The filter the condition is.
    fn filter(&self) -> Result<Filter> {
        let values = match (self.op, &self.value, self.values.as_slice()) {
            (ConditionOp::Eq | ConditionOp::Ne, Some(v), []) => vec![v.clone()],
            (ConditionOp::In | ConditionOp::NotIn, None, vs) if !vs.is_empty() => vs.to_vec(),
            (ConditionOp::Eq | ConditionOp::Ne, _, _) => {
                return Err(invalid(format!(
                    "condition on {}: `eq` and `ne` take one `value` (use `in`/`not_in` with `values` for several)",
                    self.dimension
                )))
            }
            _ => {
                return Err(invalid(format!(
                    "condition on {}: `in` and `not_in` take a non-empty `values` list",
                    self.dimension
                )))
            }
        };
        for v in &values {
            validate_filter_value(self.dimension, v).map_err(|e| invalid(e.public_message()))?;
        }
        Ok(Filter {
            dimension: self.dimension,
            values,
            exclude: matches!(self.op, ConditionOp::Ne | ConditionOp::NotIn),
        })
    }

    /// The condition a filter is.
    fn of(f: &Filter) -> Condition {
        let (op, value, values) = match (f.exclude, f.values.as_slice()) {
            (false, [v]) => (ConditionOp::Eq, Some(v.clone()), vec![]),
            (true, [v]) => (ConditionOp::Ne, Some(v.clone()), vec![]),
            (false, vs) => (ConditionOp::In, None, vs.to_vec()),
            (true, vs) => (ConditionOp::NotIn, None, vs.to_vec()),
        };
        Condition { dimension: f.dimension, op, value, values }
    }
}

impl AmountThreshold {
    fn condition(&self) -> Result<AmountCondition> {
        let currency = Currency::from_code(self.currency.trim()).ok_or_else(|| {
            invalid(format!("amount currency `{}` is not an ISO 4217 code (USD, EUR, ...)", self.currency))
        })?;
        let text = match &self.value {
            Decimal::Text(t) => t.clone(),
            Decimal::Number(n) => n.to_string(),
        };
        let value = Money::parse_decimal(&text, currency).map_err(|e| invalid(e.public_message()))?;
        Ok(AmountCondition { op: self.op, value })
    }

    fn of(c: &AmountCondition) -> AmountThreshold {
        AmountThreshold {
            op: c.op,
            value: Decimal::Text(c.value.format_decimal()),
            currency: c.value.currency.code().to_owned(),
        }
    }
}

impl TypedQuery {
    /// A query of one analysis over `metrics`, everything else defaulted.
    pub fn new(analysis: Intent, metrics: impl Into<Vec<Metric>>) -> TypedQuery {
        TypedQuery {
            analysis,
            metrics: metrics.into(),
            conditions: vec![],
            amount: vec![],
            time: None,
            group_by: vec![],
            granularity: None,
            order: None,
            top_n: None,
            having: vec![],
            compare: None,
            scenario: None,
            lookup: None,
            relationship: None,
            as_of: None,
        }
    }

    /// The typed form of a question (what `interpretation.query` shows).
    pub fn of(q: &Question) -> TypedQuery {
        let mut time = Window::of(q.time.range);
        let mut conditions = Vec::new();
        for f in &q.filters {
            match (f.dimension, f.exclude) {
                (Dimension::DayOfWeek, false) if time.weekdays.is_empty() => time.weekdays = f.values.clone(),
                (Dimension::HourOfDay, false) if time.hours.is_empty() => {
                    time.hours = f.values.iter().filter_map(|h| h.parse().ok()).collect()
                }
                _ => conditions.push(Condition::of(f)),
            }
        }
        let compare = match (&q.compare, &q.time.versus) {
            (Some(Comparison::Entities { dimension, values }), _) => {
                Some(CompareWith::Entities { dimension: *dimension, values: values.clone() })
            }
            (Some(Comparison::Periods { previous, .. }), _) | (None, Some(previous)) => {
                Some(CompareWith::Periods { previous: Some(Window::of(*previous)) })
            }
            (None, None) => None,
        };
        TypedQuery {
            conditions,
            amount: q.amount.iter().map(AmountThreshold::of).collect(),
            time: Some(time),
            group_by: q.group_by.clone(),
            granularity: q.granularity,
            order: q.order,
            top_n: q.top_n,
            having: q.having.clone(),
            compare,
            scenario: q.scenario.clone(),
            lookup: q.lookup.clone(),
            relationship: q.relationship.clone(),
            as_of: Some(q.as_of),
            ..TypedQuery::new(q.intent, q.metrics.clone())
        }
    }

    /// Checks the query and resolves it into the question the agents receive, as of `now`
    /// when the query names no `as_of`. Every error says what is wrong and how to put it right.
    pub fn resolve(&self, now: Timestamp) -> Result<Question> {
        let analysis = self.analysis;
        if matches!(analysis, Intent::Clarify | Intent::Unsupported) {
            return Err(invalid(format!(
                "analysis `{}` is an outcome, not a question; ask for one of describe, trend, compare, breakdown, why, anomaly, forecast, what_if, reconcile, lookup, relationship",
                analysis.as_str()
            )));
        }
        let as_of = self.as_of.unwrap_or(now);
        let mut metrics: Vec<Metric> = Vec::new();
        for m in &self.metrics {
            if !metrics.contains(m) {
                metrics.push(*m);
            }
        }
        if needs_metrics(analysis) && metrics.is_empty() {
            return Err(invalid(format!(
                "a {} query needs at least one metric in `metrics` (for example \"approval_rate\")",
                analysis.as_str()
            )));
        }
        self.check_analysis(&metrics)?;
        let window = self.time.clone().unwrap_or_default();
        let mut time = window.resolve(as_of)?;
        time.future = time.range.to > as_of;
        let mut filters = self.conditions.iter().map(Condition::filter).collect::<Result<Vec<_>>>()?;
        if let Some(bad) = window.weekdays.iter().find(|w| !WEEKDAYS.contains(&w.as_str())) {
            return Err(invalid(format!("time.weekdays: `{bad}` is not a day (monday … sunday)")));
        }
        if let Some(bad) = window.hours.iter().find(|h| **h > 23) {
            return Err(invalid(format!("time.hours: {bad} is not an hour of the day (0–23)")));
        }
        time.weekdays = window
            .weekdays
            .iter()
            .filter_map(|w| WEEKDAYS.iter().position(|d| d == w))
            .map(|i| i as u8)
            .collect();
        time.hours = window.hours.clone();
        if !window.weekdays.is_empty() {
            filters.push(Filter::one_of(Dimension::DayOfWeek, window.weekdays.clone()));
        }
        if !window.hours.is_empty() {
            filters.push(Filter::one_of(
                Dimension::HourOfDay,
                window.hours.iter().map(|h| h.to_string()).collect(),
            ));
        }
        let amount = self.amount.iter().map(AmountThreshold::condition).collect::<Result<Vec<_>>>()?;
        check_amount_currency(&amount, &filters)?;
        let compare = match &self.compare {
            Some(CompareWith::Entities { dimension, values }) => {
                Some(Comparison::Entities { dimension: *dimension, values: values.clone() })
            }
            Some(CompareWith::Periods { previous }) => {
                let previous = match previous {
                    Some(w) => w.resolve(as_of)?.range,
                    None => time.range.previous(),
                };
                if analysis == Intent::Compare {
                    Some(Comparison::Periods { current: time.range, previous })
                } else {
                    time.versus = Some(previous);
                    None
                }
            }
            None if analysis == Intent::Compare => {
                Some(Comparison::Periods { current: time.range, previous: time.range.previous() })
            }
            None => None,
        };
        if analysis == Intent::Compare {
            if let Some(Comparison::Periods { previous, .. }) = compare {
                time.versus = Some(previous);
            }
        }
        if analysis == Intent::Why && time.versus.is_none() {
            time.versus = Some(time.range.previous());
        }
        let question = Question {
            text: String::new(),
            intent: analysis,
            metrics,
            filters,
            amount,
            group_by: self.group_by.clone(),
            top_n: self.top_n,
            missing: vec![],
            having: self.having.clone(),
            order: self.order.or_else(|| {
                (analysis == Intent::Breakdown).then(|| Order { metric: self.metrics[0], descending: true })
            }),
            as_of,
            time,
            compare,
            granularity: self.granularity,
            scenario: self.scenario.clone(),
            lookup: self.lookup.clone(),
            relationship: self.relationship.clone(),
            not_understood: vec![],
            refused: None,
            confidence: 0.99,
        };
        // The metric engine's own checks (group-by limits, group conditions, currencies).
        let grouped = MetricQuery {
            group_by: question.group_by.clone(),
            having: question.having.clone(),
            ..question.metric_query(question.metrics.clone(), question.time.range)
        };
        if needs_metrics(analysis) {
            grouped.normalized().map_err(|e| invalid(e.public_message()))?;
        }
        Ok(question)
    }

    /// What the analysis needs besides its metrics, and the metrics it can compute.
    fn check_analysis(&self, metrics: &[Metric]) -> Result<()> {
        let a = self.analysis;
        // Anomalies judge counts and proportions day by day; a mean or an amount is neither.
        let not_judged: Vec<&str> = metrics
            .iter()
            .filter(|m| !matches!(m.unit(), Unit::Count | Unit::Ratio))
            .map(|m| m.as_str())
            .collect();
        match a {
            Intent::Breakdown if self.group_by.is_empty() => {
                Err(invalid("a breakdown needs a dimension in `group_by` (for example \"merchant_id\")"))
            }
            Intent::WhatIf if self.scenario.is_none() => Err(invalid(
                "a what_if query needs a `scenario` ({\"metric\": \"fraud_count\", \"percent\": 100} doubles fraud)",
            )),
            Intent::WhatIf if self.scenario.as_ref().is_some_and(|s| s.bps.is_some() && s.metric != Metric::InterchangeFees) => {
                Err(invalid("basis points change a fee (interchange_fees); for a rate give `points`, else `percent`"))
            }
            Intent::WhatIf if self.scenario.as_ref().is_some_and(|s| s.bps.is_some_and(|b| !b.is_finite())) => {
                Err(invalid("a scenario's `bps` must be a number"))
            }
            Intent::WhatIf
                if self.scenario.as_ref().is_some_and(|s| {
                    [s.percent, s.points, s.bps, s.absolute].iter().filter(|v| v.is_some()).count() != 1
                }) =>
            {
                Err(invalid(
                    "a scenario changes by `percent`, by `points` (a rate), by `bps` (a fee) or by `absolute` (a count), exactly one of them",
                ))
            }
            Intent::WhatIf
                if self.scenario.as_ref().is_some_and(|s| s.absolute.is_some() && s.metric.unit() != Unit::Count) =>
            {
                Err(invalid("an `absolute` change is a number of events and changes a count; for a rate give `points`, for an amount `percent`"))
            }
            Intent::WhatIf => match self.scenario.as_ref().map(|s| (s.metric, s.percent, s.points, s.bps)) {
                Some((m, None, Some(_), _)) if m.unit() != Unit::Ratio => Err(invalid(format!(
                    "percentage points change a rate; {m} is not one: give the change in `percent`"
                ))),
                Some((_, Some(p), _, _)) if !p.is_finite() || p < -100.0 => {
                    Err(invalid("a scenario's `percent` must be a number of at least -100"))
                }
                _ => Ok(()),
            },
            Intent::Lookup if self.lookup.is_none() => {
                Err(invalid("a lookup needs `lookup` ({\"kind\": \"response_code\", \"code\": \"05\"})"))
            }
            Intent::Relationship if self.relationship.is_none() => Err(invalid(
                "a relationship query needs `relationship` ({\"kind\": \"common_point_of_purchase\"})",
            )),
            Intent::Anomaly if !not_judged.is_empty() => Err(invalid(format!(
                "anomaly detection judges counts and rates day by day, not {}: ask for a count or a rate (transaction_count, fraud_rate, ...)",
                not_judged.join(", ")
            ))),
            _ if self.top_n == Some(0) => Err(invalid("`top_n` must be at least 1")),
            _ if (self.order.is_some() || self.top_n.is_some()) && self.group_by.is_empty() => {
                Err(invalid("`order` and `top_n` rank groups: add a dimension to `group_by`"))
            }
            _ => Ok(()),
        }
    }
}

/// Amount thresholds in one currency that a currency condition would leave without facts.
fn check_amount_currency(amount: &[AmountCondition], filters: &[Filter]) -> Result<()> {
    let Some(first) = amount.first() else { return Ok(()) };
    let code = first.value.currency.code();
    let excluded = filters
        .iter()
        .any(|f| f.dimension == Dimension::Currency && (f.values.iter().any(|v| v == code) == f.exclude));
    if excluded {
        return Err(invalid(format!(
            "the amount threshold is in {code} but the currency condition leaves no {code} transactions; put the threshold in the currency kept"
        )));
    }
    Ok(())
}

/// `2026-10-19 – 2026-10-25` (whole days) or `2026-10-19T10:00:00Z – …`.
pub fn period_text(range: TimeRange) -> String {
    let w = Window::of(range);
    match (w.from, w.to) {
        (Some(a), Some(b)) if a == b => a,
        (Some(a), Some(b)) => format!("{a} – {b}"),
        _ => String::new(),
    }
}

fn condition_text(f: &Filter) -> String {
    let d = f.dimension.as_str().replace('_', " ");
    match (f.exclude, f.values.as_slice()) {
        (false, [v]) => format!("{d} is {v}"),
        (true, [v]) => format!("{d} is not {v}"),
        (false, vs) => format!("{d} is one of {}", vs.join(", ")),
        (true, vs) => format!("{d} is none of {}", vs.join(", ")),
    }
}

fn metrics_text(metrics: &[Metric]) -> String {
    let mut names: Vec<String> = metrics.iter().map(|m| m.label()).collect();
    if let Some(first) = names.first_mut() {
        let mut c = first.chars();
        *first = c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default();
    }
    names.join(", ")
}

/// The canonical English restatement of a question's typed form.
fn restate(q: &Question) -> String {
    let metrics = metrics_text(&q.metrics);
    let head = match (q.intent, &q.lookup, &q.relationship) {
        (Intent::Describe, _, _) => metrics,
        (Intent::Trend, _, _) => format!("Trend of {}", metrics.to_lowercase()),
        (Intent::Compare, _, _) => format!("Comparison of {}", metrics.to_lowercase()),
        (Intent::Breakdown, _, _) => format!("Breakdown of {}", metrics.to_lowercase()),
        (Intent::Why, _, _) => format!("Why {} changed", metrics.to_lowercase()),
        (Intent::Anomaly, _, _) => format!("Unusual days of {}", metrics.to_lowercase()),
        (Intent::Forecast, _, _) => format!("Forecast of {}", metrics.to_lowercase()),
        (Intent::WhatIf, _, _) => match &q.scenario {
            Some(s) => format!("What if {} {}", s.metric.label(), s.change_text()),
            None => "What if".to_owned(),
        },
        (Intent::Reconcile, _, _) => {
            "Reconciliation of authorizations with clearing and settlement".to_owned()
        }
        (Intent::Lookup, Some(target), _) => format!("Definition of {}", lookup_text(target)),
        (Intent::Relationship, _, Some(RelationshipTarget::CommonPointOfPurchase)) => {
            "Common point of purchase of fraud cards".to_owned()
        }
        (Intent::Relationship, _, Some(RelationshipTarget::Merchant { merchant_id })) => {
            format!("Networks and cards of merchant {merchant_id}")
        }
        (intent, _, _) => format!("{} ({})", metrics, intent.as_str()),
    };
    let mut parts = vec![head];
    let conditions: Vec<String> = q
        .filters
        .iter()
        .map(condition_text)
        .chain(q.amount.iter().map(|a| format!("amount {}", a.text())))
        .collect();
    if !conditions.is_empty() {
        parts.push(format!("where {}", conditions.join(" and ")));
    }
    if q.intent != Intent::Lookup {
        parts.push(period_text(q.time.range));
    }
    if !q.group_by.is_empty() {
        let dims: Vec<String> = q.group_by.iter().map(|d| d.as_str().replace('_', " ")).collect();
        parts.push(format!("by {}", dims.join(", ")));
    }
    if let Some(g) =
        q.granularity.filter(|_| matches!(q.intent, Intent::Trend | Intent::Anomaly | Intent::Forecast))
    {
        parts.push(format!("per {g}"));
    }
    for h in q.having.iter().filter(|h| h.min.is_some() || h.max.is_some()) {
        parts.push(format!("only groups with {}", h.text()));
    }
    if let Some(o) = q.order {
        let n = q.top_n.map(|n| format!(" {n}")).unwrap_or_default();
        parts.push(format!("{}{n} by {}", if o.descending { "top" } else { "bottom" }, o.metric.label()));
    }
    match (&q.compare, &q.time.versus) {
        (Some(Comparison::Entities { dimension, values }), _) if values.is_empty() => {
            parts.push(format!("each {} side by side", dimension.as_str().replace('_', " ")))
        }
        (Some(Comparison::Entities { dimension, values }), _) => parts.push(format!(
            "{} {} side by side",
            dimension.as_str().replace('_', " "),
            values.join(" vs ")
        )),
        (Some(Comparison::Periods { previous, .. }), _) | (None, Some(previous)) => {
            parts.push(format!("against {}", period_text(*previous)))
        }
        (None, None) => {}
    }
    parts.join(", ")
}

fn lookup_text(t: &LookupTarget) -> String {
    match t {
        LookupTarget::ResponseCode(c) => format!("response code {c}"),
        LookupTarget::ReasonCode(c) => format!("reason code {c}"),
        LookupTarget::Mcc(c) => format!("MCC {c}"),
        LookupTarget::Term(t) => t.clone(),
    }
}

impl Question {
    /// A metric query for `metrics` over `range` restricted like the question: its filters and
    /// amount conditions (no grouping).
    pub fn metric_query(&self, metrics: impl Into<Vec<Metric>>, range: TimeRange) -> MetricQuery {
        MetricQuery {
            filters: self.filters.clone(),
            amount: self.amount.clone(),
            ..MetricQuery::new(metrics, range)
        }
    }

    /// What was computed, in words (`interpretation.text`).
    pub fn restatement(&self) -> String {
        restate(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-01T00:00:00Z").unwrap()
    }

    fn query(json: serde_json::Value) -> TypedQuery {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_query_resolves_restates_and_reads_back_the_same() {
        let q = query(serde_json::json!({
            "analysis": "breakdown",
            "metrics": ["approval_rate"],
            "where": [{"dimension": "network", "op": "ne", "value": "visa"}],
            "amount": [{"op": "gte", "value": 100, "currency": "USD"}],
            "time": {"from": "2026-10-19", "to": "2026-10-25", "weekdays": ["monday"]},
            "group_by": ["merchant_id"],
            "top_n": 5,
            "having": [{"metric": "transaction_count", "min": 100}],
        }));
        let resolved = q.resolve(now()).unwrap();
        assert_eq!(
            resolved.time.range,
            TimeRange::days(Date::from_ymd(2026, 10, 19).unwrap(), Date::from_ymd(2026, 10, 26).unwrap())
        );
        assert_eq!(resolved.amount[0].value, Money::new(10_000, Currency::USD));
        assert_eq!(resolved.order, Some(Order { metric: Metric::ApprovalRate, descending: true }));
        assert_eq!(
            resolved.restatement(),
            "Breakdown of approval rate, where network is not visa and day of week is monday and amount at least 100.00 USD, \
             2026-10-19 – 2026-10-25, by merchant id, only groups with transaction count at least 100, top 5 by approval rate"
        );
        // The typed form of the resolved question resolves to the same question.
        let again = TypedQuery::of(&resolved).resolve(now()).unwrap();
        assert_eq!(again, resolved);
    }

    #[test]
    fn periods_instants_and_named_ranges() {
        let instant = query(serde_json::json!({"analysis": "describe", "metrics": ["transaction_count"],
            "time": {"from": "2026-10-01T06:00:00Z", "to": "2026-10-01T18:00:00Z"}}));
        let r = instant.resolve(now()).unwrap().time.range;
        assert_eq!(r.len_millis(), 12 * 3_600_000);
        assert_eq!(period_text(r), "2026-10-01T06:00:00Z – 2026-10-01T18:00:00Z");
        let named = query(
            serde_json::json!({"analysis": "describe", "metrics": ["transaction_count"], "time": {"range": "qtd"}}),
        );
        assert_eq!(period_text(named.resolve(now()).unwrap().time.range), "2026-10-01 – 2026-10-31");
        let compare = query(serde_json::json!({"analysis": "compare", "metrics": ["transaction_count"],
            "time": {"from": "2026-10-01", "to": "2026-10-31"}, "compare": {"kind": "periods"}}));
        let q = compare.resolve(now()).unwrap();
        assert_eq!(q.time.versus.map(period_text).as_deref(), Some("2026-08-31 – 2026-09-30"));
    }

    #[test]
    fn queries_that_cannot_be_answered_as_given_say_why() {
        for (json, says) in [
            (
                serde_json::json!({"analysis": "anomaly", "metrics": ["transaction_amount"]}),
                "count or a rate",
            ),
            (
                serde_json::json!({"analysis": "what_if", "metrics": ["fraud_count"],
                "scenario": {"metric": "fraud_count", "points": 5}}),
                "percentage points change a rate",
            ),
            (
                serde_json::json!({"analysis": "what_if", "metrics": ["fraud_count"],
                "scenario": {"metric": "fraud_count", "percent": 5, "points": 1}}),
                "exactly one",
            ),
            (
                serde_json::json!({"analysis": "what_if", "metrics": ["fraud_rate"],
                "scenario": {"metric": "fraud_rate", "bps": 10}}),
                "basis points change a fee",
            ),
            (
                serde_json::json!({"analysis": "what_if", "metrics": ["approval_rate"],
                "scenario": {"metric": "approval_rate", "absolute": 10}}),
                "changes a count",
            ),
            (
                serde_json::json!({"analysis": "describe", "metrics": ["transaction_count"],
                "where": [{"dimension": "currency", "op": "eq", "value": "EUR"}],
                "amount": [{"op": "gt", "value": "10", "currency": "USD"}]}),
                "leaves no USD",
            ),
            (
                serde_json::json!({"analysis": "describe", "metrics": ["transaction_count"], "time": {"from": "2026-10-01"}}),
                "both `from` and `to`",
            ),
            (
                serde_json::json!({"analysis": "describe", "metrics": ["transaction_count"], "time": {"range": "2w"}}),
                "time.range",
            ),
            (
                serde_json::json!({"analysis": "breakdown", "metrics": ["approval_rate"], "group_by": ["network"],
                "having": [{"metric": "approval_rate", "min": 80}]}),
                "write 80% as 0.8",
            ),
        ] {
            let e = query(json.clone()).resolve(now()).unwrap_err();
            assert!(e.public_message().contains(says), "{json}: {}", e.public_message());
        }
    }
}
