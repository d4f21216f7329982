//! RBAC as Kubernetes evaluates it: which bindings apply to a user, what their roles'
//! rules allow, the rules a user holds in a namespace, whether one set of rules covers
//! another (escalation prevention), and ClusterRole aggregation.

use super::{
    Attributes, Objects, RBAC_GROUP, User, go_quoted_list, key, parse_service_account_user, strings,
};
use crate::error::{ApiError, ApiResult};
use crate::store::Obj;
use gitops_go::selector::Selector;
use serde_json::{Value, json};
use std::sync::Arc;

/// An authorization decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request is allowed.
    pub allowed: bool,
    /// Why: the binding that allowed it, or the errors met while looking.
    pub reason: String,
}

/// Decides a request as the real server's authorizer chain does: `system:masters` may do
/// anything; otherwise RBAC allows it when a rule of a role bound to the user (cluster-wide,
/// or in the request's namespace) matches it, and has no opinion (denied) otherwise.
pub fn authorize(objs: &impl Objects, user: &User, a: &Attributes) -> Decision {
    if user.is_privileged() {
        return Decision {
            allowed: true,
            reason: String::new(),
        };
    }
    let mut allowed_by = None;
    let errors = visit(objs, user, a.namespace(), &mut |describe, rules| {
        if rules.iter().any(|r| rule_allows(r, a)) {
            allowed_by = Some(describe());
            true
        } else {
            false
        }
    });
    match allowed_by {
        Some(by) => Decision {
            allowed: true,
            reason: format!("RBAC: allowed by {by}"),
        },
        None => Decision {
            allowed: false,
            reason: errors_reason(&errors),
        },
    }
}

/// `RBAC: <error>` or `RBAC: [<e1>, <e2>]` (Go's error aggregate), or nothing.
fn errors_reason(errors: &[String]) -> String {
    match errors {
        [] => String::new(),
        [one] => format!("RBAC: {one}"),
        many => format!("RBAC: [{}]", many.join(", ")),
    }
}

/// The rules that apply to a user in a namespace ("" for cluster scope: ClusterRoleBindings
/// only), and the errors met resolving roles.
pub fn rules_for(objs: &impl Objects, user: &User, namespace: &str) -> (Vec<Value>, Vec<String>) {
    let mut out = Vec::new();
    let errors = visit(objs, user, namespace, &mut |_, rules| {
        out.extend(rules.iter().cloned());
        false
    });
    (out, errors)
}

/// Gets a binding's description (built on demand) and its role's rules; true stops.
type RuleVisitor<'a> = dyn FnMut(&dyn Fn() -> String, &[Value]) -> bool + 'a;

/// Visits the rules of every binding that applies to `user`: ClusterRoleBindings, then the
/// RoleBindings of `namespace`. The visitor gets a description of the binding (for
/// reasons) and the role's rules, and returns true to stop. Returns the resolution errors.
fn visit(
    objs: &impl Objects,
    user: &User,
    namespace: &str,
    visitor: &mut RuleVisitor,
) -> Vec<String> {
    let mut errors = Vec::new();
    let crbs = objs.objects(&format!("{RBAC_GROUP}/clusterrolebindings/"));
    let rbs = if namespace.is_empty() {
        Vec::new()
    } else {
        objs.objects(&format!("{RBAC_GROUP}/rolebindings/{namespace}/"))
    };
    for (binding, binding_ns) in crbs
        .iter()
        .map(|b| (b, ""))
        .chain(rbs.iter().map(|b| (b, namespace)))
    {
        let b = &binding.value;
        let Some(subject) = b["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| applies_to(s, user, binding_ns))
        else {
            continue;
        };
        let role = match role_of(objs, &b["roleRef"], binding_ns) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let empty = Vec::new();
        let rules = role.value["rules"].as_array().unwrap_or(&empty);
        let describe = || describe_binding(b, binding_ns, subject);
        if visitor(&describe, rules) {
            break;
        }
    }
    errors
}

/// `ClusterRoleBinding "b" of ClusterRole "r" to Group "g"` /
/// `RoleBinding "b/ns" of Role "r" to ServiceAccount "sa/ns"`.
fn describe_binding(b: &Value, binding_ns: &str, subject: &Value) -> String {
    let name = b["metadata"]["name"].as_str().unwrap_or_default();
    let kind = subject["kind"].as_str().unwrap_or_default();
    let sname = subject["name"].as_str().unwrap_or_default();
    let subject = if kind == "ServiceAccount" {
        let ns = subject["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(binding_ns);
        format!("{kind} {:?}", format!("{sname}/{ns}"))
    } else {
        format!("{kind} {sname:?}")
    };
    let (what, name) = if binding_ns.is_empty() {
        ("ClusterRoleBinding", name.to_owned())
    } else {
        ("RoleBinding", format!("{name}/{binding_ns}"))
    };
    format!(
        "{what} {name:?} of {} {:?} to {subject}",
        b["roleRef"]["kind"].as_str().unwrap_or_default(),
        b["roleRef"]["name"].as_str().unwrap_or_default()
    )
}

/// Whether a binding's subject is the user.
fn applies_to(subject: &Value, user: &User, binding_ns: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or_default();
    match subject["kind"].as_str().unwrap_or_default() {
        "User" => !name.is_empty() && user.name == name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = subject["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_ns);
            parse_service_account_user(&user.name) == Some((ns, name))
        }
        _ => false,
    }
}

/// The role a binding refers to (a Role only from a RoleBinding, in its namespace).
fn role_of(objs: &impl Objects, role_ref: &Value, binding_ns: &str) -> Result<Arc<Obj>, String> {
    let name = role_ref["name"].as_str().unwrap_or_default();
    match role_ref["kind"].as_str().unwrap_or_default() {
        "ClusterRole" => objs
            .object(&key(RBAC_GROUP, "clusterroles", "", name))
            .ok_or_else(|| format!("clusterrole.rbac.authorization.k8s.io {name:?} not found")),
        "Role" if !binding_ns.is_empty() => objs
            .object(&key(RBAC_GROUP, "roles", binding_ns, name))
            .ok_or_else(|| format!("role.rbac.authorization.k8s.io {name:?} not found")),
        other => Err(format!("unsupported role reference kind: {other:?}")),
    }
}

fn has(list: &Value, item: &str) -> bool {
    strings(list).any(|s| s == item)
}

fn has_or_all(list: &Value, item: &str) -> bool {
    strings(list).any(|s| s == item || s == "*")
}

/// Whether one rule allows a request (Kubernetes' `RuleAllows`).
pub fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    if !has_or_all(&rule["verbs"], &a.verb) {
        return false;
    }
    match &a.resource {
        Some(r) => {
            let combined = if r.subresource.is_empty() {
                r.resource.clone()
            } else {
                format!("{}/{}", r.resource, r.subresource)
            };
            has_or_all(&rule["apiGroups"], &r.group)
                && strings(&rule["resources"]).any(|res| {
                    res == "*"
                        || res == combined
                        || (!r.subresource.is_empty()
                            && res.strip_prefix("*/") == Some(r.subresource.as_str()))
                })
                && (strings(&rule["resourceNames"]).next().is_none()
                    || has(&rule["resourceNames"], &r.name))
        }
        None => strings(&rule["nonResourceURLs"]).any(|u| {
            u == "*"
                || u == a.path
                || u.strip_suffix('*')
                    .is_some_and(|prefix| a.path.starts_with(prefix))
        }),
    }
}

/// One permission of a rule broken down: a verb on one group's resource (one name or all),
/// or on one non-resource URL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Atom {
    group: String,
    resource: String,
    url: String,
    name: String,
    verb: String,
}

fn atoms(rule: &Value) -> Vec<Atom> {
    let mut out = Vec::new();
    let verbs: Vec<&str> = strings(&rule["verbs"]).collect();
    let names: Vec<&str> = strings(&rule["resourceNames"]).collect();
    for group in strings(&rule["apiGroups"]) {
        for resource in strings(&rule["resources"]) {
            for verb in &verbs {
                let names: Vec<&str> = if names.is_empty() {
                    vec![""]
                } else {
                    names.clone()
                };
                for name in names {
                    out.push(Atom {
                        group: group.into(),
                        resource: resource.into(),
                        url: String::new(),
                        name: name.into(),
                        verb: (*verb).into(),
                    });
                }
            }
        }
    }
    for url in strings(&rule["nonResourceURLs"]) {
        for verb in &verbs {
            out.push(Atom {
                group: String::new(),
                resource: String::new(),
                url: url.into(),
                name: String::new(),
                verb: (*verb).into(),
            });
        }
    }
    out
}

/// Whether an owner's rule covers one atom (Kubernetes' `ruleCovers`: literal, with `*`
/// only covered by `*`, and `*/sub` covering that subresource of every resource).
fn covers(owner: &Value, atom: &Atom) -> bool {
    if !has_or_all(&owner["verbs"], &atom.verb) {
        return false;
    }
    if !atom.url.is_empty() {
        return strings(&owner["nonResourceURLs"]).any(|u| {
            u == "*"
                || u == atom.url
                || u.strip_suffix('*').is_some_and(|p| atom.url.starts_with(p))
        });
    }
    if !has_or_all(&owner["apiGroups"], &atom.group) {
        return false;
    }
    let resource_ok = has_or_all(&owner["resources"], &atom.resource)
        || atom
            .resource
            .split_once('/')
            .is_some_and(|(_, sub)| has(&owner["resources"], &format!("*/{sub}")));
    if !resource_ok {
        return false;
    }
    let names: Vec<&str> = strings(&owner["resourceNames"]).collect();
    names.is_empty() || (!atom.name.is_empty() && names.contains(&atom.name.as_str()))
}

/// The permissions of `requested` that no rule of `owner` covers.
fn missing(owner: &[Value], requested: &[Value]) -> Vec<Atom> {
    let mut out: Vec<Atom> = requested
        .iter()
        .flat_map(atoms)
        .filter(|a| !owner.iter().any(|o| covers(o, a)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Go's `PolicyRule.CompactString`: `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list"]}`.
fn compact(group: &str, resource: &str, url: &str, name: &str, verbs: &[String]) -> String {
    let mut parts = Vec::new();
    if url.is_empty() {
        parts.push(format!("APIGroups:{}", go_quoted_list(&[group.to_owned()])));
        parts.push(format!(
            "Resources:{}",
            go_quoted_list(&[resource.to_owned()])
        ));
    } else {
        parts.push(format!(
            "NonResourceURLs:{}",
            go_quoted_list(&[url.to_owned()])
        ));
    }
    if !name.is_empty() {
        parts.push(format!(
            "ResourceNames:{}",
            go_quoted_list(&[name.to_owned()])
        ));
    }
    parts.push(format!("Verbs:{}", go_quoted_list(verbs)));
    format!("{{{}}}", parts.join(", "))
}

/// Missing permissions as the real server lists them: one line per resource (verbs merged).
fn describe_missing(atoms: &[Atom]) -> String {
    let mut lines: Vec<(String, Vec<String>, String)> = Vec::new();
    for a in atoms {
        let id = format!("{}\0{}\0{}\0{}", a.group, a.resource, a.url, a.name);
        match lines.iter_mut().find(|(k, _, _)| *k == id) {
            Some((_, verbs, _)) => verbs.push(a.verb.clone()),
            None => lines.push((id, vec![a.verb.clone()], String::new())),
        }
    }
    let mut out: Vec<String> = lines
        .into_iter()
        .map(|(id, verbs, _)| {
            let parts: Vec<&str> = id.split('\0').collect();
            compact(parts[0], parts[1], parts[2], parts[3], &verbs)
        })
        .collect();
    out.sort();
    out.join("\n")
}

/// Escalation prevention for a write of an RBAC object by a user RBAC applies to: a Role
/// or ClusterRole may only hold permissions the user has (in its namespace, or cluster-wide)
/// unless the user may `escalate`; a binding may only grant a role whose permissions the
/// user has unless the user may `bind` it. `aggregationRule` needs `escalate`.
pub fn check_escalation(
    objs: &impl Objects,
    user: &User,
    plural: &str,
    ns: &str,
    old: Option<&Value>,
    new: &Value,
) -> ApiResult<()> {
    if user.is_privileged() {
        return Ok(());
    }
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    let refuse = |why: String| ApiError::forbidden_object(RBAC_GROUP, plural, name, &why);
    let requested: Vec<Value> = match plural {
        "roles" | "clusterroles" => {
            if let Some(o) = old
                && o["rules"] == new["rules"]
                && o["aggregationRule"] == new["aggregationRule"]
            {
                return Ok(());
            }
            let escalate = Attributes::resource("escalate", RBAC_GROUP, plural, "", ns, name);
            if authorize(objs, user, &escalate).allowed {
                return Ok(());
            }
            if !new["aggregationRule"].is_null() {
                return Err(refuse(
                    "must have cluster-admin privileges to use an aggregationRule".into(),
                ));
            }
            new["rules"].as_array().cloned().unwrap_or_default()
        }
        "rolebindings" | "clusterrolebindings" => {
            let role_ref = &new["roleRef"];
            let role_plural = match role_ref["kind"].as_str() {
                Some("Role") => "roles",
                _ => "clusterroles",
            };
            let role_name = role_ref["name"].as_str().unwrap_or_default();
            let bind = Attributes::resource("bind", RBAC_GROUP, role_plural, "", ns, role_name);
            if authorize(objs, user, &bind).allowed {
                return Ok(());
            }
            let role = role_of(objs, role_ref, ns).map_err(refuse)?;
            role.value["rules"].as_array().cloned().unwrap_or_default()
        }
        _ => return Ok(()),
    };
    let (held, errors) = rules_for(objs, user, ns);
    let gaps = missing(&held, &requested);
    if gaps.is_empty() {
        return Ok(());
    }
    let mut why = format!(
        "user {:?} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        user.name,
        go_quoted_list(&user.groups),
        describe_missing(&gaps)
    );
    if !errors.is_empty() {
        why.push_str(&format!("; resolution errors: [{}]", errors.join(", ")));
    }
    Err(refuse(why))
}

/// The rules an aggregated ClusterRole should hold: those of every other ClusterRole its
/// `aggregationRule` selects, in name order, each once. `None` when it has no rule.
pub fn aggregated_rules(objs: &impl Objects, role: &Value) -> Option<Vec<Value>> {
    let selectors = role["aggregationRule"]["clusterRoleSelectors"].as_array()?;
    let own = role["metadata"]["name"].as_str().unwrap_or_default();
    let all = objs.objects(&format!("{RBAC_GROUP}/clusterroles/"));
    let mut rules: Vec<Value> = Vec::new();
    for sel in selectors {
        let Ok(selector) = structured_selector(sel) else {
            continue;
        };
        for cr in &all {
            let v = &cr.value;
            if v["metadata"]["name"].as_str() == Some(own) {
                continue;
            }
            let labels = &v["metadata"]["labels"];
            if !selector.matches(|k| labels.get(k).and_then(Value::as_str)) {
                continue;
            }
            for r in v["rules"].as_array().into_iter().flatten() {
                if !rules.contains(r) {
                    rules.push(r.clone());
                }
            }
        }
    }
    Some(rules)
}

/// A `metav1.LabelSelector` object (an aggregation rule's), or why it is invalid.
pub(crate) fn structured_selector(
    sel: &Value,
) -> Result<Selector, gitops_go::selector::SelectorError> {
    let labels = sel["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)));
    let exprs = sel["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["key"].as_str().unwrap_or_default(),
                e["operator"].as_str().unwrap_or_default(),
                strings(&e["values"]).map(str::to_owned).collect(),
            )
        });
    Selector::from_structured(labels, exprs)
}

/// A SelfSubjectRulesReview status: the user's rules in a namespace.
pub fn rules_review(objs: &impl Objects, user: &User, namespace: &str) -> Value {
    let (rules, errors) = rules_for(objs, user, namespace);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for r in &rules {
        if r["nonResourceURLs"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            non_resource_rules
                .push(json!({"verbs": r["verbs"], "nonResourceURLs": r["nonResourceURLs"]}));
        }
        if r["resources"].as_array().is_some_and(|a| !a.is_empty()) {
            let mut rr = json!({"verbs": r["verbs"], "apiGroups": r["apiGroups"], "resources": r["resources"]});
            if r["resourceNames"].as_array().is_some_and(|a| !a.is_empty()) {
                rr["resourceNames"] = r["resourceNames"].clone();
            }
            resource_rules.push(rr);
        }
    }
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": !errors.is_empty(),
    });
    if !errors.is_empty() {
        status["evaluationError"] = json!(errors.join(", "));
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(verb: &str, group: &str, res: &str, sub: &str, name: &str) -> Attributes {
        Attributes::resource(verb, group, res, sub, "ns", name)
    }

    #[test]
    fn rules_match_as_kubernetes() {
        let r = json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "*/scale"], "resourceNames": ["a"]});
        assert!(rule_allows(&r, &attrs("get", "", "pods", "", "a")));
        assert!(!rule_allows(&r, &attrs("get", "", "pods", "", "b")));
        assert!(!rule_allows(&r, &attrs("list", "", "pods", "", "")));
        // A resource does not cover its subresources; `*/scale` covers every scale.
        assert!(!rule_allows(&r, &attrs("get", "", "pods", "log", "a")));
        assert!(rule_allows(
            &r,
            &attrs("get", "", "deployments", "scale", "a")
        ));
        assert!(!rule_allows(&r, &attrs("get", "apps", "pods", "", "a")));
        let all = json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]});
        assert!(rule_allows(&all, &attrs("escalate", "x", "y", "z", "")));
        assert!(!rule_allows(&all, &Attributes::non_resource("get", "/api")));
        let urls = json!({"verbs": ["get"], "nonResourceURLs": ["/apis/*", "/version"]});
        assert!(rule_allows(
            &urls,
            &Attributes::non_resource("get", "/apis/apps")
        ));
        assert!(rule_allows(
            &urls,
            &Attributes::non_resource("get", "/version")
        ));
        assert!(!rule_allows(
            &urls,
            &Attributes::non_resource("get", "/version/x")
        ));
        assert!(!rule_allows(
            &urls,
            &Attributes::non_resource("post", "/version")
        ));
    }

    #[test]
    fn coverage_is_literal() {
        let owner = vec![
            json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps", "*/status"]}),
            json!({"verbs": ["*"], "apiGroups": ["apps"], "resources": ["*"], "resourceNames": ["web"]}),
        ];
        let ok = vec![
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps", "pods/status"], "resourceNames": ["x"]}),
            json!({"verbs": ["delete"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"]}),
        ];
        assert!(missing(&owner, &ok).is_empty());
        let too_much = vec![
            json!({"verbs": ["get", "watch"], "apiGroups": [""], "resources": ["configmaps"]}),
            json!({"verbs": ["get"], "apiGroups": ["*"], "resources": ["configmaps"]}),
            json!({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"]}),
        ];
        let gaps = missing(&owner, &too_much);
        assert_eq!(
            describe_missing(&gaps),
            "{APIGroups:[\"\"], Resources:[\"configmaps\"], Verbs:[\"watch\"]}\n{APIGroups:[\"*\"], Resources:[\"configmaps\"], Verbs:[\"get\"]}\n{APIGroups:[\"apps\"], Resources:[\"deployments\"], Verbs:[\"get\"]}"
        );
    }
}
