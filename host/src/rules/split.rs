//! Splitting URLs and patterns into parts the way Python's `urllib.parse.urlparse` does, plus the
//! small normalisations url-matcher applies on top (default-port stripping, scheme inference).
//!
//! We do not use the `url` crate's parser here on purpose: it normalises (adds a `/` path to
//! `https://example.com`, percent-encodes, punycodes) and rejects inputs that Python accepts, and
//! url-matcher's behaviour depends on the raw, unnormalised parts.

use std::borrow::Cow;
use std::collections::HashMap;

/// The five parts url-matcher works with; `path` holds `path;params`. Each part borrows the URL
/// it was split from, except a scheme that had to be lower-cased and the parts of a URL that had
/// tabs or newlines to drop (issue 17: the five copies were half of a config selection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Parts<'a> {
    /// Lower-cased scheme, possibly inferred from a default port; empty when absent.
    pub(crate) scheme: Cow<'a, str>,
    /// The netloc (userinfo, host and port), with a default port stripped; case kept.
    pub(crate) netloc: Cow<'a, str>,
    /// The path, with `;params` joined back on; case kept.
    pub(crate) path: Cow<'a, str>,
    /// The raw query string, without the `?`.
    pub(crate) query: Cow<'a, str>,
    /// The raw fragment, without the `#`.
    pub(crate) fragment: Cow<'a, str>,
}

impl Parts<'_> {
    /// The same parts, owning their text.
    fn into_owned(self) -> Parts<'static> {
        Parts {
            scheme: Cow::Owned(self.scheme.into_owned()),
            netloc: Cow::Owned(self.netloc.into_owned()),
            path: Cow::Owned(self.path.into_owned()),
            query: Cow::Owned(self.query.into_owned()),
            fragment: Cow::Owned(self.fragment.into_owned()),
        }
    }
}

/// Schemes for which `urlparse` splits `;params` off the last path segment.
const USES_PARAMS: &[&str] = &[
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtsps", "rtspu",
    "sip", "sips", "mms", "sftp", "tel",
];

/// Splits a URL like `urlparse` followed by url-matcher's `normalize_netloc_and_schema`.
pub(crate) fn split_url(url: &str) -> Parts<'_> {
    let url = url.trim_start_matches(|c: char| c <= ' ');
    // Tabs and newlines are removed; a URL without them (nearly all) is split where it is, its
    // parts borrowing it, not copied char by char (issue 17: the copy was a third of a config
    // selection).
    // Searched byte by byte: a `char` pattern decodes every character (issue 17).
    if url.bytes().any(|b| matches!(b, b'\t' | b'\r' | b'\n')) {
        return split_clean(&url.replace(['\t', '\r', '\n'], "")).into_owned();
    }
    split_clean(url)
}

/// [`split_url`] of a URL without leading blanks, tabs or newlines.
fn split_clean(url: &str) -> Parts<'_> {
    let (scheme, rest) = split_scheme(url);
    let (netloc, rest) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after
                .bytes()
                .position(|b| matches!(b, b'/' | b'?' | b'#'))
                .unwrap_or(after.len());
            after.split_at(end)
        }
        None => ("", rest),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = if USES_PARAMS.contains(&scheme.as_ref()) {
        join_params(path)
    } else {
        path
    };
    let (scheme, netloc) = normalize_netloc_and_scheme(scheme, netloc);
    Parts {
        scheme,
        netloc: Cow::Borrowed(netloc),
        path: Cow::Borrowed(path),
        query: Cow::Borrowed(query),
        fragment: Cow::Borrowed(fragment),
    }
}

/// `text` lower-cased (`str::to_lowercase`), borrowed as it is when that changes nothing: an
/// ASCII text without capitals.
pub(crate) fn lowercase(text: Cow<'_, str>) -> Cow<'_, str> {
    if text
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        Cow::Owned(text.to_lowercase())
    } else {
        text
    }
}

/// Splits a pattern: a pattern without `scheme://` or `//` gets `//` prepended, and a leading `//`
/// gets another `//` so that `//x/y` is a path pattern.
pub(crate) fn split_pattern(pattern: &str) -> Parts<'_> {
    if has_scheme_and_slashes(pattern) && !pattern.starts_with("//") {
        split_url(pattern)
    } else {
        split_url(&format!("//{pattern}")).into_owned()
    }
}

/// Whether the pattern matches `^([a-zA-Z][a-zA-Z0-9.+-]*:)?//`.
fn has_scheme_and_slashes(pattern: &str) -> bool {
    if pattern.starts_with("//") {
        return true;
    }
    let Some((scheme, rest)) = pattern.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
        && rest.starts_with("//")
}

/// `urlsplit`'s scheme detection: a non-empty run of scheme characters before the first `:`,
/// starting with an ASCII letter.
fn split_scheme(url: &str) -> (Cow<'_, str>, &str) {
    if let Some((candidate, rest)) = url.split_once(':') {
        let mut chars = candidate.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-')) {
            return (lowercase(Cow::Borrowed(candidate)), rest);
        }
    }
    (Cow::Borrowed(""), url)
}

/// `urlparse` splits `;params` off the last segment and url-matcher joins them back, which is the
/// identity except that an empty params part loses its `;`.
fn join_params(path: &str) -> &str {
    let last_segment_start = path.rfind('/').unwrap_or(0);
    match path[last_segment_start..].find(';') {
        Some(i) if last_segment_start + i + 1 == path.len() => &path[..path.len() - 1],
        _ => path,
    }
}

/// Strips `:80` (http or no scheme) and `:443` (https or no scheme), inferring the scheme.
fn normalize_netloc_and_scheme<'a>(
    scheme: Cow<'a, str>,
    netloc: &'a str,
) -> (Cow<'a, str>, &'a str) {
    if let Some((host, port)) = netloc.rsplit_once(':') {
        if port == "80" && (scheme == "http" || scheme.is_empty()) {
            return (Cow::Borrowed("http"), host);
        }
        if port == "443" && (scheme == "https" || scheme.is_empty()) {
            return (Cow::Borrowed("https"), host);
        }
    }
    (scheme, netloc)
}

/// `parse_qs(query, keep_blank_values=True)` with names lower-cased afterwards.
///
/// Like url-matcher's `{k.lower(): v for k, v in parse_qs(...).items()}`, names that differ only
/// in case are not merged: the group of the name seen last (by first occurrence) wins.
pub(crate) fn parse_query(query: &str) -> HashMap<String, Vec<String>> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match index.get(name.as_ref()) {
            Some(&i) => groups[i].1.push(value.into_owned()),
            None => {
                index.insert(name.clone().into_owned(), groups.len());
                groups.push((name.into_owned(), vec![value.into_owned()]));
            }
        }
    }
    groups
        .into_iter()
        .map(|(name, values)| (name.to_lowercase(), values))
        .collect()
}

/// The host of a netloc: userinfo and port removed, brackets of an IPv6 literal kept.
pub(crate) fn host_of(netloc: &str) -> &str {
    let host = netloc.rsplit_once('@').map_or(netloc, |(_, host)| host);
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.split_once(':').map_or(host, |(host, _)| host)
}
