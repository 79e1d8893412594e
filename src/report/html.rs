//! `report.html`: the Report rendered for a compliance manager as one
//! self-contained page — inline CSS and SVG, no scripts, no network
//! fetches — that prints cleanly to PDF.
//!
//! The markup lives in minijinja templates under `templates/` (auto-escaped,
//! well-formed XML so it parses as XHTML too). This module only arranges the
//! Report and the account trends ([`super::trend`]) into the view the
//! templates read: accounts sorted by risk, findings grouped by family,
//! chart coordinates ([`super::chart`]). Nothing is computed that the
//! Report does not already say.
//!
//! To add a section: write `templates/sections/<name>.html.j2`, add it to
//! [`TEMPLATES`], include it from `account.html.j2` (per account) or
//! `report.html.j2` (per run), and add what it reads to the view below.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::Serialize;

use super::chart::{self, Chart};
use super::diff::DiffEntry;
use super::trend::{AccountTrend, NumberTimeline, TREND_RUNS, Trends};
use super::{AccountReport, AccountStatus, Action, Report, RulesInfo, Tool};
use crate::checks::{Finding, Origin, Severity, SeverityCounts, SuppressedBy};
use crate::snapshot::optin::Coverage;
use crate::suppress::{EntryState, SuppressionReport};

/// Every template, by name. `report.html.j2` is the page.
const TEMPLATES: &[(&str, &str)] = &[
    ("report.html.j2", include_str!("templates/report.html.j2")),
    ("report.css", include_str!("templates/report.css")),
    ("_macros.html.j2", include_str!("templates/_macros.html.j2")),
    ("account.html.j2", include_str!("templates/account.html.j2")),
    (
        "sections/summary.html.j2",
        include_str!("templates/sections/summary.html.j2"),
    ),
    (
        "sections/new.html.j2",
        include_str!("templates/sections/new.html.j2"),
    ),
    (
        "sections/trend.html.j2",
        include_str!("templates/sections/trend.html.j2"),
    ),
    (
        "sections/numbers.html.j2",
        include_str!("templates/sections/numbers.html.j2"),
    ),
    (
        "sections/optin.html.j2",
        include_str!("templates/sections/optin.html.j2"),
    ),
    (
        "sections/templates.html.j2",
        include_str!("templates/sections/templates.html.j2"),
    ),
    (
        "sections/findings.html.j2",
        include_str!("templates/sections/findings.html.j2"),
    ),
    (
        "sections/notes.html.j2",
        include_str!("templates/sections/notes.html.j2"),
    ),
    (
        "sections/suppressions.html.j2",
        include_str!("templates/sections/suppressions.html.j2"),
    ),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".css") {
                AutoEscape::None
            } else {
                AutoEscape::Html
            }
        });
        // Characters XML 1.0 forbids (control characters a template body
        // may carry) would make the page unparseable as XHTML: replace them.
        env.set_formatter(|out, state, value| match value.as_str() {
            Some(s) if s.chars().any(xml_forbidden) => {
                let clean: String = s
                    .chars()
                    .map(|c| if xml_forbidden(c) { '\u{FFFD}' } else { c })
                    .collect();
                minijinja::escape_formatter(out, state, &Value::from(clean))
            }
            _ => minijinja::escape_formatter(out, state, value),
        });
        for (name, source) in TEMPLATES {
            // The templates are part of the binary; a broken one fails every
            // test that renders a report.
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e:#}"));
        }
        env
    })
}

fn xml_forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Renders report.html. `trends` holds each account's history (see
/// [`super::trend::load`]); an account without one is charted from the
/// current run alone.
pub fn render(report: &Report, trends: &Trends) -> Result<String, minijinja::Error> {
    let view = view(report, trends);
    env()
        .get_template("report.html.j2")?
        .render(Value::from_serialize(&view))
}

#[derive(Serialize)]
struct View<'a> {
    run_id: &'a str,
    generated_at: &'a str,
    tool: &'a Tool,
    rules: &'a RulesInfo,
    totals: SeverityCounts,
    audited: usize,
    failed: usize,
    trend_runs: usize,
    /// Sorted by risk: audited accounts by score (highest first), then the
    /// accounts that could not be audited.
    accounts: Vec<AccountView<'a>>,
    suppressions: Option<SuppressionsView<'a>>,
}

#[derive(Serialize)]
struct AccountView<'a> {
    anchor: String,
    name: &'a str,
    waba_id: &'a str,
    source: &'static str,
    audited: bool,
    error: Option<&'a str>,
    level: &'static str,
    score: u8,
    stage: &'static str,
    stage_words: &'static str,
    stage_sentence: Option<&'a str>,
    headline: String,
    counts: SeverityCounts,
    suppressed: usize,
    templates: usize,
    phone_numbers: usize,
    top_actions: Vec<ActionView<'a>>,
    meta_signals: &'a [String],
    heuristics: &'a [String],
    enforcement: Option<EnforcementView<'a>>,
    score_chart: Chart,
    severity_chart: Chart,
    numbers: Vec<NumberTimeline>,
    optin: Vec<AudienceView<'a>>,
    /// The template register (every template seen in this and earlier runs).
    register: Vec<RegisterRowView<'a>>,
    families: Vec<FamilyView<'a>>,
    diff: Option<DiffView<'a>>,
    notes: Vec<NoteView<'a>>,
}

#[derive(Serialize)]
struct ActionView<'a> {
    severity: &'static str,
    subject: &'a str,
    message: &'a str,
    remediation: &'a str,
    meta: bool,
}

impl<'a> ActionView<'a> {
    fn of(a: &'a Action) -> Self {
        ActionView {
            severity: a.severity.as_str(),
            subject: &a.subject,
            message: &a.message,
            remediation: &a.remediation,
            meta: a.origin == Origin::Meta,
        }
    }
}

#[derive(Serialize)]
struct EvidenceView<'a> {
    at: Option<&'a str>,
    text: &'a str,
    source: &'a str,
}

#[derive(Serialize)]
struct RunbookView<'a> {
    title: &'a str,
    steps: &'a [String],
}

#[derive(Serialize)]
struct EnforcementView<'a> {
    step: Option<&'a str>,
    until: Option<&'a str>,
    next: Option<&'a str>,
    evidence: Vec<EvidenceView<'a>>,
    history: &'a [String],
    cause: Option<&'static str>,
    summary: Option<&'a str>,
    runbooks: Vec<RunbookView<'a>>,
}

#[derive(Serialize)]
struct AudienceView<'a> {
    name: &'a str,
    file: &'a str,
    consent: &'a str,
    error: Option<&'a str>,
    coverage: Option<&'a Coverage>,
    /// `98.75` (two decimals).
    percent: Option<String>,
}

#[derive(Serialize)]
struct RegisterRowView<'a> {
    name: &'a str,
    language: &'a str,
    category: Option<&'a str>,
    /// `UTILITY → MARKETING 2026-05-02` (`~` when dated between runs).
    changes: Vec<String>,
    pending: Option<String>,
    status: String,
    present: bool,
    quality: Option<&'a str>,
    first_seen: String,
    last_seen: String,
    pauses: u32,
}

#[derive(Serialize)]
struct FamilyView<'a> {
    key: String,
    title: String,
    /// Unsuppressed findings per severity.
    counts: SeverityCounts,
    suppressed: usize,
    findings: Vec<FindingView<'a>>,
}

#[derive(Serialize)]
struct FindingView<'a> {
    severity: &'static str,
    check: &'a str,
    rule: &'a str,
    subject: String,
    subject_key: String,
    message: &'a str,
    evidence: Option<&'a str>,
    remediation: &'a str,
    fingerprint: &'a str,
    meta: bool,
    suppressed: bool,
    suppressed_by: Option<&'a SuppressedBy>,
    /// `YYYY-MM-DD`.
    first_seen: Option<&'a str>,
    new: bool,
}

#[derive(Serialize)]
struct DiffView<'a> {
    previous_run: &'a str,
    previous_date: &'a str,
    score_previous: u8,
    score_current: u8,
    /// `+5`, `-3`, `±0`.
    score_change: String,
    level_previous: &'static str,
    level_current: &'static str,
    stage_previous: &'static str,
    stage_current: &'static str,
    new: Vec<DiffEntryView<'a>>,
    resolved: Vec<DiffEntryView<'a>>,
    unchanged: usize,
}

#[derive(Serialize)]
struct DiffEntryView<'a> {
    severity: &'static str,
    subject: &'a str,
    message: &'a str,
}

impl<'a> DiffEntryView<'a> {
    fn of(e: &'a DiffEntry) -> Self {
        DiffEntryView {
            severity: e.severity.as_str(),
            subject: &e.subject,
            message: &e.message,
        }
    }
}

#[derive(Serialize)]
struct NoteView<'a> {
    level: &'static str,
    message: &'a str,
}

#[derive(Serialize)]
struct SuppressionsView<'a> {
    file: &'a str,
    warn_days: i64,
    entries: Vec<SuppressionEntryView<'a>>,
    errors: Vec<SuppressionErrorView<'a>>,
}

#[derive(Serialize)]
struct SuppressionEntryView<'a> {
    line: usize,
    matches: &'a str,
    reason: &'a str,
    expires: &'a str,
    state: &'static str,
    days_left: i64,
    suppressed: usize,
}

#[derive(Serialize)]
struct SuppressionErrorView<'a> {
    line: Option<usize>,
    message: &'a str,
}

fn view<'a>(r: &'a Report, trends: &Trends) -> View<'a> {
    let mut order: Vec<&AccountReport> = r.accounts.iter().collect();
    order.sort_by(|a, b| {
        let audited = |x: &AccountReport| x.status == AccountStatus::Audited;
        audited(b)
            .cmp(&audited(a))
            .then(b.risk.score.cmp(&a.risk.score))
            .then(b.risk.level.cmp(&a.risk.level))
            .then(a.name.cmp(&b.name))
    });
    let accounts: Vec<AccountView> = order
        .into_iter()
        .enumerate()
        .map(|(i, a)| account(i, a, trends.get(&a.name)))
        .collect();
    let audited = accounts.iter().filter(|a| a.audited).count();
    View {
        run_id: &r.run_id,
        generated_at: &r.generated_at,
        tool: &r.tool,
        rules: &r.rules,
        totals: r.totals(),
        failed: accounts.len() - audited,
        audited,
        trend_runs: TREND_RUNS,
        accounts,
        suppressions: r.suppressions.as_ref().map(suppressions),
    }
}

fn account<'a>(i: usize, a: &'a AccountReport, trend: Option<&AccountTrend>) -> AccountView<'a> {
    let audited = a.status == AccountStatus::Audited;
    let own;
    let trend = match trend {
        Some(t) => t,
        None => {
            // No history given: the current run alone.
            own = AccountTrend {
                points: vec![super::trend::TrendPoint {
                    run_id: String::new(),
                    generated_at: String::new(),
                    score: audited.then_some(a.risk.score),
                    counts: audited.then_some(a.summary),
                }],
                numbers: Vec::new(),
            };
            &own
        }
    };
    let e = a.executive.as_ref();
    let new: std::collections::HashSet<&str> = a
        .diff
        .as_ref()
        .map(|d| d.new.iter().map(|e| e.fingerprint.as_str()).collect())
        .unwrap_or_default();
    AccountView {
        anchor: format!("account-{}", i + 1),
        name: &a.name,
        waba_id: &a.waba_id,
        source: a.source.as_str(),
        audited,
        error: a.error.as_deref(),
        level: a.risk.level.as_str(),
        score: a.risk.score,
        stage: a.risk.stage.as_str(),
        stage_words: a.risk.stage.words(),
        stage_sentence: e.map(|e| e.stage_sentence.as_str()),
        headline: capitalize(&a.headline),
        counts: a.summary,
        suppressed: a.findings.iter().filter(|f| f.suppressed).count(),
        templates: a.templates,
        phone_numbers: a.phone_numbers,
        top_actions: e
            .map(|e| e.top_actions.iter().map(ActionView::of).collect())
            .unwrap_or_default(),
        meta_signals: e.map_or(&[], |e| e.meta_signals.as_slice()),
        heuristics: e.map_or(&[], |e| e.heuristics.as_slice()),
        enforcement: enforcement(a),
        score_chart: chart::score(&trend.points),
        severity_chart: chart::severities(&trend.points),
        numbers: if trend.numbers.is_empty() {
            // No history: the current run's numbers.
            current_numbers(a)
        } else {
            trend.numbers.clone()
        },
        optin: a
            .optin
            .iter()
            .map(|o| AudienceView {
                name: &o.name,
                file: &o.file,
                consent: &o.consent,
                error: o.error.as_deref(),
                coverage: o.coverage.as_ref(),
                percent: o
                    .coverage
                    .as_ref()
                    .map(|c| format!("{:.2}", c.coverage * 100.0)),
            })
            .collect(),
        register: a
            .template_register
            .iter()
            .flat_map(|r| &r.templates)
            .map(|e| RegisterRowView {
                name: &e.name,
                language: &e.language,
                category: e.category.as_deref(),
                changes: e.change_labels(),
                pending: e.pending_label(),
                status: e.status_label(),
                present: e.present,
                quality: e.quality.as_deref(),
                first_seen: super::register::day(&e.first_seen),
                last_seen: super::register::day(&e.last_seen),
                pauses: e.pauses,
            })
            .collect(),
        families: families(&a.findings, &new),
        diff: a.diff.as_ref().map(|d| DiffView {
            previous_run: &d.previous_run,
            previous_date: d
                .previous_generated_at
                .get(..10)
                .unwrap_or(&d.previous_generated_at),
            score_previous: d.score.previous,
            score_current: d.score.current,
            score_change: match d.score.change {
                0 => "±0".to_owned(),
                c => format!("{c:+}"),
            },
            level_previous: d.level.previous.as_str(),
            level_current: d.level.current.as_str(),
            stage_previous: d.stage.previous.words(),
            stage_current: d.stage.current.words(),
            new: d.new_counted().map(DiffEntryView::of).collect(),
            resolved: d.resolved.iter().map(DiffEntryView::of).collect(),
            unchanged: d.unchanged.len(),
        }),
        notes: a
            .notes
            .iter()
            .map(|n| NoteView {
                level: match n.level {
                    crate::snapshot::NoteLevel::Info => "info",
                    crate::snapshot::NoteLevel::Warning => "warning",
                },
                message: &n.message,
            })
            .collect(),
    }
}

fn current_numbers(a: &AccountReport) -> Vec<NumberTimeline> {
    a.numbers
        .iter()
        .map(|n| NumberTimeline {
            id: n.id.clone(),
            label: n.display.clone().unwrap_or_else(|| n.id.clone()),
            changes: vec![super::trend::NumberChange {
                run_id: String::new(),
                generated_at: String::new(),
                quality_rating: n.quality_rating.clone(),
                messaging_limit: n.messaging_limit.clone(),
                status: n.status.clone(),
            }],
            runs_seen: 1,
            current: true,
        })
        .collect()
}

fn enforcement(a: &AccountReport) -> Option<EnforcementView<'_>> {
    let r = &a.risk;
    if a.status != AccountStatus::Audited || r.stage == crate::risk::Stage::None {
        return None;
    }
    fn ev(e: &crate::risk::Evidence) -> EvidenceView<'_> {
        EvidenceView {
            at: e.at.as_deref(),
            text: &e.text,
            source: &e.source,
        }
    }
    let mut evidence: Vec<EvidenceView> = r.stage_evidence.iter().map(ev).collect();
    let mut runbooks = Vec::new();
    if let Some(d) = &r.diagnosis {
        evidence.extend(d.evidence.iter().map(ev));
        for rb in std::iter::once(&d.runbook).chain(d.escalation.iter()) {
            runbooks.push(RunbookView {
                title: &rb.title,
                steps: &rb.steps,
            });
        }
    }
    Some(EnforcementView {
        step: r.ladder.as_ref().map(|l| l.step.as_str()),
        until: r.ladder.as_ref().and_then(|l| l.until.as_deref()),
        next: r.ladder.as_ref().and_then(|l| l.next.as_deref()),
        evidence,
        history: r.ladder.as_ref().map_or(&[], |l| l.history.as_slice()),
        cause: r.diagnosis.as_ref().map(|d| d.cause.words()),
        summary: r.diagnosis.as_ref().map(|d| d.summary.as_str()),
        runbooks,
    })
}

/// The family of a check: the part before the first dot (`template`,
/// `profile`, `account`, `optin`, `number`, ...).
pub fn family(check: &str) -> &str {
    check.split('.').next().unwrap_or(check)
}

fn family_title(key: &str) -> String {
    match key {
        "template" => "Message templates".to_owned(),
        "profile" => "Business profile".to_owned(),
        "account" => "Account and enforcement".to_owned(),
        "optin" => "Opt-in and audiences".to_owned(),
        "number" => "Phone numbers".to_owned(),
        "send_log" | "sendlog" => "Sending".to_owned(),
        other => capitalize(&other.replace('_', " ")),
    }
}

/// Findings grouped by family; families with the worst open findings first.
fn families<'a>(
    findings: &'a [Finding],
    new: &std::collections::HashSet<&str>,
) -> Vec<FamilyView<'a>> {
    let mut groups: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        groups.entry(family(&f.check)).or_default().push(f);
    }
    let mut out: Vec<FamilyView> = groups
        .into_iter()
        .map(|(key, fs)| {
            let counts = SeverityCounts::of(fs.iter().copied());
            FamilyView {
                key: key.to_owned(),
                title: family_title(key),
                counts,
                suppressed: fs.iter().filter(|f| f.suppressed).count(),
                findings: fs
                    .into_iter()
                    .map(|f| FindingView {
                        severity: f.severity.as_str(),
                        check: &f.check,
                        rule: &f.rule,
                        subject: f.subject.label(),
                        subject_key: f.subject.key(),
                        message: &f.message,
                        evidence: f.evidence.as_deref(),
                        remediation: &f.remediation,
                        fingerprint: &f.fingerprint,
                        meta: f.origin == Origin::Meta,
                        suppressed: f.suppressed,
                        suppressed_by: f.suppressed_by.as_ref(),
                        first_seen: f.first_seen.as_deref().map(|s| s.get(..10).unwrap_or(s)),
                        new: new.contains(f.fingerprint.as_str()),
                    })
                    .collect(),
            }
        })
        .collect();
    let worst = |f: &FamilyView| {
        Severity::ALL_DESC
            .iter()
            .map(|&s| f.counts.get(s))
            .collect::<Vec<usize>>()
    };
    out.sort_by(|a, b| worst(b).cmp(&worst(a)).then(a.key.cmp(&b.key)));
    out
}

fn suppressions(s: &SuppressionReport) -> SuppressionsView<'_> {
    SuppressionsView {
        file: &s.file,
        warn_days: i64::from(s.warn_days),
        entries: s
            .entries
            .iter()
            .map(|e| SuppressionEntryView {
                line: e.line,
                matches: &e.matches,
                reason: &e.reason,
                expires: &e.expires,
                state: match e.state {
                    EntryState::Active => "active",
                    EntryState::Expiring => "expiring",
                    EntryState::Expired => "expired",
                },
                days_left: e.days_left,
                suppressed: e.suppressed,
            })
            .collect(),
        errors: s
            .errors
            .iter()
            .map(|e| SuppressionErrorView {
                line: e.line,
                message: &e.message,
            })
            .collect(),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
