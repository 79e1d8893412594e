//! Consent scope: what a consent event is about.
//!
//! A ledger row may carry a `scope` (`marketing`, `utility`,
//! `authentication`, `all`; several joined by `|`; empty or no column =
//! `all`). Per number and per scope the latest event whose scope includes
//! that scope decides, exactly as the unscoped semantics do for the whole
//! ledger: an opt-in for `utility` does not cover a marketing campaign, an
//! opt-out for `marketing` revokes marketing only, an opt-out without scope
//! revokes every scope.
//!
//! A campaign needs consent for a set of template categories (`--category`,
//! or the gate's templates). A number is covered only when it is covered in
//! every scope of that set; without a category the set is every scope, which
//! for a ledger without a scope column is exactly the unscoped verdict.

use super::Verdict;

/// A set of scopes (bit 0 marketing, 1 utility, 2 authentication).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scopes(u8);

/// The scopes in report order, with their ledger names and category names.
pub const SCOPES: [(Scopes, &str, &str); 3] = [
    (Scopes::MARKETING, "marketing", "MARKETING"),
    (Scopes::UTILITY, "utility", "UTILITY"),
    (Scopes::AUTHENTICATION, "authentication", "AUTHENTICATION"),
];

impl Scopes {
    pub const NONE: Scopes = Scopes(0);
    pub const MARKETING: Scopes = Scopes(1);
    pub const UTILITY: Scopes = Scopes(2);
    pub const AUTHENTICATION: Scopes = Scopes(4);
    pub const ALL: Scopes = Scopes(7);

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn contains(self, other: Scopes) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn intersects(self, other: Scopes) -> bool {
        self.0 & other.0 != 0
    }

    pub fn union(self, other: Scopes) -> Scopes {
        Scopes(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Index (0..3) of each scope in the set.
    pub fn indices(self) -> impl Iterator<Item = usize> {
        (0..3).filter(move |i| self.0 & (1 << i) != 0)
    }

    /// A ledger `scope` field: `None`/empty = all; names separated by `|`,
    /// case-insensitive. `Err` names the unknown value.
    pub fn parse_ledger(raw: &[u8]) -> Result<Scopes, String> {
        let raw = raw.trim_ascii();
        if raw.is_empty() {
            return Ok(Scopes::ALL);
        }
        let mut set = Scopes::NONE;
        for part in raw.split(|&b| b == b'|') {
            let p = part.trim_ascii();
            let one = if p.eq_ignore_ascii_case(b"all") {
                Scopes::ALL
            } else if let Some((s, _, _)) = SCOPES
                .iter()
                .find(|(_, name, _)| p.eq_ignore_ascii_case(name.as_bytes()))
            {
                *s
            } else {
                let shown = String::from_utf8_lossy(p);
                let shown: String = shown.chars().take(40).collect();
                return Err(if p.is_empty() {
                    format!(
                        "empty scope in `{}` (expected marketing, utility, authentication or all, separated by |)",
                        String::from_utf8_lossy(raw)
                            .chars()
                            .take(60)
                            .collect::<String>()
                    )
                } else {
                    format!(
                        "unknown scope `{shown}` (expected marketing, utility, authentication or all, separated by |)"
                    )
                });
            };
            set = set.union(one);
        }
        Ok(set)
    }

    /// A template category (`MARKETING`, `UTILITY`, `AUTHENTICATION`, any case).
    pub fn parse_category(s: &str) -> Result<Scopes, String> {
        let t = s.trim();
        SCOPES
            .iter()
            .find(|(_, _, cat)| t.eq_ignore_ascii_case(cat))
            .map(|(s, _, _)| *s)
            .ok_or_else(|| {
                format!("`{s}` is not a template category (expected MARKETING, UTILITY or AUTHENTICATION)")
            })
    }

    /// `MARKETING|UTILITY` (category names), `""` for the empty set.
    pub fn category_names(self) -> String {
        SCOPES
            .iter()
            .filter(|(s, _, _)| self.contains(*s))
            .map(|(_, _, c)| *c)
            .collect::<Vec<_>>()
            .join("|")
    }
}

/// The verdict for a set of scopes from the per-scope verdicts: covered only
/// when covered in every scope of the set; otherwise the first of revoked,
/// stale, missing found among them (a revocation is the most important to
/// tell).
pub fn combine(per_scope: [Verdict; 3], set: Scopes) -> Verdict {
    let mut worst = Verdict::Covered;
    for i in set.indices() {
        let v = per_scope[i];
        worst = match (worst, v) {
            (Verdict::Revoked, _) | (_, Verdict::Revoked) => Verdict::Revoked,
            (Verdict::Stale, _) | (_, Verdict::Stale) => Verdict::Stale,
            (Verdict::Missing, _) | (_, Verdict::Missing) => Verdict::Missing,
            _ => Verdict::Covered,
        };
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_scopes_parse() {
        assert_eq!(Scopes::parse_ledger(b""), Ok(Scopes::ALL));
        assert_eq!(Scopes::parse_ledger(b"  "), Ok(Scopes::ALL));
        assert_eq!(Scopes::parse_ledger(b"all"), Ok(Scopes::ALL));
        assert_eq!(Scopes::parse_ledger(b"Marketing"), Ok(Scopes::MARKETING));
        assert_eq!(
            Scopes::parse_ledger(b"utility | authentication"),
            Ok(Scopes(6))
        );
        assert!(
            Scopes::parse_ledger(b"promotions")
                .unwrap_err()
                .contains("unknown scope `promotions`")
        );
        assert!(
            Scopes::parse_ledger(b"marketing|")
                .unwrap_err()
                .contains("empty scope")
        );
    }

    #[test]
    fn categories_parse_and_print() {
        assert_eq!(Scopes::parse_category("marketing"), Ok(Scopes::MARKETING));
        assert!(Scopes::parse_category("PROMO").is_err());
        assert_eq!(Scopes(5).category_names(), "MARKETING|AUTHENTICATION");
    }

    #[test]
    fn combined_verdicts() {
        use Verdict::*;
        assert_eq!(
            combine([Covered, Missing, Stale], Scopes::MARKETING),
            Covered
        );
        assert_eq!(combine([Covered, Missing, Stale], Scopes::ALL), Stale);
        assert_eq!(combine([Missing, Revoked, Stale], Scopes::ALL), Revoked);
        assert_eq!(combine([Missing, Covered, Covered], Scopes::ALL), Missing);
    }
}
