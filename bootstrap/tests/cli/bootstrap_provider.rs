//! `gitops bootstrap github|gitlab|gitea` end to end. GitHub, GitLab and Gitea are hosted
//! services, so each is stood in for by `gitops_tests::git_provider`: a local HTTP server
//! that answers the REST endpoints bootstrap calls as each service documents them, backed
//! by real bare repositories served by the real `git http-backend` and by the real `sshd`,
//! where a deploy key registered through the API is what grants SSH access. The embedded
//! API server runs with the source and kustomize controllers as separate processes.
//!
//! Covered: repository creation (organization and personal, private and public) and
//! `--reconcile`, team access, deploy key registration (read-only or read-write) and SSH
//! sync, token sync (`--token-auth`,
//! the token read from standard input), GitLab deploy tokens, idempotent reruns, and the
//! failures a user meets (bad token, unknown organization, wrong owner, a protected
//! branch), each leaving the cluster untouched and a rerun succeeding after the fix.

use crate::common;

use common::Env;
use gitops_tests::git;
use gitops_tests::git_provider::{Flavor, GitProviderServer};
use serde_json::json;

fn ks() -> serde_json::Value {
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
           "metadata": {"name": "flux-system", "namespace": "flux-system"}})
}

fn git_repository() -> serde_json::Value {
    json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
           "metadata": {"name": "flux-system", "namespace": "flux-system"}})
}

fn secret() -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "flux-system", "namespace": "flux-system"}})
}

fn namespace() -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}})
}

fn decode(secret: &serde_json::Value, key: &str) -> String {
    use base64::Engine;
    let b64 = secret["data"][key].as_str().unwrap_or_default();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default(),
    )
    .unwrap_or_default()
}

/// `(command, token variable)` of a flavor.
fn command(flavor: Flavor) -> (&'static str, &'static str) {
    match flavor {
        Flavor::GitHub => ("github", "GITHUB_TOKEN"),
        Flavor::GitLab => ("gitlab", "GITLAB_TOKEN"),
        Flavor::Gitea => ("gitea", "GITEA_TOKEN"),
    }
}

async fn cluster() -> Env {
    let mut env = Env::start().await;
    env.cluster.start_source_controller().await;
    env.cluster.start_kustomize_controller();
    env
}

/// The ready state of the Kustomization and that it applied the branch's head.
async fn assert_synced(env: &Env, server: &GitProviderServer, owner: &str, name: &str) {
    let head = git(&server.git_dir(owner, name), &["rev-parse", "main"]);
    let live = env.get(&ks()).await.expect("the Kustomization exists");
    assert_eq!(
        live["status"]["lastAppliedRevision"],
        format!("main@sha1:{head}"),
        "{live}"
    );
    let inventory = live["status"]["inventory"]["entries"].to_string();
    assert!(
        inventory.contains("flux-system_source-controller_apps_Deployment"),
        "{inventory}"
    );
}

/// Deploy-key bootstrap into a new organization repository: created private, teams given
/// access, the key registered read-only under Flux's title, the sync over SSH with it.
async fn deploy_key_flow(flavor: Flavor, read_write: bool) {
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let server = GitProviderServer::start(flavor).await;
    let Some(ssh) = &server.ssh else {
        return;
    };
    let env = cluster().await;
    let (cmd, var) = command(flavor);
    let args = format!(
        "bootstrap {cmd} --owner=acme --repository=fleet --hostname={} --ssh-hostname=127.0.0.1:{} --path=clusters/dev --team=platform --team=devs:push --read-write-key={read_write} --timeout=2m",
        server.url, ssh.port
    );
    let vars = [(var, server.token.as_str())];
    let run = env.run_with(&args, None, &vars).await;
    assert_eq!(run.code, 0, "{}", run.output);
    for line in [
        format!("► connecting to {}", server.url),
        format!("✔ repository \"{}/acme/fleet\" created", server.url),
        "✔ reconciled repository permissions".to_owned(),
        "► cloning branch \"main\" from Git repository".to_owned(),
        "✔ public key: ecdsa-sha2-nistp384 ".to_owned(),
        "✔ configured deploy key \"flux-system-main-flux-system-clusters/dev\"".to_owned(),
        "✔ Kustomization reconciled successfully".to_owned(),
    ] {
        assert!(run.output.contains(&line), "{line}\n{}", run.output);
    }
    assert!(!run.output.contains(&server.token), "the token was printed");

    let repo = server
        .repo("acme", "fleet")
        .expect("the repository was created");
    assert!(repo.private, "created private");
    assert_eq!(repo.deploy_keys.len(), 1, "{:?}", repo.deploy_keys.len());
    let key = &repo.deploy_keys[0];
    assert_eq!(key.title, "flux-system-main-flux-system-clusters/dev");
    assert_eq!(key.read_only, !read_write);
    let live_secret = env.get(&secret()).await.unwrap();
    let public = decode(&live_secret, "identity.pub");
    assert_eq!(
        key.key.split_whitespace().take(2).collect::<Vec<_>>(),
        public.split_whitespace().take(2).collect::<Vec<_>>()
    );
    assert!(
        decode(&live_secret, "known_hosts").contains(&format!("[127.0.0.1]:{}", ssh.port)),
        "known_hosts from --ssh-hostname"
    );
    let teams: Vec<String> = repo.teams.iter().map(|(t, _)| t.clone()).collect();
    assert!(
        teams.contains(&"platform".to_owned()) && teams.contains(&"devs".to_owned()),
        "{:?}",
        repo.teams
    );
    if flavor == Flavor::GitHub {
        assert!(
            repo.teams.contains(&("platform".into(), "maintain".into()))
                && repo.teams.contains(&("devs".into(), "push".into())),
            "{:?}",
            repo.teams
        );
    }
    if flavor == Flavor::GitLab {
        assert!(
            repo.teams.contains(&("platform".into(), "40".into()))
                && repo.teams.contains(&("devs".into(), "30".into())),
            "{:?}",
            repo.teams
        );
    }
    // The created repository was empty: a root commit, then the sync commit.
    let bare = server.git_dir("acme", "fleet");
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "2");
    let sync = git(
        &bare,
        &["show", "main:clusters/dev/flux-system/gotk-sync.yaml"],
    );
    assert!(
        sync.contains(&format!("url: ssh://git@127.0.0.1:{}/acme/fleet", ssh.port)),
        "{sync}"
    );
    let source = env.get(&git_repository()).await.unwrap();
    assert_eq!(source["spec"]["secretRef"]["name"], "flux-system");
    assert_synced(&env, &server, "acme", "fleet").await;

    // A rerun changes nothing: no commit, no second key.
    let run = env.run_with(&args, None, &vars).await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output.contains("✔ source secret up to date"),
        "{}",
        run.output
    );
    assert!(!run.output.contains("created"), "{}", run.output);
    assert!(
        !run.output.contains("configured deploy key"),
        "{}",
        run.output
    );
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "2");
    assert_eq!(server.repo("acme", "fleet").unwrap().deploy_keys.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_deploy_key() {
    deploy_key_flow(Flavor::GitHub, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_deploy_key() {
    deploy_key_flow(Flavor::GitLab, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_deploy_key() {
    deploy_key_flow(Flavor::Gitea, true).await;
}

/// A personal public repository, the token typed on standard input and given to the
/// cluster (`--token-auth`); an existing repository with history is built upon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_personal_token_auth() {
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let server = GitProviderServer::start(Flavor::GitHub).await;
    let env = cluster().await;
    let args = format!(
        "bootstrap github --owner=alice --personal --private=false --repository=infra --hostname={} --token-auth --timeout=2m",
        server.url
    );
    let input = format!("{}\n", server.token);
    let run = env
        .run_with(&args, Some(&input), &[("GITHUB_TOKEN", "")])
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output
            .contains("Please enter your GitHub personal access token (PAT): "),
        "{}",
        run.output
    );
    let repo = server.repo("alice", "infra").expect("created");
    assert!(!repo.private, "--private=false creates a public repository");
    assert!(
        repo.deploy_keys.is_empty(),
        "no deploy key with --token-auth"
    );
    let live_secret = env.get(&secret()).await.unwrap();
    assert_eq!(decode(&live_secret, "username"), "git");
    assert_eq!(decode(&live_secret, "password"), server.token);
    let source = env.get(&git_repository()).await.unwrap();
    assert_eq!(
        source["spec"]["url"],
        format!("{}/alice/infra.git", server.url)
    );
    assert_synced(&env, &server, "alice", "infra").await;

    // `--reconcile` brings an existing repository back to the options.
    let args = args.replace("--private=false", "--private=true --reconcile");
    let run = env
        .run_with(&args, None, &[("GITHUB_TOKEN", server.token.as_str())])
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output.contains(&format!(
            "✔ repository \"{}/alice/infra\" reconciled",
            server.url
        )),
        "{}",
        run.output
    );
    assert!(server.repo("alice", "infra").unwrap().private);
}

/// Bad token, unknown organization, wrong owner for a personal repository: clear errors
/// and nothing in the cluster. A protected branch: the push is refused before anything is
/// installed; after the protection is lifted a rerun succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_failures_leave_the_cluster_untouched() {
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let server = GitProviderServer::start(Flavor::GitHub).await;
    let env = cluster().await;
    let base = format!(
        "bootstrap github --hostname={} --token-auth --timeout=2m",
        server.url
    );
    let token = [("GITHUB_TOKEN", server.token.as_str())];

    let run = env
        .run_with(
            &format!("{base} --owner=acme --repository=fleet"),
            None,
            &[("GITHUB_TOKEN", "not-the-token")],
        )
        .await;
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(run.output.contains("Bad credentials"), "{}", run.output);
    assert!(run.output.contains("401"), "{}", run.output);

    let run = env
        .run_with(
            &format!("{base} --owner=nobody --repository=fleet"),
            None,
            &token,
        )
        .await;
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output
            .contains("failed to create new Git repository \"nobody/fleet\""),
        "{}",
        run.output
    );

    let run = env
        .run_with(
            &format!("{base} --owner=bob --personal --repository=fleet"),
            None,
            &token,
        )
        .await;
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output.contains(
            "the specified owner 'bob' doesn't match the identity associated with the given token"
        ),
        "{}",
        run.output
    );
    assert!(env.get(&namespace()).await.is_none(), "nothing installed");

    // An existing repository whose main branch refuses pushes.
    server.create_repo("acme", "fleet", true, true);
    server.protect_branch("acme", "fleet", "main", true);
    let args = format!("{base} --owner=acme --repository=fleet --path=clusters/prod");
    let run = env.run_with(&args, None, &token).await;
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(
        run.output.contains("failed to push component manifests"),
        "{}",
        run.output
    );
    assert!(run.output.contains("GH006"), "{}", run.output);
    assert!(
        env.get(&namespace()).await.is_none(),
        "the push failed before anything was installed"
    );
    let bare = server.git_dir("acme", "fleet");
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "1");

    server.protect_branch("acme", "fleet", "main", false);
    let run = env.run_with(&args, None, &token).await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(!run.output.contains("created"), "{}", run.output);
    assert_eq!(git(&bare, &["rev-list", "--count", "main"]), "3");
    assert!(
        git(&bare, &["ls-tree", "-r", "--name-only", "main"]).contains("README.md"),
        "the existing history is kept"
    );
    assert_synced(&env, &server, "acme", "fleet").await;
}

/// GitLab's project deploy token (`--deploy-token-auth`): a read-only token created for the
/// sync, the source Secret holding its username and token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_deploy_token() {
    if !gitops_tests::have("git") {
        eprintln!("skipping: git is not installed");
        return;
    }
    let server = GitProviderServer::start(Flavor::GitLab).await;
    let env = cluster().await;
    let args = format!(
        "bootstrap gitlab --owner=acme --repository=apps --hostname={} --deploy-token-auth --timeout=2m",
        server.url
    );
    let run = env
        .run_with(&args, None, &[("GITLAB_TOKEN", server.token.as_str())])
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    let repo = server.repo("acme", "apps").expect("created");
    assert_eq!(repo.deploy_tokens.len(), 1, "{:?}", repo.deploy_tokens);
    let (name, username) = &repo.deploy_tokens[0];
    assert_eq!(name, "flux-system-main-flux-system");
    let live_secret = env.get(&secret()).await.unwrap();
    assert_eq!(&decode(&live_secret, "username"), username);
    let deploy_token = decode(&live_secret, "password");
    assert_ne!(deploy_token, server.token);
    assert_synced(&env, &server, "acme", "apps").await;

    // A rerun keeps the Secret and its token: no second deploy token.
    let run = env
        .run_with(&args, None, &[("GITLAB_TOKEN", server.token.as_str())])
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output.contains("✔ source secret up to date"),
        "{}",
        run.output
    );
    assert_eq!(server.repo("acme", "apps").unwrap().deploy_tokens.len(), 1);
    let live_secret = env.get(&secret()).await.unwrap();
    assert_eq!(decode(&live_secret, "password"), deploy_token);
}
