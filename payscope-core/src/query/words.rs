//! Tokenizing questions: lowercase words with their positions, numbers written as words,
//! and a typo-tolerant comparison for lexicon lookups.

/// A word of a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Lowercased text (`10.4`, `2026-10-01`, `22:00`, `20%`, `visa`).
    pub text: String,
    /// Byte offset in the original question.
    pub start: usize,
}

/// Splits a question into tokens: runs of letters, digits and `. / : % - $ '`, with sentence
/// punctuation trimmed from the ends.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        // A comma between digits groups thousands (`1,000`); elsewhere it separates words.
        let thousands = c == ','
            && cur.ends_with(|p: char| p.is_ascii_digit())
            && chars.peek().is_some_and(|(_, n)| n.is_ascii_digit());
        let keep = c.is_alphanumeric()
            || thousands
            || matches!(c, '.' | '/' | ':' | '%' | '-' | '$' | '\'' | '&' | '€' | '£' | '¥');
        if keep {
            if cur.is_empty() {
                start = i;
            }
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            push(&mut out, std::mem::take(&mut cur), start);
        }
    }
    if !cur.is_empty() {
        push(&mut out, cur, start);
    }
    out
}

fn push(out: &mut Vec<Token>, raw: String, start: usize) {
    let trimmed = raw.trim_end_matches(['.', ':', '-', '\'', '/']).trim_start_matches(['-', '\'', '/']);
    let trimmed = trimmed.strip_suffix("'s").unwrap_or(trimmed);
    // `non-Visa` is `non` `visa`: the negation is a word of its own.
    if let Some(rest) = trimmed.strip_prefix("non-").filter(|r| !r.is_empty()) {
        out.push(Token { text: "non".to_owned(), start });
        out.push(Token { text: rest.to_owned(), start: start + 4 });
        return;
    }
    if !trimmed.is_empty() {
        out.push(Token { text: trimmed.to_owned(), start });
    }
}

/// Small numbers written as words.
pub fn number_word(w: &str) -> Option<u32> {
    Some(match w {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        "sixty" => 60,
        "ninety" => 90,
        _ => return None,
    })
}

/// A whole number written in digits or words.
pub fn count(w: &str) -> Option<u32> {
    w.parse().ok().or_else(|| number_word(w))
}

/// True when `a` equals `b` or, for words of five letters or more, is one edit away (a
/// dropped, doubled, swapped or wrong letter: `aproval`, `chargebaks`, `setlement`).
pub fn close(a: &str, b: &str) -> bool {
    close_from(a, b, 5)
}

/// [`close`] for words of `shortest` letters or more; numbers must be equal.
pub fn close_from(a: &str, b: &str, shortest: usize) -> bool {
    if a == b {
        return true;
    }
    if a.len().min(b.len()) < shortest
        || a.len().abs_diff(b.len()) > 1
        || a.bytes().chain(b.bytes()).any(|c| c.is_ascii_digit())
    {
        return false;
    }
    edit_distance_at_most_one(a.as_bytes(), b.as_bytes())
}

fn edit_distance_at_most_one(a: &[u8], b: &[u8]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        let rest_equal = short[prefix + 1..] == long[prefix + 1..];
        let swapped = prefix + 1 < short.len()
            && short[prefix] == long[prefix + 1]
            && short[prefix + 1] == long[prefix]
            && short[prefix + 2..] == long[prefix + 2..];
        rest_equal || swapped
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

/// Words that carry no meaning for the parser.
pub fn is_stopword(w: &str) -> bool {
    const STOP: &[&str] = &[
        "a",
        "an",
        "the",
        "of",
        "for",
        "in",
        "on",
        "at",
        "to",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "what",
        "whats",
        "what's",
        "how",
        "show",
        "me",
        "give",
        "tell",
        "us",
        "our",
        "my",
        "we",
        "please",
        "can",
        "you",
        "i",
        "do",
        "does",
        "did",
        "with",
        "from",
        "by",
        "per",
        "over",
        "during",
        "within",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "any",
        "all",
        "much",
        "many",
        "get",
        "see",
        "let",
        "know",
        "about",
        "which",
        "who",
        "when",
        "where",
        "has",
        "have",
        "had",
        "been",
        "total",
        "overall",
        "among",
        // `cards issued in Germany`: the country rule reads it (issuer, not merchant).
        "issued",
        "across",
        "everything",
        "anything",
        "happens",
        "happen",
        "goes",
        "go",
        // Words that make a list of values one set ("Visa and Mastercard combined").
        "combined",
        "together",
        "altogether",
        "taken",
        "plus",
        "&",
        // Hedges: they qualify a question without changing what it asks.
        "likely",
        "probably",
        "possibly",
        "perhaps",
        "maybe",
        "current",
        "currently",
        "number",
        "count",
        "value",
        "values",
        "data",
        "report",
        "reports",
        "look",
        "like",
        "so",
        "far",
        "up",
        "as",
        "into",
        "between",
        "than",
        "vs",
        "versus",
        "s",
        "'s",
        "some",
        "compared",
        "versus",
        "were",
        "bank",
        "banks",
        "time",
        "period",
        "range",
        "list",
        "each",
        "every",
        "into",
        "just",
        "also",
        "only",
        "then",
        "out",
        "were",
        "should",
        "would",
        "could",
        "will",
        "happen",
        "happened",
        "going",
    ];
    STOP.contains(&w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_codes_dates_and_percentages() {
        let t: Vec<String> =
            tokenize("What's the approval rate for Visa, since 2026-10-01 (code 10.4, +20%)?")
                .into_iter()
                .map(|t| t.text)
                .collect();
        assert_eq!(
            t,
            vec![
                "what",
                "the",
                "approval",
                "rate",
                "for",
                "visa",
                "since",
                "2026-10-01",
                "code",
                "10.4",
                "20%"
            ]
        );
    }

    #[test]
    fn typos_within_one_edit() {
        assert!(close("aproval", "approval"));
        assert!(close("chargebaks", "chargebacks"));
        assert!(close("apporval", "approval"));
        assert!(close("setlement", "settlement"));
        assert!(!close("visa", "vise"));
        assert!(!close("refund", "fund"));
    }
}
