//! `findings.csv`: one row per finding, for spreadsheets.
//!
//! Columns: `account,check,rule,severity,subject,message,remediation,
//! fingerprint,first_seen,suppressed`. Quoting is the csv crate's (commas,
//! quotes and newlines inside a cell are safe). Text that a spreadsheet
//! would run as a formula — a cell starting with `=`, `+`, `-`, `@`, a tab
//! or a carriage return — gets a leading apostrophe, because template text
//! and names come from outside.

use super::Report;

pub const HEADER: [&str; 10] = [
    "account",
    "check",
    "rule",
    "severity",
    "subject",
    "message",
    "remediation",
    "fingerprint",
    "first_seen",
    "suppressed",
];

/// Renders findings.csv (accounts in report order, findings in report order).
pub fn render(report: &Report) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(HEADER)?;
    for a in &report.accounts {
        for f in &a.findings {
            let subject = f.subject.label();
            w.write_record([
                defuse(&a.name).as_ref(),
                defuse(&f.check).as_ref(),
                defuse(&f.rule).as_ref(),
                f.severity.as_str(),
                defuse(&subject).as_ref(),
                defuse(&f.message).as_ref(),
                defuse(&f.remediation).as_ref(),
                defuse(&f.fingerprint).as_ref(),
                defuse(f.first_seen.as_deref().unwrap_or("")).as_ref(),
                if f.suppressed { "true" } else { "false" },
            ])?;
        }
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// Guards a cell against formula injection (CSV injection): a leading
/// apostrophe makes spreadsheets show the text instead of evaluating it.
pub fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}
