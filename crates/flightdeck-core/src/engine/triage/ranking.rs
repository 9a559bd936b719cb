//! From the steps' verdicts to a ranked category with a confidence, and the first mitigation.

use serde::Serialize;

use super::{Category, Evidence, Headline, Step, Verdict, candidates, dominant, model};
use crate::engine::minutes::Span;
use crate::engine::observation::Dimension;
use crate::model::{ChangeKind, MitigationKind};

/// A category with the share of the evidence that points to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub category: Category,
    pub confidence: f64,
}

/// The mitigation that stops the bleeding for the leading category, with its target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub kind: MitigationKind,
    /// The prompt, model alias or feature it acts on.
    pub target: String,
    /// The version or snapshot to go back to, when there is one.
    pub to: Option<String>,
    /// "roll back prompt support-answer to v7".
    pub text: String,
}

/// How strongly a verdict points to its category; a likely step outweighs all the others.
fn weight(verdict: Verdict) -> f64 {
    match verdict {
        Verdict::Likely => 6.0,
        Verdict::Suspect => 2.0,
        Verdict::InsufficientData => 1.0,
        Verdict::RuledOut => 0.1,
    }
}

/// Categories by weight, ties in the tree's order, with confidences that sum to one.
pub(super) fn rank(steps: &[Step]) -> Vec<Ranked> {
    let total: f64 = steps.iter().map(|s| weight(s.verdict)).sum();
    let mut ranking: Vec<Ranked> = steps
        .iter()
        .map(|s| Ranked {
            category: s.category,
            confidence: weight(s.verdict) / total,
        })
        .collect();
    ranking.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    ranking
}

/// The first mitigation once the leading category is likely; when nothing explains the failure,
/// the kill switch, the one mitigation that needs no cause.
pub(super) fn recommend(
    e: &Evidence,
    steps: &[Step],
    headline: &Headline,
) -> Option<Recommendation> {
    let leading = match headline {
        Headline::Cause(leading) => leading,
        Headline::Unexplained { .. } => {
            let (target, text) = kill_switch(e)?;
            return Some(Recommendation {
                kind: MitigationKind::KillSwitch,
                target,
                to: None,
                text: format!("{text} while the cause is unknown"),
            });
        }
        Headline::InsufficientData { .. } => return None,
    };
    let step = steps.iter().find(|s| s.category == leading.category)?;
    if step.verdict != Verdict::Likely {
        return None;
    }
    let kind = leading.category.first_mitigation();
    let release = |kind, window| candidates(e, kind, window).last();
    let (target, to, text) = match leading.category {
        Category::Prompt => {
            let change = &release(ChangeKind::PromptDeploy, e.prompt_window)?.change;
            let to = change.from.clone()?;
            let text = format!("roll back prompt {} to {to}", change.target);
            (change.target.clone(), Some(to), text)
        }
        Category::Model => {
            let change = &release(ChangeKind::ModelChange, model::model_window())?.change;
            let to = change.from.clone()?;
            let text = format!("pin {} to {to}", change.target);
            (change.target.clone(), Some(to), text)
        }
        Category::Infrastructure | Category::Data => {
            let (feature, text) = kill_switch(e)?;
            (feature, None, text)
        }
    };
    Some(Recommendation {
        kind,
        target,
        to,
        text,
    })
}

/// The kill switch for the feature with the most calls since the onset, and its line.
fn kill_switch(e: &Evidence) -> Option<(String, String)> {
    let feature = dominant(e, Dimension::Feature, Span::through(e.onset, e.end))?.to_string();
    let text = format!("kill switch for {feature}: serve the fallback");
    Some((feature, text))
}
