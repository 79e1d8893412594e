//! Notifications against a loopback webhook (wiremock): the Slack and JSON
//! bodies, never twice for the same finding, retries with backoff, a failing
//! target never failing the run, the webhook secret never in logs, and
//! level/stage worsening.

mod common;

use std::path::Path;

use common::ops::{config, read_json, root, run_at};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn bodies(server: &MockServer, p: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn demo_config(dir: &Path, notify: &str) -> std::path::PathBuf {
    config(
        dir,
        "casa-verde",
        &root().join("examples/demo"),
        &format!("[reports]\ndir = \"reports\"\n\n{notify}"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_and_json_targets_get_new_serious_findings_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = demo_config(
        d.path(),
        &format!(
            "[[notify]]\nname = \"compliance-slack\"\nurl = \"{0}/services/T000/B000/SLACKSECRET\"\nformat = \"slack\"\n\n\
             [[notify]]\nurl = \"{0}/hooks/generic\"\nformat = \"json\"\nmin_severity = \"critical\"\n",
            server.uri()
        ),
    );
    let (code, out, err) = run_at(&cfg, "2026-11-25T02:00:00Z", &["-v"]);
    assert_eq!(code, 0, "{out}{err}");
    let slack = bodies(&server, "/services/T000/B000/SLACKSECRET").await;
    assert_eq!(slack.len(), 1, "{err}");
    let obj = slack[0].as_object().unwrap();
    assert_eq!(obj.len(), 1, "Slack body is just {{\"text\": ...}}");
    let text = slack[0]["text"].as_str().unwrap();
    assert!(text.contains("run `20261125T020000Z`"), "{text}");
    assert!(text.contains("*casa-verde*"), "{text}");
    assert!(
        text.contains("[CRITICAL] template promo_starter_kit (id)"),
        "{text}"
    );
    assert!(text.contains("[HIGH]"), "{text}");
    assert!(!text.contains("[MEDIUM]"), "only high and critical: {text}");
    assert!(text.contains("… and "), "long lists are cut: {text}");
    assert!(text.contains("report.md"), "{text}");

    let json = bodies(&server, "/hooks/generic").await;
    assert_eq!(json.len(), 1);
    let j = &json[0];
    assert_eq!(j["source"], "wabaguard");
    assert_eq!(j["run_id"], "20261125T020000Z");
    assert!(j["report"].as_str().unwrap().ends_with("report.md"));
    let a = &j["accounts"][0];
    assert_eq!(a["name"], "casa-verde");
    assert_eq!(a["waba_id"], "104729331820556");
    assert_eq!(a["level"], "critical");
    assert!(a.get("previous").is_none(), "first run");
    let new = a["new_findings"].as_array().unwrap();
    assert_eq!(new.len(), 1, "min_severity = critical: {new:?}");
    assert_eq!(new[0]["rule"], "tpl.res.tobacco");
    assert_eq!(new[0]["severity"], "critical");
    assert_eq!(new[0]["fingerprint"].as_str().unwrap().len(), 16);

    // Logs name the target and host, never the secret path.
    assert!(err.contains("notification sent"), "{err}");
    assert!(err.contains("compliance-slack"), "{err}");
    assert!(!err.contains("SLACKSECRET"), "{err}");
    let state = std::fs::read_to_string(d.path().join("reports/notify-state.json")).unwrap();
    assert!(
        !state.contains("SLACKSECRET") && !state.contains("127.0.0.1"),
        "{state}"
    );

    // Same findings next run: nothing new, nothing sent.
    let (code, out, err) = run_at(&cfg, "2026-11-25T02:01:00Z", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        bodies(&server, "/services/T000/B000/SLACKSECRET")
            .await
            .len(),
        1
    );
    assert_eq!(bodies(&server, "/hooks/generic").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flaky_target_is_retried_with_backoff() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = demo_config(
        d.path(),
        &format!(
            "[[notify]]\nurl = \"{}/hook\"\nretries = 3\nbackoff_ms = 20\n",
            server.uri()
        ),
    );
    let (code, out, err) = run_at(&cfg, "2026-11-25T02:00:00Z", &["-v"]);
    assert_eq!(code, 0, "{out}{err}");
    let got = bodies(&server, "/hook").await;
    assert_eq!(got.len(), 3, "two 503s, then delivered");
    assert_eq!(got[0], got[2], "the same body each time");
    assert!(err.contains("attempts=3"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_targets_never_fail_the_run_and_hear_about_it_next_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/gone/SECRET404"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let d = tempfile::tempdir().unwrap();
    let notify = format!(
        "[[notify]]\nurl = \"{}/gone/SECRET404\"\nretries = 2\nbackoff_ms = 10\n\n\
         [[notify]]\nname = \"down\"\nurl_env = \"WG_TEST_HOOK\"\nretries = 1\nbackoff_ms = 10\ntimeout_secs = 2\n",
        server.uri()
    );
    let cfg = demo_config(d.path(), &notify);
    let out = std::process::Command::new(common::ops::bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .env("WABAGUARD_NOW", "2026-11-25T02:00:00Z")
        .env(
            "WG_TEST_HOOK",
            format!("http://127.0.0.1:{closed}/hook/SECRETDOWN"),
        )
        .env_remove("WABAGUARD_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        d.path()
            .join("reports/20261125T020000Z/report.json")
            .is_file()
    );
    // A 404 is not retried; connection errors are.
    assert_eq!(bodies(&server, "/gone/SECRET404").await.len(), 1);
    assert!(err.contains("notification failed"), "{err}");
    assert!(err.contains("HTTP 404"), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{closed}")),
        "host is named: {err}"
    );
    assert!(err.contains("after 2 attempts"), "{err}");
    assert!(
        !err.contains("SECRET404") && !err.contains("SECRETDOWN"),
        "{err}"
    );

    // The target comes back: it gets what it missed (and the 404 one again).
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&up)
        .await;
    let out = std::process::Command::new(common::ops::bin())
        .args(["run", "--quiet", "--config"])
        .arg(&cfg)
        .env("WABAGUARD_NOW", "2026-11-25T02:01:00Z")
        .env("WG_TEST_HOOK", format!("{}/hook/SECRETDOWN", up.uri()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let got = bodies(&up, "/hook/SECRETDOWN").await;
    assert_eq!(got.len(), 1);
    assert!(
        !got[0]["accounts"][0]["new_findings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worse_stage_is_notified_with_the_previous_values() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let fixtures = root().join("tests/fixtures/accounts");
    let notify = format!(
        "[reports]\ndir = \"reports\"\n\n[[notify]]\nurl = \"{}/hook\"\nmin_severity = \"critical\"\n",
        server.uri()
    );
    // Same WABA, first clean, then temporarily blocked.
    let cfg = config(d.path(), "shop", &fixtures.join("clean"), &notify);
    let (code, out, err) = run_at(&cfg, "2026-11-25T00:00:00Z", &[]);
    assert_eq!(code, 0, "{out}{err}");
    let before = bodies(&server, "/hook").await.len();
    let cfg = config(d.path(), "shop", &fixtures.join("temporary_block"), &notify);
    let (code, out, err) = run_at(&cfg, "2026-11-25T00:01:00Z", &[]);
    assert_eq!(code, 0, "{out}{err}");
    let got = bodies(&server, "/hook").await;
    assert_eq!(got.len(), before + 1, "{err}");
    let a = &got.last().unwrap()["accounts"][0];
    assert_eq!(a["name"], "shop");
    assert_eq!(a["stage"], "temporary_block");
    assert_eq!(a["stage_worsened"], true);
    assert_eq!(a["level_worsened"], true);
    assert_eq!(a["previous"]["stage"], "none");
    assert_eq!(a["previous"]["run_id"], "20261125T000000Z");
    let report = read_json(&d.path().join("reports/20261125T000100Z/report.json"));
    assert_eq!(report["accounts"][0]["diff"]["worsened"], true);
}
