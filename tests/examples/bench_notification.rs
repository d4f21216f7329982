//! Benchmark (notification): events per second through the notification controller's
//! event endpoint to a `generic` provider, and webhook receiver requests per second.
//!
//! The notification controller runs as its own `gitops` process against the embedded API
//! server (another one). Phase 1 posts N distinct events (32 at a time) for Kustomizations
//! matched by one Alert whose generic Provider is a local HTTP server; it reports how fast
//! they were accepted (202) and how fast all N reached the provider. Phase 2 sends M signed
//! requests to a `generic-hmac` Receiver for a GitRepository; each one verifies the
//! signature and annotates the GitRepository (a PATCH to the API server) before answering
//! 200. Prints both rates and the controller's peak RSS.
//!
//! Run through `tests/bench/notification.sh`, or:
//! `cargo run -p gitops-tests --example bench_notification -- <path to gitops> [N] [M]`.

use futures::StreamExt;
use gitops_tests::{CaptureServer, bench, free_port, wait_until};
use kube::api::{Api, PostParams};
use serde_json::json;
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 32;

async fn create<K>(client: &kube::Client, v: serde_json::Value) -> anyhow::Result<()>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(v)?;
    Api::<K>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &obj)
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (gitops, n, more) = bench::args(10_000);
    let m: usize = more.first().and_then(|s| s.parse().ok()).unwrap_or(2_000);
    let tmp = tempfile::tempdir()?;
    let (_api, kubeconfig, client) = bench::start_api_server(&gitops, tmp.path()).await?;
    let sink = CaptureServer::start().await;

    let (ep, rp) = (free_port(), free_port());
    let controller = gitops_tests::ChildGuard(bench::spawn_controller(
        &gitops,
        "notification-controller",
        &kubeconfig,
        &[
            format!("--events-listen-addr=127.0.0.1:{ep}"),
            format!("--receiver-addr=127.0.0.1:{rp}"),
        ],
    )?);
    let pid = controller.0.id();

    create::<gitops_api::Provider>(
        &client,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
               "metadata": {"name": "sink", "namespace": "default"},
               "spec": {"type": "generic", "address": format!("{}/events", sink.url)}}),
    )
    .await?;
    create::<gitops_api::Alert>(
        &client,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
               "metadata": {"name": "all", "namespace": "default"},
               "spec": {"providerRef": {"name": "sink"},
                        "eventSources": [{"kind": "Kustomization", "name": "*"}]}}),
    )
    .await?;
    let http = reqwest::Client::new();
    let events_url = format!("http://127.0.0.1:{ep}/");
    // up, and the Alert seen: one event delivered
    let event = |i: usize| {
        json!({
            "involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                               "kind": "Kustomization", "name": format!("app-{}", i % 100),
                               "namespace": "default"},
            "severity": "info", "timestamp": "2026-12-04T00:00:00Z",
            "message": format!("Reconciliation finished in 1.2s, next run in 10m ({i})"),
            "reason": "ReconciliationSucceeded",
            "metadata": {"kustomize.toolkit.fluxcd.io/revision": format!("main@sha1:{i:040x}")},
            "reportingController": "kustomize-controller",
        })
    };
    wait_until(Duration::from_secs(30), || async {
        http.post(&events_url)
            .json(&event(usize::MAX))
            .send()
            .await
            .ok()?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        (sink.count() > 0).then_some(())
    })
    .await
    .ok_or_else(|| anyhow::anyhow!("the notification controller delivered nothing"))?;
    let base = sink.count();

    let started = Instant::now();
    let accepted = futures::stream::iter(0..n)
        .map(|i| {
            let (http, url, body) = (http.clone(), events_url.clone(), event(i));
            async move {
                http.post(url)
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().as_u16() == 202)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let accept_time = started.elapsed();
    wait_until(Duration::from_secs(300), || async {
        (sink.count() >= base + accepted).then_some(())
    })
    .await;
    let deliver_time = started.elapsed();
    let delivered = sink.count() - base;
    println!(
        "events: {accepted}/{n} accepted in {:.2}s ({:.0}/s); {delivered} delivered to the generic provider in {:.2}s ({:.0}/s)",
        accept_time.as_secs_f64(),
        accepted as f64 / accept_time.as_secs_f64(),
        deliver_time.as_secs_f64(),
        delivered as f64 / deliver_time.as_secs_f64(),
    );

    // receivers
    create::<k8s_openapi::api::core::v1::Secret>(
        &client,
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "token", "namespace": "default"},
               "stringData": {"token": "bench-token"}}),
    )
    .await?;
    create::<gitops_api::GitRepository>(
        &client,
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "repo", "namespace": "default"},
               "spec": {"url": "https://example.com/repo.git", "interval": "1h"}}),
    )
    .await?;
    create::<gitops_api::Receiver>(
        &client,
        json!({"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
               "metadata": {"name": "hook", "namespace": "default"},
               "spec": {"type": "generic-hmac", "secretRef": {"name": "token"},
                        "resources": [{"kind": "GitRepository", "name": "repo"}]}}),
    )
    .await?;
    let receivers: Api<gitops_api::Receiver> = Api::namespaced(client.clone(), "default");
    let path = wait_until(Duration::from_secs(30), || async {
        receivers.get("hook").await.ok()?.status?.webhook_path
    })
    .await
    .ok_or_else(|| anyhow::anyhow!("the Receiver got no webhook path"))?;
    let hook = format!("http://127.0.0.1:{rp}{path}");
    // the receiver server reads Receivers from a watch: wait until it knows this one
    wait_until(Duration::from_secs(30), || async {
        let body = b"{}".to_vec();
        let r = http
            .post(&hook)
            .header(
                "X-Signature",
                format!(
                    "sha256={}",
                    gitops_tests::hmac_sha256_hex(b"bench-token", &body)
                ),
            )
            .body(body)
            .send()
            .await
            .ok()?;
        (r.status().as_u16() == 200).then_some(())
    })
    .await
    .ok_or_else(|| anyhow::anyhow!("the Receiver does not answer"))?;
    let started = Instant::now();
    let ok = futures::stream::iter(0..m)
        .map(|i| {
            let (http, url) = (http.clone(), hook.clone());
            async move {
                let body = format!("{{\"push\":{i}}}").into_bytes();
                let sig = format!(
                    "sha256={}",
                    gitops_tests::hmac_sha256_hex(b"bench-token", &body)
                );
                http.post(url)
                    .header("X-Signature", sig)
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().as_u16() == 200)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let t = started.elapsed();
    println!(
        "receiver: {ok}/{m} signed requests answered 200 (each annotating a GitRepository) in {:.2}s ({:.0}/s)",
        t.as_secs_f64(),
        ok as f64 / t.as_secs_f64()
    );
    bench::print_rss(bench::peak_rss_kib(pid));
    Ok(())
}
