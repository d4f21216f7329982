//! Deterministic `tar.gz` artifacts and safe extraction.
//!
//! Writing ([`ArtifactWriter`], [`archive_dir`]): paths relative and `/`-separated, regular
//! files and directories only, uid/gid zero, no owner names, mtime zero, modes normalised
//! (`0755` for directories and executables, `0644` for other files), entries sorted
//! depth-first by name. The same input always gives the same bytes, so the `sha256:` digest
//! identifies the content.
//!
//! Reading ([`extract_tar_gz`]): refuses entries with `..`, absolute paths, links, devices
//! and FIFOs, and stops when the total size or the entry count passes a limit.

use crate::ignore::IgnoreRules;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// Errors of writing or reading archives.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory at fault.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// An entry of an archive is not allowed.
    #[error("archive entry {entry:?}: {reason}")]
    UnsafeEntry {
        /// The entry name.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// The archive is larger than allowed.
    #[error("archive exceeds the limit of {limit} {what}")]
    TooLarge {
        /// `bytes` or `entries`.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// One file of the archive is larger than allowed.
    #[error("archive entry {entry:?} is larger than the maximum file size {limit}")]
    FileTooLarge {
        /// The entry name.
        entry: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The archive is not a valid gzip tar stream.
    #[error("corrupt archive: {0}")]
    Corrupt(String),
}

fn io_err(path: impl AsRef<Path>) -> impl FnOnce(io::Error) -> ArchiveError {
    let path = path.as_ref().display().to_string();
    move |source| ArchiveError::Io { path, source }
}

/// A writer that hashes (sha256) and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps a writer.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The inner writer, the `sha256:<hex>` digest and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (self.inner, digest, self.size)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What an archive holds and its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// `sha256:<hex>` of the archive bytes.
    pub digest: String,
    /// Archive size in bytes.
    pub size: u64,
    /// Number of regular files.
    pub files: u64,
}

/// Writes a deterministic `tar.gz`. Callers add entries in sorted order (see
/// [`sort_paths`]); directories are added for every parent automatically.
pub struct ArtifactWriter<W: Write> {
    tar: tar::Builder<GzEncoder<HashingWriter<W>>>,
    dirs_written: std::collections::HashSet<String>,
    files: u64,
}

impl<W: Write> ArtifactWriter<W> {
    /// Starts an archive with gzip's default compression level.
    pub fn new(out: W) -> Self {
        let gz = GzEncoder::new(HashingWriter::new(out), Compression::default());
        let mut tar = tar::Builder::new(gz);
        tar.mode(tar::HeaderMode::Deterministic);
        ArtifactWriter {
            tar,
            dirs_written: Default::default(),
            files: 0,
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        let _ = h.set_username("");
        let _ = h.set_groupname("");
        h
    }

    fn ensure_parents(&mut self, path: &str) -> io::Result<()> {
        let mut idx = 0;
        while let Some(pos) = path[idx..].find('/') {
            let dir = &path[..idx + pos];
            idx += pos + 1;
            if !self.dirs_written.contains(dir) {
                self.add_dir(dir)?;
            }
        }
        Ok(())
    }

    /// Adds a directory entry (`path` relative, without trailing slash).
    pub fn add_dir(&mut self, path: &str) -> io::Result<()> {
        let path = path.trim_matches('/');
        if path.is_empty() || self.dirs_written.contains(path) {
            return Ok(());
        }
        self.ensure_parents(path)?;
        self.dirs_written.insert(path.to_owned());
        let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
        self.tar
            .append_data(&mut h, format!("{path}/"), io::empty())
    }

    /// Adds a regular file; `executable` selects mode `0755` over `0644`.
    pub fn add_file(&mut self, path: &str, executable: bool, data: &[u8]) -> io::Result<()> {
        self.add_file_from(path, executable, data.len() as u64, data)
    }

    /// Adds a regular file of `size` bytes read from `data`.
    pub fn add_file_from(
        &mut self,
        path: &str,
        executable: bool,
        size: u64,
        data: impl Read,
    ) -> io::Result<()> {
        let path = path.trim_matches('/');
        self.ensure_parents(path)?;
        let mode = if executable { 0o755 } else { 0o644 };
        let mut h = Self::header(tar::EntryType::Regular, mode, size);
        self.files += 1;
        self.tar.append_data(&mut h, path, data)
    }

    /// Finishes the archive and returns the writer and the archive's identity.
    pub fn finish(self) -> io::Result<(W, ArchiveInfo)> {
        let gz = self.tar.into_inner()?;
        let hw = gz.finish()?;
        let (w, digest, size) = hw.finish();
        Ok((
            w,
            ArchiveInfo {
                digest,
                size,
                files: self.files,
            },
        ))
    }
}

/// Sorts relative `/`-separated paths in depth-first walk order (component by component).
pub fn sort_paths<T>(items: &mut [T], path: impl Fn(&T) -> &str) {
    items.sort_by(|a, b| path(a).split('/').cmp(path(b).split('/')));
}

/// Archives a directory: regular files and directories (symlinks and special files are
/// skipped), filtered by `rules`, into a deterministic `tar.gz` written to `out`.
pub fn archive_dir<W: Write>(
    dir: &Path,
    rules: &IgnoreRules,
    out: W,
) -> Result<(W, ArchiveInfo), ArchiveError> {
    let mut entries: Vec<(String, bool, bool)> = Vec::new(); // (path, is_dir, executable)
    collect_dir(dir, "", rules, &mut entries)?;
    sort_paths(&mut entries, |e| &e.0);
    let mut w = ArtifactWriter::new(out);
    for (rel, is_dir, exec) in &entries {
        if *is_dir {
            w.add_dir(rel).map_err(io_err(dir.join(rel)))?;
        } else {
            let p = dir.join(rel);
            let f = fs::File::open(&p).map_err(io_err(&p))?;
            let size = f.metadata().map_err(io_err(&p))?.len();
            w.add_file_from(rel, *exec, size, f.take(size))
                .map_err(io_err(&p))?;
        }
    }
    w.finish().map_err(io_err(dir))
}

fn collect_dir(
    root: &Path,
    rel: &str,
    rules: &IgnoreRules,
    out: &mut Vec<(String, bool, bool)>,
) -> Result<(), ArchiveError> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
        let entry = entry.map_err(io_err(&dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue; // not UTF-8: cannot be a portable artifact path
        };
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ft = entry.file_type().map_err(io_err(entry.path()))?;
        if ft.is_dir() {
            if rules.is_ignored(&path, true) {
                continue;
            }
            out.push((path.clone(), true, false));
            collect_dir(root, &path, rules, out)?;
        } else if ft.is_file() {
            if rules.is_ignored(&path, false) {
                continue;
            }
            #[cfg(unix)]
            let exec = {
                use std::os::unix::fs::PermissionsExt;
                entry
                    .metadata()
                    .map(|m| m.permissions().mode() & 0o111 != 0)
                    .unwrap_or(false)
            };
            #[cfg(not(unix))]
            let exec = false;
            out.push((path, false, exec));
        }
    }
    Ok(())
}

/// Limits of [`extract_tar_gz`].
#[derive(Debug, Clone, Copy)]
pub struct ExtractLimits {
    /// Maximum total size of extracted files in bytes.
    pub max_bytes: u64,
    /// Maximum number of entries.
    pub max_entries: u64,
    /// Maximum size of one extracted file in bytes.
    pub max_file_bytes: u64,
}

impl Default for ExtractLimits {
    /// 1 GiB and 1,000,000 entries in all, no limit per file but the total.
    fn default() -> Self {
        ExtractLimits {
            max_bytes: 1 << 30,
            max_entries: 1_000_000,
            max_file_bytes: u64::MAX,
        }
    }
}

/// Checks an archive entry name and returns the relative path it extracts to.
pub fn safe_relative_path(name: &str) -> Result<PathBuf, ArchiveError> {
    let unsafe_entry = |reason: &str| ArchiveError::UnsafeEntry {
        entry: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.contains('\0') {
        return Err(unsafe_entry("NUL in name"));
    }
    let p = Path::new(name);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err(unsafe_entry("path contains '..'")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry("absolute path"));
            }
        }
    }
    Ok(out)
}

/// Extracts a gzip-compressed tar stream into `dest` (created if missing), refusing unsafe
/// entries and stopping at `limits`. Returns the number of bytes of regular files written.
pub fn extract_tar_gz(
    input: impl Read,
    dest: &Path,
    limits: ExtractLimits,
) -> Result<u64, ArchiveError> {
    extract_tar(GzDecoder::new(input), dest, limits)
}

/// Like [`extract_tar_gz`] for an uncompressed tar stream.
pub fn extract_tar(
    input: impl Read,
    dest: &Path,
    limits: ExtractLimits,
) -> Result<u64, ArchiveError> {
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    walk_tar(input, Some(dest), limits)
}

/// Checks a gzip-compressed tar stream as [`extract_tar_gz`] would extract it (entry names,
/// types and `limits`) without writing anything; returns the bytes of its regular files.
pub fn check_tar_gz(input: impl Read, limits: ExtractLimits) -> Result<u64, ArchiveError> {
    walk_tar(GzDecoder::new(input), None, limits)
}

/// Walks a tar stream's entries, refusing unsafe ones and stopping at `limits`; writes them
/// under `dest` when given.
fn walk_tar(
    input: impl Read,
    dest: Option<&Path>,
    limits: ExtractLimits,
) -> Result<u64, ArchiveError> {
    let mut ar = tar::Archive::new(input);
    let corrupt = |e: io::Error| ArchiveError::Corrupt(e.to_string());
    let mut total = 0u64;
    let mut count = 0u64;
    for entry in ar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TooLarge {
                what: "entries",
                limit: limits.max_entries,
            });
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        let rel = safe_relative_path(&name)?;
        match kind {
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            tar::EntryType::Directory => {
                if rel.as_os_str().is_empty() {
                    continue;
                }
                if let Some(dest) = dest {
                    let p = dest.join(&rel);
                    fs::create_dir_all(&p).map_err(io_err(&p))?;
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if rel.as_os_str().is_empty() {
                    return Err(ArchiveError::UnsafeEntry {
                        entry: name,
                        reason: "empty file name".into(),
                    });
                }
                let size = entry.header().size().map_err(corrupt)?;
                if size > limits.max_file_bytes {
                    return Err(ArchiveError::FileTooLarge {
                        entry: name,
                        limit: limits.max_file_bytes,
                    });
                }
                if total.saturating_add(size) > limits.max_bytes {
                    return Err(ArchiveError::TooLarge {
                        what: "bytes",
                        limit: limits.max_bytes,
                    });
                }
                let Some(dest) = dest else {
                    let read =
                        io::copy(&mut (&mut entry).take(size), &mut io::sink()).map_err(corrupt)?;
                    if read != size {
                        return Err(ArchiveError::Corrupt(format!(
                            "{name}: expected {size} bytes, got {read}"
                        )));
                    }
                    total += size;
                    continue;
                };
                let p = dest.join(&rel);
                if let Some(parent) = p.parent() {
                    fs::create_dir_all(parent).map_err(io_err(parent))?;
                }
                // Refuse to write through a symlink planted by something else.
                if let Ok(md) = fs::symlink_metadata(&p)
                    && !md.is_file()
                {
                    return Err(ArchiveError::UnsafeEntry {
                        entry: name,
                        reason: "target exists and is not a regular file".into(),
                    });
                }
                let mode = entry.header().mode().unwrap_or(0o644);
                let mut f = fs::File::create(&p).map_err(io_err(&p))?;
                let written = io::copy(&mut (&mut entry).take(size), &mut f).map_err(corrupt)?;
                if written != size {
                    return Err(ArchiveError::Corrupt(format!(
                        "{name}: expected {size} bytes, got {written}"
                    )));
                }
                #[cfg(unix)]
                if mode & 0o111 != 0 {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o755));
                }
                total += size;
            }
            other => {
                let what = match other {
                    tar::EntryType::Symlink => "symbolic links are not allowed",
                    tar::EntryType::Link => "hard links are not allowed",
                    tar::EntryType::Char | tar::EntryType::Block => "device files are not allowed",
                    tar::EntryType::Fifo => "FIFOs are not allowed",
                    _ => "unsupported entry type",
                };
                return Err(ArchiveError::UnsafeEntry {
                    entry: name,
                    reason: what.into(),
                });
            }
        }
    }
    Ok(total)
}

/// The `sha256:<hex>` digest and size of a file.
pub fn file_digest(path: &Path) -> Result<(String, u64), ArchiveError> {
    let mut f = fs::File::open(path).map_err(io_err(path))?;
    let mut hw = HashingWriter::new(io::sink());
    io::copy(&mut f, &mut hw).map_err(io_err(path))?;
    let (_, d, n) = hw.finish();
    Ok((d, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(dir: &Path) -> (Vec<u8>, ArchiveInfo) {
        archive_dir(dir, &IgnoreRules::flux_defaults(), Vec::new()).unwrap()
    }

    #[test]
    fn deterministic_and_filtered() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        fs::create_dir_all(d.join("b/c")).unwrap();
        fs::create_dir_all(d.join(".git")).unwrap();
        fs::write(d.join(".git/HEAD"), "ref").unwrap();
        fs::write(d.join("b/c/z.yaml"), "z").unwrap();
        fs::write(d.join("a.yaml"), "a").unwrap();
        fs::write(d.join("logo.png"), "png").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::write(d.join("run.sh"), "#!/bin/sh").unwrap();
            fs::set_permissions(d.join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::symlink("a.yaml", d.join("link")).unwrap();
        }
        let (bytes, info) = build(d);
        assert_eq!(info.size, bytes.len() as u64);
        assert_eq!(
            info.digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
        );
        // Same input, same bytes, even after touching mtimes.
        fs::write(d.join("a.yaml"), "a").unwrap();
        assert_eq!(build(d).0, bytes);

        let mut ar = tar::Archive::new(GzDecoder::new(&bytes[..]));
        let mut names = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.mtime().unwrap(), 0);
            assert_eq!(h.uid().unwrap(), 0);
            names.push((
                String::from_utf8(e.path_bytes().to_vec()).unwrap(),
                h.mode().unwrap(),
            ));
        }
        let mut want = vec![
            ("a.yaml".to_string(), 0o644),
            ("b/".to_string(), 0o755),
            ("b/c/".to_string(), 0o755),
            ("b/c/z.yaml".to_string(), 0o644),
        ];
        if cfg!(unix) {
            want.push(("run.sh".to_string(), 0o755));
        }
        assert_eq!(names, want);
    }

    #[test]
    fn extraction_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let mut w = ArtifactWriter::new(Vec::new());
        w.add_file("x/y/file.txt", false, b"hello").unwrap();
        w.add_file("top", true, b"#!").unwrap();
        let (bytes, info) = w.finish().unwrap();
        assert_eq!(info.files, 2);
        let out = t.path().join("out");
        let n = extract_tar_gz(&bytes[..], &out, ExtractLimits::default()).unwrap();
        assert_eq!(n, 7);
        assert_eq!(
            fs::read_to_string(out.join("x/y/file.txt")).unwrap(),
            "hello"
        );
    }

    fn raw_tar(name: &str, kind: tar::EntryType, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        // Write the name bytes directly so that unsafe names survive.
        {
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        }
        if kind == tar::EntryType::Symlink {
            h.set_link_name("/etc/passwd").unwrap();
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
        let raw = b.into_inner().unwrap();
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&raw).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn extraction_refuses_unsafe_entries() {
        let t = tempfile::tempdir().unwrap();
        let cases = [
            ("../evil", tar::EntryType::Regular, "'..'"),
            ("/abs", tar::EntryType::Regular, "absolute"),
            ("link", tar::EntryType::Symlink, "symbolic links"),
            ("dev", tar::EntryType::Char, "device"),
            ("fifo", tar::EntryType::Fifo, "FIFO"),
        ];
        for (name, kind, want) in cases {
            let ar = raw_tar(name, kind, b"x");
            let err = extract_tar_gz(&ar[..], &t.path().join("o"), ExtractLimits::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{name}: {err}");
        }
        assert!(!t.path().join("evil").exists());
    }

    #[test]
    fn extraction_caps_size_and_rejects_garbage() {
        let t = tempfile::tempdir().unwrap();
        let ar = raw_tar("big", tar::EntryType::Regular, &[0u8; 4096]);
        let err = extract_tar_gz(
            &ar[..],
            t.path(),
            ExtractLimits {
                max_bytes: 1000,
                max_entries: 10,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, ArchiveError::TooLarge { what: "bytes", .. }),
            "{err}"
        );
        let err = extract_tar_gz(
            &ar[..],
            &t.path().join("f"),
            ExtractLimits {
                max_file_bytes: 4095,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "archive entry \"big\" is larger than the maximum file size 4095"
        );
        assert!(!t.path().join("f/big").exists());
        let err = extract_tar_gz(&b"not gzip at all"[..], t.path(), ExtractLimits::default())
            .unwrap_err();
        assert!(matches!(err, ArchiveError::Corrupt(_)), "{err}");
    }
}
