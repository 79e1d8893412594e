//! `wabaguard lint-templates FILE...`: template checks without a config.
//!
//! Templates are streamed from each file and linted as they are parsed, so
//! memory stays close to the size of the input file even for a million
//! templates. Findings come out in input order (file, then template), each
//! template's findings in canonical order: deterministic without a global
//! sort.

use std::io::{BufWriter, Write};
use std::path::Path;

use super::{CmdError, CmdResult, Outcome};
use crate::checks::templates::{TemplateContext, lint_template};
use crate::checks::{Finding, Severity, SeverityCounts, sort_findings};
use crate::cli::{GlobalArgs, LintArgs, OutputFormat};
use crate::collect::template_file::parse_templates;
use crate::report::markdown::esc;
use crate::rulepack::RulePack;
use crate::snapshot::Template;

pub fn lint(args: &LintArgs, g: &GlobalArgs) -> CmdResult {
    let pack = match &args.rules {
        Some(dir) => RulePack::load(&Default::default(), Some(dir), &[])?,
        None => RulePack::builtin()?,
    };
    let ctx = TemplateContext {
        pack: &pack,
        scope: "",
        verticals: &[],
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut counts = SeverityCounts::default();
    let mut templates = 0usize;
    let mut json_findings: Vec<u8> = Vec::new();
    let mut first_json = true;
    let mut write_err: Option<std::io::Error> = None;

    if args.format == OutputFormat::Md {
        writeln!(out, "# Template lint\n")?;
    }
    for file in &args.files {
        let bytes = std::fs::read(file)
            .map_err(|e| CmdError(format!("{}: cannot read: {e}", file.display())))?;
        let res = parse_templates(file, &bytes, |t: Template| {
            templates += 1;
            let mut fs = lint_template(&t, &ctx);
            if fs.is_empty() {
                return;
            }
            sort_findings(&mut fs);
            for f in &fs {
                counts.add(f.severity);
            }
            let r = match args.format {
                OutputFormat::Text => write_text(&mut out, file, &t, &fs),
                OutputFormat::Md => write_md(&mut out, &t, &fs),
                OutputFormat::Json => {
                    for f in &fs {
                        if !first_json {
                            json_findings.push(b',');
                        }
                        first_json = false;
                        if let Err(e) = serde_json::to_writer(&mut json_findings, f) {
                            write_err.get_or_insert(std::io::Error::other(e));
                        }
                    }
                    Ok(())
                }
            };
            if let Err(e) = r {
                write_err.get_or_insert(e);
            }
        });
        drop(bytes);
        res?;
        if let Some(e) = write_err.take() {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(Outcome::Ok);
            }
            return Err(e.into());
        }
    }
    match args.format {
        OutputFormat::Json => {
            write!(out, "{{\"templates\":{templates},\"findings\":[")?;
            out.write_all(&json_findings)?;
            write!(out, "],\"summary\":")?;
            serde_json::to_writer(&mut out, &counts)?;
            writeln!(out, "}}")?;
        }
        OutputFormat::Text => {
            if !g.quiet {
                writeln!(
                    out,
                    "{} template{} in {} file{}: {} finding{} (critical {}, high {}, medium {}, low {}, info {})",
                    templates,
                    plural(templates),
                    args.files.len(),
                    plural(args.files.len()),
                    counts.total(),
                    plural(counts.total()),
                    counts.critical,
                    counts.high,
                    counts.medium,
                    counts.low,
                    counts.info
                )?;
            }
        }
        OutputFormat::Md => {
            writeln!(
                out,
                "\n**{} templates, {} findings** (critical {}, high {}, medium {}, low {}, info {})",
                templates,
                counts.total(),
                counts.critical,
                counts.high,
                counts.medium,
                counts.low,
                counts.info
            )?;
        }
    }
    out.flush()?;
    if let Some(min) = args.fail_on {
        if counts.at_or_above(min) > 0 {
            return Ok(Outcome::Policy);
        }
    }
    Ok(Outcome::Ok)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn write_text(out: &mut impl Write, file: &Path, t: &Template, fs: &[Finding]) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} ({}) {}",
        file.display(),
        display_name(t),
        if t.language.is_empty() { "?" } else { &t.language },
        t.category.as_deref().unwrap_or("?")
    )?;
    for f in fs {
        writeln!(
            out,
            "  {:<8} {:<28} {:<28} {}",
            f.severity.as_str().to_uppercase(),
            f.check,
            f.rule,
            f.message
        )?;
        if f.severity >= Severity::Medium && !f.remediation.is_empty() {
            writeln!(out, "  {:<8} fix: {}", "", f.remediation)?;
        }
    }
    Ok(())
}

fn write_md(out: &mut impl Write, t: &Template, fs: &[Finding]) -> std::io::Result<()> {
    writeln!(
        out,
        "## {} ({}) — {}\n",
        esc(display_name(t)),
        esc(&t.language),
        t.category.as_deref().unwrap_or("?")
    )?;
    for f in fs {
        writeln!(
            out,
            "- **{}** `{}` — {}  ",
            f.severity.as_str().to_uppercase(),
            f.rule,
            esc(&f.message)
        )?;
        if !f.remediation.is_empty() {
            writeln!(out, "  *Fix:* {}", esc(&f.remediation))?;
        }
    }
    writeln!(out)
}

fn display_name(t: &Template) -> &str {
    if t.name.is_empty() { "(unnamed)" } else { &t.name }
}
