//! For artifact consumers (the kustomize and helm controllers): download an artifact from
//! its URL, verify its `sha256:` digest, and extract it safely.
//!
//! ```no_run
//! # async fn demo(artifact: gitops_api::Artifact) -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! gitops_source::fetch::fetch_artifact(&artifact.url, &artifact.digest, dir.path(), Default::default()).await?;
//! # Ok(()) }
//! ```

use crate::archive::{ArchiveError, ExtractLimits, extract_tar_gz};
use futures::StreamExt;
use sha2::{Digest as _, Sha256};
use std::io::{Seek, Write};
use std::path::Path;

/// Errors of [`fetch_artifact`].
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The download failed.
    #[error("downloading {url}: {message}")]
    Download {
        /// The URL.
        url: String,
        /// Details.
        message: String,
    },
    /// The bytes do not have the expected digest.
    #[error("artifact {url}: digest mismatch, expected {expected}, got {actual}")]
    DigestMismatch {
        /// The URL.
        url: String,
        /// The expected digest.
        expected: String,
        /// The computed digest.
        actual: String,
    },
    /// The artifact is larger than allowed.
    #[error("artifact {url} exceeds {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// Extraction failed.
    #[error("extracting {url}: {source}")]
    Extract {
        /// The URL.
        url: String,
        /// The error.
        source: ArchiveError,
    },
    /// A temporary file could not be used.
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
}

/// Downloads `url`, checks that its sha256 equals `digest` (`sha256:<hex>`), and extracts
/// it into `dest` within `limits` (the download itself is capped at `limits.max_bytes`).
/// Returns the number of bytes extracted.
pub async fn fetch_artifact(
    url: &str,
    digest: &str,
    dest: &Path,
    limits: ExtractLimits,
) -> Result<u64, FetchError> {
    crate::ensure_crypto_provider();
    let dl = |message: String| FetchError::Download {
        url: url.to_owned(),
        message,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(20))
        .build()
        .map_err(|e| dl(e.to_string()))?;
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| dl(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(dl(format!("HTTP {}", resp.status())));
    }
    let mut file = tempfile::tempfile()?;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| dl(e.to_string()))?;
        total += chunk.len() as u64;
        if total > limits.max_bytes {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                limit: limits.max_bytes,
            });
        }
        hasher.update(&chunk);
        file.write_all(&chunk)?;
    }
    let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
    if actual != digest {
        return Err(FetchError::DigestMismatch {
            url: url.to_owned(),
            expected: digest.to_owned(),
            actual,
        });
    }
    file.rewind()?;
    let dest = dest.to_owned();
    let url_owned = url.to_owned();
    tokio::task::spawn_blocking(move || {
        extract_tar_gz(std::io::BufReader::new(file), &dest, limits).map_err(|source| {
            FetchError::Extract {
                url: url_owned,
                source,
            }
        })
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))?
}
