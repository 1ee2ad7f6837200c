//! The `session-host` command line. A thin shell over the library: parse, run, report.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    cli::main()
}
