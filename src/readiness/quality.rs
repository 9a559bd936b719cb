//! "Hallucination rate, refusal rate and structured-output compliance are instrumented, with
//! baselines and alert thresholds": the thresholds from [alerts], the instrumentation and the
//! baseline from the calls actually arriving.

use super::facts::{CallFacts, Telemetry};
use super::{Findings, Item};
use crate::config::file::{AlertsConfig, ConfigFile};

pub const ID: &str = "quality_signals";
const TITLE: &str = "Hallucination, refusal and schema compliance are measured, with baselines and alert thresholds";

/// Which side of its threshold a metric alerts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Above,
    Below,
}

/// One quality metric: its [alerts] key and threshold, how a call measures it, and what to do
/// without it.
struct Metric {
    key: &'static str,
    threshold: fn(&AlertsConfig) -> Option<f64>,
    side: Side,
    /// The call's verdict: true counts toward the rate (hallucinated, refused, compliant).
    read: fn(&CallFacts) -> Option<bool>,
    /// How to get calls measured when none are.
    instrument: &'static str,
}

const METRICS: [Metric; 3] = [
    Metric {
        key: "hallucination_rate",
        threshold: |alerts| alerts.hallucination_rate,
        side: Side::Above,
        read: |call| call.hallucinated,
        instrument: "Run an online hallucination evaluator and send its verdict with each call \
                     (evals.hallucination, or the gen_ai.evaluation.result log event; docs/events.md).",
    },
    Metric {
        key: "refusal_rate",
        threshold: |alerts| alerts.refusal_rate,
        side: Side::Above,
        read: |call| call.refused,
        instrument: "Send each call's answer (output) so refusals can be read, or a refusal \
                     evaluator's verdict (evals.refusal).",
    },
    Metric {
        key: "schema_compliance",
        threshold: |alerts| alerts.schema_compliance,
        side: Side::Below,
        read: |call| call.schema_compliant,
        instrument: "Name each feature's output_schema in [[features]] (with the file under \
                     [schemas]) and send the answer (output) with each call.",
    },
];

pub fn item(config: &ConfigFile, telemetry: &Result<Telemetry, String>) -> Item {
    let mut findings = Findings::default();
    for metric in &METRICS {
        let set = (metric.threshold)(&config.alerts);
        match set {
            None => findings.fail(
                format!("[alerts] sets no {} threshold", metric.key),
                "Set the alert thresholds in [alerts] (absolute rates in 0..1: \
                 hallucination_rate and refusal_rate alert above, schema_compliance below).",
            ),
            Some(value) if !(0.0..=1.0).contains(&value) => findings.fail(
                format!("[alerts] {} = {value} is not a rate in 0..1", metric.key),
                "Give the [alerts] thresholds as rates in 0..1, e.g. 0.05 for 5%.",
            ),
            Some(_) => {}
        }
        // An invalid threshold has failed above; the measurement is not judged against it.
        let threshold = set.filter(|value| (0.0..=1.0).contains(value));
        match telemetry {
            Ok(telemetry) if !telemetry.calls.is_empty() => {
                measured(&mut findings, metric, threshold, telemetry)
            }
            Ok(telemetry) => findings.unknown(
                format!(
                    "{}: no calls to measure {} on",
                    telemetry.source, metric.key
                ),
                "Send the feature's calls to the configured telemetry source.",
            ),
            Err(reason) => findings.unknown(
                format!("{}: recent telemetry not read: {reason}", metric.key),
                super::unread_telemetry_fix(config),
            ),
        }
    }
    findings.item(ID, TITLE)
}

/// The metric's coverage and baseline in the recent calls, against its threshold.
fn measured(
    findings: &mut Findings,
    metric: &Metric,
    threshold: Option<f64>,
    telemetry: &Telemetry,
) {
    let verdicts: Vec<bool> = telemetry.calls.iter().filter_map(metric.read).collect();
    let total = telemetry.calls.len();
    if verdicts.is_empty() {
        findings.fail(
            format!(
                "{}: none of the {total} calls in {} is measured",
                metric.key, telemetry.source
            ),
            metric.instrument,
        );
        return;
    }
    let baseline = verdicts.iter().filter(|v| **v).count() as f64 / verdicts.len() as f64;
    let coverage = format!(
        "{}: measured on {} of {total} calls ({:.0}%) in {}, baseline {baseline:.3}",
        metric.key,
        verdicts.len(),
        100.0 * verdicts.len() as f64 / total as f64,
        telemetry.source
    );
    let Some(threshold) = threshold else {
        findings.pass(coverage);
        return;
    };
    let breached = match metric.side {
        Side::Above => baseline > threshold,
        Side::Below => baseline < threshold,
    };
    let side = match metric.side {
        Side::Above => "above",
        Side::Below => "below",
    };
    if breached {
        findings.fail(
            format!("{coverage}, already {side} the alert threshold {threshold}"),
            "Set each threshold past the healthy baseline, or it pages all the time; if the \
             baseline itself is the problem, that is an incident.",
        );
    } else {
        findings.pass(format!("{coverage}, alert {side} {threshold}"));
    }
}
