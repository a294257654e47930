//! The artifact store: one directory per key holding Parquet tables, extra files and a
//! manifest; written to a temporary name and renamed into place, verified before it is used.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use serde::{Deserialize, Serialize};

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
    pub unit: Option<String>,
    pub params: serde_json::Value,
    pub inputs: BTreeMap<String, Vec<String>>,
    pub files: BTreeMap<String, String>,
    pub duration_s: f64,
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

/// Why a key has no usable artifact.
#[derive(Debug, Clone, PartialEq)]
pub enum Miss {
    Missing,
    Corrupt(String),
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::Missing => write!(f, "no artifact yet"),
            Miss::Corrupt(why) => write!(f, "artifact corrupt ({why})"),
        }
    }
}

pub struct Cache {
    root: PathBuf,
}

const FORMAT: u32 = 1;

impl Cache {
    /// Opens (creating) the store at `root` (the project's artifacts/).
    pub fn open(root: &Path) -> Result<Cache> {
        for sub in ["objects", "tmp", "state"] {
            fs::create_dir_all(root.join(sub))
                .with_context(|| format!("creating {}", root.join(sub).display()))?;
        }
        Ok(Cache {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn object_dir(&self, key: &str) -> PathBuf {
        self.root.join("objects").join(key)
    }

    /// A verified artifact, or why there is none: the manifest must parse and every file it
    /// lists must have the recorded size and blake3 checksum.
    pub fn lookup(&self, key: &str) -> Result<Artifact, Miss> {
        let dir = self.object_dir(key);
        let text = match fs::read_to_string(dir.join("manifest.json")) {
            Ok(t) => t,
            Err(_) if !dir.exists() => return Err(Miss::Missing),
            Err(_) => return Err(Miss::Corrupt("manifest.json missing".into())),
        };
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| Miss::Corrupt(format!("manifest.json unreadable: {e}")))?;
        if manifest.key != key || manifest.format != FORMAT {
            return Err(Miss::Corrupt(
                "manifest is for another key or format".into(),
            ));
        }
        for e in manifest.tables.iter().chain(&manifest.extra) {
            let path = dir.join(&e.file);
            let meta =
                fs::metadata(&path).map_err(|_| Miss::Corrupt(format!("{} missing", e.file)))?;
            if meta.len() != e.bytes {
                return Err(Miss::Corrupt(format!(
                    "{} has {} bytes, manifest says {}",
                    e.file,
                    meta.len(),
                    e.bytes
                )));
            }
            let sum =
                hash_file(&path).map_err(|err| Miss::Corrupt(format!("{}: {err}", e.file)))?;
            if sum != e.blake3 {
                return Err(Miss::Corrupt(format!("{} checksum mismatch", e.file)));
            }
        }
        Ok(Artifact { dir, manifest })
    }

    /// Stores `output` under `meta.key`. Files go to a private temporary directory, are synced,
    /// the manifest is written last, and the directory is renamed into place: a crash at any
    /// point leaves either no artifact or a complete one. When another writer got there first
    /// with a valid artifact, theirs is kept.
    pub fn store(&self, meta: Meta, output: Output) -> Result<Artifact> {
        let tmp = self.root.join("tmp").join(format!(
            "{}-{}-{}",
            meta.key,
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        fs::create_dir_all(&tmp)?;
        let result = self.store_in(&tmp, meta, output);
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    fn store_in(&self, tmp: &Path, meta: Meta, output: Output) -> Result<Artifact> {
        let mut tables = Vec::new();
        for (name, batch) in &output.tables {
            let file = format!("{}.parquet", sanitize(name));
            let path = tmp.join(&file);
            let f = File::create(&path)?;
            let f = table::write_parquet(BufWriter::new(f), batch)?;
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            tables.push(entry(name, &file, &path, Some(batch.num_rows()))?);
        }
        let mut extra = Vec::new();
        for (name, bytes) in &output.files {
            let file = sanitize(name);
            let path = tmp.join(&file);
            let mut f = File::create(&path)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            extra.push(entry(name, &file, &path, None)?);
        }
        let manifest = Manifest {
            format: FORMAT,
            key: meta.key.clone(),
            kind: meta.kind,
            version: meta.version,
            stage: meta.stage,
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
        let mut f = File::create(&mpath)?;
        f.write_all(serde_json::to_string_pretty(&manifest)?.as_bytes())?;
        f.sync_all()?;
        sync_dir(tmp);

        let dest = self.object_dir(&meta.key);
        if dest.exists() {
            match self.lookup(&meta.key) {
                Ok(existing) => {
                    let _ = fs::remove_dir_all(tmp);
                    return Ok(existing);
                }
                Err(_) => self.discard(&meta.key)?,
            }
        }
        match fs::rename(tmp, &dest) {
            Ok(()) => {}
            // Lost a race to another writer: use theirs if it verifies.
            Err(_) if dest.exists() => {
                let _ = fs::remove_dir_all(tmp);
                return self.lookup(&meta.key).map_err(|m| {
                    anyhow::anyhow!(
                        "artifact {} written concurrently is unusable: {m}",
                        meta.key
                    )
                });
            }
            Err(e) => {
                return Err(e).with_context(|| format!("moving artifact into {}", dest.display()))
            }
        }
        sync_dir(&self.root.join("objects"));
        Ok(Artifact {
            dir: dest,
            manifest,
        })
    }

    /// Moves a bad artifact out of the way (renaming is atomic, deleting is not).
    pub fn discard(&self, key: &str) -> Result<()> {
        let dir = self.object_dir(key);
        if dir.exists() {
            let trash = self
                .root
                .join("tmp")
                .join(format!("trash-{key}-{}", std::process::id()));
            fs::rename(&dir, &trash)?;
            fs::remove_dir_all(&trash)?;
        }
        Ok(())
    }

    /// Every key in the store with its size on disk.
    pub fn list(&self) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.root.join("objects"))? {
            let e = e?;
            let key = e.file_name().to_string_lossy().into_owned();
            out.push((key, dir_size(&e.path())));
        }
        out.sort();
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
    pub fn lock(&self, on_wait: impl FnOnce(&str)) -> Result<StoreLock> {
        let path = self.root.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(self.root.join(".lock.owner")).unwrap_or_default();
                on_wait(holder.trim());
                file.lock()?;
            }
            Err(fs::TryLockError::Error(e)) => return Err(e).context("locking artifacts/.lock"),
        }
        let owner = format!(
            "pid {} ({})",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        let _ = fs::write(self.root.join(".lock.owner"), owner);
        Ok(StoreLock { _file: file })
    }

    pub fn state_path(&self, pipeline: &str) -> PathBuf {
        self.root.join("state").join(format!("{pipeline}.json"))
    }
}

/// Writes a small file atomically (a temporary name of this process, then a rename), for
/// state shared between runs: readers see the old content or the new, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

/// Held for the duration of a run; the OS releases it if the process dies.
pub struct StoreLock {
    _file: File,
}

fn entry(name: &str, file: &str, path: &Path, rows: Option<usize>) -> Result<Entry> {
    Ok(Entry {
        name: name.to_string(),
        file: file.to_string(),
        bytes: fs::metadata(path)?.len(),
        blake3: hash_file(path)?,
        rows,
    })
}

/// blake3 of a file's content; large files are memory-mapped and hashed on all cores,
/// since verifying every artifact is most of what a fully cached run does.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    h.update_mmap_rayon(path)?;
    Ok(h.finalize().to_hex().to_string())
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
