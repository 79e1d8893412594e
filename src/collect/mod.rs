//! Collection: turning one configured account into a [`Snapshot`].
//!
//! Two sources produce the same Snapshot: saved exports (`exports`) and,
//! later, the live Graph API. Nothing after collection knows which one ran.

pub mod consent;
pub mod exports;
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
    match &account.exports {
        Some(dir) => exports::collect(&account.name, account.waba_id.as_deref(), &cfg.resolve(dir)),
        None => Err(CollectError::MissingExports {
            account: account.name.clone(),
            path: PathBuf::new(),
        }),
    }
}
