//! Artifact extraction (`gitops_source::archive`): the input as a `.tar.gz`
//! (`extract_tar_gz`, and `check_tar_gz`, which must accept what extraction accepts, with
//! the same size), as a raw tar (`extract_tar`), and as a raw tar whose header checksums are
//! made right first (so that mutations reach the entry checks instead of stopping at a
//! checksum), each into a fresh destination with small limits. An error or an extraction,
//! never a panic; nothing is written outside the destination, and the destination holds
//! only directories and regular files (no symbolic or hard links, devices or FIFOs).
#![no_main]

use gitops_source::archive::{ExtractLimits, check_tar_gz, extract_tar, extract_tar_gz};
use libfuzzer_sys::fuzz_target;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

const LIMITS: ExtractLimits = ExtractLimits {
    max_bytes: 1 << 20,
    max_entries: 64,
    max_file_bytes: 256 << 10,
};

/// Destinations sit this deep in the run's directory, so that an entry escaping with a
/// few `..` still lands inside it, where the walk below finds it.
const PAD: [&str; 4] = ["p1", "p2", "p3", "p4"];

fuzz_target!(|data: &[u8]| {
    let base = if Path::new("/dev/shm").is_dir() {
        tempfile::Builder::new()
            .prefix("fuzz-extract")
            .tempdir_in("/dev/shm")
    } else {
        tempfile::Builder::new().prefix("fuzz-extract").tempdir()
    }
    .expect("temp dir");
    let dest = |name: &str| {
        let mut p = base.path().join(name);
        for d in PAD {
            p.push(d);
        }
        fs::create_dir_all(&p).expect("destination parent");
        p.join("out")
    };
    let (gz, raw, fixed) = (dest("gz"), dest("raw"), dest("fixed"));
    let skeleton: Vec<PathBuf> = [&gz, &raw, &fixed]
        .iter()
        .flat_map(|o| o.ancestors().skip(1).take(1 + PAD.len()))
        .map(Path::to_path_buf)
        .collect();

    let extracted = extract_tar_gz(data, &gz, LIMITS);
    if let Ok(n) = &extracted {
        match check_tar_gz(data, LIMITS) {
            Ok(m) => assert_eq!(
                *n, m,
                "check_tar_gz and extract_tar_gz disagree on the size"
            ),
            Err(e) => panic!("extract_tar_gz accepted ({n} bytes) what check_tar_gz refuses: {e}"),
        }
    }
    let _ = extract_tar(data, &raw, LIMITS);
    let mut tar = data.to_vec();
    fix_checksums(&mut tar);
    let _ = extract_tar(&tar[..], &fixed, LIMITS);

    let outs = [gz, raw, fixed];
    walk(base.path(), &mut |p| {
        let inside = outs.iter().find(|o| p.starts_with(o));
        let md = fs::symlink_metadata(p).expect("metadata");
        let Some(out) = inside else {
            // Only the skeleton of destination parents may be outside the destinations.
            let skeleton = md.is_dir() && skeleton.iter().any(|s| s == p);
            assert!(skeleton, "written outside the destination: {}", p.display());
            return;
        };
        let ft = md.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(p).unwrap_or_default();
            let resolved = lexical(p.parent().unwrap_or(out), &target);
            panic!(
                "symbolic link in the output: {} -> {} ({} the destination)",
                p.display(),
                target.display(),
                if resolved.starts_with(out) {
                    "inside"
                } else {
                    "OUTSIDE"
                }
            );
        }
        assert!(
            !(ft.is_block_device() || ft.is_char_device() || ft.is_fifo() || ft.is_socket()),
            "special file in the output: {}",
            p.display()
        );
        if ft.is_file() {
            assert_eq!(md.nlink(), 1, "hard link in the output: {}", p.display());
            assert_eq!(
                md.mode() & 0o7000,
                0,
                "setuid/setgid/sticky file: {}",
                p.display()
            );
        }
    });
});

/// Every path under `dir` (not following symbolic links).
fn walk(dir: &Path, f: &mut impl FnMut(&Path)) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        f(&p);
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&p, f);
        }
    }
}

/// `base/target` with `.` and `..` resolved lexically.
fn lexical(base: &Path, target: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in base.join(target).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Rewrites the checksum of every tar header (following entry sizes from header to
/// header), as a tar writer would have computed it.
fn fix_checksums(tar: &mut [u8]) {
    let mut off = 0usize;
    while tar.len().saturating_sub(off) >= 512 {
        let h = &mut tar[off..off + 512];
        off += 512;
        if h.iter().all(|b| *b == 0) {
            continue;
        }
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let size = entry_size(&h[124..136]);
        let data = size.div_ceil(512).saturating_mul(512);
        off = off.saturating_add(usize::try_from(data).unwrap_or(usize::MAX));
    }
}

/// A header's size field: octal digits, or base-256 when the high bit is set.
fn entry_size(field: &[u8]) -> u64 {
    if field[0] & 0x80 != 0 {
        return field[4..]
            .iter()
            .fold(0u64, |n, b| n.wrapping_shl(8) | u64::from(*b));
    }
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    std::str::from_utf8(&digits)
        .ok()
        .and_then(|s| u64::from_str_radix(s, 8).ok())
        .unwrap_or(0)
}
