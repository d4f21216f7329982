//! Flux's atomic release: the state of the release in storage compared with the
//! HelmRelease (absent, unmanaged, out of sync, drifted, locked, untested, failed, in sync),
//! the next action for that state (install, upgrade, test, rollback or uninstall
//! remediation, unlock, drift correction), run until nothing is left to do, an action would
//! run twice, or a remediation ran. Conditions, history snapshots and failure counters are
//! kept as Flux keeps them.

use super::cluster::KubeCluster;
use super::postrender;
use crate::runtime::events::EventType;
use crate::runtime::status::{ConditionSet, StatusWriter};
use gitops_api::HelmRelease;
use gitops_api::condition::{Conditions, reasons, types};
use gitops_api::helm::{
    ActionStrategyName, CrdsPolicy, DeletionPropagation, DriftDetectionMode, HelmReleaseStatus,
    HelmSnapshot, ReleaseAction, RemediationStrategy, TestHookStatus,
};
use gitops_helm::Chart;
use gitops_helm::release::{
    Actions, CrdPolicy, InstallOptions, Propagation, Release, RollbackOptions, Status,
    StorageError, TestOptions, UninstallOptions, UpgradeOptions, Wait,
};
use gitops_helm::values::Values;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Flux's `Released` and `Remediated` … condition types not in the shared vocabulary.
pub(crate) const DRIFTED: &str = "Drifted";

/// Snapshots kept in `status.history`.
const MAX_SNAPSHOTS: usize = 5;

/// Where the release lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub name: String,
    pub namespace: String,
    pub storage_namespace: String,
}

/// Everything one atomic release works with and on.
pub(crate) struct Request<'a> {
    pub hr: &'a HelmRelease,
    pub status: HelmReleaseStatus,
    pub conds: ConditionSet,
    pub chart: &'a Chart,
    pub values: &'a Values,
    pub config_digest: String,
    pub oci_digest: Option<String>,
    pub target: Target,
    pub cluster: &'a KubeCluster,
    pub post: Option<postrender::PostRender>,
    pub force_requested: bool,
    /// Events to publish: (type, reason, message).
    pub events: Vec<(EventType, &'static str, String)>,
    /// Writes progress between actions.
    pub writer: Option<&'a mut StatusWriter<HelmRelease>>,
}

/// How an atomic release ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing left to do.
    Done,
    /// Retries are exhausted (Stalled).
    Stalled,
    /// Continue soon (after a remediation with retries left).
    Requeue,
    /// Retry after the strategy's retry interval.
    RetryAfter(Duration),
    /// An error that is retried with backoff (Ready=False says why).
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Absent,
    Unmanaged(String),
    OutOfSync(String),
    Drifted(Vec<String>),
    Locked(Status),
    Untested,
    InSync,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Release,
    Remediate,
    Test,
    Unlock,
    DriftCorrection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Install,
    Upgrade,
    Test,
    Rollback,
    Uninstall,
    Unlock,
    CorrectDrift,
}

impl Next {
    fn kind(self) -> Kind {
        match self {
            Next::Install | Next::Upgrade => Kind::Release,
            Next::Test => Kind::Test,
            Next::Rollback | Next::Uninstall => Kind::Remediate,
            Next::Unlock => Kind::Unlock,
            Next::CorrectDrift => Kind::DriftCorrection,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Next::Install => "install",
            Next::Upgrade => "upgrade",
            Next::Test => "test",
            Next::Rollback => "rollback",
            Next::Uninstall => "uninstall",
            Next::Unlock => "unlock",
            Next::CorrectDrift => "correct cluster drift",
        }
    }
}

/// The remediation settings of the last attempted action (Flux's `GetActiveRemediation`).
#[derive(Debug, Clone, Copy)]
struct Remediation {
    action: ReleaseAction,
    retries: i64,
    remediate_last_failure: bool,
    strategy: RemediationStrategy,
    ignore_test_failures: bool,
}

impl Remediation {
    fn failure_count(&self, s: &HelmReleaseStatus) -> i64 {
        match self.action {
            ReleaseAction::Install => s.install_failures.unwrap_or(0),
            ReleaseAction::Upgrade => s.upgrade_failures.unwrap_or(0),
        }
    }

    fn increment(&self, s: &mut HelmReleaseStatus) {
        let c = match self.action {
            ReleaseAction::Install => &mut s.install_failures,
            ReleaseAction::Upgrade => &mut s.upgrade_failures,
        };
        *c = Some(c.unwrap_or(0) + 1);
    }

    fn exhausted(&self, s: &HelmReleaseStatus) -> bool {
        self.retries >= 0 && self.failure_count(s) > self.retries
    }
}

fn install_remediation(hr: &HelmRelease) -> Remediation {
    let r = hr
        .spec
        .install
        .as_ref()
        .and_then(|i| i.remediation.clone())
        .unwrap_or_default();
    let test_ignore = hr.spec.test.as_ref().is_some_and(|t| t.ignore_failures);
    Remediation {
        action: ReleaseAction::Install,
        retries: r.retries.unwrap_or(0),
        remediate_last_failure: r.remediate_last_failure.unwrap_or(false),
        strategy: RemediationStrategy::Uninstall,
        ignore_test_failures: r.ignore_test_failures.unwrap_or(test_ignore),
    }
}

fn upgrade_remediation(hr: &HelmRelease) -> Remediation {
    let r = hr
        .spec
        .upgrade
        .as_ref()
        .and_then(|u| u.remediation.clone())
        .unwrap_or_default();
    let test_ignore = hr.spec.test.as_ref().is_some_and(|t| t.ignore_failures);
    let retries = r.retries.unwrap_or(0);
    Remediation {
        action: ReleaseAction::Upgrade,
        retries,
        remediate_last_failure: r.remediate_last_failure.unwrap_or(retries > 0),
        strategy: r.strategy.unwrap_or(RemediationStrategy::Rollback),
        ignore_test_failures: r.ignore_test_failures.unwrap_or(test_ignore),
    }
}

fn active_remediation(hr: &HelmRelease, s: &HelmReleaseStatus) -> Option<Remediation> {
    match s.last_attempted_release_action? {
        ReleaseAction::Install => Some(install_remediation(hr)),
        ReleaseAction::Upgrade => Some(upgrade_remediation(hr)),
    }
}

/// The retry interval of the `RetryOnFailure` strategy of the last attempted action.
fn active_retry(hr: &HelmRelease, s: &HelmReleaseStatus) -> Option<Duration> {
    let (name, interval) = match s.last_attempted_release_action? {
        ReleaseAction::Install => {
            let st = hr.spec.install.as_ref()?.strategy.as_ref()?;
            (st.name, st.retry_interval.as_ref())
        }
        ReleaseAction::Upgrade => {
            let st = hr.spec.upgrade.as_ref()?.strategy.as_ref()?;
            (st.name, st.retry_interval.as_ref())
        }
    };
    (name == ActionStrategyName::RetryOnFailure)
        .then(|| interval.map_or(Duration::from_secs(300), |d| d.get()))
}

fn test_enabled(hr: &HelmRelease) -> bool {
    hr.spec.test.as_ref().is_some_and(|t| t.enable)
}

fn drift_mode(hr: &HelmRelease) -> DriftDetectionMode {
    hr.spec
        .drift_detection
        .as_ref()
        .and_then(|d| d.mode)
        .unwrap_or(DriftDetectionMode::Disabled)
}

fn time_of(s: Option<&str>) -> Option<Time> {
    let t: jiff::Timestamp = s?.parse().ok()?;
    Some(Time(
        jiff::Timestamp::from_second(t.as_second()).unwrap_or(t),
    ))
}

fn epoch() -> Time {
    Time(jiff::Timestamp::UNIX_EPOCH)
}

/// `sha256:` of what Flux observes of a release (name, version, info, chart metadata,
/// values, manifest, hooks but test hooks, namespace): changes when anything but test
/// results changes.
pub(crate) fn release_digest(rel: &Release) -> String {
    use sha2::Digest;
    let hooks: Vec<_> = rel.hooks.iter().filter(|h| !h.on("test")).collect();
    let obs = serde_json::json!({
        "name": rel.name,
        "version": rel.version,
        "info": rel.info,
        "chartMetadata": rel.chart.as_ref().map(|c| &c.metadata),
        "config": rel.config,
        "manifest": rel.manifest,
        "hooks": hooks,
        "namespace": rel.namespace,
    });
    let mut bytes = serde_json::to_vec(&obs).unwrap_or_default();
    bytes.push(b'\n');
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)))
}

fn snapshot_of(rel: &Release, oci_digest: Option<&str>, action: Option<&str>) -> HelmSnapshot {
    HelmSnapshot {
        action: action.map(str::to_owned),
        api_version: Some("v2".into()),
        app_version: Some(rel.app_version().to_owned()).filter(|s| !s.is_empty()),
        chart_name: rel.chart_name().to_owned(),
        chart_version: rel.chart_version().to_owned(),
        config_digest: super::values::digest(&rel.config),
        deleted: time_of(rel.info.deleted.as_deref()),
        digest: release_digest(rel),
        first_deployed: time_of(rel.info.first_deployed.as_deref()).unwrap_or_else(epoch),
        last_deployed: time_of(rel.info.last_deployed.as_deref()).unwrap_or_else(epoch),
        name: rel.name.clone(),
        namespace: rel.namespace.clone(),
        oci_digest: oci_digest.map(str::to_owned),
        status: rel.info.status.as_str().to_owned(),
        test_hooks: None,
        version: rel.version,
    }
}

fn full_name(s: &HelmSnapshot) -> String {
    format!("{}/{}.v{}", s.namespace, s.name, s.version)
}

fn versioned_chart(s: &HelmSnapshot) -> String {
    format!("{}@{}", s.chart_name, s.chart_version)
}

fn has_been_tested(s: &HelmSnapshot) -> bool {
    let Some(th) = &s.test_hooks else {
        return false;
    };
    th.is_empty()
        || th.values().any(|h| h.phase.as_deref() == Some("Failed"))
        || th.values().all(|h| h.phase.as_deref() == Some("Succeeded"))
}

fn has_failed_test(s: &HelmSnapshot) -> bool {
    s.test_hooks
        .as_ref()
        .is_some_and(|th| th.values().any(|h| h.phase.as_deref() == Some("Failed")))
}

fn sort_history(h: &mut [HelmSnapshot]) {
    h.sort_by_key(|s| std::cmp::Reverse(s.version));
}

/// Keeps history up to the previous successful release (Flux's `Truncate`).
fn truncate_history(h: &mut Vec<HelmSnapshot>, ignore_tests: bool) {
    if h.len() < 2 {
        return;
    }
    sort_history(h);
    for i in 1..h.len() {
        let s = &h[i];
        if (s.status == "deployed" || s.status == "superseded")
            && (ignore_tests || !has_failed_test(s))
        {
            h.truncate(i + 1);
            return;
        }
    }
    h.truncate(MAX_SNAPSHOTS);
}

fn previous_snapshot(h: &[HelmSnapshot], ignore_tests: bool) -> Option<HelmSnapshot> {
    let mut h = h.to_vec();
    sort_history(&mut h);
    h.into_iter().skip(1).find(|s| {
        (s.status == "deployed" || s.status == "superseded")
            && (ignore_tests || !has_failed_test(s))
    })
}

impl Request<'_> {
    fn actions(&self) -> Actions<'_, KubeCluster> {
        let mut a = Actions::new(self.cluster, &self.target.storage_namespace);
        a.storage.max_history = self.hr.spec.max_history.unwrap_or(5).max(0) as usize;
        a
    }

    fn timeout(&self, specific: Option<&gitops_api::Duration>) -> Duration {
        specific.map_or_else(|| self.hr.spec.timeout(), |d| d.get())
    }

    fn latest(&self) -> Option<&HelmSnapshot> {
        self.status.history.first()
    }

    /// Writes the status and conditions so far (failures only logged: the final write
    /// says how the reconcile ended).
    async fn write_progress(&mut self) {
        let mut s = self.status.clone();
        s.conditions = self.conds.conditions.clone();
        if let Some(w) = self.writer.as_mut()
            && let Err(e) = w.write(&s).await
        {
            tracing::debug!(error = %e, "status update failed");
        }
    }

    fn event(&mut self, t: EventType, reason: &'static str, msg: String) {
        self.events.push((t, reason, msg));
    }

    fn fail_count(&mut self) {
        self.status.failures = Some(self.status.failures.unwrap_or(0) + 1);
    }

    /// Refreshes the snapshots of records that exist in storage, and adds the records
    /// written after `before` (newest first).
    async fn observe(&mut self, before: i64, action: Option<&str>) -> Result<(), StorageError> {
        let (history, _) = self.actions().storage.history(&self.target.name).await?;
        for snap in self.status.history.iter_mut() {
            if let Some(rel) = history
                .iter()
                .find(|r| r.version == snap.version && r.namespace == snap.namespace)
            {
                let mut fresh =
                    snapshot_of(rel, snap.oci_digest.as_deref(), snap.action.as_deref());
                fresh.test_hooks = snap.test_hooks.take();
                *snap = fresh;
            }
        }
        for rel in history.iter().filter(|r| r.version > before) {
            if self.status.history.iter().any(|s| s.version == rel.version) {
                continue;
            }
            self.status
                .history
                .insert(0, snapshot_of(rel, self.oci_digest.as_deref(), action));
        }
        sort_history(&mut self.status.history);
        Ok(())
    }

    /// Flux's `status.inventory`, from the newest release record when it was written after
    /// `before` (a failure to build it is an event, as in Flux, not a failed action).
    async fn observe_inventory(&mut self, before: i64) {
        let actions = self.actions();
        let Ok(rel) = actions.storage.last(&self.target.name).await else {
            return;
        };
        if rel.version <= before {
            return;
        }
        match actions.inventory(&rel, Some(self.chart)).await {
            Ok(objects) => {
                let entries = objects
                    .iter()
                    .filter_map(|o| gitops_apply::ObjectRef::from_object(o).ok())
                    .map(|r| gitops_api::meta::ResourceRef {
                        id: r.inventory_id(),
                        v: r.version,
                    })
                    .collect();
                self.status.inventory = Some(gitops_api::meta::ResourceInventory { entries });
            }
            Err(e) => {
                let msg = format!(
                    "failed to build inventory for {}/{}: {e}",
                    self.hr.namespace().unwrap_or_default(),
                    self.hr.name_any()
                );
                self.event(EventType::Warning, "InventoryBuildFailed", msg);
            }
        }
    }

    async fn last_version(&self) -> i64 {
        match self.actions().storage.last(&self.target.name).await {
            Ok(r) => r.version,
            Err(_) => 0,
        }
    }

    /// Flux's `DetermineReleaseState`.
    async fn state(&self) -> Result<State, String> {
        let actions = self.actions();
        let last = match actions.storage.last(&self.target.name).await {
            Ok(r) => r,
            Err(StorageError::NotFound) => return Ok(State::Absent),
            Err(e) => return Err(format!("failed to retrieve last release from storage: {e}")),
        };
        if last.info.status.is_pending() {
            return Ok(State::Locked(last.info.status));
        }
        let Some(cur) = self.latest() else {
            if last.info.status == Status::Uninstalled {
                return Ok(State::Absent);
            }
            return Ok(State::Unmanaged("found existing release in storage".into()));
        };
        if cur.version != last.version
            || cur.name != last.name
            || cur.digest != release_digest(&last)
        {
            return Ok(State::Unmanaged(
                "release not observed to be made for object".into(),
            ));
        }
        match last.info.status {
            Status::Failed => Ok(State::Failed),
            Status::Uninstalled => Ok(State::Absent),
            Status::Deployed => {
                if last.chart_name() != self.chart.metadata.name
                    || last.chart_version() != self.chart.metadata.version
                {
                    return Ok(State::OutOfSync("release chart changed".into()));
                }
                if cur.config_digest != self.config_digest {
                    return Ok(State::OutOfSync("release config values changed".into()));
                }
                if self.status.observed_generation != self.hr.metadata.generation {
                    let pr = (!self.hr.spec.post_renderers.is_empty())
                        .then(|| postrender::digest(&self.hr.spec.post_renderers));
                    if pr != self.status.observed_post_renderers_digest {
                        return Ok(State::OutOfSync("postrenderers digest has changed".into()));
                    }
                    let cm = self
                        .hr
                        .spec
                        .common_metadata
                        .as_ref()
                        .map(postrender::digest);
                    if cm != self.status.observed_common_metadata_digest {
                        return Ok(State::OutOfSync(
                            "common metadata digest has changed".into(),
                        ));
                    }
                }
                if test_enabled(self.hr) {
                    if !has_been_tested(cur) {
                        return Ok(State::Untested);
                    }
                    let ignore = self
                        .hr
                        .spec
                        .test
                        .as_ref()
                        .is_some_and(|t| t.ignore_failures);
                    if let Some(r) = active_remediation(self.hr, &self.status)
                        && !r.ignore_test_failures
                        && !ignore
                        && has_failed_test(cur)
                    {
                        return Ok(State::Failed);
                    }
                }
                if drift_mode(self.hr) != DriftDetectionMode::Disabled {
                    let changes = super::drift(self, &last)
                        .await
                        .map_err(|e| format!("unable to determine cluster state: {e}"))?;
                    if !changes.is_empty() {
                        return Ok(State::Drifted(changes));
                    }
                }
                Ok(State::InSync)
            }
            other => Err(format!(
                "unable to determine state for release with status '{other}'"
            )),
        }
    }

    /// Flux's `actionForState`; `Err(outcome)` ends the release.
    async fn next(&mut self, state: State) -> Result<Option<Next>, Outcome> {
        let force = self.force_requested;
        let hr = self.hr;
        match state {
            State::InSync => {
                let ignore_tests = match active_remediation(hr, &self.status) {
                    Some(r) => r.ignore_test_failures,
                    None => hr.spec.test.as_ref().is_some_and(|t| t.ignore_failures),
                };
                if active_retry(hr, &self.status).is_some() {
                    sort_history(&mut self.status.history);
                    self.status.history.truncate(MAX_SNAPSHOTS);
                } else {
                    truncate_history(&mut self.status.history, ignore_tests);
                }
                if force {
                    return Ok(Some(Next::Upgrade));
                }
                if self.conds.conditions.is_true(types::REMEDIATED)
                    && let Some(cur) = self.latest().cloned()
                {
                    self.conds.remove(types::REMEDIATED);
                    let msg = format!(
                        "Helm upgrade succeeded for release {} with chart {}",
                        full_name(&cur),
                        versioned_chart(&cur)
                    );
                    self.conds
                        .set(types::RELEASED, true, reasons::UPGRADE_SUCCEEDED, &msg);
                }
                let released = self
                    .conds
                    .conditions
                    .get_condition(types::RELEASED)
                    .cloned();
                if (!self.conds.conditions.is_true(types::READY)
                    || !self.conds.conditions.is_true(types::RELEASED))
                    && let Some(cur) = self.latest().cloned()
                {
                    let reason = released.as_ref().map(|c| c.reason.as_str());
                    let fix = match reason {
                        Some(reasons::INSTALL_FAILED) => {
                            Some((reasons::INSTALL_SUCCEEDED, "install"))
                        }
                        Some(reasons::UPGRADE_FAILED) => {
                            Some((reasons::UPGRADE_SUCCEEDED, "upgrade"))
                        }
                        _ => None,
                    };
                    if let Some((reason, what)) = fix {
                        let msg = format!(
                            "Helm {what} succeeded for release {} with chart {}",
                            full_name(&cur),
                            versioned_chart(&cur)
                        );
                        self.conds.set(types::RELEASED, true, reason, &msg);
                    }
                }
                if drift_mode(hr) == DriftDetectionMode::Enabled {
                    self.conds.set(
                        DRIFTED,
                        false,
                        "NoDriftDetected",
                        "No drift detected against the cluster state",
                    );
                }
                Ok(None)
            }
            State::Locked(_) => Ok(Some(Next::Unlock)),
            State::Absent => {
                if install_remediation(hr).exhausted(&self.status) && !force {
                    return Err(self.exceeded());
                }
                Ok(Some(Next::Install))
            }
            State::Unmanaged(_) => {
                self.status.history.clear();
                Ok(Some(Next::Upgrade))
            }
            State::OutOfSync(_) => {
                if upgrade_remediation(hr).exhausted(&self.status) && !force {
                    return Err(self.exceeded());
                }
                Ok(Some(Next::Upgrade))
            }
            State::Drifted(changes) => {
                let name = self.latest().map(full_name).unwrap_or_default();
                let msg = format!(
                    "Cluster state of release {name} has drifted from the desired state:\n{}",
                    changes.join("\n")
                );
                self.event(EventType::Warning, "DriftDetected", msg.clone());
                self.conds.set(DRIFTED, true, "DriftDetected", &msg);
                Ok((drift_mode(hr) == DriftDetectionMode::Enabled).then_some(Next::CorrectDrift))
            }
            State::Untested => {
                if self.conds.conditions.is_true(types::REMEDIATED)
                    && let Some(cur) = self.latest().cloned()
                {
                    self.conds.remove(types::REMEDIATED);
                    let msg = format!(
                        "Helm upgrade succeeded for release {} with chart {}",
                        full_name(&cur),
                        versioned_chart(&cur)
                    );
                    self.conds
                        .set(types::RELEASED, true, reasons::UPGRADE_SUCCEEDED, &msg);
                }
                Ok(Some(Next::Test))
            }
            State::Failed => {
                if active_retry(hr, &self.status).is_some() {
                    sort_history(&mut self.status.history);
                    self.status.history.truncate(MAX_SNAPSHOTS);
                    return Ok(Some(Next::Upgrade));
                }
                let Some(r) = active_remediation(hr, &self.status) else {
                    return Ok(Some(Next::Upgrade));
                };
                if r.failure_count(&self.status) <= 0 || force {
                    return Ok(Some(Next::Upgrade));
                }
                if r.exhausted(&self.status) && !r.remediate_last_failure {
                    return Err(self.exceeded());
                }
                truncate_history(&mut self.status.history, r.ignore_test_failures);
                match r.strategy {
                    RemediationStrategy::Rollback => {
                        let Some(prev) =
                            previous_snapshot(&self.status.history, r.ignore_test_failures)
                        else {
                            self.conds.set(
                                types::STALLED,
                                true,
                                "MissingRollbackTarget",
                                "Failed to perform remediation: missing target release for rollback: cannot remediate failed release",
                            );
                            return Err(Outcome::Stalled);
                        };
                        match self.actions().storage.get(&prev.name, prev.version).await {
                            Ok(rel) if release_digest(&rel) == prev.digest => {
                                Ok(Some(Next::Rollback))
                            }
                            // a rollback target changed or gone: try the upgrade again
                            Ok(_) | Err(StorageError::NotFound) => Ok(Some(Next::Upgrade)),
                            Err(e) => Err(Outcome::Error(format!(
                                "cannot verify previous release to roll back to: {e}"
                            ))),
                        }
                    }
                    RemediationStrategy::Uninstall => Ok(Some(Next::Uninstall)),
                }
            }
        }
    }

    fn exceeded(&mut self) -> Outcome {
        let action = match self.status.last_attempted_release_action {
            Some(ReleaseAction::Install) => "install",
            _ => "upgrade",
        };
        let count =
            active_remediation(self.hr, &self.status).map_or(0, |r| r.failure_count(&self.status));
        self.conds.set(
            types::STALLED,
            true,
            "RetriesExceeded",
            &format!("Failed to {action} after {count} attempt(s)"),
        );
        Outcome::Stalled
    }

    fn timeout_for(&self, next: Next) -> Duration {
        let s = &self.hr.spec;
        match next {
            Next::Install => self.timeout(s.install.as_ref().and_then(|i| i.timeout.as_ref())),
            Next::Upgrade | Next::CorrectDrift | Next::Unlock => {
                self.timeout(s.upgrade.as_ref().and_then(|u| u.timeout.as_ref()))
            }
            Next::Test => self.timeout(s.test.as_ref().and_then(|t| t.timeout.as_ref())),
            Next::Rollback => self.timeout(s.rollback.as_ref().and_then(|r| r.timeout.as_ref())),
            Next::Uninstall => self.timeout(s.uninstall.as_ref().and_then(|u| u.timeout.as_ref())),
        }
    }

    /// Runs the atomic release.
    pub(crate) async fn run(&mut self) -> Outcome {
        let mut previous: Vec<Kind> = Vec::new();
        loop {
            let state = match self.state().await {
                Ok(s) => s,
                Err(e) => {
                    self.conds.set(
                        types::READY,
                        false,
                        "StateError",
                        &format!("Could not determine release state: {e}"),
                    );
                    return Outcome::Error(format!("cannot determine release state: {e}"));
                }
            };
            tracing::debug!(state = ?state, "release state");
            let next = match self.next(state).await {
                Ok(n) => n,
                Err(o) => return o,
            };
            let Some(next) = next else {
                self.conds.remove(types::RECONCILING);
                self.summarize();
                return Outcome::Done;
            };
            if previous.contains(&next.kind()) {
                if let Some(d) = active_retry(self.hr, &self.status) {
                    self.retrying(d);
                    return Outcome::RetryAfter(d);
                }
                let r = active_remediation(self.hr, &self.status);
                if r.is_none_or(|r| !r.exhausted(&self.status)) {
                    self.retry_with_ready_message();
                    return Outcome::Requeue;
                }
                self.conds.remove(types::RECONCILING);
                return Outcome::Done;
            }
            let timeout = self.timeout_for(next);
            let msg = format!(
                "Running '{}' action with timeout of {}",
                next.name(),
                gitops_api::duration::format_go_duration(timeout)
            );
            self.conds
                .set(types::RECONCILING, true, reasons::PROGRESSING, &msg);
            if next.kind() == Kind::Release {
                self.conds.conditions.set_condition(
                    types::READY,
                    gitops_api::ConditionStatus::Unknown,
                    reasons::PROGRESSING,
                    &msg,
                    self.conds.generation,
                    crate::runtime::status::now(),
                );
            }
            self.write_progress().await;
            tracing::info!(
                "running '{}' action with timeout of {}",
                next.name(),
                gitops_api::duration::format_go_duration(timeout)
            );
            if let Err(e) = self.run_action(next, timeout).await {
                if let Some(d) = active_retry(self.hr, &self.status) {
                    self.retrying(d);
                    return Outcome::RetryAfter(d);
                }
                if self.conds.conditions.is_true(types::READY) {
                    self.conds.set(types::READY, false, "ReconcileError", &e);
                }
                return Outcome::Error(e);
            }
            if next.kind() == Kind::Remediate {
                if let Some(d) = active_retry(self.hr, &self.status) {
                    self.retrying(d);
                    return Outcome::RetryAfter(d);
                }
                let r = active_remediation(self.hr, &self.status);
                let uninstall_after_upgrade = r.is_some_and(|r| {
                    r.action == ReleaseAction::Upgrade
                        && r.strategy == RemediationStrategy::Uninstall
                });
                if r.is_none_or(|r| !r.exhausted(&self.status)) || uninstall_after_upgrade {
                    self.retry_with_ready_message();
                    return Outcome::Requeue;
                }
                return self.exceeded();
            }
            previous.push(next.kind());
            self.write_progress().await;
        }
    }

    fn retrying(&mut self, d: Duration) {
        self.conds.set(
            types::RECONCILING,
            true,
            reasons::PROGRESSING_WITH_RETRY,
            &format!(
                "retrying after {}",
                gitops_api::duration::format_go_duration(d)
            ),
        );
    }

    fn retry_with_ready_message(&mut self) {
        let msg = self
            .conds
            .conditions
            .get_condition(types::READY)
            .map(|c| c.message.clone())
            .unwrap_or_default();
        self.conds.set(
            types::RECONCILING,
            true,
            reasons::PROGRESSING_WITH_RETRY,
            &msg,
        );
    }

    /// Flux's `summarize`: Ready from Remediated, TestSuccess (when tests count) or
    /// Released, the newest first.
    pub(crate) fn summarize(&mut self) {
        let test = self.hr.spec.test.as_ref();
        let order: &[&str] = if test.is_some_and(|t| t.enable && !t.ignore_failures) {
            &[types::REMEDIATED, types::TEST_SUCCESS, types::RELEASED]
        } else {
            &[types::REMEDIATED, types::RELEASED]
        };
        if !test.is_some_and(|t| t.enable) {
            self.conds.remove(types::TEST_SUCCESS);
        }
        let mut best: Option<(usize, gitops_api::Condition)> = None;
        for (i, t) in order.iter().enumerate() {
            if let Some(c) = self.conds.conditions.get_condition(t) {
                let better = match &best {
                    None => true,
                    Some((_, b)) => c.observed_generation > b.observed_generation,
                };
                if better {
                    best = Some((i, c.clone()));
                }
            }
        }
        if let Some((_, c)) = best {
            let ok = c.type_ != types::REMEDIATED && c.status == gitops_api::ConditionStatus::True;
            if ok {
                self.conds.remove(types::STALLED);
            }
            let status = if c.type_ == types::REMEDIATED {
                gitops_api::ConditionStatus::False
            } else {
                c.status
            };
            self.conds.conditions.set_condition(
                types::READY,
                status,
                &c.reason,
                &c.message,
                self.conds.generation,
                crate::runtime::status::now(),
            );
        }
        self.status.observed_post_renderers_digest = (!self.hr.spec.post_renderers.is_empty())
            .then(|| postrender::digest(&self.hr.spec.post_renderers));
        self.status.observed_common_metadata_digest = self
            .hr
            .spec
            .common_metadata
            .as_ref()
            .map(postrender::digest);
    }

    async fn run_action(&mut self, next: Next, timeout: Duration) -> Result<(), String> {
        let started = Instant::now();
        let res = match next {
            Next::Install => self.install(timeout).await,
            Next::Upgrade => self.upgrade(timeout).await,
            Next::Test => self.test(timeout).await,
            Next::Rollback => self.rollback(timeout).await,
            Next::Uninstall => self.uninstall_remediation(timeout).await,
            Next::Unlock => self.unlock().await,
            Next::CorrectDrift => self.correct_drift().await,
        };
        if matches!(next, Next::Install | Next::Upgrade) {
            self.status.last_attempted_release_action_duration = Some(gitops_api::Duration::from(
                Duration::from_millis(started.elapsed().as_millis() as u64),
            ));
        }
        self.summarize();
        res
    }

    fn wait(&self, timeout: Duration, disable_wait: bool, disable_jobs: bool) -> Wait {
        Wait {
            timeout,
            resources: !disable_wait,
            jobs: !disable_wait && !disable_jobs,
        }
    }

    fn crds(p: Option<CrdsPolicy>, default: CrdPolicy) -> CrdPolicy {
        match p {
            Some(CrdsPolicy::Skip) => CrdPolicy::Skip,
            Some(CrdsPolicy::Create) => CrdPolicy::Create,
            Some(CrdsPolicy::CreateReplace) => CrdPolicy::CreateReplace,
            None => default,
        }
    }

    fn post_render_hooks(&self) -> bool {
        !matches!(
            self.hr.spec.post_render_strategy.unwrap_or_default(),
            gitops_api::helm::PostRenderStrategy::Nohooks
        )
    }

    fn chart_id(&self) -> (String, String) {
        (
            self.chart.metadata.name.clone(),
            self.chart.metadata.version.clone(),
        )
    }

    async fn install(&mut self, timeout: Duration) -> Result<(), String> {
        self.status.last_attempted_release_action = Some(ReleaseAction::Install);
        self.status.history.clear();
        self.conds.remove(types::TEST_SUCCESS);
        self.conds.remove(types::REMEDIATED);
        let spec = self.hr.spec.install.clone().unwrap_or_default();
        let before = self.last_version().await;
        let post = self
            .post
            .as_ref()
            .map(|p| p as &dyn gitops_helm::release::PostRenderer);
        let opts = InstallOptions {
            name: self.target.name.clone(),
            namespace: self.target.namespace.clone(),
            wait: self.wait(timeout, spec.disable_wait, spec.disable_wait_for_jobs),
            disable_hooks: spec.disable_hooks,
            create_namespace: spec.create_namespace && self.hr.spec.target_namespace.is_some(),
            crds: if spec.skip_crds {
                CrdPolicy::Skip
            } else {
                Self::crds(spec.crds, CrdPolicy::Create)
            },
            take_ownership: !spec.disable_take_ownership,
            replace: spec.replace || before > 0,
            atomic: false,
            description: None,
            post_renderer: post,
            post_render_hooks: self.post_render_hooks(),
            labels: BTreeMap::new(),
        };
        let res = self.actions().install(self.chart, self.values, &opts).await;
        let wrote = res.is_ok() || res.as_ref().err().is_some_and(|e| e.release.is_some());
        let _ = self.observe(before, Some("install")).await;
        self.observe_inventory(before).await;
        let (chart, version) = self.chart_id();
        match res {
            Ok(_) => {
                let cur = self
                    .latest()
                    .cloned()
                    .unwrap_or_else(|| snapshot_of(&Release::default(), None, None));
                let msg = format!(
                    "Helm install succeeded for release {} with chart {}",
                    full_name(&cur),
                    versioned_chart(&cur)
                );
                self.conds
                    .set(types::RELEASED, true, reasons::INSTALL_SUCCEEDED, &msg);
                if test_enabled(self.hr) && !has_been_tested(&cur) {
                    self.conds.conditions.set_condition(
                        types::TEST_SUCCESS,
                        gitops_api::ConditionStatus::Unknown,
                        "AwaitingTests",
                        &format!(
                            "Helm release {} with chart {} is awaiting tests",
                            full_name(&cur),
                            versioned_chart(&cur)
                        ),
                        self.conds.generation,
                        crate::runtime::status::now(),
                    );
                }
                if active_retry(self.hr, &self.status).is_some() {
                    self.clear_failures();
                }
                self.event(EventType::Normal, reasons::INSTALL_SUCCEEDED, msg);
                Ok(())
            }
            Err(e) => {
                let msg = format!(
                    "Helm install failed for release {}/{} with chart {chart}@{version}: {}",
                    self.target.namespace,
                    self.target.name,
                    e.message.trim()
                );
                self.fail_count();
                self.conds
                    .set(types::RELEASED, false, reasons::INSTALL_FAILED, &msg);
                self.event(EventType::Warning, reasons::INSTALL_FAILED, msg.clone());
                if !wrote {
                    return Err(msg);
                }
                install_remediation(self.hr).increment(&mut self.status);
                Ok(())
            }
        }
    }

    fn clear_failures(&mut self) {
        self.status.failures = None;
        self.status.install_failures = None;
        self.status.upgrade_failures = None;
    }

    async fn upgrade(&mut self, timeout: Duration) -> Result<(), String> {
        self.status.last_attempted_release_action = Some(ReleaseAction::Upgrade);
        self.conds.remove(types::TEST_SUCCESS);
        self.conds.remove(types::REMEDIATED);
        let spec = self.hr.spec.upgrade.clone().unwrap_or_default();
        let before = self.last_version().await;
        let post = self
            .post
            .as_ref()
            .map(|p| p as &dyn gitops_helm::release::PostRenderer);
        let opts = UpgradeOptions {
            name: self.target.name.clone(),
            namespace: self.target.namespace.clone(),
            wait: self.wait(timeout, spec.disable_wait, spec.disable_wait_for_jobs),
            disable_hooks: spec.disable_hooks,
            crds: Self::crds(spec.crds, CrdPolicy::Skip),
            take_ownership: !spec.disable_take_ownership,
            force: spec.force || self.force_requested,
            cleanup_on_fail: spec.cleanup_on_fail,
            reuse_values: spec.preserve_values,
            atomic: false,
            description: None,
            post_renderer: post,
            post_render_hooks: self.post_render_hooks(),
            labels: BTreeMap::new(),
        };
        let res = self.actions().upgrade(self.chart, self.values, &opts).await;
        let wrote = res.is_ok() || res.as_ref().err().is_some_and(|e| e.release.is_some());
        let _ = self.observe(before, Some("upgrade")).await;
        self.observe_inventory(before).await;
        let (chart, version) = self.chart_id();
        match res {
            Ok(_) => {
                let cur = self
                    .latest()
                    .cloned()
                    .unwrap_or_else(|| snapshot_of(&Release::default(), None, None));
                let msg = format!(
                    "Helm upgrade succeeded for release {} with chart {}",
                    full_name(&cur),
                    versioned_chart(&cur)
                );
                self.conds
                    .set(types::RELEASED, true, reasons::UPGRADE_SUCCEEDED, &msg);
                if test_enabled(self.hr) {
                    self.conds.conditions.set_condition(
                        types::TEST_SUCCESS,
                        gitops_api::ConditionStatus::Unknown,
                        "AwaitingTests",
                        &format!(
                            "Helm release {} with chart {} is awaiting tests",
                            full_name(&cur),
                            versioned_chart(&cur)
                        ),
                        self.conds.generation,
                        crate::runtime::status::now(),
                    );
                }
                if active_retry(self.hr, &self.status).is_some() {
                    self.clear_failures();
                }
                self.event(EventType::Normal, reasons::UPGRADE_SUCCEEDED, msg);
                Ok(())
            }
            Err(e) => {
                let msg = format!(
                    "Helm upgrade failed for release {}/{} with chart {chart}@{version}: {}",
                    self.target.namespace,
                    self.target.name,
                    e.message.trim()
                );
                self.fail_count();
                self.conds
                    .set(types::RELEASED, false, reasons::UPGRADE_FAILED, &msg);
                self.event(EventType::Warning, reasons::UPGRADE_FAILED, msg.clone());
                if !wrote {
                    return Err(msg);
                }
                upgrade_remediation(self.hr).increment(&mut self.status);
                Ok(())
            }
        }
    }

    async fn test(&mut self, timeout: Duration) -> Result<(), String> {
        let spec = self.hr.spec.test.clone().unwrap_or_default();
        let (mut include, mut exclude) = (Vec::new(), Vec::new());
        for f in &spec.filters {
            if f.exclude {
                exclude.push(f.name.clone());
            } else {
                include.push(f.name.clone());
            }
        }
        let opts = TestOptions {
            name: self.target.name.clone(),
            timeout,
            include: include.clone(),
            exclude: exclude.clone(),
        };
        let res = self.actions().test(&opts).await;
        let rel = match &res {
            Ok(r) => Some(r.clone()),
            Err(e) => e.release.as_deref().cloned(),
        };
        let before = self.last_version().await;
        let _ = self.observe(before, None).await;
        if let Some(rel) = &rel
            && let Some(snap) = self
                .status
                .history
                .iter_mut()
                .find(|s| s.version == rel.version)
        {
            let mut hooks = BTreeMap::new();
            for h in rel.hooks.iter().filter(|h| h.on("test")) {
                if exclude.contains(&h.name) || (!include.is_empty() && !include.contains(&h.name))
                {
                    continue;
                }
                hooks.insert(
                    h.name.clone(),
                    TestHookStatus {
                        last_started: time_of(h.last_run.started_at.as_deref()),
                        last_completed: time_of(h.last_run.completed_at.as_deref()),
                        phase: Some(h.last_run.phase.clone()).filter(|p| !p.is_empty()),
                    },
                );
            }
            snap.test_hooks = Some(hooks);
        }
        let cur = self
            .latest()
            .cloned()
            .unwrap_or_else(|| snapshot_of(&Release::default(), None, None));
        match res {
            Ok(_) => {
                let n = cur.test_hooks.as_ref().map_or(0, BTreeMap::len);
                let hooks = match n {
                    0 => "no test hooks".to_owned(),
                    1 => "1 test hook completed successfully".to_owned(),
                    n => format!("{n} test hooks completed successfully"),
                };
                let msg = format!(
                    "Helm test succeeded for release {} with chart {}: {hooks}",
                    full_name(&cur),
                    versioned_chart(&cur)
                );
                self.conds
                    .set(types::TEST_SUCCESS, true, reasons::TEST_SUCCEEDED, &msg);
                self.event(EventType::Normal, reasons::TEST_SUCCEEDED, msg);
                Ok(())
            }
            Err(e) => {
                let msg = format!(
                    "Helm test failed for release {} with chart {}: {}",
                    full_name(&cur),
                    versioned_chart(&cur),
                    e.message.trim()
                );
                self.fail_count();
                self.conds
                    .set(types::TEST_SUCCESS, false, reasons::TEST_FAILED, &msg);
                self.event(EventType::Warning, reasons::TEST_FAILED, msg.clone());
                if rel.is_none() {
                    return Err(msg);
                }
                if let Some(r) = active_remediation(self.hr, &self.status)
                    && !r.ignore_test_failures
                {
                    r.increment(&mut self.status);
                }
                Ok(())
            }
        }
    }

    async fn rollback(&mut self, timeout: Duration) -> Result<(), String> {
        let ignore = upgrade_remediation(self.hr).ignore_test_failures;
        let Some(prev) = previous_snapshot(&self.status.history, ignore) else {
            return Err("missing target release for rollback".into());
        };
        let spec = self.hr.spec.rollback.clone().unwrap_or_default();
        let opts = RollbackOptions {
            name: self.target.name.clone(),
            version: prev.version,
            wait: self.wait(timeout, spec.disable_wait, spec.disable_wait_for_jobs),
            disable_hooks: spec.disable_hooks,
            force: spec.force,
            cleanup_on_fail: spec.cleanup_on_fail,
            description: None,
        };
        let before = self.last_version().await;
        let res = self.actions().rollback(&opts).await;
        let _ = self.observe(before, None).await;
        self.observe_inventory(before).await;
        match res {
            Ok(_) => {
                let msg = format!(
                    "Helm rollback to previous release {} with chart {} succeeded",
                    full_name(&prev),
                    versioned_chart(&prev)
                );
                self.conds
                    .set(types::REMEDIATED, true, reasons::ROLLBACK_SUCCEEDED, &msg);
                self.event(EventType::Normal, reasons::ROLLBACK_SUCCEEDED, msg);
                Ok(())
            }
            Err(e) => {
                let msg = format!(
                    "Helm rollback to previous release {} with chart {} failed: {}",
                    full_name(&prev),
                    versioned_chart(&prev),
                    e.message.trim()
                );
                self.conds
                    .set(types::REMEDIATED, false, reasons::ROLLBACK_FAILED, &msg);
                self.event(EventType::Warning, reasons::ROLLBACK_FAILED, msg.clone());
                if e.release.is_none() {
                    return Err(msg);
                }
                Ok(())
            }
        }
    }

    fn uninstall_options(&self, timeout: Duration) -> UninstallOptions {
        uninstall_options(self.hr, &self.target.name, timeout)
    }

    async fn uninstall_remediation(&mut self, timeout: Duration) -> Result<(), String> {
        let cur = self
            .latest()
            .cloned()
            .unwrap_or_else(|| snapshot_of(&Release::default(), None, None));
        let opts = self.uninstall_options(timeout);
        let res = self.actions().uninstall(&opts).await;
        let before = self.last_version().await;
        let _ = self.observe(before, None).await;
        if let Some(s) = self.status.history.first_mut()
            && res.is_ok()
        {
            s.status = Status::Uninstalled.as_str().into();
        }
        if res.is_ok() {
            self.status.inventory = None;
        }
        match res {
            Ok(_) => {
                let msg = format!(
                    "Helm uninstall remediation for release {} with chart {} succeeded",
                    full_name(&cur),
                    versioned_chart(&cur)
                );
                self.conds
                    .set(types::REMEDIATED, true, reasons::UNINSTALL_SUCCEEDED, &msg);
                self.event(EventType::Normal, reasons::UNINSTALL_SUCCEEDED, msg);
                Ok(())
            }
            Err(e) => {
                let msg = format!(
                    "Helm uninstall remediation for release {} with chart {} failed: {}",
                    full_name(&cur),
                    versioned_chart(&cur),
                    e.message.trim()
                );
                self.conds
                    .set(types::REMEDIATED, false, reasons::UNINSTALL_FAILED, &msg);
                self.event(EventType::Warning, reasons::UNINSTALL_FAILED, msg.clone());
                if e.release.is_none() {
                    return Err(msg);
                }
                Ok(())
            }
        }
    }

    async fn unlock(&mut self) -> Result<(), String> {
        let actions = self.actions();
        let mut rel = actions
            .storage
            .last(&self.target.name)
            .await
            .map_err(|e| e.to_string())?;
        let status = rel.info.status;
        let snap = snapshot_of(&rel, None, None);
        rel.info.status = Status::Failed;
        rel.info.description = format!("Release unlocked from stale '{status}' state");
        let res = actions.storage.update(&rel).await;
        drop(actions);
        let _ = self.observe(rel.version, None).await;
        match res {
            Ok(()) => {
                let msg = format!(
                    "Unlocked Helm release {} with chart {} in {status} state",
                    full_name(&snap),
                    versioned_chart(&snap)
                );
                self.conds
                    .set(types::RELEASED, false, "PendingRelease", &msg);
                self.event(EventType::Normal, "PendingRelease", msg);
                Ok(())
            }
            Err(e) => {
                let msg = format!(
                    "Unlock of Helm release {} with chart {} in {status} state failed: {e}",
                    full_name(&snap),
                    versioned_chart(&snap)
                );
                self.conds
                    .set(types::RELEASED, false, "PendingRelease", &msg);
                self.event(EventType::Warning, "PendingRelease", msg.clone());
                Err(msg)
            }
        }
    }

    async fn correct_drift(&mut self) -> Result<(), String> {
        self.conds.conditions.set_condition(
            types::READY,
            gitops_api::ConditionStatus::Unknown,
            reasons::PROGRESSING,
            "correcting cluster drift",
            self.conds.generation,
            crate::runtime::status::now(),
        );
        let rel = self
            .actions()
            .storage
            .last(&self.target.name)
            .await
            .map_err(|e| e.to_string())?;
        let name = self.latest().map(full_name).unwrap_or_default();
        match super::correct_drift(self, &rel).await {
            Ok(lines) => {
                if !lines.is_empty() {
                    self.event(
                        EventType::Normal,
                        "DriftCorrected",
                        format!(
                            "Cluster state of release {name} has been corrected:\n{}",
                            lines.join("\n")
                        ),
                    );
                }
                Ok(())
            }
            Err(e) => {
                self.event(
                    EventType::Warning,
                    "DriftCorrectionFailed",
                    format!(
                        "Failed to partially or entirely correct drift of release {name}:\n{e}"
                    ),
                );
                Err(e)
            }
        }
    }
}

/// The uninstall of a HelmRelease's `spec.uninstall`.
pub(crate) fn uninstall_options(
    hr: &HelmRelease,
    name: &str,
    timeout: Duration,
) -> UninstallOptions {
    let spec = hr.spec.uninstall.clone().unwrap_or_default();
    UninstallOptions {
        name: name.to_owned(),
        wait: Wait {
            timeout,
            resources: !spec.disable_wait,
            jobs: false,
        },
        disable_hooks: spec.disable_hooks,
        keep_history: spec.keep_history,
        propagation: match spec.deletion_propagation {
            Some(DeletionPropagation::Foreground) => Propagation::Foreground,
            Some(DeletionPropagation::Orphan) => Propagation::Orphan,
            _ => Propagation::Background,
        },
        description: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(version: i64, status: &str) -> HelmSnapshot {
        HelmSnapshot {
            action: None,
            api_version: Some("v2".into()),
            app_version: None,
            chart_name: "c".into(),
            chart_version: "1.0.0".into(),
            config_digest: String::new(),
            deleted: None,
            digest: String::new(),
            first_deployed: epoch(),
            last_deployed: epoch(),
            name: "r".into(),
            namespace: "ns".into(),
            oci_digest: None,
            status: status.into(),
            test_hooks: None,
            version,
        }
    }

    #[test]
    fn history_truncates_to_the_previous_good_release() {
        let mut h = vec![
            snap(4, "failed"),
            snap(3, "failed"),
            snap(2, "superseded"),
            snap(1, "superseded"),
        ];
        truncate_history(&mut h, false);
        assert_eq!(
            h.iter().map(|s| s.version).collect::<Vec<_>>(),
            vec![4, 3, 2]
        );
        assert_eq!(previous_snapshot(&h, false).map(|s| s.version), Some(2));
        let mut failed_test = snap(2, "superseded");
        failed_test.test_hooks = Some(BTreeMap::from([(
            "t".to_owned(),
            TestHookStatus {
                phase: Some("Failed".into()),
                ..Default::default()
            },
        )]));
        let h = vec![snap(3, "failed"), failed_test, snap(1, "superseded")];
        assert_eq!(previous_snapshot(&h, false).map(|s| s.version), Some(1));
        assert_eq!(previous_snapshot(&h, true).map(|s| s.version), Some(2));
    }

    #[test]
    fn tested_means_all_passed_or_one_failed() {
        let mut s = snap(1, "deployed");
        assert!(!has_been_tested(&s));
        s.test_hooks = Some(BTreeMap::new());
        assert!(has_been_tested(&s));
        let hook = |p: &str| TestHookStatus {
            phase: Some(p.into()),
            ..Default::default()
        };
        s.test_hooks = Some(BTreeMap::from([
            ("a".into(), hook("Succeeded")),
            ("b".into(), hook("Running")),
        ]));
        assert!(!has_been_tested(&s));
        s.test_hooks = Some(BTreeMap::from([
            ("a".into(), hook("Failed")),
            ("b".into(), hook("Running")),
        ]));
        assert!(has_been_tested(&s));
    }
}
