//! The per-pool summary that the batch commands (`run`, `demo`) print at the end, and the live
//! one-line version their progress display shows.
//!
//! Columns, per pool: `requests` and `errors` are this run's inputs that the pool served or
//! refused; the others come from the engine's stats (the reference's names, section 8):
//! `created` = `init/check-passed`; `refreshed` = created sessions no longer live (retired and
//! replaced); `uses` = every `use/*` outcome; `bans` = `use/failed` (520/521 answers);
//! `check ✗` = `use/check-failed`; `success` = `use/check-passed` / `uses`.

use std::collections::BTreeMap;
use std::io::{self, Write};

use session_host::engine::stats::POOL_KEYS;
use session_host::engine::{Engine, PoolSnapshot, StatsSnapshot};
use session_host::problem::Problem;

/// What a run's answers were, per pool and per cause of error.
#[derive(Debug, Default)]
pub struct Tally {
    /// Per pool: requests, errors.
    per_pool: BTreeMap<String, (u64, u64)>,
    /// Per error label: count.
    errors: BTreeMap<String, u64>,
}

impl Tally {
    /// Counts one answer: from `pool` (when known), failed with `problem` (when it failed).
    pub fn record(&mut self, pool: Option<&str>, problem: Option<&Problem>) {
        if let Some(pool) = pool {
            let entry = self.per_pool.entry(pool.to_owned()).or_default();
            entry.0 += 1;
            entry.1 += u64::from(problem.is_some());
        }
        if let Some(problem) = problem {
            *self.errors.entry(error_label(problem)).or_default() += 1;
        }
    }

    /// Answers that are errors.
    pub fn errors(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// A short label of an error, for counting: its title, with a closed pool's reason.
pub fn error_label(problem: &Problem) -> String {
    match problem.reason() {
        Some(reason) => format!("{} ({reason})", problem.title),
        None => problem.title.clone(),
    }
}

/// Sessions created and retired, bans and closed pools, over all pools: the live line.
pub fn live(engine: &Engine) -> String {
    let (stats, pools) = (engine.stats(), engine.pools());
    let total = |key: &str| pools.iter().map(|p| stats.pool(&p.id, key)).sum::<u64>();
    let created = total("init/check-passed");
    let live: u64 = pools.iter().map(|p| p.sessions.len() as u64).sum();
    let closed = pools.iter().filter(|p| p.closed.is_some()).count();
    format!(
        "{} pools ({closed} closed), sessions: {created} created, {} refreshed, {} bans",
        pools.len(),
        created.saturating_sub(live),
        total("use/failed"),
    )
}

/// Writes the table of every pool of `engine`, then the errors by cause.
pub fn write_table(out: &mut dyn Write, engine: &Engine, tally: &Tally) -> io::Result<()> {
    let stats = engine.stats();
    writeln!(out)?;
    writeln!(
        out,
        "{:<38} {:>8} {:>6} {:>7} {:>9} {:>6} {:>5} {:>7} {:>7}  state",
        "pool", "requests", "errors", "created", "refreshed", "uses", "bans", "check ✗", "success"
    )?;
    for pool in engine.pools() {
        write_row(out, &pool, &stats, tally)?;
    }
    if !tally.errors.is_empty() {
        writeln!(out, "\nerrors, by cause:")?;
        for (label, count) in &tally.errors {
            writeln!(out, "  {count:>6}  {label}")?;
        }
    }
    Ok(())
}

fn write_row(
    out: &mut dyn Write,
    pool: &PoolSnapshot,
    stats: &StatsSnapshot,
    tally: &Tally,
) -> io::Result<()> {
    let (requests, errors) = tally.per_pool.get(&pool.id).copied().unwrap_or_default();
    let counter = |key: &str| stats.pool(&pool.id, key);
    let created = counter("init/check-passed");
    // Every outcome of using a session: the `use/*` keys.
    let uses: u64 = POOL_KEYS
        .iter()
        .filter(|k| k.starts_with("use/"))
        .map(|k| counter(k))
        .sum();
    let success = match uses {
        0 => "-".to_owned(),
        _ => format!(
            "{:.0}%",
            100.0 * counter("use/check-passed") as f64 / uses as f64
        ),
    };
    let state = match &pool.closed {
        Some(reason) => format!("closed: {reason}"),
        None => format!("{} live", pool.sessions.len()),
    };
    writeln!(
        out,
        "{:<38} {requests:>8} {errors:>6} {created:>7} {:>9} {uses:>6} {:>5} {:>7} {success:>7}  {state}",
        pool.id,
        created.saturating_sub(pool.sessions.len() as u64),
        counter("use/failed"),
        counter("use/check-failed"),
    )?;
    for retired in pool.retired.iter().rev().take(2) {
        let id = retired.id.split('-').next().unwrap_or(&retired.id);
        let why = retired.retired_because.as_deref().unwrap_or("?");
        writeln!(out, "    retired {id}: {why}")?;
    }
    Ok(())
}
