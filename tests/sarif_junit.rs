//! `--format sarif` and `--format junit` of `lint-templates`, `run` and
//! `gate`: every SARIF document validates against the official SARIF 2.1.0
//! JSON schema (tests/fixtures/sarif/sarif-schema-2.1.0.json), carries the
//! rule pack's documentation, levels, fingerprints, logical and physical
//! locations and suppressions; every JUnit document parses as XML with the
//! expected suites, cases, failures and skips; exit codes do not depend on
//! the format.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ops::{account, bin, config, demo_copy, read_json, root, run_at};
use serde_json::Value;

const HOSTILE: &str = "tests/fixtures/sarif/templates dir/hostile_names.json";
const DEMO_TEMPLATES: &str = "examples/demo/message_templates.json";

fn wabaguard(args: &[&str], now: &str) -> (i32, String, String) {
    let out = Command::new(bin())
        .current_dir(root())
        .args(args)
        .env("WABAGUARD_NOW", now)
        .env_remove("WABAGUARD_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Validates `doc` against the official schema, with formats (uri,
/// uri-reference, date-time) checked too.
fn assert_valid_sarif(doc: &Value) {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/fixtures/sarif/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let v = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not valid SARIF 2.1.0:\n{}",
        errors.join("\n")
    );
    // The validator is not vacuous: a broken document fails it.
    let mut broken = doc.clone();
    broken["runs"][0]["results"] = serde_json::json!([{"ruleId": "x", "level": "fatal"}]);
    assert!(
        !v.is_valid(&broken),
        "the schema must reject a bad level and a missing message"
    );
}

fn results(doc: &Value) -> &Vec<Value> {
    doc["runs"][0]["results"].as_array().unwrap()
}

fn rule<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no rule {id}"))
}

#[test]
fn lint_sarif_validates_and_locates_templates_in_their_files() {
    let (code, out, err) = wabaguard(
        &[
            "lint-templates",
            "--format",
            "sarif",
            HOSTILE,
            DEMO_TEMPLATES,
        ],
        "2026-11-25T00:00:00Z",
    );
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    assert_valid_sarif(&doc);
    assert_eq!(doc["version"], "2.1.0");
    let driver = &doc["runs"][0]["tool"]["driver"];
    assert_eq!(driver["name"], "wabaguard");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    // Rules carry the pack's documentation and severity.
    let discount = rule(&doc, "tpl.mkt.discount");
    assert!(
        !discount["shortDescription"]["text"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert!(discount["fullDescription"]["text"].as_str().unwrap().len() > 20);
    assert!(
        discount["help"]["text"]
            .as_str()
            .unwrap()
            .contains("MARKETING template"),
        "help is the remediation: {discount}"
    );
    assert_eq!(discount["defaultConfiguration"]["level"], "error");

    let rs = results(&doc);
    // The hostile template's finding, in its own file.
    let r = rs
        .iter()
        .find(|r| {
            r["ruleId"] == "tpl.mkt.discount"
                && r["properties"]["subject"]
                    .as_str()
                    .unwrap()
                    .contains("promo <&")
        })
        .expect("the discount finding of the hostile template");
    assert_eq!(r["level"], "error");
    let loc = &r["locations"][0];
    assert_eq!(
        loc["physicalLocation"]["artifactLocation"]["uri"],
        "tests/fixtures/sarif/templates%20dir/hostile_names.json"
    );
    assert_eq!(loc["logicalLocations"][0]["kind"], "object");
    assert_eq!(
        loc["logicalLocations"][0]["name"],
        "promo <&\"'> ]]> \u{1} (en_US)"
    );
    let fp = r["partialFingerprints"]["wabaguardFingerprint/v1"]
        .as_str()
        .unwrap();
    assert_eq!(fp.len(), 16);
    // Every result points at its rule and the file it came from.
    let rules = driver["rules"].as_array().unwrap();
    for r in rs {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(
            uri == "examples/demo/message_templates.json" || uri.ends_with("hostile_names.json"),
            "{uri}"
        );
        let level = r["level"].as_str().unwrap();
        let sev = r["properties"]["severity"].as_str().unwrap();
        let want = match sev {
            "critical" | "high" => "error",
            "medium" => "warning",
            _ => "note",
        };
        assert_eq!(level, want, "{r}");
    }
    // The same findings as the JSON format, and stable across runs.
    let (_, json, _) = wabaguard(
        &[
            "lint-templates",
            "--format",
            "json",
            HOSTILE,
            DEMO_TEMPLATES,
        ],
        "2026-11-25T00:00:00Z",
    );
    let json: Value = serde_json::from_str(&json).unwrap();
    let mut a: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fingerprint"].as_str().unwrap())
        .collect();
    let mut b: Vec<&str> = rs
        .iter()
        .map(|r| {
            r["partialFingerprints"]["wabaguardFingerprint/v1"]
                .as_str()
                .unwrap()
        })
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert!(rs.len() > 15, "{}", rs.len());
}

#[test]
fn lint_exit_codes_do_not_depend_on_the_format() {
    for format in ["text", "json", "md", "sarif", "junit"] {
        let (code, _, err) = wabaguard(
            &[
                "lint-templates",
                "--format",
                format,
                "--fail-on",
                "high",
                HOSTILE,
            ],
            "2026-11-25T00:00:00Z",
        );
        assert_eq!(code, 1, "{format}: {err}");
        let (code, _, err) = wabaguard(
            &[
                "lint-templates",
                "--format",
                format,
                "--fail-on",
                "critical",
                HOSTILE,
            ],
            "2026-11-25T00:00:00Z",
        );
        assert_eq!(code, 0, "{format}: {err}");
        let (code, _, _) = wabaguard(
            &[
                "lint-templates",
                "--format",
                format,
                "tests/fixtures/templates/broken_json.json",
            ],
            "2026-11-25T00:00:00Z",
        );
        assert_eq!(code, 2, "{format}");
    }
}

struct Case {
    name: String,
    failure: Option<String>,
    skipped: Option<String>,
}

/// Parses a JUnit document: (suite name, cases) per suite, checking the
/// counts the suites declare.
fn parse_junit(xml: &str) -> Vec<(String, Vec<Case>)> {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let mut suites = Vec::new();
    let mut total = 0;
    for s in root.children().filter(|n| n.has_tag_name("testsuite")) {
        let cases: Vec<Case> = s
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .map(|c| Case {
                name: c.attribute("name").unwrap().to_owned(),
                failure: c.children().find(|n| n.has_tag_name("failure")).map(|f| {
                    f.attribute("message").unwrap().to_owned() + "\n" + f.text().unwrap_or("")
                }),
                skipped: c
                    .children()
                    .find(|n| n.has_tag_name("skipped"))
                    .map(|f| f.attribute("message").unwrap().to_owned()),
            })
            .collect();
        let attr = |k: &str| s.attribute(k).unwrap().parse::<usize>().unwrap();
        assert_eq!(attr("tests"), cases.len());
        assert_eq!(
            attr("failures"),
            cases.iter().filter(|c| c.failure.is_some()).count()
        );
        assert_eq!(
            attr("skipped"),
            cases.iter().filter(|c| c.skipped.is_some()).count()
        );
        total += cases.len();
        suites.push((s.attribute("name").unwrap().to_owned(), cases));
    }
    assert_eq!(
        root.attribute("tests").unwrap().parse::<usize>().unwrap(),
        total
    );
    suites
}

#[test]
fn lint_junit_is_well_formed_with_one_case_per_template_and_the_threshold() {
    let (code, out, err) = wabaguard(
        &[
            "lint-templates",
            "--format",
            "junit",
            HOSTILE,
            DEMO_TEMPLATES,
        ],
        "2026-11-25T00:00:00Z",
    );
    assert_eq!(code, 0, "{err}");
    let suites = parse_junit(&out);
    assert_eq!(suites.len(), 2);
    assert_eq!(suites[0].0, HOSTILE);
    assert_eq!(suites[1].1.len(), 40, "one case per template of the demo");
    let hostile = &suites[0].1;
    // The name survives escaping; XML-forbidden characters become U+FFFD.
    assert_eq!(hostile[0].name, "promo <&\"'> ]]> \u{FFFD} (en_US)");
    let f = hostile[0]
        .failure
        .as_deref()
        .expect("a high finding fails at medium");
    assert!(f.contains("tpl.mkt.discount") && f.contains("fix:"), "{f}");
    assert_eq!(hostile[1].name, "order_shipped (en_US)");
    assert!(hostile[1].failure.is_none());
    // Default threshold medium; --fail-on critical passes high findings.
    let failing_default: usize = suites
        .iter()
        .flat_map(|s| &s.1)
        .filter(|c| c.failure.is_some())
        .count();
    let (_, out, _) = wabaguard(
        &[
            "lint-templates",
            "--format",
            "junit",
            "--fail-on",
            "critical",
            HOSTILE,
            DEMO_TEMPLATES,
        ],
        "2026-11-25T00:00:00Z",
    );
    let suites = parse_junit(&out);
    let failing_critical: usize = suites
        .iter()
        .flat_map(|s| &s.1)
        .filter(|c| c.failure.is_some())
        .count();
    assert!(
        failing_default > failing_critical,
        "{failing_default} vs {failing_critical}"
    );
    assert!(failing_critical >= 1, "the tobacco template is critical");
    assert!(suites[0].1[0].failure.is_none(), "high is below critical");
}

fn setup_run(d: &Path) -> (PathBuf, PathBuf) {
    let exports = demo_copy(d);
    let cfg = config(
        d,
        "casa-verde",
        &exports,
        "[reports]\ndir = \"reports\"\n[suppressions]\nfile = \"suppressions.toml\"",
    );
    (cfg, d.join("reports"))
}

#[test]
fn run_sarif_is_written_to_the_run_folder_with_suppressions_and_triage() {
    let d = tempfile::tempdir().unwrap();
    let (cfg, reports) = setup_run(d.path());
    std::fs::write(d.path().join("suppressions.toml"), "").unwrap();
    let (code, _, err) = run_at(&cfg, "2026-11-25T02:00:00Z", &[]);
    assert_eq!(code, 0, "{err}");
    let first = read_json(&reports.join("20261125T020000Z/report.json"));
    let a = account(&first, "casa-verde");
    let fp = |rule: &str| {
        a["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap()["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (tobacco, alcohol) = (fp("tpl.res.tobacco"), fp("tpl.res.alcohol"));
    std::fs::write(
        d.path().join("suppressions.toml"),
        format!("[[suppress]]\nfingerprint = \"{tobacco}\"\nreason = \"gardening kit (COMP-7)\"\nexpires = 2027-01-31\n"),
    )
    .unwrap();
    std::fs::write(
        d.path().join("triage.toml"),
        format!("[[triage]]\nfingerprint = \"{alcohol}\"\nstate = \"false_positive\"\nreason = \"cheese, not wine\"\n"),
    )
    .unwrap();

    let (code, out, err) = run_at(
        &cfg,
        "2026-11-26T02:00:00Z",
        &["--format", "sarif", "--fail-on", "critical"],
    );
    assert_eq!(code, 0, "the critical finding is suppressed: {err}");
    let doc: Value = serde_json::from_str(&out).expect("stdout is the SARIF document");
    assert_valid_sarif(&doc);
    let written = reports.join("20261126T020000Z/report.sarif");
    assert_eq!(
        read_json(&written),
        doc,
        "the same document is in the run folder"
    );
    assert!(err.contains("report.sarif"), "{err}");
    let report = read_json(&reports.join("20261126T020000Z/report.json"));
    let findings = account(&report, "casa-verde")["findings"]
        .as_array()
        .unwrap();
    assert_eq!(
        results(&doc).len(),
        findings.len(),
        "suppressed findings are kept"
    );
    let by_fp = |fp: &str| {
        results(&doc)
            .iter()
            .find(|r| r["partialFingerprints"]["wabaguardFingerprint/v1"] == fp)
            .unwrap()
    };
    let t = by_fp(&tobacco);
    assert_eq!(t["suppressions"][0]["kind"], "external");
    assert_eq!(t["suppressions"][0]["status"], "accepted");
    assert!(
        t["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("gardening kit (COMP-7) (until 2027-01-31)")
    );
    assert_eq!(t["level"], "error");
    let al = by_fp(&alcohol);
    assert!(
        al["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("false_positive: cheese, not wine")
    );
    assert_eq!(al["properties"]["triage"]["state"], "false_positive");
    // Templates are logical locations inside the account; the config is the file.
    let loc = &t["locations"][0];
    assert_eq!(loc["logicalLocations"][0]["name"], "promo_starter_kit (id)");
    assert_eq!(
        loc["logicalLocations"][0]["fullyQualifiedName"],
        "casa-verde/template:promo_starter_kit:id"
    );
    assert_eq!(loc["logicalLocations"][1]["name"], "casa-verde");
    assert_eq!(loc["logicalLocations"][1]["kind"], "module");
    assert!(
        loc["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/config.toml")
    );
    let unsuppressed = results(&doc)
        .iter()
        .filter(|r| r.get("suppressions").is_none())
        .count();
    assert_eq!(unsuppressed, findings.len() - 2);

    // JUnit of the same run: suppressed → skipped; exit code as with text.
    let (code, out, err) = run_at(
        &cfg,
        "2026-11-26T03:00:00Z",
        &["--format", "junit", "--fail-on", "critical"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(reports.join("20261126T030000Z/report.junit.xml")).unwrap(),
        out
    );
    let suites = parse_junit(&out);
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0].0, "casa-verde");
    let cases = &suites[0].1;
    let case = |name: &str| {
        cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case {name}"))
    };
    let kit = case("template promo_starter_kit (id)");
    assert!(
        kit.failure.is_none(),
        "critical threshold, the critical finding is suppressed"
    );
    assert!(
        kit.skipped.as_deref().unwrap().contains("gardening kit"),
        "{:?}",
        kit.skipped
    );
    assert!(
        cases
            .iter()
            .any(|c| c.name == "template order_confirmation (en_US)" && c.failure.is_none())
    );
    assert!(
        cases.len() >= 40,
        "every template of the inventory is a case: {}",
        cases.len()
    );
    // Without the suppression, --fail-on critical exits 1 in every format.
    std::fs::write(d.path().join("suppressions.toml"), "").unwrap();
    for format in ["text", "sarif", "junit"] {
        let (code, _, err) = run_at(
            &cfg,
            &format!("2026-11-27T0{}:00:00Z", format.len()),
            &["--format", format, "--fail-on", "critical"],
        );
        assert_eq!(code, 1, "{format}: {err}");
    }
}

#[test]
fn run_junit_reports_an_account_that_could_not_be_collected_as_an_error() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        "gone",
        &d.path().join("no-such-export"),
        "[reports]\ndir = \"reports\"",
    );
    let (code, out, _) = run_at(&cfg, "2026-11-25T02:00:00Z", &["--format", "junit"]);
    assert_eq!(code, 2, "no account could be audited");
    let doc = roxmltree::Document::parse(&out).expect("well-formed XML");
    let err = doc
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .expect("an <error> for the account");
    assert!(
        err.attribute("message")
            .unwrap()
            .starts_with("not audited:")
    );
    assert_eq!(doc.root_element().attribute("errors"), Some("1"));
}

#[test]
fn gate_sarif_and_junit_carry_every_reason() {
    let d = tempfile::tempdir().unwrap();
    let (cfg, _) = setup_run(d.path());
    std::fs::write(d.path().join("suppressions.toml"), "").unwrap();
    let (code, _, err) = run_at(&cfg, "2026-11-25T02:00:00Z", &[]);
    assert_eq!(code, 0, "{err}");
    let gate = |format: &str| {
        let out = Command::new(bin())
            .args(["gate", "--account", "casa-verde"])
            .args([
                "--template",
                "promo_starter_kit",
                "--template",
                "no_such_template",
            ])
            .arg("--config")
            .arg(&cfg)
            .args(["--format", format])
            .env("WABAGUARD_NOW", "2026-11-25T02:30:00Z")
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        )
    };
    let (code, json) = gate("json");
    assert_eq!(code, 1);
    let json: Value = serde_json::from_str(&json).unwrap();
    let (code, sarif) = gate("sarif");
    assert_eq!(code, 1, "refused, whatever the format");
    let doc: Value = serde_json::from_str(&sarif).unwrap();
    assert_valid_sarif(&doc);
    let rs = results(&doc);
    assert!(
        rs.iter().any(|r| r["ruleId"] == "tpl.res.tobacco"),
        "the blocking finding"
    );
    let missing = rs
        .iter()
        .find(|r| r["ruleId"] == "gate.template_missing")
        .expect("the missing template is a result");
    assert_eq!(missing["level"], "error");
    assert!(
        missing["message"]["text"]
            .as_str()
            .unwrap()
            .contains("no_such_template")
    );
    assert_eq!(
        rule(&doc, "gate.template_missing")["defaultConfiguration"]["level"],
        "error"
    );
    let reasons = json["reasons"].as_array().unwrap().len();
    assert_eq!(rs.len(), reasons, "one result per reason");
    // Stable fingerprints: the same gate twice gives the same ones.
    let (_, again) = gate("sarif");
    let again: Value = serde_json::from_str(&again).unwrap();
    let fps = |d: &Value| -> Vec<String> {
        results(d)
            .iter()
            .map(|r| {
                r["partialFingerprints"]["wabaguardFingerprint/v1"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(fps(&doc), fps(&again));

    let (code, xml) = gate("junit");
    assert_eq!(code, 1);
    let suites = parse_junit(&xml);
    let cases = &suites[0].1;
    let kit = cases
        .iter()
        .find(|c| c.name == "template promo_starter_kit (id)")
        .unwrap();
    assert!(
        kit.failure.as_deref().unwrap().contains("template_finding"),
        "{:?}",
        kit.failure
    );
    let gone = cases
        .iter()
        .find(|c| c.name == "template no_such_template")
        .unwrap();
    assert!(
        gone.failure
            .as_deref()
            .unwrap()
            .contains("template_missing")
    );
    let acct = cases
        .iter()
        .find(|c| c.name == "account casa-verde")
        .unwrap();
    assert!(acct.failure.is_none(), "{:?}", acct.failure);

    // Could not decide: exit 2, and JUnit still says why.
    let out = Command::new(bin())
        .args([
            "gate",
            "--account",
            "nobody",
            "--template",
            "x",
            "--format",
            "junit",
        ])
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let xml = String::from_utf8(out.stdout).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert!(doc.descendants().any(|n| n.has_tag_name("error")));
}
