//! `gitops install --export`: the output is a valid, complete, deterministic installation.
//! `gitops install`: the installation applied to the embedded API server, waited for, and
//! applied again without changes.

use crate::common;

use serde_json::Value;
use std::process::Command;

fn gitops(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn docs(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .expect("install output parses as YAML")
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// Reads a document into its Kubernetes type and back: a misspelt or misplaced field is
/// dropped by the typed read and shows up as a difference.
fn typed_round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) {
    let typed: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{} {}: {e}", doc["kind"], doc["metadata"]["name"]));
    let back = serde_json::to_value(typed).unwrap();
    assert_eq!(
        &back, doc,
        "{} {} has fields its type does not know",
        doc["kind"], doc["metadata"]["name"]
    );
}

#[test]
fn full_installation_has_every_crd_and_controller() {
    let (code, out, err) = gitops(&[
        "install",
        "--export",
        "--components-extra=image-reflector-controller,image-automation-controller",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("# gitops v"),
        "header comment with the version"
    );
    let docs = docs(&out);

    let crds: Vec<&str> = of_kind(&docs, "CustomResourceDefinition")
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap())
        .collect();
    let want: Vec<String> = gitops_api_names();
    assert_eq!(crds, want, "all 14 CRDs, sorted by name");

    let deployments = of_kind(&docs, "Deployment");
    let names: Vec<&str> = deployments
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "helm-controller",
            "image-automation-controller",
            "image-reflector-controller",
            "kustomize-controller",
            "notification-controller",
            "source-controller"
        ]
    );
    for d in &deployments {
        let name = d["metadata"]["name"].as_str().unwrap();
        let pod = &d["spec"]["template"]["spec"];
        let c = &pod["containers"][0];
        assert_eq!(c["command"][0], "gitops");
        assert_eq!(c["args"][0], "controller");
        assert_eq!(c["args"][1], name);
        let sc = &c["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true, "{name}");
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
        assert_eq!(sc["capabilities"]["drop"][0], "ALL", "{name}");
        assert!(c["resources"]["limits"]["memory"].is_string(), "{name}");
        assert!(c["resources"]["requests"]["cpu"].is_string(), "{name}");
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
        assert_eq!(pod["serviceAccountName"], name);
        assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], name);
        assert_eq!(d["spec"]["template"]["metadata"]["labels"]["app"], name);
    }
    let source = deployments
        .iter()
        .find(|d| d["metadata"]["name"] == "source-controller")
        .unwrap();
    let args: Vec<&str> = source["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args.contains(&"--storage-path=/data"));
    assert!(
        args.iter()
            .any(|a| a.starts_with("--storage-adv-addr=source-controller."))
    );

    let services: Vec<&str> = of_kind(&docs, "Service")
        .iter()
        .map(|s| s["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        services,
        [
            "notification-controller",
            "source-controller",
            "webhook-receiver"
        ]
    );
    assert_eq!(of_kind(&docs, "ServiceAccount").len(), 6);
    assert_eq!(of_kind(&docs, "NetworkPolicy").len(), 3);
    assert_eq!(docs[0]["kind"], "Namespace");
    assert_eq!(docs[0]["metadata"]["name"], "flux-system");

    // Every namespaced object is in the installation's namespace.
    for d in &docs {
        if let Some(ns) = d["metadata"].get("namespace") {
            assert_eq!(ns, "flux-system");
        }
    }
}

fn gitops_api_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "gitrepositories.source.toolkit.fluxcd.io",
        "ocirepositories.source.toolkit.fluxcd.io",
        "helmrepositories.source.toolkit.fluxcd.io",
        "helmcharts.source.toolkit.fluxcd.io",
        "buckets.source.toolkit.fluxcd.io",
        "externalartifacts.source.toolkit.fluxcd.io",
        "kustomizations.kustomize.toolkit.fluxcd.io",
        "helmreleases.helm.toolkit.fluxcd.io",
        "imagerepositories.image.toolkit.fluxcd.io",
        "imagepolicies.image.toolkit.fluxcd.io",
        "imageupdateautomations.image.toolkit.fluxcd.io",
        "providers.notification.toolkit.fluxcd.io",
        "alerts.notification.toolkit.fluxcd.io",
        "receivers.notification.toolkit.fluxcd.io",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.sort();
    v
}

#[test]
fn every_object_matches_its_kubernetes_type() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Namespace, ResourceQuota, Service, ServiceAccount};
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let (_, out, _) = gitops(&[
        "install",
        "--export",
        "--components-extra=image-reflector-controller,image-automation-controller",
    ]);
    for d in docs(&out) {
        match d["kind"].as_str().unwrap() {
            "Namespace" => typed_round_trip::<Namespace>(&d),
            "ResourceQuota" => typed_round_trip::<ResourceQuota>(&d),
            "ServiceAccount" => typed_round_trip::<ServiceAccount>(&d),
            "ClusterRole" => typed_round_trip::<ClusterRole>(&d),
            "ClusterRoleBinding" => typed_round_trip::<ClusterRoleBinding>(&d),
            "Service" => typed_round_trip::<Service>(&d),
            "Deployment" => typed_round_trip::<Deployment>(&d),
            "NetworkPolicy" => typed_round_trip::<NetworkPolicy>(&d),
            "CustomResourceDefinition" => {
                // Bounds are floats in the apiextensions types; compare after a typed read.
                let crd: CustomResourceDefinition = serde_json::from_value(d.clone()).unwrap();
                assert!(crd.spec.versions[0].schema.is_some());
            }
            other => panic!("unexpected kind {other}"),
        }
    }
}

#[test]
fn output_is_deterministic_and_options_apply() {
    let (_, a, _) = gitops(&["install", "--export"]);
    let (_, b, _) = gitops(&["install", "--export"]);
    assert_eq!(a, b);
    let d = docs(&a);
    assert_eq!(
        of_kind(&d, "CustomResourceDefinition").len(),
        11,
        "default components: no image CRDs"
    );
    assert_eq!(of_kind(&d, "Deployment").len(), 4);

    let (code, out, err) = gitops(&[
        "install",
        "--export",
        "--namespace=gitops",
        "--components=source-controller,kustomize-controller",
        "--registry=registry.local:5000/me",
        "--version=v9.9.9",
        "--network-policy=false",
    ]);
    assert_eq!(code, 0, "{err}");
    let d = docs(&out);
    assert_eq!(d[0]["metadata"]["name"], "gitops");
    assert_eq!(of_kind(&d, "NetworkPolicy").len(), 0);
    let deps = of_kind(&d, "Deployment");
    assert_eq!(deps.len(), 2);
    for dep in deps {
        assert_eq!(
            dep["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.local:5000/me/gitops:v9.9.9"
        );
        let args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap();
        assert!(
            !args
                .iter()
                .any(|a| a.as_str().unwrap().starts_with("--events-addr")),
            "no notification-controller, no events address"
        );
    }
    let crds: Vec<&str> = of_kind(&d, "CustomResourceDefinition")
        .iter()
        .map(|c| c["spec"]["group"].as_str().unwrap())
        .collect();
    assert_eq!(crds.len(), 7);
    assert!(
        crds.iter()
            .all(|g| *g == "source.toolkit.fluxcd.io" || *g == "kustomize.toolkit.fluxcd.io")
    );
    let binding = of_kind(&d, "ClusterRoleBinding")
        .into_iter()
        .find(|b| b["metadata"]["name"] == "crd-controller-gitops")
        .unwrap();
    assert_eq!(binding["subjects"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_options_are_refused_with_a_clear_message() {
    let (code, _, err) = gitops(&[
        "install",
        "--export",
        "--components=source-controller,kube-proxy",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown component \"kube-proxy\""), "{err}");
    let (code, _, err) = gitops(&["install", "--export", "--namespace=Flux_System"]);
    assert_eq!(code, 1);
    assert!(err.contains("--namespace \"Flux_System\""), "{err}");
    let (code, _, err) = gitops(&["install", "--export", "--version=v1 beta"]);
    assert_eq!(code, 1);
    assert!(err.contains("not a valid image tag"), "{err}");
    // Without `--export` the installation goes to the cluster: none here.
    let run = common::gitops("install", None);
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output
            .starts_with("✚ generating manifests\n✔ manifests build completed\n"),
        "{}",
        run.output
    );
    assert!(
        run.error()
            .is_some_and(|e| e.contains("/nonexistent/kubeconfig")),
        "{}",
        run.output
    );
}

/// The installation applies cleanly with the real kubectl (server-side apply) to the
/// embedded API server, twice (the second apply changes nothing), and every CRD is served.
#[test]
fn installation_applies_with_kubectl_server_side() {
    let Some(peers) = std::env::var_os("GITOPS_PEERS_DIR").map(std::path::PathBuf::from) else {
        eprintln!("skipped: GITOPS_PEERS_DIR not set (run scripts/test)");
        return;
    };
    let kubectl = peers.join("kubectl");
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt
        .block_on(gitops_apiserver::Server::start(
            gitops_apiserver::Config::new(dir.path()),
        ))
        .unwrap();
    let (code, yaml, err) = gitops(&["install", "--export"]);
    assert_eq!(code, 0, "{err}");
    let manifest = dir.path().join("install.yaml");
    std::fs::write(&manifest, &yaml).unwrap();
    let kubectl_run = |args: &[&str]| {
        let out = Command::new(&kubectl)
            .args(args)
            .env("KUBECONFIG", server.kubeconfig_path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let m = manifest.to_str().unwrap();
    let first = kubectl_run(&["apply", "--server-side", "-f", m]);
    assert!(first.contains("customresourcedefinition.apiextensions.k8s.io/kustomizations.kustomize.toolkit.fluxcd.io serverside-applied"), "{first}");
    assert!(
        first.contains("deployment.apps/source-controller serverside-applied"),
        "{first}"
    );
    kubectl_run(&["apply", "--server-side", "-f", m]);
    let crds = kubectl_run(&["get", "crds", "-o", "name"]);
    // The default components: all kinds but the image automation ones (--components-extra).
    assert_eq!(
        crds.lines().filter(|l| l.contains("fluxcd.io")).count(),
        11,
        "{crds}"
    );
    // Every Flux kind is served (an empty list, not an error).
    for kind in [
        "gitrepositories",
        "kustomizations",
        "helmreleases",
        "ocirepositories",
        "receivers",
    ] {
        kubectl_run(&["get", kind, "-A"]);
    }
    let deployments = kubectl_run(&["get", "deployments", "-n", "flux-system", "-o", "name"]);
    assert!(
        deployments.contains("deployment.apps/kustomize-controller"),
        "{deployments}"
    );
    // A second server-side apply with the same field manager changes nothing.
    let diff = Command::new(&kubectl)
        .args(["diff", "--server-side", "-f", m])
        .env("KUBECONFIG", server.kubeconfig_path())
        .output()
        .unwrap();
    assert_eq!(
        diff.status.code(),
        Some(0),
        "kubectl diff after apply: {}",
        String::from_utf8_lossy(&diff.stdout)
    );
    rt.block_on(server.shutdown());
}

/// The controllers accept the flags their Deployments give them: parsing gets as far as
/// reading the kubeconfig (the controllers not written yet say so).
#[test]
fn controllers_accept_their_deployment_args() {
    let (code, yaml, err) = gitops(&["install", "--export"]);
    assert_eq!(code, 0, "{err}");
    let docs = docs(&yaml);
    let mut checked = 0;
    for d in of_kind(&docs, "Deployment") {
        let name = d["metadata"]["name"].as_str().unwrap();
        let args: Vec<String> = d["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .chain(["--kubeconfig=/nonexistent/kubeconfig".to_string()])
            .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = gitops(&refs);
        assert_ne!(code, 0);
        if err.contains("not implemented yet") {
            continue;
        }
        assert!(
            err.contains("/nonexistent/kubeconfig"),
            "{name} refused its Deployment's arguments {args:?}: {err}"
        );
        checked += 1;
    }
    assert!(
        checked >= 4,
        "source, kustomize, helm and notification controllers checked"
    );
}

/// The lines of `output` from the one equal to `first` up to the one equal to `last`
/// (both included); panics when either is missing.
fn section<'a>(output: &'a str, first: &str, last: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == first)
        .unwrap_or_else(|| panic!("no line {first:?} in:\n{output}"));
    let end = lines[start..]
        .iter()
        .position(|l| *l == last)
        .unwrap_or_else(|| panic!("no line {last:?} after {first:?} in:\n{output}"));
    lines[start..=start + end].to_vec()
}

/// `kubectl` (the real one) against the test cluster, when it is installed: an oracle for
/// what the API server holds.
fn kubectl(env: &common::Env, args: &[&str]) -> Option<(bool, String)> {
    let kubectl = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"]
        .into_iter()
        .map(std::path::Path::new)
        .find(|p| p.exists())?;
    let out = Command::new(kubectl)
        .args(args)
        .env("KUBECONFIG", env.kubeconfig())
        .output()
        .ok()?;
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

/// `gitops install` applies every object (CRDs first, established before their kinds are
/// used), waits for the Deployments, prints Flux's lines, and a second run changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_applies_to_the_cluster_and_waits() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let env = common::Env::start().await;
    let args = "install --components-extra=image-reflector-controller,image-automation-controller";
    let (_, yaml, _) = gitops(&[
        "install",
        "--export",
        "--components-extra=image-reflector-controller,image-automation-controller",
    ]);
    let manifests = docs(&yaml);

    let run = env.run(args).await;
    assert_eq!(run.code, 0, "{}", run.output);
    let lines: Vec<&str> = run.output.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "✚ generating manifests",
            "✔ manifests build completed",
            "► installing components in flux-system namespace",
        ],
        "{}",
        run.output
    );
    // The change set: CRDs and the Namespace first, every object once.
    let changes = section(
        &run.output,
        "► installing components in flux-system namespace",
        "◎ verifying installation",
    );
    let changes = &changes[1..changes.len() - 1];
    assert_eq!(changes.len(), manifests.len(), "{}", run.output);
    let crds = of_kind(&manifests, "CustomResourceDefinition").len();
    for (i, line) in changes.iter().enumerate() {
        let definition = line.starts_with("CustomResourceDefinition/");
        assert_eq!(definition, i < crds, "stage order: {line}\n{}", run.output);
    }
    assert_eq!(changes[crds], "Namespace/flux-system created");
    // The harness created the CRDs before: the install labels them (configured); the rest
    // is new.
    for line in changes {
        let want = if line.starts_with("CustomResourceDefinition/") {
            " configured"
        } else {
            " created"
        };
        assert!(line.ends_with(want), "{line}\n{}", run.output);
    }
    assert!(
        changes.contains(&"Deployment/flux-system/source-controller created"),
        "{}",
        run.output
    );
    let verified = section(
        &run.output,
        "◎ verifying installation",
        "✔ install finished",
    );
    assert_eq!(
        verified,
        [
            "◎ verifying installation",
            "✔ helm-controller: deployment ready",
            "✔ image-automation-controller: deployment ready",
            "✔ image-reflector-controller: deployment ready",
            "✔ kustomize-controller: deployment ready",
            "✔ notification-controller: deployment ready",
            "✔ source-controller: deployment ready",
            "✔ install finished",
        ],
        "{}",
        run.output
    );
    assert_eq!(lines.last(), Some(&"✔ install finished"));

    // On the cluster: every CRD established and labelled, every Deployment ready.
    let crd_api: kube::Api<CustomResourceDefinition> = kube::Api::all(env.cluster.client.clone());
    for crd in of_kind(&manifests, "CustomResourceDefinition") {
        let name = crd["metadata"]["name"].as_str().unwrap();
        let live = crd_api.get(name).await.unwrap();
        let labels = live.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels["app.kubernetes.io/part-of"], "flux", "{name}");
        let established = live
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(established, "{name} established");
    }
    let deployments: kube::Api<Deployment> =
        kube::Api::namespaced(env.cluster.client.clone(), "flux-system");
    for d in of_kind(&manifests, "Deployment") {
        let name = d["metadata"]["name"].as_str().unwrap();
        let live = serde_json::to_value(deployments.get(name).await.unwrap()).unwrap();
        assert_eq!(
            gitops_apply::kstatus::compute(&live).0,
            gitops_apply::kstatus::Status::Current,
            "{name}"
        );
        assert_eq!(
            live["metadata"]["managedFields"][0]["manager"], "flux",
            "{name}: applied as Flux's CLI applies"
        );
        if let Some((ok, out)) = kubectl(
            &env,
            &[
                "rollout",
                "status",
                &format!("deployment/{name}"),
                "-n",
                "flux-system",
                "--timeout=10s",
            ],
        ) {
            assert!(ok, "kubectl rollout status {name}: {out}");
        }
    }
    if let Some((ok, out)) = kubectl(
        &env,
        &[
            "wait",
            "--for=condition=established",
            "--timeout=10s",
            "crd/kustomizations.kustomize.toolkit.fluxcd.io",
            "crd/imagepolicies.image.toolkit.fluxcd.io",
        ],
    ) {
        assert!(ok, "kubectl wait: {out}");
    }

    // Again: nothing changes.
    let again = env.run(args).await;
    assert_eq!(again.code, 0, "{}", again.output);
    let changes = section(
        &again.output,
        "► installing components in flux-system namespace",
        "◎ verifying installation",
    );
    assert_eq!(changes.len() - 2, manifests.len(), "{}", again.output);
    for line in &changes[1..changes.len() - 1] {
        assert!(line.ends_with(" unchanged"), "{line}\n{}", again.output);
    }
    assert!(
        again.output.ends_with("✔ install finished\n"),
        "{}",
        again.output
    );
}

/// An installation another tool manages is not overridden without `--force` (no terminal
/// here: the question is answered no); one that was bootstrapped is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_respects_other_managers_and_bootstraps() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Patch, PatchParams};
    let env = common::Env::start().await;
    let crds: kube::Api<CustomResourceDefinition> = kube::Api::all(env.cluster.client.clone());
    let crds = &crds;
    let label = |labels: Value| async move {
        crds.patch(
            "gitrepositories.source.toolkit.fluxcd.io",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"metadata": {"labels": labels}})),
        )
        .await
        .unwrap();
    };
    label(serde_json::json!({"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/version": "v2.9.0"})).await;
    let run = env.run("install --components=source-controller").await;
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output
            .contains("Flux v2.9.0 has been installed on this cluster with Helm!\n"),
        "{}",
        run.output
    );
    assert!(
        run.output.ends_with("✗ installation cancelled\n"),
        "{}",
        run.output
    );

    let run = env
        .run("install --components=source-controller --force")
        .await;
    assert_eq!(run.code, 0, "{}", run.output);

    label(serde_json::json!({
        "kustomize.toolkit.fluxcd.io/name": "flux-system",
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    }))
    .await;
    let run = env.run("install --components=source-controller").await;
    // The forced install made the CRD ours (managed-by gitops), so only the bootstrap
    // labels stop it now.
    assert_eq!(
        run.error().as_deref(),
        Some(
            "this cluster has already been bootstrapped with Flux v0.1.0! Please use 'gitops bootstrap' to upgrade"
        ),
        "{}",
        run.output
    );
}

/// `--toleration-keys` and `--image-pull-secret` reach every controller's pod as Flux's
/// install patch puts them; `--registry-creds` needs `--image-pull-secret` and creates that
/// Secret (a `.dockerconfigjson` for the registry) when applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_tolerations_and_pull_secret() {
    let (code, yaml, err) = gitops(&[
        "install",
        "--export",
        "--toleration-keys=node.example.com/infra,dedicated",
        "--image-pull-secret=regcred",
    ]);
    assert_eq!(code, 0, "{err}");
    let manifests = docs(&yaml);
    let deployments = of_kind(&manifests, "Deployment");
    assert!(!deployments.is_empty());
    for d in deployments {
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(
            pod["tolerations"],
            serde_json::json!([
                {"key": "node.example.com/infra", "operator": "Exists"},
                {"key": "dedicated", "operator": "Exists"},
            ]),
            "{}",
            d["metadata"]["name"]
        );
        assert_eq!(
            pod["imagePullSecrets"],
            serde_json::json!([{"name": "regcred"}])
        );
        typed_round_trip::<k8s_openapi::api::apps::v1::Deployment>(d);
    }

    let (code, _, err) = gitops(&["install", "--export", "--registry-creds=bot:pw"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--registry-creds requires --image-pull-secret to be set"),
        "{err}"
    );
    let (code, _, err) = gitops(&[
        "install",
        "--export",
        "--registry-creds=bot",
        "--image-pull-secret=regcred",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("invalid --registry-creds format, expected 'user:password'"),
        "{err}"
    );

    let env = common::Env::start().await;
    let run = env
        .run("install --registry=registry.example.com/gitops --registry-creds=bot:s3cret --image-pull-secret=regcred")
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output
            .contains("✔ reconciled image pull secret regcred"),
        "{}",
        run.output
    );
    assert!(!run.output.contains("s3cret"), "the password was printed");
    let secret = env
        .get(&serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "regcred", "namespace": "flux-system"}}))
        .await
        .expect("the pull secret exists");
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    use base64::Engine;
    let config = base64::engine::general_purpose::STANDARD
        .decode(secret["data"][".dockerconfigjson"].as_str().unwrap())
        .unwrap();
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(
        config["auths"]["registry.example.com/gitops"]["username"],
        "bot"
    );
    assert_eq!(
        config["auths"]["registry.example.com/gitops"]["auth"],
        base64::engine::general_purpose::STANDARD.encode("bot:s3cret")
    );
}

/// `--components-extra=source-watcher` adds Flux's source-watcher: the ArtifactGenerator
/// CRD, its Deployment serving its own artifact storage, the Service consumers download
/// from, and RBAC over `source.extensions.fluxcd.io`.
#[test]
fn source_watcher_component() {
    let (code, yaml, err) = gitops(&["install", "--export", "--components-extra=source-watcher"]);
    assert_eq!(code, 0, "{err}");
    let docs = docs(&yaml);
    assert!(
        of_kind(&docs, "CustomResourceDefinition")
            .iter()
            .any(|c| c["metadata"]["name"] == "artifactgenerators.source.extensions.fluxcd.io")
    );
    let deployment = of_kind(&docs, "Deployment")
        .into_iter()
        .find(|d| d["metadata"]["name"] == "source-watcher")
        .expect("a source-watcher Deployment");
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    for arg in [
        "\"source-watcher\"",
        "--storage-path=/data",
        "--storage-addr=:9090",
        "--storage-adv-addr=source-watcher.$(RUNTIME_NAMESPACE).svc.cluster.local.",
    ] {
        assert!(args.contains(arg), "{arg}: {args}");
    }
    typed_round_trip::<k8s_openapi::api::apps::v1::Deployment>(deployment);
    assert!(
        of_kind(&docs, "Service")
            .iter()
            .any(|s| s["metadata"]["name"] == "source-watcher")
    );
    let role = of_kind(&docs, "ClusterRole")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "crd-controller-flux-system")
        .unwrap();
    assert!(
        role["rules"][0]["apiGroups"]
            .to_string()
            .contains("source.extensions.fluxcd.io")
    );
}
