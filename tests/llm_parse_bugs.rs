//! Regression tests for issue 12's "wrong clean rows": lines of real small-model answers
//! that the parser turned into rows it should not have (or lost rows it should have kept).
//! Each test is named after its bug and failed on the code before the fix.

use qa_pipe::llm::parse::{parse_responses, ParseOptions, ParseOutcome, RawResponse};
use qa_pipe::llm::split::{question_key, SplitMode};
use qa_pipe::stages::qa_table::normalize_question;

fn parse(text: &str) -> ParseOutcome {
    let opts = ParseOptions {
        split: SplitMode::Layout { train_rows: 1000 },
    };
    parse_responses(
        &[RawResponse {
            text,
            truncated: false,
        }],
        &opts,
    )
}

fn rows(out: &ParseOutcome) -> Vec<(String, String, i8)> {
    out.rows
        .iter()
        .map(|r| (r.soru.clone(), r.cevap.clone(), r.etiket))
        .collect()
}

fn codes(out: &ParseOutcome) -> Vec<(usize, &'static str)> {
    out.rejects
        .iter()
        .map(|r| (r.line, r.reason.code()))
        .collect()
}

/// Issue 12, item 1: `…neresidir?","Ankara",+1` lost its opening quote; it was accepted
/// with a stray `"` in the question, and the stray quote defeated duplicate detection.
#[test]
fn i12_1_missing_opening_quote_is_rejected_not_kept_with_a_stray_quote() {
    let out = parse(
        "Türkiye'nin başkenti neresidir?\",\"Ankara\",+1\n\
         Türkiye'nin başkenti neresidir?,Ankara,+1\n\
         Türkiye'nin başkenti neresidir?,İzmir,-1\n",
    );
    assert!(
        out.rows.iter().all(|r| !r.soru.contains('"')),
        "{:?}",
        rows(&out)
    );
    assert_eq!(codes(&out), [(1, "stray_quote")]);
    assert_eq!(out.rows.len(), 2);
    // Quotes in pairs inside an unquoted field stay literal, as before.
    let out = parse("Hangi gezegen \"Kızıl Gezegen\" olarak bilinir?,Mars,+1\nHangi gezegen \"Kızıl Gezegen\" olarak bilinir?,Venüs,-1\n");
    assert_eq!(out.rows.len(), 2, "{:?}", out.rejects);
}

/// Issue 12, item 2: Turkish ordinals were stripped as list markers (`2. Dünya Savaşı
/// hangi yıl sona erdi?` became `Dünya Savaşı hangi yıl sona erdi?`).
#[test]
fn i12_2_turkish_ordinals_are_not_list_markers() {
    let text = "2. Dünya Savaşı hangi yıl sona erdi?,1945,+1\n\
                2. Dünya Savaşı hangi yıl sona erdi?,1918,-1\n\
                19. yüzyılın en önemli icadı nedir?,Buhar makinesi,+1\n\
                19. yüzyılın en önemli icadı nedir?,Akıllı telefon,-1\n\
                3. Selim hangi ıslahatı yaptı?,Nizam-ı Cedit,+1\n\
                3. Selim hangi ıslahatı yaptı?,Tanzimat,-1\n";
    let out = parse(text);
    let questions: Vec<&str> = out.rows.iter().map(|r| r.soru.as_str()).collect();
    assert_eq!(
        questions,
        [
            "2. Dünya Savaşı hangi yıl sona erdi?",
            "2. Dünya Savaşı hangi yıl sona erdi?",
            "19. yüzyılın en önemli icadı nedir?",
            "19. yüzyılın en önemli icadı nedir?",
            "3. Selim hangi ıslahatı yaptı?",
            "3. Selim hangi ıslahatı yaptı?",
        ]
    );
    // A numbered list (the lines count up) still loses its markers, ordinals inside the
    // question included in the text after the marker.
    let listed = "1. 2. Dünya Savaşı hangi yıl sona erdi?,1945,+1\n\
                  2. 2. Dünya Savaşı hangi yıl sona erdi?,1918,-1\n\
                  3. Ay nedir?,Uydu,+1\n\
                  4. Ay nedir?,Gezegen,-1\n";
    let out = parse(listed);
    let questions: Vec<&str> = out.rows.iter().map(|r| r.soru.as_str()).collect();
    assert_eq!(
        questions,
        [
            "2. Dünya Savaşı hangi yıl sona erdi?",
            "2. Dünya Savaşı hangi yıl sona erdi?",
            "Ay nedir?",
            "Ay nedir?"
        ]
    );
    // A marker before a quoted field is a marker whatever the numbering.
    let out = parse("7. \"Ay, kaç günde döner?\",27,+1\n7. \"Ay, kaç günde döner?\",3,-1\n");
    assert_eq!(out.rows[0].soru, "Ay, kaç günde döner?");
}

/// Issue 12, item 3: questions were grouped with `to_lowercase`, so `IŞIK HIZI NEDİR?`
/// and `ışık hızı nedir?` were two questions (each then lacking its other label).
#[test]
fn i12_3_question_keys_fold_turkish_dotted_and_dotless_i() {
    assert_eq!(
        question_key("IŞIK HIZI NEDİR?"),
        question_key("ışık hızı nedir?")
    );
    assert_eq!(question_key("İSTANBUL NEREDE?"), "istanbul nerede");
    assert_ne!(question_key("KIR nedir?"), question_key("kir nedir?"));
    assert_eq!(
        normalize_question("IŞIK HIZI NEDİR?"),
        normalize_question("ışık hızı nedir?")
    );
    let out = parse("IŞIK HIZI NEDİR?,Saniyede 300 bin km,+1\nışık hızı nedir?,Saniyede 3 km,-1\n");
    assert_eq!(out.rows.len(), 2, "{:?}", out.rejects);
    assert!(out.rejects.is_empty());
}

/// Issue 12, item 4: JSON answers were rejected as "invalid label"; they are rows now, and
/// JSON that cannot be used is rejected with reason `json`.
#[test]
fn i12_4_json_answers_are_parsed_as_rows() {
    let text = "İşte veriler:\n```json\n[\n  {\"soru\": \"Ay nedir?\", \"cevap\": \"Dünya'nın uydusu\", \"etiket\": 1},\n  {\"soru\": \"Ay nedir?\", \"cevap\": \"Bir yıldız\", \"etiket\": -1},\n  {\"soru\": \"Su nedir?\", \"cevap\": \"H2O\", \"etiket\": \"+1\"},\n  {\"soru\": \"Su nedir?\", \"cevap\": \"Bir metal\", \"etiket\": \"kötü\"}\n]\n```\n";
    let out = parse(text);
    assert_eq!(
        rows(&out),
        [
            ("Ay nedir?".into(), "Dünya'nın uydusu".into(), 1),
            ("Ay nedir?".into(), "Bir yıldız".into(), -1),
        ]
    );
    // Su's -1 record has a bad label; its +1 record then lacks a partner.
    assert_eq!(codes(&out), [(6, "same_labels"), (7, "json")]);
    assert_eq!(
        out.rejects[1].reason.to_string(),
        "JSON answer: etiket \"kötü\" is not +1 or -1"
    );
    let lines = text.lines().count();
    assert_eq!(
        out.rows.len() + out.rejects.len() + out.skipped.len(),
        lines
    );

    // Cut off in the middle: nothing of it is used, every line says why.
    let out = parse("[{\"soru\": \"Ay nedir?\", \"cevap\": \"Uydu\", \"etiket\": 1},\n{\"soru\": \"Ay nedir?\", \"cev");
    assert!(out.rows.is_empty());
    assert_eq!(codes(&out), [(1, "json"), (2, "json")]);
}
