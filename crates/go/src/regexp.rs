//! Go's `regexp` (RE2 syntax, leftmost-first matching) for the patterns charts and their
//! JSON schemas carry: Sprig's `regexMatch`, `regexReplaceAll` … and schema `pattern`s.
//!
//! Patterns are compiled with regex-lite when it takes them: its `\d`, `\w`, `\s` and `\b`
//! are ASCII, as Go's are, and it compiles a pattern in a fraction of `regex`'s time (a
//! `regex` build allocates and clears large tables for every pattern, which cost a small
//! `helm template` a tenth of its run). Patterns regex-lite cannot take — Unicode classes
//! such as `\pL` — and case-insensitive ones (Go folds case over Unicode, regex-lite only
//! over ASCII) use `regex`. An invalid pattern reports `regex`'s error.

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Regexp(Engine);

#[derive(Debug, Clone)]
enum Engine {
    Lite(regex_lite::Regex),
    Full(regex::Regex),
}

impl Regexp {
    /// Compiles `pattern`, or says what is wrong with it (`regex`'s words).
    pub fn new(pattern: &str) -> Result<Regexp, String> {
        if !case_insensitive(pattern)
            && let Ok(re) = regex_lite::Regex::new(pattern)
        {
            return Ok(Regexp(Engine::Lite(re)));
        }
        regex::Regex::new(pattern)
            .map(|re| Regexp(Engine::Full(re)))
            .map_err(|e| e.to_string())
    }

    /// `MatchString`.
    pub fn is_match(&self, text: &str) -> bool {
        match &self.0 {
            Engine::Lite(re) => re.is_match(text),
            Engine::Full(re) => re.is_match(text),
        }
    }

    /// `FindString`: the leftmost match, if any.
    pub fn find<'t>(&self, text: &'t str) -> Option<&'t str> {
        match &self.0 {
            Engine::Lite(re) => re.find(text).map(|m| m.as_str()),
            Engine::Full(re) => re.find(text).map(|m| m.as_str()),
        }
    }

    /// `FindAllString(text, n)`: successive non-overlapping matches, at most `limit`.
    pub fn find_all<'t>(&self, text: &'t str, limit: Option<usize>) -> Vec<&'t str> {
        let limit = limit.unwrap_or(usize::MAX);
        match &self.0 {
            Engine::Lite(re) => re.find_iter(text).take(limit).map(|m| m.as_str()).collect(),
            Engine::Full(re) => re.find_iter(text).take(limit).map(|m| m.as_str()).collect(),
        }
    }

    /// `ReplaceAllString` (`$1`, `${name}` expanded) or, with `literal`,
    /// `ReplaceAllLiteralString`.
    pub fn replace_all(&self, text: &str, replacement: &str, literal: bool) -> String {
        match (&self.0, literal) {
            (Engine::Lite(re), false) => re.replace_all(text, replacement).into_owned(),
            (Engine::Lite(re), true) => re
                .replace_all(text, regex_lite::NoExpand(replacement))
                .into_owned(),
            (Engine::Full(re), false) => re.replace_all(text, replacement).into_owned(),
            (Engine::Full(re), true) => re
                .replace_all(text, regex::NoExpand(replacement))
                .into_owned(),
        }
    }

    /// `Split(text, n)` for `n` ≠ 0: the pieces between matches, at most `limit`.
    pub fn split<'t>(&self, text: &'t str, limit: Option<usize>) -> Vec<&'t str> {
        match (&self.0, limit) {
            (Engine::Lite(re), None) => re.split(text).collect(),
            (Engine::Lite(re), Some(n)) => re.splitn(text, n).collect(),
            (Engine::Full(re), None) => re.split(text).collect(),
            (Engine::Full(re), Some(n)) => re.splitn(text, n).collect(),
        }
    }
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
        assert!(matches!(Regexp::new("(?m)^a").unwrap().0, Engine::Lite(_)));
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
}
