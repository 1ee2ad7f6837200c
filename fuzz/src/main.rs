//! `session-host-fuzz`: a stable, in-process mutational fuzzer for the targets of
//! [`session_host_fuzz::TARGETS`].
//!
//! # Policy
//!
//! - **Inputs**: every file of `CORPUS/TARGET/` is run as is, then mutated (byte edits, splices
//!   of the target's dictionary, range deletions and duplications, crossovers between seeds,
//!   and rarely a token repeated up to 70,000 times: huge hosts). Inputs are capped at
//!   [`MAX_INPUT_BYTES`]. The random generator is seeded (`--seed`), so a run is repeatable.
//! - **Budget**: `--inputs N` per target, or `--seconds S` for all targets together (split
//!   evenly), whichever ends first.
//! - **A panic** is caught, counted, printed with its message, and its input saved under
//!   `CRASHES/TARGET/`; the run goes on and exits 1 at the end. Exit 0 means no panic.
//! - No coverage feedback: the dictionaries and the corpus steer the search instead. The
//!   libFuzzer build of the same targets would need an instrumented wasmtime (a second
//!   15-20 minute build), which this driver avoids by sharing the workspace's release build.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use session_host_fuzz::{FuzzTarget, TARGETS};

/// Largest input the mutator produces (a 70,000-character host fits).
const MAX_INPUT_BYTES: usize = 128 * 1024;

/// How often a long run reports its progress on standard error, in inputs.
const PROGRESS_EVERY: u64 = 1_000_000;

/// Runs the fuzz targets; exits 1 when any input panicked.
#[derive(Debug, Parser)]
struct Args {
    /// Targets to run (default: all).
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// Inputs per target.
    #[arg(long, default_value_t = u64::MAX, hide_default_value = true)]
    inputs: u64,
    /// Time for all targets together, split evenly [default: no limit].
    #[arg(long)]
    seconds: Option<f64>,
    /// Seed of the random generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The corpus folder, one subfolder per target.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus"))]
    corpus: PathBuf,
    /// Where panicking inputs are saved, one subfolder per target.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/crashes"))]
    crashes: PathBuf,
}

/// What one target's run found.
struct Tally {
    inputs: u64,
    panics: u64,
    elapsed: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let targets: Vec<&FuzzTarget> = TARGETS
        .iter()
        .filter(|t| args.targets.is_empty() || args.targets.iter().any(|n| n == t.name))
        .collect();
    if targets.is_empty() {
        let names: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
        eprintln!("no such target; the targets are: {}", names.join(", "));
        return ExitCode::from(2);
    }
    let message = silence_panics();
    let budget = args
        .seconds
        .map(|s| Duration::from_secs_f64(s / targets.len() as f64));
    let mut panics = 0;
    for target in targets {
        let tally = fuzz(target, &args, budget, &message);
        println!(
            "{:<16} {:>12} inputs {:>4} panics in {:>7.1} s ({:.0}/s)",
            target.name,
            tally.inputs,
            tally.panics,
            tally.elapsed.as_secs_f64(),
            tally.inputs as f64 / tally.elapsed.as_secs_f64().max(1e-9),
        );
        panics += tally.panics;
    }
    if panics == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{panics} panics; inputs saved under {}",
            args.crashes.display()
        );
        ExitCode::FAILURE
    }
}

/// Replaces the panic hook with one that keeps the last message for the driver to print.
fn silence_panics() -> Arc<Mutex<String>> {
    let message = Arc::new(Mutex::new(String::new()));
    let slot = message.clone();
    panic::set_hook(Box::new(move |info| {
        if let Ok(mut slot) = slot.lock() {
            *slot = info.to_string();
        }
    }));
    message
}

/// Runs one target on its corpus, then on mutations, within the budget.
fn fuzz(
    target: &FuzzTarget,
    args: &Args,
    budget: Option<Duration>,
    message: &Mutex<String>,
) -> Tally {
    let seeds = read_corpus(&args.corpus.join(target.name));
    let mut rng = SmallRng::seed_from_u64(args.seed);
    let start = Instant::now();
    let mut tally = Tally {
        inputs: 0,
        panics: 0,
        elapsed: Duration::ZERO,
    };
    let out_of_time = |tally: &Tally| {
        tally.inputs.is_multiple_of(256) && budget.is_some_and(|b| start.elapsed() >= b)
    };
    while tally.inputs < args.inputs && !out_of_time(&tally) {
        let input = match seeds.get(tally.inputs as usize) {
            Some(seed) => seed.clone(),
            None => mutate(&seeds, target.dictionary, &mut rng),
        };
        tally.inputs += 1;
        if tally.inputs.is_multiple_of(PROGRESS_EVERY) {
            eprintln!(
                "{}: {} inputs, {} panics so far",
                target.name, tally.inputs, tally.panics
            );
        }
        if panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&input))).is_err() {
            tally.panics += 1;
            let text = message.lock().map(|m| m.clone()).unwrap_or_default();
            let saved = save_crash(&args.crashes.join(target.name), &input);
            eprintln!("{}: PANIC ({text}); input saved as {saved}", target.name);
        }
    }
    tally.elapsed = start.elapsed();
    tally
}

/// The files of a corpus folder (none when it does not exist).
fn read_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    let seeds: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    if seeds.is_empty() {
        vec![Vec::new()]
    } else {
        seeds
    }
}

/// Saves a panicking input, named by its hash; returns the path (or why it was not saved).
fn save_crash(dir: &Path, input: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    input.hash(&mut hasher);
    let path = dir.join(format!("crash-{:016x}", hasher.finish()));
    match std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, input)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(not saved: {e})"),
    }
}

/// A seed with one to eight random edits.
fn mutate(seeds: &[Vec<u8>], dictionary: &[&str], rng: &mut SmallRng) -> Vec<u8> {
    let mut input = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..=8) {
        edit(&mut input, seeds, dictionary, rng);
    }
    input.truncate(MAX_INPUT_BYTES);
    input
}

/// One random edit of `input`.
fn edit(input: &mut Vec<u8>, seeds: &[Vec<u8>], dictionary: &[&str], rng: &mut SmallRng) {
    let at = rng.random_range(0..=input.len());
    match rng.random_range(0..100) {
        0..30 => {
            let token = dictionary[rng.random_range(0..dictionary.len())];
            input.splice(at..at, token.bytes());
        }
        30..45 if at < input.len() => input[at] = rng.random(),
        45..55 => input.insert(at, rng.random_range(0x20..0x7f)),
        55..70 => {
            let end = rng.random_range(at..=input.len().min(at + 16));
            input.drain(at..end);
        }
        70..80 => {
            let end = rng.random_range(at..=input.len().min(at + 32));
            let copy = input[at..end].to_vec();
            input.splice(at..at, copy);
        }
        80..90 => {
            let other = &seeds[rng.random_range(0..seeds.len())];
            let from = rng.random_range(0..=other.len());
            input.splice(at..at, other[from..].iter().copied());
        }
        90..99 => {
            let token = dictionary[rng.random_range(0..dictionary.len())];
            let copies = rng.random_range(2..64);
            input.splice(at..at, token.repeat(copies).into_bytes());
        }
        99 => {
            let token = ["a", "a.", ".", "\u{440}", "[", "%", "{\"a\":"][rng.random_range(0..7)];
            let copies = rng.random_range(1_000..=70_000);
            input.splice(at..at, token.repeat(copies).into_bytes());
        }
        _ => {}
    }
}
