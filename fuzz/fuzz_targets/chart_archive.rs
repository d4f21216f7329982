//! Chart loading from a `.tgz` (gzip, tar, paths, subchart archives, `Chart.yaml`, values,
//! size limits): a chart or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gitops_helm::Chart::load_archive(data);
});
