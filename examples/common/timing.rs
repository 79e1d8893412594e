//! Shared by the whole-process benchmarks (`bench_optin`, `bench_optout`):
//! one run of a command timed by `/usr/bin/time`.

use std::process::Command;

/// Wall time and CPU in seconds, peak RSS in KiB.
pub struct Sample {
    pub wall: f64,
    pub user: f64,
    pub sys: f64,
    pub rss_kib: u64,
}

/// Runs `cmd` under `/usr/bin/time`; its standard output is discarded.
pub fn timed(cmd: &[String]) -> Result<Sample, String> {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "@@%e %U %S %M"])
        .args(cmd)
        .output()
        .map_err(|e| format!("cannot run /usr/bin/time: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("@@"))
        .ok_or("no /usr/bin/time output")?;
    let v: Vec<&str> = line.split_whitespace().collect();
    let f = |i: usize| v.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    Ok(Sample {
        wall: f(0),
        user: f(1),
        sys: f(2),
        rss_kib: f(3) as u64,
    })
}
