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
use crate::store::metric::{AmountOp, Dimension, Filter, Granularity, Having, Metric, Order, Unit};

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

/// Parses a question: the time expressions first (`time`), then the phrases of the rest, one
/// small rule at a time (`Draft::phrase_at`), then what the lexicon's terms say, the intent,
/// and the shape of the answer asked for. Every step is a method of [`Draft`].
pub fn parse(
    text: &str,
    as_of: Timestamp,
    fallback: &TimeRangeSpec,
    request_filters: &BTreeMap<String, String>,
    merchants: &MerchantLexicon,
) -> Result<Question> {
    let tokens: Vec<Token> = tokenize(text);
    let resolved = resolve(&tokens, as_of, fallback)?;
    let words: Vec<&str> =
        tokens.iter().enumerate().map(|(k, t)| synonym(&tokens, k).unwrap_or(&t.text)).collect();
    let mut draft = Draft::new(text, &tokens, &words, merchants, as_of, resolved.spec);
    for i in resolved.consumed {
        draft.used[i] = true;
    }
    draft.read_phrases();
    draft.place_terms();
    draft.intent = draft.decide_intent();
    draft.default_metrics();
    draft.targets();
    draft.ranking();
    draft.comparison();
    draft.series_granularity();
    draft.scenario = draft.scenario();
    draft.restrictions(request_filters)?;
    draft.tidy_groups();
    Ok(draft.finish())
}

/// A question being read: the words, which of them are placed, and everything read so far.
struct Draft<'a> {
    text: &'a str,
    tokens: &'a [Token],
    words: &'a [&'a str],
    merchants: &'a MerchantLexicon,
    as_of: Timestamp,
    time: super::time::TimeSpec,
    /// Whether each word is part of the reading.
    used: Vec<bool>,
    /// Lexicon terms and where they stand.
    seen: Vec<Seen>,
    /// Values the question names, by dimension, and where each stands.
    filters: BTreeMap<Dimension, Vec<String>>,
    value_at: Vec<ValueAt>,
    /// Values excluded (`excluding Visa`).
    excluded: BTreeMap<Dimension, Vec<String>>,
    /// Where joining words stand (`linked to`).
    joiners: Vec<usize>,
    amount: Vec<crate::store::metric::AmountCondition>,
    having: Vec<Having>,
    having_words: Vec<String>,
    top_n: Option<usize>,
    lookup: Option<LookupTarget>,
    numbers: Vec<f64>,
    /// The words the numbers were read from: a what-if's size, otherwise unplaced.
    number_words: Vec<String>,
    /// True when a number was written as a percentage (`25%`, `25 percent`).
    percented: bool,
    points: Option<f64>,
    missing: Vec<String>,
    not_understood: Vec<String>,
    // What the terms say.
    metrics: Vec<Metric>,
    metric_at: Vec<(Metric, usize)>,
    group_by: Vec<Dimension>,
    cues: Vec<Intent>,
    order_desc: Option<(bool, usize)>,
    quality: Option<(bool, usize)>,
    granularity: Option<Granularity>,
    define: bool,
    change: Option<bool>,
    factor: Option<f64>,
    share: Option<f64>,
    decline_reasons: bool,
    top_word: bool,
    // The answer's shape.
    intent: Intent,
    defaulted: bool,
    order: Option<Order>,
    compare: Option<Comparison>,
    scenario: Option<Scenario>,
    relationship: Option<RelationshipTarget>,
}

/// A phrase rule: the tokens it reads at a position, if it applies there.
type Rule<'a> = fn(&mut Draft<'a>, usize) -> Option<usize>;

impl<'a> Draft<'a> {
    fn new(
        text: &'a str,
        tokens: &'a [Token],
        words: &'a [&'a str],
        merchants: &'a MerchantLexicon,
        as_of: Timestamp,
        time: super::time::TimeSpec,
    ) -> Draft<'a> {
        Draft {
            text,
            tokens,
            words,
            merchants,
            as_of,
            time,
            used: vec![false; words.len()],
            seen: Vec::new(),
            filters: BTreeMap::new(),
            value_at: Vec::new(),
            excluded: BTreeMap::new(),
            joiners: Vec::new(),
            amount: Vec::new(),
            having: Vec::new(),
            having_words: Vec::new(),
            top_n: None,
            lookup: None,
            numbers: Vec::new(),
            number_words: Vec::new(),
            percented: false,
            points: None,
            missing: Vec::new(),
            not_understood: Vec::new(),
            metrics: Vec::new(),
            metric_at: Vec::new(),
            group_by: Vec::new(),
            cues: Vec::new(),
            order_desc: None,
            quality: None,
            granularity: None,
            define: false,
            change: None,
            factor: None,
            share: None,
            decline_reasons: false,
            top_word: false,
            intent: Intent::Unsupported,
            defaulted: false,
            order: None,
            compare: None,
            scenario: None,
            relationship: None,
        }
    }

    fn w(&self, i: usize) -> &'a str {
        self.words.get(i).copied().unwrap_or("")
    }

    /// The word at `i` as written in the question.
    fn original(&self, i: usize) -> &'a str {
        let t = &self.tokens[i];
        &self.text[t.start..t.start + t.text.len().min(self.text.len() - t.start)]
    }

    fn has(&self, i: Intent) -> bool {
        self.cues.contains(&i)
    }

    /// Records a value the question names at `at` (`len` words).
    fn add_filter(&mut self, d: Dimension, v: String, at: usize, len: usize) {
        self.value_at.push(ValueAt { dimension: d, value: v.clone(), start: at, len });
        let values = self.filters.entry(d).or_default();
        if !values.contains(&v) {
            values.push(v);
        }
    }

    /// The phrase rules, in the order they are tried at each word.
    const RULES: [Rule<'a>; 12] = [
        Self::merchant_at,
        Self::country_code_at,
        Self::rate_condition_at,
        Self::points_at,
        Self::percent_at,
        Self::top_n_at,
        Self::amount_at,
        Self::group_condition_at,
        Self::code_at,
        Self::grain_at,
        Self::term_at,
        Self::number_at,
    ];

    /// Reads the words left after the time expressions, phrase by phrase; then the negations
    /// and joining words that govern the values read, and what stays unplaced.
    fn read_phrases(&mut self) {
        let mut i = 0;
        while i < self.words.len() {
            if self.used[i] {
                i += 1;
                continue;
            }
            match Self::RULES.iter().find_map(|rule| rule(self, i)) {
                Some(n) => {
                    self.used[i..i + n].iter_mut().for_each(|u| *u = true);
                    i += n;
                }
                None => i += 1,
            }
        }
        self.mean_words();
        self.excluded = negated_values(self.words, &mut self.used, &self.value_at, &mut self.filters);
        self.joiners = joined_values(self.words, &mut self.used, &self.value_at);
        let unplaced = self.words.iter().enumerate().filter(|(k, w)| !self.used[*k] && !is_stopword(w));
        let unplaced: Vec<String> = unplaced.map(|(_, w)| (*w).to_owned()).collect();
        self.not_understood.splice(0..0, unplaced);
    }

    /// `average` or `mean` before a metric that is a mean already (`average settlement delay`)
    /// says nothing more: it is placed with the metric.
    fn mean_words(&mut self) {
        for s in &self.seen {
            let Term::Metrics(ms) = &s.term else { continue };
            let mean = ms
                .iter()
                .all(|m| m.unit() == crate::store::metric::Unit::Hours || *m == Metric::AverageTicket);
            if let Some(before) = s.at.checked_sub(1) {
                if mean && matches!(self.words[before], "average" | "mean" | "avg") {
                    self.used[before] = true;
                }
            }
        }
    }

    /// Merchants by id or by name (misspelt by a slip per word at most).
    fn merchant_at(&mut self, i: usize) -> Option<usize> {
        let (id, n) = match self.merchants.by_id(self.w(i)) {
            Some(id) => (id, 1),
            None => self.merchants.by_name(self.words, i)?,
        };
        self.add_filter(Dimension::MerchantId, id.to_owned(), i, n);
        Some(n)
    }

    /// An ISO country code written in capitals is a country ("US", "GB", "DE"; "show us" and
    /// "in" are not) — unless the whole question is in capitals or the word means something
    /// else ("MC" is Mastercard).
    fn country_code_at(&mut self, i: usize) -> Option<usize> {
        let code = self.original(i);
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let shouted = !self.text.bytes().any(|b| b.is_ascii_lowercase());
        if shouted || longest_match(self.words, i).is_some() {
            return None;
        }
        let country = crate::facts::Country::parse(code)?;
        self.add_filter(issuer_or_merchant(self.words, i), country.alpha2().to_owned(), i, 1);
        Some(1)
    }

    /// A condition on a rate just named: `merchants with an approval rate below 80%`, `a
    /// chargeback rate of at least 1.5 percent`.
    fn rate_condition_at(&mut self, i: usize) -> Option<usize> {
        let (op, len) = super::amounts::comparator(self.words, i)?;
        let (number, unit) = (self.w(i + len), self.w(i + len + 1));
        let (text, used) = match (number.strip_suffix('%'), unit) {
            (Some(n), _) => (n, len + 1),
            (None, "percent" | "pct" | "%") => (number, len + 2),
            _ => return None,
        };
        let bound = crate::store::metric::Limit::percent(text)?;
        // The rate named last, a few small words before (`with an approval rate of`).
        let term = self.seen.last().filter(|s| s.at + 6 >= i)?;
        let Term::Metrics(ms) = &term.term else { return None };
        let metric = ms.iter().copied().find(|m| m.unit() == crate::store::metric::Unit::Ratio)?;
        let (min, max) = match op {
            AmountOp::Gt | AmountOp::Gte => (Some(bound), None),
            AmountOp::Lt | AmountOp::Lte => (None, Some(bound)),
        };
        self.having.push(Having { metric, min, max, exclusive: matches!(op, AmountOp::Gt | AmountOp::Lt) });
        self.having_words.push(self.words[i..i + used].join(" "));
        Some(used)
    }

    /// Percentage points and basis points (`5 percentage points`, `50 bps`).
    fn points_at(&mut self, i: usize) -> Option<usize> {
        let (p, n) = percentage_points(self.words, i)?;
        self.points = Some(p);
        Some(n)
    }

    /// Percentages, the numbers of a what-if.
    fn percent_at(&mut self, i: usize) -> Option<usize> {
        let next = self.w(i + 1);
        let p = percent(self.w(i), next)?;
        self.percented = true;
        self.numbers.push(p);
        self.number_words.push(self.w(i).to_owned());
        Some(if matches!(next, "percent" | "pct") { 2 } else { 1 })
    }

    /// `top 5`, `5 merchants`.
    fn top_n_at(&mut self, i: usize) -> Option<usize> {
        let w = self.w(i);
        let before = i.checked_sub(1).map_or("", |k| self.w(k));
        let counted =
            matches!(longest_match(self.words, i + 1), Some((Term::Dim(_) | Term::DeclineReasons, _)));
        if !(matches!(before, "top" | "bottom" | "first") || (count(w).is_some() && counted)) {
            return None;
        }
        let n = count(w).filter(|n| (1..=100).contains(n))?;
        self.top_n = Some(n as usize);
        Some(1)
    }

    /// Amount thresholds: "above 100 USD", "between $10 and $50"; one without a currency is
    /// left unplaced (the question is asked back), never given one.
    fn amount_at(&mut self, i: usize) -> Option<usize> {
        match amount_phrase(self.words, i)? {
            AmountPhrase::Conditions(conditions, n) => {
                self.amount.extend(conditions);
                Some(n)
            }
            AmountPhrase::NoCurrency(n) => {
                let phrase = self.words[i..i + n].join(" ");
                self.not_understood.push(format!("{phrase}{}", super::amounts::NO_CURRENCY));
                Some(n)
            }
        }
    }

    /// Group conditions: "with at least 100 transactions", "with no chargebacks".
    fn group_condition_at(&mut self, i: usize) -> Option<usize> {
        let (condition, n) = group_condition(self.words, i)?;
        self.having.push(condition);
        self.having_words.push(self.words[i..i + n].join(" "));
        Some(n)
    }

    /// Codes: "code 51", "response code 05", "reason code 10.4", "MCC 5812", "BIN 453201".
    fn code_at(&mut self, i: usize) -> Option<usize> {
        let w = self.w(i);
        let before = i.checked_sub(1).map_or("", |k| self.w(k));
        let digits = |r: std::ops::RangeInclusive<usize>| {
            r.contains(&w.len()) && w.bytes().all(|b| b.is_ascii_digit())
        };
        let code_context = matches!(before, "code" | "codes" | "rc" | "response" | "reason" | "mcc" | "bin");
        let (dimension, lookup) = if is_reason_code(w) && !matches!(before, "mcc" | "bin") {
            (Dimension::ReasonCode, Some(LookupTarget::ReasonCode(w.to_uppercase())))
        } else if before == "mcc" && digits(4..=4) {
            (Dimension::Mcc, Some(LookupTarget::Mcc(w.to_owned())))
        } else if before == "bin" && digits(6..=8) {
            (Dimension::IssuerBin, None)
        } else if code_context && is_response_code(w) {
            (Dimension::ResponseCode, Some(LookupTarget::ResponseCode(w.to_uppercase())))
        } else {
            return None;
        };
        let value = if dimension == Dimension::Mcc || dimension == Dimension::IssuerBin {
            w.to_owned()
        } else {
            w.to_uppercase()
        };
        self.add_filter(dimension, value, i, 1);
        if let Some(target) = lookup {
            self.lookup.get_or_insert(target);
        }
        Some(1)
    }

    /// "by day", "per week", "each month", "by hour": a series granularity (but "by day of
    /// week" and "by hour of day" are dimensions, which the lexicon finds).
    fn grain_at(&mut self, i: usize) -> Option<usize> {
        if !matches!(self.w(i), "by" | "per" | "each" | "every") || self.w(i + 2) == "of" {
            return None;
        }
        let grain = match self.w(i + 1) {
            "day" | "days" => Granularity::Day,
            "week" | "weeks" => Granularity::Week,
            "month" | "months" => Granularity::Month,
            "hour" | "hours" => Granularity::Hour,
            _ => return None,
        };
        self.seen.push(Seen { at: i, term: Term::Grain(grain) });
        Some(2)
    }

    /// A lexicon term: a value (a network, a country, ...) or a metric, dimension or cue.
    fn term_at(&mut self, i: usize) -> Option<usize> {
        let (term, n) = longest_match(self.words, i)?;
        match term {
            Term::Value(Dimension::MerchantCountry, code) => {
                let d = issuer_or_merchant(self.words, i + n - 1);
                self.add_filter(d, (*code).to_owned(), i, n)
            }
            Term::Value(d, v) => self.add_filter(*d, (*v).to_owned(), i, n),
            other => self.seen.push(Seen { at: i, term: other.clone() }),
        }
        Some(n)
    }

    /// A bare number: the size of a what-if, or part of a phrase already read.
    fn number_at(&mut self, i: usize) -> Option<usize> {
        let w = self.w(i);
        if count(w).is_none() && w.parse::<f64>().is_err() {
            return None;
        }
        if let Ok(v) = w.parse::<f64>() {
            self.numbers.push(v);
            self.number_words.push(w.to_owned());
        }
        Some(1)
    }

    /// What the lexicon's terms say: metrics, grouping, cues, order, granularity, changes.
    fn place_terms(&mut self) {
        let seen = std::mem::take(&mut self.seen);
        for s in &seen {
            // `which MCC`: the word names the dimension unless a code follows it (`MCC 5812`).
            let next = self.w(s.at + 1);
            let mcc_code = next.len() == 4 && next.bytes().all(|b| b.is_ascii_digit());
            let term = match &s.term {
                Term::MccWord if !mcc_code => &Term::Dim(Dimension::Mcc),
                other => other,
            };
            match term {
                Term::Metrics(ms) => {
                    for m in *ms {
                        if !self.metrics.contains(m) {
                            self.metrics.push(*m);
                            self.metric_at.push((*m, s.at));
                        }
                    }
                }
                Term::DeclineReasons => self.decline_reasons = true,
                Term::Dim(d) => self.group_dimension(*d, s.at),
                // "declines linked to code 05" names a filter, not a relationship question.
                Term::Cue(Intent::Relationship) if self.joiners.contains(&s.at) => {}
                Term::Cue(intent) => self.cues.push(*intent),
                Term::Order(desc) => self.order_desc = Some((*desc, s.at)),
                Term::Quality(good) => self.quality = Some((*good, s.at)),
                Term::Grain(g) => self.granularity = Some(*g),
                Term::Define => self.define = true,
                Term::Change(up) => self.change = Some(*up),
                Term::Factor(p) => self.factor = Some(*p),
                Term::Share(p) => self.share = Some(*p),
                Term::Top(_) => self.top_word = true,
                Term::Missing(what) => {
                    if !self.missing.contains(&what.to_string()) {
                        self.missing.push(what.to_string());
                    }
                }
                Term::CodeWord | Term::MccWord | Term::ReasonWord | Term::Noise | Term::Value(..) => {}
            }
        }
        self.seen = seen;
        if self.decline_reasons {
            if !self.metrics.contains(&Metric::DeclinedCount) {
                self.metrics.insert(0, Metric::DeclinedCount);
            }
            if !self.group_by.contains(&Dimension::ResponseCode) {
                self.group_by.push(Dimension::ResponseCode);
            }
        }
    }

    /// A dimension word groups when a grouping word stands shortly before it (`by network`,
    /// `which merchants`) or it is plural (`networks`).
    fn group_dimension(&mut self, d: Dimension, at: usize) {
        const GROUPING: [&str; 17] = [
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
        let contextual = (1..=4).any(|k| at >= k && GROUPING.contains(&self.words[at - k]));
        let plural = self.words[at].ends_with('s');
        // `by issuer country, only countries with …`: the bare word is the country named.
        let same_country = d == Dimension::MerchantCountry
            && matches!(self.words[at], "country" | "countries")
            && self.group_by.contains(&Dimension::IssuerCountry);
        if (contextual || plural) && !self.group_by.contains(&d) && !same_country {
            self.group_by.push(d);
        }
    }

    /// True for "fraud cards" and "fraud merchants": the common-point-of-purchase question.
    fn fraud_cards(&self) -> bool {
        let lower = self.text.to_lowercase();
        lower.contains("fraud") && (lower.contains("card") || lower.contains("merchant"))
    }

    /// The intent, by priority.
    fn decide_intent(&self) -> Intent {
        let lower = self.text.to_lowercase();
        let has = |i: Intent| self.has(i);
        let what_if_words = self.words.contains(&"if")
            && (self.factor.is_some()
                || (self.change.is_some()
                    && (!self.numbers.is_empty() || self.share.is_some() || self.points.is_some())));
        let intent = if !self.missing.is_empty() {
            Intent::Unsupported
        } else if self.define
            && (self.lookup.is_some() || (self.metrics.len() == 1 && self.filters.is_empty()))
        {
            Intent::Lookup
        } else if has(Intent::Relationship) || (self.fraud_cards() && lower.contains("common")) {
            Intent::Relationship
        } else if has(Intent::WhatIf) || what_if_words {
            Intent::WhatIf
        } else if has(Intent::Forecast) || (self.time.future && !self.metrics.is_empty()) {
            Intent::Forecast
        } else if has(Intent::Why) {
            Intent::Why
        } else if has(Intent::Reconcile)
            || self.metrics.contains(&Metric::UnmatchedAuthCount)
            || self.metrics.contains(&Metric::ReconciliationRate)
        {
            Intent::Reconcile
        } else if has(Intent::Anomaly) {
            Intent::Anomaly
        } else if has(Intent::Compare) || self.time.versus.is_some() {
            Intent::Compare
        } else if has(Intent::Trend) || (self.granularity.is_some() && self.group_by.is_empty()) {
            Intent::Trend
        } else if !self.group_by.is_empty()
            || self.top_n.is_some()
            || self.top_word
            || has(Intent::Breakdown)
            || self.decline_reasons
        {
            Intent::Breakdown
        } else if self.lookup.is_some() && self.metrics.is_empty() {
            Intent::Lookup
        } else if !self.metrics.is_empty() {
            Intent::Describe
        } else {
            Intent::Unsupported
        };
        if intent == Intent::Unsupported && self.asks_how_it_is_doing() {
            Intent::Describe
        } else {
            intent
        }
    }

    /// A question with filters or a time but no metric ("how is Visa doing last week?"): the
    /// headline metrics are meant.
    fn asks_how_it_is_doing(&self) -> bool {
        const WORDS: [&str; 8] =
            ["how", "doing", "performing", "performance", "summary", "overview", "going", "status"];
        self.missing.is_empty()
            && (!self.filters.is_empty() || self.time.explicit)
            && self.not_understood.len() <= 1
            && self.words.iter().any(|w| WORDS.contains(w))
    }

    /// The metrics an intent reads when the question names none.
    fn default_metrics(&mut self) {
        use Metric::*;
        if self.metrics.is_empty() {
            self.defaulted = true;
            self.metrics = match self.intent {
                Intent::Describe | Intent::Compare => vec![TransactionCount, ApprovalRate, TransactionAmount],
                Intent::Trend | Intent::Why | Intent::Forecast => vec![TransactionAmount, TransactionCount],
                Intent::Anomaly => vec![TransactionCount],
                // `which BINs had zero approvals`: the groups are counted, not their sales.
                Intent::Breakdown if !self.having.is_empty() => vec![TransactionCount],
                Intent::Breakdown => vec![TransactionAmount],
                Intent::Reconcile => vec![UnmatchedAuthCount, ReconciliationRate, SettlementDelayHours],
                Intent::Relationship
                | Intent::Lookup
                | Intent::WhatIf
                | Intent::Clarify
                | Intent::Unsupported => {
                    vec![]
                }
            };
        }
        if self.intent == Intent::Anomaly {
            self.metrics = counted_events(&self.metrics, &self.metric_at, self.words);
        }
        if self.intent == Intent::Reconcile {
            for m in [UnmatchedAuthCount, ReconciliationRate] {
                if !self.metrics.contains(&m) {
                    self.metrics.push(m);
                }
            }
        }
    }

    /// What a lookup or relationship question is about.
    fn targets(&mut self) {
        // Lookups of a term ("what does chargeback rate mean").
        if self.intent == Intent::Lookup && self.lookup.is_none() {
            self.lookup = self.metrics.first().map(|m| LookupTarget::Term(m.as_str().to_owned()));
        }
        // A merchant named in the question, else common point of purchase.
        if self.intent == Intent::Relationship {
            let fraud_cards = self.fraud_cards();
            self.relationship = Some(match self.filters.get(&Dimension::MerchantId) {
                Some(ids) if !fraud_cards => RelationshipTarget::Merchant { merchant_id: ids[0].clone() },
                _ => RelationshipTarget::CommonPointOfPurchase,
            });
        }
        if matches!(self.intent, Intent::Relationship | Intent::Lookup) {
            self.metrics.clear();
        }
    }

    /// Order and top-N of a ranking: by the metric named right after the order word, else
    /// the first.
    fn ranking(&mut self) {
        if !matches!(self.intent, Intent::Breakdown | Intent::Compare) {
            return;
        }
        let after = |at: usize| {
            self.metric_at.iter().filter(|(_, k)| *k > at).min_by_key(|(_, k)| *k).map(|(m, _)| *m)
        };
        // `top 3 by transactions`: the metric right after `by` ranks, else the first named.
        let by = self.metric_at.iter().find(|(_, at)| *at > 0 && self.words[at - 1] == "by").map(|(m, _)| *m);
        let first = by.or(self.metrics.first().copied());
        self.order = if let Some((desc, at)) = self.order_desc {
            after(at).or(first).map(|metric| Order { metric, descending: desc })
        } else if let Some((good, at)) = self.quality {
            after(at).or(first).map(|metric| Order { metric, descending: good == higher_is_better(metric) })
        } else if self.intent == Intent::Breakdown {
            first.map(|metric| Order { metric, descending: true })
        } else {
            None
        };
        if self.intent == Intent::Breakdown {
            if self.group_by.is_empty() {
                self.group_by.push(if self.decline_reasons {
                    Dimension::ResponseCode
                } else {
                    Dimension::MerchantId
                });
            }
            self.top_n = Some(self.top_n.unwrap_or(if self.decline_reasons { 5 } else { 10 }));
        }
    }

    /// Comparisons: two values of one dimension, or two periods.
    fn comparison(&mut self) {
        let time = &mut self.time;
        if self.intent == Intent::Compare {
            self.compare = Some(if let Some((d, values)) = self.filters.iter().find(|(_, v)| v.len() >= 2) {
                Comparison::Entities { dimension: *d, values: values.clone() }
            } else if !self.group_by.is_empty() && time.versus.is_none() {
                Comparison::Entities { dimension: self.group_by[0], values: vec![] }
            } else {
                Comparison::Periods {
                    current: time.range,
                    previous: time.versus.unwrap_or_else(|| time.range.previous()),
                }
            });
        }
        if self.intent == Intent::Why && time.versus.is_none() {
            time.versus = Some(time.range.previous());
        }
    }

    /// Series granularity: asked for, or sensible for the range.
    fn series_granularity(&mut self) {
        if matches!(self.intent, Intent::Trend | Intent::Anomaly | Intent::Forecast)
            && self.granularity.is_none()
        {
            self.granularity = Some(match self.time.range.len_millis() / MS_PER_DAY {
                0..=2 => Granularity::Hour,
                3..=120 => Granularity::Day,
                121..=730 => Granularity::Week,
                _ => Granularity::Month,
            });
        }
    }

    /// A what-if's scenario: the first metric, changed by a factor (`doubles`), by percentage
    /// points, or by the first percentage or a fraction (`by a third`) signed by the verb.
    fn scenario(&mut self) -> Option<Scenario> {
        if self.intent != Intent::WhatIf {
            return None;
        }
        if self.metrics.is_empty() {
            self.metrics.push(Metric::TransactionAmount);
        }
        let metric = self.metrics[0];
        let falls = self.change == Some(false);
        Some(match (self.points, self.factor) {
            // Points on a fee are basis points of the amount it is charged on.
            (Some(p), _) if metric == Metric::InterchangeFees => Scenario {
                metric,
                percent: None,
                points: None,
                bps: Some(100.0 * if falls { -p } else { p }),
                absolute: None,
            },
            (Some(p), _) => Scenario {
                metric,
                percent: None,
                points: Some(if falls { -p } else { p }),
                bps: None,
                absolute: None,
            },
            (None, Some(percent)) => Scenario::percent(metric, percent),
            // A bare number ("rise by 50") changes a count by that many; for a rate or an amount
            // it could be a percentage, points or money, and is asked back.
            (None, None) if !self.percented && self.share.is_none() && !self.numbers.is_empty() => {
                let n = self.numbers[0].abs();
                let signed = if falls { -n } else { n };
                if metric.unit() == Unit::Count {
                    Scenario { metric, percent: None, points: None, bps: None, absolute: Some(signed) }
                } else {
                    let word = self.number_words.first().cloned().unwrap_or_default();
                    self.not_understood.push(if metric.unit() == Unit::Ratio {
                        format!("{word} ({word}% or {word} percentage points?)")
                    } else {
                        format!("{word} (a percentage? write {word}%)")
                    });
                    Scenario::percent(metric, signed)
                }
            }
            (None, None) => {
                let magnitude = self.numbers.first().copied().or(self.share).unwrap_or(10.0).abs();
                Scenario::percent(metric, if falls { -magnitude } else { magnitude })
            }
        })
    }

    /// Hour and weekday restrictions from the time expressions, and the request's filters.
    fn restrictions(&mut self, request_filters: &BTreeMap<String, String>) -> Result<()> {
        if !self.time.hours.is_empty() {
            self.filters
                .insert(Dimension::HourOfDay, self.time.hours.iter().map(|h| h.to_string()).collect());
        }
        if !self.time.weekdays.is_empty() {
            let days =
                self.time.weekdays.iter().map(|d| crate::store::metric::WEEKDAYS[*d as usize].to_owned());
            self.filters.insert(Dimension::DayOfWeek, days.collect());
        }
        for (name, value) in request_filters {
            let values = self.filters.entry(request_filter_dimension(name)?).or_default();
            if !values.contains(value) {
                values.push(value.clone());
            }
        }
        Ok(())
    }

    /// Grouping that the filters and the intent leave meaningful.
    fn tidy_groups(&mut self) {
        // A filter value that is also being compared stays a filter; a dimension filtered to
        // one value is not also grouped by.
        let (filters, intent) = (&self.filters, self.intent);
        self.group_by.retain(|d| filters.get(d).is_none_or(|v| v.len() > 1 || intent == Intent::Compare));
        self.group_by.truncate(crate::store::metric::MetricQuery::MAX_GROUP_BY);
        // `for all networks except Visa`: the dimension only named what is left out; with no
        // ranking asked for and nothing to group by, the question asks for a total.
        let ranking_asked = self.top_word
            || self.has(Intent::Breakdown)
            || self.order_desc.is_some()
            || self.quality.is_some();
        if self.intent == Intent::Breakdown && self.group_by.is_empty() && !ranking_asked {
            self.intent = Intent::Describe;
            self.order = None;
            self.top_n = None;
        }
        // A condition on groups means something only in a ranking of groups; anywhere else it
        // is a part of the question that would be left out.
        if !self.having.is_empty() && (self.intent != Intent::Breakdown || self.group_by.is_empty()) {
            self.having.clear();
            self.not_understood.append(&mut self.having_words);
        }
        // A number no phrase placed sizes a what-if; anywhere else ("approval rate 65") it is
        // a part of the question that would be left out.
        if self.intent != Intent::WhatIf {
            self.not_understood.append(&mut self.number_words);
        }
        // An anomaly is found day by day: "unusual days" asks nothing more.
        if self.intent == Intent::Anomaly {
            self.not_understood.retain(|w| !matches!(w.as_str(), "day" | "days"));
        }
    }

    /// How sure the reading is: each unplaced word costs, and so do defaulted metrics.
    fn confidence(&self) -> f64 {
        let content = self.words.iter().filter(|w| !is_stopword(w)).count().max(1);
        let unknown = self.not_understood.len();
        let mut confidence = match self.intent {
            Intent::Unsupported => 0.2,
            _ => 0.95 - 0.12 * unknown as f64 - if self.defaulted { 0.1 } else { 0.0 },
        };
        if unknown * 2 > content && self.intent != Intent::Unsupported {
            confidence -= 0.2;
        }
        (confidence.clamp(0.05, 0.99) * 100.0).round() / 100.0
    }

    fn finish(self) -> Question {
        let confidence = self.confidence();
        let filters = self
            .filters
            .into_iter()
            .filter(|(_, values)| !values.is_empty())
            .map(|(dimension, values)| Filter::one_of(dimension, values))
            .chain(self.excluded.into_iter().map(|(dimension, values)| Filter::none_of(dimension, values)))
            .collect();
        Question {
            text: self.text.to_owned(),
            intent: self.intent,
            metrics: self.metrics,
            filters,
            amount: self.amount,
            group_by: self.group_by,
            top_n: self.top_n,
            having: self.having,
            missing: self.missing,
            order: self.order,
            as_of: self.as_of,
            time: self.time,
            compare: self.compare,
            granularity: self.granularity,
            scenario: self.scenario,
            lookup: self.lookup,
            relationship: self.relationship,
            not_understood: self.not_understood,
            refused: None,
            confidence,
        }
    }
}

/// Whether more of a metric is better (for "best" and "worst").
fn higher_is_better(m: Metric) -> bool {
    matches!(
        m,
        Metric::ApprovalRate
            | Metric::ReconciliationRate
            | Metric::TransactionAmount
            | Metric::TransactionCount
            | Metric::ApprovedCount
            | Metric::SettledAmount
    )
}

/// Anomaly detection counts events day by day, so there a plural event noun (`chargebacks`,
/// `approvals`, `declines`, and `fraud`, counted in cases) means how many: the count of its family instead of its amount or
/// rate. A rate or amount named as such ("approval rate", "sales") stays, and is refused
/// when the query is checked rather than answered as a count.
fn counted_events(metrics: &[Metric], metric_at: &[(Metric, usize)], words: &[&str]) -> Vec<Metric> {
    use Metric::*;
    const EVENTS: [&str; 11] = [
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
        "fraud",
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
        // A singular event noun used as a modifier ("chargeback days") counts too, unless a
        // word for what is measured follows it ("chargeback rate", "fraud amount").
        let at = metric_at.iter().find(|(x, _)| x == m).map(|(_, at)| *at);
        let measured = at.and_then(|at| words.get(at + 1)).is_some_and(|w| {
            matches!(
                *w,
                "rate" | "rates" | "ratio" | "amount" | "amounts" | "value" | "volume" | "share" | "fees"
            )
        });
        let singular = word.is_some_and(|w| EVENTS.iter().any(|e| e.strip_suffix('s') == Some(w)));
        let m =
            if word.is_some_and(|w| EVENTS.contains(&w)) || (singular && !measured) { counted } else { *m };
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
        return Some((Having::counts(metric, None, Some(0)), lead + len));
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
    Some((Having::counts(metric, min, max), noun + len - i))
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

    /// The question offered instead of one with unplaced words keeps what was placed, with
    /// the words that open it, and loses what hung on the unplaced ones.
    #[test]
    fn the_closest_question_drops_what_hangs_on_unplaced_words() {
        let closest = |text: &str| crate::agents::narrative::closest_questions(&q(text))[0].clone();
        assert_eq!(
            closest("What was the approval rate for our platinum tier in November 2026?"),
            "What was the approval rate in November 2026?"
        );
        assert_eq!(closest("Approval rate for customers over 65 last week"), "Approval rate last week");
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
        // A bare number changes a count by that many; for a rate it is asked back.
        let x = q("What if chargebacks rise by 50?");
        assert_eq!(x.scenario.map(|s| (s.metric, s.absolute)), Some((Metric::ChargebackCount, Some(50.0))));
        let x = q("What if the approval rate falls by 5?");
        assert!(x.not_understood.iter().any(|w| w.contains("percentage points")), "{:?}", x.not_understood);
        // A mean named with "average" is the mean itself; "average" before a count is not placed.
        let x = q("What was the average settlement delay last week?");
        assert_eq!(x.metrics, vec![Metric::SettlementDelayHours]);
        assert!(x.not_understood.is_empty(), "{:?}", x.not_understood);
        assert!(!q("average chargebacks last week").not_understood.is_empty());
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
        assert_eq!(x.having, vec![Having::counts(Metric::TransactionCount, Some(100), None)]);
        assert!(x.not_understood.is_empty(), "{:?}", x.not_understood);
        let x = q("merchants with more than 5 chargebacks by chargeback rate");
        assert_eq!(x.having, vec![Having::counts(Metric::ChargebackCount, Some(6), None)]);
        let x = q("networks by approval rate with fewer than 1000 transactions");
        assert_eq!(x.having, vec![Having::counts(Metric::TransactionCount, None, Some(999))]);
        // Rates: the bound is a fraction, and `above` / `below` leave it out.
        let x = q("Top 5 merchants by sales with an approval rate below 80%");
        let rate = Having {
            metric: Metric::ApprovalRate,
            min: None,
            max: crate::store::metric::Limit::parse("0.8"),
            exclusive: true,
        };
        assert_eq!((x.intent, x.having), (Intent::Breakdown, vec![rate]));
        let x = q("merchants by transactions with a chargeback rate of at least 1.5 percent");
        assert_eq!(x.having[0].min, crate::store::metric::Limit::parse("0.015"));
        assert!(!x.having[0].exclusive);
        // Without groups to rank it is a part of the question that would be left out: asked.
        assert!(!q("decline rate above 5% last week").not_understood.is_empty());
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
    fn a_number_no_phrase_places_is_not_dropped() {
        // Outside a what-if, a stray number is part of the question: left unplaced, asked back.
        for text in ["approval rate 65", "decline rate for response code 5 last week", "sales 20% last month"]
        {
            assert!(!q(text).not_understood.is_empty(), "{text}: {:?}", q(text));
        }
        assert!(q("What if fraud increases 20%?").not_understood.is_empty());
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
            assert_eq!(
                x.scenario,
                Some(Scenario { metric, percent: None, points: Some(points), bps: None, absolute: None }),
                "{text}"
            );
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
