//! A Phoenix prompt's history as changes in the contract: every version a `prompt_deploy` from
//! the one before it, with both texts for the word diff, and every move of the deploy tag that
//! a poll sees. Versions are labelled `v1`, `v2`, ... as Phoenix numbers them per prompt.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::model::{Change, ChangeKind};

/// The Phoenix id of the version a change leads to, in the change's extra fields.
pub const VERSION_ID: &str = "phoenix_version_id";
/// In the change's extra fields: the deploy tag was on the version the change leads to.
pub const TAG: &str = "tag";

/// A version as `GET /v1/prompts/{name}/versions` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedVersion {
    pub id: String,
    /// The commit message.
    #[serde(default)]
    pub description: Option<String>,
    /// `{"type": "chat", "messages": [...]}` or `{"type": "string", "template": "..."}`.
    pub template: Value,
}

/// What only Phoenix's GraphQL tells of a version: when, by whom, and its number.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionFacts {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// 1-based, per prompt.
    pub sequence: u64,
    pub author: Option<String>,
}

#[derive(Debug, Clone)]
struct KnownVersion {
    id: String,
    text: String,
}

/// What the cockpit has been told of one prompt.
#[derive(Debug)]
pub struct PromptHistory {
    name: String,
    tag: String,
    /// By sequence number.
    known: BTreeMap<u64, KnownVersion>,
    /// The Phoenix id of the version the tag was on at the last read.
    tagged: Option<String>,
    /// Whether a read placed the tag; the first read states where it is, later ones report moves.
    placed_tag: bool,
}

impl PromptHistory {
    pub fn new(name: impl Into<String>, tag: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            tag: tag.into(),
            known: BTreeMap::new(),
            tagged: None,
            placed_tag: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Whether the version with this Phoenix id was reported already.
    pub fn knows(&self, id: &str) -> bool {
        self.known.values().any(|version| version.id == id)
    }

    /// One read of the prompt at `seen_at`: the versions listed, the facts of those not known
    /// yet, and the id of the version the tag is on. A version without facts waits for the next
    /// read; so does a tag on such a version.
    pub fn read(
        &mut self,
        listed: &[ListedVersion],
        facts: &[VersionFacts],
        tagged: Option<&str>,
        seen_at: DateTime<Utc>,
    ) -> Vec<Change> {
        let mut fresh: Vec<(&ListedVersion, &VersionFacts)> = listed
            .iter()
            .filter(|version| !self.knows(&version.id))
            .filter_map(|version| {
                let facts = facts.iter().find(|facts| facts.id == version.id)?;
                Some((version, facts))
            })
            .collect();
        fresh.sort_by_key(|(_, facts)| facts.sequence);
        let mut changes: Vec<Change> = fresh
            .into_iter()
            .map(|(version, facts)| self.add_version(version, facts, tagged))
            .collect();
        if tagged.is_some_and(|id| !self.knows(id)) {
            return changes;
        }
        let tagged = tagged.map(str::to_owned);
        if self.placed_tag && tagged != self.tagged {
            changes.push(self.tag_move(self.tagged.as_deref(), tagged.as_deref(), seen_at));
        }
        self.tagged = tagged;
        self.placed_tag = true;
        changes
    }

    fn add_version(
        &mut self,
        version: &ListedVersion,
        facts: &VersionFacts,
        tagged: Option<&str>,
    ) -> Change {
        let text = template_text(&version.template);
        let before = self
            .known
            .range(..facts.sequence)
            .next_back()
            .map(|(sequence, known)| (label(*sequence), known.text.clone()));
        let (from, text_from) = before.unzip();
        let mut change = self.change(facts.created_at, from, Some(label(facts.sequence)));
        change.author = facts.author.clone();
        change.note = version.description.clone().filter(|note| !note.is_empty());
        // Where the team deploys by tag, a version the tag is not on was written, not shipped:
        // only the tag's version (at the first read) and the tag's moves are deploys.
        let is_tagged = tagged == Some(version.id.as_str());
        if tagged.is_some() && (self.placed_tag || !is_tagged) {
            change.kind = ChangeKind::ConfigChange;
            let not_deployed = format!("created, not deployed by the {} tag", self.tag);
            change.note = Some(match change.note.take() {
                Some(note) => format!("{not_deployed}: {note}"),
                None => not_deployed,
            });
        }
        change.text_from = text_from;
        change.text_to = Some(text.clone());
        change
            .extra
            .insert(VERSION_ID.into(), version.id.clone().into());
        if is_tagged {
            change.extra.insert(TAG.into(), self.tag.clone().into());
        }
        self.known.insert(
            facts.sequence,
            KnownVersion {
                id: version.id.clone(),
                text,
            },
        );
        change
    }

    fn tag_move(&self, from: Option<&str>, to: Option<&str>, seen_at: DateTime<Utc>) -> Change {
        let from = from.and_then(|id| self.version(id));
        let to = to.and_then(|id| self.version(id));
        let tag = &self.tag;
        let note = match (&from, &to) {
            (Some((old, ..)), Some((new, ..))) if new < old => format!(
                "{tag} tag moved back from {} to {}: a rollback",
                label(*old),
                label(*new)
            ),
            (Some((old, ..)), Some((new, ..))) => {
                format!("{tag} tag moved from {} to {}", label(*old), label(*new))
            }
            (None, Some((new, ..))) => format!("{tag} tag set on {}", label(*new)),
            (Some((old, ..)), None) => format!("{tag} tag removed from {}", label(*old)),
            (None, None) => format!("{tag} tag changed"),
        };
        let mut change = self.change(
            seen_at,
            from.as_ref().map(|(sequence, _)| label(*sequence)),
            to.as_ref().map(|(sequence, _)| label(*sequence)),
        );
        change.note = Some(note);
        change.text_from = from.map(|(_, version)| version.text.clone());
        if let Some((_, version)) = to {
            change.text_to = Some(version.text.clone());
            change
                .extra
                .insert(VERSION_ID.into(), version.id.clone().into());
            change.extra.insert(TAG.into(), self.tag.clone().into());
        }
        change
    }

    fn version(&self, id: &str) -> Option<(u64, &KnownVersion)> {
        self.known
            .iter()
            .find(|(_, version)| version.id == id)
            .map(|(sequence, version)| (*sequence, version))
    }

    fn change(&self, ts: DateTime<Utc>, from: Option<String>, to: Option<String>) -> Change {
        Change {
            ts,
            kind: ChangeKind::PromptDeploy,
            target: self.name.clone(),
            from,
            to,
            feature: None,
            author: None,
            note: None,
            text_from: None,
            text_to: None,
            extra: BTreeMap::new(),
        }
    }
}

fn label(sequence: u64) -> String {
    format!("v{sequence}")
}

/// The words a template sends: a chat's messages as `role: text`, one paragraph each, or a
/// string template as written; any other template as its JSON, so a diff still shows it.
pub fn template_text(template: &Value) -> String {
    match template.get("type").and_then(Value::as_str) {
        Some("chat") => template
            .get("messages")
            .and_then(Value::as_array)
            .map(|messages| {
                messages
                    .iter()
                    .map(message_text)
                    .collect::<Vec<_>>()
                    .join("\n\n")
            })
            .unwrap_or_default(),
        Some("string") => template
            .get("template")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => template.to_string(),
    }
}

/// A message's role and text; of a list of parts, the text parts (tool calls are not words).
fn message_text(message: &Value) -> String {
    let role = message
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("message");
    let text = match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|part| part.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    format!("{role}: {text}")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 14, 13, minute, 0).unwrap()
    }

    fn version(id: &str, system: &str, note: &str) -> ListedVersion {
        ListedVersion {
            id: id.into(),
            description: Some(note.into()),
            template: json!({"type": "chat", "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": [{"type": "text", "text": "{{question}}"}]}
            ]}),
        }
    }

    fn facts(id: &str, sequence: u64, minute: u32) -> VersionFacts {
        VersionFacts {
            id: id.into(),
            created_at: at(minute),
            sequence,
            author: Some("ana".into()),
        }
    }

    fn history() -> PromptHistory {
        PromptHistory::new("support-answer", "production")
    }

    #[test]
    fn the_first_read_reports_every_version_from_its_predecessor_and_marks_the_tagged_one() {
        let mut history = history();
        // Phoenix lists the newest first.
        let listed = [
            version("B", "Answer briefly.", "shorter"),
            version("A", "Answer from the docs.", "first"),
        ];
        let changes = history.read(
            &listed,
            &[facts("A", 1, 0), facts("B", 2, 30)],
            Some("A"),
            at(59),
        );
        assert_eq!(changes.len(), 2);
        let (first, second) = (&changes[0], &changes[1]);
        assert_eq!((first.transition().as_str(), first.ts), ("→ v1", at(0)));
        assert_eq!(first.text_from, None);
        assert_eq!(first.extra[TAG], "production");
        assert_eq!(first.kind, ChangeKind::PromptDeploy);
        assert_eq!(second.transition(), "v1 → v2");
        assert_eq!(second.ts, at(30));
        // The tag stayed on v1: v2 was written, not shipped, and the triage must not blame it.
        assert_eq!(second.kind, ChangeKind::ConfigChange);
        assert_eq!(second.target, "support-answer");
        assert_eq!(
            second.note.as_deref(),
            Some("created, not deployed by the production tag: shorter")
        );
        assert_eq!(second.author.as_deref(), Some("ana"));
        assert_eq!(
            second.text_from.as_deref(),
            Some("system: Answer from the docs.\n\nuser: {{question}}")
        );
        assert_eq!(
            second.text_to.as_deref(),
            Some("system: Answer briefly.\n\nuser: {{question}}")
        );
        assert_eq!(second.extra[VERSION_ID], "B");
        assert!(!second.extra.contains_key(TAG));
    }

    #[test]
    fn a_later_read_reports_only_new_versions_and_tag_moves_at_the_time_seen() {
        let mut history = history();
        let a = version("A", "one", "");
        let b = version("B", "two", "");
        history.read(
            std::slice::from_ref(&a),
            &[facts("A", 1, 0)],
            Some("A"),
            at(1),
        );
        assert_eq!(
            history.read(std::slice::from_ref(&a), &[], Some("A"), at(2)),
            []
        );

        let changes = history.read(
            &[b.clone(), a.clone()],
            &[facts("B", 2, 3)],
            Some("B"),
            at(4),
        );
        assert_eq!(changes.len(), 2);
        assert_eq!(
            (changes[0].transition().as_str(), changes[0].ts),
            ("v1 → v2", at(3))
        );
        assert_eq!(changes[0].kind, ChangeKind::ConfigChange);
        let moved = &changes[1];
        assert_eq!(moved.kind, ChangeKind::PromptDeploy);
        assert_eq!((moved.transition().as_str(), moved.ts), ("v1 → v2", at(4)));
        assert_eq!(
            moved.note.as_deref(),
            Some("production tag moved from v1 to v2")
        );

        let rollback = history.read(&[b, a], &[], Some("A"), at(9));
        assert_eq!(rollback.len(), 1);
        assert_eq!(rollback[0].transition(), "v2 → v1");
        assert_eq!(
            rollback[0].note.as_deref(),
            Some("production tag moved back from v2 to v1: a rollback")
        );
        assert_eq!(
            rollback[0].text_from.as_deref(),
            Some("system: two\n\nuser: {{question}}")
        );
        assert_eq!(
            rollback[0].text_to.as_deref(),
            Some("system: one\n\nuser: {{question}}")
        );
        assert_eq!(rollback[0].extra[TAG], "production");
    }

    #[test]
    fn without_the_tag_in_use_every_version_is_a_deploy() {
        let mut history = history();
        let listed = [version("B", "two", ""), version("A", "one", "")];
        let changes = history.read(&listed, &[facts("A", 1, 0), facts("B", 2, 5)], None, at(9));
        assert!(
            changes.iter().all(|c| c.kind == ChangeKind::PromptDeploy),
            "{changes:?}"
        );
    }

    #[test]
    fn a_removed_tag_is_a_change_to_nothing() {
        let mut history = history();
        let listed = [version("A", "one", "")];
        history.read(&listed, &[facts("A", 1, 0)], Some("A"), at(1));
        let changes = history.read(&listed, &[], None, at(2));
        assert_eq!(changes[0].transition(), "v1 →");
        assert_eq!(
            changes[0].note.as_deref(),
            Some("production tag removed from v1")
        );
        assert!(!changes[0].extra.contains_key(TAG));
    }

    #[test]
    fn a_version_without_facts_and_a_tag_on_it_wait_for_the_next_read() {
        let mut history = history();
        let a = version("A", "one", "");
        let b = version("B", "two", "");
        history.read(
            std::slice::from_ref(&a),
            &[facts("A", 1, 0)],
            Some("A"),
            at(1),
        );
        assert_eq!(
            history.read(&[b.clone(), a.clone()], &[], Some("B"), at(2)),
            []
        );
        assert!(!history.knows("B"));
        let changes = history.read(&[b, a], &[facts("B", 2, 2)], Some("B"), at(3));
        let transitions: Vec<String> = changes.iter().map(Change::transition).collect();
        assert_eq!(transitions, ["v1 → v2", "v1 → v2"]);
        assert_eq!(changes[1].ts, at(3));
    }

    #[test]
    fn renders_string_templates_and_keeps_unknown_ones_as_json() {
        let string = json!({"type": "string", "template": "Hello {{name}}"});
        assert_eq!(template_text(&string), "Hello {{name}}");
        let other = json!({"type": "audio", "clip": 3});
        assert_eq!(template_text(&other), other.to_string());
    }
}
