//! The single writer of the webhook events store (layout and reading:
//! [`crate::collect::event_store`]).
//!
//! Request handlers only verify, parse and enqueue; this writer takes
//! whatever is queued (up to [`MAX_BATCH`] deliveries), drops replays,
//! appends the new lines to each account's current segment, fsyncs each
//! touched segment once for the whole batch (group commit), and only then
//! acknowledges the deliveries. One fsync per drain keeps 1,000 deliveries
//! a second well within a disk's fsync rate.
//!
//! A replay (the same change, however its JSON is laid out) is recognised by
//! [`crate::collect::events::dedup_key`]; the writer remembers the newest
//! `dedupe_capacity` keys, and at start-up re-reads them from the newest
//! segments, so replays are dropped across restarts too.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::oneshot;
use tracing::{error, info, warn};

use super::critical::Critical;
use crate::collect::event_store::{account_dir, read_complete, segment_name, segments};
use crate::collect::events::line_keys;
use crate::metrics::Metrics;

/// At most this many deliveries are written (and fsync'd) together.
pub const MAX_BATCH: usize = 4096;

/// One change of a webhook delivery, ready to be stored.
#[derive(Debug)]
pub struct Change {
    /// Index of the account in the config.
    pub account: usize,
    pub key: [u8; 16],
    /// The envelope line (without its newline).
    pub line: Vec<u8>,
    /// Set when the change must be notified at once.
    pub critical: Option<Critical>,
}

/// What became of a delivery's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stored {
    pub appended: usize,
    pub duplicates: usize,
}

/// One verified webhook delivery.
#[derive(Debug)]
pub struct Job {
    pub changes: Vec<Change>,
    /// Answered once the changes are on disk (absent in `ack = "queued"` mode).
    pub ack: Option<oneshot::Sender<Result<Stored, String>>>,
}

struct Segment {
    n: u32,
    file: File,
    len: u64,
    /// A write failed part-way: the next write starts a new segment, so a
    /// torn line never gets glued to the next one.
    broken: bool,
}

/// Bounded memory of recent change keys.
struct Dedupe {
    set: HashSet<[u8; 16]>,
    order: VecDeque<[u8; 16]>,
    cap: usize,
}

impl Dedupe {
    fn new(cap: usize) -> Dedupe {
        Dedupe {
            set: HashSet::with_capacity(cap.min(1 << 20)),
            order: VecDeque::new(),
            cap,
        }
    }

    fn contains(&self, k: &[u8; 16]) -> bool {
        self.set.contains(k)
    }

    fn insert(&mut self, k: [u8; 16]) -> bool {
        if !self.set.insert(k) {
            return false;
        }
        self.order.push_back(k);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    fn forget(&mut self, k: &[u8; 16]) {
        self.set.remove(k);
    }
}

/// The writer's state: one open segment per account that received events.
pub struct StoreWriter {
    accounts: Vec<(String, PathBuf)>,
    open: HashMap<usize, Segment>,
    dedupe: Dedupe,
    segment_bytes: u64,
    metrics: Arc<Metrics>,
}

impl StoreWriter {
    /// Prepares the writer for `accounts` (names, in config order) and loads
    /// the keys of recently stored changes.
    pub fn open(
        reports_dir: &Path,
        accounts: &[String],
        segment_bytes: u64,
        dedupe_capacity: usize,
        metrics: Arc<Metrics>,
    ) -> StoreWriter {
        let accounts: Vec<(String, PathBuf)> = accounts
            .iter()
            .map(|a| (a.clone(), account_dir(reports_dir, a)))
            .collect();
        let mut dedupe = Dedupe::new(dedupe_capacity);
        let per_account = dedupe_capacity / accounts.len().max(1);
        let mut loaded = 0;
        for (name, dir) in &accounts {
            // Newest segments first, until this account's share is full.
            let mut keys: Vec<Vec<[u8; 16]>> = Vec::new();
            let mut n = 0;
            for (_, path) in segments(dir).into_iter().rev() {
                match read_complete(&path) {
                    Ok(bytes) => {
                        let k: Vec<[u8; 16]> =
                            bytes.split(|&b| b == b'\n').flat_map(line_keys).collect();
                        n += k.len();
                        keys.push(k);
                    }
                    Err(e) => {
                        warn!(account = %name, file = %path.display(), error = %e, "cannot read an events store segment; replays of its changes will not be recognised")
                    }
                }
                if n >= per_account {
                    break;
                }
            }
            for k in keys.into_iter().rev().flatten() {
                dedupe.insert(k);
                loaded += 1;
            }
        }
        if loaded > 0 {
            info!(
                keys = loaded.min(dedupe_capacity),
                "events store: recent changes loaded for replay detection"
            );
        }
        StoreWriter {
            accounts,
            open: HashMap::new(),
            dedupe,
            segment_bytes,
            metrics,
        }
    }

    /// The segment to append `extra` bytes to for `account`, rotating by size.
    fn segment(&mut self, account: usize, extra: u64) -> std::io::Result<&mut Segment> {
        let limit = self.segment_bytes;
        let rotate = match self.open.get(&account) {
            Some(s) => s.broken || (s.len > 0 && s.len + extra > limit),
            None => true,
        };
        if rotate {
            let dir = &self.accounts[account].1;
            let next = match self.open.remove(&account) {
                Some(s) => s.n + 1,
                None => {
                    std::fs::create_dir_all(dir)?;
                    // Continue the newest segment when it is whole and has room.
                    match segments(dir).pop() {
                        Some((n, path)) => {
                            let meta = std::fs::metadata(&path)?;
                            let whole = meta.len() == 0 || ends_with_newline(&path)?;
                            if whole && meta.len() + extra <= limit {
                                let file = OpenOptions::new().append(true).open(&path)?;
                                self.open.insert(
                                    account,
                                    Segment {
                                        n,
                                        file,
                                        len: meta.len(),
                                        broken: false,
                                    },
                                );
                                return Ok(self.open.get_mut(&account).expect("just inserted"));
                            }
                            n + 1
                        }
                        None => 1,
                    }
                }
            };
            let path = dir.join(segment_name(next));
            let file = OpenOptions::new()
                .append(true)
                .create_new(true)
                .open(&path)?;
            // The new name must survive a crash as well as its contents.
            sync_dir(dir);
            info!(account = %self.accounts[account].0, segment = %path.display(), "events store: new segment");
            self.open.insert(
                account,
                Segment {
                    n: next,
                    file,
                    len: 0,
                    broken: false,
                },
            );
        }
        Ok(self.open.get_mut(&account).expect("present"))
    }

    /// Writes a batch of deliveries, fsyncs, acknowledges them, and returns
    /// the critical changes that were new.
    pub fn write_batch(&mut self, jobs: Vec<Job>) -> Vec<Critical> {
        // Which changes are new: (job, change) pairs per account.
        let mut per_account: HashMap<usize, Vec<(usize, usize)>> = HashMap::new();
        let mut outcome: Vec<Stored> = vec![Stored::default(); jobs.len()];
        // Keys first seen in this batch, and deliveries that repeat one of
        // them: those are only safe once the first copy is on disk.
        let mut pending: HashSet<[u8; 16]> = HashSet::new();
        let mut repeats: Vec<(usize, [u8; 16])> = Vec::new();
        for (j, job) in jobs.iter().enumerate() {
            for (c, ch) in job.changes.iter().enumerate() {
                if self.dedupe.contains(&ch.key) {
                    outcome[j].duplicates += 1;
                    if pending.contains(&ch.key) {
                        repeats.push((j, ch.key));
                    }
                    continue;
                }
                self.dedupe.insert(ch.key);
                pending.insert(ch.key);
                per_account.entry(ch.account).or_default().push((j, c));
            }
        }
        let mut lost: HashSet<[u8; 16]> = HashSet::new();
        let mut failed: Vec<Option<String>> = vec![None; jobs.len()];
        let mut written: Vec<(usize, Vec<(usize, usize)>)> = Vec::new();
        let mut accounts: Vec<usize> = per_account.keys().copied().collect();
        accounts.sort_unstable();
        let mut appended = Vec::with_capacity(accounts.len());
        for account in accounts {
            let items = per_account.remove(&account).unwrap_or_default();
            let mut buf = Vec::new();
            for &(j, c) in &items {
                buf.extend_from_slice(&jobs[j].changes[c].line);
                buf.push(b'\n');
            }
            // Appends now; the fsyncs follow, all accounts' at once.
            let res = self.segment(account, buf.len() as u64).and_then(|s| {
                s.file.write_all(&buf).inspect_err(|_| s.broken = true)?;
                s.len += buf.len() as u64;
                Ok(())
            });
            appended.push((account, items, res));
        }
        let syncs: Vec<std::io::Result<()>> = {
            let files: Vec<Option<&File>> = appended
                .iter()
                .map(|(a, _, r)| {
                    r.as_ref()
                        .ok()
                        .and_then(|_| self.open.get(a))
                        .map(|s| &s.file)
                })
                .collect();
            if files.iter().flatten().count() <= 1 {
                files
                    .iter()
                    .map(|f| f.map_or(Ok(()), File::sync_data))
                    .collect()
            } else {
                std::thread::scope(|sc| {
                    let handles: Vec<_> = files
                        .iter()
                        .map(|f| f.map(|f| sc.spawn(move || f.sync_data())))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| match h {
                            Some(h) => h.join().unwrap_or_else(|_| {
                                Err(std::io::Error::other("fsync thread panicked"))
                            }),
                            None => Ok(()),
                        })
                        .collect()
                })
            }
        };
        for ((account, items, res), sync) in appended.into_iter().zip(syncs) {
            match res.and(sync) {
                Ok(()) => written.push((account, items)),
                Err(e) => {
                    if let Some(s) = self.open.get_mut(&account) {
                        s.broken = true;
                    }
                    let name = &self.accounts[account].0;
                    error!(account = %name, error = %e, "events store: append failed");
                    for &(j, c) in &items {
                        // Not stored: a retry must not be taken for a replay.
                        self.dedupe.forget(&jobs[j].changes[c].key);
                        lost.insert(jobs[j].changes[c].key);
                        failed[j] = Some(format!("events store of `{name}`: {e}"));
                    }
                }
            }
        }
        for (j, key) in repeats {
            if lost.contains(&key) && failed[j].is_none() {
                failed[j] =
                    Some("events store: the first copy of this change could not be written".into());
            }
        }
        let mut critical = Vec::new();
        for (account, items) in written {
            self.metrics
                .events_appended
                .get_or_create(&vec![("account", self.accounts[account].0.clone())])
                .inc_by(items.len() as u64);
            for &(j, c) in &items {
                if failed[j].is_none() {
                    outcome[j].appended += 1;
                }
                if let Some(cr) = &jobs[j].changes[c].critical {
                    critical.push(cr.clone());
                }
            }
        }
        let dups: usize = outcome.iter().map(|o| o.duplicates).sum();
        self.metrics.events_duplicate.inc_by(dups as u64);
        for ((job, out), fail) in jobs.into_iter().zip(outcome).zip(failed) {
            match (job.ack, fail) {
                (Some(ack), fail) => {
                    let _ = ack.send(match fail {
                        None => Ok(out),
                        Some(e) => Err(e),
                    });
                }
                (None, Some(e)) => {
                    // ack = "queued": Meta already has its 200 and will not
                    // resend; say so loudly and count it.
                    self.metrics.reject(crate::metrics::Rejection::StoreError);
                    error!(changes = job.changes.len(), error = %e, "events store: a delivery acknowledged with ack = \"queued\" could not be stored; these changes are lost (use ack = \"durable\" to have Meta retry)");
                }
                (None, None) => {}
            }
        }
        critical
    }
}

fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path)?;
    if f.seek(SeekFrom::End(0))? == 0 {
        return Ok(true);
    }
    f.seek(SeekFrom::End(-1))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b)?;
    Ok(b[0] == b'\n')
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Runs the writer on its own thread until every sender is dropped; new
/// critical changes go to `critical` (never blocking: a full channel drops
/// the notification with a log line, the change itself is stored).
pub fn spawn_writer(
    mut writer: StoreWriter,
    mut rx: tokio::sync::mpsc::Receiver<Job>,
    critical: tokio::sync::mpsc::Sender<Critical>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("wabaguard-events-writer".into())
        .spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(j) => batch.push(j),
                        Err(_) => break,
                    }
                }
                writer.metrics.queue_depth.dec_by(batch.len() as i64);
                for c in writer.write_batch(batch) {
                    if critical.try_send(c).is_err() {
                        warn!("critical-event notification queue is full; this event will be reported by the next run");
                    }
                }
            }
        })
}
