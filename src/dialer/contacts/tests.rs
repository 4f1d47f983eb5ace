use super::*;

fn read(csv: &str, required: &[&str]) -> Imported {
    let options = CsvOptions {
        required_vars: required.iter().map(|s| s.to_string()).collect(),
        ..CsvOptions::default()
    };
    read_contacts(csv.as_bytes(), &options, |_| {}).expect("file is readable")
}

#[test]
fn national_and_written_numbers_become_e164_with_the_default_country() {
    let cases = [
        ("13812348000", "+8613812348000"),
        ("138 1234 8000", "+8613812348000"),
        ("+86 138-1234-8000", "+8613812348000"),
        ("008613812348000", "+8613812348000"),
        ("(020) 8123 4567", "+862081234567"),
    ];
    for (raw, e164) in cases {
        assert_eq!(
            normalise_phone(raw, "86").map(|p| p.to_string()),
            Ok(e164.to_string()),
            "{raw}"
        );
    }
    assert_eq!(
        normalise_phone("07700 900123", "44").map(|p| p.to_string()),
        Ok("+447700900123".to_string())
    );
}

#[test]
fn things_that_are_not_phone_numbers_are_refused_with_the_reason() {
    assert_eq!(
        normalise_phone("138-1234-80OO", "86"),
        Err("`138-1234-80OO` is not a phone number: `O` is not a digit".into())
    );
    assert!(
        normalise_phone("12", "86")
            .unwrap_err()
            .contains("8 to 15 digits")
    );
    assert_eq!(
        normalise_phone("", "86"),
        Err("the phone number is empty".into())
    );
}

#[test]
fn good_rows_are_imported_and_bad_rows_are_reported_by_line() {
    let imported = read(
        "phone,name,timezone\n\
         13812348000,王芳,Asia/Shanghai\n\
         not-a-number,李雷,\n\
         13912340000,,\n\
         13712340000,Tom,Mars/Olympus\n\
         13612340000,Lucy\n\
         +12125550123,Ann,America/New_York\n",
        &["name"],
    );
    let phones: Vec<String> = imported
        .contacts
        .iter()
        .map(|c| c.phone.to_string())
        .collect();
    assert_eq!(phones, ["+8613812348000", "+12125550123"]);
    assert_eq!(
        imported.contacts[0].vars.get("name").map(String::as_str),
        Some("王芳")
    );
    assert_eq!(
        imported.contacts[1].timezone,
        Some(chrono_tz::America::New_York)
    );
    let errors: Vec<String> = imported.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "line 3: `not-a-number` is not a phone number: `n` is not a digit",
            "line 4: `name` is empty, and the flow speaks it",
            "line 5: `Mars/Olympus` is not an IANA time zone such as Asia/Shanghai",
            "line 6: has 2 fields but the header has 3",
        ]
    );
}

#[test]
fn the_same_person_twice_is_one_contact_with_the_later_details() {
    let imported = read(
        "phone,name,order\n\
         13812348000,王芳,\n\
         +86 138 1234 8000,,A-17\n\
         138-1234-8000,Wang Fang,\n",
        &[],
    );
    assert_eq!(imported.contacts.len(), 1);
    assert_eq!(imported.duplicates, 2);
    let vars = &imported.contacts[0].vars;
    assert_eq!(vars.get("name").map(String::as_str), Some("Wang Fang"));
    assert_eq!(vars.get("order").map(String::as_str), Some("A-17"));
    assert_eq!(imported.contacts[0].line, 2);
}

#[test]
fn a_file_without_the_phone_column_is_refused_whole() {
    let err = read_contacts(
        "mobile,name\n1,2\n".as_bytes(),
        &CsvOptions::default(),
        |_| {},
    )
    .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "the header has no `phone` column (the phone number); columns are: mobile, name"
    );
}

#[test]
fn a_hundred_thousand_rows_parse_quickly() {
    let mut csv = String::from("phone,name\n");
    for i in 0..100_000u64 {
        csv.push_str(&format!("139{:08},客户{i}\n", i));
    }
    let started = std::time::Instant::now();
    let imported = read(&csv, &["name"]);
    assert_eq!(imported.contacts.len(), 100_000);
    assert!(imported.errors.is_empty());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn stored_variables_come_back_as_the_call_machine_takes_them() {
    let contact = &read("phone,name,order\n13812348000,王芳,A-17\n", &[]).contacts[0];
    let stored = contact.to_new_contact(None);
    assert_eq!(vars_from_json(&stored.vars), contact.vars);
    assert_eq!(stored.timezone, None);
}
