//! Loading pipeline YAML (and `use:` presets from stages/) into declarations with source spans.

pub mod params;
pub mod set;
pub mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use marked_yaml::loader::{LoadError, LoaderOptions};
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::Node;

pub use source::Sources;

use crate::error::{did_you_mean, ConfigError, Location};

/// A parsed pipeline file: variables and stage declarations, not yet checked against kinds.
#[derive(Debug)]
pub struct Pipeline {
    pub path: PathBuf,
    pub name: String,
    pub sources: Sources,
    pub stages: Vec<StageDecl>,
    /// Every declared variable's value after `--var` (what the run log records).
    pub vars: BTreeMap<String, Node>,
    /// The `--set` overrides in command-line order, by `STAGE.PATH`.
    pub sets: Vec<(String, Node)>,
}

/// One stage as written: its kind (from `kind:` or a `use:` preset), merged params, inputs.
#[derive(Debug)]
pub struct StageDecl {
    pub name: String,
    /// The stage's name in the file, for errors about the stage as a whole.
    pub name_node: Node,
    pub kind: String,
    pub kind_node: Node,
    pub params: Node,
    pub inputs: Vec<InputRef>,
}

/// `inputs: {role: stage}` or `inputs: [stage]` (the kind's single role).
#[derive(Debug, Clone)]
pub struct InputRef {
    pub role: Option<String>,
    pub stage: String,
    pub node: Node,
}

const TOP_KEYS: &[&str] = &["description", "vars", "stages"];
const STAGE_KEYS: &[&str] = &["description", "kind", "use", "params", "inputs"];
const PRESET_KEYS: &[&str] = &["description", "kind", "params"];

/// Reads `path`; presets named by `use:` are looked up in `root/stages/NAME.yaml`.
/// `overrides` replace declared variables (from `--var name=value`).
pub fn load(
    path: &Path,
    root: &Path,
    overrides: &BTreeMap<String, String>,
) -> Result<Pipeline, ConfigError> {
    load_with(path, root, overrides, &[])
}

/// As [`load`], then each `--set STAGE.PARAM=VALUE` in `sets` (see [`set`]) applied to its
/// stage's merged params, in order.
pub fn load_with(
    path: &Path,
    root: &Path,
    overrides: &BTreeMap<String, String>,
    sets: &[String],
) -> Result<Pipeline, ConfigError> {
    let mut sources = Sources::default();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(format!("cannot read pipeline {}: {e}", path.display()))
            .help("pass a pipeline file, e.g. `qa-pipe run pipelines/report.yaml`")
    })?;
    let shown = path.strip_prefix(root).unwrap_or(path);
    let id = sources.add(shown, text);
    let doc = parse(&sources, id)?;
    let top = doc
        .as_mapping()
        .expect("toplevel_mapping guarantees a mapping");
    check_keys(&sources, top, TOP_KEYS, "pipeline")?;

    let mut vars = BTreeMap::new();
    if let Some(v) = top.get_node("vars") {
        let Node::Mapping(m) = v else {
            return Err(sources.error_at(v, "`vars:` must be a mapping of names to values"));
        };
        for (k, v) in m.iter() {
            vars.insert(k.as_str().to_string(), v.clone());
        }
    }
    for (name, value) in overrides {
        let mut node = MarkedScalarNode::new(marked_yaml::Span::new_blank(), value.clone());
        node.set_coerce(true);
        if !vars.contains_key(name) {
            return Err(ConfigError::new(format!(
                "--var {name}: the pipeline declares no variable `{name}`"
            ))
            .help(format!(
                "declared variables: {}",
                vars.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        // A list value on the command line is written as YAML flow syntax: `[1, 2]`.
        let opts = LoaderOptions::default().prevent_coercion(true);
        let parsed = marked_yaml::parse_yaml_with_options(usize::MAX, format!("v: {value}"), opts)
            .ok()
            .and_then(|n| n.as_mapping().and_then(|m| m.get_node("v").cloned()));
        vars.insert(name.clone(), parsed.unwrap_or(Node::Scalar(node)));
    }

    let Some(stages_node) = top.get_node("stages") else {
        return Err(sources
            .error_at_file(id, "pipeline has no `stages:`")
            .help("declare stages as `stages: {name: {kind: ..., params: ...}}`"));
    };
    let Node::Mapping(stage_map) = stages_node else {
        return Err(sources.error_at(
            stages_node,
            "`stages:` must be a mapping from stage names to stages",
        ));
    };

    let mut stages = Vec::new();
    let mut presets = BTreeMap::new();
    for (name, body) in stage_map.iter() {
        stages.push(stage(&mut sources, &mut presets, root, name, body, &vars)?);
    }
    let mut applied = Vec::new();
    for arg in sets {
        let s = set::parse(arg, &mut sources)?;
        let Some(decl) = stages.iter_mut().find(|d| d.name == s.stage) else {
            return Err(s.unknown_stage(&sources, stages.iter().map(|d| d.name.as_str())));
        };
        decl.params = s.apply(&decl.params, &sources)?;
        applied.push((s.target.clone(), s.value.clone()));
    }
    let name = pipeline_name(path);
    Ok(Pipeline {
        path: shown.to_path_buf(),
        name,
        sources,
        stages,
        vars,
        sets: applied,
    })
}

fn parse(sources: &Sources, id: usize) -> Result<Node, ConfigError> {
    let opts = LoaderOptions::default()
        .error_on_duplicate_keys(true)
        .toplevel_mapping();
    marked_yaml::parse_yaml_with_options(id, sources.text(id), opts).map_err(|e| {
        let path = sources.path(id);
        let text = sources.text(id);
        let at = |m: &marked_yaml::Marker| Some(Location::new(path, text, m.line(), m.column()));
        match e {
            LoadError::DuplicateKey(d) => {
                let first = d.prev_key.span().start().map(|m| m.line()).unwrap_or(0);
                let key = d.key.as_str();
                let what = if first > 0 {
                    format!(" (first defined at line {first})")
                } else {
                    String::new()
                };
                ConfigError::new(format!("`{key}` is defined twice{what}"))
                    .at(d.key.span().start().and_then(at), key.chars().count())
                    .help("stage names and keys must be unique: rename or remove one of them")
            }
            LoadError::ScanError(m, s) => ConfigError::new(format!(
                "YAML syntax error: {}",
                scan_message(&s.to_string())
            ))
            .at(at(&m), 1)
            .help("check indentation, colons and quotes on this line or the one before"),
            LoadError::TopLevelMustBeMapping(m) => {
                ConfigError::new("the file must be a YAML mapping")
                    .at(at(&m), 1)
                    .help("start with `stages:`")
            }
            LoadError::UnexpectedAnchor(m) => {
                ConfigError::new("YAML anchors and aliases are not supported")
                    .at(at(&m), 1)
                    .help("use `vars:` and `${name}` to share values")
            }
            LoadError::UnexpectedTag(m) => {
                ConfigError::new("YAML tags are not supported").at(at(&m), 1)
            }
            LoadError::MappingKeyMustBeScalar(m) => {
                ConfigError::new("mapping keys must be plain names").at(at(&m), 1)
            }
            other => ConfigError::new(format!("YAML error: {other}")),
        }
    })
}

/// yaml-rust appends its own position; ours is in the `-->` line.
fn scan_message(s: &str) -> String {
    s.split(" at byte ")
        .next()
        .unwrap_or(s)
        .split(" at line ")
        .next()
        .unwrap_or(s)
        .to_string()
}

fn check_keys(
    sources: &Sources,
    map: &MarkedMappingNode,
    allowed: &[&str],
    what: &str,
) -> Result<(), ConfigError> {
    for (k, _) in map.iter() {
        if !allowed.contains(&k.as_str()) {
            let mut e = sources.error_at_span(
                k.span(),
                k.as_str().chars().count(),
                format!("unknown key `{}` in {what}", k.as_str()),
            );
            e = match did_you_mean(k.as_str(), allowed.iter().copied()) {
                Some(s) => e.help(format!(
                    "did you mean `{s}`? allowed: {}",
                    allowed.join(", ")
                )),
                None => e.help(format!("allowed keys: {}", allowed.join(", "))),
            };
            return Err(e);
        }
    }
    Ok(())
}

/// A preset of stages/, read and checked once per pipeline however many stages use it.
#[derive(Clone)]
struct Preset {
    kind: String,
    kind_node: Node,
    params: Option<Node>,
}

fn stage(
    sources: &mut Sources,
    presets: &mut BTreeMap<String, Preset>,
    root: &Path,
    name: &MarkedScalarNode,
    body: &Node,
    vars: &BTreeMap<String, Node>,
) -> Result<StageDecl, ConfigError> {
    let name_node = Node::Scalar(name.clone());
    let Node::Mapping(map) = body else {
        return Err(sources
            .error_at(
                &name_node,
                format!("stage `{}` must be a mapping", name.as_str()),
            )
            .help("give it `kind:` (or `use:`), `params:` and `inputs:`"));
    };
    check_keys(
        sources,
        map,
        STAGE_KEYS,
        &format!("stage `{}`", name.as_str()),
    )?;

    let mut kind: Option<(String, Node)> = None;
    let mut preset_params: Option<Node> = None;
    if let Some(u) = map.get_node("use") {
        let Node::Scalar(s) = u else {
            return Err(sources.error_at(u, "`use:` takes the name of a preset in stages/"));
        };
        let preset = match presets.get(s.as_str()) {
            Some(p) => p.clone(),
            None => {
                let p = preset(sources, root, s, u)?;
                presets.insert(s.as_str().to_string(), p.clone());
                p
            }
        };
        kind = Some((preset.kind, preset.kind_node));
        preset_params = preset.params;
    }
    if let Some(k) = map.get_node("kind") {
        let Node::Scalar(ks) = k else {
            return Err(sources.error_at(k, "`kind:` must be a name"));
        };
        if let Some((pk, _)) = &kind {
            if pk != ks.as_str() {
                return Err(sources
                    .error_at(
                        k,
                        format!(
                            "`kind: {}` contradicts the preset's kind `{pk}`",
                            ks.as_str()
                        ),
                    )
                    .help("drop `kind:` when the stage uses a preset"));
            }
        }
        kind = Some((ks.as_str().to_string(), k.clone()));
    }
    let Some((kind, kind_node)) = kind else {
        return Err(sources
            .error_at(
                &name_node,
                format!("stage `{}` has no `kind:`", name.as_str()),
            )
            .help("add `kind: NAME` or `use: PRESET`"));
    };

    let own = map.get_node("params");
    for p in [&preset_params, &own.cloned()].into_iter().flatten() {
        if !matches!(p, Node::Mapping(_)) && !is_empty_scalar(p) {
            return Err(sources.error_at(p, "`params:` must be a mapping of param names to values"));
        }
    }
    let mut merged = MarkedMappingNode::new_empty(*own.unwrap_or(body).span());
    for p in [preset_params.as_ref(), own].into_iter().flatten() {
        if let Node::Mapping(m) = p {
            for (k, v) in m.iter() {
                // The pipeline's own key replaces the preset's (insert alone would keep the
                // preset's key node), so an error about an overridden param points here.
                merged.remove(k);
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    let params = params::substitute(&Node::Mapping(merged), vars, sources)?;

    let mut inputs = Vec::new();
    if let Some(i) = map.get_node("inputs") {
        let i = params::substitute(i, vars, sources)?;
        let one = |role: Option<String>,
                   n: &Node,
                   inputs: &mut Vec<InputRef>|
         -> Result<(), ConfigError> {
            match n {
                Node::Scalar(s) => {
                    inputs.push(InputRef {
                        role,
                        stage: s.as_str().to_string(),
                        node: n.clone(),
                    });
                    Ok(())
                }
                Node::Sequence(seq) => {
                    for item in seq.iter() {
                        let Node::Scalar(s) = item else {
                            return Err(sources.error_at(item, "an input is a stage name"));
                        };
                        inputs.push(InputRef {
                            role: role.clone(),
                            stage: s.as_str().to_string(),
                            node: item.clone(),
                        });
                    }
                    Ok(())
                }
                Node::Mapping(_) => {
                    Err(sources.error_at(n, "an input is a stage name or a list of them"))
                }
            }
        };
        match &i {
            Node::Mapping(m) => {
                for (role, v) in m.iter() {
                    one(Some(role.as_str().to_string()), v, &mut inputs)?;
                }
            }
            other => one(None, other, &mut inputs)?,
        }
    }

    Ok(StageDecl {
        name: name.as_str().to_string(),
        name_node,
        kind,
        kind_node,
        params,
        inputs,
    })
}

/// The name a pipeline's state, latest report and records are kept under: its file stem.
pub fn pipeline_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads, parses and checks the preset `s` (named at `u`) from root/stages/.
fn preset(
    sources: &mut Sources,
    root: &Path,
    s: &MarkedScalarNode,
    u: &Node,
) -> Result<Preset, ConfigError> {
    let file = root.join("stages").join(format!("{}.yaml", s.as_str()));
    let text = std::fs::read_to_string(&file).map_err(|_| {
        let known = list_presets(root);
        let mut e = sources.error_at(
            u,
            format!(
                "preset `{}` not found: no file {}",
                s.as_str(),
                file.display()
            ),
        );
        let hint = did_you_mean(s.as_str(), known.iter().map(String::as_str))
            .map(|h| format!("did you mean `{h}`? "))
            .unwrap_or_default();
        e = e.help(format!(
            "{hint}presets in stages/: {}",
            if known.is_empty() {
                "(none)".to_string()
            } else {
                known.join(", ")
            }
        ));
        e
    })?;
    let id = sources.add(file.strip_prefix(root).unwrap_or(&file), text);
    let doc = parse(sources, id)?;
    let pm = doc.as_mapping().expect("mapping");
    check_keys(
        sources,
        pm,
        PRESET_KEYS,
        &format!("preset `{}`", s.as_str()),
    )?;
    let Some(k) = pm.get_node("kind") else {
        return Err(sources
            .error_at_file(id, "preset has no `kind:`")
            .help("add `kind: NAME` to the preset"));
    };
    let Node::Scalar(ks) = k else {
        return Err(sources.error_at(k, "`kind:` must be a name"));
    };
    Ok(Preset {
        kind: ks.as_str().to_string(),
        kind_node: k.clone(),
        params: pm.get_node("params").cloned(),
    })
}

fn is_empty_scalar(n: &Node) -> bool {
    matches!(n, Node::Scalar(s) if s.as_str().is_empty() || s.as_str() == "~" || s.as_str() == "null")
}

/// Preset names available under root/stages/, for suggestions.
pub fn list_presets(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join("stages"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            if p.extension()? == "yaml" {
                Some(p.file_stem()?.to_string_lossy().into_owned())
            } else {
                None
            }
        })
        .collect();
    v.sort();
    v
}
