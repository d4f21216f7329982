//! `gitops bootstrap github|gitlab|gitea`: the repository is found or created through the
//! provider's API, teams are given access, the deploy key is registered, then the Git steps
//! run as for `bootstrap git` (Flux's `GitProviderBootstrapper`). One [`Provider`] trait,
//! one implementation per provider: GitHub through octocrab, GitLab and Gitea through their
//! documented REST APIs ([`rest`]).

mod gitea;
mod github;
mod gitlab;
mod rest;

use super::{Bootstrapper, Common, SyncAuth, Target, ca_bundle, public_key};
use crate::cli::flags::{StringSlice, flatten, string_slice};
use crate::cli::{Global, log};
use gitops_source::git::GitAuth;
use std::time::Duration;

/// A repository on a provider: `owner/[subgroups/]name`.
#[derive(Clone, Debug)]
pub(super) struct RepoRef {
    /// User, organization or (GitLab) top-level group.
    pub owner: String,
    /// Subgroups between the owner and the name (GitLab).
    pub groups: Vec<String>,
    /// The repository's name.
    pub name: String,
    /// Owned by the user (`--personal`) rather than an organization.
    pub personal: bool,
}

impl RepoRef {
    /// The namespace: `owner[/subgroups]`.
    pub fn namespace(&self) -> String {
        std::iter::once(self.owner.as_str())
            .chain(self.groups.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("/")
    }

    /// `owner[/subgroups]/name`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.namespace(), self.name)
    }
}

/// A repository's settings that bootstrap creates and (with `--reconcile`) reconciles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RepoInfo {
    /// `private`, `public` or (GitLab) `internal`.
    pub visibility: String,
    /// The default branch.
    pub default_branch: String,
}

/// A deploy key as the provider lists it.
#[derive(Clone, Debug)]
pub(super) struct DeployKey {
    /// The provider's id.
    pub id: u64,
    /// Its title.
    pub title: String,
    /// `<type> <base64>` (a comment, if any, is ignored when comparing).
    pub key: String,
    /// Read-only (no push).
    pub read_only: bool,
}

/// The deploy keys of a JSON list (`id`, `title`, `key` as GitHub, GitLab and Gitea name
/// them), `read_only` read from each entry by the provider's rule.
pub(super) fn deploy_keys_of(
    list: &serde_json::Value,
    read_only: impl Fn(&serde_json::Value) -> bool,
) -> Vec<DeployKey> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|k| DeployKey {
            id: k["id"].as_u64().unwrap_or_default(),
            title: k["title"].as_str().unwrap_or_default().to_owned(),
            key: k["key"].as_str().unwrap_or_default().to_owned(),
            read_only: read_only(k),
        })
        .collect()
}

/// What bootstrap needs from a Git hosting service.
pub(super) trait Provider {
    /// The hostname as given (`github.com`), for "connecting to …".
    fn domain(&self) -> &str;
    /// The bootstrap subcommand (`github`), for messages.
    fn command(&self) -> &'static str;
    /// The repository, `None` when it does not exist.
    async fn get_repository(&self, repo: &RepoRef) -> anyhow::Result<Option<RepoInfo>>;
    /// Creates an empty repository.
    async fn create_repository(&self, repo: &RepoRef, info: &RepoInfo) -> anyhow::Result<()>;
    /// Changes visibility and default branch.
    async fn update_repository(&self, repo: &RepoRef, info: &RepoInfo) -> anyhow::Result<()>;
    /// The repository's deploy keys.
    async fn deploy_keys(&self, repo: &RepoRef) -> anyhow::Result<Vec<DeployKey>>;
    /// Adds a deploy key (`id` unused).
    async fn add_deploy_key(&self, repo: &RepoRef, key: &DeployKey) -> anyhow::Result<()>;
    /// Removes a deploy key.
    async fn delete_deploy_key(&self, repo: &RepoRef, id: u64) -> anyhow::Result<()>;
    /// The permission `team` has on the repository, `None` without access.
    async fn team_permission(&self, repo: &RepoRef, team: &str) -> anyhow::Result<Option<String>>;
    /// Gives `team` `permission` (Flux's names: pull, triage, push, maintain, admin).
    async fn grant_team(&self, repo: &RepoRef, team: &str, permission: &str) -> anyhow::Result<()>;
}

/// Flags every provider command takes.
#[derive(clap::Args)]
pub(super) struct RepoFlags {
    /// User or organization (GitLab: group) name.
    #[arg(long, default_value = "")]
    owner: String,
    /// Repository name (GitLab: may start with subgroups, `sub/repo`).
    #[arg(long, default_value = "")]
    repository: String,
    /// Team and the access to be given to it (team:maintain). Defaults to maintainer access
    /// if no access level is specified (also accepts comma-separated values).
    #[arg(long, value_parser = string_slice)]
    team: Vec<StringSlice>,
    /// If true, the owner is assumed to be a user; otherwise an organization.
    #[arg(long)]
    personal: bool,
    /// Sync interval.
    #[arg(long, default_value = "1m0s", value_parser = crate::cli::global::go_duration)]
    interval: Duration,
    /// Path relative to the repository root, when specified the cluster sync will be
    /// scoped to this path.
    #[arg(long, default_value = "")]
    path: String,
    /// If true, the deploy key is configured with read/write permissions.
    #[arg(long)]
    read_write_key: bool,
    /// If true, the configured options are also reconciled if the repository already
    /// exists.
    #[arg(long)]
    reconcile: bool,
    #[command(flatten)]
    ssh_key: crate::cmd::create::secret::SshKeyFlags,
}

/// `gitops bootstrap github` flags.
#[derive(clap::Args)]
pub struct GitHubArgs {
    #[command(flatten)]
    repo: RepoFlags,
    /// If true, the repository is setup or configured as private.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    private: bool,
    /// GitHub hostname.
    #[arg(long, default_value = "github.com")]
    hostname: String,
}

/// `gitops bootstrap gitlab` flags.
#[derive(clap::Args)]
pub struct GitLabArgs {
    #[command(flatten)]
    repo: RepoFlags,
    /// If true, the repository is setup or configured as private (deprecated: use
    /// --visibility).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    private: bool,
    /// Specifies the visibility of the repository. Valid values are public, private,
    /// internal.
    #[arg(long, default_value = "private", value_parser = ["public", "private", "internal"])]
    visibility: String,
    /// GitLab hostname.
    #[arg(long, default_value = "gitlab.com")]
    hostname: String,
    /// When enabled, a Project Deploy Token is generated and will be used instead of the
    /// SSH deploy token.
    #[arg(long)]
    deploy_token_auth: bool,
}

/// `gitops bootstrap gitea` flags.
#[derive(clap::Args)]
pub struct GiteaArgs {
    #[command(flatten)]
    repo: RepoFlags,
    /// If true, the repository is setup or configured as private.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    private: bool,
    /// Gitea hostname.
    #[arg(long, default_value = "gitea.com")]
    hostname: String,
}

/// The token from `var`, else asked for on standard input.
fn token(var: &str, service: &str) -> anyhow::Result<String> {
    match std::env::var(var) {
        Ok(t) if !t.is_empty() => Ok(t),
        _ => crate::cli::prompt::password(&format!(
            "Please enter your {service} personal access token (PAT): "
        ))
        .map_err(|e| anyhow::anyhow!("could not read token: {e}")),
    }
}

/// `https://<hostname>` unless the hostname names its scheme (Flux's `GetDomainURL`).
pub(super) fn domain_url(hostname: &str) -> String {
    let h = hostname.trim_end_matches('/');
    if h.starts_with("https://") || h.starts_with("http://") {
        h.to_owned()
    } else {
        format!("https://{h}")
    }
}

/// The repository reference from `--owner`/`--repository`.
fn repo_ref(flags: &RepoFlags) -> anyhow::Result<RepoRef> {
    if flags.owner.is_empty() {
        anyhow::bail!("--owner is required");
    }
    if flags.repository.is_empty() {
        anyhow::bail!("--repository is required");
    }
    let mut parts: Vec<String> = flags
        .repository
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let name = parts.pop().unwrap_or_default();
    Ok(RepoRef {
        owner: flags.owner.clone(),
        groups: parts,
        name,
        personal: flags.personal,
    })
}

/// `team[:permission]` pairs, `default` when no permission is given (Flux's
/// `mapTeamSlice`), checked against Flux's permission names.
fn teams(flags: &RepoFlags, default: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in flatten(flags.team.clone()) {
        let (name, permission) = match t.split_once(':') {
            Some((n, p)) if !p.is_empty() => (n.to_owned(), p.to_owned()),
            Some((n, _)) => (n.to_owned(), default.to_owned()),
            None => (t.clone(), default.to_owned()),
        };
        if !["pull", "triage", "push", "maintain", "admin"].contains(&permission.as_str()) {
            anyhow::bail!(
                "failed to reconcile repository team access: invalid permission {permission:?} for team {name:?}"
            );
        }
        // A later mention of a team wins, as a map does.
        out.retain(|(n, _)| *n != name);
        out.push((name, permission));
    }
    Ok(out)
}

/// Everything a provider command decided before the shared steps.
struct Plan {
    repo: RepoRef,
    info: RepoInfo,
    teams: Vec<(String, String)>,
    reconcile: bool,
    read_write_key: bool,
    /// `https://host/owner/repo` for messages.
    display: String,
}

/// The plan from the flags: the repository wanted with `visibility` and the bootstrap
/// branch as its default branch, teams with Flux's default `maintain`.
fn plan(
    common: &Common,
    flags: &RepoFlags,
    hostname: &str,
    visibility: &str,
) -> anyhow::Result<Plan> {
    let repo = repo_ref(flags)?;
    Ok(Plan {
        info: RepoInfo {
            visibility: visibility.to_owned(),
            default_branch: common.branch.clone(),
        },
        teams: teams(flags, "maintain")?,
        reconcile: flags.reconcile,
        read_write_key: flags.read_write_key,
        display: format!("{}/{}", domain_url(hostname), repo.path()),
        repo,
    })
}

/// Finds or creates the repository, reconciles its settings with `--reconcile`, and gives
/// teams access (best effort: a failure is reported and the others continue), as Flux's
/// `reconcileOrgRepository`/`reconcileUserRepository`.
async fn reconcile_repository<P: Provider>(p: &P, plan: &Plan) -> anyhow::Result<()> {
    let repo = &plan.repo;
    let path = repo.path();
    let existing = p.get_repository(repo).await.map_err(|e| {
        anyhow::anyhow!("failed to get Git repository {path:?}: provider error: {e:#}")
    })?;
    match existing {
        None => {
            p.create_repository(repo, &plan.info).await.map_err(|e| {
                anyhow::anyhow!("failed to create new Git repository {path:?}: {e:#}")
            })?;
            log::success(format!("repository {:?} created", plan.display));
        }
        Some(actual) if plan.reconcile && actual != plan.info => {
            p.update_repository(repo, &plan.info).await.map_err(|e| {
                anyhow::anyhow!("failed to reconcile Git repository {path:?}: {e:#}")
            })?;
            log::success(format!("repository {:?} reconciled", plan.display));
        }
        Some(_) => {}
    }
    if repo.personal || plan.teams.is_empty() {
        return Ok(());
    }
    log::action("reconciling repository permissions");
    for (team, permission) in &plan.teams {
        let current = match p.team_permission(repo, team).await {
            Ok(c) => c,
            Err(e) => {
                log::failure(format!(
                    "failed to grant {permission:?} permissions to {team:?}: {e:#}"
                ));
                continue;
            }
        };
        // Without --reconcile a team that has access keeps it as it is.
        if current.is_some() && !plan.reconcile {
            continue;
        }
        if current.as_deref() == Some(permission.as_str()) {
            continue;
        }
        match p.grant_team(repo, team, permission).await {
            Ok(()) => log::success(format!("granted {permission:?} permissions to {team:?}")),
            Err(e) => log::failure(format!(
                "failed to grant {permission:?} permissions to {team:?}: {e:#}"
            )),
        }
    }
    log::success("reconciled repository permissions");
    Ok(())
}

/// Flux's deploy key title: namespace, branch, Secret name and path joined with `-`.
fn deploy_key_title(namespace: &str, branch: &str, secret: &str, path: &str) -> String {
    [namespace, branch, secret, path]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// `<type> <base64>` of an authorized_keys line.
fn key_material(key: &str) -> String {
    key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// Registers `public_key` under `title`: nothing when a key of that title with the same
/// material and access exists, otherwise it is (re)created — deploy keys cannot be
/// edited.
async fn reconcile_deploy_key<P: Provider>(
    p: &P,
    plan: &Plan,
    title: &str,
    public_key: &str,
) -> anyhow::Result<()> {
    let want = DeployKey {
        id: 0,
        title: title.to_owned(),
        key: key_material(public_key),
        read_only: !plan.read_write_key,
    };
    let keys = p.deploy_keys(&plan.repo).await?;
    let mut up_to_date = false;
    for k in keys.iter().filter(|k| k.title == title) {
        if !up_to_date && key_material(&k.key) == want.key && k.read_only == want.read_only {
            up_to_date = true;
        } else {
            p.delete_deploy_key(&plan.repo, k.id).await?;
        }
    }
    if !up_to_date {
        p.add_deploy_key(&plan.repo, &want).await?;
        log::success(format!(
            "configured deploy key {title:?} for {:?}",
            plan.display
        ));
    }
    Ok(())
}

/// The Git target of a provider repository: HTTPS clone URL for the CLI (token as the
/// password), and for the cluster either the same with the token or the SSH URL
/// (`ssh://git@host/owner/repo`, host replaced by `--ssh-hostname`) with a deploy key.
fn provider_target(
    common: &Common,
    flags: &RepoFlags,
    hostname: &str,
    repo: &RepoRef,
    token: &str,
    token_auth: bool,
) -> anyhow::Result<Target> {
    let ca = ca_bundle(common)?;
    let base = domain_url(hostname);
    let https_url = format!("{base}/{}.git", repo.path());
    // As Flux: the owner as the username, the token as the password.
    let clone_auth = GitAuth {
        username: Some(repo.owner.clone()),
        password: Some(token.to_owned()),
        ca_pem: ca,
        ..Default::default()
    };
    let (sync_url, sync_auth) = if token_auth {
        (
            https_url.clone(),
            SyncAuth::Basic {
                username: "git".into(),
                password: token.to_owned(),
            },
        )
    } else {
        let host = if common.ssh_hostname.is_empty() {
            base.split_once("://").map_or(base.as_str(), |(_, h)| h)
        } else {
            common.ssh_hostname.as_str()
        };
        (
            format!("ssh://git@{host}/{}", repo.path()),
            SyncAuth::DeployKey {
                ssh_host: host.to_owned(),
                private_key: super::private_key(common)?,
                passphrase: String::new(),
                key: flags.ssh_key.clone(),
            },
        )
    };
    Ok(Target {
        clone_url: https_url,
        clone_auth,
        sync_url,
        sync_auth,
        path: flags.path.clone(),
        interval: flags.interval,
    })
}

/// The provider bootstrap: repository, then the Git steps with the deploy key (or a
/// GitLab deploy token) registered before the source Secret is applied.
async fn bootstrap<P: Provider>(
    p: &P,
    plan: Plan,
    common: Common,
    global: Global,
    target: Target,
    deploy_token: Option<&gitlab::GitLab>,
) -> anyhow::Result<()> {
    if common.ssh_signing_reuse_private_key {
        anyhow::bail!(
            "--ssh-signing-reuse-private-key is not supported by 'bootstrap {}'; that subcommand generates the SSH transport key in-process and has no operator-supplied key to reuse",
            p.command()
        );
    }
    let title = deploy_key_title(
        &global.namespace,
        &common.branch,
        &common.secret_name,
        &target.path,
    );
    let deploy_keys = matches!(target.sync_auth, SyncAuth::DeployKey { .. });
    let mut b = Bootstrapper::new(common, global, target).await?;
    log::action(format!("connecting to {}", p.domain()));
    reconcile_repository(p, &plan).await?;
    b.reconcile_components().await?;
    if let Some(gl) = deploy_token
        && b.existing_secret().await?.is_none()
    {
        log::action("checking to reconcile deploy token for source secret");
        let (username, token) = gl.reconcile_deploy_token(&plan.repo, &title).await?;
        log::success(format!(
            "configured deploy token {title:?} for {:?}",
            plan.display
        ));
        b.target.sync_auth = SyncAuth::Basic {
            username,
            password: token,
        };
    }
    match b.source_secret().await? {
        Some(secret) => {
            if let Some(key) = public_key(&secret) {
                log::success(format!("public key: {key}"));
                reconcile_deploy_key(p, &plan, &title, &key)
                    .await
                    .map_err(|e| b.explain(e))?;
            }
            b.apply_secret(&secret).await?;
        }
        // The Secret exists: its key must still be registered (a key deleted on the
        // provider is added again).
        None if deploy_keys => {
            let existing = b.existing_secret().await?;
            let key = existing
                .as_ref()
                .and_then(|s| s.data.as_ref())
                .and_then(|d| d.get("identity.pub"))
                .map(|v| String::from_utf8_lossy(&v.0).trim_end().to_owned());
            if let Some(key) = key {
                reconcile_deploy_key(p, &plan, &title, &key)
                    .await
                    .map_err(|e| b.explain(e))?;
            }
        }
        None => {}
    }
    b.reconcile_sync().await
}

/// What every provider command starts with: the token (from `var` or asked for), the plan
/// and the Git target.
fn prepare(
    common: &Common,
    flags: &RepoFlags,
    hostname: &str,
    visibility: &str,
    (var, service): (&str, &str),
    token_auth: bool,
) -> anyhow::Result<(String, Plan, Target)> {
    let token = token(var, service)?;
    let plan = plan(common, flags, hostname, visibility)?;
    let target = provider_target(common, flags, hostname, &plan.repo, &token, token_auth)?;
    Ok((token, plan, target))
}

/// Runs `gitops bootstrap github`.
pub async fn run_github(common: Common, args: GitHubArgs, global: Global) -> anyhow::Result<()> {
    let visibility = if args.private { "private" } else { "public" };
    let (token, plan, target) = prepare(
        &common,
        &args.repo,
        &args.hostname,
        visibility,
        ("GITHUB_TOKEN", "GitHub"),
        common.token_auth,
    )?;
    let p = github::GitHub::new(&args.hostname, &token)?;
    bootstrap(&p, plan, common, global, target, None).await
}

/// Runs `gitops bootstrap gitlab`.
pub async fn run_gitlab(common: Common, args: GitLabArgs, global: Global) -> anyhow::Result<()> {
    if common.token_auth && args.deploy_token_auth {
        anyhow::bail!("--token-auth and --deploy-token-auth cannot be set both");
    }
    // `--private=false` keeps its old meaning unless --visibility says otherwise.
    let visibility = if !args.private && args.visibility == "private" {
        "public"
    } else {
        args.visibility.as_str()
    };
    let (token, plan, mut target) = prepare(
        &common,
        &args.repo,
        &args.hostname,
        visibility,
        ("GITLAB_TOKEN", "GitLab"),
        common.token_auth || args.deploy_token_auth,
    )?;
    if args.deploy_token_auth {
        // No credentials of the user's go to the cluster: a deploy token is made for it
        // when the Secret is missing, and an existing Secret is kept.
        target.sync_auth = SyncAuth::Basic {
            username: String::new(),
            password: String::new(),
        };
    }
    let p = gitlab::GitLab::new(&args.hostname, &token, ca_bundle(&common)?.as_deref())?;
    let deploy_token = args.deploy_token_auth.then_some(&p);
    bootstrap(&p, plan, common, global, target, deploy_token).await
}

/// Runs `gitops bootstrap gitea`.
pub async fn run_gitea(common: Common, args: GiteaArgs, global: Global) -> anyhow::Result<()> {
    let visibility = if args.private { "private" } else { "public" };
    let (token, plan, target) = prepare(
        &common,
        &args.repo,
        &args.hostname,
        visibility,
        ("GITEA_TOKEN", "Gitea"),
        common.token_auth,
    )?;
    let p = gitea::Gitea::new(&args.hostname, &token, ca_bundle(&common)?.as_deref())?;
    bootstrap(&p, plan, common, global, target, None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_flux() {
        assert_eq!(
            deploy_key_title("flux-system", "main", "flux-system", "clusters/my-cluster"),
            "flux-system-main-flux-system-clusters/my-cluster"
        );
        assert_eq!(
            deploy_key_title("flux-system", "main", "flux-system", ""),
            "flux-system-main-flux-system"
        );
        assert_eq!(domain_url("github.com"), "https://github.com");
        assert_eq!(
            domain_url("http://127.0.0.1:3000/"),
            "http://127.0.0.1:3000"
        );
        assert_eq!(
            key_material("ecdsa-sha2-nistp384 AAAA comment here\n"),
            "ecdsa-sha2-nistp384 AAAA"
        );
    }
}
