//! Finding the ONNX Runtime shared library and loading it once per process.
//!
//! `ort` is built with `load-dynamic`: nothing is linked at build time, and `ort::init()`
//! would panic on a missing library, so the path is resolved here and handed to
//! `ort::init_from`, which turns a missing or unusable library into an error.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;

use super::error::EmbedError;

/// Environment variable naming the ONNX Runtime library (`ORT_DYLIB_PATH`, `ort`'s own
/// variable, is honoured too).
pub const ORT_LIB_ENV: &str = "QA_PIPE_ORT_LIB";
/// The script that fetches the runtime and the default model.
pub const SETUP_SCRIPT: &str = "scripts/setup-models.sh";

const LIB_NAME: &str = "libonnxruntime.so";

/// Pick the library file: an explicit path wins, then `QA_PIPE_ORT_LIB`, then `ORT_DYLIB_PATH`
/// (an explicit choice is never silently replaced by a fallback); otherwise the copy that
/// `scripts/setup-models.sh` installs, next to the model (`<model>/../onnxruntime/`) or under
/// `./models/onnxruntime/`.
pub fn resolve_runtime_path(
    explicit: Option<&Path>,
    model_dir: Option<&Path>,
) -> Result<PathBuf, EmbedError> {
    let chosen = explicit
        .map(|p| ("param `ort_lib`".to_string(), p.to_path_buf()))
        .or_else(|| {
            [ORT_LIB_ENV, "ORT_DYLIB_PATH"].iter().find_map(|var| {
                std::env::var_os(var)
                    .filter(|v| !v.is_empty())
                    .map(|v| (format!("${var}"), PathBuf::from(v)))
            })
        });
    let candidates: Vec<(String, PathBuf)> = match chosen {
        Some(c) => vec![c],
        None => {
            let mut c = Vec::new();
            if let Some(parent) = model_dir.and_then(|d| d.parent()) {
                c.push((
                    "beside the model".to_string(),
                    parent.join("onnxruntime").join(LIB_NAME),
                ));
            }
            c.push((
                "default".to_string(),
                Path::new("models/onnxruntime").join(LIB_NAME),
            ));
            c
        }
    };
    match candidates.iter().find(|(_, p)| p.is_file()) {
        Some((_, p)) => Ok(p.clone()),
        None => Err(EmbedError::RuntimeNotFound { tried: candidates }),
    }
}

/// `ort` allows one environment per process, and the library can be loaded only once: keep
/// both here. The first successful load wins; later calls reuse it whatever path they name.
static ENVIRONMENT: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

/// Load the library at `path` (already resolved) unless one is loaded, and return the
/// process-wide environment plus the path of the library actually in use.
pub(crate) fn environment(path: &Path) -> Result<(PathBuf, Environment), EmbedError> {
    let mut slot = ENVIRONMENT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(loaded) = slot.as_ref() {
        return Ok(loaded.clone());
    }
    let load_err = |reason: String| EmbedError::RuntimeLoad {
        path: path.to_path_buf(),
        reason,
    };
    // ort resolves relative paths against the executable's folder; make them cwd-relative.
    let abs = std::path::absolute(path).map_err(|e| load_err(e.to_string()))?;
    let env = ort::init_from(&abs)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("qa-pipe")
        .with_telemetry(false)
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    *slot = Some((abs.clone(), env.clone()));
    Ok((abs, env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_missing_library_is_reported_with_the_fix() {
        let err = resolve_runtime_path(Some(Path::new("/nonexistent/libonnxruntime.so")), None)
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/nonexistent/libonnxruntime.so (param `ort_lib`)"),
            "{msg}"
        );
        assert!(
            msg.contains(SETUP_SCRIPT) && msg.contains(ORT_LIB_ENV),
            "{msg}"
        );
    }

    #[test]
    fn library_beside_the_model_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("onnxruntime").join(LIB_NAME);
        std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
        std::fs::write(&lib, b"").unwrap();
        // Only meaningful when neither variable is set (as in CI); otherwise they win by design.
        if std::env::var_os(ORT_LIB_ENV).is_none() && std::env::var_os("ORT_DYLIB_PATH").is_none() {
            let got = resolve_runtime_path(None, Some(&tmp.path().join("some-model"))).unwrap();
            assert_eq!(got, lib);
        }
    }
}
