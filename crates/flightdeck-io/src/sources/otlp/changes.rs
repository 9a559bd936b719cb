//! `POST /v1/changes`: change records (docs/events.md §2) as a JSON array or JSON lines, from CI
//! pipelines announcing deploys, prompt and model changes. A batch is taken whole or not at all,
//! so a pipeline can fix and resend it without duplicates.

use serde_json::Value;

use crate::jsonl;
use crate::model::Change;

/// How many bad records an error names before it just counts the rest.
const NAMED: usize = 3;

/// Why a batch of change records was refused: how many records were bad, and where and why.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BadChanges {
    pub bad: usize,
    pub message: String,
}

/// The records of a body, or every bad one's place (array index or line number) and reason.
pub fn parse_changes(body: &[u8]) -> Result<Vec<Change>, BadChanges> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    if first == Some(&b'[') {
        let records: Vec<Value> = serde_json::from_slice(body).map_err(|error| BadChanges {
            bad: 1,
            message: format!("the body is not a JSON array: {error}"),
        })?;
        for (index, record) in records.into_iter().enumerate() {
            match serde_json::from_value::<Change>(record) {
                Ok(change) => changes.push(change),
                Err(error) => problems.push(format!("record {index}: {error}")),
            }
        }
    } else {
        jsonl::for_each_line(
            body,
            jsonl::DEFAULT_MAX_LINE,
            |line, parsed: Result<Change, _>| match parsed {
                Ok(change) => changes.push(change),
                Err(error) => problems.push(format!("line {line}: {error}")),
            },
        )
        .map_err(|error| BadChanges {
            bad: 1,
            message: format!("cannot read the body: {error}"),
        })?;
    }
    if problems.is_empty() {
        return Ok(changes);
    }
    let mut message = format!(
        "{} of {} change records are not valid, none taken: ",
        problems.len(),
        changes.len() + problems.len()
    );
    message.push_str(&problems[..problems.len().min(NAMED)].join("; "));
    if problems.len() > NAMED {
        message.push_str(&format!("; and {} more", problems.len() - NAMED));
    }
    Err(BadChanges {
        bad: problems.len(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChangeKind;

    const DEPLOY: &str = r#"{"ts":"2026-03-14T13:35:00Z","kind":"prompt_deploy","target":"support-answer","from":"v7","to":"v8"}"#;

    #[test]
    fn an_array_or_json_lines() {
        let array = format!("[{DEPLOY}, {DEPLOY}]");
        assert_eq!(parse_changes(array.as_bytes()).unwrap().len(), 2);
        let lines = format!("{DEPLOY}\n\n{DEPLOY}\n");
        let changes = parse_changes(lines.as_bytes()).unwrap();
        assert_eq!(changes[1].kind, ChangeKind::PromptDeploy);
        assert!(parse_changes(b"  ").unwrap().is_empty());
    }

    #[test]
    fn a_bad_record_is_named_by_index_or_line_and_field() {
        let bad = DEPLOY.replace(r#""kind":"prompt_deploy","#, "");
        let array = format!("[{DEPLOY}, {bad}]");
        let error = parse_changes(array.as_bytes()).unwrap_err().to_string();
        assert!(
            error.contains("record 1") && error.contains("missing field `kind`"),
            "{error}"
        );
        let lines = format!("{DEPLOY}\n{}\n", DEPLOY.replace("prompt_deploy", "reboot"));
        let error = parse_changes(lines.as_bytes()).unwrap_err().to_string();
        assert!(
            error.contains("line 2") && error.contains("reboot"),
            "{error}"
        );
        assert!(error.starts_with("1 of 2 change records"), "{error}");
    }
}
