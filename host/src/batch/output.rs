//! The batch's output: exactly one JSON line per input, and what an existing output says has been
//! answered already.
//!
//! # Format
//!
//! Each line is one JSON object followed by `\n`, in the order answers arrive (not input order):
//!
//! - **A response** is Zyte API's JSON body as it came, with the input's `echoData` added when
//!   the body lacks it, plus [`META_FIELD`].
//! - **An error** is `{"url"?, "error": PROBLEM, "echoData"?, "_sessionHost"}`, where `PROBLEM` is
//!   the [`Problem`] (`type`, `title`, `status`, `detail`, and `pool`, `reason` when known):
//!   Zyte API's own problem for its errors, a `/session-host/problem/…` one for the host's (the
//!   gateway's vocabulary, [`crate::problem`]).
//! - **[`META_FIELD`]** (`"_sessionHost"`) identifies the input: `line`, its line number in the
//!   input file (from 1), and `input`, a hash of that line ([`super::input::line_hash`]); for
//!   a line sent to the engine `ms`, the milliseconds from sending it to its answer (within
//!   the request deadline, `--request-timeout-secs`); for responses served by a session also
//!   `pool`, `session` and `config`.
//!   Zyte API fields never start with `_`, so it cannot clash with them.
//!
//! # Resumption
//!
//! [`scan_answered`] reads an existing output. An input counts as answered when a complete line
//! (ending with `\n`) records its line number. A last line without `\n` is what a kill in the
//! middle of a write leaves: it is not counted, and its bytes are to be cut off
//! ([`Answered::keep_bytes`]) before appending, so its input is answered again, once. A complete
//! line that is not ours (not JSON, no `_sessionHost.line`) is an error: the file is not the
//! output of a batch, and appending to it would mix two things. So is an answer whose `input`
//! hash differs from the input line's now ([`Answered::check_against`]): the input changed under
//! the output (a line edited, inserted or removed), and matching answers by line number would
//! skip requests never answered. (Outputs written before the hash existed are matched by line
//! number only.)

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::Deserialize as _;
use serde_json::{Map, Value};

use super::input::{InputLine, Origin};
use crate::engine::{EngineError, EngineResponse, ServedBy};
use crate::problem::{Problem, ProblemKind};

/// The field of every output line that identifies its input.
pub const META_FIELD: &str = "_sessionHost";

/// An input's answer: its output line, and what the run's summary needs to know of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The input's line number.
    pub line: u64,
    /// The JSON line, ending with `\n`.
    pub text: String,
    /// The pool that served or refused it, when known.
    pub pool: Option<String>,
    /// The problem, for an error line.
    pub problem: Option<Problem>,
}

impl Answer {
    /// The answer to an input that was sent, given the engine's outcome.
    pub fn of(origin: &Origin, outcome: Result<EngineResponse, EngineError>) -> Self {
        match outcome {
            Ok(response) => Self::response(origin, &response),
            Err(error) => Self::error(origin, Problem::from_engine_error(&error)),
        }
    }

    /// The line of a response; an error line when its body is not a JSON object.
    ///
    /// The body's bytes are kept as they came ([`spliced_line`]; issue 17: parsing the body into
    /// a [`Value`] and writing it back was a fifth of `run`'s CPU per request). A body that this
    /// path does not take (not on one line, or with a [`META_FIELD`] of its own) is parsed and
    /// written back compact ([`parsed_line`]).
    pub fn response(origin: &Origin, response: &EngineResponse) -> Self {
        let (body, served) = (response.body.as_ref(), response.served_by.as_ref());
        let Some(text) =
            spliced_line(body, origin, served).or_else(|| parsed_line(body, origin, served))
        else {
            let detail = "Zyte API answered 200 with a body that is not a JSON object";
            let problem = Problem::new(ProblemKind::UpstreamError, detail);
            return Self::error(origin, problem);
        };
        Self {
            line: origin.line,
            text,
            pool: served.map(|s| s.pool.clone()),
            problem: None,
        }
    }

    /// The line of an error.
    pub fn error(origin: &Origin, problem: Problem) -> Self {
        let mut line = Map::new();
        if let Some(url) = &origin.url {
            line.insert("url".into(), url.as_str().into());
        }
        line.insert("error".into(), problem.to_value());
        if let Some(echo) = &origin.echo_data {
            line.insert("echoData".into(), echo.clone());
        }
        line.insert(META_FIELD.into(), LineMeta::of(origin, None).to_value());
        Self {
            line: origin.line,
            text: json_line(line),
            pool: problem.pool().map(str::to_owned),
            problem: Some(problem),
        }
    }
}

/// The [`META_FIELD`] of an answer line.
#[derive(serde::Serialize)]
struct LineMeta<'a> {
    line: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    input: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pool: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<&'a str>,
}

impl<'a> LineMeta<'a> {
    fn of(origin: &'a Origin, served: Option<&'a ServedBy>) -> Self {
        Self {
            line: origin.line,
            input: &origin.input_hash,
            ms: (origin.took).map(|took| u64::try_from(took.as_millis()).unwrap_or(u64::MAX)),
            pool: served.map(|s| s.pool.as_str()),
            session: served.map(|s| s.session_id.as_str()),
            config: served.map(|s| s.config.as_str()),
        }
    }

    fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({"line": self.line}))
    }
}

/// The line of a response whose `body` is a JSON object on one line without a [`META_FIELD`]:
/// its bytes as they came, with `echoData` (when the body has none and the input has one) and
/// the [`META_FIELD`] added before its closing brace. `None` for any other body, which
/// [`parsed_line`] then answers.
///
/// The body is checked to be one JSON object (every value read, none kept) before it is
/// copied, so the line is valid JSON exactly when the body is. A body with a line break (JSON
/// whitespace: a string cannot hold one unescaped) would break the output's one line per
/// answer; one with its own [`META_FIELD`] would hold the field twice.
fn spliced_line(body: &[u8], origin: &Origin, served: Option<&ServedBy>) -> Option<String> {
    // `contains` on bytes runs core's word-at-a-time memchr.
    if body.contains(&b'\n') || body.contains(&b'\r') {
        return None;
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    let top = TopLevel::deserialize(&mut reader).ok()?;
    reader.end().ok()?;
    if top.meta {
        return None;
    }
    let end = body.iter().rposition(|&b| b == b'}')?;
    let mut line = Vec::with_capacity(body.len() + 256);
    line.extend_from_slice(&body[..end]);
    let mut separator: &[u8] = if top.keys == 0 { b"" } else { b"," };
    if let (false, Some(echo)) = (top.echo_data, &origin.echo_data) {
        line.extend_from_slice(separator);
        line.extend_from_slice(b"\"echoData\":");
        serde_json::to_writer(&mut line, echo).ok()?;
        separator = b",";
    }
    line.extend_from_slice(separator);
    line.extend_from_slice(b"\"");
    line.extend_from_slice(META_FIELD.as_bytes());
    line.extend_from_slice(b"\":");
    serde_json::to_writer(&mut line, &LineMeta::of(origin, served)).ok()?;
    line.extend_from_slice(b"}\n");
    String::from_utf8(line).ok()
}

/// The line of a response through a [`Value`] of its `body`, written back compact: `None` when
/// the body is not a JSON object.
fn parsed_line(body: &[u8], origin: &Origin, served: Option<&ServedBy>) -> Option<String> {
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    if let (false, Some(echo)) = (body.contains_key("echoData"), &origin.echo_data) {
        body.insert("echoData".into(), echo.clone());
    }
    body.insert(META_FIELD.into(), LineMeta::of(origin, served).to_value());
    Some(json_line(body))
}

/// What [`spliced_line`] needs to know of a JSON object: how many keys it has, and whether
/// `echoData` and [`META_FIELD`] are among them. Deserializing it reads (and so checks) every
/// value without building any.
#[derive(Default)]
struct TopLevel {
    keys: usize,
    echo_data: bool,
    meta: bool,
}

impl<'de> serde::Deserialize<'de> for TopLevel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> serde::de::Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut top = TopLevel::default();
        while let Some(key) = map.next_key::<TopKey>()? {
            map.next_value::<serde::de::IgnoredAny>()?;
            top.keys += 1;
            match key {
                TopKey::EchoData => top.echo_data = true,
                TopKey::Meta => top.meta = true,
                TopKey::Other => {}
            }
        }
        Ok(top)
    }
}

/// A key of the object [`TopLevel`] reads, classified without being copied.
enum TopKey {
    EchoData,
    Meta,
    Other,
}

impl<'de> serde::Deserialize<'de> for TopKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = TopKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E>(self, key: &str) -> Result<TopKey, E> {
                Ok(match key {
                    "echoData" => TopKey::EchoData,
                    META_FIELD => TopKey::Meta,
                    _ => TopKey::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

fn json_line(object: Map<String, Value>) -> String {
    let mut text = Value::Object(object).to_string();
    text.push('\n');
    text
}

/// What an existing output has answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answered {
    /// The input line numbers answered, each with the output line (from 1) that answers it.
    pub lines: BTreeMap<u64, u64>,
    /// The length of the complete lines: the file must be cut to it before appending.
    pub keep_bytes: u64,
    /// Whether the file ends with a partial line (which `keep_bytes` cuts off).
    pub partial_line: bool,
    /// The input hash each answer recorded, by input line (answers that recorded one).
    pub hashes: BTreeMap<u64, String>,
}

/// Why an existing output cannot be resumed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The file could not be read.
    #[error("cannot read the output: {0}")]
    Read(#[from] std::io::Error),
    /// A complete line that a batch did not write.
    #[error(
        "line {line} of the output is not a batch answer ({why}); is it the output of a batch?"
    )]
    NotAnAnswer {
        /// Its line number in the output.
        line: u64,
        /// What is wrong with it.
        why: String,
    },
    /// An answer to an input line that the input does not have.
    #[error(
        "line {line} of the output answers input line {input_line}, which is not an input of this \
         file; is the output that of another input?"
    )]
    UnknownInput {
        /// Its line number in the output.
        line: u64,
        /// The input line number it records.
        input_line: u64,
    },
    /// An answer to an input line whose content changed since.
    #[error(
        "input line {input_line} changed since line {line} of the output answered it: the \
         input is not the one this output was written for; restore it, or write a new output"
    )]
    InputChanged {
        /// Its line number in the output.
        line: u64,
        /// The input line number it records.
        input_line: u64,
    },
}

/// Reads an output and collects the input lines it answers.
pub fn scan_answered(mut reader: impl BufRead) -> Result<Answered, ResumeError> {
    let mut answered = Answered::default();
    let mut buffer = Vec::new();
    for line in 1.. {
        buffer.clear();
        let read = reader.read_until(b'\n', &mut buffer)?;
        if read == 0 {
            break;
        }
        if buffer.last() != Some(&b'\n') {
            answered.partial_line = true;
            break;
        }
        let (input_line, hash) = answered_line(&buffer, line)?;
        answered.lines.entry(input_line).or_insert(line);
        if let Some(hash) = hash {
            answered.hashes.entry(input_line).or_insert(hash);
        }
        answered.keep_bytes += read as u64;
    }
    Ok(answered)
}

/// The input line number (and hash, if any) that one output line records.
fn answered_line(text: &[u8], line: u64) -> Result<(u64, Option<String>), ResumeError> {
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(rename = "_sessionHost")]
        meta: Meta,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        line: u64,
        input: Option<String>,
    }
    serde_json::from_slice::<Line>(text)
        .map(|l| (l.meta.line, l.meta.input))
        .map_err(|e| ResumeError::NotAnAnswer {
            line,
            why: e.to_string(),
        })
}

impl Answered {
    /// Whether input line `line` is answered.
    pub fn contains(&self, line: u64) -> bool {
        self.lines.contains_key(&line)
    }

    /// Checks that every answer is to a line of `lines` (the input's non-blank lines, in file
    /// order, as [`super::input_lines`] gives them), and to the same content. Only the lines
    /// answered are hashed.
    pub fn check_against(&self, lines: &[InputLine<'_>]) -> Result<(), ResumeError> {
        for (&input_line, &line) in &self.lines {
            let Ok(at) = lines.binary_search_by_key(&input_line, |l| l.number) else {
                return Err(ResumeError::UnknownInput { line, input_line });
            };
            if let Some(then) = self.hashes.get(&input_line)
                && *then != lines[at].hash()
            {
                return Err(ResumeError::InputChanged { line, input_line });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::input::line_hash;
    use crate::engine::ServedBy;
    use serde_json::json;

    fn origin(line: u64) -> Origin {
        Origin {
            line,
            url: Some("https://a.example".into()),
            echo_data: Some(json!({"id": line})),
            input_hash: String::new(),
            took: None,
        }
    }

    fn parsed(answer: &Answer) -> Value {
        assert!(answer.text.ends_with('\n') && answer.text.matches('\n').count() == 1);
        serde_json::from_str(&answer.text).unwrap()
    }

    #[test]
    fn a_response_is_the_upstream_body_with_echo_data_and_the_input_line() {
        let response = EngineResponse {
            status: 200,
            body: r#"{"url": "https://a.example", "statusCode": 200}"#.into(),
            served_by: Some(ServedBy {
                pool: "a.example".into(),
                session_id: "s1".into(),
                config: "default".into(),
            }),
        };
        let answer = Answer::of(&origin(4), Ok(response.clone()));
        assert_eq!(
            parsed(&answer),
            json!({"url": "https://a.example", "statusCode": 200, "echoData": {"id": 4},
                "_sessionHost": {"line": 4, "pool": "a.example", "session": "s1", "config": "default"}})
        );
        assert_eq!(answer.pool.as_deref(), Some("a.example"));
        let echoed = EngineResponse {
            body: r#"{"url": "u", "echoData": "from upstream"}"#.into(),
            served_by: None,
            ..response
        };
        let answer = Answer::response(&origin(5), &echoed);
        assert_eq!(
            parsed(&answer)["echoData"],
            "from upstream",
            "upstream's echo wins"
        );
        assert_eq!(parsed(&answer)["_sessionHost"], json!({"line": 5}));
    }

    #[test]
    fn an_error_carries_the_problem_echo_data_and_the_input_line() {
        let error = EngineError::PoolClosed {
            pool: "p".into(),
            reason: "unsupported_set_location".into(),
        };
        let answer = Answer::of(&origin(2), Err(error));
        let line = parsed(&answer);
        assert_eq!(line["url"], "https://a.example");
        assert_eq!(line["echoData"], json!({"id": 2}));
        assert_eq!(line["_sessionHost"], json!({"line": 2}));
        assert_eq!(line["error"]["type"], "/session-host/problem/pool-closed");
        assert_eq!(line["error"]["status"], 409);
        assert_eq!(line["error"]["reason"], "unsupported_set_location");
        assert_eq!(answer.pool.as_deref(), Some("p"));
        let bare = Origin {
            line: 9,
            url: None,
            echo_data: None,
            input_hash: String::new(),
            took: None,
        };
        let line = parsed(&Answer::error(&bare, Problem::bad_request("no url")));
        assert_eq!(
            line,
            json!({"error": {"type": "/session-host/problem/bad-request", "title": "Bad Request",
                "status": 400, "detail": "no url"}, "_sessionHost": {"line": 9}})
        );
    }

    #[test]
    fn issue_17_a_response_line_is_the_body_as_it_came_with_the_fields_added() {
        let served = ServedBy {
            pool: "a.example".into(),
            session_id: "s\"1".into(),
            config: "default".into(),
        };
        let response = |body: &str| EngineResponse {
            status: 200,
            body: body.into(),
            served_by: Some(served.clone()),
        };
        let meta =
            r#""_sessionHost":{"line":4,"pool":"a.example","session":"s\"1","config":"default"}"#;
        let answer = Answer::response(&origin(4), &response(r#" {"b": 1.50, "a": "\u00e9"} "#));
        assert_eq!(
            answer.text,
            format!(" {{\"b\": 1.50, \"a\": \"\\u00e9\",\"echoData\":{{\"id\":4}},{meta}}}\n"),
            "the body's bytes, its order and spelling kept"
        );
        let answer = Answer::response(&origin(4), &response("{}"));
        assert_eq!(
            answer.text,
            format!("{{\"echoData\":{{\"id\":4}},{meta}}}\n")
        );
        let answer = Answer::response(&origin(4), &response(r#"{"echoData": null}"#));
        assert_eq!(answer.text, format!("{{\"echoData\": null,{meta}}}\n"));
        // A body on several lines, or with a `_sessionHost` of its own, is written back compact.
        let answer = Answer::response(&origin(4), &response("{\"a\":\n 1,\r\n \"echoData\": 2}"));
        assert_eq!(answer.text, format!("{{\"a\":1,\"echoData\":2,{meta}}}\n"));
        let answer = Answer::response(&origin(4), &response(r#"{"_sessionHost": 1, "a": 2}"#));
        assert_eq!(
            answer.text,
            format!("{{{meta},\"a\":2,\"echoData\":{{\"id\":4}}}}\n")
        );
        for bad in [
            r#"{"a": 1} x"#,
            r#"{"a": 1}}"#,
            r#"{"a": }"#,
            "[{}]",
            "null",
            "",
            "{",
        ] {
            let answer = Answer::response(&origin(4), &response(bad));
            let kind = answer.problem.as_ref().and_then(Problem::kind);
            assert_eq!(kind, Some(ProblemKind::UpstreamError), "{bad}");
        }
    }

    #[test]
    fn a_body_that_is_not_an_object_is_an_error_line() {
        let response = EngineResponse {
            status: 200,
            body: "[1]".into(),
            served_by: None,
        };
        let line = parsed(&Answer::response(&origin(1), &response));
        assert_eq!(line["error"]["type"], ProblemKind::UpstreamError.type_uri());
    }

    fn output(lines: &[u64]) -> String {
        lines
            .iter()
            .map(|l| Answer::error(&origin(*l), Problem::bad_request("x")).text)
            .collect()
    }

    #[test]
    fn resumption_counts_complete_lines() {
        let text = output(&[3, 1, 2]);
        let answered = scan_answered(text.as_bytes()).unwrap();
        assert_eq!(answered.lines, BTreeMap::from([(1, 2), (2, 3), (3, 1)]));
        assert_eq!(answered.keep_bytes, text.len() as u64);
        assert!(!answered.partial_line && answered.contains(2) && !answered.contains(4));
        assert_eq!(scan_answered(&b""[..]).unwrap(), Answered::default());
    }

    #[test]
    fn resumption_drops_a_truncated_last_line() {
        let complete = output(&[1, 2]);
        let last = output(&[3]);
        for cut in 1..last.len() {
            let text = format!("{complete}{}", &last[..cut]);
            let answered = scan_answered(text.as_bytes()).unwrap();
            assert!(answered.partial_line, "cut at {cut}");
            assert_eq!(answered.keep_bytes, complete.len() as u64, "cut at {cut}");
            assert_eq!(answered.lines.keys().copied().collect::<Vec<_>>(), [1, 2]);
        }
    }

    #[test]
    fn resumption_refuses_a_foreign_file() {
        let text = format!("{}{{\"url\": \"u\"}}\n", output(&[1]));
        let error = scan_answered(text.as_bytes()).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "line 2 of the output is not a batch answer (missing field `_sessionHost`"
            ),
            "{error}"
        );
        let inputs: Vec<_> = crate::batch::input_lines("https://a\n\nhttps://b").collect();
        let answered = scan_answered(output(&[3, 2]).as_bytes()).unwrap();
        assert_eq!(
            answered.check_against(&inputs).unwrap_err().to_string(),
            "line 2 of the output answers input line 2, which is not an input of this file; is \
             the output that of another input?"
        );
        let answered = scan_answered(output(&[3, 1]).as_bytes()).unwrap();
        assert!(answered.check_against(&inputs).is_ok());
    }

    #[test]
    fn issue_13_resumption_refuses_an_input_that_changed() {
        use crate::batch::input::{input_lines, parse_inputs};
        let kind = crate::batch::InputType::Txt;
        let text = "https://a\nhttps://b\nhttps://c";
        let (inputs, lines): (Vec<_>, Vec<_>) =
            (parse_inputs(text, kind), input_lines(text).collect());
        let text: String = (inputs[..2].iter())
            .map(|i| Answer::error(&i.origin, Problem::bad_request("x")).text)
            .collect();
        let answered = scan_answered(text.as_bytes()).unwrap();
        assert!(text.contains(&format!("\"input\":\"{}\"", line_hash("https://a"))));
        assert!(answered.check_against(&lines).is_ok());
        for changed in [
            "https://a\nhttps://B\nhttps://c",
            "https://new\nhttps://a\nhttps://b",
        ] {
            let error = answered
                .check_against(&input_lines(changed).collect::<Vec<_>>())
                .unwrap_err();
            assert!(matches!(error, ResumeError::InputChanged { .. }), "{error}");
            assert!(error.to_string().starts_with("input line "), "{error}");
        }
    }
}
