//! GitHub (github.com or GitHub Enterprise Server, whose API is under `/api/v3`) through
//! octocrab: repositories, deploy keys and team access, as GitHub's REST API documents them.

use super::{DeployKey, Provider, RepoInfo, RepoRef, deploy_keys_of, domain_url};
use serde_json::{Value, json};

/// A GitHub instance and a personal access token.
pub(in crate::cmd::bootstrap) struct GitHub {
    api: octocrab::Octocrab,
    hostname: String,
}

/// The message GitHub gave (status and text), or the transport error.
fn error(e: octocrab::Error) -> anyhow::Error {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            let details: Vec<String> = source
                .errors
                .iter()
                .flatten()
                .filter_map(|d| d["message"].as_str().map(str::to_owned))
                .collect();
            if details.is_empty() {
                anyhow::anyhow!(
                    "GitHub API: {} {}",
                    source.status_code.as_u16(),
                    source.message
                )
            } else {
                anyhow::anyhow!(
                    "GitHub API: {} {} ({})",
                    source.status_code.as_u16(),
                    source.message,
                    details.join("; ")
                )
            }
        }
        other => anyhow::anyhow!("GitHub API: {other}"),
    }
}

fn not_found(e: &octocrab::Error) -> bool {
    matches!(e, octocrab::Error::GitHub { source, .. } if source.status_code.as_u16() == 404)
}

impl GitHub {
    /// The API of `hostname`: `api.github.com` for `github.com`, else Enterprise's
    /// `https://<hostname>/api/v3`.
    pub fn new(hostname: &str, token: &str) -> anyhow::Result<GitHub> {
        gitops_source::ensure_crypto_provider();
        let mut builder = octocrab::Octocrab::builder().personal_token(token.to_owned());
        if hostname != "github.com" {
            builder = builder
                .base_uri(format!("{}/api/v3", domain_url(hostname)))
                .map_err(error)?;
        }
        Ok(GitHub {
            api: builder.build().map_err(error)?,
            hostname: hostname.to_owned(),
        })
    }

    fn repo(repo: &RepoRef) -> String {
        format!("/repos/{}/{}", repo.owner, repo.name)
    }

    /// A request without a response body (204).
    async fn no_content(
        &self,
        method: &str,
        route: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<()> {
        let uri = route.to_owned();
        let response = match method {
            "DELETE" => self.api._delete(uri, body).await,
            _ => self.api._put(uri, body).await,
        }
        .map_err(error)?;
        octocrab::map_github_error(response).await.map_err(error)?;
        Ok(())
    }
}

impl Provider for GitHub {
    fn domain(&self) -> &str {
        &self.hostname
    }

    fn command(&self) -> &'static str {
        "github"
    }

    async fn get_repository(&self, repo: &RepoRef) -> anyhow::Result<Option<RepoInfo>> {
        match self.api.get::<Value, _, ()>(Self::repo(repo), None).await {
            Ok(r) => Ok(Some(RepoInfo {
                visibility: r["visibility"].as_str().map_or_else(
                    || {
                        if r["private"].as_bool().unwrap_or(false) {
                            "private".to_owned()
                        } else {
                            "public".to_owned()
                        }
                    },
                    str::to_owned,
                ),
                default_branch: r["default_branch"].as_str().unwrap_or_default().to_owned(),
            })),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(error(e)),
        }
    }

    async fn create_repository(&self, repo: &RepoRef, info: &RepoInfo) -> anyhow::Result<()> {
        if !repo.groups.is_empty() {
            anyhow::bail!("GitHub has no subgroups: --repository must be a name");
        }
        let body = json!({
            "name": repo.name,
            "private": info.visibility != "public",
            "visibility": info.visibility,
        });
        let route = if repo.personal {
            let user: Value = self.api.get("/user", None::<&()>).await.map_err(error)?;
            if !user["login"]
                .as_str()
                .is_some_and(|l| l.eq_ignore_ascii_case(&repo.owner))
            {
                anyhow::bail!(
                    "the specified owner '{}' doesn't match the identity associated with the given token",
                    repo.owner
                );
            }
            "/user/repos".to_owned()
        } else {
            format!("/orgs/{}/repos", repo.owner)
        };
        self.api
            .post::<_, Value>(route, Some(&body))
            .await
            .map(drop)
            .map_err(error)
    }

    async fn update_repository(&self, repo: &RepoRef, info: &RepoInfo) -> anyhow::Result<()> {
        let body = json!({
            "private": info.visibility != "public",
            "visibility": info.visibility,
            "default_branch": info.default_branch,
        });
        self.api
            .patch::<Value, _, _>(Self::repo(repo), Some(&body))
            .await
            .map(drop)
            .map_err(error)
    }

    async fn deploy_keys(&self, repo: &RepoRef) -> anyhow::Result<Vec<DeployKey>> {
        let keys: Value = self
            .api
            .get(
                format!("{}/keys", Self::repo(repo)),
                Some(&[("per_page", "100")]),
            )
            .await
            .map_err(error)?;
        Ok(deploy_keys_of(&keys, |k| {
            k["read_only"].as_bool().unwrap_or(true)
        }))
    }

    async fn add_deploy_key(&self, repo: &RepoRef, key: &DeployKey) -> anyhow::Result<()> {
        let body = json!({"title": key.title, "key": key.key, "read_only": key.read_only});
        self.api
            .post::<_, Value>(format!("{}/keys", Self::repo(repo)), Some(&body))
            .await
            .map(drop)
            .map_err(error)
    }

    async fn delete_deploy_key(&self, repo: &RepoRef, id: u64) -> anyhow::Result<()> {
        self.no_content("DELETE", &format!("{}/keys/{id}", Self::repo(repo)), None)
            .await
    }

    async fn team_permission(&self, repo: &RepoRef, team: &str) -> anyhow::Result<Option<String>> {
        let teams: Value = self
            .api
            .get(
                format!("{}/teams", Self::repo(repo)),
                Some(&[("per_page", "100")]),
            )
            .await
            .map_err(error)?;
        Ok(teams
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["slug"] == team || t["name"] == team)
            .and_then(|t| t["permission"].as_str().map(str::to_owned)))
    }

    async fn grant_team(&self, repo: &RepoRef, team: &str, permission: &str) -> anyhow::Result<()> {
        self.no_content(
            "PUT",
            &format!(
                "/orgs/{}/teams/{team}/repos/{}/{}",
                repo.owner, repo.owner, repo.name
            ),
            Some(&json!({"permission": permission})),
        )
        .await
    }
}
