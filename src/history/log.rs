//! The run log: JSON lines in `artifacts/runs/log.jsonl`, appended and never rewritten.
//!
//! Concurrent writers (two `run`s on a shared store, a Slurm job's final run) are safe: each
//! record is one `write` to a file opened with `O_APPEND` while holding `flock` on it, so
//! records never interleave. A writer killed mid-write leaves at most a torn last line:
//! readers skip any line that does not parse, and the next writer first ends that line, so
//! its own record starts on a line of its own. Beside each record, `runs/keys/ID` lists the
//! keys of the run's units (too many for the log line: a sweep has thousands), for `gc`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::record::{RunRecord, FORMAT};

pub struct RunLog {
    dir: PathBuf,
}

/// What a read found: the records in log order and how many lines it had to skip.
#[derive(Debug, Default)]
pub struct Read {
    pub records: Vec<RunRecord>,
    pub skipped: usize,
}

impl RunLog {
    /// The log of the store at `store_root` (artifacts/).
    pub fn new(store_root: &Path) -> RunLog {
        RunLog {
            dir: super::dir(store_root),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("log.jsonl")
    }

    fn keys_path(&self, id: &str) -> PathBuf {
        self.dir.join("keys").join(id)
    }

    /// Appends `record` (after writing its unit keys beside it, so a record in the log always
    /// has them).
    pub fn append(&self, record: &RunRecord, unit_keys: &[String]) -> Result<()> {
        let keys = self.keys_path(&record.id);
        fs::create_dir_all(keys.parent().expect("keys dir"))
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let mut text = unit_keys.join("\n");
        text.push('\n');
        crate::cache::write_atomic(&keys, text.as_bytes())?;
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.append_line(&line)
    }

    fn append_line(&self, line: &[u8]) -> Result<()> {
        let path = self.path();
        let ctx = || format!("appending to {}", path.display());
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .with_context(ctx)?;
        f.lock().with_context(ctx)?;
        let mut buf = Vec::with_capacity(line.len() + 1);
        if !ends_with_newline(&f)? {
            buf.push(b'\n');
        }
        buf.extend_from_slice(line);
        f.write_all(&buf).with_context(ctx)?;
        f.sync_data().with_context(ctx)?;
        Ok(())
    }

    /// Every readable record, in the order they were appended. A missing log is empty.
    pub fn read(&self) -> Result<Read> {
        let path = self.path();
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(parse(&text))
    }

    /// The keys of a run's units, when its side file is there.
    pub fn unit_keys(&self, id: &str) -> Vec<String> {
        fs::read_to_string(self.keys_path(id))
            .map(|t| {
                t.lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Drops the unit-key files of runs no longer in `keep` (the log itself stays whole).
    pub fn prune_keys(&self, keep: &std::collections::BTreeSet<&str>) {
        for e in fs::read_dir(self.dir.join("keys"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if !keep.contains(name.as_str()) && !name.contains(".tmp") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Parses the log's lines; a line that is not a record of a known format (torn by a kill,
/// or from a newer qa-pipe) is counted and skipped.
pub fn parse(text: &[u8]) -> Read {
    let mut out = Read::default();
    for line in text.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<RunRecord>(line) {
            Ok(r) if r.v == FORMAT => out.records.push(r),
            _ => out.skipped += 1,
        }
    }
    out
}

fn ends_with_newline(f: &File) -> Result<bool> {
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    let mut last = [0u8; 1];
    f.read_at(&mut last, len - 1)?;
    Ok(last[0] == b'\n')
}
