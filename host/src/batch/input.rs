//! Reading a batch's input: JSON Lines of Zyte API requests, or a plain URL list.
//!
//! It follows python-zyte-api's `zyte-api` command (`zyte_api.__main__.read_input`, 0.11.0):
//!
//! - **Type.** `.jl` and `.jsonl` files are JSON Lines, `.txt` files URL lists; otherwise a
//!   first line that starts with `{` means JSON Lines, else a URL list. (zyte-api looks at the
//!   first line even when it is blank; we look at the first non-blank one.)
//! - **URL lists.** Each line, trimmed, becomes `{"url": LINE, "browserHtml": true}`.
//! - **`echoData`** defaults to the request's `url`, so every answer can be matched to its
//!   request.
//! - **Blank lines** (only whitespace) are skipped: they are not inputs and get no answer.
//!
//! And adds what a resumable batch needs:
//!
//! - **Inputs are numbered by their line in the file** (1-based, blank lines counted), the
//!   number that the output records (see [`super::output`]).
//! - **A bad line is an input too.** A line that is not JSON (`invalid-json`), not an object, has
//!   no string `url`, or has an invalid `sessionManagement` (`bad-request`, checked as the gateway
//!   checks a body: [`crate::session_management`]) becomes an [`Input`] whose request is the
//!   [`Problem`] to answer it with, so it gets its own error line.

use std::path::Path;

use serde_json::{Map, Value};

use crate::engine::EngineRequest;
use crate::problem::{Problem, ProblemKind};
use crate::session_management::engine_request;
use crate::wire::json_kind;

/// The format of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputType {
    /// JSON Lines: one Zyte API request object per line.
    Jl,
    /// One URL per line.
    Txt,
}

impl InputType {
    /// The type that `path`'s extension implies (`.jl`, `.jsonl`, `.txt`), if any.
    pub fn from_extension(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "jl" | "jsonl" => Some(Self::Jl),
            "txt" => Some(Self::Txt),
            _ => None,
        }
    }

    /// JSON Lines when the first non-blank line starts with `{`, else a URL list.
    pub fn sniff(text: &str) -> Self {
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        if first.trim_start().starts_with('{') {
            Self::Jl
        } else {
            Self::Txt
        }
    }

    /// By extension, else by content.
    pub fn guess(path: &Path, text: &str) -> Self {
        Self::from_extension(path).unwrap_or_else(|| Self::sniff(text))
    }
}

/// One input: a non-blank line of the input file.
#[derive(Debug, Clone)]
pub struct Input {
    /// Where it comes from, which its answer repeats.
    pub origin: Origin,
    /// The request to send, or the problem that answers a bad line.
    pub request: Result<EngineRequest, Problem>,
}

/// What identifies an input in its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// Its line number in the file, from 1.
    pub line: u64,
    /// The request's `url`, when it has a string one.
    pub url: Option<String>,
    /// The request's `echoData` (its `url` by default), repeated in its answer.
    pub echo_data: Option<Value>,
    /// A hash of the line as written ([`line_hash`]), recorded in its answer so that a resumed
    /// run can tell that the input changed under it; empty when unknown.
    pub input_hash: String,
    /// How long the engine took to answer it, once it has ([`super::answer`]): recorded in
    /// its answer as `_sessionHost.ms`.
    pub took: Option<std::time::Duration>,
}

/// The first 16 hex digits (64 bits) of the SHA-256 of an input line, trimmed: enough to catch
/// an edited, inserted or removed line, not meant to resist a forger (whoever can write the
/// input chooses the requests anyway).
pub fn line_hash(content: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(content.trim().as_bytes())[..8])
}

/// Every input of `text`, in file order.
pub fn parse_inputs(text: &str, kind: InputType) -> Vec<Input> {
    input_lines(text).map(|line| line.parse(kind)).collect()
}

/// A non-blank line of an input file, not parsed yet: a run parses each line as it sends it
/// (issue 17: parsing every line before the first request held every parsed request in memory
/// at once, and growing that list, page faults included, was a tenth of `run`'s CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLine<'a> {
    /// Its number in the file, from 1 (blank lines counted).
    pub number: u64,
    /// Its text, trimmed.
    pub text: &'a str,
}

impl InputLine<'_> {
    /// Its input ([`parse_line`]), with a panic (a bug) turned into an `internal` error input
    /// for this line, so that one line can never stop a run, nor every resume of it.
    pub fn parse(self, kind: InputType) -> Input {
        std::panic::catch_unwind(|| parse_line(self.number, self.text, kind))
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                let line = self.number;
                let detail = format!("input line {line}: the host failed while reading it (a bug)");
                bad_line(line, Problem::new(ProblemKind::Internal, detail))
            })
    }

    /// Its [`line_hash`], which its answer records.
    pub fn hash(&self) -> String {
        line_hash(self.text)
    }
}

/// The non-blank lines of `text`, in file order.
pub fn input_lines(text: &str) -> impl Iterator<Item = InputLine<'_>> {
    text.lines().zip(1..).filter_map(|(content, number)| {
        let text = content.trim();
        (!text.is_empty()).then_some(InputLine { number, text })
    })
}

/// The input of line `line`, `None` when it is blank.
pub fn parse_line(line: u64, content: &str, kind: InputType) -> Option<Input> {
    let content = content.trim();
    if content.is_empty() {
        return None;
    }
    let mut input = match kind {
        InputType::Txt => url_input(line, content),
        InputType::Jl => json_input(line, content),
    };
    input.origin.input_hash = line_hash(content);
    Some(input)
}

fn url_input(line: u64, url: &str) -> Input {
    let mut body = Map::new();
    body.insert("url".into(), url.into());
    body.insert("browserHtml".into(), true.into());
    body.insert("echoData".into(), url.into());
    Input {
        origin: Origin {
            line,
            url: Some(url.to_owned()),
            echo_data: Some(url.into()),
            input_hash: String::new(),
            took: None,
        },
        // The same checks as a JSON line's `url` (issue 12: a URL list once skipped them).
        request: engine_request(body)
            .map_err(|e| Problem::bad_request(format!("input line {line}: {e}"))),
    }
}

fn json_input(line: u64, content: &str) -> Input {
    let mut body = match serde_json::from_str::<Value>(content) {
        Ok(Value::Object(body)) => body,
        Ok(other) => {
            let detail = format!(
                "input line {line} must be a JSON object (a Zyte API request), got {}",
                json_kind(&other)
            );
            return bad_line(line, Problem::bad_request(detail));
        }
        Err(e) => {
            let detail = format!("input line {line} is not valid JSON: {e}");
            return bad_line(line, Problem::new(ProblemKind::InvalidJson, detail));
        }
    };
    let url = body.get("url").and_then(Value::as_str).map(str::to_owned);
    if let (None, Some(url)) = (body.get("echoData"), &url) {
        body.insert("echoData".into(), url.as_str().into());
    }
    Input {
        origin: Origin {
            line,
            url,
            echo_data: body.get("echoData").cloned(),
            input_hash: String::new(),
            took: None,
        },
        request: engine_request(body)
            .map_err(|e| Problem::bad_request(format!("input line {line}: {e}"))),
    }
}

/// A line that is not a request object at all.
fn bad_line(line: u64, problem: Problem) -> Input {
    Input {
        origin: Origin {
            line,
            url: None,
            echo_data: None,
            input_hash: String::new(),
            took: None,
        },
        request: Err(problem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detail(input: &Input) -> &str {
        &input.request.as_ref().unwrap_err().detail
    }

    #[test]
    fn type_by_extension_then_content() {
        let guess = |name: &str, text: &str| InputType::guess(Path::new(name), text);
        assert_eq!(guess("a.jl", "https://x"), InputType::Jl);
        assert_eq!(guess("a.jsonl", ""), InputType::Jl);
        assert_eq!(guess("a.txt", "{\"url\": 1}"), InputType::Txt);
        assert_eq!(guess("a", "\n  {\"url\": \"u\"}"), InputType::Jl);
        assert_eq!(guess("a.csv", "https://x.example\n{"), InputType::Txt);
        assert_eq!(guess("-", ""), InputType::Txt);
    }

    #[test]
    fn url_lists_match_the_zyte_api_command() {
        let inputs = parse_inputs(
            "https://a.example/1\n\n  https://b.example/2 \r\n",
            InputType::Txt,
        );
        assert_eq!(inputs.len(), 2, "blank lines are no inputs");
        assert_eq!((inputs[0].origin.line, inputs[1].origin.line), (1, 3));
        let request = inputs[1].request.as_ref().unwrap();
        assert_eq!(
            Value::Object(request.body.clone()),
            json!({"url": "https://b.example/2", "browserHtml": true, "echoData": "https://b.example/2"})
        );
        assert_eq!(
            inputs[1].origin.echo_data,
            Some(json!("https://b.example/2"))
        );
    }

    #[test]
    fn json_lines_keep_their_fields_and_lose_session_management() {
        let text = r#"{"url": "https://a.example", "httpResponseBody": true, "sessionManagement": {"pool": "p"}}
{"url": "https://b.example", "echoData": {"id": 7}}"#;
        let inputs = parse_inputs(text, InputType::Jl);
        let first = inputs[0].request.as_ref().unwrap();
        assert_eq!(
            Value::Object(first.body.clone()),
            json!({"url": "https://a.example", "httpResponseBody": true, "echoData": "https://a.example"})
        );
        assert_eq!(first.controls.pool.as_ref().unwrap().id, "p");
        let second = inputs[1].request.as_ref().unwrap();
        assert_eq!(
            second.body["echoData"],
            json!({"id": 7}),
            "an echoData is kept"
        );
        assert_eq!(inputs[1].origin.echo_data, Some(json!({"id": 7})));
        assert_eq!(inputs[1].origin.url.as_deref(), Some("https://b.example"));
    }

    #[test]
    fn bad_lines_are_inputs_with_a_precise_problem() {
        let text = "{\"url\": \"https://a.example\"\n[1]\n{\"browserHtml\": true, \"echoData\": 5}\n{\"url\": 3}\n\
            {\"url\": \"https://b.example\", \"sessionManagement\": {\"enabled\": 1}}";
        let inputs = parse_inputs(text, InputType::Jl);
        assert_eq!(inputs.len(), 5);
        assert!(
            detail(&inputs[0]).starts_with("input line 1 is not valid JSON: EOF while parsing")
        );
        assert_eq!(
            detail(&inputs[1]),
            "input line 2 must be a JSON object (a Zyte API request), got an array"
        );
        assert_eq!(detail(&inputs[2]), "input line 3: the request has no `url`");
        assert_eq!(
            inputs[2].origin.echo_data,
            Some(json!(5)),
            "the echoData of a bad line is kept"
        );
        assert_eq!(
            detail(&inputs[3]),
            "input line 4: `url` must be a string, got a number"
        );
        assert_eq!(
            detail(&inputs[4]),
            "input line 5: `sessionManagement.enabled` must be a boolean, got the number 1"
        );
        assert_eq!(inputs[4].origin.url.as_deref(), Some("https://b.example"));
        let kinds: Vec<_> = inputs
            .iter()
            .map(|i| i.request.as_ref().unwrap_err().kind())
            .collect();
        assert_eq!(kinds[0], Some(ProblemKind::InvalidJson));
        assert!(
            kinds[1..]
                .iter()
                .all(|k| *k == Some(ProblemKind::BadRequest))
        );
    }
}
