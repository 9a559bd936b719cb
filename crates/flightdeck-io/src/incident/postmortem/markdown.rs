//! The postmortem as Markdown, the document a team files.

use super::Postmortem;
use super::sections::{Block, Span, blocks};

/// Text with the characters that start HTML escaped, so a quoted `<script>` renders as text (GitHub
/// and most renderers pass raw HTML through).
fn text(value: &str) -> String {
    crate::visible::escaped(value)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A table cell: HTML and pipes escaped, and line breaks kept as `<br>`.
fn cell(value: &str) -> String {
    text(value).replace('|', "\\|").replace('\n', "<br>")
}

fn spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|span| match span {
            Span::Text(t) => text(t),
            Span::Strong(t) => format!("**{}**", text(t)),
            Span::Emphasis(t) => format!("_{}_", text(t)),
        })
        .collect()
}

pub fn render(postmortem: &Postmortem) -> String {
    let mut out = Vec::new();
    for block in blocks(postmortem) {
        out.push(match block {
            Block::Title(t) => format!("# {}", text(&t)),
            Block::Heading(t) => format!("## {}", text(&t)),
            Block::Subheading(t) => format!("### {}", text(&t)),
            Block::Paragraph(parts) => spans(&parts),
            Block::Code(quoted) => {
                // A fence longer than any run of backticks inside, so none can close it.
                let longest = quoted.split(|c| c != '`').map(str::len).max().unwrap_or(0);
                let fence = "`".repeat(longest.max(2) + 1);
                format!("{fence}text\n{quoted}\n{fence}")
            }
            Block::List(items) => items
                .iter()
                .map(|item| format!("- {}", text(item).replace('\n', " ")))
                .collect::<Vec<_>>()
                .join("\n"),
            Block::Table { headers, rows } => {
                let mut lines = vec![
                    format!("| {} |", headers.join(" | ")),
                    format!("|{}", "---|".repeat(headers.len())),
                ];
                lines.extend(rows.iter().map(|row| {
                    let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
                    format!("| {} |", cells.join(" | "))
                }));
                lines.join("\n")
            }
            Block::Charts => continue,
        });
    }
    let mut text = out.join("\n\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_cell_or_text_renders_as_text() {
        assert_eq!(
            cell("<script>alert(1)</script> a|b & c\nd"),
            "&lt;script&gt;alert(1)&lt;/script&gt; a\\|b &amp; c<br>d"
        );
        assert_eq!(text("p95 > 2s"), "p95 &gt; 2s");
    }
}
