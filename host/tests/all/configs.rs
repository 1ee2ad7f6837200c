//! The configs folder (issue #5): loading, sidecars, the compile cache, and live reload.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use session_host::configs::{CompileCache, Compiled, Loader, Touched, WatchOptions, Watcher};
use session_host::engine::ConfigSet;
use session_host::plugin::Limits;

use crate::engine::harness::{Harness, get, settings};
use crate::support;

/// An example config's prebuilt bytes.
fn example(name: &str) -> Vec<u8> {
    std::fs::read(
        support::repo()
            .join("example-configs/dist")
            .join(format!("{name}.wasm")),
    )
    .expect("prebuilt example config")
}

/// `bytes` with a custom section appended: another version (another hash) of the same config.
fn variant(bytes: &[u8], n: u8) -> Vec<u8> {
    let name = b"session-host-test";
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.push((1 + name.len() + 1) as u8); // size (LEB128, < 128)
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.push(n);
    out
}

/// A configs folder and a compile cache, both temporary.
struct Folder {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Folder {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            cache: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Writes `file` atomically, as editors and `cp` + `mv` do: a temporary file renamed over.
    fn put(&self, file: &str, bytes: impl AsRef<[u8]>) {
        let tmp = self.path(&format!(".{file}.tmp"));
        std::fs::write(&tmp, bytes).expect("write");
        std::fs::rename(&tmp, self.path(file)).expect("rename");
    }

    fn loader(&self) -> Loader {
        Loader::new(
            self.dir.path(),
            support::runtime().clone(),
            Some(CompileCache::new(self.cache.path())),
        )
    }
}

async fn reload(loader: &mut Loader) -> Option<(ConfigSet, session_host::configs::ReloadReport)> {
    loader.reload().await.expect("the folder is readable")
}

fn served(set: &ConfigSet, url: &str) -> String {
    set.select(url).name().to_owned()
}

fn version(set: &ConfigSet, name: &str) -> String {
    set.get(name).expect("config loaded").version.clone()
}

#[tokio::test]
async fn configs_are_selected_by_their_rules_and_cached() {
    let folder = Folder::new();
    folder.put("csrf-token.wasm", example("csrf-token"));
    folder.put("location.wasm", example("location"));
    let mut loader = folder.loader();
    let (set, report) = reload(&mut loader).await.expect("a first set");
    assert_eq!(served(&set, "https://csrf.example/a"), "csrf-token");
    assert_eq!(
        served(&set, "https://postal-code-10001.example/"),
        "location"
    );
    assert_eq!(served(&set, "https://other.org/"), "default");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.loaded.iter().all(|(_, c)| *c == Compiled::Miss));
    assert!(reload(&mut loader).await.is_none(), "nothing changed");

    // A restart: everything comes from the cache.
    let (_, report) = reload(&mut folder.loader()).await.expect("a set");
    assert_eq!(report.loaded.len(), 2);
    assert!(report.loaded.iter().all(|(_, c)| *c == Compiled::Hit));
}

#[tokio::test]
async fn the_same_content_is_not_loaded_again() {
    let folder = Folder::new();
    folder.put("csrf-token.wasm", example("csrf-token"));
    let mut loader = folder.loader();
    reload(&mut loader).await.expect("a first set");
    folder.put("csrf-token.wasm", example("csrf-token")); // new inode and mtime, same bytes
    assert!(reload(&mut loader).await.is_none());
}

#[tokio::test]
async fn a_broken_file_keeps_the_last_good_version_serving() {
    let folder = Folder::new();
    let good = example("csrf-token");
    folder.put("csrf-token.wasm", &good);
    let mut loader = folder.loader();
    let (set, _) = reload(&mut loader).await.expect("a first set");
    let v1 = version(&set, "csrf-token");

    for broken in [b"not wasm".to_vec(), good[..good.len() / 2].to_vec()] {
        folder.put("csrf-token.wasm", &broken);
        let (set, report) = reload(&mut loader).await.expect("a change");
        assert_eq!(
            version(&set, "csrf-token"),
            v1,
            "the last good version serves"
        );
        assert_eq!(served(&set, "https://csrf.example/"), "csrf-token");
        let [problem] = &report.problems[..] else {
            panic!("one problem expected: {:?}", report.problems)
        };
        assert_eq!(problem.config, "csrf-token");
        assert_eq!(problem.serving.as_deref(), Some(v1.as_str()));
        assert_eq!(set.problems(), report.problems);
    }

    folder.put("csrf-token.wasm", variant(&good, 1));
    let (set, report) = reload(&mut loader).await.expect("a change");
    assert_ne!(version(&set, "csrf-token"), v1);
    assert!(report.problems.is_empty());
}

#[tokio::test]
async fn a_broken_new_config_serves_nothing_and_is_reported() {
    let folder = Folder::new();
    folder.put("broken.wasm", b"\0asm\x0d\0\x01\0garbage");
    let (set, report) = reload(&mut folder.loader()).await.expect("a set");
    assert!(set.entries().is_empty());
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].serving, None);
    assert!(report.problems[0].file.ends_with("broken.wasm"));
}

#[tokio::test]
async fn sidecars_override_rules_without_recompiling() {
    let folder = Folder::new();
    folder.put("csrf-token.wasm", example("csrf-token"));
    let mut loader = folder.loader();
    let (set, _) = reload(&mut loader).await.expect("a first set");
    let v1 = version(&set, "csrf-token");

    folder.put(
        "csrf-token.toml",
        "[rules]\ninclude = [\"other.org\"]\npriority = 700\n",
    );
    let (set, report) = reload(&mut loader).await.expect("a change");
    assert_eq!(report.loaded, [("csrf-token".to_owned(), Compiled::Hit)]);
    assert_eq!(served(&set, "https://other.org/x"), "csrf-token");
    assert_eq!(served(&set, "https://csrf.example/"), "default");
    let v2 = version(&set, "csrf-token");
    assert!(v2.starts_with(&v1) && v2.contains('+'), "{v1} then {v2}");

    folder.put("csrf-token.toml", "[rules]\nincludes = [\"x.org\"]\n");
    let (set, report) = reload(&mut loader).await.expect("a change");
    assert_eq!(
        version(&set, "csrf-token"),
        v2,
        "the last good version serves"
    );
    // Issue 13: the error names the place and the kind of mistake, never the file's text.
    let error = &report.problems[0].error;
    assert!(
        error.contains("line 2") && error.contains("unknown field") && !error.contains("includes"),
        "{:?}",
        report.problems
    );

    folder.put("orphan.toml", "");
    let (_, report) = reload(&mut loader).await.expect("a change");
    assert!(report.problems.iter().any(|p| p.config == "orphan"));
}

#[tokio::test]
async fn an_instead_of_cycle_rejects_the_new_version_until_it_is_fixed() {
    let folder = Folder::new();
    folder.put("csrf-token.wasm", example("csrf-token"));
    folder.put("location.wasm", example("location"));
    folder.put(
        "csrf-token.toml",
        "[rules]\ninstead_of = \"location\"\ninclude = [\"csrf.example\"]\n",
    );
    let mut loader = folder.loader();
    let (set, report) = reload(&mut loader).await.expect("a first set");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let location_v1 = version(&set, "location");

    folder.put("location.toml", "[rules]\ninstead_of = \"csrf-token\"\n");
    let (set, report) = reload(&mut loader).await.expect("a change");
    assert_eq!(version(&set, "location"), location_v1);
    let problem = report
        .problems
        .iter()
        .find(|p| p.config == "location")
        .expect("reported");
    assert!(problem.error.contains("cycle"), "{}", problem.error);

    // Fixing the other side lets the rejected version in, although its files did not change.
    folder.put("csrf-token.toml", "[rules]\ninclude = [\"csrf.example\"]\n");
    let (set, report) = reload(&mut loader).await.expect("a change");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_ne!(version(&set, "location"), location_v1);
}

#[tokio::test]
async fn deleted_configs_are_dropped() {
    let folder = Folder::new();
    folder.put("csrf-token.wasm", example("csrf-token"));
    let mut loader = folder.loader();
    reload(&mut loader).await.expect("a first set");
    std::fs::remove_file(folder.path("csrf-token.wasm")).expect("remove");
    let (set, report) = reload(&mut loader).await.expect("a change");
    assert_eq!(report.removed, ["csrf-token"]);
    assert_eq!(served(&set, "https://csrf.example/"), "default");
}

#[tokio::test]
async fn a_kubernetes_configmap_swap_is_a_new_version() {
    let folder = Folder::new();
    let link = |target: &str, name: &str| {
        std::os::unix::fs::symlink(target, folder.path(name)).expect("symlink")
    };
    std::fs::create_dir(folder.path("..2026_01")).expect("mkdir");
    std::fs::write(
        folder.path("..2026_01/csrf-token.wasm"),
        example("csrf-token"),
    )
    .expect("write");
    link("..2026_01", "..data");
    link("..data/csrf-token.wasm", "csrf-token.wasm");
    let mut loader = folder.loader();
    let (set, _) = reload(&mut loader).await.expect("a first set");
    let v1 = version(&set, "csrf-token");

    std::fs::create_dir(folder.path("..2026_02")).expect("mkdir");
    let v2_bytes = variant(&example("csrf-token"), 2);
    std::fs::write(folder.path("..2026_02/csrf-token.wasm"), v2_bytes).expect("write");
    link("..2026_02", "..data_tmp");
    std::fs::rename(folder.path("..data_tmp"), folder.path("..data")).expect("swap");
    std::fs::remove_dir_all(folder.path("..2026_01")).expect("cleanup");
    let (set, _) = reload(&mut loader).await.expect("a change");
    assert_ne!(version(&set, "csrf-token"), v1);
}

#[tokio::test]
async fn a_corrupt_cache_artifact_is_compiled_again() {
    let folder = Folder::new();
    folder.put("csrf-token.wasm", example("csrf-token"));
    reload(&mut folder.loader()).await.expect("a set");
    let artifacts: Vec<_> = std::fs::read_dir(folder.cache.path())
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    std::fs::write(&artifacts[0], b"corrupt").expect("corrupt");
    let (set, report) = reload(&mut folder.loader()).await.expect("a set");
    assert_eq!(report.loaded, [("csrf-token".to_owned(), Compiled::Miss)]);
    assert!(set.get("csrf-token").is_some());
    assert!(std::fs::metadata(&artifacts[0]).expect("rewritten").len() > 1000);
}

/// Waits until `watcher` has installed more than `seen` sets.
async fn next_reload(watcher: &Watcher, seen: u64) -> u64 {
    let mut reloads = watcher.reloads();
    let wait = reloads.wait_for(|n| *n > seen);
    *tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("a reload within 30 s")
        .expect("the watcher runs")
}

#[tokio::test]
async fn the_watcher_applies_renames_into_the_folder() {
    let harness = Harness::new(settings()).await;
    let folder = Folder::new();
    let options = WatchOptions {
        rescan: Duration::from_secs(3600),
        ..WatchOptions::default()
    };
    let (watcher, _) = Watcher::start(folder.loader(), harness.engine.clone(), options)
        .await
        .expect("watching");
    assert_eq!(
        served(&harness.engine.configs(), "https://csrf.example/"),
        "default"
    );

    let outside = tempfile::tempdir().expect("tempdir");
    let staged = outside.path().join("csrf-token.wasm");
    std::fs::write(&staged, example("csrf-token")).expect("write");
    std::fs::rename(&staged, folder.path("csrf-token.wasm")).expect("rename in");
    let n = next_reload(&watcher, 0).await;
    assert_eq!(
        served(&harness.engine.configs(), "https://csrf.example/"),
        "csrf-token"
    );

    // An editor's atomic save of a new version.
    folder.put("csrf-token.wasm", variant(&example("csrf-token"), 3));
    let v1 = version(&harness.engine.configs(), "csrf-token");
    next_reload(&watcher, n).await;
    assert_ne!(version(&harness.engine.configs(), "csrf-token"), v1);
}

#[tokio::test]
async fn the_periodic_rescan_applies_changes_without_events() {
    let harness = Harness::new(settings()).await;
    let folder = Folder::new();
    // Events would be delivered only after an hour: only the rescan can see the change.
    let options = WatchOptions {
        debounce: Duration::from_secs(3600),
        rescan: Duration::from_millis(100),
    };
    let (watcher, _) = Watcher::start(folder.loader(), harness.engine.clone(), options)
        .await
        .expect("watching");
    folder.put("csrf-token.wasm", example("csrf-token"));
    next_reload(&watcher, 0).await;
    assert_eq!(
        served(&harness.engine.configs(), "https://csrf.example/"),
        "csrf-token"
    );
}

/// Regression test for issue #5: replacing a config under constant load fails no request, and
/// requests in flight finish on the version they started with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_5_replacing_a_config_under_load_fails_no_request() {
    let harness = Arc::new(Harness::new(settings()).await);
    let folder = Folder::new();
    let good = example("csrf-token");
    folder.put("csrf-token.wasm", &good);
    let options = WatchOptions {
        debounce: Duration::from_millis(20),
        ..WatchOptions::default()
    };
    // This test is about swaps, not CPU budgets: on a machine starved by the rest of the suite
    // a fresh instance's `pool` call can exceed the default 200 ms of wall-clock guest time,
    // which closes the pool (reference behaviour for a failing `pool` hook).
    let limits = Limits {
        hook_cpu_ms: 5_000,
        hook_timeout_ms: 5_000,
        ..support::runtime().limits().clone()
    };
    let runtime = support::runtime().with_limits(limits).expect("limits");
    let loader = Loader::new(
        folder.dir.path(),
        runtime,
        Some(CompileCache::new(folder.cache.path())),
    );
    let (watcher, _) = Watcher::start(loader, harness.engine.clone(), options)
        .await
        .expect("watching");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (harness, stop, ok, failed) =
                (harness.clone(), stop.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match harness.send(get("https://csrf.example/p")).await {
                        Ok(r)
                            if r.served_by
                                .as_ref()
                                .is_some_and(|s| s.config == "csrf-token") =>
                        {
                            ok.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                    // A request that fails fast never yields: let the watcher run.
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut seen = 0;
    for n in 1..=20 {
        folder.put("csrf-token.wasm", variant(&good, n));
        let mut reloads = watcher.reloads();
        let wait = reloads.wait_for(|c| *c > seen);
        match tokio::time::timeout(Duration::from_secs(30), wait).await {
            Ok(Ok(c)) => seen = *c,
            _ => panic!(
                "no reload after put {n}: ok {} failed {} pools {:?} configs {:?}",
                ok.load(Ordering::Relaxed),
                failed.load(Ordering::Relaxed),
                harness
                    .engine
                    .pools()
                    .iter()
                    .map(|p| (&p.id, &p.closed))
                    .collect::<Vec<_>>(),
                harness.engine.configs().status()
            ),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client task");
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(
        ok.load(Ordering::Relaxed) > 20,
        "requests ran during the replacements"
    );
}

#[tokio::test]
async fn files_named_by_events_are_hashed_even_if_their_metadata_looks_unchanged() {
    let folder = Folder::new();
    let good = example("csrf-token");
    folder.put("csrf-token.wasm", variant(&good, 1));
    let mut loader = folder.loader();
    let (set, _) = reload(&mut loader).await.expect("a first set");
    let v1 = version(&set, "csrf-token");
    // Same inode, same length, same mtime: only the content differs.
    let path = folder.path("csrf-token.wasm");
    let mtime = std::fs::metadata(&path)
        .expect("stat")
        .modified()
        .expect("mtime");
    std::fs::write(&path, variant(&good, 2)).expect("write in place");
    let file = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_modified(mtime).expect("set mtime");
    assert!(
        reload(&mut loader).await.is_none(),
        "metadata alone cannot tell"
    );
    let mut touched = Touched::default();
    touched.add(&path);
    let (set, _) = loader
        .reload_with(&touched)
        .await
        .expect("folder")
        .expect("a change");
    assert_ne!(version(&set, "csrf-token"), v1);
}
