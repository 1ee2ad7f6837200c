//! The service hyper runs for each connection: `POST /v1/extract` served directly, every other
//! request through the [router](super::router).
//!
//! Policy (issue 17): the hot route skips axum's router and its `from_fn` layers (a route
//! lookup, boxed futures and service clones per layer and per request) and runs the same
//! steps itself, in the same order: [`serve::guard`](super::serve::guard) (request id and
//! span, the span named `extract` with `request_id` as its one field, opened at the request's
//! first log line (`gateway/request_span.rs`), panic net, request timeout, shutdown cut-off),
//! then [`auth::admit`] (the gateway key, or the browser guard of a keyless gateway), then the
//! handler with its body limit. Any other method or path (a `GET /v1/extract` included, which
//! the router answers 405) goes to the router unchanged, so every answer is the same as the
//! router's own.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{Method, Request};
use axum::response::{IntoResponse, Response};
use futures::future::Either;
use hyper_util::service::{TowerToHyperService, TowerToHyperServiceFuture};

use super::request_id::RequestSpan;
use super::{GatewayState, auth, handlers, serve};

/// The path served directly.
const EXTRACT: &str = "/v1/extract";

/// The per-connection service (see the module policy). Cheap to clone.
#[derive(Clone)]
pub(super) struct Front {
    state: GatewayState,
    router: TowerToHyperService<Router>,
}

impl Front {
    /// The service of `state`, with `router` (built from the same state) for other requests.
    pub(super) fn new(state: GatewayState, router: Router) -> Self {
        Self {
            state,
            router: TowerToHyperService::new(router),
        }
    }
}

type Direct = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Generic over the request body: hyper's `Incoming` when serving, axum's `Body` in the
/// gateway's unit tests, which go through this service as the server does.
impl<B> hyper::service::Service<Request<B>> for Front
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Direct, TowerToHyperServiceFuture<Router, Request<B>>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        if request.method() != Method::POST || request.uri().path() != EXTRACT {
            return Either::Right(self.router.call(request));
        }
        let state = self.state.clone();
        Either::Left(Box::pin(async move {
            let request = request.map(Body::new);
            let span = RequestSpan::Extract;
            let answer = serve::guard(&state, request, span, |request, deadline| {
                extract(&state, request, deadline)
            });
            Ok(answer.await)
        }))
    }
}

/// `POST /v1/extract` as the router serves it under [`serve::guard`]: the key check, then
/// the handler.
async fn extract(
    state: &GatewayState,
    request: Request<Body>,
    deadline: crate::engine::Deadline,
) -> Response {
    match auth::admit(state, &request) {
        Ok(()) => handlers::extract_by(state, request, deadline)
            .await
            .into_response(),
        Err(problem) => problem.into_response(),
    }
}
