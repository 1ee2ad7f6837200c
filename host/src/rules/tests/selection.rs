//! Rule conflicts (`rules.json`), web-poet registry examples, `instead_of` and errors.

use super::{assert_selects, compile, rule};
use crate::rules::{RuleSet, RulesError, Why};

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
