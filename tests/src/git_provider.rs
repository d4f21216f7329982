//! A local stand-in for GitHub, GitLab and Gitea: the REST endpoints `gitops bootstrap
//! github|gitlab|gitea` calls, answered as those services document them (status codes, JSON
//! field names, error bodies), over real bare Git repositories served by the real
//! `git http-backend` (smart HTTP) and the real OpenSSH `sshd` (deploy keys).
//!
//! Only a hosted service could answer these calls, so end-to-end tests run against this
//! server, which follows each service's documented contract:
//!
//! - GitHub (Enterprise layout): REST under `<url>/api/v3`
//!   (<https://docs.github.com/rest>);
//! - GitLab: REST under `<url>/api/v4` (<https://docs.gitlab.com/api/rest/>);
//! - Gitea: REST under `<url>/api/v1` (<https://docs.gitea.com/api/>);
//! - all three: Git smart HTTP at `<url>/<owner>/<repo>.git` (also without `.git`), basic
//!   auth with the personal access token as password (any user name); GitLab also takes
//!   the deploy tokens it issued. Public repositories can be read anonymously; private ones
//!   and every push need credentials.
//! - SSH (when `sshd` and `libnss_wrapper` are installed): `ssh://git@127.0.0.1:<port>/<owner>/<repo>`,
//!   granted only by the deploy keys registered through the API (read-only keys cannot
//!   push, a key opens only the repositories it was added to).
//!
//! The user `alice` (id 1) owns the token; the organization (GitLab: group) `acme` (id 2)
//! has the teams `platform` (id 3) and `devs` (id 4). On GitLab, which has no teams, they
//! are the top-level groups `platform` and `devs` (what `GET /groups/platform` finds, as
//! Flux's go-git-providers looks teams up), shared with projects; on Gitea `platform` has
//! the permission `write`, `devs` `read`.
//! Repositories may belong to `alice` or `acme`.

use crate::{ChildGuard, free_port, have, ssh_keygen, wait_until};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

type Body = gitops_source::git_server::Body;

const USER: &str = "alice";
const USER_ID: u64 = 1;
const ORG: &str = "acme";
const ORG_ID: u64 = 2;
/// The organization's teams: id, name (= slug, = GitLab top-level group path), Gitea
/// permission.
const TEAMS: [(u64, &str, &str); 2] = [(3, "platform", "write"), (4, "devs", "read")];
/// GitHub's repository permissions, weakest first.
const GH_PERMISSIONS: [&str; 5] = ["pull", "triage", "push", "maintain", "admin"];
/// GitLab's access levels (guest … owner).
const GL_ACCESS_LEVELS: [u64; 5] = [10, 20, 30, 40, 50];
/// GitLab's deploy token scopes.
const GL_TOKEN_SCOPES: [&str; 6] = [
    "read_repository",
    "read_registry",
    "write_registry",
    "read_package_registry",
    "write_package_registry",
    "write_repository",
];
/// Public key algorithms accepted for deploy keys.
const KEY_TYPES: [&str; 8] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
];

/// Which service the server plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// GitHub (Enterprise layout: API under `/api/v3`).
    GitHub,
    /// GitLab (API under `/api/v4`).
    GitLab,
    /// Gitea (API under `/api/v1`).
    Gitea,
}

impl Flavor {
    /// The path prefix of the REST API.
    pub fn api_prefix(self) -> &'static str {
        match self {
            Flavor::GitHub => "/api/v3",
            Flavor::GitLab => "/api/v4",
            Flavor::Gitea => "/api/v1",
        }
    }

    fn realm(self) -> &'static str {
        match self {
            Flavor::GitHub => "GitHub",
            Flavor::GitLab => "GitLab",
            Flavor::Gitea => "Gitea",
        }
    }
}

/// A deploy key of a repository, as the provider stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployKey {
    /// The key's id in the API.
    pub id: u64,
    /// Its title.
    pub title: String,
    /// The public key: `<type> <base64>` on GitHub and Gitea (they drop the comment), as
    /// given (trimmed) on GitLab.
    pub key: String,
    /// Read-only (GitHub/Gitea `read_only`, GitLab `!can_push`).
    pub read_only: bool,
}

/// What the server knows about a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoState {
    /// Not public (GitHub `private`, GitLab `visibility != "public"`, Gitea `private`).
    pub private: bool,
    /// `private`, `public` or `internal`.
    pub visibility: String,
    /// The default branch (the bare repository's `HEAD`).
    pub default_branch: String,
    /// The description (empty when unset).
    pub description: String,
    /// The deploy keys, oldest first.
    pub deploy_keys: Vec<DeployKey>,
    /// Teams (GitLab: groups shared with the project) and their permission as the API names
    /// it: GitHub `pull`/`triage`/`push`/`maintain`/`admin`, Gitea the team's permission
    /// (`write` for platform, `read` for devs), GitLab the access level as a string (`"40"`).
    pub teams: Vec<(String, String)>,
    /// GitLab deploy tokens: (name, username).
    pub deploy_tokens: Vec<(String, String)>,
}

/// The SSH side of a [`GitProviderServer`].
#[derive(Clone, Debug)]
pub struct SshEndpoint {
    /// sshd's port on 127.0.0.1.
    pub port: u16,
    /// A known_hosts line `[127.0.0.1]:<port> <type> <key>`.
    pub known_hosts: String,
}

/// GitHub, GitLab or Gitea on the loopback interface; see the [module](self) documentation.
pub struct GitProviderServer {
    /// The service played.
    pub flavor: Flavor,
    /// `http://127.0.0.1:<port>`: what `--hostname` is given. API under `/api/v3` (GitHub
    /// Enterprise layout), `/api/v4` (GitLab), `/api/v1` (Gitea); Git smart HTTP at
    /// `<url>/<owner>/<repo>.git`.
    pub url: String,
    /// The personal access token of `user` (any other token: 401 with the provider's
    /// documented body).
    pub token: String,
    /// The token's user login: "alice".
    pub user: String,
    /// sshd serving `ssh://git@127.0.0.1:<port>/<owner>/<repo>`; `None` (with a printed
    /// "skipping" reason) when sshd or libnss_wrapper is missing.
    pub ssh: Option<SshEndpoint>,
    state: Arc<Mutex<State>>,
    runtime: Option<tokio::runtime::Runtime>,
    _sshd: Option<ChildGuard>,
    _dir: tempfile::TempDir,
}

impl Drop for GitProviderServer {
    fn drop(&mut self) {
        // The server runs on its own runtime, so that tests may block (run `git`) while
        // it serves; shutting it down aborts the server task.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl GitProviderServer {
    /// Starts the server; user "alice" exists, organization/group "acme" exists with teams
    /// "platform" and "devs".
    pub async fn start(flavor: Flavor) -> GitProviderServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repos");
        std::fs::create_dir_all(&root).expect("repository root");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let token = match flavor {
            Flavor::GitHub => format!("ghp_{}", random_hex(36)),
            Flavor::GitLab => format!("glpat-{}", random_hex(20)),
            Flavor::Gitea => random_hex(40),
        };
        let ssh_dir = dir.path().join("ssh");
        let sshd = start_sshd(&ssh_dir, &root).await;
        let (ssh, sshd, ssh_port) = match sshd {
            Some((endpoint, child)) => {
                let port = endpoint.port;
                (Some(endpoint), Some(child), Some(port))
            }
            None => (None, None, None),
        };
        let state = Arc::new(Mutex::new(State {
            flavor,
            base: url.clone(),
            root,
            token: token.clone(),
            ssh_dir: ssh_port.map(|_| ssh_dir),
            ssh_port,
            next_id: 1000,
            repos: Vec::new(),
            requests: Vec::new(),
        }));
        let git = gitops_source::git_server::GitHandler::new(
            gitops_source::git_server::GitServerConfig {
                root: state.lock().expect("state").root.clone(),
                authorization: None,
            },
        )
        .expect("git http-backend");
        let shared = Arc::new(Shared {
            flavor,
            state: state.clone(),
            git,
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("git-provider")
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.spawn(serve(listener, shared));
        GitProviderServer {
            flavor,
            url,
            token,
            user: USER.to_owned(),
            ssh,
            state,
            runtime: Some(runtime),
            _sshd: sshd,
            _dir: dir,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A repository that already exists; `init` = with one commit (README.md) on branch
    /// "main", else empty. `owner` is "alice" or "acme".
    pub fn create_repo(&self, owner: &str, name: &str, private: bool, init: bool) {
        assert!(
            owner == USER || owner == ORG,
            "owner must be {USER:?} or {ORG:?}, not {owner:?}"
        );
        assert!(valid_name(name), "invalid repository name {name:?}");
        let mut st = self.state();
        assert!(st.find(owner, name).is_none(), "{owner}/{name} exists");
        let visibility = if private { "private" } else { "public" };
        st.create(owner, name, name, visibility, "", "main", init)
            .unwrap_or_else(|e| panic!("creating {owner}/{name}: {e}"));
    }

    /// The repository's state, `None` when it does not exist.
    pub fn repo(&self, owner: &str, name: &str) -> Option<RepoState> {
        let st = self.state();
        let r = &st.repos[st.find(owner, name)?];
        Some(RepoState {
            private: r.visibility != "public",
            visibility: r.visibility.clone(),
            default_branch: r.default_branch.clone(),
            description: r.description.clone(),
            deploy_keys: r
                .keys
                .iter()
                .map(|k| DeployKey {
                    id: k.id,
                    title: k.title.clone(),
                    key: k.key.clone(),
                    read_only: k.read_only,
                })
                .collect(),
            teams: r.teams.clone(),
            deploy_tokens: r
                .tokens
                .iter()
                .map(|t| (t.name.clone(), t.username.clone()))
                .collect(),
        })
    }

    /// The bare repository `<root>/<owner>/<name>.git` (inspect with the `git` binary).
    pub fn git_dir(&self, owner: &str, name: &str) -> PathBuf {
        self.state().git_dir(owner, name)
    }

    /// Installs (`protect`) or removes a pre-receive hook that rejects pushes to `branch`
    /// with the provider's message (GitHub: "GH006: Protected branch update failed for
    /// refs/heads/<branch>."; GitLab: "GitLab: You are not allowed to push code to
    /// protected branches on this project."; Gitea: "Gitea: Not allowed to push to
    /// protected branch <branch>").
    pub fn protect_branch(&self, owner: &str, name: &str, branch: &str, protect: bool) {
        assert!(valid_branch(branch), "invalid branch name {branch:?}");
        let mut st = self.state();
        let i = st
            .find(owner, name)
            .unwrap_or_else(|| panic!("no repository {owner}/{name}"));
        if protect {
            st.repos[i].protected.insert(branch.to_owned());
        } else {
            st.repos[i].protected.remove(branch);
        }
        st.write_hook(i)
            .unwrap_or_else(|e| panic!("pre-receive hook of {owner}/{name}: {e}"));
    }

    /// Every API request served so far as (method, path with query), e.g.
    /// ("POST", "/api/v3/orgs/acme/repos").
    pub fn requests(&self) -> Vec<(String, String)> {
        self.state().requests.clone()
    }
}

// ---------------------------------------------------------------------------------------
// state

struct State {
    flavor: Flavor,
    base: String,
    root: PathBuf,
    token: String,
    ssh_dir: Option<PathBuf>,
    ssh_port: Option<u16>,
    next_id: u64,
    repos: Vec<Repo>,
    requests: Vec<(String, String)>,
}

struct Repo {
    id: u64,
    owner: String,
    /// The path (GitLab) or name.
    name: String,
    /// GitLab's display name (the name elsewhere).
    display_name: String,
    visibility: String,
    default_branch: String,
    description: String,
    keys: Vec<Key>,
    teams: Vec<(String, String)>,
    tokens: Vec<DeployToken>,
    protected: BTreeSet<String>,
    created_at: jiff::Timestamp,
    updated_at: jiff::Timestamp,
}

impl Repo {
    fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    fn private(&self) -> bool {
        self.visibility != "public"
    }
}

struct Key {
    id: u64,
    title: String,
    /// As stored and returned by the API.
    key: String,
    /// `<type> <base64>`.
    material: String,
    read_only: bool,
    fingerprint_sha256: String,
    fingerprint_md5: String,
    created_at: jiff::Timestamp,
}

struct DeployToken {
    id: u64,
    name: String,
    username: String,
    token: String,
    scopes: Vec<String>,
    expires_at: Option<String>,
}

impl State {
    fn git_dir(&self, owner: &str, name: &str) -> PathBuf {
        self.root.join(owner).join(format!("{name}.git"))
    }

    fn find(&self, owner: &str, name: &str) -> Option<usize> {
        self.repos
            .iter()
            .position(|r| r.owner == owner && r.name == name)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        owner: &str,
        name: &str,
        display_name: &str,
        visibility: &str,
        description: &str,
        branch: &str,
        init: bool,
    ) -> Result<usize, String> {
        let dir = self.git_dir(owner, name);
        let readme = init.then(|| match self.flavor {
            Flavor::GitHub if !description.is_empty() => format!("# {name}\n{description}\n"),
            Flavor::Gitea if !description.is_empty() => format!("# {name}\n\n{description}\n"),
            _ => format!("# {display_name}\n"),
        });
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| e.to_string())?;
        }
        init_bare(&dir, branch, readme.as_deref())?;
        let id = self.id();
        let now = now();
        self.repos.push(Repo {
            id,
            owner: owner.to_owned(),
            name: name.to_owned(),
            display_name: display_name.to_owned(),
            visibility: visibility.to_owned(),
            default_branch: branch.to_owned(),
            description: description.to_owned(),
            keys: Vec::new(),
            teams: Vec::new(),
            tokens: Vec::new(),
            protected: BTreeSet::new(),
            created_at: now,
            updated_at: now,
        });
        Ok(self.repos.len() - 1)
    }

    fn delete(&mut self, i: usize) {
        let r = self.repos.remove(i);
        let _ = std::fs::remove_dir_all(self.git_dir(&r.owner, &r.name));
        self.sync_ssh();
    }

    fn is_empty(&self, i: usize) -> bool {
        let r = &self.repos[i];
        run_git(
            Some(&self.git_dir(&r.owner, &r.name)),
            &[
                "for-each-ref",
                "--count=1",
                "--format=%(refname)",
                "refs/heads",
            ],
            None,
        )
        .map(|o| o.is_empty())
        .unwrap_or(true)
    }

    fn branch_exists(&self, i: usize, branch: &str) -> bool {
        let r = &self.repos[i];
        valid_branch(branch)
            && run_git(
                Some(&self.git_dir(&r.owner, &r.name)),
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("refs/heads/{branch}"),
                ],
                None,
            )
            .is_ok()
    }

    /// Sets the default branch and the bare repository's HEAD.
    fn set_default_branch(&mut self, i: usize, branch: &str) -> Result<(), String> {
        let dir = self.git_dir(&self.repos[i].owner, &self.repos[i].name);
        run_git(
            Some(&dir),
            &["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")],
            None,
        )?;
        self.repos[i].default_branch = branch.to_owned();
        Ok(())
    }

    /// Rewrites the pre-receive hook of repository `i` from its protected branches.
    fn write_hook(&self, i: usize) -> Result<(), String> {
        let r = &self.repos[i];
        let hook = self.git_dir(&r.owner, &r.name).join("hooks/pre-receive");
        if r.protected.is_empty() {
            return match std::fs::remove_file(&hook) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            };
        }
        let mut script = String::from(
            "#!/bin/sh\n# Branch protection of the test server: rejects updates of protected branches.\nwhile read -r old new ref; do\n  case \"$ref\" in\n",
        );
        for b in &r.protected {
            let lines: Vec<String> = match self.flavor {
                Flavor::GitHub => vec![
                    format!("error: GH006: Protected branch update failed for refs/heads/{b}."),
                    "error: Changes must be made through a pull request.".to_owned(),
                ],
                Flavor::GitLab => vec![
                    "GitLab: You are not allowed to push code to protected branches on this project."
                        .to_owned(),
                ],
                Flavor::Gitea => vec![format!("Gitea: Not allowed to push to protected branch {b}")],
            };
            script.push_str(&format!("    'refs/heads/{b}')\n"));
            for l in lines {
                script.push_str(&format!("      echo '{l}' >&2\n"));
            }
            script.push_str("      exit 1 ;;\n");
        }
        script.push_str("  esac\ndone\nexit 0\n");
        write_executable(&hook, &script).map_err(|e| e.to_string())
    }

    /// Rewrites sshd's authorized_keys from the deploy keys: one line per key, its forced
    /// command naming the repositories it opens and how.
    fn sync_ssh(&self) {
        let Some(dir) = &self.ssh_dir else {
            return;
        };
        let mut grants: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for r in &self.repos {
            for k in &r.keys {
                let mode = if k.read_only { "ro" } else { "rw" };
                grants
                    .entry(k.material.as_str())
                    .or_default()
                    .push(format!("{} {mode}", r.full_name()));
            }
        }
        let shell = dir.join("git-shell");
        let mut text = String::new();
        for (material, repos) in grants {
            text.push_str(&format!(
                "restrict,command=\"{} {}\" {material}\n",
                shell.display(),
                repos.join(" ")
            ));
        }
        let tmp = dir.join("authorized_keys.tmp");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, dir.join("authorized_keys"));
        }
    }

    fn http_url(&self, r: &Repo) -> String {
        format!("{}/{}.git", self.base, r.full_name())
    }

    /// The SSH clone URL: scp-like on GitHub (port 22 implied, as GitHub Enterprise
    /// answers); GitLab and Gitea give `ssh://` with the port when sshd does not listen on
    /// 22, as they do for a custom SSH port.
    fn ssh_url(&self, r: &Repo) -> String {
        match (self.flavor, self.ssh_port) {
            (Flavor::GitHub, _) | (_, None) => format!("git@127.0.0.1:{}.git", r.full_name()),
            (_, Some(port)) => format!("ssh://git@127.0.0.1:{port}/{}.git", r.full_name()),
        }
    }

    /// Adds a deploy key to repository `i`.
    fn add_key(
        &mut self,
        i: usize,
        title: String,
        key: String,
        parsed: &ParsedKey,
        read_only: bool,
    ) -> usize {
        let id = self.id();
        self.repos[i].keys.push(Key {
            id,
            title,
            key,
            material: parsed.material.clone(),
            read_only,
            fingerprint_sha256: parsed.fingerprint_sha256(),
            fingerprint_md5: parsed.fingerprint_md5(),
            created_at: now(),
        });
        self.sync_ssh();
        self.repos[i].keys.len() - 1
    }

    // -- API entry --------------------------------------------------------------------

    fn api(&mut self, c: &ApiCall) -> Reply {
        let pq = if c.query.is_empty() {
            c.path.clone()
        } else {
            format!("{}?{}", c.path, c.query)
        };
        self.requests.push((c.method.clone(), pq));
        let p = params(c);
        if let Err(reply) = self.authenticate(c, &p) {
            return reply;
        }
        let rest = &c.path[self.flavor.api_prefix().len()..];
        let segs: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        match self.flavor {
            Flavor::GitHub => self.github(&c.method, &segs, &p),
            Flavor::GitLab => self.gitlab(&c.method, &segs, &p),
            Flavor::Gitea => self.gitea(&c.method, &segs, &p),
        }
    }

    /// Checks the token as each service reads it: GitHub `Authorization: Bearer|token`,
    /// GitLab `PRIVATE-TOKEN` or `Authorization: Bearer`, Gitea `Authorization:
    /// token|Bearer`; basic auth with the token as password, and the `private_token` /
    /// `access_token` / `token` query parameters where the service takes them.
    fn authenticate(&self, c: &ApiCall, p: &Map<String, Value>) -> Result<(), Reply> {
        let from_header = c.authorization.as_deref().and_then(|a| {
            let (scheme, value) = a.trim().split_once(' ')?;
            let value = value.trim();
            match scheme.to_ascii_lowercase().as_str() {
                "bearer" => Some(value.to_owned()),
                "token" if self.flavor != Flavor::GitLab => Some(value.to_owned()),
                "basic" => {
                    let (user, pass) = basic_credentials(value)?;
                    Some(if pass.is_empty() || pass == "x-oauth-basic" {
                        user
                    } else {
                        pass
                    })
                }
                _ => None,
            }
        });
        let given = match self.flavor {
            Flavor::GitHub => from_header,
            Flavor::GitLab => c
                .private_token
                .clone()
                .or(from_header)
                .or_else(|| str_param(p, "private_token"))
                .or_else(|| str_param(p, "access_token")),
            Flavor::Gitea => from_header
                .or_else(|| str_param(p, "token"))
                .or_else(|| str_param(p, "access_token")),
        };
        let missing = given.is_none();
        match given {
            Some(t) if t == self.token => Ok(()),
            _ => Err(match self.flavor {
                Flavor::GitHub => github_error(
                    401,
                    if missing {
                        "Requires authentication"
                    } else {
                        "Bad credentials"
                    },
                ),
                Flavor::GitLab => Reply::json(401, json!({"message": "401 Unauthorized"})),
                Flavor::Gitea => self.gitea_error(
                    401,
                    if missing {
                        "token is required"
                    } else {
                        "invalid username, password or token"
                    },
                ),
            }),
        }
    }

    // -- GitHub -----------------------------------------------------------------------

    fn github(&mut self, m: &str, s: &[&str], p: &Map<String, Value>) -> Reply {
        let not_found = || github_error(404, "Not Found");
        let repo = |st: &State, o: &str, r: &str| st.find(o, r);
        match (m, s) {
            ("GET", ["user"]) => Reply::json(200, self.gh_profile(USER)),
            ("GET", ["users", u]) if *u == USER || *u == ORG => {
                Reply::json(200, self.gh_profile(u))
            }
            ("GET", ["orgs", o]) if *o == ORG => Reply::json(200, self.gh_org()),
            ("GET", ["orgs", o, "teams"]) if *o == ORG => Reply::json(
                200,
                paged(
                    p,
                    TEAMS
                        .iter()
                        .map(|(id, slug, _)| self.gh_team(*id, slug, None))
                        .collect(),
                ),
            ),
            ("GET", ["orgs", o, "teams", t]) if *o == ORG => match team_by_name(t) {
                Some((id, slug, _)) => Reply::json(200, self.gh_team(id, slug, None)),
                None => not_found(),
            },
            ("POST", ["user", "repos"]) => self.gh_create(USER, p),
            ("POST", ["orgs", o, "repos"]) if *o == ORG => self.gh_create(ORG, p),
            ("GET", ["repos", o, r]) => match repo(self, o, r) {
                Some(i) => Reply::json(200, self.gh_repo(i)),
                None => not_found(),
            },
            ("PATCH", ["repos", o, r]) => match repo(self, o, r) {
                Some(i) => self.gh_update(i, p),
                None => not_found(),
            },
            ("DELETE", ["repos", o, r]) => match repo(self, o, r) {
                Some(i) => {
                    self.delete(i);
                    Reply::empty(204)
                }
                None => not_found(),
            },
            ("GET", ["repos", o, r, "keys"]) => match repo(self, o, r) {
                Some(i) => Reply::json(
                    200,
                    paged(
                        p,
                        (0..self.repos[i].keys.len())
                            .map(|k| self.gh_key(i, k))
                            .collect(),
                    ),
                ),
                None => not_found(),
            },
            ("POST", ["repos", o, r, "keys"]) => match repo(self, o, r) {
                Some(i) => self.gh_add_key(i, p),
                None => not_found(),
            },
            ("GET", ["repos", o, r, "keys", id]) => {
                match repo(self, o, r).and_then(|i| Some((i, self.key_index(i, id)?))) {
                    Some((i, k)) => Reply::json(200, self.gh_key(i, k)),
                    None => not_found(),
                }
            }
            ("DELETE", ["repos", o, r, "keys", id]) => {
                match repo(self, o, r).and_then(|i| Some((i, self.key_index(i, id)?))) {
                    Some((i, k)) => {
                        self.repos[i].keys.remove(k);
                        self.sync_ssh();
                        Reply::empty(204)
                    }
                    None => not_found(),
                }
            }
            ("GET", ["repos", o, r, "teams"]) => match repo(self, o, r) {
                Some(i) => {
                    let teams = self.repos[i]
                        .teams
                        .iter()
                        .filter_map(|(name, perm)| {
                            let (id, slug, _) = team_by_name(name)?;
                            Some(self.gh_team(id, slug, Some(perm)))
                        })
                        .collect();
                    Reply::json(200, paged(p, teams))
                }
                None => not_found(),
            },
            ("GET", ["orgs", org, "teams", t, "repos", o, r]) if *org == ORG => {
                match (team_by_name(t), repo(self, o, r)) {
                    (Some((_, slug, _)), Some(i))
                        if self.repos[i].teams.iter().any(|(n, _)| n == slug) =>
                    {
                        Reply::empty(204)
                    }
                    _ => not_found(),
                }
            }
            ("PUT", ["orgs", org, "teams", t, "repos", o, r]) if *org == ORG => {
                let (Some((_, slug, _)), Some(i)) = (team_by_name(t), repo(self, o, r)) else {
                    return not_found();
                };
                let permission = str_param(p, "permission").unwrap_or_else(|| "pull".into());
                if !GH_PERMISSIONS.contains(&permission.as_str()) || self.repos[i].owner != ORG {
                    return github_validation("TeamRepository", "permission", "invalid", None);
                }
                let teams = &mut self.repos[i].teams;
                match teams.iter_mut().find(|(n, _)| n == slug) {
                    Some(entry) => entry.1 = permission,
                    None => teams.push((slug.to_owned(), permission)),
                }
                Reply::empty(204)
            }
            ("DELETE", ["orgs", org, "teams", t, "repos", o, r]) if *org == ORG => {
                let (Some((_, slug, _)), Some(i)) = (team_by_name(t), repo(self, o, r)) else {
                    return not_found();
                };
                self.repos[i].teams.retain(|(n, _)| n != slug);
                Reply::empty(204)
            }
            _ => not_found(),
        }
    }

    fn gh_create(&mut self, owner: &str, p: &Map<String, Value>) -> Reply {
        let Some(name) = str_param(p, "name") else {
            return github_validation("Repository", "name", "missing_field", None);
        };
        let failed = |message: &str| {
            Reply::json(
                422,
                json!({
                    "message": "Repository creation failed.",
                    "errors": [{"resource": "Repository", "code": "custom", "field": "name", "message": message}],
                    "documentation_url": "https://docs.github.com/rest/repos/repos#create-a-repository-for-the-authenticated-user",
                    "status": "422",
                }),
            )
        };
        if !valid_name(&name) {
            return failed("name is invalid");
        }
        if self.find(owner, &name).is_some() {
            return failed("name already exists on this account");
        }
        let visibility = match str_param(p, "visibility") {
            Some(v) if v == "public" || v == "private" || (v == "internal" && owner == ORG) => v,
            Some(_) => return github_validation("Repository", "visibility", "invalid", None),
            None if bool_param(p, "private") == Some(true) => "private".into(),
            None => "public".into(),
        };
        let description = str_param(p, "description").unwrap_or_default();
        let init = bool_param(p, "auto_init").unwrap_or(false);
        match self.create(owner, &name, &name, &visibility, &description, "main", init) {
            Ok(i) => Reply::json(201, self.gh_repo(i)),
            Err(e) => Reply::json(500, json!({"message": e})),
        }
    }

    fn gh_update(&mut self, i: usize, p: &Map<String, Value>) -> Reply {
        let visibility = match (str_param(p, "visibility"), bool_param(p, "private")) {
            (Some(v), _)
                if v == "public"
                    || v == "private"
                    || (v == "internal" && self.repos[i].owner == ORG) =>
            {
                Some(v)
            }
            (Some(_), _) => return github_validation("Repository", "visibility", "invalid", None),
            (None, Some(true)) => Some("private".to_owned()),
            (None, Some(false)) => Some("public".to_owned()),
            (None, None) => None,
        };
        let branch = str_param(p, "default_branch").filter(|b| *b != self.repos[i].default_branch);
        if let Some(b) = &branch {
            if self.is_empty(i) {
                return github_validation(
                    "Repository",
                    "default_branch",
                    "custom",
                    Some(
                        "Cannot update default branch for an empty repository. Please init the repository and push first.",
                    ),
                );
            }
            if !self.branch_exists(i, b) {
                return github_validation("Repository", "default_branch", "invalid", None);
            }
        }
        if let Some(b) = branch
            && let Err(e) = self.set_default_branch(i, &b)
        {
            return Reply::json(500, json!({"message": e}));
        }
        let r = &mut self.repos[i];
        if let Some(v) = visibility {
            r.visibility = v;
        }
        if let Some(d) = p.get("description") {
            r.description = d.as_str().unwrap_or_default().to_owned();
        }
        r.updated_at = now();
        Reply::json(200, self.gh_repo(i))
    }

    fn gh_add_key(&mut self, i: usize, p: &Map<String, Value>) -> Reply {
        let Some(text) = str_param(p, "key") else {
            return github_validation("PublicKey", "key", "missing_field", None);
        };
        let Some(parsed) = parse_key(&text) else {
            return github_validation(
                "PublicKey",
                "key",
                "custom",
                Some("key is invalid. You must supply a key in OpenSSH public key format"),
            );
        };
        // A deploy key can be used on one repository only.
        if self
            .repos
            .iter()
            .any(|r| r.keys.iter().any(|k| k.material == parsed.material))
        {
            return github_validation("PublicKey", "key", "custom", Some("key is already in use"));
        }
        let title = str_param(p, "title").unwrap_or_default();
        let read_only = bool_param(p, "read_only").unwrap_or(false);
        let k = self.add_key(i, title, parsed.material.clone(), &parsed, read_only);
        Reply::json(201, self.gh_key(i, k))
    }

    fn key_index(&self, i: usize, id: &str) -> Option<usize> {
        let id: u64 = id.parse().ok()?;
        self.repos[i].keys.iter().position(|k| k.id == id)
    }

    fn gh_api(&self) -> String {
        format!("{}/api/v3", self.base)
    }

    /// An owner as GitHub's "simple user" (octocrab `models::Author`: every non-optional
    /// field present).
    fn gh_owner(&self, login: &str) -> Value {
        let (id, kind) = if login == ORG {
            (ORG_ID, "Organization")
        } else {
            (USER_ID, "User")
        };
        let u = format!("{}/users/{login}", self.gh_api());
        json!({
            "login": login,
            "id": id,
            "node_id": node_id(kind, id),
            "avatar_url": format!("{}/avatars/u/{id}", self.base),
            "gravatar_id": "",
            "url": u,
            "html_url": format!("{}/{login}", self.base),
            "followers_url": format!("{u}/followers"),
            "following_url": format!("{u}/following{{/other_user}}"),
            "gists_url": format!("{u}/gists{{/gist_id}}"),
            "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{u}/subscriptions"),
            "organizations_url": format!("{u}/orgs"),
            "repos_url": format!("{u}/repos"),
            "events_url": format!("{u}/events{{/privacy}}"),
            "received_events_url": format!("{u}/received_events"),
            "type": kind,
            "site_admin": false,
            "user_view_type": "public",
        })
    }

    /// `GET /user` (the private profile; octocrab `models::UserProfile` fields included).
    fn gh_profile(&self, login: &str) -> Value {
        let mut v = self.gh_owner(login);
        let created = gh_time(self.repos.first().map(|r| r.created_at).unwrap_or_else(now));
        let count = |private: bool| {
            self.repos
                .iter()
                .filter(|r| r.owner == login && r.private() == private)
                .count()
        };
        let extra = json!({
            "name": if login == USER { "Alice" } else { "Acme" },
            "company": null,
            "blog": "",
            "location": null,
            "email": null,
            "hireable": null,
            "bio": null,
            "twitter_username": null,
            "public_repos": count(false),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": created,
            "updated_at": created,
            "private_gists": 0,
            "total_private_repos": count(true),
            "owned_private_repos": count(true),
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": true,
            "plan": {"name": "enterprise", "space": 976562499, "private_repos": 9999, "collaborators": 0},
        });
        if let (Value::Object(v), Value::Object(extra)) = (&mut v, extra) {
            v.extend(extra);
        }
        v
    }

    /// `GET /orgs/acme` (octocrab `models::orgs::Organization`).
    fn gh_org(&self) -> Value {
        let o = format!("{}/orgs/{ORG}", self.gh_api());
        json!({
            "login": ORG,
            "id": ORG_ID,
            "node_id": node_id("Organization", ORG_ID),
            "url": o,
            "repos_url": format!("{o}/repos"),
            "events_url": format!("{o}/events"),
            "hooks_url": format!("{o}/hooks"),
            "issues_url": format!("{o}/issues"),
            "members_url": format!("{o}/members{{/member}}"),
            "public_members_url": format!("{o}/public_members{{/member}}"),
            "avatar_url": format!("{}/avatars/u/{ORG_ID}", self.base),
            "description": null,
            "name": "Acme",
            "company": null,
            "blog": "",
            "location": null,
            "email": null,
            "is_verified": false,
            "has_organization_projects": true,
            "has_repository_projects": true,
            "public_repos": self.repos.iter().filter(|r| r.owner == ORG && !r.private()).count(),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "html_url": format!("{}/{ORG}", self.base),
            "type": "Organization",
            "members_can_create_repositories": true,
            "two_factor_requirement_enabled": false,
        })
    }

    /// A repository as GitHub's "full repository" (octocrab `models::Repository`).
    fn gh_repo(&self, i: usize) -> Value {
        let r = &self.repos[i];
        let full = r.full_name();
        let a = format!("{}/repos/{full}", self.gh_api());
        let created = gh_time(r.created_at);
        let first = json!({
            "id": r.id,
            "node_id": node_id("Repository", r.id),
            "name": r.name,
            "full_name": full,
            "private": r.private(),
            "owner": self.gh_owner(&r.owner),
            "html_url": format!("{}/{full}", self.base),
            "description": if r.description.is_empty() { Value::Null } else { r.description.clone().into() },
            "fork": false,
            "url": a,
            "archive_url": format!("{a}/{{archive_format}}{{/ref}}"),
            "assignees_url": format!("{a}/assignees{{/user}}"),
            "blobs_url": format!("{a}/git/blobs{{/sha}}"),
            "branches_url": format!("{a}/branches{{/branch}}"),
            "collaborators_url": format!("{a}/collaborators{{/collaborator}}"),
            "comments_url": format!("{a}/comments{{/number}}"),
            "commits_url": format!("{a}/commits{{/sha}}"),
            "compare_url": format!("{a}/compare/{{base}}...{{head}}"),
            "contents_url": format!("{a}/contents/{{+path}}"),
            "contributors_url": format!("{a}/contributors"),
            "deployments_url": format!("{a}/deployments"),
            "downloads_url": format!("{a}/downloads"),
            "events_url": format!("{a}/events"),
            "forks_url": format!("{a}/forks"),
            "git_commits_url": format!("{a}/git/commits{{/sha}}"),
            "git_refs_url": format!("{a}/git/refs{{/sha}}"),
            "git_tags_url": format!("{a}/git/tags{{/sha}}"),
        });
        let rest = json!({
            "git_url": format!("git://127.0.0.1/{full}.git"),
            "issue_comment_url": format!("{a}/issues/comments{{/number}}"),
            "issue_events_url": format!("{a}/issues/events{{/number}}"),
            "issues_url": format!("{a}/issues{{/number}}"),
            "keys_url": format!("{a}/keys{{/key_id}}"),
            "labels_url": format!("{a}/labels{{/name}}"),
            "languages_url": format!("{a}/languages"),
            "merges_url": format!("{a}/merges"),
            "milestones_url": format!("{a}/milestones{{/number}}"),
            "notifications_url": format!("{a}/notifications{{?since,all,participating}}"),
            "pulls_url": format!("{a}/pulls{{/number}}"),
            "releases_url": format!("{a}/releases{{/id}}"),
            "ssh_url": self.ssh_url(r),
            "stargazers_url": format!("{a}/stargazers"),
            "statuses_url": format!("{a}/statuses/{{sha}}"),
            "subscribers_url": format!("{a}/subscribers"),
            "subscription_url": format!("{a}/subscription"),
            "tags_url": format!("{a}/tags"),
            "teams_url": format!("{a}/teams"),
            "trees_url": format!("{a}/git/trees{{/sha}}"),
            "clone_url": self.http_url(r),
            "mirror_url": null,
            "hooks_url": format!("{a}/hooks"),
            "svn_url": format!("{}/{full}", self.base),
            "homepage": null,
            "language": null,
        });
        let counts = json!({
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 0,
            "default_branch": r.default_branch,
            "open_issues_count": 0,
            "open_issues": 0,
            "is_template": false,
            "topics": [],
            "has_issues": true,
            "has_projects": true,
            "has_wiki": true,
            "has_pages": false,
            "has_downloads": true,
            "has_discussions": false,
            "archived": false,
            "disabled": false,
            "visibility": r.visibility,
            "pushed_at": created,
            "created_at": created,
            "updated_at": gh_time(r.updated_at),
            "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
            "allow_rebase_merge": true,
            "allow_squash_merge": true,
            "allow_merge_commit": true,
            "allow_auto_merge": false,
            "delete_branch_on_merge": false,
            "allow_update_branch": false,
            "allow_forking": true,
            "web_commit_signoff_required": false,
            "subscribers_count": 1,
            "network_count": 0,
            "license": null,
        });
        merge(merge(first, rest), counts)
    }

    /// A deploy key (octocrab `models::repos::DeployKey`).
    fn gh_key(&self, i: usize, k: usize) -> Value {
        let r = &self.repos[i];
        let key = &r.keys[k];
        json!({
            "id": key.id,
            "key": key.key,
            "url": format!("{}/repos/{}/keys/{}", self.gh_api(), r.full_name(), key.id),
            "title": key.title,
            "verified": true,
            "created_at": gh_time(key.created_at),
            "read_only": key.read_only,
            "added_by": USER,
            "last_used": null,
            "enabled": true,
        })
    }

    /// A team (octocrab `models::teams::Team` / `RequestedTeam`); with the repository
    /// permission when listed for a repository.
    fn gh_team(&self, id: u64, slug: &str, permission: Option<&str>) -> Value {
        let t = format!("{}/organizations/{ORG_ID}/team/{id}", self.gh_api());
        let permission = permission.unwrap_or("pull");
        let rank = GH_PERMISSIONS
            .iter()
            .position(|p| *p == permission)
            .unwrap_or(0);
        let has = |p: &str| GH_PERMISSIONS.iter().position(|q| *q == p).unwrap_or(0) <= rank;
        json!({
            "id": id,
            "node_id": node_id("Team", id),
            "url": t,
            "html_url": format!("{}/orgs/{ORG}/teams/{slug}", self.base),
            "name": slug,
            "slug": slug,
            "description": null,
            "privacy": "closed",
            "notification_setting": "notifications_enabled",
            "permission": permission,
            "permissions": {
                "pull": has("pull"), "triage": has("triage"), "push": has("push"),
                "maintain": has("maintain"), "admin": has("admin"),
            },
            "members_url": format!("{t}/members{{/member}}"),
            "repositories_url": format!("{t}/repos"),
            "parent": null,
        })
    }

    // -- GitLab -----------------------------------------------------------------------

    fn gitlab(&mut self, m: &str, s: &[&str], p: &Map<String, Value>) -> Reply {
        let project = |st: &State, id: &str| st.gl_project_index(id);
        let no_project = || gitlab_message(404, "404 Project Not Found");
        match (m, s) {
            ("GET", ["user"]) => Reply::json(200, self.gl_user(true)),
            ("GET", ["users"]) => {
                let users = match str_param(p, "username") {
                    Some(u) if u != USER => vec![],
                    _ => vec![self.gl_user(false)],
                };
                Reply::json(200, paged(p, users))
            }
            ("GET", ["users", u]) if *u == USER_ID.to_string() => {
                Reply::json(200, self.gl_user(false))
            }
            ("GET", ["users", _]) => gitlab_message(404, "404 User Not Found"),
            ("GET", ["groups"]) => {
                let search = str_param(p, "search").unwrap_or_default();
                let groups = gl_groups()
                    .into_iter()
                    .filter(|g| g.1.contains(search.as_str()) || g.3.contains(search.as_str()))
                    .map(|g| self.gl_group(g))
                    .collect();
                Reply::json(200, paged(p, groups))
            }
            ("GET", ["groups", g]) => match gl_group(g) {
                Some(g) => Reply::json(200, self.gl_group(g)),
                None => gitlab_message(404, "404 Group Not Found"),
            },
            ("GET", ["groups", g, "subgroups"]) => match gl_group(g) {
                Some(parent) => {
                    let subs = gl_groups()
                        .into_iter()
                        .filter(|c| c.2 == Some(parent.0))
                        .map(|c| self.gl_group(c))
                        .collect();
                    Reply::json(200, paged(p, subs))
                }
                None => gitlab_message(404, "404 Group Not Found"),
            },
            ("GET", ["namespaces"]) => {
                let search = str_param(p, "search").unwrap_or_default();
                let mut all = vec![self.gl_namespace(USER)];
                all.extend(gl_groups().into_iter().map(|g| self.gl_group_namespace(g)));
                let all = all
                    .into_iter()
                    .filter(|n| {
                        n["full_path"]
                            .as_str()
                            .unwrap_or("")
                            .contains(search.as_str())
                    })
                    .collect();
                Reply::json(200, paged(p, all))
            }
            ("GET", ["namespaces", n]) => {
                if *n == USER || *n == "1" {
                    Reply::json(200, self.gl_namespace(USER))
                } else {
                    match gl_group(n) {
                        Some(g) => Reply::json(200, self.gl_group_namespace(g)),
                        None => gitlab_message(404, "404 Namespace Not Found"),
                    }
                }
            }
            ("POST", ["projects"]) => self.gl_create(p),
            ("GET", ["projects", id]) => match project(self, id) {
                Some(i) => Reply::json(200, self.gl_project(i)),
                None => no_project(),
            },
            ("PUT", ["projects", id]) => match project(self, id) {
                Some(i) => self.gl_update(i, p),
                None => no_project(),
            },
            ("DELETE", ["projects", id]) => match project(self, id) {
                Some(i) => {
                    self.delete(i);
                    Reply::json(202, json!({"message": "202 Accepted"}))
                }
                None => no_project(),
            },
            ("GET", ["projects", id, "deploy_keys"]) => match project(self, id) {
                Some(i) => Reply::json(
                    200,
                    paged(
                        p,
                        (0..self.repos[i].keys.len())
                            .map(|k| self.gl_key(i, k))
                            .collect(),
                    ),
                ),
                None => no_project(),
            },
            ("POST", ["projects", id, "deploy_keys"]) => match project(self, id) {
                Some(i) => self.gl_add_key(i, p),
                None => no_project(),
            },
            ("GET", ["projects", id, "deploy_keys", k]) => match project(self, id) {
                Some(i) => match self.key_index(i, k) {
                    Some(k) => Reply::json(200, self.gl_key(i, k)),
                    None => gitlab_message(404, "404 Deploy Key Not Found"),
                },
                None => no_project(),
            },
            ("PUT", ["projects", id, "deploy_keys", k]) => match project(self, id) {
                Some(i) => match self.key_index(i, k) {
                    Some(k) => {
                        let key = &mut self.repos[i].keys[k];
                        if let Some(t) = str_param(p, "title") {
                            key.title = t;
                        }
                        if let Some(c) = bool_param(p, "can_push") {
                            key.read_only = !c;
                        }
                        self.sync_ssh();
                        Reply::json(200, self.gl_key(i, k))
                    }
                    None => gitlab_message(404, "404 Deploy Key Not Found"),
                },
                None => no_project(),
            },
            ("DELETE", ["projects", id, "deploy_keys", k]) => match project(self, id) {
                Some(i) => match self.key_index(i, k) {
                    Some(k) => {
                        self.repos[i].keys.remove(k);
                        self.sync_ssh();
                        Reply::empty(204)
                    }
                    None => gitlab_message(404, "404 Deploy Key Not Found"),
                },
                None => no_project(),
            },
            ("POST", ["projects", id, "share"]) => match project(self, id) {
                Some(i) => self.gl_share(i, p),
                None => no_project(),
            },
            ("DELETE", ["projects", id, "share", g]) => match project(self, id) {
                Some(i) => {
                    let group = gl_groups().into_iter().find(|x| x.0.to_string() == *g);
                    let teams = &mut self.repos[i].teams;
                    match group.and_then(|g| teams.iter().position(|(n, _)| *n == g.1)) {
                        Some(t) => {
                            teams.remove(t);
                            Reply::empty(204)
                        }
                        None => gitlab_message(404, "404 Not found"),
                    }
                }
                None => no_project(),
            },
            ("GET", ["projects", id, "deploy_tokens"]) => match project(self, id) {
                Some(i) => Reply::json(
                    200,
                    paged(
                        p,
                        self.repos[i]
                            .tokens
                            .iter()
                            .map(|t| gl_token(t, false))
                            .collect(),
                    ),
                ),
                None => no_project(),
            },
            ("POST", ["projects", id, "deploy_tokens"]) => match project(self, id) {
                Some(i) => self.gl_add_token(i, p),
                None => no_project(),
            },
            ("GET", ["projects", id, "deploy_tokens", t]) => match project(self, id) {
                Some(i) => match self.repos[i].tokens.iter().find(|x| x.id.to_string() == *t) {
                    Some(t) => Reply::json(200, gl_token(t, false)),
                    None => gitlab_message(404, "404 Deploy Token Not Found"),
                },
                None => no_project(),
            },
            ("DELETE", ["projects", id, "deploy_tokens", t]) => match project(self, id) {
                Some(i) => {
                    let tokens = &mut self.repos[i].tokens;
                    match tokens.iter().position(|x| x.id.to_string() == *t) {
                        Some(t) => {
                            tokens.remove(t);
                            Reply::empty(204)
                        }
                        None => gitlab_message(404, "404 Deploy Token Not Found"),
                    }
                }
                None => no_project(),
            },
            _ => Reply::json(404, json!({"error": "404 Not Found"})),
        }
    }

    /// A project by numeric id or URL-decoded full path (`acme/fleet`).
    fn gl_project_index(&self, id: &str) -> Option<usize> {
        if let Ok(n) = id.parse::<u64>() {
            return self.repos.iter().position(|r| r.id == n);
        }
        let (owner, name) = id.rsplit_once('/')?;
        self.find(owner, name)
    }

    fn gl_create(&mut self, p: &Map<String, Value>) -> Reply {
        let (name, path) = match (str_param(p, "name"), str_param(p, "path")) {
            (Some(n), Some(pa)) => (n, pa),
            (Some(n), None) => {
                let path = n
                    .to_lowercase()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect();
                (n, path)
            }
            (None, Some(pa)) => (pa.clone(), pa),
            (None, None) => {
                return Reply::json(
                    400,
                    json!({"error": "name, path are missing, at least one parameter must be provided"}),
                );
            }
        };
        if !valid_name(&path) || path.starts_with('-') {
            return Reply::json(
                400,
                json!({"message": {"path": ["can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'"]}}),
            );
        }
        let owner = match p.get("namespace_id").or_else(|| p.get("namespace")) {
            None | Some(Value::Null) => USER,
            Some(v) => match v
                .as_u64()
                .map(|n| n.to_string())
                .or_else(|| v.as_str().map(str::to_owned))
                .as_deref()
            {
                Some("1") | Some(USER) => USER,
                Some("2") | Some(ORG) => ORG,
                _ => return gitlab_message(404, "404 Namespace Not Found"),
            },
        };
        if self.find(owner, &path).is_some() {
            return Reply::json(
                400,
                json!({"message": {"name": ["has already been taken"], "path": ["has already been taken"]}}),
            );
        }
        let visibility = str_param(p, "visibility").unwrap_or_else(|| "private".into());
        if !["private", "internal", "public"].contains(&visibility.as_str()) {
            return Reply::json(
                400,
                json!({"error": "visibility does not have a valid value"}),
            );
        }
        let description = str_param(p, "description").unwrap_or_default();
        let init = bool_param(p, "initialize_with_readme").unwrap_or(false);
        // "default_branch: requires initialize_with_readme to be true"
        let branch = match str_param(p, "default_branch") {
            Some(b) if init => b,
            _ => "main".to_owned(),
        };
        if !valid_branch(&branch) {
            return Reply::json(400, json!({"error": "default_branch is invalid"}));
        }
        match self.create(
            owner,
            &path,
            &name,
            &visibility,
            &description,
            &branch,
            init,
        ) {
            Ok(i) => Reply::json(201, self.gl_project(i)),
            Err(e) => Reply::json(500, json!({"message": e})),
        }
    }

    fn gl_update(&mut self, i: usize, p: &Map<String, Value>) -> Reply {
        let visibility = str_param(p, "visibility");
        if let Some(v) = &visibility
            && !["private", "internal", "public"].contains(&v.as_str())
        {
            return Reply::json(
                400,
                json!({"error": "visibility does not have a valid value"}),
            );
        }
        if let Some(b) =
            str_param(p, "default_branch").filter(|b| *b != self.repos[i].default_branch)
        {
            // Projects::UpdateService: the branch must exist (change_head)
            if !self.branch_exists(i, &b) {
                return gitlab_message(400, "Could not set the default branch");
            }
            if let Err(e) = self.set_default_branch(i, &b) {
                return Reply::json(500, json!({"message": e}));
            }
        }
        let r = &mut self.repos[i];
        if let Some(v) = visibility {
            r.visibility = v;
        }
        if let Some(d) = p.get("description") {
            r.description = d.as_str().unwrap_or_default().to_owned();
        }
        if let Some(n) = str_param(p, "name") {
            r.display_name = n;
        }
        r.updated_at = now();
        Reply::json(200, self.gl_project(i))
    }

    /// `POST /projects/:id/deploy_keys`, as GitLab's API does it: the same key text already
    /// on the project is answered with that key; the same text on another project is joined
    /// to this one (same id); the same key material under another text fails the
    /// fingerprint's uniqueness.
    fn gl_add_key(&mut self, i: usize, p: &Map<String, Value>) -> Reply {
        let missing: Vec<&str> = ["key", "title"]
            .into_iter()
            .filter(|k| str_param(p, k).is_none())
            .collect();
        if !missing.is_empty() {
            return Reply::json(
                400,
                json!({"error": format!("{} {} missing", missing.join(", "), if missing.len() == 1 { "is" } else { "are" })}),
            );
        }
        let text = str_param(p, "key").unwrap_or_default().trim().to_owned();
        let title = str_param(p, "title").unwrap_or_default();
        let can_push = bool_param(p, "can_push").unwrap_or(false);
        if let Some(k) = self.repos[i].keys.iter().position(|k| k.key == text) {
            return Reply::json(201, self.gl_key(i, k));
        }
        let Some(parsed) = parse_key(&text) else {
            return Reply::json(
                400,
                json!({"message": {"deploy_key.key": ["is invalid"], "deploy_key.fingerprint_sha256": ["cannot be generated"]}}),
            );
        };
        let existing = self
            .repos
            .iter()
            .flat_map(|r| r.keys.iter())
            .find(|k| k.material == parsed.material)
            .map(|k| (k.id, k.key == text));
        match existing {
            Some((_, false)) => Reply::json(
                400,
                json!({"message": {"deploy_key.fingerprint_sha256": ["has already been taken"]}}),
            ),
            Some((id, true)) => {
                let k = self.add_key(i, title, text, &parsed, !can_push);
                self.repos[i].keys[k].id = id;
                Reply::json(201, self.gl_key(i, k))
            }
            None => {
                let k = self.add_key(i, title, text, &parsed, !can_push);
                Reply::json(201, self.gl_key(i, k))
            }
        }
    }

    fn gl_share(&mut self, i: usize, p: &Map<String, Value>) -> Reply {
        let missing: Vec<&str> = ["group_id", "group_access"]
            .into_iter()
            .filter(|k| !p.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            return Reply::json(
                400,
                json!({"error": format!("{} {} missing", missing.join(", "), if missing.len() == 1 { "is" } else { "are" })}),
            );
        }
        let Some(access) = u64_param(p, "group_access").filter(|a| GL_ACCESS_LEVELS.contains(a))
        else {
            return Reply::json(
                400,
                json!({"error": "group_access does not have a valid value"}),
            );
        };
        let Some(group) = str_param(p, "group_id").and_then(|g| gl_group(&g)) else {
            return gitlab_message(404, "404 Group Not Found");
        };
        let r = &self.repos[i];
        // the project's namespace and its ancestors
        if r.owner == ORG && group.0 == ORG_ID {
            return gitlab_message(
                409,
                "Project cannot be shared with the group it is in or one of its ancestors.",
            );
        }
        if r.teams.iter().any(|(n, _)| n == group.1) {
            return gitlab_message(409, "Group already shared with this group");
        }
        let (project_id, link) = (r.id, self.id());
        self.repos[i]
            .teams
            .push((group.1.to_owned(), access.to_string()));
        Reply::json(
            201,
            json!({"id": link, "project_id": project_id, "group_id": group.0, "group_access": access, "expires_at": null}),
        )
    }

    fn gl_add_token(&mut self, i: usize, p: &Map<String, Value>) -> Reply {
        let scopes = list_param(p, "scopes");
        let missing: Vec<&str> = [
            ("name", str_param(p, "name").is_none()),
            ("scopes", scopes.is_empty()),
        ]
        .into_iter()
        .filter_map(|(k, m)| m.then_some(k))
        .collect();
        if !missing.is_empty() {
            return Reply::json(
                400,
                json!({"error": format!("{} {} missing", missing.join(", "), if missing.len() == 1 { "is" } else { "are" })}),
            );
        }
        if scopes
            .iter()
            .any(|s| !GL_TOKEN_SCOPES.contains(&s.as_str()))
        {
            return Reply::json(400, json!({"error": "scopes does not have a valid value"}));
        }
        let id = self.id();
        let token = DeployToken {
            id,
            name: str_param(p, "name").unwrap_or_default(),
            username: str_param(p, "username")
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| format!("gitlab+deploy-token-{id}")),
            token: format!("gldt-{}", random_hex(20)),
            scopes,
            expires_at: str_param(p, "expires_at"),
        };
        let body = gl_token(&token, true);
        self.repos[i].tokens.push(token);
        Reply::json(201, body)
    }

    fn gl_user(&self, private: bool) -> Value {
        let mut v = json!({
            "id": USER_ID,
            "username": USER,
            "name": "Alice",
            "state": "active",
            "locked": false,
            "avatar_url": format!("{}/uploads/-/system/user/avatar/{USER_ID}/avatar.png", self.base),
            "web_url": format!("{}/{USER}", self.base),
        });
        if private && let Value::Object(m) = &mut v {
            m.extend(
                json!({
                    "created_at": gl_time(now()),
                    "bio": "",
                    "public_email": null,
                    "email": "alice@example.com",
                    "is_admin": false,
                    "can_create_group": true,
                    "can_create_project": true,
                    "two_factor_enabled": false,
                    "external": false,
                    "private_profile": false,
                })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            );
        }
        v
    }

    fn gl_group(&self, g: GlGroup) -> Value {
        let (id, name, parent, full) = g;
        json!({
            "id": id,
            "web_url": format!("{}/groups/{full}", self.base),
            "name": name,
            "path": name,
            "description": "",
            "visibility": "private",
            "full_name": full.replace('/', " / "),
            "full_path": full,
            "parent_id": parent,
            "avatar_url": null,
            "created_at": gl_time(now()),
        })
    }

    fn gl_group_namespace(&self, g: GlGroup) -> Value {
        let (id, name, parent, full) = g;
        json!({
            "id": id, "name": name, "path": name, "kind": "group", "full_path": full,
            "parent_id": parent, "avatar_url": null,
            "web_url": format!("{}/groups/{full}", self.base),
        })
    }

    fn gl_namespace(&self, owner: &str) -> Value {
        if owner == USER {
            json!({
                "id": USER_ID, "name": USER, "path": USER, "kind": "user", "full_path": USER,
                "parent_id": null, "avatar_url": null,
                "web_url": format!("{}/{USER}", self.base),
            })
        } else {
            self.gl_group_namespace((ORG_ID, ORG, None, ORG.to_owned()))
        }
    }

    fn gl_project(&self, i: usize) -> Value {
        let r = &self.repos[i];
        let full = r.full_name();
        let web = format!("{}/{full}", self.base);
        let api = format!("{}/api/v4/projects/{}", self.base, r.id);
        let empty = self.is_empty(i);
        let shared: Vec<Value> = r
            .teams
            .iter()
            .filter_map(|(name, access)| {
                let g = gl_group(name)?;
                Some(json!({
                    "group_id": g.0,
                    "group_name": g.1,
                    "group_full_path": g.3,
                    "group_access_level": access.parse::<u64>().unwrap_or(0),
                    "expires_at": null,
                }))
            })
            .collect();
        let first = json!({
            "id": r.id,
            "description": if r.description.is_empty() { Value::Null } else { r.description.clone().into() },
            "name": r.display_name,
            "name_with_namespace": format!("{} / {}", r.owner, r.display_name),
            "path": r.name,
            "path_with_namespace": full,
            "created_at": gl_time(r.created_at),
            "default_branch": r.default_branch,
            "tag_list": [],
            "topics": [],
            "ssh_url_to_repo": self.ssh_url(r),
            "http_url_to_repo": self.http_url(r),
            "web_url": web,
            "readme_url": if empty { Value::Null } else { format!("{web}/-/blob/{}/README.md", r.default_branch).into() },
            "avatar_url": null,
            "forks_count": 0,
            "star_count": 0,
            "last_activity_at": gl_time(r.updated_at),
            "namespace": self.gl_namespace(&r.owner),
            "container_registry_image_prefix": format!("127.0.0.1/{full}"),
            "_links": {
                "self": api,
                "issues": format!("{api}/issues"),
                "merge_requests": format!("{api}/merge_requests"),
                "repo_branches": format!("{api}/repository/branches"),
                "labels": format!("{api}/labels"),
                "events": format!("{api}/events"),
                "members": format!("{api}/members"),
            },
        });
        let features = json!({
            "empty_repo": empty,
            "archived": false,
            "visibility": r.visibility,
            "resolve_outdated_diff_discussions": false,
            "container_registry_enabled": true,
            "issues_enabled": true,
            "merge_requests_enabled": true,
            "wiki_enabled": true,
            "jobs_enabled": true,
            "snippets_enabled": true,
            "shared_runners_enabled": true,
            "lfs_enabled": true,
            "creator_id": USER_ID,
            "import_status": "none",
            "open_issues_count": 0,
            "public_jobs": true,
            "shared_with_groups": shared,
            "only_allow_merge_if_pipeline_succeeds": false,
            "request_access_enabled": true,
            "permissions": if r.owner == USER {
                json!({"project_access": {"access_level": 50, "notification_level": 3}, "group_access": null})
            } else {
                json!({"project_access": null, "group_access": {"access_level": 50, "notification_level": 3}})
            },
        });
        let mut v = merge(first, features);
        if r.owner == USER
            && let Value::Object(m) = &mut v
        {
            m.insert("owner".into(), self.gl_user(false));
        }
        v
    }

    fn gl_key(&self, i: usize, k: usize) -> Value {
        let key = &self.repos[i].keys[k];
        json!({
            "id": key.id,
            "title": key.title,
            "key": key.key,
            "fingerprint": key.fingerprint_md5,
            "fingerprint_sha256": key.fingerprint_sha256,
            "created_at": gl_time(key.created_at),
            "expires_at": null,
            "can_push": !key.read_only,
        })
    }

    // -- Gitea ------------------------------------------------------------------------

    fn gitea(&mut self, m: &str, s: &[&str], p: &Map<String, Value>) -> Reply {
        let repo = |st: &State, o: &str, r: &str| st.find(o, r);
        match (m, s) {
            ("GET", ["user"]) => Reply::json(200, self.gitea_user(USER)),
            ("GET", ["users", u]) if *u == USER => Reply::json(200, self.gitea_user(USER)),
            ("GET", ["orgs", o]) if *o == ORG => Reply::json(200, self.gitea_org()),
            ("GET", ["orgs", o, "teams"]) if *o == ORG => Reply::json(
                200,
                paged(p, TEAMS.iter().map(|t| self.gitea_team(*t)).collect()),
            ),
            ("GET", ["orgs", o, "teams", "search"]) if *o == ORG => {
                let q = str_param(p, "q").unwrap_or_default().to_lowercase();
                let data: Vec<Value> = TEAMS
                    .iter()
                    .filter(|t| t.1.contains(q.as_str()))
                    .map(|t| self.gitea_team(*t))
                    .collect();
                Reply::json(200, json!({"data": data, "ok": true}))
            }
            ("GET", ["teams", id]) => match TEAMS.iter().find(|t| t.0.to_string() == *id) {
                Some(t) => Reply::json(200, self.gitea_team(*t)),
                None => self.gitea_not_found(),
            },
            ("POST", ["user", "repos"]) => self.gitea_create(USER, p),
            ("POST", ["orgs", o, "repos"]) if *o == ORG => self.gitea_create(ORG, p),
            ("GET", ["repos", o, r]) => match repo(self, o, r) {
                Some(i) => Reply::json(200, self.gitea_repo(i)),
                None => self.gitea_not_found(),
            },
            ("PATCH", ["repos", o, r]) => match repo(self, o, r) {
                Some(i) => self.gitea_update(i, p),
                None => self.gitea_not_found(),
            },
            ("DELETE", ["repos", o, r]) => match repo(self, o, r) {
                Some(i) => {
                    self.delete(i);
                    Reply::empty(204)
                }
                None => self.gitea_not_found(),
            },
            ("GET", ["repos", o, r, "keys"]) => match repo(self, o, r) {
                Some(i) => Reply::json(
                    200,
                    paged(
                        p,
                        (0..self.repos[i].keys.len())
                            .map(|k| self.gitea_key(i, k))
                            .collect(),
                    ),
                ),
                None => self.gitea_not_found(),
            },
            ("POST", ["repos", o, r, "keys"]) => match repo(self, o, r) {
                Some(i) => self.gitea_add_key(i, p),
                None => self.gitea_not_found(),
            },
            ("GET", ["repos", o, r, "keys", id]) => {
                match repo(self, o, r).and_then(|i| Some((i, self.key_index(i, id)?))) {
                    Some((i, k)) => Reply::json(200, self.gitea_key(i, k)),
                    None => self.gitea_not_found(),
                }
            }
            ("DELETE", ["repos", o, r, "keys", id]) => {
                match repo(self, o, r).and_then(|i| Some((i, self.key_index(i, id)?))) {
                    Some((i, k)) => {
                        self.repos[i].keys.remove(k);
                        self.sync_ssh();
                        Reply::empty(204)
                    }
                    None => self.gitea_not_found(),
                }
            }
            ("GET", ["repos", o, r, "teams"]) => match repo(self, o, r) {
                Some(i) => {
                    let teams = self.repos[i]
                        .teams
                        .iter()
                        .filter_map(|(n, _)| team_by_name(n))
                        .map(|t| self.gitea_team(t))
                        .collect();
                    Reply::json(200, teams)
                }
                None => self.gitea_not_found(),
            },
            ("GET", ["repos", o, r, "teams", t]) => match (repo(self, o, r), team_by_name(t)) {
                (Some(i), Some(team)) if self.repos[i].teams.iter().any(|(n, _)| n == team.1) => {
                    Reply::json(200, self.gitea_team(team))
                }
                _ => self.gitea_not_found(),
            },
            ("PUT", ["repos", o, r, "teams", t]) => {
                let Some(i) = repo(self, o, r) else {
                    return self.gitea_not_found();
                };
                if self.repos[i].owner != ORG {
                    return self.gitea_error(405, "repo is not owned by an organization");
                }
                let Some(team) = team_by_name(t) else {
                    return self.gitea_error(422, &format!("team does not exist [name: {t}]"));
                };
                if self.repos[i].teams.iter().any(|(n, _)| n == team.1) {
                    return self
                        .gitea_error(422, &format!("team '{}' is already added to repo", team.1));
                }
                self.repos[i]
                    .teams
                    .push((team.1.to_owned(), team.2.to_owned()));
                Reply::empty(204)
            }
            ("DELETE", ["repos", o, r, "teams", t]) => {
                let Some(i) = repo(self, o, r) else {
                    return self.gitea_not_found();
                };
                if self.repos[i].owner != ORG {
                    return self.gitea_error(405, "repo is not owned by an organization");
                }
                let Some(team) = team_by_name(t) else {
                    return self.gitea_error(422, &format!("team does not exist [name: {t}]"));
                };
                let before = self.repos[i].teams.len();
                self.repos[i].teams.retain(|(n, _)| n != team.1);
                if self.repos[i].teams.len() == before {
                    return self
                        .gitea_error(422, &format!("team '{}' was not added to repo", team.1));
                }
                Reply::empty(204)
            }
            ("PUT" | "DELETE", ["teams", id, "repos", org, r]) => {
                let Some(team) = TEAMS.iter().find(|t| t.0.to_string() == *id).copied() else {
                    return self.gitea_not_found();
                };
                let Some(i) = repo(self, org, r).filter(|_| *org == ORG) else {
                    return self.gitea_not_found();
                };
                let teams = &mut self.repos[i].teams;
                teams.retain(|(n, _)| n != team.1);
                if m == "PUT" {
                    teams.push((team.1.to_owned(), team.2.to_owned()));
                }
                Reply::empty(204)
            }
            _ => self.gitea_not_found(),
        }
    }

    fn gitea_swagger(&self) -> String {
        format!("{}/api/swagger", self.base)
    }

    fn gitea_error(&self, status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"message": message, "url": self.gitea_swagger()}),
        )
    }

    fn gitea_not_found(&self) -> Reply {
        Reply::json(
            404,
            json!({"errors": null, "message": "The target couldn't be found.", "url": self.gitea_swagger()}),
        )
    }

    fn gitea_create(&mut self, owner: &str, p: &Map<String, Value>) -> Reply {
        let Some(name) = str_param(p, "name") else {
            return self.gitea_error(422, "[Name]: Required");
        };
        if !valid_name(&name) {
            return self.gitea_error(422, "[Name]: AlphaDashDot");
        }
        if self.find(owner, &name).is_some() {
            return self.gitea_error(409, "The repository with the same name already exists.");
        }
        let branch = str_param(p, "default_branch")
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "main".into());
        if !valid_branch(&branch) {
            return self.gitea_error(422, "invalid default branch");
        }
        let visibility = if bool_param(p, "private").unwrap_or(false) {
            "private"
        } else {
            "public"
        };
        let description = str_param(p, "description").unwrap_or_default();
        let init = bool_param(p, "auto_init").unwrap_or(false);
        match self.create(owner, &name, &name, visibility, &description, &branch, init) {
            Ok(i) => Reply::json(201, self.gitea_repo(i)),
            Err(e) => self.gitea_error(500, &e),
        }
    }

    fn gitea_update(&mut self, i: usize, p: &Map<String, Value>) -> Reply {
        // Gitea changes the default branch only when the repository is empty or the branch
        // exists, and ignores it otherwise.
        if let Some(b) =
            str_param(p, "default_branch").filter(|b| *b != self.repos[i].default_branch)
            && valid_branch(&b)
            && (self.is_empty(i) || self.branch_exists(i, &b))
            && let Err(e) = self.set_default_branch(i, &b)
        {
            return self.gitea_error(500, &e);
        }
        let r = &mut self.repos[i];
        if let Some(private) = bool_param(p, "private") {
            r.visibility = if private { "private" } else { "public" }.to_owned();
        }
        if let Some(d) = str_param(p, "description") {
            r.description = d;
        }
        r.updated_at = now();
        Reply::json(200, self.gitea_repo(i))
    }

    fn gitea_add_key(&mut self, i: usize, p: &Map<String, Value>) -> Reply {
        let Some(text) = str_param(p, "key") else {
            return self.gitea_error(422, "[Key]: Required");
        };
        let Some(title) = str_param(p, "title") else {
            return self.gitea_error(422, "[Title]: Required");
        };
        let Some(parsed) = parse_key(&text) else {
            return self.gitea_error(
                422,
                "Invalid key content: no key found in the given content",
            );
        };
        let r = &self.repos[i];
        if r.keys.iter().any(|k| k.material == parsed.material) {
            return self.gitea_error(422, "This key has already been added to this repository");
        }
        if r.keys.iter().any(|k| k.title == title) {
            return self.gitea_error(422, "A key with the same name already exists");
        }
        let read_only = bool_param(p, "read_only").unwrap_or(false);
        let k = self.add_key(i, title, parsed.material.clone(), &parsed, read_only);
        Reply::json(201, self.gitea_key(i, k))
    }

    fn gitea_user(&self, login: &str) -> Value {
        let created = gitea_time(now());
        json!({
            "id": USER_ID,
            "login": login,
            "login_name": "",
            "source_id": 0,
            "full_name": "Alice",
            "email": "alice@example.com",
            "avatar_url": format!("{}/avatars/{USER_ID}", self.base),
            "html_url": format!("{}/{login}", self.base),
            "language": "en-US",
            "is_admin": false,
            "last_login": created,
            "created": created,
            "restricted": false,
            "active": true,
            "prohibit_login": false,
            "location": "",
            "website": "",
            "description": "",
            "visibility": "public",
            "followers_count": 0,
            "following_count": 0,
            "starred_repos_count": 0,
            "username": login,
        })
    }

    /// An organization as a repository owner (a Gitea `User` object).
    fn gitea_owner(&self, login: &str) -> Value {
        if login == USER {
            return self.gitea_user(USER);
        }
        json!({
            "id": ORG_ID,
            "login": ORG,
            "login_name": "",
            "source_id": 0,
            "full_name": "Acme",
            "email": "",
            "avatar_url": format!("{}/avatars/{ORG_ID}", self.base),
            "html_url": format!("{}/{ORG}", self.base),
            "language": "",
            "is_admin": false,
            "last_login": "0001-01-01T00:00:00Z",
            "created": gitea_time(now()),
            "restricted": false,
            "active": false,
            "prohibit_login": false,
            "location": "",
            "website": "",
            "description": "",
            "visibility": "public",
            "followers_count": 0,
            "following_count": 0,
            "starred_repos_count": 0,
            "username": ORG,
        })
    }

    fn gitea_org(&self) -> Value {
        json!({
            "id": ORG_ID,
            "name": ORG,
            "full_name": "Acme",
            "email": "",
            "avatar_url": format!("{}/avatars/{ORG_ID}", self.base),
            "description": "",
            "website": "",
            "location": "",
            "visibility": "public",
            "repo_admin_change_team_access": true,
            "username": ORG,
        })
    }

    fn gitea_team(&self, (id, name, permission): (u64, &str, &str)) -> Value {
        let units = [
            "repo.code",
            "repo.issues",
            "repo.ext_issues",
            "repo.wiki",
            "repo.ext_wiki",
            "repo.pulls",
            "repo.releases",
            "repo.projects",
            "repo.packages",
            "repo.actions",
        ];
        let units_map: Map<String, Value> = units
            .iter()
            .map(|u| ((*u).to_owned(), Value::from(permission)))
            .collect();
        json!({
            "id": id,
            "name": name,
            "description": "",
            "organization": self.gitea_org(),
            "includes_all_repositories": false,
            "permission": permission,
            "units": units,
            "units_map": units_map,
            "can_create_org_repo": false,
        })
    }

    fn gitea_repo(&self, i: usize) -> Value {
        let r = &self.repos[i];
        let full = r.full_name();
        let html = format!("{}/{full}", self.base);
        let first = json!({
            "id": r.id,
            "owner": self.gitea_owner(&r.owner),
            "name": r.name,
            "full_name": full,
            "description": r.description,
            "empty": self.is_empty(i),
            "private": r.private(),
            "fork": false,
            "template": false,
            "parent": null,
            "mirror": false,
            "size": 0,
            "language": "",
            "languages_url": format!("{}/api/v1/repos/{full}/languages", self.base),
            "html_url": html,
            "url": format!("{}/api/v1/repos/{full}", self.base),
            "link": "",
            "ssh_url": self.ssh_url(r),
            "clone_url": self.http_url(r),
            "original_url": "",
            "website": "",
            "stars_count": 0,
            "forks_count": 0,
            "watchers_count": 1,
            "open_issues_count": 0,
            "open_pr_counter": 0,
            "release_counter": 0,
        });
        let rest = json!({
            "default_branch": r.default_branch,
            "archived": false,
            "created_at": gitea_time(r.created_at),
            "updated_at": gitea_time(r.updated_at),
            "archived_at": "1970-01-01T00:00:00Z",
            "permissions": {"admin": true, "push": true, "pull": true},
            "has_issues": true,
            "internal_tracker": {"enable_time_tracker": true, "allow_only_contributors_to_track_time": true, "enable_issue_dependencies": true},
            "has_wiki": true,
            "wiki_branch": r.default_branch,
            "has_pull_requests": true,
            "has_projects": true,
            "has_releases": true,
            "has_packages": true,
            "has_actions": true,
            "ignore_whitespace_conflicts": false,
            "allow_merge_commits": true,
            "allow_rebase": true,
            "allow_rebase_explicit": true,
            "allow_squash_merge": true,
            "allow_fast_forward_only_merge": true,
            "allow_rebase_update": true,
            "default_delete_branch_after_merge": false,
            "default_merge_style": "merge",
            "default_allow_maintainer_edit": false,
            "avatar_url": "",
            "internal": false,
            "mirror_interval": "",
            "object_format_name": "sha1",
            "mirror_updated": "0001-01-01T00:00:00Z",
            "repo_transfer": null,
            "topics": [],
            "licenses": [],
        });
        merge(first, rest)
    }

    fn gitea_key(&self, i: usize, k: usize) -> Value {
        let r = &self.repos[i];
        let key = &r.keys[k];
        json!({
            "id": key.id,
            "key_id": key.id,
            "key": key.key,
            "url": format!("{}/api/v1/repos/{}/keys/{}", self.base, r.full_name(), key.id),
            "title": key.title,
            "fingerprint": key.fingerprint_sha256,
            "created_at": gitea_time(key.created_at),
            "read_only": key.read_only,
            "repository": self.gitea_repo(i),
        })
    }
}

/// The fields of two JSON objects in one (`json!` has a recursion limit).
fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut a, b) {
        a.extend(b);
    }
    a
}

fn gl_token(t: &DeployToken, with_secret: bool) -> Value {
    let mut v = json!({
        "id": t.id,
        "name": t.name,
        "username": t.username,
        "expires_at": t.expires_at,
        "scopes": t.scopes,
        "revoked": false,
        "expired": false,
    });
    if with_secret && let Value::Object(m) = &mut v {
        m.insert("token".into(), t.token.clone().into());
    }
    v
}

/// A GitLab group: id, path (= name), parent id, full path.
type GlGroup = (u64, &'static str, Option<u64>, String);

fn gl_groups() -> Vec<GlGroup> {
    let mut groups = vec![(ORG_ID, ORG, None, ORG.to_owned())];
    groups.extend(
        TEAMS
            .iter()
            .map(|(id, name, _)| (*id, *name, None, (*name).to_owned())),
    );
    groups
}

/// A GitLab group by id or full path.
fn gl_group(id: &str) -> Option<GlGroup> {
    gl_groups()
        .into_iter()
        .find(|g| g.0.to_string() == id || g.3 == id)
}

fn team_by_name(name: &str) -> Option<(u64, &'static str, &'static str)> {
    TEAMS
        .iter()
        .find(|t| t.1.eq_ignore_ascii_case(name))
        .copied()
}

// ---------------------------------------------------------------------------------------
// HTTP

struct Shared {
    flavor: Flavor,
    state: Arc<Mutex<State>>,
    git: gitops_source::git_server::GitHandler,
}

struct ApiCall {
    method: String,
    path: String,
    query: String,
    authorization: Option<String>,
    private_token: Option<String>,
    content_type: String,
    body: Bytes,
}

struct Reply {
    status: u16,
    body: Option<Value>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
        }
    }

    fn empty(status: u16) -> Reply {
        Reply { status, body: None }
    }

    fn into_response(self) -> Response<Body> {
        let bytes = self
            .body
            .map(|b| serde_json::to_vec(&b).unwrap_or_default())
            .unwrap_or_default();
        let mut r = response(self.status, bytes);
        r.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
        );
        r
    }
}

fn response(status: u16, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

async fn serve(listener: std::net::TcpListener, shared: Arc<Shared>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn handle(sh: Arc<Shared>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let prefix = sh.flavor.api_prefix();
    if path == prefix || path.starts_with(&format!("{prefix}/")) {
        return api(sh, req).await;
    }
    match git_route(&path) {
        Some(route) => git_http(sh, req, route).await,
        None => response(404, "Not Found\n"),
    }
}

async fn api(sh: Arc<Shared>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, 16 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return response(413, "request too large\n"),
    };
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let call = ApiCall {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        authorization: header("authorization"),
        private_token: header("private-token"),
        content_type: header("content-type").unwrap_or_default(),
        body,
    };
    let state = sh.state.clone();
    tokio::task::spawn_blocking(move || {
        state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .api(&call)
    })
    .await
    .unwrap_or_else(|_| Reply::json(500, json!({"message": "Internal Server Error"})))
    .into_response()
}

/// A Git smart-HTTP request: `/<owner>/<repo>[.git]/<info/refs|git-upload-pack|…>`.
struct GitRoute {
    owner: String,
    repo: String,
    /// The path with `.git` after the repository name.
    path: String,
}

fn git_route(path: &str) -> Option<GitRoute> {
    let mut parts = path.strip_prefix('/')?.splitn(3, '/');
    let (owner, repo, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    let known = rest == "info/refs"
        || rest == "git-upload-pack"
        || rest == "git-receive-pack"
        || rest == "HEAD"
        || rest.starts_with("objects/");
    if !known || !valid_name(owner) || !valid_name(repo) || rest.split('/').any(|s| s == "..") {
        return None;
    }
    Some(GitRoute {
        owner: owner.to_owned(),
        repo: repo.to_owned(),
        path: format!("/{owner}/{repo}.git/{rest}"),
    })
}

/// Checks access as the providers do (token as basic-auth password for everything; GitLab
/// deploy tokens by their scopes; anonymous reads of public repositories), then hands the
/// request to `git http-backend`.
async fn git_http(
    sh: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
    route: GitRoute,
) -> Response<Body> {
    let push = route.path.ends_with("/git-receive-pack")
        || req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv == "service=git-receive-pack"));
    let creds = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| {
            let (scheme, value) = a.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then(|| basic_credentials(value.trim()))?
        });
    let realm = sh.flavor.realm();
    let challenge = |msg: &str| {
        let mut r = response(401, format!("{msg}\n"));
        if let Ok(v) = hyper::header::HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
            r.headers_mut().insert("www-authenticate", v);
        }
        r
    };
    {
        let st = sh.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(i) = st.find(&route.owner, &route.repo) else {
            return response(404, "Repository not found.\n");
        };
        let r = &st.repos[i];
        match creds {
            None if r.private() || push => return challenge("Authentication required"),
            None => {}
            Some((user, pass)) => {
                let token_ok = pass == st.token
                    || (user == st.token && (pass.is_empty() || pass == "x-oauth-basic"));
                if !token_ok {
                    let Some(t) = r
                        .tokens
                        .iter()
                        .find(|t| t.username == user && t.token == pass)
                    else {
                        return challenge(match sh.flavor {
                            Flavor::GitHub => {
                                "Invalid username or token. Password authentication is not supported for Git operations."
                            }
                            Flavor::GitLab => {
                                "HTTP Basic: Access denied. If a password was provided for Git authentication, the password was incorrect or you're required to use a token instead of a password."
                            }
                            Flavor::Gitea => "invalid credentials",
                        });
                    };
                    let scope = if push {
                        "write_repository"
                    } else {
                        "read_repository"
                    };
                    if !t.scopes.iter().any(|s| s == scope) {
                        return response(
                            403,
                            "You are not allowed to push code to this project.\n",
                        );
                    }
                }
            }
        }
    }
    let (mut parts, body) = req.into_parts();
    let pq = match parts.uri.query() {
        Some(q) => format!("{}?{q}", route.path),
        None => route.path.clone(),
    };
    if let Ok(uri) = pq.parse() {
        parts.uri = uri;
    }
    sh.git.handle(Request::from_parts(parts, body)).await
}

// ---------------------------------------------------------------------------------------
// SSH

/// Debian's sshd as the user `git` (a copy of the current user under nss_wrapper), its
/// authorized_keys written from the deploy keys; `None` with a message when sshd, ssh or
/// libnss_wrapper is missing.
async fn start_sshd(dir: &Path, root: &Path) -> Option<(SshEndpoint, ChildGuard)> {
    let sshd = Path::new("/usr/sbin/sshd");
    if !sshd.exists() || !have("ssh") || !have("ssh-keygen") {
        eprintln!(
            "skipping SSH: sshd or ssh is not installed (apt-get install openssh-server openssh-client)"
        );
        return None;
    }
    let Some(nss) = find_nss_wrapper() else {
        eprintln!("skipping SSH: libnss_wrapper is not installed (apt-get install libnss-wrapper)");
        return None;
    };
    std::fs::create_dir_all(dir).ok()?;
    ssh_keygen(&dir.join("host"));
    // the user `git`: the current user's uid, gid, home and shell
    let me = String::from_utf8(Command::new("id").arg("-un").output().ok()?.stdout).ok()?;
    let me = me.trim();
    let etc_passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let line = Command::new("getent")
        .args(["passwd", me])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            etc_passwd
                .lines()
                .find(|l| l.split(':').next() == Some(me))
                .map(str::to_owned)
        })?;
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 7 {
        eprintln!("skipping SSH: cannot read the passwd entry of {me}");
        return None;
    }
    let shell = if f[6].ends_with("nologin") || f[6].ends_with("false") || f[6].is_empty() {
        "/bin/sh"
    } else {
        f[6]
    };
    let mut passwd: String = etc_passwd
        .lines()
        .filter(|l| !l.starts_with("git:"))
        .map(|l| format!("{l}\n"))
        .collect();
    passwd.push_str(&format!("git:x:{}:{}:git:{}:{shell}\n", f[2], f[3], f[5]));
    std::fs::write(dir.join("passwd"), passwd).ok()?;
    std::fs::write(
        dir.join("group"),
        std::fs::read_to_string("/etc/group").unwrap_or_default(),
    )
    .ok()?;
    std::fs::write(dir.join("authorized_keys"), "").ok()?;
    write_executable(&dir.join("git-shell"), &git_shell_script(root)).ok()?;
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = free_port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host\nAuthorizedKeysFile {d}/authorized_keys\nAllowUsers git\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nUseDNS no\nPidFile {d}/sshd.pid\nAcceptEnv GIT_PROTOCOL\nSetEnv PATH=/usr/local/bin:/usr/bin:/bin\nLogLevel ERROR\n",
        d = dir.display()
    );
    std::fs::write(dir.join("sshd_config"), config).ok()?;
    let child = Command::new(sshd)
        .args(["-D", "-f"])
        .arg(dir.join("sshd_config"))
        .arg("-E")
        .arg(dir.join("sshd.log"))
        .env("LD_PRELOAD", &nss)
        .env("NSS_WRAPPER_PASSWD", dir.join("passwd"))
        .env("NSS_WRAPPER_GROUP", dir.join("group"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let guard = ChildGuard(child);
    let up = wait_until(Duration::from_secs(10), || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    if up.is_none() {
        eprintln!(
            "skipping SSH: sshd did not start: {}",
            std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
        );
        return None;
    }
    let known_hosts = crate::known_hosts_line(port, &dir.join("host.pub"))?;
    Some((SshEndpoint { port, known_hosts }, guard))
}

fn find_nss_wrapper() -> Option<PathBuf> {
    let direct = Path::new("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so");
    if direct.exists() {
        return Some(direct.to_path_buf());
    }
    for base in ["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib"] {
        let candidate = Path::new(base).join("libnss_wrapper.so");
        if candidate.exists() {
            return Some(candidate);
        }
        for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
            let candidate = entry.path().join("libnss_wrapper.so");
            if candidate.exists() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The forced command of every deploy key: `git-shell <owner>/<repo> ro|rw […]`, the
/// repositories the key opens. Allows git-upload-pack and git-receive-pack (not with a
/// read-only key) on those repositories only; the path is compared, never evaluated.
fn git_shell_script(root: &Path) -> String {
    format!(
        r#"#!/bin/sh
# Forced command of the test server's deploy keys: git-shell <owner>/<repo> ro|rw [...]
set -f
LC_ALL=C
export LC_ALL
root='{root}'
cmd=$SSH_ORIGINAL_COMMAND
case $cmd in
  'git-upload-pack '*) verb=git-upload-pack ;;
  'git-receive-pack '*) verb=git-receive-pack ;;
  *) echo "ERROR: only git-upload-pack and git-receive-pack are allowed" >&2; exit 1 ;;
esac
path=${{cmd#"$verb "}}
path=$(printf '%s' "$path" | tr -d "'\"")
case $path in
  ''|*[!A-Za-z0-9._/-]*) echo "ERROR: Invalid repository path." >&2; exit 1 ;;
esac
path=${{path#/}}
path=${{path%/}}
path=${{path%.git}}
mode=
while [ $# -ge 2 ]; do
  if [ "$1" = "$path" ]; then mode=$2; fi
  shift 2
done
if [ -z "$mode" ]; then
  echo "ERROR: Repository not found." >&2
  exit 1
fi
if [ "$verb" = git-receive-pack ] && [ "$mode" != rw ]; then
  echo "ERROR: The key you are authenticating with has been marked as read only." >&2
  exit 1
fi
exec "$verb" "$root/$path.git"
"#,
        root = root.display()
    )
}

// ---------------------------------------------------------------------------------------
// helpers

fn write_executable(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// Runs git (in `dir` when given) with alice's identity; stdout trimmed, or stderr.
fn run_git(dir: Option<&Path>, args: &[&str], input: Option<&[u8]>) -> Result<String, String> {
    use std::io::Write;
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child = cmd
        .args(args)
        .env("GIT_AUTHOR_NAME", "Alice")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_COMMITTER_NAME", "Alice")
        .env("GIT_COMMITTER_EMAIL", "alice@example.com")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("git: {e}"))?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(data).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `git init --bare -b <branch>`, with one commit holding README.md when `readme` is given.
fn init_bare(dir: &Path, branch: &str, readme: Option<&str>) -> Result<(), String> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    let d = dir.display().to_string();
    run_git(None, &["init", "--bare", "-q", "-b", branch, &d], None)?;
    if let Some(text) = readme {
        let blob = run_git(
            Some(dir),
            &["hash-object", "-w", "--stdin"],
            Some(text.as_bytes()),
        )?;
        let tree = run_git(
            Some(dir),
            &["mktree"],
            Some(format!("100644 blob {blob}\tREADME.md\n").as_bytes()),
        )?;
        let commit = run_git(
            Some(dir),
            &["commit-tree", &tree, "-m", "Initial commit"],
            None,
        )?;
        run_git(
            Some(dir),
            &["update-ref", &format!("refs/heads/{branch}"), &commit],
            None,
        )?;
    }
    Ok(())
}

/// Owner and repository names: letters, digits, `.`, `_`, `-`; not `.`/`..`, not ending
/// in `.git`.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && !s.ends_with(".git")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn valid_branch(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b))
        && !s.contains("..")
        && !s.contains("//")
        && !s.starts_with(['/', '-', '.'])
        && !s.ends_with(['/', '.'])
        && !s.ends_with(".lock")
}

struct ParsedKey {
    /// `<type> <base64>`.
    material: String,
    blob: Vec<u8>,
}

impl ParsedKey {
    fn fingerprint_sha256(&self) -> String {
        use sha2::Digest;
        format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode(sha2::Sha256::digest(&self.blob))
        )
    }

    fn fingerprint_md5(&self) -> String {
        openssl::hash::hash(openssl::hash::MessageDigest::md5(), &self.blob)
            .map(|d| {
                d.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            })
            .unwrap_or_default()
    }
}

/// An OpenSSH public key `<type> <base64> [comment]` whose blob names the same type.
fn parse_key(text: &str) -> Option<ParsedKey> {
    let mut fields = text.split_whitespace();
    let (kind, data) = (fields.next()?, fields.next()?);
    if !KEY_TYPES.contains(&kind) {
        return None;
    }
    let blob = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    let n = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    if blob.get(4..4 + n)? != kind.as_bytes() {
        return None;
    }
    Some(ParsedKey {
        material: format!("{kind} {data}"),
        blob,
    })
}

/// The user and password of a basic-auth value (base64).
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':').unwrap_or((&text, ""));
    Some((u.to_owned(), p.to_owned()))
}

/// Query parameters, then the body (JSON, or form-encoded), as one map: GitLab's API takes
/// parameters from either; `a[]=x` form keys collect into arrays.
fn params(c: &ApiCall) -> Map<String, Value> {
    fn form(m: &mut Map<String, Value>, text: &str) {
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            let (k, v) = (decode(k), decode(v));
            match k.strip_suffix("[]") {
                Some(base) => {
                    let entry = m
                        .entry(base.to_owned())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = entry {
                        a.push(v.into());
                    }
                }
                None => {
                    m.insert(k, v.into());
                }
            }
        }
    }
    let mut m = Map::new();
    form(&mut m, &c.query);
    if c.content_type
        .starts_with("application/x-www-form-urlencoded")
    {
        form(&mut m, &String::from_utf8_lossy(&c.body));
    } else if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(&c.body) {
        m.extend(o);
    }
    m
}

fn str_param(p: &Map<String, Value>, k: &str) -> Option<String> {
    match p.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn bool_param(p: &Map<String, Value>, k: &str) -> Option<bool> {
    match p.get(k)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "true" | "1" | "yes" | "t" => Some(true),
            "false" | "0" | "no" | "f" => Some(false),
            _ => None,
        },
        Value::Number(n) => Some(n.as_u64()? != 0),
        _ => None,
    }
}

fn u64_param(p: &Map<String, Value>, k: &str) -> Option<u64> {
    match p.get(k)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn list_param(p: &Map<String, Value>, k: &str) -> Vec<String> {
    match p.get(k) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// A list endpoint's page: everything on page 1, nothing after (no Link headers are sent).
fn paged(p: &Map<String, Value>, items: Vec<Value>) -> Value {
    if u64_param(p, "page").unwrap_or(1) > 1 {
        Value::Array(Vec::new())
    } else {
        Value::Array(items)
    }
}

fn github_error(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
    )
}

/// GitHub's 422 "Validation Failed" with one error object.
fn github_validation(resource: &str, field: &str, code: &str, message: Option<&str>) -> Reply {
    let mut error = json!({"resource": resource, "code": code, "field": field});
    if let (Some(m), Value::Object(o)) = (message, &mut error) {
        o.insert("message".into(), m.into());
    }
    Reply::json(
        422,
        json!({"message": "Validation Failed", "errors": [error], "documentation_url": "https://docs.github.com/rest", "status": "422"}),
    )
}

fn gitlab_message(status: u16, message: &str) -> Reply {
    Reply::json(status, json!({"message": message}))
}

fn node_id(kind: &str, id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{kind}{id}", kind.len()))
}

fn now() -> jiff::Timestamp {
    let t = jiff::Timestamp::now();
    jiff::Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// `2024-01-02T03:04:05Z`.
fn gh_time(t: jiff::Timestamp) -> String {
    t.to_string()
}

/// `2024-01-02T03:04:05.000Z`.
fn gl_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `2024-01-02T03:04:05Z` (Gitea answers in the server's zone; this one runs in UTC).
fn gitea_time(t: jiff::Timestamp) -> String {
    t.to_string()
}

/// `n` hexadecimal characters, unpredictable enough for test tokens.
fn random_hex(n: usize) -> String {
    use sha2::Digest;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::new();
    while out.len() < n {
        let seed = format!(
            "{:?} {} {} {}",
            std::time::SystemTime::now(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            out.len()
        );
        out.push_str(&hex::encode(sha2::Sha256::digest(seed.as_bytes())));
    }
    out.truncate(n);
    out
}
