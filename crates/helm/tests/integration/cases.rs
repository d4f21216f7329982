//! Cases rendered by the real helm v4.1.4 (expected outputs committed next to the charts):
//! each `tests/cases/<name>/` has `chart/`, `args` (one argument per line, paths relative
//! to the case) and `expected.yaml` (helm's stdout) or, for a failing render,
//! `expected-error.txt` (helm's error without its `Error: ` prefix and the `Use --debug`
//! advice after it; a one-line file may give just its first line).

use std::path::{Path, PathBuf};

use gitops_helm::action::parse_args;
use gitops_helm::helm_template;

fn run_case(dir: &Path) -> Result<String, String> {
    let args: Vec<String> = std::fs::read_to_string(dir.join("args"))
        .map_err(|e| e.to_string())?
        .lines()
        .map(String::from)
        .collect();
    let mut req = parse_args(&args).map_err(|e| e.to_string())?;
    req.chart = dir.join(&req.chart);
    req.value_files = req.value_files.iter().map(|f| dir.join(f)).collect();
    helm_template(&req)
        .map(|o| o.stdout)
        .map_err(|e| e.to_string())
}

#[test]
fn cases_match_helm() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/cases exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    let mut failures = Vec::new();
    for d in &dirs {
        if let Ok(want) = std::fs::read_to_string(d.join("expected-error.txt")) {
            match run_case(d) {
                Err(e)
                    if e.trim_end() == want.trim_end()
                        || (want.lines().count() == 1
                            && e.lines().next() == Some(want.trim_end())) => {}
                Err(e) => failures.push(format!(
                    "{}: error differs:\n  got:  {e:?}\n  want: {:?}",
                    d.display(),
                    want.trim_end()
                )),
                Ok(_) => failures.push(format!("{}: rendered, helm fails", d.display())),
            }
            continue;
        }
        let expected = std::fs::read_to_string(d.join("expected.yaml")).expect("expected.yaml");
        match run_case(d) {
            Ok(out) if out == expected => {}
            Ok(out) => {
                let line = out
                    .lines()
                    .zip(expected.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(out.lines().count().min(expected.lines().count()));
                failures.push(format!(
                    "{}: differs at line {}:\n  got:  {:?}\n  want: {:?}",
                    d.display(),
                    line + 1,
                    out.lines().nth(line),
                    expected.lines().nth(line)
                ));
            }
            Err(e) => failures.push(format!("{}: error: {e}", d.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
