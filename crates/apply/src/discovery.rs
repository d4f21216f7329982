//! A discovery cache shared by every clone of an [`crate::Applier`]: kind → resource
//! (plural and scope), fetched one group version at a time and refreshed when a kind is
//! unknown or after CRDs change.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Where a kind is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// API group, empty for core.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name used in URLs.
    pub plural: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
}

impl Resource {
    /// The collection URL: `/api/v1/namespaces/ns/configmaps`, `/apis/apps/v1/deployments`.
    pub fn path(&self, namespace: Option<&str>) -> String {
        let mut p = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if self.namespaced
            && let Some(ns) = namespace
        {
            p.push_str("/namespaces/");
            p.push_str(ns);
        }
        p.push('/');
        p.push_str(&self.plural);
        p
    }
}

type Kinds = Arc<HashMap<String, Resource>>;

/// Kinds per `apiVersion`.
#[derive(Debug, Default)]
pub(crate) struct DiscoveryCache {
    versions: RwLock<HashMap<String, Kinds>>,
}

impl DiscoveryCache {
    fn lookup(&self, api_version: &str, kind: &str) -> Option<Option<Resource>> {
        let map = self.versions.read().unwrap_or_else(|e| e.into_inner());
        map.get(api_version).map(|kinds| kinds.get(kind).cloned())
    }

    /// The resource serving `kind` in `api_version`; `None` when the cluster does not
    /// serve it (after a refresh of that group version).
    pub(crate) async fn resolve(
        &self,
        client: &kube::Client,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Resource>, kube::Error> {
        if let Some(Some(r)) = self.lookup(api_version, kind) {
            return Ok(Some(r));
        }
        self.refresh(client, api_version).await?;
        Ok(self.lookup(api_version, kind).flatten())
    }

    /// Fetches the resources of one group version again.
    pub(crate) async fn refresh(
        &self,
        client: &kube::Client,
        api_version: &str,
    ) -> Result<(), kube::Error> {
        let list = if api_version.contains('/') {
            client.list_api_group_resources(api_version).await
        } else {
            client.list_core_api_resources(api_version).await
        };
        let (group, version) = crate::object::split_api_version(api_version);
        let kinds: HashMap<String, Resource> = match list {
            Ok(list) => list
                .resources
                .into_iter()
                .filter(|r| !r.name.contains('/'))
                .map(|r| {
                    (
                        r.kind.clone(),
                        Resource {
                            group: group.to_owned(),
                            version: version.to_owned(),
                            kind: r.kind,
                            plural: r.name,
                            namespaced: r.namespaced,
                        },
                    )
                })
                .collect(),
            Err(e) if crate::error::code(&e) == Some(404) => HashMap::new(),
            Err(e) => return Err(e),
        };
        self.versions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(api_version.to_owned(), Arc::new(kinds));
        Ok(())
    }

    /// Forgets a group version, so the next lookup fetches it.
    pub(crate) fn invalidate(&self, api_version: &str) {
        self.versions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(api_version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let r = Resource {
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            plural: "configmaps".into(),
            namespaced: true,
        };
        assert_eq!(r.path(Some("ns")), "/api/v1/namespaces/ns/configmaps");
        let r = Resource {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            kind: "CustomResourceDefinition".into(),
            plural: "customresourcedefinitions".into(),
            namespaced: false,
        };
        assert_eq!(
            r.path(Some("ignored")),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        );
    }
}
