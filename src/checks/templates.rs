//! Template checks: category mismatch, restricted content, authentication
//! format, hygiene and Meta's own signals on each template.
//!
//! Content rules come from the rule packs (see `rulepack`); the structural
//! rules (`kind = "builtin"`) are implemented here and take their severity,
//! parameters and documentation from the packs, so `disable` and
//! `severity_overrides` work the same for every rule.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::json;

use super::{Finding, Severity, Subject};
use crate::rulepack::{Hit, Rule, RulePack, Signal};
use crate::snapshot::{Category, Template};

/// Check family names.
pub const CATEGORY_MISMATCH: &str = "template.category_mismatch";
pub const RESTRICTED_CONTENT: &str = "template.restricted_content";
pub const AUTH_FORMAT: &str = "template.auth_format";
pub const HYGIENE: &str = "template.hygiene";

/// A template is treated as promotional when the weights of its distinct
/// marketing pattern hits add up to at least this much (see rules/README.md).
pub const MARKETING_THRESHOLD: f64 = 1.0;
/// The rule of the language model's findings (see [`crate::rulepack::model`]).
pub const MODEL_RULE: &str = "tpl.mkt.model";
/// A restricted-content rule fires when its own hits add up to this much.
pub const RESTRICTED_THRESHOLD: f64 = 1.0;

/// Everything a template check needs besides the template.
pub struct TemplateContext<'a> {
    pub pack: &'a RulePack,
    /// Fingerprint scope (the account's WABA id, or "" for ad-hoc linting).
    pub scope: &'a str,
    /// Business-profile verticals of the account (upper-case), if known.
    pub verticals: &'a [String],
}

static NAMED_OK: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z][a-z0-9_]*$"));
static EMOJI: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"[\p{Extended_Pictographic}&&[^\u{00A9}\u{00AE}\u{2122}\u{203C}\u{2049}]]|[\u{1F1E6}-\u{1F1FF}]",
    )
});
static URL_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:https?://|www\.)[^\s]+|(?:^|[\s(])[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|app|co|info|biz|shop|store|link|ly|me|br|mx|de|id|in|fr|it|es|uk|us)(?:/[^\s]*)?(?:$|[\s).,!?])",
    )
});

/// A phone number: seven or more digits, optionally after `+`, with the
/// usual separators. Amounts have a currency or decimal places around them;
/// an authentication body has neither in Meta's preset.
static PHONE_LIKE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:^|[^\w.,+])(\+?\(?\d(?:[ ().\-]{0,2}\d){6,})"));

#[allow(clippy::expect_used)]
fn re(s: &str) -> Regex {
    Regex::new(s).expect("static regex")
}

/// Lints one template with every template check.
pub fn lint_template(t: &Template, ctx: &TemplateContext<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let lang = if t.language.is_empty() {
        "und"
    } else {
        t.language.as_str()
    };
    let subject = Subject::template(t.id.as_deref(), &t.name, lang);
    let mut emit = Emitter {
        ctx,
        subject: &subject,
        out: &mut out,
    };
    let text = scan_text(t);
    let category = t.category();

    // One prefilter pass over the text for every signal this template needs.
    let mut signals = vec![Signal::Restricted];
    if matches!(category, Category::Utility | Category::Authentication) {
        signals.push(Signal::Marketing);
    }
    if category == Category::Authentication {
        signals.push(Signal::Utility);
    }
    let hits = ctx.pack.scan_signals(lang, &signals, &text);
    let of = |s: Signal| -> Vec<Hit> {
        hits.iter()
            .filter(|h| ctx.pack.rules[h.rule].def.signal == Some(s))
            .cloned()
            .collect()
    };
    let marketing = of(Signal::Marketing);
    let restricted = of(Signal::Restricted);
    let utility = of(Signal::Utility);
    let marketing_score = score(&marketing, ctx.pack, category);

    // Code words count in the body only: every OTP button says "Copy code".
    // So do support lines ("call us on …"), which Meta's preset never has.
    // Restricted products too, in body coordinates: the sentence they are in
    // decides whether the body advertises them.
    let mut body_hits: [Vec<Hit>; 3] = Default::default();
    if category == Category::Authentication {
        let wanted = [Signal::Code, Signal::Support, Signal::Restricted];
        for h in ctx.pack.scan_signals(lang, &wanted, t.body_text()) {
            let signal = ctx.pack.rules[h.rule].def.signal;
            if let Some(i) = wanted.iter().position(|&s| Some(s) == signal) {
                body_hits[i].push(h);
            }
        }
    }
    let [code, support, body_restricted] = body_hits;
    let auth_promo = if category == Category::Authentication {
        auth_extra(
            t.body_text(),
            &code,
            &body_restricted,
            marketing_score > 0.0,
            ctx.pack,
        )
    } else {
        None
    };
    category_mismatch(
        t,
        category,
        &text,
        &marketing,
        marketing_score,
        &code,
        &utility,
        auth_promo,
        &mut emit,
    );
    let fired = fired_restricted(&restricted, ctx.pack);
    restricted_content(&text, &fired, &mut emit);
    if category == Category::Authentication {
        // Meta's preset names nothing but the code: a restricted product or
        // a transaction ("your withdrawal of …") in the body is extra text.
        let described = best(fired.iter().flat_map(|f| f.hits.iter().copied()))
            .or_else(|| best(utility.iter()))
            .map(|h| evidence(&text, h.start, h.end));
        let promo = auth_promo.map(|(a, b, _)| evidence(t.body_text(), a, b));
        let support = support_line(t.body_text(), &support);
        auth_format(t, marketing_score, promo, described, support, &mut emit);
    }
    hygiene(t, category, &mut emit);
    meta_signals(t, &mut emit);
    out
}

struct Emitter<'a, 'b> {
    ctx: &'a TemplateContext<'a>,
    subject: &'b Subject,
    out: &'b mut Vec<Finding>,
}

impl<'a> Emitter<'a, '_> {
    /// An enabled builtin/pattern rule by id.
    fn rule(&self, id: &str) -> Option<&'a Rule> {
        self.ctx.pack.enabled(id)
    }

    fn push(&mut self, rule: &Rule, message: String) -> &mut Finding {
        let f = Finding::new(
            &rule.def.family,
            &rule.def.id,
            rule.severity,
            self.subject.clone(),
            message,
        )
        .remediation(rule.def.remediation.trim())
        .fingerprinted(self.ctx.scope);
        self.out.push(f);
        #[allow(clippy::expect_used)]
        self.out.last_mut().expect("just pushed")
    }

    /// Emits a builtin rule's finding if the rule is enabled.
    fn builtin(&mut self, id: &str, message: String) -> Option<&mut Finding> {
        let rule: &Rule = self.ctx.pack.enabled(id)?;
        Some(self.push(rule, message))
    }
}

/// The text content rules read: header, body, footer, button labels and
/// button URLs, one per line.
fn scan_text(t: &Template) -> String {
    let mut s = t.visible_text();
    for b in t.buttons() {
        if let Some(u) = b.url.as_deref() {
            s.push('\n');
            s.push_str(u);
        }
    }
    s
}

/// The length of [`Template::visible_text`] (a prefix of [`scan_text`]).
fn visible_len(t: &Template) -> usize {
    // The same joining rule: a newline before a part once the text is non-empty.
    t.visible_parts()
        .fold(0, |len, s| if len > 0 { len + 1 } else { 0 } + s.len())
}

/// Sum of weights of distinct patterns whose rule applies to `category`.
fn score(hits: &[Hit], pack: &RulePack, category: Category) -> f64 {
    hits.iter()
        .filter(|h| applies(&pack.rules[h.rule], category))
        .map(|h| h.weight)
        .sum()
}

fn applies(rule: &Rule, category: Category) -> bool {
    rule.def.applies_to.is_empty() || rule.def.applies_to.iter().any(|c| c == category.as_str())
}

/// The matched span, shortened, as evidence.
pub fn evidence(text: &str, start: usize, end: usize) -> String {
    let span: String = text[start..end]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    truncate_chars(&span, 120)
}

/// The span with up to 40 characters of context on each side.
pub fn context(text: &str, start: usize, end: usize) -> String {
    let before: String = {
        let b: Vec<char> = text[..start].chars().rev().take(40).collect();
        b.into_iter().rev().collect()
    };
    let after: String = text[end..].chars().take(40).collect();
    let lead = if before.len() < start { "…" } else { "" };
    let tail = if after.len() < text.len() - end {
        "…"
    } else {
        ""
    };
    format!("{lead}{before}«{}»{after}{tail}", &text[start..end]).replace(['\n', '\r'], " / ")
}

pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// A restricted-content rule whose hits reach the threshold.
struct Fired<'h> {
    rule: usize,
    hits: Vec<&'h Hit>,
    weight: f64,
}

/// The restricted-content rules that fire, in rule order.
fn fired_restricted<'h>(hits: &'h [Hit], pack: &RulePack) -> Vec<Fired<'h>> {
    let mut rules: Vec<usize> = hits.iter().map(|h| h.rule).collect();
    rules.sort_unstable();
    rules.dedup();
    rules
        .into_iter()
        .filter(|&ri| pack.rules[ri].def.family == RESTRICTED_CONTENT)
        .filter_map(|rule| {
            let mine: Vec<&Hit> = hits.iter().filter(|h| h.rule == rule).collect();
            let weight = span_weight(&mine);
            (weight >= RESTRICTED_THRESHOLD).then_some(Fired {
                rule,
                hits: mine,
                weight,
            })
        })
        .collect()
}

/// The weight of one rule's hits, counting a span matched by several of its
/// patterns once (at the largest weight): two patterns of the same rule that
/// both read "starter kit" (say the Indonesian pack's and the English one,
/// which Indonesian templates also get) are one piece of evidence, not two.
/// Nested or overlapping matches ("winnings" inside "withdrawal of your
/// winnings") still add up: the longer one is more context.
fn span_weight(hits: &[&Hit]) -> f64 {
    let mut spans: Vec<(usize, usize, f64)> =
        hits.iter().map(|h| (h.start, h.end, h.weight)).collect();
    spans.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)).then(b.2.total_cmp(&a.2)));
    spans.dedup_by(|later, first| (later.0, later.1) == (first.0, first.1));
    spans.iter().map(|s| s.2).sum()
}

/// The best hit: highest weight, then first in text.
fn best<'h>(hits: impl Iterator<Item = &'h Hit>) -> Option<&'h Hit> {
    hits.fold(None, |acc: Option<&Hit>, h| match acc {
        None => Some(h),
        Some(a) if h.weight > a.weight || (h.weight == a.weight && h.start < a.start) => Some(h),
        Some(a) => Some(a),
    })
}

fn signals_detail(hits: &[&Hit], pack: &RulePack, text: &str) -> serde_json::Value {
    let mut seen = BTreeSet::new();
    let mut v = Vec::new();
    for h in hits {
        let id = &pack.rules[h.rule].def.id;
        let ev = evidence(text, h.start, h.end);
        if seen.insert((id.clone(), ev.clone())) {
            v.push(json!({"rule": id, "evidence": ev, "weight": h.weight}));
        }
    }
    serde_json::Value::Array(v)
}

#[allow(clippy::too_many_arguments)]
fn category_mismatch(
    t: &Template,
    category: Category,
    text: &str,
    marketing: &[Hit],
    marketing_score: f64,
    code: &[Hit],
    utility: &[Hit],
    auth_promo: Option<(usize, usize, f32)>,
    emit: &mut Emitter<'_, '_>,
) {
    let pack = emit.ctx.pack;
    if matches!(category, Category::Utility | Category::Authentication)
        && marketing_score >= MARKETING_THRESHOLD
    {
        let relevant: Vec<&Hit> = marketing
            .iter()
            .filter(|h| applies(&pack.rules[h.rule], category))
            .collect();
        let Some(top) = best(relevant.iter().copied()) else {
            return;
        };
        let rule = &pack.rules[top.rule];
        let ev = evidence(text, top.start, top.end);
        let message = format!(
            "{} template contains promotional content ({}): \"{}\" — Meta treats any promotional content as MARKETING",
            category.as_str(),
            rule.def.title.to_lowercase(),
            ev
        );
        let signals = signals_detail(&relevant, pack, text);
        let f = mismatch_finding(emit, rule, category, message, ev, "MARKETING");
        f.details
            .insert("score".into(), json!(round2(marketing_score)));
        f.details
            .insert("context".into(), json!(context(text, top.start, top.end)));
        f.details.insert("signals".into(), signals);
        return;
    }

    // No pattern reached the threshold: the language model's second opinion.
    if matches!(category, Category::Utility | Category::Authentication) {
        if let (Some(model), Some(rule)) = (pack.model.as_deref(), pack.enabled(MODEL_RULE)) {
            if applies(rule, category) {
                // The scanned text starts with the visible text (URLs follow).
                let visible = text.get(..visible_len(t)).unwrap_or(text);
                debug_assert_eq!(visible, t.visible_text());
                let s = model.score(visible);
                // Corroborated by a (weak) pattern, or far surer alone.
                let bar = if marketing_score > 0.0 {
                    model.threshold
                } else {
                    model.threshold_alone
                };
                let found = if s >= bar {
                    let (a, b) = model.cue(visible).unwrap_or((0, visible.len()));
                    let ev = evidence(visible, a, b);
                    let message = format!(
                        "{} template reads as promotional (wabaguard's language model, score {:.1}; flags from {:.1}): \"{}\" — Meta treats any promotional content as MARKETING",
                        category.as_str(),
                        s,
                        bar,
                        ev
                    );
                    Some((message, ev, s))
                } else {
                    auth_promo.map(|(a, b, s)| {
                        let ev = evidence(t.body_text(), a, b);
                        let message = format!(
                            "AUTHENTICATION template adds promotional text to the one-time code (wabaguard's language model scores that sentence {s:.1}): \"{ev}\" — Meta treats any promotional content as MARKETING"
                        );
                        (message, ev, s)
                    })
                };
                if let Some((message, ev, s)) = found {
                    let f = mismatch_finding(emit, rule, category, message, ev, "MARKETING");
                    f.details
                        .insert("model_score".into(), json!(round2(f64::from(s))));
                    f.details
                        .insert("pattern_score".into(), json!(round2(marketing_score)));
                    return;
                }
            }
        }
    }

    if category == Category::Authentication {
        // Utility content (a login alert, an order notice) filed as
        // AUTHENTICATION: no one-time code in it.
        let has_placeholder = placeholders(t.body_text()).next().is_some();
        let has_code_words = !code.is_empty();
        if has_placeholder && has_code_words {
            return;
        }
        let Some(top) = best(utility.iter()) else {
            return;
        };
        if pack.rules[top.rule].def.family != CATEGORY_MISMATCH || !pack.rules[top.rule].enabled {
            return;
        }
        let rule = &pack.rules[top.rule];
        let ev = evidence(text, top.start, top.end);
        let message = format!(
            "AUTHENTICATION template carries no one-time code but a notification (\"{ev}\"); it belongs in UTILITY"
        );
        let f = mismatch_finding(emit, rule, category, message, ev, "UTILITY");
        f.details
            .insert("context".into(), json!(context(text, top.start, top.end)));
    }
}

/// The most promotional sentence an AUTHENTICATION body adds to Meta's
/// preset, and its model score, when that score reaches `bar`. The preset is
/// the sentence with the code variable and the security line, both of which
/// name the code; a body sentence with no placeholder and no code word
/// (`code`: the body's `code` signal hits) is extra. An OTP message carries
/// nothing else, so an extra sentence that leans promotional is an upsell.
/// Each is scored on its own: a security line beside an offer would otherwise
/// outweigh it. The bar is `tpl.mkt.model`'s `params.auth_extra_threshold`
/// (log-odds, default 2). On the open corpora, the best extra sentence of templates
/// labelled MARKETING scores 3 to 128 (two of 50 below 0), that of the others
/// (help lines, "not you?" warnings, thanks) 0.4 or less.
///
/// An extra sentence that names a restricted product (`restricted`: hits in
/// body coordinates) has a lower bar, `auth_extra_threshold_restricted`
/// (default −20): it either advertises the product ("cannabis buds and resin
/// on the app's menu", −16 to +7) or says what the code confirms ("use it to
/// confirm the withdrawal of 0.5 ETH", −44 to −54), and the model tells the
/// two apart.
fn auth_extra(
    body: &str,
    code: &[Hit],
    restricted: &[Hit],
    corroborated: bool,
    pack: &RulePack,
) -> Option<(usize, usize, f32)> {
    let model = pack.model.as_deref()?;
    let param = |key: &str, default: f32| {
        pack.rule(MODEL_RULE)
            .and_then(|r| r.def.params.get(key))
            .and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64)))
            .map_or(default, |v| v as f32)
    };
    let bar = if corroborated {
        param("auth_extra_threshold", 2.0)
    } else {
        param("auth_extra_threshold_alone", 20.0)
    };
    let bar_restricted = param("auth_extra_threshold_restricted", -20.0).min(bar);
    let within = |hits: &[Hit], a: usize, b: usize| hits.iter().any(|h| h.start < b && h.end > a);
    crate::rulepack::model::sentence_spans(body)
        .into_iter()
        .filter(|&(a, b)| placeholders(&body[a..b]).next().is_none() && !within(code, a, b))
        .map(|(a, b)| (a, b, model.score(&body[a..b])))
        .filter(|&(a, b, score)| {
            score
                >= if within(restricted, a, b) {
                    bar_restricted
                } else {
                    bar
                }
        })
        .max_by(|x, y| x.2.total_cmp(&y.2).then(y.0.cmp(&x.0)))
}

/// A category-mismatch finding: evidence, the declared category and the
/// category the rule suggests (`default` when the rule names none).
fn mismatch_finding<'e>(
    emit: &'e mut Emitter<'_, '_>,
    rule: &Rule,
    category: Category,
    message: String,
    evidence: String,
    default: &str,
) -> &'e mut Finding {
    let f = emit.push(rule, message);
    f.evidence = Some(evidence);
    f.details
        .insert("declared_category".into(), json!(category.as_str()));
    f.details.insert(
        "suggested_category".into(),
        json!(rule.def.suggest.as_deref().unwrap_or(default)),
    );
    f
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn restricted_content(text: &str, fired: &[Fired<'_>], emit: &mut Emitter<'_, '_>) {
    let pack = emit.ctx.pack;
    for Fired {
        rule: ri,
        hits: mine,
        weight: total,
    } in fired
    {
        let rule = &pack.rules[*ri];
        let Some(top) = best(mine.iter().copied()) else {
            continue;
        };
        let policy = rule
            .def
            .policy_category
            .clone()
            .unwrap_or_else(|| rule.def.id.rsplit('.').next().unwrap_or("").to_owned());
        let regulated = rule
            .def
            .regulated_verticals
            .iter()
            .find(|v| emit.ctx.verticals.iter().any(|x| x.eq_ignore_ascii_case(v)))
            .cloned();
        let ev = evidence(text, top.start, top.end);
        let mut message = format!(
            "{} content under Meta's Commerce Policy: \"{}\"",
            rule.def.title, ev
        );
        if let Some(v) = &regulated {
            message.push_str(&format!(
                " (the business profile declares the regulated vertical {v}: allowed only where Meta has approved the business for it)"
            ));
        }
        let signals = signals_detail(mine, pack, text);
        let f = emit.push(rule, message);
        if regulated.is_some() && f.severity > Severity::Medium {
            f.severity = Severity::Medium;
        }
        f.evidence = Some(ev);
        f.details.insert("policy_category".into(), json!(policy));
        f.details.insert("score".into(), json!(round2(*total)));
        f.details
            .insert("context".into(), json!(context(text, top.start, top.end)));
        f.details.insert("signals".into(), signals);
        if let Some(v) = regulated {
            f.details.insert("regulated_vertical".into(), json!(v));
        }
    }
}

/// The `{{…}}` placeholders of `text`, leftmost first and not overlapping,
/// as `(start, end, name)` with the name trimmed: the matches of
/// `\{\{\s*([^{}]*?)\s*\}\}` (a test holds the two equal), found without a
/// capturing regex search, the costliest part of the hygiene check.
fn placeholders(text: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        loop {
            let start = pos + text.get(pos..)?.find("{{")?;
            let inner = &text[start + 2..];
            // The name runs to the first brace, which must open `}}`.
            match inner.find(['{', '}']) {
                Some(k) if inner[k..].starts_with("}}") => {
                    pos = start + 2 + k + 2;
                    return Some((start, pos, inner[..k].trim()));
                }
                Some(_) => pos = start + 1,
                None => return None,
            }
        }
    })
}

fn auth_format(
    t: &Template,
    marketing_score: f64,
    promo: Option<String>,
    described: Option<String>,
    support: Option<String>,
    emit: &mut Emitter<'_, '_>,
) {
    let body = t.body_text();

    // URL or media.
    let media_header = t
        .component("HEADER")
        .and_then(|h| h.format.as_deref())
        .filter(|f| !f.eq_ignore_ascii_case("TEXT"))
        .map(str::to_owned);
    let url_button = t.buttons().find(|b| b.kind.eq_ignore_ascii_case("URL"));
    let visible = t.visible_text();
    let url_in_text = URL_LIKE
        .find(&visible)
        .map(|m| m.as_str().trim().to_owned());
    if media_header.is_some() || url_button.is_some() || url_in_text.is_some() {
        let what = if let Some(f) = &media_header {
            format!("a {f} header")
        } else if let Some(u) = &url_in_text {
            format!("a link ({u})")
        } else {
            "a URL button".to_owned()
        };
        let ev = url_in_text.clone().or(media_header.clone());
        if let Some(f) = emit.builtin(
            "tpl.auth.url-or-media",
            format!("AUTHENTICATION template contains {what}; authentication templates allow no URLs or media"),
        ) {
            f.evidence = ev;
        }
    }

    // Emoji.
    let emoji: Vec<&str> = EMOJI.find_iter(&visible).map(|m| m.as_str()).collect();
    if !emoji.is_empty() {
        let ev = emoji.join(" ");
        if let Some(f) = emit.builtin(
            "tpl.auth.emoji",
            format!("AUTHENTICATION template contains emoji ({ev}); emoji are not allowed"),
        ) {
            f.evidence = Some(ev);
            f.details.insert("count".into(), json!(emoji.len()));
        }
    }

    // Code placeholder.
    let ph: Vec<_> = placeholders(body).collect();
    if ph.is_empty() {
        emit.builtin(
            "tpl.auth.no-code-placeholder",
            "AUTHENTICATION template has no placeholder for the one-time code".to_owned(),
        );
    }

    // OTP button.
    let buttons: Vec<_> = t.buttons().collect();
    if !buttons.iter().any(|b| b.kind.eq_ignore_ascii_case("OTP")) {
        emit.builtin(
            "tpl.auth.missing-otp-button",
            "AUTHENTICATION template has no OTP button (copy code, one-tap or zero-tap autofill)"
                .to_owned(),
        );
    }
    let others: Vec<String> = buttons
        .iter()
        .filter(|b| !b.kind.eq_ignore_ascii_case("OTP") && !b.kind.eq_ignore_ascii_case("URL"))
        .map(|b| b.kind.clone())
        .collect();
    if !others.is_empty() {
        let list = others.join(", ");
        if let Some(f) = emit.builtin(
            "tpl.auth.non-otp-button",
            format!("AUTHENTICATION template has buttons other than OTP ({list})"),
        ) {
            f.evidence = Some(list);
        }
    }

    // Extra text beyond Meta's preset.
    if let Some(params) = emit.rule("tpl.auth.extra-text").map(|r| &r.def.params) {
        let max_chars = param_usize(params, "max_body_chars", 220);
        let max_ph = param_usize(params, "max_placeholders", 1);
        let distinct: BTreeSet<&str> = ph.iter().map(|p| p.2).collect();
        let n_chars = body.chars().count();
        let reason = if marketing_score >= MARKETING_THRESHOLD {
            Some("a promotional line".to_owned())
        } else if let Some(p) = promo {
            Some(format!("a promotional line (\"{p}\")"))
        } else if distinct.len() > max_ph {
            Some(format!(
                "{} placeholders (the preset has one: the code)",
                distinct.len()
            ))
        } else if let Some(d) = described {
            Some(format!("it describes more than the code (\"{d}\")"))
        } else if let Some(l) = support {
            Some(format!("a support line (\"{l}\")"))
        } else if n_chars > max_chars {
            Some(format!(
                "{n_chars} characters (the preset text is much shorter)"
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            let ev = truncate_chars(body, 120);
            if let Some(f) = emit.builtin(
                "tpl.auth.extra-text",
                format!("AUTHENTICATION body goes beyond Meta's preset text: {reason}"),
            ) {
                f.evidence = Some(ev);
            }
        }
    }
}

/// The support line of an authentication body, as evidence: the first
/// support-pattern match ("call us"), or else a phone number.
fn support_line(body: &str, hits: &[Hit]) -> Option<String> {
    if let Some(h) = hits.iter().min_by_key(|h| (h.start, h.end)) {
        return Some(evidence(body, h.start, h.end));
    }
    let phone = PHONE_LIKE.captures(body)?.get(1)?;
    Some(evidence(body, phone.start(), phone.end()))
}

fn param_usize(params: &toml::Table, key: &str, default: usize) -> usize {
    params
        .get(key)
        .and_then(toml::Value::as_integer)
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(default)
}

fn hygiene(t: &Template, category: Category, emit: &mut Emitter<'_, '_>) {
    if category == Category::Other {
        let shown = t.category.as_deref().unwrap_or("(missing)");
        if let Some(f) = emit.builtin(
            "tpl.hyg.unknown-category",
            format!("template category `{shown}` is not one wabaguard knows (MARKETING, UTILITY, AUTHENTICATION); category checks were skipped"),
        ) {
            f.evidence = t.category.clone();
        }
    }

    let body = t.body_text();
    let body_comp = t.component("BODY");
    if body_comp.is_none() {
        emit.builtin(
            "tpl.hyg.missing-body",
            "template has no BODY component".to_owned(),
        );
    }
    let ph: Vec<_> = placeholders(body).collect();
    let named_format = t
        .parameter_format
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("NAMED"));

    // Sequence / format of placeholders.
    let positional: Vec<u32> = ph.iter().filter_map(|p| p.2.parse::<u32>().ok()).collect();
    let named: Vec<&str> = ph
        .iter()
        .map(|p| p.2)
        .filter(|n| n.parse::<u32>().is_err())
        .collect();
    if !positional.is_empty() && !named.is_empty() {
        emit.builtin(
            "tpl.hyg.placeholder-format",
            format!(
                "body mixes positional ({{{{{}}}}}) and named ({{{{{}}}}}) placeholders",
                positional[0], named[0]
            ),
        );
    } else if let Some(bad) = named.iter().find(|n| !NAMED_OK.is_match(n)) {
        let bad = (*bad).to_owned();
        if let Some(f) = emit.builtin(
            "tpl.hyg.placeholder-format",
            format!("placeholder `{{{{{bad}}}}}` is neither positional ({{{{1}}}}) nor a valid named parameter (lower-case letters, digits, underscores)"),
        ) {
            f.evidence = Some(format!("{{{{{bad}}}}}"));
        }
    } else if named_format && !positional.is_empty() {
        emit.builtin(
            "tpl.hyg.placeholder-format",
            "parameter_format is NAMED but the body uses positional placeholders".to_owned(),
        );
    } else if !named.is_empty() && !named_format && t.parameter_format.is_some() {
        emit.builtin(
            "tpl.hyg.placeholder-format",
            "parameter_format is POSITIONAL but the body uses named placeholders".to_owned(),
        );
    }
    if !positional.is_empty() {
        let distinct: BTreeSet<u32> = positional.iter().copied().collect();
        let expected: BTreeSet<u32> = (1..=distinct.len() as u32).collect();
        if distinct != expected {
            let got: Vec<String> = distinct.iter().map(|n| format!("{{{{{n}}}}}")).collect();
            let got = got.join(", ");
            if let Some(f) = emit.builtin(
                "tpl.hyg.placeholder-sequence",
                format!("body placeholders are not sequential from {{{{1}}}}: {got}"),
            ) {
                f.evidence = Some(got);
            }
        }
    }
    // Adjacent placeholders.
    for w in ph.windows(2) {
        let between = &body[w[0].1..w[1].0];
        if between.trim().is_empty() {
            let ev = body[w[0].0..w[1].1].to_owned();
            if let Some(f) = emit.builtin(
                "tpl.hyg.placeholder-adjacent",
                format!("adjacent placeholders with nothing between them: {ev}"),
            ) {
                f.evidence = Some(ev);
            }
            break;
        }
    }
    // Placeholder at the very start or end (Meta generates AUTHENTICATION bodies).
    if category != Category::Authentication && !ph.is_empty() {
        let trimmed = body.trim();
        let lead = trimmed.len() - trimmed.trim_start().len();
        let starts = placeholders(trimmed).next().is_some_and(|p| p.0 == 0);
        let ends = ph.last().is_some_and(|p| body[p.1..].trim().is_empty());
        let _ = lead;
        if starts || ends {
            let which = if starts && ends {
                "starts and ends"
            } else if starts {
                "starts"
            } else {
                "ends"
            };
            let ev = if starts {
                truncate_chars(trimmed, 40)
            } else {
                let chars: Vec<char> = trimmed.chars().collect();
                let from = chars.len().saturating_sub(40);
                chars[from..].iter().collect()
            };
            if let Some(f) = emit.builtin(
                "tpl.hyg.placeholder-edge",
                format!("body {which} with a placeholder; Meta rejects variables at the very start or end"),
            ) {
                f.evidence = Some(ev);
            }
        }
    }

    // Examples.
    if let Some(bc) = body_comp {
        if !ph.is_empty() {
            let ex = bc.example.as_ref();
            let distinct: BTreeSet<&str> = ph.iter().map(|p| p.2).collect();
            let missing = if positional.is_empty() {
                let given: BTreeSet<&str> = ex
                    .and_then(|e| e.body_text_named_params.as_ref())
                    .map(|v| v.iter().map(|p| p.param_name.as_str()).collect())
                    .unwrap_or_default();
                distinct.iter().filter(|n| !given.contains(**n)).count()
            } else {
                let given = ex
                    .and_then(|e| e.body_text.as_ref())
                    .and_then(|rows| rows.first())
                    .map_or(0, |r| r.iter().filter(|s| !s.trim().is_empty()).count());
                distinct.len().saturating_sub(given)
            };
            if missing > 0 && category != Category::Authentication {
                emit.builtin(
                    "tpl.hyg.missing-example",
                    format!(
                        "body has {} variable(s) but {missing} without an example value; Meta needs sample values to review the template",
                        distinct.len()
                    ),
                );
            } else if missing > 0
                && ex.and_then(|e| e.body_text.as_ref()).is_none()
                && category == Category::Authentication
            {
                emit.builtin(
                    "tpl.hyg.missing-example",
                    "authentication body has a code variable but no example value".to_owned(),
                );
            }
        }
    }
    if let Some(h) = t.component("HEADER") {
        let fmt = h.format.as_deref().unwrap_or("TEXT").to_ascii_uppercase();
        if fmt == "TEXT" {
            let hp: Vec<_> = placeholders(h.text.as_deref().unwrap_or("")).collect();
            let has_ex = h.example.as_ref().is_some_and(|e| {
                e.header_text.as_ref().is_some_and(|v| !v.is_empty())
                    || e.header_text_named_params
                        .as_ref()
                        .is_some_and(|v| !v.is_empty())
            });
            if !hp.is_empty() && !has_ex {
                emit.builtin(
                    "tpl.hyg.missing-example",
                    "text header has a variable but no `example.header_text`".to_owned(),
                );
            }
            if hp.len() > 1 {
                emit.builtin(
                    "tpl.hyg.length",
                    format!(
                        "text header has {} variables; at most one is allowed",
                        hp.len()
                    ),
                );
            }
        } else if matches!(fmt.as_str(), "IMAGE" | "VIDEO" | "DOCUMENT") {
            let has = h
                .example
                .as_ref()
                .and_then(|e| e.header_handle.as_ref())
                .is_some_and(|v| !v.is_empty());
            if !has {
                emit.builtin(
                    "tpl.hyg.missing-example",
                    format!("{fmt} header has no `example.header_handle` sample media"),
                );
            }
        }
    }
    for b in t.buttons() {
        if b.kind.eq_ignore_ascii_case("URL")
            && b.url
                .as_deref()
                .is_some_and(|u| placeholders(u).next().is_some())
            && b.example
                .as_ref()
                .is_none_or(|e| e.is_null() || e.as_array().is_some_and(|a| a.is_empty()))
        {
            emit.builtin(
                "tpl.hyg.missing-example",
                format!(
                    "URL button \"{}\" has a variable in its URL but no example",
                    b.text.as_deref().unwrap_or("")
                ),
            );
        }
    }

    // Lengths.
    let params = emit.rule("tpl.hyg.length").map(|r| &r.def.params);
    let lim = |k: &str, d: usize| params.map_or(d, |p| param_usize(p, k, d));
    let mut too_long: Vec<String> = Vec::new();
    let n = body.chars().count();
    if n > lim("body_max", 1024) {
        too_long.push(format!(
            "body is {n} characters (max {})",
            lim("body_max", 1024)
        ));
    }
    for (kind, key, default) in [("HEADER", "header_max", 60), ("FOOTER", "footer_max", 60)] {
        if let Some(c) = t.component(kind) {
            if let Some(txt) = c.text.as_deref() {
                let n = txt.chars().count();
                if n > lim(key, default) {
                    too_long.push(format!(
                        "{} text is {n} characters (max {})",
                        kind.to_lowercase(),
                        lim(key, default)
                    ));
                }
            }
        }
    }
    for b in t.buttons() {
        if let Some(txt) = b.text.as_deref() {
            let n = txt.chars().count();
            if n > lim("button_text_max", 25) {
                too_long.push(format!(
                    "button \"{}\" is {n} characters (max {})",
                    truncate_chars(txt, 30),
                    lim("button_text_max", 25)
                ));
            }
        }
        if let Some(u) = b.url.as_deref() {
            if u.len() > lim("url_max", 2000) {
                too_long.push(format!(
                    "button URL is {} characters (max {})",
                    u.len(),
                    lim("url_max", 2000)
                ));
            }
        }
    }
    if !too_long.is_empty() {
        let msg = too_long.join("; ");
        if let Some(f) = emit.builtin("tpl.hyg.length", format!("over Meta's limits: {msg}")) {
            f.details.insert("violations".into(), json!(too_long));
        }
    }
    if let Some(fc) = t.component("FOOTER") {
        if let Some(txt) = fc.text.as_deref() {
            if placeholders(txt).next().is_some() {
                emit.builtin(
                    "tpl.hyg.footer-variable",
                    "footer contains a variable; footers must be static text".to_owned(),
                );
            }
        }
    }

    // Buttons and emoji.
    let nb = t.buttons().count();
    let max_buttons = emit
        .rule("tpl.hyg.too-many-buttons")
        .map(|r| param_usize(&r.def.params, "max", 10))
        .unwrap_or(10);
    if nb > max_buttons {
        emit.builtin(
            "tpl.hyg.too-many-buttons",
            format!("{nb} buttons (Meta allows at most {max_buttons})"),
        );
    }
    if category != Category::Authentication {
        let max_emoji = emit
            .rule("tpl.hyg.too-many-emoji")
            .map(|r| param_usize(&r.def.params, "max", 10))
            .unwrap_or(10);
        let emoji: Vec<&str> = EMOJI.find_iter(body).map(|m| m.as_str()).collect();
        if emoji.len() > max_emoji {
            let ev: String = emoji.iter().take(12).copied().collect();
            if let Some(f) = emit.builtin(
                "tpl.hyg.too-many-emoji",
                format!(
                    "body has {} emoji (more than {max_emoji} reads as spam to recipients)",
                    emoji.len()
                ),
            ) {
                f.evidence = Some(ev);
            }
        }
    }
    // Variable density: too many variables for the amount of fixed text.
    if !ph.is_empty() && category != Category::Authentication {
        let min_words = emit.rule("tpl.hyg.variable-density").map_or(2, |r| {
            param_usize(&r.def.params, "min_words_per_variable", 2)
        });
        // The words of the text between the placeholders.
        let mut fixed = String::with_capacity(body.len());
        let mut at = 0;
        for &(s, e, _) in &ph {
            fixed.push_str(&body[at..s]);
            fixed.push(' ');
            at = e;
        }
        fixed.push_str(&body[at..]);
        let words = fixed
            .split_whitespace()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .count();
        if words < min_words * ph.len() {
            emit.builtin(
                "tpl.hyg.variable-density",
                format!(
                    "{} variables for {words} words of fixed text; Meta rejects templates that are mostly variables",
                    ph.len()
                ),
            );
        }
    }
}

fn meta_signals(t: &Template, emit: &mut Emitter<'_, '_>) {
    if let Some(score) = t.quality_score.as_ref().and_then(|q| q.score.as_deref()) {
        let (id, what) = match score.to_ascii_uppercase().as_str() {
            "YELLOW" => (Some("tpl.meta.quality-yellow"), "medium"),
            "RED" => (Some("tpl.meta.quality-red"), "low"),
            "GREEN" | "UNKNOWN" | "" => (None, ""),
            _ => (Some("tpl.meta.unknown-value"), ""),
        };
        if let Some(id) = id {
            let msg = if id == "tpl.meta.unknown-value" {
                format!("Meta reports an unknown template quality score `{score}` (kept verbatim)")
            } else {
                format!(
                    "Meta rates this template's quality {score} ({what}): recipients are blocking or reporting it; low quality leads to pauses and then disabling"
                )
            };
            let date = t.quality_score.as_ref().and_then(|q| q.date);
            if let Some(f) = emit.builtin(id, msg) {
                f.origin = super::Origin::Meta;
                f.evidence = Some(format!("quality_score.score = {score}"));
                if let Some(d) = date {
                    f.details.insert("quality_date".into(), json!(d));
                }
            }
        }
    }
    if let Some(status) = t.status.as_deref() {
        let up = status.to_ascii_uppercase();
        let (id, msg) = match up.as_str() {
            "PAUSED" => (
                Some("tpl.meta.paused"),
                "Meta paused this template for low quality (first pause 3 h, second 6 h, third time it is disabled)".to_owned(),
            ),
            "DISABLED" => (
                Some("tpl.meta.disabled"),
                "Meta disabled this template after repeated quality pauses; campaigns using it will fail (error 132016)".to_owned(),
            ),
            "REJECTED" => (
                Some("tpl.meta.rejected"),
                format!(
                    "Meta rejected this template (reason: {})",
                    t.rejected_reason.as_deref().unwrap_or("not given")
                ),
            ),
            "APPROVED" | "PENDING" | "IN_APPEAL" | "PENDING_DELETION" | "DELETED"
            | "LIMIT_EXCEEDED" | "ARCHIVED" => (None, String::new()),
            _ => (
                Some("tpl.meta.unknown-value"),
                format!("Meta reports an unknown template status `{status}` (kept verbatim)"),
            ),
        };
        if let Some(id) = id {
            let reason = t.rejected_reason.clone();
            if let Some(f) = emit.builtin(id, msg) {
                f.origin = super::Origin::Meta;
                f.evidence = Some(format!("status = {status}"));
                if let Some(r) = reason.filter(|r| r != "NONE") {
                    if matches!(
                        r.as_str(),
                        "INCORRECT_CATEGORY" | "PROMOTIONAL" | "SCAM" | "ABUSIVE_CONTENT"
                    ) && f.severity < Severity::High
                    {
                        f.severity = Severity::High;
                    }
                    f.details.insert("rejected_reason".into(), json!(r));
                }
            }
        }
    }
    if let Some(prev) = t.previous_category.as_deref().filter(|p| !p.is_empty()) {
        let now = t.category.as_deref().unwrap_or("?");
        if !prev.eq_ignore_ascii_case(now) {
            if let Some(f) = emit.builtin(
                "tpl.meta.recategorized",
                format!("Meta already moved this template from {prev} to {now}; similar templates filed as {prev} are at risk"),
            ) {
                f.origin = super::Origin::Meta;
                f.evidence = Some(format!("previous_category = {prev}, category = {now}"));
                f.details.insert("previous_category".into(), json!(prev));
                f.details.insert("category".into(), json!(now));
            }
        }
    }
}

/// Runs the examples of every builtin template rule (Graph API template JSON)
/// through the full template linter: positives must produce a finding of that
/// rule, negatives must not. Returns one line per failure.
pub fn check_builtin_examples(pack: &RulePack) -> Vec<String> {
    let mut failures = Vec::new();
    let ctx = TemplateContext {
        pack,
        scope: "",
        verticals: &[],
    };
    for r in &pack.rules {
        if r.def.kind != crate::rulepack::RuleKind::Builtin
            || !r.def.family.starts_with("template.")
        {
            continue;
        }
        for (positive, list) in [
            (true, &r.def.examples.positive),
            (false, &r.def.examples.negative),
        ] {
            for ex in list {
                let t: Template = match serde_json::from_str(ex) {
                    Ok(t) => t,
                    Err(e) => {
                        failures.push(format!(
                            "{}: rule `{}`: example is not a template: {e}",
                            r.source, r.def.id
                        ));
                        continue;
                    }
                };
                let fired = lint_template(&t, &ctx).iter().any(|f| f.rule == r.def.id);
                if fired != positive {
                    failures.push(format!(
                        "{}: rule `{}`: {} example {} {}",
                        r.source,
                        r.def.id,
                        if positive { "positive" } else { "negative" },
                        truncate_chars(ex.trim(), 100),
                        if positive { "does not fire" } else { "fires" }
                    ));
                }
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner finds exactly what the regex it replaces finds, on texts
    /// dense with braces, white space (also non-ASCII) and names.
    #[test]
    fn placeholder_scanner_agrees_with_the_regex() {
        let re = Regex::new(r"\{\{\s*([^{}]*?)\s*\}\}").unwrap();
        let alphabet = [
            '{', '{', '}', '}', ' ', '\u{a0}', '\n', 'a', '1', '_', 'é', '.',
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut checked = 0;
        for len in 0..40 {
            for _ in 0..400 {
                let text: String = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize]
                    })
                    .collect();
                let want: Vec<(usize, usize, &str)> = re
                    .captures_iter(&text)
                    .map(|c| {
                        let m = c.get(0).unwrap();
                        (m.start(), m.end(), c.get(1).unwrap().as_str())
                    })
                    .collect();
                let got: Vec<_> = placeholders(&text).collect();
                assert_eq!(got, want, "{text:?}");
                checked += usize::from(!want.is_empty());
            }
        }
        assert!(checked > 400, "too few texts with placeholders: {checked}");
        let named: Vec<_> = placeholders("Hi {{ first_name }}, {{1}}{{2}} {{ {{3}} }}").collect();
        assert_eq!(
            named,
            [
                (3, 19, "first_name"),
                (21, 26, "1"),
                (26, 31, "2"),
                (35, 40, "3")
            ]
        );
    }

    #[test]
    fn a_span_matched_by_several_patterns_of_one_rule_counts_once() {
        let hit = |start, end, weight| Hit {
            rule: 0,
            pattern: 0,
            weight,
            start,
            end,
        };
        let (a, b, c, d) = (
            hit(0, 11, 0.5),
            hit(0, 11, 0.5),
            hit(6, 14, 0.6),
            hit(20, 24, 0.5),
        );
        // The same span twice: one piece of evidence, at its largest weight.
        assert_eq!(span_weight(&[&a, &b]), 0.5);
        let strong = hit(0, 11, 0.8);
        assert_eq!(span_weight(&[&a, &strong, &b]), 0.8);
        // Overlapping but different spans add up, as do separate ones.
        assert!((span_weight(&[&a, &c]) - 1.1).abs() < 1e-9);
        assert_eq!(span_weight(&[&d, &b, &a]), 1.0);
        assert_eq!(span_weight(&[]), 0.0);
    }

    #[test]
    fn the_visible_text_is_the_prefix_of_the_scanned_text() {
        for json in [
            r#"{"components":[{"type":"HEADER","format":"TEXT","text":""},{"type":"BODY","text":"Olá {{1}}, ação!"},{"type":"BUTTONS","buttons":[{"type":"URL","text":"Ver","url":"https://x.example/{{1}}"},{"type":"QUICK_REPLY","text":"रोकें"}]}]}"#,
            r#"{"components":[{"type":"BODY","text":"only a body"}]}"#,
            r#"{"components":[{"type":"FOOTER","text":"f"},{"type":"BODY","text":"b"}]}"#,
            r#"{"components":[]}"#,
        ] {
            let t: Template = serde_json::from_str(json).unwrap();
            let visible = t.visible_text();
            assert_eq!(visible_len(&t), visible.len(), "{json}");
            assert!(scan_text(&t).starts_with(&visible), "{json}");
        }
    }

    /// An extra OTP sentence that names a restricted product is flagged at a
    /// lower model score than one that does not; one that says what the code
    /// confirms stays below even that bar.
    #[test]
    fn an_otp_sentence_naming_a_restricted_product_has_a_lower_bar() {
        let pack = RulePack::builtin().unwrap();
        let model = pack.model.as_deref().unwrap();
        let check = |lang: &str, extra: &str, advert: bool| {
            let body = format!("*{{{{1}}}}* is your verification code. {extra}");
            let (a, b) = crate::rulepack::model::sentence_spans(&body)[1];
            let score = model.score(&body[a..b]);
            let code = pack.scan(lang, Signal::Code, &body);
            let restricted = pack.scan(lang, Signal::Restricted, &body);
            assert!(
                restricted.iter().any(|h| h.start >= a),
                "{extra}: no restricted product found"
            );
            // Between the two bars (or below both): the product decides.
            assert!(score < 20.0, "{extra}: {score}");
            assert!(
                auth_extra(&body, &code, &[], false, &pack).is_none(),
                "{extra}"
            );
            let got = auth_extra(&body, &code, &restricted, false, &pack);
            if advert {
                assert_eq!(got.map(|x| (x.0, x.1)), Some((a, b)), "{extra}: {score}");
            } else {
                assert!(got.is_none(), "{extra}: {score}");
            }
        };
        check(
            "id",
            "Liquid saltnic dan pod vape sudah ada di menu aplikasi, dikirim dalam 1 jam.",
            true,
        );
        check(
            "it",
            "Nel menu dell'app trovi cime di cannabis e resina, consegna in 40 minuti.",
            true,
        );
        check(
            "it",
            "Serve a confermare il prelievo di 0,5 ETH verso un wallet esterno.",
            false,
        );
        check(
            "es",
            "Úsalo para confirmar el desembolso de tu adelanto de nómina por $300.000.",
            false,
        );
    }
}
