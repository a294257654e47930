//! Pinned runs (`qa-pipe pin RUN [--name NAME]`): `gc` keeps their artifacts whatever
//! `--keep-runs` says. Kept in `artifacts/runs/pins.json`, rewritten atomically under a lock
//! of its own so two `pin`s do not lose each other's pin.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Pins {
    pub pins: Vec<Pin>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pin {
    pub id: String,
    /// What the user called it (`baseline`); refers to the run wherever an id does.
    pub name: String,
    pub pinned_unix: f64,
}

fn path(store_root: &Path) -> PathBuf {
    super::dir(store_root).join("pins.json")
}

impl Pins {
    /// The pins of the store; none when the file is missing or unreadable.
    pub fn load(store_root: &Path) -> Pins {
        fs::read(path(store_root))
            .ok()
            .and_then(|t| serde_json::from_slice(&t).ok())
            .unwrap_or_default()
    }

    pub fn by_name(&self, name: &str) -> Option<&Pin> {
        self.pins.iter().find(|p| p.name == name)
    }

    /// Loads, changes and saves the pins while holding their lock.
    pub fn update<T>(store_root: &Path, f: impl FnOnce(&mut Pins) -> Result<T>) -> Result<T> {
        let dir = super::dir(store_root);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let lock_path = dir.join(".pins.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let mut pins = Pins::load(store_root);
        let out = f(&mut pins)?;
        let text = serde_json::to_vec_pretty(&pins)?;
        crate::fileio::write_atomic(&path(store_root), &text)?;
        Ok(out)
    }
}
