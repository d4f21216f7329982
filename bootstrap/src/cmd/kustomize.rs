//! `gitops kustomize build DIR`.

use gitops_kustomize::{ChartRenderer, ChartRequest};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Build a kustomization directory and print the YAML stream.
    Build {
        /// The kustomization root.
        dir: PathBuf,
        /// Allow files outside the kustomization root (kustomize's LoadRestrictionsNone).
        #[arg(long = "load-restrictor", default_value = "LoadRestrictionsRootOnly")]
        load_restrictor: String,
        /// Inflate `helmCharts` with the built-in Helm engine (kustomize's `--enable-helm`;
        /// no helm binary is needed or run).
        #[arg(long = "enable-helm")]
        enable_helm: bool,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Build {
            dir,
            load_restrictor,
            enable_helm,
        } => {
            let restrictor = match load_restrictor.as_str() {
                "LoadRestrictionsRootOnly" => gitops_kustomize::LoadRestrictor::RootOnly,
                "LoadRestrictionsNone" => gitops_kustomize::LoadRestrictor::None,
                other => anyhow::bail!("unknown load restrictor {other}"),
            };
            let opts = gitops_kustomize::BuildOptions {
                load_restrictor: restrictor,
                chart_renderer: enable_helm
                    .then(|| std::sync::Arc::new(HelmRenderer) as Arc<dyn ChartRenderer>),
                ..Default::default()
            };
            let out = gitops_kustomize::build_to_string(&dir, &opts)?;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.as_bytes())?;
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Renders kustomize's `helmCharts` with the built-in Helm engine, as kustomize runs
/// `helm template` (values are written by kustomize and read back by helm, so they go through
/// the same YAML text here).
pub struct HelmRenderer;

impl ChartRenderer for HelmRenderer {
    fn render(&self, req: &ChartRequest) -> Result<String, String> {
        let chart = gitops_helm::Chart::load(&req.chart_dir).map_err(|e| e.to_string())?;
        let text = gitops_kustomize::yaml::to_yaml(&req.values).map_err(|e| e.to_string())?;
        let values = gitops_helm::values::read_values(&text).map_err(|e| e.to_string())?;
        let mut opts = gitops_helm::RenderOptions {
            name: req.release_name.clone(),
            namespace: if req.namespace.is_empty() {
                "default".into()
            } else {
                req.namespace.clone()
            },
            include_crds: req.include_crds,
            skip_tests: req.skip_tests,
            disable_hooks: req.skip_hooks,
            api_versions: req.api_versions.clone(),
            ..Default::default()
        };
        if !req.kube_version.is_empty() {
            opts.kube_version = gitops_helm::action::parse_kube_version(&req.kube_version)
                .map_err(|e| e.to_string())?;
        }
        let rendered =
            gitops_helm::render_chart(&chart, &values, &opts).map_err(|e| e.to_string())?;
        Ok(rendered.to_template_output(&opts))
    }
}
