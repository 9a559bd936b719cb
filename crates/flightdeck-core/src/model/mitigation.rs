//! Mitigations: what they are, what a backend says one would do, and how carrying one out went.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The one-key mitigations that stop the bleeding before the root cause is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MitigationKind {
    PromptRollback,
    ModelPin,
    KillSwitch,
}

impl MitigationKind {
    pub const ALL: [MitigationKind; 3] = [Self::PromptRollback, Self::ModelPin, Self::KillSwitch];

    /// Its name in files and on the wire (`[mitigations.kill_switch]`, a webhook's `action`),
    /// the same as its serde name.
    pub fn key(self) -> &'static str {
        match self {
            Self::PromptRollback => "prompt_rollback",
            Self::ModelPin => "model_pin",
            Self::KillSwitch => "kill_switch",
        }
    }
}

impl fmt::Display for MitigationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PromptRollback => "prompt rollback",
            Self::ModelPin => "model pin",
            Self::KillSwitch => "kill switch",
        })
    }
}

/// What a backend says a mitigation would do right now, read from its current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MitigationPlan {
    pub kind: MitigationKind,
    /// The backend's name as the config gives it: "unleash", "phoenix", "flagd file", ...
    pub backend: String,
    /// What is changed, e.g. "flag support-ai in production".
    pub target: String,
    /// The exact operation: method and path, or the file written.
    pub operation: String,
    /// The current state and the state after, as a person reads them.
    pub from: String,
    pub to: String,
    /// The backend's own names for the two states (a version id, a variant, a payload): what
    /// the apply sends and the read-back compares.
    pub from_id: String,
    pub to_id: String,
    /// States the user may pick instead of `to` (older prompt versions), newest first.
    pub choices: Vec<PlanChoice>,
    /// The current state's text (a prompt's), for the picker's word diff.
    pub from_text: Option<String>,
    /// Confirming asks for this name to be typed, because the target is production.
    pub confirm_name: Option<String>,
    /// This plan puts back what the last mitigation changed.
    pub undo: bool,
    /// Why it cannot be applied now, if it cannot.
    pub unavailable: Option<String>,
    /// The backend's state the plan was read from, where applying and previewing it need more
    /// than the ids (Unleash's first strategy, written back whole): the plan the user confirmed
    /// carries it, so no backend keeps it between the read and the apply.
    pub read_state: Option<serde_json::Value>,
}

/// A state the user may pick as a plan's target, such as one prompt version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanChoice {
    /// As a person reads it, e.g. "v3".
    pub label: String,
    /// The backend's id, which becomes the plan's `to_id`.
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    /// The state's text (a prompt's template), for the word diff against the current one.
    pub text: Option<String>,
    /// The operation that moves to this state.
    pub operation: String,
}

impl MitigationPlan {
    /// A plan with only its kind and backend; backends fill in the rest.
    pub fn new(kind: MitigationKind, backend: &str) -> Self {
        Self {
            kind,
            backend: backend.into(),
            target: String::new(),
            operation: String::new(),
            from: String::new(),
            to: String::new(),
            from_id: String::new(),
            to_id: String::new(),
            choices: Vec::new(),
            from_text: None,
            confirm_name: None,
            undo: false,
            unavailable: None,
            read_state: None,
        }
    }

    /// A plan that cannot be carried out, and why: shown in the pane, refused on its key.
    pub fn unavailable(kind: MitigationKind, backend: &str, reason: &str) -> Self {
        Self {
            unavailable: Some(reason.into()),
            ..Self::new(kind, backend)
        }
    }

    /// The same plan aimed at `choices[index]` instead; unchanged if there is no such choice.
    pub fn choose(&self, index: usize) -> Self {
        let Some(choice) = self.choices.get(index) else {
            return self.clone();
        };
        Self {
            to: choice.label.clone(),
            to_id: choice.id.clone(),
            operation: choice.operation.clone(),
            ..self.clone()
        }
    }

    /// Which choice the plan aims at now, if it aims at one.
    pub fn chosen(&self) -> Option<usize> {
        self.choices.iter().position(|c| c.id == self.to_id)
    }

    /// The plan that puts back what this one changed, by `operation`: from and to swapped, as an
    /// undo with nothing to choose. The state this plan was read from is not the undo's.
    pub fn reversed(&self, operation: String) -> Self {
        Self {
            operation,
            from: self.to.clone(),
            to: self.from.clone(),
            from_id: self.to_id.clone(),
            to_id: self.from_id.clone(),
            choices: Vec::new(),
            from_text: None,
            undo: true,
            unavailable: None,
            read_state: None,
            ..self.clone()
        }
    }

    /// What the mitigation is called in messages and the timeline: "undo kill switch" for an undo.
    pub fn action(&self) -> String {
        if self.undo {
            format!("undo {}", self.kind)
        } else {
            self.kind.to_string()
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "{} {}: {} → {}",
            self.action(),
            self.target,
            self.from,
            self.to
        )
    }
}

/// How carrying out a confirmed plan went, stage by stage, as the actuator reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MitigationStage {
    /// The backend accepted the change; its answer, e.g. "POST /api/... → 200 OK". From here
    /// on, `undo` puts back what was changed, whatever the read-back says.
    Applied {
        answer: String,
        undo: Option<Box<MitigationPlan>>,
    },
    /// The state read back agrees with the plan.
    Verified { read_back: String },
    /// Nothing can read the state back (a webhook): the backend's answer is the only evidence.
    Unverified { why: String },
    /// It failed here, with the reason; nothing further was tried.
    Failed { reason: String },
    /// `--dry-run`: exactly what would have been sent, and nothing was.
    DryRun { request: String },
}

impl MitigationStage {
    /// The stage with every text from the backend passed through `mask`.
    pub fn masked(self, mask: impl Fn(&str) -> String) -> Self {
        match self {
            Self::Applied { answer, undo } => Self::Applied {
                answer: mask(&answer),
                undo,
            },
            Self::Verified { read_back } => Self::Verified {
                read_back: mask(&read_back),
            },
            Self::Unverified { why } => Self::Unverified { why: mask(&why) },
            Self::Failed { reason } => Self::Failed {
                reason: mask(&reason),
            },
            Self::DryRun { request } => Self::DryRun {
                request: mask(&request),
            },
        }
    }

    /// Whether carrying out the plan is over.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Applied { .. })
    }
}

/// The refusal when the state read again just before a write is not the one confirmed.
pub fn state_moved(now: &str) -> String {
    format!("the state moved since it was confirmed: now {now}; nothing was changed")
}

/// Whether a name (an environment, a tag, a label) looks like production, where confirming a
/// mitigation asks for the target's name to be typed.
pub fn is_production_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "prod" || name.starts_with("prod-") || name.starts_with("production")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_with_versions() -> MitigationPlan {
        let choice = |label: &str, id: &str| PlanChoice {
            label: label.into(),
            id: id.into(),
            created_at: None,
            text: None,
            operation: format!("POST /v1/prompt_versions/{id}/tags"),
        };
        MitigationPlan {
            from: "v3".into(),
            from_id: "c".into(),
            to: "v2".into(),
            to_id: "b".into(),
            operation: "POST /v1/prompt_versions/b/tags".into(),
            choices: vec![choice("v2", "b"), choice("v1", "a")],
            ..MitigationPlan::new(MitigationKind::PromptRollback, "phoenix")
        }
    }

    #[test]
    fn choosing_a_version_aims_the_plan_and_its_operation_at_it() {
        let plan = plan_with_versions();
        assert_eq!(plan.chosen(), Some(0));
        let older = plan.choose(1);
        assert_eq!((older.to.as_str(), older.to_id.as_str()), ("v1", "a"));
        assert_eq!(older.operation, "POST /v1/prompt_versions/a/tags");
        assert_eq!(older.chosen(), Some(1));
        assert_eq!(plan.choose(7), plan);
    }

    #[test]
    fn the_key_is_the_serde_name() {
        for kind in MitigationKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.key());
        }
    }

    #[test]
    fn production_names() {
        for name in [
            "production",
            "prod",
            "Production",
            "prod-eu",
            "production-us",
        ] {
            assert!(is_production_name(name), "{name}");
        }
        for name in ["staging", "development", "preprod", "products"] {
            assert!(!is_production_name(name), "{name}");
        }
    }
}
