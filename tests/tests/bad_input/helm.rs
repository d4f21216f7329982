//! Hostile input to the Helm engine, answered as helm v4.1.4 answers it and within bounded
//! memory: YAML alias bombs ("billion laughs"), decompression bombs in chart archives, and
//! `printf` widths, precisions and argument indexes out of bounds; and (ours, where helm would
//! exhaust memory) templates that write without end.
//!
//! Every expectation is what the real `helm template` v4.1.4 printed for the same input
//! (after its `Error: `). Every render runs under [`PeakAlloc::measure`], which fails the
//! test when the heap grows past a bound and aborts the binary past [`CAP`]; the figures are
//! printed (`cargo test -p gitops-tests --test bad_input helm:: -- --nocapture`). No timing.
//!
//! The archives are generated here: gzip streams whose runs of zeros repeat one flushed
//! deflate block of a mebibyte of zeros, so a gibibyte of content costs a megabyte and no
//! time. `fuzz/seeds/chart-archive/file-16MiB-of-zeros.tgz` was made the same way (one
//! 16 MiB file of zeros beside `Chart.yaml` and a template).
//!
//! [`PeakAlloc::measure`]: gitops_tests::alloc::PeakAlloc::measure

use std::path::{Path, PathBuf};

use flate2::{Compress, Compression, Crc, FlushCompress};
use gitops_helm::{Error, TemplateRequest};
use sha2::Digest;

use crate::ALLOC;

/// Past this the allocator refuses memory and the binary aborts.
const CAP: usize = 1 << 30;

const MIB: usize = 1 << 20;

/// Runs a hostile render, printing and bounding its peak heap growth.
fn measured<T>(what: &str, bound: usize, f: impl FnOnce() -> T) -> T {
    let (out, peak) = ALLOC.measure(CAP, f);
    eprintln!("{what}: peak heap {:.2} MiB", peak as f64 / MIB as f64);
    assert!(
        peak < bound,
        "{what}: peak heap {peak} bytes, over the bound of {bound}"
    );
    out
}

fn seeds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds")
}

/// Writes files (relative path, content) under `dir`.
fn write(dir: &Path, files: &[(&str, &[u8])]) {
    for (name, data) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

const CHART: &[u8] = b"apiVersion: v2\nname: c\nversion: 0.1.0\n";

/// `helm template r CHART [-f VALUES]...`.
fn template(chart: &Path, values: &[&Path]) -> Result<String, Error> {
    let req = TemplateRequest {
        name: "r".into(),
        chart: chart.to_path_buf(),
        value_files: values.iter().map(|p| p.to_path_buf()).collect(),
        ..Default::default()
    };
    gitops_helm::helm_template(&req).map(|o| o.stdout)
}

fn error_of(r: Result<String, Error>) -> String {
    match r {
        Ok(out) => panic!(
            "rendered instead of failing:\n{}",
            &out[..out.len().min(500)]
        ),
        Err(e) => e.to_string(),
    }
}

fn alias_bomb() -> Vec<u8> {
    std::fs::read(seeds().join("yaml/alias-bomb-9.yaml")).unwrap()
}

const EXCESSIVE: &str = "error converting YAML to JSON: yaml: document contains excessive aliasing";

// ---------------------------------------------------------------------------------------
// YAML alias bombs

#[test]
fn alias_bomb_in_a_values_file() {
    let tmp = tempfile::tempdir().unwrap();
    let chart = tmp.path().join("c");
    write(
        &chart,
        &[
            ("Chart.yaml", CHART),
            ("values.yaml", b"a: 1\n"),
            ("templates/t.yaml", b"x: {{ .Values.a }}\n"),
        ],
    );
    let bomb = tmp.path().join("bomb.yaml");
    std::fs::write(&bomb, alias_bomb()).unwrap();
    let err = measured("alias bomb (-f)", 16 * MIB, || {
        error_of(template(&chart, &[&bomb]))
    });
    assert_eq!(
        err,
        format!(
            "failed to parse {}: cannot unmarshal yaml document: {EXCESSIVE}",
            bomb.display()
        )
    );
}

#[test]
fn alias_bomb_in_the_charts_values() {
    let tmp = tempfile::tempdir().unwrap();
    let bomb = alias_bomb();
    write(
        tmp.path(),
        &[
            ("Chart.yaml", CHART),
            ("values.yaml", &bomb),
            ("templates/t.yaml", b"x: 1\n"),
        ],
    );
    let err = measured("alias bomb (values.yaml)", 16 * MIB, || {
        error_of(template(tmp.path(), &[]))
    });
    assert_eq!(
        err,
        format!("cannot load values.yaml: cannot unmarshal yaml document: {EXCESSIVE}")
    );
}

#[test]
fn alias_bomb_in_chart_yaml() {
    let tmp = tempfile::tempdir().unwrap();
    let chart_yaml = [CHART, &alias_bomb()].concat();
    write(
        tmp.path(),
        &[("Chart.yaml", &chart_yaml), ("templates/t.yaml", b"x: 1\n")],
    );
    let err = measured("alias bomb (Chart.yaml)", 16 * MIB, || {
        error_of(template(tmp.path(), &[]))
    });
    assert_eq!(err, format!("cannot load Chart.yaml: {EXCESSIVE}"));
}

#[test]
fn alias_bomb_in_a_rendered_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        &[
            ("Chart.yaml", CHART),
            ("bomb.yaml", &alias_bomb()),
            (
                "templates/t.yaml",
                b"kind: A\n---\n{{ .Files.Get \"bomb.yaml\" }}\n",
            ),
        ],
    );
    let err = measured("alias bomb (rendered manifest)", 16 * MIB, || {
        error_of(template(tmp.path(), &[]))
    });
    assert_eq!(
        err,
        format!("YAML parse error on c/templates/t.yaml: {EXCESSIVE}")
    );
}

#[test]
fn alias_bombs_read_by_template_functions_and_aliases_within_the_budget() {
    // fromYaml and fromYamlArray report the bomb; fromYaml reads the first document only;
    // values whose aliases stay within go-yaml's budget (990 of 1025 nodes) are expanded
    let tmp = tempfile::tempdir().unwrap();
    let values = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n\
                  a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n\
                  a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]\n";
    let t = r#"a: {{ (fromYaml (.Files.Get "bomb.yaml")).Error | quote }}
b: {{ (fromYamlArray (.Files.Get "bomb.yaml")) | toJson | quote }}
c: {{ (fromYaml (printf "x: 1\n---\n%s" (.Files.Get "bomb.yaml"))) | toJson | quote }}
d: {{ len .Values.a2 }} {{ .Values.a2 | toJson | sha256sum }}
e: {{ toYaml .Values | sha256sum }}
"#;
    write(
        tmp.path(),
        &[
            ("Chart.yaml", CHART),
            ("values.yaml", values.as_bytes()),
            ("bomb.yaml", &alias_bomb()),
            ("templates/t.yaml", t.as_bytes()),
        ],
    );
    let out = measured("alias bomb (fromYaml, fromYamlArray)", 16 * MIB, || {
        template(tmp.path(), &[])
    })
    .unwrap();
    assert_eq!(
        out,
        r#"---
# Source: c/templates/t.yaml
a: "error converting YAML to JSON: yaml: document contains excessive aliasing"
b: "[\"error converting YAML to JSON: yaml: document contains excessive aliasing\"]"
c: "{\"x\":1}"
d: 9 015b849dcb6d29de30e965a578fe3cf0b888297ed6da0bde7cde9a9da16124aa
e: 79e114c8e1054c0798eeb552d15b1771b8ee5d6dc7b96ca60a0c8cd75bdd83db
"#
    );
}

// ---------------------------------------------------------------------------------------
// Decompression bombs

/// A gzip stream made of pieces: bytes, or runs of zeros that repeat one flushed deflate
/// block of a mebibyte of zeros.
struct Gz {
    out: Vec<u8>,
    deflate: Compress,
    crc: Crc,
    zero_block: Vec<u8>,
    zero_crc: Crc,
}

/// Deflates `input` into `out` until the compressor has consumed it and flushed.
fn deflate(c: &mut Compress, mut input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) {
    loop {
        out.reserve(256 * 1024);
        let before = c.total_in();
        let status = c.compress_vec(input, out, flush).unwrap();
        input = &input[(c.total_in() - before) as usize..];
        let done = match flush {
            FlushCompress::Finish => status == flate2::Status::StreamEnd,
            _ => input.is_empty() && out.len() < out.capacity(),
        };
        if done {
            return;
        }
    }
}

impl Gz {
    fn new() -> Gz {
        let zeros = vec![0u8; MIB];
        let mut zero_block = Vec::new();
        // a full flush leaves nothing for the next block to refer back to: repeatable
        deflate(
            &mut Compress::new(Compression::best(), false),
            &zeros,
            FlushCompress::Full,
            &mut zero_block,
        );
        let mut zero_crc = Crc::new();
        zero_crc.update(&zeros);
        Gz {
            out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
            deflate: Compress::new(Compression::best(), false),
            crc: Crc::new(),
            zero_block,
            zero_crc,
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        deflate(&mut self.deflate, b, FlushCompress::Full, &mut self.out);
        self.crc.update(b);
    }

    fn zeros(&mut self, n: usize) {
        for _ in 0..n / MIB {
            self.out.extend_from_slice(&self.zero_block);
            self.crc.combine(&self.zero_crc);
        }
        self.bytes(&vec![0; n % MIB]);
    }

    fn finish(mut self) -> Vec<u8> {
        deflate(&mut self.deflate, &[], FlushCompress::Finish, &mut self.out);
        self.out.extend_from_slice(&self.crc.sum().to_le_bytes());
        self.out.extend_from_slice(&self.crc.amount().to_le_bytes());
        self.out
    }
}

/// What an entry holds: bytes, zeros, or zeros cut short of the size its header declares.
enum Content<'a> {
    Bytes(&'a [u8]),
    Zeros(usize),
    Short { declared: usize, written: usize },
}

/// A `.tgz` of `(path, content, type)` entries; with `end` false the tar stream stops after
/// the last entry's data (no end-of-archive blocks).
fn tgz(entries: &[(&str, Content, tar::EntryType)], end: bool) -> Vec<u8> {
    let mut gz = Gz::new();
    for (path, content, kind) in entries {
        let (declared, written) = match content {
            Content::Bytes(b) => (b.len(), b.len()),
            Content::Zeros(n) => (*n, *n),
            Content::Short { declared, written } => (*declared, *written),
        };
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(declared as u64);
        h.set_mode(0o644);
        h.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        gz.bytes(h.as_bytes());
        match content {
            Content::Bytes(b) => gz.bytes(b),
            _ => gz.zeros(written),
        }
        gz.zeros((512 - written % 512) % 512);
    }
    if end {
        gz.zeros(1024);
    }
    gz.finish()
}

const FILE: tar::EntryType = tar::EntryType::Regular;
const SUB_CHART: &[u8] = b"apiVersion: v2\nname: b\nversion: 0.1.0\n";

/// A chart directory `c` with `archive` as its subchart `charts/NAME`.
fn parent_of(tmp: &Path, name: &str, archive: &[u8]) -> PathBuf {
    let dir = tmp.join("c");
    write(
        &dir,
        &[
            ("Chart.yaml", CHART),
            ("templates/t.yaml", b"x: 1\n"),
            (&format!("charts/{name}"), archive),
        ],
    );
    dir
}

/// Renders `archive` as the chart and as a subchart: helm says only `unable to load chart
/// archive` for the first (the cause is the error's source), the cause for the second.
fn archive_errors(what: &str, name: &str, archive: &[u8], bound: usize) -> (String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(name);
    std::fs::write(&file, archive).unwrap();
    let top = measured(&format!("{what} (chart)"), bound, || template(&file, &[]));
    let top = match top {
        Err(e @ Error::ChartArchive(_)) => {
            let cause = std::error::Error::source(&e).map(|c| c.to_string());
            format!("{e}: {}", cause.unwrap_or_default())
        }
        other => error_of(other),
    };
    let parent = parent_of(tmp.path(), name, archive);
    let sub = measured(&format!("{what} (subchart)"), bound, || {
        error_of(template(&parent, &[]))
    });
    (top, sub)
}

const TOO_BIG: &str = "decompressed chart is larger than the maximum size 104857600";

#[test]
fn a_gibibyte_in_a_megabyte_archive() {
    let archive = tgz(
        &[
            ("b/Chart.yaml", Content::Bytes(SUB_CHART), FILE),
            ("b/big.bin", Content::Zeros(1 << 30), FILE),
        ],
        true,
    );
    assert!(archive.len() < 2 * MIB, "{}", archive.len());
    let (top, sub) = archive_errors("1 GiB file", "gib.tgz", &archive, 16 * MIB);
    assert_eq!(top, format!("unable to load chart archive: {TOO_BIG}"));
    assert_eq!(
        sub,
        format!("error unpacking subchart gib.tgz in c: {TOO_BIG}")
    );
}

#[test]
fn more_than_a_hundred_mebibytes_of_files() {
    let names: Vec<String> = (0..21).map(|i| format!("b/f{i:02}.bin")).collect();
    let mut entries = vec![("b/Chart.yaml", Content::Bytes(SUB_CHART), FILE)];
    entries.extend(
        names
            .iter()
            .map(|n| (n.as_str(), Content::Zeros(5 * MIB), FILE)),
    );
    let archive = tgz(&entries, true);
    // Helm keeps what it read until it fails, and so do we: about 100 MiB
    let (top, sub) = archive_errors("21 files of 5 MiB", "total.tgz", &archive, 160 * MIB);
    assert_eq!(top, format!("unable to load chart archive: {TOO_BIG}"));
    assert_eq!(
        sub,
        format!("error unpacking subchart total.tgz in c: {TOO_BIG}")
    );
}

#[test]
fn the_committed_archive_seed() {
    let archive = std::fs::read(seeds().join("chart-archive/file-16MiB-of-zeros.tgz")).unwrap();
    assert!(archive.len() <= 20 * 1024);
    let name = "file-16MiB-of-zeros.tgz";
    let (top, sub) = archive_errors("16 MiB file (seed)", name, &archive, 16 * MIB);
    let why =
        "decompressed chart file \"bomb/big.bin\" is larger than the maximum file size 5242880";
    assert_eq!(top, format!("unable to load chart archive: {why}"));
    assert_eq!(sub, format!("error unpacking subchart {name} in c: {why}"));
}

#[test]
fn archives_that_end_early_or_carry_huge_headers() {
    // a header declaring 5 MiB over a kibibyte of data
    let short = tgz(
        &[
            ("b/Chart.yaml", Content::Bytes(SUB_CHART), FILE),
            (
                "b/big.bin",
                Content::Short {
                    declared: 5 * MIB,
                    written: 1024,
                },
                FILE,
            ),
        ],
        false,
    );
    let (top, sub) = archive_errors("truncated entry", "short.tgz", &short, 16 * MIB);
    assert_eq!(top, "unable to load chart archive: unexpected EOF");
    assert_eq!(
        sub,
        "error unpacking subchart short.tgz in c: unexpected EOF"
    );
    // a gzip stream cut in the middle of an entry
    let whole = tgz(
        &[
            ("b/Chart.yaml", Content::Bytes(SUB_CHART), FILE),
            ("b/big.bin", Content::Zeros(4 * MIB), FILE),
        ],
        true,
    );
    let cut = &whole[..whole.len() / 2];
    let (top, sub) = archive_errors("truncated gzip", "cut.tgz", cut, 16 * MIB);
    assert_eq!(top, "unable to load chart archive: unexpected EOF");
    assert_eq!(sub, "error unpacking subchart cut.tgz in c: unexpected EOF");
    // a GNU long name of a gibibyte, which the tar reader would read whole
    let long = tgz(
        &[
            (
                "././@LongLink",
                Content::Zeros(1 << 30),
                tar::EntryType::GNULongName,
            ),
            ("b/Chart.yaml", Content::Bytes(SUB_CHART), FILE),
        ],
        true,
    );
    let (top, sub) = archive_errors("1 GiB long name", "long.tgz", &long, 16 * MIB);
    let why = "archive/tar: header field too long";
    assert_eq!(top, format!("unable to load chart archive: {why}"));
    assert_eq!(
        sub,
        format!("error unpacking subchart long.tgz in c: {why}")
    );
}

#[test]
fn files_within_the_limits_load() {
    // 5 MiB is the largest file Helm takes
    let archive = tgz(
        &[
            ("b/Chart.yaml", Content::Bytes(SUB_CHART), FILE),
            ("b/templates/t.yaml", Content::Bytes(b"x: 1\n"), FILE),
            ("b/big.bin", Content::Zeros(5 * MIB), FILE),
        ],
        true,
    );
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("b.tgz");
    std::fs::write(&file, &archive).unwrap();
    let out = measured("5 MiB file", 32 * MIB, || template(&file, &[]));
    assert_eq!(out.unwrap(), "---\n# Source: b/templates/t.yaml\nx: 1\n");
}

// ---------------------------------------------------------------------------------------
// printf bounds

/// helm v4.1.4's output for the chart built from `fuzz/seeds/printf` below, and for every
/// seed its `printf` (the short ones in full, the long ones by length and SHA-256).
const PRINTF_STDOUT_SHA256: &str =
    "559f3ca72dcfe022815df2cb62c37e156f014e294be3a0e7a12a6dab722d47e9";

enum Want {
    Text(&'static str),
    Long(usize, &'static str),
}

const PRINTF: &[(&str, Want)] = &[
    (
        "badverb-width",
        Want::Text("%!z(int=    1)|%!!(int=2    )|"),
    ),
    (
        "float-hex",
        Want::Text("0x1.8p+00 -0X1.999999999999AP-04 4503599627370496p-52 0x1.000p+01"),
    ),
    ("float-sharp", Want::Text("1.e+00 1. 1.00000 1.00")),
    ("index-huge", Want::Text("%!d(BADINDEX)")),
    (
        "index-reordered",
        Want::Text("   12 %!(BADWIDTH)%!f(int=00012)"),
    ),
    ("index-then-width", Want::Text("%!d(BADINDEX)")),
    ("index-unclosed", Want::Text("%!d(BADINDEX)")),
    ("index-zero", Want::Text("%!d(BADINDEX)")),
    ("noverb-after-index", Want::Text("%!(NOVERB)")),
    ("noverb", Want::Text("%!(NOVERB)")),
    (
        "prec-e-million",
        Want::Long(
            1000006,
            "6163e6c8d6b9c82534a48829858adfc479e72c5442a2a64730f1efe5a9c6f5c1",
        ),
    ),
    (
        "prec-g-million",
        Want::Text("0.1000000000000000055511151231257827021181583404541015625"),
    ),
    (
        "prec-int-million",
        Want::Long(
            1000000,
            "d322c95b0dd5d621d22746215d5aad0ee58857f90388a11f993bab31e698c997",
        ),
    ),
    (
        "prec-overflow",
        Want::Text("%!(NOVERB)%!(EXTRA float64=1.5)"),
    ),
    (
        "prec-ten-million",
        Want::Long(
            10000002,
            "967e816d9e6ebca8925ea18b585f14f3db5c6caa67ac8c44da800502f6f429bc",
        ),
    ),
    ("prec-zero-zero", Want::Text("|     |")),
    ("quote-flags", Want::Text("\"\\u00e9\" `ab` U+0041 'A'")),
    ("sharp-hex-zero-pad", Want::Text("0x000000ff")),
    ("star-prec-huge", Want::Text("%!(BADPREC)1.500000")),
    (
        "star-prec-million",
        Want::Long(
            1000002,
            "2957b6d4964808c8233b0ef70f8814773282a5e69ecc1cc320d0c3a0635ef557",
        ),
    ),
    ("star-prec-negative", Want::Text("%!(BADPREC)5")),
    ("star-width-float", Want::Text("%!(BADWIDTH)1")),
    ("star-width-huge", Want::Text("%!(BADWIDTH)1")),
    ("star-width-int64-max", Want::Text("%!(BADWIDTH)1")),
    (
        "star-width-million",
        Want::Long(
            1000000,
            "b25928327ba3b8793c884193bd8421fd877d9184a122894bd54c19ab1071f298",
        ),
    ),
    ("star-width-negative", Want::Text("1  |")),
    ("star-width-past-million", Want::Text("%!(BADWIDTH)1")),
    ("width-overflow", Want::Text("%!(NOVERB)%!(EXTRA int=1)")),
    (
        "width-past-ten-million",
        Want::Text("%!(NOVERB)%!(EXTRA int=1)"),
    ),
    (
        "width-ten-million",
        Want::Long(
            10000000,
            "c01ab198ff4a0b705c2614d035d19927b2901364f847f6a005c2e2f3ffd144b0",
        ),
    ),
];

fn sha256(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn printf_bounds_print_as_helm_prints_them() {
    // one template per seed: `v: {{ include SEED . | b64enc }}`, the seed a `define`
    let tmp = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = std::fs::read_dir(seeds().join("printf"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tpl"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), PRINTF.len(), "a seed without an expectation");
    let mut defines = String::new();
    let chart = b"apiVersion: v2\nname: printf\nversion: 0.1.0\n";
    let mut files = vec![("Chart.yaml".to_string(), chart.to_vec())];
    for n in &names {
        let seed = std::fs::read_to_string(seeds().join(format!("printf/{n}.tpl"))).unwrap();
        defines += &format!(
            "{{{{- define \"{n}\" }}}}{}{{{{ end }}}}\n",
            seed.trim_end()
        );
        let t = format!("v: {{{{ include \"{n}\" . | b64enc }}}}\n");
        files.push((format!("templates/{n}.yaml"), t.into_bytes()));
    }
    files.push(("templates/_seeds.tpl".into(), defines.into_bytes()));
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
    write(tmp.path(), &files);
    let out = measured("printf bounds", 256 * MIB, || template(tmp.path(), &[])).unwrap();

    use base64::Engine;
    let mut bad = Vec::new();
    for doc in out.split("---\n# Source: printf/templates/").skip(1) {
        let (name, rest) = doc.split_once(".yaml\nv: ").unwrap();
        let got = base64::engine::general_purpose::STANDARD
            .decode(rest.trim_end())
            .unwrap();
        let want = PRINTF.iter().find(|(n, _)| *n == name).map(|(_, w)| w);
        let ok = match want {
            Some(Want::Text(t)) => got == t.as_bytes(),
            Some(Want::Long(len, sum)) => got.len() == *len && sha256(&got) == *sum,
            None => false,
        };
        if !ok {
            let shown = String::from_utf8_lossy(&got[..got.len().min(80)]).into_owned();
            bad.push(format!("{name}: {} bytes: {shown:?}", got.len()));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!(sha256(out.as_bytes()), PRINTF_STDOUT_SHA256);
}

/// Values whose keys form a cycle in go-yaml's key order (`"1" < "01" < "0a" < "1"`; the
/// `helm_values` fuzz target's find: `toYaml` panicked sorting them) print through `toYaml`.
#[test]
fn values_keys_in_a_cycle_of_the_key_order_print() {
    let text = "\"0a\": a\n\"01\": b\n\"1\": c\n";
    let out = measured("cyclic keys", MIB, || {
        let values = gitops_helm::values::read_values(text).expect("values");
        gitops_helm::yaml::to_yaml(&gitops_helm::value::Value::from_json_map(&values))
    });
    // (Go's own order for such keys depends on its random map iteration; any order will do)
    let out = out.expect("toYaml");
    for line in ["\"01\": b\n", "0a: a\n", "\"1\": c\n"] {
        assert!(out.contains(line), "{line:?} missing from {out:?}");
    }
    let found = std::fs::read_to_string(seeds().join("yaml/found-helm-values-key-order.yaml"))
        .expect("seed");
    let _printed = measured("the fuzzer's input", 16 * MIB, || {
        gitops_helm::values::read_values(&found)
            .map(|v| gitops_helm::yaml::to_yaml(&gitops_helm::value::Value::from_json_map(&v)))
    });
}

// ---------------------------------------------------------------------------------------
// Templates that write without end (ours: helm would run out of memory)

#[test]
fn a_template_writing_gigabytes_stops_at_the_output_limit() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        &[
            ("Chart.yaml", CHART),
            // 10^6 × 1 KiB × 1,000: a gibibyte if nothing stopped it
            (
                "templates/t.yaml",
                b"{{ range until 1000 }}{{ range until 1000 }}{{ repeat 1024 \"x\" }}{{ end }}{{ end }}\n",
            ),
        ],
    );
    let err = measured("template output bomb", 256 * MIB, || {
        error_of(template(tmp.path(), &[]))
    });
    assert!(
        err.contains("rendered output exceeded the limit of 64 MiB") && err.contains("t.yaml:1:"),
        "{err}"
    );
}
