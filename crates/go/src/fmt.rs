//! Go's `strconv` quoting and `fmt`'s `%#v` of JSON-shaped values, as they appear in the
//! error texts of Go tools.

use std::fmt::Write;

use crate::yaml::Node;

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    quote_with(s, false)
}

/// Go's `strconv.QuoteToASCII` (everything past ASCII escaped).
pub fn quote_to_ascii(s: &str) -> String {
    quote_with(s, true)
}

/// Go's `strconv.CanBackquote`: one line, no control characters but tabs, no backquote.
pub fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| !((c < ' ' && c != '\t') || c == '`' || c == '\u{7f}' || c == '\u{feff}'))
}

fn quote_with(s: &str, ascii: bool) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '\x07' => o.push_str("\\a"),
            '\x08' => o.push_str("\\b"),
            '\x0c' => o.push_str("\\f"),
            '\x0b' => o.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            c if is_print(c) && (!ascii || c.is_ascii()) => o.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(o, "\\U{:08x}", c as u32);
            }
        }
    }
    o.push('"');
    o
}

/// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII
/// space. Refused here: controls (C0, DEL, C1), spaces other than U+0020 (Zs), line and
/// paragraph separators, format characters (Cf), surrogates, private use and
/// noncharacters. (Unassigned code points, which Go also refuses, are not tabled.)
pub fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    !matches!(u,
        0x80..=0xa0 | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2
        | 0x1680 | 0x180e | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064
        | 0x2066..=0x206f | 0x3000 | 0xd800..=0xf8ff | 0xfdd0..=0xfdef | 0xfeff
        | 0xfff9..=0xfffb | 0xfffe..=0xffff | 0x110bd | 0x110cd | 0x13430..=0x1343f
        | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        | 0xf0000..=0x10ffff)
        && (u & 0xfffe) != 0xfffe
}

/// Go's `%#v` of the value decoded into `interface{}` from JSON (maps are
/// `map[string]interface {}`, keys sorted, as `fmt` prints them).
pub fn sharp_v(node: &Node) -> String {
    let mut out = String::new();
    write_sharp_v(&mut out, node);
    out
}

fn write_sharp_v(out: &mut String, node: &Node) {
    match node {
        Node::Null => out.push_str("interface {}(nil)"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Node::Uint(u) => {
            let _ = write!(out, "0x{u:x}");
        }
        Node::Float(f) => out.push_str(&crate::num::format_float_g(*f)),
        Node::Str(s) => out.push_str(&quote(s)),
        Node::Seq(items) => {
            out.push_str("[]interface {}{");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_sharp_v(out, item);
            }
            out.push('}');
        }
        Node::Map(entries) => {
            let mut sorted: Vec<_> = entries.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            out.push_str("map[string]interface {}{");
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quote(k));
                out.push(':');
                write_sharp_v(out, v);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn quote_as_go_does() {
        assert_eq!(
            quote("nbsp\u{a0}x é \u{1F600}"),
            "\"nbsp\\u00a0x é \u{1F600}\""
        );
        assert_eq!(
            quote("\u{7f}\u{85}\u{2003}\u{e000}"),
            r#""\x7f\u0085\u2003\ue000""#
        );
        assert_eq!(quote_to_ascii("é\u{1F600}"), r#""\u00e9\U0001f600""#);
    }

    #[test]
    fn sharp_v_as_go_prints_it() {
        // As kustomize prints an object it cannot marshal.
        let n = Node::Map(vec![
            (Cow::Borrowed("kind"), Node::Str("ConfigMap".into())),
            (
                Cow::Borrowed("data"),
                Node::Map(vec![
                    (Cow::Borrowed("m"), Node::Str("\u{7f}".into())),
                    (Cow::Borrowed("a"), Node::Str("e\u{85}x".into())),
                    (Cow::Borrowed("f"), Node::Float(f64::INFINITY)),
                ]),
            ),
        ]);
        assert_eq!(
            sharp_v(&n),
            r#"map[string]interface {}{"data":map[string]interface {}{"a":"e\u0085x", "f":+Inf, "m":"\x7f"}, "kind":"ConfigMap"}"#
        );
    }
}
