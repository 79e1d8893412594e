//! `wabaguard rules list|explain|check`.

use assert_cmd::Command;
use predicates::prelude::*;

fn wabaguard() -> Command {
    Command::cargo_bin("wabaguard").unwrap()
}

#[test]
fn list_shows_every_family() {
    let out = wabaguard().args(["rules", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8(out.stdout).unwrap();
    for id in [
        "tpl.mkt.discount",
        "tpl.cat.utility-as-auth",
        "tpl.res.alcohol",
        "tpl.auth.emoji",
        "tpl.hyg.placeholder-sequence",
        "tpl.meta.paused",
    ] {
        assert!(s.contains(id), "{id} missing from rules list");
    }
    assert!(s.contains("template.restricted_content"));
}

#[test]
fn list_json_has_documentation_fields() {
    let out = wabaguard()
        .args(["rules", "list", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = v.as_array().unwrap();
    assert!(rules.len() > 40);
    for r in rules {
        for key in [
            "id",
            "family",
            "severity",
            "languages",
            "description",
            "remediation",
        ] {
            assert!(
                r[key].as_str().is_some_and(|s| !s.is_empty()),
                "rule {} lacks {key}",
                r["id"]
            );
        }
    }
}

#[test]
fn explain_prints_the_rule_in_full() {
    wabaguard()
        .args(["rules", "explain", "tpl.res.alcohol"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("tpl.res.alcohol — Alcohol"))
        .stdout(predicate::str::contains(
            "family:      template.restricted_content",
        ))
        .stdout(predicate::str::contains("What it finds"))
        .stdout(predicate::str::contains("How to fix"))
        .stdout(predicate::str::contains("Reference"))
        .stdout(predicate::str::contains("Fires on"));
}

#[test]
fn explain_unknown_rule_is_exit_two() {
    wabaguard()
        .args(["rules", "explain", "tpl.nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown rule id `tpl.nope`"));
}

#[test]
fn check_runs_every_example() {
    wabaguard()
        .args(["rules", "check"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("all examples pass"));
}

#[test]
fn config_overrides_show_in_explain() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[rules]\ndisable = [\"tpl.hyg.too-many-emoji\"]\nseverity_overrides = { \"tpl.hyg.placeholder-edge\" = \"info\" }\n",
    )
    .unwrap();
    wabaguard()
        .args(["rules", "explain", "tpl.hyg.placeholder-edge", "--config"])
        .arg(&cfg)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "severity:    info (overridden; pack default low)",
        ));
    wabaguard()
        .args(["rules", "list", "--config"])
        .arg(&cfg)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("(disabled)"));
    std::fs::write(&cfg, "[rules]\ndisable = [\"tpl.does-not-exist\"]\n").unwrap();
    wabaguard()
        .args(["rules", "list", "--config"])
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tpl.does-not-exist"));
}

/// A reader that goes away (`| head`) before the output is written is no
/// error: nothing on stderr, exit 0 — for `rules` and `lint-templates`
/// alike. The reader is closed right after the spawn, while the rule packs
/// still load, so every write meets a closed pipe.
#[test]
fn a_closed_stdout_is_not_an_error() {
    let bin = assert_cmd::cargo::cargo_bin("wabaguard");
    let demo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/demo/message_templates.json"
    );
    for args in [
        &["rules", "list"][..],
        &["rules", "list", "--format", "json"],
        &["rules", "explain", "tpl.res.alcohol"],
        &["lint-templates", demo],
    ] {
        let mut child = std::process::Command::new(&bin)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "wabaguard {args:?}"
        );
        assert_eq!(out.status.code(), Some(0), "wabaguard {args:?}");
    }
}
