//! Batching must not change the vectors, not even by one bit: what else is embedded with a
//! text and the thread count only change speed, and rows come back in input order.

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

/// The texts above plus ones from zero words to past `max_length` (512 tokens), so
/// any padding or batch-mate effect would show.
fn mixed_lengths() -> Vec<String> {
    let mut t = texts();
    for n in [0usize, 1, 2, 3, 5, 9, 17, 33, 65, 129, 257, 600] {
        t.push(format!("passage: {}", "kelime ".repeat(n)));
    }
    t.push("a".into());
    t.push(String::new());
    t
}

fn bits(a: ndarray::ArrayView1<'_, f32>) -> Vec<u32> {
    a.iter().map(|x| x.to_bits()).collect()
}

/// Each vector, bit for bit, is the one its text gets embedded alone, in groups of 7 or
/// 64 texts, and with 1 or 2 ONNX Runtime threads: the same key can never hold different
/// bytes on different machines or Slurm nodes because of batching or threads.
#[test]
fn vectors_are_bit_identical_whatever_the_batch_and_threads() {
    let Some(model) = e5_support::shared_e5_small() else {
        return;
    };
    let t = mixed_lengths();
    let all = model.embed(&t).unwrap();
    let check = |what: &str, start: usize, got: &ndarray::Array2<f32>| {
        for (j, row) in got.outer_iter().enumerate() {
            let i = start + j;
            assert_eq!(
                bits(row),
                bits(all.row(i)),
                "{what}: text {i} ({} chars) differs",
                t[i].len()
            );
        }
    };
    for (i, text) in t.iter().enumerate() {
        check(
            "alone",
            i,
            &model.embed(std::slice::from_ref(text)).unwrap(),
        );
    }
    for size in [7, 64] {
        for (c, chunk) in t.chunks(size).enumerate() {
            check(
                &format!("groups of {size}"),
                c * size,
                &model.embed(chunk).unwrap(),
            );
        }
    }
    let one = e5_support::load_e5_small(E5Options {
        threads: 1,
        ..e5_support::options()
    })
    .unwrap();
    check("1 thread", 0, &one.embed(&t).unwrap());
}

#[test]
fn rows_come_back_in_input_order() {
    let Some(model) = e5_support::shared_e5_small() else {
        return;
    };
    let t = texts();
    let all = model.embed(&t).unwrap();
    for (i, text) in t.iter().enumerate().step_by(5) {
        let one = model.embed(std::slice::from_ref(text)).unwrap();
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
    assert_eq!(model.embed(&none).unwrap().dim(), (0, 384));
}
