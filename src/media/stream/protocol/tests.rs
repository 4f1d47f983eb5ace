//! Parsing the provider's messages: the documented shapes, and everything
//! a broken or hostile peer could send instead.

use super::*;

#[test]
fn the_documented_messages_parse() {
    let start = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"flow":"wallet-followup"}},"streamSid":"MZ1"}"#;
    let Ok(Event::Start(s)) = parse(start) else {
        panic!("start parses");
    };
    assert_eq!((s.stream_sid.as_str(), s.call_sid.as_str()), ("MZ1", "CA1"));
    assert_eq!(s.custom_parameters["flow"], "wallet-followup");
    assert!(s.media_format.is_some_and(|f| f.is_mulaw_8k()));

    let cases: &[(&str, Event)] = &[
        (
            r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#,
            Event::Connected,
        ),
        (
            r#"{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"//8A"},"streamSid":"MZ1"}"#,
            Event::Media {
                payload: vec![0xFF, 0xFF, 0x00],
                timestamp: Some(5),
            },
        ),
        (
            r##"{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"#"}}"##,
            Event::Dtmf('#'),
        ),
        (
            r#"{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"2.0"}}"#,
            Event::Mark("2.0".into()),
        ),
        (
            r#"{"event":"stop","sequenceNumber":"5","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#,
            Event::Stop,
        ),
        (
            r#"{"event":"someday","streamSid":"MZ1"}"#,
            Event::Other("someday".into()),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse(text).as_ref(), Ok(want), "{text}");
    }
}

#[test]
fn broken_messages_are_errors_not_panics() {
    let huge = format!(
        r#"{{"event":"media","media":{{"payload":"{}"}}}}"#,
        "A".repeat(MAX_MESSAGE_BYTES)
    );
    let cases: &[(&str, &str)] = &[
        ("not json", "Malformed"),
        ("", "Malformed"),
        ("[1,2]", "Malformed"),
        (r#"{"no_event":1}"#, "Malformed"),
        (r#"{"event":"start"}"#, "Malformed"),
        (
            r#"{"event":"start","start":{"streamSid":"MZ1"}}"#,
            "Malformed",
        ),
        (r#"{"event":"media"}"#, "Malformed"),
        (
            r#"{"event":"media","media":{"payload":"***"}}"#,
            "BadBase64",
        ),
        (r#"{"event":"dtmf","dtmf":{"digit":"12"}}"#, "BadDigit"),
        (r#"{"event":"dtmf","dtmf":{"digit":"x"}}"#, "BadDigit"),
        (r#"{"event":"mark","mark":{}}"#, "Malformed"),
        (&huge, "TooLarge"),
    ];
    for (text, kind) in cases {
        let got = parse(text);
        assert!(
            format!("{got:?}").contains(kind),
            "{:.60}: expected {kind}, got {got:?}",
            text
        );
    }
}

#[test]
fn outbound_track_media_is_ignored() {
    let text = r#"{"event":"media","media":{"track":"outbound","payload":"//8="}}"#;
    assert!(matches!(parse(text), Ok(Event::Other(_))));
}

#[test]
fn commands_are_written_as_the_provider_expects() {
    let media = Command::Media(vec![0xFF; 3 * FRAME_SAMPLES]).to_json("MZ\"1");
    let v: serde_json::Value = serde_json::from_str(&media).expect("valid JSON");
    assert_eq!(v["event"], "media");
    assert_eq!(v["streamSid"], "MZ\"1");
    let payload = STANDARD
        .decode(v["media"]["payload"].as_str().expect("a payload"))
        .expect("base64");
    assert_eq!(
        payload,
        vec![0xFF; 3 * FRAME_SAMPLES],
        "a batch in one message"
    );

    let mark: serde_json::Value =
        serde_json::from_str(&Command::Mark("3.1".into()).to_json("MZ1")).expect("JSON");
    assert_eq!(
        mark,
        serde_json::json!({"event":"mark","streamSid":"MZ1","mark":{"name":"3.1"}})
    );
    let clear: serde_json::Value =
        serde_json::from_str(&Command::Clear.to_json("MZ1")).expect("JSON");
    assert_eq!(
        clear,
        serde_json::json!({"event":"clear","streamSid":"MZ1"})
    );
}

#[test]
fn escaped_text_in_a_media_message_is_read_like_plain_text() {
    let text = r#"{"event":"me\u0064ia","media":{"track":"in\u0062ound","timestamp":"4\u0030","payload":"\/\/8="}}"#;
    assert_eq!(
        parse(text),
        Ok(Event::Media {
            payload: vec![0xFF, 0xFF],
            timestamp: Some(40)
        })
    );
}

#[test]
fn a_reused_payload_buffer_holds_only_the_new_frame() {
    let text = r#"{"event":"media","media":{"timestamp":"20","payload":"AAEC"}}"#;
    let used = vec![9; 400];
    assert_eq!(
        parse_reusing(text, used),
        Ok(Event::Media {
            payload: vec![0, 1, 2],
            timestamp: Some(20)
        })
    );
    let stop = r#"{"event":"stop"}"#;
    assert_eq!(parse_reusing(stop, vec![9; 400]), Ok(Event::Stop));
}

#[test]
fn the_plain_media_message_providers_send_is_read_without_serde() {
    let twilio = r#"{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"//8A"},"streamSid":"MZ1"}"#;
    let media = plain_media::media_body(twilio).expect("the plain reader takes it");
    assert_eq!(
        (media.track.as_deref(), media.timestamp.as_deref()),
        (Some("inbound"), Some("5"))
    );
    assert_eq!(media.payload, "//8A");
    for other in [
        r#"{"event":"media", "media":{"payload":"//8A"}}"#,
        r#"{"event":"media","media":{"payload":"\/\/8A"}}"#,
        r#"{"event":"media","media":{"payload":"//8A","payload":"AAAA"}}"#,
        r#"{"event":"media","media":{"payload":"//8A"},"event":"media"}"#,
        r#"{"event":"media","media":{"payload":"//8A"}}  "#,
        r#"{"event":"mark","mark":{"name":"1.0"}}"#,
        r#"{"event":"media","sequenceNumber":3,"media":{"payload":"//8A"}}"#,
    ] {
        assert!(plain_media::media_body(other).is_none(), "{other}");
    }
}

/// Pieces of media messages, right and wrong: fields in any order, repeated
/// or missing, strings where numbers go and the reverse, escapes, spaces.
const TOP_FIELDS: &[&str] = &[
    r#""event":"media""#,
    r#""event":"media""#,
    r#""event":"mark""#,
    r#""event":"me\u0064ia""#,
    r#""streamSid":"MZ1""#,
    r#""sequenceNumber":"3""#,
    r#""sequenceNumber":3"#,
    r#""start":"x""#,
    r#""extra":"é ü""#,
    r#""mark":{"name":"1.0"}"#,
];
const MEDIA_FIELDS: &[&str] = &[
    r#""payload":"//8A""#,
    r#""payload":"//8A""#,
    r#""payload":"AAECAw==""#,
    r#""payload":"not base64!""#,
    r#""payload":"\/\/8A""#,
    r#""payload":"""#,
    r#""track":"inbound""#,
    r#""track":"outbound""#,
    r#""timestamp":"20""#,
    r#""timestamp":"later""#,
    r#""chunk":"1""#,
    r#""chunk":1"#,
];

proptest::proptest! {
    #[test]
    fn a_media_message_read_without_serde_reads_as_serde_reads_it(
        top in proptest::collection::vec(0..TOP_FIELDS.len() + 1, 0..6),
        media in proptest::collection::vec(0..MEDIA_FIELDS.len(), 0..6),
        space in proptest::option::of(0usize..200),
    ) {
        let media = format!(
            "{{{}}}",
            media.iter().map(|&i| MEDIA_FIELDS[i]).collect::<Vec<_>>().join(",")
        );
        let fields: Vec<String> = top
            .iter()
            .map(|&i| match TOP_FIELDS.get(i) {
                Some(field) => field.to_string(),
                None => format!(r#""media":{media}"#),
            })
            .collect();
        let mut text = format!("{{{}}}", fields.join(","));
        if let Some(at) = space.filter(|&at| text.is_char_boundary(at.min(text.len()))) {
            text.insert(at.min(text.len()), ' ');
        }
        proptest::prop_assert_eq!(
            parse_reusing(&text, vec![1; 3]),
            parse_with_serde(&text, vec![1; 3]),
            "{}", text
        );
    }
}
