//! `gitops events`: the Kubernetes events of Flux objects (and, with `--for kind/name`, of
//! the objects it refers to), oldest first, as `flux events` prints them.

use crate::cli::table::render;
use crate::cli::{FluxKind, Global, kinds, log, object};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use std::io::Write;
use std::process::ExitCode;

/// `gitops events`.
#[derive(clap::Args)]
pub struct Args {
    /// Display events from Flux resources across all namespaces.
    #[arg(long, short = 'A')]
    all_namespaces: bool,
    /// Indicate if the events should be streamed.
    #[arg(long, short = 'w')]
    watch: bool,
    /// Get events for a particular object.
    #[arg(long = "for", default_value = "")]
    for_selector: String,
    /// Filter events for certain types (valid types are: Normal, Warning).
    #[arg(long, value_parser = crate::cli::flags::string_slice)]
    types: Vec<crate::cli::flags::StringSlice>,
    #[command(flatten)]
    global: Global,
}

/// How an object refers to another (Flux's `refInfo`): where the reference is, the kind when
/// the reference does not say it, whether it may name another namespace.
struct RefInfo {
    kind: FluxKind,
    field: &'static [&'static str],
    ref_kind: &'static str,
    cross_namespace: bool,
}

/// The Flux kinds whose events are shown, and what each refers to.
fn ref_infos() -> Vec<RefInfo> {
    let plain = |kind| RefInfo {
        kind,
        field: &[],
        ref_kind: "",
        cross_namespace: false,
    };
    vec![
        RefInfo {
            kind: kinds::KUSTOMIZATION,
            field: &["spec", "sourceRef"],
            ref_kind: "",
            cross_namespace: true,
        },
        RefInfo {
            kind: kinds::HELM_RELEASE,
            field: &["spec", "chart", "spec", "sourceRef"],
            ref_kind: "",
            cross_namespace: true,
        },
        RefInfo {
            kind: kinds::ALERT,
            field: &["spec", "providerRef"],
            ref_kind: "Provider",
            cross_namespace: false,
        },
        plain(kinds::RECEIVER),
        plain(kinds::ALERT_PROVIDER),
        RefInfo {
            kind: kinds::IMAGE_POLICY,
            field: &["spec", "imageRepositoryRef"],
            ref_kind: "ImageRepository",
            cross_namespace: true,
        },
        RefInfo {
            kind: kinds::HELM_CHART,
            field: &["spec", "sourceRef"],
            ref_kind: "",
            cross_namespace: true,
        },
        plain(kinds::GIT_REPOSITORY),
        plain(kinds::OCI_REPOSITORY),
        plain(kinds::BUCKET),
        plain(kinds::HELM_REPOSITORY),
        plain(kinds::IMAGE_UPDATE_AUTOMATION),
        plain(kinds::IMAGE_REPOSITORY),
    ]
}

fn is_flux_kind(kind: &str) -> bool {
    ref_infos()
        .iter()
        .any(|r| r.kind.kind().eq_ignore_ascii_case(kind))
        || kind == "ArtifactGenerator"
}

fn field_selector(kind: &str, name: &str) -> String {
    if name.is_empty() {
        format!("involvedObject.kind={kind}")
    } else {
        format!("involvedObject.kind={kind},involvedObject.name={name}")
    }
}

/// The objects `kind/name` in `ns` refers to, as `Kind/name.namespace`.
async fn object_refs(
    client: &kube::Client,
    info: &RefInfo,
    name: &str,
    ns: &str,
) -> anyhow::Result<Vec<(String, String, String)>> {
    if info.field.is_empty() {
        return Ok(Vec::new());
    }
    let obj = object::get(&info.kind.api(client, Some(ns)), name).await?;
    let mut r = &obj;
    for f in info.field {
        r = &r[*f];
    }
    let path = info.field.join(".");
    let ref_kind = if info.ref_kind.is_empty() {
        r["kind"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("field '{path}.kind' for '{ns}/{name}' not found"))?
            .to_owned()
    } else {
        info.ref_kind.to_owned()
    };
    let ref_name = r["name"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("field '{path}.name' for '{ns}/{name}' not found"))?;
    let ref_ns = if info.cross_namespace {
        r["namespace"].as_str().unwrap_or(ns).to_owned()
    } else {
        ns.to_owned()
    };
    let mut out = vec![(ref_kind, ref_name.to_owned(), ref_ns.clone())];
    if info.kind.kind() == "HelmRelease" {
        out.push(("HelmChart".into(), format!("{ns}-{name}"), ref_ns));
    }
    Ok(out)
}

/// The time events sort by: series last observed, else last timestamp, else event time.
pub fn event_time(e: &Event) -> Option<jiff::Timestamp> {
    let conv = |t: &k8s_openapi::jiff::Timestamp| t.to_string().parse::<jiff::Timestamp>().ok();
    if let Some(s) = &e.series
        && let Some(t) = &s.last_observed_time
    {
        return conv(&t.0);
    }
    if let Some(t) = &e.last_timestamp {
        return conv(&t.0);
    }
    e.event_time.as_ref().and_then(|t| conv(&t.0))
}

fn since(t: Option<jiff::Timestamp>) -> String {
    match t {
        None => "<unknown>".into(),
        Some(t) => {
            let secs = jiff::Timestamp::now().as_second() - t.as_second();
            gitops_apiserver::human_duration(secs)
        }
    }
}

/// kubectl's "last seen" column: age, or `age (xN over first-age)` for repeated events.
pub fn last_seen(e: &Event) -> String {
    let conv = |t: &k8s_openapi::jiff::Timestamp| t.to_string().parse::<jiff::Timestamp>().ok();
    let first = match &e.event_time {
        Some(t) => since(conv(&t.0)),
        None => since(e.first_timestamp.as_ref().and_then(|t| conv(&t.0))),
    };
    if let Some(s) = &e.series {
        let last = since(s.last_observed_time.as_ref().and_then(|t| conv(&t.0)));
        format!("{last} (x{} over {first})", s.count.unwrap_or(0))
    } else if e.count.unwrap_or(0) > 1 {
        let last = since(e.last_timestamp.as_ref().and_then(|t| conv(&t.0)));
        format!("{last} (x{} over {first})", e.count.unwrap_or(0))
    } else {
        first
    }
}

fn row(e: &Event, show_ns: bool) -> Vec<String> {
    let mut r = Vec::new();
    if show_ns {
        r.push(e.metadata.namespace.clone().unwrap_or_default());
    }
    r.push(last_seen(e));
    r.push(e.type_.clone().unwrap_or_default());
    r.push(e.reason.clone().unwrap_or_default());
    r.push(format!(
        "{}/{}",
        e.involved_object.kind.clone().unwrap_or_default(),
        e.involved_object.name.clone().unwrap_or_default()
    ));
    r.push(e.message.clone().unwrap_or_default());
    r
}

fn headers(show_ns: bool) -> Vec<&'static str> {
    let mut h = vec!["Last seen", "Type", "Reason", "Object", "Message"];
    if show_ns {
        h.insert(0, "Namespace");
    }
    h
}

/// Runs `gitops events`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.global.check()?;
    let types = crate::cli::flags::flatten(args.types.clone());
    for t in &types {
        if !t.eq_ignore_ascii_case("Warning") && !t.eq_ignore_ascii_case("Normal") {
            anyhow::bail!("type '{t}' not supported. Supported types are Normal, Warning");
        }
    }
    let global = &args.global;
    let namespace = (!args.all_namespaces).then(|| global.namespace.clone());
    let keep = |e: &Event| {
        let kind = e.involved_object.kind.as_deref().unwrap_or_default();
        is_flux_kind(kind)
            && (types.is_empty()
                || types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(e.type_.as_deref().unwrap_or_default())))
    };
    crate::cli::global::block_on(async {
        let client = global.client().await?;
        // (namespace or all, field selector) queries.
        let mut queries: Vec<(Option<String>, Option<String>)> = vec![(namespace.clone(), None)];
        let mut diff_ref_ns = false;
        if !args.for_selector.is_empty() {
            let (kind, name) = match args.for_selector.split_once('/') {
                Some((k, n)) => (k.to_owned(), n.to_owned()),
                None => (args.for_selector.clone(), String::new()),
            };
            if kind.is_empty() {
                anyhow::bail!("--for selector must be of format <kind>[/<name>]");
            }
            let infos = ref_infos();
            let Some(info) = infos
                .iter()
                .find(|r| r.kind.kind().eq_ignore_ascii_case(&kind))
            else {
                anyhow::bail!("'{kind}' is not a recognized Flux kind");
            };
            queries[0].1 = Some(field_selector(info.kind.kind(), &name));
            if !name.is_empty() {
                for (rk, rn, rns) in object_refs(&client, info, &name, &global.namespace).await? {
                    if Some(&rns) != namespace.as_ref() {
                        diff_ref_ns = true;
                    }
                    queries.push((Some(rns), Some(field_selector(&rk, &rn))));
                }
            }
        }
        let show_ns = namespace.is_none() || diff_ref_ns;
        let api_for = |ns: &Option<String>| -> Api<Event> {
            match ns {
                Some(ns) => Api::namespaced(client.clone(), ns),
                None => Api::all(client.clone()),
            }
        };
        if args.watch {
            let mut streams = Vec::new();
            for (ns, fields) in &queries {
                let mut wp = WatchParams::default();
                if let Some(f) = fields {
                    wp = wp.fields(f);
                }
                streams.push(api_for(ns).watch(&wp, "0").await?.boxed());
            }
            let mut merged = futures::stream::select_all(streams);
            let deadline = tokio::time::sleep(global.timeout);
            tokio::pin!(deadline);
            let mut first = true;
            let mut out = std::io::stdout();
            loop {
                tokio::select! {
                    _ = &mut deadline => return Ok(ExitCode::SUCCESS),
                    ev = merged.try_next() => match ev? {
                        None => return Ok(ExitCode::SUCCESS),
                        Some(WatchEvent::Added(e) | WatchEvent::Modified(e)) if keep(&e) => {
                            let h = if first { headers(show_ns) } else { Vec::new() };
                            first = false;
                            out.write_all(render(&h, &[row(&e, show_ns)]).as_bytes())?;
                            out.flush()?;
                        }
                        Some(WatchEvent::Error(e)) => anyhow::bail!("error watching events: {}", e.message),
                        Some(_) => {}
                    }
                }
            }
        }
        let mut events: Vec<Event> = Vec::new();
        for (ns, fields) in &queries {
            let mut lp = ListParams::default();
            if let Some(f) = fields {
                lp = lp.fields(f);
            }
            let list = api_for(ns)
                .list(&lp)
                .await
                .map_err(|e| anyhow::anyhow!("error getting events: {:#}", object::api_error(e)))?;
            events.extend(list.items);
        }
        // A stable sort by time keeps the server's order for equal times, as Go's sort
        // would for this input.
        events.sort_by_key(event_time);
        let rows: Vec<Vec<String>> = events
            .iter()
            .filter(|e| keep(e))
            .map(|e| row(e, show_ns))
            .collect();
        if rows.is_empty() {
            if args.all_namespaces {
                log::failure("No events found.");
            } else {
                log::failure(format!(
                    "No events found in {} namespace.",
                    global.namespace
                ));
            }
            return Ok(ExitCode::SUCCESS);
        }
        std::io::stdout().write_all(render(&headers(show_ns), &rows).as_bytes())?;
        Ok(ExitCode::SUCCESS)
    })
}
