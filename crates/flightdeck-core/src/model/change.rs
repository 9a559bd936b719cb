//! A change to the AI feature, as in the public JSONL contract (docs/events.md §2).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    PromptDeploy,
    ModelChange,
    FlagChange,
    Deploy,
    ConfigChange,
    /// Not in feeds: inferred when a new value takes a large share of an attribute.
    InputMix,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PromptDeploy => "prompt",
            Self::ModelChange => "model",
            Self::FlagChange => "flag",
            Self::Deploy => "deploy",
            Self::ConfigChange => "config",
            Self::InputMix => "input mix",
        })
    }
}

/// Where the cockpit learned of a change: a feed said so, the calls themselves showed it (a new
/// value in a field), or their outputs' behaviour did (a model update that kept its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOrigin {
    Feed,
    InferredFromCalls,
    InferredFromBehaviour,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub ts: DateTime<Utc>,
    pub kind: ChangeKind,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_to: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Change {
    /// "deploy api v2.2 → v2.3": its kind, target and transition, the empty parts left out.
    pub fn named(&self) -> String {
        [
            self.kind.to_string(),
            self.target.clone(),
            self.transition(),
        ]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// "v7 → v8", "→ v8" or "" depending on what the record carries.
    pub fn transition(&self) -> String {
        match (&self.from, &self.to) {
            (Some(from), Some(to)) => format!("{from} → {to}"),
            (None, Some(to)) => format!("→ {to}"),
            (Some(from), None) => format!("{from} →"),
            (None, None) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_prompt_deploy_with_texts() {
        let line = r#"{"ts":"2026-03-14T13:35:00Z","kind":"prompt_deploy","target":"support-answer","from":"v7","to":"v8","text_from":"a b","text_to":"a"}"#;
        let change: Change = serde_json::from_str(line).unwrap();
        assert_eq!(change.kind, ChangeKind::PromptDeploy);
        assert_eq!(change.transition(), "v7 → v8");
    }

    #[test]
    fn rejects_an_unknown_kind() {
        let line = r#"{"ts":"2026-03-14T13:35:00Z","kind":"reboot","target":"x"}"#;
        assert!(serde_json::from_str::<Change>(line).is_err());
    }
}
