//! Artifact storage: files under `<root>/<kind>/<namespace>/<name>/<file>` (kind in lower
//! case, as Flux lays them out), written atomically, addressed by
//! `http://<advertised address>/<kind>/<namespace>/<name>/<file>`, garbage-collected to the
//! newest few per object.

use crate::archive::{ArchiveError, ArchiveInfo, ArtifactWriter, HashingWriter, archive_dir};
use crate::ignore::IgnoreRules;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Errors of the storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A file operation failed.
    #[error("storage {path}: {source}")]
    Io {
        /// The path at fault.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// Archiving failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A name cannot be used in a storage path.
    #[error("invalid storage path component {0:?}")]
    InvalidName(String),
}

fn io_err(path: impl AsRef<Path>) -> impl FnOnce(io::Error) -> StorageError {
    let path = path.as_ref().display().to_string();
    move |source| StorageError::Io { path, source }
}

/// The address of one object's artifacts: kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// Kind, e.g. `GitRepository` (stored in lower case).
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// A key.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        ObjectKey {
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// `<kind>/<namespace>/<name>`, kind in lower case.
    pub fn dir(&self) -> String {
        format!(
            "{}/{}/{}",
            self.kind.to_ascii_lowercase(),
            self.namespace,
            self.name
        )
    }
}

/// A file written to the storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtifact {
    /// Path relative to the storage root, `<kind>/<namespace>/<name>/<file>`.
    pub path: String,
    /// The HTTP address of the file.
    pub url: String,
    /// `sha256:<hex>` of the file.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
}

impl StoredArtifact {
    /// The status artifact for this file, with a revision and the current time.
    pub fn to_api(
        &self,
        revision: impl Into<String>,
        metadata: Option<std::collections::BTreeMap<String, String>>,
    ) -> gitops_api::Artifact {
        gitops_api::Artifact {
            digest: self.digest.clone(),
            last_update_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                jiff::Timestamp::now()
                    .round(jiff::Unit::Second)
                    .unwrap_or(jiff::Timestamp::now()),
            ),
            metadata,
            path: self.path.clone(),
            revision: revision.into(),
            size: i64::try_from(self.size).ok(),
            url: self.url.clone(),
        }
    }
}

/// The artifact storage of a source controller.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    base_url: String,
}

fn check_component(s: &str) -> Result<(), StorageError> {
    if s.is_empty() || s == "." || s == ".." || s.contains('/') || s.contains('\\') {
        return Err(StorageError::InvalidName(s.to_owned()));
    }
    Ok(())
}

impl Storage {
    /// A storage rooted at `root` (created if missing), advertised at `adv_addr`
    /// (`host:port`, or a full `http://…` base URL).
    pub fn new(root: impl Into<PathBuf>, adv_addr: &str) -> Result<Self, StorageError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io_err(&root))?;
        let base_url = if adv_addr.starts_with("http://") || adv_addr.starts_with("https://") {
            adv_addr.trim_end_matches('/').to_owned()
        } else {
            format!("http://{}", adv_addr.trim_end_matches('/'))
        };
        Ok(Storage { root, base_url })
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The URL of a relative artifact path.
    pub fn url(&self, rel_path: &str) -> String {
        format!("{}/{}", self.base_url, rel_path)
    }

    /// The absolute path of a relative artifact path, if it stays inside the root.
    pub fn local_path(&self, rel_path: &str) -> Option<PathBuf> {
        let rel = crate::archive::safe_relative_path(rel_path).ok()?;
        if rel.as_os_str().is_empty() {
            return None;
        }
        Some(self.root.join(rel))
    }

    /// Whether a relative artifact path exists as a file.
    pub fn exists(&self, rel_path: &str) -> bool {
        self.local_path(rel_path).is_some_and(|p| p.is_file())
    }

    /// Whether the file of `artifact` exists and has its digest.
    pub fn verify(&self, artifact: &gitops_api::Artifact) -> bool {
        let Some(p) = self.local_path(&artifact.path) else {
            return false;
        };
        matches!(crate::archive::file_digest(&p), Ok((d, _)) if d == artifact.digest)
    }

    fn object_dir(&self, key: &ObjectKey) -> Result<PathBuf, StorageError> {
        check_component(&key.kind)?;
        check_component(&key.namespace)?;
        check_component(&key.name)?;
        Ok(self.root.join(key.dir()))
    }

    /// Writes a file through `write` atomically (temporary file, then rename).
    pub fn store_with<T>(
        &self,
        key: &ObjectKey,
        file: &str,
        write: impl FnOnce(&mut HashingWriter<io::BufWriter<fs::File>>) -> Result<T, StorageError>,
    ) -> Result<(StoredArtifact, T), StorageError> {
        check_component(file)?;
        let dir = self.object_dir(key)?;
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io_err(&dir))?;
        let f = tmp.reopen().map_err(io_err(tmp.path()))?;
        let mut hw = HashingWriter::new(io::BufWriter::new(f));
        let value = write(&mut hw)?;
        let (w, digest, size) = hw.finish();
        let f = w.into_inner().map_err(|e| StorageError::Io {
            path: tmp.path().display().to_string(),
            source: e.into_error(),
        })?;
        f.sync_all().map_err(io_err(tmp.path()))?;
        let dest = dir.join(file);
        tmp.persist(&dest).map_err(|e| StorageError::Io {
            path: dest.display().to_string(),
            source: e.error,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&dest, fs::Permissions::from_mode(0o644));
        }
        let path = format!("{}/{file}", key.dir());
        Ok((
            StoredArtifact {
                url: self.url(&path),
                path,
                digest,
                size,
            },
            value,
        ))
    }

    /// Stores bytes as a file.
    pub fn store_bytes(
        &self,
        key: &ObjectKey,
        file: &str,
        bytes: &[u8],
    ) -> Result<StoredArtifact, StorageError> {
        self.store_with(key, file, |w| {
            w.write_all(bytes).map_err(io_err(file))?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Copies a local file into the storage.
    pub fn store_file(
        &self,
        key: &ObjectKey,
        file: &str,
        src: &Path,
    ) -> Result<StoredArtifact, StorageError> {
        self.store_with(key, file, |w| {
            let mut f = fs::File::open(src).map_err(io_err(src))?;
            io::copy(&mut f, w).map_err(io_err(src))?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Archives a directory (see [`archive_dir`]) into the storage.
    pub fn archive_dir(
        &self,
        key: &ObjectKey,
        file: &str,
        dir: &Path,
        rules: &IgnoreRules,
    ) -> Result<(StoredArtifact, ArchiveInfo), StorageError> {
        self.store_with(key, file, |w| Ok(archive_dir(dir, rules, w)?.1))
    }

    /// Writes an archive built by `build` into the storage.
    pub fn archive_with(
        &self,
        key: &ObjectKey,
        file: &str,
        build: impl FnOnce(
            &mut ArtifactWriter<&mut HashingWriter<io::BufWriter<fs::File>>>,
        ) -> Result<(), StorageError>,
    ) -> Result<(StoredArtifact, ArchiveInfo), StorageError> {
        self.store_with(key, file, |w| {
            let mut aw = ArtifactWriter::new(w);
            build(&mut aw)?;
            let (_, info) = aw.finish().map_err(io_err(file))?;
            Ok(info)
        })
    }

    /// Removes all but the newest `keep` files of an object (by modification time), never
    /// removing `current` (a file name). Returns the removed paths.
    pub fn gc(
        &self,
        key: &ObjectKey,
        keep: usize,
        current: Option<&str>,
    ) -> Result<Vec<PathBuf>, StorageError> {
        let dir = self.object_dir(key)?;
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut files = Vec::new();
        for e in rd {
            let e = e.map_err(io_err(&dir))?;
            let md = e.metadata().map_err(io_err(e.path()))?;
            if !md.is_file() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp") {
                continue; // a write in progress
            }
            files.push((md.modified().ok(), name, e.path()));
        }
        files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
        let mut removed = Vec::new();
        for (i, (_, name, path)) in files.into_iter().enumerate() {
            if i < keep || Some(name.as_str()) == current {
                continue;
            }
            fs::remove_file(&path).map_err(io_err(&path))?;
            removed.push(path);
        }
        Ok(removed)
    }

    /// Removes every file of an object (on deletion).
    pub fn remove_all(&self, key: &ObjectKey) -> Result<(), StorageError> {
        let dir = self.object_dir(key)?;
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&dir)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_verify_gc() {
        let t = tempfile::tempdir().unwrap();
        let s = Storage::new(t.path(), "source.flux-system:80").unwrap();
        let key = ObjectKey::new("GitRepository", "ns", "app");
        let a = s.store_bytes(&key, "one.tar.gz", b"1").unwrap();
        assert_eq!(a.path, "gitrepository/ns/app/one.tar.gz");
        assert_eq!(
            a.url,
            "http://source.flux-system:80/gitrepository/ns/app/one.tar.gz"
        );
        assert_eq!(a.size, 1);
        let api = a.to_api("main@sha1:0000000000000000000000000000000000000000", None);
        assert!(s.verify(&api));
        std::thread::sleep(std::time::Duration::from_millis(20));
        s.store_bytes(&key, "two.tar.gz", b"2").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        s.store_bytes(&key, "three.tar.gz", b"3").unwrap();
        let removed = s.gc(&key, 2, Some("three.tar.gz")).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(!s.exists("gitrepository/ns/app/one.tar.gz"));
        assert!(s.exists("gitrepository/ns/app/two.tar.gz"));
        assert!(!s.verify(&api));
        assert!(s.local_path("../etc/passwd").is_none());
        assert!(
            s.store_bytes(&ObjectKey::new("K", "..", "x"), "f", b"")
                .is_err()
        );
        s.remove_all(&key).unwrap();
        assert!(!s.exists("gitrepository/ns/app/three.tar.gz"));
    }
}
