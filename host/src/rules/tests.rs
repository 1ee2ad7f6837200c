//! Every example of the reference's section 7 (`scrapy-zyte-api-sessions.md`), as tables.

use super::pattern::{Pattern, Target, registered_domain};
use super::{Rule, RuleSet, RulesError, Why};

/// (pattern, URL, expected match) for a single pattern (url-matcher's `PatternMatcher`).
const PATTERN_CASES: &[(&str, &str, bool)] = &[
    ("", "http://otherexample.com/", true),
    ("example.com", "http://www.example.com/", true),
    ("example.com", "http://product.example.COM/product1", true),
    (
        "example.com",
        "https://example.com/product?id=2344#main_section",
        true,
    ),
    ("example.com", "http://otherexample.com/", false),
    ("example.com/", "http://www.example.com/", true),
    ("example.com/", "https://EXAMPLE.COM/product1", true),
    ("example.com/", "http://products.example.com/", false),
    // Scrapy keeps `https://example.com` without a slash, and so do we.
    ("example.com/", "https://example.com", false),
    ("example.com/|", "https://example.com/?id=23", true),
    ("example.com/|", "http://example.com/product", false),
    ("example.com/|", "https://uk.example.com/", false),
    (
        "example.com/index.htm|",
        "https://example.com/index.htm?color=blue",
        true,
    ),
    (
        "example.com/index.htm|",
        "https://example.com/index.html",
        false,
    ),
    (
        "example.com/index.htm|",
        "http://shop.example.com/index.htm",
        false,
    ),
    ("http://example.com", "HTTP://example.com/product1", true),
    (
        "http://example.com",
        "http://shop.example.com/product2",
        true,
    ),
    ("http://example.com", "https://www.example.com/", false),
    ("/product/", "http://other-example.com/PRODUCT/", true),
    ("/product/", "https://www.example.com/product", false),
    (
        "/product/",
        "http://www.example.com/shop/product/pen",
        false,
    ),
    ("/*.jpg|", "http://anything.com/my/image.JPG", true),
    ("/*.jpg|", "https://example.com/other-image.jpg#big", true),
    ("/*.jpg|", "http://anything.com/my/image.jpeg", false),
    ("/*.jpg|", "http://anything.com/my/image/jpg_2", false),
    (
        "example.com/category/*/product/",
        "https://example.com/category/bread/product/loaf?id=23#main",
        true,
    ),
    (
        "example.com/category/*/product/",
        "http://fr.example.com/category/bread/product/loaf",
        false,
    ),
    (
        "example.com/product?id=*",
        "http://www.example.com/PRODUCT?ID=23#main_section",
        true,
    ),
    (
        "example.com/product?id=*",
        "http://uk.example.com/product?location=US&id=23",
        false,
    ),
    (
        "example.com/product?id=*",
        "http://www.example.com/product?location=US",
        false,
    ),
    (
        "example.com?product_id=*&category=shoes",
        "http://example.com/product?category=SHOES&product_id=23#main_section",
        true,
    ),
    (
        "example.com?product_id=*&category=shoes",
        "http://example.com/product?product_id=23&category=clothes",
        false,
    ),
    (
        "example.com?param=1&param=2",
        "http://www.EXAMPLE.com?PARAM=2",
        true,
    ),
    (
        "example.com?param=1&param=2",
        "http://www.example.com?param=3",
        false,
    ),
    (
        "example.com?id=32&id=A*",
        "http://example.com?otm=2&id=32&id=a43",
        true,
    ),
    (
        "example.com?id=32&id=A*",
        "http://example.com?&id=44",
        false,
    ),
    ("example.com?q=A+B", "http://example.com/s?q=a%20b", true),
    (
        "example.com#product_section_*",
        "http://example.com#product_section_main",
        true,
    ),
    (
        "example.com#product_section_*",
        "http://example.com#product_description",
        false,
    ),
    (
        "example.com#product_section_*",
        "http://uk.example.com#product_section_main",
        false,
    ),
    (
        "shop.example.com/*/product/?category=shoes",
        "https://shop.example.com/US/product/nike_air?sid=423&category=shoes",
        true,
    ),
    (
        "shop.example.com/*/product/?category=shoes",
        "https://my.shop.example.com/US/product/nike_air?sid=423&category=shoes",
        false,
    ),
    (
        "shop.example.com/*/product/?category=shoes",
        "https://shop.example.com/product/nike_air?sid=423&category=shoes",
        false,
    ),
    (
        "//example.com/product",
        "http://another.page//example.com/product",
        true,
    ),
    (
        "//example.com/product",
        "https://example.com/product",
        false,
    ),
    (
        "example.com?id_gen_*&category=shoes",
        "http://example.com/prod?id_gen_=&category=shoes",
        true,
    ),
    (
        "example.com?id_gen_*&category=shoes",
        "http://example.com/prod?id_gen_x=&category=shoes",
        false,
    ),
    (
        "example.com/path?*_id=34",
        "http://example.com/path?_id=34",
        true,
    ),
    (
        "example.com/path?*_id=34",
        "http://example.com/path?my_id=34",
        false,
    ),
    ("example.com?*", "http://example.com/anything", true),
    ("example.com:123", "http://www.example.com:123/path", true),
    ("example.com:123", "https://shop.example.com:123/path", true),
    ("example.com:123", "http://www.example.com/path", false),
    ("example.com:80", "http://www.example.com:80/path", true),
    ("example.com:80", "http://example.com/path", true),
    ("example.com:80", "https://example.com/path", false),
    ("example.com:443", "https://example.com/path", true),
    ("example.com:443", "https://example.com:443/path", true),
    ("example.com:443", "http://example.com/path", false),
    (
        "https://example.com:80",
        "https://example.com:80/path",
        true,
    ),
    ("https://example.com:80", "https://example.com/path", false),
    (
        "https://example.com:80",
        "http://example.com:80/path",
        false,
    ),
    ("127.0.0.1", "http://127.0.0.1:80/path", true),
    ("a.example", "https://a.example:8080/", false),
    // Upstream quirk kept: the `www.` dot is any character (buckets make it harmless).
    ("example.com/x", "http://wwwXexample.com/x", true),
    // `*` is literal in a host.
    ("*.example.com", "http://shop.example.com/", false),
    // The reference lists `*.jpg|` as a domain-less exclude, but without a leading `/` it parses
    // as a netloc (as in url-matcher's code), so it does not match paths; write `/*.jpg|`.
    ("*.jpg|", "http://example.com/image.jpg", false),
];

#[test]
fn every_pattern_example_of_section_7_3() {
    for &(pattern, url, expected) in PATTERN_CASES {
        let got = Pattern::new(pattern).matches(&Target::new(url));
        assert_eq!(got, expected, "pattern {pattern:?} on {url:?}");
    }
}

/// (URL, expected registered domain): tldextract with private suffixes off.
const DOMAIN_CASES: &[(&str, &str)] = &[
    ("http://blog.example.com", "example.com"),
    ("http://www.example.com", "example.com"),
    ("http://deeper.blog.example.co.uk", "example.co.uk"),
    ("http://127.0.0.1", "127.0.0.1"),
    ("http://127.0.0.1:8080/x", "127.0.0.1"),
    ("http://[::1]/ipv6", "[::1]"),
    ("http://user:pw@Shop.Example.COM:8080/", "example.com"),
    // Private suffixes are off: github.io is not a public suffix here.
    ("https://foo.github.io/", "github.io"),
    ("https://a.example/", "example"),
    ("http://other", "other"),
    ("https://co.uk/", "co.uk"),
];

#[test]
fn registered_domains_follow_tldextract_without_private_suffixes() {
    for &(url, expected) in DOMAIN_CASES {
        assert_eq!(Target::new(url).domain, expected, "{url}");
    }
    assert_eq!(registered_domain("[::1]:80"), "[::1]");
}

fn rule(id: u64, name: &str, include: &[&str]) -> Rule {
    Rule::new(id, name, include.iter().copied())
}

fn compile(rules: Vec<Rule>) -> RuleSet {
    RuleSet::compile(rules).expect("valid rules")
}

/// Asserts the config chosen for each URL; `None` is the built-in default.
fn assert_selects(rules: &RuleSet, cases: &[(&str, Option<&str>)]) {
    for &(url, expected) in cases {
        assert_eq!(
            rules.select(url).config.as_deref(),
            expected,
            "select {url}"
        );
        assert_eq!(rules.resolve(url), expected, "resolve {url}");
    }
}

#[test]
fn multi_pattern_include_with_ips_and_default_ports() {
    let rules = compile(vec![rule(1, "ip", &["127.0.0.1:80/ipv4", "[::1]:80/ipv6"])]);
    assert_selects(
        &rules,
        &[
            ("http://[::1]/ipv6/something_else", Some("ip")),
            ("http://127.0.0.1/ipv4/x", Some("ip")),
            ("https://[::1]/ipv6/x", None),
        ],
    );
}

#[test]
fn section_7_2_registry_examples() {
    // Same include and priority: the last registered wins.
    let same = compile(vec![
        rule(1, "a", &["example.com"]),
        rule(2, "b", &["example.com"]),
    ]);
    assert_selects(&same, &[("https://example.com/x", Some("b"))]);
    // More specific wins at equal priority; priority beats specificity.
    let specific = compile(vec![
        rule(1, "site", &["example.com"]),
        rule(2, "products", &["example.com/products"]),
    ]);
    assert_selects(
        &specific,
        &[("https://example.com/products/1", Some("products"))],
    );
    let priority = compile(vec![
        rule(1, "site", &["example.com"]).priority(600),
        rule(2, "products", &["example.com/products"]),
    ]);
    assert_selects(
        &priority,
        &[("https://example.com/products/1", Some("site"))],
    );
    let shop = compile(vec![
        rule(1, "shop", &["shop.example.com"]),
        rule(2, "site", &["example.com"]).priority(600),
    ]);
    assert_selects(&shop, &[("https://uk.shop.example.com/", Some("site"))]);
    // A universal rule loses to any domain rule, whatever its priority.
    let universal = compile(vec![
        rule(1, "everywhere", &[""]).priority(1000),
        rule(2, "site", &["example.com"]),
    ]);
    assert_selects(
        &universal,
        &[
            ("https://example.com/", Some("site")),
            ("https://other.org/", Some("everywhere")),
        ],
    );
    let excluded = compile(vec![
        rule(1, "a", &["a.example"]).exclude(["a.example/skip"]),
    ]);
    assert_selects(
        &excluded,
        &[
            ("https://a.example/skip/1", None),
            ("https://a.example/other", Some("a")),
            ("https://a.example:8080/", None),
        ],
    );
}

#[test]
fn rules_json_priority_first() {
    let rules = compile(vec![
        rule(1, "1", &["example.com/path"]),
        rule(2, "2", &["example.com"]).priority(550),
    ]);
    assert_selects(&rules, &[("http://example.com/path", Some("2"))]);
}

#[test]
fn rules_json_specificity() {
    let rules = compile(vec![
        rule(
            1,
            "1",
            &["example.com", "blog.example.org/path?id=12#fragment"],
        ),
        rule(2, "2", &["blog.example.com", "blog.example.org/path?id=12"]),
        rule(3, "3", &["blog.example.com/path", "blog.example.org/path"]),
        rule(
            4,
            "4",
            &["blog.example.com/path?query=23", "blog.example.org"],
        ),
        rule(
            5,
            "5",
            &["blog.example.com/path?query=23#fragment", "example.org"],
        ),
    ]);
    assert_selects(
        &rules,
        &[
            ("http://blog.example.com/other", Some("2")),
            ("http://blog.example.com/path/without_query", Some("3")),
            (
                "http://blog.example.com/path/with_query?query=23",
                Some("4"),
            ),
            (
                "http://blog.example.com/path/with_query?query=23#fragment",
                Some("5"),
            ),
            (
                "http://blog.example.org/path/subpath?id=12#fragment_subsegment",
                Some("1"),
            ),
            ("http://blog.example.org", Some("4")),
            ("http://example.org", Some("5")),
            ("http://myexample.org", None),
        ],
    );
}

#[test]
fn rules_json_highest_id_wins_ties() {
    let rules = compile(vec![
        rule(3, "3", &["example.com"]).exclude(["example.com/other"]),
        rule(1, "1", &["example.com"]),
        rule(2, "2", &["example.com"]),
    ]);
    assert_selects(&rules, &[("http://example.com", Some("3"))]);
    let selection = rules.select("http://example.com");
    let why: Vec<_> = selection
        .beaten
        .iter()
        .map(|(name, why)| (name.as_str(), why))
        .collect();
    assert_eq!(
        why,
        [
            (
                "2",
                &Why::EarlierRule {
                    winner: 3,
                    loser: 2
                }
            ),
            (
                "1",
                &Why::EarlierRule {
                    winner: 3,
                    loser: 1
                }
            )
        ]
    );
}

#[test]
fn rules_json_domain_beats_universal() {
    let rules = compile(vec![
        rule(1, "1", &["example.com"]),
        rule(2, "2", &["example.com"]),
        rule(3, "3", &[]).priority(600),
        rule(4, "4", &[""]).priority(600),
    ]);
    assert_selects(
        &rules,
        &[
            ("http://example.com", Some("2")),
            ("http://other", Some("4")),
        ],
    );
    let beaten = rules.select("http://example.com").beaten;
    assert!(
        beaten.contains(&("4".to_owned(), Why::Universal)),
        "{beaten:?}"
    );
}

#[test]
fn match_all_orders_like_url_matcher() {
    let rules = compile(vec![
        rule(1, "1", &["example.com"]),
        rule(2, "2", &["foo.example.com"]),
        rule(3, "3", &["bar.example.com/products"]),
        rule(4, "4", &["bar.example.com"]),
    ]);
    assert_eq!(
        rules.match_all("http://bar.example.com/products", None),
        [3, 4, 1]
    );
}

#[test]
fn selection_explains_pattern_and_losers() {
    let rules = compile(vec![
        rule(1, "site", &["example.com"]),
        rule(2, "products", &["other.com", "example.com/products"]),
        rule(3, "sale", &["example.com/products"])
            .priority(900)
            .exclude(["/*.jpg|"]),
    ]);
    let selection = rules.select("https://example.com/products/a.jpg");
    assert_eq!(selection.config.as_deref(), Some("products"));
    assert_eq!(selection.rule, Some(2));
    assert_eq!(selection.pattern.as_deref(), Some("example.com/products"));
    assert_eq!(
        selection.beaten,
        [
            (
                "sale".to_owned(),
                Why::Excluded {
                    pattern: "/*.jpg|".to_owned()
                }
            ),
            (
                "site".to_owned(),
                Why::LessSpecific {
                    winner: vec!["com.example/products".to_owned()],
                    loser: vec!["com.example".to_owned()]
                }
            ),
        ]
    );
    assert_eq!(
        Why::LowerPriority {
            winner: 2,
            loser: 1
        }
        .to_string(),
        "lower priority (1 < 2)"
    );
}

#[test]
fn instead_of_chains_from_the_default() {
    let rules = compile(vec![
        rule(1, "b", &["example.com"]),
        rule(2, "c", &["example.com/c"]).instead_of("b"),
        rule(3, "d", &["example.com/c/d"]).instead_of("c"),
        // Replaces a config that is never chosen for this URL: no effect.
        rule(4, "x", &["example.com"]).instead_of("unused"),
    ]);
    assert_selects(
        &rules,
        &[
            ("https://example.com/", Some("b")),
            ("https://example.com/c", Some("c")),
            ("https://example.com/c/d", Some("d")),
            ("https://other.com/c/d", None),
        ],
    );
    let selection = rules.select("https://example.com/c/d");
    assert_eq!(selection.pattern.as_deref(), Some("example.com/c/d"));
    assert_eq!(
        selection.beaten,
        [
            ("b".to_owned(), Why::Replaced { by: "c".to_owned() }),
            ("c".to_owned(), Why::Replaced { by: "d".to_owned() })
        ]
    );
}

#[test]
fn instead_of_cycle_is_an_error_not_a_hang() {
    // Deliberate difference: web-poet has no cycle protection.
    let cycle = RuleSet::compile(vec![
        rule(1, "a", &["example.com"]),
        rule(2, "b", &["example.com"]).instead_of("a"),
        rule(3, "c", &["example.com"]).instead_of("b"),
        rule(4, "a", &["example.com/x"]).instead_of("c"),
    ]);
    let Err(RulesError::InsteadOfCycle { cycle, .. }) = cycle else {
        panic!("expected a cycle error, got {cycle:?}");
    };
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4, "{cycle:?}");
    let own = RuleSet::compile(vec![rule(1, "a", &["example.com"]).instead_of("a")]);
    assert!(
        matches!(own, Err(RulesError::InsteadOfCycle { .. })),
        "{own:?}"
    );
}

#[test]
fn include_patterns_need_a_domain() {
    for include in [
        &["/product/*"][..],
        &["", "example.com"],
        &["//example.com/x"],
    ] {
        let error = RuleSet::compile(vec![rule(7, "bad", include)]);
        assert!(
            matches!(&error, Err(RulesError::IncludeWithoutDomain { id: 7, .. })),
            "{include:?}: {error:?}"
        );
    }
    let message = RuleSet::compile(vec![rule(7, "bad", &["/product/*"])]).err();
    let message = message.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("rule 7 (bad)") && message.contains("/product/*"),
        "{message}"
    );
    // Excludes may be domain-less; all-empty includes are universal.
    assert!(RuleSet::compile(vec![rule(1, "ok", &["", ""]).exclude(["/x", "*.jpg|"])]).is_ok());
    let duplicate = RuleSet::compile(vec![rule(1, "a", &[""]), rule(1, "b", &[""])]);
    assert!(matches!(
        duplicate,
        Err(RulesError::DuplicateId { id: 1, .. })
    ));
}

const ODD_INPUTS: &[&str] = &[
    "",
    ":",
    "::",
    "//",
    "///",
    "////",
    "?",
    "#",
    "|",
    "*",
    "**|",
    "?*",
    "?=",
    "?&&=&",
    "#|",
    "[",
    "]",
    "[::1",
    "http://[",
    "http://]:80",
    "http://@",
    "http://a@b@c:443",
    "http://:80",
    ":80",
    ":443/x",
    "%",
    "?q=%",
    "?q=%zz%ff%C3",
    "é.例え.テスト/ß?İ=ß#é",
    "http://ÉXAMPLE.com/İ",
    "\u{0}\t\r\n http://x",
    "x;",
    "/a;",
    "http://a.b.c.d.e.f.g.h.co.uk.",
    ".",
    "..",
    "a..b",
    "http://.com",
    "http://com.",
    "http://github.io",
    "http://foo.blogspot.co.uk",
    "1.2.3.4.5",
    "mailto:someone@example.com",
    "javascript:alert(1)",
    "data:text/html,<p>",
    "a*b*c*|",
    "*example.com*",
];

#[test]
fn odd_inputs_never_panic() {
    for pattern in ODD_INPUTS {
        let _ = RuleSet::compile(vec![rule(1, "include", &[pattern])]);
        let rules = compile(vec![rule(1, "exclude", &[""]).exclude([*pattern])]);
        for url in ODD_INPUTS {
            let _ = Pattern::new(pattern).matches(&Target::new(url));
            let _ = rules.select(url);
            let _ = rules.resolve(url);
        }
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_patterns_and_urls_never_panic(pattern in "\\PC{0,40}", url in "\\PC{0,60}") {
        let _ = Pattern::new(&pattern).matches(&Target::new(&url));
        if let Ok(rules) = RuleSet::compile(vec![rule(1, "a", &[pattern.as_str()])]) {
            let _ = rules.select(&url);
        }
    }

    #[test]
    fn url_like_inputs_never_panic(
        pattern in "[a-z.*:/?#|&=%0-9\\[\\]@]{0,30}",
        url in "(https?://)?[a-z.*:/?#|&=%0-9\\[\\]@]{0,40}",
    ) {
        let _ = Pattern::new(&pattern).matches(&Target::new(&url));
        let _ = RuleSet::compile(vec![rule(1, "a", &[pattern.as_str()])]).map(|r| r.select(&url));
    }
}
