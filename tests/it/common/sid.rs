//! Valid CallSids for tests that name their calls with short labels.

use dialback::store::CallSid;

/// The CallSid a test's label stands for. The store holds only valid sids
/// (`CA` and 32 hex digits), so a readable label ("stale", "CA1") is
/// hex-encoded after `CA` and padded with zeros: different labels give
/// different sids. A label that already is a CallSid is that sid.
pub fn sid_for(label: &str) -> CallSid {
    if let Ok(sid) = CallSid::parse(label) {
        return sid;
    }
    assert!(
        label.len() <= 16,
        "a CallSid label is at most 16 bytes: {label:?}"
    );
    let hex: String = label.bytes().map(|b| format!("{b:02x}")).collect();
    CallSid::parse(&format!("CA{hex:0<32}")).expect("CA and 32 hex digits")
}

#[test]
fn a_label_becomes_a_valid_call_sid_of_its_own() {
    assert_eq!(
        sid_for("CA-stale").as_str(),
        "CA43412d7374616c650000000000000000"
    );
    assert_ne!(sid_for("CA1"), sid_for("CA10"));
    let valid = "CA0123456789abcdef0123456789abcdef";
    assert_eq!(sid_for(valid).as_str(), valid);
}
