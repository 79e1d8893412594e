//! Command-line definitions (clap derive). Dispatch lives in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::checks::Severity;

#[derive(Debug, Parser)]
#[command(
    name = "wabaguard",
    version,
    about = "Finds what gets a WhatsApp Business Account blocked or locked (error 131031) before Meta does.",
    long_about = "wabaguard audits WhatsApp Business Accounts — templates, business profile, phone numbers, \
account signals and opt-in coverage — scores the lock risk and writes risk reports.\n\n\
Exit codes: 0 = ran fine (findings may exist), 1 = policy failure (--fail-on reached, gate refused), \
2 = could not run (bad config, unreadable input, no account could be collected).",
    after_help = "Examples:\n  wabaguard run                                  audit the accounts in ./config.toml\n  wabaguard run --fail-on high                   exit 1 when a high or critical finding exists\n  wabaguard lint-templates message_templates.json\n  wabaguard diagnose --account casa-verde        stage, cause and runbook of a blocked or locked account\n  wabaguard rules explain tpl.mkt.discount\n  wabaguard snapshot --account acme-eu --out acme-snapshot\n  wabaguard daemon                               audit on the [daemon] schedule\n  wabaguard gate --account casa-verde --template order_update:en_US\n  wabaguard optin --audience audience.csv --consent consent_ledger.csv\n  wabaguard optouts --inbound inbound.jsonl --consent consent_ledger.csv"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr; no progress or summary lines.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
    Md,
}

/// Output of `lint-templates`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LintFormat {
    Text,
    Json,
    Md,
    /// SARIF 2.1.0 (code scanning, code review).
    Sarif,
    /// JUnit XML (CI dashboards).
    Junit,
}

/// What `run` prints on stdout (report.json and report.md are always written).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum RunFormat {
    /// A summary per account.
    Text,
    /// SARIF 2.1.0, also written to the run folder as report.sarif.
    Sarif,
    /// JUnit XML, also written to the run folder as report.junit.xml.
    Junit,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit every configured account once and write reports/<run-id>/report.{json,md}.
    #[command(
        after_help = "Examples:\n  wabaguard run\n  wabaguard run --config /etc/wabaguard/config.toml --out /var/lib/wabaguard/reports\n  wabaguard run --fail-on critical && echo 'no critical findings'"
    )]
    Run(RunArgs),
    /// Lint message templates from Graph API JSON files (no config needed).
    #[command(
        after_help = "Accepted shapes: a message_templates page {\"data\":[...],\"paging\":{...}}, \
an array of such pages, a bare array of templates, or one template object.\n\nExamples:\n  \
wabaguard lint-templates message_templates.json\n  wabaguard lint-templates --format json --fail-on high page1.json page2.json"
    )]
    LintTemplates(LintArgs),
    /// List and explain the rules in force.
    Rules(RulesArgs),
    /// Collect one account live from the Graph API and save it as an exports folder.
    #[command(
        long_about = "Collects one account live from the Graph API (an account without `exports` in the config) \
and saves exactly what was collected as an exports folder: waba.json, message_templates/*.json, \
phone_numbers.json, business_profile/<id>.json, in the Graph API's own JSON shapes. Point an account's \
`exports` at the folder to replay the audit offline, or attach it to a bug report. The token is never written.",
        after_help = "Examples:\n  wabaguard snapshot --account acme-eu --out snapshots/acme-eu-2026-11-25\n  \
WABAGUARD_TOKEN_ACME=... wabaguard snapshot --config /etc/wabaguard/config.toml --account acme-eu --out /tmp/acme"
    )]
    Snapshot(SnapshotArgs),
    /// Enforcement stage, cause of a block or lock (131031), evidence and runbook for one account.
    #[command(
        after_help = "Collects the account like `run` (nothing is written) and prints where it is on Meta's \
enforcement ladder (none, warning, temporary_block, locked), and for a block or lock which cause applies \
(policy enforcement or a two-step verification PIN mismatch), the evidence, and the runbook with the WABA id, \
phone number id, error code and timestamps filled in.\n\nSet WABAGUARD_NOW=2026-11-25T00:00:00Z to judge an export as of its date.\n\n\
Exit codes: 0 = diagnosed (whatever the stage), 2 = could not run (bad config, unknown account, unreadable export).\n\n\
Examples:\n  wabaguard diagnose --account casa-verde\n  wabaguard diagnose --account casa-verde --format json | jq .diagnosis.cause"
    )]
    Diagnose(DiagnoseArgs),
    /// Opt-in coverage of an audience CSV against a consent ledger CSV.
    #[command(
        long_about = "Opt-in coverage of an audience CSV against a consent ledger CSV.\n\n\
Every audience phone is normalised to E.164 (spaces, dashes, dots and parentheses stripped; a leading + or 00 \
is international, anything else a national number of --region; any other character, letters included, makes it \
invalid; the number must be valid for its country). Each distinct valid number is then exactly one of: revoked \
(latest ledger event is opt_out; opt_out wins ties), stale (latest is an opt_in older than --max-age-days before \
--as-of), covered (a newer opt_in) or missing (no event). Ledger events after --as-of are ignored; ledger rows \
with an invalid phone, an unknown event or a bad timestamp are counted and ignored.",
        after_help = "Examples:\n  wabaguard optin --audience black_friday.csv --consent consent_ledger.csv\n  \
wabaguard optin --audience a.csv --consent l.csv --as-of 2026-11-24 --region BR --format json\n  \
wabaguard optin --audience a.csv --consent l.csv --uncovered drop.csv --fail-below 0.99\n\n\
Exit codes: 0 = computed, 1 = coverage below --fail-below, 2 = a file could not be read (the message names file and line)."
    )]
    Optin(OptinArgs),
    /// Opt-out replies (STOP, opt-out buttons, error 131050) missing from a consent ledger.
    #[command(
        long_about = "Finds opt-out requests that never reached the consent ledger: in-chat replies in an inbound-messages \
export (Cloud API `messages` webhook envelopes, one per line, or CSV from,timestamp,text,button_payload), taps on \
opt-out quick-reply buttons, and error 131050 (user stopped marketing messages) in a send log. Replies are classified \
by the rule pack (rules optout.keyword, optout.request, optout.button-payload; every language at once). A request is \
recorded when the ledger has an opt_out for the number at or after it, or the number was already opted out; the \
others can be written as ledger rows to append (--emit-ledger-rows, numbers in clear).",
        after_help = "Examples:\n  wabaguard optouts --inbound inbound.jsonl --consent consent_ledger.csv\n  \
wabaguard optouts --inbound inbound.jsonl --send-log send_log.csv --consent ledger.csv --emit-ledger-rows missing.csv\n  \
tail -n +2 missing.csv >> ledger.csv      # append the rows without their header\n\n\
Exit codes: 0 = checked, 1 = unrecorded opt-outs found with --fail-on-unrecorded, 2 = a file could not be read."
    )]
    Optouts(OptoutsArgs),
    /// Audit on the [daemon] schedule until SIGTERM/SIGINT (one run at a time).
    #[command(
        long_about = "Runs the same audit as `wabaguard run` on the cron schedule of the config's [daemon] section, \
in its time zone (DST-correct), until SIGTERM or SIGINT. A run still going when the next time comes is not \
doubled: that time is skipped, with a log line. The reports folder is locked while the daemon lives, so a second \
daemon or a `wabaguard run` on the same folder is refused. On SIGTERM/SIGINT it stops scheduling, lets a run in \
progress finish (up to [daemon] shutdown_grace; a second signal stops at once) and exits 0.\n\n\
Schedule dialect: six fields with seconds — `sec min hour day-of-month month day-of-week` (\"0 0 2 * * *\" = 02:00 \
every day, \"0 30 6 * * MON-FRI\" = 06:30 on weekdays). A time skipped by the spring DST change runs right after \
the gap; a time repeated in autumn runs once.",
        after_help = "[daemon] keys: schedule = \"0 0 2 * * *\", timezone = \"Europe/Berlin\", run_on_start = false, shutdown_grace = \"10m\".\n\n\
Exit codes: 0 = stopped cleanly, 2 = could not start (bad config, bad schedule or time zone, reports folder locked) \
or a run had to be abandoned at shutdown.\n\nExamples:\n  wabaguard daemon --config /etc/wabaguard/config.toml\n  \
wabaguard daemon --log-format json\n  \
WABAGUARD_APP_SECRET=... WABAGUARD_VERIFY_TOKEN=... wabaguard daemon --listen 127.0.0.1:8080"
    )]
    Daemon(DaemonArgs),
    /// Pre-campaign go/no-go for one account: exit 0 go, 1 refuse, 2 cannot decide.
    #[command(
        long_about = "Decides whether a campaign may go out: refuses when a named template is missing, not APPROVED \
(PAUSED, DISABLED), or has a finding at or above --fail-on; when the account is temporarily blocked or locked, or a \
health status is BLOCKED; when opt-in coverage of the audience is below --min-coverage; or when no recent data can \
be had. It decides from the latest report when it is younger than [gate] max_snapshot_age, else it collects the \
account afresh (nothing is written). Suppressions in force now apply. Any error exits 2: the gate fails closed.",
        after_help = "Exit codes: 0 = go, 1 = refuse (reasons on stdout), 2 = could not decide (error on stderr).\n\n\
Examples:\n  wabaguard gate --account casa-verde --template order_update:en_US\n  \
wabaguard gate --account casa-verde --template black_friday --audience bf.csv --consent ledger.csv --min-coverage 0.99\n  \
wabaguard gate --account casa-verde --template order_update --format json | jq .reasons"
    )]
    Gate(GateArgs),
    /// Record a triage decision on one finding (accepted, false_positive, in_review).
    #[command(
        long_about = "Records a triage decision on one finding, by its fingerprint (report.md ends every finding \
with it), in the triage file: `[suppressions] triage_file`, else triage.toml beside the suppressions file, else \
beside the config file. `accepted` and `false_positive` suppress the finding in `run`, `gate` and the reports (until \
--until, if given: then it counts again and the report says the decision expired); `in_review` suppresses nothing \
but is shown. The digest of the finding's evidence in the latest report is recorded: when the evidence changes, \
the finding is reopened (counted again, shown as reopened). A fingerprint not in the latest report is recorded \
with a warning. A second decision on the same fingerprint replaces the first; comments and other entries are kept.",
        after_help = "Exit codes: 0 = recorded, 2 = not recorded (bad fingerprint, date or config; the triage \
file has an error, named by file and line).\n\nExamples:\n  \
wabaguard triage cf5a4f151b94e83a --state false_positive --reason \"'free' means free shipping (COMP-9)\"\n  \
wabaguard triage 01fa647545b30512 --state accepted --reason \"legal approved\" --until 2027-01-31\n  \
wabaguard triage 01fa647545b30512 --state in_review --reason \"asked Meta support, case 1234\""
    )]
    Triage(TriageArgs),
}

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// The finding's fingerprint (16 hex digits, as report.md shows it).
    #[arg(value_name = "FINGERPRINT")]
    pub fingerprint: String,
    /// The decision: accepted, false_positive or in_review.
    #[arg(long, value_name = "STATE", value_parser = parse_triage_state)]
    pub state: crate::checks::TriageState,
    /// Why (shown in every report).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Last day the decision holds (YYYY-MM-DD, UTC); accepted and false_positive only.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Configuration file.
    #[arg(short, long, default_value = "config.toml")]
    pub config: PathBuf,
}

fn parse_triage_state(s: &str) -> Result<crate::checks::TriageState, String> {
    s.parse()
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Configuration file.
    #[arg(short, long, default_value = "config.toml")]
    pub config: PathBuf,
    /// Serve the webhook receiver, /healthz and /metrics on this address
    /// (overrides `[server] listen`), e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum GateFormat {
    Text,
    Json,
    /// SARIF 2.1.0: the blocking findings and every refusal reason.
    Sarif,
    /// JUnit XML: one testcase per named template, the account, the audience.
    Junit,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The account's `name` in the config.
    #[arg(long, value_name = "NAME")]
    pub account: String,
    /// A template the campaign sends (repeatable). Without a language, every language of that name is checked.
    #[arg(long = "template", value_name = "NAME[:LANG]", value_parser = parse_template)]
    pub templates: Vec<crate::gate::TemplateSpec>,
    /// Audience CSV of the campaign (needs --consent).
    #[arg(long, value_name = "FILE", requires = "consent")]
    pub audience: Option<PathBuf>,
    /// Consent ledger CSV (needs --audience).
    #[arg(long, value_name = "FILE", requires = "audience")]
    pub consent: Option<PathBuf>,
    /// Refuse below this opt-in coverage share [default: [gate] min_coverage, else 0.98].
    #[arg(long, value_name = "SHARE")]
    pub min_coverage: Option<f64>,
    /// Refuse a template with a finding at or above this severity [default: [gate] fail_on, else high].
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Template category of the campaign (MARKETING, UTILITY, AUTHENTICATION): consent must cover it. Added to the named templates' categories; it never loosens them.
    #[arg(long, value_name = "CATEGORY", value_parser = parse_category)]
    pub category: Option<crate::collect::consent::scope::Scopes>,
    /// Write the audience rows that are not covered, or that a country rule matches (line, phone, E.164, reason), to this CSV.
    #[arg(long, value_name = "OUT.csv", requires = "audience")]
    pub uncovered: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = GateFormat::Text)]
    pub format: GateFormat,
    /// Configuration file.
    #[arg(short, long, default_value = "config.toml")]
    pub config: PathBuf,
}

fn parse_category(s: &str) -> Result<crate::collect::consent::scope::Scopes, String> {
    crate::collect::consent::scope::Scopes::parse_category(s)
}

fn parse_template(s: &str) -> Result<crate::gate::TemplateSpec, String> {
    s.parse()
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Configuration file.
    #[arg(short, long, default_value = "config.toml")]
    pub config: PathBuf,
    /// The account to collect (its `name` in the config).
    #[arg(long, value_name = "NAME")]
    pub account: String,
    /// Folder to create (must not exist, or be empty).
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The account's `name` in the config.
    #[arg(long, value_name = "NAME")]
    pub account: String,
    /// Configuration file.
    #[arg(short, long, default_value = "config.toml")]
    pub config: PathBuf,
    /// Output format (`md` prints the same as `text`, with Markdown runbooks).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OptinFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct OptinArgs {
    /// Audience CSV: a header row and a phone column (phone, phone_number, wa_id or msisdn).
    #[arg(long, value_name = "FILE")]
    pub audience: PathBuf,
    /// Consent ledger CSV: phone,event,timestamp,source (event opt_in or opt_out).
    #[arg(long, value_name = "FILE")]
    pub consent: PathBuf,
    /// The instant verdicts are computed at: RFC 3339, or a date meaning 00:00:00Z [default: now].
    #[arg(long, value_name = "RFC3339|DATE")]
    pub as_of: Option<String>,
    /// Region of national numbers (ISO 3166 code) [default: [optin] region from the config, else US].
    #[arg(long, value_name = "CC")]
    pub region: Option<String>,
    /// An opt-in older than this no longer covers [default: [optin] max_age_days, else 365].
    #[arg(long, value_name = "N")]
    pub max_age_days: Option<u32>,
    /// The audience's phone column, when it has another name.
    #[arg(long, value_name = "NAME")]
    pub phone_column: Option<String>,
    #[arg(long, value_enum, default_value_t = OptinFormat::Text)]
    pub format: OptinFormat,
    /// Write every audience row that is not covered (line, phone, E.164, reason) to this CSV.
    #[arg(long, value_name = "OUT.csv")]
    pub uncovered: Option<PathBuf>,
    /// Exit 1 when coverage is below this share (e.g. 0.99).
    #[arg(long, value_name = "SHARE")]
    pub fail_below: Option<f64>,
    /// Template category of the campaign (MARKETING, UTILITY, AUTHENTICATION): only consent whose scope covers it counts, and the country rules for it are counted.
    #[arg(long, value_name = "CATEGORY", value_parser = parse_category)]
    pub category: Option<crate::collect::consent::scope::Scopes>,
    /// Send log (CSV or JSONL with a recipient column): countries with error 130497 become country rules.
    #[arg(long, value_name = "FILE")]
    pub send_log: Option<PathBuf>,
    /// Config file for the [optin] defaults [default: ./config.toml when present].
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Worker threads [default: one per core].
    #[arg(long, value_name = "N", default_value_t = 0, hide_short_help = true)]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct OptoutsArgs {
    /// Inbound-messages export: webhook JSON Lines (.jsonl) or CSV from,timestamp,text,button_payload (repeatable).
    #[arg(long, value_name = "FILE", required_unless_present = "send_log")]
    pub inbound: Vec<PathBuf>,
    /// Send log (CSV or JSON Lines with timestamp, recipient, error_code) to read error 131050 from.
    #[arg(long, value_name = "FILE")]
    pub send_log: Option<PathBuf>,
    /// Consent ledger CSV: phone,event,timestamp,source (optional scope).
    #[arg(long, value_name = "FILE")]
    pub consent: PathBuf,
    /// Region of national numbers in the ledger [default: [optin] region from the config, else US].
    #[arg(long, value_name = "CC")]
    pub region: Option<String>,
    /// A quick-reply payload (or interactive button id) that means opt-out (repeatable; adds to the rule pack's list and [optout] payloads).
    #[arg(long = "payload", value_name = "PAYLOAD")]
    pub payloads: Vec<String>,
    /// Write the missing opt_out rows, in the ledger's own columns, to this CSV (numbers in clear).
    #[arg(long, value_name = "OUT.csv")]
    pub emit_ledger_rows: Option<PathBuf>,
    /// Exit 1 when an opt-out is missing from the ledger.
    #[arg(long)]
    pub fail_on_unrecorded: bool,
    #[arg(long, value_enum, default_value_t = OptinFormat::Text)]
    pub format: OptinFormat,
    /// Config file for [optin] region, [optout] payloads and [rules] [default: ./config.toml when present].
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Worker threads [default: one per core].
    #[arg(long, value_name = "N", default_value_t = 0, hide_short_help = true)]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file.
    #[arg(short, long, default_value = "config.toml")]
    pub config: PathBuf,
    /// Reports folder (default: [reports] dir from the config, else ./reports).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// What to print on stdout. sarif/junit are also written to the run
    /// folder (report.sarif, report.junit.xml); JUnit fails testcases at
    /// --fail-on, else medium.
    #[arg(long, value_enum, default_value_t = RunFormat::Text)]
    pub format: RunFormat,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Template files (Graph API JSON).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format. JUnit fails a template's testcase at --fail-on, else medium.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Use the rule packs in DIR instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
    /// Use the rule packs in DIR instead of the built-in ones.
    #[arg(long, value_name = "DIR", global = true)]
    pub rules: Option<PathBuf>,
    /// Apply [rules] (extra_dirs, disable, severity_overrides) from this config.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Every rule: id, family, severity, languages, title.
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// One rule in full: description, remediation, reference, languages, examples.
    Explain {
        /// Rule id (or an alias).
        rule: String,
    },
    /// Load and compile every pack and run every example in it.
    Check,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}
