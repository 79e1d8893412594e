//! Notifications: after a run, tell each `[[notify]]` webhook about new
//! serious findings and about accounts whose level or stage got worse.
//!
//! - A finding is notified once per target: `reports/notify-state.json`
//!   keeps, per target, the fingerprints already delivered (written
//!   atomically, and only for deliveries that succeeded — a target that was
//!   down hears about the finding on the next run).
//! - Level and stage changes come from the run's diff against the previous run.
//! - Each post is retried with exponential backoff on connection errors,
//!   timeouts, 429 and 5xx. A target that still fails is logged; it never
//!   fails the run.
//! - Webhook URLs carry secrets (Slack's do): logs and messages show the
//!   host only, and reqwest errors are stripped of their URL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::checks::Severity;
use crate::config::{Config, NotifyConfig, NotifyFormat};
use crate::report::diff::DiffEntry;
use crate::report::{AccountStatus, Report};
use crate::risk::{Level, Stage};

pub const STATE_FILE: &str = "notify-state.json";

/// Fingerprints not seen for this long are forgotten by the state file.
const FORGET_AFTER_DAYS: i64 = 180;

/// What was delivered where.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NotifyState {
    /// Per target (a hash of its URL): fingerprint → when.
    #[serde(default)]
    pub targets: BTreeMap<String, BTreeMap<String, Notified>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notified {
    pub account: String,
    pub notified_at: String,
    pub last_seen: String,
}

impl NotifyState {
    pub fn load(reports_dir: &Path) -> NotifyState {
        let path = reports_dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                warn!(file = %path.display(), error = %e, "notification state is unreadable; starting afresh");
                NotifyState::default()
            }),
            Err(_) => NotifyState::default(),
        }
    }

    pub fn save(&self, reports_dir: &Path) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        crate::fsutil::write_atomic(&reports_dir.join(STATE_FILE), &bytes)
    }
}

/// A stable key for a target that never reveals its URL.
pub fn target_key(url: &str) -> String {
    hex::encode(&Sha256::digest(url.as_bytes())[..8])
}

/// One account in a notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountNotice {
    pub name: String,
    pub waba_id: String,
    pub score: u8,
    pub level: Level,
    pub stage: Stage,
    /// The previous run's values (absent on the account's first run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
    pub level_worsened: bool,
    pub stage_worsened: bool,
    /// Serious findings this target has not been told about.
    pub new_findings: Vec<DiffEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Previous {
    pub run_id: String,
    pub score: u8,
    pub level: Level,
    pub stage: Stage,
}

/// The generic JSON body (`format = "json"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub source: &'static str,
    pub event: &'static str,
    pub run_id: String,
    pub generated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    pub accounts: Vec<AccountNotice>,
}

/// What `target` should hear about this run, given what it heard before
/// (`already`); `None` when nothing.
pub fn compose(
    report: &Report,
    report_md: Option<&Path>,
    min: Severity,
    already: Option<&BTreeMap<String, Notified>>,
) -> Option<Notice> {
    let mut accounts = Vec::new();
    for a in report
        .accounts
        .iter()
        .filter(|a| a.status == AccountStatus::Audited)
    {
        let new_findings: Vec<DiffEntry> = a
            .findings
            .iter()
            .filter(|f| !f.suppressed && f.severity >= min)
            .filter(|f| already.is_none_or(|s| !s.contains_key(&f.fingerprint)))
            .map(|f| DiffEntry {
                fingerprint: f.fingerprint.clone(),
                rule: f.rule.clone(),
                severity: f.severity,
                subject: f.subject.label(),
                message: f.message.clone(),
                suppressed: false,
            })
            .collect();
        let (level_worsened, stage_worsened) = a.diff.as_ref().map_or((false, false), |d| {
            (
                d.level.current > d.level.previous,
                d.stage.current > d.stage.previous,
            )
        });
        if new_findings.is_empty() && !level_worsened && !stage_worsened {
            continue;
        }
        accounts.push(AccountNotice {
            name: a.name.clone(),
            waba_id: a.waba_id.clone(),
            score: a.risk.score,
            level: a.risk.level,
            stage: a.risk.stage,
            previous: a.diff.as_ref().map(|d| Previous {
                run_id: d.previous_run.clone(),
                score: d.score.previous,
                level: d.level.previous,
                stage: d.stage.previous,
            }),
            level_worsened,
            stage_worsened,
            new_findings,
        });
    }
    if accounts.is_empty() {
        return None;
    }
    Some(Notice {
        source: "wabaguard",
        event: "run.attention",
        run_id: report.run_id.clone(),
        generated_at: report.generated_at.clone(),
        report: report_md.map(|p| p.display().to_string()),
        accounts,
    })
}

/// How many findings a Slack message lists per account.
const SLACK_LIST: usize = 10;

/// The Slack body: `{"text": "..."}` (mrkdwn).
pub fn slack_body(n: &Notice) -> Value {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut t = format!(
        ":rotating_light: *wabaguard* run `{}`: {} account{} need{} attention",
        n.run_id,
        n.accounts.len(),
        if n.accounts.len() == 1 { "" } else { "s" },
        if n.accounts.len() == 1 { "s" } else { "" }
    );
    for a in &n.accounts {
        t.push_str(&format!(
            "\n*{}* — {} {}/100",
            esc(&a.name),
            a.level.as_str().to_uppercase(),
            a.score
        ));
        if let Some(p) = &a.previous {
            t.push_str(&format!(
                " (was {} {}/100)",
                p.level.as_str().to_uppercase(),
                p.score
            ));
        }
        if a.stage != Stage::None || a.stage_worsened {
            t.push_str(&format!(" · stage {}", a.stage.words()));
            if let Some(p) = a.previous.as_ref().filter(|_| a.stage_worsened) {
                t.push_str(&format!(" (was {})", p.stage.words()));
            }
        }
        if !a.new_findings.is_empty() {
            t.push_str(&format!(
                "\n{} new finding{}:",
                a.new_findings.len(),
                if a.new_findings.len() == 1 { "" } else { "s" }
            ));
        }
        for f in a.new_findings.iter().take(SLACK_LIST) {
            t.push_str(&format!(
                "\n• [{}] {}: {}",
                f.severity.as_str().to_uppercase(),
                esc(&f.subject),
                esc(&f.message)
            ));
        }
        if a.new_findings.len() > SLACK_LIST {
            t.push_str(&format!(
                "\n• … and {} more",
                a.new_findings.len() - SLACK_LIST
            ));
        }
    }
    if let Some(r) = &n.report {
        t.push_str(&format!("\nReport: {}", esc(r)));
    }
    json!({ "text": t })
}

pub fn body(format: NotifyFormat, n: &Notice) -> Value {
    match format {
        NotifyFormat::Slack => slack_body(n),
        NotifyFormat::Json => serde_json::to_value(n).unwrap_or(Value::Null),
    }
}

/// Result of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Nothing new for this target.
    Nothing,
    /// Delivered after this many attempts.
    Sent { attempts: u32, findings: usize },
    /// Given up; the message says why (never the URL).
    Failed(String),
}

/// Posts `body` with retries. Errors never contain the URL.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    t: &NotifyConfig,
) -> Result<u32, String> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let res = client
            .post(url)
            .timeout(Duration::from_secs_f64(t.timeout_secs))
            .json(body)
            .send()
            .await;
        let (retry, why) = match res {
            Ok(r) if r.status().is_success() => return Ok(attempt),
            Ok(r) => {
                let s = r.status();
                let retry = s.is_server_error() || s.as_u16() == 429 || s.as_u16() == 408;
                (retry, format!("HTTP {}", s.as_u16()))
            }
            Err(e) => (true, e.without_url().to_string()),
        };
        if !retry || attempt > t.retries {
            return Err(format!(
                "{why} (after {attempt} attempt{})",
                if attempt == 1 { "" } else { "s" }
            ));
        }
        let factor = 1u64 << (attempt - 1).min(16);
        let delay = t.backoff_ms.saturating_mul(factor).min(60_000);
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
}

/// What [`notify_run`] did, per target (in config order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetOutcome {
    pub label: String,
    pub host: String,
    pub delivery: Delivery,
}

/// Notifies every configured target about `report` (already written to
/// `run_dir`), updating the state file under `reports_dir`. Blocking; safe
/// to call from inside a tokio runtime (the posts run on their own thread).
pub fn notify_run(
    cfg: &Config,
    report: &Report,
    reports_dir: &Path,
    run_dir: Option<&Path>,
    now: DateTime<Utc>,
) -> Vec<TargetOutcome> {
    if cfg.notify.is_empty() {
        return Vec::new();
    }
    let report_md: Option<PathBuf> = run_dir.map(|d| d.join("report.md"));
    let mut state = NotifyState::load(reports_dir);
    let stamp = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    struct Job {
        i: usize,
        url: String,
        key: String,
        body: Value,
        notice: Notice,
    }
    let mut outcomes: Vec<TargetOutcome> = Vec::new();
    let mut jobs = Vec::new();
    for t in &cfg.notify {
        let label = t.label();
        let url = match t.resolve_url() {
            Ok(u) => u,
            Err(e) => {
                warn!(target = %label, error = %e, "notification target skipped");
                outcomes.push(TargetOutcome {
                    label,
                    host: "?".into(),
                    delivery: Delivery::Failed(e),
                });
                continue;
            }
        };
        let key = target_key(&url.0);
        outcomes.push(TargetOutcome {
            label,
            host: url.host(),
            delivery: Delivery::Nothing,
        });
        if let Some(notice) = compose(
            report,
            report_md.as_deref(),
            t.min_severity,
            state.targets.get(&key),
        ) {
            jobs.push(Job {
                i: outcomes.len() - 1,
                url: url.0,
                key,
                body: body(t.format, &notice),
                notice,
            });
        }
    }
    if !jobs.is_empty() {
        // One outcome per target, in config order: `outcomes[i]` is `cfg.notify[i]`.
        let targets = &cfg.notify;
        let results: Vec<Result<u32, String>> = std::thread::scope(|s| {
            s.spawn(|| {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        return jobs
                            .iter()
                            .map(|_| Err(format!("cannot start the async runtime: {e}")))
                            .collect();
                    }
                };
                rt.block_on(async {
                    let client = match reqwest::Client::builder()
                        .user_agent(concat!("wabaguard/", env!("CARGO_PKG_VERSION")))
                        .build()
                    {
                        Ok(c) => c,
                        Err(e) => {
                            return jobs
                                .iter()
                                .map(|_| Err(format!("cannot build the HTTP client: {e}")))
                                .collect();
                        }
                    };
                    let posts = jobs
                        .iter()
                        .map(|j| post(&client, &j.url, &j.body, &targets[j.i]));
                    join_all(posts).await
                })
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        });
        for (job, res) in jobs.iter().zip(results) {
            let o = &mut outcomes[job.i];
            let findings: usize = job
                .notice
                .accounts
                .iter()
                .map(|a| a.new_findings.len())
                .sum();
            match res {
                Ok(attempts) => {
                    info!(target = %o.label, host = %o.host, attempts, findings, "notification sent");
                    let seen = state.targets.entry(job.key.clone()).or_default();
                    for a in &job.notice.accounts {
                        for f in &a.new_findings {
                            seen.insert(
                                f.fingerprint.clone(),
                                Notified {
                                    account: a.name.clone(),
                                    notified_at: stamp.clone(),
                                    last_seen: stamp.clone(),
                                },
                            );
                        }
                    }
                    o.delivery = Delivery::Sent { attempts, findings };
                }
                Err(e) => {
                    warn!(target = %o.label, host = %o.host, error = %e, "notification failed; the run is not affected");
                    o.delivery = Delivery::Failed(e);
                }
            }
        }
    }
    // Remember that open findings are still open; forget long-gone ones.
    let present: std::collections::HashSet<&str> = report
        .accounts
        .iter()
        .flat_map(|a| a.findings.iter().map(|f| f.fingerprint.as_str()))
        .collect();
    let horizon = (now - chrono::Duration::days(FORGET_AFTER_DAYS))
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    for seen in state.targets.values_mut() {
        for (fp, n) in seen.iter_mut() {
            if present.contains(fp.as_str()) {
                n.last_seen = stamp.clone();
            }
        }
        seen.retain(|_, n| n.last_seen >= horizon);
    }
    if let Err(e) = state.save(reports_dir) {
        warn!(error = %e, "cannot write the notification state");
    }
    outcomes
}

/// Awaits futures concurrently, results in order.
pub async fn join_all<F: std::future::Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    let mut pending: Vec<(usize, std::pin::Pin<Box<F>>)> = futs.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => {
                out[*i] = Some(v);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
