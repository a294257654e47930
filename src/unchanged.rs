//! A run that finished with every stage's artifact in place, remembered by the stat of each
//! file its outcome depended on (the pipeline and its presets, input files and the folders
//! holding them, every artifact's manifest and files, the `status` state, the qa-pipe binary),
//! so that the same command again is recognized by stat alone, without planning, hashing or
//! reading a manifest (ninja's and git's trust: a write changes ctime whatever it does to
//! mtime). Any difference, a missing file, another command line or binary, and the caller
//! plans as usual. Knows nothing of what a run prints: the caller's summary is opaque here.
//!
//! The file, `artifacts/state/PIPELINE.unchanged`: a header line, the command line's identity
//! (one JSON line), the summary (one JSON line), then `size mtime_ns ctime_ns inode dev path`
//! per file, `exists path` per file that only has to be there, and `end N`. A file stamped within [`crate::hash::RACY_WINDOW`] of the run could still change
//! unseen: then no record is written, and the next run plans as usual and writes it.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::fileio::write_atomic;
use crate::hash::{now_ns, racy, stamp, Stamp};

const HEADER: &str = "qa-pipe unchanged 1";

/// The record's path for pipeline `name` in the store at `cache_root`.
pub fn path(cache_root: &Path, name: &str) -> PathBuf {
    cache_root.join("state").join(format!("{name}.unchanged"))
}

/// The binary running now, as a [`Stamp`]: a rebuilt qa-pipe may plan differently.
pub fn this_binary() -> Option<Stamp> {
    let exe = std::env::current_exe().ok()?;
    Some(stamp(&fs::metadata(exe).ok()?))
}

/// Records that the command identified by `args` (one line) ended with `summary`, depending
/// on the content of `files` and on `present` existing (qa-pipe's own memos: what they hold
/// changes no outcome, removing one asks for a full check). Writes nothing, and removes an
/// older record, when a file is missing, racy, or has a path this format cannot hold;
/// returns whether it wrote one.
pub fn write<T: Serialize>(
    record: &Path,
    args: &str,
    summary: &T,
    files: &[PathBuf],
    present: &[PathBuf],
) -> std::io::Result<bool> {
    let looked = now_ns();
    let body = (|| {
        let summary = serde_json::to_string(summary).ok()?;
        if args.contains('\n') {
            return None;
        }
        let mut text = String::with_capacity(256 + summary.len() + files.len() * 120);
        let _ = write!(text, "{HEADER}\n{args}\n{summary}\n");
        let mut seen = HashSet::new();
        for f in files {
            if !seen.insert(f) {
                continue;
            }
            let p = f.to_str().filter(|p| !p.contains('\n'))?;
            let s = stamp(&fs::metadata(f).ok()?);
            if racy(&s, looked) {
                return None;
            }
            let _ = writeln!(text, "{} {} {} {} {} {p}", s.0, s.1, s.2, s.3, s.4);
        }
        for f in present {
            let p = f.to_str().filter(|p| !p.contains('\n') && f.exists())?;
            let _ = writeln!(text, "exists {p}");
        }
        let _ = writeln!(text, "end {}", seen.len() + present.len());
        Some(text)
    })();
    match body {
        Some(text) => write_atomic(record, text.as_bytes()).map(|()| true),
        None => match fs::remove_file(record) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(false),
        },
    }
}

/// The summary recorded for `args`, if every recorded file still stats exactly as it did;
/// with the number of files checked.
pub fn check<T: DeserializeOwned>(record: &Path, args: &str) -> Option<(T, usize)> {
    let text = fs::read_to_string(record).ok()?;
    let mut lines = text.lines();
    if lines.next()? != HEADER || lines.next()? != args {
        return None;
    }
    let summary: T = serde_json::from_str(lines.next()?).ok()?;
    let mut files: Vec<&str> = lines.collect();
    // The count at the end: a record cut at a line boundary is no record.
    let n: usize = files.pop()?.strip_prefix("end ")?.parse().ok()?;
    if n != files.len() {
        return None;
    }
    // A store of 10,000 stages has ~40,000 files to stat: both cores.
    let same = files.par_iter().with_min_len(256).all(|line| {
        if let Some(p) = line.strip_prefix("exists ") {
            return Path::new(p).exists();
        }
        let mut f = line.splitn(6, ' ');
        let mut num = || f.next().and_then(|n| n.parse::<i128>().ok());
        let recorded = (|| {
            Some((
                u64::try_from(num()?).ok()?,
                num()?,
                num()?,
                u64::try_from(num()?).ok()?,
                u64::try_from(num()?).ok()?,
            ))
        })();
        match (recorded, f.next()) {
            (Some(s), Some(p)) => fs::metadata(p).is_ok_and(|m| stamp(&m) == s),
            _ => false,
        }
    });
    same.then_some((summary, files.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::RACY_WINDOW;
    use std::time::{Duration, SystemTime};

    fn set_mtime(f: &Path, t: SystemTime) {
        let file = fs::File::options().write(true).open(f).unwrap();
        file.set_modified(t).unwrap();
    }

    fn old_files(dir: &Path) -> Vec<PathBuf> {
        let files: Vec<PathBuf> = ["a", "b"].iter().map(|n| dir.join(n)).collect();
        for f in &files {
            fs::write(f, "x").unwrap();
        }
        // ctime cannot be set back: only files older than the racy window are recorded.
        std::thread::sleep(RACY_WINDOW + Duration::from_millis(50));
        files
    }

    #[test]
    fn a_record_holds_while_every_file_stats_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let files = old_files(dir.path());
        let rec = dir.path().join("r.unchanged");
        assert!(write(&rec, "args", &vec![1, 2], &files, &[]).unwrap());
        assert_eq!(check::<Vec<i32>>(&rec, "args"), Some((vec![1, 2], 2)));
        // Another command line: not this record.
        assert_eq!(check::<Vec<i32>>(&rec, "other"), None);
        // A same-size rewrite with the mtime put back (`cp -p`) still changes ctime.
        let m = fs::metadata(&files[0]).unwrap().modified().unwrap();
        fs::write(&files[0], "y").unwrap();
        set_mtime(&files[0], m);
        assert_eq!(check::<Vec<i32>>(&rec, "args"), None);
    }

    #[test]
    fn a_file_that_only_has_to_be_there_may_change_but_not_go() {
        let dir = tempfile::tempdir().unwrap();
        let files = old_files(dir.path());
        let memo = dir.path().join("memo");
        fs::write(&memo, "1").unwrap();
        let rec = dir.path().join("r.unchanged");
        assert!(write(&rec, "args", &0, &files, std::slice::from_ref(&memo)).unwrap());
        fs::write(&memo, "rewritten").unwrap();
        assert_eq!(check::<i32>(&rec, "args"), Some((0, 3)));
        fs::remove_file(&memo).unwrap();
        assert_eq!(check::<i32>(&rec, "args"), None);
    }

    #[test]
    fn a_missing_file_breaks_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let files = old_files(dir.path());
        let rec = dir.path().join("r.unchanged");
        assert!(write(&rec, "args", &0, &files, &[]).unwrap());
        fs::remove_file(&files[1]).unwrap();
        assert_eq!(check::<i32>(&rec, "args"), None);
    }

    #[test]
    fn nothing_is_recorded_for_a_file_changed_within_the_racy_window() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = old_files(dir.path());
        let rec = dir.path().join("r.unchanged");
        assert!(write(&rec, "args", &0, &files, &[]).unwrap());
        let fresh = dir.path().join("fresh");
        fs::write(&fresh, "new").unwrap();
        files.push(fresh);
        // The older record goes too: it would vouch for a state this run no longer checks.
        assert!(!write(&rec, "args", &0, &files, &[]).unwrap());
        assert!(!rec.exists());
        // A file whose mtime was set back but was written just now is racy by its ctime.
        let back = dir.path().join("back");
        fs::write(&back, "z").unwrap();
        set_mtime(&back, SystemTime::UNIX_EPOCH + Duration::from_secs(1));
        assert!(!write(&rec, "args", &0, &[back], &[]).unwrap());
    }

    #[test]
    fn a_damaged_record_is_no_record() {
        let dir = tempfile::tempdir().unwrap();
        let files = old_files(dir.path());
        let rec = dir.path().join("r.unchanged");
        assert!(write(&rec, "args", &0, &files, &[]).unwrap());
        let text = fs::read_to_string(&rec).unwrap();
        let last_line = text.trim_end().rfind('\n').unwrap() + 1;
        for cut in [text.len() / 2, text.len() - 3, last_line] {
            fs::write(&rec, &text[..cut]).unwrap();
            assert_eq!(check::<i32>(&rec, "args"), None, "cut at {cut}");
        }
    }
}
