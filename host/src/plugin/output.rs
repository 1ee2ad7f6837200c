//! Bounds on what a hook returns (issue 12): a value or a name over its limit
//! ([`Limits::max_output_bytes`], [`Limits::max_name_bytes`]) fails the call with
//! [`HookErrorKind::OutputTooLarge`], and a message is cut to its first 4 KiB. So a guest that
//! returns 10 MB from any hook gets a typed error, and nothing it returned is stored, sent or
//! echoed whole.

use super::{
    Address, ApiError, DownloadError, HookErrorKind, InitError, Limits, PoolSpec, Request,
    SessionControls, UrlRules, Verdict,
};

/// A size over its limit, or nothing.
type Checked = Result<(), HookErrorKind>;

/// `bytes` of `what` against the output limit.
fn value(limits: &Limits, what: &'static str, bytes: usize) -> Checked {
    bound(what, bytes, limits.max_output_bytes, "max_output_bytes")
}

/// `name` against the name limit.
fn name(limits: &Limits, what: &'static str, name: &str) -> Checked {
    bound(what, name.len(), limits.max_name_bytes, "max_name_bytes")
}

fn bound(what: &'static str, bytes: usize, limit: usize, setting: &'static str) -> Checked {
    match bytes > limit {
        true => Err(HookErrorKind::OutputTooLarge {
            what,
            bytes,
            limit,
            setting,
        }),
        false => Ok(()),
    }
}

/// The `params` JSON text.
pub(super) fn params(limits: &Limits, text: &str) -> Checked {
    value(limits, "params", text.len())
}

/// A pool spec: its id is a name.
pub(super) fn pool(limits: &Limits, spec: &PoolSpec) -> Checked {
    name(limits, "a pool id", &spec.id)
}

/// A location: each field is a name.
pub(super) fn location(limits: &Limits, address: &Address) -> Checked {
    let fields = [
        &address.address_country,
        &address.address_region,
        &address.postal_code,
        &address.street_address,
    ];
    fields
        .into_iter()
        .flatten()
        .try_for_each(|f| name(limits, "a location field", f))
}

/// URL rules: each pattern is a name, and all of them together a value.
pub(super) fn rules(limits: &Limits, rules: &UrlRules) -> Checked {
    let patterns = || rules.include.iter().chain(&rules.exclude);
    patterns().try_for_each(|p| name(limits, "a rules pattern", p))?;
    if let Some(instead_of) = &rules.instead_of {
        name(limits, "a rules instead-of", instead_of)?;
    }
    value(limits, "rules", patterns().map(String::len).sum())
}

/// A request `process-request` returned: all its text together is a value, its pool id and
/// location fields are names.
pub(super) fn request(limits: &Limits, request: &Request) -> Checked {
    let controls = &request.controls;
    if let Some(spec) = &controls.pool {
        pool(limits, spec)?;
    }
    if let Some(address) = &controls.location {
        location(limits, address)?;
    }
    value(limits, "a request", request_bytes(request))
}

fn request_bytes(r: &Request) -> usize {
    let headers: usize = r.headers.iter().map(|h| h.name.len() + h.value.len()).sum();
    let session = r.session_id.as_ref().map_or(0, String::len);
    r.url.len() + r.method.len() + headers + r.params.len() + session + controls_bytes(&r.controls)
}

fn controls_bytes(c: &SessionControls) -> usize {
    let params = c.params.as_ref().map_or(0, String::len);
    let pool = c.pool.as_ref().map_or(0, |p| p.id.len());
    let location = c.location.as_ref().map_or(0, |a| {
        let fields = [
            &a.address_country,
            &a.address_region,
            &a.postal_code,
            &a.street_address,
        ];
        fields.into_iter().flatten().map(String::len).sum()
    });
    params + pool + location
}

/// A verdict, with a `close-pool` reason cut to 4 KiB.
pub(super) fn verdict(verdict: Verdict) -> Verdict {
    match verdict {
        Verdict::ClosePool(reason) => Verdict::ClosePool(message(reason)),
        other => other,
    }
}

/// An init outcome, with its message cut to 4 KiB.
pub(super) fn init(outcome: Result<bool, InitError>) -> Result<bool, InitError> {
    outcome.map_err(|e| match e {
        InitError::ParamError(m) => InitError::ParamError(message(m)),
        InitError::CheckError(m) => InitError::CheckError(message(m)),
        InitError::Failed(m) => InitError::Failed(message(m)),
        InitError::ClosePool(m) => InitError::ClosePool(message(m)),
        InitError::Download(d) => InitError::Download(download(d)),
    })
}

/// A download error a guest passed on, with its texts cut to 4 KiB.
fn download(error: DownloadError) -> DownloadError {
    match error {
        DownloadError::Api(e) => DownloadError::Api(ApiError {
            status: e.status,
            problem_type: e.problem_type.map(message),
            body: message(e.body),
        }),
        DownloadError::Transport(m) => DownloadError::Transport(message(m)),
        DownloadError::Refused(m) => DownloadError::Refused(message(m)),
    }
}

/// `text` from a guest, cut to 4 KiB (the longest log line, [`super::host::truncate`]) with its
/// full size appended: a message goes to the log, `/status` and problem+json answers, and a
/// guest returning megabytes must not make each of them megabytes.
pub(super) fn message(mut text: String) -> String {
    let total = text.len();
    let keep = super::host::truncate(&text).len();
    if keep < total {
        text.truncate(keep);
        text.push_str(&format!("… ({total} bytes in all)"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_12_sizes_over_the_limits_are_typed_errors() {
        let limits = Limits {
            max_output_bytes: 10,
            max_name_bytes: 3,
            ..Limits::default()
        };
        assert!(params(&limits, "0123456789").is_ok());
        let Err(HookErrorKind::OutputTooLarge { bytes, limit, .. }) =
            params(&limits, "0123456789a")
        else {
            panic!("over the limit");
        };
        assert_eq!((bytes, limit), (11, 10));
        let rules_of = |include: &[&str]| UrlRules {
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: Vec::new(),
            priority: 0,
            instead_of: None,
        };
        assert!(rules(&limits, &rules_of(&["abc", "def", "ghi"])).is_ok());
        assert!(rules(&limits, &rules_of(&["abcd"])).is_err(), "a long name");
        assert!(
            rules(&limits, &rules_of(&["abc", "def", "ghi", "jk"])).is_err(),
            "too many together"
        );
    }

    #[test]
    fn issue_12_messages_are_cut_with_their_size() {
        let cut = message("x".repeat(10 << 20));
        assert!(cut.len() < 4200, "{}", cut.len());
        assert!(cut.ends_with("(10485760 bytes in all)"));
        assert_eq!(message("short".into()), "short");
    }
}
