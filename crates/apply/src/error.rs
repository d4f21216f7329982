//! Errors of the apply engine. Each names the object at fault and carries the server's
//! message (with Secret values redacted).

use crate::kstatus::Status;
use crate::object::ObjectRef;

/// One object that did not become ready, as reported by [`ApplyError::WaitTimeout`] and
/// [`ApplyError::WaitFailed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// The object.
    pub object: ObjectRef,
    /// Its last computed status.
    pub status: Status,
    /// The status message.
    pub message: String,
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} status: '{}'", self.object, self.status)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

fn join(list: &[NotReady]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why applying, pruning or waiting failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A manifest lacks `apiVersion`, `kind` or `metadata.name`, or is not a mapping.
    #[error("{}{reason}", match .index { Some(i) => format!("object at index {i}: "), None => String::from("object: ") })]
    InvalidObject {
        /// Position in the input list, when known.
        index: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// An inventory entry id that is not `<namespace>_<name>_<group>_<kind>`.
    #[error("invalid inventory id {id:?}: {reason}")]
    InventoryId {
        /// The id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The kind is not served by the cluster.
    #[error(
        "{object} failed to resolve: no matches for kind \"{kind}\" in version \"{api_version}\""
    )]
    UnknownKind {
        /// The object.
        object: Box<ObjectRef>,
        /// Its kind.
        kind: String,
        /// Its apiVersion.
        api_version: String,
    },
    /// A namespaced object without a namespace.
    #[error("{object} namespace not specified")]
    NamespaceNotSpecified {
        /// The object.
        object: Box<ObjectRef>,
    },
    /// The server-side apply dry run was refused.
    #[error("{object} dry-run failed ({reason}): {message}")]
    DryRun {
        /// The object.
        object: Box<ObjectRef>,
        /// The server's reason (`Invalid`, `Conflict`, `Forbidden`, …).
        reason: String,
        /// The server's message.
        message: String,
    },
    /// A change to an immutable field, and neither the `force` option nor the object's
    /// `kustomize.toolkit.fluxcd.io/force: enabled` annotation allows recreating it.
    #[error("{object} dry-run failed ({reason}): {message}")]
    Immutable {
        /// The object.
        object: Box<ObjectRef>,
        /// The server's reason (`Invalid`).
        reason: String,
        /// The server's message.
        message: String,
    },
    /// The server refused the apply.
    #[error("{object} apply failed: {message}")]
    Apply {
        /// The object.
        object: Box<ObjectRef>,
        /// The server's message.
        message: String,
    },
    /// Reading the live object failed.
    #[error("{object} query failed: {message}")]
    Query {
        /// The object.
        object: Box<ObjectRef>,
        /// The server's message.
        message: String,
    },
    /// Deleting an object failed.
    #[error("{object} delete failed: {message}")]
    Delete {
        /// The object.
        object: Box<ObjectRef>,
        /// The server's message.
        message: String,
    },
    /// Taking over fields of kubectl managers failed.
    #[error("{object} metadata.managedFields cleanup failed: {message}")]
    Cleanup {
        /// The object.
        object: Box<ObjectRef>,
        /// The server's message.
        message: String,
    },
    /// Discovery of the cluster's API resources failed.
    #[error("discovery of {api_version} failed: {message}")]
    Discovery {
        /// The group version queried.
        api_version: String,
        /// The error.
        message: String,
    },
    /// Objects were not ready before the timeout.
    #[error("timeout waiting for: [{}]", join(.0))]
    WaitTimeout(Vec<NotReady>),
    /// Objects reached a failed status while waiting (fail fast).
    #[error("failed early due to stalled resources: [{}]", join(.0))]
    WaitFailed(Vec<NotReady>),
    /// Objects being deleted did not go before the timeout.
    #[error("timeout waiting for termination of: [{}]", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    TerminationTimeout(Vec<ObjectRef>),
}

impl ApplyError {
    /// The object the error is about, when there is one.
    pub fn object(&self) -> Option<&ObjectRef> {
        match self {
            ApplyError::UnknownKind { object, .. }
            | ApplyError::NamespaceNotSpecified { object }
            | ApplyError::DryRun { object, .. }
            | ApplyError::Immutable { object, .. }
            | ApplyError::Apply { object, .. }
            | ApplyError::Query { object, .. }
            | ApplyError::Delete { object, .. }
            | ApplyError::Cleanup { object, .. } => Some(object),
            _ => None,
        }
    }
}

/// The reason and message of a client error, with Secret values redacted.
pub(crate) fn describe(err: &kube::Error, object: &ObjectRef) -> (String, String) {
    let (reason, message) = match err {
        kube::Error::Api(s) => (
            if s.reason.is_empty() {
                "Unknown".to_owned()
            } else {
                s.reason.clone()
            },
            s.message.clone(),
        ),
        other => ("Unknown".to_owned(), other.to_string()),
    };
    if object.kind == "Secret" && object.group.is_empty() {
        (reason, redact_values(&message))
    } else {
        (reason, message)
    }
}

/// The HTTP status code of an API error.
pub(crate) fn code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// Replaces what follows `Invalid value: ` (up to the next `: `) with `"[redacted]"`, so
/// validation messages about Secrets do not carry their data.
pub(crate) fn redact_values(message: &str) -> String {
    const MARK: &str = "Invalid value: ";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(MARK) {
        out.push_str(&rest[..i + MARK.len()]);
        out.push_str("\"[redacted]\"");
        rest = &rest[i + MARK.len()..];
        rest = match rest.find(": ") {
            Some(j) => &rest[j..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_values() {
        let m =
            r#"Secret "s" is invalid: data[token]: Invalid value: "hunter2": field is immutable"#;
        assert_eq!(
            redact_values(m),
            r#"Secret "s" is invalid: data[token]: Invalid value: "[redacted]": field is immutable"#
        );
        assert_eq!(redact_values("plain"), "plain");
    }

    #[test]
    fn messages_name_objects() {
        let o = ObjectRef::new("apps", "v1", "Deployment", "default", "app");
        let e = ApplyError::DryRun {
            object: o.clone().into(),
            reason: "Invalid".into(),
            message: "boom".into(),
        };
        assert_eq!(
            e.to_string(),
            "Deployment/default/app dry-run failed (Invalid): boom"
        );
        let e = ApplyError::WaitTimeout(vec![NotReady {
            object: o,
            status: Status::InProgress,
            message: "Available: 0/1".into(),
        }]);
        assert_eq!(
            e.to_string(),
            "timeout waiting for: [Deployment/default/app status: 'InProgress': Available: 0/1]"
        );
        let e = ApplyError::InvalidObject {
            index: Some(3),
            reason: "missing kind".into(),
        };
        assert_eq!(e.to_string(), "object at index 3: missing kind");
    }
}
