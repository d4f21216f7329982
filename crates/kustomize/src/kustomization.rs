//! The `kustomization.yaml` model.

use crate::error::{Error, Result};
use crate::yaml::{Mapping, Value};
use std::path::{Path, PathBuf};

/// The file names kustomize recognises, in the order it looks for them.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A patch target selector.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    /// Group regex.
    pub group: String,
    /// Version regex.
    pub version: String,
    /// Kind regex.
    pub kind: String,
    /// Name regex.
    pub name: String,
    /// Namespace regex.
    pub namespace: String,
    /// Label selector.
    pub label_selector: String,
    /// Annotation selector.
    pub annotation_selector: String,
}

/// A `patches` / `patchesJson6902` entry.
#[derive(Clone, Debug, Default)]
pub struct Patch {
    /// File with the patch.
    pub path: String,
    /// Inline patch.
    pub patch: String,
    /// Target selector.
    pub target: Option<Selector>,
    /// `allowNameChange` option.
    pub allow_name_change: bool,
    /// `allowKindChange` option.
    pub allow_kind_change: bool,
}

/// An `images` entry.
#[derive(Clone, Debug, Default)]
pub struct Image {
    /// Image name to match.
    pub name: String,
    /// New name.
    pub new_name: String,
    /// New tag.
    pub new_tag: String,
    /// New digest.
    pub digest: String,
    /// Tag suffix.
    pub tag_suffix: String,
}

/// A `labels` entry.
#[derive(Clone, Debug, Default)]
pub struct Label {
    /// The labels.
    pub pairs: Vec<(String, String)>,
    /// Also add to selectors.
    pub include_selectors: bool,
    /// Also add to pod templates.
    pub include_templates: bool,
    /// Extra field specs.
    pub fields: Vec<crate::config::FieldSpec>,
}

/// A config map or secret generator.
#[derive(Clone, Debug, Default)]
pub struct GeneratorArgs {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// create / merge / replace.
    pub behavior: String,
    /// `key=value` literals.
    pub literals: Vec<String>,
    /// Files (`[key=]path`).
    pub files: Vec<String>,
    /// Env files.
    pub envs: Vec<String>,
    /// Secret type.
    pub type_: String,
    /// Per-generator options.
    pub options: Option<GeneratorOptions>,
}

/// `generatorOptions`.
#[derive(Clone, Debug, Default)]
pub struct GeneratorOptions {
    /// Labels to add.
    pub labels: Vec<(String, String)>,
    /// Annotations to add.
    pub annotations: Vec<(String, String)>,
    /// Disable the hash suffix.
    pub disable_name_suffix_hash: Option<bool>,
    /// Mark immutable.
    pub immutable: Option<bool>,
}

/// A `replicas` entry.
#[derive(Clone, Debug)]
pub struct Replica {
    /// Object name.
    pub name: String,
    /// New count.
    pub count: i64,
}

/// A `vars` entry.
#[derive(Clone, Debug)]
pub struct Var {
    /// Variable name.
    pub name: String,
    /// The object it reads from (the group and version taken from `objref.apiVersion`
    /// when given, else from `objref.group` / `objref.version`).
    pub obj_ref: crate::resource::ResId,
    /// The field read (`fieldref.fieldPath`, `metadata.name` when not given).
    pub field_path: String,
    /// `objref` group/version/kind as written (without reading `apiVersion`), for errors.
    pub raw_gvk: crate::resource::Gvk,
    /// `fieldref.fieldPath` as written (maybe empty), for errors.
    pub raw_field_path: String,
}

fn gvk_text(g: &crate::resource::Gvk) -> String {
    let or = |s: &str, d: &'static str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}.{}.{}",
        or(&g.kind, "[noKind]"),
        or(&g.version, "[noVer]"),
        or(&g.group, "[noGrp]")
    )
}

impl Var {
    /// The var as kustomize prints it once defaulted: `{NAME Kind.version.group {path}}`.
    pub fn display(&self) -> String {
        format!(
            "{{{} {} {{{}}}}}",
            self.name,
            gvk_text(&self.obj_ref.gvk),
            self.field_path
        )
    }

    /// The var as written in the kustomization (kustomize's `merging vars` errors).
    pub fn display_raw(&self) -> String {
        format!(
            "{{{} {} {{{}}}}}",
            self.name,
            gvk_text(&self.raw_gvk),
            self.raw_field_path
        )
    }

    /// The var with its group/version resolved but its field path as written.
    pub fn display_resolved(&self) -> String {
        format!(
            "{{{} {} {{{}}}}}",
            self.name,
            gvk_text(&self.obj_ref.gvk),
            self.raw_field_path
        )
    }
}

/// `helmCharts` entry.
#[derive(Clone, Debug, Default)]
pub struct HelmChart {
    /// Chart name.
    pub name: String,
    /// Chart version.
    pub version: String,
    /// Repository URL (unused: charts are read from `chartHome`).
    pub repo: String,
    /// Release name.
    pub release_name: String,
    /// Release namespace.
    pub namespace: String,
    /// Values file.
    pub values_file: String,
    /// Inline values.
    pub values_inline: Option<Value>,
    /// Additional values files.
    pub additional_values_files: Vec<String>,
    /// Whether to include CRDs.
    pub include_crds: bool,
    /// Skip tests.
    pub skip_tests: bool,
    /// API versions for `.Capabilities`.
    pub api_versions: Vec<String>,
    /// Kube version for `.Capabilities`.
    pub kube_version: String,
    /// `valuesMerge`: override, merge or replace.
    pub values_merge: String,
    /// Skip hooks.
    pub skip_hooks: bool,
}

/// A parsed kustomization.
#[derive(Clone, Debug, Default)]
pub struct Kustomization {
    /// File it came from.
    pub path: PathBuf,
    /// `kind` (Kustomization or Component).
    pub kind: String,
    /// `namePrefix`.
    pub name_prefix: String,
    /// `nameSuffix`.
    pub name_suffix: String,
    /// `namespace`.
    pub namespace: String,
    /// `commonLabels`.
    pub common_labels: Vec<(String, String)>,
    /// `labels`.
    pub labels: Vec<Label>,
    /// `commonAnnotations`.
    pub common_annotations: Vec<(String, String)>,
    /// `resources` (and legacy `bases`).
    pub resources: Vec<String>,
    /// `components`.
    pub components: Vec<String>,
    /// `crds`.
    pub crds: Vec<String>,
    /// `configurations`.
    pub configurations: Vec<String>,
    /// `generators`.
    pub generators: Vec<String>,
    /// `transformers`.
    pub transformers: Vec<String>,
    /// `validators`.
    pub validators: Vec<String>,
    /// `patches`.
    pub patches: Vec<Patch>,
    /// `patchesStrategicMerge` (paths or inline patches).
    pub patches_strategic_merge: Vec<String>,
    /// `patchesJson6902`.
    pub patches_json6902: Vec<Patch>,
    /// `images`.
    pub images: Vec<Image>,
    /// `replicas`.
    pub replicas: Vec<Replica>,
    /// `replacements` (file paths or inline replacement objects).
    pub replacements: Vec<Value>,
    /// `vars`.
    pub vars: Vec<Var>,
    /// `configMapGenerator`.
    pub config_map_generator: Vec<GeneratorArgs>,
    /// `secretGenerator`.
    pub secret_generator: Vec<GeneratorArgs>,
    /// `generatorOptions`.
    pub generator_options: Option<GeneratorOptions>,
    /// `openapi` (`path` to a custom schema).
    pub openapi: Option<Value>,
    /// `sortOptions`.
    pub sort_options: Option<Value>,
    /// `buildMetadata`.
    pub build_metadata: Vec<String>,
    /// `helmCharts`.
    pub helm_charts: Vec<HelmChart>,
    /// `helmGlobals.chartHome`.
    pub helm_chart_home: String,
}

struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> Error {
        Error::Kustomization {
            path: self.path.to_path_buf(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// A string field. kustomize decodes kustomizations as JSON into typed structs, so a
    /// number or boolean where a string belongs is an error (`newTag: 1.2`, `namespace: 123`).
    fn string(&self, field: &str, v: &Value) -> Result<String> {
        let found = match v {
            Value::Null => return Ok(String::new()),
            Value::String(s) => return Ok(s.clone()),
            Value::Map(_) | Value::Seq(_) => return Err(self.err(field, "expected a string")),
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::Uint(_) | Value::Float(_) => "number",
        };
        // top-level fields as Go names them (`Kustomization.namespace`)
        let go_field = if field.contains(['.', '[']) {
            field.to_string()
        } else {
            format!("Kustomization.{field}")
        };
        Err(self.err(
            field,
            format!(
                "invalid Kustomization: json: cannot unmarshal {found} into Go struct field {go_field} of type string"
            ),
        ))
    }

    fn bool(&self, field: &str, v: &Value) -> Result<bool> {
        match v {
            Value::Null => Ok(false),
            Value::Bool(b) => Ok(*b),
            _ => Err(self.err(field, "expected a boolean")),
        }
    }

    fn strings(&self, field: &str, v: &Value) -> Result<Vec<String>> {
        match v {
            Value::Null => Ok(Vec::new()),
            Value::Seq(items) => items.iter().map(|i| self.string(field, i)).collect(),
            _ => Err(self.err(field, "expected a list of strings")),
        }
    }

    fn string_map(&self, field: &str, v: &Value) -> Result<Vec<(String, String)>> {
        match v {
            Value::Null => Ok(Vec::new()),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| Ok((k.clone(), self.string(field, v)?)))
                .collect(),
            _ => Err(self.err(field, "expected a map of strings")),
        }
    }

    fn map<'v>(&self, field: &str, v: &'v Value) -> Result<&'v Mapping> {
        v.as_map()
            .ok_or_else(|| self.err(field, "expected a mapping"))
    }

    fn list<'v>(&self, field: &str, v: &'v Value) -> Result<&'v [Value]> {
        match v {
            Value::Null => Ok(&[]),
            Value::Seq(s) => Ok(s),
            _ => Err(self.err(field, "expected a list")),
        }
    }

    fn selector(&self, field: &str, v: &Value) -> Result<Selector> {
        let m = self.map(field, v)?;
        let mut s = Selector::default();
        for (k, val) in m {
            let f = format!("{field}.{k}");
            let t = self.string(&f, val)?;
            match k.as_str() {
                "group" => s.group = t,
                "version" => s.version = t,
                "kind" => s.kind = t,
                "name" => s.name = t,
                "namespace" => s.namespace = t,
                "labelSelector" => s.label_selector = t,
                "annotationSelector" => s.annotation_selector = t,
                _ => return Err(self.err(&f, "unknown field")),
            }
        }
        Ok(s)
    }

    fn patch(&self, field: &str, v: &Value) -> Result<Patch> {
        let m = self.map(field, v)?;
        let mut p = Patch::default();
        for (k, val) in m {
            let f = format!("{field}.{k}");
            match k.as_str() {
                "path" => p.path = self.string(&f, val)?,
                "patch" => p.patch = self.string(&f, val)?,
                "target" => {
                    if !val.is_null() {
                        p.target = Some(self.selector(&f, val)?)
                    }
                }
                "options" => {
                    for (ok, ov) in self.map(&f, val)? {
                        match ok.as_str() {
                            "allowNameChange" => p.allow_name_change = self.bool(&f, ov)?,
                            "allowKindChange" => p.allow_kind_change = self.bool(&f, ov)?,
                            _ => return Err(self.err(&format!("{f}.{ok}"), "unknown field")),
                        }
                    }
                }
                _ => return Err(self.err(&f, "unknown field")),
            }
        }
        Ok(p)
    }

    fn gen_options(&self, field: &str, v: &Value) -> Result<GeneratorOptions> {
        let mut o = GeneratorOptions::default();
        for (k, val) in self.map(field, v)? {
            let f = format!("{field}.{k}");
            match k.as_str() {
                "labels" => o.labels = self.string_map(&f, val)?,
                "annotations" => o.annotations = self.string_map(&f, val)?,
                "disableNameSuffixHash" => o.disable_name_suffix_hash = Some(self.bool(&f, val)?),
                "immutable" => o.immutable = Some(self.bool(&f, val)?),
                _ => return Err(self.err(&f, "unknown field")),
            }
        }
        Ok(o)
    }

    fn generator(&self, field: &str, v: &Value) -> Result<GeneratorArgs> {
        let mut g = GeneratorArgs::default();
        for (k, val) in self.map(field, v)? {
            let f = format!("{field}.{k}");
            match k.as_str() {
                "name" => g.name = self.string(&f, val)?,
                "namespace" => g.namespace = self.string(&f, val)?,
                "behavior" => g.behavior = self.string(&f, val)?,
                "literals" => g.literals = self.strings(&f, val)?,
                "files" => g.files = self.strings(&f, val)?,
                "envs" => g.envs = self.strings(&f, val)?,
                "env" => {
                    let e = self.string(&f, val)?;
                    if !e.is_empty() {
                        g.envs.push(e)
                    }
                }
                "type" => g.type_ = self.string(&f, val)?,
                "options" => g.options = Some(self.gen_options(&f, val)?),
                _ => return Err(self.err(&f, "unknown field")),
            }
        }
        Ok(g)
    }
}

/// Parses a generator (`ConfigMapGenerator`/`SecretGenerator` plugin config) body.
pub fn parse_generator_args(path: &Path, v: &Value) -> Result<GeneratorArgs> {
    let ctx = Ctx { path };
    let mut m = ctx.map("", v)?.clone();
    // plugin configs are read leniently: unknown fields are ignored
    m.retain(|k, _| {
        matches!(
            k.as_str(),
            "name"
                | "namespace"
                | "behavior"
                | "literals"
                | "files"
                | "envs"
                | "env"
                | "type"
                | "options"
        )
    });
    let name_from_meta = v.get_str(&["metadata", "name"]).unwrap_or("").to_string();
    let ns_from_meta = v
        .get_str(&["metadata", "namespace"])
        .unwrap_or("")
        .to_string();
    let mut g = ctx.generator("", &Value::Map(m))?;
    if g.name.is_empty() {
        g.name = name_from_meta;
    }
    if g.namespace.is_empty() {
        g.namespace = ns_from_meta;
    }
    Ok(g)
}

/// Every field name of a kustomization and its nested structs. kustomize decodes with Go's
/// `encoding/json`, which also accepts field names in another case (`fieldpath`).
const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "commonAnnotations",
    "labels",
    "pairs",
    "includeSelectors",
    "includeTemplates",
    "fields",
    "resources",
    "bases",
    "components",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "path",
    "patch",
    "target",
    "options",
    "allowNameChange",
    "allowKindChange",
    "group",
    "version",
    "name",
    "labelSelector",
    "annotationSelector",
    "images",
    "imageTags",
    "newName",
    "newTag",
    "digest",
    "tagSuffix",
    "replicas",
    "count",
    "replacements",
    "vars",
    "objref",
    "fieldref",
    "fieldPath",
    "configMapGenerator",
    "secretGenerator",
    "behavior",
    "literals",
    "files",
    "envs",
    "env",
    "type",
    "generatorOptions",
    "disableNameSuffixHash",
    "immutable",
    "annotations",
    "openapi",
    "sortOptions",
    "buildMetadata",
    "helmGlobals",
    "chartHome",
    "helmCharts",
    "repo",
    "releaseName",
    "valuesFile",
    "valuesInline",
    "additionalValuesFiles",
    "includeCRDs",
    "skipTests",
    "skipHooks",
    "apiVersions",
    "kubeVersion",
    "valuesMerge",
    "nameTemplate",
    "helmChartInflationGenerator",
    "order",
    "legacySortOptions",
    "orderFirst",
    "orderLast",
];

fn normalize_keys(v: &Value, depth: usize) -> Value {
    match v {
        Value::Map(m) => {
            let mut out = Mapping::new();
            for (k, val) in m {
                let key = if KNOWN_FIELDS.contains(&k.as_str()) {
                    k.clone()
                } else {
                    KNOWN_FIELDS
                        .iter()
                        .find(|f| f.eq_ignore_ascii_case(k))
                        .map(|f| f.to_string())
                        .unwrap_or_else(|| k.clone())
                };
                // user data below these keys keeps its spelling
                let keep = matches!(
                    key.as_str(),
                    "valuesInline"
                        | "commonLabels"
                        | "commonAnnotations"
                        | "pairs"
                        | "labels"
                        | "annotations"
                        | "metadata"
                        | "openapi"
                        | "replacements"
                );
                let nv = if keep || depth > 6 {
                    val.clone()
                } else {
                    normalize_keys(val, depth + 1)
                };
                out.insert(key, nv);
            }
            Value::Map(out)
        }
        Value::Seq(items) => {
            Value::Seq(items.iter().map(|i| normalize_keys(i, depth + 1)).collect())
        }
        other => other.clone(),
    }
}

impl Kustomization {
    /// Parses a kustomization from its YAML value. Unknown fields are errors.
    pub fn from_value(path: &Path, v: &Value) -> Result<Kustomization> {
        let normalized = normalize_keys(v, 0);
        let v = &normalized;
        let ctx = Ctx { path };
        let mut k = Kustomization {
            path: path.to_path_buf(),
            kind: "Kustomization".into(),
            ..Default::default()
        };
        let m = match v {
            Value::Null => return Ok(k),
            Value::Map(m) => m,
            _ => return Err(ctx.err("", "a kustomization must be a mapping")),
        };
        for (key, val) in m {
            let f = key.as_str();
            match f {
                "apiVersion" => {}
                "kind" => {
                    let kind = ctx.string(f, val)?;
                    if !kind.is_empty() {
                        k.kind = kind;
                    }
                }
                "metadata" => {}
                "namePrefix" => k.name_prefix = ctx.string(f, val)?,
                "nameSuffix" => k.name_suffix = ctx.string(f, val)?,
                "namespace" => k.namespace = ctx.string(f, val)?,
                "commonLabels" => k.common_labels = ctx.string_map(f, val)?,
                "commonAnnotations" => k.common_annotations = ctx.string_map(f, val)?,
                "labels" => {
                    for (i, item) in ctx.list(f, val)?.iter().enumerate() {
                        let lf = format!("labels[{i}]");
                        let mut l = Label::default();
                        for (lk, lv) in ctx.map(&lf, item)? {
                            let ff = format!("{lf}.{lk}");
                            match lk.as_str() {
                                "pairs" => l.pairs = ctx.string_map(&ff, lv)?,
                                "includeSelectors" => l.include_selectors = ctx.bool(&ff, lv)?,
                                "includeTemplates" => l.include_templates = ctx.bool(&ff, lv)?,
                                "fields" => {
                                    for fsv in ctx.list(&ff, lv)? {
                                        l.fields.push(crate::config::FieldSpec::from_value(fsv)?);
                                    }
                                }
                                _ => return Err(ctx.err(&ff, "unknown field")),
                            }
                        }
                        k.labels.push(l);
                    }
                }
                "resources" | "bases" => k.resources.extend(ctx.strings(f, val)?),
                "components" => k.components = ctx.strings(f, val)?,
                "crds" => k.crds = ctx.strings(f, val)?,
                "configurations" => k.configurations = ctx.strings(f, val)?,
                "generators" => k.generators = ctx.strings(f, val)?,
                "transformers" => k.transformers = ctx.strings(f, val)?,
                "validators" => k.validators = ctx.strings(f, val)?,
                "patches" => {
                    for (i, item) in ctx.list(f, val)?.iter().enumerate() {
                        k.patches.push(ctx.patch(&format!("patches[{i}]"), item)?);
                    }
                }
                "patchesStrategicMerge" => k.patches_strategic_merge = ctx.strings(f, val)?,
                "patchesJson6902" => {
                    for (i, item) in ctx.list(f, val)?.iter().enumerate() {
                        k.patches_json6902
                            .push(ctx.patch(&format!("patchesJson6902[{i}]"), item)?);
                    }
                }
                "images" | "imageTags" => {
                    for (i, item) in ctx.list(f, val)?.iter().enumerate() {
                        let lf = format!("{f}[{i}]");
                        let mut im = Image::default();
                        for (ik, iv) in ctx.map(&lf, item)? {
                            let ff = format!("{lf}.{ik}");
                            let s = ctx.string(&ff, iv)?;
                            match ik.as_str() {
                                "name" => im.name = s,
                                "newName" => im.new_name = s,
                                "newTag" => im.new_tag = s,
                                "digest" => im.digest = s,
                                "tagSuffix" => im.tag_suffix = s,
                                _ => return Err(ctx.err(&ff, "unknown field")),
                            }
                        }
                        k.images.push(im);
                    }
                }
                "replicas" => {
                    for (i, item) in ctx.list(f, val)?.iter().enumerate() {
                        let lf = format!("replicas[{i}]");
                        let mm = ctx.map(&lf, item)?;
                        let name = ctx.string(&lf, mm.get("name").unwrap_or(&Value::Null))?;
                        let count = match mm.get("count") {
                            Some(Value::Int(c)) => *c,
                            None | Some(Value::Null) => 0,
                            _ => return Err(ctx.err(&format!("{lf}.count"), "expected an integer")),
                        };
                        k.replicas.push(Replica { name, count });
                    }
                }
                "replacements" => k.replacements = ctx.list(f, val)?.to_vec(),
                "vars" => {
                    for (i, item) in ctx.list(f, val)?.iter().enumerate() {
                        let lf = format!("vars[{i}]");
                        let mm = ctx.map(&lf, item)?;
                        let s = |p: &[&str]| {
                            item.get_path(p)
                                .and_then(Value::scalar_string)
                                .unwrap_or_default()
                        };
                        let api = s(&["objref", "apiVersion"]);
                        let raw_gvk = crate::resource::Gvk {
                            group: s(&["objref", "group"]),
                            version: s(&["objref", "version"]),
                            kind: s(&["objref", "kind"]),
                        };
                        // kustomize's Target.GVK(): apiVersion, when given, sets the version
                        // (and the group when it has one); otherwise the inline fields count.
                        let mut gvk = raw_gvk.clone();
                        let parts: Vec<&str> = api.split('/').collect();
                        match parts.as_slice() {
                            [""] => {}
                            [v] => gvk.version = v.to_string(),
                            [g, v] => {
                                gvk.group = g.to_string();
                                gvk.version = v.to_string();
                            }
                            _ => {}
                        }
                        let fp = s(&["fieldref", "fieldPath"]);
                        let _ = mm;
                        k.vars.push(Var {
                            name: s(&["name"]),
                            obj_ref: crate::resource::ResId {
                                gvk,
                                name: s(&["objref", "name"]),
                                namespace: s(&["objref", "namespace"]),
                            },
                            field_path: if fp.is_empty() {
                                "metadata.name".into()
                            } else {
                                fp.clone()
                            },
                            raw_gvk,
                            raw_field_path: fp,
                        });
                    }
                }
                "configMapGenerator" => {
                    for (i, item) in ctx.list(f, val)?.iter().enumerate() {
                        k.config_map_generator
                            .push(ctx.generator(&format!("configMapGenerator[{i}]"), item)?);
                    }
                }
                "secretGenerator" => {
                    for (i, item) in ctx.list(f, val)?.iter().enumerate() {
                        k.secret_generator
                            .push(ctx.generator(&format!("secretGenerator[{i}]"), item)?);
                    }
                }
                "generatorOptions" => {
                    if !val.is_null() {
                        k.generator_options = Some(ctx.gen_options(f, val)?)
                    }
                }
                "openapi" => k.openapi = Some(val.clone()),
                "sortOptions" => {
                    if !val.is_null() {
                        k.sort_options = Some(val.clone())
                    }
                }
                "buildMetadata" => k.build_metadata = ctx.strings(f, val)?,
                "helmGlobals" => {
                    if let Some(h) = val.get("chartHome") {
                        k.helm_chart_home = ctx.string("helmGlobals.chartHome", h)?;
                    }
                }
                "helmCharts" => {
                    for (i, item) in ctx.list(f, val)?.iter().enumerate() {
                        let lf = format!("helmCharts[{i}]");
                        let mut h = HelmChart::default();
                        for (hk, hv) in ctx.map(&lf, item)? {
                            let ff = format!("{lf}.{hk}");
                            match hk.as_str() {
                                "name" => h.name = ctx.string(&ff, hv)?,
                                "version" => h.version = ctx.string(&ff, hv)?,
                                "repo" => h.repo = ctx.string(&ff, hv)?,
                                "releaseName" => h.release_name = ctx.string(&ff, hv)?,
                                "namespace" => h.namespace = ctx.string(&ff, hv)?,
                                "valuesFile" => h.values_file = ctx.string(&ff, hv)?,
                                "valuesInline" => h.values_inline = Some(hv.clone()),
                                "additionalValuesFiles" => {
                                    h.additional_values_files = ctx.strings(&ff, hv)?
                                }
                                "includeCRDs" => h.include_crds = ctx.bool(&ff, hv)?,
                                "skipTests" => h.skip_tests = ctx.bool(&ff, hv)?,
                                "skipHooks" => h.skip_hooks = ctx.bool(&ff, hv)?,
                                "apiVersions" => h.api_versions = ctx.strings(&ff, hv)?,
                                "kubeVersion" => h.kube_version = ctx.string(&ff, hv)?,
                                "valuesMerge" => h.values_merge = ctx.string(&ff, hv)?,
                                "nameTemplate" | "debug" => {}
                                _ => return Err(ctx.err(&ff, "unknown field")),
                            }
                        }
                        k.helm_charts.push(h);
                    }
                }
                "helmChartInflationGenerator" => {
                    return Err(ctx.err(
                        f,
                        "helmChartInflationGenerator is not supported; use helmCharts",
                    ));
                }
                _ => {
                    return Err(ctx.err(f, format!("json: unknown field \"{f}\"")));
                }
            }
        }
        Ok(k)
    }

    /// Whether this is a `Component`.
    pub fn is_component(&self) -> bool {
        self.kind == "Component"
    }
}
