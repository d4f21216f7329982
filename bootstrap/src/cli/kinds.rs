//! The Flux kinds as the CLI names them (`source git`, `image policy`, …) and the dynamic
//! API handles the commands read and write them through.

use gitops_api::FluxKind as _;
use gitops_api::crd::KindInfo;
use kube::api::{Api, ApiResource, DynamicObject};

/// A Flux kind and the words the CLI uses for it.
#[derive(Clone, Copy, Debug)]
pub struct FluxKind {
    /// Group, version, kind, plural.
    pub info: &'static KindInfo,
    /// How messages name it: `source git`, `kustomization`, `image policy`.
    pub human: &'static str,
}

macro_rules! kinds {
    ($($name:ident = $ty:ty, $human:literal;)*) => {
        $(
        #[doc = concat!("`", $human, "`")]
        pub const $name: FluxKind = FluxKind { info: &<$ty>::INFO, human: $human };
        )*
    };
}

kinds! {
    GIT_REPOSITORY = gitops_api::GitRepository, "source git";
    OCI_REPOSITORY = gitops_api::OCIRepository, "source oci";
    HELM_REPOSITORY = gitops_api::HelmRepository, "source helm";
    HELM_CHART = gitops_api::HelmChart, "source chart";
    BUCKET = gitops_api::Bucket, "source bucket";
    EXTERNAL_ARTIFACT = gitops_api::ExternalArtifact, "source external-artifact";
    KUSTOMIZATION = gitops_api::Kustomization, "kustomization";
    HELM_RELEASE = gitops_api::HelmRelease, "helmrelease";
    IMAGE_REPOSITORY = gitops_api::ImageRepository, "image repository";
    IMAGE_POLICY = gitops_api::ImagePolicy, "image policy";
    IMAGE_UPDATE_AUTOMATION = gitops_api::ImageUpdateAutomation, "image update automation";
    ALERT_PROVIDER = gitops_api::Provider, "alert provider";
    ALERT = gitops_api::Alert, "alert";
    RECEIVER = gitops_api::Receiver, "receiver";
    ARTIFACT_GENERATOR = gitops_api::ArtifactGenerator, "artifact generator";
}

impl FluxKind {
    /// The kind's name, e.g. `GitRepository`.
    pub fn kind(&self) -> &'static str {
        self.info.kind
    }

    /// The dynamic API resource.
    pub fn resource(&self) -> ApiResource {
        ApiResource {
            group: self.info.group.to_owned(),
            version: self.info.version.to_owned(),
            api_version: self.info.api_version(),
            kind: self.info.kind.to_owned(),
            plural: self.info.plural.to_owned(),
        }
    }

    /// Objects of this kind in `namespace`, or in every namespace when `None`.
    pub fn api(&self, client: &kube::Client, namespace: Option<&str>) -> Api<DynamicObject> {
        let ar = self.resource();
        match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        }
    }
}
