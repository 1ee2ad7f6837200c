//! The optional sidecar `NAME.toml` beside `NAME.wasm`: rules and limits for one config, changed
//! without recompiling it.
//!
//! ```toml
//! [rules]              # each key present replaces the guest's own value
//! include = ["example.com", "example.org/shop"]
//! exclude = ["example.com/account"]
//! priority = 600
//! instead_of = "generic"   # "" means the built-in default
//!
//! [limits]             # each key present replaces the [plugins] value for this config
//! hook_cpu_ms = 50
//! memory_bytes = 33554432
//! ```
//!
//! Unknown keys and wrong types are errors naming the line and column (and the keys allowed).
//! A sidecar is untrusted input (it may be a link to any file, see [`super::file`]), so errors
//! never echo its content: quoted text before the message's `expected …` part (a key, a value)
//! is replaced by `…`. `pool_slots` is engine-wide
//! and `memory_bytes` cannot exceed the engine's ([`crate::plugin::Runtime::with_limits`]).

use serde::Deserialize;

use crate::plugin::{Limits, UrlRules};

/// A parsed sidecar.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    /// Rule overrides.
    #[serde(default)]
    pub rules: RulesOverride,
    /// Limit overrides, as written (merged over the engine's limits by [`Sidecar::limits`]).
    #[serde(default)]
    pub limits: Option<toml::Table>,
}

/// The `[rules]` table: each field present replaces the guest's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesOverride {
    /// Include patterns.
    pub include: Option<Vec<String>>,
    /// Exclude patterns.
    pub exclude: Option<Vec<String>>,
    /// Priority.
    pub priority: Option<i32>,
    /// The config replaced; `""` is the built-in default.
    pub instead_of: Option<String>,
}

/// A sidecar that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SidecarError(String);

impl Sidecar {
    /// Parses a sidecar's text.
    ///
    /// # Errors
    /// Invalid TOML, an unknown key or a wrong type, named by line and column, never echoing
    /// the text.
    pub fn parse(text: &str) -> Result<Self, SidecarError> {
        toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| position(text, s.start))
                .unwrap_or_default();
            SidecarError(format!("{at}{}", redact(e.message())))
        })
    }

    /// `guest`'s rules with this sidecar's overrides.
    pub fn rules(&self, guest: &UrlRules) -> UrlRules {
        let o = &self.rules;
        UrlRules {
            include: o.include.clone().unwrap_or_else(|| guest.include.clone()),
            exclude: o.exclude.clone().unwrap_or_else(|| guest.exclude.clone()),
            priority: o.priority.unwrap_or(guest.priority),
            instead_of: match &o.instead_of {
                Some(name) if name.is_empty() => None,
                Some(name) => Some(name.clone()),
                None => guest.instead_of.clone(),
            },
        }
    }

    /// `base` with this sidecar's `[limits]` keys replaced; `None` when it has no `[limits]`.
    ///
    /// # Errors
    /// An unknown key or a wrong type.
    pub fn limits(&self, base: &Limits) -> Result<Option<Limits>, SidecarError> {
        let Some(overrides) = &self.limits else {
            return Ok(None);
        };
        let fail = |e: &dyn std::fmt::Display| {
            SidecarError(format!("[limits]: {}", redact(&e.to_string())))
        };
        let mut merged = toml::Table::try_from(base).map_err(|e| fail(&e))?;
        merged.extend(overrides.clone());
        let limits = Limits::deserialize(toml::Value::Table(merged)).map_err(|e| fail(&e))?;
        Ok(Some(limits))
    }
}

/// `line L, column C: ` of byte `offset` in `text`.
fn position(text: &str, offset: usize) -> String {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    format!("line {line}, column {column}: ")
}

/// The longest error message kept, so that nothing echoed can be long.
const MAX_MESSAGE: usize = 400;

/// `message` with every `quoted` or "quoted" part before its `expected` list replaced by `…`:
/// the parser quotes the offending key or value there, and a sidecar's content never reaches a
/// log or `/status`. What follows `expected` comes from the schema or the grammar, not the file.
fn redact(message: &str) -> String {
    let split = message.find("expected").unwrap_or(message.len());
    let (head, tail) = message.split_at(split);
    let mut out = String::new();
    let mut quote = None;
    for c in head.chars() {
        match quote {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None => {
                if c == '`' || c == '"' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    if quote.is_some() {
        out.push('…');
    }
    out.push_str(tail);
    let mut out: String = out.trim_end().chars().take(MAX_MESSAGE).collect();
    out = out.replace(['\n', '\r'], " ");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest() -> UrlRules {
        UrlRules {
            include: vec!["example.com".into()],
            exclude: vec![],
            priority: 500,
            instead_of: Some("generic".into()),
        }
    }

    #[test]
    fn keys_present_replace_the_guests_rules() {
        let sidecar =
            Sidecar::parse("[rules]\ninclude = [\"example.org\"]\ninstead_of = \"\"\n").unwrap();
        let rules = sidecar.rules(&guest());
        assert_eq!(rules.include, ["example.org"]);
        assert_eq!(rules.priority, 500);
        assert_eq!(rules.instead_of, None);
        assert_eq!(Sidecar::default().rules(&guest()), guest());
    }

    #[test]
    fn limits_merge_over_the_engines() {
        let sidecar = Sidecar::parse("[limits]\nhook_cpu_ms = 50\n").unwrap();
        let limits = sidecar.limits(&Limits::default()).unwrap().unwrap();
        assert_eq!(limits.hook_cpu_ms, 50);
        assert_eq!(limits.memory_bytes, Limits::default().memory_bytes);
        assert_eq!(Sidecar::default().limits(&Limits::default()), Ok(None));
    }

    #[test]
    fn bad_sidecars_name_the_position_and_the_keys_allowed() {
        let e = Sidecar::parse("[rules]\npriorty = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 2, column 1: unknown field"), "{e}");
        assert!(e.contains("`priority`") && !e.contains("priorty"), "{e}");
        let e = Sidecar::parse("[rules]\npriority = \"high\"\n").unwrap_err();
        assert!(e.to_string().starts_with("line 2, column 12:"), "{e}");
        let sidecar = Sidecar::parse("[limits]\nhook_cpu = 5\n").unwrap();
        let e = sidecar.limits(&Limits::default()).unwrap_err();
        assert!(e.to_string().contains("`hook_cpu_ms`"), "{e}");
        let e = Sidecar::parse("[rules\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn issue_13_errors_never_echo_the_sidecar() {
        let secret = "ZYTE_API_KEY=k-4711-secret";
        let environ = format!("HOME=/root\0{secret}\0PATH=/bin\n{secret}\n");
        for text in [
            environ.as_str(),
            "ZYTE_API_KEY = \"k-4711-secret\"\n",
            "[rules]\npriority = \"k-4711-secret\"\n",
            "[rules]\nk-4711-secret = 1\n",
            "[k-4711-secret]\n",
            "[rules]\ninclude = [\"a\", 3, \"k-4711-secret\"]\n",
        ] {
            let e = Sidecar::parse(text).unwrap_err().to_string();
            assert!(!e.contains("4711"), "{text:?} echoed: {e}");
            assert!(e.contains("line "), "{e}");
        }
        let sidecar = Sidecar::parse("[limits]\nk-4711-secret = 5\n").unwrap();
        let e = sidecar.limits(&Limits::default()).unwrap_err().to_string();
        assert!(!e.contains("4711"), "{e}");
    }
}
