//! `wabaguard run`: one audit of every configured account.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CmdError, CmdResult, Outcome};
use crate::audit;
use crate::cli::{GlobalArgs, RunArgs};
use crate::collect::{self, CollectOptions};
use crate::config::{AccountConfig, Config};
use crate::report::{self, AccountStatus, Report};
use crate::rulepack::RulePack;
use crate::snapshot::SourceKind;

pub fn run(args: &RunArgs, g: &GlobalArgs) -> CmdResult {
    let cfg = Config::load(&args.config)?;
    if cfg.accounts.is_empty() {
        return Err(CmdError(format!(
            "{}: no [[accounts]] configured; nothing to audit",
            args.config.display()
        )));
    }
    let pack = load_pack(&cfg)?;
    let now = super::now()?;
    let out_dir = args.out.clone().unwrap_or_else(|| cfg.reports_dir());
    let accounts: Vec<&AccountConfig> = cfg.accounts.iter().collect();
    let opts = CollectOptions {
        progress: super::progress_bar(g.quiet),
    };
    let collected = collect::collect_all(&cfg, &accounts, &opts);
    // Graph accounts: keep what was collected next to the report, in the
    // exports layout, so a run can be replayed offline and diffed later.
    let mut extra = Vec::new();
    let mut snapshots = Vec::with_capacity(collected.len());
    let mut folders = std::collections::HashSet::new();
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
    let mut report = audit::audit_collected(&cfg, &pack, now, snapshots, Some(&out_dir));
    let audited = report
        .accounts
        .iter()
        .filter(|a| a.status == AccountStatus::Audited)
        .count();
    let dir = report::write_run_with(&mut report, &out_dir, &extra).map_err(|e| {
        CmdError(format!(
            "cannot write reports to {}: {e}",
            out_dir.display()
        ))
    })?;
    if !g.quiet {
        print_summary(&report, &dir);
    }
    if audited == 0 {
        return Err(CmdError(
            "no account could be audited (see the errors above and in the report)".into(),
        ));
    }
    if let Some(min) = args.fail_on {
        if report.reaches(min) {
            return Ok(Outcome::Policy);
        }
    }
    Ok(Outcome::Ok)
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

/// Loads the embedded rule packs plus the config's extra folders.
pub fn load_pack(cfg: &Config) -> Result<RulePack, CmdError> {
    let extra: Vec<_> = cfg
        .rules
        .extra_dirs
        .iter()
        .map(|d| cfg.resolve(d))
        .collect();
    RulePack::load(&cfg.rules, None, &extra).map_err(CmdError::from)
}

fn print_summary(r: &Report, dir: &Path) {
    let mut out = std::io::stdout().lock();
    let audited = r
        .accounts
        .iter()
        .filter(|a| a.status == AccountStatus::Audited)
        .count();
    let failed = r.accounts.len() - audited;
    let _ = writeln!(
        out,
        "wabaguard run {} — {} account{} audited{}",
        r.run_id,
        audited,
        if audited == 1 { "" } else { "s" },
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    );
    let width = r.accounts.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in &r.accounts {
        if a.status == AccountStatus::Failed {
            let _ = writeln!(
                out,
                "  {:<width$}  NOT AUDITED: {}",
                a.name,
                a.error.as_deref().unwrap_or("")
            );
            continue;
        }
        let c = &a.summary;
        let _ = writeln!(
            out,
            "  {:<width$}  {:<8} {:>3}/100   critical {} · high {} · medium {} · low {} · info {}   ({} templates)",
            a.name,
            a.risk.level.as_str().to_uppercase(),
            a.risk.score,
            c.critical,
            c.high,
            c.medium,
            c.low,
            c.info,
            a.templates
        );
        let _ = writeln!(out, "  {:<width$}  {}", "", a.headline);
        if let Some(e) = a
            .executive
            .as_ref()
            .filter(|e| e.stage != crate::risk::Stage::None)
        {
            let _ = writeln!(out, "  {:<width$}  stage: {}", "", e.stage_sentence);
        }
    }
    let _ = writeln!(out, "Reports: {}", dir.join("report.md").display());
    let _ = writeln!(out, "         {}", dir.join("report.json").display());
    if r.accounts
        .iter()
        .any(|a| a.source == SourceKind::Graph && a.status == AccountStatus::Audited)
    {
        let _ = writeln!(
            out,
            "Snapshots of live accounts: {}",
            dir.join("snapshots").display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::snapshot_folder;

    #[test]
    fn snapshot_folders_are_plain_names() {
        assert_eq!(snapshot_folder("acme-eu"), "acme-eu");
        assert_eq!(snapshot_folder("a/b c"), "a_b_c");
        assert_eq!(snapshot_folder(".."), "_..");
        assert_eq!(snapshot_folder(""), "_");
    }
}
