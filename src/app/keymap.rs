//! The one key table: every binding with its description, feeding the key handling, the hint
//! bar and the `?` help overlay.

use crate::model::MitigationKind;

/// A key press, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Enter,
    Esc,
    Backspace,
    Tab,
    BackTab,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
}

/// What a key asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Quit,
    ToggleHelp,
    FocusNext,
    FocusPrevious,
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Mitigate(MitigationKind),
    /// Put back what the last mitigation changed.
    Undo,
    AddNote,
    Declare,
    Acknowledge,
    /// The root cause is known (Investigating → Identified).
    Identify,
    /// The bleeding has stopped, by whatever means (→ Mitigated).
    MarkMitigated,
    Resolve,
    /// Star the selected timeline entry for the postmortem, or unstar it.
    ToggleStar,
    /// Show the next kind of timeline entries: all, starred, actions, findings, notes, changes.
    CycleTimelineFilter,
    /// One step more severe (SEV4 → SEV1), or less.
    RaiseSeverity,
    LowerSeverity,
    ShowPromptDiff,
    ToggleButton,
    Activate,
    /// Submit the open editor's text.
    SaveText,
    /// Open the incident record: title, summary, root cause, roles, named times.
    EditRecord,
    /// Correct the text of the entry shown in full.
    EditEntry,
    /// Filter the timeline by text.
    FilterTimeline,
    /// Show times in the local zone, or in UTC again.
    ToggleLocalTime,
    /// Pause or resume a replay.
    TogglePause,
    /// Play a replay up to shortly before its onset at once.
    JumpToOnset,
    /// Switch between the cockpit and the presenter view for a screen share.
    TogglePresenter,
}

impl Command {
    /// Whether the command only means something while a recording is replayed.
    pub fn is_playback(self) -> bool {
        matches!(self, Self::TogglePause | Self::JumpToOnset)
    }
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Cockpit,
    Confirm,
    /// Help, diff and entry-detail overlays.
    Overlay,
    /// A multi-line editor (a note, the summary, an entry's text): Enter is a new line.
    Editor,
    /// A one-line editor (a field, the filter): Enter saves.
    LineEditor,
    /// The incident record's fields.
    Record,
    /// The presenter view for a screen share: only a few keys act, so a stray key changes
    /// nothing while others watch.
    Presenter,
    /// A drill's scorecard.
    Scorecard,
}

pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    /// How the key is written in hints and help.
    pub label: &'static str,
    pub command: Command,
    pub description: &'static str,
    /// Whether the hint bar shows it (help shows every binding).
    pub hint: bool,
}

const fn bind(
    context: Context,
    keys: &'static [Key],
    label: &'static str,
    command: Command,
    description: &'static str,
    hint: bool,
) -> Binding {
    Binding {
        context,
        keys,
        label,
        command,
        description,
        hint,
    }
}

use Context::{Cockpit, Confirm, Editor, LineEditor, Overlay, Presenter, Record, Scorecard};

pub const BINDINGS: &[Binding] = &[
    bind(
        Cockpit,
        &[Key::Char('r')],
        "r",
        Command::Mitigate(MitigationKind::PromptRollback),
        "roll back prompt",
        true,
    ),
    bind(
        Cockpit,
        &[Key::Char('p')],
        "p",
        Command::Mitigate(MitigationKind::ModelPin),
        "pin model",
        true,
    ),
    bind(
        Cockpit,
        &[Key::Char('k')],
        "k",
        Command::Mitigate(MitigationKind::KillSwitch),
        "kill switch",
        true,
    ),
    bind(
        Cockpit,
        &[Key::Char('u')],
        "u",
        Command::Undo,
        "undo last mitigation",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char(' ')],
        "Space",
        Command::TogglePause,
        "pause (replay)",
        true,
    ),
    bind(
        Cockpit,
        &[Key::Char('o')],
        "o",
        Command::JumpToOnset,
        "jump to onset (replay)",
        true,
    ),
    bind(
        Cockpit,
        &[Key::Char('n')],
        "n",
        Command::AddNote,
        "note",
        true,
    ),
    bind(
        Cockpit,
        &[Key::Char('d')],
        "d",
        Command::Declare,
        "declare an incident: type its title",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('a')],
        "a",
        Command::Acknowledge,
        "acknowledge",
        true,
    ),
    bind(
        Cockpit,
        &[Key::Char('i')],
        "i",
        Command::Identify,
        "root cause identified",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('m')],
        "m",
        Command::MarkMitigated,
        "mark mitigated",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('x')],
        "x",
        Command::Resolve,
        "resolve the incident",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('e')],
        "e",
        Command::EditRecord,
        "incident record: cause, roles, times",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('/')],
        "/",
        Command::FilterTimeline,
        "filter the timeline by text",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('z')],
        "z",
        Command::ToggleLocalTime,
        "times in local zone / UTC",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('*')],
        "*",
        Command::ToggleStar,
        "star the selected timeline entry",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('f')],
        "f",
        Command::CycleTimelineFilter,
        "timeline: all / starred / actions / …",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('+')],
        "+",
        Command::RaiseSeverity,
        "more severe (toward SEV1)",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('-')],
        "-",
        Command::LowerSeverity,
        "less severe (toward SEV4)",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('w')],
        "w",
        Command::ShowPromptDiff,
        "prompt diff",
        true,
    ),
    bind(
        Cockpit,
        &[Key::Tab],
        "Tab",
        Command::FocusNext,
        "next pane",
        true,
    ),
    bind(
        Cockpit,
        &[Key::BackTab],
        "S-Tab",
        Command::FocusPrevious,
        "previous pane",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Up],
        "↑",
        Command::Up,
        "move up in the focused pane",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Down],
        "↓",
        Command::Down,
        "move down in the focused pane",
        false,
    ),
    bind(
        Cockpit,
        &[Key::PageUp],
        "PgUp",
        Command::PageUp,
        "page up",
        false,
    ),
    bind(
        Cockpit,
        &[Key::PageDown],
        "PgDn",
        Command::PageDown,
        "page down",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Home],
        "Home",
        Command::Top,
        "newest / first",
        false,
    ),
    bind(
        Cockpit,
        &[Key::End],
        "End",
        Command::Bottom,
        "oldest / last",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Enter],
        "Enter",
        Command::Open,
        "open the selected change or entry",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Esc],
        "Esc",
        Command::Back,
        "back out",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('P')],
        "P",
        Command::TogglePresenter,
        "presenter view (screen share)",
        false,
    ),
    bind(
        Cockpit,
        &[Key::Char('?')],
        "?",
        Command::ToggleHelp,
        "help",
        true,
    ),
    bind(
        Cockpit,
        &[Key::Char('q'), Key::Ctrl('c')],
        "q",
        Command::Quit,
        "quit",
        true,
    ),
    bind(
        Confirm,
        &[Key::Left, Key::Right, Key::Tab, Key::BackTab],
        "←→",
        Command::ToggleButton,
        "choose",
        true,
    ),
    bind(
        Confirm,
        &[Key::Down],
        "↑↓",
        Command::Down,
        "pick version",
        true,
    ),
    bind(
        Confirm,
        &[Key::Up],
        "↑",
        Command::Up,
        "pick a newer version",
        false,
    ),
    bind(
        Confirm,
        &[Key::Enter],
        "Enter",
        Command::Activate,
        "press the chosen button",
        true,
    ),
    bind(Confirm, &[Key::Esc], "Esc", Command::Back, "cancel", true),
    bind(
        Overlay,
        &[Key::Esc, Key::Char('q'), Key::Char('?'), Key::Enter],
        "Esc",
        Command::Back,
        "close",
        true,
    ),
    bind(
        Overlay,
        &[Key::Char('e')],
        "e",
        Command::EditEntry,
        "edit an entry's text, history kept",
        true,
    ),
    bind(
        Record,
        &[Key::Up],
        "↑",
        Command::Up,
        "previous field",
        false,
    ),
    bind(
        Record,
        &[Key::Down],
        "↓",
        Command::Down,
        "next field",
        false,
    ),
    bind(Record, &[Key::Enter], "Enter", Command::Open, "edit", true),
    bind(
        Record,
        &[Key::Esc, Key::Char('q'), Key::Char('e')],
        "Esc",
        Command::Back,
        "close",
        true,
    ),
    bind(
        Editor,
        &[Key::Ctrl('s')],
        "Ctrl-S",
        Command::SaveText,
        "save and log",
        true,
    ),
    bind(Editor, &[Key::Esc], "Esc", Command::Back, "discard", true),
    bind(
        LineEditor,
        &[Key::Enter, Key::Ctrl('s')],
        "Enter",
        Command::SaveText,
        "save",
        true,
    ),
    bind(
        LineEditor,
        &[Key::Esc],
        "Esc",
        Command::Back,
        "discard",
        true,
    ),
    bind(
        Presenter,
        &[Key::Char('P')],
        "P",
        Command::TogglePresenter,
        "normal view",
        true,
    ),
    bind(
        Presenter,
        &[Key::Char('?')],
        "?",
        Command::ToggleHelp,
        "help",
        false,
    ),
    bind(
        Presenter,
        &[Key::Char('q'), Key::Ctrl('c')],
        "q",
        Command::Quit,
        "quit",
        true,
    ),
    bind(
        Scorecard,
        &[Key::Char('q')],
        "q",
        Command::Quit,
        "quit the drill",
        true,
    ),
    bind(
        Scorecard,
        &[Key::Esc, Key::Enter],
        "Esc",
        Command::Back,
        "close: the drill plays on",
        true,
    ),
];

/// The command a key means in a context.
pub fn command_for(context: Context, key: Key) -> Option<Command> {
    BINDINGS
        .iter()
        .find(|b| b.context == context && b.keys.contains(&key))
        .map(|b| b.command)
}

/// How the key for a cockpit command is written, e.g. `r` for a prompt rollback.
pub fn label_for(command: Command) -> &'static str {
    BINDINGS
        .iter()
        .find(|b| b.context == Context::Cockpit && b.command == command)
        .map_or("?", |b| b.label)
}

/// The bindings of a context, for the hint bar and the help overlay.
pub fn bindings(context: Context) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.context == context)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_means_two_things_in_one_context() {
        for a in BINDINGS {
            for b in BINDINGS {
                if std::ptr::eq(a, b) || a.context != b.context {
                    continue;
                }
                for key in a.keys {
                    assert!(
                        !b.keys.contains(key),
                        "{key:?} bound twice in {:?}",
                        a.context
                    );
                }
            }
        }
    }

    #[test]
    fn mitigation_keys_are_r_p_k() {
        assert_eq!(
            command_for(Context::Cockpit, Key::Char('r')),
            Some(Command::Mitigate(MitigationKind::PromptRollback))
        );
        assert_eq!(
            command_for(Context::Cockpit, Key::Char('p')),
            Some(Command::Mitigate(MitigationKind::ModelPin))
        );
        assert_eq!(
            command_for(Context::Cockpit, Key::Char('k')),
            Some(Command::Mitigate(MitigationKind::KillSwitch))
        );
        assert_eq!(command_for(Context::Cockpit, Key::Up), Some(Command::Up));
        assert_eq!(command_for(Context::Confirm, Key::Char('r')), None);
    }

    #[test]
    fn the_presenter_view_acts_only_on_p_help_and_quit() {
        assert_eq!(
            command_for(Context::Cockpit, Key::Char('P')),
            Some(Command::TogglePresenter)
        );
        assert_eq!(
            command_for(Context::Presenter, Key::Char('P')),
            Some(Command::TogglePresenter)
        );
        assert_eq!(
            command_for(Context::Presenter, Key::Char('?')),
            Some(Command::ToggleHelp)
        );
        assert_eq!(
            command_for(Context::Presenter, Key::Char('q')),
            Some(Command::Quit)
        );
        for key in [
            Key::Char('r'),
            Key::Char('p'),
            Key::Char('k'),
            Key::Tab,
            Key::Enter,
        ] {
            assert_eq!(command_for(Context::Presenter, key), None, "{key:?}");
        }
    }
}
