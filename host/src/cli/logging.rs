//! The log: its format, its colour, and its writer (one event, one line, whatever its fields
//! hold).
//!
//! Policy:
//! - **Format** (`--log-format`, issue 19): `text` (the default, for people) or `json` (one
//!   JSON object per line, for log shippers), with the fields of the event's spans (the
//!   gateway's `request_id`) in both. The formatter is wrapped in the gateway's
//!   [`RequestSpans`], which opens a `POST /v1/extract`'s span only when the request logs
//!   something (issue 17; the lines are the same).
//! - **Colour** only when stderr is a terminal and `NO_COLOR` is unset or empty (the
//!   no-color.org convention): a file or a pipe never receives ANSI escapes.
//! - **Line breaks.** Log fields carry text from outside the host (a guest's log lines and
//!   close reasons, URLs, pool ids, file errors). A newline or carriage return in them would
//!   let that text forge log lines that look like the host's own (issue #13). Every event is
//!   written through [`EscapeLines`], which turns each `\n` and `\r` inside an event into the
//!   two characters `\n` and `\r`; only the event's final newline stays. (ANSI escapes in
//!   field values are already escaped by `tracing-subscriber`.)

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};

use session_host::gateway::request_span::RequestSpans;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logs to stderr at `level` (`RUST_LOG` overrides it) in `format` (see the module policy).
pub fn init(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| EscapeLines(io::stderr()));
    let _ = match format {
        LogFormat::Text => RequestSpans::new(builder.with_ansi(colour()).finish()).try_init(),
        LogFormat::Json => RequestSpans::new(builder.json().with_ansi(false).finish()).try_init(),
    };
}

/// Whether log lines on stderr are coloured now.
fn colour() -> bool {
    colour_for(io::stderr().is_terminal(), std::env::var_os("NO_COLOR"))
}

/// Colour on a terminal, unless `NO_COLOR` is set to anything but the empty string.
fn colour_for(terminal: bool, no_color: Option<OsString>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

/// A writer that escapes line breaks inside each `write` (one formatted event).
pub struct EscapeLines<W>(pub W);

impl<W: Write> Write for EscapeLines<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (body, end) = match buf.split_last() {
            Some((b'\n', body)) => (body, &b"\n"[..]),
            _ => (buf, &b""[..]),
        };
        let mut escaped = Vec::with_capacity(buf.len() + 8);
        for &byte in body {
            match byte {
                b'\n' => escaped.extend_from_slice(b"\\n"),
                b'\r' => escaped.extend_from_slice(b"\\r"),
                _ => escaped.push(byte),
            }
        }
        escaped.extend_from_slice(end);
        self.0.write_all(&escaped)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_19_colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(colour_for(true, None));
        assert!(colour_for(true, Some("".into())));
        assert!(!colour_for(true, Some("1".into())));
        assert!(!colour_for(false, None));
        assert!(!colour_for(false, Some("".into())));
    }

    #[test]
    fn issue_13_a_guest_newline_cannot_forge_a_log_line() {
        let mut out = EscapeLines(Vec::new());
        let event = "INFO guest: hi\n2026-01-01T00:00:00Z ERROR forged\r\n";
        out.write_all(event.as_bytes()).expect("write");
        let text = String::from_utf8(out.0).expect("utf-8");
        assert_eq!(
            text,
            "INFO guest: hi\\n2026-01-01T00:00:00Z ERROR forged\\r\n"
        );
        assert_eq!(text.lines().count(), 1);
    }
}
