//! Business profile completeness (`profile.incomplete`): website, about,
//! description, email, address, vertical and picture of every number's
//! business profile, against Meta's limits (REFERENCE §4).
//!
//! Each finding's subject is one field of one number's profile, so fixing the
//! website does not change the fingerprint of the missing email.

use url::{Host, Url};

use super::{CheckContext, RuleEmitter, Subject, SubjectKind};
use crate::snapshot::{BusinessProfile, Snapshot};

/// Top-level domains that name internal or non-public hosts.
const INTERNAL_TLDS: [&str; 8] = [
    "localhost",
    "local",
    "internal",
    "invalid",
    "lan",
    "home",
    "corp",
    "intranet",
];

/// What a website entry turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Site {
    /// The business's own site (a real-looking http(s) domain).
    Own,
    Invalid(String),
    Shortener(String),
    Social(String),
}

/// Classifies one website entry.
pub fn classify_website(w: &str, shorteners: &[String], socials: &[String]) -> Site {
    let w = w.trim();
    let u = match Url::parse(w) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Site::Invalid("no http:// or https:// at the start".into());
        }
        Err(e) => return Site::Invalid(format!("not a URL ({e})")),
    };
    if !matches!(u.scheme(), "http" | "https") {
        return Site::Invalid(format!("scheme `{}` is not http or https", u.scheme()));
    }
    let domain = match u.host() {
        Some(Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
            return Site::Invalid("an IP address, not a domain".into());
        }
        None => return Site::Invalid("no host name".into()),
    };
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return Site::Invalid(format!("`{domain}` is not a public domain name"));
    }
    let tld = labels[labels.len() - 1];
    let tld_ok = (tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
        || (tld.starts_with("xn--") && tld.len() > 4);
    if !tld_ok {
        return Site::Invalid(format!("`{domain}` has no valid top-level domain"));
    }
    if INTERNAL_TLDS.contains(&tld) {
        return Site::Invalid(format!("`{domain}` is an internal host name"));
    }
    let matches = |list: &[String]| {
        list.iter()
            .find(|d| domain == **d || domain.ends_with(&format!(".{d}")))
            .cloned()
    };
    if let Some(d) = matches(shorteners) {
        return Site::Shortener(d);
    }
    if let Some(d) = matches(socials) {
        return Site::Social(d);
    }
    Site::Own
}

/// A plausible email address: one `@`, a local part without spaces, a domain
/// with a dot and an alphabetic top-level domain.
pub fn email_ok(e: &str) -> bool {
    let e = e.trim();
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    if local.is_empty() || domain.contains('@') || e.chars().any(char::is_whitespace) {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|t| t.len() >= 2 && t.chars().all(char::is_alphabetic))
}

fn blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

fn chars(s: &str) -> usize {
    s.trim().chars().count()
}

/// Runs the profile checks on every number's business profile.
pub fn check(snap: &Snapshot, ctx: &CheckContext<'_>, em: &mut RuleEmitter<'_>) {
    for (id, p) in &snap.profiles {
        let shown = snap
            .phone_numbers
            .iter()
            .find(|n| n.id.as_deref() == Some(id.as_str()))
            .and_then(|n| n.display_phone_number.as_deref())
            .map(|d| crate::mask::phone(d, ctx.mask_phones))
            .unwrap_or_else(|| format!("phone number {id}"));
        profile(id, &shown, p, em);
    }
}

fn subject(id: &str, field: &str) -> Subject {
    Subject::new(SubjectKind::ProfileField)
        .with_id(id)
        .with_field(field)
}

fn profile(id: &str, shown: &str, p: &BusinessProfile, em: &mut RuleEmitter<'_>) {
    websites(id, shown, p, em);
    limits(id, shown, p, em);

    let about_min = em.param_i64("prof.about.too-short", "min_chars", 15) as usize;
    match p.about.as_deref().filter(|a| !a.trim().is_empty()) {
        None => {
            em.emit(
                "prof.about.missing",
                subject(id, "about"),
                format!("The business profile of {shown} has no about text"),
            );
        }
        Some(a) if chars(a) < about_min => {
            if let Some(f) = em.emit(
                "prof.about.too-short",
                subject(id, "about"),
                format!(
                    "The about text of {shown} has {} characters; at least {about_min} say who is writing",
                    chars(a)
                ),
            ) {
                f.evidence = Some(a.trim().to_owned());
            }
        }
        _ => {}
    }

    let desc_min = em.param_i64("prof.description.too-short", "min_chars", 40) as usize;
    match p.description.as_deref().filter(|a| !a.trim().is_empty()) {
        None => {
            em.emit(
                "prof.description.missing",
                subject(id, "description"),
                format!("The business profile of {shown} has no description"),
            );
        }
        Some(d) if chars(d) < desc_min => {
            if let Some(f) = em.emit(
                "prof.description.too-short",
                subject(id, "description"),
                format!(
                    "The description of {shown} has {} characters, too short to say what the business does (at least {desc_min})",
                    chars(d)
                ),
            ) {
                f.evidence = Some(d.trim().to_owned());
            }
        }
        _ => {}
    }

    match p.email.as_deref().filter(|e| !e.trim().is_empty()) {
        None => {
            em.emit(
                "prof.email.missing",
                subject(id, "email"),
                format!("The business profile of {shown} has no contact email"),
            );
        }
        Some(e) if !email_ok(e) => {
            if let Some(f) = em.emit(
                "prof.email.invalid",
                subject(id, "email"),
                format!("The contact email of {shown} is not a valid address"),
            ) {
                f.evidence = Some(super::templates::truncate_chars(e.trim(), 80));
            }
        }
        _ => {}
    }

    if blank(p.address.as_deref()) {
        em.emit(
            "prof.address.missing",
            subject(id, "address"),
            format!("The business profile of {shown} has no address"),
        );
    }

    let vertical = p.vertical.as_deref().unwrap_or("").trim();
    if vertical.is_empty() || vertical.eq_ignore_ascii_case("UNDEFINED") {
        em.emit(
            "prof.vertical.missing",
            subject(id, "vertical"),
            format!("The business profile of {shown} has no industry (vertical) set"),
        );
    } else {
        let known = em.param_strs("prof.vertical.unknown", "known");
        if !known.is_empty() && !known.contains(&vertical.to_ascii_lowercase()) {
            if let Some(f) = em.emit(
                "prof.vertical.unknown",
                subject(id, "vertical"),
                format!(
                    "Meta reports a vertical wabaguard does not know for {shown}: `{vertical}` (kept verbatim)"
                ),
            ) {
                f.origin = super::Origin::Meta;
                f.evidence = Some(format!("vertical = {vertical}"));
            }
        }
    }

    if blank(p.profile_picture_url.as_deref()) {
        em.emit(
            "prof.picture.missing",
            subject(id, "profile_picture_url"),
            format!("{shown} has no profile picture"),
        );
    }
}

fn websites(id: &str, shown: &str, p: &BusinessProfile, em: &mut RuleEmitter<'_>) {
    let sites: Vec<&str> = p
        .websites
        .iter()
        .map(|w| w.trim())
        .filter(|w| !w.is_empty())
        .collect();
    if sites.is_empty() {
        em.emit(
            "prof.website.missing",
            subject(id, "websites"),
            format!("The business profile of {shown} lists no website"),
        );
        return;
    }
    let shorteners = em.param_strs("prof.website.shortener", "domains");
    let socials = em.param_strs("prof.website.social-only", "domains");
    let classified: Vec<(&str, Site)> = sites
        .iter()
        .map(|w| (*w, classify_website(w, &shorteners, &socials)))
        .collect();
    let invalid: Vec<String> = classified
        .iter()
        .filter_map(|(w, s)| match s {
            Site::Invalid(why) => Some(format!("{w} ({why})")),
            _ => None,
        })
        .collect();
    if !invalid.is_empty() {
        if let Some(f) = em.emit(
            "prof.website.invalid",
            subject(id, "websites"),
            format!(
                "The website of {shown} is not a valid http(s) address: {}",
                invalid.join("; ")
            ),
        ) {
            f.evidence = Some(super::templates::truncate_chars(&invalid[0], 120));
        }
    }
    let short: Vec<&str> = classified
        .iter()
        .filter(|(_, s)| matches!(s, Site::Shortener(_)))
        .map(|(w, _)| *w)
        .collect();
    if !short.is_empty() {
        if let Some(f) = em.emit(
            "prof.website.shortener",
            subject(id, "websites"),
            format!(
                "The website of {shown} is a shortened link that hides where it leads: {}",
                short.join(", ")
            ),
        ) {
            f.evidence = Some(short[0].to_owned());
        }
    }
    let own = classified.iter().any(|(_, s)| *s == Site::Own);
    let social: Vec<&str> = classified
        .iter()
        .filter(|(_, s)| matches!(s, Site::Social(_)))
        .map(|(w, _)| *w)
        .collect();
    if !own && !social.is_empty() {
        if let Some(f) = em.emit(
            "prof.website.social-only",
            subject(id, "websites"),
            format!(
                "The only website of {shown} is a social-media profile ({}), not the business's own site",
                social.join(", ")
            ),
        ) {
            f.evidence = Some(social[0].to_owned());
        }
    }
}

fn limits(id: &str, shown: &str, p: &BusinessProfile, em: &mut RuleEmitter<'_>) {
    const RULE: &str = "prof.limits";
    let max = |key: &str, d: i64| em.param_i64(RULE, key, d) as usize;
    let (about_max, desc_max, addr_max, email_max, sites_max, site_max) = (
        max("about_max", 139),
        max("description_max", 512),
        max("address_max", 256),
        max("email_max", 128),
        max("websites_max", 2),
        max("website_max", 256),
    );
    let mut over: Vec<(&str, String)> = Vec::new();
    for (field, value, limit) in [
        ("about", p.about.as_deref(), about_max),
        ("description", p.description.as_deref(), desc_max),
        ("address", p.address.as_deref(), addr_max),
        ("email", p.email.as_deref(), email_max),
    ] {
        if let Some(v) = value {
            let n = chars(v);
            if n > limit {
                over.push((field, format!("{field} has {n} characters (limit {limit})")));
            }
        }
    }
    let mut site_problems = Vec::new();
    if p.websites.len() > sites_max {
        site_problems.push(format!(
            "{} websites (at most {sites_max})",
            p.websites.len()
        ));
    }
    for w in &p.websites {
        if chars(w) > site_max {
            site_problems.push(format!(
                "a website of {} characters (limit {site_max})",
                chars(w)
            ));
        }
    }
    if !site_problems.is_empty() {
        over.push(("websites", site_problems.join(", ")));
    }
    for (field, what) in over {
        em.emit(
            RULE,
            subject(id, field),
            format!("The business profile of {shown} is over Meta's limits: {what}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> (Vec<String>, Vec<String>) {
        (
            vec!["bit.ly".into(), "t.co".into()],
            vec!["instagram.com".into(), "linktr.ee".into()],
        )
    }

    #[test]
    fn websites_are_classified() {
        let (s, so) = lists();
        let c = |w: &str| classify_website(w, &s, &so);
        assert_eq!(c("https://casaverde.example/"), Site::Own);
        assert_eq!(c("http://shop.example.com.br/x?y=1"), Site::Own);
        assert_eq!(c("https://xn--bcher-kva.de"), Site::Own);
        assert_eq!(c("https://bit.ly/3abc"), Site::Shortener("bit.ly".into()));
        assert_eq!(
            c("https://www.instagram.com/casa/"),
            Site::Social("instagram.com".into())
        );
        assert!(matches!(c("casaverde.example"), Site::Invalid(w) if w.contains("http")));
        assert!(matches!(c("ftp://casaverde.example"), Site::Invalid(w) if w.contains("ftp")));
        assert!(matches!(c("http://10.0.0.1/shop"), Site::Invalid(w) if w.contains("IP")));
        assert!(matches!(c("http://intranet/shop"), Site::Invalid(_)));
        assert!(matches!(c("https://shop.local"), Site::Invalid(w) if w.contains("internal")));
        assert!(matches!(c("https://shop.c0m"), Site::Invalid(_)));
        // A look-alike is not the shortener.
        assert_eq!(c("https://notbit.ly.example"), Site::Own);
    }

    #[test]
    fn emails_are_checked() {
        assert!(email_ok("hello@casaverde.example"));
        assert!(email_ok("a.b+c@mail.example.com.br"));
        assert!(!email_ok("hello at casaverde"));
        assert!(!email_ok("hello@casaverde"));
        assert!(!email_ok("@casaverde.example"));
        assert!(!email_ok("a b@casaverde.example"));
        assert!(!email_ok("a@@casaverde.example"));
    }
}
