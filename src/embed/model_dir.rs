//! Checking a model directory (optimum ONNX export layout) and listing the files whose
//! content defines the embeddings, for cache keys.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::EmbedError;

pub(crate) const MODEL_FILE: &str = "model.onnx";
pub(crate) const TOKENIZER_FILE: &str = "tokenizer.json";

/// A directory holding at least `model.onnx` and `tokenizer.json`.
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub dir: PathBuf,
    pub model: PathBuf,
    pub tokenizer: PathBuf,
}

impl ModelDir {
    /// Check the layout (not the contents) and say precisely what is wrong.
    pub fn open(dir: &Path) -> Result<Self, EmbedError> {
        if !dir.exists() {
            return Err(EmbedError::ModelDirMissing {
                dir: dir.to_path_buf(),
            });
        }
        let not_model = |missing, hint| EmbedError::NotAModelDir {
            dir: dir.to_path_buf(),
            missing,
            hint,
        };
        if !dir.is_dir() {
            return Err(not_model(
                MODEL_FILE,
                Some("it is a file, not a directory".into()),
            ));
        }
        let model = dir.join(MODEL_FILE);
        let tokenizer = dir.join(TOKENIZER_FILE);
        if !model.is_file() {
            let hint = if dir.join("onnx").join(MODEL_FILE).is_file() {
                Some(format!("but {}/onnx/{MODEL_FILE} exists: copy tokenizer.json beside it and point `model` there", dir.display()))
            } else {
                listing(dir)
            };
            return Err(not_model(MODEL_FILE, hint));
        }
        if is_lfs_pointer(&model) {
            return Err(not_model(
                MODEL_FILE,
                Some("model.onnx is a git-lfs pointer file, not the weights".into()),
            ));
        }
        if !tokenizer.is_file() {
            return Err(not_model(TOKENIZER_FILE, listing(dir)));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            model,
            tokenizer,
        })
    }
}

/// The files that determine the vectors, sorted: `model.onnx`, its external data
/// (`model.onnx_data`, `model.onnx.data`, ... any `model.onnx*`), and `tokenizer.json`.
/// Files that are absent are left out; `ModelDir::open` reports those.
pub fn model_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(MODEL_FILE) || n == TOKENIZER_FILE)
        })
        .collect();
    files.sort();
    files
}

fn listing(dir: &Path) -> Option<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Some(if names.is_empty() {
        "it is empty".to_string()
    } else if names.len() > 8 {
        format!(
            "it holds {}, ... ({} entries)",
            names[..8].join(", "),
            names.len()
        )
    } else {
        format!("it holds {}", names.join(", "))
    })
}

fn is_lfs_pointer(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.len() < 1024)
        && fs::read(path).is_ok_and(|b| b.starts_with(b"version https://git-lfs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path, content: &[u8]) {
        fs::write(p, content).unwrap();
    }

    #[test]
    fn missing_dir_says_how_to_get_the_model() {
        let msg = ModelDir::open(Path::new("/nonexistent/e5"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("/nonexistent/e5 does not exist"), "{msg}");
        assert!(msg.contains("scripts/setup-models.sh"), "{msg}");
    }

    #[test]
    fn wrong_dir_lists_what_is_there() {
        let tmp = tempfile::tempdir().unwrap();
        touch(&tmp.path().join("weights.bin"), b"x");
        let msg = ModelDir::open(tmp.path()).unwrap_err().to_string();
        assert!(
            msg.contains("no model.onnx (it holds weights.bin)"),
            "{msg}"
        );
    }

    #[test]
    fn missing_tokenizer_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        touch(&tmp.path().join(MODEL_FILE), &[0u8; 2048]);
        let msg = ModelDir::open(tmp.path()).unwrap_err().to_string();
        assert!(msg.contains("no tokenizer.json"), "{msg}");
    }

    #[test]
    fn hub_layout_and_lfs_pointers_get_hints() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("onnx")).unwrap();
        touch(&tmp.path().join("onnx").join(MODEL_FILE), &[0u8; 2048]);
        let msg = ModelDir::open(tmp.path()).unwrap_err().to_string();
        assert!(msg.contains("/onnx/model.onnx exists"), "{msg}");

        touch(
            &tmp.path().join(MODEL_FILE),
            b"version https://git-lfs.github.com/spec/v1\noid sha256:00\n",
        );
        let msg = ModelDir::open(tmp.path()).unwrap_err().to_string();
        assert!(msg.contains("git-lfs pointer"), "{msg}");
    }

    #[test]
    fn model_files_lists_weights_data_and_tokenizer_only() {
        let tmp = tempfile::tempdir().unwrap();
        for n in [
            MODEL_FILE,
            "model.onnx_data",
            TOKENIZER_FILE,
            "README.md",
            "config.json",
        ] {
            touch(&tmp.path().join(n), b"x");
        }
        let names: Vec<_> = model_files(tmp.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [MODEL_FILE, "model.onnx_data", TOKENIZER_FILE]);
        assert!(ModelDir::open(tmp.path()).is_ok());
        assert!(model_files(Path::new("/nonexistent")).is_empty());
    }
}
