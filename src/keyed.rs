//! The plan with every key computed once: each stage's key material and key, and each of
//! its units with its own key. `run`, `status`, `show`, `jobs`, `exec` and `gc` all read
//! keys from here, so there is one place that decides what a key is made of.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use rayon::prelude::*;

use crate::graph::{Plan, PlanNode};
use crate::hash::{FileHashes, Key, Material};
use crate::stages::Unit;

/// A checked plan and the keys of all its stages and units.
pub struct KeyedPlan {
    pub plan: Plan,
    /// Per plan node (same index): its key material, key and units.
    pub stages: Vec<StageKeys>,
}

pub struct StageKeys {
    pub material: Material,
    pub key: Key,
    /// The stage's units in `units()` order, each with its key.
    pub units: Vec<KeyedUnit>,
}

#[derive(Debug, Clone)]
pub struct KeyedUnit {
    pub unit: Unit,
    pub key: Key,
}

impl KeyedPlan {
    /// Computes every stage's key material in topological order (upstream keys included,
    /// input files hashed through `hashes`), then its key and its units' keys.
    pub fn new(plan: Plan, hashes: &mut FileHashes, root: &Path) -> Result<KeyedPlan> {
        let mut out: Vec<Option<StageKeys>> = (0..plan.nodes.len()).map(|_| None).collect();
        for &i in &plan.order {
            let node = &plan.nodes[i];
            let mut inputs = BTreeMap::new();
            for (role, ups) in &node.inputs {
                let keys = ups
                    .iter()
                    .map(|&u| out[u].as_ref().expect("topological order").key.clone())
                    .collect();
                inputs.insert(role.clone(), keys);
            }
            let mut files = BTreeMap::new();
            for f in &node.files {
                let rel = f
                    .strip_prefix(root)
                    .unwrap_or(f)
                    .to_string_lossy()
                    .into_owned();
                files.insert(rel, hashes.hash(f)?);
            }
            let material = Material {
                kind: node.kind.name.to_string(),
                version: node.kind.version,
                params: node.params.clone(),
                inputs,
                files,
            };
            let key = material.key();
            let keyer = material.unit_keys();
            // Large sweeps have ~10^5 units: their keys are worth both cores.
            let units = node
                .stage
                .units()
                .into_par_iter()
                .map(|unit| KeyedUnit {
                    key: keyer.key(unit.params.as_str()),
                    unit,
                })
                .collect();
            out[i] = Some(StageKeys {
                material,
                key,
                units,
            });
        }
        Ok(KeyedPlan {
            plan,
            stages: out
                .into_iter()
                .map(|s| s.expect("every node visited"))
                .collect(),
        })
    }

    pub fn node(&self, i: usize) -> &PlanNode {
        &self.plan.nodes[i]
    }

    pub fn key(&self, i: usize) -> &Key {
        &self.stages[i].key
    }

    /// Stage `i`'s key, then its units' keys.
    pub fn keys_of(&self, i: usize) -> impl Iterator<Item = &str> {
        let s = &self.stages[i];
        std::iter::once(s.key.as_str()).chain(s.units.iter().map(|u| u.key.as_str()))
    }

    /// The distinct stages `i` reads, in index order.
    pub fn upstream(&self, i: usize) -> Vec<usize> {
        let mut ups: Vec<usize> = self.plan.nodes[i]
            .inputs
            .values()
            .flatten()
            .copied()
            .collect();
        ups.sort_unstable();
        ups.dedup();
        ups
    }
}
