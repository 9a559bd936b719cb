//! The Unleash actuators against a real Unleash 8.2 (tests/backends/servers/unleash.sh): the kill
//! switch turns a flag off and back on, the model pin gives the flag's strategy a pinned variant
//! and its undo puts the old variants back exactly; each change is read back through the admin
//! API and through the client API as an app would. A plan whose state moved is refused, and a
//! wrong token is named without being shown.

mod support;

use std::time::{Duration, Instant};

use flightdeck::actuators::unleash::{KillSwitch, ModelPin};
use flightdeck::actuators::{Actuator, ActuatorError, Applied};
use flightdeck::config::actuators::{KillSwitchConfig, ModelPinConfig, UnleashConfig};
use flightdeck::model::{MitigationKind, MitigationPlan};
use reqwest::Method;
use serde_json::{Value, json};
use support::peers::unique;

const ADMIN_TOKEN_VAR: &str = "FLIGHTDECK_TEST_UNLEASH_ADMIN_TOKEN";
const PINNED_MODEL: &str = "gpt-4o-2024-08-06";
/// Clients see a change 0.3–1.1 s after the admin API made it.
const CLIENT_DELAY: Duration = Duration::from_secs(5);

/// The server and its two tokens, from the variables tests/backends/servers/unleash.sh exports.
struct Unleash {
    url: String,
    admin_token: String,
    client_token: String,
    http: reqwest::Client,
}

impl Unleash {
    fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is unset: run tests/backends/run.sh, which starts Unleash")
            })
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            url: var("FLIGHTDECK_TEST_UNLEASH"),
            admin_token: var(ADMIN_TOKEN_VAR),
            client_token: var("FLIGHTDECK_TEST_UNLEASH_CLIENT_TOKEN"),
            http: reqwest::Client::new(),
        }
    }

    fn config(&self, token_env: &str, environment: &str) -> UnleashConfig {
        UnleashConfig {
            url: self.url.clone(),
            token_env: token_env.into(),
            project: "default".into(),
            environment: environment.into(),
        }
    }

    fn kill_switch(&self, flag: &str) -> KillSwitch {
        let kill_switch = KillSwitchConfig::Unleash {
            flag: flag.into(),
            production: None,
        };
        KillSwitch::from_config(
            &self.config(ADMIN_TOKEN_VAR, "production"),
            &kill_switch,
            5_000,
        )
        .unwrap()
    }

    fn model_pin(&self, flag: &str) -> ModelPin {
        let model_pin = ModelPinConfig::Unleash {
            flag: flag.into(),
            model: PINNED_MODEL.into(),
            payload_key: "model".into(),
            variant: "pinned".into(),
            production: None,
        };
        ModelPin::from_config(
            &self.config(ADMIN_TOKEN_VAR, "production"),
            &model_pin,
            5_000,
        )
        .unwrap()
    }

    /// One admin API request of the test's own; fails the test unless it succeeds.
    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .header("Authorization", &self.admin_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path} → {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// A new flag, on in production with Unleash's default strategy when `on`.
    async fn flag(&self, prefix: &str, kind: &str, on: bool) -> String {
        let name = unique(prefix);
        let body = json!({"name": name, "type": kind});
        self.admin(
            Method::POST,
            "/api/admin/projects/default/features",
            Some(body),
        )
        .await;
        if on {
            self.admin(Method::POST, &format!("{}/on", production(&name)), None)
                .await;
        }
        name
    }

    async fn enabled_in_production(&self, flag: &str) -> bool {
        let feature = self
            .admin(
                Method::GET,
                &format!("/api/admin/projects/default/features/{flag}"),
                None,
            )
            .await;
        let production = feature["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|environment| environment["name"] == "production")
            .unwrap();
        production["enabled"].as_bool().unwrap()
    }

    async fn strategies(&self, flag: &str) -> Vec<Value> {
        let path = format!("{}/strategies", production(flag));
        let strategies = self.admin(Method::GET, &path, None).await;
        strategies.as_array().unwrap().clone()
    }

    /// Polls the client API, as an app's SDK reads the flag, until `done` holds for it.
    async fn client_sees(&self, flag: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + CLIENT_DELAY;
        loop {
            let feature: Value = self
                .http
                .get(format!("{}/api/client/features/{flag}", self.url))
                .header("Authorization", &self.client_token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if done(&feature) {
                return feature;
            }
            assert!(
                Instant::now() < deadline,
                "the client API did not show {what} within {CLIENT_DELAY:?}: {feature}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn production(flag: &str) -> String {
    format!("/api/admin/projects/default/features/{flag}/environments/production")
}

fn variant(name: &str, model: &str, weight: u32) -> Value {
    json!({
        "name": name,
        "weight": weight,
        "weightType": "variable",
        "stickiness": "default",
        "payload": {"type": "json", "value": json!({"model": model}).to_string()},
    })
}

/// The model the client API's first strategy serves to every user, if it serves one.
fn served_model(feature: &Value) -> Option<String> {
    let variants = feature["strategies"][0]["variants"].as_array()?;
    let [only] = variants.as_slice() else {
        return None;
    };
    let payload: Value = serde_json::from_str(only["payload"]["value"].as_str()?).ok()?;
    payload["model"].as_str().map(str::to_owned)
}

/// Sets a variable only this test reads.
fn set_token(var: &str, token: &str) {
    // SAFETY: edition 2024 marks this unsafe because libc's getenv in another thread could race
    // it. Nothing in this binary reads the environment through libc (the server is an IP
    // literal, so no name resolution), and std serialises its own reads and writes.
    unsafe { std::env::set_var(var, token) };
}

/// Applies the plan and reads it back: the backend's answer with the undo, and the read-back.
async fn carry_out(actuator: &impl Actuator, plan: &MitigationPlan) -> (Applied, String) {
    let applied = actuator.apply(plan, None).await.unwrap();
    (applied, actuator.verify(plan).await.unwrap())
}

#[tokio::test]
#[ignore = "needs a real Unleash: tests/backends/run.sh"]
async fn the_kill_switch_turns_the_flag_off_for_apps_and_its_undo_turns_it_back_on() {
    let unleash = Unleash::from_env();
    let flag = unleash.flag("support-ai", "kill-switch", true).await;
    let kill_switch = unleash.kill_switch(&flag);

    let plan = kill_switch.read().await.unwrap();
    assert_eq!(plan.kind, MitigationKind::KillSwitch);
    assert_eq!(plan.unavailable, None);
    assert_eq!(plan.target, format!("flag {flag} in production"));
    assert_eq!(
        (plan.from.as_str(), plan.to.as_str()),
        ("on (AI serving)", "off (fallback)")
    );
    assert_eq!((plan.from_id.as_str(), plan.to_id.as_str()), ("on", "off"));
    assert_eq!(plan.operation, format!("POST {}/off", production(&flag)));
    assert_eq!(plan.confirm_name.as_deref(), Some(flag.as_str()));
    let preview = kill_switch.preview(&plan, None);
    assert!(preview.starts_with(&format!("POST {}{}/off\n", unleash.url, production(&flag))));
    assert!(preview.contains(&format!("Authorization: <token from ${ADMIN_TOKEN_VAR}>")));
    assert!(!preview.contains(&unleash.admin_token), "{preview}");

    let (applied, _) = carry_out(&kill_switch, &plan).await;
    assert_eq!(
        applied.answer,
        format!("POST {}/off → 200 OK", production(&flag))
    );
    assert!(!unleash.enabled_in_production(&flag).await);
    unleash
        .client_sees(&flag, "the flag off", |feature| feature["enabled"] == false)
        .await;

    let undo = applied.undo.unwrap();
    assert!(undo.undo);
    assert_eq!((undo.from_id.as_str(), undo.to_id.as_str()), ("off", "on"));
    assert_eq!(undo.operation, format!("POST {}/on", production(&flag)));
    let (_, verified) = carry_out(&kill_switch, &undo).await;
    assert_eq!(
        verified,
        format!("GET /api/admin/projects/default/features/{flag}: {flag} is on in production")
    );
    assert!(unleash.enabled_in_production(&flag).await);
    unleash
        .client_sees(&flag, "the flag on", |feature| feature["enabled"] == true)
        .await;
}

#[tokio::test]
#[ignore = "needs a real Unleash: tests/backends/run.sh"]
async fn a_flag_that_is_off_is_offered_back_on_and_a_missing_one_is_named() {
    let unleash = Unleash::from_env();
    let flag = unleash.flag("support-ai-off", "kill-switch", false).await;

    let plan = unleash.kill_switch(&flag).read().await.unwrap();
    assert_eq!((plan.from_id.as_str(), plan.to_id.as_str()), ("off", "on"));
    assert_eq!(plan.operation, format!("POST {}/on", production(&flag)));

    let missing = unleash.kill_switch("no-such-flag").read().await.unwrap();
    assert_eq!(
        missing.unavailable.as_deref(),
        Some("Unleash has no flag no-such-flag in project default")
    );
    let elsewhere = KillSwitch::from_config(
        &unleash.config(ADMIN_TOKEN_VAR, "staging"),
        &KillSwitchConfig::Unleash {
            flag: flag.clone(),
            production: None,
        },
        5_000,
    )
    .unwrap();
    let plan = elsewhere.read().await.unwrap();
    assert_eq!(
        plan.unavailable,
        Some(format!("flag {flag} has no environment staging in Unleash"))
    );
    assert_eq!(plan.confirm_name, None);
}

#[tokio::test]
#[ignore = "needs a real Unleash: tests/backends/run.sh"]
async fn the_model_pin_serves_the_pinned_model_to_apps_and_its_undo_restores_the_variants() {
    let unleash = Unleash::from_env();
    let flag = unleash.flag("support-model", "release", true).await;
    let [strategy] = unleash.strategies(&flag).await.try_into().unwrap();
    let id = strategy["id"].as_str().unwrap().to_owned();
    let floating = json!([
        variant("fast", "gpt-4o-mini", 500),
        variant("smart", "gpt-4o", 500)
    ]);
    let constraints = json!([{"contextName": "appName", "operator": "IN", "values": ["support"]}]);
    let mut with_variants = strategy.clone();
    with_variants["variants"] = floating.clone();
    with_variants["constraints"] = constraints.clone();
    let path = format!("{}/strategies/{id}", production(&flag));
    unleash.admin(Method::PUT, &path, Some(with_variants)).await;
    let [before] = unleash.strategies(&flag).await.try_into().unwrap();
    let pin = unleash.model_pin(&flag);

    let plan = pin.read().await.unwrap();
    assert_eq!(plan.kind, MitigationKind::ModelPin);
    assert_eq!(plan.unavailable, None);
    assert_eq!(plan.from, "split between gpt-4o-mini, gpt-4o");
    assert_eq!(plan.to, PINNED_MODEL);
    assert_eq!(plan.operation, format!("PUT {path}"));
    assert_eq!(plan.confirm_name.as_deref(), Some(flag.as_str()));
    assert_eq!(
        plan.target,
        format!(
            "flag {flag} in production, its first strategy (partial: only the users its \
             constraint selects)"
        ),
        "the pin reaches only the users the strategy's constraint selects, and says so"
    );
    let preview = pin.preview(&plan, None);
    assert!(
        preview.starts_with(&format!("PUT {}{path}\n", unleash.url)),
        "{preview}"
    );
    assert!(preview.contains(r#""contextName": "appName""#), "{preview}");
    assert!(
        preview.contains(r#""value": "{\"model\":\"gpt-4o-2024-08-06\"}""#),
        "{preview}"
    );

    let (applied, verified) = carry_out(&pin, &plan).await;
    assert_eq!(applied.answer, format!("PUT {path} → 200 OK"));
    assert_eq!(
        verified,
        format!(
            "GET /api/admin/projects/default/features/{flag}: strategy {id} serves \
             {PINNED_MODEL} (partial: only the users its constraint selects)"
        )
    );
    let [pinned] = unleash.strategies(&flag).await.try_into().unwrap();
    assert_eq!(
        pinned["variants"],
        json!([variant("pinned", PINNED_MODEL, 1000)])
    );
    for field in [
        "id",
        "name",
        "parameters",
        "constraints",
        "segments",
        "sortOrder",
    ] {
        assert_eq!(pinned[field], before[field], "{field}");
    }
    unleash
        .client_sees(&flag, "the pinned model", |feature| {
            served_model(feature).as_deref() == Some(PINNED_MODEL)
        })
        .await;
    let again = pin.read().await.unwrap();
    assert_eq!(
        again.unavailable,
        Some(format!(
            "flag {flag} already pins {PINNED_MODEL} in production"
        ))
    );

    let undo = applied.undo.unwrap();
    assert!(undo.undo);
    assert_eq!(
        (undo.from.as_str(), undo.to.as_str()),
        (PINNED_MODEL, plan.from.as_str())
    );
    assert_eq!(undo.operation, format!("PUT {path}"));
    carry_out(&pin, &undo).await;
    let [after] = unleash.strategies(&flag).await.try_into().unwrap();
    assert_eq!(after, before);
    unleash
        .client_sees(&flag, "the old variants", |feature| {
            feature["strategies"][0]["variants"] == floating
        })
        .await;
}

#[tokio::test]
#[ignore = "needs a real Unleash: tests/backends/run.sh"]
async fn a_pin_on_a_flag_that_is_off_or_missing_is_unavailable_and_says_why() {
    let unleash = Unleash::from_env();
    let flag = unleash.flag("support-model-off", "release", false).await;

    let off = unleash.model_pin(&flag).read().await.unwrap();
    let reason = off.unavailable.unwrap();
    assert!(
        reason.starts_with(&format!(
            "flag {flag} is off in production: clients get no variant"
        )),
        "{reason}"
    );
    let missing = unleash
        .model_pin("no-such-model-flag")
        .read()
        .await
        .unwrap();
    assert_eq!(
        missing.unavailable.as_deref(),
        Some("Unleash has no flag no-such-model-flag in project default")
    );
}

#[tokio::test]
#[ignore = "needs a real Unleash: tests/backends/run.sh"]
async fn a_change_made_behind_its_back_after_the_read_is_refused_and_left_alone() {
    let unleash = Unleash::from_env();
    let switch_flag = unleash.flag("moved-switch", "kill-switch", true).await;
    let kill_switch = unleash.kill_switch(&switch_flag);
    let plan = kill_switch.read().await.unwrap();
    unleash
        .admin(
            Method::POST,
            &format!("{}/off", production(&switch_flag)),
            None,
        )
        .await;

    let refused = kill_switch.apply(&plan, None).await.unwrap_err();
    assert_eq!(
        refused,
        ActuatorError::MovedSinceRead {
            now: "off (fallback)".into()
        }
    );
    assert_eq!(
        refused.to_string(),
        "the state moved since it was confirmed: now off (fallback); nothing was changed"
    );

    let model_flag = unleash.flag("moved-model", "release", true).await;
    let pin = unleash.model_pin(&model_flag);
    let plan = pin.read().await.unwrap();
    let [mut strategy] = unleash.strategies(&model_flag).await.try_into().unwrap();
    strategy["variants"] = json!([variant("someone-else", "claude-3-5-sonnet", 1000)]);
    let path = format!(
        "{}/strategies/{}",
        production(&model_flag),
        strategy["id"].as_str().unwrap()
    );
    unleash.admin(Method::PUT, &path, Some(strategy)).await;

    let refused = pin.apply(&plan, None).await.unwrap_err().to_string();
    assert!(
        refused.starts_with("the state moved since it was confirmed: now strategy "),
        "{refused}"
    );
    assert!(
        refused.ends_with(" serves claude-3-5-sonnet; nothing was changed"),
        "{refused}"
    );
    let [kept] = unleash.strategies(&model_flag).await.try_into().unwrap();
    assert_eq!(kept["variants"][0]["name"], "someone-else");
}

#[tokio::test]
#[ignore = "needs a real Unleash: tests/backends/run.sh"]
async fn a_wrong_token_is_named_by_its_variable_and_never_shown() {
    let unleash = Unleash::from_env();
    let var = "FLIGHTDECK_TEST_UNLEASH_WRONG_TOKEN";
    let wrong = "*:*.not-the-admin-secret-4711";
    set_token(var, wrong);
    let kill_switch = KillSwitch::from_config(
        &unleash.config(var, "production"),
        &KillSwitchConfig::Unleash {
            flag: "any-flag".into(),
            production: None,
        },
        5_000,
    )
    .unwrap();

    let error = kill_switch.read().await.unwrap_err().to_string();

    assert!(
        error.starts_with(&format!(
            "Unleash {}/api/admin/projects/default/features/any-flag refused the token in ${var} (401)",
            unleash.url
        )),
        "{error}"
    );
    assert!(!error.contains("not-the-admin-secret-4711"), "{error}");
}
