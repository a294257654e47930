//! Every user-facing error message, and the exit code each one maps to.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a source file, with the line's text kept so the error renders on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub source_line: String,
}

impl Location {
    /// `line` and `column` are 1-based, as editors show them.
    pub fn new(file: &Path, text: &str, line: usize, column: usize) -> Self {
        let source_line = text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .to_string();
        Location {
            file: file.to_path_buf(),
            line,
            column,
            source_line,
        }
    }
}

/// A mistake in a pipeline, preset or parameter: where it is, what is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub message: String,
    pub location: Option<Location>,
    /// Length of the caret underline (at least 1).
    pub width: usize,
    pub help: Option<String>,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            message: message.into(),
            location: None,
            width: 1,
            help: None,
        }
    }

    pub fn at(mut self, location: Option<Location>, width: usize) -> Self {
        self.location = location;
        self.width = width.max(1);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(loc) = &self.location {
            let num = loc.line.to_string();
            let pad = " ".repeat(num.len());
            write!(
                f,
                "\n{pad}--> {}:{}:{}\n{pad} |\n{num} | {}\n{pad} | {}{}",
                loc.file.display(),
                loc.line,
                loc.column,
                loc.source_line,
                " ".repeat(display_width(
                    &loc.source_line,
                    loc.column.saturating_sub(1)
                )),
                "^".repeat(self.width)
            )?;
            if let Some(help) = &self.help {
                write!(f, "\n{pad} = help: {help}")?;
            }
        } else if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

/// Columns count characters, and the caret must line up under the same character.
fn display_width(line: &str, chars: usize) -> usize {
    line.chars().take(chars).count()
}

/// Errors that reach the user from any command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(Box<ConfigError>),
    #[error("{0}")]
    Usage(String),
    #[error("{failed} stage(s) failed: {names}")]
    StagesFailed { failed: usize, names: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A shared store (`--store URL`) that cannot be used. Every message names the URL as
/// given, which never holds credentials (they come from the environment).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {url}: {why}")]
    BadUrl { url: String, why: String },
    #[error(
        "store {url}: credentials do not belong in the URL; set them in the environment \
         (S3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; README \"The shared store\")"
    )]
    CredentialsInUrl { url: String },
    #[error("store {url}: cannot {op} {path}: {detail}")]
    Request {
        url: String,
        op: &'static str,
        path: String,
        detail: String,
    },
    #[error("store {url}: {detail}")]
    Local { url: String, detail: String },
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}

impl Error {
    /// 2 for anything the user must fix in their invocation or pipeline, 1 for failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) | Error::Usage(_) => 2,
            Error::Store(StoreError::BadUrl { .. } | StoreError::CredentialsInUrl { .. }) => 2,
            Error::StagesFailed { .. } | Error::Store(_) | Error::Other(_) => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The nearest of `candidates` to `word`, when it is near enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_the_column() {
        let loc = Location::new(Path::new("p.yaml"), "a: 1\n  kind: tfidff\n", 2, 9);
        let e = ConfigError::new("unknown stage kind `tfidff`")
            .at(Some(loc), 6)
            .help("did you mean `tfidf`?");
        let s = e.to_string();
        assert!(s.contains("--> p.yaml:2:9"), "{s}");
        assert!(s.contains("2 |   kind: tfidff\n  |         ^^^^^^"), "{s}");
        assert!(s.ends_with("= help: did you mean `tfidf`?"), "{s}");
    }

    #[test]
    fn suggests_only_near_words() {
        assert_eq!(did_you_mean("tfidff", ["tfidf", "train"]), Some("tfidf"));
        assert_eq!(did_you_mean("zzzzzz", ["tfidf", "train"]), None);
    }
}
