//! The local directory (artifacts/) as a [`Store`]: what `gc` sweeps when no shared store is
//! named, and what another local store can fetch from and publish to.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::time::SystemTime;

use super::{Published, Store, Stored};
use crate::cache::{dir_size, Artifact, Cache, Miss};
use crate::error::StoreError;

impl Cache {
    fn local_err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Local {
            url: self.root().display().to_string(),
            detail: e.to_string(),
        }
    }

    /// The artifact's manifest text and files, for [`Cache::import`] into another store.
    fn read_artifact(a: &Artifact) -> std::io::Result<(String, BTreeMap<String, Vec<u8>>)> {
        let text = fs::read_to_string(a.dir.join("manifest.json"))?;
        let mut files = BTreeMap::new();
        for e in a.manifest.tables.iter().chain(&a.manifest.extra) {
            files.insert(e.file.clone(), fs::read(a.dir.join(&e.file))?);
        }
        Ok((text, files))
    }
}

impl Store for Cache {
    fn url(&self) -> &str {
        self.root().to_str().unwrap_or("artifacts/")
    }

    fn keys(&self) -> Result<BTreeSet<String>, StoreError> {
        let all = self.list().map_err(|e| self.local_err(format!("{e:#}")))?;
        Ok(all.into_iter().map(|(k, _)| k).collect())
    }

    fn contains(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.object_dir(key).join("manifest.json").is_file())
    }

    fn list(&self) -> Result<Vec<Stored>, StoreError> {
        let all = Cache::list(self).map_err(|e| self.local_err(format!("{e:#}")))?;
        Ok(all
            .into_iter()
            .map(|(key, bytes)| {
                let dir = self.object_dir(&key);
                let modified = fs::metadata(&dir)
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                Stored {
                    published: dir.join("manifest.json").is_file(),
                    key,
                    bytes,
                    modified,
                }
            })
            .collect())
    }

    fn fetch(&self, key: &str, into: &Cache) -> Result<Result<Artifact, Miss>, StoreError> {
        let a = match self.lookup_local(key) {
            Ok(a) => a,
            Err(miss) => return Ok(Err(miss)),
        };
        if into.root() == self.root() {
            return Ok(Ok(a));
        }
        let (text, files) = Cache::read_artifact(&a).map_err(|e| self.local_err(e))?;
        into.import(key, &text, &files, true)
            .map_err(|e| into.local_err(format!("{e:#}")))
    }

    fn publish(
        &self,
        artifact: &Artifact,
        local: &Cache,
        replace: bool,
    ) -> Result<Published, StoreError> {
        if local.root() == self.root() {
            return Ok(Published::Ours);
        }
        let (text, files) = Cache::read_artifact(artifact).map_err(|e| local.local_err(e))?;
        let stored = self
            .import(artifact.key(), &text, &files, replace)
            .map_err(|e| self.local_err(format!("{e:#}")))?
            .map_err(|m| self.local_err(m))?;
        if stored.manifest.created_unix == artifact.manifest.created_unix
            && stored.manifest.tables == artifact.manifest.tables
        {
            return Ok(Published::Ours);
        }
        // Another writer's artifact was there: it is the one to use, here too.
        let (text, files) = Cache::read_artifact(&stored).map_err(|e| self.local_err(e))?;
        local
            .import(artifact.key(), &text, &files, true)
            .map_err(|e| local.local_err(format!("{e:#}")))?
            .map(|a| Published::Theirs(Box::new(a)))
            .map_err(|m| local.local_err(m))
    }

    fn delete(&self, key: &str, not_after: SystemTime) -> Result<u64, StoreError> {
        let dir = self.object_dir(key);
        let young = fs::metadata(&dir)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t > not_after);
        if young {
            return Ok(0);
        }
        let bytes = dir_size(&dir);
        self.discard(key)
            .map_err(|e| self.local_err(format!("{e:#}")))?;
        Ok(bytes)
    }
}
