//! Reading an HTTP body whole: the gateway's request bodies and the Zyte API client's answers.
//!
//! Policy (issue 17, seventh round): a body that arrives as one chunk (a `Content-Length`
//! message read in one go, the usual case) is that chunk, taken as soon as the body says it
//! has ended, with no copy; `BodyExt::collect` queued it in a `VecDeque`, flattened the queue
//! again and polled the body once more for its end. A body of several chunks is gathered into
//! one buffer, in order. Trailers are ignored, as `Collected::to_bytes` ignores them. Bounds
//! are the caller's: wrap the body in `http_body_util::Limited` to cap what is read.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

/// `body`, whole (see the module policy); the body's error when a frame fails.
pub(crate) async fn read_whole<B>(mut body: B) -> Result<Bytes, B::Error>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut first: Option<Bytes> = None;
    let mut gathered = BytesMut::new();
    while !body.is_end_stream() {
        let Some(frame) = body.frame().await else {
            break;
        };
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        match first.take() {
            None if gathered.is_empty() => first = Some(data),
            earlier => {
                gathered.extend_from_slice(earlier.as_deref().unwrap_or_default());
                gathered.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| gathered.freeze()))
}
