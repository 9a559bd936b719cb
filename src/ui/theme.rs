//! Semantic themes: roles (ok, warn, critical, selection...) rather than colours. Built-in
//! themes ship in the binary; a file of the same name in the config dir overrides only the
//! roles it names.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    // Okabe–Ito: safe for red-green colour blindness.
    ("colorblind", include_str!("../../themes/colorblind.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

pub const DEFAULT_THEME: &str = "dark";
/// The theme used when `NO_COLOR` is set: colour is never the only signal.
pub const NO_COLOR_THEME: &str = "mono";

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underlined: bool,
    #[serde(default)]
    reversed: bool,
    #[serde(default)]
    crossed_out: bool,
}

macro_rules! theme_roles {
    ($($role:ident),* $(,)?) => {
        /// A theme file: every role optional, so an override names only what it changes.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ThemeFile {
            $($role: Option<RoleSpec>,)*
        }

        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            $(pub $role: Style,)*
        }

        impl Theme {
            fn from_file(file: &ThemeFile, base: Option<&Theme>) -> Result<Self, ThemeError> {
                Ok(Self {
                    $($role: match (&file.$role, base) {
                        (Some(spec), _) => spec.style(stringify!($role))?,
                        (None, Some(base)) => base.$role,
                        (None, None) => Style::default(),
                    },)*
                })
            }

            /// Every role with its name, in the files' order.
            pub fn roles(&self) -> Vec<(&'static str, Style)> {
                vec![$((stringify!($role), self.$role),)*]
            }
        }
    };
}

theme_roles!(
    text,
    muted,
    accent,
    ok,
    warn,
    critical,
    border,
    border_focused,
    selection,
    header,
    added,
    removed,
    button,
    button_focused,
);

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error(
        "unknown theme `{name}` (built in: {}; or a file NAME.toml in the config dir's themes/)",
        builtin_names()
    )]
    Unknown { name: String },
    #[error("theme {file}: {message}")]
    Invalid { file: String, message: String },
    #[error("role `{role}`: `{value}` is not a colour (a name like `red`, `#rrggbb`, or 0-255)")]
    Color { role: String, value: String },
}

/// The built-in themes' names, for messages: "dark, light, ...".
pub fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl RoleSpec {
    fn style(&self, role: &str) -> Result<Style, ThemeError> {
        let color = |value: &Option<String>| -> Result<Option<Color>, ThemeError> {
            value
                .as_deref()
                .map(|v| {
                    v.parse::<Color>().map_err(|_| ThemeError::Color {
                        role: role.to_string(),
                        value: v.to_string(),
                    })
                })
                .transpose()
        };
        let mut style = Style::default();
        if let Some(fg) = color(&self.fg)? {
            style = style.fg(fg);
        }
        if let Some(bg) = color(&self.bg)? {
            style = style.bg(bg);
        }
        for (on, modifier) in [
            (self.bold, Modifier::BOLD),
            (self.dim, Modifier::DIM),
            (self.italic, Modifier::ITALIC),
            (self.underlined, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
            (self.crossed_out, Modifier::CROSSED_OUT),
        ] {
            if on {
                style = style.add_modifier(modifier);
            }
        }
        Ok(style)
    }
}

fn parse_file(file: &str, text: &str) -> Result<ThemeFile, ThemeError> {
    toml::from_str(text).map_err(|e| ThemeError::Invalid {
        file: file.to_string(),
        message: e.to_string(),
    })
}

impl Theme {
    /// A built-in theme by name, with the user's file for that name (path, text) laid over it;
    /// a user file for a new name is laid over the default theme.
    pub fn load(name: &str, user_file: Option<(&str, &str)>) -> Result<Self, ThemeError> {
        let builtin = BUILTIN.iter().find(|(n, _)| *n == name);
        let base = match builtin {
            Some((n, text)) => Some(Self::from_file(&parse_file(n, text)?, None)?),
            None => None,
        };
        match user_file {
            Some((path, text)) => {
                let file = parse_file(path, text)?;
                let fallback = match base {
                    Some(base) => base,
                    None => Self::load(DEFAULT_THEME, None)?,
                };
                Self::from_file(&file, Some(&fallback))
            }
            None => base.ok_or_else(|| ThemeError::Unknown {
                name: name.to_string(),
            }),
        }
    }

    /// The default theme, for tests and fallbacks.
    pub fn dark() -> Self {
        Self::load(DEFAULT_THEME, None).expect("the built-in dark theme is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_loads() {
        for (name, _) in BUILTIN {
            Theme::load(name, None).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn mono_uses_no_colour() {
        let mono = Theme::load("mono", None).unwrap();
        for style in [
            mono.ok,
            mono.warn,
            mono.critical,
            mono.selection,
            mono.header,
        ] {
            assert_eq!(style.fg, None);
            assert_eq!(style.bg, None);
        }
        assert!(mono.critical.add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn an_override_changes_only_the_roles_it_names() {
        let user_file = ("dark.toml", "critical = { fg = \"magenta\" }\n");
        let theme = Theme::load("dark", Some(user_file)).unwrap();
        assert_eq!(theme.critical.fg, Some(Color::Magenta));
        assert_eq!(theme.ok, Theme::dark().ok);
    }

    #[test]
    fn a_bad_colour_names_the_role() {
        let user_file = ("dark.toml", "warn = { fg = \"blurple\" }\n");
        let error = Theme::load("dark", Some(user_file)).unwrap_err();
        assert!(error.to_string().contains("warn"), "{error}");
    }

    #[test]
    fn an_unknown_theme_is_an_error_that_lists_every_builtin() {
        let error = Theme::load("solarized", None).unwrap_err().to_string();
        assert!(error.contains("`solarized`"), "{error}");
        for (name, _) in BUILTIN {
            assert!(error.contains(name), "{name} missing: {error}");
        }
    }
}
