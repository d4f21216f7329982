//! Transformer configuration: which fields each transformer touches (kustomize's
//! "field specs"), the built-in defaults, and custom `configurations` files.

use crate::error::{Error, Result};
use crate::resource::Gvk;
use crate::yaml::Value;

/// A field path, optionally limited to a GVK, and whether to create it when missing.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldSpec {
    /// Which objects (empty parts match anything).
    pub gvk: Gvk,
    /// `/`-separated path (`\/` escapes a slash); `name[]` marks a sequence.
    pub path: String,
    /// Create the field when missing.
    pub create: bool,
}

impl FieldSpec {
    fn new(group: &str, version: &str, kind: &str, path: &str, create: bool) -> FieldSpec {
        FieldSpec {
            gvk: Gvk {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
            },
            path: path.into(),
            create,
        }
    }

    /// Parses one field spec from its YAML form.
    pub fn from_value(v: &Value) -> Result<FieldSpec> {
        let s = |k: &str| v.get(k).and_then(Value::scalar_string).unwrap_or_default();
        let create = matches!(v.get("create"), Some(Value::Bool(true)));
        if v.as_map().is_none() {
            return Err(Error::msg("field spec must be a mapping"));
        }
        Ok(FieldSpec::new(
            &s("group"),
            &s("version"),
            &s("kind"),
            &s("path"),
            create,
        ))
    }

    /// The path split into segments.
    pub fn segments(&self) -> Vec<String> {
        split_path(&self.path)
    }
}

/// Splits a field path on `/`, honouring `\/` escapes.
pub fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'/') {
            cur.push('/');
            chars.next();
        } else if c == '/' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out.retain(|s| !s.is_empty());
    out
}

/// A kind whose name other objects refer to, and the fields that refer to it.
#[derive(Clone, Debug, PartialEq)]
pub struct NameBackRef {
    /// The referred kind.
    pub gvk: Gvk,
    /// Fields holding references.
    pub field_specs: Vec<FieldSpec>,
}

/// The field specs of every built-in transformer.
#[derive(Clone, Debug, Default)]
pub struct TransformerConfig {
    /// namePrefix / nameSuffix fields.
    pub name_prefix: Vec<FieldSpec>,
    /// nameSuffix fields (kustomize keeps them separate).
    pub name_suffix: Vec<FieldSpec>,
    /// namespace fields.
    pub namespace: Vec<FieldSpec>,
    /// commonLabels fields (labels and selectors).
    pub common_labels: Vec<FieldSpec>,
    /// labels with includeTemplates.
    pub template_labels: Vec<FieldSpec>,
    /// commonAnnotations fields.
    pub common_annotations: Vec<FieldSpec>,
    /// Name references.
    pub name_reference: Vec<NameBackRef>,
    /// Fields where `$(VAR)` is replaced.
    pub var_reference: Vec<FieldSpec>,
    /// Image fields.
    pub images: Vec<FieldSpec>,
    /// Replica count fields.
    pub replicas: Vec<FieldSpec>,
}

fn merge_fs(into: &mut Vec<FieldSpec>, from: &[FieldSpec]) -> Result<()> {
    for fs in from {
        // a more specific spec for the same path takes the place of a general one
        if let Some(general) = into
            .iter_mut()
            .find(|e| e.path == fs.path && e.gvk != fs.gvk && fs.gvk.is_selected(&e.gvk))
        {
            *general = fs.clone();
            continue;
        }
        if let Some(existing) = into
            .iter_mut()
            .find(|e| e.gvk == fs.gvk && e.path == fs.path)
        {
            if existing.create != fs.create {
                // kustomize errors on conflicting create flags; keep the stronger one
                existing.create = existing.create || fs.create;
            }
            continue;
        }
        into.push(fs.clone());
    }
    Ok(())
}

impl TransformerConfig {
    /// An empty configuration.
    pub fn empty() -> TransformerConfig {
        TransformerConfig::default()
    }

    /// Merges another configuration into this one (duplicates dropped).
    pub fn merge(&mut self, o: &TransformerConfig) -> Result<()> {
        merge_fs(&mut self.name_prefix, &o.name_prefix)?;
        merge_fs(&mut self.name_suffix, &o.name_suffix)?;
        merge_fs(&mut self.namespace, &o.namespace)?;
        merge_fs(&mut self.common_labels, &o.common_labels)?;
        merge_fs(&mut self.template_labels, &o.template_labels)?;
        merge_fs(&mut self.common_annotations, &o.common_annotations)?;
        merge_fs(&mut self.var_reference, &o.var_reference)?;
        merge_fs(&mut self.images, &o.images)?;
        merge_fs(&mut self.replicas, &o.replicas)?;
        for nb in &o.name_reference {
            if let Some(e) = self.name_reference.iter_mut().find(|e| e.gvk == nb.gvk) {
                merge_fs(&mut e.field_specs, &nb.field_specs)?;
            } else {
                self.name_reference.push(nb.clone());
            }
        }
        Ok(())
    }

    /// Parses a `configurations` file.
    pub fn from_value(v: &Value) -> Result<TransformerConfig> {
        let mut tc = TransformerConfig::default();
        let Some(m) = v.as_map() else {
            if v.is_null() {
                return Ok(tc);
            }
            return Err(Error::msg("transformer configuration must be a mapping"));
        };
        let list = |v: &Value| -> Result<Vec<FieldSpec>> {
            match v {
                Value::Seq(items) => items.iter().map(FieldSpec::from_value).collect(),
                Value::Null => Ok(Vec::new()),
                _ => Err(Error::msg("expected a list of field specs")),
            }
        };
        for (k, val) in m {
            match k.as_str() {
                "namePrefix" => tc.name_prefix = list(val)?,
                "nameSuffix" => tc.name_suffix = list(val)?,
                "namespace" => tc.namespace = list(val)?,
                "commonLabels" => tc.common_labels = list(val)?,
                "templateLabels" => tc.template_labels = list(val)?,
                "commonAnnotations" => tc.common_annotations = list(val)?,
                "varReference" => tc.var_reference = list(val)?,
                "images" => tc.images = list(val)?,
                "replicas" => tc.replicas = list(val)?,
                "nameReference" => {
                    for item in val.as_seq().map(Vec::as_slice).unwrap_or(&[]) {
                        let s = |k: &str| {
                            item.get(k)
                                .and_then(Value::scalar_string)
                                .unwrap_or_default()
                        };
                        let fss = match item.get("fieldSpecs") {
                            Some(v) => list(v)?,
                            None => Vec::new(),
                        };
                        let nb = NameBackRef {
                            gvk: Gvk {
                                group: s("group"),
                                version: s("version"),
                                kind: s("kind"),
                            },
                            field_specs: fss,
                        };
                        if let Some(e) = tc.name_reference.iter_mut().find(|e| e.gvk == nb.gvk) {
                            merge_fs(&mut e.field_specs, &nb.field_specs)?;
                        } else {
                            tc.name_reference.push(nb);
                        }
                    }
                }
                other => {
                    return Err(Error::msg(format!(
                        "unknown field '{other}' in transformer configuration"
                    )));
                }
            }
        }
        Ok(tc)
    }

    /// kustomize's built-in defaults.
    pub fn defaults() -> TransformerConfig {
        let fs = FieldSpec::new;
        let mut tc = TransformerConfig {
            name_prefix: vec![fs("", "", "", "metadata/name", false)],
            name_suffix: vec![fs("", "", "", "metadata/name", false)],
            ..Default::default()
        };
        tc.namespace = vec![
            fs("", "", "", "metadata/namespace", true),
            fs(
                "apiregistration.k8s.io",
                "",
                "APIService",
                "spec/service/namespace",
                false,
            ),
            fs(
                "apiextensions.k8s.io",
                "",
                "CustomResourceDefinition",
                "spec/conversion/webhook/clientConfig/service/namespace",
                false,
            ),
        ];
        // labels
        let mut cl = vec![
            fs("", "", "", "metadata/labels", true),
            fs("", "v1", "Service", "spec/selector", true),
            fs("", "v1", "ReplicationController", "spec/selector", true),
            fs(
                "",
                "v1",
                "ReplicationController",
                "spec/template/metadata/labels",
                true,
            ),
            fs("", "", "Deployment", "spec/selector/matchLabels", true),
            fs("", "", "Deployment", "spec/template/metadata/labels", true),
        ];
        let affinity = [
            "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
        ];
        for p in affinity {
            cl.push(fs("apps", "", "Deployment", p, false));
        }
        cl.extend([
            fs("", "", "ReplicaSet", "spec/selector/matchLabels", true),
            fs("", "", "ReplicaSet", "spec/template/metadata/labels", true),
            fs("", "", "DaemonSet", "spec/selector/matchLabels", true),
            fs("", "", "DaemonSet", "spec/template/metadata/labels", true),
            fs("apps", "", "StatefulSet", "spec/selector/matchLabels", true),
            fs(
                "apps",
                "",
                "StatefulSet",
                "spec/template/metadata/labels",
                true,
            ),
        ]);
        for p in affinity {
            cl.push(fs("apps", "", "StatefulSet", p, false));
        }
        cl.extend([
            fs(
                "apps",
                "",
                "StatefulSet",
                "spec/volumeClaimTemplates[]/metadata/labels",
                true,
            ),
            fs("batch", "", "Job", "spec/selector/matchLabels", false),
            fs("batch", "", "Job", "spec/template/metadata/labels", true),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/selector/matchLabels",
                false,
            ),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/metadata/labels",
                true,
            ),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/metadata/labels",
                true,
            ),
            fs(
                "policy",
                "",
                "PodDisruptionBudget",
                "spec/selector/matchLabels",
                false,
            ),
            fs(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/podSelector/matchLabels",
                false,
            ),
            fs(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/ingress/from/podSelector/matchLabels",
                false,
            ),
            fs(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/egress/to/podSelector/matchLabels",
                false,
            ),
        ]);
        tc.common_labels = cl;
        tc.template_labels = vec![
            fs(
                "",
                "v1",
                "ReplicationController",
                "spec/template/metadata/labels",
                true,
            ),
            fs("", "", "Deployment", "spec/template/metadata/labels", true),
            fs("", "", "ReplicaSet", "spec/template/metadata/labels", true),
            fs("", "", "DaemonSet", "spec/template/metadata/labels", true),
            fs(
                "apps",
                "",
                "StatefulSet",
                "spec/template/metadata/labels",
                true,
            ),
            fs(
                "apps",
                "",
                "StatefulSet",
                "spec/volumeClaimTemplates[]/metadata/labels",
                true,
            ),
            fs("batch", "", "Job", "spec/template/metadata/labels", true),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/metadata/labels",
                true,
            ),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/metadata/labels",
                true,
            ),
        ];
        tc.common_annotations = vec![
            fs("", "", "", "metadata/annotations", true),
            fs(
                "",
                "v1",
                "ReplicationController",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "",
                "",
                "Deployment",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "",
                "",
                "ReplicaSet",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "",
                "",
                "DaemonSet",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "apps",
                "",
                "StatefulSet",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "batch",
                "",
                "Job",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/metadata/annotations",
                true,
            ),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/metadata/annotations",
                true,
            ),
        ];
        tc.images = vec![
            fs("", "", "", "spec/containers[]/image", true),
            fs("", "", "", "spec/initContainers[]/image", true),
            fs("", "", "", "spec/template/spec/containers[]/image", true),
            fs(
                "",
                "",
                "",
                "spec/template/spec/initContainers[]/image",
                true,
            ),
        ];
        tc.replicas = vec![
            fs("", "", "Deployment", "spec/replicas", true),
            fs("", "", "ReplicationController", "spec/replicas", true),
            fs("", "", "ReplicaSet", "spec/replicas", true),
            fs("", "", "StatefulSet", "spec/replicas", true),
        ];
        tc.var_reference = default_var_reference();
        tc.name_reference = default_name_reference();
        tc
    }
}

/// Workload kinds and the path prefix to their pod spec.
const POD_TEMPLATES: &[(&str, &str, &str)] = &[
    ("", "Deployment", "spec/template/spec"),
    ("", "ReplicaSet", "spec/template/spec"),
    ("", "DaemonSet", "spec/template/spec"),
    ("", "StatefulSet", "spec/template/spec"),
    ("", "Job", "spec/template/spec"),
    ("", "CronJob", "spec/jobTemplate/spec/template/spec"),
    ("", "ReplicationController", "spec/template/spec"),
];

fn pod_paths(suffixes: &[&str], out: &mut Vec<FieldSpec>, pod_version: &str) {
    for s in suffixes {
        out.push(FieldSpec::new(
            "",
            pod_version,
            "Pod",
            &format!("spec/{s}"),
            false,
        ));
    }
    for (g, k, prefix) in POD_TEMPLATES {
        for s in suffixes {
            out.push(FieldSpec::new(g, "", k, &format!("{prefix}/{s}"), false));
        }
    }
}

fn default_var_reference() -> Vec<FieldSpec> {
    let mut v = Vec::new();
    let container = [
        "containers/args",
        "containers/command",
        "containers/env/value",
        "containers/volumeMounts/mountPath",
        "initContainers/args",
        "initContainers/command",
        "initContainers/env/value",
        "initContainers/volumeMounts/mountPath",
    ];
    pod_paths(&container, &mut v, "");
    let fs = FieldSpec::new;
    v.extend([
        fs("", "", "Ingress", "spec/rules/host", false),
        fs("", "", "Ingress", "spec/tls/hosts", false),
        fs("", "", "Ingress", "spec/tls/secretName", false),
        fs("", "", "", "metadata/annotations", false),
        fs("", "", "", "metadata/labels", false),
        fs("", "", "Pod", "spec/volumes/nfs/server", false),
        fs(
            "",
            "",
            "Deployment",
            "spec/template/spec/volumes/nfs/server",
            false,
        ),
        fs(
            "",
            "",
            "StatefulSet",
            "spec/template/spec/volumes/nfs/server",
            false,
        ),
        fs(
            "",
            "",
            "DaemonSet",
            "spec/template/spec/volumes/nfs/server",
            false,
        ),
        fs(
            "",
            "",
            "ReplicaSet",
            "spec/template/spec/volumes/nfs/server",
            false,
        ),
        fs(
            "",
            "",
            "Job",
            "spec/template/spec/volumes/nfs/server",
            false,
        ),
        fs(
            "",
            "",
            "CronJob",
            "spec/jobTemplate/spec/template/spec/volumes/nfs/server",
            false,
        ),
        fs("", "", "Service", "spec/ports/port", false),
        fs("", "", "Service", "spec/ports/targetPort", false),
    ]);
    v
}

fn default_name_reference() -> Vec<NameBackRef> {
    let fs = FieldSpec::new;
    let gvk = |g: &str, v: &str, k: &str| Gvk {
        group: g.into(),
        version: v.into(),
        kind: k.into(),
    };
    let mut out = Vec::new();
    let scale = |k: &str| NameBackRef {
        gvk: gvk("", "", k),
        field_specs: vec![fs(
            "",
            "",
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
            false,
        )],
    };
    out.push(scale("Deployment"));
    out.push(scale("ReplicationController"));
    out.push(scale("ReplicaSet"));
    out.push(scale("StatefulSet"));

    let mut cm = Vec::new();
    pod_paths(
        &[
            "volumes/configMap/name",
            "containers/env/valueFrom/configMapKeyRef/name",
            "initContainers/env/valueFrom/configMapKeyRef/name",
            "containers/envFrom/configMapRef/name",
            "initContainers/envFrom/configMapRef/name",
            "volumes/projected/sources/configMap/name",
        ],
        &mut cm,
        "v1",
    );
    cm.extend([
        fs("", "", "Node", "spec/configSource/configMap", false),
        fs(
            "rbac.authorization.k8s.io",
            "",
            "Role",
            "rules/resourceNames",
            false,
        ),
        fs(
            "rbac.authorization.k8s.io",
            "",
            "ClusterRole",
            "rules/resourceNames",
            false,
        ),
    ]);
    out.push(NameBackRef {
        gvk: gvk("", "v1", "ConfigMap"),
        field_specs: cm,
    });

    let mut sec = Vec::new();
    pod_paths(
        &[
            "volumes/secret/secretName",
            "containers/env/valueFrom/secretKeyRef/name",
            "initContainers/env/valueFrom/secretKeyRef/name",
            "containers/envFrom/secretRef/name",
            "initContainers/envFrom/secretRef/name",
            "imagePullSecrets/name",
            "volumes/projected/sources/secret/name",
        ],
        &mut sec,
        "v1",
    );
    sec.extend([
        fs("", "", "Ingress", "spec/tls/secretName", false),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
            false,
        ),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
            false,
        ),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
            false,
        ),
        fs("", "", "ServiceAccount", "imagePullSecrets/name", false),
        fs("", "", "ServiceAccount", "secrets/name", false),
        fs(
            "rbac.authorization.k8s.io",
            "",
            "Role",
            "rules/resourceNames",
            false,
        ),
        fs(
            "rbac.authorization.k8s.io",
            "",
            "ClusterRole",
            "rules/resourceNames",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/azureFile/secretName",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/csi/controllerExpandSecretRef/name",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/csi/controllerPublishSecretRef/name",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/csi/nodePublishSecretRef/name",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/csi/nodeStageSecretRef/name",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/cephfs/secretRef/name",
            false,
        ),
        fs("", "", "PersistentVolume", "spec/rbd/secretRef/name", false),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/flexVolume/secretRef/name",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/iscsi/secretRef/name",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/scaleIO/secretRef/name",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/storageos/secretRef/name",
            false,
        ),
        fs(
            "snapshot.storage.k8s.io",
            "",
            "VolumeSnapshotClass",
            "parameters/csi.storage.k8s.io\\/snapshotter-secret-name",
            false,
        ),
        fs(
            "storage.k8s.io",
            "",
            "StorageClass",
            "parameters/csi.storage.k8s.io\\/provisioner-secret-name",
            false,
        ),
        fs(
            "storage.k8s.io",
            "",
            "StorageClass",
            "parameters/csi.storage.k8s.io\\/node-stage-secret-name",
            false,
        ),
        fs(
            "storage.k8s.io",
            "",
            "StorageClass",
            "parameters/csi.storage.k8s.io\\/node-publish-secret-name",
            false,
        ),
        fs(
            "storage.k8s.io",
            "",
            "StorageClass",
            "parameters/csi.storage.k8s.io\\/controller-publish-secret-name",
            false,
        ),
        fs(
            "storage.k8s.io",
            "",
            "StorageClass",
            "parameters/csi.storage.k8s.io\\/controller-expand-secret-name",
            false,
        ),
    ]);
    out.push(NameBackRef {
        gvk: gvk("", "v1", "Secret"),
        field_specs: sec,
    });

    out.push(NameBackRef {
        gvk: gvk("", "v1", "Service"),
        field_specs: vec![
            fs("apps", "", "StatefulSet", "spec/serviceName", false),
            fs(
                "",
                "",
                "Ingress",
                "spec/rules/http/paths/backend/serviceName",
                false,
            ),
            fs("", "", "Ingress", "spec/backend/serviceName", false),
            fs(
                "",
                "",
                "Ingress",
                "spec/rules/http/paths/backend/service/name",
                false,
            ),
            fs("", "", "Ingress", "spec/defaultBackend/service/name", false),
            fs(
                "apiregistration.k8s.io",
                "",
                "APIService",
                "spec/service/name",
                false,
            ),
            fs(
                "admissionregistration.k8s.io",
                "",
                "ValidatingWebhookConfiguration",
                "webhooks/clientConfig/service",
                false,
            ),
            fs(
                "admissionregistration.k8s.io",
                "",
                "MutatingWebhookConfiguration",
                "webhooks/clientConfig/service",
                false,
            ),
            fs(
                "apiextensions.k8s.io",
                "",
                "CustomResourceDefinition",
                "spec/conversion/webhook/clientConfig/service",
                false,
            ),
            fs(
                "monitoring.coreos.com",
                "",
                "ServiceMonitor",
                "spec/targetLabels",
                false,
            ),
        ],
    });
    out.push(NameBackRef {
        gvk: gvk("rbac.authorization.k8s.io", "", "Role"),
        field_specs: vec![fs(
            "rbac.authorization.k8s.io",
            "",
            "RoleBinding",
            "roleRef/name",
            false,
        )],
    });
    out.push(NameBackRef {
        gvk: gvk("rbac.authorization.k8s.io", "", "ClusterRole"),
        field_specs: vec![
            fs(
                "rbac.authorization.k8s.io",
                "",
                "RoleBinding",
                "roleRef/name",
                false,
            ),
            fs(
                "rbac.authorization.k8s.io",
                "",
                "ClusterRoleBinding",
                "roleRef/name",
                false,
            ),
        ],
    });
    let mut sa = vec![
        fs(
            "rbac.authorization.k8s.io",
            "",
            "RoleBinding",
            "subjects",
            false,
        ),
        fs(
            "rbac.authorization.k8s.io",
            "",
            "ClusterRoleBinding",
            "subjects",
            false,
        ),
        fs("", "", "Pod", "spec/serviceAccountName", false),
    ];
    for (g, k, prefix) in POD_TEMPLATES {
        sa.push(fs(g, "", k, &format!("{prefix}/serviceAccountName"), false));
    }
    out.push(NameBackRef {
        gvk: gvk("", "v1", "ServiceAccount"),
        field_specs: sa,
    });
    let mut pvc = vec![fs(
        "",
        "",
        "Pod",
        "spec/volumes/persistentVolumeClaim/claimName",
        false,
    )];
    for (g, k, prefix) in POD_TEMPLATES {
        pvc.push(fs(
            g,
            "",
            k,
            &format!("{prefix}/volumes/persistentVolumeClaim/claimName"),
            false,
        ));
    }
    out.push(NameBackRef {
        gvk: gvk("", "v1", "PersistentVolumeClaim"),
        field_specs: pvc,
    });
    out.push(NameBackRef {
        gvk: gvk("", "v1", "PersistentVolume"),
        field_specs: vec![
            fs("", "", "PersistentVolumeClaim", "spec/volumeName", false),
            fs(
                "rbac.authorization.k8s.io",
                "",
                "ClusterRole",
                "rules/resourceNames",
                false,
            ),
        ],
    });
    out.push(NameBackRef {
        gvk: gvk("storage.k8s.io", "", "StorageClass"),
        field_specs: vec![
            fs("", "", "PersistentVolume", "spec/storageClassName", false),
            fs(
                "",
                "",
                "PersistentVolumeClaim",
                "spec/storageClassName",
                false,
            ),
            fs(
                "",
                "",
                "StatefulSet",
                "spec/volumeClaimTemplates/spec/storageClassName",
                false,
            ),
        ],
    });
    let mut pc = vec![fs("", "", "Pod", "spec/priorityClassName", false)];
    for (g, k, prefix) in POD_TEMPLATES {
        pc.push(fs(g, "", k, &format!("{prefix}/priorityClassName"), false));
    }
    out.push(NameBackRef {
        gvk: gvk("scheduling.k8s.io", "", "PriorityClass"),
        field_specs: pc,
    });
    out.push(NameBackRef {
        gvk: gvk("networking.k8s.io", "", "IngressClass"),
        field_specs: vec![fs("", "", "Ingress", "spec/ingressClassName", false)],
    });
    out.push(NameBackRef {
        gvk: gvk(
            "admissionregistration.k8s.io",
            "",
            "ValidatingAdmissionPolicy",
        ),
        field_specs: vec![fs(
            "admissionregistration.k8s.io",
            "",
            "ValidatingAdmissionPolicyBinding",
            "spec/policyName",
            false,
        )],
    });
    out
}
