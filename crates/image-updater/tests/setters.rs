//! Setter markers rewritten in place: whole-file comparisons against expected outputs that
//! keep every unmarked byte, the report, problem files, symbolic links and update paths.

use gitops_image_updater::setters::{
    Change, ObjectId, PolicyImage, Report, SetterError, Setters, YamlError,
};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const DIGEST: &str = "sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be";
const STYLES_DIGEST: &str =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn testdata(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata/setters")
        .join(dir)
}

fn policy(
    namespace: &str,
    name: &str,
    image: &str,
    tag: &str,
    digest: Option<&str>,
) -> PolicyImage {
    PolicyImage {
        namespace: namespace.into(),
        name: name.into(),
        image: image.into(),
        tag: tag.into(),
        digest: digest.map(Into::into),
    }
}

/// Flux's `TestUpdateWithSetters` policies.
fn flux_policies() -> Setters {
    Setters::new(&[
        policy(
            "automation-ns",
            "policy",
            "index.repo.fake/updated",
            "v1.0.1",
            None,
        ),
        policy("automation-ns", "unchanged", "image", "v1.0.0", None),
        policy(
            "automation-ns",
            "policy-with-digest",
            "image",
            "v1.0.0",
            Some(DIGEST),
        ),
        policy("automation-ns", "used", "used", "v1.1.0", None),
    ])
}

fn styles_policies() -> Setters {
    Setters::new(&[
        policy(
            "flux-system",
            "podinfo",
            "ghcr.io/stefanprodan/podinfo",
            "6.5.1",
            Some(STYLES_DIGEST),
        ),
        policy("flux-system", "nginx", "nginx", "1.25.3", None),
        policy(
            "flux-system",
            "numeric",
            "registry.example.com/app",
            "20240102",
            None,
        ),
        policy("flux-system", "weird", "example.com/weird", "1.0", None),
    ])
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file of `expected` equals the same file of `actual`, as a whole string, and
/// `actual` has no other files.
fn assert_same_files(actual: &Path, expected: &Path) {
    let list = |dir: &Path| {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(list(actual), list(expected));
    for name in list(expected) {
        let got = fs::read_to_string(actual.join(&name)).unwrap();
        let want = fs::read_to_string(expected.join(&name)).unwrap();
        assert_eq!(got, want, "{name}");
    }
}

/// Copy `<dir>/original` to a temporary repository, update it, compare with `<dir>/expected`.
fn run_fixture(dir: &str, setters: &Setters) -> Report {
    let repo = tempfile::tempdir().unwrap();
    copy_dir(&testdata(dir).join("original"), repo.path());
    let report = setters.update_dir(repo.path(), "").unwrap();
    assert_same_files(repo.path(), &testdata(dir).join("expected"));
    report
}

fn id(api_version: &str, kind: &str, name: &str, namespace: &str) -> ObjectId {
    ObjectId {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        namespace: namespace.into(),
    }
}

fn change(old: &str, new: &str, setter: &str) -> Change {
    Change {
        old_value: old.into(),
        new_value: new.into(),
        setter: setter.into(),
    }
}

#[test]
fn flux_setters_fixture_and_result() {
    let report = run_fixture("flux", &flux_policies());
    let kustomization = id("kustomize.config.k8s.io/v1beta1", "Kustomization", "", "");
    let cronjob = id("batch/v1beta1", "CronJob", "foo", "bar");
    let image_with_digest = format!("image:v1.0.0@{DIGEST}");
    let expected: BTreeMap<String, BTreeMap<ObjectId, Vec<Change>>> = [
        (
            "kustomization.yml".to_owned(),
            [(
                kustomization.clone(),
                vec![
                    change(
                        "replaced",
                        "index.repo.fake/updated",
                        "automation-ns:policy:name",
                    ),
                    change("v1", "v1.0.1", "automation-ns:policy:tag"),
                    change(
                        "sha256:1234567890abcdef",
                        DIGEST,
                        "automation-ns:policy-with-digest:digest",
                    ),
                    change(
                        "image",
                        &image_with_digest,
                        "automation-ns:policy-with-digest",
                    ),
                ],
            )]
            .into(),
        ),
        (
            "Kustomization".to_owned(),
            [(
                kustomization.clone(),
                vec![
                    change(
                        "replaced",
                        "index.repo.fake/updated",
                        "automation-ns:policy:name",
                    ),
                    change("v1", "v1.0.1", "automation-ns:policy:tag"),
                ],
            )]
            .into(),
        ),
        (
            "marked.yaml".to_owned(),
            [(
                cronjob.clone(),
                vec![change(
                    "image:v1.0.0",
                    "index.repo.fake/updated:v1.0.1",
                    "automation-ns:policy",
                )],
            )]
            .into(),
        ),
    ]
    .into();
    assert_eq!(report.files, expected);
    assert!(report.problem_files.is_empty());
    assert_eq!(report.scanned, 5);
    assert_eq!(report.base, "");

    // Changes(): distinct, first seen in file order (`Kustomization` < `kustomization.yml`).
    assert_eq!(
        report.changes(),
        vec![
            change(
                "replaced",
                "index.repo.fake/updated",
                "automation-ns:policy:name"
            ),
            change("v1", "v1.0.1", "automation-ns:policy:tag"),
            change(
                "sha256:1234567890abcdef",
                DIGEST,
                "automation-ns:policy-with-digest:digest"
            ),
            change(
                "image",
                &image_with_digest,
                "automation-ns:policy-with-digest"
            ),
            change(
                "image:v1.0.0",
                "index.repo.fake/updated:v1.0.1",
                "automation-ns:policy"
            ),
        ]
    );
    // Objects(): the Kustomization of both files merged.
    let objects = report.objects();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[&kustomization].len(), 6);
    assert_eq!(objects[&cronjob].len(), 1);
    // Go templates order these keys the same way: apiVersion first.
    assert_eq!(objects.keys().next(), Some(&cronjob));
}

#[test]
fn flux_replace_and_commented_fixtures() {
    let report = run_fixture("replace", &flux_policies());
    assert_eq!(
        report.files.keys().collect::<Vec<_>>(),
        ["commented.yaml", "cronjob.yaml", "deployment.yaml"]
    );
    let deployment = &report.files["deployment.yaml"];
    assert_eq!(
        deployment[&id("apps/v1", "Deployment", "foo", "bar")],
        [change("used:v1.0.0", "used:v1.1.0", "automation-ns:used")]
    );
}

#[test]
fn flux_leave_fixture_unknown_policies_and_current_values() {
    let repo = tempfile::tempdir().unwrap();
    copy_dir(&testdata("leave/original"), repo.path());
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for name in ["cronjob.yaml", "deployment.yaml"] {
        let file = fs::File::options()
            .write(true)
            .open(repo.path().join(name))
            .unwrap();
        file.set_modified(old).unwrap();
    }
    let report = flux_policies().update_dir(repo.path(), ".").unwrap();
    assert_same_files(repo.path(), &testdata("leave/expected"));
    assert!(report.files.is_empty());
    assert!(report.changes().is_empty());
    for name in ["cronjob.yaml", "deployment.yaml"] {
        let modified = fs::metadata(repo.path().join(name))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(modified, old, "{name} was rewritten");
    }
}

#[test]
fn styles_fixture_keeps_every_unmarked_byte() {
    let report = run_fixture("styles", &styles_policies());
    let nginx = |old: &str| change(old, "nginx:1.25.3", "flux-system:nginx");

    let deployment = id("apps/v1", "Deployment", "app", "");
    assert_eq!(
        report.files["deployment.yaml"][&deployment],
        [
            change(
                "registry.example.com/app:20240101",
                "registry.example.com/app:20240102",
                "flux-system:numeric"
            ),
            change("20240101", "20240102", "flux-system:numeric:tag"),
            change("0.9", "1.0", "flux-system:weird:tag"),
            change("x", "example.com/weird:1.0", "flux-system:weird"),
            nginx("nginx:1.0.0"),
            change("nginx:1.0.0", "1.25.3", "flux-system:nginx:tag"),
            nginx("nginx:1.0.0"),
        ]
    );

    let helmrelease = id(
        "helm.toolkit.fluxcd.io/v2",
        "HelmRelease",
        "podinfo",
        "apps",
    );
    assert_eq!(
        report.files["helmrelease.yaml"][&helmrelease],
        [
            change("6.5.0", "6.5.1", "flux-system:podinfo:tag"),
            change("sha256:0000", STYLES_DIGEST, "flux-system:podinfo:digest"),
            change("nginx:1.25.0", "nginx:1.25.3", "flux-system:nginx"),
        ]
    );

    // One file, three documents: each change belongs to its own document.
    let multidoc = &report.files["multidoc.yaml"];
    assert_eq!(
        multidoc.keys().cloned().collect::<Vec<_>>(),
        [
            id("batch/v1", "CronJob", "nightly-é", "jobs"),
            id("kustomize.config.k8s.io/v1beta1", "Kustomization", "", ""),
            id("v1", "ConfigMap", "settings", ""),
        ]
    );
    assert_eq!(
        multidoc[&id("batch/v1", "CronJob", "nightly-é", "jobs")],
        [change(
            "ghcr.io/stefanprodan/podinfo:6.5.0",
            &format!("ghcr.io/stefanprodan/podinfo:6.5.1@{STYLES_DIGEST}"),
            "flux-system:podinfo"
        )]
    );
    assert_eq!(
        multidoc[&id("v1", "ConfigMap", "settings", "")],
        [nginx("nginx:1.0.0")]
    );

    // A single-document List: changes belong to its items.
    assert_eq!(
        report.files["list.yaml"],
        [
            (
                id("apps/v1", "Deployment", "one", ""),
                vec![nginx("nginx:1.0.0")]
            ),
            (
                id("apps/v1", "Deployment", "two", "web"),
                vec![nginx("nginx:1.0.0")]
            ),
        ]
        .into()
    );
}

#[test]
fn crlf_line_endings_are_kept() {
    let setters = styles_policies();
    for name in [
        "deployment.yaml",
        "helmrelease.yaml",
        "multidoc.yaml",
        "list.yaml",
    ] {
        let original = fs::read_to_string(testdata("styles/original").join(name)).unwrap();
        let expected = fs::read_to_string(testdata("styles/expected").join(name)).unwrap();
        let lf = setters.update_text(&original).unwrap().unwrap();
        let crlf = setters
            .update_text(&original.replace('\n', "\r\n"))
            .unwrap()
            .unwrap();
        assert_eq!(crlf.text, expected.replace('\n', "\r\n"), "{name}");
        assert_eq!(crlf.changes, lf.changes, "{name}");
    }
}

#[test]
fn byte_order_mark_and_non_ascii_offsets() {
    let setters = styles_policies();
    let text = "\u{feff}# ⛵ ünïcödé\r\nkind: Ünïcödé # 日本語\r\nspec:\r\n  ключ: \"nginx:1\" # {\"$imagepolicy\": \"flux-system:nginx\"}\r\n  🚀: '✓' # {\"$imagepolicy\": \"flux-system:nginx:tag\"}\r\n";
    let update = setters.update_text(text).unwrap().unwrap();
    assert_eq!(
        update.text,
        "\u{feff}# ⛵ ünïcödé\r\nkind: Ünïcödé # 日本語\r\nspec:\r\n  ключ: \"nginx:1.25.3\" # {\"$imagepolicy\": \"flux-system:nginx\"}\r\n  🚀: '1.25.3' # {\"$imagepolicy\": \"flux-system:nginx:tag\"}\r\n"
    );
    assert_eq!(update.changes[0].0.kind, "Ünïcödé");
    assert_eq!(
        update.changes[1].1,
        change("✓", "1.25.3", "flux-system:nginx:tag")
    );
}

#[test]
fn quoting_decisions_for_plain_values() {
    let setters = Setters::new(&[
        policy("ns", "num", "reg/app", "1.10", None),
        policy("ns", "bool", "reg/app", "yes", None),
        policy("ns", "odd", "reg/app", "a #b", None),
        policy("ns", "quote", "reg/app", "it's", None),
    ]);
    let text = "\
a: v1 # {\"$imagepolicy\": \"ns:num:tag\"}
b: v1 # {\"$imagepolicy\": \"ns:bool:tag\"}
c: v1 # {\"$imagepolicy\": \"ns:odd:tag\"}
d: v1 # {\"$imagepolicy\": \"ns:quote:tag\"}
e: 'v1' # {\"$imagepolicy\": \"ns:quote:tag\"}
f: \"v1\" # {\"$imagepolicy\": \"ns:quote:tag\"}
g: [\"v1\",
  v1, # {\"$imagepolicy\": \"ns:num\"}
  x]
h: !!str v1 # {\"$imagepolicy\": \"ns:num:tag\"}
";
    let update = Setters::update_text(&setters, text).unwrap().unwrap();
    assert_eq!(
        update.text,
        "\
a: \"1.10\" # {\"$imagepolicy\": \"ns:num:tag\"}
b: \"yes\" # {\"$imagepolicy\": \"ns:bool:tag\"}
c: 'a #b' # {\"$imagepolicy\": \"ns:odd:tag\"}
d: it's # {\"$imagepolicy\": \"ns:quote:tag\"}
e: 'it''s' # {\"$imagepolicy\": \"ns:quote:tag\"}
f: \"it's\" # {\"$imagepolicy\": \"ns:quote:tag\"}
g: [\"v1\",
  reg/app:1.10, # {\"$imagepolicy\": \"ns:num\"}
  x]
h: !!str \"1.10\" # {\"$imagepolicy\": \"ns:num:tag\"}
"
    );
    // The report carries values, not their source spelling.
    assert_eq!(update.changes[0].1, change("v1", "1.10", "ns:num:tag"));
    assert_eq!(update.changes[4].1, change("v1", "it's", "ns:quote:tag"));
}

#[test]
fn digest_setter_without_digest_writes_an_empty_string() {
    // Flux sets the `:digest` setter to the policy's digest, empty when there is none.
    let setters = Setters::new(&[policy("ns", "p", "img", "v2", None)]);
    let text = "digest: sha256:abc # {\"$imagepolicy\": \"ns:p:digest\"}\nname: x # {\"$imagepolicy\": \"ns:p:name\"}\n";
    let update = setters.update_text(text).unwrap().unwrap();
    assert_eq!(
        update.text,
        "digest: \"\" # {\"$imagepolicy\": \"ns:p:digest\"}\nname: img # {\"$imagepolicy\": \"ns:p:name\"}\n"
    );
    assert_eq!(update.changes[0].1, change("sha256:abc", "", "ns:p:digest"));
}

#[test]
fn nothing_to_do_is_none() {
    let setters = flux_policies();
    // No token: not even parsed.
    assert_eq!(setters.update_text("image: used:v1.0.0\n: : [\n"), Ok(None));
    // Token, but every marked value is current or unknown.
    let text = "image: used:v1.1.0 # {\"$imagepolicy\": \"automation-ns:used\"}\nother: x # {\"$imagepolicy\": \"nope:nope\"}\n";
    assert_eq!(setters.update_text(text), Ok(None));
    // Empty documents and comment-only files.
    assert_eq!(
        setters.update_text("# {\"$imagepolicy\": \"automation-ns:used\"}\n---\n---\n"),
        Ok(None)
    );
}

#[test]
fn problem_texts() {
    let setters = flux_policies();
    let marker = "# {\"$imagepolicy\": \"automation-ns:used\"}";
    let problem = |text: String| setters.update_text(&text).unwrap_err();

    let e = problem(format!("image: [used:v1.0.0 {marker}\n"));
    assert!(e.line >= 1, "{e}");
    let e = problem(format!("a: used:v1.0.0 {marker}\n--- !foo\nb: 1\n"));
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "invalid document separator: --- !foo")
    );
    let e = problem(format!("- used:v1.0.0 {marker}\n"));
    assert_eq!(
        (e.line, e.message.as_str()),
        (1, "document is not a mapping")
    );
    let e = problem(format!("metadata: name\nimage: used:v1.0.0 {marker}\n"));
    assert_eq!(e.message, "metadata is not a mapping");
    let e = problem(format!(
        "metadata:\n  annotations: [a]\nimage: used:v1.0.0 {marker}\n"
    ));
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "metadata.annotations is not a mapping")
    );
    // Null metadata and annotations are fine.
    assert!(
        setters
            .update_text(&format!(
                "metadata:\n  annotations:\nimage: used:v1.0.0 {marker}\n"
            ))
            .unwrap()
            .is_some()
    );
}

fn write(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, content).unwrap();
}

const MARKED: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  image: used:v1.0.0 # {\"$imagepolicy\": \"automation-ns:used\"}\n";
const UPDATED: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  image: used:v1.1.0 # {\"$imagepolicy\": \"automation-ns:used\"}\n";

#[test]
fn problem_files_are_reported_and_left_alone() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let marker = "# {\"$imagepolicy\": \"automation-ns:used\"}";
    write(
        &root.join("a-bad.yaml"),
        &format!("image: [used:v1.0.0 {marker}\n"),
    );
    write(&root.join("b-ok.yaml"), MARKED);
    write(
        &root.join("c-sep.yml"),
        &format!("a: used:v1.0.0 {marker}\n---x\n"),
    );
    fs::write(
        root.join("d-latin1.yaml"),
        b"name: caf\xe9 # {\"$imagepolicy\": \"automation-ns:used\"}\n",
    )
    .unwrap();
    // Unparsable but without the token: not even read as YAML.
    write(&root.join("e-template.yaml"), "{{ .Values.image }}: [\n");

    let report = flux_policies().update_dir(root, "").unwrap();
    let problems: Vec<(&str, usize)> = report
        .problem_files
        .iter()
        .map(|p| (p.path.as_str(), p.error.line))
        .collect();
    assert_eq!(
        problems,
        [("a-bad.yaml", 1), ("c-sep.yml", 2), ("d-latin1.yaml", 1)]
    );
    assert_eq!(
        report.problem_files[2].error,
        YamlError {
            line: 1,
            column: 10,
            message: "invalid UTF-8".into()
        }
    );
    assert_eq!(report.files.keys().collect::<Vec<_>>(), ["b-ok.yaml"]);
    assert_eq!(fs::read_to_string(root.join("b-ok.yaml")).unwrap(), UPDATED);
    assert_eq!(
        fs::read_to_string(root.join("a-bad.yaml")).unwrap(),
        format!("image: [used:v1.0.0 {marker}\n")
    );
    assert_eq!(report.scanned, 5);
}

#[cfg(unix)]
#[test]
fn symbolic_links_are_never_followed() {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir().unwrap();
    write(&outside.path().join("target.yaml"), MARKED);
    write(&outside.path().join("dir/nested.yaml"), MARKED);

    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(&root.join("apps/real.yaml"), MARKED);
    symlink(
        outside.path().join("target.yaml"),
        root.join("apps/link.yaml"),
    )
    .unwrap();
    symlink(outside.path().join("dir"), root.join("apps/linkdir")).unwrap();
    symlink(
        root.join("apps/real.yaml"),
        root.join("apps/inside-link.yaml"),
    )
    .unwrap();
    symlink(root.join("missing.yaml"), root.join("apps/dangling.yaml")).unwrap();
    symlink(outside.path(), root.join("outside")).unwrap();

    let report = flux_policies().update_dir(root, "apps").unwrap();
    assert_eq!(report.files.keys().collect::<Vec<_>>(), ["real.yaml"]);
    assert_eq!(report.repo_path("real.yaml"), "apps/real.yaml");
    assert_eq!(report.scanned, 1);
    assert_eq!(
        fs::read_to_string(outside.path().join("target.yaml")).unwrap(),
        MARKED
    );
    assert_eq!(
        fs::read_to_string(outside.path().join("dir/nested.yaml")).unwrap(),
        MARKED
    );
    assert_eq!(
        fs::read_to_string(root.join("apps/real.yaml")).unwrap(),
        UPDATED
    );
    assert!(
        fs::symlink_metadata(root.join("apps/link.yaml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // An update path through a link is refused, naming the link.
    let err = flux_policies().update_dir(root, "outside").unwrap_err();
    assert!(
        matches!(&err, SetterError::Symlink { link, .. } if link == "outside"),
        "{err}"
    );
    let err = flux_policies()
        .update_dir(root, "./outside/dir")
        .unwrap_err();
    assert!(
        matches!(&err, SetterError::Symlink { link, .. } if link == "outside"),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(outside.path().join("dir/nested.yaml")).unwrap(),
        MARKED
    );
}

#[test]
fn update_paths_outside_the_root_are_rejected() {
    let repo = tempfile::tempdir().unwrap();
    write(&repo.path().join("apps/x.yaml"), MARKED);
    let setters = flux_policies();
    for path in ["..", "../x", "apps/../../x", "./.."] {
        let err = setters.update_dir(repo.path(), path).unwrap_err();
        assert!(
            matches!(err, SetterError::OutsideRoot { .. }),
            "{path}: {err}"
        );
        assert!(err.to_string().contains(&format!("{path:?}")), "{err}");
    }
    let err = setters.update_dir(repo.path(), "/etc").unwrap_err();
    assert!(matches!(err, SetterError::AbsolutePath { .. }), "{err}");
    let err = setters.update_dir(repo.path(), "nope").unwrap_err();
    assert!(matches!(err, SetterError::NotFound { .. }), "{err}");
    let err = setters
        .update_dir(repo.path(), "apps/x.yaml/y")
        .unwrap_err();
    assert!(matches!(err, SetterError::NotFound { .. }), "{err}");
    // `..` that stays inside is fine.
    let report = setters.update_dir(repo.path(), "apps/../apps/").unwrap();
    assert_eq!(report.base, "apps");
    assert_eq!(report.files.keys().collect::<Vec<_>>(), ["x.yaml"]);
}

#[test]
fn update_path_variants_and_file_selection() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(&root.join("apps/a/deploy.yaml"), MARKED);
    write(&root.join("apps/Kustomization"), MARKED);
    write(&root.join("apps/kustomization"), MARKED);
    write(&root.join("apps/deploy.YAML"), MARKED);
    write(&root.join("apps/values.txt"), MARKED);
    write(&root.join("apps/.git/config.yaml"), MARKED);
    write(&root.join("apps/.hidden/h.yml"), MARKED);
    write(&root.join("other/o.yaml"), MARKED);

    for path in ["./apps", "apps/", "apps", "./apps/./"] {
        let scratch = tempfile::tempdir().unwrap();
        copy_dir(root, scratch.path());
        let report = flux_policies().update_dir(scratch.path(), path).unwrap();
        assert_eq!(report.base, "apps", "{path}");
        assert_eq!(
            report.files.keys().collect::<Vec<_>>(),
            [".hidden/h.yml", "Kustomization", "a/deploy.yaml"],
            "{path}"
        );
        for untouched in [
            "apps/kustomization",
            "apps/deploy.YAML",
            "apps/values.txt",
            "apps/.git/config.yaml",
            "other/o.yaml",
        ] {
            assert_eq!(
                fs::read_to_string(scratch.path().join(untouched)).unwrap(),
                MARKED,
                "{untouched}"
            );
        }
    }
    for path in ["", "."] {
        let scratch = tempfile::tempdir().unwrap();
        copy_dir(root, scratch.path());
        let report = flux_policies().update_dir(scratch.path(), path).unwrap();
        assert_eq!(report.base, "");
        assert_eq!(
            report.files.keys().collect::<Vec<_>>(),
            [
                "apps/.hidden/h.yml",
                "apps/Kustomization",
                "apps/a/deploy.yaml",
                "other/o.yaml"
            ]
        );
    }
    // A file as the update path: reported relative to its directory, as Flux does.
    let report = flux_policies()
        .update_dir(root, "apps/a/deploy.yaml")
        .unwrap();
    assert_eq!(report.base, "apps/a");
    assert_eq!(report.files.keys().collect::<Vec<_>>(), ["deploy.yaml"]);
    assert_eq!(report.repo_path("deploy.yaml"), "apps/a/deploy.yaml");
    assert_eq!(
        fs::read_to_string(root.join("apps/a/deploy.yaml")).unwrap(),
        UPDATED
    );
    assert_eq!(
        fs::read_to_string(root.join("other/o.yaml")).unwrap(),
        MARKED
    );
}

#[cfg(unix)]
#[test]
fn rewritten_files_keep_their_permissions_and_unchanged_files_are_not_written() {
    use std::os::unix::fs::PermissionsExt;
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    write(&root.join("changed.yaml"), MARKED);
    write(&root.join("current.yaml"), UPDATED);
    fs::set_permissions(root.join("changed.yaml"), fs::Permissions::from_mode(0o640)).unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(root.join("current.yaml"))
        .unwrap()
        .set_modified(old)
        .unwrap();

    let report = flux_policies().update_dir(root, "").unwrap();
    assert_eq!(report.files.keys().collect::<Vec<_>>(), ["changed.yaml"]);
    let meta = fs::metadata(root.join("changed.yaml")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_eq!(
        fs::metadata(root.join("current.yaml"))
            .unwrap()
            .modified()
            .unwrap(),
        old
    );
    // No temporary files are left behind.
    let names: Vec<_> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2);
}

#[test]
fn report_merges_objects_across_files_and_dedups_changes() {
    let repo = tempfile::tempdir().unwrap();
    write(&repo.path().join("base/pod.yaml"), MARKED);
    write(&repo.path().join("overlay/pod.yaml"), MARKED);
    let report = flux_policies().update_dir(repo.path(), "").unwrap();
    let pod = id("v1", "Pod", "p", "");
    let used = change("used:v1.0.0", "used:v1.1.0", "automation-ns:used");
    assert_eq!(report.files.len(), 2);
    assert_eq!(report.changes(), vec![used.clone()]);
    assert_eq!(report.objects(), [(pod, vec![used.clone(), used])].into());
}

#[test]
fn head_comment_markers_need_a_lone_comment_line() {
    let setters = flux_policies();
    let text = "\
list:
  # {\"$imagepolicy\": \"automation-ns:used\"}
  - used:v1.0.0

  # {\"$imagepolicy\": \"automation-ns:used\"}

  - used:v1.0.0
  - - used:v1.0.0
  # {\"$imagepolicy\": \"automation-ns:used\"}
  - name: used:v1.0.0
key:
  # {\"$imagepolicy\": \"automation-ns:used\"}
  value: used:v1.0.0
";
    let update = setters.update_text(text).unwrap().unwrap();
    assert_eq!(update.text, text.replacen("used:v1.0.0", "used:v1.1.0", 1));
    assert_eq!(update.changes.len(), 1);
}

#[test]
fn long_form_references_multi_line_plain_scalars_and_aliases() {
    let setters = flux_policies();
    let text = "\
apiVersion: v1
kind: &k Pod
metadata: {name: *k, namespace: \"ns\"}
a: used:v1.0.0 # {\"$ref\": \"#/definitions/io.k8s.cli.setters.automation-ns:used\"}
b: used:v1.0.0 # {\"$ref\": \"#/definitions/io.k8s.cli.setters.automation-ns:nope\"}
c: used
  :v1.0.0 # {\"$imagepolicy\": \"automation-ns:used:tag\"}
";
    let update = setters.update_text(text).unwrap().unwrap();
    assert_eq!(
        update.text,
        "\
apiVersion: v1
kind: &k Pod
metadata: {name: *k, namespace: \"ns\"}
a: used:v1.1.0 # {\"$ref\": \"#/definitions/io.k8s.cli.setters.automation-ns:used\"}
b: used:v1.0.0 # {\"$ref\": \"#/definitions/io.k8s.cli.setters.automation-ns:nope\"}
c: v1.1.0 # {\"$imagepolicy\": \"automation-ns:used:tag\"}
"
    );
    // go-yaml's value of an alias node is the anchor's name.
    assert_eq!(update.changes[0].0, id("v1", "Pod", "k", "ns"));
    assert_eq!(
        update.changes[1].1,
        change("used :v1.0.0", "v1.1.0", "automation-ns:used:tag")
    );
}
