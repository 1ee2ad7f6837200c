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
//!   is answered with an error line without reaching the engine. Nothing is dropped.
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

pub use input::{Input, InputType, Origin, parse_inputs};
pub use output::{Answer, Answered, META_FIELD, ResumeError, scan_answered};

use std::time::Duration;

use crate::engine::{Deadline, Engine};

/// Sends `input` through `engine` (unless it is a bad line) and returns its answer, within
/// `timeout` from the call: past it, the answer is a `timeout` error line (issue 12).
pub async fn answer(engine: &Engine, input: Input, timeout: Duration) -> Answer {
    match input.request {
        Ok(request) => {
            let deadline = Deadline::after(timeout);
            Answer::of(&input.origin, engine.execute_by(request, deadline).await)
        }
        Err(problem) => Answer::error(&input.origin, problem),
    }
}
