//! `E5Model`: tokenise, run the ONNX graph in batches of equal token length, mean-pool,
//! normalise.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::{Array2, ArrayView3};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorElementType};
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use super::batching::equal_length_batches;
use super::error::EmbedError;
use super::model_dir::ModelDir;
use super::pooling::{l2_normalize, pool_batch};
use super::runtime::{environment, resolve_runtime_path};

/// How to load and run a model. `Default` is the study's setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E5Options {
    /// Tokens per text, special tokens included; longer texts are truncated (E5: 512).
    pub max_length: usize,
    /// ONNX Runtime intra-op threads; 0 lets ONNX Runtime use every core. Speed only: the
    /// vectors are the same bits with any count (tests/e5_batching.rs).
    pub threads: usize,
    /// The ONNX Runtime library; `None` looks at `QA_PIPE_ORT_LIB`, `ORT_DYLIB_PATH`, then
    /// the copy `scripts/setup-models.sh` installs.
    pub ort_lib: Option<PathBuf>,
}

impl Default for E5Options {
    fn default() -> Self {
        Self {
            max_length: 512,
            threads: 0,
            ort_lib: None,
        }
    }
}

/// A loaded sentence-embedding model. `embed` may be called from several threads; runs are
/// serialised on the one session (ONNX Runtime parallelises inside each run).
pub struct E5Model {
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    pad_id: i64,
    dim: usize,
    output: String,
    token_type_ids: bool,
    dir: ModelDir,
    runtime: PathBuf,
    opts: E5Options,
}

impl std::fmt::Debug for E5Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E5Model")
            .field("dir", &self.dir.dir)
            .field("dim", &self.dim)
            .field("runtime", &self.runtime)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn ort_msg<R>(e: ort::Error<R>) -> String
where
    ort::Error<()>: From<ort::Error<R>>,
{
    ort::Error::<()>::from(e).to_string()
}

impl E5Model {
    /// Load `dir` (model.onnx + tokenizer.json, as an optimum export writes them). Checks
    /// the directory first, then the runtime, then the graph's inputs and outputs.
    pub fn load(dir: &Path, opts: E5Options) -> Result<Self, EmbedError> {
        if opts.max_length < 2 {
            return Err(EmbedError::Options(format!(
                "max_length must be at least 2 (room for the special tokens), got {}",
                opts.max_length
            )));
        }
        let dir = ModelDir::open(dir)?;
        let lib = resolve_runtime_path(opts.ort_lib.as_deref(), Some(&dir.dir))?;
        let (runtime, env) = environment(&lib)?;

        let (tokenizer, pad_id) = load_tokenizer(&dir.tokenizer, opts.max_length)?;

        let session_err = |reason| EmbedError::Session {
            path: dir.model.clone(),
            reason,
        };
        let mut builder = Session::builder(&env)
            .map_err(ort_msg)
            .and_then(|b| {
                b.with_optimization_level(GraphOptimizationLevel::Level3)
                    .map_err(ort_msg)
            })
            .and_then(|b| b.with_inter_threads(1).map_err(ort_msg))
            // ONNX Runtime's own promise of reproducible kernels, on top of the batching
            // that gives every text the same arithmetic (batching.rs).
            .and_then(|b| b.with_deterministic_compute(true).map_err(ort_msg))
            .map_err(session_err)?;
        if opts.threads > 0 {
            builder = builder
                .with_intra_threads(opts.threads)
                .map_err(|e| session_err(ort_msg(e)))?;
        }
        let session = builder
            .commit_from_file(&dir.model)
            .map_err(|e| session_err(ort_msg(e)))?;

        let sig_err = |reason: String| EmbedError::Signature {
            path: dir.model.clone(),
            reason,
        };
        let mut token_type_ids = false;
        for input in session.inputs() {
            match input.name() {
                "input_ids" | "attention_mask" => {}
                "token_type_ids" => token_type_ids = true,
                other => return Err(sig_err(format!("unexpected input `{other}`"))),
            }
            if input.dtype().tensor_type() != Some(TensorElementType::Int64) {
                return Err(sig_err(format!(
                    "input `{}` is {:?}, not int64",
                    input.name(),
                    input.dtype()
                )));
            }
        }
        for needed in ["input_ids", "attention_mask"] {
            if !session.inputs().iter().any(|i| i.name() == needed) {
                return Err(sig_err(format!("no `{needed}` input")));
            }
        }
        let rank3 =
            |o: &&ort::value::Outlet| o.dtype().tensor_shape().is_some_and(|s| s.len() == 3);
        let out = session
            .outputs()
            .iter()
            .find(|o| o.name() == "last_hidden_state")
            .or_else(|| session.outputs().iter().find(rank3))
            .ok_or_else(|| sig_err("no last_hidden_state output (nor any 3-d output)".into()))?;
        if out.dtype().tensor_type() != Some(TensorElementType::Float32) {
            return Err(sig_err(format!("output `{}` is not float32", out.name())));
        }
        let output = out.name().to_string();
        let static_dim = out
            .dtype()
            .tensor_shape()
            .and_then(|s| s.last().copied())
            .filter(|&d| d > 0);

        let mut model = Self {
            session: Mutex::new(session),
            tokenizer,
            pad_id,
            dim: static_dim.unwrap_or(0) as usize,
            output,
            token_type_ids,
            dir,
            runtime,
            opts,
        };
        if model.dim == 0 {
            // Dynamic hidden size in the graph: learn it from one tiny run.
            model.dim = model.run_batch(&[&model.encode(&["a"])?[0]])?.1;
        }
        Ok(model)
    }

    /// Embedding width (384 for multilingual-e5-small, 1024 for turkish-e5-large).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The model directory this was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir.dir
    }

    /// Whether the graph takes `token_type_ids` (fed as zeros).
    pub fn uses_token_type_ids(&self) -> bool {
        self.token_type_ids
    }

    pub fn options(&self) -> &E5Options {
        &self.opts
    }

    /// Token ids as the model sees them: special tokens added, truncated at `max_length`.
    pub fn token_ids<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
    ) -> Result<Vec<Vec<u32>>, EmbedError> {
        Ok(self
            .encode(texts)?
            .iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// One L2-normalised, mean-pooled vector per text, in input order: [texts.len(), dim].
    /// Prefixes ("query: ", "passage: ") are the caller's business. Texts are run in
    /// batches of one token length ([`equal_length_batches`]), so a text's vector does not
    /// depend on the other texts or on how many there are: the same bits as embedding it
    /// alone.
    pub fn embed<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Array2<f32>, EmbedError> {
        self.embed_counting(texts, |_| {})
    }

    /// As [`E5Model::embed`], calling `embedded(n)` after each batch with the number of
    /// texts embedded so far (for a progress bar).
    pub fn embed_counting<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        mut embedded: impl FnMut(usize),
    ) -> Result<Array2<f32>, EmbedError> {
        let encodings = self.encode(texts)?;
        let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
        let mut out = Array2::<f32>::zeros((texts.len(), self.dim));
        let mut done = 0;
        for batch in equal_length_batches(&lengths) {
            let encs: Vec<&Encoding> = batch.indices.iter().map(|&i| &encodings[i]).collect();
            let (pooled, _) = self.run_batch(&encs)?;
            for (row, &i) in pooled.chunks_exact(self.dim).zip(&batch.indices) {
                let mut dst = out.row_mut(i);
                dst.assign(&ndarray::ArrayView1::from(row));
                l2_normalize(dst);
            }
            done += batch.indices.len();
            embedded(done);
        }
        Ok(out)
    }

    fn encode<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Encoding>, EmbedError> {
        let inputs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        self.tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(|e| EmbedError::Tokenize(e.to_string()))
    }

    /// Right-pad one batch (nothing to pad when its texts have one length), run it,
    /// mean-pool: returns ([batch * dim] unnormalised, dim).
    fn run_batch(&self, encs: &[&Encoding]) -> Result<(Vec<f32>, usize), EmbedError> {
        let b = encs.len();
        let s = encs.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        let mut ids = vec![self.pad_id; b * s];
        let mut mask = vec![0i64; b * s];
        for (i, e) in encs.iter().enumerate() {
            for (j, (&id, &m)) in e.get_ids().iter().zip(e.get_attention_mask()).enumerate() {
                ids[i * s + j] = i64::from(id);
                mask[i * s + j] = i64::from(m);
            }
        }
        let infer = |e: ort::Error| EmbedError::Inference(e.to_string());
        let shape = [b, s];
        let mut inputs: Vec<(&str, SessionInputValue<'_>)> = vec![
            (
                "input_ids",
                Tensor::from_array((shape, ids)).map_err(infer)?.into(),
            ),
            (
                "attention_mask",
                Tensor::from_array((shape, mask.clone()))
                    .map_err(infer)?
                    .into(),
            ),
        ];
        if self.token_type_ids {
            inputs.push((
                "token_type_ids",
                Tensor::from_array((shape, vec![0i64; b * s]))
                    .map_err(infer)?
                    .into(),
            ));
        }
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session.run(inputs).map_err(infer)?;
        let (out_shape, data) = outputs[self.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(infer)?;
        let d = match **out_shape {
            [ob, os, d] if ob as usize == b && os as usize == s && d > 0 => d as usize,
            _ => {
                return Err(EmbedError::Inference(format!(
                    "output `{}` has shape {:?}, expected [{b}, {s}, dim]",
                    self.output, &**out_shape
                )))
            }
        };
        let hidden = ArrayView3::from_shape((b, s, d), data)
            .map_err(|e| EmbedError::Inference(e.to_string()))?;
        let mut pooled = vec![0f32; b * d];
        pool_batch(hidden, &mask, &mut pooled);
        Ok((pooled, d))
    }
}

/// Load the tokenizer with truncation at `max_length` and no padding (done per batch in
/// `run_batch`), and pick the pad id: the file's padding setting, else its `<pad>`/`[PAD]`
/// token, else 0. Padded positions are masked, so the id only matters to graphs that
/// derive positions from ids.
fn load_tokenizer(path: &Path, max_length: usize) -> Result<(Tokenizer, i64), EmbedError> {
    let err = |reason: String| EmbedError::Tokenizer {
        path: path.to_path_buf(),
        reason,
    };
    let mut tok = Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
    let pad_id = tok
        .get_padding()
        .map(|p| p.pad_id)
        .or_else(|| tok.token_to_id("<pad>"))
        .or_else(|| tok.token_to_id("[PAD]"))
        .unwrap_or(0);
    tok.with_padding(None);
    tok.with_truncation(Some(TruncationParams {
        max_length,
        ..Default::default()
    }))
    .map_err(|e| err(e.to_string()))?;
    Ok((tok, i64::from(pad_id)))
}
