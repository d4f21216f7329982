//! `helm template` as a library call: values layering (`-f`, `--set*`), rendering and
//! `--show-only` filtering.

use std::path::PathBuf;

use crate::ahead::ParseAhead;
use crate::chart::Chart;
use crate::error::Error;
use crate::render::{RenderOptions, render_chart_with};
use crate::values::{self, Values};

/// Everything `helm template` takes.
#[derive(Debug, Clone, Default)]
pub struct TemplateRequest {
    /// Release name.
    pub name: String,
    /// Chart directory or archive.
    pub chart: PathBuf,
    /// Namespace (`default` when empty).
    pub namespace: String,
    /// `-f` files, in order.
    pub value_files: Vec<PathBuf>,
    /// `--set` expressions.
    pub set: Vec<String>,
    /// `--set-string` expressions.
    pub set_string: Vec<String>,
    /// `--set-file` expressions.
    pub set_file: Vec<String>,
    /// `--set-json` expressions.
    pub set_json: Vec<String>,
    /// `--include-crds`.
    pub include_crds: bool,
    /// `--skip-tests`.
    pub skip_tests: bool,
    /// `--no-hooks`.
    pub no_hooks: bool,
    /// `--kube-version`.
    pub kube_version: Option<String>,
    /// `--api-versions`.
    pub api_versions: Vec<String>,
    /// `--show-only`.
    pub show_only: Vec<String>,
    /// The process ends after this call: skip freeing what the render built (see
    /// [`RenderOptions::one_shot`]).
    pub one_shot: bool,
}

/// The output of a `helm template` run.
#[derive(Debug, Clone)]
pub struct TemplateOutput {
    /// What helm prints on stdout.
    pub stdout: String,
    /// Warnings helm logs (e.g. deprecated chart).
    pub warnings: Vec<String>,
}

/// Layers user values like helm: `-f` files deep-merged in order, then `--set-json`,
/// `--set`, `--set-string`, `--set-file`.
pub fn user_values(req: &TemplateRequest) -> Result<Values, Error> {
    let mut base = Values::new();
    for f in &req.value_files {
        let text = std::fs::read_to_string(f).map_err(|e| Error::Io(f.display().to_string(), e))?;
        let v = values::read_values(&text)
            .map_err(|e| Error::Values(format!("failed to parse {}: {e}", f.display())))?;
        base = values::merge_maps(&base, &v);
    }
    for s in &req.set_json {
        values::parse_set_json(s, &mut base)?;
    }
    for s in &req.set {
        values::parse_set(s, &mut base)
            .map_err(|e| Error::Values(format!("failed parsing --set data: {e}")))?;
    }
    for s in &req.set_string {
        values::parse_set_string(s, &mut base)
            .map_err(|e| Error::Values(format!("failed parsing --set-string data: {e}")))?;
    }
    let read = |p: &str| -> Result<String, Error> {
        std::fs::read_to_string(p).map_err(|e| Error::Io(p.to_string(), e))
    };
    for s in &req.set_file {
        values::parse_set_file(s, &mut base, &read)
            .map_err(|e| Error::Values(format!("failed parsing --set-file data: {e}")))?;
    }
    Ok(base)
}

/// Normalises a `--kube-version` (`1.30`, `v1.30.2`) to `vX.Y.Z` as Helm does, or says
/// what is wrong with it.
pub fn parse_kube_version(v: &str) -> Result<String, Error> {
    let t = v.trim_start_matches('v');
    let parts: Vec<&str> = t.split('.').collect();
    if parts.len() < 2 || parts.iter().take(3).any(|p| p.parse::<u64>().is_err()) {
        return Err(Error::Other(format!(
            "invalid kube version '{v}': expected format 'vX.Y.Z' or 'X.Y'"
        )));
    }
    let patch = parts.get(2).copied().unwrap_or("0");
    Ok(format!("v{}.{}.{patch}", parts[0], parts[1]))
}

/// Runs `helm template` and returns what it prints.
pub fn helm_template(req: &TemplateRequest) -> Result<TemplateOutput, Error> {
    // the templates start parsing on another core as soon as the files are read, while the
    // chart's and the user's values are read
    let mut ahead = None;
    let chart = Chart::load_seeing_files(&req.chart, &Default::default(), true, |files| {
        ahead = Some(ParseAhead::start_files(files));
    })?;
    let user = user_values(req)?;
    let opts = RenderOptions {
        name: req.name.clone(),
        namespace: if req.namespace.is_empty() {
            "default".into()
        } else {
            req.namespace.clone()
        },
        include_crds: req.include_crds,
        skip_tests: req.skip_tests,
        disable_hooks: req.no_hooks,
        kube_version: match &req.kube_version {
            Some(v) => parse_kube_version(v)?,
            None => RenderOptions::default().kube_version,
        },
        api_versions: req.api_versions.clone(),
        one_shot: req.one_shot,
        ..Default::default()
    };
    let rendered = render_chart_with(std::borrow::Cow::Owned(chart), &user, &opts, ahead)?;
    let out = rendered.to_template_output(&opts);
    let stdout = if req.show_only.is_empty() {
        out
    } else {
        let docs = crate::render::split_manifests(&out);
        let mut picked = String::new();
        for f in &req.show_only {
            let f = f.replace('\\', "/");
            let mut missing = true;
            for d in &docs {
                let Some(src) = d.lines().find_map(|l| l.strip_prefix("# Source: ")) else {
                    continue;
                };
                let Some((_, path)) = src.split_once('/') else {
                    continue;
                };
                if crate::chart::go_match(&f, path) {
                    picked.push_str(&format!("---\n{d}\n"));
                    missing = false;
                }
            }
            if missing {
                return Err(Error::Other(format!(
                    "could not find template {f} in chart"
                )));
            }
        }
        picked
    };
    let warnings = rendered.warnings.clone();
    if req.one_shot {
        std::mem::forget((user, rendered));
    }
    Ok(TemplateOutput { stdout, warnings })
}

/// Parses `helm template` arguments (as the conformance cases store them).
pub fn parse_args(args: &[String]) -> Result<TemplateRequest, Error> {
    let mut req = TemplateRequest::default();
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut val = || -> Result<String, Error> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| Error::Other(format!("flag needs an argument: {flag}")))
        };
        match flag.as_str() {
            "-n" | "--namespace" => req.namespace = val()?,
            "-f" | "--values" => req.value_files.push(PathBuf::from(val()?)),
            "--set" => req.set.push(val()?),
            "--set-string" => req.set_string.push(val()?),
            "--set-file" => req.set_file.push(val()?),
            "--set-json" => req.set_json.push(val()?),
            "--kube-version" => req.kube_version = Some(val()?),
            "-a" | "--api-versions" => req.api_versions.push(val()?),
            "-s" | "--show-only" => req.show_only.push(val()?),
            "--include-crds" => req.include_crds = true,
            "--skip-tests" => req.skip_tests = true,
            "--no-hooks" => req.no_hooks = true,
            f if f.starts_with('-') => return Err(Error::Other(format!("unknown flag: {f}"))),
            _ => pos.push(a.clone()),
        }
        i += 1;
    }
    if pos.len() != 2 {
        return Err(Error::Other("expected NAME and CHART".into()));
    }
    req.name = pos[0].clone();
    req.chart = PathBuf::from(&pos[1]);
    Ok(req)
}
