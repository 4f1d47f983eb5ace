//! Reading the TwiML a server answers, as the provider does: the verbs
//! that decide what the call does next (TwiML reference, twilio.com/docs/
//! voice/twiml). Only what the generator follows is kept; the spoken text
//! is kept whole so that an apology can be recognised.

use quick_xml::XmlVersion;
use quick_xml::events::Event;

/// What a TwiML document asks the provider to do once its prompts played.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Reply {
    /// `<Gather action>`: where the caller's keys or speech go.
    pub(crate) gather: Option<String>,
    /// `<Redirect>` after the `<Gather>`: fetched when the caller was silent.
    pub(crate) redirect: Option<String>,
    /// `<Record action>`.
    pub(crate) record: Option<String>,
    /// `<Dial action>`.
    pub(crate) dial: Option<String>,
    /// `<Enqueue action>`.
    pub(crate) enqueue: Option<String>,
    pub(crate) hangup: bool,
    /// Every `<Say>`, concatenated.
    pub(crate) said: String,
}

/// Parses a TwiML document; `None` when it is not well-formed XML with a
/// `<Response>` root (the provider would say "an application error has
/// occurred" then).
pub(crate) fn read(body: &str) -> Option<Reply> {
    let mut reader = quick_xml::Reader::from_str(body);
    let mut reply = Reply::default();
    let mut saw_response = false;
    // The element whose text is being read: Say or Redirect.
    let mut in_text: Option<&'static str> = None;
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == name)
                        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
                        .map(|v| v.into_owned())
                };
                match e.name().as_ref() {
                    "Response" => saw_response = true,
                    "Gather" => reply.gather = attr("action"),
                    "Record" => reply.record = attr("action"),
                    "Dial" => reply.dial = attr("action"),
                    "Enqueue" => reply.enqueue = attr("action"),
                    "Hangup" => reply.hangup = true,
                    "Say" => in_text = Some("Say"),
                    "Redirect" => in_text = Some("Redirect"),
                    _ => {}
                }
                text.clear();
            }
            Event::Text(t) if in_text.is_some() => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text.is_some() => match r.resolve_char_ref().ok()? {
                Some(c) => text.push(c),
                None => text.push_str(quick_xml::escape::resolve_predefined_entity(&r)?),
            },
            Event::End(e) => {
                match (in_text, e.name().as_ref()) {
                    (Some("Say"), "Say") => reply.said.push_str(&text),
                    (Some("Redirect"), "Redirect") => reply.redirect = Some(text.clone()),
                    _ => {}
                }
                in_text = None;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    saw_response.then_some(reply)
}
