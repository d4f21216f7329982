//! `kustomize build` of a small kustomization tree generated from the input: an overlay
//! (`overlay/`) over a base (`base/`) and a component (`comp/`), whose kustomization files
//! choose among resources, strategic-merge and JSON 6902 patches (in files, inline and
//! legacy fields), name prefixes and suffixes, namespaces, labels and annotations,
//! ConfigMap and Secret generators, images, replicas, replacements, vars, components and
//! sort options, over resource files of common kinds; values come from small pools or
//! are bytes of the input spliced into the YAML (quoted, or raw). The tree is built in a
//! temporary directory with [`gitops_kustomize::build`] (sandboxed to it) and printed:
//! objects or an error, never a panic.
#![no_main]

use gitops_kustomize::{BuildOptions, LoadRestrictor};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

const NAMES: &[&str] = &[
    "web", "app", "cfg", "backend", "sa", "role", "p-web", "web-s", "api", "worker", "cache",
    "job", "front", "db",
];
const KINDS: &[&str] = &[
    "Deployment",
    "Service",
    "ConfigMap",
    "Secret",
    "Role",
    "RoleBinding",
    "ServiceAccount",
    "CronJob",
    "Widget",
    "Namespace",
    "Deploy.*",
    "",
];
const KEYS: &[&str] = &["app", "tier", "k", "app.kubernetes.io/name", "x"];
const VALUES: &[&str] = &["web", "front", "v", "1", "true", "$(VAR)", "", "~", "0x10"];
/// Label and annotation values of kustomizations (strings but for one number and one null).
const LABEL_VALUES: &[&str] = &["web", "front", "v", "'1'", "x.y", "A_b-c", "1", ""];
const IMAGES: &[&str] = &[
    "nginx",
    "busybox",
    "nginx:1.25",
    "'*'",
    "registry.local/app",
];
const FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.replicas",
    "'spec.template.spec.containers.[name=web].image'",
    "'spec.template.spec.containers.0.env.[name=A].value'",
    "'spec.template.spec.containers.*.image'",
    "spec.selector.matchLabels",
    "metadata.labels.app",
    "metadata.annotations.x",
    "data.k",
    "spec.ports.0.port",
    "'spec.template.spec.containers.[name=nope].image'",
    "'['",
    "a..b",
];
const POINTERS: &[&str] = &[
    "/spec/replicas",
    "/metadata/labels/x",
    "/metadata/labels",
    "/metadata/annotations",
    "/metadata/name",
    "/spec/template/spec/containers/0/image",
    "/spec/template/spec/containers/-",
    "/spec/template/spec/containers/0/env/0",
    "/spec/ports/0",
    "/data/k",
    "/kind",
    "",
    "/",
    "/a~1b/~0c",
    "/spec/template/spec/containers/9",
];

/// Choices driven by the input (defaults once it runs out).
struct Gen<'a> {
    u: Unstructured<'a>,
}

impl Gen<'_> {
    fn pick<'s>(&mut self, xs: &[&'s str]) -> &'s str {
        self.u.choose(xs).copied().unwrap_or(xs[0])
    }
    fn flag(&mut self) -> bool {
        self.u.arbitrary().unwrap_or(false)
    }
    /// One in `n` (never once the input is used up).
    fn one_in(&mut self, n: u8) -> bool {
        !self.u.is_empty() && self.u.ratio(1, n).unwrap_or(false)
    }
    fn upto(&mut self, max: usize) -> usize {
        self.u.int_in_range(0..=max).unwrap_or(0)
    }
    /// Raw bytes of the input (at most 32), as text.
    fn raw(&mut self) -> String {
        let n = self.upto(32);
        let b = self.u.bytes(n).unwrap_or(&[]);
        String::from_utf8_lossy(b).into_owned()
    }
    /// A YAML scalar: mostly from `pool`, else input bytes quoted (or, rarely, raw).
    fn scalar(&mut self, pool: &[&str]) -> String {
        match self.upto(127) {
            0..=109 => self.pick(pool).to_owned(),
            110..=119 => quoted(&self.raw()),
            120..=125 => {
                let p = self.pick(pool);
                quoted(&format!("{p}{}", self.raw()))
            }
            126 => format!("'{}'", self.raw().replace('\'', "''")),
            _ => self.raw(),
        }
    }
    /// An integer, now and then an odd one (negative, past 32 bits, a float, a string).
    fn int(&mut self) -> String {
        match self.upto(15) {
            0 => "-1".into(),
            1 => "2147483648".into(),
            2 => "1e3".into(),
            3 => "\"3\"".into(),
            _ => self.upto(5).to_string(),
        }
    }
}

/// A YAML double-quoted scalar of any text (every character YAML does not allow
/// unescaped is escaped).
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' ' | '!'..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'.. => {
                out.push(c)
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// A resource file: one to three documents. `slot` numbers the file, so that its objects
/// are named apart from other files' unless the input chooses otherwise.
fn resources(g: &mut Gen, slot: usize) -> String {
    let mut out = String::new();
    for i in 0..=g.upto(2) {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&resource(g, slot * 3 + i));
    }
    out
}

fn resource(g: &mut Gen, slot: usize) -> String {
    let mut names = NAMES.to_vec();
    names.rotate_left(slot % NAMES.len());
    let name = g.scalar(&names);
    let (lk, lv) = (g.scalar(KEYS), g.scalar(VALUES));
    match g.upto(40) {
        0..=5 | 19..=23 => {
            let replicas = g.int();
            let cname = g.scalar(&["web", "side", "app"]);
            let image = g.scalar(IMAGES);
            let env = g.scalar(VALUES);
            let cm = g.scalar(NAMES);
            let secret = g.scalar(NAMES);
            let sa = g.scalar(NAMES);
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels: {{{lk}: {lv}}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{{lk}: {lv}}}}}\n  template:\n    metadata: {{labels: {{{lk}: {lv}}}}}\n    spec:\n      serviceAccountName: {sa}\n      containers:\n      - name: {cname}\n        image: {image}\n        args: [a, b]\n        env: [{{name: A, value: {env}}}]\n        envFrom: [{{configMapRef: {{name: {cm}}}}}]\n        ports: [{{containerPort: 80}}]\n      - name: side\n        image: busybox\n      volumes:\n      - name: c\n        configMap: {{name: {cm}}}\n      - name: s\n        secret: {{secretName: {secret}}}\n"
            )
        }
        6..=8 | 24..=26 => {
            let port = g.int();
            format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, labels: {{{lk}: {lv}}}}}\nspec:\n  selector: {{{lk}: {lv}}}\n  ports: [{{port: {port}, name: http}}, {{port: 443}}]\n"
            )
        }
        9..=11 | 27..=29 => format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  {lk}: {lv}\n  z: v\n"
        ),
        12 | 30 => format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\ntype: Opaque\ndata: {{a: YWJj}}\nstringData: {{{lk}: {lv}}}\n"
        ),
        13 | 31..=33 => {
            let role = g.scalar(NAMES);
            let sa = g.scalar(NAMES);
            format!(
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: {role}}}\nrules: [{{apiGroups: [''], resources: [pods], verbs: [get]}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: {name}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: {role}}}\nsubjects: [{{kind: ServiceAccount, name: {sa}, namespace: default}}]\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {sa}}}\n"
            )
        }
        14 | 34 => {
            let image = g.scalar(IMAGES);
            format!(
                "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {name}}}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{{name: c, image: {image}}}]\n"
            )
        }
        15 | 35..=37 => {
            let api = g.scalar(&["example.com/v1", "v1", "apps/v1", "a/b/c", ""]);
            let kind = g.scalar(KINDS);
            let v = g.scalar(VALUES);
            format!(
                "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {lv}\nspec:\n  {lk}: {v}\n  list: [1, {{name: x}}]\n"
            )
        }
        16 | 38 => format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n"),
        17 | 18 | 39 => {
            let svc = g.scalar(NAMES);
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}}}\nspec:\n  rules:\n  - http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}\n"
            )
        }
        _ => g.raw(),
    }
}

/// A `target:` / `select:` selector in flow style.
fn selector(g: &mut Gen) -> String {
    let mut parts = Vec::new();
    if g.flag() {
        parts.push(format!("kind: {}", g.scalar(KINDS)));
    }
    if g.flag() {
        parts.push(format!(
            "name: {}",
            g.scalar(&["web", "app", ".*", "web|app", "'['", "cfg"])
        ));
    }
    if g.one_in(4) {
        parts.push(format!("group: {}", g.scalar(&["apps", "", "batch"])));
    }
    if g.one_in(4) {
        parts.push(format!("version: {}", g.scalar(&["v1", "v2"])));
    }
    if g.one_in(4) {
        parts.push(format!("namespace: {}", g.scalar(&["default", "prod", ""])));
    }
    if g.one_in(4) {
        parts.push(format!(
            "labelSelector: {}",
            g.scalar(&[
                "app=web",
                "'app in (web,x)'",
                "'!tier'",
                "'a notin ()'",
                "app"
            ])
        ));
    }
    if g.one_in(5) {
        parts.push(format!(
            "annotationSelector: {}",
            g.scalar(&["x=y", "note"])
        ));
    }
    format!("{{{}}}", parts.join(", "))
}

/// A strategic-merge patch.
fn smp(g: &mut Gen) -> String {
    let kind = g.scalar(&["Deployment", "Service", "ConfigMap", "Widget", "Secret"]);
    let api = match kind.as_str() {
        "Deployment" => "apps/v1",
        "Widget" => "example.com/v1",
        _ => "v1",
    };
    let name = g.scalar(NAMES);
    let mut s = format!("apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n");
    if g.flag() {
        let _ = writeln!(s, "  labels: {{{}: {}}}", g.scalar(KEYS), g.scalar(VALUES));
    }
    if g.one_in(6) {
        s.push_str("$patch: ");
        s.push_str(&g.scalar(&["delete", "replace", "merge", "bogus"]));
        s.push('\n');
    }
    if g.flag() {
        s.push_str("spec:\n");
        if g.flag() {
            let _ = writeln!(s, "  replicas: {}", g.int());
        }
        if g.one_in(3) {
            s.push_str("  strategy:\n    $retainKeys: [type]\n    type: Recreate\n");
        }
        s.push_str("  template:\n    spec:\n");
        if g.one_in(3) {
            s.push_str("      $setElementOrder/containers: [{name: side}, {name: web}]\n");
        }
        s.push_str("      containers:\n");
        for _ in 0..=g.upto(2) {
            let cname = g.scalar(&["web", "side", "new"]);
            let _ = writeln!(s, "      - name: {cname}");
            match g.upto(5) {
                0 => s.push_str("        $patch: delete\n"),
                1 => s.push_str("        $patch: replace\n        image: x\n"),
                2 => s.push_str("        $deleteFromPrimitiveList/args: [a]\n"),
                3 => {
                    let _ = writeln!(s, "        env: [{{name: A, value: {}}}]", g.scalar(VALUES));
                }
                _ => {
                    let _ = writeln!(s, "        image: {}", g.scalar(IMAGES));
                }
            }
        }
        if g.one_in(3) {
            s.push_str(
                "      volumes:\n      - $patch: replace\n      - {name: fresh, emptyDir: {}}\n",
            );
        }
        if g.one_in(3) {
            s.push_str("  ports: [{port: 8080, name: alt}]\n");
        }
    }
    if g.flag() {
        let _ = writeln!(s, "data:\n  {}: {}", g.scalar(KEYS), g.scalar(VALUES));
    }
    s
}

/// A JSON 6902 patch (YAML, or JSON when `json`).
fn json6902(g: &mut Gen, json: bool) -> String {
    let mut ops = Vec::new();
    for _ in 0..=g.upto(3) {
        let op = g.scalar(&["add", "remove", "replace", "move", "copy", "test", "bogus"]);
        let path = g.scalar(POINTERS);
        let mut o = format!("op: {op}, path: {path}");
        if g.flag() {
            let _ = write!(o, ", from: {}", g.scalar(POINTERS));
        }
        if g.flag() {
            let value = match g.upto(3) {
                0 => format!("{{{}: {}}}", g.scalar(KEYS), g.scalar(VALUES)),
                1 => "[1, two]".into(),
                2 => g.int(),
                _ => g.scalar(VALUES),
            };
            let _ = write!(o, ", value: {value}");
        }
        ops.push(format!("{{{o}}}"));
    }
    if json {
        format!("[{}]\n", ops.join(", "))
    } else {
        ops.iter().map(|o| format!("- {o}\n")).collect()
    }
}

fn block(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::from("|\n");
    for line in text.lines() {
        let _ = writeln!(out, "{pad}{line}");
    }
    out
}

fn generator(g: &mut Gen, secret: bool) -> String {
    let mut s = format!("- name: {}\n", g.scalar(NAMES));
    if g.flag() {
        let _ = writeln!(
            s,
            "  behavior: {}",
            g.scalar(&["create", "merge", "replace", "bogus"])
        );
    }
    if secret && g.flag() {
        let _ = writeln!(s, "  type: {}", g.scalar(&["Opaque", "kubernetes.io/tls"]));
    }
    if g.flag() || g.u.is_empty() {
        let _ = writeln!(s, "  literals: [{}={}]", g.scalar(KEYS), g.scalar(VALUES));
    }
    if g.one_in(3) {
        s.push_str("  files: [app.properties, renamed=env.txt]\n");
    }
    if g.one_in(3) {
        s.push_str("  envs: [env.txt]\n");
    }
    if g.one_in(3) {
        let _ = writeln!(
            s,
            "  options: {{disableNameSuffixHash: {}, labels: {{{}: {}}}}}",
            g.flag(),
            g.scalar(KEYS),
            g.scalar(LABEL_VALUES)
        );
    }
    s
}

/// A kustomization listing (most of) `resources`, with fields chosen by the input.
fn kustomization(g: &mut Gen, component: bool, light: bool, resources: &[&str]) -> String {
    // A light kustomization (the base's, the component's) has each field a third as often,
    // so that builds more often get through it to the overlay's.
    let want = |g: &mut Gen, n: u8| g.one_in(if light { n.saturating_mul(3) } else { n });
    let mut s = String::new();
    if component {
        s.push_str("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n");
    } else if g.one_in(8) {
        let _ = writeln!(
            s,
            "kind: {}",
            g.scalar(&["Kustomization", "Component", "Bogus"])
        );
    }
    if !resources.is_empty() {
        let mut list: Vec<String> = resources
            .iter()
            .filter(|_| !g.one_in(6))
            .map(|r| r.to_string())
            .collect();
        if g.one_in(8) {
            list.push(g.scalar(&[
                "missing.yaml",
                "../comp",
                "/etc",
                "https://example.com/x.yaml",
            ]));
        }
        let _ = writeln!(s, "resources: [{}]", list.join(", "));
    }
    if want(g, 2) {
        let _ = writeln!(s, "namePrefix: {}", g.scalar(&["p-", "x-", ""]));
    }
    if want(g, 3) {
        let _ = writeln!(s, "nameSuffix: {}", g.scalar(&["-s", "-v2", ""]));
    }
    if want(g, 2) {
        let _ = writeln!(
            s,
            "namespace: {}",
            g.scalar(&["prod", "default", "kube-system", ""])
        );
    }
    if want(g, 3) {
        let _ = writeln!(
            s,
            "commonLabels: {{{}: {}}}",
            g.scalar(KEYS),
            g.scalar(LABEL_VALUES)
        );
    }
    if want(g, 2) {
        s.push_str("labels:\n");
        for _ in 0..=g.upto(1) {
            let _ = writeln!(
                s,
                "- pairs: {{{}: {}}}\n  includeSelectors: {}\n  includeTemplates: {}",
                g.scalar(KEYS),
                g.scalar(LABEL_VALUES),
                g.flag(),
                g.flag()
            );
            if g.one_in(4) {
                s.push_str("  fields: [{path: spec.extra/labels, kind: Widget, create: true}]\n");
            }
        }
    }
    if want(g, 3) {
        let _ = writeln!(
            s,
            "commonAnnotations: {{{}: {}}}",
            g.scalar(KEYS),
            g.scalar(LABEL_VALUES)
        );
    }
    if want(g, 2) {
        s.push_str("images:\n");
        for _ in 0..=g.upto(1) {
            let _ = writeln!(s, "- name: {}", g.scalar(IMAGES));
            if g.flag() {
                let _ = writeln!(s, "  newName: {}", g.scalar(&["registry.local/x", "y", ""]));
            }
            if g.flag() {
                let _ = writeln!(s, "  newTag: {}", g.scalar(&["'1.0'", "latest", "v2", "0"]));
            }
            if g.one_in(3) {
                let _ = writeln!(
                    s,
                    "  digest: {}",
                    g.scalar(&[
                        "sha256:2222222222222222222222222222222222222222222222222222222222222222",
                        "sha256:x"
                    ])
                );
            }
        }
    }
    if want(g, 3) {
        let _ = writeln!(
            s,
            "replicas: [{{name: {}, count: {}}}]",
            g.scalar(NAMES),
            g.int()
        );
    }
    if want(g, 2) {
        s.push_str("configMapGenerator:\n");
        s.push_str(&generator(g, false));
    }
    if want(g, 3) {
        s.push_str("secretGenerator:\n");
        s.push_str(&generator(g, true));
    }
    if want(g, 4) {
        let _ = writeln!(
            s,
            "generatorOptions: {{disableNameSuffixHash: {}, annotations: {{{}: {}}}}}",
            g.flag(),
            g.scalar(KEYS),
            g.scalar(LABEL_VALUES)
        );
    }
    if want(g, 2) {
        s.push_str("patches:\n");
        for _ in 0..=g.upto(2) {
            match g.upto(3) {
                0 => s.push_str("- path: patch-smp.yaml\n"),
                1 => s.push_str("- path: patch-json.yaml\n"),
                2 => {
                    let text = smp(g);
                    let _ = write!(s, "- patch: {}", block(&text, 4));
                }
                _ => {
                    let json = g.flag();
                    let text = json6902(g, json);
                    let _ = write!(s, "- patch: {}", block(&text, 4));
                }
            }
            if g.flag() {
                let _ = writeln!(s, "  target: {}", selector(g));
            }
            if g.one_in(4) {
                let _ = writeln!(
                    s,
                    "  options: {{allowNameChange: {}, allowKindChange: {}}}",
                    g.flag(),
                    g.flag()
                );
            }
        }
    }
    if want(g, 4) {
        s.push_str("patchesStrategicMerge: [patch-smp.yaml]\n");
    }
    if want(g, 4) {
        let _ = writeln!(
            s,
            "patchesJson6902: [{{target: {{group: apps, version: v1, kind: {}, name: {}}}, path: patch-json.yaml}}]",
            g.scalar(KINDS),
            g.scalar(NAMES)
        );
    }
    if want(g, 2) {
        s.push_str("replacements:\n");
        for _ in 0..=g.upto(1) {
            let _ = writeln!(
                s,
                "- source: {{kind: {}, name: {}, fieldPath: {}}}",
                g.scalar(KINDS),
                g.scalar(NAMES),
                g.scalar(FIELD_PATHS)
            );
            if g.one_in(4) {
                let _ = writeln!(
                    s,
                    "  sourceOptions: {{delimiter: {}, index: {}}}",
                    g.scalar(&["/", "'-'", ""]),
                    g.int()
                );
            }
            s.push_str("  targets:\n");
            for _ in 0..=g.upto(1) {
                let _ = writeln!(
                    s,
                    "  - select: {}\n    fieldPaths: [{}]",
                    selector(g),
                    g.scalar(FIELD_PATHS)
                );
                if g.one_in(3) {
                    let _ = writeln!(s, "    reject: [{}]", selector(g));
                }
                if g.flag() {
                    let _ = writeln!(
                        s,
                        "    options: {{delimiter: {}, index: {}, create: {}}}",
                        g.scalar(&["/", "'-'", ".", ""]),
                        g.int(),
                        g.flag()
                    );
                }
            }
        }
    }
    if want(g, 5) {
        let _ = writeln!(
            s,
            "vars: [{{name: VAR, objref: {{kind: {}, name: {}, apiVersion: v1}}, fieldref: {{fieldPath: {}}}}}]",
            g.scalar(KINDS),
            g.scalar(NAMES),
            g.scalar(FIELD_PATHS)
        );
    }
    if want(g, 6) {
        let _ = writeln!(
            s,
            "sortOptions: {{order: {}}}",
            g.scalar(&["legacy", "fifo", "x"])
        );
    }
    if want(g, 8) {
        s.push_str("buildMetadata: [originAnnotations, transformerAnnotations, managedByLabel]\n");
    }
    if want(g, 16) {
        s.push_str("helmCharts: [{name: c, repo: https://example.com}]\n");
    }
    if want(g, 12) {
        s.push_str(&g.raw());
        s.push('\n');
    }
    s
}

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).expect("write");
}

fuzz_target!(|data: &[u8]| {
    let mut g = Gen {
        u: Unstructured::new(data),
    };
    let tmp = if Path::new("/dev/shm").is_dir() {
        tempfile::Builder::new()
            .prefix("fuzz-kust")
            .tempdir_in("/dev/shm")
    } else {
        tempfile::Builder::new().prefix("fuzz-kust").tempdir()
    }
    .expect("temp dir");
    let root = tmp.path();
    let (base, comp, overlay) = (root.join("base"), root.join("comp"), root.join("overlay"));
    for d in [&base, &comp, &overlay] {
        fs::create_dir(d).expect("mkdir");
    }

    // Each directory offers resources, patch files and generator sources; its
    // kustomization picks among them.
    let files = |g: &mut Gen, dir: &Path| {
        write(dir, "patch-smp.yaml", &smp(g));
        let json = g.flag();
        write(dir, "patch-json.yaml", &json6902(g, json));
        write(dir, "app.properties", &format!("a={}\n", g.raw()));
        write(dir, "env.txt", &format!("E={}\n#c\nF\n", g.raw()));
    };
    write(&base, "r0.yaml", &resources(&mut g, 0));
    write(&base, "r1.yaml", &resources(&mut g, 1));
    files(&mut g, &base);
    let k = kustomization(&mut g, false, true, &["r0.yaml", "r1.yaml"]);
    write(&base, "kustomization.yaml", &k);

    write(&comp, "c0.yaml", &resources(&mut g, 2));
    files(&mut g, &comp);
    let with_resources = g.flag();
    let k = kustomization(
        &mut g,
        true,
        true,
        if with_resources { &["c0.yaml"] } else { &[] },
    );
    write(&comp, "kustomization.yaml", &k);

    write(&overlay, "o0.yaml", &resources(&mut g, 3));
    files(&mut g, &overlay);
    let mut k = kustomization(&mut g, false, false, &["../base", "o0.yaml"]);
    if g.flag() || g.u.is_empty() {
        k.push_str("components: [../comp]\n");
    }
    write(&overlay, "kustomization.yaml", &k);

    let opts = BuildOptions {
        load_restrictor: LoadRestrictor::RootOnly,
        sandbox: Some(root.to_path_buf()),
        chart_renderer: None,
    };
    if let Ok(objects) = gitops_kustomize::build(&overlay, &opts) {
        let _ = gitops_kustomize::to_yaml_stream(&objects);
    }
});
