//! `session-host serve`: the Zyte-API-compatible HTTP gateway ([`session_host::gateway`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use session_host::gateway::{self, GatewayConfig, GatewayKey, GatewayState};
use session_host::telemetry;

use super::host::{HostArgs, Signals, secs};

/// Options of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    host: HostArgs,
    /// Address to listen on. A non-loopback address requires --gateway-key.
    #[arg(long, value_name = "ADDR", default_value_t = gateway::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The key clients send as the HTTP Basic user name, like a Zyte API key. Without one, any
    /// key is accepted, and only on loopback.
    #[arg(
        long,
        value_name = "KEY",
        env = "SESSION_HOST_GATEWAY_KEY",
        hide_env_values = true
    )]
    gateway_key: Option<GatewayKey>,
    /// Largest accepted request body, in bytes (larger ones get a 413).
    #[arg(long, value_name = "BYTES", default_value_t = gateway::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Seconds one request may take before it is answered with a 504 `timeout` problem; its
    /// engine work stops then [default: the settings' `[sessions] request_timeout`, 600].
    #[arg(long, value_name = "SECS")]
    request_timeout_secs: Option<f64>,
    /// Seconds in-flight requests may drain after SIGTERM or SIGINT; those still running are
    /// then answered with a 503.
    #[arg(long, value_name = "SECS", default_value_t = gateway::DEFAULT_SHUTDOWN_TIMEOUT.as_secs_f64())]
    shutdown_timeout_secs: f64,
    /// Seconds a client may take to send a request's line and headers.
    #[arg(long, value_name = "SECS", default_value_t = gateway::EdgeLimits::default().header_read_timeout.as_secs_f64())]
    header_read_timeout_secs: f64,
    /// Most connections served at once; a new one past it is closed.
    #[arg(long, value_name = "N", default_value_t = gateway::EdgeLimits::default().max_connections)]
    max_connections: usize,
    /// Largest request line plus headers, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = gateway::EdgeLimits::default().max_header_bytes)]
    max_header_bytes: usize,
    /// Worker threads serving requests, dealt connections in turn, each with its own
    /// upstream connections [default: one per core].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

impl ServeArgs {
    fn config(&self) -> anyhow::Result<GatewayConfig> {
        Ok(GatewayConfig {
            listen: self.listen,
            key: self.gateway_key.clone(),
            max_body_bytes: self.max_body_bytes,
            request_timeout: match self.request_timeout_secs {
                Some(value) => secs(value, "--request-timeout-secs")?,
                None => gateway::DEFAULT_REQUEST_TIMEOUT,
            },
            shutdown_timeout: secs(self.shutdown_timeout_secs, "--shutdown-timeout-secs")?,
            edges: gateway::EdgeLimits {
                header_read_timeout: secs(
                    self.header_read_timeout_secs,
                    "--header-read-timeout-secs",
                )?,
                max_connections: self.max_connections.max(1),
                max_header_bytes: self.max_header_bytes,
                ..gateway::EdgeLimits::default()
            },
            workers: self.workers.unwrap_or_else(gateway::default_workers).max(1),
            // Set by `run` once the engine exists.
            metrics: None,
        })
    }
}

/// Binds first (so a refused address fails before any config loads), then starts the engine
/// and serves until SIGTERM or SIGINT.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = args.config()?;
    let listener = gateway::bind_workers(&config)?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    config.listen = addr; // the port actually bound, for /status, when asked for port 0
    let signal = shutdown_signal()?;
    telemetry::install()?;
    let host = args.host.start().await?;
    if args.request_timeout_secs.is_none() {
        let setting = host.settings.sessions.request_timeout;
        config.request_timeout = secs(setting, "[sessions] request_timeout")?;
    }
    let engine = host.engine.clone();
    config.metrics = Some(Arc::new(move || telemetry::scrape(&engine)));
    let state = GatewayState::new(host.engine.clone(), config);
    let upstream = &host.settings.upstream.url;
    let key_required = state.config().key.is_some();
    let workers = state.config().workers.max(1);
    tracing::info!(%addr, %upstream, key_required, workers, "gateway listening");
    // A stable line on stdout, for scripts and tests that start the gateway on port 0.
    println!("session-host gateway listening on http://{addr}/v1/");
    gateway::serve_workers(listener, state, signal).await?;
    drop(host.watcher);
    if let Some(state) = &host.state {
        state.flush();
    }
    tracing::info!("gateway stopped");
    Ok(())
}

/// Listens for SIGINT (Ctrl-C) and SIGTERM from now on; the future completes on either.
/// Registered before the gateway announces itself, so no early signal kills it uncleanly.
pub(super) fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let mut signals = Signals::listen()?;
    Ok(async move {
        let (name, _) = signals.next().await;
        tracing::info!("{name} received");
    })
}
