//! Errors of chart loading and rendering.

/// Everything that can go wrong loading or rendering a chart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// An archive is unreadable, unsafe or too large (in Helm's words, e.g.
    /// `decompressed chart is larger than the maximum size 104857600`).
    #[error("{0}")]
    Archive(String),
    /// The archive given as the chart could not be read: Helm says no more than this; the
    /// source says why.
    #[error("unable to load chart archive")]
    ChartArchive(#[source] Box<Error>),
    /// The chart is invalid.
    #[error("{0}")]
    Chart(String),
    /// Values are invalid (`--set` syntax, schema, type mismatch).
    #[error("{0}")]
    Values(String),
    /// A template failed to parse.
    #[error("parse error at ({name}:{line}): {msg}")]
    Parse {
        /// Template file.
        name: String,
        /// Line.
        line: usize,
        /// Message.
        msg: String,
    },
    /// A template failed to execute.
    #[error("{0}")]
    Render(Box<crate::template::ExecError>),
    /// A rendered manifest is not valid YAML.
    #[error("YAML parse error on {0}: {1}")]
    Manifest(String, String),
    /// The release name is invalid.
    #[error("release name check failed: {0}")]
    ReleaseName(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}
