//! `session-host state show|clear`: the pools and sessions a host keeps in its state dir
//! ([`session_host::store::state`]). Both refuse a state dir that a running host holds.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::{Value, json};
use session_host::settings::SessionSettings;
use session_host::store::StateDb;
use session_host::store::record::Wall;
use session_host::store::state::{ReadBounds, StoredPool};

use super::host::state_dir;

/// The state commands.
#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Show the pools and sessions kept in the state dir, with their ages.
    Show(ShowArgs),
    /// Delete the kept state of one pool, or of every pool.
    Clear(ClearArgs),
}

/// Options of `state show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The state dir [default: $XDG_STATE_HOME/session-host, else ~/.local/state/session-host].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Options of `state clear`.
#[derive(Debug, clap::Args)]
pub struct ClearArgs {
    /// The state dir [default: $XDG_STATE_HOME/session-host, else ~/.local/state/session-host].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Only this pool.
    #[arg(long, value_name = "ID")]
    pool: Option<String>,
}

/// Runs a state command.
pub fn run(command: StateCommand) -> anyhow::Result<()> {
    match command {
        StateCommand::Show(args) => show(&args),
        StateCommand::Clear(args) => clear(&args),
    }
}

fn open(dir: Option<&PathBuf>) -> anyhow::Result<StateDb> {
    let dir = state_dir(dir, false)?.context("no state dir")?;
    Ok(StateDb::open_existing(&dir)?)
}

fn show(args: &ShowArgs) -> anyhow::Result<()> {
    let db = open(args.state_dir.as_ref())?;
    let settings = SessionSettings::default();
    let bounds = ReadBounds {
        max_pools: settings.max_pools,
        max_sessions: usize::try_from(settings.max_pool_size).unwrap_or(usize::MAX),
    };
    let pools = db.read(bounds)?;
    let wall = Wall::now();
    let report = json!({
        "file": db.file().display().to_string(),
        "pools": pools.iter().map(|p| pool_json(p, &wall)).collect::<Vec<_>>(),
    });
    if args.json {
        println!("{report:#}");
    } else {
        print_text(&report);
    }
    Ok(())
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

fn pool_json(p: &StoredPool, wall: &Wall) -> Value {
    let sessions: Vec<Value> = p
        .sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "age_secs": secs(wall.age_ms(s.created)),
                "idle_secs": secs(wall.age_ms(s.last_use)),
                "uses": s.uses,
                "check_failures": s.check_failures,
                "errors": s.errors,
            })
        })
        .collect();
    let retired: Vec<Value> = p
        .pool
        .retired
        .iter()
        .map(|r| json!({"id": r.session.id, "reason": r.reason}))
        .collect();
    json!({
        "id": p.id,
        "size": p.pool.size,
        "delay": p.pool.delay,
        "closed": p.pool.closed,
        "bad_inits": p.pool.bad_inits,
        "sessions": sessions,
        "retired": retired,
    })
}

fn print_text(report: &Value) {
    println!(
        "state file: {}",
        report["file"].as_str().unwrap_or_default()
    );
    let pools = report["pools"].as_array().cloned().unwrap_or_default();
    if pools.is_empty() {
        println!("no pools");
    }
    for p in pools {
        let sessions = p["sessions"].as_array().cloned().unwrap_or_default();
        let closed = match p["closed"].as_str() {
            Some(reason) => format!(", closed: {reason}"),
            None => String::new(),
        };
        println!(
            "pool {}: {} of {} sessions{closed}",
            p["id"].as_str().unwrap_or_default(),
            sessions.len(),
            p["size"]
        );
        for s in sessions {
            println!(
                "  {}  age {:.1}s  idle {:.1}s  uses {}",
                s["id"].as_str().unwrap_or_default(),
                s["age_secs"].as_f64().unwrap_or_default(),
                s["idle_secs"].as_f64().unwrap_or_default(),
                s["uses"]
            );
        }
    }
}

fn clear(args: &ClearArgs) -> anyhow::Result<()> {
    let db = open(args.state_dir.as_ref())?;
    let file = db.file().display().to_string();
    let cleared = db
        .clear(args.pool.as_deref())
        .map_err(|e| anyhow::anyhow!("cannot write the state file {file}: {e}"))?;
    match (&args.pool, cleared.len()) {
        (Some(id), 0) => anyhow::bail!("no pool {id:?} in the state file {file}"),
        (_, n) => println!("cleared {n} pool(s) from {file}"),
    }
    Ok(())
}
