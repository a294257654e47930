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
    ///
    /// `durable`: wait until the record is on disk (fdatasync). A kill never loses an
    /// appended record (it is in the page cache); only a power cut or an OS crash can, and
    /// for a run that computed nothing that loses no result a later `gc` would need to keep
    /// (its artifacts were made by earlier runs), so such a run does not wait: the sync is
    /// most of a fully cached run's time on a slow disk.
    pub fn append(&self, record: &RunRecord, unit_keys: &[String], durable: bool) -> Result<()> {
        let keys = self.keys_path(&record.id);
        fs::create_dir_all(keys.parent().expect("keys dir"))
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let mut text = unit_keys.join("\n");
        text.push('\n');
        crate::fileio::write_atomic(&keys, text.as_bytes())?;
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        self.append_line(&line, durable)
    }

    fn append_line(&self, line: &[u8], durable: bool) -> Result<()> {
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
        if durable {
            f.sync_data().with_context(ctx)?;
        }
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

    /// The last `n` readable records for which `keep` holds (`n == 0`: all), in log order.
    /// Reads the file backwards in blocks, so the cost grows with what is shown, not with
    /// the length of the log.
    pub fn read_tail(&self, n: usize, keep: impl Fn(&RunRecord) -> bool) -> Result<Read> {
        if n == 0 {
            let mut all = self.read()?;
            all.records.retain(|r| keep(r));
            return Ok(all);
        }
        let path = self.path();
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let mut end = f.metadata()?.len();
        let mut out = Read::default();
        // Bytes after the last newline seen so far, not yet a whole line.
        let mut carry: Vec<u8> = Vec::new();
        const BLOCK: u64 = 1 << 20;
        while end > 0 && out.records.len() < n {
            let start = end.saturating_sub(BLOCK);
            let mut buf = vec![0u8; (end - start) as usize];
            f.read_exact_at(&mut buf, start)?;
            buf.extend_from_slice(&carry);
            // The first piece may be the end of a line that started in an earlier block.
            let mut pieces: Vec<&[u8]> = buf.split(|&b| b == b'\n').collect();
            let head = if start > 0 {
                pieces.remove(0).to_vec()
            } else {
                Vec::new()
            };
            for line in pieces.into_iter().rev() {
                if out.records.len() >= n {
                    break;
                }
                let r = parse(line);
                out.skipped += r.skipped;
                out.records
                    .extend(r.records.into_iter().filter(|r| keep(r)));
            }
            carry = head;
            end = start;
        }
        out.records.truncate(n);
        out.records.reverse();
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> RunRecord {
        RunRecord {
            v: FORMAT,
            id: id.into(),
            pipeline: "pipelines/p.yaml".into(),
            name: "p".into(),
            pipeline_hash: "00".into(),
            start_unix: 1.0,
            end_unix: 2.0,
            vars: Default::default(),
            sets: Default::default(),
            git: None,
            host: "h".into(),
            slurm_job: None,
            ok: true,
            stages: Vec::new(),
            metrics: Vec::new(),
        }
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_next_record_starts_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = RunLog::new(dir.path());
        log.append(&record("aaaa0001"), &["u1".into()], true)
            .unwrap();
        let line = serde_json::to_string(&record("aaaa0002")).unwrap();
        fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(&line.as_bytes()[..20])
            .unwrap();
        let r = log.read().unwrap();
        assert_eq!((r.records.len(), r.skipped), (1, 1));
        log.append(&record("aaaa0003"), &[], false).unwrap();
        let r = log.read().unwrap();
        let ids: Vec<&str> = r.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!((ids, r.skipped), (vec!["aaaa0001", "aaaa0003"], 1));
        let tail = log.read_tail(1, |_| true).unwrap();
        assert_eq!(tail.records[0].id, "aaaa0003");
        let tail = log.read_tail(5, |r| r.id != "aaaa0003").unwrap();
        assert_eq!(tail.records.len(), 1);
        assert_eq!(tail.records[0].id, "aaaa0001");
        assert_eq!(log.unit_keys("aaaa0001"), ["u1"]);
        // A record of a format this version does not know is skipped too.
        let newer = line.replacen("\"v\":1", "\"v\":99", 1);
        assert_eq!(parse(newer.as_bytes()).skipped, 1);
    }

    #[test]
    fn concurrent_appends_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let root = dir.path();
                s.spawn(move || {
                    let log = RunLog::new(root);
                    for i in 0..50 {
                        let mut r = record(&format!("{t:04}{i:04}"));
                        // Records big enough that a split write would show.
                        r.vars.insert("pad".into(), "x".repeat(5000).into());
                        log.append(&r, &[], true).unwrap();
                    }
                });
            }
        });
        let r = RunLog::new(dir.path()).read().unwrap();
        assert_eq!((r.records.len(), r.skipped), (200, 0));
        // Reading backwards across blocks gives the same records as reading forwards.
        let tail = RunLog::new(dir.path()).read_tail(150, |_| true).unwrap();
        assert_eq!(tail.records[..], r.records[50..]);
    }
}
