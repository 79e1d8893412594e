//! Benchmark of the whole `wabaguard optouts` process, plus precision and
//! recall of opt-out detection on the generated, labelled set.
//!
//! ```text
//! cargo build --release
//! cargo run --release --example gen_inbound -- 1000000 42 /tmp/inbound-1m
//! cargo run --release --example bench_optout -- --runs 5 /tmp/inbound-1m
//! ```
//!
//! DIR holds `inbound.jsonl`, `consent_ledger.csv` and `labels.csv` (as
//! written by `gen_inbound`). Every run is timed by `/usr/bin/time` (wall,
//! user and system CPU, peak RSS) after a warm-up run, so the files come from
//! the page cache. The ledger opts every sender in, so the emitted ledger
//! rows are exactly the detected opt-outs; they are compared with the labels.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[path = "common/timing.rs"]
mod timing;
use timing::timed;

fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/release/examples/bench_optout -> target/release/wabaguard
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("wabaguard"))
        .unwrap_or_else(|| PathBuf::from("target/release/wabaguard"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 5usize;
    let mut dir = PathBuf::from("/tmp/inbound-1m");
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--runs" {
            runs = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(5);
            i += 2;
        } else {
            dir = PathBuf::from(&args[i]);
            i += 1;
        }
    }
    let bin = binary();
    if !bin.is_file() {
        eprintln!(
            "{} not found: run `cargo build --release` first",
            bin.display()
        );
        std::process::exit(2);
    }
    let inbound = dir.join("inbound.jsonl");
    if !inbound.is_file() {
        eprintln!(
            "{} not found: run `cargo run --release --example gen_inbound -- 1000000 42 {}`",
            inbound.display(),
            dir.display()
        );
        std::process::exit(2);
    }
    let rows = dir.join("emitted.csv");
    let cmd: Vec<String> = vec![
        bin.display().to_string(),
        "optouts".into(),
        "--inbound".into(),
        inbound.display().to_string(),
        "--consent".into(),
        dir.join("consent_ledger.csv").display().to_string(),
        "--emit-ledger-rows".into(),
        rows.display().to_string(),
        "--format".into(),
        "json".into(),
        "--quiet".into(),
    ];
    let size = std::fs::metadata(&inbound).map(|m| m.len()).unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "input {} ({:.0} MB); load average {}",
        inbound.display(),
        size as f64 / 1e6,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if let Err(e) = timed(&cmd) {
        eprintln!("{e}");
        std::process::exit(2);
    }
    let mut samples = Vec::new();
    for _ in 0..runs {
        match timed(&cmd) {
            Ok(s) => {
                println!(
                    "  wall {:.2} s  user {:.2} s  sys {:.2} s  peak RSS {} MiB",
                    s.wall,
                    s.user,
                    s.sys,
                    s.rss_kib / 1024
                );
                samples.push(s);
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
    let mut walls: Vec<f64> = samples.iter().map(|s| s.wall).collect();
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    let best = walls[0];
    let messages = std::fs::read(dir.join("labels.csv"))
        .map(|b| memchr::memchr_iter(b'\n', &b).count().saturating_sub(1))
        .unwrap_or(0);
    println!(
        "wabaguard optouts: best {best:.2} s, median {median:.2} s over {runs} runs ({:.0} k messages/s median; target < 2 s)",
        messages as f64 / median / 1000.0
    );

    // Precision and recall: emitted rows (detected) against the labels.
    let labels = std::fs::read_to_string(dir.join("labels.csv")).unwrap_or_default();
    let truth: HashMap<&str, bool> = labels
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(p, v)| (p, v == "1"))
        .collect();
    let emitted = std::fs::read_to_string(&rows).unwrap_or_default();
    let detected: Vec<&str> = emitted
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    let tp = detected
        .iter()
        .filter(|p| truth.get(**p) == Some(&true))
        .count();
    let fp = detected.len() - tp;
    let positives = truth.values().filter(|v| **v).count();
    let fnn = positives - tp;
    println!(
        "detection on {} labelled messages ({} opt-outs): precision {:.4} ({} false positives), recall {:.4} ({} missed)",
        truth.len(),
        positives,
        tp as f64 / (tp + fp).max(1) as f64,
        fp,
        tp as f64 / positives.max(1) as f64,
        fnn
    );
}
