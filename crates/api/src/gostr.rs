//! Go's string quoting (`strconv.Quote`, `%q`), which Flux's messages use around names,
//! versions and values. The engines (`crates/helm`, `crates/kustomize`) keep their own
//! until they share a Go-compatibility crate.

/// Go's `strconv.Quote` of a string: `"…"` with `\"`, `\\`, the C escapes and `\x`, `\u`,
/// `\U` for other control characters; printable characters as they are.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_as_go() {
        assert_eq!(super::quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(super::quote("x\n\t\u{1}\u{7f}"), r#""x\n\t\x01\x7f""#);
        assert_eq!(super::quote("\u{85}é"), "\"\\u0085é\"");
    }
}
