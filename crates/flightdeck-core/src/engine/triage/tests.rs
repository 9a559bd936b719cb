//! The triage's rules on synthetic streams: thirty calls a minute, a healthy baseline from 13:00
//! to 14:00, a failure from 14:15, and the evidence taken up to 14:48.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::*;
use crate::engine::changes::ChangeRecord;
use crate::model::{Call, Change, ChangeOrigin};

const ONSET_MINUTE: i64 = 75;
const END_MINUTE: i64 = 108;
const CALLS_PER_MINUTE: i64 = 30;

fn at(minute: i64, second: i64) -> DateTime<Utc> {
    "2026-03-14T13:00:00Z".parse::<DateTime<Utc>>().unwrap()
        + Duration::minutes(minute)
        + Duration::seconds(second)
}

/// A seeded coin: the same stream every run, without the regularity of `i % k`.
struct Coin(u64);

impl Coin {
    fn flip(&mut self, p: f64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 / (1_u64 << 53) as f64) < p
    }
}

/// One call as a test describes it; the rest of the call is the same for all.
struct Spec {
    feature: &'static str,
    version: &'static str,
    status: &'static str,
    hallucinated: bool,
    labelled: bool,
    served: Option<&'static str>,
    tenant: Option<&'static str>,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            feature: "support-answer",
            version: "v7",
            status: "ok",
            hallucinated: false,
            labelled: true,
            served: None,
            tenant: None,
        }
    }
}

struct Stream {
    interner: Interner,
    minutes: MinuteCounts,
    observations: VecDeque<Observation>,
    changes: Vec<ChangeRecord>,
}

impl Stream {
    /// Calls from 13:00 to 14:48, two seconds apart; `each(minute, index, coin)` describes each.
    fn new(mut each: impl FnMut(i64, i64, &mut Coin) -> Spec) -> Self {
        let mut stream = Self {
            interner: Interner::default(),
            minutes: MinuteCounts::default(),
            observations: VecDeque::new(),
            changes: Vec::new(),
        };
        let mut coin = Coin(0x9e37_79b9_7f4a_7c15);
        for minute in 0..END_MINUTE {
            for i in 0..CALLS_PER_MINUTE {
                let spec = each(minute, i, &mut coin);
                stream.add(at(minute, 2 * i), &spec);
            }
        }
        stream
    }

    fn add(&mut self, ts: DateTime<Utc>, spec: &Spec) {
        let mut call = json!({
            "ts": ts.to_rfc3339(), "feature": spec.feature, "model_requested": "gpt-4o",
            "status": spec.status, "latency_ms": 1000.0, "prompt_version": spec.version,
            "output": "{\"answer\":\"ok\"}",
        });
        if spec.labelled {
            call["evals"] = json!({"hallucination": spec.hallucinated});
        }
        if let Some(served) = spec.served {
            call["model_served"] = json!(served);
        }
        if let Some(tenant) = spec.tenant {
            call["attributes"] = json!({"tenant": tenant});
        }
        let call: Call = serde_json::from_value(call).unwrap();
        let observation = Observation::from_call(
            &call,
            &Default::default(),
            &mut self.interner,
            &mut Default::default(),
        );
        self.minutes.add(&observation, &[]);
        self.observations.push_back(observation);
    }

    fn change(&mut self, minute: i64, kind: &str, target: &str, from: &str, to: &str) {
        let change: Change = serde_json::from_value(json!({
            "ts": at(minute, 0), "kind": kind, "target": target, "from": from, "to": to,
            "feature": "support-answer", "author": "dana.m",
        }))
        .unwrap();
        self.changes.push(ChangeRecord {
            id: self.changes.len() as u64,
            change,
            origin: ChangeOrigin::Feed,
        });
    }

    /// The triage at 14:48 of an episode in which `metrics` alarmed, the first gone critical.
    fn triage(&self, metrics: &[MetricId]) -> Triage {
        self.triage_until(metrics, at(END_MINUTE, 0))
    }

    fn triage_until(&self, metrics: &[MetricId], end: DateTime<Utc>) -> Triage {
        let onset = at(ONSET_MINUTE, 0);
        let episode = Episode {
            first_alarm: onset,
            first_critical: Some(onset),
            metrics: metrics.to_vec(),
            critical: vec![metrics[0]],
            onsets: Vec::new(),
            onset: Some(onset),
            lead: None,
            lead_moves: Vec::new(),
        };
        assess(&Evidence {
            observations: &self.observations,
            minutes: &self.minutes,
            interner: &self.interner,
            changes: &self.changes,
            episode: &episode,
            baseline: BaselineWindow {
                from: at(0, 0),
                to: at(60, 0),
                calls: 1800,
                frozen: true,
            },
            onset,
            input_drift: None,
            infra: &[],
            end,
            now: end,
            prompt_window: Duration::hours(2),
            onset_tolerance: Duration::minutes(2),
            previous: None,
        })
    }
}

/// Hallucination at 4% before 14:15 and at `after` from then on.
fn hallucination_rising_to(after: f64) -> impl FnMut(i64, i64, &mut Coin) -> Spec {
    move |minute, _, coin| Spec {
        hallucinated: coin.flip(if minute < ONSET_MINUTE { 0.04 } else { after }),
        ..Spec::default()
    }
}

/// From 14:15, three minutes in seven at `high`; 4% otherwise.
fn in_bursts(minute: i64, high: f64) -> f64 {
    if minute >= ONSET_MINUTE && (minute - ONSET_MINUTE) % 7 < 3 {
        high
    } else {
        0.04
    }
}

fn lines_with<'a>(lines: &'a [String], text: &str) -> Vec<&'a String> {
    lines.iter().filter(|l| l.contains(text)).collect()
}

#[test]
fn every_step_ruled_out_is_unexplained_with_what_would_decide_it() {
    let triage = Stream::new(hallucination_rising_to(0.14)).triage(&[MetricId::Hallucination]);
    assert!(
        triage.steps.iter().all(|s| s.verdict == Verdict::RuledOut),
        "{triage:#?}"
    );
    let Headline::Unexplained {
        evidence,
        would_decide,
    } = &triage.headline
    else {
        panic!("not unexplained: {triage:#?}");
    };
    let named: Vec<&str> = evidence
        .iter()
        .map(|line| line.split(" ruled out: ").next().unwrap())
        .collect();
    assert_eq!(named, ["Infrastructure", "Model", "Prompt", "Data"]);
    assert!(
        evidence[2].contains("no prompt deploy in the 2h00m before onset"),
        "{evidence:#?}"
    );
    assert_eq!(
        would_decide[0],
        "a change record for the deploy that preceded 14:15, if there was one: none in the \
         2h00m before"
    );
    // Every ok call carries a label: more labels would not decide it.
    assert!(lines_with(would_decide, "evaluator labels").is_empty());
    assert_eq!(
        lines_with(would_decide, "(model_served): 0% carry it").len(),
        1
    );
    assert_eq!(lines_with(would_decide, "input segments").len(), 1);
    assert_eq!(triage.would_decide(), &would_decide[..]);
    // The ranking still lists the four categories; none of them leads the headline.
    assert_eq!(triage.ranking.len(), 4);
    assert_eq!(triage.conclusion(), None);
    let headline_evidence = triage.headline_evidence();
    assert!(
        headline_evidence[0].starts_with("Hallucination affected "),
        "{headline_evidence:#?}"
    );
    assert_eq!(&headline_evidence[1..], &evidence[..]);
    // The kill switch stops the bleeding without a cause; nothing else is offered.
    assert_eq!(triage.mitigation(), Some(MitigationKind::KillSwitch));
    let recommendation = triage.recommendation.as_ref().unwrap();
    assert_eq!(
        (recommendation.kind, recommendation.target.as_str()),
        (MitigationKind::KillSwitch, "support-answer")
    );
    assert_eq!(
        recommendation.text,
        "kill switch for support-answer: serve the fallback while the cause is unknown"
    );
}

#[test]
fn thin_labels_and_a_service_deploy_are_named_as_what_would_decide_it() {
    let mut stream = Stream::new(|minute, _, coin| Spec {
        hallucinated: coin.flip(if minute < ONSET_MINUTE { 0.04 } else { 0.2 }),
        labelled: coin.flip(0.2),
        served: Some("gpt-4o-2024-08-06"),
        tenant: Some("acme"),
        ..Spec::default()
    });
    stream.change(72, "deploy", "checkout-api", "1.4.1", "1.4.2");
    let triage = stream.triage(&[MetricId::Hallucination]);
    let would_decide = triage.would_decide();
    assert_eq!(would_decide.len(), 2, "{triage:#?}");
    assert_eq!(
        would_decide[0],
        "what deploy checkout-api 1.4.1 → 1.4.2 at 14:12 (3m before onset) changed: a prompt \
         or model change record for it"
    );
    assert!(
        would_decide[1].starts_with("evaluator labels on more calls: 2"),
        "{would_decide:#?}"
    );
}

#[test]
fn too_few_calls_since_the_onset_is_not_yet_unexplained() {
    let triage = Stream::new(hallucination_rising_to(0.14))
        .triage_until(&[MetricId::Hallucination], at(ONSET_MINUTE, 40));
    assert_eq!(
        triage.headline,
        Headline::InsufficientData {
            waiting: vec!["20 calls since onset 14:15; need 30".into()]
        }
    );
    assert!(triage.would_decide().is_empty());
    assert_eq!(triage.recommendation, None);
    assert_eq!(triage.mitigation(), None);
    // No whole minute since the onset yet: nothing to say about its pattern.
    assert_eq!(triage.pattern, None);
}

#[test]
fn the_pattern_counts_affected_minutes_and_tells_bursts_from_a_steady_rise() {
    let bursts = Stream::new(|minute, _, coin| Spec {
        hallucinated: coin.flip(in_bursts(minute, 0.3)),
        ..Spec::default()
    })
    .triage(&[MetricId::Hallucination]);
    let pattern = bursts.pattern.as_ref().unwrap();
    assert_eq!((pattern.minutes, pattern.in_bursts), (33, Some(true)));
    // 15 minutes are in a burst; most of them, and hardly any other, are significant.
    assert!((9..=16).contains(&pattern.affected_minutes), "{pattern:#?}");
    assert_eq!(
        pattern.line(),
        format!(
            "Hallucination affected {} of 33 minutes since 14:15, in bursts",
            pattern.affected_minutes
        )
    );
    assert_eq!(bursts.headline_evidence()[0], pattern.line());

    let steady = Stream::new(hallucination_rising_to(0.25)).triage(&[MetricId::Hallucination]);
    let pattern = steady.pattern.as_ref().unwrap();
    assert_eq!(pattern.in_bursts, Some(false), "{pattern:#?}");
    assert!(pattern.affected_minutes >= 25, "{pattern:#?}");
    assert!(pattern.line().ends_with(", a steady rise"));
}

/// Hallucination in bursts from 14:15, and three timeouts in thirty calls in the minutes of
/// the seven-minute cycle that `timeouts_in` names.
fn bursts_with_timeouts(timeouts_in: &'static [i64]) -> Triage {
    Stream::new(move |minute, i, coin| {
        let timed_out =
            minute >= ONSET_MINUTE && timeouts_in.contains(&((minute - ONSET_MINUTE) % 7)) && i < 3;
        Spec {
            status: if timed_out { "timeout" } else { "ok" },
            hallucinated: coin.flip(in_bursts(minute, 0.3)),
            ..Spec::default()
        }
    })
    .triage(&[MetricId::Hallucination, MetricId::Timeouts])
}

#[test]
fn quality_in_bursts_apart_from_transport_failures_is_not_infrastructure() {
    // Timeouts in two minutes of seven, never those of the bursts: intermittent, and apart.
    let apart = bursts_with_timeouts(&[4, 5]);
    let infrastructure = apart.step(Category::Infrastructure);
    assert_eq!(
        infrastructure.verdict,
        Verdict::RuledOut,
        "{infrastructure:#?}"
    );
    assert!(
        infrastructure.evidence[1].contains("affected: intermittent; quality moved too"),
        "{infrastructure:#?}"
    );
    let bad_minutes = apart.pattern.as_ref().unwrap().affected_minutes;
    assert_eq!(
        infrastructure.evidence[2],
        format!(
            "Hallucination affected {bad_minutes} minutes, 0 of them with transport failures: \
             not the cause"
        )
    );
    assert!(matches!(apart.headline, Headline::Unexplained { .. }));

    // The same timeouts in the bursts' own minutes keep the transport a suspect.
    let together = bursts_with_timeouts(&[0, 1, 2]);
    let infrastructure = together.step(Category::Infrastructure);
    assert_eq!(
        infrastructure.verdict,
        Verdict::Suspect,
        "{infrastructure:#?}"
    );
    assert!(matches!(
        together.headline,
        Headline::Cause(Ranked {
            category: Category::Infrastructure,
            ..
        })
    ));
}

#[test]
fn a_consistent_transport_failure_with_quality_unchanged_is_likely_infrastructure() {
    let triage = timeouts_from_the_onset().triage(&[MetricId::Timeouts]);
    assert_eq!(triage.conclusion(), Some(Category::Infrastructure));
    let pattern = triage.pattern.as_ref().unwrap();
    assert_eq!(
        pattern.line(),
        "Timeouts affected 33 of 33 minutes since 14:15, a steady rise"
    );
}

/// Timeouts on every fifth call from 14:15, the answers as good as before.
fn timeouts_from_the_onset() -> Stream {
    Stream::new(|minute, i, coin| Spec {
        status: if minute >= ONSET_MINUTE && i % 5 == 0 {
            "timeout"
        } else {
            "ok"
        },
        hallucinated: coin.flip(0.04),
        ..Spec::default()
    })
}

#[test]
fn deploys_and_config_changes_shortly_before_the_onset_are_infrastructure_evidence() {
    let mut stream = timeouts_from_the_onset();
    stream.change(20, "deploy", "api", "v2.1", "v2.2");
    stream.change(60, "config_change", "gateway", "pool 50", "pool 20");
    stream.change(73, "prompt_deploy", "support-answer", "v7", "v8");
    stream.change(74, "deploy", "api", "v2.2", "v2.3");
    stream.change(85, "flag_change", "cache", "on", "off");
    let triage = stream.triage(&[MetricId::Timeouts]);
    let infrastructure = triage.step(Category::Infrastructure);
    assert_eq!(
        infrastructure.verdict,
        Verdict::Likely,
        "{infrastructure:#?}"
    );
    // Nearest the onset first; a release long before, a prompt deploy and a change after the
    // onset's tolerance are not the infrastructure's evidence.
    assert_eq!(
        lines_with(&infrastructure.evidence, "onset"),
        [
            "deploy api v2.2 → v2.3 at 14:14:00, 1m before onset",
            "config gateway pool 50 → pool 20 at 14:00:00, 15m before onset",
        ],
        "{infrastructure:#?}"
    );
}

#[test]
fn a_flightdeck_mitigation_is_not_infrastructure_evidence() {
    let mut stream = timeouts_from_the_onset();
    stream.change(74, "flag_change", "support-ai", "on", "off");
    stream.changes[0].change.author = Some(crate::engine::changes::MITIGATION_AUTHOR.into());
    let without = timeouts_from_the_onset().triage(&[MetricId::Timeouts]);
    let triage = stream.triage(&[MetricId::Timeouts]);
    assert_eq!(
        triage.step(Category::Infrastructure).evidence,
        without.step(Category::Infrastructure).evidence
    );
}

#[test]
fn a_rise_among_many_untouched_features_needs_more_evidence_than_one_alone() {
    // 4% → 8.5% on 400 calls against 2,000: z 3.1, enough alone, not as one of nine (3.7).
    let of = |bad: u64, n: u64| Proportion { bad, n };
    let (recent, base) = (of(34, 400), of(80, 2_000));
    assert!(super::concentrated_among(
        MetricId::Hallucination,
        recent,
        base,
        1
    ));
    assert!(!super::concentrated_among(
        MetricId::Hallucination,
        recent,
        base,
        9
    ));
    // A rise that shows however many are looked at.
    assert!(super::concentrated_among(
        MetricId::Hallucination,
        of(60, 400),
        base,
        9
    ));
}

#[test]
fn a_significant_rise_under_three_points_still_lies_on_the_new_side_of_a_change() {
    // A canary's 2% → 4.5% against its previous version over the same period: z 3.5.
    let of = |bad: u64, n: u64| Proportion { bad, n };
    let (new, old) = (of(54, 1_200), of(24, 1_200));
    assert!(super::worse_on_new_side(MetricId::Refusal, new, old));
    assert!(!super::concentrated(MetricId::Refusal, new, old));
    assert!(!super::worse_on_new_side(
        MetricId::Refusal,
        of(30, 1_200),
        old
    ));
}

#[test]
fn a_quality_warning_beside_a_transport_lead_does_not_veto_infrastructure() {
    // Errors at 3% since 14:15; False refusal warned on the way, as some quality metric of some
    // feature does by chance during a long episode, but never went critical.
    let triage = Stream::new(|minute, _, coin| Spec {
        status: if minute >= ONSET_MINUTE && coin.flip(0.03) {
            "error"
        } else {
            "ok"
        },
        hallucinated: coin.flip(0.04),
        ..Spec::default()
    })
    .triage(&[MetricId::Errors, MetricId::FalseRefusal]);
    assert_eq!(
        triage.conclusion(),
        Some(Category::Infrastructure),
        "{triage:#?}"
    );
    assert!(
        triage.step(Category::Infrastructure).evidence[1]
            .ends_with("quality of successful calls unchanged")
    );
}

#[test]
fn a_prompt_deploy_stays_likely_for_an_intermittent_failure_on_its_version() {
    let mut stream = Stream::new(|minute, _, coin| Spec {
        version: if minute < ONSET_MINUTE { "v7" } else { "v8" },
        hallucinated: coin.flip(in_bursts(minute, 0.35)),
        ..Spec::default()
    });
    stream.change(ONSET_MINUTE, "prompt_deploy", "support-answer", "v7", "v8");
    let triage = stream.triage(&[MetricId::Hallucination]);
    assert_eq!(triage.pattern.as_ref().unwrap().in_bursts, Some(true));
    assert_eq!(triage.conclusion(), Some(Category::Prompt), "{triage:#?}");
    assert_eq!(
        triage.step(Category::Infrastructure).verdict,
        Verdict::RuledOut
    );
}

#[test]
fn a_new_segment_stays_likely_data_for_an_intermittent_failure() {
    // From 14:15 a quarter of the calls come from a new tenant, whose answers fail in bursts.
    let triage = Stream::new(|minute, _, coin| {
        let newco = minute >= ONSET_MINUTE && coin.flip(0.25);
        Spec {
            tenant: Some(if newco { "newco" } else { "acme" }),
            hallucinated: coin.flip(if newco { in_bursts(minute, 0.6) } else { 0.04 }),
            ..Spec::default()
        }
    })
    .triage(&[MetricId::Hallucination]);
    assert_eq!(triage.conclusion(), Some(Category::Data), "{triage:#?}");
    assert_eq!(triage.pattern.as_ref().unwrap().in_bursts, Some(true));
}

/// support-answer (every other call) gets v8 at 14:15 and rises from 4% to 20%; checkout-help
/// stays on v4 and goes from 3% to `checkout_after`.
fn deploy_beside(checkout_after: f64) -> Triage {
    let mut stream = Stream::new(|minute, i, coin| {
        let after = minute >= ONSET_MINUTE;
        if i % 2 == 0 {
            Spec {
                version: if after { "v8" } else { "v7" },
                hallucinated: coin.flip(if after { 0.2 } else { 0.04 }),
                ..Spec::default()
            }
        } else {
            Spec {
                feature: "checkout-help",
                version: "v4",
                hallucinated: coin.flip(if after { checkout_after } else { 0.03 }),
                ..Spec::default()
            }
        }
    });
    stream.change(ONSET_MINUTE, "prompt_deploy", "support-answer", "v7", "v8");
    stream.triage(&[MetricId::Hallucination])
}

#[test]
fn a_rise_on_a_feature_the_deploy_did_not_touch_leaves_the_prompt_suspect() {
    let triage = deploy_beside(0.12);
    let prompt = triage.step(Category::Prompt);
    assert_eq!(prompt.verdict, Verdict::Suspect, "{prompt:#?}");
    let elsewhere = lines_with(
        &prompt.evidence,
        "Hallucination also rose on checkout-help (v4, untouched): ",
    );
    assert_eq!(elsewhere.len(), 1, "{prompt:#?}");
    // "…: 3% → 12%", the feature's own baseline first.
    let rates: Vec<f64> = elsewhere[0]
        .rsplit(": ")
        .next()
        .unwrap()
        .split(" → ")
        .map(|r| r.trim_end_matches('%').parse().unwrap())
        .collect();
    assert!(
        (1.0..=5.0).contains(&rates[0]) && (9.0..=16.0).contains(&rates[1]),
        "{rates:?}"
    );
    assert_eq!(triage.conclusion(), None);
    assert_eq!(triage.recommendation, None);
}

#[test]
fn a_rise_confined_to_the_deployed_version_keeps_the_prompt_likely() {
    let triage = deploy_beside(0.03);
    let prompt = triage.step(Category::Prompt);
    assert_eq!(prompt.verdict, Verdict::Likely, "{prompt:#?}");
    assert_eq!(
        lines_with(
            &prompt.evidence,
            "Hallucination rose only on v8: checkout-help (v4, untouched) "
        )
        .len(),
        1,
        "{prompt:#?}"
    );
    assert!(lines_with(&prompt.evidence, "also rose").is_empty());
}

/// From 14:15 three calls in ten run v8 at 25% hallucination; the rest stay on v7 at
/// `v7_after`.
fn canary(v7_after: f64) -> Triage {
    let mut stream = Stream::new(|minute, _, coin| {
        let on_v8 = minute >= ONSET_MINUTE && coin.flip(0.3);
        let p = match (minute >= ONSET_MINUTE, on_v8) {
            (false, _) => 0.04,
            (true, true) => 0.25,
            (true, false) => v7_after,
        };
        Spec {
            version: if on_v8 { "v8" } else { "v7" },
            hallucinated: coin.flip(p),
            ..Spec::default()
        }
    });
    stream.change(ONSET_MINUTE, "prompt_deploy", "support-answer", "v7", "v8");
    stream.triage(&[MetricId::Hallucination])
}

#[test]
fn a_canary_is_judged_against_the_previous_version_in_the_same_period() {
    let confined = canary(0.04);
    let prompt = confined.step(Category::Prompt);
    assert_eq!(prompt.verdict, Verdict::Likely, "{prompt:#?}");
    assert!(
        prompt.evidence[0].starts_with("Hallucination 2")
            && prompt.evidence[0].contains("on v8 vs ")
            && prompt.evidence[0].ends_with("on v7 same period"),
        "{prompt:#?}"
    );
    assert_eq!(
        lines_with(
            &prompt.evidence,
            "Hallucination rose only on v8: v7 (untouched, same period) "
        )
        .len(),
        1,
        "{prompt:#?}"
    );

    let spread = canary(0.15);
    let prompt = spread.step(Category::Prompt);
    assert_eq!(prompt.verdict, Verdict::Suspect, "{prompt:#?}");
    assert_eq!(
        lines_with(
            &prompt.evidence,
            "Hallucination also rose on v7 (untouched, same period): "
        )
        .len(),
        1,
        "{prompt:#?}"
    );
}
