//! Multi-tenancy end to end, as Flux's multi-tenancy lockdown sets it up: two tenants'
//! namespaces, each with a `reconciler` ServiceAccount bound (by a RoleBinding) to
//! `cluster-admin` there, as `gitops create tenant` writes it; the kustomize and helm
//! controllers run with `--no-cross-namespace-refs` and `--default-service-account`. The
//! embedded API server authorizes every impersonated request with RBAC, so a tenant's
//! Kustomization or HelmRelease reaches its own namespace only, and says so in its status.

use gitops_api::{HelmRelease, Kustomization};
use gitops_tests::{Cluster, GitHttpServer, git, have, ready_of, wait_until};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::Api;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// The objects `gitops create tenant <name> --with-namespace <name>` creates.
fn tenant(name: &str) -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "reconciler", "namespace": name}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "gotk-reconciler", "namespace": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": format!("gotk:{name}:reconciler")},
            {"kind": "ServiceAccount", "name": "reconciler", "namespace": name},
        ]}),
    ]
}

fn cm(name: &str, ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  owner: tenant-a\n"
    )
}

async fn create(client: &kube::Client, obj: Value) {
    gitops_tests::apply_json(client, obj).await.expect("apply");
}

/// Waits for the Ready condition of `name` in `ns` (a Kustomization or HelmRelease) to have
/// `status` and a message containing all of `wanted`; returns the message.
async fn wait_ready<K>(
    client: &kube::Client,
    ns: &str,
    name: &str,
    status: &str,
    wanted: &[&str],
) -> String
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let last = std::sync::Mutex::new(String::new());
    let got = wait_until(WAIT, || {
        let api = api.clone();
        let last = &last;
        async move {
            let s = serde_json::to_value(api.get(name).await.ok()?).ok()?["status"].clone();
            let c = ready_of(&s)?;
            *last.lock().unwrap() = format!("{}: {}: {}", c.0, c.1, c.2);
            (c.0 == status && wanted.iter().all(|w| c.2.contains(w))).then_some(c.2)
        }
    })
    .await;
    got.unwrap_or_else(|| {
        panic!(
            "{ns}/{name} never became Ready={status} with {wanted:?}; last: {}",
            last.lock().unwrap()
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tenants_stay_in_their_namespaces() {
    if !have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (root, work) = (t.path().join("srv"), t.path().join("work"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    git(&root, &["init", "-q", "--bare", "-b", "main", "repo.git"]);
    git(&work, &["init", "-q", "-b", "main"]);
    for (path, content) in [
        ("own/cm.yaml", cm("mine", "tenant-a")),
        ("cross/cm.yaml", cm("intruder", "tenant-b")),
        (
            "cluster/ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: tenant-a-extra\n".into(),
        ),
        ("default-sa/cm.yaml", cm("by-default", "tenant-b")),
        ("remote/cm.yaml", cm("via-remote", "tenant-a")),
        (
            "charts/app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 0.1.0\n".into(),
        ),
        (
            "charts/app/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  owner: tenant-a\n".into(),
        ),
    ] {
        let p = work.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "tenants"]);
    git(
        &work,
        &[
            "push",
            "-q",
            &root.join("repo.git").display().to_string(),
            "main",
        ],
    );
    let http = GitHttpServer::start(&root, None).await;

    let mut cluster = Cluster::start().await;
    cluster.start_source_controller().await;
    let lockdown = [
        "--no-cross-namespace-refs=true",
        "--default-service-account=default",
        "--default-kubeconfig-service-account=reconciler",
    ];
    cluster.start_kustomize_controller_with(&lockdown);
    cluster.start_helm_controller_with(&lockdown);
    let client = cluster.client.clone();
    for obj in tenant("tenant-a").into_iter().chain(tenant("tenant-b")) {
        create(&client, obj).await;
    }
    for ns in ["tenant-a", "tenant-b", "default"] {
        create(
            &client,
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                   "metadata": {"name": "repo", "namespace": ns},
                   "spec": {"url": format!("{}/repo.git", http.url), "interval": "10m",
                            "ref": {"branch": "main"}, "timeout": "20s"}}),
        )
        .await;
    }
    let ks = |ns: &str, name: &str, path: &str, sa: Option<&str>, source_ns: Option<&str>| {
        let mut spec = json!({"interval": "10m", "retryInterval": "1s", "timeout": "30s", "prune": true,
                              "path": path, "sourceRef": {"kind": "GitRepository", "name": "repo"}});
        if let Some(sa) = sa {
            spec["serviceAccountName"] = json!(sa);
        }
        if let Some(sns) = source_ns {
            spec["sourceRef"]["namespace"] = json!(sns);
        }
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": name, "namespace": ns}, "spec": spec})
    };
    let user = "User \"system:serviceaccount:tenant-a:reconciler\"";
    // Its own namespace: applied.
    create(
        &client,
        ks("tenant-a", "own", "./own", Some("reconciler"), None),
    )
    .await;
    // Another tenant's namespace, and a cluster-scoped object: Forbidden, named in status.
    create(
        &client,
        ks("tenant-a", "cross", "./cross", Some("reconciler"), None),
    )
    .await;
    create(
        &client,
        ks("tenant-a", "cluster", "./cluster", Some("reconciler"), None),
    )
    .await;
    // No serviceAccountName: the default account of the namespace, which holds nothing.
    create(
        &client,
        ks("tenant-b", "default-sa", "./default-sa", None, None),
    )
    .await;
    // A source in another namespace: refused by the lockdown before anything is applied.
    create(
        &client,
        ks(
            "tenant-a",
            "other-source",
            "./own",
            Some("reconciler"),
            Some("default"),
        ),
    )
    .await;

    wait_ready::<Kustomization>(&client, "tenant-a", "own", "True", &[]).await;
    let mine = Api::<ConfigMap>::namespaced(client.clone(), "tenant-a")
        .get("mine")
        .await
        .expect("the tenant's own ConfigMap is applied");
    assert_eq!(mine.data.unwrap()["owner"], "tenant-a");

    let msg = wait_ready::<Kustomization>(
        &client,
        "tenant-a",
        "cross",
        "False",
        &["forbidden", user, "in the namespace \"tenant-b\""],
    )
    .await;
    assert!(
        msg.contains("configmaps \"intruder\" is forbidden"),
        "{msg}"
    );
    let msg = wait_ready::<Kustomization>(
        &client,
        "tenant-a",
        "cluster",
        "False",
        &["forbidden", user, "cannot get resource \"namespaces\""],
    )
    .await;
    // A namespace is addressed within itself, as the real server does.
    assert!(
        msg.contains("namespaces \"tenant-a-extra\" is forbidden"),
        "{msg}"
    );
    wait_ready::<Kustomization>(
        &client,
        "tenant-b",
        "default-sa",
        "False",
        &[
            "forbidden",
            "User \"system:serviceaccount:tenant-b:default\"",
        ],
    )
    .await;
    let msg = wait_ready::<Kustomization>(
        &client,
        "tenant-a",
        "other-source",
        "False",
        &["cross-namespace references have been blocked"],
    )
    .await;
    assert!(!msg.contains("forbidden"), "{msg}");

    // Nothing landed outside tenant-a's namespace.
    assert!(
        Api::<ConfigMap>::namespaced(client.clone(), "tenant-b")
            .get_opt("intruder")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        Api::<ConfigMap>::namespaced(client.clone(), "tenant-b")
            .get_opt("by-default")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        Api::<Namespace>::all(client.clone())
            .get_opt("tenant-a-extra")
            .await
            .unwrap()
            .is_none()
    );

    // A remote cluster by workload identity (the `generic` provider: a token of the
    // tenant's ServiceAccount, named by --default-kubeconfig-service-account, for the
    // remote server's address; here the remote is this same server, which accepts tokens
    // for its own URL). The tenant's identity holds there too.
    let server = cluster.server.as_ref().unwrap();
    let remote = |name: &str, path: &str| {
        let mut k = ks("tenant-a", name, path, Some("reconciler"), None);
        k["spec"]["kubeConfig"] = json!({"configMapRef": {"name": "remote"}});
        k
    };
    create(
        &client,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "remote", "namespace": "tenant-a"},
               "data": {"provider": "generic", "address": server.url(), "ca.crt": server.ca_pem()}}),
    )
    .await;
    create(&client, remote("remote-own", "./remote")).await;
    create(&client, remote("remote-cross", "./cross")).await;
    wait_ready::<Kustomization>(&client, "tenant-a", "remote-own", "True", &[]).await;
    assert!(
        Api::<ConfigMap>::namespaced(client.clone(), "tenant-a")
            .get_opt("via-remote")
            .await
            .unwrap()
            .is_some()
    );
    wait_ready::<Kustomization>(
        &client,
        "tenant-a",
        "remote-cross",
        "False",
        &["forbidden", user, "in the namespace \"tenant-b\""],
    )
    .await;
    // A kubeconfig Secret may not run commands on the controller.
    let pwned = t.path().join("pwned");
    create(
        &client,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "exec-kubeconfig", "namespace": "tenant-a"},
               "stringData": {"value": format!(
                   "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {{cluster: k, user: u}}\nclusters:\n- name: k\n  cluster: {{server: '{}'}}\nusers:\n- name: u\n  user:\n    exec: {{apiVersion: client.authentication.k8s.io/v1, command: touch, args: ['{}']}}\n",
                   server.url(),
                   pwned.display())}}),
    )
    .await;
    let mut exec = ks("tenant-a", "exec", "./own", Some("reconciler"), None);
    exec["spec"]["kubeConfig"] = json!({"secretRef": {"name": "exec-kubeconfig"}});
    create(&client, exec).await;
    wait_ready::<Kustomization>(
        &client,
        "tenant-a",
        "exec",
        "False",
        &["runs a command (exec)", "--insecure-kubeconfig-exec"],
    )
    .await;
    assert!(!pwned.exists(), "the kubeconfig's command did not run");

    // HelmReleases impersonate the same way: into its own namespace the release installs,
    // into tenant-b (where Helm would keep its release Secret too) it is Forbidden. With a
    // targetNamespace the release is named `<targetNamespace>-<name>`.
    let hr = |name: &str, target: &str| {
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": name, "namespace": "tenant-a"},
               "spec": {"interval": "10m", "timeout": "30s", "serviceAccountName": "reconciler",
                        "targetNamespace": target,
                        "install": {"remediation": {"retries": 0}},
                        "chart": {"spec": {"chart": "./charts/app",
                                           "sourceRef": {"kind": "GitRepository", "name": "repo"}}}}})
    };
    create(&client, hr("own-release", "tenant-a")).await;
    create(&client, hr("cross-release", "tenant-b")).await;
    wait_ready::<HelmRelease>(&client, "tenant-a", "own-release", "True", &[]).await;
    assert!(
        Api::<ConfigMap>::namespaced(client.clone(), "tenant-a")
            .get_opt("tenant-a-own-release")
            .await
            .unwrap()
            .is_some()
    );
    wait_ready::<HelmRelease>(
        &client,
        "tenant-a",
        "cross-release",
        "False",
        &["forbidden", user, "in the namespace \"tenant-b\""],
    )
    .await;
    assert!(
        Api::<ConfigMap>::namespaced(client.clone(), "tenant-b")
            .get_opt("tenant-b-cross-release")
            .await
            .unwrap()
            .is_none()
    );
}
