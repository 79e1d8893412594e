//! The template register end to end: the pipeline runs twice (the binary,
//! with `WABAGUARD_NOW`) on two Graph-shaped exports of the same account a
//! fortnight apart, and the register, its findings, report.json and
//! report.md are judged after each run.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

const WABA: &str = "102290129340398";
const RUN1: &str = "2026-11-10T02:00:00Z";
const RUN2: &str = "2026-11-25T00:00:00Z";

fn template(id: &str, name: &str, lang: &str, cat: &str, status: &str, extra: Value) -> Value {
    let mut t = json!({
        "id": id, "name": name, "language": lang, "status": status, "category": cat,
        "parameter_format": "POSITIONAL",
        "quality_score": {"score": "GREEN", "date": 1794000000},
        "components": [{"type": "BODY", "text": "Hola {{1}}, tu pago de {{2}} fue recibido.",
                        "example": {"body_text": [["Lucía", "$120"]]}}]
    });
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    t
}

fn envelope(time: i64, field: &str, value: Value) -> String {
    json!({"object": "whatsapp_business_account",
           "entry": [{"id": WABA, "time": time, "changes": [{"field": field, "value": value}]}]})
    .to_string()
}

fn write_export(dir: &Path, templates: Vec<Value>, events: &[String]) {
    std::fs::create_dir_all(dir).unwrap();
    let page =
        json!({"data": templates, "paging": {"cursors": {"before": "QVFIUk", "after": "QVFIUm"}}});
    std::fs::write(dir.join("message_templates.json"), page.to_string()).unwrap();
    std::fs::write(
        dir.join("waba.json"),
        json!({"id": WABA, "name": "Lumen Outfitters", "currency": "USD",
               "account_review_status": "APPROVED", "business_verification_status": "verified"})
        .to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("events.jsonl"), events.join("\n") + "\n").unwrap();
}

/// The first export (2026-11-10): Meta has announced that recibo_pago moves
/// to MARKETING on 2026-11-14.
fn export1(dir: &Path) {
    let impending = envelope(
        1_794_042_000,
        "template_category_update",
        json!({"message_template_id": 2586358980894622u64, "message_template_name": "recibo_pago",
               "message_template_language": "es_MX", "correct_category": "MARKETING",
               "category_update_timestamp": 1_794_614_400}),
    );
    write_export(
        dir,
        vec![
            template(
                "1001",
                "order_update",
                "en_US",
                "UTILITY",
                "APPROVED",
                json!({}),
            ),
            template(
                "2586358980894622",
                "recibo_pago",
                "es_MX",
                "UTILITY",
                "APPROVED",
                json!({}),
            ),
            template(
                "1003",
                "promo_semanal",
                "pt_BR",
                "MARKETING",
                "APPROVED",
                json!({}),
            ),
            template(
                "1004",
                "cart_nudge",
                "en_US",
                "UTILITY",
                "APPROVED",
                json!({}),
            ),
            template(
                "1005",
                "alter_hinweis",
                "de",
                "UTILITY",
                "APPROVED",
                json!({}),
            ),
        ],
        &[impending],
    );
}

/// The second export (2026-11-25): the move happened; cart_nudge was
/// recategorised too (only `previous_category` says so); promo_semanal was
/// paused twice; alter_hinweis was deleted.
fn export2(dir: &Path) {
    let mut events = Vec::new();
    events.push(envelope(
        1_794_042_000,
        "template_category_update",
        json!({"message_template_id": 2586358980894622u64, "message_template_name": "recibo_pago",
               "message_template_language": "es_MX", "correct_category": "MARKETING",
               "category_update_timestamp": 1_794_614_400}),
    ));
    events.push(envelope(
        1_794_614_700,
        "template_category_update",
        json!({"message_template_id": 2586358980894622u64, "message_template_name": "recibo_pago",
               "message_template_language": "es_MX", "previous_category": "UTILITY",
               "new_category": "MARKETING"}),
    ));
    for (time, event, title) in [
        (1_794_477_600, "PAUSED", Some("FIRST_PAUSE")),
        (1_794_488_400, "REINSTATED", None),
        (1_795_557_600, "PAUSED", Some("SECOND_PAUSE")),
    ] {
        let mut v = json!({"event": event, "message_template_id": 1003,
                           "message_template_name": "promo_semanal",
                           "message_template_language": "pt_BR", "reason": "NONE"});
        if let Some(t) = title {
            v["other_info"] = json!({"title": t, "description": "Paused because of low quality."});
        }
        events.push(envelope(time, "message_template_status_update", v));
    }
    write_export(
        dir,
        vec![
            template(
                "1001",
                "order_update",
                "en_US",
                "UTILITY",
                "APPROVED",
                json!({}),
            ),
            template(
                "2586358980894622",
                "recibo_pago",
                "es_MX",
                "MARKETING",
                "APPROVED",
                json!({"previous_category": "UTILITY"}),
            ),
            template(
                "1003",
                "promo_semanal",
                "pt_BR",
                "MARKETING",
                "PAUSED",
                json!({"quality_score": {"score": "RED", "date": 1795500000}}),
            ),
            template(
                "1004",
                "cart_nudge",
                "en_US",
                "MARKETING",
                "APPROVED",
                json!({"previous_category": "UTILITY"}),
            ),
        ],
        &events,
    );
}

/// 2,500 delivered recibo_pago sends to Mexico and 300 cart_nudge sends to
/// the US within 30 days of RUN2, plus rows that must not count: failed
/// sends, sends older than 30 days, other templates.
fn send_log(path: &Path) {
    let mut s =
        String::from("timestamp,phone_number_id,recipient,message_id,template,status,error_code\n");
    let base = 1_795_478_400; // 2026-11-24T00:00:00Z
    for i in 0..2500 {
        let status = ["delivered", "read", "sent"][i % 3];
        s.push_str(&format!(
            "{},106540352242922,+52155{:07},wamid.A{i},recibo_pago,{status},\n",
            base - (i as i64 % 25) * 86_400 + i as i64,
            1_000_000 + i
        ));
    }
    for i in 0..300 {
        s.push_str(&format!(
            "{},106540352242922,+1415555{:04},wamid.B{i},cart_nudge,delivered,\n",
            base - (i as i64 % 20) * 86_400,
            i
        ));
    }
    for i in 0..40 {
        // Failed: not charged.
        s.push_str(&format!(
            "{},106540352242922,+52155{:07},wamid.C{i},recibo_pago,failed,131049\n",
            base,
            2_000_000 + i
        ));
        // Older than 30 days.
        s.push_str(&format!(
            "2026-10-01T00:00:00Z,106540352242922,+52155{:07},wamid.D{i},recibo_pago,delivered,\n",
            3_000_000 + i
        ));
    }
    std::fs::write(path, s).unwrap();
}

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        export1(&dir.join("export1"));
        export2(&dir.join("export2"));
        send_log(&dir.join("send_log.csv"));
        Setup { _tmp: tmp, dir }
    }

    /// Writes config.toml auditing `export` (with the send log unless `no_log`).
    fn config(&self, export: &str, no_log: bool, extra: &str) -> PathBuf {
        let log = if no_log {
            String::new()
        } else {
            "send_log = \"send_log.csv\"\n".into()
        };
        let text = format!(
            "{extra}\n[reports]\ndir = \"reports\"\n\n[[accounts]]\nname = \"lumen\"\nexports = \"{export}\"\n{log}country = \"MX\"\n"
        );
        let p = self.dir.join("config.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn run(&self, export: &str, now: &str, no_log: bool, extra: &str) -> Value {
        let cfg = self.config(export, no_log, extra);
        let out = Command::cargo_bin("wabaguard")
            .unwrap()
            .env("WABAGUARD_NOW", now)
            .args(["run", "--quiet", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let latest = std::fs::read_to_string(self.dir.join("reports/latest")).unwrap();
        let p = self
            .dir
            .join("reports")
            .join(latest.trim())
            .join("report.json");
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }

    fn md(&self) -> String {
        let latest = std::fs::read_to_string(self.dir.join("reports/latest")).unwrap();
        std::fs::read_to_string(
            self.dir
                .join("reports")
                .join(latest.trim())
                .join("report.md"),
        )
        .unwrap()
    }

    fn register_file(&self) -> PathBuf {
        self.dir.join("reports/register-lumen.json")
    }
}

fn findings<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["accounts"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["accounts"][0]["template_register"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in the register"))
}

#[test]
fn two_runs_build_the_register_and_its_findings() {
    let s = Setup::new();
    // Run 1: the announced move is 3 days 22 hours away.
    let r1 = s.run("export1", RUN1, false, "");
    let imp = findings(&r1, "acct.event.category-impending");
    assert_eq!(imp.len(), 1);
    assert_eq!(imp[0]["severity"], "high");
    assert_eq!(imp[0]["details"]["days_left"], 3);
    assert_eq!(imp[0]["details"]["hours_left"], 94);
    let msg = imp[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("from UTILITY to MARKETING on 2026-11-14T00:00:00Z (3 days 22 hours left)"),
        "{msg}"
    );
    for rule in [
        "tpl.reg.recategorised-cost",
        "tpl.reg.review-deadline",
        "tpl.reg.paused-twice",
    ] {
        assert!(findings(&r1, rule).is_empty(), "{rule} in run 1");
    }
    let e = entry(&r1, "recibo_pago");
    assert_eq!(e["pending_category"]["correct_category"], "MARKETING");
    assert_eq!(
        e["pending_category"]["effective_at"],
        "2026-11-14T00:00:00Z"
    );
    assert!(s.register_file().is_file());

    // Run 2, a fortnight later.
    let r2 = s.run("export2", RUN2, false, "");
    assert!(findings(&r2, "acct.event.category-impending").is_empty());

    // (b) cost: 2,500 sends to MX × (0.0305 − 0.0085) = USD 55.00 a month.
    let cost = findings(&r2, "tpl.reg.recategorised-cost");
    let recibo = cost
        .iter()
        .find(|f| f["subject"]["name"] == "recibo_pago")
        .unwrap();
    assert_eq!(recibo["details"]["cost"], "estimated");
    assert_eq!(recibo["details"]["sends"], 2500);
    assert_eq!(recibo["details"]["monthly_delta"], 55.0);
    assert_eq!(recibo["details"]["currency"], "USD");
    assert_eq!(recibo["details"]["rate_card_from"], "2025-07-01");
    assert_eq!(recibo["severity"], "medium");
    let m = recibo["message"].as_str().unwrap();
    assert!(
        m.contains("from UTILITY to MARKETING on 2026-11-14: about +USD 55.00 a month"),
        "{m}"
    );
    assert!(m.contains("2500 to MX × +USD 0.02 per message"), "{m}");
    // cart_nudge: 300 sends to US × (0.025 − 0.004) = 6.30: low.
    let cart = cost
        .iter()
        .find(|f| f["subject"]["name"] == "cart_nudge")
        .unwrap();
    assert_eq!(cart["details"]["monthly_delta"], 6.3);
    assert_eq!(cart["severity"], "low");
    assert_eq!(
        cost.len(),
        2,
        "order_update and promo_semanal were not recategorised"
    );

    // (c) deadlines: 60 days from the change.
    let dl = findings(&r2, "tpl.reg.review-deadline");
    let recibo = dl
        .iter()
        .find(|f| f["subject"]["name"] == "recibo_pago")
        .unwrap();
    assert_eq!(recibo["details"]["deadline"], "2027-01-13");
    assert_eq!(recibo["details"]["days_left"], 49);
    assert_eq!(recibo["severity"], "low");
    // cart_nudge changed between the runs: counted from the first run.
    let cart = dl
        .iter()
        .find(|f| f["subject"]["name"] == "cart_nudge")
        .unwrap();
    assert_eq!(cart["details"]["deadline"], "2027-01-09");

    // (d) promo_semanal: FIRST_PAUSE and SECOND_PAUSE.
    let p = findings(&r2, "tpl.reg.paused-twice");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["subject"]["name"], "promo_semanal");
    assert_eq!(p[0]["severity"], "high");
    assert_eq!(p[0]["details"]["pauses"], 2);
    assert!(
        p[0]["message"]
            .as_str()
            .unwrap()
            .contains("paused 2 times (2026-11-12, 2026-11-24): one more pause disables it")
    );

    // The register in report.json and on disk.
    let e = entry(&r2, "recibo_pago");
    assert_eq!(e["category"], "MARKETING");
    assert!(e.get("pending_category").is_none());
    let ch = &e["category_changes"][0];
    assert_eq!(ch["from"], "UTILITY");
    assert_eq!(ch["to"], "MARKETING");
    assert_eq!(ch["at"], "2026-11-14T00:05:00Z");
    assert_eq!(ch["dating"], "exact");
    assert_eq!(
        ch["sources"],
        json!(["event", "previous_category", "snapshot_diff"])
    );
    assert_eq!(e["category_changes"].as_array().unwrap().len(), 1);
    assert_eq!(e["first_seen"], RUN1);
    assert_eq!(e["last_seen"], RUN2);
    let cart = entry(&r2, "cart_nudge");
    assert_eq!(cart["category_changes"][0]["dating"], "between_runs");
    assert_eq!(cart["category_changes"][0]["at"], RUN1);
    assert_eq!(
        cart["category_changes"][0]["sources"],
        json!(["previous_category", "snapshot_diff"])
    );
    let gone = entry(&r2, "alter_hinweis");
    assert_eq!(gone["present"], false);
    assert_eq!(gone["last_seen"], RUN1);
    assert_eq!(entry(&r2, "promo_semanal")["pauses"], 2);
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(s.register_file()).unwrap()).unwrap();
    assert_eq!(on_disk, r2["accounts"][0]["template_register"]);

    // report.md: the Templates section after the findings, without phone numbers.
    let md = s.md();
    let t = md.find("### Templates").expect("Templates section");
    assert!(t > md.find("### Findings").unwrap());
    assert!(md.contains(
        "| recibo\\_pago | es\\_MX | MARKETING (UTILITY → MARKETING 2026-11-14) | APPROVED | GREEN | 2026-11-10 | 2026-11-25 | 0 |"
    ));
    assert!(md.contains(
        "| cart\\_nudge | en\\_US | MARKETING (UTILITY → MARKETING ~2026-11-10) | APPROVED | GREEN | 2026-11-10 | 2026-11-25 | 0 |"
    ));
    assert!(md.contains(
        "| promo\\_semanal | pt\\_BR | MARKETING | PAUSED | RED | 2026-11-10 | 2026-11-25 | 2 |"
    ));
    assert!(md.contains("| alter\\_hinweis | de | UTILITY | APPROVED (no longer listed) |"));
    let register_text = std::fs::read_to_string(s.register_file()).unwrap();
    for text in [&md, &register_text] {
        assert!(!text.contains("+52155"), "recipient numbers leaked");
        assert!(!text.contains("1415555"), "recipient numbers leaked");
    }

    // A third run on the same export changes nothing in the history of changes.
    let r3 = s.run("export2", "2026-11-26T00:00:00Z", false, "");
    assert_eq!(
        entry(&r3, "recibo_pago")["category_changes"],
        entry(&r2, "recibo_pago")["category_changes"]
    );
    assert_eq!(entry(&r3, "promo_semanal")["pauses"], 2);
}

#[test]
fn without_a_send_log_the_cost_is_unknown_not_a_crash() {
    let s = Setup::new();
    let r = s.run("export2", RUN2, true, "");
    let cost = findings(&r, "tpl.reg.recategorised-cost");
    assert_eq!(cost.len(), 2);
    for f in cost {
        assert_eq!(f["details"]["cost"], "unknown");
        assert_eq!(f["severity"], "low");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains("cost impact unknown: no send log is configured"),
            "{}",
            f["message"]
        );
    }
    // A send log without a template column says so.
    std::fs::write(
        s.dir.join("send_log.csv"),
        "timestamp,phone_number_id,status,error_code\n2026-11-24T10:00:00Z,106540352242922,delivered,\n",
    )
    .unwrap();
    let r = s.run("export2", RUN2, false, "");
    let f = &findings(&r, "tpl.reg.recategorised-cost")[0];
    assert_eq!(f["details"]["cost"], "unknown");
    assert!(
        f["details"]["cost_unknown_reason"]
            .as_str()
            .unwrap()
            .contains("has no template column")
    );
}

#[test]
fn the_rate_card_in_force_on_the_day_of_the_change_is_used() {
    let s = Setup::new();
    let rates = s.dir.join("rates");
    std::fs::create_dir_all(&rates).unwrap();
    let card = |from: &str, mx: f64| {
        format!(
            "[card]\nname = \"ours\"\neffective_from = {from}\ncurrency = \"USD\"\n[rates]\nMX = {{ marketing = {mx}, utility = 0.01, authentication = 0.02 }}\n\"*\" = {{ marketing = 0.05, utility = 0.01, authentication = 0.03 }}\n"
        )
    };
    // In force on 2026-11-14 (the change) …
    std::fs::write(rates.join("2026-11.toml"), card("2026-11-01", 0.03)).unwrap();
    // … and one that starts after it: not used.
    std::fs::write(rates.join("2026-11-20.toml"), card("2026-11-20", 0.51)).unwrap();
    let r = s.run(
        "export2",
        RUN2,
        false,
        "[templates]\nrates_dir = \"rates\"\n",
    );
    let f = findings(&r, "tpl.reg.recategorised-cost")
        .into_iter()
        .find(|f| f["subject"]["name"] == "recibo_pago")
        .unwrap();
    assert_eq!(f["details"]["rate_card_from"], "2026-11-01");
    // 2,500 × (0.03 − 0.01) = 50.00: medium.
    assert_eq!(f["details"]["monthly_delta"], 50.0);
    assert!(
        f["details"]["rate_card"]
            .as_str()
            .unwrap()
            .ends_with("2026-11.toml")
    );

    // A broken card is a config error naming the file and the key.
    std::fs::write(rates.join("bad.toml"), card("2026-12-01", -1.0)).unwrap();
    let cfg = s.config("export2", false, "[templates]\nrates_dir = \"rates\"\n");
    let out = Command::cargo_bin("wabaguard")
        .unwrap()
        .env("WABAGUARD_NOW", RUN2)
        .args(["run", "--quiet", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("templates.rates_dir")
            && err.contains("bad.toml")
            && err.contains("rates.MX.marketing"),
        "{err}"
    );
}

#[test]
fn the_review_deadline_escalates_as_it_nears() {
    let s = Setup::new();
    // A 15-day window: 2026-11-14 + 15 = 2026-11-29, 4 days after RUN2.
    let r = s.run(
        "export2",
        RUN2,
        false,
        "[templates]\nreview_window_days = 15\n",
    );
    let f = findings(&r, "tpl.reg.review-deadline")
        .into_iter()
        .find(|f| f["subject"]["name"] == "recibo_pago")
        .unwrap();
    assert_eq!(f["severity"], "high");
    assert_eq!(f["details"]["deadline"], "2026-11-29");
    let m = f["message"].as_str().unwrap();
    assert!(
        m.contains("by 2026-11-29 (4 days left; the window is 15 days"),
        "{m}"
    );
    // 30 days: 2026-12-14, 19 days left: medium.
    let r = s.run(
        "export2",
        RUN2,
        false,
        "[templates]\nreview_window_days = 30\n",
    );
    let f = findings(&r, "tpl.reg.review-deadline")
        .into_iter()
        .find(|f| f["subject"]["name"] == "recibo_pago")
        .unwrap();
    assert_eq!(f["severity"], "medium");
    // 10 days: closed on 2026-11-24: no finding.
    let r = s.run(
        "export2",
        RUN2,
        false,
        "[templates]\nreview_window_days = 10\n",
    );
    assert!(
        findings(&r, "tpl.reg.review-deadline")
            .iter()
            .all(|f| f["subject"]["name"] != "recibo_pago")
    );
}

#[test]
fn a_corrupt_register_is_kept_aside_and_named() {
    let s = Setup::new();
    s.run("export1", RUN1, false, "");
    let p = s.register_file();
    std::fs::write(&p, "{\"version\": 1, \"account\": \"lumen\", \"templ").unwrap();
    let r = s.run("export2", RUN2, false, "");
    let notes = r["accounts"][0]["notes"].to_string();
    assert!(notes.contains("register-lumen.json"), "{notes}");
    assert!(notes.contains("not a template register"), "{notes}");
    // The broken file is kept beside the new one, byte for byte.
    let aside: Vec<PathBuf> = std::fs::read_dir(p.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|x| x.to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read_to_string(&aside[0]).unwrap(),
        "{\"version\": 1, \"account\": \"lumen\", \"templ"
    );
    // The new register starts afresh from this run and is valid.
    let reg: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    assert_eq!(reg["account"], "lumen");
    let recibo = reg["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "recibo_pago")
        .unwrap();
    assert_eq!(recibo["first_seen"], RUN2);
    // The webhook still dates the change.
    assert_eq!(recibo["category_changes"][0]["at"], "2026-11-14T00:05:00Z");
}
