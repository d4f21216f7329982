//! `gitops kustomize build --enable-helm`: `helmCharts` inflated by the built-in Helm engine
//! give the same stream as `kubectl kustomize --enable-helm` running the real helm.
//!
//! Needs the reference kubectl and helm (`GITOPS_PEERS_DIR`, set by `scripts/test`); the
//! charts come from our own fixture and from `../shared/conformance/helm` when present.

use std::path::{Path, PathBuf};
use std::process::Command;

fn peers() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("GITOPS_PEERS_DIR")?);
    (dir.join("kubectl").exists() && dir.join("helm").exists()).then_some(dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// Kustomize 5.7 insists on helm v3 (`helm version -c`); our reference helm is v4, whose
/// `template` output is what the built-in engine reproduces. The wrapper answers the
/// version probe and passes everything else through.
fn helm_wrapper(dir: &Path, peers: &Path) -> PathBuf {
    let path = dir.join("helm-wrapper");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then echo v3.99.0; exit 0; fi\nexec {} \"$@\"\n",
            peers.join("helm").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Case {
    chart: PathBuf,
    chart_name: &'static str,
    kustomization: &'static str,
    files: &'static [(&'static str, &'static str)],
}

#[test]
fn helm_charts_match_kustomize_with_helm() {
    let Some(peers) = peers() else {
        eprintln!("skipped: GITOPS_PEERS_DIR with kubectl and helm not set (run scripts/test)");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shared = root.join("../shared/conformance/helm");
    let mut cases = vec![
        Case {
            chart: root.join("crates/apiserver/tests/charts/podinfo"),
            chart_name: "podinfo",
            kustomization: "namespace: apps\nhelmCharts:\n- name: podinfo\n  releaseName: web\n  namespace: apps\n  valuesInline:\n    replicaCount: 3\nlabels:\n- pairs:\n    team: a\n  includeSelectors: true\n",
            files: &[],
        },
        Case {
            chart: root.join("crates/apiserver/tests/charts/podinfo"),
            chart_name: "podinfo",
            kustomization: "helmCharts:\n- name: podinfo\n  valuesFile: base-values.yaml\n  additionalValuesFiles: [more.yaml]\n  valuesInline:\n    message: inline\n  skipHooks: true\nnamePrefix: p-\n",
            files: &[
                ("base-values.yaml", "replicaCount: 2\nmessage: from-file\n"),
                ("more.yaml", "replicaCount: 5\n"),
            ],
        },
        Case {
            chart: root.join("crates/apiserver/tests/charts/podinfo"),
            chart_name: "podinfo",
            kustomization: "helmCharts:\n- name: podinfo\n  releaseName: r\n  valuesInline:\n    replicaCount: 4\n  valuesMerge: replace\n  kubeVersion: \"1.30\"\n  apiVersions: [example.com/v1]\n",
            files: &[],
        },
    ];
    for (dir, name) in [
        ("bitnami-memcached", "memcached"),
        (
            "prometheus-community-prometheus-pushgateway",
            "prometheus-pushgateway",
        ),
        ("kubernetes-ingress-nginx", "ingress-nginx"),
    ] {
        let chart = shared.join(dir).join("chart");
        if chart.exists() {
            cases.push(Case {
                chart,
                chart_name: name,
                kustomization: "",
                files: &[],
            });
        } else {
            eprintln!("{dir}: not in ../shared/conformance/helm, skipped");
        }
    }
    for case in &cases {
        let dir = tempfile::tempdir().unwrap();
        let chart_name = std::fs::read_to_string(case.chart.join("Chart.yaml"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("name:").map(|n| n.trim().to_string()))
            .unwrap_or_else(|| case.chart_name.to_string());
        copy_dir(&case.chart, &dir.path().join("charts").join(&chart_name));
        let kustomization = if case.kustomization.is_empty() {
            format!(
                "namespace: ns1\nhelmCharts:\n- name: {chart_name}\n  releaseName: rel\n  namespace: ns1\n  includeCRDs: true\n"
            )
        } else {
            case.kustomization.to_string()
        };
        std::fs::write(dir.path().join("kustomization.yaml"), &kustomization).unwrap();
        for (name, text) in case.files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let wrapper = helm_wrapper(dir.path(), &peers);
        // kustomize inflates into `charts/`; give each tool its own copy.
        let theirs = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), theirs.path());
        let expected = run(Command::new(peers.join("kubectl"))
            .args(["kustomize", "--enable-helm", "--helm-command"])
            .arg(&wrapper)
            .arg(theirs.path()));
        let got = run(Command::new(env!("CARGO_BIN_EXE_gitops"))
            .args(["kustomize", "build", "--enable-helm"])
            .arg(dir.path()));
        assert!(
            expected.len() > 100,
            "{chart_name}: the reference produced almost nothing"
        );
        if got != expected {
            let first = got
                .lines()
                .zip(expected.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "{chart_name} ({kustomization}): output differs from kubectl kustomize at line {}:\n got: {:?}\nwant: {:?}",
                first + 1,
                got.lines().nth(first),
                expected.lines().nth(first)
            );
        }
    }
}

#[test]
fn helm_charts_need_enable_helm() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    copy_dir(
        &root.join("crates/apiserver/tests/charts/podinfo"),
        &dir.path().join("charts/podinfo"),
    );
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "helmCharts:\n- name: podinfo\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(["kustomize", "build"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("podinfo"), "{err}");
}
