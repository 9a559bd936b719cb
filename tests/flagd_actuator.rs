//! The flagd kill switch against real files in a temporary directory: the file it writes still
//! validates against flagd's own flag-definition schema (tests/fixtures/flagd), and nothing but
//! the one `defaultVariant` changes.

use std::fs;
use std::path::{Path, PathBuf};

use flightdeck::actuators::flagd::KillSwitch;
use flightdeck::actuators::{Actuator, ActuatorError};
use flightdeck::config::actuators::KillSwitchConfig;
use serde_json::{Value, json};

/// A flag set the way teams write them: the switch first, then a flag with targeting that uses
/// a shared evaluator, flags of other types, a disabled flag and set metadata.
const FLAGS: &str = r##"{
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "metadata": { "flagSetId": "support", "version": "7" },
  "flags": {
    "support-ai": {
      "state": "ENABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "on",
      "metadata": { "owner": "ai-platform" }
    },
    "support-ai-beta": {
      "state": "ENABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "on",
      "targeting": { "if": [{ "$ref": "beta-users" }, "off", null] }
    },
    "welcome-banner": {
      "state": "ENABLED",
      "variants": { "blue": "#0000FF", "green": "#00FF00" },
      "defaultVariant": "blue",
      "targeting": { "fractional": [{ "var": "email" }, ["blue", 50], ["green", 50]] }
    },
    "answer-budget": {
      "state": "ENABLED",
      "variants": { "low": 0.25, "high": 1.0e2 },
      "defaultVariant": "low"
    },
    "retired-ai": {
      "state": "DISABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "on"
    }
  },
  "$evaluators": {
    "beta-users": { "in": [{ "var": "email" }, ["ana@example.com", "bo@example.com"]] }
  }
}
"##;

fn switch_config(flag: &str) -> KillSwitchConfig {
    KillSwitchConfig::Flagd {
        flag: flag.into(),
        on_variant: "on".into(),
        off_variant: "off".into(),
        production: None,
    }
}

/// A directory holding `flags.json` with `text`, and the switch for `flag` in it.
fn setup(text: &str, flag: &str) -> (tempfile::TempDir, PathBuf, KillSwitch) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flags.json");
    fs::write(&path, text).unwrap();
    let switch = KillSwitch::from_config(path.clone(), &switch_config(flag)).unwrap();
    (dir, path, switch)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn parsed(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// flagd's schema, with `targeting.json` registered under the address `flags.json` refers to.
/// The base is given again because draft-07 ignores `$id` beside a root `$ref`.
fn flagd_schema() -> jsonschema::Validator {
    let schema = |name: &str| -> Value {
        let path = format!("{}/tests/fixtures/flagd/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
    };
    let registry = jsonschema::Registry::new()
        .add(
            "https://flagd.dev/schema/v0/targeting.json",
            schema("targeting.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    jsonschema::options()
        .with_registry(&registry)
        .with_base_uri("https://flagd.dev/schema/v0/flags.json")
        .build(&schema("flags.json"))
        .unwrap()
}

fn schema_errors(validator: &jsonschema::Validator, document: &Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect()
}

#[test]
fn the_schema_is_flagds_own_and_catches_broken_files() {
    let validator = flagd_schema();
    let document: Value = serde_json::from_str(FLAGS).unwrap();
    assert_eq!(schema_errors(&validator, &document), Vec::<String>::new());
    let mut broken = document.clone();
    broken["flags"]["support-ai"]["defaultVariant"] = json!(5);
    assert!(!validator.is_valid(&broken));
    // Targeting is checked through the second file, targeting.json.
    let mut broken = document;
    broken["flags"]["support-ai"]["targeting"] = json!({ "no-such-operator": [1] });
    assert!(!validator.is_valid(&broken));
}

#[tokio::test]
async fn switching_off_writes_a_file_flagd_accepts_with_nothing_else_changed() {
    let (dir, path, switch) = setup(FLAGS, "support-ai");
    let plan = switch.read().await.unwrap();
    assert_eq!(plan.unavailable, None);
    assert_eq!(
        (plan.from.as_str(), plan.to.as_str()),
        ("on", "off"),
        "{plan:?}"
    );
    assert_eq!((plan.from_id.as_str(), plan.to_id.as_str()), ("on", "off"));
    let shown = path.display();
    assert_eq!(plan.target, format!("flag support-ai in {shown}"));
    assert_eq!(
        plan.operation,
        format!("write {shown}: flags.support-ai.defaultVariant = \"off\"")
    );
    assert_eq!(plan.confirm_name, None);
    assert!(switch.preview(&plan, None).starts_with(&plan.operation));

    let answer = switch.apply(&plan, None).await.unwrap().answer;
    assert_eq!(
        answer,
        format!("wrote {shown} (flags.support-ai.defaultVariant: on → off)")
    );

    let written = fs::read_to_string(&path).unwrap();
    // Byte for byte, the one value is all that changed.
    let expected = FLAGS.replacen(
        "\"defaultVariant\": \"on\"",
        "\"defaultVariant\": \"off\"",
        1,
    );
    assert_eq!(written, expected);
    let after = parsed(&path);
    assert_eq!(schema_errors(&flagd_schema(), &after), Vec::<String>::new());
    let mut before: Value = serde_json::from_str(FLAGS).unwrap();
    before["flags"]["support-ai"]["defaultVariant"] = json!("off");
    assert_eq!(after, before);
    assert_eq!(files_in(dir.path()), ["flags.json"]);

    let read_back = switch.verify(&plan).await.unwrap();
    assert_eq!(
        read_back,
        format!("read {shown}: flags.support-ai.defaultVariant = \"off\"")
    );
    let again = switch.read().await.unwrap();
    assert_eq!(
        (again.from_id.as_str(), again.to_id.as_str()),
        ("off", "on")
    );
}

#[tokio::test]
async fn undo_puts_the_file_back_as_it_was() {
    let (dir, path, switch) = setup(FLAGS, "support-ai");
    let plan = switch.read().await.unwrap();
    let undo = switch.apply(&plan, None).await.unwrap().undo.unwrap();
    assert!(undo.undo);
    assert_eq!((undo.from_id.as_str(), undo.to_id.as_str()), ("off", "on"));
    assert_eq!((undo.from.as_str(), undo.to.as_str()), ("off", "on"));
    assert_eq!(
        undo.operation,
        format!(
            "write {}: flags.support-ai.defaultVariant = \"on\"",
            path.display()
        )
    );
    let answer = switch.apply(&undo, None).await.unwrap().answer;
    assert!(
        answer.ends_with("(flags.support-ai.defaultVariant: off → on)"),
        "{answer}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), FLAGS);
    switch.verify(&undo).await.unwrap();
    assert_eq!(files_in(dir.path()), ["flags.json"]);
}

#[tokio::test]
async fn a_flag_with_targeting_is_switched_with_a_warning_and_its_rules_kept() {
    let (_dir, path, switch) = setup(FLAGS, "support-ai-beta");
    let plan = switch.read().await.unwrap();
    assert_eq!(plan.unavailable, None);
    assert!(
        plan.target
            .ends_with("whose targeting rules may override its defaultVariant"),
        "{}",
        plan.target
    );
    switch.apply(&plan, None).await.unwrap();
    let after = parsed(&path);
    assert_eq!(after["flags"]["support-ai-beta"]["defaultVariant"], "off");
    let before: Value = serde_json::from_str(FLAGS).unwrap();
    for unchanged in [
        "/flags/support-ai-beta/targeting",
        "/$evaluators",
        "/flags/support-ai",
    ] {
        assert_eq!(
            after.pointer(unchanged),
            before.pointer(unchanged),
            "{unchanged}"
        );
    }
    assert_eq!(schema_errors(&flagd_schema(), &after), Vec::<String>::new());
}

#[tokio::test]
async fn what_it_cannot_switch_is_unavailable_with_the_reason() {
    let unavailable = |text: &str, flag: &str, off_variant: &str| {
        let (dir, path, _) = setup(text, flag);
        let config = KillSwitchConfig::Flagd {
            flag: flag.into(),
            on_variant: "on".into(),
            off_variant: off_variant.into(),
            production: None,
        };
        let switch = KillSwitch::from_config(path.clone(), &config).unwrap();
        async move {
            let plan = switch.read().await.unwrap();
            drop(dir);
            (
                plan.unavailable.expect("unavailable"),
                path.display().to_string(),
            )
        }
    };

    let (reason, path) = unavailable(FLAGS, "no-such-flag", "off").await;
    assert!(reason.contains(&path), "{reason}");
    assert!(reason.contains("has no flag \"no-such-flag\""), "{reason}");
    assert!(reason.contains("support-ai, support-ai-beta"), "{reason}");

    let (reason, _) = unavailable(FLAGS, "support-ai", "fallback").await;
    assert!(
        reason.ends_with("has no variant \"fallback\" (its variants: off, on)"),
        "{reason}"
    );

    let (reason, _) = unavailable(FLAGS, "retired-ai", "off").await;
    assert!(reason.contains("is DISABLED"), "{reason}");

    let bad = "{\n  \"flags\": {\n    \"support-ai\": { \"state\": \"ENABLED\", }\n  }\n}\n";
    let (reason, path) = unavailable(bad, "support-ai", "off").await;
    assert!(
        reason.starts_with(&format!("flagd file {path} is not JSON")),
        "{reason}"
    );
    assert!(reason.contains("line 3 column 41"), "{reason}");

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("flags.json");
    let switch = KillSwitch::from_config(missing.clone(), &switch_config("support-ai")).unwrap();
    let reason = switch.read().await.unwrap().unavailable.unwrap();
    assert_eq!(
        reason,
        format!("flagd file {} does not exist", missing.display())
    );
}

#[tokio::test]
async fn a_state_that_moved_since_the_plan_is_refused_and_nothing_is_written() {
    let (dir, path, switch) = setup(FLAGS, "support-ai");
    let plan = switch.read().await.unwrap();
    let moved = FLAGS.replacen(
        "\"defaultVariant\": \"on\"",
        "\"defaultVariant\": \"off\"",
        1,
    );
    fs::write(&path, &moved).unwrap();
    let err = switch.apply(&plan, None).await.unwrap_err();
    assert!(
        matches!(err, ActuatorError::MovedSinceRead { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the state moved since it was confirmed: now flags.support-ai.defaultVariant = \"off\"; \
         nothing was changed"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), moved);
    assert_eq!(files_in(dir.path()), ["flags.json"]);

    // The same file read back against the plan's target disagrees after someone undid it.
    fs::write(&path, FLAGS).unwrap();
    let err = switch.verify(&plan).await.unwrap_err();
    assert!(
        matches!(err, ActuatorError::ReadBackDisagrees { .. }),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("read-back disagrees:"), "{err}");

    // So does a file the switch can no longer act on.
    fs::write(&path, FLAGS.replace("\"support-ai\"", "\"renamed-ai\"")).unwrap();
    let err = switch.verify(&plan).await.unwrap_err();
    assert!(
        matches!(err, ActuatorError::ReadBackDisagrees { .. }),
        "{err:?}"
    );
    let expected = format!(
        "read-back disagrees: flagd file {} has no flag \"support-ai\"",
        path.display()
    );
    assert!(err.to_string().starts_with(&expected), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_keeps_its_permissions_and_a_symlink_keeps_pointing_at_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("real")).unwrap();
    let real = dir.path().join("real/flags.json");
    fs::write(&real, FLAGS).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("flags.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();

    let switch = KillSwitch::from_config(link.clone(), &switch_config("support-ai")).unwrap();
    let plan = switch.read().await.unwrap();
    switch.apply(&plan, None).await.unwrap();

    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        parsed(&real)["flags"]["support-ai"]["defaultVariant"],
        "off"
    );
    let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    assert_eq!(files_in(&dir.path().join("real")), ["flags.json"]);
}

#[tokio::test]
async fn a_production_file_asks_for_the_flag_name_unless_the_config_says_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("production.flagd.json");
    fs::write(&path, FLAGS).unwrap();
    let switch = KillSwitch::from_config(path.clone(), &switch_config("support-ai")).unwrap();
    let plan = switch.read().await.unwrap();
    assert_eq!(plan.confirm_name.as_deref(), Some("support-ai"));

    let config = KillSwitchConfig::Flagd {
        flag: "support-ai".into(),
        on_variant: "on".into(),
        off_variant: "off".into(),
        production: Some(false),
    };
    let switch = KillSwitch::from_config(path, &config).unwrap();
    assert_eq!(switch.read().await.unwrap().confirm_name, None);

    let unleash = KillSwitchConfig::Unleash {
        flag: "support-ai".into(),
        production: None,
    };
    let err = KillSwitch::from_config(dir.path().join("flags.json"), &unleash)
        .err()
        .unwrap();
    assert!(matches!(err, ActuatorError::Misconfigured(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("[mitigations.kill_switch]"),
        "{err}"
    );
}
