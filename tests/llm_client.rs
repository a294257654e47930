//! The LLM client against a fake server on 127.0.0.1: recorded Ollama/OpenAI responses
//! over real HTTP (plain and chunked), and the failure cases (down, slow, 500s,
//! malformed JSON, dropped streams, missing API key).

mod llm_support;

use std::net::TcpListener;
use std::time::Duration;

use llm_support::{chunked, fixture, json, FakeServer, Reply};
use qa_pipe::llm::{Api, ClientConfig, Failure, LlmClient, LlmError, Sampling};

fn client(base: &str, api: Api, stream: bool) -> LlmClient {
    let mut c = ClientConfig::new(base, api, "kaira");
    c.stream = stream;
    c.sampling = Sampling {
        temperature: Some(0.2),
        seed: Some(7),
        max_tokens: Some(300),
    };
    c.timeout = Duration::from_secs(5);
    c.retries = 2;
    c.backoff = Duration::from_millis(10);
    LlmClient::new(c).unwrap()
}

#[test]
fn ollama_chat_streamed_ndjson() {
    let srv = FakeServer::start(vec![chunked(
        "application/x-ndjson",
        &fixture("ollama-chat-stream.ndjson"),
        true,
    )]);
    let g = client(&srv.base, Api::OllamaChat, true)
        .generate("Soru üret")
        .unwrap();
    assert_eq!(g.completion.text, fixture("wire-text.txt"));
    assert_eq!(g.completion.finish_reason.as_deref(), Some("stop"));
    assert!(!g.completion.truncated);
    assert_eq!(g.attempts, 1);
    let seen = &srv.seen()[0];
    assert!(
        seen.head.starts_with("POST /api/chat HTTP/1.1"),
        "{}",
        seen.head
    );
    assert_eq!(seen.body["stream"], true);
    assert_eq!(seen.body["options"]["num_predict"], 300);
    assert_eq!(seen.body["options"]["seed"], 7);
    assert_eq!(seen.body["messages"][0]["content"], "Soru üret");
}

#[test]
fn ollama_generate_streamed_and_cut_off() {
    let srv = FakeServer::start(vec![chunked(
        "application/x-ndjson",
        &fixture("ollama-generate-stream-length.ndjson"),
        true,
    )]);
    let g = client(&srv.base, Api::OllamaGenerate, true)
        .generate("p")
        .unwrap();
    assert_eq!(g.completion.text, fixture("wire-text-cut.txt"));
    assert!(g.completion.truncated);
    assert!(srv.seen()[0].head.starts_with("POST /api/generate "));
    assert_eq!(srv.seen()[0].body["prompt"], "p");
}

#[test]
fn ollama_whole_answers() {
    for (api, file) in [
        (Api::OllamaChat, "ollama-chat.json"),
        (Api::OllamaGenerate, "ollama-generate.json"),
    ] {
        let srv = FakeServer::start(vec![json(200, fixture(file))]);
        let g = client(&srv.base, api, false).generate("p").unwrap();
        assert_eq!(g.completion.text, fixture("wire-text.txt"));
        assert_eq!(srv.seen()[0].body["stream"], false);
    }
}

#[test]
fn openai_whole_and_sse() {
    let srv = FakeServer::start(vec![json(200, fixture("openai-chat.json"))]);
    let g = client(&srv.base, Api::OpenaiChat, false)
        .generate("p")
        .unwrap();
    assert_eq!(g.completion.text, fixture("wire-text.txt"));
    assert!(srv.seen()[0].head.starts_with("POST /v1/chat/completions "));
    assert_eq!(srv.seen()[0].body["max_tokens"], 300);

    let srv = FakeServer::start(vec![chunked(
        "text/event-stream",
        &fixture("openai-chat-stream-length.sse"),
        true,
    )]);
    let g = client(&format!("{}/v1", srv.base), Api::OpenaiChat, true)
        .generate("p")
        .unwrap();
    assert_eq!(g.completion.text, fixture("wire-text-cut.txt"));
    assert!(g.completion.truncated);
    assert!(srv.seen()[0].head.starts_with("POST /v1/chat/completions "));
}

#[test]
fn server_errors_are_retried_then_succeed() {
    let srv = FakeServer::start(vec![
        json(500, "{\"error\":\"loading model\"}".into()),
        json(503, String::new()),
        json(200, fixture("openai-chat.json")),
    ]);
    let g = client(&srv.base, Api::OpenaiChat, false)
        .generate("p")
        .unwrap();
    assert_eq!(g.attempts, 3);
    assert_eq!(
        g.retried,
        vec![
            Failure::Status {
                code: 500,
                body: "{\"error\":\"loading model\"}".into()
            },
            Failure::Status {
                code: 503,
                body: String::new()
            },
        ]
    );
    assert_eq!(srv.hits(), 3);
}

#[test]
fn persistent_500_gives_up_naming_url_and_status() {
    let srv = FakeServer::start(vec![json(500, "{\"error\":\"boom\"}".into())]);
    let mut waits = Vec::new();
    let err = client(&srv.base, Api::OllamaChat, false)
        .generate_with("p", |attempt, _, wait| {
            waits.push((attempt, wait.as_millis()))
        })
        .unwrap_err();
    assert_eq!(srv.hits(), 3);
    assert_eq!(waits, [(1, 10), (2, 20)]);
    assert_eq!(
        err.to_string(),
        format!(
            "LLM server at {}/api/chat returned HTTP 500: {{\"error\":\"boom\"}} (3 attempts); see the server's log",
            srv.base
        )
    );
}

#[test]
fn client_errors_are_not_retried() {
    let srv = FakeServer::start(vec![json(
        404,
        "{\"error\":\"model 'kaira' not found\"}".into(),
    )]);
    let err = client(&srv.base, Api::OllamaChat, false)
        .generate("p")
        .unwrap_err();
    assert_eq!(srv.hits(), 1);
    let msg = err.to_string();
    assert!(
        msg.contains("returned HTTP 404: {\"error\":\"model 'kaira' not found\"} (1 attempt)"),
        "{msg}"
    );
    assert!(msg.contains("check `api`"), "{msg}");
}

#[test]
fn malformed_json_is_retried_then_reported() {
    let srv = FakeServer::start(vec![json(
        200,
        "{\"message\": {\"content\": \"abc\"".into(),
    )]);
    let err = client(&srv.base, Api::OllamaChat, false)
        .generate("p")
        .unwrap_err();
    assert_eq!(srv.hits(), 3);
    assert!(
        matches!(err.failure(), Some(Failure::Malformed(_))),
        "{err}"
    );
    assert!(
        err.to_string().contains("sent a malformed response"),
        "{err}"
    );
}

#[test]
fn dropped_stream_is_retried_then_reported() {
    let ndjson = fixture("ollama-chat-stream.ndjson");
    let half: String = ndjson.lines().take(10).map(|l| format!("{l}\n")).collect();
    let srv = FakeServer::start(vec![
        chunked("application/x-ndjson", &half, false),
        chunked("application/x-ndjson", &ndjson, true),
    ]);
    let g = client(&srv.base, Api::OllamaChat, true)
        .generate("p")
        .unwrap();
    assert_eq!(g.attempts, 2);
    assert!(
        matches!(&g.retried[0], Failure::StreamDropped(_)),
        "{:?}",
        g.retried
    );
    assert_eq!(g.completion.text, fixture("wire-text.txt"));

    // Always dropped: both ways a stream can stop early (connection cut mid-chunk
    // stream, or a clean end without the final event).
    let srv = FakeServer::start(vec![
        chunked("application/x-ndjson", &half, false),
        chunked("application/x-ndjson", &half, true),
    ]);
    let err = client(&srv.base, Api::OllamaChat, true)
        .generate("p")
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "LLM server at {}/api/chat dropped the stream",
            srv.base
        )),
        "{msg}"
    );
    assert!(msg.contains("without a final \"done\": true"), "{msg}");
    assert!(msg.contains("first attempt: dropped the stream"), "{msg}");
}

#[test]
fn slow_server_times_out() {
    let late = Reply::Slow(
        Duration::from_secs(3),
        Box::new(json(200, fixture("openai-chat.json"))),
    );
    let srv = FakeServer::start(vec![late]);
    let mut c = ClientConfig::new(&srv.base, Api::OpenaiChat, "m");
    c.timeout = Duration::from_millis(300);
    c.retries = 1;
    c.backoff = Duration::from_millis(1);
    let err = LlmClient::new(c).unwrap().generate("p").unwrap_err();
    assert_eq!(srv.hits(), 2);
    assert_eq!(
        err.failure(),
        Some(&Failure::Timeout(Duration::from_millis(300)))
    );
    assert!(
        err.to_string()
            .contains("did not answer within 0.3 s (2 attempts); raise `timeout_secs`"),
        "{err}"
    );
}

#[test]
fn stream_that_stalls_times_out() {
    // The first events arrive, then the model hangs with the connection open.
    let first: Vec<String> = fixture("ollama-chat-stream.ndjson")
        .split_inclusive('\n')
        .take(3)
        .map(str::to_string)
        .collect();
    let stall = Reply::Stall {
        ctype: "application/x-ndjson",
        chunks: first,
        wait: Duration::from_secs(3),
    };
    let srv = FakeServer::start(vec![stall]);
    let mut c = ClientConfig::new(&srv.base, Api::OllamaChat, "m");
    c.stream = true;
    c.timeout = Duration::from_millis(400);
    c.retries = 0;
    let err = LlmClient::new(c).unwrap().generate("p").unwrap_err();
    assert_eq!(
        err.failure(),
        Some(&Failure::Timeout(Duration::from_millis(400))),
        "{err}"
    );
}

#[test]
fn server_down_is_reported_with_a_hint() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let err = client(&base, Api::OllamaGenerate, false)
        .generate("p")
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "LLM server at {base}/api/generate connection failed ("
        )),
        "{msg}"
    );
    assert!(
        msg.contains("(3 attempts); is the server running?"),
        "{msg}"
    );
}

#[test]
fn closed_without_answer_is_retried() {
    let srv = FakeServer::start(vec![
        Reply::Close,
        json(200, fixture("ollama-generate.json")),
    ]);
    let g = client(&srv.base, Api::OllamaGenerate, false)
        .generate("p")
        .unwrap();
    assert_eq!(g.attempts, 2);
}

#[test]
fn api_key_comes_from_the_named_variable_and_is_never_shown() {
    let var = "QA_PIPE_TEST_KEY_7f3a";
    let secret = "sk-local-5ecret-value";
    let srv = FakeServer::start(vec![json(401, "{\"error\":\"bad key\"}".into())]);
    let mut c = ClientConfig::new(&srv.base, Api::OpenaiChat, "m");
    c.api_key_env = Some(var.into());
    c.backoff = Duration::from_millis(1);

    let err = LlmClient::new(c.clone())
        .unwrap()
        .generate("p")
        .unwrap_err();
    assert!(matches!(err, LlmError::MissingApiKey { .. }));
    assert_eq!(
        err.to_string(),
        format!("environment variable {var} (named by `api_key_env`) is not set; export it, or drop `api_key_env` if the server needs no key")
    );
    assert_eq!(srv.hits(), 0);

    // Only this test touches this variable.
    std::env::set_var(var, secret);
    let err = LlmClient::new(c.clone())
        .unwrap()
        .generate("p")
        .unwrap_err();
    std::env::remove_var(var);
    let head = srv.seen()[0].head.to_lowercase();
    assert!(
        head.contains(&format!("authorization: bearer {secret}\r\n")),
        "{head}"
    );
    let shown = format!("{err} {err:?} {c:?} {}", serde_json::to_string(&c).unwrap());
    assert!(!shown.contains(secret), "{shown}");
    assert!(err.to_string().contains("`api_key_env`"), "{err}");
}

fn openai_text(text: &str) -> Reply {
    let body = serde_json::json!({
        "model": "m", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": text}}]
    });
    json(200, body.to_string())
}

/// Issue 12, item 7: a 401 body quoting the Authorization header showed the key in the
/// error; a 500 echo followed by success showed it in the retry note.
#[test]
fn i12_7_an_api_key_echoed_by_the_server_is_redacted() {
    let var = "QA_PIPE_TEST_KEY_echo";
    let secret = "sk-echo-9d8c7b6a";
    let echo = format!("{{\"error\":\"bad header Authorization: Bearer {secret}\"}}");
    std::env::set_var(var, secret);
    let srv = FakeServer::start(vec![json(401, echo.clone())]);
    let mut c = ClientConfig::new(&srv.base, Api::OpenaiChat, "m");
    c.api_key_env = Some(var.into());
    c.backoff = Duration::from_millis(1);
    let err = LlmClient::new(c.clone())
        .unwrap()
        .generate("p")
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(shown.contains("Bearer [redacted]"), "{shown}");

    let srv = FakeServer::start(vec![
        json(500, echo),
        openai_text(&format!("A?,{secret},+1")),
    ]);
    c.base_url = srv.base.clone();
    let mut notes = Vec::new();
    let g = LlmClient::new(c)
        .unwrap()
        .generate_with("p", |_, f, _| notes.push(f.to_string()))
        .unwrap();
    std::env::remove_var(var);
    let shown = format!("{notes:?} {:?} {:?}", g.retried, g.completion);
    assert!(!shown.contains(secret), "{shown}");
    assert_eq!(g.completion.text, "A?,[redacted],+1");
}

/// Issue 12, item 8: no bound on response size (a 50 MB body took 3.2 GB, an endless
/// stream grew without end) and the failure read "dropped the stream".
#[test]
fn i12_8_responses_over_max_response_bytes_fail_as_too_large_without_retry() {
    let big = format!(
        "{{\"model\":\"m\",\"choices\":[{{\"message\":{{\"content\":\"{}\"}}}}]}}",
        "x".repeat(3 << 20)
    );
    let srv = FakeServer::start(vec![json(200, big)]);
    let mut c = ClientConfig::new(&srv.base, Api::OpenaiChat, "m");
    c.max_response_bytes = 1 << 20;
    c.backoff = Duration::from_millis(1);
    let err = LlmClient::new(c.clone())
        .unwrap()
        .generate("p")
        .unwrap_err();
    assert_eq!(err.failure(), Some(&Failure::TooLarge(1 << 20)), "{err}");
    assert_eq!(srv.hits(), 1, "a too-large answer is not asked again");
    assert!(
        err.to_string().contains(
            "sent a response that was too large (over max_response_bytes = 1048576 bytes) (1 attempt)"
        ),
        "{err}"
    );

    let chunk =
        "data: {\"choices\":[{\"delta\":{\"content\":\"aaaaaaaaaaaaaaaa\"}}]}\n\n".to_string();
    let srv = FakeServer::start(vec![Reply::Endless {
        ctype: "text/event-stream",
        chunk,
    }]);
    c.base_url = srv.base.clone();
    c.stream = true;
    let err = LlmClient::new(c).unwrap().generate("p").unwrap_err();
    assert_eq!(err.failure(), Some(&Failure::TooLarge(1 << 20)), "{err}");
    assert_eq!(srv.hits(), 1);
}

/// Issue 12, item 9: HTTP 429 was retried on the usual backoff, ignoring Retry-After,
/// and reported as a bare status.
#[test]
fn i12_9_rate_limits_honour_retry_after() {
    let srv = FakeServer::start(vec![
        Reply::Headers(
            429,
            vec!["Retry-After: 1".into()],
            "{\"error\":\"slow down\"}".into(),
        ),
        openai_text("A?,x,+1"),
    ]);
    let mut c = ClientConfig::new(&srv.base, Api::OpenaiChat, "m");
    c.backoff = Duration::from_millis(1);
    let mut waits = Vec::new();
    let g = LlmClient::new(c.clone())
        .unwrap()
        .generate_with("p", |_, f, w| waits.push((f.to_string(), w)))
        .unwrap();
    assert_eq!(g.attempts, 2);
    assert_eq!(
        waits,
        [(
            "rate limited the request (HTTP 429: {\"error\":\"slow down\"}; Retry-After 1 s)"
                .to_string(),
            Duration::from_secs(1)
        )]
    );

    // A wait longer than qa-pipe will sit through: give up at once and say so.
    let srv = FakeServer::start(vec![Reply::Headers(
        429,
        vec!["Retry-After: 3600".into()],
        String::new(),
    )]);
    c.base_url = srv.base.clone();
    let err = LlmClient::new(c).unwrap().generate("p").unwrap_err();
    assert_eq!(srv.hits(), 1);
    assert!(err.to_string().contains("rate limited"), "{err}");
    assert!(err.to_string().contains("Retry-After 3600 s"), "{err}");
}

/// Issue 12, item 9: an empty answer was returned as a success (and cached by the stage).
#[test]
fn i12_9_an_empty_answer_is_a_failure() {
    let srv = FakeServer::start(vec![openai_text("  \n"), openai_text("A?,x,+1")]);
    let mut c = ClientConfig::new(&srv.base, Api::OpenaiChat, "m");
    c.backoff = Duration::from_millis(1);
    c.retries = 1;
    let g = LlmClient::new(c.clone()).unwrap().generate("p").unwrap();
    assert_eq!(g.retried, [Failure::EmptyAnswer]);
    let srv = FakeServer::start(vec![openai_text("")]);
    c.base_url = srv.base.clone();
    let err = LlmClient::new(c).unwrap().generate("p").unwrap_err();
    assert!(
        err.to_string()
            .contains("sent an empty answer (2 attempts)"),
        "{err}"
    );
}
