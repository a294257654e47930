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

/// A stage's or unit's cache key: 32 hex digits (128 bits) of blake3 over canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Key(String);

impl Key {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key from its text (as stored in manifests and state files).
    pub fn from_hex(text: &str) -> Key {
        Key(text.to_string())
    }

    /// The first 8 digits, for messages.
    pub fn short(&self) -> &str {
        &self.0[..8.min(self.0.len())]
    }

    fn of(h: blake3::Hasher) -> Key {
        Key(h.finalize().to_hex()[..32].to_string())
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for Key {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Everything a key is made of; kept so `status` can say exactly what changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Material {
    pub kind: String,
    pub version: u32,
    pub params: serde_json::Value,
    pub inputs: BTreeMap<String, Vec<Key>>,
    pub files: BTreeMap<String, String>,
}

impl Material {
    /// The digest of the canonical JSON of the whole material (fields in sorted order:
    /// files, inputs, kind, params, version).
    pub fn key(&self) -> Key {
        let mut h = blake3::Hasher::new();
        h.update(self.head().as_bytes());
        write_canonical(&mut HashWriter(&mut h), &self.params);
        h.update(self.tail().as_bytes());
        Key::of(h)
    }

    /// Hashes unit keys of this stage: the stage's material with `{"unit": PARAMS}` in place
    /// of the stage's params, so a unit keeps its key when sibling units are added or removed.
    /// The text around the unit's params is built once per stage, not once per unit.
    pub fn unit_keys(&self) -> UnitKeys {
        UnitKeys {
            head: format!("{}{{\"unit\":", self.head()),
            tail: format!("}}{}", self.tail()),
        }
    }

    /// A unit's key (see [`Material::unit_keys`]).
    pub fn unit_key(&self, unit_params: &serde_json::Value) -> Key {
        self.unit_keys().key(unit_params)
    }

    /// The canonical text before `params`' value.
    fn head(&self) -> String {
        format!(
            "{{\"files\":{},\"inputs\":{},\"kind\":{},\"params\":",
            text(&self.files),
            text(&self.inputs),
            text(&self.kind)
        )
    }

    /// The canonical text after `params`' value.
    fn tail(&self) -> String {
        format!(",\"version\":{}}}", self.version)
    }
}

/// Unit keys of one stage; see [`Material::unit_keys`].
pub struct UnitKeys {
    head: String,
    tail: String,
}

impl UnitKeys {
    pub fn key(&self, unit_params: &serde_json::Value) -> Key {
        let mut h = blake3::Hasher::new();
        h.update(self.head.as_bytes());
        write_canonical(&mut HashWriter(&mut h), unit_params);
        h.update(self.tail.as_bytes());
        Key::of(h)
    }
}

/// Compact JSON of a value whose maps are BTreeMaps (already in canonical order).
fn text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("key material serialises")
}

/// 128 bits of blake3 over the canonical (key-sorted) JSON text.
pub fn digest(v: &serde_json::Value) -> String {
    let mut h = blake3::Hasher::new();
    write_canonical(&mut HashWriter(&mut h), v);
    Key::of(h).0
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

/// Writes `canonical(v).to_string()` without building the sorted copy: the bytes a key hashes.
fn write_canonical(out: &mut HashWriter<'_>, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.bytes(b"{");
            for (n, k) in keys.into_iter().enumerate() {
                if n > 0 {
                    out.bytes(b",");
                }
                out.json(k);
                out.bytes(b":");
                write_canonical(out, &m[k]);
            }
            out.bytes(b"}");
        }
        Value::Array(a) => {
            out.bytes(b"[");
            for (n, x) in a.iter().enumerate() {
                if n > 0 {
                    out.bytes(b",");
                }
                write_canonical(out, x);
            }
            out.bytes(b"]");
        }
        scalar => out.json(scalar),
    }
}

struct HashWriter<'a>(&'a mut blake3::Hasher);

impl HashWriter<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.0.update(b);
    }
    fn json<T: Serialize + ?Sized>(&mut self, v: &T) {
        serde_json::to_writer(&mut *self, v).expect("JSON scalars serialise");
    }
}

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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
    fn keys_hash_exactly_the_canonical_json_text() {
        // The fast writer must produce the bytes of `canonical(v).to_string()`, which is
        // what keys were defined as: escapes, unicode, floats, nesting, empty containers.
        let params = serde_json::json!({
            "z": [1.5, -0.0001, 1e300, {"b": null, "a": "q\"uo\\te\n"}],
            "a": {"ş": "Türkçe", "": [], "e": {}},
            "m": 18446744073709551615u64, "t": true
        });
        let slow = |v: &serde_json::Value| {
            blake3::hash(canonical(v).to_string().as_bytes()).to_hex()[..32].to_string()
        };
        assert_eq!(digest(&params), slow(&params));
        let m = Material {
            kind: "train".into(),
            version: 3,
            params: params.clone(),
            inputs: [("features".to_string(), vec![Key("0123".into())])].into(),
            files: [("data/a.csv".to_string(), "ff".to_string())].into(),
        };
        assert_eq!(m.key().as_str(), slow(&serde_json::to_value(&m).unwrap()));
        let mut u = m.clone();
        u.params = serde_json::json!({ "unit": params["z"] });
        assert_eq!(
            m.unit_key(&params["z"]).as_str(),
            slow(&serde_json::to_value(&u).unwrap())
        );
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
