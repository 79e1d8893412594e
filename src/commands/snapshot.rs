//! `wabaguard snapshot --account NAME --out DIR`: collect one account live
//! and save what was collected as an exports folder (the layout the exports
//! source reads), so a live audit can be replayed offline.

use std::io::Write;
use std::path::Path;

use super::{CmdError, CmdResult, Outcome};
use crate::cli::{GlobalArgs, SnapshotArgs};
use crate::collect::{self, CollectOptions};
use crate::config::Config;

pub fn snapshot(args: &SnapshotArgs, g: &GlobalArgs) -> CmdResult {
    let cfg = Config::load(&args.config)?;
    let Some(account) = cfg.account(&args.account) else {
        let names: Vec<&str> = cfg.accounts.iter().map(|a| a.name.as_str()).collect();
        return Err(CmdError(format!(
            "{}: no account named `{}` (configured: {})",
            args.config.display(),
            args.account,
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )));
    };
    if let Some(dir) = &account.exports {
        return Err(CmdError(format!(
            "account `{}` is read from the exports folder {}; `snapshot` saves what the live Graph API returns, so it needs an account without `exports` (with waba_id and token_env or token_file)",
            account.name,
            cfg.resolve(dir).display()
        )));
    }
    check_out_dir(&args.out)?;
    let opts = CollectOptions {
        progress: super::progress_bar(g.quiet),
    };
    let collected = collect::collect_all(&cfg, &[account], &opts)
        .pop()
        .ok_or_else(|| CmdError("nothing was collected".into()))??;
    let files = collected.export.unwrap_or_default();
    write_tree(&args.out, &files).map_err(|e| {
        CmdError(format!(
            "cannot write the snapshot to {}: {e}",
            args.out.display()
        ))
    })?;
    if !g.quiet {
        let s = &collected.snapshot;
        let mut out = super::stdout();
        writeln!(
            out,
            "Saved account `{}` (WABA {}): {} templates, {} phone numbers, {} business profiles → {}",
            s.account,
            s.waba_id,
            s.templates.len(),
            s.phone_numbers.len(),
            s.profiles.len(),
            args.out.display()
        )?;
        writeln!(
            out,
            "Replay it offline with an account `exports = \"{}\"`.",
            args.out.display()
        )?;
    }
    Ok(Outcome::Ok)
}

fn check_out_dir(out: &Path) -> Result<(), CmdError> {
    if out.is_file() {
        return Err(CmdError(format!(
            "{} exists and is a file; choose a new folder",
            out.display()
        )));
    }
    if out.is_dir() {
        let empty = std::fs::read_dir(out)
            .map_err(|e| CmdError(format!("{}: {e}", out.display())))?
            .next()
            .is_none();
        if !empty {
            return Err(CmdError(format!(
                "{} exists and is not empty; choose a new folder (a snapshot never overwrites files)",
                out.display()
            )));
        }
    }
    Ok(())
}

/// Writes `files` under a temporary sibling of `out` and renames it into
/// place, so `out` never holds half a snapshot.
fn write_tree(out: &Path, files: &[(std::path::PathBuf, Vec<u8>)]) -> std::io::Result<()> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .suffix(".partial")
        .tempdir_in(parent)?;
    for (rel, bytes) in files {
        let p = tmp.path().join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(p, bytes)?;
    }
    if out.is_dir() {
        // Checked empty above; remove_dir fails if something appeared since.
        std::fs::remove_dir(out)?;
    }
    let tmp_path = tmp.keep();
    std::fs::rename(&tmp_path, out).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&tmp_path);
    })
}
