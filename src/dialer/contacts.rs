//! Contacts read from CSV, parsed at the edge into typed rows.
//!
//! The file has a header row. One column holds the phone number (`phone` by
//! default), an optional `timezone` column an IANA zone name, and every other
//! column is a flow variable (`name`, `order_id`, …). A bad row never stops an
//! import: it is reported with its line number and reason, and the good rows
//! are kept. A phone that appears twice is one contact; later non-empty
//! values fill in or replace earlier ones.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::phone::PhoneNumber;
use crate::store::campaigns::NewContact;

/// One contact, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub phone: PhoneNumber,
    /// The flow variables from the row's other columns.
    pub vars: BTreeMap<String, String>,
    /// `None`: the campaign's default zone.
    pub timezone: Option<Tz>,
    /// The CSV line it was first seen on, for messages.
    pub line: u64,
}

impl Contact {
    /// The row as the store keeps it; `next_at` is when its first call is due
    /// (`None` until the campaign starts).
    pub fn to_new_contact(&self, next_at: Option<DateTime<Utc>>) -> NewContact {
        NewContact {
            phone: self.phone.to_string(),
            vars: serde_json::Value::Object(
                self.vars
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            ),
            timezone: self.timezone.map(|z| z.name().to_owned()),
            next_at,
            follows: None,
        }
    }
}

/// A stored contact's variables back as the call machine takes them; a
/// value that is not text (never written by the importer) is kept as JSON.
pub fn vars_from_json(vars: &serde_json::Value) -> BTreeMap<String, String> {
    vars.as_object()
        .map(|object| {
            object
                .iter()
                .map(|(k, v)| {
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A row that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What a CSV file yielded.
#[derive(Debug, Default)]
pub struct Imported {
    pub contacts: Vec<Contact>,
    pub errors: Vec<RowError>,
    /// Rows merged into an earlier row with the same phone.
    pub duplicates: usize,
}

/// How to read a contacts file.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// The header of the phone column.
    pub phone_column: String,
    /// Country calling code for numbers written without one (`86`).
    pub country_code: String,
    /// Variables the flow declares: a row that leaves one empty is refused,
    /// since the call would speak a blank where the name should be.
    pub required_vars: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            phone_column: "phone".into(),
            country_code: "86".into(),
            required_vars: Vec::new(),
        }
    }
}

/// Why a whole file was refused (as opposed to single rows).
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("the CSV file could not be read: {0}")]
    Read(#[from] csv::Error),
    #[error("the header has no `{0}` column (the phone number); columns are: {1}")]
    NoPhoneColumn(String, String),
    #[error("the header has no `{0}` column, which the flow needs as a variable")]
    MissingVariable(String),
}

/// Reads every row of `input`. `progress` is called with each row's byte
/// offset, so a caller can show a progress bar over the file size.
pub fn read_contacts<R: Read>(
    input: R,
    options: &CsvOptions,
    mut progress: impl FnMut(u64),
) -> Result<Imported, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader.headers()?.clone();
    let phone_at = headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case(&options.phone_column))
        .ok_or_else(|| {
            CsvError::NoPhoneColumn(
                options.phone_column.clone(),
                headers.iter().collect::<Vec<_>>().join(", "),
            )
        })?;
    let zone_at = headers
        .iter()
        .position(|h| h.eq_ignore_ascii_case("timezone"));
    if let Some(missing) = options
        .required_vars
        .iter()
        .find(|v| !headers.iter().any(|h| h == v.as_str()))
    {
        return Err(CsvError::MissingVariable(missing.clone()));
    }

    let mut imported = Imported::default();
    let mut seen: HashMap<PhoneNumber, usize> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                imported.errors.push(RowError {
                    line,
                    reason: format!("not readable as CSV: {e}"),
                });
                continue;
            }
        }
        progress(reader.position().byte());
        let line = record.position().map_or(line, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        match parse_row(&headers, &record, phone_at, zone_at, options) {
            Ok((phone, vars, timezone)) => match seen.get(&phone) {
                Some(&index) => {
                    let earlier = &mut imported.contacts[index];
                    earlier
                        .vars
                        .extend(vars.into_iter().filter(|(_, v)| !v.is_empty()));
                    earlier.timezone = timezone.or(earlier.timezone);
                    imported.duplicates += 1;
                }
                None => {
                    seen.insert(phone.clone(), imported.contacts.len());
                    imported.contacts.push(Contact {
                        phone,
                        vars,
                        timezone,
                        line,
                    });
                }
            },
            Err(reason) => imported.errors.push(RowError { line, reason }),
        }
    }
    Ok(imported)
}

type Row = (PhoneNumber, BTreeMap<String, String>, Option<Tz>);

fn parse_row(
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
    phone_at: usize,
    zone_at: Option<usize>,
    options: &CsvOptions,
) -> Result<Row, String> {
    if record.len() != headers.len() {
        return Err(format!(
            "has {} fields but the header has {}",
            record.len(),
            headers.len()
        ));
    }
    let raw_phone = record.get(phone_at).unwrap_or_default();
    let phone = normalise_phone(raw_phone, &options.country_code)?;
    let timezone = match zone_at
        .and_then(|i| record.get(i))
        .filter(|z| !z.is_empty())
    {
        Some(name) => Some(
            name.parse::<Tz>()
                .map_err(|_| format!("`{name}` is not an IANA time zone such as Asia/Shanghai"))?,
        ),
        None => None,
    };
    let vars: BTreeMap<String, String> = headers
        .iter()
        .zip(record.iter())
        .enumerate()
        .filter(|(i, _)| *i != phone_at && Some(*i) != zone_at)
        .map(|(_, (h, v))| (h.to_owned(), v.to_owned()))
        .collect();
    if let Some(empty) = options
        .required_vars
        .iter()
        .find(|v| vars.get(v.as_str()).is_none_or(|x| x.is_empty()))
    {
        return Err(format!("`{empty}` is empty, and the flow speaks it"));
    }
    Ok((phone, vars, timezone))
}

/// Turns a phone number as people write it into E.164.
///
/// Why not the `phonenumber` crate: it carries Google's whole metadata set
/// and still needs the same default-country decision; what a contacts file
/// needs is only this. Rules, in order:
/// - spaces, `-`, `.`, `(` and `)` are separators and are dropped;
/// - `+` starts an international number, and so does a leading `00`;
/// - otherwise the number is national: one leading trunk `0` is dropped
///   (`020 …` in Guangzhou, `07700 …` in the UK) and `country_code` put in front;
/// - the result must be a valid E.164 number (8 to 15 digits, no leading 0).
///
/// Which numbers exist is left to the provider: a well-formed number that does
/// not exist fails its call with a 4xx, recorded against the contact.
pub fn normalise_phone(raw: &str, country_code: &str) -> Result<PhoneNumber, String> {
    if raw.is_empty() {
        return Err("the phone number is empty".into());
    }
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
        .collect();
    let international = if let Some(rest) = compact.strip_prefix('+') {
        rest.to_owned()
    } else if let Some(rest) = compact.strip_prefix("00") {
        rest.to_owned()
    } else {
        let national = compact.strip_prefix('0').unwrap_or(&compact);
        format!("{country_code}{national}")
    };
    if let Some(bad) = international.chars().find(|c| !c.is_ascii_digit()) {
        return Err(format!(
            "`{}` is not a phone number: `{bad}` is not a digit",
            quote(raw)
        ));
    }
    PhoneNumber::parse(&format!("+{international}")).map_err(|_| {
        format!(
            "`{}` is not a phone number: it should have 8 to 15 digits with its country code",
            quote(raw)
        )
    })
}

/// A raw value cut short for a message: a mistyped cell can be anything.
fn quote(raw: &str) -> String {
    let cut: String = raw.chars().take(30).collect();
    if cut.len() < raw.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests;
