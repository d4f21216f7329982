//! ArtifactGenerator end to end (Flux's source-watcher): two Git repositories served by
//! `git http-backend`, the embedded API server, the source controller, the source-watcher
//! and the kustomize controller, all real. A generator composes an ExternalArtifact from
//! both repositories (glob, exclude, `@alias` paths, origin revision) and another that takes
//! one source's revision; a Kustomization whose `sourceRef` is the composed ExternalArtifact
//! applies it, and follows a change in either repository. Removing an artifact from the
//! generator deletes its ExternalArtifact; deleting the generator deletes the rest.

use gitops_api::{ArtifactGenerator, ExternalArtifact, GitRepository, Kustomization};
use gitops_tests::{Cluster, GitHttpServer, git, have, ready_of, wait_until};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

/// Commits `files` in `work` and pushes to `bare`; the new commit.
fn commit(work: &Path, bare: &Path, files: &[(&str, &str)], message: &str) -> String {
    write(work, files);
    gitops_tests::commit_and_push(work, bare, message);
    git(work, &["rev-parse", "HEAD"])
}

fn cm(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndata:\n  value: {value}\n"
    )
}

async fn request_reconcile(api: &Api<GitRepository>, name: &str) {
    let stamp = format!("{:?}", std::time::SystemTime::now());
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(
            json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": stamp}}}),
        ),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_composes_sources_for_a_kustomization() {
    if !have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("srv");
    std::fs::create_dir_all(&root).unwrap();
    let mut repos = Vec::new();
    for name in ["apps", "config"] {
        git(
            &root,
            &["init", "-q", "--bare", "-b", "main", &format!("{name}.git")],
        );
        let work = t.path().join(name);
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        repos.push((work, root.join(format!("{name}.git"))));
    }
    let (apps_work, apps_bare) = repos[0].clone();
    let (config_work, config_bare) = repos[1].clone();
    commit(
        &apps_work,
        &apps_bare,
        &[
            ("deploy/app.yaml", &cm("app", "one")),
            (
                "deploy/kustomization.yaml",
                "resources:\n- app.yaml\n- settings.yaml\n",
            ),
            ("deploy/README.md", "not copied\n"),
            ("teams/Alpha/app.yaml", &cm("alpha", "a")),
            ("teams/beta/app.yaml", &cm("beta", "b")),
        ],
        "apps",
    );
    let config_sha = commit(
        &config_work,
        &config_bare,
        &[("envs/prod/settings.yaml", &cm("settings", "prod-1"))],
        "config",
    );
    let http = GitHttpServer::start(&root, None).await;

    let mut cluster = Cluster::start().await;
    cluster.start_source_controller().await;
    let storage = t.path().join("generated");
    cluster.start_controller(
        "source-watcher",
        &[
            &format!("--storage-path={}", storage.display()),
            "--storage-addr=127.0.0.1:0",
        ],
    );
    cluster.start_kustomize_controller();
    let client = cluster.client.clone();
    let git_api: Api<GitRepository> = Api::namespaced(client.clone(), "default");
    for name in ["apps", "config"] {
        let repo: GitRepository = serde_json::from_value(json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"url": format!("{}/{name}.git", http.url), "interval": "10m",
                     "ref": {"branch": "main"}},
        }))
        .unwrap();
        git_api.create(&PostParams::default(), &repo).await.unwrap();
    }
    let generator: ArtifactGenerator = serde_json::from_value(json!({
        "apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
        "metadata": {"name": "platform", "namespace": "default"},
        "spec": {
            "commonMetadata": {"labels": {"team": "platform"}},
            "sources": [
                {"alias": "apps", "kind": "GitRepository", "name": "apps"},
                {"alias": "config", "kind": "GitRepository", "name": "config"},
            ],
            "artifacts": [
                {"name": "composite", "originRevision": "@apps", "copy": [
                    {"from": "@apps/deploy/**", "to": "@artifact/app/", "exclude": ["*.md"]},
                    {"from": "@config/envs/prod/settings.yaml", "to": "@artifact/app/settings.yaml"},
                ]},
                {"name": "config-only", "revision": "@config", "copy": [
                    {"from": "@config/envs/", "to": "@artifact/"},
                ]},
            ],
        },
    }))
    .unwrap();
    let gen_api: Api<ArtifactGenerator> = Api::namespaced(client.clone(), "default");
    gen_api
        .create(&PostParams::default(), &generator)
        .await
        .unwrap();
    let ks: Kustomization = serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "composite", "namespace": "default"},
        "spec": {"interval": "10m", "path": "./app", "prune": true,
                 "sourceRef": {"kind": "ExternalArtifact", "name": "composite"}},
    }))
    .unwrap();
    let ks_api: Api<Kustomization> = Api::namespaced(client.clone(), "default");
    ks_api.create(&PostParams::default(), &ks).await.unwrap();

    // The generator is Ready with both artifacts.
    let ready = wait_until(WAIT, || {
        let api = gen_api.clone();
        async move {
            let g = api.get("platform").await.ok()?;
            let st = serde_json::to_value(g.status.as_ref()?).ok()?;
            (ready_of(&st)?.0 == "True").then_some(g)
        }
    })
    .await
    .expect("the generator becomes Ready");
    let status = ready.status.clone().unwrap();
    assert_eq!(status.inventory.len(), 2, "{status:?}");
    assert!(
        status
            .observed_sources_digest
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{status:?}"
    );
    let ready_msg = serde_json::to_value(&status).unwrap();
    assert_eq!(
        ready_of(&ready_msg).unwrap().2,
        "reconciliation succeeded, generated 2 artifact(s)"
    );

    let ea_api: Api<ExternalArtifact> = Api::namespaced(client.clone(), "default");
    let composite = ea_api.get("composite").await.unwrap();
    let artifact = composite.status.as_ref().unwrap().artifact.clone().unwrap();
    assert!(
        artifact.revision.starts_with("latest@sha256:"),
        "{artifact:?}"
    );
    assert_eq!(artifact.revision, format!("latest@{}", artifact.digest));
    let apps_rev = git_api
        .get("apps")
        .await
        .unwrap()
        .status
        .unwrap()
        .artifact
        .unwrap()
        .revision;
    assert_eq!(
        artifact.metadata.as_ref().unwrap()["org.opencontainers.image.revision"],
        apps_rev
    );
    let labels = composite.metadata.labels.clone().unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "source-watcher");
    assert_eq!(labels["team"], "platform");
    assert_eq!(
        labels["source.extensions.fluxcd.io/generator"],
        ready.metadata.uid.clone().unwrap()
    );
    let source_ref = composite.spec.source_ref.clone().unwrap();
    assert_eq!(source_ref.kind, "ArtifactGenerator");
    assert_eq!(source_ref.name, "platform");
    let config_only = ea_api.get("config-only").await.unwrap();
    assert_eq!(
        config_only.status.unwrap().artifact.unwrap().revision,
        format!("main@sha1:{config_sha}")
    );

    // The Kustomization applies the composed tree.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let value = |name: &'static str| {
        let cms = cms.clone();
        async move {
            cms.get_opt(name)
                .await
                .ok()
                .flatten()
                .and_then(|c| c.data)
                .and_then(|d| d.get("value").cloned())
        }
    };
    wait_until(WAIT, || async {
        (value("app").await.as_deref() == Some("one")
            && value("settings").await.as_deref() == Some("prod-1"))
        .then_some(())
    })
    .await
    .expect("the composed artifact is applied");
    // the objects are applied before the status says so: wait for it
    let applied_revision = || async {
        ks_api
            .get("composite")
            .await
            .ok()
            .and_then(|k| k.status)
            .and_then(|s| s.last_applied_revision)
    };
    let last = wait_until(WAIT, || async {
        applied_revision().await.filter(|r| *r == artifact.revision)
    })
    .await;
    let last = match last {
        Some(r) => Some(r),
        None => applied_revision().await,
    };
    assert_eq!(last.as_deref(), Some(artifact.revision.as_str()));

    // A change in the second repository reaches the cluster through the generator.
    let config_sha2 = commit(
        &config_work,
        &config_bare,
        &[("envs/prod/settings.yaml", &cm("settings", "prod-2"))],
        "settings",
    );
    request_reconcile(&git_api, "config").await;
    wait_until(WAIT, || async {
        (value("settings").await.as_deref() == Some("prod-2")).then_some(())
    })
    .await
    .expect("the new settings are applied");
    let composite2 = ea_api
        .get("composite")
        .await
        .unwrap()
        .status
        .unwrap()
        .artifact
        .unwrap();
    assert_ne!(composite2.revision, artifact.revision);
    let config_rev = wait_until(WAIT, || {
        let api = ea_api.clone();
        let want = format!("main@sha1:{config_sha2}");
        async move {
            let r = api
                .get("config-only")
                .await
                .ok()?
                .status?
                .artifact?
                .revision;
            (r == want).then_some(r)
        }
    })
    .await;
    assert!(
        config_rev.is_some(),
        "config-only follows the config revision"
    );

    // An excluded file changes: same content, same revision; the origin revision follows.
    commit(
        &apps_work,
        &apps_bare,
        &[("deploy/README.md", "still not copied\n")],
        "docs",
    );
    request_reconcile(&git_api, "apps").await;
    let apps_rev2 = wait_until(WAIT, || {
        let api = git_api.clone();
        let old = apps_rev.clone();
        async move {
            let r = api.get("apps").await.ok()?.status?.artifact?.revision;
            (r != old).then_some(r)
        }
    })
    .await
    .expect("the apps repository has a new revision");
    let composite3 = wait_until(WAIT, || {
        let api = ea_api.clone();
        let want = apps_rev2.clone();
        async move {
            let a = api.get("composite").await.ok()?.status?.artifact?;
            (a.metadata
                .as_ref()?
                .get("org.opencontainers.image.revision")
                == Some(&want))
            .then_some(a)
        }
    })
    .await
    .expect("the origin revision follows the apps repository");
    assert_eq!(
        composite3.revision, composite2.revision,
        "same content, same revision"
    );

    // A path pattern makes one artifact per matched directory, labelled with its captures.
    let teams: ArtifactGenerator = serde_json::from_value(json!({
        "apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
        "metadata": {"name": "teams", "namespace": "default"},
        "spec": {
            "sources": [{"alias": "apps", "kind": "GitRepository", "name": "apps"}],
            "pathPattern": "@apps/teams/{team}",
            "artifacts": [{"name": "team-{team}", "copy": [
                {"from": "@apps/teams/{team}/**", "to": "@artifact/"}]}],
        },
    }))
    .unwrap();
    gen_api
        .create(&PostParams::default(), &teams)
        .await
        .unwrap();
    for (name, label) in [("team-alpha", "alpha"), ("team-beta", "beta")] {
        let ea = wait_until(WAIT, || {
            let api = ea_api.clone();
            async move { api.get_opt(name).await.ok()?.filter(|e| e.status.is_some()) }
        })
        .await
        .unwrap_or_else(|| panic!("{name} is generated"));
        assert_eq!(
            ea.metadata.labels.unwrap()["team"],
            label,
            "lowercased capture"
        );
    }

    // An artifact removed from the generator is deleted.
    gen_api
        .patch(
            "platform",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(json!([
                    {"op": "remove", "path": "/spec/artifacts/1"}
                ]))
                .unwrap(),
            ),
        )
        .await
        .unwrap();
    wait_until(WAIT, || async {
        ea_api
            .get_opt("config-only")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await
    .expect("config-only is deleted");
    assert!(
        !storage
            .join("externalartifact/default/config-only")
            .exists()
    );

    // Deleting the generator deletes what it generated.
    gen_api
        .delete("platform", &DeleteParams::default())
        .await
        .unwrap();
    wait_until(WAIT, || async {
        ea_api
            .get_opt("composite")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await
    .expect("composite is deleted with its generator");
}

/// A generator with a source that does not exist is not Ready and says which; one with an
/// alias no source has stalls with a validation error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_failures_are_named_in_status() {
    let mut cluster = Cluster::start().await;
    let t = tempfile::tempdir().unwrap();
    cluster.start_controller(
        "source-watcher",
        &[
            &format!("--storage-path={}", t.path().display()),
            "--storage-addr=127.0.0.1:0",
        ],
    );
    let gen_api: Api<ArtifactGenerator> = Api::namespaced(cluster.client.clone(), "default");
    for (name, alias, message) in [
        (
            "missing-source",
            "apps",
            "failed to get source 'apps' (GitRepository/default/nowhere): not found",
        ),
        (
            "unknown-alias",
            "other",
            "artifact 'out' copy from '@other/x' references unknown source alias 'other'",
        ),
    ] {
        let g: ArtifactGenerator = serde_json::from_value(json!({
            "apiVersion": "source.extensions.fluxcd.io/v1beta1", "kind": "ArtifactGenerator",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "sources": [{"alias": "apps", "kind": "GitRepository", "name": "nowhere"}],
                "artifacts": [{"name": "out", "copy": [
                    {"from": format!("@{alias}/x"), "to": "@artifact/"}]}],
            },
        }))
        .unwrap();
        gen_api.create(&PostParams::default(), &g).await.unwrap();
        let got = wait_until(WAIT, || {
            let api = gen_api.clone();
            async move {
                let g = api.get(name).await.ok()?;
                let st = serde_json::to_value(g.status.as_ref()?).ok()?;
                let (status, _, msg) = ready_of(&st)?;
                (status == "False").then_some(msg)
            }
        })
        .await
        .expect("the generator reports the failure");
        assert_eq!(got, message);
    }
}
