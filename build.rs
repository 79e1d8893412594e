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
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--locked",
            "--manifest-path",
        ])
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
