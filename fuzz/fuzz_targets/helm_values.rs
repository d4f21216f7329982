//! Helm's YAML reader (values files, `Chart.yaml`, `fromYaml`) and, for what it accepts,
//! the go-yaml v2 emitter behind `toYaml`: any input gives a value or an error, never a
//! panic, and what is emitted reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(values) = gitops_helm::values::read_values(text) else {
        return;
    };
    let value = gitops_helm::value::Value::from_json_map(&values);
    if let Ok(yaml) = gitops_helm::yaml::to_yaml(&value) {
        // what toYaml prints of a values map reads back as a values map
        if let Err(e) = gitops_helm::values::read_values(&yaml) {
            panic!("toYaml output {yaml:?} does not read back: {e}");
        }
    }
});
