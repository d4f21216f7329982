//! `gitops diff kustomization NAME --path DIR`: builds as `gitops build kustomization`
//! does, dry-runs each object against the cluster and prints what would be created,
//! changed (field by field, Secret values masked) or deleted, as `flux diff kustomization`
//! does. Exit status: 0 no differences, 1 differences, 2 the diff failed.

use super::build::key_value;
use super::ksbuild::{self, Builder, Options};
use crate::cli::global::block_on;
use crate::cli::{Global, log};
use anyhow::anyhow;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `gitops diff`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Diff Kustomization: build, server-side dry-run and print the differences.
    /// Exit status: 0 No differences were found. 1 Differences were found. >1 diff failed
    /// with an error.
    #[command(visible_alias = "ks")]
    Kustomization(KsArgs),
}

#[derive(clap::Args)]
struct KsArgs {
    /// Kustomization name.
    name: Option<String>,
    /// Path to a local directory that matches the specified Kustomization.spec.path.
    #[arg(long, default_value = "")]
    path: String,
    /// Boolean to set the progress bar. The default value is true.
    #[arg(
        long = "progress-bar",
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        value_parser = go_bool
    )]
    progress_bar: Option<bool>,
    /// set paths to ignore in .gitignore format
    #[arg(long = "ignore-paths", value_delimiter = ',')]
    ignore_paths: Vec<String>,
    /// Path to the Flux Kustomization YAML file.
    #[arg(long = "kustomization-file", default_value = "")]
    kustomization_file: String,
    /// When enabled, the post build substitutions will fail if a var without a default
    /// value is declared in files but is missing from the input vars.
    #[arg(long = "strict-substitute")]
    strict_substitute: bool,
    /// Recursively diff Kustomizations
    #[arg(long, short = 'r')]
    recursive: bool,
    /// Comma-separated list of repositories in format: Kind/namespace/name=path
    #[arg(long = "local-sources", value_delimiter = ',', value_parser = key_value)]
    local_sources: Vec<(String, String)>,
    /// Use in-memory filesystem during build.
    #[arg(long = "in-memory-build")]
    in_memory_build: bool,
    /// Ignore Kustomization not found errors on the cluster when diffing.
    #[arg(long = "ignore-not-found")]
    ignore_not_found: bool,
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    match args.command {
        Command::Kustomization(ks) => diff_kustomization(ks, &args.global),
    }
}

/// Flux's `RequestError` with status 2: printed as a failure, exit code 2.
fn fail(msg: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    log::failure(msg);
    Ok(ExitCode::from(2))
}

fn diff_kustomization(args: KsArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let Some(name) = args.name.filter(|n| !n.is_empty()) else {
        anyhow::bail!("kustomization name is required");
    };
    if args.path.is_empty() || !Path::new(&args.path).is_dir() {
        return fail(format!("invalid resource path {:?}", args.path));
    }
    let kustomization_file = if args.kustomization_file.is_empty() {
        None
    } else {
        let f = PathBuf::from(&args.kustomization_file);
        if !f.is_file() {
            anyhow::bail!("invalid kustomization file {:?}", args.kustomization_file);
        }
        Some(f)
    };
    // The progress bar (Flux's spinner) only shows on terminals; the output is the same.
    let _ = args.progress_bar.unwrap_or(true);
    let opts = Options {
        name,
        namespace: global.namespace.clone(),
        path: PathBuf::from(&args.path),
        kustomization_file,
        ignore: args.ignore_paths,
        dry_run: false,
        strict_substitute: args.strict_substitute,
        recursive: args.recursive,
        local_sources: args.local_sources.into_iter().collect::<BTreeMap<_, _>>(),
        in_memory: args.in_memory_build,
        single: true,
        ignore_not_found: args.ignore_not_found,
    };
    let timeout = global.timeout;
    let width = ksbuild::terminal_width();
    let result = block_on(async move {
        let client = global.client().await?;
        let mut builder = Builder::new(opts, Some(client))?;
        tokio::time::timeout(timeout, ksbuild::diff(&mut builder, width))
            .await
            .map_err(|_| anyhow!("context deadline exceeded"))?
    });
    let out = match result {
        Ok(out) => out,
        Err(e) => return fail(format!("{e:#}")),
    };
    std::io::stdout()
        .write_all(out.text.as_bytes())
        .and_then(|()| std::io::stdout().flush())
        .map_err(|e| anyhow!("writing to stdout: {e}"))?;
    if !out.errors.is_empty() {
        return fail(ksbuild::aggregate(&out.errors));
    }
    if out.changed {
        log::warning("identified at least one change, exiting with non-zero exit code");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
