//! Helpers for the ops tests (daemon, history, notifications,
//! suppressions, gate): configs in a temp folder, copies of the demo
//! export, run folders, a child process whose stderr can be waited on.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wabaguard"))
}

/// Copies a folder tree (the demo export, a fixture) so a test can edit it.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A config in `dir` auditing `exports` (with its send_log.csv when present)
/// as account `name`, reports in `dir/reports`, plus `extra` TOML.
pub fn config(dir: &Path, name: &str, exports: &Path, extra: &str) -> PathBuf {
    let send_log = exports.join("send_log.csv");
    let mut text = format!(
        "{extra}\n\n[[accounts]]\nname = \"{name}\"\nexports = \"{}\"\n",
        exports.display()
    );
    if send_log.is_file() {
        text.push_str(&format!("send_log = \"{}\"\n", send_log.display()));
    }
    let p = dir.join("config.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The demo export copied into `dir/demo`.
pub fn demo_copy(dir: &Path) -> PathBuf {
    let to = dir.join("demo");
    copy_dir(&root().join("examples/demo"), &to);
    to
}

/// Run folders (named like run ids), oldest first.
pub fn run_dirs(reports: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(reports)
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("20"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

/// The account section of a report.json.
pub fn account<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no account {name}"))
}

/// `wabaguard run --config CFG` at a fixed time; returns (code, stdout, stderr).
pub fn run_at(cfg: &Path, now: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .arg("run")
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("WABAGUARD_NOW", now)
        .env_remove("WABAGUARD_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A child process whose stderr lines are collected as they come.
pub struct Watched {
    pub child: Child,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Watched {
    pub fn spawn(mut cmd: Command) -> Watched {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watched {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits until a stderr line contains `needle` (panics after `within`).
    pub fn wait_for(&mut self, needle: &str, within: Duration) {
        let end = Instant::now() + within;
        if self.seen.iter().any(|l| l.contains(needle)) {
            return;
        }
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    self.seen.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        panic!(
            "no stderr line with {needle:?}; saw:\n{}",
            self.seen.join("\n")
        );
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits for exit (panics after `within`); returns the code and all stderr.
    pub fn finish(mut self, within: Duration) -> (i32, String) {
        let end = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // Drain what is left.
                while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(l);
                }
                return (st.code().unwrap_or(-1), self.seen.join("\n"));
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("process did not exit; stderr:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
