//! pflag conventions clap lacks, applied to the command line before clap parses it: boolean
//! flags written `--flag=true` / `--flag=false` (Go's `strconv.ParseBool` spellings).

use clap::{ArgAction, Command};
use std::ffi::OsString;

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Whether `name` is a `SetTrue` flag of `cmd` or a global one of its ancestors.
fn is_switch(path: &[&Command], name: &str) -> bool {
    path.iter().rev().any(|c| {
        c.get_arguments()
            .any(|a| a.get_long() == Some(name) && matches!(a.get_action(), ArgAction::SetTrue))
    })
}

/// Rewrites `--switch=true` to `--switch` and drops `--switch=false`, for the switches of
/// the subcommand being invoked; everything else is left for clap.
pub fn normalize(root: &Command, args: Vec<OsString>) -> Vec<OsString> {
    let mut path: Vec<&Command> = vec![root];
    let mut out = Vec::with_capacity(args.len());
    let mut positional_only = false;
    for (i, arg) in args.into_iter().enumerate() {
        let Some(text) = arg.to_str().filter(|_| i > 0 && !positional_only) else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            positional_only = true;
            out.push(arg);
            continue;
        }
        if let Some((name, value)) = text.strip_prefix("--").and_then(|t| t.split_once('='))
            && is_switch(&path, name)
            && let Some(b) = parse_bool(value)
        {
            if b {
                out.push(OsString::from(format!("--{name}")));
            }
            continue;
        }
        if !text.starts_with('-') {
            let current = path[path.len() - 1];
            if let Some(sub) = current
                .get_subcommands()
                .find(|s| s.get_name() == text || s.get_all_aliases().any(|a| a == text))
            {
                path.push(sub);
            }
        }
        out.push(arg);
    }
    out
}
