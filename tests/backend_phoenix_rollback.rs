//! Prompt rollback against a real Arize Phoenix (tests/backends/servers/phoenix.sh): the
//! actuator reads where the deploy tag is, moves it to an earlier version and back, reads it
//! back, refuses when the tag moved behind its back, and says so when the prompt is unknown.

mod support;

use chrono::Utc;
use flightdeck::actuators::Actuator;
use flightdeck::actuators::phoenix::PromptTag;
use flightdeck::config::actuators::{PhoenixRegistryConfig, PromptRollbackConfig};
use flightdeck::model::MitigationKind;
use serde_json::Value;
use support::peers::{create_prompt_version, http, phoenix_url, tag_prompt_version, unique};

fn actuator(prompt: &str) -> PromptTag {
    let registry = PhoenixRegistryConfig {
        url: phoenix_url(),
        api_key_env: None,
    };
    let rollback = PromptRollbackConfig::Phoenix {
        prompt: prompt.into(),
        tag: "production".into(),
        production: None,
    };
    PromptTag::from_config(&registry, &rollback, 5_000).unwrap()
}

/// The id Phoenix itself says the production tag is on.
async fn tagged(http: &reqwest::Client, prompt: &str) -> String {
    let url = format!("{}/v1/prompts/{prompt}/tags/production", phoenix_url());
    let body: Value = http.get(url).send().await.unwrap().json().await.unwrap();
    body["data"]["id"].as_str().unwrap().to_owned()
}

fn text(system: &str) -> String {
    format!("system: {system}\n\nuser: {{{{question}}}}")
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn rolls_the_tag_back_to_a_chosen_version_forward_again_and_undoes_it() {
    let http = http();
    let prompt = unique("fd-rollback");
    let (first, second, third) = (
        "Answer only from the help center articles.",
        "Answer only from the help center articles. Cite the article.",
        "Answer briefly.",
    );
    let before = Utc::now() - chrono::Duration::seconds(5);
    let v1 = create_prompt_version(&http, &prompt, "gpt-4o", first, None).await;
    let v2 = create_prompt_version(&http, &prompt, "gpt-4o", second, None).await;
    let v3 = create_prompt_version(&http, &prompt, "gpt-4o", third, None).await;
    let after = Utc::now() + chrono::Duration::seconds(5);
    tag_prompt_version(&http, &v3, "production").await;
    let actuator = actuator(&prompt);
    assert_eq!(actuator.kind(), MitigationKind::PromptRollback);

    let plan = actuator.read().await.unwrap();
    assert_eq!(plan.unavailable, None);
    assert_eq!(plan.backend, "phoenix");
    assert_eq!(plan.target, format!("prompt {prompt}, tag production"));
    assert!(plan.from.starts_with("v3 · "), "{}", plan.from);
    assert!(plan.to.starts_with("v2 · "), "{}", plan.to);
    assert_eq!((plan.from_id.as_str(), plan.to_id.as_str()), (&*v3, &*v2));
    assert_eq!(plan.from_text, Some(text(third)));
    assert_eq!(plan.confirm_name.as_deref(), Some(prompt.as_str()));
    assert_eq!(
        plan.operation,
        format!("POST /v1/prompt_versions/{v2}/tags {{\"name\":\"production\"}}")
    );
    let choices: Vec<(&str, Option<String>)> = plan
        .choices
        .iter()
        .map(|choice| (choice.id.as_str(), choice.text.clone()))
        .collect();
    assert_eq!(
        choices,
        [(&*v2, Some(text(second))), (&*v1, Some(text(first)))]
    );
    for choice in &plan.choices {
        let created = choice.created_at.expect("Phoenix dates every version");
        assert!(before <= created && created <= after, "{created}");
        let date = created.format("%Y-%m-%d %H:%M").to_string();
        assert!(choice.label.ends_with(&date), "{}", choice.label);
    }
    assert!(plan.choices[1].label.starts_with("v1 · "));
    let preview = actuator.preview(&plan, None);
    assert_eq!(
        preview,
        format!(
            "POST {}/v1/prompt_versions/{v2}/tags\nContent-Type: application/json\n\
             {{\"name\":\"production\"}}",
            phoenix_url()
        )
    );

    // Roll back to v2.
    let answer = actuator.apply(&plan, None).await.unwrap().answer;
    assert_eq!(
        answer,
        format!("POST /v1/prompt_versions/{v2}/tags → 204 No Content")
    );
    assert_eq!(tagged(&http, &prompt).await, v2);
    let read_back = actuator.verify(&plan).await.unwrap();
    assert!(
        read_back.starts_with(&format!("GET /v1/prompts/{prompt}/tags/production: "))
            && read_back.contains(&plan.to)
            && read_back.contains(&v2),
        "{read_back}"
    );

    // Forward to v3 by choosing it: the plan now starts from v2.
    let plan = actuator.read().await.unwrap();
    assert_eq!(plan.from_id, v2);
    assert_eq!(plan.from_text, Some(text(second)));
    let ids: Vec<&str> = plan.choices.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [&*v3, &*v1]);
    let forward = plan.choose(0);
    assert_eq!(forward.to_id, v3);
    let applied = actuator.apply(&forward, None).await.unwrap();
    actuator.verify(&forward).await.unwrap();
    assert_eq!(tagged(&http, &prompt).await, v3);

    // Undo: back to v2, where the forward move found the tag.
    let undo = applied.undo.unwrap();
    assert!(undo.undo);
    assert_eq!((undo.from_id.as_str(), undo.to_id.as_str()), (&*v3, &*v2));
    assert_eq!(undo.from_text, Some(text(third)));
    actuator.apply(&undo, None).await.unwrap();
    actuator.verify(&undo).await.unwrap();
    assert_eq!(tagged(&http, &prompt).await, v2);

    // The tag moves behind our back: the confirmed plan is refused and nothing is posted.
    let plan = actuator.read().await.unwrap().choose(1);
    assert_eq!(plan.to_id, v1);
    tag_prompt_version(&http, &v3, "production").await;
    let refusal = actuator.apply(&plan, None).await.unwrap_err().to_string();
    assert!(
        refusal.starts_with("the state moved since it was confirmed: now v3 · ")
            && refusal.ends_with("; nothing was changed"),
        "{refusal}"
    );
    assert_eq!(tagged(&http, &prompt).await, v3);
    let disagrees = actuator.verify(&plan).await.unwrap_err().to_string();
    assert!(
        disagrees.starts_with("read-back disagrees: ") && disagrees.contains("v3 · "),
        "{disagrees}"
    );
}

#[tokio::test]
#[ignore = "needs the servers of tests/backends/run.sh"]
async fn an_unknown_prompt_an_untagged_one_and_a_single_version_are_unavailable_saying_why() {
    let http = http();
    let missing = unique("fd-rollback-missing");
    let plan = actuator(&missing).read().await.unwrap();
    assert_eq!(
        plan.unavailable,
        Some(format!("Phoenix has no prompt {missing:?}"))
    );
    assert_eq!(plan.target, format!("prompt {missing}, tag production"));

    let prompt = unique("fd-rollback-single");
    let only = create_prompt_version(&http, &prompt, "gpt-4o", "Answer.", None).await;
    let plan = actuator(&prompt).read().await.unwrap();
    assert_eq!(
        plan.unavailable,
        Some(format!("no version of {prompt} carries the tag production"))
    );
    tag_prompt_version(&http, &only, "production").await;
    let plan = actuator(&prompt).read().await.unwrap();
    let reason = plan.unavailable.unwrap();
    assert!(
        reason.starts_with(&format!("{prompt} has only v1 · "))
            && reason.ends_with("there is no other version to move the tag production to"),
        "{reason}"
    );
}
