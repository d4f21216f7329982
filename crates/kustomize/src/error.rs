//! Errors of the kustomize engine. Each names the file, line, object or field at fault.

use std::path::PathBuf;

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while building a kustomization.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error (in the message, not chained, so it is printed once).
        error: std::io::Error,
    },
    /// Malformed YAML.
    #[error("{path}: invalid YAML at line {line}, column {column}: {message}")]
    Yaml {
        /// The file (or a description of inline content).
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A kustomization file is invalid (unknown field, wrong type, …).
    #[error("{path}: field '{field}': {message}")]
    Kustomization {
        /// The kustomization file.
        path: PathBuf,
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A file is outside the allowed root (kustomize's RootOnly load restriction).
    #[error("security; file '{path}' is not in or below '{root}'")]
    Restricted {
        /// The file asked for.
        path: PathBuf,
        /// The root it must stay in.
        root: PathBuf,
    },
    /// A kustomization includes itself, directly or indirectly.
    #[error("cycle detected: '{path}' is already being built")]
    Cycle {
        /// The directory seen twice.
        path: PathBuf,
    },
    /// Something is wrong with one object.
    #[error("{object}: {message}")]
    Object {
        /// The object, as `Kind.version.group/name.namespace`.
        object: String,
        /// What is wrong.
        message: String,
    },
    /// Any other build failure, with context.
    #[error("{0}")]
    Build(String),
}

impl Error {
    /// A build error from a message.
    pub fn msg(m: impl Into<String>) -> Error {
        Error::Build(m.into())
    }

    /// Prefixes the message with context (like kustomize's error wrapping).
    pub fn context(self, ctx: impl std::fmt::Display) -> Error {
        Error::Build(format!("{ctx}: {self}"))
    }
}
