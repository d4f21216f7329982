//! SOPS decryption with age keys, as Flux's kustomize-controller does it: YAML and JSON
//! documents, dotenv files, binary files and Kubernetes objects carrying a `sops` field.
//!
//! The data key is stored per age recipient as an ASCII-armored age file; each value is
//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, encrypted with AES-256-GCM (32-byte IVs)
//! and authenticated with the value's key path (`a:b:`). The file MAC (SHA-512 over every
//! value, encrypted with the `lastmodified` time as associated data) is verified.
//!
//! Errors never include decrypted material.

use crate::error::{Error, Result};
use crate::resource::Resource;
use crate::yaml::{self, Mapping, Value};
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::generic_array::typenum::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{AesGcm, aes::Aes256};
use base64::Engine;
use sha2::{Digest, Sha512};
use std::io::Read;

type Cipher = AesGcm<Aes256, U32>;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Age identities used to decrypt SOPS data keys.
pub struct AgeKeys {
    identities: Vec<age::x25519::Identity>,
}

impl std::fmt::Debug for AgeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgeKeys({} identities)", self.identities.len())
    }
}

impl AgeKeys {
    /// Reads `AGE-SECRET-KEY-…` lines (an age key file; comments and blank lines skipped).
    pub fn parse(text: &str) -> Result<AgeKeys> {
        let mut identities = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let id: age::x25519::Identity = line.parse().map_err(|_| {
                Error::msg(format!(
                    "age key file: line {}: not an age secret key",
                    i + 1
                ))
            })?;
            identities.push(id);
        }
        if identities.is_empty() {
            return Err(Error::msg("age key file contains no identities"));
        }
        Ok(AgeKeys { identities })
    }

    /// The recipients (public keys) of these identities.
    pub fn recipients(&self) -> Vec<String> {
        self.identities
            .iter()
            .map(|i| i.to_public().to_string())
            .collect()
    }
}

/// SOPS metadata relevant to decryption.
struct Meta {
    age_encs: Vec<String>,
    lastmodified: String,
    mac: String,
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<regex::Regex>,
    encrypted_regex: Option<regex::Regex>,
    mac_only_encrypted: bool,
}

fn meta_from(v: &Value) -> Result<Meta> {
    let s = |k: &str| v.get(k).and_then(Value::scalar_string);
    let re = |k: &str| -> Result<Option<regex::Regex>> {
        match s(k) {
            Some(r) if !r.is_empty() => regex::Regex::new(&r)
                .map(Some)
                .map_err(|e| Error::msg(format!("sops metadata: invalid {k}: {e}"))),
            _ => Ok(None),
        }
    };
    let age_encs: Vec<String> = v
        .get("age")
        .and_then(Value::as_seq)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("enc").and_then(Value::scalar_string))
                .collect()
        })
        .unwrap_or_default();
    let mut m = Meta {
        age_encs,
        lastmodified: s("lastmodified").unwrap_or_default(),
        mac: s("mac").unwrap_or_default(),
        unencrypted_suffix: s("unencrypted_suffix").filter(|x| !x.is_empty()),
        encrypted_suffix: s("encrypted_suffix").filter(|x| !x.is_empty()),
        unencrypted_regex: re("unencrypted_regex")?,
        encrypted_regex: re("encrypted_regex")?,
        mac_only_encrypted: matches!(v.get("mac_only_encrypted"), Some(Value::Bool(true))),
    };
    if m.unencrypted_suffix.is_none()
        && m.encrypted_suffix.is_none()
        && m.unencrypted_regex.is_none()
        && m.encrypted_regex.is_none()
    {
        m.unencrypted_suffix = Some("_unencrypted".into());
    }
    Ok(m)
}

fn data_key(meta: &Meta, keys: &AgeKeys) -> Result<Vec<u8>> {
    if meta.age_encs.is_empty() {
        return Err(Error::msg(
            "sops: the document has no age recipients (other key services are not supported)",
        ));
    }
    for enc in &meta.age_encs {
        let Ok(dec) = age::Decryptor::new(age::armor::ArmoredReader::new(enc.as_bytes())) else {
            continue;
        };
        let ids = keys.identities.iter().map(|i| i as &dyn age::Identity);
        if let Ok(mut r) = dec.decrypt(ids) {
            let mut out = Vec::new();
            if r.read_to_end(&mut out).is_ok() && out.len() == 32 {
                return Ok(out);
            }
        }
    }
    Err(Error::msg(
        "sops: failed to decrypt the data key: none of the given age identities is a recipient",
    ))
}

/// A decrypted scalar with its SOPS type.
enum Plain {
    Str(String),
    Int(String),
    Float(String),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl Plain {
    fn mac_bytes(&self) -> Vec<u8> {
        match self {
            Plain::Str(s) | Plain::Int(s) | Plain::Float(s) => s.clone().into_bytes(),
            Plain::Bool(b) => (if *b { "True" } else { "False" }).as_bytes().to_vec(),
            Plain::Bytes(b) => b.clone(),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Plain::Str(s) => Value::String(s),
            Plain::Int(s) | Plain::Float(s) => yaml::scalar::resolve_plain(&s),
            Plain::Bool(b) => Value::Bool(b),
            Plain::Bytes(b) => Value::String(String::from_utf8_lossy(&b).into_owned()),
        }
    }
}

/// The parts of an `ENC[…]` value: data, iv, tag, type.
type EncParts = (Vec<u8>, Vec<u8>, Vec<u8>, String);

fn parse_enc(s: &str) -> Option<EncParts> {
    let inner = s.strip_prefix("ENC[AES256_GCM,")?.strip_suffix(']')?;
    let (mut data, mut iv, mut tag, mut ty) = (None, None, None, None);
    for part in inner.split(',') {
        let (k, v) = part.split_once(':')?;
        match k {
            "data" => data = B64.decode(v).ok(),
            "iv" => iv = B64.decode(v).ok(),
            "tag" => tag = B64.decode(v).ok(),
            "type" => ty = Some(v.to_string()),
            _ => {}
        }
    }
    Some((data?, iv?, tag?, ty?))
}

fn decrypt_value(enc: &str, key: &[u8], aad: &str) -> Result<Plain> {
    let (data, iv, tag, ty) = parse_enc(enc)
        .ok_or_else(|| Error::msg(format!("sops: malformed encrypted value at '{aad}'")))?;
    if iv.len() != 32 || tag.len() != 16 {
        return Err(Error::msg(format!(
            "sops: malformed encrypted value at '{aad}'"
        )));
    }
    let cipher = Cipher::new(GenericArray::from_slice(key));
    let mut ct = data;
    ct.extend_from_slice(&tag);
    let plain = cipher
        .decrypt(
            GenericArray::from_slice(&iv),
            Payload {
                msg: &ct,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| {
            Error::msg(format!(
                "sops: could not decrypt the value at '{aad}' (wrong key or tampered data)"
            ))
        })?;
    let text = || {
        String::from_utf8(plain.clone())
            .map_err(|_| Error::msg(format!("sops: value at '{aad}' is not UTF-8")))
    };
    Ok(match ty.as_str() {
        "str" => Plain::Str(text()?),
        "int" => Plain::Int(text()?),
        "float" => Plain::Float(text()?),
        "bool" => Plain::Bool(text()?.eq_ignore_ascii_case("true")),
        "bytes" => Plain::Bytes(plain),
        "comment" => Plain::Str(text()?),
        other => {
            return Err(Error::msg(format!(
                "sops: unknown value type '{other}' at '{aad}'"
            )));
        }
    })
}

struct Walker<'a> {
    key: &'a [u8],
    meta: &'a Meta,
    hash: Sha512,
}

impl Walker<'_> {
    /// Whether the value at `path` (its mapping keys) is encrypted, as sops decides it:
    /// with an `unencrypted_*` rule, unless any key on the path matches; with an
    /// `encrypted_*` rule, only if any key on the path matches.
    fn path_encrypted(&self, path: &[String]) -> bool {
        let m = self.meta;
        let mut encrypted = true;
        if let Some(s) = &m.unencrypted_suffix
            && path.iter().any(|k| k.ends_with(s.as_str()))
        {
            encrypted = false;
        }
        if let Some(s) = &m.encrypted_suffix {
            encrypted = path.iter().any(|k| k.ends_with(s.as_str()));
        }
        if let Some(r) = &m.unencrypted_regex
            && path.iter().any(|k| r.is_match(k))
        {
            encrypted = false;
        }
        if let Some(r) = &m.encrypted_regex {
            encrypted = path.iter().any(|k| r.is_match(k));
        }
        encrypted
    }

    fn walk(&mut self, v: &mut Value, path: &mut Vec<String>) -> Result<()> {
        match v {
            Value::Map(m) => {
                for (k, child) in m.iter_mut() {
                    path.push(k.clone());
                    self.walk(child, path)?;
                    path.pop();
                }
                Ok(())
            }
            Value::Seq(items) => {
                for it in items.iter_mut() {
                    self.walk(it, path)?;
                }
                Ok(())
            }
            Value::Null => Ok(()),
            scalar => {
                let encrypted = self.path_encrypted(path);
                let aad = format!("{}:", path.join(":"));
                match scalar {
                    Value::String(s) if encrypted && s.starts_with("ENC[") => {
                        let p = decrypt_value(s, self.key, &aad)?;
                        self.hash.update(p.mac_bytes());
                        *scalar = p.into_value();
                    }
                    other => {
                        if !self.meta.mac_only_encrypted {
                            let b = match other {
                                Value::Bool(b) => (if *b { "True" } else { "False" }).to_string(),
                                o => o.scalar_string().unwrap_or_default(),
                            };
                            self.hash.update(b.as_bytes());
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// Decrypts a SOPS tree (a mapping with a `sops` key); returns the tree without `sops`.
pub fn decrypt_tree(doc: &Value, keys: &AgeKeys) -> Result<Value> {
    let Value::Map(m) = doc else {
        return Err(Error::msg("sops: document is not a mapping"));
    };
    let meta_v = m
        .get("sops")
        .ok_or_else(|| Error::msg("sops: document has no 'sops' metadata"))?;
    let meta = meta_from(meta_v)?;
    let key = data_key(&meta, keys)?;
    let mut tree: Mapping = m.clone();
    tree.shift_remove("sops");
    let mut v = Value::Map(tree);
    let mut w = Walker {
        key: &key,
        meta: &meta,
        hash: Sha512::new(),
    };
    w.walk(&mut v, &mut Vec::new())?;
    let computed = hex::encode_upper(w.hash.finalize());
    if meta.mac.is_empty() {
        return Err(Error::msg("sops: document has no MAC"));
    }
    let stored = match decrypt_value(&meta.mac, &key, &meta.lastmodified)? {
        Plain::Str(s) => s,
        _ => return Err(Error::msg("sops: MAC has an unexpected type")),
    };
    if stored != computed {
        return Err(Error::msg(
            "sops: MAC mismatch: the file was modified after encryption",
        ));
    }
    Ok(v)
}

/// Whether a parsed document is SOPS-encrypted.
pub fn is_encrypted(doc: &Value) -> bool {
    doc.get("sops").is_some_and(|s| s.get("mac").is_some())
}

/// Decrypts a YAML document.
pub fn decrypt_yaml(text: &str, keys: &AgeKeys) -> Result<Value> {
    let doc = yaml::parse_one(text).map_err(|e| Error::msg(format!("sops: invalid YAML: {e}")))?;
    decrypt_tree(&doc, keys)
}

/// Decrypts a JSON document (JSON is read as YAML).
pub fn decrypt_json(text: &str, keys: &AgeKeys) -> Result<Value> {
    decrypt_yaml(text, keys)
}

/// Decrypts a binary file (SOPS stores it as JSON with one `data` value).
pub fn decrypt_binary(text: &str, keys: &AgeKeys) -> Result<Vec<u8>> {
    let v = decrypt_json(text, keys)?;
    match v.get("data") {
        Some(Value::String(s)) => Ok(s.clone().into_bytes()),
        _ => Err(Error::msg("sops: binary document has no 'data' value")),
    }
}

/// Rebuilds a nested value from SOPS' flattened dotenv keys (`age__list_0__map_enc`).
fn unflatten(flat: &[(String, String)]) -> Value {
    let mut root = Value::map();
    for (k, v) in flat {
        let mut cur = &mut root;
        let parts: Vec<&str> = k.split("__").collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if let Some(idx) = part.strip_prefix("list_") {
                let idx: usize = idx.parse().unwrap_or(0);
                if !matches!(cur, Value::Seq(_)) {
                    *cur = Value::Seq(Vec::new());
                }
                let Value::Seq(items) = cur else { break };
                while items.len() <= idx {
                    items.push(Value::Null);
                }
                cur = &mut items[idx];
            } else {
                let name = part.strip_prefix("map_").unwrap_or(part);
                if !matches!(cur, Value::Map(_)) {
                    *cur = Value::map();
                }
                let Value::Map(m) = cur else { break };
                cur = m.entry(name.to_string()).or_insert(Value::Null);
            }
            if last {
                *cur = Value::String(v.replace("\\n", "\n"));
            }
        }
    }
    root
}

/// Decrypts a dotenv file; returns the decrypted `KEY=value` text.
pub fn decrypt_dotenv(text: &str, keys: &AgeKeys) -> Result<String> {
    let mut data = Mapping::new();
    let mut meta_flat = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            continue;
        };
        if let Some(mk) = k.strip_prefix("sops_") {
            meta_flat.push((mk.to_string(), v.to_string()));
        } else {
            data.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    let mut doc = data.clone();
    doc.insert("sops".into(), unflatten(&meta_flat));
    let v = decrypt_tree(&Value::Map(doc), keys)?;
    let mut out = String::new();
    if let Value::Map(m) = v {
        for (k, val) in m {
            out.push_str(&format!(
                "{k}={}\n",
                val.scalar_string().unwrap_or_default()
            ));
        }
    }
    Ok(out)
}

/// Decrypts every object that carries SOPS metadata (typically Secrets), in place.
pub fn decrypt_resources(resources: &mut [Resource], keys: &AgeKeys) -> Result<()> {
    for r in resources.iter_mut() {
        if !is_encrypted(&r.obj) {
            continue;
        }
        let id = r.cur_id();
        r.obj = decrypt_tree(&r.obj, keys).map_err(|e| Error::Object {
            object: id.to_string(),
            message: e.to_string(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Encryption in SOPS' format, for fixtures only (IVs are derived, not random).
    use super::*;
    use aes_gcm::aead::Aead;

    fn iv_for(aad: &str, plain: &[u8], n: usize) -> [u8; 32] {
        let mut h = sha2::Sha256::new();
        h.update(aad.as_bytes());
        h.update(plain);
        h.update(n.to_le_bytes());
        h.finalize().into()
    }

    pub fn encrypt_value(plain: &[u8], ty: &str, key: &[u8], aad: &str, n: usize) -> String {
        let cipher = Cipher::new(GenericArray::from_slice(key));
        let iv = iv_for(aad, plain, n);
        let mut out = cipher
            .encrypt(
                GenericArray::from_slice(&iv),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .expect("encryption of a fixture");
        let tag = out.split_off(out.len() - 16);
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{ty}]",
            B64.encode(&out),
            B64.encode(iv),
            B64.encode(tag)
        )
    }

    /// Encrypts the scalars whose path `encrypt` selects (sops hashes every scalar).
    fn walk(
        v: &mut Value,
        path: &mut Vec<String>,
        key: &[u8],
        hash: &mut Sha512,
        n: &mut usize,
        encrypt: &dyn Fn(&[String]) -> bool,
    ) {
        match v {
            Value::Map(m) => {
                for (k, c) in m.iter_mut() {
                    path.push(k.clone());
                    walk(c, path, key, hash, n, encrypt);
                    path.pop();
                }
            }
            Value::Seq(items) => items
                .iter_mut()
                .for_each(|i| walk(i, path, key, hash, n, encrypt)),
            Value::Null => {}
            s => {
                let aad = format!("{}:", path.join(":"));
                let (bytes, ty) = match &*s {
                    Value::String(x) => (x.clone().into_bytes(), "str"),
                    Value::Int(i) => (i.to_string().into_bytes(), "int"),
                    Value::Bool(b) => ((if *b { "True" } else { "False" }).into(), "bool"),
                    o => (o.scalar_string().unwrap_or_default().into_bytes(), "float"),
                };
                hash.update(&bytes);
                if encrypt(path) {
                    *n += 1;
                    *s = Value::String(encrypt_value(&bytes, ty, key, &aad, *n));
                }
            }
        }
    }

    /// Encrypts a mapping with `key`, recording `age_enc` (the armored data key); keys
    /// ending in `_unencrypted` (anywhere on a value's path) stay in the clear.
    pub fn encrypt_tree(doc: &Value, key: &[u8], age_enc: &str, recipient: &str) -> Value {
        encrypt_tree_with(
            doc,
            key,
            age_enc,
            recipient,
            "unencrypted_suffix: _unencrypted",
            &|p| !p.iter().any(|k| k.ends_with("_unencrypted")),
        )
    }

    /// Like [`encrypt_tree`] with another rule: `rule` is its metadata line (e.g.
    /// `encrypted_regex: ^(data|stringData)$`) and `encrypt` says which paths it selects.
    pub fn encrypt_tree_with(
        doc: &Value,
        key: &[u8],
        age_enc: &str,
        recipient: &str,
        rule: &str,
        encrypt: &dyn Fn(&[String]) -> bool,
    ) -> Value {
        let mut v = doc.clone();
        let mut hash = Sha512::new();
        let mut n = 0;
        walk(&mut v, &mut Vec::new(), key, &mut hash, &mut n, encrypt);
        let lastmodified = "2026-01-02T03:04:05Z";
        let mac = hex::encode_upper(hash.finalize());
        let mac_enc = encrypt_value(mac.as_bytes(), "str", key, lastmodified, 0);
        let sops = yaml::parse_one(&format!(
            "age:\n- recipient: {recipient}\n  enc: {}\nlastmodified: '{lastmodified}'\nmac: '{mac_enc}'\n{rule}\nversion: 3.9.0\n",
            serde_like_json(age_enc)
        ))
        .expect("fixture metadata");
        if let Value::Map(m) = &mut v {
            m.insert("sops".into(), sops);
        }
        v
    }

    fn serde_like_json(s: &str) -> String {
        crate::yaml::to_go_json(&Value::String(s.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use std::process::Command;

    /// Runs Debian's `age`/`age-keygen`; `None` when they are not installed.
    fn age_fixture(data_key: &[u8]) -> Option<(String, String, String)> {
        let dir = tempfile::tempdir().ok()?;
        let key_file = dir.path().join("key.txt");
        let st = Command::new("age-keygen")
            .arg("-o")
            .arg(&key_file)
            .output()
            .ok()?;
        if !st.status.success() {
            return None;
        }
        let key_text = std::fs::read_to_string(&key_file).ok()?;
        let keys = AgeKeys::parse(&key_text).ok()?;
        let recipient = keys.recipients().remove(0);
        let plain = dir.path().join("dk");
        std::fs::write(&plain, data_key).ok()?;
        let out = Command::new("age")
            .args(["-a", "-r", &recipient])
            .arg(&plain)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        Some((key_text, recipient, String::from_utf8(out.stdout).ok()?))
    }

    /// Flux's usual setup, `sops --encrypted-regex '^(data|stringData)$'`: values nested
    /// below a matching key are encrypted (any key on the path selects), the rest is clear.
    #[test]
    fn encrypted_regex_selects_values_below_a_matching_key() {
        let data_key = [9u8; 32];
        let Some((key_text, recipient, enc)) = age_fixture(&data_key) else {
            println!("skipping: Debian's age tool is not installed (apt-get install age)");
            return;
        };
        let keys = AgeKeys::parse(&key_text).unwrap();
        let plain = yaml::parse_one(&yaml::to_yaml(
            &yaml::parse_one(
                "apiVersion: v1\nkind: Secret\nmetadata: {name: s, labels: {app: x}}\nstringData:\n  password: hunter2\n  nested: {deep: secret2}\n  list: [a, b]\ndata:\n  token: dG9rZW4=\ntype: Opaque\n",
            )
            .unwrap(),
        )
        .unwrap())
        .unwrap();
        let re = regex::Regex::new("^(data|stringData)$").unwrap();
        let encrypted = encrypt_tree_with(
            &plain,
            &data_key,
            &enc,
            &recipient,
            "encrypted_regex: ^(data|stringData)$",
            &|p| p.iter().any(|k| re.is_match(k)),
        );
        let text = yaml::to_yaml(&encrypted).unwrap();
        for secret in ["hunter2", "secret2", "dG9rZW4="] {
            assert!(!text.contains(secret), "{secret} in the clear:\n{text}");
        }
        assert!(text.contains("app: x") && text.contains("type: Opaque"));
        assert_eq!(decrypt_yaml(&text, &keys).unwrap(), plain);
        // encrypted_suffix: any key on the path with the suffix selects.
        let encrypted = encrypt_tree_with(
            &plain,
            &data_key,
            &enc,
            &recipient,
            "encrypted_suffix: Data",
            &|p| p.iter().any(|k| k.ends_with("Data")),
        );
        let text = yaml::to_yaml(&encrypted).unwrap();
        assert!(!text.contains("secret2") && text.contains("dG9rZW4="));
        assert_eq!(decrypt_yaml(&text, &keys).unwrap(), plain);
    }

    #[test]
    fn decrypts_documents_encrypted_for_an_age_recipient() {
        let data_key = [7u8; 32];
        let Some((key_text, recipient, enc)) = age_fixture(&data_key) else {
            println!("skipping: Debian's age tool is not installed (apt-get install age)");
            return;
        };
        let keys = AgeKeys::parse(&key_text).unwrap();
        let plain = yaml::parse_one(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  password: hunter2\n  port: 5432\n  enabled: true\n  list: [a, b]\nnote_unencrypted: visible\n",
        )
        .unwrap();
        // the fixture is printed with sorted keys; SOPS hashes in document order, so
        // encrypt the document in that order
        let plain = yaml::parse_one(&yaml::to_yaml(&plain).unwrap()).unwrap();
        let encrypted = encrypt_tree(&plain, &data_key, &enc, &recipient);
        let text = yaml::to_yaml(&encrypted).unwrap();
        assert!(text.contains("ENC[AES256_GCM,data:") && !text.contains("hunter2"));
        assert!(text.contains("note_unencrypted: visible"));
        let back = decrypt_yaml(&text, &keys).unwrap();
        assert_eq!(back, plain);

        // objects in a build
        let mut rs = crate::build::parse_resources(&text, std::path::Path::new("s.yaml")).unwrap();
        decrypt_resources(&mut rs, &keys).unwrap();
        assert_eq!(
            rs[0].obj.get_str(&["stringData", "password"]),
            Some("hunter2")
        );
        assert!(rs[0].obj.get("sops").is_none());

        // a wrong key is a clear error
        let other = Command::new("age-keygen").output().unwrap();
        let other_keys = AgeKeys::parse(&String::from_utf8(other.stdout).unwrap()).unwrap();
        let err = decrypt_yaml(&text, &other_keys).unwrap_err().to_string();
        assert!(err.contains("none of the given age identities"), "{err}");

        // tampering is caught by the MAC
        let tampered = text.replace("note_unencrypted: visible", "note_unencrypted: changed");
        let err = decrypt_yaml(&tampered, &keys).unwrap_err().to_string();
        assert!(err.contains("MAC mismatch"), "{err}");
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn decrypts_dotenv_and_binary_formats() {
        let data_key = [9u8; 32];
        let Some((key_text, recipient, enc)) = age_fixture(&data_key) else {
            println!("skipping: Debian's age tool is not installed (apt-get install age)");
            return;
        };
        let keys = AgeKeys::parse(&key_text).unwrap();
        // dotenv: values encrypted with their key as path, metadata flattened
        let doc = yaml::parse_one("USER: admin\nPASS: s3cret\n").unwrap();
        let e = encrypt_tree(&doc, &data_key, &enc, &recipient);
        let mut lines = String::new();
        for k in ["USER", "PASS"] {
            lines.push_str(&format!("{k}={}\n", e.get_str(&[k]).unwrap()));
        }
        let sops = e.get("sops").unwrap();
        lines.push_str(&format!(
            "sops_age__list_0__map_enc={}\n",
            sops.get_path(&["age"]).unwrap().as_seq().unwrap()[0]
                .get_str(&["enc"])
                .unwrap()
                .replace('\n', "\\n")
        ));
        lines.push_str(&format!("sops_age__list_0__map_recipient={recipient}\n"));
        for k in ["lastmodified", "mac", "unencrypted_suffix", "version"] {
            lines.push_str(&format!("sops_{k}={}\n", sops.get_str(&[k]).unwrap()));
        }
        assert_eq!(
            decrypt_dotenv(&lines, &keys).unwrap(),
            "USER=admin\nPASS=s3cret\n"
        );

        // binary: {"data": ENC[...]} as JSON
        let bin = yaml::parse_one("data: \"raw\\nbytes\"\n").unwrap();
        let e = encrypt_tree(&bin, &data_key, &enc, &recipient);
        let json = crate::yaml::to_go_json(&e);
        assert_eq!(decrypt_binary(&json, &keys).unwrap(), b"raw\nbytes");
    }
}
