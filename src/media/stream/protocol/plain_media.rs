//! The caller's audio messages read without serde, when they have the plain
//! shape providers write: one object of string values, the `media` one an
//! object of string values too, no whitespace, no escapes.
//!
//! Why: a call sends 50 of them a second, and serde's derived reader spent
//! about 4,000 instructions on each (field by field, string by string,
//! looking for escapes in the 200-character payload) — as much as the
//! whole WebSocket read that brought it. Here a message is checked once
//! for bytes that would need care (`\` and control characters), and then
//! each string ends at the next `"`.
//!
//! Anything else — another event, a number where a string was, a repeated
//! field, a space, an escape — gets `None`, and serde reads the message as
//! before, with its own error if it is broken. So this decides nothing:
//! a message it takes is one serde reads the same way (the tests compare
//! the two on generated messages).

use std::borrow::Cow;

use super::MediaBody;

/// The `media` object of a plain `media` message, or `None` to let serde
/// read the message.
pub(super) fn media_body(text: &str) -> Option<MediaBody<'_>> {
    if !plain(text.as_bytes()) {
        return None;
    }
    let mut reader = Reader { text, at: 0 };
    reader.byte(b'{')?;
    let (mut event, mut media) = (false, None);
    loop {
        let key = reader.string()?;
        reader.byte(b':')?;
        match key {
            "event" if !event => {
                if reader.string()? != "media" {
                    return None;
                }
                event = true;
            }
            "media" if media.is_none() => media = Some(reader.media()?),
            // Repeated fields and the other events' objects are serde's to
            // read (or to refuse).
            "event" | "media" | "start" | "dtmf" | "mark" => return None,
            _ => {
                reader.string()?;
            }
        }
        match reader.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    if reader.at != text.len() || !event {
        return None;
    }
    media
}

/// No byte a JSON string would have to escape: no `\`, no control
/// character. Written to vectorise: it looks at every byte of every frame.
fn plain(bytes: &[u8]) -> bool {
    bytes.chunks(32).all(|chunk| {
        chunk
            .iter()
            .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'\\'))
    })
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Option<u8> {
        let b = *self.text.as_bytes().get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// A string: with no escapes in the text, it ends at the next quote.
    fn string(&mut self) -> Option<&'a str> {
        self.byte(b'"')?;
        let rest = &self.text[self.at..];
        // memchr looks at 16 bytes an instruction; `str::find` took seven
        // instructions a byte over the 200-character payload.
        let len = memchr::memchr(b'"', rest.as_bytes())?;
        self.at += len + 1;
        Some(&rest[..len])
    }

    /// The `media` object: `payload`, and `track` and `timestamp` if there.
    fn media(&mut self) -> Option<MediaBody<'a>> {
        self.byte(b'{')?;
        let (mut track, mut timestamp, mut payload) = (None, None, None);
        loop {
            let key = self.string()?;
            self.byte(b':')?;
            let value = Cow::Borrowed(self.string()?);
            let field = match key {
                "track" => Some(&mut track),
                "timestamp" => Some(&mut timestamp),
                "payload" => Some(&mut payload),
                // Unknown fields (`chunk`) are ignored, as serde does.
                _ => None,
            };
            if let Some(field) = field
                && field.replace(value).is_some()
            {
                return None;
            }
            match self.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
        Some(MediaBody {
            track,
            timestamp,
            payload: payload?,
        })
    }
}
