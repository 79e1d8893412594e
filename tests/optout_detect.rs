//! Opt-out detection on inbound replies: per language, at least 15 replies
//! that are opt-outs and 15 hard negatives (stop/cancel/leave words that are
//! not opt-outs), each run through the whole detector — every language's
//! patterns at once, as inbound replies carry no language.

use wabaguard::collect::optout::{Detector, RULE_BUTTON};
use wabaguard::rulepack::{RuleKind, RulePack};

fn check(lang: &str, positives: &[&str], negatives: &[&str]) {
    assert!(
        positives.len() >= 15,
        "{lang}: {} positives",
        positives.len()
    );
    assert!(
        negatives.len() >= 15,
        "{lang}: {} negatives",
        negatives.len()
    );
    let pack = RulePack::builtin().unwrap();
    let det = Detector::new(&pack, &[]);
    let mut wrong = Vec::new();
    for p in positives {
        if det.text(p).is_none() {
            wrong.push(format!("missed opt-out {p:?}"));
        }
    }
    for n in negatives {
        if let Some(d) = det.text(n) {
            wrong.push(format!(
                "false opt-out {n:?} (rule {}, matched {:?})",
                d.rule, d.evidence
            ));
        }
    }
    assert!(wrong.is_empty(), "{lang}:\n{}", wrong.join("\n"));
}

#[test]
fn english() {
    check(
        "en",
        &[
            "STOP",
            "stop",
            "Stop!!!",
            "STOP 🛑",
            "Please stop",
            "stop please",
            "UNSUBSCRIBE",
            "Unsubscribe me",
            "OPT OUT",
            "Please stop sending me messages",
            "stop messaging me",
            "How do I unsubscribe?",
            "Remove me from your mailing list",
            "Don't text me again",
            "I don't want to receive your promotions",
            "No more messages please",
            "take me off your list",
            "Stop the spam!",
            "cancel",
            "Opt me out please",
        ],
        &[
            "stop by the store",
            "Can I stop by the store tomorrow?",
            "don't stop the subscription",
            "Please don't stop the subscription, I love it",
            "can you stop the delivery until Monday",
            "where is the bus stop",
            "cancel my order",
            "I want to cancel my order #4821",
            "Stop sending the parcel to my old address",
            "I can't stop smiling, the shoes are perfect",
            "What time do you stop serving breakfast?",
            "Don't stop sending me offers, I love them",
            "I accidentally clicked unsubscribe, please keep me subscribed",
            "I got no messages about my order",
            "Please remove the item from my cart",
            "The end of the month works for me",
            "Is the nonstop flight included?",
        ],
    );
}

#[test]
fn spanish() {
    check(
        "es",
        &[
            "BAJA",
            "Baja por favor",
            "PARAR",
            "cancelar",
            "SALIR",
            "¡Basta!",
            "STOP",
            "No quiero recibir más mensajes",
            "ya no quiero recibir sus promociones",
            "no quiero recibir más",
            "Dejen de enviarme mensajes por favor",
            "No me envíen más mensajes",
            "Quiero darme de baja",
            "Sáquenme de la lista",
            "Eliminen mi número de su lista",
            "no más mensajes",
            "basta de publicidad",
        ],
        &[
            "Quiero cancelar mi pedido",
            "¿Puedo cancelar la reserva del sábado?",
            "no quiero recibir el pedido hoy, mejor mañana",
            "¿A qué hora paran los autobuses?",
            "voy a salir de casa a las 5",
            "¿Dónde está la parada del autobús?",
            "No dejen de enviarme ofertas, me encantan",
            "¿me pueden enviar más información del producto?",
            "Quiero dar de baja mi línea de internet",
            "¿El precio baja en enero?",
            "Basta con que me lo envíen el lunes",
            "no me llegó ningún mensaje de confirmación",
            "Salir a las 8 está bien",
            "para el martes por favor",
            "El repartidor no para de llamarme, ¿dónde está mi paquete?",
        ],
    );
}

#[test]
fn portuguese() {
    check(
        "pt",
        &[
            "SAIR",
            "Sair.",
            "PARAR",
            "Parar por favor",
            "CANCELAR",
            "Descadastrar",
            "Chega!",
            "não quero mais receber",
            "Não quero mais receber mensagens",
            "nao quero receber mais promoções",
            "Parem de me mandar mensagens",
            "para de me enviar mensagem por favor",
            "Não me mandem mais nada",
            "Quero me descadastrar",
            "me tira dessa lista",
            "Remova meu número da lista",
            "chega de mensagens",
        ],
        &[
            "sair de casa",
            "vou sair de casa agora",
            "parar no semáforo",
            "o ônibus vai parar no semáforo",
            "Quero cancelar meu pedido",
            "Posso cancelar a entrega de amanhã?",
            "não quero mais receber o pedido, pode cancelar",
            "Não parem de enviar promoções, adoro",
            "Pode me mandar mais fotos?",
            "preciso sair mais cedo hoje",
            "A entrega vai parar onde?",
            "Sair às 18h está ótimo",
            "Chega amanhã?",
            "Não recebi a mensagem de confirmação",
            "quero receber mais informações do produto",
        ],
    );
}

#[test]
fn indonesian() {
    check(
        "id",
        &[
            "BERHENTI",
            "berhenti ya",
            "Stop dong",
            "UNREG",
            "Berhenti berlangganan",
            "jangan kirim lagi",
            "Jangan kirim pesan lagi ya",
            "tolong berhenti kirim pesan",
            "stop kirim promo",
            "hentikan semua promosi",
            "Saya tidak mau terima pesan promo",
            "hapus nomor saya dari daftar",
            "mau berhenti berlangganan",
            "jangan spam saya lagi",
            "aku gak mau dapat iklan lagi",
        ],
        &[
            "bus berhenti di halte mana?",
            "jangan kirim paketnya hari ini ya",
            "saya mau keluar sebentar",
            "Tolong kirim lagi fotonya",
            "jangan berhenti kasih promo ya kak",
            "paket saya berhenti di gudang",
            "hapus pesanan saya yang kemarin",
            "saya mau keluar kota besok",
            "cukup satu saja kak",
            "kapan kurirnya berhenti di rumah saya?",
            "jangan kirim ke alamat lama ya",
            "saya mau batalkan pesanan",
            "Stok masih ada? Saya mau pesan lagi",
            "tolong kirim invoice lagi",
            "hujan sudah berhenti, kurir bisa datang",
        ],
    );
}

#[test]
fn hindi() {
    check(
        "hi",
        &[
            "रोकें",
            "बंद करो",
            "कृपया बंद करें",
            "बंद कर दो प्लीज़",
            "STOP",
            "band karo",
            "रोक दो",
            "अनसब्सक्राइब",
            "मुझे मैसेज मत भेजो",
            "संदेश भेजना बंद करें",
            "मुझे और मैसेज नहीं चाहिए",
            "मेरा नंबर लिस्ट से हटा दो",
            "message mat bhejo",
            "msg bhejna band karo",
            "mujhe koi message nahi chahiye",
            "विज्ञापन नहीं चाहिए",
        ],
        &[
            "लाइट बंद करो",
            "गाड़ी यहाँ रोकें",
            "AC band karo",
            "दुकान कब बंद होती है?",
            "मेरा ऑर्डर रद्द करें",
            "ऑर्डर की डिलीवरी रोक दो सोमवार तक",
            "मुझे और जानकारी चाहिए",
            "दरवाज़ा बंद करें",
            "पंखा बंद कर दो",
            "कल दुकान बंद रहेगी क्या?",
            "bus yahan roko",
            "order cancel karna hai",
            "mujhe aur photos chahiye",
            "मुझे नया कैटलॉग भेजो",
            "बारिश रुकने के बाद डिलीवरी करें",
        ],
    );
}

#[test]
fn german() {
    check(
        "de",
        &[
            "STOPP",
            "Stopp!",
            "stop bitte",
            "ABMELDEN",
            "Bitte abmelden",
            "abbestellen",
            "Keine Nachrichten mehr",
            "bitte keine Werbung mehr",
            "Ich möchte keine Nachrichten mehr erhalten",
            "Hören Sie auf, mir zu schreiben",
            "Bitte schreiben Sie mir nicht mehr",
            "Melden Sie mich bitte ab",
            "Ich möchte mich abmelden",
            "Löschen Sie bitte meine Nummer",
            "Nehmen Sie mich aus Ihrer Liste",
            "Newsletter abbestellen",
        ],
        &[
            "stopp die Lieferung nicht",
            "Können Sie die Lieferung bis Montag stoppen?",
            "Wo ist die nächste Haltestelle?",
            "Ich möchte meine Bestellung stornieren",
            "Ich habe keine Nachricht mehr von DHL bekommen",
            "Bitte schicken Sie mir die Rechnung",
            "Mein Paket kam nicht mehr an",
            "Holen Sie mich bitte am Bahnhof ab",
            "Der Bus hält an der Haltestelle",
            "Bitte die Bestellung stornieren",
            "Können Sie das Abo pausieren?",
            "Ich habe die Werbung gesehen und möchte bestellen",
            "Hören Sie, das Paket ist beschädigt",
            "Bitte nicht abmelden, ich will weiter Angebote",
            "Wann hört der Regen auf?",
        ],
    );
}

#[test]
fn french() {
    check(
        "fr",
        &[
            "STOP",
            "Arrêt",
            "ARRET",
            "désabonner",
            "DÉSABONNER",
            "Désabonnement svp",
            "Je ne veux plus recevoir de messages",
            "ne plus recevoir",
            "Je souhaite ne plus recevoir vos offres",
            "Arrêtez de m'envoyer des messages",
            "Stoppez les publicités",
            "Je veux me désabonner",
            "Désabonnez-moi svp",
            "retirez-moi de la liste",
            "Supprimez mon numéro",
            "plus de messages svp",
            "Ne m'envoyez plus rien",
        ],
        &[
            "l'arrêt de bus est où ?",
            "Je veux annuler ma commande",
            "arrêtez la livraison jusqu'à lundi",
            "je ne veux plus recevoir ce colis abîmé, remboursez-moi",
            "N'arrêtez pas de m'envoyer des offres",
            "Pouvez-vous m'envoyer plus de photos ?",
            "Il n'y a plus de stock ?",
            "Je veux recevoir les notifications de livraison",
            "Le bus s'arrête devant le magasin ?",
            "J'ai reçu votre message, merci",
            "Je voudrais recevoir le catalogue",
            "Annulez ma réservation svp",
            "Arrêt de la livraison à quelle heure ?",
            "Plus de tailles disponibles ?",
            "Ne me désabonnez pas, j'adore vos offres",
        ],
    );
}

#[test]
fn italian() {
    check(
        "it",
        &[
            "STOP",
            "Basta!",
            "BASTA",
            "Disiscrivimi",
            "cancellami per favore",
            "Annulla iscrizione",
            "Non voglio più ricevere messaggi",
            "non voglio più ricevere",
            "Non desidero ricevere promozioni",
            "Smettete di mandarmi messaggi",
            "Non scrivetemi più",
            "Toglietemi dalla vostra lista",
            "Cancellate il mio numero",
            "Vorrei disiscrivermi",
            "basta con questi messaggi",
            "Fermate le promozioni",
        ],
        &[
            "Basta così, grazie",
            "Vorrei annullare l'ordine",
            "Dov'è la fermata dell'autobus?",
            "non voglio più ricevere il pacco in ritardo",
            "Non smettete di mandarmi offerte!",
            "Potete mandarmi più foto?",
            "Non fermate l'abbonamento",
            "basta così per l'ordine, grazie",
            "Il corriere si ferma sotto casa?",
            "Voglio ricevere il catalogo",
            "Posso cancellare la prenotazione?",
            "Basta che arrivi entro venerdì",
            "Mi scrivete quando arriva?",
            "Non ho ricevuto il messaggio di conferma",
            "Annulla l'ordine 4821 per favore",
        ],
    );
}

#[test]
fn buttons_payloads_and_titles() {
    let pack = RulePack::builtin().unwrap();
    let det = Detector::new(&pack, &["MY_CUSTOM_STOP".to_owned()]);
    assert_eq!(
        det.button(Some("stop_marketing"), Some("Sí"))
            .map(|d| d.rule),
        Some(RULE_BUTTON.to_owned())
    );
    assert!(det.button(Some(" my_custom_stop "), None).is_some());
    assert!(det.button(Some("btn_1"), Some("Stop promotions")).is_some());
    assert!(
        det.button(Some("btn_2"), Some("No quiero promociones"))
            .is_some()
    );
    assert!(det.button(Some("TRACK"), Some("Track my order")).is_none());
    assert!(det.button(Some("MY_CUSTOM"), Some("Ver ofertas")).is_none());
    // Without the extra payload, a custom one is not known.
    let plain = Detector::new(&pack, &[]);
    assert!(plain.button(Some("MY_CUSTOM_STOP"), Some("OK")).is_none());
}

#[test]
fn button_rule_examples_are_webhook_messages_and_pass() {
    let pack = RulePack::builtin().unwrap();
    let det = Detector::new(&pack, &[]);
    let rule = pack.rule(RULE_BUTTON).unwrap();
    assert_eq!(rule.def.kind, RuleKind::Builtin);
    assert!(!rule.def.examples.positive.is_empty() && !rule.def.examples.negative.is_empty());
    for ex in &rule.def.examples.positive {
        let d = det.message_json(ex).unwrap();
        assert_eq!(d.map(|d| d.rule), Some(RULE_BUTTON.to_owned()), "{ex}");
    }
    for ex in &rule.def.examples.negative {
        assert_eq!(det.message_json(ex).unwrap(), None, "{ex}");
    }
}

#[test]
fn disabling_a_rule_stops_its_detection() {
    let cfg = wabaguard::config::RulesConfig {
        extra_dirs: vec![],
        disable: vec!["optout.keyword".into(), RULE_BUTTON.into()],
        severity_overrides: Default::default(),
    };
    let pack = RulePack::load(&cfg, None, &[]).unwrap();
    let det = Detector::new(&pack, &[]);
    assert!(det.text("STOP").is_none());
    assert!(det.text("please stop sending me messages").is_some());
    assert!(det.button(Some("STOP_MARKETING"), Some("Stop")).is_none());
}
