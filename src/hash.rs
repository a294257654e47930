//! Stage and unit keys: blake3 over kind, version, canonical params, upstream keys and the
//! content of every file read. File contents are hashed once and remembered by path with the
//! file's (size, mtime, ctime, inode, device), so any change the filesystem records (an edit
//! whose mtime was restored still moves ctime) rehashes it, and an unchanged content keeps its
//! key. A file changed just before it was hashed is "racy", as in git: a later same-size
//! edit within the same timestamp tick would leave every field equal, so it is hashed again.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::fileio::{hash_file, write_atomic};

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
        write_canonical(&mut h, &self.params);
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
        self.unit_keys().key(&canonical_text(unit_params))
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
    /// The key of the unit whose params' canonical text ([`canonical_text`]) is `params`.
    pub fn key(&self, params: &str) -> Key {
        let mut h = blake3::Hasher::new();
        h.update(self.head.as_bytes());
        h.update(params.as_bytes());
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
    write_canonical(&mut h, v);
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

/// `canonical(v).to_string()`, built without the sorted copy: the compact, key-sorted text
/// a key hashes.
pub fn canonical_text(v: &serde_json::Value) -> String {
    let mut out = Vec::new();
    write_canonical(&mut out, v);
    String::from_utf8(out).expect("JSON text is UTF-8")
}

/// Writes `canonical(v).to_string()` without building the sorted copy: the bytes a key hashes.
fn write_canonical<W: std::io::Write>(out: &mut W, v: &serde_json::Value) {
    use serde_json::Value;
    // Into a hasher or a Vec: writing cannot fail.
    fn put<W: std::io::Write>(out: &mut W, b: &[u8]) {
        out.write_all(b).expect("written in memory");
    }
    fn json<W: std::io::Write, T: Serialize + ?Sized>(out: &mut W, v: &T) {
        serde_json::to_writer(out, v).expect("JSON scalars serialise");
    }
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            put(out, b"{");
            for (n, k) in keys.into_iter().enumerate() {
                if n > 0 {
                    put(out, b",");
                }
                json(out, k);
                put(out, b":");
                write_canonical(out, &m[k]);
            }
            put(out, b"}");
        }
        Value::Array(a) => {
            put(out, b"[");
            for (n, x) in a.iter().enumerate() {
                if n > 0 {
                    put(out, b",");
                }
                write_canonical(out, x);
            }
            put(out, b"]");
        }
        scalar => json(out, scalar),
    }
}

/// What a file looked like when its content was hashed.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    inode: u64,
    dev: u64,
    /// When it was looked at (just before reading it), in ns since the epoch.
    hashed_ns: i128,
    blake3: String,
}

/// The stat fields that identify a file's content without reading it: size, mtime and ctime
/// in ns, inode, device. A write changes ctime, whatever it does to mtime.
pub type Stamp = (u64, i128, i128, u64, u64);

/// `meta`'s [`Stamp`].
pub fn stamp(meta: &fs::Metadata) -> Stamp {
    Seen::stat(meta)
}

/// Whether a file stamped `s` at `looked_ns` may have changed since without `s` showing it.
pub fn racy(s: &Stamp, looked_ns: i128) -> bool {
    changed_within(s.1.max(s.2), looked_ns, RACY_WINDOW.as_nanos() as i128)
}

/// A change at `changed_ns` is within `window_ns` of a look at `looked_ns`.
fn changed_within(changed_ns: i128, looked_ns: i128, window_ns: i128) -> bool {
    looked_ns - changed_ns < window_ns
}

impl Seen {
    fn stat(meta: &fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        (
            meta.len(),
            ns(meta.mtime(), meta.mtime_nsec()),
            ns(meta.ctime(), meta.ctime_nsec()),
            meta.ino(),
            meta.dev(),
        )
    }

    /// Whether the file may have changed since without any field showing it.
    fn racy(&self, window_ns: i128) -> bool {
        changed_within(self.mtime_ns.max(self.ctime_ns), self.hashed_ns, window_ns)
    }
}

/// How close to the hashing a change must be to make the entry racy. Timestamps are as
/// coarse as 2 s on FAT and 1 s on ext3/HFS+; ext4, xfs and tmpfs store nanoseconds but the
/// kernel stamps them from a clock that ticks every few ms, and an NFS server's clock is not
/// ours. 2 s covers all of them; the cost is one more hash of a file changed in the two
/// seconds before a run.
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

/// The time to pass to [`FileHashes::remember`]: taken before the file is read, so a change
/// during the read falls inside the racy window.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Content hashes of files, remembered between runs by what their stat looked like: input
/// files in artifacts/state/files.memo, verified artifact tables in state/verified.memo.
///
/// The file is read by every run and holds an entry per table of the store, so it is one
/// line per file, `size mtime_ns ctime_ns inode dev hashed_ns blake3 path`, after a header
/// naming the format: a tenth of JSON's parse time. A file that does not parse (another
/// format, a torn write) is an empty memory: everything is hashed again, nothing trusted.
pub struct FileHashes {
    path: PathBuf,
    /// A hash map: a store of 10,000 stages asks it 30,000 times per run.
    seen: std::collections::HashMap<String, Seen>,
    dirty: bool,
    racy_window_ns: i128,
}

impl FileHashes {
    pub fn load(path: &Path) -> FileHashes {
        let seen = fs::read_to_string(path)
            .ok()
            .and_then(|t| parse_memo(&t))
            .unwrap_or_default();
        FileHashes {
            path: path.to_path_buf(),
            seen,
            dirty: false,
            racy_window_ns: RACY_WINDOW.as_nanos() as i128,
        }
    }

    /// The same with another racy window (tests use 0 to see the other fields at work).
    pub fn with_racy_window(mut self, window: Duration) -> FileHashes {
        self.racy_window_ns = window.as_nanos() as i128;
        self
    }

    pub fn hash(&mut self, file: &Path) -> Result<String> {
        let now = now_ns();
        let meta = fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
        if let Some(known) = self.known(file, &meta) {
            return Ok(known);
        }
        let blake3 = hash_file(file).with_context(|| format!("hashing {}", file.display()))?;
        self.remember(file, &meta, blake3.clone(), now);
        Ok(blake3)
    }

    /// The remembered hash of `file`, when `meta` (its stat now) shows it unchanged since it
    /// was hashed and that hashing was not racy.
    pub fn known(&self, file: &Path, meta: &fs::Metadata) -> Option<String> {
        let s = self.seen.get(file.to_string_lossy().as_ref())?;
        let same = (s.size, s.mtime_ns, s.ctime_ns, s.inode, s.dev) == Seen::stat(meta);
        (same && !s.racy(self.racy_window_ns)).then(|| s.blake3.clone())
    }

    /// Records that `file`, whose stat was `meta` just before `hashed_ns` (see [`now_ns`]),
    /// hashed to `blake3`.
    pub fn remember(&mut self, file: &Path, meta: &fs::Metadata, blake3: String, hashed_ns: i128) {
        let (size, mtime_ns, ctime_ns, inode, dev) = Seen::stat(meta);
        let seen = Seen {
            size,
            mtime_ns,
            ctime_ns,
            inode,
            dev,
            hashed_ns,
            blake3,
        };
        let name = file.to_string_lossy();
        // A name the line format cannot hold is hashed again each time instead.
        if !name.contains(['\n', '\r']) {
            self.seen.insert(name.into_owned(), seen);
            self.dirty = true;
        }
    }

    /// Saves only when something was hashed; a lost race or a store that cannot be written
    /// just means rehashing next time (`write_atomic` leaves no temporary file behind).
    pub fn save(&mut self) {
        if self.dirty && write_atomic(&self.path, memo_text(&self.seen).as_bytes()).is_ok() {
            self.dirty = false;
        }
    }
}

const MEMO_HEADER: &str = "qa-pipe file hashes 1";

fn memo_text(seen: &std::collections::HashMap<String, Seen>) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(64 + seen.len() * 200);
    out.push_str(MEMO_HEADER);
    out.push('\n');
    // Sorted, so the same memory is the same bytes.
    let mut names: Vec<&String> = seen.keys().collect();
    names.sort_unstable();
    for name in names {
        let s = &seen[name];
        let _ = writeln!(
            out,
            "{} {} {} {} {} {} {} {name}",
            s.size, s.mtime_ns, s.ctime_ns, s.inode, s.dev, s.hashed_ns, s.blake3
        );
    }
    out
}

/// The entries of a memo file; `None` when it is not one (all or nothing: a torn file
/// would otherwise drop entries silently, which is safe, but a wrong header is a format
/// this version does not know).
fn parse_memo(text: &str) -> Option<std::collections::HashMap<String, Seen>> {
    let mut lines = text.lines();
    if lines.next()? != MEMO_HEADER {
        return None;
    }
    let mut seen = std::collections::HashMap::new();
    for line in lines {
        let mut f = line.splitn(8, ' ');
        let mut next = || f.next();
        let size = next()?.parse().ok()?;
        let mtime_ns = next()?.parse().ok()?;
        let ctime_ns = next()?.parse().ok()?;
        let inode = next()?.parse().ok()?;
        let dev = next()?.parse().ok()?;
        let hashed_ns = next()?.parse().ok()?;
        let blake3 = next()?.to_string();
        let name = next()?.to_string();
        seen.insert(
            name,
            Seen {
                size,
                mtime_ns,
                ctime_ns,
                inode,
                dev,
                hashed_ns,
                blake3,
            },
        );
    }
    Some(seen)
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
        let mut h = FileHashes::load(&dir.path().join("files.memo"));
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

    fn set_mtime(f: &Path, t: std::time::SystemTime) {
        fs::File::options()
            .write(true)
            .open(f)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    /// `touch -r`, `cp -p`, `rsync -a`: a same-size edit with the old mtime put back. The
    /// ctime moves (nothing can set it), so the edit is seen.
    #[test]
    fn same_size_edit_with_mtime_restored_is_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.csv");
        fs::write(&f, "a,b\n").unwrap();
        let old = std::time::SystemTime::now() - Duration::from_secs(3600);
        set_mtime(&f, old);
        // Window 0: this entry is not racy, so only the recorded fields can catch the edit.
        let mut h =
            FileHashes::load(&dir.path().join("files.memo")).with_racy_window(Duration::ZERO);
        let first = h.hash(&f).unwrap();
        assert_eq!(h.hash(&f).unwrap(), first);
        // Past the kernel's timestamp tick, so the new ctime differs from the recorded one.
        std::thread::sleep(Duration::from_millis(50));
        fs::write(&f, "a,c\n").unwrap();
        set_mtime(&f, old);
        assert_ne!(h.hash(&f).unwrap(), first);
    }

    /// A file changed just before it was hashed could change again in the same timestamp
    /// tick with every field unchanged: such an entry is hashed again next time, and only
    /// trusted once the hashing happened clearly after the file's last change.
    #[test]
    fn racy_entry_is_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.csv");
        fs::write(&f, "a,b\n").unwrap();
        let mut h = FileHashes::load(&dir.path().join("files.memo"));
        let real = h.hash(&f).unwrap();
        let id = f.to_string_lossy().into_owned();
        assert!(h.seen[&id].racy(h.racy_window_ns), "{:?}", h.seen[&id]);
        // Every field equal, but the content is not what was recorded: a racy entry is not
        // trusted...
        h.seen.get_mut(&id).unwrap().blake3 = "stale".into();
        assert_eq!(h.hash(&f).unwrap(), real);
        // ...while one hashed more than the window after the file's last change is.
        let s = h.seen.get_mut(&id).unwrap();
        s.blake3 = "stale".into();
        s.hashed_ns = s.mtime_ns.max(s.ctime_ns) + RACY_WINDOW.as_nanos() as i128;
        assert_eq!(h.hash(&f).unwrap(), "stale");
    }

    #[test]
    fn remembered_hashes_survive_a_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        // A name with spaces: the path is the rest of its line.
        let f = dir.path().join("my data x.csv");
        fs::write(&f, "a,b\n").unwrap();
        set_mtime(&f, std::time::SystemTime::now() - Duration::from_secs(3600));
        let state = dir.path().join("files.memo");
        let mut h = FileHashes::load(&state).with_racy_window(Duration::ZERO);
        let first = h.hash(&f).unwrap();
        h.save();
        let mut again = FileHashes::load(&state).with_racy_window(Duration::ZERO);
        assert_eq!(again.seen, h.seen);
        assert_eq!(again.hash(&f).unwrap(), first);
        assert!(!again.dirty, "a trusted entry is not rewritten");
        // A memory in another format (the JSON of earlier versions) is no memory.
        fs::write(&state, "{\"x\": 1}").unwrap();
        assert!(FileHashes::load(&state).seen.is_empty());
    }
}
