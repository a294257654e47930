//! The engine on a tiny hand-checkable graph (tests/fixtures/e5/tiny, made by
//! scripts/e5/make_test_graphs.py): last_hidden_state = [id, id^2, token_type + 1] per
//! token, so each pooled vector follows from the token ids by hand. Needs only the runtime.

mod e5_support;

use qa_pipe::embed::{E5Model, E5Options};

/// Expected vector from the ids ([CLS]=2 ... [SEP]=3): mean of [id, id^2, 1], L2-normalised.
fn expected(ids: &[u32]) -> [f32; 3] {
    let n = ids.len() as f64;
    let m = [
        ids.iter().map(|&i| f64::from(i)).sum::<f64>() / n,
        ids.iter().map(|&i| f64::from(i * i)).sum::<f64>() / n,
        1.0,
    ];
    let norm = m.iter().map(|x| x * x).sum::<f64>().sqrt();
    m.map(|x| (x / norm) as f32)
}

fn load(max_length: usize) -> Option<E5Model> {
    let ort_lib = e5_support::runtime()?;
    let opts = E5Options {
        ort_lib: Some(ort_lib),
        max_length,
        ..E5Options::default()
    };
    Some(E5Model::load(&e5_support::fixtures().join("tiny"), opts).unwrap())
}

#[test]
fn pools_over_real_tokens_only_and_feeds_token_type_ids() {
    let Some(model) = load(512) else { return };
    assert!(model.uses_token_type_ids());
    assert_eq!(model.dim(), 3);
    // Mixed lengths in one batch: "a" is padded with [PAD]=0 rows that must not count.
    let texts = ["a", "a b c d", "d d", "zzz"];
    let got = model.embed(&texts).unwrap();
    let want = [
        expected(&[2, 4, 3]),
        expected(&[2, 4, 5, 6, 7, 3]),
        expected(&[2, 7, 7, 3]),
        expected(&[2, 1, 3]),
    ];
    for (i, w) in want.iter().enumerate() {
        for (g, w) in got.row(i).iter().zip(w) {
            assert!(
                (g - w).abs() < 1e-6,
                "text {:?}: got {}, want {w:?}",
                texts[i],
                got.row(i)
            );
        }
    }
}

#[test]
fn truncates_at_max_length_keeping_special_tokens() {
    let Some(model) = load(4) else { return };
    let ids = model.token_ids(&["a b c d"]).unwrap();
    assert_eq!(ids, vec![vec![2, 4, 5, 3]]);
    let got = model.embed(&["a b c d"]).unwrap();
    let w = expected(&[2, 4, 5, 3]);
    assert!(
        got.row(0).iter().zip(&w).all(|(g, w)| (g - w).abs() < 1e-6),
        "{}",
        got.row(0)
    );
}

#[test]
fn every_text_gets_the_vector_it_gets_alone() {
    let Some(model) = load(512) else { return };
    let texts: Vec<String> = (0..23)
        .map(|i| {
            ["a", "b", "c", "d"]
                .iter()
                .cycle()
                .skip(i % 4)
                .take(1 + i % 6)
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let reference = model.embed(&texts).unwrap();
    for (i, t) in texts.iter().enumerate() {
        let alone = model.embed(std::slice::from_ref(t)).unwrap();
        assert_eq!(alone.row(0), reference.row(i), "text {i} alone");
    }
    let reversed: Vec<String> = texts.iter().rev().cloned().collect();
    let mut back = model.embed(&reversed).unwrap();
    back.invert_axis(ndarray::Axis(0));
    assert_eq!(back, reference, "input order");
    for (i, t) in texts.iter().enumerate() {
        let ids = &model.token_ids(std::slice::from_ref(t)).unwrap()[0];
        let w = expected(ids);
        assert!(
            reference
                .row(i)
                .iter()
                .zip(&w)
                .all(|(g, w)| (g - w).abs() < 1e-6),
            "row {i}"
        );
    }
}
