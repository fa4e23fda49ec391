//! From a question's text to an answer: `words` (tokens), `time` (time expressions),
//! `lexicon` and `parse` (text → [`Question`]), `plan` (question → agents), `answer` (the
//! answer, formatting, grounding). [`crate::Engine::ask`] runs it all.

pub mod amounts;
pub mod answer;
pub mod lexicon;
pub mod parse;
pub mod plan;
pub mod question;
pub mod time;
pub mod typed;
pub mod words;

pub use answer::Answer;
pub use question::{Intent, Query, Question};
pub use time::TimeRangeSpec;
pub use typed::TypedQuery;
