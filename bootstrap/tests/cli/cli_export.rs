//! `gitops export …`: Flux's `export_test.go` cases against the embedded API server (the
//! API server's defaulting and Go's duration spelling included), and `--all`,
//! `--with-credentials`, missing objects.

use crate::common;

use common::{Env, allocate_namespace, assert_error, assert_output, golden};

#[tokio::test]
async fn export_cases() {
    let env = Env::start().await;
    let ns = allocate_namespace("flux-system");
    let vars = [("fluxns", ns.as_str())];
    env.create_file("export/objects.yaml", &vars).await;
    for (args, file) in [
        ("export alert-provider slack", "export/provider.yaml"),
        ("export alert flux-system", "export/alert.yaml"),
        (
            "export image policy flux-system",
            "export/image-policy.yaml",
        ),
        (
            "export image repository flux-system",
            "export/image-repo.yaml",
        ),
        (
            "export image update flux-system",
            "export/image-update.yaml",
        ),
        ("export source git flux-system", "export/git-repo.yaml"),
        ("export source chart flux-system", "export/helm-chart.yaml"),
        ("export source helm flux-system", "export/helm-repo.yaml"),
        ("export receiver flux-system", "export/receiver.yaml"),
        ("export kustomization flux-system", "export/ks.yaml"),
        ("export helmrelease flux-system", "export/helm-release.yaml"),
        ("export source bucket flux-system", "export/bucket.yaml"),
        (
            "export source external flux-system",
            "export/external-artifact.yaml",
        ),
    ] {
        let run = env.run(&format!("{args} -n={ns}")).await;
        assert_output(&run, &golden(file, &vars));
    }

    // --all prints every object of the kind; an empty namespace is an error.
    let run = env.run(&format!("export source git --all -n={ns}")).await;
    assert_output(&run, &golden("export/git-repo.yaml", &vars));
    let empty = allocate_namespace("empty");
    env.namespace(&empty).await;
    assert_error(
        &env.run(&format!("export source git --all -n={empty}"))
            .await,
        &format!("no objects found in {empty} namespace"),
    );
    assert_error(
        &env.run(&format!("export source git -n={ns}")).await,
        "name is required",
    );
    assert_error(
        &env.run(&format!("export source git missing -n={ns}")).await,
        "gitrepositories.source.toolkit.fluxcd.io \"missing\" not found",
    );

    // --with-credentials adds the source's Secret (data and type only).
    env.create(&serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "flux-system", "namespace": ns, "labels": {"x": "y"}},
        "type": "Opaque",
        "stringData": {"username": "git", "password": "s3cret"}
    }))
    .await;
    let run = env
        .run(&format!(
            "export source git flux-system --with-credentials -n={ns}"
        ))
        .await;
    let expected = format!(
        "{}---\napiVersion: v1\ndata:\n  password: czNjcmV0\n  username: Z2l0\nkind: Secret\nmetadata:\n  name: flux-system\n  namespace: {ns}\ntype: Opaque\n",
        golden("export/git-repo.yaml", &vars)
    );
    assert_output(&run, &expected);
}
