//! What an apply or prune did to each object.

use crate::object::ObjectRef;
use std::collections::BTreeMap;
use std::fmt;

/// What happened to one object. `Display` prints it in lower case, as Flux does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// The object did not exist and was created (or was recreated).
    Created,
    /// The object existed and differed from the desired state.
    Configured,
    /// The object already was in the desired state; nothing was written.
    Unchanged,
    /// The object was deleted.
    Deleted,
    /// The object was left alone (annotations, owner labels, or already gone).
    Skipped,
}

impl Action {
    /// The lower-case word Flux prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Deleted => "deleted",
            Action::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetEntry {
    /// The object.
    pub object: ObjectRef,
    /// What happened.
    pub action: Action,
}

impl fmt::Display for ChangeSetEntry {
    /// `Deployment/default/app created`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.object, self.action)
    }
}

/// The entries of an apply or prune, in the order the objects were handled (stage by
/// stage, Flux's kind order within a stage).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// The entries.
    pub entries: Vec<ChangeSetEntry>,
}

impl ChangeSet {
    /// An empty change set.
    pub fn new() -> ChangeSet {
        ChangeSet::default()
    }

    /// Appends an entry.
    pub fn add(&mut self, object: ObjectRef, action: Action) {
        self.entries.push(ChangeSetEntry { object, action });
    }

    /// Appends the entries of another change set.
    pub fn append(&mut self, other: ChangeSet) {
        self.entries.extend(other.entries);
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The action taken on an object, if it is in the set.
    pub fn action_of(&self, object: &ObjectRef) -> Option<Action> {
        self.entries
            .iter()
            .find(|e| e.object.same_object(object))
            .map(|e| e.action)
    }

    /// Whether any entry created, configured or deleted an object.
    pub fn has_changes(&self) -> bool {
        self.entries.iter().any(|e| {
            matches!(
                e.action,
                Action::Created | Action::Configured | Action::Deleted
            )
        })
    }

    /// One line per entry: `Deployment/default/app created`.
    pub fn lines(&self) -> Vec<String> {
        self.entries.iter().map(ToString::to_string).collect()
    }

    /// The lines of entries that changed something (created, configured, deleted), joined
    /// by newlines: the text of Flux's change events. Empty when nothing changed.
    pub fn event_text(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            if matches!(
                e.action,
                Action::Created | Action::Configured | Action::Deleted
            ) {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&e.to_string());
            }
        }
        out
    }

    /// `Kind/namespace/name` → action, as Flux's `ToMap`.
    pub fn to_map(&self) -> BTreeMap<String, Action> {
        self.entries
            .iter()
            .map(|e| (e.object.to_string(), e.action))
            .collect()
    }

    /// Action → the objects it applied to, as Flux's `ToGroupedMap`.
    pub fn to_grouped_map(&self) -> BTreeMap<Action, Vec<String>> {
        let mut out: BTreeMap<Action, Vec<String>> = BTreeMap::new();
        for e in &self.entries {
            out.entry(e.action).or_default().push(e.object.to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_maps() {
        let mut cs = ChangeSet::new();
        cs.add(
            ObjectRef::new("", "v1", "Namespace", "", "apps"),
            Action::Unchanged,
        );
        cs.add(
            ObjectRef::new("apps", "v1", "Deployment", "apps", "web"),
            Action::Created,
        );
        cs.add(
            ObjectRef::new("", "v1", "ConfigMap", "apps", "cfg"),
            Action::Configured,
        );
        assert_eq!(
            cs.lines(),
            [
                "Namespace/apps unchanged",
                "Deployment/apps/web created",
                "ConfigMap/apps/cfg configured"
            ]
        );
        assert_eq!(
            cs.event_text(),
            "Deployment/apps/web created\nConfigMap/apps/cfg configured"
        );
        assert_eq!(cs.to_map()["Namespace/apps"], Action::Unchanged);
        assert_eq!(
            cs.to_grouped_map()[&Action::Created],
            ["Deployment/apps/web"]
        );
        assert!(cs.has_changes());
        assert_eq!(Action::Skipped.to_string(), "skipped");
    }
}
