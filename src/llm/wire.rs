//! Wire formats of the two APIs local LLM servers speak: request bodies, and decoding
//! whole JSON answers, Ollama's NDJSON streams and OpenAI-style SSE streams.
//!
//! Formats follow the servers' documentation: Ollama `docs/api.md` (`/api/chat`,
//! `/api/generate`: one JSON object per line when streaming, the last with `"done": true`
//! and a `done_reason`), and OpenAI's chat completions (`data: {...}` events, then
//! `data: [DONE]`; the cut-off signal is `finish_reason: "length"`).

use std::io::BufRead;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::Failure;

/// Which API (and route) to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// Ollama `POST /api/chat`.
    OllamaChat,
    /// Ollama `POST /api/generate`.
    OllamaGenerate,
    /// OpenAI-compatible `POST /v1/chat/completions` (LM Studio, llama.cpp, vLLM, Ollama).
    OpenaiChat,
}

impl Api {
    /// Route below the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Api::OllamaChat => "/api/chat",
            Api::OllamaGenerate => "/api/generate",
            Api::OpenaiChat => "/v1/chat/completions",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Api::OllamaChat => "ollama-chat",
            Api::OllamaGenerate => "ollama-generate",
            Api::OpenaiChat => "openai-chat",
        }
    }
}

/// Sampling settings sent with every request; `None` leaves the server's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Sampling {
    pub temperature: Option<f64>,
    pub seed: Option<u64>,
    pub max_tokens: Option<u32>,
}

/// What one finished request produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub text: String,
    /// `finish_reason` (OpenAI) or `done_reason` (Ollama), when the server gave one.
    pub finish_reason: Option<String>,
    /// The server stopped at the token limit, so the last line is probably cut.
    pub truncated: bool,
    /// Model name the server reports (may differ from the requested alias).
    pub model: Option<String>,
    /// Token counts the server reports: `usage` (OpenAI), `prompt_eval_count` /
    /// `eval_count` (Ollama). They tell a cut at `max_tokens` from a full context.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// Tokens of the prompt and of the answer, as the server counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    /// From an OpenAI `usage` object or an Ollama final chunk.
    fn from_value(v: &Value) -> Option<Usage> {
        let u = &v["usage"];
        let (p, c) = if u.is_object() {
            (&u["prompt_tokens"], &u["completion_tokens"])
        } else {
            (&v["prompt_eval_count"], &v["eval_count"])
        };
        Some(Usage {
            prompt_tokens: p.as_u64()?,
            completion_tokens: c.as_u64()?,
        })
    }
}

impl Completion {
    fn new(text: String, finish_reason: Option<String>, model: Option<String>) -> Self {
        let truncated = finish_reason.as_deref() == Some("length");
        Completion {
            text,
            finish_reason,
            truncated,
            model,
            usage: None,
        }
    }

    fn with_usage(mut self, usage: Option<Usage>) -> Self {
        self.usage = usage;
        self
    }

    /// Why a cut-off answer stopped, in words: at `max_tokens`, or earlier, at the
    /// server's context size (prompt + answer fill it), which `max_tokens` cannot fix.
    pub fn cut_off_reason(&self, max_tokens: Option<u32>) -> String {
        let asked = max_tokens.map_or("the server's default".to_string(), |n| n.to_string());
        match (self.usage, max_tokens) {
            (Some(u), Some(max)) if u.completion_tokens >= u64::from(max) => {
                format!("cut off at max_tokens ({max})")
            }
            (Some(u), _) => format!(
                "cut off by the server after {} answer tokens, before max_tokens ({asked}): \
                 prompt {} + answer {} = {} tokens, which is the server's context size \
                 (llama-server -c, Ollama num_ctx); ask for fewer rows per request",
                u.completion_tokens,
                u.prompt_tokens,
                u.completion_tokens,
                u.prompt_tokens + u.completion_tokens
            ),
            (None, _) => format!(
                "cut off at the token limit (max_tokens {asked}, or the server's context size; \
                 the server did not say how many tokens it used)"
            ),
        }
    }
}

/// The JSON body for one request.
pub fn request_body(
    api: Api,
    model: &str,
    system: Option<&str>,
    prompt: &str,
    sampling: &Sampling,
    stream: bool,
) -> Value {
    let mut messages = Vec::new();
    if let Some(s) = system {
        messages.push(json!({"role": "system", "content": s}));
    }
    messages.push(json!({"role": "user", "content": prompt}));
    match api {
        Api::OllamaChat | Api::OllamaGenerate => {
            let mut options = serde_json::Map::new();
            if let Some(t) = sampling.temperature {
                options.insert("temperature".into(), json!(t));
            }
            if let Some(s) = sampling.seed {
                options.insert("seed".into(), json!(s));
            }
            if let Some(n) = sampling.max_tokens {
                options.insert("num_predict".into(), json!(n));
            }
            let mut body = json!({"model": model, "stream": stream, "options": options});
            if api == Api::OllamaChat {
                body["messages"] = Value::Array(messages);
            } else {
                body["prompt"] = json!(prompt);
                if let Some(s) = system {
                    body["system"] = json!(s);
                }
            }
            body
        }
        Api::OpenaiChat => {
            let mut body = json!({"model": model, "messages": messages, "stream": stream});
            if let Some(t) = sampling.temperature {
                body["temperature"] = json!(t);
            }
            if let Some(s) = sampling.seed {
                body["seed"] = json!(s);
            }
            if let Some(n) = sampling.max_tokens {
                body["max_tokens"] = json!(n);
            }
            body
        }
    }
}

/// Decode a whole (non-streamed) response body.
pub fn decode_body(api: Api, body: &str) -> Result<Completion, Failure> {
    let v: Value = serde_json::from_str(body)
        .map_err(|e| Failure::Malformed(format!("{e}; body starts {}", snippet(body))))?;
    check_error(&v)?;
    match api {
        Api::OllamaChat | Api::OllamaGenerate => {
            let chunk = ollama_chunk(api, &v)?;
            if !chunk.done {
                return Err(Failure::Malformed(
                    "non-streamed answer has \"done\": false".to_string(),
                ));
            }
            Ok(Completion::new(chunk.text, chunk.done_reason, chunk.model)
                .with_usage(Usage::from_value(&v)))
        }
        Api::OpenaiChat => {
            let choice = first_choice(&v)?;
            let text = match &choice["message"]["content"] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => {
                    return Err(Failure::Malformed(format!(
                        "choices[0].message.content is {other}, not a string"
                    )))
                }
            };
            Ok(Completion::new(
                text,
                str_field(choice, "finish_reason"),
                str_field(&v, "model"),
            )
            .with_usage(Usage::from_value(&v)))
        }
    }
}

/// Decode a streamed body: NDJSON for Ollama, SSE for OpenAI. Reads until the final
/// event; a stream that ends before it is a [`Failure::StreamDropped`].
pub fn decode_stream(api: Api, reader: impl BufRead) -> Result<Completion, Failure> {
    match api {
        Api::OllamaChat | Api::OllamaGenerate => decode_ndjson(api, reader),
        Api::OpenaiChat => decode_sse(reader),
    }
}

fn decode_ndjson(api: Api, reader: impl BufRead) -> Result<Completion, Failure> {
    let mut text = String::new();
    let mut model = None;
    let mut events = 0usize;
    for line in reader.lines() {
        let line = line.map_err(|e| read_failure(e, events))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| {
            Failure::Malformed(format!(
                "stream line {}: {e}: {}",
                events + 1,
                snippet(line)
            ))
        })?;
        check_error(&v)?;
        events += 1;
        let chunk = ollama_chunk(api, &v)?;
        text.push_str(&chunk.text);
        model = chunk.model.or(model);
        if chunk.done {
            return Ok(
                Completion::new(text, chunk.done_reason, model).with_usage(Usage::from_value(&v))
            );
        }
    }
    Err(Failure::StreamDropped(format!(
        "ended after {events} event(s) without a final \"done\": true"
    )))
}

fn decode_sse(reader: impl BufRead) -> Result<Completion, Failure> {
    let mut text = String::new();
    let mut model = None;
    let mut finish_reason = None;
    let mut usage = None;
    let mut events = 0usize;
    for line in reader.lines() {
        let line = line.map_err(|e| read_failure(e, events))?;
        // SSE: only `data:` fields carry payload; comments (`:`), `event:`, `id:` and
        // blank separators are ignored.
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(Completion::new(text, finish_reason, model).with_usage(usage));
        }
        let v: Value = serde_json::from_str(data).map_err(|e| {
            Failure::Malformed(format!(
                "stream event {}: {e}: {}",
                events + 1,
                snippet(data)
            ))
        })?;
        check_error(&v)?;
        events += 1;
        if let Some(m) = str_field(&v, "model") {
            model = Some(m);
        }
        if v["usage"].is_object() {
            usage = Usage::from_value(&v).or(usage);
        }
        // Some servers send a final usage-only event with no choices.
        let Some(choice) = v["choices"].as_array().and_then(|c| c.first()) else {
            continue;
        };
        match &choice["delta"]["content"] {
            Value::String(s) => text.push_str(s),
            Value::Null => {}
            other => {
                return Err(Failure::Malformed(format!(
                    "stream event {events}: delta.content is {other}, not a string"
                )))
            }
        }
        if let Some(r) = str_field(choice, "finish_reason") {
            finish_reason = Some(r);
        }
    }
    Err(Failure::StreamDropped(format!(
        "ended after {events} event(s) without data: [DONE]"
    )))
}

struct OllamaChunk {
    text: String,
    done: bool,
    done_reason: Option<String>,
    model: Option<String>,
}

fn ollama_chunk(api: Api, v: &Value) -> Result<OllamaChunk, Failure> {
    let text = match api {
        Api::OllamaChat => &v["message"]["content"],
        _ => &v["response"],
    };
    let text = match text {
        Value::String(s) => s.clone(),
        // A final chunk may omit the text entirely.
        Value::Null if v["done"] == Value::Bool(true) => String::new(),
        _ => {
            let field = if api == Api::OllamaChat {
                "message.content"
            } else {
                "response"
            };
            return Err(Failure::Malformed(format!(
                "no string \"{field}\" in {}",
                snippet(&v.to_string())
            )));
        }
    };
    let done = match &v["done"] {
        Value::Bool(b) => *b,
        _ => {
            return Err(Failure::Malformed(format!(
                "no boolean \"done\" in {}",
                snippet(&v.to_string())
            )))
        }
    };
    Ok(OllamaChunk {
        text,
        done,
        done_reason: str_field(v, "done_reason"),
        model: str_field(v, "model"),
    })
}

fn first_choice(v: &Value) -> Result<&Value, Failure> {
    v["choices"]
        .as_array()
        .and_then(|c| c.first())
        .ok_or_else(|| Failure::Malformed(format!("no choices[0] in {}", snippet(&v.to_string()))))
}

/// Both APIs report failures as `{"error": "msg"}` or `{"error": {"message": "msg"}}`.
fn check_error(v: &Value) -> Result<(), Failure> {
    match &v["error"] {
        Value::Null => Ok(()),
        Value::String(s) => Err(Failure::ServerError(s.clone())),
        e => Err(Failure::ServerError(
            e["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string()),
        )),
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(str::to_string)
}

/// A reader that fails with [`TooLarge`] once more than `cap` bytes came through, so an
/// endless stream cannot grow without bound.
pub struct Capped<R> {
    inner: R,
    cap: u64,
    read: u64,
}

impl<R> Capped<R> {
    pub fn new(inner: R, cap: u64) -> Self {
        Capped {
            inner,
            cap,
            read: 0,
        }
    }
}

/// The error [`Capped`] stops with.
#[derive(Debug)]
pub struct TooLarge(pub u64);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "response over {} bytes", self.0)
    }
}

impl std::error::Error for TooLarge {}

impl<R: std::io::Read> std::io::Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read >= self.cap {
            return Err(std::io::Error::other(TooLarge(self.cap)));
        }
        let room = (self.cap - self.read).min(buf.len() as u64) as usize;
        let n = self.inner.read(&mut buf[..room])?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Map an I/O error while reading a body to a failure; ureq reports its timeouts as
/// I/O errors wrapping `ureq::Error::Timeout`.
pub(crate) fn read_failure(e: std::io::Error, events: usize) -> Failure {
    if let Some(TooLarge(cap)) = e.get_ref().and_then(|r| r.downcast_ref::<TooLarge>()) {
        return Failure::TooLarge(*cap);
    }
    if e.kind() == std::io::ErrorKind::TimedOut {
        return Failure::Timeout(std::time::Duration::ZERO);
    }
    match ureq::Error::from(e) {
        ureq::Error::Timeout(_) => Failure::Timeout(std::time::Duration::ZERO),
        other => Failure::StreamDropped(format!("after {events} event(s): {other}")),
    }
}

/// First 200 characters, for error messages.
pub(crate) fn snippet(s: &str) -> String {
    const MAX: usize = 200;
    let s = s.trim();
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/llm/");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIX}{name}")).unwrap()
    }

    #[test]
    fn ollama_whole_answers() {
        let text = fixture("wire-text.txt");
        for (api, file) in [
            (Api::OllamaChat, "ollama-chat.json"),
            (Api::OllamaGenerate, "ollama-generate.json"),
        ] {
            let c = decode_body(api, &fixture(file)).unwrap();
            assert_eq!(c.text, text);
            assert_eq!(c.finish_reason.as_deref(), Some("stop"));
            assert!(!c.truncated);
            assert_eq!(c.model.as_deref(), Some("llama3.2"));
        }
    }

    #[test]
    fn ollama_ndjson_streams() {
        let c = decode_stream(
            Api::OllamaChat,
            fixture("ollama-chat-stream.ndjson").as_bytes(),
        )
        .unwrap();
        assert_eq!(c.text, fixture("wire-text.txt"));
        assert!(!c.truncated);
        let c = decode_stream(
            Api::OllamaGenerate,
            fixture("ollama-generate-stream-length.ndjson").as_bytes(),
        )
        .unwrap();
        assert_eq!(c.text, fixture("wire-text-cut.txt"));
        assert_eq!(c.finish_reason.as_deref(), Some("length"));
        assert!(c.truncated);
    }

    #[test]
    fn openai_whole_and_sse() {
        let c = decode_body(Api::OpenaiChat, &fixture("openai-chat.json")).unwrap();
        assert_eq!(
            (c.text.as_str(), c.truncated),
            (fixture("wire-text.txt").as_str(), false)
        );
        assert_eq!(c.model.as_deref(), Some("smollm2"));
        let c = decode_stream(
            Api::OpenaiChat,
            fixture("openai-chat-stream-length.sse").as_bytes(),
        )
        .unwrap();
        assert_eq!(c.text, fixture("wire-text-cut.txt"));
        assert_eq!(c.finish_reason.as_deref(), Some("length"));
        assert!(c.truncated);
    }

    #[test]
    fn wrong_api_for_the_body_is_malformed() {
        let e = decode_body(Api::OllamaChat, &fixture("openai-chat.json")).unwrap_err();
        assert!(
            matches!(&e, Failure::Malformed(m) if m.contains("message.content")),
            "{e}"
        );
        let e = decode_body(Api::OpenaiChat, &fixture("ollama-chat.json")).unwrap_err();
        assert!(
            matches!(&e, Failure::Malformed(m) if m.contains("choices[0]")),
            "{e}"
        );
        let e = decode_body(Api::OpenaiChat, "<html>Bad gateway</html>").unwrap_err();
        assert!(
            matches!(&e, Failure::Malformed(m) if m.contains("<html>")),
            "{e}"
        );
    }

    #[test]
    fn streams_that_stop_early_or_report_errors() {
        let full = fixture("ollama-chat-stream.ndjson");
        let without_last: String = full.lines().take(5).map(|l| format!("{l}\n")).collect();
        let e = decode_stream(Api::OllamaChat, without_last.as_bytes()).unwrap_err();
        assert_eq!(
            e,
            Failure::StreamDropped("ended after 5 event(s) without a final \"done\": true".into())
        );
        let sse = fixture("openai-chat-stream-length.sse").replace("data: [DONE]", "");
        assert!(matches!(
            decode_stream(Api::OpenaiChat, sse.as_bytes()),
            Err(Failure::StreamDropped(_))
        ));
        let err_line = "{\"error\":\"model 'x' not found\"}\n";
        assert_eq!(
            decode_stream(Api::OllamaGenerate, err_line.as_bytes()),
            Err(Failure::ServerError("model 'x' not found".into()))
        );
        let sse_err = "data: {\"error\":{\"message\":\"context full\",\"code\":500}}\n\n";
        assert_eq!(
            decode_stream(Api::OpenaiChat, sse_err.as_bytes()),
            Err(Failure::ServerError("context full".into()))
        );
        let garbage = "{\"model\":\"m\",\"response\":\"a\",\"done\":false}\n{not json\n";
        assert!(matches!(
            decode_stream(Api::OllamaGenerate, garbage.as_bytes()),
            Err(Failure::Malformed(_))
        ));
    }

    #[test]
    fn request_bodies_follow_each_api() {
        let s = Sampling {
            temperature: Some(0.0),
            seed: Some(42),
            max_tokens: Some(400),
        };
        let b = request_body(Api::OllamaChat, "kaira", Some("sys"), "p", &s, true);
        assert_eq!(
            b,
            json!({"model": "kaira", "stream": true,
                   "options": {"temperature": 0.0, "seed": 42, "num_predict": 400},
                   "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "p"}]})
        );
        let b = request_body(
            Api::OllamaGenerate,
            "kaira",
            None,
            "p",
            &Sampling::default(),
            false,
        );
        assert_eq!(
            b,
            json!({"model": "kaira", "stream": false, "options": {}, "prompt": "p"})
        );
        let b = request_body(Api::OpenaiChat, "m", None, "p", &s, false);
        assert_eq!(
            b,
            json!({"model": "m", "messages": [{"role": "user", "content": "p"}], "stream": false,
                   "temperature": 0.0, "seed": 42, "max_tokens": 400})
        );
    }
}
