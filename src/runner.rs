//! One complete run, the same for `wabaguard run` and every tick of the
//! daemon: collect → audit (with suppressions) → diff against the previous
//! run → write `reports/<run-id>/` atomically → append the history line →
//! point `latest` at it → prune old runs → notify.
//!
//! The caller holds the reports folder's lock ([`crate::report::lock`]).
//! Only collecting-and-writing can fail the run; history, `latest`,
//! retention and notifications are logged when they fail, because the
//! report itself is complete by then.

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use tracing::{info, info_span, warn};

use crate::collect::{self, CollectOptions};
use crate::config::{AccountConfig, Config};
use crate::notify::{self, TargetOutcome};
use crate::report::{self, AccountStatus, Report, history};
use crate::rulepack::RulePack;

/// Where and how to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The reports folder.
    pub out_dir: PathBuf,
    /// Progress of Graph collection (hidden when not on a terminal).
    pub progress: indicatif::ProgressBar,
    /// Post to the `[[notify]]` targets.
    pub notify: bool,
}

/// A finished run.
#[derive(Debug)]
pub struct Completed {
    pub report: Report,
    /// `reports/<run-id>/`.
    pub dir: PathBuf,
    /// Accounts audited (the others failed to collect).
    pub audited: usize,
    /// Run folders removed by retention.
    pub pruned: Vec<String>,
    pub notified: Vec<TargetOutcome>,
}

/// Runs the whole pipeline once. `Err` only when the run folder could not
/// be written (the message names the folder).
pub fn run_once(
    cfg: &Config,
    pack: &RulePack,
    now: DateTime<Utc>,
    opts: &RunOptions,
) -> Result<Completed, String> {
    let span = info_span!("run", run_id = %report::run_id(now));
    let _enter = span.enter();
    let accounts: Vec<&AccountConfig> = cfg.accounts.iter().collect();
    let copts = CollectOptions {
        progress: opts.progress.clone(),
    };
    let collected = collect::collect_all(cfg, &accounts, &copts);
    // Graph accounts: keep what was collected next to the report, in the
    // exports layout, so a run can be replayed offline and diffed later.
    let mut extra = Vec::new();
    let mut snapshots = Vec::with_capacity(collected.len());
    let mut folders = HashSet::new();
    for (account, result) in cfg.accounts.iter().zip(collected) {
        snapshots.push(result.map(|c| {
            if let Some(files) = c.export {
                // Two names can clean up to the same folder ("a/b", "a_b").
                let base = snapshot_folder(&account.name);
                let mut folder = base.clone();
                let mut n = 1;
                while !folders.insert(folder.clone()) {
                    n += 1;
                    folder = format!("{base}-{n}");
                }
                let dir = PathBuf::from("snapshots").join(folder);
                extra.extend(files.into_iter().map(|(rel, bytes)| (dir.join(rel), bytes)));
            }
            c.snapshot
        }));
    }
    let out = &opts.out_dir;
    let mut report = crate::audit::audit_collected(cfg, pack, now, snapshots, Some(out));
    report::diff::attach(&mut report, out);
    let audited = report
        .accounts
        .iter()
        .filter(|a| a.status == AccountStatus::Audited)
        .count();
    let dir = report::write_run_with(&mut report, out, &extra)
        .map_err(|e| format!("cannot write reports to {}: {e}", out.display()))?;
    save_registers(&report, out);
    if let Err(e) = history::append(out, &history::HistoryLine::of(&report)) {
        warn!(error = %e, "cannot append to history.jsonl");
    }
    if let Err(e) = history::set_latest(out, &report.run_id) {
        warn!(error = %e, "cannot update reports/latest");
    }
    let pruned = match history::prune(out, cfg.reports.keep_runs, std::time::SystemTime::now()) {
        Ok(p) => {
            if !p.is_empty() {
                info!(
                    removed = p.len(),
                    keep_runs = cfg.reports.keep_runs,
                    "old runs pruned"
                );
            }
            p
        }
        Err(e) => {
            warn!(error = %e, "retention: cannot prune old runs");
            Vec::new()
        }
    };
    let notified = if opts.notify {
        notify::notify_run(cfg, &report, out, Some(&dir), now)
    } else {
        Vec::new()
    };
    info!(
        run_id = %report.run_id,
        audited,
        failed = report.accounts.len() - audited,
        report = %dir.display(),
        "run complete"
    );
    Ok(Completed {
        report,
        dir,
        audited,
        pruned,
        notified,
    })
}

/// Saves each audited account's template register
/// (`reports/register-<account>.json`) after the run folder is complete.
fn save_registers(report: &Report, out: &std::path::Path) {
    for a in &report.accounts {
        let Some(reg) = &a.template_register else {
            continue;
        };
        match report::register::save(out, reg, &report.run_id) {
            Ok(Some(kept)) => warn!(
                account = %a.name,
                kept = %kept.display(),
                "the unreadable template register was moved aside; a new one was written"
            ),
            Ok(None) => {}
            Err(e) => warn!(account = %a.name, error = %e, "cannot save the template register"),
        }
    }
}

/// A folder name for an account's snapshot: the name with anything but
/// letters, digits, `-`, `_` and `.` replaced by `_` (never `.` or `..`).
pub fn snapshot_folder(account: &str) -> String {
    let s: String = account
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '.') {
        format!("_{s}")
    } else {
        s
    }
}
