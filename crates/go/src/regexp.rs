//! Go's `regexp` (RE2 syntax, leftmost-first matching) for the patterns charts and their
//! JSON schemas carry: Sprig's `regexMatch`, `regexReplaceAll` … and schema `pattern`s.
//!
//! Patterns are compiled with regex-lite when it takes them: its `\d`, `\w`, `\s` and `\b`
//! are ASCII, as Go's are, and it compiles a pattern in a fraction of `regex`'s time (a
//! `regex` build allocates and clears large tables for every pattern, which cost a small
//! `helm template` a tenth of its run). Patterns regex-lite cannot take — Unicode classes
//! such as `\pL` — and case-insensitive ones (Go folds case over Unicode, regex-lite only
//! over ASCII) use `regex`. An invalid pattern reports `regex`'s error.
//!
//! regex-lite matches slowly, a pike VM step per character, so a pattern that has scanned
//! a few kilobytes (a long text, or many texts) is compiled with `regex` too and matched
//! with it from then on, when both engines read the pattern alike: when it has no Perl
//! class or word boundary, the one place where they differ.

use std::cell::{Cell, OnceCell};

/// A compiled pattern. Not `Sync`: it keeps its own count of the text it has scanned.
#[derive(Debug, Clone)]
pub struct Regexp(Engine);

#[derive(Debug, Clone)]
enum Engine {
    Lite {
        lite: regex_lite::Regex,
        /// The pattern, when `regex` would read it as regex-lite does.
        same_in_full: Option<String>,
        scanned: Cell<usize>,
        full: OnceCell<Option<regex::Regex>>,
    },
    Full(regex::Regex),
}

/// Bytes a pattern scans with regex-lite before it is compiled with `regex` as well.
const LITE_BYTES: usize = 4096;

/// The engine a search of `text` uses.
enum Search<'r> {
    Lite(&'r regex_lite::Regex),
    Full(&'r regex::Regex),
}

impl Regexp {
    /// Compiles `pattern`, or says what is wrong with it (`regex`'s words).
    pub fn new(pattern: &str) -> Result<Regexp, String> {
        let pattern = &rust_syntax(pattern);
        if !case_insensitive(pattern)
            && let Ok(lite) = regex_lite::Regex::new(pattern)
        {
            return Ok(Regexp(Engine::Lite {
                lite,
                same_in_full: (!perl_classes(pattern)).then(|| pattern.to_string()),
                scanned: Cell::new(0),
                full: OnceCell::new(),
            }));
        }
        regex::Regex::new(pattern)
            .map(|re| Regexp(Engine::Full(re)))
            .map_err(|e| e.to_string())
    }

    /// The engine to search `text` with, counting what regex-lite scans.
    fn engine(&self, text: &str) -> Search<'_> {
        match &self.0 {
            Engine::Full(re) => Search::Full(re),
            Engine::Lite {
                lite,
                same_in_full,
                scanned,
                full,
            } => {
                if let Some(p) = same_in_full {
                    scanned.set(scanned.get().saturating_add(text.len()));
                    if scanned.get() > LITE_BYTES
                        && let Some(re) = full.get_or_init(|| regex::Regex::new(p).ok())
                    {
                        return Search::Full(re);
                    }
                }
                Search::Lite(lite)
            }
        }
    }

    /// `MatchString`.
    pub fn is_match(&self, text: &str) -> bool {
        match self.engine(text) {
            Search::Lite(re) => re.is_match(text),
            Search::Full(re) => re.is_match(text),
        }
    }

    /// `FindString`: the leftmost match, if any.
    pub fn find<'t>(&self, text: &'t str) -> Option<&'t str> {
        match self.engine(text) {
            Search::Lite(re) => re.find(text).map(|m| m.as_str()),
            Search::Full(re) => re.find(text).map(|m| m.as_str()),
        }
    }

    /// `FindAllString(text, n)`: successive non-overlapping matches, at most `limit`.
    pub fn find_all<'t>(&self, text: &'t str, limit: Option<usize>) -> Vec<&'t str> {
        let limit = limit.unwrap_or(usize::MAX);
        match self.engine(text) {
            Search::Lite(re) => re.find_iter(text).take(limit).map(|m| m.as_str()).collect(),
            Search::Full(re) => re.find_iter(text).take(limit).map(|m| m.as_str()).collect(),
        }
    }

    /// `ReplaceAllString` (`$1`, `${name}` expanded) or, with `literal`,
    /// `ReplaceAllLiteralString`.
    pub fn replace_all(&self, text: &str, replacement: &str, literal: bool) -> String {
        match (self.engine(text), literal) {
            (Search::Lite(re), false) => re.replace_all(text, replacement).into_owned(),
            (Search::Lite(re), true) => re
                .replace_all(text, regex_lite::NoExpand(replacement))
                .into_owned(),
            (Search::Full(re), false) => re.replace_all(text, replacement).into_owned(),
            (Search::Full(re), true) => re
                .replace_all(text, regex::NoExpand(replacement))
                .into_owned(),
        }
    }

    /// `Split(text, n)` for `n` ≠ 0: the pieces between matches, at most `limit`.
    pub fn split<'t>(&self, text: &'t str, limit: Option<usize>) -> Vec<&'t str> {
        match (self.engine(text), limit) {
            (Search::Lite(re), None) => re.split(text).collect(),
            (Search::Lite(re), Some(n)) => re.splitn(text, n).collect(),
            (Search::Full(re), None) => re.split(text).collect(),
            (Search::Full(re), Some(n)) => re.splitn(text, n).collect(),
        }
    }
}

/// A Go pattern in the Rust engines' syntax, where the two differ: Go reads a `{` that does
/// not open a repetition (`{2}`, `{2,}`, `{2,5}`) as a literal brace, and in a class a `[`
/// that opens no `[:name:]` and the `&&`, `~~` that Rust reads as set operations as
/// literals.
fn rust_syntax(pattern: &str) -> std::borrow::Cow<'_, str> {
    if !pattern.contains(['{', '[']) {
        return pattern.into();
    }
    let b = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        // a whole character (the arms below look at ASCII ones only)
        i += pattern[i..].chars().next().map_or(1, char::len_utf8);
        match c {
            b'\\' => {
                // an escape and the character it escapes (whole, however many bytes)
                if let Some(next) = pattern[i..].chars().next() {
                    i += next.len_utf8();
                }
            }
            b'[' if !in_class => {
                in_class = true;
                if b.get(i) == Some(&b'^') {
                    i += 1;
                }
                // a `]` first in a class is a member
                if b.get(i) == Some(&b']') {
                    out.push_str(&pattern[start..i]);
                    out.push_str("\\]");
                    i += 1;
                    continue;
                }
            }
            b'[' => {
                let posix = pattern[i..]
                    .strip_prefix(':')
                    .and_then(|r| r.find(":]").map(|e| (r, e)))
                    .filter(|(r, e)| {
                        r[..*e]
                            .bytes()
                            .all(|x| x.is_ascii_alphabetic() || x == b'^')
                    });
                if let Some((_, e)) = posix {
                    i += 1 + e + 2;
                } else {
                    out.push_str("\\[");
                    continue;
                }
            }
            b']' if in_class => in_class = false,
            b'&' | b'~' if in_class => {
                out.push('\\');
            }
            b'{' if !in_class && !opens_repeat(&b[i..]) => {
                out.push_str("\\{");
                continue;
            }
            _ => {}
        }
        out.push_str(&pattern[start..i]);
    }
    out.into()
}

/// Whether the text after a `{` makes it a repetition: `N}`, `N,}` or `N,M}`.
fn opens_repeat(rest: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
    let n = digits(rest);
    if n == 0 {
        return false;
    }
    match rest.get(n) {
        Some(b'}') => true,
        Some(b',') => {
            let m = digits(&rest[n + 1..]);
            rest.get(n + 1 + m) == Some(&b'}')
        }
        _ => false,
    }
}

/// Whether a pattern may use a Perl class (`\d`, `\w`, `\s` and their negations) or a word
/// boundary (`\b`, `\B`), which regex-lite reads as ASCII (Go's meaning) and `regex` as
/// Unicode. Errs on the side of yes (an escaped backslash before such a letter counts).
fn perl_classes(pattern: &str) -> bool {
    pattern
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'\\' && b"dDwWsSbB".contains(&w[1]))
}

/// Whether a pattern turns on case-insensitive matching anywhere (`(?i)`, `(?im:…)`).
fn case_insensitive(pattern: &str) -> bool {
    pattern.match_indices("(?").any(|(i, _)| {
        pattern[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
            .take_while(|c| *c != '-')
            .any(|c| c == 'i')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_classes_are_ascii_as_in_go() {
        // Go: `\w` is [0-9A-Za-z_], so an accented letter is replaced
        let re = Regexp::new(r"\W").unwrap();
        assert_eq!(re.replace_all("aé_1", "@", true), "a@_1");
        assert!(!Regexp::new(r"^\d+$").unwrap().is_match("١٢"));
        assert!(Regexp::new(r"^\s$").unwrap().is_match("\t"));
    }

    #[test]
    fn unicode_classes_and_case_folding_use_the_full_engine() {
        let re = Regexp::new(r"^\pL+$").unwrap();
        assert!(matches!(re.0, Engine::Full(_)));
        assert!(re.is_match("héllo"));
        let re = Regexp::new(r"(?i)straße").unwrap();
        assert!(matches!(re.0, Engine::Full(_)));
        assert!(re.is_match("STRAẞE"));
        assert!(case_insensitive("a(?m-s:b)(?si)"));
        assert!(!case_insensitive("(?m)^x(?-i)"));
        assert!(matches!(
            Regexp::new("(?m)^a").unwrap().0,
            Engine::Lite { .. }
        ));
    }

    #[test]
    fn matching_replacing_and_splitting() {
        let re = Regexp::new("a(x*)b").unwrap();
        assert_eq!(re.replace_all("-ab-axxb-", "${1}W", false), "-W-xxW-");
        assert_eq!(re.replace_all("-ab-axxb-", "$1W", false), "---");
        assert_eq!(re.replace_all("-ab-", "$1", true), "-$1-");
        assert_eq!(re.find("zaxbab"), Some("axb"));
        assert_eq!(re.find_all("abaxbab", Some(2)), vec!["ab", "axb"]);
        assert_eq!(re.find_all("abaxbab", None).len(), 3);
        let sep = Regexp::new(",+").unwrap();
        assert_eq!(sep.split("a,,b,c", None), vec!["a", "b", "c"]);
        assert_eq!(sep.split("a,,b,c", Some(2)), vec!["a", "b,c"]);
        assert!(Regexp::new("(").unwrap_err().contains("unclosed group"));
    }

    #[test]
    fn go_syntax_is_read_as_go_reads_it() {
        // a brace that opens no repetition is a literal
        assert!(Regexp::new("a{").unwrap().is_match("a{"));
        assert!(Regexp::new("a{x}").unwrap().is_match("a{x}"));
        assert!(Regexp::new("a{,2}").unwrap().is_match("a{,2}"));
        assert!(Regexp::new("^a{2}$").unwrap().is_match("aa"));
        assert!(Regexp::new("^a{1,}$").unwrap().is_match("aaa"));
        assert!(Regexp::new(r"^\{[a-z]{2,3}\}$").unwrap().is_match("{abc}"));
        // in a class: `[`, `&&`, `~~` are members; `[:alpha:]` a named class; `]` first a member
        let re = Regexp::new("^[a[&&~~]+$").unwrap();
        assert!(re.is_match("a[&~"));
        assert!(Regexp::new("^[[:alpha:]]+$").unwrap().is_match("abc"));
        assert!(Regexp::new("^[]a]+$").unwrap().is_match("]a"));
        assert!(Regexp::new("^[^]a]+$").unwrap().is_match("bc"));
        assert!(Regexp::new(r"^[\]{]+$").unwrap().is_match("]{"));
        assert!(Regexp::new("é{").unwrap().is_match("é{"));
    }

    #[test]
    fn any_pattern_compiles_or_fails_without_panicking() {
        let parts = [
            "[", "]", "{", "}", "\\", "^", ":", "é", "a", "1", ",", "&", "~", "(", ")",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut p = String::new();
            for _ in 0..(seed % 9) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                p.push_str(parts[(seed % parts.len() as u64) as usize]);
            }
            if let Ok(re) = Regexp::new(&p) {
                re.is_match("a[]{}é");
            }
        }
    }

    #[test]
    fn long_texts_move_to_the_full_engine_when_it_reads_the_pattern_alike() {
        let long = format!("{}}}}}", "v1 ".repeat(3000));
        let re = Regexp::new("{(v[0-9])*[^}]*}}$").unwrap();
        assert!(re.is_match("{v1 x}}"));
        assert!(!re.is_match("short"));
        assert!(matches!(re.engine("x"), Search::Lite(_)));
        assert!(!re.is_match(&long)); // no opening brace
        assert!(matches!(re.engine("x"), Search::Full(_)));
        assert!(re.is_match(&format!("{{{long}")));
        // Perl classes keep Go's ASCII meaning however much is scanned
        let re = Regexp::new(r"\W").unwrap();
        let text = "é".repeat(5000);
        assert_eq!(re.replace_all(&text, "@", true), "@".repeat(5000));
        assert!(matches!(re.engine("x"), Search::Lite(_)));
        assert_eq!(re.replace_all("aé", "@", true), "a@");
    }
}
