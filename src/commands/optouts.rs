//! `wabaguard optouts`: opt-out requests missing from a consent ledger.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CmdError, CmdResult, Outcome};
use crate::cli::{GlobalArgs, OptinFormat, OptoutsArgs};
use crate::collect::consent::phone;
use crate::collect::optout::{self, OptoutParams};
use crate::config::Config;
use crate::rulepack::RulePack;
use crate::snapshot::optout::OptoutAudit;

pub fn optouts(args: &OptoutsArgs, g: &GlobalArgs) -> CmdResult {
    let cfg = config(args.config.as_deref(), g.quiet)?;
    let pack = match &cfg {
        Some(c) => super::run::load_pack(c)?,
        None => RulePack::builtin()?,
    };
    let default_region = cfg.as_ref().map_or("US", |c| c.optin.region.as_str());
    let region_code = args.region.as_deref().unwrap_or(default_region);
    let region =
        phone::parse_region(region_code).map_err(|m| CmdError(format!("--region: {m}")))?;
    let mut payloads: Vec<String> = cfg
        .as_ref()
        .map(|c| c.optout.payloads.clone())
        .unwrap_or_default();
    payloads.extend(args.payloads.iter().cloned());
    let params = OptoutParams {
        inbound: args.inbound.clone(),
        send_log: args.send_log.clone(),
        consent: args.consent.clone(),
        region,
        payloads,
        threads: args.threads,
        audience: String::new(),
    };
    let outcome = optout::compute(&pack, &params)?;
    let emitted = match &args.emit_ledger_rows {
        Some(out) => Some((out.clone(), outcome.write_ledger_rows(out)?)),
        None => None,
    };
    let a = &outcome.audit;
    let mask = cfg.as_ref().is_none_or(|c| c.reports.mask_phone_numbers);
    let mut stdout = super::stdout();
    match args.format {
        OptinFormat::Json => {
            let mut v = serde_json::to_value(a)?;
            if let Some(obj) = v.as_object_mut() {
                obj.remove("audience");
                if mask {
                    if let Some(samples) = obj.get_mut("samples").and_then(|s| s.as_array_mut()) {
                        for s in samples {
                            if let Some(p) = s.get_mut("phone") {
                                let masked = crate::mask::mask_phone(p.as_str().unwrap_or(""));
                                *p = masked.into();
                            }
                        }
                    }
                }
                if let Some((path, rows)) = &emitted {
                    obj.insert(
                        "ledger_rows".into(),
                        serde_json::json!({ "file": path.display().to_string(), "rows": rows }),
                    );
                }
            }
            serde_json::to_writer_pretty(&mut stdout, &v)?;
            writeln!(stdout)?;
        }
        OptinFormat::Text => text(&mut stdout, a, mask, emitted.as_ref())?,
    }
    if args.fail_on_unrecorded && a.unrecorded > 0 {
        return Ok(Outcome::Policy);
    }
    Ok(Outcome::Ok)
}

/// `--config`, else `./config.toml` when it loads, else none.
fn config(path: Option<&Path>, quiet: bool) -> Result<Option<Config>, CmdError> {
    if let Some(p) = path {
        return Ok(Some(Config::load(p)?));
    }
    let p = Path::new("config.toml");
    if !p.is_file() {
        return Ok(None);
    }
    match Config::load(p) {
        Ok(c) => Ok(Some(c)),
        Err(e) => {
            if !quiet {
                eprintln!("warning: ignoring ./config.toml ({e}); using the built-in defaults");
            }
            Ok(None)
        }
    }
}

fn text(
    out: &mut impl Write,
    a: &OptoutAudit,
    mask: bool,
    emitted: Option<&(PathBuf, u64)>,
) -> std::io::Result<()> {
    if a.unrecorded == 0 {
        writeln!(
            out,
            "Every opt-out request is in the ledger: {} found, {} numbers",
            a.detected, a.numbers
        )?;
    } else {
        writeln!(
            out,
            "{} numbers asked to stop but the ledger lacks it: {} opt_out rows missing",
            a.unrecorded_numbers, a.unrecorded
        )?;
    }
    for f in &a.inbound {
        writeln!(out, "  inbound   {f}")?;
    }
    if let Some(l) = &a.send_log {
        writeln!(out, "  send log  {l} (error 131050)")?;
    }
    writeln!(out, "  ledger    {}", a.consent)?;
    writeln!(
        out,
        "  read      {} inbound messages · {} unreadable · {} senders not valid numbers",
        a.messages, a.bad_lines, a.invalid_numbers
    )?;
    for s in &a.bad_samples {
        writeln!(out, "            {}", s.reason)?;
    }
    if a.bad_lines > a.bad_samples.len() as u64 {
        writeln!(
            out,
            "            ... and {} more",
            a.bad_lines - a.bad_samples.len() as u64
        )?;
    }
    let rules: Vec<String> = a.by_rule.iter().map(|(r, n)| format!("{r} {n}")).collect();
    writeln!(
        out,
        "  opt-outs  {} from {} numbers ({})",
        a.detected,
        a.numbers,
        if rules.is_empty() {
            "none".to_owned()
        } else {
            rules.join(", ")
        }
    )?;
    for s in &a.samples {
        writeln!(
            out,
            "  missing   {}  {}  {}  {} \"{}\"",
            crate::mask::phone(&s.phone, mask),
            s.at,
            s.source,
            s.rule,
            s.evidence
        )?;
    }
    if a.unrecorded > a.samples.len() as u64 {
        writeln!(
            out,
            "            ... and {} more",
            a.unrecorded - a.samples.len() as u64
        )?;
    }
    if let Some((path, rows)) = emitted {
        writeln!(
            out,
            "  ledger rows {rows} written to {} (append with: tail -n +2 {} >> {})",
            path.display(),
            path.display(),
            a.consent
        )?;
    }
    Ok(())
}
