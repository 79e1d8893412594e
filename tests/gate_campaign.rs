//! `wabaguard gate` for a campaign (issue 9): consent for the templates'
//! categories, country rules (packs and 130497 from the send log), the
//! messaging-limit headroom, and `--uncovered`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ops::{bin, config, demo_copy, run_at};
use serde_json::Value;

const LATER: &str = "2026-11-25T05:00:00Z";

struct Gate {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Gate {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", self.stdout, self.stderr))
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

fn gate(cfg: &Path, args: &[&str]) -> Gate {
    let out = Command::new(bin())
        .arg("gate")
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("WABAGUARD_NOW", LATER)
        .env_remove("WABAGUARD_LOG")
        .output()
        .unwrap();
    Gate {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A copy of the demo with `send_log` as its send log, audited at 02:00.
fn account(dir: &Path, send_log: Option<&str>, extra: &str) -> PathBuf {
    let demo = demo_copy(dir);
    if let Some(text) = send_log {
        std::fs::write(demo.join("send_log.csv"), text).unwrap();
    }
    let cfg = config(
        dir,
        "casa-verde",
        &demo,
        &format!("[reports]\ndir = \"reports\"\n{extra}"),
    );
    let (code, out, err) = run_at(&cfg, "2026-11-25T02:00:00Z", &["--quiet"]);
    assert_eq!(code, 0, "{out}{err}");
    cfg
}

const LOG_HEADER: &str = "timestamp,phone_number_id,recipient,status,error_code\n";

/// Audience `rows` (phones) and a ledger with one row per `(phone, scope)`
/// opt-in on 2026-06-01.
fn files(dir: &Path, rows: &[&str], consent: &[(&str, &str)]) -> (String, String) {
    let a = dir.join("audience.csv");
    let l = dir.join("ledger.csv");
    std::fs::write(&a, format!("phone\n{}\n", rows.join("\n"))).unwrap();
    let mut text = String::from("phone,event,timestamp,source,scope\n");
    for (p, s) in consent {
        text.push_str(&format!("{p},opt_in,2026-06-01T10:00:00Z,web,{s}\n"));
    }
    std::fs::write(&l, text).unwrap();
    (a.display().to_string(), l.display().to_string())
}

fn args<'a>(template: &'a str, a: &'a str, l: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--account",
        "casa-verde",
        "--template",
        template,
        "--format",
        "json",
        "--audience",
        a,
        "--consent",
        l,
    ];
    v.extend_from_slice(extra);
    v
}

const US: [&str; 2] = ["+12025550143", "+12025550178"];

#[test]
fn consent_is_required_for_the_templates_category() {
    let d = tempfile::tempdir().unwrap();
    let cfg = account(d.path(), Some(LOG_HEADER), "");
    let (a, l) = files(d.path(), &US, &[(US[0], "utility"), (US[1], "utility")]);
    // A UTILITY template: utility consent covers.
    let g = gate(&cfg, &args("pickup_slot_booked", &a, &l, &[]));
    assert_eq!(g.code, 0, "{}{}", g.stdout, g.stderr);
    let j = g.json();
    assert_eq!(j["optin"]["category"], "UTILITY");
    assert_eq!(j["optin"]["ledger_scoped"], true);
    assert_eq!(j["optin"]["covered"], 2);
    assert_eq!(j["optin"]["scopes"][0]["scope"], "marketing");
    assert_eq!(j["optin"]["scopes"][0]["missing"], 2);
    // --category MARKETING adds to the template's category: both needed.
    let g = gate(
        &cfg,
        &args("pickup_slot_booked", &a, &l, &["--category", "marketing"]),
    );
    assert_eq!(g.code, 1, "{}", g.stdout);
    let j = g.json();
    assert_eq!(j["optin"]["category"], "MARKETING|UTILITY");
    assert_eq!(j["optin"]["covered"], 0);
    assert!(g.codes().contains(&"optin_below_minimum".to_owned()));
    assert!(
        j["warnings"][0]
            .as_str()
            .unwrap()
            .contains("--category MARKETING differs from the templates' category UTILITY"),
        "{j}"
    );
    // A MARKETING template: utility consent does not cover, and US numbers
    // do not receive marketing templates.
    let g = gate(
        &cfg,
        &args("wine_cheese_weekend", &a, &l, &["--fail-on", "critical"]),
    );
    assert_eq!(g.code, 1);
    let j = g.json();
    assert_eq!(j["optin"]["category"], "MARKETING");
    let codes = g.codes();
    assert!(
        codes.contains(&"optin_below_minimum".to_owned()),
        "{codes:?}"
    );
    assert!(codes.contains(&"country_rule".to_owned()), "{codes:?}");
    assert_eq!(j["country_rules"][0]["id"], "us-marketing");
    assert_eq!(j["country_rules"][0]["rows"], 2);
}

#[test]
fn country_rules_refuse_warn_or_are_off_by_config_and_list_rows() {
    let d = tempfile::tempdir().unwrap();
    let both = [(US[0], ""), (US[1], ""), ("+14165550132", "")];
    let rows = [US[0], US[1], "+1 416 555 0132"];
    // Default: us-marketing refuses.
    let cfg = account(d.path(), Some(LOG_HEADER), "");
    let (a, l) = files(d.path(), &rows, &both);
    let out = d.path().join("drop.csv");
    let o = out.display().to_string();
    let g = gate(
        &cfg,
        &args(
            "pickup_slot_booked",
            &a,
            &l,
            &["--category", "MARKETING", "--uncovered", &o],
        ),
    );
    assert_eq!(g.code, 1, "{}", g.stdout);
    assert_eq!(g.codes(), ["country_rule"]);
    let j = g.json();
    assert!(
        j["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2 audience rows in US"),
        "{j}"
    );
    assert_eq!(j["uncovered"]["rows"], 2);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "line,phone,e164,reason\n2,+12025550143,+12025550143,country_rule:us-marketing\n3,+12025550178,+12025550178,country_rule:us-marketing\n"
    );
    // [gate] country_rules = "warn": passes with a warning.
    let d2 = tempfile::tempdir().unwrap();
    let cfg = account(
        d2.path(),
        Some(LOG_HEADER),
        "[gate]\ncountry_rules = \"warn\"\n",
    );
    let g = gate(
        &cfg,
        &args("pickup_slot_booked", &a, &l, &["--category", "MARKETING"]),
    );
    assert_eq!(g.code, 0, "{}", g.stdout);
    let j = g.json();
    assert_eq!(j["country_rules"][0]["action"], "warn");
    assert!(
        j["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("country rule us-marketing: 2 audience rows")),
        "{j}"
    );
    // Per rule: off.
    let d3 = tempfile::tempdir().unwrap();
    let cfg = account(
        d3.path(),
        Some(LOG_HEADER),
        "[gate]\ncountry_rule_actions = { \"us-marketing\" = \"off\" }\n",
    );
    let g = gate(
        &cfg,
        &args("pickup_slot_booked", &a, &l, &["--category", "MARKETING"]),
    );
    assert_eq!(g.code, 0, "{}", g.stdout);
    assert_eq!(g.json()["country_rules"], Value::Null);
    // An unknown rule id in the config: cannot decide.
    let d4 = tempfile::tempdir().unwrap();
    let cfg = account(
        d4.path(),
        Some(LOG_HEADER),
        "[gate]\ncountry_rule_actions = { \"us-marketting\" = \"off\" }\n",
    );
    let g = gate(&cfg, &args("pickup_slot_booked", &a, &l, &[]));
    assert_eq!(g.code, 2, "{}", g.stdout);
    assert!(
        g.stderr.contains("unknown country rule `us-marketting`"),
        "{}",
        g.stderr
    );
}

#[test]
fn error_130497_in_the_send_log_restricts_that_country_for_every_category() {
    let d = tempfile::tempdir().unwrap();
    let log = format!(
        "{LOG_HEADER}2026-11-20T10:00:00Z,118374650192837,+5511961234567,failed,130497\n2026-11-24T10:00:00Z,118374650192837,5511961230000,failed,130497\n"
    );
    let cfg = account(d.path(), Some(&log), "");
    let br = "+55 11 96123-9999";
    let (a, l) = files(
        d.path(),
        &[US[0], br],
        &[(US[0], ""), ("+5511961239999", "")],
    );
    let g = gate(&cfg, &args("pickup_slot_booked", &a, &l, &[]));
    assert_eq!(g.code, 1, "{}", g.stdout);
    assert_eq!(g.codes(), ["country_rule"]);
    let j = g.json();
    assert_eq!(j["country_rules"][0]["id"], "send-log-130497-br");
    assert_eq!(j["country_rules"][0]["rows"], 1);
    assert_eq!(j["country_rules"][0]["source"], "send log");
    // No phone number in the text output.
    let mut t = args("pickup_slot_booked", &a, &l, &[]);
    t.retain(|x| *x != "--format" && *x != "json");
    let g = gate(&cfg, &t);
    assert!(g.stdout.contains("send-log-130497-br"), "{}", g.stdout);
    assert!(!g.stdout.contains("96123"), "{}", g.stdout);
}

#[test]
fn the_messaging_limit_headroom_refuses_with_the_numbers_and_days() {
    let d = tempfile::tempdir().unwrap();
    // 990 unique users contacted in the last 24 h (some twice, some failed
    // or older, which do not count); the lowest tier of the demo is TIER_1K.
    let mut log = String::from(LOG_HEADER);
    for i in 0..990 {
        log.push_str(&format!(
            "2026-11-24T12:00:00Z,109283746501928,+1415{:07},sent,\n",
            2_000_000 + i
        ));
        log.push_str(&format!(
            "2026-11-24T12:00:05Z,109283746501928,1415{:07},delivered,\n",
            2_000_000 + i
        ));
    }
    log.push_str("2026-11-24T12:00:00Z,109283746501928,+12125550100,failed,131049\n");
    log.push_str("2026-11-23T12:00:00Z,109283746501928,+12125550101,sent,\n");
    let cfg = account(d.path(), Some(&log), "");
    let rows: Vec<String> = (0..25)
        .map(|i| format!("+1212555{:04}", 200 + i))
        .chain(["+14152000000".to_owned()])
        .collect();
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    let consent: Vec<(&str, &str)> = refs.iter().map(|r| (*r, "")).collect();
    let (a, l) = files(d.path(), &refs, &consent);
    let g = gate(&cfg, &args("pickup_slot_booked", &a, &l, &[]));
    assert_eq!(g.code, 1, "{}{}", g.stdout, g.stderr);
    assert_eq!(g.codes(), ["messaging_limit_exceeded"]);
    let j = g.json();
    let h = &j["headroom"];
    assert_eq!(h["tier"], "TIER_1K");
    assert_eq!(h["limit"], 1000);
    assert_eq!(h["used"], 990);
    assert_eq!(h["headroom"], 10);
    assert_eq!(h["already_contacted"], 1);
    assert_eq!(h["needed"], 25);
    assert_eq!(h["days"], 2);
    let m = j["reasons"][0]["message"].as_str().unwrap();
    assert!(m.contains("needs 25 new unique recipients"), "{m}");
    assert!(
        m.contains("has 10 left (990 already contacted in the last 24 h)"),
        "{m}"
    );
    assert!(m.contains("needs 2 days"), "{m}");
    // Ten fit.
    let (a, l) = files(d.path(), &refs[..10], &consent[..10]);
    let g = gate(&cfg, &args("pickup_slot_booked", &a, &l, &[]));
    assert_eq!(g.code, 0, "{}", g.stdout);
    assert_eq!(g.json()["headroom"]["days"], 1);
}

#[test]
fn a_send_log_without_recipients_counts_zero_used_with_a_warning() {
    let d = tempfile::tempdir().unwrap();
    let cfg = account(
        d.path(),
        Some(
            "timestamp,phone_number_id,status,error_code\n2026-11-24T12:00:00Z,109283746501928,sent,\n",
        ),
        "",
    );
    let (a, l) = files(d.path(), &US, &[(US[0], ""), (US[1], "")]);
    let g = gate(&cfg, &args("pickup_slot_booked", &a, &l, &[]));
    assert_eq!(g.code, 0, "{}", g.stdout);
    let j = g.json();
    assert_eq!(j["headroom"]["used"], 0);
    assert_eq!(j["headroom"]["needed"], 2);
    assert!(
        j["warnings"][0]
            .as_str()
            .unwrap()
            .contains("has no recipient column"),
        "{j}"
    );
    let mut t = args("pickup_slot_booked", &a, &l, &[]);
    t.retain(|x| *x != "--format" && *x != "json");
    let g = gate(&cfg, &t);
    assert!(
        g.stdout
            .contains("messaging limit TIER_1K (1000/24 h): 0 used, 1000 left, 2 needed, 1 day"),
        "{}",
        g.stdout
    );
    assert!(g.stdout.contains("! the send log"), "{}", g.stdout);
}
