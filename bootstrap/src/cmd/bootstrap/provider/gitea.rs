//! Gitea (and Forgejo) through the REST API v1, as Gitea documents it: repositories,
//! deploy keys and organization teams.

use super::rest::{Rest, segment};
use super::{DeployKey, Provider, RepoInfo, RepoRef, deploy_keys_of, domain_url};
use reqwest::Method;
use serde_json::json;

/// A Gitea instance and a personal access token.
pub(in crate::cmd::bootstrap) struct Gitea {
    api: Rest,
    hostname: String,
}

impl Gitea {
    /// The API of `hostname` (`gitea.com`, `git.example.com`, `http://127.0.0.1:3000`).
    pub fn new(hostname: &str, token: &str, ca: Option<&[u8]>) -> anyhow::Result<Gitea> {
        Ok(Gitea {
            api: Rest::new(
                "Gitea",
                format!("{}/api/v1", domain_url(hostname)),
                "authorization",
                &format!("token {token}"),
                ca,
            )?,
            hostname: hostname.to_owned(),
        })
    }

    fn repo(repo: &RepoRef) -> String {
        format!("/repos/{}/{}", segment(&repo.owner), segment(&repo.name))
    }
}

/// Gitea's team access modes by Flux's names (Gitea has no triage or maintain).
fn flux_permission(mode: &str) -> String {
    match mode {
        "read" => "pull",
        "write" => "push",
        "admin" | "owner" => "admin",
        other => other,
    }
    .to_owned()
}

impl Provider for Gitea {
    fn domain(&self) -> &str {
        &self.hostname
    }

    fn command(&self) -> &'static str {
        "gitea"
    }

    async fn get_repository(&self, repo: &RepoRef) -> anyhow::Result<Option<RepoInfo>> {
        Ok(self
            .api
            .get_opt(&Self::repo(repo))
            .await?
            .map(|r| RepoInfo {
                visibility: if r["private"].as_bool().unwrap_or(false) {
                    "private"
                } else {
                    "public"
                }
                .to_owned(),
                default_branch: r["default_branch"].as_str().unwrap_or_default().to_owned(),
            }))
    }

    async fn create_repository(&self, repo: &RepoRef, info: &RepoInfo) -> anyhow::Result<()> {
        if !repo.groups.is_empty() {
            anyhow::bail!("Gitea has no subgroups: --repository must be a name");
        }
        let body = json!({
            "name": repo.name,
            "private": info.visibility != "public",
            "default_branch": info.default_branch,
        });
        let path = if repo.personal {
            let user = self.api.get("/user").await?;
            if user["login"].as_str() != Some(repo.owner.as_str()) {
                anyhow::bail!(
                    "the specified owner '{}' doesn't match the identity associated with the given token",
                    repo.owner
                );
            }
            "/user/repos".to_owned()
        } else {
            format!("/orgs/{}/repos", segment(&repo.owner))
        };
        self.api
            .send(Method::POST, &path, Some(&body))
            .await
            .map(drop)
    }

    async fn update_repository(&self, repo: &RepoRef, info: &RepoInfo) -> anyhow::Result<()> {
        let body = json!({
            "private": info.visibility != "public",
            "default_branch": info.default_branch,
        });
        self.api
            .send(Method::PATCH, &Self::repo(repo), Some(&body))
            .await
            .map(drop)
    }

    async fn deploy_keys(&self, repo: &RepoRef) -> anyhow::Result<Vec<DeployKey>> {
        let keys = self
            .api
            .get(&format!("{}/keys?limit=50", Self::repo(repo)))
            .await?;
        Ok(deploy_keys_of(&keys, |k| {
            k["read_only"].as_bool().unwrap_or(true)
        }))
    }

    async fn add_deploy_key(&self, repo: &RepoRef, key: &DeployKey) -> anyhow::Result<()> {
        let body = json!({"title": key.title, "key": key.key, "read_only": key.read_only});
        self.api
            .send(
                Method::POST,
                &format!("{}/keys", Self::repo(repo)),
                Some(&body),
            )
            .await
            .map(drop)
    }

    async fn delete_deploy_key(&self, repo: &RepoRef, id: u64) -> anyhow::Result<()> {
        self.api
            .send(
                Method::DELETE,
                &format!("{}/keys/{id}", Self::repo(repo)),
                None,
            )
            .await
            .map(drop)
    }

    async fn team_permission(&self, repo: &RepoRef, team: &str) -> anyhow::Result<Option<String>> {
        let teams = self.api.get(&format!("{}/teams", Self::repo(repo))).await?;
        Ok(teams
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["name"] == team)
            .map(|t| flux_permission(t["permission"].as_str().unwrap_or_default())))
    }

    async fn grant_team(
        &self,
        repo: &RepoRef,
        team: &str,
        _permission: &str,
    ) -> anyhow::Result<()> {
        // A Gitea team's access is the team's own: adding the repository grants it.
        let teams = self
            .api
            .get(&format!("/orgs/{}/teams", segment(&repo.owner)))
            .await?;
        let id = teams
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["name"] == team)
            .and_then(|t| t["id"].as_u64())
            .ok_or_else(|| anyhow::anyhow!("team {team:?} not found in {:?}", repo.owner))?;
        self.api
            .send(
                Method::PUT,
                &format!(
                    "/teams/{id}/repos/{}/{}",
                    segment(&repo.owner),
                    segment(&repo.name)
                ),
                None,
            )
            .await
            .map(drop)
    }
}
