//! `gitops create tenant`: the namespaces, service accounts and role bindings that limit the
//! reconcilers' scope to a tenant's namespaces, as `flux create tenant` generates them.

use super::secret::with_timeout;
use crate::cli::flags::{StringSlice, flatten, string_slice};
use crate::cli::{Global, log};
use anyhow::bail;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const TENANT_LABEL: &str = "toolkit.fluxcd.io/tenant";

/// Flags.
#[derive(clap::Args)]
pub struct Args {
    /// Name.
    name: Option<String>,
    /// Namespace belonging to this tenant.
    #[arg(long = "with-namespace", value_parser = string_slice)]
    namespaces: Option<Vec<StringSlice>>,
    /// Cluster role of the tenant role binding.
    #[arg(long, default_value = "cluster-admin")]
    cluster_role: String,
    /// Service account belonging to this tenant.
    #[arg(long = "with-service-account", default_value = "")]
    account: String,
    /// Skip namespace creation (namespace must exist already).
    #[arg(long)]
    skip_namespace: bool,
}

/// The objects of one tenant namespace.
struct TenantObjects {
    namespace: Value,
    account: Value,
    role_binding: Value,
}

/// Runs the command.
pub fn run(args: Args, common: &super::Common, global: &Global) -> anyhow::Result<()> {
    let tenant = common.name(&args.name)?;
    let errs = qualified_name_errors(&tenant);
    if !errs.is_empty() {
        bail!("invalid tenant name '{tenant}': [{}]", errs.join(" "));
    }
    if args.cluster_role.is_empty() {
        bail!("cluster-role is required");
    }
    let Some(namespaces) = args.namespaces.map(flatten) else {
        bail!("with-namespace is required");
    };
    let mut tenants = Vec::new();
    for ns in &namespaces {
        let errs = qualified_name_errors(ns);
        if !errs.is_empty() {
            bail!("invalid namespace '{ns}': [{}]", errs.join(" "));
        }
        let mut labels: BTreeMap<String, String> = common.labels()?;
        labels.insert(TENANT_LABEL.into(), tenant.clone());
        let account = if args.account.is_empty() {
            tenant.clone()
        } else {
            args.account.clone()
        };
        let errs = qualified_name_errors(&account);
        if !errs.is_empty() {
            bail!(
                "invalid service-account name '{account}': [{}]",
                errs.join(" ")
            );
        }
        tenants.push(TenantObjects {
            namespace: json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"labels": labels, "name": ns},
            }),
            account: json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"labels": labels, "name": account, "namespace": ns},
            }),
            role_binding: json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {
                    "labels": labels,
                    "name": format!("{tenant}-reconciler"),
                    "namespace": ns,
                },
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": args.cluster_role,
                },
                "subjects": [
                    {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "User",
                        "name": format!("gotk:{ns}:reconciler"),
                    },
                    {"kind": "ServiceAccount", "name": account, "namespace": ns},
                ],
            }),
        });
    }
    if common.export {
        let mut text = String::new();
        for t in &tenants {
            if !args.skip_namespace {
                text.push_str(&crate::cli::yaml::document(&t.namespace)?);
            }
            text.push_str(&crate::cli::yaml::document(&t.account)?);
            text.push_str(&crate::cli::yaml::document(&t.role_binding)?);
        }
        use std::io::Write;
        return std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| anyhow::anyhow!("writing to stdout: {e}"));
    }
    crate::cli::global::block_on(with_timeout(global, async {
        let client = global.client().await?;
        for t in &tenants {
            if !args.skip_namespace {
                log::action(format!(
                    "applying namespace {}",
                    t.namespace["metadata"]["name"].as_str().unwrap_or_default()
                ));
                let api: kube::Api<Namespace> = kube::Api::all(client.clone());
                upsert_labeled(api, &t.namespace).await?;
            }
            log::action(format!(
                "applying service account {}",
                t.account["metadata"]["name"].as_str().unwrap_or_default()
            ));
            let ns = t.account["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default();
            let api: kube::Api<ServiceAccount> = kube::Api::namespaced(client.clone(), ns);
            upsert_labeled(api, &t.account).await?;
            log::action(format!(
                "applying role binding {}",
                t.role_binding["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
            ));
            upsert_role_binding(&client, &t.role_binding).await?;
        }
        Ok(())
    }))?;
    log::success("tenant setup completed");
    Ok(())
}

/// Creates the object, or replaces the labels of an existing one when the desired labels
/// are not all there (Flux's `upsertNamespace` and `upsertServiceAccount`).
async fn upsert_labeled<K>(api: kube::Api<K>, desired: &Value) -> anyhow::Result<()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + k8s_openapi::serde::Serialize
        + k8s_openapi::serde::de::DeserializeOwned,
{
    use kube::api::PostParams;
    let name = desired["metadata"]["name"].as_str().unwrap_or_default();
    match api.get_opt(name).await? {
        None => {
            let obj: K = serde_json::from_value(desired.clone())?;
            api.create(&PostParams::default(), &obj).await?;
        }
        Some(existing) => {
            let mut live = serde_json::to_value(&existing)?;
            let wanted = &desired["metadata"]["labels"];
            if !derivative(wanted, &live["metadata"]["labels"]) {
                live["metadata"]["labels"] = wanted.clone();
                let obj: K = serde_json::from_value(live)?;
                api.replace(name, &PostParams::default(), &obj).await?;
            }
        }
    }
    Ok(())
}

/// Creates the role binding, or recreates it when its subjects, role or labels differ (a
/// role binding's role cannot change in place).
async fn upsert_role_binding(client: &kube::Client, desired: &Value) -> anyhow::Result<()> {
    use k8s_openapi::api::rbac::v1::RoleBinding;
    use kube::api::{DeleteParams, PostParams};
    let name = desired["metadata"]["name"].as_str().unwrap_or_default();
    let ns = desired["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    let api: kube::Api<RoleBinding> = kube::Api::namespaced(client.clone(), ns);
    let obj: RoleBinding = serde_json::from_value(desired.clone())?;
    if let Some(existing) = api.get_opt(name).await? {
        let live = serde_json::to_value(&existing)?;
        let same = derivative(&desired["subjects"], &live["subjects"])
            && derivative(&desired["roleRef"], &live["roleRef"])
            && derivative(&desired["metadata"]["labels"], &live["metadata"]["labels"]);
        if same {
            return Ok(());
        }
        api.delete(name, &DeleteParams::default()).await?;
        // Wait until it is gone before creating it again.
        for _ in 0..100 {
            if api.get_opt(name).await?.is_none() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    api.create(&PostParams::default(), &obj).await?;
    Ok(())
}

/// Kubernetes' `equality.Semantic.DeepDerivative` over JSON: whether everything set in `a`
/// is equal in `b` (unset and empty values in `a` are ignored; lists must have the same
/// length).
fn derivative(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, _) => true,
        (Value::String(s), _) if s.is_empty() => true,
        (Value::Object(m), _) if m.is_empty() => true,
        (Value::Object(ma), Value::Object(mb)) => ma
            .iter()
            .all(|(k, va)| derivative(va, mb.get(k).unwrap_or(&Value::Null))),
        (Value::Array(xa), Value::Array(xb)) => {
            xa.len() == xb.len() && xa.iter().zip(xb).all(|(x, y)| derivative(x, y))
        }
        (Value::Array(xa), Value::Null) => xa.is_empty(),
        (a, b) => a == b,
    }
}

/// Kubernetes' `validation.IsQualifiedName` messages (empty when valid).
fn qualified_name_errors(value: &str) -> Vec<String> {
    const NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
    const NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
    const SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
    let name_regex_error = format!(
        "{NAME_MSG} (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{NAME_FMT}')"
    );
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts[..] {
        [name] => name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                if prefix.len() > 253 {
                    errs.push("prefix part must be no more than 253 characters".to_owned());
                }
                let label_ok = |l: &str| {
                    !l.is_empty()
                        && l.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                };
                if !prefix.split('.').all(label_ok) {
                    errs.push(format!(
                        "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{SUBDOMAIN_FMT}')"
                    ));
                }
            }
            name
        }
        _ => {
            errs.push(format!(
                "a qualified name {name_regex_error} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_owned());
    }
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let valid = !name.is_empty()
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name
            .chars()
            .all(|c| alnum(c) || matches!(c, '-' | '_' | '.'));
    if !valid {
        errs.push(format!("name part {name_regex_error}"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        assert!(qualified_name_errors("dev-team").is_empty());
        assert!(qualified_name_errors("example.com/MyName").is_empty());
        assert_eq!(
            qualified_name_errors("-x"),
            [
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ]
        );
        assert_eq!(
            qualified_name_errors("/x"),
            ["prefix part must be non-empty"]
        );
        assert_eq!(qualified_name_errors("a/b/c").len(), 1);
    }

    #[test]
    fn derivative_semantics() {
        assert!(derivative(&json!({"a": "1"}), &json!({"a": "1", "b": "2"})));
        assert!(!derivative(&json!({"a": "1"}), &json!({"a": "2"})));
        assert!(!derivative(&json!({"a": "1"}), &Value::Null));
        assert!(derivative(
            &json!([{"kind": "User", "apiGroup": ""}]),
            &json!([{"kind": "User"}])
        ));
        assert!(!derivative(&json!([1]), &json!([1, 2])));
    }
}
