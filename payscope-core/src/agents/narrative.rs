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
    if q.intent == Intent::Unsupported {
        return unsupported(q);
    }
    if out.sentences.is_empty() {
        return "I could not compute an answer to that question from your data.".to_owned();
    }
    out.sentences.join(" ")
}

/// What we say when a question is not understood: what was not, and what works.
pub fn unsupported(q: &Question) -> String {
    let missed = if q.not_understood.is_empty() {
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
