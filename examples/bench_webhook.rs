//! Benchmark: the daemon's webhook receiver under Meta-like load.
//! Target: 1,000 signed POSTs a second for 10 s, no loss, p99 < 20 ms.
//!
//! ```text
//! cargo run --release --example bench_webhook                    # 1000/s for 10 s, ack = queued (the default)
//! cargo run --release --example bench_webhook -- 1000 10 durable # rate, seconds, ack mode
//! ```
//! The receiver is the real one ([`wabaguard::server::Server`]) started
//! in-process on 127.0.0.1:0 with a config of two accounts, writing its
//! events store to a temporary reports folder on the same disk as the
//! build (so fsyncs are real). The client is open-loop: request `i` is
//! sent at `start + i / rate` whether or not earlier ones have finished
//! (several keep-alive connections are used as needed), and its latency
//! is measured from that scheduled time, so a slow server cannot hide its
//! queueing. Every body is a distinct, pre-signed change (1 in 20 is a
//! batch of two changes for both accounts, 1 in 50 a replay of an earlier
//! one). Afterwards the store's lines are counted: they must equal the
//! changes acknowledged as appended, which must equal the distinct changes
//! sent.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use serde_json::json;
use wabaguard::collect::event_store;
use wabaguard::config::Config;
use wabaguard::metrics::Metrics;
use wabaguard::server::{Secret, Secrets, Server};

const SECRET: &str = "bench-app-secret";
const TARGET_P99: Duration = Duration::from_millis(20);
const WABAS: [&str; 2] = ["102290129340398", "104729331820556"];

fn sign(body: &[u8]) -> String {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

fn change(i: usize) -> serde_json::Value {
    json!({"field": "message_template_status_update", "value": {
        "event": if i % 7 == 0 { "REJECTED" } else { "APPROVED" },
        "message_template_id": 1_842_991_250_000_000u64 + i as u64,
        "message_template_name": format!("order_update_{i}"),
        "message_template_language": "en_US",
        "reason": "NONE"}})
}

/// The bodies to send and the number of distinct changes among them.
fn bodies(n: usize) -> (Vec<(Vec<u8>, String)>, usize) {
    let mut out = Vec::with_capacity(n);
    let mut distinct = 0;
    let mut sent: Vec<Vec<u8>> = Vec::new();
    for i in 0..n {
        let body = if i % 50 == 49 {
            // A replay of an earlier delivery.
            sent[i / 2].clone()
        } else if i % 20 == 0 {
            distinct += 2;
            serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [
                {"id": WABAS[0], "time": 1_790_000_000 + i, "changes": [change(i)]},
                {"id": WABAS[1], "time": 1_790_000_000 + i, "changes": [change(i)]},
            ]}))
            .unwrap()
        } else {
            distinct += 1;
            serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [
                {"id": WABAS[i % 2], "time": 1_790_000_000 + i, "changes": [change(i)]},
            ]}))
            .unwrap()
        };
        sent.push(body.clone());
        let sig = sign(&body);
        out.push((body, sig));
    }
    (out, distinct)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rate: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let secs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let ack = args.get(2).map(String::as_str).unwrap_or("queued");
    let n = rate * secs;

    // The reports folder lives under target/, on the build's disk.
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let dir = tempfile::tempdir_in(&base).unwrap();
    let cfg_path = dir.path().join("config.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[reports]\ndir = \"reports\"\n\n[server]\nack = \"{ack}\"\n\n\
             [[accounts]]\nname = \"lumen\"\nwaba_id = \"{}\"\nexports = \"{}\"\n\n\
             [[accounts]]\nname = \"casa-verde\"\nwaba_id = \"{}\"\nexports = \"{}\"\n",
            WABAS[0],
            base.join("../tests/fixtures/accounts/clean").display(),
            WABAS[1],
            base.join("../examples/demo").display()
        ),
    )
    .unwrap();
    let cfg = Config::load(&cfg_path).unwrap();
    let (bodies, distinct) = bodies(n);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (lat, ok, appended, errors, elapsed, max_conc) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let metrics = Arc::new(Metrics::new());
        let secrets = Secrets {
            app_secret: Secret::new(SECRET),
            verify_token: Secret::new("bench-verify"),
        };
        let server = Server::start(&cfg, secrets, listener, metrics).unwrap();
        let url = format!("http://{}/webhook", server.addr);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        // Warm-up: connections and the store's first segments.
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let max_in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = tokio::time::Instant::now() + Duration::from_millis(200);
        let interval = Duration::from_secs(1) / rate as u32;
        let mut tasks = Vec::with_capacity(n);
        for (i, (body, sig)) in bodies.into_iter().enumerate() {
            let at = start + interval * i as u32;
            let (client, url) = (client.clone(), url.clone());
            let (inf, maxf) = (Arc::clone(&in_flight), Arc::clone(&max_in_flight));
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let c = inf.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                maxf.fetch_max(c, std::sync::atomic::Ordering::Relaxed);
                let r = client
                    .post(&url)
                    .header("X-Hub-Signature-256", sig)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let out = match r {
                    Ok(r) if r.status() == 200 => {
                        let v: serde_json::Value = r.json().await.unwrap_or_default();
                        Ok(v["appended"]
                            .as_u64()
                            .or_else(|| v["queued"].as_u64())
                            .unwrap_or(0))
                    }
                    Ok(r) => Err(format!("HTTP {}", r.status())),
                    Err(e) => Err(e.to_string()),
                };
                inf.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                (at.elapsed(), out)
            }));
        }
        let t0 = Instant::now();
        let mut lat = Vec::with_capacity(n);
        let (mut ok, mut appended, mut errors) = (0usize, 0u64, Vec::new());
        for t in tasks {
            let (d, r) = t.await.unwrap();
            lat.push(d);
            match r {
                Ok(a) => {
                    ok += 1;
                    appended += a;
                }
                Err(e) => errors.push(e),
            }
        }
        let elapsed = t0.elapsed();
        server.shutdown().await;
        (
            lat,
            ok,
            appended,
            errors,
            elapsed,
            max_in_flight.load(std::sync::atomic::Ordering::Relaxed),
        )
    });
    let mut lat = lat;
    lat.sort();
    let reports = cfg.reports_dir();
    let lines: usize = cfg
        .accounts
        .iter()
        .flat_map(|a| event_store::segments(&event_store::account_dir(&reports, &a.name)))
        .map(|(_, p)| {
            std::fs::read(p)
                .unwrap()
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
        })
        .sum();
    println!(
        "bench_webhook: {n} POSTs at {rate}/s for {secs} s (ack = {ack}), sent over {:.2} s, up to {max_conc} in flight",
        elapsed.as_secs_f64()
    );
    println!(
        "  answered 200: {ok}/{n}; errors: {}{}",
        errors.len(),
        errors
            .first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    println!(
        "  distinct changes sent: {distinct}; acknowledged as {}: {appended}; lines in the store: {lines}",
        if ack == "queued" {
            "queued (replays included)"
        } else {
            "appended"
        }
    );
    println!(
        "  latency from scheduled send: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        pct(&lat, 0.50).as_secs_f64() * 1e3,
        pct(&lat, 0.90).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        pct(&lat, 0.999).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    // In `queued` mode the answer counts what was queued (replays included).
    let acked_ok = if ack == "queued" {
        appended as usize == distinct + n / 50
    } else {
        appended as usize == distinct
    };
    let no_loss = ok == n && acked_ok && lines == distinct;
    let fast = pct(&lat, 0.99) < TARGET_P99;
    println!(
        "  no loss: {}; p99 < {} ms: {}",
        if no_loss { "yes" } else { "NO" },
        TARGET_P99.as_millis(),
        if fast { "yes" } else { "NO" }
    );
    if no_loss && fast {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
