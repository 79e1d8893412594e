//! report.html and findings.csv: written with every run folder, rendered
//! from the Report and the run history. Six nightly runs of three accounts
//! (one of which fails in the last run) are written through the real write
//! path; the last run's report.html is snapshot-tested and checked for
//! well-formedness, self-containment, masking and escaping.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use wabaguard::checks::{Finding, Severity, Subject, SubjectKind, SuppressedBy};
use wabaguard::report::register::{
    CategoryChange, ChangeDating, ChangeSource, PendingCategory, RegisterEntry, TemplateRegister,
};
use wabaguard::report::{
    self, AccountReport, Report, RulesInfo, diff, findings_csv, history, html, trend,
};
use wabaguard::risk::{Evidence, Ladder, Stage};
use wabaguard::snapshot::optin::{AudienceCoverage, Coverage};
use wabaguard::snapshot::{NumberState, SourceKind};

const FULL_NUMBER: &str = "+1 415-555-0134";
const HOSTILE: &str = "<script>alert(\"x\")</script> & 'quotes' \u{1}";

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 2, 0, 0).unwrap()
}

fn rules() -> RulesInfo {
    RulesInfo {
        pack: "wabaguard-core".into(),
        version: "2026.11".into(),
        digest: "0123456789abcdef".into(),
    }
}

fn tpl(rule: &str, check: &str, sev: Severity, name: &str, msg: &str) -> Finding {
    Finding::new(
        check,
        rule,
        sev,
        Subject::template(None, name, "en_US"),
        msg,
    )
    .remediation(format!("Fix {name}."))
    .fingerprinted("111")
}

/// The acme account on a given day: findings of every severity, one
/// suppressed, a hostile template, a phone number finding, an audience,
/// and a number whose quality and tier change over the week.
fn acme(day: u32) -> AccountReport {
    let masked = wabaguard::mask::mask_phone(FULL_NUMBER);
    let mut f = vec![
        tpl(
            "tpl.res.tobacco",
            "template.restricted_content",
            Severity::Critical,
            "promo_vape",
            "Tobacco content under Meta's Commerce Policy: \"vape\"",
        )
        .evidence("buy a vape today"),
        tpl(
            "tpl.mkt.discount",
            "template.category_mismatch",
            Severity::High,
            "order_update",
            "UTILITY template with a discount code, pays, like, marketing",
        )
        .detail("declared_category", "UTILITY")
        .detail("suggested_category", "MARKETING"),
        Finding::new(
            "profile.incomplete",
            "prof.website-missing",
            Severity::Medium,
            Subject::new(SubjectKind::ProfileField)
                .with_id("106540352242922")
                .with_field("websites"),
            "website missing",
        )
        .remediation("=HYPERLINK(\"http://evil\") add a website")
        .fingerprinted("111"),
        tpl(
            "tpl.hyg.too-many-emoji",
            "template.hygiene",
            Severity::Low,
            "welcome",
            "7 emoji in one message",
        ),
        Finding::new(
            "number.quality",
            "num.quality-yellow",
            Severity::Info,
            Subject::new(SubjectKind::PhoneNumber)
                .with_id("106540352242922")
                .with_name(masked.clone()),
            format!("quality rating of {masked} is YELLOW"),
        )
        .meta()
        .fingerprinted("111"),
    ];
    // A hostile template body, as Meta returns what the business typed.
    f.push(
        tpl(
            "tpl.hyg.placeholder-edge",
            "template.hygiene",
            Severity::Medium,
            "<b>evil</b>",
            "Template starts with a placeholder",
        )
        .evidence(HOSTILE),
    );
    let mut suppressed = tpl(
        "tpl.hyg.placeholder-edge",
        "template.hygiene",
        Severity::High,
        "legacy_promo",
        "Multi-line\nmessage, with \"quotes\"",
    );
    suppressed.suppressed = true;
    suppressed.suppressed_by = Some(SuppressedBy {
        line: 3,
        reason: "accepted until the template is retired".into(),
        expires: "2026-12-31".into(),
        triage: false,
    });
    f.push(suppressed);
    if day >= 23 {
        f.push(tpl(
            "tpl.res.alcohol",
            "template.restricted_content",
            Severity::High,
            "happy_hour",
            "Alcohol content",
        ));
    }
    if day == 21 || day >= 24 {
        // Gone on day 22 and 23, back since 24: first seen again on the 24th.
        f.push(tpl(
            "tpl.hyg.all-caps",
            "template.hygiene",
            Severity::Low,
            "shouting",
            "Body is mostly capitals",
        ));
    }
    let (quality, tier) = match day {
        ..=21 => ("GREEN", "TIER_10K"),
        22..=23 => ("YELLOW", "TIER_10K"),
        _ => ("YELLOW", "TIER_2K"),
    };
    let a = AccountReport::audited("acme-retail", "111", SourceKind::Exports, 12, 1, f, vec![]);
    let mut risk = a.risk.clone();
    risk.stage = Stage::Warning;
    risk.stage_evidence = vec![Evidence {
        source: "webhook".into(),
        at: Some("2026-11-19T08:00:00Z".into()),
        text: "ACCOUNT_VIOLATION: scam".into(),
    }];
    risk.ladder = Some(Ladder {
        step: "warning".into(),
        position: 0,
        next: Some("1-day block".into()),
        until: None,
        history: vec![],
    });
    let numbers = vec![NumberState {
        id: "106540352242922".into(),
        display: Some(masked),
        quality_rating: Some(quality.into()),
        status: Some("CONNECTED".into()),
        messaging_limit: Some(tier.into()),
    }];
    let mut a = a.with_signals(risk, numbers, &Default::default());
    a.optin = vec![
        AudienceCoverage {
            name: "black_friday_us".into(),
            file: "audiences/black_friday_us.csv".into(),
            consent: "audiences/consent_ledger.csv".into(),
            coverage: Some(Coverage {
                total: 1920,
                invalid: 4,
                unique: 1910,
                duplicates: 6,
                covered: 1756,
                stale: 58,
                revoked: 58,
                missing: 38,
                coverage: 1756.0 / 1910.0,
                ledger_rows: 2400,
                as_of: "2026-11-25T02:00:00Z".into(),
                max_age_days: 365,
                region: "US".into(),
                ..Coverage::default()
            }),
            error: None,
        },
        AudienceCoverage {
            name: "vip".into(),
            file: "audiences/vip.csv".into(),
            consent: "audiences/consent_ledger.csv".into(),
            coverage: None,
            error: Some("audiences/vip.csv: no such file".into()),
        },
    ];
    a.template_register = Some(register(day));
    a
}

/// acme's template register: one template recategorised and announced
/// again, one paused twice and no longer listed, one clean.
fn register(day: u32) -> TemplateRegister {
    let entry = |name: &str, language: &str, category: &str, status: &str| RegisterEntry {
        name: name.into(),
        language: language.into(),
        id: Some(format!("{}", 1000 + name.len())),
        category: Some(category.into()),
        status: Some(status.into()),
        quality: Some("GREEN".into()),
        first_seen: at(1),
        last_seen: at(day),
        present: true,
        category_changes: Vec::new(),
        status_history: Vec::new(),
        pending_category: None,
        pauses: 0,
    };
    let mut cart = entry("cart_reminder", "en_US", "MARKETING", "APPROVED");
    cart.category_changes.push(CategoryChange {
        from: Some("UTILITY".into()),
        to: "MARKETING".into(),
        at: at(2),
        dating: ChangeDating::BetweenRuns,
        sources: vec![ChangeSource::SnapshotDiff],
    });
    let mut ship = entry("shipping_update", "es_MX", "UTILITY", "APPROVED");
    ship.pending_category = Some(PendingCategory {
        correct_category: "MARKETING".into(),
        effective_at: Some(at(day + 1)),
        announced_at: at(day),
    });
    let mut sale = entry("flash_sale_<b>", "en_US", "MARKETING", "PAUSED");
    sale.quality = Some("RED".into());
    sale.pauses = 2;
    sale.present = false;
    sale.last_seen = at(day.saturating_sub(1).max(1));
    TemplateRegister {
        version: 1,
        account: "acme".into(),
        updated_at: Some(at(day)),
        templates: vec![
            cart,
            sale,
            entry("order_confirmed", "en_US", "UTILITY", "APPROVED"),
            ship,
        ],
    }
}

/// beta: on the last day one finding is resolved and a new one appears.
fn beta(day: u32) -> AccountReport {
    let mut f = vec![tpl(
        "tpl.hyg.too-many-emoji",
        "template.hygiene",
        Severity::Low,
        "hello",
        "6 emoji",
    )];
    if day < 25 {
        f.push(tpl(
            "tpl.hyg.all-caps",
            "template.hygiene",
            Severity::Low,
            "goodbye",
            "Body is mostly capitals",
        ));
    } else {
        f.push(
            Finding::new(
                "profile.incomplete",
                "prof.about-missing",
                Severity::Medium,
                Subject::new(SubjectKind::ProfileField)
                    .with_id("206540352242922")
                    .with_field("about"),
                "about text missing",
            )
            .remediation("Write an about text.")
            .fingerprinted("222"),
        );
    }
    AccountReport::audited("beta-bank", "222", SourceKind::Graph, 3, 0, f, vec![])
}

fn gamma(day: u32) -> AccountReport {
    if day == 25 || day == 22 {
        return AccountReport::failed(
            "gamma-travel",
            "333",
            SourceKind::Graph,
            "Graph API: (#190) invalid OAuth access token".into(),
        );
    }
    let f = vec![tpl(
        "tpl.mkt.discount",
        "template.category_mismatch",
        Severity::High,
        "trip_reminder",
        "UTILITY template with a discount",
    )];
    AccountReport::audited("gamma-travel", "333", SourceKind::Graph, 5, 0, f, vec![])
}

fn report_of(day: u32) -> Report {
    let mut r = Report::new(report::run_id(at(day)), at(day), rules());
    r.accounts = vec![beta(day), gamma(day), acme(day)];
    r
}

/// One run as `wabaguard run` makes it: diff, write, history.
fn run(dir: &Path, day: u32) -> PathBuf {
    let mut r = report_of(day);
    diff::attach(&mut r, dir);
    let out = report::write_run(&mut r, dir).unwrap();
    history::append(dir, &history::HistoryLine::of(&r)).unwrap();
    out
}

fn week() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let mut last = PathBuf::new();
    for day in 20..=25 {
        last = run(d.path(), day);
    }
    (d, last)
}

fn parse(html: &str) -> roxmltree::Document<'_> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(html, opts)
        .unwrap_or_else(|e| panic!("report.html is not well-formed XML: {e}"))
}

#[test]
fn every_run_folder_has_report_html_and_findings_csv() {
    let (d, last) = week();
    for e in std::fs::read_dir(d.path()).unwrap().filter_map(Result::ok) {
        if e.path().is_dir() {
            assert!(e.path().join("report.html").is_file(), "{:?}", e.path());
            assert!(e.path().join("findings.csv").is_file(), "{:?}", e.path());
        }
    }
    assert!(last.ends_with("20261125T020000Z"));
}

#[test]
fn report_html_snapshot() {
    let (_d, last) = week();
    let html = std::fs::read_to_string(last.join("report.html")).unwrap();
    insta::assert_snapshot!("report_html_week", html);
}

#[test]
fn report_html_is_well_formed_xhtml_with_the_cover_sorted_by_risk() {
    let (_d, last) = week();
    let html = std::fs::read_to_string(last.join("report.html")).unwrap();
    let doc = parse(&html);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "html");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/1999/xhtml")
    );
    // The cover lists the accounts by score, the failed one last.
    let cover = doc
        .descendants()
        .find(|n| n.has_tag_name("table") && n.attribute("class") == Some("cover"))
        .unwrap();
    let names: Vec<String> = cover
        .descendants()
        .filter(|n| n.has_tag_name("a"))
        .map(|n| n.text().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["acme-retail", "beta-bank", "gamma-travel"]);
    // One section per account, in the same order, each after a page break in print.
    let sections: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("section") && n.attribute("class") == Some("account"))
        .map(|n| n.attribute("id").unwrap())
        .collect();
    assert_eq!(sections, ["account-1", "account-2", "account-3"]);
    assert!(html.contains("section.account { break-before: page;"));
    assert!(html.contains("@media print"));
    // Every table has header cells; severity is always written out.
    for t in doc.descendants().filter(|n| n.has_tag_name("table")) {
        assert!(t.descendants().any(|n| n.has_tag_name("th")));
    }
    for badge in doc
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("sev ")))
    {
        let class = badge.attribute("class").unwrap();
        let text = badge.text().unwrap();
        assert_eq!(class, format!("sev sev-{text}"));
    }
    // Headings: one h1, h2 per account section.
    assert_eq!(
        doc.descendants().filter(|n| n.has_tag_name("h1")).count(),
        1
    );
}

#[test]
fn report_html_fetches_nothing_from_the_network() {
    let (_d, last) = week();
    let html = std::fs::read_to_string(last.join("report.html")).unwrap();
    let doc = parse(&html);
    for n in doc.descendants().filter(|n| n.is_element()) {
        let tag = n.tag_name().name();
        assert!(
            !matches!(
                tag,
                "script"
                    | "link"
                    | "img"
                    | "iframe"
                    | "object"
                    | "embed"
                    | "audio"
                    | "video"
                    | "source"
                    | "image"
                    | "use"
                    | "base"
                    | "form"
            ),
            "<{tag}> in report.html"
        );
        for a in n.attributes() {
            let v = a.value().trim();
            match a.name() {
                "href" => assert!(v.starts_with('#'), "href={v}"),
                "src" | "srcset" | "data" | "poster" | "action" | "background" => {
                    panic!("{}={v} on <{tag}>", a.name())
                }
                _ => {}
            }
            assert!(!v.to_ascii_lowercase().contains("url("), "{v}");
        }
    }
    let style: String = doc
        .descendants()
        .filter(|n| n.has_tag_name("style"))
        .filter_map(|n| n.text())
        .collect();
    assert!(!style.is_empty());
    assert!(!style.contains("url(") && !style.contains("@import"));
    // The only URLs in markup are the XHTML and SVG namespaces.
    for (i, _) in html.match_indices("http") {
        let rest = &html[i..];
        assert!(
            rest.starts_with("http://www.w3.org/1999/xhtml\"")
                || rest.starts_with("http://www.w3.org/2000/svg\"")
                // Text inside the report (a remediation) is escaped text, not a fetch.
                || rest.starts_with("http:&#x2f;&#x2f;evil"),
            "unexpected URL: {}",
            &rest[..rest.len().min(60)]
        );
    }
    assert!(!html.to_ascii_lowercase().contains("<script"));
}

#[test]
fn phone_numbers_are_masked_in_html_and_csv() {
    let (_d, last) = week();
    let html = std::fs::read_to_string(last.join("report.html")).unwrap();
    let csv = std::fs::read_to_string(last.join("findings.csv")).unwrap();
    for text in [&html, &csv] {
        for full in ["4155550134", "415-555-0134", "415 555 0134", "555-0134"] {
            assert!(!text.contains(full), "{full} in output");
        }
    }
    assert!(html.contains("+1 ••• ••• 0134"));
    assert!(csv.contains("+1 ••• ••• 0134"));
}

#[test]
fn hostile_template_text_is_escaped() {
    let (_d, last) = week();
    let html = std::fs::read_to_string(last.join("report.html")).unwrap();
    assert!(html.contains(
        "&lt;script&gt;alert(&quot;x&quot;)&lt;&#x2f;script&gt; &amp; &#x27;quotes&#x27;"
    ));
    assert!(html.contains("template &lt;b&gt;evil&lt;&#x2f;b&gt; (en_US)"));
    assert!(!html.contains("<b>evil"));
    // A control character (invalid in XML) is replaced, so the page still parses.
    assert!(!html.contains('\u{1}'));
    let doc = parse(&html);
    let text: String = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    assert!(text.contains("<script>alert(\"x\")</script> & 'quotes' \u{FFFD}"));
}

#[test]
fn trend_numbers_new_findings_and_failed_accounts_are_shown() {
    let (_d, last) = week();
    let html = std::fs::read_to_string(last.join("report.html")).unwrap();
    let doc = parse(&html);
    // acme: 6 runs charted; gamma: a failed run leaves a gap.
    assert!(html.contains("The last 6 runs (2026-11-20 to 2026-11-25"));
    assert!(html.contains("2 runs without an audit leave a gap"));
    let acme = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("account-1"))
        .unwrap();
    let polylines: Vec<&str> = acme
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(|n| n.attribute("points").unwrap())
        .collect();
    // One score line and five severity lines, six points each.
    assert_eq!(polylines.len(), 6);
    assert!(polylines.iter().all(|p| p.split(' ').count() == 6));
    // The number's timeline: GREEN/10K, then YELLOW on the 22nd, 2K on the 24th.
    let rows: Vec<String> = acme
        .descendants()
        .filter(|n| n.has_tag_name("table") && n.attribute("class") == Some("number-history"))
        .flat_map(|t| t.descendants().filter(|n| n.has_tag_name("tr")).skip(1))
        .map(|tr| {
            tr.children()
                .filter(|c| c.is_element())
                .map(|c| c.text().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    assert_eq!(
        rows,
        [
            "2026-11-20|GREEN|TIER_10K|CONNECTED",
            "2026-11-22|YELLOW|TIER_10K|CONNECTED",
            "2026-11-24|YELLOW|TIER_2K|CONNECTED",
        ]
    );
    // New since last run: nothing new on the 25th for acme; the opt-in table.
    assert!(html.contains("Compared with run <code>20261124T020000Z</code>"));
    let beta = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("account-2"))
        .unwrap();
    let list = |class: &str| -> Vec<String> {
        beta.descendants()
            .filter(|n| n.has_tag_name("ul") && n.attribute("class") == Some(class))
            .flat_map(|ul| ul.children().filter(|c| c.has_tag_name("li")))
            .map(|li| {
                li.descendants()
                    .filter(|n| n.is_text())
                    .filter_map(|n| n.text())
                    .collect::<String>()
            })
            .collect()
    };
    assert_eq!(
        list("new-findings"),
        ["new medium profile field `about` of number 206540352242922 — about text missing"]
    );
    assert_eq!(
        list("resolved-findings"),
        ["resolved: low template goodbye (en_US) — Body is mostly capitals"]
    );
    assert!(html.contains("<strong>91.94 %</strong>"));
    assert!(html.contains("<strong>Not computed:</strong> audiences&#x2f;vip.csv: no such file"));
    // The failed account is on the cover and has its own section.
    assert!(
        html.contains("<strong>Not audited:</strong> Graph API: (#190) invalid OAuth access token")
    );
    assert!(html.contains("<p><strong>Not audited.</strong> Graph API"));
    // Families: template findings before the profile ones, each a table.
    let families: Vec<&str> = acme
        .descendants()
        .filter(|n| n.has_tag_name("section") && n.attribute("class") == Some("family"))
        .map(|n| n.attribute("aria-labelledby").unwrap())
        .collect();
    assert_eq!(
        families,
        [
            "account-1-fam-template",
            "account-1-fam-profile",
            "account-1-fam-number"
        ]
    );
    assert!(html.contains("<span class=\"tag tag-suppressed\">suppressed</span>"));
}

#[test]
fn a_first_run_without_history_renders_single_points() {
    let d = tempfile::tempdir().unwrap();
    let dir = run(d.path(), 20);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    parse(&html);
    assert!(html.contains("Only one run so far"));
    assert!(html.contains("First run for this account — nothing to compare with yet."));
    assert!(
        !html.contains("<polyline points=\"334.0,"),
        "one point is a marker, not a line"
    );
    assert!(html.contains("<circle cx=\"334.0\""));
    // Rendering without any trend data (no history at all) works too.
    let r = report_of(22);
    let page = html::render(&r, &trend::Trends::default()).unwrap();
    parse(&page);
    assert!(page.contains("No audited run yet: nothing to chart."));
}

#[test]
fn a_damaged_history_gives_a_shorter_trend_not_an_error() {
    let d = tempfile::tempdir().unwrap();
    run(d.path(), 20);
    std::fs::write(
        d.path().join("history.jsonl"),
        "{ torn line\n\u{0}\u{0}garbage\n",
    )
    .unwrap();
    let dir = run(d.path(), 21);
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    parse(&html);
    assert!(html.contains("Only one run so far"));
}

#[test]
fn findings_csv_quotes_defuses_formulas_and_tracks_first_seen() {
    let (_d, last) = week();
    let bytes = std::fs::read(last.join("findings.csv")).unwrap();
    let mut rd = csv::Reader::from_reader(bytes.as_slice());
    assert_eq!(
        rd.headers().unwrap().iter().collect::<Vec<_>>(),
        findings_csv::HEADER
    );
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    let r = report_of(25);
    let total: usize = r.accounts.iter().map(|a| a.findings.len()).sum();
    assert_eq!(rows.len(), total);
    let find = |subject: &str| {
        rows.iter()
            .find(|r| &r[4] == subject)
            .unwrap_or_else(|| panic!("no row for {subject}"))
    };
    // Commas, quotes and newlines survive the round trip.
    let s = find("template legacy_promo (en_US)");
    assert_eq!(&s[5], "Multi-line\nmessage, with \"quotes\"");
    assert_eq!(&s[9], "true");
    assert_eq!(&s[3], "high");
    assert!(rows.iter().filter(|r| &r[9] == "false").count() == total - 1);
    // A cell a spreadsheet would run as a formula starts with an apostrophe.
    let p = find("profile field `websites` of number 106540352242922");
    assert_eq!(&p[6], "'=HYPERLINK(\"http://evil\") add a website");
    assert_eq!(findings_csv::defuse("+1 ••• 0134"), "'+1 ••• 0134");
    assert_eq!(findings_csv::defuse("-x"), "'-x");
    assert_eq!(findings_csv::defuse("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(findings_csv::defuse("\tx"), "'\tx");
    assert_eq!(findings_csv::defuse("a=b"), "a=b");
    // first_seen: carried forward by fingerprint across runs.
    assert_eq!(
        &find("template promo_vape (en_US)")[8],
        "2026-11-20T02:00:00Z"
    );
    assert_eq!(
        &find("template happy_hour (en_US)")[8],
        "2026-11-23T02:00:00Z"
    );
    // Reported on the 21st, gone on the 22nd and 23rd, back on the 24th.
    assert_eq!(
        &find("template shouting (en_US)")[8],
        "2026-11-24T02:00:00Z"
    );
    // gamma failed on the 25th: no rows, and its earlier findings are not invented.
    assert!(rows.iter().all(|r| &r[0] != "gamma-travel"));
    // Same in report.json (the next run reads it from there).
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(last.join("report.json")).unwrap()).unwrap();
    let acme = json["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "acme-retail")
        .unwrap();
    assert!(
        acme["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["first_seen"].is_string())
    );
}

#[test]
fn first_seen_of_a_report_without_it_is_that_reports_time() {
    let d = tempfile::tempdir().unwrap();
    let first = run(d.path(), 20);
    // An older wabaguard wrote the previous report: no first_seen.
    let p = first.join("report.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    for a in v["accounts"].as_array_mut().unwrap() {
        for f in a["findings"].as_array_mut().into_iter().flatten() {
            f.as_object_mut().unwrap().remove("first_seen");
        }
    }
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    let mut r = report_of(21);
    diff::attach(&mut r, d.path());
    let acme = r.accounts.iter().find(|a| a.name == "acme-retail").unwrap();
    let seen = |name: &str| {
        acme.findings
            .iter()
            .find(|f| f.subject.name.as_deref() == Some(name))
            .and_then(|f| f.first_seen.clone())
            .unwrap()
    };
    assert_eq!(seen("promo_vape"), "2026-11-20T02:00:00Z");
    assert_eq!(seen("shouting"), "2026-11-21T02:00:00Z");
}

#[test]
fn the_template_register_is_a_templates_section() {
    let (_d, last) = week();
    let html = std::fs::read_to_string(last.join("report.html")).unwrap();
    let doc = parse(&html);
    let section = doc
        .descendants()
        .find(|n| n.has_tag_name("section") && n.attribute("class") == Some("templates"))
        .expect("a Templates section");
    let rows: Vec<Vec<String>> = section
        .descendants()
        .filter(|n| n.has_tag_name("tr"))
        .skip(1)
        .map(|tr| {
            tr.children()
                .filter(|c| c.is_element())
                .map(|c| {
                    c.descendants()
                        .filter(|n| n.is_text())
                        .filter_map(|n| n.text())
                        .collect::<String>()
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 4, "{rows:?}");
    // Register order, one row per template; last seen in the last run (day 25).
    assert_eq!(
        rows[0],
        [
            "cart_reminder",
            "en_US",
            "MARKETING (UTILITY → MARKETING ~2026-11-02)",
            "APPROVED",
            "GREEN",
            "2026-11-01",
            "2026-11-25",
            "0"
        ]
    );
    assert_eq!(rows[1][0], "flash_sale_<b>");
    assert_eq!(rows[1][3], "PAUSED (no longer listed)");
    assert_eq!(rows[1][7], "2");
    assert_eq!(
        rows[3][2],
        "UTILITYMeta will move it to MARKETING on 2026-11-26"
    );
    // The template name is text, not markup; the row of a template no
    // longer listed is greyed.
    assert!(!html.contains("flash_sale_<b>"));
    let gone: Vec<_> = section
        .descendants()
        .filter(|n| n.attribute("class") == Some("gone"))
        .collect();
    assert_eq!(gone.len(), 1);
    // The Markdown report has the same rows.
    let md = std::fs::read_to_string(last.join("report.md")).unwrap();
    assert!(md.contains(r"| cart\_reminder | en\_US | MARKETING (UTILITY → MARKETING ~2026-11-02) | APPROVED | GREEN | 2026-11-01 | 2026-11-25 | 0 |"), "{md}");
}
