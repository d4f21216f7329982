//! A Go `text/template` engine: lexer, parser, executor and Go's `fmt` formatting.

pub mod exec;
pub mod fmt;
pub mod parse;

pub use exec::{Exec, ExecError, FnErr, Func, FuncMap};
pub use parse::{ParseError, Tree, parse, parse_shared};

#[cfg(test)]
pub(crate) mod tests;
