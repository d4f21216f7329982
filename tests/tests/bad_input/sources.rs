//! Hostile sources: a Git commit or a Helm chart that inflates to far more than it weighs
//! is refused with the limit it breaks, and costs bounded memory (measured by the
//! allocator, not timed).

use gitops_source::git::{ArchiveOptions, FetchOptions, FetchOutcome, GitReference, fetch};
use gitops_tests::{git, have};
use std::io::{Read as _, Write};

use crate::ALLOC;

const CAP: usize = 1 << 30;

/// A repository whose one commit holds `mib` MiB of zeros in `big.bin` (a few KB packed).
fn zeros_repo(dir: &std::path::Path, mib: usize) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    let mut f = std::fs::File::create(dir.join("big.bin")).unwrap();
    let mb = vec![0u8; 1 << 20];
    for _ in 0..mib {
        f.write_all(&mb).unwrap();
    }
    std::fs::write(dir.join("app.yaml"), "a: 1\n").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "bomb"]);
}

#[test]
fn git_blob_bomb_is_refused_before_it_is_read() {
    if !have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let up = t.path().join("up");
    zeros_repo(&up, 64);
    let url = format!("file://{}", up.display());
    // with a limit on objects, the fetch itself refuses to inflate the blob
    let (r, fpeak) = ALLOC.measure(CAP, || {
        let mut opts = FetchOptions::new(&url, GitReference::Branch("main".into()));
        opts.max_object_size = Some(8 << 20);
        fetch(&opts, &t.path().join("limited"), None).map(|_| ())
    });
    let e = r.expect_err("refused").to_string();
    assert_eq!(
        e,
        format!(
            "fetching branch 'main' from {url}: the remote sent an object larger than the artifact size limit of {} bytes",
            8 << 20
        )
    );
    eprintln!("limited fetch peak heap: {fpeak} bytes");
    assert!(fpeak < 16 << 20, "peak heap {fpeak} bytes");
    // without, the archive still refuses the commit from object headers
    let (repo, fpeak) = ALLOC.measure(CAP, || {
        let FetchOutcome::Fetched(repo) = fetch(
            &FetchOptions::new(&url, GitReference::Branch("main".into())),
            &t.path().join("work"),
            None,
        )
        .expect("fetch") else {
            panic!("expected a fetch")
        };
        repo
    });
    // (gix inflates each object whole while it indexes the pack: about the blob's size)
    eprintln!("unlimited fetch peak heap: {fpeak} bytes");
    let (r, peak) = ALLOC.measure(CAP, || {
        let opts = ArchiveOptions {
            max_size: Some(8 << 20),
            ..Default::default()
        };
        repo.archive(&opts, std::io::sink()).map(|_| ())
    });
    let e = r.expect_err("refused").to_string();
    assert_eq!(
        e,
        format!(
            "the files of the commit exceed the artifact size limit of {} bytes (at big.bin, {} bytes)",
            8 << 20,
            64 << 20
        )
    );
    eprintln!("peak heap: {peak} bytes");
    assert!(peak < 4 << 20, "peak heap {peak} bytes");
}

/// A chart archive (`bomb-0.1.0.tgz`) whose `bomb/big.bin` inflates to `mib` MiB of zeros.
fn chart_bomb(mib: usize) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut b = tar::Builder::new(gz);
    let mut add = |path: &str, size: u64, data: &mut dyn std::io::Read| {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    };
    let chart = b"apiVersion: v2\nname: bomb\nversion: 0.1.0\n";
    add("bomb/Chart.yaml", chart.len() as u64, &mut &chart[..]);
    let size = (mib as u64) << 20;
    add("bomb/big.bin", size, &mut std::io::repeat(0).take(size));
    b.into_inner().unwrap().finish().unwrap()
}

#[test]
fn chart_bomb_is_checked_without_inflating_it() {
    let tgz = chart_bomb(256);
    assert!(tgz.len() < 1 << 20, "{} bytes", tgz.len());
    let limits = gitops_source::ExtractLimits {
        max_file_bytes: 5 << 20,
        ..Default::default()
    };
    let (r, peak) = ALLOC.measure(CAP, || {
        gitops_source::archive::check_tar_gz(&tgz[..], limits)
    });
    assert_eq!(
        r.expect_err("refused").to_string(),
        "archive entry \"bomb/big.bin\" is larger than the maximum file size 5242880"
    );
    eprintln!("peak heap: {peak} bytes");
    assert!(peak < 4 << 20, "peak heap {peak} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helmchart_with_a_bomb_fails_with_the_file_size_limit() {
    use gitops_api::{HelmChart, HelmRepository};
    use gitops_tests::{Cluster, StaticServer, ready_of, sha256, wait_until};
    use kube::api::{Api, PostParams};
    use serde_json::json;
    let t = tempfile::tempdir().unwrap();
    let tgz = chart_bomb(64);
    std::fs::write(t.path().join("bomb-0.1.0.tgz"), &tgz).unwrap();
    std::fs::write(
        t.path().join("index.yaml"),
        gitops_source::helm::write_index(&[(
            "bomb".into(),
            "0.1.0".into(),
            "bomb-0.1.0.tgz".into(),
            sha256(&tgz).trim_start_matches("sha256:").to_owned(),
        )]),
    )
    .unwrap();
    let server = StaticServer::start(t.path()).await;
    let mut cluster = Cluster::start().await;
    cluster.start_source_controller().await;
    let repos: Api<HelmRepository> = Api::namespaced(cluster.client.clone(), "default");
    let charts: Api<HelmChart> = Api::namespaced(cluster.client.clone(), "default");
    repos
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                "metadata": {"name": "charts", "namespace": "default"},
                "spec": {"url": server.url, "interval": "10m"},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    charts
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
                "metadata": {"name": "bomb", "namespace": "default"},
                "spec": {"chart": "bomb", "version": "*", "interval": "10m",
                         "sourceRef": {"kind": "HelmRepository", "name": "charts"}},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let failed = wait_until(std::time::Duration::from_secs(60), || async {
        let s = serde_json::to_value(charts.get("bomb").await.ok()?).ok()?["status"].clone();
        // (SourceUnavailable until the repository's index is in)
        ready_of(&s).filter(|c| c.0 == "False" && c.1 != "SourceUnavailable")
    })
    .await
    .expect("the HelmChart fails");
    assert_eq!(failed.1, "ChartPackageFailed");
    assert!(
        failed.2.ends_with(
            "archive entry \"bomb/big.bin\" is larger than the maximum file size 5242880"
        ),
        "{}",
        failed.2
    );
}
