//! Opt-out replies in the Snapshot: what collection found when it matched an
//! account's inbound replies (and 131050 errors in its send log) against a
//! consent ledger. Counts plus a few samples; the checks mask the numbers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::optin::RowIssue;

/// Opt-out requests found for one consent ledger, and those it lacks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OptoutAudit {
    /// The audience whose consent ledger was checked (finding subject).
    pub audience: String,
    /// The consent ledger CSV, as configured.
    pub consent: String,
    /// The inbound exports read, as configured.
    pub inbound: Vec<String>,
    /// The send log read for error 131050, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_log: Option<String>,
    /// Inbound messages read.
    pub messages: u64,
    /// Lines or rows that could not be read (not JSON, no sender, bad time).
    pub bad_lines: u64,
    /// The first few of them.
    #[serde(default)]
    pub bad_samples: Vec<RowIssue>,
    /// Opt-out requests detected (replies, button taps, 131050 errors),
    /// after removing exact duplicates (same number, time and source).
    pub detected: u64,
    /// Detected requests per rule id (`optout.keyword`, `optout.request`,
    /// `optout.button-payload`, `send_log.131050`).
    #[serde(default)]
    pub by_rule: BTreeMap<String, u64>,
    /// Requests whose sender is not a valid phone number (ignored).
    pub invalid_numbers: u64,
    /// Distinct numbers that asked to stop.
    pub numbers: u64,
    /// Distinct numbers with at least one request the ledger lacks.
    pub unrecorded_numbers: u64,
    /// Ledger rows that would record them (one per unrecorded request that
    /// an earlier missing row does not already cover).
    pub unrecorded: u64,
    /// The first few unrecorded requests, oldest first.
    #[serde(default)]
    pub samples: Vec<UnrecordedSample>,
    /// Why the check could not be made (unreadable file), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One opt-out request the ledger lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnrecordedSample {
    /// E.164 (`+15125550191`); masked when shown.
    pub phone: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// `inbound_reply` or `131050`.
    pub source: String,
    /// The rule that detected it.
    pub rule: String,
    /// What was matched (the reply text, cut short), or the error code.
    pub evidence: String,
}
