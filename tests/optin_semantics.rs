//! The opt-in semantics of issue 4, one test per rule.

use std::path::Path;

use wabaguard::collect::consent::phone::parse_region;
use wabaguard::collect::consent::{ConsentError, OptinParams, compute, timestamp};
use wabaguard::snapshot::optin::Coverage;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(audience: &str, ledger: &str) -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("audience.csv"), audience).unwrap();
        std::fs::write(dir.path().join("ledger.csv"), ledger).unwrap();
        Files { dir }
    }
    fn audience(&self) -> std::path::PathBuf {
        self.dir.path().join("audience.csv")
    }
    fn ledger(&self) -> std::path::PathBuf {
        self.dir.path().join("ledger.csv")
    }
}

fn params(as_of: &str, max_age_days: u32) -> OptinParams {
    OptinParams {
        region: parse_region("US").unwrap(),
        as_of: timestamp::parse(as_of.as_bytes()).unwrap(),
        max_age_days,
        phone_column: None,
        threads: 2,
    }
}

fn run_with(audience: &str, ledger: &str, p: &OptinParams) -> Coverage {
    let f = Files::new(audience, ledger);
    let c = compute(&f.audience(), &f.ledger(), p).unwrap().coverage;
    assert_eq!(
        c.covered + c.stale + c.revoked + c.missing,
        c.unique,
        "{c:?}"
    );
    c
}

fn run(audience: &str, ledger: &str, as_of: &str) -> Coverage {
    run_with(audience, ledger, &params(as_of, 365))
}

const LEDGER_HEADER: &str = "phone,event,timestamp,source\n";

/// (covered, stale, revoked, missing)
fn verdicts(c: &Coverage) -> (u64, u64, u64, u64) {
    (c.covered, c.stale, c.revoked, c.missing)
}

#[test]
fn audience_has_a_header_row_and_other_columns_are_ignored() {
    let c = run(
        "first_name,phone,segment\nAna,+12025550143,vip\nBo,+12025550178,\n",
        LEDGER_HEADER,
        "2026-11-24",
    );
    assert_eq!((c.total, c.invalid, c.unique), (2, 0, 2));
    assert_eq!(c.phone_column, "phone");
}

#[test]
fn phone_column_aliases_in_order_of_preference() {
    for (header, name) in [
        ("phone_number", "phone_number"),
        ("wa_id", "wa_id"),
        ("msisdn", "msisdn"),
        ("Phone", "Phone"),
    ] {
        let c = run(
            &format!("name,{header}\nAna,+12025550143\n"),
            LEDGER_HEADER,
            "2026-11-24",
        );
        assert_eq!((c.unique, c.phone_column.as_str()), (1, name), "{header}");
    }
    // `phone` wins over the other names.
    let c = run(
        "wa_id,phone\nnot-a-number,+12025550143\n",
        LEDGER_HEADER,
        "2026-11-24",
    );
    assert_eq!(
        (c.unique, c.invalid, c.phone_column.as_str()),
        (1, 0, "phone")
    );
}

#[test]
fn phone_column_option_names_another_column() {
    let f = Files::new(
        "name,celular,phone\nAna,+5511961234567,junk\nBo,+5511961234568,junk\n",
        LEDGER_HEADER,
    );
    let mut p = params("2026-11-24", 365);
    p.phone_column = Some("celular".into());
    let c = compute(&f.audience(), &f.ledger(), &p).unwrap().coverage;
    assert_eq!(
        (c.unique, c.invalid, c.phone_column.as_str()),
        (2, 0, "celular")
    );
    p.phone_column = Some("mobile".into());
    let err = compute(&f.audience(), &f.ledger(), &p)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("no column `mobile`") && err.contains("line 1"),
        "{err}"
    );
}

#[test]
fn ledger_columns_are_found_by_name() {
    let c = run(
        "phone\n+12025550143\n",
        "source,timestamp,phone,event\nweb,2026-06-01T00:00:00Z,+12025550143,opt_in\n",
        "2026-11-24",
    );
    assert_eq!(verdicts(&c), (1, 0, 0, 0));
}

#[test]
fn total_invalid_unique_and_duplicates() {
    let c = run(
        "phone\n(202) 555-0143\n+1 202 555 0143\n2025550143\n202.555.0178\nN/A\n1-800-FLOWERS\n\n+44 20 7946 0958\n",
        LEDGER_HEADER,
        "2026-11-24",
    );
    // The blank line is not a row; N/A and the vanity number are invalid.
    assert_eq!((c.total, c.invalid, c.unique, c.duplicates), (7, 2, 3, 2));
}

#[test]
fn plus_or_00_is_international_otherwise_national_of_the_region() {
    let audience = "phone\n+49 30 901820\n0049 30 901820\n030 901820\n";
    let c = run(audience, LEDGER_HEADER, "2026-11-24");
    // In the US, `030 901820` is not a valid national number.
    assert_eq!((c.unique, c.invalid, c.duplicates), (1, 1, 1));
    let mut p = params("2026-11-24", 365);
    p.region = parse_region("DE").unwrap();
    let c = run_with(audience, LEDGER_HEADER, &p);
    assert_eq!((c.unique, c.invalid, c.duplicates), (1, 0, 2));
}

#[test]
fn us_exit_code_011_is_not_international() {
    let c = run(
        "phone\n011 44 20 7946 0958\n+44 20 7946 0958\n",
        LEDGER_HEADER,
        "2026-11-24",
    );
    assert_eq!((c.unique, c.invalid), (1, 1));
}

#[test]
fn other_characters_and_vanity_letters_are_invalid() {
    let c = run(
        "phone\n1-800-FLOWERS\n202/555/0143\n#2025550143\n*2025550143\n202-555-0143 ext 7\n2025550143\n",
        LEDGER_HEADER,
        "2026-11-24",
    );
    assert_eq!((c.total, c.invalid, c.unique), (6, 5, 1));
}

#[test]
fn numbers_invalid_for_their_country_are_invalid() {
    // 8 digits after Brazil's area code is a landline shape no longer
    // valid for mobiles; 000 is no US area code.
    let c = run(
        "phone\n+55 11 6123-4567\n000-000-0000\n+1 202 555 0143\n",
        LEDGER_HEADER,
        "2026-11-24",
    );
    assert_eq!((c.invalid, c.unique), (2, 1));
}

#[test]
fn ledger_events_after_as_of_are_ignored_but_one_exactly_at_as_of_counts() {
    let audience = "phone\n+12025550143\n+12025550178\n";
    let ledger = format!(
        "{LEDGER_HEADER}+12025550143,opt_in,2026-11-24T12:00:00Z,web\n+12025550178,opt_in,2026-11-24T12:00:00.000001Z,web\n"
    );
    let c = run(audience, &ledger, "2026-11-24T12:00:00Z");
    assert_eq!(verdicts(&c), (1, 0, 0, 1));
    assert_eq!(c.ledger_future, 1);
    // A later opt-out does not revoke what held at as_of.
    let ledger = format!(
        "{LEDGER_HEADER}+12025550143,opt_in,2026-11-01T00:00:00Z,web\n+12025550143,opt_out,2026-11-25T00:00:00Z,chat\n"
    );
    assert_eq!(
        verdicts(&run("phone\n+12025550143\n", &ledger, "2026-11-24")),
        (1, 0, 0, 0)
    );
}

#[test]
fn date_only_as_of_means_midnight_utc() {
    let ledger = format!("{LEDGER_HEADER}+12025550143,opt_in,2026-11-24T00:00:00Z,web\n");
    assert_eq!(
        verdicts(&run("phone\n+12025550143\n", &ledger, "2026-11-24")),
        (1, 0, 0, 0)
    );
    let ledger = format!("{LEDGER_HEADER}+12025550143,opt_in,2026-11-24T00:00:01Z,web\n");
    assert_eq!(
        verdicts(&run("phone\n+12025550143\n", &ledger, "2026-11-24")),
        (0, 0, 0, 1)
    );
}

#[test]
fn date_only_ledger_timestamps_mean_midnight_utc() {
    let ledger = format!(
        "{LEDGER_HEADER}+12025550143,opt_in,2026-11-24,web\n+12025550143,opt_out,2026-11-23T23:59:59Z,web\n"
    );
    assert_eq!(
        verdicts(&run("phone\n+12025550143\n", &ledger, "2026-11-24")),
        (1, 0, 0, 0)
    );
}

#[test]
fn invalid_ledger_phones_count_whatever_their_timestamp() {
    let ledger = format!(
        "{LEDGER_HEADER}not a phone,opt_in,2026-01-01T00:00:00Z,web\n+1 999 000 0000,opt_in,2099-01-01T00:00:00Z,web\n+1 (415) 555-FLOW,bogus,never,web\n"
    );
    let c = run("phone\n+12025550143\n", &ledger, "2026-11-24");
    assert_eq!(
        (
            c.ledger_rows,
            c.ledger_invalid,
            c.ledger_errors,
            c.ledger_future
        ),
        (3, 3, 0, 0)
    );
}

#[test]
fn unknown_events_and_bad_timestamps_are_errors_with_line_numbers() {
    let ledger = format!(
        "{LEDGER_HEADER}+12025550143,subscribe,2026-01-01T00:00:00Z,web\n+12025550143,opt_in,01/06/2026,web\n+12025550143,OPT_IN,2026-01-01T00:00:00Z,web\n+12025550143,opt_in,2026-02-30,web\n+12025550143,opt_in\n+12025550143,opt_out,2026-01-01T00:00:00,web\n+12025550143,opt_in,2026-01-01T00:00:00Z,web\n"
    );
    let c = run("phone\n+12025550143\n", &ledger, "2026-11-24");
    assert_eq!(
        (c.ledger_rows, c.ledger_errors, c.ledger_invalid),
        (7, 6, 0)
    );
    let lines: Vec<u64> = c.ledger_error_samples.iter().map(|i| i.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6]);
    assert!(
        c.ledger_error_samples[0]
            .reason
            .contains("unknown event `subscribe`")
    );
    assert!(
        c.ledger_error_samples[1]
            .reason
            .contains("unparseable timestamp `01/06/2026`")
    );
    assert!(c.ledger_error_samples[4].reason.contains("no timestamp"));
    // Only the readable opt-in counted (the unreadable opt-out did not).
    assert_eq!(verdicts(&c), (1, 0, 0, 0));
}

#[test]
fn an_unreadable_ledger_row_never_counts_as_consent() {
    let ledger = format!(
        "{LEDGER_HEADER}+12025550143,opt_in,yesterday,web\n+12025550178,opt-in,2026-06-01T00:00:00Z,web\n+12125550199,opt_in,,web\n"
    );
    let c = run(
        "phone\n+12025550143\n+12025550178\n+12125550199\n",
        &ledger,
        "2026-11-24",
    );
    assert_eq!(verdicts(&c), (0, 0, 0, 3));
    assert_eq!(c.ledger_errors, 3);
}

#[test]
fn the_latest_event_decides() {
    let ledger = format!(
        "{LEDGER_HEADER}+12025550143,opt_out,2026-09-01T00:00:00Z,chat\n+12025550143,opt_in,2026-10-01T00:00:00Z,web\n+12025550178,opt_in,2026-10-01T00:00:00Z,web\n+1 (202) 555-0178,opt_out,2026-09-30T23:00:00-05:00,chat\n"
    );
    // 0143: opt-in after the opt-out (listed after it); 0178: the opt-out,
    // written in another format and offset, is an hour later.
    let c = run("phone\n+12025550143\n+12025550178\n", &ledger, "2026-11-24");
    assert_eq!(verdicts(&c), (1, 0, 1, 0));
}

#[test]
fn opt_out_wins_on_equal_timestamps() {
    for ledger in [
        "+12025550143,opt_in,2026-10-01T00:00:00Z,web\n+12025550143,opt_out,2026-10-01T00:00:00Z,chat\n",
        "+12025550143,opt_out,2026-10-01T00:00:00Z,chat\n+12025550143,opt_in,2026-10-01T00:00:00Z,web\n",
        "+12025550143,opt_in,2026-10-01T02:00:00+02:00,web\n(202) 555-0143,opt_out,2026-10-01,chat\n",
    ] {
        let c = run(
            "phone\n+12025550143\n",
            &format!("{LEDGER_HEADER}{ledger}"),
            "2026-11-24",
        );
        assert_eq!(verdicts(&c), (0, 0, 1, 0), "{ledger}");
    }
}

#[test]
fn exactly_max_age_days_old_is_still_covered() {
    let as_of = "2026-11-24T12:00:00Z";
    let mut p = params(as_of, 30);
    let at = |s: &str| format!("{LEDGER_HEADER}+12025550143,opt_in,{s},web\n");
    let c = run_with("phone\n+12025550143\n", &at("2026-10-25T12:00:00Z"), &p);
    assert_eq!(verdicts(&c), (1, 0, 0, 0));
    let c = run_with(
        "phone\n+12025550143\n",
        &at("2026-10-25T11:59:59.999999Z"),
        &p,
    );
    assert_eq!(verdicts(&c), (0, 1, 0, 0));
    p.max_age_days = 365;
    let c = run_with("phone\n+12025550143\n", &at("2025-11-24T12:00:00Z"), &p);
    assert_eq!(verdicts(&c), (1, 0, 0, 0));
}

#[test]
fn revoked_stale_covered_missing() {
    let ledger = format!(
        "{LEDGER_HEADER}+12025550143,opt_in,2026-06-01T00:00:00Z,web\n+12025550178,opt_in,2024-06-01T00:00:00Z,web\n+12125550199,opt_in,2026-06-01T00:00:00Z,web\n+12125550199,opt_out,2026-07-01T00:00:00Z,chat\n+16175550100,opt_in,2026-06-01T00:00:00Z,web\n"
    );
    let c = run(
        "phone\n+12025550143\n+12025550178\n+12125550199\n+13125550110\n",
        &ledger,
        "2026-11-24",
    );
    assert_eq!(verdicts(&c), (1, 1, 1, 1));
    assert_eq!(c.coverage, 0.25);
    // The ledger number that is not in the audience changes nothing.
    assert_eq!(
        (c.ledger_rows, c.ledger_invalid, c.ledger_errors),
        (5, 0, 0)
    );
}

#[test]
fn coverage_is_zero_when_nothing_is_unique() {
    let c = run("phone\nN/A\n", LEDGER_HEADER, "2026-11-24");
    assert_eq!((c.total, c.invalid, c.unique, c.coverage), (1, 1, 0, 0.0));
    let c = run("phone\n", LEDGER_HEADER, "2026-11-24");
    assert_eq!((c.total, c.unique, c.coverage), (0, 0, 0.0));
}

#[test]
fn duplicates_share_one_verdict() {
    let ledger = format!("{LEDGER_HEADER}+12025550143,opt_in,2026-06-01T00:00:00Z,web\n");
    let c = run(
        "phone\n(202) 555-0143\n+1 202 555 0143\n202.555.0143\n",
        &ledger,
        "2026-11-24",
    );
    assert_eq!((c.unique, c.duplicates, c.covered), (1, 2, 1));
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/optin")
        .join(name)
}

fn fixture_run(audience: &str, ledger: &str) -> Result<Coverage, ConsentError> {
    compute(
        &fixture(audience),
        &fixture(ledger),
        &params("2026-11-24", 365),
    )
    .map(|o| o.coverage)
}

#[test]
fn mixed_formats_fixture() {
    let c = fixture_run("audience_mixed_formats.csv", "ledger_mixed_events.csv").unwrap();
    assert_eq!((c.total, c.invalid, c.unique, c.duplicates), (12, 4, 7, 1));
    assert_eq!(verdicts(&c), (3, 1, 1, 2));
    assert_eq!(
        (
            c.ledger_rows,
            c.ledger_invalid,
            c.ledger_errors,
            c.ledger_future
        ),
        (11, 1, 2, 1)
    );
}

#[test]
fn bom_and_crlf() {
    let c = fixture_run("audience_bom_crlf.csv", "ledger_mixed_events.csv").unwrap();
    assert_eq!(
        (c.total, c.invalid, c.unique, c.phone_column.as_str()),
        (3, 0, 3, "phone")
    );
}

#[test]
fn quoted_fields_with_embedded_newlines() {
    let c = fixture_run("audience_quoted_newlines.csv", "ledger_quoted_fields.csv").unwrap();
    assert_eq!((c.total, c.invalid, c.unique, c.ragged_rows), (3, 0, 3, 0));
    assert_eq!((c.ledger_rows, c.ledger_errors), (2, 0));
    assert_eq!(verdicts(&c), (2, 0, 0, 1));
}

#[test]
fn ragged_rows_are_counted_and_reported() {
    let c = fixture_run("audience_ragged_rows.csv", "ledger_mixed_events.csv").unwrap();
    assert_eq!((c.total, c.invalid, c.unique, c.ragged_rows), (4, 0, 4, 3));
    let lines: Vec<u64> = c.ragged_samples.iter().map(|i| i.line).collect();
    assert_eq!(lines, [3, 4, 5]);
    assert_eq!(c.ragged_samples[0].reason, "2 fields, the header has 3");
}

#[test]
fn non_utf8_bytes_make_that_value_invalid_only() {
    let c = fixture_run("audience_non_utf8.csv", "ledger_non_utf8.csv").unwrap();
    assert_eq!((c.total, c.invalid, c.unique), (3, 1, 2));
    assert_eq!((c.ledger_rows, c.ledger_errors), (2, 1));
    assert!(c.ledger_error_samples[0].reason.contains("unknown event"));
    assert_eq!(c.ledger_error_samples[0].line, 3);
}

#[test]
fn bad_ledger_rows_fixture() {
    let c = fixture_run("audience_mixed_formats.csv", "ledger_bad_rows.csv").unwrap();
    assert_eq!(
        (c.ledger_rows, c.ledger_invalid, c.ledger_errors),
        (10, 2, 7)
    );
    let lines: Vec<u64> = c.ledger_error_samples.iter().map(|i| i.line).collect();
    assert_eq!(lines, [4, 5, 6, 7, 8]);
}

#[test]
fn header_only_audience_is_empty_not_an_error() {
    let c = fixture_run("audience_header_only.csv", "ledger_mixed_events.csv").unwrap();
    assert_eq!((c.total, c.unique, c.coverage), (0, 0, 0.0));
}

#[test]
fn bad_files_are_errors_naming_file_and_line() {
    let cases = [
        (
            "audience_empty.csv",
            "ledger_mixed_events.csv",
            "empty file",
        ),
        (
            "audience_no_phone_column.csv",
            "ledger_mixed_events.csv",
            "no phone column",
        ),
        (
            "audience_semicolon_delimiter.csv",
            "ledger_mixed_events.csv",
            "`;`-separated",
        ),
        (
            "audience_tab_delimiter.csv",
            "ledger_mixed_events.csv",
            "tab-separated",
        ),
        (
            "audience_mixed_formats.csv",
            "ledger_missing_timestamp_column.csv",
            "missing: timestamp",
        ),
        (
            "audience_mixed_formats.csv",
            "audience_empty.csv",
            "empty file",
        ),
        (
            "does_not_exist.csv",
            "ledger_mixed_events.csv",
            "does_not_exist.csv",
        ),
    ];
    for (a, l, want) in cases {
        let err = fixture_run(a, l).err().unwrap().to_string();
        assert!(err.contains(want), "{a} {l}: {err}");
        if want != "empty file" && !want.ends_with(".csv") {
            assert!(err.contains("line 1"), "{a} {l}: {err}");
        }
        let file = if err.contains(l) { l } else { a };
        assert!(err.contains(file), "{a} {l}: {err}");
    }
}

#[test]
fn uncovered_rows_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("drop.csv");
    let p = params("2026-11-24", 365);
    let o = compute(
        &fixture("audience_mixed_formats.csv"),
        &fixture("ledger_mixed_events.csv"),
        &p,
    )
    .unwrap();
    let n = o
        .write_uncovered(&fixture("audience_mixed_formats.csv"), p.region, &out)
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text,
        "line,phone,e164,reason\n\
         4,202.555.0178,+12025550178,stale\n\
         5,1-212-555-0199,+12125550199,revoked\n\
         6,001 312 555 0110,+13125550110,missing\n\
         8,+55 11 96123-4567,+5511961234567,missing\n\
         10,N/A,,invalid\n\
         11,1-800-FLOWERS,,invalid\n\
         12,415-555-01,,invalid\n\
         13,,,invalid\n"
    );
    assert_eq!(n, 8);
    // Written atomically: nothing else left in the folder.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn big_file_streams_across_blocks_and_threads() {
    // ~40 MB: several blocks per thread; one quoted row near the end switches
    // to the csv crate mid-file.
    let mut audience = String::from("phone,name\n");
    let mut ledger = String::from(LEDGER_HEADER);
    for i in 0..1_000_000u64 {
        let n = 2_025_550_000 + (i % 200_000) * 7 % 1_000_000;
        audience.push_str(&format!("+1{n},name {i}\n"));
        if i % 2 == 0 {
            ledger.push_str(&format!(
                "+1{n},opt_in,2026-0{}-01T00:00:00Z,web\n",
                1 + i % 9
            ));
        }
    }
    audience.push_str("\"+1 202 555 0143\",\"last, quoted\"\n");
    let c = run(&audience, &ledger, "2026-11-24");
    assert_eq!(c.total, 1_000_001);
    assert_eq!(c.ledger_rows, 500_000);
    assert_eq!(c.invalid + c.unique + c.duplicates, c.total);
}

#[test]
fn quote_everything_crlf_exports_read_like_plain_ones() {
    // Many CRMs quote every field and end lines with CRLF: those files go
    // through the csv crate, and must give the same counts and line numbers.
    let plain = fixture_run("audience_mixed_formats.csv", "ledger_bad_rows.csv").unwrap();
    let quoted = fixture_run(
        "audience_mixed_formats_quoted_crlf.csv",
        "ledger_bad_rows_quoted_crlf.csv",
    )
    .unwrap();
    assert_eq!(plain, quoted);
    assert_eq!(quoted.ledger_error_samples[0].line, 4);
}

#[test]
fn a_file_without_header_is_an_error_that_masks_its_phone_numbers() {
    let f = Files::new("+14155550132,Ana,vip\n+12025550143,Bo,vip\n", LEDGER_HEADER);
    let err = compute(&f.audience(), &f.ledger(), &params("2026-11-24", 365))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no phone column"), "{err}");
    assert!(err.contains("`+1 ••• ••• 0132`"), "{err}");
    assert!(!err.contains("4155550132"), "{err}");
}
