//! Batching must not change the vectors: batch size, length sorting and thread count only
//! change speed, and rows come back in input order.

mod e5_support;

use qa_pipe::embed::E5Options;

fn texts() -> Vec<String> {
    let raw = std::fs::read_to_string(e5_support::fixtures().join("parity.json")).unwrap();
    let fx: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let mut t: Vec<String> = fx["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_string())
        .collect();
    for i in 0..12 {
        t.push(format!(
            "query: {i}. soru: Işığın hızı saniyede kaç kilometredir{}?",
            "?".repeat(i)
        ));
        t.push(format!(
            "passage: Cevap {i}: yaklaşık {} kilometre.",
            300_000 - i
        ));
    }
    t
}

#[test]
fn batch_size_does_not_change_vectors() {
    let Some(model) = e5_support::shared_e5_small() else {
        return;
    };
    let t = texts();
    let b1 = model.embed(&t, 1).unwrap();
    let b7 = model.embed(&t, 7).unwrap();
    let b64 = model.embed(&t, 64).unwrap();
    let (d7, d64) = (
        e5_support::max_abs_diff(&b1, &b7),
        e5_support::max_abs_diff(&b1, &b64),
    );
    eprintln!("max |diff| batch 1 vs 7: {d7:e}, vs 64: {d64:e}");
    assert!(d7 <= 1e-5 && d64 <= 1e-5, "batch 7: {d7}, batch 64: {d64}");
}

#[test]
fn length_sorting_and_threads_do_not_change_vectors() {
    let Some(sorted) = e5_support::shared_e5_small() else {
        return;
    };
    let t = texts();
    let a = sorted.embed(&t, 8).unwrap();
    let plain = e5_support::load_e5_small(E5Options {
        sort_by_length: false,
        threads: 1,
        ..e5_support::options()
    })
    .unwrap();
    let b = plain.embed(&t, 8).unwrap();
    let d = e5_support::max_abs_diff(&a, &b);
    eprintln!("max |diff| sorted/2 threads vs unsorted/1 thread: {d:e}");
    assert!(d <= 1e-5, "{d}");
}

#[test]
fn rows_come_back_in_input_order() {
    let Some(model) = e5_support::shared_e5_small() else {
        return;
    };
    let t = texts();
    let all = model.embed(&t, 16).unwrap();
    for (i, text) in t.iter().enumerate().step_by(5) {
        let one = model.embed(std::slice::from_ref(text), 1).unwrap();
        let cos = e5_support::cosine(
            one.row(0).as_slice().unwrap(),
            all.row(i).as_slice().unwrap(),
        );
        assert!(
            cos > 0.99999,
            "row {i} ({text:?}) is not its own vector: cosine {cos}"
        );
    }
    // Different texts give clearly different vectors, so the check above can fail.
    let cross = e5_support::cosine(
        all.row(0).as_slice().unwrap(),
        all.row(1).as_slice().unwrap(),
    );
    assert!(cross < 0.99, "{cross}");
}

#[test]
fn no_texts_give_an_empty_matrix() {
    let Some(model) = e5_support::shared_e5_small() else {
        return;
    };
    let none: [&str; 0] = [];
    assert_eq!(model.embed(&none, 8).unwrap().dim(), (0, 384));
}
