//! The TwiML adapter: the call machine's outputs up to the next wait,
//! written as one TwiML document with quick-xml (escaping, Chinese text).
//!
//! Every wait carries the call's step sequence number in its action URL, so
//! a retried or stale webhook can be recognised (see `http::webhooks`).

mod voices;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::flow::Flow;
use crate::flow::event::{Hold, Listen, Output, Prompt, RecordSpec, TransferSpec};
use crate::flow::model::{Mode, Target};

/// Where action URLs point and how prompts sound.
pub struct Links<'a> {
    /// The public base URL the provider sees, without a trailing slash.
    pub base: &'a str,
    /// Provider voice name, if the flow sets one: it speaks the flow's
    /// own `language` (see [`voices`]).
    pub voice: Option<&'a str>,
    /// The flow's language, "" when no flow is known.
    pub language: &'a str,
}

impl<'a> Links<'a> {
    /// The links of a call running `flow`, under the public base URL.
    pub fn for_flow(base: &'a str, flow: &'a Flow) -> Links<'a> {
        Links {
            base,
            voice: flow.voice.as_deref(),
            language: &flow.language,
        }
    }
}

type W = Writer<Vec<u8>>;
type R = std::io::Result<()>;

/// Renders outputs as a TwiML `<Response>`.
pub fn render(outputs: &[Output], links: &Links<'_>) -> String {
    let mut w = Writer::new(Vec::with_capacity(512));
    // Writing into a Vec cannot fail; `document` only errors on I/O.
    let _ = document(&mut w, outputs, links);
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

/// A spoken apology and a hang-up: the safe answer when something on our
/// side failed or the request made no sense. Never an HTTP 500, which the
/// provider turns into "an application error has occurred".
pub fn apology(text: &str, language: &str) -> String {
    let outputs = [
        Output::Prompt(Prompt::Say {
            text: text.to_string(),
            language: language.to_string(),
        }),
        Output::End {
            outcome: crate::flow::Outcome::Failed,
        },
    ];
    render(
        &outputs,
        &Links {
            base: "",
            voice: None,
            language: "",
        },
    )
}

/// Answers a Media Streams call: `<Connect><Stream>` to our WebSocket, with
/// custom parameters the provider hands back in the stream's `start`
/// message. Nothing follows the `<Connect>`: when we close the stream, the
/// call ends.
pub fn connect_stream(url: &str, parameters: &[(&str, &str)]) -> String {
    let links = Links {
        base: "",
        voice: None,
        language: "",
    };
    prompts_then_stream(&[], &links, url, parameters)
}

/// `prompts` spoken in TwiML, then [`connect_stream`]: how a stream call
/// that left its stream for a transfer goes back to one when its flow
/// continues with questions.
pub fn prompts_then_stream(
    prompts: &[&Prompt],
    links: &Links<'_>,
    url: &str,
    parameters: &[(&str, &str)],
) -> String {
    let mut w = Writer::new(Vec::with_capacity(256));
    let _ = (|| -> R {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.create_element("Response").write_inner_content(|w| {
            for p in prompts {
                prompt(w, p, links)?;
            }
            w.create_element("Connect").write_inner_content(|w| {
                w.create_element("Stream")
                    .with_attribute(("url", url))
                    .write_inner_content(|w| {
                        for (name, value) in parameters {
                            w.create_element("Parameter")
                                .with_attribute(("name", *name))
                                .with_attribute(("value", *value))
                                .write_empty()?;
                        }
                        Ok(())
                    })?;
                Ok(())
            })?;
            Ok(())
        })?;
        Ok(())
    })();
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

/// `<Connect><Stream>` to our media socket for call `sid` running `flow`:
/// the custom parameters name both, so the stream's `start` finds the call.
pub fn stream_call(public_url: &str, sid: &str, flow: &str) -> String {
    connect_stream(
        &stream_url(public_url),
        &[("call_sid", sid), ("flow", flow)],
    )
}

/// The TwiML a webhook answers with, for the outputs of one step of call
/// `sid` running `flow`. A stream call back from its transfer (the only
/// webhook a stream call sees mid-flow) says what comes before the next
/// question here and asks the question on a new stream, whose `start`
/// resumes the call; everything else is [`render`]ed.
pub fn answer(outputs: &[Output], flow: &Flow, sid: &str, public_url: &str) -> String {
    let links = Links::for_flow(public_url, flow);
    let asks = outputs
        .iter()
        .any(|o| matches!(o, Output::Listen(_) | Output::Record(_)));
    if flow.mode != Mode::Stream || !asks {
        return render(outputs, &links);
    }
    let prompts: Vec<&Prompt> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::Prompt(p) => Some(p),
            _ => None,
        })
        .collect();
    prompts_then_stream(
        &prompts,
        &links,
        &stream_url(public_url),
        &[("call_sid", sid), ("flow", flow.name.as_str())],
    )
}

/// The document a queue's wait URL answers with: the hold prompts and a
/// pause (the provider asks again when it ends), or `<Leave/>`.
pub fn hold(hold: &Hold, flow: &Flow, public_url: &str) -> String {
    hold_with(hold, &Links::for_flow(public_url, flow))
}

/// `<Leave/>` alone: the wait URL's answer when the call cannot be read.
pub fn leave_queue() -> String {
    hold_with(
        &Hold::Leave,
        &Links {
            base: "",
            voice: None,
            language: "",
        },
    )
}

fn hold_with(hold: &Hold, links: &Links<'_>) -> String {
    let mut w = Writer::new(Vec::with_capacity(256));
    let _ = hold_document(&mut w, hold, links);
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

fn hold_document(w: &mut W, hold: &Hold, links: &Links<'_>) -> R {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("Response").write_inner_content(|w| {
        match hold {
            Hold::Wait {
                prompts,
                pause_secs,
            } => {
                for p in prompts {
                    prompt(w, p, links)?;
                }
                let length = pause_secs.to_string();
                w.create_element("Pause")
                    .with_attribute(("length", length.as_str()))
                    .write_empty()?;
            }
            Hold::Leave => {
                w.create_element("Leave").write_empty()?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// The WebSocket URL for the media stream under a public base URL:
/// `https://…` gives `wss://…/media`, `http://…` gives `ws://…/media`.
pub fn stream_url(public_url: &str) -> String {
    let base = public_url.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}/media")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}/media")
    } else {
        format!("{base}/media")
    }
}

fn document(w: &mut W, outputs: &[Output], links: &Links<'_>) -> R {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("Response").write_inner_content(|w| {
        for o in outputs {
            match o {
                Output::Prompt(p) => prompt(w, p, links)?,
                Output::Listen(l) => listen(w, l, links)?,
                Output::Record(r) => record(w, r, links)?,
                Output::Transfer(t) => transfer(w, t, links)?,
                Output::End { .. } => {
                    w.create_element("Hangup").write_empty()?;
                }
                // Stored by the webhook, not spoken.
                Output::Answer(_) | Output::OptOut | Output::Handoff(_) => {}
            }
        }
        Ok(())
    })?;
    Ok(())
}

fn prompt(w: &mut W, p: &Prompt, links: &Links<'_>) -> R {
    match p {
        Prompt::Say { text, language } => {
            let (language, voice) = voices::say(language, links.language, links.voice);
            let mut e = w
                .create_element("Say")
                .with_attribute(("language", language));
            if let Some(voice) = voice {
                e = e.with_attribute(("voice", voice));
            }
            e.write_text_content(BytesText::new(text))?;
        }
        Prompt::Play { file } => {
            let url = format!("{}/audio/{}", links.base, file);
            w.create_element("Play")
                .write_text_content(BytesText::new(&url))?;
        }
    }
    Ok(())
}

fn listen(w: &mut W, l: &Listen, links: &Links<'_>) -> R {
    let input = match (l.input.keypad, l.input.speech) {
        (true, true) => "dtmf speech",
        (false, true) => "speech",
        _ => "dtmf",
    };
    let action = format!("{}/twilio/gather?seq={}", links.base, l.seq);
    let timeout = l.timeout_secs.to_string();
    let mut e = w
        .create_element("Gather")
        .with_attribute(("input", input))
        .with_attribute(("action", action.as_str()))
        .with_attribute(("method", "POST"))
        .with_attribute(("timeout", timeout.as_str()))
        .with_attribute(("language", voices::gather(&l.language)));
    let num_digits = l.num_digits.map(|n| n.to_string());
    if let Some(n) = &num_digits {
        e = e.with_attribute(("numDigits", n.as_str()));
    }
    let finish = l.finish_key.map(|k| k.to_string());
    if let Some(k) = &finish {
        e = e.with_attribute(("finishOnKey", k.as_str()));
    }
    if l.input.speech {
        e = e.with_attribute(("speechTimeout", "auto"));
    }
    let hints = l.hints.join(",");
    if !hints.is_empty() {
        e = e.with_attribute(("hints", hints.as_str()));
    }
    e.write_inner_content(|w| {
        for p in &l.prompts {
            prompt(w, p, links)?;
        }
        Ok(())
    })?;
    // Reached only when the caller said and pressed nothing: tell us so.
    let silence = format!("{}/twilio/gather?seq={}&amp;silence=1", links.base, l.seq);
    redirect(w, &silence)
}

fn redirect(w: &mut W, escaped_url: &str) -> R {
    w.create_element("Redirect")
        .with_attribute(("method", "POST"))
        .write_text_content(BytesText::from_escaped(escaped_url))?;
    Ok(())
}

fn record(w: &mut W, r: &RecordSpec, links: &Links<'_>) -> R {
    for p in &r.prompts {
        prompt(w, p, links)?;
    }
    let action = format!("{}/twilio/record?seq={}", links.base, r.seq);
    let status = format!("{}/twilio/recording-status?step={}", links.base, r.step);
    let (max, timeout, finish) = (
        r.max_secs.to_string(),
        r.timeout_secs.to_string(),
        r.finish_key.to_string(),
    );
    w.create_element("Record")
        .with_attribute(("action", action.as_str()))
        .with_attribute(("method", "POST"))
        .with_attribute(("maxLength", max.as_str()))
        .with_attribute(("timeout", timeout.as_str()))
        .with_attribute(("finishOnKey", finish.as_str()))
        .with_attribute(("playBeep", "true"))
        .with_attribute(("trim", "trim-silence"))
        .with_attribute(("recordingStatusCallback", status.as_str()))
        .with_attribute(("recordingStatusCallbackMethod", "POST"))
        .write_empty()?;
    // <Record> moves on without calling the action when nothing was recorded.
    let silence = format!("{}/twilio/record?seq={}&amp;silence=1", links.base, r.seq);
    redirect(w, &silence)
}

fn transfer(w: &mut W, t: &TransferSpec, links: &Links<'_>) -> R {
    let action = format!("{}/twilio/dial?seq={}", links.base, t.seq);
    if let Target::Queue(name) = &t.target {
        // Without our own wait URL nothing would ever take the caller out
        // of the queue when nobody is free (`/twilio/wait` says <Leave/>
        // after the step's `max_wait`).
        let wait = format!("{}/twilio/wait?seq={}", links.base, t.seq);
        w.create_element("Enqueue")
            .with_attribute(("action", action.as_str()))
            .with_attribute(("method", "POST"))
            .with_attribute(("waitUrl", wait.as_str()))
            .with_attribute(("waitUrlMethod", "POST"))
            .write_text_content(BytesText::new(name))?;
        return Ok(());
    }
    let timeout = t.max_wait_secs.to_string();
    w.create_element("Dial")
        .with_attribute(("action", action.as_str()))
        .with_attribute(("method", "POST"))
        .with_attribute(("timeout", timeout.as_str()))
        .write_inner_content(|w| {
            let (noun, address) = match &t.target {
                Target::Phone(n) => ("Number", n.as_str()),
                Target::Sip(s) => ("Sip", s.as_str()),
                Target::Client(c) => ("Client", c.as_str()),
                Target::Queue(q) => ("Queue", q.as_str()),
            };
            w.create_element(noun)
                .write_text_content(BytesText::new(address))?;
            Ok(())
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_call_is_connected_to_the_media_socket_with_its_parameters() {
        assert_eq!(
            stream_url("https://ivr.example.com/"),
            "wss://ivr.example.com/media"
        );
        assert_eq!(
            stream_url("http://127.0.0.1:8080"),
            "ws://127.0.0.1:8080/media"
        );
        let xml = connect_stream(
            "wss://ivr.example.com/media",
            &[("call_sid", "CA1"), ("flow", "a&b")],
        );
        assert_eq!(
            xml,
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://ivr.example.com/media"><Parameter name="call_sid" value="CA1"/><Parameter name="flow" value="a&amp;b"/></Stream></Connect></Response>"#
        );
    }
    use crate::flow::event::{Listen, TransferSpec};
    use crate::flow::model::InputMode;

    fn links() -> Links<'static> {
        Links {
            base: "https://ivr.example.com",
            voice: None,
            language: "zh-CN",
        }
    }

    #[test]
    fn a_question_becomes_a_gather_with_its_prompt_and_a_silence_redirect() {
        let outputs = vec![
            Output::Prompt(Prompt::Say {
                text: "您好 <测试> & 欢迎".into(),
                language: "zh-CN".into(),
            }),
            Output::Listen(Listen {
                step: "csat".into(),
                seq: 3,
                prompts: vec![Prompt::Say {
                    text: "请打分".into(),
                    language: "zh-CN".into(),
                }],
                input: InputMode::BOTH,
                timeout_secs: 5,
                num_digits: Some(1),
                finish_key: None,
                hints: vec!["是".into(), "不是".into()],
                language: "zh-CN".into(),
                barge_in: true,
            }),
        ];
        assert_eq!(
            render(&outputs, &links()),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
                r#"<Say language="cmn-CN" voice="Polly.Zhiyu">您好 &lt;测试&gt; &amp; 欢迎</Say>"#,
                r#"<Gather input="dtmf speech" action="https://ivr.example.com/twilio/gather?seq=3" method="POST" timeout="5" language="cmn-Hans-CN" numDigits="1" speechTimeout="auto" hints="是,不是">"#,
                r#"<Say language="cmn-CN" voice="Polly.Zhiyu">请打分</Say></Gather>"#,
                r#"<Redirect method="POST">https://ivr.example.com/twilio/gather?seq=3&amp;silence=1</Redirect>"#,
                r#"</Response>"#
            )
        );
    }

    #[test]
    fn a_queue_handoff_is_an_enqueue_and_a_number_is_a_dial() {
        let queue = [Output::Transfer(TransferSpec {
            step: "handoff".into(),
            seq: 7,
            target: Target::Queue("wallet-support".into()),
            max_wait_secs: 90,
        })];
        assert!(render(&queue, &links()).contains(
            r#"<Enqueue action="https://ivr.example.com/twilio/dial?seq=7" method="POST" waitUrl="https://ivr.example.com/twilio/wait?seq=7" waitUrlMethod="POST">wallet-support</Enqueue>"#
        ));
        let number = [Output::Transfer(TransferSpec {
            step: "handoff".into(),
            seq: 7,
            target: Target::Phone("+8610012345678".into()),
            max_wait_secs: 20,
        })];
        assert!(render(&number, &links()).contains(
            r#"<Dial action="https://ivr.example.com/twilio/dial?seq=7" method="POST" timeout="20"><Number>+8610012345678</Number></Dial>"#
        ));
    }

    #[test]
    fn the_end_of_a_call_hangs_up() {
        let out = [Output::End {
            outcome: crate::flow::Outcome::Completed,
        }];
        assert!(render(&out, &links()).ends_with("<Response><Hangup/></Response>"));
    }

    #[test]
    fn an_apology_speaks_and_hangs_up() {
        let t = apology("Sorry.", "en-US");
        assert!(t.contains(r#"<Say language="en-US" voice="Polly.Joanna">Sorry.</Say><Hangup/>"#));
    }

    fn say(text: &str, language: &str) -> Output {
        Output::Prompt(Prompt::Say {
            text: text.into(),
            language: language.into(),
        })
    }

    #[test]
    fn a_flow_voice_says_the_flows_language_and_a_step_in_english_gets_the_english_voice() {
        let links = Links {
            base: "https://ivr.example.com",
            voice: Some("Google.cmn-CN-Standard-A"),
            language: "zh-CN",
        };
        let out = [say("您好", "zh-CN"), say("Hello", "en-US")];
        assert!(render(&out, &links).contains(concat!(
            r#"<Say language="cmn-CN" voice="Google.cmn-CN-Standard-A">您好</Say>"#,
            r#"<Say language="en-US" voice="Polly.Joanna">Hello</Say>"#
        )));
    }

    #[test]
    fn an_english_gather_listens_for_en_us() {
        let out = [Output::Listen(Listen {
            step: "nps".into(),
            seq: 2,
            prompts: vec![],
            input: InputMode::BOTH,
            timeout_secs: 5,
            num_digits: None,
            finish_key: Some('#'),
            hints: vec![],
            language: "en-US".into(),
            barge_in: true,
        })];
        assert!(render(&out, &links()).contains(r#" language="en-US" "#));
    }
}
