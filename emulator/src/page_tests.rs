use crate::rng::RequestRng;
use rand::SeedableRng;
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::scenario::Scenario;
use crate::wire::parse_and_check;

fn request(body: serde_json::Value) -> ExtractRequest {
    parse_and_check(body.to_string().as_bytes(), &Policy::default()).expect("valid request")
}

fn render_with(body: serde_json::Value, session: Option<&SessionView>) -> Rendered {
    let sites = SiteTable::compile(&Scenario::builtin()).expect("compiles");
    let policy = Policy::default();
    let renderer = Renderer {
        sites: &sites,
        seed: 9,
        policy: &policy,
    };
    renderer.render(&request(body), session, &mut RequestRng::seed_from_u64(1))
}

fn session(created_now: bool, location: Option<&str>) -> SessionView {
    SessionView {
        id: Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef),
        kind: SessionKind::User,
        location: location.map(str::to_owned),
        uses_before: u64::from(!created_now),
        created_now,
    }
}

#[test]
fn location_content_follows_set_location_and_sessions() {
    let body = json!({"url": "https://postal-code-10001.example/", "browserHtml": true, "responseCookies": true,
                      "actions": [{"action": "setLocation", "address": {"postalCode": "10001"}}]});
    let page = render_with(body, Some(&session(true, None)));
    assert!(page.html.contains("Delivering to 10001"), "{}", page.html);
    assert_eq!(page.location.as_deref(), Some("10001"));
    let names: Vec<&str> = page.cookies.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["sid", "postal_code"]);
    let reuse = render_with(
        json!({"url": "https://postal-code-10001.example/p", "httpResponseBody": true}),
        Some(&session(false, Some("10001"))),
    );
    assert!(reuse.html.contains("Prices for 10001"), "{}", reuse.html);
    let anonymous = render_with(
        json!({"url": "https://postal-code-10001.example/p", "httpResponseBody": true}),
        None,
    );
    assert!(
        anonymous.html.contains("No location selected"),
        "{}",
        anonymous.html
    );
}

#[test]
fn session_required_sites_forbid_new_visitors() {
    let anonymous = render_with(
        json!({"url": "https://session-required.example/", "browserHtml": true}),
        None,
    );
    assert_eq!(anonymous.status, 403);
    assert!(anonymous.html.contains("Blocked"));
    let member = render_with(
        json!({"url": "https://session-required.example/", "browserHtml": true}),
        Some(&session(false, None)),
    );
    assert_eq!(member.status, 200);
    let blocked = render_with(
        json!({"url": "https://challenge.example/", "browserHtml": true}),
        None,
    );
    assert_eq!(
        (blocked.status, blocked.html.contains("Blocked")),
        (200, true)
    );
}

#[test]
fn a_sid_cookie_makes_a_returning_visitor() {
    let first = render_with(
        json!({"url": "https://session-required.example/", "httpResponseBody": true, "responseCookies": true}),
        None,
    );
    let sid = first
        .cookies
        .iter()
        .find(|c| c.name == "sid")
        .map(|c| c.value.clone())
        .expect("sid cookie");
    let again = render_with(
        json!({"url": "https://session-required.example/", "httpResponseBody": true,
               "requestCookies": [{"name": "sid", "value": sid, "domain": "session-required.example"}]}),
        None,
    );
    assert_eq!(again.status, 200);
    let forged = render_with(
        json!({"url": "https://session-required.example/", "httpResponseBody": true,
               "requestCookies": [{"name": "sid", "value": "0000000000000000.00000000", "domain": "session-required.example"}]}),
        None,
    );
    assert_eq!(forged.status, 403);
}

#[test]
fn csrf_tokens_are_bound_to_the_session() {
    let init = render_with(
        json!({"url": "https://csrf.example/", "browserHtml": true}),
        Some(&session(true, None)),
    );
    let token = init
        .html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("token");
    let with_header = json!({"url": "https://csrf.example/search?q=a", "httpResponseBody": true,
                             "customHttpRequestHeaders": [{"name": "X-CSRF-Token", "value": token}]});
    assert_eq!(
        render_with(with_header, Some(&session(false, None))).status,
        200
    );
    let with_query = json!({"url": format!("https://csrf.example/search?csrf={token}"), "httpResponseBody": true});
    assert_eq!(
        render_with(with_query.clone(), Some(&session(false, None))).status,
        200
    );
    assert_eq!(
        render_with(with_query, None).status,
        403,
        "no session: the token is not this visitor's"
    );
    let without = json!({"url": "https://csrf.example/search", "httpResponseBody": true});
    assert_eq!(
        render_with(without, Some(&session(false, None))).status,
        403
    );
}

#[test]
fn redirects_are_followed_unless_disabled() {
    let followed = render_with(
        json!({"url": "https://redirect.example/old", "httpResponseBody": true}),
        None,
    );
    assert_eq!(
        (followed.url.as_str(), followed.status),
        ("https://redirect.example/new", 200)
    );
    let chained = render_with(
        json!({"url": "https://redirect.example/away", "browserHtml": true}),
        None,
    );
    assert_eq!(chained.url, "https://example.com/");
    let kept = render_with(
        json!({"url": "https://redirect.example/old", "httpResponseBody": true, "followRedirect": false}),
        None,
    );
    assert_eq!(kept.status, 301);
    assert!(
        kept.headers
            .iter()
            .any(|h| h.name == "location" && h.value == "https://redirect.example/new")
    );
}

#[test]
fn unsupported_set_location_names_the_domain() {
    let body = json!({"url": "https://no-location-support.example/", "browserHtml": true,
                      "actions": [{"action": "setLocation", "address": {"postalCode": "10001"}}]});
    let page = render_with(body, None);
    assert_eq!(
        page.actions[0].error.as_deref(),
        Some("Action setLocation not supported on no-location-support.example")
    );
    assert_eq!(page.status, 200);
}

#[test]
fn cookie_domains_match_hosts_and_parents() {
    assert!(domain_matches(".example.com", "www.example.com"));
    assert!(domain_matches("example.com", "example.com"));
    assert!(!domain_matches("example.com", "badexample.com"));
}
