//! `llm_judge` through the real binary against the fake server: grades parsed from the
//! answers, one cached request per distinct (question, answer), failures not cached, and
//! a scores table `evaluate` reads beside `train`'s.

mod common;
mod llm_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow::array::{Array, Float64Array};
use common::{statuses, strings, Project};
use llm_support::{json, FakeServer, Reply, Seen};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn ollama_answer(text: &str) -> Reply {
    let body = serde_json::json!({
        "model": "kaira", "message": {"role": "assistant", "content": text},
        "done": true, "done_reason": "stop"
    });
    json(200, body.to_string())
}

/// The judge's prompt holds the answer; grade by what the answer says.
fn grade(seen: &Seen) -> Reply {
    let prompt = seen.body["messages"][0]["content"].as_str().unwrap_or("");
    let answer = prompt.split("Cevap: ").nth(1).unwrap_or("");
    if answer.starts_with("Doğru") {
        ollama_answer("5")
    } else if answer.starts_with("Belki") {
        ollama_answer("bilmiyorum")
    } else {
        ollama_answer("Puan: 1")
    }
}

const TRAIN: &str = "soru,cevap,etiket\nA nedir?,Doğru A,+1\nA nedir?,Yanlış A,-1\nB nedir?,Doğru B,+1\nB nedir?,Yanlış B,-1\n";
const TEST: &str = "soru,cevap,etiket\nC nedir?,Doğru C,+1\nC nedir?,Yanlış C,-1\nD nedir?,Belki D,+1\nD nedir?,Yanlış D,-1\n";

fn project(base: &str, extra: &str) -> Project {
    let p = Project::new();
    for f in [
        "judge-tr.txt",
        "judge-score.gbnf",
        "judge-score.schema.json",
    ] {
        let text = std::fs::read_to_string(format!("{ROOT}/data/prompts/{f}")).unwrap();
        p.write(&format!("data/prompts/{f}"), &text);
    }
    p.write("data/train.csv", TRAIN);
    p.write("data/test.csv", TEST);
    p.write(
        "pipelines/j.yaml",
        &format!(
            "\
stages:
  data:
    kind: ingest_csv
    params: {{train: data/train.csv, test: data/test.csv}}
  tfidf:
    kind: tfidf
    inputs: {{data: data}}
  mlp:
    kind: train
    inputs: {{features: tfidf}}
    params: {{hidden: 2, optimizers: [gd], seeds: [1], epochs: 2, batch_size: 2}}
  judge:
    kind: llm_judge
    inputs: {{data: data}}
    params:
      base_url: {base}
      model: kaira
      temperature: 0.0
      seed: 7
      retries: 1
      backoff_secs: 0.01
{extra}
  compare:
    kind: evaluate
    inputs: {{runs: [mlp, judge]}}
"
        ),
    );
    p
}

fn floats(b: &arrow::array::RecordBatch, col: &str) -> Vec<Option<f64>> {
    let a = b
        .column_by_name(col)
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

#[test]
fn judge_scores_sit_beside_the_mlp_in_evaluate() {
    let srv = FakeServer::with(|_, seen| grade(seen));
    let p = project(&srv.base, "");
    let (code, v) = p.run_json(&["pipelines/j.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(srv.hits(), 4, "one request per test answer");
    let scores = p.table("pipelines/j.yaml", "judge", "scores");
    let mlp_scores = p.table("pipelines/j.yaml", "mlp", "scores");
    // train's shape: same columns, same types.
    assert_eq!(scores.schema(), mlp_scores.schema());
    assert_eq!(strings(&scores, "optimizer"), ["llm_judge"; 4]);
    assert_eq!(
        floats(&scores, "score"),
        [Some(1.0), Some(-1.0), Some(0.0), Some(-1.0)]
    );
    assert_eq!(
        floats(&scores, "label"),
        [Some(1.0), Some(-1.0), Some(1.0), Some(-1.0)]
    );
    let verdicts = p.table("pipelines/j.yaml", "judge", "verdicts");
    assert_eq!(
        strings(&verdicts, "text"),
        ["5", "Puan: 1", "bilmiyorum", "Puan: 1"]
    );
    let cmp = p.table("pipelines/j.yaml", "compare", "comparison");
    assert_eq!(strings(&cmp, "source"), ["mlp", "judge"]);
    assert_eq!(strings(&cmp, "optimizer"), ["gd", "llm_judge"]);
    // 3 of 4 right: the unreadable grade scores 0 and so predicts -1.
    assert_eq!(floats(&cmp, "accuracy_mean")[1], Some(0.75));

    // A rerun asks nothing. A changed input table asks again for every answer: a unit's
    // key covers the upstream stage's key (the engine's rule), not just its own texts.
    let (_, v) = p.run_json(&["pipelines/j.yaml"]);
    assert!(statuses(&v).iter().all(|(_, s)| s == "cached"), "{v}");
    assert_eq!(srv.hits(), 4);
    p.write(
        "data/test.csv",
        &format!("{TEST}E nedir?,Doğru E,+1\nE nedir?,Yanlış E,-1\n"),
    );
    let (code, v) = p.run_json(&["pipelines/j.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(srv.hits(), 4 + 6);
}

#[test]
fn a_failed_grade_is_not_cached_and_only_it_is_asked_again() {
    let healed = Arc::new(AtomicBool::new(false));
    let h = Arc::clone(&healed);
    let srv = FakeServer::with(move |_, seen| {
        let prompt = seen.body["messages"][0]["content"].as_str().unwrap_or("");
        if prompt.contains("Cevap: Belki D") && !h.load(Ordering::SeqCst) {
            json(500, "{\"error\":\"out of memory\"}".into())
        } else {
            grade(seen)
        }
    });
    let p = project(&srv.base, "      constrain: grammar");
    let r = p.run(&["run", "pipelines/j.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("returned HTTP 500"), "{}", r.stderr);
    let gbnf = std::fs::read_to_string(format!("{ROOT}/data/prompts/judge-score.gbnf")).unwrap();
    assert_eq!(srv.seen()[0].body["grammar"], gbnf.as_str());
    healed.store(true, Ordering::SeqCst);
    let before = srv.hits();
    let (code, v) = p.run_json(&["pipelines/j.yaml"]);
    assert_eq!(code, 0, "{v}");
    let answer = |s: &Seen| {
        let prompt = s.body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .to_string();
        prompt
            .split("Cevap: ")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    let again: Vec<String> = srv.seen()[before..].iter().map(answer).collect();
    assert!(again.contains(&"Belki D".to_string()), "{again:?}");
    // Every answer graded in the failed run stayed cached: none is asked twice, except
    // the failing one (2 attempts, then once more).
    let mut counts = std::collections::BTreeMap::new();
    for s in srv.seen() {
        *counts.entry(answer(&s)).or_insert(0) += 1;
    }
    for (a, n) in &counts {
        let want = if a == "Belki D" { 3 } else { 1 };
        assert_eq!(*n, want, "{a}: {counts:?}");
    }
    assert_eq!(counts.len(), 4);
}
