//! The refusal detector against a labelled fixture of support-assistant responses
//! (`tests/fixtures/refusals.jsonl`): refusals, answers, and answers that open like refusals
//! ("Sorry for the delay...", "I cannot stress enough...", "No, the boots aren't vegan"), as
//! plain text and inside the structured output the assistant returns.

use flightdeck::engine::signals::refusal::is_refusal;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Labelled {
    output: String,
    refusal: bool,
}

fn fixture() -> Vec<Labelled> {
    include_str!("fixtures/refusals.jsonl")
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("fixtures/refusals.jsonl:{}: {e}", i + 1))
        })
        .collect()
}

fn flagged(output: &str) -> bool {
    is_refusal(output, serde_json::from_str::<Value>(output).ok().as_ref())
}

#[test]
fn precision_and_recall_on_the_labelled_fixture() {
    let items = fixture();
    let (mut hits, mut false_alarms, mut misses) = (0, 0, 0);
    let mut wrong = Vec::new();
    for item in &items {
        match (flagged(&item.output), item.refusal) {
            (true, true) => hits += 1,
            (true, false) => false_alarms += 1,
            (false, true) => misses += 1,
            (false, false) => {}
        }
        if flagged(&item.output) != item.refusal {
            wrong.push(&item.output);
        }
    }
    let precision = f64::from(hits) / f64::from(hits + false_alarms);
    let recall = f64::from(hits) / f64::from(hits + misses);
    println!(
        "refusal fixture: {} responses, {} refusals: precision {precision:.3}, recall {recall:.3}",
        items.len(),
        hits + misses
    );
    assert!(items.len() >= 200);
    // Misses are refusals that open without an XSTest phrase ("Unfortunately, I'm unable...");
    // the false alarms are corrections that open "It is not accurate that...".
    assert!(
        precision >= 0.95,
        "precision {precision:.3}; wrong: {wrong:#?}"
    );
    assert!(recall >= 0.85, "recall {recall:.3}; wrong: {wrong:#?}");
}

#[test]
fn answers_that_open_like_refusals_do_not_count() {
    for output in [
        "Sorry for the delay, your order #4411 left our warehouse this morning.",
        "I cannot stress enough how important it is to keep the receipt.",
        "I apologize for the mix-up. The correct size ships today.",
        "No, the boots aren't vegan; the upper is leather.",
        r#"{"answer":"Sorry, that size is sold out, but it restocks on the 12th.","citations":[]}"#,
    ] {
        assert!(!flagged(output), "{output}");
    }
}
