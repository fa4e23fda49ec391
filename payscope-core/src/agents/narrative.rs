//! The narrative: the agents' sentences composed into a summary, follow-ups and warnings
//! merged, and the reply to a question that was not understood.

use super::Output;
use crate::query::question::{Intent, Question};

/// Questions that work, offered when one is not understood.
pub const EXAMPLES: [&str; 6] = [
    "What is the approval rate for Visa last week?",
    "Which merchants have the highest chargebacks?",
    "Top five decline reasons in October",
    "Why did settlement amounts drop last week?",
    "What's the forecast for next month?",
    "How many authorizations are not settled yet?",
];

/// The summary of an answer from the agents' combined output.
pub fn summary(q: &Question, out: &Output) -> String {
    match q.intent {
        Intent::Unsupported => return unsupported(q),
        Intent::Clarify => return clarify(q),
        _ => {}
    }
    if out.sentences.is_empty() {
        return "I could not compute an answer to that question from your data.".to_owned();
    }
    out.sentences.join(" ")
}

/// What we say when some words of a question could not be placed: which, that no number is
/// given, and the closest questions that can be answered (in `followups`).
pub fn clarify(q: &Question) -> String {
    let words = q.not_understood.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ");
    let closest = closest_questions(q);
    let offer = match closest.first() {
        Some(c) => format!(" Did you mean \"{c}\"? Otherwise, rephrase the question."),
        None => " Please rephrase the question.".to_owned(),
    };
    format!(
        "I could not place {words} in your question, so I have not answered with a number: an answer that left {} out could answer a different question.{offer}",
        if q.not_understood.len() == 1 { "it" } else { "them" }
    )
}

/// The questions to offer instead of one with unplaced words: the question without them (when
/// something is left), then the examples.
pub fn closest_questions(q: &Question) -> Vec<String> {
    let bare = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    let filler = |w: &str| {
        let b = bare(w);
        crate::query::words::is_stopword(&b) || b.parse::<f64>().is_ok()
    };
    // Each unplaced word goes with the small words before it (`for our platinum`) and the small
    // words and numbers after it (`customers over 65`), except a small word that opens what
    // follows (`tier in November`); the question keeps its closing mark.
    let words: Vec<&str> = q.text.split_whitespace().collect();
    let unplaced = |w: &str| q.not_understood.contains(&bare(w));
    let mut kept: Vec<&str> = Vec::new();
    let mut dropping = false;
    for (i, w) in words.iter().enumerate() {
        if unplaced(w) {
            while kept.last().is_some_and(|k| crate::query::words::is_stopword(&bare(k))) {
                kept.pop();
            }
            dropping = true;
            continue;
        }
        let opens_next = crate::query::words::is_stopword(&bare(w))
            && words.get(i + 1).is_some_and(|n| !filler(n) && !unplaced(n));
        if !(dropping && filler(w)) || opens_next {
            dropping = false;
            kept.push(w);
        }
    }
    while kept.last().is_some_and(|w| crate::query::words::is_stopword(&bare(w))) {
        kept.pop();
    }
    let mut out = Vec::new();
    // A threshold without a currency: the question with one (`above 100 USD`).
    for phrase in q.not_understood.iter().filter_map(|w| w.strip_suffix(crate::query::amounts::NO_CURRENCY)) {
        if let Some(at) = q.text.to_lowercase().find(phrase).filter(|_| q.text.is_ascii()) {
            let end = at + phrase.len();
            out.push(format!("{} USD{}", &q.text[..end], &q.text[end..]));
        }
    }
    if !kept.is_empty() && kept.len() < q.text.split_whitespace().count() {
        let mut text = kept.join(" ").trim_end_matches(['?', '.', '!']).to_owned();
        if q.text.trim_end().ends_with('?') {
            text.push('?');
        }
        out.push(text);
    }
    out.extend(EXAMPLES.iter().take(3).map(|e| (*e).to_owned()));
    out
}

/// What we say when a question is not understood: what was not, and what works.
pub fn unsupported(q: &Question) -> String {
    let missed = if let Some(why) = &q.refused {
        why.trim_end_matches('.').to_owned()
    } else if !q.missing.is_empty() {
        format!("The reports PayScope reads do not record {}", q.missing.join(" or "))
    } else if q.not_understood.is_empty() {
        "I could not tell which metric you are asking about".to_owned()
    } else {
        format!(
            "I did not understand {}",
            q.not_understood.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ")
        )
    };
    format!(
        "{missed}, so I have not answered with any numbers. I can answer questions about approvals, declines, sales, clearing, settlement, interchange, refunds, chargebacks, fraud and reconciliation, for example: {}",
        EXAMPLES.iter().map(|e| format!("\"{e}\"")).collect::<Vec<_>>().join(", ")
    )
}
