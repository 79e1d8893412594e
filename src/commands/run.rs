//! `wabaguard run`: one audit of every configured account.

use std::io::Write;
use std::path::Path;

use super::{CmdError, CmdResult, Outcome};
use crate::audit;
use crate::cli::{GlobalArgs, RunArgs};
use crate::config::Config;
use crate::report::{self, AccountStatus, Report};
use crate::rulepack::RulePack;

pub fn run(args: &RunArgs, g: &GlobalArgs) -> CmdResult {
    let cfg = Config::load(&args.config)?;
    if cfg.accounts.is_empty() {
        return Err(CmdError(format!(
            "{}: no [[accounts]] configured; nothing to audit",
            args.config.display()
        )));
    }
    let pack = load_pack(&cfg)?;
    let out_dir = args.out.clone().unwrap_or_else(|| cfg.reports_dir());
    let mut report = audit::audit_with_history(&cfg, &pack, super::now()?, Some(&out_dir));
    let audited = report
        .accounts
        .iter()
        .filter(|a| a.status == AccountStatus::Audited)
        .count();
    let dir = report::write_run(&mut report, &out_dir).map_err(|e| {
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
}
