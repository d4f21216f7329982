//! Tables as the `flux` CLI prints them (tablewriter with tab padding and no borders): each
//! cell left-aligned and padded to its column's width, cells separated by a tab, the header
//! upper-cased with a space after its last cell, every row ending with a tab.

use unicode_width::UnicodeWidthStr;

/// tablewriter's header formatting: `_` and non-numeric `.` become spaces, trimmed,
/// upper-cased.
fn title(h: &str) -> String {
    let chars: Vec<char> = h.chars().collect();
    let num_or_space = |c: char| c.is_ascii_digit() || c == ' ';
    let out: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match c {
            '_' => ' ',
            '.' if (i != 0 && !num_or_space(chars[i - 1]))
                || (i + 1 != chars.len() && !num_or_space(chars[i + 1])) =>
            {
                ' '
            }
            c => c,
        })
        .collect();
    let trimmed = out.trim();
    if trimmed.is_empty() && !h.is_empty() {
        return " ".into();
    }
    trimmed.to_uppercase()
}

fn pad(out: &mut String, text: &str, width: usize) {
    out.push_str(text);
    for _ in text.width()..width {
        out.push(' ');
    }
}

/// Renders `rows` under `header` (no header line when `header` is empty).
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let header: Vec<String> = header.iter().map(|h| title(h)).collect();
    let columns = rows
        .iter()
        .map(Vec::len)
        .chain([header.len()])
        .max()
        .unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for (i, h) in header.iter().enumerate() {
        widths[i] = widths[i].max(h.width());
    }
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            for line in cell.split('\n') {
                widths[i] = widths[i].max(line.width());
            }
        }
    }
    let mut out = String::new();
    if !header.is_empty() {
        for (i, w) in widths.iter().enumerate() {
            pad(&mut out, header.get(i).map_or("", String::as_str), *w);
            out.push(if i + 1 == columns { ' ' } else { '\t' });
        }
        out.push('\n');
    }
    for row in rows {
        let lines: Vec<Vec<&str>> = row.iter().map(|c| c.split('\n').collect()).collect();
        let height = lines.iter().map(Vec::len).max().unwrap_or(1);
        for x in 0..height {
            for (i, w) in widths.iter().enumerate() {
                let text = lines.get(i).and_then(|l| l.get(x)).copied().unwrap_or("");
                pad(&mut out, text, *w);
                out.push('\t');
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_layout() {
        let rows = vec![
            vec!["gr-failed".into(), "".into(), "False".into()],
            vec!["gr-unknown".into(), "".into(), "False".into()],
        ];
        assert_eq!(
            render(&["Name", "Revision", "Suspended"], &rows),
            "NAME      \tREVISION\tSUSPENDED \ngr-failed \t        \tFalse    \t\ngr-unknown\t        \tFalse    \t\n"
        );
        assert_eq!(title("Last scan"), "LAST SCAN");
        assert_eq!(title("a_b.c"), "A B C");
        assert_eq!(title("1.5"), "1.5");
    }
}

/// Shortens every 40–128 character lowercase hex string (SHA-1 to SHA-512) in `s` to its
/// first 8 characters, as Flux's `TruncateHex` does for revisions and messages.
pub fn truncate_hex(s: &str) -> String {
    static HEX: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = HEX.get_or_init(|| {
        regex::Regex::new(r"(?-u:\b)[a-f0-9]{40,128}(?-u:\b)").expect("static pattern")
    });
    re.replace_all(s, |c: &regex::Captures| c[0][..8].to_owned())
        .into_owned()
}

#[cfg(test)]
mod hex_tests {
    #[test]
    fn truncates_digests_only() {
        assert_eq!(
            super::truncate_hex("main@sha1:696f056df216eea4f9401adbee0ff744d4df390f"),
            "main@sha1:696f056d"
        );
        assert_eq!(super::truncate_hex("v1.2.3"), "v1.2.3");
    }
}

/// A Kubernetes timestamp (RFC 3339) as Go's `time.Time.String()` prints it in the local
/// time zone (`2021-07-16 15:42:20 +0000 UTC`); the input when it does not parse.
pub fn go_local_time(rfc3339: &str) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(ts) => ts
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M:%S %z %Z")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}
