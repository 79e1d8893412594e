//! The exports source: a folder of saved Graph API responses.
//!
//! Layout (every file in the Graph API's own JSON shape; see
//! `examples/demo/README.md`):
//!
//! | file | Graph API call | required |
//! |---|---|---|
//! | `waba.json` | `GET /{waba-id}?fields=...` | no (noted) |
//! | `message_templates.json` or `message_templates/*.json` | `GET /{waba-id}/message_templates` (one page, an array of pages, or a bare array) | no (noted) |
//! | `phone_numbers.json` | `GET /{waba-id}/phone_numbers` | no (noted) |
//! | `business_profile/<phone-number-id>.json` or `business_profile.json` keyed by id | `GET /{id}/whatsapp_business_profile` | no (noted per number) |
//! | `events.jsonl` | webhook POST bodies, one envelope per line (see `events`) | no (noted) |
//!
//! A missing optional file becomes a note on the snapshot; a malformed file is
//! an error naming the file and the JSON line/column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::CollectError;
use super::template_file::{TemplateFileError, parse_templates};
use crate::snapshot::{BusinessProfile, PhoneNumber, Snapshot, SourceKind, Waba};

/// Reads an exports folder into a Snapshot.
pub fn collect(account: &str, waba_id: Option<&str>, dir: &Path) -> Result<Snapshot, CollectError> {
    if !dir.is_dir() {
        return Err(CollectError::MissingExports {
            account: account.to_owned(),
            path: dir.to_owned(),
        });
    }
    let mut snap = Snapshot {
        account: account.to_owned(),
        source: SourceKind::Exports,
        ..Snapshot::default()
    };

    let waba_path = dir.join("waba.json");
    if waba_path.exists() {
        snap.waba = Some(read_json::<Waba>(&waba_path)?);
    } else {
        snap.note_info(format!(
            "{} not found: WABA review, verification and health status were not checked",
            waba_path.display()
        ));
    }
    snap.waba_id = waba_id
        .map(str::to_owned)
        .or_else(|| snap.waba.as_ref().and_then(|w| w.id.clone()))
        .unwrap_or_default();
    if let (Some(cfg), Some(file)) = (waba_id, snap.waba.as_ref().and_then(|w| w.id.as_deref())) {
        if cfg != file {
            snap.note_warning(format!(
                "{}: id {file} differs from the configured waba_id {cfg}",
                waba_path.display()
            ));
        }
    }

    read_templates_into(dir, &mut snap)?;

    let numbers_path = dir.join("phone_numbers.json");
    if numbers_path.exists() {
        snap.phone_numbers = read_pages::<PhoneNumber>(&numbers_path)?;
    } else {
        snap.note_info(format!(
            "{} not found: phone number quality, status and limits were not checked",
            numbers_path.display()
        ));
    }

    read_profiles_into(dir, &mut snap)?;
    super::events::read_events_into(dir, &mut snap)?;
    Ok(snap)
}

fn read_templates_into(dir: &Path, snap: &mut Snapshot) -> Result<(), CollectError> {
    let file = dir.join("message_templates.json");
    let folder = dir.join("message_templates");
    let mut files: Vec<PathBuf> = Vec::new();
    if file.is_file() {
        files.push(file.clone());
    }
    if folder.is_dir() {
        let mut pages: Vec<PathBuf> = std::fs::read_dir(&folder)
            .map_err(|source| CollectError::Io {
                path: folder.clone(),
                source,
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        pages.sort();
        files.extend(pages);
    }
    if files.is_empty() {
        snap.note_warning(format!(
            "{} not found: no templates were checked",
            file.display()
        ));
        return Ok(());
    }
    for f in files {
        let bytes = std::fs::read(&f).map_err(|source| CollectError::Io {
            path: f.clone(),
            source,
        })?;
        parse_templates(&f, &bytes, |t| snap.templates.push(t)).map_err(template_err)?;
    }
    Ok(())
}

fn template_err(e: TemplateFileError) -> CollectError {
    CollectError::Templates(e)
}

fn read_profiles_into(dir: &Path, snap: &mut Snapshot) -> Result<(), CollectError> {
    let folder = dir.join("business_profile");
    let keyed = dir.join("business_profile.json");
    let mut by_id: BTreeMap<String, BusinessProfile> = BTreeMap::new();
    if keyed.is_file() {
        let m: BTreeMap<String, serde_json::Value> = read_json(&keyed)?;
        for (id, v) in m {
            let prof = profile_from_value(&keyed, v)?;
            if let Some(p) = prof {
                by_id.insert(id, p);
            }
        }
    }
    let ids: Vec<String> = snap
        .phone_numbers
        .iter()
        .filter_map(|n| n.id.clone())
        .collect();
    if folder.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&folder)
            .map_err(|source| CollectError::Io {
                path: folder.clone(),
                source,
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        entries.sort();
        for p in entries {
            let id = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let v: serde_json::Value = read_json(&p)?;
            if let Some(prof) = profile_from_value(&p, v)? {
                by_id.insert(id, prof);
            }
        }
    }
    for id in &ids {
        if !by_id.contains_key(id) {
            snap.note_info(format!(
                "no business profile export for phone number {id} ({}/{id}.json): profile completeness not checked for it",
                folder.display()
            ));
        }
    }
    snap.profiles = by_id;
    Ok(())
}

/// A profile file holds the Graph response `{"data": [profile]}` or the bare profile.
fn profile_from_value(
    path: &Path,
    v: serde_json::Value,
) -> Result<Option<BusinessProfile>, CollectError> {
    profile_from_response(v).map_err(|e| CollectError::Json {
        path: path.to_owned(),
        line: 0,
        column: 0,
        message: e.to_string(),
    })
}

/// Interprets a `whatsapp_business_profile` response (`{"data": [profile]}`,
/// or a bare profile): the first entry, `None` when `data` is empty. Shared
/// with the Graph source so both read a profile the same way.
pub(crate) fn profile_from_response(
    v: serde_json::Value,
) -> Result<Option<BusinessProfile>, serde_json::Error> {
    let inner = match v {
        serde_json::Value::Object(ref m) if m.contains_key("data") => match m.get("data") {
            Some(serde_json::Value::Array(a)) => a.first().cloned(),
            _ => None,
        },
        other => Some(other),
    };
    inner.map(serde_json::from_value).transpose()
}

/// Reads a file in a Graph list shape: a page, an array of pages, or a bare array.
fn read_pages<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, CollectError> {
    let v: serde_json::Value = read_json(path)?;
    let as_t = |v: serde_json::Value| -> Result<Vec<T>, CollectError> {
        serde_json::from_value::<Vec<T>>(v).map_err(|e| CollectError::Json {
            path: path.to_owned(),
            line: 0,
            column: 0,
            message: e.to_string(),
        })
    };
    match v {
        serde_json::Value::Object(mut m) => match m.remove("data") {
            Some(d) => as_t(d),
            None => Err(CollectError::Json {
                path: path.to_owned(),
                line: 0,
                column: 0,
                message: "expected a Graph API list page {\"data\": [...]}".into(),
            }),
        },
        serde_json::Value::Array(items) => {
            let pages = items
                .iter()
                .all(|i| i.as_object().is_some_and(|o| o.contains_key("data")));
            if pages && !items.is_empty() {
                let mut out = Vec::new();
                for mut p in items {
                    if let Some(d) = p.as_object_mut().and_then(|o| o.remove("data")) {
                        out.extend(as_t(d)?);
                    }
                }
                Ok(out)
            } else {
                as_t(serde_json::Value::Array(items))
            }
        }
        _ => Err(CollectError::Json {
            path: path.to_owned(),
            line: 0,
            column: 0,
            message: "expected a Graph API list page {\"data\": [...]}".into(),
        }),
    }
}

/// Reads a JSON file with located errors.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, CollectError> {
    let bytes = std::fs::read(path).map_err(|source| CollectError::Io {
        path: path.to_owned(),
        source,
    })?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CollectError::Json {
            path: path.to_owned(),
            line: 1,
            column: 1,
            message: "file is empty".into(),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| CollectError::Json {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: {
            let s = e.to_string();
            match s.rfind(" at line ") {
                Some(i) => s[..i].to_owned(),
                None => s,
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, content: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    #[test]
    fn reads_a_minimal_folder_and_notes_gaps() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "waba.json",
            r#"{"id": "1022", "name": "Acme", "account_review_status": "APPROVED"}"#,
        );
        write(
            d.path(),
            "message_templates.json",
            r#"[{"data": [{"name": "a", "language": "en_US"}], "paging": {"next": "x"}}, {"data": [{"name": "b", "language": "es"}]}]"#,
        );
        write(
            d.path(),
            "phone_numbers.json",
            r#"{"data": [{"id": "1", "quality_rating": "GREEN"}, {"id": "2", "quality_rating": "PURPLE"}]}"#,
        );
        write(
            d.path(),
            "business_profile/1.json",
            r#"{"data": [{"about": "hi", "websites": ["https://a.example"]}]}"#,
        );
        let s = collect("acme", None, d.path()).unwrap();
        assert_eq!(s.waba_id, "1022");
        assert_eq!(s.templates.len(), 2);
        assert_eq!(s.phone_numbers[1].quality_rating.as_deref(), Some("PURPLE"));
        assert_eq!(s.profiles["1"].websites, ["https://a.example"]);
        assert!(s.notes.iter().any(|n| n.message.contains("phone number 2")));
    }

    #[test]
    fn malformed_file_names_path_line_and_column() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "waba.json",
            "{\n  \"id\": \"1\",\n  \"name\": \n}",
        );
        let err = collect("acme", None, d.path()).unwrap_err().to_string();
        assert!(err.contains("waba.json"), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn missing_folder_is_a_clear_error() {
        let err = collect("acme", None, Path::new("/nonexistent/exports"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("acme"), "{err}");
        assert!(err.contains("/nonexistent/exports"), "{err}");
    }
}
