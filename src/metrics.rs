//! The daemon's Prometheus metrics (`GET /metrics`, text exposition
//! format): scheduled runs and their results, and the webhook receiver.
//!
//! One [`Metrics`] per process, shared by the run loop and the server; the
//! handles are cheap atomics, so recording never blocks a request.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::checks::Severity;
use crate::report::{AccountStatus, Report};

type Labels = Vec<(&'static str, String)>;

/// Every metric the daemon exports, registered under the `wabaguard_` prefix.
pub struct Metrics {
    registry: Registry,
    /// `wabaguard_runs_total{outcome}`: `ok`, `partial` (some account
    /// could not be audited), `failed` (no report written).
    pub runs: Family<Labels, Counter>,
    /// `wabaguard_run_duration_seconds`.
    pub run_duration: Histogram,
    /// `wabaguard_findings{account,severity}`: unsuppressed findings of the last run.
    pub findings: Family<Labels, Gauge>,
    /// `wabaguard_risk_score{account}`: 0–100, from the last run.
    pub risk_score: Family<Labels, Gauge>,
    /// `wabaguard_last_successful_run_timestamp_seconds`.
    pub last_success: Gauge<f64, AtomicU64>,
    /// `wabaguard_webhooks_received_total`: POST /webhook requests.
    pub webhooks_received: Counter,
    /// `wabaguard_webhooks_rejected_total{reason}`.
    pub webhooks_rejected: Family<Labels, Counter>,
    /// `wabaguard_webhook_events_appended_total{account}`: changes written to the store.
    pub events_appended: Family<Labels, Counter>,
    /// `wabaguard_webhook_events_duplicate_total`: replays not written again.
    pub events_duplicate: Counter,
    /// `wabaguard_webhook_events_unknown_waba_total`: changes for a WABA no account has.
    pub events_unknown_waba: Counter,
    /// `wabaguard_critical_notifications_total{outcome}`: immediate notifications
    /// of critical webhook events (`sent`, `failed`).
    pub critical_notifications: Family<Labels, Counter>,
    /// `wabaguard_webhook_queue_depth`: changes waiting for the store writer.
    pub queue_depth: Gauge,
}

/// Why a webhook POST was refused (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    MissingSignature,
    BadSignature,
    TooLarge,
    MalformedJson,
    QueueFull,
    StoreError,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::MissingSignature => "missing_signature",
            Rejection::BadSignature => "bad_signature",
            Rejection::TooLarge => "too_large",
            Rejection::MalformedJson => "malformed_json",
            Rejection::QueueFull => "queue_full",
            Rejection::StoreError => "store_error",
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("wabaguard"),
            runs: Family::default(),
            // 0.1 s .. ~27 min
            run_duration: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.1, 2.0, 15),
            ),
            findings: Family::default(),
            risk_score: Family::default(),
            last_success: Gauge::default(),
            webhooks_received: Counter::default(),
            webhooks_rejected: Family::default(),
            events_appended: Family::default(),
            events_duplicate: Counter::default(),
            events_unknown_waba: Counter::default(),
            critical_notifications: Family::default(),
            queue_depth: Gauge::default(),
        };
        m.registry.register(
            "runs",
            "Audit runs started by the daemon, by outcome",
            m.runs.clone(),
        );
        m.registry.register_with_unit(
            "run_duration",
            "Duration of an audit run",
            prometheus_client::registry::Unit::Seconds,
            m.run_duration.clone(),
        );
        m.registry.register(
            "findings",
            "Unsuppressed findings of the last run, per account and severity",
            m.findings.clone(),
        );
        m.registry.register(
            "risk_score",
            "Risk score (0-100) per account in the last run",
            m.risk_score.clone(),
        );
        m.registry.register(
            "last_successful_run_timestamp_seconds",
            "Unix time at which the last successful run finished",
            m.last_success.clone(),
        );
        m.registry.register(
            "webhooks_received",
            "POST /webhook requests received",
            m.webhooks_received.clone(),
        );
        m.registry.register(
            "webhooks_rejected",
            "POST /webhook requests refused, by reason",
            m.webhooks_rejected.clone(),
        );
        m.registry.register(
            "webhook_events_appended",
            "Webhook changes appended to the events store, per account",
            m.events_appended.clone(),
        );
        m.registry.register(
            "webhook_events_duplicate",
            "Webhook changes already stored (replays), not appended again",
            m.events_duplicate.clone(),
        );
        m.registry.register(
            "webhook_events_unknown_waba",
            "Webhook changes for a WABA id no configured account has",
            m.events_unknown_waba.clone(),
        );
        m.registry.register(
            "critical_notifications",
            "Immediate notifications of critical webhook events, by outcome",
            m.critical_notifications.clone(),
        );
        m.registry.register(
            "webhook_queue_depth",
            "Webhook deliveries waiting for the events store writer",
            m.queue_depth.clone(),
        );
        m
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    pub fn reject(&self, why: Rejection) {
        self.webhooks_rejected
            .get_or_create(&vec![("reason", why.as_str().to_owned())])
            .inc();
    }

    /// Records a finished run: `report` is `None` when it failed before
    /// writing one. `finished_at` is the unix time the run ended.
    pub fn observe_run(&self, report: Option<&Report>, took: Duration, finished_at: f64) {
        self.run_duration.observe(took.as_secs_f64());
        let outcome = match report {
            None => "failed",
            Some(r)
                if r.accounts
                    .iter()
                    .all(|a| a.status == AccountStatus::Audited) =>
            {
                "ok"
            }
            Some(r)
                if r.accounts
                    .iter()
                    .all(|a| a.status != AccountStatus::Audited) =>
            {
                "failed"
            }
            Some(_) => "partial",
        };
        self.runs
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
        let Some(report) = report else { return };
        if outcome != "failed" {
            self.last_success.set(finished_at);
        }
        for a in report
            .accounts
            .iter()
            .filter(|a| a.status == AccountStatus::Audited)
        {
            self.risk_score
                .get_or_create(&vec![("account", a.name.clone())])
                .set(i64::from(a.risk.score));
            for sev in Severity::ALL_DESC {
                let n = a
                    .findings
                    .iter()
                    .filter(|f| !f.suppressed && f.severity == sev)
                    .count();
                self.findings
                    .get_or_create(&vec![
                        ("account", a.name.clone()),
                        ("severity", sev.as_str().to_owned()),
                    ])
                    .set(n as i64);
            }
        }
    }
}
