//! Who is asking, and may they: authentication (the server's admin token, service account
//! tokens, client certificates), impersonation, and RBAC authorization with Kubernetes'
//! rules — bootstrap roles, aggregated ClusterRoles, escalation checks — plus the access
//! reviews (`kubectl auth can-i`, `kubectl auth whoami`) and the TokenRequest API.

mod authn;
mod bootstrap;
pub(crate) mod rbac;
mod review;

pub use authn::{Authenticator, cert_identity, impersonate};
pub use bootstrap::initial_objects;
pub use rbac::{aggregated_rules, authorize, check_escalation};
pub use review::{review, token_request};

use crate::error::ApiError;
use crate::store::{self, Obj, Store, Tx};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The group whose members may do anything, without RBAC (as Kubernetes' privileged group).
pub const SYSTEM_MASTERS: &str = "system:masters";
/// The group of every authenticated user.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The group of anonymous requests.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The RBAC API group.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Read access to stored objects: the store itself, or a write transaction's view of it.
pub trait Objects {
    /// The object at a storage key.
    fn object(&self, key: &str) -> Option<Arc<Obj>>;
    /// The objects under a key prefix, in key order.
    fn objects(&self, prefix: &str) -> Vec<Arc<Obj>>;
}

impl Objects for Store {
    fn object(&self, key: &str) -> Option<Arc<Obj>> {
        self.get(key)
    }

    fn objects(&self, prefix: &str) -> Vec<Arc<Obj>> {
        self.list(prefix).1.into_iter().map(|(_, o)| o).collect()
    }
}

impl Objects for Tx<'_> {
    fn object(&self, key: &str) -> Option<Arc<Obj>> {
        self.get(key)
    }

    fn objects(&self, prefix: &str) -> Vec<Arc<Obj>> {
        self.keys(prefix)
            .iter()
            .filter_map(|k| self.get(k))
            .collect()
    }
}

/// The storage key of an object of a group's resource (`ns` empty when cluster-scoped).
fn key(group: &str, plural: &str, ns: &str, name: &str) -> String {
    store::key(&format!("{group}/{plural}"), ns, name)
}

/// An authenticated identity, as Kubernetes' `user.Info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    /// User name (`system:serviceaccount:<ns>:<name>` for service accounts).
    pub name: String,
    /// Unique id, when the authenticator knows one.
    pub uid: String,
    /// Groups.
    pub groups: Vec<String>,
    /// Extra attributes.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl User {
    /// Whether the user bypasses RBAC (member of `system:masters`).
    pub fn is_privileged(&self) -> bool {
        self.groups.iter().any(|g| g == SYSTEM_MASTERS)
    }

    /// The service account identity `system:serviceaccount:<ns>:<name>` with its groups.
    pub fn service_account(ns: &str, name: &str, uid: &str) -> User {
        User {
            name: service_account_user(ns, name),
            uid: uid.to_owned(),
            groups: service_account_groups(ns),
            extra: BTreeMap::new(),
        }
    }

    /// As an `authentication.k8s.io/v1` `UserInfo`.
    pub fn to_user_info(&self) -> Value {
        let mut m = Map::new();
        m.insert("username".into(), json!(self.name));
        if !self.uid.is_empty() {
            m.insert("uid".into(), json!(self.uid));
        }
        if !self.groups.is_empty() {
            m.insert("groups".into(), json!(self.groups));
        }
        if !self.extra.is_empty() {
            m.insert("extra".into(), json!(self.extra));
        }
        Value::Object(m)
    }
}

/// `system:serviceaccount:<ns>:<name>`.
pub fn service_account_user(ns: &str, name: &str) -> String {
    format!("system:serviceaccount:{ns}:{name}")
}

/// The namespace and name of a service account user name.
pub fn parse_service_account_user(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
}

/// The groups every service account of a namespace is in.
fn service_account_groups(ns: &str) -> Vec<String> {
    vec![
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{ns}"),
        AUTHENTICATED.to_owned(),
    ]
}

/// What a request asks to do, as Kubernetes' `authorizer.Attributes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`,
    /// or a special verb (`impersonate`, `bind`, `escalate`).
    pub verb: String,
    /// The resource addressed; `None` for a non-resource path.
    pub resource: Option<ResourceAttributes>,
    /// The URL path of a non-resource request.
    pub path: String,
}

/// The resource part of [`Attributes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceAttributes {
    /// API group (empty: core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Resource (plural).
    pub resource: String,
    /// Subresource, empty for the object itself.
    pub subresource: String,
    /// Namespace, empty for cluster scope.
    pub namespace: String,
    /// Object name, empty when the request names none.
    pub name: String,
}

impl Attributes {
    /// A resource request.
    pub fn resource(
        verb: &str,
        group: &str,
        resource: &str,
        subresource: &str,
        namespace: &str,
        name: &str,
    ) -> Attributes {
        Attributes {
            verb: verb.to_owned(),
            resource: Some(ResourceAttributes {
                group: group.to_owned(),
                version: String::new(),
                resource: resource.to_owned(),
                subresource: subresource.to_owned(),
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            }),
            path: String::new(),
        }
    }

    /// A non-resource request.
    pub fn non_resource(verb: &str, path: &str) -> Attributes {
        Attributes {
            verb: verb.to_owned(),
            resource: None,
            path: path.to_owned(),
        }
    }

    /// The namespace addressed ("" when cluster-scoped or non-resource).
    pub fn namespace(&self) -> &str {
        self.resource
            .as_ref()
            .map(|r| r.namespace.as_str())
            .unwrap_or("")
    }
}

/// The 403 the real server gives for a request RBAC refuses, with its message
/// (`configmaps "x" is forbidden: User "u" cannot get resource "configmaps" in API group ""
/// in the namespace "n"`) and details.
pub fn forbidden(user: &User, a: &Attributes, reason: &str) -> ApiError {
    let why = match &a.resource {
        None => format!("User {:?} cannot {} path {:?}", user.name, a.verb, a.path),
        Some(r) => {
            let resource = if r.subresource.is_empty() {
                r.resource.clone()
            } else {
                format!("{}/{}", r.resource, r.subresource)
            };
            if r.namespace.is_empty() {
                format!(
                    "User {:?} cannot {} resource {:?} in API group {:?} at the cluster scope",
                    user.name, a.verb, resource, r.group
                )
            } else {
                format!(
                    "User {:?} cannot {} resource {:?} in API group {:?} in the namespace {:?}",
                    user.name, a.verb, resource, r.group, r.namespace
                )
            }
        }
    };
    let why = if reason.is_empty() {
        why
    } else {
        format!("{why}: {reason}")
    };
    match &a.resource {
        None => ApiError::forbidden_object("", "", "", &why),
        Some(r) => ApiError::forbidden_object(&r.group, &r.resource, &r.name, &why),
    }
}

/// Authorizes a request: `Ok` when allowed, else the 403 naming the user and the request.
pub fn require(objs: &impl Objects, user: &User, a: &Attributes) -> Result<(), ApiError> {
    let d = authorize(objs, user, a);
    if d.allowed {
        Ok(())
    } else {
        Err(forbidden(user, a, &d.reason))
    }
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// The strings of a JSON array field (missing or mistyped: none).
fn strings(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_messages_are_kubernetes_words() {
        let u = User::service_account("a", "sa", "");
        let e = forbidden(
            &u,
            &Attributes::resource("get", "", "configmaps", "", "b", "x"),
            "",
        );
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "configmaps \"x\" is forbidden: User \"system:serviceaccount:a:sa\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"b\""
        );
        let e = forbidden(
            &u,
            &Attributes::resource("create", "apps", "deployments", "scale", "", ""),
            "RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found",
        );
        assert_eq!(
            e.message,
            "deployments.apps is forbidden: User \"system:serviceaccount:a:sa\" cannot create resource \"deployments/scale\" in API group \"apps\" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found"
        );
        let e = forbidden(&u, &Attributes::non_resource("get", "/metrics"), "");
        assert_eq!(
            e.message,
            "forbidden: User \"system:serviceaccount:a:sa\" cannot get path \"/metrics\""
        );
    }

    #[test]
    fn service_account_user_names() {
        assert_eq!(
            parse_service_account_user("system:serviceaccount:ns:sa"),
            Some(("ns", "sa"))
        );
        assert_eq!(parse_service_account_user("system:serviceaccount:ns"), None);
        assert_eq!(parse_service_account_user("alice"), None);
        assert_eq!(
            go_quoted_list(&["a".into(), "b c".into()]),
            "[\"a\" \"b c\"]"
        );
    }
}
