//! `wabaguard gate`: the pre-campaign go/no-go. Exit 0 go, 1 refuse, 2
//! could not decide — never 0 on an error.

use std::io::Write;

use super::{CmdError, CmdResult, Outcome};
use crate::cli::{GateArgs, GateFormat};
use crate::config::Config;
use crate::gate::{self, Decision, GateOutput, GateRequest};
use crate::report::{junit, sarif};

pub fn gate(args: &GateArgs) -> CmdResult {
    match decide(args) {
        Ok(out) => {
            print(args, &out)?;
            Ok(match out.decision {
                Decision::Pass => Outcome::Ok,
                Decision::Refuse => Outcome::Policy,
            })
        }
        Err(e) => {
            if args.format == GateFormat::Json {
                // A machine reading stdout still gets a document, and no "pass".
                let v = serde_json::json!({
                    "decision": "error",
                    "account": args.account,
                    "error": e.0,
                    "reasons": [],
                });
                let mut stdout = super::stdout();
                let _ = serde_json::to_writer_pretty(&mut stdout, &v);
                let _ = writeln!(stdout);
            }
            if args.format == GateFormat::Junit {
                // A CI dashboard shows the error rather than nothing.
                let mut case = junit::Case::new(format!("wabaguard.gate.{}", args.account), "gate");
                case.error = Some((format!("could not decide: {}", e.0), e.0.clone()));
                let doc = junit::render(
                    &format!("wabaguard gate {}", args.account),
                    &[junit::Suite {
                        name: args.account.clone(),
                        cases: vec![case],
                    }],
                );
                let _ = super::stdout().write_all(doc.as_bytes());
            }
            Err(e)
        }
    }
}

fn decide(args: &GateArgs) -> Result<GateOutput, CmdError> {
    let cfg = Config::load(&args.config)?;
    let now = super::now()?;
    let req = GateRequest {
        account: args.account.clone(),
        templates: args.templates.clone(),
        audience: args.audience.clone().zip(args.consent.clone()),
        min_coverage: args.min_coverage.unwrap_or(cfg.gate.min_coverage),
        fail_on: args.fail_on.unwrap_or(cfg.gate.fail_on),
        category: args.category,
        uncovered: args.uncovered.clone(),
    };
    gate::decide(&cfg, &req, now, || {
        super::run::load_pack(&cfg).map_err(|e| e.0)
    })
    .map_err(CmdError)
}

fn print(args: &GateArgs, out: &GateOutput) -> Result<(), CmdError> {
    let mut stdout = super::stdout();
    match args.format {
        GateFormat::Sarif => {
            let cfg = Config::load(&args.config)?;
            let pack = super::run::load_pack(&cfg)?;
            let findings = out.result_findings();
            let log = sarif::render(
                &pack,
                &[sarif::Group {
                    account: &out.account,
                    artifact: Some(&args.config),
                    findings: &findings,
                }],
            );
            serde_json::to_writer_pretty(&mut stdout, &log)?;
            writeln!(stdout)?;
        }
        GateFormat::Junit => stdout.write_all(render_junit(out).as_bytes())?,
        GateFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, out)?;
            writeln!(stdout)?;
        }
        GateFormat::Text => stdout.write_all(render_text(out).as_bytes())?,
    }
    Ok(())
}

/// JUnit: one testcase per named template (failing with its reasons), one
/// for the account (stage, health, data) and one for the audience.
pub fn render_junit(o: &GateOutput) -> String {
    let classname = format!("wabaguard.gate.{}", o.account);
    let mut subjects: Vec<String> = o
        .templates
        .iter()
        .map(|t| format!("template {} ({})", t.name, t.language))
        .collect();
    subjects.push(format!("account {}", o.account));
    if let Some(op) = &o.optin {
        subjects.push(format!("audience {}", op.audience));
    }
    for r in &o.reasons {
        if !subjects.contains(&r.subject) {
            subjects.push(r.subject.clone());
        }
    }
    let cases = subjects
        .into_iter()
        .map(|subject| {
            let reasons: Vec<&gate::Reason> =
                o.reasons.iter().filter(|r| r.subject == subject).collect();
            let mut c = junit::Case::new(&classname, &subject);
            if !reasons.is_empty() {
                let codes: Vec<&str> = reasons.iter().map(|r| r.code).collect();
                let text: Vec<&str> = reasons.iter().map(|r| r.message.as_str()).collect();
                c.failure = Some((format!("refused: {}", codes.join(", ")), text.join("\n")));
            }
            c
        })
        .collect();
    junit::render(
        &format!("wabaguard gate {}", o.account),
        &[junit::Suite {
            name: o.account.clone(),
            cases,
        }],
    )
}

/// One screen: the decision, every reason, what was checked, the data's age.
pub fn render_text(o: &GateOutput) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    match o.decision {
        Decision::Pass => {
            let _ = writeln!(s, "PASS: {} may send.", o.account);
        }
        Decision::Refuse => {
            let _ = writeln!(
                s,
                "REFUSE: {} must not send ({} reason{}):",
                o.account,
                o.reasons.len(),
                if o.reasons.len() == 1 { "" } else { "s" }
            );
            for r in &o.reasons {
                let _ = writeln!(s, "  ✗ {}", r.message);
            }
        }
    }
    let mut checked = Vec::new();
    if !o.templates.is_empty() {
        let t: Vec<String> = o
            .templates
            .iter()
            .map(|t| format!("{}:{} {}", t.name, t.language, t.status))
            .collect();
        checked.push(format!("templates {}", t.join(", ")));
        checked.push(format!("findings at or above {}", o.fail_on));
    }
    if let Some(stage) = o.stage {
        checked.push(format!("stage {}", stage.words()));
        checked.push("health status".into());
    }
    if let Some(op) = &o.optin {
        checked.push(format!(
            "opt-in {:.2}%{} (min {:.2}%)",
            op.coverage * 100.0,
            if op.category.is_empty() {
                String::new()
            } else {
                format!(" for {}", op.category)
            },
            op.min_coverage * 100.0
        ));
        if op.ledger_scoped {
            let per: Vec<String> = op
                .scopes
                .iter()
                .map(|sc| format!("{} {:.2}%", sc.scope, sc.coverage * 100.0))
                .collect();
            checked.push(format!("consent by scope: {}", per.join(", ")));
        }
    }
    if !o.country_rules.is_empty() {
        let rules: Vec<String> = o
            .country_rules
            .iter()
            .map(|c| format!("{} {} rows ({})", c.id, c.rows, c.action))
            .collect();
        checked.push(format!("country rules {}", rules.join(", ")));
    }
    if let Some(h) = &o.headroom {
        checked.push(match (h.limit, h.headroom) {
            (Some(l), Some(room)) => format!(
                "messaging limit {} ({l}/24 h): {} used, {room} left, {} needed, {} day{}",
                h.tier,
                h.used,
                h.needed,
                h.days.unwrap_or(1),
                if h.days == Some(1) { "" } else { "s" }
            ),
            _ => format!(
                "messaging limit {} (unlimited), {} needed",
                h.tier, h.needed
            ),
        });
    }
    if !checked.is_empty() {
        let _ = writeln!(s, "Checked: {}.", checked.join("; "));
    }
    for w in &o.warnings {
        let _ = writeln!(s, "  ! {w}");
    }
    if let Some(u) = &o.uncovered {
        let _ = writeln!(s, "Uncovered: {} rows written to {}.", u.rows, u.file);
    }
    if let Some(d) = &o.data {
        match d.kind {
            "report" => {
                let _ = writeln!(
                    s,
                    "Data: report {} ({} old; max {}).",
                    d.run_id.as_deref().unwrap_or("?"),
                    gate::human_age(d.age_secs),
                    gate::human_age(d.max_age_secs as i64)
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "Data: collected just now ({}).",
                    d.note.as_deref().unwrap_or("no recent report")
                );
            }
        }
    }
    s
}
