//! `wabaguard gate`: decisions and exit codes — pass (0), every refusal
//! reason (1), and every error (2, never 0).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ops::{bin, config, demo_copy, read_json, root, run_at};
use serde_json::Value;

struct Gate {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Gate {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
    fn codes(&self) -> Vec<String> {
        self.json()["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn gate(cfg: &Path, now: &str, args: &[&str]) -> Gate {
    let out = Command::new(bin())
        .arg("gate")
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("WABAGUARD_NOW", now)
        .env_remove("WABAGUARD_LOG")
        .output()
        .unwrap();
    Gate {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The demo account with a report written at 02:00.
fn demo_with_report(dir: &Path, extra: &str) -> PathBuf {
    let cfg = config(
        dir,
        "casa-verde",
        &root().join("examples/demo"),
        &format!("[reports]\ndir = \"reports\"\n{extra}"),
    );
    let (code, out, err) = run_at(&cfg, "2026-11-25T02:00:00Z", &["--quiet"]);
    assert_eq!(code, 0, "{out}{err}");
    cfg
}

const LATER: &str = "2026-11-25T05:00:00Z";

#[test]
fn an_approved_clean_template_passes_from_the_latest_report() {
    let d = tempfile::tempdir().unwrap();
    let cfg = demo_with_report(d.path(), "");
    let g = gate(
        &cfg,
        LATER,
        &[
            "--account",
            "casa-verde",
            "--template",
            "pickup_slot_booked:en_US",
        ],
    );
    assert_eq!(g.code, 0, "{}{}", g.stdout, g.stderr);
    assert!(
        g.stdout.starts_with("PASS: casa-verde may send."),
        "{}",
        g.stdout
    );
    assert!(
        g.stdout.contains("pickup_slot_booked:en_US APPROVED"),
        "{}",
        g.stdout
    );
    assert!(
        g.stdout
            .contains("Data: report 20261125T020000Z (3h 0m old; max 1d 0h)"),
        "{}",
        g.stdout
    );
    let g = gate(
        &cfg,
        LATER,
        &[
            "--account",
            "casa-verde",
            "--template",
            "pickup_slot_booked",
            "--format",
            "json",
        ],
    );
    assert_eq!(g.code, 0);
    let j = g.json();
    assert_eq!(j["decision"], "pass");
    assert_eq!(j["reasons"], serde_json::json!([]));
    assert_eq!(j["findings"], serde_json::json!([]));
    assert_eq!(j["optin"], Value::Null);
    assert_eq!(j["stage"], "warning");
    assert_eq!(j["data"]["kind"], "report");
    assert_eq!(j["data"]["run_id"], "20261125T020000Z");
    assert_eq!(j["data"]["age_secs"], 3 * 3600);
    assert_eq!(j["templates"][0]["status"], "APPROVED");
}

#[test]
fn template_refusals_missing_not_approved_paused_and_findings() {
    let d = tempfile::tempdir().unwrap();
    let cfg = demo_with_report(d.path(), "");
    let cases: [(&str, &str); 6] = [
        ("no_such_template", "template_missing"),
        ("order_confirmation:fr", "template_missing"),
        ("promo_harbolnas", "template_not_approved"),
        ("bewertung_gutschein:de", "template_not_approved"),
        ("sentimos_sua_falta:pt_BR", "template_paused"),
        ("basket_reminder:en_US", "template_finding"),
    ];
    for (t, code) in cases {
        let g = gate(
            &cfg,
            LATER,
            &[
                "--account",
                "casa-verde",
                "--template",
                t,
                "--format",
                "json",
            ],
        );
        assert_eq!(g.code, 1, "{t}: {}{}", g.stdout, g.stderr);
        assert_eq!(g.json()["decision"], "refuse");
        assert!(g.codes().contains(&code.to_owned()), "{t}: {:?}", g.codes());
    }
    // The blocking finding is in `findings`, with its fingerprint.
    let g = gate(
        &cfg,
        LATER,
        &[
            "--account",
            "casa-verde",
            "--template",
            "basket_reminder:en_US",
            "--format",
            "json",
        ],
    );
    let j = g.json();
    assert_eq!(j["findings"][0]["rule"], "tpl.mkt.cart-recovery");
    assert_eq!(j["findings"][0]["fingerprint"].as_str().unwrap().len(), 16);
    assert_eq!(j["templates"][0]["blocking_findings"], 1);
    // Text: the reason in one line.
    let g = gate(
        &cfg,
        LATER,
        &[
            "--account",
            "casa-verde",
            "--template",
            "order_confirmation:fr",
        ],
    );
    assert!(
        g.stdout
            .starts_with("REFUSE: casa-verde must not send (1 reason):")
    );
    assert!(
        g.stdout.contains("`order_confirmation` exists only in"),
        "{}",
        g.stdout
    );
    // Several templates: every reason listed.
    let g = gate(
        &cfg,
        LATER,
        &[
            "--account",
            "casa-verde",
            "--template",
            "pickup_slot_booked:en_US",
            "--template",
            "sentimos_sua_falta",
            "--template",
            "nope",
        ],
    );
    assert_eq!(g.code, 1);
    // PAUSED, its three high findings, and the missing one.
    assert!(g.stdout.contains("(5 reasons)"), "{}", g.stdout);
    assert!(g.stdout.contains("is PAUSED"), "{}", g.stdout);
    assert!(
        g.stdout.contains("no template named `nope`"),
        "{}",
        g.stdout
    );
}

#[test]
fn fail_on_and_suppressions_decide_which_findings_block() {
    let d = tempfile::tempdir().unwrap();
    let cfg = demo_with_report(
        d.path(),
        "[suppressions]\nfile = \"suppressions.toml\"\n[gate]\nfail_on = \"critical\"",
    );
    // [gate] fail_on = critical: a high finding does not block...
    let g = gate(
        &cfg,
        LATER,
        &["--account", "casa-verde", "--template", "basket_reminder"],
    );
    assert_eq!(g.code, 0, "{}", g.stdout);
    // ...unless --fail-on says high.
    let args = [
        "--account",
        "casa-verde",
        "--template",
        "basket_reminder",
        "--fail-on",
        "high",
    ];
    assert_eq!(gate(&cfg, LATER, &args).code, 1);
    // A suppression written after the report applies at once.
    std::fs::write(
        d.path().join("suppressions.toml"),
        "[[suppress]]\nrule = \"tpl.mkt.cart-recovery\"\nsubject = \"template:basket_reminder:en_US\"\nreason = \"moving to MARKETING\"\nexpires = 2026-12-01\n",
    )
    .unwrap();
    assert_eq!(gate(&cfg, LATER, &args).code, 0);
    // ...and stops applying once expired.
    assert_eq!(gate(&cfg, "2026-12-02T01:00:00Z", &args).code, 1);
}

#[test]
fn a_disabled_template_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let demo = demo_copy(d.path());
    let p = demo.join("message_templates.json");
    let text = std::fs::read_to_string(&p).unwrap();
    // pickup_ready is APPROVED in the demo: disable it.
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let pages: Vec<&mut Value> = match &mut v {
        Value::Array(pages) => pages.iter_mut().collect(),
        page => vec![page],
    };
    for page in pages {
        for t in page["data"].as_array_mut().unwrap() {
            if t["name"] == "pickup_ready" {
                t["status"] = Value::from("DISABLED");
            }
        }
    }
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    let cfg = config(
        d.path(),
        "casa-verde",
        &demo,
        "[reports]\ndir = \"reports\"",
    );
    let g = gate(
        &cfg,
        LATER,
        &[
            "--account",
            "casa-verde",
            "--template",
            "pickup_ready",
            "--format",
            "json",
        ],
    );
    assert_eq!(g.code, 1, "{}", g.stderr);
    // Meta's own signal about it is a finding as well.
    assert_eq!(g.codes(), ["template_disabled", "template_finding"]);
    assert_eq!(
        g.json()["data"]["kind"],
        "fresh",
        "no report yet: collected afresh"
    );
}

#[test]
fn a_locked_or_blocked_account_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let fixtures = root().join("tests/fixtures/accounts");
    for (fixture, codes) in [
        ("locked_policy", &["account_locked", "health_blocked"][..]),
        ("temporary_block", &["account_temporary_block"][..]),
    ] {
        let cfg = config(
            d.path(),
            "shop",
            &fixtures.join(fixture),
            "[reports]\ndir = \"r\"",
        );
        let g = gate(
            &cfg,
            "2026-11-25T00:00:00Z",
            &["--account", "shop", "--format", "json"],
        );
        assert_eq!(g.code, 1, "{fixture}: {}{}", g.stdout, g.stderr);
        for c in codes {
            assert!(
                g.codes().contains(&c.to_string()),
                "{fixture}: {:?}",
                g.codes()
            );
        }
    }
    // The clean account passes.
    let cfg = config(
        d.path(),
        "shop",
        &fixtures.join("clean"),
        "[reports]\ndir = \"r\"",
    );
    let g = gate(&cfg, "2026-11-25T00:00:00Z", &["--account", "shop"]);
    assert_eq!(g.code, 0, "{}{}", g.stdout, g.stderr);
}

#[test]
fn a_stale_report_is_replaced_by_a_fresh_collection_or_refused() {
    let d = tempfile::tempdir().unwrap();
    let demo = demo_copy(d.path());
    let cfg = config(
        d.path(),
        "casa-verde",
        &demo,
        "[reports]\ndir = \"reports\"\n[gate]\nmax_snapshot_age = \"24h\"",
    );
    assert_eq!(run_at(&cfg, "2026-11-25T02:00:00Z", &["--quiet"]).0, 0);
    let args = [
        "--account",
        "casa-verde",
        "--template",
        "pickup_slot_booked",
        "--format",
        "json",
    ];
    let g = gate(&cfg, "2026-11-26T03:00:00Z", &args);
    assert_eq!(g.code, 0, "{}{}", g.stdout, g.stderr);
    let data = &g.json()["data"];
    assert_eq!(data["kind"], "fresh");
    assert!(
        data["note"].as_str().unwrap().contains("1d 1h old"),
        "{data}"
    );
    // The gate writes nothing.
    assert_eq!(common::ops::run_dirs(&d.path().join("reports")).len(), 1);
    // Stale, and the account cannot be collected: refused (not passed).
    std::fs::remove_dir_all(&demo).unwrap();
    let g = gate(&cfg, "2026-11-26T03:00:00Z", &args);
    assert_eq!(g.code, 1, "{}{}", g.stdout, g.stderr);
    assert_eq!(g.codes(), ["no_recent_data"]);
    // While the report is recent, it is used even without the export.
    let g = gate(&cfg, "2026-11-25T03:00:00Z", &args);
    assert_eq!(g.code, 0, "{}{}", g.stdout, g.stderr);
    let r = read_json(&d.path().join("reports/20261125T020000Z/report.json"));
    assert!(
        r["accounts"][0]["inventory"]["templates"]
            .as_array()
            .unwrap()
            .len()
            == 40
    );
}

#[test]
fn errors_exit_2_never_0() {
    let d = tempfile::tempdir().unwrap();
    let cfg = demo_with_report(d.path(), "");
    // Unknown account.
    let g = gate(&cfg, LATER, &["--account", "nobody", "--format", "json"]);
    assert_eq!(g.code, 2);
    assert!(
        g.stderr.contains("no account named `nobody`"),
        "{}",
        g.stderr
    );
    assert_eq!(g.json()["decision"], "error", "JSON readers get no pass");
    // An audience that cannot be read: cannot decide, and the file is named.
    let g = gate(
        &cfg,
        LATER,
        &[
            "--account",
            "casa-verde",
            "--template",
            "pickup_slot_booked",
            "--audience",
            "no/such/audience.csv",
            "--consent",
            "examples/demo/audiences/consent_ledger.csv",
        ],
    );
    assert_eq!(g.code, 2, "{}{}", g.stdout, g.stderr);
    assert!(g.stderr.contains("no/such/audience.csv"), "{}", g.stderr);
    assert!(g.stdout.is_empty(), "no PASS printed: {}", g.stdout);
    // --audience without --consent: a usage error.
    let g = gate(
        &cfg,
        LATER,
        &["--account", "casa-verde", "--audience", "a.csv"],
    );
    assert_eq!(g.code, 2);
    // Bad config, bad --min-coverage, bad time.
    let bad = d.path().join("bad.toml");
    std::fs::write(&bad, "[gate]\nmax_snapshot_age = \"forever\"\n").unwrap();
    let g = gate(&bad, LATER, &["--account", "casa-verde"]);
    assert_eq!(g.code, 2);
    assert!(g.stderr.contains("forever"), "{}", g.stderr);
    let g = gate(
        &cfg,
        LATER,
        &["--account", "casa-verde", "--min-coverage", "1.5"],
    );
    assert_eq!(g.code, 2);
    let g = gate(&cfg, "yesterday", &["--account", "casa-verde"]);
    assert_eq!(g.code, 2);
    assert!(g.stderr.contains("WABAGUARD_NOW"), "{}", g.stderr);
}

/// Writes an audience of four US numbers and a ledger that covers `covered`
/// of them (the rest: one opted out, the others never opted in).
fn audience_files(dir: &Path, covered: usize) -> (PathBuf, PathBuf) {
    let numbers = [
        "5122921724",
        "(305) 961-4180",
        "1-206-992-1440",
        "+17026243092",
    ];
    let e164 = [
        "+15122921724",
        "+13059614180",
        "+12069921440",
        "+17026243092",
    ];
    let aud = dir.join("audience.csv");
    let mut a = String::from("phone,first_name\n");
    for n in numbers {
        a.push_str(&format!("{n},x\n"));
    }
    std::fs::write(&aud, a).unwrap();
    let led = dir.join("ledger.csv");
    let mut l = String::from("phone,event,timestamp,source\n");
    for (i, n) in e164.iter().enumerate() {
        if i < covered {
            l.push_str(&format!("{n},opt_in,2026-06-01T10:00:00Z,checkout\n"));
        } else if i == covered {
            l.push_str(&format!("{n},opt_in,2026-06-01T10:00:00Z,checkout\n"));
            l.push_str(&format!("{n},opt_out,2026-07-01T10:00:00Z,stop_keyword\n"));
        }
    }
    std::fs::write(&led, l).unwrap();
    (aud, led)
}

#[test]
fn opt_in_coverage_decides_with_the_optin_engine() {
    let d = tempfile::tempdir().unwrap();
    let cfg = demo_with_report(d.path(), "");
    let full = d.path().join("full");
    let part = d.path().join("part");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::create_dir_all(&part).unwrap();
    let args = |aud: &Path, led: &Path, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--account",
            "casa-verde",
            "--template",
            "pickup_slot_booked",
            "--format",
            "json",
            "--audience",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.push(aud.display().to_string());
        v.push("--consent".into());
        v.push(led.display().to_string());
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    // Every number covered: pass, with the counts in the output.
    let (aud, led) = audience_files(&full, 4);
    let a = args(&aud, &led, &[]);
    let g = gate(
        &cfg,
        LATER,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(g.code, 0, "{}{}", g.stdout, g.stderr);
    let j = g.json();
    assert_eq!(j["decision"], "pass");
    assert_eq!(j["optin"]["total"], 4);
    assert_eq!(j["optin"]["unique"], 4);
    assert_eq!(j["optin"]["covered"], 4);
    assert_eq!(j["optin"]["coverage"], 1.0);

    // Two of four covered, one revoked, one missing: refused below 0.98.
    let (aud, led) = audience_files(&part, 2);
    let a = args(&aud, &led, &[]);
    let g = gate(
        &cfg,
        LATER,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(g.code, 1, "{}{}", g.stdout, g.stderr);
    let j = g.json();
    assert_eq!(j["decision"], "refuse");
    assert_eq!(g.codes(), vec!["optin_below_minimum"]);
    assert_eq!(j["optin"]["covered"], 2);
    assert_eq!(j["optin"]["revoked"], 1);
    assert_eq!(j["optin"]["missing"], 1);
    assert_eq!(j["optin"]["coverage"], 0.5);
    // ... and passes when the campaign accepts half.
    let a = args(&aud, &led, &["--min-coverage", "0.5"]);
    let g = gate(
        &cfg,
        LATER,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(g.code, 0, "{}{}", g.stdout, g.stderr);
    // Text output names the shortfall without printing any phone number.
    let g = gate(
        &cfg,
        LATER,
        &[
            "--account",
            "casa-verde",
            "--template",
            "pickup_slot_booked",
            "--audience",
            aud.to_str().unwrap(),
            "--consent",
            led.to_str().unwrap(),
        ],
    );
    assert_eq!(g.code, 1);
    assert!(g.stdout.contains("50.00%"), "{}", g.stdout);
    assert!(!g.stdout.contains("5122921724"), "{}", g.stdout);
}
