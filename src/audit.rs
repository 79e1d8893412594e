//! The pipeline every entry point runs: config → collect → checks → risk →
//! Report. Writing the report is separate (`report::write_run`), so the gate
//! and tests can use the Report without touching the disk.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use tracing::{info, info_span, warn};

use crate::checks::{self, CheckContext};
use crate::collect::{self, CollectError, CollectOptions};
use crate::config::{AccountConfig, Config};
use crate::report::{AccountReport, Report, RulesInfo, run_id};
use crate::rulepack::RulePack;
use crate::snapshot::{NumberState, Snapshot, SourceKind};

/// Audits every configured account. Accounts that cannot be collected are
/// reported as failed; the others are still audited. The previous run is
/// read from the config's reports folder.
pub fn audit(cfg: &Config, pack: &RulePack, now: DateTime<Utc>) -> Report {
    audit_with_history(cfg, pack, now, Some(&cfg.reports_dir()))
}

/// Like [`audit`], comparing with the newest run under `reports_dir` (when
/// given and present): messaging-limit downgrades need the previous state.
pub fn audit_with_history(
    cfg: &Config,
    pack: &RulePack,
    now: DateTime<Utc>,
    reports_dir: Option<&Path>,
) -> Report {
    let accounts: Vec<&AccountConfig> = cfg.accounts.iter().collect();
    let collected = collect::collect_all(cfg, &accounts, &CollectOptions::default());
    audit_collected(
        cfg,
        pack,
        now,
        collected
            .into_iter()
            .map(|r| r.map(|c| c.snapshot))
            .collect(),
        reports_dir,
    )
}

/// Checks already-collected accounts: `snapshots[i]` is the collection result
/// of `cfg.accounts[i]`. Collection and checking are separate so `run` can
/// collect every account in parallel first and keep what was collected.
/// `reports_dir` holds the previous runs (for run-to-run comparisons).
pub fn audit_collected(
    cfg: &Config,
    pack: &RulePack,
    now: DateTime<Utc>,
    snapshots: Vec<Result<Snapshot, CollectError>>,
    reports_dir: Option<&Path>,
) -> Report {
    let previous = reports_dir
        .map(crate::report::previous::previous_numbers)
        .unwrap_or_default();
    let titles: BTreeMap<String, String> = pack
        .rules
        .iter()
        .map(|r| (r.def.id.clone(), r.def.title.clone()))
        .collect();
    let rid = run_id(now);
    let span = info_span!("run", run_id = %rid);
    let _enter = span.enter();
    let suppressions = crate::suppress::Suppressions::load(cfg);
    // Validated with the config; a failure here (the folder changed since)
    // leaves the built-in cards.
    let cards = cfg.rate_cards().unwrap_or_else(|e| {
        warn!(error = %e, "rate cards: using the built-in ones");
        crate::rates::RateCards::builtin().unwrap_or_default()
    });
    let today = now.date_naive();
    let mut suppressed_by_entry =
        vec![crate::suppress::EntryCount::default(); suppressions.entries.len()];
    let mut report = Report::new(
        rid,
        now,
        RulesInfo {
            pack: pack.name.clone(),
            version: pack.version.clone(),
            digest: pack.digest.clone(),
        },
    );
    for (account, collected) in cfg.accounts.iter().zip(snapshots) {
        let span = info_span!("account", account = %account.name);
        let _enter = span.enter();
        let source = if account.exports.is_some() {
            SourceKind::Exports
        } else {
            SourceKind::Graph
        };
        match collected {
            Ok(mut snapshot) => {
                // Audiences are local CSV files: read them here, after the
                // (possibly networked) collection, for every source alike.
                collect::consent::collect_audiences(cfg, account, now, &mut snapshot);
                // The template register: the previous one (if any) plus this run.
                let previous_register = match reports_dir
                    .map(|d| crate::report::register::load(d, &account.name))
                {
                    Some(Ok(r)) => r,
                    Some(Err(e)) => {
                        warn!(error = %e, "template register unreadable");
                        snapshot.note_warning(format!(
                            "{e}; starting a new register (the unreadable file is moved aside to a `.corrupt-<run-id>` file beside it when this run is saved)"
                        ));
                        None
                    }
                    None => None,
                };
                let register =
                    crate::report::register::update(previous_register.as_ref(), &snapshot, now);
                collect::optout::collect_optouts(cfg, account, pack, &mut snapshot);
                let ctx = CheckContext {
                    pack,
                    mask_phones: cfg.reports.mask_phone_numbers,
                    now,
                    previous_numbers: previous.get(&account.name).map(Vec::as_slice),
                    optin: cfg.optin.policy(),
                };
                let mut findings = checks::run_all(&snapshot, &ctx);
                let scope = checks::scope_of(&snapshot);
                let mut em = checks::RuleEmitter::new(pack, &scope);
                let policy = cfg.template_policy(account, cards.clone());
                checks::register::check(&snapshot, &register, &policy, now, &mut em);
                findings.extend(em.out);
                checks::sort_findings(&mut findings);
                // Before risk and counts: suppressed findings count toward neither.
                suppressions.apply(
                    &account.name,
                    &mut findings,
                    today,
                    &mut suppressed_by_entry,
                );
                let risk = crate::risk::assess_account(&snapshot, &findings, now);
                let numbers = number_states(&snapshot, cfg.reports.mask_phone_numbers);
                info!(
                    templates = snapshot.templates.len(),
                    findings = findings.len(),
                    "account audited"
                );
                let inventory = crate::report::Inventory::of(&snapshot);
                let mut section = AccountReport::audited(
                    &snapshot.account,
                    &snapshot.waba_id,
                    snapshot.source,
                    snapshot.templates.len(),
                    snapshot.phone_numbers.len(),
                    findings,
                    snapshot.notes,
                )
                .with_signals(risk, numbers, &titles);
                section.inventory = Some(inventory);
                section.template_register = Some(register);
                section.optin = snapshot.audiences;
                report.accounts.push(section);
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
    report.suppressions = suppressions.report(today, &suppressed_by_entry);
    report
}

/// The compact per-number state kept in report.json for the next run.
pub fn number_states(snapshot: &Snapshot, mask: bool) -> Vec<NumberState> {
    snapshot
        .phone_numbers
        .iter()
        .filter_map(|n| {
            Some(NumberState {
                id: n.id.clone()?,
                display: n
                    .display_phone_number
                    .as_deref()
                    .map(|d| crate::mask::phone(d, mask)),
                quality_rating: n.quality_rating.clone(),
                status: n.status.clone(),
                messaging_limit: n.messaging_limit().map(str::to_owned),
            })
        })
        .collect()
}
