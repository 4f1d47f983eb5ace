//! Every path of every example flow, played through `dialback simulate`
//! exactly as an ops person would run it.

use std::process::Command;

use serde_json::{Value, json};

/// 2026-11-23 is a Monday; 03:00 UTC is 11:00 in Shanghai (agents at work).
const OFFICE_HOURS: &str = "2026-11-23T03:00:00Z";
/// A Saturday.
const WEEKEND: &str = "2026-11-28T03:00:00Z";

fn simulate(flow: &str, vars: &[&str], inputs: &[&str], now: &str) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialback"));
    cmd.args([
        "simulate",
        &format!("call-flows/{flow}.toml"),
        "--json",
        "--now",
        now,
    ]);
    for v in vars {
        cmd.args(["--var", v]);
    }
    for i in inputs {
        cmd.arg(format!("--input={i}"));
    }
    let out = cmd.output().expect("dialback runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("simulate --json prints JSON")
}

fn wallet(inputs: &[&str], now: &str) -> Value {
    simulate("wallet-followup", &["name=测试用户"], inputs, now)
}

fn said(result: &Value) -> Vec<String> {
    result["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["say"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_satisfied_caller_with_a_recorded_suggestion_completes_the_wallet_survey() {
    let r = wallet(&["1", "1", "5", "1", "1", "record:12"], OFFICE_HOURS);
    assert_eq!(r["outcome"], "completed");
    assert_eq!(
        r["answers"],
        json!({"consent": true, "resolved": true, "csat": 5, "feature": "useful", "has_suggestion": true,
               "suggestion": {"url": "simulated://recording", "duration_secs": 12}})
    );
    assert!(
        said(&r)[0].starts_with("测试用户您好"),
        "the greeting uses the contact's name"
    );
    assert!(said(&r)[0].contains("录音"), "the recording is disclosed");
}

#[test]
fn a_caller_without_suggestions_skips_the_recording() {
    let r = wallet(&["1", "1", "4", "2", "2"], OFFICE_HOURS);
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["answers"]["has_suggestion"], false);
    assert_eq!(r["answers"]["feature"], "so_so");
    assert!(r["answers"].get("suggestion").is_none());
}

#[test]
fn a_caller_who_has_no_time_is_not_surveyed() {
    let r = wallet(&["2"], OFFICE_HOURS);
    assert_eq!(r["outcome"], "refused");
    assert_eq!(r["answers"], json!({"consent": false}));
}

#[test]
fn an_unresolved_issue_in_office_hours_is_handed_to_an_agent() {
    let r = wallet(&["1", "2", "transfer:completed"], OFFICE_HOURS);
    assert_eq!(r["outcome"], "handoff");
    let transcript = r["transcript"].as_array().unwrap();
    assert!(transcript.contains(&json!({"transfer": "queue:wallet-support"})));
    assert!(transcript.contains(&json!({"handoff": {"step": "handoff", "target": "queue:wallet-support", "reason": "connected"}})));
}

#[test]
fn a_busy_queue_gives_the_caller_a_ticket() {
    let r = wallet(&["1", "2", "transfer:busy"], OFFICE_HOURS);
    assert_eq!(r["outcome"], "ticket");
    assert!(said(&r).last().unwrap().contains("一个工作日内给您回电"));
}

#[test]
fn outside_office_hours_the_caller_gets_a_ticket_without_ringing_anyone() {
    let r = wallet(&["1", "2"], WEEKEND);
    assert_eq!(r["outcome"], "ticket");
    let transcript = r["transcript"].as_array().unwrap();
    assert!(!transcript.iter().any(|e| e.get("transfer").is_some()));
    assert!(transcript.contains(&json!({"handoff": {"step": "handoff", "target": "queue:wallet-support", "reason": "outside_hours"}})));
}

#[test]
fn pressing_nine_twice_opts_out_for_good() {
    let r = wallet(&["1", "9", "9"], OFFICE_HOURS);
    assert_eq!(r["outcome"], "opted_out");
    assert!(
        r["transcript"]
            .as_array()
            .unwrap()
            .contains(&json!({"opt_out": true}))
    );
}

#[test]
fn a_caller_who_does_not_confirm_the_opt_out_carries_on() {
    let r = wallet(&["1", "9", "3", "1", "5", "3", "2"], OFFICE_HOURS);
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["answers"]["resolved"], true);
    assert_eq!(r["answers"]["feature"], "not_used");
}

#[test]
fn the_agent_key_reaches_a_person_from_any_question() {
    let r = wallet(&["1", "1", "0", "transfer:completed"], OFFICE_HOURS);
    assert_eq!(r["outcome"], "handoff");
    assert!(r["answers"].get("csat").is_none());
}

#[test]
fn a_silent_caller_hears_escalating_prompts_then_the_question_is_skipped() {
    let r = wallet(
        &["1", "silence", "silence", "silence", "5", "1", "2"],
        OFFICE_HOURS,
    );
    assert_eq!(r["outcome"], "completed");
    assert!(r["answers"].get("resolved").is_none());
    assert_eq!(r["answers"]["csat"], 5);
    let lines = said(&r);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.as_str() == "抱歉，没有听到您的回答。")
            .count(),
        2
    );
}

#[test]
fn a_wrong_key_gets_the_flows_no_match_texts_in_turn() {
    let r = wallet(&["1", "7", "8", "1", "5", "1", "2"], OFFICE_HOURS);
    assert_eq!(r["answers"]["resolved"], true);
    let lines = said(&r);
    assert!(lines.contains(&"抱歉，没有听清。".to_string()));
    assert!(lines.contains(&"请直接按1表示已解决，按2表示未解决。".to_string()));
}

#[test]
fn the_star_key_repeats_the_question() {
    let r = wallet(&["1", "*", "1", "5", "1", "2"], OFFICE_HOURS);
    assert_eq!(r["outcome"], "completed");
    let asked = said(&r)
        .iter()
        .filter(|l| l.starts_with("您反馈的问题已经解决了吗"))
        .count();
    assert_eq!(asked, 2);
}

#[test]
fn a_caller_who_hangs_up_keeps_the_answers_given_so_far() {
    let r = wallet(&["1", "1", "hangup"], OFFICE_HOURS);
    assert_eq!(r["outcome"], "abandoned");
    assert_eq!(r["answers"], json!({"consent": true, "resolved": true}));
}

#[test]
fn spoken_mandarin_answers_are_understood() {
    let r = wallet(
        &[
            "say:好的，方便@0.9",
            "say:嗯，已经解决了@0.85",
            "say:打五分吧@0.9",
            "say:挺好用的@0.8",
            "say:没有了，谢谢@0.9",
        ],
        OFFICE_HOURS,
    );
    assert_eq!(r["outcome"], "completed");
    assert_eq!(
        r["answers"],
        json!({"consent": true, "resolved": true, "csat": 5, "feature": "useful", "has_suggestion": false})
    );
}

#[test]
fn low_confidence_speech_is_asked_again_not_guessed() {
    let r = wallet(
        &[
            "say:是的@0.2",
            "1",
            "say:没有解决@0.9",
            "transfer:no-answer",
        ],
        OFFICE_HOURS,
    );
    assert_eq!(r["answers"]["consent"], true);
    assert_eq!(r["answers"]["resolved"], false);
    assert_eq!(r["outcome"], "ticket");
}

#[test]
fn a_spoken_request_for_a_person_is_honoured() {
    let r = wallet(
        &["1", "say:我要转人工@0.9", "transfer:completed"],
        OFFICE_HOURS,
    );
    assert_eq!(r["outcome"], "handoff");
}

#[test]
fn a_promoter_keys_ten_and_hears_the_referral_tip() {
    let r = simulate("nps-survey", &["name=Alex"], &["10#"], OFFICE_HOURS);
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["answers"], json!({"nps": 10}));
    assert!(said(&r).iter().any(|l| l.contains("Rewards page")));
    assert!(said(&r).last().unwrap().contains("Alex"));
}

#[test]
fn a_detractor_is_asked_what_to_do_better() {
    let r = simulate(
        "nps-survey",
        &["name=Alex"],
        &["3#", "say:the app is too slow to open@0.93"],
        OFFICE_HOURS,
    );
    assert_eq!(r["outcome"], "completed");
    assert_eq!(
        r["answers"],
        json!({"nps": 3, "reason": "the app is too slow to open"})
    );
}

#[test]
fn a_passive_goes_straight_to_goodbye() {
    let r = simulate("nps-survey", &["name=Alex"], &["8"], OFFICE_HOURS);
    assert_eq!(r["answers"], json!({"nps": 8}));
    assert!(
        !said(&r)
            .iter()
            .any(|l| l.contains("Rewards") || l.contains("better"))
    );
}

#[test]
fn a_spoken_nps_score_is_understood() {
    let r = simulate(
        "nps-survey",
        &["name=Alex"],
        &["say:I'd give it a nine@0.9"],
        OFFICE_HOURS,
    );
    assert_eq!(r["answers"], json!({"nps": 9}));
}

#[test]
fn an_nps_caller_who_never_answers_ends_as_no_response() {
    let r = simulate(
        "nps-survey",
        &["name=Alex"],
        &["11#", "silence", "42#"],
        OFFICE_HOURS,
    );
    assert_eq!(r["outcome"], "no_response");
    assert_eq!(r["answers"], json!({}));
}

#[test]
fn saying_stop_calling_opts_out_even_without_an_opt_out_key() {
    let r = simulate(
        "nps-survey",
        &["name=Alex"],
        &["say:please stop calling me@0.9", "say:yes@0.9"],
        OFFICE_HOURS,
    );
    assert_eq!(r["outcome"], "opted_out");
}

#[test]
fn a_happy_feature_user_rates_it_and_ends() {
    let r = simulate(
        "feature-feedback",
        &["name=王女士", "feature=账单分期"],
        &["1", "5"],
        OFFICE_HOURS,
    );
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["answers"], json!({"tried": true, "ease": 5}));
    assert!(said(&r)[0].contains("账单分期"));
}

#[test]
fn a_low_ease_rating_asks_what_was_hard() {
    let r = simulate(
        "feature-feedback",
        &["name=王女士", "feature=账单分期"],
        &["1", "2", "say:按钮太小了@0.9"],
        OFFICE_HOURS,
    );
    assert_eq!(
        r["answers"],
        json!({"tried": true, "ease": 2, "what_was_hard": "按钮太小了"})
    );
}

#[test]
fn a_caller_who_never_tried_the_feature_is_thanked_and_released() {
    let r = simulate(
        "feature-feedback",
        &["name=王女士", "feature=账单分期"],
        &["2"],
        OFFICE_HOURS,
    );
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["answers"], json!({"tried": false}));
}

#[test]
fn the_feature_call_honours_the_opt_out_key() {
    let r = simulate(
        "feature-feedback",
        &["name=王女士", "feature=账单分期"],
        &["9", "9"],
        OFFICE_HOURS,
    );
    assert_eq!(r["outcome"], "opted_out");
}

#[test]
fn a_missing_contact_variable_is_refused_before_the_call() {
    let out = Command::new(env!("CARGO_BIN_EXE_dialback"))
        .args([
            "simulate",
            "call-flows/wallet-followup.toml",
            "--input",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the flow needs `--var name=…`"));
}

#[test]
fn a_malformed_action_is_refused_with_the_accepted_forms() {
    let out = Command::new(env!("CARGO_BIN_EXE_dialback"))
        .args([
            "simulate",
            "call-flows/nps-survey.toml",
            "--var",
            "name=A",
            "--input",
            "press one",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("say:TEXT"));
}

/// The stream-mode copies run the same flows: the same inputs give the
/// same answers and outcomes (flow logic never forks by mode).
#[test]
fn the_stream_mode_flows_take_the_same_paths_as_their_twiml_originals() {
    let feature = ["name=王女士", "feature=账单分期"];
    let paths: &[(&str, &[&str], &[&str])] = &[
        ("feature-feedback", &feature, &["1", "5"]),
        (
            "feature-feedback",
            &feature,
            &["1", "2", "say:按钮太小了@0.9"],
        ),
        ("feature-feedback", &feature, &["2"]),
        ("feature-feedback", &feature, &["9", "9"]),
        (
            "wallet-followup",
            &["name=测试用户"],
            &["1", "1", "5", "1", "1", "record:12"],
        ),
        (
            "wallet-followup",
            &["name=测试用户"],
            &["1", "2", "transfer:busy"],
        ),
        ("wallet-followup", &["name=测试用户"], &["2"]),
    ];
    for (flow, vars, inputs) in paths {
        let twiml = simulate(flow, vars, inputs, OFFICE_HOURS);
        let stream = simulate(&format!("{flow}-stream"), vars, inputs, OFFICE_HOURS);
        assert_eq!(stream["outcome"], twiml["outcome"], "{flow} {inputs:?}");
        assert_eq!(stream["answers"], twiml["answers"], "{flow} {inputs:?}");
        assert_eq!(said(&stream), said(&twiml), "{flow} {inputs:?}");
    }
}

/// `dialback simulate … --machine --json`: the call as a machine hears it.
fn simulate_machine(flow: &str, name: &str, inputs: &[&str]) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialback"));
    cmd.args([
        "simulate",
        &format!("call-flows/{flow}.toml"),
        "--json",
        "--machine",
        "--var",
        &format!("name={name}"),
        "--now",
        OFFICE_HOURS,
    ]);
    for i in inputs {
        cmd.arg(format!("--input={i}"));
    }
    let out = cmd.output().expect("dialback runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn an_answering_machine_hears_only_the_voicemail_step_without_the_customers_name() {
    let r = simulate_machine("wallet-followup", "测试用户", &[]);
    assert_eq!(r["outcome"], "no_response");
    assert_eq!(r["answers"], json!({}));
    assert_eq!(r["transcript"][0], json!({"caller": "machine"}));
    let said = said(&r);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("服务回访电话"), "{said:?}");
    assert!(!said[0].contains("测试用户"), "a voicemail names nobody");
}

#[test]
fn a_flow_without_a_machine_step_talks_to_a_machine_as_to_a_person() {
    let r = simulate_machine("nps-survey", "Alex", &["hangup"]);
    assert_eq!(r["outcome"], "abandoned");
    assert!(!said(&r).is_empty());
}

fn fix_announcement(vars: &[&str], inputs: &[&str], now: &str) -> Value {
    simulate("fix-announcement", vars, inputs, now)
}

#[test]
fn a_cohort_caller_hears_the_day_of_their_earlier_call_and_that_the_fix_is_out() {
    let r = fix_announcement(
        &["previous.date=2026-11-03", "previous.resolved=no"],
        &["1", "5"],
        OFFICE_HOURS,
    );
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["answers"], json!({"resolved": true, "csat": 5}));
    let said = said(&r);
    assert!(
        said[0].contains("您在2026-11-03的回访中反馈的转账问题"),
        "{said:?}"
    );
    assert!(said[0].contains("录音"), "the recording is disclosed");
    assert!(said[1].contains("已经在最新版本中修复"), "{said:?}");
}

#[test]
fn a_caller_not_chosen_by_an_unresolved_answer_hears_the_general_update() {
    // Chosen by another condition (`csat <= 2`): resolved was yes, so the
    // branch on `previous.resolved` is not taken.
    let r = fix_announcement(
        &["previous.date=2026-10-20", "previous.resolved=yes"],
        &["1", "4"],
        OFFICE_HOURS,
    );
    let said = said(&r);
    assert!(said[0].contains("您在2026-10-20的回访中"), "{said:?}");
    assert_eq!(said[1], "我们最近更新了转账功能。");
    assert_eq!(r["outcome"], "completed");
}

#[test]
fn a_cohort_caller_whose_transfers_still_fail_reaches_an_agent_or_a_ticket() {
    let vars = ["previous.date=2026-11-03", "previous.resolved=no"];
    let in_hours = fix_announcement(&vars, &["2", "transfer:completed"], OFFICE_HOURS);
    assert_eq!(in_hours["outcome"], "handoff");
    assert_eq!(in_hours["answers"], json!({"resolved": false}));
    let weekend = fix_announcement(&vars, &["2"], WEEKEND);
    assert_eq!(weekend["outcome"], "ticket");
}

#[test]
fn the_fix_announcement_honours_the_opt_out_key() {
    let r = fix_announcement(
        &["previous.date=2026-11-03", "previous.resolved=no"],
        &["9", "9"],
        OFFICE_HOURS,
    );
    assert_eq!(r["outcome"], "opted_out");
}

/// The confirmation call after support resolved a ticket, with the contact
/// the resolve makes: the customer's name and the earlier call's variables.
fn confirmation(inputs: &[&str], now: &str) -> Value {
    simulate(
        "fix-confirmation",
        &[
            "name=王芳",
            "previous.issue=转账失败",
            "previous.date=2026-11-03",
        ],
        inputs,
        now,
    )
}

#[test]
fn a_customer_whose_problem_is_fixed_confirms_it_with_a_yes() {
    let r = confirmation(&["1"], OFFICE_HOURS);

    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["answers"], json!({"resolved": true}));
    let said = said(&r);
    assert!(
        said[0].starts_with("王芳您好")
            && said[0].contains("上次您反馈的转账失败问题，我们已经处理了。"),
        "{said:?}"
    );
    assert!(said[0].contains("录音"), "the recording is disclosed");
    assert!(said[1].starts_with("现在可以正常使用了吗？"), "{said:?}");
}

#[test]
fn a_spoken_yes_confirms_the_fix_too() {
    let r = confirmation(&["say:是的@0.9"], OFFICE_HOURS);

    assert_eq!(r["answers"], json!({"resolved": true}));
    assert_eq!(r["outcome"], "completed");
}

#[test]
fn a_customer_whose_problem_is_not_fixed_is_handed_to_a_person_right_away() {
    let r = confirmation(&["2", "transfer:completed"], OFFICE_HOURS);

    assert_eq!(r["answers"], json!({"resolved": false}));
    assert_eq!(r["outcome"], "handoff");
    assert!(
        said(&r).iter().any(|s| s.contains("重新为您打开工单")),
        "{:?}",
        said(&r)
    );
    let transcript = r["transcript"].as_array().unwrap();
    assert!(transcript.contains(&json!({"transfer": "queue:wallet-support"})));
}

#[test]
fn a_not_fixed_answer_outside_office_hours_leaves_a_ticket_for_a_call_back() {
    let r = confirmation(&["2"], WEEKEND);

    assert_eq!(r["outcome"], "ticket");
    assert!(
        said(&r).last().unwrap().contains("一个工作日内给您回电"),
        "{:?}",
        said(&r)
    );
}

#[test]
fn a_confirmation_without_the_earlier_calls_details_reads_without_a_hole() {
    let r = simulate(
        "fix-confirmation",
        &["name=", "previous.issue=", "previous.date="],
        &["1"],
        OFFICE_HOURS,
    );

    assert_eq!(
        said(&r)[0],
        "您好，这里是示例钱包客服中心，通话可能会被录音。上次您反馈的问题，我们已经处理了。"
    );
}
