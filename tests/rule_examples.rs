//! Every rule in the shipped packs carries positive and negative examples;
//! this runs them all (like ruff's per-rule fixtures).

use wabaguard::checks::signal_examples::check_signal_examples;
use wabaguard::checks::templates::check_builtin_examples;
use wabaguard::rulepack::{RuleKind, RulePack};

#[test]
fn shipped_pack_loads_and_every_example_passes() {
    let pack = RulePack::builtin().expect("built-in rule pack loads");
    let mut failures = pack.check_pattern_examples();
    failures.extend(check_builtin_examples(&pack));
    failures.extend(check_signal_examples(&pack));
    assert!(
        failures.is_empty(),
        "{} example failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_rule_has_positive_and_negative_examples() {
    let pack = RulePack::builtin().unwrap();
    let mut missing = Vec::new();
    for (i, r) in pack.rules.iter().enumerate() {
        let (pos, neg) = match r.def.kind {
            RuleKind::Builtin => (r.def.examples.positive.len(), r.def.examples.negative.len()),
            RuleKind::Pattern => pack
                .patterns
                .iter()
                .filter(|p| p.rule == i)
                .fold((0, 0), |(a, b), p| {
                    (a + p.examples.positive.len(), b + p.examples.negative.len())
                }),
        };
        // Builtin rules that only exist for non-template families are checked elsewhere.
        if r.def.kind == RuleKind::Builtin && !r.def.family.starts_with("template.") {
            continue;
        }
        if pos == 0 || neg == 0 {
            missing.push(format!("{} (positive {pos}, negative {neg})", r.def.id));
        }
    }
    assert!(missing.is_empty(), "rules without examples: {missing:?}");
}

#[test]
fn required_languages_have_packs() {
    let pack = RulePack::builtin().unwrap();
    for lang in ["en", "es", "pt", "id", "hi", "de", "fr", "it"] {
        assert!(
            pack.languages.contains(lang),
            "no patterns for language {lang}"
        );
    }
}
