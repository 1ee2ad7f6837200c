//! URL rules: which session config handles a URL, with url-matcher 0.6 and web-poet semantics.
//!
//! A [`Rule`] says "config `name` handles URLs matching `include` but not `exclude`, instead of
//! config `instead_of`". [`RuleSet::compile`] validates and compiles a list of rules once (per
//! reload, never per request); [`RuleSet::select`] picks the config for a URL and explains why.
//!
//! ```
//! use session_host::rules::{Rule, RuleSet};
//!
//! let rules = RuleSet::compile(vec![
//!     Rule::new(1, "shop", ["example.com"]),
//!     Rule::new(2, "products", ["example.com/products"]),
//! ])
//! .unwrap();
//! assert_eq!(rules.select("https://www.example.com/products/1").config.as_deref(), Some("products"));
//! assert_eq!(rules.select("https://uk.example.com/").config.as_deref(), Some("shop"));
//! assert_eq!(rules.select("https://other.org/").config, None); // the built-in default
//! ```
//!
//! # Patterns
//!
//! A pattern is a URL without a scheme, matched case-insensitively:
//! - `example.com` (domain only) also matches subdomains and `www.`; with a path, query or fragment
//!   the host must be `example.com` or `www.example.com` exactly. `*` is literal in a host.
//! - A path is a prefix match where `*` matches anything; a trailing `|` makes it exact. Fragments
//!   work the same way. `example.com/` does not match `https://example.com` (no path).
//! - Every query parameter of the pattern must be present in the URL (extra ones are fine). A
//!   repeated parameter means OR; values are URL-decoded and matched whole, with `*` wildcards.
//!   Names are lower-cased; `*` in a name is removed and an empty name is ignored (`?*` matches
//!   everything).
//! - A scheme, if given, must be equal. `:80` and `:443` are stripped when they are the default
//!   for the scheme, and imply `http`/`https` when there is none (`example.com:80` matches only
//!   `http://` URLs). Any other port must match exactly.
//! - `//x/y` is a path pattern. `""` matches everything.
//!
//! # Selection
//!
//! - Include patterns must have a domain, unless they are all empty (a *universal* rule);
//!   exclude patterns may be anything (`/something`, `*.jpg|`).
//! - Rules are bucketed by the registered domain of their include patterns (public suffix list,
//!   ICANN section only; IPs as themselves). A URL is matched against its domain's bucket, then
//!   the universal rules, so a domain rule always beats a universal rule.
//! - Within a bucket the order is priority (higher first), then specificity (the sorted
//!   reversed-host "hierarchical" strings of the rule's includes for that domain, greater
//!   first), then id (higher, i.e. later registered, first). The first rule whose includes match
//!   and whose excludes do not wins; an excluded rule falls through to the next one.
//! - `instead_of` chains like web-poet: start from the built-in default (`None`), and while some
//!   rule replacing the current config matches, move to that rule's config. A cycle of
//!   `instead_of` among the rules is a [`RulesError::InsteadOfCycle`] at compile time (the
//!   reference would loop forever).
//!
//! # Deliberate differences from the reference
//! - `instead_of` cycles are an error; duplicate rule ids are an error (url-matcher would
//!   replace the earlier rule).
//! - `*` matches any character; Python's regex `.` does not match a newline, which only a
//!   percent-decoded query value can contain.
//! - Case-insensitivity uses Unicode lower-casing rather than Python's `re.IGNORECASE`; the
//!   registered domain is computed on the lower-cased host.
//! - Unbalanced `[`/`]` in a host is not rejected (Python's `urlsplit` raises `ValueError`): such
//!   a pattern or URL simply matches little. Every string is a pattern; nothing panics.
//! - The reference lists `*.jpg|` as a domain-less exclude, but url-matcher parses it as a host
//!   (no leading `/`); we follow url-matcher's code: write `/*.jpg|` for a path suffix.
//!
//! # Explanations
//! [`Selection::beaten`] lists, for each step of the `instead_of` chain, the rules ranked above
//! the winner whose exclude matched ([`Why::Excluded`]), the rules ranked below it that also
//! matched (priority, specificity, id, or universal), and each config replaced by the next step
//! ([`Why::Replaced`]). [`RuleSet::resolve`] is the same choice without the explanation.

mod pattern;
mod select;
mod split;
#[cfg(test)]
mod tests;

pub use select::{RuleSet, Selection, Why};

/// The priority of a rule that does not set one (web-poet's default).
pub const DEFAULT_PRIORITY: i64 = 500;

/// One registration: config `name` handles URLs matching `include` and no `exclude` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique id; a higher id wins ties (web-poet counts registrations from 1).
    pub id: u64,
    /// The config this rule selects.
    pub name: String,
    /// Patterns of which one must match; empty (or only `""`) means every URL.
    pub include: Vec<String>,
    /// Patterns of which none may match.
    pub exclude: Vec<String>,
    /// Higher wins; [`DEFAULT_PRIORITY`] unless set.
    pub priority: i64,
    /// The config this one replaces; `None` is the built-in default.
    pub instead_of: Option<String>,
}

impl Rule {
    /// A rule with no excludes, the default priority, replacing the built-in default config.
    pub fn new<I, S>(id: u64, name: impl Into<String>, include: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            id,
            name: name.into(),
            include: include.into_iter().map(Into::into).collect(),
            exclude: Vec::new(),
            priority: DEFAULT_PRIORITY,
            instead_of: None,
        }
    }

    /// Sets the exclude patterns.
    #[must_use]
    pub fn exclude<I, S>(mut self, exclude: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclude = exclude.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the priority.
    #[must_use]
    pub fn priority(mut self, priority: i64) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the config this rule replaces.
    #[must_use]
    pub fn instead_of(mut self, config: impl Into<String>) -> Self {
        self.instead_of = Some(config.into());
        self
    }
}

/// Why a list of rules cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// An include pattern has no domain while others are not all empty.
    #[error(
        "rule {id} ({name}): include pattern {pattern:?} has no domain; include patterns must \
         name a domain (`example.com/product/*`, not `/product/*`) unless they are all empty"
    )]
    IncludeWithoutDomain {
        /// The rule's id.
        id: u64,
        /// The rule's config name.
        name: String,
        /// The offending pattern.
        pattern: String,
    },
    /// Two rules share an id, so their order would be ambiguous.
    #[error("rule id {id} is used twice (configs {first} and {second})")]
    DuplicateId {
        /// The repeated id.
        id: u64,
        /// The config of the first rule with that id.
        first: String,
        /// The config of the second rule with that id.
        second: String,
    },
    /// Following `instead_of` would loop: each config in `cycle` is declared `instead_of` the next.
    #[error("rule {id} ({name}): instead_of forms a cycle: {}", cycle.join(" -> "))]
    InsteadOfCycle {
        /// The id of a rule on the cycle.
        id: u64,
        /// That rule's config name.
        name: String,
        /// The configs on the cycle, each `instead_of` the next; the first is repeated at the end.
        cycle: Vec<String>,
    },
}
