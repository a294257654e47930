//! The artifact store: one directory per key holding Parquet tables, extra files and a
//! manifest; written to a temporary name and renamed into place, verified before it is used.
//! With a shared store behind it ([`crate::store`]) it is that store's read-through cache.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::fileio::{hash_file, write_atomic};
use crate::hash::{now_ns, FileHashes};
use crate::store::known::{self, Known};
use crate::store::{Published, Store};
use crate::table;

/// What a stage or unit returns: named tables, named extra files (plots, HTML), and notes.
#[derive(Default)]
pub struct Output {
    pub tables: Vec<(String, RecordBatch)>,
    pub files: Vec<(String, Vec<u8>)>,
    pub notes: Vec<String>,
}

impl Output {
    pub fn table(mut self, name: &str, batch: RecordBatch) -> Self {
        self.tables.push((name.to_string(), batch));
        self
    }
    pub fn file(mut self, name: &str, bytes: Vec<u8>) -> Self {
        self.files.push((name.to_string(), bytes));
        self
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub name: String,
    pub file: String,
    pub bytes: u64,
    pub blake3: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
}

/// Everything needed to trust and explain an artifact. Written last, so a directory without a
/// complete manifest is never used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub key: String,
    pub kind: String,
    pub version: u32,
    pub stage: String,
    /// The pipeline file of the run that produced it (empty in artifacts made before this
    /// was recorded); identical keys are shared across pipelines, so it is the first one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pipeline: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub params: serde_json::Value,
    pub inputs: BTreeMap<String, Vec<String>>,
    pub files: BTreeMap<String, String>,
    pub tables: Vec<Entry>,
    pub extra: Vec<Entry>,
    pub notes: Vec<String>,
    pub duration_s: f64,
    pub created_unix: u64,
    pub qa_pipe: String,
}

/// The metadata a caller supplies when storing an output.
pub struct Meta {
    pub key: String,
    pub kind: String,
    pub version: u32,
    pub stage: String,
    /// The pipeline file, as the manifest records it.
    pub pipeline: String,
    pub unit: Option<String>,
    pub params: serde_json::Value,
    pub inputs: BTreeMap<String, Vec<String>>,
    pub files: BTreeMap<String, String>,
    pub duration_s: f64,
    /// Replace a valid artifact already stored under the key (`run --force`) instead of
    /// keeping it.
    pub replace: bool,
}

#[cfg(test)]
impl Meta {
    /// A minimal meta for the store's own tests: kind `k`, stage `s`, nothing else.
    pub(crate) fn for_test(key: &str) -> Meta {
        Meta {
            key: key.into(),
            kind: "k".into(),
            version: 1,
            stage: "s".into(),
            pipeline: String::new(),
            unit: None,
            params: serde_json::Value::Null,
            inputs: BTreeMap::new(),
            files: BTreeMap::new(),
            duration_s: 0.0,
            replace: false,
        }
    }
}

/// A verified artifact in the store.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Artifact {
    pub fn key(&self) -> &str {
        &self.manifest.key
    }

    pub fn table(&self, name: &str) -> Result<RecordBatch> {
        let e = self
            .manifest
            .tables
            .iter()
            .find(|t| t.name == name)
            .with_context(|| {
                format!(
                    "artifact of stage `{}` has no table `{name}` (it has: {})",
                    self.manifest.stage,
                    self.table_names().join(", ")
                )
            })?;
        table::read_parquet(&self.dir.join(&e.file))
    }

    pub fn table_names(&self) -> Vec<String> {
        self.manifest
            .tables
            .iter()
            .map(|t| t.name.clone())
            .collect()
    }

    pub fn file_path(&self, name: &str) -> Option<PathBuf> {
        self.manifest
            .extra
            .iter()
            .find(|t| t.name == name)
            .map(|e| self.dir.join(&e.file))
    }

    pub fn bytes(&self) -> u64 {
        self.manifest
            .tables
            .iter()
            .chain(&self.manifest.extra)
            .map(|e| e.bytes)
            .sum()
    }
}

/// Why a key has no usable artifact (`W`: why it is corrupt).
#[derive(Debug, Clone, PartialEq)]
pub enum Miss<W = String> {
    Missing,
    Corrupt(W),
    /// Not here, and the shared store could not be asked (the error names its URL).
    Unreachable(String),
}

/// A failed check, with the manifest text it was made against (to tell a corrupt artifact
/// from one replaced during the check).
struct Bad {
    reason: String,
    manifest: Option<String>,
}

impl Bad {
    fn new(reason: impl Into<String>, manifest: Option<&str>) -> Bad {
        Bad {
            reason: reason.into(),
            manifest: manifest.map(str::to_string),
        }
    }
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::Missing => write!(f, "no artifact yet"),
            Miss::Corrupt(why) => write!(f, "artifact corrupt ({why})"),
            Miss::Unreachable(why) => write!(f, "not here, and {why}"),
        }
    }
}

pub struct Cache {
    root: PathBuf,
    /// Table files already verified, by stat: a fully cached run reads each manifest and
    /// stats each file instead of hashing every artifact again. Artifact files are never
    /// rewritten in place (a change of content means a new inode or a new ctime), so a stat
    /// that matches names the bytes that were hashed; a file hashed within the racy window
    /// of its last change is hashed again next time, as input files are. Read on first use:
    /// a run recognized as unchanged (src/unchanged.rs) never needs it.
    verified: OnceLock<Mutex<FileHashes>>,
    /// The shared store behind this one: a lookup that misses here fetches from it, and
    /// what is stored here is published to it.
    remote: Option<Arc<dyn Store>>,
    /// The remote's keys from one listing ([`Cache::index_remote`]), kept up to date with
    /// what this process publishes: a key it lacks is not asked for.
    index: Mutex<Option<BTreeSet<String>>>,
    /// The keys this cache has seen in the remote, and when: a run whose every key is here
    /// and was seen there recently need not list it ([`Cache::index_remote_for`]).
    known: Mutex<Option<Known>>,
    /// One fetch per key at a time, so concurrent lookups of a key download it once.
    fetching: Mutex<BTreeMap<String, Arc<Mutex<()>>>>,
}

impl Drop for Cache {
    fn drop(&mut self) {
        if let Some(Ok(v)) = self.verified.get_mut().map(Mutex::get_mut) {
            v.save();
        }
        if let Ok(Some(k)) = self.known.get_mut() {
            k.save(known::now_s());
        }
    }
}

const FORMAT: u32 = 1;

impl Cache {
    /// Opens (creating) the store at `root` (the project's artifacts/).
    /// A store that cannot be written but has objects opens anyway: its artifacts can still
    /// be reused, and whatever must be written fails later, naming its path.
    pub fn open(root: &Path) -> Result<Cache> {
        for sub in ["objects", "tmp", "state"] {
            let dir = root.join(sub);
            match fs::create_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if read_only(&e) && root.join("objects").is_dir() => {}
                Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
            }
        }
        Ok(Cache {
            root: root.to_path_buf(),
            verified: OnceLock::new(),
            remote: None,
            index: Mutex::new(None),
            known: Mutex::new(None),
            fetching: Mutex::new(BTreeMap::new()),
        })
    }

    /// This store as the read-through cache of `remote`.
    pub fn with_remote(mut self, remote: Option<Arc<dyn Store>>) -> Cache {
        let state = self.root.join("state");
        self.known = Mutex::new(remote.as_ref().map(|r| Known::load(&state, r.url())));
        self.remote = remote;
        self
    }

    pub fn remote(&self) -> Option<&dyn Store> {
        self.remote.as_deref()
    }

    /// Lists the remote's keys once: afterwards a key it lacks costs no request, and
    /// [`Cache::push_missing`] knows what to publish.
    pub fn index_remote(&self) -> Result<(), StoreError> {
        if let Some(r) = &self.remote {
            let keys = r.keys()?;
            *self.index.lock().expect("index") = Some(keys);
        }
        Ok(())
    }

    /// Before a run of `keys`: lists the remote's keys once, as [`Cache::index_remote`],
    /// unless every key has an artifact here that was seen in the remote within
    /// [`known::TRUST_FOR`]: then the remote is not asked at all (a local artifact that
    /// then fails to verify is fetched by its key). Returns whether it listed.
    pub fn index_remote_for(&self, keys: &[&str]) -> Result<bool, StoreError> {
        if self.remote.is_none() {
            return Ok(false);
        }
        let recent = self
            .known()
            .as_ref()
            .is_some_and(|k| k.all_recent(keys.iter().copied(), known::now_s()));
        if recent {
            if let Ok(here) = self.present() {
                if keys.iter().all(|k| here.contains(*k)) {
                    return Ok(false);
                }
            }
        }
        self.index_remote()?;
        for &key in keys {
            self.note_in_remote(key, self.indexed(key) == Some(true));
        }
        Ok(true)
    }

    /// Records in the known-keys record whether the remote has `key` (as of now).
    fn note_in_remote(&self, key: &str, there: bool) {
        if let Some(k) = self.known().as_mut() {
            if there {
                k.saw(key, known::now_s());
            } else {
                k.lost(key);
            }
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Option<Known>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `key` has an artifact here, or in the remote's listing (without fetching it).
    /// `present` is one listing of the local store ([`Cache::present`]): for asking about
    /// many keys, most of them absent, without a failed open per key.
    pub fn available(&self, key: &str, present: &HashSet<String>) -> bool {
        (present.contains(key) && self.lookup_local(key).is_ok()) || self.indexed(key) == Some(true)
    }

    /// Whether the remote's listing has `key` (`None`: not listed).
    fn indexed(&self, key: &str) -> Option<bool> {
        let ix = self.index.lock().expect("index");
        ix.as_ref().map(|ix| ix.contains(key))
    }

    fn note_published(&self, key: &str) {
        if let Some(ix) = self.index.lock().expect("index").as_mut() {
            ix.insert(key.to_string());
        }
        self.note_in_remote(key, true);
    }

    /// Publishes each of `keys` that is verified here and missing from the remote's
    /// listing (computed while the remote was down, or before it was configured).
    /// Returns how many were published.
    pub fn push_missing<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<usize, StoreError> {
        let Some(r) = &self.remote else {
            return Ok(0);
        };
        let mut n = 0;
        for key in keys {
            if self.indexed(key) != Some(false) {
                continue;
            }
            if let Ok(a) = self.lookup_local(key) {
                r.publish(&a, self, false)?;
                self.note_published(key);
                n += 1;
            }
        }
        Ok(n)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn object_dir(&self, key: &str) -> PathBuf {
        self.root.join("objects").join(key)
    }

    /// A verified artifact, or why there is none: the manifest must parse and every file it
    /// lists must have the recorded size and blake3 checksum.
    ///
    /// A forced run may exchange the directory for a new one while this reads it (see
    /// [`Cache::store`]): a check that fails after the manifest changed under it is
    /// repeated on the new one, so a reader gets the old artifact or the new one, whole.
    ///
    /// With a remote store, a key missing or corrupt here is fetched from it (verified on
    /// download, then kept here), unless the remote's listing says it has none.
    pub fn lookup(&self, key: &str) -> Result<Artifact, Miss> {
        let local = self.lookup_local(key);
        let Some(remote) = &self.remote else {
            return local;
        };
        if local.is_ok() || self.indexed(key) == Some(false) {
            return local;
        }
        let gate = self
            .fetching
            .lock()
            .expect("fetching")
            .entry(key.to_string())
            .or_default()
            .clone();
        let _one_at_a_time = gate.lock().expect("fetch gate");
        // Another thread may have fetched it while this one waited.
        if let Ok(a) = self.lookup_local(key) {
            return Ok(a);
        }
        match remote.fetch(key, self) {
            Ok(Ok(a)) => {
                self.note_in_remote(key, true);
                Ok(a)
            }
            Ok(Err(Miss::Missing)) => {
                self.note_in_remote(key, false);
                local
            }
            Ok(Err(Miss::Corrupt(why))) => {
                Err(Miss::Corrupt(format!("in {}: {why}", remote.url())))
            }
            Ok(Err(Miss::Unreachable(why))) => Err(Miss::Unreachable(why)),
            Err(e) => Err(Miss::Unreachable(e.to_string())),
        }
    }

    /// [`Cache::lookup`] in this directory only.
    pub fn lookup_local(&self, key: &str) -> Result<Artifact, Miss> {
        let mut tries = 0;
        loop {
            match self.lookup_once(key) {
                Err(Miss::Corrupt(why)) => {
                    let (read, now) = (why.manifest.as_deref(), self.manifest_text(key));
                    tries += 1;
                    if tries >= 10 || read.is_none() || now.is_none() || read == now.as_deref() {
                        return Err(Miss::Corrupt(why.reason));
                    }
                }
                Err(Miss::Missing) => return Err(Miss::Missing),
                Err(Miss::Unreachable(why)) => return Err(Miss::Unreachable(why)),
                Ok(a) => return Ok(a),
            }
        }
    }

    /// The store at `root` with another racy window for remembered verifications (tests
    /// use 0 to see the stat fields at work).
    #[cfg(test)]
    fn open_with_racy_window(root: &Path, window: std::time::Duration) -> Cache {
        let cache = Cache::open(root).unwrap();
        let memo =
            FileHashes::load(&root.join("state").join("verified.memo")).with_racy_window(window);
        assert!(cache.verified.set(Mutex::new(memo)).is_ok(), "not read yet");
        cache
    }

    /// Writes what this process verified to `state/verified.memo` now rather than when the
    /// store is closed; returns the memo's path.
    pub fn save_verified(&self) -> PathBuf {
        if self.verified.get().is_some() {
            self.verified().save();
        }
        self.root.join("state").join("verified.memo")
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, FileHashes> {
        let memo = self.verified.get_or_init(|| {
            Mutex::new(FileHashes::load(
                &self.root.join("state").join("verified.memo"),
            ))
        });
        // A panic elsewhere while holding it leaves a map that is still valid.
        memo.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn manifest_text(&self, key: &str) -> Option<String> {
        fs::read_to_string(self.object_dir(key).join("manifest.json")).ok()
    }

    fn lookup_once(&self, key: &str) -> Result<Artifact, Miss<Bad>> {
        let dir = self.object_dir(key);
        let text = match fs::read_to_string(dir.join("manifest.json")) {
            Ok(t) => t,
            Err(_) if !dir.exists() => return Err(Miss::Missing),
            Err(_) => return Err(Miss::Corrupt(Bad::new("manifest.json missing", None))),
        };
        let bad = |reason: String| Miss::Corrupt(Bad::new(reason, Some(&text)));
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| bad(format!("manifest.json unreadable: {e}")))?;
        if manifest.key != key || manifest.format != FORMAT {
            return Err(bad("manifest is for another key or format".into()));
        }
        for e in manifest.tables.iter().chain(&manifest.extra) {
            let path = dir.join(&e.file);
            let meta = fs::metadata(&path).map_err(|_| bad(format!("{} missing", e.file)))?;
            if meta.len() != e.bytes {
                return Err(bad(format!(
                    "{} has {} bytes, manifest says {}",
                    e.file,
                    meta.len(),
                    e.bytes
                )));
            }
            let known = self.verified().known(&path, &meta);
            let sum = match known {
                Some(sum) => sum,
                None => {
                    let now = now_ns();
                    let sum = hash_file(&path).map_err(|err| bad(format!("{}: {err}", e.file)))?;
                    self.verified().remember(&path, &meta, sum.clone(), now);
                    sum
                }
            };
            if sum != e.blake3 {
                return Err(bad(format!("{} checksum mismatch", e.file)));
            }
        }
        Ok(Artifact { dir, manifest })
    }

    /// Stores `output` under `meta.key`. Files go to a private temporary directory, are synced,
    /// the manifest is written last, and the directory is renamed into place: a crash at any
    /// point leaves either no artifact or a complete one. When another writer got there first
    /// with a valid artifact, theirs is kept, unless `meta.replace` (`run --force`): then the
    /// new directory is exchanged with the old one in one `renameat2(RENAME_EXCHANGE)`, so a
    /// concurrent reader finds the old artifact or the new one under the key, never none.
    /// (A reader that verified the old artifact and then opens its tables by path after the
    /// exchange reads the new artifact's files: each file is whole, but two tables read
    /// across the exchange can come from the two computations of the same key.) Where the
    /// filesystem cannot exchange (EINVAL), the old directory is renamed aside first and a
    /// reader in that instant sees no artifact and computes its own.
    ///
    /// With a remote store, the artifact is then published there; when another writer
    /// published the key first, the winner's artifact replaces this one here and is returned.
    /// If publishing fails (the remote is down), the error says so and the artifact stays here.
    pub fn store(&self, meta: Meta, output: Output) -> Result<Artifact> {
        let replace = meta.replace;
        let tmp = self.tmp_path(&meta.key);
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let result = self.store_in(&tmp, meta, output);
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        let art = result?;
        self.publish(art, replace)
    }

    /// Publishes a local artifact to the remote store, if any (see [`Cache::store`]).
    pub fn publish(&self, art: Artifact, replace: bool) -> Result<Artifact> {
        let Some(remote) = &self.remote else {
            return Ok(art);
        };
        match remote.publish(&art, self, replace) {
            Ok(Published::Ours) => {
                self.note_published(art.key());
                Ok(art)
            }
            Ok(Published::Theirs(winner)) => {
                self.note_published(art.key());
                Ok(*winner)
            }
            Err(e) => Err(anyhow::anyhow!(
                "{e}\n(the artifact is kept in {}; the next run with this store publishes it)",
                art.dir.display()
            )),
        }
    }

    /// Stores an artifact that comes from another store: its manifest text and its files'
    /// bytes by file name. Every file must have the size and blake3 the manifest records, or
    /// nothing is stored and the artifact is [`Miss::Corrupt`]. `replace` as in [`Meta`].
    pub fn import(
        &self,
        key: &str,
        text: &str,
        files: &BTreeMap<String, Vec<u8>>,
        replace: bool,
    ) -> Result<Result<Artifact, Miss>> {
        let manifest: Manifest = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => return Ok(Err(Miss::Corrupt(format!("manifest.json unreadable: {e}")))),
        };
        if manifest.key != key || manifest.format != FORMAT {
            return Ok(Err(Miss::Corrupt(
                "manifest is for another key or format".into(),
            )));
        }
        for e in manifest.tables.iter().chain(&manifest.extra) {
            let Some(bytes) = files.get(&e.file) else {
                return Ok(Err(Miss::Corrupt(format!("{} missing", e.file))));
            };
            if bytes.len() as u64 != e.bytes {
                return Ok(Err(Miss::Corrupt(format!(
                    "{} has {} bytes, manifest says {}",
                    e.file,
                    bytes.len(),
                    e.bytes
                ))));
            }
            if blake3::hash(bytes).to_hex().as_str() != e.blake3 {
                return Ok(Err(Miss::Corrupt(format!("{} checksum mismatch", e.file))));
            }
        }
        let tmp = self.tmp_path(key);
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let write = || -> Result<Artifact> {
            for e in manifest.tables.iter().chain(&manifest.extra) {
                let path = tmp.join(&e.file);
                write_synced(&path, &files[&e.file])
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            let mpath = tmp.join("manifest.json");
            write_synced(&mpath, text.as_bytes())
                .with_context(|| format!("writing {}", mpath.display()))?;
            sync_dir(&tmp);
            self.put_in_place(&tmp, manifest.clone(), replace)
        };
        let result = write();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result.map(Ok)
    }

    /// A fresh name under tmp/ that [`Cache::clean_tmp`] keeps while this process lives.
    fn tmp_path(&self, key: &str) -> PathBuf {
        self.root.join("tmp").join(format!(
            "{key}-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ))
    }

    fn store_in(&self, tmp: &Path, meta: Meta, output: Output) -> Result<Artifact> {
        let mut tables = Vec::new();
        for (name, batch) in &output.tables {
            let file = format!("{}.parquet", sanitize(name));
            let path = tmp.join(&file);
            let write = || -> Result<()> {
                let f = File::create(&path)?;
                let f = table::write_parquet(BufWriter::new(f), batch)?;
                let f = f.into_inner().map_err(|e| e.into_error())?;
                f.sync_all()?;
                Ok(())
            };
            write().with_context(|| format!("writing {}", path.display()))?;
            tables.push(entry(name, &file, &path, Some(batch.num_rows()))?);
        }
        let mut extra = Vec::new();
        for (name, bytes) in &output.files {
            let file = sanitize(name);
            let path = tmp.join(&file);
            write_synced(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
            extra.push(entry(name, &file, &path, None)?);
        }
        let manifest = Manifest {
            format: FORMAT,
            key: meta.key.clone(),
            kind: meta.kind,
            version: meta.version,
            stage: meta.stage,
            pipeline: meta.pipeline,
            unit: meta.unit,
            params: meta.params,
            inputs: meta.inputs,
            files: meta.files,
            tables,
            extra,
            notes: output.notes,
            duration_s: meta.duration_s,
            created_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            qa_pipe: env!("CARGO_PKG_VERSION").to_string(),
        };
        // Fault injection for the crash tests: a window in which the files exist but the
        // artifact is not yet published.
        if let Some(ms) = std::env::var("QA_PIPE_TEST_PAUSE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        let mpath = tmp.join("manifest.json");
        let text = serde_json::to_string_pretty(&manifest)?;
        write_synced(&mpath, text.as_bytes())
            .with_context(|| format!("writing {}", mpath.display()))?;
        sync_dir(tmp);
        self.put_in_place(tmp, manifest, meta.replace)
    }

    /// Moves the complete directory `tmp` (files and manifest written and synced) to its
    /// key's place: replacing what is there, or keeping a valid artifact already there.
    fn put_in_place(&self, tmp: &Path, manifest: Manifest, replace: bool) -> Result<Artifact> {
        let key = manifest.key.clone();
        let dest = self.object_dir(&key);
        if replace {
            self.replace(tmp, &dest)?;
            return Ok(Artifact {
                dir: dest,
                manifest,
            });
        }
        if dest.exists() {
            match self.lookup_local(&key) {
                Ok(existing) => {
                    let _ = fs::remove_dir_all(tmp);
                    return Ok(existing);
                }
                Err(_) => self.discard(&key)?,
            }
        }
        match fs::rename(tmp, &dest) {
            Ok(()) => {}
            // Lost a race to another writer: use theirs if it verifies.
            Err(_) if dest.exists() => {
                let _ = fs::remove_dir_all(tmp);
                return self.lookup_local(&key).map_err(|m| {
                    anyhow::anyhow!("artifact {key} written concurrently is unusable: {m}")
                });
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("moving {} to {}", tmp.display(), dest.display()))
            }
        }
        sync_dir(&self.root.join("objects"));
        Ok(Artifact {
            dir: dest,
            manifest,
        })
    }

    /// Puts the complete directory `tmp` at `dest` whatever is there, then deletes the old
    /// one. Exchanging is one atomic step; only where the filesystem cannot do it is there
    /// an instant with nothing at `dest`.
    fn replace(&self, tmp: &Path, dest: &Path) -> Result<()> {
        let moving = || format!("moving {} to {}", tmp.display(), dest.display());
        loop {
            match exchange(tmp, dest) {
                // `tmp` now holds the old artifact.
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => match fs::rename(tmp, dest) {
                    Ok(()) => {
                        sync_dir(&self.root.join("objects"));
                        return Ok(());
                    }
                    // Another writer published in between: exchange with theirs.
                    Err(_) if dest.exists() => continue,
                    Err(e) => return Err(e).with_context(moving),
                },
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
                    ) =>
                {
                    let aside = self.tmp_path(&format!("old-{}", file_name(dest)));
                    fs::rename(dest, &aside)
                        .with_context(|| format!("moving {} aside", dest.display()))?;
                    fs::rename(tmp, dest).with_context(moving)?;
                    let _ = fs::remove_dir_all(&aside);
                    sync_dir(&self.root.join("objects"));
                    return Ok(());
                }
                Err(e) => return Err(e).with_context(moving),
            }
        }
        sync_dir(&self.root.join("objects"));
        fs::remove_dir_all(tmp)
            .with_context(|| format!("removing the replaced artifact {}", tmp.display()))
    }

    /// Moves a bad artifact out of the way (renaming is atomic, deleting is not).
    pub fn discard(&self, key: &str) -> Result<()> {
        let dir = self.object_dir(key);
        if dir.exists() {
            let trash = self
                .root
                .join("tmp")
                .join(format!("trash-{key}-{}", std::process::id()));
            fs::rename(&dir, &trash)
                .with_context(|| format!("moving {} to {}", dir.display(), trash.display()))?;
            fs::remove_dir_all(&trash).with_context(|| format!("removing {}", trash.display()))?;
        }
        Ok(())
    }

    /// Every key in the store with its size on disk.
    pub fn list(&self) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let objects = self.root.join("objects");
        let ctx = || format!("listing {}", objects.display());
        for e in fs::read_dir(&objects).with_context(ctx)? {
            let e = e.with_context(ctx)?;
            let key = e.file_name().to_string_lossy().into_owned();
            out.push((key, dir_size(&e.path())));
        }
        out.sort();
        Ok(out)
    }

    /// The keys that have a directory in the store (complete or not: [`Cache::lookup`]
    /// decides), from one listing: for asking about many keys of which most are absent.
    pub fn present(&self) -> Result<HashSet<String>> {
        let objects = self.root.join("objects");
        let ctx = || format!("listing {}", objects.display());
        let mut out = HashSet::new();
        for e in fs::read_dir(&objects).with_context(ctx)? {
            out.insert(
                e.with_context(ctx)?
                    .file_name()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        Ok(out)
    }

    /// Leftovers of writers that died (their process is gone); live writers' are kept.
    pub fn clean_tmp(&self) -> u64 {
        let mut freed = 0;
        for e in fs::read_dir(self.root.join("tmp"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
            let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
            if !alive {
                freed += dir_size(&e.path());
                let _ = fs::remove_dir_all(e.path());
            }
        }
        freed
    }

    /// Takes the store's lock. Another qa-pipe holding it makes this one say so and wait.
    /// A store this process cannot write (read-only mount, no permission) is locked through
    /// a read-only handle (a shared store's writers still exclude this run), or not at all
    /// when even the lock file cannot be created: such a run can only reuse artifacts.
    pub fn lock(&self, on_wait: impl FnOnce(&str)) -> Result<StoreLock> {
        let path = self.root.join(".lock");
        let file = match OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if read_only(&e) => match File::open(&path) {
                Ok(f) => f,
                Err(_) => return Ok(StoreLock { _file: None }),
            },
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(self.root.join(".lock.owner")).unwrap_or_default();
                on_wait(holder.trim());
                file.lock()
                    .with_context(|| format!("locking {}", path.display()))?;
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
        let owner = format!(
            "pid {} ({})",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        let _ = write_atomic(&self.root.join(".lock.owner"), owner.as_bytes());
        Ok(StoreLock { _file: Some(file) })
    }

    pub fn state_path(&self, pipeline: &str) -> PathBuf {
        self.root.join("state").join(format!("{pipeline}.json"))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Swaps two existing paths atomically (Linux `renameat2(RENAME_EXCHANGE)`).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Held for the duration of a run; the OS releases it if the process dies.
pub struct StoreLock {
    _file: Option<File>,
}

/// Errors meaning "this process may not write here".
fn read_only(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::PermissionDenied
        || matches!(
            e.raw_os_error(),
            Some(libc::EROFS | libc::EPERM | libc::EACCES)
        )
}

fn entry(name: &str, file: &str, path: &Path, rows: Option<usize>) -> Result<Entry> {
    let ctx = || format!("reading back {}", path.display());
    Ok(Entry {
        name: name.to_string(),
        file: file.to_string(),
        bytes: fs::metadata(path).with_context(ctx)?.len(),
        blake3: hash_file(path).with_context(ctx)?,
        rows,
    })
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

pub fn dir_size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn meta(key: &str, replace: bool) -> Meta {
        Meta {
            replace,
            ..Meta::for_test(key)
        }
    }

    fn output(fill: u8) -> Output {
        // Several files, so a reader can see some of the old and some of the new.
        (0..4).fold(Output::default(), |o, i| {
            o.file(&format!("f{i}"), vec![fill; 4096 + usize::from(fill)])
        })
    }

    /// Issue 15.1: a store used to keep any valid artifact under the key, so `--force`
    /// recomputed and then kept the old one.
    #[test]
    fn replacing_store_swaps_the_artifact_and_keeping_store_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        cache.store(meta("k1", false), output(1)).unwrap();
        let kept = cache.store(meta("k1", false), output(2)).unwrap();
        assert_eq!(fs::read(kept.file_path("f0").unwrap()).unwrap()[0], 1);
        let new = cache.store(meta("k1", true), output(3)).unwrap();
        assert_eq!(fs::read(new.file_path("f0").unwrap()).unwrap()[0], 3);
        let a = cache.lookup("k1").unwrap();
        assert_eq!(fs::read(a.file_path("f3").unwrap()).unwrap()[0], 3);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        // Replacing where nothing is stored yet just stores.
        cache.store(meta("k2", true), output(4)).unwrap();
        assert!(cache.lookup("k2").is_ok());
    }

    /// Issue 15 (scale): a lookup verified each table by hashing it every time. A verified
    /// file is now remembered by its stat; an edit in place, even with the size and mtime
    /// put back, changes the ctime and is caught, in this process and the next.
    #[test]
    fn remembered_verification_still_catches_an_edit_with_mtime_restored() {
        let dir = tempfile::tempdir().unwrap();
        let zero = std::time::Duration::ZERO;
        let cache = Cache::open_with_racy_window(dir.path(), zero);
        let a = cache.store(meta("k", false), output(1)).unwrap();
        let f = a.file_path("f0").unwrap();
        let m = fs::metadata(&f).unwrap();
        assert!(cache.lookup("k").is_ok());
        assert!(
            cache.verified().known(&f, &m).is_some(),
            "verified once, remembered"
        );
        drop(cache);
        let cache = Cache::open_with_racy_window(dir.path(), zero);
        assert!(
            cache.verified().known(&f, &m).is_some(),
            "remembered across processes"
        );
        // Past the kernel's timestamp tick, so the new ctime differs from the recorded one.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut bytes = fs::read(&f).unwrap();
        bytes[0] ^= 0xff;
        fs::write(&f, &bytes).unwrap();
        fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(m.modified().unwrap())
            .unwrap();
        assert!(matches!(cache.lookup("k"), Err(Miss::Corrupt(_))));
    }

    /// While one writer keeps replacing an artifact, a reader always finds a complete one
    /// (the old or the new), never none and never a mix it would call corrupt.
    #[test]
    fn readers_see_the_old_or_the_new_artifact_during_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        cache.store(meta("k", false), output(0)).unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let a = cache
                        .lookup("k")
                        .unwrap_or_else(|m| panic!("lookup {n}: {m}"));
                    assert_eq!(a.manifest.extra.len(), 4);
                    n += 1;
                }
                n
            });
            for i in 1..=60u8 {
                cache.store(meta("k", true), output(i)).unwrap();
            }
            stop.store(true, Ordering::Relaxed);
            let n = reader.join().unwrap();
            assert!(n > 0);
        });
    }
}
