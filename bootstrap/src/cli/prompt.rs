//! Yes/no questions on the terminal, as Flux's confirmations ask them.

use std::io::Write;

/// Asks `question [y/N]`; anything but yes ends the command with "aborting".
pub fn confirm(question: &str) -> anyhow::Result<()> {
    eprint!("{question} [y/N]: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    // Nothing read (stdin closed): end the prompt's line before the error.
    if std::io::stdin().read_line(&mut answer).unwrap_or(0) == 0 {
        eprintln!();
    }
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        anyhow::bail!("aborting")
    }
}

/// Reads a secret after `prompt`, as Flux's `readPasswordFromStdin`: without echo on a
/// terminal, else one line of standard input.
pub fn password(prompt: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    print!("{prompt}");
    std::io::stdout().flush().ok();
    let line = if std::io::stdin().is_terminal() {
        let p = rpassword::read_password()?;
        println!();
        p
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line
    };
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
