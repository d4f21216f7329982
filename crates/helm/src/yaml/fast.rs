//! A quick reader for the plain block YAML that values files, `Chart.yaml`s and rendered
//! manifests are nearly always written in, giving the nodes [`super::Builder`] would build
//! from the full parser's events, or nothing when the text holds anything it does not read
//! itself; the full parser then reads the text (and gives the errors: this reader never
//! fails, it declines).
//!
//! It reads block mappings and sequences (indentless ones included), comments, plain and
//! quoted scalars (over several lines too), literal block scalars (`|`, `|-`), empty flow
//! mappings and flow sequences of scalars on one line. It declines anchors, aliases, tags,
//! directives, complex keys, other flow collections, folded and kept (`|+`) block scalars,
//! tabs, carriage returns, byte-order marks, non-printable characters, document markers but
//! a first `---`, and whatever is indented where YAML would fail or read it another way.
//! Without aliases no document can be excessively aliased, and without collections as keys
//! nothing else in [`super::Builder`]'s checks applies but the non-finite floats it notes.
//! Its tests check it against the full parser on the conformance corpus and on millions of
//! random edits of it.
//!
//! The full parser spends most of its time skipping comments character by character and
//! queuing tokens (values files are mostly comments): this reader is about three times as
//! fast on the corpus's values files.

use super::{Node, non_finite};

/// The reader declines the text.
struct Decline;

type R<T> = Result<T, Decline>;

/// Which nodes are built (the others are read past and checked).
#[derive(Clone, Copy, PartialEq)]
enum Keep {
    All,
    /// A manifest's head: of a root mapping only the entries [`super::Builder::head_map`]
    /// keeps; of a root sequence nothing.
    Head,
    None,
}

/// The documents of `text` as [`super::parse_docs`] gives them, and whether a non-finite
/// float was seen; `None` when the full parser must read it.
pub(super) fn parse(text: &str, keep_all: bool) -> Option<(Vec<Option<Node>>, bool)> {
    if !plain_text(text) {
        return None;
    }
    let mut r = Reader {
        s: text,
        b: text.as_bytes(),
        i: 0,
        odd: false,
    };
    let keep = if keep_all { Keep::All } else { Keep::Head };
    let root = r.document(keep).ok()?;
    Some((root.map(Some).into_iter().collect(), r.odd))
}

/// Whether the text holds only what the reader can take: printable characters, line feeds
/// as the only breaks (no tab, carriage return, byte-order mark, nor the characters YAML 1.1
/// reads as line breaks).
fn plain_text(text: &str) -> bool {
    let b = text.as_bytes();
    // (in blocks, without stopping early: the compiler makes it a vector loop)
    let printable_ascii = |c: u8| c.wrapping_sub(0x20) < 0x5f || c == b'\n';
    if b.chunks(256)
        .all(|chunk| chunk.iter().fold(true, |ok, &c| ok & printable_ascii(c)))
    {
        return true;
    }
    // (valid UTF-8: a lead byte is followed by its continuation bytes)
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    b.iter().enumerate().all(|(i, &c)| match c {
        0..0x20 => c == b'\n',
        0x7f => false,
        // U+0080 to U+009F (NEL among them)
        0xc2 => at(i + 1) >= 0xa0,
        // U+2028, U+2029
        0xe2 => !(at(i + 1) == 0x80 && matches!(at(i + 2), 0xa8 | 0xa9)),
        // U+FEFF, U+FFFE, U+FFFF
        0xef => {
            !((at(i + 1) == 0xbb && at(i + 2) == 0xbf) || (at(i + 1) == 0xbf && at(i + 2) >= 0xbe))
        }
        _ => true,
    })
}

struct Reader<'a> {
    s: &'a str,
    b: &'a [u8],
    /// The position read up to.
    i: usize,
    /// A non-finite float was seen.
    odd: bool,
}

impl<'a> Reader<'a> {
    fn byte(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(b'\n')
    }

    /// The end of the line holding `i` (its line feed, or the end of the text).
    fn line_end(&self, i: usize) -> usize {
        crate::scan::find(b'\n', &self.b[i.min(self.b.len())..]).map_or(self.b.len(), |n| i + n)
    }

    /// The start of the line holding `i`.
    fn line_start(&self, i: usize) -> usize {
        crate::scan::rfind(b'\n', &self.b[..i]).map_or(0, |n| n + 1)
    }

    /// Moves to the next line that holds content (not blank, not only a comment), to its
    /// start, and gives its indentation; `None` at the end of the text. A document marker
    /// declines.
    fn next_content(&mut self) -> R<Option<usize>> {
        let mut i = self.i;
        if i > 0 && self.b.get(i - 1) != Some(&b'\n') {
            i = self.line_end(i) + 1;
        }
        while i < self.b.len() {
            let mut j = i;
            while self.byte(j) == b' ' {
                j += 1;
            }
            match self.byte(j) {
                b'\n' => i = j + 1,
                b'#' => i = self.line_end(j) + 1,
                _ => {
                    if j == i && self.marker(i) {
                        return Err(Decline);
                    }
                    self.i = i;
                    return Ok(Some(j - i));
                }
            }
        }
        self.i = self.b.len();
        Ok(None)
    }

    /// Whether a document marker (`---` or `...` then a space or the end of the line)
    /// starts at `i`.
    fn marker(&self, i: usize) -> bool {
        let m = &self.b[i..self.b.len().min(i + 3)];
        (m == b"---" || m == b"...") && matches!(self.byte(i + 3), b' ' | b'\n')
    }

    /// Whether the rest of the line from `i` is blank or a comment (after a blank).
    fn rest_is_empty(&self, mut i: usize) -> bool {
        let start = i;
        while self.byte(i) == b' ' {
            i += 1;
        }
        match self.byte(i) {
            b'\n' => true,
            b'#' => i > start,
            _ => false,
        }
    }

    /// The document: its root node, none for a stream without content.
    fn document(&mut self, keep: Keep) -> R<Option<Node>> {
        // a `---` on the first line that is not blank or a comment, alone
        let mut i = 0;
        while i < self.b.len() {
            let e = self.line_end(i);
            let line = &self.b[i..e];
            match line.iter().position(|&c| c != b' ') {
                Some(n) if line[n] != b'#' => {
                    if line.starts_with(b"---") && self.rest_is_empty(i + 3) {
                        self.i = e;
                        if self.next_content()?.is_none() {
                            return Err(Decline);
                        }
                    }
                    break;
                }
                _ => i = e + 1,
            }
        }
        let Some(ind) = self.next_content()? else {
            return Ok(None);
        };
        let at = self.i + ind;
        if matches!(self.byte(at), b'|' | b'>') {
            return Err(Decline);
        }
        let root = self.node(at, -1, keep)?;
        if self.next_content()?.is_some() {
            return Err(Decline);
        }
        Ok(Some(root))
    }

    /// The node starting at `at` (its column is where it starts) whose parent is indented
    /// `parent` (a collection's own column; -1 for the root).
    fn node(&mut self, at: usize, parent: isize, keep: Keep) -> R<Node> {
        let col = at - self.line_start(at);
        if self.is_dash(at) {
            self.i = at;
            let keep = if keep == Keep::Head { Keep::None } else { keep };
            return self.sequence(col, keep);
        }
        if let Some(colon) = self.key_end(at) {
            self.i = at;
            return self.mapping(col, colon, keep);
        }
        // (of a root sequence a manifest's head keeps nothing)
        let keep = match (keep, self.byte(at)) {
            (Keep::Head, b'[') => Keep::None,
            (Keep::Head, _) => Keep::All,
            (k, _) => k,
        };
        self.inline(at, parent, keep)
    }

    /// Whether a block sequence entry (`-` then a blank or the end of the line) is at `i`.
    fn is_dash(&self, i: usize) -> bool {
        self.byte(i) == b'-' && matches!(self.byte(i + 1), b' ' | b'\n')
    }

    /// A block sequence at column `col`, read from its first `-` at `self.i`.
    fn sequence(&mut self, col: usize, keep: Keep) -> R<Node> {
        let mut items = Vec::new();
        loop {
            let mut j = self.i + 1;
            while self.byte(j) == b' ' {
                j += 1;
            }
            // (`is_dash`: a blank or the end of the line after the `-`)
            let item = if matches!(self.byte(j), b'\n' | b'#') {
                self.i = j;
                self.below(col, false, keep)?
            } else {
                self.node(j, col as isize, keep)?
            };
            if keep != Keep::None {
                items.push(item);
            }
            match self.next_content()? {
                Some(ind) if ind == col && self.is_dash(self.i + ind) => self.i += ind,
                Some(ind) if ind > col => return Err(Decline),
                _ => return Ok(Node::Seq(items)),
            }
        }
    }

    /// A block mapping at column `col`, read from its first key at `self.i`, whose `:` is
    /// at `colon`.
    fn mapping(&mut self, col: usize, mut colon: usize, keep: Keep) -> R<Node> {
        let mut items = Vec::new();
        loop {
            let key = self.key(self.i, colon, keep != Keep::None)?;
            let value_keep = match keep {
                Keep::Head => {
                    let wanted = match &key {
                        Node::Scalar(t, plain, None) => {
                            (*plain && t == "<<")
                                || ["kind", "apiversion", "metadata"]
                                    .contains(&super::key_string(&key).to_lowercase().as_str())
                        }
                        _ => false,
                    };
                    if wanted { Keep::All } else { Keep::None }
                }
                k => k,
            };
            let mut j = colon + 1;
            while self.byte(j) == b' ' {
                j += 1;
            }
            // (`key_end`: a blank or the end of the line after the `:`)
            let value = if matches!(self.byte(j), b'\n' | b'#') {
                self.i = j;
                self.below(col, true, value_keep)?
            } else if self.is_dash(j) || self.key_end(j).is_some() {
                return Err(Decline);
            } else {
                self.inline(j, col as isize, value_keep)?
            };
            if value_keep != Keep::None {
                items.push((key, value));
            }
            match self.next_content()? {
                Some(ind) if ind == col => {
                    self.i += ind;
                    colon = self.key_end(self.i).ok_or(Decline)?;
                }
                Some(ind) if ind > col => return Err(Decline),
                _ => return Ok(Node::Map(items)),
            }
        }
    }

    /// The node on the lines below an entry of the collection at column `col` whose line
    /// ends at `self.i`: a node indented more, an indentless sequence (after a mapping's
    /// key), or an empty scalar.
    fn below(&mut self, col: usize, indentless: bool, keep: Keep) -> R<Node> {
        self.i = self.line_end(self.i);
        match self.next_content()? {
            Some(ind) if ind > col => self.node(self.i + ind, col as isize, keep),
            // (`keep` is never `Head` here: only a root mapping's entries are chosen)
            Some(ind) if indentless && ind == col && self.is_dash(self.i + ind) => {
                self.i += ind;
                self.sequence(col, keep)
            }
            // (the next entry, or the parent's, is read from there)
            _ => Ok(self.scalar_node("~", true, keep)),
        }
    }

    fn scalar_node(&mut self, text: &str, plain: bool, keep: Keep) -> Node {
        if plain && non_finite(text, true, None) {
            self.odd = true;
        }
        if keep == Keep::None {
            return Node::Seq(Vec::new());
        }
        Node::Scalar(text.to_string(), plain, None)
    }

    /// A node that is not a block collection: a plain or quoted scalar, a flow collection,
    /// a literal block scalar. Its parent is indented `parent`: lines below indented more
    /// continue it, or decline.
    fn inline(&mut self, at: usize, parent: isize, keep: Keep) -> R<Node> {
        let node = match self.byte(at) {
            b'"' | b'\'' => {
                let (text, end) = self.quoted(at, Some(parent))?;
                if !self.rest_is_empty(end) {
                    return Err(Decline);
                }
                self.i = self.line_end(end);
                self.scalar_node(&text, false, keep)
            }
            b'[' => {
                let (items, end) = self.flow_sequence(at, keep)?;
                self.i = self.line_end(end);
                Node::Seq(items)
            }
            b'{' => {
                let mut j = at + 1;
                while self.byte(j) == b' ' {
                    j += 1;
                }
                if self.byte(j) != b'}' || !self.rest_is_empty(j + 1) {
                    return Err(Decline);
                }
                self.i = self.line_end(j);
                match keep {
                    Keep::None => Node::Seq(Vec::new()),
                    _ => Node::Map(Vec::new()),
                }
            }
            b'|' => return self.literal(at, parent, keep),
            _ => {
                let end = self.plain_end(at)?;
                self.i = self.line_end(end);
                // (a comment ends the scalar)
                let more = if self.b[end..self.i].contains(&b'#') {
                    None
                } else {
                    self.continued(parent)?
                };
                match more {
                    None => self.scalar_node(&self.s[at..end], true, keep),
                    Some(more) => {
                        let text = format!("{}{more}", &self.s[at..end]);
                        self.scalar_node(&text, true, keep)
                    }
                }
            }
        };
        // a line below indented more than the parent would continue the scalar
        if let Some(ind) = self.next_content()?
            && ind as isize > parent
        {
            return Err(Decline);
        }
        Ok(node)
    }

    /// The lines that continue a plain scalar whose line ends at `self.i`, folded as YAML
    /// folds them (a line break between two lines reads as a space, each empty line
    /// between them as a line break): the lines below indented more than the scalar's
    /// `parent`, up to an empty line's end, a comment or a line indented less. `self.i` is
    /// left at the end of the last one. Lines that could be read otherwise decline.
    fn continued(&mut self, parent: isize) -> R<Option<String>> {
        let mut more: Option<String> = None;
        let mut empty = 0;
        let mut i = self.i + 1;
        while i < self.b.len() {
            let e = self.line_end(i);
            let line = &self.b[i..e];
            let n = line.iter().take_while(|&&c| c == b' ').count();
            if n == line.len() {
                empty += 1;
                i = e + 1;
                continue;
            }
            if n as isize <= parent || line[n] == b'#' {
                break;
            }
            if n == 0 && self.marker(i) {
                return Err(Decline);
            }
            let at = i + n;
            let end = self.plain_end(at)?;
            if self.b[end..e].contains(&b'#') {
                // a comment ends the scalar; what follows it is its parent's
                return Err(Decline);
            }
            let more = more.get_or_insert_with(String::new);
            if empty == 0 {
                more.push(' ');
            }
            for _ in 0..empty {
                more.push('\n');
            }
            empty = 0;
            more.push_str(&self.s[at..end]);
            self.i = e;
            i = e + 1;
        }
        Ok(more)
    }

    /// A flow sequence of scalars on one line from the `[` at `at`: its items and the
    /// position after its `]`. Nested collections, `:` (single-pair mappings), comments,
    /// empty or trailing entries decline.
    fn flow_sequence(&mut self, at: usize, keep: Keep) -> R<(Vec<Node>, usize)> {
        let mut items = Vec::new();
        let mut j = at + 1;
        let skip = |r: &Self, mut j: usize| {
            while r.byte(j) == b' ' {
                j += 1;
            }
            j
        };
        j = skip(self, j);
        if self.byte(j) == b']' {
            return if self.rest_is_empty(j + 1) {
                Ok((items, j + 1))
            } else {
                Err(Decline)
            };
        }
        loop {
            let (text, plain, end) = match self.byte(j) {
                b'"' | b'\'' => {
                    let (text, end) = self.quoted(j, None)?;
                    (text, false, end)
                }
                _ => {
                    // (in a flow, `-` must be followed by a safe character)
                    if !self.plain_start(j)
                        || (self.byte(j) == b'-'
                            && matches!(self.byte(j + 1), b',' | b'[' | b']' | b'{' | b'}'))
                    {
                        return Err(Decline);
                    }
                    let mut end = j;
                    loop {
                        match self.byte(end) {
                            b',' | b']' | b'\n' => break,
                            b'[' | b'{' | b'}' | b':' | b'#' => return Err(Decline),
                            _ => end += 1,
                        }
                    }
                    while self.byte(end - 1) == b' ' {
                        end -= 1;
                    }
                    (self.s[j..end].to_string(), true, end)
                }
            };
            let node = self.scalar_node(&text, plain, keep);
            if keep != Keep::None {
                items.push(node);
            }
            j = skip(self, end);
            match self.byte(j) {
                b',' => {
                    j = skip(self, j + 1);
                    if matches!(self.byte(j), b']' | b',') {
                        return Err(Decline);
                    }
                }
                b']' if self.rest_is_empty(j + 1) => return Ok((items, j + 1)),
                _ => return Err(Decline),
            }
        }
    }

    /// Where a plain scalar starting at `at` ends on its line (trailing blanks and a
    /// comment left out); declines what is not a plain scalar or could be read otherwise.
    fn plain_end(&self, at: usize) -> R<usize> {
        if !self.plain_start(at) {
            return Err(Decline);
        }
        let line_end = self.line_end(at);
        let line = &self.b[at..line_end];
        let mut end = line.len();
        for (k, &b) in line.iter().enumerate() {
            match b {
                b':' if matches!(line.get(k + 1), None | Some(b' ')) => return Err(Decline),
                b'#' if line[k - 1] == b' ' => {
                    end = k;
                    break;
                }
                _ => {}
            }
        }
        while end > 0 && line[end - 1] == b' ' {
            end -= 1;
        }
        Ok(at + end)
    }

    /// Whether a plain scalar may start at `at` (`-` only before a non-blank; the other
    /// indicators, and `?` and `:`, which could start one too, are left to the full parser).
    fn plain_start(&self, at: usize) -> bool {
        match self.byte(at) {
            b'-' => !matches!(self.byte(at + 1), b' ' | b'\n'),
            b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
            | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' | b' ' | b'\n' => false,
            _ => true,
        }
    }

    /// If a key (plain or quoted, on one line, then `:` and a blank or the end of the
    /// line) starts at `at`: the position of its `:`.
    fn key_end(&self, at: usize) -> Option<usize> {
        match self.byte(at) {
            b'"' | b'\'' => {
                let (_, end) = self.quoted(at, None).ok()?;
                let mut j = end;
                while self.byte(j) == b' ' {
                    j += 1;
                }
                (self.byte(j) == b':' && matches!(self.byte(j + 1), b' ' | b'\n')).then_some(j)
            }
            _ => {
                let line = &self.b[at..self.line_end(at)];
                let mut k = 0;
                while let Some(n) = crate::scan::find2(b':', b'#', &line[k..]) {
                    let p = k + n;
                    if line[p] == b'#' {
                        if p > 0 && line[p - 1] == b' ' {
                            return None;
                        }
                    } else if matches!(line.get(p + 1), None | Some(b' ')) {
                        return Some(at + p);
                    }
                    k = p + 1;
                }
                None
            }
        }
    }

    /// The key starting at `at` whose `:` ([`Reader::key_end`]) is at `colon`, built if
    /// `build`; declines a key YAML would not take as an implicit key, or that is not a
    /// plain scalar's start.
    fn key(&mut self, at: usize, colon: usize, build: bool) -> R<Node> {
        if colon - at >= 1024 {
            return Err(Decline);
        }
        let node = match self.byte(at) {
            b'"' | b'\'' if !build => Node::Seq(Vec::new()),
            b'"' | b'\'' => {
                let (text, _) = self.quoted(at, None)?;
                Node::Scalar(text, false, None)
            }
            _ => {
                // the plain key: up to the `:` less trailing blanks, a valid plain start
                let mut end = colon;
                while end > at && self.byte(end - 1) == b' ' {
                    end -= 1;
                }
                if end == at || !self.plain_start(at) {
                    return Err(Decline);
                }
                let keep = if build { Keep::All } else { Keep::None };
                self.scalar_node(&self.s[at..end], true, keep)
            }
        };
        Ok(node)
    }

    /// A quoted scalar starting at `at`: its text and the position after its closing quote.
    /// With `parent` (the indentation of the collection it is in) it may go on over the
    /// lines below indented more, folded as YAML folds them; without, it ends on its line.
    fn quoted(&self, at: usize, parent: Option<isize>) -> R<(String, usize)> {
        let q = self.byte(at);
        let mut out = String::new();
        // `out` up to here is kept whole: blanks before a line break are dropped only after it
        let mut kept = 0;
        let mut i = at + 1;
        loop {
            let rest = &self.b[i.min(self.b.len())..];
            let n = if q == b'"' {
                crate::scan::find3(b'"', b'\\', b'\n', rest)
            } else {
                crate::scan::find2(b'\'', b'\n', rest)
            }
            .ok_or(Decline)?;
            let p = i + n;
            out.push_str(&self.s[i..p]);
            match self.b[p] {
                b'\'' if self.byte(p + 1) == b'\'' => {
                    out.push('\'');
                    kept = out.len();
                    i = p + 2;
                }
                b'\'' | b'"' => return Ok((out, p + 1)),
                b'\\' => {
                    let e = self.byte(p + 1);
                    if e == b'\n' {
                        // an escaped line break: nothing, and the next line's indentation
                        let parent = parent.ok_or(Decline)?;
                        let next = p + 2;
                        let mut k = next;
                        while self.byte(k) == b' ' {
                            k += 1;
                        }
                        if k >= self.b.len() || self.b[k] == b'\n' || (k - next) as isize <= parent
                        {
                            return Err(Decline);
                        }
                        kept = out.len();
                        i = k;
                        continue;
                    }
                    // (after an ASCII escape letter: `p + 2` is a character boundary)
                    let hex = |n: usize| -> R<char> {
                        let digits = self.b.get(p + 2..p + 2 + n).ok_or(Decline)?;
                        let mut v = 0u32;
                        for &d in digits {
                            v = v * 16 + char::from(d).to_digit(16).ok_or(Decline)?;
                        }
                        char::from_u32(v).ok_or(Decline)
                    };
                    let (c, len) = match e {
                        b'0' => ('\0', 0),
                        b'a' => ('\x07', 0),
                        b'b' => ('\x08', 0),
                        b't' => ('\t', 0),
                        b'n' => ('\n', 0),
                        b'v' => ('\x0b', 0),
                        b'f' => ('\x0c', 0),
                        b'r' => ('\r', 0),
                        b'e' => ('\x1b', 0),
                        b' ' => (' ', 0),
                        b'"' => ('"', 0),
                        b'/' => ('/', 0),
                        b'\\' => ('\\', 0),
                        b'x' => (hex(2)?, 2),
                        b'u' => (hex(4)?, 4),
                        b'U' => (hex(8)?, 8),
                        _ => return Err(Decline),
                    };
                    out.push(c);
                    kept = out.len();
                    i = p + 2 + len;
                }
                _ => {
                    // a line break: the blanks around it go; it reads as a space, or each
                    // empty line after it as a line break
                    let parent = parent.ok_or(Decline)?;
                    while out.len() > kept && out.ends_with(' ') {
                        out.pop();
                    }
                    let mut empty = 0;
                    let mut line = p + 1;
                    let k = loop {
                        let mut k = line;
                        while self.byte(k) == b' ' {
                            k += 1;
                        }
                        if k >= self.b.len() {
                            return Err(Decline);
                        }
                        if self.b[k] != b'\n' {
                            break k;
                        }
                        empty += 1;
                        line = k + 1;
                    };
                    if (k - line) as isize <= parent || (k == line && self.marker(line)) {
                        return Err(Decline);
                    }
                    if empty == 0 {
                        out.push(' ');
                    }
                    for _ in 0..empty {
                        out.push('\n');
                    }
                    kept = out.len();
                    i = k;
                }
            }
        }
    }

    /// A literal block scalar whose header (`|` or `|-`, then a blank or a comment) is at
    /// `at`, under a parent indented `parent`.
    fn literal(&mut self, at: usize, parent: isize, keep: Keep) -> R<Node> {
        let (strip, after) = match self.byte(at + 1) {
            b'-' => (true, at + 2),
            _ => (false, at + 1),
        };
        if !self.rest_is_empty(after) || (self.byte(after) == b'#') {
            return Err(Decline);
        }
        let mut i = self.line_end(at) + 1;
        // the content's indentation: the first line with more than blanks
        let mut indent = None;
        let mut j = i;
        while j < self.b.len() {
            let e = self.line_end(j);
            let line = &self.b[j..e];
            let n = line.iter().take_while(|&&c| c == b' ').count();
            if n < line.len() {
                indent = Some(n);
                break;
            }
            j = e + 1;
        }
        let indent = match indent {
            Some(n) if n as isize > parent => n,
            // nothing indented enough: an empty scalar, unless blank lines before the next
            // content have blanks (which could set its indentation)
            _ => {
                let len = self.b.len();
                if self.b[i.min(len)..j.min(len)].contains(&b' ') {
                    return Err(Decline);
                }
                self.i = j.min(self.b.len());
                let node = self.scalar_node("", false, keep);
                if let Some(ind) = self.next_content()?
                    && ind as isize > parent
                {
                    return Err(Decline);
                }
                return Ok(node);
            }
        };
        let mut text = String::new();
        let mut breaks = 0usize; // line breaks not yet written (trailing empty lines)
        while i < self.b.len() {
            let e = self.line_end(i);
            let line = &self.s[i..e];
            let n = line.bytes().take_while(|&c| c == b' ').count();
            if n == line.len() {
                if n > indent {
                    return Err(Decline);
                }
                breaks += 1;
            } else if n < indent {
                break;
            } else {
                if !text.is_empty() || breaks > 0 {
                    for _ in 0..breaks + usize::from(!text.is_empty()) {
                        text.push('\n');
                    }
                }
                breaks = 0;
                text.push_str(&line[indent..]);
            }
            if e == self.b.len() {
                i = e;
                break;
            }
            i = e + 1;
        }
        // a line break after the content (also at the end of the text), unless stripped;
        // the empty lines after it go
        if !strip {
            text.push('\n');
        }
        // the start of the line that ended the scalar
        self.i = i.min(self.b.len());
        let node = self.scalar_node(&text, false, keep);
        if let Some(ind) = self.next_content()?
            && ind as isize > parent
        {
            return Err(Decline);
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::super::full_parse;
    use super::*;

    /// The quick reader's promise: whatever it reads, the full parser reads the same.
    fn agrees(text: &str) -> Option<bool> {
        let mut read = false;
        for keep_all in [true, false] {
            if let Some(quick) = parse(text, keep_all) {
                read = true;
                let full = full_parse(text, keep_all, !keep_all);
                let Ok(full) = full else {
                    eprintln!("quick reader read what the parser refuses:\n{text}\n{full:?}");
                    return None;
                };
                if quick != full {
                    eprintln!("quick {quick:?}\nfull  {full:?}\nof\n{text}");
                    return None;
                }
            }
        }
        Some(read)
    }

    #[test]
    fn reads_what_it_takes_as_the_full_parser_reads_it() {
        let taken = [
            "",
            "# only a comment\n",
            "a: 1\nb: two\n",
            "---\na: 1\n",
            "--- # start\na: 1\n",
            "  a: 1\n  b: 2\n",
            "a:\n  b:\n    c: d\n  e: f\n",
            "a:\n- 1\n- two\n",
            "a:\n  - 1\n  - b: c\n    d: e\n",
            "- a\n- b: c\n  d:\n  - e\n- - f\n  - g\n-\n  h: i\n-\n",
            "a: # comment\n  b: c # comment\n# comment\n  # indented comment\nd: e\n",
            "a:\nb:\n",
            "a: 'it''s'\nb: \"q \\\"x\\\" \\n \\u00e9 \\x41 \\/\"\n'c d': 1\n\"e\": 2\n",
            "a: []\nb: {}\nc: [ ]\n",
            "a: -1\nb: .inf\nc: -.Inf\n.nan: x\n",
            "a: http://x:80/y\nb: a#b\nc: x # y\nd: 'v' # w\n",
            "a: |\n  line 1\n\n  line 3\n    more\nb: |-\n  x\n  y\n\nc: 1\n",
            "- |\n  x\n- |-\n  y\n",
            "a: |\n  no newline at the end",
            "a: |\n\n  after an empty line\n",
            "key: value\nother: 'quoted'   \n",
            "hello\n",
            "'quoted root'\n",
            "a: 1\n\n\n",
            "a: é ü 漢字 😀\n",
            "<<:\n  a: 1\nb: 2\n",
            "a: [1, two, \"three\", 'four', -5]\nb: [ x ]\n",
            "- [y]\n- []\n- [a, -b]\n",
            "a: some long text\n  goes on here\n\n  and after an empty line\nb: 1\n",
            "a:\n  below the key\n  and on\n",
            "- item\n  continued\n",
            "a: 'multi  \n  line'\nb: 'x\n\n   y'\n",
            "- 'a\n  b'\n",
            "a: \"folded \\\n  \\ escaped\\ \n  next\"\n",
            "a: |\nb: |-\n\nc: 1\n",
            "kind: Pod\nmetadata:\n  name: x\n  annotations:\n    a: b\nspec:\n  containers:\n  - name: c\n",
        ];
        for t in taken {
            assert_eq!(agrees(t), Some(true), "{t:?}");
        }
        let declined = [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: [1, [2]]\n",
            "a: [a: b]\n",
            "a: [1,]\n",
            "a: [1, 2\n",
            "a: x # comment\n  y\n",
            "a: x\n  y # comment\n",
            "a: {b: c}\n",
            "a: >\n  folded\n",
            "a: |+\n  kept\n\n",
            "a: |2\n   x\n",
            "a:\tb\n",
            "a: b\r\n",
            "\u{feff}a: b\n",
            "a: b\n---\nc: d\n",
            "%YAML 1.1\n---\na: b\n",
            "? a\n: b\n",
            "a: b: c\n",
            "a: - b\n",
            "---\n",
            "a: 1\n b: 2\n",
        ];
        for t in declined {
            assert!(parse(t, true).is_none(), "{t:?}");
            assert!(agrees(t).is_some(), "{t:?}");
        }
    }

    /// The YAML of the conformance corpora (`../shared`, skipped when absent): Helm's values
    /// files, `Chart.yaml`s, templates (which it mostly declines) and expected manifests,
    /// and kustomize's inputs and outputs.
    fn corpus() -> Vec<String> {
        let shared = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance");
        let mut out = Vec::new();
        let mut stack = vec![shared.join("helm"), shared.join("kustomize")];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml")
                    && let Ok(t) = std::fs::read_to_string(&p)
                {
                    if p.file_name().is_some_and(|n| n == "expected.yaml") {
                        out.extend(crate::render::split_manifests(&t));
                    } else {
                        out.push(t);
                    }
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn reads_the_corpus_as_the_full_parser_reads_it() {
        let texts = corpus();
        if texts.is_empty() {
            eprintln!("skipped: no conformance corpus at ../shared/conformance");
            return;
        }
        let mut read = 0;
        for t in &texts {
            match agrees(t) {
                Some(r) => read += usize::from(r),
                None => panic!("the quick reader and the parser differ"),
            }
        }
        eprintln!("quick reader took {read} of {} texts", texts.len());
        if std::env::var_os("FAST_YAML_DECLINED").is_some() {
            for t in &texts {
                if !t.contains("{{") && parse(t, true).is_none() {
                    eprintln!("=== declined:\n{t}");
                }
            }
        }
    }

    #[test]
    fn reads_edited_corpus_texts_as_the_full_parser_reads_them() {
        let texts = corpus();
        if texts.is_empty() {
            eprintln!("skipped: no conformance corpus at ../shared/conformance");
            return;
        }
        let rounds: usize = std::env::var("FAST_YAML_EDITS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000);
        let mut x: u64 = std::env::var("FAST_YAML_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let pieces = [
            " ", "  ", "\n", ":", ": ", "-", "- ", "#", " #", "'", "\"", "|", "|-", ">", "[", "]",
            "{", "}", ",", "a", "1", ".", "\\", "---", "&a", "*a", "!", "?", "\n  ", "~", "é",
            "\\u00", ".inf", "<<",
        ];
        // half the time from a text the quick reader takes whole
        let taken_whole: Vec<&String> = texts.iter().filter(|t| parse(t, true).is_some()).collect();
        let mut taken = 0;
        for round in 0..rounds {
            let t = if round % 2 == 0 {
                taken_whole[next(taken_whole.len())]
            } else {
                &texts[next(texts.len())]
            };
            // a short stretch around a random place, edited a few times
            let mut s: Vec<char> = t.chars().collect();
            if s.len() > 400 {
                let at = next(s.len() - 400);
                s = s[at..at + 400].to_vec();
            }
            for _ in 0..1 + next(3) {
                let at = next(s.len() + 1);
                match next(3) {
                    0 if at < s.len() => {
                        s.remove(at);
                    }
                    _ => {
                        let p = pieces[next(pieces.len())];
                        for (k, c) in p.chars().enumerate() {
                            s.insert(at + k, c);
                        }
                    }
                }
            }
            let s: String = s.into_iter().collect();
            match agrees(&s) {
                Some(r) => taken += usize::from(r),
                None => panic!("the quick reader and the parser differ on an edited text"),
            }
        }
        eprintln!("quick reader took {taken} of {rounds} edited texts");
    }
}
