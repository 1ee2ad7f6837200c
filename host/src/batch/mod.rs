//! Batch runs (`session-host run`): a file of Zyte API requests through the engine, one answer
//! line per input, resumable after any interruption.
//!
//! # Policy
//!
//! - **Input** ([`input`]): JSON Lines of Zyte API requests, each with an optional
//!   `sessionManagement` ([`crate::session_management`]), or a URL list, as python-zyte-api's
//!   `zyte-api` command reads them. Every non-blank line is an input, numbered by its line.
//! - **Exactly one answer per input** ([`output`]): the response, or an error line with the
//!   problem details. A line that cannot be sent (bad JSON, no `url`, bad `sessionManagement`)
//!   is answered with an error line without reaching the engine. Nothing is dropped. A line
//!   whose answering panics (a bug) gets an `internal` error line ([`answer`]) and the run
//!   goes on; so does a line whose parsing panics ([`InputLine::parse`]).
//! - **Resumable**: an input counts as done when the output holds a complete line for it; a run
//!   over an existing output sends only the others, after cutting off a partial last line. The
//!   writer must write each answer with a single write, so that a kill leaves at most one
//!   partial line.
//!
//! ```
//! use session_host::batch::{Answer, InputType, parse_inputs, scan_answered};
//! use session_host::problem::Problem;
//!
//! let inputs = parse_inputs("https://a.example\nhttps://b.example\n", InputType::Txt);
//! let output = Answer::error(&inputs[1].origin, Problem::bad_request("just an example")).text;
//! let answered = scan_answered(output.as_bytes()).unwrap();
//! let todo: Vec<_> = inputs.iter().filter(|i| !answered.contains(i.origin.line)).collect();
//! assert_eq!(todo[0].origin.url.as_deref(), Some("https://a.example"));
//! assert_eq!(todo.len(), 1);
//! ```

pub mod input;
pub mod output;

pub use input::{Input, InputLine, InputType, Origin, input_lines, parse_inputs};
pub use output::{Answer, Answered, META_FIELD, ResumeError, scan_answered};

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;

use crate::engine::{Deadline, Engine};
use crate::problem::{Problem, ProblemKind};

/// The `detail` of the error answer of a line whose request panicked.
pub const PANIC_DETAIL: &str =
    "the host failed while answering this line (a bug, logged by the host); the run went on";

/// Sends `input` through `engine` (unless it is a bad line) and returns its answer, within
/// `timeout` from the call: past it, the answer is a `timeout` error line (issue 12).
///
/// A panic while answering (a bug) becomes an `internal` error answer for this line alone,
/// without the panic text (which the panic hook logs on standard error): the run goes on, and
/// since the line has an answer, resuming never sends it again.
///
/// A front end answering many lines at once polls their answers together (`run` does, in its
/// own task) and must go on polling them while it writes answers elsewhere, so that no
/// deadline waits on the writing.
pub async fn answer(engine: &Engine, input: Input, timeout: Duration) -> Answer {
    let origin = input.origin.clone();
    contain(&origin, async move {
        match input.request {
            Ok(request) => {
                let (deadline, started) = (Deadline::after(timeout), std::time::Instant::now());
                let outcome = engine.execute_by(request, deadline).await;
                let origin = Origin {
                    took: Some(started.elapsed()),
                    ..input.origin
                };
                Answer::of(&origin, outcome)
            }
            Err(problem) => Answer::error(&input.origin, problem),
        }
    })
    .await
}

/// Awaits `answering`, turning a panic into the `internal` error answer of `origin`.
async fn contain(origin: &Origin, answering: impl Future<Output = Answer>) -> Answer {
    match AssertUnwindSafe(answering).catch_unwind().await {
        Ok(answer) => answer,
        Err(_) => {
            tracing::error!(line = origin.line, "answering an input line panicked");
            Answer::error(origin, Problem::new(ProblemKind::Internal, PANIC_DETAIL))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn issue_12_a_panicking_line_gets_an_error_answer_and_is_not_replayed() {
        let inputs = parse_inputs("https://a.example\nhttps://b.example\n", InputType::Txt);
        let crashed = contain(&inputs[0].origin, async { panic!("secret state") }).await;
        let problem = crashed.problem.as_ref().expect("an error answer");
        assert_eq!(problem.kind(), Some(ProblemKind::Internal));
        assert_eq!(problem.detail, PANIC_DETAIL);
        assert!(!crashed.text.contains("secret"), "{}", crashed.text);
        let answered = scan_answered(crashed.text.as_bytes()).expect("a valid output");
        let todo: Vec<u64> = inputs
            .iter()
            .map(|i| i.origin.line)
            .filter(|&line| !answered.contains(line))
            .collect();
        assert_eq!(todo, [2], "resume sends only the line that did not crash");
    }
}
