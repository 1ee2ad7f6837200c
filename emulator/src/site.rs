//! The compiled site table: scenario sites, ready to match hosts and serve pages.
//!
//! Compiled once when the emulator starts (templates parsed, exact domains hashed), never per
//! request. Matching order: exact domain, then `*` patterns in scenario order, then a built-in
//! plain site for hosts that match nothing.

use std::collections::HashMap;

use crate::faults::FaultRates;
use crate::scenario::{Page, Redirect, Scenario, Site};
use crate::template::Template;

const GENERIC_PAGE: &str = "<!doctype html><html><head><title>{{title}}</title></head>\
<body><h1>{{title}}</h1><p>Emulated page {{path}}.</p></body></html>";

const BLOCKED_PAGE: &str = "<!doctype html><html><head><title>Access denied</title></head>\
<body><h1>Blocked</h1><p>Your request to {{host}} was blocked. Enable cookies and try again.</p>\
</body></html>";

/// A page with compiled templates.
#[derive(Debug)]
pub struct CompiledPage {
    /// The page as configured.
    pub spec: Page,
    /// `template`.
    pub template: Template,
    /// `template_with_location`, or `template`.
    pub with_location: Template,
}

/// A site with compiled pages and its fault rates.
#[derive(Debug)]
pub struct CompiledSite {
    /// The site as configured.
    pub spec: Site,
    /// The site's own rates, then the global ones.
    pub faults: [FaultRates; 2],
    /// Pages in match order.
    pub pages: Vec<CompiledPage>,
    /// The page for hosts without a matching page.
    pub generic: CompiledPage,
    /// The page shown when access is refused.
    pub blocked: Template,
}

/// A request host matched to its site.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The site.
    pub site: &'a CompiledSite,
    /// What `*` matched, for pattern domains.
    pub capture: Option<&'a str>,
}

#[derive(Debug)]
struct Pattern {
    prefix: String,
    suffix: String,
    index: usize,
}

/// All sites of a scenario.
#[derive(Debug)]
pub struct SiteTable {
    sites: Vec<CompiledSite>,
    exact: HashMap<String, usize>,
    patterns: Vec<Pattern>,
    fallback: CompiledSite,
}

impl SiteTable {
    /// Compiles a validated scenario.
    pub fn compile(scenario: &Scenario) -> Result<SiteTable, String> {
        let mut table = SiteTable {
            sites: Vec::new(),
            exact: HashMap::new(),
            patterns: Vec::new(),
            fallback: compile_site(
                &Site {
                    domain: "*".into(),
                    ..Site::default()
                },
                &scenario.faults,
            )?,
        };
        for site in &scenario.sites {
            let index = table.sites.len();
            table.sites.push(compile_site(site, &scenario.faults)?);
            match site.domain.split_once('*') {
                None => {
                    table.exact.insert(site.domain.clone(), index);
                }
                Some((prefix, suffix)) => table.patterns.push(Pattern {
                    prefix: prefix.into(),
                    suffix: suffix.into(),
                    index,
                }),
            }
        }
        Ok(table)
    }

    /// The site serving `host` (lowercase).
    pub fn resolve<'a>(&'a self, host: &'a str) -> Target<'a> {
        if let Some(&index) = self.exact.get(host) {
            return Target {
                site: &self.sites[index],
                capture: None,
            };
        }
        for pattern in &self.patterns {
            if let Some(capture) = match_pattern(pattern, host) {
                let capture = (!capture.is_empty()).then_some(capture);
                return Target {
                    site: &self.sites[pattern.index],
                    capture,
                };
            }
        }
        Target {
            site: &self.fallback,
            capture: None,
        }
    }
}

fn match_pattern<'a>(pattern: &Pattern, host: &'a str) -> Option<&'a str> {
    let inner = host
        .strip_prefix(pattern.prefix.as_str())?
        .strip_suffix(pattern.suffix.as_str())?;
    let catch_all = pattern.prefix.is_empty() && pattern.suffix.is_empty();
    (catch_all || !inner.is_empty()).then_some(inner)
}

fn compile_site(site: &Site, global: &FaultRates) -> Result<CompiledSite, String> {
    let pages = site
        .pages
        .iter()
        .map(compile_page)
        .collect::<Result<_, _>>()?;
    let generic = Page {
        path: "*".into(),
        status: 200,
        template: GENERIC_PAGE.into(),
        template_with_location: None,
        requires_csrf: false,
    };
    let blocked = Template::parse(site.blocked_template.as_deref().unwrap_or(BLOCKED_PAGE))?;
    Ok(CompiledSite {
        spec: site.clone(),
        faults: [site.faults, *global],
        pages,
        generic: compile_page(&generic)?,
        blocked,
    })
}

fn compile_page(page: &Page) -> Result<CompiledPage, String> {
    let template = Template::parse(&page.template)?;
    let with_location = match &page.template_with_location {
        Some(source) => Template::parse(source)?,
        None => template.clone(),
    };
    Ok(CompiledPage {
        spec: page.clone(),
        template,
        with_location,
    })
}

/// Whether a rule path (`/x`, `/x*` or `*`) matches `path`.
pub fn path_matches(rule: &str, path: &str) -> bool {
    match rule.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => rule == path,
    }
}

impl CompiledSite {
    /// The page serving `path`.
    pub fn page(&self, path: &str) -> &CompiledPage {
        self.pages
            .iter()
            .find(|page| path_matches(&page.spec.path, path))
            .unwrap_or(&self.generic)
    }

    /// The redirect rule for `path`, if any.
    pub fn redirect(&self, path: &str) -> Option<&Redirect> {
        self.spec
            .redirects
            .iter()
            .find(|rule| path_matches(&rule.from, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SiteTable {
        SiteTable::compile(&Scenario::builtin()).expect("builtin compiles")
    }

    #[test]
    fn exact_domains_win_over_patterns() {
        let table = table();
        assert_eq!(table.resolve("example.com").site.spec.domain, "example.com");
        let target = table.resolve("postal-code-10001.example");
        assert_eq!(target.site.spec.domain, "postal-code-*.example");
        assert_eq!(target.capture, Some("10001"));
        assert_eq!(table.resolve("unknown.test").site.spec.domain, "*");
    }

    #[test]
    fn empty_captures_do_not_match_a_pattern() {
        let table = table();
        assert_eq!(table.resolve("postal-code-.example").site.spec.domain, "*");
    }

    #[test]
    fn pages_and_redirects_match_by_path() {
        let table = table();
        let csrf = table.resolve("csrf.example").site;
        assert!(!csrf.page("/").spec.requires_csrf);
        assert!(csrf.page("/search").spec.requires_csrf);
        let redirect = table.resolve("redirect.example").site;
        assert_eq!(redirect.redirect("/old").map(|r| r.status), Some(301));
        assert!(redirect.redirect("/home").is_none());
        assert!(path_matches("/a*", "/abc") && !path_matches("/a", "/abc"));
    }
}
