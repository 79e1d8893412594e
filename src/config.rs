//! `config.toml`: the model, loading and validation.
//!
//! Unknown keys are errors (`deny_unknown_fields`), reported with the file,
//! line and column by the TOML parser. Relative paths in the config are
//! resolved against the folder that holds the config file, so a config works
//! the same from any working directory.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::checks::Severity;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {field}: {message}")]
    Invalid {
        path: PathBuf,
        field: String,
        message: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub reports: ReportsConfig,
    #[serde(default)]
    pub rules: RulesConfig,
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// `[optin]`: defaults and thresholds for opt-in coverage.
    #[serde(default)]
    pub optin: OptinConfig,
    /// Folder holding the config file; relative paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The config file itself (for messages).
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsConfig {
    /// Output folder for `reports/<run-id>/` (relative to the config file).
    #[serde(default = "default_reports_dir")]
    pub dir: PathBuf,
    /// Mask phone numbers in manager-facing reports (`+49 ••• ••• 4567`).
    #[serde(default = "yes")]
    pub mask_phone_numbers: bool,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            dir: default_reports_dir(),
            mask_phone_numbers: true,
        }
    }
}

fn default_reports_dir() -> PathBuf {
    PathBuf::from("reports")
}

fn yes() -> bool {
    true
}

/// `[rules]`: extend, disable and re-severity the rule packs.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Extra folders of `*.toml` rule packs loaded after the built-in ones.
    #[serde(default)]
    pub extra_dirs: Vec<PathBuf>,
    /// Rule ids to switch off.
    #[serde(default)]
    pub disable: Vec<String>,
    /// `RULE_ID = "low"`.
    #[serde(default)]
    pub severity_overrides: BTreeMap<String, Severity>,
}

/// `[[accounts]]`: one WhatsApp Business Account to audit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub name: String,
    /// WABA id; optional for exports (read from `waba.json`).
    #[serde(default)]
    pub waba_id: Option<String>,
    /// Folder of saved Graph API exports (relative to the config file).
    #[serde(default)]
    pub exports: Option<PathBuf>,
    /// `[[accounts.audiences]]`: campaign audiences to check for opt-in.
    #[serde(default)]
    pub audiences: Vec<AudienceConfig>,
}

/// `[optin]`: defaults for every audience and the finding thresholds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptinConfig {
    /// Default region of national numbers (ISO 3166 code).
    #[serde(default = "default_optin_region")]
    pub region: String,
    /// An opt-in older than this many days no longer covers a number.
    #[serde(default = "default_max_age_days")]
    pub max_age_days: u32,
    /// Coverage below this is a high finding.
    #[serde(default = "default_high_below")]
    pub high_below: f64,
    /// Coverage below this is a critical finding.
    #[serde(default = "default_critical_below")]
    pub critical_below: f64,
    /// A share of invalid audience rows above this is a finding.
    #[serde(default = "default_invalid_above")]
    pub invalid_above: f64,
}

impl Default for OptinConfig {
    fn default() -> Self {
        OptinConfig {
            region: default_optin_region(),
            max_age_days: default_max_age_days(),
            high_below: default_high_below(),
            critical_below: default_critical_below(),
            invalid_above: default_invalid_above(),
        }
    }
}

impl OptinConfig {
    /// The thresholds the opt-in checks use.
    pub fn policy(&self) -> crate::checks::optin::OptinPolicy {
        crate::checks::optin::OptinPolicy {
            high_below: self.high_below,
            critical_below: self.critical_below,
            invalid_above: self.invalid_above,
        }
    }
}

fn default_optin_region() -> String {
    "US".to_owned()
}

fn default_max_age_days() -> u32 {
    365
}

fn default_high_below() -> f64 {
    0.99
}

fn default_critical_below() -> f64 {
    0.95
}

fn default_invalid_above() -> f64 {
    0.05
}

/// `[[accounts.audiences]]`: an audience CSV and the consent ledger it is
/// checked against (paths relative to the config file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceConfig {
    pub name: String,
    /// The audience CSV (one row per recipient, a phone column).
    pub file: PathBuf,
    /// The consent ledger CSV (`phone,event,timestamp,source`).
    pub consent: PathBuf,
    /// Default region of national numbers (else `[optin] region`).
    #[serde(default)]
    pub region: Option<String>,
    /// Maximum opt-in age (else `[optin] max_age_days`).
    #[serde(default)]
    pub max_age_days: Option<u32>,
    /// The phone column (else phone, phone_number, wa_id or msisdn).
    #[serde(default)]
    pub phone_column: Option<String>,
}

impl Config {
    /// Loads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml_str(&text, path)
    }

    /// Parses config text; `path` is used for messages and relative paths.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        cfg.path = path.to_owned();
        cfg.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.validate()?;
        Ok(cfg)
    }

    fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            field: field.into(),
            message: message.into(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut names = HashSet::new();
        for (i, a) in self.accounts.iter().enumerate() {
            let field = format!("accounts[{i}]");
            if a.name.trim().is_empty() {
                return Err(self.invalid(format!("{field}.name"), "must not be empty"));
            }
            if !names.insert(a.name.as_str()) {
                return Err(self.invalid(
                    format!("{field}.name"),
                    format!("account name `{}` is used twice", a.name),
                ));
            }
            if a.exports.is_none() {
                return Err(self.invalid(
                    format!("{field}.exports"),
                    format!(
                        "account `{}` has no `exports` folder; set `exports = \"DIR\"` to audit saved Graph API exports",
                        a.name
                    ),
                ));
            }
        }
        self.validate_optin()?;
        for id in self.rules.disable.iter() {
            if id.trim().is_empty() {
                return Err(self.invalid("rules.disable", "empty rule id"));
            }
        }
        Ok(())
    }

    fn validate_optin(&self) -> Result<(), ConfigError> {
        let o = &self.optin;
        let region = |field: String, r: &str| {
            crate::collect::consent::phone::parse_region(r).map_err(|m| self.invalid(field, m))
        };
        region("optin.region".into(), &o.region)?;
        if o.max_age_days == 0 {
            return Err(self.invalid("optin.max_age_days", "must be at least 1"));
        }
        for (field, v) in [
            ("optin.high_below", o.high_below),
            ("optin.critical_below", o.critical_below),
            ("optin.invalid_above", o.invalid_above),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(self.invalid(field, format!("{v} is not a share between 0 and 1")));
            }
        }
        if o.critical_below > o.high_below {
            return Err(self.invalid(
                "optin.critical_below",
                format!(
                    "{} is above high_below ({}): critical must be the lower threshold",
                    o.critical_below, o.high_below
                ),
            ));
        }
        for (i, a) in self.accounts.iter().enumerate() {
            let mut names = HashSet::new();
            for (j, aud) in a.audiences.iter().enumerate() {
                let field = format!("accounts[{i}].audiences[{j}]");
                if aud.name.trim().is_empty() {
                    return Err(self.invalid(format!("{field}.name"), "must not be empty"));
                }
                if !names.insert(aud.name.as_str()) {
                    return Err(self.invalid(
                        format!("{field}.name"),
                        format!(
                            "audience name `{}` is used twice in account `{}`",
                            aud.name, a.name
                        ),
                    ));
                }
                for (key, p) in [("file", &aud.file), ("consent", &aud.consent)] {
                    if p.as_os_str().is_empty() {
                        return Err(self.invalid(format!("{field}.{key}"), "must not be empty"));
                    }
                }
                if let Some(r) = &aud.region {
                    region(format!("{field}.region"), r)?;
                }
                if aud.max_age_days == Some(0) {
                    return Err(self.invalid(format!("{field}.max_age_days"), "must be at least 1"));
                }
                if aud
                    .phone_column
                    .as_deref()
                    .is_some_and(|c| c.trim().is_empty())
                {
                    return Err(self.invalid(format!("{field}.phone_column"), "must not be empty"));
                }
            }
        }
        Ok(())
    }

    /// Resolves a path from the config against the config file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }

    pub fn reports_dir(&self) -> PathBuf {
        self.resolve(&self.reports.dir)
    }

    pub fn account(&self, name: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_an_error_with_line_and_column() {
        let err = Config::from_toml_str(
            "[reports]\ndir = \"out\"\ncolour = true\n",
            Path::new("cfg/config.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("cfg/config.toml: "), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("column 1"), "{err}");
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn bad_severity_override_names_the_value() {
        let err = Config::from_toml_str(
            "[rules]\nseverity_overrides = { \"tpl.mkt.discount\" = \"urgent\" }\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("urgent"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn relative_paths_resolve_against_config_folder() {
        let cfg = Config::from_toml_str(
            "[[accounts]]\nname = \"a\"\nexports = \"examples/demo\"\n",
            Path::new("/etc/wabaguard/config.toml"),
        )
        .unwrap();
        assert_eq!(
            cfg.resolve(cfg.accounts[0].exports.as_deref().unwrap()),
            PathBuf::from("/etc/wabaguard/examples/demo")
        );
        assert_eq!(cfg.reports_dir(), PathBuf::from("/etc/wabaguard/reports"));
    }

    #[test]
    fn optin_section_and_audiences() {
        let cfg = Config::from_toml_str(
            "[optin]\nregion = \"br\"\nmax_age_days = 180\nhigh_below = 0.98\n\n[[accounts]]\nname = \"a\"\nexports = \"x\"\n[[accounts.audiences]]\nname = \"promo\"\nfile = \"aud/promo.csv\"\nconsent = \"aud/ledger.csv\"\nregion = \"MX\"\nphone_column = \"celular\"\n",
            Path::new("/etc/wg/config.toml"),
        )
        .unwrap();
        assert_eq!(cfg.optin.region, "br");
        assert_eq!(cfg.optin.max_age_days, 180);
        assert_eq!(cfg.optin.policy().high_below, 0.98);
        assert_eq!(cfg.optin.policy().critical_below, 0.95);
        let aud = &cfg.accounts[0].audiences[0];
        assert_eq!(
            cfg.resolve(&aud.file),
            PathBuf::from("/etc/wg/aud/promo.csv")
        );
        assert_eq!(aud.region.as_deref(), Some("MX"));
        assert_eq!(aud.max_age_days, None);
    }

    #[test]
    fn bad_optin_values_name_the_field() {
        let cases = [
            ("[optin]\nregion = \"XX\"\n", "optin.region"),
            ("[optin]\nmax_age_days = 0\n", "optin.max_age_days"),
            ("[optin]\nhigh_below = 1.5\n", "optin.high_below"),
            (
                "[optin]\nhigh_below = 0.9\ncritical_below = 0.95\n",
                "optin.critical_below",
            ),
            ("[optin]\nmax_age = 30\n", "max_age"),
            ("[optin]\nmax_age_days = -3\n", "line 2"),
            (
                "[[accounts]]\nname = \"a\"\nexports = \"x\"\n[[accounts.audiences]]\nname = \"p\"\nfile = \"a.csv\"\nconsent = \"l.csv\"\nregion = \"ZZ\"\n",
                "accounts[0].audiences[0].region",
            ),
            (
                "[[accounts]]\nname = \"a\"\nexports = \"x\"\n[[accounts.audiences]]\nname = \"p\"\nfile = \"a.csv\"\n",
                "consent",
            ),
            (
                "[[accounts]]\nname = \"a\"\nexports = \"x\"\n[[accounts.audiences]]\nname = \"p\"\nfile = \"a.csv\"\nconsent = \"l.csv\"\ncolumn = \"x\"\n",
                "column",
            ),
            (
                "[[accounts]]\nname = \"a\"\nexports = \"x\"\n[[accounts.audiences]]\nname = \"p\"\nfile = \"a.csv\"\nconsent = \"l.csv\"\n[[accounts.audiences]]\nname = \"p\"\nfile = \"b.csv\"\nconsent = \"l.csv\"\n",
                "accounts[0].audiences[1].name",
            ),
        ];
        for (toml, field) in cases {
            let err = Config::from_toml_str(toml, Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{toml:?}: {err}");
        }
    }

    #[test]
    fn duplicate_account_names_are_rejected() {
        let err = Config::from_toml_str(
            "[[accounts]]\nname = \"a\"\nexports = \"x\"\n[[accounts]]\nname = \"a\"\nexports = \"y\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("accounts[1].name"), "{err}");
    }
}
