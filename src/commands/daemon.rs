//! `wabaguard daemon`: validate, lock the reports folder, then run on the
//! schedule until a signal.

use std::sync::Arc;

use tracing::{error, info};

use super::{CmdError, CmdResult, Outcome};
use crate::cli::DaemonArgs;
use crate::config::Config;
use crate::daemon::{self, CronTicker, Schedule, Trigger};
use crate::metrics::Metrics;
use crate::report::lock::ReportsLock;
use crate::rulepack::RulePack;
use crate::runner::{self, RunOptions};
use crate::server::Server;

pub fn daemon(args: &DaemonArgs) -> CmdResult {
    // Everything that can be wrong is found before the first run.
    let cfg = Config::load(&args.config)?;
    if cfg.accounts.is_empty() {
        return Err(CmdError(format!(
            "{}: no [[accounts]] configured; nothing to audit",
            args.config.display()
        )));
    }
    let schedule = Schedule::new(&cfg.daemon.schedule, cfg.daemon.timezone)
        .map_err(|e| CmdError(format!("{}: daemon.schedule: {e}", args.config.display())))?;
    for (i, n) in cfg.notify.iter().enumerate() {
        n.resolve_url().map_err(|e| {
            CmdError(format!(
                "{}: notify[{i}] ({}): {e}",
                args.config.display(),
                n.label()
            ))
        })?;
    }
    // The webhook receiver: address and secrets are checked before the
    // reports folder is locked or anything runs.
    let listen = match args.listen.as_deref().or(cfg.server.listen.as_deref()) {
        Some(l) => Some(crate::config::parse_listen(l).map_err(|e| {
            CmdError(if args.listen.is_some() {
                format!("--listen: {e}")
            } else {
                format!("{}: server.listen: {e}", args.config.display())
            })
        })?),
        None => None,
    };
    let secrets = match listen {
        Some(_) => Some(
            crate::server::Secrets::from_env(&cfg.server)
                .map_err(|e| CmdError(format!("{}: {e}", args.config.display())))?,
        ),
        None => None,
    };
    let pack = super::run::load_pack(&cfg)?;
    let out_dir = cfg.reports_dir();
    let lock = ReportsLock::acquire(&out_dir, "daemon")?;
    let grace = cfg.daemon.shutdown_grace.0;
    let run_on_start = cfg.daemon.run_on_start;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("wabaguard-daemon")
        .enable_all()
        .build()
        .map_err(|e| CmdError(format!("cannot start the async runtime: {e}")))?;
    let cfg = Arc::new(cfg);
    let pack = Arc::new(pack);
    let metrics = Arc::new(Metrics::new());
    let result = rt.block_on(async {
        let server = match (listen, secrets) {
            (Some(addr), Some(secrets)) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| CmdError(format!("cannot listen on {addr}: {e}")))?;
                Some(
                    Server::start(&cfg, secrets, listener, Arc::clone(&metrics))
                        .map_err(|e| CmdError(format!("cannot start the webhook receiver: {e}")))?,
                )
            }
            _ => None,
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        daemon::signals(tx.clone())
            .map_err(|e| CmdError(format!("cannot listen for signals: {e}")))?;
        let (ticker, first) = CronTicker::start(schedule.clone(), tx)
            .await
            .map_err(CmdError)?;
        info!(
            schedule = %schedule.expr,
            timezone = %schedule.tz,
            next_run = %first.map(|t| schedule.local(t)).unwrap_or_else(|| "never".into()),
            reports = %out_dir.display(),
            lock = %lock.path().display(),
            "daemon started"
        );
        let run = {
            let (cfg, pack, out_dir) = (Arc::clone(&cfg), Arc::clone(&pack), out_dir.clone());
            let metrics = Arc::clone(&metrics);
            move |t: Trigger| one_run(&cfg, &pack, &out_dir, t, &metrics)
        };
        let stats = daemon::supervise(rx, run_on_start, grace, run).await;
        ticker.stop().await;
        if let Some(server) = server {
            server.shutdown().await;
        }
        Ok::<_, CmdError>(stats)
    });
    // Never wait for an abandoned run's thread: exiting ends it, and its
    // report folder was never renamed into place.
    rt.shutdown_background();
    let stats = result?;
    info!(runs = stats.runs, skipped = stats.skipped, "daemon stopped");
    drop(lock);
    if stats.abandoned {
        return Err(CmdError(
            "stopped with a run still in progress (grace period over or a second signal): that run was abandoned and wrote no report; earlier reports are intact".into(),
        ));
    }
    Ok(Outcome::Ok)
}

/// One scheduled (or start-up) run; failures are logged, never fatal.
/// The outcome is recorded in `metrics`.
fn one_run(
    cfg: &Config,
    pack: &RulePack,
    out_dir: &std::path::Path,
    t: Trigger,
    metrics: &Metrics,
) {
    let started = std::time::Instant::now();
    let finished = || chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let now = match super::now() {
        Ok(n) => n,
        Err(e) => {
            error!(error = %e.0, "run not started");
            metrics.observe_run(None, started.elapsed(), finished());
            return;
        }
    };
    info!(
        seq = t.seq,
        scheduled = %t.scheduled.map(|s| s.to_rfc3339()).unwrap_or_else(|| "start-up".into()),
        "run started"
    );
    let opts = RunOptions {
        out_dir: out_dir.to_owned(),
        progress: indicatif::ProgressBar::hidden(),
        notify: true,
    };
    let result = runner::run_once(cfg, pack, now, &opts);
    metrics.observe_run(
        result.as_ref().ok().map(|d| &d.report),
        started.elapsed(),
        finished(),
    );
    match result {
        Ok(done) if done.audited == 0 => error!(
            run_id = %done.report.run_id,
            "no account could be audited (see the report); the next scheduled run will try again"
        ),
        Ok(done) => info!(
            run_id = %done.report.run_id,
            report = %done.dir.join("report.md").display(),
            "run finished"
        ),
        Err(e) => error!(error = %e, "run failed; the next scheduled run will try again"),
    }
}
