//! `flightdeck runbook` for a sample team's config (tests/fixtures/readiness/team.toml), reviewed
//! whole as a golden file: the triage path with the team's flags, prompt, models, keys and commands.

use flightdeck::config::file;
use flightdeck::readiness::facts::RunbookFile;
use flightdeck::readiness::{Status, runbook_file};

fn team() -> file::ConfigFile {
    file::parse(
        "tests/fixtures/readiness/team.toml",
        include_str!("fixtures/readiness/team.toml"),
    )
    .unwrap()
}

/// The sample team's config as `flightdeck runbook --config <path>` reads it from `path`.
fn team_at(path: &str) -> file::ConfigFile {
    file::parse(path, include_str!("fixtures/readiness/team.toml")).unwrap()
}

#[test]
fn the_runbook_of_a_sample_team() {
    // as `flightdeck runbook --config team.toml` writes it in the config's folder
    insta::assert_snapshot!(flightdeck::runbook::render(
        &team_at("team.toml"),
        "team.toml"
    ));
}

#[test]
fn the_triage_command_names_the_events_file_where_the_config_reads_it() {
    let text = flightdeck::runbook::render(&team_at("../team/team.toml"), "../team/team.toml");
    assert!(
        text.contains(
            "`flightdeck triage --config ../team/team.toml --events ../team/calls.jsonl`"
        ),
        "{text}"
    );

    // standard input is the live stream: triage cannot read it back, so no command is offered
    let stdin = file::parse(
        "team.toml",
        &include_str!("fixtures/readiness/team.toml")
            .replace("path = \"calls.jsonl\"", "path = \"-\""),
    )
    .unwrap();
    let text = flightdeck::runbook::render(&stdin, "team.toml");
    assert!(!text.contains("flightdeck triage"), "{text}");
}

#[test]
fn the_written_runbook_is_current_for_check_until_the_config_renames_a_flag() {
    let config = team();
    let text = flightdeck::runbook::render(&config, "team.toml");
    let written = RunbookFile::Read {
        path: "RUNBOOK.md".into(),
        text: text.clone(),
    };
    let item = runbook_file::item(&config, &written);
    assert_eq!(item.status, Status::Pass, "{item:#?}");

    let renamed = file::parse(
        "team.toml",
        &include_str!("fixtures/readiness/team.toml")
            .replace("support-answer-ai", "support-answer-enabled"),
    )
    .unwrap();
    let item = runbook_file::item(&renamed, &written);
    assert_eq!(item.status, Status::Fail);
    assert!(
        item.evidence
            .iter()
            .any(|e| e.contains("does not name kill-switch flag support-answer-enabled")),
        "{item:#?}"
    );
}

#[test]
fn the_runbook_names_the_cockpit_keys_from_the_keymap() {
    use flightdeck::app::keymap::{Command, label_for};
    use flightdeck::model::MitigationKind;
    let text = flightdeck::runbook::render(&team(), "team.toml");
    for command in [
        Command::Mitigate(MitigationKind::PromptRollback),
        Command::Mitigate(MitigationKind::ModelPin),
        Command::Mitigate(MitigationKind::KillSwitch),
        Command::Undo,
        Command::EditRecord,
        Command::Resolve,
    ] {
        let key = format!("`{}`", label_for(command));
        assert!(text.contains(&key), "{key} missing");
    }
}
