//! `wabaguard optin --category` (consent scope, country rules) and
//! `--send-log` (130497 restrictions).

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn optin(extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("wabaguard")
        .unwrap()
        .current_dir(dir.path())
        .arg("optin")
        .arg("--audience")
        .arg(fixture("optin/audience_mixed_countries.csv"))
        .arg("--consent")
        .arg(fixture("optin/ledger_scoped.csv"))
        .args(["--as-of", "2026-11-24"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(extra: &[&str]) -> Value {
    let mut a = vec!["--format", "json"];
    a.extend_from_slice(extra);
    let (code, out, err) = optin(&a);
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn category_picks_the_consent_scope_and_reports_every_scope() {
    let m = json(&["--category", "MARKETING"]);
    assert_eq!(m["category"], "MARKETING");
    assert_eq!(m["ledger_scoped"], true);
    // marketing: CA, JM, BR covered; +1 212 revoked; +1 415 (utility only) missing.
    assert_eq!(
        (
            m["covered"].as_u64(),
            m["revoked"].as_u64(),
            m["missing"].as_u64()
        ),
        (Some(3), Some(1), Some(1))
    );
    let u = json(&["--category", "utility"]);
    assert_eq!(
        (u["covered"].as_u64(), u["missing"].as_u64()),
        (Some(4), Some(1))
    );
    // Without a category every scope is required: only JM (all) is covered.
    let all = json(&[]);
    assert_eq!(all["category"], Value::Null);
    assert_eq!(all["covered"], 1);
    let scopes: Vec<(String, u64)> = all["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["scope"].as_str().unwrap().to_owned(),
                s["covered"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        scopes,
        [
            ("marketing".into(), 3),
            ("utility".into(), 4),
            ("authentication".into(), 2)
        ]
    );
    // Country rules are counted for the category only.
    assert_eq!(m["country_rules"][0]["id"], "us-marketing");
    assert_eq!(m["country_rules"][0]["rows"], 2);
    assert_eq!(u["country_rules"], Value::Null);
    assert_eq!(all["country_rules"], Value::Null);
}

#[test]
fn send_log_130497_becomes_a_country_rule() {
    let j = json(&[
        "--send-log",
        fixture("send_log/recipients_130497.csv").to_str().unwrap(),
    ]);
    assert_eq!(j["country_rules"][0]["id"], "send-log-130497-br");
    assert_eq!(j["country_rules"][0]["rows"], 1);
    // A send log without recipients cannot tell countries: an error.
    let (code, _, err) = optin(&[
        "--send-log",
        fixture("../../examples/demo/waba.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn text_output_shows_scopes_and_country_rules_and_bad_categories_exit_2() {
    let (code, out, err) = optin(&["--category", "marketing"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("scope     verdicts for MARKETING (ledger has a scope column)"),
        "{out}"
    );
    assert!(out.contains("utility          80.00%"), "{out}");
    assert!(
        out.contains("country   2 rows · rule us-marketing (US, MARKETING)"),
        "{out}"
    );
    let (code, _, err) = optin(&["--category", "PROMOTIONAL"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a template category"), "{err}");
}
