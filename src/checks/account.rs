//! Account checks: Meta's own signals about the account and its numbers, and
//! the two-step verification PIN hygiene.
//!
//! Families: `business.verification`, `number.quality`, `number.status`,
//! `number.limit`, `number.code_verification`, `account.health`,
//! `account.violation` (webhook events), `account.send_errors` (the send
//! log), `account.two_step_pin`, and `account.unknown_value` for enumeration
//! values wabaguard does not know (kept verbatim, reported as `info`).
//! Everything except the PIN hygiene and the send-log trend is a signal Meta
//! itself sent, so those findings carry `Origin::Meta`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde_json::json;

use super::{CheckContext, Finding, Origin, RuleEmitter, Severity, Subject, SubjectKind};
use crate::enforcement::{self, DAY, History, codes, day, ts};
use crate::snapshot::signals::{TemplateCategoryUpdate, TemplateStatusUpdate};
use crate::snapshot::{EventKind, HealthEntity, HealthStatus, Snapshot, tier_rank};

/// Runs every account check.
pub fn check(snap: &Snapshot, ctx: &CheckContext<'_>, em: &mut RuleEmitter<'_>) {
    let now = ctx.now.timestamp();
    let history = enforcement::history(snap);
    let mut c = Ctx {
        snap,
        ctx,
        now,
        history: &history,
        unknown: BTreeSet::new(),
    };
    c.business_verification(em);
    c.numbers(em);
    c.health(em);
    c.events(em);
    c.send_errors(em);
    c.two_step(em);
}

struct Ctx<'a> {
    snap: &'a Snapshot,
    ctx: &'a CheckContext<'a>,
    now: i64,
    history: &'a History,
    /// (where, value) pairs already reported as unknown.
    unknown: BTreeSet<(String, String)>,
}

fn up(s: Option<&str>) -> Option<String> {
    s.map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
}

fn meta(mut f: Option<&mut Finding>) -> Option<&mut Finding> {
    if let Some(f) = f.as_deref_mut() {
        f.origin = Origin::Meta;
    }
    f
}

impl Ctx<'_> {
    fn waba_subject(&self, field: &str) -> Subject {
        let mut s = Subject::new(SubjectKind::Waba).with_field(field);
        if !self.snap.waba_id.is_empty() {
            s = s.with_id(self.snap.waba_id.clone());
        }
        s
    }

    fn number_subject(id: &str, field: &str) -> Subject {
        Subject::new(SubjectKind::PhoneNumber)
            .with_id(id)
            .with_field(field)
    }

    /// `+55 ••• ••• 0192 (118374650192837)` or the id alone.
    fn number_label(&self, id: &str) -> String {
        let display = self
            .snap
            .phone_numbers
            .iter()
            .find(|n| n.id.as_deref() == Some(id))
            .and_then(|n| n.display_phone_number.as_deref());
        match display {
            Some(d) => format!("{} ({id})", crate::mask::phone(d, self.ctx.mask_phones)),
            None => format!("phone number {id}"),
        }
    }

    /// Reports a value Meta sent that wabaguard does not know (once per
    /// place and value).
    fn unknown(&mut self, em: &mut RuleEmitter<'_>, subject: Subject, what: &str, value: &str) {
        if !self.unknown.insert((subject.identity(), value.to_owned())) {
            return;
        }
        if let Some(f) = meta(em.emit(
            "acct.meta.unknown-value",
            subject,
            format!("Meta reports an unknown {what} `{value}` (kept verbatim; wabaguard does not interpret it yet)"),
        )) {
            f.evidence = Some(format!("{what} = {value}"));
            f.details.insert("value".into(), json!(value));
        }
    }

    // ---- business.verification ------------------------------------------

    fn business_verification(&mut self, em: &mut RuleEmitter<'_>) {
        let w = self.snap.waba.clone().unwrap_or_default();
        if let Some(v) = w.business_verification_status.as_deref() {
            let lower = v.trim().to_ascii_lowercase();
            let id = match lower.as_str() {
                "verified" => None,
                "pending" | "pending_need_more_info" | "pending_submission" => {
                    Some("biz.verification.pending")
                }
                "not_verified" | "rejected" | "revoked" | "failed" | "expired" => {
                    Some("biz.verification.failed")
                }
                _ => {
                    let s = self.waba_subject("business_verification_status");
                    self.unknown(em, s, "business_verification_status", v);
                    None
                }
            };
            if let Some(id) = id {
                let msg = if id == "biz.verification.pending" {
                    format!("Business verification of the owning portfolio is not finished (`{v}`)")
                } else {
                    format!("The owning business portfolio is not verified (`{v}`)")
                };
                if let Some(f) =
                    meta(em.emit(id, self.waba_subject("business_verification_status"), msg))
                {
                    f.evidence = Some(format!("business_verification_status = {v}"));
                }
            }
        }
        if let Some(v) = w.account_review_status.as_deref() {
            let id = match up(Some(v)).as_deref() {
                Some("APPROVED") | None => None,
                Some("PENDING") => Some("biz.review.pending"),
                Some("REJECTED") => Some("biz.review.rejected"),
                _ => {
                    let s = self.waba_subject("account_review_status");
                    self.unknown(em, s, "account_review_status", v);
                    None
                }
            };
            if let Some(id) = id {
                if let Some(f) = meta(em.emit(
                    id,
                    self.waba_subject("account_review_status"),
                    format!("Meta's review of the WhatsApp Business Account is `{v}`"),
                )) {
                    f.evidence = Some(format!("account_review_status = {v}"));
                }
            }
        }
        for n in &self.snap.phone_numbers {
            let Some(v) = n.name_status.as_deref() else {
                continue;
            };
            let nid = n.id_str().to_owned();
            let id = match up(Some(v)).as_deref() {
                Some("APPROVED" | "AVAILABLE_WITHOUT_REVIEW") | None => None,
                Some("PENDING_REVIEW" | "NONE") => Some("biz.name.pending"),
                Some("DECLINED" | "EXPIRED") => Some("biz.name.declined"),
                _ => {
                    self.unknown(
                        em,
                        Self::number_subject(&nid, "name_status"),
                        "name_status",
                        v,
                    );
                    None
                }
            };
            if let Some(id) = id {
                let name = n.verified_name.as_deref().unwrap_or("(no name)");
                let label = self.number_label(&nid);
                if let Some(f) = meta(em.emit(
                    id,
                    Self::number_subject(&nid, "name_status"),
                    format!("The display name \u{201c}{name}\u{201d} of {label} is `{v}`"),
                )) {
                    f.evidence = Some(format!("name_status = {v}"));
                }
            }
        }
    }

    // ---- number.* ----------------------------------------------------------

    fn numbers(&mut self, em: &mut RuleEmitter<'_>) {
        let event_days = em.param_i64("num.limit.downgraded", "event_days", 30);
        for n in &self.snap.phone_numbers {
            let nid = n.id_str().to_owned();
            let label = self.number_label(&nid);
            if let Some(q) = n.quality_rating.as_deref() {
                let id = match up(Some(q)).as_deref() {
                    Some("GREEN" | "UNKNOWN" | "NA") | None => None,
                    Some("YELLOW") => Some("num.quality.yellow"),
                    Some("RED") => Some("num.quality.red"),
                    _ => {
                        self.unknown(
                            em,
                            Self::number_subject(&nid, "quality_rating"),
                            "quality_rating",
                            q,
                        );
                        None
                    }
                };
                if let Some(id) = id {
                    if let Some(f) = meta(em.emit(
                        id,
                        Self::number_subject(&nid, "quality_rating"),
                        format!("Meta rates the quality of {label} {q}: recipients are blocking or reporting its messages"),
                    )) {
                        f.evidence = Some(format!("quality_rating = {q}"));
                    }
                }
            }
            if let Some(st) = n.status.as_deref() {
                let id = match up(Some(st)).as_deref() {
                    Some("CONNECTED" | "PENDING" | "MIGRATED" | "DELETED" | "UNVERIFIED")
                    | None => None,
                    Some("FLAGGED") => Some("num.status.flagged"),
                    Some("RESTRICTED") => Some("num.status.restricted"),
                    Some("BANNED") => Some("num.status.banned"),
                    Some("DISCONNECTED") => Some("num.status.disconnected"),
                    Some("RATE_LIMITED") => Some("num.status.rate-limited"),
                    _ => {
                        self.unknown(
                            em,
                            Self::number_subject(&nid, "status"),
                            "phone number status",
                            st,
                        );
                        None
                    }
                };
                if let Some(id) = id {
                    if let Some(f) = meta(em.emit(
                        id,
                        Self::number_subject(&nid, "status"),
                        format!("Meta reports {label} as {st}"),
                    )) {
                        f.evidence = Some(format!("status = {st}"));
                    }
                }
            }
            if let Some(cv) = n.code_verification_status.as_deref() {
                match up(Some(cv)).as_deref() {
                    Some("VERIFIED") | None => {}
                    Some("NOT_VERIFIED" | "EXPIRED") => {
                        if let Some(f) = meta(em.emit(
                            "num.code.not-verified",
                            Self::number_subject(&nid, "code_verification_status"),
                            format!("Ownership of {label} is not verified by code (`{cv}`)"),
                        )) {
                            f.evidence = Some(format!("code_verification_status = {cv}"));
                        }
                    }
                    _ => self.unknown(
                        em,
                        Self::number_subject(&nid, "code_verification_status"),
                        "code_verification_status",
                        cv,
                    ),
                }
            }
            self.limit(em, n, &nid, &label, event_days);
        }
    }

    fn limit(
        &mut self,
        em: &mut RuleEmitter<'_>,
        n: &crate::snapshot::PhoneNumber,
        nid: &str,
        label: &str,
        event_days: i64,
    ) {
        let current = n.messaging_limit();
        if let Some(c) = current.filter(|c| tier_rank(c).is_none()) {
            let field = if n.whatsapp_business_manager_messaging_limit.is_some() {
                "whatsapp_business_manager_messaging_limit"
            } else {
                "messaging_limit_tier"
            };
            self.unknown(em, Self::number_subject(nid, "messaging_limit"), field, c);
        }
        let mut evidence: Vec<String> = Vec::new();
        let mut details = serde_json::Map::new();
        if let (Some(prev), Some(cur)) = (
            self.ctx
                .previous_numbers
                .and_then(|p| p.iter().find(|s| s.id == nid))
                .and_then(|s| s.messaging_limit.as_deref()),
            current,
        ) {
            if let (Some(a), Some(b)) = (tier_rank(prev), tier_rank(cur)) {
                if b < a {
                    evidence.push(format!("previous run {prev} → now {cur}"));
                    details.insert("previous_limit".into(), json!(prev));
                    details.insert("current_limit".into(), json!(cur));
                }
            }
        }
        let events: Vec<&enforcement::NumberEvent> = self
            .history
            .downgrades
            .iter()
            .filter(|e| e.phone_number_id.as_deref() == Some(nid))
            .filter(|e| e.time > self.now - event_days * DAY && e.time <= self.now)
            .collect();
        for e in &events {
            evidence.push(format!(
                "DOWNGRADE webhook {}: {} → {}",
                day(e.time),
                e.old_limit.as_deref().unwrap_or("?"),
                e.current_limit.as_deref().unwrap_or("?")
            ));
        }
        if !events.is_empty() {
            details.insert(
                "downgrade_events".into(),
                json!(
                    events
                        .iter()
                        .map(|e| json!({
                            "time": ts(e.time),
                            "old_limit": e.old_limit,
                            "current_limit": e.current_limit,
                        }))
                        .collect::<Vec<_>>()
                ),
            );
        }
        if evidence.is_empty() {
            return;
        }
        let msg = format!(
            "The messaging limit of {label} went down (now {})",
            current.unwrap_or("unknown")
        );
        if let Some(f) = meta(em.emit(
            "num.limit.downgraded",
            Self::number_subject(nid, "messaging_limit"),
            msg,
        )) {
            f.evidence = Some(evidence.join("; "));
            f.details = details;
        }
    }

    // ---- account.health ----------------------------------------------------

    fn health(&mut self, em: &mut RuleEmitter<'_>) {
        // The same entity (the WABA, the business, the app) appears in the
        // WABA's health_status and in every number's: merge by (type, id).
        let mut entities: BTreeMap<(String, String), HealthEntity> = BTreeMap::new();
        let mut aggregates: Vec<(Subject, String, &HealthStatus)> = Vec::new();
        if let Some(h) = self
            .snap
            .waba
            .as_ref()
            .and_then(|w| w.health_status.as_ref())
        {
            aggregates.push((self.waba_subject("health_status"), "the WABA".into(), h));
        }
        for n in &self.snap.phone_numbers {
            if let Some(h) = n.health_status.as_ref() {
                let nid = n.id_str();
                aggregates.push((
                    Self::number_subject(nid, "health_status"),
                    self.number_label(nid),
                    h,
                ));
            }
        }
        for (_, _, h) in &aggregates {
            for e in &h.entities {
                let key = (
                    up(e.entity_type.as_deref()).unwrap_or_else(|| "ENTITY".into()),
                    e.id.clone().unwrap_or_default(),
                );
                match entities.get_mut(&key) {
                    None => {
                        entities.insert(key, e.clone());
                    }
                    Some(have) => {
                        if rank(e.can_send_message.as_deref())
                            > rank(have.can_send_message.as_deref())
                        {
                            have.can_send_message = e.can_send_message.clone();
                        }
                        for err in &e.errors {
                            if !have.errors.contains(err) {
                                have.errors.push(err.clone());
                            }
                        }
                    }
                }
            }
        }
        let mut any_entity_bad = false;
        for ((kind, id), e) in &entities {
            let Some(state) = e.can_send_message.as_deref() else {
                continue;
            };
            let rule = match up(Some(state)).as_deref() {
                Some("AVAILABLE") | None => continue,
                Some("LIMITED") => "acct.health.limited",
                Some("BLOCKED") => "acct.health.blocked",
                _ => {
                    let s = entity_subject(kind, id, &self.snap.waba_id);
                    self.unknown(em, s, "health_status.can_send_message", state);
                    continue;
                }
            };
            any_entity_bad = true;
            let who = match kind.as_str() {
                "PHONE_NUMBER" => self.number_label(id),
                "WABA" => format!("the WABA {id}"),
                other => format!("the {} {id}", other.to_ascii_lowercase().replace('_', " ")),
            };
            let errs: Vec<String> = e
                .errors
                .iter()
                .map(|x| {
                    format!(
                        "{}: {}",
                        x.error_code.map_or("?".into(), |c| c.to_string()),
                        x.error_description.as_deref().unwrap_or("no description")
                    )
                })
                .collect();
            let solutions: Vec<&str> = e
                .errors
                .iter()
                .filter_map(|x| x.possible_solution.as_deref())
                .collect();
            let msg = if errs.is_empty() {
                format!("Meta's health status for {who} is {state}")
            } else {
                format!(
                    "Meta's health status for {who} is {state}: {}",
                    errs.join("; ")
                )
            };
            if let Some(f) = meta(em.emit(rule, entity_subject(kind, id, &self.snap.waba_id), msg))
            {
                f.evidence = Some(format!("{kind} {id}: can_send_message = {state}"));
                if !solutions.is_empty() {
                    f.remediation = format!("Meta suggests: {}", solutions.join(" "));
                }
                f.details.insert("entity_type".into(), json!(kind));
                f.details.insert("entity_id".into(), json!(id));
                f.details.insert("can_send_message".into(), json!(state));
                f.details.insert("errors".into(), json!(e.errors));
                if let Some(a) = &e.additional_info {
                    f.details.insert("additional_info".into(), a.clone());
                }
            }
        }
        if any_entity_bad {
            return;
        }
        // An aggregate that is LIMITED/BLOCKED without an entity saying why.
        for (subject, who, h) in aggregates {
            let Some(state) = h.can_send_message.as_deref() else {
                continue;
            };
            let rule = match up(Some(state)).as_deref() {
                Some("LIMITED") => "acct.health.limited",
                Some("BLOCKED") => "acct.health.blocked",
                Some("AVAILABLE") | None => continue,
                _ => {
                    self.unknown(em, subject, "health_status.can_send_message", state);
                    continue;
                }
            };
            if let Some(f) = meta(em.emit(
                rule,
                subject,
                format!("Meta's health status for {who} is {state} (no entity gives a reason)"),
            )) {
                f.evidence = Some(format!("can_send_message = {state}"));
            }
        }
    }

    // ---- account.violation (webhook events) -------------------------------

    fn events(&mut self, em: &mut RuleEmitter<'_>) {
        let now = self.now;
        let h = self.history;
        let lb = |em: &RuleEmitter<'_>, id: &str| now - em.param_i64(id, "lookback_days", 90) * DAY;

        let since = lb(em, "acct.event.violation");
        for v in h
            .violations
            .iter()
            .filter(|v| v.time > since && v.time <= now)
        {
            if let Some(f) = meta(em.emit(
                "acct.event.violation",
                Subject::new(SubjectKind::Event)
                    .with_id(v.time.to_string())
                    .with_name("ACCOUNT_VIOLATION")
                    .with_field(v.violation_type.clone()),
                format!(
                    "Meta recorded a policy violation ({}) on {}: the first step of the enforcement ladder",
                    v.violation_type,
                    day(v.time)
                ),
            )) {
                f.evidence = Some(format!(
                    "account_update ACCOUNT_VIOLATION violation_type={} at {} (events.jsonl line {})",
                    v.violation_type,
                    ts(v.time),
                    v.line
                ));
                f.details.insert("time".into(), json!(ts(v.time)));
                f.details.insert("violation_type".into(), json!(v.violation_type));
            }
        }

        let since_past = lb(em, "acct.event.restriction-past");
        for r in &h.restrictions {
            for t in r.types.iter().filter(|t| !is_known_restriction(t)) {
                let s = Subject::new(SubjectKind::Event)
                    .with_name("ACCOUNT_RESTRICTION")
                    .with_field("restriction_type");
                self.unknown(em, s, "restriction_type", t);
            }
            let active = r.active(now);
            let (id, msg) = if active {
                (
                    "acct.event.restriction-active",
                    format!(
                        "Meta restricted the account ({}) on {}; the restriction is in force until {}",
                        r.types.join(", "),
                        day(r.time),
                        r.expiration.map_or("an unknown time".into(), ts)
                    ),
                )
            } else if r.time > since_past && r.time <= now {
                (
                    "acct.event.restriction-past",
                    format!(
                        "Meta restricted the account ({}) on {}{}: the account is already on the enforcement ladder",
                        r.types.join(", "),
                        day(r.time),
                        r.expiration
                            .map(|e| format!(" until {}", day(e)))
                            .unwrap_or_default()
                    ),
                )
            } else {
                continue;
            };
            if let Some(f) = meta(
                em.emit(
                    id,
                    Subject::new(SubjectKind::Event)
                        .with_id(r.time.to_string())
                        .with_name("ACCOUNT_RESTRICTION")
                        .with_field(r.types.join(",")),
                    msg,
                ),
            ) {
                f.evidence = Some(format!(
                    "account_update ACCOUNT_RESTRICTION at {} (events.jsonl line {})",
                    ts(r.time),
                    r.line
                ));
                f.details.insert("time".into(), json!(ts(r.time)));
                f.details.insert("restriction_types".into(), json!(r.types));
                if let Some(e) = r.expiration {
                    f.details.insert("expiration".into(), json!(ts(e)));
                }
                if let Some(step) = r.ladder_step() {
                    f.details
                        .insert("ladder_step".into(), json!(enforcement::LADDER[step]));
                }
            }
        }

        if let Some(b) = h.ban() {
            let id = match b.state.as_str() {
                "DISABLE" => Some("acct.event.ban"),
                "SCHEDULE_FOR_DISABLE" => Some("acct.event.ban-scheduled"),
                "REINSTATE" => None,
                other => {
                    let s = self.waba_subject("waba_ban_state");
                    self.unknown(em, s, "waba_ban_state", other);
                    None
                }
            };
            if let Some(id) = id {
                let msg = if id == "acct.event.ban" {
                    format!(
                        "Meta disabled the WhatsApp Business Account on {}",
                        day(b.time)
                    )
                } else {
                    format!(
                        "Meta scheduled the WhatsApp Business Account to be disabled{}",
                        b.date
                            .as_deref()
                            .map(|d| format!(" on {d}"))
                            .unwrap_or_default()
                    )
                };
                if let Some(f) = meta(em.emit(id, self.waba_subject("waba_ban_state"), msg)) {
                    f.evidence = Some(format!(
                        "account_update waba_ban_state={} at {} (events.jsonl line {})",
                        b.state,
                        ts(b.time),
                        b.line
                    ));
                    if let Some(d) = &b.date {
                        f.details.insert("waba_ban_date".into(), json!(d));
                    }
                }
            }
        }

        for a in &h.active_alerts {
            let id = match a.severity.as_str() {
                "CRITICAL" => "acct.event.alert-critical",
                "WARNING" => "acct.event.alert-warning",
                "INFORMATIONAL" => "acct.event.alert-info",
                other => {
                    let s = Subject::new(SubjectKind::Event)
                        .with_id(a.entity.clone())
                        .with_name(a.alert_type.clone())
                        .with_field("alert_severity");
                    if !other.is_empty() {
                        self.unknown(em, s, "alert_severity", other);
                    }
                    "acct.event.alert-info"
                }
            };
            if let Some(f) = meta(
                em.emit(
                    id,
                    Subject::new(SubjectKind::Event)
                        .with_id(a.entity.clone())
                        .with_name(a.alert_type.clone()),
                    format!(
                        "Active {} alert from Meta on {} since {}: {}",
                        if a.severity.is_empty() {
                            "unrated"
                        } else {
                            &a.severity
                        },
                        a.entity,
                        day(a.time),
                        a.description.as_deref().unwrap_or(&a.alert_type)
                    ),
                ),
            ) {
                f.evidence = Some(format!(
                    "account_alerts {} {} at {} (events.jsonl line {})",
                    a.severity,
                    a.alert_type,
                    ts(a.time),
                    a.line
                ));
                f.details.insert("alert_type".into(), json!(a.alert_type));
                f.details.insert("alert_severity".into(), json!(a.severity));
            }
        }

        let since_flag = lb(em, "acct.event.number-flagged");
        for e in h
            .flagged
            .iter()
            .filter(|e| e.time > since_flag && e.time <= now)
        {
            let number = e.phone_number_id.as_deref().and_then(|id| {
                self.snap
                    .phone_numbers
                    .iter()
                    .find(|n| n.id.as_deref() == Some(id))
            });
            if number
                .and_then(|n| up(n.status.as_deref()))
                .is_some_and(|s| s == "FLAGGED")
            {
                continue; // number.status reports it
            }
            let (subject, who) = match e.phone_number_id.as_deref() {
                Some(id) => (
                    Self::number_subject(id, "quality_event"),
                    self.number_label(id),
                ),
                None => {
                    let masked = crate::mask::phone(&e.display, self.ctx.mask_phones);
                    (
                        Subject::new(SubjectKind::PhoneNumber)
                            .with_name(masked.clone())
                            .with_field("quality_event"),
                        masked,
                    )
                }
            };
            if let Some(f) = meta(em.emit(
                "acct.event.number-flagged",
                subject,
                format!(
                    "Meta flagged {who} for low quality on {} and has not lifted it",
                    day(e.time)
                ),
            )) {
                f.evidence = Some(format!(
                    "phone_number_quality_update FLAGGED at {} (events.jsonl line {})",
                    ts(e.time),
                    e.line
                ));
            }
        }

        self.template_events(em, lb(em, "acct.event.template-paused"));
        self.category_events(em, lb(em, "acct.event.category-changed"));
        self.unknown_event_values(em, lb(em, "acct.event.violation"));
    }

    fn template_events(&mut self, em: &mut RuleEmitter<'_>, since: i64) {
        let now = self.now;
        // Latest status event and pause count per template (name, language).
        let mut latest: BTreeMap<
            (String, String),
            (&crate::snapshot::WebhookEvent, &TemplateStatusUpdate),
        > = BTreeMap::new();
        let mut pauses: BTreeMap<(String, String), usize> = BTreeMap::new();
        for ev in &self.snap.events {
            if let EventKind::MessageTemplateStatusUpdate(t) = &ev.kind {
                let key = (
                    t.message_template_name.clone().unwrap_or_default(),
                    t.message_template_language.clone().unwrap_or_default(),
                );
                if up(t.event.as_deref()).as_deref() == Some("PAUSED") {
                    *pauses.entry(key.clone()).or_insert(0) += 1;
                }
                latest.insert(key, (ev, t));
            }
        }
        for ((name, lang), (ev, t)) in latest {
            let event = up(t.event.as_deref()).unwrap_or_default();
            let subject = Subject::template(t.message_template_id.as_deref(), &name, &lang);
            if !is_known_template_event(&event) {
                if ev.time > since {
                    self.unknown(
                        em,
                        subject.with_field("event"),
                        "template status event",
                        &event,
                    );
                }
                continue;
            }
            if ev.time <= since || ev.time > now {
                continue;
            }
            let title = t
                .other_info
                .as_ref()
                .and_then(|o| o.title.clone())
                .unwrap_or_default();
            let description = t.other_info.as_ref().and_then(|o| o.description.clone());
            let at = format!(
                "message_template_status_update {event} at {} (events.jsonl line {})",
                ts(ev.time),
                ev.line
            );
            match event.as_str() {
                "PAUSED" => {
                    let n = pauses
                        .get(&(name.clone(), lang.clone()))
                        .copied()
                        .unwrap_or(1);
                    let hours = if title.eq_ignore_ascii_case("SECOND_PAUSE") || n >= 2 {
                        6
                    } else {
                        3
                    };
                    let until = description
                        .as_deref()
                        .and_then(pause_until)
                        .unwrap_or(ev.time + hours * 3600);
                    let active = until > now;
                    let msg = format!(
                        "Meta paused {name} ({lang}) on {} ({}pause {n}){}; a third pause disables the template",
                        ts(ev.time),
                        if title.is_empty() {
                            String::new()
                        } else {
                            format!("{title}, ")
                        },
                        if active {
                            format!(", in force until {}", ts(until))
                        } else {
                            format!(", ended {}", ts(until))
                        }
                    );
                    if let Some(f) = meta(em.emit("acct.event.template-paused", subject, msg)) {
                        if title.eq_ignore_ascii_case("SECOND_PAUSE") || n >= 2 {
                            f.severity = f.severity.max(Severity::High);
                        }
                        f.evidence = Some(at);
                        f.details.insert("pause_count".into(), json!(n));
                        f.details.insert("until".into(), json!(ts(until)));
                        f.details.insert("active".into(), json!(active));
                        if !title.is_empty() {
                            f.details.insert("title".into(), json!(title));
                        }
                    }
                }
                "DISABLED" => {
                    if let Some(f) = meta(em.emit(
                        "acct.event.template-disabled",
                        subject,
                        format!("Meta disabled {name} ({lang}) on {}", day(ev.time)),
                    )) {
                        f.evidence = Some(at);
                    }
                }
                "REJECTED" => {
                    let reason = t.reason.clone().unwrap_or_else(|| "NONE".into());
                    if let Some(f) = meta(em.emit(
                        "acct.event.template-rejected",
                        subject,
                        format!(
                            "Meta rejected {name} ({lang}) on {} (reason {reason})",
                            day(ev.time)
                        ),
                    )) {
                        if matches!(
                            reason.as_str(),
                            "INCORRECT_CATEGORY" | "PROMOTIONAL" | "SCAM" | "ABUSIVE_CONTENT"
                        ) {
                            f.severity = f.severity.max(Severity::High);
                        }
                        f.evidence = Some(at);
                        f.details.insert("reason".into(), json!(reason));
                    }
                }
                _ => {}
            }
        }
    }

    fn category_events(&mut self, em: &mut RuleEmitter<'_>, since: i64) {
        let now = self.now;
        type Key = (String, String);
        let mut impending: BTreeMap<
            Key,
            (&crate::snapshot::WebhookEvent, &TemplateCategoryUpdate),
        > = BTreeMap::new();
        let mut done: BTreeMap<Key, (&crate::snapshot::WebhookEvent, &TemplateCategoryUpdate)> =
            BTreeMap::new();
        for ev in &self.snap.events {
            if let EventKind::TemplateCategoryUpdate(c) = &ev.kind {
                let key = (
                    c.message_template_name.clone().unwrap_or_default(),
                    c.message_template_language.clone().unwrap_or_default(),
                );
                if c.new_category.is_some() {
                    done.insert(key, (ev, c));
                } else if c.correct_category.is_some() {
                    impending.insert(key, (ev, c));
                }
            }
        }
        for ((name, lang), (ev, c)) in &impending {
            let completed_after = done
                .get(&(name.clone(), lang.clone()))
                .is_some_and(|(d, _)| d.time >= ev.time);
            if completed_after {
                continue;
            }
            let target = c.correct_category.as_deref().unwrap_or("?");
            let already = self.snap.templates.iter().any(|t| {
                &t.name == name
                    && &t.language == lang
                    && t.category
                        .as_deref()
                        .is_some_and(|x| x.eq_ignore_ascii_case(target))
            });
            if already {
                continue;
            }
            let subject = Subject::template(c.message_template_id.as_deref(), name, lang);
            let when = c.category_update_timestamp;
            let at = format!(
                "template_category_update correct_category={target} at {} (events.jsonl line {})",
                ts(ev.time),
                ev.line
            );
            match when {
                Some(w) if w <= now => {
                    if w > since {
                        if let Some(f) = meta(em.emit(
                            "acct.event.category-changed",
                            subject,
                            format!("Meta's announced move of {name} ({lang}) to {target} took effect on {}", day(w)),
                        )) {
                            f.evidence = Some(at);
                            f.details.insert("new_category".into(), json!(target));
                            f.details.insert("effective".into(), json!(ts(w)));
                        }
                    }
                }
                _ => {
                    let high_within =
                        em.param_i64("acct.event.category-impending", "high_within_days", 7);
                    let current = self
                        .snap
                        .templates
                        .iter()
                        .find(|t| &t.name == name && &t.language == lang)
                        .and_then(|t| t.category.clone());
                    let from = current
                        .as_deref()
                        .map(|c| format!(" from {c}"))
                        .unwrap_or_default();
                    let message = match when {
                        Some(w) => format!(
                            "Meta will move {name} ({lang}){from} to {target} on {} ({} left): request a review in Business Support Home or recategorise it yourself before then",
                            ts(w),
                            crate::checks::register::countdown(chrono::Duration::seconds(w - now))
                        ),
                        None => format!(
                            "Meta will move {name} ({lang}){from} to {target} (no date announced): request a review in Business Support Home or recategorise it yourself now"
                        ),
                    };
                    if let Some(f) =
                        meta(em.emit("acct.event.category-impending", subject, message))
                    {
                        f.evidence = Some(at);
                        f.details.insert("correct_category".into(), json!(target));
                        if let Some(c) = &current {
                            f.details.insert("current_category".into(), json!(c));
                        }
                        if let Some(w) = when {
                            f.details.insert("effective".into(), json!(ts(w)));
                            f.details
                                .insert("days_left".into(), json!((w - now) / 86_400));
                            f.details
                                .insert("hours_left".into(), json!((w - now) / 3600));
                            if w - now <= high_within * 86_400 {
                                f.severity = f.severity.max(Severity::High);
                            }
                        }
                    }
                }
            }
        }
        for ((name, lang), (ev, c)) in &done {
            if ev.time <= since || ev.time > now {
                continue;
            }
            let prev = c.previous_category.as_deref().unwrap_or("?");
            let new = c.new_category.as_deref().unwrap_or("?");
            if let Some(f) = meta(em.emit(
                "acct.event.category-changed",
                Subject::template(c.message_template_id.as_deref(), name, lang),
                format!(
                    "Meta moved {name} ({lang}) from {prev} to {new} on {}",
                    day(ev.time)
                ),
            )) {
                f.evidence = Some(format!(
                    "template_category_update {prev} → {new} at {} (events.jsonl line {})",
                    ts(ev.time),
                    ev.line
                ));
                f.details.insert("previous_category".into(), json!(prev));
                f.details.insert("new_category".into(), json!(new));
            }
        }
    }

    fn unknown_event_values(&mut self, em: &mut RuleEmitter<'_>, since: i64) {
        for ev in self.snap.events.iter().filter(|e| e.time > since) {
            let (what, value) = match &ev.kind {
                EventKind::AccountUpdate(u) => match up(u.event.as_deref()) {
                    Some(e) if !is_known_account_event(&e) => ("account_update event", e),
                    _ => continue,
                },
                EventKind::PhoneNumberQualityUpdate(q) => match up(q.event.as_deref()) {
                    Some(e) if !is_known_quality_event(&e) => {
                        ("phone_number_quality_update event", e)
                    }
                    _ => continue,
                },
                _ => continue,
            };
            let s = Subject::new(SubjectKind::Event)
                .with_name(ev.field.clone())
                .with_field("event");
            self.unknown(em, s, what, &value);
        }
    }

    // ---- account.send_errors -----------------------------------------------

    fn send_errors(&mut self, em: &mut RuleEmitter<'_>) {
        let Some(stats) = self.snap.send_stats.as_ref() else {
            return;
        };
        let now = self.now;
        let table: [(&str, i64, &str); 8] = [
            ("acct.send.locked", codes::LOCKED, "Business Account locked"),
            (
                "acct.send.blocked",
                codes::TEMP_BLOCKED,
                "temporarily blocked for policy violations",
            ),
            (
                "acct.send.country-restricted",
                codes::COUNTRY_RESTRICTED,
                "restricted from messaging users in this country",
            ),
            (
                "acct.send.spam-rate",
                codes::SPAM_RATE,
                "spam rate limit hit",
            ),
            (
                "acct.send.ecosystem",
                codes::ECOSYSTEM,
                "not delivered to maintain healthy ecosystem engagement",
            ),
            ("acct.send.pair-rate", codes::PAIR_RATE, "pair rate limit"),
            (
                "acct.send.template-paused",
                codes::TEMPLATE_PAUSED,
                "template is paused",
            ),
            (
                "acct.send.template-disabled",
                codes::TEMPLATE_DISABLED,
                "template is disabled",
            ),
        ];
        for (id, code, title) in table {
            let min = em.param_i64(id, "min_count", 1).max(1) as u64;
            let w = enforcement::code_window(stats, code, now);
            if w.last_7d < min {
                continue;
            }
            let numbers: Vec<String> = w
                .phone_number_ids
                .iter()
                .map(|n| self.number_label(n))
                .collect();
            let mut msg = format!(
                "{code} ({title}) in {} of {} logged sends in the last 7 days ({:.1}%), {} of {} in the last 24 h",
                w.last_7d,
                w.rows_7d,
                100.0 * w.rate_7d(),
                w.last_24h,
                w.rows_24h
            );
            if code == codes::LOCKED || code == codes::TEMP_BLOCKED {
                if let Some(b) = enforcement::send_block(stats, code, now) {
                    msg.push_str(if b.resolved {
                        "; sends succeeded again after the last one"
                    } else {
                        "; no successful send since"
                    });
                }
            }
            // The error codes are Meta's own answer to the sends.
            if let Some(f) = meta(em.emit(
                id,
                Subject::new(SubjectKind::SendLog).with_name(code.to_string()),
                msg,
            )) {
                f.evidence = Some(format!(
                    "{}: first {}, last {}, numbers {}",
                    stats.file,
                    w.first.map_or("?".into(), ts),
                    w.last.map_or("?".into(), ts),
                    numbers.join(", ")
                ));
                insert_window(f, &w);
            }
        }
        // Early warning: a sudden rise of 131048 / 131049.
        let min = em.param_i64("acct.send.rising", "min_count", 3).max(1) as u64;
        let factor = em.param_f64("acct.send.rising", "factor", 2.0);
        for code in [codes::SPAM_RATE, codes::ECOSYSTEM] {
            let w = enforcement::code_window(stats, code, now);
            if w.last_24h < min || w.rows_prior_6d == 0 || w.rows_24h == 0 {
                continue;
            }
            let (r1, r6) = (w.rate_24h(), w.rate_prior_6d());
            if r1 < factor * r6 || r1 <= r6 {
                continue;
            }
            let msg = if r6 == 0.0 {
                format!(
                    "{code} appeared {} times in the last 24 h ({:.1}% of sends) after none in the 6 days before",
                    w.last_24h,
                    100.0 * r1
                )
            } else {
                format!(
                    "{code} rose to {:.1}% of sends in the last 24 h from {:.1}% in the 6 days before ({:.1}×)",
                    100.0 * r1,
                    100.0 * r6,
                    r1 / r6
                )
            };
            if let Some(f) = em.emit(
                "acct.send.rising",
                Subject::new(SubjectKind::SendLog)
                    .with_name(code.to_string())
                    .with_field("trend"),
                msg,
            ) {
                f.evidence = Some(format!(
                    "{}: {} of {} sends in the last 24 h, {} of {} in the 6 days before",
                    stats.file, w.last_24h, w.rows_24h, w.prior_6d, w.rows_prior_6d
                ));
                insert_window(f, &w);
            }
        }
    }

    // ---- account.two_step_pin ----------------------------------------------

    fn two_step(&mut self, em: &mut RuleEmitter<'_>) {
        let now = self.now;
        let today = self.ctx.now.date_naive();
        let ts2 = self.snap.two_step.as_ref();
        let account = |field: &str| Subject::new(SubjectKind::Account).with_field(field);
        if ts2.and_then(|t| t.pin_secret.as_deref()).is_none() {
            em.emit(
                "acct.pin.not-configured",
                account("two_step"),
                "The config does not say where the two-step verification PIN is kept ([accounts.two_step] pin_secret)".into(),
            );
        }
        if let Some(stats) = self.snap.send_stats.as_ref() {
            for (id, code, what) in [
                (
                    "acct.pin.mismatch",
                    codes::PIN_MISMATCH,
                    "Two-step verification PIN mismatch",
                ),
                (
                    "acct.pin.registration-error",
                    codes::NEEDS_VERIFICATION,
                    "phone number needs to be verified before registering",
                ),
            ] {
                let days = em.param_i64(id, "lookback_days", 30);
                let w = stats.window(now - days * DAY, now + 1, None);
                let n = w.count(code);
                if n == 0 {
                    continue;
                }
                let c = stats.codes.get(&code);
                if let Some(f) = meta(em.emit(
                    id,
                    Subject::new(SubjectKind::SendLog).with_name(code.to_string()),
                    format!(
                        "{code} ({what}) {n} time{} in the last {days} days",
                        if n == 1 { "" } else { "s" }
                    ),
                )) {
                    f.evidence = Some(format!(
                        "{}: first {}, last {}",
                        stats.file,
                        c.map_or("?".into(), |c| ts(c.first)),
                        c.map_or("?".into(), |c| ts(c.last))
                    ));
                    f.details.insert("count".into(), json!(n));
                }
            }
            if let Some(sig) = pin_lock_signature(
                self.snap,
                self.history,
                now,
                em.param_i64("acct.pin.lock-signature", "window_days", 30),
            ) {
                if let Some(f) = em.emit(
                    "acct.pin.lock-signature",
                    account("two_step_pin"),
                    format!(
                        "131031 began on {} within {} day{} after {}, and no policy violation is on record: the lock looks like a two-step PIN mismatch",
                        ts(sig.first_lock),
                        sig.days_after.max(1),
                        if sig.days_after > 1 { "s" } else { "" },
                        sig.trigger
                    ),
                ) {
                    f.evidence = Some(sig.trigger.clone());
                }
            }
        }
        if let Some(reg) = ts2.and_then(|t| t.registered_at) {
            let recent = em.param_i64("acct.pin.recent-registration", "recent_days", 30);
            let age = (today - reg).num_days();
            if (0..=recent).contains(&age) {
                if let Some(f) = em.emit(
                    "acct.pin.recent-registration",
                    account("registered_at"),
                    format!("The number(s) were (re-)registered on {reg}, {age} days ago: PIN mismatches happen around re-registrations"),
                ) {
                    f.evidence = Some(format!("two_step.registered_at = {reg}"));
                }
            }
        }
        if let Some(rot) = ts2.and_then(|t| t.last_rotated) {
            let max = em.param_i64("acct.pin.rotation-overdue", "max_age_days", 365);
            let age = (today - rot).num_days();
            if age > max {
                if let Some(f) = em.emit(
                    "acct.pin.rotation-overdue",
                    account("last_rotated"),
                    format!("The two-step PIN was last rotated on {rot}, {age} days ago (more than {max})"),
                ) {
                    f.evidence = Some(format!("two_step.last_rotated = {rot}"));
                }
            }
        }
    }
}

fn insert_window(f: &mut Finding, w: &enforcement::CodeWindow) {
    let r = |x: f64| (x * 10_000.0).round() / 10_000.0;
    f.details.insert("error_code".into(), json!(w.code));
    f.details.insert("last_24h".into(), json!(w.last_24h));
    f.details.insert("last_7d".into(), json!(w.last_7d));
    f.details.insert("prior_6d".into(), json!(w.prior_6d));
    f.details.insert("rate_24h".into(), json!(r(w.rate_24h())));
    f.details.insert("rate_7d".into(), json!(r(w.rate_7d())));
    f.details
        .insert("rate_prior_6d".into(), json!(r(w.rate_prior_6d())));
    f.details
        .insert("phone_number_ids".into(), json!(w.phone_number_ids));
}

/// What makes a 131031 look like a PIN mismatch rather than policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PinSignature {
    pub first_lock: i64,
    /// `the re-registration on 2026-11-20 (config registered_at)`, ...
    pub trigger: String,
    pub days_after: i64,
}

/// 131031 in the last 7 days that began within `window_days` after a
/// (re-)registration or migration, with no violation or ban on record in the
/// 90 days before it.
pub fn pin_lock_signature(
    snap: &Snapshot,
    history: &History,
    now: i64,
    window_days: i64,
) -> Option<PinSignature> {
    let stats = snap.send_stats.as_ref()?;
    let block = enforcement::send_block(stats, codes::LOCKED, now)?;
    let first = block.first;
    let policy = history
        .violations
        .iter()
        .any(|v| v.time > first - 90 * DAY && v.time <= now)
        || history
            .bans
            .iter()
            .any(|b| b.state == "DISABLE" && b.time <= now);
    if policy {
        return None;
    }
    let mut triggers: Vec<(i64, String)> = Vec::new();
    if let Some(reg) = snap.two_step.as_ref().and_then(|t| t.registered_at) {
        if let Some(t) = midnight(reg) {
            triggers.push((
                t,
                format!("the (re-)registration on {reg} (config registered_at)"),
            ));
        }
    }
    for (t, e) in &history.migrations {
        triggers.push((*t, format!("{e} on {} (webhook)", day(*t))));
    }
    if let Some(c) = stats.codes.get(&codes::PIN_MISMATCH) {
        triggers.push((
            c.first,
            format!("a two-step PIN mismatch (133005) on {}", day(c.first)),
        ));
    }
    triggers
        .into_iter()
        .filter(|(t, _)| *t <= first && first - *t <= window_days * DAY)
        .max_by_key(|(t, _)| *t)
        .map(|(t, trigger)| PinSignature {
            first_lock: first,
            trigger,
            days_after: (first - t) / DAY,
        })
}

fn midnight(d: NaiveDate) -> Option<i64> {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp())
}

fn rank(s: Option<&str>) -> u8 {
    match up(s).as_deref() {
        Some("BLOCKED") => 3,
        Some("LIMITED") => 2,
        Some("AVAILABLE") => 1,
        Some(_) => 2,
        None => 0,
    }
}

fn entity_subject(kind: &str, id: &str, waba_id: &str) -> Subject {
    match kind {
        "PHONE_NUMBER" => Subject::new(SubjectKind::PhoneNumber)
            .with_id(id)
            .with_field("health_status"),
        "WABA" => Subject::new(SubjectKind::Waba)
            .with_id(if id.is_empty() { waba_id } else { id })
            .with_field("health_status"),
        "MESSAGE_TEMPLATE" => Subject::new(SubjectKind::Template)
            .with_id(id)
            .with_field("health_status"),
        other => Subject::new(SubjectKind::Account)
            .with_id(id)
            .with_field(other.to_ascii_lowercase()),
    }
}

fn is_known_restriction(t: &str) -> bool {
    matches!(
        t.to_ascii_uppercase().as_str(),
        "RESTRICTED_ADD_PHONE_NUMBER_ACTION"
            | "RESTRICTED_BIZ_INITIATED_MESSAGING"
            | "RESTRICTED_CUSTOMER_INITIATED_MESSAGING"
    )
}

fn is_known_account_event(e: &str) -> bool {
    matches!(
        e,
        "ACCOUNT_VIOLATION"
            | "ACCOUNT_RESTRICTION"
            | "DISABLED_UPDATE"
            | "BAN_STATE"
            | "VERIFIED_ACCOUNT"
            | "PARTNER_ADDED"
            | "PARTNER_REMOVED"
            | "PARTNER_CLIENT_CERTIFICATION_NEEDED"
            | "PARTNER_APP_INSTALLED"
            | "PARTNER_APP_UNINSTALLED"
            | "ACCOUNT_DELETED"
            | "ACCOUNT_RECONNECTED"
            | "AUTH_INTL_PRICE_ELIGIBILITY_UPDATE"
            | "BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE"
            | "VOLUME_BASED_PRICING_TIER_UPDATE"
            | "MM_LITE_TERMS_SIGNED"
    )
}

fn is_known_quality_event(e: &str) -> bool {
    matches!(
        e,
        "FLAGGED" | "UNFLAGGED" | "UPGRADE" | "DOWNGRADE" | "ONBOARDING" | "THROUGHPUT_UPGRADE"
    )
}

fn is_known_template_event(e: &str) -> bool {
    matches!(
        e,
        "APPROVED"
            | "REJECTED"
            | "PENDING"
            | "PAUSED"
            | "DISABLED"
            | "FLAGGED"
            | "REINSTATED"
            | "PENDING_DELETION"
            | "IN_APPEAL"
            | "DELETED"
            | "LIMIT_EXCEEDED"
            | "ARCHIVED"
    )
}

/// The end of a pause from Meta's description: "… paused for 3 hours until
/// Nov 25, 2026 at 12:40 AM UTC …".
pub fn pause_until(description: &str) -> Option<i64> {
    let i = description.find("until ")?;
    let rest = &description[i + 6..];
    let end = rest.find(" UTC")?;
    let text = rest[..end].trim();
    chrono::NaiveDateTime::parse_from_str(text, "%b %d, %Y at %I:%M %p")
        .ok()
        .map(|d| d.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_end_is_read_from_metas_description() {
        let d = "Your WhatsApp message template has been paused for 3 hours until Nov 25, 2026 at 12:40 AM UTC because of low quality.";
        assert_eq!(pause_until(d), Some(1_795_567_200));
        assert_eq!(pause_until("paused for a while"), None);
    }
}
