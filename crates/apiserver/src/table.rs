//! `meta.k8s.io/v1` Tables for `kubectl get`: columns of built-in kinds, CRD printer
//! columns evaluated with a JSONPath subset, and ages in Kubernetes' human format.

use crate::registry::{PrinterColumn, ResourceType};
use serde_json::{Value, json};

/// Formats a duration like Kubernetes' `HumanDuration`: `45s`, `5m3s`, `3h`, `2d4h`, `1y20d`.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    let s = secs.max(0);
    if s < 120 {
        return format!("{s}s");
    }
    let m = s / 60;
    if m < 10 {
        let r = s % 60;
        return if r == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{r}s")
        };
    }
    if m < 180 {
        return format!("{m}m");
    }
    let h = m / 60;
    if h < 8 {
        let r = m % 60;
        return if r == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{r}m")
        };
    }
    if h < 48 {
        return format!("{h}h");
    }
    let d = h / 24;
    if h < 24 * 8 {
        let r = h % 24;
        return if r == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{r}h")
        };
    }
    if h < 24 * 365 * 2 {
        return format!("{d}d");
    }
    let y = d / 365;
    if h < 24 * 365 * 8 {
        let r = d % 365;
        return if r == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{r}d")
        };
    }
    format!("{y}y")
}

fn age(ts: &Value) -> String {
    match ts.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()) {
        Some(t) => human_duration(jiff::Timestamp::now().as_second() - t.as_second()),
        None => "<unknown>".into(),
    }
}

/// Evaluates a JSONPath of printer columns: `.a.b`, `[0]`, `[*]`, `['x.y']` and filters
/// `[?(@.type=="Ready")]` (`==`, `!=`).
pub fn json_path<'a>(root: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut cur: Vec<&Value> = vec![root];
    let p = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut rest = p.strip_prefix('$').unwrap_or(p);
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let field = &r[..end];
            rest = &r[end..];
            if field.is_empty() {
                continue;
            }
            cur = cur.into_iter().filter_map(|v| v.get(field)).collect();
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return Vec::new();
            };
            let inner = &r[..end];
            rest = &r[end + 1..];
            if inner == "*" {
                cur = cur
                    .into_iter()
                    .flat_map(|v| match v {
                        Value::Array(a) => a.iter().collect::<Vec<_>>(),
                        Value::Object(m) => m.values().collect(),
                        _ => Vec::new(),
                    })
                    .collect();
            } else if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')'))
            {
                let (lhs, want, eq) = match filter.split_once("==") {
                    Some((l, r)) => (l, r, true),
                    None => match filter.split_once("!=") {
                        Some((l, r)) => (l, r, false),
                        None => return Vec::new(),
                    },
                };
                let field = lhs.trim().trim_start_matches('@');
                let want = want.trim().trim_matches(|c| c == '"' || c == '\'');
                cur = cur
                    .into_iter()
                    .flat_map(|v| {
                        v.as_array()
                            .map(|a| a.iter().collect::<Vec<_>>())
                            .unwrap_or_default()
                    })
                    .filter(|item| {
                        let got = json_path(item, field);
                        let matches = got.first().is_some_and(|g| match g {
                            Value::String(s) => s == want,
                            other => {
                                let text = other.to_string();
                                text == want
                            }
                        });
                        matches == eq
                    })
                    .collect();
            } else if let Ok(i) = inner.parse::<usize>() {
                cur = cur.into_iter().filter_map(|v| v.get(i)).collect();
            } else {
                let field = inner.trim_matches(|c| c == '"' || c == '\'');
                cur = cur.into_iter().filter_map(|v| v.get(field)).collect();
            }
        } else {
            return Vec::new();
        }
    }
    cur
}

fn cell(values: Vec<&Value>, type_: &str) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    if type_ == "date" {
        return json!(age(values[0]));
    }
    if values.len() == 1 {
        return match values[0] {
            Value::Object(_) | Value::Array(_) => json!(values[0].to_string()),
            v => v.clone(),
        };
    }
    let parts: Vec<String> = values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    json!(parts.join(","))
}

struct Col {
    name: &'static str,
    type_: &'static str,
    priority: i64,
    cell: fn(&Value) -> Value,
}

fn name_cell(o: &Value) -> Value {
    o["metadata"]["name"].clone()
}
fn age_cell(o: &Value) -> Value {
    json!(age(&o["metadata"]["creationTimestamp"]))
}
fn count(v: &Value) -> usize {
    v.as_object().map_or(0, |m| m.len())
}
fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn builtin_columns(rt: &ResourceType) -> Vec<Col> {
    let name = Col {
        name: "Name",
        type_: "string",
        priority: 0,
        cell: name_cell,
    };
    let age = Col {
        name: "Age",
        type_: "string",
        priority: 0,
        cell: age_cell,
    };
    let mut cols = vec![name];
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => cols.push(Col {
            name: "Status",
            type_: "string",
            priority: 0,
            cell: |o| o["status"]["phase"].clone(),
        }),
        ("", "configmaps") => cols.push(Col {
            name: "Data",
            type_: "integer",
            priority: 0,
            cell: |o| json!(count(&o["data"]) + count(&o["binaryData"])),
        }),
        ("", "secrets") => {
            cols.push(Col {
                name: "Type",
                type_: "string",
                priority: 0,
                cell: |o| o["type"].clone(),
            });
            cols.push(Col {
                name: "Data",
                type_: "integer",
                priority: 0,
                cell: |o| json!(count(&o["data"])),
            });
        }
        ("", "services") => {
            cols.push(Col {
                name: "Type",
                type_: "string",
                priority: 0,
                cell: |o| o["spec"]["type"].clone(),
            });
            cols.push(Col {
                name: "Cluster-IP",
                type_: "string",
                priority: 0,
                cell: |o| o["spec"]["clusterIP"].clone(),
            });
            cols.push(Col {
                name: "External-IP",
                type_: "string",
                priority: 0,
                cell: |o| {
                    let ips: Vec<String> = o["status"]["loadBalancer"]["ingress"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|i| i["ip"].as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    json!(if ips.is_empty() {
                        "<none>".to_owned()
                    } else {
                        ips.join(",")
                    })
                },
            });
            cols.push(Col {
                name: "Port(s)",
                type_: "string",
                priority: 0,
                cell: |o| {
                    let ports: Vec<String> = o["spec"]["ports"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|p| {
                                    format!(
                                        "{}/{}",
                                        p["port"],
                                        p["protocol"].as_str().unwrap_or("TCP")
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    json!(if ports.is_empty() {
                        "<none>".to_owned()
                    } else {
                        ports.join(",")
                    })
                },
            });
        }
        ("apps", "deployments") => {
            cols.push(Col {
                name: "Ready",
                type_: "string",
                priority: 0,
                cell: |o| {
                    json!(format!(
                        "{}/{}",
                        int(&o["status"]["readyReplicas"]),
                        int(&o["spec"]["replicas"])
                    ))
                },
            });
            cols.push(Col {
                name: "Up-to-date",
                type_: "integer",
                priority: 0,
                cell: |o| json!(int(&o["status"]["updatedReplicas"])),
            });
            cols.push(Col {
                name: "Available",
                type_: "integer",
                priority: 0,
                cell: |o| json!(int(&o["status"]["availableReplicas"])),
            });
        }
        ("apps", "statefulsets") => cols.push(Col {
            name: "Ready",
            type_: "string",
            priority: 0,
            cell: |o| {
                json!(format!(
                    "{}/{}",
                    int(&o["status"]["readyReplicas"]),
                    int(&o["spec"]["replicas"])
                ))
            },
        }),
        ("", "pods") => {
            cols.push(Col {
                name: "Ready",
                type_: "string",
                priority: 0,
                cell: |o| {
                    let total = o["spec"]["containers"].as_array().map_or(0, |a| a.len());
                    let ready = o["status"]["containerStatuses"]
                        .as_array()
                        .map_or(0, |a| a.iter().filter(|c| c["ready"] == true).count());
                    json!(format!("{ready}/{total}"))
                },
            });
            cols.push(Col {
                name: "Status",
                type_: "string",
                priority: 0,
                cell: |o| o["status"]["phase"].clone(),
            });
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            cols.push(Col {
                name: "Created At",
                type_: "date",
                priority: 0,
                cell: |o| o["metadata"]["creationTimestamp"].clone(),
            });
            return cols;
        }
        _ => {}
    }
    cols.push(age);
    cols
}

/// Computes the cells of a row.
pub type RowFn = Box<dyn Fn(&Value) -> Vec<Value> + Send + Sync>;

/// The column definitions and a row function for a kind.
pub fn columns(rt: &ResourceType) -> (Vec<Value>, RowFn) {
    if rt.is_custom() {
        let mut cols: Vec<PrinterColumn> = rt.columns.clone();
        if !cols
            .iter()
            .any(|c| c.json_path == ".metadata.creationTimestamp")
        {
            cols.push(PrinterColumn {
                name: "Age".into(),
                type_: "date".into(),
                json_path: ".metadata.creationTimestamp".into(),
                priority: 0,
                description: String::new(),
            });
        }
        let mut defs = vec![
            json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
        ];
        defs.extend(cols.iter().map(|c| {
            json!({"name": c.name, "type": c.type_, "format": "", "description": c.description, "priority": c.priority})
        }));
        let row = move |o: &Value| {
            let mut cells = vec![o["metadata"]["name"].clone()];
            cells.extend(
                cols.iter()
                    .map(|c| cell(json_path(o, &c.json_path), &c.type_)),
            );
            cells
        };
        return (defs, Box::new(row));
    }
    let cols = builtin_columns(rt);
    let defs = cols
        .iter()
        .map(|c| {
            let format = if c.name == "Name" { "name" } else { "" };
            json!({"name": c.name, "type": c.type_, "format": format, "description": "", "priority": c.priority})
        })
        .collect();
    let row = move |o: &Value| {
        cols.iter()
            .map(|c| {
                let v = (c.cell)(o);
                if c.type_ == "date" { json!(age(&v)) } else { v }
            })
            .collect()
    };
    (defs, Box::new(row))
}

/// Partial object metadata for a table row.
pub fn row_object(o: &Value, include: &str) -> Option<Value> {
    match include {
        "None" => None,
        "Object" => Some(o.clone()),
        _ => Some(
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(130), "2m10s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
        assert_eq!(human_duration(40 * 86400), "40d");
        assert_eq!(human_duration(3 * 365 * 86400 + 86400), "3y1d");
    }

    #[test]
    fn json_paths() {
        let o = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "message": "ok"}, {"type": "X", "status": "False"}]},
                       "spec": {"url": "https://x", "list": [1, 2]}, "metadata": {"annotations": {"a.b/c": "v"}}});
        assert_eq!(
            json_path(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            [&json!("True")]
        );
        assert_eq!(json_path(&o, ".spec.url"), [&json!("https://x")]);
        assert_eq!(json_path(&o, ".spec.list[1]"), [&json!(2)]);
        assert_eq!(json_path(&o, ".spec.list[*]").len(), 2);
        assert_eq!(
            json_path(&o, ".metadata.annotations['a.b/c']"),
            [&json!("v")]
        );
        assert!(json_path(&o, ".missing.x").is_empty());
        assert_eq!(
            cell(json_path(&o, ".spec.list[*]"), "integer"),
            json!("1,2")
        );
    }
}
