//! The `<kind> [names…]` part shared by `suspend`, `resume`, `reconcile`, `delete` and
//! `export`: `source git|oci|helm|chart|bucket|external`, `kustomization` (`ks`),
//! `helmrelease` (`hr`), `image repository|policy|update`, `alert`, `alert-provider`,
//! `receiver`.

use super::{FluxKind, kinds};

/// Object names.
#[derive(clap::Args, Clone, Debug)]
pub struct Names {
    /// Object names.
    pub names: Vec<String>,
}

/// A kind and the names given for it.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum Target {
    /// Sources.
    #[command(subcommand, visible_alias = "sources")]
    Source(SourceTarget),
    /// Kustomizations.
    #[command(visible_aliases = ["ks", "kustomizations"])]
    Kustomization(Names),
    /// HelmReleases.
    #[command(visible_aliases = ["hr", "helmreleases"])]
    Helmrelease(Names),
    /// Image automation objects.
    #[command(subcommand, visible_alias = "images")]
    Image(ImageTarget),
    /// Alerts.
    #[command(visible_alias = "alerts")]
    Alert(Names),
    /// Alert providers.
    #[command(visible_alias = "alert-providers")]
    AlertProvider(Names),
    /// Receivers.
    #[command(visible_alias = "receivers")]
    Receiver(Names),
}

/// Source kinds.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum SourceTarget {
    /// GitRepository.
    Git(Names),
    /// OCIRepository.
    Oci(Names),
    /// HelmRepository.
    Helm(Names),
    /// HelmChart.
    Chart(Names),
    /// Bucket.
    Bucket(Names),
    /// ExternalArtifact.
    External(Names),
}

/// Image automation kinds.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum ImageTarget {
    /// ImageRepository.
    Repository(Names),
    /// ImagePolicy.
    Policy(Names),
    /// ImageUpdateAutomation.
    Update(Names),
}

impl Target {
    /// The kind and the names.
    pub fn resolve(self) -> (FluxKind, Vec<String>) {
        let (kind, n) = match self {
            Target::Source(s) => match s {
                SourceTarget::Git(n) => (kinds::GIT_REPOSITORY, n),
                SourceTarget::Oci(n) => (kinds::OCI_REPOSITORY, n),
                SourceTarget::Helm(n) => (kinds::HELM_REPOSITORY, n),
                SourceTarget::Chart(n) => (kinds::HELM_CHART, n),
                SourceTarget::Bucket(n) => (kinds::BUCKET, n),
                SourceTarget::External(n) => (kinds::EXTERNAL_ARTIFACT, n),
            },
            Target::Kustomization(n) => (kinds::KUSTOMIZATION, n),
            Target::Helmrelease(n) => (kinds::HELM_RELEASE, n),
            Target::Image(i) => match i {
                ImageTarget::Repository(n) => (kinds::IMAGE_REPOSITORY, n),
                ImageTarget::Policy(n) => (kinds::IMAGE_POLICY, n),
                ImageTarget::Update(n) => (kinds::IMAGE_UPDATE_AUTOMATION, n),
            },
            Target::Alert(n) => (kinds::ALERT, n),
            Target::AlertProvider(n) => (kinds::ALERT_PROVIDER, n),
            Target::Receiver(n) => (kinds::RECEIVER, n),
        };
        (kind, n.names)
    }
}
