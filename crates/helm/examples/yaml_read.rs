//! Reading speed of Helm's YAML reader (values files, `Chart.yaml`, manifest heads):
//! `cargo run --release -p gitops-helm --example yaml_read -- FILE...` reads every file five
//! times and prints the best pass's throughput.

fn main() {
    let texts: Vec<String> = std::env::args()
        .skip(1)
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let total: usize = texts.iter().map(String::len).sum();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t0 = std::time::Instant::now();
        for t in &texts {
            let _ = std::hint::black_box(gitops_helm::yaml::parse(t));
        }
        best = best.min(t0.elapsed().as_secs_f64());
    }
    println!(
        "{} files, {:.1} MB, best of 5: {:.1} ms, {:.0} MB/s",
        texts.len(),
        total as f64 / 1e6,
        best * 1e3,
        total as f64 / 1e6 / best
    );
}
