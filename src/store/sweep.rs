//! The deletion side of `gc`, on any [`Store`]: given the set of keys to keep (computed by
//! the caller from the pipelines), delete every other artifact, and every manifest-less
//! upload, that is older than a grace period. Writers do not lock a shared store, so the
//! grace period is what keeps `gc` from deleting an artifact being published right now.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use super::Store;
use crate::error::StoreError;

/// What a sweep removed (or, in a dry run, would remove).
#[derive(Debug, Default, PartialEq)]
pub struct Swept {
    /// Keys removed, with their bytes.
    pub removed: Vec<(String, u64)>,
    pub freed: u64,
    /// Keys that would have gone but are younger than the grace period.
    pub spared: usize,
}

/// Deletes from `store` what `keep` does not hold and was last written more than `grace`
/// ago; a key in `keep` without a manifest (an upload that never finished) goes too once
/// it is that old.
pub fn sweep(
    store: &dyn Store,
    keep: &BTreeSet<String>,
    grace: Duration,
    dry_run: bool,
) -> Result<Swept, StoreError> {
    let now = SystemTime::now();
    let cutoff = now.checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut out = Swept::default();
    for s in store.list()? {
        if keep.contains(&s.key) && s.published {
            continue;
        }
        if s.modified > cutoff {
            out.spared += 1;
            continue;
        }
        let freed = if dry_run {
            s.bytes
        } else {
            store.delete(&s.key, cutoff)?
        };
        out.freed += freed;
        out.removed.push((s.key, freed));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Cache, Meta, Output};

    fn meta(key: &str) -> Meta {
        Meta::for_test(key)
    }

    /// The same keep set and grace on the local directory and on an object store (its
    /// file:// back end): unkept old artifacts go, kept and young ones stay.
    #[test]
    fn sweeps_local_and_object_stores_alike() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("bucket").display());
        let remote: std::sync::Arc<dyn Store> = crate::store::open(&url).unwrap().unwrap();
        let cache = Cache::open(&dir.path().join("artifacts"))
            .unwrap()
            .with_remote(Some(remote.clone()));
        for k in ["keep1", "drop1", "drop2"] {
            cache
                .store(meta(k), Output::default().file("f", vec![1, 2, 3]))
                .unwrap();
        }
        let keep: BTreeSet<String> = ["keep1".to_string()].into();
        let local: &dyn Store = &cache;
        for store in [local, remote.as_ref()] {
            // Everything is younger than an hour: nothing goes.
            let young = sweep(store, &keep, Duration::from_secs(3600), false).unwrap();
            assert_eq!(
                (young.removed.len(), young.spared),
                (0, 2),
                "{}",
                store.url()
            );
            let dry = sweep(store, &keep, Duration::ZERO, true).unwrap();
            assert_eq!(dry.removed.len(), 2);
            assert_eq!(store.keys().unwrap().len(), 3, "a dry run deleted");
            let done = sweep(store, &keep, Duration::ZERO, false).unwrap();
            let gone: Vec<&str> = done.removed.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(gone, ["drop1", "drop2"], "{}", store.url());
            assert!(done.freed > 0);
            assert_eq!(store.keys().unwrap(), keep);
        }
        // Nothing of the dropped keys is left in the bucket (manifest and files).
        let left: Vec<_> = walk(&dir.path().join("bucket"));
        assert!(left.iter().all(|p| !p.contains("drop")), "{left:?}");
    }

    fn walk(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path().display().to_string());
            }
        }
        out
    }
}
