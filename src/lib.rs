//! wabaguard: a compliance auditor for WhatsApp Business Accounts.
//!
//! Pipeline (see ARCHITECTURE in the README): `config` → `collect` →
//! [`snapshot::Snapshot`] → `checks` → [`checks::Finding`]s → `risk` →
//! [`report::Report`] → writers → `reports/<run-id>/`.

pub mod audit;
pub mod checks;
pub mod cli;
pub mod collect;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod enforcement;
pub mod eval;
pub mod fsutil;
pub mod gate;
pub mod mask;
pub mod metrics;
pub mod notify;
pub mod rates;
pub mod report;
pub mod risk;
pub mod rulepack;
pub mod runbook;
pub mod runner;
pub mod server;
pub mod snapshot;
pub mod suppress;
