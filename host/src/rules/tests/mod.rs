//! Every example of the reference's section 7 (`scrapy-zyte-api-sessions.md`), as tables:
//! single patterns and registered domains in `patterns`, rule conflicts and `instead_of` in
//! `selection`, and inputs that must not panic in `odd_inputs`.

mod odd_inputs;
mod patterns;
mod selection;

use super::{Rule, RuleSet};

pub(super) fn rule(id: u64, name: &str, include: &[&str]) -> Rule {
    Rule::new(id, name, include.iter().copied())
}

pub(super) fn compile(rules: Vec<Rule>) -> RuleSet {
    RuleSet::compile(rules).expect("valid rules")
}

/// Asserts the config chosen for each URL; `None` is the built-in default.
pub(super) fn assert_selects(rules: &RuleSet, cases: &[(&str, Option<&str>)]) {
    for &(url, expected) in cases {
        assert_eq!(
            rules.select(url).config.as_deref(),
            expected,
            "select {url}"
        );
        assert_eq!(rules.resolve(url), expected, "resolve {url}");
    }
}
