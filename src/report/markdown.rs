//! `report.md`: the Report rendered for a compliance manager — a one-screen
//! executive summary per account (level, stage, top three actions, Meta's
//! own signals apart from wabaguard's heuristics), then per account the
//! enforcement stage and diagnosis, what to fix first, and every finding
//! grouped by severity with its remediation.

use std::fmt::Write as _;

use super::diff::DiffEntry;
use super::{AccountReport, AccountStatus, Action, ExecutiveSummary, Report};
use crate::checks::{Finding, Origin, Severity, TriageView};
use crate::risk::{Risk, Stage};
use crate::suppress::{EntryState, EntryStatus, SuppressionReport};

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# WhatsApp Business compliance risk report\n");
    let _ = writeln!(
        s,
        "Run `{}` · generated {} · {} {} · rules {} {} (digest `{}`)\n",
        r.run_id,
        r.generated_at,
        r.tool.name,
        r.tool.version,
        r.rules.pack,
        r.rules.version,
        r.rules.digest
    );
    new_since_last_run(&mut s, r);
    if let Some(sup) = r.suppressions.as_ref().filter(|x| x.attention() > 0) {
        suppressions_attention(&mut s, sup);
    }
    let summaries: Vec<(&AccountReport, &ExecutiveSummary)> = r
        .accounts
        .iter()
        .filter_map(|a| a.executive.as_ref().map(|e| (a, e)))
        .collect();
    if !summaries.is_empty() {
        let _ = writeln!(s, "## Executive summary\n");
        for (a, e) in summaries {
            executive(&mut s, a, e);
        }
    }
    let _ = writeln!(s, "## Overview\n");
    let _ = writeln!(
        s,
        "| Account | Risk | Score | Critical | High | Medium | Low | Info |\n|---|---|---:|---:|---:|---:|---:|---:|"
    );
    for a in &r.accounts {
        if a.status == AccountStatus::Failed {
            let _ = writeln!(
                s,
                "| {} | **not audited** | – | – | – | – | – | – |",
                esc(&a.name)
            );
            continue;
        }
        let c = &a.summary;
        let _ = writeln!(
            s,
            "| {} | **{}** | {} | {} | {} | {} | {} | {} |",
            esc(&a.name),
            a.risk.level.as_str().to_uppercase(),
            a.risk.score,
            c.critical,
            c.high,
            c.medium,
            c.low,
            c.info
        );
    }
    s.push('\n');
    for a in &r.accounts {
        account(&mut s, a);
    }
    if let Some(sup) = &r.suppressions {
        suppressions(&mut s, sup);
    }
    s
}

/// "New since last run": per account, what changed since its previous run —
/// first in the report, because it is what a reader of the nightly report
/// wants to see.
fn new_since_last_run(s: &mut String, r: &Report) {
    let audited: Vec<&AccountReport> = r
        .accounts
        .iter()
        .filter(|a| a.status == AccountStatus::Audited)
        .collect();
    if audited.is_empty() {
        return;
    }
    let _ = writeln!(s, "## New since last run\n");
    for a in audited {
        let Some(d) = &a.diff else {
            let _ = writeln!(
                s,
                "- **{}**: first run for this account — nothing to compare with yet.",
                esc(&a.name)
            );
            continue;
        };
        let new: Vec<&DiffEntry> = d.new_counted().collect();
        let mut line = format!(
            "- **{}** (since run `{}`): score {} → {} ({:+})",
            esc(&a.name),
            d.previous_run,
            d.score.previous,
            d.score.current,
            d.score.change
        );
        if d.level.previous != d.level.current {
            line.push_str(&format!(
                ", level {} → **{}**",
                d.level.previous.as_str().to_uppercase(),
                d.level.current.as_str().to_uppercase()
            ));
        }
        if d.stage.previous != d.stage.current {
            line.push_str(&format!(
                ", stage {} → **{}**",
                d.stage.previous.words(),
                d.stage.current.words()
            ));
        }
        line.push_str(&format!(
            "; {} new, {} resolved, {} unchanged",
            new.len(),
            d.resolved.len(),
            d.unchanged.len()
        ));
        let _ = writeln!(s, "{line}");
        for e in &new {
            let _ = writeln!(
                s,
                "  - 🆕 **[{}] {}** — {}",
                e.severity.as_str().to_uppercase(),
                esc(&e.subject),
                esc(&e.message)
            );
        }
        for e in &d.resolved {
            let _ = writeln!(
                s,
                "  - ✅ resolved: [{}] {} — {}",
                e.severity.as_str().to_uppercase(),
                esc(&e.subject),
                esc(&e.message)
            );
        }
    }
    s.push('\n');
}

fn suppressions_attention(s: &mut String, sup: &SuppressionReport) {
    let files: Vec<String> = [Some(&sup.file), sup.triage_file.as_ref()]
        .into_iter()
        .flatten()
        .filter(|f| !f.is_empty())
        .map(|f| format!("`{}`", esc(f)))
        .collect();
    let _ = writeln!(
        s,
        "> **Suppressions need attention** ({}):",
        files.join(", ")
    );
    for e in &sup.errors {
        let _ = writeln!(
            s,
            "> - error{}{}: {}",
            e.file
                .as_deref()
                .map(|f| format!(" in `{}`", esc(f)))
                .unwrap_or_default(),
            e.line.map(|l| format!(" at line {l}")).unwrap_or_default(),
            esc(&e.message)
        );
    }
    for e in sup.entries.iter().filter(|e| e.state != EntryState::Active) {
        let _ = writeln!(s, "> - line {}: {}", e.line, entry_state(e));
    }
    for t in sup.triage.iter().filter(|t| t.expired || t.reopened > 0) {
        let what = if t.expired {
            format!(
                "the {} decision **expired** on {} — the finding counts again",
                t.decision.as_str(),
                t.until.as_deref().unwrap_or("?")
            )
        } else {
            format!(
                "the {} decision is **reopened**: the evidence changed since it was recorded",
                t.decision.as_str()
            )
        };
        let _ = writeln!(
            s,
            "> - triage line {}: fingerprint `{}`: {what}",
            t.line, t.fingerprint
        );
    }
    s.push('\n');
}

fn entry_state(e: &EntryStatus) -> String {
    match e.state {
        EntryState::Expired => format!(
            "{} **expired** on {} — it no longer suppresses anything",
            esc(&e.matches),
            e.expires
        ),
        EntryState::Expiring => format!(
            "{} expires on {} ({} day{} left)",
            esc(&e.matches),
            e.expires,
            e.days_left,
            if e.days_left == 1 { "" } else { "s" }
        ),
        EntryState::Active => format!("{} until {}", esc(&e.matches), e.expires),
    }
}

fn suppressions(s: &mut String, sup: &SuppressionReport) {
    let _ = writeln!(s, "## Suppressions\n");
    if !sup.file.is_empty() {
        let _ = writeln!(
            s,
            "From `{}` (flagged {} days before they expire).\n",
            esc(&sup.file),
            sup.warn_days
        );
    }
    triage(s, sup);
    if sup.entries.is_empty() && sup.errors.is_empty() {
        let _ = writeln!(s, "No entries.\n");
        return;
    }
    if !sup.entries.is_empty() {
        let _ = writeln!(
            s,
            "| Line | Matches | Reason | Expires | State | Suppressed |\n|---:|---|---|---|---|---:|"
        );
        for e in &sup.entries {
            let state = match e.state {
                EntryState::Active => "active".to_owned(),
                EntryState::Expiring => format!("**expiring** ({} d)", e.days_left),
                EntryState::Expired => "**expired**".to_owned(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                e.line,
                esc(&e.matches),
                esc(&e.reason),
                e.expires,
                state,
                e.suppressed
            );
        }
        s.push('\n');
    }
    for e in &sup.errors {
        let _ = writeln!(
            s,
            "- **Error**{}: {}",
            e.line.map(|l| format!(" at line {l}")).unwrap_or_default(),
            esc(&e.message)
        );
    }
    if !sup.errors.is_empty() {
        s.push('\n');
    }
}

fn triage(s: &mut String, sup: &SuppressionReport) {
    let Some(file) = &sup.triage_file else {
        return;
    };
    let _ = writeln!(s, "### Triage\n\nFrom `{}`.\n", esc(file));
    if sup.triage.is_empty() {
        let _ = writeln!(s, "No decisions.\n");
        return;
    }
    let _ = writeln!(
        s,
        "| Line | Fingerprint | Decision | Reason | Until | State | Findings |\n|---:|---|---|---|---|---|---:|"
    );
    for t in &sup.triage {
        let state = if t.expired {
            "**expired**".to_owned()
        } else if t.reopened > 0 {
            format!("**reopened** ({})", t.reopened)
        } else if t.findings == 0 {
            "no finding".to_owned()
        } else {
            "holds".to_owned()
        };
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            t.line,
            t.fingerprint,
            t.decision.as_str(),
            esc(&t.reason),
            t.until.as_deref().unwrap_or("—"),
            state,
            t.findings
        );
    }
    s.push('\n');
}

fn account(s: &mut String, a: &AccountReport) {
    let _ = writeln!(s, "## {}\n", esc(&a.name));
    let waba = if a.waba_id.is_empty() {
        "unknown"
    } else {
        &a.waba_id
    };
    let _ = writeln!(
        s,
        "WABA `{}` · source: {} · {} templates · {} phone numbers\n",
        waba,
        a.source.as_str(),
        a.templates,
        a.phone_numbers
    );
    if a.status == AccountStatus::Failed {
        let _ = writeln!(
            s,
            "> **Not audited.** {}\n",
            esc(a.error.as_deref().unwrap_or("unknown error"))
        );
        return;
    }
    let _ = writeln!(
        s,
        "> **{}** — score {}/100. {}\n",
        a.risk.level.as_str().to_uppercase(),
        a.risk.score,
        esc(&capitalize(&a.headline))
    );
    stage(s, &a.risk);
    actions(s, "### Fix first", &a.fix_first);
    if a.findings.is_empty() {
        let _ = writeln!(s, "No findings.\n");
    } else {
        let _ = writeln!(s, "### Findings\n");
        for sev in Severity::ALL_DESC {
            let group: Vec<&Finding> = a
                .findings
                .iter()
                .filter(|f| f.severity == sev && !f.suppressed)
                .collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(s, "#### {} ({})\n", title(sev), group.len());
            for f in group {
                finding(s, f);
            }
            s.push('\n');
        }
        let suppressed: Vec<&Finding> = a.findings.iter().filter(|f| f.suppressed).collect();
        if !suppressed.is_empty() {
            let _ = writeln!(s, "#### Suppressed ({})\n", suppressed.len());
            for f in suppressed {
                finding(s, f);
            }
        }
    }
    templates(s, a);
    optin(s, a);
    if !a.notes.is_empty() {
        let _ = writeln!(s, "### Collection notes\n");
        for n in &a.notes {
            let _ = writeln!(s, "- {:?}: {}", n.level, esc(&n.message));
        }
        s.push('\n');
    }
}

/// A numbered list of actions with their fix, under `title` (nothing when empty).
fn actions(s: &mut String, title: &str, list: &[Action]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(s, "{title}\n");
    for (i, act) in list.iter().enumerate() {
        let _ = writeln!(
            s,
            "{}. **[{}] {}** — {}{}  \n   *Fix:* {}",
            i + 1,
            act.severity.as_str().to_uppercase(),
            esc(&act.subject),
            esc(&act.message),
            origin_mark(act.origin),
            esc(&act.remediation)
        );
    }
    s.push('\n');
}

fn origin_mark(o: Origin) -> &'static str {
    match o {
        Origin::Meta => " *(signal from Meta)*",
        Origin::Heuristic => "",
    }
}

fn executive(s: &mut String, a: &AccountReport, e: &ExecutiveSummary) {
    let _ = writeln!(
        s,
        "### {} — {} ({}/100)\n",
        esc(&a.name),
        e.level.as_str().to_uppercase(),
        e.score
    );
    let _ = writeln!(s, "**{}**  ", esc(&capitalize(&e.sentence)));
    let _ = writeln!(
        s,
        "**Stage: {}** — {}\n",
        e.stage.as_str().replace('_', " "),
        esc(&e.stage_sentence)
    );
    actions(s, "Top actions:", &e.top_actions);
    if !e.meta_signals.is_empty() {
        let _ = writeln!(
            s,
            "- **Signals from Meta:** {}",
            esc(&e.meta_signals.join("; "))
        );
    }
    if !e.heuristics.is_empty() {
        let _ = writeln!(
            s,
            "- **wabaguard heuristics:** {}",
            esc(&e.heuristics.join("; "))
        );
    }
    s.push('\n');
}

/// The template register: one row per template the account has had.
fn templates(s: &mut String, a: &AccountReport) {
    let Some(reg) = a
        .template_register
        .as_ref()
        .filter(|r| !r.templates.is_empty())
    else {
        return;
    };
    use super::register::day;
    let _ = writeln!(
        s,
        "### Templates
"
    );
    let _ = writeln!(
        s,
        "Every template seen in this and earlier runs (the template register). Category changes: date, and `~` when only known to within runs.\n"
    );
    let _ = writeln!(
        s,
        "| Template | Language | Category (changes) | Status | Quality | First seen | Last seen | Pauses |\n|---|---|---|---|---|---|---|---:|"
    );
    for e in &reg.templates {
        let mut cat = e.category.clone().unwrap_or_else(|| "–".into());
        let changes = e.change_labels();
        if !changes.is_empty() {
            cat.push_str(&format!(" ({})", changes.join("; ")));
        }
        if let Some(p) = e.pending_label() {
            cat.push_str(&format!(" — {p}"));
        }
        let status = e.status_label();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            esc(&e.name),
            esc(&e.language),
            esc(&cat),
            esc(&status),
            esc(e.quality.as_deref().unwrap_or("–")),
            day(&e.first_seen),
            day(&e.last_seen),
            e.pauses
        );
    }
    s.push('\n');
}

/// One table row per configured audience: counts only, never numbers.
fn optin(s: &mut String, a: &AccountReport) {
    if a.optin.is_empty() {
        return;
    }
    let _ = writeln!(s, "### Opt-in coverage\n");
    let _ = writeln!(
        s,
        "| Audience | Rows | Invalid | Unique | Covered | Stale | Revoked | Missing | Coverage | Ledger rows (invalid / errors) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for aud in &a.optin {
        match &aud.coverage {
            Some(c) => {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | **{:.2}%** | {} ({} / {}) |",
                    esc(&aud.name),
                    c.total,
                    c.invalid,
                    c.unique,
                    c.covered,
                    c.stale,
                    c.revoked,
                    c.missing,
                    c.coverage * 100.0,
                    c.ledger_rows,
                    c.ledger_invalid,
                    c.ledger_errors
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "| {} | – | – | – | – | – | – | – | **not computed** | {} |",
                    esc(&aud.name),
                    esc(aud.error.as_deref().unwrap_or("unknown error"))
                );
            }
        }
    }
    s.push('\n');
    for aud in &a.optin {
        if let Some(c) = &aud.coverage {
            let _ = writeln!(
                s,
                "- {}: {} against the ledger {}; region {}; an opt-in covers for {} days; as of {}.",
                esc(&aud.name),
                esc(&aud.file),
                esc(&aud.consent),
                c.region,
                c.max_age_days,
                c.as_of
            );
            if c.ledger_scoped {
                let per: Vec<String> = c
                    .scopes
                    .iter()
                    .map(|sc| {
                        format!(
                            "{} {:.2}% ({} covered, {} stale, {} revoked, {} missing)",
                            sc.scope,
                            sc.coverage * 100.0,
                            sc.covered,
                            sc.stale,
                            sc.revoked,
                            sc.missing
                        )
                    })
                    .collect();
                let _ = writeln!(
                    s,
                    "  - consent by scope (the ledger has a scope column; the table counts consent for every category): {}.",
                    per.join("; ")
                );
            }
        }
    }
    s.push('\n');
}

fn stage(s: &mut String, r: &Risk) {
    if r.stage == Stage::None {
        return;
    }
    let _ = writeln!(
        s,
        "### Enforcement stage: {}\n",
        r.stage.as_str().replace('_', " ")
    );
    if let Some(l) = &r.ladder {
        let _ = writeln!(
            s,
            "Ladder step: **{}**{}{}\n",
            esc(&l.step),
            l.until
                .as_deref()
                .map(|u| format!(" until {u}"))
                .unwrap_or_default(),
            l.next
                .as_deref()
                .map(|n| format!(" · next step: {}", esc(n)))
                .unwrap_or_default()
        );
    }
    for e in &r.stage_evidence {
        let _ = writeln!(
            s,
            "- {}{} *({})*",
            e.at.as_deref()
                .map(|a| format!("{a} — "))
                .unwrap_or_default(),
            esc(&e.text),
            e.source
        );
    }
    if !r.stage_evidence.is_empty() {
        s.push('\n');
    }
    if let Some(l) = r.ladder.as_ref().filter(|l| !l.history.is_empty()) {
        let _ = writeln!(s, "History (365 days): {}\n", esc(&l.history.join("; ")));
    }
    if let Some(d) = &r.diagnosis {
        let _ = writeln!(s, "**Cause: {}.** {}\n", d.cause.words(), esc(&d.summary));
        for e in &d.evidence {
            let _ = writeln!(
                s,
                "- {}{} *({})*",
                e.at.as_deref()
                    .map(|a| format!("{a} — "))
                    .unwrap_or_default(),
                esc(&e.text),
                e.source
            );
        }
        if !d.evidence.is_empty() {
            s.push('\n');
        }
        for rb in std::iter::once(&d.runbook).chain(d.escalation.iter()) {
            let _ = writeln!(s, "#### {}\n", esc(&rb.title));
            for (i, step) in rb.steps.iter().enumerate() {
                // Runbook steps are Markdown from rules/runbooks, filled with ids.
                let _ = writeln!(s, "{}. {}", i + 1, step);
            }
            s.push('\n');
        }
    }
}

fn finding(s: &mut String, f: &Finding) {
    let origin = match f.origin {
        Origin::Meta => " · *signal from Meta*",
        Origin::Heuristic => "",
    };
    let _ = writeln!(
        s,
        "- **{}** — {}  ",
        esc(&f.subject.label()),
        esc(&f.message)
    );
    if let Some(ev) = &f.evidence {
        let _ = writeln!(s, "  Evidence: “{}”  ", esc(ev));
    }
    if !f.remediation.is_empty() {
        let _ = writeln!(s, "  *Fix:* {}  ", esc(&f.remediation));
    }
    if let Some(t) = &f.triage {
        let note = match t.state {
            TriageView::Reopened => {
                " — **reopened**: the evidence changed since the decision; it counts again"
            }
            TriageView::Expired => " — **expired**: it counts again",
            TriageView::InReview => " — still counted",
            TriageView::Accepted | TriageView::FalsePositive => "",
        };
        let _ = writeln!(
            s,
            "  *Triage:* **{}** (decided {}{}, triage line {}): {}{}  ",
            t.state.as_str(),
            t.decision.as_str(),
            t.until
                .as_deref()
                .map(|u| format!(" until {u}"))
                .unwrap_or_default(),
            t.line,
            esc(&t.reason),
            note
        );
    }
    if let Some(by) = f.suppressed_by.as_ref().filter(|b| !b.triage) {
        let _ = writeln!(
            s,
            "  *Suppressed* until {} (suppressions line {}): {}  ",
            by.expires,
            by.line,
            esc(&by.reason)
        );
    }
    let _ = writeln!(
        s,
        "  `{}` · `{}` · subject `{}` · fingerprint `{}`{}",
        f.check,
        f.rule,
        f.subject.key(),
        f.fingerprint,
        origin
    );
}

fn title(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Info",
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Escapes Markdown-significant characters in text that came from templates.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
