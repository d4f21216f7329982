//! `gitops envsubst [--strict]`: substitutes `${VAR}` (with `:=`/`:-` defaults) from the
//! environment in stdin, line by line, with the post-build substitution Kustomizations use.

use std::io::{BufRead, Write};
use std::process::ExitCode;

/// `gitops envsubst`.
#[derive(clap::Args)]
pub struct Args {
    /// Fail if a variable without a default value is declared in the input but is missing
    /// from the environment.
    #[arg(long)]
    strict: bool,
}

/// Runs `gitops envsubst`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let vars: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        let text = gitops_kustomize::flux::substitute::substitute_str(&line, &vars, args.strict)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(out, "{text}")?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
