//! Collection: turning one configured account into a [`Snapshot`].
//!
//! Two sources produce the same Snapshot: saved exports (`exports`) and the
//! live Graph API (`graph`, for accounts without `exports`). Nothing after
//! collection knows which one ran.

pub mod consent;
pub mod event_store;
pub mod events;
pub mod exports;
pub mod graph;
pub mod optout;
pub mod send_log;
pub mod template_file;

use std::path::PathBuf;
use std::sync::Arc;

use indicatif::ProgressBar;
use tracing::Instrument;

use thiserror::Error;

use crate::config::{AccountConfig, Config};
use crate::snapshot::Snapshot;

#[derive(Debug, Error)]
pub enum CollectError {
    #[error("account `{account}`: exports folder {path} does not exist")]
    MissingExports { account: String, path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {}{message}", location(*line, *column))]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(transparent)]
    Templates(#[from] template_file::TemplateFileError),
    #[error(transparent)]
    Graph(#[from] graph::GraphError),
}

/// Files in the exports layout, as (path relative to the exports folder, bytes).
pub type ExportFiles = Vec<(PathBuf, Vec<u8>)>;

/// One account's collection result.
#[derive(Debug)]
pub struct Collected {
    pub snapshot: Snapshot,
    /// Graph accounts: what was collected, in the exports layout (written by
    /// `wabaguard snapshot` and into `reports/<run-id>/snapshots/<account>/`).
    /// `None` for accounts read from exports.
    pub export: Option<ExportFiles>,
}

/// How collection reports progress.
#[derive(Clone)]
pub struct CollectOptions {
    /// A bar counting Graph requests; hidden unless the caller shows one.
    pub progress: ProgressBar,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            progress: ProgressBar::hidden(),
        }
    }
}

fn location(line: usize, column: usize) -> String {
    if line == 0 {
        "invalid content: ".to_owned()
    } else {
        format!("invalid JSON at line {line}, column {column}: ")
    }
}

/// Collects one account from its configured source.
pub fn collect_account(cfg: &Config, account: &AccountConfig) -> Result<Snapshot, CollectError> {
    let mut snap = match &account.exports {
        Some(dir) => {
            exports::collect(&account.name, account.waba_id.as_deref(), &cfg.resolve(dir))?
        }
        // Graph accounts get their account signals attached in collect_all.
        None => {
            return collect_all(cfg, &[account], &CollectOptions::default())
                .pop()
                .unwrap_or_else(|| {
                    Err(CollectError::Graph(graph::GraphError::new(
                        &account.name,
                        graph::GraphErrorKind::Other,
                        "collection stopped unexpectedly",
                    )))
                })
                .map(|c| c.snapshot);
        }
    };
    attach_account_signals(cfg, account, &mut snap)?;
    Ok(snap)
}

/// Adds what the config says about the account besides its Graph data: the
/// send log's statistics, where the two-step PIN is kept (never the PIN),
/// and the webhook events the daemon received ([`event_store`]).
pub fn attach_account_signals(
    cfg: &Config,
    account: &AccountConfig,
    snap: &mut Snapshot,
) -> Result<(), CollectError> {
    if let Some(log) = &account.send_log {
        let path = cfg.resolve(log);
        let read = send_log::read_send_log(&path, &path.display().to_string())?;
        if let Some(note) = read.note() {
            snap.note_warning(note);
        }
        snap.send_stats = Some(read.stats);
    }
    snap.two_step = account.two_step.as_ref().map(|t| crate::snapshot::TwoStep {
        pin_secret: t.pin_secret.clone(),
        last_rotated: t.last_rotated,
        registered_at: t.registered_at,
    });
    event_store::merge_into(cfg, account, snap)?;
    Ok(())
}

/// Collects `accounts` (one result each, in order): graph accounts in
/// parallel on a private tokio runtime, exports accounts meanwhile. Safe to
/// call from inside another runtime (the work runs on its own thread);
/// async callers can use [`collect_all_async`] directly.
pub fn collect_all(
    cfg: &Config,
    accounts: &[&AccountConfig],
    opts: &CollectOptions,
) -> Vec<Result<Collected, CollectError>> {
    if accounts.iter().all(|a| !a.is_graph()) {
        return accounts.iter().map(|a| collect_exports(cfg, a)).collect();
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(collect_all_async(cfg, accounts, opts)),
                Err(e) => accounts
                    .iter()
                    .map(|a| {
                        Err(CollectError::Graph(graph::GraphError::new(
                            &a.name,
                            graph::GraphErrorKind::Other,
                            format!("cannot start the async runtime: {e}"),
                        )))
                    })
                    .collect(),
            }
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn collect_exports(cfg: &Config, account: &AccountConfig) -> Result<Collected, CollectError> {
    collect_account(cfg, account).map(|snapshot| Collected {
        snapshot,
        export: None,
    })
}

/// [`collect_all`] for callers already inside a tokio runtime.
pub async fn collect_all_async(
    cfg: &Config,
    accounts: &[&AccountConfig],
    opts: &CollectOptions,
) -> Vec<Result<Collected, CollectError>> {
    let mut results: Vec<Option<Result<Collected, CollectError>>> =
        accounts.iter().map(|_| None).collect();
    let client = if accounts.iter().any(|a| a.is_graph()) {
        match graph::GraphClient::new(&cfg.graph, opts.progress.clone()) {
            Ok(c) => Some(c),
            Err(msg) => {
                for (i, a) in accounts.iter().enumerate().filter(|(_, a)| a.is_graph()) {
                    results[i] = Some(Err(CollectError::Graph(graph::GraphError::new(
                        &a.name,
                        graph::GraphErrorKind::Other,
                        msg.clone(),
                    ))));
                }
                None
            }
        }
    } else {
        None
    };
    let shared_cfg = Arc::new(cfg.clone());
    let mut set = tokio::task::JoinSet::new();
    if let Some(client) = &client {
        for (i, a) in accounts.iter().enumerate().filter(|(_, a)| a.is_graph()) {
            let (client, cfg, account) = (client.clone(), shared_cfg.clone(), (*a).clone());
            let span = tracing::info_span!("collect", account = %account.name);
            set.spawn(
                async move {
                    let r = graph::collect_account(&client, &cfg, &account).await;
                    (i, r)
                }
                .instrument(span),
            );
        }
    }
    for (i, a) in accounts.iter().enumerate().filter(|(_, a)| !a.is_graph()) {
        results[i] = Some(collect_exports(cfg, a));
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, r)) => {
                results[i] = Some(r.map_err(CollectError::from).and_then(
                    |(mut snapshot, files)| {
                        attach_account_signals(cfg, accounts[i], &mut snapshot)?;
                        Ok(Collected {
                            snapshot,
                            export: Some(files),
                        })
                    },
                ));
            }
            Err(e) => tracing::error!(error = %e, "a collection task failed"),
        }
    }
    opts.progress.finish_and_clear();
    results
        .into_iter()
        .zip(accounts)
        .map(|(r, a)| {
            r.unwrap_or_else(|| {
                Err(CollectError::Graph(graph::GraphError::new(
                    &a.name,
                    graph::GraphErrorKind::Other,
                    "collection stopped unexpectedly",
                )))
            })
        })
        .collect()
}
