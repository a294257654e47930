//! `--set STAGE.PARAM=VALUE`: overrides any param of any stage by a dotted path
//! (`grid.base.epochs=40`, `train.optimizers[1].lr=0.01`) without declaring a variable.
//! Each argument is registered as a source of its own (shown as `--set`), so a mistake in
//! it (an unknown stage, a param the kind does not have, a value of the wrong type) is
//! reported at its line:column with the argument underlined, as a YAML error is.

use marked_yaml::loader::LoaderOptions;
use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{Marker, Node, Span};

use super::params::Step;
use super::source::Sources;
use crate::error::{did_you_mean, ConfigError, Location};

/// One parsed `--set`: the stage, the path into its params (each step with the span of its
/// text in the argument) and the value, a YAML node whose spans point into the argument.
#[derive(Debug, Clone)]
pub struct Set {
    /// `train.epochs`: the argument left of `=`.
    pub target: String,
    pub stage: String,
    pub path: Vec<(Step, MarkedScalarNode)>,
    pub value: Node,
    source: usize,
    stage_column: usize,
}

/// Where the argument's text shows up in errors.
pub const SOURCE_NAME: &str = "--set";

/// Parses `arg` and registers it in `sources`.
pub fn parse(arg: &str, sources: &mut Sources) -> Result<Set, ConfigError> {
    let id = sources.add(std::path::Path::new(SOURCE_NAME), arg.to_string());
    let at = |col: usize, width: usize, msg: String| {
        ConfigError::new(msg).at(
            Some(Location::new(
                std::path::Path::new(SOURCE_NAME),
                arg,
                1,
                col,
            )),
            width,
        )
    };
    let usage =
        "write --set STAGE.PARAM=VALUE, e.g. --set train.epochs=40 or --set grid.base.lr=0.01";
    let Some(eq) = arg.find('=') else {
        return Err(at(
            1,
            arg.chars().count(),
            format!("--set {arg}: expected STAGE.PARAM=VALUE"),
        )
        .help(usage));
    };
    let target = &arg[..eq];
    let Some(dot) = target.find(['.', '[']) else {
        return Err(at(
            1,
            target.chars().count().max(1),
            format!("--set {arg}: name a stage and one of its params"),
        )
        .help(usage));
    };
    let stage = target[..dot].trim();
    if stage.is_empty() {
        return Err(at(1, 1, format!("--set {arg}: no stage before `.`")).help(usage));
    }
    // Path steps with their 1-based columns in the argument (ASCII names; columns count
    // characters, as Location does).
    let col_of = |byte: usize| arg[..byte].chars().count() + 1;
    let mut path = Vec::new();
    let mut i = dot;
    let bytes = target.as_bytes();
    while i < target.len() {
        match bytes[i] {
            b'.' => {
                let start = i + 1;
                let end = target[start..]
                    .find(['.', '['])
                    .map_or(target.len(), |e| start + e);
                let name = &target[start..end];
                if name.is_empty() {
                    return Err(
                        at(col_of(i), 1, format!("--set {arg}: empty param name")).help(usage)
                    );
                }
                path.push((Step::Key(name.to_string()), scalar(id, arg, start, name)));
                i = end;
            }
            b'[' => {
                let start = i + 1;
                let Some(close) = target[start..].find(']').map(|e| start + e) else {
                    return Err(
                        at(col_of(i), 1, format!("--set {arg}: `[` without `]`")).help(usage)
                    );
                };
                let text = &target[start..close];
                let Ok(n) = text.parse::<usize>() else {
                    return Err(at(
                        col_of(start),
                        text.chars().count().max(1),
                        format!("--set {arg}: `[{text}]` is not a list index"),
                    )
                    .help(usage));
                };
                path.push((Step::Index(n), scalar(id, arg, start, text)));
                i = close + 1;
            }
            _ => {
                return Err(at(
                    col_of(i),
                    1,
                    format!("--set {arg}: expected `.` or `[` here"),
                )
                .help(usage));
            }
        }
    }
    if path.is_empty() {
        return Err(at(
            1,
            target.chars().count(),
            format!("--set {arg}: name a param of stage `{stage}`"),
        )
        .help(usage));
    }
    // The value is parsed as YAML from a line laid out so that it starts at the same column
    // as in the argument: its spans then point into the argument.
    let value_text = &arg[eq + 1..];
    let line = format!(
        "v:{}{value_text}",
        " ".repeat(col_of(eq + 1).saturating_sub(3))
    );
    let opts = LoaderOptions::default().prevent_coercion(true);
    let value = match marked_yaml::parse_yaml_with_options(id, line, opts) {
        Ok(doc) => doc
            .as_mapping()
            .and_then(|m| m.get_node("v").cloned())
            .unwrap_or_else(|| Node::Scalar(scalar(id, arg, eq + 1, ""))),
        Err(e) => {
            return Err(at(
                col_of(eq + 1),
                value_text.chars().count().max(1),
                format!(
                    "--set {arg}: the value is not valid YAML ({})",
                    first_line(&e.to_string())
                ),
            )
            .help("quote a value with spaces or colons: --set 'stage.param=\"a: b\"'"))
        }
    };
    let value = match value {
        // An empty value parses as YAML null, with no position; give it the argument's end.
        Node::Scalar(s) if s.span().start().is_none() => {
            let mut n = scalar(id, arg, eq + 1, s.as_str());
            n.set_coerce(true);
            Node::Scalar(n)
        }
        other => other,
    };
    Ok(Set {
        target: target.to_string(),
        stage: stage.to_string(),
        path,
        value,
        source: id,
        stage_column: col_of(0),
    })
}

fn first_line(s: &str) -> &str {
    s.split(" at line ").next().unwrap_or(s)
}

/// A scalar whose span starts at byte `start` of `arg` (line 1).
fn scalar(source: usize, arg: &str, start: usize, text: &str) -> MarkedScalarNode {
    let col = arg[..start].chars().count() + 1;
    let mark = Marker::new(source, col - 1, 1, col);
    MarkedScalarNode::new(Span::new_start(mark), text.to_string())
}

impl Set {
    /// An error about the stage name in the argument, suggesting a stage that exists.
    pub fn unknown_stage<'a>(
        &self,
        sources: &Sources,
        stages: impl Iterator<Item = &'a str> + Clone,
    ) -> ConfigError {
        let text = sources.text(self.source);
        let e = ConfigError::new(format!(
            "--set {}: the pipeline has no stage `{}`",
            self.target, self.stage
        ))
        .at(
            Some(Location::new(
                std::path::Path::new(SOURCE_NAME),
                text,
                1,
                self.stage_column,
            )),
            self.stage.chars().count(),
        );
        let names: Vec<&str> = stages.clone().collect();
        match did_you_mean(&self.stage, stages) {
            Some(s) => e.help(format!("did you mean `{s}`? stages: {}", names.join(", "))),
            None => e.help(format!("stages: {}", names.join(", "))),
        }
    }

    /// `params` with the value put at the path (mappings created as needed); an unknown
    /// param is left for the kind's own check (`deny_unknown_fields`), which then points
    /// at the name in the argument.
    pub fn apply(&self, params: &Node, sources: &Sources) -> Result<Node, ConfigError> {
        self.put(params, 0, sources)
    }

    fn put(&self, node: &Node, depth: usize, sources: &Sources) -> Result<Node, ConfigError> {
        let Some((step, key)) = self.path.get(depth) else {
            return Ok(self.value.clone());
        };
        let not_a = |what: &str| {
            let shown: Vec<String> = self.path[..depth]
                .iter()
                .map(|(_, k)| k.as_str().to_string())
                .collect();
            let parent = if shown.is_empty() {
                format!("the params of stage `{}`", self.stage)
            } else {
                format!("param `{}` of stage `{}`", shown.join("."), self.stage)
            };
            sources
                .error_at_span(
                    key.span(),
                    key.as_str().chars().count().max(1),
                    format!("--set {}: {parent} is not {what}", self.target),
                )
                .help("the path follows the stage's params: names for mappings, [N] for lists")
        };
        match step {
            Step::Key(k) => {
                let mut map = match node {
                    Node::Mapping(m) => m.clone(),
                    Node::Scalar(s) if is_null(s) => MarkedMappingNode::new_empty(*key.span()),
                    _ => return Err(not_a("a mapping")),
                };
                let child = map
                    .iter()
                    .find(|(mk, _)| mk.as_str() == k)
                    .map(|(mk, v)| (mk.clone(), v.clone()));
                let new = match &child {
                    _ if depth + 1 == self.path.len() => self.value.clone(),
                    Some((_, v)) => self.put(v, depth + 1, sources)?,
                    None => self.put(
                        &Node::Mapping(MarkedMappingNode::new_empty(*key.span())),
                        depth + 1,
                        sources,
                    )?,
                };
                if let Some((mk, _)) = &child {
                    map.remove(mk);
                }
                // The key carries the argument's span, so an error about this param (unknown
                // to the kind, or a value of the wrong shape) points at the argument.
                map.insert(key.clone(), new);
                Ok(Node::Mapping(map))
            }
            Step::Index(n) => {
                let Node::Sequence(seq) = node else {
                    return Err(not_a("a list"));
                };
                if *n >= seq.len() {
                    return Err(sources
                        .error_at_span(
                            key.span(),
                            key.as_str().chars().count().max(1),
                            format!(
                                "--set {}: index {n} is past the end of a list of {}",
                                self.target,
                                seq.len()
                            ),
                        )
                        .help("--set replaces list items; to change a whole list, set it: --set stage.param=[a, b]"));
                }
                let mut items: Vec<Node> = seq.iter().cloned().collect();
                items[*n] = self.put(&seq[*n], depth + 1, sources)?;
                Ok(Node::Sequence(MarkedSequenceNode::new(*seq.span(), items)))
            }
        }
    }
}

fn is_null(s: &MarkedScalarNode) -> bool {
    matches!(s.as_str(), "" | "~" | "null")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(arg: &str) -> (Set, Sources) {
        let mut sources = Sources::default();
        let s = parse(arg, &mut sources).unwrap();
        (s, sources)
    }

    #[test]
    fn path_steps_and_value_keep_their_columns_in_the_argument() {
        let (s, sources) = parsed("grid.base.optimizers[1]=[adam, 2]");
        assert_eq!(s.stage, "grid");
        let steps: Vec<&Step> = s.path.iter().map(|(st, _)| st).collect();
        assert_eq!(
            steps,
            [
                &Step::Key("base".into()),
                &Step::Key("optimizers".into()),
                &Step::Index(1)
            ]
        );
        let col = |n: &MarkedScalarNode| sources.location(n.span()).unwrap().column;
        assert_eq!(col(&s.path[0].1), 6);
        assert_eq!(col(&s.path[1].1), 11);
        assert_eq!(col(&s.path[2].1), 22);
        let Node::Sequence(seq) = &s.value else {
            panic!("{:?}", s.value)
        };
        let first = sources.location(seq[0].span()).unwrap();
        assert_eq!((first.line, first.column), (1, 26));
        assert_eq!(first.source_line, "grid.base.optimizers[1]=[adam, 2]");
    }

    #[test]
    fn applies_into_nested_mappings_creating_what_is_missing() {
        let mut sources = Sources::default();
        let id = sources.add(
            std::path::Path::new("p.yaml"),
            "base: {epochs: 3, lr: 0.1}\n".into(),
        );
        let params = marked_yaml::parse_yaml(id, sources.text(id)).unwrap();
        let s = parse("grid.base.epochs=40", &mut sources).unwrap();
        let out = s.apply(&params, &sources).unwrap();
        let v = crate::config::params::to_value(&out);
        assert_eq!(v["base"]["epochs"], serde_yaml::Value::from(40));
        assert_eq!(v["base"]["lr"], serde_yaml::Value::from(0.1));
        let s = parse("grid.early.patience=2", &mut sources).unwrap();
        let v = crate::config::params::to_value(&s.apply(&out, &sources).unwrap());
        assert_eq!(v["early"]["patience"], serde_yaml::Value::from(2));
    }

    #[test]
    fn malformed_arguments_are_located() {
        let mut sources = Sources::default();
        let e = parse("train.epochs", &mut sources).unwrap_err();
        assert!(e.message.contains("expected STAGE.PARAM=VALUE"), "{e}");
        let e = parse("train..epochs=1", &mut sources).unwrap_err();
        assert_eq!(e.location.unwrap().column, 6, "the empty name's dot");
        let e = parse("train.opt[x]=1", &mut sources).unwrap_err();
        assert!(e.message.contains("`[x]` is not a list index"), "{e}");
        let e = parse("train.a=[1, 2", &mut sources).unwrap_err();
        assert!(e.message.contains("not valid YAML"), "{e}");
        assert_eq!(e.location.unwrap().column, 9);
    }
}
