//! Lexer and parser for Go `text/template` syntax.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use crate::value::Value;

/// A parse error: template name, line and message (Go's `template: NAME:LINE: MSG`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("template: {name}:{line}: {msg}")]
pub struct ParseError {
    /// The file (parse name) being parsed.
    pub name: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

/// A name in a template (a field, variable or function), or a constant's spelling: short
/// ones, nearly all of them, are held inline rather than each in an allocation of its own.
pub type Name = smol_str::SmolStr;

/// A parsed template body.
#[derive(Debug)]
pub struct Tree {
    /// The template's name (a file or a `define` name).
    pub name: String,
    /// The file the text came from (for error positions).
    pub parse_name: Rc<str>,
    /// The full source text of that file (shared with the file's bytes when it was parsed
    /// with [`parse_shared`]).
    pub text: Arc<str>,
    /// The body.
    pub root: Box<[Node]>,
}

impl Tree {
    /// `file:line:col` of a byte position, as Go's `ErrorContext`.
    pub fn location(&self, pos: usize) -> (usize, usize) {
        let pos = pos.min(self.text.len());
        let before = &self.text[..pos];
        let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
        let col = match before.rfind('\n') {
            Some(i) => pos - (i + 1),
            None => pos,
        };
        (line, col)
    }
}

/// A node of a template body.
///
/// Nodes are kept small (everything but text and `break`/`continue` is boxed, and every
/// list is a boxed slice of its exact length): a chart's trees are most of a render's
/// memory, and each page of it costs a page fault.
#[derive(Debug)]
pub enum Node {
    /// Literal text: a byte range of the tree's source text.
    Text(u32, u32),
    /// `{{pipeline}}`.
    Action(Box<Pipe>),
    /// `{{if}}`.
    If(Box<Branch>),
    /// `{{range}}`.
    Range(Box<Branch>),
    /// `{{with}}`.
    With(Box<Branch>),
    /// `{{template "name" pipeline}}`.
    Template(Box<Call>),
    /// `{{break}}`.
    Break(usize),
    /// `{{continue}}`.
    Continue(usize),
}

/// `{{template "name" pipeline}}`.
#[derive(Debug)]
pub struct Call {
    /// Position of the name.
    pub pos: usize,
    /// The template's name.
    pub name: String,
    /// The argument pipeline.
    pub pipe: Option<Pipe>,
}

/// A control structure.
#[derive(Debug)]
pub struct Branch {
    /// Position of the keyword.
    pub pos: usize,
    /// The condition pipeline.
    pub pipe: Pipe,
    /// The body.
    pub list: Box<[Node]>,
    /// The `else` body.
    pub else_list: Option<Box<[Node]>>,
}

/// A pipeline, possibly declaring or assigning variables.
#[derive(Debug)]
pub struct Pipe {
    /// Position.
    pub pos: usize,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    /// Declared variables.
    pub decl: Box<[Name]>,
    /// Commands joined by `|`.
    pub cmds: Box<[Cmd]>,
}

/// One command of a pipeline.
#[derive(Debug)]
pub struct Cmd {
    /// Position.
    pub pos: usize,
    /// Operands.
    pub args: Box<[Arg]>,
}

/// An operand.
#[derive(Debug)]
pub enum Arg {
    /// `.A.B`
    Field(usize, Box<[Name]>),
    /// `$x.A.B`
    Var(usize, Name, Box<[Name]>),
    /// A function name.
    Ident(usize, Name),
    /// `.`
    Dot(usize),
    /// `nil`
    Nil(usize),
    /// A constant (bool, number, string) and how it was written.
    Const(usize, Value, Literal),
    /// `(pipe).A.B` or another operand followed by fields.
    Chain(usize, Box<Arg>, Box<[Name]>),
    /// `(pipe)`
    Pipe(usize, Box<Pipe>),
}

/// How a constant was written, for messages that quote it. The common spellings are told
/// by the value (a string literal is the commonest operand: no second copy of its text).
#[derive(Debug)]
pub enum Literal {
    /// `true` or `false`.
    Bool,
    /// A string between double quotes without escapes: `"` + the value + `"`.
    Quoted,
    /// A string between backquotes: `` ` `` + the value + `` ` ``.
    Raw,
    /// Anything else, as written.
    Source(Name),
}

impl Arg {
    /// Byte position in the source.
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field(p, _)
            | Arg::Var(p, _, _)
            | Arg::Ident(p, _)
            | Arg::Dot(p)
            | Arg::Nil(p)
            | Arg::Const(p, _, _)
            | Arg::Chain(p, _, _)
            | Arg::Pipe(p, _) => *p,
        }
    }
}

impl fmt::Display for Node {
    /// Go's `String` of a node, as error contexts print it (`{{template "x" .}}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Template(call) => {
                let Call { name, pipe, .. } = &**call;
                write!(f, "{{{{template {}", super::fmt::go_quote(name))?;
                if let Some(p) = pipe {
                    write!(f, " {p}")?;
                }
                f.write_str("}}")
            }
            Node::Action(p) => write!(f, "{{{{{p}}}}}"),
            Node::Break(_) => f.write_str("{{break}}"),
            Node::Continue(_) => f.write_str("{{continue}}"),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field(_, fs) => {
                for x in fs {
                    write!(f, ".{x}")?;
                }
                Ok(())
            }
            Arg::Var(_, v, fs) => {
                write!(f, "{v}")?;
                for x in fs {
                    write!(f, ".{x}")?;
                }
                Ok(())
            }
            Arg::Ident(_, n) => write!(f, "{n}"),
            Arg::Dot(_) => write!(f, "."),
            Arg::Nil(_) => write!(f, "nil"),
            Arg::Const(_, v, lit) => match (lit, v) {
                (Literal::Source(t), _) => write!(f, "{t}"),
                (Literal::Quoted, Value::Str(s)) => write!(f, "\"{s}\""),
                (Literal::Raw, Value::Str(s)) => write!(f, "`{s}`"),
                (_, Value::Bool(b)) => write!(f, "{b}"),
                (_, v) => write!(f, "{v:?}"),
            },
            Arg::Chain(_, a, fs) => {
                if let Arg::Pipe(..) = **a {
                    write!(f, "{a}")?;
                } else {
                    write!(f, "{a}")?;
                }
                for x in fs {
                    write!(f, ".{x}")?;
                }
                Ok(())
            }
            Arg::Pipe(_, p) => write!(f, "({p})"),
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            for (i, d) in self.decl.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{d}")?;
            }
            write!(f, " {} ", if self.is_assign { "=" } else { ":=" })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                write!(f, " | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Text(u32, u32),
    LeftDelim,
    RightDelim,
    Space,
    Field(&'a str), // name without dot
    Var(&'a str),   // including $
    Ident(&'a str),
    Keyword(&'static str),
    Dot,
    Bool(bool),
    Nil,
    Number(&'a str),
    // (the source of quoted strings and characters only, read again for their values: a
    // token list takes seven bytes per byte of template text at 56 bytes a token, 32 so)
    Str(&'a str),
    Char(&'a str),
    Declare,
    Assign,
    Pipe,
    LParen,
    RParen,
    Comma,
    Eof,
}

// (a token with its position takes 32 bytes)
const _: () = assert!(std::mem::size_of::<Tok>() <= 24);

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    toks: Vec<(Tok<'a>, usize)>,
    name: &'a str,
    paren_depth: usize,
}

const KEYWORDS: &[&str] = &[
    "block", "break", "continue", "define", "else", "end", "if", "range", "template", "with",
];

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Lexer<'a> {
    fn line_of(&self, pos: usize) -> usize {
        1 + self.src[..pos.min(self.src.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
    }

    fn err(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            name: self.name.to_string(),
            line: self.line_of(pos),
            msg: msg.into(),
        }
    }

    fn run(mut self) -> Result<Vec<(Tok<'a>, usize)>, ParseError> {
        let b = self.src.as_bytes();
        let mut trim_next = false;
        loop {
            // text
            let start = self.pos;
            let next = find_open(&b[self.pos..]).map(|i| i + self.pos);
            let end = next.unwrap_or(self.src.len());
            let mut text = &self.src[start..end];
            if trim_next {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            let mut trim_left = false;
            if let Some(n) = next
                && b.len() > n + 3
                && b[n + 2] == b'-'
                && is_space(b[n + 3])
            {
                trim_left = true;
            }
            if trim_left {
                text = text.trim_end_matches([' ', '\t', '\r', '\n']);
            }
            if !text.is_empty() {
                let s = text.as_ptr() as usize - self.src.as_ptr() as usize;
                self.toks
                    .push((Tok::Text(s as u32, (s + text.len()) as u32), start));
            }
            let Some(n) = next else { break };
            self.pos = n + 2;
            if trim_left {
                self.pos += 2;
            }
            // comment
            if self.src[self.pos..].starts_with("/*") {
                let Some(e) = self.src[self.pos + 2..].find("*/") else {
                    return Err(self.err(n, "unclosed comment"));
                };
                let mut q = self.pos + 2 + e + 2;
                trim_next = false;
                if self.src[q..].starts_with(" -}}")
                    || self.src[q..].starts_with("\t-}}")
                    || self.src[q..].starts_with("\n-}}")
                    || self.src[q..].starts_with("\r-}}")
                {
                    trim_next = true;
                    q += 4;
                } else if self.src[q..].starts_with("}}") {
                    q += 2;
                } else {
                    return Err(self.err(n, "comment ends before closing delimiter"));
                }
                self.pos = q;
                continue;
            }
            self.toks.push((Tok::LeftDelim, n));
            trim_next = self.action()?;
        }
        self.toks.push((Tok::Eof, self.src.len()));
        Ok(self.toks)
    }

    /// Lexes inside an action; returns whether the closing delimiter trims.
    fn action(&mut self) -> Result<bool, ParseError> {
        let b = self.src.as_bytes();
        self.paren_depth = 0;
        loop {
            if self.pos >= b.len() {
                return Err(self.err(self.pos, "unclosed action"));
            }
            let c = b[self.pos];
            let start = self.pos;
            // right delim with trim
            if is_space(c) {
                let mut q = self.pos;
                while q < b.len() && is_space(b[q]) {
                    q += 1;
                }
                if self.src[q..].starts_with("-}}") && q > self.pos {
                    self.toks.push((Tok::RightDelim, q));
                    self.pos = q + 3;
                    return Ok(true);
                }
                self.toks.push((Tok::Space, start));
                self.pos = q;
                continue;
            }
            if self.src[self.pos..].starts_with("}}") {
                if self.paren_depth > 0 {
                    return Err(self.err(self.pos, "unclosed left paren"));
                }
                self.toks.push((Tok::RightDelim, self.pos));
                self.pos += 2;
                return Ok(false);
            }
            match c {
                b'|' => {
                    self.toks.push((Tok::Pipe, start));
                    self.pos += 1;
                }
                b'(' => {
                    self.paren_depth += 1;
                    self.toks.push((Tok::LParen, start));
                    self.pos += 1;
                }
                b')' => {
                    if self.paren_depth == 0 {
                        return Err(self.err(start, "unexpected right paren"));
                    }
                    self.paren_depth -= 1;
                    self.toks.push((Tok::RParen, start));
                    self.pos += 1;
                }
                b',' => {
                    self.toks.push((Tok::Comma, start));
                    self.pos += 1;
                }
                b':' => {
                    if b.get(self.pos + 1) == Some(&b'=') {
                        self.toks.push((Tok::Declare, start));
                        self.pos += 2;
                    } else {
                        return Err(self.err(start, "expected :="));
                    }
                }
                b'=' => {
                    self.toks.push((Tok::Assign, start));
                    self.pos += 1;
                }
                b'"' => {
                    let mut q = self.pos + 1;
                    loop {
                        match b.get(q) {
                            None | Some(b'\n') => {
                                return Err(self.err(start, "unterminated quoted string"));
                            }
                            Some(b'\\') => q += 2,
                            Some(b'"') => break,
                            _ => q += 1,
                        }
                    }
                    let srcs = &self.src[start..=q];
                    if srcs[1..srcs.len() - 1].contains('\\') && unquote(srcs).is_none() {
                        return Err(self.err(start, format!("invalid syntax: {srcs}")));
                    }
                    self.toks.push((Tok::Str(srcs), start));
                    self.pos = q + 1;
                }
                b'`' => {
                    let Some(e) = self.src[self.pos + 1..].find('`') else {
                        return Err(self.err(start, "unterminated raw quoted string"));
                    };
                    let srcs = &self.src[start..self.pos + 2 + e];
                    self.toks.push((Tok::Str(srcs), start));
                    self.pos += e + 2;
                }
                b'\'' => {
                    let mut q = self.pos + 1;
                    loop {
                        match b.get(q) {
                            None | Some(b'\n') => {
                                return Err(self.err(start, "unterminated character constant"));
                            }
                            Some(b'\\') => q += 2,
                            Some(b'\'') => break,
                            _ => q += 1,
                        }
                    }
                    let srcs = &self.src[start..=q];
                    match char_value(srcs) {
                        Err(CharError::Invalid) => {
                            return Err(self.err(start, "invalid char constant"));
                        }
                        Err(CharError::Malformed) => {
                            return Err(
                                self.err(start, format!("malformed character constant: {srcs}"))
                            );
                        }
                        Ok(_) => {}
                    }
                    self.toks.push((Tok::Char(srcs), start));
                    self.pos = q + 1;
                }
                b'$' => {
                    let mut q = self.pos + 1;
                    while q < b.len()
                        && (b[q].is_ascii_alphanumeric() || b[q] == b'_' || b[q] >= 0x80)
                    {
                        q += 1;
                    }
                    self.toks.push((Tok::Var(&self.src[start..q]), start));
                    self.pos = q;
                }
                b'.' => {
                    if b.get(self.pos + 1).is_some_and(|c| c.is_ascii_digit()) {
                        self.number()?;
                    } else {
                        let mut q = self.pos + 1;
                        while q < b.len()
                            && (b[q].is_ascii_alphanumeric() || b[q] == b'_' || b[q] >= 0x80)
                        {
                            q += 1;
                        }
                        if q == self.pos + 1 {
                            self.toks.push((Tok::Dot, start));
                        } else {
                            self.toks.push((Tok::Field(&self.src[start + 1..q]), start));
                        }
                        self.pos = q;
                    }
                }
                b'+' | b'-' | b'0'..=b'9' => self.number()?,
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                    let mut q = self.pos;
                    while q < b.len()
                        && (b[q].is_ascii_alphanumeric() || b[q] == b'_' || b[q] >= 0x80)
                    {
                        q += 1;
                    }
                    let w = &self.src[start..q];
                    let tok = match w {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => match KEYWORDS.iter().find(|k| **k == w) {
                            Some(k) => Tok::Keyword(k),
                            None => Tok::Ident(w),
                        },
                    };
                    self.toks.push((tok, start));
                    self.pos = q;
                }
                _ => {
                    let ch = self.src[self.pos..].chars().next().unwrap_or('?');
                    return Err(self.err(start, format!("unexpected {ch:?} in command")));
                }
            }
        }
    }

    fn number(&mut self) -> Result<(), ParseError> {
        let b = self.src.as_bytes();
        let start = self.pos;
        let mut q = self.pos;
        if q < b.len() && (b[q] == b'+' || b[q] == b'-') {
            q += 1;
        }
        while q < b.len()
            && (b[q].is_ascii_alphanumeric()
                || b[q] == b'.'
                || b[q] == b'_'
                || ((b[q] == b'+' || b[q] == b'-')
                    && matches!(b[q - 1], b'e' | b'E' | b'p' | b'P')))
        {
            q += 1;
        }
        let text = &self.src[start..q];
        if text == "+" || text == "-" {
            return Err(self.err(start, format!("bad number syntax: {text:?}")));
        }
        self.toks.push((Tok::Number(text), start));
        self.pos = q;
        Ok(())
    }
}

/// Go's `strconv.Unquote` for a double-quoted string.
pub fn unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut it = inner.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = it.next()?;
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let h: String = (0..n).filter_map(|_| it.next()).collect();
                let v = u32::from_str_radix(&h, 16).ok()?;
                if e == 'x' {
                    // a byte; keep ASCII, map others to their Latin-1 char (lossy)
                    out.push(char::from_u32(v)?);
                } else {
                    out.push(char::from_u32(v)?);
                }
            }
            '0'..='7' => {
                let mut h = String::from(e);
                for _ in 0..2 {
                    h.push(it.next()?);
                }
                let v = u32::from_str_radix(&h, 8).ok()?;
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Parses a Go number literal as the template parser does (int if integral syntax).
pub fn parse_number(text: &str) -> Option<Value> {
    let clean = text.replace('_', "");
    if let Some(r) = gitops_go::num::parse_i64(&clean) {
        return Some(Value::Int(r));
    }
    let digits = clean.trim_start_matches(['-', '+']);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // integer syntax that does not fit int64
        return None;
    }
    let lower = clean.to_ascii_lowercase();
    if lower.starts_with("0x") || lower.starts_with("-0x") || lower.starts_with("+0x") {
        return None;
    }
    if lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    let f: f64 = clean.strip_prefix('+').unwrap_or(&clean).parse().ok()?;
    // Go: a float constant with an integral value is also usable as int; we keep float
    Some(Value::Float(f))
}

// ---------------------------------------------------------------------------------------
// Parser

/// A set of parsed templates keyed by name.
pub type Set = HashMap<String, Rc<Tree>>;

struct Parser<'a> {
    toks: Vec<(Tok<'a>, usize)>,
    i: usize,
    name: &'a str,
    text: Arc<str>,
    parse_name: Rc<str>,
    defs: Vec<Tree>,
    funcs: &'a dyn Fn(&str) -> bool,
    vars: Vec<Vec<&'a str>>,
    range_depth: usize,
    // Nodes, commands and operands being collected, innermost last: each list, pipeline and
    // command takes its own from the top when done, as a slice of its exact length (no
    // growing and shrinking of a vector per list).
    nodes: Vec<Node>,
    cmds: Vec<Cmd>,
    args: Vec<Arg>,
}

enum End {
    Done,
    Else(usize),
    Eof,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok<'a> {
        &self.toks[self.i].0
    }
    fn pos(&self) -> usize {
        self.toks[self.i].1
    }
    fn next(&mut self) -> (Tok<'a>, usize) {
        let t = self.toks[self.i].clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn next_non_space(&mut self) -> (Tok<'a>, usize) {
        self.peek_non_space();
        self.next()
    }
    fn peek_non_space(&mut self) -> &Tok<'a> {
        while matches!(self.peek(), Tok::Space) {
            self.i += 1;
        }
        self.peek()
    }
    fn err(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        let line = 1 + self.text[..pos.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count();
        ParseError {
            name: self.parse_name.to_string(),
            line,
            msg: msg.into(),
        }
    }

    fn list(&mut self, top: bool) -> Result<(Box<[Node]>, End), ParseError> {
        let start = self.nodes.len();
        loop {
            let (t, pos) = self.next();
            match t {
                Tok::Eof => {
                    if !top {
                        return Err(self.err(pos, "unexpected EOF"));
                    }
                    return Ok((self.nodes.drain(start..).collect(), End::Eof));
                }
                Tok::Text(s, e) => self.nodes.push(Node::Text(s, e)),
                Tok::LeftDelim => {
                    let (t2, p2) = self.next_non_space();
                    match t2 {
                        Tok::Keyword("end") => {
                            self.expect_right("end")?;
                            if top {
                                return Err(self.err(p2, "unexpected {{end}}"));
                            }
                            return Ok((self.nodes.drain(start..).collect(), End::Done));
                        }
                        Tok::Keyword("else") => {
                            if top {
                                return Err(self.err(p2, "unexpected {{else}}"));
                            }
                            return Ok((self.nodes.drain(start..).collect(), End::Else(p2)));
                        }
                        Tok::Keyword("define") => {
                            if !top {
                                return Err(self.err(p2, "unexpected <define> in command"));
                            }
                            self.define(p2)?;
                        }
                        Tok::Keyword("block") => {
                            let n = self.block(p2)?;
                            self.nodes.push(n);
                        }
                        Tok::Keyword(k @ ("if" | "range" | "with")) => {
                            let n = self.control(k, p2)?;
                            self.nodes.push(n);
                        }
                        Tok::Keyword("template") => {
                            let n = self.template(p2)?;
                            self.nodes.push(n);
                        }
                        Tok::Keyword("break") => {
                            if self.range_depth == 0 {
                                return Err(self.err(p2, "{{break}} outside {{range}}"));
                            }
                            self.expect_right("break")?;
                            self.nodes.push(Node::Break(p2));
                        }
                        Tok::Keyword("continue") => {
                            if self.range_depth == 0 {
                                return Err(self.err(p2, "{{continue}} outside {{range}}"));
                            }
                            self.expect_right("continue")?;
                            self.nodes.push(Node::Continue(p2));
                        }
                        _ => {
                            self.i -= 1;
                            let pipe = self.pipeline("command", true)?;
                            self.nodes.push(Node::Action(Box::new(pipe)));
                        }
                    }
                }
                t => return Err(self.err(pos, format!("unexpected {t:?}"))),
            }
        }
    }

    fn expect_right(&mut self, ctx: &str) -> Result<(), ParseError> {
        let (t, p) = self.next_non_space();
        if !matches!(t, Tok::RightDelim) {
            return Err(self.err(p, format!("unexpected {} in {ctx}", tok_desc(&t))));
        }
        Ok(())
    }

    fn string_const(&mut self, ctx: &str) -> Result<String, ParseError> {
        let (t, p) = self.next_non_space();
        match t {
            Tok::Str(src) => Ok(string_value(src).into_owned()),
            t => Err(self.err(p, format!("unexpected {} in {ctx}", tok_desc(&t)))),
        }
    }

    fn define(&mut self, pos: usize) -> Result<(), ParseError> {
        let name = self.string_const("define clause")?;
        self.expect_right("define clause")?;
        self.vars.push(vec!["$"]);
        let saved = self.range_depth;
        self.range_depth = 0;
        let (list, end) = self.list(false)?;
        self.range_depth = saved;
        self.vars.pop();
        if !matches!(end, End::Done) {
            return Err(self.err(pos, "unexpected else in define"));
        }
        self.defs.push(Tree {
            name,
            parse_name: self.parse_name.clone(),
            text: self.text.clone(),
            root: list,
        });
        Ok(())
    }

    fn block(&mut self, pos: usize) -> Result<Node, ParseError> {
        self.peek_non_space();
        let name_pos = self.toks[self.i].1;
        let name = self.string_const("block clause")?;
        let pipe = self.pipeline("block clause", true)?;
        self.vars.push(vec!["$"]);
        let (list, end) = self.list(false)?;
        self.vars.pop();
        if !matches!(end, End::Done) {
            return Err(self.err(pos, "unexpected else in block"));
        }
        self.defs.push(Tree {
            name: name.clone(),
            parse_name: self.parse_name.clone(),
            text: self.text.clone(),
            root: list,
        });
        Ok(Node::Template(Box::new(Call {
            pos: name_pos,
            name,
            pipe: Some(pipe),
        })))
    }

    fn template(&mut self, _pos: usize) -> Result<Node, ParseError> {
        // Go places the node at its name
        self.peek_non_space();
        let pos = self.toks[self.i].1;
        let name = self.string_const("template clause")?;
        let pipe = if matches!(self.peek_non_space(), Tok::RightDelim) {
            self.next();
            None
        } else {
            Some(self.pipeline("template clause", true)?)
        };
        Ok(Node::Template(Box::new(Call { pos, name, pipe })))
    }

    fn control(&mut self, kind: &'static str, pos: usize) -> Result<Node, ParseError> {
        let mark = self.vars.last().map(|v| v.len()).unwrap_or(0);
        let pipe = self.pipeline(kind, true)?;
        if kind == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.list(false)?;
        if kind == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            End::Done => None,
            End::Else(epos) => {
                // else if / else with chaining
                let t = self.peek_non_space().clone();
                if matches!(
                    (kind, &t),
                    ("if", Tok::Keyword("if")) | ("with", Tok::Keyword("with"))
                ) {
                    self.next();
                    let inner = self.control_chain(kind, epos)?;
                    Some(Box::new([inner]) as Box<[Node]>)
                } else {
                    self.expect_right("else")?;
                    let (l, e2) = self.list(false)?;
                    if !matches!(e2, End::Done) {
                        return Err(self.err(epos, "expected end; found else"));
                    }
                    Some(l)
                }
            }
            End::Eof => return Err(self.err(pos, "unexpected EOF")),
        };
        if let Some(v) = self.vars.last_mut() {
            v.truncate(mark);
        }
        let b = Box::new(Branch {
            pos,
            pipe,
            list,
            else_list,
        });
        Ok(match kind {
            "if" => Node::If(b),
            "range" => Node::Range(b),
            _ => Node::With(b),
        })
    }

    /// `{{else if ...}}`: parsed as a nested if that consumes the shared `{{end}}`.
    fn control_chain(&mut self, kind: &'static str, pos: usize) -> Result<Node, ParseError> {
        self.control(kind, pos)
    }

    fn pipeline(&mut self, ctx: &str, allow_decl: bool) -> Result<Pipe, ParseError> {
        let pos = {
            self.peek_non_space();
            self.pos()
        };
        let mut decl = Vec::new();
        let mut is_assign = false;
        // declarations
        if allow_decl && let Tok::Var(_) = self.peek() {
            let save = self.i;
            let mut names = Vec::new();
            loop {
                let (t, _) = self.next_non_space();
                let Tok::Var(v) = t else { break };
                names.push(v);
                match self.peek_non_space() {
                    Tok::Comma if ctx == "range" && names.len() < 2 => {
                        self.next();
                        continue;
                    }
                    Tok::Declare | Tok::Assign => {
                        let (t, _) = self.next();
                        is_assign = matches!(t, Tok::Assign);
                        decl = std::mem::take(&mut names);
                        break;
                    }
                    _ => {
                        names.clear();
                        break;
                    }
                }
            }
            if decl.is_empty() {
                self.i = save;
            } else if !is_assign {
                if let Some(v) = self.vars.last_mut() {
                    v.extend_from_slice(&decl);
                }
            } else {
                for d in &decl {
                    self.check_var(d, pos)?;
                }
            }
        }
        let start = self.cmds.len();
        loop {
            let (t, p) = {
                let t = self.peek_non_space().clone();
                (t, self.pos())
            };
            match t {
                Tok::RightDelim | Tok::RParen => {
                    if matches!(t, Tok::RightDelim) {
                        self.next();
                    }
                    if self.cmds.len() == start {
                        return Err(self.err(p, format!("missing value for {ctx}")));
                    }
                    break;
                }
                Tok::Eof => return Err(self.err(p, format!("unclosed action in {ctx}"))),
                _ => {
                    let c = self.command()?;
                    self.cmds.push(c);
                }
            }
        }
        Ok(Pipe {
            pos,
            is_assign,
            decl: decl.iter().map(|d| Name::new(*d)).collect(),
            cmds: self.cmds.drain(start..).collect(),
        })
    }

    fn check_var(&self, name: &str, pos: usize) -> Result<(), ParseError> {
        let known = self.vars.last().is_some_and(|v| v.contains(&name));
        if !known {
            return Err(self.err(pos, format!("undefined variable \"{name}\"")));
        }
        Ok(())
    }

    fn command(&mut self) -> Result<Cmd, ParseError> {
        let pos = {
            self.peek_non_space();
            self.pos()
        };
        let start = self.args.len();
        loop {
            self.peek_non_space();
            let a = self.operand()?;
            match a {
                Some(a) => self.args.push(a),
                None => {
                    let (t, p) = self.next();
                    return Err(self.err(p, format!("unexpected {} in operand", tok_desc(&t))));
                }
            }
            // after an operand: space, pipe, right delim or paren
            match self.peek().clone() {
                Tok::Space => {
                    let t = self.peek_non_space().clone();
                    match t {
                        Tok::RightDelim | Tok::RParen => break,
                        Tok::Pipe => {
                            self.next();
                            break;
                        }
                        _ => continue,
                    }
                }
                Tok::RightDelim | Tok::RParen => break,
                Tok::Pipe => {
                    self.next();
                    break;
                }
                t => {
                    let p = self.pos();
                    return Err(self.err(p, format!("unexpected {} in operand", tok_desc(&t))));
                }
            }
        }
        if self.args.len() == start {
            return Err(self.err(pos, "empty command"));
        }
        Ok(Cmd {
            pos,
            args: self.args.drain(start..).collect(),
        })
    }

    fn operand(&mut self) -> Result<Option<Arg>, ParseError> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if let Tok::Field(_) = self.peek() {
            // Go places a chain at its first added field
            let pos = self.toks[self.i].1;
            let mut fields = Vec::new();
            while let Tok::Field(f) = *self.peek() {
                self.next();
                fields.push(Name::new(f));
            }
            let join = |fs: Box<[Name]>| -> Box<[Name]> {
                let mut all = fs.into_vec();
                all.extend(fields.iter().cloned());
                all.into_boxed_slice()
            };
            return Ok(Some(match term {
                Arg::Field(_, fs) => Arg::Field(pos, join(fs)),
                Arg::Var(_, v, fs) => Arg::Var(pos, v, join(fs)),
                Arg::Const(p, ..) | Arg::Nil(p) | Arg::Dot(p) => {
                    return Err(
                        self.err(p, format!("unexpected . after term {:?}", term.to_string()))
                    );
                }
                t => Arg::Chain(pos, Box::new(t), fields.into_boxed_slice()),
            }));
        }
        Ok(Some(term))
    }

    fn term(&mut self) -> Result<Option<Arg>, ParseError> {
        let (t, p) = self.next_non_space();
        Ok(Some(match t {
            Tok::Ident(n) => {
                if !(self.funcs)(n) {
                    return Err(self.err(p, format!("function \"{n}\" not defined")));
                }
                Arg::Ident(p, Name::new(n))
            }
            Tok::Dot => Arg::Dot(p),
            Tok::Nil => Arg::Nil(p),
            Tok::Var(v) => {
                self.check_var(v, p)?;
                Arg::Var(p, Name::new(v), Box::default())
            }
            Tok::Field(f) => Arg::Field(p, Box::new([Name::new(f)])),
            Tok::Bool(b) => Arg::Const(p, Value::Bool(b), Literal::Bool),
            Tok::Number(n) => {
                let v = parse_number(n)
                    .ok_or_else(|| self.err(p, format!("illegal number syntax: {n:?}")))?;
                Arg::Const(p, v, Literal::Source(Name::new(n)))
            }
            Tok::Char(s) => {
                let c = char_value(s).unwrap_or_default();
                Arg::Const(p, Value::Int(c), Literal::Source(Name::new(s)))
            }
            Tok::Str(src) => {
                let s = string_value(src);
                // the value is the text between the quotes exactly when it was not unescaped
                let lit = match (&s, src.as_bytes().first()) {
                    (Cow::Borrowed(_), Some(b'"')) => Literal::Quoted,
                    (Cow::Borrowed(_), Some(b'`')) => Literal::Raw,
                    _ => Literal::Source(Name::new(src)),
                };
                Arg::Const(p, Value::from(&*s), lit)
            }
            Tok::LParen => {
                let pipe = self.pipeline("parenthesized pipeline", false)?;
                let (t, p2) = self.next_non_space();
                if !matches!(t, Tok::RParen) {
                    return Err(self.err(
                        p2,
                        format!("unclosed left paren: unexpected {}", tok_desc(&t)),
                    ));
                }
                Arg::Pipe(p, Box::new(pipe))
            }
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        }))
    }
}

/// The value of a quoted string token checked by the lexer: the text between its quotes,
/// unescaped (`"`) or without carriage returns (`` ` ``).
fn string_value(src: &str) -> Cow<'_, str> {
    let inner = &src[1..src.len() - 1];
    if src.starts_with('`') {
        if inner.contains('\r') {
            Cow::Owned(inner.replace('\r', ""))
        } else {
            Cow::Borrowed(inner)
        }
    } else if inner.contains('\\') {
        Cow::Owned(unquote(src).unwrap_or_default())
    } else {
        Cow::Borrowed(inner)
    }
}

/// Why a character constant does not read.
enum CharError {
    Invalid,
    Malformed,
}

/// The value of a character constant (`'a'`, `'\n'`).
fn char_value(src: &str) -> Result<i64, CharError> {
    let inner = format!("\"{}\"", &src[1..src.len() - 1]);
    let v = unquote(&inner).ok_or(CharError::Invalid)?;
    let mut it = v.chars();
    match (it.next(), it.next()) {
        (Some(ch), None) => Ok(ch as i64),
        _ => Err(CharError::Malformed),
    }
}

fn tok_desc(t: &Tok) -> String {
    match t {
        Tok::RightDelim => "\"}}\"".into(),
        Tok::Eof => "EOF".into(),
        Tok::Keyword(k) => format!("<{k}>"),
        Tok::Ident(i) => format!("<{i}>"),
        Tok::Str(s) => s.to_string(),
        Tok::Char(s) => format!("{s:?}"),
        Tok::Number(n) => format!("<{n}>"),
        Tok::Pipe => "\"|\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::Comma => "\",\"".into(),
        t => format!("{t:?}"),
    }
}

/// Parses `text` (from file `name`) into its main tree and the trees it `define`s.
pub fn parse(
    name: &str,
    text: &str,
    funcs: &dyn Fn(&str) -> bool,
) -> Result<(Tree, Vec<Tree>), ParseError> {
    parse_text(name, Arc::from(text), funcs)
}

/// [`parse`] of a file's bytes, the trees keeping those bytes as their text rather than a
/// copy (when they are UTF-8; Go reads other bytes as U+FFFD, in a copy).
pub fn parse_shared(
    name: &str,
    data: &Arc<[u8]>,
    funcs: &dyn Fn(&str) -> bool,
) -> Result<(Tree, Vec<Tree>), ParseError> {
    let text: Arc<str> = if std::str::from_utf8(data).is_ok() {
        let raw = Arc::into_raw(data.clone()) as *const str;
        // SAFETY: `str` has the layout of `[u8]`, the pointer comes from `Arc::into_raw` of
        // an `Arc<[u8]>` whose bytes were just checked to be UTF-8, and bytes behind a shared
        // `Arc` cannot change while this one holds a count (what `From<Arc<str>> for
        // Arc<[u8]>` relies on in the other direction).
        unsafe { Arc::from_raw(raw) }
    } else {
        Arc::from(String::from_utf8_lossy(data).as_ref())
    };
    parse_text(name, text, funcs)
}

fn parse_text(
    name: &str,
    shared: Arc<str>,
    funcs: &dyn Fn(&str) -> bool,
) -> Result<(Tree, Vec<Tree>), ParseError> {
    let text: &str = &shared;
    let toks = Lexer {
        src: text,
        pos: 0,
        // about one token per 8 bytes in charts' templates; growing the vector by doubling
        // copied it several times
        toks: Vec::with_capacity(text.len() / 8),
        name,
        paren_depth: 0,
    }
    .run()?;
    let rc_text = shared.clone();
    let parse_name: Rc<str> = Rc::from(name);
    let mut p = Parser {
        toks,
        i: 0,
        name,
        text: rc_text.clone(),
        parse_name: parse_name.clone(),
        defs: Vec::new(),
        funcs,
        vars: vec![vec!["$"]],
        range_depth: 0,
        nodes: Vec::new(),
        cmds: Vec::new(),
        args: Vec::new(),
    };
    let (root, _) = p.list(true)?;
    let _ = p.name;
    Ok((
        Tree {
            name: name.to_string(),
            parse_name,
            text: rc_text,
            root,
        },
        p.defs,
    ))
}

/// Whether a tree has no content other than whitespace text (Go's `IsEmptyTree`).
pub fn is_empty_tree(tree: &Tree) -> bool {
    tree.root.iter().all(|n| match n {
        Node::Text(s, e) => tree
            .text
            .get(*s as usize..*e as usize)
            .is_none_or(|t| t.trim().is_empty()),
        _ => false,
    })
}

/// The position of the next `{{` in `b`.
fn find_open(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(k) = crate::scan::find(b'{', &b[i..]) {
        let at = i + k;
        if b.get(at + 1) == Some(&b'{') {
            return Some(at);
        }
        i = at + 1;
    }
    None
}
