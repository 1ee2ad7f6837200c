//! Arbitrary strings as patterns or URLs must never panic.

use super::{compile, rule};
use crate::rules::RuleSet;
use crate::rules::pattern::{Pattern, Target};

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
    "https://x.рф../",
    "x.рф..",
    "http://[::1]:8080/",
    "http://[::ffff:1.2.3.4]/",
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

/// Issue 12: a host whose public suffix is not ASCII, followed by an empty label, made the
/// ICANN-suffix count slice the host in the middle of a character (`x.рф..`: psl's suffix
/// drops the trailing dot, so its length no longer lines up with the host's end).
#[test]
fn issue_12_non_ascii_suffix_with_odd_dots_does_not_panic() {
    let rules = compile(vec![rule(1, "shop", &["x.рф"])]);
    for url in [
        "https://x.рф../",
        "https://x.рф.",
        "https://x.рф...",
        "https://рф..",
        "https://x.ελ../",
        "https://a.x.рф../p?q=1",
        "https://x.com.рф../",
        "https://x.blogspot.рф../",
        "https://例え.テスト../",
    ] {
        let _ = rules.select(url);
        let _ = rules.resolve(url);
        let _ = Pattern::new(url).matches(&Target::new(url));
    }
    assert_eq!(rules.resolve("https://x.рф/"), Some("shop"));
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

proptest::proptest! {
    /// The fast path and the explaining path always agree.
    #[test]
    fn resolve_agrees_with_select(
        url in "(https?://)?(www\\.|blog\\.|uk\\.)?(example\\.(com|org)|other)(:80|:443|:8080)?(/path|/c|/c/d|/other)?(\\?(id=12|query=23))?(#fragment)?",
    ) {
        let rules = compile(vec![
            rule(1, "1", &["example.com", "blog.example.org/path?id=12#fragment"]),
            rule(2, "2", &["blog.example.com", "blog.example.org/path?id=12"]).priority(400),
            rule(3, "3", &["blog.example.com/path", "blog.example.org/path"]),
            rule(4, "4", &["", ""]).priority(900),
            rule(5, "5", &["example.org/c"]).instead_of("4").exclude(["/c/d"]),
            rule(6, "6", &["example.com/c"]).instead_of("1"),
        ]);
        let selection = rules.select(&url);
        proptest::prop_assert_eq!(selection.config.as_deref(), rules.resolve(&url));
    }
}

/// The registered domain as it was computed before issue 17: every label collected, the last
/// ones joined back.
fn joined_labels(host: &str, keep: usize) -> String {
    let labels: Vec<&str> = host.split('.').collect();
    let keep = keep.min(labels.len());
    labels[labels.len() - keep..].join(".")
}

proptest::proptest! {
    /// Issue 17: splitting without copying (no tab or newline in the URL) and slicing the
    /// registered domain off the host give what the copying versions gave.
    #[test]
    fn issue_17_fast_splits_agree_with_the_copying_ones(
        url in "[ \\t\\n]?(https?://)?[a-zA-Z.\\t\\r\\n]{0,12}(\\.co\\.uk|\\.com|\\.рф|\\.)?(:80|:443)?(/[a-z\\t]{0,4})?(\\?q=1)?",
    ) {
        let trimmed = url.trim_start_matches(|c: char| c <= ' ');
        let cleaned: String = trimmed
            .chars()
            .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
            .collect();
        proptest::prop_assert_eq!(
            crate::rules::split::split_url(&url),
            crate::rules::split::split_url(&cleaned)
        );
        let netloc = crate::rules::split::split_url(&url).netloc;
        let host = crate::rules::split::host_of(&netloc).to_lowercase();
        let host = host.strip_suffix('.').unwrap_or(&host);
        let domain = crate::rules::pattern::registered_domain(&netloc);
        if !host.starts_with('[') && host.parse::<std::net::Ipv4Addr>().is_err() {
            let keep = crate::rules::pattern::icann_suffix_labels(host) + 1;
            proptest::prop_assert_eq!(&domain, &joined_labels(host, keep));
        }
    }
}
