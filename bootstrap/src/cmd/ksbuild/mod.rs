//! What `gitops build kustomization` and `gitops diff kustomization` share, as Flux's CLI
//! builds (its `internal/build`): the Flux Kustomization from the cluster or a local file,
//! the local directory's kustomization (or one generated, `.sourceignore` and
//! `--ignore-paths` applied) with the Kustomization's overlays merged in, built in memory
//! with the kustomize engine (nothing is written to the directory), post-build variables
//! (`substituteFrom` read from the cluster unless `--dry-run`), the owner labels, SOPS
//! data masked (never decrypted), `commonMetadata`, and the Kustomizations found in the
//! output built too with `--recursive` and `--local-sources`.
//!
//! [`diff`] is `flux diff kustomization`: each object dry-run applied in build order,
//! `created`, `drifted` (with [`dyff`]'s report), `skipped` and `deleted` lines.

mod dmp;
pub mod dyff;
mod gosort;

use crate::cli::{kinds, object};
use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use gitops_apply::{Action, Applier, DiffError, DiffOptions, ObjectRef};
use gitops_kustomize::yaml::{self, Mapping, Value as YValue};
use gitops_kustomize::{BuildOptions, LoadRestrictor, Resource, flux};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What Flux puts in place of SOPS-encrypted values.
pub const MASK: &str = "**SOPS**";
const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
const GROUP: &str = "kustomize.toolkit.fluxcd.io";
/// Flux's field manager.
pub const FIELD_MANAGER: &str = "kustomize-controller";

/// How a build is made (Flux's builder options).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The Kustomization's name.
    pub name: String,
    /// Its namespace (`-n`).
    pub namespace: String,
    /// The local directory matching `spec.path`.
    pub path: PathBuf,
    /// A local file with the Kustomization, instead of the cluster's.
    pub kustomization_file: Option<PathBuf>,
    /// `--ignore-paths`: gitignore patterns.
    pub ignore: Vec<String>,
    /// No cluster: `substituteFrom` is skipped.
    pub dry_run: bool,
    /// Variables without default must be defined.
    pub strict_substitute: bool,
    /// Build the Kustomizations found in the output too.
    pub recursive: bool,
    /// `Kind/namespace/name` of a source → local directory.
    pub local_sources: BTreeMap<String, String>,
    /// `--in-memory-build`: nothing outside the working directory is read (Flux's secure
    /// in-memory filesystem).
    pub in_memory: bool,
    /// `diff`: one Kustomization at a time (the diff recurses itself).
    pub single: bool,
    /// `diff --ignore-not-found`: a Kustomization missing on the cluster is taken from the
    /// file.
    pub ignore_not_found: bool,
}

/// Builds one Kustomization (Flux's `build.Builder`).
pub struct Builder {
    opts: Options,
    client: Option<kube::Client>,
    /// The Kustomization to use when the cluster has none (recursion).
    preset: Option<Value>,
    /// The Kustomization the build used.
    kustomization: Option<Value>,
    /// Nothing outside this directory is read (overrides `in_memory`'s working directory).
    sandbox: Option<PathBuf>,
}

/// `metadata.name` and `.namespace` of an object.
fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or_default()
}

/// Whether a JSON object is a Flux Kustomization.
pub fn is_flux_kustomization(obj: &Value) -> bool {
    obj["apiVersion"]
        .as_str()
        .is_some_and(|a| a.starts_with(&format!("{GROUP}/")))
        && obj["kind"] == "Kustomization"
}

/// `Kind/namespace/name` (or `Kind/name`), as Flux names objects.
pub fn fmt_object(obj: &Value) -> String {
    let kind = obj["kind"].as_str().unwrap_or_default();
    match meta_str(obj, "namespace") {
        "" => format!("{kind}/{}", meta_str(obj, "name")),
        ns => format!("{kind}/{ns}/{}", meta_str(obj, "name")),
    }
}

impl Builder {
    /// A builder; without `dry_run` it needs a client.
    pub fn new(opts: Options, client: Option<kube::Client>) -> anyhow::Result<Builder> {
        Builder::with_preset(opts, client, None)
    }

    fn with_preset(
        opts: Options,
        client: Option<kube::Client>,
        preset: Option<Value>,
    ) -> anyhow::Result<Builder> {
        if opts.dry_run && opts.kustomization_file.is_none() && preset.is_none() {
            bail!("kustomization file is required for dry-run");
        }
        if opts.ignore_not_found && opts.kustomization_file.is_none() {
            bail!("kustomization file is required when assuming new kustomizations");
        }
        if !opts.dry_run && client.is_none() {
            bail!("client is required for live run");
        }
        Ok(Builder {
            opts,
            client,
            preset,
            kustomization: None,
            sandbox: None,
        })
    }

    /// The same builder reading nothing outside `root` (an extracted artifact: its
    /// kustomizations may not reach the files of the machine that builds them).
    pub fn sandboxed(mut self, root: PathBuf) -> Builder {
        self.sandbox = Some(root);
        self
    }

    fn client(&self) -> anyhow::Result<&kube::Client> {
        self.client
            .as_ref()
            .ok_or_else(|| anyhow!("client is required for live run"))
    }

    /// The objects, labelled and masked, and (unless `single`) those of the
    /// Kustomizations they contain (Flux's `Build`).
    pub async fn build(&mut self) -> anyhow::Result<Vec<Value>> {
        let mut objects = self.build_objects().await?;
        let k = self.kustomization.clone().unwrap_or(Value::Null);
        let cm = &k["spec"]["commonMetadata"];
        if cm.is_object() {
            set_common_metadata(&mut objects, &cm["labels"], &cm["annotations"]);
        }
        if self.opts.recursive && !self.opts.single {
            let mut more = Vec::new();
            for obj in &objects {
                if !is_flux_kustomization(obj) || same_kustomization(obj, &k) {
                    continue;
                }
                let path = self.kustomization_path(obj)?;
                let opts = Options {
                    name: meta_str(obj, "name").to_owned(),
                    namespace: meta_str(obj, "namespace").to_owned(),
                    path,
                    kustomization_file: None,
                    ignore_not_found: false,
                    single: false,
                    ..self.opts.clone()
                };
                let mut sub = Builder::with_preset(opts, self.client.clone(), Some(obj.clone()))?;
                sub.sandbox = self.sandbox.clone();
                more.extend(Box::pin(sub.build()).await?);
            }
            objects.extend(more);
        }
        Ok(objects)
    }

    /// The local directory of a Kustomization found in the output.
    fn kustomization_path(&self, k: &Value) -> anyhow::Result<PathBuf> {
        let key = source_key(k);
        let Some(local) = self.opts.local_sources.get(&key) else {
            bail!(
                "cannot get local path for {key} of kustomization {}",
                meta_str(k, "name")
            );
        };
        Ok(clean_path(
            &Path::new(local).join(k["spec"]["path"].as_str().unwrap_or_default()),
        ))
    }

    /// The cluster's Kustomization, `None` when it is missing and a fallback is allowed.
    async fn live_kustomization(&self) -> anyhow::Result<Option<Value>> {
        let client = self.client()?;
        let api = kinds::KUSTOMIZATION.api(client, Some(&self.opts.namespace));
        match api.get(&self.opts.name).await {
            Ok(o) => Ok(Some(object::to_value(&o)?)),
            Err(kube::Error::Api(e))
                if e.code == 404 && (self.preset.is_some() || self.opts.ignore_not_found) =>
            {
                Ok(self.preset.clone())
            }
            Err(e) => Err(anyhow!(
                "failed to get kustomization object: {}",
                object::api_error(e)
            )),
        }
    }

    /// Flux's `build`: the objects of this Kustomization, labelled and masked.
    async fn build_objects(&mut self) -> anyhow::Result<Vec<Value>> {
        let live = if self.opts.dry_run {
            self.preset.clone()
        } else {
            self.live_kustomization().await?
        };
        let k = match &self.opts.kustomization_file {
            Some(file) => {
                let mut k = read_kustomization_file(file, &self.opts.name, &self.opts.namespace)
                    .map_err(|e| anyhow!("failed to get kustomization object: {e:#}"))?;
                if !self.opts.dry_run
                    && let Some(live) = &live
                    && !live["status"]["inventory"].is_null()
                {
                    k["status"] = live["status"].clone();
                }
                k
            }
            None => live.ok_or_else(|| {
                anyhow!(
                    "failed to get kustomization object: kustomization {} not found",
                    self.opts.name
                )
            })?,
        };
        self.kustomization = Some(k.clone());
        // Reading the directory and building are blocking work: off the async threads.
        let sandbox = match &self.sandbox {
            Some(root) => Some(root.clone()),
            None if self.opts.in_memory => std::env::current_dir().ok(),
            None => None,
        };
        let (dir, ignore, spec) = (self.opts.path.clone(), self.opts.ignore.clone(), k.clone());
        let mut resources = blocking(move || {
            let manifest = generate(&spec, &dir, &ignore)
                .map_err(|e| anyhow!("failed to generate kustomization.yaml: {e:#} <nil>"))?;
            let build_opts = BuildOptions {
                load_restrictor: LoadRestrictor::None,
                sandbox,
                chart_renderer: None,
            };
            gitops_kustomize::build_with_kustomization(
                &dir,
                &manifest.file_name,
                &manifest.text,
                &build_opts,
            )
            .map_err(|e| anyhow!("kustomize build failed: {e}"))
        })
        .await?;
        if !k["spec"]["postBuild"].is_null() {
            resources = self.substitute(&k, resources).await?;
        }
        let name = meta_str(&k, "name").to_owned();
        let namespace = meta_str(&k, "namespace").to_owned();
        blocking(move || {
            let mut objects = Vec::with_capacity(resources.len());
            for r in &mut resources {
                set_owner_labels(r, &name, &namespace);
                mask_sops_data(r)?;
                let v: Value = serde_json::from_str(&yaml::to_go_json(&r.obj))
                    .with_context(|| format!("kustomize build failed: {}", r.cur_id()))?;
                objects.extend(read_objects(v));
            }
            Ok(objects)
        })
        .await
    }

    /// Post-build substitution, resource by resource (Flux's `SubstituteVariables`): the
    /// variables are read once, when the first resource that is not disabled needs them.
    async fn substitute(
        &self,
        k: &Value,
        resources: Vec<Resource>,
    ) -> anyhow::Result<Vec<Resource>> {
        fn disabled(r: &Resource) -> bool {
            r.string_map("labels")
                .iter()
                .chain(r.string_map("annotations").iter())
                .any(|(key, v)| key == flux::substitute::SUBSTITUTE_ANNOTATION && v == "disabled")
        }
        let fail = |name: &str, e: String| anyhow!("var substitution failed for '{name}': {e}");
        let Some(first) = resources.iter().find(|r| !disabled(r)) else {
            return Ok(resources);
        };
        let vars = self
            .load_variables(k)
            .await
            .map_err(|e| fail(first.name(), format!("{e:#}")))?;
        let always = k["spec"]["postBuild"]["substituteStrategy"] == "Always";
        let strict = self.opts.strict_substitute;
        let mut resources = resources;
        blocking(move || {
            for r in resources.iter_mut() {
                if disabled(r) {
                    continue;
                }
                if vars.is_empty() && !always {
                    continue;
                }
                let name = r.name().to_owned();
                if let Some(bad) = vars.keys().find(|v| !valid_var_name(v)) {
                    return Err(fail(
                        &name,
                        format!(
                            "envsubst error: '{bad}' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'"
                        ),
                    ));
                }
                let text = yaml::to_yaml(&r.obj).map_err(|e| fail(&name, e.to_string()))?;
                let out = flux::substitute_str(&text, &vars, strict).map_err(|e| {
                    let m = e.to_string();
                    let m = match m.strip_prefix("variable not set (strict mode): ") {
                        Some(v) => format!("variable not set (strict mode): {v:?}"),
                        None => m,
                    };
                    fail(
                        &name,
                        format!("envsubst error: variable substitution failed: {m}"),
                    )
                })?;
                r.obj = yaml::parse_one(&out)
                    .map_err(|e| fail(&name, format!("envsubst error: YAMLToJSON: {e}")))?;
            }
            Ok(resources)
        })
        .await
    }

    /// `substituteFrom` (unless dry-run), then `substitute`, newlines removed.
    async fn load_variables(&self, k: &Value) -> anyhow::Result<BTreeMap<String, String>> {
        let post = &k["spec"]["postBuild"];
        if post.is_null() {
            return Ok(BTreeMap::new());
        }
        let pb: gitops_api::kustomize::PostBuild = serde_json::from_value(post.clone())
            .map_err(|e| anyhow!("invalid spec.postBuild: {e}"))?;
        let client = if self.opts.dry_run {
            None
        } else {
            Some(self.client()?.clone())
        };
        gitops_controllers::kustomize::post_build_variables(
            client.as_ref(),
            meta_str(k, "namespace"),
            &pb,
        )
        .await
        .map_err(|e| anyhow!("{e}"))
    }
}

/// Runs blocking or CPU-heavy work (reading directories, building) on the runtime's
/// blocking threads, so the async threads keep serving (the web view's requests).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| anyhow!("kustomize build failed: {e}"))?
}

fn valid_var_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Lexically cleans a path (Go's `filepath.Clean`).
pub fn clean_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => match out.components().next_back() {
                Some(std::path::Component::Normal(_)) => {
                    out.pop();
                }
                Some(std::path::Component::RootDir | std::path::Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `Kind/namespace/name` of a Kustomization's source (its own namespace when unset).
fn source_key(k: &Value) -> String {
    let r = &k["spec"]["sourceRef"];
    let ns = match r["namespace"].as_str().unwrap_or_default() {
        "" => meta_str(k, "namespace"),
        ns => ns,
    };
    let kind = r["kind"].as_str().unwrap_or_default();
    let name = r["name"].as_str().unwrap_or_default();
    if ns.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}/{ns}/{name}")
    }
}

fn same_kustomization(a: &Value, b: &Value) -> bool {
    meta_str(a, "name") == meta_str(b, "name")
        && meta_str(a, "namespace") == meta_str(b, "namespace")
}

/// Reads the Kustomization `name` in `namespace` (or without namespace) from a YAML or
/// JSON file of one or more documents.
fn read_kustomization_file(file: &Path, name: &str, namespace: &str) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow!("failed to read kustomization file {}: {e}", file.display()))?;
    let docs = yaml::parse_documents(&text).map_err(|e| {
        anyhow!(
            "failed to unmarshall kustomization file {}: line {}: {}",
            file.display(),
            e.line,
            e.message
        )
    })?;
    for doc in docs {
        if doc.value.is_null() {
            continue;
        }
        let v: Value = serde_json::from_str(&yaml::to_go_json(&doc.value)).map_err(|e| {
            anyhow!(
                "failed to unmarshall kustomization file {}: {e}",
                file.display()
            )
        })?;
        if !v.is_object()
            || !matches!(v["metadata"], Value::Null | Value::Object(_))
            || !matches!(v["spec"], Value::Null | Value::Object(_))
        {
            bail!(
                "failed to unmarshall kustomization file {}: line {}: not a Kustomization object",
                file.display(),
                doc.line
            );
        }
        let ns = meta_str(&v, "namespace");
        if is_flux_kustomization(&v)
            && meta_str(&v, "name") == name
            && (ns == namespace || ns.is_empty())
        {
            return Ok(v);
        }
    }
    bail!(
        "failed find kustomization with name '{name}' and namespace '{namespace}' in file '{}'",
        file.display()
    )
}

/// Converts JSON to the engine's YAML model.
fn to_yaml_value(v: &Value) -> anyhow::Result<YValue> {
    yaml::parse_one(&v.to_string()).map_err(|e| anyhow!("{e}"))
}

/// The gitignore rules Flux's CLI applies to a directory: the default excludes, the
/// `.sourceignore` files in it and below, then `--ignore-paths`.
fn ignore_rules(
    dir: &Path,
    extra: &[String],
) -> anyhow::Result<gitops_source::ignore::IgnoreRules> {
    fn walk(
        root: &Path,
        dir: &Path,
        rules: &mut gitops_source::ignore::IgnoreRules,
    ) -> anyhow::Result<()> {
        let rel = dir
            .strip_prefix(root)
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let file = dir.join(gitops_source::ignore::SOURCEIGNORE);
        if let Ok(text) = std::fs::read_to_string(&file) {
            rules.add(&rel, &text, &file.display().to_string())?;
        }
        let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != ".git")
            .map(|e| e.path())
            .collect();
        subdirs.sort();
        for d in subdirs {
            walk(root, &d, rules)?;
        }
        Ok(())
    }
    let mut rules = gitops_source::ignore::IgnoreRules::flux_defaults();
    walk(dir, dir, &mut rules)?;
    if !extra.is_empty() {
        rules.add("", &extra.join("\n"), "--ignore-paths")?;
    }
    Ok(rules)
}

/// Flux's kustomization for the directory, with the Kustomization's overlays and
/// `sortOptions: fifo` unless it sorts itself (Flux's kustomize keeps the input order).
fn generate(k: &Value, dir: &Path, ignore: &[String]) -> anyhow::Result<flux::Manifest> {
    let spec = &k["spec"];
    let opt_str = |field: &str| -> anyhow::Result<Option<String>> {
        match &spec[field] {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => bail!(
                ".spec.{field} accessor error: {other} is of the type {}, expected string",
                json_type(other)
            ),
        }
    };
    let strings = |field: &str| -> Vec<String> {
        spec[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let mut patches = Vec::new();
    for p in spec["patches"].as_array().into_iter().flatten() {
        let mut out = serde_json::Map::new();
        if let Some(text) = p["patch"].as_str().filter(|s| !s.is_empty()) {
            out.insert("patch".into(), text.into());
        }
        if let Some(t) = p["target"].as_object() {
            let mut target = serde_json::Map::new();
            for f in [
                "group",
                "version",
                "kind",
                "name",
                "namespace",
                "labelSelector",
                "annotationSelector",
            ] {
                if let Some(s) = t.get(f).and_then(Value::as_str).filter(|s| !s.is_empty()) {
                    target.insert(f.into(), s.into());
                }
            }
            out.insert("target".into(), Value::Object(target));
        }
        patches.push(to_yaml_value(&Value::Object(out))?);
    }
    let mut images = Vec::new();
    for i in spec["images"].as_array().into_iter().flatten() {
        let mut out = serde_json::Map::new();
        for f in ["name", "newName", "newTag", "digest"] {
            if let Some(s) = i[f].as_str().filter(|s| !s.is_empty()) {
                out.insert(f.into(), s.into());
            }
        }
        images.push(to_yaml_value(&Value::Object(out))?);
    }
    let overlays = flux::Overlays {
        target_namespace: opt_str("targetNamespace")?,
        name_prefix: opt_str("namePrefix")?,
        name_suffix: opt_str("nameSuffix")?,
        patches,
        images,
        components: strings("components"),
        ignore_missing_components: spec["ignoreMissingComponents"].as_bool().unwrap_or(false),
        build_metadata: strings("buildMetadata"),
    };
    let rules = ignore_rules(dir, ignore)?;
    let mut manifest =
        flux::flux_manifest(dir, &overlays, &|rel, is_dir| rules.is_ignored(rel, is_dir))?;
    let mut v = yaml::parse_one(&manifest.text).map_err(|e| anyhow!("{e}"))?;
    if let YValue::Map(m) = &mut v
        && !m.contains_key("sortOptions")
    {
        let mut s = Mapping::new();
        s.insert("order".into(), YValue::String("fifo".into()));
        m.insert("sortOptions".into(), YValue::Map(s));
        manifest.text = yaml::to_yaml(&v).map_err(|e| anyhow!("{e}"))?;
    }
    Ok(manifest)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn labels_map<'a>(obj: &'a mut YValue, field: &str) -> Option<&'a mut Mapping> {
    let m = obj.ensure_path(&["metadata", field]);
    if !matches!(m, YValue::Map(_)) {
        *m = YValue::map();
    }
    m.as_map_mut()
}

fn set_owner_labels(r: &mut Resource, name: &str, namespace: &str) {
    if let Some(l) = labels_map(&mut r.obj, "labels") {
        l.insert(format!("{GROUP}/name"), YValue::String(name.into()));
        l.insert(
            format!("{GROUP}/namespace"),
            YValue::String(namespace.into()),
        );
    }
}

fn string_entries(v: Option<&YValue>) -> Vec<(String, String)> {
    match v {
        Some(YValue::Map(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.scalar_string().unwrap_or_default()))
            .collect(),
        _ => Vec::new(),
    }
}

fn string_map(entries: &[(String, String)]) -> YValue {
    YValue::Map(
        entries
            .iter()
            .map(|(k, v)| (k.clone(), YValue::String(v.clone())))
            .collect(),
    )
}

/// Go's `base64.StdEncoding.DecodeString`, which ignores line breaks.
fn go_base64_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let joined: String = s.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    base64::engine::general_purpose::STANDARD.decode(joined)
}

/// Go's `illegal base64 data at input byte N` for text that is not standard base64.
fn base64_error(s: &str) -> Option<String> {
    match go_base64_decode(s) {
        Ok(_) => None,
        Err(base64::DecodeError::InvalidByte(i, _)) => Some(i),
        Err(base64::DecodeError::InvalidLastSymbol(i, _)) => Some(i),
        Err(_) => Some(s.len().saturating_sub(s.len() % 4)),
    }
    .map(|i| format!("illegal base64 data at input byte {i}"))
}

/// Flux's `maskSopsData`: SOPS-encrypted Secrets get their values replaced by
/// `**SOPS**` (base64-encoded in `data`, a JSON `{"mask":…}` for docker config Secrets),
/// and their `sops` metadata dropped; values that carry SOPS data get masked.
fn mask_sops_data(r: &mut Resource) -> anyhow::Result<()> {
    if r.kind() != "Secret" {
        return Ok(());
    }
    let name = r.name().to_owned();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let sops_mess = b64(MASK);
    let mut data = string_entries(r.obj.get("data"));
    let mut string_data = string_entries(r.obj.get("stringData"));
    let text = yaml::to_yaml(&r.obj).unwrap_or_default();
    if text.contains("sops:") && text.contains("mac: ENC[") {
        if let YValue::Map(m) = &mut r.obj {
            m.shift_remove("sops");
        }
        let docker =
            matches!(r.obj.get("type"), Some(YValue::String(t)) if t == DOCKER_CONFIG_JSON);
        let mask_json = format!("{{\"mask\":\"{MASK}\"}}");
        for (_, v) in data.iter_mut() {
            *v = if docker {
                b64(&mask_json)
            } else {
                sops_mess.clone()
            };
        }
        for (_, v) in string_data.iter_mut() {
            *v = if docker {
                mask_json.clone()
            } else {
                MASK.to_owned()
            };
        }
    } else {
        for (_, v) in data.iter_mut() {
            if let Some(e) = base64_error(v) {
                bail!("failed to mask secret {name} sops data: {e}");
            }
            let decoded = go_base64_decode(v).unwrap_or_default();
            let contains = |n: &[u8]| decoded.windows(n.len()).any(|w| w == n);
            if contains(b"sops") && contains(b"ENC[") {
                *v = sops_mess.clone();
            }
        }
        for (_, v) in string_data.iter_mut() {
            if v.contains("sops") && v.contains("ENC[") {
                *v = sops_mess.clone();
            }
        }
    }
    if let YValue::Map(m) = &mut r.obj {
        m.shift_remove("data");
        if !data.is_empty() {
            m.insert("data".into(), string_map(&data));
        }
        if !string_data.is_empty() {
            m.insert("stringData".into(), string_map(&string_data));
        }
    }
    Ok(())
}

/// The objects of one built resource as Flux reads them back: lists expanded, objects
/// without apiVersion, kind or name and kustomize's own Kustomizations left out.
fn read_objects(v: Value) -> Vec<Value> {
    let kind = v["kind"].as_str().unwrap_or_default();
    if kind.ends_with("List") && v["items"].is_array() {
        return v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i.is_object())
            .flat_map(|i| read_objects(i.clone()))
            .collect();
    }
    let named = ["apiVersion", "kind"]
        .iter()
        .all(|f| v[*f].as_str().is_some_and(|s| !s.is_empty()))
        && !meta_str(&v, "name").is_empty();
    let kustomize_config = kind.eq_ignore_ascii_case("kustomization")
        && v["apiVersion"]
            .as_str()
            .is_some_and(|a| a.starts_with("kustomize.config.k8s.io/"));
    if named && !kustomize_config {
        vec![v]
    } else {
        Vec::new()
    }
}

/// Flux's `SetCommonMetadata`.
fn set_common_metadata(objects: &mut [Value], labels: &Value, annotations: &Value) {
    for o in objects {
        for (field, extra) in [("labels", labels), ("annotations", annotations)] {
            let mut m = o["metadata"][field]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for (k, v) in extra.as_object().into_iter().flatten() {
                m.insert(k.clone(), v.clone());
            }
            if !m.is_empty() {
                o["metadata"][field] = Value::Object(m);
            }
        }
    }
}

/// The objects as Flux's `build` prints them: each as YAML followed by `---`.
pub fn objects_to_yaml(objects: &[Value]) -> anyhow::Result<String> {
    let mut out = String::new();
    for o in objects {
        gitops_go::yaml::marshal_into(&mut out, &crate::cli::yaml::node(o))
            .context("converting an object to YAML")?;
        out.push_str("---\n");
    }
    Ok(out)
}

// --- diff ---------------------------------------------------------------------------

/// What a diff found.
pub struct DiffOutput {
    /// The lines and reports.
    pub text: String,
    /// Whether something would be created, changed or deleted.
    pub changed: bool,
    /// The errors met on the way (the diff goes on after them).
    pub errors: Vec<String>,
}

/// Flux's `normalize.UnstructuredList` where it changes what is sent: `stringData`
/// folded into `data`, TCP as the default port protocol, no status.
fn normalize(obj: &mut Value) {
    let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
    let api = obj["apiVersion"].as_str().unwrap_or_default().to_owned();
    let default_tcp = |ports: &mut Value| {
        for p in ports.as_array_mut().into_iter().flatten() {
            if p.is_object() && p["protocol"].as_str().is_none_or(str::is_empty) {
                p["protocol"] = json!("TCP");
            }
        }
    };
    let pod_spec = |spec: &mut Value| {
        for c in spec["containers"].as_array_mut().into_iter().flatten() {
            if c.get("ports").is_some() {
                default_tcp(&mut c["ports"]);
            }
        }
    };
    match (api.as_str(), kind.as_str()) {
        ("v1", "Secret") => {
            if let Some(sd) = obj["stringData"]
                .as_object()
                .cloned()
                .filter(|m| !m.is_empty())
            {
                if !obj["data"].is_object() {
                    obj["data"] = json!({});
                }
                for (k, v) in sd {
                    let text = v.as_str().unwrap_or_default();
                    obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
                }
                if let Some(m) = obj.as_object_mut() {
                    m.remove("stringData");
                }
            }
        }
        ("v1", "Service") if obj["spec"].get("ports").is_some() => {
            default_tcp(&mut obj["spec"]["ports"]);
        }
        ("v1", "Pod") => pod_spec(&mut obj["spec"]),
        ("apps/v1", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch/v1", "Job")
            if obj["spec"]["template"]["spec"].is_object() =>
        {
            pod_spec(&mut obj["spec"]["template"]["spec"]);
        }
        ("batch/v1", "CronJob")
            if obj["spec"]["jobTemplate"]["spec"]["template"]["spec"].is_object() =>
        {
            pod_spec(&mut obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]);
        }
        _ => {}
    }
    if kind != "CustomResourceDefinition"
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
}

/// Flux's `diffSopsSecret`: a Secret built with masked values counts as drifted only when
/// its keys differ from the live ones; both sides then show `*****` for every value.
fn sops_secret_drift(obj: &Value, live: &mut Value, merged: &mut Value) -> bool {
    let masked = obj["data"].as_object().into_iter().flatten().any(|(_, v)| {
        let decoded = go_base64_decode(v.as_str().unwrap_or_default()).unwrap_or_default();
        decoded.windows(MASK.len()).any(|w| w == MASK.as_bytes())
    });
    if !masked {
        return true;
    }
    let keys = |o: &mut Value| -> Vec<String> {
        let mut keys = Vec::new();
        if let Some(m) = o["data"].as_object_mut() {
            for (k, v) in m.iter_mut() {
                *v = json!("*****");
                keys.push(k.clone());
            }
        }
        keys.sort();
        keys
    };
    keys(live) != keys(merged)
}

/// One built object and what its server-side dry run found.
pub struct DryRun {
    /// The object as built (normalized as Flux sends it).
    pub built: Value,
    /// What applying it would do (Secret values masked), or why the dry run failed.
    pub outcome: Result<gitops_apply::ObjectDiff, String>,
}

/// What `builder` builds, each object dry-run applied against the cluster in build order,
/// as `flux diff kustomization` does it (its ignore rules, exclusions and SOPS Secrets
/// compared by keys). Returns the Kustomization the build used and the results.
pub async fn dry_run(builder: &mut Builder) -> anyhow::Result<(Value, Vec<DryRun>)> {
    let objects = builder.build().await?;
    let k = builder.kustomization.clone().unwrap_or(Value::Null);
    let client = builder.client()?.clone();
    let applier = Applier::new(client, FIELD_MANAGER);
    // Normalizing and matching the ignore rules is CPU work: off the async threads.
    let spec = k["spec"]["ignore"].clone();
    let prepared = blocking(move || {
        let rules = ignore_rules_of(&spec)?;
        Ok(objects
            .into_iter()
            .map(|mut obj| {
                normalize(&mut obj);
                let ignore = if rules.is_empty() {
                    Vec::new()
                } else {
                    let resource = to_yaml_value(&obj).ok().map(Resource::new);
                    rules.paths_for(resource.as_ref())
                };
                (obj, ignore)
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let selector = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let mut out = Vec::with_capacity(prepared.len());
    for (obj, ignore_paths) in prepared {
        let opts = DiffOptions {
            exclusions: selector(&[
                ("kustomize.toolkit.fluxcd.io/reconcile", "disabled"),
                ("kustomize.toolkit.fluxcd.io/ssa", "ignore"),
            ]),
            if_not_present: selector(&[("kustomize.toolkit.fluxcd.io/ssa", "ifnotpresent")]),
            force: false,
            force_selector: selector(&[("kustomize.toolkit.fluxcd.io/force", "enabled")]),
            ignore_paths,
        };
        let outcome = match applier.diff_object(&obj, &opts).await {
            Ok(mut change) => {
                if obj["kind"] == "Secret"
                    && change.action == Action::Configured
                    && let (Some(live), Some(merged)) =
                        (change.live.as_mut(), change.merged.as_mut())
                    && !sops_secret_drift(&obj, live, merged)
                {
                    change.action = Action::Unchanged;
                }
                Ok(change)
            }
            Err(DiffError::Apply(a)) => Err(a.to_string()),
            Err(other) => Err(other.to_string()),
        };
        out.push(DryRun {
            built: obj,
            outcome,
        });
    }
    Ok((k, out))
}

/// The Kustomization's drift ignore rules (`spec.ignore`).
fn ignore_rules_of(ignore: &Value) -> anyhow::Result<flux::IgnoreRules> {
    let rules: Vec<flux::IgnoreRule> = ignore
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| flux::IgnoreRule {
            paths: r["paths"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect(),
            target: r["target"].as_object().map(|t| {
                let f = |n: &str| {
                    t.get(n)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                gitops_kustomize::Selector {
                    group: f("group"),
                    version: f("version"),
                    kind: f("kind"),
                    name: f("name"),
                    namespace: f("namespace"),
                    label_selector: f("labelSelector"),
                    annotation_selector: f("annotationSelector"),
                }
            }),
        })
        .collect();
    flux::IgnoreRules::new(&rules).map_err(|e| anyhow!("{e}"))
}

/// The objects of the Kustomization `k`'s inventory that `applied` no longer has, in
/// Flux's order: what pruning would delete (none when `spec.prune` is off).
pub fn stale(k: &Value, applied: &[ObjectRef]) -> anyhow::Result<Vec<ObjectRef>> {
    if !k["spec"]["prune"].as_bool().unwrap_or(false) {
        return Ok(Vec::new());
    }
    let mut stale = Vec::new();
    for e in k["status"]["inventory"]["entries"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let id = e["id"].as_str().unwrap_or_default();
        let v = e["v"].as_str().unwrap_or_default();
        let r = ObjectRef::parse_inventory_id(id, v).map_err(|e| anyhow!("{e}"))?;
        if !applied.iter().any(|n| n.same_object(&r)) {
            stale.push(r);
        }
    }
    stale.sort_by(flux_order);
    Ok(stale)
}

/// The lines of `flux diff kustomization` for what `builder` builds.
pub async fn diff(builder: &mut Builder, width: usize) -> anyhow::Result<DiffOutput> {
    let (k, results) = dry_run(builder).await?;
    let mut out = DiffOutput {
        text: String::new(),
        changed: false,
        errors: Vec::new(),
    };
    let mut new_inventory: Vec<ObjectRef> = Vec::new();
    for DryRun {
        built: obj,
        outcome,
    } in &results
    {
        let change = match outcome {
            Ok(c) => c,
            Err(e) => {
                out.errors.push(e.clone());
                continue;
            }
        };
        if change.action == Action::Skipped {
            out.text.push_str(&format!("► {} skipped\n", change.object));
        }
        match change.action {
            Action::Created => {
                out.text.push_str(&format!("► {} created\n", change.object));
                out.changed = true;
            }
            Action::Configured => {
                out.text.push_str(&format!("► {} drifted\n", change.object));
                if let (Some(live), Some(merged)) = (&change.live, &change.merged) {
                    out.text.push_str(&dyff::report(live, merged, width));
                }
                out.changed = true;
            }
            _ => {}
        }
        new_inventory.push(change.object.clone());
        if builder.opts.recursive
            && is_flux_kustomization(obj)
            && change.action != Action::Created
            && !same_kustomization(obj, &k)
        {
            if !obj["spec"]["kubeConfig"].is_null() {
                out.text.push_str(&format!(
                    "⚠️ {} skipped: diff not supported for remote clusters\n",
                    fmt_object(obj)
                ));
            } else {
                match sub_diff(builder, obj, width).await {
                    Ok(sub) => {
                        out.errors.extend(sub.errors);
                        if sub.changed {
                            out.changed = true;
                            out.text
                                .push_str(&format!("📁 {} changed\n", fmt_object(obj)));
                            out.text.push_str(&sub.text);
                        }
                    }
                    Err(e) => out.errors.push(format!("{e:#}")),
                }
            }
        }
    }
    if out.errors.is_empty() {
        let stale = stale(&k, &new_inventory)?;
        if !stale.is_empty() {
            out.changed = true;
        }
        for r in stale {
            out.text.push_str(&format!("► {r} deleted\n"));
        }
    }
    Ok(out)
}

async fn sub_diff(parent: &Builder, k: &Value, width: usize) -> anyhow::Result<DiffOutput> {
    let path = parent.kustomization_path(k)?;
    let opts = Options {
        name: meta_str(k, "name").to_owned(),
        namespace: meta_str(k, "namespace").to_owned(),
        path,
        kustomization_file: None,
        dry_run: false,
        single: true,
        ignore_not_found: false,
        ..parent.opts.clone()
    };
    let mut sub = Builder::new(opts, parent.client.clone())?;
    sub.sandbox = parent.sandbox.clone();
    Box::pin(diff(&mut sub, width)).await
}

/// Flux's `ReconcileOrder` of kinds, then group, kind, namespace and name.
fn flux_order(a: &ObjectRef, b: &ObjectRef) -> std::cmp::Ordering {
    const FIRST: &[&str] = &[
        "CustomResourceDefinition",
        "Namespace",
        "ClusterRole",
        "ClusterClass",
        "RuntimeClass",
        "PriorityClass",
        "StorageClass",
        "VolumeSnapshotClass",
        "IngressClass",
        "GatewayClass",
        "ClusterRoleBinding",
        "ResourceQuota",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Secret",
        "Service",
        "LimitRange",
        "Deployment",
        "StatefulSet",
        "CronJob",
        "PodDisruptionBudget",
    ];
    const LAST: &[&str] = &[
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ];
    let rank = |k: &str| -> i64 {
        if let Some(i) = FIRST.iter().position(|f| *f == k) {
            return i as i64 - FIRST.len() as i64;
        }
        if let Some(i) = LAST.iter().position(|f| *f == k) {
            return 1 + i as i64;
        }
        0
    };
    if a.group != b.group || a.kind != b.kind {
        return rank(&a.kind)
            .cmp(&rank(&b.kind))
            .then_with(|| a.group.cmp(&b.group))
            .then_with(|| a.kind.cmp(&b.kind));
    }
    a.namespace
        .cmp(&b.namespace)
        .then_with(|| a.name.cmp(&b.name))
}

/// Joins errors as Kubernetes' aggregate does: one as is, several deduplicated in `[…]`.
pub fn aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    if errors.len() == 1 || seen.len() == 1 {
        return seen.first().map(|s| (*s).to_owned()).unwrap_or_default();
    }
    format!("[{}]", seen.join(", "))
}

/// The width dyff lays its report out for: the terminal's (`COLUMNS`) when stdout is
/// one, 80 otherwise.
pub fn terminal_width() -> usize {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal()
        && let Some(w) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok())
    {
        return w;
    }
    80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_like_go() {
        assert_eq!(clean_path(Path::new("./a//b/../c")), PathBuf::from("a/c"));
        assert_eq!(clean_path(Path::new("/x/./y/")), PathBuf::from("/x/y"));
        assert_eq!(clean_path(Path::new("../a")), PathBuf::from("../a"));
        assert_eq!(clean_path(Path::new("a/../b")), PathBuf::from("b"));
        assert_eq!(clean_path(Path::new("a/../../b")), PathBuf::from("../b"));
        assert_eq!(clean_path(Path::new("/../x")), PathBuf::from("/x"));
    }

    #[test]
    fn aggregates_like_kubernetes() {
        assert_eq!(aggregate(&["a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "b".into()]), "[a, b]");
    }

    #[test]
    fn sops_secrets_are_masked() {
        let mut r = Resource::new(
            yaml::parse_one(
                "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: ENC[x]\nsops:\n  mac: ENC[y]\n",
            )
            .unwrap(),
        );
        mask_sops_data(&mut r).unwrap();
        assert_eq!(
            yaml::to_yaml(&r.obj).unwrap(),
            "apiVersion: v1\ndata:\n  .dockerconfigjson: eyJtYXNrIjoiKipTT1BTKioifQ==\nkind: Secret\nmetadata:\n  name: s\ntype: kubernetes.io/dockerconfigjson\n"
        );
        let mut bad = Resource::new(
            yaml::parse_one(
                "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  a: '!!'\n",
            )
            .unwrap(),
        );
        assert_eq!(
            mask_sops_data(&mut bad).unwrap_err().to_string(),
            "failed to mask secret s sops data: illegal base64 data at input byte 0"
        );
    }
}
