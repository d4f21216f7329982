//! `gitops completion bash|zsh|fish|powershell`: shell completion scripts.

use std::process::ExitCode;

/// `gitops completion`.
#[derive(clap::Args)]
pub struct Args {
    /// The shell.
    shell: clap_complete::Shell,
}

/// Prints the script for the shell.
pub fn run(args: Args, mut command: clap::Command) -> anyhow::Result<ExitCode> {
    // Generated into memory: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "gitops", &mut script);
    use std::io::Write;
    match std::io::stdout().write_all(&script) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}
