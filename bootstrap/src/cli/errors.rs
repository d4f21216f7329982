//! Flux's (cobra's and pflag's) texts for bad command lines, from clap's errors: `unknown
//! flag: --x`, `flag needs an argument: --x`, `invalid argument "v" for "--x" flag: why`.

use clap::error::{ContextKind, ContextValue, ErrorKind};

fn context(err: &clap::Error, kind: ContextKind) -> Option<String> {
    match err.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        _ => None,
    }
}

/// The flag name of an argument as clap prints it (`--provider <PROVIDER>` → `--provider`).
fn flag_name(arg: &str) -> String {
    arg.split([' ', '=']).next().unwrap_or(arg).to_owned()
}

/// The cobra/pflag message for a command-line error, or `None` for help and version output
/// (which clap prints itself).
pub fn cobra_message(err: &clap::Error) -> Option<String> {
    let arg = context(err, ContextKind::InvalidArg).unwrap_or_default();
    let value = context(err, ContextKind::InvalidValue);
    Some(match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => return None,
        ErrorKind::UnknownArgument if arg.starts_with("--") => {
            format!("unknown flag: {}", flag_name(&arg))
        }
        ErrorKind::UnknownArgument if arg.starts_with('-') => {
            let short = arg.trim_start_matches('-').chars().next().unwrap_or('-');
            format!("unknown shorthand flag: '{short}' in {arg}")
        }
        ErrorKind::UnknownArgument => format!("unknown command {arg:?}"),
        ErrorKind::InvalidSubcommand => {
            let sub = context(err, ContextKind::InvalidSubcommand).unwrap_or_default();
            format!("unknown command {sub:?}")
        }
        ErrorKind::InvalidValue if value.as_deref().is_none_or(str::is_empty) => {
            format!("flag needs an argument: {}", flag_name(&arg))
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = value.unwrap_or_default();
            let why = std::error::Error::source(err)
                .map(|s| s.to_string())
                .unwrap_or_else(|| {
                    let valid = err
                        .get(ContextKind::ValidValue)
                        .map(|v| v.to_string())
                        .unwrap_or_default();
                    format!("must be one of: {valid}")
                });
            format!(
                "invalid argument {value:?} for {:?} flag: {why}",
                flag_name(&arg)
            )
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = context(err, ContextKind::InvalidArg).unwrap_or_default();
            format!(
                "required flag(s) {:?} not set",
                flag_name(&missing).trim_start_matches('-')
            )
        }
        ErrorKind::ArgumentConflict => {
            let other = context(err, ContextKind::PriorArg).unwrap_or_default();
            format!(
                "if any flags in the group [{} {}] are set none of the others can be",
                flag_name(&arg).trim_start_matches('-'),
                flag_name(&other).trim_start_matches('-')
            )
        }
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues => {
            format!("accepts at most 1 arg(s), received more: {arg}")
        }
        _ => {
            let text = err.to_string();
            let first = text.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_owned()
        }
    })
}
