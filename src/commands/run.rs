//! `wabaguard run`: one audit of every configured account.

use std::io::Write;
use std::path::Path;

use super::{CmdError, CmdResult, Outcome};
use crate::cli::{GlobalArgs, RunArgs, RunFormat};
use crate::config::Config;
use crate::report::lock::ReportsLock;
use crate::report::{AccountStatus, Report, junit, sarif};
use crate::rulepack::RulePack;
use crate::runner::{self, RunOptions};
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
    // One writer per reports folder: refused while a daemon or another run holds it.
    let _lock = ReportsLock::acquire(&out_dir, "run")?;
    let opts = RunOptions {
        out_dir: out_dir.clone(),
        progress: super::progress_bar(g.quiet),
        notify: true,
    };
    let done = runner::run_once(&cfg, &pack, now, &opts).map_err(CmdError)?;
    match args.format {
        RunFormat::Text => {
            if !g.quiet {
                print_summary(&done.report, &done.dir);
            }
        }
        RunFormat::Sarif | RunFormat::Junit => {
            let (name, doc) = if args.format == RunFormat::Sarif {
                let log = sarif::of_report(&pack, &done.report, Some(&args.config));
                let mut bytes = serde_json::to_vec_pretty(&log)?;
                bytes.push(b'\n');
                ("report.sarif", bytes)
            } else {
                let threshold = args.fail_on.unwrap_or(junit::DEFAULT_THRESHOLD);
                (
                    "report.junit.xml",
                    junit::of_report(&done.report, threshold).into_bytes(),
                )
            };
            let path = done.dir.join(name);
            crate::fsutil::write_atomic(&path, &doc)
                .map_err(|e| CmdError(format!("{}: cannot write: {e}", path.display())))?;
            let mut out = super::stdout();
            out.write_all(&doc).and_then(|()| out.flush())?;
            if !g.quiet {
                eprintln!("Wrote {}", path.display());
            }
        }
    }
    if done.audited == 0 {
        return Err(CmdError(
            "no account could be audited (see the errors above and in the report)".into(),
        ));
    }
    if let Some(min) = args.fail_on {
        if done.report.reaches(min) {
            return Ok(Outcome::Policy);
        }
    }
    Ok(Outcome::Ok)
}

pub use crate::runner::snapshot_folder;

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
    let mut out = super::stdout();
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
        if let Some(d) = &a.diff {
            let _ = writeln!(
                out,
                "  {:<width$}  since run {}: {} new, {} resolved, score {:+}",
                "",
                d.previous_run,
                d.new_counted().count(),
                d.resolved.len(),
                d.score.change
            );
        }
    }
    if let Some(s) = r.suppressions.as_ref().filter(|s| s.attention() > 0) {
        let _ = writeln!(
            out,
            "Suppressions need attention ({}): see report.md",
            s.file
        );
    }
    let _ = writeln!(out, "Reports: {}", dir.join("report.html").display());
    let _ = writeln!(out, "         {}", dir.join("report.md").display());
    let _ = writeln!(out, "         {}", dir.join("report.json").display());
    let _ = writeln!(out, "         {}", dir.join("findings.csv").display());
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
