//! CustomResourceDefinitions generated from the Rust types.
//!
//! Every kind is declared with [`flux_kind!`](crate::flux_kind), which writes the root
//! struct (`metadata`, `spec`, `status`), its Kubernetes trait impls and a [`KindInfo`]
//! with the names, scope, subresources and printer columns; [`FluxKind::crd`] turns that
//! and the schemas of the spec and status types into a `CustomResourceDefinition`.

use crate::schema::structural_schema_for;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// An `additionalPrinterColumns` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Column header.
    pub name: &'static str,
    /// OpenAPI type: `string`, `date`, `integer` …
    pub type_: &'static str,
    /// JSONPath into the object.
    pub json_path: &'static str,
    /// 0 for the default view, 1 for `-o wide` only.
    pub priority: i32,
}

/// Static facts about a kind: API group and version, names, scope, subresources, columns.
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// API group, e.g. `source.toolkit.fluxcd.io`.
    pub group: &'static str,
    /// API version, e.g. `v1`.
    pub version: &'static str,
    /// Kind, e.g. `GitRepository`.
    pub kind: &'static str,
    /// Plural resource name, e.g. `gitrepositories`.
    pub plural: &'static str,
    /// Singular resource name, e.g. `gitrepository`.
    pub singular: &'static str,
    /// Short names for kubectl, e.g. `gitrepo`.
    pub short_names: &'static [&'static str],
    /// Categories for `kubectl get <category>`.
    pub categories: &'static [&'static str],
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether `/status` is a subresource.
    pub status_subresource: bool,
    /// `kubectl get` columns.
    pub printer_columns: &'static [PrinterColumn],
    /// Root schema description.
    pub description: &'static str,
}

impl KindInfo {
    /// `group/version`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// The CRD's name, `plural.group`.
    pub fn crd_name(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }
}

/// A Flux custom resource kind with a generated CRD.
pub trait FluxKind:
    k8s_openapi::Resource + k8s_openapi::Metadata + Serialize + DeserializeOwned + Clone
{
    /// Names, scope, subresources and columns.
    const INFO: KindInfo;
    /// The structural schema of `.spec`.
    fn spec_schema() -> Value;
    /// The structural schema of `.status`, if the kind has one.
    fn status_schema() -> Option<Value>;

    /// The CustomResourceDefinition for this kind.
    fn crd() -> CustomResourceDefinition {
        build_crd(&Self::INFO, Self::spec_schema(), Self::status_schema())
    }
}

/// Schema of a spec or status type.
pub fn schema_of<T: JsonSchema>() -> Value {
    structural_schema_for::<T>()
}

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this \
representation of an object. Servers should convert recognized schemas to the latest internal \
value, and may reject unrecognized values. More info: \
https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";

const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this \
object represents. Servers may infer this from the endpoint the client submits requests to. \
Cannot be updated. In CamelCase. More info: \
https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// Builds a CRD from a kind's facts and the schemas of its spec and status.
pub fn build_crd(info: &KindInfo, spec: Value, status: Option<Value>) -> CustomResourceDefinition {
    let mut properties = Map::new();
    properties.insert(
        "apiVersion".into(),
        json!({"description": API_VERSION_DESCRIPTION, "type": "string"}),
    );
    properties.insert(
        "kind".into(),
        json!({"description": KIND_DESCRIPTION, "type": "string"}),
    );
    properties.insert("metadata".into(), json!({"type": "object"}));
    properties.insert("spec".into(), spec);
    if let Some(status) = status {
        properties.insert("status".into(), status);
    }
    let columns: Vec<Value> = info
        .printer_columns
        .iter()
        .map(|c| {
            let mut col = json!({"jsonPath": c.json_path, "name": c.name, "type": c.type_});
            if c.priority != 0 {
                col["priority"] = json!(c.priority);
            }
            col
        })
        .collect();
    let mut version = json!({
        "name": info.version,
        "served": true,
        "storage": true,
        "schema": {"openAPIV3Schema": {
            "description": info.description,
            "type": "object",
            "properties": properties,
        }},
        "additionalPrinterColumns": columns,
    });
    version["subresources"] = if info.status_subresource {
        json!({"status": {}})
    } else {
        json!({})
    };
    let mut names = json!({
        "kind": info.kind,
        "listKind": format!("{}List", info.kind),
        "plural": info.plural,
        "singular": info.singular,
        "categories": info.categories,
    });
    if !info.short_names.is_empty() {
        names["shortNames"] = json!(info.short_names);
    }
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": info.crd_name(),
            "annotations": {
                // CRD descriptions hold `${...}` examples; Flux's post-build substitution
                // must leave them alone when the CRDs are applied by a Kustomization.
                crate::annotations::SUBSTITUTE: crate::annotations::DISABLED,
            },
        },
        "spec": {
            "group": info.group,
            "names": names,
            "scope": if info.namespaced { "Namespaced" } else { "Cluster" },
            "versions": [version],
        },
    });
    // The value is built above from well-formed parts; a failure here is a bug in this
    // crate's schema generation, caught by the CRD tests.
    serde_json::from_value(crd).expect("generated CRD matches the apiextensions/v1 types")
}

/// Declares a Flux kind: the root struct with `metadata`, `spec` and (optionally)
/// `status`, its Kubernetes trait impls, serde impls that write `apiVersion` and `kind`,
/// and its [`FluxKind`] impl.
#[macro_export]
macro_rules! flux_kind {
    (
        $(#[$attr:meta])*
        kind $kind:ident {
            group: $group:literal,
            version: $version:literal,
            plural: $plural:literal,
            singular: $singular:literal,
            short_names: [$($short:literal),* $(,)?],
            categories: [$($cat:literal),* $(,)?],
            description: $description:literal,
            spec: $spec:ty,
            $(status: $status:ty,)?
            status_subresource: $subresource:literal,
            printer_columns: [$({ $cname:literal, $ctype:literal, $cpath:literal $(, $cprio:literal)? }),* $(,)?] $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $kind {
            /// Standard object metadata.
            pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            /// The desired state.
            pub spec: $spec,
            $(
            /// The observed state, written by the controller.
            pub status: Option<$status>,
            )?
        }

        impl $kind {
            /// A new object with a name and a spec.
            #[allow(clippy::needless_update)]
            pub fn new(name: &str, spec: $spec) -> Self {
                $kind {
                    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                        name: Some(name.to_owned()),
                        ..Default::default()
                    },
                    spec,
                    ..Default::default()
                }
            }
        }

        impl k8s_openapi::Resource for $kind {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = stringify!($kind);
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::NamespaceResourceScope;
        }

        impl k8s_openapi::ListableResource for $kind {
            const LIST_KIND: &'static str = concat!(stringify!($kind), "List");
        }

        impl k8s_openapi::Metadata for $kind {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl serde::Serialize for $kind {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let mut s = serializer.serialize_struct(stringify!($kind), 5)?;
                s.serialize_field("apiVersion", <Self as k8s_openapi::Resource>::API_VERSION)?;
                s.serialize_field("kind", <Self as k8s_openapi::Resource>::KIND)?;
                s.serialize_field("metadata", &self.metadata)?;
                s.serialize_field("spec", &self.spec)?;
                $(
                let _: Option<&$status> = self.status.as_ref();
                if let Some(status) = &self.status {
                    s.serialize_field("status", status)?;
                }
                )?
                s.end()
            }
        }

        impl<'de> serde::Deserialize<'de> for $kind {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                #[derive(serde::Deserialize)]
                struct Raw {
                    #[serde(rename = "apiVersion", default)]
                    api_version: Option<String>,
                    #[serde(default)]
                    kind: Option<String>,
                    #[serde(default)]
                    metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                    #[serde(default)]
                    spec: $spec,
                    $(
                    #[serde(default)]
                    status: Option<$status>,
                    )?
                }
                let raw = Raw::deserialize(deserializer)?;
                $crate::crd::check_type_meta::<D::Error>(
                    raw.api_version.as_deref(),
                    raw.kind.as_deref(),
                    $group,
                    $version,
                    stringify!($kind),
                )?;
                Ok($kind {
                    metadata: raw.metadata,
                    spec: raw.spec,
                    $(status: { let s: Option<$status> = raw.status; s },)?
                })
            }
        }

        impl $crate::crd::FluxKind for $kind {
            const INFO: $crate::crd::KindInfo = $crate::crd::KindInfo {
                group: $group,
                version: $version,
                kind: stringify!($kind),
                plural: $plural,
                singular: $singular,
                short_names: &[$($short),*],
                categories: &[$($cat),*],
                namespaced: true,
                status_subresource: $subresource,
                printer_columns: &[$($crate::crd::PrinterColumn {
                    name: $cname,
                    type_: $ctype,
                    json_path: $cpath,
                    priority: $crate::flux_kind!(@prio $($cprio)?),
                }),*],
                description: $description,
            };
            fn spec_schema() -> serde_json::Value {
                $crate::crd::schema_of::<$spec>()
            }
            fn status_schema() -> Option<serde_json::Value> {
                $crate::flux_kind!(@status_schema $($status)?)
            }
        }
    };
    (@status_schema) => { None };
    (@status_schema $status:ty) => { Some($crate::crd::schema_of::<$status>()) };
    (@prio) => { 0 };
    (@prio $p:literal) => { $p };
}

/// Checks `apiVersion` and `kind` of a document being read into a typed object. Absent
/// values are accepted (some tools omit them); present ones must match.
#[doc(hidden)]
pub fn check_type_meta<E: serde::de::Error>(
    api_version: Option<&str>,
    kind: Option<&str>,
    group: &str,
    version: &str,
    expected_kind: &str,
) -> Result<(), E> {
    if let Some(k) = kind
        && k != expected_kind
    {
        return Err(E::custom(format!(
            "expected kind {expected_kind}, found {k}"
        )));
    }
    if let Some(av) = api_version {
        let (g, v) = av.split_once('/').unwrap_or(("", av));
        if g != group || v != version {
            return Err(E::custom(format!(
                "{expected_kind}: expected apiVersion {group}/{version}, found {av}"
            )));
        }
    }
    Ok(())
}
