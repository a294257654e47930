//! Rust (ort + tokenizers) against Python onnxruntime + tokenizers on the same model:
//! tests/fixtures/e5/parity.json, made by scripts/e5/make_parity_fixture.py (command in
//! its docstring), holds the token ids and 384-d vectors for Turkish (İ/ı), punctuation,
//! odd whitespace, an empty text and a text past max_length.

mod e5_support;

use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    model_sha256: String,
    max_length: usize,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    ids: Vec<u32>,
    vector: Vec<f32>,
}

fn fixture() -> Fixture {
    let raw = std::fs::read_to_string(e5_support::fixtures().join("parity.json")).unwrap();
    serde_json::from_str(&raw).unwrap()
}

#[test]
fn token_ids_match_python_tokenizers() {
    let Some(model) = e5_support::shared_e5_small() else {
        return;
    };
    let fx = fixture();
    assert_eq!(model.options().max_length, fx.max_length);
    let texts: Vec<&str> = fx.items.iter().map(|i| i.text.as_str()).collect();
    let ids = model.token_ids(&texts).unwrap();
    for (got, item) in ids.iter().zip(&fx.items) {
        assert_eq!(got, &item.ids, "token ids differ for {:?}", item.text);
    }
    assert!(
        ids.iter().any(|i| i.len() == fx.max_length),
        "the long text must hit max_length"
    );
}

#[test]
fn vectors_match_python_onnxruntime() {
    let Some(model) = e5_support::shared_e5_small() else {
        return;
    };
    let fx = fixture();
    let texts: Vec<&str> = fx.items.iter().map(|i| i.text.as_str()).collect();
    let got = model.embed(&texts).unwrap();
    assert_eq!(got.dim(), (texts.len(), 384));
    let mut worst = f64::INFINITY;
    let mut max_diff = 0f32;
    for (row, item) in got.outer_iter().zip(&fx.items) {
        let cos = e5_support::cosine(row.as_slice().unwrap(), &item.vector);
        worst = worst.min(cos);
        max_diff = row
            .iter()
            .zip(&item.vector)
            .map(|(a, b)| (a - b).abs())
            .fold(max_diff, f32::max);
        assert!(
            cos >= 0.99999,
            "cosine {cos} < 0.99999 for {:?}; the fixture was made with model sha256 {}",
            item.text,
            fx.model_sha256
        );
        let norm = e5_support::cosine(row.as_slice().unwrap(), row.as_slice().unwrap());
        assert!((norm - 1.0).abs() < 1e-6);
    }
    eprintln!(
        "parity: min cosine {worst:.12}, max |diff| {max_diff:e} over {} texts",
        texts.len()
    );
}
