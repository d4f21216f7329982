//! What the runtime knows of a reconciled kind's status: the fields every Flux status has
//! ([`FluxStatus`]), where an object keeps it ([`HasStatus`]), and object references for
//! events.

use gitops_api::Condition;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The fields common to every Flux status.
pub trait FluxStatus:
    Serialize + DeserializeOwned + Default + Clone + PartialEq + std::fmt::Debug + Send + Sync
{
    /// `status.conditions`.
    fn conditions(&self) -> &Vec<Condition>;
    /// `status.conditions`, to change.
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    /// `status.observedGeneration`.
    fn observed_generation_mut(&mut self) -> &mut Option<i64>;
    /// `status.lastHandledReconcileAt`.
    fn last_handled_reconcile_at(&self) -> Option<&str>;
    /// `status.lastHandledReconcileAt`, to change.
    fn last_handled_reconcile_at_mut(&mut self) -> &mut Option<String>;
}

/// A kind whose objects carry a typed [`FluxStatus`].
pub trait HasStatus: Resource<DynamicType = ()> {
    /// The status type.
    type Status: FluxStatus;
    /// The object's status, if it has one.
    fn status(&self) -> Option<&Self::Status>;
}

/// The status of a source kind: an artifact and, for most, its URL.
pub trait SourceStatus: FluxStatus {
    /// The stored artifact, if any.
    fn artifact(&self) -> Option<&gitops_api::Artifact>;
    /// Records the stored artifact (and its URL in `status.url` where the kind has one).
    fn set_artifact(&mut self, artifact: gitops_api::Artifact);
}

macro_rules! flux_status {
    ($($kind:ty => $status:ty),* $(,)?) => {$(
        impl FluxStatus for $status {
            fn conditions(&self) -> &Vec<Condition> {
                &self.conditions
            }
            fn conditions_mut(&mut self) -> &mut Vec<Condition> {
                &mut self.conditions
            }
            fn observed_generation_mut(&mut self) -> &mut Option<i64> {
                &mut self.observed_generation
            }
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                self.last_handled_reconcile_at.as_deref()
            }
            fn last_handled_reconcile_at_mut(&mut self) -> &mut Option<String> {
                &mut self.last_handled_reconcile_at
            }
        }
        impl HasStatus for $kind {
            type Status = $status;
            fn status(&self) -> Option<&$status> {
                self.status.as_ref()
            }
        }
    )*};
}

flux_status!(
    gitops_api::GitRepository => gitops_api::source::GitRepositoryStatus,
    gitops_api::OCIRepository => gitops_api::source::OCIRepositoryStatus,
    gitops_api::HelmRepository => gitops_api::source::HelmRepositoryStatus,
    gitops_api::HelmChart => gitops_api::source::HelmChartStatus,
    gitops_api::Bucket => gitops_api::source::BucketStatus,
    gitops_api::Kustomization => gitops_api::kustomize::KustomizationStatus,
    gitops_api::HelmRelease => gitops_api::helm::HelmReleaseStatus,
    gitops_api::Receiver => gitops_api::notification::ReceiverStatus,
    gitops_api::ImageRepository => gitops_api::image::ImageRepositoryStatus,
    gitops_api::ImagePolicy => gitops_api::image::ImagePolicyStatus,
    gitops_api::ImageUpdateAutomation => gitops_api::image::ImageUpdateAutomationStatus,
    gitops_api::ArtifactGenerator => gitops_api::extensions::ArtifactGeneratorStatus,
);

macro_rules! source_status {
    (with_url: $($status:ty),*; without_url: $($plain:ty),* $(,)?) => {
        $(impl SourceStatus for $status {
            fn artifact(&self) -> Option<&gitops_api::Artifact> {
                self.artifact.as_ref()
            }
            fn set_artifact(&mut self, artifact: gitops_api::Artifact) {
                self.url = Some(artifact.url.clone());
                self.artifact = Some(artifact);
            }
        })*
        $(impl SourceStatus for $plain {
            fn artifact(&self) -> Option<&gitops_api::Artifact> {
                self.artifact.as_ref()
            }
            fn set_artifact(&mut self, artifact: gitops_api::Artifact) {
                self.artifact = Some(artifact);
            }
        })*
    };
}

source_status!(
    with_url: gitops_api::source::OCIRepositoryStatus, gitops_api::source::HelmRepositoryStatus,
        gitops_api::source::HelmChartStatus, gitops_api::source::BucketStatus;
    without_url: gitops_api::source::GitRepositoryStatus,
);

macro_rules! reconcilable {
    ($($kind:ty => |$o:ident| $interval:expr $(, retry: $retry:expr)?);* $(;)?) => {$(
        impl crate::reconcile::Reconcilable for $kind {
            fn interval(&self) -> std::time::Duration {
                let $o = self;
                $interval
            }
            fn suspended(&self) -> bool {
                self.spec.suspend
            }
            $(fn retry_interval(&self) -> Option<std::time::Duration> {
                let $o = self;
                $retry
            })?
        }
    )*};
}

reconcilable!(
    gitops_api::GitRepository => |o| o.spec.interval.get();
    gitops_api::OCIRepository => |o| o.spec.interval.get();
    gitops_api::HelmRepository => |o| o
        .spec
        .interval
        .as_ref()
        .map_or(std::time::Duration::from_secs(600), |i| i.get());
    gitops_api::HelmChart => |o| o.spec.interval.get();
    gitops_api::Bucket => |o| o.spec.interval.get();
    gitops_api::Kustomization => |o| o.spec.interval.get(), retry: Some(o.spec.retry_interval());
    gitops_api::HelmRelease => |o| o.spec.interval.get();
    gitops_api::Receiver => |o| o
        .spec
        .interval
        .as_ref()
        .map_or(std::time::Duration::from_secs(600), |i| i.get());
    gitops_api::ImageRepository => |o| o.spec.interval.get();
    // Flux re-evaluates policies when their repository's tags change; the interval only
    // matters for `digestReflectionPolicy: Always` (10 minutes when unset).
    gitops_api::ImagePolicy => |o| o
        .spec
        .interval
        .as_ref()
        .map_or(std::time::Duration::from_secs(600), |i| i.get());
    gitops_api::ImageUpdateAutomation => |o| o.spec.interval.get();
);

/// ArtifactGenerators have no interval or `suspend`: they are reconciled every hour (and
/// whenever a source changes), and `source.extensions.fluxcd.io/reconcile: disabled`
/// suspends them, as in Flux's source-watcher.
impl crate::reconcile::Reconcilable for gitops_api::ArtifactGenerator {
    fn interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(3600)
    }
    fn suspended(&self) -> bool {
        self.is_disabled()
    }
}

/// The data of Secret `name` in `namespace`; the error names the Secret and why it could
/// not be read (never its content).
pub async fn secret_data(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, String> {
    let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client.clone(), namespace);
    let s = api
        .get(name)
        .await
        .map_err(|e| format!("failed to get secret '{namespace}/{name}': {e}"))?;
    Ok(s.data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

/// A reference to `obj` for events (kind, name, namespace, uid, resource version).
pub fn object_ref<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).to_string()),
        kind: Some(K::kind(&()).to_string()),
        name: obj.meta().name.clone(),
        namespace: obj.meta().namespace.clone(),
        uid: obj.meta().uid.clone(),
        resource_version: obj.meta().resource_version.clone(),
        field_path: None,
    }
}

/// The proxy URL of a Flux proxy Secret (`spec.proxySecretRef`): `address` (required, an
/// `http://` or `https://` URL) with `username` and `password` (optional) as its user info.
/// Errors name the Secret and the key, never the password.
pub fn proxy_url(
    data: &std::collections::BTreeMap<String, Vec<u8>>,
    namespace: &str,
    name: &str,
) -> Result<String, String> {
    let text = |k: &str| {
        data.get(k)
            .map(|v| String::from_utf8_lossy(v).trim().to_owned())
    };
    let address = text("address")
        .ok_or_else(|| format!("secret '{namespace}/{name}': key 'address' not found"))?;
    if address.is_empty() {
        return Err(format!("secret '{namespace}/{name}': address is empty"));
    }
    // the address is quoted without its user info: that holds a password
    let shown = without_userinfo(&address);
    let (scheme, rest) = address.split_once("://").ok_or_else(|| {
        format!("secret '{namespace}/{name}': address {shown:?} is not an http(s):// URL")
    })?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains('@') {
        return Err(format!(
            "secret '{namespace}/{name}': address {shown:?} is not an http(s):// URL without user info"
        ));
    }
    let user = text("username").unwrap_or_default();
    let password = text("password").unwrap_or_default();
    if user.is_empty() && password.is_empty() {
        return Ok(address);
    }
    // RFC 3986 user info: everything but unreserved characters percent-encoded.
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    Ok(format!(
        "{scheme}://{}:{}@{rest}",
        enc(&user),
        enc(&password)
    ))
}

/// `address` with its user info (up to the last `@` before the path) replaced by `***`.
fn without_userinfo(address: &str) -> String {
    let (scheme, rest) = match address.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), address),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn proxy_secrets_as_flux_reads_them() {
        let data = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect()
        };
        let url = |kv: &[(&str, &str)]| super::proxy_url(&data(kv), "ns", "proxy");
        assert_eq!(
            url(&[("address", "http://proxy:3128")]).unwrap(),
            "http://proxy:3128"
        );
        assert_eq!(
            url(&[
                ("address", "http://proxy:3128"),
                ("username", "u"),
                ("password", "p@ss:w/rd")
            ])
            .unwrap(),
            "http://u:p%40ss%3Aw%2Frd@proxy:3128"
        );
        assert_eq!(
            url(&[]).unwrap_err(),
            "secret 'ns/proxy': key 'address' not found"
        );
        assert!(
            url(&[("address", "proxy:3128")])
                .unwrap_err()
                .contains("not an http(s):// URL")
        );
        let e = url(&[("address", "socks5://proxy"), ("password", "hunter2")]).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let e = url(&[("address", "http://u:hunter2@proxy:3128/x@y")]).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("\"http://***@proxy:3128/x@y\""), "{e}");
        let e = url(&[("address", "u:hunter2@proxy:3128")]).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
