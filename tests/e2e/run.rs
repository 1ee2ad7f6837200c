//! `session-host run` (issue 6.2), the real binary against the real emulator: one answer line
//! per input with its `echoData`, errors reported, resumption after `kill -9` and after Ctrl-C
//! without duplicates or losses, and the exit code of a closed pool.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::process::{Child, Command};
use zyte_emulator::RunningEmulator;

/// A batch's files, next to a settings file for quick runs with sessions on.
struct Batch {
    dir: TempDir,
    emulator: RunningEmulator,
}

impl Batch {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let settings = "[sessions]\nenabled = true\nqueue_wait_time = 0.2\n\
            creation_retry_delay = 0.05\ninit_failure_backoff = 0.0\n\
            [upstream]\nwait_scale = 0.0\ntimeout_secs = 20.0\n";
        std::fs::write(dir.path().join("settings.toml"), settings)
            .expect("the settings are written");
        let emulator = zyte_emulator::start(zyte_emulator::EmulatorConfig::default())
            .await
            .expect("the emulator starts");
        Self { dir, emulator }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `count` requests of 100-300 ms each, sent 4 at a time, so that the run takes seconds and
    /// a signal lands mid-run: the output's path and the arguments.
    fn slow(&self, count: usize) -> (PathBuf, Vec<PathBuf>) {
        let input = self.input("slow.txt", &urls("uniform-latency.example", count));
        let output = self.path("answers.jsonl");
        let args = vec![
            input,
            "-o".into(),
            output.clone(),
            "--concurrency".into(),
            "4".into(),
        ];
        (output, args)
    }

    /// Writes the input file `name`.
    fn input(&self, name: &str, lines: &[String]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, lines.join("\n") + "\n").expect("the input is written");
        path
    }

    /// `session-host run ARGS` on the emulator, started.
    fn spawn(&self, args: &[impl AsRef<OsStr>]) -> Child {
        let settings = self.path("settings.toml");
        Command::new(env!("CARGO_BIN_EXE_session-host"))
            .arg("run")
            .args(args)
            .args(["--upstream", &self.emulator.base_url()])
            .arg("--config")
            .arg(&settings)
            .env("ZYTE_API_KEY", "any")
            .env_remove("ZYTE_API_URL")
            .env("XDG_STATE_HOME", crate::support::state_home())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary runs")
    }

    /// `session-host run ARGS` on the emulator, to its end.
    async fn run(&self, args: &[impl AsRef<OsStr>]) -> Output {
        let output = self.spawn(args).wait_with_output();
        tokio::time::timeout(Duration::from_secs(120), output)
            .await
            .expect("the run ends")
            .expect("the run's output")
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The answer lines of `text`, by input line; panics on a duplicate or a partial line.
fn answers(text: &str) -> BTreeMap<u64, Value> {
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a partial last line"
    );
    let mut answers = BTreeMap::new();
    for line in text.lines() {
        let answer: Value = serde_json::from_str(line).expect("each line is JSON");
        let input = answer["_sessionHost"]["line"]
            .as_u64()
            .expect("the input line");
        assert!(
            answers.insert(input, answer).is_none(),
            "input line {input} answered twice"
        );
    }
    answers
}

fn read_answers(path: &Path) -> BTreeMap<u64, Value> {
    answers(&std::fs::read_to_string(path).unwrap_or_default())
}

fn urls(site: &str, count: usize) -> Vec<String> {
    (1..=count)
        .map(|i| format!("https://{site}/item/{i}"))
        .collect()
}

/// Waits until `path` holds at least `lines` complete lines.
async fn wait_for_lines(path: &Path, lines: usize) {
    for _ in 0..600 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.matches('\n').count() >= lines {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never reached {lines} lines", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_answers_each_json_line_once_with_its_echo_data_or_its_error() {
    let batch = Batch::new().await;
    let lines = [
        json!({"url": "https://example.com/1", "httpResponseBody": true, "echoData": {"id": 1}})
            .to_string(),
        "{\"url\": \"https://example.com/2\"".into(),
        String::new(),
        json!({"httpResponseBody": true, "echoData": "no url"}).to_string(),
        json!({"url": "https://postal-code-10001.example/p", "browserHtml": true,
            "sessionManagement": {"location": {"postalCode": "10001"}, "pool": "located"}})
        .to_string(),
        json!({"url": "https://example.com/6", "httpResponseBody": true,
            "sessionManagement": {"enabeld": false}})
        .to_string(),
        json!({"url": "https://e500.example/7", "httpResponseBody": true, "echoData": 7,
            "sessionManagement": {"enabled": false}})
        .to_string(),
        json!({"url": "https://example.com/8", "httpResponseBody": true,
            "sessionManagement": {"enabled": false}})
        .to_string(),
    ];
    let input = batch.input("requests.jsonl", &lines);
    let output = batch.path("answers.jsonl");
    let run = batch
        .run(&[input.to_str().unwrap(), "-o", output.to_str().unwrap()])
        .await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let answers = read_answers(&output);
    assert_eq!(
        answers.keys().copied().collect::<Vec<_>>(),
        [1, 2, 4, 5, 6, 7, 8],
        "one answer per non-blank line"
    );
    assert_eq!(answers[&1]["statusCode"], 200);
    assert_eq!(answers[&1]["echoData"], json!({"id": 1}));
    assert_eq!(answers[&1]["_sessionHost"]["pool"], "example.com");
    let bad_json = &answers[&2]["error"];
    assert_eq!(bad_json["type"], "/session-host/problem/invalid-json");
    assert!(
        bad_json["detail"]
            .as_str()
            .unwrap()
            .starts_with("input line 2 is not valid JSON"),
        "{bad_json}"
    );
    assert_eq!(
        answers[&4]["error"]["detail"],
        "input line 4: the request has no `url`"
    );
    assert_eq!(answers[&4]["echoData"], "no url");
    let located = &answers[&5];
    assert_eq!(located["_sessionHost"]["pool"], "client/located");
    assert_eq!(located["echoData"], "https://postal-code-10001.example/p");
    assert!(
        located["browserHtml"]
            .as_str()
            .unwrap()
            .contains("Delivering to 10001"),
        "the session was located: {located}"
    );
    assert_eq!(
        answers[&6]["error"]["detail"],
        "input line 6: unknown key `sessionManagement.enabeld`; expected one of: enabled, \
         cookieMode, params, location, retryPolicy, pool"
    );
    assert_eq!(answers[&6]["url"], "https://example.com/6");
    let upstream = &answers[&7];
    assert_eq!(upstream["error"]["status"], 500, "{upstream}");
    assert_eq!(upstream["echoData"], 7);
    assert!(upstream["error"]["type"].as_str().unwrap().starts_with('/'));
    assert!(
        answers[&8]["_sessionHost"].get("pool").is_none(),
        "no session"
    );
    let stderr = stderr(&run);
    assert!(stderr.contains("done: 7 of 7 inputs answered"), "{stderr}");
    assert!(
        stderr.lines().any(|l| l.starts_with("client/located ")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reads_a_url_list_like_the_zyte_api_command() {
    let batch = Batch::new().await;
    let mut lines = urls("example.com", 5);
    lines.insert(2, "   ".into());
    let input = batch.input("urls.txt", &lines);
    let run = batch.run(&[input.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let answers = answers(&String::from_utf8_lossy(&run.stdout));
    assert_eq!(answers.keys().copied().collect::<Vec<_>>(), [1, 2, 4, 5, 6]);
    for answer in answers.values() {
        assert_eq!(
            answer["echoData"], answer["url"],
            "echoData defaults to the url"
        );
        assert!(answer["browserHtml"].is_string(), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_resumes_after_kill_9_without_duplicates_or_losses() {
    let batch = Batch::new().await;
    let (output, args) = batch.slow(80);
    let mut child = batch.spawn(&args);
    wait_for_lines(&output, 10).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let before = read_answers(&output);
    assert!(before.len() < 80, "the kill landed after the end");
    // What a kill in the middle of a write leaves: a partial last line.
    let mut text = std::fs::read_to_string(&output).unwrap();
    text.push_str("{\"url\":\"https://uniform-latency.example/item/");
    std::fs::write(&output, text).unwrap();

    let run = batch.run(&args).await;
    let stderr = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("cut off a partial last line"), "{stderr}");
    assert!(
        stderr.contains(&format!("resuming, {} of 80 inputs answered", before.len())),
        "{stderr}"
    );
    let after = read_answers(&output);
    assert_eq!(
        after.keys().copied().collect::<Vec<_>>(),
        (1..=80).collect::<Vec<_>>()
    );
    for (line, answer) in &before {
        assert_eq!(&after[line], answer, "answers before the kill are kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_drains_on_sigint_exits_130_and_resumes() {
    let batch = Batch::new().await;
    let (output, args) = batch.slow(60);
    let child = batch.spawn(&args);
    wait_for_lines(&output, 5).await;
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
    assert!(kill.unwrap().success());
    let run = child.wait_with_output().await.unwrap();
    let stderr_text = stderr(&run);
    assert_eq!(run.status.code(), Some(130), "{stderr_text}");
    assert!(
        stderr_text.contains("interrupted by SIGINT: the run is incomplete"),
        "{stderr_text}"
    );
    assert!(
        stderr_text.contains("run the same command to resume"),
        "{stderr_text}"
    );
    let text = std::fs::read_to_string(&output).unwrap();
    let drained = answers(&text);
    assert!(drained.len() < 60, "SIGINT landed after the end");

    let run = batch.run(&args).await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(read_answers(&output).len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_stops_with_exit_3_when_a_pool_closes() {
    let batch = Batch::new().await;
    let mut lines = urls("example.com", 3);
    lines.push(
        json!({"url": "https://no-location-support.example/p", "browserHtml": true,
            "sessionManagement": {"location": {"postalCode": "10001"}}})
        .to_string(),
    );
    lines.extend(urls("example.com", 20).split_off(3));
    let input = batch.input("mixed.txt", &[]);
    // A JSON Lines file named .txt: --intype wins over the extension.
    let lines: Vec<String> = lines
        .into_iter()
        .map(|l| match l.starts_with('{') {
            true => l,
            false => json!({"url": l, "httpResponseBody": true}).to_string(),
        })
        .collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let output = batch.path("answers.jsonl");
    let run = batch
        .run(&[
            input.to_str().unwrap(),
            "--intype",
            "jl",
            "-o",
            output.to_str().unwrap(),
            "--concurrency",
            "1",
        ])
        .await;
    let stderr = stderr(&run);
    assert_eq!(run.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(
            "stopped: session pool \"no-location-support.example@10001\" is closed: \
             unsupported_set_location; the run is incomplete"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("closed: unsupported_set_location"),
        "the summary shows the closed pool: {stderr}"
    );
    let answers = read_answers(&output);
    assert_eq!(answers.keys().copied().collect::<Vec<_>>(), [1, 2, 3, 4]);
    let closed = &answers[&4]["error"];
    assert_eq!(closed["type"], "/session-host/problem/pool-closed");
    assert_eq!(closed["status"], 409);
    assert_eq!(closed["reason"], "unsupported_set_location");
    assert_eq!(closed["pool"], "no-location-support.example@10001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_12_run_request_timeout_secs_answers_a_stuck_line_with_an_error_and_goes_on() {
    let batch = Batch::new().await;
    let throttled = json!({"url": "https://e429.example/", "httpResponseBody": true,
        "sessionManagement": {"params": {"url": "https://example.com/", "httpResponseBody": true}}});
    let lines = [
        throttled.to_string(),
        json!({"url": "https://example.com/2", "httpResponseBody": true}).to_string(),
    ];
    let input = batch.input("requests.jsonl", &lines);
    let output = batch.path("answers.jsonl");
    let started = std::time::Instant::now();
    let run = batch
        .run(&[
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
            "--request-timeout-secs",
            "1",
        ])
        .await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(started.elapsed() < Duration::from_secs(20));
    let answers = read_answers(&output);
    let error = &answers[&1]["error"];
    assert_eq!(error["type"], "/session-host/problem/timeout", "{error}");
    assert_eq!(error["status"], 504);
    assert!(
        error["detail"]
            .as_str()
            .is_some_and(|d| d.contains("1s deadline")),
        "{error}"
    );
    assert_eq!(answers[&2]["statusCode"], 200, "{}", answers[&2]);
}

/// Issue #13, item 6: a resumed run refuses an input that changed under its output (naming
/// the input file and line), and a second run cannot write an output another one holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_resume_refuses_a_changed_input_and_a_locked_output() {
    let batch = Batch::new().await;
    let input = batch.input("urls.txt", &urls("example.com", 3));
    let output = batch.path("answers.jsonl");
    let args = [input.to_str().unwrap(), "-o", output.to_str().unwrap()];
    let run = batch.run(&args).await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let before = std::fs::read(&output).expect("the output");
    let mut edited = urls("example.com", 3);
    edited[1] = "https://example.com/other".into();
    batch.input("urls.txt", &edited);
    let run = batch.run(&args).await;
    let message = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{message}");
    assert!(message.contains("input line 2 changed"), "{message}");
    assert!(message.contains("urls.txt"), "{message}");
    assert_eq!(
        std::fs::read(&output).expect("the output"),
        before,
        "nothing written"
    );
    batch.input("urls.txt", &urls("example.com", 4));
    let holder = std::fs::OpenOptions::new()
        .append(true)
        .open(&output)
        .expect("open");
    holder.try_lock().expect("the test holds the lock");
    let run = batch.run(&args).await;
    let message = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{message}");
    assert!(message.contains("locked by another run"), "{message}");
    drop(holder);
    let run = batch.run(&args).await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(read_answers(&output).len(), 4);
}

/// Issue 12: the URL that used to kill `run` (exit 101, and again on every resume) gets its
/// answer, an absurd one an error answer, and the lines after them are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_12_crash_urls_get_answers_and_the_run_goes_on() {
    let batch = Batch::new().await;
    let lines = [
        "https://example.com/1".to_owned(),
        "https://x.рф../".to_owned(),
        format!("https://{}.example/", "a".repeat(70_000)),
        "https://example.com/4".to_owned(),
    ];
    let input = batch.input("crashes.txt", &lines);
    let output = batch.path("answers.jsonl");
    let args = [input.to_str().unwrap(), "-o", output.to_str().unwrap()];
    let run = batch.run(&args).await;
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(!stderr(&run).contains("panicked"), "{}", stderr(&run));
    let answers = read_answers(&output);
    assert_eq!(answers.keys().copied().collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(answers[&1]["statusCode"], 200);
    assert_eq!(answers[&4]["statusCode"], 200);
    let internal = "/session-host/problem/internal";
    assert_ne!(answers[&2]["error"]["type"], internal, "{}", answers[&2]);
    assert_eq!(
        answers[&3]["error"]["detail"],
        "input line 3: `url` is 70017 characters long; the limit is 8192 (Zyte API's)"
    );
    let again = batch.run(&args).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("all 4 inputs are answered already"),
        "{}",
        stderr(&again)
    );
}

/// Issue 12 (and issue 17's one-task run): while the output is blocked (a pipe nobody reads),
/// the requests in flight go on and are answered within their time; their answers wait for
/// the output, in memory. A run that stopped answering while it wrote would hold each request
/// in flight for as long as the output is blocked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_12_run_answers_requests_while_its_output_is_blocked() {
    let batch = Batch::new().await;
    // About 300 KB of answers: more than a pipe holds (64 KB on Linux).
    let answers = run_with_blocked_output(&batch, 1000, |_| ()).await;
    let slowest = (answers.values())
        .map(|a| a["_sessionHost"]["ms"].as_u64().expect("the time it took"))
        .max();
    assert!(
        slowest < Some(1000),
        "a request waited for the output: {slowest:?} ms"
    );
}

/// Regression (issue 17, answers taken in the run's own task): while the output is blocked,
/// the run answers the requests in flight but sends no more inputs once `MAX_UNWRITTEN` (256)
/// answers wait in memory. Of 3,000 inputs (about 900 KB of answers), the emulator sees at
/// most the pipe's (about 220 answers), the write's and the held ones, the requests in flight
/// and the sessions' own, about 600, while nobody reads; a run that kept sending answered all
/// 3,000 (the emulator is at zero latency).
#[tokio::test]
async fn issue_17_a_blocked_output_stops_new_inputs_not_the_requests_in_flight() {
    let batch = Batch::new().await;
    run_with_blocked_output(&batch, 3000, |batch| {
        let sent = batch.emulator.stats().requests.total;
        assert!(
            sent < 1200,
            "{sent} requests sent while the output was blocked"
        );
    })
    .await;
}

/// Runs `count` URLs of `example.com` with the answers on a pipe that nobody reads for 2 s
/// once the first byte came (the pipe fills and the run's write blocks); `blocked` looks at
/// `batch` at the end of those 2 s. Then reads the rest and asserts exit 0 and one answer per
/// input; the answers by input line.
async fn run_with_blocked_output(
    batch: &Batch,
    count: usize,
    blocked: impl FnOnce(&Batch),
) -> BTreeMap<u64, Value> {
    use tokio::io::AsyncReadExt;
    let input = batch.input("urls.txt", &urls("example.com", count));
    let mut run = batch.spawn(&[
        input.to_str().expect("a UTF-8 path"),
        "-o",
        "-",
        "--concurrency",
        "64",
    ]);
    let mut stdout = run.stdout.take().expect("the answers' pipe");
    let mut text = vec![0];
    let first = tokio::time::timeout(Duration::from_secs(60), stdout.read_exact(&mut text));
    first
        .await
        .expect("a first answer")
        .expect("the pipe reads");
    tokio::time::sleep(Duration::from_secs(2)).await;
    blocked(batch);
    let rest = tokio::time::timeout(Duration::from_secs(60), stdout.read_to_end(&mut text));
    rest.await
        .expect("the answers end")
        .expect("the pipe reads");
    let output = run.wait_with_output().await.expect("the run ends");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let answers = answers(&String::from_utf8(text).expect("UTF-8 answers"));
    assert_eq!(answers.len(), count);
    answers
}
