//! A fake Graph API on loopback (wiremock) that speaks the shapes of
//! REFERENCE §1–§5: versioned paths, bearer auth (190 otherwise), cursor
//! paging with `paging.next`, `status`/`category` filters and
//! `summary=total_count` on `message_templates`, and injected latency.
//! Shared by the integration tests and `examples/bench_graph.rs`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

/// One WABA served by the fake.
#[derive(Clone, Debug, Default)]
pub struct FakeWaba {
    pub id: String,
    /// The bearer token this WABA accepts.
    pub token: String,
    pub node: Value,
    pub templates: Vec<Value>,
    pub numbers: Vec<Value>,
    /// Profile objects by phone number id (missing = empty `data`).
    pub profiles: HashMap<String, Value>,
}

/// Computed answers (status, JSON body) by request.
pub type AnswerCache = Arc<Mutex<HashMap<String, (u16, Vec<u8>)>>>;

#[derive(Clone, Debug)]
pub struct FakeGraph {
    pub version: String,
    pub wabas: Vec<FakeWaba>,
    /// Latency added to every response.
    pub latency: Duration,
    /// Answer `summary=total_count` on message_templates.
    pub summary: bool,
    /// Put `access_token=<token>` into `paging.next` links (as Graph does
    /// when the token came in the query string, or a careless proxy would).
    pub echo_token_in_next: bool,
    /// Page size when the request gives no `limit`.
    pub default_limit: usize,
    /// Headers added to every answer (e.g. `X-App-Usage`).
    pub headers: Vec<(String, String)>,
    /// Answers already computed, by request (the data never changes once the
    /// server runs), so the fake's own CPU time stays out of the benchmark.
    pub cache: AnswerCache,
}

impl Default for FakeGraph {
    fn default() -> Self {
        FakeGraph {
            version: "v21.0".into(),
            wabas: Vec::new(),
            latency: Duration::ZERO,
            summary: true,
            echo_token_in_next: false,
            default_limit: 25,
            headers: Vec::new(),
            cache: Arc::default(),
        }
    }
}

fn graph_error(status: u16, code: i64, message: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AfakeTrace"}}),
    )
}

impl FakeGraph {
    /// Starts a server answering everything through this fake, at the lowest
    /// priority so a test can mount special answers (429, 500, ...) in front.
    pub async fn start(self) -> MockServer {
        let server = MockServer::start().await;
        self.mount(&server).await;
        server
    }

    pub async fn mount(self, server: &MockServer) {
        Mock::given(matchers::any())
            .respond_with(self)
            .with_priority(u8::MAX)
            .mount(server)
            .await;
    }

    fn page(&self, req: &Request, items: Vec<&Value>, token: &str, summary: bool) -> Value {
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        let limit = q
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(self.default_limit)
            .max(1);
        let offset: usize = q
            .get("after")
            .and_then(|a| a.strip_prefix("QVFI"))
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        let total = items.len();
        let end = (offset + limit).min(total);
        let data: Vec<Value> = items
            .get(offset..end)
            .map(|s| s.iter().map(|v| (*v).clone()).collect())
            .unwrap_or_default();
        let mut page = json!({"data": data, "paging": {"cursors": {
            "before": format!("QVFI{offset}"), "after": format!("QVFI{end}")}}});
        if end < total {
            // wiremock's Request::url says "localhost"; link to the address
            // the client really used, as Graph links to its own host.
            let host = req
                .headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            let mut next = req.url.clone();
            let _ = next.set_host(host.split(':').next());
            let _ = next.set_port(host.split(':').nth(1).and_then(|p| p.parse().ok()));
            let kept: Vec<(String, String)> = req
                .url
                .query_pairs()
                .into_owned()
                .filter(|(k, _)| k != "after" && k != "summary" && k != "access_token")
                .collect();
            {
                let mut qp = next.query_pairs_mut();
                qp.clear().extend_pairs(kept);
                if self.echo_token_in_next {
                    qp.append_pair("access_token", token);
                }
                qp.append_pair("after", &format!("QVFI{end}"));
            }
            page["paging"]["next"] = Value::String(next.to_string());
        }
        if summary && self.summary && q.get("summary").is_some_and(|s| s.contains("total_count")) {
            page["summary"] = json!({"total_count": total});
        }
        page
    }
}

impl Respond for FakeGraph {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let key = format!(
            "{:?}|{:?}|{}",
            req.headers.get("host"),
            req.headers.get("authorization"),
            req.url
        );
        let cached = self.cache.lock().unwrap().get(&key).cloned();
        let (status, body) = cached.unwrap_or_else(|| {
            let (status, body) = self.answer(req);
            let bytes = serde_json::to_vec(&body).unwrap();
            self.cache
                .lock()
                .unwrap()
                .insert(key, (status, bytes.clone()));
            (status, bytes)
        });
        let mut r = ResponseTemplate::new(status).set_body_raw(body, "application/json");
        for (k, v) in &self.headers {
            r = r.insert_header(k.as_str(), v.as_str());
        }
        if self.latency.is_zero() {
            r
        } else {
            r.set_delay(self.latency)
        }
    }
}

impl FakeGraph {
    fn answer(&self, req: &Request) -> (u16, Value) {
        let segs: Vec<&str> = req.url.path().trim_matches('/').split('/').collect();
        if segs.first() != Some(&self.version.as_str()) {
            return graph_error(400, 2500, "Unknown path components");
        }
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let bearer = auth.strip_prefix("Bearer ").unwrap_or("");
        let query_token = req.url.query_pairs().any(|(k, _)| k == "access_token");
        // Which WABA does the node belong to?
        let find = |id: &str| -> Option<&FakeWaba> {
            self.wabas.iter().find(|w| {
                w.id == id
                    || w.numbers
                        .iter()
                        .any(|n| n.get("id").and_then(Value::as_str) == Some(id))
            })
        };
        let Some(waba) = segs.get(1).and_then(|id| find(id)) else {
            return graph_error(400, 100, "Unsupported get request. Object does not exist");
        };
        if bearer != waba.token || query_token {
            return graph_error(
                401,
                190,
                "Invalid OAuth access token - Cannot parse access token",
            );
        }
        let q: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
        match (segs.get(1).copied(), segs.get(2).copied()) {
            (Some(id), None) if id == waba.id => (200, waba.node.clone()),
            (Some(id), Some("message_templates")) if id == waba.id => {
                let items: Vec<&Value> = waba
                    .templates
                    .iter()
                    .filter(|t| {
                        q.get("status")
                            .is_none_or(|s| t.get("status").and_then(Value::as_str) == Some(s))
                            && q.get("category").is_none_or(|c| {
                                t.get("category").and_then(Value::as_str) == Some(c)
                            })
                    })
                    .collect();
                (200, self.page(req, items, &waba.token, true))
            }
            (Some(id), Some("phone_numbers")) if id == waba.id => (
                200,
                self.page(req, waba.numbers.iter().collect(), &waba.token, false),
            ),
            (Some(id), Some("whatsapp_business_profile")) => {
                let data: Vec<Value> = waba.profiles.get(id).cloned().into_iter().collect();
                (200, json!({"data": data}))
            }
            _ => graph_error(400, 100, "Unsupported get request"),
        }
    }
}

/// A deterministic account: `n_templates` templates spread over statuses and
/// categories the way a real WABA's are (mostly APPROVED), `n_numbers`
/// numbers, each with a profile.
pub fn generated_waba(id: &str, token: &str, n_templates: usize, n_numbers: usize) -> FakeWaba {
    let statuses = [
        ("APPROVED", 75),
        ("REJECTED", 10),
        ("PENDING", 6),
        ("PAUSED", 5),
        ("DISABLED", 4),
    ];
    let categories = [("MARKETING", 55), ("UTILITY", 35), ("AUTHENTICATION", 10)];
    let pick = |table: &[(&'static str, u32)], x: u32| -> &'static str {
        let mut acc = 0;
        for (v, w) in table {
            acc += w;
            if x % 100 < acc {
                return v;
            }
        }
        table[0].0
    };
    let langs = ["en_US", "es_MX", "pt_BR", "de", "id", "fr", "it", "hi"];
    let templates = (0..n_templates)
        .map(|i| {
            let h = (i as u32).wrapping_mul(2_654_435_761);
            let status = pick(&statuses, h >> 7);
            let category = pick(&categories, h >> 17);
            json!({
                "id": format!("{}", 1_000_000_000_000_000u64 + i as u64),
                "name": format!("template_{i:05}"),
                "language": langs[i % langs.len()],
                "status": status,
                "category": category,
                "parameter_format": "POSITIONAL",
                "components": [
                    {"type": "BODY", "text": format!("Hi {{{{1}}}}, your order {{{{2}}}} number {i} is on its way."),
                     "example": {"body_text": [["Maria", "#4821"]]}},
                    {"type": "FOOTER", "text": "Casa Verde"}
                ],
                "quality_score": {"score": "GREEN", "date": 1_763_900_000}
            })
        })
        .collect();
    let numbers: Vec<Value> = (0..n_numbers)
        .map(|i| {
            json!({"id": format!("{id}{i:04}"),
                   "display_phone_number": format!("+1 415-555-01{:02}", i % 100),
                   "verified_name": "Casa Verde", "code_verification_status": "VERIFIED",
                   "quality_rating": "GREEN", "messaging_limit_tier": "TIER_1K",
                   "whatsapp_business_manager_messaging_limit": "TIER_2K",
                   "status": "CONNECTED", "name_status": "APPROVED", "platform_type": "CLOUD_API",
                   "throughput": {"level": "STANDARD"}, "is_official_business_account": false,
                   "account_mode": "LIVE",
                   "health_status": {"can_send_message": "AVAILABLE", "entities": []}})
        })
        .collect();
    let profiles = numbers
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap_or_default().to_owned(),
                json!({"messaging_product": "whatsapp", "about": "Fresh groceries, delivered.",
                       "address": "1 Market St, San Francisco, CA", "description": "Groceries and home goods for the Bay Area.",
                       "email": "help@casaverde.example", "profile_picture_url": "https://pps.whatsapp.example/p.jpg",
                       "websites": ["https://casaverde.example"], "vertical": "GROCERY"}),
            )
        })
        .collect();
    FakeWaba {
        id: id.to_owned(),
        token: token.to_owned(),
        node: json!({"id": id, "name": "Casa Verde Market", "currency": "USD", "timezone_id": "1",
                     "message_template_namespace": "c8ae5f90_307a_ca4c_b8f6_d1e2a2573574",
                     "account_review_status": "APPROVED", "business_verification_status": "verified",
                     "ownership_type": "CLIENT_OWNED",
                     "health_status": {"can_send_message": "AVAILABLE", "entities": []}}),
        templates,
        numbers,
        profiles,
    }
}

/// The bundled demo account (examples/demo) served live: its WABA node,
/// templates, numbers and profiles exactly as saved.
pub fn demo_waba(token: &str) -> FakeWaba {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    let read = |p: &str| -> Value {
        serde_json::from_slice(&std::fs::read(root.join(p)).expect("demo file")).expect("demo JSON")
    };
    let node = read("waba.json");
    let templates: Vec<Value> = match read("message_templates.json") {
        Value::Array(pages) => pages
            .into_iter()
            .flat_map(|p| p["data"].as_array().cloned().unwrap_or_default())
            .collect(),
        page => page["data"].as_array().cloned().unwrap_or_default(),
    };
    let numbers = read("phone_numbers.json")["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut profiles = HashMap::new();
    for n in &numbers {
        let id = n["id"].as_str().unwrap_or_default().to_owned();
        let f = format!("business_profile/{id}.json");
        if root.join(&f).exists() {
            let v = read(&f);
            profiles.insert(id, v["data"][0].clone());
        }
    }
    FakeWaba {
        id: node["id"].as_str().unwrap_or_default().to_owned(),
        token: token.to_owned(),
        node,
        templates,
        numbers,
        profiles,
    }
}
