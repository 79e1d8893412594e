//! Country × category rules: which template categories Meta does not deliver
//! to which countries, as data (`[[country_rule]]`, shipped in
//! `rules/countries.toml`, embedded like every pack and extendable through
//! `[rules] extra_dirs`).
//!
//! A sibling of the pattern-pack loader: it reads the same files (embedded
//! or from the extra folders), takes only their `[[country_rule]]` tables
//! (the pattern loader accepts and skips them) and reports errors the same
//! way, naming the file and the rule id. Countries are region codes as
//! libphonenumber assigns them to numbers — `US` is not all of +1: Canada
//! (`CA`) and the Caribbean regions (`JM`, `PR`, `BS`, ...) share the code.
//!
//! Rules learned from the send log (error 130497, "business account
//! restricted from messaging users in this country") are built here too
//! ([`learned_130497`]), so both kinds are applied by one code path.

use std::path::PathBuf;

use chrono::NaiveDate;
use rlibphonenumber::Region;
use serde::{Deserialize, Serialize};

use super::{BUILTIN_MARK, EMBEDDED, RulePackError, read_dir_toml};
use crate::collect::consent::scope::Scopes;

/// What the gate does with audience rows a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CountryAction {
    Refuse,
    Warn,
}

impl CountryAction {
    pub fn as_str(self) -> &'static str {
        match self {
            CountryAction::Refuse => "refuse",
            CountryAction::Warn => "warn",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExamplesDef {
    /// E.164 numbers the rule must match.
    #[serde(default)]
    affected: Vec<String>,
    /// E.164 numbers it must not match.
    #[serde(default)]
    unaffected: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: String,
    title: String,
    countries: Vec<String>,
    categories: Vec<String>,
    action: CountryAction,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    description: String,
    remediation: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    examples: ExamplesDef,
}

#[derive(Debug, Deserialize)]
struct FileDef {
    #[serde(default)]
    country_rule: Vec<RuleDef>,
    /// Pattern-pack content of the same file: not ours.
    #[serde(flatten)]
    _rest: toml::Table,
}

/// One country rule, validated.
#[derive(Debug, Clone)]
pub struct CountryRule {
    pub id: String,
    pub title: String,
    /// Region codes as given (upper case), and as regions.
    pub countries: Vec<String>,
    regions: Vec<Region>,
    pub categories: Scopes,
    pub action: CountryAction,
    /// First day the rule applies (UTC), if bounded.
    pub since: Option<NaiveDate>,
    /// First day it no longer applies, if bounded.
    pub until: Option<NaiveDate>,
    pub description: String,
    pub remediation: String,
    pub reference: Option<String>,
    /// The file it came from (`send log` for learned rules).
    pub source: String,
    pub affected: Vec<String>,
    pub unaffected: Vec<String>,
}

impl CountryRule {
    /// Whether the rule is in force on `day`.
    pub fn in_force(&self, day: NaiveDate) -> bool {
        self.since.is_none_or(|s| s <= day) && self.until.is_none_or(|u| day < u)
    }

    /// Whether a number of `region` is affected.
    pub fn covers(&self, region: Region) -> bool {
        self.regions.contains(&region)
    }
}

/// Every country rule of the packs.
#[derive(Debug, Clone, Default)]
pub struct CountryRules {
    pub rules: Vec<CountryRule>,
}

fn invalid(path: &str, rule: &str, message: String) -> RulePackError {
    RulePackError::Invalid {
        path: PathBuf::from(path),
        rule: rule.to_owned(),
        message,
    }
}

fn region(code: &str) -> Result<Region, String> {
    crate::collect::consent::phone::parse_region(code)
}

fn date(
    path: &str,
    id: &str,
    field: &str,
    v: Option<&str>,
) -> Result<Option<NaiveDate>, RulePackError> {
    v.map(|s| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
            invalid(
                path,
                id,
                format!("`{field}`: `{s}` is not a date (YYYY-MM-DD)"),
            )
        })
    })
    .transpose()
}

impl CountryRules {
    /// The embedded rules only.
    pub fn builtin() -> Result<CountryRules, RulePackError> {
        CountryRules::load(&[])
    }

    /// The embedded rules plus those in the extra folders (already resolved).
    pub fn load(extra_dirs: &[PathBuf]) -> Result<CountryRules, RulePackError> {
        let mut files: Vec<(String, String)> = EMBEDDED
            .iter()
            .map(|(p, c)| (format!("rules/{p}{BUILTIN_MARK}"), (*c).to_owned()))
            .collect();
        for dir in extra_dirs {
            files.extend(read_dir_toml(dir)?);
        }
        CountryRules::from_sources(&files)
    }

    /// Builds the rules from `(path, content)` pairs; files without
    /// `country_rule` are skipped unparsed.
    pub fn from_sources(files: &[(String, String)]) -> Result<CountryRules, RulePackError> {
        let mut rules: Vec<CountryRule> = Vec::new();
        for (path, content) in files {
            if !content.contains("country_rule") {
                continue;
            }
            let shown = path.strip_suffix(BUILTIN_MARK).unwrap_or(path);
            let file: FileDef = toml::from_str(content).map_err(|e| RulePackError::Parse {
                path: PathBuf::from(shown),
                message: e.to_string().trim_end().to_owned(),
            })?;
            for def in file.country_rule {
                let rule = validate(shown, def)?;
                if let Some(prev) = rules.iter().find(|r| r.id == rule.id) {
                    return Err(invalid(
                        shown,
                        &rule.id,
                        format!("duplicate id (also in {})", prev.source),
                    ));
                }
                rules.push(rule);
            }
        }
        Ok(CountryRules { rules })
    }

    pub fn get(&self, id: &str) -> Option<&CountryRule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Runs every rule's examples; one message per failure.
    pub fn check_examples(&self) -> Vec<String> {
        use crate::collect::consent::phone::PhoneNormalizer;
        use crate::collect::consent::region::region_of;
        let mut norm = PhoneNormalizer::new(Region::US);
        let mut failures = Vec::new();
        for r in &self.rules {
            if r.affected.is_empty() {
                failures.push(format!("{}: no affected example", r.id));
            }
            for (list, want) in [(&r.affected, true), (&r.unaffected, false)] {
                for ex in list {
                    let Some(n) = norm.normalize(ex.as_bytes()) else {
                        failures.push(format!("{}: example `{ex}` is not a valid number", r.id));
                        continue;
                    };
                    let got = region_of(n).is_some_and(|reg| r.covers(reg));
                    if got != want {
                        failures.push(format!(
                            "{}: example `{ex}` ({}) should {}match",
                            r.id,
                            region_of(n)
                                .map(|g| g.as_region_str().as_str().to_owned())
                                .unwrap_or_else(|| "no region".into()),
                            if want { "" } else { "not " }
                        ));
                    }
                }
            }
        }
        failures
    }
}

fn validate(path: &str, d: RuleDef) -> Result<CountryRule, RulePackError> {
    let id = d.id.trim().to_owned();
    if id.is_empty() || id.contains(char::is_whitespace) || id.contains(';') {
        return Err(invalid(
            path,
            &d.id,
            "`id` must be a non-empty word without spaces or `;`".into(),
        ));
    }
    if d.countries.is_empty() {
        return Err(invalid(path, &id, "`countries` is empty".into()));
    }
    let mut countries = Vec::new();
    let mut regions = Vec::new();
    for c in &d.countries {
        let r = region(c).map_err(|m| invalid(path, &id, format!("`countries`: {m}")))?;
        countries.push(c.trim().to_ascii_uppercase());
        regions.push(r);
    }
    if d.categories.is_empty() {
        return Err(invalid(path, &id, "`categories` is empty".into()));
    }
    let mut categories = Scopes::NONE;
    for c in &d.categories {
        let s = Scopes::parse_category(c)
            .map_err(|m| invalid(path, &id, format!("`categories`: {m}")))?;
        categories = categories.union(s);
    }
    let since = date(path, &id, "since", d.since.as_deref())?;
    let until = date(path, &id, "until", d.until.as_deref())?;
    if let (Some(s), Some(u)) = (since, until) {
        if u <= s {
            return Err(invalid(
                path,
                &id,
                format!("`until` {u} is not after `since` {s}"),
            ));
        }
    }
    for (field, v) in [
        ("title", &d.title),
        ("description", &d.description),
        ("remediation", &d.remediation),
    ] {
        if v.trim().is_empty() {
            return Err(invalid(path, &id, format!("`{field}` is empty")));
        }
    }
    Ok(CountryRule {
        id,
        title: d.title,
        countries,
        regions,
        categories,
        action: d.action,
        since,
        until,
        description: d.description,
        remediation: d.remediation,
        reference: d.reference,
        source: path.to_owned(),
        affected: d.examples.affected,
        unaffected: d.examples.unaffected,
    })
}

/// A rule learned from error 130497 in the send log: the account is
/// restricted from messaging users of `country` (every category).
pub fn learned_130497(country: Region, failures: u64, action: CountryAction) -> CountryRule {
    let code = country.as_region_str().as_str().to_owned();
    CountryRule {
        id: format!("send-log-130497-{}", code.to_ascii_lowercase()),
        title: format!("Account restricted from messaging users in {code}"),
        countries: vec![code.clone()],
        regions: vec![country],
        categories: Scopes::ALL,
        action,
        since: None,
        until: None,
        description: format!(
            "The send log shows error 130497 (business account restricted from messaging users in this country) for {failures} message{} to {code} numbers: Meta does not deliver this account's messages there.",
            if failures == 1 { "" } else { "s" }
        ),
        remediation: format!(
            "Remove the {code} recipients from the campaign (reason `country_rule:send-log-130497-{}` in --uncovered), and check the account's country restrictions in WhatsApp Manager.",
            code.to_ascii_lowercase()
        ),
        reference: Some(
            "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes".into(),
        ),
        source: "send log".into(),
        affected: Vec::new(),
        unaffected: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_country_rules_load_and_their_examples_hold() {
        let r = CountryRules::builtin().unwrap();
        assert!(r.get("us-marketing").is_some());
        let failures = r.check_examples();
        assert!(failures.is_empty(), "{failures:#?}");
    }

    fn load(text: &str) -> Result<CountryRules, RulePackError> {
        CountryRules::from_sources(&[("custom/countries.toml".into(), text.into())])
    }

    const OK: &str = r#"
[[country_rule]]
id = "x"
title = "t"
countries = ["BR"]
categories = ["MARKETING"]
action = "warn"
description = "d"
remediation = "r"
"#;

    #[test]
    fn errors_name_the_file_and_the_rule() {
        assert!(load(OK).is_ok());
        for (edit, want) in [
            (OK.replace("\"BR\"", "\"XX\""), "region `XX`"),
            (OK.replace("MARKETING", "PROMO"), "`categories`: `PROMO`"),
            (
                OK.replace("\"warn\"", "\"block\""),
                "unknown variant `block`",
            ),
            (
                OK.replace(
                    "remediation = \"r\"",
                    "remediation = \"r\"\nsince = \"April\"",
                ),
                "`since`: `April` is not a date",
            ),
            (OK.replace("title", "titel"), "unknown field `titel`"),
            (format!("{OK}{OK}"), "duplicate id"),
        ] {
            let e = load(&edit).unwrap_err().to_string();
            assert!(e.contains("custom/countries.toml"), "{e}");
            assert!(e.contains(want), "{want}: {e}");
            if !want.starts_with("unknown ") {
                assert!(e.contains("rule `x`"), "{e}");
            }
        }
    }

    #[test]
    fn in_force_between_since_and_until() {
        let r = load(&OK.replace(
            "remediation = \"r\"",
            "remediation = \"r\"\nsince = \"2025-04-01\"\nuntil = \"2026-01-01\"",
        ))
        .unwrap();
        let rule = &r.rules[0];
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(!rule.in_force(d("2025-03-31")));
        assert!(rule.in_force(d("2025-04-01")));
        assert!(rule.in_force(d("2025-12-31")));
        assert!(!rule.in_force(d("2026-01-01")));
    }
}
