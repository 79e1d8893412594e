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
    let mut sink = Sink {
        out: BufWriter::with_capacity(1 << 16, super::stdout()),
        format: args.format,
        json_items: 0,
    };
    match args.format {
        LintFormat::Md => sink.write(b"# Template lint\n\n")?,
        // The count of templates is only known at the end, so it follows
        // the findings (JSON objects are unordered).
        LintFormat::Json => sink.write(b"{\"findings\":[")?,
        _ => {}
    }
    let mut templates = 0usize;
    let mut counts = SeverityCounts::default();
    // sarif/junit: each file's templates with their findings.
    let mut per_file: Vec<(&Path, Vec<TemplateFindings>)> = Vec::new();
    for file in &args.files {
        if sink.closed() {
            break;
        }
        let bytes = std::fs::read(file)
            .map_err(|e| CmdError(format!("{}: cannot read: {e}", file.display())))?;
        let done = lint_file(file, &bytes, &ctx, &mut sink)?;
        drop(bytes);
        templates += done.templates;
        counts.merge(&done.counts);
        if matches!(args.format, LintFormat::Sarif | LintFormat::Junit) {
            per_file.push((file, done.items));
        }
    }
    if sink.closed() {
        // The reader went away (e.g. `| head`): nothing more to say.
        return Ok(Outcome::Ok);
    }
    let mut out = sink.out;
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
            write!(out, "],\"templates\":{templates},\"summary\":")?;
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
    if out.get_ref().closed() {
        return Ok(Outcome::Ok);
    }
    // The process ends right after this command: freeing thousands of
    // patterns one by one would only delay the exit (~15 ms, single-threaded).
    std::mem::forget(pack);
    if let Some(min) = args.fail_on {
        if counts.at_or_above(min) > 0 {
            return Ok(Outcome::Policy);
        }
    }
    Ok(Outcome::Ok)
}

/// Where rendered batches go, in input order, as soon as they are ready:
/// output is streamed, so memory does not grow with the number of findings.
struct Sink {
    out: BufWriter<super::Stdout>,
    format: LintFormat,
    /// JSON: findings written so far (for the separating commas).
    json_items: usize,
}

impl Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)
    }

    /// The reader closed the pipe; the rest is linted but not written.
    fn closed(&self) -> bool {
        self.out.get_ref().closed()
    }

    fn put(&mut self, chunk: &Chunk) -> std::io::Result<()> {
        if self.format == LintFormat::Json && chunk.json_items > 0 && self.json_items > 0 {
            self.write(b",")?;
        }
        self.json_items += chunk.json_items;
        self.write(&chunk.out)
    }
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

/// What linting one file leaves once its output went to the sink.
#[derive(Default)]
struct FileDone {
    templates: usize,
    counts: SeverityCounts,
    /// sarif/junit: every template with its findings.
    items: Vec<TemplateFindings>,
}

/// Templates per worker batch. Bigger batches give each language a longer
/// run (see [`lint_batch`]). On the 100k benchmark, going from 512 to 1024
/// with one queued batch per worker rather than two cut CPU time by another
/// ~5% for ~7 MB more peak memory; 2048 passed the 3× memory budget.
const BATCH: usize = 1024;

/// Parses `bytes` on this thread while worker threads lint batches of
/// templates; rendered batches go to the sink in input order, so the output
/// is identical to a sequential run.
fn lint_file(
    file: &Path,
    bytes: &[u8],
    ctx: &TemplateContext<'_>,
    sink: &mut Sink,
) -> Result<FileDone, CmdError> {
    let format = sink.format;
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<(usize, Vec<Template>)>(workers);
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
        // The collector reorders finished batches and writes them out.
        let collector = scope.spawn(move || -> std::io::Result<FileDone> {
            let mut pending = std::collections::BTreeMap::new();
            let mut next = 0usize;
            let mut done = FileDone::default();
            let mut failed = None;
            for (seq, chunk) in done_rx {
                pending.insert(seq, chunk);
                while let Some(c) = pending.remove(&next) {
                    done.templates += c.templates;
                    done.counts.merge(&c.counts);
                    if matches!(format, LintFormat::Sarif | LintFormat::Junit) {
                        done.items.extend(c.items);
                    } else if failed.is_none() {
                        // Keep draining after an error so the workers finish.
                        failed = sink.put(&c).err();
                    }
                    next += 1;
                }
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(done),
            }
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
        let done = collector
            .join()
            .map_err(|_| CmdError("internal error: lint worker panicked".into()))??;
        parsed?;
        Ok(done)
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
    // Linted a language (and category) at a time, so consecutive templates
    // run the same patterns while their automata are still in the CPU's
    // caches; rendered in input order.
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&i| (&batch[i].language, &batch[i].category));
    let mut linted: Vec<Vec<Finding>> = vec![Vec::new(); batch.len()];
    for i in order {
        linted[i] = lint_template(&batch[i], ctx);
    }
    for (t, mut fs) in batch.iter().zip(linted) {
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
