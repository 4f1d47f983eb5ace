//! Webhook forms for the tests of every file in `params`.

pub(super) const SID: &str = "CA0123456789abcdef0123456789abcdef";

pub(super) fn form(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(super) fn with_sid(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs = form(&[("CallSid", SID)]);
    pairs.extend(form(items));
    pairs
}
