//! Errors of the Graph source. Every message names the account and says what
//! to check; none contains the token (messages are built from our own text
//! and Graph's error object, and redacted before they leave the client).

use thiserror::Error;

/// What went wrong, for callers that react differently (tests, fallbacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphErrorKind {
    /// The token could not be loaded (variable unset, file unreadable).
    TokenSource,
    /// Graph rejected the token (190).
    Auth,
    /// The token lacks a permission or access to the asset (10, 200–299).
    Permission,
    /// A wrong id or field (100).
    BadParameter,
    /// Still throttled after every retry, or asked to wait too long.
    RateLimited,
    /// 5xx or connection errors on every attempt.
    Unavailable,
    /// No answer within `timeout_secs` on every attempt.
    Timeout,
    /// A body that is not JSON or not in the Graph shape expected.
    InvalidResponse,
    /// A `paging.next` link we refuse to follow (another host, a loop).
    Refused,
    /// Any other client error reported by Graph.
    Other,
}

#[derive(Debug, Error)]
#[error("account `{account}`: {message}")]
pub struct GraphError {
    pub account: String,
    pub kind: GraphErrorKind,
    pub message: String,
}

impl GraphError {
    pub fn new(account: &str, kind: GraphErrorKind, message: impl Into<String>) -> Self {
        GraphError {
            account: account.to_owned(),
            kind,
            message: message.into(),
        }
    }
}
