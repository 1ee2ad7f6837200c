//! The request id (issue 19): every request gets one, every log line written while it is
//! served carries it (the `request_id` field of its `request` span, or of its `extract` span
//! for a `POST /v1/extract`, opened at its first log line: [`super::request_span`]), and the
//! client gets it back in `x-request-id`, so one grep finds a request's whole story.
//!
//! Policy: a client-sent `x-request-id` is kept when it is 1 to [`MAX_LEN`] printable ASCII
//! characters (`!` to `~`: no spaces, no control characters, so it cannot forge or split a log
//! line nor a header); anything else, and its absence, gets a generated UUID v4. Zyte API's own
//! `request-id` (on the upstream's error answers) is a different header and passes through
//! unchanged.

use std::cell::RefCell;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};
use tracing::Span;

/// The header carrying the id, both ways.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-sent id kept: 64 characters, room for a UUID or a trace id with a prefix,
/// and short enough to keep every log line of the request short.
pub const MAX_LEN: usize = 64;

/// The client's id when acceptable (see the module policy).
pub fn accept(sent: Option<&HeaderValue>) -> Option<&str> {
    let id = sent?.to_str().ok()?;
    let printable = id.bytes().all(|b| b.is_ascii_graphic());
    (!id.is_empty() && id.len() <= MAX_LEN && printable).then_some(id)
}

/// The id of `request`: the client's when acceptable, else a fresh UUID v4 (see the module
/// policy), as the header value [`set`] answers with.
///
/// Issue 17 (fifth round): the client's id is kept as its header value (a clone shares
/// hyper's bytes), and a generated one is hex-encoded into a stack buffer, not formatted
/// through `core::fmt` into a `String` that was then copied again into the answer's header.
///
/// Issue 17 (eighth round): the header is found by a pass over the request's headers, the
/// first of its name as `HeaderMap::get` gives it: `get` hashed the name's 12 bytes, which
/// cost more than passing over a client's few headers.
pub(super) fn pick(request: &Request) -> HeaderValue {
    let sent = request
        .headers()
        .iter()
        .find_map(|(name, value)| (*name == X_REQUEST_ID).then_some(value));
    if let Some(sent) = sent.filter(|sent| accept(Some(sent)).is_some()) {
        return sent.clone();
    }
    generate()
}

thread_local! {
    /// This thread's generator of ids (see [`generate`]), seeded once from the thread's
    /// CSPRNG, itself seeded by the kernel.
    static IDS: RefCell<SmallRng> = RefCell::new(SmallRng::from_rng(&mut rand::rng()));
}

/// A fresh UUID v4, in its simple form (32 lowercase hex digits), as a header value.
///
/// Policy (issue 17, eighth round): its 122 random bits come from a per-thread `SmallRng`
/// (Xoshiro256++, a 2^256 - 1 period) seeded from the thread's CSPRNG, not from the CSPRNG
/// itself (ChaCha12, whose block refills cost about 250 of a request's 49,000 instructions).
/// Ids stay as unique as random UUIDs: each thread's generator starts from its own random
/// 256-bit state, and its output passes the statistical tests random bits pass (the chance
/// of a repeat is the birthday bound of 122 random bits). They are not unguessable,
/// and need not be: an id names a request in the logs, is sent back to the client that made
/// the request, and can be chosen by the client anyway (the module policy).
fn generate() -> HeaderValue {
    // One `u128` (two 64-bit draws), not `[u8; 16]`, which `rand` draws a byte at a time.
    let random = IDS
        .with_borrow_mut(|ids| ids.random::<u128>())
        .to_le_bytes();
    let uuid = uuid::Builder::from_random_bytes(random).into_uuid();
    let mut hex = [0; 32];
    hex::encode_to_slice(uuid.as_bytes(), &mut hex).expect("16 bytes fill 32 digits");
    HeaderValue::from_bytes(&hex).expect("hex digits are a valid header value")
}

/// The id in `value`, from [`pick`] (printable ASCII, so always text).
pub(super) fn text(value: &HeaderValue) -> &str {
    value.to_str().unwrap_or_default()
}

/// Which span a request is served in (see [`super::serve::guard`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RequestSpan {
    /// [`span`], opened with the request (the router's routes).
    Request,
    /// [`extract_span`]'s, opened at the request's first log line
    /// ([`super::request_span`]; a `POST /v1/extract` served directly), or with the request
    /// under a subscriber that does not open it ([`super::request_span::opens_request_spans`]).
    Extract,
}

/// The `request` span that every log line written while serving `request` carries.
pub(super) fn span(id: &str, request: &Request) -> Span {
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path()
    )
}

/// The `extract` span of a `POST /v1/extract` served directly ([`super::front`]): the same
/// `request_id`, with the route in the span's name rather than in two more fields (issue 17:
/// the log formatter formats a span's fields when the span opens, and each field cost about
/// 1,200 instructions of a request's 70,000). Opened with the request only under a subscriber
/// other than [`super::request_span::RequestSpans`], which opens its twin lazily.
pub(super) fn extract_span(id: &str) -> Span {
    tracing::info_span!("extract", request_id = %id)
}

/// Sets `x-request-id` on the answer.
pub(super) fn set(response: &mut Response, id: HeaderValue) {
    response.headers_mut().insert(X_REQUEST_ID, id);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &[u8]) -> HeaderValue {
        HeaderValue::from_bytes(text).expect("a header value")
    }

    #[test]
    fn issue_19_only_short_printable_ids_are_kept() {
        let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        for good in [uuid, "a", "trace:1/2=3", &"x".repeat(MAX_LEN)] {
            assert_eq!(accept(Some(&header(good.as_bytes()))), Some(good));
        }
        let long = "x".repeat(MAX_LEN + 1);
        for bad in [
            &b""[..],
            b"has space",
            b"tab\there",
            b"\xff\xfe",
            long.as_bytes(),
        ] {
            assert_eq!(accept(Some(&header(bad))), None, "{bad:?}");
        }
        assert_eq!(accept(None), None);
    }

    /// Issue 17 (eighth round, the header found by a pass over the headers): the first
    /// `x-request-id` decides, as with `HeaderMap::get`, wherever it comes among the others;
    /// an unacceptable first one gets a generated id even when a later one would do.
    #[test]
    fn issue_17_the_first_x_request_id_is_picked() {
        let request = |pairs: &[(&'static str, &'static str)]| {
            let mut builder = Request::builder().uri("/v1/extract");
            for (name, value) in pairs {
                builder = builder.header(*name, *value);
            }
            pick(&builder.body(axum::body::Body::empty()).expect("a request"))
        };
        let kept = request(&[
            ("host", "localhost"),
            ("accept", "*/*"),
            ("x-request-id", "mine"),
        ]);
        assert_eq!(text(&kept), "mine");
        let first = request(&[
            ("x-request-id", "first"),
            ("host", "localhost"),
            ("x-request-id", "second"),
        ]);
        assert_eq!(text(&first), "first");
        let generated = request(&[("x-request-id", "has space"), ("x-request-id", "fine")]);
        assert_eq!(text(&generated).len(), 32, "{generated:?}");
        assert_eq!(request(&[("host", "localhost")]).len(), 32);
    }

    /// Issue 17 (eighth round, a generator per thread): a generated id is a UUID v4 in its
    /// simple form, and ids are unique across requests and threads. 8 threads x 20,000 ids:
    /// threads seeded alike (a constant seed, or one taken before the threads start and
    /// shared) would give the same ids, and a repeat within a thread fails the same way.
    #[test]
    fn issue_17_generated_ids_are_uuid_v4_and_unique_across_threads() {
        let threads: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..20_000).map(|_| generate()).collect::<Vec<_>>()))
            .collect();
        let mut seen = std::collections::HashSet::new();
        for thread in threads {
            for id in thread.join().expect("no panic") {
                let text = text(&id);
                assert_eq!(text.len(), 32, "{text}");
                assert!(
                    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                    "{text}"
                );
                let uuid = uuid::Uuid::parse_str(text).expect("a UUID");
                assert_eq!(uuid.get_version(), Some(uuid::Version::Random), "{text}");
                assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{text}");
                assert!(seen.insert(text.to_owned()), "{text} twice");
            }
        }
    }
}
