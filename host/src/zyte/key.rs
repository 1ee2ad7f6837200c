//! The Zyte API key, kept out of logs, errors and guests.

use crate::secret::Secret;

/// The environment variable the key is read from.
pub const KEY_ENV: &str = "ZYTE_API_KEY";

/// A Zyte API key: a [`Secret`], so it never reaches a log line, an error message or anything
/// handed to a guest; only [`ApiKey::expose`] reveals it, for the `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey(Secret);

impl ApiKey {
    /// Wraps `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Self(Secret::new(key))
    }

    /// The key from `ZYTE_API_KEY`, when set and not empty.
    pub fn from_env() -> Option<Self> {
        std::env::var(KEY_ENV)
            .ok()
            .filter(|k| !k.is_empty())
            .map(Self::new)
    }

    /// The key itself, for the HTTP basic auth user name.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_masked() {
        let key = ApiKey::new("s3cr3t");
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
        assert_eq!(key.expose(), "s3cr3t");
    }
}
