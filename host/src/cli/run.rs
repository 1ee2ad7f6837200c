//! `session-host run INPUT [-o OUTPUT]`: a batch of Zyte API requests through the engine.
//!
//! # Policy
//!
//! - **Input and output** as [`session_host::batch`] says: every non-blank input line gets
//!   exactly one JSON line in the output, a response or an error, in the order answers arrive.
//! - **Resumable.** An existing `-o FILE` is resumed: its answered inputs are skipped and the
//!   others appended, after cutting off a partial last line (answers are written as whole lines,
//!   those finished together with one write, and flushed, so a kill leaves at most one
//!   partial line). Standard output cannot be resumed.
//! - **Signals.** The first SIGINT or SIGTERM stops taking inputs; the requests in flight are
//!   answered and written, then the run exits with 130 (SIGINT) or 143 (SIGTERM), saying how
//!   to resume. A second signal exits at once (the in-flight inputs are sent again on resume).
//! - **A closed pool stops the run** (exit 3) the same way: no new inputs, the in-flight ones
//!   answered (those of the closed pool with its error), then the reason. Resuming after fixing
//!   the cause retries the rest with a fresh pool.
//! - **Deadline per input** (issue 12): `--request-timeout-secs` (default: the settings'
//!   `[sessions] request_timeout`, 600 s). An input not answered by then gets a `timeout` error
//!   line, its engine work stops, and the run goes on with the next inputs.
//! - **Exit codes**: 0 every input answered (some answers may be errors: the summary counts
//!   them); 1 the run could not start or write; 2 a usage error; 3 stopped by a closed pool;
//!   130/143 interrupted.
//! - **One thread** (issue 17): the run's requests (answered in the run's own task, not a task
//!   each) and the upstream connections' tasks share one current-thread runtime, so an answer
//!   never wakes another thread (those wake-ups, 1.6 context switches per request, were a
//!   quarter of its CPU). Only the output's writes go to a blocking thread, one per batch of
//!   answers, one at a time; the requests go on meanwhile. A batch
//!   waits on Zyte API's latency and rate limit, not on CPU: `benches/run-vs-wrk` measures tens
//!   of microseconds of CPU per request, tens of thousands of requests a second on one core.
//!   Guests yield at each epoch tick, so a computing guest delays the other requests by at most
//!   one tick.
//! - **Upstream connections of its own** (issue 17): the run's thread keeps its upstream
//!   connections itself ([`session_host::zyte::keep_thread_connections`], as a gateway
//!   worker does) instead of going through the client's shared pool, whose checkout, key
//!   hashing and hand-over of each request to the connection's task cost about a tenth of a
//!   request's instructions (callgrind, 98k to 88k per request against the emulator). They
//!   speak HTTP/1.1, one request at a time per connection: up to `--concurrency` connections
//!   (each with its TLS handshake, once) where the shared pool may multiplex the requests on
//!   one HTTP/2 connection when Zyte API offers it by ALPN. python-zyte-api and Scrapy's
//!   default download handler speak HTTP/1.1 to Zyte API as well. At most `[upstream]
//!   max_idle_connections` (64) idle ones are kept: with a higher `--concurrency`, the
//!   connections beyond it are closed after their answer and opened anew.
//! - **Progress** on stderr ([`super::progress`]), then the summary table ([`super::summary`])
//!   and the outcome, also on stderr: standard output may be the answers.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use session_host::batch::{self, Answer, InputLine, InputType, input_lines, scan_answered};
use session_host::problem::{Problem, ProblemKind};

use super::host::{HostArgs, Signals, secs};
use super::progress::Progress;
use super::summary::{self, Tally};

/// Most answers taken at once: those already finished when the first of them is taken. They
/// are written with one write, with any others taken while the previous write was in flight.
/// A kill during a write leaves complete lines and at most one partial last line, which a
/// resume cuts off, as with one answer per write.
const WRITE_BATCH: usize = 64;

/// Most answers held in memory and not written yet (taken, or in the write in flight): past
/// it no new input is sent until a write finishes. The requests already in flight are still
/// answered, so that no deadline waits on the output (issue 12), but a stalled output (a full
/// pipe nobody reads, a hung disk) holds at most this many answers plus `--concurrency`,
/// not every answer of the run (issue 17's answering in the run's own task kept sending).
const MAX_UNWRITTEN: usize = 4 * WRITE_BATCH;

/// The exit code of a run stopped by a closed pool.
const EXIT_POOL_CLOSED: u8 = 3;

/// Options of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Input file: JSON Lines of Zyte API requests (each may carry `sessionManagement`), or one
    /// URL per line; `-` reads standard input.
    #[arg(value_name = "INPUT")]
    input: PathBuf,
    /// Output file, JSON Lines, one answer per input; an existing one is resumed [default:
    /// standard output, which cannot be resumed].
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(long, visible_alias = "n-conn", value_name = "N", default_value_t = 20)]
    concurrency: usize,
    /// Input type [default: by extension (.jl, .jsonl: jl; .txt: txt), else jl when the first
    /// non-blank line starts with `{`].
    #[arg(long, value_enum)]
    intype: Option<InputType>,
    /// Seconds each input may take; an input not answered by then gets a `timeout` error line
    /// and the run goes on [default: the settings' `[sessions] request_timeout`, 600].
    #[arg(long, value_name = "SECS")]
    request_timeout_secs: Option<f64>,
    #[command(flatten)]
    host: HostArgs,
}

/// Why a run stopped before answering every input.
#[derive(Debug, Clone)]
enum Stop {
    Signal { name: &'static str, code: u8 },
    PoolClosed(Problem),
}

/// The first reason to stop, shared by the signal listener and the run.
type StopFlag = Arc<Mutex<Option<Stop>>>;

/// Runs the batch.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let text = read_input(&args.input)?;
    let kind = args
        .intype
        .unwrap_or_else(|| InputType::guess(&args.input, &text));
    // Each line is parsed as it is sent (see [`InputLine`]).
    let inputs: Vec<InputLine> = input_lines(&text).collect();
    if inputs.is_empty() {
        bail!("{}: no input (every line is blank)", args.input.display());
    }
    let total = inputs.len();
    let (sink, pending) = Sink::open(args.output.as_deref(), &args.input, inputs)?;
    if pending.is_empty() {
        eprintln!("all {total} inputs are answered already in {}", sink.name);
        return Ok(ExitCode::SUCCESS);
    }
    // Before the host's client is first used: this thread's requests go on its own connections.
    session_host::zyte::keep_thread_connections();
    let host = args.host.start().await?;
    let timeout = match args.request_timeout_secs {
        Some(value) => secs(value, "--request-timeout-secs")?,
        None => secs(
            host.settings.sessions.request_timeout,
            "[sessions] request_timeout",
        )?,
    };
    // Held to the end: the configs folder stays watched while the batch runs.
    let _watcher = host.watcher;
    if !host.settings.sessions.enabled {
        eprintln!(
            "note: sessions are off by default ([sessions] enabled = false in the settings): \
             only inputs with sessionManagement.enabled and configs that enable them use sessions"
        );
    }
    let stop = listen_for_signals()?;
    let engine = host.engine.clone();
    let progress = Progress::start(total, total - pending.len(), move || summary::live(&engine));
    let mut tally = Tally::default();
    let mut answered = total - pending.len();
    let flag = stop.clone();
    let engine = &host.engine;
    // The answers held unwritten (see [`MAX_UNWRITTEN`]), as this loop last counted them.
    let held = std::cell::Cell::new(0);
    let mut pending = pending.into_iter();
    // The next input to send: none once the run stops; not yet while too many answers wait
    // for the output. That `Pending` registers no waker: the loop below polls the answers
    // again after each write it waits for, and the gate only closes while a write is in
    // flight or about to start.
    let inputs = futures::stream::poll_fn(|_| {
        if flag.lock().is_some() {
            std::task::Poll::Ready(None)
        } else if held.get() >= MAX_UNWRITTEN {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(pending.next())
        }
    });
    let mut answers = inputs
        .map(|line| batch::answer(engine, line.parse(kind), timeout))
        .buffer_unordered(args.concurrency.max(1));
    // The answers taken and not written yet; the output, or the write that has it.
    let mut unwritten = Unwritten::default();
    let mut sink = Some(sink);
    let mut writing: Option<tokio::task::JoinHandle<anyhow::Result<(Sink, usize)>>> = None;
    let mut more = true;
    // How many answers the write in flight has.
    let mut in_write = 0;
    loop {
        // The requests are answered in this task, and go on while a write is in flight, so
        // that no deadline waits on the disk (issue 12) and no request is a task of its own
        // (issue 17: a spawn, and a wake-up of the run's task through the request's, per
        // request).
        tokio::select! {
            answer = answers.next(), if more => {
                let Some(first) = answer else {
                    more = false;
                    continue;
                };
                // The answers already finished are taken together, to be written together
                // (issue 17: one write, flush and wake-up per batch rather than per answer).
                // A closed pool is seen as its answer is taken, before another input is.
                let mut next = Some(first);
                while let Some(answer) = next.take() {
                    unwritten.take(answer, &progress, &mut tally, &stop);
                    if unwritten.count < WRITE_BATCH {
                        next = answers.next().now_or_never().flatten();
                    }
                }
            }
            written = async { writing.as_mut().expect("a write in flight").await },
                if writing.is_some() =>
            {
                writing = None;
                in_write = 0;
                let (back, count) = written.context("the output writer failed")??;
                sink = Some(back);
                answered += count;
            }
            else => break,
        }
        // The write and flush run on a blocking thread (a loaded disk can take a second), one
        // at a time, so the answers stay in the order they were taken.
        if writing.is_none() && unwritten.count > 0 {
            let (text, count) = (std::mem::take(&mut unwritten.text), unwritten.count);
            unwritten.count = 0;
            in_write = count;
            let mut out = sink.take().expect("no write in flight");
            writing = Some(tokio::task::spawn_blocking(move || {
                out.write(&text).map(|()| (out, count))
            }));
        }
        held.set(unwritten.count + in_write);
    }
    let sink = sink.expect("every write finished");
    let elapsed = progress.finish();
    if let Some(state) = &host.state {
        state.flush();
    }
    summary::write_table(&mut std::io::stderr(), &host.engine, &tally)?;
    let stopped = stop.lock().clone();
    Ok(outcome(
        stopped,
        answered,
        total,
        tally.errors(),
        elapsed,
        &sink,
    ))
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the input from standard input")?;
    } else {
        File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .with_context(|| format!("cannot read the input {}", path.display()))?;
    }
    Ok(text)
}

/// Answers taken and not written yet: their lines, and how many.
#[derive(Default)]
struct Unwritten {
    text: String,
    count: usize,
}

impl Unwritten {
    /// Takes `answer`: its line to write, its outcome counted, a closed pool's stopping the run.
    fn take(&mut self, answer: Answer, progress: &Progress, tally: &mut Tally, stop: &StopFlag) {
        self.text.push_str(&answer.text);
        self.count += 1;
        progress.record(answer.problem.is_none());
        tally.record(answer.pool.as_deref(), answer.problem.as_ref());
        if let Some(problem) = answer
            .problem
            .filter(|p| p.kind() == Some(ProblemKind::PoolClosed))
        {
            stop_for_closed_pool(stop, problem, progress);
        }
    }
}

/// Records the first closed pool as the reason to stop, and says so.
fn stop_for_closed_pool(stop: &StopFlag, problem: Problem, progress: &Progress) {
    let mut stop = stop.lock();
    if stop.is_none() {
        progress.println(&format!(
            "stopping: {}; no new inputs, waiting for those in flight",
            problem.detail
        ));
        *stop = Some(Stop::PoolClosed(problem));
    }
}

/// Listens for SIGINT and SIGTERM: the first stops the run, the second exits at once.
fn listen_for_signals() -> anyhow::Result<StopFlag> {
    let stop: StopFlag = Arc::default();
    let mut signals = Signals::listen()?;
    let flag = stop.clone();
    tokio::spawn(async move {
        let mut received = 0;
        loop {
            let (name, code) = signals.next().await;
            received += 1;
            if received > 1 {
                eprintln!(
                    "\n{name} again: exiting now; the run is incomplete (run the same command to resume)"
                );
                std::process::exit(code.into());
            }
            eprintln!(
                "\n{name}: no new inputs; waiting for those in flight ({name} again exits now)"
            );
            flag.lock().get_or_insert(Stop::Signal { name, code });
        }
    });
    Ok(stop)
}

/// Prints how the run ended and gives its exit code.
fn outcome(
    stop: Option<Stop>,
    answered: usize,
    total: usize,
    errors: u64,
    elapsed: std::time::Duration,
    sink: &Sink,
) -> ExitCode {
    let progress = format!("{answered} of {total} inputs answered in {}", sink.name);
    let resume = if sink.resumable {
        "run the same command to resume: answered inputs are skipped"
    } else {
        "the answers went to standard output, which cannot be resumed: use -o FILE"
    };
    let (code, message) = match stop {
        None => (
            0,
            format!(
                "done: {progress} ({errors} errors) in {:.1} s",
                elapsed.as_secs_f64()
            ),
        ),
        Some(Stop::Signal { name, code }) => (
            code,
            format!("interrupted by {name}: the run is incomplete, {progress}; {resume}"),
        ),
        Some(Stop::PoolClosed(problem)) if answered == total => (
            EXIT_POOL_CLOSED,
            format!(
                "{progress}, but {}: its inputs have error answers",
                problem.detail
            ),
        ),
        Some(Stop::PoolClosed(problem)) => (
            EXIT_POOL_CLOSED,
            format!(
                "stopped: {}; the run is incomplete, {progress}; fix the cause, then {resume}",
                problem.detail
            ),
        ),
    };
    eprintln!("\n{message}");
    ExitCode::from(code)
}

/// Where answers go: a file (resumable) or standard output.
struct Sink {
    out: Box<dyn Write + Send>,
    name: String,
    resumable: bool,
}

impl Sink {
    /// Opens the output and returns it with the input lines it has not answered yet.
    fn open<'a>(
        path: Option<&Path>,
        input: &Path,
        inputs: Vec<InputLine<'a>>,
    ) -> anyhow::Result<(Self, Vec<InputLine<'a>>)> {
        let Some(path) = path.filter(|p| *p != Path::new("-")) else {
            let sink = Self {
                out: Box::new(std::io::stdout()),
                name: "standard output".into(),
                resumable: false,
            };
            return Ok((sink, inputs));
        };
        let name = path.display().to_string();
        if same_file(path, input) {
            bail!("the output {name} is the input file: choose another output");
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("cannot open the output {name}"))?;
        // An advisory lock, held while the run writes (the file lives in the sink): a second run
        // on the same output would interleave answers and answer inputs twice (issue #13).
        if let Err(e) = file.try_lock() {
            bail!(
                "{name} is locked by another run writing it ({e}); wait for it, or choose another output"
            );
        }
        let answered = scan_answered(BufReader::new(&file))
            .with_context(|| format!("cannot resume {name}"))?;
        answered
            .check_against(&inputs)
            .with_context(|| format!("cannot resume {name} with the input {}", input.display()))?;
        if answered.partial_line {
            file.set_len(answered.keep_bytes)
                .with_context(|| format!("cannot cut the partial last line of {name}"))?;
            eprintln!("{name}: cut off a partial last line left by an interrupted run");
        }
        if !answered.lines.is_empty() {
            eprintln!(
                "{name}: resuming, {} of {} inputs answered already",
                answered.lines.len(),
                inputs.len()
            );
        }
        let pending = inputs
            .into_iter()
            .filter(|i| !answered.contains(i.number))
            .collect();
        let sink = Self {
            out: Box::new(file),
            name,
            resumable: true,
        };
        Ok((sink, pending))
    }

    /// Writes answers (whole lines) with a single write, and flushes them.
    fn write(&mut self, line: &str) -> anyhow::Result<()> {
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.flush())
            .with_context(|| format!("cannot write to {}", self.name))
    }
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
