//! The README's tour, step by step as it is printed there: a first call by
//! curl in local mode (unsigned requests from this machine), then the
//! call's result from the admin API. If this test changes, the README's
//! tour changes with it.

use serde_json::json;

use crate::common::db::TestDb;
use crate::common::phone::{Options, PUBLIC_URL, Server};

const CALL: &str = "CA00000000000000000000000000000001";

#[tokio::test]
async fn the_readme_tour_by_curl_stores_the_answers_it_shows() {
    let db = TestDb::sqlite().await;
    let server = Server::start_with(Options {
        database_url: db.url().to_string(),
        crm_webhook: None,
        auth_token: None,
        clock: dialback::config::Clock::System,
    })
    .await;

    let (status, body) = server
        .post_raw(
            &format!("{PUBLIC_URL}/twilio/voice?flow=wallet-followup"),
            &[
                ("CallSid", CALL),
                ("From", "+8613812348000"),
                ("To", "+861000000001"),
            ],
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for shown in [
        r#"<Response><Say language="cmn-CN" voice="Polly.Zhiyu">您好，这里是示例钱包客服中心"#
            .to_string(),
        format!(r#"<Gather input="dtmf speech" action="{PUBLIC_URL}/twilio/gather?seq=1""#),
        "现在方便占用您一分钟时间吗？".to_string(),
    ] {
        assert!(
            body.contains(&shown),
            "the README shows {shown}; got {body}"
        );
    }

    // consent yes, problem solved, CSAT 5, the new feature is "useful", no suggestion:
    for (seq, digits) in [(1, "1"), (2, "1"), (3, "5"), (4, "1"), (5, "2")] {
        let (status, body) = server
            .post_raw(
                &format!("{PUBLIC_URL}/twilio/gather?seq={seq}"),
                &[("CallSid", CALL), ("Digits", digits)],
                None,
            )
            .await;
        assert_eq!(status, 200, "answer {seq}: {body}");
    }
    let (status, _) = server
        .post_raw(
            &format!("{PUBLIC_URL}/twilio/status"),
            &[("CallSid", CALL), ("CallStatus", "completed")],
            None,
        )
        .await;
    assert_eq!(status, 200);

    let (status, call) = server.admin_get(&format!("/api/calls/{CALL}")).await;
    assert_eq!(status, 200, "{call}");
    assert_eq!(
        call["answers"],
        json!({"consent": true, "csat": 5, "feature": "useful",
               "has_suggestion": false, "resolved": true})
    );
    assert_eq!(call["outcome"], "completed");
    assert_eq!(call["status"], "completed");
    server.stop().await;
    db.cleanup().await;
}
