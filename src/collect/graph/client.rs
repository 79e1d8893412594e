//! The HTTP side of the Graph source: one shared client for every account,
//! with a global limit on requests in flight, retries with backoff, pacing
//! from the usage headers, and cursor paging that never leaves the configured
//! host.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::Value;
use tracing::{debug, trace, warn};
use url::Url;

use super::error::{GraphError, GraphErrorKind};
use super::policy::{self, ApiError, ErrorClass};
use super::token::Secret;
use crate::config::GraphConfig;

/// Upper bound on pages followed in one listing (a loop guard: 10,000 pages
/// of 100 is far beyond any real WABA).
const MAX_PAGES: usize = 10_000;

/// One account's identity and credentials for requests.
pub struct AccountCtx {
    pub name: String,
    pub waba_id: String,
    pub token: Secret,
    /// "environment variable WABAGUARD_TOKEN_ACME", for messages.
    pub token_origin: String,
    auth: HeaderValue,
}

impl AccountCtx {
    pub fn new(
        name: &str,
        waba_id: &str,
        token: Secret,
        token_origin: String,
    ) -> Result<Self, GraphError> {
        let auth = token.bearer_header().ok_or_else(|| {
            GraphError::new(
                name,
                GraphErrorKind::TokenSource,
                format!("the access token contains characters not allowed in an HTTP header (check {token_origin})"),
            )
        })?;
        Ok(AccountCtx {
            name: name.to_owned(),
            waba_id: waba_id.to_owned(),
            token,
            token_origin,
            auth,
        })
    }

    fn err(&self, kind: GraphErrorKind, message: impl AsRef<str>) -> GraphError {
        GraphError::new(&self.name, kind, self.token.redact(message.as_ref()))
    }
}

/// The shared Graph client. Cheap to clone; clones share the connection
/// pool, the in-flight limit and the pacer.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    version: String,
    cfg: GraphConfig,
    permits: Arc<Limiter>,
    pacer: Pacer,
    progress: ProgressBar,
    sent: AtomicU64,
}

/// How urgent a request is when requests queue for the in-flight limit.
/// Cursor chains are sequential, so a continuation page waiting behind
/// requests that could run at any time (profiles) stretches the whole
/// collection; continuations go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Leaves nothing waits on (business profiles).
    Low = 0,
    /// Nodes and the first page of a listing.
    Normal = 1,
    /// The next page of a cursor chain (and the first template page, which
    /// decides how the listing is split).
    Chain = 2,
}

/// A counting semaphore whose waiters are served by [`Priority`], then in
/// arrival order. It limits requests in flight across every account.
struct Limiter {
    state: std::sync::Mutex<LimiterState>,
}

struct LimiterState {
    available: usize,
    seq: u64,
    waiters: std::collections::BinaryHeap<Waiter>,
}

struct Waiter {
    priority: Priority,
    seq: std::cmp::Reverse<u64>,
    tx: tokio::sync::oneshot::Sender<Permit>,
}

impl PartialEq for Waiter {
    fn eq(&self, o: &Self) -> bool {
        (self.priority, self.seq) == (o.priority, o.seq)
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Waiter {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.priority, self.seq).cmp(&(o.priority, o.seq))
    }
}

/// One request slot; released on drop (also when a waiting task is
/// cancelled after the slot was handed to it).
struct Permit {
    limiter: Option<Arc<Limiter>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(l) = self.limiter.take() {
            l.release();
        }
    }
}

impl Limiter {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Limiter {
            state: std::sync::Mutex::new(LimiterState {
                available: n.max(1),
                seq: 0,
                waiters: std::collections::BinaryHeap::new(),
            }),
        })
    }

    async fn acquire(self: &Arc<Self>, priority: Priority) -> Permit {
        loop {
            let rx = {
                let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if s.available > 0 {
                    s.available -= 1;
                    return Permit {
                        limiter: Some(self.clone()),
                    };
                }
                let (tx, rx) = tokio::sync::oneshot::channel();
                s.seq += 1;
                let seq = std::cmp::Reverse(s.seq);
                s.waiters.push(Waiter { priority, seq, tx });
                rx
            };
            if let Ok(p) = rx.await {
                return p;
            }
        }
    }

    fn release(self: &Arc<Self>) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(w) = s.waiters.pop() {
            let permit = Permit {
                limiter: Some(self.clone()),
            };
            match w.tx.send(permit) {
                Ok(()) => return,
                // The waiter was cancelled: disarm the permit (we hold the
                // lock) and try the next one.
                Err(mut p) => {
                    p.limiter = None;
                }
            }
        }
        s.available += 1;
    }
}

/// Spacing of request starts, driven by the usage headers: a shared "not
/// before" instant (after `estimated_time_to_regain_access`) and a minimum
/// interval between starts once usage passes 80 %.
struct Pacer {
    state: std::sync::Mutex<PacerState>,
}

struct PacerState {
    not_before: Instant,
    last_start: Instant,
    spacing: Duration,
}

impl Pacer {
    fn new() -> Self {
        let now = Instant::now();
        Pacer {
            state: std::sync::Mutex::new(PacerState {
                not_before: now,
                last_start: now,
                spacing: Duration::ZERO,
            }),
        }
    }

    /// Reserves the next start slot; returns how long to wait for it.
    fn reserve(&self) -> Duration {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let start = now.max(s.not_before).max(s.last_start + s.spacing);
        s.last_start = start;
        start - now
    }

    fn observe(&self, usage: policy::Usage, base: Duration, max_wait: Duration) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.spacing = policy::spacing_for(usage.percent, base);
        if let Some(r) = usage.regain_after {
            let until = Instant::now() + r.min(max_wait);
            s.not_before = s.not_before.max(until);
        }
    }
}

/// Why one attempt failed, and whether to try again.
enum Failure {
    Retry {
        kind: GraphErrorKind,
        detail: String,
        after: Option<Duration>,
    },
    Fatal(GraphError),
}

impl GraphClient {
    pub fn new(cfg: &GraphConfig, progress: ProgressBar) -> Result<Self, String> {
        let base = Url::parse(&cfg.base_url).map_err(|e| format!("graph.base_url: {e}"))?;
        let timeout = Duration::from_secs_f64(cfg.timeout_secs);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // Graph does not redirect; a redirect could carry the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wabaguard/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(cfg.max_concurrency.max(1))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))?;
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                base,
                version: cfg.version.trim().to_owned(),
                cfg: cfg.clone(),
                permits: Limiter::new(cfg.max_concurrency),
                pacer: Pacer::new(),
                progress,
                sent: AtomicU64::new(0),
            }),
        })
    }

    pub fn config(&self) -> &GraphConfig {
        &self.inner.cfg
    }

    pub fn version(&self) -> &str {
        &self.inner.version
    }

    /// HTTP requests sent so far (every attempt counts).
    pub fn requests_sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }

    /// `{base}/{version}/{segments...}?{query}`.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut u = self.inner.base.clone();
        {
            let mut p = u.path_segments_mut().expect("http(s) base URL has a path");
            p.clear();
            p.push(&self.inner.version);
            for s in segments {
                p.push(s);
            }
        }
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query.iter().copied());
        }
        u
    }

    /// GET a node or one page; retries per the policy.
    pub async fn get(&self, acct: &AccountCtx, url: Url) -> Result<Value, GraphError> {
        self.get_with(acct, url, Priority::Normal).await
    }

    /// [`GraphClient::get`] with a queueing priority.
    pub async fn get_with(
        &self,
        acct: &AccountCtx,
        url: Url,
        priority: Priority,
    ) -> Result<Value, GraphError> {
        let what = format!("GET {}", url.path());
        let cfg = &self.inner.cfg;
        let base = Duration::from_millis(cfg.backoff_base_ms);
        let cap = Duration::from_millis(cfg.backoff_max_ms.max(cfg.backoff_base_ms));
        let max_wait = Duration::from_secs(cfg.max_wait_secs);
        self.inner.progress.inc_length(1);
        let mut attempt: u32 = 0;
        let result = loop {
            let failure = match self.attempt(acct, &url, &what, priority).await {
                Ok(v) => break Ok(v),
                Err(f) => f,
            };
            let (kind, detail, after) = match failure {
                Failure::Fatal(e) => break Err(e),
                Failure::Retry {
                    kind,
                    detail,
                    after,
                } => (kind, detail, after),
            };
            if attempt >= cfg.max_retries {
                let tries = attempt + 1;
                let msg = match kind {
                    GraphErrorKind::Timeout => format!(
                        "{what} timed out after {} s on all {tries} attempt(s); check the network or proxy, or raise graph.timeout_secs",
                        cfg.timeout_secs
                    ),
                    GraphErrorKind::RateLimited => format!(
                        "{what}: still rate limited by Meta after {tries} attempt(s) ({detail}); wait a while and run again, or lower graph.max_concurrency"
                    ),
                    GraphErrorKind::InvalidResponse => {
                        format!("{what}: {detail} (on all {tries} attempt(s))")
                    }
                    _ => format!(
                        "{what} failed on all {tries} attempt(s); last error: {detail}. The Graph API or the network may be down; try again later"
                    ),
                };
                break Err(acct.err(kind, msg));
            }
            let jitter: f64 = rand::random();
            let mut wait = policy::backoff(attempt, base, cap, jitter);
            if let Some(a) = after {
                if a > max_wait {
                    break Err(acct.err(
                        GraphErrorKind::RateLimited,
                        format!(
                            "{what}: rate limited by Meta ({detail}); Meta asks to wait {} s, more than graph.max_wait_secs ({} s). Run again later",
                            a.as_secs(),
                            cfg.max_wait_secs
                        ),
                    ));
                }
                wait = wait.max(a);
            }
            warn!(
                account = %acct.name,
                attempt = attempt + 1,
                wait_ms = wait.as_millis() as u64,
                "{what}: {}; retrying",
                acct.token.redact(&detail)
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        };
        self.inner.progress.inc(1);
        result
    }

    /// One HTTP attempt, holding one of the global in-flight permits.
    async fn attempt(
        &self,
        acct: &AccountCtx,
        url: &Url,
        what: &str,
        priority: Priority,
    ) -> Result<Value, Failure> {
        let delay = self.inner.pacer.reserve();
        if !delay.is_zero() {
            debug!(account = %acct.name, delay_ms = delay.as_millis() as u64, "pacing: usage is high, waiting");
            tokio::time::sleep(delay).await;
        }
        let permit = self.inner.permits.acquire(priority).await;
        self.inner.sent.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        trace!(account = %acct.name, query = url.query().unwrap_or(""), "{what}");
        let sent = self
            .inner
            .http
            .get(url.clone())
            .header(AUTHORIZATION, acct.auth.clone())
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(transport_failure(e)),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Err(transport_failure(e)),
        };
        drop(permit);
        debug!(
            account = %acct.name,
            status,
            bytes = body.len(),
            ms = started.elapsed().as_millis() as u64,
            "{what}"
        );
        let cfg = &self.inner.cfg;
        let usage = policy::usage(&headers);
        if let Some(u) = usage {
            self.inner.pacer.observe(
                u,
                Duration::from_millis(cfg.backoff_base_ms),
                Duration::from_secs(cfg.max_wait_secs),
            );
            if u.percent >= policy::SLOW_DOWN_AT_PERCENT {
                debug!(account = %acct.name, usage_percent = u.percent, "Graph usage is high; slowing down");
            }
        }
        if (200..300).contains(&status) {
            match serde_json::from_slice::<Value>(&body) {
                Ok(v) if v.get("error").is_none() => return Ok(v),
                Ok(_) => {}
                Err(e) => {
                    return Err(Failure::Retry {
                        kind: GraphErrorKind::InvalidResponse,
                        detail: format!(
                            "the response is not valid JSON (line {}, column {}: {})",
                            e.line(),
                            e.column(),
                            json_reason(&e)
                        ),
                        after: None,
                    });
                }
            }
        }
        let api = ApiError::from_body(&body);
        let class = policy::classify(status, api.as_ref());
        let detail = match &api {
            Some(a) => format!("HTTP {status}: {}", a.describe()),
            None => format!("HTTP {status}{}", body_hint(&body)),
        };
        let detail = acct.token.redact(&detail);
        if class.is_retryable() {
            let mut after = policy::retry_after(&headers);
            if let Some(r) = usage.and_then(|u| u.regain_after) {
                after = Some(after.map_or(r, |a| a.max(r)));
            }
            let kind = if class == ErrorClass::Throttled {
                GraphErrorKind::RateLimited
            } else {
                GraphErrorKind::Unavailable
            };
            return Err(Failure::Retry {
                kind,
                detail,
                after,
            });
        }
        Err(Failure::Fatal(fatal(acct, class, what, &detail)))
    }

    /// Follows `paging.next` from `first` until the last page; returns every
    /// page. Continuation pages queue with [`Priority::Chain`].
    pub async fn list(&self, acct: &AccountCtx, first: Url) -> Result<Vec<Value>, GraphError> {
        self.list_with(acct, first, Priority::Normal).await
    }

    /// [`GraphClient::list`] with the priority of the first page.
    pub async fn list_with(
        &self,
        acct: &AccountCtx,
        first: Url,
        first_priority: Priority,
    ) -> Result<Vec<Value>, GraphError> {
        let mut pages = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut next = Some(first);
        while let Some(url) = next {
            if !seen.insert(url.to_string()) || pages.len() >= MAX_PAGES {
                return Err(acct.err(
                    GraphErrorKind::Refused,
                    format!(
                        "GET {}: paging.next repeats an earlier page; stopped to avoid a loop",
                        url.path()
                    ),
                ));
            }
            let path = url.path().to_owned();
            let priority = if pages.is_empty() {
                first_priority
            } else {
                Priority::Chain
            };
            let page = self.get_with(acct, url, priority).await?;
            if !page.get("data").is_some_and(Value::is_array) {
                return Err(acct.err(
                    GraphErrorKind::InvalidResponse,
                    format!("GET {path}: the response is not a Graph list page (no `data` array)"),
                ));
            }
            next = self.next_page(acct, &page)?;
            pages.push(page);
        }
        Ok(pages)
    }

    /// The `paging.next` link of a page, checked and cleaned: only links to
    /// the configured base URL's scheme, host and port are followed (the token
    /// must never reach another host), and any `access_token` query parameter
    /// is removed (the token travels only in the Authorization header).
    pub fn next_page(&self, acct: &AccountCtx, page: &Value) -> Result<Option<Url>, GraphError> {
        let Some(next) = page.pointer("/paging/next").and_then(Value::as_str) else {
            return Ok(None);
        };
        if next.is_empty() {
            return Ok(None);
        }
        let url = Url::parse(next).map_err(|e| {
            acct.err(
                GraphErrorKind::InvalidResponse,
                format!("paging.next is not a URL ({e})"),
            )
        })?;
        let base = &self.inner.base;
        if url.scheme() != base.scheme()
            || url.host_str() != base.host_str()
            || url.port_or_known_default() != base.port_or_known_default()
        {
            return Err(acct.err(
                GraphErrorKind::Refused,
                format!(
                    "paging.next points to {}://{}, not to graph.base_url {}; refused (the token is only ever sent to the configured host)",
                    url.scheme(),
                    url.host_str().unwrap_or("?"),
                    self.inner.cfg.base_url
                ),
            ));
        }
        Ok(Some(strip_access_token(url)))
    }
}

/// Removes `access_token` query parameters from a URL.
pub fn strip_access_token(mut url: Url) -> Url {
    if !url.query_pairs().any(|(k, _)| k == "access_token") {
        return url;
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "access_token")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url
}

fn transport_failure(e: reqwest::Error) -> Failure {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let t = s.to_string();
        if !detail.contains(&t) {
            detail.push_str(": ");
            detail.push_str(&t);
        }
        src = s.source();
    }
    Failure::Retry {
        kind: if timeout {
            GraphErrorKind::Timeout
        } else {
            GraphErrorKind::Unavailable
        },
        detail,
        after: None,
    }
}

fn json_reason(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// A short hint from a non-JSON error body (proxies answer with HTML).
fn body_hint(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let t: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.is_empty() {
        String::new()
    } else {
        let cut: String = t.chars().take(120).collect();
        format!(" ({cut}{})", if t.chars().count() > 120 { "…" } else { "" })
    }
}

fn fatal(acct: &AccountCtx, class: ErrorClass, what: &str, detail: &str) -> GraphError {
    let (kind, msg) = match class {
        ErrorClass::Token => (
            GraphErrorKind::Auth,
            format!(
                "the Graph API rejected the access token ({what}: {detail}). Check {}: it must hold a valid, unexpired system-user token with the whatsapp_business_management permission. Not retried",
                acct.token_origin
            ),
        ),
        ErrorClass::Permission => (
            GraphErrorKind::Permission,
            format!(
                "the access token has no permission for this request ({what}: {detail}). Check that the system user behind {} was given access to WhatsApp Business Account {} and that the token has whatsapp_business_management. Not retried",
                acct.token_origin, acct.waba_id
            ),
        ),
        ErrorClass::BadParameter => (
            GraphErrorKind::BadParameter,
            format!(
                "Graph rejected the request as invalid ({what}: {detail}). Check waba_id `{}` (the WhatsApp Business Account id, not the business portfolio or app id) and phone_number_ids in the config, and graph.version. Not retried",
                acct.waba_id
            ),
        ),
        _ => (
            GraphErrorKind::Other,
            format!("{what} failed: {detail}. Not retried"),
        ),
    };
    acct.err(kind, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_is_stripped_from_links() {
        let u = Url::parse("https://graph.facebook.com/v21.0/1/message_templates?limit=100&access_token=SECRET&after=QVF").unwrap();
        let s = strip_access_token(u).to_string();
        assert!(!s.contains("SECRET"), "{s}");
        assert!(s.ends_with("?limit=100&after=QVF"), "{s}");
        let only = Url::parse("https://h/x?access_token=SECRET").unwrap();
        assert_eq!(strip_access_token(only).as_str(), "https://h/x");
    }

    #[test]
    fn next_page_only_on_the_configured_host() {
        let cfg = GraphConfig {
            base_url: "http://127.0.0.1:9".into(),
            ..GraphConfig::default()
        };
        let c = GraphClient::new(&cfg, ProgressBar::hidden()).unwrap();
        let acct = AccountCtx::new("acme", "1", Secret::new("tok"), "env".into()).unwrap();
        let same = serde_json::json!({"paging": {"next": "http://127.0.0.1:9/v21.0/1/x?after=A&access_token=tok"}});
        assert_eq!(
            c.next_page(&acct, &same).unwrap().unwrap().as_str(),
            "http://127.0.0.1:9/v21.0/1/x?after=A"
        );
        for other in [
            "http://127.0.0.2:9/v21.0/x",
            "http://127.0.0.1:10/v21.0/x",
            "https://127.0.0.1:9/x",
        ] {
            let p = serde_json::json!({"paging": {"next": other}});
            let e = c.next_page(&acct, &p).unwrap_err();
            assert_eq!(e.kind, GraphErrorKind::Refused, "{other}");
            assert!(e.to_string().contains("acme"));
        }
        assert!(
            c.next_page(&acct, &serde_json::json!({"data": []}))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn pacer_spaces_starts_when_usage_is_high_and_waits_for_regain() {
        let p = Pacer::new();
        assert_eq!(p.reserve(), Duration::ZERO);
        let base = Duration::from_millis(100);
        let hot = policy::Usage {
            percent: 90.0,
            regain_after: None,
        };
        p.observe(hot, base, Duration::from_secs(60));
        // 90 % → 2 × base between starts: the next two starts queue up.
        let a = p.reserve();
        let b = p.reserve();
        assert!(
            a <= Duration::from_millis(200) && a >= Duration::from_millis(150),
            "{a:?}"
        );
        assert!(b >= Duration::from_millis(350), "{b:?}");
        let blocked = policy::Usage {
            percent: 10.0,
            regain_after: Some(Duration::from_secs(600)),
        };
        // Regain time is capped by max_wait.
        p.observe(blocked, base, Duration::from_secs(2));
        let c = p.reserve();
        assert!(
            c > Duration::from_millis(1500) && c <= Duration::from_secs(2),
            "{c:?}"
        );
    }

    #[tokio::test]
    async fn the_limiter_serves_higher_priority_first_then_in_order() {
        let l = Limiter::new(1);
        let held = l.acquire(Priority::Normal).await;
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, p) in [
            (0, Priority::Low),
            (1, Priority::Normal),
            (2, Priority::Chain),
            (3, Priority::Normal),
        ] {
            let (l, order) = (l.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _p = l.acquire(p).await;
                order.lock().unwrap().push(i);
            }));
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A cancelled waiter does not swallow the slot.
        let cancelled = {
            let l = l.clone();
            tokio::spawn(async move {
                let _p = l.acquire(Priority::Chain).await;
                unreachable!("cancelled before it was served");
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        cancelled.abort();
        let _ = cancelled.await;
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [2, 1, 3, 0]);
        assert_eq!(l.state.lock().unwrap().available, 1);
    }

    #[test]
    fn urls_are_versioned() {
        let c = GraphClient::new(&GraphConfig::default(), ProgressBar::hidden()).unwrap();
        assert_eq!(
            c.url(
                &["1022", "phone_numbers"],
                &[("fields", "id,status"), ("limit", "100")]
            )
            .as_str(),
            "https://graph.facebook.com/v21.0/1022/phone_numbers?fields=id%2Cstatus&limit=100"
        );
    }
}
