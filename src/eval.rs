//! Accuracy evaluation of the template checks on a labelled corpus.
//!
//! Corpus format (`eval/corpus/*.jsonl`), one object per line:
//! `{"id": "...", "template": {Graph API template}, "label": {"true_category":
//! "MARKETING", "restricted": ["alcohol"], "auth_violation": false,
//! "ambiguous": false, "why": "..."}}`.
//!
//! Ground truth per check:
//! - category mismatch: declared UTILITY or AUTHENTICATION and
//!   `true_category` differs (over-declaring MARKETING is not a lock risk and
//!   is not flagged);
//! - restricted content: `restricted` is not empty (template level), and per
//!   policy category (micro-averaged over categories);
//! - authentication format: `auth_violation`.
//!
//! Items marked `ambiguous` are left out of every score.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::checks::Finding;
use crate::checks::templates::{
    AUTH_FORMAT, CATEGORY_MISMATCH, RESTRICTED_CONTENT, TemplateContext, lint_template,
};
use crate::rulepack::{RulePack, primary_language};
use crate::snapshot::{Category, Template};

#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    pub id: String,
    pub template: Template,
    pub label: Label,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub true_category: String,
    #[serde(default)]
    pub restricted: Vec<String>,
    #[serde(default)]
    pub auth_violation: bool,
    #[serde(default)]
    pub ambiguous: bool,
    #[serde(default)]
    pub why: String,
}

/// Reads a JSONL corpus; errors name the file and line.
pub fn read_corpus(path: &Path) -> Result<Vec<Item>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: Item =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        items.push(item);
    }
    Ok(items)
}

/// Confusion counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tn: usize,
}

impl Counts {
    pub fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    pub fn merge(&mut self, o: &Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
        self.tn += o.tn;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// One wrong prediction, for the error listing.
#[derive(Debug, Clone)]
pub struct Miss {
    pub check: &'static str,
    pub id: String,
    pub kind: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub items: usize,
    pub ambiguous: usize,
    pub category: Counts,
    /// Category mismatch per primary language.
    pub category_by_lang: BTreeMap<String, Counts>,
    /// Of the true mismatches found, how many suggested the right category.
    pub suggested_right: usize,
    pub restricted: Counts,
    /// Micro-averaged over (template, policy category) pairs.
    pub restricted_by_category: Counts,
    pub auth: Counts,
    pub misses: Vec<Miss>,
}

/// Lints every item and scores the predictions.
pub fn evaluate(items: &[Item], pack: &RulePack) -> Evaluation {
    let ctx = TemplateContext {
        pack,
        scope: "",
        verticals: &[],
    };
    let mut ev = Evaluation {
        items: items.len(),
        ..Default::default()
    };
    for item in items {
        if item.label.ambiguous {
            ev.ambiguous += 1;
            continue;
        }
        let findings = lint_template(&item.template, &ctx);
        score_item(item, &findings, &mut ev);
    }
    ev
}

fn score_item(item: &Item, findings: &[Finding], ev: &mut Evaluation) {
    let t = &item.template;
    let declared = t.category();
    let truth = Category::parse(Some(&item.label.true_category));

    // Category mismatch.
    let actual =
        matches!(declared, Category::Utility | Category::Authentication) && truth != declared;
    let cat: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.check == CATEGORY_MISMATCH)
        .collect();
    let predicted = !cat.is_empty();
    ev.category.add(predicted, actual);
    ev.category_by_lang
        .entry(primary_language(&t.language))
        .or_default()
        .add(predicted, actual);
    if predicted && actual {
        let suggested = cat[0]
            .details
            .get("suggested_category")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        if suggested == truth.as_str() {
            ev.suggested_right += 1;
        }
    }
    if predicted != actual {
        ev.misses.push(Miss {
            check: CATEGORY_MISMATCH,
            id: item.id.clone(),
            kind: if predicted { "FP" } else { "FN" },
            detail: if predicted {
                format!(
                    "{} ({}) declared {}: flagged by {} on {:?}; label {}: {}",
                    t.name,
                    t.language,
                    declared.as_str(),
                    cat[0].rule,
                    cat[0].evidence.as_deref().unwrap_or(""),
                    item.label.true_category,
                    item.label.why
                )
            } else {
                format!(
                    "{} ({}) declared {}, truly {}: {} | {}",
                    t.name,
                    t.language,
                    declared.as_str(),
                    item.label.true_category,
                    item.label.why,
                    crate::checks::templates::truncate_chars(
                        &t.visible_text().replace('\n', " / "),
                        220
                    )
                )
            },
        });
    }

    // Restricted content.
    let pred: BTreeSet<String> = findings
        .iter()
        .filter(|f| f.check == RESTRICTED_CONTENT)
        .filter_map(|f| {
            f.details
                .get("policy_category")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .collect();
    let truth_set: BTreeSet<String> = item.label.restricted.iter().cloned().collect();
    ev.restricted.add(!pred.is_empty(), !truth_set.is_empty());
    for c in pred.union(&truth_set) {
        ev.restricted_by_category
            .add(pred.contains(c), truth_set.contains(c));
    }
    if pred != truth_set {
        let ev_text: Vec<String> = findings
            .iter()
            .filter(|f| f.check == RESTRICTED_CONTENT)
            .map(|f| format!("{}={:?}", f.rule, f.evidence.as_deref().unwrap_or("")))
            .collect();
        ev.misses.push(Miss {
            check: RESTRICTED_CONTENT,
            id: item.id.clone(),
            kind: if pred.is_empty() {
                "FN"
            } else if truth_set.is_empty() {
                "FP"
            } else {
                "WRONG"
            },
            detail: format!(
                "{} ({}): predicted {:?} [{}], label {:?}: {} | {}",
                t.name,
                t.language,
                pred,
                ev_text.join("; "),
                truth_set,
                item.label.why,
                crate::checks::templates::truncate_chars(
                    &t.visible_text().replace('\n', " / "),
                    160
                )
            ),
        });
    }

    // Authentication format (only meaningful for declared AUTHENTICATION).
    if declared == Category::Authentication {
        let auth: Vec<&Finding> = findings.iter().filter(|f| f.check == AUTH_FORMAT).collect();
        let predicted = !auth.is_empty();
        ev.auth.add(predicted, item.label.auth_violation);
        if predicted != item.label.auth_violation {
            ev.misses.push(Miss {
                check: AUTH_FORMAT,
                id: item.id.clone(),
                kind: if predicted { "FP" } else { "FN" },
                detail: format!(
                    "{} ({}): {} | {}",
                    t.name,
                    t.language,
                    auth.iter()
                        .map(|f| f.rule.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    item.label.why
                ),
            });
        }
    }
}

/// A plain-text table of the evaluation.
pub fn render(name: &str, ev: &Evaluation) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "{name}: {} templates ({} ambiguous, left out)\n",
        ev.items, ev.ambiguous
    ));
    s.push_str("  check                         precision  recall    F1    TP   FP   FN\n");
    let row = |label: &str, c: &Counts| {
        format!(
            "  {label:<29} {:>9.3} {:>7.3} {:>5.3} {:>5} {:>4} {:>4}\n",
            c.precision(),
            c.recall(),
            c.f1(),
            c.tp,
            c.fp,
            c.fn_
        )
    };
    s.push_str(&row("category_mismatch", &ev.category));
    s.push_str(&row("restricted_content (any)", &ev.restricted));
    s.push_str(&row(
        "restricted_content (per cat.)",
        &ev.restricted_by_category,
    ));
    s.push_str(&row("auth_format", &ev.auth));
    if ev.category.tp > 0 {
        s.push_str(&format!(
            "  suggested category right on {}/{} detected mismatches\n",
            ev.suggested_right, ev.category.tp
        ));
    }
    s.push_str("  category_mismatch by language:");
    for (lang, c) in &ev.category_by_lang {
        s.push_str(&format!(" {lang} P{:.2}/R{:.2}", c.precision(), c.recall()));
    }
    s.push('\n');
    s
}
