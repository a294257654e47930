//! The YAML files a pipeline was read from, so any node's span can become a `file:line:col`.

use std::path::{Path, PathBuf};

use marked_yaml::{Node, Span};

use crate::error::{ConfigError, Location};

#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<(PathBuf, String)>,
}

impl Sources {
    /// Registers a file; the returned id is what marked_yaml stores in each marker.
    pub fn add(&mut self, path: &Path, text: String) -> usize {
        self.files.push((path.to_path_buf(), text));
        self.files.len() - 1
    }

    /// Every file registered, in order (as shown: relative to the project where inside it).
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(p, _)| p.as_path())
    }

    pub fn text(&self, id: usize) -> &str {
        &self.files[id].1
    }

    pub fn path(&self, id: usize) -> &Path {
        &self.files[id].0
    }

    pub fn location(&self, span: &Span) -> Option<Location> {
        let m = span.start()?;
        let (path, text) = self.files.get(m.source())?;
        Some(Location::new(path, text, m.line(), m.column()))
    }

    /// An error pointing at `node`, underlining the whole scalar when it is one.
    pub fn error_at(&self, node: &Node, message: impl Into<String>) -> ConfigError {
        match node {
            Node::Scalar(s) => {
                ConfigError::new(message).at(self.location(node.span()), s.as_str().chars().count())
            }
            // A mapping's own span starts at odd places; its first key is where a reader looks.
            Node::Mapping(m) => match m.iter().next() {
                Some((k, _)) => ConfigError::new(message)
                    .at(self.location(k.span()), k.as_str().chars().count()),
                None => ConfigError::new(message).at(self.location(node.span()), 1),
            },
            Node::Sequence(_) => ConfigError::new(message).at(self.location(node.span()), 1),
        }
    }

    pub fn error_at_span(
        &self,
        span: &Span,
        width: usize,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::new(message).at(self.location(span), width)
    }

    /// An error at a file's first line, for problems with the file as a whole.
    pub fn error_at_file(&self, id: usize, message: impl Into<String>) -> ConfigError {
        let (path, text) = &self.files[id];
        ConfigError::new(message).at(Some(Location::new(path, text, 1, 1)), 1)
    }
}
