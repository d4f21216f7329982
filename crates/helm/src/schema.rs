//! `values.schema.json` validation (JSON Schema drafts 4–7 and 2019/2020 core keywords).

use serde_json::Value as J;

use std::rc::Rc;

use gitops_go::regexp::Regexp;

use crate::chart::Chart;
use crate::error::Error;
use crate::values::Values;

struct Ctx<'a> {
    root: &'a J,
    errors: Vec<String>,
    depth: usize,
    /// Patterns compiled so far (a schema applies its patterns to many values).
    patterns: std::collections::HashMap<&'a str, Option<Rc<Regexp>>>,
}

fn type_ok(t: &str, v: &J) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0) || v.is_i64() || v.is_u64(),
        _ => true,
    }
}

fn json_type(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "boolean",
        J::Number(n) => {
            if n.as_f64().is_some_and(|f| f.fract() == 0.0) {
                "integer"
            } else {
                "number"
            }
        }
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    }
}

fn resolve<'a>(root: &'a J, r: &str) -> Option<&'a J> {
    let frag = r.strip_prefix('#')?;
    if frag.is_empty() {
        return Some(root);
    }
    root.pointer(frag)
}

fn json_eq(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

impl<'a> Ctx<'a> {
    /// The compiled pattern `p` (an invalid one matches everything, as before).
    fn pattern(&mut self, p: &'a str) -> Option<Rc<Regexp>> {
        self.patterns
            .entry(p)
            .or_insert_with(|| Regexp::new(p).ok().map(Rc::new))
            .clone()
    }

    fn fail(&mut self, path: &str, msg: String) {
        let p = if path.is_empty() {
            "(root)".to_string()
        } else {
            path.to_string()
        };
        self.errors.push(format!("- at '{p}': {msg}"));
    }

    fn valid(&mut self, s: &'a J, v: &J, path: &str) -> bool {
        let before = self.errors.len();
        self.check(s, v, path);
        let ok = self.errors.len() == before;
        self.errors.truncate(before);
        ok
    }

    fn check(&mut self, s: &'a J, v: &J, path: &str) {
        self.depth += 1;
        if self.depth > 200 {
            self.depth -= 1;
            return;
        }
        self.check_inner(s, v, path);
        self.depth -= 1;
    }

    fn check_inner(&mut self, s: &'a J, v: &J, path: &str) {
        let obj = match s {
            J::Bool(false) => {
                self.fail(path, "false schema".into());
                return;
            }
            J::Object(o) => o,
            _ => return,
        };
        if let Some(J::String(r)) = obj.get("$ref") {
            if let Some(t) = resolve(self.root, r) {
                self.check(t, v, path);
            }
            if obj.len() == 1 {
                return;
            }
        }
        if let Some(t) = obj.get("type") {
            let ok = match t {
                J::String(t) => type_ok(t, v),
                J::Array(ts) => ts.iter().any(|t| t.as_str().is_some_and(|t| type_ok(t, v))),
                _ => true,
            };
            if !ok {
                let want = match t {
                    J::String(t) => t.clone(),
                    J::Array(ts) => ts
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(" or "),
                    _ => String::new(),
                };
                self.fail(path, format!("got {}, want {want}", json_type(v)));
                return;
            }
        }
        if let Some(J::Array(e)) = obj.get("enum")
            && !e.iter().any(|x| json_eq(x, v))
        {
            self.fail(
                path,
                format!(
                    "value must be one of {}",
                    e.iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if let Some(c) = obj.get("const")
            && !json_eq(c, v)
        {
            self.fail(path, format!("value must be {c}"));
        }
        for k in ["allOf", "anyOf", "oneOf"] {
            if let Some(J::Array(subs)) = obj.get(k) {
                match k {
                    "allOf" => {
                        for sub in subs {
                            self.check(sub, v, path);
                        }
                    }
                    "anyOf" => {
                        if !subs.iter().any(|sub| self.valid(sub, v, path)) {
                            self.fail(path, "anyOf failed".into());
                        }
                    }
                    _ => {
                        let n = subs.iter().filter(|sub| self.valid(sub, v, path)).count();
                        if n != 1 {
                            self.fail(path, format!("oneOf failed: {n} subschemas matched"));
                        }
                    }
                }
            }
        }
        if let Some(n) = obj.get("not")
            && self.valid(n, v, path)
        {
            self.fail(path, "not failed".into());
        }
        if let Some(i) = obj.get("if") {
            if self.valid(i, v, path) {
                if let Some(t) = obj.get("then") {
                    self.check(t, v, path);
                }
            } else if let Some(e) = obj.get("else") {
                self.check(e, v, path);
            }
        }
        match v {
            J::Number(n) => {
                let f = n.as_f64().unwrap_or(0.0);
                let num = |k: &str| obj.get(k).and_then(|x| x.as_f64());
                if let Some(m) = num("minimum") {
                    let excl = matches!(obj.get("exclusiveMinimum"), Some(J::Bool(true)));
                    if f < m || (excl && f == m) {
                        self.fail(path, format!("must be >= {m}"));
                    }
                }
                if let Some(m) = num("maximum") {
                    let excl = matches!(obj.get("exclusiveMaximum"), Some(J::Bool(true)));
                    if f > m || (excl && f == m) {
                        self.fail(path, format!("must be <= {m}"));
                    }
                }
                if let Some(m) = num("exclusiveMinimum")
                    && f <= m
                {
                    self.fail(path, format!("must be > {m}"));
                }
                if let Some(m) = num("exclusiveMaximum")
                    && f >= m
                {
                    self.fail(path, format!("must be < {m}"));
                }
                if let Some(m) = num("multipleOf")
                    && m > 0.0
                    && ((f / m) - (f / m).round()).abs() > 1e-9
                {
                    self.fail(path, format!("must be multiple of {m}"));
                }
            }
            J::String(st) => {
                let len = st.chars().count() as u64;
                if let Some(m) = obj.get("minLength").and_then(|x| x.as_u64())
                    && len < m
                {
                    self.fail(path, format!("length must be >= {m}, but got {len}"));
                }
                if let Some(m) = obj.get("maxLength").and_then(|x| x.as_u64())
                    && len > m
                {
                    self.fail(path, format!("length must be <= {m}, but got {len}"));
                }
                if let Some(J::String(p)) = obj.get("pattern")
                    && let Some(re) = self.pattern(p)
                    && !re.is_match(st)
                {
                    self.fail(path, format!("'{st}' does not match pattern '{p}'"));
                }
            }
            J::Array(items) => {
                if let Some(m) = obj.get("minItems").and_then(|x| x.as_u64())
                    && (items.len() as u64) < m
                {
                    self.fail(path, format!("minItems: got {}, want {m}", items.len()));
                }
                if let Some(m) = obj.get("maxItems").and_then(|x| x.as_u64())
                    && (items.len() as u64) > m
                {
                    self.fail(path, format!("maxItems: got {}, want {m}", items.len()));
                }
                if matches!(obj.get("uniqueItems"), Some(J::Bool(true))) {
                    for i in 0..items.len() {
                        for j in i + 1..items.len() {
                            if json_eq(&items[i], &items[j]) {
                                self.fail(path, format!("items at {i} and {j} are equal"));
                            }
                        }
                    }
                }
                let prefix = obj.get("prefixItems").and_then(|x| x.as_array());
                match obj.get("items") {
                    Some(J::Array(tuple)) => {
                        for (i, it) in items.iter().enumerate() {
                            if let Some(sch) = tuple.get(i) {
                                self.check(sch, it, &format!("{path}/{i}"));
                            } else if let Some(a) = obj.get("additionalItems") {
                                self.check(a, it, &format!("{path}/{i}"));
                            }
                        }
                    }
                    Some(sch) => {
                        let start = prefix.map(|p| p.len()).unwrap_or(0);
                        for (i, it) in items.iter().enumerate().skip(start) {
                            self.check(sch, it, &format!("{path}/{i}"));
                        }
                    }
                    None => {}
                }
                if let Some(p) = prefix {
                    for (i, it) in items.iter().enumerate() {
                        if let Some(sch) = p.get(i) {
                            self.check(sch, it, &format!("{path}/{i}"));
                        }
                    }
                }
                if let Some(c) = obj.get("contains")
                    && !items.iter().any(|it| self.valid(c, it, path))
                {
                    self.fail(path, "no items match contains schema".into());
                }
            }
            J::Object(m) => {
                if let Some(J::Array(req)) = obj.get("required") {
                    let missing: Vec<String> = req
                        .iter()
                        .filter_map(|r| r.as_str())
                        .filter(|r| !m.contains_key(*r))
                        .map(|r| format!("'{r}'"))
                        .collect();
                    if !missing.is_empty() {
                        self.fail(path, format!("missing property {}", missing.join(", ")));
                    }
                }
                if let Some(x) = obj.get("minProperties").and_then(|x| x.as_u64())
                    && (m.len() as u64) < x
                {
                    self.fail(path, format!("minProperties: got {}, want {x}", m.len()));
                }
                if let Some(x) = obj.get("maxProperties").and_then(|x| x.as_u64())
                    && (m.len() as u64) > x
                {
                    self.fail(path, format!("maxProperties: got {}, want {x}", m.len()));
                }
                let props = obj.get("properties").and_then(|p| p.as_object());
                let pats: Vec<(Rc<Regexp>, &J)> = obj
                    .get("patternProperties")
                    .and_then(|p| p.as_object())
                    .map(|p| {
                        p.iter()
                            .filter_map(|(k, s)| self.pattern(k).map(|r| (r, s)))
                            .collect()
                    })
                    .unwrap_or_default();
                let addl = obj.get("additionalProperties");
                for (k, val) in m {
                    let sub = format!("{path}/{k}");
                    let mut matched = false;
                    if let Some(ps) = props.and_then(|p| p.get(k)) {
                        matched = true;
                        self.check(ps, val, &sub);
                    }
                    for (re, ps) in &pats {
                        if re.is_match(k) {
                            matched = true;
                            self.check(ps, val, &sub);
                        }
                    }
                    if !matched && let Some(a) = addl {
                        if let J::Bool(false) = a {
                            self.fail(path, format!("additional properties '{k}' not allowed"));
                        } else {
                            self.check(a, val, &sub);
                        }
                    }
                }
                if let Some(J::Object(deps)) = obj
                    .get("dependencies")
                    .or_else(|| obj.get("dependentRequired"))
                {
                    for (k, d) in deps {
                        if !m.contains_key(k) {
                            continue;
                        }
                        match d {
                            J::Array(req) => {
                                for r in req.iter().filter_map(|r| r.as_str()) {
                                    if !m.contains_key(r) {
                                        self.fail(path, format!("property '{r}' is required, if '{k}' property exists"));
                                    }
                                }
                            }
                            sch => self.check(sch, v, path),
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Validates values against one schema document; returns the list of violations.
pub fn validate(schema: &[u8], values: &J) -> Result<(), String> {
    let s: J =
        serde_json::from_slice(schema).map_err(|e| format!("unable to parse schema: {e}"))?;
    let mut ctx = Ctx {
        root: &s,
        errors: Vec::new(),
        depth: 0,
        patterns: Default::default(),
    };
    ctx.check(&s, values, "");
    if ctx.errors.is_empty() {
        Ok(())
    } else {
        Err(ctx.errors.join("\n"))
    }
}

/// Validates a chart's values and its subcharts' values (Helm's `ValidateAgainstSchema`).
/// `vals` is only lent (mutably, to be walked without a copy) and left as it was.
pub fn validate_chart(c: &Chart, vals: &mut Values) -> Result<(), Error> {
    fn any_schema(c: &Chart) -> bool {
        c.schema.is_some() || c.dependencies.iter().any(any_schema)
    }
    if !any_schema(c) {
        return Ok(());
    }
    let mut sb = String::new();
    let empty = J::Object(Values::new());
    // the values as a JSON value for the walk, borrowed back afterwards (not cloned)
    let whole = J::Object(std::mem::take(vals));
    walk(c, &whole, &empty, &mut sb);
    if let J::Object(m) = whole {
        *vals = m;
    }
    if sb.is_empty() {
        return Ok(());
    }
    Err(Error::Values(format!(
        "values don't meet the specifications of the schema(s) in the following chart(s):\n{sb}"
    )))
}

fn walk(c: &Chart, vals: &J, empty: &J, sb: &mut String) {
    if let Some(schema) = &c.schema
        && let Err(e) = validate(schema, vals)
    {
        sb.push_str(&format!("{}:\n{e}\n", c.name()));
    }
    for d in &c.dependencies {
        let sub = vals
            .get(d.name())
            .filter(|v| v.is_object())
            .unwrap_or(empty);
        walk(d, sub, empty, sb);
    }
}
