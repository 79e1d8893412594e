//! The pipeline every entry point runs: config → collect → checks → risk →
//! Report. Writing the report is separate (`report::write_run`), so the gate
//! and tests can use the Report without touching the disk.

use chrono::{DateTime, Utc};
use tracing::{info, info_span, warn};

use crate::checks::{self, CheckContext};
use crate::collect;
use crate::config::Config;
use crate::report::{AccountReport, Report, RulesInfo, run_id};
use crate::rulepack::RulePack;
use crate::snapshot::SourceKind;

/// Audits every configured account. Accounts that cannot be collected are
/// reported as failed; the others are still audited.
pub fn audit(cfg: &Config, pack: &RulePack, now: DateTime<Utc>) -> Report {
    let rid = run_id(now);
    let span = info_span!("run", run_id = %rid);
    let _enter = span.enter();
    let mut report = Report::new(
        rid,
        now,
        RulesInfo {
            pack: pack.name.clone(),
            version: pack.version.clone(),
            digest: pack.digest.clone(),
        },
    );
    let ctx = CheckContext {
        pack,
        mask_phones: cfg.reports.mask_phone_numbers,
        optin: cfg.optin.policy(),
    };
    for account in &cfg.accounts {
        let span = info_span!("account", account = %account.name);
        let _enter = span.enter();
        let source = if account.exports.is_some() {
            SourceKind::Exports
        } else {
            SourceKind::Graph
        };
        match collect::collect_account(cfg, account) {
            Ok(mut snapshot) => {
                collect::consent::collect_audiences(cfg, account, now, &mut snapshot);
                let findings = checks::run_all(&snapshot, &ctx);
                info!(
                    templates = snapshot.templates.len(),
                    findings = findings.len(),
                    "account audited"
                );
                let mut account_report = AccountReport::audited(
                    &snapshot.account,
                    &snapshot.waba_id,
                    snapshot.source,
                    snapshot.templates.len(),
                    snapshot.phone_numbers.len(),
                    findings,
                    snapshot.notes,
                );
                account_report.optin = snapshot.audiences;
                report.accounts.push(account_report);
            }
            Err(e) => {
                warn!(error = %e, "account could not be collected");
                report.accounts.push(AccountReport::failed(
                    &account.name,
                    account.waba_id.as_deref().unwrap_or(""),
                    source,
                    e.to_string(),
                ));
            }
        }
    }
    report
}
