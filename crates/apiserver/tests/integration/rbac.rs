//! Authentication and RBAC against the real `kubectl`: `kubectl auth can-i` (with `--as`)
//! over a table of bindings, aggregated roles and impersonation; real requests as service
//! accounts (TokenRequest and Secret-held tokens) and client-certificate users; escalation
//! prevention; and the words of Kubernetes' Forbidden errors.

use crate::clients::{Tool, peer};
use gitops_apiserver::{Config, Server};

const SETUP: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer, namespace: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: owner, namespace: team-a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team-a}
data: {color: blue}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer-edit, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {kind: ServiceAccount, name: deployer}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: owner-admin, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects:
- {kind: ServiceAccount, name: owner, namespace: team-a}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: settings-reader, namespace: team-a}
rules:
- {apiGroups: [""], resources: [configmaps], resourceNames: [settings], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-settings, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: settings-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widgets-view
  labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
rules:
- {apiGroups: [example.com], resources: [widgets], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: auditors}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: impersonate-alice}
rules:
- {apiGroups: [""], resources: [users], resourceNames: [alice], verbs: [impersonate]}
- {apiGroups: [""], resources: [groups], resourceNames: [auditors], verbs: [impersonate]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: carol-impersonates}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: impersonate-alice}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: carol}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dangling, namespace: team-b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: missing}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: dave}
"#;

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A fresh server with its state in `dir`, and the real kubectl as its admin; `None` (the
/// test skips, said on stderr) when kubectl is not installed.
async fn server_with_kubectl(
    dir: &std::path::Path,
) -> Option<(gitops_apiserver::ServerHandle, Tool)> {
    let bin = peer("kubectl")?;
    let server = Server::start(Config::new(dir.join("state"))).await.unwrap();
    let admin = Tool {
        bin,
        kubeconfig: server.kubeconfig_path().to_owned(),
    };
    Some((server, admin))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn can_i_impersonation_tokens_certificates_and_escalation() {
    let dir = tempfile::tempdir().unwrap();
    let Some((server, admin)) = server_with_kubectl(dir.path()).await else {
        return;
    };
    let bin = admin.bin.clone();
    let setup = dir.path().join("setup.yaml");
    std::fs::write(&setup, SETUP).unwrap();
    admin
        .ok(&["apply", "--server-side", "-f", setup.to_str().unwrap()])
        .await;

    // The aggregation controller fills `view` (and through it `edit` and `admin`) with the
    // rules of `widgets-view`.
    let mut aggregated = false;
    for _ in 0..100 {
        let view = admin
            .ok(&["get", "clusterrole", "admin", "-o", "jsonpath={.rules}"])
            .await;
        if view.contains("widgets") && view.contains("rolebindings") && view.contains("pods/exec") {
            aggregated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(aggregated, "admin aggregates edit, view and widgets-view");

    // `kubectl auth can-i` as the admin impersonating each identity: Kubernetes' answers.
    let sa = "--as=system:serviceaccount:team-a:deployer";
    let table: &[(&[&str], &str)] = &[
        (&[sa, "create", "deployments", "-n", "team-a"], "yes"),
        (&[sa, "create", "deployments", "-n", "team-b"], "no"),
        (&[sa, "get", "secrets", "-n", "team-a"], "yes"),
        (&[sa, "create", "roles", "-n", "team-a"], "no"),
        (&[sa, "create", "namespaces"], "no"),
        (
            &[sa, "create", "pods", "--subresource=exec", "-n", "team-a"],
            "yes",
        ),
        (
            &[sa, "impersonate", "serviceaccounts", "-n", "team-a"],
            "yes",
        ),
        (
            &["--as=alice", "get", "configmaps/settings", "-n", "team-a"],
            "yes",
        ),
        (
            &["--as=alice", "get", "configmaps/other", "-n", "team-a"],
            "no",
        ),
        (&["--as=alice", "list", "configmaps", "-n", "team-a"], "no"),
        (
            &["--as=alice", "get", "configmaps/settings", "-n", "team-b"],
            "no",
        ),
        (
            &["--as=bob", "list", "widgets.example.com", "-n", "team-b"],
            "yes",
        ),
        (&["--as=bob", "list", "secrets", "-n", "team-a"], "no"),
        (
            &[
                "--as=bob",
                "get",
                "deployments",
                "--subresource=scale",
                "-n",
                "team-b",
            ],
            "yes",
        ),
        (
            &[
                "--as=bob",
                "get",
                "pods",
                "--subresource=log",
                "-n",
                "team-b",
            ],
            "yes",
        ),
        (
            &[
                "--as=bob",
                "get",
                "pods",
                "--subresource=exec",
                "-n",
                "team-b",
            ],
            "no",
        ),
        (&["--as=bob", "list", "namespaces"], "yes"),
        (
            &[
                "--as=someone",
                "--as-group=auditors",
                "get",
                "pods",
                "-n",
                "team-b",
            ],
            "yes",
        ),
        (&["--as=eve", "get", "pods", "-n", "team-a"], "no"),
        (&["--as=eve", "get", "/api"], "yes"),
        (&["--as=eve", "get", "/metrics"], "no"),
        (
            &[
                "--as=eve",
                "create",
                "selfsubjectaccessreviews.authorization.k8s.io",
            ],
            "yes",
        ),
        (
            &["--as=dave", "get", "pods", "-n", "team-b"],
            "no - RBAC: role.rbac.authorization.k8s.io \"missing\" not found",
        ),
        (&["delete", "nodes", "--all-namespaces"], "yes"),
    ];
    for (args, want) in table {
        let mut full = vec!["auth", "can-i"];
        full.extend_from_slice(args);
        let out = admin.run(&full).await;
        let got = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert_eq!(&got, want, "kubectl {full:?}: {}", text(&out));
        assert_eq!(
            out.status.success(),
            want.starts_with("yes"),
            "exit code of {full:?}"
        );
    }

    // A TokenRequest token (`kubectl create token`) acts as the service account.
    let token = admin
        .ok(&[
            "create",
            "token",
            "deployer",
            "-n",
            "team-a",
            "--duration=1h",
        ])
        .await;
    let deployer_kc = dir.path().join("deployer.kubeconfig");
    std::fs::write(&deployer_kc, server.kubeconfig_for_token(token.trim())).unwrap();
    let deployer = Tool {
        bin: bin.clone(),
        kubeconfig: deployer_kc,
    };
    deployer
        .ok(&["create", "configmap", "made-by-deployer", "-n", "team-a"])
        .await;
    let out = deployer
        .run(&["create", "configmap", "elsewhere", "-n", "team-b"])
        .await;
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: failed to create configmap: configmaps is forbidden: User \"system:serviceaccount:team-a:deployer\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"team-b\""
    );
    let out = deployer
        .run(&["get", "configmap", "settings", "-n", "team-b"])
        .await;
    assert!(
        text(&out).contains("Error from server (Forbidden): configmaps \"settings\" is forbidden: User \"system:serviceaccount:team-a:deployer\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"team-b\""),
        "{}",
        text(&out)
    );
    let out = deployer.run(&["get", "namespaces"]).await;
    assert!(
        text(&out)
            .contains("cannot list resource \"namespaces\" in API group \"\" at the cluster scope"),
        "{}",
        text(&out)
    );
    // The service account asks about itself (SelfSubjectAccessReview, SelfSubjectRulesReview,
    // SelfSubjectReview).
    assert_eq!(
        deployer
            .ok(&["auth", "can-i", "patch", "deployments", "-n", "team-a"])
            .await
            .trim(),
        "yes"
    );
    let list = deployer
        .ok(&["auth", "can-i", "--list", "-n", "team-a"])
        .await;
    assert!(
        list.contains("deployments.apps")
            && list.contains("selfsubjectaccessreviews.authorization.k8s.io"),
        "{list}"
    );
    let whoami = deployer.ok(&["auth", "whoami", "-o", "json"]).await;
    let whoami: serde_json::Value = serde_json::from_str(&whoami).unwrap();
    assert_eq!(
        whoami["status"]["userInfo"]["username"],
        "system:serviceaccount:team-a:deployer"
    );
    assert!(
        whoami["status"]["userInfo"]["groups"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("system:serviceaccounts:team-a"))
    );

    // Escalation: a namespace admin may grant what it holds, not more.
    let owner_token = admin
        .ok(&["create", "token", "owner", "-n", "team-a"])
        .await;
    let owner_kc = dir.path().join("owner.kubeconfig");
    std::fs::write(&owner_kc, server.kubeconfig_for_token(owner_token.trim())).unwrap();
    let owner = Tool {
        bin: bin.clone(),
        kubeconfig: owner_kc,
    };
    owner
        .ok(&[
            "create",
            "role",
            "cm-edit",
            "--verb=get,update",
            "--resource=configmaps",
            "-n",
            "team-a",
        ])
        .await;
    owner
        .ok(&[
            "create",
            "rolebinding",
            "bob-view-a",
            "--clusterrole=view",
            "--user=bob",
            "-n",
            "team-a",
        ])
        .await;
    let out = owner
        .run(&[
            "create",
            "role",
            "all-secrets",
            "--verb=*",
            "--resource=secrets",
            "-n",
            "team-a",
        ])
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("roles.rbac.authorization.k8s.io \"all-secrets\" is forbidden: user \"system:serviceaccount:team-a:owner\" (groups=[\"system:serviceaccounts\" \"system:serviceaccounts:team-a\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"*\"]}"),
        "{}",
        text(&out)
    );
    let out = owner
        .run(&[
            "create",
            "rolebinding",
            "root",
            "--clusterrole=cluster-admin",
            "--user=alice",
            "-n",
            "team-a",
        ])
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("rolebindings.rbac.authorization.k8s.io \"root\" is forbidden: user \"system:serviceaccount:team-a:owner\""),
        "{}",
        text(&out)
    );
    // Not in another namespace either.
    let out = owner
        .run(&[
            "create",
            "rolebinding",
            "x",
            "--clusterrole=view",
            "--user=bob",
            "-n",
            "team-b",
        ])
        .await;
    assert!(text(&out).contains("cannot create resource \"rolebindings\" in API group \"rbac.authorization.k8s.io\" in the namespace \"team-b\""), "{}", text(&out));

    // A client certificate names the user (CN) and groups (O).
    let carol_kc = dir.path().join("carol.kubeconfig");
    std::fs::write(
        &carol_kc,
        server.kubeconfig_for_user("carol", &["testers"]).unwrap(),
    )
    .unwrap();
    let carol = Tool {
        bin: bin.clone(),
        kubeconfig: carol_kc,
    };
    let whoami = carol.ok(&["auth", "whoami"]).await;
    assert!(
        whoami.contains("carol") && whoami.contains("testers"),
        "{whoami}"
    );
    // Impersonation is checked with the `impersonate` verb.
    let got = carol
        .ok(&[
            "get",
            "configmap",
            "settings",
            "-n",
            "team-a",
            "--as=alice",
            "-o",
            "jsonpath={.data.color}",
        ])
        .await;
    assert_eq!(got, "blue");
    let out = carol
        .run(&["get", "configmaps", "-n", "team-a", "--as=alice"])
        .await;
    assert!(
        text(&out).contains("configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"team-a\""),
        "{}",
        text(&out)
    );
    let out = carol
        .run(&["get", "pods", "-n", "team-a", "--as=bob"])
        .await;
    assert!(
        text(&out).contains("users \"bob\" is forbidden: User \"carol\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"),
        "{}",
        text(&out)
    );
    carol
        .ok(&[
            "get",
            "pods",
            "-n",
            "team-b",
            "--as=alice",
            "--as-group=auditors",
        ])
        .await;
    let out = carol
        .run(&[
            "get",
            "pods",
            "-n",
            "team-b",
            "--as=alice",
            "--as-group=admins",
        ])
        .await;
    assert!(
        text(&out).contains(
            "groups \"admins\" is forbidden: User \"carol\" cannot impersonate resource \"groups\""
        ),
        "{}",
        text(&out)
    );
    let out = carol.run(&["get", "pods", "-n", "team-a"]).await;
    assert!(
        text(&out).contains("User \"carol\" cannot list resource \"pods\""),
        "{}",
        text(&out)
    );

    // A Secret-held token (`kubernetes.io/service-account-token`) is filled in and works
    // while the Secret holds it.
    let secret = dir.path().join("secret.yaml");
    std::fs::write(
        &secret,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: deployer-token\n  namespace: team-a\n  annotations:\n    kubernetes.io/service-account.name: deployer\ntype: kubernetes.io/service-account-token\n",
    )
    .unwrap();
    admin.ok(&["apply", "-f", secret.to_str().unwrap()]).await;
    let mut legacy = String::new();
    for _ in 0..100 {
        legacy = admin
            .ok(&[
                "get",
                "secret",
                "deployer-token",
                "-n",
                "team-a",
                "-o",
                "jsonpath={.data.token}",
            ])
            .await;
        if !legacy.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    use base64::Engine;
    let legacy = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(legacy.trim())
            .expect("token is base64"),
    )
    .unwrap();
    let legacy_kc = dir.path().join("legacy.kubeconfig");
    std::fs::write(&legacy_kc, server.kubeconfig_for_token(&legacy)).unwrap();
    let legacy_user = Tool {
        bin: bin.clone(),
        kubeconfig: legacy_kc,
    };
    legacy_user.ok(&["get", "configmaps", "-n", "team-a"]).await;
    admin
        .ok(&["delete", "secret", "deployer-token", "-n", "team-a"])
        .await;
    let out = legacy_user
        .run(&["get", "configmaps", "-n", "team-a"])
        .await;
    assert!(text(&out).contains("Unauthorized"), "{}", text(&out));

    // Tokens die with their service account.
    admin
        .ok(&["delete", "serviceaccount", "deployer", "-n", "team-a"])
        .await;
    let out = deployer.run(&["get", "configmaps", "-n", "team-a"]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("Unauthorized"), "{}", text(&out));
    // A recreated account with the same name has a new uid: the old token stays dead.
    admin
        .ok(&["create", "serviceaccount", "deployer", "-n", "team-a"])
        .await;
    let out = deployer.run(&["get", "configmaps", "-n", "team-a"]).await;
    assert!(text(&out).contains("Unauthorized"), "{}", text(&out));

    server.shutdown().await;
}

/// A GET over a fresh TLS connection: the status code and the start of the body.
async fn raw_get(
    server: &gitops_apiserver::ServerHandle,
    path: &str,
    token: &str,
) -> (u16, String) {
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(server.ca_pem().as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    // The status line and the error body arrive at once; a watch's body would not end.
    while let Ok(Ok(n)) =
        tokio::time::timeout(std::time::Duration::from_millis(500), tls.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

async fn kube_client(kubeconfig: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Each user may hold a bounded number of watches; one more is a 429, a closed watch
/// frees its slot, and other users keep their own budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_per_user_are_limited() {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, WatchParams};
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.max_watches_per_user = 2;
    let server = Server::start(config).await.unwrap();
    let admin = kube_client(server.kubeconfig()).await;
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), "default");
    let w1 = cms
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    let _w2 = cms
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    // The third is refused (asked over a bare connection: kube-rs and client-go retry 429s).
    let (status, body) = raw_get(
        &server,
        "/api/v1/namespaces/default/configmaps?watch=true",
        server.token(),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body.contains("TooManyRequests")
            && body.contains("too many open watches for user")
            && body.contains("gitops-admin")
            && body.contains("(at most 2)")
            && body.contains("retry-after: 1"),
        "{body}"
    );
    // Another user has its own budget (with RBAC allowing the watch).
    let binding: Api<kube::api::DynamicObject> = Api::all_with(
        admin.clone(),
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(
                "rbac.authorization.k8s.io",
                "v1",
                "ClusterRoleBinding",
            ),
            "clusterrolebindings",
        ),
    );
    binding
        .create(
            &Default::default(),
            &serde_json::from_value(serde_json::json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "watcher-view"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "watcher"}],
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let watcher = kube_client(&server.kubeconfig_for_user("watcher", &[]).unwrap()).await;
    let _w3 = Api::<ConfigMap>::namespaced(watcher, "default")
        .watch(&WatchParams::default(), "0")
        .await
        .expect("another user's watch");
    // Closing a watch gives its slot back.
    drop(w1);
    let mut reopened = 0;
    for _ in 0..100 {
        reopened = raw_get(
            &server,
            "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1",
            server.token(),
        )
        .await
        .0;
        if reopened == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(reopened, 200, "the closed watch's slot is free again");
    server.shutdown().await;
}

/// RBAC objects are validated as Kubernetes validates them (`pkg/apis/rbac/validation`):
/// the errors name the field and use Kubernetes' words; a binding's `roleRef` is
/// immutable; users' and groups' `apiGroup` defaults to the RBAC group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_objects_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    // the handle keeps the server running
    let Some((_server, admin)) = server_with_kubectl(dir.path()).await else {
        return;
    };
    let apply = |name: &str, yaml: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, yaml).unwrap();
        path
    };
    let cases: &[(&str, &[&str])] = &[
        (
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: default}\nrules:\n- {apiGroups: [''], resources: [pods]}\n- {verbs: [get]}\n- {nonResourceURLs: [/healthz], verbs: [get]}\n",
            &[
                r#"The Role "r" is invalid: "#,
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[1].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[1].resources: Required value: resource rules must supply at least one resource",
                r#"rules[2].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs"#,
            ],
        ),
        (
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: c}\nrules:\n- {apiGroups: [''], resources: [pods], nonResourceURLs: [/metrics], verbs: [get]}\naggregationRule: {clusterRoleSelectors: []}\n",
            &[
                r#"rules[0].nonResourceURLs: Invalid value: ["/metrics"]: rules cannot apply to both regular resources and non-resource URLs"#,
                "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil",
            ],
        ),
        (
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b, namespace: default}\nroleRef: {apiGroup: example.com, kind: Secret, name: a/b}\nsubjects:\n- {kind: Robot, name: x}\n- {kind: ServiceAccount, name: Bad_Name, apiGroup: rbac.authorization.k8s.io}\n- {kind: User, apiGroup: example.com, name: ''}\n",
            &[
                r#"roleRef.apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io""#,
                r#"roleRef.kind: Unsupported value: "Secret": supported values: "Role", "ClusterRole""#,
                r#"roleRef.name: Invalid value: "a/b": may not contain '/'"#,
                r#"subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group""#,
                r#"subjects[1].name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#,
                r#"subjects[1].apiGroup: Unsupported value: "rbac.authorization.k8s.io": supported values: """#,
                "subjects[2].name: Required value",
                r#"subjects[2].apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io""#,
            ],
        ),
        (
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: cb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects:\n- {kind: ServiceAccount, name: sa}\n",
            &[
                r#"roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole""#,
                "subjects[0].namespace: Required value",
            ],
        ),
    ];
    for (i, (yaml, wanted)) in cases.iter().enumerate() {
        let path = apply(&format!("bad-{i}.yaml"), yaml);
        let out = admin.run(&["apply", "-f", path.to_str().unwrap()]).await;
        assert!(!out.status.success(), "case {i} accepted");
        let said = text(&out);
        for w in *wanted {
            assert!(said.contains(w), "case {i}: wanted {w:?} in:\n{said}");
        }
    }

    // A valid binding: a User's apiGroup is defaulted; its roleRef cannot change.
    let path = apply(
        "good.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: good, namespace: default}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects:\n- {kind: User, name: erin}\n",
    );
    admin.ok(&["apply", "-f", path.to_str().unwrap()]).await;
    let got = admin
        .ok(&[
            "get",
            "rolebinding",
            "good",
            "-o",
            "jsonpath={.subjects[0].apiGroup}",
        ])
        .await;
    assert_eq!(got.trim(), "rbac.authorization.k8s.io");
    let out = admin
        .run(&[
            "patch",
            "rolebinding",
            "good",
            "--type=merge",
            "-p",
            r#"{"roleRef":{"name":"edit"}}"#,
        ])
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains(r#"roleRef: Invalid value: "#)
            && text(&out).contains("cannot change roleRef"),
        "{}",
        text(&out)
    );
}
