//! Text shared by providers: object names, descriptions, times, escaping.

use gitops_api::event::{Event, SEVERITY_ERROR};

/// The involved object's kind, name and namespace.
pub(super) fn parts(event: &Event) -> (&str, &str, &str) {
    let o = &event.involved_object;
    (
        o.kind.as_deref().unwrap_or_default(),
        o.name.as_deref().unwrap_or_default(),
        o.namespace.as_deref().unwrap_or_default(),
    )
}

/// `<kind lower-cased>/<name>.<namespace>`, the title of most chat messages.
pub(super) fn object_title(event: &Event) -> String {
    let (kind, name, ns) = parts(event);
    format!("{}/{name}.{ns}", kind.to_lowercase())
}

/// Whether the event is an error.
pub(super) fn is_error(event: &Event) -> bool {
    event.severity == SEVERITY_ERROR
}

/// `error` for error events, else `info`.
pub(super) fn pick<'a>(event: &Event, info: &'a str, error: &'a str) -> &'a str {
    if is_error(event) { error } else { info }
}

/// One line per metadata entry (sorted by key), each `line(key, value)`.
pub(super) fn metadata_lines(event: &Event, line: impl Fn(&str, &str) -> String) -> String {
    event
        .metadata
        .iter()
        .map(|(k, v)| line(k, v))
        .collect::<Vec<_>>()
        .concat()
}

/// Flux's `formatNameAndDescription`: `<kind>/<name>` and the reason split at case
/// changes, both lower-cased (`ReconciliationSucceeded` → `reconciliation succeeded`).
pub(super) fn name_and_description(event: &Event) -> (String, String) {
    let (kind, name, _) = parts(event);
    let n = format!("{kind}/{name}").to_lowercase();
    let d = split_camelcase(&event.reason).join(" ").to_lowercase();
    (n, d)
}

/// Splits `src` into runs of lower-case letters, upper-case letters, digits and other
/// characters, moving the last capital of an upper-case run onto a following
/// lower-case run (`PDFLoader` → `PDF`, `Loader`), like Flux's `splitCamelcase`.
pub(super) fn split_camelcase(src: &str) -> Vec<String> {
    fn class(c: char) -> u8 {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    }
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in src.chars() {
        let k = class(c);
        match runs.last_mut() {
            Some(run) if k == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = k;
    }
    for i in 0..runs.len().saturating_sub(1) {
        let upper_then_lower = runs[i].first().is_some_and(|c| c.is_uppercase())
            && runs[i + 1].first().is_some_and(|c| c.is_lowercase());
        if upper_then_lower && let Some(c) = runs[i].pop() {
            runs[i + 1].insert(0, c);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

/// Title case of Go's `cases.Title(language.Und)`: each word's first letter upper-cased,
/// the rest lower-cased (`HealthCheckFailed` → `Healthcheckfailed`).
pub(super) fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphanumeric() || c == '_' || c == '\'' {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

/// The event's time (now if it does not parse).
pub(super) fn timestamp(event: &Event) -> jiff::Timestamp {
    event
        .timestamp
        .trim()
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|_| jiff::Timestamp::now())
}

/// RFC 3339 in UTC with whole seconds, as Go's `time.RFC3339` formats it.
pub(super) fn rfc3339(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Escapes the characters Telegram's MarkdownV2 reserves.
pub(super) fn telegram_escape(s: &str) -> String {
    const SPECIAL: &str = "\\.-_[]()~>`#+=|{}!*";
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if SPECIAL.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The first line of `s`.
pub(super) fn first_line(s: &str) -> &str {
    s.split('\n').next().unwrap_or_default()
}
