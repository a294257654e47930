//! Stage and unit keys: blake3 over kind, version, canonical params, upstream keys and the
//! content of every file read. File contents are hashed once and remembered by
//! (path, size, mtime), so touching a file rehashes it but an unchanged content keeps its key.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::cache::{hash_file, write_atomic};

/// Everything a key is made of; kept so `status` can say exactly what changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Material {
    pub kind: String,
    pub version: u32,
    pub params: serde_json::Value,
    pub inputs: BTreeMap<String, Vec<String>>,
    pub files: BTreeMap<String, String>,
}

impl Material {
    pub fn key(&self) -> String {
        digest(&serde_json::to_value(self).expect("material serialises"))
    }

    /// A unit's key: the stage's material with the unit's own params in place of the stage's,
    /// so a unit keeps its key when sibling units are added or removed.
    pub fn unit_key(&self, unit_params: &serde_json::Value) -> String {
        let mut m = self.clone();
        m.params = serde_json::json!({ "unit": unit_params });
        m.key()
    }
}

/// 128 bits of blake3 over the canonical (key-sorted) JSON text.
pub fn digest(v: &serde_json::Value) -> String {
    let text = canonical(v).to_string();
    blake3::hash(text.as_bytes()).to_hex()[..32].to_string()
}

/// The same value with every object's keys sorted, so field order never changes a key.
pub fn canonical(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Seen {
    size: u64,
    mtime_ns: u128,
    blake3: String,
}

/// Content hashes of input files, remembered between runs in artifacts/state/files.json.
pub struct FileHashes {
    path: PathBuf,
    seen: BTreeMap<String, Seen>,
    dirty: bool,
}

impl FileHashes {
    pub fn load(path: &Path) -> FileHashes {
        let seen = fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        FileHashes {
            path: path.to_path_buf(),
            seen,
            dirty: false,
        }
    }

    pub fn hash(&mut self, file: &Path) -> Result<String> {
        let meta = fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let id = file.to_string_lossy().into_owned();
        if let Some(s) = self.seen.get(&id) {
            if s.size == meta.len() && s.mtime_ns == mtime_ns {
                return Ok(s.blake3.clone());
            }
        }
        let blake3 = hash_file(file).with_context(|| format!("hashing {}", file.display()))?;
        self.seen.insert(
            id,
            Seen {
                size: meta.len(),
                mtime_ns,
                blake3: blake3.clone(),
            },
        );
        self.dirty = true;
        Ok(blake3)
    }

    /// Saves only when something was hashed; a lost race just means rehashing next time.
    pub fn save(&self) {
        if self.dirty {
            if let Ok(text) = serde_json::to_string(&self.seen) {
                let _ = write_atomic(&self.path, text.as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ignores_field_order_but_not_values() {
        let a = serde_json::json!({"a": 1, "b": [1, 2]});
        let b: serde_json::Value = serde_json::from_str(r#"{"b": [1, 2], "a": 1}"#).unwrap();
        let c = serde_json::json!({"a": 1, "b": [2, 1]});
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&c));
    }

    #[test]
    fn unchanged_content_keeps_its_hash_after_touch() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.csv");
        fs::write(&f, "a,b\n").unwrap();
        let mut h = FileHashes::load(&dir.path().join("files.json"));
        let first = h.hash(&f).unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(h.hash(&f).unwrap(), first);
        fs::write(&f, "a,c\n").unwrap();
        assert_ne!(h.hash(&f).unwrap(), first);
    }
}
