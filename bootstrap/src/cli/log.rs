//! Flux's progress lines on stderr: `► action`, `✚ generating`, `◎ waiting`, `✔ success`,
//! `⚠️ warning`, `✗ failure`.

/// `► …`: something is being done.
pub fn action(msg: impl std::fmt::Display) {
    eprintln!("► {msg}");
}

/// `✚ …`: a manifest is being generated.
pub fn generate(msg: impl std::fmt::Display) {
    eprintln!("✚ {msg}");
}

/// `◎ …`: waiting for the cluster.
pub fn waiting(msg: impl std::fmt::Display) {
    eprintln!("◎ {msg}");
}

/// `✔ …`: a step succeeded.
pub fn success(msg: impl std::fmt::Display) {
    eprintln!("✔ {msg}");
}

/// `⚠️ …`: something the user should know.
pub fn warning(msg: impl std::fmt::Display) {
    eprintln!("⚠️ {msg}");
}

/// `✗ …`: a step failed (the command goes on or ends with an error).
pub fn failure(msg: impl std::fmt::Display) {
    eprintln!("✗ {msg}");
}
