//! Colour themes: a struct of named semantic colours read from `themes/*.toml`, and the
//! styles the UI draws with.
//!
//! A theme file is flat TOML, one key per semantic colour, each an ANSI colour name
//! (`"green"`, `"lightred"`, `"darkgray"`, `"reset"`, ...) or `"#rrggbb"`, as ratatui's
//! `Color::from_str` reads them (which also takes a 256-colour index such as `"208"`). Unknown
//! keys and bad colours are errors that name `path:line:col`. The built-in themes are
//! embedded in the binary, so `--theme dark` works from any directory.
//!
//! The styles for the model's states (health, verdicts, checklist items) are in
//! `ui::palette`: config is a layer below the model and does not name its types.
//!
//! [`Theme::monochrome`] (for `NO_COLOR`) uses no colour at all: only bold, reversed,
//! underlined and dim, so the selection and every state stay visible.

use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;

/// The themes compiled into the binary: `(name, TOML source)`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// The ANSI colour names a bad colour's message offers. Parsing is ratatui's
/// `Color::from_str`, which takes these and more spellings (see [`parse_colour`]).
const ANSI_NAMES: &[&str] = &[
    "reset",
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "gray",
    "darkgray",
    "lightred",
    "lightgreen",
    "lightyellow",
    "lightblue",
    "lightmagenta",
    "lightcyan",
    "white",
];

/// Declares the semantic colours once: the [`Theme`] fields, the raw TOML form and its
/// validation stay in step.
macro_rules! theme_colours {
    ($($(#[doc = $doc:literal])* $field:ident,)*) => {
        /// Named semantic colours, and the styles built from them.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Theme {
            /// `dark`, `light`, `high-contrast`, a file's stem, or `monochrome`.
            pub name: String,
            /// No colours at all: states are told apart by modifiers (and by their words).
            pub monochrome: bool,
            $($(#[doc = $doc])* pub $field: Color,)*
        }

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawTheme {
            $($field: Spanned<String>,)*
        }

        impl RawTheme {
            fn validate(self, path: &Path, source: &str, name: &str) -> Result<Theme, ConfigError> {
                Ok(Theme {
                    name: name.to_string(),
                    monochrome: false,
                    $($field: colour(path, source, stringify!($field), &self.$field)?,)*
                })
            }
        }

        impl Theme {
            /// Every key of a theme file, in file order.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// No colour anywhere; see [`Theme::monochrome`].
            fn colourless(name: &str) -> Theme {
                Theme {
                    name: name.to_string(),
                    monochrome: true,
                    $($field: Color::Reset,)*
                }
            }
        }
    };
}

theme_colours! {
    /// Behind everything (`reset` keeps the terminal's own background).
    background,
    /// Ordinary text.
    foreground,
    /// Pane borders.
    border,
    /// The border of the pane that has the keyboard.
    border_focused,
    /// Pane titles and the move's name.
    title,
    /// Column headers and detail labels.
    header,
    /// Background of the selected row.
    selected_bg,
    /// Text of the selected row.
    selected_fg,
    /// Health `up`, and probes that answered.
    up,
    /// Health `degraded`.
    degraded,
    /// Health `down`, and probes that failed.
    down,
    /// Health `unknown`: no answer yet.
    unknown,
    /// DNS answers the new address.
    verdict_new,
    /// DNS or the hosts file still points at the old address.
    verdict_old,
    /// DNS answers something neither old nor new.
    verdict_other,
    /// Things to look at: partial loss, resolvers that disagree, timeouts.
    warn,
    /// Secondary text: ages, units, markers, "not configured".
    muted,
    /// Key names in the help overlay and the status bar.
    key,
    /// The status bars' background.
    status_bar_bg,
    /// The status bars' text.
    status_bar_fg,
    /// The transient message in the status bar ("probing now…").
    message,
}

impl Theme {
    /// A built-in theme by name (`dark`, `light`, `high-contrast`), or a theme file when
    /// `name` is a path (ends in `.toml` or contains a path separator).
    pub fn by_name(name: &str) -> Result<Theme, ConfigError> {
        if let Some((builtin, source)) = BUILTIN.iter().find(|(n, _)| *n == name) {
            let path = format!("themes/{builtin}.toml");
            return Theme::parse(Path::new(&path), source, builtin);
        }
        let path = Path::new(name);
        let looks_like_path = path.extension().is_some_and(|e| e == "toml")
            || name.contains('/')
            || name.contains(std::path::MAIN_SEPARATOR);
        if looks_like_path {
            return Theme::load(path);
        }
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        Err(ConfigError::file(
            path,
            format!(
                "unknown theme; the built-in themes are {}, or give the path of a .toml theme file",
                names.join(", ")
            ),
        ))
    }

    /// Reads a theme file; its name is the file's stem.
    pub fn load(path: &Path) -> Result<Theme, ConfigError> {
        let source = super::read_config(path, "theme")?;
        let name = path.file_stem().map_or_else(
            || "custom".to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        Theme::parse(path, &source, &name)
    }

    /// Validates theme text; `path` is used for messages only.
    pub fn parse(path: &Path, source: &str, name: &str) -> Result<Theme, ConfigError> {
        let raw: RawTheme =
            toml::from_str(source).map_err(|e| ConfigError::from_toml(path, source, &e))?;
        raw.validate(path, source, name)
    }

    /// For `NO_COLOR`: no colours at all, only modifiers (bold, reversed, underlined, dim).
    pub fn monochrome() -> Theme {
        Theme::colourless("monochrome")
    }

    /// A foreground colour, or nothing in monochrome.
    pub(crate) fn fg(&self, colour: Color) -> Style {
        if self.monochrome {
            Style::new()
        } else {
            Style::new().fg(colour)
        }
    }

    /// Ordinary text on the background.
    pub fn base(&self) -> Style {
        if self.monochrome {
            Style::new()
        } else {
            Style::new().fg(self.foreground).bg(self.background)
        }
    }

    /// A pane's border; the focused pane's is bold as well as coloured.
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(self.border_focused).add_modifier(Modifier::BOLD)
        } else {
            self.fg(self.border)
        }
    }

    /// A pane title.
    pub fn title(&self) -> Style {
        self.fg(self.title).add_modifier(Modifier::BOLD)
    }

    /// Column headers and detail labels.
    pub fn header(&self) -> Style {
        let style = self.fg(self.header).add_modifier(Modifier::BOLD);
        if self.monochrome {
            style.add_modifier(Modifier::UNDERLINED)
        } else {
            style
        }
    }

    /// The selected row. In colour, cells keep their own foreground where they set one.
    pub fn selected(&self) -> Style {
        if self.monochrome {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
                .fg(self.selected_fg)
                .bg(self.selected_bg)
                .add_modifier(Modifier::BOLD)
        }
    }

    /// A probe that answered.
    pub fn ok(&self) -> Style {
        self.fg(self.up)
    }

    /// A probe that failed.
    pub fn failed(&self) -> Style {
        self.fg(self.down).add_modifier(Modifier::BOLD)
    }

    /// The old address, wherever it shows up.
    pub fn old(&self) -> Style {
        self.loud(self.verdict_old)
    }

    /// Bold (and underlined in monochrome): the old address and DNS still answering it.
    pub(crate) fn loud(&self, colour: Color) -> Style {
        let style = self.fg(colour).add_modifier(Modifier::BOLD);
        if self.monochrome {
            style.add_modifier(Modifier::UNDERLINED)
        } else {
            style
        }
    }

    /// Something to look at, short of a failure.
    pub fn warn(&self) -> Style {
        let style = self.fg(self.warn);
        if self.monochrome {
            style.add_modifier(Modifier::BOLD)
        } else {
            style
        }
    }

    /// Secondary text.
    pub fn muted(&self) -> Style {
        if self.monochrome {
            Style::new().add_modifier(Modifier::DIM)
        } else {
            self.fg(self.muted)
        }
    }

    /// A key name.
    pub fn key(&self) -> Style {
        self.fg(self.key).add_modifier(Modifier::BOLD)
    }

    /// The status bars.
    pub fn status_bar(&self) -> Style {
        if self.monochrome {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().fg(self.status_bar_fg).bg(self.status_bar_bg)
        }
    }

    /// The transient message.
    pub fn message(&self) -> Style {
        self.fg(self.message).add_modifier(Modifier::BOLD)
    }

    /// A warning that stays until dismissed (a corrupt state file set aside): the loudest
    /// thing in the status bar.
    pub fn alarm(&self) -> Style {
        if self.monochrome {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            self.fg(self.down)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }

    /// A progress gauge: the done part, or the rest.
    pub fn gauge(&self, done: bool) -> Style {
        if done { self.fg(self.up) } else { self.muted() }
    }
}

impl Default for Theme {
    /// The dark theme (monochrome should the embedded file ever fail to parse, which a
    /// unit test rules out).
    fn default() -> Self {
        Theme::by_name("dark").unwrap_or_else(|_| Theme::monochrome())
    }
}

/// Parses one colour value with ratatui's `Color::from_str`: an ANSI name (case, `-`, `_`
/// and spaces ignored; `grey` is `gray`, `bright` is `light`, `silver` is `gray`),
/// `#rrggbb`, or an index 0-255 of the terminal's 256-colour palette.
pub fn parse_colour(text: &str) -> Option<Color> {
    Color::from_str(text.trim()).ok()
}

fn colour(
    path: &Path,
    source: &str,
    key: &str,
    value: &Spanned<String>,
) -> Result<Color, ConfigError> {
    parse_colour(value.get_ref()).ok_or_else(|| {
        ConfigError::at(
            path,
            source,
            value.span(),
            format!(
                "invalid colour `{}` for `{key}`: expected #rrggbb or one of {}",
                crate::sanitize::sanitize(value.get_ref(), 40),
                ANSI_NAMES.join(", ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_parses() {
        for (name, _) in BUILTIN {
            let theme = Theme::by_name(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(theme.name, *name);
            assert!(!theme.monochrome);
        }
        assert_eq!(Theme::default().name, "dark");
    }

    #[test]
    fn builtin_files_on_disk_match_the_embedded_copies() {
        for (name, source) in BUILTIN {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("themes")
                .join(format!("{name}.toml"));
            let theme = Theme::by_name(&path.to_string_lossy()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(theme, Theme::parse(&path, source, name).unwrap());
        }
    }

    #[test]
    fn dark_uses_only_the_sixteen_ansi_colours() {
        let dark = Theme::by_name("dark").unwrap();
        let source = BUILTIN[0].1;
        assert!(!source.contains("= \"#"), "dark must work in 16 colours");
        let style = dark.ok();
        assert!(!matches!(
            style.fg,
            Some(Color::Rgb(..) | Color::Indexed(_))
        ));
    }

    #[test]
    fn colours_parse_by_name_and_hex() {
        assert_eq!(parse_colour("green"), Some(Color::Green));
        assert_eq!(parse_colour("LightRed"), Some(Color::LightRed));
        assert_eq!(parse_colour("dark-grey"), Some(Color::DarkGray));
        assert_eq!(parse_colour("reset"), Some(Color::Reset));
        assert_eq!(parse_colour("#0a0B0c"), Some(Color::Rgb(10, 11, 12)));
        assert_eq!(parse_colour("#abc"), None);
        assert_eq!(parse_colour("#gg0000"), None);
        assert_eq!(parse_colour("chartreuse"), None);
        // Spellings ratatui takes beyond the names the error message lists.
        assert_eq!(parse_colour("bright red"), Some(Color::LightRed));
        assert_eq!(parse_colour("208"), Some(Color::Indexed(208)));
    }

    #[test]
    fn every_name_the_message_offers_parses() {
        for name in ANSI_NAMES {
            assert!(parse_colour(name).is_some(), "{name}");
        }
    }

    fn dark_with(line_from: &str, line_to: &str) -> String {
        let src = BUILTIN[0].1;
        assert!(src.contains(line_from), "{line_from}");
        src.replacen(line_from, line_to, 1)
    }

    #[test]
    fn bad_colour_is_located() {
        let src = dark_with("up = \"green\"", "up = \"greeen\"");
        let e = Theme::parse(Path::new("t.toml"), &src, "t").unwrap_err();
        let line = src.lines().position(|l| l.starts_with("up =")).unwrap() + 1;
        assert_eq!((e.line, e.col), (line, 6), "{e}");
        assert!(
            e.message.starts_with("invalid colour `greeen` for `up`"),
            "{e}"
        );
        assert!(e.message.contains("#rrggbb"), "{e}");
    }

    #[test]
    fn unknown_key_is_located() {
        let src = dark_with("up = \"green\"", "up = \"green\"\nupp = \"green\"");
        let e = Theme::parse(Path::new("t.toml"), &src, "t").unwrap_err();
        let line = src.lines().position(|l| l.starts_with("upp =")).unwrap() + 1;
        assert_eq!((e.line, e.col), (line, 1), "{e}");
        assert!(e.message.contains("unknown field `upp`"), "{e}");
    }

    #[test]
    fn missing_key_is_reported() {
        let src = dark_with("up = \"green\"\n", "");
        let e = Theme::parse(Path::new("t.toml"), &src, "t").unwrap_err();
        assert!(e.message.contains("missing field `up`"), "{e}");
    }

    #[test]
    fn unknown_name_lists_the_builtins() {
        let e = Theme::by_name("solarized").unwrap_err();
        assert_eq!(
            e.to_string(),
            "solarized: unknown theme; the built-in themes are dark, light, high-contrast, \
             or give the path of a .toml theme file"
        );
        let e = Theme::by_name("/nonexistent/x.toml").unwrap_err();
        assert!(e.message.starts_with("cannot read theme"), "{e}");
    }

    #[test]
    fn monochrome_has_no_colour_but_keeps_the_selection_visible() {
        let m = Theme::monochrome();
        let styles = [
            m.base(),
            m.selected(),
            m.header(),
            m.ok(),
            m.failed(),
            m.old(),
            m.status_bar(),
            m.muted(),
            m.warn(),
            m.alarm(),
            m.gauge(true),
        ];
        for s in styles {
            assert!(s.fg.is_none() && s.bg.is_none(), "{s:?}");
        }
        assert!(m.selected().add_modifier.contains(Modifier::REVERSED));
        assert_ne!(m.ok(), m.failed());
        assert_ne!(m.gauge(true), m.gauge(false));
    }
}
