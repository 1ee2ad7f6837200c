//! Compatibility with a client we did not write: python-zyte-api's `zyte-api` CLI (0.11.0).
//!
//! Needs `<repo>/.venv/bin/zyte-api` (create it with `scripts/setup-python`) and fails without
//! it. Set `SESSION_HOST_SKIP_PYTHON=1` to skip. Takes ~15-60 s: the client waits 3-8 s and
//! more between its retries of a 520.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::support::emulator;

fn zyte_api_cli() -> Option<PathBuf> {
    // At run time first: see `tests/testkit/src/support.rs` `repo()`.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let repo = manifest.join("..");
    let cli = repo.join(".venv/bin/zyte-api");
    if std::env::var("SESSION_HOST_SKIP_PYTHON").as_deref() == Ok("1") {
        eprintln!("skipped: SESSION_HOST_SKIP_PYTHON=1 (the python-zyte-api compatibility test)");
        return None;
    }
    assert!(
        cli.exists(),
        "{} is missing: create it with `scripts/setup-python` (from the repo root), \
         or set SESSION_HOST_SKIP_PYTHON=1 to skip this test",
        cli.display()
    );
    Some(cli)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zyte_api_cli_gets_results_and_retries_520_four_times() {
    let Some(cli) = zyte_api_cli() else { return };
    let emulator = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("urls.txt");
    let output = dir.path().join("out.jl");
    let urls = [
        "https://example.com/1",
        "https://postal-code-10001.example/",
        "https://csrf.example/",
    ];
    let mut lines: Vec<&str> = urls.to_vec();
    lines.push("https://e520.example/");
    std::fs::write(&input, lines.join("\n") + "\n").expect("write input");

    let run = tokio::process::Command::new(&cli)
        .arg(&input)
        .arg("--api-url")
        .arg(emulator.base_url())
        .arg("--api-key")
        .arg("PYTHONKEY")
        .arg("--output")
        .arg(&output)
        .kill_on_drop(true)
        .output();
    let result = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("zyte-api finished in time");
    let result = result.expect("zyte-api ran");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "zyte-api failed: {stderr}");

    let text = std::fs::read_to_string(&output).expect("output file");
    let results: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    assert_eq!(
        results.len(),
        urls.len(),
        "one result per good URL; stderr: {stderr}"
    );
    for result in &results {
        let url = result["url"].as_str().unwrap_or_default();
        assert!(urls.contains(&url), "unexpected url {url}");
        assert_eq!(result["echoData"], url, "the CLI sets echoData to the URL");
        assert_eq!(result["statusCode"], 200);
        assert!(
            result["browserHtml"]
                .as_str()
                .is_some_and(|html| html.contains("<html"))
        );
    }
    assert!(stderr.contains("520"), "the 520 is logged: {stderr}");

    let stats = emulator.stats();
    assert_eq!(
        stats.site("e520.example").requests.status(520),
        4,
        "default policy: 4 attempts for a 520"
    );
    for url in urls {
        let host = url.split('/').nth(2).unwrap_or_default();
        assert_eq!(stats.site(host).requests.status(200), 1, "{host}");
    }
    assert_eq!(stats.requests.total, 7);
}
