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
use crate::cli::{GlobalArgs, LintArgs, LintFormat};
use crate::collect::template_file::parse_templates;
use crate::report::markdown::esc;
use crate::report::{junit, sarif};
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
    if args.format == LintFormat::Md {
        writeln!(out, "# Template lint\n")?;
    }
    let mut totals = Chunk::default();
    // sarif/junit: each file's templates with their findings.
    let mut per_file: Vec<(&Path, Vec<TemplateFindings>)> = Vec::new();
    for file in &args.files {
        let bytes = std::fs::read(file)
            .map_err(|e| CmdError(format!("{}: cannot read: {e}", file.display())))?;
        let mut chunk = lint_file(file, &bytes, &ctx, args.format)?;
        drop(bytes);
        if matches!(args.format, LintFormat::Sarif | LintFormat::Junit) {
            per_file.push((file, std::mem::take(&mut chunk.items)));
            totals.templates += chunk.templates;
            totals.counts.merge(&chunk.counts);
        } else if args.format != LintFormat::Json {
            if let Err(e) = out.write_all(&chunk.out) {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(Outcome::Ok);
                }
                return Err(e.into());
            }
            totals.templates += chunk.templates;
            totals.counts.merge(&chunk.counts);
        } else {
            totals.append_json(chunk);
        }
    }
    let (templates, counts) = (totals.templates, totals.counts);
    match args.format {
        LintFormat::Sarif => {
            let findings: Vec<Vec<Finding>> = per_file
                .iter()
                .map(|(_, items)| {
                    items
                        .iter()
                        .flat_map(|(_, fs)| fs.iter().cloned())
                        .collect()
                })
                .collect();
            let groups: Vec<sarif::Group<'_>> = per_file
                .iter()
                .zip(&findings)
                .map(|((file, _), fs)| sarif::Group {
                    account: "",
                    artifact: Some(file),
                    findings: fs,
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &sarif::render(&pack, &groups))?;
            writeln!(out)?;
        }
        LintFormat::Junit => {
            let threshold = args.fail_on.unwrap_or(junit::DEFAULT_THRESHOLD);
            let suites: Vec<junit::Suite> = per_file
                .iter()
                .map(|(file, items)| {
                    let classname = file.display().to_string();
                    junit::Suite {
                        name: classname.clone(),
                        cases: items
                            .iter()
                            .map(|(label, fs)| {
                                junit::Case::new(&classname, label).judge(fs, threshold)
                            })
                            .collect(),
                    }
                })
                .collect();
            out.write_all(junit::render("wabaguard lint-templates", &suites).as_bytes())?;
        }
        LintFormat::Json => {
            write!(out, "{{\"templates\":{templates},\"findings\":[")?;
            out.write_all(&totals.out)?;
            write!(out, "],\"summary\":")?;
            serde_json::to_writer(&mut out, &counts)?;
            writeln!(out, "}}")?;
        }
        LintFormat::Text => {
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
        LintFormat::Md => {
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

/// Rendered output of a run of templates, with its counts.
#[derive(Default)]
struct Chunk {
    out: Vec<u8>,
    templates: usize,
    counts: SeverityCounts,
    /// JSON mode: number of findings rendered into `out` (comma-joined).
    json_items: usize,
    /// sarif/junit: every template with its findings.
    items: Vec<TemplateFindings>,
}

/// A template's label (`name (language)`) and its findings.
type TemplateFindings = (String, Vec<Finding>);

impl Chunk {
    fn append_json(&mut self, other: Chunk) {
        if other.json_items > 0 {
            if self.json_items > 0 {
                self.out.push(b',');
            }
            self.out.extend_from_slice(&other.out);
        }
        self.json_items += other.json_items;
        self.templates += other.templates;
        self.counts.merge(&other.counts);
    }
}

const BATCH: usize = 512;

/// Parses `bytes` on this thread while worker threads lint batches of
/// templates; rendered batches are put back in input order, so the output
/// is identical to a sequential run.
fn lint_file(
    file: &Path,
    bytes: &[u8],
    ctx: &TemplateContext<'_>,
    format: LintFormat,
) -> Result<Chunk, CmdError> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<(usize, Vec<Template>)>(workers * 2);
    let work_rx = std::sync::Mutex::new(work_rx);
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<(usize, Chunk)>();
        for _ in 0..workers {
            let work_rx = &work_rx;
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                loop {
                    let next = match work_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, batch)) = next else { return };
                    let chunk = lint_batch(file, &batch, ctx, format);
                    if done_tx.send((seq, chunk)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        // The collector reorders finished batches.
        let collector = scope.spawn(move || {
            let mut pending = std::collections::BTreeMap::new();
            let mut next = 0usize;
            let mut acc = Chunk::default();
            for (seq, chunk) in done_rx {
                pending.insert(seq, chunk);
                while let Some(c) = pending.remove(&next) {
                    if format == LintFormat::Json {
                        acc.append_json(c);
                    } else {
                        acc.out.extend_from_slice(&c.out);
                        acc.templates += c.templates;
                        acc.counts.merge(&c.counts);
                        acc.items.extend(c.items);
                    }
                    next += 1;
                }
            }
            acc
        });
        let mut seq = 0usize;
        let mut batch = Vec::with_capacity(BATCH);
        let parsed = parse_templates(file, bytes, |t: Template| {
            batch.push(t);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                let _ = work_tx.send((seq, full));
                seq += 1;
            }
        });
        if !batch.is_empty() {
            let _ = work_tx.send((seq, std::mem::take(&mut batch)));
        }
        drop(work_tx);
        let chunk = collector
            .join()
            .map_err(|_| CmdError("internal error: lint worker panicked".into()))?;
        parsed?;
        Ok(chunk)
    })
}

fn lint_batch(
    file: &Path,
    batch: &[Template],
    ctx: &TemplateContext<'_>,
    format: LintFormat,
) -> Chunk {
    let mut c = Chunk {
        templates: batch.len(),
        ..Chunk::default()
    };
    for t in batch {
        let mut fs = lint_template(t, ctx);
        sort_findings(&mut fs);
        for f in &fs {
            c.counts.add(f.severity);
        }
        if matches!(format, LintFormat::Sarif | LintFormat::Junit) {
            let label = format!(
                "{} ({})",
                display_name(t),
                if t.language.is_empty() {
                    "?"
                } else {
                    &t.language
                }
            );
            c.items.push((label, fs));
            continue;
        }
        if fs.is_empty() {
            continue;
        }
        // Writing into a Vec<u8> cannot fail.
        let _ = match format {
            LintFormat::Text => write_text(&mut c.out, file, t, &fs),
            LintFormat::Md => write_md(&mut c.out, t, &fs),
            LintFormat::Sarif | LintFormat::Junit => Ok(()),
            LintFormat::Json => {
                for f in &fs {
                    if c.json_items > 0 {
                        c.out.push(b',');
                    }
                    c.json_items += 1;
                    let _ = serde_json::to_writer(&mut c.out, f);
                }
                Ok(())
            }
        };
    }
    c
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn write_text(
    out: &mut impl Write,
    file: &Path,
    t: &Template,
    fs: &[Finding],
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} ({}) {}",
        file.display(),
        display_name(t),
        if t.language.is_empty() {
            "?"
        } else {
            &t.language
        },
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
    if t.name.is_empty() {
        "(unnamed)"
    } else {
        &t.name
    }
}
