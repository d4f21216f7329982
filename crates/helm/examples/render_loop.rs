//! Renders one chart N times in one process and prints the time per render, to separate
//! the engine's cost from process start-up:
//! `cargo run --release -p gitops-helm --example render_loop -- CHART [VALUES] [N]`.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let chart = args.get(1).expect("CHART");
    let values = args.get(2).filter(|v| !v.is_empty() && *v != "-");
    let n: u32 = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(50);
    let req = gitops_helm::TemplateRequest {
        name: "rel".into(),
        chart: chart.into(),
        namespace: "ns1".into(),
        value_files: values.into_iter().map(Into::into).collect(),
        set: vec![],
        set_string: vec![],
        set_file: vec![],
        set_json: vec![],
        include_crds: false,
        skip_tests: false,
        no_hooks: false,
        kube_version: None,
        api_versions: vec![],
        show_only: vec![],
        one_shot: false,
    };
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        match gitops_helm::helm_template(&req) {
            Ok(out) => bytes = out.stdout.len(),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
    let per = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
    println!("{per:.2} ms per render ({bytes} bytes)");
}
