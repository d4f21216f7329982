//! A chart whose one template is the input, rendered as `helm template` renders it (Go
//! template parse and execution with every Sprig and Helm function, output splitting and
//! manifest heads): a rendering or an error, never a panic.
#![no_main]

use gitops_helm::chart::{Chart, File};
use libfuzzer_sys::fuzz_target;

const CHART: &str = "apiVersion: v2\nname: fuzz\nversion: 0.1.0\n";
const VALUES: &str =
    "s: str\ni: 3\nf: 1.5\nl: [a, b]\nm: {x: 1, w: two}\nz: ~\nnested: {a: {b: [1, {c: d}]}}\n";

fuzz_target!(|data: &[u8]| {
    let file = |name: &str, data: &[u8]| File {
        name: name.to_string(),
        data: data.into(),
    };
    let Ok(chart) = Chart::from_files(vec![
        file("Chart.yaml", CHART.as_bytes()),
        file("values.yaml", VALUES.as_bytes()),
        file("templates/t.yaml", data),
    ]) else {
        return;
    };
    let opts = gitops_helm::RenderOptions::default();
    let _ = gitops_helm::render_chart(&chart, &Default::default(), &opts);
});
