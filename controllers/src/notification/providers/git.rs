//! Git hosting services: commit statuses (GitHub, GitLab, Gitea, Bitbucket Cloud,
//! Bitbucket Server/Data Center, Azure DevOps) and GitHub repository dispatches.
//!
//! Every commit-status type skips `Progressing` events (but Gitea, which posts them as
//! `pending`), takes the commit from the event's revision, and first reads the
//! existing statuses so an unchanged status is not posted again.

use super::format::{name_and_description, parts};
use super::http::{Http, Req, basic_auth, redact};
use super::incident::PROGRESSING;
use super::{ProviderConfig, ProviderError};
use gitops_api::event::{Event, SEVERITY_ERROR, SEVERITY_INFO};
use serde::Deserialize;
use serde_json::{Value, json};
use sha1::Digest;

const GITHUB_API: &str = "https://api.github.com";
const BITBUCKET_API: &str = "https://api.bitbucket.org/2.0";
const AZURE_DEVOPS_API_VERSION: &str = "6.0-preview.1";

/// A repository address taken apart like Flux's `parseGitAddress`.
#[derive(Debug, PartialEq)]
pub(super) struct GitAddress {
    /// `<scheme>://<host>[:<port>]`; SSH addresses become `https://<host>`.
    pub host: String,
    /// The host name alone.
    pub hostname: String,
    /// The repository path without leading `/` and trailing `.git` (`owner/repo`,
    /// `group/subgroup/repo`, `org/project/_git/repo`).
    pub id: String,
}

/// Parses `https://host/owner/repo(.git)`, `ssh://git@host(:port)/owner/repo(.git)` and
/// `git@host:owner/repo(.git)`.
pub(super) fn parse_git_address(address: &str) -> Result<GitAddress, ProviderError> {
    let s = address.trim();
    if s.is_empty() {
        return Err(ProviderError::new("the Git repository address is empty"));
    }
    let bad = || {
        ProviderError(format!(
            "failed parsing Git repository address {:?}",
            redact(s)
        ))
    };
    let (host, hostname, path) = if s.contains("://") {
        let u = reqwest::Url::parse(s).map_err(|_| bad())?;
        let hostname = u.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        let (scheme, port) = match u.scheme() {
            "ssh" | "git+ssh" | "ssh+git" => ("https", None),
            s => (s, u.port()),
        };
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        (
            format!("{scheme}://{hostname}{port}"),
            hostname.to_owned(),
            u.path().to_owned(),
        )
    } else {
        // scp-like: [user@]host:path
        let (user_host, path) = s.split_once(':').ok_or_else(bad)?;
        let hostname = user_host.rsplit_once('@').map_or(user_host, |(_, h)| h);
        if hostname.is_empty() || hostname.contains('/') || path.is_empty() {
            return Err(bad());
        }
        (
            format!("https://{hostname}"),
            hostname.to_owned(),
            path.to_owned(),
        )
    };
    let id = path.trim_start_matches('/');
    let id = id.strip_suffix(".git").unwrap_or(id).to_owned();
    Ok(GitAddress { host, hostname, id })
}

/// The commit hash of a Flux revision (`main@sha1:<hash>`, `sha1:<hash>`,
/// `main/<hash>`, `<hash>`): 40 hex digits, like Flux's `parseRevision`.
pub(super) fn parse_revision(rev: &str) -> Result<String, ProviderError> {
    let hash = match rev.rfind(':') {
        Some(i) => &rev[i + 1..],
        None => rev.rsplit('/').next().unwrap_or(rev),
    };
    if hash.len() != 40 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ProviderError(format!(
            "failed to extract commit hash from '{rev}' revision"
        )));
    }
    Ok(hash.to_owned())
}

/// The event's commit (`commit`, else `originRevision`, else `revision` metadata).
fn commit_of(event: &Event) -> Result<String, ProviderError> {
    let rev = event
        .revision()
        .ok_or_else(|| ProviderError::new("missing revision metadata"))?;
    parse_revision(rev)
}

fn owner_repo(id: &str) -> Result<(String, String), ProviderError> {
    match id.split('/').collect::<Vec<_>>().as_slice() {
        [o, r] if !o.is_empty() && !r.is_empty() => Ok(((*o).to_owned(), (*r).to_owned())),
        _ => Err(ProviderError(format!("invalid repository id '{id}'"))),
    }
}

fn bitbucket_credentials(token: &str) -> Result<(&str, &str), ProviderError> {
    match token.split(':').collect::<Vec<_>>().as_slice() {
        [u, p] => Ok((u, p)),
        _ => Err(ProviderError::new(
            "invalid token format, expected to be <user>:<password>",
        )),
    }
}

fn azure_parts(id: &str) -> Result<(String, String, String), ProviderError> {
    match id.split('/').collect::<Vec<_>>().as_slice() {
        [org, proj, _, repo] => Ok(((*org).to_owned(), (*proj).to_owned(), (*repo).to_owned())),
        _ => Err(ProviderError(format!("invalid repository id '{id}'"))),
    }
}

/// The validation of the Git types (token and repository address).
pub(super) fn check(cfg: &ProviderConfig) -> Result<(), ProviderError> {
    match cfg.type_.as_str() {
        "github" | "githubdispatch" => {
            github_token(cfg)?;
            owner_repo(&parse_git_address(&cfg.address)?.id)?;
        }
        "gitlab" => {
            if cfg.token_or_password().is_empty() {
                return Err(ProviderError::new("gitlab token cannot be empty"));
            }
            if parse_git_address(&cfg.address)?.id.is_empty() {
                return Err(ProviderError::new("invalid repository id ''"));
            }
        }
        "gitea" => {
            if cfg.token_or_password().is_empty() {
                return Err(ProviderError::new("gitea token cannot be empty"));
            }
            owner_repo(&parse_git_address(&cfg.address)?.id)?;
        }
        "bitbucket" => {
            if cfg.token.is_empty() {
                return Err(ProviderError::new("bitbucket token cannot be empty"));
            }
            let a = parse_git_address(&cfg.address)?;
            bitbucket_credentials(&cfg.token)?;
            owner_repo(&a.id)?;
        }
        "bitbucketserver" => {
            bitbucket_server_url(&cfg.address)?;
            if cfg.token.is_empty() && (cfg.username.is_empty() || cfg.password.is_empty()) {
                return Err(ProviderError::new(
                    "invalid credentials, expected to be one of username/password or API Token",
                ));
            }
        }
        "azuredevops" => {
            if cfg.token.is_empty() {
                return Err(ProviderError::new(
                    "azure devops token cannot be empty (workload identity is not supported)",
                ));
            }
            azure_parts(&parse_git_address(&cfg.address)?.id)?;
        }
        other => return Err(super::unsupported(other)),
    }
    Ok(())
}

fn require_commit_status(cfg: &ProviderConfig) -> Result<&str, ProviderError> {
    if cfg.commit_status.is_empty() {
        Err(ProviderError::new("commit status cannot be empty"))
    } else {
        Ok(&cfg.commit_status)
    }
}

/// `info` → `ok`, `error` → `failed`, anything else an error naming the service.
fn state<'a>(
    event: &Event,
    ok: &'a str,
    failed: &'a str,
    service: &str,
) -> Result<&'a str, ProviderError> {
    match event.severity.as_str() {
        SEVERITY_INFO => Ok(ok),
        SEVERITY_ERROR => Ok(failed),
        _ => Err(ProviderError(format!("can't convert to {service} state"))),
    }
}

fn prefixed(prefix: &str) -> impl Fn(ProviderError) -> ProviderError + '_ {
    move |e| ProviderError(format!("{prefix}: {e}"))
}

// ---------------------------------------------------------------------------- GitHub

struct GitHubRepo {
    api: String,
    owner: String,
    repo: String,
}

fn github_token(cfg: &ProviderConfig) -> Result<&str, ProviderError> {
    let token = cfg.token_or_password();
    if !token.is_empty() {
        return Ok(token);
    }
    if cfg.secret_data.contains_key("githubAppID") {
        return Err(ProviderError::new(
            "GitHub App authentication is not supported, use a token",
        ));
    }
    Err(ProviderError::new(
        "github token or github app details must be specified",
    ))
}

/// github.com repositories use `https://api.github.com`; others are GitHub Enterprise
/// Server at `<host>/api/v3`.
fn github_repo(cfg: &ProviderConfig) -> Result<GitHubRepo, ProviderError> {
    let a = parse_git_address(&cfg.address)?;
    let (owner, repo) = owner_repo(&a.id)?;
    let api = if a.hostname == "github.com" {
        cfg.api_base.as_deref().unwrap_or(GITHUB_API).to_owned()
    } else {
        format!("{}/api/v3", a.host)
    };
    Ok(GitHubRepo {
        api: api.trim_end_matches('/').to_owned(),
        owner,
        repo,
    })
}

fn github_req(req: Req, token: &str) -> Req {
    req.header("Accept", "application/vnd.github.v3+json")
        .header("User-Agent", "go-github/v64.0.0")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .bearer(token)
}

/// `github`: `POST /repos/<o>/<r>/statuses/<sha>` with `context` the commit status key,
/// unless the latest status of that context has the same state and description.
pub(super) async fn github(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let id = require_commit_status(cfg)?;
    if event.reason == PROGRESSING {
        return Ok(());
    }
    let token = github_token(cfg)?;
    let gh = github_repo(cfg)?;
    let sha = commit_of(event)?;
    let state = state(event, "success", "failure", "github")?;
    let (_, desc) = name_and_description(event);
    let base = format!("{}/repos/{}/{}", gh.api, gh.owner, gh.repo);

    let list = github_req(
        Req::get(format!("{base}/commits/{sha}/statuses?per_page=50")),
        token,
    );
    let statuses: Vec<Value> = http
        .send_ok(&list)
        .await
        .and_then(|r| r.json())
        .map_err(prefixed("could not list commit statuses"))?;
    if latest_matches(&statuses, false, id, state, &desc) {
        return Ok(());
    }
    let status = json!({"state": state, "context": id, "description": desc});
    let create = github_req(
        Req::post_json(format!("{base}/statuses/{sha}"), &status)?,
        token,
    );
    http.send_ok(&create)
        .await
        .map(drop)
        .map_err(prefixed("could not create commit status"))
}

/// Whether the first status (newest first) of context `id` has `state` and `desc`;
/// statuses lacking a context, state or description are passed over (Gitea's check
/// also passes over empty ones).
fn latest_matches(statuses: &[Value], skip_empty: bool, id: &str, state: &str, desc: &str) -> bool {
    let text = |s: &Value, k: &str| s.get(k).and_then(Value::as_str).map(str::to_owned);
    for s in statuses {
        let (Some(c), Some(st), Some(d)) =
            (text(s, "context"), text(s, "state"), text(s, "description"))
        else {
            continue;
        };
        if skip_empty && (c.is_empty() || st.is_empty() || d.is_empty()) {
            continue;
        }
        if c == id {
            return st == state && d == desc;
        }
    }
    false
}

/// `githubdispatch`: `POST /repos/<o>/<r>/dispatches` with `event_type`
/// `<Kind>/<name>.<namespace>` and the event as `client_payload`.
pub(super) async fn github_dispatch(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let token = github_token(cfg)?;
    let gh = github_repo(cfg)?;
    let (kind, name, ns) = parts(event);
    let payload = json!({
        "event_type": format!("{kind}/{name}.{ns}"),
        "client_payload": event,
    });
    let url = format!("{}/repos/{}/{}/dispatches", gh.api, gh.owner, gh.repo);
    let req = github_req(Req::post_json(url, &payload)?, token);
    http.send_ok(&req).await.map(drop).map_err(prefixed(
        "could not send github repository dispatch webhook",
    ))
}

// ---------------------------------------------------------------------------- GitLab

/// `gitlab`: `POST /api/v4/projects/<url-encoded path>/statuses/<sha>` (`PRIVATE-TOKEN`),
/// unless a status of that name with the same state and description exists.
pub(super) async fn gitlab(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let id = require_commit_status(cfg)?;
    if event.reason == PROGRESSING {
        return Ok(());
    }
    let token = cfg.token_or_password();
    let a = parse_git_address(&cfg.address)?;
    let sha = commit_of(event)?;
    let state = state(event, "success", "failed", "gitlab")?;
    let (_, desc) = name_and_description(event);
    let project = a.id.replace('/', "%2F");
    let base = format!("{}/api/v4/projects/{project}", a.host);

    let mut list_url = reqwest::Url::parse(&format!("{base}/repository/commits/{sha}/statuses"))
        .map_err(|_| ProviderError::new("invalid GitLab address"))?;
    list_url.query_pairs_mut().append_pair("name", id);
    let list = Req::get(list_url.to_string()).auth_header("PRIVATE-TOKEN", token);
    let statuses: Vec<Value> = http
        .send_ok(&list)
        .await
        .and_then(|r| r.json())
        .map_err(prefixed("unable to list commit status"))?;
    let text = |s: &Value, k: &str| {
        s.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let dupe = statuses.iter().any(|s| {
        text(s, "sha") == sha
            && text(s, "status") == state
            && text(s, "description") == desc
            && text(s, "name") == id
    });
    if dupe {
        return Ok(());
    }
    let body = json!({"state": state, "name": id, "description": desc});
    let create = Req::post_json(format!("{base}/statuses/{sha}"), &body)?
        .auth_header("PRIVATE-TOKEN", token);
    http.send_ok(&create)
        .await
        .map(drop)
        .map_err(prefixed("unable to set commit status"))
}

// ----------------------------------------------------------------------------- Gitea

/// `gitea`: `POST /api/v1/repos/<o>/<r>/statuses/<sha>` (`Authorization: token …`);
/// progressing events are `pending`.
pub(super) async fn gitea(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let id = require_commit_status(cfg)?;
    let token = cfg.token_or_password();
    let a = parse_git_address(&cfg.address)?;
    let (owner, repo) = owner_repo(&a.id)?;
    let sha = commit_of(event)?;
    let state = if event.reason == PROGRESSING {
        "pending"
    } else {
        state(event, "success", "failure", "gitea")?
    };
    let (_, desc) = name_and_description(event);
    let base = format!("{}/api/v1/repos/{owner}/{repo}", a.host);
    let auth = format!("token {token}");

    let list = Req::get(format!("{base}/commits/{sha}/statuses?page=0&limit=50"))
        .auth_header("Authorization", &auth);
    let statuses: Vec<Value> = http
        .send_ok(&list)
        .await
        .and_then(|r| r.json())
        .map_err(prefixed("could not list commit statuses"))?;
    if latest_matches(&statuses, true, id, state, &desc) {
        return Ok(());
    }
    let body = json!({"state": state, "target_url": "", "description": desc, "context": id});
    let create = Req::post_json(format!("{base}/statuses/{sha}"), &body)?
        .auth_header("Authorization", &auth);
    http.send_ok(&create)
        .await
        .map(drop)
        .map_err(prefixed("could not create commit status"))
}

// ------------------------------------------------------------------- Bitbucket Cloud

/// `bitbucket`: `POST /2.0/repositories/<o>/<r>/commit/<sha>/statuses/build` on
/// `api.bitbucket.org` (basic auth from the `user:password` token), keyed by the SHA-1 of
/// the commit status; skipped when the status of that key has the same state and
/// description.
pub(super) async fn bitbucket(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let id = require_commit_status(cfg)?;
    if event.reason == PROGRESSING {
        return Ok(());
    }
    let (user, password) = bitbucket_credentials(&cfg.token)?;
    let (owner, repo) = owner_repo(&parse_git_address(&cfg.address)?.id)?;
    let sha = commit_of(event)?;
    let state = state(event, "SUCCESSFUL", "FAILED", "bitbucket")?;
    let (name, desc) = name_and_description(event);
    let key = hex::encode(sha1::Sha1::digest(id.as_bytes()));
    let api = cfg.api_base.as_deref().unwrap_or(BITBUCKET_API);
    let base = format!(
        "{}/repositories/{owner}/{repo}/commit/{sha}/statuses/build",
        api.trim_end_matches('/')
    );

    let get = Req::get(format!("{base}/{key}")).basic(user, password);
    let existing = http
        .send(&get)
        .await
        .map_err(prefixed("could not get commit status"))?;
    if existing.status != 404 {
        let existing = existing
            .check()
            .map_err(prefixed("could not get commit status"))?;
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Status {
            state: String,
            description: String,
        }
        let s: Status = existing.json().unwrap_or_default();
        if s.state == state && s.description == desc {
            return Ok(());
        }
    }
    let body = json!({
        "key": key,
        "url": "https://bitbucket.org",
        "state": state,
        "name": name,
        "description": desc,
    });
    let create = Req::post_json(base, &body)?.basic(user, password);
    http.send_ok(&create)
        .await
        .map(drop)
        .map_err(prefixed("could not create commit status"))
}

// ------------------------------------------------------------------ Bitbucket Server

/// The commits endpoint of a Bitbucket Server clone URL
/// (`https://host[/context]/scm/<project>/<repo>.git`, or a browse URL
/// `…/projects/<project>/repos/<repo>`):
/// `https://host[/context]/rest/api/latest/projects/<project>/repos/<repo>/commits`.
fn bitbucket_server_url(address: &str) -> Result<String, ProviderError> {
    let bad = |why: &str| ProviderError(format!("could not parse git address: {why}"));
    let u = reqwest::Url::parse(address.trim()).map_err(|_| bad("not a URL"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad(&format!(
            "unsupported scheme type in address: {}. Must be http or https",
            u.scheme()
        )));
    }
    let path = u.path().trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (context, project, repo) = if let Some(i) = path.rfind("/scm/") {
        let id = &path[i + "/scm/".len()..];
        match id.split('/').collect::<Vec<_>>().as_slice() {
            [p, r] if !p.is_empty() && !r.is_empty() => (&path[..i], *p, *r),
            _ => return Err(bad(&format!("invalid repository id {id:?}"))),
        }
    } else if let Some(i) = path.rfind("/projects/") {
        let rest = &path[i + "/projects/".len()..];
        match rest.split('/').collect::<Vec<_>>().as_slice() {
            [p, "repos", r, ..] if !p.is_empty() && !r.is_empty() => (&path[..i], *p, *r),
            _ => {
                return Err(bad(
                    "supplied provider address is not http(s) git clone url",
                ));
            }
        }
    } else {
        return Err(bad(
            "supplied provider address is not http(s) git clone url",
        ));
    };
    let host = u.host_str().unwrap_or_default();
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    Ok(format!(
        "{}://{host}{port}{context}/rest/api/latest/projects/{project}/repos/{repo}/commits",
        u.scheme()
    ))
}

fn http_status_text(code: u16) -> &'static str {
    reqwest::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// `bitbucketserver`: `POST …/commits/<sha>/builds` (bearer token, or basic auth with
/// username and password), name `<kind>/<name> [<description>]`, keyed by the SHA-1 of
/// the commit status; skipped when the build status of that key is the same.
pub(super) async fn bitbucket_server(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let id = require_commit_status(cfg)?;
    if event.reason == PROGRESSING {
        return Ok(());
    }
    let commits = bitbucket_server_url(&cfg.address)?;
    let sha = commit_of(event).map_err(prefixed("could not parse revision"))?;
    let state = match event.severity.as_str() {
        SEVERITY_INFO => "SUCCESSFUL",
        SEVERITY_ERROR => "FAILED",
        _ => {
            return Err(ProviderError::new(
                "couldn't convert to bitbucket server state: bitbucket server state generated on info or error events only",
            ));
        }
    };
    let (name, desc) = name_and_description(event);
    let name = format!("{name} [{desc}]");
    let key = hex::encode(sha1::Sha1::digest(id.as_bytes()));
    let url = format!("{commits}/{sha}/builds");
    let common = |req: Req| {
        let req = req
            .header("x-atlassian-token", "no-check")
            .header("x-requested-with", "XMLHttpRequest");
        if cfg.token.is_empty() {
            req.auth_header(
                "Authorization",
                format!("Basic {}", basic_auth(&cfg.username, &cfg.password)),
            )
        } else {
            req.bearer(&cfg.token)
        }
    };

    let mut get_url = reqwest::Url::parse(&url)
        .map_err(|_| ProviderError::new("invalid Bitbucket Server address"))?;
    get_url.query_pairs_mut().append_pair("key", &key);
    let existing = http.send(&common(Req::get(get_url.to_string()))).await.map_err(
        prefixed("could not get existing commit status: failed api call to check duplicate commit status"),
    )?;
    if existing.status > 399 && existing.status != 404 {
        return Err(ProviderError(format!(
            "could not get existing commit status: failed api call to check duplicate commit status: {} - {}",
            existing.status,
            http_status_text(existing.status)
        )));
    }
    if existing.status == 200 {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Build {
            key: String,
            state: String,
            description: String,
            name: String,
        }
        let b: Build = existing.json().map_err(prefixed(
            "could not get existing commit status: could not unmarshal json response body for duplicate commit status",
        ))?;
        if b.key == key && b.state == state && b.description == desc && b.name == name {
            return Ok(());
        }
    }
    let mut body = serde_json::Map::new();
    body.insert("key".into(), json!(key));
    body.insert("state".into(), json!(state));
    body.insert("url".into(), json!(cfg.address.trim()));
    if !desc.is_empty() {
        body.insert("description".into(), json!(desc));
    }
    body.insert("name".into(), json!(name));
    let reply = http
        .send(&common(Req::post_json(&url, &body)?))
        .await
        .map_err(prefixed("could not post build status"))?;
    if reply.status > 399 {
        return Err(ProviderError(format!(
            "could not post build status: could not post build commit status: {} - {}",
            reply.status,
            http_status_text(reply.status)
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------- Azure DevOps

/// `azuredevops`: `POST <org>/<project>/_apis/git/repositories/<repo>/commits/<sha>/statuses`
/// (basic auth with the PAT), context genre `fluxcd` (`fluxcd:<summary>` with a summary)
/// and name the commit status key; skipped when the latest status of that context is
/// the same.
pub(super) async fn azure_devops(
    http: &Http,
    cfg: &ProviderConfig,
    event: &Event,
) -> Result<(), ProviderError> {
    let id = require_commit_status(cfg)?;
    if event.reason == PROGRESSING {
        return Ok(());
    }
    let a = parse_git_address(&cfg.address)?;
    let (org, project, repo) = azure_parts(&a.id)?;
    let sha = commit_of(event)?;
    let state = state(event, "succeeded", "error", "azure devops")?;
    let genre = match event.metadata.get("summary") {
        Some(s) => format!("fluxcd:{s}"),
        None => "fluxcd".to_owned(),
    };
    let (_, desc) = name_and_description(event);
    let url = format!(
        "{}/{org}/{project}/_apis/git/repositories/{repo}/commits/{sha}/statuses?api-version={AZURE_DEVOPS_API_VERSION}",
        a.host
    );
    let auth = |req: Req| {
        req.header(
            "Accept",
            format!("application/json;api-version={AZURE_DEVOPS_API_VERSION}"),
        )
        .auth_header(
            "Authorization",
            format!("Basic {}", basic_auth("", &cfg.token)),
        )
    };

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Statuses {
        value: Vec<Value>,
    }
    let statuses: Statuses = http
        .send_ok(&auth(Req::get(&url)))
        .await
        .and_then(|r| r.json())
        .map_err(prefixed("could not list commit statuses"))?;
    let dupe = statuses.value.iter().find_map(|s| {
        let ctx = s.get("context")?;
        let name = ctx.get("name")?.as_str()?;
        let g = ctx.get("genre")?.as_str()?;
        let st = s.get("state")?.as_str()?;
        let d = s.get("description")?.as_str()?;
        (name == id && g == genre).then(|| st == state && d == desc)
    });
    if dupe == Some(true) {
        return Ok(());
    }
    let body = json!({
        "state": state,
        "description": desc,
        "context": {"genre": genre, "name": id},
    });
    http.send_ok(&auth(Req::post_json(&url, &body)?))
        .await
        .map(drop)
        .map_err(prefixed("could not create commit status"))
}
