//! Kubernetes' protobuf encoding of request bodies, for the kinds typed clients send that
//! way (`kubectl create secret`, Helm's release Secrets, client-go leader election,
//! `DeleteOptions` of typed deletes). Bodies are `k8s\0` + a `runtime.Unknown` envelope
//! holding the object's message; they are decoded to the JSON form the server works
//! with. Responses are always JSON, which these clients accept too.

use serde_json::{Map, Value, json};

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8; 4] = b"k8s\0";

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Int,
    Bool,
    Msg(&'static [Field]),
    RepStr,
    RepMsg(&'static [Field]),
    MapStr,
    MapBytes,
    /// `map<string, ExtraValue>` (user info's `extra`: lists of strings).
    MapRepStr,
    Time,
    MicroTime,
    Fields,
}

struct Field {
    tag: u64,
    name: &'static str,
    ty: Ty,
}

const fn f(tag: u64, name: &'static str, ty: Ty) -> Field {
    Field { tag, name, ty }
}

static OWNER_REFERENCE: [Field; 6] = [
    f(1, "kind", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
    f(5, "apiVersion", Ty::Str),
    f(6, "controller", Ty::Bool),
    f(7, "blockOwnerDeletion", Ty::Bool),
];

static MANAGED_FIELDS_ENTRY: [Field; 7] = [
    f(1, "manager", Ty::Str),
    f(2, "operation", Ty::Str),
    f(3, "apiVersion", Ty::Str),
    f(4, "time", Ty::Time),
    f(6, "fieldsType", Ty::Str),
    f(7, "fieldsV1", Ty::Fields),
    f(8, "subresource", Ty::Str),
];

static OBJECT_META: [Field; 15] = [
    f(1, "name", Ty::Str),
    f(2, "generateName", Ty::Str),
    f(3, "namespace", Ty::Str),
    f(4, "selfLink", Ty::Str),
    f(5, "uid", Ty::Str),
    f(6, "resourceVersion", Ty::Str),
    f(7, "generation", Ty::Int),
    f(8, "creationTimestamp", Ty::Time),
    f(9, "deletionTimestamp", Ty::Time),
    f(10, "deletionGracePeriodSeconds", Ty::Int),
    f(11, "labels", Ty::MapStr),
    f(12, "annotations", Ty::MapStr),
    f(13, "ownerReferences", Ty::RepMsg(&OWNER_REFERENCE)),
    f(14, "finalizers", Ty::RepStr),
    f(17, "managedFields", Ty::RepMsg(&MANAGED_FIELDS_ENTRY)),
];

static SECRET: [Field; 5] = [
    f(1, "metadata", Ty::Msg(&OBJECT_META)),
    f(2, "data", Ty::MapBytes),
    f(3, "type", Ty::Str),
    f(4, "stringData", Ty::MapStr),
    f(5, "immutable", Ty::Bool),
];

static CONFIG_MAP: [Field; 4] = [
    f(1, "metadata", Ty::Msg(&OBJECT_META)),
    f(2, "data", Ty::MapStr),
    f(3, "binaryData", Ty::MapBytes),
    f(4, "immutable", Ty::Bool),
];

static NAMESPACE_CONDITION: [Field; 5] = [
    f(1, "type", Ty::Str),
    f(2, "status", Ty::Str),
    f(4, "lastTransitionTime", Ty::Time),
    f(5, "reason", Ty::Str),
    f(6, "message", Ty::Str),
];

static NAMESPACE_SPEC: [Field; 1] = [f(1, "finalizers", Ty::RepStr)];
static NAMESPACE_STATUS: [Field; 2] = [
    f(1, "phase", Ty::Str),
    f(2, "conditions", Ty::RepMsg(&NAMESPACE_CONDITION)),
];

static NAMESPACE: [Field; 3] = [
    f(1, "metadata", Ty::Msg(&OBJECT_META)),
    f(2, "spec", Ty::Msg(&NAMESPACE_SPEC)),
    f(3, "status", Ty::Msg(&NAMESPACE_STATUS)),
];

static OBJECT_REFERENCE: [Field; 7] = [
    f(1, "kind", Ty::Str),
    f(2, "namespace", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
    f(5, "apiVersion", Ty::Str),
    f(6, "resourceVersion", Ty::Str),
    f(7, "fieldPath", Ty::Str),
];

static LOCAL_OBJECT_REFERENCE: [Field; 1] = [f(1, "name", Ty::Str)];

static SERVICE_ACCOUNT: [Field; 4] = [
    f(1, "metadata", Ty::Msg(&OBJECT_META)),
    f(2, "secrets", Ty::RepMsg(&OBJECT_REFERENCE)),
    f(3, "imagePullSecrets", Ty::RepMsg(&LOCAL_OBJECT_REFERENCE)),
    f(4, "automountServiceAccountToken", Ty::Bool),
];

static LEASE_SPEC: [Field; 7] = [
    f(1, "holderIdentity", Ty::Str),
    f(2, "leaseDurationSeconds", Ty::Int),
    f(3, "acquireTime", Ty::MicroTime),
    f(4, "renewTime", Ty::MicroTime),
    f(5, "leaseTransitions", Ty::Int),
    f(6, "strategy", Ty::Str),
    f(7, "preferredHolder", Ty::Str),
];

static LEASE: [Field; 2] = [
    f(1, "metadata", Ty::Msg(&OBJECT_META)),
    f(2, "spec", Ty::Msg(&LEASE_SPEC)),
];

static PRECONDITIONS: [Field; 2] = [f(1, "uid", Ty::Str), f(2, "resourceVersion", Ty::Str)];

static DELETE_OPTIONS: [Field; 6] = [
    f(1, "gracePeriodSeconds", Ty::Int),
    f(2, "preconditions", Ty::Msg(&PRECONDITIONS)),
    f(3, "orphanDependents", Ty::Bool),
    f(4, "propagationPolicy", Ty::Str),
    f(5, "dryRun", Ty::RepStr),
    f(
        6,
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        Ty::Bool,
    ),
];

static RESOURCE_ATTRIBUTES: [Field; 7] = [
    f(1, "namespace", Ty::Str),
    f(2, "verb", Ty::Str),
    f(3, "group", Ty::Str),
    f(4, "version", Ty::Str),
    f(5, "resource", Ty::Str),
    f(6, "subresource", Ty::Str),
    f(7, "name", Ty::Str),
];

static NON_RESOURCE_ATTRIBUTES: [Field; 2] = [f(1, "path", Ty::Str), f(2, "verb", Ty::Str)];

/// `SubjectAccessReviewSpec`.
static SUBJECT_ACCESS_REVIEW_SPEC: [Field; 6] = [
    f(1, "resourceAttributes", Ty::Msg(&RESOURCE_ATTRIBUTES)),
    f(
        2,
        "nonResourceAttributes",
        Ty::Msg(&NON_RESOURCE_ATTRIBUTES),
    ),
    f(3, "user", Ty::Str),
    f(4, "groups", Ty::RepStr),
    f(5, "extra", Ty::MapRepStr),
    f(6, "uid", Ty::Str),
];

static SUBJECT_ACCESS_REVIEW: [Field; 2] = [
    f(1, "metadata", Ty::Msg(&OBJECT_META)),
    f(2, "spec", Ty::Msg(&SUBJECT_ACCESS_REVIEW_SPEC)),
];

static SELF_SUBJECT_RULES_REVIEW_SPEC: [Field; 1] = [f(1, "namespace", Ty::Str)];

static SELF_SUBJECT_RULES_REVIEW: [Field; 2] = [
    f(1, "metadata", Ty::Msg(&OBJECT_META)),
    f(2, "spec", Ty::Msg(&SELF_SUBJECT_RULES_REVIEW_SPEC)),
];

static SELF_SUBJECT_REVIEW: [Field; 1] = [f(1, "metadata", Ty::Msg(&OBJECT_META))];

static TOKEN_REVIEW_SPEC: [Field; 2] = [f(1, "token", Ty::Str), f(2, "audiences", Ty::RepStr)];

static TOKEN_REVIEW: [Field; 2] = [
    f(1, "metadata", Ty::Msg(&OBJECT_META)),
    f(2, "spec", Ty::Msg(&TOKEN_REVIEW_SPEC)),
];

static BOUND_OBJECT_REFERENCE: [Field; 4] = [
    f(1, "kind", Ty::Str),
    f(2, "apiVersion", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "uid", Ty::Str),
];

static TOKEN_REQUEST_SPEC: [Field; 3] = [
    f(1, "audiences", Ty::RepStr),
    f(3, "boundObjectRef", Ty::Msg(&BOUND_OBJECT_REFERENCE)),
    f(4, "expirationSeconds", Ty::Int),
];

static TOKEN_REQUEST: [Field; 2] = [
    f(1, "metadata", Ty::Msg(&OBJECT_META)),
    f(2, "spec", Ty::Msg(&TOKEN_REQUEST_SPEC)),
];

static POLICY_RULE: [Field; 5] = [
    f(1, "verbs", Ty::RepStr),
    f(2, "apiGroups", Ty::RepStr),
    f(3, "resources", Ty::RepStr),
    f(4, "resourceNames", Ty::RepStr),
    f(5, "nonResourceURLs", Ty::RepStr),
];

static LABEL_SELECTOR_REQUIREMENT: [Field; 3] = [
    f(1, "key", Ty::Str),
    f(2, "operator", Ty::Str),
    f(3, "values", Ty::RepStr),
];

static LABEL_SELECTOR: [Field; 2] = [
    f(1, "matchLabels", Ty::MapStr),
    f(
        2,
        "matchExpressions",
        Ty::RepMsg(&LABEL_SELECTOR_REQUIREMENT),
    ),
];

static AGGREGATION_RULE: [Field; 1] = [f(1, "clusterRoleSelectors", Ty::RepMsg(&LABEL_SELECTOR))];

static ROLE: [Field; 3] = [
    f(1, "metadata", Ty::Msg(&OBJECT_META)),
    f(2, "rules", Ty::RepMsg(&POLICY_RULE)),
    f(3, "aggregationRule", Ty::Msg(&AGGREGATION_RULE)),
];

static SUBJECT: [Field; 4] = [
    f(1, "kind", Ty::Str),
    f(2, "apiGroup", Ty::Str),
    f(3, "name", Ty::Str),
    f(4, "namespace", Ty::Str),
];

static ROLE_REF: [Field; 3] = [
    f(1, "apiGroup", Ty::Str),
    f(2, "kind", Ty::Str),
    f(3, "name", Ty::Str),
];

static ROLE_BINDING: [Field; 3] = [
    f(1, "metadata", Ty::Msg(&OBJECT_META)),
    f(2, "subjects", Ty::RepMsg(&SUBJECT)),
    f(3, "roleRef", Ty::Msg(&ROLE_REF)),
];

fn message_of(api_version: &str, kind: &str) -> Option<&'static [Field]> {
    Some(match (api_version, kind) {
        ("v1", "Secret") => &SECRET,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("coordination.k8s.io/v1", "Lease") => &LEASE,
        // A Role has no aggregationRule (tag 3 never appears in its encoding).
        ("rbac.authorization.k8s.io/v1", "Role" | "ClusterRole") => &ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => &ROLE_BINDING,
        (
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview",
        ) => &SUBJECT_ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => &SELF_SUBJECT_RULES_REVIEW,
        ("authentication.k8s.io/v1", "SelfSubjectReview") => &SELF_SUBJECT_REVIEW,
        ("authentication.k8s.io/v1", "TokenReview") => &TOKEN_REVIEW,
        ("authentication.k8s.io/v1", "TokenRequest") => &TOKEN_REQUEST,
        (_, "DeleteOptions") => &DELETE_OPTIONS,
        _ => return None,
    })
}

/// Whether a content type is Kubernetes protobuf.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim() == "application/vnd.kubernetes.protobuf"
}

/// Decodes a protobuf request body into its JSON form.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or("not a Kubernetes protobuf body (missing the k8s\\0 prefix)")?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    let mut r = Reader { buf: body };
    while let Some((tag, wire)) = r.key()? {
        match (tag, wire) {
            (1, 2) => {
                let mut tm = Reader { buf: r.bytes()? };
                while let Some((t, w)) = tm.key()? {
                    match (t, w) {
                        (1, 2) => api_version = tm.string()?,
                        (2, 2) => kind = tm.string()?,
                        _ => tm.skip(w)?,
                    }
                }
            }
            (2, 2) => raw = r.bytes()?,
            _ => r.skip(wire)?,
        }
    }
    let fields = message_of(&api_version, &kind).ok_or_else(|| {
        format!(
            "protobuf bodies are accepted for Secret, ConfigMap, Namespace, ServiceAccount, Lease, DeleteOptions, RBAC kinds, access reviews and TokenRequest; send {kind} ({api_version}) as JSON or YAML"
        )
    })?;
    let mut v = message(raw, fields, 0)?;
    if let Value::Object(m) = &mut v {
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!(kind));
    }
    Ok(v)
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or("truncated protobuf varint")?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("protobuf varint too long".into())
    }

    fn key(&mut self) -> Result<Option<(u64, u64)>, String> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let k = self.varint()?;
        Ok(Some((k >> 3, k & 7)))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = usize::try_from(self.varint()?).map_err(|_| "protobuf length too large")?;
        if n > self.buf.len() {
            return Err("truncated protobuf field".into());
        }
        let (b, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(b)
    }

    fn string(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| "protobuf string is not UTF-8".into())
    }

    fn skip(&mut self, wire: u64) -> Result<(), String> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.take(8),
            2 => self.bytes().map(|_| ()),
            5 => self.take(4),
            w => Err(format!("unsupported protobuf wire type {w}")),
        }
    }

    fn take(&mut self, n: usize) -> Result<(), String> {
        if n > self.buf.len() {
            return Err("truncated protobuf field".into());
        }
        self.buf = &self.buf[n..];
        Ok(())
    }
}

const MAX_DEPTH: usize = 32;

fn message(buf: &[u8], fields: &'static [Field], depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("protobuf message nested too deeply".into());
    }
    let mut out = Map::new();
    let mut r = Reader { buf };
    while let Some((tag, wire)) = r.key()? {
        let Some(field) = fields.iter().find(|x| x.tag == tag) else {
            r.skip(wire)?;
            continue;
        };
        let name = field.name.to_owned();
        match field.ty {
            Ty::Str => {
                out.insert(name, json!(r.string()?));
            }
            Ty::Int => {
                let v = r.varint()? as i64;
                out.insert(name, json!(v));
            }
            Ty::Bool => {
                out.insert(name, json!(r.varint()? != 0));
            }
            Ty::Msg(sub) => {
                out.insert(name, message(r.bytes()?, sub, depth + 1)?);
            }
            Ty::RepStr => push(&mut out, name, json!(r.string()?)),
            Ty::RepMsg(sub) => {
                let v = message(r.bytes()?, sub, depth + 1)?;
                push(&mut out, name, v);
            }
            Ty::MapStr | Ty::MapBytes | Ty::MapRepStr => {
                let (k, v) = map_entry(r.bytes()?, field.ty)?;
                if let Value::Object(m) =
                    out.entry(name).or_insert_with(|| Value::Object(Map::new()))
                {
                    m.insert(k, v);
                }
            }
            Ty::Time | Ty::MicroTime => {
                out.insert(name, time(r.bytes()?, matches!(field.ty, Ty::MicroTime))?);
            }
            Ty::Fields => {
                out.insert(name, fields_v1(r.bytes()?)?);
            }
        }
    }
    Ok(Value::Object(out))
}

fn push(out: &mut Map<String, Value>, name: String, v: Value) {
    if let Value::Array(a) = out.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
        a.push(v);
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One entry of a map field of type `ty` ([`Ty::MapStr`], [`Ty::MapBytes`] or
/// [`Ty::MapRepStr`]).
fn map_entry(buf: &[u8], ty: Ty) -> Result<(String, Value), String> {
    let mut r = Reader { buf };
    let mut k = String::new();
    let mut v = match ty {
        Ty::MapRepStr => json!([]),
        _ => json!(""),
    };
    while let Some((tag, wire)) = r.key()? {
        match (tag, wire, ty) {
            (1, 2, _) => k = r.string()?,
            (2, 2, Ty::MapBytes) => v = json!(b64(r.bytes()?)),
            (2, 2, Ty::MapRepStr) => {
                let mut items = Reader { buf: r.bytes()? };
                let mut list = Vec::new();
                while let Some((tag, wire)) = items.key()? {
                    match (tag, wire) {
                        (1, 2) => list.push(json!(items.string()?)),
                        _ => items.skip(wire)?,
                    }
                }
                v = json!(list);
            }
            (2, 2, _) => v = json!(r.string()?),
            _ => r.skip(wire)?,
        }
    }
    Ok((k, v))
}

fn time(buf: &[u8], micro: bool) -> Result<Value, String> {
    let mut r = Reader { buf };
    let (mut secs, mut nanos) = (0i64, 0i64);
    while let Some((tag, wire)) = r.key()? {
        match (tag, wire) {
            (1, 0) => secs = r.varint()? as i64,
            (2, 0) => nanos = r.varint()? as i64,
            _ => r.skip(wire)?,
        }
    }
    let ts = jiff::Timestamp::new(secs, i32::try_from(nanos).unwrap_or(0))
        .map_err(|e| format!("invalid protobuf time: {e}"))?;
    let fmt = if micro {
        "%Y-%m-%dT%H:%M:%S%.6fZ"
    } else {
        "%Y-%m-%dT%H:%M:%SZ"
    };
    Ok(json!(ts.strftime(fmt).to_string()))
}

fn fields_v1(buf: &[u8]) -> Result<Value, String> {
    let mut r = Reader { buf };
    while let Some((tag, wire)) = r.key()? {
        if tag == 1 && wire == 2 {
            return serde_json::from_slice(r.bytes()?)
                .map_err(|e| format!("invalid FieldsV1: {e}"));
        }
        r.skip(wire)?;
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn field(tag: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint(tag << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    /// A body: the magic and a `runtime.Unknown` of `apiVersion`/`kind` holding `object`
    /// (empty parts left out).
    fn envelope(api_version: &[u8], kind: &[u8], object: &[u8]) -> Vec<u8> {
        let mut tm = Vec::new();
        if !api_version.is_empty() {
            field(1, api_version, &mut tm);
        }
        field(2, kind, &mut tm);
        let mut body = MAGIC.to_vec();
        field(1, &tm, &mut body);
        if !object.is_empty() {
            field(2, object, &mut body);
        }
        body
    }

    #[test]
    fn decodes_a_secret_like_helm_sends_it() {
        let mut meta = Vec::new();
        field(1, b"sh.helm.release.v1.web.v1", &mut meta);
        field(3, b"default", &mut meta);
        let mut label = Vec::new();
        field(1, b"owner", &mut label);
        field(2, b"helm", &mut label);
        field(11, &label, &mut meta);
        let mut secret = Vec::new();
        field(1, &meta, &mut secret);
        let mut entry = Vec::new();
        field(1, b"release", &mut entry);
        field(2, b"\x00\x01payload", &mut entry);
        field(2, &entry, &mut secret);
        field(3, b"helm.sh/release.v1", &mut secret);
        let v = decode(&envelope(b"v1", b"Secret", &secret)).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
                   "metadata": {"name": "sh.helm.release.v1.web.v1", "namespace": "default", "labels": {"owner": "helm"}},
                   "data": {"release": "AAFwYXlsb2Fk"}})
        );
    }

    #[test]
    fn decodes_a_subject_access_review_with_extra() {
        let mut extra_value = Vec::new();
        field(1, b"a", &mut extra_value);
        field(1, b"b", &mut extra_value);
        let mut entry = Vec::new();
        field(1, b"scopes", &mut entry);
        field(2, &extra_value, &mut entry);
        let mut spec = Vec::new();
        field(3, b"alice", &mut spec);
        field(4, b"devs", &mut spec);
        field(5, &entry, &mut spec);
        let mut sar = Vec::new();
        field(2, &spec, &mut sar);
        let v = decode(&envelope(
            b"authorization.k8s.io/v1",
            b"SubjectAccessReview",
            &sar,
        ))
        .unwrap();
        assert_eq!(
            v["spec"],
            json!({"user": "alice", "groups": ["devs"], "extra": {"scopes": ["a", "b"]}})
        );
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        assert!(decode(b"not protobuf").is_err());
        assert!(decode(b"k8s\0\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff").is_err());
        assert!(decode(b"k8s\0\x12\x05ab").is_err());
        let body = envelope(b"", b"Deployment", b"");
        assert!(decode(&body).unwrap_err().contains("send Deployment"));
    }
}
