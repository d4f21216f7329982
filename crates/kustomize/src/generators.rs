//! ConfigMap and Secret generators, and the content hash kustomize appends to their names.

use crate::error::{Error, Result};
use crate::kustomization::{GeneratorArgs, GeneratorOptions};
use crate::resource::{Behavior, Resource};
use crate::yaml::{Mapping, Value, to_go_json};
use base64::Engine;
use sha2::{Digest, Sha256};

/// Reads files relative to the kustomization root (with load restrictions).
pub trait FileSource {
    /// Reads a file as bytes.
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>>;
}

fn remove_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && k != "."
        && k != ".."
}

/// Parses `KEY=VALUE` lines of an env file (comments and blank lines skipped).
pub fn parse_env_file(content: &str, file: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = match line.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (line.to_string(), std::env::var(line).unwrap_or_default()),
        };
        if k.is_empty()
            || k.chars().next().is_some_and(|c| c.is_ascii_digit())
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(Error::msg(format!(
                "{file}: line {}: invalid environment variable name '{k}'",
                i + 1
            )));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// Collects the key/value pairs of a generator (literals, files, envs), in order.
pub fn collect_pairs(
    args: &GeneratorArgs,
    files: &dyn FileSource,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut push = |k: String, v: Vec<u8>, what: &str| -> Result<()> {
        if !valid_key(&k) {
            return Err(Error::msg(format!(
                "{what}: invalid key name '{k}' in generator '{}'",
                args.name
            )));
        }
        if pairs.iter().any(|(pk, _)| *pk == k) {
            return Err(Error::msg(format!(
                "cannot add key {k}, another key by that name already exists in generator '{}'",
                args.name
            )));
        }
        pairs.push((k, v));
        Ok(())
    };
    for env in &args.envs {
        let bytes = files
            .read_bytes(env)
            .map_err(|e| e.context(format!("envs: '{env}'")))?;
        let text = String::from_utf8_lossy(&bytes);
        for (k, v) in parse_env_file(&text, env)? {
            push(k, v.into_bytes(), env)?;
        }
    }
    for lit in &args.literals {
        if lit.starts_with('=') {
            return Err(Error::msg(format!(
                "invalid literal source {lit}, expected key=value"
            )));
        }
        let Some((k, v)) = lit.split_once('=') else {
            return Err(Error::msg(format!(
                "invalid literal source {lit}, expected key=value"
            )));
        };
        push(
            k.to_string(),
            remove_quotes(v).as_bytes().to_vec(),
            "literal",
        )?;
    }
    for f in &args.files {
        let (key, path) = match f.split_once('=') {
            Some((k, p)) => {
                if k.is_empty() {
                    return Err(Error::msg(format!("key for file source '{f}' is empty")));
                }
                if p.is_empty() {
                    return Err(Error::msg(format!("path for file source '{f}' is empty")));
                }
                (k.to_string(), p.to_string())
            }
            None => {
                let base = f.rsplit('/').next().unwrap_or(f).to_string();
                (base, f.clone())
            }
        };
        let bytes = files
            .read_bytes(&path)
            .map_err(|e| e.context(format!("files: '{path}'")))?;
        push(key, bytes, &path)?;
    }
    Ok(pairs)
}

/// kustomize's `MergeGlobalOptionsIntoLocal`: a generator's own labels/annotations win,
/// the kustomization's `generatorOptions` add the keys it lacks; either may disable the
/// hash or make the object immutable (a local `false` cannot undo a global `true`).
pub fn merge_options(
    local: Option<&GeneratorOptions>,
    global: Option<&GeneratorOptions>,
) -> GeneratorOptions {
    let mut o = local.cloned().unwrap_or_default();
    if let Some(g) = global {
        for (k, v) in &g.labels {
            if !o.labels.iter().any(|(ek, _)| ek == k) {
                o.labels.push((k.clone(), v.clone()));
            }
        }
        for (k, v) in &g.annotations {
            if !o.annotations.iter().any(|(ek, _)| ek == k) {
                o.annotations.push((k.clone(), v.clone()));
            }
        }
        if g.disable_name_suffix_hash == Some(true) {
            o.disable_name_suffix_hash = Some(true);
        }
        if g.immutable == Some(true) {
            o.immutable = Some(true);
        }
    }
    o
}

fn base_object(kind: &str, args: &GeneratorArgs, opts: &GeneratorOptions) -> Mapping {
    let mut meta = Mapping::new();
    meta.insert("name".into(), Value::String(args.name.clone()));
    if !args.namespace.is_empty() {
        meta.insert("namespace".into(), Value::String(args.namespace.clone()));
    }
    if !opts.labels.is_empty() {
        let m: Mapping = opts
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        meta.insert("labels".into(), Value::Map(m));
    }
    if !opts.annotations.is_empty() {
        let m: Mapping = opts
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        meta.insert("annotations".into(), Value::Map(m));
    }
    let mut obj = Mapping::new();
    obj.insert("apiVersion".into(), Value::String("v1".into()));
    obj.insert("kind".into(), Value::String(kind.into()));
    obj.insert("metadata".into(), Value::Map(meta));
    obj
}

fn finish(obj: Mapping, args: &GeneratorArgs, opts: &GeneratorOptions) -> Result<Resource> {
    let mut obj = obj;
    if opts.immutable == Some(true) {
        obj.insert("immutable".into(), Value::Bool(true));
    }
    let mut r = Resource::new(Value::Map(obj));
    r.needs_hash = opts.disable_name_suffix_hash != Some(true);
    r.behavior = Behavior::parse(&args.behavior).ok_or_else(|| {
        Error::msg(format!(
            "generator '{}': invalid behavior '{}' (want create, merge or replace)",
            args.name, args.behavior
        ))
    })?;
    Ok(r)
}

/// Base64 as kyaml writes generated values (`encodeBase64`): values longer than 70
/// characters are broken into lines of 70, each ending with a newline.
fn encode_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    if enc.len() < LINE {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / LINE + 1);
    for chunk in enc.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Builds a ConfigMap from a generator.
pub fn config_map(
    args: &GeneratorArgs,
    opts: &GeneratorOptions,
    files: &dyn FileSource,
) -> Result<Resource> {
    let mut obj = base_object("ConfigMap", args, opts);
    let pairs = collect_pairs(args, files)?;
    let mut data = Mapping::new();
    let mut binary = Mapping::new();
    for (k, v) in pairs {
        match String::from_utf8(v) {
            Ok(s) => {
                data.insert(k, Value::String(s));
            }
            Err(e) => {
                binary.insert(k, Value::String(encode_base64(e.as_bytes())));
            }
        }
    }
    if !data.is_empty() {
        obj.insert("data".into(), Value::Map(data));
    }
    if !binary.is_empty() {
        obj.insert("binaryData".into(), Value::Map(binary));
    }
    finish(obj, args, opts)
}

/// Builds a Secret from a generator.
pub fn secret(
    args: &GeneratorArgs,
    opts: &GeneratorOptions,
    files: &dyn FileSource,
) -> Result<Resource> {
    let mut obj = base_object("Secret", args, opts);
    let pairs = collect_pairs(args, files)?;
    let mut data = Mapping::new();
    for (k, v) in pairs {
        data.insert(k, Value::String(encode_base64(&v)));
    }
    let t = if args.type_.is_empty() {
        "Opaque".to_string()
    } else {
        args.type_.clone()
    };
    obj.insert("type".into(), Value::String(t));
    if !data.is_empty() {
        obj.insert("data".into(), Value::Map(data));
    }
    finish(obj, args, opts)
}

fn field_or_empty(obj: &Value, key: &str) -> Value {
    match obj.get(key) {
        None => Value::String(String::new()),
        Some(v @ (Value::Map(_) | Value::Seq(_))) => v.clone(),
        Some(Value::Null) => Value::Null,
        Some(v) => Value::String(v.scalar_string().unwrap_or_default()),
    }
}

/// kustomize's content hash of a ConfigMap, Secret or other object (10 characters).
pub fn content_hash(obj: &Value) -> String {
    let kind = obj.get_str(&["kind"]).unwrap_or("");
    // kustomize looks `metadata/name` up as one (missing) key, so the name is always empty
    let name = String::new();
    let encoded = match kind {
        "ConfigMap" => {
            let mut m = Mapping::new();
            m.insert("kind".into(), Value::String("ConfigMap".into()));
            m.insert("name".into(), Value::String(name));
            m.insert("data".into(), field_or_empty(obj, "data"));
            if let Some(b @ Value::Map(_)) = obj.get("binaryData") {
                m.insert("binaryData".into(), b.clone());
            }
            to_go_json(&Value::Map(m))
        }
        "Secret" => {
            let mut m = Mapping::new();
            m.insert("kind".into(), Value::String("Secret".into()));
            m.insert("type".into(), field_or_empty(obj, "type"));
            m.insert("name".into(), Value::String(name));
            m.insert("data".into(), field_or_empty(obj, "data"));
            if let Some(b @ Value::Map(_)) = obj.get("stringData") {
                m.insert("stringData".into(), b.clone());
            }
            to_go_json(&Value::Map(m))
        }
        _ => to_go_json(obj),
    };
    let digest = Sha256::digest(encoded.as_bytes());
    let hex = hex::encode(digest);
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_one;

    struct NoFiles;
    impl FileSource for NoFiles {
        fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
            Err(Error::msg(format!("no file {path}")))
        }
    }

    #[test]
    fn config_map_hash_matches_kustomize() {
        // kubectl kustomize: configMapGenerator name=bob, literals fruit=Indian Gooseberry,
        // year=2020, crisis=true gives bob-79t79mt227
        let args = GeneratorArgs {
            name: "bob".into(),
            literals: vec![
                "fruit=Indian Gooseberry".into(),
                "year=2020".into(),
                "crisis=true".into(),
            ],
            ..Default::default()
        };
        let r = config_map(&args, &GeneratorOptions::default(), &NoFiles).unwrap();
        assert_eq!(content_hash(&r.obj), "79t79mt227");
        assert!(r.needs_hash);
    }

    #[test]
    fn literal_quotes_and_env_files() {
        let args = GeneratorArgs {
            name: "x".into(),
            literals: vec!["a=\"q\"".into(), "b='c=d'".into()],
            ..Default::default()
        };
        let r = config_map(&args, &GeneratorOptions::default(), &NoFiles).unwrap();
        assert_eq!(r.obj.get_str(&["data", "a"]), Some("q"));
        assert_eq!(r.obj.get_str(&["data", "b"]), Some("c=d"));
        let env = parse_env_file("# c\n\nA=1\n  B=x=y\n", "f.env").unwrap();
        assert_eq!(
            env,
            vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert!(parse_env_file("1A=2", "f").is_err());
    }

    #[test]
    fn secret_is_base64() {
        let args = GeneratorArgs {
            name: "s".into(),
            literals: vec!["k=v".into()],
            ..Default::default()
        };
        let r = secret(&args, &GeneratorOptions::default(), &NoFiles).unwrap();
        assert_eq!(r.obj.get_str(&["data", "k"]), Some("dg=="));
        assert_eq!(r.obj.get_str(&["type"]), Some("Opaque"));
        let v =
            parse_one("kind: Secret\nmetadata: {name: s}\ntype: Opaque\ndata: {k: dg==}").unwrap();
        assert_eq!(content_hash(&v), content_hash(&r.obj));
    }

    #[test]
    fn long_secret_values_are_broken_into_lines_as_kyaml_does() {
        assert_eq!(encode_base64(b"short"), "c2hvcnQ=");
        // 52 bytes encode to exactly 72 characters: one line of 70 and the rest
        let v = encode_base64(&[b'a'; 52]);
        let lines: Vec<&str> = v.split_terminator('\n').collect();
        assert_eq!(lines.iter().map(|l| l.len()).collect::<Vec<_>>(), [70, 2]);
        assert!(v.ends_with('\n'));
        // 68 characters stay on one line
        assert_eq!(encode_base64(&[b'a'; 51]).len(), 68);
        assert!(!encode_base64(&[b'a'; 51]).contains('\n'));
        let args = GeneratorArgs {
            name: "s".into(),
            literals: vec![format!("k={}", "x".repeat(60))],
            ..Default::default()
        };
        let r = secret(&args, &GeneratorOptions::default(), &NoFiles).unwrap();
        assert!(r.obj.get_str(&["data", "k"]).unwrap().contains('\n'));
    }
}
