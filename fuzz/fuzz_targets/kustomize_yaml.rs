//! kustomize's YAML reader (go-yaml v3 resolution, anchors, duplicate keys) and the
//! sigs.k8s.io/yaml emitter: any input gives documents or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(docs) = gitops_kustomize::yaml::parse_documents(text) else {
        return;
    };
    for doc in docs {
        let _ = gitops_kustomize::yaml::to_yaml(&doc.value);
    }
});
