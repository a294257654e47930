//! The shared store on object storage, through the `object_store` crate: S3 and compatible
//! servers (`s3://bucket/prefix`), GCS (`gs://`), Azure (`az://`) and a directory
//! (`file:///path`), credentials from the environment only.
//!
//! Layout under the prefix: `manifests/KEY.json` (the local manifest, byte for byte) and
//! `files/KEY/BLAKE3/FILE` (each table or extra file, named by its content). A writer
//! uploads the files, then the manifest with a conditional put (put-if-absent): an artifact
//! exists once its manifest does. Because files are named by their checksum, two writers
//! racing on one key never overwrite each other's files with different bytes, so whichever
//! manifest wins describes files that are all there. Every request goes through one
//! counting layer ([`Calls`]), which `-v` prints and the tests read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::future::try_join_all;
use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as OPath;
use object_store::{
    BackoffConfig, ClientConfigKey, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions,
    PutPayload, RetryConfig,
};

use super::{Published, Store, Stored};
use crate::cache::{Artifact, Cache, Entry, Manifest, Miss};
use crate::error::StoreError;

/// Requests made, by kind, and bytes moved: the counting wrapper around the object store.
#[derive(Default)]
pub struct Calls {
    pub list: AtomicU64,
    pub get: AtomicU64,
    pub head: AtomicU64,
    pub put: AtomicU64,
    pub delete: AtomicU64,
    pub down: AtomicU64,
    pub up: AtomicU64,
}

impl Calls {
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

pub struct Remote {
    url: String,
    store: Arc<dyn ObjectStore>,
    /// The path under which everything lives (`prefix` of `s3://bucket/prefix`).
    prefix: String,
    rt: tokio::runtime::Runtime,
    pub calls: Calls,
}

/// How long to keep trying an unreachable server: long enough for a hiccup, short enough
/// that a server that is down is reported within seconds.
fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(20),
    }
}

impl Remote {
    /// Opens the store at `url`. Credentials and endpoints come from the environment (the
    /// `object_store` builders' `from_env`: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`; `GOOGLE_*`; `AZURE_*`); a URL that
    /// carries any (user, password or query) is refused, so none reaches a message or a log.
    pub fn open(url: &str) -> Result<Remote, StoreError> {
        let bad = |why: String| StoreError::BadUrl {
            url: url.to_string(),
            why,
        };
        let parsed = url::Url::parse(url).map_err(|e| {
            bad(format!(
                "not a URL ({e}); expected s3://bucket/prefix, gs://, az:// or file:///path"
            ))
        })?;
        if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some()
        {
            return Err(StoreError::CredentialsInUrl {
                url: format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or("")),
            });
        }
        // Set key by key: replacing the builder's client options would drop what the
        // environment set there (AWS_ALLOW_HTTP is one).
        let (connect, timeout) = (ClientConfigKey::ConnectTimeout, ClientConfigKey::Timeout);
        let built =
            |r: object_store::Result<Arc<dyn ObjectStore>>| r.map_err(|e| bad(e.to_string()));
        let cloud_prefix = parsed.path().trim_matches('/').to_string();
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match parsed.scheme() {
            "s3" | "s3a" => (
                built(
                    AmazonS3Builder::from_env()
                        .with_url(url)
                        .with_retry(retry())
                        .with_config(AmazonS3ConfigKey::Client(connect), "5s")
                        .with_config(AmazonS3ConfigKey::Client(timeout), "300s")
                        .build()
                        .map(|s| Arc::new(s) as _),
                )?,
                cloud_prefix,
            ),
            "gs" => (
                built(
                    GoogleCloudStorageBuilder::from_env()
                        .with_url(url)
                        .with_retry(retry())
                        .with_config(GoogleConfigKey::Client(connect), "5s")
                        .with_config(GoogleConfigKey::Client(timeout), "300s")
                        .build()
                        .map(|s| Arc::new(s) as _),
                )?,
                cloud_prefix,
            ),
            "az" | "azure" | "abfs" | "abfss" => (
                built(
                    MicrosoftAzureBuilder::from_env()
                        .with_url(url)
                        .with_retry(retry())
                        .with_config(AzureConfigKey::Client(connect), "5s")
                        .with_config(AzureConfigKey::Client(timeout), "300s")
                        .build()
                        .map(|s| Arc::new(s) as _),
                )?,
                cloud_prefix,
            ),
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| bad("a file:// URL needs an absolute path".into()))?;
                std::fs::create_dir_all(&dir)
                    .map_err(|e| bad(format!("creating {}: {e}", dir.display())))?;
                (
                    built(LocalFileSystem::new_with_prefix(&dir).map(|s| Arc::new(s) as _))?,
                    String::new(),
                )
            }
            other => {
                return Err(bad(format!(
                    "unknown scheme `{other}`; expected s3://, gs://, az:// or file://"
                )))
            }
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("qa-pipe-store")
            .enable_all()
            .build()
            .map_err(|e| bad(format!("starting its I/O runtime: {e}")))?;
        Ok(Remote {
            url: url.to_string(),
            store,
            prefix,
            rt,
            calls: Calls::default(),
        })
    }

    fn path(&self, rel: &str) -> OPath {
        if self.prefix.is_empty() {
            OPath::from(rel)
        } else {
            OPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn manifest_path(&self, key: &str) -> OPath {
        self.path(&format!("manifests/{key}.json"))
    }

    fn file_path(&self, key: &str, e: &Entry) -> OPath {
        self.path(&format!("files/{key}/{}/{}", e.blake3, e.file))
    }

    fn err(&self, op: &'static str, path: &OPath, e: object_store::Error) -> StoreError {
        StoreError::Request {
            url: self.url.clone(),
            op,
            path: path.to_string(),
            detail: error_chain(&e),
        }
    }

    /// An object's bytes, or `None` when there is none.
    async fn get(&self, path: &OPath) -> Result<Option<Bytes>, StoreError> {
        Calls::add(&self.calls.get, 1);
        let got = match self.store.get(path).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        };
        match got {
            Ok(b) => {
                Calls::add(&self.calls.down, b.len() as u64);
                Ok(Some(b))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("download", path, e)),
        }
    }

    async fn head(&self, path: &OPath) -> Result<Option<ObjectMeta>, StoreError> {
        Calls::add(&self.calls.head, 1);
        match self.store.head(path).await {
            Ok(m) => Ok(Some(m)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("look up", path, e)),
        }
    }

    /// Writes an object; `Ok(false)` when `create` and one was already there.
    async fn put(&self, path: &OPath, bytes: Bytes, create: bool) -> Result<bool, StoreError> {
        Calls::add(&self.calls.put, 1);
        let n = bytes.len() as u64;
        let opts = PutOptions {
            mode: if create {
                PutMode::Create
            } else {
                PutMode::Overwrite
            },
            ..Default::default()
        };
        match self
            .store
            .put_opts(path, PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) => {
                Calls::add(&self.calls.up, n);
                Ok(true)
            }
            Err(object_store::Error::AlreadyExists { .. }) if create => Ok(false),
            Err(e) => Err(self.err("upload", path, e)),
        }
    }

    async fn delete_object(&self, path: &OPath) -> Result<(), StoreError> {
        Calls::add(&self.calls.delete, 1);
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("delete", path, e)),
        }
    }

    /// Every object under `rel` (one listing: the store pages it, 1,000 objects a page on S3).
    async fn list_under(&self, rel: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        Calls::add(&self.calls.list, 1);
        let p = self.path(rel);
        let all: Vec<ObjectMeta> = self
            .store
            .list(Some(&p))
            .try_collect()
            .await
            .map_err(|e| self.err("list", &p, e))?;
        Ok(all)
    }

    /// Downloads and verifies the artifact whose manifest is `text` into `into`.
    fn fetch_manifest(
        &self,
        key: &str,
        text: &[u8],
        into: &Cache,
        replace: bool,
    ) -> Result<Result<Artifact, Miss>, StoreError> {
        let Ok(text) = std::str::from_utf8(text) else {
            return Ok(Err(Miss::Corrupt("manifest.json is not text".into())));
        };
        let manifest: Manifest = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => return Ok(Err(Miss::Corrupt(format!("manifest.json unreadable: {e}")))),
        };
        let entries: Vec<&Entry> = manifest.tables.iter().chain(&manifest.extra).collect();
        let got = self
            .rt
            .block_on(try_join_all(entries.iter().map(|e| async move {
                let path = self.file_path(key, e);
                self.get(&path).await.map(|b| (e.file.clone(), b))
            })))?;
        let mut files = BTreeMap::new();
        for (file, bytes) in got {
            match bytes {
                Some(b) => {
                    files.insert(file, b.to_vec());
                }
                None => return Ok(Err(Miss::Corrupt(format!("{file} missing")))),
            }
        }
        into.import(key, text, &files, replace)
            .map_err(|e| StoreError::Local {
                url: into.root().display().to_string(),
                detail: format!("{e:#}"),
            })
    }
}

impl Store for Remote {
    fn url(&self) -> &str {
        &self.url
    }

    fn keys(&self) -> Result<BTreeSet<String>, StoreError> {
        let all = self.rt.block_on(self.list_under("manifests"))?;
        Ok(all
            .iter()
            .filter_map(|m| {
                m.location
                    .filename()?
                    .strip_suffix(".json")
                    .map(String::from)
            })
            .collect())
    }

    fn contains(&self, key: &str) -> Result<bool, StoreError> {
        let p = self.manifest_path(key);
        Ok(self.rt.block_on(self.head(&p))?.is_some())
    }

    fn list(&self) -> Result<Vec<Stored>, StoreError> {
        let (manifests, files) = self.rt.block_on(async {
            tokio::try_join!(self.list_under("manifests"), self.list_under("files"))
        })?;
        let mut out: BTreeMap<String, Stored> = BTreeMap::new();
        let mut add = |key: &str, m: &ObjectMeta, published: bool| {
            let modified = SystemTime::from(m.last_modified);
            let s = out.entry(key.to_string()).or_insert(Stored {
                key: key.to_string(),
                bytes: 0,
                modified,
                published: false,
            });
            s.bytes += m.size;
            s.modified = s.modified.max(modified);
            s.published |= published;
        };
        for m in &manifests {
            if let Some(key) = m.location.filename().and_then(|f| f.strip_suffix(".json")) {
                add(key, m, true);
            }
        }
        let files_root = self.path("files");
        for m in &files {
            if let Some(key) = m
                .location
                .prefix_match(&files_root)
                .and_then(|mut parts| parts.next())
            {
                add(key.as_ref(), m, false);
            }
        }
        Ok(out.into_values().collect())
    }

    fn fetch(&self, key: &str, into: &Cache) -> Result<Result<Artifact, Miss>, StoreError> {
        let p = self.manifest_path(key);
        match self.rt.block_on(self.get(&p))? {
            None => Ok(Err(Miss::Missing)),
            Some(text) => self.fetch_manifest(key, &text, into, false),
        }
    }

    fn publish(
        &self,
        artifact: &Artifact,
        local: &Cache,
        replace: bool,
    ) -> Result<Published, StoreError> {
        let key = artifact.key();
        let local_err = |e: std::io::Error, what: &std::path::Path| StoreError::Local {
            url: local.root().display().to_string(),
            detail: format!("reading {}: {e}", what.display()),
        };
        let mpath = artifact.dir.join("manifest.json");
        let text = Bytes::from(std::fs::read(&mpath).map_err(|e| local_err(e, &mpath))?);
        let entries: Vec<&Entry> = artifact
            .manifest
            .tables
            .iter()
            .chain(&artifact.manifest.extra)
            .collect();
        let mut bodies = Vec::new();
        for e in &entries {
            let p = artifact.dir.join(&e.file);
            bodies.push(Bytes::from(
                std::fs::read(&p).map_err(|err| local_err(err, &p))?,
            ));
        }
        self.rt
            .block_on(try_join_all(entries.iter().zip(bodies).map(|(e, b)| {
                let path = self.file_path(key, e);
                async move { self.put(&path, b, false).await }
            })))?;
        let m = self.manifest_path(key);
        // A few rounds at most: each one either publishes, adopts a valid winner, or removes
        // a broken manifest (which some writer then replaces).
        for _ in 0..5 {
            if self.rt.block_on(self.put(&m, text.clone(), !replace))? {
                return Ok(Published::Ours);
            }
            let Some(theirs) = self.rt.block_on(self.get(&m))? else {
                continue; // deleted in between (gc): try again
            };
            if theirs == text {
                return Ok(Published::Ours);
            }
            match self.fetch_manifest(key, &theirs, local, true)? {
                Ok(winner) => return Ok(Published::Theirs(Box::new(winner))),
                // The artifact there does not verify (a file lost or damaged): this one,
                // which does, takes its place.
                Err(Miss::Corrupt(_)) => self.rt.block_on(self.delete_object(&m))?,
                Err(_) => {}
            }
        }
        Err(StoreError::Request {
            url: self.url.clone(),
            op: "publish",
            path: m.to_string(),
            detail: "the manifest kept changing under this writer".into(),
        })
    }

    fn delete(&self, key: &str, not_after: SystemTime) -> Result<u64, StoreError> {
        let m = self.manifest_path(key);
        self.rt.block_on(async {
            let mut freed = 0;
            // The manifest first: from then on no reader trusts the files.
            if let Some(meta) = self.head(&m).await? {
                if SystemTime::from(meta.last_modified) > not_after {
                    return Ok(0); // republished since the listing
                }
                self.delete_object(&m).await?;
                freed += meta.size;
            }
            for f in self.list_under(&format!("files/{key}")).await? {
                if SystemTime::from(f.last_modified) <= not_after {
                    self.delete_object(&f.location).await?;
                    freed += f.size;
                }
            }
            Ok(freed)
        })
    }

    fn stats(&self) -> String {
        let c = &self.calls;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "store {}: {} list, {} get, {} head, {} put, {} delete requests; {} bytes down, {} bytes up",
            self.url,
            g(&c.list),
            g(&c.get),
            g(&c.head),
            g(&c.put),
            g(&c.delete),
            g(&c.down),
            g(&c.up)
        )
    }
}

/// An object_store error with its causes (the transport's reason is in the chain).
fn error_chain(e: &object_store::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Meta, Output};

    fn meta(key: &str) -> Meta {
        Meta::for_test(key)
    }

    fn got(r: &Remote) -> u64 {
        r.calls.get.load(Ordering::Relaxed)
    }

    /// Threads looking up one key in a cold cache at once download it once: one manifest
    /// and one file, whatever the number of threads.
    #[test]
    fn concurrent_lookups_download_an_artifact_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("bucket").display());
        let writer = Cache::open(&dir.path().join("a"))
            .unwrap()
            .with_remote(Some(Arc::new(Remote::open(&url).unwrap())));
        writer
            .store(meta("k"), Output::default().file("f", vec![7; 100_000]))
            .unwrap();
        let remote = Arc::new(Remote::open(&url).unwrap());
        let reader = Cache::open(&dir.path().join("b"))
            .unwrap()
            .with_remote(Some(remote.clone()));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let a = reader.lookup("k").unwrap();
                    assert_eq!(
                        std::fs::read(a.file_path("f").unwrap()).unwrap().len(),
                        100_000
                    );
                });
            }
        });
        assert_eq!(got(&remote), 2, "{}", remote.stats());
        assert!(remote.calls.down.load(Ordering::Relaxed) > 100_000);
        // Found here now: no more requests.
        reader.lookup("k").unwrap();
        assert_eq!(got(&remote), 2);
    }

    /// A table whose bytes no longer match the manifest is not trusted: the lookup says
    /// why and stores nothing.
    #[test]
    fn a_damaged_file_in_the_store_is_a_corrupt_miss() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        let url = format!("file://{}", bucket.display());
        let writer = Cache::open(&dir.path().join("a"))
            .unwrap()
            .with_remote(Some(Arc::new(Remote::open(&url).unwrap())));
        let a = writer
            .store(meta("k"), Output::default().file("f", vec![7; 1000]))
            .unwrap();
        let e = &a.manifest.extra[0];
        std::fs::write(
            bucket.join(format!("files/k/{}/f", e.blake3)),
            vec![8; 1000],
        )
        .unwrap();
        let reader = Cache::open(&dir.path().join("b"))
            .unwrap()
            .with_remote(Some(Arc::new(Remote::open(&url).unwrap())));
        match reader.lookup("k") {
            Err(Miss::Corrupt(why)) => assert!(why.contains("checksum mismatch"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(reader.lookup_local("k").is_err());
    }
}
