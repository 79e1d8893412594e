//! `wabaguard optin`: exit codes, JSON keys, text output, --uncovered.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/optin")
        .join(name)
}

fn demo(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/demo/audiences")
        .join(name)
}

/// Runs in an empty folder, so no ./config.toml is picked up.
fn optin(audience: PathBuf, consent: PathBuf) -> (Command, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("wabaguard").unwrap();
    cmd.current_dir(dir.path())
        .arg("optin")
        .arg("--audience")
        .arg(audience)
        .arg("--consent")
        .arg(consent);
    (cmd, dir)
}

#[test]
fn json_has_every_documented_key() {
    let (mut cmd, _d) = optin(
        fixture("audience_mixed_formats.csv"),
        fixture("ledger_mixed_events.csv"),
    );
    let out = cmd
        .args(["--as-of", "2026-11-24", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "total",
        "invalid",
        "unique",
        "duplicates",
        "covered",
        "stale",
        "revoked",
        "missing",
        "coverage",
        "ledger_rows",
        "ledger_invalid",
        "ledger_errors",
    ] {
        assert!(v.get(key).is_some(), "missing key {key} in {v}");
    }
    assert_eq!(v["total"], 12);
    assert_eq!(v["covered"], 3);
    assert_eq!(v["coverage"], 3.0 / 7.0);
    assert_eq!(v["ledger_error_samples"][0]["line"], 8);
}

#[test]
fn demo_audience_matches_its_documented_counts() {
    let (mut cmd, _d) = optin(demo("black_friday_us.csv"), demo("consent_ledger.csv"));
    let out = cmd
        .args(["--as-of", "2026-11-24T23:30:00Z", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // examples/demo/README.md: 1,998 rows, 20 junk, 58 repeats, 1,920 distinct;
    // 1,766 covered, 58 revoked, 58 stale, 38 missing.
    assert_eq!(
        (
            v["total"].as_u64(),
            v["invalid"].as_u64(),
            v["duplicates"].as_u64(),
            v["unique"].as_u64()
        ),
        (Some(1998), Some(20), Some(58), Some(1920))
    );
    assert_eq!(
        (
            v["covered"].as_u64(),
            v["revoked"].as_u64(),
            v["stale"].as_u64(),
            v["missing"].as_u64()
        ),
        (Some(1766), Some(58), Some(58), Some(38))
    );
    assert_eq!(v["ledger_rows"], 3167);
}

#[test]
fn text_output_summarises_first() {
    let (mut cmd, _d) = optin(
        fixture("audience_mixed_formats.csv"),
        fixture("ledger_mixed_events.csv"),
    );
    cmd.args(["--as-of", "2026-11-24"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with(
            "Opt-in coverage 42.86%: 3 of 7 unique numbers covered",
        ))
        .stdout(predicate::str::contains(
            "line 8: unknown event `subscribe`",
        ));
}

#[test]
fn uncovered_csv_is_written() {
    let (mut cmd, dir) = optin(
        fixture("audience_mixed_formats.csv"),
        fixture("ledger_mixed_events.csv"),
    );
    let out = dir.path().join("out/drop.csv");
    cmd.args(["--as-of", "2026-11-24", "--format", "json", "--uncovered"])
        .arg(&out)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"rows\": 8"));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("line,phone,e164,reason\n4,202.555.0178,+12025550178,stale\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 9);
}

#[test]
fn fail_below_exits_1() {
    let (mut cmd, _d) = optin(
        fixture("audience_mixed_formats.csv"),
        fixture("ledger_mixed_events.csv"),
    );
    cmd.args(["--as-of", "2026-11-24", "--fail-below", "0.5"])
        .assert()
        .code(1);
    let (mut cmd, _d) = optin(
        fixture("audience_mixed_formats.csv"),
        fixture("ledger_mixed_events.csv"),
    );
    cmd.args(["--as-of", "2026-11-24", "--fail-below", "0.4"])
        .assert()
        .code(0);
}

#[test]
fn unreadable_input_exits_2_naming_file_and_line() {
    let cases = [
        ("audience_no_phone_column.csv", "line 1", "no phone column"),
        (
            "audience_semicolon_delimiter.csv",
            "line 1",
            "`;`-separated",
        ),
        ("audience_empty.csv", "audience_empty.csv", "empty file"),
        ("missing.csv", "missing.csv", "missing.csv"),
    ];
    for (file, where_, what) in cases {
        let (mut cmd, _d) = optin(fixture(file), fixture("ledger_mixed_events.csv"));
        cmd.assert()
            .code(2)
            .stderr(predicate::str::contains(file))
            .stderr(predicate::str::contains(where_))
            .stderr(predicate::str::contains(what));
    }
    let (mut cmd, _d) = optin(
        fixture("audience_mixed_formats.csv"),
        fixture("ledger_missing_timestamp_column.csv"),
    );
    cmd.assert()
        .code(2)
        .stderr(predicate::str::contains(
            "ledger_missing_timestamp_column.csv, line 1",
        ))
        .stderr(predicate::str::contains("missing: timestamp"));
}

#[test]
fn bad_options_exit_2() {
    for args in [
        &["--as-of", "24/11/2026"][..],
        &["--region", "XX"],
        &["--max-age-days", "0"],
        &["--fail-below", "2"],
    ] {
        let (mut cmd, _d) = optin(
            fixture("audience_mixed_formats.csv"),
            fixture("ledger_mixed_events.csv"),
        );
        cmd.args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(args[0]));
    }
}

#[test]
fn region_and_max_age_options() {
    let (mut cmd, _d) = optin(
        fixture("audience_custom_column.csv"),
        fixture("ledger_mixed_events.csv"),
    );
    let out = cmd
        .args([
            "--as-of",
            "2026-11-24",
            "--region",
            "br",
            "--phone-column",
            "celular",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["unique"].as_u64(), v["region"].as_str()),
        (Some(2), Some("BR"))
    );
    let (mut cmd, _d) = optin(
        fixture("audience_mixed_formats.csv"),
        fixture("ledger_mixed_events.csv"),
    );
    let out = cmd
        .args([
            "--as-of",
            "2026-11-24",
            "--max-age-days",
            "30",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["covered"].as_u64(), v["stale"].as_u64()),
        (Some(1), Some(3))
    );
}

#[test]
fn config_optin_section_sets_the_defaults() {
    let (mut cmd, dir) = optin(
        fixture("audience_custom_column.csv"),
        fixture("ledger_mixed_events.csv"),
    );
    std::fs::write(
        dir.path().join("config.toml"),
        "[optin]\nregion = \"BR\"\nmax_age_days = 30\n",
    )
    .unwrap();
    let out = cmd
        .args([
            "--as-of",
            "2026-11-24",
            "--phone-column",
            "celular",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["region"].as_str(), v["max_age_days"].as_u64()),
        (Some("BR"), Some(30))
    );
}

#[test]
fn quoted_bom_ragged_and_non_utf8_files_are_read() {
    for (a, l, total) in [
        (
            "audience_quoted_newlines.csv",
            "ledger_quoted_fields.csv",
            3,
        ),
        ("audience_bom_crlf.csv", "ledger_mixed_events.csv", 3),
        ("audience_ragged_rows.csv", "ledger_bad_rows.csv", 4),
        ("audience_non_utf8.csv", "ledger_non_utf8.csv", 3),
    ] {
        let (mut cmd, _d) = optin(fixture(a), fixture(l));
        let out = cmd.args(["--format", "json"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{a}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["total"], total, "{a}");
    }
}
