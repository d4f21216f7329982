//! Yes/no questions on the terminal, as Flux's confirmations ask them.

use std::io::Write;

/// Asks `question [y/N]`; anything but yes ends the command with "aborting".
pub fn confirm(question: &str) -> anyhow::Result<()> {
    eprint!("{question} [y/N]: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).ok();
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        anyhow::bail!("aborting")
    }
}
