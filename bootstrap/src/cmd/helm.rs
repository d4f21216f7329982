//! `gitops helm template NAME CHART ...`: renders a chart like `helm template`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use gitops_helm::{Error, TemplateRequest, helm_template};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Render a chart's templates locally and print them.
    Template(Box<TemplateArgs>),
}

#[derive(clap::Args)]
struct TemplateArgs {
    /// Release name.
    name: String,
    /// Chart directory or archive.
    chart: PathBuf,
    /// Release namespace.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// Values files (later files win).
    #[arg(short = 'f', long = "values")]
    values: Vec<PathBuf>,
    /// Set values (`a.b=c,d=e`).
    #[arg(long = "set")]
    set: Vec<String>,
    /// Set string values.
    #[arg(long = "set-string")]
    set_string: Vec<String>,
    /// Set values from files (`key=path`).
    #[arg(long = "set-file")]
    set_file: Vec<String>,
    /// Set JSON values (`key=json`).
    #[arg(long = "set-json")]
    set_json: Vec<String>,
    /// Include CRDs from `crds/` in the output.
    #[arg(long = "include-crds")]
    include_crds: bool,
    /// Do not print test hooks.
    #[arg(long = "skip-tests")]
    skip_tests: bool,
    /// Do not print hooks.
    #[arg(long = "no-hooks")]
    no_hooks: bool,
    /// Kubernetes version for `.Capabilities.KubeVersion`.
    #[arg(long = "kube-version")]
    kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions`.
    #[arg(short = 'a', long = "api-versions")]
    api_versions: Vec<String>,
    /// Only print manifests rendered from these templates (globs allowed).
    #[arg(short = 's', long = "show-only")]
    show_only: Vec<String>,
}

fn request(a: TemplateArgs) -> TemplateRequest {
    TemplateRequest {
        name: a.name,
        chart: a.chart,
        namespace: a.namespace,
        value_files: a.values,
        set: a.set,
        set_string: a.set_string,
        set_file: a.set_file,
        set_json: a.set_json,
        include_crds: a.include_crds,
        skip_tests: a.skip_tests,
        no_hooks: a.no_hooks,
        kube_version: a.kube_version,
        api_versions: a.api_versions,
        show_only: a.show_only,
        // the command prints and exits
        one_shot: true,
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Template(a) => match helm_template(&request(*a)) {
            Ok(out) => {
                for w in &out.warnings {
                    eprintln!("level=WARN msg={w:?}");
                }
                let mut so = std::io::stdout().lock();
                so.write_all(out.stdout.as_bytes())?;
                so.flush()?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                match &e {
                    Error::ReleaseName(m) => {
                        eprintln!("level=ERROR msg=\"release name check failed\" error={m:?}");
                        eprintln!("Error: {e}");
                    }
                    Error::Render(_) | Error::Manifest(..) | Error::Parse { .. } => {
                        eprintln!("Error: {e}\n\nUse --debug flag to render out invalid YAML");
                    }
                    _ => eprintln!("Error: {e}"),
                }
                Ok(ExitCode::FAILURE)
            }
        },
    }
}
