//! Per-session key/value storage that guests reach through the WIT `session-data` interface.
//!
//! The host owns it, so data survives instance recycling and config reloads; it is dropped with
//! the session. Limits protect the host from a guest that stores without bound:
//! [`MAX_KEYS`] keys, [`MAX_KEY_BYTES`] bytes per key, [`MAX_VALUE_BYTES`] bytes per value. A
//! write past a limit is refused with a message, never truncated.

use std::sync::Arc;

use parking_lot::Mutex;

/// Keys per session: enough for tokens and flags, small enough to list in `/status`.
pub const MAX_KEYS: usize = 64;
/// Bytes per key.
pub const MAX_KEY_BYTES: usize = 256;
/// Bytes per value: a token or a small JSON document, not a page.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// One session's data. Cloning shares the storage.
#[derive(Debug, Clone, Default)]
pub struct SessionData {
    entries: Arc<Mutex<Vec<(String, String)>>>,
}

impl SessionData {
    /// Empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        self.entries
            .lock()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// Stores `value` under `key`, within the limits.
    pub fn set(&self, key: &str, value: &str) -> Result<(), String> {
        if key.len() > MAX_KEY_BYTES {
            return Err(format!(
                "session-data key is {} bytes, the limit is {MAX_KEY_BYTES}",
                key.len()
            ));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "session-data value is {} bytes, the limit is {MAX_VALUE_BYTES}",
                value.len()
            ));
        }
        let mut entries = self.entries.lock();
        if let Some(entry) = entries.iter_mut().find(|(k, _)| k == key) {
            entry.1 = value.to_owned();
        } else if entries.len() >= MAX_KEYS {
            return Err(format!("session-data holds {MAX_KEYS} keys, the limit"));
        } else {
            entries.push((key.to_owned(), value.to_owned()));
        }
        Ok(())
    }

    /// Removes `key`; no-op when absent.
    pub fn remove(&self, key: &str) {
        self.entries.lock().retain(|(k, _)| k != key);
    }

    /// The keys, in insertion order.
    pub fn keys(&self) -> Vec<String> {
        self.entries.lock().iter().map(|(k, _)| k.clone()).collect()
    }

    /// A copy of every entry, in insertion order.
    pub fn snapshot(&self) -> Vec<(String, String)> {
        self.entries.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_replace_remove() {
        let data = SessionData::new();
        data.set("a", "1").unwrap();
        data.set("b", "2").unwrap();
        data.set("a", "3").unwrap();
        assert_eq!(data.get("a").as_deref(), Some("3"));
        assert_eq!(data.keys(), ["a", "b"]);
        data.remove("a");
        assert_eq!(data.get("a"), None);
    }

    #[test]
    fn limits_are_enforced() {
        let data = SessionData::new();
        assert!(data.set(&"k".repeat(MAX_KEY_BYTES + 1), "v").is_err());
        assert!(data.set("k", &"v".repeat(MAX_VALUE_BYTES + 1)).is_err());
        for i in 0..MAX_KEYS {
            data.set(&i.to_string(), "v").unwrap();
        }
        assert!(data.set("one-more", "v").unwrap_err().contains("limit"));
        data.set("0", "replacing is fine").unwrap();
    }
}
