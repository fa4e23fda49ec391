//! From a question's text to what it means and the answer's form: `words` (tokens), `time`
//! (time expressions), `amounts` (amount thresholds), `lexicon` and `parse` (text →
//! [`Question`]), `typed` (the typed query every question becomes, docs/query.md), `answer`
//! (the answer, formatting, grounding). [`crate::Engine::ask`] runs it all; the agents
//! (`crate::agents`, with their plan) compute the numbers.

pub mod amounts;
pub mod answer;
pub mod lexicon;
pub mod parse;
pub mod question;
pub mod time;
pub mod typed;
pub mod words;

pub use answer::Answer;
pub use question::{Intent, Query, Question};
pub use time::TimeRangeSpec;
pub use typed::TypedQuery;
