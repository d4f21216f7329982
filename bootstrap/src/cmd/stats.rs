//! `gitops stats`: per Flux kind, how many objects run, fail (Ready=False) and are
//! suspended, and the size of their artifacts, as `flux stats` prints it.

use crate::cli::table::render;
use crate::cli::{FluxKind, Global, kinds, object};
use kube::api::ListParams;
use std::io::Write;
use std::process::ExitCode;

/// `gitops stats`.
#[derive(clap::Args)]
pub struct Args {
    /// List the requested object(s) across all namespaces.
    #[arg(long, short = 'A')]
    all_namespaces: bool,
    #[command(flatten)]
    global: Global,
}

/// The kinds, in Flux's order.
const KINDS: &[FluxKind] = &[
    kinds::GIT_REPOSITORY,
    kinds::OCI_REPOSITORY,
    kinds::HELM_REPOSITORY,
    kinds::HELM_CHART,
    kinds::BUCKET,
    kinds::KUSTOMIZATION,
    kinds::HELM_RELEASE,
    kinds::ALERT,
    kinds::ALERT_PROVIDER,
    kinds::RECEIVER,
    kinds::IMAGE_UPDATE_AUTOMATION,
    kinds::IMAGE_POLICY,
    kinds::IMAGE_REPOSITORY,
];

/// Bytes as Flux prints them: `-`, `512 B`, `1.5 KiB`, `2.0 MiB`.
pub fn format_size(b: i64) -> String {
    if b == 0 {
        return "-".into();
    }
    const UNIT: i64 = 1024;
    if b < UNIT {
        return format!("{b} B");
    }
    let (mut div, mut exp) = (UNIT, 0usize);
    let mut n = b / UNIT;
    while n >= UNIT {
        div *= UNIT;
        exp += 1;
        n /= UNIT;
    }
    format!("{:.1} {}iB", b as f64 / div as f64, &"KMGTPE"[exp..exp + 1])
}

/// Runs `gitops stats`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let global = &args.global;
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let ns = (!args.all_namespaces).then_some(global.namespace.as_str());
        let mut rows = Vec::new();
        for kind in KINDS {
            let (mut total, mut suspended, mut failing, mut size) = (0usize, 0usize, 0usize, 0i64);
            if let Ok(list) = kind.api(&client, ns).list(&ListParams::default()).await {
                total = list.items.len();
                for item in &list.items {
                    let v = object::to_value(item)?;
                    if object::suspended(&v) {
                        suspended += 1;
                    }
                    if object::ready(&v).is_some_and(|(s, _, _)| s == "False") {
                        failing += 1;
                    }
                    size += v["status"]["artifact"]["size"].as_i64().unwrap_or(0);
                }
            }
            rows.push(vec![
                kind.kind().to_owned(),
                (total - suspended).to_string(),
                failing.to_string(),
                suspended.to_string(),
                format_size(size),
            ]);
        }
        let header = ["Reconcilers", "Running", "Failing", "Suspended", "Storage"];
        std::io::stdout().write_all(render(&header, &rows).as_bytes())?;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::format_size(0), "-");
        assert_eq!(super::format_size(512), "512 B");
        assert_eq!(super::format_size(1536), "1.5 KiB");
        assert_eq!(super::format_size(3 * 1024 * 1024), "3.0 MiB");
    }
}
