//! The release record as Helm v4 stores it (`helm.sh/helm/v4/pkg/release/v1`): the JSON
//! field names, `omitempty` rules and enum spellings are Helm's, so records written here
//! read back in `helm` and the other way round.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A release's status (`info.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Status {
    /// `unknown`.
    #[default]
    #[serde(rename = "unknown")]
    Unknown,
    /// `deployed`: the current release.
    #[serde(rename = "deployed")]
    Deployed,
    /// `uninstalled` (kept with `--keep-history`).
    #[serde(rename = "uninstalled")]
    Uninstalled,
    /// `superseded`: an older revision.
    #[serde(rename = "superseded")]
    Superseded,
    /// `failed`.
    #[serde(rename = "failed")]
    Failed,
    /// `uninstalling`.
    #[serde(rename = "uninstalling")]
    Uninstalling,
    /// `pending-install`.
    #[serde(rename = "pending-install")]
    PendingInstall,
    /// `pending-upgrade`.
    #[serde(rename = "pending-upgrade")]
    PendingUpgrade,
    /// `pending-rollback`.
    #[serde(rename = "pending-rollback")]
    PendingRollback,
}

impl Status {
    /// Helm's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
        }
    }

    /// Whether an operation holds the release (`pending-*`).
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_empty_str(s: &str) -> bool {
    s.is_empty()
}

/// Reads Helm's times, where an empty string (older records) means none.
fn time_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.filter(|s| !s.is_empty() && !s.starts_with("0001-01-01T00:00:00")))
}

/// The current time as Go's `time.Time` marshals it (RFC 3339 with nanoseconds, trailing
/// zeros trimmed).
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// `info`: when and how the release got its status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// First deployment of the release.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "time_opt"
    )]
    pub first_deployed: Option<String>,
    /// Last deployment.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "time_opt"
    )]
    pub last_deployed: Option<String>,
    /// Deletion time.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "time_opt"
    )]
    pub deleted: Option<String>,
    /// Human-readable description (`Install complete`, `Upgrade "x" failed: …`).
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub description: String,
    /// Status.
    #[serde(default)]
    pub status: Status,
    /// The revision a rollback went back to.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rollback_revision: i64,
    /// Rendered NOTES.txt.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub notes: String,
    /// Helm's `resources` (only filled by `helm status --show-resources`; kept as read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
}

/// A hook's last execution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HookExecution {
    /// Start.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "time_opt"
    )]
    pub started_at: Option<String>,
    /// Completion.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "time_opt"
    )]
    pub completed_at: Option<String>,
    /// `Unknown`, `Running`, `Succeeded` or `Failed` (empty for never run).
    #[serde(default)]
    pub phase: String,
}

/// A hook of a release.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    /// `metadata.name`.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub name: String,
    /// `kind`.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub kind: String,
    /// Template path.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub path: String,
    /// The manifest.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub manifest: String,
    /// Events (`pre-install`, `test`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Last execution.
    #[serde(default)]
    pub last_run: HookExecution,
    /// `helm.sh/hook-weight`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight: i64,
    /// `helm.sh/hook-delete-policy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_policies: Vec<String>,
    /// `helm.sh/hook-output-log-policy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_log_policies: Vec<String>,
}

impl Hook {
    /// Whether the hook runs on `event`.
    pub fn on(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }

    /// Whether it carries a delete policy.
    pub fn has_policy(&self, policy: &str) -> bool {
        self.delete_policies.iter().any(|p| p == policy)
    }
}

impl From<&crate::render::Hook> for Hook {
    fn from(h: &crate::render::Hook) -> Hook {
        Hook {
            name: h.name.clone(),
            kind: h.kind.clone(),
            path: h.path.clone(),
            manifest: h.manifest.clone(),
            events: h.events.clone(),
            last_run: HookExecution::default(),
            weight: h.weight,
            delete_policies: h.delete_policies.clone(),
            output_log_policies: Vec::new(),
        }
    }
}

/// A chart file in a release record (`data` is base64 in JSON, as Go's `[]byte`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartFile {
    /// Path in the chart.
    pub name: String,
    /// Contents.
    #[serde(with = "b64")]
    pub data: Vec<u8>,
    /// Modification time, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modtime: Option<String>,
}

/// The chart as a release records it (Helm's `chart.Chart` JSON; subcharts are not stored,
/// as in Helm).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartRecord {
    /// `Chart.yaml` in Helm's JSON field names.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// `Chart.lock`, or null.
    #[serde(default)]
    pub lock: Value,
    /// Templates.
    #[serde(default, deserialize_with = "null_vec")]
    pub templates: Vec<ChartFile>,
    /// `values.yaml`.
    #[serde(default, deserialize_with = "null_map")]
    pub values: Map<String, Value>,
    /// `values.schema.json` (base64), or null.
    #[serde(default, with = "b64_opt")]
    pub schema: Option<Vec<u8>>,
    /// Go's zero time unless known.
    #[serde(default = "zero_time")]
    pub schemamodtime: String,
    /// Other files.
    #[serde(default, deserialize_with = "null_vec")]
    pub files: Vec<ChartFile>,
    /// Modification time, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modtime: Option<String>,
}

fn zero_time() -> String {
    "0001-01-01T00:00:00Z".into()
}

fn null_vec<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

fn null_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default())
}

mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

mod b64_opt {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// The `Chart.yaml` fields Helm's `chart.Metadata` keeps, in its JSON order.
const METADATA_FIELDS: &[&str] = &[
    "name",
    "home",
    "sources",
    "version",
    "description",
    "keywords",
    "maintainers",
    "icon",
    "apiVersion",
    "condition",
    "tags",
    "appVersion",
    "deprecated",
    "annotations",
    "kubeVersion",
    "dependencies",
    "type",
];

fn go_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

impl ChartRecord {
    /// The record of a loaded chart (its own files; subcharts are not recorded, as Helm).
    /// Fails when a file whose reading was deferred cannot be read.
    pub fn of(chart: &crate::Chart) -> Result<ChartRecord, crate::Error> {
        let mut metadata = Map::new();
        for f in METADATA_FIELDS {
            let v = match *f {
                "name" => Value::String(chart.metadata.name.clone()),
                "version" => Value::String(chart.metadata.version.clone()),
                "apiVersion" => Value::String(chart.metadata.api_version.clone()),
                "appVersion" => Value::String(chart.metadata.app_version.clone()),
                other => chart
                    .metadata
                    .raw
                    .get(other)
                    .cloned()
                    .unwrap_or(Value::Null),
            };
            let v = match (*f, v) {
                // Go's struct types: strings stay strings, as helm reads them
                ("appVersion" | "kubeVersion" | "version", Value::Number(n)) => {
                    Value::String(n.to_string())
                }
                (_, v) => v,
            };
            if !go_empty(&v) {
                metadata.insert((*f).to_owned(), v);
            }
        }
        let file = |f: &crate::chart::File| {
            Ok(ChartFile {
                name: f.name.clone(),
                data: f.data.bytes()?.to_vec(),
                modtime: None,
            })
        };
        Ok(ChartRecord {
            metadata,
            lock: Value::Null,
            templates: chart
                .templates
                .iter()
                .map(file)
                .collect::<Result<_, crate::Error>>()?,
            values: chart.values.clone(),
            schema: chart.schema.as_deref().map(<[u8]>::to_vec),
            schemamodtime: zero_time(),
            files: chart
                .files
                .iter()
                .map(file)
                .collect::<Result<_, crate::Error>>()?,
            modtime: None,
        })
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.metadata
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `metadata.version`.
    pub fn version(&self) -> &str {
        self.metadata
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `metadata.appVersion`.
    pub fn app_version(&self) -> &str {
        self.metadata
            .get("appVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// One revision of a release.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// Release name.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub name: String,
    /// Status and times.
    #[serde(default)]
    pub info: Info,
    /// The chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<ChartRecord>,
    /// The user-supplied values (not merged with the chart's).
    #[serde(
        default,
        skip_serializing_if = "Map::is_empty",
        deserialize_with = "null_map"
    )]
    pub config: Map<String, Value>,
    /// The rendered manifests (`---\n# Source: …\n…` documents).
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub manifest: String,
    /// Hooks.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_vec"
    )]
    pub hooks: Vec<Hook>,
    /// Revision, from 1.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,
    /// Release namespace.
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub namespace: String,
    /// `ssa` (server-side apply) or `csa` (client-side).
    #[serde(default, skip_serializing_if = "is_empty_str")]
    pub apply_method: String,
    /// Custom storage labels (not in JSON; the storage's non-system labels).
    #[serde(skip)]
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Release {
    /// `chart.metadata.name`, or empty.
    pub fn chart_name(&self) -> &str {
        self.chart
            .as_ref()
            .map(ChartRecord::name)
            .unwrap_or_default()
    }

    /// `chart.metadata.version`, or empty.
    pub fn chart_version(&self) -> &str {
        self.chart
            .as_ref()
            .map(ChartRecord::version)
            .unwrap_or_default()
    }

    /// `chart.metadata.appVersion`, or empty.
    pub fn app_version(&self) -> &str {
        self.chart
            .as_ref()
            .map(ChartRecord::app_version)
            .unwrap_or_default()
    }

    /// Hooks for an event, in Helm's execution order: by weight, then by name.
    pub fn hooks_for(&self, event: &str) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.hooks.len())
            .filter(|&i| self.hooks[i].on(event))
            .collect();
        idx.sort_by(|&a, &b| {
            let (x, y) = (&self.hooks[a], &self.hooks[b]);
            x.weight.cmp(&y.weight).then_with(|| x.name.cmp(&y.name))
        });
        idx
    }
}
