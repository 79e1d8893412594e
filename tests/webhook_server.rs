//! The daemon's webhook receiver over real HTTP on loopback: Meta's
//! handshake, signature checks before parsing, the size limit, what is
//! stored (and what is not), replays, unknown WABAs, rotation, a stored
//! violation showing up in the next report, metrics and health, immediate
//! notification of critical events, and secrets kept out of logs and
//! responses.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::ops::{Watched, bin, copy_dir, root};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use wabaguard::collect::event_store;
use wabaguard::config::Config;
use wabaguard::metrics::Metrics;
use wabaguard::server::{Secret, Secrets, Server};

const APP_SECRET: &str = "app-secret-7f3a9c1e5b";
const VERIFY_TOKEN: &str = "verify-token-2d8e4b6a";
const WABA: &str = "102290129340398";

fn sign(secret: &str, body: &[u8]) -> String {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

fn secrets() -> Secrets {
    Secrets {
        app_secret: Secret::new(APP_SECRET),
        verify_token: Secret::new(VERIFY_TOKEN),
    }
}

/// A config in `dir` auditing a copy of the `clean` fixture as `lumen`
/// (waba_id 102290129340398), reports in `dir/reports`.
/// A config for the `lumen` account. The tests read the store right after
/// a POST, so they ask for `ack = "durable"` (200 after fsync); the default
/// (`queued`) is tested on its own.
fn config(dir: &Path, extra: &str) -> Config {
    let extra = if extra.contains("[server]") {
        extra.replace("[server]\n", "[server]\nack = \"durable\"\n")
    } else {
        format!("[server]\nack = \"durable\"\n{extra}")
    };
    let exports = dir.join("lumen");
    if !exports.exists() {
        copy_dir(&root().join("tests/fixtures/accounts/clean"), &exports);
    }
    let text = format!(
        "[reports]\ndir = \"reports\"\n\n{extra}\n\n[[accounts]]\nname = \"lumen\"\nwaba_id = \"{WABA}\"\nexports = \"{}\"\n",
        exports.display()
    );
    let p = dir.join("config.toml");
    std::fs::write(&p, &text).unwrap();
    Config::load(&p).unwrap()
}

struct Running {
    server: Server,
    url: String,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
}

async fn start(cfg: &Config) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = Arc::new(Metrics::new());
    let server = Server::start(cfg, secrets(), listener, Arc::clone(&metrics)).unwrap();
    Running {
        url: format!("http://{}", server.addr),
        server,
        metrics,
        client: reqwest::Client::new(),
    }
}

impl Running {
    async fn post(&self, body: &[u8], signature: Option<&str>) -> (u16, String) {
        let mut rq = self
            .client
            .post(format!("{}/webhook", self.url))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            rq = rq.header("X-Hub-Signature-256", s);
        }
        let r = rq.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post_signed(&self, body: &[u8]) -> (u16, Value) {
        let (code, text) = self.post(body, Some(&sign(APP_SECRET, body))).await;
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, String, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status().as_u16(), ct, r.text().await.unwrap())
    }
}

fn envelope(waba: &str, time: i64, changes: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": waba, "time": time, "changes": changes}],
    }))
    .unwrap()
}

fn violation(time: i64, kind: &str) -> Vec<u8> {
    envelope(
        WABA,
        time,
        json!([{"field": "account_update", "value": {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": kind}}}]),
    )
}

fn template_status(name: &str, event: &str) -> Value {
    json!({"field": "message_template_status_update", "value": {"event": event, "message_template_id": 1842991250135544u64, "message_template_name": name, "message_template_language": "en_US", "reason": "NONE"}})
}

/// Every stored line of `account`, oldest segment first.
fn stored(cfg: &Config, account: &str) -> Vec<Value> {
    let dir = event_store::account_dir(&cfg.reports_dir(), account);
    event_store::segments(&dir)
        .into_iter()
        .flat_map(|(_, p)| {
            let bytes = std::fs::read(p).unwrap();
            assert!(bytes.is_empty() || bytes.ends_with(b"\n"));
            bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// `name{labels} value` → value, from the text exposition.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn handshake_echoes_the_challenge_only_for_the_right_token() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "");
    let s = start(&cfg).await;
    let (code, ct, body) = s
        .get(&format!(
            "/webhook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
        ))
        .await;
    assert_eq!((code, body.as_str()), (200, "1158201444"));
    assert!(ct.starts_with("text/plain"), "{ct}");
    for q in [
        "hub.mode=subscribe&hub.verify_token=verify-token-2d8e4b6b&hub.challenge=1",
        "hub.mode=subscribe&hub.verify_token=verify-token-2d8e4b6&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
        &format!("hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"),
        &format!("hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"),
        "",
    ] {
        let (code, _, body) = s.get(&format!("/webhook?{q}")).await;
        assert_eq!(code, 403, "{q}");
        assert!(!body.contains(VERIFY_TOKEN));
    }
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_delivery_is_stored_one_change_per_line_in_the_export_shape() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "");
    let s = start(&cfg).await;
    let body = envelope(
        WABA,
        1_790_000_000,
        json!([
            template_status("order_shipped", "APPROVED"),
            template_status("order_delayed", "REJECTED")
        ]),
    );
    let (code, r) = s.post_signed(&body).await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(
        r,
        json!({"appended": 2, "duplicates": 0, "unknown_waba": 0})
    );
    let lines = stored(&cfg, "lumen");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["object"], "whatsapp_business_account");
    assert_eq!(lines[0]["entry"][0]["id"], WABA);
    assert_eq!(lines[0]["entry"][0]["time"], 1_790_000_000);
    assert_eq!(
        lines[1]["entry"][0]["changes"][0]["value"]["message_template_name"],
        "order_delayed"
    );
    // The same reader as an export's events.jsonl understands the store.
    let dir = event_store::account_dir(&cfg.reports_dir(), "lumen");
    let seg = &event_store::segments(&dir)[0].1;
    let (events, rep) =
        wabaguard::collect::events::parse_events(std::fs::read(seg).unwrap().as_slice()).unwrap();
    assert_eq!((events.len(), rep.broken.len()), (2, 0));
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_wrongly_signed_oversized_and_malformed_deliveries_store_nothing() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "[server]\nmax_body_bytes = 2048\n");
    let s = start(&cfg).await;
    let body = violation(1_790_000_000, "SPAM");

    let (code, _) = s.post(&body, None).await;
    assert_eq!(code, 401, "missing header");
    let (code, _) = s.post(&body, Some(&sign("another-secret", &body))).await;
    assert_eq!(code, 401, "wrong key");
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let (code, _) = s.post(&tampered, Some(&sign(APP_SECRET, &body))).await;
    assert_eq!(code, 401, "body changed after signing");
    let (code, _) = s.post(&body, Some("sha1=abcdef")).await;
    assert_eq!(code, 401, "malformed header");

    let mut big = body.clone();
    big.pop();
    big.extend(std::iter::repeat_n(b' ', 3000));
    big.push(b'}');
    let (code, _) = s.post(&big, Some(&sign(APP_SECRET, &big))).await;
    assert_eq!(code, 413, "oversized");

    let bad = b"{\"object\": \"whatsapp_business_account\", \"entry\": [".to_vec();
    let (code, r) = s.post_signed(&bad).await;
    assert_eq!(code, 400, "{r}");
    let (code, _) = s
        .post_signed(b"{\"object\":\"whatsapp_business_account\"}")
        .await;
    assert_eq!(code, 400, "no entry array");

    assert!(stored(&cfg, "lumen").is_empty());
    assert!(!cfg.reports_dir().join("events").join("lumen").exists());
    let (_, _, m) = s.get("/metrics").await;
    assert_eq!(
        metric(&m, "wabaguard_webhooks_received_total"),
        Some(7.0),
        "{m}"
    );
    for (reason, n) in [
        ("missing_signature", 1.0),
        ("bad_signature", 3.0),
        ("too_large", 1.0),
        ("malformed_json", 2.0),
    ] {
        let series = format!("wabaguard_webhooks_rejected_total{{reason=\"{reason}\"}}");
        assert_eq!(metric(&m, &series), Some(n), "{series}\n{m}");
    }
    // Nothing broke: a good delivery is still stored.
    assert_eq!(s.post_signed(&body).await.0, 200);
    assert_eq!(stored(&cfg, "lumen").len(), 1);
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replays_are_stored_once_even_across_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "");
    let s = start(&cfg).await;
    let body = violation(1_790_000_000, "SPAM");
    assert_eq!(s.post_signed(&body).await.1["appended"], 1);
    let (code, r) = s.post_signed(&body).await;
    assert_eq!(
        (code, &r["appended"], &r["duplicates"]),
        (200, &json!(0), &json!(1))
    );
    // The same change laid out differently is the same change.
    let relaid = format!(
        r#"{{"entry":[{{"changes":[{{"value":{{"violation_info":{{"violation_type":"SPAM"}},"event":"ACCOUNT_VIOLATION"}},"field":"account_update"}}],"time":1790000000,"id":"{WABA}"}}],"object":"whatsapp_business_account"}}"#
    );
    assert_eq!(s.post_signed(relaid.as_bytes()).await.1["duplicates"], 1);
    // Concurrent replays.
    let other = violation(1_790_000_100, "SCAM");
    let posts: Vec<_> = (0..8).map(|_| s.post_signed(&other)).collect();
    let mut appended = 0;
    for p in posts {
        let (code, r) = p.await;
        assert_eq!(code, 200);
        appended += r["appended"].as_u64().unwrap();
    }
    assert_eq!(appended, 1);
    assert_eq!(stored(&cfg, "lumen").len(), 2);
    s.server.shutdown().await;

    let s = start(&cfg).await;
    assert_eq!(s.post_signed(&body).await.1["duplicates"], 1);
    assert_eq!(s.post_signed(&other).await.1["duplicates"], 1);
    assert_eq!(stored(&cfg, "lumen").len(), 2);
    let (_, _, m) = s.get("/metrics").await;
    assert_eq!(
        metric(&m, "wabaguard_webhook_events_duplicate_total"),
        Some(2.0)
    );
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_for_an_unknown_waba_are_counted_not_stored() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "");
    let s = start(&cfg).await;
    let mut body: Value = serde_json::from_slice(&violation(1_790_000_000, "SPAM")).unwrap();
    body["entry"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "999000111222333", "time": 1_790_000_001, "changes": [template_status("x", "PAUSED"), template_status("y", "PAUSED")]}));
    let body = serde_json::to_vec(&body).unwrap();
    let (code, r) = s.post_signed(&body).await;
    assert_eq!(code, 200);
    assert_eq!(
        r,
        json!({"appended": 1, "duplicates": 0, "unknown_waba": 2})
    );
    let lines = stored(&cfg, "lumen");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["entry"][0]["id"], WABA);
    let (_, _, m) = s.get("/metrics").await;
    assert_eq!(
        metric(&m, "wabaguard_webhook_events_unknown_waba_total"),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &m,
            "wabaguard_webhook_events_appended_total{account=\"lumen\"}"
        ),
        Some(1.0)
    );
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn segments_rotate_by_size_and_every_segment_is_read() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "[server]\nsegment_bytes = 4096\n");
    // A write cut short by a crash: the torn line is never continued.
    let dir = event_store::account_dir(&cfg.reports_dir(), "lumen");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(event_store::segment_name(1)),
        b"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1",
    )
    .unwrap();
    let s = start(&cfg).await;
    for i in 0..60 {
        let body = envelope(
            WABA,
            1_790_000_000 + i,
            json!([template_status(&format!("promo_{i}"), "APPROVED")]),
        );
        assert_eq!(s.post_signed(&body).await.1["appended"], 1);
    }
    s.server.shutdown().await;
    let segs = event_store::segments(&dir);
    assert!(segs.len() >= 4, "{segs:?}");
    for (n, p) in &segs[1..] {
        let len = std::fs::metadata(p).unwrap().len();
        assert!(len <= 4096, "segment {n} has {len} bytes");
    }
    assert_eq!(stored_lines(&segs[1..]), 60);
    let snap = wabaguard::collect::collect_account(&cfg, &cfg.accounts[0]).unwrap();
    let names: std::collections::HashSet<String> = snap
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            wabaguard::snapshot::EventKind::MessageTemplateStatusUpdate(t) => {
                t.message_template_name.clone()
            }
            _ => None,
        })
        .filter(|n| n.starts_with("promo_"))
        .collect();
    assert_eq!(names.len(), 60);
}

fn stored_lines(segs: &[(u32, PathBuf)]) -> usize {
    segs.iter()
        .map(|(_, p)| {
            std::fs::read(p)
                .unwrap()
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
        })
        .sum()
}

fn violation_findings(report: &wabaguard::report::Report) -> Vec<String> {
    report.accounts[0]
        .findings
        .iter()
        .filter(|f| f.rule == "acct.event.violation")
        .map(|f| f.message.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_violation_shows_up_in_the_next_report_and_in_the_metrics() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "");
    let pack = Arc::new(wabaguard::commands::run::load_pack(&cfg).unwrap());
    let opts = wabaguard::runner::RunOptions {
        out_dir: cfg.reports_dir(),
        progress: indicatif::ProgressBar::hidden(),
        notify: false,
    };
    let s = start(&cfg).await;
    let now = at("2026-11-25T02:00:00Z");
    let (c2, p2, o2) = (cfg.clone(), Arc::clone(&pack), opts.clone());
    let before = tokio::task::spawn_blocking(move || {
        wabaguard::runner::run_once(&c2, &p2, now, &o2).unwrap()
    })
    .await
    .unwrap();
    assert!(violation_findings(&before.report).is_empty());
    s.metrics
        .observe_run(Some(&before.report), Duration::from_millis(1500), 1.7e9);

    let when = at("2026-11-20T09:30:00Z").timestamp();
    let (code, _) = s.post_signed(&violation(when, "SCAM")).await;
    assert_eq!(code, 200);

    let later = at("2026-11-26T02:00:00Z");
    let (c2, p2, o2) = (cfg.clone(), Arc::clone(&pack), opts.clone());
    let after = tokio::task::spawn_blocking(move || {
        wabaguard::runner::run_once(&c2, &p2, later, &o2).unwrap()
    })
    .await
    .unwrap();
    let v = violation_findings(&after.report);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].contains("SCAM") && v[0].contains("2026-11-20"),
        "{v:?}"
    );
    let a = &after.report.accounts[0];
    assert!(a.risk.score > before.report.accounts[0].risk.score);
    let new: Vec<_> = a
        .diff
        .as_ref()
        .unwrap()
        .new
        .iter()
        .map(|e| e.rule.as_str())
        .collect();
    assert!(new.contains(&"acct.event.violation"), "{new:?}");

    s.metrics
        .observe_run(Some(&after.report), Duration::from_millis(2500), 1.8e9);
    let (code, ct, m) = s.get("/metrics").await;
    assert_eq!(code, 200);
    assert!(ct.contains("text"), "{ct}");
    assert_eq!(
        metric(&m, "wabaguard_runs_total{outcome=\"ok\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&m, "wabaguard_run_duration_seconds_count"),
        Some(2.0)
    );
    assert_eq!(metric(&m, "wabaguard_run_duration_seconds_sum"), Some(4.0));
    assert_eq!(
        metric(&m, "wabaguard_risk_score{account=\"lumen\"}"),
        Some(f64::from(a.risk.score))
    );
    let high = a
        .findings
        .iter()
        .filter(|f| !f.suppressed && f.severity == wabaguard::checks::Severity::High)
        .count();
    assert_eq!(
        metric(
            &m,
            "wabaguard_findings{account=\"lumen\",severity=\"high\"}"
        ),
        Some(high as f64)
    );
    assert_eq!(
        metric(&m, "wabaguard_last_successful_run_timestamp_seconds"),
        Some(1.8e9)
    );
    assert_eq!(metric(&m, "wabaguard_webhooks_received_total"), Some(1.0));
    assert_eq!(
        metric(
            &m,
            "wabaguard_webhook_events_appended_total{account=\"lumen\"}"
        ),
        Some(1.0)
    );
    let (code, _, h) = s.get("/healthz").await;
    assert_eq!(code, 200);
    let h: Value = serde_json::from_str(&h).unwrap();
    assert_eq!(h["ok"], true);
    assert_eq!(h["last_successful_run"], "2027-01-15T08:00:00Z");
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn critical_events_are_notified_at_once_and_only_once() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let target = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&target)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        &format!(
            "[[notify]]\nurl = \"{0}/hooks/json\"\nformat = \"json\"\n\n[[notify]]\nurl = \"{0}/services/SLACKSECRET\"\nformat = \"slack\"\n",
            target.uri()
        ),
    );
    let s = start(&cfg).await;
    let body = envelope(
        WABA,
        1_790_000_000,
        json!([
            template_status("order_shipped", "APPROVED"),
            template_status("spring_sale", "PAUSED"),
            {"field": "phone_number_quality_update", "value": {"display_phone_number": "14155550134", "event": "FLAGGED", "current_limit": "TIER_1K"}},
        ]),
    );
    assert_eq!(s.post_signed(&body).await.1["appended"], 3);
    let got = wait_requests(&target, 4).await;
    let json_bodies: Vec<Value> = got
        .iter()
        .filter(|r| r.url.path() == "/hooks/json")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(json_bodies.len(), 2, "APPROVED is not critical");
    let types: Vec<&str> = json_bodies
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"PAUSED") && types.contains(&"FLAGGED"));
    let flagged = json_bodies.iter().find(|b| b["type"] == "FLAGGED").unwrap();
    assert_eq!(flagged["event"], "webhook.critical");
    assert_eq!(flagged["account"], "lumen");
    assert_eq!(flagged["waba_id"], WABA);
    let summary = flagged["summary"].as_str().unwrap();
    assert!(summary.contains("+1 ••• ••• 0134"), "{summary}");
    assert!(!summary.contains("4155550134"), "number masked: {summary}");
    let slack: Vec<Value> = got
        .iter()
        .filter(|r| r.url.path() == "/services/SLACKSECRET")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert!(
        slack
            .iter()
            .any(|b| b["text"].as_str().unwrap().contains("spring_sale"))
    );

    // A replay is not notified again.
    assert_eq!(s.post_signed(&body).await.1["duplicates"], 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(target.received_requests().await.unwrap().len(), 4);
    let (_, _, m) = s.get("/metrics").await;
    assert_eq!(
        metric(
            &m,
            "wabaguard_critical_notifications_total{outcome=\"sent\"}"
        ),
        Some(4.0)
    );
    s.server.shutdown().await;
}

async fn wait_requests(server: &wiremock::MockServer, n: usize) -> Vec<wiremock::Request> {
    for _ in 0..100 {
        let got = server.received_requests().await.unwrap();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} notifications");
}

fn daemon(cfg: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("daemon")
        .arg("--config")
        .arg(cfg)
        .env_remove("WABAGUARD_LOG")
        .env_remove("WABAGUARD_NOW")
        .env_remove("WABAGUARD_APP_SECRET")
        .env_remove("WABAGUARD_VERIFY_TOKEN");
    c
}

#[test]
fn a_missing_secret_variable_stops_the_daemon_naming_the_variable() {
    let d = tempfile::tempdir().unwrap();
    config(
        d.path(),
        "[server]\nlisten = \"127.0.0.1:0\"\napp_secret_env = \"LUMEN_APP_SECRET\"\n",
    );
    let out = daemon(&d.path().join("config.toml"))
        .env("WABAGUARD_VERIFY_TOKEN", VERIFY_TOKEN)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`LUMEN_APP_SECRET` (server.app_secret_env) is not set"),
        "{err}"
    );
    assert!(!err.contains(VERIFY_TOKEN));

    let out = daemon(&d.path().join("config.toml"))
        .args(["--listen", "not-an-address"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--listen: `not-an-address`"), "{err}");

    std::fs::write(
        d.path().join("bad.toml"),
        "[server]\nlisten = \"127.0.0.1:8080\"\nmax_body_bytes = 10\n",
    )
    .unwrap();
    let e = Config::load(&d.path().join("bad.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("server.max_body_bytes"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_serves_and_keeps_its_secrets_out_of_logs_and_responses() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "[daemon]\nschedule = \"0 0 3 1 1 *\"\n");
    let mut w = Watched::spawn({
        let mut c = daemon(&d.path().join("config.toml"));
        c.args(["--listen", "127.0.0.1:0", "-v"])
            .env("WABAGUARD_APP_SECRET", APP_SECRET)
            .env("WABAGUARD_VERIFY_TOKEN", VERIFY_TOKEN);
        c
    });
    w.wait_for("webhook receiver listening", Duration::from_secs(30));
    let line = w
        .seen
        .iter()
        .find(|l| l.contains("webhook receiver listening"))
        .unwrap()
        .clone();
    let addr = line
        .split("listen=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let url = format!("http://{addr}");
    let client = reqwest::Client::new();
    let mut responses = String::new();
    for q in [
        format!("hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42"),
        "hub.mode=subscribe&hub.verify_token=guess&hub.challenge=42".to_owned(),
    ] {
        let r = client
            .get(format!("{url}/webhook?{q}"))
            .send()
            .await
            .unwrap();
        responses.push_str(&r.text().await.unwrap());
    }
    let body = violation(1_790_000_000, "SPAM");
    for sig in [
        sign(APP_SECRET, &body),
        sign("wrong", &body),
        "sha256=zz".into(),
    ] {
        let r = client
            .post(format!("{url}/webhook"))
            .header("X-Hub-Signature-256", sig)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        responses.push_str(&r.text().await.unwrap());
    }
    let m = client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&m, "wabaguard_webhooks_received_total"),
        Some(3.0),
        "{m}"
    );
    responses.push_str(&m);
    responses.push_str(
        &client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    w.signal("TERM");
    let (code, logs) = w.finish(Duration::from_secs(30));
    assert_eq!(code, 0, "{logs}");
    assert!(logs.contains("webhook refused"), "{logs}");
    assert!(logs.contains("webhook subscription verified"), "{logs}");
    for secret in [APP_SECRET, VERIFY_TOKEN] {
        assert!(!logs.contains(secret), "secret in logs:\n{logs}");
        assert!(!responses.contains(secret), "secret in a response");
    }
    assert_eq!(stored(&cfg, "lumen").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exports_account_without_waba_id_is_matched_by_its_waba_json() {
    let d = tempfile::tempdir().unwrap();
    config(d.path(), "");
    let text = format!(
        "[reports]\ndir = \"reports\"\n\n[[accounts]]\nname = \"lumen\"\nexports = \"{}\"\n",
        d.path().join("lumen").display()
    );
    let p = d.path().join("config.toml");
    std::fs::write(&p, text).unwrap();
    let cfg = Config::load(&p).unwrap();
    assert!(cfg.accounts[0].waba_id.is_none());
    let s = start(&cfg).await;
    assert_eq!(cfg.server.ack, wabaguard::config::AckMode::Queued);
    // The default acknowledges once queued; the writer stores it just after.
    let (code, r) = s.post_signed(&violation(1_790_000_000, "SPAM")).await;
    assert_eq!(code, 200);
    assert_eq!(r, json!({"queued": 1, "unknown_waba": 0}));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stored(&cfg, "lumen").is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(stored(&cfg, "lumen").len(), 1);
    s.server.shutdown().await;
    assert_eq!(stored(&cfg, "lumen").len(), 1);
}
