//! The tag database: the tags of each scanned image repository, by canonical image name,
//! kept in an embedded [`redb`] file so that a restarted controller has every repository's
//! tags at once (Flux keeps them in Badger under `--storage-path` for the same reason).
//!
//! Tags are stored as Flux stores them — a JSON array in descending order — and a write
//! returns Flux's revision of the list: the Adler-32 checksum of those bytes, in decimal
//! (`status.lastScanResult.revision`), so revisions match Flux's for the same tags.

use redb::{ReadableDatabase, TableDefinition};
use std::path::{Path, PathBuf};

/// Canonical image name → JSON array of tags.
const TAGS: TableDefinition<&str, &[u8]> = TableDefinition::new("tags");

/// A failed database operation; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("tag database {path}: {message}")]
pub struct StoreError {
    /// The database file.
    pub path: String,
    /// What failed.
    pub message: String,
}

/// The tag database (cheap to share behind an `Arc`; redb serialises writers).
pub struct TagStore {
    db: redb::Database,
    path: PathBuf,
}

impl std::fmt::Debug for TagStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TagStore")
            .field("path", &self.path)
            .finish()
    }
}

/// Flux's revision of a tag list: Adler-32 of its JSON bytes, in decimal.
pub fn revision(tags: &[String]) -> String {
    adler2::adler32_slice(&to_json(tags)).to_string()
}

/// Go's `json.Marshal` of a string slice (it escapes `<`, `>`, `&`, U+2028 and U+2029).
fn to_json(tags: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tags.iter().map(|t| t.len() + 3).sum::<usize>() + 2);
    out.push(b'[');
    for (i, t) in tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        for c in t.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c if (c as u32) < 0x20 => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        out.push(b'"');
    }
    out.push(b']');
    out
}

impl TagStore {
    /// Opens (or creates) the database at `path`; its directory is created with mode 0700
    /// and the file made 0600.
    pub fn open(path: &Path) -> Result<TagStore, StoreError> {
        let err = |message: String| StoreError {
            path: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            }
        }
        let db = redb::Database::create(path).map_err(|e| err(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        let store = TagStore {
            db,
            path: path.to_owned(),
        };
        // The table exists from the start, so reads never see "no such table".
        let txn = store.db.begin_write().map_err(|e| store.err(e))?;
        txn.open_table(TAGS).map_err(|e| store.err(e))?;
        txn.commit().map_err(|e| store.err(e))?;
        Ok(store)
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    /// Replaces the tags of `image` (a canonical name) and returns the list's revision.
    /// `tags` should be in the order they are to be read back (descending, as scanned).
    /// Nothing is written (no commit, no sync) when the stored list is the same.
    pub fn set_tags(&self, image: &str, tags: &[String]) -> Result<String, StoreError> {
        let bytes = to_json(tags);
        let revision = adler2::adler32_slice(&bytes).to_string();
        {
            let txn = self.db.begin_read().map_err(|e| self.err(e))?;
            let table = txn.open_table(TAGS).map_err(|e| self.err(e))?;
            if table
                .get(image)
                .map_err(|e| self.err(e))?
                .is_some_and(|v| v.value() == bytes.as_slice())
            {
                return Ok(revision);
            }
        }
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(TAGS).map_err(|e| self.err(e))?;
            table
                .insert(image, bytes.as_slice())
                .map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(revision)
    }

    /// The tags of `image`; empty when it was never scanned.
    pub fn tags(&self, image: &str) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(TAGS).map_err(|e| self.err(e))?;
        let Some(v) = table.get(image).map_err(|e| self.err(e))? else {
            return Ok(Vec::new());
        };
        serde_json::from_slice(v.value())
            .map_err(|e| self.err(format!("tags of {image} are unreadable: {e}")))
    }

    /// Whether `image` has tags stored (without reading them).
    pub fn has_tags(&self, image: &str) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(TAGS).map_err(|e| self.err(e))?;
        let stored = table.get(image).map_err(|e| self.err(e))?;
        // An empty list is stored as `[]`.
        Ok(stored.is_some_and(|v| v.value().len() > 2))
    }

    /// Forgets `image`'s tags.
    pub fn delete(&self, image: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(TAGS).map_err(|e| self.err(e))?;
            table.remove(image).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_are_fluxs_adler32_of_the_json() {
        // Go: adler32.Checksum([]byte(`["b","a"]`)) = 183370288 (zlib.adler32 agrees)
        assert_eq!(to_json(&["b".into(), "a".into()]), br#"["b","a"]"#);
        assert_eq!(revision(&["b".into(), "a".into()]), "183370288");
        assert_eq!(revision(&[]), adler2::adler32_slice(b"[]").to_string());
        assert_eq!(to_json(&["<&>".into()]), br#"["\u003c\u0026\u003e"]"#);
    }

    #[test]
    fn tags_persist_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db").join("tags.redb");
        let tags: Vec<String> = vec!["1.1.0".into(), "1.0.0".into()];
        {
            let s = TagStore::open(&path).unwrap();
            assert!(s.tags("ghcr.io/a/b").unwrap().is_empty());
            assert!(!s.has_tags("ghcr.io/a/b").unwrap());
            s.set_tags("ghcr.io/a/b", &[]).unwrap();
            assert!(!s.has_tags("ghcr.io/a/b").unwrap());
            assert_eq!(s.set_tags("ghcr.io/a/b", &tags).unwrap(), revision(&tags));
        }
        let s = TagStore::open(&path).unwrap();
        assert!(s.has_tags("ghcr.io/a/b").unwrap());
        assert_eq!(s.tags("ghcr.io/a/b").unwrap(), tags);
        // The same list again writes nothing.
        let written = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(s.set_tags("ghcr.io/a/b", &tags).unwrap(), revision(&tags));
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            written
        );
        s.delete("ghcr.io/a/b").unwrap();
        assert!(s.tags("ghcr.io/a/b").unwrap().is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
