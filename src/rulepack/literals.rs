//! Required literals of a pattern, for the Aho-Corasick prefilter.
//!
//! For each pattern we compute a small set of lower-cased strings such that
//! every match of the pattern contains at least one of them. One
//! Aho-Corasick automaton per language over all those strings tells, in a
//! single pass over a template, which patterns can possibly match; only those
//! are compiled (lazily) and run. Patterns without a usable literal (every
//! string at least two characters, or one rare symbol such as `%`) are run on every template of
//! their language; `rules check` counts them.
//!
//! The analysis works on the regex AST (cheap to parse, no Unicode tables),
//! so loading thousands of patterns costs milliseconds.

use regex_syntax::ast::{self, Ast, ClassSet, ClassSetItem, RepetitionKind, RepetitionRange};

/// At most this many strings in a set; bigger sets give up.
const MAX_SET: usize = 64;

/// At most this many required strings for an alternation: a list of 60
/// brand names with accent variants (`a[ñn]ejo`) is still selected by its
/// names, not run on every template.
const MAX_ALTERNATION: usize = 256;

/// Lower-cases `s` character by character, keeping every character's UTF-8
/// length (a character whose lower case has another length stays as it is),
/// so byte offsets in the result are valid in the original.
pub fn lower_same_len(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        out.push(lower_char(c));
    }
    out
}

pub(crate) fn lower_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) if l.len_utf8() == c.len_utf8() => l,
        _ => c,
    }
}

struct Info {
    /// The node matches exactly one of these strings (lower-cased).
    exact: Option<Vec<String>>,
    /// Every match contains one of these strings.
    req: Option<Vec<String>>,
}

impl Info {
    fn none() -> Info {
        Info {
            exact: None,
            req: None,
        }
    }
    fn exact(v: Vec<String>) -> Info {
        Info {
            exact: Some(v),
            req: None,
        }
    }
    /// The requirement with the fewest strings (for unions that must stay small).
    fn compact(&self) -> Option<Vec<String>> {
        match (&self.req, &self.exact) {
            (Some(r), Some(e)) => Some(if e.len() < r.len() {
                e.clone()
            } else {
                r.clone()
            }),
            (r, e) => r.clone().or_else(|| e.clone()),
        }
    }

    /// The best requirement this node offers on its own.
    fn best(&self) -> Option<Vec<String>> {
        better(self.req.clone(), self.exact.clone())
    }
}

/// Very frequent short words: a literal that is one of them selects a
/// pattern for almost every template, so it ranks like a one-letter literal.
const COMMON: &[&str] = &[
    // en
    "the",
    "our",
    "your",
    "you",
    "and",
    "for",
    "with",
    "are",
    "was",
    "this",
    "that",
    "from",
    "have",
    "has",
    "now",
    "get",
    "out",
    "all",
    "can",
    "will",
    "not",
    "but",
    "its",
    "it's",
    "order",
    "hi",
    "hello",
    // es / pt / it / fr
    "que",
    "los",
    "las",
    "del",
    "por",
    "con",
    "una",
    "para",
    "tu",
    "su",
    "sus",
    "el",
    "la",
    "de",
    "os",
    "as",
    "do",
    "da",
    "dos",
    "das",
    "com",
    "seu",
    "sua",
    "um",
    "uma",
    "les",
    "des",
    "une",
    "pour",
    "avec",
    "vous",
    "votre",
    "sur",
    "est",
    "il",
    "per",
    "che",
    "tuo",
    "tua",
    "di",
    "e",
    "et",
    "en",
    "un",
    "le",
    "al",
    "no",
    "na",
    "em",
    // de
    "der",
    "die",
    "das",
    "und",
    "mit",
    "für",
    "ist",
    "dein",
    "deine",
    "ihr",
    "ihre",
    "ein",
    "eine",
    "den",
    "dem",
    "sie",
    // id
    "dan",
    "yang",
    "ke",
    "untuk",
    "dengan",
    "kamu",
    "anda",
    "ini",
    "itu",
    "kak",
    // hi
    "के",
    "का",
    "की",
    "में",
    "है",
    "और",
    "से",
    "को",
    "पर",
    "आप",
    "आपका",
    "आपके",
    "आपकी",
];

static COMMON_SET: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| COMMON.iter().copied().collect());

fn rank_len(s: &str) -> usize {
    let t = s.trim();
    // Every common word is at most 6 characters (18 bytes in Devanagari).
    if t.len() <= 18 && COMMON_SET.contains(t) {
        1
    } else {
        s.chars().count()
    }
}

/// Quality of a requirement set: shorter minimum length is worse (very
/// common words count as length 1; beyond six characters a literal is
/// selective enough and length stops counting); more strings are worse.
fn quality(v: &[String]) -> (bool, usize, std::cmp::Reverse<usize>) {
    let min = v.iter().map(|s| rank_len(s).min(6)).min().unwrap_or(0);
    (v.iter().all(|s| usable(s)), min, std::cmp::Reverse(v.len()))
}

fn better(a: Option<Vec<String>>, b: Option<Vec<String>>) -> Option<Vec<String>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if quality(&b) > quality(&a) { b } else { a }),
        (a, None) => a,
        (None, b) => b,
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

fn cross(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() * b.len() > MAX_SET {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut s = String::with_capacity(x.len() + y.len());
            s.push_str(x);
            s.push_str(y);
            out.push(s);
        }
    }
    Some(dedup(out))
}

fn union(parts: Vec<Option<Vec<String>>>, max: usize) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for p in parts {
        out.extend(p?);
        if out.len() > max {
            return None;
        }
    }
    Some(dedup(out))
}

fn info(a: &Ast) -> Info {
    match a {
        Ast::Empty(_) | Ast::Flags(_) | Ast::Assertion(_) => Info::exact(vec![String::new()]),
        Ast::Literal(l) => Info::exact(vec![lower_char(l.c).to_string()]),
        Ast::ClassBracketed(c) if !c.negated => match small_class(&c.kind) {
            Some(chars) => Info::exact(dedup(chars.into_iter().map(|c| c.to_string()).collect())),
            None => Info::none(),
        },
        Ast::Dot(_) | Ast::ClassUnicode(_) | Ast::ClassPerl(_) | Ast::ClassBracketed(_) => {
            Info::none()
        }
        Ast::Group(g) => info(&g.ast),
        Ast::Repetition(r) => {
            let sub = info(&r.ast);
            let (min, max) = match &r.op.kind {
                RepetitionKind::ZeroOrOne => (0, Some(1)),
                RepetitionKind::ZeroOrMore => (0, None),
                RepetitionKind::OneOrMore => (1, None),
                RepetitionKind::Range(RepetitionRange::Exactly(n)) => (*n, Some(*n)),
                RepetitionKind::Range(RepetitionRange::AtLeast(n)) => (*n, None),
                RepetitionKind::Range(RepetitionRange::Bounded(a, b)) => (*a, Some(*b)),
            };
            match (min, max) {
                (0, Some(1)) => Info {
                    exact: sub.exact.and_then(|mut v| {
                        v.push(String::new());
                        (v.len() <= MAX_SET).then(|| dedup(v))
                    }),
                    req: None,
                },
                (0, _) => Info::none(),
                (1, Some(1)) => sub,
                (n, Some(m)) if n == m && n <= 4 => {
                    let exact = sub.exact.as_ref().and_then(|v| {
                        let mut acc = vec![String::new()];
                        for _ in 0..n {
                            acc = cross(&acc, v)?;
                        }
                        Some(acc)
                    });
                    Info {
                        req: sub.best(),
                        exact,
                    }
                }
                _ => Info {
                    exact: None,
                    req: sub.best(),
                },
            }
        }
        Ast::Alternation(alt) => {
            let infos: Vec<Info> = alt.asts.iter().map(info).collect();
            let exact = union(infos.iter().map(|i| i.exact.clone()).collect(), MAX_SET);
            // Prefer each branch's best set; if their union is too big, fall
            // back to each branch's smallest good set.
            let req = better(
                union(infos.iter().map(Info::best).collect(), MAX_ALTERNATION),
                union(infos.iter().map(Info::compact).collect(), MAX_ALTERNATION),
            );
            Info { exact, req }
        }
        Ast::Concat(c) => {
            let mut candidates: Option<Vec<String>> = None;
            let mut run: Option<Vec<String>> = Some(vec![String::new()]);
            let mut all_exact = true;
            // The longest stretch of children that each match one fixed
            // string: a single literal every match contains.
            let mut mono = String::new();
            let mut best_mono = String::new();
            for child in &c.asts {
                let ci = info(child);
                candidates = better(candidates, ci.req.clone());
                match ci.exact.as_deref() {
                    Some([one]) => mono.push_str(one),
                    _ => {
                        if rank_len(&mono) > rank_len(&best_mono) {
                            best_mono = std::mem::take(&mut mono);
                        }
                        mono.clear();
                    }
                }
                match (&run, &ci.exact) {
                    (Some(r), Some(e)) => match cross(r, e) {
                        Some(x) => run = Some(x),
                        None => {
                            candidates = better(candidates, run.take());
                            run = Some(e.clone());
                        }
                    },
                    (None, Some(e)) => run = Some(e.clone()),
                    (_, None) => {
                        all_exact = false;
                        candidates = better(candidates, run.take());
                        run = Some(vec![String::new()]);
                    }
                }
            }
            if rank_len(&mono) > rank_len(&best_mono) {
                best_mono = mono;
            }
            let exact = if all_exact { run.clone() } else { None };
            candidates = better(candidates, run);
            if !best_mono.is_empty() {
                candidates = better(candidates, Some(vec![best_mono]));
            }
            Info {
                exact,
                req: candidates,
            }
        }
    }
}

/// A bracketed class of a few literal characters (`[oó]`, `[Ee]`), lower-cased.
fn small_class(set: &ClassSet) -> Option<Vec<char>> {
    let mut out = Vec::new();
    fn walk(item: &ClassSetItem, out: &mut Vec<char>) -> Option<()> {
        match item {
            ClassSetItem::Literal(l) => out.push(lower_char(l.c)),
            ClassSetItem::Union(u) => {
                for i in &u.items {
                    walk(i, out)?;
                }
            }
            ClassSetItem::Range(r) => {
                let (a, b) = (r.start.c as u32, r.end.c as u32);
                if b < a || b - a > 3 {
                    return None;
                }
                for x in a..=b {
                    out.push(lower_char(char::from_u32(x)?));
                }
            }
            _ => return None,
        }
        (out.len() <= 6).then_some(())
    }
    match set {
        ClassSet::Item(item) => walk(item, &mut out)?,
        ClassSet::BinaryOp(_) => return None,
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// The required literals of `pattern` (without any `(?i)` prefix), or `None`
/// when no set of usable literals covers every match. `Err` is a syntax error.
pub fn required_literals(pattern: &str) -> Result<Option<Vec<String>>, Box<ast::Error>> {
    let ast = ast::parse::Parser::new().parse(pattern).map_err(Box::new)?;
    let best = info(&ast).best();
    Ok(best.filter(|v| !v.is_empty() && v.iter().all(|s| usable(s))))
}

/// Most groups of one clause (bits of a `u8` mask).
pub const MAX_GROUPS: usize = 6;
/// Most clauses of one pattern.
const MAX_CLAUSES: usize = 24;

/// A conjunctive prefilter requirement in disjunctive normal form: the
/// pattern can match only if, for at least one clause, every group of that
/// clause has one of its strings in the (lower-cased) text. A single clause
/// with a single group is the plain "one of these literals" requirement;
/// more groups make the prefilter far more selective (`our … just`, where
/// neither word alone is rare).
pub type Clauses = Vec<Vec<Vec<String>>>;

/// The prefilter clauses of `pattern` (without any `(?i)` prefix), or `None`
/// when some match might contain no usable literal. `Err` is a syntax error.
pub fn required_clauses(pattern: &str) -> Result<Option<Clauses>, Box<ast::Error>> {
    let ast = ast::parse::Parser::new().parse(pattern).map_err(Box::new)?;
    let single = info(&ast)
        .best()
        .filter(|v| !v.is_empty() && v.iter().all(|s| usable(s)));
    let mut out = clauses(&ast);
    // The single best set is required too: add it where it is more
    // selective than what a clause already has, or use it alone.
    if let (Some(cs), Some(best)) = (&mut out, &single) {
        if cs.len() == 1 && !cs[0].contains(best) {
            cs[0].push(best.clone());
            finish_clause(&mut cs[0]);
        }
    }
    Ok(out.or_else(|| single.map(|b| vec![vec![b]])))
}

fn usable_set(v: &Option<Vec<String>>) -> Option<Vec<String>> {
    v.clone()
        .filter(|v| !v.is_empty() && v.iter().all(|s| usable(s)))
}

/// Keeps the most selective groups, best first, without repeats. (Dropping
/// groups of common short words was tried: fewer prefilter hits, but more
/// candidates, more regexes compiled and ~5% more memory.)
fn finish_clause(groups: &mut Vec<Vec<String>>) {
    groups.sort_by_key(|g| std::cmp::Reverse(quality(g)));
    groups.dedup();
    groups.truncate(MAX_GROUPS);
}

fn clauses(a: &Ast) -> Option<Clauses> {
    match a {
        Ast::Group(g) => clauses(&g.ast),
        Ast::Repetition(r) => {
            let min = match &r.op.kind {
                RepetitionKind::ZeroOrOne | RepetitionKind::ZeroOrMore => 0,
                RepetitionKind::OneOrMore => 1,
                RepetitionKind::Range(RepetitionRange::Exactly(n))
                | RepetitionKind::Range(RepetitionRange::AtLeast(n))
                | RepetitionKind::Range(RepetitionRange::Bounded(n, _)) => *n,
            };
            if min == 0 { None } else { clauses(&r.ast) }
        }
        Ast::Alternation(alt) => {
            let mut out = Vec::new();
            for b in &alt.asts {
                out.extend(clauses(b)?);
                if out.len() > MAX_CLAUSES {
                    return None;
                }
            }
            Some(out)
        }
        Ast::Concat(c) => {
            let mut groups: Vec<Vec<String>> = Vec::new();
            // Runs of children that each match a small fixed set.
            let mut run: Option<Vec<String>> = Some(vec![String::new()]);
            let flush = |run: &mut Option<Vec<String>>, groups: &mut Vec<Vec<String>>| {
                if let Some(g) = usable_set(run) {
                    groups.push(g);
                }
                *run = Some(vec![String::new()]);
            };
            for child in &c.asts {
                let ci = info(child);
                match &ci.exact {
                    Some(e) => match run.as_deref().and_then(|r| cross(r, e)) {
                        Some(x) => run = Some(x),
                        None => {
                            flush(&mut run, &mut groups);
                            run = Some(e.clone());
                        }
                    },
                    None => {
                        flush(&mut run, &mut groups);
                        // A child with its own conjunction (a group of a
                        // concat) contributes every group of it.
                        match clauses(child) {
                            Some(cc) if cc.len() == 1 => groups.extend(cc.into_iter().flatten()),
                            _ => {
                                if let Some(g) = usable_set(&ci.best()) {
                                    groups.push(g);
                                }
                            }
                        }
                    }
                }
            }
            flush(&mut run, &mut groups);
            if groups.is_empty() {
                return None;
            }
            finish_clause(&mut groups);
            Some(vec![groups])
        }
        _ => usable_set(&info(a).best()).map(|g| vec![vec![g]]),
    }
}

/// A literal selective enough for the prefilter: at least two characters,
/// or one rare symbol (`%`, `€`, `₹`, ..., and `ω`: a lower-cased `Ω` for
/// ohms, in no language of the packs).
fn usable(s: &str) -> bool {
    let n = s.chars().count();
    if n >= 2 {
        return s.chars().any(|c| !c.is_whitespace());
    }
    s.chars()
        .next()
        .is_some_and(|c| matches!(c, '%' | '€' | '$' | '£' | '₹' | '¥' | '×' | '@' | '#' | 'ω'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(p: &str) -> Option<Vec<String>> {
        required_literals(p).unwrap()
    }

    #[test]
    fn literals_of_common_shapes() {
        assert_eq!(req("descuentos?"), Some(vec!["descuento".into()]));
        assert_eq!(req(r"free\s+shipping"), Some(vec!["shipping".into()]));
        assert_eq!(
            req(r"(?:\d{1,3}|\{\{\w+\}\})\s?%\s?off"),
            Some(vec!["off".into()])
        );
        assert_eq!(req("promoci[oó]n"), Some(vec!["promoci".into()]));
        assert_eq!(
            req("cupon[eé]s"),
            Some(vec!["cupones".into(), "cuponés".into()])
        );
        assert_eq!(req("Use CODE"), Some(vec!["use code".into()]));
        assert_eq!(
            req(r"(?:casino|bet(?:s|ting)?)"),
            Some(vec!["bet".into(), "casino".into()])
        );
        assert_eq!(req(r"\w*rabatt\w*"), Some(vec!["rabatt".into()]));
        assert_eq!(req("छूट"), Some(vec!["छूट".into()]));
        // An unusable one-character run never beats a usable set.
        assert_eq!(
            req(r"f(?:ü|ue)r\s+(?:nur\s+)?1\s?(?:€|Euro)"),
            Some(vec!["fuer".into(), "für".into()])
        );
        // A long fixed stretch beats a large set of variants.
        assert_eq!(
            req("pr[ée]-?approuv[ée]e?s?|pr[ée]-?accord[ée]e?s?"),
            Some(vec!["accord".into(), "approuv".into()])
        );
    }

    #[test]
    fn a_long_list_of_names_keeps_its_literals() {
        // 40 names, each with an accent variant: 80 required strings, over
        // the 64 a concatenation may produce but within an alternation's limit.
        let names: Vec<String> = (0..40).map(|i| format!("cuv[ée]e{i:02}x")).collect();
        let lits = req(&names.join("|")).expect("selected by its names");
        assert_eq!(lits.len(), 80);
        assert!(lits.contains(&"cuvée07x".to_string()) && lits.contains(&"cuvee07x".to_string()));
        // Beyond the limit the pattern runs on every template rather than fail.
        let many: Vec<String> = (0..300).map(|i| format!("brand{i:03}")).collect();
        assert_eq!(req(&many.join("|")), None);
    }

    #[test]
    fn no_literal_when_some_branch_has_none() {
        assert_eq!(req(r"casino|\d+"), None);
        assert_eq!(req(r"[A-Z0-9]{4,}"), None);
        assert_eq!(req("a"), None); // too short to be selective
        assert_eq!(req(r"[-−]\s?\d{1,2}\s?%"), Some(vec!["%".into()]));
        // A rarer literal wins over a very common word.
        assert_eq!(
            req(r"(?:explore|discover)\s+(?:our|the)"),
            Some(vec!["discover".into(), "explore".into()])
        );
    }

    fn clauses_of(p: &str) -> Option<Clauses> {
        required_clauses(p).unwrap()
    }

    #[test]
    fn conjunctions_of_a_concatenation() {
        // Both the rare word and the price words are required.
        let c = clauses_of(r"(?:you\s+can\s+now|now\s+you\s+can)\s+(?:get|enjoy|borrow)").unwrap();
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(
            c[0].contains(&vec!["borrow".into(), "enjoy".into(), "get".into()]),
            "{c:?}"
        );
        // Alternation: one clause per branch, each with its own groups.
        let c = clauses_of(r"visita\s+nuestra\s+tienda|comprar\s+aqu[ií]").unwrap();
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(
            c[0].contains(&vec!["tienda".into()]) && c[0].contains(&vec!["visita".into()]),
            "{c:?}"
        );
        assert!(c[1].contains(&vec!["aqui".into(), "aquí".into()]), "{c:?}");
        // Groups are ordered by selectivity: the rare word first.
        let c = clauses_of(r"ir\s+a\s+la\s+tienda").unwrap();
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0][0], vec!["tienda".to_string()], "{c:?}");
        assert!(c[0].contains(&vec!["la".to_string()]), "{c:?}");
        // A branch without any usable literal: no clauses, no prefilter.
        assert_eq!(clauses_of(r"casino|\d+"), None);
        // Optional parts are never required.
        let c = clauses_of(r"free(?:\s+shipping)?").unwrap();
        assert_eq!(c, vec![vec![vec!["free".to_string()]]]);
    }

    #[test]
    fn lowercase_keeps_lengths() {
        let s = "İSTANBUL Ärger ẞ DESCUENTO";
        let l = lower_same_len(s);
        assert_eq!(l.len(), s.len());
        assert!(l.contains("ärger"));
        assert!(l.contains("descuento"));
    }
}
