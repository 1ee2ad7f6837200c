//! Rendering a simulated page: redirects, visitor identity, access rules, CSRF, actions, cookies.
//!
//! Policy, in the order applied:
//! 1. Redirects: a site's redirect rule for the path sends the visitor on (up to
//!    [`MAX_REDIRECTS`] hops, across sites for absolute targets). Browser requests always follow;
//!    HTTP requests follow unless `followRedirect: false`, in which case the 3xx itself is the
//!    page (`statusCode` 30x, a `location` header, empty body).
//! 2. Visitor identity: each site knows visitors by a `sid` cookie, signed with the seed. A
//!    Zyte API session carries one per site, derived from its id (so it is fixed at creation);
//!    without a session, a valid `sid` in `requestCookies` identifies a returning visitor (the
//!    "cookie mode" of session managers); anybody else is a new visitor and gets a fresh `sid`.
//!    Having a session means being a returning visitor.
//! 3. Access: `without_session = "blocked" | "forbidden"` shows the blocked page (statusCode 200
//!    or 403) to new visitors.
//! 4. CSRF: a page with `requires_csrf` needs the token bound to the visitor's `sid` (rendered by
//!    `{{csrf_token}}`), in the site's header (`customHttpRequestHeaders`) or query parameter;
//!    otherwise the site's `on_failure` page is shown.
//! 5. Actions run (see [`crate::actions`]); the page is rendered with the resulting location
//!    (setLocation's, else the session's, else a `postal_code` request cookie).
//! 6. Cookies: `Set-Cookie` for a new `sid` and for a location set by setLocation;
//!    `responseCookies` is the session's jar (or the request's cookies for the site) updated by
//!    those.

use std::cell::OnceCell;

use rand::Rng;
use url::Url;

use crate::actions::{self, ActionResult, Stage};
use crate::policy::Policy;
use crate::rng::hash_parts;
use crate::scenario::Access;
use crate::sessions::{SessionKind, SessionView};
use crate::site::{CompiledSite, SiteTable, Target};
use crate::template::{Template, Var};
use crate::wire::ExtractRequest;
use crate::wire::response::{Cookie, Header};

/// Most redirect hops followed (like browsers' limit, smaller).
pub const MAX_REDIRECTS: usize = 10;

const SID: &str = "sid";
const POSTAL_CODE: &str = "postal_code";

/// A rendered page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    /// Final URL.
    pub url: String,
    /// The website's status code.
    pub status: u16,
    /// HTML.
    pub html: String,
    /// Response headers.
    pub headers: Vec<Header>,
    /// `responseCookies`.
    pub cookies: Vec<Cookie>,
    /// Action results.
    pub actions: Vec<ActionResult>,
    /// Location set by setLocation.
    pub location: Option<String>,
}

/// Renders pages of a site table.
#[derive(Clone, Copy, Debug)]
pub struct Renderer<'a> {
    /// The sites.
    pub sites: &'a SiteTable,
    /// The emulator seed (signs cookies and tokens).
    pub seed: u64,
    /// The policy (for the setLocation error text).
    pub policy: &'a Policy,
}

struct Visitor {
    sid: String,
    returning: bool,
    set_cookie: bool,
    location: Option<String>,
}

impl Renderer<'_> {
    /// Renders the page for `request` as seen by `session`.
    pub fn render(
        &self,
        request: &ExtractRequest,
        session: Option<&SessionView>,
        rng: &mut impl Rng,
    ) -> Rendered {
        let opts = &request.opts;
        let follow = !opts.browser_fields.is_empty() || opts.follow_redirect;
        let mut url = request.url.clone();
        let mut host = request.host.clone();
        for _ in 0..MAX_REDIRECTS {
            let site = self.sites.resolve(&host).site;
            let Some(next) = site
                .redirect(url.path())
                .and_then(|rule| Some((rule.status, url.join(&rule.to).ok()?)))
            else {
                break;
            };
            if !follow {
                return redirect_page(&url, next.0, &next.1);
            }
            url = next.1;
            host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        }
        let target = self.sites.resolve(&host);
        let visitor = self.visitor(&host, request, session, rng);
        self.page(&url, &host, target, &visitor, request, session, rng)
    }

    fn visitor(
        &self,
        host: &str,
        request: &ExtractRequest,
        session: Option<&SessionView>,
        rng: &mut impl Rng,
    ) -> Visitor {
        if let Some(session) = session {
            let nonce = format!(
                "{:016x}",
                hash_parts(self.seed, &["session", &session.id.to_string()])
            );
            let sid = self.sign(host, &nonce);
            return Visitor {
                sid,
                returning: true,
                set_cookie: session.created_now,
                location: session.location.clone(),
            };
        }
        let request_cookie = |name: &str| {
            let for_host = |c: &&crate::wire::RequestCookie| domain_matches(&c.domain, host);
            request
                .opts
                .request_cookies
                .iter()
                .filter(for_host)
                .rfind(|c| c.name == name)
                .map(|c| c.value.clone())
        };
        let location = request_cookie(POSTAL_CODE);
        match request_cookie(SID).filter(|sid| self.verify(host, sid)) {
            Some(sid) => Visitor {
                sid,
                returning: true,
                set_cookie: false,
                location,
            },
            None => {
                let sid = self.sign(host, &format!("{:016x}", rng.random::<u64>()));
                Visitor {
                    sid,
                    returning: false,
                    set_cookie: true,
                    location,
                }
            }
        }
    }

    fn sign(&self, host: &str, nonce: &str) -> String {
        format!(
            "{nonce}.{:08x}",
            hash_parts(self.seed, &["sid", host, nonce]) as u32
        )
    }

    fn verify(&self, host: &str, sid: &str) -> bool {
        sid.split_once('.')
            .is_some_and(|(nonce, _)| self.sign(host, nonce) == sid)
    }

    fn csrf_token(&self, sid: &str) -> String {
        format!("{:016x}", hash_parts(self.seed, &["csrf", sid]))
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the arguments are the request's parts"
    )]
    fn page(
        &self,
        url: &Url,
        host: &str,
        target: Target<'_>,
        visitor: &Visitor,
        request: &ExtractRequest,
        session: Option<&SessionView>,
        rng: &mut impl Rng,
    ) -> Rendered {
        let site = target.site;
        let page = site.page(url.path());
        let refused = self.refusal(site, page.spec.requires_csrf, url, visitor, request);
        let template = |located: bool| match refused {
            Some(_) => &site.blocked,
            None if located => &page.with_location,
            None => &page.template,
        };
        let unsupported = self.policy.unsupported_location_error(host);
        let has_id = |id: &str| template(false).contains_text(&format!("id=\"{id}\""));
        let fixed_location = session
            .filter(|s| s.kind == SessionKind::Context || !s.created_now)
            .map(|s| s.location.as_deref());
        let stage = Stage {
            domain: host,
            support: &site.spec.set_location,
            capture: target.capture,
            fixed_location,
            unsupported_error: &unsupported,
            has_id: &has_id,
        };
        let outcome = actions::run(&request.opts.actions, &stage, rng);
        let location = outcome
            .location
            .clone()
            .or_else(|| visitor.location.clone());
        let vars = Vars {
            url,
            host,
            site,
            request,
            visitor,
            location: location.as_deref(),
            csrf: OnceCell::new(),
            renderer: self,
        };
        let html = render(template(location.is_some()), &vars);
        let wanted = request.opts.http_response_headers || request.opts.response_cookies;
        let (headers, cookies) = if !wanted {
            (Vec::new(), Vec::new())
        } else {
            cookies_and_headers(
                host,
                visitor,
                outcome.location.as_deref(),
                location.as_deref(),
                request,
                session,
            )
        };
        let status = refused.unwrap_or(page.spec.status);
        Rendered {
            url: url.to_string(),
            status,
            html,
            headers,
            cookies,
            actions: outcome.results,
            location: outcome.location,
        }
    }

    /// The status of the blocked page if access is refused.
    fn refusal(
        &self,
        site: &CompiledSite,
        requires_csrf: bool,
        url: &Url,
        visitor: &Visitor,
        request: &ExtractRequest,
    ) -> Option<u16> {
        let status = |access: Access| match access {
            Access::Allow => None,
            Access::Blocked => Some(200),
            Access::Forbidden => Some(403),
        };
        if !visitor.returning
            && let Some(code) = status(site.spec.without_session)
        {
            return Some(code);
        }
        let csrf = site.spec.csrf.as_ref().filter(|_| requires_csrf)?;
        let from_header = request
            .opts
            .custom_headers
            .iter()
            .rfind(|(name, _)| *name == csrf.header)
            .map(|(_, v)| v.clone());
        let from_query = || {
            url.query_pairs()
                .find(|(k, _)| *k == csrf.query)
                .map(|(_, v)| v.into_owned())
        };
        let token = from_header.or_else(from_query);
        let valid =
            visitor.returning && token.as_deref() == Some(self.csrf_token(&visitor.sid).as_str());
        if valid {
            None
        } else {
            status(csrf.on_failure).or(Some(403))
        }
    }
}

struct Vars<'a> {
    url: &'a Url,
    host: &'a str,
    site: &'a CompiledSite,
    request: &'a ExtractRequest,
    visitor: &'a Visitor,
    location: Option<&'a str>,
    /// Computed only if the template asks for it.
    csrf: OnceCell<String>,
    renderer: &'a Renderer<'a>,
}

fn render(template: &Template, vars: &Vars<'_>) -> String {
    template.render(|var| match var {
        Var::Url => vars.url.as_str(),
        Var::Host => vars.host,
        Var::Path => vars.url.path(),
        Var::Title => vars.site.spec.title.as_deref().unwrap_or(vars.host),
        Var::Method => vars.request.opts.method.as_str(),
        Var::PostalCode => vars.location.unwrap_or(""),
        Var::CsrfToken => vars
            .csrf
            .get_or_init(|| vars.renderer.csrf_token(&vars.visitor.sid)),
        Var::Visitor => vars.visitor.sid.as_str(),
    })
}

fn redirect_page(url: &Url, status: u16, next: &Url) -> Rendered {
    let headers = vec![
        Header {
            name: "content-type".into(),
            value: "text/html; charset=utf-8".into(),
        },
        Header {
            name: "location".into(),
            value: next.to_string(),
        },
    ];
    Rendered {
        url: url.to_string(),
        status,
        headers,
        ..Rendered::default()
    }
}

fn cookie(host: &str, name: &str, value: &str) -> Cookie {
    Cookie {
        name: name.into(),
        value: value.into(),
        domain: host.into(),
        path: "/".into(),
        http_only: name == SID,
        secure: false,
        same_site: "Lax",
    }
}

fn cookies_and_headers(
    host: &str,
    visitor: &Visitor,
    set_location: Option<&str>,
    location: Option<&str>,
    request: &ExtractRequest,
    session: Option<&SessionView>,
) -> (Vec<Header>, Vec<Cookie>) {
    let mut set = Vec::new();
    if visitor.set_cookie {
        set.push(cookie(host, SID, &visitor.sid));
    }
    if let Some(code) = set_location {
        set.push(cookie(host, POSTAL_CODE, code));
    }
    let mut headers = vec![Header {
        name: "content-type".into(),
        value: "text/html; charset=utf-8".into(),
    }];
    for c in &set {
        let flags = if c.http_only { "; HttpOnly" } else { "" };
        headers.push(Header {
            name: "set-cookie".into(),
            value: format!("{}={}; Path=/; SameSite=Lax{flags}", c.name, c.value),
        });
    }
    let mut jar: Vec<Cookie> = match session {
        Some(_) => {
            let mut jar = vec![cookie(host, SID, &visitor.sid)];
            jar.extend(location.map(|code| cookie(host, POSTAL_CODE, code)));
            jar
        }
        None => request
            .opts
            .request_cookies
            .iter()
            .filter(|c| domain_matches(&c.domain, host))
            .map(|c| cookie(host, &c.name, &c.value))
            .collect(),
    };
    for c in set {
        jar.retain(|old| old.name != c.name);
        jar.push(c);
    }
    (headers, jar)
}

/// Whether a cookie for `domain` is sent to `host` (exact, or a parent domain).
fn domain_matches(domain: &str, host: &str) -> bool {
    let domain = domain.trim_start_matches('.').to_ascii_lowercase();
    host == domain
        || host
            .strip_suffix(domain.as_str())
            .is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
#[path = "page_tests.rs"]
mod tests;
