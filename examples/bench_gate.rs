//! Benchmark: whole-process `wabaguard gate` wall time — process start,
//! config, data, decision, output — for one template, with and without a
//! 100,000-row audience. Target: ≤ 300 ms when the gate decides from the
//! latest report (the nightly run); the fresh-collection case is informative.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_gate            # 15 runs each
//! cargo run --release --example bench_gate -- 50                              # 50 runs each
//! ```
//! Three cases, on the bundled demo account (40 templates):
//! 1. `report`: the latest report is recent, the gate decides from it;
//! 2. `fresh`: the report is older than `[gate] max_snapshot_age`, the gate
//!    collects and audits the account afresh (rule packs compiled, checks run);
//! 3. `audience`: case 1 plus `--audience` (100,000 rows) and `--consent`
//!    (the ledger): the gate computes opt-in coverage with the opt-in engine.
//!
//! 4. `campaign`: a MARKETING template with a 1,000,000-row audience, a
//!    consent ledger with a `scope` column and a send log with a recipient
//!    column (200,000 sends in the last 24 h, 130497 failures for Brazil):
//!    consent scoped to the category, country rules (us-marketing and the
//!    learned send-log-130497-br), messaging-limit headroom. Target < 1 s.
//!
//! The audience and ledger are generated deterministically (fixed seed):
//! `phone` column of E.164 numbers, 3% duplicates, 1% invalid; the ledger
//! has an opt-in for 97% of them (2% later opted out). The campaign audience
//! mixes US (80%), Canadian (10%), Jamaican (5%) and Brazilian (5%) numbers;
//! its ledger scopes are all/empty (60%), marketing (20%), utility (10%) and
//! marketing|utility (10%), with 3% scoped opt-outs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const TARGET: Duration = Duration::from_millis(300);
const AUDIENCE_ROWS: usize = 100_000;
const CAMPAIGN_TARGET: Duration = Duration::from_millis(1000);
const CAMPAIGN_ROWS: usize = 1_000_000;
const SEND_LOG_ROWS: usize = 200_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes the audience and the consent ledger; returns their paths.
fn generate(dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
    let mut rng = Rng(7);
    let audience = dir.join("audience-100k.csv");
    let ledger = dir.join("consent-ledger.csv");
    let mut a = std::io::BufWriter::new(std::fs::File::create(&audience)?);
    let mut l = std::io::BufWriter::new(std::fs::File::create(&ledger)?);
    writeln!(a, "phone,first_name,segment")?;
    writeln!(l, "phone,event,timestamp,source")?;
    let mut previous = String::new();
    for i in 0..AUDIENCE_ROWS {
        let roll = rng.below(100);
        let phone = if roll < 3 && !previous.is_empty() {
            previous.clone()
        } else if roll < 4 {
            format!("+1555{:03}", rng.below(1000))
        } else {
            format!("+1{}{:07}", 201 + rng.below(700), rng.below(10_000_000))
        };
        writeln!(a, "{phone},Customer{i},{}", ["vip", "new", "lapsed"][i % 3])?;
        if rng.below(100) < 97 {
            let day = 1 + rng.below(28);
            writeln!(l, "{phone},opt_in,2026-10-{day:02}T10:00:00Z,checkout")?;
            if rng.below(100) < 2 {
                writeln!(l, "{phone},opt_out,2026-11-{day:02}T10:00:00Z,reply_stop")?;
            }
        }
        previous = phone;
    }
    a.flush()?;
    l.flush()?;
    Ok((audience, ledger))
}

/// The campaign audience (1M rows), its scoped ledger and a send log with
/// recipients; returns their paths.
fn generate_campaign(dir: &Path) -> std::io::Result<(PathBuf, PathBuf, PathBuf)> {
    let mut rng = Rng(11);
    let audience = dir.join("audience-1m.csv");
    let ledger = dir.join("consent-ledger-scoped.csv");
    let log = dir.join("send-log-recipients.csv");
    let mut a = std::io::BufWriter::new(std::fs::File::create(&audience)?);
    let mut l = std::io::BufWriter::new(std::fs::File::create(&ledger)?);
    writeln!(a, "phone,first_name,segment")?;
    writeln!(l, "phone,event,timestamp,source,scope")?;
    let mut previous = String::new();
    let mut numbers = Vec::with_capacity(CAMPAIGN_ROWS);
    for i in 0..CAMPAIGN_ROWS {
        let roll = rng.below(100);
        let phone = if roll < 3 && !previous.is_empty() {
            previous.clone()
        } else if roll < 4 {
            format!("+1555{:03}", rng.below(1000))
        } else {
            match rng.below(100) {
                0..80 => format!(
                    "+1{}{:07}",
                    201 + rng.below(700),
                    2_000_000 + rng.below(8_000_000)
                ),
                80..90 => format!(
                    "+1{}{:07}",
                    [416, 604, 514, 403][i % 4],
                    2_000_000 + rng.below(8_000_000)
                ),
                90..95 => format!("+1876{:07}", 9_270_000 + rng.below(10_000)),
                _ => format!("+55119{:08}", 60_000_000 + rng.below(39_999_999)),
            }
        };
        writeln!(a, "{phone},Customer{i},{}", ["vip", "new", "lapsed"][i % 3])?;
        if rng.below(100) < 97 {
            let day = 1 + rng.below(28);
            let scope = match rng.below(10) {
                0..6 => ["", "all", "", ""][i % 4],
                6..8 => "marketing",
                8 => "utility",
                _ => "marketing|utility",
            };
            writeln!(
                l,
                "{phone},opt_in,2026-10-{day:02}T10:00:00Z,checkout,{scope}"
            )?;
            if rng.below(100) < 3 {
                writeln!(
                    l,
                    "{phone},opt_out,2026-11-{day:02}T10:00:00Z,reply_stop,marketing"
                )?;
            }
        }
        numbers.push(phone.clone());
        previous = phone;
    }
    a.flush()?;
    l.flush()?;
    let mut s = std::io::BufWriter::new(std::fs::File::create(&log)?);
    writeln!(
        s,
        "timestamp,phone_number_id,recipient,message_id,template,status,error_code"
    )?;
    for i in 0..SEND_LOG_ROWS {
        let n = &numbers[rng.below(numbers.len() as u64) as usize];
        let minute = rng.below(60 * 20);
        let (status, code) = if i % 500 == 0 {
            ("failed", "130497")
        } else {
            ("delivered", "")
        };
        let to = if code.is_empty() {
            n.trim_start_matches('+').to_owned()
        } else {
            format!("+55119{:08}", 70_000_000 + i)
        };
        writeln!(
            s,
            "2026-11-24T{:02}:{:02}:00Z,109283746501928,{to},wamid.{i},wine_cheese_weekend,{status},{code}",
            8 + minute / 60,
            minute % 60
        )?;
    }
    s.flush()?;
    Ok((audience, ledger, log))
}

struct Case {
    name: &'static str,
    /// Config file (else the demo config).
    config: Option<PathBuf>,
    target: Duration,
    now: &'static str,
    extra: Vec<String>,
}

fn measure(bin: &Path, cfg: &Path, case: &Case, runs: usize) -> (Vec<Duration>, i32) {
    let mut times = Vec::with_capacity(runs);
    let mut code = -1;
    let cfg = case.config.as_deref().unwrap_or(cfg);
    for _ in 0..runs {
        let start = Instant::now();
        let st = Command::new(bin)
            .args(["gate", "--config"])
            .arg(cfg)
            .args(["--account", "casa-verde"])
            .args(&case.extra)
            .env("WABAGUARD_NOW", case.now)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the gate");
        times.push(start.elapsed());
        code = st.code().unwrap_or(-1);
    }
    times.sort();
    (times, code)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> ExitCode {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(15)
        .max(1);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = root.join("target/release/wabaguard");
    if !bin.exists() {
        eprintln!("build the release binary first: cargo build --release");
        return ExitCode::from(2);
    }
    let dir = std::env::temp_dir().join("wabaguard-bench-gate");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let demo = root.join("examples/demo");
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[reports]\ndir = \"reports\"\n[gate]\nmax_snapshot_age = \"24h\"\n\n[[accounts]]\nname = \"casa-verde\"\nexports = \"{}\"\nsend_log = \"{}\"\n",
            demo.display(),
            demo.join("send_log.csv").display()
        ),
    )
    .expect("config");
    let st = Command::new(&bin)
        .args(["run", "--quiet", "--config"])
        .arg(&cfg)
        .env("WABAGUARD_NOW", "2026-11-25T02:00:00Z")
        .status()
        .expect("run");
    assert!(st.success(), "the setup run failed");
    let (audience, ledger) = generate(&dir).expect("generate audience");
    let size = std::fs::metadata(&audience).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(&ledger).map(|m| m.len()).unwrap_or(0);
    let (c_audience, c_ledger, c_log) = generate_campaign(&dir).expect("generate campaign");
    let c_size: u64 = [&c_audience, &c_ledger, &c_log]
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    // The campaign's account: the demo with the generated send log.
    let c_dir = dir.join("campaign");
    std::fs::create_dir_all(&c_dir).expect("campaign dir");
    let c_cfg = c_dir.join("config.toml");
    std::fs::write(
        &c_cfg,
        format!(
            "[reports]\ndir = \"reports\"\n[gate]\nmax_snapshot_age = \"24h\"\n\n[[accounts]]\nname = \"casa-verde\"\nexports = \"{}\"\nsend_log = \"{}\"\n",
            demo.display(),
            c_log.display()
        ),
    )
    .expect("campaign config");
    let st = Command::new(&bin)
        .args(["run", "--quiet", "--config"])
        .arg(&c_cfg)
        .env("WABAGUARD_NOW", "2026-11-25T02:00:00Z")
        .status()
        .expect("run");
    assert!(st.code() != Some(2), "the campaign setup run failed");
    println!(
        "bench_gate: demo account (40 templates), 1 template, {runs} runs per case; audience {AUDIENCE_ROWS} rows + ledger, {:.1} MB; campaign {CAMPAIGN_ROWS} rows + scoped ledger + send log ({SEND_LOG_ROWS} rows), {:.1} MB",
        size as f64 / 1e6,
        c_size as f64 / 1e6
    );
    let template = |t: &str| vec!["--template".to_owned(), t.to_owned()];
    let cases = [
        Case {
            name: "report (latest report 3 h old)",
            config: None,
            target: TARGET,
            now: "2026-11-25T05:00:00Z",
            extra: template("pickup_slot_booked:en_US"),
        },
        Case {
            name: "fresh (report too old: collect + audit)",
            config: None,
            target: TARGET,
            now: "2026-11-27T05:00:00Z",
            extra: template("pickup_slot_booked:en_US"),
        },
        Case {
            name: "audience (report + 100k audience)",
            config: None,
            target: TARGET,
            now: "2026-11-25T05:00:00Z",
            extra: [
                template("pickup_slot_booked:en_US"),
                vec![
                    "--audience".into(),
                    audience.display().to_string(),
                    "--consent".into(),
                    ledger.display().to_string(),
                ],
            ]
            .concat(),
        },
        Case {
            name: "campaign (1M, scope+country+headroom)",
            config: Some(c_cfg.clone()),
            target: CAMPAIGN_TARGET,
            now: "2026-11-25T05:00:00Z",
            extra: [
                template("wine_cheese_weekend"),
                vec![
                    "--audience".into(),
                    c_audience.display().to_string(),
                    "--consent".into(),
                    c_ledger.display().to_string(),
                ],
            ]
            .concat(),
        },
    ];
    let mut worst_decided = Duration::ZERO;
    let mut failed = false;
    for case in &cases {
        let (t, code) = measure(&bin, &cfg, case, runs);
        let median = t[t.len() / 2];
        println!(
            "  {:<42} exit {code}  min {:>6.1} ms  median {:>6.1} ms  max {:>6.1} ms",
            case.name,
            ms(t[0]),
            ms(median),
            ms(t[t.len() - 1])
        );
        if code == 2 {
            println!("  {:<42} (exit 2: the gate could not decide)", "");
            return ExitCode::from(2);
        }
        // The target is for deciding from the nightly report; a fresh
        // collection (no recent report) is reported but not held to it.
        if case.name.starts_with("campaign") {
            if median > case.target {
                println!(
                    "FAIL: campaign median {:.0} ms > target {:.0} ms",
                    ms(median),
                    ms(case.target)
                );
                failed = true;
            } else {
                println!(
                    "ok: the campaign gate (1M rows, scope + country rules + headroom) has a median {:.1} ms ≤ {:.0} ms",
                    ms(median),
                    ms(case.target)
                );
            }
        } else if !case.name.starts_with("fresh") {
            worst_decided = worst_decided.max(median);
        }
    }
    if failed {
        return ExitCode::from(1);
    }
    if worst_decided > TARGET {
        println!(
            "FAIL: median {:.0} ms > target {:.0} ms",
            ms(worst_decided),
            ms(TARGET)
        );
        return ExitCode::from(1);
    }
    println!(
        "ok: deciding from the latest report, with and without the audience, has a median ≤ {:.0} ms (worst {:.1} ms)",
        ms(TARGET),
        ms(worst_decided)
    );
    ExitCode::SUCCESS
}
