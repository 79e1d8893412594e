//! `wabaguard daemon`: the audit on a schedule.
//!
//! - [`schedule`]: the cron dialect and DST-correct fire times;
//! - [`ticker`]: tokio-cron-scheduler turning the schedule into ticks;
//! - [`supervisor`]: one run at a time, skipped ticks, graceful shutdown;
//! - [`signals`]: SIGTERM/SIGINT as shutdown events.
//!
//! Each run is [`crate::runner::run_once`] on tokio's blocking pool, the
//! same pipeline as `wabaguard run`.

pub mod schedule;
pub mod supervisor;
pub mod ticker;

pub use schedule::Schedule;
pub use supervisor::{Event, Stats, Trigger, supervise};
pub use ticker::CronTicker;

/// Listens for SIGTERM and SIGINT (Ctrl-C) and sends one
/// [`Event::Shutdown`] per signal. Must be called inside a tokio runtime.
pub fn signals(tx: tokio::sync::mpsc::UnboundedSender<Event>) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            loop {
                let sig = tokio::select! {
                    v = term.recv() => v.map(|_| "SIGTERM"),
                    v = int.recv() => v.map(|_| "SIGINT"),
                };
                let Some(sig) = sig else { break };
                tracing::info!(signal = sig, "signal received");
                if tx.send(Event::Shutdown(sig)).is_err() {
                    break;
                }
            }
        });
    }
    #[cfg(not(unix))]
    {
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if tx.send(Event::Shutdown("Ctrl-C")).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}
