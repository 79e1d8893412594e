//! Consent scope and country rules (issue 9, parts 1 and 2), one test per rule.

use std::path::PathBuf;

use wabaguard::collect::consent::phone::parse_region;
use wabaguard::collect::consent::scope::Scopes;
use wabaguard::collect::consent::{
    Campaign, OptinParams, Verdict, compute, compute_campaign, timestamp,
};
use wabaguard::rulepack::countries::CountryRules;
use wabaguard::snapshot::optin::Coverage;

const AS_OF: &str = "2026-11-24T00:00:00Z";
const HEADER: &str = "phone,event,timestamp,source,scope\n";

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(audience: &str, ledger: &str) -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), audience).unwrap();
        std::fs::write(dir.path().join("l.csv"), ledger).unwrap();
        Files { dir }
    }
    fn a(&self) -> PathBuf {
        self.dir.path().join("a.csv")
    }
    fn l(&self) -> PathBuf {
        self.dir.path().join("l.csv")
    }
}

fn params(max_age_days: u32) -> OptinParams {
    OptinParams {
        region: parse_region("US").unwrap(),
        as_of: timestamp::parse(AS_OF.as_bytes()).unwrap(),
        max_age_days,
        phone_column: None,
        threads: 2,
    }
}

fn cat(c: &str) -> Option<Scopes> {
    Some(Scopes::parse_category(c).unwrap())
}

fn run(audience: &str, ledger: &str, categories: Option<Scopes>, max_age: u32) -> Coverage {
    let f = Files::new(audience, ledger);
    let campaign = Campaign {
        categories,
        country_rules: Vec::new(),
    };
    let c = compute_campaign(&f.a(), &f.l(), &params(max_age), &campaign)
        .unwrap()
        .coverage;
    assert_eq!(
        c.covered + c.stale + c.revoked + c.missing,
        c.unique,
        "{c:?}"
    );
    for s in &c.scopes {
        assert_eq!(
            s.covered + s.stale + s.revoked + s.missing,
            c.unique,
            "{s:?}"
        );
    }
    c
}

/// (covered, stale, revoked, missing) of the headline.
fn v(c: &Coverage) -> (u64, u64, u64, u64) {
    (c.covered, c.stale, c.revoked, c.missing)
}

/// The verdict of the single audience number for each category, and for none.
fn one(ledger_rows: &str, max_age: u32) -> [&'static str; 4] {
    let ledger = format!("{HEADER}{ledger_rows}");
    let mut out = [""; 4];
    for (i, c) in [
        cat("MARKETING"),
        cat("UTILITY"),
        cat("AUTHENTICATION"),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let r = run("phone\n+12025550143\n", &ledger, c, max_age);
        out[i] = match v(&r) {
            (1, 0, 0, 0) => "covered",
            (0, 1, 0, 0) => "stale",
            (0, 0, 1, 0) => "revoked",
            (0, 0, 0, 1) => "missing",
            other => panic!("{other:?}"),
        };
    }
    out
}

#[test]
fn without_a_scope_column_every_category_gives_the_unscoped_verdict() {
    let ledger = "phone,event,timestamp,source\n+12025550143,opt_in,2026-06-01,web\n+12025550178,opt_out,2026-06-01,web\n";
    let audience = "phone\n+12025550143\n+12025550178\n+12025550199\n";
    let f = Files::new(audience, ledger);
    let plain = compute(&f.a(), &f.l(), &params(365)).unwrap().coverage;
    assert_eq!(v(&plain), (1, 0, 1, 1));
    assert!(!plain.ledger_scoped);
    assert_eq!(plain.category, "");
    for c in [
        cat("MARKETING"),
        cat("UTILITY"),
        cat("AUTHENTICATION"),
        None,
    ] {
        let r = run(audience, ledger, c, 365);
        assert_eq!(v(&r), (1, 0, 1, 1));
    }
    // The per-scope counts are the same three times.
    assert_eq!(plain.scopes.len(), 3);
    for s in &plain.scopes {
        assert_eq!((s.covered, s.stale, s.revoked, s.missing), (1, 0, 1, 1));
    }
}

#[test]
fn a_scoped_opt_in_covers_only_its_scope() {
    assert_eq!(
        one("+12025550143,opt_in,2026-06-01,web,utility\n", 365),
        ["missing", "covered", "missing", "missing"]
    );
    assert_eq!(
        one(
            "+12025550143,opt_in,2026-06-01,web,marketing|utility\n",
            365
        ),
        ["covered", "covered", "missing", "missing"]
    );
}

#[test]
fn empty_scope_and_all_cover_every_category() {
    for scope in [
        "",
        "all",
        "ALL",
        " all ",
        "marketing|utility|authentication",
    ] {
        assert_eq!(
            one(
                &format!("+12025550143,opt_in,2026-06-01,web,{scope}\n"),
                365
            ),
            ["covered"; 4],
            "{scope:?}"
        );
    }
    // A short row without the scope field: all.
    assert_eq!(
        one("+12025550143,opt_in,2026-06-01,web\n", 365),
        ["covered"; 4]
    );
}

#[test]
fn a_scoped_opt_out_revokes_only_its_scope() {
    assert_eq!(
        one(
            "+12025550143,opt_in,2026-06-01,web,\n+12025550143,opt_out,2026-07-01,stop,marketing\n",
            365
        ),
        ["revoked", "covered", "covered", "revoked"]
    );
}

#[test]
fn an_opt_out_without_scope_revokes_every_scope() {
    assert_eq!(
        one(
            "+12025550143,opt_in,2026-06-01,web,marketing\n+12025550143,opt_in,2026-06-01,web,utility\n+12025550143,opt_out,2026-07-01,stop,\n",
            365
        ),
        ["revoked"; 4]
    );
    // ... and a later scoped opt-in restores only that scope.
    assert_eq!(
        one(
            "+12025550143,opt_in,2026-06-01,web,\n+12025550143,opt_out,2026-07-01,stop,\n+12025550143,opt_in,2026-08-01,checkout,utility\n",
            365
        ),
        ["revoked", "covered", "revoked", "revoked"]
    );
}

#[test]
fn equal_timestamps_opt_out_wins_per_scope() {
    // opt_in for all and opt_out for marketing at the same instant.
    assert_eq!(
        one(
            "+12025550143,opt_in,2026-06-01T10:00:00Z,web,all\n+12025550143,opt_out,2026-06-01T10:00:00Z,stop,marketing\n",
            365
        ),
        ["revoked", "covered", "covered", "revoked"]
    );
    // Same instant, disjoint scopes: each scope has its own latest event.
    assert_eq!(
        one(
            "+12025550143,opt_out,2026-06-01T10:00:00Z,stop,utility\n+12025550143,opt_in,2026-06-01T10:00:00Z,web,marketing\n",
            365
        ),
        ["covered", "revoked", "missing", "revoked"]
    );
}

#[test]
fn a_newer_scoped_opt_in_refreshes_only_its_scope() {
    // Unscoped opt-in 400 days old (stale at 365), marketing opt-in 10 days old.
    assert_eq!(
        one(
            "+12025550143,opt_in,2025-10-20,web,\n+12025550143,opt_in,2026-11-14,web,marketing\n",
            365
        ),
        ["covered", "stale", "stale", "stale"]
    );
    // The other way round: a new unscoped opt-in covers every scope.
    assert_eq!(
        one(
            "+12025550143,opt_in,2025-10-20,web,marketing\n+12025550143,opt_in,2026-11-14,web,\n",
            365
        ),
        ["covered"; 4]
    );
    // An older scoped opt-out under a newer unscoped opt-in: covered.
    assert_eq!(
        one(
            "+12025550143,opt_out,2026-01-01,stop,marketing\n+12025550143,opt_in,2026-02-01,web,\n",
            365
        ),
        ["covered"; 4]
    );
}

#[test]
fn the_max_age_boundary_is_exact_per_scope() {
    // as_of 2026-11-24T00:00:00Z, 30 days: cutoff 2026-10-25T00:00:00Z.
    assert_eq!(
        one(
            "+12025550143,opt_in,2026-10-25T00:00:00Z,web,marketing\n",
            30
        ),
        ["covered", "missing", "missing", "missing"]
    );
    assert_eq!(
        one(
            "+12025550143,opt_in,2026-10-24T23:59:59Z,web,marketing\n",
            30
        ),
        ["stale", "missing", "missing", "stale"]
    );
    // Exactly at the boundary for marketing, one second older for utility.
    assert_eq!(
        one(
            "+12025550143,opt_in,2026-10-25T00:00:00Z,web,marketing\n+12025550143,opt_in,2026-10-24T23:59:59Z,web,utility|authentication\n",
            30
        ),
        ["covered", "stale", "stale", "stale"]
    );
    // An event exactly at as_of counts; one after it is ignored.
    assert_eq!(
        one(
            "+12025550143,opt_in,2026-11-24T00:00:00Z,web,utility\n+12025550143,opt_out,2026-11-24T00:00:01Z,stop,utility\n",
            30
        ),
        ["missing", "covered", "missing", "missing"]
    );
}

#[test]
fn no_category_requires_every_scope_and_names_the_worst() {
    // Revoked in one scope beats stale and missing in others.
    assert_eq!(
        one(
            "+12025550143,opt_in,2024-01-01,web,utility\n+12025550143,opt_out,2026-06-01,stop,marketing\n",
            365
        ),
        ["revoked", "stale", "missing", "revoked"]
    );
    // Stale beats missing.
    assert_eq!(
        one("+12025550143,opt_in,2024-01-01,web,utility\n", 365),
        ["missing", "stale", "missing", "stale"]
    );
}

#[test]
fn unknown_scopes_are_ledger_errors_with_line_numbers() {
    let ledger = format!(
        "{HEADER}+12025550143,opt_in,2026-06-01,web,promotions\n+12025550143,opt_in,2026-06-01,web,marketing|\n+12025550178,opt_in,2026-06-01,web,marketing\n"
    );
    let c = run(
        "phone\n+12025550143\n+12025550178\n",
        &ledger,
        cat("MARKETING"),
        365,
    );
    assert_eq!(c.ledger_errors, 2);
    assert_eq!(c.ledger_error_samples[0].line, 2);
    assert!(
        c.ledger_error_samples[0]
            .reason
            .contains("unknown scope `promotions`"),
        "{:?}",
        c.ledger_error_samples
    );
    assert_eq!(c.ledger_error_samples[1].line, 3);
    // The bad rows never count as consent.
    assert_eq!(v(&c), (1, 0, 0, 1));
    // A phone number shifted into the scope column is masked.
    let c = run(
        "phone\n+12025550143\n",
        &format!("{HEADER}+12025550143,opt_in,2026-06-01,web,+1 202 555 0178\n"),
        None,
        365,
    );
    assert!(
        !c.ledger_error_samples[0].reason.contains("555 0178"),
        "{:?}",
        c.ledger_error_samples
    );
}

#[test]
fn coverage_is_reported_per_scope() {
    let ledger = format!(
        "{HEADER}+12025550143,opt_in,2026-06-01,web,marketing|utility\n+12025550178,opt_in,2026-06-01,web,utility\n+12025550199,opt_in,2026-06-01,web,\n+12025550199,opt_out,2026-07-01,stop,marketing\n"
    );
    let c = run(
        "phone\n+12025550143\n+12025550178\n+12025550199\n+12025550111\n",
        &ledger,
        cat("UTILITY"),
        365,
    );
    assert!(c.ledger_scoped);
    assert_eq!(c.category, "UTILITY");
    assert_eq!(v(&c), (3, 0, 0, 1));
    let by: Vec<(&str, u64, u64, u64)> = c
        .scopes
        .iter()
        .map(|s| (s.scope.as_str(), s.covered, s.revoked, s.missing))
        .collect();
    assert_eq!(
        by,
        [
            ("marketing", 1, 1, 2),
            ("utility", 3, 0, 1),
            ("authentication", 1, 0, 3)
        ]
    );
    assert_eq!(c.scopes[1].coverage, 0.75);
}

#[test]
fn country_rules_count_rows_by_exact_region() {
    let rules = CountryRules::builtin().unwrap();
    let us = rules.get("us-marketing").unwrap().clone();
    // US twice (a duplicate row), Canada, Jamaica, Puerto Rico, Brazil, an invalid row.
    let audience = "phone\n+1 415 555 0132\n4155550132\n+1 416 555 0132\n+1 876 927 1234\n+1 787 722 1234\n+55 11 96123-4567\nnot a number\n";
    let ledger = format!("{HEADER}+14155550132,opt_in,2026-06-01,web,\n");
    let f = Files::new(audience, &ledger);
    let campaign = Campaign {
        categories: cat("MARKETING"),
        country_rules: vec![us],
    };
    let o = compute_campaign(&f.a(), &f.l(), &params(365), &campaign).unwrap();
    assert_eq!(o.coverage.country_rules.len(), 1);
    let r = &o.coverage.country_rules[0];
    assert_eq!((r.id.as_str(), r.rows), ("us-marketing", 2));
    assert_eq!(r.countries, ["US"]);
    assert_eq!(r.action, "refuse");
    // The US number is covered by consent but matched by the rule.
    assert_eq!(o.verdict(Some(14155550132)), Verdict::Covered);
    assert_eq!(
        o.country_rules_of(14155550132)
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["us-marketing"]
    );
    assert_eq!(o.country_rules_of(14165550132).count(), 0);

    let out = f.dir.path().join("uncovered.csv");
    let n = o
        .write_uncovered(&f.a(), parse_region("US").unwrap(), &out)
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(n, 7, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "line,phone,e164,reason");
    assert_eq!(
        lines[1],
        "2,+1 415 555 0132,+14155550132,country_rule:us-marketing"
    );
    assert_eq!(
        lines[2],
        "3,4155550132,+14155550132,country_rule:us-marketing"
    );
    assert_eq!(lines[3], "4,+1 416 555 0132,+14165550132,missing");
    assert_eq!(lines[7], "8,not a number,,invalid");
}

#[test]
fn without_a_category_the_uncovered_file_is_unchanged() {
    let ledger = format!("{HEADER}+14155550132,opt_in,2026-06-01,web,\n");
    let f = Files::new("phone\n+1 415 555 0132\n+1 416 555 0132\n", &ledger);
    let o = compute(&f.a(), &f.l(), &params(365)).unwrap();
    let out = f.dir.path().join("u.csv");
    o.write_uncovered(&f.a(), parse_region("US").unwrap(), &out)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "line,phone,e164,reason\n3,+1 416 555 0132,+14165550132,missing\n"
    );
}
