//! Benchmark of the whole `wabaguard optin --format json` process.
//!
//! ```text
//! cargo build --release
//! cargo run --release --example gen_optin -- 1000000 1500000 42 /tmp/optin-1m
//! cargo run --release --example gen_optin -- 10000000 15000000 42 /tmp/optin-10m
//! cargo run --release --example bench_optin -- --runs 5 --duckdb /tmp/optin-1m /tmp/optin-10m
//! ```
//!
//! Each DIR holds `audience.csv` and `consent_ledger.csv` (as written by
//! `gen_optin`). Every run is timed by `/usr/bin/time` (wall, user and system
//! CPU, peak RSS); the table shows the median wall time, rows per second over
//! both files, and the largest peak RSS. With `--duckdb`, the DuckDB baseline
//! `benches/optin_duckdb.py` runs on the same files (needs `pip install
//! duckdb`). Files are read from the page cache after a warm-up run; the load
//! of the machine is printed, since other processes skew wall times.

use std::path::{Path, PathBuf};

#[path = "common/timing.rs"]
mod timing;
use timing::{Sample, timed};

fn lines(p: &Path) -> u64 {
    let bytes = std::fs::read(p).unwrap_or_default();
    (memchr::memchr_iter(b'\n', &bytes).count() as u64).saturating_sub(1)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(label: &str, rows: u64, samples: &[Sample]) {
    let wall = median(samples.iter().map(|s| s.wall).collect());
    let cpu = median(samples.iter().map(|s| s.user + s.sys).collect());
    let rss = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    println!(
        "| {label} | {:.2} s | {:.2} s | {:.1} M rows/s | {} MiB |",
        wall,
        cpu,
        rows as f64 / wall / 1e6,
        rss / 1024
    );
}

fn main() {
    let mut runs = 3usize;
    let mut duckdb = false;
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(3),
            "--duckdb" => duckdb = true,
            "-h" | "--help" => {
                println!("usage: bench_optin [--runs N] [--duckdb] DIR...");
                return;
            }
            _ => dirs.push(PathBuf::from(a)),
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = root.join("target/release/wabaguard");
    if !bin.is_file() {
        eprintln!("build first: cargo build --release");
        std::process::exit(2);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "cores: {}, load average: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "\n| run | wall (median of {runs}) | CPU user+sys | rows/s (audience + ledger) | peak RSS |\n|---|---:|---:|---:|---:|"
    );
    for dir in &dirs {
        let audience = dir.join("audience.csv");
        let ledger = dir.join("consent_ledger.csv");
        let rows = lines(&audience) + lines(&ledger);
        let name = dir
            .file_name()
            .map_or("?".into(), |n| n.to_string_lossy().into_owned());
        let ours: Vec<String> = vec![
            bin.display().to_string(),
            "optin".into(),
            "--audience".into(),
            audience.display().to_string(),
            "--consent".into(),
            ledger.display().to_string(),
            "--as-of".into(),
            "2026-11-24T00:00:00Z".into(),
            "--region".into(),
            "US".into(),
            "--format".into(),
            "json".into(),
        ];
        let run_all = |cmd: &[String]| -> Vec<Sample> {
            let _ = timed(cmd); // warm-up: files into the page cache
            (0..runs)
                .map(|_| timed(cmd).unwrap_or_else(|e| panic!("{e}")))
                .collect()
        };
        report(&format!("wabaguard {name}"), rows, &run_all(&ours));
        if duckdb {
            let duck: Vec<String> = vec![
                "python3".into(),
                root.join("benches/optin_duckdb.py").display().to_string(),
                audience.display().to_string(),
                ledger.display().to_string(),
                "2026-11-24T00:00:00Z".into(),
                "2".into(),
            ];
            report(&format!("DuckDB {name}"), rows, &run_all(&duck));
        }
    }
}
