//! The `session-host` binary (spine issue #2): `plugin check` prints rules and hooks of good
//! files, and names the file and the cause of bad ones, with a non-zero exit.

use std::process::{Command, Output};

use crate::guests;
use crate::support::repo;

fn session_host(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_session-host"))
        .args(args)
        .env("XDG_STATE_HOME", crate::support::state_home())
        .output()
        .expect("the binary runs")
}

#[test]
fn plugin_check_prints_rules_and_hooks() {
    let dist = repo().join("example-configs/dist");
    let (csrf, location) = (dist.join("csrf-token.wasm"), dist.join("location.wasm"));
    let out = session_host(&[
        "plugin",
        "check",
        csrf.to_str().unwrap(),
        location.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("include:    csrf.example"), "{stdout}");
    assert!(stdout.contains("postal-code-10001.example"), "{stdout}");
    assert!(stdout.contains("hooks:      rules, enabled, cookie-mode, pool, location, params, init-session, check, process-request"));
}

#[test]
fn plugin_check_names_each_bad_file_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let noise = dir.path().join("noise.wasm");
    std::fs::write(&noise, b"definitely not wasm").unwrap();
    let wrong = dir.path().join("wrong.wasm");
    std::fs::write(&wrong, guests::wrong_world()).unwrap();
    let missing = dir.path().join("missing.wasm");
    let good = repo().join("example-configs/dist/csrf-token.wasm");
    let out = session_host(&[
        "plugin",
        "check",
        good.to_str().unwrap(),
        noise.to_str().unwrap(),
        wrong.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: {}: config noise: not a WebAssembly file",
            noise.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "error: {}: config wrong: does not implement world",
            wrong.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "error: {}: config {}: cannot read the file",
            missing.display(),
            missing.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("3 of 4 file(s) failed"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("csrf-token.wasm: ok"),
        "good files are still reported"
    );
}

/// Issue #5: `plugin which` explains the choice: config, pattern, who lost and why, the pool.
#[test]
fn plugin_which_explains_the_choice_and_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let configs = dir.path().join("configs");
    std::fs::create_dir(&configs).unwrap();
    let dist = repo().join("example-configs/dist");
    std::fs::copy(
        dist.join("csrf-token.wasm"),
        configs.join("csrf-token.wasm"),
    )
    .unwrap();
    std::fs::copy(dist.join("location.wasm"), configs.join("generic.wasm")).unwrap();
    let sidecar = "[rules]\ninclude = [\"csrf.example\"]\npriority = 400\n";
    std::fs::write(configs.join("generic.toml"), sidecar).unwrap();
    let settings = dir.path().join("session-host.toml");
    std::fs::write(&settings, "[sessions]\nenabled = true\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_session-host"))
        .env("XDG_STATE_HOME", crate::support::state_home())
        .args([
            "plugin",
            "which",
            "https://www.csrf.example/search?q=1",
            "--configs",
        ])
        .arg(&configs)
        .arg("--config")
        .arg(&settings)
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("config:  csrf-token ("), "{stdout}");
    assert!(stdout.contains("pattern: \"csrf.example\""), "{stdout}");
    assert!(stdout.contains("pool:    www.csrf.example"), "{stdout}");
    assert!(
        stdout.contains("generic: lower priority (400 < 500)"),
        "{stdout}"
    );

    let out = session_host(&["plugin", "which", "https://other.org/"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("config:  default (built-in"), "{stdout}");
    assert!(stdout.contains("sessions are disabled"), "{stdout}");
    let out = session_host(&["plugin", "which", "not a url"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an absolute URL"));
}

#[test]
fn usage_errors_exit_2() {
    let out = session_host(&["plugin", "check"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn demo_runs_a_batch_and_prints_the_pools() {
    let out = session_host(&["demo", "--requests", "60", "--concurrency", "8"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("60 requests in"), "{stdout}");
    for pool in ["csrf.example", "example.com", "postal-code-10001.example"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(pool)),
            "pool {pool} missing:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("closed: unsupported_set_location"),
        "{stdout}"
    );
    assert!(stdout.contains("server side (emulator)"), "{stdout}");
}
