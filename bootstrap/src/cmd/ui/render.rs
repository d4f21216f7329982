//! The pages, rendered on the server: the overview (rows, dependency graph), object
//! pages and error pages. Pages are made of fragments with ids; the live stream sends the
//! same fragments again when they change, and the page's script swaps them in.
//! Everything from the cluster or the request goes through [`esc`].

use super::detail::{Basis, DiffReport, Node};
use super::html::{esc, object_href, table, time, url_part};
use super::model::{self, Key, Relation, State, Store, Summary};
use crate::cli::FluxKind;
use crate::cli::table::truncate_hex;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

/// A whole page: `title`, the fragments' `body`, and the live stream it listens to.
pub fn page(title: &str, stream: Option<&str>, body: &str) -> String {
    let stream_attr = stream
        .map(|s| format!(" data-stream=\"{}\"", esc(s)))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} · gitops</title>\
<link rel=\"icon\" href=\"/_/static/icon.svg\" type=\"image/svg+xml\">\
<link rel=\"stylesheet\" href=\"/_/static/style.css\">\
<script src=\"/_/static/app.js\" defer></script></head>\
<body{stream_attr}><a class=\"skip\" href=\"#main\">Skip to content</a>\
<header class=\"top\"><a class=\"brand\" href=\"/\">gitops</a>\
<span id=\"live\" class=\"live\" role=\"status\" aria-live=\"polite\">{}</span></header>\
<main id=\"main\">{body}</main></body></html>\n",
        esc(title),
        if stream.is_some() {
            "connecting…"
        } else {
            ""
        },
    )
}

/// An error page (the status is the caller's).
pub fn error_page(title: &str, message: &str) -> String {
    page(
        title,
        None,
        &format!(
            "<h1>{}</h1><p class=\"error-text\">{}</p><p><a href=\"/\">Back to the overview</a></p>",
            esc(title),
            esc(message)
        ),
    )
}

/// The login form shown when the token is missing or wrong.
pub fn login_page(message: &str) -> String {
    page(
        "Token required",
        None,
        &format!(
            "<h1>Token required</h1><p>{}</p>\
<form method=\"get\" action=\"/\" class=\"login\"><label for=\"token\">Token</label> \
<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required> \
<button type=\"submit\">Open</button></form>",
            esc(message)
        ),
    )
}

fn badge(state: State) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        state.class(),
        state.label()
    )
}

fn revision_html(rev: &str) -> String {
    if rev.is_empty() {
        return "<span class=\"muted\">–</span>".into();
    }
    format!(
        "<code title=\"{}\">{}</code>",
        esc(rev),
        esc(&truncate_hex(rev))
    )
}

fn message_html(s: &Summary) -> String {
    let mut out = String::new();
    if !s.reason.is_empty() && s.state != State::Ready {
        let _ = write!(out, "<strong>{}</strong>: ", esc(&s.reason));
    }
    out.push_str(&esc(&s.message));
    out
}

/// The overview's fragments: `summary`, `notices`, `rows` (the table body) and `graph`.
pub fn overview_fragments(store: &Store) -> Vec<(&'static str, String)> {
    let rows = store.summaries();
    let mut counts: BTreeMap<State, usize> = BTreeMap::new();
    for r in &rows {
        *counts.entry(r.state).or_default() += 1;
    }
    let mut summary = format!(
        "<p><strong>{}</strong> object{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    for state in [
        State::Failed,
        State::Progressing,
        State::Unknown,
        State::Ready,
    ] {
        if let Some(n) = counts.get(&state) {
            let _ = write!(
                summary,
                " · <span class=\"count {}\">{n} {}</span>",
                state.class(),
                state.label().to_lowercase()
            );
        }
    }
    let suspended = rows.iter().filter(|r| r.suspended).count();
    if suspended > 0 {
        let _ = write!(summary, " · {suspended} suspended");
    }
    summary.push_str("</p>");

    let notices = notices(&store.notices());

    let mut body = String::new();
    if rows.is_empty() {
        body.push_str(
            "<tr><td colspan=\"8\" class=\"muted\">No Flux objects yet (or still loading).</td></tr>",
        );
    }
    for r in &rows {
        let _ = write!(
            body,
            "<tr class=\"row-{cls}\" data-key=\"{key}\">\
<td data-label=\"Status\">{badge}</td>\
<td data-label=\"Kind\">{kind}</td>\
<td data-label=\"Namespace\">{ns}</td>\
<td data-label=\"Name\"><a href=\"{href}\">{name}</a></td>\
<td data-label=\"Revision\">{rev}</td>\
<td data-label=\"Updated\">{time}</td>\
<td data-label=\"Suspended\">{susp}</td>\
<td data-label=\"Message\" class=\"message\">{msg}</td></tr>",
            cls = r.state.class(),
            key = esc(&format!(
                "{}/{}/{}",
                r.kind.info.plural, r.namespace, r.name
            )),
            badge = badge(r.state),
            kind = esc(r.kind.kind()),
            ns = esc(&r.namespace),
            href = esc(&r.href()),
            name = esc(&r.name),
            rev = revision_html(&r.revision),
            time = time(r.time),
            susp = if r.suspended {
                "<span class=\"badge suspended\">Suspended</span>"
            } else {
                "<span class=\"muted\">No</span>"
            },
            msg = message_html(r),
        );
    }
    vec![
        ("summary", summary),
        ("notices", notices),
        ("rows", body),
        ("graph", graph(store, None)),
    ]
}

/// The watches' problems: the kinds watched in one namespace only (this identity may not
/// list them in all), failures, and the kinds the cluster does not serve.
fn notices(all: &[model::Notice]) -> String {
    let mut out = String::new();
    let mut scoped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut not_served = Vec::new();
    for n in all {
        match &n.problem {
            model::Problem::Scoped(ns) => scoped.entry(ns).or_default().push(n.kind),
            model::Problem::NotServed => not_served.push(n.kind),
            model::Problem::Failed => {
                let _ = write!(
                    out,
                    "<p class=\"notice\" role=\"alert\">Cannot watch {}: {}</p>",
                    esc(n.kind),
                    esc(&n.message)
                );
            }
        }
    }
    for (ns, kinds) in scoped {
        let every = model::KINDS
            .iter()
            .map(FluxKind::kind)
            .chain(["Event"])
            .all(|k| kinds.contains(&k));
        let what = if every {
            "Flux objects or their events".to_owned()
        } else {
            esc(&kinds.join(", "))
        };
        let _ = write!(
            out,
            "<p class=\"info\" role=\"status\">Showing namespace <strong>{}</strong> only: \
this identity may not list {what} in all namespaces. Another namespace: \
<code>gitops ui -n &lt;namespace&gt;</code>.</p>",
            esc(ns),
        );
    }
    if !not_served.is_empty() {
        let _ = write!(
            out,
            "<p class=\"muted\">Not served by this cluster: {}.</p>",
            esc(&not_served.join(", "))
        );
    }
    out
}

/// The overview page.
pub fn overview(store: &Store) -> String {
    let f: HashMap<&str, String> = overview_fragments(store).into_iter().collect();
    let get = |id: &str| f.get(id).cloned().unwrap_or_default();
    let body = format!(
        "<h1>Overview</h1>\
<section aria-labelledby=\"summary-h\"><h2 id=\"summary-h\" class=\"sr-only\">Summary</h2>\
<div id=\"summary\" data-live aria-live=\"polite\">{}</div><div id=\"notices\" data-live>{}</div></section>\
<section aria-labelledby=\"objects-h\"><h2 id=\"objects-h\">Objects</h2>\
<p class=\"hint\">Failing first. <label for=\"filter\">Filter</label> \
<input id=\"filter\" type=\"search\" placeholder=\"name, kind, namespace or message\"></p>\
<div class=\"scroll\"><table class=\"objects\"><caption class=\"sr-only\">Flux objects, failing first</caption>\
<thead><tr><th scope=\"col\">Status</th><th scope=\"col\">Kind</th><th scope=\"col\">Namespace</th>\
<th scope=\"col\">Name</th><th scope=\"col\">Revision</th><th scope=\"col\">Updated</th>\
<th scope=\"col\">Suspended</th><th scope=\"col\">Message</th></tr></thead>\
<tbody id=\"rows\" data-live>{}</tbody></table></div></section>\
<section aria-labelledby=\"graph-h\"><h2 id=\"graph-h\">Dependencies</h2>\
<p class=\"hint\">Arrows point from an object to its source (solid) or to what it depends on (dashed).</p>\
<div id=\"graph\" data-live>{}</div></section>",
        get("summary"),
        get("notices"),
        get("rows"),
        get("graph"),
    );
    page("Overview", Some("/_/stream?page=%2F"), &body)
}

/// The dependency graph as SVG: every object that refers to another or is referred to,
/// in columns (sources on the left, each object right of what it refers to), each a link
/// to its page. `focus` (an object page) keeps only what is connected to that object.
pub fn graph(store: &Store, focus: Option<&Key>) -> String {
    let all = store.all();
    let mut states: HashMap<Key, State> = HashMap::new();
    let mut edges: Vec<(Key, Key, Relation)> = Vec::new();
    for (kind, obj) in &all {
        let s = Summary::of(*kind, obj);
        let key = Key::new(kind, &s.namespace, &s.name);
        for (rel, to) in model::references(kind, obj) {
            edges.push((key.clone(), to, rel));
        }
        states.insert(key, s.state);
    }
    if let Some(f) = focus {
        // Everything reachable from the object either way.
        let mut keep: HashSet<Key> = HashSet::from([f.clone()]);
        loop {
            let before = keep.len();
            for (a, b, _) in &edges {
                if keep.contains(a) || keep.contains(b) {
                    keep.insert(a.clone());
                    keep.insert(b.clone());
                }
            }
            if keep.len() == before {
                break;
            }
        }
        edges.retain(|(a, _, _)| keep.contains(a));
    }
    if edges.is_empty() {
        return "<p class=\"muted\">No references between objects.</p>".into();
    }
    let mut nodes: Vec<Key> = edges
        .iter()
        .flat_map(|(a, b, _)| [a.clone(), b.clone()])
        .collect();
    nodes.sort_by(|a, b| {
        let ka = model::kind_by_name(a.kind).map(|k| k.info.plural);
        let kb = model::kind_by_name(b.kind).map(|k| k.info.plural);
        (ka, &a.namespace, &a.name).cmp(&(kb, &b.namespace, &b.name))
    });
    nodes.dedup();
    let index: HashMap<&Key, usize> = nodes.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (a, b, _) in &edges {
        if let (Some(&i), Some(&j)) = (index.get(a), index.get(b)) {
            out_edges[i].push(j);
        }
    }
    // Column: 0 for what refers to nothing, else one right of the furthest it refers to.
    let mut layer: Vec<Option<usize>> = vec![None; nodes.len()];
    fn depth(
        i: usize,
        out: &[Vec<usize>],
        layer: &mut [Option<usize>],
        on_path: &mut Vec<bool>,
    ) -> usize {
        if let Some(l) = layer[i] {
            return l;
        }
        if on_path[i] {
            return 0; // a cycle: Flux reports it; the drawing just cuts it
        }
        on_path[i] = true;
        let l = out[i]
            .iter()
            .map(|&j| depth(j, out, layer, on_path) + 1)
            .max()
            .unwrap_or(0);
        on_path[i] = false;
        layer[i] = Some(l);
        l
    }
    let mut on_path = vec![false; nodes.len()];
    for i in 0..nodes.len() {
        depth(i, &out_edges, &mut layer, &mut on_path);
    }
    let layers = layer.iter().flatten().max().copied().unwrap_or(0) + 1;
    // An edge across several columns passes through a slot in each column between (a
    // point of its own, as Sugiyama's layout has it), so it never runs under a box.
    let mut layer_of: Vec<usize> = layer.iter().map(|l| l.unwrap_or(0)).collect();
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut routes: Vec<(Vec<usize>, Relation)> = Vec::new();
    for (a, b, rel) in &edges {
        let (Some(&i), Some(&j)) = (index.get(a), index.get(b)) else {
            continue;
        };
        let mut route = vec![i];
        let mut prev = i;
        if layer_of[i] > layer_of[j] + 1 {
            for l in (layer_of[j] + 1..layer_of[i]).rev() {
                let v = layer_of.len();
                layer_of.push(l);
                down.push(Vec::new());
                down[prev].push(v);
                route.push(v);
                prev = v;
            }
        }
        if layer_of[prev] > layer_of[j] {
            down[prev].push(j);
        }
        route.push(j);
        routes.push((route, *rel));
    }
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, &l) in layer_of.iter().enumerate() {
        columns[l].push(i);
    }
    // Order each column by the mean row of what its nodes refer to (fewer crossings).
    let mut row_of: Vec<f64> = vec![0.0; layer_of.len()];
    for col in columns.iter_mut() {
        let mut keyed: Vec<(f64, usize)> = col
            .iter()
            .map(|&i| {
                let targets = &down[i];
                let key = if targets.is_empty() {
                    f64::MAX
                } else {
                    targets.iter().map(|&j| row_of[j]).sum::<f64>() / targets.len() as f64
                };
                (key, i)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *col = keyed.into_iter().map(|(_, i)| i).collect();
        for (r, &i) in col.iter().enumerate() {
            row_of[i] = r as f64;
        }
    }
    const W: f64 = 210.0;
    const H: f64 = 40.0;
    const GAP_X: f64 = 70.0;
    const GAP_Y: f64 = 14.0;
    const PAD: f64 = 10.0;
    let pos = |i: usize| -> (f64, f64) {
        let l = layer_of[i] as f64;
        (PAD + l * (W + GAP_X), PAD + row_of[i] * (H + GAP_Y))
    };
    let rows = columns.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let width = PAD * 2.0 + layers as f64 * W + (layers as f64 - 1.0) * GAP_X;
    let height = PAD * 2.0 + rows * H + (rows - 1.0) * GAP_Y;
    let mut svg = format!(
        "<div class=\"graph-scroll\"><svg class=\"graph\" role=\"group\" aria-label=\"Dependency graph\" \
width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\">\
<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
<path d=\"M 0 0 L 10 5 L 0 10 z\" class=\"arrowhead\"/></marker></defs>"
    );
    for (route, rel) in &routes {
        // From the left side of the referring box, through the slots, to the right side
        // of the box referred to.
        let (x, y) = pos(route[0]);
        let (mut cx, mut cy) = (x, y + H / 2.0);
        let mut d = format!("M {cx} {cy}");
        for (n, &p) in route.iter().enumerate().skip(1) {
            let (px, py) = pos(p);
            let (tx, ty) = (px + W, py + H / 2.0);
            let bend = ((cx - tx).abs() / 2.0).max(30.0);
            let _ = write!(d, " C {} {cy}, {} {ty}, {tx} {ty}", cx - bend, tx + bend);
            if n + 1 < route.len() {
                // A slot: straight through the column.
                let _ = write!(d, " L {px} {ty}");
                cx = px;
            } else {
                cx = tx;
            }
            cy = ty;
        }
        let _ = write!(
            svg,
            "<path class=\"edge {}\" d=\"{d}\" marker-end=\"url(#arrow)\"/>",
            match rel {
                Relation::Source => "source",
                Relation::DependsOn => "depends",
            },
        );
    }
    for (i, key) in nodes.iter().enumerate() {
        let (x, y) = pos(i);
        let state = states.get(key).copied();
        let class = state.map_or("missing", State::class);
        let label = format!("{}/{}", key.namespace, key.name);
        let short: String = if label.chars().count() > 27 {
            label.chars().take(26).collect::<String>() + "…"
        } else {
            label.clone()
        };
        let status = state.map_or("not found", State::label);
        let focused = focus == Some(key);
        let node = format!(
            "<g class=\"node {class}{}\"><title>{} {} ({})</title>\
<rect x=\"{x}\" y=\"{y}\" width=\"{W}\" height=\"{H}\" rx=\"6\"/>\
<text x=\"{}\" y=\"{}\" class=\"k\">{}</text><text x=\"{}\" y=\"{}\">{}</text></g>",
            if focused { " focus" } else { "" },
            esc(key.kind),
            esc(&label),
            esc(status),
            x + 10.0,
            y + 15.0,
            esc(key.kind),
            x + 10.0,
            y + 31.0,
            esc(&short),
        );
        match model::kind_by_name(key.kind) {
            Some(k) if state.is_some() => {
                let _ = write!(
                    svg,
                    "<a href=\"{}\">{node}</a>",
                    esc(&object_href(&k, &key.namespace, &key.name))
                );
            }
            _ => svg.push_str(&node),
        }
    }
    svg.push_str("</svg></div>");
    svg
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_str().unwrap_or_default()
}

/// A short text of a JSON value: strings as they are, the rest as compact JSON.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn facts(pairs: &[(&str, String)]) -> String {
    let mut out = String::from("<dl class=\"facts\">");
    for (k, v) in pairs {
        if v.is_empty() {
            continue;
        }
        let _ = write!(out, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    }
    out.push_str("</dl>");
    out
}

fn link_to(key: &Key, store: &Store) -> String {
    let label = format!("{}/{}/{}", key.kind, key.namespace, key.name);
    match model::kind_by_name(key.kind) {
        Some(k) => match store.get(&k, &key.namespace, &key.name) {
            Some(obj) => {
                let s = Summary::of(k, &obj);
                format!(
                    "{} <a href=\"{}\">{}</a>",
                    badge(s.state),
                    esc(&s.href()),
                    esc(&label)
                )
            }
            None => format!(
                "<span class=\"badge missing\">Not found</span> {}",
                esc(&label)
            ),
        },
        None => esc(&label),
    }
}

/// The form of an object's actions, as the CLI offers them for its kind and state.
fn actions(kind: &FluxKind, obj: &Value, s: &Summary) -> String {
    let action = format!(
        "/_/action/{}/{}/{}",
        kind.info.plural,
        url_part(&s.namespace),
        url_part(&s.name)
    );
    let mut buttons = String::new();
    let reconciles = crate::cmd::ops::check_reconcile(kind, false, false, false).is_ok();
    let with_source = crate::cmd::ops::check_reconcile(kind, true, false, false).is_ok();
    let disabled = if s.suspended {
        " disabled data-locked title=\"Resume it first\""
    } else {
        ""
    };
    if reconciles {
        let _ = write!(
            buttons,
            "<button type=\"submit\" name=\"action\" value=\"reconcile\"{disabled}>Reconcile</button>"
        );
    }
    if with_source {
        let _ = write!(
            buttons,
            "<button type=\"submit\" name=\"action\" value=\"reconcile-source\"{disabled}>Reconcile with source</button>"
        );
    }
    if obj["spec"].is_object() && kind.kind() != "ExternalArtifact" {
        if s.suspended {
            buttons.push_str(
                "<button type=\"submit\" name=\"action\" value=\"resume\">Resume</button>",
            );
        } else {
            buttons.push_str(
                "<button type=\"submit\" name=\"action\" value=\"suspend\" class=\"secondary\">Suspend</button>",
            );
        }
    }
    if buttons.is_empty() {
        return "<p class=\"muted\">No actions for this kind.</p>".into();
    }
    format!(
        "<form method=\"post\" action=\"{}\" class=\"actions\" data-action-form>{buttons}</form>",
        esc(&action)
    )
}

/// The fragments of an object page that come from the watched state: `head`, `actions`,
/// `conditions`, `source`, `deps`, `history`, `events` and `graph`.
pub fn object_fragments(
    store: &Store,
    kind: &FluxKind,
    obj: &Value,
) -> Vec<(&'static str, String)> {
    let s = Summary::of(*kind, obj);
    let spec = &obj["spec"];
    let mut head_facts: Vec<(&str, String)> = vec![
        ("Status", format!("{} {}", badge(s.state), message_html(&s))),
        ("Revision", revision_html(&s.revision)),
        ("Updated", time(s.time)),
        (
            "Suspended",
            if s.suspended { "Yes" } else { "No" }.to_owned(),
        ),
    ];
    for (label, path) in [
        ("URL", &["url"][..]),
        ("Path", &["path"]),
        ("Interval", &["interval"]),
        ("Chart", &["chart", "spec", "chart"]),
        ("Chart version", &["chart", "spec", "version"]),
        ("Chart", &["chart"]),
        ("Version", &["version"]),
        ("Image", &["image"]),
        ("Target namespace", &["targetNamespace"]),
        ("Prune", &["prune"]),
    ] {
        let mut v = spec;
        for p in path {
            v = &v[*p];
        }
        if v.is_string() || v.is_boolean() {
            head_facts.push((label, format!("<code>{}</code>", esc(&scalar(v)))));
        }
    }
    if spec["ref"].is_object() {
        head_facts.push((
            "Reference",
            format!("<code>{}</code>", esc(&scalar(&spec["ref"]))),
        ));
    }
    let head = facts(&head_facts);

    let conditions: Vec<Vec<String>> = obj["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            ["type", "status", "reason", "message", "lastTransitionTime"]
                .iter()
                .map(|f| scalar(&c[*f]))
                .collect()
        })
        .collect();
    let conditions = if conditions.is_empty() {
        "<p class=\"muted\">No conditions yet.</p>".to_owned()
    } else {
        table(
            "Conditions",
            &["Type", "Status", "Reason", "Message", "Last transition"],
            &conditions,
        )
    };

    // Its source (with the artifact revision), or for a source its own artifact.
    let refs = model::references(kind, obj);
    let mut source = String::new();
    for (_, key) in refs.iter().filter(|(r, _)| *r == Relation::Source) {
        let rev = model::kind_by_name(key.kind)
            .and_then(|k| store.get(&k, &key.namespace, &key.name))
            .map(|o| str_at(&o, &["status", "artifact", "revision"]).to_owned())
            .unwrap_or_default();
        source.push_str(&facts(&[
            ("Source", link_to(key, store)),
            ("Artifact revision", revision_html(&rev)),
            (
                "Last attempted revision",
                revision_html(str_at(obj, &["status", "lastAttemptedRevision"])),
            ),
            (
                "Last applied revision",
                revision_html(str_at(obj, &["status", "lastAppliedRevision"])),
            ),
        ]));
    }
    let artifact = &obj["status"]["artifact"];
    if artifact.is_object() {
        source.push_str(&facts(&[
            (
                "Artifact revision",
                revision_html(str_at(artifact, &["revision"])),
            ),
            (
                "Digest",
                format!("<code>{}</code>", esc(str_at(artifact, &["digest"]))),
            ),
            (
                "Updated",
                time(str_at(artifact, &["lastUpdateTime"]).parse().ok()),
            ),
            (
                "Size",
                artifact["size"]
                    .as_i64()
                    .map(|n| format!("{n} bytes"))
                    .unwrap_or_default(),
            ),
        ]));
    }
    if source.is_empty() {
        source = "<p class=\"muted\">No source or artifact.</p>".into();
    }

    // What it depends on, and what depends on it or uses it.
    let me = Key::new(kind, &s.namespace, &s.name);
    let mut deps = String::new();
    let depends: Vec<String> = refs
        .iter()
        .filter(|(r, _)| *r == Relation::DependsOn)
        .map(|(_, k)| format!("<li>{}</li>", link_to(k, store)))
        .collect();
    if !depends.is_empty() {
        let _ = write!(deps, "<h3>Depends on</h3><ul>{}</ul>", depends.join(""));
    }
    let mut used_by: Vec<String> = Vec::new();
    for (k, o) in store.all() {
        for (rel, to) in model::references(&k, &o) {
            if to == me {
                let from = Key::new(
                    &k,
                    str_at(&o, &["metadata", "namespace"]),
                    str_at(&o, &["metadata", "name"]),
                );
                used_by.push(format!(
                    "<li>{} <span class=\"muted\">({})</span></li>",
                    link_to(&from, store),
                    match rel {
                        Relation::Source => "source",
                        Relation::DependsOn => "depends on it",
                    }
                ));
            }
        }
    }
    if !used_by.is_empty() {
        let _ = write!(deps, "<h3>Used by</h3><ul>{}</ul>", used_by.join(""));
    }
    if deps.is_empty() {
        deps = "<p class=\"muted\">No dependencies.</p>".into();
    }

    let history = history(&obj["status"]["history"]);

    let events: Vec<Vec<String>> = store
        .events_for(kind, &s.namespace, &s.name)
        .iter()
        .rev()
        .take(50)
        .map(|e| {
            vec![
                crate::cmd::events::last_seen(e),
                e.type_.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                e.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let events = if events.is_empty() {
        "<p class=\"muted\">No events.</p>".to_owned()
    } else {
        table(
            "Events, newest first",
            &["Last seen", "Type", "Reason", "Message"],
            &events,
        )
    };

    vec![
        ("head", head),
        ("actions", actions(kind, obj, &s)),
        ("conditions", conditions),
        ("source", source),
        ("deps", deps),
        ("history", history),
        ("events", events),
        ("graph", graph(store, Some(&me))),
    ]
}

/// `status.history` as a table: one row per entry, its scalar fields (nested ones as
/// `a.b`) as columns.
fn history(h: &Value) -> String {
    let Some(entries) = h.as_array().filter(|a| !a.is_empty()) else {
        return "<p class=\"muted\">No history.</p>".into();
    };
    fn flat(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flat(&key, v, out);
                }
            }
            other => out.push((prefix.to_owned(), scalar(other))),
        }
    }
    let rows: Vec<Vec<(String, String)>> = entries
        .iter()
        .map(|e| {
            let mut out = Vec::new();
            flat("", e, &mut out);
            out
        })
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for r in &rows {
        for (k, _) in r {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| {
                    r.iter()
                        .find(|(k, _)| k == c)
                        .map(|(_, v)| truncate_hex(v))
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    let headers: Vec<&str> = columns.iter().map(String::as_str).collect();
    table("History, newest first", &headers, &cells)
}

/// The inventory tree fragment.
pub fn tree(result: &anyhow::Result<Option<Node>>) -> String {
    match result {
        Ok(None) => "<p class=\"muted\">This kind has no inventory.</p>".into(),
        Err(e) => format!(
            "<p class=\"notice\">Cannot read the inventory: {}</p>",
            esc(&format!("{e:#}"))
        ),
        Ok(Some(root)) if root.children.is_empty() => {
            "<p class=\"muted\">Nothing applied yet.</p>".into()
        }
        Ok(Some(root)) => {
            let mut out = String::from("<ul class=\"tree\">");
            for c in &root.children {
                node(&mut out, c);
            }
            out.push_str("</ul>");
            out
        }
    }
}

fn node(out: &mut String, n: &Node) {
    let m = &n.meta;
    let api_version = if m.group_kind.group.is_empty() {
        m.version.clone()
    } else {
        format!("{}/{}", m.group_kind.group, m.version)
    };
    let label = if m.namespace.is_empty() {
        m.name.clone()
    } else {
        format!("{}/{}", m.namespace, m.name)
    };
    let src = format!(
        "/_/object?apiVersion={}&kind={}&namespace={}&name={}",
        url_part(&api_version),
        url_part(&m.group_kind.kind),
        url_part(&m.namespace),
        url_part(&m.name)
    );
    let page = model::kind_by_name(&m.group_kind.kind)
        .filter(|k| k.info.group == m.group_kind.group)
        .map(|k| {
            format!(
                " <a href=\"{}\" class=\"open\">open</a>",
                esc(&object_href(&k, &m.namespace, &m.name))
            )
        })
        .unwrap_or_default();
    let message = if n.health.message.is_empty() {
        String::new()
    } else {
        format!(" <span class=\"muted\">{}</span>", esc(&n.health.message))
    };
    let _ = write!(
        out,
        "<li data-kind=\"{kind}\"><details data-src=\"{src}\" data-key=\"{src}\"><summary>\
<span class=\"badge {cls}\">{health}</span> <span class=\"kind\">{kind}</span> \
<span class=\"name\">{label}</span>{message}</summary>\
<pre class=\"yaml\" tabindex=\"0\">Loading…</pre></details>{page}",
        kind = esc(&m.group_kind.kind),
        src = esc(&src),
        cls = n.health.class,
        health = esc(&n.health.label),
        label = esc(&label),
    );
    if !n.children.is_empty() {
        out.push_str("<ul>");
        for c in &n.children {
            node(out, c);
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>");
}

/// An object page: its fragments (the tree too) with their containers.
pub fn object_page(
    kind: &FluxKind,
    obj: &Value,
    fragments: &[(&'static str, String)],
    tree_html: &str,
) -> String {
    let ns = str_at(obj, &["metadata", "namespace"]);
    let name = str_at(obj, &["metadata", "name"]);
    let f: HashMap<&str, &String> = fragments.iter().map(|(k, v)| (*k, v)).collect();
    let get = |id: &str| f.get(id).map(|s| s.as_str()).unwrap_or_default();
    let href = object_href(kind, ns, name);
    let yaml_src = format!(
        "/_/object?apiVersion={}&kind={}&namespace={}&name={}",
        url_part(&kind.info.api_version()),
        url_part(kind.kind()),
        url_part(ns),
        url_part(name)
    );
    let compare = match kind.kind() {
        "Kustomization" => Some((
            "Diff with Git",
            "Builds the source's artifact here and dry-runs every object on the cluster, as \
<code>gitops diff kustomization</code> does; Secret values are masked.",
            "Compare with Git",
        )),
        "HelmRelease" => Some((
            "Drift",
            "Dry-runs the objects of the current release (the manifest Helm last applied, from its \
release record) on the cluster with helm-controller's field manager, as its drift detection \
does; Secret values are masked.",
            "Compare with the cluster",
        )),
        _ => None,
    };
    let diff = match compare {
        Some((title, hint, button)) => format!(
            "<section aria-labelledby=\"diff-h\" class=\"compare\"><h2 id=\"diff-h\">{title}</h2>\
<p class=\"hint\">{hint}</p>\
<button type=\"button\" data-diff=\"{}\">{button}</button>\
<div id=\"diff-out\" aria-live=\"polite\"></div></section>",
            esc(&format!("/_/diff{href}"))
        ),
        None => String::new(),
    };
    let body = format!(
        "<nav aria-label=\"Breadcrumb\" class=\"crumbs\"><a href=\"/\">Overview</a> › {kind}</nav>\
<h1><span class=\"kind\">{kind}</span> {ns}/{name}</h1>\
<div id=\"gone\" role=\"alert\"></div>\
<section aria-labelledby=\"head-h\"><h2 id=\"head-h\" class=\"sr-only\">Status</h2><div id=\"head\" data-live>{head}</div></section>\
<section aria-labelledby=\"actions-h\"><h2 id=\"actions-h\">Actions</h2><div id=\"actions\" data-live>{actions}</div>\
<p id=\"action-status\" role=\"status\" aria-live=\"polite\"></p></section>\
<section aria-labelledby=\"conditions-h\"><h2 id=\"conditions-h\">Conditions</h2><div id=\"conditions\" data-live>{conditions}</div></section>\
<section aria-labelledby=\"source-h\"><h2 id=\"source-h\">Source</h2><div id=\"source\" data-live>{source}</div></section>\
<section aria-labelledby=\"tree-h\"><h2 id=\"tree-h\">Inventory</h2><p class=\"hint\">Open an object for its live YAML.</p><div id=\"tree\" data-live>{tree}</div></section>\
{diff}\
<section aria-labelledby=\"deps-h\"><h2 id=\"deps-h\">Dependencies</h2><div id=\"deps\" data-live>{deps}</div><div id=\"graph\" data-live>{graph}</div></section>\
<section aria-labelledby=\"events-h\"><h2 id=\"events-h\">Events</h2><div id=\"events\" data-live>{events}</div></section>\
<section aria-labelledby=\"history-h\"><h2 id=\"history-h\">History</h2><div id=\"history\" data-live>{history}</div></section>\
<section aria-labelledby=\"yaml-h\"><h2 id=\"yaml-h\">YAML</h2><details data-src=\"{yaml_src}\" data-key=\"self\"><summary>Show the object</summary>\
<pre class=\"yaml\" tabindex=\"0\">Loading…</pre></details></section>",
        kind = esc(kind.kind()),
        ns = esc(ns),
        name = esc(name),
        head = get("head"),
        actions = get("actions"),
        conditions = get("conditions"),
        source = get("source"),
        tree = tree_html,
        deps = get("deps"),
        graph = get("graph"),
        events = get("events"),
        history = get("history"),
        yaml_src = esc(&yaml_src),
    );
    let stream = format!("/_/stream?page={}", url_part(&href));
    page(
        &format!("{} {ns}/{name}", kind.kind()),
        Some(&stream),
        &body,
    )
}

/// A diff report as HTML (the answer to the diff button).
pub fn diff(result: &anyhow::Result<DiffReport>) -> String {
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            return format!(
                "<p class=\"notice\">The diff failed: {}</p>",
                esc(&format!("{e:#}"))
            );
        }
    };
    let mut out = match &report.basis {
        Basis::Built { revision } => format!("<p>Built from <code>{}</code>.</p>", esc(revision)),
        Basis::Release {
            release,
            status,
            chart,
            detection,
        } => {
            let mut p = format!(
                "<p>Release <code>{}</code> ({}) of chart <code>{}</code>, as Helm last applied it.</p>",
                esc(release),
                esc(status),
                esc(chart)
            );
            if !matches!(detection.as_str(), "enabled" | "warn") {
                p.push_str(
                    "<p class=\"hint\">Drift detection is off for this HelmRelease \
(<code>spec.driftDetection.mode</code>): helm-controller neither reports nor corrects this drift.</p>",
                );
            }
            p
        }
    };
    for e in &report.errors {
        let _ = write!(out, "<p class=\"notice\">{}</p>", esc(e));
    }
    let unchanged: Vec<&str> = report
        .entries
        .iter()
        .filter(|e| e.action == "unchanged")
        .map(|e| e.object.as_str())
        .collect();
    let changed: Vec<_> = report
        .entries
        .iter()
        .filter(|e| e.action != "unchanged")
        .collect();
    if changed.is_empty() && report.errors.is_empty() {
        let with = match report.basis {
            Basis::Built { .. } => "Git",
            Basis::Release { .. } => "the release",
        };
        let _ = write!(
            out,
            "<p><span class=\"badge ready\">In sync</span> The cluster matches {with}.</p>"
        );
    }
    if !changed.is_empty() {
        out.push_str("<ul class=\"diff\">");
        for e in changed {
            let cls = match e.action {
                "created" | "drifted" | "deleted" => "failed",
                _ => "unknown",
            };
            if e.detail.is_empty() {
                let _ = write!(
                    out,
                    "<li><span class=\"badge {cls}\">{}</span> {}</li>",
                    esc(e.action),
                    esc(&e.object)
                );
            } else {
                let _ = write!(
                    out,
                    "<li><details open><summary><span class=\"badge {cls}\">{}</span> {}</summary>\
<pre class=\"yaml\" tabindex=\"0\">{}</pre></details></li>",
                    esc(e.action),
                    esc(&e.object),
                    esc(&e.detail)
                );
            }
        }
        out.push_str("</ul>");
    }
    if !unchanged.is_empty() {
        let _ = write!(
            out,
            "<details><summary>{} unchanged</summary><ul>{}</ul></details>",
            unchanged.len(),
            unchanged
                .iter()
                .map(|o| format!("<li>{}</li>", esc(o)))
                .collect::<String>()
        );
    }
    out
}

/// The result of an action, for browsers without the page's script.
pub fn action_page(back: &str, ok: bool, lines: &[String]) -> String {
    let mut body = format!(
        "<h1>{}</h1><pre class=\"yaml\">",
        if ok { "Done" } else { "Failed" }
    );
    for l in lines {
        body.push_str(&esc(l));
        body.push('\n');
    }
    let _ = write!(body, "</pre><p><a href=\"{}\">Back</a></p>", esc(back));
    page(if ok { "Done" } else { "Failed" }, None, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_pages_escape_what_they_show() {
        let p = error_page("Not found", "No Kustomization <script>alert(1)</script>");
        assert!(p.contains("No Kustomization &lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!p.contains("<script>alert"));
    }

    #[test]
    fn notices_name_the_namespace_and_escape() {
        let n = |kind: &'static str, problem: model::Problem, message: &str| model::Notice {
            kind,
            problem,
            message: message.into(),
        };
        let scoped = |kind| n(kind, model::Problem::Scoped("team-<a>".into()), "");
        let some = notices(&[
            scoped("Kustomization"),
            scoped("HelmRelease"),
            n("Bucket", model::Problem::NotServed, ""),
            n("Event", model::Problem::Failed, "events is forbidden: <no>"),
        ]);
        assert!(
            some.contains("Showing namespace <strong>team-&lt;a&gt;</strong> only: this identity may not list Kustomization, HelmRelease in all namespaces"),
            "{some}"
        );
        assert!(
            some.contains("Cannot watch Event: events is forbidden: &lt;no&gt;"),
            "{some}"
        );
        assert!(
            some.contains("Not served by this cluster: Bucket."),
            "{some}"
        );
        let all: Vec<model::Notice> = model::KINDS
            .iter()
            .map(|k| k.kind())
            .chain(["Event"])
            .map(scoped)
            .collect();
        let every = notices(&all);
        assert!(
            every.contains("may not list Flux objects or their events in all namespaces"),
            "{every}"
        );
        assert!(!every.contains("Cannot watch"), "{every}");
    }

    #[test]
    fn release_diffs_say_what_they_compare_and_escape() {
        let report = DiffReport {
            basis: Basis::Release {
                release: "hello.v3".into(),
                status: "deployed".into(),
                chart: "<hello>@1.0.0".into(),
                detection: "disabled".into(),
            },
            entries: vec![
                super::super::detail::DiffEntry {
                    object: "Deployment/demo/hello".into(),
                    action: "drifted",
                    detail: "spec.replicas\n  - 1\n  + <3>".into(),
                },
                super::super::detail::DiffEntry {
                    object: "ConfigMap/demo/x".into(),
                    action: "unchanged",
                    detail: String::new(),
                },
            ],
            errors: vec!["Secret/demo/s dry-run failed: <bad>".into()],
        };
        let html = diff(&Ok(report.clone()));
        assert!(
            html.contains(
                "Release <code>hello.v3</code> (deployed) of chart <code>&lt;hello&gt;@1.0.0</code>"
            ),
            "{html}"
        );
        assert!(html.contains("Drift detection is off"), "{html}");
        assert!(html.contains("+ &lt;3&gt;"), "{html}");
        assert!(html.contains("dry-run failed: &lt;bad&gt;"), "{html}");
        assert!(html.contains("1 unchanged"), "{html}");
        let on = DiffReport {
            basis: Basis::Release {
                release: "hello.v3".into(),
                status: "failed".into(),
                chart: "hello@1.0.0".into(),
                detection: "enabled".into(),
            },
            entries: vec![report.entries[1].clone()],
            errors: Vec::new(),
        };
        let html = diff(&Ok(on));
        assert!(!html.contains("Drift detection is off"), "{html}");
        assert!(html.contains("The cluster matches the release."), "{html}");
    }

    #[test]
    fn history_tables_flatten_entries() {
        let h = history(&json!([{"digest": "sha256:1", "metadata": {"revision": "main@sha1:x"}}]));
        assert!(h.contains("metadata.revision"), "{h}");
        assert!(h.contains("main@sha1:x"), "{h}");
    }

    #[test]
    fn the_graph_links_objects_and_escapes_names() {
        let store = Store::new();
        let ks = json!({
            "metadata": {"name": "<b>", "namespace": "ns"},
            "spec": {"sourceRef": {"kind": "GitRepository", "name": "repo"}},
        });
        store.insert_for_test(&crate::cli::kinds::KUSTOMIZATION, ks);
        let svg = graph(&store, None);
        assert!(svg.contains("ns/&lt;b&gt;"), "{svg}");
        assert!(svg.contains("href=\"/kustomizations/ns/%3Cb%3E\""), "{svg}");
        // The missing source is drawn, not linked.
        assert!(svg.contains("node missing"), "{svg}");
    }

    #[test]
    fn long_edges_pass_between_boxes() {
        let store = Store::new();
        let ks = |name: &str, depends: &[&str]| {
            json!({
                "metadata": {"name": name, "namespace": "ns"},
                "spec": {
                    "sourceRef": {"kind": "GitRepository", "name": "repo"},
                    "dependsOn": depends.iter().map(|d| json!({"name": d})).collect::<Vec<_>>(),
                },
            })
        };
        for k in [ks("a", &[]), ks("b", &["a"])] {
            store.insert_for_test(&crate::cli::kinds::KUSTOMIZATION, k);
        }
        let svg = graph(&store, None);
        // b → repo spans two columns: its path goes straight through a slot of column 1.
        let paths: Vec<&str> = svg.split("<path class=\"edge").skip(1).collect();
        assert_eq!(paths.len(), 3, "{svg}");
        assert_eq!(
            paths.iter().filter(|p| p.contains(" L ")).count(),
            1,
            "{svg}"
        );
    }
}
