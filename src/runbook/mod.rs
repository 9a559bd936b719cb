//! `flightdeck runbook`: the team's AI incident runbook as Markdown, written from its config: the
//! four-category triage with this team's systems, the cockpit keys and commands, the mitigation
//! per category, and the postmortem steps. Pure: the same config gives the same page.

use std::fmt::Write as _;
use std::path::Path;

use crate::app::keymap::{Command, label_for};
use crate::config::actuators::{KillSwitchConfig, ModelPinConfig, PromptRollbackConfig};
use crate::config::file::ConfigFile;
use crate::model::MitigationKind;

/// The runbook for `config`, which the commands name as `--config <config_name>`.
pub fn render(config: &ConfigFile, config_name: &str) -> String {
    let mut page = String::new();
    let features = feature_names(config);
    let _ = writeln!(page, "# AI incident runbook: {features}\n");
    let _ = writeln!(
        page,
        "Written by `flightdeck runbook --config {config_name}` from the team's config; \
         regenerate it when the config changes (`flightdeck check` says when it is out of date).\n"
    );
    systems(&mut page, config);
    first_minutes(&mut page, config, config_name);
    triage(&mut page, config, config_name);
    mitigations(&mut page, config);
    close(&mut page);
    postmortem(&mut page);
    page
}

fn key(command: Command) -> String {
    format!("`{}`", label_for(command))
}

fn mitigate(kind: MitigationKind) -> String {
    key(Command::Mitigate(kind))
}

fn feature_names(config: &ConfigFile) -> String {
    if config.features.is_empty() {
        return "the AI feature".into();
    }
    config
        .features
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn or_unset(value: Option<&str>) -> String {
    value.map_or_else(|| "not set".to_string(), |v| format!("`{v}`"))
}

fn systems(page: &mut String, config: &ConfigFile) {
    let _ = writeln!(page, "## Our systems\n");
    if config.features.is_empty() {
        let _ = writeln!(
            page,
            "No [[features]] in the config: add each AI feature with its model and fallback.\n"
        );
    } else {
        let _ = writeln!(
            page,
            "| Feature | Model | Fallback (kill switch off) | Output schema |"
        );
        let _ = writeln!(page, "|---|---|---|---|");
        for feature in &config.features {
            let _ = writeln!(
                page,
                "| `{}` | {} | {} | {} |",
                feature.name,
                or_unset(feature.model.as_deref()),
                feature.fallback.as_deref().unwrap_or("not set"),
                or_unset(feature.output_schema.as_deref()),
            );
        }
        let _ = writeln!(page);
    }
    let _ = writeln!(page, "Telemetry the cockpit reads:\n");
    let sources = &config.sources;
    let mut any = false;
    if let Some(events) = &sources.events {
        any = true;
        let _ = writeln!(
            page,
            "- calls as JSON lines from `{}`",
            events.path.display()
        );
    }
    if let Some(otlp) = &sources.otlp {
        any = true;
        let _ = writeln!(page, "- OTLP/HTTP received on `{}`", otlp.listen);
    }
    if let Some(phoenix) = &sources.phoenix {
        any = true;
        let _ = writeln!(
            page,
            "- Phoenix spans from project `{}` at {}",
            phoenix.project, phoenix.url
        );
    }
    if let Some(prometheus) = &sources.prometheus {
        any = true;
        let _ = writeln!(page, "- Prometheus at {}:", prometheus.url);
        for query in &prometheus.queries {
            let warn = query
                .warn_above
                .map_or_else(String::new, |w| format!(" (warn above {w})"));
            let _ = writeln!(page, "  - {}{warn}", query.name);
        }
    }
    if let Some(file) = &config.changes.file {
        any = true;
        let _ = writeln!(
            page,
            "- changes (deploys, prompt and model changes) from `{}`",
            file.display()
        );
    }
    if !any {
        let _ = writeln!(page, "- none configured: add [sources.*] to the config");
    }
    let _ = writeln!(page);
    let alerts = &config.alerts;
    let _ = writeln!(page, "Alert thresholds ([alerts]):\n");
    let threshold = |value: Option<f64>| value.map_or_else(|| "not set".into(), |v| v.to_string());
    let _ = writeln!(
        page,
        "- hallucination rate: alert above {}",
        threshold(alerts.hallucination_rate)
    );
    let _ = writeln!(
        page,
        "- refusal rate: alert above {}",
        threshold(alerts.refusal_rate)
    );
    let _ = writeln!(
        page,
        "- schema compliance: alert below {}\n",
        threshold(alerts.schema_compliance)
    );
}

fn first_minutes(page: &mut String, config: &ConfigFile, config_name: &str) {
    let _ = writeln!(page, "## The first 15 minutes: classify, don't fix\n");
    let _ = writeln!(
        page,
        "Find which of four things changed before touching anything. Each mitigation below works \
         before the root cause is known; the fix comes after.\n"
    );
    let _ = writeln!(
        page,
        "1. Open the cockpit: `flightdeck watch --config {config_name}`.{}",
        if config.sources.events.is_none() {
            " To read a file of calls instead: `--events CALLS.jsonl`."
        } else {
            ""
        }
    );
    let _ = writeln!(
        page,
        "2. Declare the incident ({}) and acknowledge it ({}): the timeline starts recording.",
        key(Command::Declare),
        key(Command::Acknowledge)
    );
    let _ = writeln!(
        page,
        "3. Sharing your screen? {} switches to the presenter view (hostnames and secrets hidden).",
        key(Command::TogglePresenter)
    );
    let _ = writeln!(
        page,
        "4. Walk the triage below in order; the cockpit's triage pane asks the same four questions \
         with the evidence it has. Note what you see ({}) and star what the postmortem needs \
         ({}). {} lists every key.",
        key(Command::AddNote),
        key(Command::ToggleStar),
        key(Command::ToggleHelp)
    );
    let _ = writeln!(
        page,
        "5. By minute 15, name the category and press its mitigation below. The root-cause fix \
         waits until users are safe.\n"
    );
}

fn triage(page: &mut String, config: &ConfigFile, config_name: &str) {
    let _ = writeln!(page, "## Triage: four categories, in this order\n");
    // Standard input is the live stream, which triage cannot read back.
    if let Some(events) = config
        .sources
        .events
        .as_ref()
        .filter(|events| events.path != Path::new("-"))
    {
        let _ = writeln!(
            page,
            "A second opinion without the screen: `flightdeck triage --config {config_name} \
             --events {}`.\n",
            config.resolve(&events.path).display()
        );
    }
    let _ = writeln!(page, "### 1. Infrastructure: is the provider answering?\n");
    let _ = writeln!(
        page,
        "Errors, timeouts, rate limits (429) and latency in the cockpit's transport metrics."
    );
    if let Some(prometheus) = &config.sources.prometheus {
        let names: Vec<String> = prometheus
            .queries
            .iter()
            .map(|q| format!("\"{}\"", q.name))
            .collect();
        if !names.is_empty() {
            let _ = writeln!(page, "Also the Prometheus readings {}.", names.join(", "));
        }
    }
    let _ = writeln!(
        page,
        "If they moved and the quality metrics did not: it is infrastructure.\n"
    );
    let _ = writeln!(page, "### 2. Model: did the model under us change?\n");
    let _ = writeln!(
        page,
        "Compare the requested model with the served model in the calls: a new served model \
         under the same alias is a silent model update."
    );
    for feature in &config.features {
        if let Some(model) = &feature.model {
            let _ = writeln!(page, "`{}` should request `{model}`.", feature.name);
        }
    }
    let _ = writeln!(page);
    let _ = writeln!(page, "### 3. Prompt: did a prompt change ship?\n");
    match &config.mitigations.prompt_rollback {
        Some(PromptRollbackConfig::Phoenix { prompt, tag, .. }) => {
            let _ = writeln!(
                page,
                "The prompt `{prompt}` is deployed by the Phoenix tag `{tag}`; a move of the tag is a \
                 prompt change in the changes pane.",
            );
        }
        Some(PromptRollbackConfig::Langfuse { prompt, label, .. }) => {
            let _ = writeln!(
                page,
                "The prompt `{prompt}` is deployed by the Langfuse label `{label}`; a move of the \
                 label is a prompt change.",
            );
        }
        Some(PromptRollbackConfig::Webhook { target, .. }) => {
            let _ = writeln!(
                page,
                "The prompt `{target}` is deployed by our control plane."
            );
        }
        None => {
            let _ = writeln!(
                page,
                "No prompt registry is configured: find the last prompt deploy by hand."
            );
        }
    }
    let _ = writeln!(
        page,
        "Did the metrics move at a prompt change? {} shows the word diff of the selected change.\n",
        key(Command::ShowPromptDiff)
    );
    let _ = writeln!(
        page,
        "### 4. Data: did what users send, or what we retrieve, change?\n"
    );
    let _ = writeln!(
        page,
        "Input drift and groundedness: new kinds of questions, or answers no longer supported by \
         the retrieved context, with no change of infrastructure, model or prompt.\n"
    );
}

fn mitigations(page: &mut String, config: &ConfigFile) {
    let mitigations = &config.mitigations;
    let rollback = match &mitigations.prompt_rollback {
        Some(PromptRollbackConfig::Phoenix { prompt, tag, .. }) => {
            format!("moves the Phoenix tag `{tag}` of `{prompt}` to the earlier version")
        }
        Some(PromptRollbackConfig::Langfuse { prompt, label, .. }) => {
            format!("moves the Langfuse label `{label}` of `{prompt}` to the earlier version")
        }
        Some(PromptRollbackConfig::Webhook { target, .. }) => {
            format!("asks our control plane to roll `{target}` back")
        }
        None => "not configured: add [mitigations.prompt_rollback]".into(),
    };
    let pin = match &mitigations.model_pin {
        Some(ModelPinConfig::Unleash { flag, model, .. }) => {
            format!("pins `{model}` by a variant of the Unleash flag `{flag}`")
        }
        Some(ModelPinConfig::Webhook { target, model, .. }) => {
            format!("asks our control plane to pin `{target}` to `{model}`")
        }
        None => "not configured: add [mitigations.model_pin]".into(),
    };
    let kill = match &mitigations.kill_switch {
        Some(KillSwitchConfig::Unleash { flag, .. }) => {
            let environment = config
                .actuators
                .unleash
                .as_ref()
                .map_or("the configured environment", |u| u.environment.as_str());
            format!("turns the Unleash flag `{flag}` off in {environment}: the fallback serves")
        }
        Some(KillSwitchConfig::Flagd {
            flag, off_variant, ..
        }) => {
            format!("sets the flagd flag `{flag}` to `{off_variant}`: the fallback serves")
        }
        Some(KillSwitchConfig::Webhook { target, .. }) => {
            format!("asks our control plane to switch `{target}` off: the fallback serves")
        }
        None => "not configured: add [mitigations.kill_switch]".into(),
    };
    let _ = writeln!(page, "## Mitigation per category\n");
    let _ = writeln!(page, "| Category | Key | What it does here |");
    let _ = writeln!(page, "|---|---|---|");
    let kill_key = mitigate(MitigationKind::KillSwitch);
    let _ = writeln!(
        page,
        "| Infrastructure | {kill_key} | wait for the provider or fail over to another; while \
         users are harmed: {kill} |"
    );
    let _ = writeln!(
        page,
        "| Model | {} | {pin} |",
        mitigate(MitigationKind::ModelPin)
    );
    let _ = writeln!(
        page,
        "| Prompt | {} | {rollback} |",
        mitigate(MitigationKind::PromptRollback)
    );
    let _ = writeln!(page, "| Data | {kill_key} | {kill} |");
    let _ = writeln!(page, "| Unsure, users harmed | {kill_key} | {kill} |\n");
    let _ = writeln!(
        page,
        "Every mitigation shows its plan and asks to confirm (production asks for the name to be \
         typed); `--dry-run` shows the exact request and sends nothing. After it, the cockpit reads \
         the state back and watches the metrics recover. {} undoes the last mitigation.\n",
        key(Command::Undo)
    );
}

fn close(page: &mut String) {
    let _ = writeln!(page, "## Closing the incident\n");
    let _ = writeln!(
        page,
        "- {} marks it mitigated once the metrics recovered.",
        key(Command::MarkMitigated)
    );
    let _ = writeln!(
        page,
        "- {} records that the root cause is identified; {} opens the record: cause, roles, times.",
        key(Command::Identify),
        key(Command::EditRecord)
    );
    let _ = writeln!(page, "- {} resolves it.\n", key(Command::Resolve));
}

fn postmortem(page: &mut String) {
    let _ = writeln!(page, "## Postmortem\n");
    let _ = writeln!(
        page,
        "1. `flightdeck incidents` lists the recorded incidents; \
         `flightdeck export latest --format md -o postmortem.md` writes the draft \
         (`--format html` for the charts, `--all` for the whole timeline)."
    );
    let _ = writeln!(
        page,
        "2. Check the timeline: the onset, detection and mitigation times, and the starred entries."
    );
    let _ = writeln!(
        page,
        "3. Name the category and the root cause, and why the first 15 minutes did or did not find it."
    );
    let _ = writeln!(
        page,
        "4. Action items: the missing pin, flag, threshold or evaluator; run `flightdeck check` \
         and fix what it fails."
    );
    let _ = writeln!(
        page,
        "5. Rehearse: a drill (`flightdeck drill`) on the scenario this incident was."
    );
}
