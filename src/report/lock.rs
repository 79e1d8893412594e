//! The reports folder's lock: one writer at a time.
//!
//! `wabaguard daemon` holds it for its whole life and `wabaguard run` for
//! the length of its run, so a second daemon, or a `run` next to a daemon,
//! on the same reports folder is refused instead of interleaving history
//! lines and racing over `latest`. It is an exclusive advisory lock on
//! `<reports>/.wabaguard.lock` (flock on Unix): the operating system
//! releases it when the process exits or crashes, so a stale lock file
//! never blocks anything. The file's text says who holds it, for the message.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use fs4::{FileExt, TryLockError};

pub const LOCK_FILE: &str = ".wabaguard.lock";

/// Held while alive; dropping it (or exiting) releases the lock.
#[derive(Debug)]
pub struct ReportsLock {
    file: File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "reports folder {dir} is in use by another wabaguard process{holder}: a second daemon, or a `run` while a daemon or another run writes there, is refused. Wait for it to finish, stop it, or use another reports folder (--out)"
    )]
    Busy { dir: PathBuf, holder: String },
    #[error("cannot lock reports folder {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

impl ReportsLock {
    /// Takes the lock without waiting. `what` (e.g. `daemon`, `run`) is
    /// written into the lock file for the message another process shows.
    pub fn acquire(reports_dir: &Path, what: &str) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            dir: reports_dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(reports_dir).map_err(io)?;
        let path = reports_dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // Fully qualified: newer std has an inherent `File::try_lock` too.
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = describe_holder(&text);
                return Err(LockError::Busy {
                    dir: reports_dir.to_owned(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let info = format!(
            "pid={}\ncommand={what}\nsince={}\n",
            std::process::id(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(info.as_bytes()).map_err(io)?;
        let _ = file.sync_data();
        Ok(ReportsLock { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ReportsLock {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
    }
}

/// ` (pid 4242, `wabaguard daemon`, since 2026-11-25T02:00:00Z)`, or empty.
fn describe_holder(text: &str) -> String {
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let mut parts = Vec::new();
    if let Some(p) = get("pid") {
        parts.push(format!("pid {p}"));
    }
    if let Some(c) = get("command") {
        parts.push(format!("`wabaguard {c}`"));
    }
    if let Some(s) = get("since") {
        parts.push(format!("since {s}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_told_who_holds_it() {
        let d = tempfile::tempdir().unwrap();
        let held = ReportsLock::acquire(d.path(), "daemon").unwrap();
        let err = ReportsLock::acquire(d.path(), "run")
            .unwrap_err()
            .to_string();
        assert!(err.contains("in use by another wabaguard process"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("`wabaguard daemon`"), "{err}");
        drop(held);
        // Released: the next one gets it, and the file says so.
        let again = ReportsLock::acquire(d.path(), "run").unwrap();
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert!(text.contains("command=run"), "{text}");
    }

    #[test]
    fn a_leftover_lock_file_does_not_block() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(LOCK_FILE), "pid=1\ncommand=daemon\n").unwrap();
        assert!(ReportsLock::acquire(d.path(), "run").is_ok());
    }
}
