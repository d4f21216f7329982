//! `gitops bootstrap git`: any Git server, reached with the given URL and credentials.

use super::{Bootstrapper, Common, SyncAuth, Target, ca_bundle, public_key};
use crate::cli::{Global, log};
use gitops_source::git::GitAuth;
use std::time::Duration;

/// `gitops bootstrap git` flags.
#[derive(clap::Args)]
pub struct GitArgs {
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
    /// Use the password as a bearer token.
    #[arg(long)]
    with_bearer_token: bool,
    #[command(flatten)]
    ssh_key: crate::cmd::create::secret::SshKeyFlags,
}

/// A URL's parts: scheme, user (without password), `host[:port]`, and the path with its
/// leading `/`. scp-like `user@host:path` is `ssh`.
pub(super) fn split_url(url: &str) -> (String, Option<String>, String, String) {
    let (scheme, rest, scp) = match url.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r, false),
        None => ("ssh".to_owned(), url, true),
    };
    let (authority, path) = if scp {
        match rest.split_once(':') {
            Some((a, p)) => (a, format!("/{}", p.trim_start_matches('/'))),
            None => (rest, String::new()),
        }
    } else {
        match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, String::new()),
        }
    };
    let (user, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u.split(':').next().unwrap_or(u).to_owned()), h),
        None => (None, authority),
    };
    (scheme, user, host.to_owned(), path)
}

/// `host` without its port (`[::1]:22` → `[::1]`).
fn hostname(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The target of `bootstrap git`, as Flux's: the CLI clones the URL with the given
/// credentials; with `--token-auth` (or `--with-bearer-token`) the cluster syncs over
/// HTTPS with them, otherwise over SSH (the URL's scheme made `ssh`, its host replaced by
/// `--ssh-hostname`) with a deploy key.
fn target(common: &Common, git: &GitArgs) -> anyhow::Result<Target> {
    if git.url.is_empty() {
        anyhow::bail!("url is required");
    }
    let (scheme, user, host, path) = split_url(&git.url);
    if !matches!(scheme.as_str(), "ssh" | "http" | "https") {
        anyhow::bail!("scheme {scheme:?} is not supported");
    }
    if scheme == "http" && !git.allow_insecure_http {
        anyhow::bail!("scheme http is insecure, pass --allow-insecure-http=true to allow it");
    }
    let ca = ca_bundle(common)?;
    let token_auth = common.token_auth || git.with_bearer_token;
    let mut password = git.password.clone();
    if token_auth && password.is_empty() {
        password = crate::cli::prompt::password("Please enter your Git repository password: ")
            .map_err(|e| anyhow::anyhow!("could not read token: {e}"))?;
    }
    // The CLI's own connection.
    let clone_auth = if scheme == "ssh" {
        super::ssh_clone_auth(&git.url, common, ca.clone())?
    } else {
        let mut auth = GitAuth {
            ca_pem: ca.clone(),
            ..Default::default()
        };
        if git.with_bearer_token {
            auth.bearer_token = Some(password.clone());
        } else if !password.is_empty() {
            auth.username = Some(git.username.clone());
            auth.password = Some(password.clone());
        }
        auth
    };
    // The cluster's.
    let (sync_url, sync_auth) = if token_auth {
        let sync_scheme = if git.allow_insecure_http && scheme == "http" {
            "http"
        } else {
            "https"
        };
        let sync_host = if scheme == "ssh" {
            hostname(&host)
        } else {
            &host
        };
        let auth = if git.with_bearer_token {
            SyncAuth::Bearer(password)
        } else {
            SyncAuth::Basic {
                username: git.username.clone(),
                password,
            }
        };
        (format!("{sync_scheme}://{sync_host}{path}"), auth)
    } else {
        // The user given (`--username`, default `git`) unless the URL names one and the
        // flag keeps its default.
        let user = match user {
            Some(u) if git.username == "git" => u,
            _ => git.username.clone(),
        };
        let ssh_host = if common.ssh_hostname.is_empty() {
            host
        } else {
            common.ssh_hostname.clone()
        };
        let auth = SyncAuth::DeployKey {
            ssh_host: ssh_host.clone(),
            private_key: super::private_key(common)?,
            passphrase: password,
            key: git.ssh_key.clone(),
        };
        (format!("ssh://{user}@{ssh_host}{path}"), auth)
    };
    Ok(Target {
        clone_url: git.url.clone(),
        clone_auth,
        sync_url,
        sync_auth,
        path: git.path.clone(),
        interval: git.interval,
    })
}

/// Runs `gitops bootstrap git`.
pub async fn run(common: Common, git: GitArgs, global: Global) -> anyhow::Result<()> {
    let target = target(&common, &git)?;
    let silent = git.silent;
    let mut b = Bootstrapper::new(common, global, target).await?;
    b.reconcile_components().await?;
    if let Some(secret) = b.source_secret().await? {
        if let Some(key) = public_key(&secret) {
            log::success(format!("public key: {key}"));
            if !silent {
                crate::cli::prompt::confirm("Please give the key access to your repository")?;
            }
        }
        b.apply_secret(&secret).await?;
    }
    b.reconcile_sync().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_url("https://bot:pw@example.com:8443/org/repo.git"),
            (
                "https".into(),
                Some("bot".into()),
                "example.com:8443".into(),
                "/org/repo.git".into()
            )
        );
        assert_eq!(
            split_url("git@github.com:org/repo"),
            (
                "ssh".into(),
                Some("git".into()),
                "github.com".into(),
                "/org/repo".into()
            )
        );
        assert_eq!(hostname("example.com:22"), "example.com");
        assert_eq!(hostname("example.com"), "example.com");
    }
}
