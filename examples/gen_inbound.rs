//! Writes a synthetic, labelled inbound-messages export for `bench_optout`.
//!
//! ```text
//! cargo run --release --example gen_inbound -- 1000000 42 /tmp/inbound-1m
//! ```
//!
//! Writes into DIR:
//! - `inbound.jsonl`: N Cloud API `messages` webhook envelopes, one per line
//!   (metadata, contacts and one message each, as Meta sends them), from N
//!   distinct senders across 8 countries; about 2% are opt-outs (bare
//!   keywords with politeness words, emoji and casing; written requests;
//!   opt-out quick-reply buttons), the rest ordinary replies in 8 languages,
//!   a third of them hard negatives ("stop by the store", "cancelar mi
//!   pedido", "sair de casa", "stopp die Lieferung nicht", ...), plus button
//!   taps that are not opt-outs;
//! - `consent_ledger.csv`: an opt_in for every sender (so every detected
//!   opt-out is unrecorded and becomes one emitted ledger row);
//! - `labels.csv`: `phone,optout` (1 or 0) per sender.
//!
//! The phrasings are built from parts (fillers, objects, casing, emoji), not
//! copied from the rule examples; they are still written by the rule author,
//! so precision and recall on this set measure consistency, not unseen text.

use std::io::Write;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

const KEYWORDS: [&[&str]; 8] = [
    &[
        "STOP",
        "stop",
        "Stop",
        "UNSUBSCRIBE",
        "unsubscribe",
        "opt out",
        "STOP ALL",
        "Cancel",
    ],
    &[
        "BAJA",
        "baja",
        "PARAR",
        "Cancelar",
        "SALIR",
        "Basta",
        "darme de baja",
        "STOP",
    ],
    &[
        "SAIR",
        "sair",
        "PARAR",
        "Parar",
        "CANCELAR",
        "Descadastrar",
        "Chega",
        "STOP",
    ],
    &[
        "BERHENTI",
        "berhenti",
        "STOP",
        "UNREG",
        "Berhenti berlangganan",
        "stop",
    ],
    &["रोकें", "बंद करो", "बंद करें", "STOP", "band karo", "रोक दो"],
    &[
        "STOPP",
        "Stopp",
        "ABMELDEN",
        "abmelden",
        "Abbestellen",
        "STOP",
    ],
    &[
        "STOP",
        "ARRÊT",
        "Arrêt",
        "ARRET",
        "DÉSABONNER",
        "désabonner",
        "Désabonnement",
    ],
    &[
        "STOP",
        "BASTA",
        "Basta",
        "Disiscrivimi",
        "Cancellami",
        "stop",
    ],
];

const PRE: [&[&str]; 8] = [
    &["", "", "", "please ", "Please ", "ok "],
    &["", "", "por favor ", "ya "],
    &["", "", "por favor ", "pfv "],
    &["", "", "tolong ", "mohon "],
    &["", "", "कृपया ", "please "],
    &["", "", "bitte ", "Bitte "],
    &["", "", "svp ", ""],
    &["", "", "per favore ", ""],
];

const POST: [&[&str]; 8] = [
    &[
        "", "", "", " please", " now", " thanks", "!", "!!!", ".", " 🛑", " 🙏",
    ],
    &["", "", " por favor", " gracias", "!", "."],
    &["", "", " por favor", " obrigado", "!", "."],
    &["", "", " ya", " dong", " min", "!"],
    &["", "", " प्लीज़", " please", "!", " जी"],
    &["", "", " bitte", " danke", "!", " sofort"],
    &["", "", " merci", " svp", "!", " maintenant"],
    &["", "", " grazie", " subito", "!", " per favore"],
];

const REQUESTS: [&[&str]; 8] = [
    &[
        "Please stop sending me {obj}",
        "stop sending me {obj}",
        "Can you stop texting me?",
        "I don't want to receive any more {obj}",
        "Remove me from your mailing list",
        "take me off your list please",
        "How do I unsubscribe?",
        "Don't message me again",
        "no more {obj} please",
        "unsubscribe me from this list",
    ],
    &[
        "No quiero recibir más {obj_es}",
        "Dejen de enviarme {obj_es} por favor",
        "no me envíen más mensajes",
        "Quiero darme de baja",
        "Sáquenme de la lista",
        "ya no quiero recibir sus {obj_es}",
    ],
    &[
        "Não quero mais receber {obj_pt}",
        "parem de me mandar mensagem",
        "Não me mandem mais nada",
        "Quero me descadastrar",
        "me tira dessa lista",
        "não quero mais receber",
    ],
    &[
        "jangan kirim lagi",
        "Jangan kirim pesan lagi ya",
        "tolong berhenti kirim pesan",
        "saya tidak mau terima promo",
        "hapus nomor saya dari daftar",
    ],
    &[
        "मुझे मैसेज मत भेजो",
        "संदेश भेजना बंद करें",
        "मुझे और मैसेज नहीं चाहिए",
        "message mat bhejo",
        "mujhe koi message nahi chahiye",
    ],
    &[
        "Keine Nachrichten mehr",
        "bitte keine Werbung mehr",
        "Ich möchte keine Nachrichten mehr erhalten",
        "Bitte schreiben Sie mir nicht mehr",
        "Ich möchte mich abmelden",
    ],
    &[
        "Je ne veux plus recevoir de messages",
        "Arrêtez de m'envoyer des messages",
        "je souhaite ne plus recevoir vos offres",
        "Désabonnez-moi svp",
        "ne plus recevoir",
    ],
    &[
        "Non voglio più ricevere messaggi",
        "Smettete di mandarmi messaggi",
        "Non scrivetemi più",
        "Toglietemi dalla vostra lista",
        "non voglio più ricevere",
    ],
];

const OBJ: [&str; 6] = [
    "messages",
    "these promotions",
    "your offers",
    "marketing messages",
    "texts",
    "ads",
];
const OBJ_ES: [&str; 4] = ["mensajes", "promociones", "ofertas", "publicidad"];
const OBJ_PT: [&str; 4] = ["mensagens", "promoções", "ofertas", "propaganda"];

const CHAT: [&[&str]; 8] = [
    &[
        "Hi, is the store open on Sunday?",
        "Thanks, got it 👍",
        "Do you have the {item} in blue?",
        "When will my order arrive?",
        "Can I pay on delivery?",
        "Great, see you tomorrow",
        "What is the price of the {item}?",
        "ok",
        "Yes please",
    ],
    &[
        "Hola, ¿tienen {item_es} en talla M?",
        "Gracias!",
        "¿Cuándo llega mi pedido?",
        "Perfecto, muchas gracias",
        "¿Hacen envíos a Monterrey?",
    ],
    &[
        "Oi, vocês têm {item_pt} em estoque?",
        "Obrigado!",
        "Quando chega meu pedido?",
        "Beleza, valeu",
        "Qual o horário de funcionamento?",
    ],
    &[
        "Halo kak, {item_id} masih ada?",
        "Terima kasih kak",
        "Kapan paket saya sampai?",
        "Oke siap",
        "Bisa COD?",
    ],
    &[
        "नमस्ते, मेरा ऑर्डर कब आएगा?",
        "धन्यवाद",
        "क्या यह नीले रंग में है?",
        "ok ji",
        "price kya hai?",
    ],
    &[
        "Hallo, wann kommt meine Bestellung?",
        "Danke!",
        "Haben Sie das auch in Größe 42?",
        "Super, vielen Dank",
        "Kann ich per Rechnung zahlen?",
    ],
    &[
        "Bonjour, ma commande arrive quand ?",
        "Merci beaucoup",
        "Vous avez la taille 38 ?",
        "Parfait, merci",
        "Je peux payer à la livraison ?",
    ],
    &[
        "Ciao, quando arriva il mio ordine?",
        "Grazie mille",
        "Avete la taglia 40?",
        "Perfetto",
        "Posso pagare alla consegna?",
    ],
];

const HARD: [&[&str]; 8] = [
    &[
        "Can I stop by the store to pick up my order?",
        "Please don't stop the subscription",
        "can you stop the delivery until Monday?",
        "where is the bus stop near your shop?",
        "I want to cancel my order",
        "Stop sending the parcel to my old address",
        "What time do you stop serving lunch?",
        "Don't stop sending me offers, I love them",
        "I can't stop smiling, love the {item}!",
        "Please cancel the reservation for Friday",
    ],
    &[
        "Quiero cancelar mi pedido",
        "no quiero recibir el pedido hoy, mejor mañana",
        "¿A qué hora paran los autobuses?",
        "voy a salir de casa a las 5",
        "No dejen de enviarme ofertas, me encantan",
        "Basta con que llegue el lunes",
    ],
    &[
        "vou sair de casa agora",
        "o motoboy vai parar no semáforo",
        "Quero cancelar meu pedido",
        "não quero mais receber o pedido, pode cancelar",
        "Chega amanhã?",
        "Não parem de enviar promoções, adoro",
    ],
    &[
        "bus berhenti di halte mana?",
        "jangan kirim paketnya hari ini ya",
        "saya mau keluar sebentar",
        "jangan berhenti kasih promo ya kak",
        "tolong kirim lagi fotonya",
    ],
    &[
        "लाइट बंद करो",
        "गाड़ी यहाँ रोकें",
        "दुकान कब बंद होती है?",
        "AC band karo",
        "ऑर्डर की डिलीवरी रोक दो सोमवार तक",
    ],
    &[
        "stopp die Lieferung nicht",
        "Können Sie die Lieferung bis Montag stoppen?",
        "Wo ist die nächste Haltestelle?",
        "Ich habe keine Nachricht mehr von DHL bekommen",
        "Holen Sie mich bitte am Bahnhof ab",
    ],
    &[
        "l'arrêt de bus est où ?",
        "Je veux annuler ma commande",
        "arrêtez la livraison jusqu'à lundi",
        "N'arrêtez pas de m'envoyer des offres",
        "Il n'y a plus de stock ?",
    ],
    &[
        "Basta così, grazie",
        "Vorrei annullare l'ordine",
        "Dov'è la fermata dell'autobus?",
        "Non smettete di mandarmi offerte!",
        "Non fermate l'abbonamento",
    ],
];

const ITEMS: [&str; 5] = ["green mugs", "rain jacket", "tent", "boots", "linen shirt"];

/// Country calling code and a national-number generator per language.
fn number(lang: usize, i: u64) -> String {
    // Valid mobile ranges per country (the generated numbers are distinct).
    match lang {
        0 => format!("1512{:07}", 2_000_000 + i % 7_999_999),
        1 => format!("5255{:08}", 10_000_000 + i % 89_999_999),
        2 => format!("55119{:08}", 60_000_000 + i % 39_999_999),
        3 => format!("62812{:08}", 10_000_000 + i % 89_999_999),
        4 => format!("9198{:08}", 10_000_000 + i % 89_999_999),
        5 => format!("49151{:08}", 10_000_000 + i % 89_999_999),
        6 => format!("336{:08}", 10_000_000 + i % 89_999_999),
        _ => format!("39347{:07}", 1_000_000 + i % 8_999_999),
    }
}

fn fill(rng: &mut Rng, t: &str) -> String {
    t.replace("{obj}", rng.pick(&OBJ))
        .replace("{obj_es}", rng.pick(&OBJ_ES))
        .replace("{obj_pt}", rng.pick(&OBJ_PT))
        .replace("{item}", rng.pick(&ITEMS))
        .replace("{item_es}", "chaquetas")
        .replace("{item_pt}", "camisetas")
        .replace("{item_id}", "sepatu")
}

/// `(message JSON, is opt-out)`.
fn message(rng: &mut Rng, lang: usize) -> (serde_json::Value, bool) {
    use serde_json::json;
    if rng.chance(20) {
        // ~2% opt-outs: 45% keyword, 40% request, 15% button.
        let r = rng.below(100);
        if r < 45 {
            let kw = rng.pick(KEYWORDS[lang]);
            let mut s = format!("{}{}{}", rng.pick(PRE[lang]), kw, rng.pick(POST[lang]));
            if rng.chance(200) {
                s = s.to_uppercase();
            }
            return (json!({"type": "text", "text": {"body": s}}), true);
        }
        if r < 85 {
            let t = rng.pick(REQUESTS[lang]);
            let s = fill(rng, t);
            return (json!({"type": "text", "text": {"body": s}}), true);
        }
        let (payload, title) = *[
            ("STOP_MARKETING", "Stop promotions"),
            ("STOP_PROMOTIONS", "No quiero promociones"),
            ("OPT_OUT", "Parar promoções"),
            ("UNSUBSCRIBE", "Unsubscribe"),
        ]
        .get(rng.below(4))
        .unwrap_or(&("STOP", "Stop"));
        if rng.chance(500) {
            return (
                json!({"type": "button", "button": {"payload": payload, "text": title}}),
                true,
            );
        }
        return (
            json!({"type": "interactive", "interactive": {"type": "button_reply",
                   "button_reply": {"id": payload.to_ascii_lowercase(), "title": title}}}),
            true,
        );
    }
    let r = rng.below(100);
    if r < 33 {
        let t = rng.pick(HARD[lang]);
        let s = fill(rng, t);
        (json!({"type": "text", "text": {"body": s}}), false)
    } else if r < 40 {
        let (payload, title) = *[
            ("TRACK_ORDER", "Track my order"),
            ("VER_OFERTAS", "Ver ofertas"),
            ("YES", "Yes"),
            ("stop_delivery", "Pause delivery"),
        ]
        .get(rng.below(4))
        .unwrap_or(&("YES", "Yes"));
        (
            json!({"type": "button", "button": {"payload": payload, "text": title}}),
            false,
        )
    } else {
        let t = rng.pick(CHAT[lang]);
        let s = fill(rng, t);
        (json!({"type": "text", "text": {"body": s}}), false)
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = args
        .first()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(42);
    let dir = std::path::PathBuf::from(args.get(2).map_or("/tmp/inbound-1m", String::as_str));
    std::fs::create_dir_all(&dir)?;
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut inbound = std::io::BufWriter::new(std::fs::File::create(dir.join("inbound.jsonl"))?);
    let mut ledger =
        std::io::BufWriter::new(std::fs::File::create(dir.join("consent_ledger.csv"))?);
    let mut labels = std::io::BufWriter::new(std::fs::File::create(dir.join("labels.csv"))?);
    writeln!(ledger, "phone,event,timestamp,source")?;
    writeln!(labels, "phone,optout")?;
    // Language mix: en 30%, es 18%, pt 18%, id 10%, hi 10%, de 5%, fr 5%, it 4%.
    let weights = [30, 18, 18, 10, 10, 5, 5, 4];
    let mut positives = 0u64;
    for i in 0..n {
        let mut r = rng.below(100);
        let mut lang = 0;
        for (l, w) in weights.iter().enumerate() {
            if r < *w {
                lang = l;
                break;
            }
            r -= w;
        }
        let from = number(lang, i);
        let (mut msg, optout) = message(&mut rng, lang);
        positives += u64::from(optout);
        let ts = 1_763_000_000 + i;
        if let Some(o) = msg.as_object_mut() {
            o.insert("from".into(), from.clone().into());
            o.insert(
                "id".into(),
                format!("wamid.HBgL{from}FQIAEhgUM0E{:016X}", rng.next()).into(),
            );
            o.insert("timestamp".into(), ts.to_string().into());
        }
        let env = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "104729331820556", "changes": [{"value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "14155550134", "phone_number_id": "109283746501928"},
                "contacts": [{"profile": {"name": "Customer"}, "wa_id": from}],
                "messages": [msg]}, "field": "messages"}]}]});
        serde_json::to_writer(&mut inbound, &env)?;
        inbound.write_all(b"\n")?;
        writeln!(ledger, "+{from},opt_in,2025-06-01T10:00:00Z,checkout")?;
        writeln!(labels, "+{from},{}", u8::from(optout))?;
    }
    inbound.flush()?;
    ledger.flush()?;
    labels.flush()?;
    eprintln!(
        "wrote {n} messages ({positives} opt-outs) to {}",
        dir.display()
    );
    Ok(())
}
