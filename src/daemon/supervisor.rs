//! The daemon's run loop: start a run on each tick unless one is still
//! going (that tick is skipped, with a log line), and on shutdown stop
//! starting runs and give the one in progress a bounded grace period.
//!
//! The loop only sees [`Event`]s, so tests drive it with a channel and a
//! fake run instead of a clock and an audit.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

/// What the loop reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The schedule fired for this (scheduled) time.
    Tick(DateTime<Utc>),
    /// SIGTERM, SIGINT (or the event source closed).
    Shutdown(&'static str),
}

/// Why a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// 1 for the first run of this process, 2 for the next, ...
    pub seq: u32,
    /// The scheduled time, or `None` for `run_on_start`.
    pub scheduled: Option<DateTime<Utc>>,
}

/// How the loop ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Runs started.
    pub runs: u32,
    /// Ticks skipped because a run was still going.
    pub skipped: u32,
    /// A run was still going when the grace period ran out (or a second
    /// signal came): it was abandoned.
    pub abandoned: bool,
    /// The signal that stopped the loop.
    pub stopped_by: Option<&'static str>,
}

/// Runs the loop until a [`Event::Shutdown`] (or the channel closes).
/// `run` is blocking code; it runs on tokio's blocking pool, one at a time.
pub async fn supervise<F>(
    mut events: UnboundedReceiver<Event>,
    run_on_start: bool,
    grace: Duration,
    run: F,
) -> Stats
where
    F: Fn(Trigger) + Send + Sync + 'static,
{
    let run = Arc::new(run);
    let mut stats = Stats::default();
    let mut current: Option<JoinHandle<()>> = None;
    let mut last_tick: Option<DateTime<Utc>> = None;
    let start = |stats: &mut Stats, scheduled: Option<DateTime<Utc>>| {
        stats.runs += 1;
        let trigger = Trigger {
            seq: stats.runs,
            scheduled,
        };
        let run = Arc::clone(&run);
        tokio::task::spawn_blocking(move || run(trigger))
    };
    if run_on_start {
        info!("run_on_start: starting a run now");
        current = Some(start(&mut stats, None));
    }
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(Event::Tick(at)) => {
                    // The scheduler may deliver one fire time twice; act once.
                    if last_tick.is_some_and(|l| at <= l) {
                        continue;
                    }
                    last_tick = Some(at);
                    if current.as_ref().is_some_and(|h| !h.is_finished()) {
                        stats.skipped += 1;
                        warn!(scheduled = %at, "skipping this scheduled run: the previous run is still going");
                    } else {
                        current = Some(start(&mut stats, Some(at)));
                    }
                }
                Some(Event::Shutdown(sig)) => {
                    stats.stopped_by = Some(sig);
                    break;
                }
                None => {
                    stats.stopped_by = Some("event source closed");
                    break;
                }
            },
            done = async { current.as_mut().expect("guarded").await }, if current.is_some() => {
                current = None;
                if let Err(e) = done {
                    error!(error = %e, "the run stopped unexpectedly");
                }
            }
        }
    }
    let Some(mut handle) = current.take().filter(|h| !h.is_finished()) else {
        info!(
            signal = stats.stopped_by.unwrap_or("?"),
            "shutting down: no run in progress"
        );
        return stats;
    };
    info!(
        signal = stats.stopped_by.unwrap_or("?"),
        grace_secs = grace.as_secs_f64(),
        "shutting down: waiting for the run in progress to finish"
    );
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            done = &mut handle => {
                if let Err(e) = done {
                    error!(error = %e, "the run stopped unexpectedly");
                }
                info!("the run in progress finished; stopped");
                return stats;
            }
            _ = &mut deadline => {
                error!(grace_secs = grace.as_secs_f64(), "grace period over: abandoning the run in progress (its report is not written; earlier reports are intact)");
                stats.abandoned = true;
                return stats;
            }
            ev = events.recv() => match ev {
                Some(Event::Shutdown(sig)) => {
                    error!(signal = sig, "second signal: abandoning the run in progress (its report is not written; earlier reports are intact)");
                    stats.abandoned = true;
                    return stats;
                }
                Some(Event::Tick(at)) => {
                    stats.skipped += 1;
                    info!(scheduled = %at, "not starting a scheduled run: shutting down");
                }
                // Nothing more can arrive: just wait for the run or the deadline.
                None => {
                    tokio::select! {
                        done = &mut handle => {
                            if let Err(e) = done {
                                error!(error = %e, "the run stopped unexpectedly");
                            }
                            return stats;
                        }
                        _ = &mut deadline => {
                            stats.abandoned = true;
                            return stats;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::sync::mpsc::unbounded_channel;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A fake run that blocks until the test opens the gate.
    struct Gate {
        open: Mutex<bool>,
        cv: std::sync::Condvar,
    }

    impl Gate {
        fn new() -> Arc<Self> {
            Arc::new(Gate {
                open: Mutex::new(false),
                cv: std::sync::Condvar::new(),
            })
        }
        fn wait(&self) {
            let mut g = self.open.lock().unwrap();
            while !*g {
                g = self.cv.wait(g).unwrap();
            }
        }
        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.cv.notify_all();
        }
    }

    async fn until(cond: impl Fn() -> bool) {
        for _ in 0..400 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("condition not reached");
    }

    #[tokio::test]
    async fn a_tick_during_a_run_is_skipped_and_the_next_one_runs() {
        let (tx, rx) = unbounded_channel();
        let gate = Gate::new();
        let started = Arc::new(AtomicU32::new(0));
        let finished = Arc::new(AtomicU32::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (g, s, f, v) = (
            gate.clone(),
            started.clone(),
            finished.clone(),
            seen.clone(),
        );
        let task = tokio::spawn(supervise(rx, false, Duration::from_secs(5), move |tr| {
            s.fetch_add(1, Ordering::SeqCst);
            v.lock().unwrap().push(tr);
            if tr.seq == 1 {
                g.wait();
            }
            f.fetch_add(1, Ordering::SeqCst);
        }));
        tx.send(Event::Tick(t("2026-11-25T02:00:00Z"))).unwrap();
        until(|| started.load(Ordering::SeqCst) == 1).await;
        // Still running: this tick is skipped, and a duplicate is ignored.
        tx.send(Event::Tick(t("2026-11-26T02:00:00Z"))).unwrap();
        tx.send(Event::Tick(t("2026-11-26T02:00:00Z"))).unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(started.load(Ordering::SeqCst), 1);
        gate.open();
        until(|| finished.load(Ordering::SeqCst) == 1).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        tx.send(Event::Tick(t("2026-11-27T02:00:00Z"))).unwrap();
        until(|| finished.load(Ordering::SeqCst) == 2).await;
        tx.send(Event::Shutdown("SIGTERM")).unwrap();
        let stats = task.await.unwrap();
        assert_eq!(stats.runs, 2);
        assert_eq!(stats.skipped, 1);
        assert!(!stats.abandoned);
        assert_eq!(stats.stopped_by, Some("SIGTERM"));
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].scheduled, Some(t("2026-11-25T02:00:00Z")));
        assert_eq!(seen[1].scheduled, Some(t("2026-11-27T02:00:00Z")));
        assert_eq!(seen[1].seq, 2);
    }

    #[tokio::test]
    async fn shutdown_waits_for_the_run_in_progress() {
        let (tx, rx) = unbounded_channel();
        let gate = Gate::new();
        let finished = Arc::new(AtomicU32::new(0));
        let (g, f) = (gate.clone(), finished.clone());
        let task = tokio::spawn(supervise(rx, true, Duration::from_secs(5), move |tr| {
            assert_eq!(tr.scheduled, None);
            g.wait();
            f.fetch_add(1, Ordering::SeqCst);
        }));
        tx.send(Event::Shutdown("SIGINT")).unwrap();
        // A tick after the signal starts nothing.
        tx.send(Event::Tick(t("2026-11-25T02:00:00Z"))).unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!task.is_finished(), "must wait for the run");
        gate.open();
        let stats = task.await.unwrap();
        assert_eq!(finished.load(Ordering::SeqCst), 1);
        assert_eq!(stats.runs, 1);
        assert!(!stats.abandoned);
    }

    #[tokio::test]
    async fn the_grace_period_bounds_the_wait() {
        let (tx, rx) = unbounded_channel();
        let gate = Gate::new();
        let g = gate.clone();
        let task = tokio::spawn(supervise(rx, true, Duration::from_millis(50), move |_| {
            g.wait()
        }));
        tx.send(Event::Shutdown("SIGTERM")).unwrap();
        let stats = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the grace period must end the wait")
            .unwrap();
        assert!(stats.abandoned);
        gate.open();
    }

    #[tokio::test]
    async fn a_second_signal_stops_at_once() {
        let (tx, rx) = unbounded_channel();
        let gate = Gate::new();
        let g = gate.clone();
        let task = tokio::spawn(supervise(rx, true, Duration::from_secs(600), move |_| {
            g.wait()
        }));
        tx.send(Event::Shutdown("SIGTERM")).unwrap();
        tx.send(Event::Shutdown("SIGTERM")).unwrap();
        let stats = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("a second signal must end the wait")
            .unwrap();
        assert!(stats.abandoned);
        gate.open();
    }

    #[tokio::test]
    async fn idle_shutdown_is_immediate() {
        let (tx, rx) = unbounded_channel();
        let task = tokio::spawn(supervise(rx, false, Duration::from_secs(600), |_| {}));
        tx.send(Event::Shutdown("SIGTERM")).unwrap();
        let stats = task.await.unwrap();
        assert_eq!(
            stats,
            Stats {
                runs: 0,
                skipped: 0,
                abandoned: false,
                stopped_by: Some("SIGTERM")
            }
        );
    }
}
