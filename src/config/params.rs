//! Stage params: `${var}` substitution, preset merging, and typed deserialisation that keeps
//! the exact line:column of the offending field.

use std::collections::BTreeMap;

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::Node;
use serde::de::DeserializeOwned;

use super::source::Sources;
use crate::error::{did_you_mean, ConfigError};

/// Replaces `${name}` scalars with the variable's node, and `${name}` inside longer strings
/// with the variable's text.
pub fn substitute(
    node: &Node,
    vars: &BTreeMap<String, Node>,
    sources: &Sources,
) -> Result<Node, ConfigError> {
    Ok(match node {
        Node::Scalar(s) => {
            let text = s.as_str();
            if let Some(name) = whole_reference(text) {
                match vars.get(name) {
                    Some(v) => v.clone(),
                    None => return Err(unknown_var(node, name, vars, sources)),
                }
            } else if text.contains("${") {
                let mut out = String::new();
                let mut rest = text;
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let Some(end) = rest[start..].find('}') else {
                        return Err(sources
                            .error_at(node, "unterminated `${` in value")
                            .help("write `${name}` to use a variable from `vars:`"));
                    };
                    let name = &rest[start + 2..start + end];
                    match vars.get(name) {
                        Some(Node::Scalar(v)) => out.push_str(v.as_str()),
                        Some(_) => {
                            return Err(sources
                                .error_at(node, format!("variable `{name}` is a list or mapping and cannot be placed inside a string"))
                                .help(format!("use `${{{name}}}` as the whole value")))
                        }
                        None => return Err(unknown_var(node, name, vars, sources)),
                    }
                    rest = &rest[start + end + 1..];
                }
                out.push_str(rest);
                let mut n = MarkedScalarNode::new(*s.span(), out);
                n.set_coerce(s.may_coerce());
                Node::Scalar(n)
            } else {
                node.clone()
            }
        }
        Node::Sequence(seq) => {
            let items = seq
                .iter()
                .map(|n| substitute(n, vars, sources))
                .collect::<Result<Vec<_>, _>>()?;
            Node::Sequence(MarkedSequenceNode::new(*seq.span(), items))
        }
        Node::Mapping(map) => {
            let mut out = MarkedMappingNode::new_empty(*map.span());
            for (k, v) in map.iter() {
                out.insert(k.clone(), substitute(v, vars, sources)?);
            }
            Node::Mapping(out)
        }
    })
}

fn whole_reference(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("${")?.strip_suffix('}')?;
    (!inner.contains(['{', '}', '$'])).then_some(inner)
}

fn unknown_var(
    node: &Node,
    name: &str,
    vars: &BTreeMap<String, Node>,
    sources: &Sources,
) -> ConfigError {
    let mut e = sources.error_at(node, format!("unknown variable `{name}`"));
    e = match did_you_mean(name, vars.keys().map(String::as_str)) {
        Some(s) => e.help(format!(
            "did you mean `{s}`? variables are declared under `vars:`"
        )),
        None => e.help("declare it under `vars:` at the top of the pipeline"),
    };
    e
}

/// Plain YAML typing for scalars: an unquoted `0.1` is a number, a quoted one a string.
pub fn to_value(node: &Node) -> serde_yaml::Value {
    use serde_yaml::Value;
    match node {
        Node::Scalar(s) => {
            let text = s.as_str();
            if s.may_coerce() && may_be_typed(text) {
                if let Ok(v) = serde_yaml::from_str::<Value>(text) {
                    if matches!(v, Value::Null | Value::Bool(_) | Value::Number(_)) {
                        return v;
                    }
                }
            }
            Value::String(text.to_string())
        }
        Node::Sequence(seq) => Value::Sequence(seq.iter().map(to_value).collect()),
        Node::Mapping(map) => {
            let mut m = serde_yaml::Mapping::new();
            for (k, v) in map.iter() {
                m.insert(Value::String(k.as_str().to_string()), to_value(v));
            }
            Value::Mapping(m)
        }
    }
}

/// Whether a plain scalar can be anything but a string under serde_yaml's typing (YAML
/// 1.2 core schema: null, booleans, numbers): only those are worth a parse. Most scalars of
/// a pipeline are names and paths, and a parse per scalar was a fifth of a fully cached
/// run of 1,000 stages.
fn may_be_typed(text: &str) -> bool {
    match text.as_bytes().first() {
        None => true,
        Some(c) if c.is_ascii_digit() || b"+-.~".contains(c) => true,
        Some(_) => matches!(
            text,
            "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        ),
    }
}

/// One step into a params tree, as serde_path_to_error reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// Follows `path` from `root`, returning the deepest node reached and the key node of the
/// last mapping step (so a message about a field can point at its name).
pub fn walk<'a>(root: &'a Node, path: &[Step]) -> (&'a Node, Option<&'a MarkedScalarNode>) {
    let mut node = root;
    let mut key = None;
    for step in path {
        let next = match (step, node) {
            (Step::Key(k), Node::Mapping(m)) => {
                m.iter().find(|(mk, _)| mk.as_str() == k).map(|(mk, v)| {
                    key = Some(mk);
                    v
                })
            }
            (Step::Index(i), Node::Sequence(s)) => s.get(*i),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    (node, key)
}

/// Parses a dotted field path like `optimizers[1].lr` as stages report it.
pub fn parse_path(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                steps.push(Step::Key(rest[..i].to_string()));
            }
            rest = &rest[i..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(end) = stripped.find(']') else { break };
                match stripped[..end].parse() {
                    Ok(n) => steps.push(Step::Index(n)),
                    Err(_) => steps.push(Step::Key(stripped[..end].to_string())),
                }
                rest = &stripped[end + 1..];
            }
        } else {
            steps.push(Step::Key(rest.to_string()));
        }
    }
    steps
}

/// Deserialises a stage's params, turning serde's message into one that points at the field.
pub fn deserialize<P: DeserializeOwned>(
    params: &Node,
    stage: &str,
    kind: &str,
    sources: &Sources,
) -> Result<P, ConfigError> {
    let value = to_value(params);
    serde_path_to_error::deserialize::<_, P>(value).map_err(|err| {
        let steps: Vec<Step> = err
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
                _ => None,
            })
            .collect();
        let inner = err.inner().to_string();
        let msg = inner
            .split(" at line ")
            .next()
            .unwrap_or(&inner)
            .to_string();
        let (node, key) = walk(params, &steps);
        let field = err.path().to_string();
        if let Some(rest) = msg.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or("");
            let known = expected_fields(&msg);
            // The path may or may not already include the unknown key itself.
            let located = match node {
                Node::Mapping(m) => m.iter().find(|(k, _)| k.as_str() == name).map(|(k, _)| k),
                _ => key.filter(|k| k.as_str() == name),
            };
            let mut e = match located {
                Some(k) => sources.error_at_span(
                    k.span(),
                    name.chars().count(),
                    format!("unknown param `{name}` for stage `{stage}` (kind `{kind}`)"),
                ),
                None => sources.error_at(
                    node,
                    format!("unknown param `{name}` for stage `{stage}` (kind `{kind}`)"),
                ),
            };
            let hint = did_you_mean(name, known.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            e = e.help(format!("{hint}known params: {}", known.join(", ")));
            e
        } else if let Some(rest) = msg.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or("");
            sources
                .error_at(
                    node,
                    format!("missing param `{name}` for stage `{stage}` (kind `{kind}`)"),
                )
                .help(format!("add `{name}:` under this stage's `params:`"))
        } else {
            let target = key
                .filter(|_| !matches!(node, Node::Scalar(_)))
                .map(|k| (k.span(), k.as_str().chars().count()));
            let text = format!("invalid value for param `{field}` of stage `{stage}`: {msg}");
            match target {
                Some((span, w)) => sources.error_at_span(span, w, text),
                None => sources.error_at(node, text),
            }
            .help(format!(
                "see the `{kind}` section of the README's YAML reference"
            ))
        }
    })
}

fn expected_fields(msg: &str) -> Vec<String> {
    let Some(idx) = msg.find("expected ") else {
        return Vec::new();
    };
    msg[idx..]
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typing_shortcut_agrees_with_serde_yaml() {
        // Every word YAML 1.1 or 1.2 ever typed, and names and paths of pipelines.
        let words = [
            "",
            "~",
            "null",
            "Null",
            "NULL",
            "nULL",
            "true",
            "True",
            "TRUE",
            "tRUE",
            "false",
            "False",
            "FALSE",
            "yes",
            "Yes",
            "YES",
            "no",
            "No",
            "NO",
            "on",
            "On",
            "ON",
            "off",
            "Off",
            "OFF",
            "y",
            "Y",
            "n",
            "N",
            ".inf",
            ".Inf",
            ".INF",
            "-.inf",
            "+.inf",
            ".nan",
            ".NaN",
            ".NAN",
            "0",
            "-0",
            "+1",
            "1e3",
            "1E-3",
            "0.1",
            ".5",
            "0x1F",
            "0o17",
            "0b11",
            "1_000",
            "12:30",
            "1,5",
            "inf",
            "nan",
            "NaN",
            "Infinity",
            "tfidf",
            "ingest_csv",
            "data/train.csv",
            "adam",
            "e5",
            "2024-01-01",
        ];
        for w in words {
            use serde_yaml::Value;
            let typed = matches!(
                serde_yaml::from_str::<Value>(w),
                Ok(Value::Null | Value::Bool(_) | Value::Number(_))
            );
            assert!(
                !typed || may_be_typed(w),
                "`{w}` is typed by serde_yaml but skipped"
            );
        }
    }

    #[test]
    fn parses_field_paths() {
        assert_eq!(
            parse_path("optimizers[1].lr"),
            vec![
                Step::Key("optimizers".into()),
                Step::Index(1),
                Step::Key("lr".into())
            ]
        );
        assert_eq!(parse_path("seeds"), vec![Step::Key("seeds".into())]);
    }

    #[test]
    fn quoted_numbers_stay_strings() {
        let opts = marked_yaml::LoaderOptions::default().prevent_coercion(true);
        let n =
            marked_yaml::parse_yaml_with_options(0, "a: 0.1\nb: '0.1'\nc: true\nd: hello\n", opts)
                .unwrap();
        let v = to_value(&n);
        assert_eq!(v["a"], serde_yaml::Value::from(0.1));
        assert_eq!(v["b"], serde_yaml::Value::from("0.1"));
        assert_eq!(v["c"], serde_yaml::Value::from(true));
        assert_eq!(v["d"], serde_yaml::Value::from("hello"));
    }
}
