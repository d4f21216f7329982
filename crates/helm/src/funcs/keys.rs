//! Private keys for Sprig's crypto functions: generation (RSA, DSA, ECDSA P-256, Ed25519),
//! PEM encoding and parsing as Sprig does it, public keys and signatures for certificates.
//!
//! Arithmetic, signatures and the DSA/EC/Ed25519 key generation are OpenSSL's (libcrypto).
//! RSA primes are searched here, on OpenSSL's big numbers: a random odd start with the top
//! two bits set, a sieve over a window of odd candidates by the odd primes below 2^16,
//! then Miller-Rabin (base 2, then random bases). Every key is fresh: nothing is cached.

use openssl::bn::{BigNum, BigNumContext, BigNumRef, MsbOption};
use openssl::dsa::Dsa;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use std::sync::atomic::{AtomicBool, Ordering};

type Res<T> = Result<T, String>;

fn ossl(e: openssl::error::ErrorStack) -> String {
    e.to_string()
}

/// A private key of one of the types Sprig handles.
pub enum PrivKey {
    /// RSA (`RSA PRIVATE KEY`, PKCS#1).
    Rsa(Rsa<Private>),
    /// ECDSA (`EC PRIVATE KEY`, SEC 1).
    Ec(EcKey<Private>),
    /// Ed25519 (`PRIVATE KEY`, PKCS#8).
    Ed25519(PKey<Private>),
    /// DSA (`DSA PRIVATE KEY`, OpenSSL's sequence of version, p, q, g, y, x).
    Dsa(Dsa<Private>),
}

// --- DER helpers (definite lengths)
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

fn der_uint(b: &BigNumRef) -> Vec<u8> {
    let mut v = b.to_vec();
    if v.is_empty() {
        v.push(0);
    }
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    tlv(0x02, &v)
}

/// One DER element at the start of `b`: (tag, content, rest).
fn der_next(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
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
    let end = hdr.checked_add(len)?;
    Some((tag, b.get(hdr..end)?, b.get(end..)?))
}

/// Go's `pem.EncodeToMemory`: 64-column base64 body.
pub fn pem(kind: &str, der: &[u8]) -> String {
    let b = super::b64(der);
    let mut out = String::with_capacity(b.len() + b.len() / 64 + 2 * kind.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(kind);
    out.push_str("-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(kind);
    out.push_str("-----\n");
    out
}

/// Go's `pem.Decode` of the first block: (type, bytes).
pub fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    use base64::Engine;
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let type_end = rest.find("-----")?;
    let kind = rest[..type_end].to_string();
    if kind.contains('\n') {
        return None;
    }
    let body = &rest[type_end + 5..];
    let end_marker = format!("-----END {kind}-----");
    let end = body.find(&end_marker)?;
    let b64: String = body[..end]
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let data = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some((kind, data))
}

impl PrivKey {
    /// Sprig's `genPrivateKey` for `rsa` (4096 bits), `dsa` (L2048N256), `ecdsa` (P-256) and
    /// `ed25519`; `None` for another type.
    pub fn generate(kind: &str) -> Option<Res<PrivKey>> {
        Some(match kind {
            "" | "rsa" => gen_rsa(4096).map(PrivKey::Rsa),
            "dsa" => Dsa::generate(2048)
                .map(PrivKey::Dsa)
                .map_err(|e| format!("failed to generate dsa params: {e}")),
            "ecdsa" => EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)
                .and_then(|g| EcKey::generate(&g))
                .map(PrivKey::Ec)
                .map_err(ossl),
            "ed25519" => PKey::generate_ed25519().map(PrivKey::Ed25519).map_err(ossl),
            _ => return None,
        })
    }

    /// A new RSA key of `bits` bits (the keys of `genCA`, `genSelfSignedCert`, ...).
    pub fn rsa(bits: u32) -> Res<PrivKey> {
        gen_rsa(bits).map(PrivKey::Rsa)
    }

    /// Sprig's `pemBlockForKey`.
    pub fn to_pem(&self) -> Res<String> {
        Ok(match self {
            PrivKey::Rsa(k) => pem("RSA PRIVATE KEY", &k.private_key_to_der().map_err(ossl)?),
            PrivKey::Ec(k) => pem("EC PRIVATE KEY", &k.private_key_to_der().map_err(ossl)?),
            PrivKey::Dsa(k) => {
                let mut body = tlv(0x02, &[0]);
                for n in [k.p(), k.q(), k.g(), k.pub_key(), k.priv_key()] {
                    body.extend(der_uint(n));
                }
                pem("DSA PRIVATE KEY", &tlv(0x30, &body))
            }
            PrivKey::Ed25519(k) => {
                // PKCS#8 v1 as Go writes it: no public key, CurvePrivateKey OCTET STRING
                let seed = k.raw_private_key().map_err(ossl)?;
                let mut body = tlv(0x02, &[0]);
                body.extend(tlv(0x30, &tlv(0x06, &[0x2b, 0x65, 0x70])));
                body.extend(tlv(0x04, &tlv(0x04, &seed)));
                pem("PRIVATE KEY", &tlv(0x30, &body))
            }
        })
    }

    /// Sprig's `parsePrivateKeyPEM` (errors as Sprig words them).
    pub fn from_pem(text: &str) -> Res<PrivKey> {
        let Some((kind, der)) = pem_decode(text) else {
            return Err("no PEM data in input".into());
        };
        if kind == "PRIVATE KEY" {
            let k = PKey::private_key_from_pkcs8(&der)
                .map_err(|e| format!("decoding PEM as PKCS#8: {e}"))?;
            return match k.id() {
                Id::RSA => Ok(PrivKey::Rsa(k.rsa().map_err(ossl)?)),
                Id::EC => Ok(PrivKey::Ec(k.ec_key().map_err(ossl)?)),
                Id::ED25519 => Ok(PrivKey::Ed25519(k)),
                _ => Err("decoding PEM as PKCS#8: x509: PKCS#8 wrapping contained private key with unknown algorithm".into()),
            };
        }
        let Some(t) = kind.strip_suffix(" PRIVATE KEY") else {
            return Err(format!("no private key data in PEM block of type {kind}"));
        };
        match t {
            "RSA" => Rsa::private_key_from_der(&der)
                .map(PrivKey::Rsa)
                .map_err(|e| format!("parsing RSA private key from PEM: {e}")),
            "EC" => EcKey::private_key_from_der(&der)
                .map(PrivKey::Ec)
                .map_err(|e| format!("parsing EC private key from PEM: {e}")),
            "DSA" => parse_dsa(&der)
                .ok_or_else(|| "parsing DSA private key from PEM: asn1: structure error".into()),
            _ => Err(format!("invalid private key type {t}")),
        }
    }

    fn pkey(&self) -> Res<PKey<Private>> {
        match self {
            PrivKey::Rsa(k) => PKey::from_rsa(k.clone()).map_err(ossl),
            PrivKey::Ec(k) => PKey::from_ec_key(k.clone()).map_err(ossl),
            PrivKey::Ed25519(k) => Ok(k.clone()),
            PrivKey::Dsa(k) => PKey::from_dsa(k.clone()).map_err(ossl),
        }
    }

    /// The DER `SubjectPublicKeyInfo`; DSA keys cannot go into certificates (as in Go).
    pub fn spki_der(&self) -> Res<Vec<u8>> {
        if let PrivKey::Dsa(_) = self {
            return Err("x509: unsupported public key type: *dsa.PublicKey".into());
        }
        self.pkey()?.public_key_to_der().map_err(ossl)
    }

    /// The `subjectPublicKey` bits of the SPKI (what Go hashes for key identifiers).
    pub fn public_key_bits(&self) -> Res<Vec<u8>> {
        let spki = self.spki_der()?;
        let bad = || "x509: malformed public key".to_string();
        let (_, body, _) = der_next(&spki).ok_or_else(bad)?;
        let (_, _, rest) = der_next(body).ok_or_else(bad)?;
        let (tag, bits, _) = der_next(rest).ok_or_else(bad)?;
        if tag != 0x03 || bits.is_empty() {
            return Err(bad());
        }
        Ok(bits[1..].to_vec())
    }

    /// The DER `AlgorithmIdentifier` of signatures made with this key (Go's defaults).
    pub fn signature_algorithm(&self) -> Res<Vec<u8>> {
        let oid = |b: &[u8]| tlv(0x06, b);
        Ok(match self {
            PrivKey::Rsa(_) => {
                let mut b = oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]);
                b.extend(tlv(0x05, &[]));
                tlv(0x30, &b)
            }
            PrivKey::Ec(k) => {
                let last = match k.group().curve_name() {
                    Some(Nid::SECP384R1) => 0x03,
                    Some(Nid::SECP521R1) => 0x04,
                    _ => 0x02,
                };
                tlv(
                    0x30,
                    &oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, last]),
                )
            }
            PrivKey::Ed25519(_) => tlv(0x30, &oid(&[0x2b, 0x65, 0x70])),
            PrivKey::Dsa(_) => {
                return Err(
                    "x509: certificate private key does not implement crypto.Signer".into(),
                );
            }
        })
    }

    /// Signs `data` as Go's `x509.CreateCertificate` does with this key.
    pub fn sign(&self, data: &[u8]) -> Res<Vec<u8>> {
        let pkey = self.pkey()?;
        let mut signer = match self {
            PrivKey::Rsa(_) => Signer::new(MessageDigest::sha256(), &pkey),
            PrivKey::Ec(k) => Signer::new(
                match k.group().curve_name() {
                    Some(Nid::SECP384R1) => MessageDigest::sha384(),
                    Some(Nid::SECP521R1) => MessageDigest::sha512(),
                    _ => MessageDigest::sha256(),
                },
                &pkey,
            ),
            PrivKey::Ed25519(_) => Signer::new_without_digest(&pkey),
            PrivKey::Dsa(_) => {
                return Err(
                    "x509: certificate private key does not implement crypto.Signer".into(),
                );
            }
        }
        .map_err(ossl)?;
        signer.sign_oneshot_to_vec(data).map_err(ossl)
    }
}

fn parse_dsa(der: &[u8]) -> Option<PrivKey> {
    let (tag, body, _) = der_next(der)?;
    if tag != 0x30 {
        return None;
    }
    let mut ints = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (t, c, r) = der_next(rest)?;
        if t != 0x02 {
            return None;
        }
        ints.push(BigNum::from_slice(c).ok()?);
        rest = r;
    }
    let [_, p, q, g, y, x]: [BigNum; 6] = ints.try_into().ok()?;
    Dsa::from_private_components(p, q, g, x, y)
        .ok()
        .map(PrivKey::Dsa)
}

// ---------------------------------------------------------------------------------------
// RSA key generation

/// Odd primes below 2^16, paired so that each product fits in 32 bits.
fn sieve_primes() -> &'static [u32] {
    static P: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let n = 1usize << 16;
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

/// `x mod m` for a big-endian byte string and `m < 2^32`.
fn mod_small(be: &[u8], m: u64) -> u64 {
    let mut r = 0u64;
    let head = be.len() % 4;
    for &b in &be[..head] {
        r = ((r << 8) | b as u64) % m;
    }
    for c in be[head..].chunks_exact(4) {
        let w = u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64;
        r = ((r << 32) | w) % m;
    }
    r
}

/// Miller-Rabin rounds with random bases after the base-2 round, by prime size (HAC table
/// 4.4 / FIPS 186-5 table B.1 counts, plus one).
fn mr_rounds(bits: u32) -> u32 {
    match bits {
        1300.. => 5,
        850.. => 6,
        650.. => 7,
        350.. => 9,
        250.. => 13,
        _ => 40,
    }
}

struct Mr {
    n: BigNum,
    n1: BigNum,
    d: BigNum,
    s: i32,
    one: BigNum,
}

impl Mr {
    fn new(n: &BigNumRef) -> Res<Mr> {
        let n = n.to_owned().map_err(ossl)?;
        let mut n1 = n.to_owned().map_err(ossl)?;
        n1.sub_word(1).map_err(ossl)?;
        let mut s = 0;
        while !n1.is_bit_set(s) {
            s += 1;
        }
        let mut d = BigNum::new().map_err(ossl)?;
        d.rshift(&n1, s).map_err(ossl)?;
        Ok(Mr {
            n,
            n1,
            d,
            s,
            one: BigNum::from_u32(1).map_err(ossl)?,
        })
    }

    /// One strong-probable-prime test to base `a`.
    fn round(&self, a: &BigNumRef, ctx: &mut BigNumContext) -> Res<bool> {
        let mut x = BigNum::new().map_err(ossl)?;
        x.mod_exp(a, &self.d, &self.n, ctx).map_err(ossl)?;
        if x == self.one || x == self.n1 {
            return Ok(true);
        }
        let mut y = BigNum::new().map_err(ossl)?;
        for _ in 1..self.s {
            y.mod_sqr(&x, &self.n, ctx).map_err(ossl)?;
            std::mem::swap(&mut x, &mut y);
            if x == self.n1 {
                return Ok(true);
            }
            if x == self.one {
                return Ok(false);
            }
        }
        Ok(false)
    }

    /// `rounds` tests to uniformly random bases in [2, n-2].
    fn random_rounds(&self, rounds: u32, ctx: &mut BigNumContext) -> Res<bool> {
        let mut range = self.n.to_owned().map_err(ossl)?;
        range.sub_word(3).map_err(ossl)?;
        let mut a = BigNum::new().map_err(ossl)?;
        for _ in 0..rounds {
            range.rand_range(&mut a).map_err(ossl)?;
            a.add_word(2).map_err(ossl)?;
            if !self.round(&a, ctx)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A random prime of exactly `bits` bits with the top two bits set and `p-1` prime to e;
/// `None` once `stop` is set.
fn gen_prime(bits: u32, stop: &AtomicBool) -> Res<Option<BigNum>> {
    const WINDOW: usize = 1 << 12; // odd candidates per random start
    let primes = sieve_primes();
    let mut ctx = BigNumContext::new().map_err(ossl)?;
    let two = BigNum::from_u32(2).map_err(ossl)?;
    let mut start = BigNum::new().map_err(ossl)?;
    let mut cand = BigNum::new().map_err(ossl)?;
    let mut sieve = vec![false; WINDOW];
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        start
            .rand(bits as i32, MsbOption::TWO_ONES, true)
            .map_err(ossl)?;
        let be = start.to_vec();
        sieve.iter_mut().for_each(|x| *x = false);
        // mark j where start + 2j is divisible by a small prime; primes in pairs
        let mut i = 0;
        while i < primes.len() {
            let p1 = primes[i] as u64;
            let p2 = primes.get(i + 1).map(|&p| p as u64).unwrap_or(1);
            let r = mod_small(&be, p1 * p2);
            for p in [p1, p2] {
                if p == 1 {
                    continue;
                }
                let rp = r % p;
                // smallest j >= 0 with rp + 2j ≡ 0 (mod p): j = (p - rp) * (p+1)/2 mod p
                let mut j = (((p - rp) % p) * p.div_ceil(2)) % p;
                while (j as usize) < WINDOW {
                    sieve[j as usize] = true;
                    j += p;
                }
            }
            i += 2;
        }
        for (j, composite) in sieve.iter().enumerate() {
            if *composite {
                continue;
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let off = BigNum::from_u32(2 * j as u32).map_err(ossl)?;
            cand.checked_add(&start, &off).map_err(ossl)?;
            if cand.num_bits() != bits as i32 {
                break;
            }
            // gcd(e, p-1) = 1 for e = 65537 (a prime): p mod e != 1
            if cand.mod_word(65537).map_err(ossl)? == 1 {
                continue;
            }
            let mr = Mr::new(&cand)?;
            if !mr.round(&two, &mut ctx)? {
                continue;
            }
            if mr.random_rounds(mr_rounds(bits), &mut ctx)? {
                return Ok(Some(cand));
            }
        }
    }
}

/// Two primes of `bits - bits / 2` and `bits / 2` bits, searched on two threads. When both
/// have the same size, both threads search for either and the first two found are taken:
/// the expected time is that of one search per thread, not of the slower of two searches.
fn prime_pair(bits: u32) -> Res<(BigNum, BigNum)> {
    let failed = || "rsa: prime search failed".to_string();
    let (hi, lo) = (bits - bits / 2, bits / 2);
    let stop = AtomicBool::new(false);
    let found = std::sync::Mutex::new(Vec::with_capacity(2));
    let worker = |size: u32, shared: bool| -> Res<()> {
        loop {
            let Some(p) = gen_prime(size, &stop)? else {
                return Ok(());
            };
            let mut found = found.lock().map_err(|_| failed())?;
            found.push(p);
            if found.len() >= 2 {
                stop.store(true, Ordering::Relaxed);
                return Ok(());
            }
            if !shared {
                return Ok(());
            }
        }
    };
    let shared = hi == lo;
    let (a, b) = std::thread::scope(|s| {
        let h = s.spawn(|| worker(lo, shared));
        let mine = worker(hi, shared);
        if mine.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        (h.join(), mine)
    });
    a.map_err(|_| failed())??;
    b?;
    let mut found = found.into_inner().map_err(|_| failed())?;
    // with different sizes, the larger prime first
    found.sort_by_key(|p| std::cmp::Reverse(p.num_bits()));
    match (found.pop(), found.pop()) {
        (Some(q), Some(p)) => Ok((p, q)),
        _ => Err(failed()),
    }
}

/// An RSA key with e = 65537 and a modulus of exactly `bits` bits (primes from
/// [`prime_pair`]). d = e^-1 mod lcm(p-1, q-1), as FIPS 186-5 and Go do.
fn gen_rsa(bits: u32) -> Res<Rsa<Private>> {
    if bits < 64 {
        return Err("crypto/rsa: too few primes of given length to generate an RSA key".into());
    }
    let mut ctx = BigNumContext::new().map_err(ossl)?;
    for _ in 0..16 {
        let (p, q) = prime_pair(bits)?;
        // |p - q| must be large (FIPS 186-5 A.1.3): more than 2^(bits/2 - 100)
        let mut diff = BigNum::new().map_err(ossl)?;
        diff.checked_sub(&p, &q).map_err(ossl)?;
        if diff.num_bits() <= (bits / 2) as i32 - 100 {
            continue;
        }
        let (p, q) = if p.ucmp(&q).is_lt() { (q, p) } else { (p, q) };
        let mut n = BigNum::new().map_err(ossl)?;
        n.checked_mul(&p, &q, &mut ctx).map_err(ossl)?;
        if n.num_bits() != bits as i32 {
            continue;
        }
        let e = BigNum::from_u32(65537).map_err(ossl)?;
        let mut p1 = p.to_owned().map_err(ossl)?;
        p1.sub_word(1).map_err(ossl)?;
        let mut q1 = q.to_owned().map_err(ossl)?;
        q1.sub_word(1).map_err(ossl)?;
        let mut g = BigNum::new().map_err(ossl)?;
        g.gcd(&p1, &q1, &mut ctx).map_err(ossl)?;
        let mut phi = BigNum::new().map_err(ossl)?;
        phi.checked_mul(&p1, &q1, &mut ctx).map_err(ossl)?;
        let mut lambda = BigNum::new().map_err(ossl)?;
        lambda.checked_div(&phi, &g, &mut ctx).map_err(ossl)?;
        let mut d = BigNum::new().map_err(ossl)?;
        if d.mod_inverse(&e, &lambda, &mut ctx).is_err() {
            continue;
        }
        // d > 2^(bits/2) (FIPS 186-5 A.1.1)
        if d.num_bits() <= (bits / 2) as i32 {
            continue;
        }
        let mut dp = BigNum::new().map_err(ossl)?;
        dp.nnmod(&d, &p1, &mut ctx).map_err(ossl)?;
        let mut dq = BigNum::new().map_err(ossl)?;
        dq.nnmod(&d, &q1, &mut ctx).map_err(ossl)?;
        let mut qinv = BigNum::new().map_err(ossl)?;
        qinv.mod_inverse(&q, &p, &mut ctx).map_err(ossl)?;
        // (no RSA_check_key: it re-tests both primes with 64+ Miller-Rabin rounds each)
        return Rsa::from_private_components(n, e, d, p, q, dp, dq, qinv).map_err(ossl);
    }
    Err("crypto/rsa: unable to generate a key".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod_small_matches_openssl() {
        let mut n = BigNum::new().unwrap();
        n.rand(1021, MsbOption::ONE, true).unwrap();
        let be = n.to_vec();
        for m in [3u64, 65521, 65521 * 65519, 4294967291] {
            let mut bm = BigNum::new().unwrap();
            let mut ctx = BigNumContext::new().unwrap();
            bm.nnmod(&n, &BigNum::from_slice(&m.to_be_bytes()).unwrap(), &mut ctx)
                .unwrap();
            let want = bm.to_vec().iter().fold(0u64, |r, b| (r << 8) | *b as u64);
            assert_eq!(mod_small(&be, m), want, "mod {m}");
        }
    }

    #[test]
    fn primes_are_prime_and_sized() {
        let mut ctx = BigNumContext::new().unwrap();
        for bits in [256u32, 512, 1024] {
            let p = gen_prime(bits, &AtomicBool::new(false)).unwrap().unwrap();
            assert_eq!(p.num_bits(), bits as i32);
            assert!(p.is_bit_set(bits as i32 - 2), "top two bits set");
            assert!(p.is_prime(64, &mut ctx).unwrap());
            assert_ne!(p.mod_word(65537).unwrap(), 1);
        }
    }

    #[test]
    fn miller_rabin_rejects_composites() {
        let mut ctx = BigNumContext::new().unwrap();
        // Carmichael numbers and a product of two primes
        for c in ["561", "41041", "3215031751", "2047", "1373653"] {
            let n = BigNum::from_dec_str(c).unwrap();
            let mr = Mr::new(&n).unwrap();
            let two = BigNum::from_u32(2).unwrap();
            let pass2 = mr.round(&two, &mut ctx).unwrap();
            let passr = mr.random_rounds(20, &mut ctx).unwrap();
            assert!(!(pass2 && passr), "{c} passed");
        }
        let p = BigNum::from_dec_str("2305843009213693951").unwrap(); // 2^61-1
        let mr = Mr::new(&p).unwrap();
        assert!(mr.random_rounds(10, &mut ctx).unwrap());
    }

    #[test]
    fn rsa_keys_are_valid() {
        let k = gen_rsa(1024).unwrap();
        assert_eq!(k.n().num_bits(), 1024);
        assert_eq!(k.e().to_dec_str().unwrap().to_string(), "65537");
        assert!(k.check_key().unwrap());
        let k2 = gen_rsa(1024).unwrap();
        assert_ne!(k.n(), k2.n(), "fresh keys");
    }

    #[test]
    fn pem_round_trips_every_key_type() {
        for kind in ["ecdsa", "ed25519"] {
            let k = PrivKey::generate(kind).unwrap().ok().unwrap();
            let pem = k.to_pem().unwrap();
            let back = PrivKey::from_pem(&pem).map_err(|e| e.to_string()).unwrap();
            assert_eq!(back.to_pem().unwrap(), pem, "{kind}");
            let sig = k.sign(b"data").unwrap();
            assert!(!sig.is_empty());
        }
        let k = PrivKey::rsa(1024).ok().unwrap();
        let pem = k.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        assert_eq!(PrivKey::from_pem(&pem).ok().unwrap().to_pem().unwrap(), pem);
        assert!(PrivKey::from_pem("nothing").is_err());
        assert!(
            PrivKey::from_pem("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n")
                .err()
                .unwrap()
                .contains("no private key data in PEM block of type FOO")
        );
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    #[test]
    #[ignore]
    fn time_rsa() {
        let t = std::time::Instant::now();
        let p = gen_prime(2048, &AtomicBool::new(false)).unwrap().unwrap();
        eprintln!("prime 2048: {:?}", t.elapsed());
        let mut ctx = BigNumContext::new().unwrap();
        let mr = Mr::new(&p).unwrap();
        let two = BigNum::from_u32(2).unwrap();
        let t = std::time::Instant::now();
        for _ in 0..20 {
            mr.round(&two, &mut ctx).unwrap();
        }
        eprintln!("modexp 2048: {:?}", t.elapsed() / 20);
        let t = std::time::Instant::now();
        for _ in 0..10 {
            let t = std::time::Instant::now();
            let _ = gen_rsa(4096).unwrap();
            eprintln!("rsa 4096: {:?}", t.elapsed());
        }
        eprintln!("rsa 4096 avg: {:?}", t.elapsed() / 10);
        let t = std::time::Instant::now();
        for _ in 0..10 {
            gen_prime(2048, &AtomicBool::new(false)).unwrap().unwrap();
        }
        eprintln!("prime 2048 avg: {:?}", t.elapsed() / 10);
        let t = std::time::Instant::now();
        let _ = gen_rsa(2048).unwrap();
        eprintln!("rsa 2048: {:?}", t.elapsed());
    }
}
