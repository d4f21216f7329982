//! File access with kustomize's load restrictions.

use crate::error::{Error, Result};
use crate::generators::FileSource;
use std::path::{Component, Path, PathBuf};

/// Which files a kustomization may read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoadRestrictor {
    /// Files must be in or below the kustomization's directory (kustomize's default).
    #[default]
    RootOnly,
    /// Any file may be read.
    None,
}

/// Reads files for one kustomization directory.
#[derive(Clone, Debug)]
pub struct Loader {
    /// The kustomization directory (symlinks resolved).
    pub root: PathBuf,
    restrictor: LoadRestrictor,
    /// Nothing outside this directory may be read at all (the build's sandbox).
    sandbox: Option<PathBuf>,
}

fn canonical(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).map_err(|e| Error::Io {
        path: p.to_path_buf(),
        error: e,
    })
}

/// Joins and normalises `..`/`.` lexically.
pub fn clean_join(base: &Path, rel: &str) -> PathBuf {
    let mut out = PathBuf::new();
    let p = base.join(rel);
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Loader {
    /// A loader rooted at `dir`.
    pub fn new(dir: &Path, restrictor: LoadRestrictor, sandbox: Option<&Path>) -> Result<Loader> {
        let root = canonical(dir)?;
        let sandbox = match sandbox {
            Some(s) => Some(canonical(s)?),
            None => None,
        };
        let l = Loader {
            root,
            restrictor,
            sandbox,
        };
        l.check_sandbox(&l.root)?;
        Ok(l)
    }

    fn check_sandbox(&self, p: &Path) -> Result<()> {
        if let Some(s) = &self.sandbox
            && !p.starts_with(s)
        {
            return Err(Error::Restricted {
                path: p.to_path_buf(),
                root: s.clone(),
            });
        }
        Ok(())
    }

    /// The absolute, symlink-resolved path of `rel`, checked against the restrictions.
    pub fn resolve_file(&self, rel: &str) -> Result<PathBuf> {
        let joined = clean_join(&self.root, rel);
        let real = canonical(&joined)?;
        self.check_sandbox(&real)?;
        if self.restrictor == LoadRestrictor::RootOnly && !real.starts_with(&self.root) {
            return Err(Error::Restricted {
                path: real,
                root: self.root.clone(),
            });
        }
        Ok(real)
    }

    /// Reads a file as text.
    pub fn read_to_string(&self, rel: &str) -> Result<(PathBuf, String)> {
        let p = self.resolve_file(rel)?;
        let bytes = std::fs::read(&p).map_err(|e| Error::Io {
            path: p.clone(),
            error: e,
        })?;
        let s = String::from_utf8(bytes)
            .map_err(|_| Error::msg(format!("{}: not UTF-8 text", p.display())))?;
        Ok((p, s))
    }

    /// A loader for a sub-directory (a base or component), which may be anywhere inside the
    /// sandbox.
    pub fn child(&self, rel: &str) -> Result<Loader> {
        let joined = clean_join(&self.root, rel);
        let real = canonical(&joined)?;
        self.check_sandbox(&real)?;
        Ok(Loader {
            root: real,
            restrictor: self.restrictor,
            sandbox: self.sandbox.clone(),
        })
    }

    /// Whether `rel` names a directory.
    pub fn is_dir(&self, rel: &str) -> bool {
        clean_join(&self.root, rel).is_dir()
    }
}

impl FileSource for Loader {
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let p = self.resolve_file(path)?;
        if p.is_dir() {
            return Err(Error::msg(format!(
                "{}: is a directory, expected a file",
                p.display()
            )));
        }
        std::fs::read(&p).map_err(|e| Error::Io { path: p, error: e })
    }
}
