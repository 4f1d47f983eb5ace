//! Property tests of [`super::signature`] against an independent signer.
//!
//! The signer below is written from Twilio's documentation of
//! `X-Twilio-Signature` ("take the full URL, sort the POST parameters by
//! name, append each name and value with no delimiter, HMAC-SHA1 with the
//! auth token, base64") plus the two details twilio-python's
//! `RequestValidator` adds: each name's values are sorted and de-duplicated
//! (`sorted(set(values))`), and the URL is checked with and without its port.
//! It does not call any of dialback's code, so a bug shared by the two
//! cannot hide.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use proptest::prelude::*;
use sha1::Sha1;

use super::signature::is_valid;

/// Twilio's algorithm, as documented, over a set of values per name.
fn documented_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        by_name.entry(name).or_default().insert(value);
    }
    let mut data = url.to_owned();
    for (name, values) in by_name {
        for value in values {
            data.push_str(name);
            data.push_str(value);
        }
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A request as the provider would send it: where it was signed, where the
/// server sees it, and its form pairs (which may repeat, identically or not).
#[derive(Debug, Clone)]
struct Request {
    token: String,
    signed_url: String,
    received_url: String,
    params: Vec<(String, String)>,
}

/// Parameter names, few enough that names repeat often.
const NAMES: &[&str] = &["CallSid", "Digits", "From", "SpeechResult", "To", "a", "B"];

fn value() -> impl Strategy<Value = String> {
    // ASCII, punctuation that means something in a URL or form, Mandarin.
    proptest::string::string_regex("[a-zA-Z0-9 +&=%:/?#.]{0,12}|[你好是不一二三]{0,4}")
        .expect("a valid regex")
}

fn pair() -> impl Strategy<Value = (String, String)> {
    (proptest::sample::select(NAMES), value()).prop_map(|(n, v)| (n.to_owned(), v))
}

/// Pairs where some are exact copies of others, as a client may send them.
fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    (
        proptest::collection::vec(pair(), 0..8),
        proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
    )
        .prop_map(|(mut pairs, copies)| {
            if !pairs.is_empty() {
                for index in copies {
                    let copy = pairs[index.index(pairs.len())].clone();
                    pairs.push(copy);
                }
            }
            pairs
        })
}

fn request() -> impl Strategy<Value = Request> {
    let scheme = prop_oneof![Just("https"), Just("http")];
    let host = proptest::string::string_regex("[a-z]{1,8}\\.example").expect("a valid regex");
    let path = proptest::string::string_regex("(/[a-z]{0,6}){0,3}(\\?[a-z]=[0-9a-z]{0,4})?")
        .expect("a valid regex");
    // 0: no port on either side; 1: signed with the scheme's default port,
    // received without; 2: signed without, received with the default port;
    // 3: received with another port, signed without it.
    let ports = 0..4u8;
    ("[a-zA-Z0-9]{1,32}", scheme, host, path, ports, params()).prop_map(
        |(token, scheme, host, path, ports, params)| {
            let default = if scheme == "https" { 443 } else { 80 };
            let bare = format!("{scheme}://{host}{path}");
            let with = |port: u16| format!("{scheme}://{host}:{port}{path}");
            let (signed_url, received_url) = match ports {
                0 => (bare.clone(), bare),
                1 => (with(default), bare),
                2 => (bare.clone(), with(default)),
                _ => (bare, with(8443)),
            };
            Request {
                token,
                signed_url,
                received_url,
                params,
            }
        },
    )
}

fn accepts(request: &Request, signature: &str) -> bool {
    is_valid(
        &request.token,
        &request.received_url,
        &request.params,
        signature,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_request_signed_as_documented_is_accepted(request in request()) {
        let signature = documented_signature(&request.token, &request.signed_url, &request.params);
        prop_assert!(accepts(&request, &signature));
    }

    #[test]
    fn every_forged_variant_is_refused(request in request(), which in 0..5u8) {
        let signature = documented_signature(&request.token, &request.signed_url, &request.params);
        let mut forged = request.clone();
        let mut forged_signature = signature.clone();
        match which {
            // A changed value: '!' is never generated, so the new pair is
            // not in the signed set, whatever copies exist.
            0 if !forged.params.is_empty() => forged.params[0].1.push('!'),
            // An added parameter.
            0 | 1 => forged.params.push(("Forged".to_owned(), "1".to_owned())),
            // Another path on the same host.
            2 => forged.received_url = forged.received_url.replacen(".example", ".example/x", 1),
            // Another auth token.
            3 => forged.token.push('x'),
            // A signature for another request altogether.
            _ => forged_signature = documented_signature(&request.token, &request.signed_url, &[("Forged".to_owned(), "1".to_owned())]),
        }
        prop_assert!(!accepts(&forged, &forged_signature), "{which}: {forged:?}");
    }
}
