//! Load generator for the embedded API server benchmark (see `bench/bench.sh`):
//! N ConfigMaps created by W concurrent clients while M watchers follow them, then full
//! lists. Prints writes/s, watch completion and list latency.
//!
//! `load --kubeconfig FILE [--objects 10000] [--writers 4] [--watchers 10]`

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher::{self, Event};
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn client(kubeconfig: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kubeconfig");
    kube::Client::try_from(config).expect("client")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kubeconfig = args
        .iter()
        .position(|a| a == "--kubeconfig")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .expect("--kubeconfig FILE");
    let objects = arg(&args, "--objects", 10_000);
    let writers = arg(&args, "--writers", 4).max(1);
    let watchers = arg(&args, "--watchers", 10);

    let admin = client(&kubeconfig).await;
    let ns: Api<Namespace> = Api::all(admin.clone());
    let _ = ns
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "bench"}})).unwrap(),
        )
        .await;

    // Watchers first, each with its own client, counting ADDED objects.
    let mut watch_tasks = Vec::new();
    for _ in 0..watchers {
        let c = client(&kubeconfig).await;
        let api: Api<ConfigMap> = Api::namespaced(c, "bench");
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        watch_tasks.push((
            ready_rx,
            tokio::spawn(async move {
                let mut seen = std::collections::HashSet::new();
                let mut ready = Some(ready_tx);
                let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
                while let Some(ev) = stream.next().await {
                    match ev {
                        Ok(Event::InitDone) => {
                            if let Some(r) = ready.take() {
                                let _ = r.send(());
                            }
                        }
                        Ok(Event::Apply(o)) | Ok(Event::InitApply(o)) => {
                            seen.insert(o.metadata.name.unwrap_or_default());
                            if seen.len() >= objects {
                                return Instant::now();
                            }
                        }
                        _ => {}
                    }
                }
                Instant::now()
            }),
        ));
    }
    let mut handles = Vec::new();
    for (ready, h) in watch_tasks {
        let _ = ready.await;
        handles.push(h);
    }

    let start = Instant::now();
    let mut writer_tasks = Vec::new();
    for w in 0..writers {
        let c = client(&kubeconfig).await;
        let api: Api<ConfigMap> = Api::namespaced(c, "bench");
        writer_tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < objects {
                let cm: ConfigMap = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("cm-{i:05}"), "labels": {"app": "bench", "writer": w.to_string()}},
                    "data": {"index": i.to_string(), "payload": "x".repeat(200)}
                }))
                .unwrap();
                api.create(&PostParams::default(), &cm).await.expect("create");
                i += writers;
            }
        }));
    }
    for t in writer_tasks {
        t.await.unwrap();
    }
    let write_time = start.elapsed();
    println!(
        "writes: {objects} ConfigMaps by {writers} clients in {:.2}s = {:.0} writes/s",
        write_time.as_secs_f64(),
        objects as f64 / write_time.as_secs_f64()
    );
    let mut last = start;
    for h in handles {
        let t = tokio::time::timeout(Duration::from_secs(120), h)
            .await
            .expect("watchers done")
            .unwrap();
        last = last.max(t);
    }
    println!(
        "watch: {watchers} watchers saw all {objects} objects {:.2}s after the first write",
        (last - start).as_secs_f64()
    );

    let api: Api<ConfigMap> = Api::namespaced(admin.clone(), "bench");
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let list = api.list(&ListParams::default()).await.expect("list");
        times.push(t.elapsed());
        assert_eq!(list.items.len(), objects);
    }
    times.sort();
    println!(
        "list: full list of {objects} objects: median {:.0} ms, best {:.0} ms (client decode included)",
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    let text = admin
        .request_text(
            http::Request::builder()
                .uri("/api/v1/namespaces/bench/configmaps")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .expect("raw list");
    println!(
        "list: raw response of {:.1} MiB in {:.0} ms",
        text.len() as f64 / (1024.0 * 1024.0),
        t.elapsed().as_secs_f64() * 1000.0
    );
}
