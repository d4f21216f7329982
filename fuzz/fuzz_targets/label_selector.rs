//! Label selectors in both dialects (the API server's and kustomize's): a selector or an
//! error, never a panic; a parsed selector can be matched against labels.
#![no_main]

use gitops_go::selector::{Dialect, Selector};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for dialect in [Dialect::ApiServer, Dialect::Kustomize] {
        if let Ok(selector) = Selector::parse_with(text, dialect) {
            let labels = [("app", "web"), ("tier", "a"), ("x", "")];
            let _ = selector.matches(|k| labels.iter().find(|(l, _)| *l == k).map(|(_, v)| *v));
        }
    }
});
