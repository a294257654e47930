//! Sweep cells: a grid over named parameters, or seeded random search, as pure functions.
//!
//! A cell is an assignment `name -> value` (JSON values, so any train parameter can be
//! swept; names may be dotted paths like `optimizer.lr`, see [`apply`]). A cell's id is a
//! hash of its own assignment only, so extending a grid keeps the ids (and hence the
//! cache entries) of the cells that were already there.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rng::stream;

/// One point of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// 16 hex digits of blake3 over the canonical JSON of `params`.
    pub id: String,
    pub params: BTreeMap<String, Value>,
}

impl Cell {
    pub fn new(params: BTreeMap<String, Value>) -> Self {
        Cell {
            id: cell_id(&params),
            params,
        }
    }
}

/// The stable id of an assignment (keys are sorted by the BTreeMap; serde_json writes
/// numbers canonically, so `0.1` always hashes the same).
pub fn cell_id(params: &BTreeMap<String, Value>) -> String {
    let json = serde_json::to_string(params).expect("JSON values serialise");
    let h = blake3::hash(json.as_bytes());
    h.to_hex()[..16].to_string()
}

/// Every combination of the listed values, the last key varying fastest (keys sorted).
/// An empty grid is one empty cell; a key with no values gives no cells.
pub fn grid(axes: &BTreeMap<String, Vec<Value>>) -> Vec<Cell> {
    let mut cells = vec![BTreeMap::new()];
    for (name, values) in axes {
        let mut next = Vec::with_capacity(cells.len() * values.len());
        for c in &cells {
            for v in values {
                let mut c = c.clone();
                c.insert(name.clone(), v.clone());
                next.push(c);
            }
        }
        cells = next;
    }
    cells.into_iter().map(Cell::new).collect()
}

/// How random search draws one parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// `exp(uniform(ln low, ln high))`, for learning rates and the like.
    LogUniform {
        low: f64,
        high: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    /// An integer in `[low, high]`, log-uniform (for layer sizes).
    IntLogUniform {
        low: u64,
        high: u64,
    },
    /// One of the listed values, uniformly.
    Choice(Vec<Value>),
}

impl Distribution {
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::LogUniform { low, high } if !(*low > 0.0 && low <= high) => Err(format!(
                "log_uniform needs 0 < low <= high, got low {low}, high {high}"
            )),
            Self::Uniform { low, high } if low > high || low.is_nan() || high.is_nan() => Err(
                format!("uniform needs low <= high, got low {low}, high {high}"),
            ),
            Self::IntLogUniform { low, high } if !(*low > 0 && low <= high) => Err(format!(
                "int_log_uniform needs 0 < low <= high, got low {low}, high {high}"
            )),
            Self::Choice(v) if v.is_empty() => Err("choice needs at least one value".into()),
            _ => Ok(()),
        }
    }

    fn sample<R: Rng>(&self, rng: &mut R) -> Value {
        match self {
            Self::LogUniform { low, high } => {
                let u: f64 = rng.gen();
                Value::from((low.ln() + u * (high.ln() - low.ln())).exp())
            }
            Self::Uniform { low, high } => {
                let u: f64 = rng.gen();
                Value::from(low + u * (high - low))
            }
            Self::IntLogUniform { low, high } => {
                let (l, h) = ((*low as f64).ln(), ((*high + 1) as f64).ln());
                let u: f64 = rng.gen();
                let v = ((l + u * (h - l)).exp().floor() as u64).clamp(*low, *high);
                Value::from(v)
            }
            Self::Choice(vs) => vs[rng.gen_range(0..vs.len())].clone(),
        }
    }
}

/// `n` cells drawn with `seed`; parameters are drawn in key order for each cell in turn,
/// so a larger `n` extends a smaller one's list. Duplicate draws are dropped.
pub fn random_search(
    params: &BTreeMap<String, Distribution>,
    n: usize,
    seed: u64,
) -> Result<Vec<Cell>, String> {
    for (name, d) in params {
        d.validate().map_err(|e| format!("{name}: {e}"))?;
    }
    let mut rng = stream(seed, "random-search");
    let mut cells: Vec<Cell> = Vec::with_capacity(n);
    for _ in 0..n {
        let assignment = params
            .iter()
            .map(|(k, d)| (k.clone(), d.sample(&mut rng)))
            .collect();
        let cell = Cell::new(assignment);
        if !cells.iter().any(|c| c.id == cell.id) {
            cells.push(cell);
        }
    }
    Ok(cells)
}

/// Sets each of the cell's parameters in `base` (a JSON object), following dotted paths
/// (`optimizer.lr` sets `lr` inside `optimizer`) and creating missing objects.
pub fn apply(base: &mut Value, params: &BTreeMap<String, Value>) -> Result<(), String> {
    for (path, v) in params {
        let parts: Vec<&str> = path.split('.').collect();
        set_path(base, &parts, 0, v).map_err(|at| {
            let at = if at == 0 {
                "<root>".to_string()
            } else {
                parts[..at].join(".")
            };
            format!("cannot set `{path}`: `{at}` is not a map")
        })?;
    }
    Ok(())
}

/// Sets `parts[i..]` below `node`; on failure, the index of the part that is not a map.
fn set_path(node: &mut Value, parts: &[&str], i: usize, v: &Value) -> Result<(), usize> {
    let obj = node.as_object_mut().ok_or(i)?;
    if i + 1 == parts.len() {
        obj.insert(parts[i].to_string(), v.clone());
        return Ok(());
    }
    let child = obj
        .entry(parts[i].to_string())
        .or_insert_with(|| Value::Object(Default::default()));
    set_path(child, parts, i + 1, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn axes(pairs: &[(&str, Vec<Value>)]) -> BTreeMap<String, Vec<Value>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn grid_is_the_cartesian_product_with_stable_ids() {
        let small = grid(&axes(&[
            ("hidden", vec![json!(32), json!(64)]),
            ("optimizer.lr", vec![json!(0.1), json!(0.01)]),
        ]));
        assert_eq!(small.len(), 4);
        assert_eq!(small[1].params["hidden"], json!(32));
        assert_eq!(small[1].params["optimizer.lr"], json!(0.01));
        let ids: std::collections::BTreeSet<_> = small.iter().map(|c| c.id.clone()).collect();
        assert_eq!(ids.len(), 4);
        // Extending an axis keeps the old cells' ids.
        let big = grid(&axes(&[
            ("hidden", vec![json!(32), json!(64), json!(128)]),
            ("optimizer.lr", vec![json!(0.1), json!(0.01), json!(0.001)]),
        ]));
        assert_eq!(big.len(), 9);
        for c in &small {
            assert!(big.iter().any(|b| b.id == c.id && b.params == c.params));
        }
        assert_eq!(grid(&BTreeMap::new()).len(), 1);
    }

    #[test]
    fn random_search_is_seeded_and_in_range() {
        let params: BTreeMap<String, Distribution> = [
            (
                "lr".to_string(),
                Distribution::LogUniform {
                    low: 1e-4,
                    high: 1e-1,
                },
            ),
            (
                "hidden".to_string(),
                Distribution::IntLogUniform { low: 16, high: 256 },
            ),
        ]
        .into_iter()
        .collect();
        let a = random_search(&params, 200, 3).unwrap();
        assert_eq!(a, random_search(&params, 200, 3).unwrap());
        assert_ne!(a, random_search(&params, 200, 4).unwrap());
        assert_eq!(a[..10], random_search(&params, 10, 3).unwrap()[..]);
        let lrs: Vec<f64> = a.iter().map(|c| c.params["lr"].as_f64().unwrap()).collect();
        assert!(lrs.iter().all(|&l| (1e-4..=1e-1).contains(&l)));
        // Log-uniform: about a third of the draws per decade.
        let low_decade = lrs.iter().filter(|&&l| l < 1e-3).count();
        assert!((40..=95).contains(&low_decade), "{low_decade}");
        assert!(a
            .iter()
            .all(|c| (16..=256).contains(&c.params["hidden"].as_u64().unwrap())));
        let bad: BTreeMap<String, Distribution> = [(
            "lr".to_string(),
            Distribution::LogUniform {
                low: 0.0,
                high: 1.0,
            },
        )]
        .into();
        assert!(random_search(&bad, 1, 0)
            .unwrap_err()
            .contains("lr: log_uniform"));
    }

    #[test]
    fn apply_follows_dotted_paths() {
        let mut base = json!({"hidden": [64], "optimizer": {"name": "adam", "lr": 0.001}});
        let cell: BTreeMap<String, Value> = [
            ("optimizer.lr".to_string(), json!(0.01)),
            ("hidden".to_string(), json!([32])),
        ]
        .into();
        apply(&mut base, &cell).unwrap();
        assert_eq!(
            base,
            json!({"hidden": [32], "optimizer": {"name": "adam", "lr": 0.01}})
        );
        let err = apply(&mut base, &[("hidden.x".to_string(), json!(1))].into()).unwrap_err();
        assert!(err.contains("`hidden` is not a map"), "{err}");
    }
}
