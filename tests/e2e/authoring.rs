//! Config authoring (issue 18): `session-host new` scaffolds a project in each language that
//! builds, passes `plugin check` and its own scenario with no edit; `plugin trace` shows the
//! hooks; bad input names the file and field. The builds use the toolchains the repo's scripts
//! install (scripts/install-guest-toolchain, setup-python, setup-js).

use std::path::Path;
use std::process::{Command, Output};

use crate::support::repo;

fn session_host(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_session-host"))
        .args(args)
        .env("SESSION_HOST_REPO", repo())
        .output()
        .expect("the binary runs")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(args: &[&str]) -> String {
    let out = session_host(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// new → build → check → test → trace, in `lang`, with no edit; the built config's bytes.
fn scaffold_builds_checks_and_passes(lang: &str) -> Vec<u8> {
    let parent = tempfile::tempdir().expect("test setup");
    let name = format!("shop-{lang}");
    let parent_arg = parent.path().to_str().expect("test setup");
    ok(&["new", &name, "--lang", lang, "--dir", parent_arg]);
    let project = parent.path().join(&name);
    let built = ok(&["plugin", "build", project.to_str().expect("test setup")]);
    assert!(built.contains("next: session-host plugin trace"), "{built}");
    let wasm = project.join("dist").join(format!("{name}.wasm"));
    let checked = ok(&["plugin", "check", wasm.to_str().expect("test setup")]);
    assert!(checked.contains("include:    example.com"), "{checked}");
    let version = format!("session-host:config@{}", session_host::plugin::WIT_VERSION);
    assert!(checked.contains(&version), "{checked}");
    let tested = ok(&["plugin", "test", project.to_str().expect("test setup")]);
    assert!(tested.contains("1 passed, 0 failed"), "{tested}");
    trace_shows_hooks(&name, &project.join("dist"));
    std::fs::read(&wasm).expect("test setup")
}

fn trace_shows_hooks(name: &str, dist: &Path) {
    let url = "https://example.com/a";
    let json = ok(&[
        "plugin",
        "trace",
        url,
        "--configs",
        dist.to_str().expect("test setup"),
        "--json",
    ]);
    let trace: serde_json::Value = serde_json::from_str(&json).expect("test setup");
    assert_eq!(trace["selected"]["config"], name, "{json}");
    assert_eq!(trace["selected"]["pattern"], "example.com", "{json}");
    let hooks: Vec<&str> = trace["calls"]
        .as_array()
        .expect("test setup")
        .iter()
        .map(|c| c["hook"].as_str().expect("test setup"))
        .collect();
    for hook in ["enabled", "pool", "init-session", "download", "check"] {
        assert!(hooks.contains(&hook), "{hook} missing from {hooks:?}");
    }
    assert_eq!(trace["outcome"]["status"], 200, "{json}");
    assert_eq!(
        trace["outcome"]["served_by"]["pool"], "example.com",
        "{json}"
    );
}

#[test]
fn issue_18_rust_scaffold_builds_checks_and_passes_its_scenario() {
    let _ = scaffold_builds_checks_and_passes("rust");
}

#[test]
fn issue_18_python_scaffold_builds_checks_and_passes_its_scenario() {
    let _ = scaffold_builds_checks_and_passes("python");
}

/// Also issue 17: `plugin build` uses the SDK's `componentize.mjs`, as the example configs'
/// build does, so an authored config gets the cheaper bindings (the rewritten debug-log calls
/// are in the component's snapshotted script).
#[test]
fn issue_18_js_scaffold_builds_checks_and_passes_its_scenario() {
    let wasm = scaffold_builds_checks_and_passes("js");
    let marker = b"0 && _debugLog(";
    assert!(
        wasm.windows(marker.len()).any(|w| w == marker),
        "issue 17: the JS build did not go through guest-sdk/js/componentize.mjs"
    );
}

#[test]
fn issue_18_c_scaffold_builds_checks_and_passes_its_scenario() {
    let _ = scaffold_builds_checks_and_passes("c");
}

#[test]
fn issue_18_example_configs_pass_their_scenarios() {
    for name in ["csrf-token", "location"] {
        let scenario = repo()
            .join("example-configs")
            .join(name)
            .join("scenario.toml");
        let tested = ok(&["plugin", "test", scenario.to_str().expect("test setup")]);
        assert!(tested.contains(" 0 failed"), "{tested}");
    }
}

#[test]
fn issue_18_trace_prints_selection_hooks_verdict_and_pool() {
    let dist = repo().join("example-configs/dist");
    let url = "https://csrf.example/search?q=1";
    let out = ok(&[
        "plugin",
        "trace",
        url,
        "--configs",
        dist.to_str().expect("test setup"),
    ]);
    assert!(out.contains("config:   csrf-token"), "{out}");
    assert!(out.contains("\"csrf.example\" matches"), "{out}");
    assert!(out.contains("init-session [csrf-token]"), "{out}");
    assert!(out.contains("download [csrf-token]"), "{out}");
    assert!(out.contains("verdict:  \"keep\""), "{out}");
    assert!(out.contains("served:   pool csrf.example session"), "{out}");
}

#[test]
fn issue_18_bad_input_names_the_file_and_field() {
    let dir = tempfile::tempdir().expect("test setup");
    let path = dir.path().to_str().expect("test setup");
    let out = session_host(&["new", "x", "--lang", "cobol", "--dir", path]);
    assert!(
        !out.status.success() && text(&out).contains("--lang"),
        "{}",
        text(&out)
    );
    let out = session_host(&["plugin", "build", path]);
    assert!(
        text(&out).contains("is not a config project"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("config-project.toml"), "{}", text(&out));
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(
        &scenario,
        "configs = [\"x.wasm\"]\n[[case]]\nname = \"a\"\nurls = [\"https://example.com\"]\nsesionManagement = {}\n[case.expect]\n",
    )
    .expect("test setup");
    let out = session_host(&["plugin", "test", scenario.to_str().expect("test setup")]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("scenario.toml") && all.contains("sesionManagement"),
        "{all}"
    );
}

/// The WIT after a future compatible change: version 0.1.9, and a new function in `log` that
/// a config built against it may ignore.
fn wit_after_compatible_change(dir: &Path) {
    let wit = std::fs::read_to_string(crate::guests::wit_dir().join("session-config.wit"))
        .expect("test setup");
    let current = format!(
        "package session-host:config@{};",
        session_host::plugin::WIT_VERSION
    );
    let changed = wit
        .replace(&current, "package session-host:config@0.1.9;")
        .replace(
            "    report-panic: func(message: string);",
            "    report-panic: func(message: string);\n    /// New in 0.1.1.\n    flush: func();",
        );
    assert!(changed.contains("@0.1.9;") && changed.contains("flush"));
    std::fs::write(dir.join("session-config.wit"), changed).expect("test setup");
}

#[test]
fn issue_18_a_config_built_against_a_compatible_wit_loads_and_check_names_its_version() {
    let wit = tempfile::tempdir().expect("test setup");
    wit_after_compatible_change(wit.path());
    let bytes = crate::guests::guest_for_wit(&[], None, wit.path(), "0.1.9");
    let dir = tempfile::tempdir().expect("test setup");
    let file = dir.path().join("newer.wasm");
    std::fs::write(&file, bytes).expect("test setup");
    let checked = ok(&["plugin", "check", file.to_str().expect("test setup")]);
    assert!(
        checked.contains("wit:        session-host:config@0.1.9 (supported"),
        "{checked}"
    );
}
