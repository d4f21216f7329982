//! Tests of the GitHub/GitLab/Gitea stand-in (`gitops_tests::git_provider`).
//!
//! Only the hosted services could answer these calls, so the stand-in follows their
//! documented contracts (status codes, JSON fields, error bodies); these tests check that it
//! does, and that its Git side is real: `git` over smart HTTP (`git http-backend`) with the
//! token, and over SSH (OpenSSH `sshd`) with deploy keys registered through the API.

use gitops_tests::git_provider::{Flavor, GitProviderServer};
use gitops_tests::ssh_keygen;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// A client of the server's REST API that authenticates as each service documents it.
struct Api<'a> {
    server: &'a GitProviderServer,
    client: reqwest::Client,
}

impl Api<'_> {
    fn new(server: &GitProviderServer) -> Api<'_> {
        gitops_source::ensure_crypto_provider();
        Api {
            server,
            client: reqwest::Client::new(),
        }
    }

    /// `method path` under the API prefix with `body`, authenticated with `token`.
    async fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!(
            "{}{}{path}",
            self.server.url,
            self.server.flavor.api_prefix()
        );
        let mut req = self
            .client
            .request(method.parse().expect("method"), url)
            .header("Accept", "application/json");
        if let Some(t) = token {
            req = match self.server.flavor {
                Flavor::GitHub => req.header("Authorization", format!("Bearer {t}")),
                Flavor::GitLab => req.header("PRIVATE-TOKEN", t),
                Flavor::Gitea => req.header("Authorization", format!("token {t}")),
            };
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(&b).expect("JSON"));
        }
        let resp = req.send().await.expect("API request");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("API response");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(Some(&self.server.token), method, path, body)
            .await
    }

    /// Registers a deploy key on acme/fleet through the flavor's endpoint.
    async fn add_deploy_key(&self, title: &str, key: &str, read_only: bool) -> (u16, Value) {
        match self.server.flavor {
            Flavor::GitHub => {
                self.call(
                    "POST",
                    "/repos/acme/fleet/keys",
                    Some(json!({"title": title, "key": key, "read_only": read_only})),
                )
                .await
            }
            Flavor::GitLab => {
                self.call(
                    "POST",
                    "/projects/acme%2Ffleet/deploy_keys",
                    Some(json!({"title": title, "key": key, "can_push": !read_only})),
                )
                .await
            }
            Flavor::Gitea => {
                self.call(
                    "POST",
                    "/repos/acme/fleet/keys",
                    Some(json!({"title": title, "key": key, "read_only": read_only})),
                )
                .await
            }
        }
    }
}

/// Runs git in `dir` (no credential helpers, no prompts), with `GIT_SSH_COMMAND` when
/// given; returns (success, stdout + stderr).
fn git(dir: &Path, args: &[&str], ssh: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new("git");
    cmd.args(["-c", "credential.helper=", "-c", "protocol.version=2"])
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com");
    if let Some(s) = ssh {
        cmd.env("GIT_SSH_COMMAND", s);
    }
    let out = cmd.output().expect("git runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn git_ok(dir: &Path, args: &[&str], ssh: Option<&str>) -> String {
    let (ok, out) = git(dir, args, ssh);
    assert!(ok, "git {args:?} failed: {out}");
    out
}

fn commit(work: &Path, file: &str) {
    std::fs::write(work.join(file), file).unwrap();
    git_ok(work, &["add", file], None);
    git_ok(work, &["commit", "-q", "-m", file], None);
}

fn server_rev(server: &GitProviderServer, owner: &str, repo: &str, rev: &str) -> String {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(server.git_dir(owner, repo))
        .args(["rev-parse", rev])
        .output()
        .expect("git runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The flavor-independent part: Git over HTTP with the token (clone, push, anonymous and
/// wrong credentials refused, anonymous reads of a public repository), deploy keys over
/// SSH, branch protection. acme/fleet exists (private, with a README) when called.
async fn exercise_git(server: &GitProviderServer, api: &Api<'_>, protected_message: &str) {
    let port = server.url.rsplit(':').next().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let authed = format!("http://x:{}@127.0.0.1:{port}/acme/fleet.git", server.token);

    // HTTP: a private repository needs the token
    let anonymous = format!("{}/acme/fleet.git", server.url);
    let (ok, out) = git(t, &["ls-remote", &anonymous], None);
    assert!(!ok, "anonymous read of a private repository: {out}");
    let wrong = format!("http://x:wrong@127.0.0.1:{port}/acme/fleet.git");
    let (ok, out) = git(t, &["ls-remote", &wrong], None);
    assert!(!ok, "read with a wrong token: {out}");
    git_ok(t, &["clone", "-q", &authed, "work"], None);
    let work = t.join("work");
    assert!(work.join("README.md").exists(), "the initial commit");
    commit(&work, "one.txt");
    git_ok(&work, &["push", "-q", "origin", "main"], None);
    assert_eq!(
        server_rev(server, "acme", "fleet", "main"),
        git_ok(&work, &["rev-parse", "HEAD"], None).trim()
    );
    // also without `.git`, as the services accept
    let bare = format!("http://x:{}@127.0.0.1:{port}/acme/fleet", server.token);
    assert!(git_ok(t, &["ls-remote", &bare], None).contains("refs/heads/main"));
    // an unknown repository
    let (ok, _) = git(
        t,
        &[
            "ls-remote",
            &format!("http://x:{}@127.0.0.1:{port}/acme/nope.git", server.token),
        ],
        None,
    );
    assert!(!ok);

    // a public repository: anonymous reads, no anonymous pushes
    server.create_repo("alice", "site", false, true);
    let site = format!("{}/alice/site.git", server.url);
    assert!(git_ok(t, &["ls-remote", &site], None).contains("refs/heads/main"));
    git_ok(t, &["clone", "-q", &site, "site"], None);
    commit(&t.join("site"), "anon.txt");
    let (ok, out) = git(&t.join("site"), &["push", "-q", "origin", "main"], None);
    assert!(!ok, "anonymous push: {out}");

    // SSH with deploy keys
    match &server.ssh {
        None => eprintln!("skipping the SSH part: sshd or libnss_wrapper is missing"),
        Some(ssh) => {
            ssh_keygen(&t.join("ro"));
            ssh_keygen(&t.join("rw"));
            let ro_pub = std::fs::read_to_string(t.join("ro.pub")).unwrap();
            let rw_pub = std::fs::read_to_string(t.join("rw.pub")).unwrap();
            let ssh_cmd = |key: &str| {
                format!(
                    "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
                    t.join(key).display()
                )
            };
            let url = format!("ssh://git@127.0.0.1:{}/acme/fleet", ssh.port);
            // no key registered yet
            let (ok, out) = git(t, &["ls-remote", &url], Some(&ssh_cmd("ro")));
            assert!(!ok, "SSH without a registered key: {out}");

            let (status, body) = api.add_deploy_key("flux-ro", ro_pub.trim(), true).await;
            assert_eq!(status, 201, "{body}");
            let state = server.repo("acme", "fleet").unwrap();
            assert_eq!(state.deploy_keys.len(), 1);
            assert!(state.deploy_keys[0].read_only);
            assert_eq!(state.deploy_keys[0].title, "flux-ro");

            // the host key is the one announced
            let known = t.join("known_hosts");
            std::fs::write(&known, format!("{}\n", ssh.known_hosts)).unwrap();
            let strict = format!(
                "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
                t.join("ro").display(),
                known.display()
            );
            let refs = git_ok(t, &["ls-remote", &url], Some(&strict));
            assert!(refs.contains("refs/heads/main"), "{refs}");
            // scp-like and `.git` paths too
            let with_git = format!("ssh://git@127.0.0.1:{}/acme/fleet.git", ssh.port);
            git_ok(t, &["ls-remote", &with_git], Some(&ssh_cmd("ro")));

            // the read-only key cannot push
            git_ok(t, &["clone", "-q", &url, "ssh-work"], Some(&ssh_cmd("ro")));
            let ssh_work = t.join("ssh-work");
            commit(&ssh_work, "two.txt");
            let (ok, out) = git(
                &ssh_work,
                &["push", "-q", "origin", "main"],
                Some(&ssh_cmd("ro")),
            );
            assert!(!ok, "push with a read-only key");
            assert!(out.contains("marked as read only"), "{out}");

            // a read-write key can
            let (status, body) = api.add_deploy_key("flux-rw", rw_pub.trim(), false).await;
            assert_eq!(status, 201, "{body}");
            git_ok(
                &ssh_work,
                &["push", "-q", "origin", "main"],
                Some(&ssh_cmd("rw")),
            );
            assert_eq!(
                server_rev(server, "acme", "fleet", "main"),
                git_ok(&ssh_work, &["rev-parse", "HEAD"], None).trim()
            );
            // but only on the repository it was added to
            server.create_repo("acme", "other", true, true);
            let other = format!("ssh://git@127.0.0.1:{}/acme/other", ssh.port);
            let (ok, out) = git(t, &["ls-remote", &other], Some(&ssh_cmd("rw")));
            assert!(!ok, "another repository with the key");
            assert!(out.contains("Repository not found"), "{out}");
            // and only git
            let out = Command::new("ssh")
                .args(ssh_cmd("rw").split_whitespace().skip(1))
                .args([
                    "-p",
                    &ssh.port.to_string(),
                    "git@127.0.0.1",
                    "cat /etc/passwd",
                ])
                .output()
                .unwrap();
            assert!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stdout).is_empty());

            // pull the SSH pushes into the HTTP work tree
            git_ok(&work, &["pull", "-q", "--rebase", "origin", "main"], None);
        }
    }

    // branch protection
    server.protect_branch("acme", "fleet", "main", true);
    commit(&work, "three.txt");
    let (ok, out) = git(&work, &["push", "origin", "main"], None);
    assert!(!ok, "push to a protected branch");
    assert!(out.contains(protected_message), "{out}");
    // other branches are not protected
    git_ok(&work, &["push", "-q", "origin", "main:feature"], None);
    server.protect_branch("acme", "fleet", "main", false);
    git_ok(&work, &["push", "-q", "origin", "main"], None);
}

#[tokio::test]
async fn github() {
    let server = GitProviderServer::start(Flavor::GitHub).await;
    let api = Api::new(&server);
    assert_eq!(server.user, "alice");

    let (status, user) = api.call("GET", "/user", None).await;
    assert_eq!(status, 200);
    assert_eq!(user["login"], "alice");
    assert_eq!(user["type"], "User");

    let (status, body) = api.call_as(Some("ghp_wrong"), "GET", "/user", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Bad credentials");
    assert_eq!(body["status"], "401");
    let (status, body) = api.call_as(None, "GET", "/user", None).await;
    assert_eq!(status, 401, "{body}");

    let create =
        json!({"name": "fleet", "private": true, "auto_init": true, "description": "the fleet"});
    let (status, repo) = api
        .call("POST", "/orgs/acme/repos", Some(create.clone()))
        .await;
    assert_eq!(status, 201, "{repo}");
    assert_eq!(repo["full_name"], "acme/fleet");
    assert_eq!(repo["private"], true);
    assert_eq!(repo["visibility"], "private");
    assert_eq!(repo["default_branch"], "main");
    assert_eq!(repo["owner"]["login"], "acme");
    assert_eq!(repo["owner"]["type"], "Organization");
    assert_eq!(repo["clone_url"], format!("{}/acme/fleet.git", server.url));
    assert_eq!(repo["ssh_url"], "git@127.0.0.1:acme/fleet.git");
    let (status, body) = api.call("POST", "/orgs/acme/repos", Some(create)).await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], "Repository creation failed.");
    assert_eq!(
        body["errors"][0]["message"],
        "name already exists on this account"
    );
    let (status, _) = api
        .call(
            "POST",
            "/orgs/nonexistent/repos",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = api.call("GET", "/repos/acme/nope", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Not Found");
    let (status, body) = api.call("GET", "/repos/acme/fleet", None).await;
    assert_eq!((status, body["id"].clone()), (200, repo["id"].clone()));
    let (status, body) = api
        .call(
            "PATCH",
            "/repos/acme/fleet",
            Some(json!({"description": "GitOps"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.repo("acme", "fleet").unwrap().description, "GitOps");
    let (status, body) = api
        .call(
            "PATCH",
            "/repos/acme/fleet",
            Some(json!({"default_branch": "nope"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    // user repositories
    let (status, body) = api
        .call("POST", "/user/repos", Some(json!({"name": "mine"})))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["owner"]["login"], "alice");
    assert_eq!(body["private"], false);
    assert!(server.git_dir("alice", "mine").join("HEAD").exists());

    // deploy keys: validation
    let (status, body) = api
        .call(
            "POST",
            "/repos/acme/fleet/keys",
            Some(json!({"title": "bad", "key": "ssh-ed25519 bm90IGEga2V5"})),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("key is invalid"),
        "{body}"
    );

    // teams
    let (status, _) = api
        .call(
            "PUT",
            "/orgs/acme/teams/platform/repos/acme/fleet",
            Some(json!({"permission": "maintain"})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = api
        .call(
            "PUT",
            "/orgs/acme/teams/nope/repos/acme/fleet",
            Some(json!({"permission": "push"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = api
        .call(
            "PUT",
            "/orgs/acme/teams/devs/repos/acme/fleet",
            Some(json!({"permission": "bogus"})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, teams) = api.call("GET", "/repos/acme/fleet/teams", None).await;
    assert_eq!(status, 200);
    assert_eq!(teams[0]["slug"], "platform");
    assert_eq!(teams[0]["permission"], "maintain");
    assert_eq!(
        server.repo("acme", "fleet").unwrap().teams,
        vec![("platform".to_owned(), "maintain".to_owned())]
    );

    exercise_git(
        &server,
        &api,
        "GH006: Protected branch update failed for refs/heads/main.",
    )
    .await;

    // exercise_git pushed `feature`: it can become the default branch (the bare HEAD moves)
    let (status, body) = api
        .call(
            "PATCH",
            "/repos/acme/fleet",
            Some(json!({"default_branch": "feature"})),
        )
        .await;
    assert_eq!(
        (status, body["default_branch"].clone()),
        (200, json!("feature"))
    );
    let head = std::fs::read_to_string(server.git_dir("acme", "fleet").join("HEAD")).unwrap();
    assert_eq!(head.trim(), "ref: refs/heads/feature");

    if server.ssh.is_some() {
        // the keys as GitHub lists them, and the same key refused on another repository
        let (status, keys) = api.call("GET", "/repos/acme/fleet/keys", None).await;
        assert_eq!(status, 200);
        assert_eq!(keys.as_array().unwrap().len(), 2);
        assert_eq!(keys[0]["read_only"], true);
        assert_eq!(keys[0]["verified"], true);
        let key = keys[0]["key"].as_str().unwrap().to_owned();
        assert_eq!(key.split_whitespace().count(), 2, "the comment is dropped");
        let (status, body) = api
            .call(
                "POST",
                "/repos/acme/other/keys",
                Some(json!({"title": "again", "key": key})),
            )
            .await;
        assert_eq!(status, 422);
        assert_eq!(body["errors"][0]["message"], "key is already in use");
        let id = keys[0]["id"].as_u64().unwrap();
        let (status, _) = api
            .call("DELETE", &format!("/repos/acme/fleet/keys/{id}"), None)
            .await;
        assert_eq!(status, 204);
        assert_eq!(server.repo("acme", "fleet").unwrap().deploy_keys.len(), 1);
    }

    let requests = server.requests();
    assert!(requests.contains(&("POST".into(), "/api/v3/orgs/acme/repos".into())));
    assert!(requests.contains(&("GET".into(), "/api/v3/user".into())));
}

#[tokio::test]
async fn gitlab() {
    let server = GitProviderServer::start(Flavor::GitLab).await;
    let api = Api::new(&server);

    let (status, user) = api.call("GET", "/user", None).await;
    assert_eq!(status, 200);
    assert_eq!(user["username"], "alice");
    let (status, users) = api.call("GET", "/users?username=alice", None).await;
    assert_eq!((status, users[0]["id"].clone()), (200, json!(1)));

    let (status, body) = api.call_as(Some("glpat-wrong"), "GET", "/user", None).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"message": "401 Unauthorized"}));

    let (status, group) = api.call("GET", "/groups/acme", None).await;
    assert_eq!(status, 200);
    let (status, sub) = api.call("GET", "/groups/platform", None).await;
    assert_eq!((status, sub["id"].clone()), (200, json!(3)));
    let (status, body) = api.call("GET", "/groups/nope", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "404 Group Not Found");

    let create = json!({"name": "fleet", "namespace_id": group["id"], "visibility": "private", "initialize_with_readme": true});
    let (status, project) = api.call("POST", "/projects", Some(create.clone())).await;
    assert_eq!(status, 201, "{project}");
    assert_eq!(project["path_with_namespace"], "acme/fleet");
    assert_eq!(project["namespace"]["kind"], "group");
    assert_eq!(project["visibility"], "private");
    assert_eq!(project["default_branch"], "main");
    assert_eq!(
        project["http_url_to_repo"],
        format!("{}/acme/fleet.git", server.url)
    );
    let (status, body) = api.call("POST", "/projects", Some(create)).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"]["name"][0], "has already been taken");
    let (status, body) = api.call("GET", "/projects/acme%2Fnope", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "404 Project Not Found");
    let id = project["id"].as_u64().unwrap();
    let (status, body) = api.call("GET", &format!("/projects/{id}"), None).await;
    assert_eq!((status, body["path"].clone()), (200, json!("fleet")));
    let (status, body) = api
        .call(
            "PUT",
            "/projects/acme%2Ffleet",
            Some(json!({"description": "GitOps"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.repo("acme", "fleet").unwrap().description, "GitOps");
    // a user project, in alice's namespace
    let (status, body) = api
        .call("POST", "/projects", Some(json!({"name": "mine"})))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["namespace"]["kind"], "user");
    assert_eq!(body["empty_repo"], true);

    // sharing with a group (a team)
    let (status, body) = api
        .call(
            "POST",
            "/projects/acme%2Ffleet/share",
            Some(json!({"group_id": 3, "group_access": 40})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = api
        .call(
            "POST",
            "/projects/acme%2Ffleet/share",
            Some(json!({"group_id": 3, "group_access": 40})),
        )
        .await;
    assert_eq!(status, 409);
    let (_, body) = api.call("GET", "/projects/acme%2Ffleet", None).await;
    assert_eq!(body["shared_with_groups"][0]["group_full_path"], "platform");
    assert_eq!(body["shared_with_groups"][0]["group_access_level"], 40);
    assert_eq!(
        server.repo("acme", "fleet").unwrap().teams,
        vec![("platform".to_owned(), "40".to_owned())]
    );

    // a deploy token reads over HTTP, cannot push
    let (status, token) = api
        .call(
            "POST",
            "/projects/acme%2Ffleet/deploy_tokens",
            Some(json!({"name": "flux", "scopes": ["read_repository"]})),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let username = token["username"].as_str().unwrap();
    assert!(username.starts_with("gitlab+deploy-token-"), "{username}");
    let (_, list) = api
        .call("GET", "/projects/acme%2Ffleet/deploy_tokens", None)
        .await;
    assert!(list[0].get("token").is_none(), "the token only on creation");
    assert_eq!(
        server.repo("acme", "fleet").unwrap().deploy_tokens,
        vec![("flux".to_owned(), username.to_owned())]
    );
    let port = server.url.rsplit(':').next().unwrap();
    let with_token = format!(
        "http://{}:{}@127.0.0.1:{port}/acme/fleet.git",
        username.replace('+', "%2B"),
        token["token"].as_str().unwrap()
    );
    let tmp = tempfile::tempdir().unwrap();
    git_ok(tmp.path(), &["clone", "-q", &with_token, "dt"], None);
    commit(&tmp.path().join("dt"), "dt.txt");
    let (ok, out) = git(&tmp.path().join("dt"), &["push", "origin", "main"], None);
    assert!(!ok, "push with a read-only deploy token: {out}");

    exercise_git(
        &server,
        &api,
        "GitLab: You are not allowed to push code to protected branches on this project.",
    )
    .await;

    if server.ssh.is_some() {
        let (status, keys) = api
            .call("GET", "/projects/acme%2Ffleet/deploy_keys", None)
            .await;
        assert_eq!(status, 200);
        assert_eq!(keys[0]["can_push"], false);
        assert_eq!(keys[1]["can_push"], true);
        assert!(
            keys[0]["fingerprint_sha256"]
                .as_str()
                .unwrap()
                .starts_with("SHA256:")
        );
        // the same key again: answered with the existing one
        let (status, again) = api
            .add_deploy_key("again", keys[0]["key"].as_str().unwrap(), true)
            .await;
        assert_eq!((status, again["id"].clone()), (201, keys[0]["id"].clone()));
        let (status, body) = api.add_deploy_key("bad", "ssh-ed25519 AAAA", true).await;
        assert_eq!(status, 400, "{body}");
    }
    assert!(
        server
            .requests()
            .contains(&("POST".into(), "/api/v4/projects".into()))
    );
}

#[tokio::test]
async fn gitea() {
    let server = GitProviderServer::start(Flavor::Gitea).await;
    let api = Api::new(&server);

    let (status, user) = api.call("GET", "/user", None).await;
    assert_eq!(status, 200);
    assert_eq!(user["login"], "alice");
    let (status, body) = api.call_as(Some("wrong"), "GET", "/user", None).await;
    assert_eq!(status, 401);
    assert!(body["message"].is_string(), "{body}");

    let create =
        json!({"name": "fleet", "private": true, "auto_init": true, "default_branch": "main"});
    let (status, repo) = api
        .call("POST", "/orgs/acme/repos", Some(create.clone()))
        .await;
    assert_eq!(status, 201, "{repo}");
    assert_eq!(repo["full_name"], "acme/fleet");
    assert_eq!(repo["private"], true);
    assert_eq!(repo["empty"], false);
    assert_eq!(repo["owner"]["login"], "acme");
    assert_eq!(repo["clone_url"], format!("{}/acme/fleet.git", server.url));
    let (status, body) = api.call("POST", "/orgs/acme/repos", Some(create)).await;
    assert_eq!(status, 409);
    assert_eq!(
        body["message"],
        "The repository with the same name already exists."
    );
    let (status, _) = api
        .call(
            "POST",
            "/orgs/nonexistent/repos",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = api.call("GET", "/repos/acme/nope", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "The target couldn't be found.");
    let (status, body) = api
        .call(
            "PATCH",
            "/repos/acme/fleet",
            Some(json!({"description": "GitOps"})),
        )
        .await;
    assert_eq!(
        (status, body["description"].clone()),
        (200, json!("GitOps"))
    );
    let (status, body) = api
        .call("POST", "/user/repos", Some(json!({"name": "mine"})))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["empty"], true);

    // teams
    let (status, teams) = api.call("GET", "/orgs/acme/teams", None).await;
    assert_eq!(status, 200);
    let platform = teams
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "platform")
        .unwrap()
        .clone();
    let (status, _) = api
        .call(
            "PUT",
            &format!("/teams/{}/repos/acme/fleet", platform["id"]),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = api.call("PUT", "/repos/acme/fleet/teams/devs", None).await;
    assert_eq!(status, 204);
    let (_, teams) = api.call("GET", "/repos/acme/fleet/teams", None).await;
    assert_eq!(teams.as_array().unwrap().len(), 2);
    assert_eq!(
        server.repo("acme", "fleet").unwrap().teams,
        vec![
            ("platform".to_owned(), "write".to_owned()),
            ("devs".to_owned(), "read".to_owned())
        ]
    );

    exercise_git(
        &server,
        &api,
        "Gitea: Not allowed to push to protected branch main",
    )
    .await;

    if server.ssh.is_some() {
        let (status, keys) = api.call("GET", "/repos/acme/fleet/keys", None).await;
        assert_eq!(status, 200);
        assert_eq!(keys[0]["read_only"], true);
        let (status, body) = api
            .add_deploy_key("again", keys[0]["key"].as_str().unwrap(), true)
            .await;
        assert_eq!(status, 422, "{body}");
    }
    assert!(
        server
            .requests()
            .contains(&("POST".into(), "/api/v1/orgs/acme/repos".into()))
    );
}
