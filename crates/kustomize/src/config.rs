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

/// kustomize's `varReference` defaults, kind and path, as kustomize v5.7.1 lists them
/// (including its quirks: no ReplicationController, the CronJob NFS path without `spec`,
/// StatefulSet NFS servers in `volumeClaimTemplates`, Deployment pod template annotations).
const VAR_REFERENCE: &[(&str, &str)] = &[
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/args",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/command",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/env/value",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/containers/volumeMounts/mountPath",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/args",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/command",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/env/value",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    (
        "CronJob",
        "spec/jobTemplate/spec/template/volumes/nfs/server",
    ),
    ("DaemonSet", "spec/template/spec/containers/args"),
    ("DaemonSet", "spec/template/spec/containers/command"),
    ("DaemonSet", "spec/template/spec/containers/env/value"),
    (
        "DaemonSet",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("DaemonSet", "spec/template/spec/initContainers/args"),
    ("DaemonSet", "spec/template/spec/initContainers/command"),
    ("DaemonSet", "spec/template/spec/initContainers/env/value"),
    (
        "DaemonSet",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("DaemonSet", "spec/template/spec/volumes/nfs/server"),
    ("Deployment", "spec/template/spec/containers/args"),
    ("Deployment", "spec/template/spec/containers/command"),
    ("Deployment", "spec/template/spec/containers/env/value"),
    (
        "Deployment",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("Deployment", "spec/template/spec/initContainers/args"),
    ("Deployment", "spec/template/spec/initContainers/command"),
    ("Deployment", "spec/template/spec/initContainers/env/value"),
    (
        "Deployment",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("Deployment", "spec/template/spec/volumes/nfs/server"),
    ("Deployment", "spec/template/metadata/annotations"),
    ("Ingress", "spec/rules/host"),
    ("Ingress", "spec/tls/hosts"),
    ("Ingress", "spec/tls/secretName"),
    ("Job", "spec/template/spec/containers/args"),
    ("Job", "spec/template/spec/containers/command"),
    ("Job", "spec/template/spec/containers/env/value"),
    (
        "Job",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("Job", "spec/template/spec/initContainers/args"),
    ("Job", "spec/template/spec/initContainers/command"),
    ("Job", "spec/template/spec/initContainers/env/value"),
    (
        "Job",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("Job", "spec/template/spec/volumes/nfs/server"),
    ("Pod", "spec/containers/args"),
    ("Pod", "spec/containers/command"),
    ("Pod", "spec/containers/env/value"),
    ("Pod", "spec/containers/volumeMounts/mountPath"),
    ("Pod", "spec/initContainers/args"),
    ("Pod", "spec/initContainers/command"),
    ("Pod", "spec/initContainers/env/value"),
    ("Pod", "spec/initContainers/volumeMounts/mountPath"),
    ("Pod", "spec/volumes/nfs/server"),
    ("ReplicaSet", "spec/template/spec/containers/args"),
    ("ReplicaSet", "spec/template/spec/containers/command"),
    ("ReplicaSet", "spec/template/spec/containers/env/value"),
    (
        "ReplicaSet",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("ReplicaSet", "spec/template/spec/initContainers/args"),
    ("ReplicaSet", "spec/template/spec/initContainers/command"),
    ("ReplicaSet", "spec/template/spec/initContainers/env/value"),
    (
        "ReplicaSet",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("ReplicaSet", "spec/template/spec/volumes/nfs/server"),
    ("Service", "spec/ports/port"),
    ("Service", "spec/ports/targetPort"),
    ("StatefulSet", "spec/template/spec/containers/args"),
    ("StatefulSet", "spec/template/spec/containers/command"),
    ("StatefulSet", "spec/template/spec/containers/env/value"),
    (
        "StatefulSet",
        "spec/template/spec/containers/volumeMounts/mountPath",
    ),
    ("StatefulSet", "spec/template/spec/initContainers/args"),
    ("StatefulSet", "spec/template/spec/initContainers/command"),
    ("StatefulSet", "spec/template/spec/initContainers/env/value"),
    (
        "StatefulSet",
        "spec/template/spec/initContainers/volumeMounts/mountPath",
    ),
    ("StatefulSet", "spec/volumeClaimTemplates/spec/nfs/server"),
    ("PersistentVolume", "spec/nfs/server"),
    ("", "metadata/labels"),
    ("", "metadata/annotations"),
];

fn default_var_reference() -> Vec<FieldSpec> {
    VAR_REFERENCE
        .iter()
        .map(|(kind, path)| FieldSpec::new("", "", kind, path, false))
        .collect()
}

/// Group, version and kind.
type GvkText = (&'static str, &'static str, &'static str);
/// Group, version, kind and path of a field spec.
type SpecText = (&'static str, &'static str, &'static str, &'static str);

/// kustomize v5.7.1's `nameReference` defaults: each referred group/version/kind with the
/// fields (group, version, kind, path) that hold its name, in kustomize's order.
#[rustfmt::skip]
const NAME_REFERENCE: &[(GvkText, &[SpecText])] = &[
    (("", "", "Deployment"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
    ]),
    (("", "", "ReplicationController"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
    ]),
    (("", "", "ReplicaSet"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
    ]),
    (("", "", "StatefulSet"), &[
        ("", "", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name"),
    ]),
    (("", "v1", "ConfigMap"), &[
        ("", "v1", "Pod", "spec/volumes/configMap/name"),
        ("", "v1", "Pod", "spec/containers/env/valueFrom/configMapKeyRef/name"),
        ("", "v1", "Pod", "spec/initContainers/env/valueFrom/configMapKeyRef/name"),
        ("", "v1", "Pod", "spec/containers/envFrom/configMapRef/name"),
        ("", "v1", "Pod", "spec/initContainers/envFrom/configMapRef/name"),
        ("", "v1", "Pod", "spec/volumes/projected/sources/configMap/name"),
        ("", "", "PodTemplate", "template/spec/volumes/configMap/name"),
        ("", "", "PodTemplate", "template/spec/containers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "PodTemplate", "template/spec/initContainers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "PodTemplate", "template/spec/containers/envFrom/configMapRef/name"),
        ("", "", "PodTemplate", "template/spec/initContainers/envFrom/configMapRef/name"),
        ("", "", "PodTemplate", "template/spec/volumes/projected/sources/configMap/name"),
        ("", "", "Deployment", "spec/template/spec/volumes/configMap/name"),
        ("", "", "Deployment", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "Deployment", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "Deployment", "spec/template/spec/containers/envFrom/configMapRef/name"),
        ("", "", "Deployment", "spec/template/spec/initContainers/envFrom/configMapRef/name"),
        ("", "", "Deployment", "spec/template/spec/volumes/projected/sources/configMap/name"),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/configMap/name"),
        ("", "", "ReplicaSet", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "ReplicaSet", "spec/template/spec/containers/envFrom/configMapRef/name"),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/envFrom/configMapRef/name"),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/projected/sources/configMap/name"),
        ("", "", "DaemonSet", "spec/template/spec/volumes/configMap/name"),
        ("", "", "DaemonSet", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "DaemonSet", "spec/template/spec/containers/envFrom/configMapRef/name"),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/envFrom/configMapRef/name"),
        ("", "", "DaemonSet", "spec/template/spec/volumes/projected/sources/configMap/name"),
        ("", "", "StatefulSet", "spec/template/spec/volumes/configMap/name"),
        ("", "", "StatefulSet", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "StatefulSet", "spec/template/spec/containers/envFrom/configMapRef/name"),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/envFrom/configMapRef/name"),
        ("", "", "StatefulSet", "spec/template/spec/volumes/projected/sources/configMap/name"),
        ("", "", "Job", "spec/template/spec/volumes/configMap/name"),
        ("", "", "Job", "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "Job", "spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "Job", "spec/template/spec/containers/envFrom/configMapRef/name"),
        ("", "", "Job", "spec/template/spec/initContainers/envFrom/configMapRef/name"),
        ("", "", "Job", "spec/template/spec/volumes/projected/sources/configMap/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/configMap/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/projected/sources/configMap/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/env/valueFrom/configMapKeyRef/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/envFrom/configMapRef/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/envFrom/configMapRef/name"),
        ("", "", "Node", "spec/configSource/configMap"),
        ("", "", "Role", "rules/resourceNames"),
        ("", "", "ClusterRole", "rules/resourceNames"),
        ("", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap"),
    ]),
    (("", "v1", "Secret"), &[
        ("", "v1", "Pod", "spec/volumes/secret/secretName"),
        ("", "v1", "Pod", "spec/containers/env/valueFrom/secretKeyRef/name"),
        ("", "v1", "Pod", "spec/initContainers/env/valueFrom/secretKeyRef/name"),
        ("", "v1", "Pod", "spec/containers/envFrom/secretRef/name"),
        ("", "v1", "Pod", "spec/initContainers/envFrom/secretRef/name"),
        ("", "v1", "Pod", "spec/imagePullSecrets/name"),
        ("", "v1", "Pod", "spec/volumes/projected/sources/secret/name"),
        ("", "", "PodTemplate", "template/spec/volumes/secret/secretName"),
        ("", "", "PodTemplate", "template/spec/containers/env/valueFrom/secretKeyRef/name"),
        ("", "", "PodTemplate", "template/spec/initContainers/env/valueFrom/secretKeyRef/name"),
        ("", "", "PodTemplate", "template/spec/containers/envFrom/secretRef/name"),
        ("", "", "PodTemplate", "template/spec/initContainers/envFrom/secretRef/name"),
        ("", "", "PodTemplate", "template/spec/imagePullSecrets/name"),
        ("", "", "PodTemplate", "template/spec/volumes/projected/sources/secret/name"),
        ("", "", "Deployment", "spec/template/spec/volumes/secret/secretName"),
        ("", "", "Deployment", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name"),
        ("", "", "Deployment", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name"),
        ("", "", "Deployment", "spec/template/spec/containers/envFrom/secretRef/name"),
        ("", "", "Deployment", "spec/template/spec/initContainers/envFrom/secretRef/name"),
        ("", "", "Deployment", "spec/template/spec/imagePullSecrets/name"),
        ("", "", "Deployment", "spec/template/spec/volumes/projected/sources/secret/name"),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/secret/secretName"),
        ("", "", "ReplicaSet", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name"),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name"),
        ("", "", "ReplicaSet", "spec/template/spec/containers/envFrom/secretRef/name"),
        ("", "", "ReplicaSet", "spec/template/spec/initContainers/envFrom/secretRef/name"),
        ("", "", "ReplicaSet", "spec/template/spec/imagePullSecrets/name"),
        ("", "", "ReplicaSet", "spec/template/spec/volumes/projected/sources/secret/name"),
        ("", "", "DaemonSet", "spec/template/spec/volumes/secret/secretName"),
        ("", "", "DaemonSet", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name"),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name"),
        ("", "", "DaemonSet", "spec/template/spec/containers/envFrom/secretRef/name"),
        ("", "", "DaemonSet", "spec/template/spec/initContainers/envFrom/secretRef/name"),
        ("", "", "DaemonSet", "spec/template/spec/imagePullSecrets/name"),
        ("", "", "DaemonSet", "spec/template/spec/volumes/projected/sources/secret/name"),
        ("", "", "StatefulSet", "spec/template/spec/volumes/secret/secretName"),
        ("", "", "StatefulSet", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name"),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name"),
        ("", "", "StatefulSet", "spec/template/spec/containers/envFrom/secretRef/name"),
        ("", "", "StatefulSet", "spec/template/spec/initContainers/envFrom/secretRef/name"),
        ("", "", "StatefulSet", "spec/template/spec/imagePullSecrets/name"),
        ("", "", "StatefulSet", "spec/template/spec/volumes/projected/sources/secret/name"),
        ("", "", "Job", "spec/template/spec/volumes/secret/secretName"),
        ("", "", "Job", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name"),
        ("", "", "Job", "spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name"),
        ("", "", "Job", "spec/template/spec/containers/envFrom/secretRef/name"),
        ("", "", "Job", "spec/template/spec/initContainers/envFrom/secretRef/name"),
        ("", "", "Job", "spec/template/spec/imagePullSecrets/name"),
        ("", "", "Job", "spec/template/spec/volumes/projected/sources/secret/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/secret/secretName"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/projected/sources/secret/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/env/valueFrom/secretKeyRef/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/env/valueFrom/secretKeyRef/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/containers/envFrom/secretRef/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/initContainers/envFrom/secretRef/name"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/imagePullSecrets/name"),
        ("", "", "Ingress", "spec/tls/secretName"),
        ("", "", "Ingress", "metadata/annotations/ingress.kubernetes.io\\/auth-secret"),
        ("", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret"),
        ("", "", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret"),
        ("", "", "Ingress", "spec/tls/secretName"),
        ("", "", "ServiceAccount", "imagePullSecrets/name"),
        ("", "", "StorageClass", "parameters/secretName"),
        ("", "", "StorageClass", "parameters/adminSecretName"),
        ("", "", "StorageClass", "parameters/userSecretName"),
        ("", "", "StorageClass", "parameters/secretRef"),
        ("", "", "Role", "rules/resourceNames"),
        ("", "", "ClusterRole", "rules/resourceNames"),
        ("serving.knative.dev", "v1", "Service", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name"),
        ("", "", "PersistentVolume", "spec/azureFile/secretName"),
    ]),
    (("", "v1", "Service"), &[
        ("apps", "", "StatefulSet", "spec/serviceName"),
        ("", "", "Ingress", "spec/rules/http/paths/backend/serviceName"),
        ("", "", "Ingress", "spec/backend/serviceName"),
        ("", "", "Ingress", "spec/rules/http/paths/backend/service/name"),
        ("", "", "Ingress", "spec/defaultBackend/service/name"),
        ("apiregistration.k8s.io", "", "APIService", "spec/service/name"),
        ("admissionregistration.k8s.io", "", "ValidatingWebhookConfiguration", "webhooks/clientConfig/service"),
        ("admissionregistration.k8s.io", "", "MutatingWebhookConfiguration", "webhooks/clientConfig/service"),
    ]),
    (("rbac.authorization.k8s.io", "", "Role"), &[
        ("rbac.authorization.k8s.io", "", "RoleBinding", "roleRef/name"),
    ]),
    (("rbac.authorization.k8s.io", "", "ClusterRole"), &[
        ("rbac.authorization.k8s.io", "", "RoleBinding", "roleRef/name"),
        ("rbac.authorization.k8s.io", "", "ClusterRoleBinding", "roleRef/name"),
    ]),
    (("", "v1", "ServiceAccount"), &[
        ("rbac.authorization.k8s.io", "", "RoleBinding", "subjects"),
        ("rbac.authorization.k8s.io", "", "ClusterRoleBinding", "subjects"),
        ("", "", "Pod", "spec/serviceAccountName"),
        ("", "", "StatefulSet", "spec/template/spec/serviceAccountName"),
        ("", "", "Deployment", "spec/template/spec/serviceAccountName"),
        ("", "", "ReplicationController", "spec/template/spec/serviceAccountName"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/serviceAccountName"),
        ("", "", "Job", "spec/template/spec/serviceAccountName"),
        ("", "", "DaemonSet", "spec/template/spec/serviceAccountName"),
    ]),
    (("", "v1", "PersistentVolumeClaim"), &[
        ("", "", "Pod", "spec/volumes/persistentVolumeClaim/claimName"),
        ("", "", "StatefulSet", "spec/template/spec/volumes/persistentVolumeClaim/claimName"),
        ("", "", "Deployment", "spec/template/spec/volumes/persistentVolumeClaim/claimName"),
        ("", "", "ReplicationController", "spec/template/spec/volumes/persistentVolumeClaim/claimName"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/volumes/persistentVolumeClaim/claimName"),
        ("", "", "Job", "spec/template/spec/volumes/persistentVolumeClaim/claimName"),
        ("", "", "DaemonSet", "spec/template/spec/volumes/persistentVolumeClaim/claimName"),
    ]),
    (("", "v1", "PersistentVolume"), &[
        ("", "", "PersistentVolumeClaim", "spec/volumeName"),
        ("", "", "ClusterRole", "rules/resourceNames"),
    ]),
    (("storage.k8s.io", "v1", "StorageClass"), &[
        ("", "", "PersistentVolume", "spec/storageClassName"),
        ("", "", "PersistentVolumeClaim", "spec/storageClassName"),
        ("", "", "StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName"),
    ]),
    (("scheduling.k8s.io", "v1", "PriorityClass"), &[
        ("", "", "Pod", "spec/priorityClassName"),
        ("", "", "StatefulSet", "spec/template/spec/priorityClassName"),
        ("", "", "Deployment", "spec/template/spec/priorityClassName"),
        ("", "", "ReplicationController", "spec/template/spec/priorityClassName"),
        ("", "", "CronJob", "spec/jobTemplate/spec/template/spec/priorityClassName"),
        ("", "", "Job", "spec/template/spec/priorityClassName"),
        ("", "", "DaemonSet", "spec/template/spec/priorityClassName"),
    ]),
    (("networking.k8s.io/v1", "v1", "IngressClass"), &[
        ("", "", "Ingress", "spec/ingressClassName"),
    ]),
    (("admissionregistration.k8s.io", "", "ValidatingAdmissionPolicy"), &[
        ("admissionregistration.k8s.io", "", "ValidatingAdmissionPolicyBinding", "spec/policyName"),
    ]),
];

fn default_name_reference() -> Vec<NameBackRef> {
    NAME_REFERENCE
        .iter()
        .map(|((g, v, k), specs)| NameBackRef {
            gvk: Gvk {
                group: g.to_string(),
                version: v.to_string(),
                kind: k.to_string(),
            },
            field_specs: specs
                .iter()
                .map(|(g, v, k, p)| FieldSpec::new(g, v, k, p, false))
                .collect(),
        })
        .collect()
}
