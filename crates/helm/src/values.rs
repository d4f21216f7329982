//! Values: coalescing chart defaults with user values (Helm's `CoalesceValues` and
//! `MergeValues`), dependency conditions/tags/import-values, and `--set` parsing.

use serde_json::{Map, Value as J};

use crate::chart::Chart;
use crate::error::Error;

/// A values tree (JSON-like; numbers from YAML are float64, as in Helm).
pub type Values = Map<String, J>;

fn is_table(v: &J) -> bool {
    v.is_object()
}

/// Deep-merges `b` over `a` (how `-f` files and `--set` layers combine).
pub fn merge_maps(a: &Values, b: &Values) -> Values {
    let mut out = a.clone();
    for (k, v) in b {
        if let J::Object(vm) = v
            && let Some(J::Object(bv)) = out.get(k)
        {
            let merged = merge_maps(bv, vm);
            out.insert(k.clone(), J::Object(merged));
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    out
}

/// `coalesceTablesFullKey`: `dst` has precedence over `src`.
fn coalesce_tables(dst: &mut Values, src: &mut Values, merge: bool) {
    for (k, v) in dst.iter() {
        if v.is_null() {
            src.insert(k.clone(), J::Null);
        }
    }
    let keys: Vec<String> = src.keys().cloned().collect();
    for key in keys {
        let val = src.get(&key).cloned().unwrap_or(J::Null);
        match dst.get_mut(&key) {
            Some(dv) if !merge && dv.is_null() => {
                dst.remove(&key);
            }
            None => {
                dst.insert(key, val);
            }
            Some(dv) => {
                if let (J::Object(dm), J::Object(sm)) = (dv, &val) {
                    let mut sm = sm.clone();
                    coalesce_tables(dm, &mut sm, merge);
                }
            }
        }
    }
}

/// Helm's `MergeTables`.
pub fn merge_tables(mut dst: Values, src: &Values) -> Values {
    let mut s = src.clone();
    coalesce_tables(&mut dst, &mut s, true);
    dst
}

/// Helm's `CoalesceTables`.
pub fn coalesce_tables_pub(mut dst: Values, src: &Values) -> Values {
    let mut s = src.clone();
    coalesce_tables(&mut dst, &mut s, false);
    dst
}

fn coalesce_values(c: &Chart, v: &mut Values, merge: bool) {
    let vc = c.values.clone();
    for (key, val) in vc {
        match v.get_mut(&key) {
            Some(value) => {
                if value.is_null() && !merge {
                    v.remove(&key);
                } else if let J::Object(dest) = value
                    && let J::Object(mut src) = val
                {
                    let merge = merge || c.dependencies.iter().any(|d| d.name() == key);
                    coalesce_tables(dest, &mut src, merge);
                }
            }
            None => {
                v.insert(key, val);
            }
        }
    }
}

fn coalesce_globals(dest: &mut Values, src: &Values) {
    let mut dg = match dest.get("global") {
        None => Values::new(),
        Some(J::Object(m)) => m.clone(),
        Some(_) => return,
    };
    let sg = match src.get("global") {
        None => Values::new(),
        Some(J::Object(m)) => m.clone(),
        Some(_) => return,
    };
    for (key, val) in sg {
        if let J::Object(vv) = &val {
            let mut vv = vv.clone();
            match dg.get(&key) {
                None => {
                    dg.insert(key, J::Object(vv));
                }
                Some(J::Object(destv)) => {
                    let mut d = destv.clone();
                    coalesce_tables(&mut vv, &mut d, true);
                    dg.insert(key, J::Object(vv));
                }
                Some(_) => {}
            }
        } else if dg.get(&key).is_some_and(is_table) {
            // a table cannot be replaced by a scalar
        } else {
            dg.insert(key, val);
        }
    }
    dest.insert("global".into(), J::Object(dg));
}

fn coalesce_deps(c: &Chart, dest: &mut Values, merge: bool) -> Result<(), Error> {
    for sub in &c.dependencies {
        let name = sub.name().to_string();
        match dest.get(&name) {
            None => {
                dest.insert(name.clone(), J::Object(Values::new()));
            }
            Some(J::Object(_)) => {}
            Some(other) => {
                return Err(Error::Values(format!("type mismatch on {name}: {other}")));
            }
        }
        let mut dv = match dest.get(&name) {
            Some(J::Object(m)) => m.clone(),
            _ => Values::new(),
        };
        coalesce_globals(&mut dv, dest);
        coalesce(sub, &mut dv, merge)?;
        dest.insert(name, J::Object(dv));
    }
    Ok(())
}

fn coalesce(c: &Chart, dest: &mut Values, merge: bool) -> Result<(), Error> {
    coalesce_values(c, dest, merge);
    coalesce_deps(c, dest, merge)
}

/// Helm's `CoalesceValues`: user values over chart defaults; `null` deletes keys.
pub fn coalesce_values_of(c: &Chart, vals: &Values) -> Result<Values, Error> {
    let mut v = vals.clone();
    coalesce(c, &mut v, false)?;
    Ok(v)
}

/// Helm's `MergeValues`: like coalescing, but `null` values are kept.
pub fn merge_values_of(c: &Chart, vals: &Values) -> Result<Values, Error> {
    let mut v = vals.clone();
    coalesce(c, &mut v, true)?;
    Ok(v)
}

/// `Values.Table`: the table at a dotted path.
pub fn table<'a>(v: &'a Values, path: &str) -> Option<&'a Values> {
    let mut cur = v;
    for p in path.split('.').filter(|p| !p.is_empty()) {
        cur = cur.get(p)?.as_object()?;
    }
    Some(cur)
}

fn path_value<'a>(v: &'a Values, path: &str) -> Option<&'a J> {
    let parts: Vec<&str> = path.split('.').collect();
    let (last, head) = parts.split_last()?;
    let t = if head.is_empty() {
        v
    } else {
        table(v, &head.join("."))?
    };
    let x = t.get(*last)?;
    if is_table(x) { None } else { Some(x) }
}

fn trim_nil(v: &Values) -> Values {
    let mut out = Values::new();
    for (k, x) in v {
        match x {
            J::Null => {}
            J::Object(m) => {
                out.insert(k.clone(), J::Object(trim_nil(m)));
            }
            x => {
                out.insert(k.clone(), x.clone());
            }
        }
    }
    out
}

fn path_to_map(path: &str, data: Values) -> Values {
    if path == "." {
        return data;
    }
    let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
    let mut cur = data;
    for p in parts.iter().rev() {
        let mut m = Values::new();
        m.insert(p.to_string(), J::Object(cur));
        cur = m;
    }
    cur
}

/// Processes dependencies as `helm install` does (`ProcessDependenciesWithMerge`):
/// aliases, `condition`/`tags` (disabled subcharts are removed) and `import-values`.
pub fn process_dependencies(c: &mut Chart, vals: &Values) -> Result<(), Error> {
    process_enabled(c, vals, "")?;
    process_imports(c, true)
}

fn process_enabled(c: &mut Chart, v: &Values, path: &str) -> Result<(), Error> {
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let compatible = |range: &str, version: &str| -> bool {
        if range.is_empty() {
            return true;
        }
        match (
            gitops_go::semver::Constraints::parse(range),
            gitops_go::semver::Version::parse(version),
        ) {
            (Ok(cs), Ok(v)) => cs.check(&v),
            _ => false,
        }
    };
    let existing = std::mem::take(&mut c.dependencies);
    // a subchart in `charts/` that a `dependencies:` entry names, in a version it accepts
    let fits = |r: &crate::chart::Dependency, e: &Chart| {
        r.name == e.name() && compatible(&r.version, &e.metadata.version)
    };
    let listed = |e: &Chart| c.metadata.dependencies.iter().any(|r| fits(r, e));
    let unlisted: Vec<usize> = (0..existing.len())
        .filter(|&i| !listed(&existing[i]))
        .collect();
    let found: Vec<Option<usize>> = c
        .metadata
        .dependencies
        .iter()
        .map(|req| existing.iter().position(|e| fits(req, e)))
        .collect();
    // each subchart is moved where it is used last and copied where it is used before (a
    // chart listed under two aliases is used twice)
    let mut uses = vec![0usize; existing.len()];
    for &i in unlisted.iter().chain(found.iter().flatten()) {
        uses[i] += 1;
    }
    let mut existing: Vec<Option<Chart>> = existing.into_iter().map(Some).collect();
    let mut take = |i: usize| -> Chart {
        uses[i] -= 1;
        if uses[i] == 0 {
            existing[i].take().unwrap_or_default()
        } else {
            existing[i].clone().unwrap_or_default()
        }
    };
    let mut deps: Vec<Chart> = unlisted.iter().map(|&i| take(i)).collect();
    for (req, f) in c.metadata.dependencies.iter_mut().zip(&found) {
        if let Some(&i) = f.as_ref() {
            let mut out = take(i);
            if !req.alias.is_empty() {
                out.metadata.name = req.alias.clone();
            }
            deps.push(out);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    c.dependencies = deps;
    for r in c.metadata.dependencies.iter_mut() {
        r.enabled = true;
    }
    let cvals = coalesce_values_of(c, v)?;
    // tags
    if let Some(tags) = table(&cvals, "tags") {
        for r in c.metadata.dependencies.iter_mut() {
            let (mut has_true, mut has_false) = (false, false);
            for k in &r.tags {
                if let Some(J::Bool(b)) = tags.get(k) {
                    if *b {
                        has_true = true;
                    } else {
                        has_false = true;
                    }
                }
            }
            r.enabled = has_true || !has_false;
        }
    }
    // conditions
    for r in c.metadata.dependencies.iter_mut() {
        for cond in r.condition.trim().split(',') {
            let cond = cond.trim();
            if cond.is_empty() {
                continue;
            }
            if let Some(J::Bool(b)) = path_value(&cvals, &format!("{path}{cond}")) {
                r.enabled = *b;
                break;
            }
        }
    }
    let disabled: Vec<String> = c
        .metadata
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    c.dependencies
        .retain(|d| !disabled.contains(&d.metadata.name));
    c.metadata
        .dependencies
        .retain(|r| !disabled.contains(&r.name));
    for t in c.dependencies.iter_mut() {
        let sub = format!("{path}{}.", t.metadata.name);
        process_enabled(t, &cvals, &sub)?;
    }
    Ok(())
}

fn process_imports(c: &mut Chart, merge: bool) -> Result<(), Error> {
    for d in c.dependencies.iter_mut() {
        process_imports(d, merge)?;
    }
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let cvals = if merge {
        merge_values_of(c, &Values::new())?
    } else {
        coalesce_values_of(c, &Values::new())?
    };
    let mut b = Values::new();
    for r in c.metadata.dependencies.iter_mut() {
        let mut out = Vec::new();
        for riv in &r.import_values {
            let (child, parent) = match riv {
                J::Object(m) => {
                    let child = m
                        .get("child")
                        .and_then(|x| x.as_str())
                        .unwrap_or("")
                        .to_string();
                    let parent = m
                        .get("parent")
                        .and_then(|x| x.as_str())
                        .unwrap_or("")
                        .to_string();
                    (child, parent)
                }
                J::String(s) => (format!("exports.{s}"), ".".to_string()),
                _ => continue,
            };
            let mut o = Map::new();
            o.insert("child".into(), J::String(child.clone()));
            o.insert("parent".into(), J::String(parent.clone()));
            out.push(J::Object(o));
            let Some(vv) = table(&cvals, &format!("{}.{child}", r.name)) else {
                continue;
            };
            let m = path_to_map(&parent, vv.clone());
            b = if merge {
                merge_tables(b, &m)
            } else {
                coalesce_tables_pub(b, &m)
            };
        }
        r.import_values = out;
    }
    c.values = if merge {
        merge_tables(cvals, &b)
    } else {
        merge_tables(trim_nil(&cvals), &b)
    };
    Ok(())
}

// ---------------------------------------------------------------------------------------
// --set parsing (Helm's strvals)

fn typed(v: &str, string_only: bool) -> J {
    if string_only {
        return J::String(v.to_string());
    }
    if v.eq_ignore_ascii_case("true") {
        return J::Bool(true);
    }
    if v.eq_ignore_ascii_case("false") {
        return J::Bool(false);
    }
    if v.eq_ignore_ascii_case("null") {
        return J::Null;
    }
    if v == "0" {
        return J::from(0i64);
    }
    if !v.is_empty()
        && !v.starts_with('0')
        && let Ok(i) = v.parse::<i64>()
    {
        return J::from(i);
    }
    J::String(v.to_string())
}

#[derive(Clone, Copy, PartialEq)]
enum SetKind {
    Typed,
    Str,
    File,
    Json,
}

struct SetParser<'a> {
    s: Vec<char>,
    i: usize,
    kind: SetKind,
    reader: &'a dyn Fn(&str) -> Result<String, Error>,
}

impl SetParser<'_> {
    fn err(&self, msg: &str) -> Error {
        Error::Values(format!("{msg}: {:?}", self.s.iter().collect::<String>()))
    }

    /// Reads until one of `stops` (unescaped); returns the text and the stop char.
    fn until(&mut self, stops: &[char]) -> (String, Option<char>) {
        let mut out = String::new();
        while self.i < self.s.len() {
            let c = self.s[self.i];
            self.i += 1;
            if c == '\\' && self.i < self.s.len() {
                out.push(self.s[self.i]);
                self.i += 1;
                continue;
            }
            if stops.contains(&c) {
                return (out, Some(c));
            }
            out.push(c);
        }
        (out, None)
    }

    fn value(&mut self) -> Result<J, Error> {
        match self.kind {
            SetKind::Json => {
                // JSON up to the next top-level comma
                let start = self.i;
                let mut depth = 0i32;
                let mut in_str = false;
                while self.i < self.s.len() {
                    let c = self.s[self.i];
                    if in_str {
                        if c == '\\' {
                            self.i += 1;
                        } else if c == '"' {
                            in_str = false;
                        }
                    } else if c == '"' {
                        in_str = true;
                    } else if c == '{' || c == '[' {
                        depth += 1;
                    } else if c == '}' || c == ']' {
                        depth -= 1;
                    } else if c == ',' && depth == 0 {
                        break;
                    }
                    self.i += 1;
                }
                let text: String = self.s[start..self.i].iter().collect();
                if self.i < self.s.len() {
                    self.i += 1;
                }
                serde_json::from_str(&text)
                    .map_err(|e| Error::Values(format!("failed to parse JSON {text:?}: {e}")))
            }
            _ => {
                if self.s.get(self.i) == Some(&'{') && self.kind != SetKind::File {
                    self.i += 1;
                    let mut list = Vec::new();
                    loop {
                        let (v, stop) = self.until(&[',', '}']);
                        if !(v.is_empty() && stop == Some('}') && list.is_empty()) {
                            list.push(typed(&v, self.kind == SetKind::Str));
                        }
                        match stop {
                            Some('}') => break,
                            Some(',') => continue,
                            _ => return Err(self.err("list must terminate with '}'")),
                        }
                    }
                    // consume a following comma
                    if self.s.get(self.i) == Some(&',') {
                        self.i += 1;
                    }
                    return Ok(J::Array(list));
                }
                let (v, _) = self.until(&[',']);
                match self.kind {
                    SetKind::File => Ok(J::String((self.reader)(&v)?)),
                    SetKind::Str => Ok(J::String(v)),
                    _ => Ok(typed(&v, false)),
                }
            }
        }
    }

    fn parse_into(&mut self, target: &mut Values) -> Result<(), Error> {
        while self.i < self.s.len() {
            self.key(target)?;
        }
        Ok(())
    }

    fn key(&mut self, target: &mut Values) -> Result<(), Error> {
        let (k, stop) = self.until(&['=', '.', '[', ',']);
        match stop {
            Some('=') => {
                let v = self.value()?;
                target.insert(k, v);
                Ok(())
            }
            Some('.') => {
                let mut inner = match target.remove(&k) {
                    Some(J::Object(m)) => m,
                    _ => Values::new(),
                };
                let r = self.key(&mut inner);
                target.insert(k, J::Object(inner));
                r
            }
            Some('[') => {
                let mut list = match target.remove(&k) {
                    Some(J::Array(a)) => a,
                    _ => Vec::new(),
                };
                let r = self.list_index(&mut list);
                target.insert(k, J::Array(list));
                r
            }
            Some(',') => {
                if k.is_empty() {
                    return Ok(());
                }
                Err(self.err(&format!("key {k:?} has no value")))
            }
            _ => {
                if k.is_empty() {
                    return Ok(());
                }
                Err(self.err(&format!("key {k:?} has no value")))
            }
        }
    }

    fn list_index(&mut self, list: &mut Vec<J>) -> Result<(), Error> {
        let (idx, stop) = self.until(&[']']);
        if stop != Some(']') {
            return Err(self.err("missing ']'"));
        }
        let i: usize = idx.trim().parse().map_err(|_| self.err("invalid index"))?;
        if i > 65536 {
            return Err(self.err("index too large"));
        }
        while list.len() <= i {
            list.push(J::Null);
        }
        match self.s.get(self.i).copied() {
            Some('=') => {
                self.i += 1;
                list[i] = self.value()?;
                Ok(())
            }
            Some('.') => {
                self.i += 1;
                let mut inner = match std::mem::take(&mut list[i]) {
                    J::Object(m) => m,
                    _ => Values::new(),
                };
                let r = self.key(&mut inner);
                list[i] = J::Object(inner);
                r
            }
            Some('[') => {
                self.i += 1;
                let mut inner = match std::mem::take(&mut list[i]) {
                    J::Array(a) => a,
                    _ => Vec::new(),
                };
                let r = self.list_index(&mut inner);
                list[i] = J::Array(inner);
                r
            }
            _ => Err(self.err("unexpected end after index")),
        }
    }
}

/// Parses one `--set` expression into `target` (values typed like Helm's `strvals`).
pub fn parse_set(expr: &str, target: &mut Values) -> Result<(), Error> {
    let reader = |_: &str| -> Result<String, Error> { Ok(String::new()) };
    SetParser {
        s: expr.chars().collect(),
        i: 0,
        kind: SetKind::Typed,
        reader: &reader,
    }
    .parse_into(target)
}

/// Parses one `--set-string` expression (all values are strings).
pub fn parse_set_string(expr: &str, target: &mut Values) -> Result<(), Error> {
    let reader = |_: &str| -> Result<String, Error> { Ok(String::new()) };
    SetParser {
        s: expr.chars().collect(),
        i: 0,
        kind: SetKind::Str,
        reader: &reader,
    }
    .parse_into(target)
}

/// Parses one `--set-json` expression.
pub fn parse_set_json(expr: &str, target: &mut Values) -> Result<(), Error> {
    let reader = |_: &str| -> Result<String, Error> { Ok(String::new()) };
    SetParser {
        s: expr.chars().collect(),
        i: 0,
        kind: SetKind::Json,
        reader: &reader,
    }
    .parse_into(target)
}

/// Parses one `--set-file` expression; `read` loads a file's content.
pub fn parse_set_file(
    expr: &str,
    target: &mut Values,
    read: &dyn Fn(&str) -> Result<String, Error>,
) -> Result<(), Error> {
    SetParser {
        s: expr.chars().collect(),
        i: 0,
        kind: SetKind::File,
        reader: read,
    }
    .parse_into(target)
}

/// Reads a values file (YAML) the way Helm does.
/// Errors read as Helm's: `cannot unmarshal yaml document: ...`.
pub fn read_values(text: &str) -> Result<Values, Error> {
    let fail = |e: String| Error::Values(format!("cannot unmarshal yaml document: {e}"));
    match crate::yaml::parse(text)
        .map_err(|e| fail(format!("error converting YAML to JSON: {e}")))?
    {
        J::Object(m) => Ok(m),
        J::Null => Ok(Values::new()),
        other => Err(fail(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            crate::yaml::json_type_name(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_values_errors_are_helms() {
        // helm v4.1.4's words after `failed to parse FILE: `
        assert_eq!(
            read_values("x: 1\na: [b, c").unwrap_err().to_string(),
            "cannot unmarshal yaml document: error converting YAML to JSON: yaml: line 2: did not find expected ',' or ']'"
        );
        assert_eq!(
            read_values("- a").unwrap_err().to_string(),
            "cannot unmarshal yaml document: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert!(read_values("").unwrap().is_empty());
    }
    use crate::chart::Chart;

    fn obj(y: &str) -> Values {
        match crate::yaml::parse(y) {
            Ok(J::Object(m)) => m,
            _ => Values::new(),
        }
    }

    fn chart(name: &str, values: &str, deps: Vec<Chart>) -> Chart {
        let mut c = Chart::default();
        c.metadata.name = name.into();
        c.values = obj(values);
        c.dependencies = deps;
        c
    }

    #[test]
    fn user_values_override_defaults_and_null_deletes() {
        let c = chart("p", "a: 1\nb: {x: 1, k: 2}\nc: keep\n", vec![]);
        let v = coalesce_values_of(&c, &obj("a: 2\nb: {k: 3}\nc: null\n")).unwrap_or_default();
        assert_eq!(
            J::Object(v),
            serde_json::json!({"a": 2.0, "b": {"k": 3.0, "x": 1.0}})
        );
    }

    #[test]
    fn subchart_values_and_globals() {
        let sub = chart("sub", "name: d\nglobal: {g: sub}\n", vec![]);
        let c = chart(
            "p",
            "global: {g: parent, h: 1}\nsub: {name: p}\n",
            vec![sub],
        );
        let v = coalesce_values_of(&c, &Values::new()).unwrap_or_default();
        assert_eq!(v["sub"]["name"], serde_json::json!("p"));
        assert_eq!(v["sub"]["global"]["g"], serde_json::json!("parent"));
        assert_eq!(v["sub"]["global"]["h"], serde_json::json!(1.0));
    }

    #[test]
    fn table_cannot_be_overwritten_by_scalar() {
        let c = chart("p", "t: {a: 1}\n", vec![]);
        let v = coalesce_values_of(&c, &obj("t: {b: 2}\n")).unwrap_or_default();
        assert_eq!(v["t"], serde_json::json!({"a": 1.0, "b": 2.0}));
    }

    #[test]
    fn merge_maps_layers_files() {
        let m = merge_maps(
            &obj("a: {x: 1, k: 1}\nl: [1]\n"),
            &obj("a: {k: 2}\nl: [2]\n"),
        );
        assert_eq!(
            J::Object(m),
            serde_json::json!({"a": {"k": 2.0, "x": 1.0}, "l": [2.0]})
        );
    }

    #[test]
    fn set_syntax() {
        let mut v = Values::new();
        parse_set(
            "a.b=1,c=true,d=null,e={x,y},f[1]=z,g=0,h=012,i=s\\,t",
            &mut v,
        )
        .unwrap_or_default();
        assert_eq!(
            J::Object(v),
            serde_json::json!({"a": {"b": 1}, "c": true, "d": null, "e": ["x", "y"], "f": [null, "z"], "g": 0, "h": "012", "i": "s,t"})
        );
        let mut v = Values::new();
        parse_set_string("a=1,b=true", &mut v).unwrap_or_default();
        assert_eq!(J::Object(v), serde_json::json!({"a": "1", "b": "true"}));
        let mut v = Values::new();
        parse_set_json("a={\"b\":[1,2]}", &mut v).unwrap_or_default();
        assert_eq!(J::Object(v), serde_json::json!({"a": {"b": [1, 2]}}));
    }
}
