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
    /// `[graph]`: the live Graph API client (accounts without `exports`).
    #[serde(default)]
    pub graph: GraphConfig,
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// `[optin]`: defaults and thresholds for opt-in coverage.
    #[serde(default)]
    pub optin: OptinConfig,
    /// `[daemon]`: the schedule of `wabaguard daemon`.
    #[serde(default)]
    pub daemon: DaemonConfig,
    /// `[suppressions]`: where accepted findings are listed.
    #[serde(default)]
    pub suppressions: SuppressionsConfig,
    /// `[gate]`: defaults of `wabaguard gate`.
    #[serde(default)]
    pub gate: GateConfig,
    /// `[[notify]]`: webhooks told about new serious findings.
    #[serde(default)]
    pub notify: Vec<NotifyConfig>,
    /// `[server]`: the daemon's webhook receiver, health and metrics endpoints.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[templates]`: the template register, recategorisation costs and deadlines.
    #[serde(default)]
    pub templates: TemplatesConfig,
    /// `[optout]`: opt-out detection in inbound replies.
    #[serde(default)]
    pub optout: OptoutConfig,
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
    /// How many run folders to keep; older ones are deleted after each run
    /// (never the newest, never one still being written).
    #[serde(default = "default_keep_runs")]
    pub keep_runs: usize,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            dir: default_reports_dir(),
            mask_phone_numbers: true,
            keep_runs: default_keep_runs(),
        }
    }
}

fn default_keep_runs() -> usize {
    90
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
    /// Without it the account is collected live from the Graph API.
    #[serde(default)]
    pub exports: Option<PathBuf>,
    /// Graph accounts: phone number ids to audit; empty = every number of the WABA.
    #[serde(default)]
    pub phone_number_ids: Vec<String>,
    /// Graph accounts: name of the environment variable holding the access token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Graph accounts: file holding the access token (relative to the config file).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// A literal `token = "..."` is accepted by the parser only to be rejected
    /// with a clear message (tokens never belong in config.toml); its value is
    /// never printed.
    #[serde(default, rename = "token")]
    pub literal_token: Option<RejectedSecret>,
    /// The business's own send log (CSV or JSON Lines; relative to the config
    /// file): `timestamp`, `phone_number_id`, `status`, `error_code`.
    #[serde(default)]
    pub send_log: Option<PathBuf>,
    /// `[accounts.two_step]`: where the two-step verification PIN is kept.
    #[serde(default)]
    pub two_step: Option<TwoStepConfig>,
    /// `[[accounts.audiences]]`: campaign audiences to check for opt-in.
    #[serde(default)]
    pub audiences: Vec<AudienceConfig>,
    /// Destination country (ISO 3166 alpha-2) of sends whose country the
    /// send log does not give (else `[templates] default_country`, else
    /// `[optin] region`); used to price recategorisations.
    #[serde(default)]
    pub country: Option<String>,
    /// Inbound-messages export (webhook JSONL or CSV): opt-out replies in it,
    /// and 131050 errors in `send_log`, are checked against the consent
    /// ledgers of the account's audiences.
    #[serde(default)]
    pub inbound: Option<PathBuf>,
}

impl AccountConfig {
    /// Whether the account is collected live from the Graph API (no `exports`).
    pub fn is_graph(&self) -> bool {
        self.exports.is_none()
    }
}

/// Swallows a value that must not be in the config (a literal token) without
/// keeping it, so neither `Debug` nor an error message can show it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RejectedSecret;

impl std::fmt::Debug for RejectedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for RejectedSecret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(RejectedSecret)
    }
}

/// `[templates]`: the template register's findings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatesConfig {
    /// Days after a recategorisation during which Meta accepts a review request.
    #[serde(default = "default_review_window")]
    pub review_window_days: u32,
    /// Days of send log a template's volume is measured over (scaled to a month).
    #[serde(default = "default_volume_days")]
    pub volume_days: u32,
    /// Folder of rate cards (`*.toml`) added to the built-in ones
    /// (rules/rates/); a card replaces a built-in one with the same
    /// `effective_from`.
    #[serde(default)]
    pub rates_dir: Option<PathBuf>,
    /// Destination country of sends whose country is not known (else `[optin] region`).
    #[serde(default)]
    pub default_country: Option<String>,
}

impl Default for TemplatesConfig {
    fn default() -> Self {
        TemplatesConfig {
            review_window_days: default_review_window(),
            volume_days: default_volume_days(),
            rates_dir: None,
            default_country: None,
        }
    }
}

fn default_review_window() -> u32 {
    60
}

fn default_volume_days() -> u32 {
    30
}

/// `[graph]`: how the live Graph API is reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphConfig {
    /// Scheme and host (and port) of the Graph API; overridable for proxies and tests.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// API version path segment (`v21.0`).
    #[serde(default = "default_version")]
    pub version: String,
    /// Per-request timeout in seconds (fractions allowed).
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    /// Requests in flight across all accounts.
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    /// Retries per request after the first attempt (transient errors and throttling).
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// First retry delay in milliseconds; doubles per attempt, with jitter.
    #[serde(default = "default_backoff_base")]
    pub backoff_base_ms: u64,
    /// Upper bound of one computed backoff delay, in milliseconds.
    #[serde(default = "default_backoff_max")]
    pub backoff_max_ms: u64,
    /// Longest wait wabaguard accepts from `Retry-After` or
    /// `estimated_time_to_regain_access` before giving up on the request.
    #[serde(default = "default_max_wait")]
    pub max_wait_secs: u64,
    /// Page size (`limit`) for list edges.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            base_url: default_base_url(),
            version: default_version(),
            timeout_secs: default_timeout(),
            max_concurrency: default_concurrency(),
            max_retries: default_retries(),
            backoff_base_ms: default_backoff_base(),
            backoff_max_ms: default_backoff_max(),
            max_wait_secs: default_max_wait(),
            page_size: default_page_size(),
        }
    }
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

fn default_base_url() -> String {
    "https://graph.facebook.com".into()
}
fn default_version() -> String {
    "v21.0".into()
}
fn default_timeout() -> f64 {
    30.0
}
fn default_concurrency() -> usize {
    8
}
fn default_retries() -> u32 {
    5
}
fn default_backoff_base() -> u64 {
    500
}
fn default_backoff_max() -> u64 {
    30_000
}
fn default_max_wait() -> u64 {
    600
}
fn default_page_size() -> u32 {
    100
}

/// `[accounts.two_step]`: *where* the PIN is kept and when it changed — never
/// the PIN itself. wabaguard never reads the secret behind `pin_secret`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TwoStepConfig {
    /// `env:NAME`, `vault:path`, `aws-sm:name`, `gcp-sm:name`, `azure-kv:name`,
    /// `op:item` (1Password) or `keychain:name`.
    #[serde(default)]
    pub pin_secret: Option<String>,
    /// Date the PIN was last changed (`2026-03-01`).
    #[serde(default, deserialize_with = "de_opt_date")]
    pub last_rotated: Option<chrono::NaiveDate>,
    /// Date the number(s) were last registered or re-registered.
    #[serde(default, deserialize_with = "de_opt_date")]
    pub registered_at: Option<chrono::NaiveDate>,
}

/// Secret-store schemes accepted in `pin_secret`.
pub const PIN_SECRET_SCHEMES: [&str; 7] = [
    "env", "vault", "aws-sm", "gcp-sm", "azure-kv", "op", "keychain",
];

/// A TOML date (`2026-03-01`), a datetime, or a string holding either.
fn de_opt_date<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<chrono::NaiveDate>, D::Error> {
    use serde::de::Error;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum D2 {
        Toml(toml::value::Datetime),
        Str(String),
    }
    let text = match Option::<D2>::deserialize(d)? {
        None => return Ok(None),
        Some(D2::Toml(t)) => t.to_string(),
        Some(D2::Str(s)) => s,
    };
    let day = text.get(..10).unwrap_or(&text);
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| D::Error::custom(format!("`{text}` is not a date (YYYY-MM-DD)")))
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

/// `[optout]`: opt-out detection in inbound replies.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OptoutConfig {
    /// Quick-reply payloads (or interactive button ids) that mean opt-out,
    /// in addition to the rule pack's `optout.button-payload` list.
    #[serde(default)]
    pub payloads: Vec<String>,
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
            self.validate_account_source(&field, a)?;
        }
        self.validate_graph()?;
        for (i, a) in self.accounts.iter().enumerate() {
            if let Some(secret) = a.two_step.as_ref().and_then(|t| t.pin_secret.as_deref()) {
                validate_pin_secret(secret)
                    .map_err(|m| self.invalid(format!("accounts[{i}].two_step.pin_secret"), m))?;
            }
        }
        self.validate_optin()?;
        for id in self.rules.disable.iter() {
            if id.trim().is_empty() {
                return Err(self.invalid("rules.disable", "empty rule id"));
            }
        }
        self.validate_ops()?;
        self.validate_server()?;
        Ok(())
    }

    fn validate_server(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if let Some(l) = &s.listen {
            parse_listen(l).map_err(|m| self.invalid("server.listen", m))?;
        }
        for (field, var) in [
            ("server.app_secret_env", &s.app_secret_env),
            ("server.verify_token_env", &s.verify_token_env),
        ] {
            if var.trim().is_empty() || var.contains('=') || var.contains('\0') {
                return Err(self.invalid(
                    field,
                    format!("`{var}` is not an environment variable name"),
                ));
            }
        }
        if s.app_secret_env == s.verify_token_env {
            return Err(self.invalid(
                "server.verify_token_env",
                "must name a different variable than server.app_secret_env (the verify token and the app secret are different secrets)",
            ));
        }
        if !(1024..=64 * 1024 * 1024).contains(&s.max_body_bytes) {
            return Err(self.invalid(
                "server.max_body_bytes",
                format!(
                    "{} is outside 1024..=67108864 (1 KiB to 64 MiB)",
                    s.max_body_bytes
                ),
            ));
        }
        if s.queue_capacity == 0 {
            return Err(self.invalid("server.queue_capacity", "must be at least 1"));
        }
        if s.segment_bytes < 4096 {
            return Err(self.invalid("server.segment_bytes", "must be at least 4096"));
        }
        if s.dedupe_capacity == 0 {
            return Err(self.invalid("server.dedupe_capacity", "must be at least 1"));
        }
        self.validate_templates()?;
        Ok(())
    }

    fn validate_templates(&self) -> Result<(), ConfigError> {
        let t = &self.templates;
        if t.review_window_days == 0 {
            return Err(self.invalid("templates.review_window_days", "must be at least 1"));
        }
        if !(1..=366).contains(&t.volume_days) {
            return Err(self.invalid(
                "templates.volume_days",
                format!("{} is not between 1 and 366 days", t.volume_days),
            ));
        }
        let country = |field: String, c: &str| {
            if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
                Ok(())
            } else {
                Err(self.invalid(
                    field,
                    format!("`{c}` is not a two-letter country code (ISO 3166), e.g. \"BR\""),
                ))
            }
        };
        if let Some(c) = &t.default_country {
            country("templates.default_country".into(), c)?;
        }
        for (i, a) in self.accounts.iter().enumerate() {
            if let Some(c) = &a.country {
                country(format!("accounts[{i}].country"), c)?;
            }
        }
        self.rate_cards()
            .map_err(|e| self.invalid("templates.rates_dir", e.to_string()))?;
        Ok(())
    }

    /// The rate cards: the built-in ones plus `[templates] rates_dir`.
    pub fn rate_cards(&self) -> Result<crate::rates::RateCards, crate::rates::RateCardError> {
        let dir = self.templates.rates_dir.as_deref().map(|p| self.resolve(p));
        crate::rates::RateCards::load(dir.as_deref())
    }

    /// The register checks' settings for one account.
    pub fn template_policy(
        &self,
        account: &AccountConfig,
        cards: crate::rates::RateCards,
    ) -> crate::checks::register::TemplatePolicy {
        crate::checks::register::TemplatePolicy {
            review_window_days: self.templates.review_window_days,
            volume_days: self.templates.volume_days,
            default_country: account
                .country
                .clone()
                .or_else(|| self.templates.default_country.clone())
                .unwrap_or_else(|| self.optin.region.clone())
                .to_ascii_uppercase(),
            cards,
        }
    }

    fn validate_ops(&self) -> Result<(), ConfigError> {
        if self.reports.keep_runs == 0 {
            return Err(self.invalid(
                "reports.keep_runs",
                "must be at least 1 (the newest run is always kept)",
            ));
        }
        let g = &self.gate;
        if !(g.min_coverage.is_finite() && (0.0..=1.0).contains(&g.min_coverage)) {
            return Err(self.invalid(
                "gate.min_coverage",
                format!("{} is not a share between 0 and 1", g.min_coverage),
            ));
        }
        if g.max_snapshot_age.secs() == 0 {
            return Err(self.invalid("gate.max_snapshot_age", "must be longer than 0s"));
        }
        for (i, n) in self.notify.iter().enumerate() {
            let field = format!("notify[{i}]");
            match (&n.url, &n.url_env) {
                (Some(_), Some(_)) => {
                    return Err(self.invalid(
                        format!("{field}.url_env"),
                        "set either `url` or `url_env`, not both",
                    ));
                }
                (None, None) => {
                    return Err(self.invalid(
                        format!("{field}.url"),
                        "a webhook needs `url = \"https://...\"` or `url_env = \"NAME\"` (an environment variable holding the URL)",
                    ));
                }
                (Some(_), None) => {
                    // Never echo the URL: it may hold a secret.
                    n.resolve_url()
                        .map_err(|m| self.invalid(format!("{field}.url"), m))?;
                }
                (None, Some(var)) => {
                    if var.trim().is_empty() || var.contains('=') || var.contains('\0') {
                        return Err(self.invalid(
                            format!("{field}.url_env"),
                            format!("`{var}` is not an environment variable name"),
                        ));
                    }
                }
            }
            if !(n.timeout_secs.is_finite() && n.timeout_secs > 0.0) {
                return Err(self.invalid(
                    format!("{field}.timeout_secs"),
                    "must be a positive number of seconds",
                ));
            }
        }
        Ok(())
    }

    fn validate_account_source(&self, field: &str, a: &AccountConfig) -> Result<(), ConfigError> {
        if a.literal_token.is_some() {
            return Err(self.invalid(
                format!("{field}.token"),
                format!(
                    "account `{}`: a token must never be written in config.toml; put it in an environment variable and set `token_env = \"NAME\"`, or in a file readable only by you and set `token_file = \"PATH\"`",
                    a.name
                ),
            ));
        }
        if a.token_env.is_some() && a.token_file.is_some() {
            return Err(self.invalid(
                format!("{field}.token_file"),
                format!(
                    "account `{}`: set either `token_env` or `token_file`, not both",
                    a.name
                ),
            ));
        }
        if let Some(var) = &a.token_env {
            if var.trim().is_empty() || var.contains('=') || var.contains('\0') {
                return Err(self.invalid(
                    format!("{field}.token_env"),
                    format!(
                        "account `{}`: `{var}` is not an environment variable name",
                        a.name
                    ),
                ));
            }
        }
        if !a.is_graph() {
            return Ok(());
        }
        // Without `exports` the account is collected live from the Graph API.
        if a.waba_id.as_deref().is_none_or(|w| w.trim().is_empty()) {
            return Err(self.invalid(
                format!("{field}.waba_id"),
                format!(
                    "account `{}` has no `exports` folder, so it is collected live from the Graph API and needs `waba_id = \"...\"` (or set `exports = \"DIR\"` to audit saved exports)",
                    a.name
                ),
            ));
        }
        let is_id = |id: &str| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit());
        if let Some(w) = a.waba_id.as_deref().filter(|w| !is_id(w)) {
            return Err(self.invalid(
                format!("{field}.waba_id"),
                format!(
                    "account `{}`: `{w}` is not a Graph id (digits only)",
                    a.name
                ),
            ));
        }
        if let Some(p) = a.phone_number_ids.iter().find(|p| !is_id(p)) {
            return Err(self.invalid(
                format!("{field}.phone_number_ids"),
                format!(
                    "account `{}`: `{p}` is not a phone number id (digits only)",
                    a.name
                ),
            ));
        }
        if a.token_env.is_none() && a.token_file.is_none() {
            return Err(self.invalid(
                format!("{field}.token_env"),
                format!(
                    "account `{}` is collected live from the Graph API and needs an access token: set `token_env = \"NAME\"` (an environment variable) or `token_file = \"PATH\"`",
                    a.name
                ),
            ));
        }
        Ok(())
    }

    fn validate_graph(&self) -> Result<(), ConfigError> {
        let g = &self.graph;
        match url::Url::parse(&g.base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                if u.query().is_some() || !u.path().trim_end_matches('/').is_empty() {
                    return Err(self.invalid(
                        "graph.base_url",
                        format!(
                            "`{}`: give only scheme and host, e.g. https://graph.facebook.com",
                            g.base_url
                        ),
                    ));
                }
            }
            _ => {
                return Err(self.invalid(
                    "graph.base_url",
                    format!("`{}` is not an http(s) URL", g.base_url),
                ));
            }
        }
        let v = g.version.trim();
        if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            return Err(self.invalid(
                "graph.version",
                format!("`{}` is not an API version such as `v21.0`", g.version),
            ));
        }
        if !(g.timeout_secs.is_finite() && g.timeout_secs > 0.0) {
            return Err(self.invalid("graph.timeout_secs", "must be a positive number of seconds"));
        }
        if g.max_concurrency == 0 {
            return Err(self.invalid("graph.max_concurrency", "must be at least 1"));
        }
        if g.page_size == 0 {
            return Err(self.invalid("graph.page_size", "must be at least 1"));
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
        for (i, p) in self.optout.payloads.iter().enumerate() {
            if p.trim().is_empty() {
                return Err(self.invalid(format!("optout.payloads[{i}]"), "must not be empty"));
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
            if let Some(p) = &a.inbound {
                if p.as_os_str().is_empty() {
                    return Err(self.invalid(format!("accounts[{i}].inbound"), "must not be empty"));
                }
                if a.audiences.is_empty() {
                    return Err(self.invalid(
                        format!("accounts[{i}].inbound"),
                        "opt-out replies are checked against the consent ledgers of the account's audiences: add an [[accounts.audiences]] entry with `consent = \"...\"`",
                    ));
                }
            }
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
        if p.is_absolute() || self.base_dir == Path::new(".") {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }

    pub fn reports_dir(&self) -> PathBuf {
        self.resolve(&self.reports.dir)
    }

    /// The suppressions file, resolved against the config file's folder.
    pub fn suppressions_file(&self) -> Option<PathBuf> {
        self.suppressions.file.as_deref().map(|p| self.resolve(p))
    }

    /// The triage file (`wabaguard triage`): `[suppressions] triage_file`,
    /// else `triage.toml` beside the suppressions file, else beside the
    /// config file.
    pub fn triage_file(&self) -> PathBuf {
        if let Some(p) = &self.suppressions.triage_file {
            return self.resolve(p);
        }
        match self.suppressions_file() {
            Some(s) => s.with_file_name("triage.toml"),
            None => self.resolve(Path::new("triage.toml")),
        }
    }

    pub fn account(&self, name: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.name == name)
    }
}

// ---- [daemon], [suppressions], [gate], [[notify]] ------------------------------

/// A duration written as a number and a unit: `500ms`, `90s`, `15m`, `24h`, `7d`
/// (a bare integer is seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub std::time::Duration);

impl HumanDuration {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let bad = || format!("`{s}` is not a duration such as 500ms, 90s, 15m, 24h or 7d");
        let n: u64 = num.parse().map_err(|_| bad())?;
        let ms = match unit.trim() {
            "ms" => Some(n),
            "" | "s" => n.checked_mul(1000),
            "m" => n.checked_mul(60_000),
            "h" => n.checked_mul(3_600_000),
            "d" => n.checked_mul(86_400_000),
            _ => None,
        }
        .ok_or_else(bad)?;
        Ok(HumanDuration(std::time::Duration::from_millis(ms)))
    }

    pub fn secs(self) -> u64 {
        self.0.as_secs()
    }
}

impl std::fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0.as_secs();
        if self.0.subsec_millis() != 0 {
            write!(f, "{}ms", self.0.as_millis())
        } else if s > 0 && s % 86_400 == 0 {
            write!(f, "{}d", s / 86_400)
        } else if s > 0 && s % 3600 == 0 {
            write!(f, "{}h", s / 3600)
        } else if s > 0 && s % 60 == 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => Ok(HumanDuration(std::time::Duration::from_secs(n))),
            Raw::Text(s) => HumanDuration::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// `[daemon]`: when `wabaguard daemon` audits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// Six-field cron expression with seconds: `sec min hour day-of-month
    /// month day-of-week` (see `daemon::schedule`).
    #[serde(default = "default_schedule", deserialize_with = "de_cron")]
    pub schedule: String,
    /// IANA time zone the schedule is read in (DST-correct).
    #[serde(default = "default_tz", deserialize_with = "de_tz")]
    pub timezone: chrono_tz::Tz,
    /// Run once right after start-up, before the first scheduled time.
    #[serde(default)]
    pub run_on_start: bool,
    /// On SIGTERM/SIGINT, how long a run in progress may take to finish.
    #[serde(default = "default_grace")]
    pub shutdown_grace: HumanDuration,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            schedule: default_schedule(),
            timezone: default_tz(),
            run_on_start: false,
            shutdown_grace: default_grace(),
        }
    }
}

fn default_schedule() -> String {
    "0 0 2 * * *".into()
}
fn default_tz() -> chrono_tz::Tz {
    chrono_tz::Tz::UTC
}
fn default_grace() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(600))
}

fn de_cron<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    crate::daemon::schedule::parse_cron(&s).map_err(serde::de::Error::custom)?;
    Ok(s)
}

fn de_tz<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono_tz::Tz, D::Error> {
    let s = String::deserialize(d)?;
    crate::daemon::schedule::parse_tz(&s).map_err(serde::de::Error::custom)
}

/// `[server]`: the webhook receiver and the health/metrics endpoints of
/// `wabaguard daemon` (off unless `listen` or `--listen` is given).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `host:port` to listen on, e.g. `127.0.0.1:8080`.
    #[serde(default)]
    pub listen: Option<String>,
    /// Environment variable holding the Meta app secret (signs every POST).
    #[serde(default = "default_app_secret_env")]
    pub app_secret_env: String,
    /// Environment variable holding the verify token of the handshake.
    #[serde(default = "default_verify_token_env")]
    pub verify_token_env: String,
    /// Larger webhook bodies are refused with 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Webhook deliveries waiting for the store writer; when full, 503.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// When to answer 200: once the change is queued for the writer
    /// (`queued`, the default: processing off the request path), or after it
    /// is fsync'd (`durable`: slower, nothing acknowledged is ever lost).
    #[serde(default)]
    pub ack: AckMode,
    /// An events store segment larger than this is closed and a new one started.
    #[serde(default = "default_segment_bytes")]
    pub segment_bytes: u64,
    /// How many recent changes are remembered (per process) to drop replays.
    #[serde(default = "default_dedupe_capacity")]
    pub dedupe_capacity: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: None,
            app_secret_env: default_app_secret_env(),
            verify_token_env: default_verify_token_env(),
            max_body_bytes: default_max_body(),
            queue_capacity: default_queue_capacity(),
            ack: AckMode::default(),
            segment_bytes: default_segment_bytes(),
            dedupe_capacity: default_dedupe_capacity(),
        }
    }
}

/// When a webhook POST is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AckMode {
    /// 200 only once the change is on disk (fsync'd): a disk stall shows
    /// in Meta's delivery latency.
    Durable,
    /// 200 once queued for the writer, which appends and fsyncs off the
    /// request path (the default). Only a crash between the answer and the
    /// fsync (milliseconds) can lose a change that Meta will not resend.
    #[default]
    Queued,
}

fn default_app_secret_env() -> String {
    "WABAGUARD_APP_SECRET".into()
}
fn default_verify_token_env() -> String {
    "WABAGUARD_VERIFY_TOKEN".into()
}
fn default_max_body() -> usize {
    1024 * 1024
}
fn default_queue_capacity() -> usize {
    10_000
}
fn default_segment_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_dedupe_capacity() -> usize {
    200_000
}

/// A listen address: `host:port` (an IP address, or `localhost`).
pub fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    let t = s.trim();
    if let Ok(a) = t.parse::<std::net::SocketAddr>() {
        return Ok(a);
    }
    if let Some(port) = t.strip_prefix("localhost:") {
        if let Ok(p) = port.parse::<u16>() {
            return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], p)));
        }
    }
    Err(format!(
        "`{s}` is not a listen address; expected ip:port such as 127.0.0.1:8080 or [::1]:8080"
    ))
}

/// `[suppressions]`: the file of accepted findings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionsConfig {
    /// `suppressions.toml` (relative to the config file); none = nothing suppressed.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// A suppression expiring within this many days is flagged in the report.
    #[serde(default = "default_warn_days")]
    pub warn_days: u32,
    /// Where `wabaguard triage` records decisions [default: `triage.toml`
    /// next to `file`, else next to the config file].
    #[serde(default)]
    pub triage_file: Option<PathBuf>,
}

impl Default for SuppressionsConfig {
    fn default() -> Self {
        SuppressionsConfig {
            file: None,
            warn_days: default_warn_days(),
            triage_file: None,
        }
    }
}

fn default_warn_days() -> u32 {
    7
}

/// `[gate]`: defaults of `wabaguard gate` (flags override them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Newer than this, the gate decides from the latest report; older, it
    /// collects the account afresh (and refuses when it cannot).
    #[serde(default = "default_max_age")]
    pub max_snapshot_age: HumanDuration,
    /// Refuse a template with a finding at or above this severity.
    #[serde(default = "default_gate_fail_on")]
    pub fail_on: Severity,
    /// Refuse an audience whose opt-in coverage is below this share.
    #[serde(default = "default_min_coverage")]
    pub min_coverage: f64,
    /// What every country rule does with the audience rows it matches
    /// (`refuse` or `warn`); unset: each rule's own `action` (rules learned
    /// from error 130497 in the send log: `refuse`).
    #[serde(default)]
    pub country_rules: Option<CountryRuleSetting>,
    /// Per country rule id: `refuse`, `warn` or `off` (wins over
    /// `country_rules`).
    #[serde(default)]
    pub country_rule_actions: BTreeMap<String, CountryRuleSetting>,
}

/// What the gate does with a country rule's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CountryRuleSetting {
    Refuse,
    Warn,
    Off,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            max_snapshot_age: default_max_age(),
            fail_on: default_gate_fail_on(),
            min_coverage: default_min_coverage(),
            country_rules: None,
            country_rule_actions: BTreeMap::new(),
        }
    }
}

fn default_max_age() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(24 * 3600))
}
fn default_gate_fail_on() -> Severity {
    Severity::High
}
fn default_min_coverage() -> f64 {
    0.98
}

/// Body shape of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NotifyFormat {
    /// Slack-compatible incoming webhook: `{"text": "..."}`.
    Slack,
    /// A generic JSON document (run id, accounts, new findings, changes).
    #[default]
    Json,
}

/// A webhook URL: it may carry a secret (Slack's do), so `Debug` shows the
/// host only and no message ever prints it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(pub String);

impl SecretUrl {
    /// Scheme and host (and port) — what logs may show.
    pub fn host(&self) -> String {
        url_host(&self.0)
    }
}

/// `https://hooks.slack.com` for any URL; `?` when it does not parse.
pub fn url_host(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => "?".into(),
        },
        Err(_) => "?".into(),
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/***", self.host())
    }
}

/// `[[notify]]`: one webhook target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// A name for logs (default: the URL's host).
    #[serde(default)]
    pub name: Option<String>,
    /// The webhook URL. Prefer `url_env`: webhook URLs are secrets.
    #[serde(default)]
    pub url: Option<SecretUrl>,
    /// Environment variable holding the webhook URL.
    #[serde(default)]
    pub url_env: Option<String>,
    #[serde(default)]
    pub format: NotifyFormat,
    /// New findings at or above this severity are notified.
    #[serde(default = "default_notify_min")]
    pub min_severity: Severity,
    /// Per-attempt timeout in seconds.
    #[serde(default = "default_notify_timeout")]
    pub timeout_secs: f64,
    /// Attempts after the first one (connection errors, 5xx, 429).
    #[serde(default = "default_notify_retries")]
    pub retries: u32,
    /// First retry delay in milliseconds; doubles per attempt.
    #[serde(default = "default_notify_backoff")]
    pub backoff_ms: u64,
}

fn default_notify_min() -> Severity {
    Severity::High
}
fn default_notify_timeout() -> f64 {
    10.0
}
fn default_notify_retries() -> u32 {
    3
}
fn default_notify_backoff() -> u64 {
    500
}

impl NotifyConfig {
    /// The name logs use: `name`, else the URL's host, else the variable.
    pub fn label(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match (&self.url, &self.url_env) {
            (Some(u), _) => u.host(),
            (None, Some(v)) => format!("${v}"),
            _ => "?".into(),
        }
    }

    /// The URL to post to (from `url`, or the `url_env` variable now).
    pub fn resolve_url(&self) -> Result<SecretUrl, String> {
        let u = match (&self.url, &self.url_env) {
            (Some(u), _) => u.clone(),
            (None, Some(var)) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => SecretUrl(v.trim().to_owned()),
                _ => {
                    return Err(format!("environment variable `{var}` (url_env) is not set"));
                }
            },
            (None, None) => return Err("no `url` or `url_env`".into()),
        };
        match url::Url::parse(&u.0) {
            Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => Ok(u),
            _ => Err(match &self.url_env {
                Some(var) if self.url.is_none() => {
                    format!("`{var}` does not hold an http(s) URL")
                }
                _ => "`url` is not an http(s) URL".into(),
            }),
        }
    }
}

/// Checks that `pin_secret` names a location (`scheme:reference`) and does
/// not hold a PIN. The message never repeats the value.
fn validate_pin_secret(secret: &str) -> Result<(), String> {
    let s = secret.trim();
    if s.chars().filter(char::is_ascii_digit).count() >= 4
        && s.chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || c == '-')
    {
        return Err("looks like a PIN: never put the PIN in the config; store it in a secret store and name its location here, e.g. \"env:WABA_PIN\" or \"vault:secret/whatsapp/pin\"".into());
    }
    let Some((scheme, reference)) = s.split_once(':') else {
        return Err(format!(
            "expected `scheme:reference` naming where the PIN is kept, with scheme one of {}",
            PIN_SECRET_SCHEMES.join(", ")
        ));
    };
    if !PIN_SECRET_SCHEMES.contains(&scheme) {
        return Err(format!(
            "unknown secret store `{scheme}` (expected one of {})",
            PIN_SECRET_SCHEMES.join(", ")
        ));
    }
    if reference.trim().is_empty() {
        return Err(format!("`{scheme}:` needs a name after the colon"));
    }
    Ok(())
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
    fn two_step_and_send_log_are_read() {
        let cfg = Config::from_toml_str(
            "[[accounts]]\nname = \"a\"\nexports = \"x\"\nsend_log = \"logs/send.csv\"\n[accounts.two_step]\npin_secret = \"env:WABA_PIN\"\nlast_rotated = 2026-03-01\nregistered_at = \"2026-11-20\"\n",
            Path::new("/etc/w/config.toml"),
        )
        .unwrap();
        let a = &cfg.accounts[0];
        assert_eq!(
            cfg.resolve(a.send_log.as_deref().unwrap()),
            PathBuf::from("/etc/w/logs/send.csv")
        );
        let t = a.two_step.as_ref().unwrap();
        assert_eq!(t.pin_secret.as_deref(), Some("env:WABA_PIN"));
        assert_eq!(t.last_rotated.unwrap().to_string(), "2026-03-01");
        assert_eq!(t.registered_at.unwrap().to_string(), "2026-11-20");
    }

    #[test]
    fn a_pin_in_the_config_is_refused_without_echoing_it() {
        let err = Config::from_toml_str(
            "[[accounts]]\nname = \"a\"\nexports = \"x\"\n[accounts.two_step]\npin_secret = \"482913\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("accounts[0].two_step.pin_secret"), "{err}");
        assert!(err.contains("looks like a PIN"), "{err}");
        assert!(!err.contains("482913"), "{err}");
        let err = Config::from_toml_str(
            "[[accounts]]\nname = \"a\"\nexports = \"x\"\n[accounts.two_step]\npin_secret = \"dropbox:pin.txt\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown secret store `dropbox`"), "{err}");
        let err = Config::from_toml_str(
            "[[accounts]]\nname = \"a\"\nexports = \"x\"\n[accounts.two_step]\nlast_rotated = \"spring\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("spring") && err.contains("line 5"), "{err}");
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

    #[test]
    fn graph_section_has_documented_defaults() {
        let cfg = Config::from_toml_str("", Path::new("c.toml")).unwrap();
        assert_eq!(cfg.graph.base_url, "https://graph.facebook.com");
        assert_eq!(cfg.graph.version, "v21.0");
        assert_eq!(cfg.graph.timeout_secs, 30.0);
        assert_eq!(cfg.graph.max_concurrency, 8);
        assert_eq!(cfg.graph.max_retries, 5);
        let cfg = Config::from_toml_str(
            "[graph]\nbase_url = \"http://127.0.0.1:8080\"\nversion = \"v23.0\"\ntimeout_secs = 0.5\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(cfg.graph.timeout_secs, 0.5);
        assert_eq!(cfg.graph.version, "v23.0");
    }

    #[test]
    fn an_account_without_exports_is_a_graph_account_needing_waba_id_and_token_source() {
        let ok = Config::from_toml_str(
            "[[accounts]]\nname = \"acme-eu\"\nwaba_id = \"1022\"\ntoken_env = \"WABAGUARD_TOKEN_ACME\"\nphone_number_ids = [\"106\"]\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert!(ok.accounts[0].is_graph());
        assert_eq!(ok.accounts[0].phone_number_ids, ["106"]);

        let no_waba = Config::from_toml_str(
            "[[accounts]]\nname = \"acme\"\ntoken_env = \"T\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            no_waba.contains("accounts[0].waba_id") && no_waba.contains("exports"),
            "{no_waba}"
        );

        let no_token = Config::from_toml_str(
            "[[accounts]]\nname = \"acme\"\nwaba_id = \"1022\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            no_token.contains("token_env") && no_token.contains("token_file"),
            "{no_token}"
        );

        let both = Config::from_toml_str(
            "[[accounts]]\nname = \"acme\"\nwaba_id = \"1022\"\ntoken_env = \"T\"\ntoken_file = \"t\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(both.contains("not both"), "{both}");

        let bad_id = Config::from_toml_str(
            "[[accounts]]\nname = \"acme\"\nwaba_id = \"10/22\"\ntoken_env = \"T\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(bad_id.contains("digits only"), "{bad_id}");
    }

    #[test]
    fn a_literal_token_is_rejected_and_never_echoed() {
        let cfg = Config::from_toml_str(
            "[[accounts]]\nname = \"acme\"\nwaba_id = \"1022\"\ntoken = \"EAAGsecret\"\n",
            Path::new("c.toml"),
        );
        let err = cfg.unwrap_err().to_string();
        assert!(err.contains("accounts[0].token"), "{err}");
        assert!(err.contains("token_env"), "{err}");
        assert!(!err.contains("EAAGsecret"), "{err}");
    }

    #[test]
    fn ops_sections_have_defaults_and_parse() {
        let cfg = Config::from_toml_str("", Path::new("c.toml")).unwrap();
        assert_eq!(cfg.daemon.schedule, "0 0 2 * * *");
        assert_eq!(cfg.daemon.timezone, chrono_tz::Tz::UTC);
        assert!(!cfg.daemon.run_on_start);
        assert_eq!(cfg.daemon.shutdown_grace.secs(), 600);
        assert_eq!(cfg.reports.keep_runs, 90);
        assert_eq!(cfg.gate.max_snapshot_age.secs(), 86_400);
        assert_eq!(cfg.gate.fail_on, Severity::High);
        assert_eq!(cfg.suppressions.warn_days, 7);
        assert!(cfg.suppressions_file().is_none());
        assert_eq!(cfg.triage_file(), PathBuf::from("triage.toml"));
        let t = Config::from_toml_str(
            "[suppressions]\nfile = \"sup/s.toml\"\ntriage_file = \"decisions/t.toml\"\n",
            Path::new("/etc/w/config.toml"),
        )
        .unwrap();
        assert_eq!(t.triage_file(), PathBuf::from("/etc/w/decisions/t.toml"));
        let t = Config::from_toml_str(
            "[suppressions]\nfile = \"sup/s.toml\"\n",
            Path::new("/etc/w/config.toml"),
        )
        .unwrap();
        assert_eq!(t.triage_file(), PathBuf::from("/etc/w/sup/triage.toml"));
        let cfg = Config::from_toml_str(
            "[reports]\nkeep_runs = 30\n[daemon]\nschedule = \"0 30 6 * * MON-FRI\"\ntimezone = \"Europe/Berlin\"\nrun_on_start = true\nshutdown_grace = \"1500ms\"\n\
             [suppressions]\nfile = \"suppressions.toml\"\nwarn_days = 14\n[gate]\nmax_snapshot_age = \"6h\"\nfail_on = \"critical\"\nmin_coverage = 0.99\n\
             [[notify]]\nurl = \"https://hooks.slack.com/services/T0/B0/SECRET\"\nformat = \"slack\"\n[[notify]]\nname = \"ops\"\nurl_env = \"WG_HOOK\"\n",
            Path::new("/etc/w/config.toml"),
        )
        .unwrap();
        assert_eq!(cfg.reports.keep_runs, 30);
        assert_eq!(cfg.daemon.timezone.name(), "Europe/Berlin");
        assert_eq!(cfg.daemon.shutdown_grace.0.as_millis(), 1500);
        assert_eq!(cfg.daemon.shutdown_grace.to_string(), "1500ms");
        assert_eq!(
            cfg.suppressions_file().unwrap(),
            PathBuf::from("/etc/w/suppressions.toml")
        );
        assert_eq!(cfg.triage_file(), PathBuf::from("/etc/w/triage.toml"));
        assert_eq!(cfg.gate.max_snapshot_age.to_string(), "6h");
        assert_eq!(cfg.notify[0].format, NotifyFormat::Slack);
        assert_eq!(cfg.notify[0].label(), "https://hooks.slack.com");
        assert!(!format!("{:?}", cfg.notify[0]).contains("SECRET"));
        assert_eq!(cfg.notify[1].label(), "ops");
        assert_eq!(cfg.notify[1].min_severity, Severity::High);
    }

    #[test]
    fn bad_ops_settings_name_the_value_and_never_echo_a_webhook() {
        for (text, want) in [
            ("[daemon]\nschedule = \"0 2 * * *\"\n", "`0 2 * * *`"),
            (
                "[daemon]\nschedule = \"0 0 2 * * *\"\ntimezone = \"Mars/Olympus\"\n",
                "`Mars/Olympus`",
            ),
            ("[daemon]\nshutdown_grace = \"soon\"\n", "`soon`"),
            ("[gate]\nmax_snapshot_age = \"1 day\"\n", "`1 day`"),
            ("[gate]\nmin_coverage = 98\n", "gate.min_coverage"),
            ("[reports]\nkeep_runs = 0\n", "reports.keep_runs"),
            ("[[notify]]\nformat = \"json\"\n", "notify[0].url"),
            (
                "[[notify]]\nurl = \"ftp://x/SECRET\"\n",
                "not an http(s) URL",
            ),
            (
                "[[notify]]\nurl = \"https://h/SECRET\"\nurl_env = \"X\"\n",
                "not both",
            ),
            ("[[notify]]\nurl_env = \"X\"\nformat = \"teams\"\n", "teams"),
        ] {
            let err = Config::from_toml_str(text, Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{text}: {err}");
            assert!(!err.contains("SECRET"), "{text}: {err}");
        }
        // Schedule errors carry the line, from the TOML parser.
        let err = Config::from_toml_str(
            "[daemon]\ntimezone = \"UTC\"\nschedule = \"61 * * * * *\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 3") && err.contains("61 * * * * *"),
            "{err}"
        );
    }

    #[test]
    fn bad_graph_settings_are_rejected() {
        for (text, field) in [
            ("[graph]\nbase_url = \"ftp://x\"\n", "graph.base_url"),
            (
                "[graph]\nbase_url = \"https://graph.facebook.com/v21.0\"\n",
                "graph.base_url",
            ),
            ("[graph]\nversion = \"v21.0/../x\"\n", "graph.version"),
            ("[graph]\ntimeout_secs = 0\n", "graph.timeout_secs"),
            ("[graph]\nmax_concurrency = 0\n", "graph.max_concurrency"),
        ] {
            let err = Config::from_toml_str(text, Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{text}: {err}");
        }
    }
}
