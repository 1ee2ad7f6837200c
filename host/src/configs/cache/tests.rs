use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::plugin::Limits;

fn wasm() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../example-configs/dist/csrf-token.wasm"
    );
    std::fs::read(path).expect("the csrf-token example")
}

async fn load(cache: &CompileCache, runtime: &Runtime) -> Compiled {
    let sha = "ab".repeat(32);
    let (_, compiled) = (cache.load(runtime, "csrf", wasm(), &sha, CallEnv::default()))
        .await
        .expect("loads");
    compiled
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = (std::fs::read_dir(dir).into_iter().flatten())
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    found.sort();
    found
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn issue_13_the_cache_is_private_and_tampered_entries_are_never_loaded() {
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let root = tempfile::tempdir().expect("dir");
    let dir = root.path().join("compiled");
    let cache = CompileCache::new(&dir);
    assert_eq!(load(&cache, &runtime).await, Compiled::Miss);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
    assert_eq!(load(&cache, &runtime).await, Compiled::Hit);
    let [entry] = entries(&dir).try_into().expect("one entry");
    // A flipped byte in the machine code, a truncation, an entry signed with another key.
    let good = std::fs::read(&entry).expect("entry");
    let mut flipped = good.clone();
    *flipped.last_mut().expect("bytes") ^= 1;
    let foreign = [
        sign(&[7; KEY_LEN], "x", &good[KEY_LEN..]).to_vec(),
        good[KEY_LEN..].to_vec(),
    ];
    for bad in [flipped, good[..KEY_LEN - 1].to_vec(), foreign.concat()] {
        std::fs::write(&entry, bad).expect("tamper");
        let fresh = CompileCache::new(&dir);
        assert_eq!(load(&fresh, &runtime).await, Compiled::Miss);
        assert_eq!(load(&fresh, &runtime).await, Compiled::Hit, "rewritten");
    }
}

#[tokio::test]
async fn issue_13_open_or_foreign_directories_are_refused_and_configs_compile() {
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let root = tempfile::tempdir().expect("dir");
    let dir = root.path().join("compiled");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let cache = CompileCache::new(&dir);
    assert_eq!(load(&cache, &runtime).await, Compiled::Miss);
    assert_eq!(load(&cache, &runtime).await, Compiled::Miss);
    assert!(entries(&dir).is_empty() && !dir.join(KEY_FILE).exists());
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    if std::os::unix::fs::chown(&dir, Some(4242), None).is_ok() {
        let cache = CompileCache::new(&dir);
        assert_eq!(load(&cache, &runtime).await, Compiled::Miss);
        assert_eq!(load(&cache, &runtime).await, Compiled::Miss);
        assert!(entries(&dir).is_empty());
    }
}

#[test]
fn issue_13_the_trust_rule() {
    let p = Path::new("/c");
    assert_eq!(judge(p, 1000, 0o40700, 1000, false), Ok(()));
    assert_eq!(judge(p, 1000, 0o40755, 1000, false), Ok(()));
    assert!(matches!(
        judge(p, 0, 0o40700, 1000, false),
        Err(Untrusted::ForeignOwner { .. })
    ));
    assert!(matches!(
        judge(p, 1000, 0o40777, 1000, false),
        Err(Untrusted::OpenMode { .. })
    ));
    assert!(matches!(
        judge(p, 1000, 0o40720, 1000, false),
        Err(Untrusted::OpenMode { .. })
    ));
    assert_eq!(judge(p, 1000, 0o100600, 1000, true), Ok(()));
    assert!(matches!(
        judge(p, 1000, 0o100644, 1000, true),
        Err(Untrusted::OpenMode { .. })
    ));
}

#[tokio::test]
async fn issue_13_old_entries_are_evicted_past_the_size_bound() {
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let root = tempfile::tempdir().expect("dir");
    let dir = root.path().join("compiled");
    let cache = CompileCache::new(&dir).with_max_bytes(1000);
    assert_eq!(load(&cache, &runtime).await, Compiled::Miss);
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for name in ["old1.cwasm", "old2.cwasm"] {
        let file = std::fs::File::create(dir.join(name)).expect("old entry");
        file.set_len(600).expect("len");
        file.set_modified(old).expect("mtime");
    }
    std::fs::write(dir.join("keep.txt"), [0; 2000]).expect("not an entry");
    let [current] = entries(&dir)
        .into_iter()
        .filter(|p| !p.ends_with("old1.cwasm") && !p.ends_with("old2.cwasm"))
        .collect::<Vec<_>>()
        .try_into()
        .expect("one");
    std::fs::remove_file(&current).expect("rm");
    assert_eq!(load(&cache, &runtime).await, Compiled::Miss);
    assert_eq!(entries(&dir), [current]);
    assert!(dir.join("keep.txt").exists());
}
