//! github, githubdispatch, gitlab, gitea, bitbucket, bitbucketserver, azuredevops, and
//! the Git address and revision parsers.

use super::*;
use crate::notification::providers::git::{GitAddress, parse_git_address, parse_revision};
use serde_json::json;

const STATUS_ID: &str = "kustomization/webapp/0c9c2e41";

/// Answers GETs with `list` and other requests 201 `{}`.
async fn git_server(list: Value) -> TestServer {
    let list = list.to_string();
    TestServer::start(move |r, _| {
        if r.method == "GET" {
            (200, vec![], list.clone())
        } else {
            (201, vec![], "{}".to_owned())
        }
    })
    .await
}

use serde_json::Value;

#[test]
fn parses_git_addresses() {
    let p = |s: &str| {
        let GitAddress { host, id, .. } = parse_git_address(s).unwrap();
        (host, id)
    };
    let pair = |h: &str, i: &str| (h.to_owned(), i.to_owned());
    assert_eq!(
        p("https://github.com/foo/bar"),
        pair("https://github.com", "foo/bar")
    );
    assert_eq!(
        p("https://gitlab.com/foo/bar.git"),
        pair("https://gitlab.com", "foo/bar")
    );
    assert_eq!(
        p("git@gitlab.com:foo/bar.git"),
        pair("https://gitlab.com", "foo/bar")
    );
    assert_eq!(
        p("ssh://git@github.com/stefanprodan/podinfo"),
        pair("https://github.com", "stefanprodan/podinfo")
    );
    assert_eq!(
        p("ssh://git@host:2222/a/b.git"),
        pair("https://host", "a/b")
    );
    assert_eq!(
        p("https://gitlab.com/foo/bar/foo.git"),
        pair("https://gitlab.com", "foo/bar/foo")
    );
    assert_eq!(
        p("http://127.0.0.1:3000/o/r"),
        pair("http://127.0.0.1:3000", "o/r")
    );
    assert_eq!(
        p("https://user:pw@dev.azure.com/org/proj/_git/repo"),
        pair("https://dev.azure.com", "org/proj/_git/repo")
    );
    assert!(parse_git_address("").is_err());
    assert!(parse_git_address("not an address").is_err());
}

#[test]
fn parses_revisions() {
    for rev in [
        format!("sha1:{SHA}"),
        format!("main@sha1:{SHA}"),
        format!("environment/dev@sha1:{SHA}"),
        format!("master/{SHA}"),
        format!("environment/dev/{SHA}"),
        SHA.to_owned(),
    ] {
        assert_eq!(parse_revision(&rev).unwrap(), SHA, "{rev}");
    }
    let err = parse_revision("master").unwrap_err().to_string();
    assert_eq!(err, "failed to extract commit hash from 'master' revision");
    assert!(parse_revision("v1@sha256:abc").is_err());
}

#[tokio::test]
async fn github_enterprise_posts_a_status() {
    let srv = git_server(json!([])).await;
    let cfg = git_config("github", &format!("{}/foo/bar.git", srv.url));
    assert_eq!(cfg.commit_status, STATUS_ID);
    send(&cfg, &error_event()).await.unwrap();
    let r = srv.requests();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].method, "GET");
    assert_eq!(
        r[0].path_and_query(),
        format!("/api/v3/repos/foo/bar/commits/{SHA}/statuses?per_page=50")
    );
    assert_eq!(r[1].method, "POST");
    assert_eq!(r[1].path, format!("/api/v3/repos/foo/bar/statuses/{SHA}"));
    for x in &r {
        assert_eq!(x.header("authorization"), format!("Bearer {TOKEN}"));
        assert_eq!(x.header("accept"), "application/vnd.github.v3+json");
    }
    assert_eq!(
        r[1].json(),
        json!({"state": "failure", "context": STATUS_ID, "description": "health check failed"})
    );
}

#[tokio::test]
async fn github_skips_an_unchanged_status() {
    let srv = git_server(json!([
        {"context": "other", "state": "success", "description": "x"},
        {"context": STATUS_ID, "state": "success", "description": "reconciliation succeeded"},
        {"context": STATUS_ID, "state": "failure", "description": "health check failed"},
    ]))
    .await;
    let cfg = git_config("github", &format!("{}/foo/bar", srv.url));
    send(&cfg, &info_event()).await.unwrap();
    assert_eq!(srv.requests().len(), 1);
    // A different state is posted.
    send(&cfg, &error_event()).await.unwrap();
    assert_eq!(srv.requests().len(), 3);
}

#[tokio::test]
async fn github_com_uses_the_api_host_and_the_commit_key() {
    let srv = git_server(json!([])).await;
    let mut cfg = git_config("github", "git@github.com:foo/bar.git");
    cfg.api_base = Some(srv.url.clone());
    let mut e = info_event();
    let other = "0123456789abcdef0123456789abcdef01234567";
    e.metadata.insert("commit".into(), other.into());
    send(&cfg, &e).await.unwrap();
    let r = srv.requests();
    assert_eq!(r[1].path, format!("/repos/foo/bar/statuses/{other}"));
    assert_eq!(r[1].json()["state"], "success");
}

#[tokio::test]
async fn github_skips_progressing_and_needs_a_revision() {
    let srv = git_server(json!([])).await;
    let cfg = git_config("github", &format!("{}/foo/bar", srv.url));
    send(&cfg, &event("info", "Progressing")).await.unwrap();
    assert!(srv.requests().is_empty());
    let mut e = info_event();
    e.metadata.clear();
    let err = send(&cfg, &e).await.unwrap_err().to_string();
    assert_eq!(err, "missing revision metadata");
    let mut c = cfg.clone();
    c.commit_status.clear();
    let err = send(&c, &info_event()).await.unwrap_err().to_string();
    assert_eq!(err, "commit status cannot be empty");
}

#[tokio::test]
async fn githubdispatch_posts_a_repository_dispatch() {
    let srv = TestServer::answering(204, "").await;
    let mut cfg = config("githubdispatch", &format!("{}/foo/bar", srv.url));
    cfg.token = TOKEN.into();
    send(&cfg, &info_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.path, "/api/v3/repos/foo/bar/dispatches");
    assert_eq!(r.header("authorization"), format!("Bearer {TOKEN}"));
    let j = r.json();
    assert_eq!(j["event_type"], "Kustomization/webapp.gitops-system");
    assert_eq!(j["client_payload"]["involvedObject"]["name"], "webapp");
    assert_eq!(j["client_payload"]["metadata"]["summary"], "Cluster: prod");
}

#[tokio::test]
async fn gitlab_posts_a_status_for_subgroups() {
    let srv = git_server(json!([])).await;
    let mut cfg = git_config("gitlab", &format!("{}/group/sub/repo.git", srv.url));
    cfg.token.clear();
    cfg.password = TOKEN.into(); // Flux falls back to the password.
    send(&cfg, &info_event()).await.unwrap();
    let r = srv.requests();
    assert_eq!(r.len(), 2);
    assert_eq!(
        r[0].path,
        format!("/api/v4/projects/group%2Fsub%2Frepo/repository/commits/{SHA}/statuses")
    );
    assert_eq!(r[0].query, "name=kustomization%2Fwebapp%2F0c9c2e41");
    assert_eq!(
        r[1].path,
        format!("/api/v4/projects/group%2Fsub%2Frepo/statuses/{SHA}")
    );
    assert_eq!(r[1].header("private-token"), TOKEN);
    assert_eq!(
        r[1].json(),
        json!({"state": "success", "name": STATUS_ID, "description": "reconciliation succeeded"})
    );
}

#[tokio::test]
async fn gitlab_skips_a_duplicate() {
    let srv = git_server(json!([
        {"sha": SHA, "status": "failed", "name": STATUS_ID, "description": "health check failed"}
    ]))
    .await;
    let cfg = git_config("gitlab", &format!("{}/o/r", srv.url));
    send(&cfg, &error_event()).await.unwrap();
    assert_eq!(srv.requests().len(), 1);
}

#[tokio::test]
async fn gitea_posts_a_status_and_pending_for_progressing() {
    let srv = git_server(json!([])).await;
    let cfg = git_config("gitea", &format!("{}/foo/bar", srv.url));
    send(&cfg, &event("info", "Progressing")).await.unwrap();
    let r = srv.requests();
    assert_eq!(
        r[0].path_and_query(),
        format!("/api/v1/repos/foo/bar/commits/{SHA}/statuses?page=0&limit=50")
    );
    assert_eq!(r[1].path, format!("/api/v1/repos/foo/bar/statuses/{SHA}"));
    assert_eq!(r[1].header("authorization"), format!("token {TOKEN}"));
    assert_eq!(
        r[1].json(),
        json!({"state": "pending", "target_url": "", "description": "progressing", "context": STATUS_ID})
    );
}

#[tokio::test]
async fn bitbucket_posts_a_build_status() {
    let srv = TestServer::start(|r, _| {
        if r.method == "GET" {
            (404, vec![], r#"{"type":"error"}"#.to_owned())
        } else {
            (201, vec![], "{}".to_owned())
        }
    })
    .await;
    let mut cfg = git_config("bitbucket", "https://bitbucket.org/foo/bar.git");
    cfg.token = "user:app-password".into();
    cfg.api_base = Some(srv.url.clone());
    send(&cfg, &error_event()).await.unwrap();
    let key = hex::encode(<sha1::Sha1 as sha1::Digest>::digest(STATUS_ID.as_bytes()));
    let r = srv.requests();
    assert_eq!(r.len(), 2);
    let base = format!("/repositories/foo/bar/commit/{SHA}/statuses/build");
    assert_eq!(r[0].path, format!("{base}/{key}"));
    assert_eq!(r[1].path, base);
    assert_eq!(r[1].header("authorization"), basic("user", "app-password"));
    assert_eq!(
        r[1].json(),
        json!({"key": key, "url": "https://bitbucket.org", "state": "FAILED",
               "name": "kustomization/webapp", "description": "health check failed"})
    );
}

#[tokio::test]
async fn bitbucket_skips_a_duplicate() {
    let srv =
        git_server(json!({"state": "SUCCESSFUL", "description": "reconciliation succeeded"})).await;
    let mut cfg = git_config("bitbucket", "https://bitbucket.org/foo/bar");
    cfg.token = "user:app-password".into();
    cfg.api_base = Some(srv.url.clone());
    send(&cfg, &info_event()).await.unwrap();
    assert_eq!(srv.requests().len(), 1);
}

#[tokio::test]
async fn bitbucketserver_posts_a_build_status() {
    let srv = TestServer::start(|r, _| {
        if r.method == "GET" {
            (404, vec![], String::new())
        } else {
            (204, vec![], String::new())
        }
    })
    .await;
    let address = format!("{}/context/scm/PROJ/repo.git", srv.url);
    let cfg = git_config("bitbucketserver", &address);
    send(&cfg, &info_event()).await.unwrap();
    let key = hex::encode(<sha1::Sha1 as sha1::Digest>::digest(STATUS_ID.as_bytes()));
    let r = srv.requests();
    let path = format!("/context/rest/api/latest/projects/PROJ/repos/repo/commits/{SHA}/builds");
    assert_eq!(r[0].path, path);
    assert_eq!(r[0].query, format!("key={key}"));
    assert_eq!(r[1].path, path);
    for x in &r {
        assert_eq!(x.header("authorization"), format!("Bearer {TOKEN}"));
        assert_eq!(x.header("x-atlassian-token"), "no-check");
        assert_eq!(x.header("x-requested-with"), "XMLHttpRequest");
    }
    assert_eq!(
        r[1].json(),
        json!({"key": key, "state": "SUCCESSFUL", "url": address,
               "description": "reconciliation succeeded",
               "name": "kustomization/webapp [reconciliation succeeded]"})
    );
}

#[tokio::test]
async fn bitbucketserver_basic_auth_and_duplicates() {
    let key = hex::encode(<sha1::Sha1 as sha1::Digest>::digest(STATUS_ID.as_bytes()));
    let srv = git_server(
        json!({"key": key, "state": "FAILED", "description": "health check failed",
                                "name": "kustomization/webapp [health check failed]"}),
    )
    .await;
    let mut cfg = git_config(
        "bitbucketserver",
        &format!("{}/projects/PROJ/repos/repo/browse", srv.url),
    );
    cfg.token.clear();
    cfg.username = "u".into();
    cfg.password = "pw-123456".into();
    send(&cfg, &error_event()).await.unwrap();
    let r = srv.single();
    assert_eq!(r.header("authorization"), basic("u", "pw-123456"));
    assert!(
        r.path
            .starts_with("/rest/api/latest/projects/PROJ/repos/repo/commits/")
    );
}

#[tokio::test]
async fn azuredevops_posts_a_status() {
    let srv = git_server(json!({"count": 0, "value": []})).await;
    let cfg = git_config("azuredevops", &format!("{}/org/proj/_git/repo", srv.url));
    send(&cfg, &error_event()).await.unwrap();
    let r = srv.requests();
    let path = format!("/org/proj/_apis/git/repositories/repo/commits/{SHA}/statuses");
    assert_eq!(r[0].path, path);
    assert_eq!(r[0].query, "api-version=6.0-preview.1");
    assert_eq!(r[1].method, "POST");
    assert_eq!(r[1].path, path);
    assert_eq!(r[1].header("authorization"), basic("", TOKEN));
    assert_eq!(
        r[1].json(),
        json!({"state": "error", "description": "health check failed",
               "context": {"genre": "fluxcd:Cluster: prod", "name": STATUS_ID}})
    );
}

#[tokio::test]
async fn azuredevops_skips_a_duplicate() {
    let srv = git_server(json!({"count": 1, "value": [
        {"state": "succeeded", "description": "reconciliation succeeded",
         "context": {"genre": "fluxcd:Cluster: prod", "name": STATUS_ID}}
    ]}))
    .await;
    let cfg = git_config("azuredevops", &format!("{}/org/proj/_git/repo", srv.url));
    send(&cfg, &info_event()).await.unwrap();
    assert_eq!(srv.requests().len(), 1);
}
