//! The presenter view for a screen share: whole-frame snapshots mid-incident at the smallest
//! size and a large one, the key that switches views, and redaction of what entries carry.

mod support;

use flightdeck::app::App;
use flightdeck::app::keymap::Key;
use support::Harness;

/// The prompt-regression demo 12 virtual minutes after its change, in the presenter view.
fn presenting_mid_incident() -> Harness {
    let mut h = Harness::new("prompt-regression");
    assert!(
        h.run_until(45, |app: &App| app.incident.is_some()),
        "the demo opens an incident"
    );
    h.run_past_change(12);
    h.press(Key::Char('P'));
    h
}

#[test]
fn mid_incident_at_100x30_and_160x45() {
    let h = presenting_mid_incident();
    let small = h.render(100, 30);
    for text in [
        "presenter view",
        "SEV2",
        "DETECTED",
        "since detection at 14:17 UTC",
        "commander",
        "hypothesis  PROMPT · likely",
        "Hallucination",
        "Latency p95",
        "✖ CRITICAL  base 4.3%",
        "3 Prompt",
        "● LIKELY",
        "Timeline · newest first",
        "P normal view",
        "q quit",
    ] {
        assert!(small.contains(text), "{text} missing at 100x30:\n{small}");
    }
    // The cockpit's panes and its other keys are gone.
    for text in ["Mitigations", "r roll back prompt", "Tab next pane"] {
        assert!(!small.contains(text), "{text} shown at 100x30:\n{small}");
    }
    insta::assert_snapshot!("prompt-regression_presenter_100x30", small);
    insta::assert_snapshot!("prompt-regression_presenter_160x45", h.render(160, 45));
}

#[test]
fn p_switches_views_and_only_p_help_and_quit_act_while_presenting() {
    let mut h = Harness::new("prompt-regression");
    h.run_past_change(12);
    assert!(!h.app.presenting);
    assert!(!h.render(100, 30).contains("presenter view"));

    h.press(Key::Char('P'));
    assert!(h.app.presenting);
    assert!(h.render(100, 30).contains("presenter view"));

    // A mitigation key does nothing on a shared screen.
    h.press(Key::Char('r'));
    assert_eq!(h.app.overlay, None);
    h.press(Key::Tab);
    assert_eq!(h.app.focus, flightdeck::app::Pane::Metrics);

    h.press(Key::Char('?'));
    let help = h.render(100, 30);
    assert!(
        help.contains("Presenter view: only these keys act"),
        "{help}"
    );
    h.press(Key::Esc);

    h.press(Key::Char('P'));
    assert!(!h.app.presenting);
    let cockpit = h.render(100, 30);
    assert!(cockpit.contains("Mitigations"), "{cockpit}");

    h.press(Key::Char('P'));
    h.press(Key::Char('q'));
    assert!(h.app.should_quit);
}

#[test]
fn hosts_addresses_and_secrets_in_entries_are_masked_while_presenting() {
    let mut h = presenting_mid_incident();
    // Short notes, so even the narrow timeline shows each whole: a cut text would hide nothing.
    for note in [
        "read http://10.0.0.7:4242/api/admin?token=abc123",
        "key sk-live-0123456789abcdefghij",
        "paged dana@example.com",
        "Unleash 127.0.0.1:4242 slow",
    ] {
        h.note(note);
    }
    for (width, height) in [(100, 30), (160, 45)] {
        let frame = h.render(width, height);
        for secret in [
            "10.0.0.7",
            "4242",
            "abc123",
            "sk-live",
            "0123456789abcdefghij",
            "dana@example.com",
            "127.0.0.1",
        ] {
            assert!(
                !frame.contains(secret),
                "{secret} shown at {width}x{height}:\n{frame}"
            );
        }
        for masked in [
            "read ‹url›",
            "key ‹secret›",
            "paged ‹email›",
            "Unleash ‹host› slow",
        ] {
            assert!(
                frame.contains(masked),
                "{masked} missing at {width}x{height}:\n{frame}"
            );
        }
    }
    // The cockpit itself shows the entry as it was written.
    h.press(Key::Char('P'));
    assert!(h.render(160, 45).contains("paged dana@example.com"));
}

#[test]
fn before_any_incident_the_header_says_so() {
    let mut h = Harness::new("prompt-regression");
    h.run_minutes(3);
    h.press(Key::Char('P'));
    let frame = h.render(100, 30);
    assert!(frame.contains("✔ NO INCIDENT"), "{frame}");
    assert!(frame.contains("no incident, no entries yet"), "{frame}");
}

#[test]
fn an_unexplained_triage_says_so_with_what_would_decide_it() {
    let mut h = presenting_mid_incident();
    h.as_unexplained();
    let frame = h.render(100, 30);
    for text in [
        "hypothesis  UNEXPLAINED · every step is ruled out",
        "what would decide it:",
        "a change record for the deploy",
        "→ UNEXPLAINED · meanwhile: kill switch",
    ] {
        assert!(frame.contains(text), "{text} missing at 100x30:\n{frame}");
    }
    assert!(!frame.contains("PROMPT"), "{frame}");
    insta::assert_snapshot!("unexplained_presenter_100x30", frame);
}
