//! Errors of the LLM client: what went wrong talking to which URL, and what to do about it.

use std::fmt;
use std::time::Duration;

/// One failed attempt at a request. Several of these (one per attempt) make an [`LlmError`].
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// No usable connection: refused, host not found, or closed before any response.
    Unreachable(String),
    /// The server did not finish answering within the request timeout.
    Timeout(Duration),
    /// An HTTP error status; `body` is the start of what the server said.
    Status { code: u16, body: String },
    /// The body (or one stream event) was not the JSON the API documents.
    Malformed(String),
    /// The stream stopped before its final event (`done: true` / `data: [DONE]`).
    StreamDropped(String),
    /// The server answered with an `{"error": ...}` object.
    ServerError(String),
    /// HTTP 429; `retry_after` is the server's `Retry-After`, when it sent one in seconds.
    RateLimited {
        retry_after: Option<Duration>,
        body: String,
    },
    /// The body or stream grew past `max_response_bytes`; reading stopped there.
    TooLarge(u64),
    /// A well-formed answer with no text: never a success, so never cached.
    EmptyAnswer,
}

/// Longest `Retry-After` that is waited for; a server asking for more is given up on.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

impl Failure {
    /// Client errors (bad model name, wrong route, missing key) do not heal by retrying;
    /// everything else might (a server still loading its model answers 503, a crashed
    /// one comes back).
    pub fn is_retryable(&self) -> bool {
        match self {
            Failure::Status { code, .. } => !(400..500).contains(code) || matches!(code, 408 | 429),
            Failure::RateLimited {
                retry_after: Some(t),
                ..
            } => *t <= MAX_RETRY_AFTER,
            // The same request would grow past the cap again.
            Failure::TooLarge(_) => false,
            _ => true,
        }
    }

    /// How long to wait before retrying, when the server said (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The failure with every occurrence of `secret` (the API key) in the server's text
    /// replaced by `[redacted]`: a server may echo the Authorization header back.
    pub fn redacted(self, secret: Option<&str>) -> Failure {
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return self;
        };
        let r = |s: String| redact(&s, secret);
        match self {
            Failure::Unreachable(s) => Failure::Unreachable(r(s)),
            Failure::Status { code, body } => Failure::Status {
                code,
                body: r(body),
            },
            Failure::Malformed(s) => Failure::Malformed(r(s)),
            Failure::StreamDropped(s) => Failure::StreamDropped(r(s)),
            Failure::ServerError(s) => Failure::ServerError(r(s)),
            Failure::RateLimited { retry_after, body } => Failure::RateLimited {
                retry_after,
                body: r(body),
            },
            other => other,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Failure::Unreachable(_) => {
                "is the server running? Start it (`ollama serve`, LM Studio's local server, \
                 `scripts/llm-server.sh start`) or fix `base_url`"
            }
            Failure::Timeout(_) => "raise `timeout_secs`, or lower `max_tokens`",
            Failure::Status {
                code: 401 | 403, ..
            } => {
                "the server wants an API key: put it in an environment variable and name that \
                 variable in `api_key_env`"
            }
            Failure::Status { code: 404, .. } => {
                "check `api` (ollama-chat, ollama-generate or openai-chat must match the server) \
                 and that `model` is loaded on the server"
            }
            Failure::Status { code, .. } if *code >= 500 => "see the server's log",
            Failure::Status { .. } => "check the request parameters (`model`, `max_tokens`)",
            Failure::Malformed(_) | Failure::StreamDropped(_) => {
                "check that `api` matches the server, or try `stream: false`"
            }
            Failure::ServerError(_) => "see the server's log",
            Failure::RateLimited { .. } => {
                "the server is rate limiting: lower the request rate (`-j 1`) or try again later"
            }
            Failure::TooLarge(_) => {
                "raise `max_response_bytes` if the answer is meant to be that long, or lower \
                 `max_tokens`; not retried"
            }
            Failure::EmptyAnswer => {
                "check the prompt, `max_tokens` and the model; an empty answer is never cached"
            }
        }
    }
}

/// `text` with every occurrence of `secret`, also JSON-escaped, replaced by `[redacted]`.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    let mut out = text.replace(secret, "[redacted]");
    let escaped = serde_json::to_string(secret).unwrap_or_default();
    let escaped = escaped.trim_matches('"');
    if escaped != secret && !escaped.is_empty() {
        out = out.replace(escaped, "[redacted]");
    }
    out
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unreachable(why) => write!(f, "connection failed ({why})"),
            Failure::Timeout(t) => write!(f, "did not answer within {} s", t.as_secs_f64()),
            Failure::Status { code, body } if body.is_empty() => write!(f, "returned HTTP {code}"),
            Failure::Status { code, body } => write!(f, "returned HTTP {code}: {body}"),
            Failure::Malformed(why) => write!(f, "sent a malformed response ({why})"),
            Failure::StreamDropped(why) => write!(f, "dropped the stream ({why})"),
            Failure::ServerError(msg) => write!(f, "reported an error: {msg}"),
            Failure::RateLimited { retry_after, body } => {
                write!(f, "rate limited the request (HTTP 429")?;
                if !body.is_empty() {
                    write!(f, ": {body}")?;
                }
                match retry_after {
                    Some(t) => write!(f, "; Retry-After {} s)", t.as_secs_f64()),
                    None => write!(f, ")"),
                }
            }
            Failure::TooLarge(limit) => write!(
                f,
                "sent a response that was too large (over max_response_bytes = {limit} bytes)"
            ),
            Failure::EmptyAnswer => write!(f, "sent an empty answer"),
        }
    }
}

/// Everything the client can fail with. Messages name the URL and never contain the API key.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error(
        "LLM server at {url} {last} ({attempts} attempt{s}{earlier}); {hint}",
        s = if *attempts == 1 { "" } else { "s" },
        earlier = earlier_note(history),
        hint = last.hint()
    )]
    Failed {
        url: String,
        attempts: u32,
        /// The failure of the final attempt.
        last: Failure,
        /// Failures of the attempts before it, oldest first.
        history: Vec<Failure>,
    },
    #[error(
        "environment variable {var} (named by `api_key_env`) is not set; export it, or drop \
         `api_key_env` if the server needs no key"
    )]
    MissingApiKey { var: String },
    #[error("invalid LLM client setting: {0}")]
    Config(String),
}

fn earlier_note(history: &[Failure]) -> String {
    match history.first() {
        Some(first) if history.iter().any(|h| h != first) => {
            format!("; first attempt: {first}")
        }
        _ => String::new(),
    }
}

impl LlmError {
    /// The last failure, when the error came from talking to the server.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            LlmError::Failed { last, .. } => Some(last),
            _ => None,
        }
    }
}
