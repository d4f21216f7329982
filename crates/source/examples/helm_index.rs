//! Parses a large Helm repository index and prints the process's peak RSS:
//! `helm_index [MB]` writes a synthetic index of about that size (default 50) to a
//! temporary file, parses it with `gitops_source::helm::Index::parse` streaming from the
//! file, and selects a version. Used for the "50 MB index without blowing memory" figure.

use std::io::Write;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mb: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("index.yaml");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(f, "apiVersion: v1\nentries:")?;
        let mut written = 0u64;
        let mut chart = 0;
        while written < mb << 20 {
            writeln!(f, "  chart-{chart}:")?;
            for v in 0..100 {
                let entry = format!(
                    "  - apiVersion: v2\n    appVersion: \"{v}.0\"\n    created: \"2024-01-01T00:00:00Z\"\n    description: A Helm chart for Kubernetes number {chart}, with a long enough description to look real.\n    digest: {:064x}\n    home: https://example.com/charts/chart-{chart}\n    keywords:\n    - one\n    - two\n    maintainers:\n    - email: someone@example.com\n      name: Someone\n    name: chart-{chart}\n    sources:\n    - https://github.com/example/chart-{chart}\n    urls:\n    - https://example.com/charts/chart-{chart}-1.{v}.0.tgz\n    version: 1.{v}.0\n",
                    chart * 1000 + v
                );
                written += entry.len() as u64;
                f.write_all(entry.as_bytes())?;
            }
            chart += 1;
        }
        writeln!(f, "generated: \"2024-01-01T00:00:00Z\"")?;
    }
    let size = std::fs::metadata(&path)?.len();
    let before = peak_rss_mib();
    let started = std::time::Instant::now();
    let idx = gitops_source::helm::Index::parse(
        std::io::BufReader::new(std::fs::File::open(&path)?),
        "bench",
    )?;
    let elapsed = started.elapsed();
    let best = idx.select("chart-0", "^1.0.0")?;
    println!(
        "index size:       {:.1} MiB ({} charts)",
        size as f64 / 1048576.0,
        idx.entries.len()
    );
    println!("parse time:       {:.2} s", elapsed.as_secs_f64());
    println!(
        "peak RSS:         {:.1} MiB (before parsing {:.1} MiB)",
        peak_rss_mib(),
        before
    );
    println!("selected:         chart-0 {}", best.version);
    Ok(())
}
