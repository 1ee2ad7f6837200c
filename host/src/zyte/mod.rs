//! The Zyte API client and its retry policies.
//!
//! # Policy
//!
//! - **Endpoint.** `POST {url}extract`, where `url` is `ZYTE_API_URL` if set, else the
//!   `[upstream] url` setting (default `https://api.zyte.com/v1/`).
//! - **Authentication.** HTTP basic auth, the key from `ZYTE_API_KEY` as the user name. The key
//!   lives in an [`ApiKey`], whose `Debug` and `Display` print `***`: it never appears in logs,
//!   in errors, or in anything handed to a guest (guests get only Zyte API's answers).
//! - **Connections.** One pooled hyper client (rustls with Mozilla's roots, HTTP/1.1 and HTTP/2
//!   by ALPN) shared by all clones, so connections are reused; at most `[upstream]
//!   max_idle_connections` idle ones per host are kept, each for 90 s. Redirects are never
//!   followed. A proxy named by `HTTPS_PROXY`, `HTTP_PROXY` or `ALL_PROXY` (minus `NO_PROXY`)
//!   is used as a CONNECT tunnel, as reqwest did before issue 17. A thread that asked for it
//!   ([`keep_thread_connections`]: the gateway's workers, and `run`'s one thread) keeps
//!   HTTP/1.1 connections of its own, under the same bounds (`worker_connections`, issue 17).
//! - **Timeout.** Each attempt is bounded by `[upstream] timeout_secs` (default 320 s, like
//!   python-zyte-api: Zyte API's own 200 s plus 120 s). A timeout is a network error.
//! - **Errors.** A non-200 answer becomes [`ZyteError::Api`] with its status, the problem+json
//!   `type` when the body has one, the raw body and the `request-id`. No answer becomes
//!   [`ZyteError::Transport`].
//! - **Retries.** The four policies of the reference ([`retry`]): which errors are retried, how
//!   many attempts, the 15-minute network-error window and the waits. Every wait is multiplied
//!   by `[upstream] wait_scale` (0 in tests). `Retry-After` is ignored, like python-zyte-api.
//! - **Metrics.** Each HTTP attempt (not each call: retries are attempts of their own) is timed
//!   by outcome, status class or transport error ([`crate::telemetry`]).

mod client;
mod error;
mod key;
pub mod retry;
mod worker_connections;

pub use client::{ApiResponse, Client, ClientError};
pub use error::{ZyteError, problem_type};
pub use key::{ApiKey, KEY_ENV};
pub use retry::RetryPolicy;
pub use worker_connections::keep_thread_connections;
