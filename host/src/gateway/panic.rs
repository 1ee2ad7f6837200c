//! The gateway's safety net for bugs: a panic while answering one request becomes a 500
//! `internal` problem for that request alone.
//!
//! # Policy
//!
//! - **Where.** [`contain`] wraps every route (in the outermost layer, `serve::edge`, under
//!   the request's span), the engine's work for a request included (it runs in the request's handler). The connection, the other requests
//!   and the engine go on.
//! - **What the client sees.** A fixed message ([`PANIC_DETAIL`]): never the panic text, which
//!   may quote internal state. The text goes to the host's log (standard error, by Rust's panic
//!   hook), with a `tracing` error saying which request failed.
//! - **Not a substitute for fixing.** Client input must never panic (issue 12); this net only
//!   keeps a bug from taking down more than the request that hit it.

use std::panic::AssertUnwindSafe;

use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;

use crate::problem::{Problem, ProblemKind};

/// The `detail` of the problem a panic becomes.
pub const PANIC_DETAIL: &str = "the host failed while answering this request (a bug, logged by the host); other requests are unaffected";

/// Runs `work`, the rest of the stack for a request `method uri`, turning a panic into a 500
/// `internal` problem. `work` is the handler itself or the layers under this one
/// (`serve::edge` runs it for every route).
pub(super) async fn contain(
    method: &Method,
    uri: &Uri,
    work: impl Future<Output = Response>,
) -> Response {
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            // Formatted only on a panic: the route is not formatted for every request.
            let route = format!("{method} {}", uri.path());
            tracing::error!(%route, "a request handler panicked; answered 500 internal");
            internal().into_response()
        }
    }
}

/// [`contain`] as a middleware of its own, for these tests.
#[cfg(test)]
async fn catch_panic(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    contain(&method, &uri, next.run(request)).await
}

fn internal() -> Problem {
    Problem::new(ProblemKind::Internal, PANIC_DETAIL)
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("secret internal state 1234")
    }

    /// As the engine's work for a request: a panic after the handler has yielded (issue 17:
    /// the engine runs in the handler, not in a task of its own).
    async fn after_await() -> &'static str {
        tokio::task::yield_now().await;
        panic!("secret after an await")
    }

    fn app() -> Router {
        Router::new()
            .route("/boom", get(boom))
            .route("/ok", get(|| async { "fine" }))
            .route("/after-await", get(after_await))
            .layer(axum::middleware::from_fn(catch_panic))
    }

    async fn call(app: &Router, path: &str) -> (StatusCode, String, String) {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = app.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let kind = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map_or("", |v| v.to_str().unwrap_or(""));
        let kind = kind.to_owned();
        let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
        (status, kind, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn issue_12_a_panicking_handler_is_a_500_problem_without_its_text() {
        let app = app();
        for path in ["/boom", "/after-await"] {
            let (status, kind, body) = call(&app, path).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            assert_eq!(kind, "application/problem+json", "{path}");
            assert!(body.contains(PANIC_DETAIL), "{path}: {body}");
            assert!(!body.contains("secret"), "{path}: {body}");
        }
        assert_eq!(
            call(&app, "/ok").await.2,
            "fine",
            "the next request is served"
        );
    }
}
