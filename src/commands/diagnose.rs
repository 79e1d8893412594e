//! `wabaguard diagnose --account NAME`: the enforcement stage of one account,
//! and for a block or lock the cause, the evidence and the filled-in runbook.
//!
//! Runs the same pipeline as `run` for one account (collect → checks → risk)
//! without writing a report.

use std::io::Write;

use serde::Serialize;

use super::{CmdError, CmdResult, Outcome};
use crate::checks::{self, CheckContext};
use crate::cli::{DiagnoseArgs, OutputFormat};
use crate::collect;
use crate::config::Config;
use crate::report::{AccountReport, Action};
use crate::risk::{Diagnosis, Evidence, Ladder, Level, Stage};
use crate::snapshot::CollectNote;

/// What `diagnose --format json` prints.
#[derive(Debug, Serialize)]
pub struct DiagnoseOutput {
    pub account: String,
    pub waba_id: String,
    /// The time the stage was judged at (RFC 3339).
    pub as_of: String,
    pub stage: Stage,
    pub level: Level,
    pub score: u8,
    pub stage_evidence: Vec<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ladder: Option<Ladder>,
    /// Present when the stage is `temporary_block` or `locked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
    /// The top actions (as in report.md's executive summary).
    pub top_actions: Vec<Action>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<CollectNote>,
}

pub fn diagnose(args: &DiagnoseArgs) -> CmdResult {
    let cfg = Config::load(&args.config)?;
    let Some(account) = cfg.account(&args.account) else {
        let names: Vec<&str> = cfg.accounts.iter().map(|a| a.name.as_str()).collect();
        return Err(CmdError(format!(
            "{}: no account named `{}` (configured: {})",
            args.config.display(),
            args.account,
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )));
    };
    let pack = super::run::load_pack(&cfg)?;
    let now = super::now()?;
    let mut snapshot = collect::collect_account(&cfg, account).map_err(|e| {
        CmdError(format!(
            "account `{}` could not be collected: {e}",
            account.name
        ))
    })?;
    // The same findings as `run`, so the risk score is the same.
    collect::consent::collect_audiences(&cfg, account, now, &mut snapshot);
    let previous = crate::report::previous::previous_numbers(&cfg.reports_dir());
    let ctx = CheckContext {
        pack: &pack,
        mask_phones: cfg.reports.mask_phone_numbers,
        now,
        previous_numbers: previous.get(&account.name).map(Vec::as_slice),
        optin: cfg.optin.policy(),
    };
    let findings = checks::run_all(&snapshot, &ctx);
    let risk = crate::risk::assess_account(&snapshot, &findings, now);
    let titles = pack
        .rules
        .iter()
        .map(|r| (r.def.id.clone(), r.def.title.clone()))
        .collect();
    let numbers = crate::audit::number_states(&snapshot, cfg.reports.mask_phone_numbers);
    let notes = snapshot.notes.clone();
    let acct = AccountReport::audited(
        &snapshot.account,
        &snapshot.waba_id,
        snapshot.source,
        snapshot.templates.len(),
        snapshot.phone_numbers.len(),
        findings,
        Vec::new(),
    )
    .with_signals(risk, numbers, &titles);
    let out = DiagnoseOutput {
        account: acct.name.clone(),
        waba_id: acct.waba_id.clone(),
        as_of: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        stage: acct.risk.stage,
        level: acct.risk.level,
        score: acct.risk.score,
        stage_evidence: acct.risk.stage_evidence.clone(),
        ladder: acct.risk.ladder.clone(),
        diagnosis: acct.risk.diagnosis.clone(),
        top_actions: acct
            .executive
            .as_ref()
            .map(|e| e.top_actions.clone())
            .unwrap_or_default(),
        notes,
    };
    let mut stdout = super::stdout();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &out)?;
            writeln!(stdout)?;
        }
        OutputFormat::Text | OutputFormat::Md => {
            stdout.write_all(render_text(&out).as_bytes())?;
        }
    }
    Ok(Outcome::Ok)
}

/// The human form: stage, cause, evidence, runbook.
pub fn render_text(o: &DiagnoseOutput) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let waba = if o.waba_id.is_empty() {
        "unknown"
    } else {
        &o.waba_id
    };
    let _ = writeln!(s, "{} · WABA {} · as of {}", o.account, waba, o.as_of);
    let step = o
        .ladder
        .as_ref()
        .map(|l| {
            let mut t = match o.stage {
                Stage::Warning if l.position == 0 => " — no block so far".to_owned(),
                Stage::Warning => format!(" — last step reached: {}", l.step),
                _ => format!(" — ladder step: {}", l.step),
            };
            if let Some(u) = &l.until {
                t.push_str(&format!(", until {u}"));
            }
            if let Some(n) = &l.next {
                t.push_str(&format!("; next step: {n}"));
            }
            t
        })
        .unwrap_or_default();
    let _ = writeln!(s, "Stage:    {}{step}", o.stage.as_str().to_uppercase());
    let _ = writeln!(
        s,
        "Risk:     {} {}/100",
        o.level.as_str().to_uppercase(),
        o.score
    );
    match &o.diagnosis {
        Some(d) => {
            let _ = writeln!(s, "Cause:    {}", d.cause.words());
            let _ = writeln!(s, "          {}", d.summary);
        }
        None => {
            let _ = writeln!(s, "Cause:    — (the account is not blocked or locked)");
        }
    }
    let evidence = o
        .diagnosis
        .as_ref()
        .map(|d| &d.evidence)
        .filter(|e| !e.is_empty())
        .unwrap_or(&o.stage_evidence);
    if !evidence.is_empty() {
        let _ = writeln!(s, "\nEvidence");
        for e in evidence {
            let _ = writeln!(s, "  - {}", line(e));
        }
    }
    if let Some(d) = &o.diagnosis {
        if !d.other_signals.is_empty() {
            let _ = writeln!(s, "\nOther signals (not decisive)");
            for e in &d.other_signals {
                let _ = writeln!(s, "  - {}", line(e));
            }
        }
    }
    if let Some(l) = o.ladder.as_ref().filter(|l| !l.history.is_empty()) {
        let _ = writeln!(s, "\nEnforcement history (last 365 days)");
        for h in &l.history {
            let _ = writeln!(s, "  - {h}");
        }
    }
    match &o.diagnosis {
        Some(d) => {
            let _ = writeln!(s, "\nRunbook\n");
            s.push_str(d.runbook.markdown.trim_end());
            s.push('\n');
            if let Some(e) = &d.escalation {
                let _ = writeln!(s);
                s.push_str(e.markdown.trim_end());
                s.push('\n');
            }
        }
        None => {
            let _ = writeln!(
                s,
                "\nRunbook:  none needed — the account can send. Fix first:"
            );
            if o.top_actions.is_empty() {
                let _ = writeln!(s, "  nothing significant");
            }
            for (i, a) in o.top_actions.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "  {}. [{}] {} — {}\n     Fix: {}",
                    i + 1,
                    a.severity.as_str().to_uppercase(),
                    a.subject,
                    a.message,
                    a.remediation
                );
            }
        }
    }
    let warnings: Vec<&CollectNote> = o
        .notes
        .iter()
        .filter(|n| n.level == crate::snapshot::NoteLevel::Warning)
        .collect();
    if !warnings.is_empty() {
        let _ = writeln!(s, "\nCollection warnings");
        for n in warnings {
            let _ = writeln!(s, "  - {}", n.message);
        }
    }
    s
}

fn line(e: &Evidence) -> String {
    match &e.at {
        Some(at) => format!("[{} {}] {}", e.source, at, e.text),
        None => format!("[{}] {}", e.source, e.text),
    }
}
