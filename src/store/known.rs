//! What this cache knows the shared store holds: the keys it saw in a listing, fetched or
//! published there, each with when. A fully cached run whose every key is here and was seen
//! in the store within [`TRUST_FOR`] asks the store nothing (`Cache::index_remote_for`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::fileio::write_atomic;

/// How long a key seen in the store is taken to be still there without asking. Only `gc
/// --store` deletes from a store, and only what no pipeline keeps and is older than its
/// grace; a key taken to be there after such a gc removed it costs the push a listing
/// would have made (the next run after this window makes it), never a wrong result.
pub const TRUST_FOR: Duration = Duration::from_secs(3600);

const HEADER: &str = "qa-pipe store keys 1";

/// The known keys of one store (by URL), in `state/` of the local store.
pub struct Known {
    path: PathBuf,
    url: String,
    /// Key -> when it was last seen in the store (unix seconds).
    seen: HashMap<String, u64>,
    changed: bool,
}

pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Known {
    /// The record for the store at `url`, kept in `state_dir`. A file that is missing, for
    /// another store or unreadable is an empty record: nothing is known, so the next run
    /// lists the store.
    pub fn load(state_dir: &Path, url: &str) -> Known {
        let name = blake3::hash(url.as_bytes()).to_hex();
        let path = state_dir.join(format!("store-{}.keys", &name[..16]));
        let mut seen = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            let mut lines = text.lines();
            if lines.next() == Some(HEADER) && lines.next() == Some(url) {
                for line in lines {
                    if let Some((key, t)) = line.split_once(' ') {
                        if let Ok(t) = t.parse() {
                            seen.insert(key.to_string(), t);
                        }
                    }
                }
            }
        }
        Known {
            path,
            url: url.to_string(),
            seen,
            changed: false,
        }
    }

    /// `key` is in the store as of `now`.
    pub fn saw(&mut self, key: &str, now: u64) {
        if self.seen.get(key) != Some(&now) {
            self.seen.insert(key.to_string(), now);
            self.changed = true;
        }
    }

    /// `key` was asked for and is not in the store.
    pub fn lost(&mut self, key: &str) {
        self.changed |= self.seen.remove(key).is_some();
    }

    /// Whether every one of `keys` was seen in the store within [`TRUST_FOR`] of `now`.
    pub fn all_recent<'k>(&self, mut keys: impl Iterator<Item = &'k str>, now: u64) -> bool {
        let since = now.saturating_sub(TRUST_FOR.as_secs());
        keys.all(|k| self.seen.get(k).is_some_and(|&t| t >= since && t <= now))
    }

    /// Writes the record if it changed, without the keys too old to be trusted. Losing it
    /// (a concurrent writer's record replacing this one, a failed write) costs a listing.
    pub fn save(&mut self, now: u64) {
        if !self.changed {
            return;
        }
        let since = now.saturating_sub(TRUST_FOR.as_secs());
        let mut keys: Vec<(&String, &u64)> =
            self.seen.iter().filter(|(_, &t)| t >= since).collect();
        keys.sort();
        let mut text = format!("{HEADER}\n{}\n", self.url);
        for (k, t) in keys {
            text.push_str(&format!("{k} {t}\n"));
        }
        if write_atomic(&self.path, text.as_bytes()).is_ok() {
            self.changed = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "s3://bucket/team";

    #[test]
    fn keys_seen_within_the_window_are_trusted_and_older_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = 1_800_000_000;
        let mut k = Known::load(dir.path(), URL);
        assert!(!k.all_recent(["a"].into_iter(), t0), "nothing known yet");
        assert!(k.all_recent([].into_iter(), t0), "no keys: nothing to ask");
        k.saw("a", t0);
        k.saw("b", t0 + 10);
        k.save(t0 + 10);

        let k = Known::load(dir.path(), URL);
        let window = TRUST_FOR.as_secs();
        assert!(k.all_recent(["a", "b"].into_iter(), t0 + 10));
        assert!(k.all_recent(["a", "b"].into_iter(), t0 + window));
        assert!(
            !k.all_recent(["a", "b"].into_iter(), t0 + window + 1),
            "a too old"
        );
        assert!(
            !k.all_recent(["a", "c"].into_iter(), t0 + 10),
            "c never seen"
        );
        // A clock that went back does not make a key seen in the future trusted.
        assert!(!k.all_recent(["b"].into_iter(), t0));
    }

    #[test]
    fn a_lost_key_is_forgotten_and_old_keys_are_dropped_on_save() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = 1_800_000_000;
        let mut k = Known::load(dir.path(), URL);
        k.saw("old", t0);
        k.saw("gone", t0 + TRUST_FOR.as_secs());
        k.saw("kept", t0 + TRUST_FOR.as_secs());
        k.lost("gone");
        k.save(t0 + TRUST_FOR.as_secs() + 1);
        let text = std::fs::read_to_string(&k.path).unwrap();
        assert_eq!(
            text,
            format!("{HEADER}\n{URL}\nkept {}\n", t0 + TRUST_FOR.as_secs())
        );
    }

    #[test]
    fn another_stores_record_or_a_damaged_one_knows_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = 1_800_000_000;
        let mut k = Known::load(dir.path(), URL);
        k.saw("a", t0);
        k.save(t0);
        let other = Known::load(dir.path(), "s3://bucket/other");
        assert!(!other.all_recent(["a"].into_iter(), t0));
        // Same file name, other URL inside (a hash collision, or a hand edit): not trusted.
        std::fs::write(&k.path, format!("{HEADER}\ns3://elsewhere\na {t0}\n")).unwrap();
        assert!(!Known::load(dir.path(), URL).all_recent(["a"].into_iter(), t0));
        std::fs::write(&k.path, "garbage").unwrap();
        assert!(!Known::load(dir.path(), URL).all_recent(["a"].into_iter(), t0));
    }
}
