//! Revision strings and digests in Flux's formats.
//!
//! | source | revision |
//! |---|---|
//! | Git branch | `main@sha1:<40 hex>` |
//! | Git tag | `v1.2.3@sha1:<40 hex>` |
//! | Git commit | `sha1:<40 hex>` |
//! | OCI artifact | `<tag>@sha256:<manifest digest>` or `sha256:<manifest digest>` |
//! | Bucket, Helm index | `sha256:<hex>` |
//!
//! Digests are `<algorithm>:<encoded>`; for the registered algorithms the encoded part is
//! lowercase hex of the algorithm's length.

use sha2::Digest as _;
use std::fmt;
use std::str::FromStr;

/// Why a digest or revision string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevisionError {
    /// The input was empty.
    #[error("empty {what}")]
    Empty {
        /// `digest` or `revision`.
        what: &'static str,
    },
    /// A digest without the `algorithm:` prefix.
    #[error("invalid digest {input:?}: missing '<algorithm>:' prefix")]
    MissingAlgorithm {
        /// The offending text.
        input: String,
    },
    /// The algorithm part does not follow the OCI digest grammar.
    #[error("invalid digest {input:?}: malformed algorithm {algorithm:?}")]
    BadAlgorithm {
        /// The offending text.
        input: String,
        /// The algorithm part.
        algorithm: String,
    },
    /// The encoded part is empty, has characters outside `[a-zA-Z0-9=_-]`, or is not hex
    /// of the right length for a registered algorithm.
    #[error("invalid digest {input:?}: {reason}")]
    BadEncoding {
        /// The offending text.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// `name@` with nothing after the `@`, or `@digest` with no name.
    #[error("invalid revision {input:?}: {reason}")]
    BadRevision {
        /// The offending text.
        input: String,
        /// What is wrong.
        reason: String,
    },
}

/// Registered digest algorithms and the hex length of their encoded part.
const REGISTERED: &[(&str, usize)] = &[
    ("sha1", 40),
    ("sha256", 64),
    ("sha384", 96),
    ("sha512", 128),
    ("blake3", 64),
];

/// A content digest, `<algorithm>:<encoded>`, e.g. `sha256:9f86d0…`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: String,
    encoded: String,
}

impl Digest {
    /// Parses and validates a digest.
    pub fn parse(input: &str) -> Result<Self, RevisionError> {
        if input.is_empty() {
            return Err(RevisionError::Empty { what: "digest" });
        }
        let Some((algorithm, encoded)) = input.split_once(':') else {
            return Err(RevisionError::MissingAlgorithm {
                input: input.to_owned(),
            });
        };
        if !valid_algorithm(algorithm) {
            return Err(RevisionError::BadAlgorithm {
                input: input.to_owned(),
                algorithm: algorithm.to_owned(),
            });
        }
        let bad = |reason: String| RevisionError::BadEncoding {
            input: input.to_owned(),
            reason,
        };
        if encoded.is_empty() {
            return Err(bad("empty encoded part".into()));
        }
        if let Some(c) = encoded
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '=' | '_' | '-')))
        {
            return Err(bad(format!("unexpected character {c:?}")));
        }
        if let Some((_, len)) = REGISTERED.iter().find(|(a, _)| *a == algorithm) {
            if encoded.len() != *len {
                return Err(bad(format!(
                    "{algorithm} needs {len} hex characters, found {}",
                    encoded.len()
                )));
            }
            if !encoded
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(bad(format!("{algorithm} needs lowercase hex")));
            }
        }
        Ok(Digest {
            algorithm: algorithm.to_owned(),
            encoded: encoded.to_owned(),
        })
    }

    /// The `sha256:` digest of some bytes.
    pub fn sha256(bytes: &[u8]) -> Self {
        Digest {
            algorithm: "sha256".into(),
            encoded: hex::encode(sha2::Sha256::digest(bytes)),
        }
    }

    /// A `sha1:` digest from a Git object id in hex (validated).
    pub fn sha1_hex(hex: &str) -> Result<Self, RevisionError> {
        Digest::parse(&format!("sha1:{hex}"))
    }

    /// The algorithm, e.g. `sha256`.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The encoded part (hex for registered algorithms).
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// Whether `bytes` hash to this digest. Only `sha256` can be checked; other algorithms
    /// return `None`.
    pub fn verify(&self, bytes: &[u8]) -> Option<bool> {
        (self.algorithm == "sha256").then(|| Digest::sha256(bytes) == *self)
    }

    /// The digest with its encoded part cut to `len` characters, for messages
    /// (`sha1:5394cb7f`).
    pub fn short(&self, len: usize) -> String {
        let end = self.encoded.len().min(len);
        format!("{}:{}", self.algorithm, &self.encoded[..end])
    }
}

/// OCI grammar: `algorithm-component ([+._-] algorithm-component)*`, components `[a-z0-9]+`.
fn valid_algorithm(a: &str) -> bool {
    !a.is_empty()
        && a.split(['+', '.', '_', '-']).all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.encoded)
    }
}

impl FromStr for Digest {
    type Err = RevisionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

/// A source revision: an optional name (branch, tag, ref, OCI tag) and a digest.
///
/// Formats as `name@digest` or `digest`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Revision {
    name: Option<String>,
    digest: Digest,
}

impl Revision {
    /// A revision with a name, e.g. branch `main` at a commit.
    pub fn named(name: impl Into<String>, digest: Digest) -> Self {
        Revision {
            name: Some(name.into()),
            digest,
        }
    }

    /// A revision that is only a digest, e.g. a detached commit or a bucket's content.
    pub fn digest_only(digest: Digest) -> Self {
        Revision { name: None, digest }
    }

    /// Parses `name@algo:hex` or `algo:hex`.
    ///
    /// Also accepts the legacy forms Flux migrates from: `<branch>/<40 hex>` and a bare
    /// 40-hex commit, which become `<branch>@sha1:<hex>` and `sha1:<hex>`.
    pub fn parse(input: &str) -> Result<Self, RevisionError> {
        if input.is_empty() {
            return Err(RevisionError::Empty { what: "revision" });
        }
        let bad = |reason: &str| RevisionError::BadRevision {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some((name, digest)) = input.rsplit_once('@') {
            if name.is_empty() {
                return Err(bad("empty name before '@'"));
            }
            if digest.is_empty() {
                return Err(bad("missing digest after '@'"));
            }
            return Ok(Revision::named(name, Digest::parse(digest)?));
        }
        if input.contains(':') {
            return Ok(Revision::digest_only(Digest::parse(input)?));
        }
        if is_sha1_hex(input) {
            return Ok(Revision::digest_only(Digest::sha1_hex(input)?));
        }
        if let Some((name, hex)) = input.rsplit_once('/')
            && !name.is_empty()
            && is_sha1_hex(hex)
        {
            return Ok(Revision::named(name, Digest::sha1_hex(hex)?));
        }
        Err(bad(
            "expected '<name>@<algorithm>:<digest>' or '<algorithm>:<digest>'",
        ))
    }

    /// The name part (branch, tag, ref or OCI tag), if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The digest part.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// A short form for messages and events: `main@sha1:5394cb7f`.
    pub fn short(&self) -> String {
        match &self.name {
            Some(n) => format!("{n}@{}", self.digest.short(8)),
            None => self.digest.short(8),
        }
    }
}

fn is_sha1_hex(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{n}@{}", self.digest),
            None => write!(f, "{}", self.digest),
        }
    }
}

impl FromStr for Revision {
    type Err = RevisionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Revision::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SHA1: &str = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738";
    const SHA256: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn git_branch_tag_and_commit() {
        let r = Revision::parse(&format!("main@sha1:{SHA1}")).unwrap();
        assert_eq!(r.name(), Some("main"));
        assert_eq!(r.digest().algorithm(), "sha1");
        assert_eq!(r.digest().encoded(), SHA1);
        assert_eq!(r.to_string(), format!("main@sha1:{SHA1}"));
        assert_eq!(r.short(), "main@sha1:5394cb7f");

        let t = Revision::parse(&format!("v1.2.3@sha1:{SHA1}")).unwrap();
        assert_eq!(t.name(), Some("v1.2.3"));

        let c = Revision::parse(&format!("sha1:{SHA1}")).unwrap();
        assert_eq!(c.name(), None);
        assert_eq!(c.to_string(), format!("sha1:{SHA1}"));

        // Ref names may contain '/' and '@'; the digest follows the last '@'.
        let n = Revision::parse(&format!("refs/pull/420/head@sha1:{SHA1}")).unwrap();
        assert_eq!(n.name(), Some("refs/pull/420/head"));
        let at = Revision::parse(&format!("feature@x@sha1:{SHA1}")).unwrap();
        assert_eq!(at.name(), Some("feature@x"));
    }

    #[test]
    fn oci_and_bucket() {
        let o = Revision::parse(&format!("6.1.6@sha256:{SHA256}")).unwrap();
        assert_eq!(o.name(), Some("6.1.6"));
        assert_eq!(o.digest().algorithm(), "sha256");
        let b = Revision::parse(&format!("sha256:{SHA256}")).unwrap();
        assert_eq!(b.to_string(), format!("sha256:{SHA256}"));
    }

    #[test]
    fn legacy_forms_are_migrated() {
        assert_eq!(
            Revision::parse(&format!("main/{SHA1}"))
                .unwrap()
                .to_string(),
            format!("main@sha1:{SHA1}")
        );
        assert_eq!(
            Revision::parse(SHA1).unwrap().to_string(),
            format!("sha1:{SHA1}")
        );
    }

    #[test]
    fn malformed_revisions_are_refused_clearly() {
        let cases = [
            ("", "empty revision"),
            ("main", "expected '<name>@<algorithm>:<digest>'"),
            ("main@", "missing digest after '@'"),
            (&format!("@sha1:{SHA1}"), "empty name before '@'"),
            ("main@sha1:", "empty encoded part"),
            ("main@sha1:abc", "sha1 needs 40 hex characters, found 3"),
            (&format!("sha256:{SHA1}"), "sha256 needs 64 hex characters"),
            (&format!("sha1:{}", SHA1.to_uppercase()), "lowercase hex"),
            (&format!("SHA1:{SHA1}"), "malformed algorithm"),
            (":abc", "malformed algorithm"),
            ("sha1::", "unexpected character ':'"),
            ("main/abc", "expected '<name>@"),
            ("sha256:zz zz", "unexpected character ' '"),
        ];
        for (input, want) in cases {
            let err = Revision::parse(input).unwrap_err().to_string();
            assert!(
                err.contains(want),
                "{input:?}: {err:?} should contain {want:?}"
            );
        }
    }

    #[test]
    fn digests() {
        let d = Digest::sha256(b"test");
        assert_eq!(d.to_string(), format!("sha256:{SHA256}"));
        assert_eq!(d.verify(b"test"), Some(true));
        assert_eq!(d.verify(b"Test"), Some(false));
        assert_eq!(
            Digest::parse(&format!("sha1:{SHA1}")).unwrap().verify(b""),
            None
        );
        // Unregistered algorithms follow the OCI grammar only.
        let x = Digest::parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")
            .unwrap();
        assert_eq!(x.algorithm(), "multihash+base58");
        assert!(Digest::parse("sha256").is_err());
        assert!(Digest::parse("a..b:abc").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Revision::parse(&s);
            let _ = Digest::parse(&s);
        }

        #[test]
        fn format_parse_round_trip(name in "[a-zA-Z0-9._/-]{1,40}", hex in "[0-9a-f]{40}") {
            let r = Revision::named(name, Digest::sha1_hex(&hex).unwrap());
            prop_assert_eq!(Revision::parse(&r.to_string()).unwrap(), r);
        }
    }
}
