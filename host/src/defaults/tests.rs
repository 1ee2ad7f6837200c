//! The reference's default behaviour, case by case (sections 4.1, 4.3, 5.2, 5.7, 5.8).

use serde_json::json;

use super::*;

fn config(settings: SessionSettings) -> DefaultConfig {
    DefaultConfig::new(Arc::new(settings))
}

fn request(url: &str) -> Request {
    wire::request_from_body(url.into(), &Map::new(), wire::no_controls())
}

fn addr(postal: &str) -> Address {
    Address {
        postal_code: Some(postal.into()),
        ..address_of(&Location::default())
    }
}

fn response(body: Value) -> Response {
    Response {
        status: 200,
        body: body.to_string(),
    }
}

#[test]
fn issue_13_pool_id_is_the_netloc_with_port_and_without_userinfo() {
    let d = DefaultConfig::default();
    assert_eq!(
        d.pool(&request("https://EXAMPLE.com:8080/a")).unwrap().id,
        "example.com:8080"
    );
    assert_eq!(
        d.pool(&request("https://user:pw@example.com/")).unwrap().id,
        "example.com"
    );
    assert_eq!(
        d.pool(&request("https://bücher.example/")).unwrap().id,
        "xn--bcher-kva.example"
    );
    assert_ne!(
        d.pool(&request("https://www.example.com/")).unwrap().id,
        "example.com"
    );
}

#[test]
fn pool_precedence_pool_then_params_then_location() {
    let d = DefaultConfig::default();
    let mut r = request("https://example.com/");
    r.controls.location = Some(addr("10001"));
    assert_eq!(d.pool(&r).unwrap().id, "example.com@10001");
    r.controls.params = Some(r#"{"b": 1, "a": [1, 2]}"#.into());
    assert_eq!(d.pool(&r).unwrap().id, "example.com[0]");
    r.controls.pool = Some(PoolSpec {
        id: "mine".into(),
        size: Some(2),
        delay: None,
        randomize_delay: None,
    });
    assert_eq!(d.pool(&r).unwrap().id, "client/mine");
}

#[test]
fn issue_13_a_request_named_pool_is_in_a_namespace_of_its_own() {
    let mut r = request("https://shop.example/");
    r.controls.pool = Some(PoolSpec {
        id: "shop.example".into(),
        size: Some(1),
        delay: Some(86400.0),
        randomize_delay: None,
    });
    let spec = DefaultConfig::default().pool(&r).unwrap();
    assert_eq!(spec.id, "client/shop.example");
    assert_ne!(
        spec.id,
        DefaultConfig::default()
            .pool(&request("https://shop.example/"))
            .unwrap()
            .id
    );
    // An empty prefix restores the reference, hijack included.
    let reference = config(SessionSettings {
        client_pool_prefix: String::new(),
        ..SessionSettings::default()
    });
    assert_eq!(reference.pool(&r).unwrap().id, "shop.example");
}

#[test]
fn param_sets_are_indexed_per_netloc_by_canonical_json() {
    let d = DefaultConfig::default();
    let pool = |url: &str, params: &str| {
        let mut r = request(url);
        r.controls.params = Some(params.into());
        d.pool(&r).unwrap().id
    };
    assert_eq!(
        pool("https://a.example/", r#"{"x": 1, "y": 2}"#),
        "a.example[0]"
    );
    assert_eq!(
        pool("https://a.example/", r#"{"y": 2, "x": 1}"#),
        "a.example[0]"
    );
    assert_eq!(
        pool("https://a.example/", r#"{"x": 1.0, "y": 2}"#),
        "a.example[1]"
    );
    assert_eq!(
        pool("https://b.example/", r#"{"x": 1, "y": 2}"#),
        "b.example[0]"
    );
    assert_eq!(
        pool("https://a.example/", "{}"),
        "a.example",
        "an empty param set is falsy"
    );
}

#[test]
fn location_pool_ids_keep_order_and_empty_strings() {
    let d = DefaultConfig::default();
    let mut r = request("https://example.com/");
    r.controls.location = Some(Address {
        street_address: Some("Rúa do Príncipe, 123".into()),
        address_country: Some("".into()),
        postal_code: Some("12345".into()),
        address_region: None,
    });
    assert_eq!(
        d.pool(&r).unwrap().id,
        "example.com@,12345,Rúa do Príncipe, 123"
    );
}

#[test]
fn location_control_even_empty_beats_the_setting() {
    let settings = SessionSettings {
        location: Location {
            postal_code: Some("10001".into()),
            ..Location::default()
        },
        ..SessionSettings::default()
    };
    let d = config(settings);
    let mut r = request("https://example.com/");
    assert_eq!(d.location(&r).postal_code.as_deref(), Some("10001"));
    r.controls.location = Some(address_of(&Location::default()));
    assert!(is_empty(&d.location(&r)));
}

#[test]
fn init_params_precedence() {
    // Reference 4.1: meta params > (setting params unless a truthy meta location) > params().
    let settings = SessionSettings {
        params: json!({"browserHtml": true, "x": 1})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        ..SessionSettings::default()
    };
    let d = config(settings);
    let mut r = request("https://example.com/");
    assert_eq!(
        d.preset_init_params(&r).as_deref(),
        Some(r#"{"browserHtml":true,"x":1}"#)
    );
    r.controls.location = Some(address_of(&Location::default()));
    assert!(
        d.preset_init_params(&r).is_some(),
        "an empty meta location does not suppress the setting"
    );
    r.controls.location = Some(addr("10001"));
    assert_eq!(
        d.preset_init_params(&r),
        None,
        "a truthy meta location suppresses the setting"
    );
    r.controls.params = Some(r#"{"httpResponseBody": true}"#.into());
    assert_eq!(
        d.preset_init_params(&r).as_deref(),
        Some(r#"{"httpResponseBody":true}"#)
    );
    assert_eq!(
        DefaultConfig::default().preset_init_params(&request("https://e.example")),
        None
    );
}

#[test]
fn default_params_add_set_location_for_a_location() {
    let d = DefaultConfig::default();
    assert_eq!(
        d.params(&address_of(&Location::default())),
        r#"{"browserHtml":true}"#
    );
    let with = serde_json::from_str::<Value>(&d.params(&addr("10001"))).unwrap();
    assert_eq!(
        with,
        json!({"browserHtml": true, "actions": [{"action": "setLocation", "address": {"postalCode": "10001"}}]})
    );
}

#[test]
fn init_request_pops_url_and_copies_controls() {
    let d = DefaultConfig::default();
    let mut r = request("https://example.com/page");
    r.controls.location = Some(addr("10001"));
    r.controls.enabled = Some(true);
    let init = d
        .init_request(
            "sid",
            &r,
            r#"{"url": "https://example.com/init", "browserHtml": true}"#,
            false,
        )
        .unwrap();
    assert_eq!(init.url, "https://example.com/init");
    assert_eq!(init.params, r#"{"browserHtml":true}"#);
    assert_eq!(
        (init.is_init, init.session_id.as_deref()),
        (true, Some("sid"))
    );
    assert_eq!(init.controls.location, r.controls.location);
    assert_eq!(
        init.controls.enabled, None,
        "only params and location controls are copied"
    );
    let plain = d.init_request("sid", &r, "{}", false).unwrap();
    assert_eq!(plain.url, "https://example.com/page");
    assert!(d.init_request("sid", &r, "[]", false).is_err());
    assert!(d.init_request("sid", &r, r#"{"url": 3}"#, false).is_err());
}

#[test]
fn cookie_mode_init_forces_response_cookies_and_drops_session() {
    let d = DefaultConfig::default();
    let init = d
        .init_request(
            "sid",
            &request("https://e.example/"),
            r#"{"responseCookies": false}"#,
            true,
        )
        .unwrap();
    let params: Value = serde_json::from_str(&init.params).unwrap();
    assert_eq!(params, json!({"responseCookies": true, "session": null}));
}

#[test]
fn check_unsupported_set_location_closes_the_pool() {
    let d = DefaultConfig::default();
    let body = json!({"actions": [{"action": "setLocation", "status": "returned", "error": "Action setLocation not supported on x.example"}]});
    let verdict = d.check(
        &response(body.clone()),
        &request("https://x.example/"),
        &addr("10001"),
    );
    assert_eq!(
        verdict,
        Verdict::ClosePool("unsupported_set_location".into())
    );
    let no_location = d.check(
        &response(body),
        &request("https://x.example/"),
        &address_of(&Location::default()),
    );
    assert_eq!(
        no_location,
        Verdict::Keep,
        "without a location the action is not inspected"
    );
}

#[test]
fn check_init_action_failure_invalidates() {
    let d = DefaultConfig::default();
    let mut init = request("https://x.example/");
    init.is_init = true;
    let none = address_of(&Location::default());
    let returned = json!({"actions": [{"action": "click", "status": "returned"}]});
    let continued = json!({"actions": [{"action": "click", "status": "continued"}, {"action": "x", "status": "success"}]});
    assert_eq!(
        d.check(&response(returned.clone()), &init, &none),
        Verdict::Discard
    );
    assert_eq!(d.check(&response(continued), &init, &none), Verdict::Keep);
    assert_eq!(
        d.check(
            &response(returned.clone()),
            &request("https://x.example/"),
            &none
        ),
        Verdict::Keep,
        "use responses are not invalidated"
    );
    let lenient = config(SessionSettings {
        init_action_failure_invalidates_session: false,
        ..SessionSettings::default()
    });
    assert_eq!(
        lenient.check(&response(returned), &init, &none),
        Verdict::Keep
    );
}

#[test]
fn check_set_location_outcome_on_use_and_init() {
    let d = DefaultConfig::default();
    let failed = json!({"actions": [{"action": "setLocation", "status": "continued", "error": "Action setLocation failed"}]});
    let ok = json!({"actions": [{"action": "setLocation", "status": "success"}]});
    let use_request = request("https://x.example/");
    assert_eq!(
        d.check(&response(failed), &use_request, &addr("1")),
        Verdict::Discard
    );
    assert_eq!(
        d.check(&response(ok), &use_request, &addr("1")),
        Verdict::Keep
    );
    assert_eq!(
        d.check(
            &response(json!({"browserHtml": "<p>"})),
            &use_request,
            &addr("1")
        ),
        Verdict::Keep
    );
}

#[test]
fn issue_14_keep_default_port_restores_the_reference_pool_id() {
    let keep = config(SessionSettings {
        keep_default_port: true,
        ..SessionSettings::default()
    });
    let id = |d: &DefaultConfig, url: &str| d.pool(&request(url)).unwrap().id;
    assert_eq!(id(&keep, "https://example.com:443/a"), "example.com:443");
    // Userinfo never reaches a pool id (issue 13), whatever the port setting.
    assert_eq!(id(&keep, "http://u@example.com:80"), "example.com:80");
    assert_eq!(id(&keep, "https://[::1]:443/"), "[::1]:443");
    assert_eq!(id(&keep, "https://example.com:8080/"), "example.com:8080");
    assert_eq!(id(&keep, "https://example.com/a:443"), "example.com");
    assert_eq!(
        id(&DefaultConfig::default(), "https://example.com:443/"),
        "example.com"
    );
}

#[test]
fn issue_13_the_params_registry_is_bounded_and_keeps_no_params_text() {
    let d = config(SessionSettings {
        max_param_pools: 5,
        ..SessionSettings::default()
    });
    let big = "x".repeat(10_000);
    for n in 0..100 {
        let params = json!({"n": n, "big": big})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(d.param_pool_index("a.example", &params), n);
    }
    let registry = d.param_pools.lock();
    assert_eq!(registry.len(), 10);
    assert!(format!("{registry:?}").len() < 5_000);
}

#[test]
fn issue_13_params_indices_stay_stable_while_remembered() {
    let d = config(SessionSettings {
        max_param_pools: 1,
        ..SessionSettings::default()
    });
    let p = |n: i32| json!({"n": n}).as_object().cloned().unwrap_or_default();
    assert_eq!(d.param_pool_index("a.example", &p(0)), 0);
    assert_eq!(d.param_pool_index("a.example", &p(1)), 1);
    assert_eq!(d.param_pool_index("a.example", &p(0)), 0);
    // p(1) is now the least recently used of two: forgotten, a new one gets a fresh index.
    assert_eq!(d.param_pool_index("a.example", &p(2)), 2);
    assert_eq!(d.param_pool_index("b.example", &p(0)), 0);
}

proptest::proptest! {
    /// Issue 17: the netloc read without the parser is the parser's, whenever the shortcut
    /// takes a URL (hosts of letters, digits, dots and hyphens, numeric last labels, ports with
    /// leading zeros, default ports, empty ports, odd characters after the host).
    #[test]
    fn issue_17_the_parserless_netloc_agrees_with_the_parser(
        scheme in "(https?|HTTP|ftp)://",
        labels in proptest::collection::vec("[a-zA-Z0-9-]{0,6}", 1..4),
        port in "(:[0-9]{0,6})?",
        rest in "([/?#][a-z0-9%@ .\\\\]{0,6})?",
    ) {
        let url = format!("{scheme}{}{port}{rest}", labels.join("."));
        if let Some(fast) = simple_netloc(&url) {
            proptest::prop_assert_eq!(Ok(fast), parsed_netloc(&url), "{}", url);
        }
    }
}

#[test]
fn issue_17_simple_urls_skip_the_parser_and_others_do_not() {
    let cases = [
        ("https://shop.example/p?q=1", Some("shop.example")),
        ("https://shop.example:443/", Some("shop.example")),
        ("http://shop.example:0080/", Some("shop.example")),
        ("https://shop.example:8443", Some("shop.example:8443")),
        ("https://a-b.example#x", Some("a-b.example")),
        ("https://Shop.example/", None),
        ("https://xn--bcher-kva.example/", None),
        ("https://1.2.3.4/", None),
        ("https://user@shop.example/", None),
        ("https://shop.example:/", None),
        ("https://shop.example:99999/", None),
        ("https://shop.%65xample/", None),
        ("ftp://shop.example/", None),
    ];
    for (url, fast) in cases {
        assert_eq!(simple_netloc(url).as_deref(), fast, "{url}");
        if let Some(fast) = fast {
            assert_eq!(parsed_netloc(url).as_deref(), Ok(fast), "{url}");
        }
    }
}
