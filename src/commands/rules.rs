//! `wabaguard rules list|explain|check`.

use std::io::Write;

use super::{CmdError, CmdResult, Outcome};
use crate::cli::{OutputFormat, RulesArgs, RulesCommand};
use crate::config::Config;
use crate::rulepack::{Rule, RuleKind, RulePack};

pub fn rules(args: &RulesArgs) -> CmdResult {
    let pack = load(args)?;
    let mut out = super::stdout();
    match &args.command {
        RulesCommand::List { format } => list(&mut out, &pack, *format)?,
        RulesCommand::Explain { rule } => {
            let Some(r) = pack.rule(rule) else {
                return Err(CmdError(format!(
                    "unknown rule id `{rule}` (see `wabaguard rules list`)"
                )));
            };
            explain(&mut out, &pack, r)?;
        }
        RulesCommand::Check => {
            pack.compile_all();
            let failures = pack.check_pattern_examples();
            let failures_builtin = crate::checks::templates::check_builtin_examples(&pack);
            let failures_signals = crate::checks::signal_examples::check_signal_examples(&pack);
            let all: Vec<String> = failures
                .into_iter()
                .chain(failures_builtin)
                .chain(failures_signals)
                .collect();
            for f in &all {
                writeln!(out, "FAIL {f}")?;
            }
            writeln!(
                out,
                "{} rules, {} patterns, {} languages ({}); pack {} {} digest {}: {}",
                pack.rules.len(),
                pack.patterns.len(),
                pack.languages.len(),
                pack.languages
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                pack.name,
                pack.version,
                pack.digest,
                if all.is_empty() {
                    "all examples pass"
                } else {
                    "examples FAIL"
                }
            )?;
            if !all.is_empty() {
                return Ok(Outcome::Policy);
            }
        }
    }
    Ok(Outcome::Ok)
}

fn load(args: &RulesArgs) -> Result<RulePack, CmdError> {
    match &args.config {
        Some(path) => {
            let cfg = Config::load(path)?;
            let extra: Vec<_> = cfg
                .rules
                .extra_dirs
                .iter()
                .map(|d| cfg.resolve(d))
                .collect();
            Ok(RulePack::load(&cfg.rules, args.rules.as_deref(), &extra)?)
        }
        None => Ok(RulePack::load(
            &Default::default(),
            args.rules.as_deref(),
            &[],
        )?),
    }
}

fn languages(r: &Rule) -> String {
    if (r.def.kind == RuleKind::Builtin && r.languages.is_empty()) || r.languages.contains("*") {
        "any".to_owned()
    } else {
        r.languages.iter().cloned().collect::<Vec<_>>().join(",")
    }
}

fn list(out: &mut impl Write, pack: &RulePack, format: OutputFormat) -> std::io::Result<()> {
    let rules = pack.sorted_rules();
    match format {
        OutputFormat::Json => {
            let v: Vec<serde_json::Value> = rules
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.def.id,
                        "family": r.def.family,
                        "severity": r.severity,
                        "enabled": r.enabled,
                        "kind": if r.def.kind == RuleKind::Builtin { "builtin" } else { "pattern" },
                        "languages": languages(r),
                        "title": r.def.title,
                        "description": r.def.description.trim(),
                        "remediation": r.def.remediation.trim(),
                        "reference": r.def.reference,
                        "aliases": r.def.aliases,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &v)?;
            writeln!(out)
        }
        OutputFormat::Md => {
            writeln!(
                out,
                "| id | family | severity | languages | title |\n|---|---|---|---|---|"
            )?;
            for r in rules {
                writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} |",
                    r.def.id,
                    r.def.family,
                    r.severity,
                    languages(r),
                    r.def.title
                )?;
            }
            Ok(())
        }
        OutputFormat::Text => {
            let w = rules.iter().map(|r| r.def.id.len()).max().unwrap_or(10);
            writeln!(
                out,
                "{:<w$}  {:<28}  {:<8}  {:<24}  TITLE",
                "ID", "FAMILY", "SEVERITY", "LANGUAGES"
            )?;
            for r in rules {
                writeln!(
                    out,
                    "{:<w$}  {:<28}  {:<8}  {:<24}  {}{}",
                    r.def.id,
                    r.def.family,
                    r.severity.as_str(),
                    languages(r),
                    r.def.title,
                    if r.enabled { "" } else { " (disabled)" }
                )?;
            }
            writeln!(
                out,
                "\n{} rules · pack {} {} · digest {} · `wabaguard rules explain ID` for details",
                pack.rules.len(),
                pack.name,
                pack.version,
                pack.digest
            )
        }
    }
}

fn explain(out: &mut impl Write, pack: &RulePack, r: &Rule) -> std::io::Result<()> {
    let d = &r.def;
    writeln!(out, "{} — {}", d.id, d.title)?;
    writeln!(out, "family:      {}", d.family)?;
    writeln!(
        out,
        "severity:    {}{}",
        r.severity,
        if r.severity != d.severity {
            format!(" (overridden; pack default {})", d.severity)
        } else {
            String::new()
        }
    )?;
    writeln!(
        out,
        "enabled:     {}",
        if r.enabled {
            "yes"
        } else {
            "no (rules.disable)"
        }
    )?;
    writeln!(
        out,
        "kind:        {}",
        if d.kind == RuleKind::Builtin {
            "builtin (logic in wabaguard, parameters in the pack)"
        } else {
            "pattern"
        }
    )?;
    writeln!(out, "languages:   {}", languages(r))?;
    if let Some(i) = pack.rule_index(&d.id) {
        let counts = pack.pattern_counts(i);
        if !counts.is_empty() {
            let s: Vec<String> = counts.iter().map(|(l, n)| format!("{l}: {n}")).collect();
            writeln!(out, "patterns:    {}", s.join(", "))?;
        }
    }
    if !d.applies_to.is_empty() {
        writeln!(
            out,
            "applies to:  templates declared {}",
            d.applies_to.join(", ")
        )?;
    }
    if let Some(s) = &d.suggest {
        writeln!(out, "suggests:    {s}")?;
    }
    if let Some(p) = &d.policy_category {
        writeln!(out, "policy:      {p}")?;
    }
    if !d.aliases.is_empty() {
        writeln!(out, "aliases:     {}", d.aliases.join(", "))?;
    }
    if !d.params.is_empty() {
        writeln!(
            out,
            "parameters:  {}",
            d.params.to_string().trim().replace('\n', ", ")
        )?;
    }
    writeln!(out, "defined in:  {}", r.source)?;
    writeln!(out, "\nWhat it finds\n  {}", wrap(d.description.trim()))?;
    writeln!(out, "\nHow to fix\n  {}", wrap(d.remediation.trim()))?;
    if let Some(refr) = &d.reference {
        writeln!(out, "\nReference\n  {refr}")?;
    }
    // Examples: pattern rules keep theirs beside the patterns.
    let mut pos = Vec::new();
    let mut neg = Vec::new();
    if let Some(i) = pack.rule_index(&d.id) {
        for p in pack.patterns.iter().filter(|p| p.rule == i) {
            for e in &p.examples.positive {
                pos.push(format!("[{}] {e}", p.language));
            }
            for e in &p.examples.negative {
                neg.push(format!("[{}] {e}", p.language));
            }
        }
    }
    pos.dedup();
    neg.dedup();
    if d.kind == RuleKind::Builtin {
        pos.extend(d.examples.positive.iter().map(|e| compact(e)));
        neg.extend(d.examples.negative.iter().map(|e| compact(e)));
    }
    if !pos.is_empty() {
        writeln!(out, "\nFires on")?;
        for e in pos.iter().take(8) {
            writeln!(out, "  + {e}")?;
        }
    }
    if !neg.is_empty() {
        writeln!(out, "\nDoes not fire on")?;
        for e in neg.iter().take(8) {
            writeln!(out, "  - {e}")?;
        }
    }
    Ok(())
}

fn compact(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| json.to_owned())
}

fn wrap(s: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for w in s.split_whitespace() {
        if col > 0 && col + w.len() > 88 {
            out.push_str("\n  ");
            col = 0;
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(w);
        col += w.len();
    }
    out
}
