//! Access tokens: loaded at collection time from the environment
//! (`token_env`) or a file (`token_file`), never from config.toml, and held in
//! a [`Secret`] whose `Debug`/`Display` print `***`, so no log line, error or
//! report can show one by accident.

use std::fmt;
use std::path::PathBuf;

use reqwest::header::HeaderValue;
use thiserror::Error;

use crate::config::{AccountConfig, Config};

/// A token. Only [`Secret::bearer_header`] and [`Secret::redact`] look inside.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(token: impl Into<String>) -> Self {
        Secret(token.into())
    }

    /// `Authorization: Bearer …`, marked sensitive so HTTP-level debug output
    /// (reqwest, hyper) never prints it.
    pub fn bearer_header(&self) -> Option<HeaderValue> {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", self.0)).ok()?;
        v.set_sensitive(true);
        Some(v)
    }

    /// Replaces every occurrence of the token in `text` by `***`. Used on
    /// anything derived from a server response before it is shown or saved
    /// (a proxy or a misbehaving server could echo the token back).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() || !text.contains(&self.0) {
            return text.to_owned();
        }
        text.replace(&self.0, "***")
    }

    /// [`Secret::redact`] on bytes.
    pub fn redact_bytes(&self, bytes: Vec<u8>) -> Vec<u8> {
        let needle = self.0.as_bytes();
        if needle.is_empty() || memchr::memmem::find(&bytes, needle).is_none() {
            return bytes;
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = &bytes[..];
        while let Some(i) = memchr::memmem::find(rest, needle) {
            out.extend_from_slice(&rest[..i]);
            out.extend_from_slice(b"***");
            rest = &rest[i + needle.len()..];
        }
        out.extend_from_slice(rest);
        out
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a token could not be loaded. Names the variable or file, never the value.
#[derive(Debug, Error)]
pub enum TokenError {
    #[error(
        "environment variable {var} (token_env) is not set or empty; export it with the account's system-user access token"
    )]
    EnvMissing { var: String },
    #[error("environment variable {var} (token_env) is not valid UTF-8")]
    EnvNotUnicode { var: String },
    #[error("cannot read token_file {path}: {source}")]
    FileRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("token_file {path} is empty")]
    FileEmpty { path: PathBuf },
    #[error("the access token contains characters not allowed in an HTTP header (check {origin})")]
    Invalid { origin: String },
    #[error("no token source configured (set token_env or token_file)")]
    NotConfigured,
}

/// Where a token comes from, for messages ("check WABAGUARD_TOKEN_ACME").
pub fn token_origin(cfg: &Config, account: &AccountConfig) -> String {
    match (&account.token_env, &account.token_file) {
        (Some(var), _) => format!("environment variable {var}"),
        (None, Some(p)) => format!("token file {}", cfg.resolve(p).display()),
        (None, None) => "the token".to_owned(),
    }
}

/// Loads the account's token from `token_env` or `token_file`.
pub fn load_token(cfg: &Config, account: &AccountConfig) -> Result<Secret, TokenError> {
    let raw = if let Some(var) = &account.token_env {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => v,
            Ok(_) | Err(std::env::VarError::NotPresent) => {
                return Err(TokenError::EnvMissing { var: var.clone() });
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(TokenError::EnvNotUnicode { var: var.clone() });
            }
        }
    } else if let Some(p) = &account.token_file {
        let path = cfg.resolve(p);
        let text = std::fs::read_to_string(&path).map_err(|source| TokenError::FileRead {
            path: path.clone(),
            source,
        })?;
        if text.trim().is_empty() {
            return Err(TokenError::FileEmpty { path });
        }
        text
    } else {
        return Err(TokenError::NotConfigured);
    };
    let token = raw.trim();
    let secret = Secret::new(token);
    if secret.bearer_header().is_none() || token.chars().any(char::is_whitespace) {
        return Err(TokenError::Invalid {
            origin: token_origin(cfg, account),
        });
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_token() {
        let s = Secret::new("EAAGm0PX4ZCpsBAKZB");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        let h = s.bearer_header().unwrap();
        assert!(h.is_sensitive());
        assert!(!format!("{h:?}").contains("EAAG"), "{h:?}");
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let s = Secret::new("tok123");
        assert_eq!(s.redact("a tok123 b tok123"), "a *** b ***");
        assert_eq!(s.redact_bytes(b"xtok123y tok123".to_vec()), b"x***y ***");
        assert_eq!(s.redact_bytes(b"clean".to_vec()), b"clean");
    }

    #[test]
    fn token_file_is_trimmed_and_empty_file_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("tok"), "abc.def\n").unwrap();
        std::fs::write(d.path().join("empty"), "\n").unwrap();
        let cfg = Config::from_toml_str(
            "[[accounts]]\nname = \"a\"\nwaba_id = \"1\"\ntoken_file = \"tok\"\n\
             [[accounts]]\nname = \"b\"\nwaba_id = \"2\"\ntoken_file = \"empty\"\n",
            &d.path().join("config.toml"),
        )
        .unwrap();
        let t = load_token(&cfg, &cfg.accounts[0]).unwrap();
        assert_eq!(t, Secret::new("abc.def"));
        let e = load_token(&cfg, &cfg.accounts[1]).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn missing_env_var_names_the_variable() {
        let cfg = Config::from_toml_str(
            "[[accounts]]\nname = \"a\"\nwaba_id = \"1\"\ntoken_env = \"WABAGUARD_TEST_SURELY_UNSET_VAR\"\n",
            std::path::Path::new("c.toml"),
        )
        .unwrap();
        let e = load_token(&cfg, &cfg.accounts[0]).unwrap_err().to_string();
        assert!(e.contains("WABAGUARD_TEST_SURELY_UNSET_VAR"), "{e}");
    }
}
