//! `gitops create source …`: Flux's `create_source_{git,helm,chart}_test.go` cases (arguments,
//! golden output and error texts), and the apply-and-wait path against the embedded API
//! server with the test playing the source-controller.

use crate::common;

use common::{Env, allocate_namespace, assert_error, assert_output, gitops, golden};
use serde_json::json;

const GIT_EXPORT: &str = "create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master --sparse-checkout-paths .cosign,non-existent-dir/ --ignore-paths .cosign,non-existent-dir/ -n default --interval 1m --export --timeout=2m0s";

#[test]
fn git_export_cases() {
    let goldens = [
        (GIT_EXPORT, "create_source_git/export.golden"),
        (
            "create source git podinfo --namespace=flux-system --url=https://github.com/stefanprodan/podinfo --commit=c88a2f41 --interval=1m0s --export",
            "create_source_git/source-git-commit.yaml",
        ),
        (
            "create source git podinfo --namespace=flux-system --url=https://github.com/stefanprodan/podinfo --ref-name=refs/heads/main --interval=1m0s --export",
            "create_source_git/source-git-refname.yaml",
        ),
        (
            "create source git podinfo --namespace=flux-system --url=https://github.com/stefanprodan/podinfo --branch=main --commit=c88a2f41 --interval=1m0s --export",
            "create_source_git/source-git-branch-commit.yaml",
        ),
        (
            "create source git podinfo --namespace=flux-system --url=https://github.com/stefanprodan/podinfo --tag-semver=v1.01 --interval=1m0s --export",
            "create_source_git/source-git-semver.yaml",
        ),
        (
            "create source git podinfo --namespace=flux-system --url=https://github.com/stefanprodan/podinfo --tag=test --interval=1m0s --export",
            "create_source_git/source-git-tag.yaml",
        ),
        (
            "create source git podinfo --namespace=flux-system --url=https://github.com/stefanprodan/podinfo --branch=test --interval=1m0s --export",
            "create_source_git/source-git-branch.yaml",
        ),
        (
            "create source git podinfo --namespace=flux-system --url=https://github.com/stefanprodan/podinfo --provider generic --branch=test --interval=1m0s --export",
            "create_source_git/source-git-provider-generic.yaml",
        ),
        (
            "create source git podinfo --namespace=flux-system --url=https://dev.azure.com/foo/bar/_git/podinfo --provider azure --branch=test --interval=1m0s --export",
            "create_source_git/source-git-provider-azure.yaml",
        ),
        (
            "create source git podinfo --namespace=flux-system --url=https://github.com/stefanprodan/podinfo --provider github --branch=test --interval=1m0s --secret-ref appinfo --export",
            "create_source_git/source-git-provider-github.yaml",
        ),
    ];
    for (args, file) in goldens {
        assert_output(&gitops(args, None), &golden(file, &[]));
    }
    let errors = [
        (
            "create source git --url=https://github.com/stefanprodan/podinfo",
            "name is required",
        ),
        (
            "create source git podinfo --namespace=flux-system --url=https://dev.azure.com/foo/bar/_git/podinfo --provider dummy --branch=test --interval=1m0s --export",
            "invalid argument \"dummy\" for \"--provider\" flag: source Git provider 'dummy' is not supported, must be one of: generic|github|aws|azure",
        ),
        (
            "create source git podinfo --namespace=flux-system --url=https://dev.azure.com/foo/bar/_git/podinfo --provider \"\" --branch=test --interval=1m0s --export",
            "invalid argument \"\" for \"--provider\" flag: no source Git provider given, please specify the Git provider name",
        ),
        (
            "create source git podinfo --namespace=flux-system --url=https://dev.azure.com/foo/bar/_git/podinfo --branch=test --interval=1m0s --export --provider",
            "flag needs an argument: --provider",
        ),
        ("create source git", "name is required"),
        // Our own cases for the remaining checks of the command.
        (
            "create source git podinfo --url=ftp://example.com/repo --branch=main --export",
            "git URL scheme 'ftp' not supported, can be: ssh, http and https",
        ),
        (
            "create source git podinfo --url=https://example.com/repo --export",
            "a Git ref is required, use one of the following: --branch, --tag, --commit, --ref-name or --tag-semver",
        ),
        (
            "create source git podinfo --url=ssh://git@example.com/repo --branch=main --ca-file=ca.crt --export",
            "specifying a CA file is not supported for Git over SSH",
        ),
        (
            "create source git Podinfo --url=https://example.com/repo --branch=main --export",
            "name 'Podinfo' is invalid, it should adhere to standard defined in RFC 1123, the name can only contain alphanumeric characters or '-'",
        ),
        (
            "create source git podinfo --url=https://example.com/repo --branch=main --label=a=b=c --export",
            "invalid label format 'a=b=c', must be key=value",
        ),
        (
            "create source git podinfo --url=https://example.com/repo --branch=main --interval=soon --export",
            "invalid argument \"soon\" for \"--interval\" flag: time: invalid duration \"soon\"",
        ),
        (
            "create source git podinfo --url=https://example.com/repo --branch=main -n Bad_NS --export",
            "namespace must be a valid DNS label: \"Bad_NS\"",
        ),
        ("create source git podinfo --bogus", "unknown flag: --bogus"),
    ];
    for (args, msg) in errors {
        assert_error(&gitops(args, None), msg);
    }
}

#[test]
fn helm_and_chart_export_cases() {
    let ns = allocate_namespace("flux-system");
    let vars = [("fluxns", ns.as_str())];
    // Flux's harness zeroes `--interval` between cases (`resetCmdArgs` resets `createArgs`),
    // so its chart goldens were produced with an interval of 0s: pass it explicitly.
    let with_ns = |args: &str| {
        let zero = if args.starts_with("create source chart") {
            " --interval=0s"
        } else {
            ""
        };
        format!("{args}{zero} -n {ns}")
    };
    assert_error(
        &gitops(&with_ns("create source helm"), None),
        "name is required",
    );
    assert_error(
        &gitops(
            &with_ns("create source helm podinfo --url=git://example.com/charts --export"),
            None,
        ),
        "url scheme 'git' not supported, can be: http, https and oci",
    );
    for (args, file) in [
        (
            "create source helm podinfo --url=oci://ghcr.io/stefanprodan/charts/podinfo --interval 5m --export",
            "create_source_helm/oci.golden",
        ),
        (
            "create source helm podinfo --url=oci://ghcr.io/stefanprodan/charts/podinfo --interval 5m --secret-ref=creds --export",
            "create_source_helm/oci-with-secret.golden",
        ),
        (
            "create source helm podinfo --url=https://stefanprodan.github.io/charts/podinfo --interval 5m --export",
            "create_source_helm/https.golden",
        ),
        (
            "create source chart podinfo --source helmrepository/podinfo --chart podinfo --export",
            "create_source_chart/basic.yaml",
        ),
        (
            "create source chart podinfo --source helmrepository/podinfo --chart podinfo --verify-provider cosign --export",
            "create_source_chart/verify_basic.yaml",
        ),
        (
            "create source chart podinfo --source helmrepository/podinfo --chart podinfo --verify-provider cosign --verify-issuer foo --verify-subject bar --export",
            "create_source_chart/verify_complete.yaml",
        ),
    ] {
        assert_output(&gitops(&with_ns(args), None), &golden(file, &vars));
    }
    for (args, msg) in [
        ("create source chart --export", "name is required"),
        (
            "create source chart podinfo --export ",
            "chart source is required",
        ),
        (
            "create source chart podinfo --source helmrepository/podinfo --export",
            "chart name or path is required",
        ),
        (
            "create source chart podinfo --source foobar/podinfo --export",
            "invalid argument \"foobar/podinfo\" for \"--source\" flag: source kind 'foobar' is not supported, must be one of: HelmRepository, GitRepository, Bucket",
        ),
        (
            "create source chart podinfo --source helmrepository/podinfo --chart podinfo --verify-provider foobar --export",
            "invalid argument \"foobar\" for \"--verify-provider\" flag: source OCI verify provider 'foobar' is not supported, must be one of: cosign",
        ),
    ] {
        assert_error(&gitops(&with_ns(args), None), msg);
    }
}

#[test]
fn oci_and_bucket_export() {
    let run = gitops(
        "create source oci podinfo --url=oci://ghcr.io/stefanprodan/manifests/podinfo --tag=6.3.5 --interval 10m --layer-selector=application/vnd.cncf.helm.chart.content.v1.tar+gzip:extract --fetch-timeout=30s --export",
        None,
    );
    assert_output(
        &run,
        "---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 10m0s
  layerSelector:
    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip
    operation: extract
  provider: generic
  ref:
    tag: 6.3.5
  timeout: 30s
  url: oci://ghcr.io/stefanprodan/manifests/podinfo
",
    );
    assert_error(
        &gitops("create source oci podinfo --url=oci://x/y --export", None),
        "--tag, --tag-semver or --digest is required",
    );
    assert_error(
        &gitops(
            "create source oci podinfo --url=oci://x/y --tag=1 --layer-selector=a:b --export",
            None,
        ),
        "invalid --layer-selector \"a:b\": operation must be \"extract\" or \"copy\"",
    );
    assert_error(
        &gitops(
            "create source oci podinfo --url=oci://x/y --tag=1 --verify-secret-ref=k --export",
            None,
        ),
        "a verification provider must be specified when a secret is specified",
    );
    let run = gitops(
        "create source bucket podinfo --bucket-name=podinfo --endpoint=minio.minio.svc.cluster.local:9000 --insecure=true --ignore-paths=a,b --label=app=podinfo --export",
        None,
    );
    assert_output(
        &run,
        "---
apiVersion: source.toolkit.fluxcd.io/v1
kind: Bucket
metadata:
  labels:
    app: podinfo
  name: podinfo
  namespace: flux-system
spec:
  bucketName: podinfo
  endpoint: minio.minio.svc.cluster.local:9000
  ignore: |-
    a
    b
  insecure: true
  interval: 1m0s
  provider: generic
",
    );
    assert_error(
        &gitops("create source bucket podinfo --export", None),
        "bucket-name is required",
    );
}

/// Plays the source-controller: once the GitRepository exists, writes `status`.
fn reconciler(env: &Env, ns: &str, status: serde_json::Value) -> tokio::task::JoinHandle<()> {
    let client = env.cluster.client.clone();
    let ns = ns.to_owned();
    tokio::spawn(async move {
        let api: kube::Api<gitops_api::GitRepository> = kube::Api::namespaced(client, &ns);
        loop {
            if let Ok(Some(repo)) = api.get_opt("podinfo").await {
                let generation = repo.metadata.generation.unwrap_or(1);
                let mut status = status.clone();
                status["observedGeneration"] = json!(generation);
                for c in status["conditions"].as_array_mut().into_iter().flatten() {
                    c["observedGeneration"] = json!(generation);
                }
                api.patch_status(
                    "podinfo",
                    &kube::api::PatchParams::default(),
                    &kube::api::Patch::Merge(&json!({ "status": status })),
                )
                .await
                .expect("status written");
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> serde_json::Value {
    json!({
        "type": type_, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z"
    })
}

#[tokio::test]
async fn git_apply_and_wait() {
    let env = Env::start().await;
    let command = "create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master --timeout=30s";

    let run = env.run("create source git").await;
    assert_error(&run, "name is required");

    // Succeeded: Ready with an artifact.
    let ns = allocate_namespace("podinfo");
    env.namespace(&ns).await;
    let r = reconciler(
        &env,
        &ns,
        json!({
            "conditions": [condition("Ready", "True", "Succeeded", "succeeded message")],
            "artifact": {
                "path": "some-path", "url": "http://x/some-path", "revision": "v1",
                "digest": "sha256:1234567890abcdef",
                "lastUpdateTime": "2026-01-01T00:00:00Z"
            }
        }),
    );
    let run = env.run(&format!("{command} -n={ns}")).await;
    assert_output(&run, &golden("create_source_git/success.golden", &[]));
    r.await.unwrap();
    let live = env
        .get(
            &json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                      "metadata": {"name": "podinfo", "namespace": ns}}),
        )
        .await
        .expect("created");
    assert_eq!(live["spec"]["ref"]["branch"], "master");
    assert_eq!(live["spec"]["interval"], "1m0s");

    // Running it again updates the object.
    let run = env.run(&format!("{command} -n={ns}")).await;
    assert!(
        run.output.contains("✔ GitRepository source updated\n"),
        "{}",
        run.output
    );

    // Failed: Stalled with a message.
    let ns = allocate_namespace("podinfo");
    env.namespace(&ns).await;
    let r = reconciler(
        &env,
        &ns,
        json!({"conditions": [
            condition("Stalled", "True", "URLInvalid", "failed message"),
            condition("Ready", "False", "URLInvalid", "failed message"),
        ]}),
    );
    let run = env.run(&format!("{command} -n={ns}")).await;
    assert_error(&run, "failed message");
    r.await.unwrap();

    // Ready without an artifact.
    let ns = allocate_namespace("podinfo");
    env.namespace(&ns).await;
    let r = reconciler(
        &env,
        &ns,
        json!({"conditions": [condition("Ready", "True", "Succeeded", "succeeded message")]}),
    );
    let run = env.run(&format!("{command} -n={ns}")).await;
    assert_error(
        &run,
        "GitRepository source reconciliation completed but no artifact was found",
    );
    r.await.unwrap();

    // Nobody reconciles: the timeout ends the wait.
    let ns = allocate_namespace("podinfo");
    env.namespace(&ns).await;
    let run = env
        .run(&format!(
            "create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master --timeout=1s -n={ns}"
        ))
        .await;
    assert_error(&run, "context deadline exceeded");
}
