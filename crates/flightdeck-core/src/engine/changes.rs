//! The change log: changes announced by a feed, changes the calls themselves reveal (a new
//! prompt version, a new served model under the same alias), and model updates that kept their
//! name, inferred from a shift in the outputs' style (see `style_shift`).

use std::collections::VecDeque;

use chrono::Duration;
use foldhash::{HashMap, HashSet};

use super::style_shift::{StyleWatch, Suspect};
use crate::model::{Call, Change, ChangeKind, ChangeOrigin};

/// Who flightdeck names as the author of the changes its own mitigations make.
pub const MITIGATION_AUTHOR: &str = "flightdeck";

/// The `to` of a model change inferred from outputs: the new model has no name to show.
pub const OUTPUTS_CHANGED: &str = "outputs changed";

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    /// Unique in the log, kept when a feed record replaces an inferred one.
    pub id: u64,
    pub change: Change,
    pub origin: ChangeOrigin,
}

impl ChangeRecord {
    pub fn is_mitigation(&self) -> bool {
        self.change.author.as_deref() == Some(MITIGATION_AUTHOR)
    }

    /// What the outputs showed, for a change inferred from their behaviour.
    pub fn evidence(&self) -> Option<&str> {
        match self.origin {
            ChangeOrigin::InferredFromBehaviour => self.change.note.as_deref(),
            ChangeOrigin::Feed | ChangeOrigin::InferredFromCalls => None,
        }
    }

    /// One line for the changes pane and the timeline.
    pub fn summary(&self) -> String {
        let change = &self.change;
        let mut line = change.named();
        match self.origin {
            ChangeOrigin::InferredFromCalls => line.push_str(" (seen in calls)"),
            ChangeOrigin::InferredFromBehaviour => {
                line.push_str(" (inferred from outputs");
                if let Some(evidence) = self.evidence() {
                    line.push_str(&format!(": {evidence}"));
                }
                line.push(')');
            }
            ChangeOrigin::Feed => {
                if let Some(author) = &change.author {
                    line.push_str(&format!(" by {author}"));
                }
            }
        }
        line
    }
}

/// How close an inferred change and a feed record must be to be the same change.
fn same_change_window() -> Duration {
    Duration::minutes(10)
}

#[derive(Debug, Default)]
pub struct ChangeLog {
    records: Vec<ChangeRecord>,
    next_id: u64,
    served_by_alias: HashMap<String, String>,
    prompt_version_by_prompt: HashMap<String, String>,
    /// The versions already known under each alias or prompt, so that a canary or a rollout,
    /// whose calls alternate between two versions, reveals each version once.
    seen: HashMap<String, HashSet<String>>,
    mixes: HashMap<String, AttributeMix>,
    style: StyleWatch,
}

/// Calls over which the mix of an attribute's values is judged.
const MIX_WINDOW: usize = 100;
/// A value below this share in the first window is not part of the usual mix.
const USUAL_SHARE: usize = 2;
/// An unusual value that reaches this share of the window is a change in the inputs.
const NEW_DOMINANT_SHARE: usize = 20;

/// The recent values of one attribute, and those that are part of its usual mix. Values are
/// numbered as they first appear, so a call adds no string once its values are known.
#[derive(Debug, Default)]
struct AttributeMix {
    ids: HashMap<String, usize>,
    /// Calls among the recent ones that carry each value, by number.
    counts: Vec<usize>,
    recent: VecDeque<usize>,
    usual: HashSet<usize>,
    learned: bool,
}

impl AttributeMix {
    /// Adds a value; returns its share (in calls of the window) when it newly became prominent.
    fn observe(&mut self, value: &str) -> Option<usize> {
        let id = match self.ids.get(value) {
            Some(id) => *id,
            None => {
                let id = self.counts.len();
                self.ids.insert(value.to_string(), id);
                self.counts.push(0);
                id
            }
        };
        self.recent.push_back(id);
        self.counts[id] += 1;
        if self.recent.len() > MIX_WINDOW
            && let Some(old) = self.recent.pop_front()
        {
            self.counts[old] -= 1;
        }
        if !self.learned {
            if self.recent.len() == MIX_WINDOW {
                self.learned = true;
                self.usual = (0..self.counts.len())
                    .filter(|id| self.counts[*id] * 100 >= USUAL_SHARE * MIX_WINDOW)
                    .collect();
            }
            return None;
        }
        let count = self.counts[id];
        (count * 100 >= NEW_DOMINANT_SHARE * MIX_WINDOW && self.usual.insert(id)).then_some(count)
    }
}

/// Records `value` as the latest under `key` and returns the value it replaced when `value` was
/// never seen under `key` before; allocates only when the value changes.
fn switched_to_new(
    latest: &mut HashMap<String, String>,
    seen: &mut HashMap<String, HashSet<String>>,
    key: &str,
    value: &str,
) -> Option<String> {
    let previous = match latest.get_mut(key) {
        None => {
            latest.insert(key.to_string(), value.to_string());
            seen.entry(key.to_string())
                .or_default()
                .insert(value.to_string());
            return None;
        }
        Some(current) if current == value => return None,
        Some(current) => std::mem::replace(current, value.to_string()),
    };
    let versions = seen.entry(key.to_string()).or_default();
    if versions.contains(value) {
        return None;
    }
    versions.insert(value.to_string());
    versions.insert(previous.clone());
    Some(previous)
}

impl ChangeLog {
    pub fn records(&self) -> &[ChangeRecord] {
        &self.records
    }

    /// Records a change from a feed; returns it unless it only confirms an inferred one,
    /// which it then replaces (the feed knows the author and the texts).
    pub fn record_feed(&mut self, change: Change) -> Option<ChangeRecord> {
        if change.kind == ChangeKind::PromptDeploy
            && let Some(to) = &change.to
        {
            // The version the feed replaces was live, so it is not new when calls still use it.
            let replaced = self
                .prompt_version_by_prompt
                .insert(change.target.clone(), to.clone());
            for version in [Some(to), replaced.as_ref(), change.from.as_ref()]
                .into_iter()
                .flatten()
            {
                self.seen
                    .entry(change.target.clone())
                    .or_default()
                    .insert(version.clone());
            }
        }
        let mut record = ChangeRecord {
            id: 0,
            change,
            origin: ChangeOrigin::Feed,
        };
        if let Some(inferred) = self.records.iter_mut().find(|r| {
            r.origin == ChangeOrigin::InferredFromCalls
                && r.change.kind == record.change.kind
                && r.change.target == record.change.target
                && r.change.to == record.change.to
                && (r.change.ts - record.change.ts).abs() <= same_change_window()
        }) {
            record.id = inferred.id;
            *inferred = record;
            return None;
        }
        // flightdeck's own pin explains nothing the outputs showed before it.
        if !record.is_mitigation() && self.replace_behaviour(&record).is_some() {
            return None;
        }
        Some(self.insert(record))
    }

    /// Replaces the model change inferred from outputs that `record` names better (a feed's or
    /// the served model's, for the same alias within minutes), keeping its id; returns the id.
    fn replace_behaviour(&mut self, record: &ChangeRecord) -> Option<u64> {
        if record.change.kind != ChangeKind::ModelChange {
            return None;
        }
        let at = self.records.iter().position(|r| {
            r.origin == ChangeOrigin::InferredFromBehaviour
                && r.change.target == record.change.target
                && (r.change.ts - record.change.ts).abs() <= same_change_window()
        })?;
        let id = self.records.remove(at).id;
        let mut record = record.clone();
        record.id = id;
        self.place(record);
        Some(id)
    }

    /// Looks at a call for a change nobody announced; returns the inferred change, if any.
    pub fn observe_call(&mut self, call: &Call) -> Option<ChangeRecord> {
        let served = self.observe_served_model(call);
        let prompt = self.observe_prompt_version(call);
        let mix = self.observe_input_mix(call);
        let style = self.observe_output_style(call);
        served.or(prompt).or(mix).or(style)
    }

    /// A model update that kept its name: the outputs of the features sharing a requested model
    /// shifted at one time, with no release and no input change to explain it. A model change
    /// already logged for the alias within minutes names it better.
    fn observe_output_style(&mut self, call: &Call) -> Option<ChangeRecord> {
        let records = &self.records;
        let inferred = self
            .style
            .observe(call, |suspect| release_explains(records, suspect))?;
        if self.records.iter().any(|r| {
            r.change.kind == ChangeKind::ModelChange
                && r.change.target == inferred.model
                && (r.change.ts - inferred.ts).abs() <= same_change_window()
        }) {
            return None;
        }
        let feature = match inferred.features.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        };
        let change = Change {
            ts: inferred.ts,
            kind: ChangeKind::ModelChange,
            target: inferred.model,
            from: None,
            to: Some(OUTPUTS_CHANGED.into()),
            feature,
            author: None,
            note: Some(inferred.evidence),
            text_from: None,
            text_to: None,
            extra: Default::default(),
        };
        Some(self.insert(ChangeRecord {
            id: 0,
            change,
            origin: ChangeOrigin::InferredFromBehaviour,
        }))
    }

    /// A value new to an attribute's usual mix that takes a fifth of the recent calls.
    fn observe_input_mix(&mut self, call: &Call) -> Option<ChangeRecord> {
        let mut inferred = None;
        for (key, value) in &call.attributes {
            let Some(value) = value.as_str() else {
                continue;
            };
            if !self.mixes.contains_key(key) {
                self.mixes.insert(key.clone(), AttributeMix::default());
            }
            let mix = self.mixes.get_mut(key).expect("inserted above");
            let Some(count) = mix.observe(value) else {
                continue;
            };
            inferred = Some(self.infer(
                call,
                ChangeKind::InputMix,
                key.clone(),
                None,
                value,
                format!("{value} is new and {count}% of the last {MIX_WINDOW} calls"),
            ));
        }
        inferred
    }

    fn observe_served_model(&mut self, call: &Call) -> Option<ChangeRecord> {
        let served = call.model_served.as_ref()?;
        let previous = switched_to_new(
            &mut self.served_by_alias,
            &mut self.seen,
            &call.model_requested,
            served,
        )?;
        Some(self.infer(
            call,
            ChangeKind::ModelChange,
            call.model_requested.clone(),
            Some(previous),
            served,
            "served model changed under the same requested name".into(),
        ))
    }

    fn observe_prompt_version(&mut self, call: &Call) -> Option<ChangeRecord> {
        let version = call.prompt_version.as_ref()?;
        let prompt = call.prompt_id.as_deref().unwrap_or(&call.feature);
        let previous = switched_to_new(
            &mut self.prompt_version_by_prompt,
            &mut self.seen,
            prompt,
            version,
        )?;
        Some(self.infer(
            call,
            ChangeKind::PromptDeploy,
            prompt.to_string(),
            Some(previous),
            version,
            "new prompt version seen in calls".into(),
        ))
    }

    /// Logs a change the call revealed: `target` moved from `from` to `to`.
    fn infer(
        &mut self,
        call: &Call,
        kind: ChangeKind,
        target: String,
        from: Option<String>,
        to: &str,
        note: String,
    ) -> ChangeRecord {
        let change = Change {
            ts: call.ts,
            kind,
            target,
            from,
            to: Some(to.to_string()),
            feature: Some(call.feature.clone()),
            author: None,
            note: Some(note),
            text_from: None,
            text_to: None,
            extra: Default::default(),
        };
        let record = ChangeRecord {
            id: 0,
            change,
            origin: ChangeOrigin::InferredFromCalls,
        };
        match self.replace_behaviour(&record) {
            Some(id) => ChangeRecord { id, ..record },
            None => self.insert(record),
        }
    }

    /// Gives the record the next id and logs it.
    fn insert(&mut self, mut record: ChangeRecord) -> ChangeRecord {
        self.next_id += 1;
        record.id = self.next_id;
        self.place(record.clone());
        record
    }

    /// Keeps the log in time order even when a feed delivers late.
    fn place(&mut self, record: ChangeRecord) {
        let at = self
            .records
            .partition_point(|r| r.change.ts <= record.change.ts);
        self.records.insert(at, record);
    }
}

/// Whether a release touching the suspect feature explains the shift in its outputs: its
/// prompt deployed, a new value in its inputs' mix, or a deploy, flag or config change that
/// names it or names no feature (a service-wide one), in the window before the shift.
fn release_explains(records: &[ChangeRecord], suspect: &Suspect) -> bool {
    records.iter().any(|r| {
        let c = &r.change;
        let names_feature = c.feature.as_deref() == Some(suspect.feature)
            || c.target == suspect.feature
            || Some(c.target.as_str()) == suspect.prompt;
        let touches = match c.kind {
            ChangeKind::PromptDeploy | ChangeKind::InputMix => names_feature,
            ChangeKind::FlagChange | ChangeKind::Deploy | ChangeKind::ConfigChange => {
                names_feature || c.feature.is_none()
            }
            ChangeKind::ModelChange => false,
        };
        touches && c.ts >= suspect.from && c.ts <= suspect.to
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(ts: &str, served: &str, version: &str) -> Call {
        serde_json::from_value(serde_json::json!({
            "ts": ts, "feature": "support-answer", "model_requested": "gpt-4o",
            "model_served": served, "status": "ok", "latency_ms": 900,
            "prompt_id": "support-answer", "prompt_version": version
        }))
        .unwrap()
    }

    #[test]
    fn infers_a_silent_model_update_under_the_same_alias() {
        let mut log = ChangeLog::default();
        assert!(
            log.observe_call(&call("2026-03-14T13:00:00Z", "gpt-4o-2024-08-06", "v7"))
                .is_none()
        );
        let inferred = log
            .observe_call(&call("2026-03-14T13:01:00Z", "gpt-4o-2024-11-20", "v7"))
            .unwrap();
        assert_eq!(inferred.change.kind, ChangeKind::ModelChange);
        assert_eq!(
            inferred.change.transition(),
            "gpt-4o-2024-08-06 → gpt-4o-2024-11-20"
        );
        assert_eq!(inferred.origin, ChangeOrigin::InferredFromCalls);
    }

    #[test]
    fn a_canary_alternating_between_two_versions_reveals_the_new_one_once() {
        let mut log = ChangeLog::default();
        let inferred: Vec<ChangeRecord> = ["v7", "v7", "v8", "v7", "v8", "v8", "v7"]
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                log.observe_call(&call(&format!("2026-03-14T13:0{i}:00Z"), "m", v))
            })
            .collect();
        assert_eq!(inferred.len(), 1, "{inferred:?}");
        assert_eq!(inferred[0].change.transition(), "v7 → v8");
    }

    #[test]
    fn a_new_value_taking_a_fifth_of_the_calls_is_an_input_mix_change() {
        let mut log = ChangeLog::default();
        let with_source = |i: usize, source: &str| {
            let mut c = call("2026-03-14T13:00:00Z", "m", "v7");
            c.ts += Duration::seconds(i as i64);
            c.attributes
                .insert("source".into(), serde_json::json!(source));
            c
        };
        let mut inferred = Vec::new();
        for i in 0..400 {
            let source = match i {
                _ if i >= 200 && i % 2 == 0 => "partner-widget",
                _ if i % 3 == 0 => "mobile-app",
                _ => "web-chat",
            };
            inferred.extend(log.observe_call(&with_source(i, source)));
        }
        assert_eq!(inferred.len(), 1, "{inferred:?}");
        let change = &inferred[0].change;
        assert_eq!(
            (change.kind, change.target.as_str(), change.to.as_deref()),
            (ChangeKind::InputMix, "source", Some("partner-widget"))
        );
        // Half the calls from call 200 on: a fifth of the window after about 40 calls.
        let offset = (change.ts
            - "2026-03-14T13:00:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap())
        .num_seconds();
        assert!((220..=260).contains(&offset), "inferred at call {offset}");
    }

    #[test]
    fn a_feed_record_replaces_the_prompt_change_inferred_from_calls() {
        let mut log = ChangeLog::default();
        log.observe_call(&call("2026-03-14T13:00:00Z", "m", "v7"));
        assert!(
            log.observe_call(&call("2026-03-14T13:35:10Z", "m", "v8"))
                .is_some()
        );
        let feed: Change = serde_json::from_value(serde_json::json!({
            "ts": "2026-03-14T13:35:00Z", "kind": "prompt_deploy", "target": "support-answer",
            "from": "v7", "to": "v8", "author": "maria"
        }))
        .unwrap();
        assert!(log.record_feed(feed).is_none());
        assert_eq!(log.records().len(), 1);
        assert_eq!(log.records()[0].origin, ChangeOrigin::Feed);
    }

    mod outputs {
        use chrono::{DateTime, Duration, Utc};

        use super::super::*;
        use crate::engine::style_shift::traffic::{Conditions, calls, start};

        const FEATURES: [&str; 2] = ["support-answer", "search-summary"];
        /// 14:12, when the provider's update goes live.
        const UPDATE_MINUTE: i64 = 132;

        fn update_at() -> DateTime<Utc> {
            start() + Duration::minutes(UPDATE_MINUTE)
        }

        /// Two features' calls, the update live from 14:12, served as `served(minute)` says.
        fn updated(seed: u64, served: fn(i64) -> Option<&'static str>) -> Vec<Call> {
            calls(seed, &FEATURES, (0, 160), move |minute, _| Conditions {
                updated: minute >= UPDATE_MINUTE,
                served: served(minute),
                ..Conditions::default()
            })
        }

        fn observe(log: &mut ChangeLog, calls: &[Call]) {
            for call in calls {
                log.observe_call(call);
            }
        }

        fn model_change(ts: DateTime<Utc>) -> Change {
            serde_json::from_value(serde_json::json!({
                "ts": ts.to_rfc3339(), "kind": "model_change", "target": "gpt-4o",
                "from": "gpt-4o-2024-08-06", "to": "gpt-4o-2024-11-20", "author": "provider"
            }))
            .unwrap()
        }

        #[test]
        fn a_model_update_that_kept_its_name_is_logged_with_its_evidence() {
            let mut log = ChangeLog::default();
            observe(&mut log, &updated(1, |_| None));
            let [record] = log.records() else {
                panic!("{:#?}", log.records());
            };
            let change = &record.change;
            assert_eq!(record.origin, ChangeOrigin::InferredFromBehaviour);
            assert_eq!(
                (change.kind, change.target.as_str(), change.transition()),
                (
                    ChangeKind::ModelChange,
                    "gpt-4o",
                    "→ outputs changed".into()
                )
            );
            assert!((change.ts - update_at()).abs() <= Duration::minutes(3));
            let evidence = record.evidence().unwrap();
            assert!(evidence.starts_with("gpt-4o outputs 1."), "{evidence}");
            assert_eq!(
                record.summary(),
                format!("model gpt-4o → outputs changed (inferred from outputs: {evidence})")
            );
        }

        #[test]
        fn a_served_model_change_at_the_same_time_names_it_instead() {
            let mut log = ChangeLog::default();
            observe(
                &mut log,
                &updated(2, |minute| {
                    Some(if minute >= UPDATE_MINUTE {
                        "gpt-4o-2024-11-20"
                    } else {
                        "gpt-4o-2024-08-06"
                    })
                }),
            );
            let [record] = log.records() else {
                panic!("{:#?}", log.records());
            };
            assert_eq!(record.origin, ChangeOrigin::InferredFromCalls);
            assert_eq!(
                record.change.transition(),
                "gpt-4o-2024-08-06 → gpt-4o-2024-11-20"
            );
        }

        #[test]
        fn a_served_model_change_seen_minutes_later_replaces_it() {
            let mut log = ChangeLog::default();
            // The gateway reports the alias as the served model until 14:20.
            let calls = updated(3, |minute| match minute {
                ..140 => Some("gpt-4o"),
                _ => Some("gpt-4o-2024-11-20"),
            });
            let renamed = start() + Duration::minutes(140);
            let (before, after) = calls.split_at(calls.partition_point(|c| c.ts < renamed));
            observe(&mut log, before);
            assert_eq!(
                log.records().iter().map(|r| r.origin).collect::<Vec<_>>(),
                [ChangeOrigin::InferredFromBehaviour]
            );
            observe(&mut log, after);
            let [record] = log.records() else {
                panic!("{:#?}", log.records());
            };
            assert_eq!(record.origin, ChangeOrigin::InferredFromCalls);
            assert_eq!(record.change.transition(), "gpt-4o → gpt-4o-2024-11-20");
            assert_eq!(record.id, 1, "the inferred change's id is kept");
        }

        #[test]
        fn a_feed_record_of_the_update_replaces_it() {
            let mut log = ChangeLog::default();
            observe(&mut log, &updated(4, |_| None));
            let inferred = log.records()[0].clone();
            assert!(log.record_feed(model_change(update_at())).is_none());
            let [record] = log.records() else {
                panic!("{:#?}", log.records());
            };
            assert_eq!(record.origin, ChangeOrigin::Feed);
            assert_eq!(record.id, inferred.id);
            // A record that came first is not inferred again.
            let mut log = ChangeLog::default();
            log.record_feed(model_change(update_at()));
            observe(&mut log, &updated(4, |_| None));
            assert_eq!(log.records().len(), 1, "{:#?}", log.records());
        }

        #[test]
        fn a_prompt_deploy_from_a_feed_explains_the_shift_of_its_feature() {
            // One feature alone on its model, its calls saying no prompt version, and the
            // deploy making its answers brief.
            let brief = |seed| {
                calls(seed, &FEATURES[..1], (0, 200), |minute, _| Conditions {
                    brief: minute >= UPDATE_MINUTE,
                    ..Conditions::default()
                })
            };
            let mut unannounced = ChangeLog::default();
            observe(&mut unannounced, &brief(5));
            assert_eq!(unannounced.records().len(), 1, "the test needs a shift");
            let mut announced = ChangeLog::default();
            let deploy: Change = serde_json::from_value(serde_json::json!({
                "ts": update_at().to_rfc3339(), "kind": "prompt_deploy",
                "target": "support-answer", "from": "v1", "to": "v1-brief"
            }))
            .unwrap();
            announced.record_feed(deploy);
            observe(&mut announced, &brief(5));
            assert_eq!(
                announced.records().len(),
                1,
                "only the deploy: {:#?}",
                announced.records()
            );
        }
    }

    #[test]
    fn an_announced_prompt_deploy_is_not_inferred_again() {
        let mut log = ChangeLog::default();
        log.observe_call(&call("2026-03-14T13:00:00Z", "m", "v7"));
        let feed: Change = serde_json::from_value(serde_json::json!({
            "ts": "2026-03-14T13:35:00Z", "kind": "prompt_deploy", "target": "support-answer",
            "from": "v7", "to": "v8"
        }))
        .unwrap();
        assert!(log.record_feed(feed).is_some());
        assert!(
            log.observe_call(&call("2026-03-14T13:35:10Z", "m", "v8"))
                .is_none()
        );
    }
}
