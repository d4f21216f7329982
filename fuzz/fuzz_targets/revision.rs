//! Flux revisions (`name@algo:hex`, `algo:hex` and the legacy `<branch>/<sha1>` and bare
//! sha1 forms): a revision or an error, never a panic; a parsed revision prints as text that
//! parses back to the same revision.
#![no_main]

use gitops_api::revision::Revision;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(revision) = Revision::parse(text) {
        let printed = revision.to_string();
        let again = Revision::parse(&printed)
            .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse: {e}"));
        assert_eq!(again.to_string(), printed, "from {text:?}");
        let _ = revision.short();
    }
});
