//! Execution of parsed templates with Go's semantics.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use super::parse::{Arg, Branch, Cmd, Node, Pipe, Tree};
use crate::value::Value;

/// An error raised while executing a template, with Go's context.
///
/// Its [`Display`](fmt::Display) is Helm's report of it (`reformatExecErrorMsg`); Go's own
/// text is [`ExecError::go_string`].
#[derive(Debug, Clone)]
pub struct ExecError {
    /// `file:line:col` of the failing node.
    pub location: String,
    /// The template being executed.
    pub name: String,
    /// The failing node, printed.
    pub context: String,
    /// The message; when there is a cause, its text up to the cause's (for a failed
    /// function call: `error calling NAME: `).
    pub msg: String,
    /// The error the message wraps (Go's `%w`), if any.
    pub cause: Option<Box<Cause>>,
}

/// The error an [`ExecError`] wraps.
#[derive(Debug, Clone)]
pub enum Cause {
    /// A nested template execution failed (`include`): Go's `template: ...` error itself.
    Exec(ExecError),
    /// A function returned a plain error.
    Plain(String),
    /// A plain error text wrapping a template error (`tpl`'s `error during tpl function
    /// execution for "...": `).
    Wrapped(String, ExecError),
}

/// Helm's markers around `required`/`fail` messages (`warnWrap`).
pub const WARN_START: &str = "HELM_ERR_START";
/// See [`WARN_START`].
pub const WARN_END: &str = "HELM_ERR_END";

impl ExecError {
    /// Go's `template: LOC: executing "NAME" at <CTX>: MSG` without the cause.
    fn own(&self) -> String {
        format!(
            "template: {}: executing {:?} at <{}>: {}",
            self.location, self.name, self.context, self.msg
        )
    }

    /// The error text Go's `text/template` gives (`err.Error()`).
    pub fn go_string(&self) -> String {
        let mut out = String::new();
        let mut e = self;
        loop {
            out.push_str(&e.own());
            match e.cause.as_deref() {
                None => return out,
                Some(Cause::Plain(m)) => {
                    out.push_str(m);
                    return out;
                }
                Some(Cause::Exec(inner)) => e = inner,
                Some(Cause::Wrapped(p, inner)) => {
                    out.push_str(p);
                    e = inner;
                }
            }
        }
    }

    /// The texts of Go's unwrap chain, each cut to what Helm's parser of it reads: the
    /// error's own text and the start of its cause's. `None` marks a link Helm cannot parse.
    fn links(&self) -> Vec<Option<String>> {
        let mut v = Vec::new();
        let mut e = self;
        loop {
            let own = e.own();
            match e.cause.as_deref() {
                None => {
                    v.push(Some(own));
                    return v;
                }
                Some(Cause::Exec(inner)) => {
                    v.push(Some(format!("{own}template:")));
                    e = inner;
                }
                Some(Cause::Plain(m)) => {
                    v.push(Some(format!("{own}{m}")));
                    v.push(m.starts_with("template: ").then(|| m.clone()));
                    return v;
                }
                Some(Cause::Wrapped(p, _)) => {
                    v.push(Some(format!("{own}{p}")));
                    v.push(None);
                    return v;
                }
            }
        }
    }

    /// The text between Helm's `required`/`fail` markers anywhere in the chain.
    fn warning(&self) -> Option<String> {
        let s = self.go_string();
        let a = s.find(WARN_START)?;
        let b = s.rfind(WARN_END)?;
        (b >= a + WARN_START.len()).then(|| s[a + WARN_START.len()..b].to_string())
    }
}

/// One parsed link of Helm's error chain (`TraceableError`).
#[derive(PartialEq)]
struct Traceable {
    location: String,
    message: String,
    executed: String,
}

/// Helm's `parseTemplateExecErrorString`.
fn parse_link(s: &str) -> Option<Traceable> {
    let rest = s.strip_prefix("template: ")?;
    if rest.starts_with("no template ") {
        return Some(Traceable {
            location: String::new(),
            message: s.to_string(),
            executed: String::new(),
        });
    }
    let cut_msg = |m: &str| match m.find(" template:") {
        Some(i) => m[..i].to_string(),
        None => m.to_string(),
    };
    if let Some(i) = rest.find(": executing ") {
        let name = &rest[..i];
        let after = &rest[i + ": executing ".len()..];
        if let Some(after) = after.strip_prefix('"')
            && let Some(q) = after.find('"')
        {
            let func = &after[..q];
            if let Some(at) = after[q + 1..].strip_prefix(" at <")
                && let Some(j) = at.find(">: ")
            {
                return Some(Traceable {
                    location: name.to_string(),
                    message: cut_msg(&at[j + 3..]),
                    executed: format!("executing \"{func}\" at <{}>:", &at[..j]),
                });
            }
        }
        return None;
    }
    let sep = rest.rfind(": ")?;
    Some(Traceable {
        location: rest[..sep].to_string(),
        message: cut_msg(&rest[sep + 2..]),
        executed: String::new(),
    })
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(w) = self.warning() {
            return write!(f, "execution error at ({}): {w}", self.location);
        }
        let mut parsed: Vec<Traceable> = Vec::new();
        for l in self.links() {
            let Some(t) = l.as_deref().and_then(parse_link) else {
                return f.write_str(&self.go_string());
            };
            if parsed.last() != Some(&t) {
                parsed.push(t);
            }
        }
        let mut s = String::new();
        for t in &parsed {
            if !t.location.is_empty() {
                s.push_str(&t.location);
                s.push_str("\n  ");
            }
            if !t.executed.is_empty() {
                s.push_str(&t.executed);
                s.push_str("\n    ");
            }
            if !t.message.is_empty() {
                s.push_str(&t.message);
                s.push('\n');
            }
        }
        f.write_str(s.trim())
    }
}

impl std::error::Error for ExecError {}

/// How a function failed.
#[derive(Debug)]
pub enum FnErr {
    /// The function returned an error (`error calling NAME: ...`).
    Call(String),
    /// An argument has the wrong type (reported without `error calling`).
    Type(String),
    /// The wrong number of arguments (reported at the function's name).
    Arity(String),
    /// The argument at address `arg` (an element of the slice the function got) does not
    /// have the parameter type `want` (Go type name); `got` is its type.
    Arg {
        /// Address of the offending argument.
        arg: usize,
        /// The parameter's Go type.
        want: &'static str,
        /// The argument's Go type.
        got: String,
    },
    /// A nested template failed: with an empty prefix the template error itself
    /// (`include`), else a plain text wrapping it (`tpl`).
    Nested(String, Box<ExecError>),
    /// A plain error not tied to a template position (e.g. `tpl` parse errors).
    Plain(String),
}

impl From<String> for FnErr {
    fn from(s: String) -> Self {
        FnErr::Call(s)
    }
}
impl From<&str> for FnErr {
    fn from(s: &str) -> Self {
        FnErr::Call(s.to_string())
    }
}

/// A template function.
pub type Func = fn(&mut Exec, &[Value]) -> Result<Value, FnErr>;

/// FNV-1a, a fast hash for the short names of function and template tables.
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A hash map keyed by short names.
pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// Function table.
pub type FuncMap = FastMap<&'static str, Func>;

enum Flow {
    Normal,
    Break,
    Continue,
}

/// Go's maximum nesting of `{{template}}` calls within one execution (`maxExecDepth`).
pub const MAX_DEPTH: usize = 100_000;

/// Our limit on all nested executions (`template`, `include`, `tpl`, weighted by their
/// stack use), which keeps the stack (the renderer's thread has 512 MiB) bounded. Go's
/// limit counts `{{template}}` calls alone, afresh in each `include`/`tpl`: a recursion
/// that reaches ours but not Go's is reported as Go's depth error (`include`'s as Helm's
/// nested-reference error).
pub const MAX_NEST: usize = MAX_DEPTH + 1;

/// What a new execution (`include`, `tpl`) counts towards [`MAX_NEST`]: it takes about
/// that many times the stack of a `{{template}}` call.
pub const FRESH_NEST: usize = 4;

/// The most output one render may write, in bytes, counted over every template,
/// `include` and `tpl` (a chart that loops into gigabytes fails with a clear error
/// instead of exhausting the process's memory). Helm has no such limit; its release
/// Secret would refuse a manifest a fraction of this size anyway.
pub const MAX_OUTPUT: usize = 64 << 20;

/// The most template nodes one render may execute: a bound on the work of nested
/// `range`s over huge lists, which write little but never end. Real charts take a few
/// million.
pub const MAX_STEPS: u64 = 500_000_000;

/// The execution engine: template set, functions, and per-render state.
pub struct Exec {
    /// Parsed templates by name.
    pub set: FastMap<String, Rc<Tree>>,
    /// Templates defined by the `tpl` texts being run, innermost last per name (searched
    /// before [`Exec::set`]).
    pub overlay: FastMap<String, Vec<Rc<Tree>>>,
    /// Functions.
    pub funcs: Rc<FuncMap>,
    /// Nesting depth of `{{template}}` calls in the current execution (Go's `state.depth`).
    pub depth: usize,
    /// Nesting of all template executions (bounded by [`MAX_NEST`]).
    pub nest: usize,
    /// `include` counts per name (Helm's recursion guard).
    pub included: FastMap<String, usize>,
    /// Host data for functions (Helm's `.Files` etc. live in values; this holds settings).
    pub host: Rc<dyn std::any::Any>,
    /// Current template name (for `tpl`).
    pub current: Vec<Rc<Tree>>,
    /// Warnings (e.g. deprecations) collected while rendering.
    pub warnings: RefCell<Vec<String>>,
    /// Output bytes this render may still write (starts at [`MAX_OUTPUT`]).
    pub output_left: usize,
    /// Template nodes this render may still execute (starts at [`MAX_STEPS`]).
    pub steps_left: u64,
    /// Texts parsed while rendering (Helm's `tpl`), by text, with the `define`s in them:
    /// charts render the same few texts (labels, annotations) for every object.
    pub texts: FastMap<String, (Rc<Tree>, Vec<Rc<Tree>>)>,
}

struct State<'t> {
    tree: &'t Tree,
    vars: Vec<(super::parse::Name, Value)>,
    at_pos: usize,
    at: Option<&'t dyn fmt::Display>,
}

type R<T> = Result<T, ExecError>;

impl Exec {
    /// A new engine.
    pub fn new(funcs: Rc<FuncMap>, host: Rc<dyn std::any::Any>) -> Self {
        Exec {
            set: FastMap::default(),
            overlay: FastMap::default(),
            funcs,
            depth: 0,
            nest: 0,
            included: FastMap::default(),
            host,
            current: Vec::new(),
            warnings: RefCell::new(Vec::new()),
            output_left: MAX_OUTPUT,
            steps_left: MAX_STEPS,
            texts: FastMap::default(),
        }
    }

    /// Counts `written` output bytes and one executed node against the render's limits.
    fn spend(&mut self, st: &State, written: usize) -> R<()> {
        self.steps_left = self.steps_left.saturating_sub(1);
        self.output_left = self.output_left.saturating_sub(written);
        if self.steps_left == 0 {
            return Err(self.err(
                st,
                format!("template execution exceeded the limit of {MAX_STEPS} steps"),
            ));
        }
        if self.output_left == 0 {
            return Err(self.err(
                st,
                format!(
                    "rendered output exceeded the limit of {} MiB",
                    MAX_OUTPUT >> 20
                ),
            ));
        }
        Ok(())
    }

    /// Adds a tree; a template with an empty body does not replace a non-empty one.
    pub fn add(&mut self, tree: Tree) {
        if super::parse::is_empty_tree(&tree)
            && self
                .set
                .get(&tree.name)
                .is_some_and(|t| !super::parse::is_empty_tree(t))
        {
            return;
        }
        self.set.insert(tree.name.clone(), Rc::new(tree));
    }

    /// Looks a template up by name.
    pub fn lookup(&self, name: &str) -> Option<Rc<Tree>> {
        if !self.overlay.is_empty()
            && let Some(t) = self.overlay.get(name).and_then(|v| v.last())
        {
            return Some(t.clone());
        }
        self.set.get(name).cloned()
    }

    /// Lays templates over the set (a `tpl` text's), until [`Exec::pop_overlay`].
    pub fn push_overlay(&mut self, trees: &[Rc<Tree>]) {
        for t in trees {
            self.overlay
                .entry(t.name.clone())
                .or_default()
                .push(t.clone());
        }
    }

    /// Removes the templates [`Exec::push_overlay`] laid over the set.
    pub fn pop_overlay(&mut self, trees: &[Rc<Tree>]) {
        for t in trees {
            if let Some(v) = self.overlay.get_mut(&t.name) {
                v.pop();
                if v.is_empty() {
                    self.overlay.remove(&t.name);
                }
            }
        }
    }

    /// Whether a function exists (for parsing).
    pub fn has_func(&self, name: &str) -> bool {
        self.funcs.contains_key(name) || BUILTINS.contains(&name)
    }

    /// Executes the named template with `dot`, returning its output.
    pub fn execute(&mut self, name: &str, dot: Value) -> Result<String, ExecErrorOrMissing> {
        let Some(tree) = self.lookup(name) else {
            return Err(ExecErrorOrMissing::Missing(name.to_string()));
        };
        let mut out = String::new();
        self.run_fresh(&tree, dot, &mut out)
            .map_err(ExecErrorOrMissing::Exec)?;
        Ok(out)
    }

    /// Runs a tree with a fresh variable scope.
    pub fn run_tree(&mut self, tree: &Rc<Tree>, dot: Value, out: &mut String) -> R<()> {
        self.nest += 1;
        self.current.push(tree.clone());
        let mut st = State {
            tree,
            vars: vec![(super::parse::Name::new_static("$"), dot.clone())],
            at_pos: 0,
            at: None,
        };
        let r = self.walk_list(&mut st, &dot, &tree.root, out);
        self.current.pop();
        self.nest -= 1;
        r.map(|_| ())
    }

    /// Runs a tree as a new execution (Go's `Execute`: `include`, `tpl`), whose
    /// `{{template}}` depth starts again at zero.
    pub fn run_fresh(&mut self, tree: &Rc<Tree>, dot: Value, out: &mut String) -> R<()> {
        let depth = std::mem::replace(&mut self.depth, 0);
        self.nest += FRESH_NEST - 1;
        let r = self.run_tree(tree, dot, out);
        self.nest -= FRESH_NEST - 1;
        self.depth = depth;
        r
    }

    fn err(&self, st: &State, msg: impl Into<String>) -> ExecError {
        let (l, c) = st.tree.location(st.at_pos);
        ExecError {
            location: format!("{}:{l}:{c}", st.tree.parse_name),
            name: st.tree.name.clone(),
            context: st.at.map(|a| a.to_string()).unwrap_or_default(),
            msg: msg.into(),
            cause: None,
        }
    }

    fn at<'t>(&self, st: &mut State<'t>, pos: usize, ctx: &'t dyn fmt::Display) {
        st.at_pos = pos;
        st.at = Some(ctx);
    }

    fn walk_list<'t>(
        &mut self,
        st: &mut State<'t>,
        dot: &Value,
        list: &'t [Node],
        out: &mut String,
    ) -> R<Flow> {
        for n in list {
            // each node is a step; output is counted where it is written (text, actions),
            // not again in the nodes around it. One check here keeps `walk`'s frame small:
            // `{{template}}` recursion goes 100,000 deep.
            let before = out.len();
            let flow = self.walk(st, dot, n, out)?;
            let written = match n {
                Node::Text(..) | Node::Action(..) => out.len().saturating_sub(before),
                _ => 0,
            };
            self.spend(st, written)?;
            match flow {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk<'t>(
        &mut self,
        st: &mut State<'t>,
        dot: &Value,
        node: &'t Node,
        out: &mut String,
    ) -> R<Flow> {
        match node {
            Node::Text(s, e) => {
                out.push_str(st.tree.text.get(*s as usize..*e as usize).unwrap_or(""))
            }
            Node::Action(p) => {
                let v = self.pipeline(st, dot, p)?;
                if p.decl.is_empty() {
                    print_value(&v, out);
                }
            }
            Node::If(b) => return self.if_with(st, dot, b, false, out),
            Node::With(b) => return self.if_with(st, dot, b, true, out),
            Node::Range(b) => return self.range(st, dot, b, out),
            Node::Template(call) => {
                let super::parse::Call { pos, name, pipe } = &**call;
                self.at(st, *pos, node);
                let Some(tree) = self.lookup(name) else {
                    return Err(self.err(
                        st,
                        format!("template {} not defined", super::fmt::go_quote(name)),
                    ));
                };
                if self.depth >= MAX_DEPTH || self.nest >= MAX_NEST {
                    return Err(
                        self.err(st, format!("exceeded maximum template depth ({MAX_DEPTH})"))
                    );
                }
                let newdot = match pipe {
                    Some(p) => {
                        let mark = st.vars.len();
                        let v = self.pipeline(st, dot, p)?;
                        st.vars.truncate(mark);
                        v
                    }
                    None => Value::Nil,
                };
                self.depth += 1;
                let r = self.run_tree(&tree, newdot, out);
                self.depth -= 1;
                r?;
            }
            Node::Break(_) => return Ok(Flow::Break),
            Node::Continue(_) => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn if_with<'t>(
        &mut self,
        st: &mut State<'t>,
        dot: &Value,
        b: &'t Branch,
        with: bool,
        out: &mut String,
    ) -> R<Flow> {
        let mark = st.vars.len();
        let v = self.pipeline(st, dot, &b.pipe)?;
        let truth = v.truthy();
        let r = if truth {
            if with {
                self.walk_list(st, &v, &b.list, out)
            } else {
                self.walk_list(st, dot, &b.list, out)
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(st, dot, e, out)
        } else {
            Ok(Flow::Normal)
        };
        st.vars.truncate(mark);
        r
    }

    fn range<'t>(
        &mut self,
        st: &mut State<'t>,
        dot: &Value,
        b: &'t Branch,
        out: &mut String,
    ) -> R<Flow> {
        let mark = st.vars.len();
        let v = self.pipeline(st, dot, &b.pipe)?;
        // range declares its variables per iteration: remove the ones pipeline pushed
        st.vars.truncate(mark);
        let decl = &b.pipe.decl;
        let one = |this: &mut Self,
                   st: &mut State<'t>,
                   k: Value,
                   e: Value,
                   out: &mut String|
         -> R<bool> {
            this.spend(st, 0)?;
            let m = st.vars.len();
            if decl.len() == 1 {
                st.vars.push((decl[0].clone(), e.clone()));
            } else if decl.len() == 2 {
                st.vars.push((decl[0].clone(), k));
                st.vars.push((decl[1].clone(), e.clone()));
            }
            let f = this.walk_list(st, &e, &b.list, out)?;
            st.vars.truncate(m);
            Ok(matches!(f, Flow::Break))
        };
        let mut any = false;
        match &v {
            Value::List(l) => {
                for (i, e) in l.iter().enumerate() {
                    any = true;
                    if one(self, st, Value::Int(i as i64), e.clone(), out)? {
                        break;
                    }
                }
            }
            Value::Bytes(bs) => {
                for (i, e) in bs.iter().enumerate() {
                    any = true;
                    if one(self, st, Value::Int(i as i64), Value::Int(*e as i64), out)? {
                        break;
                    }
                }
            }
            Value::Map(m) => {
                let items: Vec<(String, Value)> = m
                    .borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                for (k, e) in items {
                    any = true;
                    if one(self, st, Value::from(k), e, out)? {
                        break;
                    }
                }
            }
            Value::Int(n) => {
                if decl.len() > 1 {
                    return Err(self.err(st, "can't use range over integer with two variables"));
                }
                for i in 0..*n {
                    any = true;
                    if one(self, st, Value::Int(i), Value::Int(i), out)? {
                        break;
                    }
                }
            }
            Value::Nil => {}
            Value::Object(o) if o.range_entries().is_some() => {
                for (k, e) in o.range_entries().unwrap_or_default() {
                    any = true;
                    if one(self, st, k, e, out)? {
                        break;
                    }
                }
            }
            other => {
                self.at(st, b.pos, &b.pipe);
                return Err(self.err(
                    st,
                    format!("range can't iterate over {}", other.to_go_string()),
                ));
            }
        }
        if !any && let Some(e) = &b.else_list {
            let r = self.walk_list(st, dot, e, out);
            st.vars.truncate(mark);
            return r;
        }
        st.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn pipeline<'t>(&mut self, st: &mut State<'t>, dot: &Value, p: &'t Pipe) -> R<Value> {
        let mut v: Option<Value> = None;
        for c in &p.cmds {
            let r = self.command(st, dot, c, v.take())?;
            v = Some(r);
        }
        let v = v.unwrap_or_default();
        if p.is_assign {
            for d in &p.decl {
                match st.vars.iter_mut().rev().find(|(n, _)| n == d) {
                    Some(slot) => slot.1 = v.clone(),
                    None => return Err(self.err(st, format!("undefined variable: {d}"))),
                }
            }
        } else {
            for d in &p.decl {
                st.vars.push((d.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn command<'t>(
        &mut self,
        st: &mut State<'t>,
        dot: &Value,
        c: &'t Cmd,
        fin: Option<Value>,
    ) -> R<Value> {
        let first = &c.args[0];
        match first {
            Arg::Field(pos, fields) => {
                self.at(st, *pos, first);
                self.field_chain(st, dot, dot.clone(), fields, &c.args[1..], fin)
            }
            Arg::Chain(pos, inner, fields) => {
                self.at(st, *pos, first);
                // Go reports errors of the fields wherever evaluating the operand stopped
                let recv = self.arg(st, dot, inner)?;
                self.field_chain(st, dot, recv, fields, &c.args[1..], fin)
            }
            Arg::Var(pos, name, fields) => {
                self.at(st, *pos, first);
                let v = self.var(st, name)?;
                if fields.is_empty() {
                    self.not_a_function(st, c, &fin)?;
                    return Ok(v);
                }
                self.field_chain(st, dot, v, fields, &c.args[1..], fin)
            }
            Arg::Ident(pos, name) => {
                self.at(st, *pos, name);
                self.call_func(st, dot, name, &c.args[1..], c.pos, c, fin)
            }
            Arg::Pipe(pos, p) => {
                self.at(st, *pos, first);
                self.not_a_function(st, c, &fin)?;
                let mark = st.vars.len();
                let v = self.pipeline(st, dot, p);
                st.vars.truncate(mark);
                v
            }
            Arg::Dot(pos) => {
                self.at(st, *pos, first);
                self.not_a_function(st, c, &fin)?;
                Ok(dot.clone())
            }
            Arg::Nil(pos) => {
                self.at(st, *pos, first);
                Err(self.err(st, "nil is not a command"))
            }
            Arg::Const(pos, v, _) => {
                self.at(st, *pos, first);
                self.not_a_function(st, c, &fin)?;
                Ok(v.clone())
            }
        }
    }

    fn not_a_function(&self, st: &State, c: &Cmd, fin: &Option<Value>) -> R<()> {
        if c.args.len() > 1 || fin.is_some() {
            return Err(self.err(
                st,
                format!("can't give argument to non-function {}", c.args[0]),
            ));
        }
        Ok(())
    }

    fn var(&self, st: &State, name: &str) -> R<Value> {
        match st.vars.iter().rev().find(|(n, _)| &**n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.err(st, format!("undefined variable: {name}"))),
        }
    }

    fn field_chain<'t>(
        &mut self,
        st: &mut State<'t>,
        dot: &Value,
        mut recv: Value,
        fields: &[super::parse::Name],
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        // A nil receiver coming from a pipeline, variable or dot is Go's invalid value:
        // field access on it yields nothing. Only nil found inside this chain is an error.
        if let Value::Nil = recv {
            return Ok(Value::Nil);
        }
        let n = fields.len();
        // a value read from a map has Go's static type `interface {}`
        let mut from_map = false;
        for (i, f) in fields.iter().enumerate() {
            let was_map = matches!(recv, Value::Map(_));
            if i + 1 < n {
                recv = self.field(st, dot, recv, f, &[], None, (false, from_map))?;
            } else {
                let has = !args.is_empty() || fin.is_some();
                return self.field(st, dot, recv, f, args, fin, (has, from_map));
            }
            from_map = was_map;
        }
        Ok(recv)
    }

    #[allow(clippy::too_many_arguments)]
    fn field<'t>(
        &mut self,
        st: &mut State<'t>,
        dot: &Value,
        recv: Value,
        name: &str,
        args: &'t [Arg],
        fin: Option<Value>,
        (has_args, from_map): (bool, bool),
    ) -> R<Value> {
        let type_name = |v: &Value| {
            if from_map {
                "interface {}".to_string()
            } else {
                v.type_name()
            }
        };
        match &recv {
            Value::Nil => {
                Err(self.err(st, format!("nil pointer evaluating interface {{}}.{name}")))
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.err(st, format!("{name} is not a method but has arguments")));
                }
                Ok(m.borrow().get(name).cloned().unwrap_or(Value::Nil))
            }
            Value::Object(o) => {
                if o.has_method(name) {
                    let mut vals = Vec::with_capacity(args.len() + 1);
                    for a in args {
                        vals.push(self.arg(st, dot, a)?);
                    }
                    if let Some(f) = fin {
                        vals.push(f);
                    }
                    return match o.call(name, &vals) {
                        Some(Ok(v)) => Ok(v),
                        Some(Err(e)) => {
                            let mut err = self.err(st, format!("error calling {name}: "));
                            err.cause = Some(Box::new(Cause::Plain(e.to_string())));
                            Err(err)
                        }
                        None => Err(self.err(
                            st,
                            format!("can't evaluate field {name} in type {}", o.type_name()),
                        )),
                    };
                }
                match o.field(name) {
                    Some(v) => {
                        if has_args {
                            return Err(self.err(
                                st,
                                format!("{name} has arguments but cannot be invoked as function"),
                            ));
                        }
                        Ok(v)
                    }
                    None => Err(self.err(
                        st,
                        format!("can't evaluate field {name} in type {}", type_name(&recv)),
                    )),
                }
            }
            other => Err(self.err(
                st,
                format!("can't evaluate field {name} in type {}", type_name(other)),
            )),
        }
    }

    fn arg<'t>(&mut self, st: &mut State<'t>, dot: &Value, a: &'t Arg) -> R<Value> {
        self.at(st, a.pos(), a);
        match a {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(Value::Nil),
            Arg::Const(_, v, _) => Ok(v.clone()),
            Arg::Field(_, fields) => self.field_chain(st, dot, dot.clone(), fields, &[], None),
            Arg::Var(_, name, fields) => {
                let v = self.var(st, name)?;
                self.field_chain(st, dot, v, fields, &[], None)
            }
            Arg::Chain(_, inner, fields) => {
                let v = self.arg(st, dot, inner)?;
                self.field_chain(st, dot, v, fields, &[], None)
            }
            Arg::Pipe(_, p) => {
                let mark = st.vars.len();
                let v = self.pipeline(st, dot, p);
                st.vars.truncate(mark);
                v
            }
            Arg::Ident(_, name) => self.call_func(st, dot, name, &[], a.pos(), a, None),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn call_func<'t>(
        &mut self,
        st: &mut State<'t>,
        dot: &Value,
        name: &str,
        argn: &'t [Arg],
        cpos: usize,
        c: &'t dyn fmt::Display,
        fin: Option<Value>,
    ) -> R<Value> {
        // short-circuit builtins
        if (name == "and" || name == "or") && !self.funcs.contains_key(name) {
            if argn.is_empty() && fin.is_none() {
                return Err(self.err(
                    st,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = Value::Nil;
            for a in argn {
                last = self.arg(st, dot, a)?;
                if last.truthy() == (name == "or") {
                    return Ok(last);
                }
            }
            if let Some(f) = fin {
                last = f;
            }
            return Ok(last);
        }
        let ident_at = (st.at_pos, st.at);
        let mut vals = Vec::with_capacity(argn.len() + 1);
        for a in argn {
            vals.push(self.arg(st, dot, a)?);
        }
        if let Some(f) = fin {
            vals.push(f);
        }
        let func = self.funcs.get(name).copied().or_else(|| builtin(name));
        let Some(func) = func else {
            return Err(self.err(st, format!("{name:?} is not a defined function")));
        };
        match func(self, &vals) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.call_error(st, name, e, &vals, argn, ident_at, (cpos, c))),
        }
    }

    /// Turns a function's failure into Go's error at Go's node: the function's name for
    /// a wrong argument count, the argument for a wrong argument type, else the command.
    #[allow(clippy::too_many_arguments)]
    fn call_error<'t>(
        &self,
        st: &mut State<'t>,
        name: &str,
        e: FnErr,
        vals: &[Value],
        argn: &'t [Arg],
        ident_at: (usize, Option<&'t dyn fmt::Display>),
        (cpos, c): (usize, &'t dyn fmt::Display),
    ) -> ExecError {
        let call = |this: &Self, st: &mut State<'t>, cause: Cause| {
            this.at(st, cpos, c);
            let mut e = this.err(st, format!("error calling {name}: "));
            e.cause = Some(Box::new(cause));
            e
        };
        match e {
            FnErr::Call(m) | FnErr::Plain(m) => call(self, st, Cause::Plain(m)),
            FnErr::Nested(p, inner) if p.is_empty() => call(self, st, Cause::Exec(*inner)),
            FnErr::Nested(p, inner) => call(self, st, Cause::Wrapped(p, *inner)),
            FnErr::Type(m) => {
                self.at(st, cpos, c);
                self.err(st, m)
            }
            FnErr::Arity(m) => {
                (st.at_pos, st.at) = ident_at;
                self.err(st, m)
            }
            FnErr::Arg { arg, want, got } => {
                let i = vals
                    .iter()
                    .position(|v| std::ptr::eq(v, arg as *const Value));
                let wrong = format!("wrong type for value; expected {want}; got {got}");
                let Some(a) = i.and_then(|i| argn.get(i)) else {
                    // the piped value: Go reports it wherever evaluation stopped
                    return self.err(st, wrong);
                };
                self.at(st, a.pos(), a);
                let msg = match a {
                    Arg::Nil(_) => format!("cannot assign nil to {want}"),
                    // (a constant displays as written)
                    Arg::Const(..) => match want {
                        "string" => format!("expected string; found {a}"),
                        "bool" => format!("expected bool; found {a}"),
                        "int" | "int64" => format!("expected integer; found {a}"),
                        "float64" => format!("expected float; found {a}"),
                        _ => format!("can't handle {a} for arg of type {want}"),
                    },
                    _ => wrong,
                };
                self.err(st, msg)
            }
        }
    }
}

/// Either an execution error or a missing template.
#[derive(Debug)]
pub enum ExecErrorOrMissing {
    /// Execution failed.
    Exec(ExecError),
    /// No such template.
    Missing(String),
}

/// Appends a pipeline result as Go's template printer does.
pub fn print_value(v: &Value, out: &mut String) {
    match v {
        Value::Nil => out.push_str("<no value>"),
        Value::Str(s) => out.push_str(s),
        v => v.write_go(out, true),
    }
}

/// Whether `name` is a Go template builtin function.
pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// Whether the parser accepts `name` as a function: one of `funcs` or a builtin.
pub fn is_function(funcs: &FuncMap, name: &str) -> bool {
    funcs.contains_key(name) || is_builtin(name)
}

const BUILTINS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js",
    "urlquery", "eq", "ne", "lt", "le", "gt", "ge", "call",
];

fn builtin(name: &str) -> Option<Func> {
    Some(match name {
        "not" => |_, a| {
            if a.len() != 1 {
                return Err(FnErr::Arity(format!(
                    "wrong number of args for not: want 1 got {}",
                    a.len()
                )));
            }
            Ok(Value::Bool(!a[0].truthy()))
        },
        "len" => |_, a| {
            if a.len() != 1 {
                return Err(FnErr::Arity(format!(
                    "wrong number of args for len: want 1 got {}",
                    a.len()
                )));
            }
            Ok(Value::Int(match &a[0] {
                Value::Str(s) => s.len() as i64,
                Value::List(l) => l.len() as i64,
                Value::Bytes(b) => b.len() as i64,
                Value::Map(m) => m.borrow().len() as i64,
                Value::Object(o) if o.range_entries().is_some() => {
                    o.range_entries().map(|e| e.len()).unwrap_or(0) as i64
                }
                Value::Nil => return Err("len of nil pointer".into()),
                v => return Err(format!("len of type {}", v.type_name()).into()),
            }))
        },
        "index" => |_, a| {
            let Some(first) = a.first() else {
                return Err(FnErr::Arity(
                    "wrong number of args for index: want at least 1 got 0".into(),
                ));
            };
            let mut item = first.clone();
            for ix in &a[1..] {
                item = match &item {
                    Value::Nil => return Err("index of untyped nil".into()),
                    Value::Map(m) => match ix {
                        Value::Str(k) => m.borrow().get(&**k).cloned().unwrap_or(Value::Nil),
                        Value::Nil => return Err("value is nil; should be of type string".into()),
                        v => {
                            return Err(format!(
                                "value has type {}; should be string",
                                v.type_name()
                            )
                            .into());
                        }
                    },
                    Value::List(l) => {
                        let i = index_int(ix)?;
                        if i < 0 || i as usize >= l.len() {
                            return Err(format!("index out of range: {i}").into());
                        }
                        l[i as usize].clone()
                    }
                    Value::Str(s) => {
                        let i = index_int(ix)?;
                        if i < 0 || i as usize >= s.len() {
                            return Err(format!("index out of range: {i}").into());
                        }
                        Value::Int(s.as_bytes()[i as usize] as i64)
                    }
                    Value::Bytes(b) => {
                        let i = index_int(ix)?;
                        if i < 0 || i as usize >= b.len() {
                            return Err(format!("index out of range: {i}").into());
                        }
                        Value::Int(b[i as usize] as i64)
                    }
                    v => return Err(format!("can't index item of type {}", v.type_name()).into()),
                };
            }
            Ok(item)
        },
        "print" => |_, a| Ok(Value::from(super::fmt::sprint(a))),
        "println" => |_, a| Ok(Value::from(super::fmt::sprintln(a))),
        "printf" => |_, a| {
            let Some(Value::Str(f)) = a.first() else {
                return Err(match a.first() {
                    Some(v) => FnErr::Arg {
                        arg: v as *const Value as usize,
                        want: "string",
                        got: match v {
                            Value::Nil => "interface {}".to_string(),
                            v => v.type_name(),
                        },
                    },
                    None => FnErr::Arity(
                        "wrong number of args for printf: want at least 1 got 0".into(),
                    ),
                });
            };
            Ok(Value::from(super::fmt::sprintf(f, &a[1..])))
        },
        "html" => |_, a| Ok(Value::from(html_escape(&super::fmt::eval_args(a)))),
        "js" => |_, a| Ok(Value::from(js_escape(&super::fmt::eval_args(a)))),
        "urlquery" => |_, a| {
            Ok(Value::from(crate::funcs::query_escape(
                &super::fmt::eval_args(a),
            )))
        },
        "eq" => |_, a| {
            if a.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            for b in &a[1..] {
                if eq(&a[0], b)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        },
        "ne" => |_, a| {
            if a.len() != 2 {
                return Err(FnErr::Arity(format!(
                    "wrong number of args for ne: want 2 got {}",
                    a.len()
                )));
            }
            Ok(Value::Bool(!eq(&a[0], &a[1])?))
        },
        "lt" => |_, a| cmp_fn(a, "lt", |o| o.is_lt()),
        "le" => |_, a| cmp_fn(a, "le", |o| o.is_le()),
        "gt" => |_, a| cmp_fn(a, "gt", |o| o.is_gt()),
        "ge" => |_, a| cmp_fn(a, "ge", |o| o.is_ge()),
        "slice" => |_, a| crate::funcs::go_slice(a),
        "call" => |_, _| Err("call of non-function".into()),
        _ => return None,
    })
}

fn index_int(v: &Value) -> Result<i64, FnErr> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Nil => Err("cannot index slice/array with nil".into()),
        v => Err(format!("cannot index slice/array with type {}", v.type_name()).into()),
    }
}

fn cmp_fn(a: &[Value], name: &str, f: fn(std::cmp::Ordering) -> bool) -> Result<Value, FnErr> {
    if a.len() != 2 {
        return Err(FnErr::Arity(format!(
            "wrong number of args for {name}: want 2 got {}",
            a.len()
        )));
    }
    Ok(Value::Bool(f(lt(&a[0], &a[1])?)))
}

#[derive(PartialEq)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        _ => Kind::Other,
    }
}

/// Go's `eq` for two values.
pub fn eq(a: &Value, b: &Value) -> Result<bool, FnErr> {
    let (ka, kb) = (basic_kind(a), basic_kind(b));
    if ka != kb {
        if ka == Kind::Invalid || kb == Kind::Invalid {
            return Ok(false);
        }
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Map(_), _) | (Value::List(_), _) | (Value::Bytes(_), _) => {
            return Err(format!(
                "non-comparable type {}: {}",
                a.to_go_string(),
                a.type_name()
            )
            .into());
        }
        _ => false,
    })
}

fn lt(a: &Value, b: &Value) -> Result<std::cmp::Ordering, FnErr> {
    let (ka, kb) = (basic_kind(a), basic_kind(b));
    if ka == Kind::Invalid
        || kb == Kind::Invalid
        || ka == Kind::Other
        || kb == Kind::Other
        || ka == Kind::Bool
    {
        return Err("invalid type for comparison".into());
    }
    if ka != kb {
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        _ => return Err("invalid type for comparison".into()),
    })
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("&#34;"),
            '\'' => o.push_str("&#39;"),
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\0' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\'' => o.push_str("\\'"),
            '"' => o.push_str("\\\""),
            '<' => o.push_str("\\u003C"),
            '>' => o.push_str("\\u003E"),
            '&' => o.push_str("\\u0026"),
            '=' => o.push_str("\\u003D"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04X}", c as u32)),
            c => o.push(c),
        }
    }
    o
}
