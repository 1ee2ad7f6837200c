//! `session-host-componentize IN OUT`: writes the component for the core module `IN` to `OUT`
//! (see the library's docs). Exit status 2 on bad arguments, 1 on any other failure.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: session-host-componentize IN.wasm OUT.wasm");
        return ExitCode::from(2);
    };
    match run(input, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(input: &str, output: &str) -> Result<(), String> {
    let module = std::fs::read(input).map_err(|e| format!("{input}: {e}"))?;
    let component =
        session_host_componentize::componentize(&module).map_err(|e| format!("{input}: {e}"))?;
    // Write under a temporary name and rename, so a reader never sees half a component.
    let partial = format!("{output}.partial");
    std::fs::write(&partial, component).map_err(|e| format!("{partial}: {e}"))?;
    std::fs::rename(&partial, output).map_err(|e| format!("{output}: {e}"))
}
