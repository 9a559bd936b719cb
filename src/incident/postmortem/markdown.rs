//! The postmortem as Markdown, the document a team files.

use super::Postmortem;
use super::sections::{Block, Span, blocks};

/// A table cell: pipes escaped and line breaks kept as `<br>`.
fn cell(value: &str) -> String {
    value.replace('|', "\\|").replace('\n', "<br>")
}

fn spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|span| match span {
            Span::Text(text) => text.clone(),
            Span::Strong(text) => format!("**{text}**"),
            Span::Emphasis(text) => format!("_{text}_"),
        })
        .collect()
}

pub fn render(postmortem: &Postmortem) -> String {
    let mut out = Vec::new();
    for block in blocks(postmortem) {
        out.push(match block {
            Block::Title(text) => format!("# {text}"),
            Block::Heading(text) => format!("## {text}"),
            Block::Subheading(text) => format!("### {text}"),
            Block::Paragraph(parts) => spans(&parts),
            Block::List(items) => items
                .iter()
                .map(|item| format!("- {}", item.replace('\n', " ")))
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
