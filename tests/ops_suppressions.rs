//! Suppressions through the binary: a fingerprint entry and a rule +
//! subject entry suppress (kept in report.json, not counted, not reaching
//! --fail-on), an expiring entry is flagged, an expired one stops
//! suppressing, a malformed one is an error naming its line while the run
//! goes on.

mod common;

use common::ops::{account, config, read_json, root, run_at};
use serde_json::Value;

fn finding<'a>(a: &'a Value, rule: &str, name: &str) -> &'a Value {
    a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule && f["subject"]["name"] == name)
        .unwrap_or_else(|| panic!("no {rule} on {name}"))
}

#[test]
fn suppressions_apply_expire_warn_and_report_malformed_entries() {
    let d = tempfile::tempdir().unwrap();
    let extra =
        "[reports]\ndir = \"reports\"\n[suppressions]\nfile = \"suppressions.toml\"\nwarn_days = 7";
    let cfg = config(d.path(), "casa-verde", &root().join("examples/demo"), extra);
    let reports = d.path().join("reports");

    // Without the file: nothing suppressed... and the missing file is said.
    let (code, out, err) = run_at(&cfg, "2026-11-25T02:00:00Z", &["--fail-on", "critical"]);
    assert_eq!(code, 1, "the tobacco finding is critical: {out}{err}");
    assert!(err.contains("cannot read the file"), "{err}");
    let before = read_json(&reports.join("20261125T020000Z/report.json"));
    let b = account(&before, "casa-verde");
    assert_eq!(b["summary"]["critical"], 1);
    let tobacco = finding(b, "tpl.res.tobacco", "promo_starter_kit")["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();

    let file = format!(
        r#"# Accepted findings (reviewed by compliance)
[[suppress]]
fingerprint = "{tobacco}"
reason = "Starter kit is a gardening kit; 'tobacco' is a plant variety (COMP-7)"
expires = 2026-11-30

[[suppress]]
rule = "tpl.mkt.cart-recovery"
subject = "template:basket_reminder:en_US"
reason = "Re-categorised to MARKETING on Monday"
expires = 2027-03-01

[[suppress]]
rule = "tpl.res.alcohol"
subject = "template:wine_cheese_weekend"
reason = "Age-gated audience"
expires = 2026-11-01

[[suppress]]
rule = "tpl.mkt.discount"
subject = "template:member_signin_code:en_US"
expires = 2027-01-01
"#
    );
    std::fs::write(d.path().join("suppressions.toml"), file).unwrap();
    let (code, out, err) = run_at(&cfg, "2026-11-25T02:01:00Z", &["--fail-on", "critical"]);
    assert_eq!(
        code, 0,
        "the only critical finding is suppressed, so --fail-on critical passes: {out}{err}"
    );
    // stderr names the file and the malformed entry's line, and the expired entry.
    assert!(err.contains("suppressions.toml"), "{err}");
    assert!(err.contains("line 19") || err.contains("line=19"), "{err}");
    assert!(err.contains("`reason` is missing"), "{err}");
    assert!(err.contains("expired on 2026-11-01"), "{err}");
    assert!(out.contains("Suppressions need attention"), "{out}");

    let after = read_json(&reports.join("20261125T020100Z/report.json"));
    let a = account(&after, "casa-verde");
    let t = finding(a, "tpl.res.tobacco", "promo_starter_kit");
    assert_eq!(t["suppressed"], true);
    assert_eq!(t["suppressed_by"]["line"], 2);
    assert_eq!(t["suppressed_by"]["expires"], "2026-11-30");
    let basket = finding(a, "tpl.mkt.cart-recovery", "basket_reminder");
    assert_eq!(basket["suppressed"], true);
    assert_eq!(basket["suppressed_by"]["line"], 7);
    // Expired: counts again. Malformed: suppresses nothing.
    assert!(
        finding(a, "tpl.res.alcohol", "wine_cheese_weekend")
            .get("suppressed")
            .is_none()
    );
    assert!(
        finding(a, "tpl.mkt.discount", "member_signin_code")
            .get("suppressed")
            .is_none()
    );
    // Counts and score leave suppressed findings out.
    assert_eq!(a["summary"]["critical"], 0);
    assert_eq!(
        a["summary"]["high"].as_u64().unwrap(),
        b["summary"]["high"].as_u64().unwrap() - 1
    );
    assert!(a["risk"]["score"].as_u64() <= b["risk"]["score"].as_u64());
    assert!(
        a["risk"]["drivers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["fingerprint"] != tobacco.as_str())
    );

    let s = &after["suppressions"];
    assert!(s["file"].as_str().unwrap().ends_with("suppressions.toml"));
    let states: Vec<(u64, &str, i64, u64)> = s["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["state"].as_str().unwrap(),
                e["days_left"].as_i64().unwrap(),
                e["suppressed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (2, "expiring", 5, 1),
            (7, "active", 96, 1),
            (13, "expired", -24, 0)
        ]
    );
    let errors = s["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["line"], 19);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("suppresses nothing")
    );

    let md = std::fs::read_to_string(reports.join("20261125T020100Z/report.md")).unwrap();
    assert!(md.contains("**Suppressions need attention**"), "{md}");
    assert!(md.contains("expires on 2026-11-30 (5 days left)"), "{md}");
    assert!(md.contains("**expired** on 2026-11-01"), "{md}");
    assert!(md.contains("#### Suppressed (2)"), "{md}");
    assert!(
        md.contains("*Suppressed* until 2026-11-30 (suppressions line 2)"),
        "{md}"
    );
    assert!(
        md.contains("subject `template:basket_reminder:en_US`"),
        "{md}"
    );
}

#[test]
fn a_suppressions_file_that_is_not_toml_suppresses_nothing_and_the_run_goes_on() {
    let d = tempfile::tempdir().unwrap();
    let extra = "[reports]\ndir = \"reports\"\n[suppressions]\nfile = \"suppressions.toml\"";
    let cfg = config(d.path(), "casa-verde", &root().join("examples/demo"), extra);
    std::fs::write(
        d.path().join("suppressions.toml"),
        "[[suppress]]\nrule = \"tpl.res.tobacco\"\nsubject = \"template:promo_starter_kit\n",
    )
    .unwrap();
    let (code, out, err) = run_at(&cfg, "2026-11-25T02:00:00Z", &["--fail-on", "critical"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("not valid TOML"), "{err}");
    let r = read_json(&d.path().join("reports/20261125T020000Z/report.json"));
    assert_eq!(r["suppressions"]["errors"][0]["line"], 3);
    assert_eq!(account(&r, "casa-verde")["summary"]["critical"], 1);
}
