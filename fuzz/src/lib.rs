//! Fuzz targets for session-host's parsers of untrusted input.
//!
//! Each [`FuzzTarget`] takes arbitrary bytes and feeds them to one front door of the host: URL
//! rule matching and config selection, the gateway's request body parsing (with
//! `sessionManagement`), batch input and output lines, and sidecar and settings TOML. A target
//! passes when it returns: every error must be a value, never a panic. The driver
//! (`session-host-fuzz`, `src/main.rs`) mutates the committed corpus (`fuzz/corpus/TARGET/`) and
//! counts panics; `tests/regressions.rs` replays the corpus and every crash found so far.
//!
//! ```
//! for target in session_host_fuzz::TARGETS {
//!     (target.run)(b"https://x.example/\nexample.com");
//! }
//! ```

use serde_json::{Map, Value};
use session_host::batch::{Answer, InputType, parse_inputs, scan_answered};
use session_host::configs::Sidecar;
use session_host::gateway::request;
use session_host::plugin::{Limits, UrlRules};
use session_host::problem::Problem;
use session_host::rules::{Rule, RuleSet};
use session_host::session_management::{engine_request, parse_controls};
use session_host::settings::{HostSettings, SessionSettings};
use session_host::{defaults, wire};

/// One fuzz target: a name (its corpus folder), the function, and tokens the mutator inserts.
pub struct FuzzTarget {
    /// The target's name, also its folder under `fuzz/corpus/`.
    pub name: &'static str,
    /// Runs one input; a panic is a bug.
    pub run: fn(&[u8]),
    /// Fragments that make inputs interesting for this target (the mutator splices them in).
    pub dictionary: &'static [&'static str],
}

/// Every target, in the order the driver runs them.
pub const TARGETS: &[FuzzTarget] = &[
    FuzzTarget {
        name: "url_rules",
        run: url_rules,
        dictionary: URL_TOKENS,
    },
    FuzzTarget {
        name: "gateway_request",
        run: gateway_request,
        dictionary: JSON_TOKENS,
    },
    FuzzTarget {
        name: "batch_line",
        run: batch_line,
        dictionary: JSON_TOKENS,
    },
    FuzzTarget {
        name: "toml_files",
        run: toml_files,
        dictionary: TOML_TOKENS,
    },
];

/// The most rules [`url_rules`] compiles from one input, to keep one input cheap.
const MAX_RULES: usize = 16;

/// URL rule matching and config selection. The first line is the URL; each further line is a
/// rule, `include<TAB>exclude`, with configs that replace each other (`instead_of`). The URL
/// also goes through the front ends' request check (`url` limits).
pub fn url_rules(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let url = lines.next().unwrap_or_default();
    let rules = lines.take(MAX_RULES).zip(1u64..).map(|(line, id)| {
        let (include, exclude) = line.split_once('\t').unwrap_or((line, ""));
        let rule = Rule::new(id, format!("c{id}"), include.split(' '));
        let rule = rule.exclude(exclude.split(' ').filter(|p| !p.is_empty()));
        if id > 1 && id % 2 == 0 {
            rule.instead_of(format!("c{}", id - 1))
        } else {
            rule
        }
    });
    if let Ok(set) = RuleSet::compile(rules) {
        let selection = set.select(url);
        assert_eq!(selection.config.as_deref(), set.resolve(url));
    }
    let _ = defaults::netloc(url);
    let mut body = Map::new();
    body.insert("url".into(), url.into());
    let _ = engine_request(body);
}

/// The gateway's `POST /v1/extract` body parsing, with `sessionManagement`.
pub fn gateway_request(data: &[u8]) {
    if let Ok(accepted) = request::parse(data) {
        // What the engine does next with it: the guest's view of the request, and back.
        let mut params = accepted.body;
        if let Some(Value::String(url)) = params.remove("url") {
            let _ = defaults::netloc(&url);
            let guest = wire::request_from_body(url, &params, accepted.controls);
            let _ = wire::body_from_request(&guest);
        }
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let _ = parse_controls(&value);
        let _ = defaults::canonical_json(&value);
    }
}

/// Batch input lines (as JSON Lines and as a URL list), their error answers, and a resumed
/// output file with these bytes.
pub fn batch_line(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for kind in [InputType::Jl, InputType::Txt] {
        for input in parse_inputs(&text, kind) {
            let answer = Answer::error(&input.origin, Problem::bad_request("fuzz"));
            let _ = scan_answered(answer.text.as_bytes());
        }
    }
    let _ = scan_answered(data);
}

/// A sidecar (`NAME.toml`, with its rules and limits merged over a guest's) and the host's
/// settings file, from the same text.
pub fn toml_files(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(sidecar) = Sidecar::parse(&text) {
        let guest = UrlRules {
            include: vec!["example.com".into()],
            exclude: Vec::new(),
            priority: 500,
            instead_of: None,
        };
        let rules = sidecar.rules(&guest);
        let _ = RuleSet::compile([Rule::new(1, "c", rules.include).exclude(rules.exclude)]);
        let _ = sidecar.limits(&Limits::default());
    }
    let _ = HostSettings::from_toml_str(&text);
    let _ = SessionSettings::from_toml_str(&text);
}

const URL_TOKENS: &[&str] = &[
    "https://",
    "http://",
    "//",
    ".",
    "..",
    "...",
    ":",
    ":80",
    ":443",
    ":0",
    ":99999",
    "@",
    "[",
    "]",
    "[::1]",
    "[::ffff:1.2.3.4]",
    "1.2.3.4",
    "%",
    "%C3%A9",
    "?",
    "#",
    "&",
    "=",
    "*",
    "|",
    ";",
    "\t",
    " ",
    "рф",
    "ελ",
    "例え",
    "テスト",
    "xn--p1ai",
    "xn--",
    "ß",
    "İ",
    "\u{0}",
    "\u{200d}",
    "co.uk",
    "blogspot.com",
    "github.io",
    "www.",
    "com",
    "/",
    "\\",
    "\n",
];

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e400",
    "0.5",
    "\"url\"",
    "\"sessionManagement\"",
    "\"enabled\"",
    "\"cookieMode\"",
    "\"params\"",
    "\"location\"",
    "\"pool\"",
    "\"id\"",
    "\"size\"",
    "\"delay\"",
    "\"randomizeDelay\"",
    "\"addressCountry\"",
    "\"postalCode\"",
    "\"echoData\"",
    "\"httpResponseBody\"",
    "\"https://x.рф../\"",
    "\\u0000",
    "\\ud800",
    "\n",
    "\"_session_host\"",
];

const TOML_TOKENS: &[&str] = &[
    "[rules]",
    "[limits]",
    "[sessions]",
    "[upstream]",
    "[gateway]",
    "include",
    "exclude",
    "priority",
    "instead_of",
    "=",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "#",
    "true",
    "0",
    "-1",
    "1e400",
    "nan",
    "inf",
    "9223372036854775808",
    "fuel",
    "memory_bytes",
    "timeout_secs",
    "enabled",
    "url",
    "\"\"\"",
    "1979-05-27T07:32:00Z",
];
