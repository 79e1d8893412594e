//! Embeds every file under `rules/` into the binary (see `rulepack::EMBEDDED`),
//! so the shipped rule packs and runbooks work without the source tree.

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
}
