//! [`UrlRules`]: which URLs a config handles, built like the reference's `@session_config`
//! decorator.
//!
//! Policy: [`UrlRules::new`] starts from the reference's defaults: no include pattern (a universal
//! rule, which only applies where no domain rule matches), no exclude pattern, priority 500, and
//! `instead_of` unset (the config replaces the host's built-in default config). Patterns follow
//! url-matcher (reference 7.3): `"example.com"` matches the domain and its subdomains,
//! `"example.com/products"` a path prefix. The host's sidecar `NAME.toml` may override all of it.
//!
//! ```
//! use session_host_sdk::UrlRules;
//! let rules = UrlRules::new().include("example.com").exclude("example.com/login").priority(600).instead_of("base");
//! assert_eq!(rules.include, ["example.com"]);
//! assert_eq!(rules.instead_of.as_deref(), Some("base"));
//! ```

use crate::UrlRules;

/// The reference's default rule priority.
pub const DEFAULT_PRIORITY: i32 = 500;

impl Default for UrlRules {
    fn default() -> Self {
        UrlRules::new()
    }
}

impl UrlRules {
    /// A universal rule with priority [`DEFAULT_PRIORITY`]; see the module docs.
    pub fn new() -> UrlRules {
        UrlRules { include: Vec::new(), exclude: Vec::new(), priority: DEFAULT_PRIORITY, instead_of: None }
    }

    /// Adds an include pattern.
    #[must_use]
    pub fn include(mut self, pattern: impl Into<String>) -> UrlRules {
        self.include.push(pattern.into());
        self
    }

    /// Adds an exclude pattern: matching URLs are not handled by this rule.
    #[must_use]
    pub fn exclude(mut self, pattern: impl Into<String>) -> UrlRules {
        self.exclude.push(pattern.into());
        self
    }

    /// Sets the priority; the higher wins among matching rules.
    #[must_use]
    pub fn priority(mut self, priority: i32) -> UrlRules {
        self.priority = priority;
        self
    }

    /// Replaces the config named `config` (its file stem) rather than the built-in default.
    #[must_use]
    pub fn instead_of(mut self, config: impl Into<String>) -> UrlRules {
        self.instead_of = Some(config.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_reference() {
        let rules = UrlRules::new();
        assert!(rules.include.is_empty() && rules.exclude.is_empty());
        assert_eq!((rules.priority, rules.instead_of), (500, None));
    }

    #[test]
    fn builder_accumulates_patterns() {
        let rules = UrlRules::new().include("a.example").include("b.example/x").exclude("a.example/login").priority(-1);
        assert_eq!(rules.include, ["a.example", "b.example/x"]);
        assert_eq!(rules.exclude, ["a.example/login"]);
        assert_eq!(rules.priority, -1);
    }
}
