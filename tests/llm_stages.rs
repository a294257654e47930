//! `llm_generate` and `parse_llm` through the real binary, against the fake server:
//! caching per request, failures not cached, cut-off answers kept and flagged, the API
//! key kept out of artifacts, and parse output feeding `tfidf` like `ingest_csv` does.

mod common;
mod llm_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Int8Array, UInt64Array};
use common::{statuses, strings, Project};
use llm_support::{fixture, json, FakeServer, Reply, Seen};
use qa_pipe::llm::STUDY_TR_TEMPLATE;

fn ollama_answer(text: &str, done_reason: &str) -> Reply {
    let body = serde_json::json!({
        "model": "kaira", "created_at": "2024-07-22T20:33:00Z",
        "message": {"role": "assistant", "content": text},
        "done": true, "done_reason": done_reason, "prompt_eval_count": 50, "eval_count": 100
    });
    json(200, body.to_string())
}

fn pipeline(base: &str, extra: &str) -> String {
    format!(
        "\
stages:
  generate:
    kind: llm_generate
    params:
      base_url: {base}
      model: kaira
      questions: 20
      train_rows: 20
      test_rows: 20
      temperature: 0.5
      seed: 5
      requests: 2
      retries: 1
      backoff_secs: 0.01
      timeout_secs: 10
{extra}
  parse:
    kind: parse_llm
    inputs: {{responses: generate}}
  features:
    kind: tfidf
    inputs: {{data: parse}}
"
    )
}

fn project(base: &str, extra: &str) -> Project {
    let p = Project::new();
    p.write("data/prompts/study-tr.txt", STUDY_TR_TEMPLATE);
    p.write("pipelines/g.yaml", &pipeline(base, extra));
    p
}

fn table(p: &Project, stage: &str, name: &str) -> arrow::array::RecordBatch {
    p.table("pipelines/g.yaml", stage, name)
}

fn seeds(seen: &[Seen]) -> Vec<u64> {
    let mut s: Vec<u64> = seen
        .iter()
        .map(|x| x.body["options"]["seed"].as_u64().unwrap())
        .collect();
    s.sort();
    s
}

#[test]
fn generates_parses_and_never_asks_twice() {
    let study = fixture("study-raw-output.txt");
    let srv = FakeServer::start(vec![ollama_answer(&study, "stop")]);
    let p = project(&srv.base, "");
    let (code, v) = p.run_json(&["pipelines/g.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(statuses(&v).iter().all(|(_, s)| s == "ran"), "{v}");
    // Two requests, seeds 5 and 6, the rendered study prompt.
    assert_eq!(seeds(&srv.seen()), [5, 6]);
    let prompt = srv.seen()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(prompt.contains("- 20 farklı soru üret\n"), "{prompt}");
    assert!(srv.seen()[0].head.starts_with("POST /api/chat "));

    let responses = table(&p, "generate", "responses");
    assert_eq!(strings(&responses, "text"), [study.clone(), study.clone()]);
    // Both answers are the same text: the second one's rows are all duplicates. Of the
    // first, 4 questions have two +1 answers; the first 20 data lines are train.
    let train = table(&p, "parse", "train");
    let test = table(&p, "parse", "test");
    assert_eq!((train.num_rows(), test.num_rows()), (12, 20));
    assert_eq!(
        strings(&train, "question")[0],
        "İnsan vücudunda kaç tane kemik vardır?"
    );
    let labels = train
        .column_by_name("label")
        .unwrap()
        .as_any()
        .downcast_ref::<Int8Array>()
        .unwrap();
    assert_eq!((labels.value(0), labels.value(1)), (1, -1));
    let lines = train
        .column_by_name("line")
        .unwrap()
        .as_any()
        .downcast_ref::<UInt64Array>()
        .unwrap();
    assert_eq!((lines.value(0), lines.value(1)), (12, 13));
    let rejects = table(&p, "parse", "rejects");
    let codes = strings(&rejects, "code");
    let count = |c: &str| codes.iter().filter(|x| *x == c).count();
    assert_eq!(
        (count("same_labels"), count("duplicate"), count("prose")),
        (8, 40, 2)
    );
    // The features stage read the parsed tables like ingest_csv's.
    assert!(table(&p, "features", "train").num_rows() == 12);

    // A second run and a moved server: nothing is asked again.
    let (_, v) = p.run_json(&["pipelines/g.yaml"]);
    assert!(statuses(&v).iter().all(|(_, s)| s == "cached"), "{v}");
    let moved = FakeServer::start(vec![ollama_answer("x", "stop")]);
    p.write("pipelines/g.yaml", &pipeline(&moved.base, ""));
    let (_, v) = p.run_json(&["pipelines/g.yaml"]);
    assert!(statuses(&v).iter().all(|(_, s)| s == "cached"), "{v}");
    assert_eq!((srv.hits(), moved.hits()), (2, 0));

    // A sampling change asks again; so does --force.
    p.write(
        "pipelines/g.yaml",
        &pipeline(&srv.base, "").replace("temperature: 0.5", "temperature: 0.6"),
    );
    p.run(&["run", "pipelines/g.yaml"]).ok();
    assert_eq!(srv.hits(), 4);
    p.run(&["run", "pipelines/g.yaml", "--force", "generate"])
        .ok();
    assert_eq!(srv.hits(), 6);
}

#[test]
fn failed_requests_are_not_cached_and_only_they_are_retried() {
    let healed = Arc::new(AtomicBool::new(false));
    let h = Arc::clone(&healed);
    let srv = FakeServer::with(move |_, seen| {
        if seen.body["options"]["seed"] == 6 && !h.load(Ordering::SeqCst) {
            json(500, "{\"error\":\"out of memory\"}".into())
        } else {
            ollama_answer("A?,iyi,+1\nA?,kötü,-1\n", "stop")
        }
    });
    let p = project(&srv.base, "");
    let r = p.run(&["run", "pipelines/g.yaml"]);
    assert_ne!(r.code, 0);
    let want = format!(
        "LLM server at {}/api/chat returned HTTP 500: {{\"error\":\"out of memory\"}} (2 attempts)",
        srv.base
    );
    assert!(r.stderr.contains(&want), "{}", r.stderr);
    let first: BTreeMap<u64, usize> =
        seeds(&srv.seen())
            .into_iter()
            .fold(BTreeMap::new(), |mut m, s| {
                *m.entry(s).or_default() += 1;
                m
            });
    assert_eq!(first.get(&6), Some(&2), "{first:?}");

    healed.store(true, Ordering::SeqCst);
    let before = srv.hits();
    p.run(&["run", "pipelines/g.yaml"]).ok();
    // Only the failed request is asked again; seed 5 finished the first time and stayed.
    assert_eq!(seeds(&srv.seen()[before..]), [6]);
}

#[test]
fn cut_off_answer_is_kept_flagged_and_its_last_line_rejected() {
    let text = "A?,iyi,+1\nA?,kötü,-1\nB?,iyi,+1\nB?,kö";
    let srv = FakeServer::start(vec![ollama_answer(text, "length")]);
    let p = project(&srv.base, "      max_tokens: 30");
    let r = p.run(&["run", "pipelines/g.yaml"]).ok();
    assert!(
        r.stderr.contains(
            "request 0: the answer was cut off at max_tokens (30); kept, flagged truncated"
        ),
        "{}",
        r.stderr
    );
    let responses = table(&p, "generate", "responses");
    let t = responses
        .column_by_name("truncated")
        .unwrap()
        .as_any()
        .downcast_ref::<BooleanArray>()
        .unwrap();
    assert!(t.value(0) && t.value(1));
    assert_eq!(strings(&responses, "finish_reason"), ["length", "length"]);
    let rejects = table(&p, "parse", "rejects");
    let codes = strings(&rejects, "code");
    assert_eq!(
        codes.iter().filter(|c| *c == "truncated").count(),
        2,
        "{codes:?}"
    );
}

#[test]
fn api_key_never_reaches_artifacts_or_output() {
    let secret = "sk-test-d0-not-store";
    let srv = FakeServer::start(vec![ollama_answer("A?,iyi,+1\nA?,kötü,-1\n", "stop")]);
    let p = project(&srv.base, "      api_key_env: QA_PIPE_TEST_LLM_KEY");
    let out = p
        .cmd(&["run", "pipelines/g.yaml"])
        .env("QA_PIPE_TEST_LLM_KEY", secret)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(srv.seen()[0]
        .head
        .to_lowercase()
        .contains(&format!("authorization: bearer {secret}")));
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!shown.contains(secret));
    // Every file of the store, Parquet tables decoded (compression could hide the text).
    let mut files = vec![p.path("artifacts")];
    let mut checked = 0;
    while let Some(f) = files.pop() {
        if f.is_dir() {
            files.extend(std::fs::read_dir(&f).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = if f.extension().is_some_and(|e| e == "parquet") {
            qa_pipe::table::pretty(&qa_pipe::table::read_parquet(&f).unwrap()).unwrap()
        } else {
            String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned()
        };
        assert!(!text.contains(secret), "{} holds the key", f.display());
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} files in the store");
    // Without the variable, the stage says which variable to set.
    let r = p.run(&["run", "pipelines/g.yaml", "--force", "generate"]);
    assert!(
        r.stderr.contains(
            "environment variable QA_PIPE_TEST_LLM_KEY (named by `api_key_env`) is not set"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn template_errors_point_at_the_prompt_param() {
    let p = project("http://127.0.0.1:9", "");
    p.write("data/prompts/study-tr.txt", "Üret {train_row} satır\n");
    let r = p.run(&["run", "pipelines/g.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("unknown placeholder {train_row}"),
        "{}",
        r.stderr
    );
}

#[test]
fn seeded_split_by_question() {
    let srv = FakeServer::start(vec![ollama_answer(
        &fixture("study-raw-output.txt"),
        "stop",
    )]);
    let p = project(&srv.base, "");
    let yaml = pipeline(&srv.base, "").replace(
        "    inputs: {responses: generate}\n",
        "    inputs: {responses: generate}\n    params:\n      split: {mode: seeded, test_fraction: 0.25, seed: 3}\n",
    );
    p.write("pipelines/g.yaml", &yaml);
    p.run(&["run", "pipelines/g.yaml"]).ok();
    let (train, test) = (table(&p, "parse", "train"), table(&p, "parse", "test"));
    // 16 clean questions, a quarter of them in test.
    assert_eq!((train.num_rows(), test.num_rows()), (24, 8));
    let train_q = strings(&train, "question");
    assert!(strings(&test, "question")
        .iter()
        .all(|q| !train_q.contains(q)));

    p.write(
        "pipelines/g.yaml",
        &yaml.replace("test_fraction: 0.25", "test_fraction: 2"),
    );
    let r = p.run(&["run", "pipelines/g.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("must be between 0 and 1"), "{}", r.stderr);
}

/// Every file of the project's store as text, Parquet tables decoded.
fn store_text(p: &Project) -> Vec<(std::path::PathBuf, String)> {
    let mut files = vec![p.path("artifacts")];
    let mut out = Vec::new();
    while let Some(f) = files.pop() {
        if f.is_dir() {
            files.extend(std::fs::read_dir(&f).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = if f.extension().is_some_and(|e| e == "parquet") {
            qa_pipe::table::pretty(&qa_pipe::table::read_parquet(&f).unwrap()).unwrap()
        } else {
            String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned()
        };
        out.push((f, text));
    }
    out
}

/// Issue 12, item 5: when nothing parsed, the stage failed and the reasons per line were
/// lost (only a count per reason was shown).
#[test]
fn i12_5_when_nothing_parses_every_line_says_why() {
    let text = "İşte veriler:\nA?;B;+1\nS?,C,iyi\n";
    let srv = FakeServer::start(vec![ollama_answer(text, "stop")]);
    let p = project(&srv.base, "");
    let r = p.run(&["run", "pipelines/g.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for want in [
        "response 0 line 1: skipped (prose): prose: no comma, not a data row | İşte veriler:",
        "response 0 line 2: rejected (wrong_separator): fields separated by ; instead of commas | A?;B;+1",
        "response 0 line 3: rejected (invalid_label): invalid label 'iyi' (expected +1, 1 or -1) | S?,C,iyi",
        "response 1 line 3: rejected (invalid_label)",
    ] {
        assert!(r.stderr.contains(want), "{want}\n{}", r.stderr);
    }
}

/// Issue 12, item 6: "cut off at max_tokens (8192)" was printed when the server's context
/// (4096 tokens) had been the limit.
#[test]
fn i12_6_a_cut_at_the_context_size_is_not_blamed_on_max_tokens() {
    let body = serde_json::json!({
        "model": "kaira", "message": {"role": "assistant", "content": "A?,iyi,+1\nA?,kötü,-1\nB?,i"},
        "done": true, "done_reason": "length", "prompt_eval_count": 3000, "eval_count": 1096
    });
    let srv = FakeServer::start(vec![json(200, body.to_string())]);
    let p = project(&srv.base, "      max_tokens: 8192");
    let r = p.run(&["run", "pipelines/g.yaml"]).ok();
    assert!(!r.stderr.contains("cut off at max_tokens"), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "request 0: the answer was cut off by the server after 1096 answer tokens, before \
             max_tokens (8192): prompt 3000 + answer 1096 = 4096 tokens, which is the server's \
             context size"
        ),
        "{}",
        r.stderr
    );
}

/// Issue 12, item 7: a 500 whose body echoed the Authorization header, followed by a
/// success, stored the key in the retry note of two manifests (unit and stage).
#[test]
fn i12_7_a_key_echoed_in_an_error_reaches_no_manifest_or_output() {
    let secret = "sk-echoed-31415926";
    let srv = FakeServer::with(move |i, seen| {
        let auth = seen
            .head
            .lines()
            .find(|l| l.to_lowercase().starts_with("authorization"))
            .unwrap_or("")
            .to_string();
        if i < 2 {
            json(
                500,
                serde_json::json!({"error": format!("bad request; headers: {auth}")}).to_string(),
            )
        } else {
            ollama_answer("A?,iyi,+1\nA?,kötü,-1\n", "stop")
        }
    });
    let p = project(&srv.base, "      api_key_env: QA_PIPE_TEST_LLM_KEY_ECHO");
    let out = p
        .cmd(&["run", "pipelines/g.yaml", "--json"])
        .env("QA_PIPE_TEST_LLM_KEY_ECHO", secret)
        .output()
        .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("Bearer [redacted]"), "{shown}");
    assert!(!shown.contains(secret), "{shown}");
    for (f, text) in store_text(&p) {
        assert!(!text.contains(secret), "{} holds the key", f.display());
    }
}

/// Issue 12, item 9: an empty answer was stored as a success, so a rerun never asked again.
#[test]
fn i12_9_an_empty_answer_is_not_cached() {
    let healed = Arc::new(AtomicBool::new(false));
    let h = Arc::clone(&healed);
    let srv = FakeServer::with(move |_, _| {
        if h.load(Ordering::SeqCst) {
            ollama_answer("A?,iyi,+1\nA?,kötü,-1\n", "stop")
        } else {
            ollama_answer("", "stop")
        }
    });
    let p = project(&srv.base, "");
    let r = p.run(&["run", "pipelines/g.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("sent an empty answer"), "{}", r.stderr);
    healed.store(true, Ordering::SeqCst);
    let before = srv.hits();
    let (code, v) = p.run_json(&["pipelines/g.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(srv.hits() - before, 2, "both requests asked again");
}

fn prompt_of(seen: &Seen) -> String {
    seen.body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Chunked generation: the first wave (pairs / per_request requests) is cached per request,
/// then requests go one at a time until the clean pairs (deduplicated across requests)
/// reach the target; topics and seeds vary per request.
#[test]
fn chunked_generation_stops_once_enough_clean_pairs_parse() {
    let srv = FakeServer::with(|_, seen| {
        let text = match seen.body["options"]["seed"].as_u64() {
            Some(5 | 6) => "A?,iyi,+1\nA?,kötü,-1\n",
            Some(7) => "B?,iyi,+1\nB?,kötü,-1\nkısa bir not\n",
            _ => "C?,iyi,+1\nC?,kötü,-1\n",
        };
        ollama_answer(text, "stop")
    });
    let p = project(
        &srv.base,
        "      pairs: 2\n      per_request: 1\n      topics: [tarih, bilim]",
    );
    p.write(
        "data/prompts/chunk-tr.txt",
        "{questions} soru, {rows} satır, konu: {topics}\n",
    );
    let yaml = pipeline(&srv.base, "      pairs: 2\n      per_request: 1\n      topics: [tarih, bilim]\n      prompt: data/prompts/chunk-tr.txt");
    p.write("pipelines/g.yaml", &yaml);
    let r = p.run(&["run", "pipelines/g.yaml"]).ok();
    assert_eq!(seeds(&srv.seen()), [5, 6, 7]);
    let prompts: Vec<String> = srv.seen().iter().map(prompt_of).collect();
    assert!(
        prompts.contains(&"1 soru, 2 satır, konu: tarih\n".to_string()),
        "{prompts:?}"
    );
    assert!(
        prompts.contains(&"1 soru, 2 satır, konu: bilim\n".to_string()),
        "{prompts:?}"
    );
    assert!(
        r.stderr.contains("2 clean pair(s) of 2 asked for after 3 request(s) (2 cached one by one, 1 more): target reached; 4 clean rows"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("duplicate 2"), "{}", r.stderr);
    // Split by question (chunks have no train/test layout): 2 questions, one each side.
    let (train, test) = (table(&p, "parse", "train"), table(&p, "parse", "test"));
    assert_eq!((train.num_rows(), test.num_rows()), (2, 2));
    let (code, v) = p.run_json(&["pipelines/g.yaml"]);
    assert_eq!(code, 0);
    assert!(statuses(&v).iter().all(|(_, s)| s == "cached"), "{v}");
    assert_eq!(srv.hits(), 3);
}

#[test]
fn chunked_generation_stops_when_the_request_budget_is_spent() {
    let srv = FakeServer::start(vec![ollama_answer("A?,iyi,+1\nA?,kötü,-1\n", "stop")]);
    let p = project(
        &srv.base,
        "      pairs: 3\n      per_request: 2\n      max_requests: 4",
    );
    let r = p.run(&["run", "pipelines/g.yaml"]).ok();
    assert_eq!(srv.hits(), 4);
    assert!(
        r.stderr.contains("1 clean pair(s) of 3 asked for after 4 request(s) (2 cached one by one, 2 more): request budget (max_requests 4) spent"),
        "{}",
        r.stderr
    );
}

/// `constrain: grammar` sends the shipped GBNF as llama.cpp's `grammar`; `json-schema`
/// sends the shipped schema as Ollama's `format`, and the JSON answer parses.
#[test]
fn constrained_output_sends_the_grammar_or_the_schema() {
    let root = env!("CARGO_MANIFEST_DIR");
    let gbnf = std::fs::read_to_string(format!("{root}/data/prompts/qa-rows.gbnf")).unwrap();
    let schema =
        std::fs::read_to_string(format!("{root}/data/prompts/qa-rows.schema.json")).unwrap();
    let answer = r#"{"satirlar": [{"soru": "A?", "cevap": "iyi", "etiket": 1}, {"soru": "A?", "cevap": "kötü", "etiket": -1}]}"#;
    let srv = FakeServer::start(vec![ollama_answer(answer, "stop")]);
    let p = project(&srv.base, "      constrain: grammar");
    p.write("data/prompts/qa-rows.gbnf", &gbnf);
    p.write("data/prompts/qa-rows.schema.json", &schema);
    p.run(&["run", "pipelines/g.yaml", "--only", "generate"])
        .ok();
    assert_eq!(srv.seen()[0].body["grammar"], gbnf.as_str());
    p.write(
        "pipelines/g.yaml",
        &pipeline(&srv.base, "      constrain: json-schema"),
    );
    p.run(&["run", "pipelines/g.yaml", "--only", "generate", "parse"])
        .ok();
    let last = srv.seen().pop().unwrap();
    assert_eq!(
        last.body["format"],
        serde_json::from_str::<serde_json::Value>(&schema).unwrap()
    );
    assert!(last.body.get("grammar").is_none());
    let train = table(&p, "parse", "train");
    assert_eq!(strings(&train, "answer"), ["iyi", "kötü"]);
}
