//! `llm_judge`: an LLM as the judge of answer quality, the baseline people use today beside
//! a trained classifier. Each (question, answer) of a QA table's `test` rows is sent to an
//! Ollama or OpenAI-compatible server with a Turkish grading prompt
//! (`data/prompts/judge-tr.txt`); the answer's 1-5 score becomes `(score - 3) / 2` in
//! [-1, 1], so `evaluate` reads it like the MLP's tanh output (above 0 predicts +1).
//!
//! One request per distinct (question, answer) is one cached unit: a rerun asks nothing,
//! and when some requests fail the others stay cached. A unit's key also covers the input
//! stage's key (the engine's rule for units), so a changed input table asks again for
//! every answer. The units depend on the input table's contents, so they come from
//! `units_with`; an engine that only knows `units()` (`jobs`, `exec`) still gets a correct
//! artifact, every request asked in `run`.
//! Tables: `runs` and `scores` in `train`'s shape (optimizer `llm_judge`, seed = the
//! sampling seed), and `verdicts` (every raw answer, its score and whether it parsed).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use arrow::array::{Array, BooleanArray, StringArray, UInt32Array};
use serde::{Deserialize, Serialize};

use super::llm_generate::{check_connection, Constrain};
use super::qa_table::{self, QaRow};
use super::runs_table::{self, RunRow};
use super::train::{batch, strings};
use super::{build_with, BuildCx, Check, Kind, Role, RunCx, Stage, Unit};
use super::{curves, scores};
use crate::cache::{Artifact, Output};
use crate::error::ConfigError;
use crate::llm::{prompt, Api, ClientConfig, LlmClient, Sampling};

pub const KIND: Kind = Kind {
    name: "llm_judge",
    version: 1,
    summary: "an LLM grades each test answer (1-5); scores in train's shape for evaluate",
    inputs: &[Role::one("data")],
    build: build_with::<Params>,
};

/// The `optimizer` value of the judge's runs, so `evaluate` lists it beside gd, adam...
pub const JUDGE: &str = "llm_judge";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    #[serde(default = "default_api")]
    pub api: Api,
    pub model: String,
    /// Grading template with `{question}` and `{answer}`.
    #[serde(default = "default_prompt")]
    pub prompt: String,
    /// Which table of the input to judge.
    #[serde(default = "default_table")]
    pub table: String,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: Option<u32>,
    /// `none`, `grammar` (GBNF, `grammar` file) or `json-schema` (`schema` file).
    #[serde(default)]
    pub constrain: Constrain,
    #[serde(default = "default_grammar")]
    pub grammar: String,
    #[serde(default = "default_schema")]
    pub schema: String,
    #[serde(default)]
    pub stream: bool,
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    #[serde(default = "three")]
    pub retries: u32,
    #[serde(default = "default_backoff")]
    pub backoff_secs: f64,
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: u64,
}

fn default_base_url() -> String {
    "http://127.0.0.1:11434".into()
}
fn default_api() -> Api {
    Api::OllamaChat
}
fn default_prompt() -> String {
    "data/prompts/judge-tr.txt".into()
}
fn default_table() -> String {
    "test".into()
}
fn default_max_tokens() -> Option<u32> {
    Some(16)
}
fn default_grammar() -> String {
    "data/prompts/judge-score.gbnf".into()
}
fn default_schema() -> String {
    "data/prompts/judge-score.schema.json".into()
}
fn default_timeout() -> f64 {
    120.0
}
fn three() -> u32 {
    3
}
fn default_backoff() -> f64 {
    1.0
}
fn default_max_response_bytes() -> u64 {
    crate::llm::client::DEFAULT_MAX_RESPONSE_BYTES
}

/// What decides a verdict; the key (server location and patience left out).
#[derive(Serialize)]
struct KeyParams<'a> {
    api: Api,
    model: &'a str,
    prompt: &'a str,
    table: &'a str,
    system: &'a Option<String>,
    temperature: Option<f64>,
    seed: Option<u64>,
    max_tokens: Option<u32>,
    constrain: Constrain,
    extra: &'a serde_json::Map<String, serde_json::Value>,
}

struct LlmJudge {
    p: Params,
    template: String,
    constraint: serde_json::Map<String, serde_json::Value>,
    key_params: serde_json::Value,
}

fn vars(question: &str, answer: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("question".to_string(), question.to_string()),
        ("answer".to_string(), answer.to_string()),
    ])
}

impl Check for Params {
    fn check(self, cx: &mut BuildCx<'_>) -> Result<Box<dyn Stage>, ConfigError> {
        let path = cx.file("prompt", &self.prompt)?;
        let template = std::fs::read_to_string(&path)
            .map_err(|e| cx.error("prompt", format!("cannot read `{}`: {e}", self.prompt)))?;
        prompt::render(&template, &vars("q", "a")).map_err(|e| {
            cx.error("prompt", format!("`{}`: {e}", self.prompt))
                .help("placeholders: {question}, {answer}")
        })?;
        if self.model.trim().is_empty() {
            return Err(cx.error("model", "model is empty"));
        }
        if !["train", "test"].contains(&self.table.as_str()) {
            return Err(cx.error("table", "judge the `test` or the `train` table"));
        }
        check_connection(
            cx,
            &self.base_url,
            self.timeout_secs,
            self.backoff_secs,
            self.max_response_bytes,
        )?;
        let constraint =
            self.constrain
                .request_fields(cx, self.api, &self.grammar, &self.schema, "score")?;
        let key = KeyParams {
            api: self.api,
            model: &self.model,
            prompt: &self.prompt,
            table: &self.table,
            system: &self.system,
            temperature: self.temperature,
            seed: self.seed,
            max_tokens: self.max_tokens,
            constrain: self.constrain,
            extra: &self.extra,
        };
        let key_params = serde_json::to_value(&key).map_err(|e| ConfigError::new(e.to_string()))?;
        cx.set_canonical(key_params.clone());
        Ok(Box::new(LlmJudge {
            p: self,
            template,
            constraint,
            key_params,
        }))
    }
}

/// A grade read from the judge's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub text: String,
    /// 1-5, when the answer held one.
    pub grade: Option<u8>,
}

impl Verdict {
    /// `(grade - 3) / 2`: 1 -> -1, 3 -> 0, 5 -> +1; 0 when no grade could be read, which
    /// `evaluate` counts as predicting -1.
    pub fn score(&self) -> f64 {
        self.grade.map_or(0.0, |g| (f64::from(g) - 3.0) / 2.0)
    }
}

/// The grade in a judge's answer: `{"puan": 4}`, a lone or leading digit 1-5 (`4`,
/// `Puan: 4/5`), or a verdict word (`iyi`/`doğru`/`good` = 5, `kötü`/`yanlış`/`bad` = 1).
pub fn read_grade(text: &str) -> Option<u8> {
    let t = text.trim();
    if let Some(v) = t
        .starts_with('{')
        .then(|| serde_json::from_str::<serde_json::Value>(t).ok())
        .flatten()
    {
        let n = v["puan"].as_u64().or_else(|| v["score"].as_u64());
        return n.filter(|n| (1..=5).contains(n)).map(|n| n as u8);
    }
    let digits: Vec<char> = t.chars().filter(char::is_ascii_digit).collect();
    if let Some(d) = digits.first() {
        let n = d.to_digit(10)? as u8;
        return (1..=5).contains(&n).then_some(n);
    }
    let lower = crate::text::turkish_lowercase(t);
    if ["kötü", "yanlış", "bad"].iter().any(|w| lower.contains(w)) {
        Some(1)
    } else if ["iyi", "doğru", "good"].iter().any(|w| lower.contains(w)) {
        Some(5)
    } else {
        None
    }
}

impl LlmJudge {
    fn client(&self) -> Result<LlmClient> {
        let p = &self.p;
        let mut c = ClientConfig::new(&p.base_url, p.api, &p.model);
        c.system = p.system.clone();
        c.sampling = Sampling {
            temperature: p.temperature,
            seed: p.seed,
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

    fn ask(&self, question: &str, answer: &str, cx: &RunCx<'_>) -> Result<Verdict> {
        let prompt = prompt::render(&self.template, &vars(question, answer))?;
        let g = self
            .client()?
            .generate_with(&prompt, |attempt, failure, wait| {
                cx.warn(format!(
                    "attempt {attempt} failed ({failure}); retrying in {:.1} s",
                    wait.as_secs_f64()
                ))
            })?;
        let text = g.completion.text;
        Ok(Verdict {
            grade: read_grade(&text),
            text,
        })
    }

    fn rows(&self, data: &Artifact) -> Result<Vec<QaRow>> {
        Ok(qa_table::from_batch(&data.table(&self.p.table)?)?.0)
    }
}

fn verdict_batch(q: &str, a: &str, v: &Verdict) -> Result<arrow::array::RecordBatch> {
    batch(vec![
        ("question", strings(vec![q.to_string()])),
        ("answer", strings(vec![a.to_string()])),
        ("text", strings(vec![v.text.clone()])),
        (
            "grade",
            Arc::new(UInt32Array::from(vec![v.grade.map(u32::from)])),
        ),
    ])
}

fn col<'a, T: 'static>(b: &'a arrow::array::RecordBatch, name: &str) -> Result<&'a T> {
    b.column_by_name(name)
        .with_context(|| format!("verdict table has no column `{name}`"))?
        .as_any()
        .downcast_ref::<T>()
        .with_context(|| format!("verdict column `{name}` has an unexpected type"))
}

impl Stage for LlmJudge {
    fn units_with(&self, inputs: &BTreeMap<String, Vec<Arc<Artifact>>>) -> Result<Vec<Unit>> {
        let data = match inputs.get("data").map(Vec::as_slice) {
            Some([a]) => a,
            _ => return Ok(Vec::new()),
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut units = Vec::new();
        for (i, r) in self.rows(data)?.into_iter().enumerate() {
            if seen.insert((r.question.clone(), r.answer.clone())) {
                let mut params = self.key_params.clone();
                params["question"] = serde_json::json!(r.question);
                params["answer"] = serde_json::json!(r.answer);
                units.push(Unit::new(format!("row={i}"), &params));
            }
        }
        Ok(units)
    }

    fn run_unit(&self, unit: &Unit, cx: &RunCx<'_>) -> Result<Output> {
        let params = unit.params.value();
        let q = params["question"]
            .as_str()
            .context("unit without question")?;
        let a = params["answer"].as_str().context("unit without answer")?;
        let v = self.ask(q, a, cx)?;
        Ok(Output::default().table("verdict", verdict_batch(q, a, &v)?))
    }

    fn run(&self, cx: &RunCx<'_>, units: &[Arc<Artifact>]) -> Result<Output> {
        let data = cx.input("data")?;
        let rows = self.rows(data)?;
        let mut known: BTreeMap<(String, String), Verdict> = BTreeMap::new();
        for u in units {
            let b = u.table("verdict")?;
            let (q, a, t) = (
                col::<StringArray>(&b, "question")?,
                col::<StringArray>(&b, "answer")?,
                col::<StringArray>(&b, "text")?,
            );
            let g = col::<UInt32Array>(&b, "grade")?;
            for i in 0..b.num_rows() {
                known.insert(
                    (q.value(i).to_string(), a.value(i).to_string()),
                    Verdict {
                        text: t.value(i).to_string(),
                        grade: g.is_valid(i).then(|| g.value(i) as u8),
                    },
                );
            }
        }
        let mut verdicts = Vec::with_capacity(rows.len());
        for r in &rows {
            let k = (r.question.clone(), r.answer.clone());
            let v = match known.get(&k) {
                Some(v) => v.clone(),
                // Not asked as a unit (an engine without `units_with`): ask now.
                None => {
                    let v = self.ask(&r.question, &r.answer, cx)?;
                    known.insert(k, v.clone());
                    v
                }
            };
            verdicts.push(v);
        }
        let n = rows.len();
        let seed = self.p.seed.unwrap_or(0);
        let labels: Vec<f64> = rows.iter().map(|r| f64::from(r.label)).collect();
        let scores: Vec<f64> = verdicts.iter().map(Verdict::score).collect();
        let unread = verdicts.iter().filter(|v| v.grade.is_none()).count();
        let correct = labels
            .iter()
            .zip(&scores)
            .filter(|(l, s)| (**s > 0.0) == (**l > 0.0))
            .count();
        let acc = if n == 0 {
            None
        } else {
            Some(correct as f64 / n as f64)
        };
        let runs = runs_table::to_batch(
            &runs_table::JUDGE,
            &[RunRow {
                config: JUDGE.to_string(),
                seed,
                status: "completed".to_string(),
                test_rows: Some(n as u32),
                unread: Some(unread as u32),
                test_acc: acc,
                ..RunRow::default()
            }],
        )?;
        // The same table `train` writes, through the one scores schema.
        let scores_t = scores::to_batch(&[(scores::OPTIMIZER, JUDGE)], seed, &labels, &scores)?;
        let verdicts_t = batch(vec![
            ("row", Arc::new(UInt32Array::from_iter_values(0..n as u32))),
            (
                "question",
                strings(rows.iter().map(|r| r.question.clone()).collect()),
            ),
            (
                "answer",
                strings(rows.iter().map(|r| r.answer.clone()).collect()),
            ),
            (
                "label",
                Arc::new(arrow::array::Int8Array::from_iter_values(
                    rows.iter().map(|r| r.label),
                )),
            ),
            (
                "text",
                strings(verdicts.iter().map(|v| v.text.clone()).collect()),
            ),
            (
                "grade",
                Arc::new(UInt32Array::from(
                    verdicts
                        .iter()
                        .map(|v| v.grade.map(u32::from))
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "parsed",
                Arc::new(BooleanArray::from(
                    verdicts
                        .iter()
                        .map(|v| v.grade.is_some())
                        .collect::<Vec<_>>(),
                )),
            ),
        ])?;
        let mut out = Output::default()
            .table(curves::RUNS, runs)
            .table("scores", scores_t)
            .table("verdicts", verdicts_t);
        out.notes.push(format!(
            "{n} answer(s) judged by {} ({} distinct requests), {unread} without a readable 1-5 grade (scored 0)",
            self.p.model,
            known.len()
        ));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_are_read_from_json_digits_or_words() {
        assert_eq!(read_grade("4"), Some(4));
        assert_eq!(read_grade("5\n"), Some(5));
        assert_eq!(read_grade(" Puan: 2/5 "), Some(2));
        assert_eq!(read_grade("{\"puan\": 5}"), Some(5));
        assert_eq!(read_grade("{\"puan\": 9}"), None);
        assert_eq!(read_grade("7"), None);
        assert_eq!(read_grade("Bu cevap KÖTÜ."), Some(1));
        assert_eq!(read_grade("İyi bir cevap"), Some(5));
        assert_eq!(read_grade("bilmiyorum"), None);
        let v = |g| Verdict {
            text: String::new(),
            grade: g,
        };
        assert_eq!(
            [v(Some(1)), v(Some(3)), v(Some(5)), v(None)].map(|x| x.score()),
            [-1.0, 0.0, 1.0, 0.0]
        );
    }
}
