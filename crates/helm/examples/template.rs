//! `helm template` reduced to what the conformance corpus passes (`NAME CHART --namespace
//! NS [-f VALUES]...`), rendering as the CLI does (`one_shot`, the same malloc settings),
//! for measuring the engine without building the whole `gitops` binary:
//! `cargo build --release -p gitops-helm --example template`, then
//! `conformance.py helm --cmd target/release/examples/template`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // as `gitops` sets it for its engine commands
    // SAFETY: mallopt only sets glibc allocator parameters; no other thread exists yet.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
    }
    let mut args = std::env::args().skip(1);
    let mut req = gitops_helm::TemplateRequest {
        one_shot: true,
        ..Default::default()
    };
    let mut positional = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--namespace" | "-n" => req.namespace = args.next().unwrap_or_default(),
            "-f" | "--values" => req.value_files.extend(args.next().map(Into::into)),
            _ => positional.push(a),
        }
    }
    let [name, chart] = positional.as_slice() else {
        eprintln!("usage: template NAME CHART [--namespace NS] [-f VALUES]...");
        return ExitCode::from(2);
    };
    req.name = name.clone();
    req.chart = chart.into();
    match gitops_helm::helm_template(&req) {
        Ok(out) => {
            print!("{}", out.stdout);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}
