//! Flux's drift ignore rules (a Kustomization's `spec.ignore`): which JSON pointers of
//! each built object neither count as drift nor get overwritten.

use crate::error::{Error, Result};
use crate::kustomization::Selector;
use crate::resource::Resource;
use crate::transform::SelectorRegex;

/// One rule: JSON pointers (RFC 6901) and the objects they apply to (all when `target`
/// is `None`).
#[derive(Clone, Debug, Default)]
pub struct IgnoreRule {
    /// The JSON pointers to ignore, e.g. `/spec/replicas`.
    pub paths: Vec<String>,
    /// The objects the rule applies to.
    pub target: Option<Selector>,
}

/// Rules checked and compiled once, to select the pointers of many objects.
pub struct IgnoreRules {
    rules: Vec<(Option<SelectorRegex>, Vec<String>)>,
}

impl IgnoreRules {
    /// Checks and compiles `rules`: every path must be a JSON pointer and every target a
    /// valid selector.
    pub fn new(rules: &[IgnoreRule]) -> Result<IgnoreRules> {
        let mut compiled = Vec::with_capacity(rules.len());
        for rule in rules {
            for p in &rule.paths {
                if !p.starts_with('/') {
                    return Err(Error::msg(format!(
                        "ignore rule path '{p}' is not a JSON pointer (it must start with '/')"
                    )));
                }
            }
            let selector = match &rule.target {
                None => None,
                Some(s) => Some(
                    SelectorRegex::new(s)
                        .map_err(|e| Error::msg(format!("ignore rule target: {e}")))?,
                ),
            };
            compiled.push((selector, rule.paths.clone()));
        }
        Ok(IgnoreRules { rules: compiled })
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The pointers the rules select for `object` (`None`: an object that could not be
    /// read as a resource, which only rules without a target select).
    pub fn paths_for(&self, object: Option<&Resource>) -> Vec<String> {
        let mut paths = Vec::new();
        for (selector, rule_paths) in &self.rules {
            let selected = match (selector, object) {
                (None, _) => true,
                (Some(s), Some(r)) => s.matches(r),
                (Some(_), None) => false,
            };
            if selected {
                paths.extend(rule_paths.iter().cloned());
            }
        }
        paths
    }
}
