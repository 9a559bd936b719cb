//! Mitigations: what they are, what a backend says one would do, and what it did.

use std::fmt;

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
    pub backend: String,
    pub target: String,
    /// The exact operation, e.g. "set live prompt version" or "PATCH /api/...".
    pub operation: String,
    pub from: String,
    pub to: String,
    /// Why it cannot be applied now, if it cannot.
    pub unavailable: Option<String>,
}

impl MitigationPlan {
    /// A plan that cannot be carried out, and why: shown in the pane, refused on its key.
    pub fn unavailable(kind: MitigationKind, backend: &str, reason: &str) -> Self {
        Self {
            kind,
            backend: backend.into(),
            target: String::new(),
            operation: String::new(),
            from: String::new(),
            to: String::new(),
            unavailable: Some(reason.into()),
        }
    }

    pub fn summary(&self) -> String {
        format!("{} {}: {} → {}", self.kind, self.target, self.from, self.to)
    }
}
