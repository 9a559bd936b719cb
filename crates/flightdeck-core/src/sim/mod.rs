//! The embedded AI-service simulator: a customer-support assistant on a virtual clock, driven
//! by a scenario, that reacts to mitigations as the real system would. Pure and deterministic.

pub mod assistant;
pub mod generate;
pub mod rng;
pub mod scenario;
pub mod slow_burn;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use self::assistant::{INTENTS, Malformation};
use self::rng::Rng;
use self::scenario::{ProviderSpec, Scenario, Topic, WorldEvent};
use crate::engine::changes::MITIGATION_AUTHOR;
use crate::engine::signals::schema::SchemaRegistry;
use crate::model::mitigation::state_moved;
use crate::model::{
    Call, CallStatus, Change, ChangeKind, Eval, Feedback, MitigationKind, MitigationPlan,
    MitigationStage,
};

/// What the simulated world emits, in time order.
#[derive(Debug, Clone, PartialEq)]
pub enum SimOutput {
    Call(Box<Call>),
    Change(Box<Change>),
}

impl SimOutput {
    /// Splits a batch into its calls and its changes, each in time order.
    pub fn split(outputs: Vec<SimOutput>) -> (Vec<Call>, Vec<Change>) {
        let mut calls = Vec::new();
        let mut changes = Vec::new();
        for output in outputs {
            match output {
                SimOutput::Call(call) => calls.push(*call),
                SimOutput::Change(change) => changes.push(*change),
            }
        }
        (calls, changes)
    }
}

/// The plan that puts back what `applied` changed in the simulator.
pub fn revert(applied: &MitigationPlan) -> MitigationPlan {
    applied.reversed(format!("{} (undo)", applied.operation))
}

/// The result of a mitigation applied to the simulator.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The change record the control plane emits for it.
    pub change: Change,
    /// The state read back after the change.
    pub read_back: String,
}

const BACKEND: &str = "simulator";
const FALLBACK_MODEL: &str = "static-fallback";

pub struct Simulator {
    scenario: Scenario,
    rng: Rng,
    now: DateTime<Utc>,
    next_arrival: DateTime<Utc>,
    next_event: usize,
    calls: u64,
    /// Prompt versions in the order they went live; the last is live.
    prompt_history: Vec<usize>,
    /// Snapshots the alias has served, in order; the last is served now.
    served_history: Vec<usize>,
    pinned: Option<usize>,
    /// Prompt versions a rollback moved away from: never a rollback target again.
    rolled_back: Vec<usize>,
    fallback_on: bool,
    /// A prompt canary: the previous version and the share of calls the live one takes.
    prompt_canary: Option<(usize, f64)>,
    /// A snapshot rolling out: the previous snapshot and the share the new one serves.
    model_canary: Option<(usize, f64)>,
    weights: Vec<f64>,
    provider: ProviderSpec,
}

impl Simulator {
    pub fn new(scenario: Scenario, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mean_gap = 60.0 / scenario.calls_per_minute;
        let first = scenario.start + seconds(rng.exponential(mean_gap));
        Self {
            rng,
            now: scenario.start,
            next_arrival: first,
            next_event: 0,
            calls: 0,
            prompt_history: vec![scenario.initial_prompt],
            served_history: vec![scenario.initial_model],
            pinned: None,
            rolled_back: Vec::new(),
            fallback_on: false,
            prompt_canary: None,
            model_canary: None,
            weights: scenario.initial_weights(),
            provider: scenario.provider,
            scenario,
        }
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Runs the world up to `until`: scheduled events and calls, in time order.
    pub fn advance_to(&mut self, until: DateTime<Utc>) -> Vec<SimOutput> {
        let mut out = Vec::new();
        loop {
            let event_at = self.scenario.events.get(self.next_event).map(|e| e.at);
            let next = match event_at {
                Some(at) if at <= self.next_arrival => at,
                _ => self.next_arrival,
            };
            if next > until {
                break;
            }
            self.now = next;
            if event_at == Some(next) {
                let event = self.scenario.events[self.next_event].event.clone();
                self.next_event += 1;
                if let Some(change) = self.happen(event) {
                    out.push(SimOutput::Change(Box::new(change)));
                }
            } else {
                out.push(SimOutput::Call(Box::new(self.call())));
                let gap = self.rng.exponential(60.0 / self.scenario.calls_per_minute);
                self.next_arrival = self.now + seconds(gap);
            }
        }
        self.now = until.max(self.now);
        out
    }

    fn happen(&mut self, event: WorldEvent) -> Option<Change> {
        match event {
            WorldEvent::DeployPrompt {
                version,
                author,
                note,
                canary,
            } => {
                let change = self.prompt_change(version, author, note);
                self.prompt_canary = canary.map(|share| (self.live_prompt(), share));
                self.prompt_history.push(version);
                Some(change)
            }
            WorldEvent::ServeSnapshot { model, canary } => {
                self.model_canary = canary.map(|share| (self.served_model(), share));
                self.served_history.push(model);
                None
            }
            WorldEvent::Traffic { source, weight } => {
                self.weights[source] = weight;
                None
            }
            WorldEvent::Provider(spec) => {
                self.provider = spec;
                None
            }
        }
    }

    fn prompt_change(
        &self,
        version: usize,
        author: Option<String>,
        note: Option<String>,
    ) -> Change {
        let live = &self.scenario.prompts[self.live_prompt()];
        let next = &self.scenario.prompts[version];
        Change {
            ts: self.now,
            kind: ChangeKind::PromptDeploy,
            target: self.scenario.feature.name.clone(),
            from: Some(live.version.clone()),
            to: Some(next.version.clone()),
            feature: Some(self.scenario.feature.name.clone()),
            author,
            note,
            text_from: Some(live.text.clone()),
            text_to: Some(next.text.clone()),
            extra: BTreeMap::new(),
        }
    }

    /// The prompt version one call runs with: the live one, or the previous one for the calls
    /// outside a canary.
    fn prompt_for_call(&mut self) -> usize {
        match self.prompt_canary {
            Some((previous, share)) if !self.rng.chance(share) => previous,
            _ => self.live_prompt(),
        }
    }

    /// The snapshot that answers one call, with a rollout in progress taken into account.
    fn model_for_call(&mut self) -> usize {
        match self.model_canary {
            Some((previous, share)) if self.pinned.is_none() && !self.rng.chance(share) => previous,
            _ => self.served_model(),
        }
    }

    fn live_prompt(&self) -> usize {
        *self.prompt_history.last().expect("a prompt is always live")
    }

    fn served_model(&self) -> usize {
        self.pinned.unwrap_or_else(|| {
            *self
                .served_history
                .last()
                .expect("a model is always served")
        })
    }

    /// The last known-good prompt version: the newest one live before the current one that no
    /// rollback has moved away from.
    fn rollback_target(&self) -> Option<usize> {
        let live = self.live_prompt();
        self.prompt_history
            .iter()
            .rev()
            .copied()
            .find(|v| *v != live && !self.rolled_back.contains(v))
    }

    /// The snapshot the alias served before its latest move, else the one it serves now.
    fn pin_target(&self) -> usize {
        let served = *self
            .served_history
            .last()
            .expect("a model is always served");
        self.served_history
            .iter()
            .rev()
            .copied()
            .find(|m| *m != served)
            .unwrap_or(served)
    }

    /// What each mitigation would do now, read from the simulated control plane.
    pub fn plans(&self) -> Vec<MitigationPlan> {
        let feature = &self.scenario.feature;
        let prompts = &self.scenario.prompts;
        let models = &self.scenario.models;
        let live = &prompts[self.live_prompt()].version;
        let rollback = MitigationPlan {
            target: format!("prompt {}", feature.name),
            operation: "set the live prompt version".into(),
            from: live.clone(),
            to: self
                .rollback_target()
                .map_or_else(|| "—".into(), |v| prompts[v].version.clone()),
            from_id: self.live_prompt().to_string(),
            to_id: self
                .rollback_target()
                .map_or_else(String::new, |v| v.to_string()),
            unavailable: self
                .rollback_target()
                .is_none()
                .then(|| format!("no known-good version before {live}")),
            ..MitigationPlan::new(MitigationKind::PromptRollback, BACKEND)
        };
        let requested = self.requested_model();
        let pin_to = models[self.pin_target()].snapshot.clone();
        let pin = MitigationPlan {
            target: format!("model for {}", feature.name),
            operation: "set the requested model".into(),
            from: requested.clone(),
            to: pin_to.clone(),
            from_id: requested.clone(),
            to_id: pin_to.clone(),
            unavailable: (requested == pin_to).then(|| format!("already pinned to {pin_to}")),
            ..MitigationPlan::new(MitigationKind::ModelPin, BACKEND)
        };
        let (from, to) = if self.fallback_on {
            ("off (fallback)", "on (AI)")
        } else {
            ("on (AI)", "off (fallback)")
        };
        let kill = MitigationPlan {
            target: format!("flag {}", feature.kill_switch_flag),
            operation: "toggle the feature flag".into(),
            from: from.into(),
            to: to.into(),
            from_id: if self.fallback_on { "off" } else { "on" }.into(),
            to_id: if self.fallback_on { "on" } else { "off" }.into(),
            ..MitigationPlan::new(MitigationKind::KillSwitch, BACKEND)
        };
        vec![rollback, pin, kill]
    }

    fn requested_model(&self) -> String {
        match self.pinned {
            Some(m) => self.scenario.models[m].snapshot.clone(),
            None => self.scenario.feature.model_alias.clone(),
        }
    }

    /// Carries out a confirmed plan as a backend would: the change it makes, if it made one, and
    /// the stages to report (applied and verified by read-back, or failed).
    pub fn mitigate(&mut self, plan: &MitigationPlan) -> (Option<Change>, Vec<MitigationStage>) {
        match self.apply(plan) {
            Ok(applied) => (
                Some(applied.change),
                vec![
                    MitigationStage::Applied {
                        answer: format!("{} → done", plan.operation),
                        undo: (!plan.undo).then(|| Box::new(revert(plan))),
                    },
                    MitigationStage::Verified {
                        read_back: applied.read_back,
                    },
                ],
            ),
            Err(reason) => (None, vec![MitigationStage::Failed { reason }]),
        }
    }

    /// Applies the plan the user confirmed (or its undo), unless the state moved since it was
    /// read; then reads the state back.
    pub fn apply(&mut self, confirmed: &MitigationPlan) -> Result<Applied, String> {
        let kind = confirmed.kind;
        let plan = self
            .plans()
            .into_iter()
            .find(|p| p.kind == kind)
            .expect("every kind has a plan");
        if plan.from_id != confirmed.from_id {
            return Err(state_moved(&plan.from));
        }
        if !confirmed.undo {
            if let Some(reason) = plan.unavailable {
                return Err(reason);
            }
            if plan.to_id != confirmed.to_id {
                return Err(state_moved(&format!("{} → {}", plan.from, plan.to)));
            }
        }
        let feature = self.scenario.feature.clone();
        let mut change = match kind {
            MitigationKind::PromptRollback => {
                let target: usize = confirmed
                    .to_id
                    .parse()
                    .ok()
                    .filter(|v| *v < self.scenario.prompts.len())
                    .ok_or_else(|| format!("no prompt version {:?}", confirmed.to_id))?;
                let change = self.prompt_change(target, None, None);
                if confirmed.undo {
                    self.rolled_back.retain(|v| *v != target);
                } else {
                    self.rolled_back.push(self.live_prompt());
                }
                self.prompt_canary = None;
                self.prompt_history.push(target);
                change
            }
            MitigationKind::ModelPin => {
                let from = self.requested_model();
                self.pinned = (!confirmed.undo).then(|| self.pin_target());
                Change {
                    ts: self.now,
                    kind: ChangeKind::ModelChange,
                    target: feature.name.clone(),
                    from: Some(from),
                    to: Some(self.requested_model()),
                    feature: Some(feature.name.clone()),
                    author: None,
                    note: None,
                    text_from: None,
                    text_to: None,
                    extra: BTreeMap::new(),
                }
            }
            MitigationKind::KillSwitch => {
                self.fallback_on = !self.fallback_on;
                Change {
                    ts: self.now,
                    kind: ChangeKind::FlagChange,
                    target: feature.kill_switch_flag.clone(),
                    from: Some(plan.from.clone()),
                    to: Some(plan.to.clone()),
                    feature: Some(feature.name.clone()),
                    author: None,
                    note: None,
                    text_from: None,
                    text_to: None,
                    extra: BTreeMap::new(),
                }
            }
        };
        change.author = Some(MITIGATION_AUTHOR.into());
        change.note = Some(format!("mitigation: {}", confirmed.action()));
        let read_back = format!(
            "live prompt {}, requested model {}, AI path {}",
            self.scenario.prompts[self.live_prompt()].version,
            self.requested_model(),
            if self.fallback_on {
                "off (fallback)"
            } else {
                "on"
            }
        );
        Ok(Applied { change, read_back })
    }

    fn call(&mut self) -> Call {
        self.calls += 1;
        let prompt = self.prompt_for_call();
        let source = self.rng.weighted(&self.weights);
        let topic = self.scenario.sources[source].topic;
        let order = 40_000 + self.rng.below(60_000) as u32;
        let (intent_name, input, context, citations) = match topic {
            Topic::Support => {
                let weights: Vec<f64> = INTENTS.iter().map(|i| i.weight).collect();
                let intent = &INTENTS[self.rng.weighted(&weights)];
                let question = *self.rng.pick(intent.questions);
                (
                    intent.name,
                    assistant::fill(question, &mut self.rng, order),
                    intent
                        .articles
                        .iter()
                        .map(|a| format!("[{}] {}", a.id, a.text))
                        .collect(),
                    intent.articles.iter().map(|a| a.id).collect::<Vec<_>>(),
                )
            }
            Topic::OffTopic => {
                let question = *self.rng.pick(assistant::OFF_TOPIC_QUESTIONS);
                let article = &INTENTS[self.rng.below(INTENTS.len())].articles[0];
                (
                    "other",
                    assistant::fill(question, &mut self.rng, order),
                    vec![format!("[{}] {}", article.id, article.text)],
                    vec![],
                )
            }
        };
        let mut attributes = BTreeMap::from([
            (
                "source".to_string(),
                json!(self.scenario.sources[source].name),
            ),
            ("intent".to_string(), json!(intent_name)),
        ]);
        attributes.insert(
            "region".into(),
            json!(if order.is_multiple_of(3) { "ca" } else { "us" }),
        );
        let mut call = Call {
            ts: self.now,
            feature: self.scenario.feature.name.clone(),
            model_requested: self.requested_model(),
            model_served: None,
            status: CallStatus::Ok,
            latency_ms: 0.0,
            request_id: Some(format!("req-{:08x}", self.calls)),
            provider: Some(self.scenario.feature.provider.clone()),
            prompt_id: Some(self.scenario.feature.name.clone()),
            prompt_version: Some(self.scenario.prompts[prompt].version.clone()),
            input: Some(input),
            output: None,
            context: Some(context),
            output_schema: Some(self.scenario.feature.output_schema.clone()),
            http_status: None,
            finish_reason: None,
            tokens_in: None,
            tokens_out: None,
            evals: BTreeMap::new(),
            feedback: None,
            should_answer: Some(topic == Topic::Support),
            input_embedding: None,
            output_embedding: None,
            attributes,
            extra: BTreeMap::new(),
        };
        if self.fallback_on {
            self.answer_with_fallback(&mut call, intent_name);
        } else {
            self.answer_with_model(&mut call, (prompt, topic), intent_name, &citations, order);
        }
        call
    }

    fn answer_with_fallback(&mut self, call: &mut Call, intent: &str) {
        call.model_requested = FALLBACK_MODEL.into();
        call.provider = None;
        call.prompt_id = None;
        call.prompt_version = None;
        // The static fallback retrieves nothing, so it has no context to be grounded in.
        call.context = None;
        call.latency_ms = self.rng.log_normal(35.0, 0.2);
        call.http_status = Some(200);
        call.output = Some(assistant::render_output(
            assistant::FALLBACK_ANSWER,
            &[],
            0.0,
            intent,
            None,
        ));
        self.maybe_evaluate(call, false);
        self.maybe_feedback(call, 0.45);
    }

    fn answer_with_model(
        &mut self,
        call: &mut Call,
        (prompt, topic): (usize, Topic),
        intent_name: &'static str,
        citations: &[&str],
        order: u32,
    ) {
        let model_index = self.model_for_call();
        let model = &self.scenario.models[model_index];
        let model_latency = model.latency_ms;
        let schema_violation = model.schema_violation;
        let hallucination_factor = model.hallucination_factor;
        call.model_served = Some(model.snapshot.clone());
        let provider = self.provider;
        let roll = self.rng.unit();
        let (status, http) = if roll < provider.rate_limited {
            (CallStatus::RateLimited, 429)
        } else if roll < provider.rate_limited + provider.timeout {
            (CallStatus::Timeout, 504)
        } else if roll < provider.rate_limited + provider.timeout + provider.error {
            (CallStatus::Error, *self.rng.pick(&[500, 502, 503]))
        } else {
            (CallStatus::Ok, 200)
        };
        call.status = status;
        call.http_status = Some(http);
        call.latency_ms = match status {
            CallStatus::Ok => self
                .rng
                .log_normal(model_latency * provider.latency_factor, 0.35),
            CallStatus::RateLimited => self.rng.log_normal(120.0, 0.3),
            CallStatus::Timeout => 30_000.0,
            CallStatus::Error => self.rng.log_normal(400.0, 0.5),
        }
        .round();
        if status != CallStatus::Ok {
            call.model_served = None;
            return;
        }
        let prompt = &self.scenario.prompts[prompt];
        let (p_refusal, p_hallucination) = match topic {
            Topic::Support => (prompt.refusal, prompt.hallucination * hallucination_factor),
            Topic::OffTopic => (0.45, 0.35),
        };
        let intent = INTENTS.iter().find(|i| i.name == intent_name);
        let behaviour = self.rng.unit();
        let (answer, hallucinated, confidence) = if behaviour < p_refusal {
            let pool = if topic == Topic::OffTopic {
                assistant::OFF_TOPIC_REFUSALS
            } else {
                assistant::REFUSALS
            };
            (self.rng.pick(pool).to_string(), false, 0.3)
        } else if behaviour < p_refusal + p_hallucination {
            let pool = intent.map_or(assistant::OFF_TOPIC_HALLUCINATIONS, |i| i.hallucinations);
            let template = *self.rng.pick(pool);
            let text = assistant::fill(template, &mut self.rng, order);
            (text, true, 0.9)
        } else {
            let text = match intent {
                Some(i) => {
                    let template = *self.rng.pick(i.answers);
                    assistant::fill(template, &mut self.rng, order)
                }
                None => assistant::OFF_TOPIC_REFUSALS[0].to_string(),
            };
            (text, false, 0.8 + 0.15 * self.rng.unit())
        };
        let malformation = self
            .rng
            .chance(schema_violation)
            .then(|| *self.rng.pick(&Malformation::ALL));
        let cited: Vec<&str> = if hallucinated {
            vec![]
        } else {
            citations.to_vec()
        };
        let output =
            assistant::render_output(&answer, &cited, confidence, intent_name, malformation);
        call.tokens_in = Some(380 + call.input.as_ref().map_or(0, |i| i.len() as u64 / 4));
        call.tokens_out = Some(output.len() as u64 / 4);
        call.finish_reason = Some("stop".into());
        call.output = Some(output);
        self.maybe_evaluate(call, hallucinated);
        let refused = answer.starts_with("I'm sorry") || answer.starts_with("I can");
        let p_down = if hallucinated {
            0.55
        } else if refused {
            0.5
        } else if malformation.is_some() {
            0.35
        } else {
            0.06
        };
        self.maybe_feedback(call, p_down);
    }

    /// The online evaluator labels a sample of calls.
    fn maybe_evaluate(&mut self, call: &mut Call, hallucinated: bool) {
        if self.rng.chance(self.scenario.eval_coverage) {
            call.evals.insert(
                "hallucination".into(),
                Eval::Graded {
                    score: Some(u8::from(hallucinated).into()),
                    label: Some(
                        if hallucinated {
                            "hallucinated"
                        } else {
                            "factual"
                        }
                        .into(),
                    ),
                    extra: BTreeMap::new(),
                },
            );
        }
    }

    fn maybe_feedback(&mut self, call: &mut Call, p_down: f64) {
        if self.rng.chance(self.scenario.feedback_rate) {
            call.feedback = Some(if self.rng.chance(p_down) {
                Feedback::Down
            } else {
                Feedback::Up
            });
        }
    }
}

fn seconds(x: f64) -> Duration {
    Duration::milliseconds((x * 1000.0) as i64)
}

/// The JSON Schemas the simulated feature's outputs must follow.
pub fn schema_registry() -> SchemaRegistry {
    let schema: Value = serde_json::from_str(include_str!(
        "../../../../assets/schemas/support_answer.json"
    ))
    .expect("the bundled schema is valid JSON");
    let mut registry = SchemaRegistry::default();
    registry
        .register("support_answer", &schema)
        .expect("the bundled schema is a valid JSON Schema");
    registry
}
