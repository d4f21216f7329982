//! GitLab (gitlab.com or self-managed) through the REST API v4, as GitLab documents it:
//! projects, groups, deploy keys, group sharing and project deploy tokens.

use super::rest::{Rest, segment};
use super::{DeployKey, Provider, RepoInfo, RepoRef, deploy_keys_of, domain_url};
use reqwest::Method;
use serde_json::{Value, json};

/// GitLab's access levels by Flux's permission names.
const ACCESS_LEVELS: &[(&str, u64)] = &[
    ("pull", 10),
    ("triage", 20),
    ("push", 30),
    ("maintain", 40),
    ("admin", 50),
];

/// A GitLab instance and a personal access token.
pub(in crate::cmd::bootstrap) struct GitLab {
    api: Rest,
    hostname: String,
}

impl GitLab {
    /// The API of `hostname` (`gitlab.com`, `gitlab.example.com`, `http://127.0.0.1:8080`).
    pub fn new(hostname: &str, token: &str, ca: Option<&[u8]>) -> anyhow::Result<GitLab> {
        Ok(GitLab {
            api: Rest::new(
                "GitLab",
                format!("{}/api/v4", domain_url(hostname)),
                "private-token",
                token,
                ca,
            )?,
            hostname: hostname.to_owned(),
        })
    }

    fn project(repo: &RepoRef) -> String {
        format!("/projects/{}", segment(&repo.path()))
    }

    /// A new project deploy token named `name` with the `read_repository` scope (tokens of
    /// that name are revoked first: their secret cannot be read back): `(username, token)`.
    pub async fn reconcile_deploy_token(
        &self,
        repo: &RepoRef,
        name: &str,
    ) -> anyhow::Result<(String, String)> {
        let base = format!("{}/deploy_tokens", Self::project(repo));
        let tokens = self.api.get(&base).await?;
        for t in tokens.as_array().into_iter().flatten() {
            if t["name"] == name
                && let Some(id) = t["id"].as_u64()
            {
                self.api
                    .send(Method::DELETE, &format!("{base}/{id}"), None)
                    .await?;
            }
        }
        let created = self
            .api
            .send(
                Method::POST,
                &base,
                Some(&json!({"name": name, "scopes": ["read_repository"]})),
            )
            .await?;
        match (created["username"].as_str(), created["token"].as_str()) {
            (Some(u), Some(t)) => Ok((u.to_owned(), t.to_owned())),
            _ => anyhow::bail!("GitLab returned a deploy token without username or token"),
        }
    }

    /// The id of group `path`.
    async fn group_id(&self, path: &str) -> anyhow::Result<u64> {
        let group = self
            .api
            .get_opt(&format!("/groups/{}", segment(path)))
            .await?
            .ok_or_else(|| anyhow::anyhow!("group {path:?} not found"))?;
        group["id"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("group {path:?} has no id"))
    }
}

impl Provider for GitLab {
    fn domain(&self) -> &str {
        &self.hostname
    }

    fn command(&self) -> &'static str {
        "gitlab"
    }

    async fn get_repository(&self, repo: &RepoRef) -> anyhow::Result<Option<RepoInfo>> {
        Ok(self
            .api
            .get_opt(&Self::project(repo))
            .await?
            .map(|p| RepoInfo {
                visibility: p["visibility"].as_str().unwrap_or("private").to_owned(),
                default_branch: p["default_branch"].as_str().unwrap_or_default().to_owned(),
            }))
    }

    async fn create_repository(&self, repo: &RepoRef, info: &RepoInfo) -> anyhow::Result<()> {
        let mut body = json!({
            "name": repo.name,
            "path": repo.name,
            "visibility": info.visibility,
            "default_branch": info.default_branch,
        });
        if repo.personal {
            let user = self.api.get("/user").await?;
            if user["username"].as_str() != Some(repo.owner.as_str()) {
                anyhow::bail!(
                    "the specified owner '{}' doesn't match the identity associated with the given token",
                    repo.owner
                );
            }
        } else {
            body["namespace_id"] = json!(self.group_id(&repo.namespace()).await?);
        }
        self.api
            .send(Method::POST, "/projects", Some(&body))
            .await
            .map(drop)
    }

    async fn update_repository(&self, repo: &RepoRef, info: &RepoInfo) -> anyhow::Result<()> {
        let body = json!({"visibility": info.visibility, "default_branch": info.default_branch});
        self.api
            .send(Method::PUT, &Self::project(repo), Some(&body))
            .await
            .map(drop)
    }

    async fn deploy_keys(&self, repo: &RepoRef) -> anyhow::Result<Vec<DeployKey>> {
        let keys = self
            .api
            .get(&format!("{}/deploy_keys?per_page=100", Self::project(repo)))
            .await?;
        Ok(deploy_keys_of(&keys, |k| {
            !k["can_push"].as_bool().unwrap_or(false)
        }))
    }

    async fn add_deploy_key(&self, repo: &RepoRef, key: &DeployKey) -> anyhow::Result<()> {
        let body = json!({"title": key.title, "key": key.key, "can_push": !key.read_only});
        self.api
            .send(
                Method::POST,
                &format!("{}/deploy_keys", Self::project(repo)),
                Some(&body),
            )
            .await
            .map(drop)
    }

    async fn delete_deploy_key(&self, repo: &RepoRef, id: u64) -> anyhow::Result<()> {
        self.api
            .send(
                Method::DELETE,
                &format!("{}/deploy_keys/{id}", Self::project(repo)),
                None,
            )
            .await
            .map(drop)
    }

    async fn team_permission(&self, repo: &RepoRef, team: &str) -> anyhow::Result<Option<String>> {
        let project = self.api.get(&Self::project(repo)).await?;
        let shared = project["shared_with_groups"].as_array().cloned();
        Ok(shared.into_iter().flatten().find_map(|g: Value| {
            let matches = g["group_full_path"] == team || g["group_name"] == team;
            let level = g["group_access_level"].as_u64()?;
            matches.then(|| {
                ACCESS_LEVELS
                    .iter()
                    .find(|(_, l)| *l == level)
                    .map_or_else(|| level.to_string(), |(n, _)| (*n).to_owned())
            })
        }))
    }

    async fn grant_team(&self, repo: &RepoRef, team: &str, permission: &str) -> anyhow::Result<()> {
        let level = ACCESS_LEVELS
            .iter()
            .find(|(n, _)| *n == permission)
            .map(|(_, l)| *l)
            .ok_or_else(|| anyhow::anyhow!("invalid permission {permission:?}"))?;
        let group = self.group_id(team).await?;
        let project = Self::project(repo);
        // Sharing again with another level needs the old share removed.
        if self.team_permission(repo, team).await?.is_some() {
            self.api
                .send(Method::DELETE, &format!("{project}/share/{group}"), None)
                .await?;
        }
        self.api
            .send(
                Method::POST,
                &format!("{project}/share"),
                Some(&json!({"group_id": group, "group_access": level})),
            )
            .await
            .map(drop)
    }
}
