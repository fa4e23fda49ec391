//! Why a metric changed: the period-over-period change split additively (`segments`) down a
//! hierarchy — network, then response code (for authorization metrics), then whichever of
//! merchant, MCC, issuer country and entry mode concentrates the change most. Each level's
//! contributions add up exactly to what the level splits: the change itself at the top, then the
//! chosen segment's own change (or, when its share of volume moved rather than its rate, that
//! volume). Every contribution is tested against the segment's day-to-day variation, drilling
//! stops where nothing stands out, and a change within normal variation is said to be so. For
//! clearing and settlement the upstream approvals are read with the process's lag.

use std::collections::BTreeMap;

use super::segments::{self, Effect, SIGNIFICANT_Z};
use super::trend::capitalize;
use super::{evidence, label, main_currency, query, scope_text, Agent, Input, Output};
use crate::calendar::{TimeRange, Timestamp, MS_PER_DAY};
use crate::error::Result;
use crate::facts::Stage;
use crate::money::{Currency, Money};
use crate::query::answer::{change_pct, money, num, pct, AnswerMetric};
use crate::store::metric::{Dimension, Filter, Metric, MetricValue, Unit};

/// The last level's candidates: the one where the change is most concentrated is shown.
const LEAVES: [Dimension; 4] =
    [Dimension::MerchantId, Dimension::Mcc, Dimension::IssuerCountry, Dimension::EntryMode];

/// Below this much more of its parent than its usual share of volume, the last level's top
/// segment is "spread out", not a cause.
const CONCENTRATED: f64 = 0.2;

/// What a level splits: the metric (a sum, or a rate into mix and rate effects), or the volume
/// (the rate's denominator) of a segment whose share moved.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Split {
    Metric,
    Volume,
}

/// Days of history before the current period whose day-to-day variation the changes are
/// measured against.
const HISTORY_DAYS: i64 = 28;

/// One level of the drill-down.
struct Level {
    /// The dimension split (`None`: the whole).
    dim: Option<Dimension>,
    split: Split,
    effects: Vec<Effect>,
    /// The change the effects add up to, with its z-score.
    whole: segments::Change,
    /// False when the dimension does not split the change additively.
    additive: bool,
    scanned: u64,
}

impl Level {
    /// What the effects add up to.
    fn parent(&self) -> f64 {
        self.whole.delta()
    }

    fn top(&self) -> Option<&Effect> {
        segments::toward(&self.effects, self.parent()).into_iter().next()
    }

    /// How much more of the parent the top segment carries than its usual share of volume:
    /// a change spread in proportion to volume concentrates nowhere.
    fn concentration(&self) -> f64 {
        match self.top() {
            Some(t) if self.parent() != 0.0 && self.additive => t.total() / self.parent() - t.share_before,
            _ => 0.0,
        }
    }
}

/// What every step needs.
struct Ctx<'a, 'b> {
    input: &'a Input<'b>,
    metric: Metric,
    currency: Option<Currency>,
    current: TimeRange,
    previous: TimeRange,
}

impl Ctx<'_, '_> {
    /// The same comparison for another metric, both periods moved back `days`.
    fn upstream(&self, metric: Metric, days: i64) -> Self {
        let shift = |r: TimeRange| {
            TimeRange::new(Timestamp(r.from.0 - days * MS_PER_DAY), Timestamp(r.to.0 - days * MS_PER_DAY))
        };
        Ctx {
            input: self.input,
            metric,
            currency: None,
            current: shift(self.current),
            previous: shift(self.previous),
        }
    }

    async fn level(&self, filters: &[Filter], dim: Option<Dimension>, split: Split) -> Result<Level> {
        let read = |range| segments::read(self.input, self.metric, filters, dim, range, self.currency, 1.0);
        let history =
            TimeRange::new(Timestamp(self.current.from.0 - HISTORY_DAYS * MS_PER_DAY), self.current.from);
        let (mut c, mut p, mut h) =
            (read(self.current).await?, read(self.previous).await?, read(history).await?);
        let scanned = c.facts_scanned + p.facts_scanned + h.facts_scanned;
        let metric = match split {
            Split::Metric => self.metric,
            Split::Volume => {
                (c, p, h) = (segments::volume(c), segments::volume(p), segments::volume(h));
                Metric::TransactionCount
            }
        };
        let d = segments::decompose(metric, &c, &p, &h, true);
        Ok(Level { dim, split, effects: d.effects, whole: d.whole, additive: d.additive, scanned })
    }

    /// Each segment's usual share of the volume over the history, under `filters` (the
    /// population the last drilled segment belongs to, so that a segment new in this period
    /// is judged against what it usually carries).
    async fn usual_shares(
        &self,
        filters: &[Filter],
        dim: Dimension,
    ) -> Result<(BTreeMap<Option<String>, f64>, u64)> {
        let history =
            TimeRange::new(Timestamp(self.current.from.0 - HISTORY_DAYS * MS_PER_DAY), self.current.from);
        let h =
            segments::read(self.input, self.metric, filters, Some(dim), history, self.currency, 1.0).await?;
        let ratio = segments::is_ratio(self.metric);
        let size = |d: &Vec<(f64, f64)>| d.iter().map(|x| if ratio { x.1 } else { x.0 }).sum::<f64>();
        let total: f64 = h.groups.values().map(size).sum();
        let shares = h
            .groups
            .iter()
            .map(|(k, d)| (k.clone(), if total > 0.0 { size(d) / total } else { 0.0 }))
            .collect();
        Ok((shares, h.facts_scanned))
    }

    fn show(&self, v: f64) -> String {
        show(self.metric, v, self.currency)
    }

    fn show_change(&self, d: f64) -> String {
        show_change(self.metric, d, self.currency)
    }
}

fn show(metric: Metric, v: f64, currency: Option<Currency>) -> String {
    match metric.unit() {
        Unit::Ratio => pct(v),
        Unit::Currency => money(&Money::new(
            (v * 10f64.powi(currency.map_or(2, |c| c.exponent()) as i32)).round() as i64,
            currency.unwrap_or(Currency::USD),
        )),
        Unit::Hours => format!("{} hours", num(v, 1)),
        Unit::Count => num(v, 0),
    }
}

fn show_change(metric: Metric, d: f64, currency: Option<Currency>) -> String {
    let sign = if d >= 0.0 { "+" } else { "-" };
    match metric.unit() {
        Unit::Ratio => format!("{sign}{} points", num(d.abs() * 100.0, 2)),
        _ => format!("{sign}{}", show(metric, d.abs(), currency)),
    }
}

fn signed_count(v: f64) -> String {
    format!("{}{}", if v >= 0.0 { "+" } else { "-" }, num(v.abs(), 0))
}

/// What a rate's denominator counts.
fn denominator(metric: Metric) -> &'static str {
    match metric {
        Metric::ApprovalRate | Metric::DeclineRate => "authorization attempts",
        Metric::CrossBorderShare => "authorizations",
        Metric::SettlementDelayHours => "settled authorizations",
        _ => "approvals",
    }
}

/// The dimensions drilled in order (those a single-valued filter fixes are skipped), and the
/// last level's candidates.
fn hierarchy(metric: Metric, filters: &[Filter]) -> (Vec<Dimension>, Vec<Dimension>) {
    let free =
        |d: &Dimension| !filters.iter().any(|f| f.dimension == *d && !f.exclude && f.values.len() == 1);
    let auth_only = metric.stages() == [Stage::Auth];
    let chain = [Dimension::Network, Dimension::ResponseCode]
        .into_iter()
        .filter(|d| *d != Dimension::ResponseCode || auth_only)
        .filter(free)
        .collect();
    (chain, LEAVES.into_iter().filter(free).collect())
}

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let current = q.time.range;
    let previous = q.time.versus.unwrap_or_else(|| current.previous());
    let metric = q.metrics.first().copied().unwrap_or(Metric::TransactionAmount);
    let base = |range| q.metric_query([metric], range);
    let (cur, prev) = (query(input, &base(current)).await?, query(input, &base(previous)).await?);
    let (mut ev, coverage) = evidence(input, Agent::RootCause, &cur, current).await?;
    let mut out = Output { coverage: Some(coverage), ..Output::default() };
    let (cv, pv) = (&cur.rows[0].values[0], &prev.rows[0].values[0]);
    let currency = main_currency(input, &pv.money()).or_else(|| main_currency(input, &cv.money()));
    let ctx = Ctx { input, metric, currency, current, previous };
    let none = BTreeMap::new();
    out.metrics.extend(AnswerMetric::from_value(metric.as_str(), cv, metric.unit(), &none, Some("current")));
    out.metrics.extend(AnswerMetric::from_value(metric.as_str(), pv, metric.unit(), &none, Some("previous")));
    if let MetricValue::Ratio { numerator, denominator } = cv {
        out.sample = Some((*numerator, *denominator));
    }
    // Decompose within the main currency: amounts in different currencies never mix.
    let mut filters = q.filters.clone();
    if let (Unit::Currency, Some(c)) = (metric.unit(), currency) {
        filters.retain(|f| f.dimension != Dimension::Currency);
        filters.push(Filter::eq(Dimension::Currency, c.code()));
    }
    let whole = ctx.level(&filters, None, Split::Metric).await?;
    let mut scanned = whole.scanned;
    let overall = whole.whole;
    let total = overall.delta();
    out.metrics.push(AnswerMetric::number(
        &format!("{}_change", metric.as_str()),
        total,
        metric.unit(),
        &none,
        None,
    ));
    headline(&ctx, &mut out, total, (overall.before, overall.after));
    let method = format!(
        "additive decomposition ({}) down network → response code → merchant, MCC, issuer country or entry mode; z compares a change with the segment's own day-to-day variation over the {} days before the period (weekday by weekday), |z| ≥ {} stands out; a merchant, MCC, country or entry mode is named only when it carries {} more of the change than its usual share of the volume",
        if segments::is_ratio(metric) { "mix and rate effects" } else { "segment contributions" },
        HISTORY_DAYS,
        num(SIGNIFICANT_Z, 0),
        pct(CONCENTRATED)
    );
    if total == 0.0 {
        ev.detail = Some(method);
        out.evidence.push(ev);
        return Ok(out);
    }
    if let Some(z) = overall.z {
        out.metrics.push(AnswerMetric::number(
            &format!("{}_change_zscore", metric.as_str()),
            z,
            Unit::Count,
            &none,
            None,
        ));
    }
    let noise = !overall.significant();
    out.sentences.push(match overall.z {
        Some(z) if noise => format!(
            "That is within normal day-to-day variation (z {}), so no segment is blamed for it; the split below is for reference.",
            num(z, 2)
        ),
        Some(z) => format!("That is more than day-to-day variation (z {}).", num(z, 2)),
        None => "There is too little history to tell the change from day-to-day variation, so no segment is blamed for it; the split below is for reference.".into(),
    });
    scanned += drill(&ctx, &mut out, filters, noise).await?;
    if !metric.stages().contains(&Stage::Auth) {
        scanned += upstream(&ctx, &mut out).await?;
    }
    out.sentences.push(format!("Method: {method}."));
    ev.facts_scanned += scanned;
    ev.detail =
        Some(format!("compared {} with {}; {method}", current.display_days(), previous.display_days()));
    out.evidence.push(ev);
    out.followups.push(format!("Show the daily trend of {} over the last 30 days", metric.label()));
    Ok(out)
}

/// Splits the change level by level, following the top segment while it stands out from its
/// own variation; returns the facts scanned.
async fn drill(ctx: &Ctx<'_, '_>, out: &mut Output, mut filters: Vec<Filter>, noise: bool) -> Result<u64> {
    let (chain, leaves) = hierarchy(ctx.metric, &ctx.input.q.filters);
    let mut path: Vec<(Dimension, Option<String>)> = Vec::new();
    let mut split = Split::Metric;
    let mut scanned = 0;
    for dim in chain {
        let level = ctx.level(&filters, Some(dim), split).await?;
        scanned += level.scanned;
        describe(ctx, out, &level, &path);
        let top = level.top().cloned().filter(|_| level.additive);
        let Some(top) = top.filter(|t| !noise && t.z().is_some_and(|z| z.abs() >= SIGNIFICANT_Z)) else {
            if !noise && level.additive {
                out.sentences.push(format!(
                    "No {}'s change stands out from its own day-to-day variation, so the drill-down stops here.",
                    dim.as_str().replace('_', " ")
                ));
            }
            return Ok(scanned);
        };
        filters.push(Filter::eq(dim, top.value.clone().unwrap_or_default()));
        if split == Split::Metric && segments::is_ratio(ctx.metric) && top.mix_driven() {
            split = Split::Volume;
        }
        path.push((dim, top.value.clone()));
    }
    if noise {
        return Ok(scanned);
    }
    let mut best: Option<Level> = None;
    let population = &filters[..filters.len().saturating_sub(1)];
    for dim in leaves {
        let mut level = ctx.level(&filters, Some(dim), split).await?;
        let (usual, s) = ctx.usual_shares(population, dim).await?;
        for e in &mut level.effects {
            e.share_before = usual.get(&e.value).copied().unwrap_or(0.0);
        }
        scanned += level.scanned + s;
        if level.additive && best.as_ref().is_none_or(|b| level.concentration() > b.concentration()) {
            best = Some(level);
        }
    }
    if let Some(level) = best {
        describe(ctx, out, &level, &path);
    }
    Ok(scanned)
}

/// `Approval rate fell from 95.10% over … to 92.02% over … (-3.08 points).`
fn headline(ctx: &Ctx<'_, '_>, out: &mut Output, total: f64, (before, after): (Option<f64>, Option<f64>)) {
    let (q, metric) = (ctx.input.q, ctx.metric);
    let scope = scope_text(&q.filters, &q.amount, ctx.input.merchants);
    let verb = if total < 0.0 {
        "fell"
    } else if total > 0.0 {
        "rose"
    } else {
        "did not change"
    };
    let shown = |v: Option<f64>| v.map_or("nothing".into(), |v| ctx.show(v));
    let mut text = format!(
        "{}{scope} {verb} from {} over {} to {} over {} ({}",
        capitalize(&metric.label()),
        shown(before),
        ctx.previous.display_days(),
        shown(after),
        ctx.current.display_days(),
        ctx.show_change(total)
    );
    if let Some(rel) =
        before.zip(after).and_then(|(b, a)| change_pct(b, a)).filter(|_| !segments::is_ratio(metric))
    {
        out.metrics.push(AnswerMetric::number(
            &format!("{}_change_pct", metric.as_str()),
            rel,
            Unit::Ratio,
            &BTreeMap::new(),
            None,
        ));
        text.push_str(&format!(", {}{}", if rel >= 0.0 { "+" } else { "" }, pct(rel)));
    }
    text.push_str(").");
    out.sentences.push(text);
}

/// One level in a sentence: its largest contributions in the direction of its parent, each
/// with its z-score, and what the rest adds up to.
fn describe(ctx: &Ctx<'_, '_>, out: &mut Output, level: &Level, path: &[(Dimension, Option<String>)]) {
    let (merchants, metric) = (ctx.input.merchants, ctx.metric);
    let Some(dim) = level.dim else { return };
    let dim_text = dim.as_str().replace('_', " ");
    let within = match path.last() {
        None => "The change".to_owned(),
        Some((d, v)) => format!(
            "Within {}, the change of its {}",
            label(*d, v.as_deref(), merchants),
            match level.split {
                Split::Volume => denominator(metric).to_owned(),
                Split::Metric => format!("own {}", metric.label()),
            }
        ),
    };
    let shown = |v: f64| match level.split {
        Split::Volume => format!("{} {}", signed_count(v), denominator(metric)),
        Split::Metric => ctx.show_change(v),
    };
    let parent = shown(level.parent());
    let mut keys: Vec<Dimension> = path.iter().map(|(d, _)| *d).collect();
    keys.push(dim);
    if !level.additive {
        out.sentences.push(format!(
            "{within} ({parent}) cannot be split by {dim_text}: part of the {} is not recorded with it.",
            metric.label()
        ));
        return;
    }
    let name = match level.split {
        Split::Metric => format!("{}_contribution", metric.as_str()),
        Split::Volume => format!("{}_change", denominator(metric).replace(' ', "_")),
    };
    let unit = if level.split == Split::Volume { Unit::Count } else { metric.unit() };
    if !path.is_empty() {
        let values: Vec<Option<String>> = path.iter().map(|(_, v)| v.clone()).collect();
        let d = super::dims(merchants, &keys[..path.len()], &values);
        let parent_name = match level.split {
            Split::Metric => format!("{}_change", metric.as_str()),
            Split::Volume => name.clone(),
        };
        out.metrics.push(AnswerMetric::number(&parent_name, level.parent(), unit, &d, None));
    }
    // Up to three, each carrying at least 1% of the parent; the rest are summed.
    let listed: Vec<&Effect> = segments::toward(&level.effects, level.parent())
        .into_iter()
        .filter(|e| level.parent() != 0.0 && e.total() / level.parent() >= 0.01)
        .take(3)
        .collect();
    let mut parts = Vec::new();
    for e in &listed {
        let mut values: Vec<Option<String>> = path.iter().map(|(_, v)| v.clone()).collect();
        values.push(e.value.clone());
        let mut d = super::dims(merchants, &keys, &values);
        if let (Unit::Currency, Some(c)) = (metric.unit(), ctx.currency) {
            d.insert("currency".into(), c.code().to_owned());
        }
        out.metrics.push(AnswerMetric::number(&name, e.total(), unit, &d, None));
        let share = if level.parent() != 0.0 { e.total() / level.parent() } else { 0.0 };
        out.metrics.push(AnswerMetric::number(&format!("{name}_share"), share, Unit::Ratio, &d, None));
        let mut notes = Vec::new();
        if level.split == Split::Metric && segments::is_ratio(metric) {
            let mix = format!("{}_mix_effect", metric.as_str());
            out.metrics.push(AnswerMetric::number(&mix, e.mix, metric.unit(), &d, None));
            let rate = format!("{}_rate_effect", metric.as_str());
            out.metrics.push(AnswerMetric::number(&rate, e.rate, metric.unit(), &d, None));
            notes.push(format!(
                "{} from its share of {}, {} from its own level",
                ctx.show_change(e.mix),
                denominator(metric),
                ctx.show_change(e.rate)
            ));
        }
        if let Some(z) = e.z() {
            out.metrics.push(AnswerMetric::number(&format!("{name}_zscore"), z, Unit::Count, &d, None));
            let of = if level.split == Split::Metric && segments::is_ratio(metric) && e.mix_driven() {
                format!("{} ", denominator(metric))
            } else {
                String::new()
            };
            notes.push(format!("{of}z {}", num(z, 1)));
        }
        notes.push(format!("{} of it", pct(share)));
        if LEAVES.contains(&dim) {
            out.metrics.push(AnswerMetric::number(
                &format!("{name}_usual_share"),
                e.share_before,
                Unit::Ratio,
                &d,
                None,
            ));
            notes.push(format!("usually {} of the volume", pct(e.share_before)));
        }
        parts.push(format!(
            "{} {} ({})",
            label(dim, e.value.as_deref(), merchants),
            shown(e.total()),
            notes.join("; ")
        ));
    }
    if parts.is_empty() {
        out.sentences.push(format!("{within} ({parent}) is not carried by any one {dim_text}."));
        return;
    }
    let rest = level.parent() - listed.iter().map(|e| e.total()).sum::<f64>();
    if rest.abs() > 1e-9 * (1.0 + level.parent().abs()) {
        let mut d: BTreeMap<String, String> = path
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.clone().unwrap_or_else(|| "unknown".into())))
            .collect();
        d.insert(dim.as_str().to_owned(), "others".into());
        out.metrics.push(AnswerMetric::number(&name, rest, unit, &d, None));
        parts.push(format!("every other {dim_text} together {}", shown(rest)));
    }
    let lead = if !path.is_empty() && LEAVES.contains(&dim) && level.concentration() < CONCENTRATED {
        format!(
            "{within} ({parent}) is spread out: no merchant, MCC, issuer country or entry mode carries {} more of it than its usual share of the volume; by {dim_text}",
            pct(CONCENTRATED)
        )
    } else {
        format!("{within} ({parent}) splits by {dim_text}")
    };
    out.sentences.push(format!("{lead}: {}.", parts.join("; ")));
}

/// Settlements and clearing follow approvals by days: approvals are compared over both
/// periods moved back by that lag (the mean authorization-to-settlement delay measured in the
/// previous period; a day for clearing). Returns the facts scanned.
async fn upstream(ctx: &Ctx<'_, '_>, out: &mut Output) -> Result<u64> {
    let q = ctx.input.q;
    let none = BTreeMap::new();
    let settlement = ctx.metric.stages().contains(&Stage::Settlement);
    let delay = query(ctx.input, &q.metric_query([Metric::SettlementDelayHours], ctx.previous)).await?;
    let hours = delay.rows[0].values[0].as_f64().filter(|_| settlement);
    let lag = hours.map_or(1, |h| (h / 24.0).round().max(1.0) as i64);
    if hours.is_some() {
        out.metrics.extend(AnswerMetric::from_value(
            "settlement_delay_hours",
            &delay.rows[0].values[0],
            Unit::Hours,
            &none,
            Some("previous"),
        ));
    }
    out.metrics.push(AnswerMetric::number("upstream_lag_days", lag as f64, Unit::Count, &none, None));
    let approvals = ctx.upstream(Metric::ApprovedCount, lag).level(&q.filters, None, Split::Metric).await?;
    let rates = ctx.upstream(Metric::ApprovalRate, lag).level(&q.filters, None, Split::Metric).await?;
    let scanned = approvals.scanned + rates.scanned;
    let (a, r) = (approvals.whole, rates.whole);
    let (Some(a1), Some(a0), Some(r1), Some(r0)) = (a.after, a.before, r.after, r.before) else {
        return Ok(scanned);
    };
    for (name, unit, now, before) in
        [("approved_count", Unit::Count, a1, a0), ("approval_rate", Unit::Ratio, r1, r0)]
    {
        out.metrics.push(AnswerMetric::number(name, now, unit, &none, Some("current")));
        out.metrics.push(AnswerMetric::number(name, before, unit, &none, Some("previous")));
    }
    let why = match hours {
        Some(h) => format!(
            "{lag} days earlier (the mean time from authorization to settlement, {} hours)",
            num(h, 1)
        ),
        None => "a day earlier (clearing follows authorization overnight)".into(),
    };
    let shifted = ctx.upstream(Metric::ApprovedCount, lag);
    let mut sentence = format!(
        "Upstream, {why}: approvals went from {} over {} to {} over {}, the approval rate from {} to {}",
        num(a0, 0),
        shifted.previous.display_days(),
        num(a1, 0),
        shifted.current.display_days(),
        pct(r0),
        pct(r1)
    );
    let zs: Vec<String> = [("approvals", "approved_count", a.z), ("approval rate", "approval_rate", r.z)]
        .into_iter()
        .filter_map(|(what, name, z)| {
            let z = z?;
            out.metrics.push(AnswerMetric::number(
                &format!("{name}_change_zscore"),
                z,
                Unit::Count,
                &none,
                None,
            ));
            Some(format!("{what} z {}", num(z, 1)))
        })
        .collect();
    if !zs.is_empty() {
        sentence.push_str(&format!(" ({})", zs.join(", ")));
    }
    sentence.push('.');
    out.sentences.push(sentence);
    Ok(scanned)
}
