//! Infrastructure: transport failures or latency, consistent rather than intermittent, with the
//! quality of the calls that succeed unchanged. A quality failure whose minutes are not the
//! transport's is not infrastructure, however the transport fared in others.

use chrono::Duration;

use super::{
    Evidence, Pattern, StepOutcome, Verdict, hm, pct, reaches_the_lead, relative_to_onset,
};
use crate::engine::metrics::{Family, MetricId};
use crate::engine::minutes::Span;
use crate::model::ChangeKind;

/// Fewer affected minutes of the primary metric than this say too little about which minutes
/// the failure keeps to.
const MIN_MINUTES_TO_COMPARE: usize = 3;

/// Service changes named in the evidence, at most, the nearest the onset first.
const RELEASES_SHOWN: usize = 3;

/// How long before the onset a deploy, config or flag change is named: a release that breaks
/// the transport does so within minutes.
fn release_lookback() -> Duration {
    Duration::minutes(30)
}

pub(super) fn step(e: &Evidence, primary: MetricId, pattern: Option<&Pattern>) -> StepOutcome {
    let base = e
        .minutes
        .transport(Span::ending_by(e.baseline.from, e.baseline.to));
    let recent = e.minutes.transport(Span::through(e.onset, e.end));
    let base_fail = base.failed.rate().unwrap_or(0.0);
    let base_p95 = base.latency.percentile(0.95).unwrap_or(0.0);
    let summary = format!(
        "failed {} (base {}) · p95 {:.1}s (base {:.1}s)",
        pct(recent.failed.rate()),
        pct(base.failed.rate()),
        recent.latency.percentile(0.95).unwrap_or(0.0) / 1000.0,
        base_p95 / 1000.0
    );
    let transport: Vec<MetricId> = e
        .episode
        .metrics
        .iter()
        .copied()
        .filter(|m| m.family() == Family::Transport)
        .collect();
    let infra: Vec<String> = release_lines(e).into_iter().chain(infra_line(e)).collect();
    let above_limit = e.infra.iter().any(|r| r.above_limit());
    if transport.is_empty() {
        // The calls look healthy, but the team's own infrastructure metrics may see what
        // retries hide: a query over its limit keeps the step open.
        let verdict = if above_limit {
            Verdict::Suspect
        } else {
            Verdict::RuledOut
        };
        let mut lines = vec![summary, "transport metrics at baseline since onset".into()];
        lines.extend(infra);
        return (verdict, lines);
    }
    let mut minutes = 0;
    let mut affected_minutes = Vec::new();
    for (start, _, minute, _) in e.minutes.each_minute(Span::within(e.onset, e.end)) {
        minutes += 1;
        let fail = minute.failed.rate().unwrap_or(0.0);
        let p95 = minute.latency.percentile(0.95).unwrap_or(0.0);
        // The transport rates' warn limit: a quiet provider failure moves a minute by points.
        if fail >= base_fail + MetricId::Errors.limits().warn || p95 >= 1.5 * base_p95 {
            affected_minutes.push(start);
        }
    }
    let affected = affected_minutes.len();
    if minutes < 3 {
        return (
            Verdict::InsufficientData,
            [summary, format!("{minutes} full minutes since onset")]
                .into_iter()
                .chain(infra)
                .collect(),
        );
    }
    let consistent = affected * 10 >= minutes * 6;
    // Only a quality metric that went critical says the answers moved: with a detector on every
    // feature, some quality warning passes during a long episode by chance.
    let quality: Vec<&str> = e
        .episode
        .critical
        .iter()
        // Similarity, a proxy, moves by chance more often than it vetoes a consistent outage.
        .filter(|m| m.family() == Family::Quality && **m != MetricId::Similarity)
        .map(|m| m.label())
        .collect();
    let transport_pattern = format!(
        "{affected} of {minutes} min since {} affected: {}",
        hm(e.onset),
        if consistent {
            "consistent"
        } else {
            "intermittent"
        }
    );
    let quality_line = if quality.is_empty() {
        "quality of successful calls unchanged".to_string()
    } else {
        format!("quality moved too: {}", quality.join(", "))
    };
    let mut lines = vec![summary, format!("{transport_pattern}; {quality_line}")];
    // A quality failure in minutes the transport was fine is not the transport's doing.
    let apart = pattern
        .filter(|p| {
            primary.family() == Family::Quality && p.affected_minutes >= MIN_MINUTES_TO_COMPARE
        })
        .map(|p| {
            let shared = p
                .affected
                .iter()
                .filter(|m| affected_minutes.contains(m))
                .count();
            (p, shared)
        })
        .filter(|(p, shared)| shared * 2 < p.affected_minutes && !above_limit);
    let verdict = if let Some((p, shared)) = apart {
        lines.push(format!(
            "{} affected {} minutes, {shared} of them with transport failures: not the cause",
            p.metric.label(),
            p.affected_minutes
        ));
        Verdict::RuledOut
    } else if quality.is_empty() && (consistent || primary.family() == Family::Transport) {
        // A transport alarm leading with the answers unchanged is the provider's, whether it
        // comes steadily or in bursts: its detector has already told it from chance.
        Verdict::Likely
    } else if affected * 5 < minutes && !above_limit {
        // Under a fifth of the minutes affected: the transport alarm was passing, not the cause.
        Verdict::RuledOut
    } else {
        Verdict::Suspect
    };
    lines.extend(infra);
    (verdict, lines)
}

/// The deploys, config and flag changes shortly before the onset, or within its tolerance after
/// it, nearest first: "deploy api v2.2 → v2.3 at 14:14:48, 1m before onset". The triage cannot
/// see into them, but the responder can.
fn release_lines(e: &Evidence) -> Vec<String> {
    let from = e.onset - release_lookback();
    let to = e.onset + e.onset_tolerance;
    let mut releases: Vec<_> = e
        .changes
        .iter()
        .filter(|r| {
            matches!(
                r.change.kind,
                ChangeKind::Deploy | ChangeKind::ConfigChange | ChangeKind::FlagChange
            ) && !r.is_mitigation()
                && (from..=to).contains(&r.change.ts)
                && reaches_the_lead(e, r)
        })
        .collect();
    releases.sort_by_key(|r| (r.change.ts - e.onset).abs());
    releases
        .into_iter()
        .take(RELEASES_SHOWN)
        .map(|r| {
            format!(
                "{} at {}, {}",
                r.change.named(),
                r.change.ts.format("%H:%M:%S"),
                relative_to_onset(r.change.ts, e.onset)
            )
        })
        .collect()
}

/// What the infrastructure queries say, when there are any: the ones over their limits by name.
fn infra_line(e: &Evidence) -> Option<String> {
    if e.infra.is_empty() {
        return None;
    }
    let above: Vec<String> = e
        .infra
        .iter()
        .filter(|r| r.above_limit())
        .map(|r| format!("{} {} > {}", r.name, r.show(r.value), r.show(r.warn_above)))
        .collect();
    Some(if above.is_empty() {
        format!(
            "{} infrastructure queries under their limits",
            e.infra.len()
        )
    } else {
        format!("over limit: {}", above.join("; "))
    })
}
