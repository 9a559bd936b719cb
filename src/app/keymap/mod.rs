//! The one key table: every binding with its description, feeding the key handling, the hint
//! bar and the `?` help overlay.

mod bindings;

pub use self::bindings::BINDINGS;
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

pub(super) const fn bind(
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
