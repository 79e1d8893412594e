//! Reading a large send log with the template register's columns
//! (template, recipient → country) — streaming, nothing kept per row.
//!
//! `cargo run --release --example bench_send_log [ROWS]` (default 1,000,000):
//! writes a deterministic CSV to a temp folder, then times
//! `collect::send_log::read_send_log` on it.

use std::io::Write;
use std::time::Instant;

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("send_log.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    writeln!(
        f,
        "timestamp,phone_number_id,recipient,message_id,template,status,error_code"
    )
    .unwrap();
    let templates = [
        "order_confirmation",
        "shipping_update",
        "recibo_pago",
        "pedido_enviado",
        "verification_code",
        "black_friday_br",
    ];
    let prefixes = ["+1415555", "+5511955", "+5255123", "+4915123", "+6281234"];
    let t0 = 1_792_886_400i64; // 2026-10-25
    for i in 0..rows {
        let (status, code) = if i % 50 == 0 {
            ("failed", "131049")
        } else {
            (["delivered", "read", "sent"][i % 3], "")
        };
        writeln!(
            f,
            "{},10654035224292{},{}{:04},wamid.HBgL{:012},{},{status},{code}",
            t0 + (i as i64 * 2_592_000 / rows.max(1) as i64),
            i % 2,
            prefixes[i % prefixes.len()],
            i % 10_000,
            i,
            templates[(i / 7) % templates.len()],
        )
        .unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let start = Instant::now();
    let read = wabaguard::collect::send_log::read_send_log(&path, "send_log.csv").expect("read");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} rows ({:.0} MB): {:.2} s, {:.0} rows/s; {} template-day-country cells, {} bad rows",
        read.stats.rows,
        size as f64 / 1e6,
        secs,
        read.stats.rows as f64 / secs,
        read.stats.template_volume.len(),
        read.stats.bad_rows
    );
}
