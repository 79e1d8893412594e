//! `wabaguard optin`: opt-in coverage of one audience against one ledger.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CmdError, CmdResult, Outcome};
use crate::cli::{GlobalArgs, OptinArgs, OptinFormat};
use crate::collect::consent::{self, OptinParams, phone, timestamp};
use crate::config::Config;
use crate::snapshot::optin::Coverage;

pub fn optin(args: &OptinArgs, g: &GlobalArgs) -> CmdResult {
    let cfg = load_config(args.config.as_deref(), g.quiet)?;
    let defaults = cfg.as_ref().map(|c| c.optin.clone()).unwrap_or_default();
    let as_of = match &args.as_of {
        Some(s) => timestamp::parse(s.as_bytes()).ok_or_else(|| {
            CmdError(format!(
                "--as-of: `{s}` is neither an RFC 3339 timestamp (2026-11-24T23:30:00Z) nor a date (2026-11-24)"
            ))
        })?,
        // Like every command, `now` honours WABAGUARD_NOW.
        None => super::now()?.timestamp() * 1_000_000,
    };
    let region_code = args.region.as_deref().unwrap_or(&defaults.region);
    let region =
        phone::parse_region(region_code).map_err(|m| CmdError(format!("--region: {m}")))?;
    let max_age_days = args.max_age_days.unwrap_or(defaults.max_age_days);
    if max_age_days == 0 {
        return Err(CmdError("--max-age-days: must be at least 1".into()));
    }
    if let Some(f) = args.fail_below {
        if !(0.0..=1.0).contains(&f) {
            return Err(CmdError(format!(
                "--fail-below: {f} is not a share between 0 and 1"
            )));
        }
    }
    let params = OptinParams {
        region,
        as_of,
        max_age_days,
        phone_column: args.phone_column.clone(),
        threads: args.threads,
    };
    let campaign = campaign(args, cfg.as_ref(), as_of, region)?;
    let outcome = consent::compute_campaign(&args.audience, &args.consent, &params, &campaign)?;
    let cov = &outcome.coverage;
    let uncovered = match &args.uncovered {
        Some(out) => {
            let rows = outcome.write_uncovered(&args.audience, region, out)?;
            Some((out.clone(), rows))
        }
        None => None,
    };
    let mut stdout = super::stdout();
    match args.format {
        OptinFormat::Json => {
            #[derive(serde::Serialize)]
            struct Json<'a> {
                audience: String,
                consent: String,
                #[serde(flatten)]
                coverage: &'a Coverage,
                #[serde(skip_serializing_if = "Option::is_none")]
                uncovered: Option<serde_json::Value>,
            }
            let v = Json {
                audience: args.audience.display().to_string(),
                consent: args.consent.display().to_string(),
                coverage: cov,
                uncovered: uncovered.as_ref().map(|(path, rows)| {
                    serde_json::json!({ "file": path.display().to_string(), "rows": rows })
                }),
            };
            serde_json::to_writer_pretty(&mut stdout, &v)?;
            writeln!(stdout)?;
        }
        OptinFormat::Text => text(&mut stdout, args, cov, uncovered.as_ref())?,
    }
    if let Some(min) = args.fail_below {
        if cov.coverage < min {
            return Ok(Outcome::Policy);
        }
    }
    Ok(Outcome::Ok)
}

/// `--config`, else `./config.toml` when it loads, else none (the built-in
/// `[optin]` defaults and rule packs).
fn load_config(config: Option<&Path>, quiet: bool) -> Result<Option<Config>, CmdError> {
    if let Some(p) = config {
        return Ok(Some(Config::load(p)?));
    }
    let p = Path::new("config.toml");
    if !p.is_file() {
        return Ok(None);
    }
    match Config::load(p) {
        Ok(cfg) => Ok(Some(cfg)),
        Err(e) => {
            if !quiet {
                eprintln!(
                    "warning: ignoring ./config.toml ({e}); using the built-in [optin] defaults"
                );
            }
            Ok(None)
        }
    }
}

/// The campaign: `--category` (consent scope and the country rules for it)
/// and the countries `--send-log` shows error 130497 for. Without either,
/// the plain question.
fn campaign(
    args: &OptinArgs,
    cfg: Option<&Config>,
    as_of: timestamp::Micros,
    region: rlibphonenumber::Region,
) -> Result<consent::Campaign, CmdError> {
    use crate::rulepack::countries::{CountryAction, CountryRules, learned_130497};
    let mut rules = Vec::new();
    if let Some(cat) = args.category {
        let extra: Vec<PathBuf> = cfg
            .map(|c| c.rules.extra_dirs.iter().map(|d| c.resolve(d)).collect())
            .unwrap_or_default();
        let day = chrono::DateTime::from_timestamp_micros(as_of)
            .map(|d| d.date_naive())
            .unwrap_or_default();
        rules.extend(
            CountryRules::load(&extra)
                .map_err(|e| CmdError(e.to_string()))?
                .rules
                .into_iter()
                .filter(|r| r.in_force(day) && r.categories.intersects(cat)),
        );
    }
    if let Some(log) = &args.send_log {
        let read = crate::collect::send_log::read_recipients(log, region, 0, -1)
            .map_err(|e| CmdError(e.to_string()))?;
        if read.column.is_none() {
            return Err(CmdError(format!(
                "--send-log {}: no recipient column ({}): the countries of 130497 failures cannot be known",
                log.display(),
                crate::collect::send_log::RECIPIENT_COLUMNS.join(", ")
            )));
        }
        for (code, n) in &read.restricted {
            if let Ok(r) = phone::parse_region(code) {
                rules.push(learned_130497(r, *n, CountryAction::Refuse));
            }
        }
    }
    Ok(consent::Campaign {
        categories: args.category,
        country_rules: rules,
    })
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn text(
    out: &mut impl Write,
    args: &OptinArgs,
    c: &Coverage,
    uncovered: Option<&(PathBuf, u64)>,
) -> std::io::Result<()> {
    let n = thousands;
    writeln!(
        out,
        "Opt-in coverage {:.2}%: {} of {} unique numbers covered",
        c.coverage * 100.0,
        n(c.covered),
        n(c.unique)
    )?;
    writeln!(
        out,
        "  audience  {} (column `{}`, region {})",
        args.audience.display(),
        c.phone_column,
        c.region
    )?;
    writeln!(
        out,
        "            {} rows · {} invalid · {} duplicates · {} unique",
        n(c.total),
        n(c.invalid),
        n(c.duplicates),
        n(c.unique)
    )?;
    if c.ragged_rows > 0 {
        let lines: Vec<String> = c
            .ragged_samples
            .iter()
            .map(|i| i.line.to_string())
            .collect();
        writeln!(
            out,
            "            {} rows with another number of fields than the header (lines {}{})",
            n(c.ragged_rows),
            lines.join(", "),
            if c.ragged_rows > lines.len() as u64 {
                ", ..."
            } else {
                ""
            }
        )?;
    }
    let w = [c.covered, c.stale, c.revoked, c.missing]
        .iter()
        .map(|v| n(*v).len())
        .max()
        .unwrap_or(1);
    writeln!(
        out,
        "  covered   {:>w$}  latest event an opt-in within {} days of {}",
        n(c.covered),
        c.max_age_days,
        c.as_of
    )?;
    writeln!(
        out,
        "  stale     {:>w$}  latest event an opt-in older than that",
        n(c.stale)
    )?;
    writeln!(
        out,
        "  revoked   {:>w$}  latest event an opt-out",
        n(c.revoked)
    )?;
    writeln!(out, "  missing   {:>w$}  no consent event", n(c.missing))?;
    if !c.category.is_empty() || c.ledger_scoped {
        writeln!(
            out,
            "  scope     verdicts for {} (ledger {} a scope column)",
            if c.category.is_empty() {
                "every category".to_owned()
            } else {
                c.category.clone()
            },
            if c.ledger_scoped { "has" } else { "has no" }
        )?;
        for sc in &c.scopes {
            writeln!(
                out,
                "            {:<15} {:>6.2}%  {} covered · {} stale · {} revoked · {} missing",
                sc.scope,
                sc.coverage * 100.0,
                n(sc.covered),
                n(sc.stale),
                n(sc.revoked),
                n(sc.missing)
            )?;
        }
    }
    for r in &c.country_rules {
        writeln!(
            out,
            "  country   {} rows · rule {} ({}, {}): {}",
            n(r.rows),
            r.id,
            r.countries.join(", "),
            r.categories,
            r.title
        )?;
    }
    writeln!(
        out,
        "  ledger    {} ({} rows · {} invalid phone · {} unreadable · {} after as-of, ignored)",
        args.consent.display(),
        n(c.ledger_rows),
        n(c.ledger_invalid),
        n(c.ledger_errors),
        n(c.ledger_future)
    )?;
    for issue in &c.ledger_error_samples {
        writeln!(out, "            line {}: {}", issue.line, issue.reason)?;
    }
    if c.ledger_errors > c.ledger_error_samples.len() as u64 {
        writeln!(
            out,
            "            ... and {} more",
            n(c.ledger_errors - c.ledger_error_samples.len() as u64)
        )?;
    }
    if let Some((path, rows)) = uncovered {
        writeln!(
            out,
            "  uncovered {} rows written to {}",
            n(*rows),
            path.display()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
