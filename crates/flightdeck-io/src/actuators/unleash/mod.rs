//! Mitigations on an Unleash server through its admin API: a kill switch that turns a flag off
//! in one environment (and back on), and a model pin that gives the flag's first strategy a
//! variant whose JSON payload names a dated model snapshot (and puts the old variants back).

mod client;

use reqwest::Method;
use serde_json::{Value, json};

use self::client::{Read, UnleashClient};
use crate::actuators::{Actuator, ActuatorError, Applied};
use crate::config::actuators::{KillSwitchConfig, ModelPinConfig, UnleashConfig};
use crate::http::shown_url;
use crate::model::mitigation::is_production_name;
use crate::model::{MitigationKind, MitigationPlan};

const BACKEND: &str = "unleash";

const ON: &str = "on";
const OFF: &str = "off";
const ON_LABEL: &str = "on (AI serving)";
const OFF_LABEL: &str = "off (fallback)";
const FLOATING: &str = "floating (no pin)";

/// The name confirming asks for, when the environment is production or the config says so.
fn confirm_name(environment: &str, production: Option<bool>, name: &str) -> Option<String> {
    production
        .unwrap_or_else(|| is_production_name(environment))
        .then(|| name.to_owned())
}

/// A read just before a write that failed: the same kind of error, saying nothing was changed.
fn re_read_failed(error: ActuatorError) -> ActuatorError {
    error.reworded(|reason| {
        format!("could not re-read the flag before changing it: {reason}; nothing was changed")
    })
}

/// Turns the AI feature off by turning its flag off in the environment, and back on.
pub struct KillSwitch {
    client: UnleashClient,
    flag: String,
    confirm_name: Option<String>,
}

impl KillSwitch {
    /// From `[actuators.unleash]` and `[mitigations.kill_switch]` with `backend = "unleash"`.
    pub fn from_config(
        unleash: &UnleashConfig,
        kill_switch: &KillSwitchConfig,
        timeout_ms: u64,
    ) -> Result<Self, ActuatorError> {
        let KillSwitchConfig::Unleash { flag, production } = kill_switch else {
            return Err(ActuatorError::Misconfigured(
                "[mitigations.kill_switch] does not name backend \"unleash\", so Unleash cannot \
                 carry it out"
                    .into(),
            ));
        };
        let client = UnleashClient::new(unleash, timeout_ms)?;
        Ok(Self {
            confirm_name: confirm_name(&client.environment, *production, flag),
            client,
            flag: flag.clone(),
        })
    }

    fn target(&self) -> String {
        format!("flag {} in {}", self.flag, self.client.environment)
    }

    /// "on" or "off", as the admin API says now.
    async fn state(&self) -> Result<Read<&'static str>, ActuatorError> {
        Ok(match self.client.environment_of(&self.flag).await? {
            Read::Found(environment) if environment.enabled => Read::Found(ON),
            Read::Found(_) => Read::Found(OFF),
            Read::Missing(reason) => Read::Missing(reason),
        })
    }

    fn switch_url(&self, to: &str) -> reqwest::Url {
        self.client.environment_url(&self.flag, &[to])
    }

    /// The plan that moves the flag from one state to the other.
    fn plan_from(&self, from: &'static str) -> MitigationPlan {
        let (to, from_label, to_label) = if from == ON {
            (OFF, ON_LABEL, OFF_LABEL)
        } else {
            (ON, OFF_LABEL, ON_LABEL)
        };
        MitigationPlan {
            target: self.target(),
            operation: format!("POST {}", self.switch_url(to).path()),
            from: from_label.into(),
            to: to_label.into(),
            from_id: from.into(),
            to_id: to.into(),
            confirm_name: self.confirm_name.clone(),
            ..MitigationPlan::new(MitigationKind::KillSwitch, BACKEND)
        }
    }

    fn read_path(&self) -> String {
        self.client.feature_url(&self.flag, &[]).path().to_owned()
    }

    /// The plan that puts the flag back where `applied` found it.
    fn revert(&self, applied: &MitigationPlan) -> Option<MitigationPlan> {
        let back_from = match applied.to_id.as_str() {
            ON => ON,
            OFF => OFF,
            _ => return None,
        };
        Some(MitigationPlan {
            undo: true,
            ..self.plan_from(back_from)
        })
    }
}

impl Actuator for KillSwitch {
    fn kind(&self) -> MitigationKind {
        MitigationKind::KillSwitch
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn read(&self) -> Result<MitigationPlan, ActuatorError> {
        Ok(match self.state().await? {
            Read::Found(state) => self.plan_from(state),
            Read::Missing(reason) => MitigationPlan {
                target: self.target(),
                ..MitigationPlan::unavailable(MitigationKind::KillSwitch, BACKEND, &reason)
            },
        })
    }

    fn preview(&self, plan: &MitigationPlan, _incident: Option<&str>) -> String {
        if let Some(reason) = &plan.unavailable {
            return format!("nothing would be sent: {reason}");
        }
        format!(
            "POST {}\n{}\n(no body)",
            shown_url(&self.switch_url(&plan.to_id)),
            self.client.authorization()
        )
    }

    async fn apply(
        &self,
        plan: &MitigationPlan,
        _incident: Option<&str>,
    ) -> Result<Applied, ActuatorError> {
        if let Some(reason) = &plan.unavailable {
            return Err(ActuatorError::Unavailable(format!(
                "cannot apply: {reason}"
            )));
        }
        if ![ON, OFF].contains(&plan.to_id.as_str()) {
            return Err(ActuatorError::Unavailable(format!(
                "cannot apply: the plan's target state {:?} is neither on nor off",
                plan.to_id
            )));
        }
        match self.state().await.map_err(re_read_failed)? {
            Read::Found(state) if state == plan.from_id => {}
            Read::Found(state) => {
                let label = if state == ON { ON_LABEL } else { OFF_LABEL };
                return Err(ActuatorError::MovedSinceRead { now: label.into() });
            }
            Read::Missing(reason) => return Err(ActuatorError::MovedSinceRead { now: reason }),
        }
        let url = self.switch_url(&plan.to_id);
        let (status, _) = self.client.write(Method::POST, &url, None).await?;
        Ok(Applied {
            answer: format!("POST {} → {status}", url.path()),
            undo: self.revert(plan),
        })
    }

    async fn verify(&self, plan: &MitigationPlan) -> Result<String, ActuatorError> {
        let read = format!("GET {}", self.read_path());
        match self.state().await? {
            Read::Found(state) if state == plan.to_id => Ok(format!(
                "{read}: {} is {state} in {}",
                self.flag, self.client.environment
            )),
            Read::Found(state) => Err(ActuatorError::ReadBackDisagrees {
                found: format!(
                    "{read} says {} is {state} in {}, not {}",
                    self.flag, self.client.environment, plan.to_id
                ),
            }),
            Read::Missing(reason) => Err(ActuatorError::ReadBackDisagrees {
                found: format!("{read}: {reason}"),
            }),
        }
    }
}

/// Pins the model: the flag's first strategy in the environment gets one variant whose JSON
/// payload names the model, which the app reads instead of its floating alias.
pub struct ModelPin {
    client: UnleashClient,
    flag: String,
    model: String,
    payload_key: String,
    variant: String,
    confirm_name: Option<String>,
}

/// The flag in the environment as the pin sees it.
struct PinState {
    enabled: bool,
    /// The strategy clients evaluate first (lowest sortOrder, not disabled), as read.
    first: Option<Value>,
    /// How many strategies clients evaluate.
    active: usize,
}

impl PinState {
    fn variants(&self) -> Value {
        variants_of(self.first.as_ref())
    }

    fn strategy_id(&self) -> Option<&str> {
        self.first.as_ref()?.get("id")?.as_str()
    }

    /// Why a pin on the first strategy would not reach every call, if it would not. Unleash
    /// serves variants from the first strategy that matches a user: a strategy that matches
    /// everyone covers every call, and one that selects some users leaves the rest to the others.
    fn partial(&self) -> Option<String> {
        let first = self.first.as_ref()?;
        let mut gaps = Vec::new();
        let count = |key: &str| first.get(key).and_then(Value::as_array).map_or(0, Vec::len);
        let name = first
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !matches!(name, "default" | "flexibleRollout") {
            gaps.push(format!("a {name} strategy selects only some users"));
        }
        match count("constraints") {
            0 => {}
            1 => gaps.push("only the users its constraint selects".into()),
            n => gaps.push(format!("only the users its {n} constraints select")),
        }
        match count("segments") {
            0 => {}
            1 => gaps.push("only the users its segment selects".into()),
            n => gaps.push(format!("only the users its {n} segments select")),
        }
        let rollout = first
            .get("parameters")
            .and_then(|p| p.get("rollout"))
            .and_then(|r| r.as_f64().or_else(|| r.as_str()?.trim().parse().ok()));
        if let Some(rollout) = rollout.filter(|r| *r < 100.0) {
            gaps.push(format!("rollout {rollout}%"));
        }
        if gaps.is_empty() {
            return None;
        }
        match self.active - 1 {
            0 => {}
            1 => gaps.push("the other strategy serves the rest unpinned".into()),
            others => gaps.push(format!(
                "the other {others} strategies serve the rest unpinned"
            )),
        }
        Some(format!("partial: {}", gaps.join(", ")))
    }
}

fn variants_of(strategy: Option<&Value>) -> Value {
    strategy
        .and_then(|strategy| strategy.get("variants"))
        .filter(|variants| variants.is_array())
        .cloned()
        .unwrap_or_else(|| json!([]))
}

impl ModelPin {
    /// From `[actuators.unleash]` and `[mitigations.model_pin]` with `backend = "unleash"`.
    pub fn from_config(
        unleash: &UnleashConfig,
        model_pin: &ModelPinConfig,
        timeout_ms: u64,
    ) -> Result<Self, ActuatorError> {
        let ModelPinConfig::Unleash {
            flag,
            model,
            payload_key,
            variant,
            production,
        } = model_pin
        else {
            return Err(ActuatorError::Misconfigured(
                "[mitigations.model_pin] does not name backend \"unleash\", so Unleash cannot \
                 carry it out"
                    .into(),
            ));
        };
        let client = UnleashClient::new(unleash, timeout_ms)?;
        Ok(Self {
            confirm_name: confirm_name(&client.environment, *production, flag),
            client,
            flag: flag.clone(),
            model: model.clone(),
            payload_key: payload_key.clone(),
            variant: variant.clone(),
        })
    }

    fn target(&self, state: Option<&PinState>) -> String {
        let target = format!("flag {} in {}", self.flag, self.client.environment);
        match state.and_then(PinState::partial) {
            Some(partial) => format!("{target}, its first strategy ({partial})"),
            None => target,
        }
    }

    /// The flag's strategies as the admin API gives them now.
    async fn state(&self) -> Result<Read<PinState>, ActuatorError> {
        let environment = match self.client.environment_of(&self.flag).await? {
            Read::Found(environment) => environment,
            Read::Missing(reason) => return Ok(Read::Missing(reason)),
        };
        let mut active: Vec<Value> = environment
            .strategies
            .into_iter()
            // Only objects are strategies; anything else from the server is not written back.
            .filter(|strategy| {
                strategy.is_object() && strategy.get("disabled") != Some(&Value::Bool(true))
            })
            .collect();
        active.sort_by_key(|strategy| strategy.get("sortOrder").and_then(Value::as_i64));
        Ok(Read::Found(PinState {
            enabled: environment.enabled,
            active: active.len(),
            first: active.into_iter().next(),
        }))
    }

    /// The one variant that pins the model.
    fn pinned_variants(&self) -> Value {
        json!([{
            "name": self.variant,
            "weight": 1000,
            "weightType": "variable",
            "stickiness": "default",
            "payload": {
                "type": "json",
                "value": json!({ &self.payload_key: self.model }).to_string(),
            },
        }])
    }

    /// The model a variant's JSON payload names under the payload key, if it names one.
    fn model_of(&self, variant: &Value) -> Option<String> {
        let payload = variant.pointer("/payload/value")?.as_str()?;
        let payload = serde_json::from_str::<Value>(payload).ok()?;
        payload.get(&self.payload_key)?.as_str().map(str::to_owned)
    }

    /// The models the variants' payloads name, each once, in order.
    fn models(&self, variants: &Value) -> Vec<String> {
        let mut models: Vec<String> = Vec::new();
        for model in variants
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| self.model_of(v))
        {
            if !models.contains(&model) {
                models.push(model);
            }
        }
        models
    }

    /// The variants as a person reads them: the model they pin, or that they pin none.
    fn describe(&self, variants: &Value) -> String {
        match self.models(variants).as_slice() {
            [] => FLOATING.into(),
            [model] => model.clone(),
            models => format!("split between {}", models.join(", ")),
        }
    }

    /// `PUT` to the strategy clients evaluate first, or `POST` a new one when there is none.
    fn request_for(&self, first: Option<&Value>) -> (Method, reqwest::Url) {
        match first.and_then(|strategy| strategy.get("id")?.as_str()) {
            Some(id) => (
                Method::PUT,
                self.client.environment_url(&self.flag, &["strategies", id]),
            ),
            None => (
                Method::POST,
                self.client.environment_url(&self.flag, &["strategies"]),
            ),
        }
    }

    fn operation(&self, first: Option<&Value>) -> String {
        let (method, url) = self.request_for(first);
        format!("{method} {}", url.path())
    }

    /// The strategy as read with `variants` in place of its own, or a new strategy for all.
    fn body(&self, first: Option<&Value>, variants: Value) -> Value {
        match first {
            Some(strategy) => {
                let mut body = strategy.clone();
                body["variants"] = variants;
                body
            }
            None => json!({
                "name": "flexibleRollout",
                "constraints": [],
                "parameters": {
                    "rollout": "100",
                    "stickiness": "default",
                    "groupId": self.flag,
                },
                "variants": variants,
            }),
        }
    }

    fn read_path(&self) -> String {
        self.client.feature_url(&self.flag, &[]).path().to_owned()
    }

    /// "strategy X serves Y" for read-backs and refusals.
    fn state_text(&self, state: &PinState) -> String {
        match (state.strategy_id(), state.partial()) {
            (Some(id), None) => {
                format!("strategy {id} serves {}", self.describe(&state.variants()))
            }
            (Some(id), Some(partial)) => format!(
                "strategy {id} serves {} ({partial})",
                self.describe(&state.variants())
            ),
            (None, _) => format!("no strategy in {}", self.client.environment),
        }
    }
}

/// A plan's variants id back as JSON; the ids are the variants arrays as JSON text.
fn variants_id(id: &str) -> Result<Value, ActuatorError> {
    serde_json::from_str::<Value>(id)
        .ok()
        .filter(Value::is_array)
        .ok_or_else(|| {
            ActuatorError::Unavailable(format!(
                "cannot apply: the plan's variants {id:?} are not a JSON array"
            ))
        })
}

impl Actuator for ModelPin {
    fn kind(&self) -> MitigationKind {
        MitigationKind::ModelPin
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn read(&self) -> Result<MitigationPlan, ActuatorError> {
        let unavailable = |reason: &str, state: Option<&PinState>| MitigationPlan {
            target: self.target(state),
            ..MitigationPlan::unavailable(MitigationKind::ModelPin, BACKEND, reason)
        };
        let state = match self.state().await? {
            Read::Found(state) => state,
            Read::Missing(reason) => return Ok(unavailable(&reason, None)),
        };
        if !state.enabled {
            return Ok(unavailable(
                &format!(
                    "flag {} is off in {}: clients get no variant from it, so they would not \
                     see a pin; turn the flag on first",
                    self.flag, self.client.environment
                ),
                Some(&state),
            ));
        }
        let current = state.variants();
        let pinned_already = current.as_array().is_some_and(|variants| {
            !variants.is_empty()
                && variants
                    .iter()
                    .all(|variant| self.model_of(variant).as_ref() == Some(&self.model))
        });
        if pinned_already {
            return Ok(unavailable(
                &format!(
                    "flag {} already pins {} in {}",
                    self.flag, self.model, self.client.environment
                ),
                Some(&state),
            ));
        }
        Ok(MitigationPlan {
            target: self.target(Some(&state)),
            operation: self.operation(state.first.as_ref()),
            from: self.describe(&current),
            to: self.model.clone(),
            from_id: current.to_string(),
            to_id: self.pinned_variants().to_string(),
            confirm_name: self.confirm_name.clone(),
            read_state: state.first,
            ..MitigationPlan::new(MitigationKind::ModelPin, BACKEND)
        })
    }

    fn preview(&self, plan: &MitigationPlan, _incident: Option<&str>) -> String {
        if let Some(reason) = &plan.unavailable {
            return format!("nothing would be sent: {reason}");
        }
        let variants = variants_id(&plan.to_id).unwrap_or(Value::Null);
        let pretty =
            |body: &Value| serde_json::to_string_pretty(body).unwrap_or_else(|_| body.to_string());
        // A plan without the strategy it was read from (made elsewhere) names only the request.
        let read = plan.read_state.as_ref();
        if read.is_none() && !plan.operation.starts_with("POST ") {
            return format!(
                "{}\n{}\nContent-Type: application/json\n\nthe strategy as Unleash holds it \
                 then, with these variants:\n{}",
                plan.operation,
                self.client.authorization(),
                pretty(&variants)
            );
        }
        let (method, url) = self.request_for(read);
        format!(
            "{method} {}\n{}\nContent-Type: application/json\n\n{}",
            shown_url(&url),
            self.client.authorization(),
            pretty(&self.body(read, variants))
        )
    }

    /// Re-reads the flag, so that a change made since the plan was read is refused; the body
    /// starts from the strategy as Unleash holds it now, keeping what others changed in it.
    async fn apply(
        &self,
        plan: &MitigationPlan,
        _incident: Option<&str>,
    ) -> Result<Applied, ActuatorError> {
        if let Some(reason) = &plan.unavailable {
            return Err(ActuatorError::Unavailable(format!(
                "cannot apply: {reason}"
            )));
        }
        let (from, to) = (variants_id(&plan.from_id)?, variants_id(&plan.to_id)?);
        let state = match self.state().await.map_err(re_read_failed)? {
            Read::Found(state) => state,
            Read::Missing(reason) => return Err(ActuatorError::MovedSinceRead { now: reason }),
        };
        if state.variants() != from || self.operation(state.first.as_ref()) != plan.operation {
            return Err(ActuatorError::MovedSinceRead {
                now: self.state_text(&state),
            });
        }
        let (method, url) = self.request_for(state.first.as_ref());
        let body = self.body(state.first.as_ref(), to);
        let (status, answer) = self.client.write(method.clone(), &url, Some(&body)).await?;
        // Unleash answers with the strategy as written: after a POST, the only place its id
        // shows. A PUT wrote the strategy it names, as sent.
        let written = serde_json::from_str::<Value>(&answer)
            .ok()
            .filter(|written| written.get("id").is_some_and(Value::is_string))
            .or_else(|| (method == Method::PUT).then_some(body));
        Ok(Applied {
            answer: format!("{method} {} → {status}", url.path()),
            undo: written.map(|written| MitigationPlan {
                read_state: Some(written.clone()),
                ..plan.reversed(self.operation(Some(&written)))
            }),
        })
    }

    async fn verify(&self, plan: &MitigationPlan) -> Result<String, ActuatorError> {
        let read = format!("GET {}", self.read_path());
        let expected = variants_id(&plan.to_id)?;
        match self.state().await? {
            Read::Found(state) if state.variants() == expected => {
                Ok(format!("{read}: {}", self.state_text(&state)))
            }
            Read::Found(state) => Err(ActuatorError::ReadBackDisagrees {
                found: format!("{read}: {}, not {}", self.state_text(&state), plan.to),
            }),
            Read::Missing(reason) => Err(ActuatorError::ReadBackDisagrees {
                found: format!("{read}: {reason}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(production: Option<bool>, environment: &str) -> ModelPin {
        // SAFETY: only this test module reads the variable, and nothing here reads the
        // environment through libc.
        unsafe { std::env::set_var("FLIGHTDECK_UNIT_UNLEASH_TOKEN", "unit-token") };
        let unleash = UnleashConfig {
            url: "http://127.0.0.1:9".into(),
            token_env: "FLIGHTDECK_UNIT_UNLEASH_TOKEN".into(),
            project: "default".into(),
            environment: environment.into(),
        };
        let model_pin = ModelPinConfig::Unleash {
            flag: "support-model".into(),
            model: "gpt-4o-2024-08-06".into(),
            payload_key: "llm".into(),
            variant: "pinned".into(),
            production,
        };
        ModelPin::from_config(&unleash, &model_pin, 1_000).unwrap()
    }

    fn variant(payload: &str) -> Value {
        json!({"name": "v", "payload": {"type": "json", "value": payload}})
    }

    #[test]
    fn confirming_asks_for_the_flag_in_production_unless_the_config_says_otherwise() {
        assert_eq!(
            pin(None, "production").confirm_name.as_deref(),
            Some("support-model")
        );
        assert_eq!(pin(None, "staging").confirm_name, None);
        assert_eq!(
            pin(Some(true), "staging").confirm_name.as_deref(),
            Some("support-model")
        );
        assert_eq!(pin(Some(false), "production").confirm_name, None);
    }

    #[test]
    fn the_pinned_variant_carries_the_model_under_the_payload_key() {
        let pin = pin(None, "production");
        let pinned = pin.pinned_variants();
        assert_eq!(
            pinned,
            json!([{
                "name": "pinned",
                "weight": 1000,
                "weightType": "variable",
                "stickiness": "default",
                "payload": {"type": "json", "value": r#"{"llm":"gpt-4o-2024-08-06"}"#},
            }])
        );
        assert_eq!(pin.describe(&pinned), "gpt-4o-2024-08-06");
    }

    #[test]
    fn variants_read_as_the_models_their_payloads_name() {
        let pin = pin(None, "production");
        assert_eq!(pin.describe(&json!([])), FLOATING);
        let no_model = json!([variant(r#"{"model":"other-key"}"#), variant("not json")]);
        assert_eq!(pin.describe(&no_model), FLOATING);
        let split = json!([
            variant(r#"{"llm":"gpt-4o"}"#),
            variant(r#"{"llm":"gpt-4o-mini"}"#),
            variant(r#"{"llm":"gpt-4o"}"#),
        ]);
        assert_eq!(pin.describe(&split), "split between gpt-4o, gpt-4o-mini");
    }

    #[test]
    fn a_pin_says_when_its_strategy_does_not_reach_every_call() {
        let state = |first: Value, active: usize| PinState {
            enabled: true,
            first: Some(first),
            active,
        };
        let everyone = json!({"name": "flexibleRollout", "parameters": {"rollout": "100"},
                              "constraints": [], "segments": []});
        assert_eq!(
            state(everyone.clone(), 3).partial(),
            None,
            "the first serves everyone"
        );
        assert_eq!(state(json!({"name": "default"}), 2).partial(), None);
        let half = json!({"name": "flexibleRollout", "parameters": {"rollout": 50.5},
                          "constraints": [{"contextName": "appName"}], "segments": [1, 2]});
        assert_eq!(
            state(half, 2).partial().unwrap(),
            "partial: only the users its constraint selects, only the users its 2 segments \
             select, rollout 50.5%, the other strategy serves the rest unpinned"
        );
        assert_eq!(
            state(json!({"name": "userWithId", "parameters": {}}), 1)
                .partial()
                .unwrap(),
            "partial: a userWithId strategy selects only some users"
        );
        let mut quarter = everyone;
        quarter["parameters"]["rollout"] = json!("25");
        assert_eq!(state(quarter, 1).partial().unwrap(), "partial: rollout 25%");
    }
}
