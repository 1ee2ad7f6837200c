//! How many pools the in-memory store keeps, and which it drops (issue 13; the reference keeps every pool
//! forever).
//!
//! # Policy
//!
//! - **Kinds.** A pool's kind is read from its id: `client_pool_prefix` + id is a pool a request
//!   named ([`PoolKind::Client`]), `netloc[n]` a params pool, `netloc@fields` a location pool,
//!   anything else a site or config pool ([`PoolKind::Named`]). A config that names its pools
//!   like these shares their bound.
//! - **Bounds.** At most `max_pools` pools in all, and at most `max_client_pools`,
//!   `max_param_pools`, `max_location_pools` of the three client-driven kinds
//!   ([`PoolLimits`]). Pools of `[sessions.pools]` with a `size` are kept forever and not
//!   counted.
//! - **Eviction.** A pool is *evictable* when no request or background replacement uses it
//!   (its [`PoolPin`] is not held) and its last request started `pool_idle_timeout` seconds ago
//!   or more. A new pool past a bound takes the place of the least recently used evictable pool
//!   of the bound, which is dropped with its sessions (Zyte API expires them by itself);
//!   without one, the request fails with [`EngineError::TooManyPools`] naming the bound (a 429).
//!   At each new pool, at most [`SWEEP`] more evictable pools are dropped, so sessions
//!   stranded in pools no request reaches again do not stay forever.
//! - **Cost.** The recency index is a `BTreeSet` per kind: a request's touch is O(log n), and
//!   finding a victim looks at the [`SCAN`] least recently used pools at most.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::memory::Slot;
use crate::engine::EngineError;
use crate::settings::SessionSettings;
use crate::zyte::retry::secs;

/// Evictable pools dropped at each new pool, beyond the one a bound needs.
pub(super) const SWEEP: usize = 2;
/// Least recently used pools looked at to find an evictable one; pools in use are skipped,
/// so a bound is reported full when its [`SCAN`] oldest pools are all in use.
pub(super) const SCAN: usize = 32;

/// What a pool's id says about who made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// A site (netloc) pool, or a pool a config named.
    Named,
    /// A pool a request named (`client/…`).
    Client,
    /// A params pool (`netloc[n]`).
    Params,
    /// A location pool (`netloc@fields`).
    Location,
}

impl PoolKind {
    /// The kind of pool `id`, given the `client_pool_prefix` setting.
    pub fn of(id: &str, client_prefix: &str) -> Self {
        if !client_prefix.is_empty() && id.starts_with(client_prefix) {
            Self::Client
        } else if is_params_id(id) {
            Self::Params
        } else if id.contains('@') {
            Self::Location
        } else {
            Self::Named
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// `netloc[n]`: ends with a bracketed decimal index (an IPv6 host `[::1]` does not).
fn is_params_id(id: &str) -> bool {
    let Some(inner) = id.strip_suffix(']') else {
        return false;
    };
    inner.rsplit_once('[').is_some_and(|(head, n)| {
        !head.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The pool bounds of the settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolLimits {
    max_pools: usize,
    per_kind: [(usize, &'static str); 4],
    idle: Duration,
}

impl PoolLimits {
    /// The bounds `s` ask for.
    pub fn from_settings(s: &SessionSettings) -> Self {
        Self {
            max_pools: s.max_pools,
            per_kind: [
                (usize::MAX, "max_pools"),
                (s.max_client_pools, "max_client_pools"),
                (s.max_param_pools, "max_param_pools"),
                (s.max_location_pools, "max_location_pools"),
            ],
            idle: secs(s.pool_idle_timeout),
        }
    }
}

impl PoolLimits {
    /// `max_pools`.
    pub(crate) fn max_pools(&self) -> usize {
        self.max_pools
    }

    /// The bound of `kind`, and the setting that names it (`max_pools` for named pools).
    pub(crate) fn cap(&self, kind: PoolKind) -> (usize, &'static str) {
        self.per_kind[kind.index()]
    }

    /// `pool_idle_timeout`.
    pub(crate) fn idle(&self) -> Duration {
        self.idle
    }

    /// The index of `kind` in the Redis store's registry (`registry.lua`).
    pub(crate) fn kind_index(kind: PoolKind) -> usize {
        kind.index()
    }
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self::from_settings(&SessionSettings::default())
    }
}

/// Held by every request (and background replacement) using a pool: a pinned pool is never
/// evicted.
#[derive(Debug, Clone, Default)]
pub struct PoolPin(Arc<()>);

impl PoolPin {
    fn held(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }
}

/// A pool in the map: its state, and what the bounds need to know about it.
pub(super) struct Entry {
    pub(super) slot: Arc<Slot>,
    /// A `[sessions.pools]` entry with a `size`: never evicted nor counted against the bounds.
    pub(super) keep: bool,
    /// Who made it, by its id.
    pub(super) kind: PoolKind,
    /// When its last request started.
    pub(super) last_used: Instant,
}

/// The pools, and their recency per kind.
#[derive(Default)]
pub(super) struct PoolMap {
    pub(super) slots: HashMap<String, Entry>,
    recency: [BTreeSet<(Instant, String)>; 4],
}

impl PoolMap {
    /// Pools of `kind` in the recency index (pools of `[sessions.pools]` are not).
    pub(super) fn count(&self, kind: PoolKind) -> usize {
        self.recency[kind.index()].len()
    }

    fn total(&self) -> usize {
        self.recency.iter().map(BTreeSet::len).sum()
    }

    /// Pool `id`'s entry, recorded as used at `now` when `touch`: one lookup of the
    /// (client-derived, SipHashed) id for both, and one copy of it for the recency key, moved
    /// from the old position to the new (issue 17).
    pub(super) fn get_touched(&mut self, id: &str, now: Instant, touch: bool) -> Option<&Entry> {
        let entry = self.slots.get_mut(id)?;
        if touch && !entry.keep {
            let set = &mut self.recency[entry.kind.index()];
            let mut key = (entry.last_used, id.to_owned());
            set.remove(&key);
            key.0 = now;
            entry.last_used = now;
            set.insert(key);
        }
        Some(entry)
    }

    /// Adds a new pool (which is not in the map).
    pub(super) fn insert(&mut self, id: String, slot: Entry) {
        if !slot.keep {
            self.recency[slot.kind.index()].insert((slot.last_used, id.clone()));
        }
        self.slots.insert(id, slot);
    }

    /// Makes room for a new pool of `kind` at `now`: drops what a bound needs and up to
    /// [`SWEEP`] more evictable pools. Returns the dropped ids.
    ///
    /// # Errors
    /// A bound is reached and none of its pools is evictable.
    pub(super) fn make_room(
        &mut self,
        kind: PoolKind,
        limits: &PoolLimits,
        now: Instant,
    ) -> Result<Vec<String>, EngineError> {
        let mut dropped = Vec::new();
        let (cap, setting) = limits.per_kind[kind.index()];
        if self.count(kind) >= cap {
            let victim = self.victim(Some(kind), limits, now);
            dropped.push(self.evict_or(victim, setting, cap)?);
        }
        if self.total() >= limits.max_pools {
            let victim = self.victim(None, limits, now);
            dropped.push(self.evict_or(victim, "max_pools", limits.max_pools)?);
        }
        for _ in 0..SWEEP {
            match self.victim(None, limits, now) {
                Some(id) => dropped.push(self.evict(&id)),
                None => break,
            }
        }
        Ok(dropped)
    }

    fn evict_or(
        &mut self,
        victim: Option<String>,
        setting: &'static str,
        limit: usize,
    ) -> Result<String, EngineError> {
        match victim {
            Some(id) => Ok(self.evict(&id)),
            None => Err(EngineError::TooManyPools { setting, limit }),
        }
    }

    /// The least recently used evictable pool of `kind` (of any kind with `None`).
    fn victim(&self, kind: Option<PoolKind>, limits: &PoolLimits, now: Instant) -> Option<String> {
        let kinds = [
            PoolKind::Named,
            PoolKind::Client,
            PoolKind::Params,
            PoolKind::Location,
        ];
        kinds
            .into_iter()
            .filter(|k| kind.is_none_or(|want| want == *k))
            .filter_map(|k| self.oldest_evictable(k, limits, now))
            .min()
            .map(|(_, id)| id)
    }

    fn oldest_evictable(
        &self,
        kind: PoolKind,
        limits: &PoolLimits,
        now: Instant,
    ) -> Option<(Instant, String)> {
        self.recency[kind.index()]
            .iter()
            .take(SCAN)
            .take_while(|(at, _)| now.saturating_duration_since(*at) >= limits.idle)
            .find(|(_, id)| self.slots.get(id).is_some_and(|s| !s.slot.pin.held()))
            .cloned()
    }

    /// Drops pool `id` and its sessions; returns its id.
    fn evict(&mut self, id: &str) -> String {
        if let Some(slot) = self.slots.remove(id) {
            self.recency[slot.kind.index()].remove(&(slot.last_used, id.to_owned()));
            slot.slot.notify.notify_waiters();
        }
        id.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_13_kinds_are_read_from_the_id() {
        let kind = |id| PoolKind::of(id, "client/");
        assert_eq!(kind("shop.example"), PoolKind::Named);
        assert_eq!(kind("[::1]:8080"), PoolKind::Named);
        assert_eq!(kind("client/shop.example"), PoolKind::Client);
        assert_eq!(kind("shop.example[12]"), PoolKind::Params);
        assert_eq!(kind("[::1][0]"), PoolKind::Params);
        assert_eq!(kind("shop.example@US,10001"), PoolKind::Location);
        assert_eq!(PoolKind::of("client/x", ""), PoolKind::Named);
    }

    mod engine {
        use serde_json::json;

        use crate::engine::{Engine, EngineError, EngineRequest};
        use crate::plugin::PoolSpec;
        use crate::settings::SessionSettings;

        async fn engine(settings: SessionSettings) -> (zyte_emulator::RunningEmulator, Engine) {
            let scenario = zyte_emulator::EmulatorConfig::default().scenario;
            let settings = SessionSettings {
                init_failure_backoff: 0.0,
                ..settings
            };
            crate::engine::test_engine(scenario, settings).await
        }

        fn get(url: &str) -> EngineRequest {
            let body = json!({"url": url, "httpResponseBody": true});
            EngineRequest::new(body.as_object().cloned().unwrap_or_default())
        }

        fn named(url: &str, id: &str, size: Option<u32>, delay: Option<f64>) -> EngineRequest {
            let mut request = get(url);
            request.controls.pool = Some(PoolSpec {
                id: id.into(),
                size,
                delay,
                randomize_delay: None,
            });
            request
        }

        fn pool(engine: &Engine, id: &str) -> Option<crate::engine::PoolSnapshot> {
            engine.pool(id)
        }

        #[tokio::test]
        async fn issue_13_a_request_cannot_set_the_options_of_a_site_pool() {
            let (_emulator, engine) = engine(SessionSettings::default()).await;
            let url = "https://example.com/";
            let hijack = named(url, "example.com", Some(1), Some(86400.0));
            // Its own pool waits out its own delay: past the deadline, it fails at once.
            match engine.execute(hijack).await {
                Err(EngineError::Timeout { pool, .. }) => {
                    assert_eq!(pool.as_deref(), Some("client/example.com"));
                }
                other => panic!("not its own pool: {other:?}"),
            }
            let served = engine.execute(get(url)).await.expect("ordinary request");
            assert_eq!(served.served_by.expect("session").pool, "example.com");
            let site = pool(&engine, "example.com").expect("site pool");
            assert_eq!((site.size, site.delay), (8, 0.0));
            // An ordinary client is not delayed by the hijacker's 86,400 s.
            let start = std::time::Instant::now();
            for _ in 0..3 {
                engine.execute(get(url)).await.expect("ordinary request");
            }
            assert!(start.elapsed() < std::time::Duration::from_secs(5));

            let huge = named(url, "example.com", Some(u32::MAX), None);
            match engine.execute(huge).await {
                Err(EngineError::BadInput(m)) => assert!(m.contains("max_pool_size"), "{m}"),
                other => panic!("not refused: {other:?}"),
            }
        }

        #[tokio::test]
        async fn issue_13_bad_params_in_a_named_pool_do_not_close_the_site_pool() {
            let (_emulator, engine) = engine(SessionSettings::default()).await;
            let url = "https://example.com/";
            for _ in 0..8 {
                let mut bad = named(url, "example.com", None, None);
                bad.controls.params = Some(r#"{"url": 5}"#.into());
                assert!(engine.execute(bad).await.is_err());
            }
            let closed = pool(&engine, "client/example.com").expect("named pool");
            assert_eq!(closed.closed.as_deref(), Some("bad_session_inits"));
            let served = engine
                .execute(get(url))
                .await
                .expect("the site pool is open");
            assert_eq!(served.served_by.expect("session").pool, "example.com");
        }

        #[tokio::test]
        async fn issue_13_past_a_bound_without_idle_pools_a_request_is_refused() {
            let settings = SessionSettings {
                max_client_pools: 3,
                max_param_pools: 2,
                pool_idle_timeout: 3600.0,
                ..SessionSettings::default()
            };
            let (_emulator, engine) = engine(settings).await;
            let url = "https://example.com/";
            for n in 0..3 {
                let request = named(url, &format!("p{n}"), None, None);
                engine.execute(request).await.expect("within the bound");
            }
            let refused = engine.execute(named(url, "p3", None, None)).await;
            match refused {
                Err(EngineError::TooManyPools { setting, limit }) => {
                    assert_eq!((setting, limit), ("max_client_pools", 3));
                }
                other => panic!("not refused: {other:?}"),
            }
            // A pool that exists still serves.
            engine
                .execute(named(url, "p0", None, None))
                .await
                .expect("known pool");
            for n in 0..3 {
                let mut request = get(url);
                request.controls.params =
                    Some(format!(r#"{{"httpResponseBody": true, "echoData": {n}}}"#));
                let result = engine.execute(request).await;
                if n < 2 {
                    result.expect("within the bound");
                } else {
                    let e = result.expect_err("past the bound");
                    assert!(e.to_string().contains("max_param_pools"), "{e}");
                }
            }
        }

        #[tokio::test]
        async fn issue_13_idle_pools_are_evicted_with_their_sessions() {
            let settings = SessionSettings {
                max_client_pools: 3,
                max_pools: 5,
                pool_idle_timeout: 0.0,
                ..SessionSettings::default()
            };
            let (_emulator, engine) = engine(settings).await;
            for n in 0..20 {
                let request = named(
                    &format!("https://s{n}.example.com/"),
                    &format!("p{n}"),
                    None,
                    None,
                );
                engine
                    .execute(request)
                    .await
                    .expect("an idle pool makes room");
                engine
                    .execute(get(&format!("https://s{n}.example.com/")))
                    .await
                    .expect("site");
                assert!(engine.pools().len() <= 5, "{}", engine.pools().len());
            }
            let stats = engine.stats();
            assert!(stats.per_pool.len() <= 6, "{:?}", stats.per_pool.keys());
            assert_eq!(
                stats.get("scrapy-zyte-api/sessions/use/check-passed")
                    + stats.get("scrapy-zyte-api/sessions/init/check-passed"),
                80,
                "{stats:?}"
            );
        }
    }
}
