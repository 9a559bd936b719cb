//! Each built-in theme on the cockpit mid-incident: whole-frame snapshots with every cell's style
//! (a text snapshot cannot show colour), the roles the states are drawn in, the light theme's
//! contrast on white, the colour-blind theme's palette and how its states look to a dichromat,
//! and how `--theme`, the config and `NO_COLOR` choose.

mod support;

use std::process::Command;

use clap::{CommandFactory, Parser};
use flightdeck::app::keymap::Key;
use flightdeck::cli::Cli;
use flightdeck::commands::setup;
use flightdeck::config::{self, file::ConfigFile};
use flightdeck::ui::theme::{BUILTIN, Theme};
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};
use support::Harness;

const THEMES: [&str; 5] = ["dark", "light", "high-contrast", "colorblind", "mono"];

fn theme(name: &str) -> Theme {
    Theme::load(name, None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A minute after the incident opened: two metrics critical, one warning, the rest ok.
fn mid_incident() -> Harness {
    let mut h = Harness::new("prompt-regression");
    assert!(
        h.run_until(45, |app| app.incident.is_some()),
        "no incident within 45 virtual minutes"
    );
    h.run_past_change(3);
    h
}

/// A cell's look: its colours (the terminal's own where a style sets none) and modifiers.
type Look = (Color, Color, Modifier);

fn look(style: Style) -> Look {
    (
        style.fg.unwrap_or(Color::Reset),
        style.bg.unwrap_or(Color::Reset),
        style.add_modifier,
    )
}

/// The looks of the cells of `text`, once for each place it is on the screen.
fn looks_of(buffer: &Buffer, text: &str) -> Vec<Vec<Look>> {
    let chars: Vec<String> = text.chars().map(String::from).collect();
    let width = chars.len() as u16;
    let area = buffer.area;
    let mut found = Vec::new();
    for y in 0..area.height {
        for x in 0..area.width.saturating_sub(width - 1) {
            let cells: Vec<_> = (0..width).map(|i| &buffer[(x + i, y)]).collect();
            if cells.iter().zip(&chars).all(|(cell, c)| cell.symbol() == c) {
                found.push(cells.iter().map(|c| (c.fg, c.bg, c.modifier)).collect());
            }
        }
    }
    found
}

/// Asserts that `text` is on the screen and every cell of it, wherever it is, has the role's look.
fn assert_drawn_in(buffer: &Buffer, text: &str, role: (&str, Style), theme: &str) {
    let found = looks_of(buffer, text);
    assert!(!found.is_empty(), "{theme}: `{text}` is not on the screen");
    for cells in found {
        for cell in cells {
            assert_eq!(
                cell,
                look(role.1),
                "{theme}: `{text}` is not drawn in the {} role",
                role.0
            );
        }
    }
}

#[test]
fn the_five_themes_are_built_in_and_parse() {
    let names: Vec<&str> = BUILTIN.iter().map(|(name, _)| *name).collect();
    for name in THEMES {
        assert!(names.contains(&name), "{name} is not built in: {names:?}");
        theme(name);
    }
    assert_eq!(names.len(), THEMES.len(), "{names:?}");
}

#[test]
fn each_theme_mid_incident_whole_frame_with_styles() {
    let h = mid_incident();
    for name in THEMES {
        let buffer = h.render_buffer(120, 35, &theme(name));
        insta::assert_snapshot!(format!("{name}_mid_incident_120x35"), format!("{buffer:?}"));
    }
}

#[test]
fn each_theme_draws_each_state_in_its_role() {
    let h = mid_incident();
    for name in THEMES {
        let t = theme(name);
        let buffer = h.render_buffer(120, 35, &t);
        for (text, role) in [
            ("✖ CRIT", ("critical", t.critical)),
            ("▲ warn", ("warn", t.warn)),
            ("✔ ok", ("ok", t.ok)),
            ("DETECTED", ("critical", t.critical)),
            ("◀ suggested", ("critical", t.critical)),
            ("● LIKELY", ("critical", t.critical)),
            ("○ ruled out", ("ok", t.ok)),
            ("FLIGHTDECK", ("header", t.header)),
        ] {
            assert_drawn_in(&buffer, text, role, name);
        }
    }
}

#[test]
fn each_theme_draws_the_change_and_the_diff_in_removed_and_added() {
    let mut confirm = mid_incident();
    confirm.press(Key::Char('r'));
    let mut diff = mid_incident();
    diff.press(Key::Char('w'));
    for name in THEMES {
        let t = theme(name);
        let buffer = confirm.render_buffer(120, 35, &t);
        let change = looks_of(&buffer, "v8  →  v7");
        assert_eq!(change.len(), 1, "{name}: the dialog's change line");
        assert!(
            change[0][..2].iter().all(|cell| *cell == look(t.removed)),
            "{name}: the old version is not drawn as removed"
        );
        assert!(
            change[0][7..].iter().all(|cell| *cell == look(t.added)),
            "{name}: the new version is not drawn as added"
        );
        assert_drawn_in(
            &buffer,
            "[▸ Cancel ◂]",
            ("button_focused", t.button_focused),
            name,
        );
        let buffer = diff.render_buffer(120, 35, &t);
        assert_drawn_in(
            &buffer,
            "[-Answer only from the provided",
            ("removed", t.removed),
            name,
        );
    }
}

/// Relative luminance (WCAG 2): a colour must be exact RGB, since a terminal's palette decides
/// what a named or indexed colour looks like.
fn luminance(color: Color) -> f64 {
    let Color::Rgb(r, g, b) = color else {
        panic!("{color:?} is not an RGB colour: the terminal's palette decides how it looks");
    };
    let [r, g, b] = linear([r, g, b]);
    0.2126 * r + 0.7152 * g + 0.0722 * b
}

/// sRGB to linear light.
fn linear(rgb: [u8; 3]) -> [f64; 3] {
    rgb.map(|c| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    })
}

fn contrast(a: Color, b: Color) -> f64 {
    let (a, b) = (luminance(a), luminance(b));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

#[test]
fn contrast_is_computed_as_wcag_defines_it() {
    let (black, white) = (Color::Rgb(0, 0, 0), Color::Rgb(255, 255, 255));
    assert!((contrast(black, white) - 21.0).abs() < 1e-9);
    // #767676 is the lightest grey that reaches 4.5:1 on white.
    assert!(contrast(Color::Rgb(0x76, 0x76, 0x76), white) >= 4.5);
    assert!(contrast(Color::Rgb(0x77, 0x77, 0x77), white) < 4.5);
}

#[test]
fn in_light_every_text_role_reaches_4_5_to_1_on_white_and_near_white() {
    let backgrounds = [Color::Rgb(255, 255, 255), Color::Rgb(0xf0, 0xf0, 0xf0)];
    for (role, style) in theme("light").roles() {
        let fg = style
            .fg
            .unwrap_or_else(|| panic!("light {role}: no foreground, so the terminal's own shows"));
        // Borders carry no text: WCAG asks 3:1 of a component's outline.
        let least = if role == "border" { 3.0 } else { 4.5 };
        let on: Vec<Color> = style.bg.map_or(backgrounds.to_vec(), |bg| vec![bg]);
        for bg in on {
            let ratio = contrast(fg, bg);
            assert!(
                ratio >= least,
                "light {role}: {fg:?} on {bg:?} is {ratio:.2}:1, under {least}:1"
            );
        }
        assert!(
            !style.add_modifier.contains(Modifier::DIM),
            "light {role}: dim text loses the contrast"
        );
    }
}

/// Okabe–Ito: black, orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple,
/// with their grey, and white.
const OKABE_ITO: [(u8, u8, u8); 10] = [
    (0x00, 0x00, 0x00),
    (0xe6, 0x9f, 0x00),
    (0x56, 0xb4, 0xe9),
    (0x00, 0x9e, 0x73),
    (0xf0, 0xe4, 0x42),
    (0x00, 0x72, 0xb2),
    (0xd5, 0x5e, 0x00),
    (0xcc, 0x79, 0xa7),
    (0x99, 0x99, 0x99),
    (0xff, 0xff, 0xff),
];

#[test]
fn colorblind_uses_only_the_okabe_ito_palette() {
    for (role, style) in theme("colorblind").roles() {
        assert!(style.fg.is_some(), "colorblind {role}: no foreground");
        for color in [style.fg, style.bg].into_iter().flatten() {
            let Color::Rgb(r, g, b) = color else {
                panic!("colorblind {role}: {color:?} is not an exact RGB colour");
            };
            assert!(
                OKABE_ITO.contains(&(r, g, b)),
                "colorblind {role}: #{r:02x}{g:02x}{b:02x} is not in the Okabe–Ito palette"
            );
        }
    }
}

/// Linear-RGB matrices that show a colour as a dichromat sees it (Viénot, Brettel & Mollon 1999).
const PROTANOPIA: [[f64; 3]; 3] = [
    [0.11238, 0.88762, 0.0],
    [0.11238, 0.88762, 0.0],
    [0.00401, -0.00401, 1.0],
];
const DEUTERANOPIA: [[f64; 3]; 3] = [
    [0.29275, 0.70725, 0.0],
    [0.29275, 0.70725, 0.0],
    [-0.02234, 0.02234, 1.0],
];
const NORMAL: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

/// CIELAB (D65) of a colour as seen through `vision`.
fn lab(color: Color, vision: &[[f64; 3]; 3]) -> [f64; 3] {
    let Color::Rgb(r, g, b) = color else {
        panic!("{color:?} is not an RGB colour");
    };
    let rgb = linear([r, g, b]);
    let [r, g, b] = vision.map(|row| (0..3).map(|i| row[i] * rgb[i]).sum::<f64>().clamp(0.0, 1.0));
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    let f = |t: f64| {
        if t > 216.0 / 24389.0 {
            t.cbrt()
        } else {
            (24389.0 / 27.0 * t + 16.0) / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// CIE76 colour difference, as seen through `vision`.
fn difference(a: Color, b: Color, vision: &[[f64; 3]; 3]) -> f64 {
    let (a, b) = (lab(a, vision), lab(b, vision));
    (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt()
}

/// A difference that reads at a glance, even for a dichromat.
const APART: f64 = 30.0;

#[test]
fn colorblind_states_and_diff_stay_apart_without_red_green() {
    let visions = [
        ("normal vision", NORMAL),
        ("protanopia", PROTANOPIA),
        ("deuteranopia", DEUTERANOPIA),
    ];
    // The measure can fail: green against light red, the usual pair, does for a deuteranope.
    let (green, light_red) = (Color::Rgb(0, 0x80, 0), Color::Rgb(0xff, 0x55, 0x55));
    assert!(difference(green, light_red, &DEUTERANOPIA) < APART);

    let t = theme("colorblind");
    for (a, b) in [
        (("ok", t.ok), ("warn", t.warn)),
        (("ok", t.ok), ("critical", t.critical)),
        (("warn", t.warn), ("critical", t.critical)),
        (("added", t.added), ("removed", t.removed)),
    ] {
        for (vision, matrix) in &visions {
            let (fa, fb) = (a.1.fg.expect("a colour"), b.1.fg.expect("a colour"));
            let apart = difference(fa, fb, matrix);
            assert!(
                apart >= APART,
                "{} and {} are only ΔE {apart:.1} apart with {vision}",
                a.0,
                b.0
            );
        }
    }
    // Weight tells critical from warn too.
    assert!(t.critical.add_modifier.contains(Modifier::BOLD));
    assert!(!t.warn.add_modifier.contains(Modifier::BOLD));
}

#[test]
fn the_flag_wins_over_the_config_and_no_color_over_both() {
    let file = config::file::parse("flightdeck.toml", "theme = \"colorblind\"\n").unwrap();
    let flags = |args: &[&str]| {
        Cli::try_parse_from([&["flightdeck"], args].concat())
            .unwrap()
            .global
    };
    // Under NO_COLOR (the test's own environment) every choice gives mono.
    let expected = |name| theme(if config::no_color() { "mono" } else { name });
    let chosen = |args: &[&str], file: &ConfigFile| setup::theme(&flags(args), file).unwrap();
    assert_eq!(chosen(&[], &file), expected("colorblind"));
    assert_eq!(chosen(&["--theme", "light"], &file), expected("light"));
    assert_eq!(chosen(&[], &ConfigFile::default()), expected("dark"));
}

#[test]
fn the_theme_flag_help_names_every_built_in() {
    let command = Cli::command();
    let help = command
        .get_arguments()
        .find(|arg| arg.get_id() == "theme")
        .and_then(|arg| arg.get_help())
        .expect("--theme has help")
        .to_string();
    for (name, _) in BUILTIN {
        assert!(help.contains(name), "{name} missing: {help}");
    }
}

#[test]
fn an_unknown_theme_from_the_flag_or_the_config_exits_2_listing_the_built_ins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flightdeck.toml");
    std::fs::write(&file, "theme = \"solarized\"\n").unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let file = file.to_str().unwrap();
    for args in [
        &["--theme", "solarized", "demo"][..],
        &["--config", file, "demo"][..],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(args)
            .current_dir(&elsewhere)
            .env("FLIGHTDECK_DATA_DIR", dir.path())
            .env("XDG_CONFIG_HOME", &elsewhere)
            .env_remove("FLIGHTDECK_CONFIG")
            .env_remove("NO_COLOR")
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("unknown theme `solarized`"), "{stderr}");
        for (name, _) in BUILTIN {
            assert!(stderr.contains(name), "{name} missing: {stderr}");
        }
    }
}
