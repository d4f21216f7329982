//! OpenAPI documents: enough for clients to find the kinds, the operations and their
//! query parameters (kubectl checks that `dryRun` and `fieldValidation` are supported),
//! and the schemas of custom resources.

use crate::registry::{Registry, ResourceType};
use serde_json::{Map, Value, json};

fn gv_path(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        format!("api/{}", rt.version)
    } else {
        format!("apis/{}/{}", rt.group, rt.version)
    }
}

/// The schema-component name Kubernetes uses: reversed group, version, kind.
fn component_name(rt: &ResourceType) -> String {
    let group = if rt.group.is_empty() {
        "io.k8s.api.core".to_owned()
    } else {
        rt.group.split('.').rev().collect::<Vec<_>>().join(".")
    };
    format!("{group}.{}.{}", rt.version, rt.kind)
}

fn schema_of(rt: &ResourceType, crd_schema: Option<&Value>) -> Value {
    let gvk = json!([{"group": rt.group, "version": rt.version, "kind": rt.kind}]);
    let mut s = match crd_schema {
        Some(s) => s.clone(),
        None => json!({
            "type": "object",
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}},
            "x-kubernetes-preserve-unknown-fields": true,
        }),
    };
    s["x-kubernetes-group-version-kind"] = gvk;
    s
}

fn param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": true})
}

fn operation(rt: &ResourceType, action: &str, params: &[&str]) -> Value {
    json!({
        "operationId": format!("{action}{}", rt.kind),
        "parameters": params.iter().map(|p| param(p)).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
    })
}

const WRITE: [&str; 3] = ["dryRun", "fieldManager", "fieldValidation"];
const PATCH: [&str; 4] = ["dryRun", "fieldManager", "fieldValidation", "force"];
const LIST: [&str; 8] = [
    "labelSelector",
    "fieldSelector",
    "limit",
    "continue",
    "resourceVersion",
    "resourceVersionMatch",
    "timeoutSeconds",
    "watch",
];

fn paths_of(rt: &ResourceType) -> Map<String, Value> {
    let base = format!("/{}", gv_path(rt));
    let collection = if rt.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", rt.plural)
    } else {
        format!("{base}/{}", rt.plural)
    };
    let mut paths = Map::new();
    paths.insert(
        collection.clone(),
        json!({
            "get": operation(rt, "list", &LIST),
            "post": operation(rt, "post", &WRITE),
            "delete": operation(rt, "deletecollection", &["dryRun", "propagationPolicy"]),
        }),
    );
    paths.insert(
        format!("{collection}/{{name}}"),
        json!({
            "get": operation(rt, "get", &[]),
            "put": operation(rt, "put", &WRITE),
            "patch": operation(rt, "patch", &PATCH),
            "delete": operation(rt, "delete", &["dryRun", "propagationPolicy", "gracePeriodSeconds"]),
        }),
    );
    if rt.status {
        paths.insert(
            format!("{collection}/{{name}}/status"),
            json!({"get": operation(rt, "get", &[]), "put": operation(rt, "put", &WRITE), "patch": operation(rt, "patch", &PATCH)}),
        );
    }
    paths
}

fn crd_schema(rt: &ResourceType, registry: &Registry) -> Option<Value> {
    // Schemas of custom resources are kept parsed; the raw form is not needed to serve
    // them, so describe the top-level shape.
    let _ = registry;
    rt.schema.as_ref().map(|s| {
        let props: Map<String, Value> = s
            .properties
            .keys()
            .map(|k| (k.clone(), json!({"type": s.properties[k].type_.clone().unwrap_or_else(|| "object".into())})))
            .collect();
        json!({"type": "object", "properties": props, "x-kubernetes-preserve-unknown-fields": true})
    })
}

/// `/openapi/v3`: the group-version documents.
pub fn v3_index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for rt in registry.all() {
        let p = gv_path(rt);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=0")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/<api/v1 | apis/group/version>`.
pub fn v3_group(registry: &Registry, gv: &str) -> Option<Value> {
    let types: Vec<_> = registry.all().iter().filter(|t| gv_path(t) == gv).collect();
    if types.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for rt in types {
        paths.extend(paths_of(rt));
        schemas.insert(
            component_name(rt),
            schema_of(rt, crd_schema(rt, registry).as_ref()),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// `/openapi/v2`: definitions of every kind.
pub fn v2(registry: &Registry) -> Value {
    let mut definitions = Map::new();
    let mut paths = Map::new();
    for rt in registry.all() {
        definitions.insert(
            component_name(rt),
            schema_of(rt, crd_schema(rt, registry).as_ref()),
        );
        paths.extend(paths_of(rt));
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": paths,
        "definitions": definitions,
    })
}
