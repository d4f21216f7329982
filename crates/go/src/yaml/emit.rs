//! What `sigs.k8s.io/yaml.Marshal` prints: the value goes through Go's `encoding/json`, is
//! read back by go-yaml v2 and written by go-yaml v2's emitter. So map keys are sorted
//! (go-yaml's natural order), integral floats print as integers, sequences in mappings are
//! not indented, long plain and quoted strings fold at 80 columns, multi-line strings become
//! literal blocks, and strings that would read back as another type are quoted.
//!
//! The JSON round trip is not run; its effects on text are applied directly: a raw NEL
//! (U+0085, which JSON leaves unescaped) is a line break inside the double-quoted JSON
//! string that go-yaml folds, and characters go-yaml's reader refuses (DEL, C1 controls,
//! U+FFFE, U+FFFF) fail with its `control characters are not allowed`.

use std::borrow::Cow;

use super::resolve::{Scalar, needs_quotes_v2, resolve_v2};
use crate::num::{format_float_g, json_float};

const BEST_WIDTH: usize = 80;
const BEST_INDENT: i32 = 2;

/// A JSON-shaped value to print.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    /// `null`
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An integer above `i64::MAX`.
    Uint(u64),
    /// A float (Go's JSON encoding refuses NaN and infinities).
    Float(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// A sequence.
    Seq(Vec<Node<'a>>),
    /// A mapping, in any order (it is printed sorted, as Go sorts map keys).
    Map(Vec<(Cow<'a, str>, Node<'a>)>),
}

/// Why a value cannot be marshalled, with Go's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarshalError {
    /// NaN or an infinity (`json: unsupported value: +Inf`).
    #[error("json: unsupported value: {0}")]
    UnsupportedValue(String),
    /// A character go-yaml's reader refuses (`yaml: control characters are not allowed`).
    #[error("yaml: control characters are not allowed")]
    ControlCharacters,
    /// A map key holding a NEL, which breaks the JSON text's key over lines (go-yaml:
    /// `yaml: line 1: did not find expected ',' or '}'`).
    #[error("yaml: line {0}: did not find expected ',' or '}}'")]
    MultilineKey(usize),
}

/// `sigs.k8s.io/yaml.Marshal` of `node`: one document, ending in a newline.
pub fn marshal(node: &Node) -> Result<String, MarshalError> {
    let mut out = String::new();
    marshal_into(&mut out, node)?;
    Ok(out)
}

/// [`marshal`], appending to `out`; on error `out` is left as it was.
///
/// What Go refuses is noted while emitting (one walk) and decided afterwards in Go's order:
/// the JSON encoding fails first (a NaN or infinity), then go-yaml's reader (a refused
/// character, then a map key the JSON text breaks over lines).
pub fn marshal_into(out: &mut String, node: &Node) -> Result<(), MarshalError> {
    let start = out.len();
    let mut e = Emitter::new(std::mem::take(out));
    e.node(node, false, false);
    e.write_indent();
    let Emitter {
        out: mut text,
        unsupported,
        control,
        nel_key,
        ..
    } = e;
    let error = if let Some(f) = unsupported {
        Some(MarshalError::UnsupportedValue(format_float_g(f)))
    } else if control {
        Some(MarshalError::ControlCharacters)
    } else if nel_key {
        let mut line = 1;
        check_keys(node, &mut line).err()
    } else {
        None
    };
    if let Some(error) = error {
        text.truncate(start);
        *out = text;
        return Err(error);
    }
    *out = text;
    Ok(())
}

/// The text [`marshal`] prints for a finite float: JSON prints it, go-yaml v2 reads the text
/// back (so integral values become integers) and prints it with `FormatFloat(f, 'g', -1)`.
pub fn marshal_float(f: f64) -> String {
    match resolve_v2(&json_float(f)) {
        Scalar::Int(i) => i.to_string(),
        Scalar::Uint(u) => u.to_string(),
        _ => float_text(f),
    }
}

/// go-yaml's spelling of a float (`strconv.FormatFloat(f, 'g', -1, 64)`, with `.inf`,
/// `-.inf` and `.nan`).
pub fn float_text(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf" } else { "-.inf" }.into()
    } else {
        format_float_g(f)
    }
}

/// Walks the value in JSON order (keys sorted bytewise), counting the lines NELs start.
fn check_keys(node: &Node, line: &mut usize) -> Result<(), MarshalError> {
    let nels = |s: &str| s.matches('\u{85}').count();
    match node {
        Node::Str(s) => *line += nels(s),
        Node::Seq(items) => items.iter().try_for_each(|n| check_keys(n, line))?,
        Node::Map(entries) => {
            let mut sorted: Vec<&(Cow<str>, Node)> = entries.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, v) in sorted {
                if k.contains('\u{85}') {
                    return Err(MarshalError::MultilineKey(*line));
                }
                check_keys(v, line)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// go-yaml's reader accepts tab, line breaks, printable ASCII, NEL, U+00A0–U+D7FF,
/// U+E000–U+FFFD and the supplementary planes; JSON escapes the C0 controls before it
/// reads them.
fn refused_text(s: &str) -> bool {
    // DEL is the only refused ASCII character
    if s.is_ascii() {
        return s.contains('\u{7f}');
    }
    s.chars().any(|c| {
        let u = c as u32;
        (0x7F..=0x84).contains(&u) || (0x86..=0x9F).contains(&u) || u == 0xFFFE || u == 0xFFFF
    })
}

/// The string go-yaml v2 reads from the JSON text of `s`: a run of spaces and NELs holding
/// at least one NEL folds like a line break in a double-quoted scalar (one NEL becomes a
/// space, `n` NELs become `n - 1` newlines, the spaces around them vanish).
fn json_reread(s: &str) -> Cow<'_, str> {
    if !s.contains('\u{85}') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ' ' && c != '\u{85}' {
            out.push(c);
            continue;
        }
        let mut run = String::from(c);
        while let Some(&n) = chars.peek() {
            if n != ' ' && n != '\u{85}' {
                break;
            }
            run.push(n);
            chars.next();
        }
        let breaks = run.matches('\u{85}').count();
        match breaks {
            0 => out.push_str(&run),
            1 => out.push(' '),
            n => (1..n).for_each(|_| out.push('\n')),
        }
    }
    Cow::Owned(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// go-yaml's `is_printable` (with its emitter in unicode mode): LF, printable ASCII,
/// U+00A0–U+D7FF and U+E000–U+FFFD but the BOM. Not NEL, not the supplementary planes.
fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || c == '\0' || is_break(c),
    }
}

/// go-yaml's `yaml_emitter_analyze_scalar`, for block context.
fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = value.starts_with("---") || value.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_ws = true;
    let mut chars = value.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let last = next.is_none();
        let followed_by_ws = is_blankz(next);
        if first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_ws => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => block_indicators = true,
                '#' if preceded_by_ws => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= first;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= first;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = is_blankz(Some(c));
        first = false;
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// go-yaml v2's block emitter, reduced to what `Marshal` produces (block mappings and
/// sequences, flow `{}`/`[]` when empty, implicit documents).
struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    indent: i32,
    indents: Vec<i32>,
    /// The first NaN or infinity met (Go's JSON encoding refuses it).
    unsupported: Option<f64>,
    /// A character go-yaml's reader refuses was met.
    control: bool,
    /// A map key holds a NEL.
    nel_key: bool,
}

impl Emitter {
    fn new(out: String) -> Self {
        Emitter {
            out,
            column: 0,
            whitespace: true,
            indention: true,
            indent: -1,
            indents: Vec::new(),
            unsupported: None,
            control: false,
            nel_key: false,
        }
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.indention = true;
    }

    /// Writes a line break character (`\n`, or a Unicode break kept as it is).
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
            self.indention = true;
        }
    }

    fn write_str(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        self.write_str(ind);
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    /// `mapping_context`: the node is a block mapping's value; `simple_key`: it is a key.
    fn node(&mut self, n: &Node, mapping_context: bool, simple_key: bool) {
        match n {
            Node::Map(m) if !m.is_empty() => self.mapping(m),
            Node::Seq(s) if !s.is_empty() => self.sequence(s, mapping_context),
            Node::Map(_) => {
                self.write_indicator("{", true, true, false);
                self.write_indicator("}", false, false, false);
            }
            Node::Seq(_) => {
                self.write_indicator("[", true, true, false);
                self.write_indicator("]", false, false, false);
            }
            Node::Null => self.scalar("null", Style::Plain, simple_key),
            Node::Bool(b) => {
                self.scalar(if *b { "true" } else { "false" }, Style::Plain, simple_key)
            }
            Node::Int(i) => self.scalar(&i.to_string(), Style::Plain, simple_key),
            Node::Uint(u) => self.scalar(&u.to_string(), Style::Plain, simple_key),
            Node::Float(f) if !f.is_finite() => {
                self.unsupported.get_or_insert(*f);
            }
            Node::Float(f) => self.scalar(&marshal_float(*f), Style::Plain, simple_key),
            Node::Str(s) => self.string(s, simple_key),
        }
    }

    fn string(&mut self, s: &str, simple_key: bool) {
        self.control |= refused_text(s);
        self.reread_string(&json_reread(s), simple_key)
    }

    /// A string as go-yaml v2 read it back from the JSON text.
    fn reread_string(&mut self, s: &str, simple_key: bool) {
        let style = if s.contains('\n') {
            Style::Literal
        } else if needs_quotes_v2(s) {
            Style::Double
        } else {
            Style::Plain
        };
        self.scalar(s, style, simple_key)
    }

    fn mapping(&mut self, m: &[(Cow<str>, Node)]) {
        let mut entries: Vec<&(Cow<str>, Node)> = m.iter().collect();
        super::sort_keys(&mut entries, |e| &e.0);
        self.increase_indent(false, false);
        for (k, v) in entries {
            self.write_indent();
            self.nel_key |= k.contains('\u{85}');
            self.control |= refused_text(k);
            let k = json_reread(k);
            // go-yaml's check_simple_key: at most 128 bytes, on one line.
            if k.len() <= 128 && !k.chars().any(is_break) {
                self.reread_string(&k, true);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.reread_string(&k, false);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(v, true, false);
        }
        self.pop_indent();
    }

    fn sequence(&mut self, s: &[Node], mapping_context: bool) {
        let indentless = mapping_context && !self.indention;
        self.increase_indent(false, indentless);
        for item in s {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, false, false);
        }
        self.pop_indent();
    }

    fn scalar(&mut self, value: &str, requested: Style, simple_key: bool) {
        let a = analyze(value);
        let mut style = requested;
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.block_plain_allowed || (value.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || simple_key) {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let allow_breaks = !simple_key;
        match style {
            Style::Plain => self.write_plain(value, allow_breaks),
            Style::Single => self.write_single(value, allow_breaks),
            Style::Double => self.write_double(value, allow_breaks),
            Style::Literal => self.write_literal(value),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, value: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let mut spaces = false;
        let mut chars = value.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && chars.peek() != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, value: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = value.chars().collect();
        let n = chars.len();
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i < n - 1
                    && chars[i + 1] != ' '
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double(&mut self, value: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        // go-yaml's `is_bom(value, i)` looks at the start of the value, not at `i`: a value
        // that starts with a BOM has every character escaped.
        let bom = value.starts_with('\u{FEFF}');
        let chars: Vec<char> = value.chars().collect();
        let n = chars.len();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if bom || !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let esc = match c {
                    '\0' => Some('0'),
                    '\x07' => Some('a'),
                    '\x08' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\x0B' => Some('v'),
                    '\x0C' => Some('f'),
                    '\r' => Some('r'),
                    '\x1B' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{A0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                match esc {
                    Some(e) => self.put(e),
                    None => {
                        let u = c as u32;
                        let s = if u <= 0xFF {
                            format!("x{u:02X}")
                        } else if u <= 0xFFFF {
                            format!("u{u:04X}")
                        } else {
                            format!("U{u:08X}")
                        };
                        self.write_str(&s);
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i != n - 1 {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
    }

    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        let chars: Vec<char> = value.chars().collect();
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.write_indicator("2", false, false, false);
        }
        let n = chars.len();
        let chomp = match chars.last() {
            None => Some("-"),
            Some(&last) if !is_break(last) => Some("-"),
            Some(_) if n == 1 || is_break(chars[n - 2]) => Some("+"),
            Some(_) => None,
        };
        if let Some(ch) = chomp {
            self.write_indicator(ch, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                    breaks = false;
                }
                self.put(c);
                self.indention = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Node<'_> {
        Node::Str(Cow::Borrowed(v))
    }

    fn map<'a>(entries: Vec<(&'a str, Node<'a>)>) -> Node<'a> {
        Node::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Cow::Borrowed(k), v))
                .collect(),
        )
    }

    #[test]
    fn block_layout() {
        let n = map(vec![
            (
                "b",
                map(vec![(
                    "x",
                    Node::Seq(vec![Node::Int(1), s("2"), map(vec![("y", s("n"))])]),
                )]),
            ),
            ("a", s("multi\nline\n")),
            ("c", s("")),
            ("d", s(": x")),
            ("e", Node::Seq(vec![])),
            ("f", s("x\ty")),
            ("g", Node::Float(2.0)),
            ("h", Node::Float(1e21)),
            ("i", s("<<")),
            ("j", Node::Float(-0.0)),
        ]);
        assert_eq!(
            marshal(&n).unwrap(),
            "a: |\n  multi\n  line\nb:\n  x:\n  - 1\n  - \"2\"\n  - \"y\": \"n\"\nc: \"\"\nd: ': x'\ne: []\nf: \"x\\ty\"\ng: 2\nh: 1e+21\ni: <<\nj: 0\n"
        );
    }

    #[test]
    fn folds_long_plain_strings() {
        let long = format!("{} bbb ccc", "a".repeat(84));
        assert_eq!(
            marshal(&map(vec![("k", s(&long))])).unwrap(),
            format!("k: {}\n  bbb ccc\n", "a".repeat(84))
        );
    }

    #[test]
    fn unicode_as_go_yaml_writes_it() {
        // Recorded from `kubectl kustomize` and `helm template` (toYaml).
        let out = |v: &str| marshal(&map(vec![("a", s(v))])).unwrap();
        assert_eq!(out("smile \u{1F600}"), "a: \"smile \\U0001F600\"\n");
        assert_eq!(out("\u{FEFF}bom"), "a: \"\\uFEFF\\x62\\x6F\\x6D\"\n");
        assert_eq!(out("x\u{FEFF}y"), "a: \"x\\uFEFFy\"\n");
        assert_eq!(out("e\u{85}x"), "a: e x\n");
        assert_eq!(out("nbsp\u{A0}x"), "a: nbsp\u{A0}x\n");
        assert_eq!(out("x\u{AD}y"), "a: x\u{AD}y\n");
        assert_eq!(out("a \u{85}\u{85} b"), "a: |-\n  a\n  b\n");
        let nel_key = Node::Map(vec![
            (Cow::Borrowed("b"), s("\u{85}")),
            (Cow::Borrowed("a"), s("\u{85}\u{85}")),
            (Cow::Borrowed("k\u{85}y"), s("v")),
        ]);
        assert_eq!(
            marshal(&nel_key).unwrap_err().to_string(),
            "yaml: line 4: did not find expected ',' or '}'"
        );
        assert_eq!(marshal(&s("\u{7F}")), Err(MarshalError::ControlCharacters));
        assert_eq!(
            marshal(&Node::Float(f64::INFINITY))
                .unwrap_err()
                .to_string(),
            "json: unsupported value: +Inf"
        );
    }

    #[test]
    fn long_keys_are_complex() {
        let k = "k".repeat(129);
        assert_eq!(
            marshal(&map(vec![(&k, Node::Int(1))])).unwrap(),
            format!("? {k}\n: 1\n")
        );
        // 128 bytes in 64 characters: still too long for a simple key
        let k = "é".repeat(65);
        assert!(
            marshal(&map(vec![(&k, Node::Int(1))]))
                .unwrap()
                .starts_with("? ")
        );
    }
}
