//! `gitops build kustomization NAME --path DIR`: the manifests a Flux Kustomization would
//! apply from a local directory, as `flux build kustomization` prints them (see
//! [`super::ksbuild`]).

use super::ksbuild::{self, Builder, Options};
use crate::cli::Global;
use crate::cli::global::block_on;
use anyhow::{anyhow, bail};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `gitops build`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Build Kustomization: query the cluster for the Flux Kustomization (or read it from
    /// --kustomization-file), apply it to the local kustomization at --path (generated
    /// when there is none) and print the resulting multi-doc YAML.
    #[command(visible_alias = "ks")]
    Kustomization(KsArgs),
}

#[derive(clap::Args)]
struct KsArgs {
    /// Kustomization name.
    name: Option<String>,
    /// Path to the manifests location.
    #[arg(long, default_value = "")]
    path: String,
    /// Path to the Flux Kustomization YAML file.
    #[arg(long = "kustomization-file", default_value = "")]
    kustomization_file: String,
    /// set paths to ignore in .gitignore format
    #[arg(long = "ignore-paths", value_delimiter = ',')]
    ignore_paths: Vec<String>,
    /// Dry run mode.
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// When enabled, the post build substitutions will fail if a var without a default
    /// value is declared in files but is missing from the input vars.
    #[arg(long = "strict-substitute")]
    strict_substitute: bool,
    /// Recursively build Kustomizations
    #[arg(long, short = 'r')]
    recursive: bool,
    /// Comma-separated list of repositories in format: Kind/namespace/name=path
    #[arg(long = "local-sources", value_delimiter = ',', value_parser = key_value)]
    local_sources: Vec<(String, String)>,
    /// Use in-memory filesystem during build.
    #[arg(long = "in-memory-build")]
    in_memory_build: bool,
}

/// One `key=value` of a pflag string-to-string flag.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
        None => Err(format!("{s} must be formatted as key=value")),
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    match args.command {
        Command::Kustomization(ks) => build_kustomization(ks, &args.global),
    }
}

fn build_kustomization(args: KsArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let Some(name) = args.name.filter(|n| !n.is_empty()) else {
        bail!("kustomization name is required");
    };
    if args.path.is_empty() {
        bail!("invalid resource path \"\"");
    }
    let cwd =
        std::env::current_dir().map_err(|e| anyhow!("failed to resolve absolute path: {e}"))?;
    let path = ksbuild::clean_path(&cwd.join(&args.path));
    if !path.is_dir() {
        bail!("invalid resource path {:?}", path.display().to_string());
    }
    if args.dry_run && args.kustomization_file.is_empty() {
        bail!("dry-run mode requires a kustomization file");
    }
    let kustomization_file = if args.kustomization_file.is_empty() {
        None
    } else {
        let f = PathBuf::from(&args.kustomization_file);
        if !f.is_file() {
            bail!("invalid kustomization file {:?}", args.kustomization_file);
        }
        Some(f)
    };
    let opts = Options {
        name,
        namespace: global.namespace.clone(),
        path,
        kustomization_file,
        ignore: args.ignore_paths,
        dry_run: args.dry_run,
        strict_substitute: args.strict_substitute,
        recursive: args.recursive,
        local_sources: args.local_sources.into_iter().collect::<BTreeMap<_, _>>(),
        in_memory: args.in_memory_build,
        single: false,
        ignore_not_found: false,
    };
    let timeout = global.timeout;
    let text = block_on(async move {
        let client = if opts.dry_run {
            None
        } else {
            Some(global.client().await?)
        };
        let mut builder = Builder::new(opts, client)?;
        let objects = tokio::time::timeout(timeout, builder.build())
            .await
            .map_err(|_| anyhow!("context deadline exceeded"))??;
        ksbuild::objects_to_yaml(&objects)
    })?;
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| anyhow!("writing to stdout: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
