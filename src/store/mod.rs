//! Where artifacts are shared: the [`Store`] interface (a key's artifact listed, fetched,
//! published, deleted) with two back ends, the local directory ([`crate::cache::Cache`], see
//! `local.rs`) and object storage through the `object_store` crate (`object.rs`), chosen
//! by a URL. The local store is the read-through cache in front of a remote one.

pub mod known;
mod local;
pub mod object;
pub mod sweep;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Result;
use serde::Deserialize;

use crate::cache::{Artifact, Cache, Miss};
use crate::error::{ConfigError, Error, Location, StoreError};

/// One key's worth of a store, for `gc`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub key: String,
    /// Everything stored under the key (tables, extra files, manifest).
    pub bytes: u64,
    /// When its newest object was written: `gc` spares anything younger than its grace.
    pub modified: SystemTime,
    /// Whether its manifest is there. Files without one are an upload in progress, or
    /// what a writer that died left.
    pub published: bool,
}

/// What publishing an artifact came to.
#[derive(Debug)]
pub enum Published {
    /// This artifact is the store's now (or an identical one was already).
    Ours,
    /// Another writer published first; its artifact, now in the local store, is the one
    /// to use.
    Theirs(Box<Artifact>),
}

/// A store of artifacts by key. Publishing is all-or-nothing for readers: an artifact is
/// there once its manifest is, and a reader trusts it only when every file verifies.
pub trait Store: Send + Sync {
    /// The URL, for messages (never holds credentials: those come from the environment).
    fn url(&self) -> &str;
    /// The keys that have a manifest, in one listing.
    fn keys(&self) -> Result<BTreeSet<String>, StoreError>;
    /// Whether `key` has a manifest, without downloading it.
    fn contains(&self, key: &str) -> Result<bool, StoreError>;
    /// Every key with what it holds, for `gc` (manifest-less uploads included).
    fn list(&self) -> Result<Vec<Stored>, StoreError>;
    /// Brings the verified artifact `key` into the local store `into`, or says why it cannot.
    fn fetch(&self, key: &str, into: &Cache) -> Result<Result<Artifact, Miss>, StoreError>;
    /// Publishes `artifact` (verified, in the local store): files first, the manifest last
    /// and only if absent, unless `replace` (`run --force`).
    fn publish(
        &self,
        artifact: &Artifact,
        local: &Cache,
        replace: bool,
    ) -> Result<Published, StoreError>;
    /// Deletes what is stored under `key` and was written no later than `not_after` (an
    /// object rewritten since, by a concurrent writer, stays); the manifest goes first.
    /// Returns the bytes freed.
    fn delete(&self, key: &str, not_after: SystemTime) -> Result<u64, StoreError>;
    /// Requests made so far, for `-v` and the tests: one line.
    fn stats(&self) -> String {
        String::new()
    }
}

/// A store named by `url`: `s3://bucket/prefix` (and `gs://`, `az://`), `file:///path`, or
/// `local`/`none` for none beyond the project's artifacts/.
pub fn open(url: &str) -> Result<Option<Arc<dyn Store>>, Error> {
    let url = url.trim();
    if url.is_empty() || url == "local" || url == "none" {
        return Ok(None);
    }
    Ok(Some(Arc::new(object::Remote::open(url)?)))
}

/// The project's settings file: `qa-pipe.yaml` at its root, optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// The shared store's URL (`--store` overrides it).
    pub store: Option<String>,
}

pub const PROJECT_CONFIG: &str = "qa-pipe.yaml";

impl ProjectConfig {
    /// Reads `root/qa-pipe.yaml`; no file is an empty config. A mistake names file:line:column.
    pub fn load(root: &Path) -> Result<ProjectConfig, Error> {
        let path = root.join(PROJECT_CONFIG);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(Error::Other(
                    anyhow::Error::from(e).context(format!("reading {}", path.display())),
                ))
            }
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_yaml::from_str(&text).map_err(|e| {
            let loc = e
                .location()
                .map(|l| Location::new(&path, &text, l.line(), l.column()));
            let msg = e.to_string();
            // serde_yaml appends " at line L column C": the location is shown below.
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            ConfigError::new(format!("{}: {msg}", path.display()))
                .at(loc, 1)
                .help("qa-pipe.yaml knows one key: `store: s3://bucket/prefix`")
                .into()
        })
    }
}

/// The store a command uses: `--store`, else the project config's `store:`, else none.
pub fn choose(flag: Option<&str>, root: &Path) -> Result<Option<Arc<dyn Store>>, Error> {
    match flag {
        Some(url) => open(url),
        None => match ProjectConfig::load(root)?.store {
            Some(url) => open(&url),
            None => Ok(None),
        },
    }
}
