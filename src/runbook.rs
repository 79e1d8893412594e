//! Runbooks: what to do when an account is blocked or locked. They are data —
//! Markdown files under `rules/runbooks/`, embedded at build time — with
//! `{{placeholder}}`s that the diagnosis fills in (WABA id, phone number id,
//! error code, timestamps, history).
//!
//! A runbook file opens with a `# Title` line; its numbered list items are
//! the steps (also given separately in report.json).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every `*.md` under `rules/`, embedded by build.rs: `(path relative to rules/, content)`.
pub static EMBEDDED_DOCS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/embedded_docs.rs"));

/// The placeholders a runbook may use.
pub const PLACEHOLDERS: [&str; 12] = [
    "account",
    "waba_id",
    "phone_number_id",
    "error_code",
    "first_seen",
    "last_seen",
    "until",
    "next_step",
    "violations",
    "enforcement_history",
    "pin_secret",
    "registered_at",
];

/// The runbook shown after the cause-specific one when it does not help.
pub const ESCALATION: &str = "direct-support";

/// A filled-in runbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runbook {
    /// File stem under `rules/runbooks/` (`policy-enforcement`).
    pub id: String,
    pub title: String,
    /// The numbered steps, filled in, in order.
    pub steps: Vec<String>,
    /// The whole runbook as Markdown, filled in.
    pub markdown: String,
}

/// The raw text of `rules/runbooks/<id>.md`.
pub fn source(id: &str) -> Option<&'static str> {
    let want = format!("runbooks/{id}.md");
    EMBEDDED_DOCS
        .iter()
        .find(|(p, _)| *p == want)
        .map(|(_, c)| *c)
}

/// Ids of every embedded runbook.
pub fn ids() -> Vec<&'static str> {
    EMBEDDED_DOCS
        .iter()
        .filter_map(|(p, _)| p.strip_prefix("runbooks/")?.strip_suffix(".md"))
        .collect()
}

/// Replaces `{{name}}` with its value; unknown names are left as they are.
pub fn fill(text: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find("}}") {
            Some(j) => {
                let name = after[..j].trim();
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[i..i + 2 + j + 2]),
                }
                rest = &after[j + 2..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `{{name}}`s used in a text.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else { break };
        v.push(after[..j].trim().to_owned());
        rest = &after[j + 2..];
    }
    v
}

/// Loads and fills runbook `id`.
pub fn render(id: &str, vars: &BTreeMap<&str, String>) -> Option<Runbook> {
    let markdown = fill(source(id)?, vars);
    let title = markdown
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or(id)
        .trim()
        .to_owned();
    Some(Runbook {
        id: id.to_owned(),
        title,
        steps: steps(&markdown),
        markdown,
    })
}

/// The numbered list items of a Markdown text (continuation lines joined).
pub fn steps(markdown: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_item = false;
    for line in markdown.lines() {
        let t = line.trim_start();
        let numbered = t
            .split_once(". ")
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if let Some((_, text)) = numbered.filter(|_| line.len() - t.len() < 2) {
            out.push(text.trim().to_owned());
            in_item = true;
        } else if in_item && !t.is_empty() && line.starts_with(' ') {
            if let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(t);
            }
        } else if t.is_empty() || t.starts_with('#') {
            in_item = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_runbooks_are_embedded_and_use_known_placeholders() {
        let ids = ids();
        for want in [
            "policy-enforcement",
            "two-step-pin-mismatch",
            "unknown-cause",
            ESCALATION,
        ] {
            assert!(ids.contains(&want), "{want} not embedded: {ids:?}");
        }
        for id in ids {
            let src = source(id).unwrap();
            assert!(src.starts_with("# "), "{id} has no title");
            for p in placeholders(src) {
                assert!(
                    PLACEHOLDERS.contains(&p.as_str()),
                    "{id}: unknown placeholder {{{{{p}}}}}"
                );
            }
            let vars: BTreeMap<&str, String> = PLACEHOLDERS
                .iter()
                .map(|p| (*p, format!("<{p}>")))
                .collect();
            let r = render(id, &vars).unwrap();
            assert!(!r.markdown.contains("{{"), "{id} left a placeholder");
            assert!(r.steps.len() >= 3, "{id}: {:?}", r.steps);
        }
    }

    #[test]
    fn fill_replaces_known_and_keeps_unknown() {
        let vars = BTreeMap::from([("waba_id", "102290129340398".to_owned())]);
        assert_eq!(
            fill("WABA {{waba_id}} / {{ other }} / {{", &vars),
            "WABA 102290129340398 / {{ other }} / {{"
        );
        assert_eq!(placeholders("a {{x}} b {{ y }}"), ["x", "y"]);
    }

    #[test]
    fn steps_are_the_numbered_items() {
        let md =
            "# T\n\nIntro 1. not a step\n\n1. First\n   more of first\n2. Second\n\n10. Tenth\n";
        assert_eq!(steps(md), ["First more of first", "Second", "Tenth"]);
    }
}
