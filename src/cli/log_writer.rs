//! The log sink: one event, one line, whatever its fields hold.
//!
//! Fields may carry text from outside (a `callSid` from a media stream's
//! JSON, an error quoting a provider's answer). A raw newline in one would
//! let its sender forge a whole log line, so every control character but
//! the event's final newline is written escaped (`\n`, `\r`, `\u{..}`),
//! like Rust's `Debug` does. Escaping here, at the sink, covers every log
//! site, including ones not written yet. ESC is left alone: the formatter
//! already escapes it inside fields, and uses it itself for colours.

use std::io::{self, Write};

/// A `MakeWriter` for `tracing_subscriber::fmt` that escapes to stderr.
pub(super) fn stderr() -> OneLine<io::Stderr> {
    OneLine(io::stderr())
}

/// Writes each buffer (the formatter writes one per event) with its
/// control characters escaped, except a trailing newline.
pub(super) struct OneLine<W>(W);

impl<W: Write> Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(escape(buf).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

fn escape(buf: &[u8]) -> String {
    let text = String::from_utf8_lossy(buf);
    let (body, end) = match text.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (&*text, ""),
    };
    let mut out = String::with_capacity(text.len());
    for c in body.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' | '\x1b' => out.push(c),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                out.extend(c.escape_default())
            }
            c => out.push(c),
        }
    }
    out.push_str(end);
    out
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn control_characters_are_escaped_but_the_final_newline_is_kept() {
        assert_eq!(escape(b"plain line\n"), "plain line\n");
        assert_eq!(
            escape("a\nb\rc\u{0}d\u{85}e\u{2028}f\tg\n".as_bytes()),
            "a\\nb\\rc\\u{0}d\\u{85}e\\u{2028}f\tg\n"
        );
        assert_eq!(escape("好\n".as_bytes()), "好\n");
    }

    /// Collects what the log sink writes, for the test below.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_call_sid_with_a_newline_cannot_forge_a_log_line() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || OneLine(sink.clone()))
            .finish();
        let forged = "CA1\n2026-12-03T09:00:00Z  INFO call ended outcome=completed";

        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(call_sid = %forged, "media stream started");
        });

        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("CA1\\n2026"), "{text}");
    }
}
