//! The installation manifests: namespace, CRDs, service accounts, RBAC, one Deployment per
//! controller, the controllers' Services and network policies.
//!
//! Every controller runs the same image (`<registry>/gitops:<version>`) as
//! `gitops controller <name> <flags>`. The flags written here are the contract between the
//! installation and the controllers:
//!
//! | flag | controllers | meaning |
//! |---|---|---|
//! | `--watch-all-namespaces=true` | all | watch objects in every namespace |
//! | `--log-level=info`, `--log-encoding=json` | all | logging |
//! | `--metrics-addr=:8080` | all | Prometheus metrics |
//! | `--health-addr=:9440` | all | `/healthz` and `/readyz` |
//! | `--enable-leader-election` | all | one active replica |
//! | `--events-addr=URL` | all but notification | where to post events |
//! | `--storage-path`, `--storage-addr`, `--storage-adv-addr` | source | artifact storage |
//! | `--storage-path` | image-reflector | the tag database |
//! | `--receiver-addr=:9292`, `--events-listen-addr=:9090` | notification | webhooks and events |

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The controllers a default installation runs (from the controller registry).
pub fn default_components() -> Vec<&'static str> {
    gitops_controllers::CONTROLLERS
        .iter()
        .filter(|c| c.default)
        .map(|c| c.name)
        .collect()
}

/// Every installable controller, defaults first (`--components-extra` adds the others).
fn known_components() -> Vec<&'static str> {
    gitops_controllers::CONTROLLERS
        .iter()
        .map(|c| c.name)
        .collect()
}

/// The default image registry.
pub const DEFAULT_REGISTRY: &str = "ghcr.io/gitops-rs";

/// What to install.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Namespace of the controllers.
    pub namespace: String,
    /// Controllers to install, by name from the controller registry.
    pub components: Vec<String>,
    /// Image registry, e.g. `ghcr.io/gitops-rs`.
    pub registry: String,
    /// Image tag, e.g. `v0.1.0`.
    pub version: String,
    /// Add the network policies.
    pub network_policy: bool,
    /// Cluster domain for the controllers' service addresses.
    pub cluster_domain: String,
    /// Log level of the controllers.
    pub log_level: String,
    /// Watch every namespace (otherwise only the installation's namespace).
    pub watch_all_namespaces: bool,
    /// Taint keys the controllers' pods tolerate (`operator: Exists`).
    pub toleration_keys: Vec<String>,
    /// Secret the controllers' pods pull their image with.
    pub image_pull_secret: String,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            namespace: "flux-system".into(),
            components: default_components()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            registry: DEFAULT_REGISTRY.into(),
            version: format!("v{}", env!("CARGO_PKG_VERSION")),
            network_policy: true,
            cluster_domain: "cluster.local".into(),
            log_level: "info".into(),
            watch_all_namespaces: true,
            toleration_keys: Vec::new(),
            image_pull_secret: String::new(),
        }
    }
}

/// The CRD kinds each controller owns.
fn crd_kinds(component: &str) -> &'static [&'static gitops_api::KindInfo] {
    gitops_controllers::controller(component).map_or(&[], |c| c.kinds)
}

/// Order of kinds in the output, so that `kubectl apply` creates dependencies first.
const KIND_ORDER: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "CustomResourceDefinition",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Service",
    "Deployment",
    "NetworkPolicy",
];

/// Builds every object of the installation, in apply order (kinds in [`KIND_ORDER`], names
/// sorted within a kind).
pub fn manifests(opts: &InstallOptions) -> anyhow::Result<Vec<Value>> {
    validate(opts)?;
    let ns = opts.namespace.as_str();
    let mut components: Vec<&str> = known_components()
        .into_iter()
        .filter(|c| opts.components.iter().any(|o| o == c))
        .collect();
    components.dedup();

    let mut objs = vec![namespace(opts), critical_pods_quota(opts)];
    let wanted_crds: Vec<String> = components
        .iter()
        .flat_map(|c| crd_kinds(c))
        .map(|i| i.crd_name())
        .collect();
    for crd in gitops_api::all_crds() {
        if wanted_crds
            .iter()
            .any(|n| Some(n) == crd.metadata.name.as_ref())
        {
            let mut v = serde_json::to_value(crd).context("serialising a CRD")?;
            v["metadata"]["labels"] = labels(opts, None);
            objs.push(v);
        }
    }
    for c in &components {
        objs.push(json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": c, "namespace": ns, "labels": labels(opts, Some(c))},
        }));
    }
    objs.extend(rbac(opts, &components));
    for c in &components {
        objs.extend(services(opts, c));
        objs.push(deployment(opts, c));
    }
    if opts.network_policy {
        objs.extend(network_policies(opts, &components));
    }
    objs.sort_by_key(order_key);
    Ok(objs.into_iter().map(canonical).collect())
}

/// Sorts mapping keys, with `apiVersion`, `kind` and `metadata` first at the top level, as
/// Kubernetes tools print objects.
fn canonical(v: Value) -> Value {
    fn sorted(v: Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<(String, Value)> = m.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
            }
            Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
            other => other,
        }
    }
    match sorted(v) {
        Value::Object(mut m) => {
            let mut out = serde_json::Map::new();
            for k in ["apiVersion", "kind", "metadata"] {
                if let Some(v) = m.remove(k) {
                    out.insert(k.to_owned(), v);
                }
            }
            out.extend(m);
            Value::Object(out)
        }
        other => other,
    }
}

fn order_key(v: &Value) -> (usize, String) {
    let kind = v["kind"].as_str().unwrap_or_default();
    let rank = KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len());
    (
        rank,
        v["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn validate(opts: &InstallOptions) -> anyhow::Result<()> {
    if !gitops_api::meta::is_dns1123_label(&opts.namespace) {
        bail!(
            "--namespace {:?}: must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)",
            opts.namespace
        );
    }
    if opts.components.is_empty() {
        bail!("--components: at least one controller is needed");
    }
    for c in &opts.components {
        if !known_components().contains(&c.as_str()) {
            bail!(
                "unknown component {c:?}; known: {}",
                known_components().join(", ")
            );
        }
    }
    if opts.registry.is_empty() || opts.registry.contains(char::is_whitespace) {
        bail!("--registry {:?}: not an image registry", opts.registry);
    }
    let tag_ok = !opts.version.is_empty()
        && opts.version.len() <= 128
        && opts
            .version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !tag_ok {
        bail!("--version {:?}: not a valid image tag", opts.version);
    }
    if !["debug", "info", "warn", "error", "trace"].contains(&opts.log_level.as_str()) {
        bail!(
            "--log-level {:?}: one of trace, debug, info, warn, error",
            opts.log_level
        );
    }
    Ok(())
}

fn labels(opts: &InstallOptions, component: Option<&str>) -> Value {
    let mut l = json!({
        "app.kubernetes.io/instance": opts.namespace,
        "app.kubernetes.io/part-of": "flux",
        "app.kubernetes.io/managed-by": "gitops",
        "app.kubernetes.io/version": opts.version,
    });
    if let Some(c) = component {
        l["app.kubernetes.io/component"] = json!(c);
    }
    l
}

fn namespace(opts: &InstallOptions) -> Value {
    let mut l = labels(opts, None);
    l["pod-security.kubernetes.io/warn"] = json!("restricted");
    l["pod-security.kubernetes.io/warn-version"] = json!("latest");
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": opts.namespace, "labels": l},
    })
}

/// The controllers run with priority class `system-cluster-critical`, which Kubernetes
/// only admits outside `kube-system` when a quota covers it.
fn critical_pods_quota(opts: &InstallOptions) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {
            "name": format!("critical-pods-{}", opts.namespace),
            "namespace": opts.namespace,
            "labels": labels(opts, None),
        },
        "spec": {
            "hard": {"pods": "1000"},
            "scopeSelector": {"matchExpressions": [{
                "operator": "In",
                "scopeName": "PriorityClass",
                "values": ["system-node-critical", "system-cluster-critical"],
            }]},
        },
    })
}

const FLUX_GROUPS: &[&str] = &[
    "source.toolkit.fluxcd.io",
    "kustomize.toolkit.fluxcd.io",
    "helm.toolkit.fluxcd.io",
    "notification.toolkit.fluxcd.io",
    "image.toolkit.fluxcd.io",
    "source.extensions.fluxcd.io",
];

fn rbac(opts: &InstallOptions, components: &[&str]) -> Vec<Value> {
    let ns = opts.namespace.as_str();
    let subjects = |names: &[&str]| -> Vec<Value> {
        names
            .iter()
            .map(|c| json!({"kind": "ServiceAccount", "name": c, "namespace": ns}))
            .collect()
    };
    let mut out = vec![
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": format!("crd-controller-{ns}"), "labels": labels(opts, None)},
            "rules": [
                {"apiGroups": FLUX_GROUPS, "resources": ["*"], "verbs": ["*"]},
                {"apiGroups": [""], "resources": ["namespaces", "secrets", "configmaps", "serviceaccounts"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
                {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "update", "patch", "delete"]},
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]},
            ],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": format!("crd-controller-{ns}"), "labels": labels(opts, None)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("crd-controller-{ns}")},
            "subjects": subjects(components),
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": format!("flux-edit-{ns}"),
                "labels": merge(labels(opts, None), json!({
                    "rbac.authorization.k8s.io/aggregate-to-admin": "true",
                    "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                })),
            },
            "rules": [{"apiGroups": FLUX_GROUPS, "resources": ["*"], "verbs": ["create", "delete", "deletecollection", "patch", "update"]}],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": format!("flux-view-{ns}"),
                "labels": merge(labels(opts, None), json!({
                    "rbac.authorization.k8s.io/aggregate-to-admin": "true",
                    "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                    "rbac.authorization.k8s.io/aggregate-to-view": "true",
                })),
            },
            "rules": [{"apiGroups": FLUX_GROUPS, "resources": ["*"], "verbs": ["get", "list", "watch"]}],
        }),
    ];
    // The appliers act as cluster-admin unless a Kustomization or HelmRelease names a
    // ServiceAccount to impersonate.
    let appliers: Vec<&str> = components
        .iter()
        .copied()
        .filter(|c| matches!(*c, "kustomize-controller" | "helm-controller"))
        .collect();
    if !appliers.is_empty() {
        out.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": format!("cluster-reconciler-{ns}"), "labels": labels(opts, None)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": subjects(&appliers),
        }));
    }
    out
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

fn services(opts: &InstallOptions, component: &str) -> Vec<Value> {
    let svc = |name: &str, target: &str| {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": opts.namespace, "labels": labels(opts, Some(component))},
            "spec": {
                "type": "ClusterIP",
                "selector": {"app": component},
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": target}],
            },
        })
    };
    match component {
        "source-controller" => vec![svc("source-controller", "http")],
        "source-watcher" => vec![svc("source-watcher", "http")],
        "notification-controller" => vec![
            svc("notification-controller", "http"),
            svc("webhook-receiver", "http-webhook"),
        ],
        _ => vec![],
    }
}

fn deployment(opts: &InstallOptions, component: &str) -> Value {
    let ns = opts.namespace.as_str();
    let domain = opts.cluster_domain.as_str();
    let mut args = vec![
        "controller".to_owned(),
        component.to_owned(),
        format!("--watch-all-namespaces={}", opts.watch_all_namespaces),
        format!("--log-level={}", opts.log_level),
        "--log-encoding=json".to_owned(),
        "--metrics-addr=:8080".to_owned(),
        "--health-addr=:9440".to_owned(),
        "--enable-leader-election".to_owned(),
    ];
    if component != "notification-controller"
        && opts
            .components
            .iter()
            .any(|c| c == "notification-controller")
    {
        args.push(format!(
            "--events-addr=http://notification-controller.{ns}.svc.{domain}./"
        ));
    }
    let mut ports = vec![
        json!({"containerPort": 8080, "name": "http-prom", "protocol": "TCP"}),
        json!({"containerPort": 9440, "name": "healthz", "protocol": "TCP"}),
    ];
    let mut mounts = vec![json!({"mountPath": "/tmp", "name": "temp"})];
    let mut volumes = vec![json!({"name": "temp", "emptyDir": {}})];
    match component {
        "source-controller" | "source-watcher" => {
            args.push("--storage-path=/data".into());
            args.push("--storage-addr=:9090".into());
            args.push(format!(
                "--storage-adv-addr={component}.$(RUNTIME_NAMESPACE).svc.{domain}."
            ));
            ports.push(json!({"containerPort": 9090, "name": "http", "protocol": "TCP"}));
            mounts.push(json!({"mountPath": "/data", "name": "data"}));
            volumes.push(json!({"name": "data", "emptyDir": {}}));
        }
        "image-reflector-controller" => {
            // The tag database; an emptyDir as Flux's (a scan rebuilds it).
            args.push("--storage-path=/data".into());
            mounts.push(json!({"mountPath": "/data", "name": "data"}));
            volumes.push(json!({"name": "data", "emptyDir": {}}));
        }
        "notification-controller" => {
            args.push("--events-listen-addr=:9090".into());
            args.push("--receiver-addr=:9292".into());
            ports.push(json!({"containerPort": 9090, "name": "http", "protocol": "TCP"}));
            ports.push(json!({"containerPort": 9292, "name": "http-webhook", "protocol": "TCP"}));
        }
        _ => {}
    }
    let image = format!(
        "{}/gitops:{}",
        opts.registry.trim_end_matches('/'),
        opts.version
    );
    let mut deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": component,
            "namespace": ns,
            "labels": merge(labels(opts, Some(component)), json!({"control-plane": "controller"})),
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": component}},
            "template": {
                "metadata": {
                    "labels": {"app": component},
                    "annotations": {"prometheus.io/port": "8080", "prometheus.io/scrape": "true"},
                },
                "spec": {
                    "serviceAccountName": component,
                    "terminationGracePeriodSeconds": 10,
                    "priorityClassName": "system-cluster-critical",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "securityContext": {"fsGroup": 1337},
                    "containers": [{
                        "name": "manager",
                        "image": image,
                        "command": ["gitops"],
                        "imagePullPolicy": "IfNotPresent",
                        "args": args,
                        "env": [{
                            "name": "RUNTIME_NAMESPACE",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                        }],
                        "ports": ports,
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "healthz"}},
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "healthz"}},
                        "resources": {
                            "requests": {"cpu": "50m", "memory": "32Mi"},
                            "limits": {"cpu": "1000m", "memory": "1Gi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "capabilities": {"drop": ["ALL"]},
                            "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true,
                            "runAsUser": 65534,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
                },
            },
        },
    });
    // As Flux's install patch adds them to every Deployment.
    let pod = &mut deployment["spec"]["template"]["spec"];
    if !opts.image_pull_secret.is_empty() {
        pod["imagePullSecrets"] = json!([{"name": opts.image_pull_secret}]);
    }
    if !opts.toleration_keys.is_empty() {
        pod["tolerations"] = opts
            .toleration_keys
            .iter()
            .map(|k| json!({"key": k, "operator": "Exists"}))
            .collect();
    }
    deployment
}

fn network_policies(opts: &InstallOptions, components: &[&str]) -> Vec<Value> {
    let np = |name: &str, spec: Value| {
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": opts.namespace, "labels": labels(opts, None)},
            "spec": spec,
        })
    };
    let mut out = vec![
        // Controllers reach anything (Git hosts, registries, the API server); in the
        // namespace only the controllers talk to each other.
        np(
            "allow-egress",
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "egress": [{}],
                "ingress": [{"from": [{"podSelector": {}}]}],
            }),
        ),
        // Prometheus may scrape metrics from any namespace.
        np(
            "allow-scraping",
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 8080, "protocol": "TCP"}]}],
            }),
        ),
    ];
    if components.contains(&"notification-controller") {
        // Webhook receivers are reachable from anywhere.
        out.push(np(
            "allow-webhooks",
            json!({
                "podSelector": {"matchLabels": {"app": "notification-controller"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {}}]}],
            }),
        ));
    }
    out
}

/// The installation as one YAML stream with a header comment.
pub fn render(opts: &InstallOptions) -> anyhow::Result<String> {
    let objs = manifests(opts)?;
    let mut out = format!(
        "# gitops {} installation (Flux v2.9 API)\n# Generated by: gitops install --export --namespace={} --components={} --registry={}\n",
        opts.version,
        opts.namespace,
        opts.components.join(","),
        opts.registry,
    );
    for o in &objs {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(o).context("serialising a manifest to YAML")?);
    }
    Ok(out)
}
