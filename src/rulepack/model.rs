//! The promotional-language model: a second opinion for `tpl.mkt.model`.
//!
//! Rule-pack patterns quote exactly what they matched, but every new writer
//! finds phrasings no pattern list foresaw. This model catches the tone of a
//! promotion instead: a Bernoulli naive Bayes over the character 4- and
//! 5-grams of a template's visible text, trained by `eval/train_model.py` on
//! the labelled development corpora (never on the corpora that measure
//! generalisation) and shipped as `rules/models/marketing-nb.tsv`.
//!
//! A template's score is the model's prior plus the weights of the distinct
//! n-grams it contains: the log-odds that it is MARKETING. The check flags a
//! UTILITY or AUTHENTICATION template only when the patterns did not reach
//! their own threshold, and only if the score reaches the file's `threshold`
//! with at least one (weak) promotional pattern corroborating it, or its
//! `threshold_alone` without any. The evidence is the sentence that
//! contributes most. Features and normalisation here must stay identical to
//! the trainer's (`normalize` and `sum` here, `normalize()` and `features()`
//! there).

use std::sync::{Arc, LazyLock};

use regex::Regex;

/// The shipped model (see `eval/train_model.py`).
pub const EMBEDDED: &str = include_str!("../../rules/models/marketing-nb.tsv");
/// Where a rules folder keeps its model.
pub const MODEL_PATH: &str = "models/marketing-nb.tsv";

#[derive(Debug)]
pub struct MarketingModel {
    prior: f32,
    /// Log-odds from which a template reads as promotional when at least
    /// one promotional pattern (however weak) also fired.
    pub threshold: f32,
    /// Log-odds from which the model flags on its own.
    pub threshold_alone: f32,
    weights: Table,
}

/// The weights by n-gram hash: open addressing with linear probing, a
/// power-of-two number of slots, at most half full. A slot's index doubles
/// as the n-gram's id for counting each distinct n-gram once.
#[derive(Debug)]
struct Table {
    keys: Vec<u64>,
    weights: Vec<f32>,
    len: usize,
}

/// Marks an empty slot (an n-gram hashing to it is not in the model).
const EMPTY: u64 = 0;

impl Table {
    fn with_entries(entries: &[(u64, f32)]) -> Table {
        let slots = (entries.len() * 2).next_power_of_two().max(16);
        let mut t = Table {
            keys: vec![EMPTY; slots],
            weights: vec![0.0; slots],
            len: 0,
        };
        for &(k, w) in entries {
            if k == EMPTY {
                continue;
            }
            let mut i = t.slot(k);
            while t.keys[i] != EMPTY && t.keys[i] != k {
                i = (i + 1) & (slots - 1);
            }
            if t.keys[i] == EMPTY {
                t.len += 1;
            }
            t.keys[i] = k;
            t.weights[i] = w;
        }
        t
    }

    fn slot(&self, k: u64) -> usize {
        // The high bits of a multiplied FNV hash spread well.
        (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & (self.keys.len() - 1)
    }

    fn find(&self, k: u64) -> Option<usize> {
        let mask = self.keys.len() - 1;
        let mut i = self.slot(k);
        loop {
            match self.keys[i] {
                EMPTY => return None,
                x if x == k => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }
}

/// Per-thread scratch of [`MarketingModel::sum`].
struct Seen {
    /// The slots counted for the current text.
    stamps: super::stamps::Stamps,
    /// Char boundaries of the normalised text.
    bounds: Vec<usize>,
}

thread_local! {
    static SEEN: std::cell::RefCell<Seen> = const {
        std::cell::RefCell::new(Seen {
            stamps: super::stamps::Stamps::new(),
            bounds: Vec::new(),
        })
    };
}

impl MarketingModel {
    /// Parses the model file: `key<TAB>value` header lines (`version`,
    /// `prior`, `threshold`, `threshold_alone`), then `<16 hex digits><TAB><weight>` lines;
    /// `#` starts a comment line.
    pub fn parse(text: &str) -> Result<MarketingModel, String> {
        let mut prior = None;
        let mut threshold = None;
        let mut threshold_alone = None;
        let mut version = None;
        let mut weights: Vec<(u64, f32)> = Vec::with_capacity(text.len() / 24);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || format!("line {}: expected `key<TAB>value`, got {line:?}", i + 1);
            let (k, v) = line.split_once('\t').ok_or_else(bad)?;
            let num = |v: &str| -> Result<f32, String> {
                v.trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("line {}: `{v}` is not a number", i + 1))
            };
            match k {
                "version" => version = Some(v.trim().to_owned()),
                "prior" => prior = Some(num(v)?),
                "threshold" => threshold = Some(num(v)?),
                "threshold_alone" => threshold_alone = Some(num(v)?),
                _ if k.len() == 16 => {
                    let h = u64::from_str_radix(k, 16).map_err(|_| bad())?;
                    weights.push((h, num(v)?));
                }
                _ => return Err(bad()),
            }
        }
        if version.as_deref() != Some("1") {
            return Err("unsupported or missing `version` (expected 1)".into());
        }
        Ok(MarketingModel {
            prior: prior.ok_or("missing `prior`")?,
            threshold: threshold.ok_or("missing `threshold`")?,
            threshold_alone: threshold_alone.ok_or("missing `threshold_alone`")?,
            weights: Table::with_entries(&weights),
        })
    }

    /// The shipped model (parsed once per process).
    pub fn builtin() -> Arc<MarketingModel> {
        static MODEL: LazyLock<Arc<MarketingModel>> = LazyLock::new(|| {
            // Parsed by a test on every build, so this cannot fail.
            Arc::new(
                MarketingModel::parse(EMBEDDED).unwrap_or_else(|e| panic!("{MODEL_PATH}: {e}")),
            )
        });
        Arc::clone(&MODEL)
    }

    pub fn features(&self) -> usize {
        self.weights.len
    }

    /// The log-odds that `visible` (see [`crate::snapshot::Template::visible_text`]) is
    /// MARKETING.
    pub fn score(&self, visible: &str) -> f32 {
        self.prior + self.sum(visible, |w| w)
    }

    /// The sentence of `visible` whose n-grams weigh most towards MARKETING
    /// (byte range), for the evidence.
    pub fn cue(&self, visible: &str) -> Option<(usize, usize)> {
        sentence_spans(visible)
            .into_iter()
            .map(|(a, b)| (self.sum(&visible[a..b], |w| w.max(0.0)), (a, b)))
            .filter(|(w, _)| *w > 0.0)
            .max_by(|x, y| x.0.total_cmp(&y.0).then(y.1.0.cmp(&x.1.0)))
            .map(|(_, span)| span)
    }

    /// Sum of `f(weight)` over the distinct n-grams of `text`.
    fn sum(&self, text: &str, f: impl Fn(f32) -> f32) -> f32 {
        let norm = normalize(text);
        let bytes = norm.as_bytes();
        SEEN.with(|cell| {
            let mut cell = cell.borrow_mut();
            let Seen { stamps, bounds } = &mut *cell;
            stamps.next_round(self.weights.keys.len());
            bounds.clear();
            bounds.extend(norm.char_indices().map(|(i, _)| i));
            bounds.push(norm.len());
            let mut total = 0.0f32;
            let mut count = |h: u64| {
                if let Some(i) = self.weights.find(h) {
                    // Distinct n-grams count once (Bernoulli naive Bayes).
                    if stamps.mark(i) {
                        total += f(self.weights.weights[i]);
                    }
                }
            };
            // From each char: the 4-gram, then the 5-gram continuing its hash.
            for i in 0..bounds.len().saturating_sub(4) {
                let h4 = fnv1a_from(FNV_OFFSET, &bytes[bounds[i]..bounds[i + 4]]);
                count(h4);
                if let Some(&end) = bounds.get(i + 5) {
                    count(fnv1a_from(h4, &bytes[bounds[i + 4]..end]));
                }
            }
            total
        })
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64 bits (the trainer's `fnv1a`).
#[cfg(test)]
fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_from(FNV_OFFSET, bytes)
}

/// FNV-1a continued from `h` (the hash of the bytes before `bytes`).
fn fnv1a_from(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"\{\{\s*\w+\s*\}\}").expect("static regex")
});
static DIGITS: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"\d+").expect("static regex")
});

/// The trainer's normalisation: lower-case, placeholders → ` _v_ `, digit
/// runs → `0`, one space of padding on both sides.
fn normalize(text: &str) -> String {
    let lower = text.to_lowercase();
    let v = PLACEHOLDER.replace_all(&lower, " _v_ ");
    let d = DIGITS.replace_all(&v, "0");
    let mut out = String::with_capacity(d.len() + 2);
    out.push(' ');
    out.push_str(&d);
    out.push(' ');
    out
}

/// Sentences of `text` as byte ranges: split after `.`, `!`, `?` followed by
/// white space, and at line breaks; white space trimmed.
pub fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let end_here = c == '\n'
            || (matches!(c, '.' | '!' | '?' | '।')
                && it.peek().is_none_or(|&(_, n)| n.is_whitespace()));
        if end_here {
            let e = if c == '\n' { i } else { i + c.len_utf8() };
            push_trimmed(text, start, e, &mut out);
            start = i + c.len_utf8();
        }
    }
    push_trimmed(text, start, text.len(), &mut out);
    out
}

fn push_trimmed(text: &str, s: usize, e: usize, out: &mut Vec<(usize, usize)>) {
    let part = &text[s..e];
    let lead = part.len() - part.trim_start().len();
    let trail = part.len() - part.trim_end().len();
    if s + lead < e - trail {
        out.push((s + lead, e - trail));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_model_parses() {
        let m = MarketingModel::parse(EMBEDDED).unwrap();
        assert!(m.features() > 10_000, "{}", m.features());
        assert!(m.threshold > 0.0);
    }

    #[test]
    fn the_shipped_model_scores_as_the_trainer_does() {
        // `python3 eval/train_model.py --golden` (rerun after retraining).
        let m = MarketingModel::builtin();
        for (want, text) in [
            (
                31.7669,
                "Hi {{1}}, thanks for your order {{2}}. Members get even more every week, and joining takes one minute in the app.",
            ),
            (
                -3.5261,
                "Olá {{1}}, seu pedido 12345 foi entregue. Que tal conhecer a nossa nova linha de cafés especiais?",
            ),
            (-37.5001, "आपका ऑर्डर {{1}} भेज दिया गया है। 50% छूट पाएं!"),
        ] {
            let got = m.score(text);
            assert!((got - want).abs() < 0.01, "{text}: {got} vs {want}");
        }
        assert!(m.score("Hi {{1}}, thanks for your order {{2}}. Members get even more every week, and joining takes one minute in the app.") >= m.threshold);
    }

    #[test]
    fn fnv1a_matches_the_trainer() {
        // python3: fnv1a(" hi ") as in eval/train_model.py
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn bad_model_files_say_which_line() {
        let e = MarketingModel::parse("version\t1\nprior\t0.5\nthreshold\tx\nthreshold_alone\t9\n")
            .unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let e = MarketingModel::parse(
            "version\t1\nprior\t0.5\nthreshold\t3\nthreshold_alone\t9\nzz\t1\n",
        )
        .unwrap_err();
        assert!(e.contains("line 5"), "{e}");
        let e = MarketingModel::parse("prior\t0.5\nthreshold\t3\n").unwrap_err();
        assert!(e.contains("version"), "{e}");
    }

    #[test]
    fn scores_are_the_prior_plus_the_distinct_ngrams() {
        // " ab0 " after normalisation of "AB12": 4-grams " ab0", "ab0 ";
        // 5-gram " ab0 ".
        let model = format!(
            "version\t1\nprior\t0.5\nthreshold\t1\nthreshold_alone\t9\n{:016x}\t1.0\n{:016x}\t2.0\n{:016x}\t-0.25\n",
            fnv1a(" ab0".as_bytes()),
            fnv1a("ab0 ".as_bytes()),
            fnv1a(" ab0 ".as_bytes()),
        );
        let m = MarketingModel::parse(&model).unwrap();
        let s = m.score("AB12");
        assert!((s - 3.25).abs() < 1e-6, "{s}");
        assert_eq!(m.cue("AB12"), Some((0, 4)));
        // A placeholder is one token whatever its name.
        let p = format!(
            "version\t1\nprior\t0\nthreshold\t1\nthreshold_alone\t9\n{:016x}\t1.0\n",
            fnv1a(" _v_".as_bytes())
        );
        let m = MarketingModel::parse(&p).unwrap();
        assert_eq!(m.score("{{1}} x"), 1.0);
        assert_eq!(m.score("{{ first_name }} x"), 1.0);
    }

    #[test]
    fn the_cue_is_the_sentence_that_weighs_most() {
        let model = format!(
            "version\t1\nprior\t0\nthreshold\t1\nthreshold_alone\t9\n{:016x}\t3.0\n",
            fnv1a("sale".as_bytes()),
        );
        let m = MarketingModel::parse(&model).unwrap();
        let text = "Your order {{1}} has shipped. Big sale on 12 items!\nThanks";
        let (a, b) = m.cue(text).unwrap();
        assert_eq!(&text[a..b], "Big sale on 12 items!");
    }

    #[test]
    fn sentences_split_on_terminators_and_lines() {
        let t = "Hola. ¿Qué tal?  Bien!\nFin";
        let got: Vec<&str> = sentence_spans(t).iter().map(|&(a, b)| &t[a..b]).collect();
        assert_eq!(got, ["Hola.", "¿Qué tal?", "Bien!", "Fin"]);
        let h = "आपका ऑर्डर भेज दिया गया है। धन्यवाद";
        let got: Vec<&str> = sentence_spans(h).iter().map(|&(a, b)| &h[a..b]).collect();
        assert_eq!(got.len(), 2);
    }
}
