//! Crypto functions: certificates and keys (RSA, X.509 DER written here), bcrypt.

use std::collections::BTreeMap;
use std::rc::Rc;

use sha2::Digest;

use super::keys::{PrivKey, pem};
use super::{a_int, a_str, b64, nargs};
use crate::template::{FnErr, FuncMap};
use crate::value::{Object, Value};

/// Sprig's `certificate` struct (`.Cert`, `.Key`).
pub struct Certificate {
    cert: String,
    key: String,
    der_key: Rc<PrivKey>,
    subject_der: Vec<u8>,
    ski: Vec<u8>,
}

impl Object for Certificate {
    fn type_name(&self) -> String {
        "sprig.certificate".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::from(self.cert.as_str())),
            "Key" => Some(Value::from(self.key.as_str())),
            _ => None,
        }
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn display(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }
    fn to_data(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Cert".into(), Value::from(self.cert.as_str()));
        m.insert("Key".into(), Value::from(self.key.as_str()));
        Value::from(m)
    }
}

// --- minimal DER writer
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = body.len();
    if n < 128 {
        v.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        v.push(0x80 | bytes.len() as u8);
        v.extend(bytes);
    }
    v.extend_from_slice(body);
    v
}
fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}
fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut b = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &a in &arcs[2..] {
        let mut tmp = vec![(a & 0x7f) as u8];
        let mut x = a >> 7;
        while x > 0 {
            tmp.push(((x & 0x7f) as u8) | 0x80);
            x >>= 7;
        }
        tmp.reverse();
        b.extend(tmp);
    }
    tlv(0x06, &b)
}
fn int_bytes(mut b: Vec<u8>) -> Vec<u8> {
    while b.len() > 1 && b[0] == 0 && b[1] & 0x80 == 0 {
        b.remove(0);
    }
    if b.first().is_some_and(|x| x & 0x80 != 0) {
        b.insert(0, 0);
    }
    tlv(0x02, &b)
}
fn bit_string(b: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(b);
    tlv(0x03, &v)
}
fn utc_time(ts: jiff::Timestamp) -> Vec<u8> {
    let z = ts.to_zoned(jiff::tz::TimeZone::UTC);
    if (1950..2050).contains(&z.year()) {
        let s = format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}Z",
            z.year() % 100,
            z.month(),
            z.day(),
            z.hour(),
            z.minute(),
            z.second()
        );
        tlv(0x17, s.as_bytes())
    } else {
        let s = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            z.year(),
            z.month(),
            z.day(),
            z.hour(),
            z.minute(),
            z.second()
        );
        tlv(0x18, s.as_bytes())
    }
}
fn name(cn: &str) -> Vec<u8> {
    if cn.is_empty() {
        return seq(&[]);
    }
    let printable = cn
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&c));
    let val = tlv(if printable { 0x13 } else { 0x0c }, cn.as_bytes());
    seq(&[tlv(0x31, &seq(&[oid(&[2, 5, 4, 3]), val]))])
}
fn ext(id: &[u64], critical: bool, value: Vec<u8>) -> Vec<u8> {
    let mut parts = vec![oid(id)];
    if critical {
        parts.push(tlv(0x01, &[0xff]));
    }
    parts.push(tlv(0x04, &value));
    seq(&parts)
}

fn call_err(e: String) -> FnErr {
    FnErr::Call(e)
}

fn cert_err(e: String) -> FnErr {
    FnErr::Call(format!("error creating certificate: {e}"))
}

fn new_rsa_2048() -> Result<PrivKey, FnErr> {
    PrivKey::rsa(2048).map_err(|e| FnErr::Call(format!("error generating rsa key: {e}")))
}

/// A PEM key argument of the `...WithKey` functions.
fn key_arg(v: &Value) -> Result<PrivKey, FnErr> {
    PrivKey::from_pem(a_str(v)?).map_err(|e| FnErr::Call(format!("parse private key: {e}")))
}

fn parse_ip(s: &str) -> Option<Vec<u8>> {
    if let Ok(ip) = s.parse::<std::net::Ipv4Addr>() {
        return Some(ip.octets().to_vec());
    }
    s.parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|ip| ip.octets().to_vec())
}

fn str_list(v: &Value, what: &str) -> Result<Vec<String>, FnErr> {
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::List(l) => l
            .iter()
            .map(|x| match x {
                Value::Str(s) => Ok(s.to_string()),
                _ => Err(FnErr::Call(format!(
                    "error processing {what}: {} is not a string",
                    x.to_go_string()
                ))),
            })
            .collect(),
        v => Err(FnErr::Type(format!(
            "wrong type for value; expected []interface {{}}; got {}",
            v.type_name()
        ))),
    }
}

struct Issuer<'a> {
    key: &'a PrivKey,
    subject: Vec<u8>,
    ski: Vec<u8>,
}

fn make_cert(
    cn: &str,
    ips: &[String],
    dns: &[String],
    days: i64,
    is_ca: bool,
    key: PrivKey,
    issuer: Option<Issuer>,
) -> Result<Value, FnErr> {
    let sig_key = issuer.as_ref().map(|i| i.key).unwrap_or(&key);
    let alg = sig_key.signature_algorithm().map_err(cert_err)?;
    let spki = key.spki_der().map_err(cert_err)?;
    // Go 1.25 derives the key identifier from the leftmost 160 bits of SHA-256
    let ski = sha2::Sha256::digest(key.public_key_bits().map_err(cert_err)?)[..20].to_vec();
    let serial: [u8; 16] = rand::random();
    let now = jiff::Timestamp::now();
    let not_after = now
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .unwrap_or(now);
    let subject = name(cn);
    // key usage: digitalSignature(0) keyEncipherment(2) [certSign(5)]
    let ku = if is_ca {
        bit_string_bits(&[0b1010_0100])
    } else {
        bit_string_bits(&[0b1010_0000])
    };
    let mut exts = vec![
        ext(&[2, 5, 29, 15], true, ku),
        ext(
            &[2, 5, 29, 37],
            false,
            seq(&[
                oid(&[1, 3, 6, 1, 5, 5, 7, 3, 1]),
                oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2]),
            ]),
        ),
        ext(
            &[2, 5, 29, 19],
            true,
            if is_ca {
                seq(&[tlv(0x01, &[0xff])])
            } else {
                seq(&[])
            },
        ),
    ];
    if is_ca {
        exts.push(ext(&[2, 5, 29, 14], false, tlv(0x04, &ski)));
    }
    if let Some(iss) = &issuer {
        exts.push(ext(&[2, 5, 29, 35], false, seq(&[tlv(0x80, &iss.ski)])));
    }
    if !ips.is_empty() || !dns.is_empty() {
        let mut names = Vec::new();
        for d in dns {
            names.push(tlv(0x82, d.as_bytes()));
        }
        for ip in ips {
            let b = parse_ip(ip).ok_or_else(|| FnErr::Call(format!("error parsing ip: {ip}")))?;
            names.push(tlv(0x87, &b));
        }
        exts.push(ext(&[2, 5, 29, 17], false, seq(&names)));
    }
    let issuer_name = issuer
        .as_ref()
        .map(|i| i.subject.clone())
        .unwrap_or_else(|| subject.clone());
    let tbs = seq(&[
        tlv(0xa0, &int_bytes(vec![2])),
        int_bytes(serial.to_vec()),
        alg.clone(),
        issuer_name,
        seq(&[utc_time(now), utc_time(not_after)]),
        subject.clone(),
        spki,
        tlv(0xa3, &seq(&exts)),
    ]);
    let sig = sig_key.sign(&tbs).map_err(cert_err)?;
    let cert = seq(&[tbs, alg, bit_string(&sig)]);
    Ok(Value::Object(Rc::new(Certificate {
        cert: pem("CERTIFICATE", &cert),
        key: key.to_pem().map_err(call_err)?,
        der_key: Rc::new(key),
        subject_der: subject,
        ski,
    })))
}

fn bit_string_bits(b: &[u8]) -> Vec<u8> {
    // DER BIT STRING with unused trailing zero bits counted
    let last = *b.last().unwrap_or(&0);
    let unused = if last == 0 {
        0
    } else {
        last.trailing_zeros() as u8
    };
    let mut v = vec![unused];
    v.extend_from_slice(b);
    tlv(0x03, &v)
}

fn ca_arg(v: &Value) -> Result<Rc<dyn Object>, FnErr> {
    match v {
        Value::Object(o) if o.type_name() == "sprig.certificate" => Ok(o.clone()),
        v => Err(FnErr::Type(format!(
            "wrong type for value; expected sprig.certificate; got {}",
            v.type_name()
        ))),
    }
}

/// Reads one DER TLV at `b`: (tag, content, total length).
fn der_read(b: &[u8]) -> Option<(u8, &[u8], usize)> {
    let tag = *b.first()?;
    let l0 = *b.get(1)? as usize;
    let (len, hdr) = if l0 < 0x80 {
        (l0, 2)
    } else {
        let n = l0 & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let content = b.get(hdr..hdr + len)?;
    Some((tag, content, hdr + len))
}

/// A DER element: tag, content, whole encoding.
type DerItem<'a> = (u8, &'a [u8], &'a [u8]);

fn der_children(mut b: &[u8]) -> Option<Vec<DerItem<'_>>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (t, c, n) = der_read(b)?;
        out.push((t, c, &b[..n]));
        b = &b[n..];
    }
    Some(out)
}

fn build_custom_cert(cert_b64: &str, key_b64: &str) -> Result<Value, FnErr> {
    use base64::Engine;
    let dec = |s: &str| base64::engine::general_purpose::STANDARD.decode(s);
    let cert_pem =
        dec(cert_b64).map_err(|_| FnErr::Call("unable to decode base64 certificate".into()))?;
    let key_pem =
        dec(key_b64).map_err(|_| FnErr::Call("unable to decode base64 private key".into()))?;
    let cert_text = String::from_utf8_lossy(&cert_pem).into_owned();
    let key_text = String::from_utf8_lossy(&key_pem).into_owned();
    let (_, cert_der) = super::keys::pem_decode(&cert_text)
        .ok_or_else(|| FnErr::Call("unable to decode certificate".into()))?;
    let key = PrivKey::from_pem(&key_text)
        .map_err(|e| FnErr::Call(format!("error parsing private key: {e}")))?;
    let bad = || {
        FnErr::Call(
            "error parsing certificate: decodedCert.Bytes: x509: malformed certificate".into(),
        )
    };
    let (_, cert_body, _) = der_read(&cert_der).ok_or_else(bad)?;
    let top = der_children(cert_body).ok_or_else(bad)?;
    let (_, tbs_body, _) = top.first().copied().ok_or_else(bad)?;
    let tbs = der_children(tbs_body).ok_or_else(bad)?;
    let off = usize::from(tbs.first().is_some_and(|t| t.0 == 0xa0));
    let subject = tbs.get(off + 4).map(|t| t.2.to_vec()).ok_or_else(bad)?;
    let mut ski = Vec::new();
    if let Some(exts) = tbs.iter().find(|t| t.0 == 0xa3)
        && let Some((_, seq_body, _)) = der_read(exts.1)
        && let Some(list) = der_children(seq_body)
    {
        for (_, e, _) in list {
            if let Some(parts) = der_children(e)
                && parts
                    .first()
                    .is_some_and(|p| p.2 == oid(&[2, 5, 29, 14]).as_slice())
                && let Some(v) = parts.last()
                && let Some((_, inner, _)) = der_read(v.1)
            {
                ski = inner.to_vec();
            }
        }
    }
    Ok(Value::Object(Rc::new(Certificate {
        cert: cert_text,
        key: key_text,
        der_key: Rc::new(key),
        subject_der: subject,
        ski,
    })))
}

fn ca_of(v: &Value) -> Result<Rc<dyn Object>, FnErr> {
    ca_arg(v)
}

fn signed(a: &[Value], key: PrivKey) -> Result<Value, FnErr> {
    let ips = str_list(&a[1], "ips")?;
    let dns = str_list(&a[2], "alternate DNS")?;
    let ca = ca_of(&a[4])?;
    let ca_cert = ca
        .as_any()
        .and_then(|x| x.downcast_ref::<Certificate>())
        .ok_or_else(|| FnErr::Call("invalid CA certificate".into()))?;
    let issuer = Issuer {
        key: &ca_cert.der_key,
        subject: ca_cert.subject_der.clone(),
        ski: ca_cert.ski.clone(),
    };
    make_cert(
        a_str(&a[0])?,
        &ips,
        &dns,
        a_int(&a[3])?,
        false,
        key,
        Some(issuer),
    )
}

const MP_SEED: &str = "com.lyndir.masterpassword";

fn mp_templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn mp_chars(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        b'x' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
        _ => b"",
    }
}

/// Sprig's `derivePassword`: the Master Password algorithm (scrypt N=32768 r=8 p=2, then
/// HMAC-SHA256 of the site).
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = mp_templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = MP_SEED.as_bytes().to_vec();
    salt.extend((user.len() as u32).to_be_bytes());
    salt.extend(user.as_bytes());
    let mut key = [0u8; 64];
    if let Err(e) = openssl::pkcs5::scrypt(
        password.as_bytes(),
        &salt,
        32768,
        8,
        2,
        64 * 1024 * 1024,
        &mut key,
    ) {
        return format!("failed to derive password: {e}");
    }
    let mut msg = MP_SEED.as_bytes().to_vec();
    msg.extend((site.len() as u32).to_be_bytes());
    msg.extend(site.as_bytes());
    msg.extend(counter.to_be_bytes());
    let seed = match hmac_sha256(&key, &msg) {
        Ok(s) => s,
        Err(e) => return format!("failed to derive password: {e}"),
    };
    let temp = templates[seed[0] as usize % templates.len()].as_bytes();
    let mut out = String::new();
    for (i, &c) in temp.iter().enumerate() {
        let chars = mp_chars(c);
        if chars.is_empty() {
            continue;
        }
        let k = seed.get(i + 1).copied().unwrap_or(0) as usize;
        out.push(chars[k % chars.len()] as char);
    }
    out
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Result<Vec<u8>, String> {
    let k = openssl::pkey::PKey::hmac(key).map_err(|e| e.to_string())?;
    let mut s = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &k)
        .map_err(|e| e.to_string())?;
    s.sign_oneshot_to_vec(msg).map_err(|e| e.to_string())
}

fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let p = password.as_bytes();
    let n = p.len().min(32);
    key[..n].copy_from_slice(&p[..n]);
    key
}

fn aes_cbc(
    mode: openssl::symm::Mode,
    key: &[u8; 32],
    iv: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, String> {
    use openssl::symm::{Cipher, Crypter};
    let mut c =
        Crypter::new(Cipher::aes_256_cbc(), mode, key, Some(iv)).map_err(|e| e.to_string())?;
    c.pad(false);
    let mut out = vec![0u8; data.len() + 32];
    let mut n = c.update(data, &mut out).map_err(|e| e.to_string())?;
    n += c.finalize(&mut out[n..]).map_err(|e| e.to_string())?;
    out.truncate(n);
    Ok(out)
}

/// Sprig's `encryptAES`: AES-256-CBC, key = the password zero-padded to 32 bytes, PKCS#7
/// padding, random IV in front, base64.
fn encrypt_aes(password: &str, plaintext: &str) -> Result<String, String> {
    if plaintext.is_empty() {
        return Ok(String::new());
    }
    let mut content = plaintext.as_bytes().to_vec();
    let pad = 16 - content.len() % 16;
    content.extend(std::iter::repeat_n(pad as u8, pad));
    let mut iv = [0u8; 16];
    openssl::rand::rand_bytes(&mut iv).map_err(|e| e.to_string())?;
    let mut out = iv.to_vec();
    out.extend(aes_cbc(
        openssl::symm::Mode::Encrypt,
        &aes_key(password),
        &iv,
        &content,
    )?);
    Ok(b64(&out))
}

/// Sprig's `decryptAES` (Go's runtime errors for malformed input reported as errors).
fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, String> {
    use base64::Engine;
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let crypt = base64::engine::general_purpose::STANDARD
        .decode(crypt64)
        .map_err(|e| match e {
            base64::DecodeError::InvalidByte(i, _)
            | base64::DecodeError::InvalidLastSymbol(i, _) => {
                format!("illegal base64 data at input byte {i}")
            }
            _ => format!("illegal base64 data at input byte {}", crypt64.len()),
        })?;
    if crypt.len() < 16 {
        return Err(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            crypt.len()
        ));
    }
    let (iv, body) = crypt.split_at(16);
    if body.len() % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".into());
    }
    if body.is_empty() {
        return Err("runtime error: index out of range [-1]".into());
    }
    let plain = aes_cbc(openssl::symm::Mode::Decrypt, &aes_key(password), iv, body)?;
    let pad = plain[plain.len() - 1] as usize;
    if pad > plain.len() {
        return Err(format!(
            "runtime error: slice bounds out of range [:{}]",
            plain.len() as i64 - pad as i64
        ));
    }
    Ok(String::from_utf8_lossy(&plain[..plain.len() - pad]).into_owned())
}

pub(super) fn register(m: &mut FuncMap) {
    m.insert("derivePassword", |_, a| {
        nargs(a, "derivePassword", 5)?;
        let counter = match &a[0] {
            Value::Int(i) if (0..=u32::MAX as i64).contains(i) => *i as u32,
            Value::Int(_) => {
                return Err(FnErr::Type("expected unsigned integer; found int".into()));
            }
            v => {
                return Err(FnErr::Type(format!(
                    "wrong type for value; expected uint32; got {}",
                    v.type_name()
                )));
            }
        };
        Ok(Value::from(derive_password(
            counter,
            a_str(&a[1])?,
            a_str(&a[2])?,
            a_str(&a[3])?,
            a_str(&a[4])?,
        )))
    });
    m.insert("encryptAES", |_, a| {
        nargs(a, "encryptAES", 2)?;
        encrypt_aes(a_str(&a[0])?, a_str(&a[1])?)
            .map(Value::from)
            .map_err(FnErr::Call)
    });
    m.insert("decryptAES", |_, a| {
        nargs(a, "decryptAES", 2)?;
        decrypt_aes(a_str(&a[0])?, a_str(&a[1])?)
            .map(Value::from)
            .map_err(FnErr::Call)
    });
    m.insert("buildCustomCert", |_, a| {
        nargs(a, "buildCustomCert", 2)?;
        build_custom_cert(a_str(&a[0])?, a_str(&a[1])?)
    });
    m.insert("genCA", |_, a| {
        nargs(a, "genCA", 2)?;
        let (cn, days) = (a_str(&a[0])?, a_int(&a[1])?);
        make_cert(cn, &[], &[], days, true, new_rsa_2048()?, None)
    });
    m.insert("genCAWithKey", |_, a| {
        nargs(a, "genCAWithKey", 3)?;
        let (cn, days) = (a_str(&a[0])?, a_int(&a[1])?);
        make_cert(cn, &[], &[], days, true, key_arg(&a[2])?, None)
    });
    m.insert("genSelfSignedCert", |_, a| {
        nargs(a, "genSelfSignedCert", 4)?;
        let ips = str_list(&a[1], "ips")?;
        let dns = str_list(&a[2], "alternate DNS")?;
        let (cn, days) = (a_str(&a[0])?, a_int(&a[3])?);
        make_cert(cn, &ips, &dns, days, false, new_rsa_2048()?, None)
    });
    m.insert("genSelfSignedCertWithKey", |_, a| {
        nargs(a, "genSelfSignedCertWithKey", 5)?;
        let ips = str_list(&a[1], "ips")?;
        let dns = str_list(&a[2], "alternate DNS")?;
        let (cn, days) = (a_str(&a[0])?, a_int(&a[3])?);
        make_cert(cn, &ips, &dns, days, false, key_arg(&a[4])?, None)
    });
    m.insert("genSignedCert", |_, a| {
        nargs(a, "genSignedCert", 5)?;
        ca_of(&a[4])?;
        signed(a, new_rsa_2048()?)
    });
    m.insert("genSignedCertWithKey", |_, a| {
        nargs(a, "genSignedCertWithKey", 6)?;
        ca_of(&a[4])?;
        signed(a, key_arg(&a[5])?)
    });
    m.insert("genPrivateKey", |_, a| {
        nargs(a, "genPrivateKey", 1)?;
        let kind = a_str(&a[0])?;
        Ok(Value::from(match PrivKey::generate(kind) {
            None => format!("Unknown type {kind}"),
            Some(Err(e)) => format!("failed to generate private key: {e}"),
            Some(Ok(k)) => k
                .to_pem()
                .unwrap_or_else(|e| format!("failed to generate private key: {e}")),
        }))
    });
    m.insert("htpasswd", |_, a| {
        nargs(a, "htpasswd", 2)?;
        let (user, pass) = (a_str(&a[0])?, a_str(&a[1])?);
        if user.contains(':') {
            return Ok(Value::from("invalid username: contains ':'"));
        }
        let h = bcrypt::hash_with_result(pass, 10).map_err(|e| FnErr::Call(e.to_string()))?;
        Ok(Value::from(format!(
            "{user}:{}",
            h.format_for_version(bcrypt::Version::TwoA)
        )))
    });
    m.insert("bcrypt", |_, a| {
        nargs(a, "bcrypt", 1)?;
        let h =
            bcrypt::hash_with_result(a_str(&a[0])?, 10).map_err(|e| FnErr::Call(e.to_string()))?;
        Ok(Value::from(h.format_for_version(bcrypt::Version::TwoA)))
    });
    m.insert("randBytes", |_, a| {
        nargs(a, "randBytes", 1)?;
        let n = a_int(&a[0])?.max(0) as usize;
        let b: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
        Ok(Value::from(b64(&b)))
    });
}
