//! Embeds every file under `rules/` into the binary (see `rulepack::EMBEDDED`),
//! so the shipped rule packs and runbooks work without the source tree.
//!
//! Also copies the phone-number metadata of the exact `rlibphonenumber`
//! version being compiled (its `metadata.bin`) into `OUT_DIR`, so the opt-in
//! fast path (`collect::consent::phonemeta`) decides validity from the very
//! same patterns the full parser uses. When it cannot be found (an unusual
//! source layout), an empty file is written and every number goes through the
//! full parser: slower, never different.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The prefilter analysis itself, so its results for the shipped packs are
/// computed here once instead of at every start (3,000+ patterns, ~0.2 s).
#[path = "src/rulepack/literals.rs"]
#[allow(dead_code)]
mod literals;

/// Separators of the prefilter cache (see `rulepack::PREFILTER_CACHE`).
const REC: char = '\u{0}';
const PAT: char = '\u{1}';
const CLAUSE: char = '\u{2}';
const GROUP: char = '\u{3}';
const LIT: char = '\u{4}';
const NONE: char = '\u{5}';

fn patterns_of(v: &toml::Value, out: &mut Vec<String>) {
    for key in ["match", "neutralize"] {
        let Some(blocks) = v.get(key).and_then(|b| b.as_array()) else {
            continue;
        };
        for b in blocks {
            if let Some(ps) = b.get("patterns").and_then(|p| p.as_array()) {
                out.extend(ps.iter().filter_map(|p| p.as_str()).map(str::to_owned));
            }
        }
    }
}

/// One record per distinct pattern of the shipped packs: the pattern, then
/// its clauses (or NONE when it has no usable literal). Patterns that fail
/// to parse, or contain a separator, are left to the runtime.
fn prefilter_cache(files: &[PathBuf]) -> String {
    let mut patterns = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "toml"))
    {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        match toml::from_str::<toml::Table>(&text) {
            Ok(t) => patterns_of(&toml::Value::Table(t), &mut patterns),
            Err(e) => println!(
                "cargo:warning={}: not analysed at build time: {}",
                f.display(),
                e.to_string().lines().next().unwrap_or("")
            ),
        }
    }
    patterns.sort();
    patterns.dedup();
    let mut out = String::new();
    for p in patterns {
        if p.contains(|c: char| c <= NONE) {
            continue;
        }
        let Ok(clauses) = literals::required_clauses(&p) else {
            continue;
        };
        out.push_str(&p);
        out.push(PAT);
        match clauses {
            None => out.push(NONE),
            Some(cs) => {
                let ok = cs
                    .iter()
                    .flatten()
                    .flatten()
                    .all(|l| !l.contains(|c: char| c <= NONE));
                if !ok {
                    out.truncate(out.len() - p.len() - PAT.len_utf8());
                    continue;
                }
                let enc: Vec<String> = cs
                    .iter()
                    .map(|groups| {
                        groups
                            .iter()
                            .map(|g| g.join(&LIT.to_string()))
                            .collect::<Vec<_>>()
                            .join(&GROUP.to_string())
                    })
                    .collect();
                out.push_str(&enc.join(&CLAUSE.to_string()));
            }
        }
        out.push(REC);
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml" || e == "md") {
            out.push(p);
        }
    }
}

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let rules = root.join("rules");
    println!("cargo:rerun-if-changed=rules");
    let mut files = Vec::new();
    collect(&rules, &mut files);
    files.sort();
    let mut toml = String::from("&[\n");
    let mut md = String::from("&[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(&rules)
            .expect("file under rules/")
            .to_string_lossy()
            .replace('\\', "/");
        let target = if rel.ends_with(".toml") {
            &mut toml
        } else {
            &mut md
        };
        writeln!(
            target,
            "    ({rel:?}, include_str!({:?})),",
            f.display().to_string()
        )
        .expect("write to string");
    }
    toml.push(']');
    md.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("embedded_rules.rs"), toml).expect("write embedded_rules.rs");
    std::fs::write(out.join("embedded_docs.rs"), md).expect("write embedded_docs.rs");
    println!("cargo:rerun-if-changed=src/rulepack/literals.rs");
    std::fs::write(out.join("prefilter_cache.txt"), prefilter_cache(&files))
        .expect("write prefilter_cache.txt");

    println!("cargo:rerun-if-changed=Cargo.lock");
    let meta = locate_phone_metadata(&root);
    let bytes = match &meta {
        Some(p) => {
            println!("cargo:rerun-if-changed={}", p.display());
            std::fs::read(p).unwrap_or_default()
        }
        None => Vec::new(),
    };
    if bytes.is_empty() {
        println!(
            "cargo:warning=rlibphonenumber metadata.bin not found: the opt-in phone fast path is disabled (results are unchanged, only slower)"
        );
    }
    std::fs::write(out.join("phone_metadata.bin"), bytes).expect("write phone_metadata.bin");
}

/// Finds `src/generated/metadata/metadata.bin` of the `rlibphonenumber`
/// package in this build, asking `cargo metadata` where its sources are
/// (this follows vendoring and source replacement).
fn locate_phone_metadata(root: &Path) -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        // Only the target being built: without this, cargo metadata wants
        // every platform's dependencies (android_system_properties, ...),
        // which an offline fresh machine never downloaded.
        .args(
            std::env::var("TARGET")
                .ok()
                .map(|t| ["--filter-platform".to_owned(), t])
                .into_iter()
                .flatten(),
        )
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let json = String::from_utf8_lossy(&out.stdout);
    // Every package object carries `"manifest_path":"..."`; no JSON parser is
    // needed to pick out the one of rlibphonenumber.
    let key = "\"manifest_path\":\"";
    let mut rest = json.as_ref();
    while let Some(i) = rest.find(key) {
        rest = &rest[i + key.len()..];
        let end = rest.find('"')?;
        let path = rest[..end].replace("\\\\", "\\");
        rest = &rest[end..];
        let manifest = PathBuf::from(&path);
        let dir = manifest.parent()?;
        let name = dir.file_name()?.to_string_lossy();
        let is_crate = name == "rlibphonenumber"
            || name
                .strip_prefix("rlibphonenumber-")
                .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()));
        if is_crate {
            let bin = dir.join("src/generated/metadata/metadata.bin");
            if bin.is_file() {
                return Some(bin);
            }
        }
    }
    None
}
