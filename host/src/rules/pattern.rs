//! One compiled url-matcher pattern (`PatternMatcher`), the URL it is matched against, and the
//! helpers that place a pattern in a domain bucket (`get_domain`, `hierarchical_str`).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use super::split::{Parts, host_of, lowercase, parse_query, split_pattern, split_url};

/// A URL split and lower-cased once, ready to be matched against many patterns.
///
/// Its query parameters are parsed at the first pattern that has query parameters, not
/// before (issue 17: most patterns have none, and parsing them was a quarter of a selection).
/// Its parts borrow the URL where lower-casing leaves them as they are (an ASCII text without
/// capitals, nearly always): a selection then copies nothing (issue 17).
#[derive(Debug, Clone)]
pub(crate) struct Target<'a> {
    scheme: Cow<'a, str>,
    netloc: Cow<'a, str>,
    path: Cow<'a, str>,
    fragment: Cow<'a, str>,
    /// The raw query string, without the `?`.
    raw_query: Cow<'a, str>,
    query: OnceCell<Option<HashMap<String, Vec<String>>>>,
    /// The registered domain, the key of the bucket to look in.
    pub(crate) domain: Cow<'a, str>,
}

impl<'a> Target<'a> {
    /// Splits and normalises `url`; never fails (a garbage URL just matches little).
    pub(crate) fn new(url: &'a str) -> Self {
        let parts = split_url(url);
        Self {
            domain: match &parts.netloc {
                Cow::Borrowed(netloc) => registered_domain_of(netloc),
                Cow::Owned(netloc) => Cow::Owned(registered_domain(netloc)),
            },
            scheme: parts.scheme,
            netloc: lowercase(parts.netloc),
            path: lowercase(parts.path),
            fragment: lowercase(parts.fragment),
            raw_query: parts.query,
            query: OnceCell::new(),
        }
    }

    /// The query parameters, values lower-cased; `None` without a query.
    fn query(&self) -> Option<&HashMap<String, Vec<String>>> {
        self.query
            .get_or_init(|| {
                let raw = &self.raw_query;
                (!raw.is_empty()).then(|| lowercase_values(parse_query(raw)))
            })
            .as_ref()
    }
}

fn lowercase_values(query: HashMap<String, Vec<String>>) -> HashMap<String, Vec<String>> {
    query
        .into_iter()
        .map(|(name, values)| (name, values.iter().map(|v| v.to_lowercase()).collect()))
        .collect()
}

/// A `*` wildcard pattern, lower-cased: `*` matches any run of characters.
#[derive(Debug, Clone)]
struct Glob {
    /// The literal pieces between the `*`s (always at least one).
    pieces: Vec<String>,
    /// Anchored at the end too; otherwise a prefix match.
    exact: bool,
}

impl Glob {
    /// A path or fragment pattern: a prefix match unless it ends with `|`.
    fn path(source: &str) -> Self {
        match source.strip_suffix('|') {
            Some(exact) => Self::new(exact, true),
            None => Self::new(source, false),
        }
    }

    fn new(source: &str, exact: bool) -> Self {
        let pieces = source
            .to_lowercase()
            .split('*')
            .map(str::to_owned)
            .collect();
        Self { pieces, exact }
    }

    /// Whether the (already lower-cased) text matches.
    fn matches(&self, text: &str) -> bool {
        let Some((first, rest)) = self.pieces.split_first() else {
            return true;
        };
        let Some(mut tail) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return !self.exact || tail.is_empty();
        };
        for piece in middle {
            match tail.find(piece.as_str()) {
                Some(at) => tail = &tail[at + piece.len()..],
                None => return false,
            }
        }
        if self.exact {
            tail.ends_with(last.as_str())
        } else {
            tail.contains(last.as_str())
        }
    }
}

/// The netloc test: `^(?:www.)?(?:.*\.)?NETLOC$`, the subdomain part only for domain-only patterns.
#[derive(Debug, Clone)]
struct Netloc {
    netloc: String,
    subdomains: bool,
}

impl Netloc {
    fn matches(&self, netloc: &str) -> bool {
        let without_www = netloc.strip_prefix("www").and_then(|rest| {
            let mut chars = rest.chars();
            chars.next().map(|_| chars.as_str())
        });
        std::iter::once(netloc)
            .chain(without_www)
            .any(|candidate| self.matches_exactly(candidate))
    }

    fn matches_exactly(&self, candidate: &str) -> bool {
        candidate == self.netloc
            || (self.subdomains
                && candidate
                    .strip_suffix(self.netloc.as_str())
                    .is_some_and(|head| head.ends_with('.')))
    }
}

/// A compiled pattern (url-matcher's `PatternMatcher`).
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// The pattern as written.
    pub(crate) source: String,
    scheme: String,
    netloc: Option<Netloc>,
    path: Option<Glob>,
    fragment: Option<Glob>,
    query: Vec<(String, Vec<Glob>)>,
    /// The registered domain of the pattern's netloc; `None` without a netloc.
    pub(crate) domain: Option<String>,
    /// The sort key within a bucket (see [`hierarchical_str`]).
    pub(crate) hierarchical: String,
}

impl Pattern {
    /// Compiles a pattern. Every string is a valid pattern; `*` in a query parameter name is
    /// dropped (url-matcher warns) and an empty parameter name is ignored.
    pub(crate) fn new(source: &str) -> Self {
        let parts = split_pattern(source);
        let netloc = (!parts.netloc.is_empty()).then(|| Netloc {
            netloc: parts.netloc.to_lowercase(),
            subdomains: parts.path.is_empty()
                && parts.query.is_empty()
                && parts.fragment.is_empty(),
        });
        let domain = (!parts.netloc.is_empty()).then(|| registered_domain(&parts.netloc));
        Self {
            source: source.to_owned(),
            hierarchical: hierarchical_str(&parts),
            path: (!parts.path.is_empty()).then(|| Glob::path(&parts.path)),
            fragment: (!parts.fragment.is_empty()).then(|| Glob::path(&parts.fragment)),
            query: query_globs(&parts.query),
            scheme: parts.scheme.into_owned(),
            netloc,
            domain,
        }
    }

    /// Whether the URL matches every part the pattern has.
    pub(crate) fn matches(&self, url: &Target) -> bool {
        (self.scheme.is_empty() || self.scheme == url.scheme)
            && self.netloc.as_ref().is_none_or(|n| n.matches(&url.netloc))
            && self.path.as_ref().is_none_or(|p| p.matches(&url.path))
            && self
                .fragment
                .as_ref()
                .is_none_or(|f| f.matches(&url.fragment))
            && self.query_matches(url)
    }

    /// Every pattern parameter must be present, with at least one value matching one of the
    /// pattern's values for it.
    fn query_matches(&self, url: &Target) -> bool {
        if self.query.is_empty() {
            return true;
        }
        let Some(query) = url.query() else {
            return false;
        };
        self.query.iter().all(|(name, globs)| {
            query.get(name).is_some_and(|values| {
                values
                    .iter()
                    .any(|value| globs.iter().any(|glob| glob.matches(value)))
            })
        })
    }
}

/// The pattern's query parameters: names lower-cased with `*` removed, empty names skipped; a
/// name that repeats (after lower-casing) keeps only its last group, as url-matcher does.
fn query_globs(query: &str) -> Vec<(String, Vec<Glob>)> {
    if query.is_empty() {
        return Vec::new();
    }
    let mut by_name: Vec<(String, Vec<Glob>)> = Vec::new();
    for (name, values) in parse_query(query) {
        let name = name.replace('*', "");
        if name.is_empty() {
            continue;
        }
        let globs = values.iter().map(|v| Glob::new(v, true)).collect();
        by_name.retain(|(existing, _)| *existing != name);
        by_name.push((name, globs));
    }
    by_name
}

/// The registered domain of a netloc (tldextract with private suffixes off): IPs as themselves,
/// an unknown suffix counts as empty (so the last label is the domain).
pub(crate) fn registered_domain(netloc: &str) -> String {
    registered_domain_of(netloc).into_owned()
}

/// [`registered_domain`], borrowed from `netloc` when its host needs no lower-casing.
fn registered_domain_of(netloc: &str) -> Cow<'_, str> {
    match lowercase(Cow::Borrowed(host_of(netloc))) {
        Cow::Borrowed(host) => Cow::Borrowed(domain_of_host(host)),
        Cow::Owned(host) => Cow::Owned(domain_of_host(&host).to_owned()),
    }
}

/// The registered domain of a lower-cased host: the host itself for an IP literal, else its
/// ICANN public suffix and one more label.
fn domain_of_host(host: &str) -> &str {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.starts_with('[') || host.parse::<Ipv4Addr>().is_ok() {
        return host;
    }
    let keep = icann_suffix_labels(host) + 1;
    // The last `keep` labels, sliced off the host (no list of labels to join).
    match host.rmatch_indices('.').nth(keep - 1) {
        Some((dot, _)) => &host[dot + 1..],
        None => host,
    }
}

/// How many trailing labels of `host` form its ICANN public suffix (0 when unknown).
///
/// The labels are counted in the suffix psl returns, never by slicing `host` at the suffix's
/// length: psl drops a trailing dot, so that length need not line up with the end of `host`,
/// and slicing there once cut a character in two (`x.рф..` panicked, issue 12).
pub(crate) fn icann_suffix_labels(host: &str) -> usize {
    let mut name = host.as_bytes();
    loop {
        let Some(suffix) = psl::suffix(name) else {
            return 0;
        };
        let labels = suffix.trim().as_bytes();
        match suffix.typ() {
            Some(psl::Type::Icann) => return count_labels(labels),
            None => return 0,
            Some(psl::Type::Private) => {
                // A private suffix always has an ICANN suffix (or nothing known) inside it.
                match labels.iter().position(|&b| b == b'.') {
                    Some(dot) => name = &labels[dot + 1..],
                    None => return 0,
                }
            }
        }
    }
}

fn count_labels(suffix: &[u8]) -> usize {
    suffix.split(|&b| b == b'.').count()
}

/// url-matcher's `hierarchical_str`: host labels reversed (IPs kept), port dropped, then path,
/// query and fragment concatenated, e.g. `blog.example.com/p?q=1#f` → `com.example.blog/pq=1f`.
fn hierarchical_str(parts: &Parts) -> String {
    let host = match parts.netloc.rsplit_once(':') {
        Some((host, _)) => host,
        None => parts.netloc.as_ref(),
    };
    let host = if host.parse::<IpAddr>().is_ok() {
        host.to_owned()
    } else {
        host.split('.').rev().collect::<Vec<_>>().join(".")
    };
    [host.as_str(), &parts.path, &parts.query, &parts.fragment].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Issue 17: a target whose parts borrow the URL (lower-cased only where that changes
        /// them) holds what lower-cased copies held: capitals, non-ASCII hosts and paths, tabs
        /// (which force owned parts), IP literals and trailing dots included.
        #[test]
        fn issue_17_borrowed_target_parts_match_lowercased_copies(
            url in "[ \\t]?([hH][tT][tT][pP][sS]?://)?(user@)?([a-zA-Zé.\\t]{0,10}(\\.co\\.uk|\\.COM|\\.рф|\\.)?|127\\.0\\.0\\.1|\\[::1\\])(:80|:443|:8080)?(/[a-zA-ZÄ;\\t]{0,5})?(\\?Q=A)?(#[a-zA-Z]{0,3})?",
        ) {
            let parts = split_url(&url);
            let target = Target::new(&url);
            proptest::prop_assert_eq!(target.scheme.as_ref(), parts.scheme.as_ref());
            proptest::prop_assert_eq!(target.netloc.as_ref(), parts.netloc.to_lowercase());
            proptest::prop_assert_eq!(target.path.as_ref(), parts.path.to_lowercase());
            proptest::prop_assert_eq!(target.fragment.as_ref(), parts.fragment.to_lowercase());
            proptest::prop_assert_eq!(target.raw_query.as_ref(), parts.query.as_ref());
            proptest::prop_assert_eq!(target.domain.as_ref(), registered_domain(&parts.netloc));
            let host = host_of(&parts.netloc).to_lowercase();
            let host = host.strip_suffix('.').unwrap_or(&host);
            if host.starts_with('[') || host.parse::<Ipv4Addr>().is_ok() {
                proptest::prop_assert_eq!(target.domain.as_ref(), host);
            }
        }
    }
}
