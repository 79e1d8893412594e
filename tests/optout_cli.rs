//! `wabaguard optouts` and the `optin.unrecorded-optout` finding of `run`:
//! opt-out replies, opt-out buttons and error 131050 that the consent ledger
//! lacks; malformed lines named by line; ledger rows that, appended, close
//! the gap.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use wabaguard::collect::consent::phone::parse_region;
use wabaguard::collect::optout::{OptoutParams, compute};
use wabaguard::rulepack::RulePack;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/optout")
        .join(name)
}

/// Runs in an empty folder, so no ./config.toml is picked up.
fn cmd(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("wabaguard").unwrap();
    c.current_dir(dir);
    c
}

fn params(inbound: &[PathBuf], send_log: Option<PathBuf>, consent: PathBuf) -> OptoutParams {
    OptoutParams {
        inbound: inbound.to_vec(),
        send_log,
        consent,
        region: parse_region("US").unwrap(),
        payloads: vec![],
        threads: 2,
        audience: "a".into(),
    }
}

#[test]
fn jsonl_export_send_log_and_scoped_ledger() {
    let pack = RulePack::builtin().unwrap();
    let o = compute(
        &pack,
        &params(
            &[fixture("inbound_mixed.jsonl")],
            Some(fixture("send_log_131050.csv")),
            fixture("ledger_scoped.csv"),
        ),
    )
    .unwrap();
    let a = &o.audit;
    // 11 messages in 13 lines (one envelope batches two, one is statuses only).
    assert_eq!(a.messages, 11);
    // Line 1 and its retry on line 8 count once; line 3 is a hard negative.
    assert_eq!(a.detected, 6);
    assert_eq!(a.by_rule["optout.keyword"], 1);
    assert_eq!(a.by_rule["optout.request"], 1);
    assert_eq!(a.by_rule["optout.button-payload"], 2);
    assert_eq!(a.by_rule["send_log.131050"], 2);
    assert_eq!(a.invalid_numbers, 1);
    // Recorded: the German button (opt_out after it) and +17025550100
    // (already opted out of marketing when 131050 came).
    assert_eq!(a.unrecorded, 4);
    assert_eq!(a.unrecorded_numbers, 4);
    assert_eq!(a.bad_lines, 4);
    let reasons: Vec<&str> = a.bad_samples.iter().map(|s| s.reason.as_str()).collect();
    assert!(
        reasons[0].starts_with("inbound_mixed.jsonl line 4: not a webhook envelope"),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"inbound_mixed.jsonl line 6: a message without `from`"),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("inbound_mixed.jsonl line 10: ")),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"send_log_131050.csv line 5: 131050 row without a recipient"),
        "{reasons:?}"
    );
    let phones: Vec<u64> = o.rows.iter().map(|r| r.phone).collect();
    assert_eq!(
        phones,
        [
            17_025_550_101,
            15_125_550_191,
            5_511_958_127_765,
            34_600_111_222
        ]
    );
}

#[test]
fn emitted_rows_use_the_ledger_columns_and_close_the_gap_when_appended() {
    let d = tempfile::tempdir().unwrap();
    let ledger = d.path().join("ledger.csv");
    std::fs::copy(fixture("ledger_scoped.csv"), &ledger).unwrap();
    let rows = d.path().join("missing.csv");
    cmd(d.path())
        .args(["optouts", "--inbound"])
        .arg(fixture("inbound_mixed.jsonl"))
        .arg("--send-log")
        .arg(fixture("send_log_131050.csv"))
        .arg("--consent")
        .arg(&ledger)
        .arg("--emit-ledger-rows")
        .arg(&rows)
        .arg("--fail-on-unrecorded")
        .assert()
        .code(1);
    let written = std::fs::read_to_string(&rows).unwrap();
    assert_eq!(
        written,
        "phone,event,timestamp,source,scope\n\
         +17025550101,opt_out,2025-11-23T09:00:00Z,131050,marketing\n\
         +15125550191,opt_out,2025-11-23T12:13:20Z,inbound_reply,\n\
         +5511958127765,opt_out,2025-11-23T12:15:00Z,inbound_reply,\n\
         +34600111222,opt_out,2025-11-23T12:23:20Z,inbound_reply,\n"
    );
    // Append without the header: nothing is missing any more.
    let mut l = std::fs::read_to_string(&ledger).unwrap();
    l.push_str(written.split_once('\n').unwrap().1);
    std::fs::write(&ledger, l).unwrap();
    let out = cmd(d.path())
        .args([
            "optouts",
            "--format",
            "json",
            "--fail-on-unrecorded",
            "--inbound",
        ])
        .arg(fixture("inbound_mixed.jsonl"))
        .arg("--send-log")
        .arg(fixture("send_log_131050.csv"))
        .arg("--consent")
        .arg(&ledger)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["unrecorded"], 0);
    assert_eq!(v["detected"], 6);
}

#[test]
fn text_output_masks_numbers_and_names_bad_lines() {
    let d = tempfile::tempdir().unwrap();
    let out = cmd(d.path())
        .args(["optouts", "--inbound"])
        .arg(fixture("inbound_mixed.jsonl"))
        .arg("--consent")
        .arg(fixture("ledger_scoped.csv"))
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("3 numbers asked to stop"), "{text}");
    assert!(text.contains("+1 ••• ••• 0191"), "{text}");
    assert!(!text.contains("15125550191"), "{text}");
    assert!(
        text.contains("inbound_mixed.jsonl line 4: not a webhook envelope"),
        "{text}"
    );
}

#[test]
fn csv_export_is_read_by_header() {
    let pack = RulePack::builtin().unwrap();
    let o = compute(
        &pack,
        &params(
            &[fixture("inbound.csv")],
            None,
            fixture("ledger_scoped.csv"),
        ),
    )
    .unwrap();
    assert_eq!(o.audit.messages, 6);
    assert_eq!(o.audit.detected, 3);
    assert_eq!(o.audit.unrecorded, 2);
    let lines: Vec<u64> = o.audit.bad_samples.iter().map(|s| s.line).collect();
    assert_eq!(lines, [6, 7]);
}

#[test]
fn unreadable_inputs_exit_2_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nope.csv");
    cmd(d.path())
        .args(["optouts", "--inbound"])
        .arg(fixture("inbound_mixed.jsonl"))
        .arg("--consent")
        .arg(&missing)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nope.csv"));
    // A CSV without the needed columns.
    let bad = d.path().join("inbound.csv");
    std::fs::write(&bad, "sender_name,message\nAna,STOP\n").unwrap();
    cmd(d.path())
        .args(["optouts", "--inbound"])
        .arg(&bad)
        .arg("--consent")
        .arg(fixture("ledger_scoped.csv"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("from and timestamp"));
    // Binary garbage as JSON Lines: every line is counted as unreadable.
    let junk = d.path().join("junk.jsonl");
    std::fs::write(&junk, b"\x00\xff\xfe{{{\n\x01\x02\n").unwrap();
    let out = cmd(d.path())
        .args(["optouts", "--format", "json", "--inbound"])
        .arg(&junk)
        .arg("--consent")
        .arg(fixture("ledger_scoped.csv"))
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["bad_lines"], 2);
}

#[test]
fn large_exports_split_into_blocks_keep_line_numbers() {
    // More than one 4 MiB block: a bad line near the end is named exactly.
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("big.jsonl");
    let mut text = String::new();
    let n = 30_000;
    for i in 0..n {
        text.push_str(&format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"14155550134","phone_number_id":"109283746501928"}},"contacts":[{{"profile":{{"name":"Customer Name"}},"wa_id":"1512{:07}"}}],"messages":[{{"from":"1512{:07}","id":"wamid.HBgLMTUxMjU1NTAxOTEVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA","timestamp":"{}","type":"text","text":{{"body":"{}"}}}}]}},"field":"messages"}}]}}]}}"#,
            2_000_000 + i,
            2_000_000 + i,
            1_763_000_000 + i,
            if i % 50 == 0 { "STOP" } else { "Is my order on its way? Thanks" }
        ));
        text.push('\n');
        if i == n - 3 {
            text.push_str("not json\n");
        }
    }
    assert!(text.len() > 8 << 20);
    std::fs::write(&path, text).unwrap();
    let ledger = d.path().join("ledger.csv");
    std::fs::write(&ledger, "phone,event,timestamp\n").unwrap();
    let pack = RulePack::builtin().unwrap();
    let o = compute(&pack, &params(&[path], None, ledger)).unwrap();
    assert_eq!(o.audit.messages, n);
    assert_eq!(o.audit.detected, n / 50);
    assert_eq!(o.audit.unrecorded, n / 50);
    assert_eq!(o.audit.bad_lines, 1);
    assert_eq!(o.audit.bad_samples[0].line, n - 1);
}

#[test]
fn unrecorded_optout_rule_examples_pass() {
    // The examples of optin.unrecorded-optout are small scenarios: inbound
    // messages, a send log and a ledger.
    let pack = RulePack::builtin().unwrap();
    let rule = pack.rule("optin.unrecorded-optout").unwrap();
    let d = tempfile::tempdir().unwrap();
    for (positive, list) in [
        (true, &rule.def.examples.positive),
        (false, &rule.def.examples.negative),
    ] {
        assert!(!list.is_empty());
        for ex in list {
            let v: serde_json::Value = serde_json::from_str(ex).unwrap();
            let ledger = d.path().join("ledger.csv");
            std::fs::write(&ledger, v["ledger"].as_str().unwrap()).unwrap();
            let mut inbound = Vec::new();
            if let Some(msgs) = v.get("inbound") {
                let p = d.path().join("inbound.jsonl");
                let env = serde_json::json!({"object": "whatsapp_business_account",
                    "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"messages": msgs}}]}]});
                std::fs::write(&p, format!("{env}\n")).unwrap();
                inbound.push(p);
            }
            let log = v.get("send_log").map(|s| {
                let p = d.path().join("send_log.csv");
                std::fs::write(&p, s.as_str().unwrap()).unwrap();
                p
            });
            let o = compute(&pack, &params(&inbound, log, ledger)).unwrap();
            assert_eq!(o.audit.unrecorded > 0, positive, "{ex}");
        }
    }
}

#[test]
fn run_reports_the_finding_without_clear_numbers() {
    let d = tempfile::tempdir().unwrap();
    let r = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let demo = r.join("examples/demo");
    let cfg = d.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[reports]
dir = "reports"

[optout]
payloads = ["BAJA_PROMOS"]

[[accounts]]
name = "casa-verde"
exports = "{demo}"
send_log = "{fx}/send_log_131050.csv"
inbound = "{fx}/inbound_mixed.jsonl"

[[accounts.audiences]]
name = "black_friday_us"
file = "{demo}/audiences/black_friday_us.csv"
consent = "{fx}/ledger_scoped.csv"
"#,
            demo = demo.display(),
            fx = r.join("tests/fixtures/optout").display()
        ),
    )
    .unwrap();
    cmd(d.path())
        .env("WABAGUARD_NOW", "2026-11-25T02:00:00Z")
        .args(["run", "--config"])
        .arg(&cfg)
        .assert()
        .code(0);
    let run = d.path().join("reports/20261125T020000Z");
    let json = std::fs::read_to_string(run.join("report.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let f = v["accounts"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "optin.unrecorded-optout")
        .expect("finding");
    assert_eq!(f["check"], "optin.unrecorded_optout");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["details"]["unrecorded"], 4);
    let ev = f["evidence"].as_str().unwrap();
    assert!(ev.contains("+1 ••• ••• 0191 on 2025-11-23"), "{ev}");
    for clear in ["15125550191", "5511958127765", "34600111222", "17025550101"] {
        assert!(!json.contains(clear), "{clear} in report.json");
        let md = std::fs::read_to_string(run.join("report.md")).unwrap();
        assert!(!md.contains(clear), "{clear} in report.md");
    }
}

#[test]
fn config_refuses_inbound_without_a_ledger() {
    let err = wabaguard::config::Config::from_toml_str(
        "[[accounts]]\nname = \"a\"\nexports = \"x\"\ninbound = \"in.jsonl\"\n",
        Path::new("c.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("accounts[0].inbound"), "{err}");
    let err = wabaguard::config::Config::from_toml_str(
        "[optout]\npayloads = [\" \"]\n",
        Path::new("c.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("optout.payloads[0]"), "{err}");
}
