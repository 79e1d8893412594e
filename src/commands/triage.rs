//! `wabaguard triage FINGERPRINT --state ... --reason ...`: record a triage
//! decision in the triage file (beside the suppressions file). The entry is
//! a kind of suppression entry: `run`, `gate` and the reports apply it
//! through the same path as `[[suppress]]` entries (see `suppress`).

use std::io::Write;

use chrono::NaiveDate;

use super::{CmdError, CmdResult, Outcome};
use crate::checks::{Finding, TriageState, evidence_digest};
use crate::cli::{GlobalArgs, TriageArgs};
use crate::config::Config;
use crate::report::{Report, history};
use crate::suppress::{TriageRecord, check_fingerprint, record_triage};

pub fn triage(args: &TriageArgs, g: &GlobalArgs) -> CmdResult {
    let cfg = Config::load(&args.config)?;
    let now = super::now()?;
    let fp = args.fingerprint.trim().to_ascii_lowercase();
    check_fingerprint(&fp).map_err(|m| CmdError(m.replacen("`fingerprint = ", "`", 1)))?;
    let reason = args.reason.trim();
    if reason.is_empty() {
        return Err(CmdError(
            "--reason is empty: say why (it is shown in every report)".into(),
        ));
    }
    let until = match &args.until {
        None => None,
        Some(u) => {
            let day = NaiveDate::parse_from_str(u.trim(), "%Y-%m-%d")
                .map_err(|_| CmdError(format!("--until `{u}` is not a date (YYYY-MM-DD)")))?;
            if args.state == TriageState::InReview {
                return Err(CmdError(
                    "--until applies to accepted and false_positive decisions (in_review suppresses nothing)"
                        .into(),
                ));
            }
            if day < now.date_naive() {
                return Err(CmdError(format!(
                    "--until {day} is in the past (today is {})",
                    now.date_naive()
                )));
            }
            Some(day)
        }
    };
    let reports_dir = cfg.reports_dir();
    let mut stderr = std::io::stderr().lock();
    let (evidence, account) = match latest_finding(&reports_dir, &fp) {
        Latest::Found(account, f) => (Some(evidence_digest(&f)), Some(account)),
        Latest::Missing(run_id) => {
            let _ = writeln!(
                stderr,
                "warning: fingerprint {fp} is not in the latest report (run {run_id} in {}); \
                 recorded anyway, without an evidence digest",
                reports_dir.display()
            );
            (None, None)
        }
        Latest::NoReport(why) => {
            let _ = writeln!(
                stderr,
                "warning: cannot check fingerprint {fp} against the latest report ({why}); \
                 recorded anyway, without an evidence digest"
            );
            (None, None)
        }
    };
    let path = cfg.triage_file();
    let rec = TriageRecord {
        fingerprint: fp.clone(),
        state: args.state,
        reason: reason.to_owned(),
        until,
        evidence,
        account: account.clone(),
        recorded_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let done = record_triage(&path, &rec).map_err(CmdError)?;
    if !g.quiet {
        let mut out = super::stdout();
        let _ = writeln!(
            out,
            "{fp}: {}{}{} — {} {} (line {})",
            args.state.as_str(),
            until.map(|u| format!(" until {u}")).unwrap_or_default(),
            account
                .map(|a| format!(" in account {a}"))
                .unwrap_or_default(),
            if done.replaced {
                "replaced the earlier decision in"
            } else {
                "recorded in"
            },
            path.display(),
            done.line
        );
    }
    Ok(Outcome::Ok)
}

enum Latest {
    /// The account it is in, and the finding.
    Found(String, Box<Finding>),
    /// Not in the latest report (its run id).
    Missing(String),
    NoReport(String),
}

/// The finding with fingerprint `fp` in the latest report under `dir`.
fn latest_finding(dir: &std::path::Path, fp: &str) -> Latest {
    let Some((run_id, folder)) = history::latest(dir) else {
        return Latest::NoReport(format!("no report in {}", dir.display()));
    };
    let path = folder.join("report.json");
    let report: Report = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => return Latest::NoReport(format!("{}: {e}", path.display())),
    };
    for a in report.accounts {
        if let Some(f) = a.findings.into_iter().find(|f| f.fingerprint == fp) {
            return Latest::Found(a.name, Box::new(f));
        }
    }
    Latest::Missing(run_id)
}
