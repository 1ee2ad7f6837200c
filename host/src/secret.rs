//! Secrets (the Zyte API key, the gateway key): one type that never prints and compares in
//! constant time.
//!
//! Policy: a [`Secret`]'s `Debug` and `Display` print `***`, so wrapping a value in it is enough
//! to keep it out of logs, error messages, `/status` and anything handed to a guest; only
//! [`Secret::expose`] reveals it, where it must go on the wire. Equality uses `subtle`'s
//! constant-time comparison, so a compare against a client's candidate takes the same time
//! wherever the two differ (only the length can be learnt, and keys have public lengths).

use std::fmt;

use subtle::ConstantTimeEq;

/// A string that prints as `***` and compares in constant time.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place it must be sent (an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (an empty key protects nothing).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `candidate` equals the secret, in time independent of where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.matches(&other.0)
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_and_compares_whole() {
        let secret = Secret::new("s3cr3t");
        assert_eq!(format!("{secret} {secret:?}"), "*** ***");
        assert_eq!(secret.expose(), "s3cr3t");
        assert!(secret.matches("s3cr3t"));
        for other in ["s3cr3", "s3cr3tt", "S3cr3t", ""] {
            assert!(!secret.matches(other), "{other}");
        }
        assert_eq!(secret, Secret::new("s3cr3t"));
    }
}
