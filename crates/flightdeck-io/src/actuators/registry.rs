//! What the prompt registries (Phoenix, Langfuse) share: a prompt's versions as a rollback plan
//! that moves the deploy tag or label, its undo, and the words for a state that moved.

use chrono::{DateTime, Utc};

use super::ActuatorError;
use crate::model::mitigation::{PlanChoice, is_production_name};
use crate::model::{MitigationKind, MitigationPlan};

/// One version of a prompt as a registry gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PromptVersion {
    /// The registry's id, which the apply sends and the read-back compares.
    pub id: String,
    /// 1-based, per prompt, in creation order.
    pub number: u64,
    pub created_at: Option<DateTime<Utc>>,
    pub text: Option<String>,
}

impl PromptVersion {
    /// "v3 · 2026-11-29 14:02" (UTC), or "v3" when the registry gives no date.
    pub fn label(&self) -> String {
        match self.created_at {
            Some(at) => format!("v{} · {}", self.number, at.format("%Y-%m-%d %H:%M")),
            None => format!("v{}", self.number),
        }
    }
}

/// Where a rollback happens: which backend, which prompt, and the tag or label it moves.
pub(crate) struct Pointer<'a> {
    pub backend: &'a str,
    pub prompt: &'a str,
    /// "tag" (Phoenix) or "label" (Langfuse).
    pub noun: &'a str,
    pub name: &'a str,
    /// The config's override of whether this is production.
    pub production: Option<bool>,
}

impl Pointer<'_> {
    /// "prompt support-answer, tag production".
    pub fn target(&self) -> String {
        format!("prompt {}, {} {}", self.prompt, self.noun, self.name)
    }

    /// A plan naming the target that cannot be carried out, and why.
    pub fn unavailable(&self, reason: String) -> MitigationPlan {
        MitigationPlan {
            target: self.target(),
            ..MitigationPlan::unavailable(MitigationKind::PromptRollback, self.backend, &reason)
        }
    }

    /// The plan that moves the pointer off `current` to the version before it (or, when it is on
    /// the oldest, to the newest other one), with every version in `others` as a choice, newest
    /// first. `operation` gives the request that moves the pointer to a version id.
    pub fn rollback(
        &self,
        current: &PromptVersion,
        others: &[PromptVersion],
        operation: impl Fn(&str) -> String,
    ) -> MitigationPlan {
        let mut others: Vec<&PromptVersion> =
            others.iter().filter(|v| v.id != current.id).collect();
        others.sort_by_key(|version| std::cmp::Reverse(version.number));
        let Some(target) = others
            .iter()
            .find(|v| v.number < current.number)
            .or(others.first())
        else {
            return self.unavailable(format!(
                "{} has only {}: there is no other version to move the {} {} to",
                self.prompt,
                current.label(),
                self.noun,
                self.name
            ));
        };
        let choices = others
            .iter()
            .map(|version| PlanChoice {
                label: version.label(),
                id: version.id.clone(),
                created_at: version.created_at,
                text: version.text.clone(),
                operation: operation(&version.id),
            })
            .collect();
        MitigationPlan {
            target: self.target(),
            operation: operation(&target.id),
            from: current.label(),
            to: target.label(),
            from_id: current.id.clone(),
            to_id: target.id.clone(),
            choices,
            from_text: current.text.clone(),
            confirm_name: self.confirm_name(),
            ..MitigationPlan::new(MitigationKind::PromptRollback, self.backend)
        }
    }

    /// The prompt's name to type when confirming, if the pointer is production.
    fn confirm_name(&self) -> Option<String> {
        self.production
            .unwrap_or_else(|| is_production_name(self.name))
            .then(|| self.prompt.to_owned())
    }

    /// The refusal when the pointer is on `now` (e.g. "v4 · …") instead of the confirmed version.
    pub fn moved(&self, now: Option<String>) -> ActuatorError {
        ActuatorError::MovedSinceRead {
            now: now
                .unwrap_or_else(|| format!("no version carries the {} {}", self.noun, self.name)),
        }
    }
}

/// The plan that moves the pointer back to where `applied` found it; None for a plan that could
/// not be applied.
pub(crate) fn undo(
    applied: &MitigationPlan,
    operation: impl Fn(&str) -> String,
) -> Option<MitigationPlan> {
    if applied.unavailable.is_some() || applied.from_id.is_empty() {
        return None;
    }
    let chosen_text = applied
        .choices
        .iter()
        .find(|choice| choice.id == applied.to_id)
        .and_then(|choice| choice.text.clone());
    Some(MitigationPlan {
        from_text: chosen_text,
        ..applied.reversed(operation(&applied.from_id))
    })
}

/// How a person reads the version with this id, as far as the plan knows it; else the id.
pub(crate) fn known_label(plan: &MitigationPlan, id: &str) -> String {
    if id == plan.from_id {
        return plan.from.clone();
    }
    if id == plan.to_id {
        return plan.to.clone();
    }
    plan.choices
        .iter()
        .find(|choice| choice.id == id)
        .map_or_else(|| format!("version {id}"), |choice| choice.label.clone())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn version(number: u64) -> PromptVersion {
        PromptVersion {
            id: format!("id{number}"),
            number,
            created_at: Some(
                Utc.with_ymd_and_hms(2026, 11, 29, 14, number as u32, 0)
                    .unwrap(),
            ),
            text: Some(format!("text {number}")),
        }
    }

    fn pointer(name: &str, production: Option<bool>) -> Pointer<'_> {
        Pointer {
            backend: "phoenix",
            prompt: "support-answer",
            noun: "tag",
            name,
            production,
        }
    }

    fn operation(id: &str) -> String {
        format!("POST /v1/prompt_versions/{id}/tags")
    }

    #[test]
    fn rolls_back_to_the_version_before_and_offers_every_other_newest_first() {
        let versions = [version(1), version(4), version(2), version(3)];
        let plan = pointer("production", None).rollback(&versions[3], &versions, operation);
        assert_eq!(plan.target, "prompt support-answer, tag production");
        assert_eq!(
            (plan.from.as_str(), plan.from_id.as_str()),
            ("v3 · 2026-11-29 14:03", "id3")
        );
        assert_eq!(
            (plan.to.as_str(), plan.to_id.as_str()),
            ("v2 · 2026-11-29 14:02", "id2")
        );
        assert_eq!(plan.operation, "POST /v1/prompt_versions/id2/tags");
        assert_eq!(plan.from_text.as_deref(), Some("text 3"));
        let labels: Vec<&str> = plan.choices.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "v4 · 2026-11-29 14:04",
                "v2 · 2026-11-29 14:02",
                "v1 · 2026-11-29 14:01"
            ]
        );
        assert_eq!(plan.chosen(), Some(1));
        assert_eq!(plan.choices[2].text.as_deref(), Some("text 1"));
        assert_eq!(
            plan.choices[2].operation,
            "POST /v1/prompt_versions/id1/tags"
        );
        assert_eq!(plan.confirm_name.as_deref(), Some("support-answer"));
        assert_eq!(plan.unavailable, None);
    }

    #[test]
    fn on_the_oldest_version_it_aims_at_the_newest_other() {
        let versions = [version(2), version(1)];
        let plan = pointer("production", None).rollback(&versions[1], &versions, operation);
        assert_eq!(plan.to_id, "id2");
    }

    #[test]
    fn a_single_version_cannot_be_rolled_back() {
        let only = [version(1)];
        let plan = pointer("production", None).rollback(&only[0], &only, operation);
        assert_eq!(
            plan.unavailable.as_deref(),
            Some(
                "support-answer has only v1 · 2026-11-29 14:01: there is no other version to \
                 move the tag production to"
            )
        );
        assert_eq!(plan.target, "prompt support-answer, tag production");
    }

    #[test]
    fn confirmation_follows_the_name_unless_the_config_says_otherwise() {
        let versions = [version(2), version(1)];
        let confirm = |name, production| {
            pointer(name, production)
                .rollback(&versions[0], &versions, operation)
                .confirm_name
        };
        assert_eq!(confirm("staging", None), None);
        assert_eq!(
            confirm("staging", Some(true)).as_deref(),
            Some("support-answer")
        );
        assert_eq!(confirm("production", Some(false)), None);
    }

    #[test]
    fn the_undo_moves_the_pointer_back_with_the_chosen_text() {
        let versions = [version(3), version(2), version(1)];
        let plan = pointer("production", None)
            .rollback(&versions[0], &versions, operation)
            .choose(1);
        let undo = undo(&plan, operation).unwrap();
        assert!(undo.undo);
        assert_eq!((undo.from_id.as_str(), undo.to_id.as_str()), ("id1", "id3"));
        assert_eq!(undo.from, plan.to);
        assert_eq!(undo.to, plan.from);
        assert_eq!(undo.operation, "POST /v1/prompt_versions/id3/tags");
        assert_eq!(undo.from_text.as_deref(), Some("text 1"));
        assert!(undo.choices.is_empty());
        assert_eq!(undo.confirm_name, plan.confirm_name);
        assert_eq!(known_label(&plan, "id2"), "v2 · 2026-11-29 14:02");
        assert_eq!(known_label(&plan, "zz"), "version zz");
        let unavailable = pointer("production", None).unavailable("down".into());
        assert_eq!(super::undo(&unavailable, operation), None);
    }
}
