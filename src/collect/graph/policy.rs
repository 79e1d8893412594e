//! Retry and rate-limit policy, as pure functions so each rule is testable
//! without a server: which Graph errors are retried, how long to wait, and how
//! close the usage headers say we are to Meta's limits.
//!
//! Meta's rules (see REFERENCE §1): retry 5xx, `is_transient: true`, codes
//! 1/2 and throttling (HTTP 429; codes 4, 17, 32, 613, 80007, 80008, 130429)
//! with exponential backoff and jitter, honouring `Retry-After` and
//! `estimated_time_to_regain_access`; never retry 190 (token), 10 and
//! 200–299 (permission) or 100 (bad parameter).

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;

/// Graph error codes that mean "throttled: slow down and retry".
pub const THROTTLE_CODES: &[i64] = &[4, 17, 32, 613, 80007, 80008, 130429];

/// The `error` object of a Graph error response.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub error_user_title: Option<String>,
    #[serde(default)]
    pub error_user_msg: Option<String>,
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

impl ApiError {
    /// Parses `{"error": {...}}`; `None` when the body is not a Graph error.
    pub fn from_body(body: &[u8]) -> Option<ApiError> {
        #[derive(Deserialize)]
        struct Envelope {
            error: ApiError,
        }
        serde_json::from_slice::<Envelope>(body)
            .ok()
            .map(|e| e.error)
    }

    /// `(#100) Invalid parameter (code 100, subcode 2494010, fbtrace_id A1b2)`.
    pub fn describe(&self) -> String {
        let mut s = self
            .message
            .clone()
            .unwrap_or_else(|| "no message".to_owned());
        if let Some(u) = self.error_user_msg.as_deref().filter(|u| !u.is_empty()) {
            s.push_str(" — ");
            s.push_str(u);
        }
        let mut meta = Vec::new();
        if let Some(c) = self.code {
            meta.push(format!("code {c}"));
        }
        if let Some(c) = self.error_subcode {
            meta.push(format!("subcode {c}"));
        }
        if let Some(t) = &self.fbtrace_id {
            meta.push(format!("fbtrace_id {t}"));
        }
        if !meta.is_empty() {
            s.push_str(&format!(" ({})", meta.join(", ")));
        }
        s
    }
}

/// What a failed response means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Rate limited: wait (Retry-After / regain time / backoff) and retry.
    Throttled,
    /// Transient server or network trouble: back off and retry.
    Transient,
    /// 190: the token is invalid or expired. Never retried.
    Token,
    /// 10, 200–299: the token lacks a permission or access to the asset. Never retried.
    Permission,
    /// 100 (and 803, unknown id): a wrong id or field. Never retried.
    BadParameter,
    /// Any other client error. Not retried.
    Other,
}

impl ErrorClass {
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Throttled | ErrorClass::Transient)
    }
}

/// Classifies a non-success response by HTTP status and Graph error (if any).
/// Graph codes that must never be retried win over the HTTP status.
pub fn classify(status: u16, api: Option<&ApiError>) -> ErrorClass {
    if let Some(code) = api.and_then(|a| a.code) {
        match code {
            190 => return ErrorClass::Token,
            10 | 200..=299 => return ErrorClass::Permission,
            100 | 803 => return ErrorClass::BadParameter,
            c if THROTTLE_CODES.contains(&c) => return ErrorClass::Throttled,
            1 | 2 => return ErrorClass::Transient,
            _ => {}
        }
    }
    if api.and_then(|a| a.is_transient) == Some(true) {
        return ErrorClass::Transient;
    }
    match status {
        429 => ErrorClass::Throttled,
        401 => ErrorClass::Token,
        500..=599 => ErrorClass::Transient,
        _ => ErrorClass::Other,
    }
}

/// Backoff before retry number `attempt` (0 = first retry): `base × 2^attempt`
/// capped at `max`, with "equal jitter" (a uniform pick in [½d, d]) so
/// parallel clients that failed together do not retry in lockstep.
pub fn backoff(attempt: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
    let d = exp.min(max);
    d.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// `Retry-After`: delta seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = when.signed_duration_since(chrono::Utc::now());
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// How close the usage headers say we are to Meta's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Highest percentage of any counter (call count, CPU time, total time).
    pub percent: f64,
    /// `estimated_time_to_regain_access` (given in minutes), when non-zero.
    pub regain_after: Option<Duration>,
}

/// Reads `X-App-Usage` and `X-Business-Use-Case-Usage`. `None` when neither
/// header is present or readable.
pub fn usage(headers: &HeaderMap) -> Option<Usage> {
    let mut found = false;
    let mut u = Usage::default();
    let counters = ["call_count", "total_time", "total_cputime"];
    let take = |o: &serde_json::Map<String, serde_json::Value>, u: &mut Usage| {
        for c in counters {
            if let Some(p) = o.get(c).and_then(number) {
                u.percent = u.percent.max(p);
            }
        }
        if let Some(m) = o.get("estimated_time_to_regain_access").and_then(number) {
            if m > 0.0 {
                let d = Duration::from_secs_f64((m * 60.0).min(86_400.0));
                u.regain_after = Some(u.regain_after.map_or(d, |e| e.max(d)));
            }
        }
    };
    if let Some(v) = header_json(headers, "x-app-usage") {
        if let Some(o) = v.as_object() {
            found = true;
            take(o, &mut u);
        }
    }
    if let Some(v) = header_json(headers, "x-business-use-case-usage") {
        // {"<business-id>": [{"type": ..., "call_count": 28, ...}]}
        if let Some(by_id) = v.as_object() {
            found = true;
            for entries in by_id.values() {
                for e in entries.as_array().into_iter().flatten() {
                    if let Some(o) = e.as_object() {
                        take(o, &mut u);
                    }
                }
            }
        }
    }
    found.then_some(u)
}

fn header_json(headers: &HeaderMap, name: &str) -> Option<serde_json::Value> {
    serde_json::from_slice(headers.get(name)?.as_bytes()).ok()
}

fn number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Usage percentage above which requests are spaced out.
pub const SLOW_DOWN_AT_PERCENT: f64 = 80.0;

/// Minimum spacing between request starts at a given usage: none below
/// [`SLOW_DOWN_AT_PERCENT`], then growing linearly to `4 × base` at 100 %
/// (2 s with the default 500 ms base), so a run eases off before Meta
/// throttles it instead of after.
pub fn spacing_for(percent: f64, base: Duration) -> Duration {
    if percent < SLOW_DOWN_AT_PERCENT {
        return Duration::ZERO;
    }
    let f = ((percent - SLOW_DOWN_AT_PERCENT) / 5.0).min(4.0);
    base.mul_f64(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn api(code: i64) -> ApiError {
        ApiError {
            code: Some(code),
            ..ApiError::default()
        }
    }

    #[test]
    fn never_retries_token_permission_or_parameter_errors() {
        for (code, class) in [
            (190, ErrorClass::Token),
            (10, ErrorClass::Permission),
            (200, ErrorClass::Permission),
            (294, ErrorClass::Permission),
            (100, ErrorClass::BadParameter),
        ] {
            // Even if a proxy turns them into a 5xx or a 429.
            for status in [400, 403, 500, 429] {
                let c = classify(status, Some(&api(code)));
                assert_eq!(c, class, "code {code} status {status}");
                assert!(!c.is_retryable());
            }
        }
    }

    #[test]
    fn throttling_and_transient_errors_are_retried() {
        for code in [4, 17, 32, 613, 80007, 80008, 130429] {
            assert_eq!(
                classify(400, Some(&api(code))),
                ErrorClass::Throttled,
                "{code}"
            );
        }
        assert_eq!(classify(500, Some(&api(1))), ErrorClass::Transient);
        assert_eq!(classify(400, Some(&api(2))), ErrorClass::Transient);
        let t = ApiError {
            code: Some(131000),
            is_transient: Some(true),
            ..ApiError::default()
        };
        assert_eq!(classify(400, Some(&t)), ErrorClass::Transient);
        assert_eq!(classify(429, None), ErrorClass::Throttled);
        assert_eq!(classify(502, None), ErrorClass::Transient);
        assert_eq!(classify(404, None), ErrorClass::Other);
        assert_eq!(classify(400, Some(&api(131009))), ErrorClass::Other);
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let b = Duration::from_millis(100);
        let m = Duration::from_millis(1000);
        assert_eq!(backoff(0, b, m, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(0, b, m, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(3, b, m, 1.0), Duration::from_millis(800));
        assert_eq!(backoff(4, b, m, 1.0), Duration::from_millis(1000));
        assert_eq!(backoff(40, b, m, 1.0), Duration::from_millis(1000));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn usage_headers_report_the_highest_counter_and_regain_time() {
        let mut h = HeaderMap::new();
        assert_eq!(usage(&h), None);
        h.insert(
            "x-app-usage",
            HeaderValue::from_static(r#"{"call_count": 10, "total_time": 3, "total_cputime": 2}"#),
        );
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"102290129340398": [{"type": "whatsapp_business_management", "call_count": 28, "total_cputime": 91, "total_time": 9, "estimated_time_to_regain_access": 2}]}"#,
            ),
        );
        let u = usage(&h).unwrap();
        assert_eq!(u.percent, 91.0);
        assert_eq!(u.regain_after, Some(Duration::from_secs(120)));
    }

    #[test]
    fn spacing_starts_above_eighty_percent() {
        let b = Duration::from_millis(500);
        assert_eq!(spacing_for(79.0, b), Duration::ZERO);
        assert_eq!(spacing_for(85.0, b), Duration::from_millis(500));
        assert_eq!(spacing_for(100.0, b), Duration::from_millis(2000));
        assert_eq!(spacing_for(250.0, b), Duration::from_millis(2000));
    }

    #[test]
    fn describe_names_code_and_trace() {
        let e = ApiError::from_body(
            br#"{"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100, "error_subcode": 33, "fbtrace_id": "Ab"}}"#,
        )
        .unwrap();
        assert_eq!(
            e.describe(),
            "(#100) Invalid parameter (code 100, subcode 33, fbtrace_id Ab)"
        );
        assert!(ApiError::from_body(b"not json").is_none());
    }
}
