//! `helmCharts` goes through the caller's `ChartRenderer`; without one it is an error.

use gitops_kustomize::{BuildOptions, ChartRenderer, ChartRequest, build_to_string};
use std::sync::{Arc, Mutex};

struct Fake {
    seen: Mutex<Vec<ChartRequest>>,
}

impl ChartRenderer for Fake {
    fn render(&self, req: &ChartRequest) -> Result<String, String> {
        self.seen
            .lock()
            .map_err(|e| e.to_string())?
            .push(req.clone());
        let replicas = req
            .values
            .get("replicas")
            .and_then(|v| v.scalar_string())
            .unwrap_or_default();
        Ok(format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}-cm\ndata:\n  replicas: \"{replicas}\"\n",
            req.release_name
        ))
    }
}

fn setup() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let root = d.path();
    std::fs::create_dir_all(root.join("charts/app/templates")).expect("mkdir");
    std::fs::write(
        root.join("charts/app/Chart.yaml"),
        "name: app\nversion: 1.0.0\n",
    )
    .expect("w");
    std::fs::write(root.join("values.yaml"), "replicas: 2\nimage: {tag: a}\n").expect("w");
    std::fs::write(
        root.join("kustomization.yaml"),
        "namePrefix: p-\nhelmCharts:\n- name: app\n  releaseName: rel\n  namespace: ns\n  valuesFile: values.yaml\n  valuesInline: {replicas: 5}\n",
    )
    .expect("w");
    d
}

#[test]
fn charts_are_rendered_by_the_configured_renderer() {
    let d = setup();
    let fake = Arc::new(Fake {
        seen: Mutex::new(Vec::new()),
    });
    let opts = BuildOptions {
        chart_renderer: Some(fake.clone()),
        ..Default::default()
    };
    let out = build_to_string(d.path(), &opts).expect("build");
    assert_eq!(
        out,
        "apiVersion: v1\ndata:\n  replicas: \"5\"\nkind: ConfigMap\nmetadata:\n  name: p-rel-cm\n"
    );
    let seen = fake.seen.lock().expect("lock");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].namespace, "ns");
    assert!(seen[0].chart_dir.ends_with("charts/app"));
    assert_eq!(
        seen[0]
            .values
            .get_path(&["image", "tag"])
            .and_then(|v| v.scalar_string()),
        Some("a".to_string())
    );
}

#[test]
fn charts_without_a_renderer_are_a_clear_error() {
    let d = setup();
    let err = build_to_string(d.path(), &BuildOptions::default())
        .expect_err("no renderer")
        .to_string();
    assert!(err.contains("no chart renderer is configured"), "{err}");
}
