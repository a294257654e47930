//! Seeded random streams derived from names, so results never depend on thread scheduling.
//!
//! A stream is blake3 over (seed, optimizer, cell, purpose) turned into a ChaCha8 seed, so
//! the initial weights, the per-epoch shuffles and the training subset are independent
//! streams: adding a snapshot, another optimizer, another cell or another thread cannot
//! shift any of them.
//!
//! A run's [`RunKey`] names it by (seed, optimizer, cell). With [`RngScope::Run`] (the
//! default) all three feed its streams, so no two runs share random numbers. With
//! [`RngScope::Seed`] only the seed does, as in the study, where `np.random.seed(seed)`
//! precedes every run: for one seed every optimizer and grid cell then starts from the same
//! weights and sees the same shuffles (common random numbers).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which parts of a run's identity seed its random streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RngScope {
    /// (seed, optimizer, cell): every run has its own streams.
    #[default]
    Run,
    /// The seed alone, as the study: runs of one seed share weights and shuffles.
    Seed,
}

/// A run's identity as far as randomness goes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunKey {
    pub seed: u64,
    /// The optimizer's name (`"adam"`), or empty.
    pub optimizer: String,
    /// The sweep cell's id, or empty outside a sweep.
    pub cell: String,
}

impl RunKey {
    /// The key of a run under `scope`: the optimizer and cell are dropped for
    /// [`RngScope::Seed`].
    pub fn new(scope: RngScope, seed: u64, optimizer: &str, cell: &str) -> Self {
        match scope {
            RngScope::Run => RunKey {
                seed,
                optimizer: optimizer.to_owned(),
                cell: cell.to_owned(),
            },
            RngScope::Seed => RunKey::from(seed),
        }
    }

    /// The stream for one purpose (e.g. `"init"`, `"shuffle"`, `"subset"`) of this run.
    pub fn stream(&self, purpose: &str) -> ChaCha8Rng {
        let mut h = blake3::Hasher::new();
        h.update(b"qa-pipe/rng/v2");
        h.update(&self.seed.to_le_bytes());
        // Length-prefixed, so ("ab", "c") and ("a", "bc") are different streams.
        for part in [self.optimizer.as_str(), self.cell.as_str(), purpose] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        ChaCha8Rng::from_seed(*h.finalize().as_bytes())
    }
}

/// A seed alone: the study's scope.
impl From<u64> for RunKey {
    fn from(seed: u64) -> Self {
        RunKey {
            seed,
            ..RunKey::default()
        }
    }
}

/// The stream for one purpose of a bare seed (random search draws, projections).
pub fn stream(seed: u64, purpose: &str) -> ChaCha8Rng {
    RunKey::from(seed).stream(purpose)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn streams_are_stable_and_distinct() {
        let a = stream(42, "init").next_u64();
        assert_eq!(a, stream(42, "init").next_u64());
        assert_ne!(a, stream(43, "init").next_u64());
        assert_ne!(a, stream(42, "shuffle").next_u64());
    }

    #[test]
    fn run_scope_separates_optimizers_and_cells_seed_scope_does_not() {
        let first = |k: RunKey| k.stream("init").next_u64();
        let run = |o: &str, c: &str| first(RunKey::new(RngScope::Run, 42, o, c));
        assert_ne!(run("adam", ""), run("sgd", ""));
        assert_ne!(run("adam", "c1"), run("adam", "c2"));
        assert_ne!(run("ab", "c"), run("a", "bc"));
        assert_eq!(run("adam", "c1"), run("adam", "c1"));
        let shared = |o: &str, c: &str| first(RunKey::new(RngScope::Seed, 42, o, c));
        assert_eq!(shared("adam", "c1"), shared("sgd", "c2"));
        assert_eq!(shared("adam", ""), first(RunKey::from(42)));
        assert_ne!(shared("adam", ""), first(RunKey::from(43)));
    }
}
