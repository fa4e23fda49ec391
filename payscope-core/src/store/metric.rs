//! The metric semantic layer (docs/questions.md): metric and dimension names, [`MetricQuery`] and
//! [`MetricResult`]. Every backend answers the same query with the same exact numbers.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::calendar::{Date, TimeRange, Timestamp};
use crate::error::{Error, Result};
use crate::facts::Stage;
use crate::money::{Currency, Money};

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable snake_case name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    Error::invalid("invalid_request", format!("unknown {} `{}`", stringify!($name).to_lowercase(), s))
                })
            }
        }
    };
}

named_enum! {
    /// A metric of the semantic layer.
    Metric {
        /// AUTH facts (attempts).
        TransactionCount = "transaction_count",
        /// Approved AUTH facts.
        ApprovedCount = "approved_count",
        /// Declined AUTH facts.
        DeclinedCount = "declined_count",
        /// approved / attempts.
        ApprovalRate = "approval_rate",
        /// declined / attempts.
        DeclineRate = "decline_rate",
        /// Amount of approved AUTH facts, per currency.
        TransactionAmount = "transaction_amount",
        /// transaction_amount / approved_count, per currency.
        AverageTicket = "average_ticket",
        /// CLEARING facts.
        ClearedCount = "cleared_count",
        /// Amount of CLEARING facts.
        ClearedAmount = "cleared_amount",
        /// SETTLEMENT facts.
        SettledCount = "settled_count",
        /// Amount of SETTLEMENT facts.
        SettledAmount = "settled_amount",
        /// Interchange fees of CLEARING facts.
        InterchangeFees = "interchange_fees",
        /// SETTLEMENT amount minus its interchange fee.
        NetSettlement = "net_settlement",
        /// REFUND facts.
        RefundCount = "refund_count",
        /// Amount of REFUND facts.
        RefundAmount = "refund_amount",
        /// CHARGEBACK facts.
        ChargebackCount = "chargeback_count",
        /// Amount of CHARGEBACK facts.
        ChargebackAmount = "chargeback_amount",
        /// chargeback_count / approved_count.
        ChargebackRate = "chargeback_rate",
        /// Distinct transactions reported as fraud.
        FraudCount = "fraud_count",
        /// Amount of those transactions.
        FraudAmount = "fraud_amount",
        /// fraud_count / approved_count.
        FraudRate = "fraud_rate",
        /// Cross-border AUTH facts / AUTH facts with both countries known.
        CrossBorderShare = "cross_border_share",
        /// Mean hours from an approved AUTH to its SETTLEMENT.
        SettlementDelayHours = "settlement_delay_hours",
        /// Approved AUTH facts with a SETTLEMENT / approved AUTH facts.
        ReconciliationRate = "reconciliation_rate",
        /// Approved AUTH facts with no SETTLEMENT.
        UnmatchedAuthCount = "unmatched_auth_count",
    }
}

/// How a metric's value is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A count of facts or transactions.
    Count,
    /// A ratio between 0 and 1.
    Ratio,
    /// Money, per currency.
    Currency,
    /// Hours.
    Hours,
}

impl Metric {
    /// The metric's unit.
    pub fn unit(self) -> Unit {
        use Metric::*;
        match self {
            TransactionCount | ApprovedCount | DeclinedCount | ClearedCount | SettledCount | RefundCount
            | ChargebackCount | FraudCount | UnmatchedAuthCount => Unit::Count,
            ApprovalRate | DeclineRate | ChargebackRate | FraudRate | CrossBorderShare
            | ReconciliationRate => Unit::Ratio,
            TransactionAmount | AverageTicket | ClearedAmount | SettledAmount | InterchangeFees
            | NetSettlement | RefundAmount | ChargebackAmount | FraudAmount => Unit::Currency,
            SettlementDelayHours => Unit::Hours,
        }
    }

    /// True for the metrics that join AUTH to SETTLEMENT facts (always answered from facts).
    pub fn needs_settlement_join(self) -> bool {
        matches!(self, Metric::SettlementDelayHours | Metric::ReconciliationRate | Metric::UnmatchedAuthCount)
    }

    /// The stages whose facts the metric reads.
    pub fn stages(self) -> &'static [Stage] {
        use Metric::*;
        match self {
            TransactionCount | ApprovedCount | DeclinedCount | ApprovalRate | DeclineRate
            | TransactionAmount | AverageTicket | CrossBorderShare => &[Stage::Auth],
            ClearedCount | ClearedAmount | InterchangeFees => &[Stage::Clearing],
            SettledCount | SettledAmount | NetSettlement => &[Stage::Settlement],
            RefundCount | RefundAmount => &[Stage::Refund],
            ChargebackCount | ChargebackAmount => &[Stage::Chargeback],
            ChargebackRate => &[Stage::Chargeback, Stage::Auth],
            FraudCount | FraudAmount => &[Stage::Auth, Stage::Fraud],
            FraudRate => &[Stage::Auth, Stage::Fraud],
            SettlementDelayHours | ReconciliationRate | UnmatchedAuthCount => &[Stage::Auth],
        }
    }

    /// A human label (`approval rate`).
    pub fn label(self) -> String {
        self.as_str().replace('_', " ")
    }
}

named_enum! {
    /// A dimension facts can be filtered and grouped by.
    Dimension {
        /// Card network.
        Network = "network",
        /// Merchant id.
        MerchantId = "merchant_id",
        /// Merchant name.
        MerchantName = "merchant_name",
        /// Merchant category code.
        Mcc = "mcc",
        /// Merchant country.
        MerchantCountry = "merchant_country",
        /// Issuer country.
        IssuerCountry = "issuer_country",
        /// Issuer BIN.
        IssuerBin = "issuer_bin",
        /// POS entry mode.
        EntryMode = "entry_mode",
        /// Response code (AUTH).
        ResponseCode = "response_code",
        /// Chargeback reason code.
        ReasonCode = "reason_code",
        /// Currency.
        Currency = "currency",
        /// Hour of the UTC day, `0`–`23`.
        HourOfDay = "hour_of_day",
        /// Day of the week, `monday`–`sunday`.
        DayOfWeek = "day_of_week",
        /// `true` when issuer and merchant countries differ.
        CrossBorder = "cross_border",
    }
}

impl Dimension {
    /// True when daily rollups keep this dimension.
    pub fn in_rollups(self) -> bool {
        use Dimension::*;
        matches!(
            self,
            Network
                | MerchantCountry
                | IssuerCountry
                | EntryMode
                | ResponseCode
                | ReasonCode
                | Currency
                | DayOfWeek
                | CrossBorder
        )
    }
}

/// Day-of-week names, Monday first (values of [`Dimension::DayOfWeek`]).
pub const WEEKDAYS: [&str; 7] =
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

named_enum! {
    /// Time bucket size for series.
    Granularity {
        /// One hour.
        Hour = "hour",
        /// One UTC day.
        Day = "day",
        /// One ISO week (Monday start).
        Week = "week",
        /// One calendar month.
        Month = "month",
    }
}

impl Granularity {
    /// The start of the bucket containing `t`.
    pub fn bucket_start(self, t: Timestamp) -> Timestamp {
        match self {
            Granularity::Hour => Timestamp(t.0 - t.0.rem_euclid(crate::calendar::MS_PER_HOUR)),
            Granularity::Day => t.date().start(),
            Granularity::Week => {
                let d = t.date();
                d.add_days(-(d.weekday() as i32)).start()
            }
            Granularity::Month => t.date().month_start().start(),
        }
    }

    /// The start of the bucket containing day `d` (day and coarser).
    pub fn bucket_of_day(self, d: Date) -> Timestamp {
        match self {
            Granularity::Hour | Granularity::Day => d.start(),
            Granularity::Week => d.add_days(-(d.weekday() as i32)).start(),
            Granularity::Month => d.month_start().start(),
        }
    }
}

/// Keeps facts whose `dimension` has one of `values` (canonical text: `visa`, `US`, `05`, `22`,
/// `saturday`, `true`); a fact without the attribute does not match. With `exclude`, keeps
/// the others instead — every fact not known to have one of `values`, those without the
/// attribute included ("excluding Visa" keeps facts of an unknown network).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Filter {
    /// The dimension.
    pub dimension: Dimension,
    /// The values.
    pub values: Vec<String>,
    /// Keep the facts without these values.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude: bool,
}

impl Filter {
    /// Facts whose `dimension` is one of `values`.
    pub fn one_of(dimension: Dimension, values: Vec<String>) -> Self {
        Filter { dimension, values, exclude: false }
    }

    /// Facts whose `dimension` is none of `values` (or unknown).
    pub fn none_of(dimension: Dimension, values: Vec<String>) -> Self {
        Filter { dimension, values, exclude: true }
    }

    /// A filter on one value.
    pub fn eq(dimension: Dimension, value: impl Into<String>) -> Self {
        Filter::one_of(dimension, vec![value.into()])
    }
}

/// A bound of a group condition, exact to a millionth: a count (`100`), a ratio (`0.8` for
/// 80%), or hours. JSON carries it as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Limit(i64);

impl Limit {
    const SCALE: i128 = 1_000_000;

    /// A whole count.
    pub fn count(n: u64) -> Limit {
        Limit((n as i64).saturating_mul(Self::SCALE as i64))
    }

    /// A decimal (`0.8`, `12`, `0.015`) with at most six decimals.
    pub fn parse(text: &str) -> Option<Limit> {
        let (int, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
        let negative = int.starts_with('-');
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let int = int.trim_start_matches(['-', '+']);
        if !digits(int) || (!frac.is_empty() && !digits(frac)) || frac.len() > 6 {
            return None;
        }
        let whole: i64 = int.parse().ok()?;
        let part: i64 = format!("{frac:0<6}").parse().ok()?;
        let v = whole.checked_mul(1_000_000)?.checked_add(part)?;
        Some(Limit(if negative { -v } else { v }))
    }

    /// A percentage as a fraction (`80` → 0.8), exactly (at most four decimals).
    pub fn percent(text: &str) -> Option<Limit> {
        let l = Limit::parse(text)?;
        (l.0 % 100 == 0).then_some(Limit(l.0 / 100))
    }

    /// Where `value` stands against the bound (`None` when it is undefined, or money).
    fn compare(self, value: &MetricValue) -> Option<Ordering> {
        let bound = self.0 as i128;
        match *value {
            MetricValue::Count { count } => Some((count as i128 * Self::SCALE).cmp(&bound)),
            MetricValue::Ratio { numerator, denominator } if denominator > 0 => {
                Some((numerator as i128 * Self::SCALE).cmp(&(bound * denominator as i128)))
            }
            MetricValue::MeanHours { total_millis, count } if count > 0 => {
                Some((total_millis as i128 * Self::SCALE).cmp(&(bound * count as i128 * 3_600_000)))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, part) = (self.0 / 1_000_000, (self.0 % 1_000_000).abs());
        if part == 0 {
            return write!(f, "{whole}");
        }
        let sign = if self.0 < 0 && whole == 0 { "-" } else { "" };
        write!(f, "{sign}{whole}.{}", format!("{part:06}").trim_end_matches('0'))
    }
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0 % 1_000_000 == 0 {
            s.serialize_i64(self.0 / 1_000_000)
        } else {
            s.serialize_f64(self.0 as f64 / 1e6)
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Limit, D::Error> {
        // Read as the number was written (a float's shortest form is its decimal text).
        let n = serde_json::Number::deserialize(d)?;
        Limit::parse(&n.to_string()).ok_or_else(|| {
            serde::de::Error::custom(format!("bound {n} is not a number with at most six decimals"))
        })
    }
}

/// A condition on each group (`with at least 100 transactions`, `with an approval rate below
/// 80%`): groups outside the bounds are left out before ranking. A group whose value is
/// undefined (a rate of no attempts) meets no bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Having {
    /// A count, rate or hours metric.
    pub metric: Metric,
    /// The smallest value kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Limit>,
    /// The largest value kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Limit>,
    /// The bounds themselves are left out (`above 80%`, `below 2%`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclusive: bool,
}

impl Having {
    /// Counts from `min` to `max`, both kept.
    pub fn counts(metric: Metric, min: Option<u64>, max: Option<u64>) -> Having {
        Having { metric, min: min.map(Limit::count), max: max.map(Limit::count), exclusive: false }
    }

    /// A bound as a summary shows it: a count, a percentage for a rate, hours.
    pub fn shown(&self, l: Limit) -> String {
        match self.metric.unit() {
            Unit::Ratio => format!("{}%", Limit(l.0 * 100)),
            Unit::Hours => format!("{l} hours"),
            _ => l.to_string(),
        }
    }

    /// The condition in words after the group (`at least 100 transaction count`, `approval
    /// rate below 80%`, `no chargeback count`).
    pub fn text(&self) -> String {
        let label = self.metric.label();
        let (above, below) = if self.exclusive { ("above", "below") } else { ("at least", "at most") };
        match (self.min, self.max) {
            (None, Some(z)) if z == Limit::count(0) && !self.exclusive => format!("no {label}"),
            (Some(a), Some(b)) => format!("{label} from {} to {}", self.shown(a), self.shown(b)),
            (Some(a), None) => format!("{label} {above} {}", self.shown(a)),
            (None, Some(b)) => format!("{label} {below} {}", self.shown(b)),
            (None, None) => String::new(),
        }
    }

    /// A count bound as a whole number, when it is one.
    pub fn whole(l: Limit) -> Option<u64> {
        (l.0 >= 0 && l.0 % 1_000_000 == 0).then_some((l.0 / 1_000_000) as u64)
    }

    /// Whether a group with `value` is kept.
    pub fn keeps(&self, value: &MetricValue) -> bool {
        let above = |m: Limit| {
            m.compare(value)
                .is_some_and(|o| o == Ordering::Greater || (!self.exclusive && o == Ordering::Equal))
        };
        let below = |m: Limit| {
            m.compare(value).is_some_and(|o| o == Ordering::Less || (!self.exclusive && o == Ordering::Equal))
        };
        self.min.is_none_or(above) && self.max.is_none_or(below)
    }
}

/// How an amount compares with a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountOp {
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
}

impl AmountOp {
    /// The words of a summary (`above`, `at least`).
    pub fn words(self) -> &'static str {
        match self {
            AmountOp::Gt => "above",
            AmountOp::Gte => "at least",
            AmountOp::Lt => "below",
            AmountOp::Lte => "at most",
        }
    }
}

/// Keeps facts whose amount compares with `value` (`above 100.00 USD`). A threshold has a
/// currency, and a fact in another currency never matches: 100 USD says nothing about yen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AmountCondition {
    /// The comparison.
    pub op: AmountOp,
    /// The threshold.
    pub value: Money,
}

impl AmountCondition {
    /// Whether a fact's amount (`minor` units of `currency`) matches.
    pub fn keeps(&self, minor: i64, currency: Currency) -> bool {
        currency == self.value.currency
            && match self.op {
                AmountOp::Gt => minor > self.value.minor,
                AmountOp::Gte => minor >= self.value.minor,
                AmountOp::Lt => minor < self.value.minor,
                AmountOp::Lte => minor <= self.value.minor,
            }
    }

    /// `above 100.00 USD`.
    pub fn text(&self) -> String {
        format!("{} {} {}", self.op.words(), self.value.format_grouped(), self.value.currency.code())
    }
}

/// Sort order of a breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Order {
    /// The metric to sort by (must be one of the query's metrics).
    pub metric: Metric,
    /// Largest first.
    pub descending: bool,
}

/// A question to the metric engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetricQuery {
    /// Metrics to compute.
    pub metrics: Vec<Metric>,
    /// Half-open UTC range over `occurred_at`.
    pub range: TimeRange,
    /// All filters must match.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// Group by these dimensions (at most [`MetricQuery::MAX_GROUP_BY`]).
    #[serde(default)]
    pub group_by: Vec<Dimension>,
    /// Bucket by time.
    #[serde(default)]
    pub granularity: Option<Granularity>,
    /// Sort groups.
    #[serde(default)]
    pub order: Option<Order>,
    /// Keep the first N groups (per currency when ordering by money).
    #[serde(default)]
    pub top_n: Option<usize>,
    /// Keep only the groups meeting these conditions (before ranking).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub having: Vec<Having>,
    /// Keep only the facts whose amount meets these conditions (all in one currency).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amount: Vec<AmountCondition>,
}

impl MetricQuery {
    /// Most group-by dimensions a query may have.
    pub const MAX_GROUP_BY: usize = 4;

    /// A query for `metrics` over `range`, with no filters or grouping.
    pub fn new(metrics: impl Into<Vec<Metric>>, range: TimeRange) -> Self {
        MetricQuery {
            metrics: metrics.into(),
            range,
            filters: vec![],
            group_by: vec![],
            granularity: None,
            order: None,
            top_n: None,
            having: vec![],
            amount: vec![],
        }
    }

    /// Adds a filter.
    pub fn filter(mut self, f: Filter) -> Self {
        self.filters.push(f);
        self
    }

    /// Adds a group-by dimension.
    pub fn group_by(mut self, d: Dimension) -> Self {
        self.group_by.push(d);
        self
    }

    /// Sets the time granularity.
    pub fn granularity(mut self, g: Granularity) -> Self {
        self.granularity = Some(g);
        self
    }

    /// Keeps only the groups meeting `condition`.
    pub fn having(mut self, condition: Having) -> Self {
        self.having.push(condition);
        self
    }

    /// Whether a group with these measures meets every condition.
    pub fn keeps(&self, m: &crate::store::measures::Measures) -> bool {
        self.having.iter().all(|h| m.value(h.metric).is_ok_and(|v| h.keeps(&v)))
    }

    /// Orders by `metric` and keeps the top `n`.
    pub fn top(mut self, metric: Metric, n: usize, descending: bool) -> Self {
        self.order = Some(Order { metric, descending });
        self.top_n = Some(n);
        self
    }

    /// Checks the query and returns its normalized form: metrics and filters deduplicated, and
    /// `currency` added to the grouping when ordering by money (money is ranked per currency).
    pub fn normalized(&self) -> Result<MetricQuery> {
        let mut q = self.clone();
        if q.metrics.is_empty() {
            return Err(Error::invalid("invalid_request", "a metric query needs at least one metric"));
        }
        let mut seen = Vec::new();
        q.metrics.retain(|m| {
            if seen.contains(m) {
                false
            } else {
                seen.push(*m);
                true
            }
        });
        let mut dims = Vec::new();
        q.group_by.retain(|d| {
            if dims.contains(d) {
                false
            } else {
                dims.push(*d);
                true
            }
        });
        if q.range.to < q.range.from {
            return Err(Error::invalid("invalid_request", "time range ends before it starts"));
        }
        if let Some(order) = q.order {
            if !q.metrics.contains(&order.metric) {
                q.metrics.push(order.metric);
            }
            if order.metric.unit() == Unit::Currency && !q.group_by.contains(&Dimension::Currency) {
                q.group_by.push(Dimension::Currency);
            }
        }
        if q.group_by.len() > Self::MAX_GROUP_BY {
            return Err(Error::invalid(
                "invalid_request",
                format!("at most {} group-by dimensions are supported", Self::MAX_GROUP_BY),
            ));
        }
        for f in &q.filters {
            for v in &f.values {
                validate_filter_value(f.dimension, v)?;
            }
        }
        if let Some(h) = q.having.iter().find(|h| h.metric.unit() == Unit::Currency) {
            return Err(Error::invalid(
                "invalid_request",
                format!("a group condition on an amount ({}) is not supported: put it on a count, a rate or hours", h.metric),
            ));
        }
        let over_one = |l: &Option<Limit>| l.is_some_and(|l| l > Limit::count(1));
        if let Some(h) =
            q.having.iter().find(|h| h.metric.unit() == Unit::Ratio && (over_one(&h.min) || over_one(&h.max)))
        {
            return Err(Error::invalid(
                "invalid_request",
                format!("{} is a fraction between 0 and 1: write 80% as 0.8", h.metric),
            ));
        }
        if let Some(other) = q.amount.iter().find(|a| a.value.currency != q.amount[0].value.currency) {
            return Err(Error::invalid(
                "invalid_request",
                format!(
                    "amount conditions in {} and {}: a transaction has one currency, so compare amounts in one",
                    q.amount[0].value.currency.code(),
                    other.value.currency.code()
                ),
            ));
        }
        if !q.having.is_empty() && q.group_by.is_empty() {
            return Err(Error::invalid(
                "invalid_request",
                "a group condition needs groups: add a group-by dimension",
            ));
        }
        Ok(q)
    }

    /// Every metric the query computes: its metrics and those of its group conditions.
    pub fn reads(&self) -> impl Iterator<Item = Metric> + '_ {
        self.metrics.iter().chain(self.having.iter().map(|h| &h.metric)).copied()
    }

    /// True when a metric it computes joins AUTH to SETTLEMENT facts.
    pub fn needs_settlement_join(&self) -> bool {
        self.reads().any(Metric::needs_settlement_join)
    }

    /// The stages the query's metrics read.
    pub fn stages(&self) -> Vec<Stage> {
        let mut out: Vec<Stage> = Vec::new();
        for m in self.metrics.iter().chain(self.having.iter().map(|h| &h.metric)) {
            for s in m.stages() {
                if !out.contains(s) {
                    out.push(*s);
                }
            }
        }
        out.sort();
        out
    }
}

/// Checks a filter value of `d` (hours 0–23, weekday names, `true`/`false`, currency codes).
pub fn validate_filter_value(d: Dimension, v: &str) -> Result<()> {
    let ok = match d {
        Dimension::HourOfDay => v.parse::<u8>().is_ok_and(|h| h < 24),
        Dimension::DayOfWeek => WEEKDAYS.contains(&v),
        Dimension::CrossBorder => v == "true" || v == "false",
        Dimension::Currency => Currency::from_code(v).is_some(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("invalid_request", format!("`{v}` is not a valid {d} value")))
    }
}

/// A metric value with its exact parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricValue {
    /// A count.
    Count {
        /// The count.
        count: u64,
    },
    /// A ratio of two counts; undefined when the denominator is 0.
    Ratio {
        /// Numerator.
        numerator: u64,
        /// Denominator.
        denominator: u64,
    },
    /// Money, one entry per currency, sorted by currency code.
    Money {
        /// Per-currency totals.
        amounts: Vec<Money>,
    },
    /// An average amount per currency: `total / count`, rounded half away from zero to minor units.
    AverageMoney {
        /// Per-currency `(total, count)`.
        parts: Vec<(Money, u64)>,
    },
    /// Mean hours: `total_millis / count / 3.6e6`.
    MeanHours {
        /// Sum of durations in milliseconds.
        total_millis: i64,
        /// Number of durations.
        count: u64,
    },
}

impl MetricValue {
    /// The value as a display number (a ratio as 0–1, hours as hours); `None` when undefined or money.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetricValue::Count { count } => Some(count as f64),
            MetricValue::Ratio { numerator, denominator } => {
                (denominator > 0).then(|| numerator as f64 / denominator as f64)
            }
            MetricValue::MeanHours { total_millis, count } => {
                (count > 0).then(|| total_millis as f64 / count as f64 / 3_600_000.0)
            }
            MetricValue::Money { .. } | MetricValue::AverageMoney { .. } => None,
        }
    }

    /// Per-currency money (averages rounded to minor units); empty for other kinds.
    pub fn money(&self) -> Vec<Money> {
        match self {
            MetricValue::Money { amounts } => amounts.clone(),
            MetricValue::AverageMoney { parts } => parts
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(m, n)| Money::new(div_round(m.minor, *n), m.currency))
                .collect(),
            _ => vec![],
        }
    }

    /// The count, for count metrics.
    pub fn count(&self) -> Option<u64> {
        match *self {
            MetricValue::Count { count } => Some(count),
            _ => None,
        }
    }

    /// The exact `(numerator, denominator)` results are ordered by: counts and money as
    /// themselves (money summed over currencies), ratios and means as fractions; `None` when
    /// undefined.
    pub fn fraction(&self) -> Option<(i128, i128)> {
        match self {
            MetricValue::Count { count } => Some((*count as i128, 1)),
            MetricValue::Ratio { numerator, denominator } => {
                (*denominator > 0).then_some((*numerator as i128, *denominator as i128))
            }
            MetricValue::MeanHours { total_millis, count } => {
                (*count > 0).then_some((*total_millis as i128, *count as i128))
            }
            MetricValue::Money { amounts } => Some((amounts.iter().map(|m| m.minor as i128).sum(), 1)),
            MetricValue::AverageMoney { parts } => {
                let (t, n) =
                    parts.iter().fold((0i128, 0i128), |(t, n), (m, c)| (t + m.minor as i128, n + *c as i128));
                (n > 0).then_some((t, n))
            }
        }
    }

    /// Exact comparison used for ordering (cross-multiplied fractions); undefined values sort
    /// below every defined one.
    pub fn cmp_exact(&self, other: &MetricValue) -> Ordering {
        match (self.fraction(), other.fraction()) {
            (Some((a, b)), Some((c, d))) => (a * d).cmp(&(c * b)),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        }
    }
}

/// Integer division rounded half away from zero.
pub fn div_round(total: i64, n: u64) -> i64 {
    if n == 0 {
        return 0;
    }
    let (t, n) = (total as i128, n as i128);
    let q = (2 * t.abs() + n) / (2 * n);
    (if t < 0 { -q } else { q }) as i64
}

/// One row of a result: a time bucket and/or a group, with one value per query metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricRow {
    /// Bucket start, when the query has a granularity.
    pub bucket: Option<Timestamp>,
    /// Group values aligned with `group_by` (`None` when the fact lacks the attribute).
    pub group: Vec<Option<String>>,
    /// Values aligned with the normalized query's `metrics`.
    pub values: Vec<MetricValue>,
}

/// Where a result was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Daily rollups only.
    Rollup,
    /// Facts only.
    Facts,
    /// Rollups for whole days, facts for the partial days at the edges.
    RollupAndFacts,
}

impl Source {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Rollup => "rollup",
            Source::Facts => "facts",
            Source::RollupAndFacts => "rollup+facts",
        }
    }
}

/// The answer to a [`MetricQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricResult {
    /// The normalized query that was answered.
    pub query: MetricQuery,
    /// Rows ordered by bucket, then by the query's order (or group values ascending).
    pub rows: Vec<MetricRow>,
    /// Where the numbers came from.
    pub source: Source,
    /// Facts read.
    pub facts_scanned: u64,
}

impl MetricResult {
    /// The value of `metric` in the first row (the total of an ungrouped query).
    pub fn total(&self, metric: Metric) -> Option<&MetricValue> {
        let i = self.query.metrics.iter().position(|m| *m == metric)?;
        self.rows.first().map(|r| &r.values[i])
    }

    /// The index of `metric` in each row's `values`.
    pub fn index_of(&self, metric: Metric) -> Option<usize> {
        self.query.metrics.iter().position(|m| *m == metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(m.as_str().parse::<Metric>().unwrap(), *m);
        }
        for d in Dimension::ALL {
            assert_eq!(d.as_str().parse::<Dimension>().unwrap(), *d);
        }
        assert!("volume".parse::<Metric>().is_err());
    }

    #[test]
    fn rounding_and_ordering() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(7, 3), 2);
        let a = MetricValue::Ratio { numerator: 1, denominator: 3 };
        let b = MetricValue::Ratio { numerator: 33, denominator: 100 };
        assert_eq!(a.cmp_exact(&b), Ordering::Greater);
        let undefined = MetricValue::Ratio { numerator: 0, denominator: 0 };
        assert_eq!(undefined.cmp_exact(&b), Ordering::Less);
    }

    #[test]
    fn ordering_by_money_groups_by_currency() {
        let r = TimeRange::new(Timestamp(0), Timestamp(1));
        let q = MetricQuery::new([Metric::ApprovalRate], r)
            .group_by(Dimension::MerchantId)
            .top(Metric::TransactionAmount, 10, true)
            .normalized()
            .unwrap();
        assert_eq!(q.metrics, vec![Metric::ApprovalRate, Metric::TransactionAmount]);
        assert_eq!(q.group_by, vec![Dimension::MerchantId, Dimension::Currency]);
    }
}
