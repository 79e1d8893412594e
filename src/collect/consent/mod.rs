//! Opt-in coverage: audience CSV + consent ledger CSV → per-number verdicts.

pub mod phone;
pub mod phonemeta;
