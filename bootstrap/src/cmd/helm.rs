//! `gitops helm template NAME CHART ...`: renders a chart like `helm template`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use gitops_helm::values::{self, Values};
use gitops_helm::{Chart, Error, RenderOptions, render_chart};

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

fn user_values(a: &TemplateArgs) -> Result<Values, Error> {
    let mut base = Values::new();
    for f in &a.values {
        let text = std::fs::read_to_string(f).map_err(|e| Error::Io(f.display().to_string(), e))?;
        let v = values::read_values(&text)
            .map_err(|e| Error::Values(format!("failed to parse {}: {e}", f.display())))?;
        base = values::merge_maps(&base, &v);
    }
    for s in &a.set_json {
        values::parse_set_json(s, &mut base)?;
    }
    for s in &a.set {
        values::parse_set(s, &mut base)
            .map_err(|e| Error::Values(format!("failed parsing --set data: {e}")))?;
    }
    for s in &a.set_string {
        values::parse_set_string(s, &mut base)
            .map_err(|e| Error::Values(format!("failed parsing --set-string data: {e}")))?;
    }
    let read = |p: &str| -> Result<String, Error> {
        std::fs::read_to_string(p).map_err(|e| Error::Io(p.to_string(), e))
    };
    for s in &a.set_file {
        values::parse_set_file(s, &mut base, &read)
            .map_err(|e| Error::Values(format!("failed parsing --set-file data: {e}")))?;
    }
    Ok(base)
}

fn kube_version(v: &str) -> Result<String, Error> {
    let t = v.trim_start_matches('v');
    let parts: Vec<&str> = t.split('.').collect();
    if parts.len() < 2 || parts.iter().take(3).any(|p| p.parse::<u64>().is_err()) {
        return Err(Error::Other(format!(
            "invalid kube version '{v}': expected format 'vX.Y.Z' or 'X.Y'"
        )));
    }
    let patch = parts.get(2).copied().unwrap_or("0");
    Ok(format!("v{}.{}.{patch}", parts[0], parts[1]))
}

fn template(a: TemplateArgs) -> Result<String, Error> {
    let chart = Chart::load(&a.chart)?;
    let user = user_values(&a)?;
    let opts = RenderOptions {
        name: a.name.clone(),
        namespace: a.namespace.clone(),
        include_crds: a.include_crds,
        skip_tests: a.skip_tests,
        disable_hooks: a.no_hooks,
        kube_version: match &a.kube_version {
            Some(v) => kube_version(v)?,
            None => RenderOptions::default().kube_version,
        },
        api_versions: a.api_versions.clone(),
        ..Default::default()
    };
    let rendered = render_chart(&chart, &user, &opts)?;
    for w in &rendered.warnings {
        eprintln!("level=WARN msg={w:?}");
    }
    let out = rendered.to_template_output(&opts);
    if a.show_only.is_empty() {
        return Ok(out);
    }
    let docs = split_docs(&out);
    let mut picked = String::new();
    for f in &a.show_only {
        let f = f.replace('\\', "/");
        let mut missing = true;
        for d in &docs {
            let Some(src) = d.lines().find_map(|l| l.strip_prefix("# Source: ")) else {
                continue;
            };
            let Some((_, path)) = src.split_once('/') else {
                continue;
            };
            if gitops_helm::chart::go_match(&f, path) {
                picked.push_str(&format!("---\n{d}\n"));
                missing = false;
            }
        }
        if missing {
            return Err(Error::Other(format!(
                "could not find template {f} in chart"
            )));
        }
    }
    Ok(picked)
}

fn split_docs(s: &str) -> Vec<String> {
    let re = regex::Regex::new(r"(?:^|\s*\n)---\s*").expect("static regex");
    re.split(s.trim())
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().to_string())
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Template(a) => match template(*a) {
            Ok(out) => {
                let mut so = std::io::stdout().lock();
                so.write_all(out.as_bytes())?;
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
