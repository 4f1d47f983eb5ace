//! `X-Twilio-Signature` request validation.
//!
//! Every webhook the provider sends carries `X-Twilio-Signature`: the base64
//! HMAC-SHA1, keyed with the account auth token, of the full request URL
//! followed by each POST parameter's name and value. Checking it is the only
//! thing that tells a real provider callback from a forged one, so every
//! webhook handler must call [`is_valid`] (form bodies) or
//! [`is_valid_json_body`] (JSON bodies) before acting on the request.
//!
//! The algorithm matches twilio-python's `RequestValidator`
//! (`twilio/request_validator.py`):
//!
//! - parameters are sorted by name and, where a name repeats, by value;
//!   a pair repeated with the same name and value is signed once (the
//!   validator builds a set of each name's values);
//! - the URL is tried both without an explicit port and with the scheme's
//!   default port (`:443` for https, `:80` for http), because the provider's
//!   own signing and the proxies in front of us disagree about ports. Like the
//!   official validators, an explicit port is removed whatever its number;
//! - JSON bodies are not signed directly: the URL carries `bodySHA256` (the
//!   lower-case hex SHA-256 of the body), and only the URL is signed.
//!
//! The `url` argument must be the public URL the provider was configured to
//! call (scheme, host, path and query exactly as configured), not the URL as
//! seen behind a reverse proxy. Nothing but the port is normalised.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha1 = Hmac<Sha1>;

/// The query parameter that carries the body hash for JSON requests.
const BODY_HASH_PARAM: &str = "bodySHA256";

/// Form parameters in the order the signature covers them: sorted by name
/// and then value, each identical pair once.
///
/// Sorting the pairs as tuples orders them by name and then by value, which
/// is what twilio-python does for repeated names. `str` ordering is
/// byte-wise on UTF-8, which equals Python's code-point ordering.
/// twilio-python signs `sorted(set(values))` for each name, so a pair sent
/// twice with the same value is signed once. Built once per request and used
/// for every URL variant (the sort was a tenth of a webhook's signature work
/// when each variant sorted again).
pub struct SignedParams<'a> {
    sorted: Vec<&'a (String, String)>,
    repeats: bool,
}

impl<'a> SignedParams<'a> {
    pub fn new(params: &'a [(String, String)]) -> Self {
        let mut sorted: Vec<&(String, String)> = params.iter().collect();
        sorted.sort_unstable();
        let all = sorted.len();
        sorted.dedup();
        let repeats = sorted.len() != all;
        Self { sorted, repeats }
    }

    /// Whether some `name=value` pair came more than once.
    pub fn has_repeats(&self) -> bool {
        self.repeats
    }
}

/// The signature Twilio would send for this URL and form body.
///
/// Parameter order does not matter: they are sorted (by name, then value)
/// before signing, and identical pairs count once, exactly as twilio-python
/// does. Useful for tests and for
/// signing requests in a local provider simulator.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    match mac(auth_token, url, &SignedParams::new(params)) {
        Some(tag) => BASE64.encode(tag),
        // HMAC accepts keys of any length, so this arm is unreachable; an
        // empty string can never pass `is_valid`, which rejects it explicitly.
        None => String::new(),
    }
}

/// True when `signature` matches `url` (or its port variants) and `params`.
/// See [`is_valid_signed`].
pub fn is_valid(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    is_valid_signed(auth_token, url, &SignedParams::new(params), signature)
}

/// True when `signature` matches `url` (or its port variant) and `params`.
///
/// Each comparison is constant-time, so timing reveals nothing of how much
/// of a wrong signature matched. The URL as configured is tried first and
/// a match ends the search, as twilio-node's `validateRequest` does: which
/// variant matched is no secret (the sender chose the URL), and a valid
/// request, nearly every request, then pays for one HMAC instead of two.
pub fn is_valid_signed(
    auth_token: &str,
    url: &str,
    params: &SignedParams<'_>,
    signature: &str,
) -> bool {
    // A tag is 20 bytes; anything that does not decode to 20 bytes cannot match.
    let Ok(given) = BASE64.decode(signature) else {
        return false;
    };
    if given.len() != 20 {
        return false;
    }
    let matches = |candidate: &str| -> bool {
        mac(auth_token, candidate, params)
            .is_some_and(|tag| bool::from(tag.as_slice().ct_eq(&given)))
    };
    url_variants(url).any(|candidate| matches(&candidate))
}

/// For JSON bodies: the URL (with its `bodySHA256` query parameter) is signed
/// and the body hashes to it.
///
/// Returns false when the URL carries no (or an empty) `bodySHA256`: without
/// it nothing ties the body to the signature, so accepting it would let
/// anyone replace the body of a captured request.
pub fn is_valid_json_body(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Some(expected_hash) = body_hash_param(url) else {
        return false;
    };
    if expected_hash.is_empty() {
        return false;
    }
    let body_matches = body_hash(body).as_bytes().ct_eq(expected_hash.as_bytes());
    // Evaluate the signature even when the hash already failed, so the work
    // done does not depend on which check failed.
    let signature_matches = is_valid(auth_token, url, &[], signature);
    bool::from(body_matches) && signature_matches
}

/// The raw HMAC-SHA1 tag over the URL and the sorted parameters.
///
/// `None` only if the MAC cannot be keyed, which HMAC never refuses; it is an
/// `Option` so that no `expect` is needed on a request path.
fn mac(auth_token: &str, url: &str, params: &SignedParams<'_>) -> Option<[u8; 20]> {
    let mut mac = HmacSha1::new_from_slice(auth_token.as_bytes()).ok()?;
    mac.update(url.as_bytes());
    for (name, value) in &params.sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    Some(mac.finalize().into_bytes().into())
}

/// Lower-case hex SHA-256 of a request body, as the provider writes it into
/// `bodySHA256`.
fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The first `bodySHA256` value in the URL's query string, percent-decoded.
fn body_hash_param(url: &str) -> Option<String> {
    let without_fragment = url.split('#').next().unwrap_or(url);
    let (_, query) = without_fragment.split_once('?')?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs
        .into_iter()
        .find(|(name, _)| name == BODY_HASH_PARAM)
        .map(|(_, value)| value)
}

/// The URLs a valid signature may have been computed over: the URL without
/// an explicit port, and the URL with the scheme's default port.
///
/// This mirrors twilio-python's `remove_port`/`add_port`: when the URL has a
/// port, the variants are the URL itself and the URL with the port removed
/// (whatever its number); when it has none, the URL itself and the URL with
/// `:443` (https) or `:80` (http) added. URLs that are not http(s), or whose
/// authority cannot be split, are tried only as given.
fn url_variants(url: &str) -> impl Iterator<Item = Cow<'_, str>> {
    // Lazily: the alternate form is only built if the URL as given fails.
    std::iter::once(Cow::Borrowed(url))
        .chain(std::iter::once_with(|| alternate_port_form(url).map(Cow::Owned)).flatten())
}

fn alternate_port_form(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else if scheme.eq_ignore_ascii_case("http") {
        "80"
    } else {
        return None;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // The host (and port) follow any `user:password@`.
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let (userinfo, host_port) = authority.split_at(host_start);
    // An IPv6 literal contains colons; the port separator comes after `]`.
    let search_from = if host_port.starts_with('[') {
        host_port.find(']')? + 1
    } else {
        0
    };
    let host_and_port = match host_port[search_from..].rfind(':') {
        Some(colon) => {
            let colon = search_from + colon;
            let port = &host_port[colon + 1..];
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            host_port[..colon].to_owned()
        }
        None => format!("{host_port}:{default_port}"),
    };
    if host_and_port.is_empty() || host_and_port.starts_with(':') {
        return None;
    }
    Some(format!("{scheme}://{userinfo}{host_and_port}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variants(url: &str) -> Vec<String> {
        url_variants(url).map(Cow::into_owned).collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    // ---- Twilio's published test vectors -------------------------------
    //
    // Source: twilio/twilio-python, tests/unit/test_request_validator.py
    // (`ValidationTest`). Token, URL, parameters, body and expected
    // signatures are reproduced exactly.

    const TOKEN: &str = "12345";
    const URI: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const EXPECTED: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const BODY: &str = "{\"property\": \"value\", \"boolean\": true}";
    const BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const DUPLICATE_EXPECTED: &str = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";

    fn twilio_params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ])
    }

    fn uri_with_body() -> String {
        format!("{URI}&bodySHA256={BODY_HASH}")
    }

    #[test]
    fn twilio_vector_compute_signature() {
        assert_eq!(compute(TOKEN, URI, &twilio_params()), EXPECTED);
    }

    #[test]
    fn twilio_vector_compute_hash_unicode() {
        assert_eq!(body_hash(BODY.as_bytes()), BODY_HASH);
    }

    #[test]
    fn twilio_vector_compute_signature_with_duplicate_names() {
        // Same pairs, same order as the MultiDict / QueryDict tests.
        let params = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        assert_eq!(compute(TOKEN, URI, &params), DUPLICATE_EXPECTED);
        assert!(is_valid(TOKEN, URI, &params, DUPLICATE_EXPECTED));
    }

    #[test]
    fn twilio_vector_compute_signature_with_a_repeated_identical_pair() {
        // twilio-python's MultiDict and QueryDict tests: `Digits=1234` sent
        // twice signs like once ("Ensure duplicates are removed").
        let params = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(compute(TOKEN, URI, &params), DUPLICATE_EXPECTED);
        assert!(is_valid(TOKEN, URI, &params, DUPLICATE_EXPECTED));
    }

    #[test]
    fn twilio_vector_validation() {
        assert!(is_valid(TOKEN, URI, &twilio_params(), EXPECTED));
    }

    #[test]
    fn twilio_vector_validation_removes_port_on_https() {
        let uri = URI.replace(".com", ".com:1234");
        assert!(is_valid(TOKEN, &uri, &twilio_params(), EXPECTED));
    }

    #[test]
    fn twilio_vector_validation_removes_port_on_http() {
        // Signature of the http URL with port 1234.
        let expected = "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=";
        let uri = URI.replace(".com", ".com:1234").replace("https", "http");
        assert!(is_valid(TOKEN, &uri, &twilio_params(), expected));
    }

    #[test]
    fn twilio_vector_validation_adds_port_on_https() {
        // Signature of the URL with port 443.
        let expected = "kvajT1Ptam85bY51eRf/AJRuM3w=";
        assert!(is_valid(TOKEN, URI, &twilio_params(), expected));
    }

    #[test]
    fn twilio_vector_validation_adds_port_on_http() {
        // Signature of the http URL with port 80.
        let expected = "0ZXoZLH/DfblKGATFgpif+LLRf4=";
        let uri = URI.replace("https", "http");
        assert!(is_valid(TOKEN, &uri, &twilio_params(), expected));
    }

    #[test]
    fn twilio_vector_validation_of_body_succeeds() {
        let expected = "a9nBmqA0ju/hNViExpshrM61xv4=";
        assert!(is_valid_json_body(
            TOKEN,
            &uri_with_body(),
            BODY.as_bytes(),
            expected
        ));
    }

    // ---- Our own cases -------------------------------------------------

    #[test]
    fn a_forged_signature_is_rejected() {
        // Right length, right alphabet, wrong bytes.
        assert!(!is_valid(
            TOKEN,
            URI,
            &twilio_params(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
        ));
    }

    #[test]
    fn a_tampered_parameter_is_rejected() {
        let mut params = twilio_params();
        params[1].1 = "9999".to_owned();
        assert!(!is_valid(TOKEN, URI, &params, EXPECTED));
    }

    #[test]
    fn an_added_parameter_is_rejected() {
        let mut params = twilio_params();
        params.push(("Extra".to_owned(), String::new()));
        assert!(!is_valid(TOKEN, URI, &params, EXPECTED));
    }

    #[test]
    fn a_wrong_token_is_rejected() {
        assert!(!is_valid("54321", URI, &twilio_params(), EXPECTED));
    }

    #[test]
    fn a_different_path_or_query_is_rejected() {
        let params = twilio_params();
        assert!(!is_valid(
            TOKEN,
            "https://mycompany.com/other.php?foo=1&bar=2",
            &params,
            EXPECTED
        ));
        assert!(!is_valid(
            TOKEN,
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params,
            EXPECTED
        ));
        assert!(!is_valid(
            TOKEN,
            "https://mycompany.com/myapp.php",
            &params,
            EXPECTED
        ));
    }

    #[test]
    fn a_signature_over_the_default_port_validates_against_the_bare_url() {
        let signed = compute(TOKEN, "https://mycompany.com:443/myapp.php?foo=1", &[]);
        assert!(is_valid(
            TOKEN,
            "https://mycompany.com/myapp.php?foo=1",
            &[],
            &signed
        ));
        let signed = compute(TOKEN, "http://mycompany.com:80/a", &[]);
        assert!(is_valid(TOKEN, "http://mycompany.com/a", &[], &signed));
    }

    #[test]
    fn a_signature_over_the_bare_url_validates_against_the_default_port() {
        let signed = compute(TOKEN, "https://mycompany.com/myapp.php?foo=1", &[]);
        assert!(is_valid(
            TOKEN,
            "https://mycompany.com:443/myapp.php?foo=1",
            &[],
            &signed
        ));
        let signed = compute(TOKEN, "http://mycompany.com/a", &[]);
        assert!(is_valid(TOKEN, "http://mycompany.com:80/a", &[], &signed));
    }

    #[test]
    fn the_wrong_default_port_for_the_scheme_is_rejected() {
        let signed = compute(TOKEN, "https://mycompany.com:80/a", &[]);
        assert!(!is_valid(TOKEN, "https://mycompany.com/a", &[], &signed));
        let signed = compute(TOKEN, "http://mycompany.com:443/a", &[]);
        assert!(!is_valid(TOKEN, "http://mycompany.com/a", &[], &signed));
    }

    #[test]
    fn a_signature_over_one_port_does_not_validate_another_port() {
        let signed = compute(TOKEN, "https://mycompany.com:8443/a", &[]);
        assert!(!is_valid(
            TOKEN,
            "https://mycompany.com:9443/a",
            &[],
            &signed
        ));
    }

    #[test]
    fn port_variants_are_built_only_from_the_authority() {
        assert_eq!(
            variants("https://h.example/p?x=a:1"),
            ["https://h.example/p?x=a:1", "https://h.example:443/p?x=a:1"]
        );
        assert_eq!(
            variants("https://h.example:8443"),
            ["https://h.example:8443", "https://h.example"]
        );
        assert_eq!(
            variants("http://u:pw@h.example/p"),
            ["http://u:pw@h.example/p", "http://u:pw@h.example:80/p"]
        );
        assert_eq!(
            variants("https://[::1]:8443/p"),
            ["https://[::1]:8443/p", "https://[::1]/p"]
        );
        assert_eq!(
            variants("https://[::1]/p"),
            ["https://[::1]/p", "https://[::1]:443/p"]
        );
        assert_eq!(variants("ftp://h.example/p"), ["ftp://h.example/p"]);
        assert_eq!(variants("not a url"), ["not a url"]);
        assert_eq!(
            variants("https://h.example:abc/p"),
            ["https://h.example:abc/p"]
        );
    }

    #[test]
    fn a_url_query_string_is_part_of_what_is_signed() {
        let url = "https://example.com/voice?survey=42&lang=zh-CN";
        let params = pairs(&[("CallSid", "CA00000000000000000000000000000000")]);
        let signed = compute(TOKEN, url, &params);
        assert!(is_valid(TOKEN, url, &params, &signed));
        assert!(!is_valid(
            TOKEN,
            "https://example.com/voice?survey=43&lang=zh-CN",
            &params,
            &signed
        ));
    }

    #[test]
    fn repeated_parameter_names_are_signed_in_value_order() {
        let a = pairs(&[("Digits", "2"), ("A", "x"), ("Digits", "1")]);
        let b = pairs(&[("Digits", "1"), ("Digits", "2"), ("A", "x")]);
        assert_eq!(compute(TOKEN, URI, &a), compute(TOKEN, URI, &b));
        // Moving a value between the repeated names changes the signature.
        let c = pairs(&[("Digits", "12"), ("A", "x"), ("Digits", "")]);
        assert_ne!(compute(TOKEN, URI, &a), compute(TOKEN, URI, &c));
    }

    #[test]
    fn empty_params_sign_the_url_alone() {
        // Independently computed:
        // base64(HMAC-SHA1(b"12345", b"https://mycompany.com/myapp.php?foo=1&bar=2"))
        let signed = compute(TOKEN, URI, &[]);
        assert_eq!(signed, "zYQTYrRWXE7LtzbG4PfP7/bkkGo=");
        assert!(is_valid(TOKEN, URI, &[], &signed));
        assert!(!is_valid(TOKEN, URI, &twilio_params(), &signed));
    }

    #[test]
    fn non_ascii_values_are_signed_as_utf8() {
        // Expected value computed independently with Python's hmac/hashlib
        // over the UTF-8 bytes, as twilio-python does.
        let params = pairs(&[
            ("SpeechResult", "我很满意，谢谢"),
            ("From", "+8613812348000"),
        ]);
        let signed = compute(TOKEN, "https://例子.example/语音", &params);
        assert_eq!(signed, "xJN6/2Dnu1HGhTOvxRpP5W3pbVo=");
        assert!(is_valid(
            TOKEN,
            "https://例子.example/语音",
            &params,
            &signed
        ));
        let mut tampered = params.clone();
        tampered[0].1 = "我不满意，谢谢".to_owned();
        assert!(!is_valid(
            TOKEN,
            "https://例子.example/语音",
            &tampered,
            &signed
        ));
    }

    #[test]
    fn a_signature_that_is_not_base64_is_rejected() {
        for junk in [
            "not base64!!",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8",
            "💥💥💥💥💥💥💥",
        ] {
            assert!(!is_valid(TOKEN, URI, &twilio_params(), junk), "{junk}");
        }
    }

    #[test]
    fn a_signature_with_surrounding_whitespace_is_rejected() {
        let padded = format!(" {EXPECTED}\n");
        assert!(!is_valid(TOKEN, URI, &twilio_params(), &padded));
    }

    #[test]
    fn an_empty_signature_is_rejected() {
        assert!(!is_valid(TOKEN, URI, &twilio_params(), ""));
        assert!(!is_valid(TOKEN, URI, &[], ""));
        assert!(!is_valid("", "", &[], ""));
        assert!(!is_valid_json_body(
            TOKEN,
            &uri_with_body(),
            BODY.as_bytes(),
            ""
        ));
    }

    #[test]
    fn an_empty_token_still_signs_and_checks() {
        let signed = compute("", URI, &[]);
        assert!(!signed.is_empty());
        assert!(is_valid("", URI, &[], &signed));
        assert!(!is_valid(TOKEN, URI, &[], &signed));
    }

    #[test]
    fn a_json_body_that_does_not_match_its_hash_is_rejected() {
        let expected = "a9nBmqA0ju/hNViExpshrM61xv4=";
        let tampered = BODY.replace("true", "false");
        assert!(!is_valid_json_body(
            TOKEN,
            &uri_with_body(),
            tampered.as_bytes(),
            expected
        ));
    }

    #[test]
    fn a_json_body_with_a_wrong_signature_is_rejected() {
        assert!(!is_valid_json_body(
            TOKEN,
            &uri_with_body(),
            BODY.as_bytes(),
            EXPECTED
        ));
        assert!(!is_valid_json_body(
            "54321",
            &uri_with_body(),
            BODY.as_bytes(),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
    }

    #[test]
    fn a_json_body_without_a_body_hash_in_the_url_is_rejected() {
        let signed = compute(TOKEN, URI, &[]);
        assert!(is_valid(TOKEN, URI, &[], &signed));
        assert!(!is_valid_json_body(TOKEN, URI, BODY.as_bytes(), &signed));
        let empty_hash = format!("{URI}&bodySHA256=");
        let signed = compute(TOKEN, &empty_hash, &[]);
        assert!(!is_valid_json_body(TOKEN, &empty_hash, b"", &signed));
    }

    #[test]
    fn a_json_body_validates_across_port_variants() {
        let url = format!("https://mycompany.com:443/hook?bodySHA256={BODY_HASH}");
        let signed = compute(
            TOKEN,
            &format!("https://mycompany.com/hook?bodySHA256={BODY_HASH}"),
            &[],
        );
        assert!(is_valid_json_body(TOKEN, &url, BODY.as_bytes(), &signed));
    }

    #[test]
    fn the_body_hash_is_read_from_the_query_not_the_fragment() {
        let url = format!("https://mycompany.com/hook#bodySHA256={BODY_HASH}");
        let signed = compute(TOKEN, &url, &[]);
        assert!(!is_valid_json_body(TOKEN, &url, BODY.as_bytes(), &signed));
    }

    #[test]
    fn a_repeated_identical_pair_is_told_apart_from_a_repeated_name() {
        let repeated = pairs(&[("Digits", "1"), ("CallSid", "CA1"), ("Digits", "1")]);
        assert!(SignedParams::new(&repeated).has_repeats());
        let two_values = pairs(&[("Digits", "1"), ("Digits", "2")]);
        assert!(!SignedParams::new(&two_values).has_repeats());
    }

    #[test]
    fn a_signature_over_the_alternate_port_form_is_accepted_and_a_wrong_one_over_neither() {
        let params = twilio_params();
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        let signed_with_port = compute(TOKEN, with_port, &params);
        assert!(is_valid(TOKEN, URI, &params, &signed_with_port));
        assert!(is_valid(TOKEN, with_port, &params, EXPECTED));
        assert!(!is_valid("another", URI, &params, EXPECTED));
        assert!(!is_valid(TOKEN, URI, &params, "not base64!"));
        assert!(!is_valid(TOKEN, URI, &params, "AAAA"));
    }
}
