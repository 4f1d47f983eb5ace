//! What the provider puts on the wire, written from Twilio's documentation
//! and not from dialback's code (a generator that shares the server's
//! signing or parsing would agree with the server's mistakes).
//!
//! - Signing, from "Webhooks security" (twilio.com/docs/usage/webhooks/
//!   webhooks-security): the full URL Twilio requested, query string
//!   included, then every POST parameter sorted by name, each name
//!   immediately followed by its value; HMAC-SHA1 keyed with the auth
//!   token; base64; sent as `X-Twilio-Signature`.
//! - Parameters, from "TwiML Voice: Twilio's Request" (twilio.com/docs/
//!   voice/twiml#twilios-request-to-your-application): every voice request
//!   carries `CallSid`, `AccountSid`, `From`, `To`, `CallStatus`,
//!   `ApiVersion`, `Direction`, `ForwardedFrom`, `CallerName`,
//!   `ParentCallSid`, `CallToken` and the geographic `From*`/`To*` fields
//!   with their legacy `Caller*`/`Called*` twins; a `<Gather>` action adds
//!   `Digits` (and `FinishedOnKey`) or `SpeechResult` and `Confidence`; a
//!   `<Record>` action adds `RecordingUrl`, `RecordingSid`,
//!   `RecordingDuration` and `Digits`; an `<Enqueue>` action adds
//!   `QueueResult`, `QueueSid` and `QueueTime`; the status callback adds
//!   `CallDuration`, `Timestamp`, `CallbackSource` and `SequenceNumber`.

use base64::Engine as _;
use hmac::{KeyInit, Mac};

pub(crate) const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";

/// `X-Twilio-Signature` for a POST of `params` to `url`.
pub(crate) fn sign(token: &str, url: &str, params: &[(&'static str, String)]) -> String {
    let mut sorted: Vec<&(&str, String)> = params.iter().collect();
    // Sorted by name; Twilio's own helpers sort the keys as byte strings.
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The parties of one call, as the provider describes them on every request.
pub(crate) struct Party<'a> {
    pub(crate) call_sid: &'a str,
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
}

/// The parameters every voice request of a call carries, for `status`.
pub(crate) fn call_params(p: &Party<'_>, status: &str) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = Vec::with_capacity(32);
    v.push(("AccountSid", ACCOUNT_SID.into()));
    v.push(("ApiVersion", "2010-04-01".into()));
    v.push(("CallSid", p.call_sid.into()));
    v.push(("CallStatus", status.into()));
    v.push(("CallToken", String::new()));
    v.push(("CallerName", String::new()));
    v.push(("Direction", "inbound".into()));
    v.push(("ForwardedFrom", String::new()));
    v.push(("ParentCallSid", String::new()));
    v.push(("From", p.from.into()));
    v.push(("To", p.to.into()));
    v.push(("Caller", p.from.into()));
    v.push(("Called", p.to.into()));
    // Twilio fills these where the carrier tells it, else sends them empty.
    for (prefix, city, state, country) in [
        ("From", "SHANGHAI", "SHANGHAI", "CN"),
        ("Caller", "SHANGHAI", "SHANGHAI", "CN"),
        ("To", "BEIJING", "BEIJING", "CN"),
        ("Called", "BEIJING", "BEIJING", "CN"),
    ] {
        let names: [&'static str; 4] = match prefix {
            "From" => ["FromCity", "FromState", "FromZip", "FromCountry"],
            "Caller" => ["CallerCity", "CallerState", "CallerZip", "CallerCountry"],
            "To" => ["ToCity", "ToState", "ToZip", "ToCountry"],
            _ => ["CalledCity", "CalledState", "CalledZip", "CalledCountry"],
        };
        v.push((names[0], city.into()));
        v.push((names[1], state.into()));
        v.push((names[2], String::new()));
        v.push((names[3], country.into()));
    }
    v
}
