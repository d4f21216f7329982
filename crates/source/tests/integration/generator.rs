//! ArtifactGenerator composition on realistic trees: the cases of source-watcher's builder
//! tests and its documentation.

use gitops_source::generator::{
    CopyOperation, GeneratorError, Strategy, apply_copy_operations, dir_hash, match_path_pattern,
    render_template,
};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// Every file below `dir` (relative path → content), plus empty directories as `dir/`.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, String>) {
        let mut empty = true;
        for e in fs::read_dir(dir).unwrap() {
            empty = false;
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &r, out);
            } else {
                out.insert(r, fs::read_to_string(e.path()).unwrap());
            }
        }
        if empty && !rel.is_empty() {
            out.insert(format!("{rel}/"), String::new());
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn op(from: &str, to: &str) -> CopyOperation {
    CopyOperation {
        from: from.into(),
        to: to.into(),
        ..Default::default()
    }
}

fn op_with(from: &str, to: &str, strategy: Strategy, exclude: &[&str]) -> CopyOperation {
    CopyOperation {
        from: from.into(),
        to: to.into(),
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
        strategy,
    }
}

/// A temporary workspace with named source directories and a staging directory.
struct Workspace {
    tmp: tempfile::TempDir,
    sources: BTreeMap<String, PathBuf>,
}

impl Workspace {
    fn new(aliases: &[&str]) -> Workspace {
        let tmp = tempfile::tempdir().unwrap();
        let mut sources = BTreeMap::new();
        for a in aliases {
            let d = tmp.path().join("sources").join(a);
            fs::create_dir_all(&d).unwrap();
            sources.insert(a.to_string(), d);
        }
        Workspace { tmp, sources }
    }

    fn src(&self, alias: &str) -> &Path {
        &self.sources[alias]
    }

    fn staging(&self, name: &str) -> PathBuf {
        self.tmp.path().join("workspace").join(name)
    }

    /// Applies `ops` into a fresh staging directory named `name`.
    fn build(&self, name: &str, ops: &[CopyOperation]) -> Result<PathBuf, GeneratorError> {
        let staging = self.staging(name);
        let _ = fs::remove_dir_all(&staging);
        apply_copy_operations(ops, &self.sources, &staging)?;
        Ok(staging)
    }

    fn build_err(&self, ops: &[CopyOperation]) -> String {
        match self.build("err", ops) {
            Ok(dir) => panic!("expected an error, staged {:?}", tree(&dir)),
            Err(e) => e.to_string(),
        }
    }
}

#[test]
fn composes_two_sources_into_subdirectories() {
    let ws = Workspace::new(&["backend", "frontend", "config"]);
    write(
        ws.src("backend"),
        "deploy/deployment.yaml",
        "kind: Deployment\n",
    );
    write(
        ws.src("backend"),
        "deploy/db/statefulset.yaml",
        "kind: StatefulSet\n",
    );
    write(ws.src("backend"), "src/main.go", "package main\n");
    write(ws.src("frontend"), "deploy/service.yaml", "kind: Service\n");
    write(ws.src("frontend"), "deploy/ingress.yaml", "kind: Ingress\n");
    write(ws.src("frontend"), "deploy/README.md", "docs\n");
    write(
        ws.src("frontend"),
        "deploy/nested/skipped.yaml",
        "not matched by *.yaml\n",
    );
    write(
        ws.src("config"),
        "envs/prod/configmap.yaml",
        "kind: ConfigMap\n",
    );

    let staging = ws
        .build(
            "my-app-composite",
            &[
                op("@backend/deploy/**", "@artifact/my-app/backend/"),
                op("@frontend/deploy/*.yaml", "@artifact/my-app/frontend/"),
                op(
                    "@config/envs/prod/configmap.yaml",
                    "@artifact/my-app/env.yaml",
                ),
            ],
        )
        .unwrap();
    assert_eq!(
        tree(&staging),
        files(&[
            ("my-app/backend/db/statefulset.yaml", "kind: StatefulSet\n"),
            ("my-app/backend/deployment.yaml", "kind: Deployment\n"),
            // a glob that is not `dir/**` keeps the matched path
            ("my-app/frontend/deploy/ingress.yaml", "kind: Ingress\n"),
            ("my-app/frontend/deploy/service.yaml", "kind: Service\n"),
            ("my-app/env.yaml", "kind: ConfigMap\n"),
        ])
    );
}

#[test]
fn decomposes_a_monorepo() {
    let ws = Workspace::new(&["repo"]);
    write(ws.src("repo"), "deploy/frontend/app.yaml", "frontend: 1\n");
    write(
        ws.src("repo"),
        "deploy/frontend/overlays/prod.yaml",
        "prod: true\n",
    );
    write(ws.src("repo"), "deploy/backend/app.yaml", "backend: 1\n");
    let build = |name: &str| {
        let dir = ws
            .build(
                name,
                &[op(&format!("@repo/deploy/{name}/**"), "@artifact/")],
            )
            .unwrap();
        (tree(&dir), dir_hash(&dir, name).unwrap())
    };
    let (frontend, fh) = build("frontend");
    let (backend, bh) = build("backend");
    assert_eq!(
        frontend,
        files(&[
            ("app.yaml", "frontend: 1\n"),
            ("overlays/prod.yaml", "prod: true\n")
        ])
    );
    assert_eq!(backend, files(&[("app.yaml", "backend: 1\n")]));
    assert_ne!(fh, bh);

    // a backend change leaves the frontend revision alone
    write(ws.src("repo"), "deploy/backend/app.yaml", "backend: 2\n");
    let (_, fh2) = build("frontend");
    let (_, bh2) = build("backend");
    assert_eq!(fh, fh2);
    assert_ne!(bh, bh2);
}

#[test]
fn cp_like_directory_rules() {
    let ws = Workspace::new(&["source"]);
    write(ws.src("source"), "config/app.yaml", "app: config\n");
    write(ws.src("source"), "config/subdir/db.yaml", "db: config\n");
    write(ws.src("source"), "root.yaml", "root: content\n");

    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: &[Case] = &[
        // dir/ and dir copy the directory itself, with or without slash on `to`
        (
            "@source/config/",
            "@artifact/dest/",
            &[
                ("dest/config/app.yaml", "app: config\n"),
                ("dest/config/subdir/db.yaml", "db: config\n"),
            ],
        ),
        (
            "@source/config",
            "@artifact/dest",
            &[
                ("dest/config/app.yaml", "app: config\n"),
                ("dest/config/subdir/db.yaml", "db: config\n"),
            ],
        ),
        // dir/** copies the contents
        (
            "@source/config/**",
            "@artifact/dest/",
            &[
                ("dest/app.yaml", "app: config\n"),
                ("dest/subdir/db.yaml", "db: config\n"),
            ],
        ),
        // the root of a source
        (
            "@source/",
            "@artifact/",
            &[
                ("config/app.yaml", "app: config\n"),
                ("config/subdir/db.yaml", "db: config\n"),
                ("root.yaml", "root: content\n"),
            ],
        ),
        (
            "@source/**",
            "@artifact/",
            &[
                ("config/app.yaml", "app: config\n"),
                ("config/subdir/db.yaml", "db: config\n"),
                ("root.yaml", "root: content\n"),
            ],
        ),
        // a file into a directory, or to a file name
        (
            "@source/root.yaml",
            "@artifact/dest/",
            &[("dest/root.yaml", "root: content\n")],
        ),
        (
            "@source/root.yaml",
            "@artifact/",
            &[("root.yaml", "root: content\n")],
        ),
        (
            "@source/root.yaml",
            "@artifact/apps/app.yaml",
            &[("apps/app.yaml", "root: content\n")],
        ),
        // `**` inside a Go glob is a single segment: only config/*.yaml
        (
            "@source/**/*.yaml",
            "@artifact/out/",
            &[("out/config/app.yaml", "app: config\n")],
        ),
    ];
    for (from, to, want) in cases {
        let dir = ws.build("cp", &[op(from, to)]).unwrap();
        assert_eq!(tree(&dir), files(want), "{from} -> {to}");
    }

    // a file to an existing directory without a trailing slash goes inside it
    let dir = ws
        .build(
            "cp",
            &[
                op("@source/config/", "@artifact/"),
                op("@source/root.yaml", "@artifact/config"),
            ],
        )
        .unwrap();
    assert!(dir.join("config/root.yaml").is_file());
}

#[test]
fn later_operations_overwrite_earlier_ones() {
    let ws = Workspace::new(&["source1", "source2"]);
    write(ws.src("source1"), "config/app.yaml", "source1: app\n");
    write(ws.src("source1"), "config/database.yaml", "source1: db\n");
    write(ws.src("source2"), "config/app.yaml", "source2: app\n");
    write(ws.src("source2"), "config/network.yaml", "source2: net\n");
    let dir = ws
        .build(
            "overwrite",
            &[
                op("@source1/**", "@artifact/"),
                op("@source2/**", "@artifact/"),
            ],
        )
        .unwrap();
    assert_eq!(
        tree(&dir),
        files(&[
            ("config/app.yaml", "source2: app\n"),
            ("config/database.yaml", "source1: db\n"),
            ("config/network.yaml", "source2: net\n"),
        ])
    );
}

#[test]
fn excludes() {
    let ws = Workspace::new(&["source"]);
    let s = ws.src("source");
    write(s, "app.yaml", "app\n");
    write(s, "README.md", "readme\n");
    write(s, "temp.tmp", "tmp\n");
    write(s, ".hidden", "hidden\n");
    write(s, "docs/guide.md", "guide\n");
    write(s, "tests/test.go", "test\n");
    write(s, "testdata/fixture.json", "{}\n");
    write(s, "configs/prod.yaml", "prod\n");
    write(s, "configs/secret.yaml", "secret\n");

    let dir = ws
        .build(
            "ex",
            &[op_with(
                "@source/**",
                "@artifact/",
                Strategy::Overwrite,
                &["*.md", "*.tmp", "**/.*", "**/tests/**", "**/testdata/**"],
            )],
        )
        .unwrap();
    // docs/ stays as an empty directory: only its file was excluded
    assert_eq!(
        tree(&dir),
        files(&[
            ("app.yaml", "app\n"),
            ("configs/prod.yaml", "prod\n"),
            ("configs/secret.yaml", "secret\n"),
            ("docs/", ""),
        ])
    );

    // anchored at the literal prefix of `from`, or at the source root
    for exclude in ["secret.yaml", "configs/secret.yaml"] {
        let dir = ws
            .build(
                "ex",
                &[op_with(
                    "@source/configs/**",
                    "@artifact/",
                    Strategy::Overwrite,
                    &[exclude],
                )],
            )
            .unwrap();
        assert_eq!(tree(&dir), files(&[("prod.yaml", "prod\n")]), "{exclude}");
    }
    let dir = ws
        .build(
            "ex",
            &[op_with(
                "@source/configs",
                "@artifact/",
                Strategy::Overwrite,
                &["configs/secret.yaml"],
            )],
        )
        .unwrap();
    assert_eq!(tree(&dir), files(&[("configs/prod.yaml", "prod\n")]));

    // an excluded single file is skipped without error
    let dir = ws
        .build(
            "ex",
            &[op_with(
                "@source/app.yaml",
                "@artifact/config.yaml",
                Strategy::Overwrite,
                &["app.yaml"],
            )],
        )
        .unwrap();
    assert!(tree(&dir).is_empty());

    // everything excluded from a glob is an error
    let err = ws.build_err(&[op_with(
        "@source/*.md",
        "@artifact/",
        Strategy::Overwrite,
        &["*.md"],
    )]);
    assert!(
        err.contains("all files matching pattern '*.md' in source 'source' were excluded"),
        "{err}"
    );
    let err = ws.build_err(&[op_with(
        "@source/*.md",
        "@artifact/",
        Strategy::Overwrite,
        &["[*.md"],
    )]);
    assert!(err.contains("invalid exclude pattern '[*.md'"), "{err}");
}

#[test]
fn merges_values_files() {
    let ws = Workspace::new(&["chart", "repo"]);
    write(
        ws.src("chart"),
        "podinfo/Chart.yaml",
        "apiVersion: v2\nname: podinfo\nversion: 6.7.0\n",
    );
    write(
        ws.src("chart"),
        "podinfo/values.yaml",
        "# Default values\nreplicaCount: 1\nimage:\n  repository: ghcr.io/stefanprodan/podinfo\n  tag: 6.7.0\n  pullPolicy: IfNotPresent\nhosts: [a.example.com, b.example.com]\nserviceMonitor:\n  enabled: false\n",
    );
    write(
        ws.src("repo"),
        "charts/podinfo/values-prod.yaml",
        "replicaCount: 3\nimage:\n  tag: 6.7.1\nhosts:\n  - prod.example.com\n---\nserviceMonitor:\n  enabled: yes\n  interval: 15s\n",
    );
    let dir = ws
        .build(
            "podinfo-composite",
            &[
                op("@chart/", "@artifact/"),
                op_with(
                    "@repo/charts/podinfo/values-prod.yaml",
                    "@artifact/podinfo/values.yaml",
                    Strategy::Merge,
                    &[],
                ),
            ],
        )
        .unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("podinfo/values.yaml")).unwrap(),
        "hosts:\n- prod.example.com\nimage:\n  pullPolicy: IfNotPresent\n  repository: ghcr.io/stefanprodan/podinfo\n  tag: 6.7.1\nreplicaCount: 3\nserviceMonitor:\n  enabled: true\n  interval: 15s\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("podinfo/Chart.yaml")).unwrap(),
        "apiVersion: v2\nname: podinfo\nversion: 6.7.0\n"
    );

    // without a destination the file is copied as is
    let dir = ws
        .build(
            "merge-new",
            &[op_with(
                "@repo/charts/podinfo/values-prod.yaml",
                "@artifact/values.yaml",
                Strategy::Merge,
                &[],
            )],
        )
        .unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("values.yaml")).unwrap(),
        fs::read_to_string(ws.src("repo").join("charts/podinfo/values-prod.yaml")).unwrap()
    );

    // JSON merges into YAML; globbed files merge one by one
    write(
        ws.src("repo"),
        "json/config.json",
        r#"{"c": {"d": "e"}, "a": "override"}"#,
    );
    write(ws.src("chart"), "flat/config.json", "a: b\nz: 1\n");
    let dir = ws
        .build(
            "merge-json",
            &[
                op("@chart/flat/**", "@artifact/"),
                op_with("@repo/json/*", "@artifact/", Strategy::Merge, &[]),
            ],
        )
        .unwrap();
    // `json/*` keeps the matched path: json/config.json is new, so it is copied
    assert_eq!(
        fs::read_to_string(dir.join("config.json")).unwrap(),
        "a: b\nz: 1\n"
    );
    assert!(dir.join("json/config.json").is_file());
    let dir = ws
        .build(
            "merge-json",
            &[
                op("@chart/flat/**", "@artifact/"),
                op_with("@repo/json/**", "@artifact/", Strategy::Merge, &[]),
            ],
        )
        .unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("config.json")).unwrap(),
        "a: override\nc:\n  d: e\nz: 1\n"
    );

    // not YAML maps
    write(ws.src("chart"), "config.env", "A=B\n");
    write(ws.src("repo"), "config.yaml", "a: b\n");
    let err = ws.build_err(&[
        op("@chart/config.env", "@artifact/config.env"),
        op_with(
            "@repo/config.yaml",
            "@artifact/config.env",
            Strategy::Merge,
            &[],
        ),
    ]);
    assert!(err.contains("cannot unmarshal YAML document"), "{err}");
    let err = ws.build_err(&[
        op("@repo/config.yaml", "@artifact/config.yaml"),
        op_with(
            "@chart/config.env",
            "@artifact/config.yaml",
            Strategy::Merge,
            &[],
        ),
    ]);
    assert!(err.contains("cannot unmarshal YAML document"), "{err}");
    assert!(err.contains("config.env"), "{err}");
}

/// A gzip tarball of `(name, mode, content)` entries, as `helm package` writes one.
fn tgz(entries: &[(&str, u32, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, mode, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// A tarball with one raw entry name, bypassing the builder's path checks.
fn tgz_raw_name(name: &str) -> Vec<u8> {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_size(1);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    b.append(&h, &b"x"[..]).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

#[test]
fn extracts_tarballs() {
    let ws = Workspace::new(&["oci", "source"]);
    let chart = tgz(&[
        ("podinfo/Chart.yaml", 0o644, "name: podinfo\n"),
        (
            "podinfo/templates/deployment.yaml",
            0o644,
            "kind: Deployment\n",
        ),
    ]);
    fs::write(ws.src("oci").join("podinfo-6.7.0.tgz"), &chart).unwrap();
    let dir = ws
        .build(
            "extract",
            &[op_with(
                "@oci/podinfo-6.7.0.tgz",
                "@artifact/",
                Strategy::Extract,
                &[],
            )],
        )
        .unwrap();
    assert_eq!(
        tree(&dir),
        files(&[
            ("podinfo/Chart.yaml", "name: podinfo\n"),
            ("podinfo/templates/deployment.yaml", "kind: Deployment\n"),
        ])
    );

    // globs skip other files; `**` spans directories for Extract
    let s = ws.src("source");
    fs::create_dir_all(s.join("charts")).unwrap();
    fs::write(
        s.join("charts/a-1.0.0.tgz"),
        tgz(&[("a/Chart.yaml", 0o644, "name: a\n")]),
    )
    .unwrap();
    fs::write(
        s.join("charts/b-1.0.0.TAR.GZ"),
        tgz(&[("b/Chart.yaml", 0o644, "name: b\n")]),
    )
    .unwrap();
    write(s, "charts/README.md", "not a tarball\n");
    fs::create_dir_all(s.join("releases/2024/q1")).unwrap();
    fs::write(
        s.join("releases/2024/q1/app.tar.gz"),
        tgz(&[
            ("app/run.sh", 0o755, "#!/bin/sh\n"),
            ("app/config.yaml", 0o600, "c: 1\n"),
        ]),
    )
    .unwrap();
    fs::write(
        s.join("releases/top.tgz"),
        tgz(&[("top.yaml", 0o644, "top\n")]),
    )
    .unwrap();

    let dir = ws
        .build(
            "extract",
            &[
                op_with(
                    "@source/charts/*",
                    "@artifact/charts/",
                    Strategy::Extract,
                    &[],
                ),
                op_with(
                    "@source/releases/**/*.tgz",
                    "@artifact/",
                    Strategy::Extract,
                    &[],
                ),
                op_with(
                    "@source/releases/**/*.tar.gz",
                    "@artifact/",
                    Strategy::Extract,
                    &[],
                ),
            ],
        )
        .unwrap();
    assert_eq!(
        tree(&dir),
        files(&[
            ("app/config.yaml", "c: 1\n"),
            ("app/run.sh", "#!/bin/sh\n"),
            ("charts/a/Chart.yaml", "name: a\n"),
            ("charts/b/Chart.yaml", "name: b\n"),
            ("top.yaml", "top\n"),
        ])
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o111;
        assert_ne!(mode("app/run.sh"), 0, "executable bit kept");
        assert_eq!(mode("app/config.yaml"), 0);
    }

    // a glob of only non-tarballs extracts nothing, silently
    let dir = ws
        .build(
            "extract",
            &[op_with(
                "@source/charts/*.md",
                "@artifact/",
                Strategy::Extract,
                &[],
            )],
        )
        .unwrap();
    assert!(tree(&dir).is_empty());

    // a plain path must be a tarball; directories are refused
    let err = ws.build_err(&[op_with(
        "@source/charts/README.md",
        "@artifact/",
        Strategy::Extract,
        &[],
    )]);
    assert!(
        err.contains(
            "extract strategy requires tarball file (.tar.gz or .tgz), got 'charts/README.md'"
        ),
        "{err}"
    );
    let err = ws.build_err(&[op_with(
        "@source/charts",
        "@artifact/",
        Strategy::Extract,
        &[],
    )]);
    assert!(
        err.contains("extract strategy is not supported for directories, got 'charts'"),
        "{err}"
    );

    // unsafe archives and corrupt ones
    fs::write(s.join("evil.tgz"), tgz_raw_name("../../escape.txt")).unwrap();
    let err = ws.build_err(&[op_with(
        "@source/evil.tgz",
        "@artifact/",
        Strategy::Extract,
        &[],
    )]);
    assert!(
        err.contains("failed to extract tarball 'evil.tgz'"),
        "{err}"
    );
    assert!(!ws.tmp.path().join("escape.txt").exists());
    assert!(!ws.tmp.path().join("workspace/escape.txt").exists());
    fs::write(s.join("broken.tgz"), "not gzip").unwrap();
    let err = ws.build_err(&[op_with(
        "@source/broken.tgz",
        "@artifact/",
        Strategy::Extract,
        &[],
    )]);
    assert!(err.contains("broken.tgz"), "{err}");
}

#[test]
fn errors() {
    let ws = Workspace::new(&["source"]);
    write(ws.src("source"), "app.yaml", "a: 1\n");
    write(ws.tmp.path(), "sources/secret.yaml", "outside\n");

    let cases: &[(CopyOperation, &str)] = &[
        (
            op("@missing/file.yaml", "@artifact/"),
            "source alias 'missing' not found",
        ),
        (
            op("@source/test.yaml", "@artifact/"),
            "source 'test.yaml' does not exist",
        ),
        (
            op("@source/*.json", "@artifact/"),
            "no files match pattern '*.json' in source 'source'",
        ),
        (
            op("@source/[", "@artifact/"),
            "invalid glob pattern '[': syntax error in pattern",
        ),
        (
            op("@source/../secret.yaml", "@artifact/"),
            "escapes from parent",
        ),
        (
            op("@source/../*.yaml", "@artifact/"),
            "no files match pattern '../*.yaml'",
        ),
        (
            op("@source//etc/passwd", "@artifact/"),
            "escapes from parent",
        ),
        (
            op("@source/app.yaml", "@artifact/../out.yaml"),
            "escapes from the artifact root",
        ),
        (
            op("@source/app.yaml", "@artifact//tmp/out.yaml"),
            "escapes from the artifact root",
        ),
        (
            op("source/app.yaml", "@artifact/"),
            "source must start with '@'",
        ),
        (
            op("@source", "@artifact/"),
            "source format must be '@alias/pattern'",
        ),
        (
            op("@source/app.yaml", "artifact/"),
            "destination must start with '@artifact/'",
        ),
    ];
    for (o, want) in cases {
        let err = ws.build_err(std::slice::from_ref(o));
        assert!(
            err.starts_with(&format!(
                "failed to apply copy operation from '{}' to '{}': ",
                o.from, o.to
            )),
            "{err}"
        );
        assert!(err.contains(want), "{} -> {}: {err}", o.from, o.to);
    }

    // a file where a directory is needed, and the other way round
    let err = ws.build_err(&[
        op("@source/app.yaml", "@artifact/x"),
        op("@source/app.yaml", "@artifact/x/y.yaml"),
    ]);
    assert!(
        err.contains("failed to copy file 'app.yaml' to 'x/y.yaml'"),
        "{err}"
    );
    let err = ws.build_err(&[
        op("@source/", "@artifact/app.yaml/"),
        op("@source/", "@artifact/"),
        op("@source/app.yaml", "@artifact/app.yaml/app.yaml/"),
    ]);
    assert!(err.contains("is a directory"), "{err}");

    // strategy names
    assert!(matches!(
        "Replace".parse::<Strategy>(),
        Err(GeneratorError::InvalidStrategy(_))
    ));
    assert_eq!("Merge".parse::<Strategy>().unwrap(), Strategy::Merge);
}

#[cfg(unix)]
#[test]
fn symlinks_stay_inside_the_source() {
    use std::os::unix::fs::symlink;
    let ws = Workspace::new(&["source"]);
    let s = ws.src("source");
    write(s, "real/app.yaml", "app\n");
    write(ws.tmp.path(), "sources/secret.yaml", "outside\n");
    symlink("real/app.yaml", s.join("link.yaml")).unwrap();
    symlink("real", s.join("linkdir")).unwrap();

    // links inside the root are followed: their content is copied
    let dir = ws
        .build(
            "links",
            &[
                op("@source/link.yaml", "@artifact/"),
                op("@source/linkdir/**", "@artifact/d/"),
            ],
        )
        .unwrap();
    assert_eq!(
        tree(&dir),
        files(&[("d/app.yaml", "app\n"), ("link.yaml", "app\n")])
    );
    assert!(
        !fs::symlink_metadata(dir.join("link.yaml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // links out of the root are errors wherever they are met
    symlink("../../secret.yaml", s.join("real/escape.yaml")).unwrap();
    for from in [
        "@source/real/escape.yaml",
        "@source/real/",
        "@source/real/*.yaml",
        "@source/**",
    ] {
        let err = ws.build_err(&[op(from, "@artifact/")]);
        assert!(err.contains("escapes from parent"), "{from}: {err}");
    }
    fs::remove_file(s.join("real/escape.yaml")).unwrap();
    symlink(
        ws.tmp.path().join("sources/secret.yaml"),
        s.join("abs.yaml"),
    )
    .unwrap();
    let err = ws.build_err(&[op("@source/abs.yaml", "@artifact/")]);
    assert!(err.contains("escapes from parent"), "{err}");
}

#[cfg(unix)]
#[test]
fn file_modes() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new(&["source"]);
    let s = ws.src("source");
    write(s, "bin/run.sh", "#!/bin/sh\n");
    write(s, "bin/conf.yaml", "c\n");
    fs::set_permissions(s.join("bin/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(s.join("bin/conf.yaml"), fs::Permissions::from_mode(0o444)).unwrap();
    // read-only files can be overwritten by a later operation
    let dir = ws
        .build(
            "modes",
            &[
                op("@source/bin/", "@artifact/"),
                op("@source/bin/", "@artifact/"),
            ],
        )
        .unwrap();
    let mode = |p: &str| fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("bin/run.sh"), 0o755);
    assert_eq!(mode("bin/conf.yaml"), 0o444);
    assert_eq!(mode("bin") & 0o700, 0o700);
}

#[test]
fn content_hash() {
    let ws = Workspace::new(&["git", "oci"]);
    write(ws.src("git"), "1.yaml", "---");
    write(ws.src("oci"), "1.yaml", "---");
    let hash = |alias: &str, name: &str| {
        let dir = ws
            .build(name, &[op(&format!("@{alias}/**"), "@artifact/")])
            .unwrap();
        dir_hash(&dir, name).unwrap()
    };
    let git = hash("git", "git-artifact");
    // the artifact name is part of the hash; rebuilding is reproducible
    assert_ne!(git, hash("oci", "oci-artifact"));
    assert_eq!(hash("oci", "git-artifact"), git);
    assert_eq!(hash("git", "git-artifact"), git);
    assert!(git.chars().all(|c| c.is_ascii_digit()));

    // renaming, changing or adding a file changes it
    let changes: [&dyn Fn(&Path); 3] = [
        &|d| fs::rename(d.join("1.yaml"), d.join("2.yaml")).unwrap(),
        &|d| fs::write(d.join("1.yaml"), "---\n").unwrap(),
        &|d| fs::write(d.join("2.yaml"), "---").unwrap(),
    ];
    for change in changes {
        fs::remove_dir_all(ws.src("git")).unwrap();
        write(ws.src("git"), "1.yaml", "---");
        assert_eq!(hash("git", "git-artifact"), git);
        change(ws.src("git"));
        assert_ne!(hash("git", "git-artifact"), git);
    }
}

#[test]
fn path_pattern_generates_artifacts() {
    let ws = Workspace::new(&["monorepo"]);
    let s = ws.src("monorepo");
    write(s, "apps/Auth/envs/prod/app.yaml", "auth prod\n");
    write(s, "apps/Auth/envs/dev/app.yaml", "auth dev\n");
    write(s, "apps/billing/envs/prod/app.yaml", "billing prod\n");
    write(s, "apps/billing/README.md", "docs\n");

    let matches = match_path_pattern(s, "apps/{app}/envs/{env}").unwrap();
    let mut built = BTreeMap::new();
    for caps in &matches {
        let name = render_template("{app}-{env}", caps, true).unwrap();
        let from = render_template("@monorepo/apps/{app}/envs/{env}/**", caps, false).unwrap();
        let dir = ws.build(&name, &[op(&from, "@artifact/")]).unwrap();
        built.insert(name, tree(&dir));
    }
    assert_eq!(
        built.keys().collect::<Vec<_>>(),
        ["auth-dev", "auth-prod", "billing-prod"]
    );
    assert_eq!(built["auth-prod"], files(&[("app.yaml", "auth prod\n")]));

    let err = render_template("{app}-{region}", &matches[0], true).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"region\" is not defined by pathPattern"),
        "{err}"
    );

    write(s, "apps/bad name/envs/prod/app.yaml", "x\n");
    let err = match_path_pattern(s, "apps/{app}/envs/{env}")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("apps/{app}/envs/{env}") && err.contains("\"bad name\""),
        "{err}"
    );
}
