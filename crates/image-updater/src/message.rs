//! Commit messages of image update automations: `spec.git.commit.messageTemplate`, a Go
//! `text/template` with Sprig's hermetic functions (gitops-helm's engine), executed over
//! Flux's data:
//!
//! | field | value |
//! |---|---|
//! | `.AutomationObject` | the automation's `namespace/name` (`.Namespace`, `.Name`) |
//! | `.Changed.FileChanges` | file → object → changes |
//! | `.Changed.Objects` | object → changes, all files merged |
//! | `.Changed.Changes` | every change once: `.OldValue`, `.NewValue`, `.Setter` |
//! | `.Values` | `spec.git.commit.messageTemplateValues` |
//!
//! Objects (map keys of `.Changed.Objects` and of each file's changes) have `.APIVersion`,
//! `.Kind`, `.Name` and `.Namespace`, and range in Go's order for struct keys. Templates that
//! use fields Flux removed (`.Updated`, `.Changed.ImageResult`) get Flux's error saying what
//! to use instead ([`MessageError::RemovedField`]).
//!
//! ```
//! use gitops_image_updater::message::{render, AutomationRef};
//! use gitops_image_updater::setters::Report;
//! let who = AutomationRef { namespace: "flux-system".into(), name: "apps".into() };
//! let msg = render(Some("Update from {{ .AutomationObject }}"), &who, &Report::default(), &Default::default()).unwrap();
//! assert_eq!(msg, "Update from flux-system/apps");
//! ```

use crate::setters::{Change, ObjectId, Report};
use gitops_helm::template::{Exec, parse};
use gitops_helm::value::{Object, Value};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Flux's message when `messageTemplate` is empty.
pub const DEFAULT_MESSAGE: &str = "Update from image update automation";

/// The automation a message is written for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomationRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// Why a message template failed; messages are Flux's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The template does not parse.
    #[error("unable to create commit message template from spec: {0}")]
    Parse(String),
    /// Executing the template failed.
    #[error("failed to run template from spec: {0}")]
    Execute(String),
    /// The template uses a field Flux removed (the object stalls with
    /// `RemovedTemplateField`).
    #[error("{}", removed_message(.0))]
    RemovedField(String),
}

fn removed_message(field: &str) -> String {
    const DOCS: &str =
        "See: https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template";
    match field {
        ".Updated" => {
            format!("template uses removed '.Updated' field. Please use '.Changed' instead. {DOCS}")
        }
        ".Changed.ImageResult" => format!(
            "template uses removed '.Changed.ImageResult' field. Please use '.Changed.FileChanges' or '.Changed.Objects' instead. {DOCS}"
        ),
        other => format!("template uses removed '{other}' field. {DOCS}"),
    }
}

/// Renders the commit message: `template` (Flux's default message when `None` or empty)
/// over the setters' report.
pub fn render(
    template: Option<&str>,
    automation: &AutomationRef,
    changed: &Report,
    values: &BTreeMap<String, String>,
) -> Result<String, MessageError> {
    let text = template
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_MESSAGE);
    let mut exec = Exec::new(
        Rc::new(gitops_helm::funcs::sprig_hermetic_func_map()),
        Rc::new(()),
    );
    let (tree, defined) = parse("commit message", text, &|f| exec.has_func(f))
        .map_err(|e| MessageError::Parse(e.to_string()))?;
    for t in defined {
        exec.add(t);
    }
    exec.add(tree);
    let data = Value::Object(Rc::new(TemplateData {
        automation: automation.clone(),
        changed: Rc::new(changed.clone()),
        values: values.clone(),
    }));
    exec.execute("commit message", data).map_err(|e| {
        let msg = match e {
            // Flux prints Go's own text of the error (not Helm's formatting).
            gitops_helm::template::exec::ExecErrorOrMissing::Exec(e) => e.go_string(),
            gitops_helm::template::exec::ExecErrorOrMissing::Missing(n) => {
                format!("no such template {n:?}")
            }
        };
        if msg.contains("can't evaluate field Updated in type source.TemplateData") {
            MessageError::RemovedField(".Updated".into())
        } else if msg.contains("can't evaluate field ImageResult in type update.Result") {
            MessageError::RemovedField(".Changed.ImageResult".into())
        } else {
            MessageError::Execute(msg)
        }
    })
}

struct TemplateData {
    automation: AutomationRef,
    changed: Rc<Report>,
    values: BTreeMap<String, String>,
}

impl Object for TemplateData {
    fn type_name(&self) -> String {
        "source.TemplateData".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "AutomationObject" => Some(Value::Object(Rc::new(self.automation.clone()))),
            "Changed" => Some(Value::Object(Rc::new(ResultObj(self.changed.clone())))),
            "Values" => Some(Value::from(
                self.values
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect::<BTreeMap<_, _>>(),
            )),
            _ => None,
        }
    }
    fn display(&self) -> String {
        format!(
            "{{{} {} {}}}",
            self.automation.display(),
            ResultObj(self.changed.clone()).display(),
            go_map(self.values.iter().map(|(k, v)| (k.clone(), v.clone())))
        )
    }
}

impl Object for AutomationRef {
    fn type_name(&self) -> String {
        "types.NamespacedName".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Namespace" => Some(Value::from(self.namespace.as_str())),
            "Name" => Some(Value::from(self.name.as_str())),
            "String" => Some(Value::from(self.display())),
            _ => None,
        }
    }
    fn display(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// `update.Result`.
struct ResultObj(Rc<Report>);

impl Object for ResultObj {
    fn type_name(&self) -> String {
        "update.Result".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "FileChanges" => Some(Value::from(
                self.0
                    .files
                    .iter()
                    .map(|(f, objs)| {
                        (
                            f.clone(),
                            Value::Object(Rc::new(ObjectChanges(objs.clone()))),
                        )
                    })
                    .collect::<BTreeMap<_, _>>(),
            )),
            "Objects" => Some(Value::Object(Rc::new(ObjectChanges(self.0.objects())))),
            "Changes" => Some(Value::from(
                self.0
                    .changes()
                    .into_iter()
                    .map(|c| Value::Object(Rc::new(c)))
                    .collect::<Vec<_>>(),
            )),
            _ => None,
        }
    }
    fn display(&self) -> String {
        let files = self
            .0
            .files
            .iter()
            .map(|(f, objs)| format!("{f}:{}", ObjectChanges(objs.clone()).display()))
            .collect::<Vec<_>>()
            .join(" ");
        format!("{{map[{files}]}}")
    }
}

/// `update.ObjectChanges`: a map keyed by object identity.
struct ObjectChanges(BTreeMap<ObjectId, Vec<Change>>);

impl Object for ObjectChanges {
    fn type_name(&self) -> String {
        "update.ObjectChanges".into()
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn range_entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .map(|(id, changes)| {
                    (
                        Value::Object(Rc::new(id.clone())),
                        Value::from(
                            changes
                                .iter()
                                .map(|c| Value::Object(Rc::new(c.clone())))
                                .collect::<Vec<_>>(),
                        ),
                    )
                })
                .collect(),
        )
    }
    fn display(&self) -> String {
        let entries = self
            .0
            .iter()
            .map(|(id, changes)| {
                let cs = changes
                    .iter()
                    .map(Object::display)
                    .collect::<Vec<_>>()
                    .join(" ");
                format!("{}:[{cs}]", id.display())
            })
            .collect::<Vec<_>>()
            .join(" ");
        format!("map[{entries}]")
    }
}

impl Object for ObjectId {
    fn type_name(&self) -> String {
        "update.ObjectIdentifier".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let v = match name {
            "APIVersion" => &self.api_version,
            "Kind" => &self.kind,
            "Name" => &self.name,
            "Namespace" => &self.namespace,
            _ => return None,
        };
        Some(Value::from(v.as_str()))
    }
    fn display(&self) -> String {
        format!(
            "{{{{{{{} {}}} {{{} {}}}}}}}",
            self.api_version, self.kind, self.name, self.namespace
        )
    }
}

impl Object for Change {
    fn type_name(&self) -> String {
        "update.Change".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        let v = match name {
            "OldValue" => &self.old_value,
            "NewValue" => &self.new_value,
            "Setter" => &self.setter,
            _ => return None,
        };
        Some(Value::from(v.as_str()))
    }
    fn display(&self) -> String {
        format!("{{{} {} {}}}", self.old_value, self.new_value, self.setter)
    }
}

fn go_map(entries: impl Iterator<Item = (String, String)>) -> String {
    let inner = entries
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(" ");
    format!("map[{inner}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let deploy = ObjectId {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "podinfo".into(),
            namespace: "apps".into(),
        };
        let cron = ObjectId {
            api_version: "batch/v1".into(),
            kind: "CronJob".into(),
            name: "backup".into(),
            namespace: "apps".into(),
        };
        let change = |old: &str, new: &str, setter: &str| Change {
            old_value: old.into(),
            new_value: new.into(),
            setter: setter.into(),
        };
        let mut r = Report::default();
        r.files.insert(
            "podinfo.yaml".into(),
            [(
                deploy.clone(),
                vec![change(
                    "ghcr.io/stefanprodan/podinfo:6.5.0",
                    "ghcr.io/stefanprodan/podinfo:6.5.1",
                    "flux-system:podinfo",
                )],
            )]
            .into(),
        );
        r.files.insert(
            "backup.yaml".into(),
            [(cron, vec![change("1.0", "1.1", "flux-system:backup:tag")])].into(),
        );
        r
    }

    fn who() -> AutomationRef {
        AutomationRef {
            namespace: "flux-system".into(),
            name: "fleet".into(),
        }
    }

    #[test]
    fn fluxs_documented_template() {
        // The example of Flux's ImageUpdateAutomation documentation ("Message template");
        // as in Go, `{{ end -}}` trims the blank line before "Objects:".
        let template = r#"Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind }} {{ $resource.Name }}
  Changes:
{{- range $_, $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
"#;
        let msg = render(Some(template), &who(), &report(), &BTreeMap::new()).unwrap();
        assert_eq!(
            msg,
            "Automated image update

Automation name: flux-system/fleet

Files:
- backup.yaml
- podinfo.yaml
Objects:
- Deployment podinfo
  Changes:
    - ghcr.io/stefanprodan/podinfo:6.5.0 -> ghcr.io/stefanprodan/podinfo:6.5.1
- CronJob backup
  Changes:
    - 1.0 -> 1.1
"
        );
    }

    #[test]
    fn changes_values_and_functions() {
        let values: BTreeMap<String, String> = [("env".to_string(), "prod".to_string())].into();
        let t = "[{{ .Values.env | upper }}] {{ len .Changed.Changes }} changes: {{ range .Changed.Changes }}{{ .Setter }} {{ end }}{{ .AutomationObject.Name }}";
        assert_eq!(
            render(Some(t), &who(), &report(), &values).unwrap(),
            "[PROD] 2 changes: flux-system:backup:tag flux-system:podinfo fleet"
        );
        // Go's %v of the data.
        let t = r#"{{ range $id, $c := .Changed.Objects }}{{ $id }} {{ index $c 0 }};{{ end }}"#;
        assert_eq!(
            render(Some(t), &who(), &report(), &values).unwrap(),
            "{{{apps/v1 Deployment} {podinfo apps}}} {ghcr.io/stefanprodan/podinfo:6.5.0 ghcr.io/stefanprodan/podinfo:6.5.1 flux-system:podinfo};{{{batch/v1 CronJob} {backup apps}}} {1.0 1.1 flux-system:backup:tag};"
        );
    }

    #[test]
    fn default_removed_fields_and_errors() {
        assert_eq!(
            render(None, &who(), &report(), &BTreeMap::new()).unwrap(),
            DEFAULT_MESSAGE
        );
        assert_eq!(
            render(Some(""), &who(), &report(), &BTreeMap::new()).unwrap(),
            DEFAULT_MESSAGE
        );
        let e = render(
            Some("{{ range .Updated.Images }}{{ end }}"),
            &who(),
            &report(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(e, MessageError::RemovedField(".Updated".into()));
        assert!(
            e.to_string().starts_with(
                "template uses removed '.Updated' field. Please use '.Changed' instead."
            )
        );
        let e = render(
            Some("{{ .Changed.ImageResult }}"),
            &who(),
            &report(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(e, MessageError::RemovedField(".Changed.ImageResult".into()));
        let e = render(Some("{{ .Nope"), &who(), &report(), &BTreeMap::new()).unwrap_err();
        assert!(matches!(e, MessageError::Parse(_)), "{e}");
        assert!(
            e.to_string()
                .starts_with("unable to create commit message template from spec: "),
            "{e}"
        );
        let e = render(
            Some("{{ .Changed.Nope }}"),
            &who(),
            &report(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(matches!(e, MessageError::Execute(_)), "{e}");
        assert!(
            e.to_string()
                .contains("can't evaluate field Nope in type update.Result"),
            "{e}"
        );
        // A function's error reads as Go's `err.Error()` (what Flux prints), not as Helm
        // reformats template errors.
        let e = render(
            Some("{{ fail \"stop\" }}"),
            &who(),
            &report(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains(
                "template: commit message:1:3: executing \"commit message\" at <fail \"stop\">: error calling fail: stop"
            ),
            "{e}"
        );
        // Sprig's hermetic map: no clock, no randomness, no environment.
        for f in ["now", "randAlpha 3", "env \"HOME\"", "uuidv4"] {
            let e = render(
                Some(&format!("{{{{ {f} }}}}")),
                &who(),
                &report(),
                &BTreeMap::new(),
            )
            .unwrap_err();
            assert!(matches!(e, MessageError::Parse(_)), "{f}: {e}");
        }
    }
}
