//! JUnit XML rendering of findings, for CI dashboards (`--format junit` of
//! `run`, `lint-templates` and `gate`).
//!
//! One `<testsuite>` per account (run, gate) or input file (lint-templates);
//! one `<testcase>` per audited subject (a template by name and language, a
//! phone number, a profile field, ...). A testcase fails when it has an
//! unsuppressed finding at or above the threshold (`--fail-on`, else
//! medium); it is skipped when its only such findings are suppressed; findings
//! below the threshold are listed in `<system-out>`. An account that could
//! not be collected is a testcase with an `<error>`.
//!
//! Written by hand with strict escaping: characters XML 1.0 forbids (most
//! control characters) are replaced, so any input yields well-formed XML.

use std::fmt::Write as _;

use crate::checks::{Finding, Severity};

/// The threshold when no `--fail-on` is given.
pub const DEFAULT_THRESHOLD: Severity = Severity::Medium;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suite {
    pub name: String,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Case {
    pub classname: String,
    pub name: String,
    /// `(message, text)` of the `<failure>`.
    pub failure: Option<(String, String)>,
    /// `(message, text)` of the `<error>`.
    pub error: Option<(String, String)>,
    /// Message of `<skipped>`.
    pub skipped: Option<String>,
    pub system_out: String,
}

impl Case {
    pub fn new(classname: impl Into<String>, name: impl Into<String>) -> Self {
        Case {
            classname: classname.into(),
            name: name.into(),
            ..Case::default()
        }
    }

    /// Fails, skips or passes the case by `findings` (its subject's).
    pub fn judge<'a>(
        mut self,
        findings: impl IntoIterator<Item = &'a Finding>,
        threshold: Severity,
    ) -> Self {
        let mut failing = Vec::new();
        let mut suppressed = Vec::new();
        for f in findings {
            if f.severity >= threshold && !f.suppressed {
                failing.push(f);
            } else if f.severity >= threshold {
                suppressed.push(f);
            } else {
                let _ = writeln!(self.system_out, "{}", line(f));
            }
        }
        if !failing.is_empty() {
            let rules: Vec<&str> = failing.iter().map(|f| f.rule.as_str()).collect();
            let message = format!(
                "{} finding{} at or above {threshold}: {}",
                failing.len(),
                if failing.len() == 1 { "" } else { "s" },
                rules.join(", ")
            );
            let mut text = String::new();
            for f in &failing {
                let _ = writeln!(text, "{}", line(f));
            }
            self.failure = Some((message, text));
        } else if !suppressed.is_empty() {
            let why: Vec<String> = suppressed
                .iter()
                .map(|f| {
                    let reason = f
                        .suppressed_by
                        .as_ref()
                        .map(|b| b.reason.as_str())
                        .unwrap_or("suppressed");
                    format!("{} suppressed: {reason}", f.rule)
                })
                .collect();
            self.skipped = Some(why.join("; "));
        }
        for f in &suppressed {
            let _ = writeln!(self.system_out, "suppressed: {}", line(f));
        }
        self
    }
}

fn line(f: &Finding) -> String {
    let mut s = format!(
        "[{}] {} — {} (rule {}, fingerprint {})",
        f.severity.as_str().to_uppercase(),
        f.subject.label(),
        f.message,
        f.rule,
        f.fingerprint
    );
    if let Some(t) = &f.triage {
        s.push_str(&format!(" [triage: {}]", t.state.as_str()));
    }
    if !f.remediation.is_empty() {
        s.push_str(&format!("\n    fix: {}", f.remediation));
    }
    s
}

/// Groups `findings` by subject into judged cases, in order of first
/// appearance; `subjects` (key, label) adds subjects without findings
/// (passing cases) first.
pub fn cases_by_subject(
    classname: &str,
    subjects: impl IntoIterator<Item = (String, String)>,
    findings: &[Finding],
    threshold: Severity,
) -> Vec<Case> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (key, label) in subjects.into_iter().chain(
        findings
            .iter()
            .map(|f| (f.subject.key(), f.subject.label())),
    ) {
        if seen.insert(key.clone()) {
            order.push((key, label));
        }
    }
    let mut by_key: std::collections::HashMap<String, Vec<&Finding>> = Default::default();
    for f in findings {
        by_key.entry(f.subject.key()).or_default().push(f);
    }
    order
        .into_iter()
        .map(|(key, label)| {
            let fs = by_key.remove(&key).unwrap_or_default();
            Case::new(classname, label).judge(fs, threshold)
        })
        .collect()
}

/// The JUnit document of a run's report: one suite per account, one case
/// per template of its inventory and per other subject with findings; an
/// account that could not be collected is one case with an error.
pub fn of_report(report: &super::Report, threshold: Severity) -> String {
    let suites: Vec<Suite> = report
        .accounts
        .iter()
        .map(|a| {
            let classname = format!("wabaguard.{}", a.name);
            let cases = match a.status {
                super::AccountStatus::Failed => {
                    let mut c = Case::new(&classname, "collect");
                    let e = a.error.clone().unwrap_or_default();
                    c.error = Some((format!("not audited: {e}"), e));
                    vec![c]
                }
                super::AccountStatus::Audited => {
                    let templates = a.inventory.iter().flat_map(|i| &i.templates).map(|t| {
                        let s = crate::checks::Subject::template(None, &t.name, &t.language);
                        (s.key(), s.label())
                    });
                    cases_by_subject(&classname, templates, &a.findings, threshold)
                }
            };
            Suite {
                name: a.name.clone(),
                cases,
            }
        })
        .collect();
    render(&format!("wabaguard run {}", report.run_id), &suites)
}

/// The XML document.
pub fn render(name: &str, suites: &[Suite]) -> String {
    let count = |f: &dyn Fn(&Case) -> bool| -> usize {
        suites
            .iter()
            .flat_map(|s| &s.cases)
            .filter(|c| f(c))
            .count()
    };
    let tests = count(&|_| true);
    let failures = count(&|c| c.failure.is_some());
    let errors = count(&|c| c.error.is_some());
    let skipped = count(&|c| c.skipped.is_some() && c.failure.is_none() && c.error.is_none());
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"0\">",
        esc(name)
    );
    for suite in suites {
        let c = |f: &dyn Fn(&Case) -> bool| suite.cases.iter().filter(|x| f(x)).count();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"0\">",
            esc(&suite.name),
            suite.cases.len(),
            c(&|x| x.failure.is_some()),
            c(&|x| x.error.is_some()),
            c(&|x| x.skipped.is_some() && x.failure.is_none() && x.error.is_none()),
        );
        for case in &suite.cases {
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
                esc(&case.classname),
                esc(&case.name)
            );
            let empty = case.failure.is_none()
                && case.error.is_none()
                && case.skipped.is_none()
                && case.system_out.is_empty();
            if empty {
                s.push_str("/>\n");
                continue;
            }
            s.push_str(">\n");
            if let Some((msg, text)) = &case.error {
                let _ = writeln!(
                    s,
                    "      <error message=\"{}\" type=\"error\">{}</error>",
                    esc(msg),
                    esc(text)
                );
            }
            if let Some((msg, text)) = &case.failure {
                let _ = writeln!(
                    s,
                    "      <failure message=\"{}\" type=\"finding\">{}</failure>",
                    esc(msg),
                    esc(text)
                );
            } else if let Some(msg) = case.skipped.as_ref().filter(|_| case.error.is_none()) {
                let _ = writeln!(s, "      <skipped message=\"{}\"/>", esc(msg));
            }
            if !case.system_out.is_empty() {
                let _ = writeln!(
                    s,
                    "      <system-out>{}</system-out>",
                    esc(&case.system_out)
                );
            }
            s.push_str("    </testcase>\n");
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

/// Escapes text for an XML attribute or element; characters XML 1.0 does
/// not allow become U+FFFD.
pub fn esc(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            '\n' => s.push_str("&#10;"),
            '\r' => s.push_str("&#13;"),
            '\t' => s.push_str("&#9;"),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => s.push('\u{FFFD}'),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_xml_well_formed() {
        assert_eq!(
            esc("a<b>&\"c' \u{1}\u{FFFF}\n"),
            "a&lt;b&gt;&amp;&quot;c&apos; \u{FFFD}\u{FFFD}&#10;"
        );
    }
}
