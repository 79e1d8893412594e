//! Turns the schedule into [`Event::Tick`]s with tokio-cron-scheduler.
//!
//! tokio-cron-scheduler computes a job's *first* fire time in the job's time
//! zone, but every later one with the UTC offset the zone had when the job
//! was created — after a DST switch a nightly 02:00 job would fire at 03:00
//! (or 01:00). So each job fires once: it sends its tick, removes itself and
//! adds a fresh job, whose first fire time is again computed in the zone.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedSender;
use tokio_cron_scheduler::{Job, JobScheduler};
use tracing::{error, info, warn};

use super::schedule::Schedule;
use super::supervisor::Event;

/// A running scheduler feeding ticks into a channel.
pub struct CronTicker {
    sched: JobScheduler,
}

type Armed = Pin<Box<dyn Future<Output = Result<Option<DateTime<Utc>>, String>> + Send>>;

impl CronTicker {
    /// Starts ticking; returns the ticker and the first fire time.
    pub async fn start(
        schedule: Schedule,
        tx: UnboundedSender<Event>,
    ) -> Result<(Self, Option<DateTime<Utc>>), String> {
        let sched = JobScheduler::new()
            .await
            .map_err(|e| format!("cannot start the scheduler: {e:?}"))?;
        let first = arm(sched.clone(), Arc::new(schedule), tx).await?;
        sched
            .start()
            .await
            .map_err(|e| format!("cannot start the scheduler: {e:?}"))?;
        Ok((CronTicker { sched }, first))
    }

    /// Stops scheduling (a run in progress is not affected).
    pub async fn stop(mut self) {
        if let Err(e) = self.sched.shutdown().await {
            warn!(error = ?e, "scheduler did not shut down cleanly");
        }
    }
}

/// Adds a one-fire job for the next time of `schedule`; returns that time.
fn arm(sched: JobScheduler, schedule: Arc<Schedule>, tx: UnboundedSender<Event>) -> Armed {
    Box::pin(async move {
        let at: Arc<OnceLock<DateTime<Utc>>> = Arc::new(OnceLock::new());
        let (s2, tx2, at2) = (Arc::clone(&schedule), tx.clone(), Arc::clone(&at));
        let job = Job::new_async_tz(schedule.expr.as_str(), schedule.tz, move |id, sched| {
            let (schedule, tx, at) = (Arc::clone(&s2), tx2.clone(), Arc::clone(&at2));
            Box::pin(async move {
                let when = at.get().copied().unwrap_or_else(Utc::now);
                if tx.send(Event::Tick(when)).is_err() {
                    return; // the daemon is gone
                }
                if let Err(e) = sched.remove(&id).await {
                    warn!(error = ?e, "could not remove a fired schedule job");
                }
                match arm(sched, Arc::clone(&schedule), tx).await {
                    Ok(Some(next)) => info!(
                        next_run = %schedule.local(next),
                        next_run_utc = %next.format("%Y-%m-%dT%H:%M:%SZ"),
                        "next scheduled run"
                    ),
                    Ok(None) => {
                        warn!(schedule = %schedule.expr, "the schedule has no further fire time")
                    }
                    Err(e) => error!(error = %e, "could not schedule the next run"),
                }
            })
        })
        .map_err(|e| format!("schedule `{}`: {e:?}", schedule.expr))?;
        let id = sched
            .add(job)
            .await
            .map_err(|e| format!("cannot add the schedule job: {e:?}"))?;
        let mut s = sched.clone();
        let next = s.next_tick_for_job(id).await.ok().flatten();
        if let Some(n) = next {
            let _ = at.set(n);
        }
        Ok(next)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn first_fire_time_is_the_schedules_own() {
        let berlin = super::super::schedule::parse_tz("Europe/Berlin").unwrap();
        let s = Schedule::new("0 30 2 * * *", berlin).unwrap();
        let expect = s.next_after(Utc::now()).unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let (t, first) = CronTicker::start(s, tx).await.unwrap();
        assert_eq!(first, Some(expect));
        t.stop().await;
    }

    /// The one test that waits on the wall clock (about two seconds): the
    /// job fires, re-arms itself, and fires again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ticks_arrive_and_the_job_re_arms() {
        let s = Schedule::new("* * * * * *", chrono_tz::Tz::UTC).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (t, _) = CronTicker::start(s, tx).await.unwrap();
        let mut ticks = Vec::new();
        while ticks.len() < 2 {
            match tokio::time::timeout(Duration::from_secs(4), rx.recv()).await {
                Ok(Some(Event::Tick(at))) => ticks.push(at),
                other => panic!("no tick: {other:?}"),
            }
        }
        assert!(ticks[1] > ticks[0], "{ticks:?}");
        t.stop().await;
    }
}
