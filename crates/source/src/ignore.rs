//! Which files of a source go into its artifact: Flux's default excludes, `.sourceignore`
//! files (gitignore syntax, scoped to their directory) and `spec.ignore`.
//!
//! Precedence follows gitignore and Flux: later rules win over earlier ones, so the order is
//! default excludes (lowest), `.sourceignore` files from the root down, then `spec.ignore`
//! (highest). A path is excluded when it, or any directory above it, is ignored.

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The name of the ignore file read from sources.
pub const SOURCEIGNORE: &str = ".sourceignore";

/// Version control files, always excluded unless re-included.
pub const VCS_PATTERNS: &[&str] = &[".git/", ".gitignore", ".gitmodules", ".gitattributes"];

/// Flux's default excludes besides VCS files: media and archives, CI configs, and tool files.
pub const DEFAULT_PATTERNS: &[&str] = &[
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
];

/// A compiled set of ignore rules, each scoped to a directory of the source.
#[derive(Clone, Default)]
pub struct IgnoreRules {
    /// (domain directory, relative with '/' and no trailing slash; "" for the root; rules)
    layers: Vec<(String, Gitignore)>,
}

impl std::fmt::Debug for IgnoreRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IgnoreRules")
            .field("layers", &self.layers.len())
            .finish()
    }
}

/// A pattern that could not be compiled.
#[derive(Debug, thiserror::Error)]
#[error("ignore rules of {origin}: {message}")]
pub struct IgnoreError {
    /// Where the rules came from, e.g. `spec.ignore` or `charts/.sourceignore`.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

impl IgnoreRules {
    /// No rules: nothing is excluded.
    pub fn none() -> Self {
        IgnoreRules::default()
    }

    /// Flux's defaults: VCS files and [`DEFAULT_PATTERNS`].
    pub fn flux_defaults() -> Self {
        let mut r = IgnoreRules::none();
        let text = VCS_PATTERNS
            .iter()
            .chain(DEFAULT_PATTERNS)
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        // The built-in patterns are valid.
        let _ = r.add("", &text, "default excludes");
        r
    }

    /// Only the VCS patterns (used for sources that are not Git checkouts but may hold one).
    pub fn vcs_only() -> Self {
        let mut r = IgnoreRules::none();
        let _ = r.add("", &VCS_PATTERNS.join("\n"), "VCS excludes");
        r
    }

    /// Adds gitignore-syntax rules that apply under `domain` (a relative directory, `""` for
    /// the root). Later rules take precedence over earlier ones.
    pub fn add(&mut self, domain: &str, text: &str, origin: &str) -> Result<(), IgnoreError> {
        let domain = domain.trim_matches('/').to_owned();
        let mut b = GitignoreBuilder::new("/");
        for line in text.lines() {
            b.add_line(None, line).map_err(|e| IgnoreError {
                origin: origin.to_owned(),
                message: e.to_string(),
            })?;
        }
        let g = b.build().map_err(|e| IgnoreError {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        if !g.is_empty() {
            self.layers.push((domain, g));
        }
        Ok(())
    }

    /// Whether `path` (relative, '/'-separated) is excluded. `is_dir` tells whether it is a
    /// directory. Parents are considered: a file in an ignored directory is ignored.
    pub fn is_ignored(&self, path: &str, is_dir: bool) -> bool {
        let path = path.trim_start_matches("./").trim_matches('/');
        if path.is_empty() {
            return false;
        }
        // Check the path itself and each parent directory, from the top down: the first
        // ancestor that is ignored (by the highest-precedence layer that has an opinion)
        // excludes everything below it.
        let components: Vec<&str> = path.split('/').collect();
        for end in 1..=components.len() {
            let sub = components[..end].join("/");
            let sub_is_dir = end < components.len() || is_dir;
            if self.decide(&sub, sub_is_dir) == Some(true) {
                return true;
            }
        }
        false
    }

    /// The decision of the highest-precedence layer with an opinion on exactly this path.
    fn decide(&self, path: &str, is_dir: bool) -> Option<bool> {
        for (domain, g) in self.layers.iter().rev() {
            let rel = if domain.is_empty() {
                path
            } else if let Some(rest) = path.strip_prefix(domain.as_str()) {
                match rest.strip_prefix('/') {
                    Some(r) if !r.is_empty() => r,
                    _ => continue,
                }
            } else {
                continue;
            };
            match g.matched(format!("/{rel}"), is_dir) {
                Match::Ignore(_) => return Some(true),
                Match::Whitelist(_) => return Some(false),
                Match::None => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_exclude_vcs_media_and_ci() {
        let r = IgnoreRules::flux_defaults();
        assert!(r.is_ignored(".git", true));
        assert!(r.is_ignored(".git/config", false));
        assert!(r.is_ignored("logo.png", false));
        assert!(r.is_ignored("a/b/pic.jpg", false));
        assert!(r.is_ignored(".github/workflows/ci.yaml", false));
        assert!(r.is_ignored("deep/.sops.yaml", false));
        assert!(!r.is_ignored("deploy/app.yaml", false));
        assert!(!r.is_ignored("README.md", false));
    }

    #[test]
    fn later_layers_win_and_scopes_apply() {
        let mut r = IgnoreRules::flux_defaults();
        r.add("", "*.md\n!keep.md\n", ".sourceignore").unwrap();
        r.add("apps", "secret/\n", "apps/.sourceignore").unwrap();
        r.add("", "!logo.png\n", "spec.ignore").unwrap();
        assert!(r.is_ignored("README.md", false));
        assert!(!r.is_ignored("keep.md", false));
        assert!(r.is_ignored("apps/secret/x.yaml", false));
        assert!(!r.is_ignored("secret/x.yaml", false));
        assert!(!r.is_ignored("logo.png", false));
        // Anchored patterns are relative to their domain.
        r.add("apps", "/top.yaml\n", "apps/.sourceignore").unwrap();
        assert!(r.is_ignored("apps/top.yaml", false));
        assert!(!r.is_ignored("apps/x/top.yaml", false));
    }

    #[test]
    fn bad_patterns_name_their_origin() {
        let mut r = IgnoreRules::none();
        let err = r.add("", "a[z-a]", "spec.ignore").unwrap_err();
        assert!(err.to_string().contains("spec.ignore"), "{err}");
    }
}
