//! The `session-host` command line. A thin shell over the library: parse, run, report.

use std::process::ExitCode;

mod cli;

/// mimalloc instead of glibc's allocator (issue 17): a gateway request allocates and frees
/// small blocks on several threads, and glibc's `malloc`, `free` and their consolidation took
/// about a tenth of the gateway's CPU time in `perf` (its arenas are shared between threads
/// under a lock; mimalloc keeps a heap per thread). Only the binary: the library leaves the
/// choice to whoever links it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::main()
}
