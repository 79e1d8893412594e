//! Accuracy of the template checks on the labelled corpora in eval/corpus/.
//!
//! ```text
//! cargo run --release --example eval                       # every corpus in eval/corpus/, summary
//! cargo run --release --example eval -- --misses           # also list every wrong prediction
//!                                                          # (never for the sealed holdout and dev3)
//! cargo run --release --example eval -- --rules rules/ eval/corpus/dev.jsonl
//! ```
//! Exits 1 when a target is missed (category P ≥ 0.95, R ≥ 0.90;
//! restricted P ≥ 0.95, R ≥ 0.85) on the combined corpora.

use std::path::PathBuf;
use std::process::ExitCode;

use wabaguard::eval::{Evaluation, evaluate, read_corpus, render};
use wabaguard::rulepack::RulePack;

/// Corpora that measure generalisation: their texts must not reach a rule
/// author, so `--misses` lists nothing for them (eval/corpus/README-*.md).
const SEALED: [&str; 2] = ["holdout.jsonl", "dev3.jsonl"];

fn main() -> ExitCode {
    let mut rules: Option<PathBuf> = None;
    let mut misses = false;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rules" => rules = args.next().map(PathBuf::from),
            "--misses" => misses = true,
            "-h" | "--help" => {
                println!("usage: eval [--rules DIR] [--misses] [CORPUS.jsonl...]");
                return ExitCode::SUCCESS;
            }
            _ => files.push(PathBuf::from(a)),
        }
    }
    if files.is_empty() {
        // Every corpus in eval/corpus/, the sealed holdout last.
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("eval/corpus");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
                    .collect()
            })
            .unwrap_or_default();
        found.sort_by_key(|p| (p.ends_with("holdout.jsonl"), p.clone()));
        files = found;
    }
    let pack = match RulePack::load(&Default::default(), rules.as_deref(), &[]) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut all = Vec::new();
    let mut combined = Evaluation::default();
    for f in &files {
        let items = match read_corpus(f) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let ev = evaluate(&items, &pack);
        print!("{}", render(&f.display().to_string(), &ev));
        if misses && SEALED.iter().any(|s| f.ends_with(s)) {
            println!("    (the misses of a sealed corpus are never listed: see its README)");
        } else if misses {
            for m in &ev.misses {
                println!("    {:<4} {:<27} {:<8} {}", m.kind, m.check, m.id, m.detail);
            }
        }
        println!();
        all.extend(items);
    }
    if files.len() > 1 {
        combined = evaluate(&all, &pack);
        print!("{}", render("combined", &combined));
    } else if let Some(f) = files.first() {
        if let Ok(items) = read_corpus(f) {
            combined = evaluate(&items, &pack);
        }
    }
    let ok = combined.category.precision() >= 0.95
        && combined.category.recall() >= 0.90
        && combined.restricted.precision() >= 0.95
        && combined.restricted.recall() >= 0.85;
    println!(
        "targets (category P≥0.95 R≥0.90, restricted P≥0.95 R≥0.85): {}",
        if ok { "met" } else { "NOT met" }
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
