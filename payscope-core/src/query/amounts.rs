//! Amount thresholds in questions (docs/query.md): `above 100 USD`, `over $50`, `of at least
//! €1,000`, `between 10 and 50 EUR`, `100 GBP or more`. A threshold has a currency; one the
//! question does not give is asked for, never assumed.

use super::lexicon::{longest_match, Term};
use crate::money::{Currency, Money};
use crate::store::metric::{AmountCondition, AmountOp, Unit};

/// How an unplaced threshold without a currency is named (`above 100 (in which currency?)`).
pub const NO_CURRENCY: &str = " (in which currency?)";

/// What a question says about amounts at a position.
#[derive(Debug, Clone, PartialEq)]
pub enum AmountPhrase {
    /// Conditions, and the tokens they span.
    Conditions(Vec<AmountCondition>, usize),
    /// A threshold without a currency (`above 100`), and the tokens it spans.
    NoCurrency(usize),
}

/// Words naming the amount compared (`transactions with an amount above …`).
const AMOUNT_NOUNS: [&str; 9] =
    ["amount", "amounts", "value", "values", "worth", "valued", "sized", "ticket", "tickets"];

/// Units that make a number a duration, not an amount.
const TIME_UNITS: [&str; 12] = [
    "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks", "month", "months", "year", "years",
];

/// A comparison at `words[i]`: its operator and length.
pub(crate) fn comparator(words: &[&str], i: usize) -> Option<(AmountOp, usize)> {
    let w = |k: usize| words.get(k).copied().unwrap_or("");
    Some(match (w(i), w(i + 1)) {
        ("more" | "greater" | "larger" | "bigger" | "higher", "than") => (AmountOp::Gt, 2),
        ("less" | "lower" | "smaller", "than") => (AmountOp::Lt, 2),
        ("at", "least") | ("no", "less") => (AmountOp::Gte, 2 + usize::from(w(i + 2) == "than")),
        ("at", "most") | ("up", "to") => (AmountOp::Lte, 2),
        ("no", "more") => (AmountOp::Lte, 2 + usize::from(w(i + 2) == "than")),
        ("above" | "over" | "exceeding" | "exceeds" | "exceed", _) => (AmountOp::Gt, 1),
        ("under" | "below", _) => (AmountOp::Lt, 1),
        ("minimum" | "min", _) => (AmountOp::Gte, 1),
        ("maximum" | "max", _) => (AmountOp::Lte, 1),
        _ => return None,
    })
}

/// A currency named by a word or a symbol.
fn currency_word(w: &str) -> Option<Currency> {
    match w {
        "$" | "dollar" | "dollars" | "usd" => Some(Currency::USD),
        "€" | "euro" | "euros" | "eur" => Some(Currency::EUR),
        "£" | "pound" | "pounds" | "gbp" => Some(Currency::GBP),
        "¥" | "yen" | "jpy" => Some(Currency::JPY),
        _ if w.len() == 3 && w.bytes().all(|b| b.is_ascii_lowercase()) => {
            Currency::from_code(&w.to_ascii_uppercase())
        }
        _ => None,
    }
}

/// A plain decimal (`100`, `1,000.50`): digits with optional thousands commas.
fn decimal(w: &str) -> Option<String> {
    let plain = w.replace(',', "");
    let ok = !plain.is_empty()
        && plain.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && plain.bytes().filter(|b| *b == b'.').count() <= 1
        && plain.as_bytes()[0].is_ascii_digit();
    ok.then_some(plain)
}

/// A number with the currency written on it (`$100`, `100€`, `100usd`), or a bare number.
fn number(w: &str) -> Option<(String, Option<Currency>)> {
    for symbol in ["$", "€", "£", "¥"] {
        if let Some(n) = w.strip_prefix(symbol).or_else(|| w.strip_suffix(symbol)) {
            return Some((decimal(n)?, currency_word(symbol)));
        }
    }
    if let Some(n) = decimal(w) {
        return Some((n, None));
    }
    let split = w.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, code) = w.split_at(split);
    Some((decimal(n)?, Some(currency_word(code)?)))
}

/// An amount at `words[i]`: the decimal, its currency if given, and the tokens it spans
/// (`100 USD`, `USD 100`, `$100`, `100 dollars`).
fn amount_at(words: &[&str], i: usize) -> Option<(String, Option<Currency>, usize)> {
    let w = |k: usize| words.get(k).copied().unwrap_or("");
    if let Some(c) = currency_word(w(i)).filter(|_| decimal(w(i + 1)).is_some()) {
        return Some((decimal(w(i + 1))?, Some(c), 2));
    }
    let (n, written) = number(w(i))?;
    match written.or_else(|| currency_word(w(i + 1))) {
        Some(c) if written.is_none() => Some((n, Some(c), 2)),
        c => Some((n, c, 1)),
    }
}

/// True when the words before `i` name what has an amount (`transactions`, `sales`,
/// `refunds`), over a few small words (`payments that were above …`).
fn follows_an_amount(words: &[&str], i: usize) -> bool {
    const BETWEEN: [&str; 9] = ["of", "with", "that", "which", "were", "was", "are", "is", "for"];
    let mut k = i;
    while k > 0 {
        k -= 1;
        if BETWEEN.contains(&words[k]) {
            continue;
        }
        return AMOUNT_NOUNS.contains(&words[k])
            || matches!(longest_match(words, k), Some((Term::Metrics(_), _)));
    }
    false
}

/// True when `words[i]` starts a count noun (`100 transactions` is a group condition).
fn counts_things(words: &[&str], i: usize) -> bool {
    matches!(longest_match(words, i), Some((Term::Metrics(ms), _)) if ms.iter().any(|m| m.unit() == Unit::Count))
}

fn conditions(parts: &[(AmountOp, String)], currency: Currency) -> Option<Vec<AmountCondition>> {
    parts
        .iter()
        .map(|(op, n)| Money::parse_decimal(n, currency).ok().map(|value| AmountCondition { op: *op, value }))
        .collect()
}

/// Reads an amount threshold starting at `words[i]`, if there is one.
pub fn amount_phrase(words: &[&str], i: usize) -> Option<AmountPhrase> {
    let w = |k: usize| words.get(k).copied().unwrap_or("");
    // The noun, and `of` after it (`tickets of 300 USD or more`).
    let noun = match (AMOUNT_NOUNS.contains(&w(i)), w(i + 1)) {
        (true, "of") => 2,
        (true, _) => 1,
        (false, _) => 0,
    };
    let at = i + noun;
    // `between 10 and 50 USD`: both bounds, one currency.
    let (parts, currency, end) = if w(at) == "between" {
        let (low, c1, n1) = amount_at(words, at + 1)?;
        if w(at + 1 + n1) != "and" {
            return None;
        }
        let (high, c2, n2) = amount_at(words, at + 2 + n1)?;
        if c1.is_some() && c2.is_some() && c1 != c2 {
            return None;
        }
        (vec![(AmountOp::Gte, low), (AmountOp::Lte, high)], c1.or(c2), at + 2 + n1 + n2)
    } else if let Some((op, len)) = comparator(words, at) {
        let (n, c, used) = amount_at(words, at + len)?;
        (vec![(op, n)], c, at + len + used)
    } else {
        // `100 USD or more`, `$50 and under`.
        let (n, c, used) = amount_at(words, at)?;
        let op = match (w(at + used), w(at + used + 1)) {
            ("or" | "and", "more" | "above" | "over" | "up") => AmountOp::Gte,
            ("or" | "and", "less" | "below" | "under") => AmountOp::Lte,
            _ => return None,
        };
        (vec![(op, n)], c, at + used + 2)
    };
    match currency {
        Some(c) => Some(AmountPhrase::Conditions(conditions(&parts, c)?, end - i)),
        // `over 100 transactions` counts transactions and `over 2 days` is time; `customers
        // over 65` is about something else. A threshold on what has amounts (`transactions
        // above 100`) names no currency: asked for.
        None if counts_things(words, end) || TIME_UNITS.contains(&w(end)) => None,
        None if noun > 0 || follows_an_amount(words, i) => Some(AmountPhrase::NoCurrency(end - i)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::words::tokenize;

    fn read(text: &str) -> Option<AmountPhrase> {
        let tokens = tokenize(text);
        let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        (0..words.len()).find_map(|i| amount_phrase(&words, i))
    }

    fn cond(op: AmountOp, minor: i64, c: Currency) -> AmountCondition {
        AmountCondition { op, value: Money::new(minor, c) }
    }

    #[test]
    fn thresholds_with_their_currency() {
        use AmountOp::*;
        let usd = Currency::USD;
        for (text, want) in [
            ("transactions above 100 USD", vec![cond(Gt, 10_000, usd)]),
            ("payments over $100", vec![cond(Gt, 10_000, usd)]),
            ("sales of at least 1,000.50 dollars", vec![cond(Gte, 100_050, usd)]),
            ("refunds under 20 EUR", vec![cond(Lt, 2_000, Currency::EUR)]),
            ("amounts no more than £5", vec![cond(Lte, 500, Currency::GBP)]),
            ("between 10 and 50 usd", vec![cond(Gte, 1_000, usd), cond(Lte, 5_000, usd)]),
            ("tickets of 100 USD or more", vec![cond(Gte, 10_000, usd)]),
            ("greater than 5000 JPY", vec![cond(Gt, 5_000, Currency::JPY)]),
            ("with an amount above USD 75", vec![cond(Gt, 7_500, usd)]),
        ] {
            match read(text) {
                Some(AmountPhrase::Conditions(c, _)) => assert_eq!(c, want, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_threshold_without_a_currency_is_asked_for_and_counts_are_not_amounts() {
        assert!(matches!(read("transactions above 100"), Some(AmountPhrase::NoCurrency(2))));
        assert!(matches!(read("amounts between 10 and 20"), Some(AmountPhrase::NoCurrency(_))));
        assert_eq!(read("merchants with over 100 transactions"), None);
        assert_eq!(read("at least 20 chargebacks"), None);
        assert_eq!(read("over the last 7 days"), None);
        assert_eq!(read("customers over 65"), None);
        // More decimals than the currency has is not an amount it can hold.
        assert_eq!(read("above 1.005 USD"), None);
    }
}
