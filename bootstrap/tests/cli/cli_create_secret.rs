//! `gitops create secret …` and `gitops create tenant`: every case of Flux's
//! `create_secret_{git,helm,oci,tls,proxy,receiver,githubapp,notation}_test.go` and
//! `create_tenant_test.go` (arguments, golden output, error texts), and the apply path
//! against the embedded API server.
//!
//! Flux's two SSH cases scan `github.com`'s host key; here the URL points at a local `sshd`
//! and the golden file's `known_hosts` line is that server's (quoted by YAML since it starts
//! with `[127.0.0.1]:<port>`).

use crate::common;

use base64::Engine as _;
use common::{Env, Run, allocate_namespace, assert_error, assert_output, gitops, golden};
use serde_json::{Value, json};

/// A path under the ported testdata (Flux's tests run in `cmd/flux`, so `./testdata/…`).
fn tdata(rel: &str) -> String {
    common::testdata().join(rel).display().to_string()
}

/// Runs every `(args, golden file)` and `(args, error)` pair without a cluster.
fn check(goldens: &[(String, &str)], errors: &[(String, String)]) {
    for (args, file) in goldens {
        let run = gitops(args, None);
        assert_output(&run, &golden(file, &[]));
    }
    for (args, msg) in errors {
        assert_error(&gitops(args, None), msg);
    }
}

fn s(text: &str) -> String {
    text.to_owned()
}

// ---------------------------------------------------------------------------------------
// Flux's cases

#[test]
fn git_cases() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca-crt");
    std::fs::write(&ca, "ca-data").unwrap();
    check(
        &[
            (
                s(
                    "create secret git podinfo-auth --url=https://github.com/stefanprodan/podinfo --username=my-username --password=my-password --namespace=my-namespace --export",
                ),
                "create_secret/git/secret-git-basic.yaml",
            ),
            (
                s(
                    "create secret git bearer-token-auth --url=https://github.com/stefanprodan/podinfo --bearer-token=ghp_baR2qnFF0O41WlucePL3udt2N9vVZS4R0hAS --namespace=my-namespace --export",
                ),
                "create_secret/git/git-bearer-token.yaml",
            ),
            (
                format!(
                    "create secret git ca-crt --url=https://github.com/stefanprodan/podinfo --password=my-password --username=my-username --ca-crt-file={} --namespace=my-namespace --export",
                    ca.display()
                ),
                "create_secret/git/secret-ca-crt.yaml",
            ),
        ],
        &[
            (s("create secret git"), s("name is required")),
            (
                s(
                    "create secret git podinfo-auth --url=https://github.com/stefanprodan/podinfo --username=aaa --password=zzzz --bearer-token=aaaa --namespace=my-namespace --export",
                ),
                s("user credentials and bearer token cannot be used together"),
            ),
        ],
    );
}

/// The golden file of an SSH case, its `known_hosts` line the local server's.
fn ssh_golden(file: &str, known_hosts: &str) -> String {
    const GITHUB: &str = "known_hosts: github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=";
    let text = golden(file, &[]);
    assert!(text.contains(GITHUB));
    text.replace(GITHUB, &format!("known_hosts: '{}'", known_hosts.trim()))
}

#[tokio::test]
async fn git_ssh_cases() {
    let Some(sshd) = gitops_tests::Sshd::start().await else {
        return;
    };
    let url = format!("ssh://git@127.0.0.1:{}/stefanprodan/podinfo", sshd.port);
    let run = gitops(
        &format!(
            "create secret git podinfo-auth --url={url} --private-key-file={} --namespace=my-namespace --export",
            tdata("create_secret/git/ecdsa.private")
        ),
        None,
    );
    assert_output(
        &run,
        &ssh_golden("create_secret/git/git-ssh-secret.yaml", &sshd.known_hosts),
    );
    let run = gitops(
        &format!(
            "create secret git podinfo-auth --url={url} --private-key-file={} --password=password --namespace=my-namespace --export",
            tdata("create_secret/git/ecdsa-password.private")
        ),
        None,
    );
    assert_output(
        &run,
        &ssh_golden(
            "create_secret/git/git-ssh-secret-password.yaml",
            &sshd.known_hosts,
        ),
    );

    // Generated keys of each algorithm, with the server's host key.
    for (flags, prefix) in [
        ("", "ecdsa-sha2-nistp384 "),
        (
            "--ssh-key-algorithm=ecdsa --ssh-ecdsa-curve=p521",
            "ecdsa-sha2-nistp521 ",
        ),
        ("--ssh-key-algorithm=ed25519", "ssh-ed25519 "),
        ("--ssh-key-algorithm=rsa --ssh-rsa-bits=1024", "ssh-rsa "),
    ] {
        let run = gitops(
            &format!("create secret git gen --url={url} {flags} --export"),
            None,
        );
        assert_eq!(run.code, 0, "{}", run.output);
        let secret = parse_yaml(&run.output);
        let data = &secret["stringData"];
        assert!(
            data["identity.pub"].as_str().unwrap().starts_with(prefix),
            "{data}"
        );
        assert!(
            data["identity"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        assert_eq!(data["known_hosts"], sshd.known_hosts.trim());
        assert_eq!(secret["metadata"]["namespace"], "flux-system");
    }

    // A wrong passphrase, and a passphrase for a key that has none.
    let run = gitops(
        &format!(
            "create secret git xx --url={url} --private-key-file={} --password=wrong --export",
            tdata("create_secret/git/ecdsa-password.private")
        ),
        None,
    );
    assert_error(&run, "x509: decryption password incorrect");
    let run = gitops(
        &format!(
            "create secret git xx --url={url} --private-key-file={} --password=password --export",
            tdata("create_secret/git/ecdsa.private")
        ),
        None,
    );
    assert_error(&run, "ssh: key is not password protected");
}

#[test]
fn git_own_cases() {
    check(
        &[],
        &[
            (s("create secret git xx"), s("url is required")),
            (
                s("create secret git xx --url=ftp://example.com/repo"),
                s("git URL scheme 'ftp' not supported, can be: ssh, http and https"),
            ),
            (
                s("create secret git xx --url=git@github.com:org/repo"),
                s(
                    "git URL parse failed: parse \"git@github.com:org/repo\": first path segment in URL cannot contain colon",
                ),
            ),
            (
                s("create secret git xx --url=https://example.com/repo --username=u"),
                s("for Git over HTTP/S the username and password, or a bearer token is required"),
            ),
            (
                s(
                    "create secret git xx --url=https://example.com/repo -u u -p p --ca-crt-file=/nonexistent/ca",
                ),
                s("unable to read TLS CA file: open /nonexistent/ca: no such file or directory"),
            ),
            (
                s(
                    "create secret git xx --url=ssh://git@127.0.0.1:2/repo --private-key-file=/nonexistent/key",
                ),
                s(
                    "failed to open private key file: open /nonexistent/key: no such file or directory",
                ),
            ),
            (
                s("create secret git xx --url=ssh://example.com/repo --ssh-key-algorithm=dsa"),
                s(
                    "invalid argument \"dsa\" for \"--ssh-key-algorithm\" flag: unsupported public key algorithm 'dsa', must be one of: rsa, ecdsa, ed25519",
                ),
            ),
            (
                s("create secret git xx --url=ssh://example.com/repo --ssh-rsa-bits=1000"),
                s(
                    "invalid argument \"1000\" for \"--ssh-rsa-bits\" flag: RSA key bit size must be at least 1024",
                ),
            ),
            (
                s("create secret git xx --url=ssh://example.com/repo --ssh-rsa-bits=abc"),
                s(
                    "invalid argument \"abc\" for \"--ssh-rsa-bits\" flag: strconv.Atoi: parsing \"abc\": invalid syntax",
                ),
            ),
            (
                s("create secret git xx --url=ssh://example.com/repo --ssh-ecdsa-curve=p999"),
                s(
                    "invalid argument \"p999\" for \"--ssh-ecdsa-curve\" flag: unsupported curve 'p999', must be one of: p256, p384, p521",
                ),
            ),
            (
                s(
                    "create secret git xx --url=https://example.com/repo -u u -p p --label=a=b=c --export",
                ),
                s("invalid label format 'a=b=c', must be key=value"),
            ),
            (
                s("create secret git Bad --url=https://example.com/repo"),
                s(
                    "name 'Bad' is invalid, it should adhere to standard defined in RFC 1123, the name can only contain alphanumeric characters or '-'",
                ),
            ),
        ],
    );
    // No server: the scan fails with the address, as Go's dialer says it.
    let run = gitops(
        "create secret git xx --url=ssh://git@127.0.0.1:1/repo --export",
        None,
    );
    assert_error(
        &run,
        "SSH key scan for host 127.0.0.1:1 failed, error: dial tcp 127.0.0.1:1: connect: connection refused",
    );
    // Labels go on the Secret.
    let run = gitops(
        "create secret git xx --url=https://example.com/repo -u u -p p --label=env=dev,team=a --export",
        None,
    );
    assert_output(
        &run,
        "---\napiVersion: v1\nkind: Secret\nmetadata:\n  labels:\n    env: dev\n    team: a\n  name: xx\n  namespace: flux-system\nstringData:\n  password: p\n  username: u\n\n",
    );
}

#[test]
fn helm_cases() {
    check(
        &[(
            s(
                "create secret helm helm-secret --username=my-username --password=my-password --namespace=my-namespace --export",
            ),
            "create_secret/helm/secret-helm.yaml",
        )],
        &[(s("create secret helm"), s("name is required"))],
    );
    // Our own: TLS files, a CA alone, and missing halves.
    let tls = |f: &str| tdata(&format!("create_secret/tls/{f}"));
    let run = gitops(
        &format!(
            "create secret helm hh -u u -p p --ca-crt-file={} --export",
            tls("test-ca.pem")
        ),
        None,
    );
    let secret = parse_yaml(&run.output);
    assert_eq!(secret["type"], "kubernetes.io/basic-auth");
    assert_eq!(
        secret["stringData"]["ca.crt"].as_str().unwrap(),
        std::fs::read_to_string(tls("test-ca.pem")).unwrap()
    );
    let run = gitops(
        &format!(
            "create secret helm hh --ca-crt-file={} --export",
            tls("test-ca.pem")
        ),
        None,
    );
    assert_eq!(parse_yaml(&run.output)["type"], "Opaque");
    let run = gitops(
        &format!(
            "create secret helm hh -u u -p p --tls-crt-file={} --tls-key-file={} --export",
            tls("test-cert.pem"),
            tls("test-key.pem")
        ),
        None,
    );
    let secret = parse_yaml(&run.output);
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert!(secret["stringData"].get("username").is_none());
    assert_output(
        &gitops("create secret helm hh -n ns --export", None),
        "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: hh\n  namespace: ns\n\n",
    );
    check(
        &[],
        &[
            (s("create secret helm hh -u u"), s("password is required")),
            (
                format!(
                    "create secret helm hh --tls-crt-file={}",
                    tls("test-cert.pem")
                ),
                s("found certificate but missing private key"),
            ),
            (
                s("create secret helm hh --tls-key-file=/nonexistent"),
                s("failed to read key file: open /nonexistent: no such file or directory"),
            ),
        ],
    );
}

#[test]
fn oci_cases() {
    check(
        &[(
            s(
                "create secret oci ghcr --namespace=my-namespace --url ghcr.io --username stefanprodan --password=password --export",
            ),
            "create_secret/oci/create-secret.yaml",
        )],
        &[
            (s("create secret oci"), s("name is required")),
            (s("create secret oci ghcr"), s("--url is required")),
            // Our own.
            (
                s("create secret oci ghcr --url ghcr.io"),
                s("--username is required"),
            ),
            (
                s("create secret oci ghcr --url ghcr.io -u u"),
                s("--password is required"),
            ),
            (
                s("create secret oci ghcr --url ghcr.io/Org -u u -p p"),
                s("error parsing url: 'could not parse reference: ghcr.io/Org'"),
            ),
        ],
    );
}

#[test]
fn tls_cases() {
    let tls = |f: &str| tdata(&format!("create_secret/tls/{f}"));
    check(
        &[(
            format!(
                "create secret tls certs --namespace=my-namespace --tls-crt-file={} --tls-key-file={} --ca-crt-file={} --export",
                tls("test-cert.pem"),
                tls("test-key.pem"),
                tls("test-ca.pem")
            ),
            "create_secret/tls/secret-tls.yaml",
        )],
        &[
            (s("create secret tls"), s("name is required")),
            // Our own.
            (
                s("create secret tls certs"),
                s("no CA certificate or client certificate pair found"),
            ),
            (
                format!(
                    "create secret tls certs --tls-crt-file={} --tls-key-file={}",
                    tls("test-ca.pem"),
                    tls("test-key.pem")
                ),
                s(
                    "invalid TLS certificate and key pair: tls: private key type does not match public key type",
                ),
            ),
            (
                format!(
                    "create secret tls certs --tls-crt-file={} --tls-key-file={}",
                    tls("test-key.pem"),
                    tls("test-cert.pem")
                ),
                s(
                    "invalid TLS certificate and key pair: tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched",
                ),
            ),
        ],
    );
}

#[test]
fn proxy_cases() {
    check(
        &[(
            s(
                "create secret proxy proxy-secret --address=https://my-proxy.com --username=my-username --password=my-password --namespace=my-namespace --export",
            ),
            "create_secret/proxy/secret-proxy.yaml",
        )],
        &[
            (
                s("create secret proxy proxy-secret"),
                s("address is required"),
            ),
            (
                s("create secret proxy pp --address=:bad"),
                s("invalid proxy address: parse \":bad\": missing protocol scheme"),
            ),
        ],
    );
}

#[test]
fn receiver_cases() {
    check(
        &[
            (
                s(
                    "create secret receiver receiver-secret --type=github --token=test-token --hostname=flux.example.com --namespace=my-namespace --export",
                ),
                "create_secret/receiver/secret-receiver.yaml",
            ),
            (
                s(
                    "create secret receiver gcr-secret --type=gcr --token=test-token --hostname=flux.example.com --email-claim=sa@project.iam.gserviceaccount.com --namespace=my-namespace --export",
                ),
                "create_secret/receiver/secret-receiver-gcr.yaml",
            ),
            (
                s(
                    "create secret receiver gcr-secret --type=gcr --token=test-token --hostname=flux.example.com --email-claim=sa@project.iam.gserviceaccount.com --audience-claim=https://custom.audience.example.com --namespace=my-namespace --export",
                ),
                "create_secret/receiver/secret-receiver-gcr-audience.yaml",
            ),
        ],
        &[
            (
                s("create secret receiver test-secret --token=t --hostname=h"),
                s("--type is required"),
            ),
            (
                s("create secret receiver test-secret --type=invalid --token=t --hostname=h"),
                s(
                    "invalid argument \"invalid\" for \"--type\" flag: receiver type 'invalid' is not supported, must be one of: generic, generic-hmac, github, gitlab, bitbucket, harbor, dockerhub, quay, gcr, nexus, acr, cdevents",
                ),
            ),
            (
                s("create secret receiver test-secret --type=github --token=t"),
                s("--hostname is required"),
            ),
            (
                s("create secret receiver test-secret --type=gcr --token=t --hostname=h"),
                s("--email-claim is required for gcr receiver type"),
            ),
        ],
    );
    // Without --token, a random 32-byte token, and the URL computed from it.
    let run = gitops(
        "create secret receiver rr --type=github --hostname=h.example.com --export",
        None,
    );
    let secret = parse_yaml(&run.output);
    let token = secret["stringData"]["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let url = secret["metadata"]["annotations"]["notification.toolkit.fluxcd.io/webhook"]
        .as_str()
        .unwrap();
    assert!(url.starts_with("https://h.example.com/hook/"), "{url}");
}

#[test]
fn githubapp_cases() {
    let key = tdata("create_secret/githubapp/test-private-key.pem");
    check(
        &[
            (
                format!(
                    "create secret githubapp appinfo --namespace my-namespace --app-id 1 --app-installation-owner my-org --app-private-key {key} --export"
                ),
                "create_secret/githubapp/secret.yaml",
            ),
            (
                format!(
                    "create secret githubapp appinfo --namespace my-namespace --app-id 1 --app-installation-id 2 --app-private-key {key} --app-base-url www.example.com/api/v3 --export"
                ),
                "create_secret/githubapp/secret-with-baseurl.yaml",
            ),
        ],
        &[
            (s("create secret githubapp"), s("name is required")),
            (
                s(
                    "create secret githubapp appinfo --app-id 1 --app-installation-id 2 --app-private-key pk.pem",
                ),
                s("unable to read private key file: open pk.pem: no such file or directory"),
            ),
            // Our own.
            (
                format!("create secret githubapp appinfo --app-id 1 --app-private-key {key}"),
                s(
                    "exactly one of githubAppInstallationOwner or githubAppInstallationID must be provided",
                ),
            ),
            (
                format!(
                    "create secret githubapp appinfo --app-installation-id 2 --app-private-key {key}"
                ),
                s("githubAppID is required"),
            ),
        ],
    );
}

#[test]
fn notation_cases() {
    let dir = tempfile::tempdir().unwrap();
    let crt = dir.path().join("ca.crt");
    let pem = dir.path().join("ca.pem");
    let p12 = dir.path().join("ca.p12");
    std::fs::write(&crt, "ca-data-crt").unwrap();
    std::fs::write(&pem, "ca-data-pem").unwrap();
    std::fs::write(&p12, "").unwrap();
    let empty_dir = tempfile::tempdir().unwrap();
    let trust_policy = tdata("create_secret/notation/test-trust-policy.json");
    let invalid_trust_policy = tdata("create_secret/notation/invalid-trust-policy.json");
    let invalid_json = tdata("create_secret/notation/invalid.json");
    let test_cert_folder = tdata("create_secret/notation");
    let (crt, pem, p12, tmp) = (
        crt.display(),
        pem.display(),
        p12.display(),
        empty_dir.path().display(),
    );
    check(
        &[
            (
                format!(
                    "create secret notation notation-config --ca-cert-file={crt} --trust-policy-file={trust_policy} --namespace=my-namespace --export"
                ),
                "create_secret/notation/secret-ca-crt.yaml",
            ),
            (
                format!(
                    "create secret notation notation-config --ca-cert-file={pem} --trust-policy-file={trust_policy} --namespace=my-namespace --export"
                ),
                "create_secret/notation/secret-ca-pem.yaml",
            ),
            (
                format!(
                    "create secret notation notation-config --ca-cert-file={crt} --ca-cert-file={pem} --trust-policy-file={trust_policy} --namespace=my-namespace --export"
                ),
                "create_secret/notation/secret-ca-multi.yaml",
            ),
        ],
        &[
            (s("create secret notation"), s("name is required")),
            (
                format!("create secret notation notation-config --ca-cert-file={test_cert_folder}"),
                s("--trust-policy-file is required"),
            ),
            (
                format!(
                    "create secret notation notation-config --trust-policy-file={trust_policy}"
                ),
                s("--ca-cert-file is required"),
            ),
            (
                format!(
                    "create secret notation notation-config --ca-cert-file={p12} --trust-policy-file={trust_policy}"
                ),
                s("ca.p12 must end with either .crt or .pem"),
            ),
            (
                format!(
                    "create secret notation notation-config --ca-cert-file={tmp} --trust-policy-file={invalid_trust_policy}"
                ),
                s(
                    "invalid trust policy: trust policy: a trust policy statement is missing a name, every statement requires a name",
                ),
            ),
            (
                format!(
                    "create secret notation notation-config --ca-cert-file={tmp} --trust-policy-file={invalid_json}"
                ),
                format!(
                    "failed to unmarshal trust policy {invalid_json}: json: cannot unmarshal string into Go value of type trustpolicy.Document"
                ),
            ),
            // Our own.
            (
                format!(
                    "create secret notation nn --ca-cert-file={crt} --trust-policy-file=/nonexistent.json"
                ),
                s(
                    "unable to read trust policy file: open /nonexistent.json: no such file or directory",
                ),
            ),
            (
                format!(
                    "create secret notation nn --ca-cert-file=/nonexistent/x.crt --trust-policy-file={trust_policy}"
                ),
                s("unable to read TLS CA file: open /nonexistent/x.crt: no such file or directory"),
            ),
        ],
    );
}

#[test]
fn tenant_cases() {
    check(
        &[
            (
                s(
                    "create tenant dev-team --with-namespace=apps --cluster-role=cluster-admin --export",
                ),
                "create_tenant/tenant-basic.yaml",
            ),
            (
                s(
                    "create tenant dev-team --with-namespace=apps --cluster-role=cluster-admin --with-service-account=flux-tenant --export",
                ),
                "create_tenant/tenant-with-service-account.yaml",
            ),
            (
                s(
                    "create tenant dev-team --with-namespace=apps --cluster-role=custom-role --export",
                ),
                "create_tenant/tenant-with-cluster-role.yaml",
            ),
            (
                s(
                    "create tenant dev-team --with-namespace=apps --cluster-role=cluster-admin --skip-namespace --export",
                ),
                "create_tenant/tenant-with-skip-namespace.yaml",
            ),
        ],
        &[
            (s("create tenant"), s("name is required")),
            (
                s("create tenant dev-team --cluster-role=cluster-admin"),
                s("with-namespace is required"),
            ),
            // Our own.
            (
                s("create tenant dev-team --with-namespace=apps --cluster-role="),
                s("cluster-role is required"),
            ),
            (
                s("create tenant dev-team --with-namespace=-apps"),
                s(
                    "invalid namespace '-apps': [name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')]",
                ),
            ),
        ],
    );
    // Several namespaces, with labels: each namespace's three objects in turn.
    let run = gitops(
        "create tenant t1 --with-namespace=a,b --label=env=dev --export",
        None,
    );
    assert_eq!(run.code, 0, "{}", run.output);
    let kinds: Vec<&str> = run
        .output
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "RoleBinding",
            "Namespace",
            "ServiceAccount",
            "RoleBinding"
        ]
    );
    assert!(
        run.output
            .contains("  labels:\n    env: dev\n    toolkit.fluxcd.io/tenant: t1\n")
    );
}

// ---------------------------------------------------------------------------------------
// Applying to the cluster

/// The one object of an export.
fn parse_yaml(text: &str) -> Value {
    let docs = gitops_kustomize::yaml::parse_documents(text).expect("YAML");
    let doc = docs
        .iter()
        .find(|d| !d.value.is_null())
        .expect("a document");
    serde_json::from_str(&gitops_kustomize::yaml::to_go_json(&doc.value)).expect("JSON")
}

/// The decoded `data` of a Secret in the cluster.
async fn secret_data(env: &Env, ns: &str, name: &str) -> (Value, serde_json::Map<String, Value>) {
    let live = env
        .get(&json!({"apiVersion": "v1", "kind": "Secret",
                      "metadata": {"name": name, "namespace": ns}}))
        .await
        .unwrap_or_else(|| panic!("secret {ns}/{name} exists"));
    let data = live["data"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap();
            (k.clone(), json!(String::from_utf8(bytes).unwrap()))
        })
        .collect();
    (live, data)
}

fn created(run: &Run, kind: &str, name: &str, ns: &str) {
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(
        run.output.ends_with(&format!(
            "► {kind} secret '{name}' created in '{ns}' namespace\n"
        )),
        "{}",
        run.output
    );
}

#[tokio::test]
async fn secrets_are_created_and_updated() {
    let env = Env::start().await;
    let ns = allocate_namespace("secrets");
    env.namespace(&ns).await;

    // git over HTTPS.
    let run = env
        .run(&format!(
            "create secret git auth --url=https://example.com/repo -u user -p pass --label=a=b -n {ns}"
        ))
        .await;
    assert_output(
        &run,
        &format!("► git secret 'auth' created in '{ns}' namespace\n"),
    );
    let (live, data) = secret_data(&env, &ns, "auth").await;
    assert_eq!(json!(data), json!({"username": "user", "password": "pass"}));
    assert_eq!(live["metadata"]["labels"], json!({"a": "b"}));

    // Updating writes the new values over the old ones and adds labels; other keys stay.
    let run = env
        .run(&format!(
            "create secret git auth --url=https://example.com/repo --bearer-token=tok --label=c=d -n {ns}"
        ))
        .await;
    created(&run, "git", "auth", &ns);
    let (live, data) = secret_data(&env, &ns, "auth").await;
    assert_eq!(
        json!(data),
        json!({"username": "user", "password": "pass", "bearerToken": "tok"})
    );
    assert_eq!(live["metadata"]["labels"], json!({"a": "b", "c": "d"}));

    // helm, tls, oci, proxy, receiver, githubapp, notation.
    let tls = |f: &str| tdata(&format!("create_secret/tls/{f}"));
    let run = env
        .run(&format!("create secret helm hh -u u -p p -n {ns}"))
        .await;
    created(&run, "helm", "hh", &ns);
    let (live, data) = secret_data(&env, &ns, "hh").await;
    assert_eq!(live["type"], "kubernetes.io/basic-auth");
    assert_eq!(json!(data), json!({"username": "u", "password": "p"}));

    let run = env
        .run(&format!(
            "create secret tls certs --tls-crt-file={} --tls-key-file={} --ca-crt-file={} -n {ns}",
            tls("test-cert.pem"),
            tls("test-key.pem"),
            tls("test-ca.pem")
        ))
        .await;
    created(&run, "tls", "certs", &ns);
    let (live, data) = secret_data(&env, &ns, "certs").await;
    assert_eq!(live["type"], "kubernetes.io/tls");
    assert_eq!(
        data["tls.crt"],
        std::fs::read_to_string(tls("test-cert.pem")).unwrap()
    );
    assert_eq!(data.len(), 3);

    let run = env
        .run(&format!(
            "create secret oci ghcr --url ghcr.io -u user -p pass -n {ns}"
        ))
        .await;
    created(&run, "oci", "ghcr", &ns);
    let (live, data) = secret_data(&env, &ns, "ghcr").await;
    assert_eq!(live["type"], "kubernetes.io/dockerconfigjson");
    let config: Value = serde_json::from_str(data[".dockerconfigjson"].as_str().unwrap()).unwrap();
    assert_eq!(config["auths"]["ghcr.io"]["auth"], "dXNlcjpwYXNz");

    let run = env
        .run(&format!(
            "create secret proxy pp --address=http://proxy:3128 -n {ns}"
        ))
        .await;
    created(&run, "proxy", "pp", &ns);
    assert_eq!(
        json!(secret_data(&env, &ns, "pp").await.1),
        json!({"address": "http://proxy:3128"})
    );

    let run = env
        .run(&format!(
            "create secret receiver rr --type=github --token=t --hostname=h -n {ns}"
        ))
        .await;
    created(&run, "receiver", "rr", &ns);
    let (live, data) = secret_data(&env, &ns, "rr").await;
    assert_eq!(json!(data), json!({"token": "t"}));
    let digest = {
        use std::fmt::Write;
        let mut h = String::new();
        for b in openssl::sha::sha256(format!("trr{ns}").as_bytes()) {
            write!(h, "{b:02x}").unwrap();
        }
        h
    };
    assert_eq!(
        live["metadata"]["annotations"]["notification.toolkit.fluxcd.io/webhook"],
        format!("https://h/hook/{digest}")
    );

    let run = env
        .run(&format!(
            "create secret githubapp app --app-id 1 --app-installation-id 2 --app-private-key {} -n {ns}",
            tdata("create_secret/githubapp/test-private-key.pem")
        ))
        .await;
    created(&run, "githubapp", "app", &ns);
    assert_eq!(secret_data(&env, &ns, "app").await.1["githubAppID"], "1");

    let run = env
        .run(&format!(
            "create secret notation nn --ca-cert-file={} --trust-policy-file={} -n {ns}",
            tdata("create_secret/notation/test-ca.crt"),
            tdata("create_secret/notation/test-trust-policy.json")
        ))
        .await;
    created(&run, "notation configuration", "nn", &ns);
    let data = secret_data(&env, &ns, "nn").await.1;
    assert!(data.contains_key("test-ca.crt") && data.contains_key("trustpolicy.json"));

    // No cluster: the error of the client.
    let run = gitops(
        "create secret helm hh -u u -p p --kubeconfig=/nonexistent/kubeconfig",
        None,
    );
    assert_eq!(run.code, 1, "{}", run.output);
}

#[tokio::test]
async fn git_ssh_secret_is_applied_with_the_deploy_key() {
    let Some(sshd) = gitops_tests::Sshd::start().await else {
        return;
    };
    let env = Env::start().await;
    let ns = allocate_namespace("ssh");
    env.namespace(&ns).await;
    let run = env
        .run(&format!(
            "create secret git deploy --url=ssh://git@127.0.0.1:{}/org/repo --ssh-key-algorithm=ed25519 -n {ns}",
            sshd.port
        ))
        .await;
    assert_eq!(run.code, 0, "{}", run.output);
    let (_, data) = secret_data(&env, &ns, "deploy").await;
    let public = data["identity.pub"].as_str().unwrap();
    assert!(public.starts_with("ssh-ed25519 "));
    assert_eq!(data["known_hosts"], sshd.known_hosts.trim());
    assert!(data["identity"].as_str().unwrap().contains("PRIVATE KEY"));
    // Flux prints the deploy key (with its newline) and then the result.
    assert_eq!(
        run.output,
        format!("✚ deploy key: {public}\n► git secret 'deploy' created in '{ns}' namespace\n")
    );
    // The private key never appears in the output.
    assert!(!run.output.contains("PRIVATE KEY"));
}

#[tokio::test]
async fn tenant_is_applied() {
    let env = Env::start().await;
    let command = "create tenant dev-team --with-namespace=apps-t1 --label=env=dev";
    let run = env.run(command).await;
    assert_output(
        &run,
        "► applying namespace apps-t1\n► applying service account dev-team\n► applying role binding dev-team-reconciler\n✔ tenant setup completed\n",
    );
    let labels = json!({"env": "dev", "toolkit.fluxcd.io/tenant": "dev-team"});
    let ns = env
        .get(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps-t1"}}))
        .await
        .expect("namespace");
    assert_eq!(
        ns["metadata"]["labels"]["toolkit.fluxcd.io/tenant"],
        "dev-team"
    );
    let sa = env
        .get(&json!({"apiVersion": "v1", "kind": "ServiceAccount",
                      "metadata": {"name": "dev-team", "namespace": "apps-t1"}}))
        .await
        .expect("service account");
    assert_eq!(sa["metadata"]["labels"], labels);
    let rb_ref = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                        "metadata": {"name": "dev-team-reconciler", "namespace": "apps-t1"}});
    let rb = env.get(&rb_ref).await.expect("role binding");
    assert_eq!(rb["roleRef"]["name"], "cluster-admin");
    assert_eq!(rb["subjects"][0]["name"], "gotk:apps-t1:reconciler");
    assert_eq!(rb["subjects"][1]["name"], "dev-team");
    let uid = rb["metadata"]["uid"].clone();

    // Again: nothing changes.
    let run = env.run(command).await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(env.get(&rb_ref).await.unwrap()["metadata"]["uid"], uid);

    // Another cluster role: the role binding is recreated.
    let run = env.run(&format!("{command} --cluster-role=view")).await;
    assert_eq!(run.code, 0, "{}", run.output);
    let rb = env.get(&rb_ref).await.unwrap();
    assert_eq!(rb["roleRef"]["name"], "view");
    assert_ne!(rb["metadata"]["uid"], uid);

    // --skip-namespace with an existing namespace.
    env.namespace("apps-t2").await;
    let run = env
        .run("create tenant dev-team --with-namespace=apps-t2 --skip-namespace")
        .await;
    assert_output(
        &run,
        "► applying service account dev-team\n► applying role binding dev-team-reconciler\n✔ tenant setup completed\n",
    );
}
