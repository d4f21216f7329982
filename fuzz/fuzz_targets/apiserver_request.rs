//! The embedded API server's request decoding (`gitops_apiserver::fuzzing`): request bodies
//! (JSON, YAML, protobuf) by `Content-Type`; JSON patch, merge patch, strategic merge patch
//! and server-side apply against a stored object with the server's limits; label and field
//! selectors. A decoded value or an error, never a panic; a JSON patch's tracked size is
//! the length of its result's encoding.
//!
//! Input: the first byte picks the operation, the next ones its parameters (content type,
//! patch type, kind, stored object); what follows is the body, for a patch
//! `[stored object JSON] 0xFF patch body`, for selectors `label 0xFF field`.
#![no_main]

use gitops_apiserver::fuzzing::{self, PatchKind};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const CONTENT_TYPES: [&str; 10] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
    "application/json; charset=utf-8",
    "text/plain",
    "",
    "application/cbor",
    "application/vnd.kubernetes.protobuf;stream=watch",
];

/// The body limit (`http::MAX_BODY`): larger bodies never reach the decoders.
const MAX_BODY: usize = 3 * 1024 * 1024;

fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[], data),
    }
}

/// A stored object with something for every patch to work on: lists with merge keys,
/// sets, maps, `managedFields`, for the kind `kind_index` picks.
fn stored(kind_index: usize) -> Vec<u8> {
    let types = fuzzing::resource_types();
    let rt = &types[kind_index % types.len()];
    let api_version = if rt.group.is_empty() {
        rt.version.clone()
    } else {
        format!("{}/{}", rt.group, rt.version)
    };
    let obj = json!({
        "apiVersion": api_version,
        "kind": rt.kind,
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "6b0e2a6e-0000-4000-8000-000000000001",
            "resourceVersion": "7",
            "generation": 2,
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"note": "x"},
            "finalizers": ["a/b"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "u1"}],
            "managedFields": [{
                "manager": "kubectl",
                "operation": "Apply",
                "apiVersion": api_version,
                "time": "2024-01-01T00:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}},
                             "f:spec": {"f:replicas": {}, "f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}}}}
            }]
        },
        "spec": {
            "replicas": 2,
            "color": "red",
            "selector": {"matchLabels": {"app": "web"}},
            "ports": [{"port": 80, "protocol": "TCP", "name": "http"}, {"port": 443, "protocol": "TCP"}],
            "tags": ["a", "b"],
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}],
                         "env": [{"name": "A", "value": "1"}], "args": ["x", "y"]},
                        {"name": "side", "image": "busybox"}
                    ],
                    "volumes": [{"name": "v", "emptyDir": {}}],
                    "tolerations": [{"key": "k", "operator": "Exists"}]
                }
            },
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
        },
        "data": {"k": "v"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    });
    serde_json::to_vec(&obj).expect("encodes")
}

fuzz_target!(|data: &[u8]| {
    let [op, a, b, c, rest @ ..] = data else {
        return;
    };
    if rest.len() > MAX_BODY {
        return;
    }
    match op % 3 {
        0 => {
            let ct = CONTENT_TYPES[usize::from(*a) % CONTENT_TYPES.len()];
            if let Ok(v) = fuzzing::decode_body(rest, ct) {
                // What was decoded can be encoded (as a reply or for the store).
                serde_json::to_vec(&v).expect("a decoded body encodes");
            }
        }
        1 => {
            let kind = [
                PatchKind::Json,
                PatchKind::Merge,
                PatchKind::Strategic,
                PatchKind::Apply,
            ][usize::from(*a) % 4];
            let kind_index = usize::from(*b);
            let (doc, body) = split(rest);
            // Mostly the prepared object; sometimes the input's.
            let doc = if *c < 200 || doc.is_empty() {
                stored(kind_index)
            } else {
                doc.to_vec()
            };
            if let Ok(p) = fuzzing::apply_patch(kind, kind_index, &doc, body)
                && let Some(tracked) = p.tracked_bytes
            {
                let real = serde_json::to_vec(&p.object).expect("encodes").len();
                assert_eq!(tracked, real, "JSON patch tracked size vs encoding");
            }
        }
        _ => {
            let (label, field) = split(rest);
            let (Ok(label), Ok(field)) = (std::str::from_utf8(label), std::str::from_utf8(field))
            else {
                return;
            };
            let obj: Value = serde_json::from_slice(&stored(usize::from(*a))).expect("decodes");
            let _ = fuzzing::selectors(label, field, usize::from(*a), &obj);
            let _ = c;
        }
    }
});
