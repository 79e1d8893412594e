//! The binary with live (fake, loopback) Graph accounts: exit codes, the
//! snapshots kept next to the report, the `snapshot` command, and the token
//! never reaching anything written.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::fake_graph::{FakeGraph, demo_waba, generated_waba};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn write_config(dir: &Path, server: &MockServer, accounts: &[(&str, &str, &str)]) -> PathBuf {
    let mut text = format!(
        "[reports]\ndir = \"reports\"\n\n[graph]\nbase_url = \"{}\"\ntimeout_secs = 5\nmax_retries = 2\nbackoff_base_ms = 5\nbackoff_max_ms = 20\npage_size = 10\n\n",
        server.uri()
    );
    for (name, waba, env) in accounts {
        text.push_str(&format!(
            "[[accounts]]\nname = \"{name}\"\nwaba_id = \"{waba}\"\ntoken_env = \"{env}\"\n\n"
        ));
    }
    let p = dir.join("config.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn only_run_dir(reports: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_audits_two_of_three_graph_accounts_exits_0_and_keeps_snapshots() {
    let server = FakeGraph {
        wabas: vec![
            generated_waba("1001", "TOKEN_A", 35, 2),
            generated_waba("1002", "TOKEN_B", 5, 1),
            generated_waba("1003", "TOKEN_C", 12, 1),
        ],
        ..FakeGraph::default()
    }
    .start()
    .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(
        d.path(),
        &server,
        &[
            ("alpha", "1001", "WG_TEST_TOK_A"),
            ("beta", "1002", "WG_TEST_TOK_B"),
            ("gamma", "1003", "WG_TEST_TOK_C"),
        ],
    );
    let out = Command::cargo_bin("wabaguard")
        .unwrap()
        .args(["run", "--config"])
        .arg(&cfg)
        .env("WG_TEST_TOK_A", "TOKEN_A")
        .env("WG_TEST_TOK_B", "TOKEN_EXPIRED")
        .env("WG_TEST_TOK_C", "TOKEN_C")
        .env_remove("WABAGUARD_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 accounts audited, 1 failed"), "{stdout}");
    assert!(
        stdout.contains("beta") && stdout.contains("NOT AUDITED"),
        "{stdout}"
    );

    let run = only_run_dir(&d.path().join("reports"));
    let report: Value =
        serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    let statuses: Vec<(&str, &str, &str)> = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["status"].as_str().unwrap(),
                a["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("alpha", "audited", "graph"),
            ("beta", "failed", "graph"),
            ("gamma", "audited", "graph")
        ]
    );
    assert_eq!(report["accounts"][0]["templates"], 35);
    assert!(
        report["accounts"][1]["error"]
            .as_str()
            .unwrap()
            .contains("WG_TEST_TOK_B")
    );
    // The collected snapshots sit next to the report, in the exports layout.
    let alpha = run.join("snapshots/alpha");
    assert!(alpha.join("waba.json").is_file());
    assert!(alpha.join("phone_numbers.json").is_file());
    assert!(alpha.join("message_templates/0001.json").is_file());
    assert_eq!(
        std::fs::read_dir(alpha.join("business_profile"))
            .unwrap()
            .count(),
        2
    );
    assert!(run.join("snapshots/gamma/waba.json").is_file());
    assert!(!run.join("snapshots/beta").exists());
    // Replaying the kept snapshot offline gives the same template count.
    let replay = wabaguard::collect::exports::collect("alpha", Some("1001"), &alpha).unwrap();
    assert_eq!(replay.templates.len(), 35);
}

#[tokio::test(flavor = "multi_thread")]
async fn run_exits_2_when_no_account_can_be_collected() {
    let server = FakeGraph {
        wabas: vec![generated_waba("1001", "TOKEN_A", 3, 1)],
        ..FakeGraph::default()
    }
    .start()
    .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(
        d.path(),
        &server,
        &[
            ("alpha", "1001", "WG_TEST_TOK_A"),
            ("beta", "1002", "WG_TEST_TOK_B"),
        ],
    );
    let out = Command::cargo_bin("wabaguard")
        .unwrap()
        .args(["run", "--config"])
        .arg(&cfg)
        .env("WG_TEST_TOK_A", "WRONG")
        .env_remove("WG_TEST_TOK_B")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no account could be audited"), "{stderr}");
    // The report of the failed run is still written.
    let run = only_run_dir(&d.path().join("reports"));
    let report: Value =
        serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    let b = report["accounts"][1]["error"].as_str().unwrap();
    assert!(b.contains("WG_TEST_TOK_B") && b.contains("not set"), "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_never_appears_in_reports_snapshots_logs_or_output() {
    const SECRET: &str = "EAAGsecretTOKENneverWRITTEN42";
    let demo = demo_waba(SECRET);
    let waba_id = demo.id.clone();
    let bad_profile = demo.numbers[0]["id"].as_str().unwrap().to_owned();
    let server = FakeGraph {
        // A proxy that echoes the token into paging links.
        echo_token_in_next: true,
        wabas: vec![demo],
        ..FakeGraph::default()
    }
    .start()
    .await;
    // A Graph error whose message quotes the token.
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{bad_profile}/whatsapp_business_profile")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": format!("(#100) Invalid parameter near access_token={SECRET}"), "code": 100}})))
        .mount(&server)
        .await;
    // And a transient failure (logged with its details at warn) that echoes it too.
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{waba_id}")))
        .respond_with(ResponseTemplate::new(503).set_body_string(format!("upstream said {SECRET}")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(
        d.path(),
        &server,
        &[("casa-verde", &waba_id, "WG_TEST_SECRET")],
    );

    let run = Command::cargo_bin("wabaguard")
        .unwrap()
        .args(["-vvv", "run", "--config"])
        .arg(&cfg)
        .env("WG_TEST_SECRET", SECRET)
        .env("WABAGUARD_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let snap_dir = d.path().join("snap-out");
    let snap = Command::cargo_bin("wabaguard")
        .unwrap()
        .args([
            "--log-format",
            "json",
            "snapshot",
            "--account",
            "casa-verde",
            "--config",
        ])
        .arg(&cfg)
        .arg("--out")
        .arg(&snap_dir)
        .env("WG_TEST_SECRET", SECRET)
        .env("WABAGUARD_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(
        snap.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&snap.stderr)
    );

    let run_stderr = String::from_utf8_lossy(&run.stderr);
    // Trace logging really was on (so the check below means something).
    assert!(
        run_stderr.contains("TRACE"),
        "{}",
        &run_stderr[..run_stderr.len().min(2000)]
    );
    assert!(
        run_stderr.contains("***"),
        "the echoed token was redacted in the retry warning"
    );
    for (what, bytes) in [
        ("run stdout", &run.stdout),
        ("run stderr", &run.stderr),
        ("snapshot stdout", &snap.stdout),
        ("snapshot stderr", &snap.stderr),
    ] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(SECRET),
            "token in {what}"
        );
    }
    let mut files = Vec::new();
    all_files(&d.path().join("reports"), &mut files);
    all_files(&snap_dir, &mut files);
    assert!(files.len() > 8, "{files:?}");
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        assert!(!text.contains(SECRET), "token written to {}", f.display());
    }
    // The profile error reached the report as a note, redacted.
    let report =
        std::fs::read_to_string(files.iter().find(|f| f.ends_with("report.json")).unwrap())
            .unwrap();
    assert!(
        report.contains("could not be read") && report.contains("access_token=***"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_writes_an_exports_folder_and_refuses_to_overwrite() {
    let server = FakeGraph {
        wabas: vec![generated_waba("1001", "TOKEN_A", 25, 2)],
        ..FakeGraph::default()
    }
    .start()
    .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = write_config(d.path(), &server, &[("alpha", "1001", "WG_TEST_TOK_A")]);
    let out_dir = d.path().join("alpha-snap");
    let out = Command::cargo_bin("wabaguard")
        .unwrap()
        .args(["snapshot", "--account", "alpha", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out_dir)
        .env("WG_TEST_TOK_A", "TOKEN_A")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("25 templates, 2 phone numbers, 2 business profiles"),
        "{stdout}"
    );
    for f in [
        "waba.json",
        "phone_numbers.json",
        "message_templates/0001.json",
        "message_templates/0003.json",
        "wabaguard-snapshot.json",
    ] {
        assert!(out_dir.join(f).is_file(), "{f}");
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("wabaguard-snapshot.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["api_version"], "v21.0");
    assert_eq!(manifest["templates"], 25);

    // A second snapshot into the same (now non-empty) folder is refused.
    let again = Command::cargo_bin("wabaguard")
        .unwrap()
        .args(["snapshot", "--account", "alpha", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out_dir)
        .env("WG_TEST_TOK_A", "TOKEN_A")
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    // Unknown account: a clear error listing the configured ones.
    let unknown = Command::cargo_bin("wabaguard")
        .unwrap()
        .args(["snapshot", "--account", "nope", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(d.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("configured: alpha"));
}

#[test]
fn a_literal_token_in_the_config_is_rejected_without_echoing_it() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[[accounts]]\nname = \"acme\"\nwaba_id = \"1022\"\ntoken = \"EAAGliteralTOKEN\"\n",
    )
    .unwrap();
    let out = Command::cargo_bin("wabaguard")
        .unwrap()
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("accounts[0].token") && stderr.contains("token_env"),
        "{stderr}"
    );
    assert!(!stderr.contains("EAAGliteralTOKEN"), "{stderr}");
}
