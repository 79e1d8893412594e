//! SARIF 2.1.0 rendering of findings, for code-review tools and GitHub code
//! scanning (`--format sarif` of `run`, `lint-templates` and `gate`).
//!
//! One run; `tool.driver.rules` documents every rule of the pack in force
//! (id, title, description, remediation as help, reference as helpUri,
//! severity as the default level) plus any rule id a finding uses that the
//! pack does not define (the gate's own reasons). Each finding is one result:
//! its fingerprint is a `partialFingerprints` entry, its subject a logical
//! location (a template by name and language, an account, a phone number),
//! and — where the findings come from a file — the file is the physical
//! location. Suppressed findings stay, with a SARIF `suppressions` entry.
//!
//! The types are our own small serde structs: only the part of SARIF we
//! emit, checked against the official schema in `tests/sarif_junit.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::checks::{Finding, FindingTriage, Severity, SubjectKind};
use crate::rulepack::RulePack;

pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const VERSION: &str = "2.1.0";
/// The key of a result's fingerprint in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "wabaguardFingerprint/v1";

/// Findings from one source: an account (run, gate) or an input file
/// (lint-templates).
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    /// The account's name; for lint-templates, empty.
    pub account: &'a str,
    /// The file the findings are located in (its path as given), if any.
    pub artifact: Option<&'a Path>,
    pub findings: &'a [Finding],
}

#[derive(Debug, Clone, Serialize)]
pub struct Log {
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    pub version: &'static str,
    pub runs: Vec<Run>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub tool: Tool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    pub results: Vec<SarifResult>,
    pub column_kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub driver: Driver,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Driver {
    pub name: &'static str,
    pub version: &'static str,
    pub semantic_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub information_uri: Option<&'static str>,
    pub rules: Vec<Descriptor>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Text {
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Help {
    pub text: String,
    pub markdown: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub id: String,
    pub name: String,
    pub short_description: Text,
    pub full_description: Text,
    pub help: Help,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help_uri: Option<String>,
    pub default_configuration: DefaultConfiguration,
    pub properties: DescriptorProperties,
}

#[derive(Debug, Clone, Serialize)]
pub struct DefaultConfiguration {
    pub level: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct DescriptorProperties {
    pub tags: Vec<String>,
    /// wabaguard's severity (critical, high, medium, low, info).
    pub severity: Severity,
}

#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    pub location: ArtifactLocation,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactLocation {
    pub uri: String,
    pub index: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SarifResult {
    pub rule_id: String,
    pub rule_index: usize,
    pub level: &'static str,
    pub message: Text,
    pub locations: Vec<Location>,
    pub partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressions: Vec<Suppression>,
    pub properties: ResultProperties,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_location: Option<PhysicalLocation>,
    pub logical_locations: Vec<LogicalLocation>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalLocation {
    pub artifact_location: ArtifactLocation,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogicalLocation {
    pub name: String,
    pub fully_qualified_name: String,
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Suppression {
    pub kind: &'static str,
    pub status: &'static str,
    pub justification: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResultProperties {
    pub severity: Severity,
    pub check: String,
    /// The subject key suppressions match on (`template:NAME:LANGUAGE`).
    pub subject: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub remediation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage: Option<FindingTriage>,
}

/// SARIF level of a severity: critical/high → error, medium → warning,
/// low/info → note.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The SARIF log of `groups`, with the rules of `pack`.
pub fn render(pack: &RulePack, groups: &[Group<'_>]) -> Log {
    let mut rules: Vec<Descriptor> = pack
        .rules
        .iter()
        .filter(|r| r.enabled)
        .map(|r| {
            let d = &r.def;
            let mut md = format!("{}\n\n**Fix:** {}", d.description, d.remediation);
            if let Some(u) = &d.reference {
                md.push_str(&format!("\n\nReference: <{u}>"));
            }
            Descriptor {
                id: d.id.clone(),
                name: camel_name(&d.id),
                short_description: Text {
                    text: d.title.clone(),
                },
                full_description: Text {
                    text: d.description.clone(),
                },
                help: Help {
                    text: match &d.reference {
                        Some(u) => format!("{}\nReference: {u}", d.remediation),
                        None => d.remediation.clone(),
                    },
                    markdown: md,
                },
                help_uri: d.reference.clone().filter(|u| is_absolute_uri(u)),
                default_configuration: DefaultConfiguration {
                    level: level(r.severity),
                },
                properties: DescriptorProperties {
                    tags: vec!["wabaguard".into(), d.family.clone()],
                    severity: r.severity,
                },
            }
        })
        .collect();
    let mut index: BTreeMap<String, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    let mut artifacts: Vec<Artifact> = Vec::new();
    let mut artifact_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut results = Vec::new();
    for g in groups {
        let artifact = g.artifact.map(|p| {
            let uri = path_uri(p);
            let next = artifacts.len();
            let i = *artifact_index.entry(uri.clone()).or_insert(next);
            if i == next {
                artifacts.push(Artifact {
                    location: ArtifactLocation {
                        uri: uri.clone(),
                        index: i,
                    },
                });
            }
            ArtifactLocation { uri, index: i }
        });
        for f in g.findings {
            let rule_index = *index.entry(f.rule.clone()).or_insert_with(|| {
                // A rule id the pack does not define (the gate's own reasons).
                rules.push(Descriptor {
                    id: f.rule.clone(),
                    name: camel_name(&f.rule),
                    short_description: Text {
                        text: f.check.clone(),
                    },
                    full_description: Text {
                        text: f.message.clone(),
                    },
                    help: Help {
                        text: f.remediation.clone(),
                        markdown: f.remediation.clone(),
                    },
                    help_uri: None,
                    default_configuration: DefaultConfiguration {
                        level: level(f.severity),
                    },
                    properties: DescriptorProperties {
                        tags: vec!["wabaguard".into(), f.check.clone()],
                        severity: f.severity,
                    },
                });
                rules.len() - 1
            });
            results.push(result(g, f, rule_index, artifact.clone()));
        }
    }
    Log {
        schema: SCHEMA_URI,
        version: VERSION,
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "wabaguard",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    information_uri: information_uri(),
                    rules,
                },
            },
            artifacts,
            results,
            column_kind: "unicodeCodePoints",
        }],
    }
}

/// The SARIF log of a run's report: one group per audited account, located
/// in `artifact` (the config file the accounts are defined in).
pub fn of_report(pack: &RulePack, report: &super::Report, artifact: Option<&Path>) -> Log {
    let groups: Vec<Group<'_>> = report
        .accounts
        .iter()
        .map(|a| Group {
            account: &a.name,
            artifact,
            findings: &a.findings,
        })
        .collect();
    render(pack, &groups)
}

fn information_uri() -> Option<&'static str> {
    [env!("CARGO_PKG_HOMEPAGE"), env!("CARGO_PKG_REPOSITORY")]
        .into_iter()
        .find(|u| is_absolute_uri(u))
}

fn result(
    g: &Group<'_>,
    f: &Finding,
    rule_index: usize,
    artifact: Option<ArtifactLocation>,
) -> SarifResult {
    let key = f.subject.key();
    let fq = if g.account.is_empty() {
        key.clone()
    } else {
        format!("{}/{key}", g.account)
    };
    let s = &f.subject;
    let (name, kind) = match s.kind {
        SubjectKind::Template => (
            format!(
                "{} ({})",
                s.name.as_deref().unwrap_or("?"),
                s.language.as_deref().unwrap_or("?")
            ),
            "object",
        ),
        SubjectKind::Account | SubjectKind::Waba => (
            s.name
                .clone()
                .or_else(|| s.id.clone())
                .unwrap_or_else(|| g.account.to_owned()),
            "module",
        ),
        _ => (s.label(), "object"),
    };
    let mut logical = vec![LogicalLocation {
        name,
        fully_qualified_name: fq,
        kind,
    }];
    if !g.account.is_empty() && !matches!(s.kind, SubjectKind::Account) {
        logical.push(LogicalLocation {
            name: g.account.to_owned(),
            fully_qualified_name: g.account.to_owned(),
            kind: "module",
        });
    }
    let mut message = f.message.clone();
    if let Some(ev) = &f.evidence {
        message.push_str(&format!(" (evidence: “{ev}”)"));
    }
    let suppressions = match &f.suppressed_by {
        Some(by) if f.suppressed => vec![Suppression {
            kind: "external",
            status: "accepted",
            justification: if by.triage {
                format!("triage {}", by.reason)
            } else if by.expires.is_empty() {
                by.reason.clone()
            } else {
                format!("{} (until {})", by.reason, by.expires)
            },
        }],
        _ => Vec::new(),
    };
    SarifResult {
        rule_id: f.rule.clone(),
        rule_index,
        level: level(f.severity),
        message: Text { text: message },
        locations: vec![Location {
            physical_location: artifact.map(|a| PhysicalLocation {
                artifact_location: a,
            }),
            logical_locations: logical,
        }],
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, f.fingerprint.clone())]),
        suppressions,
        properties: ResultProperties {
            severity: f.severity,
            check: f.check.clone(),
            subject: key,
            account: g.account.to_owned(),
            evidence: f.evidence.clone(),
            remediation: f.remediation.clone(),
            triage: f.triage.clone(),
        },
    }
}

/// `tpl.mkt.discount` → `TplMktDiscount` (SARIF's rule `name`).
fn camel_name(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn is_absolute_uri(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|x| matches!(x.scheme(), "http" | "https"))
}

/// A path as a SARIF artifact URI: a relative path stays relative (with `/`
/// separators and percent-encoding), an absolute one becomes `file://`.
pub fn path_uri(p: &Path) -> String {
    if p.is_absolute() {
        if let Ok(u) = url::Url::from_file_path(p) {
            return u.to_string();
        }
    }
    let s = p.to_string_lossy().replace('\\', "/");
    let s = s.strip_prefix("./").unwrap_or(&s);
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_names_and_uris() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Low), "note");
        assert_eq!(level(Severity::Info), "note");
        assert_eq!(camel_name("tpl.mkt.discount-code"), "TplMktDiscountCode");
        assert_eq!(
            path_uri(Path::new("./templates/black friday.json")),
            "templates/black%20friday.json"
        );
        assert_eq!(
            path_uri(Path::new("/tmp/a b.json")),
            "file:///tmp/a%20b.json"
        );
    }
}
