//! Collection: turning one configured account into a [`Snapshot`].
//!
//! Two sources produce the same Snapshot: saved exports (`exports`) and,
//! later, the live Graph API. Nothing after collection knows which one ran.

pub mod events;
pub mod exports;
pub mod send_log;
pub mod template_file;

use std::path::PathBuf;

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
        None => {
            return Err(CollectError::MissingExports {
                account: account.name.clone(),
                path: PathBuf::new(),
            });
        }
    };
    attach_account_signals(cfg, account, &mut snap)?;
    Ok(snap)
}

/// Adds what the config says about the account besides its Graph data: the
/// send log's statistics and where the two-step PIN is kept (never the PIN).
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
    Ok(())
}
