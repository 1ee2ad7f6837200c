//! `session-host plugin trace`: one request through the engine, hook by hook.
//!
//! It answers "why was my session discarded": which config was selected and why (its rule's
//! matching pattern, the configs it beat), each hook's input and output with its time, the
//! downloads of the init chain, the check verdict, and the pool and session that served the
//! request. The request goes to the in-process emulator unless an upstream is given.
//!
//! Policy: strings longer than [`MAX_SHOWN_CHARS`] (response bodies, base64 pages) are cut in
//! the trace, with their length; nothing else is hidden. The API key is never part of a trace
//! (hooks never see it).

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::harness::{self, HarnessError, Outcome, Recorder};
use crate::engine::observe::HookCall;
use crate::engine::{ConfigSet, DEFAULT_NAME};
use crate::settings::SessionSettings;
use crate::zyte::ApiKey;

/// Longest string shown whole in a trace; longer ones are cut and their length given.
pub const MAX_SHOWN_CHARS: usize = 160;

/// Where the request goes.
#[derive(Debug)]
pub enum Upstream {
    /// The built-in emulator, started for the trace.
    Emulator,
    /// A Zyte API URL, with the key.
    Url(String, ApiKey),
}

/// The selection of a config for the URL.
#[derive(Debug, serde::Serialize)]
pub struct Selected {
    /// The config (`default` for the built-in one).
    pub config: String,
    /// Its file.
    pub file: Option<String>,
    /// The include pattern that matched (`None`: a universal rule, or the built-in default).
    pub pattern: Option<String>,
    /// The configs that also matched, and why they lost.
    pub beaten: Vec<(String, String)>,
}

/// A whole trace.
#[derive(Debug, serde::Serialize)]
pub struct Trace {
    /// The URL.
    pub url: String,
    /// Files of the configs folder that failed to load.
    pub problems: Vec<String>,
    /// Which config serves the URL and why.
    pub selected: Selected,
    /// Every hook call and download, in the order they ended.
    pub calls: Vec<HookCall>,
    /// What the request got.
    pub outcome: Outcome,
}

/// Traces one request for `url` with the configs of `dir`.
pub async fn trace(
    url: &str,
    dir: &Path,
    upstream: Upstream,
    settings: Option<SessionSettings>,
    body: Map<String, Value>,
) -> Result<Trace, HarnessError> {
    url::Url::parse(url).map_err(|e| HarnessError::Run(format!("URL {url:?}: {e}")))?;
    let (set, problems) = harness::load_dir(dir).await?;
    let selected = selected(&set, url);
    let settings = settings.unwrap_or_else(harness::session_settings);
    let recorder = Arc::new(Recorder::default());
    let mut body = body;
    body.insert("url".into(), url.into());
    let (outcome, emulator) = match upstream {
        Upstream::Emulator => {
            let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig::default())
                .await
                .map_err(HarnessError::run)?;
            let key = ApiKey::new("trace");
            let engine =
                harness::engine(settings, &emulator.base_url(), key, set, recorder.clone())?;
            (harness::send(&engine, body).await, Some(emulator))
        }
        Upstream::Url(upstream, key) => {
            let engine = harness::engine(settings, &upstream, key, set, recorder.clone())?;
            (harness::send(&engine, body).await, None)
        }
    };
    if let Some(emulator) = emulator {
        emulator.shutdown().await;
    }
    let calls = recorder.take().into_iter().map(shorten_call).collect();
    let outcome = Outcome {
        body: shorten(outcome.body.clone()),
        ..outcome
    };
    Ok(Trace {
        url: url.to_owned(),
        problems,
        selected,
        calls,
        outcome,
    })
}

fn selected(set: &ConfigSet, url: &str) -> Selected {
    let selection = set.explain(url);
    let config = selection
        .config
        .clone()
        .unwrap_or_else(|| DEFAULT_NAME.to_owned());
    let file = set
        .get(&config)
        .and_then(|e| e.source.as_ref())
        .map(|p| p.display().to_string());
    let beaten = selection
        .beaten
        .iter()
        .map(|(name, why)| (name.clone(), why.to_string()))
        .collect();
    Selected {
        config,
        file,
        pattern: selection.pattern,
        beaten,
    }
}

fn shorten_call(call: HookCall) -> HookCall {
    HookCall {
        input: shorten(call.input),
        output: shorten(call.output),
        ..call
    }
}

/// `value` with every string longer than [`MAX_SHOWN_CHARS`] cut.
pub fn shorten(value: Value) -> Value {
    match value {
        Value::String(s) if s.chars().count() > MAX_SHOWN_CHARS => {
            let cut: String = s.chars().take(MAX_SHOWN_CHARS).collect();
            Value::String(format!("{cut}… ({} bytes)", s.len()))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(shorten).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, shorten(v))).collect())
        }
        other => other,
    }
}

/// The trace as text, for people.
pub fn render(trace: &Trace) -> String {
    let mut out = format!("url:      {}\n", trace.url);
    for problem in &trace.problems {
        out += &format!("warning:  {problem}\n");
    }
    out += &render_selected(&trace.selected);
    out += "hooks (in the order they returned; a download belongs to the init-session after it):\n";
    for call in &trace.calls {
        let indent = if call.hook == "download" {
            "    "
        } else {
            "  "
        };
        out += &format!(
            "{indent}{} [{}] {:.2} ms\n{indent}  in:  {}\n{indent}  out: {}\n",
            call.hook,
            call.config,
            call.elapsed.as_secs_f64() * 1000.0,
            call.input,
            call.output
        );
    }
    out + &render_outcome(trace)
}

fn render_selected(selected: &Selected) -> String {
    let why = match (&selected.pattern, selected.config == DEFAULT_NAME) {
        (_, true) => "no config's rules match: the built-in default".to_owned(),
        (Some(pattern), false) => format!("its rule's include pattern {pattern:?} matches"),
        (None, false) => "its universal rule (no include pattern)".to_owned(),
    };
    let file = selected
        .file
        .as_deref()
        .map(|f| format!(" ({f})"))
        .unwrap_or_default();
    let mut out = format!("config:   {}{file}: {why}\n", selected.config);
    for (name, reason) in &selected.beaten {
        out += &format!("  beat {name}: {reason}\n");
    }
    out
}

fn render_outcome(trace: &Trace) -> String {
    let verdict = trace
        .calls
        .iter()
        .rev()
        .find(|c| c.hook == "check" && c.input["request"]["is_init"] != json!(true))
        .map_or("no check (no session, or no 200 answer)".to_owned(), |c| {
            c.output.to_string()
        });
    let served = match &trace.outcome.served_by {
        Some(s) => format!(
            "pool {} session {} (config {})",
            s.pool, s.session, s.config
        ),
        None => "no session (sessions disabled for this request, or it failed)".to_owned(),
    };
    let status = trace.outcome.status;
    let mut out = format!("verdict:  {verdict}\nserved:   {served}\nstatus:   {status}\n");
    if status != 200 {
        out += &format!("answer:   {}\n", trace.outcome.body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_long_strings_are_cut_with_their_length() {
        let long = "x".repeat(1000);
        let value = shorten(json!({"a": [long], "b": 1}));
        let text = value["a"][0].as_str().unwrap();
        assert!(
            text.ends_with("… (1000 bytes)") && text.len() < 200,
            "{text}"
        );
        assert_eq!(value["b"], json!(1));
    }
}
