//! Example location session config for the `postal-code-NNNNN.example` grocery sites: sessions
//! are initialised with the site's own location flow, and each response is checked for the
//! location it shows.
//!
//! How it works, hook by hook (a [`LocationSessionConfig`], reference section 6):
//! - `location`: the usual location (the request's `location` control, else the `location`
//!   setting); when there is none, the postal code in the site's domain name, because these
//!   sites only show useful prices for a location.
//! - `location_params` (sessions with a location): a browser request for the site's home page
//!   that runs `setLocation` with the address, then waits for the `#location` banner.
//! - `location_check` (responses of sessions with a location): the default check first (an
//!   unsupported `setLocation` closes the pool; the first `setLocation` must have succeeded);
//!   then the page's `#location` banner must say "Delivering to" the location's postal code. A
//!   response without the banner (not a page of the site) passes.
//! - Without a location, `params` and `check` are the plain defaults.
//!
//! The Zyte API emulator's `postal-code-*.example` sites (`emulator/scenarios/default.toml`)
//! accept `setLocation` for exactly the postal code in their domain name, fix a session's
//! location when the session is created, and render `<div id="location">Delivering to
//! NNNNN</div>` once a location is set (`No location selected` before).

use serde_json::json;
use session_host_sdk::{
    Address, LocationSessionConfig, Params, RawResponse, Request, Response, SessionConfig, UrlRules, Verdict, base,
    location, url, warn,
};

/// The sites this config handles: url-matcher has no wildcard in domains, so each postal code
/// the emulator is asked about is listed (a sidecar `location.toml` can extend the list).
pub const DOMAINS: [&str; 3] = ["postal-code-10001.example", "postal-code-10002.example", "postal-code-94105.example"];
/// The domain pattern, around the postal code: `postal-code-NNNNN.example`.
const DOMAIN_PREFIX: &str = "postal-code-";
const DOMAIN_SUFFIX: &str = ".example";
/// The CSS selector of the location banner.
const BANNER: &str = "#location";
/// The banner's text before the postal code.
const DELIVERING_TO: &str = "Delivering to ";

/// The config. Stateless.
#[derive(Debug, Default)]
pub struct PostalCode;

#[session_host_sdk::config]
impl SessionConfig for PostalCode {
    fn rules(&self) -> UrlRules {
        DOMAINS.iter().fold(UrlRules::new(), |rules, domain| rules.include(*domain))
    }

    fn location(&self, request: &Request) -> Result<Address, String> {
        let location = base::location(request);
        if !location.is_empty() {
            return Ok(location);
        }
        Ok(request
            .host()
            .and_then(domain_postal_code)
            .map_or_else(Address::new, |code| Address::new().with_postal_code(code)))
    }

    fn params(&self, request: &Request) -> Result<Params, String> {
        location::params(self, request)
    }

    fn check(&self, response: &Response, request: &Request) -> Result<Verdict, String> {
        location::check(self, response, request)
    }
}

impl LocationSessionConfig for PostalCode {
    fn location_params(&self, request: &Request, location: &Address) -> Result<Params, String> {
        init_params(&request.url, location)
    }

    fn location_check(&self, response: &Response, request: &Request, location: &Address) -> Result<Verdict, String> {
        let verdict = base::check(self, response, request)?;
        if verdict != Verdict::Keep {
            return Ok(verdict);
        }
        let raw = RawResponse::from_response(response)?;
        let html = raw.html().map_err(|error| format!("response body: {error}"))?;
        let shown = html.as_deref().map_or(Shown::NoBanner, banner);
        let keep = shown.matches(location);
        if !keep {
            warn!("{} shows {shown:?} instead of the session's location {location:?}", request.url);
        }
        Ok(Verdict::from(keep))
    }
}

session_host_sdk::export_config!(PostalCode);

/// The postal code in a `postal-code-NNNNN.example` host name.
pub fn domain_postal_code(host: &str) -> Option<&str> {
    let code = host.strip_prefix(DOMAIN_PREFIX)?.strip_suffix(DOMAIN_SUFFIX)?;
    (!code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(code)
}

/// Init params for `location`: the home page of `url`'s origin in a browser, `setLocation`,
/// then wait for the location banner.
pub fn init_params(url: &str, location: &Address) -> Result<Params, String> {
    let origin = url::origin(url).ok_or_else(|| format!("cannot find the origin of {url:?}"))?;
    Ok(Params::new()
        .with("url", format!("{origin}/"))
        .with("browserHtml", true)
        .with_action(Params::set_location_action(location))
        .with_action(json!({"action": "waitForSelector", "selector": {"type": "css", "value": BANNER}})))
}

/// What a page's location banner shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shown<'a> {
    /// The page has no banner.
    NoBanner,
    /// The banner shows no location.
    NoLocation,
    /// The banner shows this postal code.
    PostalCode(&'a str),
}

impl Shown<'_> {
    /// Whether the page agrees with `location`: no banner, or the location's postal code (any
    /// location when it has no postal code).
    pub fn matches(&self, location: &Address) -> bool {
        match self {
            Shown::NoBanner => true,
            Shown::NoLocation => false,
            Shown::PostalCode(code) => location.postal_code.as_deref().is_none_or(|wanted| wanted == *code),
        }
    }
}

/// Reads the `<… id="location">` banner of `html`.
pub fn banner(html: &str) -> Shown<'_> {
    let Some(at) = html.find(&format!("id=\"{}\"", &BANNER[1..])) else {
        return Shown::NoBanner;
    };
    let text = html[at..].split_once('>').map_or("", |(_, rest)| rest.split('<').next().unwrap_or_default());
    match text.trim().strip_prefix(DELIVERING_TO) {
        Some(code) => Shown::PostalCode(code.trim()),
        None => Shown::NoLocation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postal_code_comes_from_the_domain() {
        assert_eq!(domain_postal_code("postal-code-10001.example"), Some("10001"));
        assert_eq!(domain_postal_code("postal-code-.example"), None);
        assert_eq!(domain_postal_code("www.postal-code-10001.example"), None);
        assert_eq!(domain_postal_code("csrf.example"), None);
    }

    #[test]
    fn init_params_set_the_location_on_the_home_page() {
        let params =
            init_params("https://postal-code-10001.example/p/1", &Address::new().with_postal_code("10001")).unwrap();
        assert_eq!(params.url(), Some("https://postal-code-10001.example/"));
        assert_eq!(params.actions()[0], json!({"action": "setLocation", "address": {"postalCode": "10001"}}));
        assert_eq!(params.actions()[1]["action"], "waitForSelector");
        assert_eq!(params.get_bool("browserHtml"), Some(true));
    }

    #[test]
    fn banner_is_read_from_the_emulator_pages() {
        let located = r#"<body><div id="location">Delivering to 10001</div><p>Prices for 10001.</p></body>"#;
        let unlocated = r#"<body><div id="location">No location selected</div><p>Generic prices.</p></body>"#;
        assert_eq!(banner(located), Shown::PostalCode("10001"));
        assert_eq!(banner(unlocated), Shown::NoLocation);
        assert_eq!(banner("<p>plain</p>"), Shown::NoBanner);
    }

    #[test]
    fn banner_must_match_the_location() {
        let wanted = Address::new().with_postal_code("10001");
        assert!(Shown::PostalCode("10001").matches(&wanted));
        assert!(!Shown::PostalCode("94105").matches(&wanted));
        assert!(!Shown::NoLocation.matches(&wanted));
        assert!(Shown::NoBanner.matches(&wanted));
        assert!(Shown::PostalCode("10001").matches(&Address::new().with_country("US")));
    }
}
