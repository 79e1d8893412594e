//! The pre-campaign gate: may this account send these templates to this
//! audience now? A campaign tool calls `wabaguard gate` and reads the exit
//! code: 0 go, 1 refuse, 2 could not decide. The gate fails closed: any
//! error is a 2, never a 0.
//!
//! It decides from the latest report when that is recent enough (`[gate]
//! max_snapshot_age`), else it collects and audits the account afresh (in
//! memory; nothing is written) and refuses when that fails. Current
//! suppressions are re-applied either way, so an entry that expired since
//! the report no longer hides anything.
//!
//! Refusal reasons: a named template missing, not APPROVED (PAUSED and
//! DISABLED named as such), or with an unsuppressed finding at or above
//! `fail_on`; the account temporarily blocked or locked; any BLOCKED health
//! status; opt-in coverage of the audience below `min_coverage`; audience
//! rows a country rule refuses; an audience larger than the messaging-limit
//! headroom; no recent data.
//!
//! Consent is checked for the campaign's categories: those of the named
//! templates (a template without a known category counts as every
//! category), plus `--category`. An explicit category never loosens the
//! requirement — it is added to the templates' categories, so the stricter
//! reading always wins (a MARKETING template with `--category UTILITY`
//! needs marketing *and* utility consent), and the output says so.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::checks::{Finding, Severity, SubjectKind};
use crate::collect::consent::scope::Scopes;
use crate::config::{Config, CountryRuleSetting};
use crate::report::{AccountReport, AccountStatus, Inventory, Report, history};
use crate::risk::Stage;
use crate::rulepack::RulePack;
use crate::rulepack::countries::{CountryAction, CountryRule, CountryRules};
use crate::snapshot::optin::{CountryRuleCount, ScopeCoverage};
use crate::suppress::Suppressions;

/// `NAME` or `NAME:LANG` from `--template`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateSpec {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl FromStr for TemplateSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, lang) = match s.split_once(':') {
            Some((n, l)) => (n.trim(), Some(l.trim())),
            None => (s.trim(), None),
        };
        if name.is_empty() || lang.is_some_and(str::is_empty) {
            return Err(format!(
                "`{s}` is not a template: give NAME or NAME:LANGUAGE (e.g. order_update:en_US)"
            ));
        }
        Ok(TemplateSpec {
            name: name.to_owned(),
            language: lang.map(str::to_owned),
        })
    }
}

impl std::fmt::Display for TemplateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.language {
            Some(l) => write!(f, "{}:{l}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// What to decide.
#[derive(Debug, Clone)]
pub struct GateRequest {
    pub account: String,
    pub templates: Vec<TemplateSpec>,
    /// Audience and consent ledger CSVs.
    pub audience: Option<(PathBuf, PathBuf)>,
    pub min_coverage: f64,
    pub fail_on: Severity,
    /// `--category`: added to the templates' categories.
    pub category: Option<Scopes>,
    /// `--uncovered`: write the audience rows that are not covered or that
    /// a country rule matches.
    pub uncovered: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Pass,
    Refuse,
}

/// Why the gate refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// `template_missing`, `template_not_approved`, `template_paused`,
    /// `template_disabled`, `template_finding`, `account_temporary_block`,
    /// `account_locked`, `health_blocked`, `optin_below_minimum`,
    /// `country_rule`, `messaging_limit_exceeded`, `no_recent_data`.
    pub code: &'static str,
    /// What it is about: `template order_update (en_US)`, `account casa-verde`.
    pub subject: String,
    pub message: String,
}

/// Opt-in coverage of the audience (from the opt-in engine).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptinSummary {
    pub audience: String,
    pub consent: String,
    /// Audience data rows.
    pub total: u64,
    /// Distinct valid numbers.
    pub unique: u64,
    pub covered: u64,
    pub stale: u64,
    pub revoked: u64,
    pub missing: u64,
    pub invalid: u64,
    /// `covered / unique`.
    pub coverage: f64,
    pub min_coverage: f64,
    /// The categories consent was required for (`MARKETING|UTILITY`); empty:
    /// every scope (no category known).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub category: String,
    /// Whether the ledger has a `scope` column.
    pub ledger_scoped: bool,
    /// Coverage per consent scope.
    pub scopes: Vec<ScopeCoverage>,
}

/// The messaging-limit headroom of the portfolio against the audience.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Headroom {
    /// The tier used (`TIER_1K`), the lowest of the account's numbers.
    pub tier: String,
    /// Unique users per rolling 24 h; `None`: unlimited.
    pub limit: Option<u64>,
    /// Unique users already contacted in the last 24 h (send log).
    pub used: u64,
    /// `limit − used` (`None`: unlimited).
    pub headroom: Option<u64>,
    /// Audience unique valid recipients not already contacted in the window.
    pub needed: u64,
    /// Audience recipients already contacted in the window (they use no
    /// new headroom).
    pub already_contacted: u64,
    /// Days (rolling 24 h windows) the campaign needs at this tier,
    /// counting today's used part: `ceil((used + needed) / limit)`.
    pub days: Option<u64>,
}

/// The opt-in parameters of `audience`: when the account configures an
/// audience with the same file, its region, maximum opt-in age and phone
/// column apply; otherwise the `[optin]` defaults.
fn audience_params(
    cfg: &Config,
    account: &str,
    audience: &Path,
    now: DateTime<Utc>,
) -> Result<crate::collect::consent::OptinParams, String> {
    use crate::collect::consent::{OptinParams, phone};
    let same_file = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    };
    let configured = cfg
        .accounts
        .iter()
        .find(|a| a.name == account)
        .and_then(|a| {
            a.audiences
                .iter()
                .find(|aud| same_file(&cfg.resolve(&aud.file), audience))
        });
    let region_code = configured
        .and_then(|a| a.region.as_deref())
        .unwrap_or(&cfg.optin.region);
    let region = phone::parse_region(region_code).map_err(|m| format!("opt-in region: {m}"))?;
    Ok(OptinParams {
        region,
        as_of: now.timestamp() * 1_000_000,
        max_age_days: configured
            .and_then(|a| a.max_age_days)
            .unwrap_or(cfg.optin.max_age_days),
        phone_column: configured.and_then(|a| a.phone_column.clone()),
        threads: 0,
    })
}

/// Opt-in coverage of `audience` against the `consent` ledger at `now`, by
/// the same engine and semantics as `wabaguard optin` and `run`, for the
/// campaign's categories and country rules. Any read error is returned: the
/// gate exits 2 rather than pass an unchecked audience.
pub fn optin_coverage(
    cfg: &Config,
    account: &str,
    (audience, consent): (&Path, &Path),
    now: DateTime<Utc>,
    min_coverage: f64,
    campaign: &crate::collect::consent::Campaign,
) -> Result<(OptinSummary, crate::collect::consent::Outcome), String> {
    let params = audience_params(cfg, account, audience, now)?;
    let outcome = crate::collect::consent::compute_campaign(audience, consent, &params, campaign)
        .map_err(|e| e.to_string())?;
    let c = &outcome.coverage;
    let summary = OptinSummary {
        audience: audience.display().to_string(),
        consent: consent.display().to_string(),
        total: c.total,
        unique: c.unique,
        covered: c.covered,
        stale: c.stale,
        revoked: c.revoked,
        missing: c.missing,
        invalid: c.invalid,
        coverage: c.coverage,
        min_coverage,
        category: c.category.clone(),
        ledger_scoped: c.ledger_scoped,
        scopes: c.scopes.clone(),
    };
    Ok((summary, outcome))
}

/// The messaging limit of a tier: `Some(None)` unlimited, `None` unknown.
pub fn tier_limit(tier: &str) -> Option<Option<u64>> {
    Some(match tier.trim().to_ascii_uppercase().as_str() {
        "TIER_50" => Some(50),
        "TIER_250" => Some(250),
        "TIER_1K" => Some(1_000),
        "TIER_2K" => Some(2_000),
        "TIER_10K" => Some(10_000),
        "TIER_100K" => Some(100_000),
        "TIER_UNLIMITED" | "UNLIMITED" => None,
        _ => return None,
    })
}

/// The categories consent is required for: the named templates' (a found
/// template without a known category: every category) plus `--category`.
/// Adds a warning when the flag widens what the templates need.
fn campaign_categories(
    a: &AccountReport,
    req: &GateRequest,
    warnings: &mut Vec<String>,
) -> Option<Scopes> {
    let empty = Inventory::default();
    let inv = a.inventory.as_ref().unwrap_or(&empty);
    let mut from_templates: Option<Scopes> = None;
    for spec in &req.templates {
        for t in inv.templates.iter().filter(|t| {
            t.name == spec.name && spec.language.as_ref().is_none_or(|l| *l == t.language)
        }) {
            let cat = t
                .category
                .as_deref()
                .and_then(|c| Scopes::parse_category(c).ok())
                .unwrap_or(Scopes::ALL);
            from_templates = Some(from_templates.unwrap_or(Scopes::NONE).union(cat));
        }
    }
    match (from_templates, req.category) {
        (t, None) => t,
        (None, Some(c)) => Some(c),
        (Some(t), Some(c)) => {
            let both = t.union(c);
            if both != t {
                warnings.push(format!(
                    "--category {} differs from the templates' category {}: consent is required for both ({})",
                    c.category_names(),
                    t.category_names(),
                    both.category_names()
                ));
            }
            Some(both)
        }
    }
}

/// The gate's action for a rule: `[gate] country_rule_actions` for its id,
/// else `[gate] country_rules`, else the rule's own; `None` = off.
fn rule_action(cfg: &Config, rule: &CountryRule) -> Option<CountryAction> {
    let setting = cfg
        .gate
        .country_rule_actions
        .get(&rule.id)
        .or(cfg.gate.country_rules.as_ref());
    match setting {
        Some(CountryRuleSetting::Refuse) => Some(CountryAction::Refuse),
        Some(CountryRuleSetting::Warn) => Some(CountryAction::Warn),
        Some(CountryRuleSetting::Off) => None,
        None => Some(rule.action),
    }
}

/// Checks the audience: consent for the categories, country rules (packs
/// and 130497 in the send log), messaging-limit headroom; writes
/// `--uncovered`.
fn judge_audience(
    cfg: &Config,
    out: &mut GateOutput,
    a: &AccountReport,
    req: &GateRequest,
    (audience, consent): (&Path, &Path),
    now: DateTime<Utc>,
) -> Result<(), String> {
    let categories = campaign_categories(a, req, &mut out.warnings);
    let extra: Vec<PathBuf> = cfg
        .rules
        .extra_dirs
        .iter()
        .map(|d| cfg.resolve(d))
        .collect();
    let pack = CountryRules::load(&extra).map_err(|e| e.to_string())?;
    for id in cfg.gate.country_rule_actions.keys() {
        if pack.get(id).is_none() && !id.starts_with("send-log-130497-") {
            return Err(format!(
                "{}: [gate] country_rule_actions: unknown country rule `{id}` (rules: {})",
                cfg.path.display(),
                pack.rules
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let today = now.date_naive();
    let mut rules: Vec<CountryRule> = pack
        .rules
        .into_iter()
        .filter(|r| r.in_force(today) && categories.is_some_and(|c| c.intersects(r.categories)))
        .collect();
    // The send log: recipients of the last 24 h and 130497 countries.
    let params = audience_params(cfg, &req.account, audience, now)?;
    let log = cfg
        .account(&req.account)
        .and_then(|acc| acc.send_log.as_ref())
        .map(|p| cfg.resolve(p));
    let recipients = match &log {
        Some(p) => Some(
            crate::collect::send_log::read_recipients(
                p,
                params.region,
                now.timestamp() - 86_400,
                now.timestamp(),
            )
            .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    if let Some(r) = &recipients {
        for (code, failures) in &r.restricted {
            if let Ok(region) = crate::collect::consent::phone::parse_region(code) {
                rules.push(crate::rulepack::countries::learned_130497(
                    region,
                    *failures,
                    CountryAction::Refuse,
                ));
            }
        }
    }
    let actions: Vec<Option<CountryAction>> = rules.iter().map(|r| rule_action(cfg, r)).collect();
    let rules: Vec<CountryRule> = rules
        .into_iter()
        .zip(&actions)
        .filter(|(_, a)| a.is_some())
        .map(|(mut r, a)| {
            if let Some(a) = a {
                r.action = *a;
            }
            r
        })
        .collect();
    let campaign = crate::collect::consent::Campaign {
        categories,
        country_rules: rules,
    };
    let (summary, outcome) = optin_coverage(
        cfg,
        &req.account,
        (audience, consent),
        now,
        req.min_coverage,
        &campaign,
    )?;
    out.country_rules = outcome.coverage.country_rules.clone();
    for c in &out.country_rules {
        if c.rows == 0 {
            continue;
        }
        let message = format!(
            "country rule {}: {} audience row{} in {} ({}) — {}",
            c.id,
            c.rows,
            if c.rows == 1 { "" } else { "s" },
            c.countries.join(", "),
            c.categories,
            c.title
        );
        if c.action == "refuse" {
            out.reasons.push(Reason {
                code: "country_rule",
                subject: format!("country rule {}", c.id),
                message,
            });
        } else {
            out.warnings.push(message);
        }
    }
    let o = &summary;
    if o.coverage < req.min_coverage {
        out.reasons.push(Reason {
            code: "optin_below_minimum",
            subject: format!("audience {}", o.audience),
            message: format!(
                "opt-in coverage {:.2}%{} is below the minimum {:.2}% ({} of {} numbers covered; {} stale, {} revoked, {} missing)",
                o.coverage * 100.0,
                if o.category.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", o.category)
                },
                req.min_coverage * 100.0,
                o.covered,
                o.unique,
                o.stale,
                o.revoked,
                o.missing
            ),
        });
    }
    // Messaging-limit headroom.
    let (used, already) = match &recipients {
        Some(r) if r.column.is_some() => (
            r.contacted.len() as u64,
            r.contacted.iter().filter(|&&n| outcome.contains(n)).count() as u64,
        ),
        Some(_) => {
            out.warnings.push(format!(
                "the send log {} has no recipient column ({}): the unique users contacted in the last 24 h are unknown, counted as 0",
                log.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                crate::collect::send_log::RECIPIENT_COLUMNS.join(", ")
            ));
            (0, 0)
        }
        None => {
            out.warnings.push(
                "no send_log configured for the account: the unique users contacted in the last 24 h are unknown, counted as 0".into(),
            );
            (0, 0)
        }
    };
    let tiers: Vec<(&str, Option<u64>)> = a
        .numbers
        .iter()
        .filter_map(|n| n.messaging_limit.as_deref())
        .filter_map(|t| tier_limit(t).map(|l| (t, l)))
        .collect();
    let lowest = tiers
        .iter()
        .min_by_key(|(_, l)| l.unwrap_or(u64::MAX))
        .copied();
    match lowest {
        None => out.warnings.push(
            "no messaging limit is known for the account's numbers (whatsapp_business_manager_messaging_limit / messaging_limit_tier): headroom not checked".into(),
        ),
        Some((tier, limit)) => {
            let needed = o.unique.saturating_sub(already);
            let headroom = limit.map(|l| l.saturating_sub(used));
            let days = limit.filter(|&l| l > 0).map(|l| (used + needed).div_ceil(l).max(1));
            let h = Headroom {
                tier: tier.to_ascii_uppercase(),
                limit,
                used,
                headroom,
                needed,
                already_contacted: already,
                days,
            };
            if let (Some(l), Some(room), Some(d)) = (limit, headroom, days) {
                if needed > room {
                    out.reasons.push(Reason {
                        code: "messaging_limit_exceeded",
                        subject: format!("account {}", a.name),
                        message: format!(
                            "the audience needs {needed} new unique recipients, but the messaging limit {} ({l} unique users per rolling 24 h) has {room} left ({used} already contacted in the last 24 h): at this tier the campaign needs {d} days",
                            h.tier
                        ),
                    });
                }
            }
            out.headroom = Some(h);
        }
    }
    if let Some(path) = &req.uncovered {
        let rows = outcome
            .write_uncovered(audience, params.region, path)
            .map_err(|e| e.to_string())?;
        out.uncovered = Some(UncoveredFile {
            file: path.display().to_string(),
            rows,
        });
    }
    out.optin = Some(summary);
    Ok(())
}

/// The `--uncovered` output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UncoveredFile {
    pub file: String,
    pub rows: u64,
}

/// Where the gate's data came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataSource {
    /// `report` (the latest run) or `fresh` (collected just now).
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// When the data was collected (RFC 3339).
    pub collected_at: String,
    pub age_secs: i64,
    pub max_age_secs: u64,
    /// Why the report was not used, when collected afresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One named template as found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateCheck {
    pub name: String,
    pub language: String,
    pub status: String,
    /// Unsuppressed findings at or above `fail_on`.
    pub blocking_findings: usize,
}

/// The gate's answer (`--format json` prints it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateOutput {
    pub decision: Decision,
    pub account: String,
    /// The time the gate decided at (RFC 3339).
    pub as_of: String,
    pub fail_on: Severity,
    pub reasons: Vec<Reason>,
    /// The findings behind `template_finding` reasons.
    pub findings: Vec<Finding>,
    pub optin: Option<OptinSummary>,
    /// Audience rows per country rule in force (with the gate's action).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub country_rules: Vec<CountryRuleCount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headroom: Option<Headroom>,
    /// What the gate could not check fully, and rules set to warn.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The `--uncovered` file and its row count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncovered: Option<UncoveredFile>,
    pub templates: Vec<TemplateCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSource>,
}

impl GateOutput {
    /// Every finding behind the decision, for SARIF: the blocking template
    /// findings, then each other refusal reason as a finding of rule
    /// `gate.<code>` (high) about the account, fingerprinted by account,
    /// code and subject so it is stable across runs.
    pub fn result_findings(&self) -> Vec<Finding> {
        let mut v = self.findings.clone();
        for r in self.reasons.iter().filter(|r| r.code != "template_finding") {
            v.push(
                Finding::new(
                    "gate",
                    &format!("gate.{}", r.code),
                    Severity::High,
                    crate::checks::Subject::new(SubjectKind::Account)
                        .with_name(self.account.clone())
                        .with_field(r.subject.clone()),
                    r.message.clone(),
                )
                .remediation(
                    "Resolve the reason before sending the campaign, then run the gate again.",
                )
                .fingerprinted(&self.account),
            );
        }
        v
    }
}

/// Decides. `Err` = could not decide (exit 2); the message says why.
/// `load_pack` is called only when the account must be collected afresh.
pub fn decide(
    cfg: &Config,
    req: &GateRequest,
    now: DateTime<Utc>,
    load_pack: impl FnOnce() -> Result<RulePack, String>,
) -> Result<GateOutput, String> {
    if cfg.account(&req.account).is_none() {
        let names: Vec<&str> = cfg.accounts.iter().map(|a| a.name.as_str()).collect();
        return Err(format!(
            "{}: no account named `{}` (configured: {})",
            cfg.path.display(),
            req.account,
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ));
    }
    if !(req.min_coverage.is_finite() && (0.0..=1.0).contains(&req.min_coverage)) {
        return Err(format!(
            "--min-coverage: {} is not a share between 0 and 1",
            req.min_coverage
        ));
    }
    let mut out = GateOutput {
        decision: Decision::Refuse,
        account: req.account.clone(),
        as_of: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        fail_on: req.fail_on,
        reasons: Vec::new(),
        findings: Vec::new(),
        optin: None,
        country_rules: Vec::new(),
        headroom: None,
        warnings: Vec::new(),
        uncovered: None,
        templates: Vec::new(),
        stage: None,
        data: None,
    };
    let max_age = cfg.gate.max_snapshot_age;
    let (mut account, data) = match recent_section(cfg, &req.account, now) {
        Recent::Fresh(a, d) => (*a, d),
        Recent::Stale(why) => match collect_fresh(cfg, &req.account, now, load_pack) {
            Ok(a) => (
                a,
                DataSource {
                    kind: "fresh",
                    run_id: None,
                    collected_at: out.as_of.clone(),
                    age_secs: 0,
                    max_age_secs: max_age.secs(),
                    note: Some(why),
                },
            ),
            Err(e) => {
                // The audience is still read: a file that cannot be read is
                // "could not decide" (2), whatever the account data.
                if let Some((audience, consent)) = &req.audience {
                    let campaign = crate::collect::consent::Campaign {
                        categories: req.category,
                        country_rules: Vec::new(),
                    };
                    out.optin = Some(
                        optin_coverage(
                            cfg,
                            &req.account,
                            (audience, consent),
                            now,
                            req.min_coverage,
                            &campaign,
                        )?
                        .0,
                    );
                }
                out.reasons.push(Reason {
                    code: "no_recent_data",
                    subject: format!("account {}", req.account),
                    message: format!("{why}, and collecting it afresh failed: {e}"),
                });
                return Ok(out);
            }
        },
    };
    out.data = Some(data);
    // The suppressions in force now, not those of the report's day.
    let sup = Suppressions::load(cfg);
    crate::suppress::clear(&mut account.findings);
    sup.apply(
        &account.name,
        &mut account.findings,
        now.date_naive(),
        &mut vec![crate::suppress::EntryCount::default(); sup.entries.len()],
    );
    judge(&mut out, &account, req);
    if let Some((audience, consent)) = &req.audience {
        judge_audience(cfg, &mut out, &account, req, (audience, consent), now)?;
    }
    out.decision = if out.reasons.is_empty() {
        Decision::Pass
    } else {
        Decision::Refuse
    };
    Ok(out)
}

/// Applies the rules to an account section (with its inventory).
fn judge(out: &mut GateOutput, a: &AccountReport, req: &GateRequest) {
    let who = format!("account {}", a.name);
    out.stage = Some(a.risk.stage);
    match a.risk.stage {
        Stage::Locked => out.reasons.push(Reason {
            code: "account_locked",
            subject: who.clone(),
            message: format!(
                "the account is locked: nothing can be sent (run `wabaguard diagnose --account {}`)",
                a.name
            ),
        }),
        Stage::TemporaryBlock => out.reasons.push(Reason {
            code: "account_temporary_block",
            subject: who.clone(),
            message: format!(
                "the account is temporarily blocked{} (run `wabaguard diagnose --account {}`)",
                a.risk
                    .ladder
                    .as_ref()
                    .and_then(|l| l.until.as_deref())
                    .map(|u| format!(" until {u}"))
                    .unwrap_or_default(),
                a.name
            ),
        }),
        Stage::None | Stage::Warning => {}
    }
    let empty = Inventory::default();
    let inv = a.inventory.as_ref().unwrap_or(&empty);
    for h in inv
        .health
        .iter()
        .filter(|h| h.can_send_message == "BLOCKED")
    {
        out.reasons.push(Reason {
            code: "health_blocked",
            subject: format!(
                "{} {}",
                h.entity.to_ascii_lowercase().replace('_', " "),
                h.id
            ),
            message: format!(
                "Meta's health status for {} {} is BLOCKED: it cannot send",
                h.entity, h.id
            ),
        });
    }
    for spec in &req.templates {
        let found: Vec<_> = inv
            .templates
            .iter()
            .filter(|t| {
                t.name == spec.name && spec.language.as_ref().is_none_or(|l| *l == t.language)
            })
            .collect();
        if found.is_empty() {
            let have: Vec<String> = inv
                .templates
                .iter()
                .filter(|t| t.name == spec.name)
                .map(|t| t.language.clone())
                .collect();
            out.reasons.push(Reason {
                code: "template_missing",
                subject: format!("template {spec}"),
                message: if have.is_empty() {
                    format!("no template named `{}` in the account", spec.name)
                } else {
                    format!("`{}` exists only in {}", spec.name, have.join(", "))
                },
            });
            continue;
        }
        for t in found {
            let label = format!("template {} ({})", t.name, t.language);
            let status = t.status.as_deref().unwrap_or("").to_ascii_uppercase();
            let (code, why) = match status.as_str() {
                "APPROVED" => ("", String::new()),
                "PAUSED" => (
                    "template_paused",
                    "is PAUSED by Meta (low quality): sending it fails until it is unpaused"
                        .to_owned(),
                ),
                "DISABLED" => (
                    "template_disabled",
                    "is DISABLED by Meta: it can no longer be sent".to_owned(),
                ),
                "" => (
                    "template_not_approved",
                    "has no status: not APPROVED".to_owned(),
                ),
                other => ("template_not_approved", format!("is {other}, not APPROVED")),
            };
            if !code.is_empty() {
                out.reasons.push(Reason {
                    code,
                    subject: label.clone(),
                    message: format!("{label} {why}"),
                });
            }
            let blocking: Vec<&Finding> = a
                .findings
                .iter()
                .filter(|f| {
                    !f.suppressed
                        && f.severity >= req.fail_on
                        && f.subject.kind == SubjectKind::Template
                        && f.subject.name.as_deref() == Some(t.name.as_str())
                        && f.subject.language.as_deref() == Some(t.language.as_str())
                })
                .collect();
            for f in &blocking {
                out.reasons.push(Reason {
                    code: "template_finding",
                    subject: label.clone(),
                    message: format!(
                        "[{}] {} — {} (rule {}, fingerprint {})",
                        f.severity.as_str().to_uppercase(),
                        label,
                        f.message,
                        f.rule,
                        f.fingerprint
                    ),
                });
                out.findings.push((*f).clone());
            }
            out.templates.push(TemplateCheck {
                name: t.name.clone(),
                language: t.language.clone(),
                status: if status.is_empty() {
                    "UNKNOWN".into()
                } else {
                    status
                },
                blocking_findings: blocking.len(),
            });
        }
    }
}

enum Recent {
    Fresh(Box<AccountReport>, DataSource),
    /// Why the latest report cannot be used.
    Stale(String),
}

/// The account's section in the latest report, if recent enough.
fn recent_section(cfg: &Config, account: &str, now: DateTime<Utc>) -> Recent {
    let max = cfg.gate.max_snapshot_age;
    let dir = cfg.reports_dir();
    let Some((run_id, run_dir)) = history::latest(&dir) else {
        return Recent::Stale(format!("no report yet in {}", dir.display()));
    };
    let report: Report = match std::fs::read(run_dir.join("report.json"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            return Recent::Stale(format!("the latest report ({run_id}) cannot be read: {e}"));
        }
    };
    let Some(generated) = DateTime::parse_from_rfc3339(&report.generated_at)
        .ok()
        .map(|d| d.with_timezone(&Utc))
    else {
        return Recent::Stale(format!("the latest report ({run_id}) has no valid time"));
    };
    let Some(a) = report
        .accounts
        .into_iter()
        .find(|a| a.name == account && a.status == AccountStatus::Audited)
    else {
        return Recent::Stale(format!(
            "the latest report ({run_id}) has no audit of `{account}`"
        ));
    };
    if a.inventory.is_none() {
        return Recent::Stale(format!(
            "the latest report ({run_id}) predates template inventories"
        ));
    }
    let age = (now - generated).num_seconds();
    if age < 0 {
        // A clock was wrong when the report was written, or is wrong now:
        // the report's age is unknown, so it is not trusted as recent.
        return Recent::Stale(format!(
            "the latest report ({run_id}) is dated in the future ({})",
            generated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    if age > max.secs() as i64 {
        return Recent::Stale(format!(
            "the latest report ({run_id}) is {} old, more than max_snapshot_age {max}",
            human_age(age)
        ));
    }
    Recent::Fresh(
        Box::new(a),
        DataSource {
            kind: "report",
            run_id: Some(run_id),
            collected_at: report.generated_at,
            age_secs: age,
            max_age_secs: max.secs(),
            note: None,
        },
    )
}

/// Collects and audits one account now (nothing written).
fn collect_fresh(
    cfg: &Config,
    account: &str,
    now: DateTime<Utc>,
    load_pack: impl FnOnce() -> Result<RulePack, String>,
) -> Result<AccountReport, String> {
    let pack = load_pack()?;
    let mut one = cfg.clone();
    one.accounts.retain(|a| a.name == account);
    let report = crate::audit::audit_with_history(&one, &pack, now, Some(&cfg.reports_dir()));
    let a = report
        .accounts
        .into_iter()
        .next()
        .ok_or_else(|| "the account was not audited".to_owned())?;
    match a.status {
        AccountStatus::Audited => Ok(a),
        AccountStatus::Failed => Err(a.error.unwrap_or_else(|| "collection failed".into())),
    }
}

/// `3h 20m`, `2d 4h`, `45s`.
pub fn human_age(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_specs_parse() {
        assert_eq!(
            "order_update:en_US".parse::<TemplateSpec>().unwrap(),
            TemplateSpec {
                name: "order_update".into(),
                language: Some("en_US".into())
            }
        );
        assert_eq!(
            "order_update".parse::<TemplateSpec>().unwrap().language,
            None
        );
        assert!(":en".parse::<TemplateSpec>().is_err());
        assert!("x:".parse::<TemplateSpec>().is_err());
    }

    #[test]
    fn ages_read_well() {
        assert_eq!(human_age(45), "45s");
        assert_eq!(human_age(3 * 3600 + 20 * 60), "3h 20m");
        assert_eq!(human_age(2 * 86_400 + 4 * 3600), "2d 4h");
    }
}
