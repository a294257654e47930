//! `llm_generate`: ask a local LLM server (Ollama or OpenAI-compatible) for the study's QA
//! rows and keep every raw answer as an artifact table.
//!
//! Each request is a unit, cached on its own: a rerun calls the server only for requests
//! whose params changed (or with `--force`), and when request 3 of 5 fails, requests 1, 2
//! and any that finished stay cached while the stage fails, so the next run only retries
//! what failed. A failed call is never stored; a cut-off answer is stored, flagged
//! `truncated`, with a note.
//!
//! The key covers what decides the answer (model, API, prompt file and values, sampling,
//! request index), not where the server is or how patiently it is called (`base_url`,
//! `stream`, timeouts, retries, `api_key_env`): moving the server keeps the cache.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use arrow::array::{Array, BooleanArray, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use super::{build_with, BuildCx, Check, Kind, RunCx, Stage, Unit};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;
use crate::llm::parse::{parse_responses, ParseOptions, RawResponse};
use crate::llm::{prompt, Api, ClientConfig, LlmClient, Sampling};

pub const KIND: Kind = Kind {
    name: "llm_generate",
    version: 2,
    summary: "ask a local LLM server for QA rows; keep every raw answer",
    inputs: &[],
    build: build_with::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Server root, e.g. `http://127.0.0.1:11434` (Ollama) or `http://127.0.0.1:1234`
    /// (LM Studio; a trailing `/v1` is fine).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// `ollama-chat`, `ollama-generate` or `openai-chat`.
    #[serde(default = "default_api")]
    pub api: Api,
    pub model: String,
    /// Prompt template, relative to the project folder.
    #[serde(default = "default_prompt")]
    pub prompt: String,
    /// Template values: distinct questions, train and test rows, optional topics.
    #[serde(default = "fifty")]
    pub questions: u32,
    #[serde(default = "hundred")]
    pub train_rows: u32,
    #[serde(default = "hundred")]
    pub test_rows: u32,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Request i is sent with seed + i, so repeated requests differ yet repeat.
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// How many answers to ask for.
    #[serde(default = "one")]
    pub requests: u32,
    #[serde(default)]
    pub stream: bool,
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    #[serde(default = "three")]
    pub retries: u32,
    #[serde(default = "default_backoff")]
    pub backoff_secs: f64,
    /// Name of the environment variable holding the API key (never the key itself).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Extra request fields for a server (llama.cpp `grammar`, `top_p`, ...).
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// Chunked generation: ask `per_request` questions per request until this many clean
    /// question pairs (one +1 and one -1 answer each, deduplicated across requests) parse,
    /// or `max_requests` are spent. Unset: exactly `requests` requests.
    #[serde(default)]
    pub pairs: Option<u32>,
    /// Questions per request in chunked mode; 5 (10 rows) fits a 4096-token context.
    #[serde(default = "five")]
    pub per_request: u32,
    /// Request budget in chunked mode; default four times the requests the target needs.
    #[serde(default)]
    pub max_requests: Option<u32>,
    /// Constrained output: `none`, `grammar` (llama.cpp's GBNF `grammar`, from the file
    /// `grammar`) or `json-schema` (Ollama's `format`, OpenAI's `response_format`, from the
    /// file `schema`).
    #[serde(default)]
    pub constrain: Constrain,
    #[serde(default = "default_grammar")]
    pub grammar: String,
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Largest answer read from the server, in bytes (body or whole stream).
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: u64,
}

/// How the server is made to answer in the expected shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Constrain {
    #[default]
    None,
    Grammar,
    JsonSchema,
}

/// The connection params both LLM stages take: a server URL, a positive timeout, a
/// non-negative backoff and a response cap above zero.
pub fn check_connection(
    cx: &mut BuildCx<'_>,
    base_url: &str,
    timeout_secs: f64,
    backoff_secs: f64,
    max_response_bytes: u64,
) -> Result<(), ConfigError> {
    if max_response_bytes == 0 {
        return Err(cx.error("max_response_bytes", "must be above zero"));
    }
    if !(timeout_secs.is_finite() && timeout_secs > 0.0) {
        return Err(cx.error("timeout_secs", "must be a positive number of seconds"));
    }
    if !(backoff_secs.is_finite() && backoff_secs >= 0.0) {
        return Err(cx.error(
            "backoff_secs",
            "must be zero or a positive number of seconds",
        ));
    }
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(cx
            .error("base_url", format!("`{base_url}` is not an http:// URL"))
            .help("e.g. http://127.0.0.1:11434 for Ollama, http://127.0.0.1:1234 for LM Studio"));
    }
    Ok(())
}

impl Constrain {
    /// The request fields that constrain the answer: llama.cpp's `grammar` (the GBNF file's
    /// text), or the JSON schema file as Ollama's `format` or OpenAI's `response_format`
    /// (named `schema_name`). Read at build time, so the files' contents are in the key.
    pub fn request_fields(
        self,
        cx: &mut BuildCx<'_>,
        api: Api,
        grammar: &str,
        schema: &str,
        schema_name: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ConfigError> {
        let mut fields = serde_json::Map::new();
        match self {
            Constrain::None => {}
            Constrain::Grammar => {
                let path = cx.file("grammar", grammar)?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| cx.error("grammar", format!("cannot read `{grammar}`: {e}")))?;
                fields.insert("grammar".into(), serde_json::Value::String(text));
            }
            Constrain::JsonSchema => {
                let path = cx.file("schema", schema)?;
                let value: serde_json::Value = std::fs::read_to_string(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
                    .map_err(|e| cx.error("schema", format!("`{schema}`: {e}")))?;
                if api == Api::OpenaiChat {
                    fields.insert(
                        "response_format".into(),
                        serde_json::json!({"type": "json_schema",
                            "json_schema": {"name": schema_name, "schema": value}}),
                    );
                } else {
                    fields.insert("format".into(), value);
                }
            }
        }
        Ok(fields)
    }
}

fn five() -> u32 {
    5
}
fn default_grammar() -> String {
    "data/prompts/qa-rows.gbnf".into()
}
fn default_schema() -> String {
    "data/prompts/qa-rows.schema.json".into()
}
fn default_max_response_bytes() -> u64 {
    crate::llm::client::DEFAULT_MAX_RESPONSE_BYTES
}

fn default_base_url() -> String {
    "http://127.0.0.1:11434".into()
}
fn default_api() -> Api {
    Api::OllamaChat
}
fn default_prompt() -> String {
    "data/prompts/study-tr.txt".into()
}
fn fifty() -> u32 {
    50
}
fn hundred() -> u32 {
    100
}
fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}
fn default_timeout() -> f64 {
    300.0
}
fn default_backoff() -> f64 {
    1.0
}

/// The params that decide what the model answers; what the key is made of.
#[derive(Serialize)]
struct KeyParams<'a> {
    api: Api,
    model: &'a str,
    prompt: &'a str,
    questions: u32,
    train_rows: u32,
    test_rows: u32,
    topics: &'a [String],
    system: &'a Option<String>,
    temperature: Option<f64>,
    seed: Option<u64>,
    max_tokens: Option<u32>,
    requests: u32,
    extra: &'a serde_json::Map<String, serde_json::Value>,
    pairs: Option<u32>,
    per_request: u32,
    max_requests: u32,
    constrain: Constrain,
}

struct LlmGenerate {
    p: Params,
    template: String,
    /// Request fields for `constrain` (`grammar`, `format` or `response_format`).
    constraint: serde_json::Map<String, serde_json::Value>,
    key_params: serde_json::Value,
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        let path = cx.file("prompt", &self.prompt)?;
        let template = std::fs::read_to_string(&path)
            .map_err(|e| cx.error("prompt", format!("cannot read `{}`: {e}", self.prompt)))?;
        prompt::render(&template, &prompt_vars(&self, 0)).map_err(|e| {
            cx.error("prompt", format!("`{}`: {e}", self.prompt))
                .help("placeholders: {questions}, {rows}, {train_rows}, {test_rows}, {topics}")
        })?;
        if self.model.trim().is_empty() {
            return Err(cx.error("model", "model is empty"));
        }
        if self.requests == 0 {
            return Err(cx.error("requests", "ask for at least one request"));
        }
        if self.pairs == Some(0) {
            return Err(cx.error("pairs", "ask for at least one pair"));
        }
        if self.per_request == 0 {
            return Err(cx.error("per_request", "ask for at least one question per request"));
        }
        if self.max_requests == Some(0) {
            return Err(cx.error("max_requests", "the budget must allow one request"));
        }
        check_connection(
            cx,
            &self.base_url,
            self.timeout_secs,
            self.backoff_secs,
            self.max_response_bytes,
        )?;
        if let Some(t) = self.temperature {
            if !(t.is_finite() && t >= 0.0) {
                return Err(cx.error("temperature", "must be zero or positive"));
            }
        }
        let constraint =
            self.constrain
                .request_fields(cx, self.api, &self.grammar, &self.schema, "qa_rows")?;
        let key = KeyParams {
            api: self.api,
            model: &self.model,
            prompt: &self.prompt,
            questions: self.questions,
            train_rows: self.train_rows,
            test_rows: self.test_rows,
            topics: &self.topics,
            system: &self.system,
            temperature: self.temperature,
            seed: self.seed,
            max_tokens: self.max_tokens,
            requests: self.requests,
            extra: &self.extra,
            pairs: self.pairs,
            per_request: self.per_request,
            max_requests: budget(&self),
            constrain: self.constrain,
        };
        let key_params = serde_json::to_value(&key).map_err(|e| ConfigError::new(e.to_string()))?;
        cx.set_canonical(key_params.clone());
        Ok(Box::new(LlmGenerate {
            p: self,
            template,
            constraint,
            key_params,
        }))
    }
}

/// Requests the target needs if every question parsed.
fn first_wave(p: &Params) -> u32 {
    match p.pairs {
        Some(pairs) => pairs.div_ceil(p.per_request).min(budget(p)),
        None => p.requests,
    }
}

fn budget(p: &Params) -> u32 {
    match p.pairs {
        Some(pairs) => p
            .max_requests
            .unwrap_or_else(|| pairs.div_ceil(p.per_request).saturating_mul(4)),
        None => p.requests,
    }
}

/// Template values for request `i`. In chunked mode each request asks `per_request`
/// questions (two rows each) on the i-th topic (cycling), all rows in one block.
fn prompt_vars(p: &Params, i: u32) -> std::collections::BTreeMap<String, String> {
    let mut vars = if p.pairs.is_some() {
        let topic: Vec<String> = if p.topics.is_empty() {
            Vec::new()
        } else {
            vec![p.topics[i as usize % p.topics.len()].clone()]
        };
        prompt::study_vars(p.per_request, 2 * p.per_request, 0, &topic)
    } else {
        prompt::study_vars(p.questions, p.train_rows, p.test_rows, &p.topics)
    };
    let rows = vars["train_rows"].parse::<u32>().unwrap_or(0)
        + vars["test_rows"].parse::<u32>().unwrap_or(0);
    vars.insert("rows".into(), rows.to_string());
    vars
}

impl LlmGenerate {
    fn client(&self, request: u32) -> Result<LlmClient> {
        let p = &self.p;
        let mut c = ClientConfig::new(&p.base_url, p.api, &p.model);
        c.system = p.system.clone();
        c.sampling = Sampling {
            temperature: p.temperature,
            seed: p.seed.map(|s| s.wrapping_add(u64::from(request))),
            max_tokens: p.max_tokens,
        };
        c.stream = p.stream;
        c.timeout = Duration::from_secs_f64(p.timeout_secs);
        c.retries = p.retries;
        c.backoff = Duration::from_secs_f64(p.backoff_secs);
        c.api_key_env = p.api_key_env.clone();
        c.extra = self.constraint.clone();
        c.extra.extend(p.extra.clone());
        c.max_response_bytes = p.max_response_bytes;
        Ok(LlmClient::new(c)?)
    }

    fn prompt(&self, request: u32) -> Result<String> {
        Ok(prompt::render(
            &self.template,
            &prompt_vars(&self.p, request),
        )?)
    }

    /// One request, with retries; notes go to `cx`.
    fn ask(&self, request: u32, cx: &RunCx<'_>) -> Result<StoredResponse> {
        let client = self.client(request)?;
        let g = client.generate_with(&self.prompt(request)?, |attempt, failure, wait| {
            cx.warn(format!(
                "request {request}: attempt {attempt} failed ({failure}); retrying in {:.1} s",
                wait.as_secs_f64()
            ))
        })?;
        let c = g.completion;
        if c.truncated {
            cx.warn(format!(
                "request {request}: the answer was {}; kept, flagged truncated",
                c.cut_off_reason(self.p.max_tokens)
            ));
        }
        Ok(StoredResponse {
            request,
            seed: client.config().sampling.seed,
            text: c.text,
            finish_reason: c.finish_reason,
            truncated: c.truncated,
            model: c.model,
            attempts: g.attempts,
        })
    }
}

/// Clean question pairs the responses give together (duplicates across them count once).
fn clean_pairs(rows: &[StoredResponse]) -> (usize, String) {
    let raw: Vec<RawResponse<'_>> = rows
        .iter()
        .map(|r| RawResponse {
            text: &r.text,
            truncated: r.truncated,
        })
        .collect();
    let out = parse_responses(&raw, &ParseOptions::default());
    (out.rows.len() / 2, out.summary.one_line())
}

/// Columns of the `responses` table (one row per request).
fn responses_schema() -> Schema {
    Schema::new(vec![
        Field::new("request", DataType::UInt32, false),
        Field::new("seed", DataType::UInt64, true),
        Field::new("text", DataType::Utf8, false),
        Field::new("finish_reason", DataType::Utf8, true),
        Field::new("truncated", DataType::Boolean, false),
        Field::new("model", DataType::Utf8, true),
        Field::new("attempts", DataType::UInt32, false),
    ])
}

/// One raw answer as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub request: u32,
    pub seed: Option<u64>,
    pub text: String,
    pub finish_reason: Option<String>,
    pub truncated: bool,
    pub model: Option<String>,
    pub attempts: u32,
}

pub fn responses_to_batch(rows: &[StoredResponse]) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        Arc::new(responses_schema()),
        vec![
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.request),
            )),
            Arc::new(UInt64Array::from(
                rows.iter().map(|r| r.seed).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.text.as_str()),
            )),
            Arc::new(StringArray::from(
                rows.iter()
                    .map(|r| r.finish_reason.as_deref())
                    .collect::<Vec<_>>(),
            )),
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.truncated).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.model.as_deref()).collect::<Vec<_>>(),
            )),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.attempts),
            )),
        ],
    )?)
}

pub fn responses_from_batch(batch: &RecordBatch) -> Result<Vec<StoredResponse>> {
    fn col<'b, T: 'static>(batch: &'b RecordBatch, name: &str) -> Result<&'b T> {
        batch
            .column_by_name(name)
            .with_context(|| format!("responses table has no column `{name}`"))?
            .as_any()
            .downcast_ref::<T>()
            .with_context(|| format!("responses column `{name}` has an unexpected type"))
    }
    let request = col::<UInt32Array>(batch, "request")?;
    let seed = col::<UInt64Array>(batch, "seed")?;
    let text = col::<StringArray>(batch, "text")?;
    let finish = col::<StringArray>(batch, "finish_reason")?;
    let truncated = col::<BooleanArray>(batch, "truncated")?;
    let model = col::<StringArray>(batch, "model")?;
    let attempts = col::<UInt32Array>(batch, "attempts")?;
    let opt_str = |a: &StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
    Ok((0..batch.num_rows())
        .map(|i| StoredResponse {
            request: request.value(i),
            seed: seed.is_valid(i).then(|| seed.value(i)),
            text: text.value(i).to_string(),
            finish_reason: opt_str(finish, i),
            truncated: truncated.value(i),
            model: opt_str(model, i),
            attempts: attempts.value(i),
        })
        .collect())
}

impl Stage for LlmGenerate {
    fn units(&self) -> Vec<Unit> {
        (0..first_wave(&self.p))
            .map(|i| {
                let mut params = self.key_params.clone();
                params["request"] = serde_json::json!(i);
                Unit::new(format!("request={i}"), &params)
            })
            .collect()
    }

    fn run_unit(&self, unit: &Unit, cx: &RunCx<'_>) -> Result<Output> {
        let request = unit.params.value()["request"]
            .as_u64()
            .context("unit without a request index")? as u32;
        let row = self.ask(request, cx)?;
        Ok(Output::default().table("responses", responses_to_batch(&[row])?))
    }

    fn run(&self, cx: &RunCx<'_>, units: &[Arc<Artifact>]) -> Result<Output> {
        let mut rows = Vec::with_capacity(units.len());
        for u in units {
            rows.extend(responses_from_batch(&u.table("responses")?)?);
            // Unit notes (retries, cut-off answers) live in the unit's manifest; repeat
            // them on the stage so the run shows them.
            for note in &u.manifest.notes {
                cx.warn(note.clone());
            }
        }
        rows.sort_by_key(|r| r.request);
        let wave = first_wave(&self.p);
        if rows.len() != wave as usize {
            bail!("expected {wave} responses, found {}", rows.len());
        }
        if let Some(target) = self.p.pairs {
            // The first wave is cached per request; requests beyond it are asked one at a
            // time, only while the clean pairs so far fall short, and stored with the stage.
            let budget = budget(&self.p);
            let (mut got, mut summary) = clean_pairs(&rows);
            let mut next = wave;
            while got < target as usize && next < budget {
                rows.push(self.ask(next, cx)?);
                next += 1;
                (got, summary) = clean_pairs(&rows);
            }
            let why = if got >= target as usize {
                "target reached".to_string()
            } else {
                format!("request budget (max_requests {budget}) spent")
            };
            cx.warn(format!(
                "{got} clean pair(s) of {target} asked for after {next} request(s) ({wave} cached one by one, {} more): {why}; {summary}",
                next - wave
            ));
        }
        let empty = rows.iter().filter(|r| r.text.trim().is_empty()).count();
        if empty > 0 {
            cx.warn(format!("{empty} of {} answers are empty", rows.len()));
        }
        let cut = rows.iter().filter(|r| r.truncated).count();
        cx.warn(format!(
            "{} answer(s) from {} ({}), {cut} cut off at the token limit",
            rows.len(),
            self.p.model,
            self.p.api.name()
        ));
        Ok(Output::default()
            .table("responses", responses_to_batch(&rows)?)
            .file("prompt.txt", self.prompt(0)?.into_bytes()))
    }
}
