//! `gitops create image repository|policy|update`: the image automation objects, as
//! `flux create image …` generates them; with `--export` printed, otherwise applied and
//! waited for until their controllers report them ready.

use super::{Common, export, put};
use crate::cli::global::{block_on, format_duration, go_duration};
use crate::cli::{FluxKind, Global, kinds, log, object, wait};
use clap::parser::ValueSource;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The image automation kinds.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Create or update an ImageRepository object.
    Repository(RepositoryArgs),
    /// Create or update an ImagePolicy object.
    Policy(Policy),
    /// Create or update an ImageUpdateAutomation object.
    Update(UpdateArgs),
}

/// `create image repository` flags.
#[derive(clap::Args)]
pub struct RepositoryArgs {
    /// Name.
    name: Option<String>,
    /// The image repository to scan; e.g., library/alpine.
    #[arg(long, default_value = "")]
    image: String,
    /// The name of a docker-registry secret to use for credentials.
    #[arg(long = "secret-ref", default_value = "")]
    secret_ref: String,
    /// The name of a secret to use for TLS certificates.
    #[arg(long = "cert-ref", default_value = "")]
    cert_secret_ref: String,
    /// A timeout for scanning; this defaults to the interval if not set.
    #[arg(long = "scan-timeout", value_parser = go_duration)]
    scan_timeout: Option<Duration>,
}

/// `create image policy` flags.
#[derive(clap::Args)]
pub struct PolicyArgs {
    /// Name.
    name: Option<String>,
    /// The name of an image repository object.
    #[arg(long = "image-ref", default_value = "")]
    image_ref: String,
    /// A semver range to apply to tags; e.g., '1.x'.
    #[arg(long = "select-semver", default_value = "")]
    semver: String,
    /// Use alphabetical sorting to select image; either "asc" meaning select the last, or
    /// "desc" meaning select the first.
    #[arg(long = "select-alpha", default_value = "")]
    alpha: String,
    /// Use numeric sorting to select image; either "asc" meaning select the last, or
    /// "desc" meaning select the first.
    #[arg(long = "select-numeric", default_value = "")]
    numeric: String,
    /// Regular expression pattern used to filter the image tags.
    #[arg(long = "filter-regex", default_value = "")]
    filter_regex: String,
    /// Replacement pattern (using capture groups from --filter-regex) to use for sorting.
    #[arg(long = "filter-extract", default_value = "")]
    filter_extract: String,
    /// The digest reflection policy to use when observing latest image tags (one of
    /// 'Never', 'IfNotPresent', 'Always').
    #[arg(long = "reflect-digest", default_value = "")]
    reflect_digest: String,
}

/// `create image policy`: its flags, and whether `--interval` was given. Flux's policy
/// command has its own `--interval` (no default: the digest check interval) in place of the
/// `create` one, so only an explicit value counts.
pub struct Policy {
    args: PolicyArgs,
    interval_given: bool,
}

impl clap::FromArgMatches for Policy {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let interval_given = m.ids().any(|id| id == "interval")
            && m.value_source("interval") == Some(ValueSource::CommandLine);
        Ok(Policy {
            args: PolicyArgs::from_arg_matches(m)?,
            interval_given,
        })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for Policy {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        PolicyArgs::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        PolicyArgs::augment_args_for_update(cmd)
    }
}

/// `create image update` flags.
#[derive(clap::Args)]
pub struct UpdateArgs {
    /// Name.
    name: Option<String>,
    /// The name of a GitRepository resource with details of the upstream Git repository.
    #[arg(long = "git-repo-ref", default_value = "")]
    git_repo_ref: String,
    /// The namespace of the GitRepository resource, defaults to the ImageUpdateAutomation
    /// namespace.
    #[arg(long = "git-repo-namespace", default_value = "")]
    git_repo_namespace: String,
    /// Path to the directory containing the manifests to be updated, defaults to the
    /// repository root.
    #[arg(long = "git-repo-path", default_value = "")]
    git_repo_path: String,
    /// The branch to checkout.
    #[arg(long = "checkout-branch", default_value = "")]
    checkout_branch: String,
    /// The branch to push commits to, defaults to the checkout branch if not specified.
    #[arg(long = "push-branch", default_value = "")]
    push_branch: String,
    /// A template for commit messages.
    #[arg(long = "commit-template", default_value = "")]
    commit_template: String,
    /// The name to use for commit author.
    #[arg(long = "author-name", default_value = "")]
    author_name: String,
    /// The email to use for commit author.
    #[arg(long = "author-email", default_value = "")]
    author_email: String,
    /// Name of the Secret containing the signing key referenced in
    /// spec.git.commit.signingKey.
    #[arg(long = "signing-key-secret", default_value = "")]
    signing_key_secret: String,
    /// Signing-key format: gpg or ssh (defaults to gpg when --signing-key-secret is set).
    #[arg(long = "signing-key-type", default_value = "")]
    signing_key_type: String,
}

/// Runs `create image …`.
pub fn run(cmd: Command, common: &Common, global: &Global) -> anyhow::Result<()> {
    match cmd {
        Command::Repository(a) => repository(a, common, global),
        Command::Policy(p) => policy(p, common, global),
        Command::Update(a) => update(a, common, global),
    }
}

/// Checks an image repository name as go-containerregistry's `name.NewRepository` does
/// (with its error texts).
fn check_repository(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("a repository name must be specified".into());
    }
    let (registry, repo) = match image.split_once('/') {
        Some((reg, repo)) if reg.contains('.') || reg.contains(':') => (reg, repo),
        _ => ("", image),
    };
    const CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-./";
    let runes = repo.chars().count();
    if !(2..=255).contains(&runes) {
        return Err(format!(
            "repository must be between 2 and 255 characters in length: {repo}"
        ));
    }
    if repo.chars().any(|c| !CHARS.contains(c)) {
        return Err(format!(
            "repository can only contain the characters `{CHARS}`: {repo}"
        ));
    }
    if !valid_authority(registry) {
        return Err(format!(
            "registries must be valid RFC 3986 URI authorities: {registry}"
        ));
    }
    Ok(())
}

/// Whether `//<name>` parses as a URL whose host is exactly `name` (Go's `url.Parse`).
fn valid_authority(name: &str) -> bool {
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '@' | '?' | '#' | '/' | '%'))
    {
        return false;
    }
    let port = if let Some(rest) = name.strip_prefix('[') {
        match rest.split_once(']') {
            Some((_, "")) => "",
            Some((_, after)) => match after.strip_prefix(':') {
                Some(p) => p,
                None => return false,
            },
            None => return false,
        }
    } else {
        name.rsplit_once(':').map_or("", |(_, p)| p)
    };
    port.bytes().all(|b| b.is_ascii_digit())
}

fn local_ref(name: &str) -> Value {
    if name.is_empty() {
        Value::Null
    } else {
        json!({ "name": name })
    }
}

fn repository(a: RepositoryArgs, common: &Common, global: &Global) -> anyhow::Result<()> {
    let name = common.name(&a.name)?;
    if a.image.is_empty() {
        anyhow::bail!("an image repository (--image) is required");
    }
    if let Err(e) = check_repository(&a.image) {
        anyhow::bail!("unable to parse image value: {e}");
    }
    let metadata = common.metadata(&name, &global.namespace)?;
    let mut spec = Map::new();
    spec.insert("image".into(), json!(a.image));
    spec.insert("interval".into(), json!(common.interval()));
    if let Some(t) = a.scan_timeout.filter(|t| !t.is_zero()) {
        spec.insert("timeout".into(), json!(format_duration(t)));
    }
    put(&mut spec, "secretRef", local_ref(&a.secret_ref));
    put(&mut spec, "certSecretRef", local_ref(&a.cert_secret_ref));
    let kind = kinds::IMAGE_REPOSITORY;
    let obj = super::object(&kind, metadata, Value::Object(spec));
    if common.export {
        return export(&obj);
    }
    block_on(upsert_and_wait(global, &kind, &obj))
}

/// Go's `regexp.Regexp.Expand` template reader: the name or number after a `$` (`$name`,
/// `${name}`), the rest of the template, or `None` when malformed.
fn extract(s: &str) -> Option<(String, Option<u64>, &str)> {
    let rest = s.strip_prefix('$')?;
    if rest.is_empty() {
        return None;
    }
    let (brace, rest) = match rest.strip_prefix('{') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let end = rest
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(rest.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &rest[..end];
    let mut rest = &rest[end..];
    if brace {
        rest = rest.strip_prefix('}')?;
    }
    let mut num: Option<u64> = Some(0);
    for b in name.bytes() {
        num = match num {
            Some(n) if b.is_ascii_digit() && n < 100_000_000 => Some(n * 10 + u64::from(b - b'0')),
            _ => None,
        };
    }
    if name.starts_with('0') && name.len() > 1 {
        num = None;
    }
    Some((name.to_owned(), num, rest))
}

/// Flux's dry run of `--filter-extract` against the capture groups of `--filter-regex`.
fn validate_extract(template: &str, cap_names: &[String]) -> anyhow::Result<()> {
    let mut template = template;
    while let Some(i) = template.find('$') {
        template = &template[i..];
        if template.as_bytes().get(1) == Some(&b'$') {
            template = &template[2..];
            continue;
        }
        let Some((name, num, rest)) = extract(template) else {
            anyhow::bail!("--filter-extract is malformed");
        };
        template = rest;
        if num.is_none() && !cap_names.contains(&name) {
            anyhow::bail!(
                "capture group ${name} used in --filter-extract not found in --filter-regex"
            );
        }
    }
    Ok(())
}

fn policy(p: Policy, common: &Common, global: &Global) -> anyhow::Result<()> {
    let a = p.args;
    let name = common.name(&a.name)?;
    if a.image_ref.is_empty() {
        anyhow::bail!("the name of an ImageRepository in the namespace is required (--image-ref)");
    }
    let metadata = common.metadata(&name, &global.namespace)?;
    let mut choice = Map::new();
    let (semver, alpha, numeric) = (
        !a.semver.is_empty(),
        !a.alpha.is_empty(),
        !a.numeric.is_empty(),
    );
    match (semver, alpha, numeric) {
        // Flux's switch: semver with alpha or numeric selects nothing (and is no error).
        (true, true, _) | (true, _, true) => {}
        (_, true, true) => anyhow::bail!(
            "only one of --select-semver, --select-alpha or --select-numeric can be specified"
        ),
        (true, _, _) => {
            choice.insert("semver".into(), json!({ "range": a.semver }));
        }
        (_, true, _) => {
            if a.alpha != "desc" && a.alpha != "asc" {
                anyhow::bail!("--select-alpha must be one of [\"asc\", \"desc\"]");
            }
            choice.insert("alphabetical".into(), json!({ "order": a.alpha }));
        }
        (_, _, true) => {
            if a.numeric != "desc" && a.numeric != "asc" {
                anyhow::bail!("--select-numeric must be one of [\"asc\", \"desc\"]");
            }
            choice.insert("numerical".into(), json!({ "order": a.numeric }));
        }
        _ => {
            anyhow::bail!("a policy must be provided with either --select-semver or --select-alpha")
        }
    }

    let mut spec = Map::new();
    spec.insert("imageRepositoryRef".into(), json!({ "name": a.image_ref }));
    spec.insert("policy".into(), Value::Object(choice));
    if !a.filter_regex.is_empty() {
        let Ok(re) = regex::Regex::new(&a.filter_regex) else {
            anyhow::bail!("--filter-regex is an invalid regex pattern");
        };
        let mut filter = Map::new();
        filter.insert("pattern".into(), json!(a.filter_regex));
        filter.insert("extract".into(), json!(""));
        if !a.filter_extract.is_empty() {
            let names: Vec<String> = re
                .capture_names()
                .map(|n| n.unwrap_or_default().to_owned())
                .collect();
            validate_extract(&a.filter_extract, &names)?;
            filter.insert("extract".into(), json!(a.filter_extract));
        }
        spec.insert("filterTags".into(), Value::Object(filter));
    } else if !a.filter_extract.is_empty() {
        anyhow::bail!("cannot specify --filter-extract without specifying --filter-regex");
    }
    if !a.reflect_digest.is_empty() {
        if !matches!(
            a.reflect_digest.as_str(),
            "Never" | "IfNotPresent" | "Always"
        ) {
            anyhow::bail!(
                "invalid value for --reflect-digest, must be one of 'Never', 'IfNotPresent', 'Always'"
            );
        }
        spec.insert("digestReflectionPolicy".into(), json!(a.reflect_digest));
    }
    if p.interval_given && !common.interval.is_zero() {
        if a.reflect_digest != "Always" {
            anyhow::bail!(
                "the --interval flag can only be used with the 'Always' digest reflection policy, use --reflect-digest=Always"
            );
        }
        spec.insert("interval".into(), json!(common.interval()));
    }
    let kind = kinds::IMAGE_POLICY;
    let obj = super::object(&kind, metadata, Value::Object(spec));
    if common.export {
        return export(&obj);
    }
    block_on(upsert_and_wait(global, &kind, &obj))
}

fn update(a: UpdateArgs, common: &Common, global: &Global) -> anyhow::Result<()> {
    let name = common.name(&a.name)?;
    if a.git_repo_ref.is_empty() {
        anyhow::bail!("a reference to a GitRepository is required (--git-repo-ref)");
    }
    if a.checkout_branch.is_empty() {
        anyhow::bail!("the Git repository branch is required (--checkout-branch)");
    }
    if a.author_name.is_empty() {
        anyhow::bail!("the author name is required (--author-name)");
    }
    if a.author_email.is_empty() {
        anyhow::bail!("the author email is required (--author-email)");
    }
    if !a.signing_key_type.is_empty() && a.signing_key_secret.is_empty() {
        anyhow::bail!("--signing-key-type requires --signing-key-secret");
    }
    if !a.signing_key_type.is_empty() && a.signing_key_type != "gpg" && a.signing_key_type != "ssh"
    {
        anyhow::bail!("--signing-key-type must be one of: gpg, ssh");
    }
    let metadata = common.metadata(&name, &global.namespace)?;

    let mut source_ref = Map::new();
    source_ref.insert("kind".into(), json!("GitRepository"));
    source_ref.insert("name".into(), json!(a.git_repo_ref));
    put(&mut source_ref, "namespace", a.git_repo_namespace.as_str());

    let mut author = Map::new();
    put(&mut author, "name", a.author_name.as_str());
    author.insert("email".into(), json!(a.author_email));
    let mut commit = Map::new();
    commit.insert("author".into(), Value::Object(author));
    put(&mut commit, "messageTemplate", a.commit_template.as_str());
    if !a.signing_key_secret.is_empty() {
        let mut key = Map::new();
        key.insert("secretRef".into(), json!({ "name": a.signing_key_secret }));
        put(&mut key, "type", a.signing_key_type.as_str());
        commit.insert("signingKey".into(), Value::Object(key));
    }
    let mut git = Map::new();
    git.insert(
        "checkout".into(),
        json!({ "ref": { "branch": a.checkout_branch } }),
    );
    git.insert("commit".into(), Value::Object(commit));
    if !a.push_branch.is_empty() {
        git.insert("push".into(), json!({ "branch": a.push_branch }));
    }

    let mut spec = Map::new();
    spec.insert("sourceRef".into(), Value::Object(source_ref));
    spec.insert("git".into(), Value::Object(git));
    spec.insert("interval".into(), json!(common.interval()));
    if !a.git_repo_path.is_empty() {
        spec.insert(
            "update".into(),
            json!({ "path": a.git_repo_path, "strategy": "Setters" }),
        );
    }
    let kind = kinds::IMAGE_UPDATE_AUTOMATION;
    let obj = super::object(&kind, metadata, Value::Object(spec));
    if common.export {
        return export(&obj);
    }
    block_on(upsert_and_wait(global, &kind, &obj))
}

/// Flux's `upsertAndWait`: `✚ generating`, `► applying`, create or update (no line when
/// nothing changed), `◎ waiting`, ready at the latest generation, `✔ … reconciliation
/// completed`.
async fn upsert_and_wait(global: &Global, kind: &FluxKind, obj: &Value) -> anyhow::Result<()> {
    let client = global.client().await?;
    let what = kind.kind();
    log::generate(format!("generating {what}"));
    log::action(format!("applying {what}"));
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let api = kind.api(&client, Some(ns));
    match api.get_opt(name).await? {
        None => {
            object::upsert(&api, obj).await?;
            log::success(format!("{what} created"));
        }
        Some(live) => {
            let live = object::to_value(&live)?;
            let labels = |o: &Value| {
                o["metadata"]["labels"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            };
            if live["spec"] != obj["spec"] || labels(&live) != labels(obj) {
                object::upsert(&api, obj).await?;
                log::success(format!("{what} updated"));
            }
        }
    }
    log::waiting(format!("waiting for {what} reconciliation"));
    wait::until_ready(&api, name, global.timeout).await?;
    log::success(format!("{what} reconciliation completed"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories() {
        assert!(check_repository("ghcr.io/stefanprodan/podinfo").is_ok());
        assert!(check_repository("alpine").is_ok());
        assert!(check_repository("localhost:5000/app").is_ok());
        assert_eq!(
            check_repository("ghcr.io/Foo").unwrap_err(),
            "repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: Foo"
        );
        assert_eq!(
            check_repository("a").unwrap_err(),
            "repository must be between 2 and 255 characters in length: a"
        );
        assert_eq!(
            check_repository("host:port/app").unwrap_err(),
            "registries must be valid RFC 3986 URI authorities: host:port"
        );
    }

    #[test]
    fn extract_templates() {
        let caps = vec![String::new(), "ts".to_owned()];
        assert!(validate_extract("$ts", &caps).is_ok());
        assert!(validate_extract("${ts}-$1 $$", &caps).is_ok());
        assert_eq!(
            validate_extract("$nope", &caps).unwrap_err().to_string(),
            "capture group $nope used in --filter-extract not found in --filter-regex"
        );
        assert_eq!(
            validate_extract("${ts", &caps).unwrap_err().to_string(),
            "--filter-extract is malformed"
        );
    }
}
