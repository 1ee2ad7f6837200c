//! The log writer: one event, one line, whatever its fields hold.
//!
//! Policy: log fields carry text from outside the host (a guest's log lines and close reasons,
//! URLs, pool ids, file errors). A newline or carriage return in them would let that text forge
//! log lines that look like the host's own (issue #13). Every event is written through
//! [`EscapeLines`], which turns each `\n` and `\r` inside an event into the two characters `\n`
//! and `\r`; only the event's final newline stays. (ANSI escapes in field values are already
//! escaped by `tracing-subscriber`.)

use std::io::{self, Write};

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
