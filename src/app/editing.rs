//! Text the user types into the record: notes, the incident's fields, corrected entry texts and
//! the timeline's text filter. The editor's buffer lives with the view; what is typed comes back
//! through `update` as [`Action::TextSubmitted`](super::Action) (or, for the filter, as each key
//! is typed).

use std::fmt;

use crate::model::{NamedTime, Role};

/// A field of the incident record that the `e` dialog edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordField {
    Title,
    Summary,
    RootCause,
    Role(Role),
    Time(NamedTime),
}

impl RecordField {
    /// The dialog's rows, in order.
    pub const ALL: [RecordField; 11] = [
        Self::Title,
        Self::Summary,
        Self::RootCause,
        Self::Role(Role::Commander),
        Self::Role(Role::Operations),
        Self::Role(Role::Communications),
        Self::Time(NamedTime::ImpactStart),
        Self::Time(NamedTime::Detected),
        Self::Time(NamedTime::Acknowledged),
        Self::Time(NamedTime::Mitigated),
        Self::Time(NamedTime::Resolved),
    ];
}

impl fmt::Display for RecordField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Title => f.write_str("title"),
            Self::Summary => f.write_str("summary"),
            Self::RootCause => f.write_str("root cause"),
            Self::Role(role) => role.fmt(f),
            Self::Time(time) => time.fmt(f),
        }
    }
}

/// What the text being typed is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditTarget {
    Note,
    Field(RecordField),
    /// The text of timeline entry `seq`.
    Entry(u64),
    /// The timeline's text filter.
    Filter,
    /// A new incident's title: submitting it declares the incident.
    Declaration,
}

impl EditTarget {
    /// Notes, the summary and entry texts take several lines; Enter saves the others.
    pub fn multi_line(self) -> bool {
        matches!(
            self,
            Self::Note | Self::Entry(_) | Self::Field(RecordField::Summary)
        )
    }
}

/// An open editor: what it edits, the text it starts from, and why the last submission was
/// refused, if it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Editor {
    pub target: EditTarget,
    pub initial: String,
    pub error: Option<String>,
}

impl Editor {
    pub fn new(target: EditTarget, initial: String) -> Self {
        Self {
            target,
            initial,
            error: None,
        }
    }
}
