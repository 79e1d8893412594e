//! Rate cards: what a delivered template message costs, per category and
//! destination country, from a date on. Data, not code: `rules/rates/*.toml`
//! are embedded at build time, and `[templates] rates_dir` adds (or
//! overrides, by `effective_from`) cards of your own.
//!
//! A card is chosen by date: the one with the latest `effective_from` on or
//! before the date asked for — so a recategorisation is priced with the
//! prices in force when it happened.
//!
//! ```toml
//! [card]
//! name = "Meta per-message rates"
//! effective_from = 2025-07-01
//! currency = "USD"
//! unit = "message"            # or "conversation"
//! note = "illustrative"
//! [rates]
//! US = { marketing = 0.025, utility = 0.004, authentication = 0.0135 }
//! "*" = { marketing = 0.05, utility = 0.008, authentication = 0.03 }   # every other country
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Prices of one country (per `unit`), in the card's currency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryRates {
    pub marketing: f64,
    pub utility: f64,
    pub authentication: f64,
}

impl CountryRates {
    /// The price of a category (`MARKETING`, `UTILITY`, `AUTHENTICATION`).
    pub fn of(&self, category: &str) -> Option<f64> {
        match category.trim().to_ascii_uppercase().as_str() {
            "MARKETING" => Some(self.marketing),
            "UTILITY" => Some(self.utility),
            "AUTHENTICATION" => Some(self.authentication),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardMeta {
    name: String,
    #[serde(deserialize_with = "de_date")]
    effective_from: NaiveDate,
    currency: String,
    #[serde(default = "default_unit")]
    unit: String,
    #[serde(default)]
    note: Option<String>,
}

fn default_unit() -> String {
    "message".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardFile {
    card: CardMeta,
    rates: BTreeMap<String, CountryRates>,
}

/// One dated rate card.
#[derive(Debug, Clone, PartialEq)]
pub struct RateCard {
    /// Where it came from (`rules/rates/meta-2025-07.toml (built-in)`).
    pub source: String,
    pub name: String,
    pub effective_from: NaiveDate,
    pub currency: String,
    /// `message` or `conversation`.
    pub unit: String,
    pub note: Option<String>,
    /// ISO 3166 alpha-2 (upper case) → prices; `*` = every other country.
    pub rates: BTreeMap<String, CountryRates>,
}

impl RateCard {
    /// The prices for a destination country (`*` when the country is not listed).
    pub fn country(&self, country: &str) -> Option<(&str, &CountryRates)> {
        let c = country.trim().to_ascii_uppercase();
        self.rates
            .get_key_value(&c)
            .or_else(|| self.rates.get_key_value("*"))
            .map(|(k, v)| (k.as_str(), v))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RateCardError {
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("cannot read rate cards in {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Every card known, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateCards {
    pub cards: Vec<RateCard>,
}

/// Parses one card; the message names the file and the TOML position.
pub fn parse_card(source: &str, text: &str) -> Result<RateCard, RateCardError> {
    let err = |message: String| RateCardError::Parse {
        path: source.to_owned(),
        message,
    };
    let f: CardFile = toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_owned()))?;
    if f.rates.is_empty() {
        return Err(err("[rates] lists no country".into()));
    }
    let mut rates = BTreeMap::new();
    for (k, v) in f.rates {
        let key = k.trim().to_ascii_uppercase();
        let ok = key == "*" || (key.len() == 2 && key.bytes().all(|b| b.is_ascii_uppercase()));
        if !ok {
            return Err(err(format!(
                "rates.{k}: not a two-letter country code (ISO 3166) or \"*\""
            )));
        }
        for (cat, p) in [
            ("marketing", v.marketing),
            ("utility", v.utility),
            ("authentication", v.authentication),
        ] {
            if !(p.is_finite() && p >= 0.0) {
                return Err(err(format!(
                    "rates.{k}.{cat}: {p} is not a price (a number of at least 0)"
                )));
            }
        }
        rates.insert(key, v);
    }
    if f.card.currency.trim().len() != 3 {
        return Err(err(format!(
            "card.currency: `{}` is not a currency code such as USD",
            f.card.currency
        )));
    }
    Ok(RateCard {
        source: source.to_owned(),
        name: f.card.name,
        effective_from: f.card.effective_from,
        currency: f.card.currency.trim().to_ascii_uppercase(),
        unit: f.card.unit,
        note: f.card.note,
        rates,
    })
}

impl RateCards {
    /// The cards shipped in `rules/rates/`.
    pub fn builtin() -> Result<RateCards, RateCardError> {
        let mut cards = Vec::new();
        for (path, text) in crate::rulepack::EMBEDDED {
            if let Some(rest) = path.strip_prefix("rates/") {
                if rest.ends_with(".toml") {
                    cards.push(parse_card(&format!("rules/{path} (built-in)"), text)?);
                }
            }
        }
        Ok(RateCards::from_cards(cards))
    }

    /// The built-in cards plus the `*.toml` cards in `dir` (a card of the
    /// folder replaces a built-in one with the same `effective_from`).
    pub fn load(dir: Option<&Path>) -> Result<RateCards, RateCardError> {
        let mut all = RateCards::builtin()?.cards;
        if let Some(dir) = dir {
            let read = |source| RateCardError::Read {
                path: dir.to_owned(),
                source,
            };
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(read)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            paths.sort();
            for p in paths {
                let text = std::fs::read_to_string(&p).map_err(|source| RateCardError::Read {
                    path: p.clone(),
                    source,
                })?;
                let card = parse_card(&p.display().to_string(), &text)?;
                all.retain(|c| c.effective_from != card.effective_from);
                all.push(card);
            }
        }
        Ok(RateCards::from_cards(all))
    }

    pub fn from_cards(mut cards: Vec<RateCard>) -> RateCards {
        cards.sort_by_key(|c| c.effective_from);
        RateCards { cards }
    }

    /// The card in force on `day`: the latest `effective_from` on or before it.
    pub fn at(&self, day: NaiveDate) -> Option<&RateCard> {
        self.cards.iter().rev().find(|c| c.effective_from <= day)
    }
}

fn de_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    use serde::de::Error;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Toml(toml::value::Datetime),
        Str(String),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Toml(t) => t.to_string(),
        Raw::Str(s) => s,
    };
    NaiveDate::parse_from_str(text.get(..10).unwrap_or(&text), "%Y-%m-%d")
        .map_err(|_| D::Error::custom(format!("`{text}` is not a date (YYYY-MM-DD)")))
}

/// The destination country of an international number (`+5511…`, `5511…`),
/// by its calling code; `None` when the code is not one wabaguard knows.
/// `+1` is counted as US (the North American plan also covers Canada and the
/// Caribbean, priced alike by Meta).
pub fn country_of_number(number: &str) -> Option<&'static str> {
    // The first three digits, without allocating (this runs per send-log row).
    let mut buf = [0u8; 3];
    let mut n = 0;
    for b in number.trim().trim_start_matches('+').bytes() {
        if n == buf.len() {
            break;
        }
        if b.is_ascii_digit() {
            buf[n] = b;
            n += 1;
        }
    }
    let digits = std::str::from_utf8(&buf[..n]).unwrap_or("");
    const CODES: &[(&str, &str)] = &[
        ("1", "US"),
        ("7", "RU"),
        ("20", "EG"),
        ("27", "ZA"),
        ("30", "GR"),
        ("31", "NL"),
        ("32", "BE"),
        ("33", "FR"),
        ("34", "ES"),
        ("36", "HU"),
        ("39", "IT"),
        ("40", "RO"),
        ("41", "CH"),
        ("43", "AT"),
        ("44", "GB"),
        ("45", "DK"),
        ("46", "SE"),
        ("47", "NO"),
        ("48", "PL"),
        ("49", "DE"),
        ("51", "PE"),
        ("52", "MX"),
        ("54", "AR"),
        ("55", "BR"),
        ("56", "CL"),
        ("57", "CO"),
        ("58", "VE"),
        ("60", "MY"),
        ("61", "AU"),
        ("62", "ID"),
        ("63", "PH"),
        ("64", "NZ"),
        ("65", "SG"),
        ("66", "TH"),
        ("81", "JP"),
        ("82", "KR"),
        ("84", "VN"),
        ("86", "CN"),
        ("90", "TR"),
        ("91", "IN"),
        ("92", "PK"),
        ("234", "NG"),
        ("254", "KE"),
        ("351", "PT"),
        ("353", "IE"),
        ("358", "FI"),
        ("380", "UA"),
        ("880", "BD"),
        ("966", "SA"),
        ("971", "AE"),
        ("972", "IL"),
    ];
    // Longest code first (country codes are prefix-free).
    (1..=3)
        .rev()
        .filter_map(|n| digits.get(..n))
        .find_map(|p| CODES.iter().find(|(c, _)| *c == p).map(|(_, r)| *r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(from: &str, mkt: f64) -> String {
        format!(
            "[card]\nname = \"t\"\neffective_from = {from}\ncurrency = \"USD\"\n[rates]\nBR = {{ marketing = {mkt}, utility = 0.008, authentication = 0.0315 }}\n\"*\" = {{ marketing = 0.05, utility = 0.01, authentication = 0.03 }}\n"
        )
    }

    #[test]
    fn the_card_in_force_on_a_date_is_chosen() {
        let a = parse_card("a.toml", &card("2025-01-01", 0.0625)).unwrap();
        let b = parse_card("b.toml", &card("2025-07-01", 0.07)).unwrap();
        let cards = RateCards::from_cards(vec![b, a]);
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(cards.at(d("2024-12-31")).is_none());
        assert_eq!(cards.at(d("2025-01-01")).unwrap().source, "a.toml");
        assert_eq!(cards.at(d("2025-06-30")).unwrap().source, "a.toml");
        assert_eq!(cards.at(d("2025-07-01")).unwrap().source, "b.toml");
        let c = cards.at(d("2026-11-25")).unwrap();
        assert_eq!(c.country("br").unwrap().1.of("MARKETING"), Some(0.07));
        // Unlisted countries take the "*" row.
        assert_eq!(c.country("DE").unwrap().0, "*");
    }

    #[test]
    fn a_bad_card_names_the_file_and_the_key() {
        let e = parse_card("x.toml", &card("2025-01-01", -1.0))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.toml") && e.contains("rates.BR.marketing"),
            "{e}"
        );
        let e = parse_card("y.toml", "[card]\nname=\"t\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("y.toml: "), "{e}");
        let e = parse_card(
            "z.toml",
            "[card]\nname=\"t\"\neffective_from=2025-01-01\ncurrency=\"USD\"\n[rates]\nBrazil = { marketing = 1.0, utility = 0.1, authentication = 0.1 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("rates.Brazil"), "{e}");
    }

    #[test]
    fn the_shipped_card_loads() {
        let cards = RateCards::builtin().unwrap();
        assert!(!cards.cards.is_empty());
        let c = cards.cards.last().unwrap();
        for country in ["US", "BR", "MX", "DE", "ID", "IN", "*"] {
            let (_, r) = c.country(country).unwrap();
            assert!(r.marketing > r.utility, "{country}");
        }
    }

    #[test]
    fn calling_codes_map_to_countries() {
        assert_eq!(country_of_number("+5511958127765"), Some("BR"));
        assert_eq!(country_of_number("+15125550191"), Some("US"));
        assert_eq!(country_of_number("+525512345678"), Some("MX"));
        assert_eq!(country_of_number("4915123456789"), Some("DE"));
        assert_eq!(country_of_number("+971501234567"), Some("AE"));
        assert_eq!(country_of_number("+999"), None);
        assert_eq!(country_of_number(""), None);
    }
}
