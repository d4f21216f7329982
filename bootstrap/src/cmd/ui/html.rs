//! HTML text: escaping of everything that comes from the user or the cluster, links to
//! object pages, times.

use crate::cli::FluxKind;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use std::fmt::Write as _;

/// `text` made safe for HTML text and double- or single-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a path segment may not contain unencoded (RFC 3986 `pchar`, minus `%`).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']')
    .add(b'\'');

/// `text` as one percent-encoded URL path segment or query value.
pub fn url_part(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT)
        .to_string()
        .replace('&', "%26")
        .replace('=', "%3D")
        .replace('+', "%2B")
}

/// The page of an object: `/<plural>/<namespace>/<name>`.
pub fn object_href(kind: &FluxKind, namespace: &str, name: &str) -> String {
    format!(
        "/{}/{}/{}",
        kind.info.plural,
        url_part(namespace),
        url_part(name)
    )
}

/// A `<time>` element: the age (`5m ago`) with the exact time as its title.
pub fn time(t: Option<jiff::Timestamp>) -> String {
    let Some(t) = t else {
        return "<span class=\"muted\">–</span>".into();
    };
    let age = jiff::Timestamp::now().as_second() - t.as_second();
    format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        esc(&t.to_string()),
        esc(&crate::cli::table::go_local_time(&t.to_string())),
        esc(&ago(age))
    )
}

/// `42s ago`, `5m ago`, `3h ago`, `2d ago` (the page's script keeps it current).
pub fn ago(secs: i64) -> String {
    if secs < 0 {
        return "just now".into();
    }
    let (n, unit) = match secs {
        s if s < 60 => (s, "s"),
        s if s < 3600 => (s / 60, "m"),
        s if s < 86400 => (s / 3600, "h"),
        s => (s / 86400, "d"),
    };
    format!("{n}{unit} ago")
}

/// A table of `rows` under `headers`, every cell escaped (`caption` names it for screen
/// readers).
pub fn table(caption: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "<div class=\"scroll\"><table><caption class=\"sr-only\">{}</caption><thead><tr>",
        esc(caption)
    );
    for h in headers {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let label = headers.get(i).copied().unwrap_or_default();
            let _ = write!(out, "<td data-label=\"{}\">{}</td>", esc(label), esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(esc("plain-name.1"), "plain-name.1");
        assert_eq!(esc("ünïcødé"), "ünïcødé");
    }

    #[test]
    fn links_encode_their_segments() {
        let href = object_href(
            &crate::cli::kinds::KUSTOMIZATION,
            "flux-system",
            "<a b>/c?d&e",
        );
        assert_eq!(href, "/kustomizations/flux-system/%3Ca%20b%3E%2Fc%3Fd%26e");
        assert_eq!(url_part("a=b+c"), "a%3Db%2Bc");
    }

    #[test]
    fn tables_escape_cells() {
        let t = table("c", &["Name"], &[vec!["<b>".into()]]);
        assert!(t.contains("<td data-label=\"Name\">&lt;b&gt;</td>"), "{t}");
    }

    #[test]
    fn ages() {
        assert_eq!(ago(5), "5s ago");
        assert_eq!(ago(125), "2m ago");
        assert_eq!(ago(7200), "2h ago");
        assert_eq!(ago(3 * 86400), "3d ago");
        assert_eq!(ago(-3), "just now");
    }
}
