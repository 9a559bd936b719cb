//! The self-contained HTML document around a postmortem: one file that opens, reads and prints
//! the same anywhere, because nothing in it can load from outside.

/// Escapes text for HTML and SVG, in element content and in quoted attribute values alike, so one
/// function serves every place a caller's words go.
pub fn escape(text: &str) -> String {
    let text = crate::visible::escaped(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escaped text whose line breaks (a multi-line note) are kept as `<br>`.
pub fn escape_lines(text: &str) -> String {
    escape(text).replace('\n', "<br>")
}

/// System fonts only (nothing to fetch); print drops the tints and keeps charts and tables whole
/// on a page.
const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  line-height: 1.5; color: #1a1a1a; background: #fff; max-width: 960px; margin: 0 auto; padding: 24px; }
h1, h2, h3 { line-height: 1.25; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; }
th, td { border: 1px solid #999; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eee; }
figure { margin: 1em 0; }
svg { display: block; width: 100%; height: auto; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; }
@page { margin: 15mm; }
@media print {
  body { max-width: none; padding: 0; color: #000; background: none; }
  th { background: none; }
  a { color: #000; }
  figure, svg, table, tr { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
}
"#;

/// A whole HTML document: `title` is text (escaped here), `body` is markup the caller built from
/// escaped parts. The Content-Security-Policy lets no script, font, frame or remote image load.
pub fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n",
        escape(title)
    )
}

/// A table of plain text: every header and cell is escaped here, so callers pass their words as
/// they are (and cannot put markup in a cell); a cell's line breaks are kept. A row shorter than the headers leaves its last
/// columns empty.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table>\n<thead><tr>");
    for header in headers {
        out.push_str(&format!("<th>{}</th>", escape(header)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str(&format!("<td>{}</td>", escape_lines(cell)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_both_quotes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & Jerry's</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
        assert_eq!(escape("plain, ünïcode"), "plain, ünïcode");
        assert_eq!(
            escape_lines("<b>one</b>\ntwo"),
            "&lt;b&gt;one&lt;/b&gt;<br>two"
        );
    }

    #[test]
    fn the_document_is_self_contained_and_escapes_its_title() {
        let html = document("p99 < 2s & \"ok\"", "<p>body</p>");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(
            html.contains(
                "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\""
            )
        );
        assert!(html.contains("<title>p99 &lt; 2s &amp; &quot;ok&quot;</title>"));
        assert!(html.contains("<body>\n<p>body</p>\n</body>"));
        assert!(html.contains("@media print"));
        assert!(html.contains("break-inside: avoid"));
        assert!(
            html.contains("h2, h3 { break-after: avoid; }"),
            "a heading stays with its section"
        );
        for external in ["<script", "<link", "@import", "url(", "http://", "https://"] {
            assert!(
                !html.contains(external),
                "{external} would load from outside"
            );
        }
    }

    #[test]
    fn a_table_escapes_headers_and_cells() {
        let html = table(
            &["what", "a<b"],
            &[
                vec!["rollback".into(), "x & y".into()],
                vec!["<script>".into()],
            ],
        );
        assert!(html.contains("<th>what</th><th>a&lt;b</th>"));
        assert!(html.contains("<tr><td>rollback</td><td>x &amp; y</td></tr>"));
        assert!(html.contains("<tr><td>&lt;script&gt;</td></tr>"));
    }
}
