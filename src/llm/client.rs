//! Blocking HTTP client for a local LLM server, with timeouts and retries with
//! exponential backoff. One request = one prompt = one [`Completion`].

use std::io::BufReader;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::{Failure, LlmError};
use super::wire::{self, Api, Completion, Sampling};

/// Everything needed to talk to one server. Holds only the *name* of the API-key
/// variable, so it can be logged, hashed and stored without leaking the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// e.g. `http://127.0.0.1:11434` (Ollama) or `http://127.0.0.1:1234` (LM Studio).
    /// A trailing `/v1` is accepted for the OpenAI API.
    pub base_url: String,
    pub api: Api,
    pub model: String,
    /// Optional system message.
    pub system: Option<String>,
    pub sampling: Sampling,
    pub stream: bool,
    /// Budget for one attempt, from connecting to the last byte of the answer.
    pub timeout: Duration,
    /// Attempts after the first one.
    pub retries: u32,
    /// Wait before the first retry; doubles each time, capped at [`MAX_BACKOFF`].
    pub backoff: Duration,
    /// Name of the environment variable holding a bearer token, if the server needs one.
    pub api_key_env: Option<String>,
    /// Extra top-level fields for the request body, for server-specific options such
    /// as llama.cpp's `grammar` (GBNF) or `top_p`. They override the generated ones.
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// Largest body (or whole stream) read from the server; past it the request fails as
    /// too large and is not retried.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: u64,
}

/// 16 MiB: a streamed 8192-token answer is about 2 MB of events.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

fn default_max_response_bytes() -> u64 {
    DEFAULT_MAX_RESPONSE_BYTES
}

/// Ceiling for the exponential backoff.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, api: Api, model: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            api,
            model: model.into(),
            system: None,
            sampling: Sampling::default(),
            stream: false,
            timeout: Duration::from_secs(300),
            retries: 3,
            backoff: Duration::from_secs(1),
            api_key_env: None,
            extra: serde_json::Map::new(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// The full URL requests go to.
    pub fn url(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        match (self.api, base.strip_suffix("/v1")) {
            (Api::OpenaiChat, Some(root)) => format!("{root}{}", self.api.path()),
            _ => format!("{base}{}", self.api.path()),
        }
    }

    /// Wait before retry number `retry` (0-based).
    pub fn backoff_for(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.backoff.saturating_mul(factor).min(MAX_BACKOFF)
    }
}

/// A completion plus how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub completion: Completion,
    /// 1 when the first attempt succeeded.
    pub attempts: u32,
    /// Failures of the attempts that preceded the successful one.
    pub retried: Vec<Failure>,
    pub elapsed: Duration,
}

/// A configured client; cheap to keep around, reuses connections.
pub struct LlmClient {
    cfg: ClientConfig,
    url: String,
    agent: ureq::Agent,
}

impl LlmClient {
    pub fn new(cfg: ClientConfig) -> Result<Self, LlmError> {
        let url = cfg.url();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "base_url '{}' must start with http:// (a local server, e.g. http://127.0.0.1:11434)",
                cfg.base_url
            )));
        }
        if cfg.model.trim().is_empty() {
            return Err(LlmError::Config("model is empty".to_string()));
        }
        if cfg.max_response_bytes == 0 {
            return Err(LlmError::Config(
                "max_response_bytes must be above zero".to_string(),
            ));
        }
        if cfg.timeout.is_zero() {
            return Err(LlmError::Config("timeout must be above zero".to_string()));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            // Read error bodies ourselves: they say why (e.g. "model not found").
            .http_status_as_error(false)
            .build()
            .into();
        Ok(LlmClient { cfg, url, agent })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Send `prompt`, retrying retryable failures with exponential backoff.
    pub fn generate(&self, prompt: &str) -> Result<Generation, LlmError> {
        self.generate_with(prompt, |_, _, _| {})
    }

    /// Like [`generate`](Self::generate), calling `on_retry(attempt, failure, wait)` before
    /// each wait so callers can report progress.
    pub fn generate_with(
        &self,
        prompt: &str,
        mut on_retry: impl FnMut(u32, &Failure, Duration),
    ) -> Result<Generation, LlmError> {
        let key = self.api_key()?;
        let mut body = wire::request_body(
            self.cfg.api,
            &self.cfg.model,
            self.cfg.system.as_deref(),
            prompt,
            &self.cfg.sampling,
            self.cfg.stream,
        );
        for (k, v) in &self.cfg.extra {
            body[k] = v.clone();
        }
        let start = Instant::now();
        let mut history = Vec::new();
        let secret = key.as_deref();
        for attempt in 0..=self.cfg.retries {
            // Whatever the server says is redacted before anyone sees it: a server may
            // echo the Authorization header in an error body or even in an answer.
            let result = self
                .attempt(&body, secret)
                .map_err(|f| f.redacted(secret))
                .and_then(|mut c| {
                    if let Some(k) = secret {
                        c.text = super::error::redact(&c.text, k);
                        c.model = c.model.map(|m| super::error::redact(&m, k));
                    }
                    if c.text.trim().is_empty() {
                        Err(Failure::EmptyAnswer)
                    } else {
                        Ok(c)
                    }
                });
            match result {
                Ok(completion) => {
                    return Ok(Generation {
                        completion,
                        attempts: attempt + 1,
                        retried: history,
                        elapsed: start.elapsed(),
                    })
                }
                Err(failure) => {
                    if !failure.is_retryable() || attempt == self.cfg.retries {
                        return Err(LlmError::Failed {
                            url: self.url.clone(),
                            attempts: attempt + 1,
                            last: failure,
                            history,
                        });
                    }
                    let wait = failure
                        .retry_after()
                        .unwrap_or_else(|| self.cfg.backoff_for(attempt));
                    on_retry(attempt + 1, &failure, wait);
                    history.push(failure);
                    std::thread::sleep(wait);
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    fn api_key(&self) -> Result<Option<String>, LlmError> {
        match &self.cfg.api_key_env {
            None => Ok(None),
            Some(var) => match std::env::var(var) {
                Ok(k) if !k.is_empty() => Ok(Some(k)),
                _ => Err(LlmError::MissingApiKey { var: var.clone() }),
            },
        }
    }

    fn attempt(&self, body: &serde_json::Value, key: Option<&str>) -> Result<Completion, Failure> {
        let mut req = self
            .agent
            .post(&self.url)
            .header("Accept", "application/json");
        if let Some(k) = key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let mut resp = req.send_json(body).map_err(|e| self.transport_failure(e))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64);
            // Only the start of an error body is shown; do not read more than that.
            let text = resp
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_string()
                .unwrap_or_default();
            let body = wire::snippet(&text);
            return Err(if status == 429 {
                Failure::RateLimited { retry_after, body }
            } else {
                Failure::Status { code: status, body }
            });
        }
        let cap = self.cfg.max_response_bytes;
        let result = if self.cfg.stream {
            let reader = BufReader::new(wire::Capped::new(resp.into_body().into_reader(), cap));
            wire::decode_stream(self.cfg.api, reader)
        } else {
            let text = resp
                .body_mut()
                .with_config()
                .limit(cap)
                .read_to_string()
                .map_err(|e| match e {
                    ureq::Error::BodyExceedsLimit(_) => Failure::TooLarge(cap),
                    e => match self.transport_failure(e) {
                        Failure::Unreachable(why) => Failure::StreamDropped(why),
                        other => other,
                    },
                })?;
            wire::decode_body(self.cfg.api, &text)
        };
        result.map_err(|f| match f {
            Failure::Timeout(_) => Failure::Timeout(self.cfg.timeout),
            other => other,
        })
    }

    fn transport_failure(&self, e: ureq::Error) -> Failure {
        match e {
            ureq::Error::Timeout(_) => Failure::Timeout(self.cfg.timeout),
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                Failure::Timeout(self.cfg.timeout)
            }
            ureq::Error::Json(j) => Failure::Malformed(j.to_string()),
            ureq::Error::Protocol(p) => Failure::Malformed(format!("HTTP protocol error: {p}")),
            ureq::Error::Io(io) => Failure::Unreachable(io.to_string()),
            other => Failure::Unreachable(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_joins_base_and_route() {
        let mut c = ClientConfig::new("http://127.0.0.1:11434/", Api::OllamaChat, "m");
        assert_eq!(c.url(), "http://127.0.0.1:11434/api/chat");
        c.api = Api::OpenaiChat;
        assert_eq!(c.url(), "http://127.0.0.1:11434/v1/chat/completions");
        c.base_url = "http://localhost:1234/v1".into();
        assert_eq!(c.url(), "http://localhost:1234/v1/chat/completions");
        c.api = Api::OllamaGenerate;
        assert_eq!(c.url(), "http://localhost:1234/v1/api/generate");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut c = ClientConfig::new("http://x", Api::OllamaChat, "m");
        c.backoff = Duration::from_millis(250);
        let waits: Vec<u128> = (0..4).map(|r| c.backoff_for(r).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000]);
        assert_eq!(c.backoff_for(30), MAX_BACKOFF);
        assert_eq!(c.backoff_for(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn bad_settings_are_refused_before_any_request() {
        let c = ClientConfig::new("localhost:11434", Api::OllamaChat, "m");
        let e = LlmClient::new(c).err().unwrap();
        assert!(e.to_string().contains("must start with http://"), "{e}");
        let c = ClientConfig::new("http://x", Api::OllamaChat, " ");
        assert!(LlmClient::new(c).is_err());
    }
}
