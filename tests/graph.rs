//! The Graph API source against a fake Graph server on loopback (wiremock):
//! paging, retries, throttling, errors that must not be retried, timeouts,
//! unknown values, the status split, parallel accounts and the snapshot
//! round trip. No test touches the real internet.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::fake_graph::{FakeGraph, FakeWaba, demo_waba, generated_waba};
use serde_json::{Value, json};
use wabaguard::collect::graph::GraphErrorKind;
use wabaguard::collect::{self, CollectError, CollectOptions, Collected, exports};
use wabaguard::config::Config;
use wabaguard::report::AccountStatus;
use wabaguard::rulepack::RulePack;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "EAAGtestTOKENvalue0123456789";

/// Writes config.toml (and one token file per account) into `dir`.
fn config(
    dir: &Path,
    server: &MockServer,
    graph_extra: &str,
    accounts: &[(&str, &str, &str)],
) -> Config {
    // Defaults for tests (short backoffs), overridden by `graph_extra` lines.
    let mut graph: Vec<(String, String)> = [
        ("base_url", format!("\"{}\"", server.uri())),
        ("timeout_secs", "2".into()),
        ("max_concurrency", "8".into()),
        ("max_retries", "3".into()),
        ("backoff_base_ms", "5".into()),
        ("backoff_max_ms", "40".into()),
        ("page_size", "100".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for line in graph_extra.lines().filter(|l| l.contains('=')) {
        let (k, v) = line.split_once('=').unwrap();
        let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
        match graph.iter_mut().find(|(gk, _)| *gk == k) {
            Some(e) => e.1 = v,
            None => graph.push((k, v)),
        }
    }
    let mut text = String::from("[graph]\n");
    for (k, v) in graph {
        text.push_str(&format!("{k} = {v}\n"));
    }
    for (name, waba, token) in accounts {
        std::fs::write(dir.join(format!("{name}.token")), format!("{token}\n")).unwrap();
        text.push_str(&format!(
            "[[accounts]]\nname = \"{name}\"\nwaba_id = \"{waba}\"\ntoken_file = \"{name}.token\"\n"
        ));
    }
    let p = dir.join("config.toml");
    std::fs::write(&p, &text).unwrap();
    Config::load(&p).unwrap()
}

async fn collect_one(cfg: &Config) -> Result<Collected, CollectError> {
    let accounts: Vec<_> = cfg.accounts.iter().collect();
    collect::collect_all_async(cfg, &accounts, &CollectOptions::default())
        .await
        .pop()
        .unwrap()
}

fn graph_err(r: Result<Collected, CollectError>) -> wabaguard::collect::graph::GraphError {
    match r {
        Err(CollectError::Graph(e)) => e,
        Err(e) => panic!("expected a Graph error, got {e}"),
        Ok(_) => panic!("expected a Graph error, got a snapshot"),
    }
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn one_waba(w: FakeWaba) -> FakeGraph {
    FakeGraph {
        wabas: vec![w],
        ..FakeGraph::default()
    }
}

#[tokio::test]
async fn templates_are_collected_across_three_pages_via_paging_next() {
    let fake = FakeGraph {
        summary: false,
        // The fake answers 190 if the token ever arrives in the query string.
        echo_token_in_next: true,
        ..one_waba(generated_waba("1022", TOKEN, 230, 2))
    };
    let server = fake.start().await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let c = collect_one(&cfg).await.unwrap();
    assert_eq!(c.snapshot.templates.len(), 230);
    assert_eq!(c.snapshot.templates[229].name, "template_00229");
    assert_eq!(c.snapshot.phone_numbers.len(), 2);
    assert_eq!(c.snapshot.profiles.len(), 2);
    assert_eq!(
        c.snapshot.waba.as_ref().unwrap().name.as_deref(),
        Some("Casa Verde Market")
    );

    let pages = requests_to(&server, "/v21.0/1022/message_templates").await;
    assert_eq!(pages.len(), 3, "three pages, each requested once");
    for r in server.received_requests().await.unwrap() {
        assert_eq!(
            r.headers.get("authorization").unwrap().to_str().unwrap(),
            format!("Bearer {TOKEN}")
        );
        assert!(!r.url.as_str().contains(TOKEN), "token in a URL: {}", r.url);
    }
    // The listing asks for the fields the checks need.
    let fields: String = pages[0]
        .url
        .query_pairs()
        .find(|(k, _)| k == "fields")
        .unwrap()
        .1
        .into_owned();
    for f in [
        "name",
        "language",
        "status",
        "category",
        "previous_category",
        "components",
        "quality_score",
        "rejected_reason",
    ] {
        assert!(
            fields.split(',').any(|x| x == f),
            "{f} missing from {fields}"
        );
    }
    let numbers = requests_to(&server, "/v21.0/1022/phone_numbers").await;
    let nf = numbers[0]
        .url
        .query_pairs()
        .find(|(k, _)| k == "fields")
        .unwrap()
        .1
        .into_owned();
    for f in [
        "quality_rating",
        "messaging_limit_tier",
        "whatsapp_business_manager_messaging_limit",
        "status",
        "name_status",
        "code_verification_status",
        "verified_name",
        "display_phone_number",
        "health_status",
    ] {
        assert!(nf.split(',').any(|x| x == f), "{f} missing from {nf}");
    }
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_succeeds() {
    let server = one_waba(generated_waba("1022", TOKEN, 3, 1)).start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/1022"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": {"message": "(#80007) Rate limit hit", "code": 80007, "type": "OAuthException"}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let t = Instant::now();
    let c = collect_one(&cfg).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "Retry-After ignored: {:?}",
        t.elapsed()
    );
    assert_eq!(c.snapshot.waba.unwrap().id.as_deref(), Some("1022"));
    assert_eq!(requests_to(&server, "/v21.0/1022").await.len(), 2);
}

#[tokio::test]
async fn two_500s_are_retried_then_succeed() {
    let server = one_waba(generated_waba("1022", TOKEN, 150, 1))
        .start()
        .await;
    Mock::given(method("GET"))
        .and(path("/v21.0/1022/message_templates"))
        .respond_with(
            ResponseTemplate::new(500).set_body_string("<html>Internal Server Error</html>"),
        )
        .up_to_n_times(2)
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let c = collect_one(&cfg).await.unwrap();
    assert_eq!(c.snapshot.templates.len(), 150);
    // 2 failures + first page + second page.
    assert_eq!(
        requests_to(&server, "/v21.0/1022/message_templates")
            .await
            .len(),
        4
    );
}

#[tokio::test]
async fn graph_throttling_codes_in_a_400_are_retried() {
    let server = one_waba(generated_waba("1022", TOKEN, 3, 1)).start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/1022/phone_numbers"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#80008) There have been too many calls to this WhatsApp Business account.",
            "code": 80008, "type": "OAuthException"}})))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let c = collect_one(&cfg).await.unwrap();
    assert_eq!(c.snapshot.phone_numbers.len(), 1);
    assert_eq!(
        requests_to(&server, "/v21.0/1022/phone_numbers")
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn an_invalid_token_190_is_not_retried_and_the_error_says_what_to_check() {
    let server = one_waba(generated_waba("1022", TOKEN, 3, 1)).start().await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        &server,
        "",
        &[("acme-eu", "1022", "EAAGexpiredTOKEN999")],
    );
    let e = graph_err(collect_one(&cfg).await);
    assert_eq!(e.kind, GraphErrorKind::Auth);
    let msg = e.to_string();
    assert!(msg.starts_with("account `acme-eu`: "), "{msg}");
    assert!(msg.contains("code 190"), "{msg}");
    assert!(msg.contains("acme-eu.token"), "names the token file: {msg}");
    assert!(msg.contains("whatsapp_business_management"), "{msg}");
    assert!(!msg.contains("EAAGexpiredTOKEN999"), "{msg}");
    let all = server.received_requests().await.unwrap();
    let mut paths: Vec<String> = all.iter().map(|r| r.url.path().to_owned()).collect();
    paths.sort();
    let n = paths.len();
    paths.dedup();
    assert_eq!(n, paths.len(), "a request was retried: {paths:?}");
}

#[tokio::test]
async fn a_permission_error_is_not_retried_and_names_the_waba() {
    let server = one_waba(generated_waba("1022", TOKEN, 3, 1)).start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/1022/message_templates"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "message": "(#200) Requires whatsapp_business_management permission", "code": 200, "type": "OAuthException"}})))
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let e = graph_err(collect_one(&cfg).await);
    assert_eq!(e.kind, GraphErrorKind::Permission);
    assert!(e.message.contains("1022"), "{e}");
    assert_eq!(
        requests_to(&server, "/v21.0/1022/message_templates")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_wrong_waba_id_is_a_bad_parameter_error() {
    let server = one_waba(generated_waba("1022", TOKEN, 3, 1)).start().await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "99999", TOKEN)]);
    let e = graph_err(collect_one(&cfg).await);
    assert_eq!(e.kind, GraphErrorKind::BadParameter);
    assert!(e.message.contains("waba_id `99999`"), "{e}");
}

#[tokio::test]
async fn a_malformed_json_body_is_retried_then_reported() {
    let server = one_waba(generated_waba("1022", TOKEN, 3, 1)).start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/1022/phone_numbers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("{\"data\": [{\"id\": \"1\",", "application/json"),
        )
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let e = graph_err(collect_one(&cfg).await);
    assert_eq!(e.kind, GraphErrorKind::InvalidResponse);
    let msg = e.to_string();
    assert!(msg.contains("account `acme`"), "{msg}");
    assert!(msg.contains("/v21.0/1022/phone_numbers"), "{msg}");
    assert!(msg.contains("not valid JSON"), "{msg}");
    // max_retries = 3: four attempts.
    assert_eq!(
        requests_to(&server, "/v21.0/1022/phone_numbers")
            .await
            .len(),
        4
    );
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_is_retried_then_fails() {
    let server = one_waba(generated_waba("1022", TOKEN, 3, 1)).start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/1022"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "1022"}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        &server,
        "timeout_secs = 0.3\nmax_retries = 1\n",
        &[("acme", "1022", TOKEN)],
    );
    let t = Instant::now();
    let e = graph_err(collect_one(&cfg).await);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "did not time out: {:?}",
        t.elapsed()
    );
    assert_eq!(e.kind, GraphErrorKind::Timeout);
    assert!(
        e.message
            .contains("timed out after 0.3 s on all 2 attempt(s)"),
        "{e}"
    );
}

#[tokio::test]
async fn a_slow_first_answer_is_retried_and_the_second_succeeds() {
    let server = one_waba(generated_waba("1022", TOKEN, 3, 1)).start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/1022"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "1022"}))
                .set_delay(Duration::from_secs(5)),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        &server,
        "timeout_secs = 0.3\n",
        &[("acme", "1022", TOKEN)],
    );
    let c = collect_one(&cfg).await.unwrap();
    assert_eq!(
        c.snapshot.waba.unwrap().name.as_deref(),
        Some("Casa Verde Market")
    );
}

#[tokio::test]
async fn unknown_fields_and_enum_values_are_kept_and_not_fatal() {
    let mut w = generated_waba("1022", TOKEN, 2, 1);
    w.templates[0]["status"] = json!("SOMETHING_NEW_2027");
    w.templates[0]["brand_new_field"] = json!({"nested": [1, 2]});
    w.templates[1]["category"] = json!("CONVERSATIONAL");
    w.numbers[0]["quality_rating"] = json!("PURPLE");
    w.numbers[0]["future_flag"] = json!(true);
    let server = one_waba(w).start().await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let c = collect_one(&cfg).await.unwrap();
    assert_eq!(
        c.snapshot.templates[0].status.as_deref(),
        Some("SOMETHING_NEW_2027")
    );
    assert_eq!(
        c.snapshot.templates[1].category.as_deref(),
        Some("CONVERSATIONAL")
    );
    assert_eq!(
        c.snapshot.phone_numbers[0].quality_rating.as_deref(),
        Some("PURPLE")
    );
    // The saved pages keep what the model does not know.
    let files = c.export.unwrap();
    let page = files
        .iter()
        .find(|(p, _)| p.starts_with("message_templates"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .unwrap();
    assert!(page.contains("brand_new_field"), "{page}");
    let numbers = files
        .iter()
        .find(|(p, _)| p == Path::new("phone_numbers.json"))
        .unwrap();
    assert!(String::from_utf8_lossy(&numbers.1).contains("future_flag"));
    // And the account audits.
    let pack = RulePack::builtin().unwrap();
    let report = wabaguard::audit::audit_collected(
        &cfg,
        &pack,
        chrono::Utc::now(),
        vec![Ok(c.snapshot)],
        None,
    );
    assert_eq!(report.accounts[0].status, AccountStatus::Audited);
}

#[tokio::test]
async fn a_large_listing_is_split_by_status_and_is_complete() {
    let server = one_waba(generated_waba("1022", TOKEN, 2000, 3))
        .start()
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let c = collect_one(&cfg).await.unwrap();
    let mut ids: Vec<&str> = c
        .snapshot
        .templates
        .iter()
        .map(|t| t.id.as_deref().unwrap())
        .collect();
    assert_eq!(ids.len(), 2000);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 2000, "duplicates");
    let reqs = requests_to(&server, "/v21.0/1022/message_templates").await;
    assert!(reqs.iter().any(|r| {
        r.url
            .query_pairs()
            .any(|(k, v)| k == "status" && v == "REJECTED")
    }));
    assert!(reqs.iter().any(|r| {
        r.url
            .query_pairs()
            .any(|(k, v)| k == "category" && v == "MARKETING")
    }));
    // No unfiltered page after the first: the split was trusted.
    let unfiltered = reqs
        .iter()
        .filter(|r| !r.url.query_pairs().any(|(k, _)| k == "status"))
        .count();
    assert_eq!(unfiltered, 1);
}

#[tokio::test]
async fn a_split_missing_an_unknown_status_falls_back_to_the_full_listing() {
    let mut w = generated_waba("1022", TOKEN, 600, 1);
    for t in w.templates.iter_mut().take(7) {
        t["status"] = json!("QUARANTINED_2027");
    }
    let server = one_waba(w).start().await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let c = collect_one(&cfg).await.unwrap();
    assert_eq!(c.snapshot.templates.len(), 600);
    assert_eq!(
        c.snapshot
            .templates
            .iter()
            .filter(|t| t.status.as_deref() == Some("QUARANTINED_2027"))
            .count(),
        7
    );
    // The saved pages are the unfiltered ones (the same 600 templates).
    let saved: usize = c
        .export
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("message_templates"))
        .map(|(_, b)| {
            serde_json::from_slice::<Value>(b).unwrap()["data"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(saved, 600);
}

#[tokio::test]
async fn paging_next_to_another_host_is_refused_and_never_gets_the_token() {
    let other = MockServer::start().await;
    let server = one_waba(generated_waba("1022", TOKEN, 3, 1)).start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/1022/message_templates"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "1", "name": "a", "language": "en_US"}],
            "paging": {"next": format!("{}/v21.0/1022/message_templates?after=QVFI1", other.uri())}})))
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let e = graph_err(collect_one(&cfg).await);
    assert_eq!(e.kind, GraphErrorKind::Refused);
    assert!(other.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn phone_number_ids_limit_the_numbers_and_unknown_ids_are_noted() {
    let w = generated_waba("1022", TOKEN, 3, 3);
    let keep = w.numbers[1]["id"].as_str().unwrap().to_owned();
    let server = one_waba(w).start().await;
    let d = tempfile::tempdir().unwrap();
    let mut cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    cfg.accounts[0].phone_number_ids = vec![keep.clone(), "555".into()];
    let c = collect_one(&cfg).await.unwrap();
    assert_eq!(c.snapshot.phone_numbers.len(), 1);
    assert_eq!(
        c.snapshot.phone_numbers[0].id.as_deref(),
        Some(keep.as_str())
    );
    assert_eq!(c.snapshot.profiles.keys().collect::<Vec<_>>(), [&keep]);
    assert!(
        c.snapshot
            .notes
            .iter()
            .any(|n| n.message.contains("phone number 555")),
        "{:?}",
        c.snapshot.notes
    );
    // Only the kept number's profile was requested.
    let profiles = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with("/whatsapp_business_profile"))
        .count();
    assert_eq!(profiles, 1);
}

#[tokio::test]
async fn an_unreadable_profile_is_a_warning_not_a_failure() {
    let w = generated_waba("1022", TOKEN, 3, 2);
    let bad = w.numbers[0]["id"].as_str().unwrap().to_owned();
    let server = one_waba(w).start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{bad}/whatsapp_business_profile")))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(
                json!({"error": {"message": "(#100) Invalid parameter", "code": 100}}),
            ),
        )
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let c = collect_one(&cfg).await.unwrap();
    assert_eq!(c.snapshot.profiles.len(), 1);
    assert!(
        c.snapshot
            .notes
            .iter()
            .any(|n| n.message.contains(&bad) && n.message.contains("could not be read"))
    );
}

#[tokio::test]
async fn the_usage_headers_slow_requests_down_before_the_limit() {
    async fn timed(headers: Vec<(String, String)>) -> Duration {
        let fake = FakeGraph {
            summary: false,
            headers,
            ..one_waba(generated_waba("1022", TOKEN, 50, 0))
        };
        let server = fake.start().await;
        let d = tempfile::tempdir().unwrap();
        // Pages of 10: 5 sequential template pages.
        let cfg = config(
            d.path(),
            &server,
            "backoff_base_ms = 50\npage_size = 10\n",
            &[("acme", "1022", TOKEN)],
        );
        let t = Instant::now();
        let c = collect_one(&cfg).await.unwrap();
        assert_eq!(c.snapshot.templates.len(), 50);
        t.elapsed()
    }
    let relaxed = timed(vec![(
        "x-app-usage".into(),
        r#"{"call_count": 20, "total_time": 10, "total_cputime": 5}"#.into(),
    )])
    .await;
    // 95 % of the business use case budget: request starts are spaced by
    // 3 × 50 ms, so the 4 pages after the first take ≥ 600 ms.
    let hot = timed(vec![(
        "x-business-use-case-usage".into(),
        r#"{"1022": [{"type": "whatsapp_business_management", "call_count": 95, "total_cputime": 10, "total_time": 10, "estimated_time_to_regain_access": 0}]}"#.into(),
    )])
    .await;
    assert!(
        relaxed + Duration::from_millis(300) < hot,
        "relaxed {relaxed:?}, hot {hot:?}"
    );
    assert!(hot >= Duration::from_millis(580), "no slow-down: {hot:?}");
}

#[tokio::test]
async fn three_accounts_one_failing_two_are_audited() {
    let fake = FakeGraph {
        wabas: vec![
            generated_waba("1001", "TOKEN_A", 120, 2),
            generated_waba("1002", "TOKEN_B", 40, 1),
            generated_waba("1003", "TOKEN_C", 10, 1),
        ],
        ..FakeGraph::default()
    };
    let server = fake.start().await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(
        d.path(),
        &server,
        "",
        &[
            ("alpha", "1001", "TOKEN_A"),
            ("beta", "1002", "TOKEN_WRONG"),
            ("gamma", "1003", "TOKEN_C"),
        ],
    );
    let pack = RulePack::builtin().unwrap();
    let cfg2 = cfg.clone();
    let report = tokio::task::spawn_blocking(move || {
        wabaguard::audit::audit(&cfg2, &pack, chrono::Utc::now())
    })
    .await
    .unwrap();
    let status: Vec<_> = report
        .accounts
        .iter()
        .map(|a| (a.name.as_str(), a.status))
        .collect();
    assert_eq!(
        status,
        [
            ("alpha", AccountStatus::Audited),
            ("beta", AccountStatus::Failed),
            ("gamma", AccountStatus::Audited)
        ]
    );
    assert_eq!(report.accounts[0].templates, 120);
    let err = report.accounts[1].error.as_deref().unwrap();
    assert!(
        err.contains("account `beta`") && err.contains("190"),
        "{err}"
    );
}

#[tokio::test]
async fn a_snapshot_reads_back_through_the_exports_source_identically() {
    let demo = demo_waba(TOKEN);
    let waba_id = demo.id.clone();
    let n_templates = demo.templates.len();
    let server = FakeGraph {
        echo_token_in_next: true,
        ..one_waba(demo)
    }
    .start()
    .await;
    let d = tempfile::tempdir().unwrap();
    // Pages of 7: 40 templates → the split path with several chains.
    let cfg = config(
        d.path(),
        &server,
        "page_size = 7\n",
        &[("casa-verde", &waba_id, TOKEN)],
    );
    let c = collect_one(&cfg).await.unwrap();
    assert_eq!(c.snapshot.templates.len(), n_templates);
    let out = d.path().join("snap");
    for (rel, bytes) in c.export.as_ref().unwrap() {
        let p = out.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
        assert!(
            !String::from_utf8_lossy(bytes).contains(TOKEN),
            "{}",
            rel.display()
        );
    }
    let mut live = c.snapshot;
    let mut replay = exports::collect("casa-verde", Some(&waba_id), &out).unwrap();
    assert_eq!(live.source, wabaguard::snapshot::SourceKind::Graph);
    assert_eq!(replay.source, wabaguard::snapshot::SourceKind::Exports);
    live.source = replay.source;
    live.notes.clear();
    replay.notes.clear();
    assert_eq!(live, replay);
    // And the replay equals the bundled demo export itself.
    let mut original = exports::collect(
        "casa-verde",
        Some(&waba_id),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo"),
    )
    .unwrap();
    original.notes.clear();
    let key = |t: &wabaguard::snapshot::Template| (t.name.clone(), t.language.clone());
    let mut a = original.templates.clone();
    let mut b = replay.templates.clone();
    a.sort_by_key(key);
    b.sort_by_key(key);
    assert_eq!(a, b);
    assert_eq!(original.waba, replay.waba);
    assert_eq!(original.phone_numbers, replay.phone_numbers);
    assert_eq!(original.profiles, replay.profiles);
}

#[test]
fn write_run_with_puts_extra_files_inside_the_run_folder_and_rejects_escapes() {
    use std::path::PathBuf;
    use wabaguard::report::{Report, RulesInfo, write_run_with};
    let d = tempfile::tempdir().unwrap();
    let rules = RulesInfo {
        pack: "p".into(),
        version: "1".into(),
        digest: "d".into(),
    };
    let mut r = Report::new("20261125T000000Z".into(), chrono::Utc::now(), rules);
    let extra = vec![(PathBuf::from("snapshots/acme/waba.json"), b"{}".to_vec())];
    let dir = write_run_with(&mut r, d.path(), &extra).unwrap();
    assert_eq!(
        std::fs::read(dir.join("snapshots/acme/waba.json")).unwrap(),
        b"{}"
    );
    assert!(dir.join("report.json").is_file());
    for bad in ["../escape.json", "/abs.json", ""] {
        let e = write_run_with(&mut r, d.path(), &[(PathBuf::from(bad), Vec::new())]);
        assert!(e.is_err(), "{bad:?}");
    }
    assert!(!d.path().join("escape.json").exists());
    // Only the one run folder exists, no temporary leftovers.
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn a_field_unknown_to_the_api_version_is_dropped_and_noted() {
    let server = one_waba(generated_waba("1022", TOKEN, 3, 2)).start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/1022/phone_numbers"))
        .and(|r: &wiremock::Request| {
            r.url
                .query_pairs()
                .any(|(k, v)| k == "fields" && v.contains("whatsapp_business_manager_messaging_limit"))
        })
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#100) Tried accessing nonexisting field (whatsapp_business_manager_messaging_limit) on node type (WhatsAppBusinessPhoneNumber)",
            "type": "OAuthException", "code": 100}})))
        .mount(&server)
        .await;
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &server, "", &[("acme", "1022", TOKEN)]);
    let c = collect_one(&cfg).await.unwrap();
    assert_eq!(c.snapshot.phone_numbers.len(), 2);
    assert!(
        c.snapshot.notes.iter().any(|n| n
            .message
            .contains("`whatsapp_business_manager_messaging_limit`")),
        "{:?}",
        c.snapshot.notes
    );
    assert_eq!(
        requests_to(&server, "/v21.0/1022/phone_numbers")
            .await
            .len(),
        2
    );
}
