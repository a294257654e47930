//! t-SNE, PCA and trustworthiness against scikit-learn on a committed fixture
//! (tests/fixtures/tsne/blobs_250x50.json, made by make_fixture.py beside it with
//! scikit-learn 1.9.1).

use approx::assert_abs_diff_eq;
use ndarray::Array2;
use qa_pipe::ml::pca;
use qa_pipe::ml::tsne::{self, Method, TsneParams};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tsne/blobs_250x50.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture present"))
        .expect("fixture is JSON")
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).expect("matrix of numbers");
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).expect("rectangular")
}

fn num(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

#[test]
fn rust_trustworthiness_equals_sklearn_on_sklearn_embeddings() {
    let f = fixture();
    let x = matrix(&f["x"]);
    for method in ["exact", "barnes_hut"] {
        let y = matrix(&f[method]["embedding"]);
        for k in [5, 10] {
            let ours = tsne::trustworthiness(x.view(), y.view(), k).unwrap();
            let theirs = num(&f[method][format!("trustworthiness_{k}")]);
            assert_abs_diff_eq!(ours, theirs, epsilon = 1e-12);
        }
    }
}

#[test]
fn pca_matches_sklearn() {
    let f = fixture();
    let x = matrix(&f["x"]);
    let p = pca::fit_transform(x.view(), 10).unwrap();
    let var: Vec<f64> = serde_json::from_value(f["pca_explained_variance"].clone()).unwrap();
    for (a, b) in p.explained_variance.iter().zip(&var) {
        assert_abs_diff_eq!(a, b, epsilon = 1e-9 * b);
    }
    let comps = matrix(&f["pca_components"]);
    for (a, b) in p.components.iter().zip(comps.iter()) {
        assert_abs_diff_eq!(a, b, epsilon = 1e-8);
    }
    let scores2 = matrix(&f["pca2_scores"]);
    let p2 = pca::fit_transform(x.view(), 2).unwrap();
    for (a, b) in p2.scores.iter().zip(scores2.iter()) {
        assert_abs_diff_eq!(a, b, epsilon = 1e-8 * (1.0 + b.abs()));
    }
}

/// KL within 10 % of sklearn's and trustworthiness no more than 0.02 below, for the
/// exact and the Barnes-Hut gradient, sklearn's default parameters on both sides.
#[test]
fn tsne_quality_matches_sklearn() {
    let f = fixture();
    let x = matrix(&f["x"]);
    for (name, method) in [("exact", Method::Exact), ("barnes_hut", Method::BarnesHut)] {
        let params = TsneParams {
            perplexity: num(&f["perplexity"]),
            method,
            ..TsneParams::default()
        };
        let r = tsne::fit(x.view(), &params).unwrap();
        let sk = &f[name];
        assert_eq!(r.learning_rate, num(&sk["learning_rate"]));
        let sk_kl = num(&sk["kl_divergence"]);
        let rel = (r.kl_divergence - sk_kl).abs() / sk_kl;
        eprintln!(
            "{name}: KL rust {:.5} sklearn {sk_kl:.5} (rel diff {rel:.4})",
            r.kl_divergence
        );
        assert!(
            rel <= 0.10,
            "{name}: KL {} vs sklearn {sk_kl}",
            r.kl_divergence
        );
        for k in [5, 10] {
            let ours = tsne::trustworthiness(x.view(), r.embedding.view(), k).unwrap();
            let theirs = num(&sk[format!("trustworthiness_{k}")]);
            eprintln!("{name}: trustworthiness@{k} rust {ours:.5} sklearn {theirs:.5}");
            assert!(
                ours >= theirs - 0.02,
                "{name}: trustworthiness@{k} {ours} vs sklearn {theirs}"
            );
        }
    }
}
