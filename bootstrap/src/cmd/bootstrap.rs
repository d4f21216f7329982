//! `gitops bootstrap git`: makes a cluster manage itself from a Git repository, as
//! `flux bootstrap git` does — the component manifests (what `install --export` prints) and
//! the sync manifests (the `flux-system` GitRepository and Kustomization) committed under
//! `--path` and pushed, the components installed, the source Secret created, the sync
//! applied, and the wait until the Kustomization applied the pushed commit. Re-running is
//! idempotent: no commit when nothing changed, an upgrade commit when options changed.

use crate::cli::{Global, kinds, log, object, sourcesecret, wait};
use crate::install::{DEFAULT_REGISTRY, InstallOptions, default_components};
use gitops_source::git::{FetchOptions, FetchOutcome, GitAuth, GitReference};
use gitops_source::git_push::{CommitOptions, FileChange, PushOptions, RefUpdate};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::Duration;

/// `gitops bootstrap`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    global: Global,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Deploy Flux on a cluster connected to a Git repository.
    Git(GitArgs),
}

/// Flags every bootstrap command takes (Flux's `bootstrapFlags`).
#[derive(clap::Args)]
struct Common {
    /// Toolkit version, e.g. 'v0.1.0'.
    #[arg(long, short = 'v', global = true, default_value = concat!("v", env!("CARGO_PKG_VERSION")))]
    version: String,
    /// List of components to install.
    #[arg(long, global = true, value_parser = crate::cli::flags::string_slice)]
    components: Vec<crate::cli::flags::StringSlice>,
    /// List of components in addition to those supplied or defaulted, accepts values such
    /// as 'image-reflector-controller,image-automation-controller'.
    #[arg(long, global = true, value_parser = crate::cli::flags::string_slice)]
    components_extra: Vec<crate::cli::flags::StringSlice>,
    /// Container registry where the toolkit images are published.
    #[arg(long, global = true, default_value = DEFAULT_REGISTRY)]
    registry: String,
    /// If true the controllers will watch for custom resources in all namespaces.
    #[arg(long, global = true, default_value_t = true, action = clap::ArgAction::Set)]
    watch_all_namespaces: bool,
    /// Setting this to true will deploy network policies.
    #[arg(long, global = true, default_value_t = true, action = clap::ArgAction::Set)]
    network_policy: bool,
    /// Log level of the controllers.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    /// Internal cluster domain.
    #[arg(long, global = true, default_value = "cluster.local")]
    cluster_domain: String,
    /// Git branch.
    #[arg(long, global = true, default_value = "main")]
    branch: String,
    /// Name of the secret the sync credentials can be found in or stored to.
    #[arg(long, global = true, default_value = "flux-system")]
    secret_name: String,
    /// Path to a private key file used for authenticating to the Git SSH server.
    #[arg(long, global = true, default_value = "")]
    private_key_file: String,
    /// Path to TLS CA file used for validating self-signed certificates.
    #[arg(long, global = true, default_value = "")]
    ca_file: String,
    /// Author name for Git commits.
    #[arg(long, global = true, default_value = "Flux")]
    author_name: String,
    /// Author email for Git commits.
    #[arg(long, global = true, default_value = "")]
    author_email: String,
    /// String to add to the commit messages, e.g. '[ci skip]'.
    #[arg(long, global = true, default_value = "")]
    commit_message_appendix: String,
    /// Path to GPG key ring for signing commits (an ASCII-armored secret key).
    #[arg(long, global = true, default_value = "")]
    gpg_key_ring: String,
    /// Passphrase for decrypting GPG private key.
    #[arg(long, global = true, default_value = "")]
    gpg_passphrase: String,
    /// Key id for selecting a particular key.
    #[arg(long, global = true, default_value = "")]
    gpg_key_id: String,
    /// Path to an SSH private key file used for signing commits.
    #[arg(long, global = true, default_value = "")]
    ssh_signing_key_file: String,
    /// Passphrase for decrypting SSH signing key.
    #[arg(
        long,
        global = true,
        default_value = "",
        alias = "ssh-signing-passphrase"
    )]
    ssh_signing_password: String,
    /// When enabled, the GitRepository source includes Git submodules in its artifact.
    #[arg(long, global = true)]
    recurse_submodules: bool,
    /// Override existing Flux installation if it's managed by a different tool such as
    /// Helm.
    #[arg(long, global = true)]
    force: bool,
}

#[derive(clap::Args)]
struct GitArgs {
    /// Git repository URL.
    #[arg(long, default_value = "")]
    url: String,
    /// Sync interval.
    #[arg(long, default_value = "1m0s", value_parser = crate::cli::global::go_duration)]
    interval: Duration,
    /// Path relative to the repository root, when specified the cluster sync will be
    /// scoped to this path.
    #[arg(long, default_value = "")]
    path: String,
    /// Basic authentication username.
    #[arg(long, short = 'u', default_value = "git")]
    username: String,
    /// Basic authentication password (or the SSH key's passphrase).
    #[arg(
        long,
        short = 'p',
        default_value = "",
        env = "GIT_PASSWORD",
        hide_env_values = true
    )]
    password: String,
    /// Assumes the deploy key is already setup, skips confirmation.
    #[arg(long, short = 's')]
    silent: bool,
    /// Allows insecure HTTP connections.
    #[arg(long)]
    allow_insecure_http: bool,
    /// Use a token (basic auth with `--username`/`--password`) instead of an SSH deploy key.
    #[arg(long)]
    token_auth: bool,
    /// Use the password as a bearer token.
    #[arg(long)]
    with_bearer_token: bool,
    #[command(flatten)]
    ssh_key: crate::cmd::create::secret::SshKeyFlags,
}

/// Runs `gitops bootstrap`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let Command::Git(git) = args.command;
    crate::cli::global::block_on(bootstrap_git(args.common, git, args.global))?;
    Ok(ExitCode::SUCCESS)
}

/// The repository's scheme and whether it is reached with a token (HTTP) or a deploy key.
fn scheme(url: &str) -> String {
    url.split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_else(|| "ssh".into())
}

/// `./clusters/my-cluster` from `clusters/my-cluster`, `./clusters/my-cluster/` or ``.
fn sync_path(path: &str) -> String {
    let p = path.trim_start_matches("./").trim_matches('/');
    if p.is_empty() {
        "./".into()
    } else {
        format!("./{p}")
    }
}

/// The files of `<path>/<namespace>/` a bootstrap writes: the sync manifests and the
/// kustomization that lists them with the components.
fn sync_files(url: &str, opts: &SyncOptions) -> anyhow::Result<(String, String)> {
    let mut git_spec = json!({
        "interval": crate::cli::global::format_duration(opts.interval),
        "ref": {"branch": opts.branch},
        "secretRef": {"name": opts.secret},
        "url": url,
    });
    if opts.recurse_submodules {
        git_spec["recurseSubmodules"] = json!(true);
    }
    let repo = json!({
        "apiVersion": kinds::GIT_REPOSITORY.info.api_version(),
        "kind": "GitRepository",
        "metadata": {"name": opts.namespace, "namespace": opts.namespace},
        "spec": git_spec,
    });
    let ks = json!({
        "apiVersion": kinds::KUSTOMIZATION.info.api_version(),
        "kind": "Kustomization",
        "metadata": {"name": opts.namespace, "namespace": opts.namespace},
        "spec": {
            "interval": "10m0s",
            "path": opts.path,
            "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": opts.namespace},
        },
    });
    let sync = format!(
        "# This manifest was generated by flux. DO NOT EDIT.\n{}{}",
        crate::cli::yaml::document(&repo)?,
        crate::cli::yaml::document(&ks)?
    );
    let kustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-components.yaml\n- gotk-sync.yaml\n".to_owned();
    Ok((sync, kustomization))
}

struct SyncOptions {
    namespace: String,
    branch: String,
    secret: String,
    interval: Duration,
    path: String,
    recurse_submodules: bool,
}

/// Credentials for cloning and pushing, from the flags.
fn git_auth(common: &Common, git: &GitArgs, ca: Option<Vec<u8>>) -> anyhow::Result<GitAuth> {
    let mut auth = GitAuth {
        ca_pem: ca,
        ..Default::default()
    };
    if scheme(&git.url) == "ssh" {
        // Trust on first use, as the Secret's known_hosts does: the clone checks the host
        // key the server shows now.
        let host = ssh_host(&git.url);
        auth.ssh_known_hosts = Some(sourcesecret::scan_host_key(&host)?.into_bytes());
        if !common.private_key_file.is_empty() {
            auth.ssh_identity = Some(
                sourcesecret::read_file(&common.private_key_file)
                    .map_err(|e| anyhow::anyhow!("failed to open private key file: {e}"))?,
            );
        }
    } else if git.with_bearer_token {
        auth.bearer_token = Some(git.password.clone());
    } else if !git.password.is_empty() {
        auth.username = Some(git.username.clone());
        auth.password = Some(git.password.clone());
    }
    Ok(auth)
}

/// A fetched branch: where it is and its tip.
struct Checkout {
    dir: std::path::PathBuf,
    tip: String,
    _work: tempfile::TempDir,
}

fn clone(url: &str, branch: &str, auth: &GitAuth) -> anyhow::Result<Checkout> {
    let work = tempfile::tempdir()?;
    let mut opts = FetchOptions::new(url, GitReference::Branch(branch.to_owned()));
    opts.auth = auth.clone();
    match gitops_source::git::fetch(&opts, &work.path().join("git"), None)
        .map_err(|e| anyhow::anyhow!("failed to clone repository: {e}"))?
    {
        FetchOutcome::Fetched(repo) => Ok(Checkout {
            dir: repo.dir.clone(),
            tip: repo.commit.clone(),
            _work: work,
        }),
        FetchOutcome::Unchanged(_) => anyhow::bail!("failed to clone repository"),
    }
}

/// Who commits and where the commits go.
#[derive(Clone)]
struct Committer {
    name: String,
    email: String,
    signer: Option<gitops_source::git_push::Signer>,
    branch: String,
    url: String,
    auth: GitAuth,
}

/// Commits `files` on top of the checkout's tip and pushes, on a blocking thread (Git work
/// blocks); `None` when nothing changed. Returns the checkout at its new tip.
async fn commit_and_push(
    mut checkout: Checkout,
    files: Vec<FileChange>,
    message: String,
    what: &'static str,
    who: Committer,
) -> anyhow::Result<(Checkout, Option<String>)> {
    tokio::task::spawn_blocking(move || {
        let mut opts = CommitOptions::new(who.name.clone(), who.email.clone(), message);
        opts.signing = who.signer.clone();
        let Some(commit) =
            gitops_source::git_push::commit_changes(&checkout.dir, &checkout.tip, &files, &opts)?
        else {
            return Ok((checkout, None));
        };
        log::success(format!("committed {what} to {:?} ({commit:?})", who.branch));
        log::action(format!("pushing {what} to {:?}", who.url));
        let mut push = PushOptions::new(&who.url);
        push.auth = who.auth.clone();
        push.updates.push(RefUpdate::new(
            &commit,
            &who.branch,
            Some(checkout.tip.clone()),
        ));
        gitops_source::git_push::push(&checkout.dir, &push)
            .map_err(|e| anyhow::anyhow!("failed to push manifests: {e}"))?;
        checkout.tip = commit.clone();
        Ok((checkout, Some(commit)))
    })
    .await?
}

/// The commit signer the flags choose: an OpenPGP key (`--gpg-key-ring`) or an SSH key
/// (`--ssh-signing-key-file`), as Flux's `resolveSigner`.
fn signer(common: &Common) -> anyhow::Result<Option<gitops_source::git_push::Signer>> {
    use gitops_source::git_push::Signer;
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    if !common.gpg_key_ring.is_empty() {
        if !common.gpg_key_id.is_empty() {
            anyhow::bail!(
                "failed to load OpenPGP signing entity: selecting a key by --gpg-key-id is not supported yet; give a key ring that holds one secret key"
            );
        }
        let armored_key = sourcesecret::read_file(&common.gpg_key_ring)
            .map_err(|e| anyhow::anyhow!("unable to read GPG key ring: {e}"))?;
        return Ok(Some(Signer::OpenPgp {
            armored_key,
            passphrase: non_empty(&common.gpg_passphrase),
        }));
    }
    if !common.ssh_signing_key_file.is_empty() {
        let private_key = sourcesecret::read_file(&common.ssh_signing_key_file)
            .map_err(|e| anyhow::anyhow!("unable to read SSH signing key file: {e}"))?;
        return Ok(Some(Signer::Ssh {
            private_key,
            passphrase: non_empty(&common.ssh_signing_password),
        }));
    }
    Ok(None)
}

/// The host (`host[:port]`) of an SSH URL, `ssh://user@host:port/path` or `user@host:path`.
fn ssh_host(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => {
            let authority = rest.split('/').next().unwrap_or_default();
            authority
                .rsplit_once('@')
                .map_or(authority, |(_, h)| h)
                .to_owned()
        }
        None => {
            let host = url.split(':').next().unwrap_or_default();
            host.rsplit_once('@').map_or(host, |(_, h)| h).to_owned()
        }
    }
}

async fn bootstrap_git(common: Common, git: GitArgs, global: Global) -> anyhow::Result<()> {
    if git.url.is_empty() {
        anyhow::bail!("url is required");
    }
    let scheme = scheme(&git.url);
    if scheme == "http" && !git.allow_insecure_http {
        anyhow::bail!("scheme http is insecure, pass --allow-insecure-http=true to allow it");
    }
    let token_auth = git.token_auth || git.with_bearer_token || scheme != "ssh";
    let ns = global.namespace.clone();
    let mut components: Vec<String> = crate::cli::flags::flatten(common.components.clone());
    if components.is_empty() {
        components = default_components()
            .into_iter()
            .map(str::to_owned)
            .collect();
    }
    components.extend(crate::cli::flags::flatten(common.components_extra.clone()));
    let install = InstallOptions {
        namespace: ns.clone(),
        components,
        registry: common.registry.clone(),
        version: common.version.clone(),
        network_policy: common.network_policy,
        cluster_domain: common.cluster_domain.clone(),
        log_level: common.log_level.clone(),
        watch_all_namespaces: common.watch_all_namespaces,
    };
    let ca = if common.ca_file.is_empty() {
        None
    } else {
        Some(
            sourcesecret::read_file(&common.ca_file)
                .map_err(|e| anyhow::anyhow!("unable to read TLS CA file: {e}"))?,
        )
    };
    let auth = git_auth(&common, &git, ca.clone())?;
    let client = global.client().await?;
    let dir = match sync_path(&git.path).trim_start_matches("./") {
        "" => ns.clone(),
        p => format!("{p}/{ns}"),
    };
    let file = |name: &str| format!("{dir}/{name}");

    // Components.
    log::action(format!(
        "cloning branch {:?} from Git repository {:?}",
        common.branch, git.url
    ));
    let (url, branch, auth2) = (git.url.clone(), common.branch.clone(), auth.clone());
    let checkout = tokio::task::spawn_blocking(move || clone(&url, &branch, &auth2)).await??;
    log::success("cloned repository");
    log::action("generating component manifests");
    let manifests = crate::install::manifests(&install)?;
    let components_yaml = crate::install::render(&install)?;
    log::success("generated component manifests");
    let mut message = format!("Add Flux {} component manifests", common.version);
    if !common.commit_message_appendix.is_empty() {
        message = format!("{message}\n\n{}", common.commit_message_appendix);
    }
    let who = Committer {
        signer: signer(&common)?,
        name: common.author_name.clone(),
        // As Flux: an empty email stays empty (`Flux <>`).
        email: common.author_email.clone(),
        branch: common.branch.clone(),
        url: git.url.clone(),
        auth: auth.clone(),
    };
    let files = vec![FileChange::write(
        file("gotk-components.yaml"),
        components_yaml,
    )];
    let (mut checkout, pushed) =
        commit_and_push(checkout, files, message, "component manifests", who.clone()).await?;
    if pushed.is_none() {
        log::success("component manifests are up to date");
    }
    let ks_api = kinds::KUSTOMIZATION.api(&client, Some(&ns));
    let installed = match ks_api.get_opt(&ns).await? {
        Some(k) => object::ready(&object::to_value(&k)?).is_some_and(|(s, _, _)| s == "True"),
        None => false,
    };
    if !installed {
        log::action(format!("installing components in {ns:?} namespace"));
        crate::cli::components::apply(&client, &manifests, global.timeout)
            .await
            .map_err(|e| anyhow::anyhow!("install failed: {e}"))?;
        log::success("installed components");
    }
    log::success("reconciled components");

    // Source secret.
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client.clone(), &ns);
    log::action(format!(
        "determining if source secret \"{ns}/{}\" exists",
        common.secret_name
    ));
    let mut sync_url = git.url.clone();
    if secrets.get_opt(&common.secret_name).await?.is_some() {
        log::success("source secret up to date");
    } else {
        log::action("generating source secret");
        let mut opts = sourcesecret::GitOptions {
            name: common.secret_name.clone(),
            namespace: ns.clone(),
            ca_crt: ca.clone(),
            ..Default::default()
        };
        if token_auth {
            if git.with_bearer_token {
                opts.bearer_token = git.password.clone();
            } else {
                opts.username = git.username.clone();
                opts.password = git.password.clone();
            }
        } else {
            let host = ssh_host(&sync_url);
            opts.ssh_host = Some(host);
            if !common.private_key_file.is_empty() {
                opts.private_key = auth.ssh_identity.clone();
            }
            git.ssh_key.apply(&mut opts);
            opts.password = git.password.clone();
        }
        let secret = sourcesecret::git(&opts)?;
        if let Some(pk) = secret["stringData"]["identity.pub"].as_str() {
            log::success(format!("public key: {}", pk.trim_end()));
            if !git.silent {
                crate::cli::prompt::confirm("Please give the key access to your repository")?;
            }
        }
        log::action(format!(
            "applying source secret \"{ns}/{}\"",
            common.secret_name
        ));
        crate::cmd::create::secret::upsert_secret(&client, &secret).await?;
        log::success("reconciled source secret");
    }
    if !token_auth && !sync_url.contains("://") {
        // scp-like `git@host:org/repo` → `ssh://git@host/org/repo`, as Flux stores it.
        if let Some((user_host, path)) = sync_url.split_once(':') {
            sync_url = format!("ssh://{user_host}/{path}");
        }
    }

    // Sync manifests.
    log::action("generating sync manifests");
    let sync_opts = SyncOptions {
        namespace: ns.clone(),
        branch: common.branch.clone(),
        secret: common.secret_name.clone(),
        interval: git.interval,
        path: sync_path(&git.path),
        recurse_submodules: common.recurse_submodules,
    };
    let (sync_yaml, kustomization_yaml) = sync_files(&sync_url, &sync_opts)?;
    log::success("generated sync manifests");
    let mut message = "Add Flux sync manifests".to_owned();
    if !common.commit_message_appendix.is_empty() {
        message = format!("{message}\n\n{}", common.commit_message_appendix);
    }
    let files = vec![
        FileChange::write(file("gotk-sync.yaml"), sync_yaml.clone()),
        FileChange::write(file("kustomization.yaml"), kustomization_yaml),
    ];
    let (done, pushed) = commit_and_push(checkout, files, message, "sync manifests", who).await?;
    checkout = done;
    if pushed.is_none() {
        log::success("sync manifests are up to date");
    }
    let revision = format!("{}@sha1:{}", common.branch, checkout.tip);

    // As Flux applies the whole `flux-system` kustomization: the components (an upgrade
    // takes effect now) and the sync objects.
    log::action("applying sync manifests");
    let applier = gitops_apply::Applier::new(client.clone(), "flux");
    let mut objs = manifests.clone();
    for doc in gitops_kustomize::yaml::parse_documents(&sync_yaml)? {
        if doc.value.is_null() {
            continue;
        }
        objs.push(serde_json::from_str::<Value>(
            &gitops_kustomize::yaml::to_go_json(&doc.value),
        )?);
    }
    applier
        .apply(objs, &gitops_apply::ApplyOptions::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    log::success("reconciled sync configuration");
    // Fetch now rather than at the next interval (Flux waits for it).
    let stamp = jiff::Timestamp::now().to_string();
    kinds::GIT_REPOSITORY
        .api(&client, Some(&ns))
        .patch(
            &ns,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"annotations": {
                gitops_api::annotations::REQUESTED_AT: stamp
            }}})),
        )
        .await
        .map_err(object::api_error)?;

    for (kind, what) in [
        (kinds::GIT_REPOSITORY, "GitRepository"),
        (kinds::KUSTOMIZATION, "Kustomization"),
    ] {
        log::waiting(format!("waiting for {what} \"{ns}/{ns}\" to be reconciled"));
        let api = kind.api(&client, Some(&ns));
        let want = revision.clone();
        let result = wait::poll(&api, &ns, global.timeout, |o| {
            let rev = if what == "GitRepository" {
                o["status"]["artifact"]["revision"].as_str()
            } else {
                o["status"]["lastAppliedRevision"].as_str()
            };
            if rev != Some(want.as_str()) {
                return Ok(None);
            }
            match wait::is_ready(o) {
                Ok(true) => Ok(Some(())),
                Ok(false) => Ok(None),
                Err(m) => Err(anyhow::anyhow!("{m}")),
            }
        })
        .await;
        if let Err(e) = result {
            log::failure(format!("{e:#}"));
            anyhow::bail!("{what} \"{ns}/{ns}\" did not reconcile revision {revision}");
        }
        log::success(format!("{what} reconciled successfully"));
    }

    log::action("confirming components are healthy");
    let deployments = crate::cli::components::deployments(&manifests)?;
    crate::cli::components::verify(&client, &deployments, global.timeout).await?;
    log::success("all components are healthy");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(sync_path(""), "./");
        assert_eq!(sync_path("clusters/my-cluster"), "./clusters/my-cluster");
        assert_eq!(sync_path("./clusters/my-cluster/"), "./clusters/my-cluster");
    }

    #[test]
    fn sync_manifests_as_flux_writes_them() {
        let (sync, ks) = sync_files(
            "ssh://git@github.com/org/repo",
            &SyncOptions {
                namespace: "flux-system".into(),
                branch: "main".into(),
                secret: "flux-system".into(),
                interval: Duration::from_secs(60),
                path: "./clusters/my-cluster".into(),
                recurse_submodules: false,
            },
        )
        .unwrap();
        assert_eq!(
            sync,
            "# This manifest was generated by flux. DO NOT EDIT.
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  secretRef:
    name: flux-system
  url: ssh://git@github.com/org/repo
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./clusters/my-cluster
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"
        );
        assert!(ks.contains("- gotk-components.yaml\n- gotk-sync.yaml\n"));
    }
}
