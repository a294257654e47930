//! Why a stage would run: the difference between what its key was made of last time and now.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cache::Miss;
use crate::graph::Plan;
use crate::hash::Material;

/// Human reasons, most specific first, each once. `upstream` names, per input role, the
/// stages this stage reads now, in the order of `cur.inputs` (by position, not by key: two
/// stages with the same key are still two stages).
pub fn reasons(
    prev: Option<&Material>,
    cur: &Material,
    miss: Option<&Miss>,
    upstream: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    match prev {
        None => out.push("not run before in this pipeline".to_string()),
        Some(p) => {
            if p.kind != cur.kind {
                // Another kind's params and files are not comparable: the kind is the news.
                out.push(format!("kind changed from `{}` to `{}`", p.kind, cur.kind));
            } else {
                if p.version != cur.version {
                    out.push(format!(
                        "kind `{}` version bumped from {} to {}",
                        cur.kind, p.version, cur.version
                    ));
                }
                diff_params("", &p.params, &cur.params, &mut out);
                for (path, hash) in &cur.files {
                    match p.files.get(path) {
                        None => out.push(format!("reads new file {path}")),
                        Some(h) if h != hash => out.push(format!("input file {path} changed")),
                        _ => {}
                    }
                }
                for path in p.files.keys().filter(|k| !cur.files.contains_key(*k)) {
                    out.push(format!("no longer reads {path}"));
                }
            }
            let roles: std::collections::BTreeSet<&String> =
                p.inputs.keys().chain(cur.inputs.keys()).collect();
            for role in roles {
                let (a, b) = (p.inputs.get(role), cur.inputs.get(role));
                if a != b {
                    let names = upstream.get(role.as_str());
                    let changed: Vec<String> = b
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .filter(|(_, k)| !a.is_some_and(|a| a.contains(k)))
                        .map(|(n, k)| {
                            names
                                .and_then(|v| v.get(n))
                                .cloned()
                                .unwrap_or_else(|| k.short().to_string())
                        })
                        .collect();
                    if changed.is_empty() {
                        out.push(format!("input `{role}` changed"));
                    } else {
                        for name in changed {
                            out.push(format!("upstream stage `{name}` changed"));
                        }
                    }
                }
            }
        }
    }
    if let Some(m) = miss {
        if out.is_empty() || matches!(m, Miss::Corrupt(_)) || prev.is_some_and(|p| p == cur) {
            out.push(m.to_string());
        }
    }
    // A stage read under several roles (a plot's `curves` and `size`) changes once.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|r| seen.insert(r.clone()));
    out
}

/// Per input role, the names of the stages `node` reads, in order: what [`reasons`] names.
pub fn upstream_names(plan: &Plan, node: usize) -> BTreeMap<String, Vec<String>> {
    plan.nodes[node]
        .inputs
        .iter()
        .map(|(role, ups)| {
            let names = ups.iter().map(|&u| plan.nodes[u].name.clone()).collect();
            (role.clone(), names)
        })
        .collect()
}

fn diff_params(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff_params(&p, u, v, out),
                    (None, Some(v)) => out.push(format!("param `{p}` added: {}", short(v))),
                    (Some(u), None) => out.push(format!("param `{p}` removed (was {})", short(u))),
                    (None, None) => {}
                }
            }
        }
        _ if a != b => {
            let p = if path.is_empty() {
                "params".to_string()
            } else {
                path.to_string()
            };
            out.push(format!(
                "param `{p}` changed from {} to {}",
                short(a),
                short(b)
            ));
        }
        _ => {}
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Key;

    fn mat(params: Value) -> Material {
        Material {
            kind: "train".into(),
            version: 1,
            params,
            inputs: BTreeMap::new(),
            files: BTreeMap::new(),
        }
    }

    #[test]
    fn names_the_param_and_both_values() {
        let a = mat(serde_json::json!({"adam": {"lr": 0.001}, "epochs": 100}));
        let b = mat(serde_json::json!({"adam": {"lr": 0.01}, "epochs": 100}));
        let r = reasons(Some(&a), &b, Some(&Miss::Missing), &BTreeMap::new());
        assert_eq!(
            r,
            vec!["param `adam.lr` changed from 0.001 to 0.01".to_string()]
        );
    }

    #[test]
    fn an_upstream_stage_read_under_several_roles_is_named_once() {
        // A plot reads `optimizers` as `curves` and as `size`: one reason, by stage name.
        let mut a = mat(Value::Null);
        a.inputs = [
            ("curves".to_string(), vec![Key::from_hex("a1")]),
            (
                "size".to_string(),
                vec![Key::from_hex("b2"), Key::from_hex("a1")],
            ),
        ]
        .into();
        let mut b = a.clone();
        b.inputs = [
            ("curves".to_string(), vec![Key::from_hex("c3")]),
            (
                "size".to_string(),
                vec![Key::from_hex("b2"), Key::from_hex("c3")],
            ),
        ]
        .into();
        let names: BTreeMap<String, Vec<String>> = [
            ("curves".to_string(), vec!["optimizers".to_string()]),
            (
                "size".to_string(),
                vec!["size_25".to_string(), "optimizers".to_string()],
            ),
        ]
        .into();
        let r = reasons(Some(&a), &b, Some(&Miss::Missing), &names);
        assert_eq!(r, vec!["upstream stage `optimizers` changed".to_string()]);
    }

    #[test]
    fn version_bump_and_corruption_are_reported() {
        let a = mat(Value::Null);
        let mut b = a.clone();
        b.version = 2;
        let r = reasons(Some(&a), &b, Some(&Miss::Missing), &BTreeMap::new());
        assert_eq!(
            r,
            vec!["kind `train` version bumped from 1 to 2".to_string()]
        );
        let r = reasons(
            Some(&a),
            &a,
            Some(&Miss::Corrupt("x.parquet checksum mismatch".into())),
            &BTreeMap::new(),
        );
        assert_eq!(
            r,
            vec!["artifact corrupt (x.parquet checksum mismatch)".to_string()]
        );
    }
}
