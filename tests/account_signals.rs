//! Account signals end to end on Graph-API-shaped fixtures: collection
//! (events, send log, two-step config) → checks → risk (stage, ladder,
//! diagnosis, runbook). Every test judges the fixture at a fixed time.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use wabaguard::checks::{self, CheckContext, Finding, Origin, Severity};
use wabaguard::collect;
use wabaguard::config::Config;
use wabaguard::risk::{self, Cause, Level, Risk, Stage};
use wabaguard::rulepack::RulePack;
use wabaguard::snapshot::{EventKind, NumberState, Snapshot};

const WABA: &str = "102290129340398";
const NUM: &str = "106540352242922";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Audited {
    snap: Snapshot,
    findings: Vec<Finding>,
    risk: Risk,
}

impl Audited {
    fn rules(&self) -> BTreeSet<&str> {
        self.findings.iter().map(|f| f.rule.as_str()).collect()
    }
    fn of(&self, rule: &str) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.rule == rule).collect()
    }
}

const PIN_CONFIG: &str =
    "[accounts.two_step]\npin_secret = \"env:LUMEN_WABA_PIN\"\nlast_rotated = 2026-06-01\n";

fn audit_dir(dir: &Path, extra: &str, now: &str, previous: Option<&[NumberState]>) -> Audited {
    let log = dir.join("send_log.csv");
    let mut text = format!(
        "[[accounts]]\nname = \"lumen\"\nexports = \"{}\"\n",
        dir.display()
    );
    if log.is_file() {
        text.push_str(&format!("send_log = \"{}\"\n", log.display()));
    }
    text.push_str(extra);
    let cfg = Config::from_toml_str(&text, Path::new("/etc/wabaguard/config.toml")).unwrap();
    let snap = collect::collect_account(&cfg, &cfg.accounts[0]).unwrap();
    let pack = RulePack::builtin().unwrap();
    let now = at(now);
    let ctx = CheckContext {
        pack: &pack,
        mask_phones: true,
        now,
        previous_numbers: previous,
        optin: wabaguard::config::OptinConfig::default().policy(),
    };
    let findings = checks::run_all(&snap, &ctx);
    let risk = risk::assess_account(&snap, &findings, now);
    Audited {
        snap,
        findings,
        risk,
    }
}

fn audit(fixture: &str, extra: &str, now: &str) -> Audited {
    audit_dir(
        &root().join("tests/fixtures/accounts").join(fixture),
        extra,
        now,
        None,
    )
}

#[test]
fn clean_account_is_stage_none_with_no_account_findings() {
    let a = audit("clean", PIN_CONFIG, "2026-11-25T00:00:00Z");
    assert_eq!(a.risk.stage, Stage::None);
    assert!(a.risk.diagnosis.is_none());
    assert!(a.risk.ladder.is_none());
    assert_eq!(a.risk.level, Level::Low);
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    assert_eq!(a.snap.send_stats.as_ref().unwrap().bad_rows, 0);
}

#[test]
fn locked_by_pin_mismatch_after_a_migration() {
    let a = audit(
        "locked_pin_mismatch",
        "[accounts.two_step]\npin_secret = \"env:LUMEN_WABA_PIN\"\nregistered_at = 2026-11-21\n",
        "2026-11-25T00:00:00Z",
    );
    assert_eq!(a.risk.stage, Stage::Locked);
    assert_eq!((a.risk.score, a.risk.level), (100, Level::Critical));
    let d = a.risk.diagnosis.as_ref().expect("diagnosis when locked");
    assert_eq!(d.cause, Cause::TwoStepPinMismatch);
    let ev: Vec<&str> = d.evidence.iter().map(|e| e.text.as_str()).collect();
    assert!(ev.iter().any(|e| e.contains("133005")), "{ev:?}");
    assert!(ev.iter().any(|e| e.contains("PARTNER_ADDED")), "{ev:?}");
    assert!(
        ev.iter()
            .any(|e| e.contains("2026-11-21") && e.contains("registered")),
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| e.contains("131031")), "{ev:?}");
    assert_eq!(d.runbook.id, "two-step-pin-mismatch");
    let md = &d.runbook.markdown;
    for want in [
        NUM,
        WABA,
        "131031",
        "env:LUMEN_WABA_PIN",
        "2026-11-23T06:30:00Z",
        "/register",
    ] {
        assert!(md.contains(want), "runbook lacks {want}:\n{md}");
    }
    assert!(!md.contains("{{"), "unfilled placeholder:\n{md}");
    assert!(
        d.runbook
            .steps
            .iter()
            .any(|s| s.contains("turn two-step verification off"))
    );
    let esc = d.escalation.as_ref().unwrap();
    assert_eq!(esc.id, "direct-support");
    assert!(esc.markdown.contains(WABA) && esc.markdown.contains(NUM));
    let rules = a.rules();
    for r in [
        "acct.send.locked",
        "acct.pin.mismatch",
        "acct.pin.lock-signature",
        "acct.pin.recent-registration",
    ] {
        assert!(rules.contains(r), "{r} missing: {rules:?}");
    }
    // The number itself still looks connected: no status finding.
    assert!(!rules.iter().any(|r| r.starts_with("num.status")));
    assert_eq!(a.of("acct.send.locked")[0].origin, Origin::Meta);
}

#[test]
fn locked_by_policy_reads_the_whole_ladder() {
    let a = audit("locked_policy", PIN_CONFIG, "2026-11-25T00:00:00Z");
    assert_eq!(a.risk.stage, Stage::Locked);
    let d = a.risk.diagnosis.as_ref().unwrap();
    assert_eq!(d.cause, Cause::PolicyEnforcement);
    assert_eq!(d.runbook.id, "policy-enforcement");
    assert!(
        d.runbook.markdown.contains("SCAM on 2026-11-22"),
        "{}",
        d.runbook.markdown
    );
    assert!(
        d.evidence
            .iter()
            .any(|e| e.text.contains("policy violation SCAM"))
    );
    let l = a.risk.ladder.as_ref().unwrap();
    assert_eq!(
        (l.step.as_str(), l.position, l.next.as_deref()),
        ("lock", 6, None)
    );
    let blocks: Vec<&String> = l
        .history
        .iter()
        .filter(|h| h.contains("-day block"))
        .collect();
    assert_eq!(blocks.len(), 5, "{:?}", l.history);
    for (b, step) in blocks
        .iter()
        .zip(["1-day", "3-day", "5-day", "7-day", "30-day"])
    {
        assert!(b.contains(step), "{b} is not a {step} block");
    }
    // The WABA is BLOCKED in waba.json and in the number's health status: one finding.
    let health = a.of("acct.health.blocked");
    assert_eq!(health.len(), 1, "{health:#?}");
    assert_eq!(health[0].details["entity_type"], "WABA");
    assert_eq!(health[0].details["errors"][0]["error_code"], 131031);
    assert!(
        health[0]
            .remediation
            .starts_with("Meta suggests: Review the violation")
    );
    assert_eq!(a.of("acct.event.alert-critical").len(), 1);
    assert!(
        a.of("acct.event.violation")
            .iter()
            .any(|f| f.message.contains("2026-11-22"))
    );
    // Violations on record: not a PIN signature.
    assert!(a.of("acct.pin.lock-signature").is_empty());
    assert_eq!(a.risk.score, 100);
}

#[test]
fn temporary_block_in_force_says_until_when_and_which_step() {
    let a = audit("temporary_block", PIN_CONFIG, "2026-11-25T00:00:00Z");
    assert_eq!(a.risk.stage, Stage::TemporaryBlock);
    assert!(a.risk.score >= 90 && a.risk.level == Level::Critical);
    let l = a.risk.ladder.as_ref().unwrap();
    assert_eq!(l.step, "3-day block");
    assert_eq!(l.position, 2);
    assert_eq!(l.next.as_deref(), Some("5-day block"));
    assert_eq!(l.until.as_deref(), Some("2026-11-26T10:00:40Z"));
    let d = a.risk.diagnosis.as_ref().unwrap();
    assert_eq!(d.cause, Cause::PolicyEnforcement);
    assert!(d.runbook.markdown.contains("until 2026-11-26T10:00:40Z"));
    assert!(d.runbook.markdown.contains("(5-day block)"));
    let rules = a.rules();
    for r in [
        "acct.event.restriction-active",
        "acct.send.blocked",
        "acct.event.violation",
        "acct.health.limited",
    ] {
        assert!(rules.contains(r), "{r} missing: {rules:?}");
    }
    // The September 1-day block is a past one; the active block is not.
    let past = a.of("acct.event.restriction-past");
    assert_eq!(past.len(), 1);
    assert!(
        past[0].message.contains("2026-09-01"),
        "{}",
        past[0].message
    );
}

#[test]
fn temporary_block_after_its_expiry_is_a_warning() {
    let a = audit("temporary_block", PIN_CONFIG, "2026-11-28T00:00:00Z");
    assert_eq!(a.risk.stage, Stage::Warning);
    assert!(a.risk.diagnosis.is_none());
    assert!(a.risk.score >= 50 && a.risk.level >= Level::High);
    let l = a.risk.ladder.as_ref().unwrap();
    assert_eq!(
        (l.step.as_str(), l.next.as_deref(), l.until.as_deref()),
        ("3-day block", Some("5-day block"), None)
    );
    assert!(a.rules().contains("acct.event.restriction-past"));
    assert!(!a.rules().contains("acct.event.restriction-active"));
    // Sends succeeded after the last 368: the block is over.
    let blocked = a.of("acct.send.blocked");
    assert!(
        blocked[0].message.contains("succeeded again"),
        "{}",
        blocked[0].message
    );
}

#[test]
fn lock_without_evidence_for_either_cause_is_unknown() {
    let a = audit("locked_unknown", PIN_CONFIG, "2026-11-25T00:00:00Z");
    assert_eq!(a.risk.stage, Stage::Locked);
    let d = a.risk.diagnosis.as_ref().unwrap();
    assert_eq!(d.cause, Cause::Unknown);
    assert_eq!(d.runbook.id, "unknown-cause");
    assert!(d.other_signals.is_empty());
    assert!(d.summary.contains("not identified"), "{}", d.summary);
}

#[test]
fn unknown_enum_values_are_kept_verbatim_and_reported_as_info() {
    let a = audit("unknown_enums", PIN_CONFIG, "2026-11-25T00:00:00Z");
    let n = &a.snap.phone_numbers[0];
    assert_eq!(n.quality_rating.as_deref(), Some("PURPLE"));
    assert!(a.snap.events.iter().any(|e| e.field == "business_capability_update"
        && matches!(&e.kind, EventKind::Other { value } if value["max_phone_numbers_per_business"] == 2)));
    let non_info: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .collect();
    assert!(non_info.is_empty(), "{non_info:#?}");
    let values: BTreeSet<String> = a
        .of("acct.meta.unknown-value")
        .iter()
        .map(|f| f.details["value"].as_str().unwrap().to_owned())
        .collect();
    for v in [
        "PURPLE",
        "SUSPENDED_FOR_REVIEW",
        "UNDER_APPEAL",
        "PARTIALLY_VERIFIED",
        "TIER_5K",
        "THROTTLED",
        "in_review",
        "UNDER_REAUDIT",
        "ACCOUNT_NEW_ENFORCEMENT_TYPE",
        "SIDEGRADE",
        "PARTIAL_DISABLE",
        "QUARANTINED",
        "SEVERE",
    ] {
        assert!(values.contains(v), "{v} not reported: {values:?}");
    }
    assert!(
        a.of("acct.meta.unknown-value")
            .iter()
            .all(|f| f.origin == Origin::Meta)
    );
    assert!(
        a.of("prof.vertical.unknown")[0]
            .message
            .contains("PET_SUPPLIES")
    );
    assert_eq!(a.risk.stage, Stage::None);
}

#[test]
fn demo_export_as_of_its_date() {
    let a = audit_dir(
        &root().join("examples/demo"),
        "",
        "2026-11-24T23:30:00Z",
        None,
    );
    assert_eq!(a.risk.stage, Stage::Warning);
    let l = a.risk.ladder.as_ref().unwrap();
    assert_eq!(
        (l.step.as_str(), l.next.as_deref()),
        ("3-day block", Some("5-day block"))
    );
    // 25 lines, 23 distinct deliveries, one of them batching two changes.
    assert_eq!(a.snap.events.len(), 24);
    assert!(a.snap.events.windows(2).all(|w| w[0].time <= w[1].time));
    // The business is LIMITED in waba.json and in both numbers' health: one finding.
    let health = a.of("acct.health.limited");
    assert_eq!(health.len(), 2, "{health:#?}");
    let kinds: BTreeSet<&str> = health
        .iter()
        .map(|f| f.details["entity_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["BUSINESS", "PHONE_NUMBER"]));
    // The Brazil number: DOWNGRADE webhook, YELLOW, not verified, display name pending.
    let br = "118374650192837";
    for r in [
        "num.limit.downgraded",
        "num.quality.yellow",
        "num.code.not-verified",
        "biz.name.pending",
    ] {
        assert!(
            a.of(r).iter().any(|f| f.subject.id.as_deref() == Some(br)),
            "{r} for {br}"
        );
    }
    assert!(
        a.of("num.limit.downgraded")[0]
            .evidence
            .as_deref()
            .unwrap()
            .contains("TIER_10K → TIER_1K")
    );
    // Send log: 13× 131049 and 4× 131048 in the last 24 h, both rising.
    let eco = a.of("acct.send.ecosystem");
    assert_eq!(eco[0].details["last_24h"], 13);
    assert_eq!(a.of("acct.send.spam-rate")[0].details["last_24h"], 4);
    assert_eq!(a.of("acct.send.rising").len(), 2);
    assert_eq!(a.of("acct.send.template-paused")[0].details["last_7d"], 2);
    // Profiles: Brazil only links Instagram; the US description is 18 characters.
    assert!(
        a.of("prof.website.social-only")
            .iter()
            .any(|f| f.subject.id.as_deref() == Some(br))
    );
    let short = a.of("prof.description.too-short");
    assert_eq!(short[0].subject.id.as_deref(), Some("109283746501928"));
    // Events: the impending MARKETING move of treuepunkte_verfallen, the paused template.
    assert!(
        a.of("acct.event.category-impending")[0]
            .message
            .contains("2026-12-01")
    );
    let paused = a.of("acct.event.template-paused");
    assert_eq!(paused[0].details["until"], "2026-11-25T00:40:00Z");
    assert_eq!(paused[0].details["active"], true);
    // The flag on the US number was lifted; the Brazil flag ended in a downgrade.
    assert!(a.of("acct.event.number-flagged").is_empty());
    assert!(a.of("acct.pin.not-configured").len() == 1);
    // Phone numbers are masked in messages.
    assert!(
        a.findings
            .iter()
            .all(|f| !f.message.contains("95555-0192") && !f.message.contains("415-555"))
    );
}

#[test]
fn limit_downgrade_against_the_previous_run() {
    let prev = vec![NumberState {
        id: "109283746501928".into(),
        display: Some("+1 ••• ••• 0134".into()),
        quality_rating: Some("GREEN".into()),
        status: Some("CONNECTED".into()),
        messaging_limit: Some("TIER_100K".into()),
    }];
    let a = audit_dir(
        &root().join("examples/demo"),
        "",
        "2026-11-24T23:30:00Z",
        Some(&prev),
    );
    let us: Vec<&Finding> = a
        .of("num.limit.downgraded")
        .into_iter()
        .filter(|f| f.subject.id.as_deref() == Some("109283746501928"))
        .collect();
    assert_eq!(us.len(), 1);
    assert_eq!(us[0].details["previous_limit"], "TIER_100K");
    assert_eq!(us[0].details["current_limit"], "TIER_10K");
    // An upgrade is not a finding.
    let up = vec![NumberState {
        messaging_limit: Some("TIER_1K".into()),
        ..prev[0].clone()
    }];
    let b = audit_dir(
        &root().join("examples/demo"),
        "",
        "2026-11-24T23:30:00Z",
        Some(&up),
    );
    assert!(
        !b.of("num.limit.downgraded")
            .iter()
            .any(|f| f.subject.id.as_deref() == Some("109283746501928"))
    );
}

#[test]
fn events_file_with_duplicates_disorder_and_a_broken_line() {
    let text =
        std::fs::read(root().join("tests/fixtures/events/duplicates_out_of_order_broken.jsonl"))
            .unwrap();
    let (events, rep) = collect::events::parse_events(text.as_slice()).unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(rep.duplicates, 1);
    assert_eq!(rep.out_of_order, 2);
    assert_eq!(rep.broken.iter().map(|b| b.0).collect::<Vec<_>>(), [3]);
    let order: Vec<(usize, &str)> = events.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        order,
        [
            (5, "message_template_status_update"),
            (5, "message_template_status_update"),
            (2, "phone_number_quality_update"),
            (1, "account_update"),
            (7, "phone_number_quality_update"),
        ]
    );
    // Through the exports folder: the broken line becomes a note naming it.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("events.jsonl"), &text).unwrap();
    let snap = collect::exports::collect("x", Some(WABA), d.path()).unwrap();
    assert_eq!(snap.events.len(), 5);
    assert!(
        snap.notes
            .iter()
            .any(|n| n.message.contains("line 3 skipped")),
        "{:?}",
        snap.notes
    );
}

#[test]
fn send_logs_in_csv_and_jsonl_count_bad_rows_by_line() {
    let csv = root().join("tests/fixtures/send_log/bom_crlf_mixed_timestamps.csv");
    let r = collect::send_log::read_send_log(&csv, "send_log.csv").unwrap();
    assert_eq!((r.stats.rows, r.stats.bad_rows), (4, 3));
    assert_eq!(r.bad.iter().map(|b| b.0).collect::<Vec<_>>(), [5, 6, 7]);
    assert_eq!(r.stats.codes[&131_049].count, 1);
    assert_eq!(r.stats.codes[&131_048].first, 1_795_514_400);
    let note = r.note().unwrap();
    assert!(
        note.contains("line 5: timestamp `24/11/2026 10:00`"),
        "{note}"
    );
    assert!(note.contains("line 6: error_code `E131031`"), "{note}");
    assert!(note.contains("line 7: phone_number_id is empty"), "{note}");
    assert!(
        !note.contains("+1415555"),
        "recipients never appear: {note}"
    );

    let jl = root().join("tests/fixtures/send_log/jsonl_with_bad_lines.jsonl");
    let r = collect::send_log::read_send_log(&jl, "log.jsonl").unwrap();
    assert_eq!((r.stats.rows, r.stats.bad_rows), (3, 2));
    assert_eq!(r.bad.iter().map(|b| b.0).collect::<Vec<_>>(), [3, 5]);
    assert!(r.stats.codes.contains_key(&131_031) && r.stats.codes.contains_key(&133_005));
}

#[test]
fn missing_send_log_is_a_collection_error_naming_the_file() {
    let text = format!(
        "[[accounts]]\nname = \"a\"\nexports = \"{}\"\nsend_log = \"/nonexistent/send.csv\"\n",
        root().join("tests/fixtures/accounts/clean").display()
    );
    let cfg = Config::from_toml_str(&text, Path::new("c.toml")).unwrap();
    let err = collect::collect_account(&cfg, &cfg.accounts[0])
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/send.csv"), "{err}");
}

fn profile_findings(file: &str) -> Vec<Finding> {
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/fixtures/profile").join(file)).unwrap(),
    )
    .unwrap();
    let mut snap = Snapshot {
        account: "lumen".into(),
        waba_id: WABA.into(),
        ..Snapshot::default()
    };
    snap.phone_numbers = serde_json::from_value(
        serde_json::json!([{"id": NUM, "display_phone_number": "+1 415-555-0134"}]),
    )
    .unwrap();
    snap.profiles.insert(
        NUM.into(),
        serde_json::from_value(v["data"][0].clone()).unwrap(),
    );
    snap.two_step = Some(wabaguard::snapshot::TwoStep {
        pin_secret: Some("env:PIN".into()),
        ..Default::default()
    });
    let pack = RulePack::builtin().unwrap();
    let ctx = CheckContext {
        pack: &pack,
        mask_phones: true,
        now: at("2026-11-25T00:00:00Z"),
        previous_numbers: None,
        optin: wabaguard::config::OptinConfig::default().policy(),
    };
    checks::run_all(&snap, &ctx)
        .into_iter()
        .filter(|f| f.check == "profile.incomplete")
        .collect()
}

fn rule_fields(fs: &[Finding]) -> BTreeSet<(String, String)> {
    fs.iter()
        .map(|f| (f.rule.clone(), f.subject.field.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn profile_fixtures() {
    assert!(profile_findings("complete.json").is_empty());
    let s = |r: &str, f: &str| (r.to_owned(), f.to_owned());
    let ig = profile_findings("instagram_only_no_about_email_picture.json");
    assert_eq!(
        rule_fields(&ig),
        BTreeSet::from([
            s("prof.website.social-only", "websites"),
            s("prof.about.missing", "about"),
            s("prof.email.missing", "email"),
            s("prof.picture.missing", "profile_picture_url"),
        ])
    );
    assert!(
        ig.iter()
            .all(|f| f.message.contains("+1 ••• ••• 0134") || f.message.contains("instagram"))
    );
    assert!(ig.iter().all(|f| !f.message.contains("415-555")));
    let sh = profile_findings("shortener_and_invalid.json");
    assert_eq!(
        rule_fields(&sh),
        BTreeSet::from([
            s("prof.website.shortener", "websites"),
            s("prof.website.invalid", "websites")
        ])
    );
    let nw = profile_findings("no_website_short_description_undefined_vertical.json");
    assert_eq!(
        rule_fields(&nw),
        BTreeSet::from([
            s("prof.website.missing", "websites"),
            s("prof.description.too-short", "description"),
            s("prof.vertical.missing", "vertical"),
            s("prof.address.missing", "address"),
            s("prof.email.invalid", "email"),
        ])
    );
    let ol = profile_findings("over_limits.json");
    assert_eq!(
        rule_fields(&ol),
        BTreeSet::from([s("prof.limits", "about"), s("prof.limits", "websites")])
    );
    // Fingerprints follow the field, not the message.
    let fps: BTreeSet<&str> = ol.iter().map(|f| f.fingerprint.as_str()).collect();
    assert_eq!(fps.len(), 2);
}

#[test]
fn disabled_rules_and_severity_overrides_apply_to_account_rules() {
    let dir = root().join("tests/fixtures/accounts/locked_pin_mismatch");
    let cfg = Config::from_toml_str(
        &format!(
            "[rules]\ndisable = [\"acct.pin.not-configured\"]\nseverity_overrides = {{ \"acct.send.locked\" = \"high\" }}\n[[accounts]]\nname = \"a\"\nexports = \"{}\"\nsend_log = \"{}\"\n",
            dir.display(),
            dir.join("send_log.csv").display()
        ),
        Path::new("c.toml"),
    )
    .unwrap();
    let pack = RulePack::load(&cfg.rules, None, &[]).unwrap();
    let snap = collect::collect_account(&cfg, &cfg.accounts[0]).unwrap();
    let now = at("2026-11-25T00:00:00Z");
    let ctx = CheckContext {
        pack: &pack,
        mask_phones: true,
        now,
        previous_numbers: None,
        optin: wabaguard::config::OptinConfig::default().policy(),
    };
    let f = checks::run_all(&snap, &ctx);
    assert!(!f.iter().any(|f| f.rule == "acct.pin.not-configured"));
    assert_eq!(
        f.iter()
            .find(|f| f.rule == "acct.send.locked")
            .unwrap()
            .severity,
        Severity::High
    );
    // The stage does not depend on rule configuration: still locked.
    assert_eq!(risk::assess_account(&snap, &f, now).stage, Stage::Locked);
}
