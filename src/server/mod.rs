//! The daemon's HTTP side (axum, on the daemon's tokio runtime):
//!
//! - `GET /webhook`: Meta's verification handshake;
//! - `POST /webhook`: signed webhook deliveries → the events store
//!   ([`store`]), critical events → `[[notify]]` at once ([`critical`]);
//! - `GET /healthz`, `GET /metrics` ([`crate::metrics`]).
//!
//! A POST is checked in this order, and nothing is stored unless all pass:
//! `X-Hub-Signature-256` present and well-formed (else 401), body within
//! `max_body_bytes` (else 413), HMAC-SHA256 of the raw body with the app
//! secret, compared in constant time (else 401), JSON (else 400). Then each
//! change whose `entry[].id` is a configured account's `waba_id` is queued
//! for the single store writer; changes for unknown WABAs are counted and
//! logged, not stored. With `ack = "queued"` (the default) the answer goes
//! out as soon as the changes are queued and the writer appends and fsyncs
//! them off the request path; with `ack = "durable"` the answer waits for the
//! writer's fsync, so a 200 means the change is on disk and a store error
//! answers 500. A full queue answers 503 in both modes; Meta retries both.

pub mod critical;
pub mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tracing::{info, warn};

use crate::config::{AckMode, Config, ServerConfig};
use crate::metrics::{Metrics, Rejection};
use store::{Change, Job, StoreWriter};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A secret read from the environment: never printed.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(s: impl Into<Vec<u8>>) -> Secret {
        Secret(s.into())
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The app secret and the verify token.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub app_secret: Secret,
    pub verify_token: Secret,
}

impl Secrets {
    /// Reads both from the variables `[server]` names. The error names the
    /// variable (and the config key), never a value.
    pub fn from_env(s: &ServerConfig) -> Result<Secrets, String> {
        let read = |var: &str, key: &str| match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim().as_bytes())),
            Ok(_) => Err(format!(
                "environment variable `{var}` (server.{key}) is empty; it must hold the secret"
            )),
            Err(_) => Err(format!(
                "environment variable `{var}` (server.{key}) is not set; the webhook receiver needs it"
            )),
        };
        Ok(Secrets {
            app_secret: read(&s.app_secret_env, "app_secret_env")?,
            verify_token: read(&s.verify_token_env, "verify_token_env")?,
        })
    }
}

/// What the handlers share.
struct AppState {
    secrets: Secrets,
    /// WABA id → account index.
    wabas: HashMap<String, usize>,
    accounts: Vec<String>,
    mask: bool,
    max_body: usize,
    ack: AckMode,
    tx: tokio::sync::mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
}

/// A running server. Dropping it without [`Server::shutdown`] leaves the
/// tasks running until the runtime ends.
pub struct Server {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    writer: std::thread::JoinHandle<()>,
    notifier: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts serving on `listener` (already bound, so start-up errors such
    /// as a taken port are the caller's to report). Must run inside a
    /// tokio runtime.
    pub fn start(
        cfg: &Config,
        secrets: Secrets,
        listener: tokio::net::TcpListener,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        let sc = &cfg.server;
        let accounts: Vec<String> = cfg.accounts.iter().map(|a| a.name.clone()).collect();
        let mut wabas: HashMap<String, usize> = HashMap::new();
        for (i, a) in cfg.accounts.iter().enumerate() {
            match account_waba(cfg, a) {
                Some(w) => {
                    if let Some(other) = wabas.insert(w.clone(), i) {
                        warn!(waba_id = %w, account = %a.name, other = %cfg.accounts[other].name, "two accounts have the same WABA id: webhooks go to the later one");
                    }
                }
                None => {
                    warn!(account = %a.name, "account has no waba_id (config or the export's waba.json): webhooks cannot be matched to it")
                }
            }
        }
        let writer = StoreWriter::open(
            &cfg.reports_dir(),
            &accounts,
            sc.segment_bytes,
            sc.dedupe_capacity,
            Arc::clone(&metrics),
        );
        let (tx, rx) = tokio::sync::mpsc::channel(sc.queue_capacity);
        let (ctx, crx) = tokio::sync::mpsc::channel(1024);
        let writer = store::spawn_writer(writer, rx, ctx)?;
        let notifier = tokio::spawn(critical::notifier(
            cfg.notify.clone(),
            crx,
            Arc::clone(&metrics),
        ));
        let state = Arc::new(AppState {
            secrets,
            wabas,
            accounts,
            mask: cfg.reports.mask_phone_numbers,
            max_body: sc.max_body_bytes,
            ack: sc.ack,
            tx,
            metrics,
        });
        let app = router(state);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let http = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        info!(listen = %addr, "webhook receiver listening (GET/POST /webhook, GET /healthz, GET /metrics)");
        Ok(Server {
            addr,
            stop,
            http,
            writer,
            notifier,
        })
    }

    /// Stops accepting, finishes the requests in progress, lets the writer
    /// store what was queued, and waits for pending critical notifications.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        match self.http.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "webhook server stopped with an error"),
            Err(e) => warn!(error = %e, "webhook server task failed"),
        }
        // The router (and with it the last queue sender) is gone now: the
        // writer drains the queue and ends.
        let writer = self.writer;
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        let _ = self.notifier.await;
        info!("webhook receiver stopped");
    }
}

/// The account's WABA id: `waba_id` in the config, else the `id` of its
/// export's `waba.json`.
fn account_waba(cfg: &Config, a: &crate::config::AccountConfig) -> Option<String> {
    if let Some(w) = a
        .waba_id
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        return Some(w.to_owned());
    }
    let path = cfg.resolve(a.exports.as_ref()?).join("waba.json");
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    match v.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/webhook", get(verify).post(receive))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body.into(),
    )
        .into_response()
}

/// Longest `hub.challenge` echoed (Meta's are short numbers).
const MAX_CHALLENGE: usize = 512;

async fn verify(State(st): State<Arc<AppState>>, RawQuery(q): RawQuery) -> Response {
    let q = q.unwrap_or_default();
    let mut mode = None;
    let mut token = None;
    let mut challenge = None;
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        match k.as_ref() {
            "hub.mode" => mode = Some(v.into_owned()),
            "hub.verify_token" => token = Some(v.into_owned()),
            "hub.challenge" => challenge = Some(v.into_owned()),
            _ => {}
        }
    }
    let token_ok = token
        .as_deref()
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(st.secrets.verify_token.bytes())));
    match (mode.as_deref(), challenge) {
        (Some("subscribe"), Some(c)) if token_ok && c.len() <= MAX_CHALLENGE => {
            info!("webhook subscription verified");
            text(StatusCode::OK, c)
        }
        _ => {
            warn!(
                mode = mode.as_deref().unwrap_or("-"),
                token_matches = token_ok,
                "webhook verification refused"
            );
            text(StatusCode::FORBIDDEN, "verification failed\n")
        }
    }
}

/// The signature header's digest, when well-formed.
fn parse_signature(h: &HeaderValue) -> Option<[u8; 32]> {
    let s = h.to_str().ok()?.trim();
    let hex_part = s.strip_prefix("sha256=")?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out).ok()?;
    Some(out)
}

fn reject(st: &AppState, why: Rejection, status: StatusCode, msg: &str) -> Response {
    st.metrics.reject(why);
    warn!(
        reason = why.as_str(),
        status = status.as_u16(),
        "webhook refused"
    );
    text(status, format!("{msg}\n"))
}

async fn receive(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    st.metrics.webhooks_received.inc();
    let Some(sig) = headers.get("x-hub-signature-256") else {
        return reject(
            &st,
            Rejection::MissingSignature,
            StatusCode::UNAUTHORIZED,
            "missing X-Hub-Signature-256",
        );
    };
    let Some(sig) = parse_signature(sig) else {
        return reject(
            &st,
            Rejection::BadSignature,
            StatusCode::UNAUTHORIZED,
            "malformed X-Hub-Signature-256",
        );
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > st.max_body as u64) {
        return reject(
            &st,
            Rejection::TooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body too large",
        );
    }
    let bytes: Bytes = match axum::body::to_bytes(body, st.max_body).await {
        Ok(b) => b,
        Err(_) => {
            return reject(
                &st,
                Rejection::TooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                "body too large or cut short",
            );
        }
    };
    let mut mac = match HmacSha256::new_from_slice(st.secrets.app_secret.bytes()) {
        Ok(m) => m,
        Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "bad key\n"),
    };
    mac.update(&bytes);
    if mac.verify_slice(&sig).is_err() {
        return reject(
            &st,
            Rejection::BadSignature,
            StatusCode::UNAUTHORIZED,
            "signature does not match",
        );
    }
    // Authentic from here on: parse.
    let env: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            st.metrics.reject(Rejection::MalformedJson);
            warn!(error = %e, "webhook refused: body is not JSON");
            return text(StatusCode::BAD_REQUEST, "body is not JSON\n");
        }
    };
    let Some(entries) = env.get("entry").and_then(Value::as_array) else {
        st.metrics.reject(Rejection::MalformedJson);
        warn!("webhook refused: no `entry` array");
        return text(StatusCode::BAD_REQUEST, "no `entry` array\n");
    };
    let object = env
        .get("object")
        .and_then(Value::as_str)
        .unwrap_or("whatsapp_business_account");
    if object != "whatsapp_business_account" {
        info!(object, "webhook for another product ignored");
        return json_ok(0, 0, 0);
    }
    let now = chrono::Utc::now().timestamp();
    let mut changes = Vec::new();
    let mut unknown = 0usize;
    for entry in entries {
        let id = match entry.get("id") {
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let list: &[Value] = entry
            .get("changes")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let Some(&account) = st.wabas.get(&id) else {
            unknown += list.len();
            st.metrics.events_unknown_waba.inc_by(list.len() as u64);
            warn!(waba_id = %id, changes = list.len(), "webhook for a WABA no configured account has; not stored");
            continue;
        };
        // Meta always sends `time`; without one, the receipt time stands in.
        let time = entry
            .get("time")
            .and_then(crate::collect::events::value_time)
            .unwrap_or(now);
        for ch in list {
            let field = ch.get("field").and_then(Value::as_str).unwrap_or_default();
            let value = ch.get("value").cloned().unwrap_or(Value::Null);
            let key = crate::collect::events::dedup_key(field, &id, time, &value);
            let critical =
                critical::classify(&st.accounts[account], &id, time, field, &value, st.mask);
            let line = json!({
                "object": "whatsapp_business_account",
                "entry": [{"id": id, "time": time, "changes": [{"field": field, "value": value}]}],
            });
            changes.push(Change {
                account,
                key,
                line: serde_json::to_vec(&line).unwrap_or_default(),
                critical,
            });
        }
    }
    if changes.is_empty() {
        return json_ok(0, 0, unknown);
    }
    let n = changes.len();
    let (ack, done) = match st.ack {
        AckMode::Durable => {
            let (a, d) = tokio::sync::oneshot::channel();
            (Some(a), Some(d))
        }
        AckMode::Queued => (None, None),
    };
    st.metrics.queue_depth.inc();
    if st.tx.try_send(Job { changes, ack }).is_err() {
        st.metrics.queue_depth.dec();
        st.metrics.reject(Rejection::QueueFull);
        warn!(
            changes = n,
            "webhook refused with 503: the store writer's queue is full (Meta retries)"
        );
        let mut r = text(StatusCode::SERVICE_UNAVAILABLE, "busy, retry later\n");
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    }
    let Some(done) = done else {
        return (
            StatusCode::OK,
            axum::Json(json!({"queued": n, "unknown_waba": unknown})),
        )
            .into_response();
    };
    match done.await {
        Ok(Ok(s)) => json_ok(s.appended, s.duplicates, unknown),
        Ok(Err(e)) => {
            st.metrics.reject(Rejection::StoreError);
            warn!(error = %e, "webhook refused with 500: not stored (Meta retries)");
            text(StatusCode::INTERNAL_SERVER_ERROR, "could not store\n")
        }
        Err(_) => {
            st.metrics.reject(Rejection::StoreError);
            text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
        }
    }
}

fn json_ok(appended: usize, duplicates: usize, unknown: usize) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({
            "appended": appended,
            "duplicates": duplicates,
            "unknown_waba": unknown,
        })),
    )
        .into_response()
}

async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    let last = st.metrics.last_success.get();
    let last = (last > 0.0)
        .then(|| chrono::DateTime::from_timestamp(last as i64, 0))
        .flatten()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    (
        StatusCode::OK,
        axum::Json(json!({
            "ok": true,
            "last_successful_run": last,
            "webhook_queue": st.metrics.queue_depth.get(),
        })),
    )
        .into_response()
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        st.metrics.render(),
    )
        .into_response()
}
