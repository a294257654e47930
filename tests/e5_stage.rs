//! The `e5` stage through the real binary: the same feature table shape as `tfidf`, both
//! pair layouts cached side by side, a second run computing nothing, and a missing model
//! failing at the `model` param with the fix and nothing cached.

mod common;
mod e5_support;

use std::path::Path;

use common::{statuses, Project};
use qa_pipe::stages::features::{self, Features};

fn pipeline(model: &Path) -> String {
    format!(
        "\
stages:
  data:
    kind: ingest_csv
    params: {{train: data/train.csv, test: data/test.csv}}
  tfidf:
    use: tfidf
    inputs: [data]
  e5:
    use: e5
    inputs: [data]
  e5_rich:
    use: e5
    inputs: [data]
    params: {{features: qa_prod_diff}}
  e5_again:
    kind: e5
    inputs: [data]
    params: {{model: {m}, batch_size: 1, threads: 1}}
",
        m = model.display()
    )
}

fn project(model: &Path) -> Project {
    let p = Project::new();
    let preset = std::fs::read_to_string(e5_support::root().join("stages/e5.yaml")).unwrap();
    p.write(
        "stages/e5.yaml",
        &preset.replace("models/multilingual-e5-small", &model.display().to_string()),
    );
    p.write("pipelines/p.yaml", &pipeline(model));
    p
}

fn features_of(p: &Project, stage: &str, table: &str) -> Features {
    features::from_batch(&p.table("pipelines/p.yaml", stage, table)).unwrap()
}

fn norm(v: ndarray::ArrayView1<'_, f64>) -> f64 {
    v.dot(&v).sqrt()
}

#[test]
fn e5_features_have_the_tfidf_table_shape_and_are_cached() {
    let Some(model) = e5_support::e5_small() else {
        return;
    };
    let p = project(&model);
    let (code, v) = p.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    let st = statuses(&v);
    assert!(
        st.iter()
            .filter(|(n, _)| n != "e5_again")
            .all(|(_, s)| s == "ran"),
        "{v}"
    );
    // Batch size, threads and how the model path is spelled are speed/location settings:
    // same key as `e5`, so its vectors are reused (tests/e5_batching.rs shows they agree).
    let key = |stage: &str| {
        v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == stage)
            .unwrap()["key"]
            .clone()
    };
    assert_eq!(key("e5_again"), key("e5"));
    assert!(st.contains(&("e5_again".into(), "cached".into())), "{v}");
    assert_ne!(key("e5_rich"), key("e5"));

    for table in ["train", "test"] {
        let t = features_of(&p, "tfidf", table);
        let e = features_of(&p, "e5", table);
        let r = features_of(&p, "e5_rich", table);
        assert_eq!(
            (e.y.clone(), e.groups.clone()),
            (t.y.clone(), t.groups.clone()),
            "{table}: labels and groups"
        );
        assert_eq!(e.x.dim(), (t.x.nrows(), 2 * 384 + 1));
        assert_eq!(r.x.dim(), (t.x.nrows(), 4 * 384 + 1));
        for (i, row) in e.x.outer_iter().enumerate() {
            assert!(
                (norm(row.slice(ndarray::s![..384])) - 1.0).abs() < 1e-5,
                "q part of row {i}"
            );
            assert!(
                (norm(row.slice(ndarray::s![384..768])) - 1.0).abs() < 1e-5,
                "a part of row {i}"
            );
            assert_eq!(row[768], 1.0);
            let rich = r.x.row(i);
            assert_eq!(
                rich.slice(ndarray::s![..768]),
                row.slice(ndarray::s![..768])
            );
            let (q, a) = (row[7], row[384 + 7]);
            assert!(
                (rich[768 + 7] - q * a).abs() < 1e-12
                    && (rich[1152 + 7] - (q - a).abs()).abs() < 1e-12
            );
            assert_eq!(rich[1536], 1.0);
        }
        // Rows 0 and 1 share their question (one +1 and one -1 answer): same q part,
        // different a part.
        assert_eq!(
            e.x.row(0).slice(ndarray::s![..384]),
            e.x.row(1).slice(ndarray::s![..384])
        );
        assert_ne!(
            e.x.row(0).slice(ndarray::s![384..768]),
            e.x.row(1).slice(ndarray::s![384..768])
        );
    }
    // Batch size and threads are speed settings, so `e5_again` shares `e5`'s key and its
    // artifact. That is only sound if computing it with those settings gives the same bytes:
    // compute it in a second, empty store and compare the two artifacts' tables.
    let q = Project::new();
    q.write(
        "pipelines/p.yaml",
        &format!(
            "stages:\n  data:\n    kind: ingest_csv\n    params: {{train: data/train.csv, test: data/test.csv}}\n  e5_again:\n    kind: e5\n    inputs: [data]\n    params: {{model: {m}, batch_size: 1, threads: 1}}\n",
            m = model.display()
        ),
    );
    let (code, w) = q.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0, "{w}");
    assert_eq!(common::status_of(&w, "e5_again"), "ran", "{w}");
    let tables = |pr: &Project, stage: &str| -> Vec<Vec<u8>> {
        let dir = pr.artifact_dir("pipelines/p.yaml", stage);
        ["train", "test"]
            .map(|t| std::fs::read(dir.join(format!("{t}.parquet"))).unwrap())
            .to_vec()
    };
    let again = w["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "e5_again")
        .unwrap()["key"]
        .clone();
    assert_eq!(again, key("e5"), "the same key, computed twice");
    assert!(
        tables(&p, "e5") == tables(&q, "e5_again"),
        "different bytes"
    );

    let before = p.objects();
    let (code, v) = p.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0);
    assert!(statuses(&v).iter().all(|(_, s)| s == "cached"), "{v}");
    assert_eq!(before, p.objects());
}

#[test]
fn missing_model_fails_at_the_param_and_caches_nothing() {
    let p = project(Path::new("/nonexistent/e5-model"));
    let r = p.run(&["run", "pipelines/p.yaml"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    for needle in [
        "/nonexistent/e5-model does not exist",
        "scripts/setup-models.sh",
        "e5.yaml",
    ] {
        assert!(
            r.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stderr
        );
    }
    assert!(
        p.objects().is_empty(),
        "something was cached: {:?}",
        p.objects().iter().map(|o| &o.0).collect::<Vec<_>>()
    );
}
