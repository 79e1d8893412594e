//! Live-collection speed against a loopback fake Graph API with injected
//! latency: 2,000 templates in pages of 100 plus 20 numbers (each with a
//! business profile), 50 ms per request, 8 requests in flight.
//!
//! ```text
//! cargo run --release --example bench_graph            # 5 runs, summary
//! cargo run --release --example bench_graph -- 10      # 10 runs
//! ```
//! Prints wall time, requests sent and the ratio to the ideal
//! `(requests / concurrency) × latency`, for the split listing and (for
//! comparison) a server that gives no `total_count`, which forces the plain
//! sequential cursor chain. Exits 1 when the median run takes ≥ 1.5 s.

#[path = "../tests/common/fake_graph.rs"]
mod fake_graph;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use fake_graph::{FakeGraph, generated_waba};
use wabaguard::collect::{CollectOptions, collect_all_async};
use wabaguard::config::Config;

const LATENCY: Duration = Duration::from_millis(50);

fn latency() -> Duration {
    std::env::var("BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(LATENCY, Duration::from_millis)
}
const CONCURRENCY: usize = 8;
const TEMPLATES: usize = 2000;
const NUMBERS: usize = 20;
const TARGET: Duration = Duration::from_millis(1500);

struct Run {
    wall: Duration,
    requests: usize,
}

async fn measure(summary: bool, runs: usize) -> Vec<Run> {
    let fake = FakeGraph {
        wabas: vec![generated_waba(
            "104729331820556",
            "BENCH_TOKEN",
            TEMPLATES,
            NUMBERS,
        )],
        latency: latency(),
        summary,
        ..FakeGraph::default()
    };
    let server = fake.start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("token"), "BENCH_TOKEN").expect("token file");
    let text = format!(
        "[graph]\nbase_url = \"{}\"\nmax_concurrency = {CONCURRENCY}\npage_size = 100\n\n\
         [[accounts]]\nname = \"bench\"\nwaba_id = \"104729331820556\"\ntoken_file = \"token\"\n",
        server.uri()
    );
    let cfg = Config::from_toml_str(&text, &dir.path().join("config.toml")).expect("config");
    let accounts: Vec<_> = cfg.accounts.iter().collect();
    let mut out = Vec::new();
    let mut before = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let res = collect_all_async(&cfg, &accounts, &CollectOptions::default()).await;
        let wall = t.elapsed();
        let snap = &res[0].as_ref().expect("collection succeeds").snapshot;
        assert_eq!(snap.templates.len(), TEMPLATES);
        assert_eq!(snap.phone_numbers.len(), NUMBERS);
        assert_eq!(snap.profiles.len(), NUMBERS);
        let total = server.received_requests().await.map_or(0, |r| r.len());
        out.push(Run {
            wall,
            requests: total - before,
        });
        before = total;
    }
    out
}

fn ideal(requests: usize) -> Duration {
    LATENCY.mul_f64(requests as f64 / CONCURRENCY as f64)
}

fn report(label: &str, runs: &mut [Run]) -> Duration {
    runs.sort_by_key(|r| r.wall);
    let median = &runs[runs.len() / 2];
    let best = &runs[0];
    // The fewest requests the job can take: 1 WABA + 20 template pages +
    // 1 number page + 20 profiles.
    let minimal = 1 + TEMPLATES.div_ceil(100) + 1 + NUMBERS;
    println!(
        "{label:<34} median {:>6.0} ms  best {:>6.0} ms  requests {:>3}  \
         ratio to ideal {:.2}× (ideal for its {} requests {:.0} ms), {:.2}× the minimal {} requests ({:.0} ms)",
        median.wall.as_secs_f64() * 1e3,
        best.wall.as_secs_f64() * 1e3,
        median.requests,
        median.wall.as_secs_f64() / ideal(median.requests).as_secs_f64(),
        median.requests,
        ideal(median.requests).as_secs_f64() * 1e3,
        median.wall.as_secs_f64() / ideal(minimal).as_secs_f64(),
        minimal,
        ideal(minimal).as_secs_f64() * 1e3,
    );
    median.wall
}

fn main() -> ExitCode {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "bench_graph: {TEMPLATES} templates (pages of 100) + {NUMBERS} numbers with profiles, \
         {} ms per request, {CONCURRENCY} in flight, {runs} runs",
        LATENCY.as_millis()
    );
    let (mut split, mut seq) =
        rt.block_on(async { (measure(true, runs).await, measure(false, runs).await) });
    let wall = report("split listing (total_count known)", &mut split);
    report("sequential cursor chain", &mut seq);
    if wall >= TARGET {
        println!(
            "FAIL: median {:.0} ms ≥ target {:.0} ms",
            wall.as_secs_f64() * 1e3,
            TARGET.as_secs_f64() * 1e3
        );
        return ExitCode::from(1);
    }
    println!(
        "ok: median {:.0} ms < target {:.0} ms",
        wall.as_secs_f64() * 1e3,
        TARGET.as_secs_f64() * 1e3
    );
    ExitCode::SUCCESS
}
