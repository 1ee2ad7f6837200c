//! Per-session key/value storage kept by the host: how `check` hands a token to
//! `process_request`.
//!
//! Policy (from the WIT `session-data` interface): the data belongs to the session the hook runs
//! for (the session being created in `init_session`, the request's session in `check` and
//! `process_request`); other hooks have no session, so [`get`] returns `None` and [`set`] fails.
//! Data outlives instance recycling and config reloads, and is dropped when the session is
//! retired. Limits per session: 64 keys, 256 bytes per key, 64 KiB per value; [`set`] fails
//! rather than exceed them. Never keep such state in statics: instances are recycled.
//!
//! ```no_run
//! use session_host_sdk::session_data;
//! session_data::set("csrf", "abc")?;
//! session_data::set_json("visits", &3u32)?;
//! assert_eq!(session_data::get("csrf").as_deref(), Some("abc"));
//! assert_eq!(session_data::get_json::<u32>("visits")?, Some(3));
//! # Ok::<(), String>(())
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::session_host::config::session_data as host;

/// The value stored under `key` for the current session.
pub fn get(key: &str) -> Option<String> {
    host::get(key)
}

/// Stores `value` under `key` for the current session.
pub fn set(key: &str, value: &str) -> Result<(), String> {
    host::set(key, value)
}

/// Removes `key`; a no-op when absent.
pub fn remove(key: &str) {
    host::remove(key)
}

/// The keys stored for the current session, in insertion order.
pub fn keys() -> Vec<String> {
    host::keys()
}

/// The value under `key`, parsed from JSON. A stored value that does not parse as `T` is an
/// error naming the key.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, String> {
    get(key).map(|text| from_json(key, &text)).transpose()
}

/// Stores `value` under `key` as JSON.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), String> {
    set(key, &to_json(key, value)?)
}

fn from_json<T: DeserializeOwned>(key: &str, text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|error| format!("session data {key:?} is not the expected JSON: {error}"))
}

fn to_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|error| format!("session data {key:?} cannot be serialised: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_codec_names_the_key() {
        assert_eq!(to_json("k", &vec![1, 2]), Ok("[1,2]".to_owned()));
        assert_eq!(from_json::<Vec<u8>>("k", "[1,2]"), Ok(vec![1, 2]));
        let error = from_json::<u8>("visits", "\"x\"").unwrap_err();
        assert!(error.starts_with("session data \"visits\""), "{error}");
    }
}
