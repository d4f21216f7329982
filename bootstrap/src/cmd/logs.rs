//! `gitops logs`: the controllers' logs from their pods, filtered by level, kind, name and
//! namespace, one line per entry as `flux logs` prints them. Reads Flux's zap JSON
//! (`ts`, `msg`, `controllerKind`/`reconciler kind`) and this project's tracing JSON
//! (`timestamp`, `message`, upper-case levels).

use crate::cli::{Global, object};
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use serde_json::Value;
use std::io::Write;
use std::process::ExitCode;

/// `gitops logs`.
#[derive(clap::Args)]
pub struct Args {
    /// Log level, available options are: (debug, info, error).
    #[arg(long, default_value = "", value_parser = ["", "debug", "info", "error"])]
    level: String,
    /// Displays errors of a particular toolkit kind e.g GitRepository.
    #[arg(long, default_value = "")]
    kind: String,
    /// Specifies the name of the object logs to be displayed.
    #[arg(long, default_value = "")]
    name: String,
    /// Specifies if the logs should be streamed.
    #[arg(long, short = 'f')]
    follow: bool,
    /// Lines of recent log file to display.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    tail: i64,
    /// The namespace where the Flux components are running.
    #[arg(long, default_value = "flux-system")]
    flux_namespace: String,
    /// Displays logs for objects across all namespaces.
    #[arg(long, short = 'A')]
    all_namespaces: bool,
    /// Only return logs newer than a relative duration like 5s, 2m, or 3h.
    #[arg(long, value_parser = crate::cli::global::go_duration)]
    since: Option<std::time::Duration>,
    /// Only return logs after a specific date (RFC3339).
    #[arg(long, default_value = "")]
    since_time: String,
    /// Arguments (none are taken).
    #[arg(hide = true)]
    rest: Vec<String>,
    #[command(flatten)]
    global: Global,
}

/// Which entries to print.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Level (`""`: any).
    pub level: String,
    /// Kind, case-insensitive (`""`: any).
    pub kind: String,
    /// Object name, case-insensitive (`""`: any).
    pub name: String,
    /// Object namespace, case-insensitive (`None`: any).
    pub namespace: Option<String>,
}

fn field<'a>(v: &'a Value, keys: &[&str]) -> &'a str {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or_default()
}

/// One log line as Flux prints it (`<ts> <level> <Kind>[/<name>.<namespace>] - <msg> <error>`),
/// or `None` when it is not a JSON entry or the filter drops it.
pub fn format_line(line: &str, filter: &Filter) -> Option<Result<String, String>> {
    if !line.starts_with('{') {
        return None;
    }
    let v: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Some(Err(format!("parse error: {e}"))),
    };
    let level = field(&v, &["level"]).to_ascii_lowercase();
    let kind = field(&v, &["reconciler kind"]);
    let controller_kind = field(&v, &["controllerKind", "kind"]);
    let name = field(&v, &["name"]);
    let namespace = field(&v, &["namespace"]);
    let keep = (filter.level.is_empty() || filter.level == level)
        && (filter.kind.is_empty()
            || filter.kind.eq_ignore_ascii_case(kind)
            || filter.kind.eq_ignore_ascii_case(controller_kind))
        && (filter.name.is_empty() || filter.name.eq_ignore_ascii_case(name))
        && filter
            .namespace
            .as_ref()
            .is_none_or(|ns| ns.eq_ignore_ascii_case(namespace));
    if !keep {
        return None;
    }
    let shown_kind = if kind.is_empty() {
        controller_kind
    } else {
        kind
    };
    let object = if name.is_empty() {
        shown_kind.to_owned()
    } else {
        format!("{shown_kind}/{name}.{namespace}")
    };
    Some(Ok(format!(
        "{} {level} {object} - {} {}\n",
        field(&v, &["ts", "timestamp"]),
        field(&v, &["msg", "message"]),
        field(&v, &["error"]),
    )))
}

/// Runs `gitops logs`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    if !args.rest.is_empty() {
        anyhow::bail!("no argument required");
    }
    if !args.since_time.is_empty() && args.since.is_some() {
        anyhow::bail!("at most one of `sinceTime` or `sinceDuration` may be specified");
    }
    let since_time = if args.since_time.is_empty() {
        None
    } else {
        Some(
            args.since_time
                .parse::<k8s_openapi::jiff::Timestamp>()
                .map_err(|_| {
                    anyhow::anyhow!("{} is not a valid (RFC3339) time", args.since_time)
                })?,
        )
    };
    let filter = Filter {
        level: args.level.clone(),
        kind: args.kind.clone(),
        name: args.name.clone(),
        namespace: (!args.all_namespaces).then(|| args.global.namespace.clone()),
    };
    let global = &args.global;
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        let ns = &args.flux_namespace;
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let pods_api: Api<Pod> = Api::namespaced(client.clone(), ns);
        let mut pods = Vec::new();
        for d in deployments
            .list(&ListParams::default().labels("app.kubernetes.io/part-of=flux"))
            .await
            .map_err(object::api_error)?
            .items
        {
            let labels = d
                .spec
                .as_ref()
                .and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            let selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mut list = pods_api
                .list(&ListParams::default().labels(&selector.join(",")))
                .await
                .map_err(object::api_error)?
                .items;
            // Running pods first, as kubectl picks the pod to log.
            list.sort_by_key(|p| {
                p.status.as_ref().and_then(|s| s.phase.clone()).as_deref() != Some("Running")
            });
            if let Some(p) = list.into_iter().next() {
                pods.push(p);
            }
        }
        if pods.is_empty() {
            anyhow::bail!("no Flux pods found in namespace {ns:?}");
        }
        let params = |p: &Pod| LogParams {
            follow: args.follow,
            tail_lines: (args.tail > -1).then_some(args.tail),
            since_seconds: args.since.map(|d| d.as_secs_f64().round() as i64),
            since_time,
            container: p
                .spec
                .as_ref()
                .filter(|s| s.containers.len() > 1)
                .map(|_| "manager".to_owned()),
            ..Default::default()
        };
        let mut streams = Vec::new();
        for p in &pods {
            let name = p.metadata.name.clone().unwrap_or_default();
            let stream = pods_api
                .log_stream(&name, &params(p))
                .await
                .map_err(object::api_error)?;
            streams.push(stream.lines().boxed());
        }
        let mut failed = false;
        let mut out = std::io::stdout();
        if args.follow {
            let mut merged = futures::stream::select_all(streams);
            while let Some(line) = merged.try_next().await? {
                emit(&mut out, &line, &filter)?;
            }
        } else {
            for mut s in streams {
                loop {
                    match s.try_next().await {
                        Ok(Some(line)) => emit(&mut out, &line, &filter)?,
                        Ok(None) => break,
                        Err(e) => {
                            eprintln!("failed getting logs: {e}");
                            failed = true;
                            break;
                        }
                    }
                }
            }
        }
        if failed {
            anyhow::bail!("failed to collect logs from all Flux pods");
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn emit(out: &mut impl Write, line: &str, filter: &Filter) -> anyhow::Result<()> {
    match format_line(line, filter) {
        Some(Ok(text)) => out.write_all(text.as_bytes())?,
        Some(Err(e)) => crate::cli::log::failure(e),
        None => {}
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/testdata/flux/logs")
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// Flux's `logs_unit_test.go` cases: its pod log lines and golden outputs.
    #[test]
    fn flux_log_filters() {
        let logs = testdata("pod-logs.jsonl");
        let ns = |n: &str| Some(n.to_owned());
        let cases = [
            (Filter::default(), "all-logs.txt"),
            (
                Filter {
                    namespace: ns("default"),
                    ..Default::default()
                },
                "namespace.txt",
            ),
            (
                Filter {
                    kind: "Kustomization".into(),
                    namespace: ns("flux-system"),
                    ..Default::default()
                },
                "kind.txt",
            ),
            (
                Filter {
                    level: "error".into(),
                    ..Default::default()
                },
                "log-level.txt",
            ),
            (
                Filter {
                    level: "error".into(),
                    kind: "Kustomization".into(),
                    name: "podinfo".into(),
                    namespace: ns("flux-system"),
                },
                "multiple-filters.txt",
            ),
        ];
        for (filter, golden) in cases {
            let out: String = logs
                .lines()
                .filter_map(|l| format_line(l, &filter))
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(out, testdata(golden), "{golden}");
        }
    }

    #[test]
    fn tracing_json_and_garbage() {
        let f = Filter::default();
        let line = r#"{"timestamp":"2026-01-01T00:00:00Z","level":"INFO","message":"applied","controllerKind":"Kustomization","name":"apps","namespace":"flux-system"}"#;
        assert_eq!(
            format_line(line, &f).unwrap().unwrap(),
            "2026-01-01T00:00:00Z info Kustomization/apps.flux-system - applied \n"
        );
        assert!(format_line("plain text", &f).is_none());
        assert!(format_line("{not json", &f).unwrap().is_err());
    }
}
