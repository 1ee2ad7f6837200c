//! The least a tokio proxy does (see the crate's doc): no HTTP library but `httparse`; one
//! upstream connection per client connection, opened at its first request; each request sent
//! on as `POST /v1/extract` with its body and `Authorization`, each answer sent back with its
//! status, `Content-Type: application/json` and its body, each message in one write.
//!
//! Only `Content-Length` bodies: a message with `Transfer-Encoding` (or a malformed one) closes
//! the connection, with a line on stderr.
//!
//! Usage: `raw-floor LISTEN_ADDR UPSTREAM_ADDR [WORKERS]`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::ops::Range;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One message read into a buffer: where its body is, its `Authorization` value (a request's)
/// and its status (an answer's).
struct Message {
    body: Range<usize>,
    authorization: Option<Range<usize>>,
    status: u16,
}

/// Reads one message (head and `Content-Length` body) from `stream` into `buf`, which may
/// hold bytes of it already; `None` when the peer closes between messages.
async fn read_message(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: bool,
) -> anyhow::Result<Option<Message>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let (parsed, status) = if request {
            (httparse::Request::new(&mut headers).parse(buf)?, 0)
        } else {
            let mut answer = httparse::Response::new(&mut headers);
            let parsed = answer.parse(buf)?;
            (parsed, answer.code.unwrap_or(0))
        };
        if let httparse::Status::Complete(head) = parsed {
            let mut length = 0;
            let mut authorization = None;
            for header in headers.iter().take_while(|h| !h.name.is_empty()) {
                if header.name.eq_ignore_ascii_case("content-length") {
                    length = std::str::from_utf8(header.value)?.trim().parse()?;
                } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                    bail!("Transfer-Encoding is not supported");
                } else if header.name.eq_ignore_ascii_case("authorization") {
                    let start = header.value.as_ptr() as usize - buf.as_ptr() as usize;
                    authorization = Some(start..start + header.value.len());
                }
            }
            while buf.len() < head + length {
                if read_more(stream, buf).await? == 0 {
                    bail!("closed in the middle of a body");
                }
            }
            let body = head..head + length;
            return Ok(Some(Message {
                body,
                authorization,
                status,
            }));
        }
        if read_more(stream, buf).await? == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            bail!("closed in the middle of a head");
        }
    }
}

/// Reads what `stream` has into the end of `buf`; 0 at its end.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<usize> {
    buf.reserve(16 * 1024);
    Ok(stream.read_buf(buf).await?)
}

/// Serves `client`'s requests until it closes, through one upstream connection.
async fn proxy(mut client: TcpStream, upstream: SocketAddr) -> anyhow::Result<()> {
    let mut connection: Option<TcpStream> = None;
    let (mut from_client, mut from_upstream, mut out) = (
        Vec::with_capacity(16 * 1024),
        Vec::with_capacity(16 * 1024),
        Vec::new(),
    );
    while let Some(request) = read_message(&mut client, &mut from_client, true).await? {
        let up = match &mut connection {
            Some(up) => up,
            None => {
                let up = TcpStream::connect(upstream).await.context("connect")?;
                up.set_nodelay(true)?;
                connection.insert(up)
            }
        };
        out.clear();
        write!(out, "POST /v1/extract HTTP/1.1\r\nhost: {upstream}\r\n")?;
        out.extend_from_slice(b"content-type: application/json\r\n");
        if let Some(key) = request.authorization {
            out.extend_from_slice(b"authorization: ");
            out.extend_from_slice(&from_client[key]);
            out.extend_from_slice(b"\r\n");
        }
        write!(out, "content-length: {}\r\n\r\n", request.body.len())?;
        out.extend_from_slice(&from_client[request.body.clone()]);
        from_client.drain(..request.body.end);
        up.write_all(&out).await?;
        let Some(answer) = read_message(up, &mut from_upstream, false).await? else {
            bail!("the upstream closed the connection");
        };
        out.clear();
        write!(out, "HTTP/1.1 {} OK\r\n", answer.status)?;
        out.extend_from_slice(b"content-type: application/json\r\n");
        write!(out, "content-length: {}\r\n\r\n", answer.body.len())?;
        out.extend_from_slice(&from_upstream[answer.body.clone()]);
        from_upstream.drain(..answer.body.end);
        client.write_all(&out).await?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let (listen, upstream, workers) = proxy_floor::args()?;
    proxy_floor::serve(listen, workers, move |client| async move {
        if let Err(e) = proxy(client, upstream).await {
            eprintln!("connection closed: {e:#}");
        }
    })
}
