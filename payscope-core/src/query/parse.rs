//! Question text → [`Question`]: time expressions first, then the lexicon (metrics,
//! dimensions, values, cue words) with typo tolerance, then codes, merchants and numbers.
//! What is left over is reported as not understood and lowers the parse confidence.

use std::collections::BTreeMap;

use super::amounts::{amount_phrase, AmountPhrase};
use super::lexicon::{longest_match, Term};
use super::question::{Comparison, Intent, LookupTarget, Question, RelationshipTarget, Scenario};
use super::time::{resolve, TimeRangeSpec};
use super::words::{count, is_stopword, tokenize, Token};
use crate::calendar::{Timestamp, MS_PER_DAY};
use crate::error::{Error, Result};
use crate::store::metric::{Dimension, Filter, Granularity, Having, Metric, Order};

/// Merchants the bank's data knows, for recognizing names and ids in questions. Built once per
/// data version; lookups are by id and by the first word of a name.
#[derive(Debug, Clone, Default)]
pub struct MerchantLexicon {
    /// Lowercased merchant id → merchant id.
    ids: std::collections::HashMap<String, String>,
    /// First word of a name → `(name words, merchant id)`.
    names: std::collections::HashMap<String, Vec<(Vec<String>, String)>>,
}

impl MerchantLexicon {
    /// Builds the lexicon from `(merchant id, name)` pairs.
    pub fn new(merchants: impl IntoIterator<Item = (String, Option<String>)>) -> Self {
        let mut lexicon = MerchantLexicon::default();
        for (id, name) in merchants {
            let words: Vec<String> =
                name.map(|n| tokenize(&n).into_iter().map(|t| t.text).collect()).unwrap_or_default();
            // A name must be at least two words, or one distinctive word of six letters.
            if let Some(first) = words.first().filter(|f| words.len() >= 2 || f.len() >= 6) {
                lexicon.names.entry(first.clone()).or_default().push((words.clone(), id.clone()));
            }
            lexicon.ids.insert(id.to_lowercase(), id);
        }
        lexicon
    }

    /// The merchant whose id is `w`.
    fn by_id(&self, w: &str) -> Option<&str> {
        self.ids.get(w).map(String::as_str)
    }

    /// The merchant whose full name starts at word `i`, spelt exactly or with one slip in
    /// each word of four letters or more (`Unoin Books 0`, `Harbour Bistro 4`); a misspelling
    /// two names fit names neither. Returns its id and the words used.
    fn by_name(&self, words: &[&str], i: usize) -> Option<(&str, usize)> {
        self.spelt(words, i).or_else(|| self.misspelt(words, i))
    }

    fn misspelt(&self, words: &[&str], i: usize) -> Option<(&str, usize)> {
        let first = *words.get(i)?;
        if first.len() < 4 || is_stopword(first) {
            return None;
        }
        let slip = |a: &str, b: &str| super::words::close_from(a, b, 4);
        let fits: Vec<(&str, usize)> = self
            .names
            .iter()
            .filter(|(head, _)| slip(head, first))
            .flat_map(|(_, list)| list)
            .filter(|(name, _)| {
                name.len() >= 2
                    && i + name.len() <= words.len()
                    && name.iter().zip(&words[i..]).all(|(a, b)| slip(a, b))
            })
            .map(|(name, id)| (id.as_str(), name.len()))
            .collect();
        let longest = fits.iter().map(|f| f.1).max()?;
        let mut best = fits.into_iter().filter(|f| f.1 == longest);
        let one = best.next()?;
        best.next().is_none().then_some(one)
    }

    fn spelt(&self, words: &[&str], i: usize) -> Option<(&str, usize)> {
        self.names
            .get(*words.get(i)?)?
            .iter()
            .filter(|(name, _)| {
                i + name.len() <= words.len() && name.iter().zip(&words[i..]).all(|(a, b)| a == b)
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(name, id)| (id.as_str(), name.len()))
    }
}

/// One recognized item and the token it started at.
struct Seen {
    at: usize,
    term: Term,
}

fn is_reason_code(w: &str) -> bool {
    let b = w.as_bytes();
    // Visa `10.4`, `13.1`; Mastercard `4837`, `4853`; Amex `F29`, `C08`.
    (b.len() == 4 && b[2] == b'.' && b[..2].iter().all(u8::is_ascii_digit) && b[3].is_ascii_digit())
        || (b.len() == 5
            && b[2] == b'.'
            && b[..2].iter().all(u8::is_ascii_digit)
            && b[3..].iter().all(u8::is_ascii_digit))
        || (b.len() == 4 && b.starts_with(b"48") && b.iter().all(u8::is_ascii_digit))
}

fn is_response_code(w: &str) -> bool {
    let b = w.as_bytes();
    (b.len() == 2 || b.len() == 3)
        && (b.iter().all(u8::is_ascii_digit)
            || (b[0].is_ascii_digit() && b.iter().all(u8::is_ascii_alphanumeric)))
}

fn percent(w: &str, next: &str) -> Option<f64> {
    if let Some(n) = w.strip_suffix('%') {
        return n.parse().ok();
    }
    matches!(next, "percent" | "pct" | "%").then(|| w.parse().ok()).flatten()
}

/// A change in percentage points at `words[i]` (`5 percentage points`, `5pp`, `50 bps`,
/// `50 basis points`): the points and the tokens used.
fn percentage_points(words: &[&str], i: usize) -> Option<(f64, usize)> {
    let w = |k: usize| words.get(k).copied().unwrap_or("");
    let glued = |suffix: &str| w(i).strip_suffix(suffix).and_then(|n| n.parse::<f64>().ok());
    if let Some(n) = glued("pp").or_else(|| glued("ppt")) {
        return Some((n, 1));
    }
    if let Some(n) = glued("bps").or_else(|| glued("bp")) {
        return Some((n / 100.0, 1));
    }
    let n: f64 = w(i).trim_start_matches('+').parse().ok()?;
    match (w(i + 1), w(i + 2)) {
        ("percentage", "points" | "point") => Some((n, 3)),
        ("pp" | "ppt" | "pts" | "points" | "point", _) => Some((n, 2)),
        ("bps" | "bp", _) => Some((n / 100.0, 2)),
        ("basis", "points" | "point") => Some((n / 100.0, 3)),
        _ => None,
    }
}

/// The dimension a request filter name refers to.
pub fn request_filter_dimension(name: &str) -> Result<Dimension> {
    name.parse::<Dimension>().map_err(|_| {
        Error::invalid(
            "invalid_request",
            format!(
                "filter `{name}` is not a dimension; use one of {}",
                Dimension::ALL.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )
    })
}

/// Parses a question.
pub fn parse(
    text: &str,
    as_of: Timestamp,
    fallback: &TimeRangeSpec,
    request_filters: &BTreeMap<String, String>,
    merchants: &MerchantLexicon,
) -> Result<Question> {
    let tokens: Vec<Token> = tokenize(text);
    let resolved = resolve(&tokens, as_of, fallback)?;
    let mut time = resolved.spec;
    let mut used = vec![false; tokens.len()];
    for i in &resolved.consumed {
        used[*i] = true;
    }
    let words: Vec<&str> =
        tokens.iter().enumerate().map(|(k, t)| synonym(&tokens, k).unwrap_or(&t.text)).collect();
    let original = |i: usize| {
        &text[tokens[i].start..tokens[i].start + tokens[i].text.len().min(text.len() - tokens[i].start)]
    };
    let mut seen: Vec<Seen> = Vec::new();
    let shouted = !text.bytes().any(|b| b.is_ascii_lowercase());
    let mut filters: BTreeMap<Dimension, Vec<String>> = BTreeMap::new();
    let mut top_n: Option<usize> = None;
    let mut lookup: Option<LookupTarget> = None;
    let mut having: Vec<Having> = Vec::new();
    let mut having_words: Vec<String> = Vec::new();
    let mut amount: Vec<crate::store::metric::AmountCondition> = Vec::new();
    let mut no_currency: Vec<String> = Vec::new();
    let mut points: Option<f64> = None;
    let mut missing: Vec<String> = Vec::new();
    let mut numbers: Vec<f64> = Vec::new();
    // Where each filter value starts, for the negation pass after the loop.
    let mut value_at: Vec<ValueAt> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let mut add_filter =
            |d: Dimension, v: String, len: usize, filters: &mut BTreeMap<Dimension, Vec<String>>| {
                value_at.push(ValueAt { dimension: d, value: v.clone(), start: i, len });
                let values = filters.entry(d).or_default();
                if !values.contains(&v) {
                    values.push(v);
                }
            };
        if used[i] {
            i += 1;
            continue;
        }
        let w = words[i];
        let next = words.get(i + 1).copied().unwrap_or("");
        let prev = if i > 0 { words[i - 1] } else { "" };
        // Merchants by id or name known to the bank.
        if let Some(id) = merchants.by_id(w) {
            add_filter(Dimension::MerchantId, id.to_owned(), 1, &mut filters);
            used[i] = true;
            i += 1;
            continue;
        }
        if let Some((id, n)) = merchants.by_name(&words, i) {
            add_filter(Dimension::MerchantId, id.to_owned(), n, &mut filters);
            used[i..i + n].iter_mut().for_each(|u| *u = true);
            i += n;
            continue;
        }
        // An ISO country code written in capitals is a country ("US", "GB", "DE"; "show us"
        // and "in" are not) — unless the whole question is in capitals or the word means
        // something else ("MC" is Mastercard).
        let code = original(i);
        let capital_code = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
        if capital_code && !shouted && longest_match(&words, i).is_none() {
            if let Some(country) = crate::facts::Country::parse(code) {
                add_filter(issuer_or_merchant(&words, i), country.alpha2().to_owned(), 1, &mut filters);
                used[i] = true;
                i += 1;
                continue;
            }
        }
        // Percentage points and basis points (`5 percentage points`, `50 bps`).
        if let Some((p, n)) = percentage_points(&words, i) {
            points = Some(p);
            used[i..i + n].iter_mut().for_each(|u| *u = true);
            i += n;
            continue;
        }
        // Percentages and the numbers of a what-if.
        if let Some(p) = percent(w, next) {
            numbers.push(p);
            used[i] = true;
            if matches!(next, "percent" | "pct") {
                used[i + 1] = true;
            }
            i += 1;
            continue;
        }
        // `top 5`, `5 merchants`.
        if matches!(prev, "top" | "bottom" | "first")
            || (count(w).is_some()
                && matches!(longest_match(&words, i + 1), Some((Term::Dim(_) | Term::DeclineReasons, _))))
        {
            if let Some(n) = count(w).filter(|n| (1..=100).contains(n)) {
                top_n = Some(n as usize);
                used[i] = true;
                i += 1;
                continue;
            }
        }
        // Amount thresholds: "above 100 USD", "between $10 and $50"; one without a currency
        // is left unplaced (the question is asked back), never given one.
        match amount_phrase(&words, i) {
            Some(AmountPhrase::Conditions(conditions, n)) => {
                amount.extend(conditions);
                used[i..i + n].iter_mut().for_each(|u| *u = true);
                i += n;
                continue;
            }
            Some(AmountPhrase::NoCurrency(n)) => {
                no_currency.push(format!("{}{}", words[i..i + n].join(" "), super::amounts::NO_CURRENCY));
                used[i..i + n].iter_mut().for_each(|u| *u = true);
                i += n;
                continue;
            }
            None => {}
        }
        // Group conditions: "with at least 100 transactions", "more than 5 chargebacks".
        if let Some((condition, n)) = group_condition(&words, i) {
            having.push(condition);
            having_words.push(words[i..i + n].join(" "));
            used[i..i + n].iter_mut().for_each(|u| *u = true);
            i += n;
            continue;
        }
        // Codes: "code 51", "response code 05", "reason code 10.4", "MCC 5812", "BIN 453201".
        let code_context = matches!(prev, "code" | "codes" | "rc" | "response" | "reason" | "mcc" | "bin");
        if is_reason_code(w) && !matches!(prev, "mcc" | "bin") {
            add_filter(Dimension::ReasonCode, w.to_uppercase(), 1, &mut filters);
            lookup.get_or_insert(LookupTarget::ReasonCode(w.to_uppercase()));
            used[i] = true;
            i += 1;
            continue;
        }
        if code_context && prev == "mcc" && w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()) {
            add_filter(Dimension::Mcc, w.to_owned(), 1, &mut filters);
            lookup.get_or_insert(LookupTarget::Mcc(w.to_owned()));
            used[i] = true;
            i += 1;
            continue;
        }
        if code_context
            && prev == "bin"
            && (6..=8).contains(&w.len())
            && w.bytes().all(|b| b.is_ascii_digit())
        {
            add_filter(Dimension::IssuerBin, w.to_owned(), 1, &mut filters);
            used[i] = true;
            i += 1;
            continue;
        }
        if code_context && is_response_code(w) {
            let code = w.to_uppercase();
            add_filter(Dimension::ResponseCode, code.clone(), 1, &mut filters);
            lookup.get_or_insert(LookupTarget::ResponseCode(code));
            used[i] = true;
            i += 1;
            continue;
        }
        // "by day", "per week", "each month", "by hour": a series granularity (but "by day of
        // week" and "by hour of day" are dimensions, which the lexicon finds).
        if matches!(w, "by" | "per" | "each" | "every") && words.get(i + 2) != Some(&"of") {
            let grain = match next {
                "day" | "days" => Some(Granularity::Day),
                "week" | "weeks" => Some(Granularity::Week),
                "month" | "months" => Some(Granularity::Month),
                "hour" | "hours" => Some(Granularity::Hour),
                _ => None,
            };
            if let Some(g) = grain {
                seen.push(Seen { at: i, term: Term::Grain(g) });
                used[i] = true;
                used[i + 1] = true;
                i += 2;
                continue;
            }
        }
        if let Some((term, n)) = longest_match(&words, i) {
            match term {
                Term::Value(Dimension::MerchantCountry, code) => {
                    add_filter(issuer_or_merchant(&words, i + n - 1), (*code).to_owned(), n, &mut filters)
                }
                Term::Value(d, v) => add_filter(*d, (*v).to_owned(), n, &mut filters),
                other => seen.push(Seen { at: i, term: other.clone() }),
            }
            used[i..i + n].iter_mut().for_each(|u| *u = true);
            i += n;
            continue;
        }
        if count(w).is_some() || w.parse::<f64>().is_ok() {
            if let Ok(v) = w.parse::<f64>() {
                numbers.push(v);
            }
            used[i] = true;
        }
        i += 1;
    }
    let excluded = negated_values(&words, &mut used, &value_at, &mut filters);
    let joiners = joined_values(&words, &mut used, &value_at);
    let mut not_understood: Vec<String> = words
        .iter()
        .enumerate()
        .filter(|(k, w)| !used[*k] && !is_stopword(w))
        .map(|(_, w)| (*w).to_owned())
        .chain(no_currency)
        .collect();

    // Metrics, dimensions and cues.
    let mut metrics: Vec<Metric> = Vec::new();
    let mut group_by: Vec<Dimension> = Vec::new();
    let mut cues: Vec<Intent> = Vec::new();
    let mut order_desc: Option<(bool, usize)> = None;
    let mut quality: Option<(bool, usize)> = None;
    let mut granularity: Option<Granularity> = None;
    let mut define = false;
    let mut change: Option<bool> = None;
    let mut factor: Option<f64> = None;
    let mut share: Option<f64> = None;
    let mut decline_reasons = false;
    let mut top_word = false;
    let mut metric_at: Vec<(Metric, usize)> = Vec::new();
    for s in &seen {
        // `which MCC`: the word names the dimension unless a code follows it (`MCC 5812`).
        let mcc_code =
            words.get(s.at + 1).is_some_and(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()));
        let term = match &s.term {
            Term::MccWord if !mcc_code => &Term::Dim(Dimension::Mcc),
            other => other,
        };
        match term {
            Term::Metrics(ms) => {
                for m in *ms {
                    if !metrics.contains(m) {
                        metrics.push(*m);
                        metric_at.push((*m, s.at));
                    }
                }
            }
            Term::DeclineReasons => decline_reasons = true,
            Term::Dim(d) => {
                let before = |k: usize| if s.at >= k { words[s.at - k] } else { "" };
                let grouping = [
                    "by",
                    "per",
                    "across",
                    "each",
                    "which",
                    "what",
                    "top",
                    "bottom",
                    "breakdown",
                    "split",
                    "highest",
                    "lowest",
                    "most",
                    "worst",
                    "best",
                    "every",
                    "among",
                ];
                let contextual = (1..=4).any(|k| grouping.contains(&before(k)));
                let plural = words[s.at].ends_with('s');
                // `by issuer country, only countries with …`: the bare word is the country named.
                let same_country = *d == Dimension::MerchantCountry
                    && matches!(words[s.at], "country" | "countries")
                    && group_by.contains(&Dimension::IssuerCountry);
                if (contextual || plural) && !group_by.contains(d) && !same_country {
                    group_by.push(*d);
                }
            }
            // "declines linked to code 05" names a filter, not a relationship question.
            Term::Cue(Intent::Relationship) if joiners.contains(&s.at) => {}
            Term::Cue(intent) => cues.push(*intent),
            Term::Order(desc) => order_desc = Some((*desc, s.at)),
            Term::Quality(good) => quality = Some((*good, s.at)),
            Term::Grain(g) => granularity = Some(*g),
            Term::Define => define = true,
            Term::Change(up) => change = Some(*up),
            Term::Factor(p) => factor = Some(*p),
            Term::Share(p) => share = Some(*p),
            Term::Top(_) => top_word = true,
            Term::Missing(what) => {
                if !missing.contains(&what.to_string()) {
                    missing.push(what.to_string());
                }
            }
            Term::CodeWord | Term::MccWord | Term::ReasonWord | Term::Noise | Term::Value(..) => {}
        }
    }
    if decline_reasons {
        if !metrics.contains(&Metric::DeclinedCount) {
            metrics.insert(0, Metric::DeclinedCount);
        }
        if !group_by.contains(&Dimension::ResponseCode) {
            group_by.push(Dimension::ResponseCode);
        }
    }
    let has = |i: Intent| cues.contains(&i);
    let lower = text.to_lowercase();
    let fraud_cards = lower.contains("fraud") && (lower.contains("card") || lower.contains("merchant"));

    // Intent, by priority.
    let mut intent = if !missing.is_empty() {
        Intent::Unsupported
    } else if define && lookup.is_some() || (define && metrics.len() == 1 && filters.is_empty()) {
        Intent::Lookup
    } else if has(Intent::Relationship) || (fraud_cards && lower.contains("common")) {
        Intent::Relationship
    } else if has(Intent::WhatIf)
        || (words.contains(&"if")
            && (factor.is_some() || (change.is_some() && (!numbers.is_empty() || share.is_some()))))
    {
        Intent::WhatIf
    } else if has(Intent::Forecast) || (time.future && !metrics.is_empty()) {
        Intent::Forecast
    } else if has(Intent::Why) {
        Intent::Why
    } else if metrics.contains(&Metric::UnmatchedAuthCount)
        || has(Intent::Reconcile)
        || metrics.contains(&Metric::ReconciliationRate)
    {
        Intent::Reconcile
    } else if has(Intent::Anomaly) {
        Intent::Anomaly
    } else if has(Intent::Compare) || time.versus.is_some() {
        Intent::Compare
    } else if has(Intent::Trend) || (granularity.is_some() && group_by.is_empty()) {
        Intent::Trend
    } else if !group_by.is_empty() || top_n.is_some() || top_word || has(Intent::Breakdown) || decline_reasons
    {
        Intent::Breakdown
    } else if lookup.is_some() && metrics.is_empty() {
        Intent::Lookup
    } else if !metrics.is_empty() {
        Intent::Describe
    } else {
        Intent::Unsupported
    };
    // A question with filters or a time but no metric ("how is Visa doing last week?") gets
    // the headline metrics.
    let mut defaulted = false;
    if intent == Intent::Unsupported
        && missing.is_empty()
        && (!filters.is_empty() || time.explicit)
        && not_understood.len() <= 1
        && words.iter().any(|w| {
            matches!(
                *w,
                "how" | "doing" | "performing" | "performance" | "summary" | "overview" | "going" | "status"
            )
        })
    {
        intent = Intent::Describe;
    }
    if metrics.is_empty() {
        defaulted = true;
        metrics = match intent {
            Intent::Describe | Intent::Compare => {
                vec![Metric::TransactionCount, Metric::ApprovalRate, Metric::TransactionAmount]
            }
            Intent::Trend | Intent::Why => vec![Metric::TransactionAmount, Metric::TransactionCount],
            Intent::Anomaly => vec![Metric::TransactionCount],
            Intent::Forecast => vec![Metric::TransactionAmount, Metric::TransactionCount],
            // `which BINs had zero approvals`: the groups are counted, not their sales.
            Intent::Breakdown if !having.is_empty() => vec![Metric::TransactionCount],
            Intent::Breakdown => vec![Metric::TransactionAmount],
            Intent::Reconcile => {
                vec![Metric::UnmatchedAuthCount, Metric::ReconciliationRate, Metric::SettlementDelayHours]
            }
            Intent::Relationship
            | Intent::Lookup
            | Intent::WhatIf
            | Intent::Clarify
            | Intent::Unsupported => vec![],
        };
    }
    if intent == Intent::Anomaly {
        metrics = counted_events(&metrics, &metric_at, &words);
    }
    if intent == Intent::Reconcile {
        for m in [Metric::UnmatchedAuthCount, Metric::ReconciliationRate] {
            if !metrics.contains(&m) {
                metrics.push(m);
            }
        }
    }

    // Lookups of a term ("what does chargeback rate mean").
    if intent == Intent::Lookup && lookup.is_none() {
        lookup = metrics.first().map(|m| LookupTarget::Term(m.as_str().to_owned()));
    }
    // Relationship target: a merchant named in the question, else common point of purchase.
    let relationship = (intent == Intent::Relationship).then(|| match filters.get(&Dimension::MerchantId) {
        Some(ids) if !fraud_cards => RelationshipTarget::Merchant { merchant_id: ids[0].clone() },
        _ => RelationshipTarget::CommonPointOfPurchase,
    });
    if intent == Intent::Relationship || intent == Intent::Lookup {
        metrics.clear();
    }

    // Order and top-N for breakdowns: the metric named right after the order word, else the first.
    let order_metric =
        |at: usize| metric_at.iter().filter(|(_, k)| *k > at).min_by_key(|(_, k)| *k).map(|(m, _)| *m);
    let mut order = None;
    if intent == Intent::Breakdown || intent == Intent::Compare {
        if let Some((desc, at)) = order_desc {
            order = order_metric(at)
                .or(metrics.first().copied())
                .map(|metric| Order { metric, descending: desc });
        } else if let Some((good, at)) = quality {
            order = order_metric(at).or(metrics.first().copied()).map(|metric| {
                let higher_is_better = matches!(
                    metric,
                    Metric::ApprovalRate
                        | Metric::ReconciliationRate
                        | Metric::TransactionAmount
                        | Metric::TransactionCount
                        | Metric::ApprovedCount
                        | Metric::SettledAmount
                );
                Order { metric, descending: good == higher_is_better }
            });
        } else if intent == Intent::Breakdown {
            order = metrics.first().map(|m| Order { metric: *m, descending: true });
        }
        if intent == Intent::Breakdown && group_by.is_empty() {
            group_by.push(if decline_reasons { Dimension::ResponseCode } else { Dimension::MerchantId });
        }
        if intent == Intent::Breakdown {
            top_n = Some(top_n.unwrap_or(if decline_reasons { 5 } else { 10 }));
        }
    }
    // Comparisons: two values of one dimension, or two periods.
    let mut compare = None;
    if intent == Intent::Compare {
        if let Some((d, values)) = filters.iter().find(|(_, v)| v.len() >= 2) {
            compare = Some(Comparison::Entities { dimension: *d, values: values.clone() });
        } else if !group_by.is_empty() && time.versus.is_none() {
            compare = Some(Comparison::Entities { dimension: group_by[0], values: vec![] });
        } else {
            let previous = time.versus.unwrap_or_else(|| time.range.previous());
            compare = Some(Comparison::Periods { current: time.range, previous });
        }
    }
    if intent == Intent::Why && time.versus.is_none() {
        time.versus = Some(time.range.previous());
    }
    // Series granularity: asked for, or sensible for the range.
    if matches!(intent, Intent::Trend | Intent::Anomaly | Intent::Forecast) && granularity.is_none() {
        let days = time.range.len_millis() / MS_PER_DAY;
        granularity = Some(match days {
            0..=2 => Granularity::Hour,
            3..=120 => Granularity::Day,
            121..=730 => Granularity::Week,
            _ => Granularity::Month,
        });
    }
    // What-if scenario: the first metric, changed by a factor (`doubles`), or by the first
    // percentage or a fraction (`by a third`) signed by the verb.
    let scenario = (intent == Intent::WhatIf).then(|| {
        let metric = metrics.first().copied().unwrap_or(Metric::TransactionAmount);
        let percent = factor.unwrap_or_else(|| {
            let magnitude = numbers.first().copied().or(share).unwrap_or(10.0).abs();
            if change == Some(false) {
                -magnitude
            } else {
                magnitude
            }
        });
        match points {
            Some(p) => {
                Scenario { metric, percent: None, points: Some(if change == Some(false) { -p } else { p }) }
            }
            None => Scenario::percent(metric, percent),
        }
    });
    if intent == Intent::WhatIf && metrics.is_empty() {
        metrics.push(Metric::TransactionAmount);
    }

    // Hour and weekday restrictions from the time expressions become filters.
    if !time.hours.is_empty() {
        filters.insert(Dimension::HourOfDay, time.hours.iter().map(|h| h.to_string()).collect());
    }
    if !time.weekdays.is_empty() {
        filters.insert(
            Dimension::DayOfWeek,
            time.weekdays.iter().map(|d| crate::store::metric::WEEKDAYS[*d as usize].to_owned()).collect(),
        );
    }
    for (name, value) in request_filters {
        let d = request_filter_dimension(name)?;
        let values = filters.entry(d).or_default();
        if !values.contains(value) {
            values.push(value.clone());
        }
    }
    // A filter value that is also being compared stays a filter; a dimension filtered to one
    // value is not also grouped by.
    group_by.retain(|d| filters.get(d).is_none_or(|v| v.len() > 1 || intent == Intent::Compare));
    if group_by.len() > crate::store::metric::MetricQuery::MAX_GROUP_BY {
        group_by.truncate(crate::store::metric::MetricQuery::MAX_GROUP_BY);
    }
    // `for all networks except Visa`: the dimension only named what is left out; with no
    // ranking asked for and nothing to group by, the question asks for a total.
    if intent == Intent::Breakdown
        && group_by.is_empty()
        && !top_word
        && !has(Intent::Breakdown)
        && order_desc.is_none()
        && quality.is_none()
    {
        intent = Intent::Describe;
        order = None;
        top_n = None;
    }

    // A condition on groups means something only in a ranking of groups; anywhere else it
    // is a part of the question that would be left out.
    if !having.is_empty() && (intent != Intent::Breakdown || group_by.is_empty()) {
        having.clear();
        not_understood.append(&mut having_words);
    }
    // An anomaly is found day by day: "unusual days" asks nothing more.
    if intent == Intent::Anomaly {
        not_understood.retain(|w| !matches!(w.as_str(), "day" | "days"));
    }
    let content = words.iter().filter(|w| !is_stopword(w)).count().max(1);
    let unknown = not_understood.len();
    let mut confidence = match intent {
        Intent::Unsupported => 0.2,
        _ => 0.95 - 0.12 * unknown as f64 - if defaulted { 0.1 } else { 0.0 },
    };
    if unknown * 2 > content && intent != Intent::Unsupported {
        confidence -= 0.2;
    }
    let confidence = (confidence.clamp(0.05, 0.99) * 100.0).round() / 100.0;
    let filters = filters
        .into_iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(dimension, values)| Filter::one_of(dimension, values))
        .chain(excluded.into_iter().map(|(dimension, values)| Filter::none_of(dimension, values)))
        .collect();
    Ok(Question {
        text: text.to_owned(),
        intent,
        metrics,
        filters,
        amount,
        group_by,
        top_n,
        having,
        missing,
        order,
        as_of,
        time,
        compare,
        granularity,
        scenario,
        lookup,
        relationship,
        not_understood,
        refused: None,
        confidence,
    })
}

/// Anomaly detection counts events day by day, so there a plural event noun (`chargebacks`,
/// `approvals`, `declines`) means how many: the count of its family instead of its amount or
/// rate. A rate or amount named as such ("approval rate", "sales") stays, and is refused
/// when the query is checked rather than answered as a count.
fn counted_events(metrics: &[Metric], metric_at: &[(Metric, usize)], words: &[&str]) -> Vec<Metric> {
    use Metric::*;
    const EVENTS: [&str; 10] = [
        "approvals",
        "declines",
        "chargebacks",
        "disputes",
        "refunds",
        "settlements",
        "transactions",
        "authorizations",
        "authorisations",
        "frauds",
    ];
    let mut out: Vec<Metric> = Vec::new();
    for m in metrics {
        let word = metric_at.iter().find(|(x, _)| x == m).and_then(|(_, at)| words.get(*at)).copied();
        let counted = match m {
            ApprovalRate => ApprovedCount,
            DeclineRate => DeclinedCount,
            ChargebackAmount | ChargebackRate => ChargebackCount,
            FraudAmount | FraudRate => FraudCount,
            RefundAmount => RefundCount,
            SettledAmount => SettledCount,
            ClearedAmount => ClearedCount,
            TransactionAmount => TransactionCount,
            other => *other,
        };
        let m = if word.is_some_and(|w| EVENTS.contains(&w)) { counted } else { *m };
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// The (min, max) a number gives (`at least 5`: 5 and up).
type Bound = fn(u64) -> (Option<u64>, Option<u64>);

/// A bound on a group's count at `words[i]`: `at least 100 transactions`, `at most 3
/// chargebacks`, `more than 50 declines`, `fewer than 10 refunds`, `over 100 transactions`,
/// `100 or more transactions`. Returns the condition and the tokens it spans.
fn group_condition(words: &[&str], i: usize) -> Option<(Having, usize)> {
    let w = |k: usize| words.get(k).copied().unwrap_or("");
    // `no chargebacks`, `zero fraud`, `without any refunds`: none at all.
    let none = match (w(i), w(i + 1)) {
        ("no" | "zero" | "0", _) => Some(1),
        ("without", "any") => Some(2),
        ("without", _) => Some(1),
        _ => None,
    };
    if let Some(lead) = none {
        let (term, len) = longest_match(words, i + lead)?;
        let Term::Metrics(ms) = term else { return None };
        // `no approvals` counts approvals, whatever the noun names elsewhere.
        let at: Vec<(Metric, usize)> = ms.iter().map(|m| (*m, i + lead)).collect();
        let counted = counted_events(ms, &at, words);
        let metric = counted.into_iter().find(|m| m.unit() == crate::store::metric::Unit::Count)?;
        return Some((Having { metric, min: None, max: Some(0) }, lead + len));
    }
    // (bound, where the number is, where the noun is); the bound is applied to the number.
    let (bound, at, noun): (Bound, usize, usize) = match (w(i), w(i + 1), w(i + 2)) {
        ("at", "least", _) => (|n| (Some(n), None), i + 2, i + 3),
        ("at", "most", _) => (|n| (None, Some(n)), i + 2, i + 3),
        ("more" | "over" | "above", "than", _) => (|n| (Some(n + 1), None), i + 2, i + 3),
        ("fewer" | "less" | "under" | "below", "than", _) => {
            (|n| (None, Some(n.saturating_sub(1))), i + 2, i + 3)
        }
        ("over" | "above", _, _) => (|n| (Some(n + 1), None), i + 1, i + 2),
        ("under" | "below", _, _) => (|n| (None, Some(n.saturating_sub(1))), i + 1, i + 2),
        (_, "or", "more") => (|n| (Some(n), None), i, i + 3),
        (_, "or", "fewer" | "less") => (|n| (None, Some(n)), i, i + 3),
        _ => return None,
    };
    let n = count(w(at)).map(u64::from).or_else(|| w(at).parse::<u64>().ok())?;
    let (term, len) = longest_match(words, noun)?;
    let Term::Metrics(ms) = term else { return None };
    let metric = ms.iter().copied().find(|m| m.unit() == crate::store::metric::Unit::Count)?;
    let (min, max) = bound(n);
    Some((Having { metric, min, max }, noun + len - i))
}

/// A word read as another in its place: `mean` before a noun is `average` (`mean ticket
/// size`), not a request for a definition (`what does 51 mean`).
fn synonym(tokens: &[Token], k: usize) -> Option<&'static str> {
    let w = |j: usize| tokens.get(j).map_or("", |t| t.text.as_str());
    (w(k) == "mean" && !w(k + 1).is_empty() && !is_stopword(w(k + 1))).then_some("average")
}

/// Words that tie what is counted to a value the question names — `declines linked to code
/// 05`, `chargebacks associated with Visa`: they say "with", not "find relationships".
const JOINERS: &[&str] = &["linked", "connected", "related", "associated", "tied", "attributed"];

/// Marks the joining words before named values understood (`linked to`, `associated with`,
/// also across the value's keyword: `linked to code 05`) and returns where they stand.
fn joined_values(words: &[&str], used: &mut [bool], value_at: &[ValueAt]) -> Vec<usize> {
    let mut joiners = Vec::new();
    // Words naming the kind of value between the preposition and the value (`response code`).
    const KEYWORDS: &[&str] = &["code", "codes", "response", "reason", "merchant", "mcc", "bin", "network"];
    for v in value_at {
        let mut to = v.start;
        while to > 0 && KEYWORDS.contains(&words[to - 1]) {
            to -= 1;
        }
        let Some(to) = to.checked_sub(1) else { continue };
        if to >= 1 && matches!(words[to], "to" | "with") && JOINERS.contains(&words[to - 1]) {
            used[to - 1] = true;
            used[to] = true;
            joiners.push(to - 1);
        }
    }
    joiners
}

/// A filter value the question names, and the tokens it spans.
struct ValueAt {
    dimension: Dimension,
    value: String,
    start: usize,
    len: usize,
}

/// Words that exclude the values after them: `excluding Visa`, `except Amex`, `other than
/// Mastercard`, `non-Visa`, `not on Visa`, `without Discover`.
const NEGATORS: &[&str] = &[
    "excluding",
    "exclude",
    "excludes",
    "except",
    "but",
    "counting",
    "including",
    "non",
    "not",
    "without",
    "than",
    "out",
    "omitting",
    "omit",
];

/// The words a two-word negator's second word needs before it (`other than`, `leave out`).
fn negator_pair(w: &str) -> Option<&'static [&'static str]> {
    match w {
        "than" => Some(&["other", "rather"]),
        "out" => Some(&["leave", "leaving", "left", "leaves"]),
        "but" => Some(&["anything", "everything", "all"]),
        "counting" | "including" => Some(&["not"]),
        _ => None,
    }
}

/// Words that may stand between a negator and the values it excludes (`not on Visa`,
/// `excluding Visa and Mastercard`).
const BETWEEN: &[&str] =
    &["and", "or", "nor", "on", "in", "from", "of", "the", "a", "an", "via", "by", "with", "for"];

/// Moves the filter values a negator governs out of `filters`, into the excluded values it
/// returns, and marks the negator words understood. A value is negated when walking back from
/// it over other values and joining words reaches a negator (`than` only after `other`).
fn negated_values(
    words: &[&str],
    used: &mut [bool],
    value_at: &[ValueAt],
    filters: &mut BTreeMap<Dimension, Vec<String>>,
) -> BTreeMap<Dimension, Vec<String>> {
    let in_value = |k: usize| value_at.iter().any(|v| (v.start..v.start + v.len).contains(&k));
    let mut excluded: BTreeMap<Dimension, Vec<String>> = BTreeMap::new();
    // Negators this pass has read (a list's later values reach the same one).
    let mut claimed: Vec<usize> = Vec::new();
    for ValueAt { dimension: d, value: v, start, .. } in value_at {
        let mut k = *start;
        let negator = loop {
            if k == 0 {
                break None;
            }
            k -= 1;
            let w = words[k];
            let is_negator = NEGATORS.contains(&w)
                && negator_pair(w).is_none_or(|before| k > 0 && before.contains(&words[k - 1]));
            if is_negator && (!used[k] || claimed.contains(&k)) {
                break Some(k);
            }
            // Skip over earlier values of a list and the words that join them.
            if !(BETWEEN.contains(&w) || in_value(k)) {
                break None;
            }
        };
        let Some(k) = negator else { continue };
        used[k] = true;
        claimed.push(k);
        if negator_pair(words[k]).is_some() {
            used[k - 1] = true;
        }
        if let Some(values) = filters.get_mut(d) {
            values.retain(|x| x != v);
        }
        let out = excluded.entry(*d).or_default();
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    excluded
}

/// Reads a language model's proposal for a question the grammar could not place: a typed
/// query (docs/query.md), checked exactly like a `POST /query` body. The question's own period
/// and `as_of` stand where the proposal names none. Returns its restatement, or why it was
/// refused.
pub fn apply_proposal(q: &mut Question, v: &serde_json::Value) -> std::result::Result<String, String> {
    let mut proposal: super::typed::TypedQuery =
        serde_json::from_value(v.clone()).map_err(|e| format!("it is not a typed query ({e})"))?;
    if proposal.analysis == Intent::Unsupported {
        return Err("the model could not read it either".into());
    }
    proposal.as_of = Some(q.as_of);
    if proposal.time.is_none() && q.time.explicit {
        proposal.time = Some(super::typed::TypedQuery::of(q).time.unwrap_or_default());
    }
    let resolved = proposal.resolve(q.as_of).map_err(|e| e.public_message())?;
    let text = std::mem::take(&mut q.text);
    *q = Question { text, confidence: 0.7, ..resolved };
    Ok(q.restatement())
}

/// A country word names the issuer when it qualifies cards or issuers ("French cards",
/// "issued in Germany", "cards from the UK"), else the merchant.
fn issuer_or_merchant(words: &[&str], i: usize) -> Dimension {
    let next = words.get(i + 1).copied().unwrap_or("");
    let before: Vec<&str> = words[i.saturating_sub(3)..i].to_vec();
    if matches!(next, "cards" | "card" | "issuers" | "issuer" | "cardholders" | "issued")
        || before.iter().any(|w| matches!(*w, "issued" | "issuer" | "issuers" | "cardholders"))
        || (before.contains(&"cards") && before.contains(&"from"))
    {
        Dimension::IssuerCountry
    } else {
        Dimension::MerchantCountry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Question {
        let merchants = MerchantLexicon::new([
            ("M000077".to_owned(), Some("Cedar Electronics 77".to_owned())),
            ("M000161".to_owned(), Some("Harbor Casino 161".to_owned())),
        ]);
        let as_of = Timestamp::parse_rfc3339("2026-11-01T00:00:00Z").unwrap();
        parse(text, as_of, &TimeRangeSpec::default(), &BTreeMap::new(), &merchants).unwrap()
    }

    #[test]
    fn exclusions_exclude() {
        let network =
            |v: &[&str]| Filter::none_of(Dimension::Network, v.iter().map(|s| (*s).to_owned()).collect());
        for text in [
            "Approval rate excluding Visa last week",
            "approval rate except visa",
            "Approval rate for non-Visa cards",
            "approval rate other than Visa",
            "approval rate not on Visa",
            "What's the approval rate without Visa?",
        ] {
            let x = q(text);
            assert_eq!(x.filters, vec![network(&["visa"])], "{text}");
            assert!(x.not_understood.is_empty(), "{text}: {:?}", x.not_understood);
        }
        let x = q("Approval rate excluding Visa and Mastercard");
        assert_eq!(x.filters, vec![network(&["visa", "mastercard"])]);
        // Included and excluded values side by side.
        let x = q("Approval rate in EUR excluding Amex");
        assert!(x.filters.contains(&Filter::eq(Dimension::Currency, "EUR")), "{:?}", x.filters);
        assert!(x.filters.contains(&network(&["amex"])), "{:?}", x.filters);
        // A negator before no value is left alone.
        let x = q("How many authorizations are not settled yet?");
        assert!(x.filters.iter().all(|f| !f.exclude), "{:?}", x.filters);
    }

    #[test]
    fn named_days_and_to_date_periods_are_ranges_not_filters() {
        // as_of is Sunday 2026-11-01.
        let x = q("Sales last Friday");
        assert_eq!(
            (x.time.range.from.to_string(), x.time.range.to.to_string()),
            ("2026-10-30T00:00:00Z".into(), "2026-10-31T00:00:00Z".into())
        );
        assert!(
            x.filters.is_empty() && x.not_understood.is_empty(),
            "{:?} {:?}",
            x.filters,
            x.not_understood
        );
        let x = q("Approval rate since Monday");
        assert_eq!(x.time.range.from.to_string(), "2026-10-26T00:00:00Z");
        assert!(x.filters.is_empty(), "{:?}", x.filters);
        let x = q("What's our YTD sales?");
        assert_eq!(x.time.range.from.to_string(), "2026-01-01T00:00:00Z");
        assert!(x.not_understood.is_empty(), "{:?}", x.not_understood);
    }

    #[test]
    fn group_conditions() {
        let x = q("Top 5 merchants by approval rate with at least 100 transactions");
        assert_eq!(
            (x.intent, x.group_by.clone(), x.top_n),
            (Intent::Breakdown, vec![Dimension::MerchantId], Some(5))
        );
        assert_eq!(x.metrics, vec![Metric::ApprovalRate]);
        assert_eq!(x.order, Some(Order { metric: Metric::ApprovalRate, descending: true }));
        assert_eq!(x.having, vec![Having { metric: Metric::TransactionCount, min: Some(100), max: None }]);
        assert!(x.not_understood.is_empty(), "{:?}", x.not_understood);
        let x = q("merchants with more than 5 chargebacks by chargeback rate");
        assert_eq!(x.having, vec![Having { metric: Metric::ChargebackCount, min: Some(6), max: None }]);
        let x = q("networks by approval rate with fewer than 1000 transactions");
        assert_eq!(x.having, vec![Having { metric: Metric::TransactionCount, min: None, max: Some(999) }]);
        // Without groups, a condition would be left out: the question is asked back.
        let x = q("approval rate with at least 100 transactions");
        assert!(x.having.is_empty() && !x.not_understood.is_empty(), "{:?}", x.not_understood);
    }

    #[test]
    fn mean_is_average_and_linked_to_a_value_is_a_filter() {
        let x = q("What is the mean ticket size?");
        assert_eq!((x.intent, x.metrics.clone()), (Intent::Describe, vec![Metric::AverageTicket]));
        let x = q("What does response code 51 mean?");
        assert_eq!(x.intent, Intent::Lookup);
        let x = q("How many declines are linked to code 05?");
        assert_eq!((x.intent, x.metrics.clone()), (Intent::Describe, vec![Metric::DeclinedCount]));
        assert_eq!(x.filters, vec![Filter::eq(Dimension::ResponseCode, "05")]);
        assert!(x.not_understood.is_empty(), "{:?}", x.not_understood);
        for text in ["declines associated with code 05", "How many declines are related to response code 05?"]
        {
            let x = q(text);
            assert_eq!(x.filters, vec![Filter::eq(Dimension::ResponseCode, "05")], "{text}");
            assert!(
                x.not_understood.is_empty() && x.intent != Intent::Relationship,
                "{text}: {:?}",
                x.not_understood
            );
        }
        let x = q("Which merchants are linked to our fraud cards?");
        assert_eq!(x.intent, Intent::Relationship);
    }

    #[test]
    fn rankings_by_bin() {
        for text in ["Which BIN has the most declines?", "declines by BIN", "top 5 BINs by declines"] {
            let x = q(text);
            assert_eq!(
                (x.intent, x.group_by.clone()),
                (Intent::Breakdown, vec![Dimension::IssuerBin]),
                "{text}"
            );
            assert!(x.not_understood.is_empty(), "{text}: {:?}", x.not_understood);
        }
        let x = q("approval rate for BIN 453201");
        assert_eq!(x.filters, vec![Filter::eq(Dimension::IssuerBin, "453201")]);
        assert!(x.group_by.is_empty());
    }

    #[test]
    fn what_if_changes_in_percentage_points() {
        for (text, metric, points) in [
            ("What if the approval rate goes up 5 percentage points?", Metric::ApprovalRate, 5.0),
            ("What if the decline rate falls by 50 bps?", Metric::DeclineRate, -0.5),
            ("what if approval rate drops 2pp", Metric::ApprovalRate, -2.0),
            ("What if the fraud rate rises 10 basis points?", Metric::FraudRate, 0.1),
        ] {
            let x = q(text);
            assert_eq!(x.intent, Intent::WhatIf, "{text}");
            assert_eq!(x.scenario, Some(Scenario { metric, percent: None, points: Some(points) }), "{text}");
        }
    }

    #[test]
    fn what_if_factors_and_fractions() {
        for (text, metric, percent) in [
            ("What if fraud doubles?", Metric::FraudCount, 100.0),
            ("what if chargebacks triple", Metric::ChargebackCount, 200.0),
            ("What if refunds are halved?", Metric::RefundCount, -50.0),
            ("What if sales fall by a third?", Metric::TransactionAmount, -100.0 / 3.0),
            ("What if the approval rate rises by half?", Metric::ApprovalRate, 50.0),
            ("What if fraud increases 20%?", Metric::FraudCount, 20.0),
            ("If chargebacks double, what happens?", Metric::ChargebackCount, 100.0),
        ] {
            let x = q(text);
            assert_eq!(x.intent, Intent::WhatIf, "{text}");
            let s = x.scenario.unwrap_or_else(|| panic!("{text}: no scenario"));
            assert_eq!(s.metric, metric, "{text}");
            assert!((s.percent.unwrap() - percent).abs() < 1e-9, "{text}: {:?}", s.percent);
        }
    }

    #[test]
    fn contract_questions() {
        let x = q("What is the transaction volume?");
        assert_eq!(
            (x.intent, x.metrics.clone()),
            (Intent::Describe, vec![Metric::TransactionCount, Metric::TransactionAmount])
        );
        let x = q("Approval rate for Visa last week");
        assert_eq!((x.intent, x.metrics.clone()), (Intent::Describe, vec![Metric::ApprovalRate]));
        assert_eq!(x.filters, vec![Filter::eq(Dimension::Network, "visa")]);
        assert!(x.time.explicit);
        let x = q("Compare Visa vs Mastercard approval rates");
        assert_eq!(x.intent, Intent::Compare);
        assert_eq!(
            x.compare,
            Some(Comparison::Entities {
                dimension: Dimension::Network,
                values: vec!["visa".into(), "mastercard".into()]
            })
        );
        let x = q("Which merchants have the highest chargebacks?");
        assert_eq!((x.intent, x.group_by.clone()), (Intent::Breakdown, vec![Dimension::MerchantId]));
        assert_eq!(x.order, Some(Order { metric: Metric::ChargebackCount, descending: true }));
        let x = q("Top 5 decline reasons in October");
        assert_eq!(
            (x.intent, x.top_n, x.group_by.clone()),
            (Intent::Breakdown, Some(5), vec![Dimension::ResponseCode])
        );
        assert_eq!(x.metrics[0], Metric::DeclinedCount);
        let x = q("Why did settlement amounts drop last week?");
        assert_eq!((x.intent, x.metrics.clone()), (Intent::Why, vec![Metric::SettledAmount]));
        assert!(x.time.versus.is_some());
        let x = q("Show me the decline patterns after 10 PM");
        assert_eq!(x.intent, Intent::Breakdown);
        assert!(x
            .filters
            .iter()
            .any(|f| f.dimension == Dimension::HourOfDay && f.values == vec!["22", "23"]));
        let x = q("What's the forecast for next month?");
        assert_eq!(x.intent, Intent::Forecast);
        assert!(x.time.future);
        let x = q("What if fraud increases 20%?");
        assert_eq!(x.intent, Intent::WhatIf);
        assert_eq!(x.scenario, Some(Scenario::percent(Metric::FraudCount, 20.0)));
        let x = q("How many authorizations are not settled yet?");
        assert_eq!(x.intent, Intent::Reconcile);
        assert!(x.metrics.contains(&Metric::UnmatchedAuthCount));
        let x = q("What does response code 51 mean?");
        assert_eq!(
            (x.intent, x.lookup.clone()),
            (Intent::Lookup, Some(LookupTarget::ResponseCode("51".into())))
        );
        let x = q("Which merchants did our fraud cards have in common before the fraud?");
        assert_eq!(
            (x.intent, x.relationship.clone()),
            (Intent::Relationship, Some(RelationshipTarget::CommonPointOfPurchase))
        );
    }

    #[test]
    fn typos_slang_and_unknowns() {
        let x = q("aproval rate for MC");
        assert_eq!((x.intent, x.metrics.clone()), (Intent::Describe, vec![Metric::ApprovalRate]));
        assert_eq!(x.filters, vec![Filter::eq(Dimension::Network, "mastercard")]);
        let x = q("how many txns yesterday");
        assert_eq!(x.metrics, vec![Metric::TransactionCount]);
        let x = q("chargebaks by merchant");
        assert_eq!((x.intent, x.group_by.clone()), (Intent::Breakdown, vec![Dimension::MerchantId]));
        let x = q("What's the weather in Paris?");
        assert_eq!(x.intent, Intent::Unsupported);
        assert!(x.confidence <= 0.3 && x.not_understood.contains(&"weather".to_string()));
        let x = q("sales for Cedar Electronics 77 in euros");
        assert!(x.filters.contains(&Filter::eq(Dimension::MerchantId, "M000077")));
        assert!(x.filters.contains(&Filter::eq(Dimension::Currency, "EUR")));
        let x = q("approval rate of French cards");
        assert!(x.filters.contains(&Filter::eq(Dimension::IssuerCountry, "FR")));
    }
}
