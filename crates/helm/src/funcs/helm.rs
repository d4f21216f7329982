//! Helm's own template functions: `include`, `tpl`, `required`, YAML/JSON/TOML, `lookup`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

use super::{a_str, nargs};
use crate::template::exec::{ExecErrorOrMissing, FRESH_NEST, MAX_DEPTH, MAX_NEST};
use crate::template::fmt::go_quote;
use crate::template::{Exec, FnErr, FuncMap};
use crate::value::Value;

/// Marker for Helm host data (reserved for engine settings).
pub struct HelmHost;

/// Maximum nesting of `include` for one name (Helm's `recursionMaxNums`).
pub const INCLUDE_MAX: usize = 1000;

fn json_str(s: &str, html: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `json.Marshal` (compact; `indent` for `MarshalIndent`).
pub fn to_json(v: &Value, html: bool, indent: Option<&str>) -> Result<String, String> {
    let mut out = String::new();
    write_json(v, html, indent, 0, &mut out)?;
    Ok(out)
}

fn write_json(
    v: &Value,
    html: bool,
    indent: Option<&str>,
    depth: usize,
    out: &mut String,
) -> Result<(), String> {
    let nl = |out: &mut String, d: usize| {
        if let Some(ind) = indent {
            out.push('\n');
            for _ in 0..d {
                out.push_str(ind);
            }
        }
    };
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "json: unsupported value: {}",
                    crate::value::format_float_g(*f)
                ));
            }
            out.push_str(&gitops_go::num::json_float(*f));
        }
        Value::Str(s) => json_str(s, html, out),
        Value::Bytes(b) => json_str(&super::b64(b), html, out),
        Value::List(l) => {
            if l.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, depth + 1);
                write_json(x, html, indent, depth + 1, out)?;
            }
            nl(out, depth);
            out.push(']');
        }
        Value::Map(m) => {
            let m = m.borrow();
            if m.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, depth + 1);
                json_str(k, html, out);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(x, html, indent, depth + 1, out)?;
            }
            nl(out, depth);
            out.push('}');
        }
        Value::Object(o) => write_json(&o.to_data(), html, indent, depth, out)?,
    }
    Ok(())
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        let mut s = String::new();
        json_str(k, false, &mut s);
        s
    }
}

fn toml_scalar(v: &Value) -> Option<String> {
    Some(match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e16 {
                format!("{f:.1}")
            } else {
                crate::value::format_float_g(*f)
            }
        }
        Value::Str(s) => {
            let mut o = String::new();
            json_str(s, false, &mut o);
            o
        }
        Value::List(l) => {
            let items: Option<Vec<String>> = l.iter().map(toml_scalar).collect();
            format!("[{}]", items?.join(", "))
        }
        _ => return None,
    })
}

/// TOML encoding as BurntSushi/toml writes a map.
pub fn to_toml(v: &Value) -> Result<String, String> {
    let Value::Map(m) = v else {
        return Err("toml: top-level values must be Go maps or structs".into());
    };
    let mut out = String::new();
    toml_table(m, &mut Vec::new(), &mut out);
    Ok(out)
}

fn toml_table(m: &crate::value::Map, path: &mut Vec<String>, out: &mut String) {
    let m = m.borrow();
    let indent = "  ".repeat(path.len());
    for (k, v) in m.iter() {
        if matches!(v, Value::Nil) {
            continue;
        }
        if let Some(s) = toml_scalar(v) {
            let _ = writeln!(out, "{indent}{} = {s}", toml_key(k));
        }
    }
    for (k, v) in m.iter() {
        if let Value::Map(sub) = v {
            path.push(toml_key(k));
            let _ = writeln!(out, "\n{}[{}]", "  ".repeat(path.len() - 1), path.join("."));
            toml_table(sub, path, out);
            path.pop();
        }
    }
}

fn yaml_to_value(text: &str) -> Result<Value, String> {
    crate::yaml::parse_first(text)
        .map(|j| Value::from_json(&j))
        .map_err(|e| format!("error converting YAML to JSON: {e}"))
}

fn nested(e: crate::template::ExecError, prefix: String) -> FnErr {
    FnErr::Nested(prefix, Box::new(e))
}

pub(super) fn register(m: &mut FuncMap) {
    m.insert("toYaml", |_, a| {
        nargs(a, "toYaml", 1)?;
        Ok(Value::from(match crate::yaml::to_yaml(&a[0]) {
            Ok(s) => s.strip_suffix('\n').unwrap_or(&s).to_string(),
            Err(_) => String::new(),
        }))
    });
    m.insert("mustToYaml", |_, a| {
        nargs(a, "mustToYaml", 1)?;
        let s = crate::yaml::to_yaml(&a[0]).map_err(FnErr::Call)?;
        Ok(Value::from(s.strip_suffix('\n').unwrap_or(&s).to_string()))
    });
    m.insert("toYamlPretty", |_, a| {
        nargs(a, "toYamlPretty", 1)?;
        Ok(Value::from(match crate::yaml::to_yaml(&a[0]) {
            Ok(s) => s.strip_suffix('\n').unwrap_or(&s).to_string(),
            Err(_) => String::new(),
        }))
    });
    m.insert("fromYaml", |_, a| {
        nargs(a, "fromYaml", 1)?;
        let s = a_str(&a[0])?;
        match yaml_to_value(s) {
            Ok(v @ Value::Map(_)) => Ok(v),
            Ok(Value::Nil) => Ok(Value::new_map()),
            Ok(other) => {
                let mut mm = BTreeMap::new();
                mm.insert(
                    "Error".to_string(),
                    Value::from(format!(
                        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                        json_kind(&other)
                    )),
                );
                Ok(Value::from(mm))
            }
            Err(e) => {
                let mut mm = BTreeMap::new();
                mm.insert("Error".to_string(), Value::from(e));
                Ok(Value::from(mm))
            }
        }
    });
    m.insert("fromYamlArray", |_, a| {
        nargs(a, "fromYamlArray", 1)?;
        match yaml_to_value(a_str(&a[0])?) {
            Ok(v @ Value::List(_)) => Ok(v),
            Ok(Value::Nil) => Ok(Value::from(Vec::new())),
            Ok(other) => Ok(Value::from(vec![Value::from(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&other)
            ))])),
            Err(e) => Ok(Value::from(vec![Value::from(e)])),
        }
    });
    m.insert("toJson", |_, a| {
        nargs(a, "toJson", 1)?;
        Ok(Value::from(to_json(&a[0], true, None).unwrap_or_default()))
    });
    m.insert("mustToJson", |_, a| {
        nargs(a, "mustToJson", 1)?;
        Ok(Value::from(
            to_json(&a[0], true, None).map_err(FnErr::Call)?,
        ))
    });
    m.insert("toPrettyJson", |_, a| {
        nargs(a, "toPrettyJson", 1)?;
        Ok(Value::from(
            to_json(&a[0], true, Some("  ")).unwrap_or_default(),
        ))
    });
    m.insert("mustToPrettyJson", |_, a| {
        nargs(a, "mustToPrettyJson", 1)?;
        Ok(Value::from(
            to_json(&a[0], true, Some("  ")).map_err(FnErr::Call)?,
        ))
    });
    m.insert("toRawJson", |_, a| {
        nargs(a, "toRawJson", 1)?;
        Ok(Value::from(to_json(&a[0], false, None).unwrap_or_default()))
    });
    m.insert("mustToRawJson", |_, a| {
        nargs(a, "mustToRawJson", 1)?;
        Ok(Value::from(
            to_json(&a[0], false, None).map_err(FnErr::Call)?,
        ))
    });
    m.insert("fromJson", |_, a| {
        nargs(a, "fromJson", 1)?;
        match serde_json::from_str::<serde_json::Value>(a_str(&a[0])?) {
            Ok(j @ serde_json::Value::Object(_)) => Ok(Value::from_json(&j)),
            Ok(serde_json::Value::Null) => Ok(Value::new_map()),
            Ok(_) => {
                let mut mm = BTreeMap::new();
                mm.insert(
                    "Error".to_string(),
                    Value::from(
                        "json: cannot unmarshal into Go value of type map[string]interface {}",
                    ),
                );
                Ok(Value::from(mm))
            }
            Err(e) => {
                let mut mm = BTreeMap::new();
                mm.insert("Error".to_string(), Value::from(e.to_string()));
                Ok(Value::from(mm))
            }
        }
    });
    m.insert("mustFromJson", |_, a| {
        nargs(a, "mustFromJson", 1)?;
        serde_json::from_str::<serde_json::Value>(a_str(&a[0])?)
            .map(|j| Value::from_json(&j))
            .map_err(|e| FnErr::Call(e.to_string()))
    });
    m.insert("fromJsonArray", |_, a| {
        nargs(a, "fromJsonArray", 1)?;
        match serde_json::from_str::<serde_json::Value>(a_str(&a[0])?) {
            Ok(j @ serde_json::Value::Array(_)) => Ok(Value::from_json(&j)),
            Ok(_) => Ok(Value::from(vec![Value::from(
                "json: cannot unmarshal into Go value of type []interface {}",
            )])),
            Err(e) => Ok(Value::from(vec![Value::from(e.to_string())])),
        }
    });
    m.insert("toToml", |_, a| {
        nargs(a, "toToml", 1)?;
        Ok(Value::from(to_toml(&a[0]).unwrap_or_else(|e| e)))
    });
    m.insert("lookup", |_, a| {
        nargs(a, "lookup", 4)?;
        for x in a {
            a_str(x)?;
        }
        Ok(Value::new_map())
    });
    m.insert("required", |_, a| {
        nargs(a, "required", 2)?;
        let warn = a_str(&a[0])?;
        match &a[1] {
            Value::Nil => Err(warn_wrap(warn)),
            Value::Str(s) if s.is_empty() => Err(warn_wrap(warn)),
            v => Ok(v.clone()),
        }
    });
    m.insert("fail", |_, a| {
        nargs(a, "fail", 1)?;
        Err(warn_wrap(a_str(&a[0])?))
    });
    m.insert("include", include);
    m.insert("tpl", tpl);
}

/// Helm's `warnWrap`: a `required`/`fail` message, which Helm reports alone.
fn warn_wrap(msg: &str) -> FnErr {
    use crate::template::exec::{WARN_END, WARN_START};
    FnErr::Call(format!("{WARN_START}{msg}{WARN_END}"))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::List(_) => "array",
        Value::Str(_) => "string",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::Float(_) => "number",
        _ => "object",
    }
}

fn include(e: &mut Exec, a: &[Value]) -> Result<Value, FnErr> {
    nargs(a, "include", 2)?;
    let name = a_str(&a[0])?.to_string();
    let count = e.included.entry(name.clone()).or_insert(0);
    if *count > INCLUDE_MAX || e.nest + FRESH_NEST > MAX_NEST {
        return Err(FnErr::Call(format!(
            "rendering template has a nested reference name: {name}: unable to execute template"
        )));
    }
    *count += 1;
    let r = e.execute(&name, a[1].clone());
    if let Some(c) = e.included.get_mut(&name) {
        *c -= 1;
    }
    match r {
        Ok(s) => Ok(Value::from(s)),
        Err(ExecErrorOrMissing::Missing(n)) => Err(FnErr::Call(format!(
            "template: no template {} associated with template \"{TPL_NAME}\"",
            go_quote(&n)
        ))),
        Err(ExecErrorOrMissing::Exec(err)) => Err(nested(err, String::new())),
    }
}

/// The name Helm's engine gives its root template, and so every `tpl` text.
pub const TPL_NAME: &str = "gotpl";

/// How many distinct `tpl` texts one render keeps parsed.
const TEXTS_KEPT: usize = 4096;

/// Helm's `tpl`: the text is parsed alone, as a template named [`TPL_NAME`], and run with
/// the templates it defines laid over the current set (Helm's clone of the set) for its
/// duration, so that its `include`s and nested `tpl`s see them.
fn tpl(e: &mut Exec, a: &[Value]) -> Result<Value, FnErr> {
    nargs(a, "tpl", 2)?;
    let text = a_str(&a[0])?;
    if e.nest + FRESH_NEST > MAX_NEST {
        return Err(FnErr::Call(format!(
            "exceeded maximum template depth ({MAX_DEPTH})"
        )));
    }
    let (tree, defs) = match e.texts.get(text) {
        Some((tree, defs)) => (tree.clone(), defs.clone()),
        None => {
            let funcs = e.funcs.clone();
            let has = |n: &str| crate::template::exec::is_function(&funcs, n);
            let (tree, defs) = crate::template::parse(TPL_NAME, text, &has).map_err(|err| {
                FnErr::Call(format!("cannot parse template {}: {err}", go_quote(text)))
            })?;
            let parsed = (
                Rc::new(tree),
                defs.into_iter().map(Rc::new).collect::<Vec<_>>(),
            );
            if e.texts.len() < TEXTS_KEPT {
                e.texts.insert(text.to_string(), parsed.clone());
            }
            parsed
        }
    };
    let mut overlay = Vec::with_capacity(defs.len() + 1);
    for d in defs {
        // as Go's `associate`: an empty body does not replace a defined template
        if crate::template::parse::is_empty_tree(&d)
            && e.lookup(&d.name)
                .is_some_and(|t| !crate::template::parse::is_empty_tree(&t))
        {
            continue;
        }
        overlay.push(d);
    }
    overlay.push(tree.clone());
    e.push_overlay(&overlay);
    let mut out = String::new();
    let r = e.run_fresh(&tree, a[1].clone(), &mut out);
    e.pop_overlay(&overlay);
    match r {
        Ok(()) => Ok(Value::from(out.replace("<no value>", ""))),
        Err(err) => Err(nested(
            err,
            format!(
                "error during tpl function execution for {}: ",
                go_quote(text)
            ),
        )),
    }
}
