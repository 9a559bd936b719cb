//! The four root-cause categories of an AI incident, each with its own owner and first fix.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::MitigationKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Infrastructure,
    Model,
    Prompt,
    Data,
}

impl Category {
    pub const ORDER: [Category; 4] = [Self::Infrastructure, Self::Model, Self::Prompt, Self::Data];

    /// The mitigation that stops the bleeding for this category before the root cause is fixed.
    pub fn first_mitigation(self) -> MitigationKind {
        match self {
            Self::Prompt => MitigationKind::PromptRollback,
            Self::Model => MitigationKind::ModelPin,
            Self::Data | Self::Infrastructure => MitigationKind::KillSwitch,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Self::Infrastructure => "infrastructure",
            Self::Model => "model",
            Self::Prompt => "prompt",
            Self::Data => "data",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Infrastructure => "Infrastructure",
            Self::Model => "Model",
            Self::Prompt => "Prompt",
            Self::Data => "Data",
        })
    }
}

impl FromStr for Category {
    type Err = String;

    /// Reads a category's key, in any case, as a user types it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim().to_ascii_lowercase();
        Self::ORDER
            .into_iter()
            .find(|c| c.key() == text || (text.len() >= 3 && c.key().starts_with(&text)))
            .ok_or_else(|| {
                format!("{text:?} is not a category: model, prompt, data or infrastructure")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_category_reads_from_its_key_or_a_prefix_in_any_case() {
        assert_eq!("Prompt".parse(), Ok(Category::Prompt));
        assert_eq!("infra".parse(), Ok(Category::Infrastructure));
        assert!("mo".parse::<Category>().is_err());
        assert!(
            "weather"
                .parse::<Category>()
                .unwrap_err()
                .contains("model, prompt")
        );
    }
}
