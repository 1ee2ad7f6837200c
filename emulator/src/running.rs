//! Starting and stopping a served emulator.
//!
//! Policy: [`start`] binds before it returns (so a port-0 address is known at once) and serves
//! in a background tokio task. Dropping the handle stops accepting connections; [`shutdown`]
//! (`RunningEmulator::shutdown`) also waits for open connections to finish their current request,
//! up to [`crate::server`]'s 5-second grace period.
//!
//! [`shutdown`]: RunningEmulator::shutdown

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::EmulatorConfig;
use crate::error::EmulatorError;
use crate::stats::StatsSnapshot;
use crate::{emulator, server};

/// Binds `config.listen` and serves the emulator in a background tokio task.
///
/// Port 0 picks a free port: read it back with [`RunningEmulator::addr`].
pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
    let emulator = Arc::new(emulator::Emulator::new(&config)?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    let (stop, task) = server::spawn(listener, Arc::clone(&emulator));
    Ok(RunningEmulator {
        addr,
        emulator,
        stop,
        task: Some(task),
    })
}

/// A running emulator. Dropping it stops accepting connections; [`RunningEmulator::shutdown`]
/// also waits for open connections to finish.
#[derive(Debug)]
pub struct RunningEmulator {
    addr: SocketAddr,
    emulator: Arc<emulator::Emulator>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RunningEmulator {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Zyte API base URL to give clients, e.g. `http://127.0.0.1:8021/v1/` (loopback when
    /// bound to an unspecified address).
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            ip if !ip.is_unspecified() => ip,
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        };
        format!("http://{}/v1/", SocketAddr::new(ip, self.addr.port()))
    }

    /// The current stats (same as `GET /__emulator/stats`).
    pub fn stats(&self) -> StatsSnapshot {
        self.emulator.snapshot()
    }

    /// The emulator's clock: [`Clock::advance`] it to expire sessions in tests.
    pub fn clock(&self) -> &Clock {
        &self.emulator.clock
    }

    /// Clears sessions and counters (same as `POST /__emulator/reset`).
    pub fn reset(&self) {
        self.emulator.reset();
    }

    /// Stops accepting, lets open connections finish (up to 5 s), and returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
