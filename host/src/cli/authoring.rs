//! `session-host new` and `session-host plugin build|trace|test`: the authoring commands
//! (issue 18; the library side is [`session_host::authoring`]).

use std::path::PathBuf;
use std::process::ExitCode;

use session_host::authoring::new::{DEFAULT_SITE, NewProject, scaffold};
use session_host::authoring::{Lang, build};

/// Options of `new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The config's name: lowercase letters, digits and '-' (the `.wasm` file's stem).
    name: String,
    /// The language of the source.
    #[arg(long, value_enum)]
    lang: Lang,
    /// The site the config is for (its rules include it).
    #[arg(long, value_name = "DOMAIN", default_value = DEFAULT_SITE)]
    site: String,
    /// The folder the project folder NAME is created in.
    #[arg(long, value_name = "PARENT", default_value = ".")]
    dir: PathBuf,
}

/// `new`: scaffolds the project and prints the next command.
pub fn new(args: NewArgs) -> anyhow::Result<ExitCode> {
    let spec = NewProject {
        name: args.name,
        lang: args.lang,
        site: args.site,
        parent: args.dir,
    };
    let dir = scaffold(&spec)?;
    println!(
        "created {} ({} config for {}): edit {}",
        dir.display(),
        spec.lang.display_name(),
        spec.site,
        dir.join(spec.lang.source()).display()
    );
    println!("next: session-host plugin build {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// `plugin build`: builds the project and prints the next command.
pub fn build(dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    let built = build::build(&dir)?;
    println!(
        "built {} ({} bytes) in {:.1} s",
        built.output.display(),
        built.bytes,
        built.elapsed.as_secs_f64()
    );
    let site = built.project.site.as_deref().unwrap_or(DEFAULT_SITE);
    let dist = built.output.parent().unwrap_or(&dir).display().to_string();
    println!("next: session-host plugin trace https://{site}/ --configs {dist}");
    Ok(ExitCode::SUCCESS)
}

/// Options of `plugin trace`.
#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// The URL to request.
    url: String,
    /// Folder of session configs (e.g. a project's dist/).
    #[arg(long, value_name = "DIR")]
    configs: PathBuf,
    /// Send the request to the built-in emulator (the default).
    #[arg(long, conflicts_with = "upstream")]
    emulator: bool,
    /// Send the request to this Zyte API URL instead, with the key in $ZYTE_API_KEY.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Zyte API fields of the request, a JSON object (default: {"httpResponseBody": true}).
    #[arg(long, value_name = "JSON")]
    body: Option<String>,
    /// Settings file (its [sessions]); default: the defaults with sessions enabled.
    #[arg(long = "config", value_name = "FILE")]
    settings: Option<PathBuf>,
    /// Print the trace as JSON.
    #[arg(long)]
    json: bool,
}

/// `plugin trace`.
pub async fn trace(args: TraceArgs) -> anyhow::Result<ExitCode> {
    use session_host::authoring::trace::{self, Upstream};
    let upstream = match args.upstream {
        None => Upstream::Emulator,
        Some(url) => {
            let key = session_host::zyte::ApiKey::from_env().ok_or_else(|| {
                anyhow::anyhow!(
                    "--upstream needs the Zyte API key in ${}",
                    session_host::zyte::KEY_ENV
                )
            })?;
            Upstream::Url(url, key)
        }
    };
    let body = match &args.body {
        None => serde_json::json!({"httpResponseBody": true}),
        Some(text) => serde_json::from_str(text).map_err(|e| anyhow::anyhow!("--body: {e}"))?,
    };
    let serde_json::Value::Object(body) = body else {
        anyhow::bail!("--body: expected a JSON object");
    };
    let settings = match &args.settings {
        Some(path) => Some(session_host::settings::HostSettings::load(path)?.sessions),
        None => None,
    };
    let trace = trace::trace(&args.url, &args.configs, upstream, settings, body).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&trace)?);
    } else {
        print!("{}", trace::render(&trace));
    }
    Ok(ExitCode::SUCCESS)
}

/// `plugin test`: runs a scenario; exit 1 when a case fails.
pub async fn test(target: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    use session_host::authoring::scenario;
    let target = target.unwrap_or_else(|| PathBuf::from("."));
    let loaded = scenario::load(&target)?;
    let results = scenario::run(&loaded).await?;
    let failed = results.iter().filter(|r| !r.passed()).count();
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        for result in &results {
            let mark = if result.passed() { "PASS" } else { "FAIL" };
            println!("{mark} {}", result.name);
            for difference in &result.differences {
                println!("     {difference}");
            }
        }
        println!(
            "{}: {} passed, {failed} failed",
            loaded.file.display(),
            results.len() - failed
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
