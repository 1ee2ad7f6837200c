//! The `extract` span of a `POST /v1/extract`, opened only once something is logged while the
//! request is served (issue 17, sixth round).
//!
//! # Policy
//!
//! - **What users see does not change.** A log line written while a `POST /v1/extract` is
//!   served carries `extract{request_id=…}` (text) or the same `span` and `spans` (JSON), as
//!   when the span was opened with every request: the span is a real one, with the same name,
//!   field, level and target, opened and entered just before the first event (or span, or
//!   `Span::current`) of the request reaches the subscriber, and entered on every later poll
//!   of the request until it ends. A filter that turns `info` spans off (`RUST_LOG=warn`)
//!   turns it off too, as before.
//! - **Why.** A span opened with every request cost about 4,000 of the sessions-off request's
//!   55,000 instructions (the log formatter formats `request_id` when a span opens, the
//!   registry stores it, and each poll enters and leaves it), for requests that mostly log
//!   nothing.
//! - **How.** While the request's future is polled ([`scoped`]), its id waits in a
//!   thread-local slot, a swap of a few words per poll. [`RequestSpans`], the subscriber the
//!   binary installs around its log formatter (`cli/logging.rs`), opens the span from that slot
//!   when a callsite asks it anything during the poll. Under any other subscriber (an
//!   embedder's, a test's), [`opens_request_spans`] is false and the gateway's guard opens the
//!   span with every request, as it does the router's `request` span: the log lines are the
//!   same either way.

use std::any::TypeId;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::HeaderValue;
use tracing::callsite::{DefaultCallsite, Identifier};
use tracing::field::{FieldSet, Value, display};
use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
use tracing::metadata::Kind;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::{Interest, Subscriber};
use tracing::{Event, Level, Metadata};

/// The span's target: the module that opened it before it was opened lazily, so that a
/// filter naming that target still applies.
const TARGET: &str = "session_host::gateway::request_id";

static CALLSITE: DefaultCallsite = DefaultCallsite::new(&META);

/// The span's metadata: as `info_span!("extract", request_id = %id)` in [`TARGET`].
static META: Metadata<'static> = Metadata::new(
    "extract",
    TARGET,
    Level::INFO,
    Some(file!()),
    Some(line!()),
    Some(TARGET),
    FieldSet::new(&["request_id"], Identifier(&CALLSITE)),
    Kind::SPAN,
);

/// A request being served on this thread now: its id, and its span once opened.
struct Pending {
    id: HeaderValue,
    /// The span, once opened.
    span: Option<Id>,
    /// Whether the span is entered now (opened during this poll, or entered for it).
    entered: bool,
}

thread_local! {
    /// The request whose future is being polled on this thread, if any.
    static SERVING: Cell<Option<Pending>> = const { Cell::new(None) };
}

impl Pending {
    /// Enters the span (when open) for a poll.
    fn enter(&mut self) {
        if let Some(span) = &self.span {
            tracing::dispatcher::get_default(|dispatch| dispatch.enter(span));
            self.entered = true;
        }
    }

    /// Leaves the span when it is entered.
    fn exit(&mut self) {
        if let (true, Some(span)) = (std::mem::take(&mut self.entered), &self.span) {
            tracing::dispatcher::get_default(|dispatch| dispatch.exit(span));
        }
    }

    /// Closes the span when open (the request is over).
    fn close(&mut self) {
        self.exit();
        if let Some(span) = self.span.take() {
            tracing::dispatcher::get_default(|dispatch| dispatch.try_close(span.clone()));
        }
    }
}

/// Whether the subscriber in charge on this thread opens request spans ([`RequestSpans`]);
/// when it does not, the request must be served in its span opened up front.
pub(super) fn opens_request_spans() -> bool {
    tracing::dispatcher::get_default(|dispatch| dispatch.is::<OpensRequestSpans>())
}

/// Serves `work`, the request whose id is `id`, with its `extract` span opened at its first
/// log line (see the module policy); answers its output and the id back. Only under
/// [`RequestSpans`] ([`opens_request_spans`]): under another subscriber nothing would open it.
pub(super) fn scoped<F: Future>(id: HeaderValue, work: F) -> Scoped<F> {
    let pending = Pending {
        id,
        span: None,
        entered: false,
    };
    Scoped {
        work: Some(work),
        pending: Some(pending),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`scoped`].
    pub(super) struct Scoped<F> {
        #[pin]
        work: Option<F>,
        pending: Option<Pending>,
    }

    impl<F> PinnedDrop for Scoped<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // Cancelled (a 504, a client gone): the work is dropped as it was polled, so
            // that what its drop logs carries the request id too.
            if this.work.as_ref().get_ref().is_some() {
                let _serving = Serving::new(this.pending);
                this.work.set(None);
            }
            if let Some(pending) = this.pending {
                pending.close();
            }
        }
    }
}

/// The request in the thread's slot while its future is polled or dropped: put there (its
/// span entered, when open) by [`Serving::new`], taken back (and its span left) on drop,
/// a panic's unwinding included, with what the slot held before put back.
struct Serving<'a> {
    pending: &'a mut Option<Pending>,
    previous: Option<Pending>,
}

impl<'a> Serving<'a> {
    fn new(pending: &'a mut Option<Pending>) -> Self {
        if let Some(pending) = pending.as_mut() {
            pending.enter();
        }
        let previous = SERVING
            .try_with(|slot| slot.replace(pending.take()))
            .unwrap_or_default();
        Self { pending, previous }
    }
}

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        let previous = self.previous.take();
        *self.pending = SERVING
            .try_with(|slot| slot.replace(previous))
            .unwrap_or_default();
        if let Some(pending) = self.pending.as_mut() {
            pending.exit();
        }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = (F::Output, HeaderValue);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let poll = {
            let _serving = Serving::new(this.pending);
            let work = this.work.as_mut().as_pin_mut();
            work.expect("a request's future is not polled after it answered")
                .poll(cx)
        };
        let Poll::Ready(output) = poll else {
            return Poll::Pending;
        };
        this.work.set(None);
        let mut pending = this.pending.take().expect("a request answers once");
        pending.close();
        Poll::Ready((output, pending.id))
    }
}

/// What [`RequestSpans`] answers to `Dispatch::is`, so that [`opens_request_spans`] knows
/// the spans will be opened.
struct OpensRequestSpans;

/// A subscriber that opens the `extract` span of the request being served on the thread, if
/// any, before it handles any event, span or query, then hands everything to `inner` (see
/// the module policy). The binary wraps its log formatter in it.
#[derive(Debug)]
pub struct RequestSpans<S> {
    inner: S,
}

impl<S: Subscriber> RequestSpans<S> {
    /// `inner`, opening request spans.
    pub fn new(inner: S) -> Self {
        // Registers the span's callsite now (with every subscriber installed later too),
        // rather than from inside a subscriber call.
        CALLSITE.interest();
        Self { inner }
    }

    /// Opens and enters the span of the request served on this thread, if it is not open yet
    /// and `inner` wants `info` spans of [`TARGET`].
    fn open(&self) {
        let _ = SERVING.try_with(|slot| {
            let Some(mut pending) = slot.take() else {
                return;
            };
            if pending.span.is_none() && self.wants_span() {
                let text = super::request_id::text(&pending.id);
                let field = META.fields().iter().next();
                let values = [(
                    &field.expect("the span has its field"),
                    Some(&display(text) as &dyn Value),
                )];
                let values = META.fields().value_set(&values);
                let span = self.inner.new_span(&Attributes::new(&META, &values));
                self.inner.enter(&span);
                pending.span = Some(span);
                pending.entered = true;
            }
            slot.set(Some(pending));
        });
    }

    /// As `info_span!` asks before opening a span.
    fn wants_span(&self) -> bool {
        if Level::INFO > STATIC_MAX_LEVEL || Level::INFO > LevelFilter::current() {
            return false;
        }
        let interest = CALLSITE.interest();
        !interest.is_never() && (interest.is_always() || self.inner.enabled(&META))
    }
}

impl<S: Subscriber> Subscriber for RequestSpans<S> {
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.open();
        self.inner.enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.open();
        self.inner.new_span(span)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        self.inner.record(span, values);
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.inner.record_follows_from(span, follows);
    }

    fn event_enabled(&self, event: &Event<'_>) -> bool {
        self.open();
        self.inner.event_enabled(event)
    }

    fn event(&self, event: &Event<'_>) {
        self.open();
        self.inner.event(event);
    }

    fn enter(&self, span: &Id) {
        self.inner.enter(span);
    }

    fn exit(&self, span: &Id) {
        self.inner.exit(span);
    }

    fn clone_span(&self, id: &Id) -> Id {
        self.inner.clone_span(id)
    }

    fn try_close(&self, id: Id) -> bool {
        self.inner.try_close(id)
    }

    fn current_span(&self) -> tracing_core::span::Current {
        self.open();
        self.inner.current_span()
    }

    #[expect(
        unsafe_code,
        reason = "the trait declares it unsafe; the marker answer is a pointer to a zero-sized \
                  type, and everything else is the inner subscriber's own answer"
    )]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(std::ptr::from_ref(self).cast());
        }
        if id == TypeId::of::<OpensRequestSpans>() {
            return Some(
                std::ptr::NonNull::<OpensRequestSpans>::dangling()
                    .as_ptr()
                    .cast_const()
                    .cast(),
            );
        }
        // SAFETY: the inner subscriber's answer, for its own types.
        unsafe { self.inner.downcast_raw(id) }
    }
}

#[cfg(test)]
#[path = "request_span_tests.rs"]
mod tests;
