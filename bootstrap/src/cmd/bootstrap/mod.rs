//! `gitops bootstrap git|github|gitlab|gitea`: makes a cluster manage itself from a Git
//! repository, as `flux bootstrap` does — the component manifests (what `install --export`
//! prints) and the sync manifests (the `flux-system` GitRepository and Kustomization)
//! committed under `--path` and pushed, the components installed, the source Secret created,
//! the sync applied, and the wait until the Kustomization applied the pushed commit.
//! Re-running is idempotent: no commit when nothing changed, an upgrade commit when options
//! changed.
//!
//! [`Bootstrapper`] runs those steps for every command; `git` gives it a URL and credentials
//! ([`git`]), the provider commands first create or find the repository and register the
//! deploy key through the provider's API ([`provider`]).

mod git;
mod provider;

use crate::cli::{Global, kinds, log, object, sourcesecret, wait};
use crate::install::InstallOptions;
use gitops_source::git::{FetchOptions, FetchOutcome, GitAuth, GitError, GitReference};
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
    Git(git::GitArgs),
    /// Deploy Flux on a cluster connected to a GitHub repository.
    Github(provider::GitHubArgs),
    /// Deploy Flux on a cluster connected to a GitLab repository.
    Gitlab(provider::GitLabArgs),
    /// Deploy Flux on a cluster connected to a Gitea repository.
    Gitea(provider::GiteaArgs),
}

/// Flags every bootstrap command takes (Flux's `bootstrapFlags`).
#[derive(clap::Args)]
struct Common {
    #[command(flatten)]
    install: crate::cmd::install::InstallFlags,
    /// When enabled, the personal access token will be used instead of the SSH deploy key.
    #[arg(long, global = true)]
    token_auth: bool,
    /// Git branch.
    #[arg(long, global = true, default_value = "main")]
    branch: String,
    /// SSH hostname, to be used when the SSH host differs from the HTTPS one.
    #[arg(long, global = true, default_value = "")]
    ssh_hostname: String,
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
    /// Path to GPG key ring for signing commits.
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
    /// Use the SSH transport key (--private-key-file) to sign commits.
    #[arg(long, global = true)]
    ssh_signing_reuse_private_key: bool,
    /// When enabled, the GitRepository source includes Git submodules in its artifact.
    #[arg(long, global = true)]
    recurse_submodules: bool,
    /// List of directories to checkout when cloning the repository.
    #[arg(long, global = true, value_parser = crate::cli::flags::string_slice)]
    sparse_checkout: Vec<crate::cli::flags::StringSlice>,
}

/// Runs `gitops bootstrap`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let (common, global) = (args.common, args.global);
    crate::cli::global::block_on(async move {
        match args.command {
            Command::Git(a) => git::run(common, a, global).await,
            Command::Github(a) => provider::run_github(common, a, global).await,
            Command::Gitlab(a) => provider::run_gitlab(common, a, global).await,
            Command::Gitea(a) => provider::run_gitea(common, a, global).await,
        }
    })?;
    Ok(ExitCode::SUCCESS)
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
    // Keys sorted, as Flux's YAML writer orders them.
    let mut git_spec = std::collections::BTreeMap::from([
        (
            "interval",
            json!(crate::cli::global::format_duration(opts.interval)),
        ),
        ("ref", json!({"branch": opts.branch})),
        ("secretRef", json!({"name": opts.secret})),
        ("url", json!(url)),
    ]);
    if opts.recurse_submodules {
        git_spec.insert("recurseSubmodules", json!(true));
    }
    if !opts.sparse_checkout.is_empty() {
        git_spec.insert("sparseCheckout", json!(opts.sparse_checkout));
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
    sparse_checkout: Vec<String>,
}

/// Where the repository is, how the CLI reaches it and how the cluster will.
struct Target {
    /// What the CLI clones and pushes to.
    clone_url: String,
    /// The CLI's credentials and trust.
    clone_auth: GitAuth,
    /// What `gotk-sync.yaml` names (an `ssh://` URL for deploy keys).
    sync_url: String,
    /// How the source-controller authenticates.
    sync_auth: SyncAuth,
    /// `--path`.
    path: String,
    /// `--interval` of the GitRepository.
    interval: Duration,
}

/// The credentials of the `flux-system` Secret.
enum SyncAuth {
    /// Basic auth (a token as the password).
    Basic { username: String, password: String },
    /// A bearer token.
    Bearer(String),
    /// An SSH deploy key (generated unless `--private-key-file`), the host keys of
    /// `ssh_host` in `known_hosts`.
    DeployKey {
        ssh_host: String,
        private_key: Option<Vec<u8>>,
        passphrase: String,
        key: crate::cmd::create::secret::SshKeyFlags,
    },
}

/// The `known_hosts` and identity for the CLI's own SSH connections: the host key the
/// server shows now (trust on first use, as the Secret's `known_hosts` does).
fn ssh_clone_auth(url: &str, common: &Common, ca: Option<Vec<u8>>) -> anyhow::Result<GitAuth> {
    let mut auth = GitAuth {
        ca_pem: ca,
        ..Default::default()
    };
    let (_, _, host, _) = git::split_url(url);
    auth.ssh_known_hosts = Some(sourcesecret::scan_host_key(&host)?.into_bytes());
    auth.ssh_identity = private_key(common)?;
    Ok(auth)
}

/// `--private-key-file`'s content.
fn private_key(common: &Common) -> anyhow::Result<Option<Vec<u8>>> {
    if common.private_key_file.is_empty() {
        return Ok(None);
    }
    sourcesecret::read_file(&common.private_key_file)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("failed to open private key file: {e}"))
}

/// `--ca-file`'s content.
fn ca_bundle(common: &Common) -> anyhow::Result<Option<Vec<u8>>> {
    if common.ca_file.is_empty() {
        return Ok(None);
    }
    sourcesecret::read_file(&common.ca_file)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("unable to read TLS CA file: {e}"))
}

/// A fetched branch: where it is and its tip (`None` for an empty repository).
struct Checkout {
    dir: std::path::PathBuf,
    tip: Option<String>,
    _work: tempfile::TempDir,
}

/// Fetches `branch`; an empty repository gives an empty checkout (the first commit is a
/// root commit), as Flux's clone initialises one.
fn clone(url: &str, branch: &str, auth: &GitAuth) -> anyhow::Result<Checkout> {
    let work = tempfile::tempdir()?;
    let mut opts = FetchOptions::new(url, GitReference::Branch(branch.to_owned()));
    opts.auth = auth.clone();
    let failed = |e: GitError| anyhow::anyhow!("failed to clone repository: {e}");
    match gitops_source::git::fetch(&opts, &work.path().join("git"), None) {
        Ok(FetchOutcome::Fetched(repo)) => Ok(Checkout {
            dir: repo.dir.clone(),
            tip: Some(repo.commit.clone()),
            _work: work,
        }),
        Ok(FetchOutcome::Unchanged(_)) => anyhow::bail!("failed to clone repository"),
        Err(GitError::RefNotFound { reference, url }) => {
            let branches = gitops_source::git::remote_branches(&opts, &work.path().join("probe"))
                .map_err(failed)?;
            if !branches.is_empty() {
                anyhow::bail!("failed to clone repository: {reference} not found in {url}");
            }
            let dir = work.path().join("empty");
            gitops_source::git_push::init_bare(&dir)?;
            Ok(Checkout {
                dir,
                tip: None,
                _work: work,
            })
        }
        Err(e) => Err(failed(e)),
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
        use gitops_source::git_push::{commit_changes, commit_root};
        let mut opts = CommitOptions::new(who.name.clone(), who.email.clone(), message);
        opts.signing = who.signer.clone();
        let commit = match &checkout.tip {
            Some(tip) => commit_changes(&checkout.dir, tip, &files, &opts)?,
            None => commit_root(&checkout.dir, &files, &opts)?,
        };
        let Some(commit) = commit else {
            return Ok((checkout, None));
        };
        log::success(format!("committed {what} to {:?} ({commit:?})", who.branch));
        log::action(format!("pushing {what} to {:?}", who.url));
        let mut push = PushOptions::new(&who.url);
        push.auth = who.auth.clone();
        push.updates
            .push(RefUpdate::new(&commit, &who.branch, checkout.tip.clone()));
        gitops_source::git_push::push(&checkout.dir, &push)
            .map_err(|e| anyhow::anyhow!("failed to push {what}: {e}"))?;
        checkout.tip = Some(commit.clone());
        Ok((checkout, Some(commit)))
    })
    .await?
}

/// The commit signer the flags choose: an OpenPGP key (`--gpg-key-ring`), an SSH key
/// (`--ssh-signing-key-file`) or the SSH transport key (`--ssh-signing-reuse-private-key`,
/// decrypted with `transport_passphrase`), checked as Flux's `bootstrapValidate` and
/// `resolveSigner`.
fn signer(
    common: &Common,
    transport_passphrase: &str,
) -> anyhow::Result<Option<gitops_source::git_push::Signer>> {
    use gitops_source::git_push::Signer;
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let ssh_signing =
        !common.ssh_signing_key_file.is_empty() || common.ssh_signing_reuse_private_key;
    if !common.gpg_key_ring.is_empty() && ssh_signing {
        anyhow::bail!(
            "--gpg-* and --ssh-signing-* are mutually exclusive; pick one signing format"
        );
    }
    if !common.ssh_signing_key_file.is_empty() && common.ssh_signing_reuse_private_key {
        anyhow::bail!(
            "--ssh-signing-key-file and --ssh-signing-reuse-private-key are mutually exclusive"
        );
    }
    if !common.gpg_key_ring.is_empty() {
        let armored_key = sourcesecret::read_file(&common.gpg_key_ring)
            .map_err(|e| anyhow::anyhow!("unable to open GPG key ring: {e}"))?;
        return Ok(Some(Signer::OpenPgp {
            armored_key,
            passphrase: non_empty(&common.gpg_passphrase),
            key_id: non_empty(&common.gpg_key_id),
        }));
    }
    if common.ssh_signing_reuse_private_key {
        let Some(private_key) = private_key(common)? else {
            anyhow::bail!("--ssh-signing-reuse-private-key requires --private-key-file");
        };
        return Ok(Some(Signer::Ssh {
            private_key,
            passphrase: non_empty(transport_passphrase),
        }));
    }
    if !common.ssh_signing_key_file.is_empty() {
        let private_key = sourcesecret::read_file(&common.ssh_signing_key_file)
            .map_err(|e| anyhow::anyhow!("failed to read SSH signing key file: {e}"))?;
        return Ok(Some(Signer::Ssh {
            private_key,
            passphrase: non_empty(&common.ssh_signing_password),
        }));
    }
    Ok(None)
}

/// `message`, with `--commit-message-appendix` after a blank line.
fn commit_message(common: &Common, message: String) -> String {
    if common.commit_message_appendix.is_empty() {
        message
    } else {
        format!("{message}\n\n{}", common.commit_message_appendix)
    }
}

/// The steps of a bootstrap (Flux's `bootstrap.Run`), shared by every command.
struct Bootstrapper {
    common: Common,
    global: Global,
    target: Target,
    client: kube::Client,
    install: InstallOptions,
    manifests: Vec<Value>,
    who: Committer,
    checkout: Option<Checkout>,
    /// `<path>/<namespace>`: where the files go.
    dir: String,
    /// Whether the components were applied by this run (for failure messages).
    installed_now: bool,
}

impl Bootstrapper {
    /// Checks the options, connects to the cluster and, unless `--force`, asks before
    /// taking over an installation another tool manages.
    async fn new(common: Common, global: Global, target: Target) -> anyhow::Result<Self> {
        let install = common.install.options(&global.namespace)?;
        let manifests = crate::install::manifests(&install)?;
        let who = Committer {
            signer: signer(
                &common,
                match &target.sync_auth {
                    SyncAuth::DeployKey { passphrase, .. } => passphrase,
                    _ => "",
                },
            )?,
            name: common.author_name.clone(),
            // As Flux: an empty email stays empty (`Flux <>`).
            email: common.author_email.clone(),
            branch: common.branch.clone(),
            url: target.clone_url.clone(),
            auth: target.clone_auth.clone(),
        };
        let client = global.client().await?;
        // An installation another tool (Helm) manages is replaced only when confirmed.
        if !common.install.force
            && let Some(info) = crate::cli::components::cluster_info(&client).await?
        {
            info.confirm_override()
                .map_err(|_| anyhow::anyhow!("bootstrap cancelled"))?;
        }
        let dir = match sync_path(&target.path).trim_start_matches("./") {
            "" => global.namespace.clone(),
            p => format!("{p}/{}", global.namespace),
        };
        Ok(Bootstrapper {
            common,
            global,
            target,
            client,
            install,
            manifests,
            who,
            checkout: None,
            dir,
            installed_now: false,
        })
    }

    fn namespace(&self) -> &str {
        &self.global.namespace
    }

    fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// An error after the components were installed by this run says so, and that a rerun
    /// continues from there.
    fn explain(&self, e: anyhow::Error) -> anyhow::Error {
        if self.installed_now {
            e.context(format!(
                "the components are installed in namespace {:?} but the sync is not configured; fix the cause and run bootstrap again",
                self.namespace()
            ))
        } else {
            e
        }
    }

    /// Clones the branch, commits and pushes the component manifests, and installs the
    /// components unless the installation already reconciles itself.
    async fn reconcile_components(&mut self) -> anyhow::Result<()> {
        log::action(format!(
            "cloning branch {:?} from Git repository {:?}",
            self.common.branch, self.target.clone_url
        ));
        let (url, branch, auth) = (
            self.target.clone_url.clone(),
            self.common.branch.clone(),
            self.target.clone_auth.clone(),
        );
        let checkout = tokio::task::spawn_blocking(move || clone(&url, &branch, &auth)).await??;
        log::success("cloned repository");
        log::action("generating component manifests");
        let components_yaml = crate::install::render(&self.install)?;
        log::success("generated component manifests");
        let message = commit_message(
            &self.common,
            format!(
                "Add Flux {} component manifests",
                self.common.install.version
            ),
        );
        let files = vec![FileChange::write(
            self.file("gotk-components.yaml"),
            components_yaml,
        )];
        let (checkout, pushed) = commit_and_push(
            checkout,
            files,
            message,
            "component manifests",
            self.who.clone(),
        )
        .await?;
        self.checkout = Some(checkout);
        if pushed.is_none() {
            log::success("component manifests are up to date");
        }
        let ns = self.namespace().to_owned();
        let ks_api = kinds::KUSTOMIZATION.api(&self.client, Some(&ns));
        let installed = match ks_api.get_opt(&ns).await {
            Ok(Some(k)) => {
                object::ready(&object::to_value(&k)?).is_some_and(|(s, _, _)| s == "True")
            }
            // No Kustomization kind yet: nothing installed.
            Ok(None) => false,
            Err(kube::Error::Api(s)) if s.code == 404 => false,
            Err(e) => return Err(e.into()),
        };
        if !installed {
            log::action(format!("installing components in {ns:?} namespace"));
            self.installed_now = true;
            crate::cli::components::apply(&self.client, &self.manifests, self.global.timeout)
                .await
                .map_err(|e| self.explain(anyhow::anyhow!("install failed: {e}")))?;
            log::success("installed components");
        }
        self.common
            .install
            .reconcile_pull_secret(&self.client, &ns)
            .await
            .map_err(|e| self.explain(e))?;
        log::success("reconciled components");
        Ok(())
    }

    /// The source Secret to create or update: `None` when it exists and the flags bring
    /// nothing to put in it — a generated deploy key is kept, while given credentials
    /// (a token, a private key, a CA) replace the old ones, as Flux does.
    async fn source_secret(&self) -> anyhow::Result<Option<Value>> {
        let ns = self.namespace().to_owned();
        log::action(format!(
            "determining if source secret \"{ns}/{}\" exists",
            self.common.secret_name
        ));
        let given = self.target.clone_auth.ca_pem.is_some()
            || match &self.target.sync_auth {
                SyncAuth::Basic { username, password } => {
                    !(username.is_empty() && password.is_empty())
                }
                SyncAuth::Bearer(token) => !token.is_empty(),
                SyncAuth::DeployKey { private_key, .. } => private_key.is_some(),
            };
        if !given && self.existing_secret().await?.is_some() {
            log::success("source secret up to date");
            return Ok(None);
        }
        log::action("generating source secret");
        let mut opts = sourcesecret::GitOptions {
            name: self.common.secret_name.clone(),
            namespace: ns,
            ca_crt: self.target.clone_auth.ca_pem.clone(),
            ..Default::default()
        };
        match &self.target.sync_auth {
            SyncAuth::Basic { username, password } => {
                opts.username = username.clone();
                opts.password = password.clone();
            }
            SyncAuth::Bearer(token) => opts.bearer_token = token.clone(),
            SyncAuth::DeployKey {
                ssh_host,
                private_key,
                passphrase,
                key,
            } => {
                opts.ssh_host = Some(ssh_host.clone());
                opts.private_key = private_key.clone();
                key.apply(&mut opts);
                opts.password = passphrase.clone();
            }
        }
        Ok(Some(sourcesecret::git(&opts)?))
    }

    /// The Secret `--secret-name` as it is in the cluster.
    async fn existing_secret(&self) -> anyhow::Result<Option<k8s_openapi::api::core::v1::Secret>> {
        let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
            kube::Api::namespaced(self.client.clone(), self.namespace());
        Ok(secrets.get_opt(&self.common.secret_name).await?)
    }

    /// Creates the source Secret.
    async fn apply_secret(&self, secret: &Value) -> anyhow::Result<()> {
        log::action(format!(
            "applying source secret \"{}/{}\"",
            self.namespace(),
            self.common.secret_name
        ));
        crate::cmd::create::secret::upsert_secret(&self.client, secret)
            .await
            .map_err(|e| self.explain(e))?;
        log::success("reconciled source secret");
        Ok(())
    }

    /// Commits and pushes the sync manifests, applies the components and the sync objects
    /// as the `flux-system` Kustomization would, and waits until the GitRepository and the
    /// Kustomization reconciled the pushed commit and every controller is healthy.
    async fn reconcile_sync(&mut self) -> anyhow::Result<()> {
        let ns = self.namespace().to_owned();
        // A bootstrap never moves an installation to another path.
        let existing = kinds::KUSTOMIZATION
            .api(&self.client, Some(&ns))
            .get_opt(&ns)
            .await;
        if let Ok(Some(k)) = existing {
            let current = object::to_value(&k)?["spec"]["path"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if sync_path(&current) != sync_path(&self.target.path) {
                return Err(self.explain(anyhow::anyhow!(
                    "sync path configuration ({:?}) would overwrite path ({current:?}) of existing Kustomization",
                    self.target.path
                )));
            }
        }
        log::action("generating sync manifests");
        let sync_opts = SyncOptions {
            namespace: ns.clone(),
            branch: self.common.branch.clone(),
            secret: self.common.secret_name.clone(),
            interval: self.target.interval,
            path: sync_path(&self.target.path),
            recurse_submodules: self.common.recurse_submodules,
            sparse_checkout: crate::cli::flags::flatten(self.common.sparse_checkout.clone()),
        };
        let (sync_yaml, kustomization_yaml) = sync_files(&self.target.sync_url, &sync_opts)?;
        log::success("generated sync manifests");
        let message = commit_message(&self.common, "Add Flux sync manifests".to_owned());
        let files = vec![
            FileChange::write(self.file("gotk-sync.yaml"), sync_yaml.clone()),
            FileChange::write(self.file("kustomization.yaml"), kustomization_yaml),
        ];
        let checkout = self
            .checkout
            .take()
            .ok_or_else(|| anyhow::anyhow!("the repository is not cloned"))?;
        let (checkout, pushed) =
            commit_and_push(checkout, files, message, "sync manifests", self.who.clone())
                .await
                .map_err(|e| self.explain(e))?;
        if pushed.is_none() {
            log::success("sync manifests are up to date");
        }
        let tip = checkout
            .tip
            .clone()
            .ok_or_else(|| anyhow::anyhow!("nothing was committed to the empty repository"))?;
        self.checkout = Some(checkout);
        let revision = format!("{}@sha1:{tip}", self.common.branch);

        // As Flux applies the whole `flux-system` kustomization: the components (an upgrade
        // takes effect now) and the sync objects.
        log::action("applying sync manifests");
        let applier = gitops_apply::Applier::new(self.client.clone(), "flux");
        let mut objs = self.manifests.clone();
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
            .map_err(|e| self.explain(anyhow::anyhow!("{e}")))?;
        log::success("reconciled sync configuration");
        // Fetch now rather than at the next interval (Flux waits for it).
        let stamp = jiff::Timestamp::now().to_string();
        kinds::GIT_REPOSITORY
            .api(&self.client, Some(&ns))
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
            let api = kind.api(&self.client, Some(&ns));
            let want = revision.clone();
            let result = wait::poll(&api, &ns, self.global.timeout, |o| {
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
        let deployments = crate::cli::components::deployments(&self.manifests)?;
        crate::cli::components::verify(&self.client, &deployments, self.global.timeout).await?;
        log::success("all components are healthy");
        Ok(())
    }
}

/// The public key of a generated or existing deploy-key Secret.
fn public_key(secret: &Value) -> Option<String> {
    secret["stringData"]["identity.pub"]
        .as_str()
        .map(|k| k.trim_end().to_owned())
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
                recurse_submodules: true,
                sparse_checkout: vec!["clusters".into(), "infra".into()],
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
  recurseSubmodules: true
  ref:
    branch: main
  secretRef:
    name: flux-system
  sparseCheckout:
  - clusters
  - infra
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
