//! Benchmark: whole-process `wabaguard lint-templates` over N Graph-API-shaped
//! templates (default 100,000), JSON parse + every check.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_lint            # 100k, 5 runs
//! cargo run --release --example bench_lint -- --count 1000000 --runs 1
//! cargo run --release --example bench_lint -- --generate-only /tmp/t.json     # just write the file
//! cargo run --release --example bench_lint -- --varied                         # varied text, see below
//! ```
//! The generator is deterministic (fixed seed, own PRNG): the same file on
//! every machine. It mixes 8 languages, the three categories, headers,
//! footers, buttons, named and positional parameters, clean transactional
//! templates, promotions hidden in utility templates, restricted products and
//! Meta's own quality signals, in proportions seen in real accounts.
//!
//! The default generator draws bodies from a few dozen sentences, so after
//! the first thousand templates every pattern's lazy DFA is warm. `--varied`
//! builds each template from the open labelled corpora (`eval/corpus/dev*`,
//! 1,210 realistic templates in 8 languages, dense with hard negatives):
//! a random template, often with a sentence of another template of its
//! language spliced in, fresh numbers and a name. Nearly every pattern gets
//! compiled and its automaton keeps meeting new text: the harder case for
//! time and memory.
//!
//! Peak RSS is read by the child itself (`WABAGUARD_REPORT_RSS=1` makes the
//! binary print VmHWM from /proc/self/status to stderr on exit).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// (language, utility bodies, promo lines, restricted bodies)
type LangSamples = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

const LANGS: &[LangSamples] = &[
    (
        "en_US",
        &[
            "Hi {{1}}, your order {{2}} has shipped and should arrive by {{3}}. Track it any time in your account.",
            "Hello {{1}}, your appointment at our {{2}} store is confirmed for {{3}}. Reply to this message if you need to reschedule.",
            "Hi {{1}}, we received your payment of {{2}} for invoice {{3}}. Thank you for banking with us.",
            "Your refund of {{1}} for order {{2}} has been issued and will reach your card within 5 business days.",
        ],
        &[
            " Use code SAVE{{4}} for 15% off your next order!",
            " Don't forget: new arrivals just landed, shop the collection today.",
            " You left items in your cart - complete your purchase before they sell out.",
        ],
        &[
            "Weekend special: 2 bottles of red wine for $25 at our store, {{1}}.",
            "New vape starter kits are in stock, {{1}}. Order today!",
        ],
    ),
    (
        "es",
        &[
            "Hola {{1}}, tu pedido {{2}} ha sido enviado y llegará el {{3}}. Puedes seguirlo desde tu cuenta.",
            "Hola {{1}}, confirmamos tu cita en la tienda {{2}} para el {{3}}. Responde si necesitas cambiarla.",
        ],
        &[
            " Usa el código AHORRA{{4}} y obtén un 20% de descuento en tu próxima compra.",
            " ¡Descubre nuestra nueva colección de invierno!",
        ],
        &["Hola {{1}}, este fin de semana: casino online con bono de bienvenida del 100%."],
    ),
    (
        "pt_BR",
        &[
            "Olá {{1}}, seu pedido {{2}} foi enviado e deve chegar até {{3}}. Acompanhe pelo app.",
            "Oi {{1}}, recebemos o pagamento de {{2}} referente à fatura {{3}}. Obrigado!",
        ],
        &[" Aproveite frete grátis nas compras acima de R$ 99 com o cupom FRETE{{4}}."],
        &["Olá {{1}}, conheça o suplemento que queima gordura em 30 dias."],
    ),
    (
        "id",
        &[
            "Halo {{1}}, pesanan {{2}} sudah dikirim dan akan tiba pada {{3}}. Terima kasih sudah berbelanja.",
        ],
        &[" Ada promo gratis ongkir untuk belanja berikutnya, pakai voucher HEMAT{{4}}!"],
        &["Halo {{1}}, paket rokok elektrik starter kit sekarang diskon."],
    ),
    (
        "hi",
        &["नमस्ते {{1}}, आपका ऑर्डर {{2}} भेज दिया गया है और {{3}} तक पहुँच जाएगा।"],
        &[" अगली खरीदारी पर कोड BACHAT{{4}} से 20% की छूट पाएं!"],
        &["नमस्ते {{1}}, ऑनलाइन कैसीनो में आज ही खेलें और बोनस पाएं।"],
    ),
    (
        "de",
        &[
            "Hallo {{1}}, deine Bestellung {{2}} ist unterwegs und kommt voraussichtlich am {{3}} an.",
        ],
        &[
            " Mit dem Gutscheincode SPAREN{{4}} erhältst du 10 % Rabatt auf deinen nächsten Einkauf.",
        ],
        &["Hallo {{1}}, unsere Weinprobe: 6 Flaschen Riesling zum Sonderpreis."],
    ),
    (
        "fr",
        &["Bonjour {{1}}, votre commande {{2}} a été expédiée et arrivera le {{3}}."],
        &[" Profitez de -20 % sur votre prochaine commande avec le code PROMO{{4}} !"],
        &["Bonjour {{1}}, découvrez nos cigarettes électroniques à prix réduit."],
    ),
    (
        "it",
        &["Ciao {{1}}, il tuo ordine {{2}} è stato spedito e arriverà il {{3}}."],
        &[" Usa il codice SCONTO{{4}} per avere il 15% di sconto sul prossimo acquisto."],
        &["Ciao {{1}}, scommesse sportive: bonus di benvenuto fino a 100 euro."],
    ),
];

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

/// Writes one Graph `message_templates` page of `count` templates, each
/// written by `template(w, i)`; returns the file's size.
fn write_page(
    path: &Path,
    count: usize,
    mut template: impl FnMut(&mut dyn Write, usize) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let f = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    w.write_all(b"{\"data\":[")?;
    for i in 0..count {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        template(&mut w, i)?;
    }
    w.write_all(b"],\"paging\":{\"cursors\":{\"before\":\"QVFIUk\",\"after\":\"QVFIUm\"}}}\n")?;
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Writes `count` templates as one Graph `message_templates` page.
pub fn generate(path: &Path, count: usize, seed: u64) -> std::io::Result<u64> {
    let mut rng = Rng(seed);
    write_page(path, count, |w, i| {
        let (lang, utility, promo, restricted) = LANGS[rng.below(LANGS.len())];
        let roll = rng.below(100);
        let (category, body) = if roll < 55 {
            ("UTILITY", rng.pick(utility).to_owned())
        } else if roll < 70 {
            (
                "UTILITY",
                format!("{}{}", rng.pick(utility), rng.pick(promo)),
            )
        } else if roll < 90 {
            ("MARKETING", format!("Hi {{{{1}}}}!{}", rng.pick(promo)))
        } else if roll < 95 {
            ("MARKETING", rng.pick(restricted).to_owned())
        } else {
            (
                "AUTHENTICATION",
                "*{{1}}* is your verification code. For your security, do not share this code."
                    .to_owned(),
            )
        };
        let nvars = body.matches("{{").count();
        let examples: Vec<String> = (1..=nvars).map(|k| format!("\"v{k}\"")).collect();
        let status = match rng.below(50) {
            0 => "PAUSED",
            1 => "REJECTED",
            2 | 3 => "PENDING",
            _ => "APPROVED",
        };
        let quality = match rng.below(20) {
            0 => ",\"quality_score\":{\"score\":\"YELLOW\",\"date\":1763900000}",
            1 => ",\"quality_score\":{\"score\":\"RED\",\"date\":1763900000}",
            _ => ",\"quality_score\":{\"score\":\"GREEN\",\"date\":1763900000}",
        };
        let header = if category == "MARKETING" && rng.below(2) == 0 {
            "{\"type\":\"HEADER\",\"format\":\"IMAGE\",\"example\":{\"header_handle\":[\"https://scontent.example/h.jpg\"]}},".to_owned()
        } else if category == "UTILITY" {
            "{\"type\":\"HEADER\",\"format\":\"TEXT\",\"text\":\"Casa Verde Market\"},".to_owned()
        } else {
            String::new()
        };
        let buttons = if category == "AUTHENTICATION" {
            ",{\"type\":\"BUTTONS\",\"buttons\":[{\"type\":\"OTP\",\"otp_type\":\"COPY_CODE\",\"text\":\"Copy code\"}]}"
        } else if category == "UTILITY" {
            ",{\"type\":\"BUTTONS\",\"buttons\":[{\"type\":\"URL\",\"text\":\"Track order\",\"url\":\"https://casaverde.example/track/{{1}}\",\"example\":[\"https://casaverde.example/track/48213\"]}]}"
        } else {
            ",{\"type\":\"BUTTONS\",\"buttons\":[{\"type\":\"QUICK_REPLY\",\"text\":\"See offers\"},{\"type\":\"QUICK_REPLY\",\"text\":\"Stop promotions\"}]}"
        };
        write!(
            w,
            "{{\"id\":\"{}\",\"name\":\"tpl_{i}\",\"language\":\"{lang}\",\"status\":\"{status}\",\"category\":\"{category}\",\"parameter_format\":\"POSITIONAL\"{quality},\"components\":[{header}{{\"type\":\"BODY\",\"text\":\"{}\",\"example\":{{\"body_text\":[[{}]]}}}},{{\"type\":\"FOOTER\",\"text\":\"Casa Verde Market\"}}{buttons}]}}",
            1_000_000_000_000_000u64 + i as u64,
            esc(&body),
            examples.join(",")
        )
    })
}

/// The open labelled corpora the `--varied` generator draws from (not the
/// sealed ones: dev3 and the holdout are only ever scored).
const VARIED_SOURCES: [&str; 5] = ["dev", "dev2-a", "dev2-b", "dev4", "dev5"];

/// Writes `count` templates built from the open corpora (see the module
/// documentation).
pub fn generate_varied(path: &Path, count: usize, seed: u64) -> std::io::Result<u64> {
    use serde_json::Value;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("eval/corpus");
    let mut templates: Vec<Value> = Vec::new();
    for name in VARIED_SOURCES {
        let text = std::fs::read_to_string(root.join(format!("{name}.jsonl")))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).map_err(std::io::Error::other)?;
            templates.push(v["template"].clone());
        }
    }
    let lang = |t: &Value| {
        let l = t["language"].as_str().unwrap_or("");
        l.split(['_', '-']).next().unwrap_or("").to_owned()
    };
    let body_of = |t: &Value| -> Option<String> {
        t["components"].as_array()?.iter().find_map(|c| {
            (c["type"] == "BODY")
                .then(|| c["text"].as_str().map(str::to_owned))
                .flatten()
        })
    };
    let sentences = |body: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        for ch in body.chars() {
            cur.push(ch);
            if matches!(ch, '.' | '!' | '?' | '।') {
                out.push(std::mem::take(&mut cur).trim().to_owned());
            }
        }
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_owned());
        }
        out
    };
    let mut pool: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for t in &templates {
        if let Some(b) = body_of(t) {
            pool.entry(lang(t)).or_default().extend(sentences(&b));
        }
    }
    const NAMES: [&str; 10] = [
        "Ana", "Rahul", "Jürgen", "Siti", "Marco", "Chloé", "João", "Priya", "Lukas", "Dewi",
    ];
    let mut rng = Rng(seed);
    write_page(path, count, |w, i| {
        let mut t = templates[rng.below(templates.len())].clone();
        let same_lang = pool.get(&lang(&t)).map_or(&[][..], Vec::as_slice);
        if let Some(comps) = t["components"].as_array_mut() {
            for c in comps.iter_mut().filter(|c| c["type"] == "BODY") {
                let Some(body) = c["text"].as_str() else {
                    continue;
                };
                let mut parts = sentences(body);
                if rng.below(2) == 0 && !same_lang.is_empty() {
                    let at = rng.below(parts.len() + 1);
                    parts.insert(at, same_lang[rng.below(same_lang.len())].clone());
                }
                let mut text = String::new();
                if rng.below(10) < 3 {
                    text.push_str(NAMES[rng.below(NAMES.len())]);
                    text.push_str(", ");
                }
                // Fresh numbers (placeholders keep theirs).
                let joined = parts.join(" ");
                let mut chars = joined.chars().peekable();
                let mut in_placeholder = false;
                while let Some(ch) = chars.next() {
                    if ch == '{' {
                        in_placeholder = true;
                    } else if ch == '}' {
                        in_placeholder = false;
                    }
                    if ch.is_ascii_digit() && !in_placeholder {
                        while chars.peek().is_some_and(char::is_ascii_digit) {
                            chars.next();
                        }
                        text.push_str(&(1 + rng.below(998)).to_string());
                    } else {
                        text.push(ch);
                    }
                }
                c["text"] = Value::String(text);
            }
        }
        t["id"] = Value::String((2_000_000_000_000_000u64 + i as u64).to_string());
        let name = t["name"].as_str().unwrap_or("t").to_owned();
        t["name"] = Value::String(format!("{name}_{i}"));
        serde_json::to_writer(w, &t).map_err(std::io::Error::other)
    })
}

fn main() {
    let mut count = 100_000usize;
    let mut varied = false;
    let mut runs = 5usize;
    let mut generate_only: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => count = args.next().and_then(|v| v.parse().ok()).unwrap_or(count),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).unwrap_or(runs),
            "--generate-only" => generate_only = args.next().map(PathBuf::from),
            "--varied" => varied = true,
            _ => {
                eprintln!(
                    "usage: bench_lint [--count N] [--runs N] [--varied] [--generate-only FILE]"
                );
                std::process::exit(2);
            }
        }
    }
    let make = |path: &Path| {
        if varied {
            generate_varied(path, count, 42)
        } else {
            generate(path, count, 42)
        }
    };
    if let Some(p) = generate_only {
        let size = make(&p).expect("write templates");
        println!(
            "{} templates, {:.1} MB -> {}",
            count,
            size as f64 / 1e6,
            p.display()
        );
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = std::env::var_os("WABAGUARD_BIN")
        .map_or_else(|| root.join("target/release/wabaguard"), PathBuf::from);
    if !bin.exists() {
        eprintln!("build the release binary first: cargo build --release");
        std::process::exit(2);
    }
    let dir = std::env::temp_dir().join("wabaguard-bench");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let kind = if varied { "varied" } else { "templates" };
    let file = dir.join(format!("{kind}-{count}.json"));
    let size = make(&file).expect("write templates");
    println!(
        "input: {count} templates, {:.1} MB ({})",
        size as f64 / 1e6,
        file.display()
    );
    let mut walls = Vec::new();
    let mut rss_kib = 0u64;
    let mut findings_bytes = 0usize;
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(&bin)
            .args(["lint-templates", "--format", "json"])
            .arg(&file)
            .env("WABAGUARD_REPORT_RSS", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run wabaguard");
        walls.push(t.elapsed().as_secs_f64());
        findings_bytes = out.stdout.len();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Some(v) = stderr
            .lines()
            .find_map(|l| l.strip_prefix("peak_rss_kib="))
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            rss_kib = rss_kib.max(v);
        }
        assert!(out.status.code() == Some(0), "lint failed: {stderr}");
    }
    walls.sort_by(|a, b| a.total_cmp(b));
    let best = walls[0];
    let median = walls[walls.len() / 2];
    println!(
        "wall: best {best:.3} s, median {median:.3} s over {runs} runs -> {:.0} templates/s",
        count as f64 / median
    );
    println!(
        "peak RSS: {:.1} MiB = {:.2}x the input file (target <= 3x); output {:.1} MB of JSON",
        rss_kib as f64 / 1024.0,
        (rss_kib * 1024) as f64 / size as f64,
        findings_bytes as f64 / 1e6
    );
    println!(
        "target (<= 1.5 s wall, <= 3x RSS): {}",
        if median <= 1.5 && (rss_kib * 1024) as f64 <= 3.0 * size as f64 {
            "met"
        } else {
            "NOT met"
        }
    );
}
