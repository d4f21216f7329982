//! Source artifacts for the appliers (kustomize and helm controllers, source-watcher):
//! downloaded once per digest, verified, kept on disk, and then read in place, extracted into a
//! fresh directory for every use, or extracted once and hard-linked into a fresh directory for
//! every build that never writes through its files ([`ArtifactCache::link_into`]).
//!
//! Many Kustomizations and HelmReleases usually share one source; the cache makes them share
//! one download (concurrent reconciles of the same revision wait for the first one) and
//! keeps the latest few archives, on disk rather than in memory.

use gitops_source::archive::{ExtractLimits, extract_tar_gz};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{Mutex, OnceCell};

/// A downloaded, verified archive; the file (and its extracted tree) is removed when the
/// last user drops it.
pub(crate) struct Archive {
    path: PathBuf,
    /// The archive extracted once, for builds to link from ([`ArtifactCache::link_into`]).
    tree: std::sync::OnceLock<Result<PathBuf, String>>,
}

impl Archive {
    /// The archive file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Extracts the archive (of the artifact at `url`) into `to`, within `limits`.
    fn extract_to(&self, url: &str, limits: ExtractLimits, to: &Path) -> Result<(), String> {
        let f = std::fs::File::open(&self.path)
            .map_err(|e| format!("failed to open the artifact of {url}: {e}"))?;
        extract_tar_gz(std::io::BufReader::new(f), to, limits)
            .map(|_| ())
            .map_err(|e| format!("failed to extract artifact from {url}: {e}"))
    }
}

impl Drop for Archive {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(Ok(tree)) = self.tree.get() {
            let _ = std::fs::remove_dir_all(tree);
        }
    }
}

type Slot = Arc<OnceCell<Arc<Archive>>>;

/// Archives by digest.
pub(crate) struct ArtifactCache {
    dir: tempfile::TempDir,
    http: reqwest::Client,
    slots: Mutex<Vec<(String, Slot)>>,
    keep: usize,
    limits: ExtractLimits,
}

impl ArtifactCache {
    /// A cache in a fresh temporary directory (named after `owner`) keeping `keep` archives.
    pub fn new(owner: &str, keep: usize) -> std::io::Result<ArtifactCache> {
        gitops_source::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(ArtifactCache {
            dir: tempfile::Builder::new()
                .prefix(&format!("{owner}-artifacts"))
                .tempdir()?,
            http,
            slots: Mutex::new(Vec::new()),
            keep: keep.max(1),
            limits: ExtractLimits::default(),
        })
    }

    /// Downloads the artifact at `url` (once per `digest`) and extracts it into `dest`.
    pub async fn fetch_into(&self, url: &str, digest: &str, dest: &Path) -> Result<(), String> {
        let archive = self.archive(url, digest).await?;
        let dest = dest.to_owned();
        let limits = self.limits;
        let url = url.to_owned();
        tokio::task::spawn_blocking(move || archive.extract_to(&url, limits, &dest))
            .await
            .map_err(|e| format!("extracting artifact: {e}"))?
    }

    /// [`ArtifactCache::fetch_into`] for a build that only ever adds files or replaces them
    /// (write to a new file, rename over: see `write_replacing`), never writes into an
    /// existing one: the archive is extracted once per `digest` and `dest` gets hard links to
    /// its files. A build extracting the whole repository per reconcile spent its time
    /// allocating inodes (200 Kustomizations of one repository: 200 extractions per commit).
    /// Falls back to extracting when links cannot be made (another file system).
    pub async fn link_into(&self, url: &str, digest: &str, dest: &Path) -> Result<(), String> {
        let archive = self.archive(url, digest).await?;
        let dest = dest.to_owned();
        let limits = self.limits;
        let url = url.to_owned();
        tokio::task::spawn_blocking(move || {
            let extract = |to: &Path| archive.extract_to(&url, limits, to);
            let tree = archive.tree.get_or_init(|| {
                let tree = archive.path.with_extension("tree");
                extract(&tree).map(|()| tree.clone()).inspect_err(|_| {
                    let _ = std::fs::remove_dir_all(&tree);
                })
            });
            match tree {
                Ok(tree) => match link_tree(tree, &dest) {
                    Ok(()) => Ok(()),
                    Err(_) => {
                        let _ = std::fs::remove_dir_all(&dest);
                        std::fs::create_dir_all(&dest).map_err(|e| e.to_string())?;
                        extract(&dest)
                    }
                },
                Err(e) => Err(e.clone()),
            }
        })
        .await
        .map_err(|e| format!("extracting artifact: {e}"))?
    }

    /// The downloaded, verified archive of the artifact at `url` (once per `digest`), to
    /// read in place while the returned handle lives.
    pub async fn archive(&self, url: &str, digest: &str) -> Result<Arc<Archive>, String> {
        let slot = {
            let mut slots = self.slots.lock().await;
            if let Some(pos) = slots.iter().position(|(d, _)| d == digest) {
                let s = slots.remove(pos);
                let slot = s.1.clone();
                slots.push(s);
                slot
            } else {
                let slot: Slot = Arc::new(OnceCell::new());
                slots.push((digest.to_owned(), slot.clone()));
                while slots.len() > self.keep {
                    slots.remove(0);
                }
                slot
            }
        };
        let got = slot
            .get_or_try_init(|| self.download(url, digest))
            .await
            .cloned();
        if got.is_err() {
            let mut slots = self.slots.lock().await;
            slots.retain(|(_, s)| !Arc::ptr_eq(s, &slot));
        }
        got
    }

    async fn download(&self, url: &str, digest: &str) -> Result<Arc<Archive>, String> {
        use futures::StreamExt;
        let fail = |m: String| format!("failed to download artifact from {url}: {m}");
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("unsupported artifact digest '{digest}' (want sha256:<hex>)"))?;
        let path = self.dir.path().join(format!(
            "{hex}.{}.tar.gz",
            uuid_like(url.len() as u64 ^ std::process::id() as u64)
        ));
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("status code {}", resp.status().as_u16())));
        }
        let archive = Archive {
            path: path.clone(),
            tree: std::sync::OnceLock::new(),
        };
        let mut file = std::fs::File::create(&path).map_err(|e| fail(e.to_string()))?;
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| fail(e.to_string()))?;
            total += chunk.len() as u64;
            if total > self.limits.max_bytes {
                return Err(fail(format!(
                    "artifact is larger than {} bytes",
                    self.limits.max_bytes
                )));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).map_err(|e| fail(e.to_string()))?;
        }
        file.flush().map_err(|e| fail(e.to_string()))?;
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != digest {
            return Err(format!(
                "failed to verify artifact from {url}: computed digest doesn't match '{digest}' (got '{actual}')"
            ));
        }
        Ok(Arc::new(archive))
    }
}

/// Recreates the directories of `src` under `dst` and hard-links its files there
/// (extracted artifacts hold nothing else).
fn link_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            link_tree(&from, &to)?;
        } else if kind.is_file() {
            std::fs::hard_link(&from, &to)?;
        } else {
            return Err(std::io::Error::other(format!(
                "{}: neither a file nor a directory",
                from.display()
            )));
        }
    }
    Ok(())
}

/// Writes `text` to `path` as a new file renamed over the old one, so a file hard-linked
/// from a shared tree ([`ArtifactCache::link_into`]) is replaced, never written through.
pub(crate) fn write_replacing(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.writing"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// A file name component unique within this process.
fn uuid_like(seed: u64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{:x}{:x}", seed, N.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_trees_share_files_and_replacing_one_leaves_the_source() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        std::fs::create_dir_all(src.join("apps/a")).unwrap();
        std::fs::write(src.join("apps/a/kustomization.yaml"), "resources: []\n").unwrap();
        std::fs::write(src.join("top.yaml"), "x: 1\n").unwrap();
        link_tree(&src, &dst).unwrap();
        assert_eq!(
            std::fs::read_to_string(dst.join("top.yaml")).unwrap(),
            "x: 1\n"
        );
        write_replacing(&dst.join("apps/a/kustomization.yaml"), "generated\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(dst.join("apps/a/kustomization.yaml")).unwrap(),
            "generated\n"
        );
        assert_eq!(
            std::fs::read_to_string(src.join("apps/a/kustomization.yaml")).unwrap(),
            "resources: []\n"
        );
        assert!(!dst.join("apps/a/.kustomization.yaml.writing").exists());
    }
}
