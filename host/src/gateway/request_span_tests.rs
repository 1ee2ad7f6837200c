//! The lazily opened `extract` span (issue 17, sixth round): the same log lines as the span
//! opened with every request, and no span for a request that logs nothing.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, SubscriberExt as _};

use super::RequestSpans;
use crate::engine::Engine;
use crate::gateway::request_id::RequestSpan;
use crate::gateway::{GatewayConfig, GatewayState, serve};
use crate::settings::{SessionSettings, UpstreamSettings};
use crate::zyte::{ApiKey, Client};

/// The log lines written, shared with the subscriber's writer.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("lines").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lines")).into_owned()
    }
}

/// Spans opened and closed, whoever opened them.
#[derive(Clone, Default)]
struct Spans(Arc<(AtomicUsize, AtomicUsize)>);

impl Spans {
    fn opened(&self) -> usize {
        self.0.0.load(Ordering::SeqCst)
    }

    fn closed(&self) -> usize {
        self.0.1.load(Ordering::SeqCst)
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(&self, _: &tracing::span::Attributes<'_>, _: &tracing::Id, _: Context<'_, S>) {
        self.0.0.fetch_add(1, Ordering::SeqCst);
    }

    fn on_close(&self, _: tracing::Id, _: Context<'_, S>) {
        self.0.1.fetch_add(1, Ordering::SeqCst);
    }
}

/// `subscriber`, wrapped in [`RequestSpans`] when `lazy` (as the binary installs it), else as
/// an embedder's would be.
fn dispatch<S>(lazy: bool, subscriber: S) -> Dispatch
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    if lazy {
        Dispatch::new(RequestSpans::new(subscriber))
    } else {
        Dispatch::new(subscriber)
    }
}

/// The log formatter of `cli/logging.rs` (text or JSON, without colour or time), filtered by
/// `filter`, writing to the answered lines, counting spans in the answered counter.
fn logger(lazy: bool, json: bool, filter: &str) -> (Dispatch, Lines, Spans) {
    let (lines, spans) = (Lines::default(), Spans::default());
    let writer = lines.clone();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time();
    let dispatch = if json {
        dispatch(lazy, builder.json().finish().with(spans.clone()))
    } else {
        dispatch(lazy, builder.finish().with(spans.clone()))
    };
    (dispatch, lines, spans)
}

fn state() -> GatewayState {
    let upstream = UpstreamSettings {
        url: "http://127.0.0.1:9/v1/".to_owned(),
        ..UpstreamSettings::default()
    };
    let client = Client::new(&upstream, ApiKey::new("upstream-key")).expect("client");
    let engine = Engine::new(SessionSettings::default(), client);
    GatewayState::new(engine, GatewayConfig::default())
}

fn extract(id: &str) -> Request<Body> {
    Request::post("/v1/extract")
        .header("x-request-id", id)
        .body(Body::empty())
        .expect("request")
}

/// A request served as `POST /v1/extract` is, whose work logs when `logs`, across polls.
async fn serve_one(state: &GatewayState, id: &str, logs: bool) -> Response {
    let work = move |_, _| async move {
        tokio::task::yield_now().await;
        if logs {
            tracing::warn!(attempt = 1, "upstream slow");
        }
        tokio::task::yield_now().await;
        if logs {
            tracing::info!("answered");
        }
        Response::new(Body::empty())
    };
    serve::guard(state, extract(id), RequestSpan::Extract, work).await
}

#[tokio::test]
async fn issue_17_a_request_logs_the_same_lines_with_its_span_opened_at_its_first_line() {
    let state = state();
    for json in [false, true] {
        for filter in ["info", "warn"] {
            let mut written = Vec::new();
            for lazy in [false, true] {
                let (dispatch, lines, spans) = logger(lazy, json, filter);
                let _default = tracing::dispatcher::set_default(&dispatch);
                tracing::warn!("before");
                let response = serve_one(&state, "trace-17", true).await;
                assert_eq!(response.headers()["x-request-id"], "trace-17");
                tracing::warn!("after");
                let text = lines.text();
                let with_id = text.lines().filter(|l| l.contains("trace-17")).count();
                let span = usize::from(filter == "info");
                assert_eq!(
                    with_id,
                    span * (1 + usize::from(filter == "info")),
                    "{text}"
                );
                assert_eq!((spans.opened(), spans.closed()), (span, span), "{text}");
                let first = text.lines().next().unwrap_or_default();
                let last = text.lines().last().unwrap_or_default();
                assert!(
                    !first.contains("trace-17") && !last.contains("trace-17"),
                    "{text}"
                );
                if !json && filter == "info" {
                    assert!(text.contains(" extract{request_id=trace-17}: "), "{text}");
                }
                written.push(text);
            }
            assert_eq!(written[0], written[1], "json {json}, filter {filter}");
        }
    }
}

#[tokio::test]
async fn issue_17_a_request_that_logs_nothing_opens_no_span() {
    let state = state();
    for lazy in [false, true] {
        let (dispatch, lines, spans) = logger(lazy, false, "info");
        let _default = tracing::dispatcher::set_default(&dispatch);
        let response = serve_one(&state, "trace-18", false).await;
        assert_eq!(response.headers()["x-request-id"], "trace-18");
        let opened = usize::from(!lazy);
        assert_eq!(
            (spans.opened(), spans.closed()),
            (opened, opened),
            "lazy {lazy}"
        );
        assert_eq!(lines.text(), "");
    }
}

/// Logs when dropped, as the engine's drop guards may.
struct LogsWhenDropped;

impl Drop for LogsWhenDropped {
    fn drop(&mut self) {
        tracing::warn!("lease given back");
    }
}

#[tokio::test]
async fn issue_17_a_cancelled_request_logs_its_drop_with_its_id() {
    let state = state();
    let mut written = Vec::new();
    for lazy in [false, true] {
        let (dispatch, lines, spans) = logger(lazy, false, "info");
        let _default = tracing::dispatcher::set_default(&dispatch);
        let work = |_, _| async {
            let _lease = LogsWhenDropped;
            std::future::pending::<Response>().await
        };
        let request = serve::guard(&state, extract("trace-19"), RequestSpan::Extract, work);
        let mut request = Box::pin(request);
        let polled = futures::poll!(request.as_mut());
        assert!(polled.is_pending());
        drop(request);
        let text = lines.text();
        assert!(text.contains("extract{request_id=trace-19}: "), "{text}");
        assert!(text.contains("lease given back"), "{text}");
        assert_eq!((spans.opened(), spans.closed()), (1, 1), "{text}");
        written.push(text);
    }
    assert_eq!(written[0], written[1]);
}
