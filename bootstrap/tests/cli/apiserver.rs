//! `gitops apiserver` as a process: writes the server acknowledged survive `kill -9`, and the
//! restarted server keeps its token, CA and resource-version sequence.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `gitops apiserver` on a free port and waits for a fresh kubeconfig.
fn start(state: &Path, extra: &[&str]) -> Server {
    let kubeconfig = state.join("kubeconfig");
    let _ = std::fs::remove_file(&kubeconfig);
    let child = Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args(["apiserver", "--listen", "127.0.0.1:0", "--state"])
        .arg(state)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gitops apiserver starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kubeconfig.exists() {
        assert!(Instant::now() < deadline, "no kubeconfig after 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The file is written atomically after the listener is bound.
    Server(child)
}

async fn client(state: &Path) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(state.join("kubeconfig")).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn kubeconfig_user(state: &Path) -> (String, String) {
    let text = std::fs::read_to_string(state.join("kubeconfig")).unwrap();
    let kc = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    let token = kc.auth_infos[0]
        .auth_info
        .as_ref()
        .and_then(|a| a.token.as_ref())
        .map(|t| format!("{t:?}"))
        .unwrap_or_default();
    let ca = kc.clusters[0]
        .cluster
        .as_ref()
        .and_then(|c| c.certificate_authority_data.clone())
        .unwrap_or_default();
    (token, ca)
}

/// The default: acknowledged from the write-ahead log, flushed within 100 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9() {
    kill_9_keeps_acknowledged_writes(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9_with_fsync_every_write() {
    kill_9_keeps_acknowledged_writes(&["--fsync-every-write"]).await;
}

async fn kill_9_keeps_acknowledged_writes(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut server = start(&state, extra);
    let before = kubeconfig_user(&state);
    let client = client(&state).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");

    // Four writers create ConfigMaps as fast as they can; the test records every create the
    // server acknowledged, and kills the server (SIGKILL) while writes are in flight.
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..4 {
        let api = api.clone();
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("cm-{w}-{i}");
                let cm: ConfigMap = serde_json::from_value(json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name},
                    "data": {"writer": w.to_string(), "seq": i.to_string()}
                }))
                .unwrap();
                match api.create(&PostParams::default(), &cm).await {
                    Ok(created) => {
                        let rv = created.metadata.resource_version.unwrap().parse().unwrap();
                        acked.lock().unwrap().push((name, rv));
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 {
        assert!(Instant::now() < deadline, "fewer than 300 writes in 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    let max_rv = acked.iter().map(|(_, rv)| *rv).max().unwrap();

    let _server = start(&state, extra);
    assert_eq!(
        kubeconfig_user(&state),
        before,
        "the restarted server keeps its token and CA"
    );
    let api: Api<ConfigMap> = Api::namespaced(client_retry(&state).await, "default");
    let list = api.list(&ListParams::default()).await.unwrap();
    let present: std::collections::HashMap<String, ConfigMap> = list
        .items
        .into_iter()
        .map(|c| (c.metadata.name.clone().unwrap(), c))
        .collect();
    for (name, rv) in &acked {
        let cm = present
            .get(name)
            .unwrap_or_else(|| panic!("acknowledged ConfigMap {name} lost after kill -9"));
        assert_eq!(
            cm.metadata.resource_version.as_deref(),
            Some(rv.to_string().as_str()),
            "{name} keeps its resourceVersion"
        );
    }
    // No torn objects: everything present parses and carries its data.
    for cm in present.values() {
        assert!(cm.data.as_ref().is_some_and(|d| d.contains_key("seq")));
    }
    // The resource version sequence continues after the restart.
    let next = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after-restart"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let next_rv: u64 = next.metadata.resource_version.unwrap().parse().unwrap();
    assert!(
        next_rv > max_rv,
        "resourceVersion {next_rv} after restart must exceed {max_rv}"
    );
    let list_rv: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    assert!(list_rv >= max_rv);
}

/// A client for a server that just started (the first request may race its readiness).
async fn client_retry(state: &Path) -> kube::Client {
    let client = client(state).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match client.apiserver_version().await {
            Ok(_) => return client,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("restarted server does not answer: {e}"),
        }
    }
}
