//! Reading message templates from JSON in any of the shapes users have:
//! a `message_templates` page (`{"data": [...], "paging": {...}}`), an array
//! of such pages, a bare array of templates, or one template object.
//!
//! Templates are streamed to a callback as they are parsed, so a file of a
//! million templates never has to exist twice in memory.

use std::fmt;
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use thiserror::Error;

use crate::snapshot::Template;

#[derive(Debug, Error)]
pub enum TemplateFileError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: file is empty (expected a message_templates page {{\"data\": [...]}}, an array of templates, or one template object)"
    )]
    Empty { path: String },
    #[error(
        "{path}: not valid UTF-8 at line {line}, column {column} (byte {byte}); save the export as UTF-8"
    )]
    Utf8 {
        path: String,
        line: usize,
        column: usize,
        byte: usize,
    },
    #[error("{path}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Parses `bytes` (the content of `path`) and calls `f` for every template.
/// Returns the number of templates.
pub fn parse_templates(
    path: &Path,
    bytes: &[u8],
    mut f: impl FnMut(Template),
) -> Result<usize, TemplateFileError> {
    let p = path.display().to_string();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(TemplateFileError::Empty { path: p });
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        let byte = e.valid_up_to();
        let (line, column) = line_col(bytes, byte);
        return Err(TemplateFileError::Utf8 {
            path: p,
            line,
            column,
            byte,
        });
    }
    let mut count = 0usize;
    let mut counting = |t: Template| {
        count += 1;
        f(t)
    };
    let sink: &mut dyn FnMut(Template) = &mut counting;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let res = match first_shape(bytes) {
        Shape::ArrayOfPages => de.deserialize_seq(PagesVisitor { sink }),
        Shape::ArrayOfTemplates => de.deserialize_seq(TemplatesVisitor { sink }),
        Shape::Object => de.deserialize_map(PageOrTemplateVisitor { sink }),
        Shape::Other => Err(serde::de::Error::custom(
            "expected a message_templates page {\"data\": [...]}, an array, or a template object",
        )),
    };
    let res = res.and_then(|()| de.end());
    res.map_err(|e| TemplateFileError::Json {
        path: p,
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    Ok(count)
}

/// Reads a whole file of templates into a Vec.
pub fn read_templates(path: &Path) -> Result<Vec<Template>, TemplateFileError> {
    let bytes = std::fs::read(path).map_err(|source| TemplateFileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut v = Vec::new();
    parse_templates(path, &bytes, |t| v.push(t))?;
    Ok(v)
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let col_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    (line, offset - col_start + 1)
}

enum Shape {
    ArrayOfPages,
    ArrayOfTemplates,
    Object,
    Other,
}

/// Looks at the first bytes to tell the shape: an array whose first element's
/// first key is `data` or `paging` is an array of pages.
fn first_shape(b: &[u8]) -> Shape {
    let mut i = skip_ws(b, 0);
    match b.get(i) {
        Some(b'{') => Shape::Object,
        Some(b'[') => {
            i = skip_ws(b, i + 1);
            if b.get(i) != Some(&b'{') {
                return Shape::ArrayOfTemplates;
            }
            i = skip_ws(b, i + 1);
            if b.get(i) != Some(&b'"') {
                return Shape::ArrayOfTemplates;
            }
            let rest = &b[i + 1..];
            if rest.starts_with(b"data\"") || rest.starts_with(b"paging\"") {
                Shape::ArrayOfPages
            } else {
                Shape::ArrayOfTemplates
            }
        }
        _ => Shape::Other,
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// `[template, template, ...]`
struct TemplatesVisitor<'a> {
    sink: &'a mut dyn FnMut(Template),
}

impl<'de> Visitor<'de> for TemplatesVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of message templates")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(t) = seq.next_element::<Template>()? {
            (self.sink)(t);
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for TemplatesVisitor<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

/// `[page, page, ...]`
struct PagesVisitor<'a> {
    sink: &'a mut dyn FnMut(Template),
}

impl<'de> Visitor<'de> for PagesVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of message_templates pages")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let sink = self.sink;
        while seq
            .next_element_seed(PageOrTemplateVisitor { sink: &mut *sink })?
            .is_some()
        {}
        Ok(())
    }
}

/// A page (`data` streamed, everything else skipped) or, when the object has
/// no `data` key, a single template.
struct PageOrTemplateVisitor<'a> {
    sink: &'a mut dyn FnMut(Template),
}

impl<'de> DeserializeSeed<'de> for PageOrTemplateVisitor<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageOrTemplateVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message_templates page or a template object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sink = self.sink;
        let mut other = serde_json::Map::new();
        let mut page = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "data" => {
                    page = true;
                    map.next_value_seed(TemplatesVisitor { sink: &mut *sink })?;
                }
                "paging" | "summary" => {
                    page = true;
                    map.next_value::<IgnoredAny>()?;
                }
                _ if page => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    let v: serde_json::Value = map.next_value()?;
                    other.insert(key, v);
                }
            }
        }
        if !page {
            let t: Template = serde_json::from_value(serde_json::Value::Object(other))
                .map_err(serde::de::Error::custom)?;
            sink(t);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(json: &str) -> Result<Vec<String>, TemplateFileError> {
        let mut v = Vec::new();
        parse_templates(Path::new("t.json"), json.as_bytes(), |t| v.push(t.name))?;
        Ok(v)
    }

    const T1: &str = r#"{"name":"a","language":"en_US","category":"UTILITY","components":[]}"#;
    const T2: &str = r#"{"name":"b","language":"es","category":"MARKETING"}"#;

    #[test]
    fn all_shapes_are_read() {
        assert_eq!(
            names(&format!(
                "{{\"data\":[{T1},{T2}],\"paging\":{{\"cursors\":{{}}}}}}"
            ))
            .unwrap(),
            ["a", "b"]
        );
        assert_eq!(
            names(&format!("{{\"paging\":{{}},\"data\":[{T1}]}}")).unwrap(),
            ["a"]
        );
        assert_eq!(names(&format!("[{T1},{T2}]")).unwrap(), ["a", "b"]);
        assert_eq!(names(T1).unwrap(), ["a"]);
        assert_eq!(
            names(&format!(
                "[{{\"data\":[{T1}]}},{{\"data\":[{T2}],\"paging\":{{}}}}]"
            ))
            .unwrap(),
            ["a", "b"]
        );
        assert_eq!(names("[]").unwrap(), Vec::<String>::new());
        assert_eq!(names("\u{feff}[]").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = names("{\"data\": [\n {\"name\": \"a\",}\n]}")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.json: invalid JSON at line 2, column"),
            "{err}"
        );
        let err = names("  \n ").unwrap_err().to_string();
        assert!(err.contains("file is empty"), "{err}");
        let err = names("42").unwrap_err().to_string();
        assert!(err.contains("expected a message_templates page"), "{err}");
        let err = names("[1, 2]").unwrap_err().to_string();
        assert!(err.contains("line 1, column"), "{err}");
        let err = names("[{\"name\": 5}]").unwrap_err().to_string();
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn non_utf8_is_located() {
        let mut bytes = b"[{\"name\": \"caf".to_vec();
        bytes.push(0xE9);
        bytes.extend_from_slice(b"\"}]");
        let err = parse_templates(Path::new("x.json"), &bytes, |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("not valid UTF-8 at line 1, column 15"),
            "{err}"
        );
    }
}
