//! Property tests for the LLM output parser: it never panics, every line of every
//! response lands in exactly one of rows / rejects / skipped, and the clean rows keep
//! their promises (labels ±1, one +1 and one -1 per question, no train/test leakage).

use std::collections::BTreeMap;

use proptest::prelude::*;
use qa_pipe::llm::parse::{lines, parse_responses, ParseOptions, ParseOutcome, RawResponse};
use qa_pipe::llm::split::{question_key, SplitMode};

/// One line the way a small model might write it.
fn messy_line() -> impl Strategy<Value = String> {
    let question = prop::sample::select(vec![
        "Ay kaç günde döner?",
        "ay kaç  günde döner ?",
        "Peki, ROC nedir?",
        "F1 skoru nedir?",
        "Overfitting nedir",
        "\"Tırnaklı, soru?\"",
    ]);
    let answer = prop::sample::select(vec![
        "27,3",
        "365",
        "\"Harf, ikinci\"",
        "Kesinlik ve duyarlılık",
        "",
        " ",
        "x\u{fffd}y",
        "\"açık",
    ]);
    let label = prop::sample::select(vec![
        "+1",
        "1",
        "-1",
        " -1 ",
        "+ 1",
        "\u{2212}1",
        "2",
        "",
        "iyi",
        "-",
    ]);
    let marker = prop::sample::select(vec!["", "", "1. ", "- ", "* ", "• ", "10) "]);
    let row = (marker, question, answer, label).prop_map(|(m, q, a, l)| format!("{m}{q},{a},{l}"));
    let junk = prop::sample::select(vec![
        "<think>",
        "</think>",
        "<think>kısa</think>",
        "```csv",
        "```",
        "soru,cevap,etiket",
        "Test kümesi:",
        "Eğitim kümesi:",
        "# yorum",
        "İşte veriler:",
        "",
        "   ",
        "a;b;+1",
        "| a | b | -1 |",
        ",,",
        ",",
        "\"",
        "\"\"",
    ])
    .prop_map(str::to_string);
    prop_oneof![
        6 => row,
        3 => junk,
        1 => "[a-zçğıöşü ,\"?+\\-1<>/]{0,30}",
        1 => any::<String>(),
    ]
}

fn messy_response() -> impl Strategy<Value = (String, bool)> {
    (
        prop::collection::vec((messy_line(), prop::bool::ANY), 0..40),
        prop::bool::ANY,
        prop::bool::ANY,
    )
        .prop_map(|(ls, final_newline, truncated)| {
            let mut text = String::new();
            let n = ls.len();
            for (i, (l, crlf)) in ls.into_iter().enumerate() {
                text.push_str(&l);
                if i + 1 < n || final_newline {
                    text.push_str(if crlf { "\r\n" } else { "\n" });
                }
            }
            (text, truncated)
        })
}

fn split_mode() -> impl Strategy<Value = SplitMode> {
    prop_oneof![
        (0usize..30).prop_map(|train_rows| SplitMode::Layout { train_rows }),
        (0.0f64..=1.0, any::<u64>()).prop_map(|(test_fraction, seed)| SplitMode::Seeded {
            test_fraction,
            seed
        }),
    ]
}

fn check(responses: &[(String, bool)], out: &ParseOutcome) -> Result<(), TestCaseError> {
    // Every line accounted for exactly once, with its raw text.
    for (r, (text, _)) in responses.iter().enumerate() {
        let want: Vec<&str> = lines(text).collect();
        let mut got: Vec<(usize, Option<&str>)> = Vec::new();
        got.extend(
            out.rows
                .iter()
                .filter(|x| x.response == r)
                .map(|x| (x.line, None)),
        );
        got.extend(
            out.rejects
                .iter()
                .filter(|x| x.response == r)
                .map(|x| (x.line, Some(x.raw.as_str()))),
        );
        got.extend(
            out.skipped
                .iter()
                .filter(|x| x.response == r)
                .map(|x| (x.line, Some(x.raw.as_str()))),
        );
        got.sort();
        let numbers: Vec<usize> = got.iter().map(|g| g.0).collect();
        prop_assert_eq!(
            numbers,
            (1..=want.len()).collect::<Vec<_>>(),
            "response {}",
            r
        );
        for (line, raw) in got {
            if let Some(raw) = raw {
                prop_assert_eq!(raw, want[line - 1]);
            }
        }
    }
    let total_lines: usize = responses.iter().map(|(t, _)| lines(t).count()).sum();
    prop_assert_eq!(
        out.rows.len() + out.rejects.len() + out.skipped.len(),
        total_lines
    );
    prop_assert_eq!(out.summary.lines, total_lines);

    // Clean rows: labels, one +1 and one -1 per question, all of a question on one side.
    let mut per_q: BTreeMap<String, Vec<(i8, _)>> = BTreeMap::new();
    for row in &out.rows {
        prop_assert!(row.etiket == 1 || row.etiket == -1);
        prop_assert!(!row.soru.trim().is_empty() && !row.cevap.trim().is_empty());
        per_q
            .entry(question_key(&row.soru))
            .or_default()
            .push((row.etiket, row.split));
    }
    for (q, answers) in &per_q {
        let mut labels: Vec<i8> = answers.iter().map(|a| a.0).collect();
        labels.sort();
        prop_assert_eq!(labels, vec![-1, 1], "question {:?}", q);
        prop_assert_eq!(
            answers[0].1,
            answers[1].1,
            "question {:?} split across train/test",
            q
        );
    }
    prop_assert!(out.summary.leaked.is_empty());
    prop_assert_eq!(
        out.summary.train_rows + out.summary.test_rows,
        out.rows.len()
    );
    prop_assert_eq!(
        out.summary.train_questions + out.summary.test_questions,
        per_q.len()
    );
    Ok(())
}

fn run(responses: &[(String, bool)], split: SplitMode) -> ParseOutcome {
    let raw: Vec<RawResponse<'_>> = responses
        .iter()
        .map(|(t, tr)| RawResponse {
            text: t,
            truncated: *tr,
        })
        .collect();
    parse_responses(&raw, &ParseOptions { split })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn messy_answers_are_fully_accounted_for(
        responses in prop::collection::vec(messy_response(), 1..4),
        split in split_mode(),
    ) {
        let out = run(&responses, split.clone());
        check(&responses, &out)?;
        // Same input, same output.
        prop_assert_eq!(out, run(&responses, split));
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>(), truncated in any::<bool>()) {
        let responses = vec![(text, truncated)];
        let out = run(&responses, SplitMode::default());
        check(&responses, &out)?;
    }
}
