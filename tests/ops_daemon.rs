//! The daemon as a process: start-up validation (exit 2 naming the bad
//! value), the reports-folder lock against a second daemon or a `run`,
//! graceful shutdown on SIGTERM with a run in progress (exit 0, complete
//! report), the grace period, and JSON logs with the run id.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::fake_graph::{FakeGraph, demo_waba};
use common::ops::{Watched, bin, config, read_json, root, run_dirs};

const FAR: &str = "schedule = \"0 0 3 1 1 *\"\ntimezone = \"Europe/Berlin\"";

fn daemon(cfg: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("daemon")
        .arg("--config")
        .arg(cfg)
        .env_remove("WABAGUARD_LOG")
        .env_remove("WABAGUARD_NOW");
    c
}

fn demo_config(dir: &Path, daemon_section: &str) -> PathBuf {
    config(
        dir,
        "casa-verde",
        &root().join("examples/demo"),
        &format!("[reports]\ndir = \"reports\"\n\n[daemon]\n{daemon_section}"),
    )
}

#[test]
fn bad_schedule_or_time_zone_exits_2_naming_the_value() {
    let d = tempfile::tempdir().unwrap();
    for (section, want) in [
        ("schedule = \"0 2 * * *\"", "`0 2 * * *`"),
        ("schedule = \"0 0 26 * * *\"", "`0 0 26 * * *`"),
        (
            "schedule = \"0 0 2 * * *\"\ntimezone = \"Europe/Berln\"",
            "`Europe/Berln`",
        ),
        ("shutdown_grace = \"a while\"", "`a while`"),
    ] {
        let cfg = demo_config(d.path(), section);
        let out = daemon(&cfg).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{section}: {err}");
        assert!(err.contains(want), "{section}: {err}");
        assert!(err.contains("config.toml"), "{err}");
    }
    assert!(run_dirs(&d.path().join("reports")).is_empty());
}

#[test]
fn a_missing_webhook_variable_stops_the_daemon_at_start() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        "casa-verde",
        &root().join("examples/demo"),
        &format!(
            "[daemon]\n{FAR}\n\n[[notify]]\nname = \"ops\"\nurl_env = \"WG_TEST_UNSET_HOOK\"\n"
        ),
    );
    let out = daemon(&cfg)
        .env_remove("WG_TEST_UNSET_HOOK")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("notify[0] (ops)") && err.contains("WG_TEST_UNSET_HOOK"),
        "{err}"
    );
}

#[test]
fn a_second_daemon_and_a_run_are_refused_while_one_runs() {
    let d = tempfile::tempdir().unwrap();
    let cfg = demo_config(d.path(), FAR);
    let mut first = Watched::spawn(daemon(&cfg));
    first.wait_for("daemon started", Duration::from_secs(20));
    let pid = first.child.id();

    let out = daemon(&cfg).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("in use by another wabaguard process"), "{err}");
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    assert!(err.contains("`wabaguard daemon`"), "{err}");

    let out = Command::new(bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another wabaguard process"));

    // Idle: SIGINT stops it at once, exit 0, and the lock is free again.
    first.signal("INT");
    let (code, log) = first.finish(Duration::from_secs(10));
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("no run in progress"), "{log}");
    let out = Command::new(bin())
        .args(["run", "--quiet", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// A Graph account behind a slow loopback server, so a run takes a while.
async fn slow_graph(latency_ms: u64) -> wiremock::MockServer {
    FakeGraph {
        wabas: vec![demo_waba("TOKEN_SLOW")],
        latency: Duration::from_millis(latency_ms),
        ..FakeGraph::default()
    }
    .start()
    .await
}

fn graph_config(dir: &Path, server: &wiremock::MockServer, daemon_section: &str) -> PathBuf {
    let text = format!(
        "[reports]\ndir = \"reports\"\n\n[daemon]\n{daemon_section}\n\n[graph]\nbase_url = \"{}\"\ntimeout_secs = 30\npage_size = 10\nmax_concurrency = 1\n\n\
         [[accounts]]\nname = \"casa-verde\"\nwaba_id = \"104729331820556\"\ntoken_env = \"WG_TEST_SLOW_TOKEN\"\n",
        server.uri()
    );
    let p = dir.join("config.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_the_run_in_progress_finish_then_exits_0() {
    let server = slow_graph(150).await;
    let d = tempfile::tempdir().unwrap();
    let cfg = graph_config(
        d.path(),
        &server,
        &format!("{FAR}\nrun_on_start = true\nshutdown_grace = \"60s\""),
    );
    let mut cmd = daemon(&cfg);
    cmd.env("WG_TEST_SLOW_TOKEN", "TOKEN_SLOW");
    let mut p = Watched::spawn(cmd);
    p.wait_for("run started", Duration::from_secs(20));
    p.signal("TERM");
    let (code, log) = p.finish(Duration::from_secs(60));
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("waiting for the run in progress to finish"),
        "the signal came during the run: {log}"
    );
    assert!(log.contains("run finished"), "{log}");
    // The run is complete: report, history line, latest.
    let reports = d.path().join("reports");
    let runs = run_dirs(&reports);
    assert_eq!(runs.len(), 1, "{log}");
    let r = read_json(&runs[0].join("report.json"));
    assert_eq!(r["accounts"][0]["status"], "audited");
    assert_eq!(r["accounts"][0]["templates"], 40);
    assert!(runs[0].join("report.md").is_file());
    // The scheduled run writes the same files as `run`.
    assert!(runs[0].join("report.html").is_file());
    assert!(runs[0].join("findings.csv").is_file());
    let id = runs[0].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        std::fs::read_to_string(reports.join("latest")).unwrap(),
        format!("{id}\n")
    );
    assert_eq!(
        std::fs::read_to_string(reports.join("history.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    // No temporary folder left behind.
    assert!(std::fs::read_dir(&reports).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")
    }));
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_grace_period_the_run_is_abandoned_and_nothing_partial_is_left() {
    let server = slow_graph(3_000).await;
    let d = tempfile::tempdir().unwrap();
    let cfg = graph_config(
        d.path(),
        &server,
        &format!("{FAR}\nrun_on_start = true\nshutdown_grace = \"300ms\""),
    );
    let mut cmd = daemon(&cfg);
    cmd.env("WG_TEST_SLOW_TOKEN", "TOKEN_SLOW");
    let mut p = Watched::spawn(cmd);
    p.wait_for("run started", Duration::from_secs(20));
    p.signal("TERM");
    let (code, log) = p.finish(Duration::from_secs(10));
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("abandon"), "{log}");
    let reports = d.path().join("reports");
    assert!(run_dirs(&reports).is_empty());
    assert!(!reports.join("latest").exists());
    assert!(!reports.join("history.jsonl").exists());
    // The process is gone, and so is its lock: the next run may start.
    assert!(wabaguard::report::lock::ReportsLock::acquire(&reports, "test").is_ok());
}

#[test]
fn json_logs_carry_the_run_id_and_the_run_is_written() {
    let d = tempfile::tempdir().unwrap();
    let cfg = demo_config(d.path(), &format!("{FAR}\nrun_on_start = true"));
    let mut cmd = daemon(&cfg);
    cmd.args(["--log-format", "json"]);
    let mut p = Watched::spawn(cmd);
    p.wait_for("run finished", Duration::from_secs(30));
    p.signal("TERM");
    let (code, log) = p.finish(Duration::from_secs(10));
    assert_eq!(code, 0, "{log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let started = lines
        .iter()
        .find(|l| l["fields"]["message"] == "daemon started")
        .expect("daemon started");
    assert_eq!(started["fields"]["schedule"], "0 0 3 1 1 *");
    assert_eq!(started["fields"]["timezone"], "Europe/Berlin");
    assert!(
        started["fields"]["next_run"]
            .as_str()
            .unwrap()
            .ends_with("03:00:00 CET")
    );
    let runs = run_dirs(&d.path().join("reports"));
    assert_eq!(runs.len(), 1);
    let id = runs[0].file_name().unwrap().to_string_lossy().into_owned();
    // Inside the run: the span carries the run id; per account, the account.
    let complete = lines
        .iter()
        .find(|l| l["fields"]["message"] == "run complete")
        .expect("run complete");
    assert_eq!(complete["span"]["run_id"], id.as_str());
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "account audited"
                && l["span"]["account"] == "casa-verde"),
        "{log}"
    );
}
