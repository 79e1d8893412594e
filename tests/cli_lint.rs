//! `wabaguard lint-templates`: shapes, output formats, exit codes, bad input.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/templates")
        .join(name)
}

fn wabaguard() -> Command {
    Command::cargo_bin("wabaguard").unwrap()
}

fn lint_json(files: &[PathBuf]) -> Value {
    let out = wabaguard()
        .arg("lint-templates")
        .args(["--format", "json"])
        .args(files)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn page_shape_is_linted_and_promo_in_utility_is_flagged() {
    let v = lint_json(&[fixture("page_two_templates.json")]);
    assert_eq!(v["templates"], 2);
    let findings = v["findings"].as_array().unwrap();
    let cat: Vec<&Value> = findings
        .iter()
        .filter(|f| f["check"] == "template.category_mismatch")
        .collect();
    assert_eq!(cat.len(), 1, "{findings:#?}");
    let f = cat[0];
    assert_eq!(f["subject"]["name"], "order_shipped_promo");
    assert_eq!(f["subject"]["language"], "en_US");
    assert_eq!(f["subject"]["kind"], "template");
    assert_eq!(f["details"]["suggested_category"], "MARKETING");
    assert_eq!(f["severity"], "high");
    assert!(f["evidence"].as_str().unwrap().len() > 3);
    assert_eq!(f["fingerprint"].as_str().unwrap().len(), 16);
    assert!(!f["remediation"].as_str().unwrap().is_empty());
    // The clean shipping notice has no finding at all.
    assert!(
        findings
            .iter()
            .all(|f| f["subject"]["name"] != "order_shipped")
    );
}

#[test]
fn single_template_object_and_bare_array_are_accepted() {
    let v = lint_json(&[
        fixture("single_auth_template.json"),
        fixture("bare_array_odd_values.json"),
    ]);
    assert_eq!(v["templates"], 4);
    let findings = v["findings"].as_array().unwrap();
    // Meta's generated authentication template is clean.
    assert!(
        findings
            .iter()
            .all(|f| f["subject"]["name"] != "login_code"),
        "{findings:#?}"
    );
    let rules: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| {
            (
                f["subject"]["name"].as_str().unwrap(),
                f["rule"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        rules.contains(&("no_components", "tpl.hyg.missing-body")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("future_category", "tpl.hyg.unknown-category")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("future_category", "tpl.meta.unknown-value")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("paused_one", "tpl.meta.paused")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("paused_one", "tpl.meta.quality-red")),
        "{rules:?}"
    );
    let paused = findings
        .iter()
        .find(|f| f["rule"] == "tpl.meta.paused")
        .unwrap();
    assert_eq!(paused["origin"], "meta");
}

#[test]
fn output_is_deterministic() {
    let a = wabaguard()
        .args(["lint-templates", "--format", "json"])
        .arg(fixture("page_two_templates.json"))
        .arg(fixture("bare_array_odd_values.json"))
        .output()
        .unwrap();
    let b = wabaguard()
        .args(["lint-templates", "--format", "json"])
        .arg(fixture("page_two_templates.json"))
        .arg(fixture("bare_array_odd_values.json"))
        .output()
        .unwrap();
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn fail_on_sets_exit_code_one() {
    wabaguard()
        .args(["lint-templates", "--fail-on", "high"])
        .arg(fixture("page_two_templates.json"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("order_shipped_promo"));
    wabaguard()
        .args(["lint-templates", "--fail-on", "critical"])
        .arg(fixture("page_two_templates.json"))
        .assert()
        .code(0);
}

#[test]
fn text_and_markdown_formats_render() {
    wabaguard()
        .args(["lint-templates"])
        .arg(fixture("page_two_templates.json"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("template.category_mismatch"))
        .stdout(predicate::str::contains("2 templates in 1 file"));
    wabaguard()
        .args(["lint-templates", "--format", "md"])
        .arg(fixture("page_two_templates.json"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "## order\\_shipped\\_promo (en\\_US) — UTILITY",
        ));
}

#[test]
fn broken_json_names_file_line_and_column() {
    wabaguard()
        .arg("lint-templates")
        .arg(fixture("broken_json.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "broken_json.json: invalid JSON at line 3, column 26",
        ));
}

#[test]
fn empty_file_is_a_clear_error() {
    wabaguard()
        .arg("lint-templates")
        .arg(fixture("empty.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("empty.json: file is empty"));
}

#[test]
fn non_utf8_is_located() {
    wabaguard()
        .arg("lint-templates")
        .arg(fixture("non_utf8.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "non_utf8.json: not valid UTF-8 at line 1, column 15",
        ));
}

#[test]
fn missing_file_is_exit_two() {
    wabaguard()
        .args(["lint-templates", "/nonexistent/templates.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "/nonexistent/templates.json: cannot read",
        ));
}

#[test]
fn ten_megabyte_body_gives_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let body = "Your order has shipped. ".repeat(10 * 1024 * 1024 / 24);
    let t = serde_json::json!([{"name": "huge", "language": "en_US", "category": "UTILITY",
        "components": [{"type": "BODY", "text": body}]}]);
    let p = dir.path().join("huge.json");
    std::fs::write(&p, t.to_string()).unwrap();
    let v = lint_json(&[p]);
    assert_eq!(v["templates"], 1);
    let f = v["findings"].as_array().unwrap();
    assert!(f.iter().any(|f| f["rule"] == "tpl.hyg.length"), "{f:?}");
}

#[test]
fn a_million_templates_give_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("million.json");
    let mut s = String::with_capacity(80 * 1_000_000);
    s.push('[');
    for i in 0..1_000_000 {
        if i > 0 {
            s.push(',');
        }
        s.push_str(r#"{"name":"t","language":"en_US","category":"MARKETING","components":[{"type":"BODY","text":"Hello there"}]}"#);
    }
    s.push(']');
    std::fs::write(&p, s).unwrap();
    let v = lint_json(&[p]);
    assert_eq!(v["templates"], 1_000_000);
}

#[test]
fn rules_dir_with_a_broken_regex_names_file_rule_and_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        r#"language = "en"
[[rule]]
id = "custom.bad"
family = "template.restricted_content"
severity = "high"
signal = "restricted"
title = "Bad"
description = "d"
remediation = "r"
[[match]]
rule = "custom.bad"
patterns = ['unclosed(']
examples.positive = ["x"]
examples.negative = ["y"]
"#,
    )
    .unwrap();
    wabaguard()
        .args(["lint-templates", "--rules"])
        .arg(dir.path())
        .arg(fixture("page_two_templates.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.toml"))
        .stderr(predicate::str::contains("custom.bad"))
        .stderr(predicate::str::contains("unclosed group"));
}

#[test]
fn an_otp_that_describes_a_transaction_goes_beyond_the_preset() {
    let v = lint_json(&[fixture("auth_beyond_preset.json")]);
    assert_eq!(v["templates"], 4);
    let mut extra: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "tpl.auth.extra-text")
        .map(|f| f["subject"]["name"].as_str().unwrap())
        .collect();
    extra.sort_unstable();
    // The withdrawal and the salary-advance disbursement are described in
    // the body; the two preset texts are not flagged.
    assert_eq!(extra, ["codigo_adelanto", "withdrawal_code"], "{v:#}");
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "tpl.auth.extra-text" && f["subject"]["name"] == "withdrawal_code")
        .unwrap();
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("describes more than the code"),
        "{f:#}"
    );
}

/// A sentence an OTP message adds to Meta's preset is scored on its own: an
/// upsell no phrase pattern knows is still MARKETING, while help lines,
/// "not you?" and thanks are not (help lines are still extra text).
#[test]
fn an_otp_with_an_upsell_sentence_is_marketing() {
    let v = lint_json(&[fixture("auth_upsell.json")]);
    assert_eq!(v["templates"], 8);
    let findings = v["findings"].as_array().unwrap();
    let named = |rule_family: &str| -> Vec<&str> {
        let mut names: Vec<&str> = findings
            .iter()
            .filter(|f| f["check"] == rule_family || f["rule"] == rule_family)
            .map(|f| f["subject"]["name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        names
    };
    let promo = [
        "code_winterkollektion",
        "codice_accesso_premium",
        "kode_masuk_cashback",
        "login_code_box_upsell",
    ];
    assert_eq!(named("template.category_mismatch"), promo, "{v:#}");
    // Help lines are not promotional, but they are still more than Meta's
    // preset text; thanks and the preset itself are left alone.
    let mut extra = promo.to_vec();
    extra.extend(["code_hilfe", "codigo_suporte"]);
    extra.sort_unstable();
    assert_eq!(named("tpl.auth.extra-text"), extra, "{v:#}");
    for (name, line) in [
        ("code_hilfe", "Probleme beim Anmelden?"),
        ("codigo_suporte", "Fale com o suporte"),
    ] {
        let f = findings
            .iter()
            .find(|f| f["subject"]["name"] == name)
            .unwrap();
        assert_eq!(
            f["message"],
            format!(
                "AUTHENTICATION body goes beyond Meta's preset text: a support line (\"{line}\")"
            ),
            "{f:#}"
        );
    }
    for f in findings
        .iter()
        .filter(|f| f["check"] == "template.category_mismatch")
    {
        assert_eq!(f["details"]["suggested_category"], "MARKETING", "{f:#}");
    }
    // The Italian upsell matches no pattern: the model quotes its sentence.
    let m = findings
        .iter()
        .find(|f| f["subject"]["name"] == "codice_accesso_premium" && f["rule"] == "tpl.mkt.model")
        .unwrap();
    assert_eq!(
        m["evidence"],
        "Sblocca il profilo Premium oggi e scopri chi ha visitato la tua pagina!"
    );
    assert!(
        m["details"]["model_score"].as_f64().unwrap() >= 20.0,
        "{m:#}"
    );
}

#[test]
fn findings_follow_input_order_across_languages_and_batches() {
    // Languages and categories interleaved over several worker batches: the
    // workers lint a language at a time, the output keeps the input order.
    let bodies = [
        (
            "en_US",
            "Your order has shipped. Use code SAVE20 for 20% off your next order!",
        ),
        (
            "es",
            "Tu pedido fue enviado. ¡Usa el código AHORRA20 y obtén un 20% de descuento en tu próxima compra!",
        ),
        (
            "pt_BR",
            "Seu pedido foi enviado. Use o cupom ECONOMIZE20 e ganhe 20% de desconto na próxima compra!",
        ),
        (
            "de",
            "Deine Bestellung ist unterwegs. Mit dem Code SPAR20 bekommst du 20% Rabatt auf deine nächste Bestellung!",
        ),
    ];
    let n = 5000;
    let templates: Vec<Value> = (0..n)
        .map(|i| {
            let (language, text) = bodies[(i * 7 + i / 3) % bodies.len()];
            // Every third one is MARKETING: no mismatch to report.
            let category = if i % 3 == 0 { "MARKETING" } else { "UTILITY" };
            serde_json::json!({"name": format!("t{i}"), "language": language, "category": category,
                "components": [{"type": "BODY", "text": text}]})
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mixed.json");
    std::fs::write(&p, serde_json::to_vec(&templates).unwrap()).unwrap();
    let v = lint_json(&[p]);
    let mismatched: Vec<usize> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "template.category_mismatch")
        .map(|f| f["subject"]["name"].as_str().unwrap()[1..].parse().unwrap())
        .collect();
    let expected: Vec<usize> = (0..n).filter(|i| i % 3 != 0).collect();
    assert_eq!(mismatched, expected);
}

/// What an OTP adds to Meta's preset: a support line or phone number is
/// extra text (not marketing); a line naming a restricted product on the
/// app's menu is an advert (MARKETING); one that says what the code confirms
/// is only extra text. Gambling promotions ("odds turbinadas") make a
/// settlement notice MARKETING; "in the last few days" is no sales urgency.
#[test]
fn what_an_otp_adds_and_gambling_promotions() {
    let v = lint_json(&[fixture("auth_extra_lines.json")]);
    assert_eq!(v["templates"], 6);
    let findings = v["findings"].as_array().unwrap();
    let of = |name: &str| -> Vec<(String, String)> {
        findings
            .iter()
            .filter(|f| f["subject"]["name"] == name)
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_owned(),
                    f["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let rules = |name: &str| -> Vec<String> { of(name).into_iter().map(|(r, _)| r).collect() };
    let message = |name: &str, rule: &str| -> String {
        of(name)
            .into_iter()
            .find(|(r, _)| r == rule)
            .map(|(_, m)| m)
            .unwrap_or_default()
    };
    assert_eq!(
        rules("codigo_cardapio"),
        ["tpl.res.drugs", "tpl.auth.extra-text", "tpl.mkt.model"],
        "{v:#}"
    );
    assert_eq!(
        rules("codice_prelievo_wallet"),
        ["tpl.auth.extra-text", "tpl.res.crypto"],
        "{v:#}"
    );
    assert!(
        message("codice_prelievo_wallet", "tpl.auth.extra-text")
            .contains("describes more than the code")
    );
    assert_eq!(
        message("login_code_helpline", "tpl.auth.extra-text"),
        "AUTHENTICATION body goes beyond Meta's preset text: a support line (\"0345 600 7890\")"
    );
    assert_eq!(rules("login_code_helpline"), ["tpl.auth.extra-text"]);
    assert_eq!(
        message("kode_masuk_cs", "tpl.auth.extra-text"),
        "AUTHENTICATION body goes beyond Meta's preset text: a support line (\"Hubungi\")"
    );
    assert_eq!(rules("kode_masuk_cs"), ["tpl.auth.extra-text"]);
    assert_eq!(
        rules("aposta_liquidada"),
        ["tpl.mkt.free-offer", "tpl.res.gambling"],
        "{v:#}"
    );
    assert!(rules("cita_vacuna_gripe").is_empty(), "{v:#}");
}
