//! Rendering: template values (`.Values`, `.Release`, `.Chart`, `.Capabilities`, `.Files`),
//! executing every template, sorting manifests in install order, hooks and `helm template`
//! output.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use serde_json::Value as J;

use crate::ahead::ParseAhead;
use crate::chart::{Chart, Contents, File, text_of};
use crate::error::Error;
use crate::template::{Exec, Tree};
use crate::value::{Object, Value};
use crate::values::{self, Values};

/// The annotation that makes a manifest a hook.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";

/// Kubernetes API group/versions Helm reports in template mode.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// Kinds in the order Helm installs them.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Release and cluster settings for a render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// Release revision (1 for installs).
    pub revision: i64,
    /// Whether this is an upgrade.
    pub is_upgrade: bool,
    /// Kubernetes version reported by `.Capabilities.KubeVersion` (e.g. `v1.35.0`).
    pub kube_version: String,
    /// Extra API versions for `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
    /// Include `crds/` files in the manifest output.
    pub include_crds: bool,
    /// Skip test hooks in the output.
    pub skip_tests: bool,
    /// Skip hooks entirely.
    pub disable_hooks: bool,
    /// The process ends right after this render (the `helm template` command): leave the
    /// parsed templates, values and chart copy to the operating system instead of freeing
    /// them one allocation at a time, which costs a tenth of a small render. A long-running
    /// program must leave it off, or it leaks every render.
    pub one_shot: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            name: "release-name".into(),
            namespace: "default".into(),
            revision: 1,
            is_upgrade: false,
            kube_version: "v1.35.0".into(),
            api_versions: Vec::new(),
            include_crds: false,
            skip_tests: false,
            disable_hooks: false,
            one_shot: false,
        }
    }
}

/// A rendered manifest document.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Source template path (`chart/templates/x.yaml`).
    pub name: String,
    /// The document text.
    pub content: String,
    /// Its `kind`.
    pub kind: String,
}

/// A hook manifest (`helm.sh/hook` annotation).
#[derive(Debug, Clone)]
pub struct Hook {
    /// `metadata.name`.
    pub name: String,
    /// `kind`.
    pub kind: String,
    /// Source template path.
    pub path: String,
    /// The document text.
    pub manifest: String,
    /// Hook events (`pre-install`, `test`, ...).
    pub events: Vec<String>,
    /// `helm.sh/hook-weight`.
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` entries.
    pub delete_policies: Vec<String>,
}

/// The result of rendering a chart.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// CRDs from `crds/` directories (name, content).
    pub crds: Vec<(String, Contents)>,
    /// Manifests in install order.
    pub manifests: Vec<Manifest>,
    /// Hooks in install order.
    pub hooks: Vec<Hook>,
    /// Rendered NOTES.txt of the top chart.
    pub notes: String,
    /// Warnings (deprecated charts etc.).
    pub warnings: Vec<String>,
}

impl Rendered {
    /// The output of `helm template` for this render.
    pub fn to_template_output(&self, opts: &RenderOptions) -> String {
        let mut man = String::new();
        if opts.include_crds {
            // (read when the chart was rendered, see render_chart_with)
            for (n, c) in &self.crds {
                man.push_str(&format!(
                    "---\n# Source: {n}\n{}\n",
                    text_of(c.bytes_or_empty())
                ));
            }
        }
        for m in &self.manifests {
            man.push_str(&format!("---\n# Source: {}\n{}\n", m.name, m.content));
        }
        let mut out = String::new();
        out.push_str(man.trim());
        out.push('\n');
        if !opts.disable_hooks {
            for h in &self.hooks {
                if opts.skip_tests && h.events.iter().any(|e| e == "test" || e == "test-success") {
                    continue;
                }
                out.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest));
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// objects

/// A chart's `.Files`. A file whose deferred read fails reads as empty where no error can
/// be given (printing, ranging); the render then fails ([`Chart::deferred_error`]).
struct Files {
    files: Rc<Vec<(String, Contents)>>,
}

impl Files {
    fn get(&self, name: &str) -> Result<Option<&Arc<[u8]>>, String> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.bytes().map_err(|e| e.to_string()))
            .transpose()
    }
    fn to_yaml_map(&self, f: impl Fn(&[u8]) -> String) -> Result<String, String> {
        let mut m = BTreeMap::new();
        for (n, d) in self.files.iter() {
            let base = n.rsplit('/').next().unwrap_or(n).to_string();
            m.insert(base, Value::from(f(d.bytes().map_err(|e| e.to_string())?)));
        }
        if m.is_empty() {
            return Ok("{}".into());
        }
        Ok(crate::yaml::to_yaml(&Value::from(m))
            .map(|s| s.trim_end_matches('\n').to_string())
            .unwrap_or_default())
    }
}

impl Object for Files {
    fn type_name(&self) -> String {
        "engine.files".into()
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn has_method(&self, name: &str) -> bool {
        matches!(
            name,
            "Get" | "GetBytes" | "Glob" | "Lines" | "AsConfig" | "AsSecrets"
        )
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let arg = |i: usize| -> Result<String, String> {
            match args.get(i) {
                Some(Value::Str(s)) => Ok(s.to_string()),
                Some(v) => Err(format!(
                    "wrong type for value; expected string; got {}",
                    v.type_name()
                )),
                None => Err(format!("wrong number of args for {name}: want 1 got 0")),
            }
        };
        Some((|| {
            Ok(match name {
                "Get" => Value::from(
                    self.get(&arg(0)?)?
                        .map(|d| text_of(d).into_owned())
                        .unwrap_or_default(),
                ),
                "GetBytes" => Value::Bytes(Rc::from(
                    self.get(&arg(0)?)?.map(|d| &d[..]).unwrap_or_default(),
                )),
                "Lines" => {
                    let Some(d) = self.get(&arg(0)?)? else {
                        return Ok(Value::from(Vec::new()));
                    };
                    let s = text_of(d).into_owned();
                    let s = s.strip_suffix('\n').unwrap_or(&s);
                    Value::from(s.split('\n').map(Value::from).collect::<Vec<_>>())
                }
                "Glob" => {
                    let pat = arg(0)?;
                    let files: Vec<(String, Contents)> = self
                        .files
                        .iter()
                        .filter(|(n, _)| glob_match(&pat, n))
                        .cloned()
                        .collect();
                    Value::Object(Rc::new(Files {
                        files: Rc::new(files),
                    }))
                }
                "AsConfig" => Value::from(self.to_yaml_map(|d| text_of(d).into_owned())?),
                "AsSecrets" => Value::from(self.to_yaml_map(crate::funcs::b64)?),
                _ => return Err(format!("can't evaluate field {name}")),
            })
        })())
    }
    fn display(&self) -> String {
        let mut s = String::from("map[");
        for (i, (n, d)) in self.files.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(n);
            s.push(':');
            s.push_str(&Value::Bytes(Rc::from(d.bytes_or_empty())).to_go_string());
        }
        s.push(']');
        s
    }
    fn entries(&self) -> Option<Vec<(String, Value)>> {
        let mut v: Vec<(String, Value)> = self
            .files
            .iter()
            .map(|(n, d)| (n.clone(), Value::Bytes(Rc::from(d.bytes_or_empty()))))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Some(v)
    }
    fn to_data(&self) -> Value {
        let m: BTreeMap<String, Value> = self
            .files
            .iter()
            .map(|(n, d)| {
                (
                    n.clone(),
                    Value::from(crate::funcs::b64(d.bytes_or_empty())),
                )
            })
            .collect();
        Value::from(m)
    }
}

/// gobwas/glob with `/` as separator: `*` stays within a segment, `**` crosses.
fn glob_match(pat: &str, name: &str) -> bool {
    fn m(p: &[char], n: &[char]) -> bool {
        if p.is_empty() {
            return n.is_empty();
        }
        if p.len() >= 2 && p[0] == '*' && p[1] == '*' {
            for i in 0..=n.len() {
                if m(&p[2..], &n[i..]) {
                    return true;
                }
            }
            return false;
        }
        match p[0] {
            '*' => {
                for i in 0..=n.len() {
                    if m(&p[1..], &n[i..]) {
                        return true;
                    }
                    if i < n.len() && n[i] == '/' {
                        return false;
                    }
                }
                false
            }
            '?' => !n.is_empty() && n[0] != '/' && m(&p[1..], &n[1..]),
            '{' => {
                let Some(end) = p.iter().position(|c| *c == '}') else {
                    return false;
                };
                let inner: String = p[1..end].iter().collect();
                inner.split(',').any(|alt| {
                    let mut np: Vec<char> = alt.chars().collect();
                    np.extend_from_slice(&p[end + 1..]);
                    m(&np, n)
                })
            }
            '[' => {
                let Some(end) = p.iter().position(|c| *c == ']') else {
                    return false;
                };
                if n.is_empty() {
                    return false;
                }
                let set = &p[1..end];
                let (neg, set) = if set.first() == Some(&'!') {
                    (true, &set[1..])
                } else {
                    (false, set)
                };
                let mut ok = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        if set[i] <= n[0] && n[0] <= set[i + 2] {
                            ok = true;
                        }
                        i += 3;
                    } else {
                        if set[i] == n[0] {
                            ok = true;
                        }
                        i += 1;
                    }
                }
                ok != neg && m(&p[end + 1..], &n[1..])
            }
            '\\' if p.len() > 1 => !n.is_empty() && n[0] == p[1] && m(&p[2..], &n[1..]),
            c => !n.is_empty() && n[0] == c && m(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    m(&p, &n)
}

struct KubeVersion {
    version: String,
    major: String,
    minor: String,
}

impl Object for KubeVersion {
    fn type_name(&self) -> String {
        "common.KubeVersion".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Version" | "GitVersion" | "String" => Value::from(self.version.as_str()),
            "Major" => Value::from(self.major.as_str()),
            "Minor" => Value::from(self.minor.as_str()),
            _ => return None,
        })
    }
    fn display(&self) -> String {
        self.version.clone()
    }
    fn to_data(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("version".into(), Value::from(self.version.as_str()));
        m.insert("major".into(), Value::from(self.major.as_str()));
        m.insert("minor".into(), Value::from(self.minor.as_str()));
        Value::from(m)
    }
}

struct VersionSet(Vec<String>);

impl Object for VersionSet {
    fn type_name(&self) -> String {
        "common.VersionSet".into()
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn has_method(&self, name: &str) -> bool {
        name == "Has"
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if name != "Has" {
            return None;
        }
        Some(match args {
            [Value::Str(s)] => Ok(Value::Bool(self.0.iter().any(|x| x == &**s))),
            _ => Err("wrong type for value; expected string".into()),
        })
    }
    fn display(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
    fn to_data(&self) -> Value {
        Value::from(
            self.0
                .iter()
                .map(|s| Value::from(s.as_str()))
                .collect::<Vec<_>>(),
        )
    }
}

struct HelmVersion;

impl Object for HelmVersion {
    fn type_name(&self) -> String {
        "version.BuildInfo".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(Value::from(match name {
            "Version" => "v4.1.4",
            "GitCommit" => "05fa37973dc9e42b76e1d2883494c87174b6074f",
            "GitTreeState" => "clean",
            "GoVersion" => "go1.25.9",
            "KubeClientVersion" => "v1.35",
            _ => return None,
        }))
    }
    fn display(&self) -> String {
        "{v4.1.4 05fa37973dc9e42b76e1d2883494c87174b6074f clean go1.25.9 v1.35}".into()
    }
    fn to_data(&self) -> Value {
        let mut m = BTreeMap::new();
        for (k, f) in [
            ("version", "Version"),
            ("git_commit", "GitCommit"),
            ("git_tree_state", "GitTreeState"),
            ("go_version", "GoVersion"),
        ] {
            m.insert(k.to_string(), self.field(f).unwrap_or_default());
        }
        Value::from(m)
    }
}

struct Capabilities {
    kube: Value,
    apis: Value,
}

impl Object for Capabilities {
    fn type_name(&self) -> String {
        "*common.Capabilities".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "KubeVersion" => self.kube.clone(),
            "APIVersions" => self.apis.clone(),
            "HelmVersion" => Value::Object(Rc::new(HelmVersion)),
            _ => return None,
        })
    }
    fn display(&self) -> String {
        format!(
            "&{{{} {} {}}}",
            self.kube.to_go_string(),
            self.apis.to_go_string(),
            HelmVersion.display()
        )
    }
}

fn chart_value(c: &Chart, is_root: bool) -> Value {
    let raw = &c.metadata.raw;
    let s = |k: &str| -> Value {
        match raw.get(k) {
            Some(J::String(x)) => Value::from(x.as_str()),
            Some(J::Number(n)) => {
                Value::from(crate::value::format_float_g(n.as_f64().unwrap_or(0.0)))
            }
            _ => Value::from(""),
        }
    };
    let list = |k: &str| -> Value {
        match raw.get(k) {
            Some(J::Array(a)) => Value::from(a.iter().map(Value::from_json).collect::<Vec<_>>()),
            _ => Value::from(Vec::new()),
        }
    };
    let mut m = BTreeMap::new();
    m.insert("APIVersion".into(), s("apiVersion"));
    m.insert(
        "Annotations".into(),
        match raw.get("annotations") {
            Some(v @ J::Object(_)) => Value::from_json(v),
            _ => Value::new_map(),
        },
    );
    m.insert("AppVersion".into(), s("appVersion"));
    m.insert("Condition".into(), s("condition"));
    let deps: Vec<Value> = c
        .metadata
        .dependencies
        .iter()
        .map(|d| {
            let mut dm = BTreeMap::new();
            dm.insert("Name".to_string(), Value::from(d.name.as_str()));
            dm.insert("Version".to_string(), Value::from(d.version.as_str()));
            dm.insert("Repository".to_string(), Value::from(d.repository.as_str()));
            dm.insert("Condition".to_string(), Value::from(d.condition.as_str()));
            dm.insert(
                "Tags".to_string(),
                Value::from(
                    d.tags
                        .iter()
                        .map(|t| Value::from(t.as_str()))
                        .collect::<Vec<_>>(),
                ),
            );
            dm.insert("Enabled".to_string(), Value::Bool(d.enabled));
            dm.insert(
                "ImportValues".to_string(),
                Value::from(
                    d.import_values
                        .iter()
                        .map(Value::from_json)
                        .collect::<Vec<_>>(),
                ),
            );
            dm.insert("Alias".to_string(), Value::from(d.alias.as_str()));
            Value::from(dm)
        })
        .collect();
    m.insert("Dependencies".into(), Value::from(deps));
    m.insert("Deprecated".into(), Value::Bool(c.metadata.deprecated));
    m.insert("Description".into(), s("description"));
    m.insert("Home".into(), s("home"));
    m.insert("Icon".into(), s("icon"));
    m.insert("IsRoot".into(), Value::Bool(is_root));
    m.insert("Keywords".into(), list("keywords"));
    m.insert("KubeVersion".into(), s("kubeVersion"));
    let maint: Vec<Value> = match raw.get("maintainers") {
        Some(J::Array(a)) => a
            .iter()
            .map(|x| {
                let mut mm = BTreeMap::new();
                for (k, f) in [("Name", "name"), ("Email", "email"), ("URL", "url")] {
                    mm.insert(
                        k.to_string(),
                        Value::from(x.get(f).and_then(|v| v.as_str()).unwrap_or("")),
                    );
                }
                Value::from(mm)
            })
            .collect(),
        _ => Vec::new(),
    };
    m.insert("Maintainers".into(), Value::from(maint));
    m.insert("Name".into(), Value::from(c.metadata.name.as_str()));
    m.insert("Sources".into(), list("sources"));
    m.insert("Tags".into(), s("tags"));
    m.insert("Type".into(), s("type"));
    m.insert("Version".into(), s("version"));
    Value::from(m)
}

struct Renderable {
    data: Arc<[u8]>,
    vals: Value,
    base_path: String,
}

/// The path Helm's engine names a chart's templates under: the chart's name, or
/// `PARENT/charts/NAME` for a subchart.
pub(crate) fn chart_path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/charts/{name}")
    }
}

/// Whether Helm's engine loads template file `name` of a chart (`library`: a library
/// chart, of which it loads only the partials, `_*`).
pub(crate) fn engine_loads(library: bool, name: &str) -> bool {
    !library || name.rsplit('/').next().unwrap_or("").starts_with('_')
}

fn collect(
    c: &Chart,
    parent_path: &str,
    vals: &Value,
    top: &TopVals,
    is_root: bool,
    out: &mut HashMap<String, Renderable>,
) -> Value {
    let full = chart_path(parent_path, c.name());
    let values = if is_root {
        vals.clone()
    } else {
        match vals {
            Value::Map(m) => match m.borrow().get(c.name()) {
                Some(v @ Value::Map(_)) => v.clone(),
                _ => Value::new_map(),
            },
            _ => Value::new_map(),
        }
    };
    let files: Vec<(String, Contents)> = c
        .files
        .iter()
        .map(|f: &File| (f.name.clone(), f.data.clone()))
        .collect();
    let subcharts = Value::new_map();
    let mut next = BTreeMap::new();
    next.insert("Chart".to_string(), chart_value(c, is_root));
    next.insert(
        "Files".to_string(),
        Value::Object(Rc::new(Files {
            files: Rc::new(files),
        })),
    );
    next.insert("Release".to_string(), top.release.clone());
    next.insert("Capabilities".to_string(), top.caps.clone());
    next.insert("Values".to_string(), values.clone());
    next.insert("Subcharts".to_string(), subcharts.clone());
    let next = Value::from(next);
    for d in &c.dependencies {
        let sub = collect(d, &full, &values, top, false, out);
        if let Value::Map(m) = &subcharts {
            m.borrow_mut().insert(d.name().to_string(), sub);
        }
    }
    for t in c
        .templates
        .iter()
        .filter(|t| engine_loads(c.is_library(), &t.name))
    {
        out.insert(
            format!("{full}/{}", t.name),
            Renderable {
                // (templates are read at load; a failed deferred read fails the render)
                data: t
                    .data
                    .bytes()
                    .cloned()
                    .unwrap_or_else(|_| Arc::from(&b""[..])),
                vals: next.clone(),
                base_path: format!("{full}/templates"),
            },
        );
    }
    next
}

struct TopVals {
    release: Value,
    caps: Value,
}

fn sort_templates(keys: &mut [String]) {
    keys.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
}

/// Renders every template of a chart whose dependencies and values are already processed;
/// `values` are the coalesced values. Returns file name → rendered text (partials excluded).
pub fn render_templates(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    render_each(chart, values, opts, None, &mut |k, v| {
        out.insert(k, v);
    })?;
    Ok(out)
}

/// [`render_templates`], handing each file to `emit` as soon as it is rendered, with the
/// trees `ahead` parsed (the others parsed here).
fn render_each(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
    ahead: Option<ParseAhead>,
    emit: &mut dyn FnMut(String, String),
) -> Result<(), Error> {
    let mut release = BTreeMap::new();
    release.insert("Name".to_string(), Value::from(opts.name.as_str()));
    release.insert(
        "Namespace".to_string(),
        Value::from(opts.namespace.as_str()),
    );
    release.insert("IsUpgrade".to_string(), Value::Bool(opts.is_upgrade));
    release.insert("IsInstall".to_string(), Value::Bool(!opts.is_upgrade));
    release.insert("Revision".to_string(), Value::Int(opts.revision));
    release.insert("Service".to_string(), Value::from("Helm"));
    let kv = opts.kube_version.trim_start_matches('v');
    let mut parts = kv.split('.');
    let major = parts.next().unwrap_or("1").to_string();
    let minor = parts.next().unwrap_or("0").to_string();
    let version = format!("v{kv}");
    let mut apis: Vec<String> = DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect();
    apis.extend(opts.api_versions.iter().cloned());
    let caps = Value::Object(Rc::new(Capabilities {
        kube: Value::Object(Rc::new(KubeVersion {
            version,
            major,
            minor,
        })),
        apis: Value::Object(Rc::new(VersionSet(apis))),
    }));
    let top = TopVals {
        release: Value::from(release),
        caps,
    };
    let vals = Value::from_json_map(values);
    let mut tpls = HashMap::new();
    collect(chart, "", &vals, &top, true, &mut tpls);
    let mut keys: Vec<String> = tpls.keys().cloned().collect();
    sort_templates(&mut keys);

    let funcs = Rc::new(crate::funcs::func_map());
    let mut exec = Exec::new(funcs.clone(), Rc::new(()));
    let has = |n: &str| crate::template::exec::is_function(&funcs, n);
    let mut ready = ahead.map(ParseAhead::finish);
    let mut parsed_all = Vec::with_capacity(keys.len());
    for k in &keys {
        let r = &tpls[k];
        let parsed = match ready.as_mut().and_then(|a| a.take(k, &r.data)) {
            Some(parsed) => parsed,
            None => crate::template::parse_shared(k, &r.data, &has),
        };
        let (tree, defs): (Tree, Vec<Tree>) = parsed.map_err(|e| Error::Parse {
            name: e.name.clone(),
            line: e.line,
            msg: e.msg.clone(),
        })?;
        parsed_all.push((tree, defs));
    }
    // (the set sized once: it holds every file and every `define` of the chart's libraries)
    exec.set
        .reserve(parsed_all.iter().map(|(_, defs)| 1 + defs.len()).sum());
    for (tree, defs) in parsed_all {
        exec.add(tree);
        for d in defs {
            exec.add(d);
        }
    }
    for k in &keys {
        if k.rsplit('/').next().unwrap_or("").starts_with('_') {
            continue;
        }
        let r = &tpls[k];
        if let Value::Map(m) = &r.vals {
            let mut t = BTreeMap::new();
            t.insert("Name".to_string(), Value::from(k.as_str()));
            t.insert("BasePath".to_string(), Value::from(r.base_path.as_str()));
            m.borrow_mut()
                .insert("Template".to_string(), Value::from(t));
        }
        let Some(tree) = exec.lookup(k) else { continue };
        let mut buf = String::new();
        exec.run_tree(&tree, r.vals.clone(), &mut buf)
            .map_err(|e| Error::Render(Box::new(e)))?;
        if buf.contains("<no value>") {
            buf = buf.replace("<no value>", "");
        }
        emit(k.clone(), buf);
    }
    if opts.one_shot {
        std::mem::forget((exec, tpls, vals, ready));
    }
    Ok(())
}

/// Helm's `SplitManifests`: the documents of a YAML stream, in order.
///
/// Helm splits the trimmed stream with the RE2 pattern `(?:^|\s*\n)---\s*` (`\s` being
/// `[\t\n\f\r ]`), drops empty pieces and trims the others. A separator is a `---` right
/// after a newline together with the whitespace before that newline and after the dashes, or
/// a `---` at the very start. The search for the next one starts after the previous one, so a
/// `---` line right after a separator is not one itself (the newline before it was eaten).
pub fn split_manifests(s: &str) -> Vec<String> {
    fn is_space(b: u8) -> bool {
        matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
    }
    let t = s.trim();
    let b = t.as_bytes();
    let past_space = |mut e: usize| {
        while e < b.len() && is_space(b[e]) {
            e += 1;
        }
        e
    };
    let mut pieces = Vec::new();
    let mut beg = 0;
    if t.starts_with("---") {
        beg = past_space(3);
    }
    let mut from = beg;
    while let Some(q) = t[from..].find("\n---").map(|q| q + from) {
        // the match starts where the whitespace run ending in that newline starts
        let mut start = q;
        while start > from && is_space(b[start - 1]) {
            start -= 1;
        }
        pieces.push(&t[beg..start]);
        beg = past_space(q + 4);
        from = beg;
    }
    pieces.push(&t[beg..]);
    pieces
        .into_iter()
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().to_string())
        .collect()
}

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

fn kind_rank(k: &str) -> Option<usize> {
    INSTALL_ORDER.iter().position(|x| *x == k)
}

fn less_by_kind(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (kind_rank(a), kind_rank(b)) {
        (None, None) => a.cmp(b),
        (None, Some(_)) => Greater,
        (Some(_), None) => Less,
        (Some(x), Some(y)) => x.cmp(&y),
    }
}

/// Splits rendered files into manifests and hooks, sorted in install order.
pub fn sort_manifests(
    files: &BTreeMap<String, String>,
) -> Result<(Vec<Manifest>, Vec<Hook>), Error> {
    let docs = files
        .iter()
        .map(|(path, content)| (path.clone(), read_documents(path, content)))
        .collect();
    sort_documents(docs)
}

/// A rendered file's documents, each with its head (or what is wrong with its YAML).
type Documents = Vec<(String, Result<crate::yaml::Head, String>)>;

/// The documents of rendered file `path` as Helm sorts them: none for a partial or a blank
/// file.
fn read_documents(path: &str, content: &str) -> Documents {
    if path.rsplit('/').next().unwrap_or("").starts_with('_') || content.trim().is_empty() {
        return Vec::new();
    }
    split_manifests(content)
        .into_iter()
        .map(|doc| {
            let head = crate::yaml::manifest_head(&doc);
            (doc, head)
        })
        .collect()
}

/// A rendered file read for the sort: a `NOTES.txt` kept as text, any other file split into
/// its documents with their heads.
enum FileRead {
    Notes(String, String),
    Docs(String, Documents),
}

fn read_rendered(path: String, content: String) -> FileRead {
    if path.ends_with("NOTES.txt") {
        FileRead::Notes(path, content)
    } else {
        let docs = read_documents(&path, &content);
        FileRead::Docs(path, docs)
    }
}

/// Manifests and hooks of the rendered files' documents, in install order; the first
/// document (by file name) whose YAML is wrong fails it.
fn sort_documents(files: BTreeMap<String, Documents>) -> Result<(Vec<Manifest>, Vec<Hook>), Error> {
    let mut generic = Vec::new();
    let mut hooks = Vec::new();
    for (path, docs) in files {
        for (doc, head) in docs {
            let head = head.map_err(|e| Error::Manifest(path.clone(), e))?;
            let Some(ht) = head.annotations.get(HOOK_ANNOTATION) else {
                generic.push(Manifest {
                    name: path.clone(),
                    content: doc,
                    kind: head.kind,
                });
                continue;
            };
            let weight = head
                .annotations
                .get("helm.sh/hook-weight")
                .and_then(|w| w.trim().parse::<i64>().ok())
                .unwrap_or(0);
            let mut events = Vec::new();
            let mut unknown = false;
            for e in ht.split(',') {
                let e = e.trim().to_lowercase();
                if !HOOK_EVENTS.contains(&e.as_str()) {
                    unknown = true;
                    break;
                }
                events.push(e);
            }
            if unknown {
                continue;
            }
            let delete_policies = head
                .annotations
                .get("helm.sh/hook-delete-policy")
                .map(|p| {
                    p.split(',')
                        .map(|x| x.trim().to_lowercase())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            hooks.push(Hook {
                name: head.name,
                kind: head.kind,
                path: path.clone(),
                manifest: doc,
                events,
                weight,
                delete_policies,
            });
        }
    }
    generic.sort_by(|a, b| less_by_kind(&a.kind, &b.kind));
    hooks.sort_by(|a, b| less_by_kind(&a.kind, &b.kind));
    Ok((generic, hooks))
}

fn valid_release_name(n: &str) -> bool {
    if n.is_empty() || n.len() > 53 {
        return false;
    }
    // ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$
    n.split('.').all(|label| {
        let l = label.as_bytes();
        !l.is_empty()
            && l[0] != b'-'
            && l[l.len() - 1] != b'-'
            && l.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    })
}

fn check_kube_version(c: &Chart, kube: &str) -> Result<(), Error> {
    if c.metadata.kube_version.is_empty() {
        return Ok(());
    }
    let ok = match (
        gitops_go::semver::Constraints::parse(&c.metadata.kube_version),
        gitops_go::semver::Version::parse(kube),
    ) {
        (Ok(cs), Ok(v)) => cs.check(&v),
        _ => false,
    };
    if !ok {
        return Err(Error::Chart(format!(
            "chart requires kubeVersion: {} which is incompatible with Kubernetes {kube}",
            c.metadata.kube_version
        )));
    }
    Ok(())
}

/// Renders a chart the way `helm template`/`helm install --dry-run` does: validates the
/// release name, processes dependencies, coalesces values (chart defaults under `user`
/// values), validates them against `values.schema.json`, renders and sorts.
pub fn render_chart(chart: &Chart, user: &Values, opts: &RenderOptions) -> Result<Rendered, Error> {
    render_chart_with(std::borrow::Cow::Borrowed(chart), user, opts, None)
}

/// [`render_chart`] with the chart's templates already being parsed by `ahead` (or started
/// here); a chart given owned is processed in place rather than copied.
pub(crate) fn render_chart_with(
    chart: std::borrow::Cow<'_, Chart>,
    user: &Values,
    opts: &RenderOptions,
    ahead: Option<ParseAhead>,
) -> Result<Rendered, Error> {
    if !valid_release_name(&opts.name) {
        return Err(Error::ReleaseName(format!(
            "release name {:?}: invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53",
            opts.name
        )));
    }
    if chart.is_library() {
        return Err(Error::Chart("library charts are not installable".into()));
    }
    let mut warnings = Vec::new();
    if chart.metadata.deprecated {
        warnings.push("this chart is deprecated".to_string());
    }
    let ahead = ahead.unwrap_or_else(|| ParseAhead::start(&chart));
    // what the dependency check compares the processed chart with
    let declared = chart.metadata.dependencies.clone();
    let present: Vec<String> = chart
        .dependencies
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    let mut c = chart.into_owned();
    values::process_dependencies(&mut c, user)?;
    check_dependencies(&declared, &present, &c)?;
    check_kube_version(&c, &opts.kube_version)?;
    let mut vals = values::coalesce_values_of(&c, user)?;
    crate::schema::validate_chart(&c, &mut vals)?;
    // Render on a thread with a large stack (template recursion is deep); this thread
    // reads the heads of the rendered documents meanwhile, and the render thread helps with
    // the files left when it is done (a render's last files, or a burst of large ones, would
    // otherwise wait for this thread alone).
    let root_notes = format!("{}/templates/NOTES.txt", c.name());
    let mut notes = String::new();
    let mut files = BTreeMap::new();
    let (tx, rx) = std::sync::mpsc::channel::<(String, String)>();
    let rx = std::sync::Mutex::new(rx);
    // the next rendered file, until there is none (waiting for one while the render goes on)
    let next = |wait: bool| -> Option<(String, String)> {
        let rx = rx.lock().ok()?;
        if wait {
            rx.recv().ok()
        } else {
            rx.try_recv().ok()
        }
    };
    let (rendered, read) = std::thread::scope(|s| {
        let (c2, v2, next) = (&c, &vals, &next);
        let renderer = std::thread::Builder::new()
            .name("helm-render".into())
            .stack_size(512 << 20)
            .spawn_scoped(s, move || {
                let r = render_each(c2, v2, opts, Some(ahead), &mut |k, v| {
                    let _ = tx.send((k, v));
                });
                // (no more files: the reading thread stops waiting once the queue is empty)
                drop(tx);
                let mut read = Vec::new();
                while let Some((k, v)) = next(false) {
                    read.push(read_rendered(k, v));
                }
                (r, read)
            })
            .map_err(|e| Error::Other(e.to_string()))?;
        let mut read = Vec::new();
        while let Some((k, v)) = next(true) {
            read.push(read_rendered(k, v));
        }
        let (r, there) = renderer
            .join()
            .map_err(|_| Error::Other("renderer panicked".into()))?;
        read.extend(there);
        Ok::<_, Error>((r, read))
    })?;
    rendered?;
    if let Some(e) = c.deferred_error() {
        return Err(e);
    }
    for r in read {
        match r {
            FileRead::Notes(k, v) => {
                if k == root_notes {
                    if !notes.is_empty() {
                        notes.push('\n');
                    }
                    notes.push_str(&v);
                }
            }
            FileRead::Docs(k, docs) => {
                files.insert(k, docs);
            }
        }
    }
    let (manifests, hooks) = sort_documents(files)?;
    let crds = c.crds();
    if opts.include_crds {
        for (_, d) in &crds {
            d.bytes()?;
        }
    }
    if opts.one_shot {
        std::mem::forget((c, vals));
    }
    Ok(Rendered {
        crds,
        manifests,
        hooks,
        notes,
        warnings,
    })
}

/// Helm's check that every dependency `declared` in `Chart.yaml` and still enabled in the
/// `processed` chart is `present` in `charts/`.
fn check_dependencies(
    declared: &[crate::chart::Dependency],
    present: &[String],
    processed: &Chart,
) -> Result<(), Error> {
    let mut missing = Vec::new();
    for d in declared {
        let key = if d.alias.is_empty() {
            &d.name
        } else {
            &d.alias
        };
        let enabled = processed
            .metadata
            .dependencies
            .iter()
            .any(|p| &p.name == key);
        if !enabled {
            continue;
        }
        if !present.contains(&d.name) {
            missing.push(d.name.clone());
        }
    }
    if !missing.is_empty() {
        return Err(Error::Chart(format!(
            "an error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written splitter against Helm's own pattern (with RE2's `\s`), on every
    /// string of a small alphabet that makes separators, near-separators and whitespace runs.
    #[test]
    fn split_manifests_is_helms_pattern() {
        let re = regex::Regex::new(r"(?:^|[\t\n\x0c\r ]*\n)---[\t\n\x0c\r ]*").unwrap();
        let reference = |s: &str| -> Vec<String> {
            re.split(s.trim())
                .filter(|d| !d.is_empty())
                .map(|d| d.trim().to_string())
                .collect()
        };
        let alphabet = ['-', '\n', ' ', 'a', '\t', '\u{a0}'];
        let mut checked = 0;
        for len in 0..=7u32 {
            for mut n in 0..alphabet.len().pow(len) {
                let mut s = String::new();
                for _ in 0..len {
                    s.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                assert_eq!(split_manifests(&s), reference(&s), "{s:?}");
                checked += 1;
            }
        }
        assert!(checked > 300_000);
        let doc = "---\na: 1\n---\n---\nb: 2\n  \n---  \nc: 3\nd: ----\n";
        assert_eq!(split_manifests(doc), ["a: 1", "---\nb: 2", "c: 3\nd: ----"]);
    }

    #[test]
    fn release_names_are_dns_subdomains() {
        for ok in ["a", "a-b", "a.b", "0", "a1.b-2.c", "x".repeat(53).as_str()] {
            assert!(valid_release_name(ok), "{ok}");
        }
        for bad in [
            "", "-a", "a-", "a..b", ".a", "a.", "A", "a_b", "a/b", "ä", "a.-b",
        ] {
            assert!(!valid_release_name(bad), "{bad}");
        }
        assert!(!valid_release_name(&"x".repeat(54)));
    }
}
