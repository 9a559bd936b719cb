//! The JSON export: the postmortem's data as it is, pretty-printed (docs/postmortem.md).

use super::Postmortem;

pub fn render(postmortem: &Postmortem) -> String {
    let mut text =
        serde_json::to_string_pretty(postmortem).expect("a postmortem always serializes");
    text.push('\n');
    text
}
