//! Metric handles kept per thread (issue 17): a `counter!` or `histogram!` builds its key (a
//! vector of labels), hashes it and looks it up in the recorder's registry under a lock on
//! every call, which cost about 1.5k instructions per metric and request.
//!
//! Policy: a handle is cached only while the recorder in force on the calling thread is the
//! process's global one (the one [`super::install`] installed, remembered by its address); a
//! thread running under a local recorder (tests: `metrics::with_local_recorder`) goes through
//! the macros every time, so it sees every call. Keys are label values from fixed sets
//! (`&'static str`) or pool labels, which [`crate::engine::stats::Stats::label`] bounds; each
//! thread therefore keeps a bounded number of handles, and the registry keeps no series that
//! the macros would not have created.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::LocalKey;

use metrics::{Counter, Histogram, Recorder};

/// The address of the global recorder, once [`remember_global`] ran; 0 before.
static GLOBAL: AtomicUsize = AtomicUsize::new(0);

fn address(recorder: &dyn Recorder) -> usize {
    std::ptr::from_ref(recorder).cast::<()>() as usize
}

/// Remembers the global recorder, just installed, by its address (read on a fresh thread,
/// where no local recorder can be in force).
pub(super) fn remember_global() {
    let found = std::thread::spawn(|| metrics::with_recorder(address)).join();
    GLOBAL.store(found.unwrap_or(0), Ordering::Relaxed);
}

/// Whether the recorder in force on this thread is the remembered global one.
fn global_in_force() -> bool {
    let global = GLOBAL.load(Ordering::Relaxed);
    global != 0 && metrics::with_recorder(address) == global
}

/// A `&'static str` label value, known by where it lives.
type Word = (usize, usize);

fn word(text: &'static str) -> Word {
    (text.as_ptr() as usize, text.len())
}

/// A metric name and up to two fixed label values.
type StaticKey = (Word, Word, Word);

/// The key of metric `name` with the fixed label values `a` and `b` ("" for none).
pub(super) fn key(name: &'static str, a: &'static str, b: &'static str) -> StaticKey {
    (word(name), word(a), word(b))
}

/// Handles by key, scanned in order: a few dozen keys at most (fixed label sets), where a
/// scan compares a few words and a `HashMap` would hash six (SipHash cost more than the scan).
type Cache<T> = RefCell<Vec<(StaticKey, T)>>;

/// The entry of `key` in `cache`, made by `make` when missing.
fn entry<T>(cache: &mut Vec<(StaticKey, T)>, key: StaticKey, make: impl FnOnce() -> T) -> &mut T {
    let index = match cache.iter().position(|(k, _)| *k == key) {
        Some(index) => index,
        None => {
            cache.push((key, make()));
            cache.len() - 1
        }
    };
    &mut cache[index].1
}

thread_local! {
    static COUNTERS: Cache<Counter> = const { RefCell::new(Vec::new()) };
    static HISTOGRAMS: Cache<Histogram> = const { RefCell::new(Vec::new()) };
    /// Per-pool counters: by metric and event, then by pool label.
    static POOL_COUNTERS: Cache<HashMap<String, Counter>> = const { RefCell::new(Vec::new()) };
    /// Per-config histograms: by metric and hook, then by config name.
    static CONFIG_HISTOGRAMS: Cache<HashMap<String, Histogram>> =
        const { RefCell::new(Vec::new()) };
}

/// Runs `use_it` on the handle of `key` in this thread's `cache`, made by `make` (the macro)
/// when the thread has none yet, or every time under a local recorder.
fn with_handle<T: 'static>(
    cache: &'static LocalKey<Cache<T>>,
    key: StaticKey,
    make: impl FnOnce() -> T,
    use_it: impl FnOnce(&T),
) {
    if !global_in_force() {
        return use_it(&make());
    }
    cache.with_borrow_mut(|cache| use_it(entry(cache, key, make)));
}

/// [`with_handle`] for a metric that also has a free-form label (a pool, a config name),
/// keyed by `key` and then by `label`.
fn with_labelled_handle<T: 'static>(
    cache: &'static LocalKey<Cache<HashMap<String, T>>>,
    key: StaticKey,
    label: &str,
    make: impl FnOnce() -> T,
    use_it: impl FnOnce(&T),
) {
    if !global_in_force() {
        return use_it(&make());
    }
    cache.with_borrow_mut(|cache| {
        let by_label = entry(cache, key, HashMap::new);
        match by_label.get(label) {
            Some(handle) => use_it(handle),
            None => use_it(by_label.entry(label.to_owned()).or_insert_with(make)),
        }
    });
}

/// Runs `use_it` on the counter of `key`, made by `make` (the macro) when this thread has no
/// handle for it yet, or every time under a local recorder.
pub(super) fn with_counter(
    key: StaticKey,
    make: impl FnOnce() -> Counter,
    use_it: impl FnOnce(&Counter),
) {
    with_handle(&COUNTERS, key, make, use_it);
}

/// [`with_counter`] for a histogram.
pub(super) fn with_histogram(
    key: StaticKey,
    make: impl FnOnce() -> Histogram,
    use_it: impl FnOnce(&Histogram),
) {
    with_handle(&HISTOGRAMS, key, make, use_it);
}

/// [`with_counter`] for a counter that also has a pool label.
pub(super) fn with_pool_counter(
    key: StaticKey,
    pool: &str,
    make: impl FnOnce() -> Counter,
    use_it: impl FnOnce(&Counter),
) {
    with_labelled_handle(&POOL_COUNTERS, key, pool, make, use_it);
}

/// [`with_histogram`] for a histogram that also has a config label. Config names are bounded
/// by the configs loaded in the process's life (a config replaced keeps its name).
pub(super) fn with_config_histogram(
    key: StaticKey,
    config: &str,
    make: impl FnOnce() -> Histogram,
    use_it: impl FnOnce(&Histogram),
) {
    with_labelled_handle(&CONFIG_HISTOGRAMS, key, config, make, use_it);
}
