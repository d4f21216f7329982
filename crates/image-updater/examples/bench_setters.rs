//! Benchmark for `setters::Setters::update_dir`: a generated 3,000-file repository
//! (Deployments, Kustomizations, HelmReleases, Services, ConfigMaps; about a third carry
//! setter markers for a handful of policies, the rest do not contain the token).
//!
//! Run: `cargo run -p gitops-image-updater --release --example bench_setters`
//! (optional argument: the number of files, default 3000).

use gitops_image_updater::setters::{PolicyImage, Setters};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

const POLICIES: [(&str, &str, &str); 5] = [
    ("podinfo", "ghcr.io/stefanprodan/podinfo", "6.5.1"),
    ("nginx", "nginx", "1.25.3"),
    ("redis", "docker.io/library/redis", "7.2.4"),
    ("api", "registry.example.com/team/api", "20240102"),
    ("web", "registry.example.com/team/web", "v2.14.0"),
];

fn marker(policy: &str, suffix: &str) -> String {
    format!("# {{\"$imagepolicy\": \"flux-system:{policy}{suffix}\"}}")
}

fn deployment(name: &str, marked: Option<usize>) -> String {
    let (policy, image, _) = POLICIES[marked.unwrap_or(0)];
    let comment = marked.map_or(String::new(), |_| format!(" {}", marker(policy, "")));
    format!(
        "---
# Deployment {name}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: apps
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: {name}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
      annotations:
        prometheus.io/scrape: \"true\"
    spec:
      serviceAccountName: {name}
      containers:
        - name: app
          image: {image}:1.0.0{comment}
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          env:
            - name: LOG_LEVEL
              value: info
            - name: FEATURE_FLAGS
              value: \"a,b,c\"
          resources:
            requests:
              cpu: 100m
              memory: 64Mi
            limits:
              memory: 256Mi
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
"
    )
}

fn kustomization(marked: Option<usize>) -> String {
    let images = match marked {
        Some(i) => {
            let (policy, image, _) = POLICIES[i];
            format!(
                "images:
  - name: app
    newName: {image} {}
    newTag: 1.0.0 {}
",
                marker(policy, ":name"),
                marker(policy, ":tag")
            )
        }
        None => "images:\n  - name: app\n    newTag: 1.0.0\n".to_owned(),
    };
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: apps
resources:
  - deployment.yaml
  - service.yaml
  - configmap.yaml
commonLabels:
  team: shop
{images}"
    )
}

fn helmrelease(name: &str, marked: Option<usize>) -> String {
    let (policy, image, _) = POLICIES[marked.unwrap_or(0)];
    let (c1, c2) = match marked {
        Some(_) => (
            format!(" {}", marker(policy, ":name")),
            format!(" {}", marker(policy, ":tag")),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        "apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: apps
spec:
  interval: 10m
  chart:
    spec:
      chart: app
      version: \"1.x\"
      sourceRef:
        kind: HelmRepository
        name: charts
        namespace: flux-system
  install:
    remediation:
      retries: 3
  values:
    replicaCount: 2
    image:
      repository: {image}{c1}
      tag: \"1.0.0\"{c2}
    ingress:
      enabled: true
      hosts:
        - host: {name}.example.com
          paths: [\"/\"]
"
    )
}

fn service(name: &str) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: apps
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: {name}
  ports:
    - name: http
      port: 80
      targetPort: http
"
    )
}

fn configmap(name: &str) -> String {
    let mut data = String::new();
    for i in 0..20 {
        let _ = writeln!(data, "  key{i}: \"value {i} for {name}\"");
    }
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-config\n  namespace: apps\ndata:\n{data}"
    )
}

/// Write `files` files, five per application directory; about a third have markers.
fn generate(root: &Path, files: usize) -> std::io::Result<(usize, u64)> {
    let mut marked = 0;
    let mut bytes = 0u64;
    let mut n = 0;
    let mut app = 0;
    let mut k = 0usize;
    while n < files {
        let name = format!("app-{app:04}");
        let dir = root.join(format!("apps/team-{}/{name}", app % 12));
        std::fs::create_dir_all(&dir)?;
        for file in [
            "deployment.yaml",
            "kustomization.yaml",
            "helmrelease.yaml",
            "service.yaml",
            "configmap.yaml",
        ] {
            if n == files {
                break;
            }
            // Five of every nine image-bearing files (three of five kinds): a third of all.
            let image_bearing = !matches!(file, "service.yaml" | "configmap.yaml");
            let mark = if image_bearing {
                k += 1;
                (k % 9 < 5).then_some(k % POLICIES.len())
            } else {
                None
            };
            let content = match file {
                "deployment.yaml" => deployment(&name, mark),
                "kustomization.yaml" => kustomization(mark),
                "helmrelease.yaml" => helmrelease(&name, mark),
                // Services and ConfigMaps carry no image: never marked.
                "service.yaml" => service(&name),
                _ => configmap(&name),
            };
            if content.contains("\"$imagepolicy\"") {
                marked += 1;
            }
            bytes += content.len() as u64;
            std::fs::write(dir.join(file), content)?;
            n += 1;
        }
        app += 1;
    }
    Ok((marked, bytes))
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 3000,
    };
    let repo = tempfile::tempdir()?;
    let t = Instant::now();
    let (marked, bytes) = generate(repo.path(), files)?;
    println!(
        "generated {files} files ({:.1} MiB, {marked} with markers) in {:.0?}",
        bytes as f64 / (1024.0 * 1024.0),
        t.elapsed()
    );
    let rss_before = vm_hwm_kib();

    let setters = Setters::new(
        &POLICIES
            .iter()
            .map(|(name, image, tag)| PolicyImage {
                namespace: "flux-system".into(),
                name: (*name).into(),
                image: (*image).into(),
                tag: (*tag).into(),
                digest: None,
            })
            .collect::<Vec<_>>(),
    );

    let t = Instant::now();
    let report = setters.update_dir(repo.path(), "./apps")?;
    let first = t.elapsed();
    println!(
        "update_dir (writes): {first:.1?}  scanned {}  changed {}  changes {}  problem files {}",
        report.scanned,
        report.files.len(),
        report
            .files
            .values()
            .flat_map(|o| o.values())
            .map(Vec::len)
            .sum::<usize>(),
        report.problem_files.len(),
    );

    let t = Instant::now();
    let again = setters.update_dir(repo.path(), "./apps")?;
    println!(
        "update_dir (up to date, nothing written): {:.1?}  scanned {}  changed {}",
        t.elapsed(),
        again.scanned,
        again.files.len()
    );

    if let (Some(before), Some(after)) = (rss_before, vm_hwm_kib()) {
        println!(
            "peak RSS (VmHWM): {:.1} MiB (after generating: {:.1} MiB)",
            after as f64 / 1024.0,
            before as f64 / 1024.0
        );
    }
    Ok(())
}
