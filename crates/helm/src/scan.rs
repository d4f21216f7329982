//! Byte searches that never probe the CPU.
//!
//! `memchr`'s top-level functions pick AVX2 at their first call through std's feature
//! detection, which runs about ten `cpuid` instructions: 60 µs in a virtual machine, where
//! each one traps to the hypervisor, so a sixtieth of a small chart's render. The engine's
//! searches cover a line or a template's text at a time, where SSE2 (part of every x86-64)
//! is as fast; other platforms get `memchr`'s portable searcher.

#[cfg(target_arch = "x86_64")]
use memchr::arch::x86_64::sse2::memchr as imp;

/// The position of the first `a` in `b`.
pub(crate) fn find(a: u8, b: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(s) = imp::One::new(a) {
        return s.find(b);
    }
    memchr::arch::all::memchr::One::new(a).find(b)
}

/// The position of the last `a` in `b`.
pub(crate) fn rfind(a: u8, b: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(s) = imp::One::new(a) {
        return s.rfind(b);
    }
    memchr::arch::all::memchr::One::new(a).rfind(b)
}

/// The position of the first `a` or `c` in `b`.
pub(crate) fn find2(a: u8, c: u8, b: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(s) = imp::Two::new(a, c) {
        return s.find(b);
    }
    memchr::arch::all::memchr::Two::new(a, c).find(b)
}

/// The position of the first `a`, `c` or `d` in `b`.
pub(crate) fn find3(a: u8, c: u8, d: u8, b: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(s) = imp::Three::new(a, c, d) {
        return s.find(b);
    }
    memchr::arch::all::memchr::Three::new(a, c, d).find(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_as_memchr_finds() {
        let text = b"key: value # comment\n  'quoted' \"x\\y\"\n".repeat(7);
        for n in 0..text.len() {
            let h = &text[n..];
            for &a in b":#\n'\"\\z" {
                assert_eq!(super::find(a, h), memchr::memchr(a, h));
                assert_eq!(super::rfind(a, h), memchr::memrchr(a, h));
                assert_eq!(super::find2(a, b'#', h), memchr::memchr2(a, b'#', h));
                assert_eq!(
                    super::find3(a, b'\n', b'q', h),
                    memchr::memchr3(a, b'\n', b'q', h)
                );
            }
        }
    }
}
