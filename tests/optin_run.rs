//! `run` computes opt-in coverage for every configured audience: findings,
//! the report.json `optin` section, the report.md table — and no phone
//! number in any report.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use wabaguard::audit::audit;
use wabaguard::checks::Severity;
use wabaguard::config::Config;
use wabaguard::report::{self, AccountStatus};
use wabaguard::rulepack::RulePack;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config(dir: &Path) -> PathBuf {
    let r = root();
    let text = format!(
        r#"[reports]
dir = "reports"

[optin]
region = "US"

[[accounts]]
name = "casa-verde"
exports = "{demo}"

[[accounts.audiences]]
name = "black_friday_us"
file = "{demo}/audiences/black_friday_us.csv"
consent = "{demo}/audiences/consent_ledger.csv"

[[accounts.audiences]]
name = "spring_promo"
file = "{fixtures}/audience_semicolon_delimiter.csv"
consent = "{demo}/audiences/consent_ledger.csv"
"#,
        demo = r.join("examples/demo").display(),
        fixtures = r.join("tests/fixtures/optin").display(),
    );
    let p = dir.join("config.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn as_of() -> DateTime<Utc> {
    "2026-11-24T23:30:00Z".parse().unwrap()
}

/// The last ten digits of every audience phone of the demo.
fn demo_numbers() -> Vec<String> {
    std::fs::read_to_string(root().join("examples/demo/audiences/black_friday_us.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .map(|p| p.chars().filter(char::is_ascii_digit).collect::<String>())
        .filter(|d| d.len() >= 10)
        .map(|d| d[d.len() - 10..].to_owned())
        .collect()
}

#[test]
fn run_reports_coverage_findings_and_the_optin_section() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::load(&config(dir.path())).unwrap();
    let pack = RulePack::builtin().unwrap();
    let mut report = audit(&cfg, &pack, as_of());
    let a = &report.accounts[0];
    assert_eq!(a.status, AccountStatus::Audited);

    // The optin section: one entry per audience, counts as documented.
    assert_eq!(a.optin.len(), 2);
    let bf = a.optin[0].coverage.as_ref().unwrap();
    assert_eq!(
        (bf.total, bf.invalid, bf.unique, bf.duplicates),
        (1998, 20, 1920, 58)
    );
    assert_eq!(
        (bf.covered, bf.stale, bf.revoked, bf.missing),
        (1766, 58, 58, 38)
    );
    assert!(a.optin[1].coverage.is_none());
    assert!(
        a.optin[1]
            .error
            .as_deref()
            .unwrap()
            .contains("`;`-separated")
    );

    // Findings: coverage 91.98% is below 95% → critical; revoked numbers;
    // unreadable ledger rows; the unreadable second audience.
    let optin: Vec<(&str, Severity, Option<&str>)> = a
        .findings
        .iter()
        .filter(|f| f.check.starts_with("optin."))
        .map(|f| (f.rule.as_str(), f.severity, f.subject.name.as_deref()))
        .collect();
    assert!(
        optin.contains(&(
            "optin.coverage-low",
            Severity::Critical,
            Some("black_friday_us")
        )),
        "{optin:?}"
    );
    assert!(optin.contains(&(
        "optin.revoked-in-audience",
        Severity::High,
        Some("black_friday_us")
    )));
    assert!(optin.contains(&(
        "optin.ledger-errors",
        Severity::Low,
        Some("black_friday_us")
    )));
    assert!(optin.contains(&("optin.unreadable", Severity::High, Some("spring_promo"))));
    assert!(
        !optin.iter().any(|f| f.0 == "optin.invalid-share"),
        "20 of 1,998 rows is 1%"
    );
    assert!(a.notes.iter().any(|n| n.message.contains("spring_promo")));

    // Written reports: the section is there, no phone number is.
    let out = report::write_run(&mut report, &dir.path().join("reports")).unwrap();
    let json = std::fs::read_to_string(out.join("report.json")).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["accounts"][0]["optin"][0]["coverage"]["covered"], 1766);
    assert_eq!(v["accounts"][0]["optin"][0]["name"], "black_friday_us");
    assert!(md.contains("### Opt-in coverage"), "{md}");
    assert!(
        md.contains(
            "| black\\_friday\\_us | 1998 | 20 | 1920 | 1766 | 58 | 58 | 38 | **91.98%** |"
        ),
        "{md}"
    );
    assert!(md.contains("| spring\\_promo |"));
    for n in demo_numbers() {
        assert!(
            !json.contains(&n),
            "report.json contains a phone number ({n})"
        );
        assert!(!md.contains(&n), "report.md contains a phone number ({n})");
    }
}

#[test]
fn run_binary_writes_the_optin_section_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let out = dir.path().join("out");
    Command::cargo_bin("wabaguard")
        .unwrap()
        .args(["run", "--quiet", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    // The run's folder (next to history.jsonl and latest).
    let run = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("report.json").is_file() && !p.ends_with("latest"))
        .expect("a run folder");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    let optin = &v["accounts"][0]["optin"];
    assert_eq!(optin[0]["coverage"]["unique"], 1920);
    assert!(
        optin[1]["error"]
            .as_str()
            .unwrap()
            .contains("audience_semicolon_delimiter.csv")
    );
    // --fail-on critical: the coverage finding is critical.
    Command::cargo_bin("wabaguard")
        .unwrap()
        .args(["run", "--quiet", "--fail-on", "critical", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1);
}

#[test]
fn disabling_a_rule_removes_its_findings() {
    let dir = tempfile::tempdir().unwrap();
    let p = config(dir.path());
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        format!("[rules]\ndisable = [\"optin.coverage-low\"]\n{text}"),
    )
    .unwrap();
    let cfg = Config::load(&p).unwrap();
    let pack = RulePack::load(&cfg.rules, None, &[]).unwrap();
    let report = audit(&cfg, &pack, as_of());
    assert!(
        !report.accounts[0]
            .findings
            .iter()
            .any(|f| f.rule == "optin.coverage-low")
    );
    assert!(
        report.accounts[0]
            .findings
            .iter()
            .any(|f| f.rule == "optin.revoked-in-audience")
    );
}
