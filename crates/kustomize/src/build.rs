//! The build pipeline: accumulate resources (recursing into bases and components), run
//! generators and transformers in kustomize's order, then add hashes, fix name references,
//! resolve vars, drop local-config objects and sort.

use crate::config::{FieldSpec, TransformerConfig};
use crate::error::{Error, Result};
use crate::generators;
use crate::helm::{ChartRenderer, ChartRequest};
use crate::jsonpatch;
use crate::kustomization::{
    GeneratorArgs, KUSTOMIZATION_FILE_NAMES, Kustomization, Patch, Selector, Var,
    parse_generator_args,
};
use crate::loader::{LoadRestrictor, Loader};
use crate::replacements;
use crate::resource::{Behavior, Resource};
use crate::transform;
use crate::yaml::{self, Mapping, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options of a build.
#[derive(Clone, Default)]
pub struct BuildOptions {
    /// Which files kustomizations may read (default: RootOnly).
    pub load_restrictor: LoadRestrictor,
    /// When set, nothing outside this directory may be read (Flux's secure build root).
    pub sandbox: Option<PathBuf>,
    /// Renders `helmCharts`; without one, `helmCharts` is an error.
    pub chart_renderer: Option<Arc<dyn ChartRenderer>>,
}

impl std::fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("load_restrictor", &self.load_restrictor)
            .field("sandbox", &self.sandbox)
            .field("chart_renderer", &self.chart_renderer.is_some())
            .finish()
    }
}

type IdKey = (crate::resource::Gvk, String, String);

fn id_key(r: &Resource) -> IdKey {
    let id = r.cur_id();
    let ns = id.effective_namespace().to_string();
    (id.gvk, id.name, ns)
}

#[derive(Default)]
struct Acc {
    res: Vec<Resource>,
    config: TransformerConfig,
    vars: Vec<Var>,
    /// Current ids of `res`, valid while `indexed == res.len()` and nothing was transformed.
    ids: std::collections::HashSet<IdKey>,
    indexed: Option<usize>,
}

impl Acc {
    /// Forgets the id index (after objects may have been renamed).
    fn invalidate(&mut self) {
        self.indexed = None;
    }

    fn append(&mut self, r: Resource) -> Result<()> {
        if self.indexed != Some(self.res.len()) {
            self.ids = self.res.iter().map(id_key).collect();
        }
        let key = id_key(&r);
        if !self.ids.insert(key) {
            return Err(Error::msg(format!(
                "may not add resource with an already registered id: {}",
                r.cur_id()
            )));
        }
        self.res.push(r);
        self.indexed = Some(self.res.len());
        Ok(())
    }

    /// Adds a kustomization's own vars, binding each to the one object it names (kustomize's
    /// `MergeVars`: the same group, version, kind and name, by any of the object's ids; and
    /// the same namespace when the var names one or the kind is cluster-scoped).
    fn bind_vars(&mut self, vars: &[Var]) -> Result<()> {
        let wrap = |m: String| {
            let list: Vec<String> = vars.iter().map(Var::display_raw).collect();
            Error::msg(format!("merging vars [{}]: {m}", list.join(" ")))
        };
        for v in vars {
            let want = &v.obj_ref;
            let with_ns = !want.namespace.is_empty() || want.gvk.is_cluster_scoped();
            let hits = self
                .res
                .iter()
                .filter(|r| r.obj.as_map().is_some_and(|m| !m.is_empty()))
                .filter(|r| {
                    r.all_ids().iter().any(|id| {
                        id.gvk == want.gvk
                            && id.name == want.name
                            && (!with_ns || id.ns_equals(want))
                    })
                })
                .count();
            if hits > 1 {
                return Err(wrap(format!(
                    "found {hits} resId matches for var {} (unable to disambiguate)",
                    v.display_resolved()
                )));
            }
        }
        for v in vars {
            let want = &v.obj_ref;
            let with_ns = !want.namespace.is_empty() || want.gvk.is_cluster_scoped();
            if let Some(r) = self.res.iter_mut().find(|r| {
                r.obj.as_map().is_some_and(|m| !m.is_empty())
                    && r.all_ids().iter().any(|id| {
                        id.gvk == want.gvk
                            && id.name == want.name
                            && (!with_ns || id.ns_equals(want))
                    })
            }) {
                r.ref_var_names.push(v.name.clone());
            }
        }
        self.merge_vars(vars).map_err(|e| match e {
            Error::Build(m) => wrap(m),
            other => other,
        })
    }

    fn merge_vars(&mut self, vars: &[Var]) -> Result<()> {
        for v in vars {
            if self.vars.iter().any(|x| x.name == v.name) {
                return Err(Error::msg(format!("var '{}' already encountered", v.name)));
            }
            self.vars.push(v.clone());
        }
        Ok(())
    }

    /// Adds a generated resource honouring its behavior.
    fn absorb(&mut self, mut r: Resource) -> Result<()> {
        let id = r.cur_id();
        let hits: Vec<usize> = self
            .res
            .iter()
            .enumerate()
            .filter(|(_, o)| o.all_ids().iter().any(|x| x.equals(&id)))
            .map(|(i, _)| i)
            .collect();
        match hits.len() {
            0 => match r.behavior {
                Behavior::Merge | Behavior::Replace => Err(Error::msg(format!(
                    "id {} does not exist; cannot merge or replace",
                    go_resid(&id)
                ))),
                _ => self.append(r),
            },
            1 => {
                let i = hits[0];
                let old = &self.res[i];
                match r.behavior {
                    Behavior::Replace | Behavior::Merge => {
                        let merge = r.behavior == Behavior::Merge;
                        // labels/annotations: old then new
                        for field in ["labels", "annotations"] {
                            let mut m: Mapping = match old.obj.get_path(&["metadata", field]) {
                                Some(Value::Map(m)) => m.clone(),
                                _ => Mapping::new(),
                            };
                            if let Some(Value::Map(nm)) = r.obj.get_path(&["metadata", field]) {
                                for (k, v) in nm {
                                    m.insert(k.clone(), v.clone());
                                }
                            }
                            if !m.is_empty() {
                                *r.obj.ensure_path(&["metadata", field]) = Value::Map(m);
                            }
                        }
                        r.set_name(old.name());
                        let ons = old.namespace().to_string();
                        if ons.is_empty() {
                            if let Some(Value::Map(meta)) = r.obj.get_mut("metadata") {
                                meta.shift_remove("namespace");
                            }
                        } else {
                            r.set_namespace(&ons);
                        }
                        r.prev = old.prev.clone();
                        r.prefixes = old.prefixes.clone();
                        r.suffixes = old.suffixes.clone();
                        r.ref_var_names = old.ref_var_names.clone();
                        // the hash stays only when both the old object and the new
                        // generator want it
                        r.needs_hash = old.needs_hash && r.needs_hash;
                        if merge {
                            for field in ["data", "binaryData"] {
                                let mut m: Mapping = match old.obj.get(field) {
                                    Some(Value::Map(m)) => m.clone(),
                                    _ => Mapping::new(),
                                };
                                if let Some(Value::Map(nm)) = r.obj.get(field) {
                                    for (k, v) in nm {
                                        m.insert(k.clone(), v.clone());
                                    }
                                }
                                if !m.is_empty()
                                    && let Value::Map(o) = &mut r.obj
                                {
                                    o.insert(field.into(), Value::Map(m));
                                }
                            }
                            if old.origin.is_some() {
                                r.origin = old.origin.clone();
                            }
                        }
                        self.res[i] = r;
                        self.invalidate();
                        Ok(())
                    }
                    _ => Err(Error::msg(format!(
                        "id {} exists; behavior must be merge or replace",
                        go_resid(&id)
                    ))),
                }
            }
            _ => Err(Error::msg(format!(
                "found multiple objects that could accept merge of {id}"
            ))),
        }
    }
}

/// An id as kustomize's errors print it (Go's `%#v` of a `resid.ResId`).
fn go_resid(id: &crate::resource::ResId) -> String {
    let g = &id.gvk;
    format!(
        "resid.ResId{{Gvk:resid.Gvk{{Group:{:?}, Version:{:?}, Kind:{:?}, isClusterScoped:{}}}, Name:{:?}, Namespace:{:?}}}",
        g.group,
        g.version,
        g.kind,
        g.is_cluster_scoped(),
        id.name,
        id.namespace
    )
}

struct Builder<'a> {
    opts: &'a BuildOptions,
    /// A custom OpenAPI schema (`openapi.path`), once a kustomization sets one.
    schema: Option<crate::smp::Schema>,
    stack: Vec<PathBuf>,
    top_root: PathBuf,
    build_metadata: Vec<String>,
    /// The top kustomization's file and text when given in memory
    /// ([`build_with_kustomization`]) rather than read from `top_root`.
    top_text: Option<(PathBuf, String)>,
}

fn rel_path(from_dir: &Path, to: &Path) -> String {
    let a: Vec<_> = from_dir.components().collect();
    let b: Vec<_> = to.components().collect();
    let mut i = 0;
    while i < a.len() && i < b.len() && a[i] == b[i] {
        i += 1;
    }
    let mut parts: Vec<String> = Vec::new();
    for _ in i..a.len() {
        parts.push("..".into());
    }
    for c in &b[i..] {
        parts.push(c.as_os_str().to_string_lossy().into_owned());
    }
    parts.join("/")
}

fn is_remote(s: &str) -> bool {
    s.contains("://") || s.starts_with("github.com/") || s.starts_with("git@")
}

/// Reads a file that the kustomization's `field` names; a failure says which field and
/// entry (as `resources` errors do), the kustomization file is added by the caller.
fn read_field(ldr: &Loader, field: &str, rel: &str) -> Result<(PathBuf, String)> {
    ldr.read_to_string(rel)
        .map_err(|e| e.context(format!("{field}: '{rel}'")))
}

/// Parses a YAML stream of objects into resources (expanding `*List` kinds).
pub fn parse_resources(text: &str, path: &Path) -> Result<Vec<Resource>> {
    let docs = yaml::parse_documents_with(text, yaml::ParseOptions::RESOURCES).map_err(|e| {
        Error::Yaml {
            path: path.to_path_buf(),
            line: e.line,
            column: e.column,
            message: e.message,
        }
    })?;
    let mut queue: std::collections::VecDeque<(Value, usize)> =
        docs.into_iter().map(|d| (d.value, d.line)).collect();
    let mut out = Vec::new();
    while let Some((v, line)) = queue.pop_front() {
        match &v {
            Value::Null => continue,
            Value::Map(m) if m.is_empty() => continue,
            Value::Map(_) => {}
            _ => {
                return Err(Error::Yaml {
                    path: path.to_path_buf(),
                    line,
                    column: 1,
                    message: "expected an object (a YAML mapping)".into(),
                });
            }
        }
        let kind = v.get_str(&["kind"]).unwrap_or("").to_string();
        if kind.ends_with("List") && v.get("items").is_some() {
            match v.get("items") {
                None | Some(Value::Null) => continue,
                Some(Value::Seq(items)) => {
                    for it in items {
                        queue.push_back((it.clone(), line));
                    }
                    continue;
                }
                Some(_) => {
                    return Err(Error::msg(format!(
                        "{}: expected array in {kind}/items",
                        path.display()
                    )));
                }
            }
        }
        if kind.is_empty() {
            return Err(Error::Yaml {
                path: path.to_path_buf(),
                line,
                column: 1,
                message: "missing Resource metadata: object has no 'kind'".into(),
            });
        }
        out.push(Resource::new(v));
    }
    Ok(out)
}

fn find_kustomization_file(dir: &Path) -> Result<Option<PathBuf>> {
    let found: Vec<PathBuf> = KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    if found.len() > 1 {
        return Err(Error::msg(format!(
            "Found multiple kustomization files under: {}",
            dir.display()
        )));
    }
    Ok(found.into_iter().next())
}

/// Loads and parses the kustomization of a directory.
pub fn load_kustomization(dir: &Path) -> Result<Kustomization> {
    let Some(file) = find_kustomization_file(dir)? else {
        return Err(Error::msg(format!(
            "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{}'",
            dir.display()
        )));
    };
    let text = std::fs::read_to_string(&file).map_err(|e| Error::Io {
        path: file.clone(),
        error: e,
    })?;
    parse_kustomization(&file, &text)
}

/// Parses the text of the kustomization file `file`.
fn parse_kustomization(file: &Path, text: &str) -> Result<Kustomization> {
    let v = yaml::parse_one(text).map_err(|e| Error::Yaml {
        path: file.to_path_buf(),
        line: e.line,
        column: e.column,
        message: e.message,
    })?;
    Kustomization::from_value(file, &v)
}

fn looks_inline(s: &str) -> bool {
    s.contains('\n') || s.trim_start().starts_with('{') || s.trim_start().starts_with('[')
}

impl Builder<'_> {
    /// The kustomization of `dir`: the in-memory one for the top directory, when given.
    fn load_kustomization(&self, dir: &Path) -> Result<Kustomization> {
        match &self.top_text {
            Some((file, text)) if dir == self.top_root => parse_kustomization(file, text),
            _ => load_kustomization(dir),
        }
    }

    fn configured_in(&self, k: &Kustomization) -> String {
        rel_path(&self.top_root, &k.path)
    }

    fn origin_enabled(&self) -> bool {
        self.build_metadata.iter().any(|b| b == "originAnnotations")
    }

    fn transformer_annotations(&self) -> bool {
        self.build_metadata
            .iter()
            .any(|b| b == "transformerAnnotations")
    }

    /// Loads patch documents from a path or inline text.
    /// A patch's documents, from its file (`path`, read as the kustomization's `field`
    /// names it) or inline text.
    fn load_patch_docs(
        &self,
        ldr: &Loader,
        field: &str,
        path: &str,
        inline: &str,
    ) -> Result<Vec<Value>> {
        let (text, name) = if !inline.is_empty() {
            (inline.to_string(), PathBuf::from("<inline patch>"))
        } else {
            let (p, t) = read_field(ldr, field, path)?;
            (t, p)
        };
        let docs = yaml::parse_documents_with(&text, yaml::ParseOptions::PATCHES).map_err(|e| {
            Error::Yaml {
                path: name.clone(),
                line: e.line,
                column: e.column,
                message: e.message,
            }
        })?;
        Ok(docs
            .into_iter()
            .map(|d| d.value)
            .filter(|v| !v.is_null())
            .collect())
    }

    fn accumulate(&mut self, ldr: &Loader, acc: &mut Acc, want_component: bool) -> Result<()> {
        if self.stack.contains(&ldr.root) {
            return Err(Error::Cycle {
                path: ldr.root.clone(),
            });
        }
        self.stack.push(ldr.root.clone());
        let k = self.load_kustomization(&ldr.root)?;
        if want_component && !k.is_component() {
            return Err(Error::msg(format!(
                "{}: expected kind 'Component' for path '{}' but got '{}'",
                k.path.display(),
                ldr.root.display(),
                k.kind
            )));
        }
        if !want_component && k.is_component() {
            return Err(Error::msg(format!(
                "{}: expected kind != 'Component' for path '{}'",
                k.path.display(),
                ldr.root.display()
            )));
        }
        let r = self.accumulate_kustomization(ldr, &k, acc);
        self.stack.pop();
        r.map_err(|e| match e {
            Error::Build(m) => Error::Build(format!("{}: {m}", k.path.display())),
            e @ Error::Restricted { .. } => e.context(k.path.display()),
            other => other,
        })
    }

    fn accumulate_kustomization(
        &mut self,
        ldr: &Loader,
        k: &Kustomization,
        acc: &mut Acc,
    ) -> Result<()> {
        if let Some(o) = &k.openapi
            && let Some(v) = o.get("version").and_then(Value::scalar_string)
            && v != "v1.21.2"
        {
            return Err(Error::Kustomization {
                path: k.path.clone(),
                field: "openapi.version".into(),
                message: format!(
                    "the specified OpenAPI version {v} is not built in (only v1.21.2)"
                ),
            });
        }
        if let Some(p) = k
            .openapi
            .as_ref()
            .and_then(|o| o.get("path"))
            .and_then(Value::as_str)
        {
            let (pp, text) = read_field(ldr, "openapi.path", p)?;
            let doc = yaml::parse_one(&text).map_err(|e| Error::Yaml {
                path: pp,
                line: e.line,
                column: e.column,
                message: e.message,
            })?;
            self.schema = Some(crate::smp::Schema::from_value(&doc));
        }
        // resources
        for entry in &k.resources {
            if is_remote(entry) {
                return Err(Error::msg(format!(
                    "remote resource '{entry}' is not supported: only local files and directories"
                )));
            }
            if ldr.is_dir(entry) {
                let child = ldr.child(entry)?;
                let mut sub = Acc::default();
                self.accumulate(&child, &mut sub, false)
                    .map_err(|e| e.context(format!("accumulating resources from '{entry}'")))?;
                for r in sub.res {
                    acc.append(r)?;
                }
                acc.config.merge(&sub.config)?;
                acc.merge_vars(&sub.vars)?;
            } else {
                let (path, text) = ldr
                    .read_to_string(entry)
                    .map_err(|e| e.context(format!("accumulating resources from '{entry}'")))?;
                let rs = parse_resources(&text, &path)?;
                for mut r in rs {
                    if self.origin_enabled() {
                        let mut o = Mapping::new();
                        o.insert(
                            "path".into(),
                            Value::String(rel_path(&self.top_root, &path)),
                        );
                        r.origin = Some(o);
                    }
                    acc.append(r)?;
                }
            }
        }
        // configurations
        let mut tc = TransformerConfig::defaults();
        for c in &k.configurations {
            let (p, text) = read_field(ldr, "configurations", c)?;
            let v = yaml::parse_one(&text).map_err(|e| Error::Yaml {
                path: p.clone(),
                line: e.line,
                column: e.column,
                message: e.message,
            })?;
            let ctc = TransformerConfig::from_value(&v)
                .map_err(|e| e.context(p.display().to_string()))?;
            tc.merge(&ctc)?;
        }
        acc.config.merge(&tc)?;
        for c in &k.crds {
            let (p, text) = read_field(ldr, "crds", c)?;
            let v = yaml::parse_one(&text).map_err(|e| Error::Yaml {
                path: p.clone(),
                line: e.line,
                column: e.column,
                message: e.message,
            })?;
            acc.config.merge(&crate::crds::config_from_crd_schema(&v))?;
        }
        // generators, then components (kustomize runs a kustomization's own generators
        // before its components)
        self.run_generators(ldr, k, acc)?;
        for entry in &k.components {
            let child = ldr.child(entry)?;
            self.accumulate(&child, acc, true)
                .map_err(|e| e.context(format!("accumulating components from '{entry}'")))?;
        }
        // transformers
        self.run_transformers(ldr, k, acc)?;
        acc.bind_vars(&k.vars)?;
        Ok(())
    }

    fn generated(
        &self,
        k: &Kustomization,
        mut r: Resource,
        kind: &str,
        name: Option<&str>,
    ) -> Resource {
        if self.origin_enabled() {
            let mut by = Mapping::new();
            by.insert("apiVersion".into(), Value::String("builtin".into()));
            by.insert("kind".into(), Value::String(kind.into()));
            if let Some(n) = name {
                by.insert("name".into(), Value::String(n.into()));
            }
            let mut o = Mapping::new();
            o.insert("configuredIn".into(), Value::String(self.configured_in(k)));
            o.insert("configuredBy".into(), Value::Map(by));
            r.origin = Some(o);
        }
        r
    }

    fn run_generators(&mut self, ldr: &Loader, k: &Kustomization, acc: &mut Acc) -> Result<()> {
        for g in &k.config_map_generator {
            let opts = generators::merge_options(g.options.as_ref(), k.generator_options.as_ref());
            let r = generators::config_map(g, &opts, ldr)
                .map_err(|e| e.context(format!("configMapGenerator '{}'", g.name)))?;
            let r = self.generated(k, r, "ConfigMapGenerator", None);
            acc.absorb(r)?;
        }
        for g in &k.secret_generator {
            let opts = generators::merge_options(g.options.as_ref(), k.generator_options.as_ref());
            let r = generators::secret(g, &opts, ldr)
                .map_err(|e| e.context(format!("secretGenerator '{}'", g.name)))?;
            let r = self.generated(k, r, "SecretGenerator", None);
            acc.absorb(r)?;
        }
        for h in &k.helm_charts {
            self.inflate_chart(ldr, k, h, acc)?;
        }
        for entry in &k.generators {
            let configs = self.load_plugin_configs(ldr, "generators", entry)?;
            for (cfg, configured_in) in configs {
                let kind = cfg.get_str(&["kind"]).unwrap_or("").to_string();
                let cname = cfg.get_str(&["metadata", "name"]).map(str::to_string);
                let args: GeneratorArgs = parse_generator_args(&k.path, &cfg)?;
                let opts_local = cfg
                    .get("options")
                    .map(|_| args.options.clone().unwrap_or_default());
                let opts = generators::merge_options(opts_local.as_ref(), None);
                let r = match kind.as_str() {
                    "ConfigMapGenerator" => generators::config_map(&args, &opts, ldr)?,
                    "SecretGenerator" => generators::secret(&args, &opts, ldr)?,
                    other => {
                        return Err(Error::msg(format!(
                            "generator kind '{other}' is not supported (only built-in generators run; plugins that execute programs are not)"
                        )));
                    }
                };
                let mut r = self.generated(k, r, &kind, cname.as_deref());
                if let (Some(o), Some(ci)) = (&mut r.origin, configured_in) {
                    o.insert("configuredIn".into(), Value::String(ci));
                }
                acc.absorb(r)?;
            }
        }
        Ok(())
    }

    /// Plugin configs of a `generators`/`transformers` entry: inline YAML, a file, or a
    /// kustomization directory whose output are the configs. Returns each config with the
    /// file it was configured in (relative to the top root), when known.
    fn load_plugin_configs(
        &mut self,
        ldr: &Loader,
        field: &str,
        entry: &str,
    ) -> Result<Vec<(Value, Option<String>)>> {
        if looks_inline(entry) {
            let docs =
                yaml::parse_documents_with(entry, yaml::ParseOptions::RESOURCES).map_err(|e| {
                    Error::Yaml {
                        path: PathBuf::from("<inline plugin config>"),
                        line: e.line,
                        column: e.column,
                        message: e.message,
                    }
                })?;
            return Ok(docs
                .into_iter()
                .filter(|d| !d.value.is_null())
                .map(|d| (d.value, None))
                .collect());
        }
        if ldr.is_dir(entry) {
            let child = ldr.child(entry)?;
            let mut sub = Acc::default();
            self.accumulate(&child, &mut sub, false)?;
            return Ok(sub.res.into_iter().map(|r| (r.obj, None)).collect());
        }
        let (p, text) = read_field(ldr, field, entry)?;
        let docs =
            yaml::parse_documents_with(&text, yaml::ParseOptions::RESOURCES).map_err(|e| {
                Error::Yaml {
                    path: p.clone(),
                    line: e.line,
                    column: e.column,
                    message: e.message,
                }
            })?;
        let ci = rel_path(&self.top_root, &p);
        Ok(docs
            .into_iter()
            .filter(|d| !d.value.is_null())
            .map(|d| (d.value, Some(ci.clone())))
            .collect())
    }

    fn inflate_chart(
        &mut self,
        ldr: &Loader,
        k: &Kustomization,
        h: &crate::kustomization::HelmChart,
        acc: &mut Acc,
    ) -> Result<()> {
        let Some(renderer) = &self.opts.chart_renderer else {
            return Err(Error::msg(format!(
                "helmCharts: chart '{}' cannot be inflated: no chart renderer is configured",
                h.name
            )));
        };
        let home = if k.helm_chart_home.is_empty() {
            "charts".to_string()
        } else {
            k.helm_chart_home.clone()
        };
        let chart_rel = format!("{home}/{}", h.name);
        let chart_dir = ldr.resolve_file(&chart_rel)?;
        let mut values = Value::map();
        let mut files = Vec::new();
        if !h.values_file.is_empty() {
            files.push(h.values_file.clone());
        }
        files.extend(h.additional_values_files.iter().cloned());
        for f in &files {
            let (p, text) = read_field(ldr, "helmCharts.valuesFile", f)?;
            let v = yaml::parse_one(&text).map_err(|e| Error::Yaml {
                path: p,
                line: e.line,
                column: e.column,
                message: e.message,
            })?;
            deep_merge(&mut values, &v);
        }
        if let Some(inline) = &h.values_inline {
            if h.values_merge == "replace" {
                values = inline.clone();
            } else {
                deep_merge(&mut values, inline);
            }
        }
        let req = ChartRequest {
            chart_dir,
            name: h.name.clone(),
            version: h.version.clone(),
            // kustomize's default, as `helm template` without a name prints it.
            release_name: if h.release_name.is_empty() {
                "release-name".to_string()
            } else {
                h.release_name.clone()
            },
            namespace: h.namespace.clone(),
            values,
            include_crds: h.include_crds,
            skip_tests: h.skip_tests,
            skip_hooks: h.skip_hooks,
            api_versions: h.api_versions.clone(),
            kube_version: h.kube_version.clone(),
        };
        let out = renderer
            .render(&req)
            .map_err(|e| Error::msg(format!("helmCharts: chart '{}': {e}", h.name)))?;
        let rs = parse_resources(&out, Path::new(&format!("<chart {}>", h.name)))?;
        for r in rs {
            let r = self.generated(k, r, "HelmChartInflationGenerator", None);
            acc.append(r)?;
        }
        Ok(())
    }

    fn after_transformer(&self, acc: &mut Acc, k: &Kustomization, kind: &str) {
        acc.invalidate();
        if self.transformer_annotations() {
            transform::record_transformation(&mut acc.res, &self.configured_in(k), kind);
        }
        acc.res
            .retain(|r| r.obj.as_map().is_some_and(|m| !m.is_empty()));
    }

    fn run_patch(&self, ldr: &Loader, acc: &mut Acc, p: &Patch) -> Result<()> {
        let docs = self.load_patch_docs(ldr, "patches", &p.path, &p.patch)?;
        if docs.is_empty() {
            return Err(Error::msg("patch is empty"));
        }
        let is_json = docs.len() == 1 && matches!(docs[0], Value::Seq(_));
        if is_json {
            let ops = jsonpatch::parse_operations(&docs[0])?;
            let Some(t) = &p.target else {
                return Err(Error::msg(format!(
                    "must specify a target for JSON patch {}",
                    if p.path.is_empty() { &p.patch } else { &p.path }
                )));
            };
            let targets = transform::select(&acc.res, t)?;
            transform::apply_json6902(&mut acc.res, &targets, &ops, true)?;
            return Ok(());
        }
        for d in &docs {
            if !matches!(d, Value::Map(_)) {
                return Err(Error::msg("unable to parse SM or JSON patch"));
            }
            let targets = match &p.target {
                Some(t) => transform::select(&acc.res, t)?,
                None => vec![transform::get_by_id(&acc.res, &transform::patch_id(d))?],
            };
            transform::apply_smp(
                &mut acc.res,
                &targets,
                d,
                p.allow_name_change,
                p.allow_kind_change,
                self.schema.as_ref(),
            )?;
        }
        Ok(())
    }

    fn run_transformers(&mut self, ldr: &Loader, k: &Kustomization, acc: &mut Acc) -> Result<()> {
        let tc = acc.config.clone();
        // patchesStrategicMerge
        if !k.patches_strategic_merge.is_empty() {
            for entry in &k.patches_strategic_merge {
                let docs = if looks_inline(entry) {
                    self.load_patch_docs(ldr, "patchesStrategicMerge", "", entry)?
                } else {
                    self.load_patch_docs(ldr, "patchesStrategicMerge", entry, "")?
                };
                if docs.is_empty() {
                    return Err(Error::msg(format!(
                        "patchesStrategicMerge: patch '{entry}' is empty"
                    )));
                }
                for d in &docs {
                    let i = transform::get_by_id(&acc.res, &transform::patch_id(d))?;
                    transform::apply_smp(
                        &mut acc.res,
                        &[i],
                        d,
                        false,
                        false,
                        self.schema.as_ref(),
                    )?;
                }
            }
            self.after_transformer(acc, k, "PatchStrategicMergeTransformer");
        }
        for p in &k.patches {
            self.run_patch(ldr, acc, p)?;
            self.after_transformer(acc, k, "PatchTransformer");
        }
        if !k.namespace.is_empty() {
            transform::set_namespace(&mut acc.res, &k.namespace, &tc.namespace, false, "")?;
            self.after_transformer(acc, k, "NamespaceTransformer");
        }
        if !k.name_prefix.is_empty() {
            transform::add_prefix_suffix(&mut acc.res, &k.name_prefix, false, &tc.name_prefix)?;
            self.after_transformer(acc, k, "PrefixTransformer");
        }
        if !k.name_suffix.is_empty() {
            transform::add_prefix_suffix(&mut acc.res, &k.name_suffix, true, &tc.name_suffix)?;
            self.after_transformer(acc, k, "SuffixTransformer");
        }
        if !k.common_labels.is_empty() {
            transform::add_map_entries(&mut acc.res, &k.common_labels, &tc.common_labels)?;
            self.after_transformer(acc, k, "LabelTransformer");
        }
        for l in &k.labels {
            let mut fss: Vec<FieldSpec> = l.fields.clone();
            if l.include_selectors {
                fss.extend(tc.common_labels.iter().cloned());
            } else {
                if l.include_templates {
                    fss.extend(tc.template_labels.iter().cloned());
                }
                fss.push(FieldSpec {
                    gvk: Default::default(),
                    path: "metadata/labels".into(),
                    create: true,
                });
            }
            transform::add_map_entries(&mut acc.res, &l.pairs, &fss)?;
            self.after_transformer(acc, k, "LabelTransformer");
        }
        if !k.common_annotations.is_empty() {
            transform::add_map_entries(
                &mut acc.res,
                &k.common_annotations,
                &tc.common_annotations,
            )?;
            self.after_transformer(acc, k, "AnnotationsTransformer");
        }
        for p in &k.patches_json6902 {
            let docs = self.load_patch_docs(ldr, "patchesJson6902", &p.path, &p.patch)?;
            let Some(doc) = docs.into_iter().next() else {
                return Err(Error::msg("patchesJson6902: empty patch"));
            };
            let ops = jsonpatch::parse_operations(&doc)?;
            let Some(t) = &p.target else {
                return Err(Error::msg("patchesJson6902: must specify a target"));
            };
            let targets = transform::select(&acc.res, t)?;
            transform::apply_json6902(&mut acc.res, &targets, &ops, false)?;
            self.after_transformer(acc, k, "PatchJson6902Transformer");
        }
        for r in &k.replicas {
            transform::set_replicas(&mut acc.res, &r.name, r.count, &tc.replicas)?;
            self.after_transformer(acc, k, "ReplicaCountTransformer");
        }
        if !k.images.is_empty() {
            transform::set_images(&mut acc.res, &k.images, &tc.images)?;
            self.after_transformer(acc, k, "ImageTagTransformer");
        }
        if !k.replacements.is_empty() {
            let mut reps = Vec::new();
            for r in &k.replacements {
                if let Some(p) = r.get("path").and_then(Value::as_str) {
                    let (pp, text) = read_field(ldr, "replacements.path", p)?;
                    let docs = yaml::parse_documents(&text).map_err(|e| Error::Yaml {
                        path: pp,
                        line: e.line,
                        column: e.column,
                        message: e.message,
                    })?;
                    for d in docs {
                        match d.value {
                            Value::Seq(items) => reps.extend(items),
                            Value::Null => {}
                            other => reps.push(other),
                        }
                    }
                } else {
                    reps.push(r.clone());
                }
            }
            replacements::apply(&mut acc.res, &reps)?;
            self.after_transformer(acc, k, "ReplacementTransformer");
        }
        for entry in &k.transformers {
            let configs = self.load_plugin_configs(ldr, "transformers", entry)?;
            for (cfg, _) in configs {
                self.run_plugin_transformer(ldr, acc, &cfg)?;
                let kind = cfg.get_str(&["kind"]).unwrap_or("").to_string();
                self.after_transformer(acc, k, &kind);
            }
        }
        Ok(())
    }

    fn run_plugin_transformer(&mut self, ldr: &Loader, acc: &mut Acc, cfg: &Value) -> Result<()> {
        let kind = cfg.get_str(&["kind"]).unwrap_or("");
        let fss = |v: &Value| -> Result<Vec<FieldSpec>> {
            match v.get("fieldSpecs") {
                Some(Value::Seq(items)) => items.iter().map(FieldSpec::from_value).collect(),
                _ => Ok(Vec::new()),
            }
        };
        let pairs = |v: Option<&Value>| -> Vec<(String, String)> {
            match v {
                Some(Value::Map(m)) => m
                    .iter()
                    .map(|(k, v)| (k.clone(), v.scalar_string().unwrap_or_default()))
                    .collect(),
                _ => Vec::new(),
            }
        };
        let s = |p: &[&str]| cfg.get_str(p).unwrap_or("").to_string();
        match kind {
            "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                let specs = fss(cfg)?;
                let prefix = s(&["prefix"]);
                let suffix = s(&["suffix"]);
                if !prefix.is_empty() {
                    transform::add_prefix_suffix(&mut acc.res, &prefix, false, &specs)?;
                }
                if !suffix.is_empty() {
                    transform::add_prefix_suffix(&mut acc.res, &suffix, true, &specs)?;
                }
            }
            "LabelTransformer" => {
                transform::add_map_entries(&mut acc.res, &pairs(cfg.get("labels")), &fss(cfg)?)?
            }
            "AnnotationsTransformer" => transform::add_map_entries(
                &mut acc.res,
                &pairs(cfg.get("annotations")),
                &fss(cfg)?,
            )?,
            "NamespaceTransformer" => {
                let mut specs = fss(cfg)?;
                if specs.is_empty() {
                    specs = acc.config.namespace.clone();
                }
                let unset_only = matches!(cfg.get("unsetOnly"), Some(Value::Bool(true)));
                transform::set_namespace(
                    &mut acc.res,
                    &s(&["metadata", "namespace"]),
                    &specs,
                    unset_only,
                    &s(&["setRoleBindingSubjects"]),
                )?;
            }
            "ImageTagTransformer" => {
                let it = cfg.get("imageTag").cloned().unwrap_or(Value::Null);
                let g = |k: &str| it.get(k).and_then(Value::scalar_string).unwrap_or_default();
                let img = crate::kustomization::Image {
                    name: g("name"),
                    new_name: g("newName"),
                    new_tag: g("newTag"),
                    digest: g("digest"),
                    tag_suffix: g("tagSuffix"),
                };
                transform::set_images(&mut acc.res, &[img], &fss(cfg)?)?;
            }
            "ReplicaCountTransformer" => {
                let name = s(&["replica", "name"]);
                let count = match cfg.get_path(&["replica", "count"]) {
                    Some(Value::Int(c)) => *c,
                    _ => 0,
                };
                let mut specs = fss(cfg)?;
                if specs.is_empty() {
                    specs = acc.config.replicas.clone();
                }
                transform::set_replicas(&mut acc.res, &name, count, &specs)?;
            }
            "PatchTransformer" => {
                let target = match cfg.get("target") {
                    Some(t @ Value::Map(_)) => {
                        let g =
                            |k: &str| t.get(k).and_then(Value::scalar_string).unwrap_or_default();
                        Some(Selector {
                            group: g("group"),
                            version: g("version"),
                            kind: g("kind"),
                            name: g("name"),
                            namespace: g("namespace"),
                            label_selector: g("labelSelector"),
                            annotation_selector: g("annotationSelector"),
                        })
                    }
                    _ => None,
                };
                let p = Patch {
                    path: s(&["path"]),
                    patch: s(&["patch"]),
                    target,
                    allow_name_change: matches!(
                        cfg.get_path(&["options", "allowNameChange"]),
                        Some(Value::Bool(true))
                    ),
                    allow_kind_change: matches!(
                        cfg.get_path(&["options", "allowKindChange"]),
                        Some(Value::Bool(true))
                    ),
                };
                self.run_patch(ldr, acc, &p)?;
            }
            "ReplacementTransformer" => {
                let reps = cfg
                    .get("replacements")
                    .and_then(Value::as_seq)
                    .cloned()
                    .unwrap_or_default();
                replacements::apply(&mut acc.res, &reps)?;
            }
            other => {
                return Err(Error::msg(format!(
                    "transformer kind '{other}' is not supported (only built-in transformers run)"
                )));
            }
        }
        Ok(())
    }
}

fn deep_merge(dest: &mut Value, src: &Value) {
    match (dest, src) {
        (Value::Map(d), Value::Map(s)) => {
            for (k, v) in s {
                match d.get_mut(k) {
                    Some(dv) if matches!(dv, Value::Map(_)) && matches!(v, Value::Map(_)) => {
                        deep_merge(dv, v)
                    }
                    _ => {
                        d.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (d, s) => *d = s.clone(),
    }
}

const ORDER_FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn sort_resources(res: &mut [Resource], sort_options: Option<&Value>) -> Result<()> {
    let (first, last): (Vec<String>, Vec<String>) = match sort_options {
        Some(o) => {
            let order = o.get_str(&["order"]).unwrap_or("");
            match order {
                "fifo" => return Ok(()),
                "legacy" | "" => {
                    let list = |k: &str| -> Vec<String> {
                        o.get_path(&["legacySortOptions", k])
                            .and_then(Value::as_seq)
                            .map(|s| s.iter().filter_map(Value::scalar_string).collect())
                            .unwrap_or_default()
                    };
                    let (f, l) = (list("orderFirst"), list("orderLast"));
                    if o.get("legacySortOptions").is_some() {
                        (f, l)
                    } else {
                        (
                            ORDER_FIRST.iter().map(|s| s.to_string()).collect(),
                            ORDER_LAST.iter().map(|s| s.to_string()).collect(),
                        )
                    }
                }
                other => {
                    return Err(Error::msg(format!(
                        "sortOptions: unknown order '{other}' (want legacy or fifo)"
                    )));
                }
            }
        }
        None => (
            ORDER_FIRST.iter().map(|s| s.to_string()).collect(),
            ORDER_LAST.iter().map(|s| s.to_string()).collect(),
        ),
    };
    let index = |kind: &str| -> i64 {
        if let Some(i) = first.iter().position(|k| k == kind) {
            return i as i64 - first.len() as i64;
        }
        if let Some(i) = last.iter().position(|k| k == kind) {
            return 1 + i as i64;
        }
        0
    };
    let mut keyed: Vec<(i64, String, String, Resource)> = res
        .iter_mut()
        .map(|r| {
            let id = r.cur_id();
            (
                index(&id.gvk.kind),
                id.gvk.sort_string(),
                id.legacy_sort_string(),
                std::mem::replace(r, Resource::new(Value::Null)),
            )
        })
        .collect();
    keyed.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.cmp(&b.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    for (slot, (_, _, _, r)) in res.iter_mut().zip(keyed) {
        *slot = r;
    }
    Ok(())
}

fn origin_text(o: &Mapping) -> String {
    let mut s = String::new();
    for key in ["path", "repo", "ref", "configuredIn"] {
        if let Some(v) = o.get(key).and_then(Value::as_str) {
            s.push_str(&format!("{key}: {}\n", yaml_inline(v)));
        }
    }
    if let Some(Value::Map(by)) = o.get("configuredBy") {
        s.push_str("configuredBy:\n");
        for key in ["apiVersion", "kind", "name", "namespace"] {
            if let Some(v) = by.get(key).and_then(Value::as_str) {
                s.push_str(&format!("  {key}: {}\n", yaml_inline(v)));
            }
        }
    }
    s
}

/// A string as a plain or quoted YAML scalar.
pub(crate) fn yaml_inline(s: &str) -> String {
    let mut m = Mapping::new();
    m.insert("k".into(), Value::String(s.into()));
    match yaml::to_yaml(&Value::Map(m)) {
        Ok(out) => out.trim_start_matches("k:").trim().to_string(),
        Err(_) => gitops_go::fmt::quote(s),
    }
}

/// Builds the kustomization in `dir` and returns the resulting objects, in output order.
pub fn build(dir: &Path, opts: &BuildOptions) -> Result<Vec<Resource>> {
    build_impl(dir, None, opts)
}

/// Builds `dir` as [`build`] does, but with `text` as the content of its kustomization
/// file `file_name` instead of what the disk holds (or lacks): the in-memory build of
/// Flux's CLI, which builds a generated or amended kustomization without writing it into
/// the user's directory. Everything else is read from the disk.
pub fn build_with_kustomization(
    dir: &Path,
    file_name: &str,
    text: &str,
    opts: &BuildOptions,
) -> Result<Vec<Resource>> {
    build_impl(dir, Some((file_name, text)), opts)
}

fn build_impl(dir: &Path, top: Option<(&str, &str)>, opts: &BuildOptions) -> Result<Vec<Resource>> {
    let ldr = Loader::new(dir, opts.load_restrictor, opts.sandbox.as_deref())?;
    let top_text = top.map(|(name, text)| (ldr.root.join(name), text.to_owned()));
    let top = match &top_text {
        Some((file, text)) => parse_kustomization(file, text)?,
        None => load_kustomization(&ldr.root)?,
    };
    let mut b = Builder {
        opts,
        schema: None,
        stack: Vec::new(),
        top_root: ldr.root.clone(),
        build_metadata: top.build_metadata.clone(),
        top_text,
    };
    let mut acc = Acc::default();
    b.accumulate(&ldr, &mut acc, false)?;
    // hashes
    for r in acc.res.iter_mut() {
        if r.needs_hash {
            let h = generators::content_hash(&r.obj);
            r.store_previous_id();
            let n = format!("{}-{h}", r.name());
            r.set_name(&n);
        }
    }
    transform::fix_name_references(&mut acc.res, &acc.config.name_reference)?;
    transform::resolve_vars(&mut acc.res, &acc.vars, &acc.config.var_reference)?;
    acc.res
        .retain(|r| r.annotation("config.kubernetes.io/local-config").as_deref() != Some("true"));
    sort_resources(&mut acc.res, top.sort_options.as_ref())?;
    let origins = b.origin_enabled();
    let transformations = b.transformer_annotations();
    let managed_by = top.build_metadata.iter().any(|b| b == "managedByLabel");
    for r in acc.res.iter_mut() {
        if managed_by {
            let l = r.obj.ensure_path(&["metadata", "labels"]);
            if !matches!(l, Value::Map(_)) {
                *l = Value::map();
            }
            if let Value::Map(m) = l {
                m.insert(
                    "app.kubernetes.io/managed-by".into(),
                    Value::String("kustomize-v5.7.1".into()),
                );
            }
        }
        // kustomize strips its build annotations at the end and drops the map when nothing
        // is left, so a null or empty `metadata.annotations` disappears (labels stay).
        if let Some(Value::Map(meta)) = r.obj.get_mut("metadata")
            && meta.get("annotations").is_some_and(|a| {
                matches!(a, Value::Null) || matches!(a, Value::Map(m) if m.is_empty())
            })
        {
            meta.shift_remove("annotations");
        }
        // kustomize rewrites annotations as strings when it strips its build annotations
        if let Some(Value::Map(a)) = r.obj.get_path(&["metadata", "annotations"])
            && !a.is_empty()
            && a.values().any(|v| !matches!(v, Value::String(_)))
        {
            let fixed: Mapping = a
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        Value::String(v.scalar_string().unwrap_or_default()),
                    )
                })
                .collect();
            *r.obj.ensure_path(&["metadata", "annotations"]) = Value::Map(fixed);
        }
        if origins && let Some(o) = r.origin.clone() {
            r.set_annotation("config.kubernetes.io/origin", &origin_text(&o));
        }
        if transformations && !r.transformations.is_empty() {
            let mut s = String::new();
            for t in &r.transformations {
                let ci = t.get("configuredIn").and_then(Value::as_str).unwrap_or("");
                let kind = t.get("kind").and_then(Value::as_str).unwrap_or("");
                s.push_str(&format!(
                    "- configuredIn: {}\n  configuredBy:\n    apiVersion: builtin\n    kind: {kind}\n",
                    yaml_inline(ci)
                ));
            }
            r.set_annotation("alpha.config.kubernetes.io/transformations", &s);
        }
    }
    Ok(acc.res)
}

/// Prints resources as kustomize does (`---` between documents). Fails, as kustomize does,
/// on an object that Go cannot marshal (a NaN or infinity, a control character), naming it
/// as Go's `%#v` prints it.
pub fn to_yaml_stream(resources: &[Resource]) -> Result<String> {
    let mut out = String::new();
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        yaml::emit_into(&mut out, &r.obj).map_err(|e| marshal_error(&r.obj, e))?;
    }
    Ok(out)
}

/// kustomize's error for an object it cannot print: the object as Go's `%#v` shows it.
pub(crate) fn marshal_error(obj: &Value, e: yaml::MarshalError) -> Error {
    Error::Build(format!(
        "{}: {e}",
        gitops_go::fmt::sharp_v(&yaml::to_node(obj))
    ))
}

/// Builds `dir` and prints the YAML stream, like `kustomize build DIR`.
pub fn build_to_string(dir: &Path, opts: &BuildOptions) -> Result<String> {
    to_yaml_stream(&build(dir, opts)?)
}
