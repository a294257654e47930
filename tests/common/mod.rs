//! A project in a temporary directory and a way to run the real binary in it.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, RecordBatch, StringArray};

pub struct Project {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

pub const TRAIN: &str = "soru,cevap,etiket\n\
Türkiye'nin başkenti neresidir?,Ankara'dır.,+1\n\
Türkiye'nin başkenti neresidir?,İstanbul'dur.,-1\n\
Suyun formülü nedir?,H2O,+1\n\
Suyun formülü nedir?,CO2,-1\n\
En büyük gezegen hangisidir?,Jüpiter,1\n\
En büyük gezegen hangisidir?,Mars,-1\n";

pub const TEST: &str = "soru,cevap,etiket\n\
Ay kaç günde döner?,\"Yaklaşık 27,3 günde.\",+1\n\
Ay kaç günde döner?,365 günde.,-1\n";

pub const PIPELINE: &str = "\
vars:
  mode: separate
stages:
  data:
    kind: ingest_csv
    params:
      train: data/train.csv
      test: data/test.csv
  features:
    use: tfidf
    inputs: [data]
    params:
      mode: ${mode}
  joint:
    kind: tfidf
    inputs: {data: data}
    params:
      mode: joint
";

/// data -> features -> train (two units) -> report, small enough to run in a second.
pub const REPORT_PIPELINE: &str = "\
stages:
  data:
    kind: ingest_csv
    params: {train: data/train.csv, test: data/test.csv}
  features:
    kind: tfidf
    inputs: [data]
  train:
    kind: train
    inputs: [features]
    params: {hidden: 4, optimizers: [sgd, adam], seeds: [1], epochs: 2, batch_size: 2}
  report:
    kind: report
    inputs: {metrics: [train]}
";

/// A project with [`REPORT_PIPELINE`] at pipelines/r.yaml.
pub fn report_project() -> Project {
    let p = Project::new();
    p.write("pipelines/r.yaml", REPORT_PIPELINE);
    p
}

impl Project {
    pub fn new() -> Project {
        let p = Project {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        p.write("data/train.csv", TRAIN);
        p.write("data/test.csv", TEST);
        p.write("stages/tfidf.yaml", "kind: tfidf\nparams:\n  bias: true\n");
        p.write("pipelines/p.yaml", PIPELINE);
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_qa-pipe"));
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("QA_PIPE_TEST_PAUSE_MS");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().expect("run qa-pipe").into()
    }

    /// The artifact directory of `stage` in `pipeline` (`qa-pipe show --path`).
    pub fn artifact_dir(&self, pipeline: &str, stage: &str) -> PathBuf {
        let r = self.run(&["show", stage, "-p", pipeline, "--path"]).ok();
        PathBuf::from(r.stdout.trim())
    }

    /// One table of that artifact.
    pub fn table(&self, pipeline: &str, stage: &str, name: &str) -> RecordBatch {
        let dir = self.artifact_dir(pipeline, stage);
        qa_pipe::table::read_parquet(&dir.join(format!("{name}.parquet"))).unwrap()
    }

    /// `run --json`, parsed; each stage's status by name.
    pub fn run_json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut all = vec!["run", "--json"];
        all.extend_from_slice(args);
        let r = self.run(&all);
        let v: serde_json::Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("bad json ({e}):\n{}\n{}", r.stdout, r.stderr));
        (r.code, v)
    }

    /// Every file under artifacts/objects with its bytes, for byte-for-byte comparisons.
    /// (blake3 of the bytes, so a failed comparison prints readably).
    pub fn objects(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        walk(
            &self.path("artifacts/objects"),
            &self.path("artifacts/objects"),
            &mut out,
        );
        out.sort();
        out.into_iter()
            .map(|(f, b)| (f, blake3::hash(&b).to_hex().to_string()))
            .collect()
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(base, &p, out);
        } else {
            out.push((
                p.strip_prefix(base).unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap(),
            ));
        }
    }
}

/// Stage name -> status string from a `run --json` document.
pub fn statuses(v: &serde_json::Value) -> Vec<(String, String)> {
    v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn status_of(v: &serde_json::Value, stage: &str) -> String {
    statuses(v)
        .into_iter()
        .find(|(s, _)| s == stage)
        .unwrap_or_else(|| panic!("no stage {stage}"))
        .1
}

/// A string column's values.
pub fn strings(b: &RecordBatch, col: &str) -> Vec<String> {
    let a = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"))
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    (0..a.len()).map(|i| a.value(i).to_string()).collect()
}
