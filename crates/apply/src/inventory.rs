//! Flux's inventory: `status.inventory` of a Kustomization.

use crate::ApplyError;
use crate::changeset::ChangeSet;
use crate::object::ObjectRef;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// One inventory entry: `{"id": "<namespace>_<name>_<group>_<Kind>", "v": "<version>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InventoryEntry {
    /// `<namespace>_<name>_<group>_<Kind>`.
    pub id: String,
    /// The API version the object was applied with.
    #[serde(rename = "v")]
    pub version: String,
}

impl InventoryEntry {
    /// The entry of an object.
    pub fn of(object: &ObjectRef) -> InventoryEntry {
        InventoryEntry {
            id: object.inventory_id(),
            version: object.version.clone(),
        }
    }

    /// The object the entry names.
    pub fn object(&self) -> Result<ObjectRef, ApplyError> {
        ObjectRef::parse_inventory_id(&self.id, &self.version)
    }
}

/// The objects applied together, serde-compatible with Flux's `status.inventory`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The entries, in apply order.
    #[serde(default)]
    pub entries: Vec<InventoryEntry>,
}

impl Inventory {
    /// The inventory of every object of a change set (all actions, as Flux records them),
    /// in the change set's order (stage by stage, Flux's kind order within a stage).
    /// Deleted objects are left out.
    pub fn from_change_set(set: &ChangeSet) -> Inventory {
        let mut seen = HashSet::new();
        let entries = set
            .entries
            .iter()
            .filter(|e| e.action != crate::Action::Deleted)
            .map(|e| InventoryEntry::of(&e.object))
            .filter(|e| seen.insert(e.id.clone()))
            .collect();
        Inventory { entries }
    }

    /// The inventory of these objects, in the order given.
    pub fn from_refs<'a>(refs: impl IntoIterator<Item = &'a ObjectRef>) -> Inventory {
        let mut seen = HashSet::new();
        Inventory {
            entries: refs
                .into_iter()
                .map(InventoryEntry::of)
                .filter(|e| seen.insert(e.id.clone()))
                .collect(),
        }
    }

    /// The objects of the inventory.
    pub fn refs(&self) -> Result<Vec<ObjectRef>, ApplyError> {
        self.entries.iter().map(InventoryEntry::object).collect()
    }

    /// Whether an object is in the inventory (by id, whatever the version).
    pub fn contains(&self, object: &ObjectRef) -> bool {
        let id = object.inventory_id();
        self.entries.iter().any(|e| e.id == id)
    }

    /// The objects of `self` that `newer` no longer holds (compared by id, so a version
    /// change is not staleness). Entries with unparsable ids are skipped.
    pub fn stale(&self, newer: &Inventory) -> Vec<ObjectRef> {
        let keep: HashSet<&str> = newer.entries.iter().map(|e| e.id.as_str()).collect();
        self.entries
            .iter()
            .filter(|e| !keep.contains(e.id.as_str()))
            .filter_map(|e| e.object().ok())
            .collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Action;
    use serde_json::json;

    #[test]
    fn serde_like_flux() {
        let v = json!({"entries": [
            {"id": "default_app_apps_Deployment", "v": "v1"},
            {"id": "_apps__Namespace", "v": "v1"}
        ]});
        let inv: Inventory = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&inv).unwrap(), v);
        let refs = inv.refs().unwrap();
        assert_eq!(refs[0].to_string(), "Deployment/default/app");
        assert_eq!(refs[1].group, "");
        let empty: Inventory = serde_json::from_value(json!({})).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn stale_objects() {
        let a = ObjectRef::new("apps", "v1", "Deployment", "default", "a");
        let b = ObjectRef::new("", "v1", "ConfigMap", "default", "b");
        let mut c_old = ObjectRef::new("example.com", "v1beta1", "Widget", "default", "c");
        let old = Inventory::from_refs([&a, &b, &c_old]);
        c_old.version = "v1".into();
        let mut cs = ChangeSet::new();
        cs.add(a.clone(), Action::Unchanged);
        cs.add(c_old.clone(), Action::Configured);
        cs.add(a.clone(), Action::Unchanged);
        let new = Inventory::from_change_set(&cs);
        assert_eq!(new.len(), 2);
        assert_eq!(old.stale(&new), vec![b]);
        assert!(new.contains(&a));
    }
}
