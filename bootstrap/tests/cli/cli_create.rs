//! `gitops create kustomization|helmrelease|image …|alert-provider|alert|receiver`: Flux's
//! `create_kustomization_test.go`, `create_helmrelease_test.go` and
//! `create_image_update_test.go` cases (arguments, golden output, error texts); the create
//! steps of Flux's e2e tests (`kustomization_test.go`, `helmrelease_test.go`,
//! `image_test.go`) with the test playing the controllers against the embedded API server;
//! and our own cases for the flags and checks those tests leave out.

use crate::common;

use common::{Env, allocate_namespace, assert_error, assert_output, gitops, golden};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Playing the controllers.

/// The dynamic API of a Flux kind in `ns`.
fn flux_api(env: &Env, kind: &str, ns: &str) -> Api<DynamicObject> {
    let info = gitops_api::KINDS
        .iter()
        .find(|k| k.kind == kind)
        .unwrap_or_else(|| panic!("a Flux kind {kind}"));
    let ar = ApiResource {
        group: info.group.to_owned(),
        version: info.version.to_owned(),
        api_version: format!("{}/{}", info.group, info.version),
        kind: info.kind.to_owned(),
        plural: info.plural.to_owned(),
    };
    Api::namespaced_with(env.cluster.client.clone(), ns, &ar)
}

/// Plays a controller: once `kind/name` exists in `ns`, writes `status` with the object's
/// generation as `observedGeneration` (of the status and of each condition).
fn reconciler(
    env: &Env,
    kind: &str,
    ns: &str,
    name: &str,
    status: Value,
) -> tokio::task::JoinHandle<()> {
    let api = flux_api(env, kind, ns);
    let name = name.to_owned();
    tokio::spawn(async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(obj)) = api.get_opt(&name).await {
                let generation = obj.metadata.generation.unwrap_or(1);
                let mut status = status.clone();
                status["observedGeneration"] = json!(generation);
                for c in status["conditions"].as_array_mut().into_iter().flatten() {
                    c["observedGeneration"] = json!(generation);
                }
                api.patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({ "status": status })),
                )
                .await
                .expect("status written");
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{name} never created");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({
        "type": type_, "status": status, "reason": reason, "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z"
    })
}

fn ready() -> Value {
    json!({"conditions": [condition("Ready", "True", "Succeeded", "succeeded")]})
}

async fn live(env: &Env, kind: &str, ns: &str, name: &str) -> Value {
    let obj = flux_api(env, kind, ns)
        .get(name)
        .await
        .expect("object exists");
    serde_json::to_value(obj).expect("JSON")
}

// ---------------------------------------------------------------------------------------
// create kustomization

/// Flux's `TestCreateKustomization`.
#[test]
fn kustomization_flux_cases() {
    assert_error(
        &gitops("create kustomization my-app --path=./deploy --export", None),
        "source is required",
    );
}

const KS_FULL: &str = "create kustomization podinfo --source=OCIRepository/podinfo.flux-system --path=./kustomize --prune=true --interval=5m --depends-on=infra,apps/db --health-check=Deployment/podinfo.default --health-check=HelmRelease/redis.cache --health-check-timeout=3m --target-namespace=default --decryption-provider=sops --decryption-secret=sops-gpg --service-account=reconciler --kubeconfig-secret-ref=remote --retry-interval=30s --label=env=dev -n apps --export";

#[test]
fn kustomization_export() {
    assert_output(
        &gitops("create ks podinfo --source=podinfo --export", None),
        "---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 1m0s
  path: ./
  prune: false
  sourceRef:
    kind: GitRepository
    name: podinfo
",
    );
    assert_output(
        &gitops(KS_FULL, None),
        "---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  labels:
    env: dev
  name: podinfo
  namespace: apps
spec:
  decryption:
    provider: sops
    secretRef:
      name: sops-gpg
  dependsOn:
  - name: infra
  - name: db
    namespace: apps
  healthChecks:
  - kind: Deployment
    name: podinfo
    namespace: default
  - apiVersion: helm.toolkit.fluxcd.io/v2
    kind: HelmRelease
    name: redis
    namespace: cache
  interval: 5m0s
  kubeConfig:
    secretRef:
      name: remote
  path: ./kustomize
  prune: true
  retryInterval: 30s
  serviceAccountName: reconciler
  sourceRef:
    kind: OCIRepository
    name: podinfo
    namespace: flux-system
  targetNamespace: default
  timeout: 3m0s
",
    );
    // --wait replaces the health checks; the path is made safe and relative.
    assert_output(
        &gitops(
            "create kustomization podinfo --source=Bucket/podinfo --path=../../deploy/./x/ --wait --health-check=Deployment/a.b --validation=client --export",
            None,
        ),
        "Flag --validation has been deprecated, this arg is no longer used, all resources are validated using server-side apply dry-run
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 1m0s
  path: ./deploy/x
  prune: false
  sourceRef:
    kind: Bucket
    name: podinfo
  timeout: 2m0s
  wait: true
",
    );
}

#[test]
fn kustomization_errors() {
    let cases = [
        (
            "create kustomization --source=podinfo --export",
            "name is required",
        ),
        (
            "create kustomization My_App --source=podinfo --export",
            "name 'My_App' is invalid, it should adhere to standard defined in RFC 1123, the name can only contain alphanumeric characters or '-'",
        ),
        (
            "create kustomization podinfo --source=HelmChart/podinfo --export",
            "invalid argument \"HelmChart/podinfo\" for \"--source\" flag: source kind 'HelmChart' is not supported, must be one of: OCIRepository, GitRepository, Bucket",
        ),
        (
            "create kustomization podinfo --source=GitRepository --export",
            "invalid argument \"GitRepository\" for \"--source\" flag: no kind specified for source 'GitRepository'",
        ),
        (
            "create kustomization podinfo --source=\"\" --export",
            "invalid argument \"\" for \"--source\" flag: no Kustomization source given, please specify source that contains the Kubernetes manifests in the format '[<kind>/]<name>.<namespace>', where kind must be one of: (OCIRepository, GitRepository, Bucket), if kind is not specified it defaults to GitRepository",
        ),
        (
            "create kustomization podinfo --source=podinfo --decryption-provider=vault --export",
            "invalid argument \"vault\" for \"--decryption-provider\" flag: unsupported decryption provider 'vault', must be one of: sops",
        ),
        (
            "create kustomization podinfo --source=podinfo --health-check-timeout=soon --export",
            "invalid argument \"soon\" for \"--health-check-timeout\" flag: time: invalid duration \"soon\"",
        ),
        (
            "create kustomization podinfo --source=podinfo --health-check=Deployment --export",
            "invalid health check 'Deployment' must be in the format 'kind/name.namespace' [Deployment]",
        ),
        (
            "create kustomization podinfo --source=podinfo --health-check=Service/web.default --export",
            "invalid health check kind 'Service' can be HelmRelease, Deployment, DaemonSet or StatefulSet",
        ),
        (
            "create kustomization podinfo --source=podinfo --health-check=Deployment/web --export",
            "invalid health check 'Deployment/web' must be in the format 'kind/name.namespace'",
        ),
        (
            "create kustomization podinfo --source=podinfo --label=a=b=c --export",
            "invalid label format 'a=b=c', must be key=value",
        ),
    ];
    for (args, msg) in cases {
        assert_error(&gitops(args, None), msg);
    }
}

/// The create step of Flux's `TestKustomizationFromGit`, then a Stalled Kustomization.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kustomization_apply_and_wait() {
    let env = Env::start().await;
    let ns = allocate_namespace("tkfg");
    env.namespace(&ns).await;
    let revision = "6.3.5@sha1:67e2c98a60dc92283531412a9e604dd4bae005a9";
    let mut status = ready();
    status["lastAppliedRevision"] = json!(revision);
    let r = reconciler(&env, "Kustomization", &ns, "tkfg", status);
    let run = env
        .run(&format!(
            "create kustomization tkfg --source=tkfg --path=./deploy/overlays/dev --prune=true --interval=5m --health-check=Deployment/frontend.dev --health-check=Deployment/backend.dev --health-check-timeout=3m -n={ns}"
        ))
        .await;
    assert_output(
        &run,
        &golden("kustomization/create_kustomization_from_git.golden", &[]),
    );
    r.await.unwrap();
    let obj = live(&env, "Kustomization", &ns, "tkfg").await;
    assert_eq!(
        obj["spec"],
        json!({
            "interval": "5m0s",
            "path": "./deploy/overlays/dev",
            "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "tkfg"},
            "healthChecks": [
                {"kind": "Deployment", "name": "frontend", "namespace": "dev"},
                {"kind": "Deployment", "name": "backend", "namespace": "dev"},
            ],
            "timeout": "3m0s",
            // The CRD's default.
            "force": false,
        })
    );

    // Again, with other flags: the spec is replaced, the status kept, the wait starts over
    // at the new generation.
    let mut status = ready();
    status["lastAppliedRevision"] = json!("main@sha1:1234");
    let api = flux_api(&env, "Kustomization", &ns);
    let waiter = {
        let api = api.clone();
        tokio::spawn(async move {
            loop {
                let obj = api.get("tkfg").await.unwrap();
                if obj.metadata.generation == Some(2) {
                    let mut status = status.clone();
                    status["observedGeneration"] = json!(2);
                    status["conditions"][0]["observedGeneration"] = json!(2);
                    api.patch_status(
                        "tkfg",
                        &PatchParams::default(),
                        &Patch::Merge(&json!({ "status": status })),
                    )
                    .await
                    .unwrap();
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let run = env
        .run(&format!(
            "create ks tkfg --source=GitRepository/tkfg --path=./deploy --wait -n={ns}"
        ))
        .await;
    assert_output(
        &run,
        "✚ generating Kustomization
► applying Kustomization
✔ Kustomization updated
◎ waiting for Kustomization reconciliation
✔ Kustomization tkfg is ready
✔ applied revision main@sha1:1234
",
    );
    waiter.await.unwrap();
    let obj = live(&env, "Kustomization", &ns, "tkfg").await;
    assert_eq!(obj["spec"]["wait"], true);
    assert!(obj["spec"].get("healthChecks").is_none());

    // Stalled: the command fails with the condition's message.
    let ns = allocate_namespace("tkfg");
    env.namespace(&ns).await;
    let r = reconciler(
        &env,
        "Kustomization",
        &ns,
        "broken",
        json!({"conditions": [
            condition("Stalled", "True", "BuildFailed", "kustomization path not found"),
            condition("Ready", "False", "BuildFailed", "kustomization path not found"),
        ]}),
    );
    let run = env
        .run(&format!(
            "create kustomization broken --source=podinfo --path=./nowhere -n={ns}"
        ))
        .await;
    assert_error(&run, "kustomization path not found");
    assert!(
        run.output.starts_with(
            "✚ generating Kustomization
► applying Kustomization
✔ Kustomization created
◎ waiting for Kustomization reconciliation
"
        ),
        "{}",
        run.output
    );
    r.await.unwrap();

    // Nobody reconciles: the timeout ends the wait.
    let run = env
        .run(&format!(
            "create kustomization idle --source=podinfo --timeout=1s -n={ns}"
        ))
        .await;
    assert_error(&run, "context deadline exceeded");
}

// ---------------------------------------------------------------------------------------
// create helmrelease

/// Flux's `TestCreateHelmRelease`, with its sources in the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helmrelease_flux_cases() {
    let env = Env::start().await;
    let fluxns = allocate_namespace("flux-system");
    env.namespace("flux-system").await;
    let tmpl = [("fluxns", fluxns.as_str())];
    env.create_file("create_hr/setup-source.yaml", &tmpl).await;

    let goldens = [
        (
            "create helmrelease podinfo --source Helmrepository/podinfo --chart podinfo --interval=1m0s --export",
            "create_hr/basic.yaml",
        ),
        (
            "create helmrelease podinfo --chart-ref OCIRepository/podinfo --interval=1m0s --export",
            "create_hr/or_basic.yaml",
        ),
        (
            "create helmrelease podinfo --chart-ref HelmChart/podinfo --interval=1m0s --export",
            "create_hr/hc_basic.yaml",
        ),
    ];
    for (args, file) in goldens {
        let run = env.run(&format!("{args} -n {fluxns}")).await;
        assert_output(&run, &golden(file, &tmpl));
    }
    let errors = [
        ("create helmrelease --export", "name is required"),
        (
            "create helmrelease podinfo --export",
            "chart or chart-ref is required",
        ),
        (
            "create helmrelease podinfo --chart podinfo --chart-ref foobar/podinfo --export",
            "cannot use --chart in combination with --chart-ref",
        ),
        (
            "create helmrelease podinfo --source foobar/podinfo --chart podinfo --export",
            "invalid argument \"foobar/podinfo\" for \"--source\" flag: source kind 'foobar' is not supported, must be one of: HelmRepository, GitRepository, Bucket",
        ),
        (
            "create helmrelease podinfo --chart-ref foobar/podinfo --export",
            "chart reference kind 'foobar' is not supported, must be one of: OCIRepository, HelmChart",
        ),
    ];
    for (args, msg) in errors {
        let run = env.run(&format!("{args} -n {fluxns}")).await;
        assert_error(&run, msg);
    }
}

#[test]
fn helmrelease_export() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("values1.yaml");
    let two = dir.path().join("values2.yaml");
    std::fs::write(
        &one,
        "replicaCount: 2\nimage:\n  tag: \"1.0\"\n  pullPolicy: IfNotPresent\nresources:\n  limits:\n    cpu: 100m\nratio: 1.0\n",
    )
    .unwrap();
    std::fs::write(
        &two,
        "image:\n  tag: \"2.0\"\nresources: null\nlist: [1, 2]\n",
    )
    .unwrap();
    let run = gitops(
        &format!(
            "create hr podinfo --source=HelmRepository/podinfo.flux-system --chart=podinfo --chart-version=\">4.0.0\" --release-name=podinfo-dev --target-namespace=test --create-target-namespace --depends-on=cert-manager --service-account=helm --reconcile-strategy=Revision --chart-interval=10m --crds=CreateReplace --kubeconfig-secret-ref=remote --values={} --values={} --values-from=secret/my-values,ConfigMap/more -n apps --export",
            one.display(),
            two.display()
        ),
        None,
    );
    assert_output(
        &run,
        "---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: apps
spec:
  chart:
    spec:
      chart: podinfo
      interval: 10m0s
      reconcileStrategy: Revision
      sourceRef:
        kind: HelmRepository
        name: podinfo
        namespace: flux-system
      version: '>4.0.0'
  dependsOn:
  - name: cert-manager
  install:
    crds: Create
    createNamespace: true
  interval: 1m0s
  kubeConfig:
    secretRef:
      name: remote
  releaseName: podinfo-dev
  serviceAccountName: helm
  storageNamespace: test
  targetNamespace: test
  upgrade:
    crds: CreateReplace
  values:
    image:
      pullPolicy: IfNotPresent
      tag: \"2.0\"
    list:
    - 1
    - 2
    ratio: 1
    replicaCount: 2
    resources: null
  valuesFrom:
  - kind: Secret
    name: my-values
  - kind: ConfigMap
    name: more
",
    );
    // A chart without a source keeps the empty reference Flux writes; an explicit storage
    // namespace wins over the target namespace; empty values files give empty values.
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    let run = gitops(
        &format!(
            "create hr podinfo --chart=podinfo --target-namespace=test --storage-namespace=store --values={} --export",
            empty.display()
        ),
        None,
    );
    assert_output(
        &run,
        "---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: flux-system
spec:
  chart:
    spec:
      chart: podinfo
      reconcileStrategy: ChartVersion
      sourceRef:
        name: \"\"
  interval: 1m0s
  storageNamespace: store
  targetNamespace: test
  values: {}
",
    );
}

#[test]
fn helmrelease_errors() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.yaml");
    std::fs::write(&list, "- a\n- b\n").unwrap();
    let missing = dir.path().join("missing.yaml");
    let cases = [
        (
            "create hr podinfo --chart=podinfo --reconcile-strategy=Latest --export".to_owned(),
            "'Latest' is an invalid reconcile strategy(valid: Revision, ChartVersion)".to_owned(),
        ),
        (
            "create hr podinfo --chart=podinfo --crds=Always --export".to_owned(),
            "invalid argument \"Always\" for \"--crds\" flag: unsupported upgrade CRDs policy 'Always', must be one of: Skip, Create, CreateReplace".to_owned(),
        ),
        (
            "create hr podinfo --chart=podinfo --values-from=my-values --export".to_owned(),
            "invalid Kubernetes object reference 'my-values', must be in format <kind>/<name>"
                .to_owned(),
        ),
        (
            "create hr podinfo --chart=podinfo --values-from=Deployment/x --export".to_owned(),
            "reference kind 'Deployment' is not supported, must be one of: Secret, ConfigMap"
                .to_owned(),
        ),
        (
            format!(
                "create hr podinfo --chart=podinfo --values={} --export",
                missing.display()
            ),
            format!(
                "reading values from {0} failed: open {0}: no such file or directory",
                missing.display()
            ),
        ),
        (
            format!(
                "create hr podinfo --chart=podinfo --values={} --export",
                list.display()
            ),
            format!(
                "unmarshaling values from {} failed: json: cannot unmarshal array into Go value of type map[string]interface {{}}",
                list.display()
            ),
        ),
    ];
    for (args, msg) in cases {
        assert_error(&gitops(&args, None), &msg);
    }
}

/// The create step of Flux's `TestHelmReleaseFromGit`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helmrelease_apply_and_wait() {
    let env = Env::start().await;
    let ns = allocate_namespace("thrfg");
    env.namespace(&ns).await;
    let mut status = ready();
    status["lastAttemptedRevision"] = json!("6.3.5");
    status["history"] = json!([{
        "name": "thrfg", "namespace": ns, "version": 1, "status": "deployed",
        "chartName": "podinfo", "chartVersion": "6.3.5",
        "configDigest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "firstDeployed": "2026-01-01T00:00:00Z", "lastDeployed": "2026-01-01T00:00:00Z"
    }]);
    let r = reconciler(&env, "HelmRelease", &ns, "thrfg", status);
    let run = env
        .run(&format!(
            "create helmrelease thrfg --source=GitRepository/thrfg --chart=./charts/podinfo -n={ns}"
        ))
        .await;
    assert_output(
        &run,
        &golden("helmrelease/create_helmrelease_from_git.golden", &[]),
    );
    r.await.unwrap();
    let obj = live(&env, "HelmRelease", &ns, "thrfg").await;
    assert_eq!(
        obj["spec"]["chart"]["spec"],
        json!({
            "chart": "./charts/podinfo",
            "reconcileStrategy": "ChartVersion",
            "sourceRef": {"kind": "GitRepository", "name": "thrfg"},
            // The CRD's default.
            "version": "*",
        })
    );
    assert_eq!(obj["spec"]["interval"], "1m0s");

    // Without a history, the last attempted revision is reported.
    let mut status = ready();
    status["lastAttemptedRevision"] = json!("1.2.3");
    let r = reconciler(&env, "HelmRelease", &ns, "other", status);
    let run = env
        .run(&format!(
            "create hr other --chart-ref=OCIRepository/podinfo -n={ns}"
        ))
        .await;
    assert_output(
        &run,
        "✚ generating HelmRelease
► applying HelmRelease
✔ HelmRelease created
◎ waiting for HelmRelease reconciliation
✔ HelmRelease other is ready
✔ applied revision 1.2.3
",
    );
    r.await.unwrap();

    // Stalled: the command fails with the condition's message.
    let r = reconciler(
        &env,
        "HelmRelease",
        &ns,
        "broken",
        json!({"conditions": [
            condition("Stalled", "True", "InstallFailed", "install retries exhausted"),
            condition("Ready", "False", "InstallFailed", "install retries exhausted"),
        ]}),
    );
    let run = env
        .run(&format!(
            "create hr broken --source=HelmRepository/podinfo --chart=podinfo -n={ns}"
        ))
        .await;
    assert_error(&run, "install retries exhausted");
    r.await.unwrap();
}

// ---------------------------------------------------------------------------------------
// create image …

/// Flux's `TestCreateImageUpdate`.
#[test]
fn image_update_flux_cases() {
    let base = "create image update flux-system --git-repo-ref=flux-system --checkout-branch=main --author-name=flux --author-email=flux@example.com";
    let goldens = [
        (
            format!("{base} --interval=1m0s --namespace=flux-system --export"),
            "create_image_update/no-signing.yaml",
        ),
        (
            format!(
                "{base} --signing-key-secret=my-key --interval=1m0s --namespace=flux-system --export"
            ),
            "create_image_update/signing-default-gpg.yaml",
        ),
        (
            format!(
                "{base} --signing-key-secret=my-deploy-key --signing-key-type=ssh --interval=1m0s --namespace=flux-system --export"
            ),
            "create_image_update/signing-ssh.yaml",
        ),
    ];
    for (args, file) in goldens {
        assert_output(&gitops(&args, None), &golden(file, &[]));
    }
    let errors = [
        (
            format!("{base} --signing-key-type=ssh --namespace=flux-system --export"),
            "--signing-key-type requires --signing-key-secret",
        ),
        (
            format!(
                "{base} --signing-key-secret=k --signing-key-type=pgp --namespace=flux-system --export"
            ),
            "--signing-key-type must be one of: gpg, ssh",
        ),
    ];
    for (args, msg) in errors {
        assert_error(&gitops(&args, None), msg);
    }
}

#[test]
fn image_update_export_and_errors() {
    assert_output(
        &gitops(
            "create image update apps -n apps --git-repo-ref=flux-system --git-repo-namespace=flux-system --git-repo-path=./clusters/my-cluster --checkout-branch=main --push-branch=image-updates --author-name=flux --author-email=flux@example.com --commit-template=\"{{range .Updated.Images}}{{println .}}{{end}}\" --export",
            None,
        ),
        "---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: apps
  namespace: apps
spec:
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        email: flux@example.com
        name: flux
      messageTemplate: '{{range .Updated.Images}}{{println .}}{{end}}'
    push:
      branch: image-updates
  interval: 1m0s
  sourceRef:
    kind: GitRepository
    name: flux-system
    namespace: flux-system
  update:
    path: ./clusters/my-cluster
    strategy: Setters
",
    );
    let cases = [
        (
            "create image update xx --export",
            "a reference to a GitRepository is required (--git-repo-ref)",
        ),
        (
            "create image update xx --git-repo-ref=r --export",
            "the Git repository branch is required (--checkout-branch)",
        ),
        (
            "create image update xx --git-repo-ref=r --checkout-branch=main --export",
            "the author name is required (--author-name)",
        ),
        (
            "create image update xx --git-repo-ref=r --checkout-branch=main --author-name=a --export",
            "the author email is required (--author-email)",
        ),
    ];
    for (args, msg) in cases {
        assert_error(&gitops(args, None), msg);
    }
}

#[test]
fn image_repository_and_policy_export() {
    assert_output(
        &gitops(
            "create image repository podinfo --image=ghcr.io/stefanprodan/podinfo --interval=10m --secret-ref=regcred --cert-ref=tls --scan-timeout=1m --export",
            None,
        ),
        "---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  certSecretRef:
    name: tls
  image: ghcr.io/stefanprodan/podinfo
  interval: 10m0s
  secretRef:
    name: regcred
  timeout: 1m0s
",
    );
    assert_output(
        &gitops(
            "create image policy podinfo --image-ref=podinfo --select-numeric=asc --filter-regex='^main-[a-f0-9]+-(?P<ts>[0-9]+)' --filter-extract='$ts' --reflect-digest=Always --interval=10m --export",
            None,
        ),
        "---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: flux-system
spec:
  digestReflectionPolicy: Always
  filterTags:
    extract: $ts
    pattern: ^main-[a-f0-9]+-(?P<ts>[0-9]+)
  imageRepositoryRef:
    name: podinfo
  interval: 10m0s
  policy:
    numerical:
      order: asc
",
    );
    // The create command's --interval is not the policy's: only an explicit one counts.
    assert_output(
        &gitops(
            "create image policy podinfo --image-ref=podinfo --select-semver=\">4.0.0\" --filter-regex=\"5\\.0\\.0\" --export",
            None,
        ),
        "---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: flux-system
spec:
  filterTags:
    extract: \"\"
    pattern: 5\\.0\\.0
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: '>4.0.0'
",
    );
    // Flux's switch: --select-semver with --select-alpha selects nothing, without error.
    assert_output(
        &gitops(
            "create image policy podinfo --image-ref=podinfo --select-semver=1.x --select-alpha=asc --export",
            None,
        ),
        "---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: podinfo
  policy: {}
",
    );
}

#[test]
fn image_repository_and_policy_errors() {
    let cases = [
        (
            "create image repository podinfo --export",
            "an image repository (--image) is required",
        ),
        (
            "create image repository podinfo --image=ghcr.io/StefanProdan/podinfo --export",
            "unable to parse image value: repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: StefanProdan/podinfo",
        ),
        (
            "create image policy podinfo --select-semver=1.x --export",
            "the name of an ImageRepository in the namespace is required (--image-ref)",
        ),
        (
            "create image policy podinfo --image-ref=podinfo --export",
            "a policy must be provided with either --select-semver or --select-alpha",
        ),
        (
            "create image policy podinfo --image-ref=podinfo --select-alpha=asc --select-numeric=asc --export",
            "only one of --select-semver, --select-alpha or --select-numeric can be specified",
        ),
        (
            "create image policy podinfo --image-ref=podinfo --select-alpha=up --export",
            "--select-alpha must be one of [\"asc\", \"desc\"]",
        ),
        (
            "create image policy podinfo --image-ref=podinfo --select-numeric=up --export",
            "--select-numeric must be one of [\"asc\", \"desc\"]",
        ),
        (
            "create image policy podinfo --image-ref=podinfo --select-semver=1.x --filter-regex='(' --export",
            "--filter-regex is an invalid regex pattern",
        ),
        (
            "create image policy podinfo --image-ref=podinfo --select-semver=1.x --filter-extract='$ts' --export",
            "cannot specify --filter-extract without specifying --filter-regex",
        ),
        (
            "create image policy podinfo --image-ref=podinfo --select-semver=1.x --filter-regex='(?P<ts>.*)' --filter-extract='$build' --export",
            "capture group $build used in --filter-extract not found in --filter-regex",
        ),
        (
            "create image policy podinfo --image-ref=podinfo --select-semver=1.x --reflect-digest=Sometimes --export",
            "invalid value for --reflect-digest, must be one of 'Never', 'IfNotPresent', 'Always'",
        ),
        (
            "create image policy podinfo --image-ref=podinfo --select-semver=1.x --interval=10m --export",
            "the --interval flag can only be used with the 'Always' digest reflection policy, use --reflect-digest=Always",
        ),
    ];
    for (args, msg) in cases {
        assert_error(&gitops(args, None), msg);
    }
}

/// The create steps of Flux's `TestImageScanning`, and an update that changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_apply_and_wait() {
    let env = Env::start().await;
    let ns = allocate_namespace("tis");
    env.namespace(&ns).await;

    let r = reconciler(&env, "ImageRepository", &ns, "podinfo", ready());
    let run = env
        .run(&format!(
            "create image repository podinfo --image=ghcr.io/stefanprodan/podinfo --interval=10m -n={ns}"
        ))
        .await;
    assert_output(&run, &golden("image/create_image_repository.golden", &[]));
    r.await.unwrap();

    let r = reconciler(&env, "ImagePolicy", &ns, "podinfo-semver", ready());
    let run = env
        .run(&format!(
            "create image policy podinfo-semver --image-ref=podinfo --interval=10m --reflect-digest=Always --select-semver=5.0.x -n={ns}"
        ))
        .await;
    assert_output(&run, &golden("image/create_image_policy.golden", &[]));
    r.await.unwrap();
    let obj = live(&env, "ImagePolicy", &ns, "podinfo-semver").await;
    assert_eq!(obj["spec"]["interval"], "10m0s");
    assert_eq!(obj["spec"]["policy"]["semver"]["range"], "5.0.x");

    let r = reconciler(&env, "ImagePolicy", &ns, "podinfo-regex", ready());
    let run = env
        .run(&format!(
            "create image policy podinfo-regex --image-ref=podinfo --select-semver=\">4.0.0\" --filter-regex=\"5\\.0\\.0\" -n={ns}"
        ))
        .await;
    assert_output(&run, &golden("image/create_image_policy.golden", &[]));
    r.await.unwrap();

    // The same policy again: the server defaulted `digestReflectionPolicy`, so the spec
    // differs from the live one and is updated, as with Flux.
    let regex = format!(
        "create image policy podinfo-regex --image-ref=podinfo --select-semver=\">4.0.0\" --filter-regex=\"5\\.0\\.0\" -n={ns}"
    );
    let run = env.run(&regex).await;
    assert!(
        run.output.contains("✔ ImagePolicy updated\n"),
        "{}",
        run.output
    );
    // With the default spelled out, nothing changes: no create or update line.
    let run = env.run(&format!("{regex} --reflect-digest=Never")).await;
    assert_output(
        &run,
        "✚ generating ImagePolicy
► applying ImagePolicy
◎ waiting for ImagePolicy reconciliation
✔ ImagePolicy reconciliation completed
",
    );

    let r = reconciler(&env, "ImageUpdateAutomation", &ns, "flux-system", ready());
    let run = env
        .run(&format!(
            "create image update flux-system --git-repo-ref=flux-system --checkout-branch=main --author-name=flux --author-email=flux@example.com -n={ns}"
        ))
        .await;
    assert_output(
        &run,
        "✚ generating ImageUpdateAutomation
► applying ImageUpdateAutomation
✔ ImageUpdateAutomation created
◎ waiting for ImageUpdateAutomation reconciliation
✔ ImageUpdateAutomation reconciliation completed
",
    );
    r.await.unwrap();
}

// ---------------------------------------------------------------------------------------
// create alert-provider, alert, receiver

#[test]
fn notification_export() {
    assert_output(
        &gitops(
            "create alert-provider slack --type slack --channel general --address https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK --secret-ref webhook-url --export",
            None,
        ),
        "---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: slack
  namespace: flux-system
spec:
  address: https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK
  channel: general
  secretRef:
    name: webhook-url
  type: slack
",
    );
    assert_output(
        &gitops(
            "create alert flux-system --event-severity info --event-source Kustomization/flux-system,GitRepository/podinfo.apps --provider-ref slack --label=team=ops --export",
            None,
        ),
        "---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  labels:
    team: ops
  name: flux-system
  namespace: flux-system
spec:
  eventSeverity: info
  eventSources:
  - kind: Kustomization
    name: flux-system
  - kind: GitRepository
    name: podinfo
    namespace: apps
  providerRef:
    name: slack
",
    );
    assert_output(
        &gitops(
            "create receiver github-receiver --type github --event ping --event push --secret-ref webhook-token --resource GitRepository/webapp --resource HelmRepository/webapp --export",
            None,
        ),
        "---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: github-receiver
  namespace: flux-system
spec:
  events:
  - ping
  - push
  resources:
  - kind: GitRepository
    name: webapp
  - kind: HelmRepository
    name: webapp
  secretRef:
    name: webhook-token
  type: github
",
    );
}

#[test]
fn notification_errors() {
    let cases = [
        (
            "create alert-provider slack --export",
            "Provider type is required",
        ),
        (
            "create alert-provider --type slack --export",
            "name is required",
        ),
        (
            "create alert flux-system --event-source Kustomization/x --export",
            "provider ref is required",
        ),
        (
            "create alert flux-system --provider-ref slack --export",
            "at least one event source is required",
        ),
        (
            "create alert flux-system --provider-ref slack --event-source podinfo --export",
            "invalid event source 'podinfo', must be in format <kind>/<name>",
        ),
        (
            "create receiver rx --secret-ref t --resource GitRepository/x --export",
            "Receiver type is required",
        ),
        (
            "create receiver rx --type github --resource GitRepository/x --export",
            "secret ref is required",
        ),
        (
            "create receiver rx --type github --secret-ref t --export",
            "atleast one resource is required",
        ),
        (
            "create receiver rx --type github --secret-ref t --resource x --export",
            "invalid event source 'x', must be in format <kind>/<name>",
        ),
        (
            "create receiver rx --type jenkins --secret-ref t --resource GitRepository/x --export",
            "invalid argument \"jenkins\" for \"--type\" flag: receiver type 'jenkins' is not supported, must be one of: generic, generic-hmac, github, gitlab, bitbucket, harbor, dockerhub, quay, gcr, nexus, acr, cdevents",
        ),
    ];
    for (args, msg) in cases {
        assert_error(&gitops(args, None), msg);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_apply_and_wait() {
    let env = Env::start().await;
    let ns = allocate_namespace("notify");
    env.namespace(&ns).await;

    // Providers and Alerts have no status: ready as soon as they exist.
    let run = env
        .run(&format!(
            "create alert-provider slack --type slack --channel general --label=team=ops -n {ns}"
        ))
        .await;
    assert_output(
        &run,
        "✚ generating Provider
► applying Provider
✔ Provider created
◎ waiting for Provider reconciliation
✔ Provider slack is ready
",
    );
    let run = env
        .run(&format!(
            "create alert-provider slack --type slack --channel ops -n {ns}"
        ))
        .await;
    assert!(
        run.output.contains("✔ Provider updated\n"),
        "{}",
        run.output
    );
    let provider = live(&env, "Provider", &ns, "slack").await;
    assert_eq!(provider["spec"]["channel"], "ops");
    // As with Flux, the labels are the command's: none given, none left.
    assert!(
        provider["metadata"]["labels"]
            .as_object()
            .is_none_or(|l| l.is_empty()),
        "{provider}"
    );
    let run = env
        .run(&format!(
            "create alert all --provider-ref slack --event-source Kustomization/* -n {ns}"
        ))
        .await;
    assert_output(
        &run,
        "✚ generating Alert
► applying Alert
✔ Alert created
◎ waiting for Alert reconciliation
✔ Alert all is ready
",
    );

    // Receivers wait for the controller, then show their webhook path.
    let mut status = ready();
    status["webhookPath"] = json!("/hook/0123456789abcdef");
    let r = reconciler(&env, "Receiver", &ns, "github", status);
    let run = env
        .run(&format!(
            "create receiver github --type github --event ping --secret-ref token --resource GitRepository/webapp -n {ns}"
        ))
        .await;
    assert_output(
        &run,
        "✚ generating Receiver
► applying Receiver
✔ Receiver created
◎ waiting for Receiver reconciliation
✔ Receiver github is ready
✔ generated webhook URL /hook/0123456789abcdef
",
    );
    r.await.unwrap();
}
