use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test time")
        .with_timezone(&Utc)
}

fn zone(name: &str) -> Tz {
    name.parse().expect("test zone")
}

fn plan(window: &str) -> Plan {
    Plan {
        window: Window::parse(window).expect("test window"),
        default_zone: zone("Asia/Shanghai"),
        max_attempts: 3,
        backoff: Backoff::default(),
        starts_at: None,
        ends_at: None,
    }
}

#[test]
fn a_contact_inside_the_window_is_called_now() {
    let now = utc("2026-11-23T03:00:00Z"); // 11:00 in Shanghai
    assert_eq!(
        plan("09:00-20:00").first_attempt(None, now),
        Next::CallAt(now)
    );
}

#[test]
fn a_contact_before_the_window_is_called_when_it_opens_in_their_zone() {
    let now = utc("2026-11-22T23:00:00Z"); // 07:00 in Shanghai
    assert_eq!(
        plan("09:00-20:00").first_attempt(None, now),
        Next::CallAt(utc("2026-11-23T01:00:00Z"))
    );
}

#[test]
fn the_window_end_is_exclusive_so_the_next_call_is_the_next_morning() {
    let now = utc("2026-11-23T12:00:00Z"); // 20:00 in Shanghai
    assert_eq!(
        plan("09:00-20:00").first_attempt(None, now),
        Next::CallAt(utc("2026-11-24T01:00:00Z"))
    );
}

#[test]
fn the_same_instant_is_open_in_one_zone_and_closed_in_another() {
    let p = plan("09:00-20:00");
    let now = utc("2026-11-23T03:00:00Z"); // 11:00 Shanghai, 22:00 New York
    assert_eq!(
        p.first_attempt(Some(zone("Asia/Shanghai")), now),
        Next::CallAt(now)
    );
    assert_eq!(
        p.first_attempt(Some(zone("America/New_York")), now),
        Next::CallAt(utc("2026-11-23T14:00:00Z")) // 09:00 EST
    );
    assert_eq!(
        p.first_attempt(Some(zone("Europe/London")), now),
        Next::CallAt(utc("2026-11-23T09:00:00Z")) // 09:00 GMT
    );
}

#[test]
fn a_retry_pushed_past_the_evening_lands_on_the_morning_after_a_dst_change() {
    // Saturday 19:50 in London (GMT); the clocks go forward that night.
    let now = utc("2026-03-28T19:50:00Z");
    let next = plan("09:00-20:00").after(Some(zone("Europe/London")), CallResult::NoAnswer, 1, now);
    // Sunday 09:00 BST is 08:00 UTC, not 09:00.
    assert_eq!(next, Next::CallAt(utc("2026-03-29T08:00:00Z")));
}

#[test]
fn a_window_opening_inside_a_spring_forward_gap_opens_after_the_gap() {
    // New York skips 02:00-03:00 on 2026-03-08.
    let now = utc("2026-03-08T05:00:00Z"); // 00:00 EST
    let next = plan("02:30-05:00").first_attempt(Some(zone("America/New_York")), now);
    assert_eq!(next, Next::CallAt(utc("2026-03-08T07:00:00Z"))); // 03:00 EDT
}

#[test]
fn a_weekday_window_carries_a_friday_evening_retry_to_monday() {
    let now = utc("2026-11-20T11:50:00Z"); // Friday 19:50 in Shanghai
    let next = plan("Mon-Fri 09:00-20:00").after(None, CallResult::Busy, 1, now);
    assert_eq!(next, Next::CallAt(utc("2026-11-23T01:00:00Z"))); // Monday 09:00
}

#[test]
fn each_result_waits_its_own_back_off() {
    let p = plan("00:00-24:00");
    let now = utc("2026-11-23T03:00:00Z");
    let cases = [
        (CallResult::Busy, "2026-11-23T03:15:00Z"),
        (CallResult::NoAnswer, "2026-11-23T05:00:00Z"),
        (CallResult::Failed, "2026-11-23T04:00:00Z"),
        (CallResult::Machine, "2026-11-23T07:00:00Z"),
        (CallResult::ProviderUnavailable, "2026-11-23T03:01:00Z"),
    ];
    for (result, expected) in cases {
        assert_eq!(
            p.after(None, result, 1, now),
            Next::CallAt(utc(expected)),
            "{result:?}"
        );
    }
}

#[test]
fn the_last_allowed_attempt_gives_up_but_provider_refusals_do_not_count() {
    let p = plan("00:00-24:00");
    let now = utc("2026-11-23T03:00:00Z");
    assert_eq!(
        p.after(None, CallResult::Busy, 3, now),
        Next::GiveUp(GiveUpReason::MaxAttempts)
    );
    assert_eq!(
        p.after(None, CallResult::ProviderUnavailable, 3, now),
        Next::CallAt(utc("2026-11-23T03:01:00Z"))
    );
    assert_eq!(p.after(None, CallResult::Answered, 1, now), Next::Done);
}

#[test]
fn a_retry_after_the_end_date_gives_up() {
    let mut p = plan("09:00-20:00");
    p.ends_at = Some(utc("2026-11-23T12:00:00Z")); // 20:00 Shanghai
    let now = utc("2026-11-23T11:00:00Z"); // 19:00: the retry would be tomorrow
    assert_eq!(
        p.after(None, CallResult::NoAnswer, 1, now),
        Next::GiveUp(GiveUpReason::CampaignEnded)
    );
}

#[test]
fn no_call_is_placed_before_the_start_date() {
    let mut p = plan("09:00-20:00");
    p.starts_at = Some(utc("2026-12-01T00:00:00Z")); // 08:00 Shanghai
    let now = utc("2026-11-23T03:00:00Z");
    assert_eq!(
        p.first_attempt(None, now),
        Next::CallAt(utc("2026-12-01T01:00:00Z"))
    );
}

#[test]
fn a_recall_at_night_waits_for_the_morning() {
    let p = plan("09:00-20:00");
    let asked = Utc
        .with_ymd_and_hms(2026, 11, 23, 15, 0, 0)
        .single()
        .expect("time"); // 23:00
    assert_eq!(
        p.recall_at(None, asked),
        Next::CallAt(utc("2026-11-24T01:00:00Z"))
    );
}

#[test]
fn malformed_windows_are_refused_with_a_reason() {
    assert!(
        Window::parse("20:00-09:00")
            .unwrap_err()
            .contains("ends before it starts")
    );
    assert!(Window::parse("nine to five").is_err());
    assert!(Window::parse("Mon-Fri 09:00-18:00; Sat 10:00-12:00").is_ok());
}
