//! Crypto functions: certificates and keys (RSA, X.509 DER written here), bcrypt.

use std::collections::BTreeMap;
use std::rc::Rc;

use rsa::RsaPrivateKey;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use sha2::Digest;

use super::{a_int, a_str, b64, nargs};
use crate::template::{FnErr, FuncMap};
use crate::value::{Object, Value};

/// Sprig's `certificate` struct (`.Cert`, `.Key`).
pub struct Certificate {
    cert: String,
    key: String,
    der_key: Rc<RsaPrivateKey>,
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

fn pem(kind: &str, der: &[u8]) -> String {
    let b = b64(der);
    let mut out = format!("-----BEGIN {kind}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
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

fn gen_key() -> Result<RsaPrivateKey, FnErr> {
    gen_rsa(2048)
}

/// Odd primes below 2^14 for sieving candidates.
fn small_primes() -> &'static [u32] {
    static P: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let n = 1usize << 14;
        let mut comp = vec![false; n];
        let mut out = Vec::new();
        for i in 2..n {
            if !comp[i] {
                if i > 2 {
                    out.push(i as u32);
                }
                let mut j = i * i;
                while j < n {
                    comp[j] = true;
                    j += i;
                }
            }
        }
        out
    })
}

/// A random prime of exactly `bits` bits with the top two bits set: sieve by small primes,
/// a base-2 Miller-Rabin round, then the full test (20 Miller-Rabin rounds and Lucas).
fn gen_prime(bits: usize) -> num_bigint_dig::BigUint {
    use num_bigint_dig::BigUint;
    use num_bigint_dig::prime::{probably_prime, probably_prime_miller_rabin};
    let primes = small_primes();
    let bytes_len = bits.div_ceil(8);
    loop {
        let mut bytes: Vec<u8> = (0..bytes_len).map(|_| rand::random::<u8>()).collect();
        let top = bits - (bytes_len - 1) * 8; // bits used in the first byte (1..=8)
        bytes[0] &= ((1u16 << top) - 1) as u8;
        if top >= 2 {
            bytes[0] |= 3u8 << (top - 2);
        } else {
            bytes[0] |= 1;
            if bytes_len > 1 {
                bytes[1] |= 0x80;
            }
        }
        bytes[bytes_len - 1] |= 1;
        let base = BigUint::from_bytes_be(&bytes);
        let residues: Vec<u32> = primes
            .iter()
            .map(|&p| bytes.iter().fold(0u32, |r, &b| ((r << 8) | b as u32) % p))
            .collect();
        let mut delta: u32 = 0;
        while delta < (1 << 20) {
            let ok = primes
                .iter()
                .zip(&residues)
                .all(|(&p, &r)| !(r + delta).is_multiple_of(p));
            if ok {
                let cand = &base + BigUint::from(delta);
                if cand.bits() == bits
                    && probably_prime_miller_rabin(&cand, 1, true)
                    && probably_prime(&cand, 20)
                {
                    return cand;
                }
            }
            delta += 2;
        }
    }
}

/// An RSA key of `bits` bits; the two primes are searched on two threads.
fn gen_rsa(bits: usize) -> Result<RsaPrivateKey, FnErr> {
    let e = num_bigint_dig::BigUint::from(65537u32);
    for _ in 0..8 {
        let (p, q) = std::thread::scope(|s| {
            let h = s.spawn(|| gen_prime(bits / 2));
            let q = gen_prime(bits - bits / 2);
            (h.join().ok(), q)
        });
        let Some(p) = p else { continue };
        if p == q {
            continue;
        }
        if let Ok(k) = RsaPrivateKey::from_p_q(p, q, e.clone()) {
            return Ok(k);
        }
    }
    Err(FnErr::Call("rsa: unable to generate a key".into()))
}

fn sign(key: &RsaPrivateKey, data: &[u8]) -> Result<Vec<u8>, FnErr> {
    let hash = sha2::Sha256::digest(data);
    let mut digest_info = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    digest_info.extend_from_slice(&hash);
    key.sign(rsa::Pkcs1v15Sign::new_unprefixed(), &digest_info)
        .map_err(|e| FnErr::Call(e.to_string()))
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
    key: &'a RsaPrivateKey,
    subject: Vec<u8>,
    ski: Vec<u8>,
}

fn make_cert(
    cn: &str,
    ips: &[String],
    dns: &[String],
    days: i64,
    is_ca: bool,
    issuer: Option<Issuer>,
) -> Result<Value, FnErr> {
    let key = gen_key()?;
    let pub_der = key
        .to_public_key()
        .to_pkcs1_der()
        .map_err(|e| FnErr::Call(e.to_string()))?
        .as_bytes()
        .to_vec();
    let ski = sha1::Sha1::digest(&pub_der).to_vec();
    let serial: [u8; 16] = rand::random();
    let now = jiff::Timestamp::now();
    let not_after = now
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .unwrap_or(now);
    let alg = seq(&[oid(&[1, 2, 840, 113549, 1, 1, 11]), tlv(0x05, &[])]);
    let subject = name(cn);
    let spki = seq(&[
        seq(&[oid(&[1, 2, 840, 113549, 1, 1, 1]), tlv(0x05, &[])]),
        bit_string(&pub_der),
    ]);
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
    let sig_key = issuer.as_ref().map(|i| i.key).unwrap_or(&key);
    let sig = sign(sig_key, &tbs)?;
    let cert = seq(&[tbs, alg, bit_string(&sig)]);
    let key_der = key.to_pkcs1_der().map_err(|e| FnErr::Call(e.to_string()))?;
    Ok(Value::Object(Rc::new(Certificate {
        cert: pem("CERTIFICATE", &cert),
        key: pem("RSA PRIVATE KEY", key_der.as_bytes()),
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

fn pem_decode(text: &str, kind_suffix: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start..];
    let hdr_end = rest
        .find("-----\n")
        .or_else(|| rest[11..].find("-----").map(|i| i + 11))?;
    let header = &rest[11..hdr_end];
    if !header.ends_with(kind_suffix) {
        return None;
    }
    let body_start = hdr_end + 5;
    let end = rest.find("-----END ")?;
    let body: String = rest[body_start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn build_custom_cert(cert_b64: &str, key_b64: &str) -> Result<Value, FnErr> {
    use base64::Engine;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let dec = |s: &str| base64::engine::general_purpose::STANDARD.decode(s.trim());
    let cert_pem =
        dec(cert_b64).map_err(|_| FnErr::Call("unable to decode base64 certificate".into()))?;
    let key_pem =
        dec(key_b64).map_err(|_| FnErr::Call("unable to decode base64 private key".into()))?;
    let cert_text = String::from_utf8_lossy(&cert_pem).into_owned();
    let key_text = String::from_utf8_lossy(&key_pem).into_owned();
    let cert_der = pem_decode(&cert_text, "CERTIFICATE")
        .ok_or_else(|| FnErr::Call("error decoding certificate".into()))?;
    let key_der = pem_decode(&key_text, "PRIVATE KEY")
        .ok_or_else(|| FnErr::Call("error decoding private key".into()))?;
    let key = RsaPrivateKey::from_pkcs1_der(&key_der)
        .or_else(|_| RsaPrivateKey::from_pkcs8_der(&key_der))
        .map_err(|e| FnErr::Call(format!("error parsing private key: {e}")))?;
    let bad = || FnErr::Call("error parsing certificate".into());
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

pub(super) fn register(m: &mut FuncMap) {
    m.insert("buildCustomCert", |_, a| {
        nargs(a, "buildCustomCert", 2)?;
        build_custom_cert(a_str(&a[0])?, a_str(&a[1])?)
    });
    m.insert("genCA", |_, a| {
        nargs(a, "genCA", 2)?;
        let v = make_cert(a_str(&a[0])?, &[], &[], a_int(&a[1])?, true, None)?;
        Ok(v)
    });
    m.insert("genSelfSignedCert", |_, a| {
        nargs(a, "genSelfSignedCert", 4)?;
        let ips = str_list(&a[1], "ips")?;
        let dns = str_list(&a[2], "alternate DNS")?;
        make_cert(a_str(&a[0])?, &ips, &dns, a_int(&a[3])?, false, None)
    });
    m.insert("genSignedCert", |_, a| {
        nargs(a, "genSignedCert", 5)?;
        let ips = str_list(&a[1], "ips")?;
        let dns = str_list(&a[2], "alternate DNS")?;
        let ca = ca_arg(&a[4])?;
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
            Some(issuer),
        )
    });
    m.insert("genPrivateKey", |_, a| {
        nargs(a, "genPrivateKey", 1)?;
        match a_str(&a[0])? {
            "rsa" => {
                let mut rng = rsa::rand_core::OsRng;
                let k =
                    RsaPrivateKey::new(&mut rng, 4096).map_err(|e| FnErr::Call(e.to_string()))?;
                let der = k.to_pkcs1_der().map_err(|e| FnErr::Call(e.to_string()))?;
                Ok(Value::from(pem("RSA PRIVATE KEY", der.as_bytes())))
            }
            other => Ok(Value::from(format!("Unknown type {other}"))),
        }
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
