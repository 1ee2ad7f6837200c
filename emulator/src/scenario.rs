//! Scenarios: the simulated websites, fault rates and policy, read from TOML.
//!
//! A scenario has three parts: `[policy]` ([`Policy`]), `[faults]` (global [`FaultRates`]) and
//! one `[[site]]` table per simulated website ([`Site`]). Unknown keys are errors, so a typo in a
//! scenario file fails loudly when it loads. The built-in scenario (`scenarios/default.toml`,
//! described in the crate docs) is served when no file is given.
//!
//! Sites are matched by the request URL's host name: an exact `domain` first, then patterns with
//! one `*` (`postal-code-*.example`) in file order, where `*` matches one or more characters and
//! `*` alone matches every host. A host that matches nothing gets a plain page with no faults.

use std::path::Path;

use serde::Deserialize;

use crate::error::EmulatorError;
use crate::faults::FaultRates;
use crate::latency::Latency;
use crate::policy::Policy;
use crate::template::Template;

const BUILTIN: &str = include_str!("../scenarios/default.toml");

/// A complete scenario.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Server-wide rules.
    #[serde(default)]
    pub policy: Policy,
    /// Fault rates applied to every site (after each site's own).
    #[serde(default)]
    pub faults: FaultRates,
    /// Simulated websites, `[[site]]` in TOML.
    #[serde(default, rename = "site")]
    pub sites: Vec<Site>,
}

/// One simulated website.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Host name, or a pattern with one `*`.
    pub domain: String,
    /// Page title (`{{title}}`); defaults to the host name.
    #[serde(default)]
    pub title: Option<String>,
    /// What visitors without a session get.
    #[serde(default)]
    pub without_session: Access,
    /// CSRF protection of pages marked `requires_csrf`.
    #[serde(default)]
    pub csrf: Option<Csrf>,
    /// Whether and for which addresses setLocation works.
    #[serde(default)]
    pub set_location: SetLocation,
    /// When sessions or requests get banned (520).
    #[serde(default)]
    pub ban: Ban,
    /// Simulated latency (emulated time).
    #[serde(default)]
    pub latency: Latency,
    /// Fault rates of this site, drawn before the global ones.
    #[serde(default)]
    pub faults: FaultRates,
    /// Redirect rules, `[[site.redirect]]`.
    #[serde(default, rename = "redirect")]
    pub redirects: Vec<Redirect>,
    /// Pages, `[[site.page]]`; the first whose path matches wins.
    #[serde(default, rename = "page")]
    pub pages: Vec<Page>,
    /// The page shown when access is refused (a generic one if unset).
    #[serde(default)]
    pub blocked_template: Option<String>,
}

/// What a visitor without a valid session gets.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// The page, as for everybody.
    #[default]
    Allow,
    /// The blocked page with statusCode 200.
    Blocked,
    /// The blocked page with statusCode 403.
    Forbidden,
}

/// CSRF protection: the token is bound to the visitor's `sid` cookie.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Csrf {
    /// Request header that may carry the token (`customHttpRequestHeaders`).
    #[serde(default = "default_csrf_header")]
    pub header: String,
    /// Query parameter that may carry the token.
    #[serde(default = "default_csrf_query")]
    pub query: String,
    /// What a request with a missing or wrong token gets (`blocked` or `forbidden`).
    #[serde(default = "default_csrf_failure")]
    pub on_failure: Access,
}

fn default_csrf_header() -> String {
    "x-csrf-token".into()
}

fn default_csrf_query() -> String {
    "csrf".into()
}

fn default_csrf_failure() -> Access {
    Access::Forbidden
}

/// Where setLocation works: `"unsupported"` (the default: setLocation "uses website-specific
/// knowledge" and real sites mostly lack it), `"any"` address, `"from-domain"` (only the postal
/// code matched by the `*` of the domain pattern), or a list of accepted postal codes.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SetLocation {
    /// A mode.
    Mode(LocationMode),
    /// Only these postal codes.
    PostalCodes(Vec<String>),
}

impl Default for SetLocation {
    fn default() -> Self {
        SetLocation::Mode(LocationMode::Unsupported)
    }
}

/// The named setLocation modes.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LocationMode {
    /// Every setLocation fails with the "not supported" error.
    Unsupported,
    /// Any address works.
    Any,
    /// Only the postal code matched by `*` in the domain pattern works.
    FromDomain,
}

/// When a site bans (520).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Ban {
    /// Ban every use of a session after this many uses.
    pub after_uses: Option<u64>,
    /// Ban each request with this probability.
    pub probability: f64,
}

/// A redirect rule.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    /// Path it applies to (exact, or a prefix ending in `*`).
    pub from: String,
    /// Target: a path on the same site or an absolute URL.
    pub to: String,
    /// 301, 302, 303, 307 or 308.
    #[serde(default = "default_redirect_status")]
    pub status: u16,
}

fn default_redirect_status() -> u16 {
    302
}

/// A page.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Path it serves (exact, a prefix ending in `*`, or `*` for every path).
    pub path: String,
    /// The website's status code.
    #[serde(default = "default_page_status")]
    pub status: u16,
    /// The HTML.
    pub template: String,
    /// The HTML once the visitor has a location (defaults to `template`).
    #[serde(default)]
    pub template_with_location: Option<String>,
    /// Whether the page needs the CSRF token of the site's `csrf` settings.
    #[serde(default)]
    pub requires_csrf: bool,
}

fn default_page_status() -> u16 {
    200
}

impl Scenario {
    /// The built-in scenario (`scenarios/default.toml`).
    pub fn builtin() -> Scenario {
        Scenario::parse(BUILTIN, "<builtin>").expect("the built-in scenario is valid (unit-tested)")
    }

    /// Parses and validates a TOML scenario.
    pub fn from_toml_str(toml_text: &str) -> Result<Scenario, EmulatorError> {
        Scenario::parse(toml_text, "<string>")
    }

    /// Reads, parses and validates a TOML scenario file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Scenario, EmulatorError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::ScenarioRead {
            path: path.to_owned(),
            source,
        })?;
        Scenario::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, origin: &str) -> Result<Scenario, EmulatorError> {
        let error = |message: String| EmulatorError::Scenario {
            origin: origin.into(),
            message,
        };
        let scenario: Scenario = toml::from_str(text).map_err(|e| error(e.to_string()))?;
        scenario.validate().map_err(error)?;
        Ok(scenario)
    }

    /// Checks every rule of the format; the error names the site and the field.
    pub fn validate(&self) -> Result<(), String> {
        self.policy.validate()?;
        self.faults
            .validate()
            .map_err(|e| format!("[faults]: {e}"))?;
        let mut seen = std::collections::HashSet::new();
        for site in &self.sites {
            if !seen.insert(site.domain.as_str()) {
                return Err(format!("site {:?} is defined twice", site.domain));
            }
            site.validate()
                .map_err(|e| format!("site {:?}: {e}", site.domain))?;
        }
        Ok(())
    }
}

impl Site {
    fn validate(&self) -> Result<(), String> {
        validate_domain(&self.domain)?;
        if self.set_location == SetLocation::Mode(LocationMode::FromDomain)
            && !self.domain.contains('*')
        {
            return Err("set_location = \"from-domain\" needs a `*` in the domain".into());
        }
        let ban_rate_ok = (0.0..=1.0).contains(&self.ban.probability);
        if !ban_rate_ok {
            return Err("ban.probability must be within 0..=1".into());
        }
        self.latency.validate()?;
        self.faults.validate()?;
        for redirect in &self.redirects {
            if !matches!(redirect.status, 301 | 302 | 303 | 307 | 308) {
                return Err(format!(
                    "redirect from {:?}: status must be 301/302/303/307/308",
                    redirect.from
                ));
            }
        }
        for page in &self.pages {
            page.validate()
                .map_err(|e| format!("page {:?}: {e}", page.path))?;
        }
        if let Some(blocked) = &self.blocked_template {
            Template::parse(blocked).map_err(|e| format!("blocked_template: {e}"))?;
        }
        Ok(())
    }
}

impl Page {
    fn validate(&self) -> Result<(), String> {
        if !(100..=599).contains(&self.status) {
            return Err(format!("status {} is not an HTTP status", self.status));
        }
        Template::parse(&self.template)?;
        if let Some(template) = &self.template_with_location {
            Template::parse(template)?;
        }
        Ok(())
    }
}

fn validate_domain(domain: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("domain must not be empty".into());
    }
    if domain.matches('*').count() > 1 {
        return Err("domain may contain at most one `*`".into());
    }
    if domain
        .chars()
        .any(|c| c.is_ascii_uppercase() || c.is_whitespace() || c == '/')
    {
        return Err("domain must be a lowercase host name (no spaces, no slashes)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_scenario_loads_with_every_required_site() {
        let scenario = Scenario::builtin();
        for domain in [
            "example.com",
            "csrf.example",
            "postal-code-*.example",
            "no-location-support.example",
            "session-required.example",
            "redirect.example",
            "flaky.example",
            "e520.example",
            "e521.example",
            "e500.example",
            "e503.example",
            "e429.example",
        ] {
            assert!(
                scenario.sites.iter().any(|s| s.domain == domain),
                "{domain} missing"
            );
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_reported_with_their_site() {
        let err = Scenario::from_toml_str("[[site]]\ndomain = \"a.example\"\nbogus = 1\n")
            .expect_err("unknown key");
        assert!(err.to_string().contains("bogus"), "{err}");
        let err =
            Scenario::from_toml_str("[[site]]\ndomain = \"a.example\"\nfaults = { e520 = 2.0 }\n")
                .expect_err("bad rate");
        assert!(err.to_string().contains("a.example"), "{err}");
        let err = Scenario::from_toml_str(
            "[[site]]\ndomain = \"a.example\"\n[[site.page]]\npath = \"/\"\ntemplate = \"{{x}}\"\n",
        )
        .expect_err("bad template");
        assert!(err.to_string().contains("{{x}}"), "{err}");
    }

    #[test]
    fn set_location_accepts_modes_and_lists() {
        let scenario = Scenario::from_toml_str(
            "[[site]]\ndomain = \"a.example\"\nset_location = [\"10001\"]\n\
             [[site]]\ndomain = \"b.example\"\nset_location = \"any\"\n",
        )
        .expect("scenario");
        assert_eq!(
            scenario.sites[0].set_location,
            SetLocation::PostalCodes(vec!["10001".into()])
        );
        assert_eq!(
            scenario.sites[1].set_location,
            SetLocation::Mode(LocationMode::Any)
        );
    }

    #[test]
    fn missing_files_are_read_errors() {
        let err = Scenario::from_file("/nonexistent/scenario.toml").expect_err("missing");
        assert!(matches!(err, EmulatorError::ScenarioRead { .. }));
    }
}
